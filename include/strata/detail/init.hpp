// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_INIT_HPP
#define STRATA_DETAIL_INIT_HPP

#include <Eigen/QR>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>

#include "../shape.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace detail {

/// A small, fully specified generator (splitmix64): a seed gives the same stream of bits with every
/// compiler and standard library (std::uniform_real_distribution is implementation-defined). Uniform
/// draws are then exact; normal draws and the orthogonal QR go through libm and may differ in the
/// last bits between platforms.
class Generator {
 public:
  explicit Generator(std::uint64_t seed) : state_(seed) {}

  /// A seed from the given one, or from std::random_device when none is given (Keras draws
  /// unseeded initial weights at random too).
  static Generator from(std::optional<std::uint64_t> seed) {
    if (seed) return Generator(*seed);
    std::random_device device;
    return Generator((static_cast<std::uint64_t>(device()) << 32) ^ device());
  }

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  /// Standard normal (Box-Muller).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

/// Keras glorot_uniform for a (fan_in, fan_out) kernel: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
template <class T>
void glorot_uniform(T* data, Index fan_in, Index fan_out, Generator& gen) {
  const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  for (Index i = 0; i < fan_in * fan_out; ++i) data[i] = static_cast<T>((2.0 * gen.uniform() - 1.0) * limit);
}

/// Keras orthogonal (gain 1) for a (rows, cols) matrix: the Q of a QR decomposition of a normal
/// matrix, with signs fixed by R's diagonal, transposed when rows < cols.
template <class T>
void orthogonal(T* data, Index rows, Index cols, Generator& gen) {
  const Index tall = std::max(rows, cols);
  const Index narrow = std::min(rows, cols);
  Eigen::MatrixXd a(tall, narrow);
  for (Index i = 0; i < tall; ++i) {
    for (Index j = 0; j < narrow; ++j) a(i, j) = gen.normal();
  }
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(a);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(tall, narrow);
  for (Index j = 0; j < narrow; ++j) {
    if (qr.matrixQR()(j, j) < 0) q.col(j) = -q.col(j);
  }
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) data[i * cols + j] = static_cast<T>(rows >= cols ? q(i, j) : q(j, i));
  }
}

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_INIT_HPP
