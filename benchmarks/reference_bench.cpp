// SPDX-License-Identifier: MIT
// The machine's limits, linked into strata_bench so they run in the same process and run as
// strata's figures:
//   BM_fma_peak           a loop of independent AVX2/FMA multiply-adds (the per-core FLOP ceiling),
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
constexpr int fma_accumulators = 12;  // > FMA latency (4-5 cycles) x 2 pipes, and fits 16 ymm registers
constexpr std::int64_t fma_inner = 1 << 16;

/// n rounds of 12 independent 8-wide FMA chains: 12 * 8 * 2 FLOP per round.
__attribute__((noinline)) float fma_loop(std::int64_t n, float mul, float add) {
  const __m256 m = _mm256_set1_ps(mul);
  const __m256 c = _mm256_set1_ps(add);
  __m256 a0 = _mm256_set1_ps(0.10f), a1 = _mm256_set1_ps(0.11f), a2 = _mm256_set1_ps(0.12f);
  __m256 a3 = _mm256_set1_ps(0.13f), a4 = _mm256_set1_ps(0.14f), a5 = _mm256_set1_ps(0.15f);
  __m256 a6 = _mm256_set1_ps(0.16f), a7 = _mm256_set1_ps(0.17f), a8 = _mm256_set1_ps(0.18f);
  __m256 a9 = _mm256_set1_ps(0.19f), a10 = _mm256_set1_ps(0.20f), a11 = _mm256_set1_ps(0.21f);
  for (std::int64_t i = 0; i < n; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c);
    a1 = _mm256_fmadd_ps(a1, m, c);
    a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c);
    a4 = _mm256_fmadd_ps(a4, m, c);
    a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c);
    a7 = _mm256_fmadd_ps(a7, m, c);
    a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c);
    a10 = _mm256_fmadd_ps(a10, m, c);
    a11 = _mm256_fmadd_ps(a11, m, c);
  }
  const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                               _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
                                 _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  return lanes[0] + lanes[7];
}
#endif

void BM_fma_peak(benchmark::State& state) {
#ifdef __FMA__
  volatile float mul = 0.9999f, add = 1e-4f;  // volatile: not constants the compiler could fold
  for (auto _ : state) benchmark::DoNotOptimize(fma_loop(fma_inner, mul, add));
  // Each thread adds its own count; Google Benchmark sums the counters of all threads, and the
  // rate is over the wall time, so GFLOPs is the machine's total with `threads` threads.
  set_flops(state, static_cast<double>(fma_inner) * fma_accumulators * 8 * 2);
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
