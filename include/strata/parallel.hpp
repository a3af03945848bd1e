// SPDX-License-Identifier: MIT
#ifndef STRATA_PARALLEL_HPP
#define STRATA_PARALLEL_HPP

#include <algorithm>
#include <atomic>

#include "shape.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {
inline std::atomic<int>& thread_count() {
  static std::atomic<int> count{1};
  return count;
}
}  // namespace detail

/// Sets how many threads one layer call may use (default 1: everything runs on the calling thread).
/// Threads come from OpenMP, so they need a build with OpenMP (-fopenmp, or CMake's
/// OpenMP::OpenMP_CXX); without it strata stays single-threaded and this setting has no effect.
/// Results do not depend on the thread count: rows are split between threads, and every row is
/// computed by the same sequence of operations whichever thread runs it.
inline void set_num_threads(int n) { detail::thread_count().store(std::max(1, n)); }

/// The thread count set by set_num_threads (1 without OpenMP).
inline int num_threads() {
#if defined(_OPENMP)
  return detail::thread_count().load();
#else
  return 1;
#endif
}

namespace detail {

/// Rows a thread should get at least, for rows costing flops_per_row each: starting a parallel
/// region costs a few microseconds, so a share below about 2^18 flops stays on one thread.
inline Index rows_worth_a_thread(double flops_per_row) {
  const double min_flops = 262144.0;
  return std::max<Index>(1, static_cast<Index>(min_flops / std::max(flops_per_row, 1.0)) + 1);
}

/// Calls f(first_row, last_row) on disjoint row ranges covering [0, rows), in parallel when more
/// than one thread is set and each thread gets at least `grain` rows. Ranges start at multiples of
/// `align`. f must not throw. Called from inside a parallel region (a layer running a sublayer on
/// each thread's rows), it runs f on the calling thread: the threads are already busy.
template <class F>
void parallel_rows(Index rows, Index grain, Index align, F&& f) {
  Index parts = std::min<Index>(num_threads(), rows / std::max<Index>(grain, 1));
#if defined(_OPENMP)
  if (omp_in_parallel()) parts = 1;
#endif
  if (parts <= 1) {
    f(Index(0), rows);
    return;
  }
#if defined(_OPENMP)
  const Index units = (rows + align - 1) / align;
#pragma omp parallel for num_threads(static_cast <int>(parts)) schedule(static)
  for (Index t = 0; t < parts; ++t) {
    const Index first = std::min(rows, units * t / parts * align);
    const Index last = std::min(rows, units * (t + 1) / parts * align);
    if (first < last) f(first, last);
  }
#else
  (void)align;
  f(Index(0), rows);
#endif
}

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_PARALLEL_HPP
