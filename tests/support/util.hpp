// SPDX-License-Identifier: MIT
// Small helpers shared by the tests: seeded random tensors and comparisons.
#ifndef STRATA_TESTS_UTIL_HPP
#define STRATA_TESTS_UTIL_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <strata/strata.hpp>
#include <string>
#include <vector>

namespace test {

using strata::Index;

/// A deterministic generator for test data.
inline std::mt19937_64& rng() {
  static std::mt19937_64 engine(20261128);
  return engine;
}

/// Gives one scope (a test case) its own draws: rng() starts from `seed` there and continues from
/// where it was once the scope ends. Its data then depend neither on the tests that ran before it
/// in the same program nor on static test data elsewhere.
class SeededDraws {
 public:
  explicit SeededDraws(std::uint64_t seed) : saved_(rng()) { rng().seed(seed); }
  ~SeededDraws() { rng() = saved_; }
  SeededDraws(const SeededDraws&) = delete;
  SeededDraws& operator=(const SeededDraws&) = delete;

 private:
  std::mt19937_64 saved_;
};

inline Index random_int(Index lo, Index hi) { return std::uniform_int_distribution<Index>(lo, hi)(rng()); }

template <class T>
void fill_uniform(T* data, Index n, T lo = T(-1), T hi = T(1)) {
  std::uniform_real_distribution<double> dist(static_cast<double>(lo), static_cast<double>(hi));
  for (Index i = 0; i < n; ++i) data[i] = static_cast<T>(dist(rng()));
}

/// A tensor of the given dimensions with values uniform in [lo, hi).
template <class T, int Rank, class... Dims>
strata::Tensor<T, Rank> random_tensor(Dims... dims) {
  strata::Tensor<T, Rank> t(static_cast<Index>(dims)...);
  fill_uniform(t.data(), t.size());
  return t;
}

template <class X>
auto to_vector(const X& x) {
  using T = std::remove_const_t<std::remove_reference_t<decltype(*x.data())>>;
  return std::vector<T>(x.data(), x.data() + x.size());
}

/// Largest |a - b| over the elements; the sizes must match.
template <class T>
double max_abs_diff(const T* a, const T* b, Index n) {
  double m = 0;
  for (Index i = 0; i < n; ++i) m = std::max(m, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return m;
}
template <class T>
double max_abs_diff(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return INFINITY;
  return max_abs_diff(a.data(), b.data(), static_cast<Index>(a.size()));
}

/// True when every element compares equal with == (the mission test's standard).
template <class T>
bool bitwise_equal(const T* a, const T* b, Index n) {
  for (Index i = 0; i < n; ++i) {
    if (!(a[i] == b[i])) return false;
  }
  return true;
}

/// Tolerance for comparing strata with the naive reference: float rounding differs (fused
/// multiply-adds, vectorised exp/tanh), so allow a few float ulps at the values' scale.
template <class T>
constexpr double tolerance() {
  return sizeof(T) == 4 ? 2e-5 : 1e-11;
}

}  // namespace test

#endif  // STRATA_TESTS_UTIL_HPP
