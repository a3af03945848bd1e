// SPDX-License-Identifier: MIT
// The machine's limits, linked into strata_bench so they run in the same process and run as
// strata's figures:
//   BM_fma_peak           a loop of independent FMAs of the widest vector (AVX-512 or AVX2), the
//                         per-core FLOP ceiling,
//                         on `threads` threads at once;
//   BM_gemm_eigen_matrix  Eigen's Matrix product on W4's 2-D shape, RowMajor, C.noalias() = A * B
//                         (threaded with OpenMP when this file is built with it: Eigen::setNbThreads);
//   BM_gemm_eigen_tensor  Eigen's Tensor contraction on the same shape (DefaultDevice for 1 thread,
//                         a ThreadPoolDevice otherwise).
// A translation unit of its own because it defines EIGEN_USE_THREADS (for the ThreadPoolDevice).
#define EIGEN_USE_THREADS
#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <string>
#include <unsupported/Eigen/CXX11/Tensor>

#if defined(__FMA__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "common.hpp"

namespace bench {
namespace {

// ---- FMA peak.
#ifdef __FMA__
// The widest FMA the build targets: 16-float zmm with AVX-512 (cores with full-width 512-bit FMA
// units, such as Intel Xeon or AMD Zen 5, do twice the work per instruction of a ymm FMA; on
// cores that split them in two, such as Zen 4, it does no harm), else 8-float ymm.
#ifdef __AVX512F__
using FmaVec = __m512;
inline FmaVec fma_set1(float v) { return _mm512_set1_ps(v); }
inline FmaVec fma_madd(FmaVec a, FmaVec b, FmaVec c) { return _mm512_fmadd_ps(a, b, c); }
inline FmaVec fma_add(FmaVec a, FmaVec b) { return _mm512_add_ps(a, b); }
inline float fma_sum(FmaVec v) { return _mm512_reduce_add_ps(v); }
constexpr int fma_lanes = 16;
constexpr int fma_accumulators = 16;  // > FMA latency (4 cycles) x 2 pipes, within 32 zmm registers
#else
using FmaVec = __m256;
inline FmaVec fma_set1(float v) { return _mm256_set1_ps(v); }
inline FmaVec fma_madd(FmaVec a, FmaVec b, FmaVec c) { return _mm256_fmadd_ps(a, b, c); }
inline FmaVec fma_add(FmaVec a, FmaVec b) { return _mm256_add_ps(a, b); }
inline float fma_sum(FmaVec v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  return lanes[0] + lanes[7];
}
constexpr int fma_lanes = 8;
constexpr int fma_accumulators = 12;  // > FMA latency (4-5 cycles) x 2 pipes, within 16 ymm registers
#endif
constexpr std::int64_t fma_inner = 1 << 16;

/// n rounds of fma_accumulators independent FMA chains: fma_accumulators * fma_lanes * 2 FLOP per round.
__attribute__((noinline)) float fma_loop(std::int64_t n, float mul, float add) {
  const FmaVec m = fma_set1(mul);
  const FmaVec c = fma_set1(add);
  FmaVec acc[fma_accumulators];
  for (int j = 0; j < fma_accumulators; ++j) acc[j] = fma_set1(0.10f + 0.01f * static_cast<float>(j));
  for (std::int64_t i = 0; i < n; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < fma_accumulators; ++j) acc[j] = fma_madd(acc[j], m, c);
  }
  FmaVec s = acc[0];
  for (int j = 1; j < fma_accumulators; ++j) s = fma_add(s, acc[j]);
  return fma_sum(s);
}
#endif

void BM_fma_peak(benchmark::State& state) {
#ifdef __FMA__
  volatile float mul = 0.9999f, add = 1e-4f;  // volatile: not constants the compiler could fold
  for (auto _ : state) benchmark::DoNotOptimize(fma_loop(fma_inner, mul, add));
  // Each thread adds its own count; Google Benchmark sums the counters of all threads, and the
  // rate is over the wall time, so GFLOPs is the machine's total with `threads` threads.
  set_flops(state, static_cast<double>(fma_inner) * fma_accumulators * fma_lanes * 2);
#else
  state.SkipWithError("built without FMA (-mfma / -march=native on an FMA machine)");
#endif
}

// ---- Eigen GEMM on W4's 2-D shape: (16384, 512) x (512, 512), float, RowMajor.
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowTensor = Eigen::Tensor<float, 2, Eigen::RowMajor, Eigen::Index>;

void BM_gemm_eigen_matrix(benchmark::State& state, int threads) {
  RowMatrix a(w4::gemm_m, w4::gemm_k), b(w4::gemm_k, w4::gemm_n), c(w4::gemm_m, w4::gemm_n);
  fill_uniform(a.data(), static_cast<std::size_t>(a.size()), 21);
  fill_uniform(b.data(), static_cast<std::size_t>(b.size()), 22);
  Eigen::setNbThreads(threads);  // no effect without OpenMP: then it runs on one thread
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w4::flops());
}

void BM_gemm_eigen_tensor(benchmark::State& state, int threads) {
  RowTensor a(w4::gemm_m, w4::gemm_k), b(w4::gemm_k, w4::gemm_n), c(w4::gemm_m, w4::gemm_n);
  fill_uniform(a.data(), static_cast<std::size_t>(a.size()), 21);
  fill_uniform(b.data(), static_cast<std::size_t>(b.size()), 22);
  const Eigen::array<Eigen::IndexPair<int>, 1> dims{Eigen::IndexPair<int>(1, 0)};
  if (threads <= 1) {
    for (auto _ : state) {
      c = a.contract(b, dims);
      benchmark::DoNotOptimize(c.data());
      benchmark::ClobberMemory();
    }
  } else {
    Eigen::ThreadPool pool(threads);
    const Eigen::ThreadPoolDevice device(&pool, threads);
    for (auto _ : state) {
      c.device(device) = a.contract(b, dims);
      benchmark::DoNotOptimize(c.data());
      benchmark::ClobberMemory();
    }
  }
  set_flops(state, w4::flops());
}

}  // namespace
}  // namespace bench

void register_reference_benchmarks(int threads) {
  using bench::add;
#ifdef _OPENMP
  benchmark::AddCustomContext("eigen_matrix_threads", std::to_string(threads) + " (OpenMP)");
#else
  benchmark::AddCustomContext("eigen_matrix_threads", "1 (built without OpenMP)");
#endif
  add("BM_fma_peak", bench::BM_fma_peak)->Threads(threads)->Unit(benchmark::kMicrosecond);
  add("BM_gemm_eigen_matrix", [threads](benchmark::State& s) { bench::BM_gemm_eigen_matrix(s, threads); });
  add("BM_gemm_eigen_tensor", [threads](benchmark::State& s) { bench::BM_gemm_eigen_tensor(s, threads); });
}
