// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_ISA_HPP
#define STRATA_DETAIL_ISA_HPP

#include <Eigen/Core>

// The SIMD instructions Eigen compiles for in this translation unit decide strata's packed layouts
// (GEMM panel widths, chunk sizes, the LSTM gate layout), which kernel code is compiled, and how it
// rounds (with FMA or without). Two translation units of one program built with different target
// flags (say one with -mavx2 -mfma and one without) would define the same inline functions and
// class templates differently, and the linker keeps one definition of each, silently: weights
// packed by one and read by the other, or AVX2 code run on a CPU without it. So everything strata
// declares lives in an inline namespace named after the target, e.g. strata::isa_avx2_fma::Dense;
// code still writes strata::Dense, but each target's definitions are distinct symbols. A program
// whose parts disagree with a compiled strata::io fails to link (an undefined strata::isa_...
// symbol) rather than computing wrong values. The name is built from Eigen's own vectorisation
// macros (set from the compiler's target macros), so it follows what Eigen actually uses:
// EIGEN_DONT_VECTORIZE gives isa_generic.

#if !defined(EIGEN_VECTORIZE) || defined(EIGEN_DONT_VECTORIZE)
#define STRATA_ISA_LEVEL generic
#elif defined(EIGEN_VECTORIZE_AVX512)
#if defined(EIGEN_VECTORIZE_AVX512DQ) && defined(EIGEN_VECTORIZE_AVX512BW)
#define STRATA_ISA_LEVEL avx512_dq_bw
#elif defined(EIGEN_VECTORIZE_AVX512DQ)
#define STRATA_ISA_LEVEL avx512_dq
#elif defined(EIGEN_VECTORIZE_AVX512BW)
#define STRATA_ISA_LEVEL avx512_bw
#else
#define STRATA_ISA_LEVEL avx512
#endif
#elif defined(EIGEN_VECTORIZE_AVX2)
#define STRATA_ISA_LEVEL avx2
#elif defined(EIGEN_VECTORIZE_AVX)
#define STRATA_ISA_LEVEL avx
#elif defined(EIGEN_VECTORIZE_SSE4_2)
#define STRATA_ISA_LEVEL sse4_2
#elif defined(EIGEN_VECTORIZE_SSE4_1)
#define STRATA_ISA_LEVEL sse4_1
#elif defined(EIGEN_VECTORIZE_SSSE3)
#define STRATA_ISA_LEVEL ssse3
#elif defined(EIGEN_VECTORIZE_SSE3)
#define STRATA_ISA_LEVEL sse3
#elif defined(EIGEN_VECTORIZE_SSE2)
#define STRATA_ISA_LEVEL sse2
#elif defined(EIGEN_VECTORIZE_SVE)
#define STRATA_ISA_LEVEL sve
#elif defined(EIGEN_VECTORIZE_NEON)
#define STRATA_ISA_LEVEL neon
#elif defined(EIGEN_VECTORIZE_VSX)
#define STRATA_ISA_LEVEL vsx
#elif defined(EIGEN_VECTORIZE_ALTIVEC)
#define STRATA_ISA_LEVEL altivec
#elif defined(EIGEN_VECTORIZE_ZVECTOR)
#define STRATA_ISA_LEVEL zvector
#elif defined(EIGEN_VECTORIZE_MSA)
#define STRATA_ISA_LEVEL msa
#else
#define STRATA_ISA_LEVEL other
#endif

#if defined(EIGEN_VECTORIZE_FMA) && !defined(EIGEN_DONT_VECTORIZE)
#define STRATA_ISA_FMA _fma
#else
#define STRATA_ISA_FMA
#endif

#define STRATA_ISA_CAT_(a, b, c) a##b##c
#define STRATA_ISA_CAT(a, b, c) STRATA_ISA_CAT_(a, b, c)
#define STRATA_ISA_STR_(x) #x
#define STRATA_ISA_STR(x) STRATA_ISA_STR_(x)

/// The inline namespace that holds all of strata in this translation unit, e.g. isa_avx2_fma,
/// isa_sse2, isa_neon_fma, isa_generic.
#ifndef STRATA_ISA_NAMESPACE
#define STRATA_ISA_NAMESPACE STRATA_ISA_CAT(isa_, STRATA_ISA_LEVEL, STRATA_ISA_FMA)
#endif

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace detail {
/// The name of this translation unit's inline namespace, e.g. "isa_avx2_fma".
inline constexpr const char* isa_name = STRATA_ISA_STR(STRATA_ISA_NAMESPACE);
}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_ISA_HPP
