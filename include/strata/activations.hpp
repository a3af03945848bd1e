// SPDX-License-Identifier: MIT
#ifndef STRATA_ACTIVATIONS_HPP
#define STRATA_ACTIVATIONS_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detail/chunks.hpp"
#include "error.hpp"
#include "shape.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// The activations Keras knows by name (`keras.activations.get(name)`), with Keras 3's formulas.
enum class Activation {
  linear,            ///< x
  relu,              ///< max(x, 0)
  relu6,             ///< min(max(x, 0), 6)
  leaky_relu,        ///< x >= 0 ? x : 0.2 x  (the function's default slope, not the LeakyReLU layer's 0.3)
  elu,               ///< x > 0 ? x : exp(x) - 1
  selu,              ///< 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 (exp(x) - 1))
  gelu,              ///< 0.5 x (1 + erf(x / sqrt 2)), the exact form Keras uses by name
  gelu_approximate,  ///< 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); Keras gelu(approximate=True), tfjs gelu_new
  sigmoid,           ///< 1 / (1 + exp(-x))
  hard_sigmoid,      ///< Keras 3: clip(x / 6 + 0.5, 0, 1)
  hard_sigmoid_keras2,  ///< Keras 1/2 and tfjs: clip(0.2 x + 0.5, 0, 1); what "hard_sigmoid" meant in their files
  tanh,                 ///< tanh x
  softmax,              ///< exp(x - max) / sum exp(x - max), over the last axis
  log_softmax,          ///< x - max - log sum exp(x - max), over the last axis
  softplus,             ///< log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)) so it never overflows
  softsign,             ///< x / (1 + |x|)
  silu,                 ///< x sigmoid(x); Keras 2 calls it swish
  mish,                 ///< x tanh(softplus(x))
  exponential,          ///< exp(x)
  hard_silu,            ///< x relu6(x + 3) / 6 (Keras 3; alias hard_swish)
  celu,                 ///< max(x, 0) + expm1(min(x, 0)); Keras 3.7 celu with its default alpha = 1
  hard_shrink,          ///< |x| > 0.5 ? x : 0 (Keras 3.7, default threshold 0.5)
  hard_tanh,            ///< clip(x, -1, 1) (Keras 3.7)
  log_sigmoid,          ///< -softplus(-x) (Keras 3.7)
  soft_shrink,          ///< x > 0.5 ? x - 0.5 : x < -0.5 ? x + 0.5 : 0 (Keras 3.7, default threshold 0.5)
  sparse_plus,          ///< x <= -1 ? 0 : x < 1 ? (x + 1)^2 / 4 : x (Keras 3.8)
  sparse_sigmoid,       ///< clip((x + 1) / 2, 0, 1) (Keras 3.10)
  squareplus,           ///< (x + sqrt(x^2 + 4)) / 2 (Keras 3.7, default b = 4)
  tanh_shrink,          ///< x - tanh x (Keras 3.7)
  sparsemax,            ///< Keras 3.8's sparsemax over the last axis (see detail::sparsemax_row)
};

namespace detail {

struct ActivationName {
  std::string_view name;
  Activation activation;
};

// Canonical names first (activation_name() returns the first match), then accepted aliases.
inline constexpr std::array<ActivationName, 33> activation_names{{
    {"linear", Activation::linear},
    {"relu", Activation::relu},
    {"relu6", Activation::relu6},
    {"leaky_relu", Activation::leaky_relu},
    {"elu", Activation::elu},
    {"selu", Activation::selu},
    {"gelu", Activation::gelu},
    {"gelu_approximate", Activation::gelu_approximate},
    {"sigmoid", Activation::sigmoid},
    {"hard_sigmoid", Activation::hard_sigmoid},
    {"hard_sigmoid_keras2", Activation::hard_sigmoid_keras2},
    {"tanh", Activation::tanh},
    {"softmax", Activation::softmax},
    {"log_softmax", Activation::log_softmax},
    {"softplus", Activation::softplus},
    {"softsign", Activation::softsign},
    {"silu", Activation::silu},
    {"mish", Activation::mish},
    {"exponential", Activation::exponential},
    {"hard_silu", Activation::hard_silu},
    {"celu", Activation::celu},
    {"hard_shrink", Activation::hard_shrink},
    {"hard_tanh", Activation::hard_tanh},
    {"log_sigmoid", Activation::log_sigmoid},
    {"soft_shrink", Activation::soft_shrink},
    {"sparse_plus", Activation::sparse_plus},
    {"sparse_sigmoid", Activation::sparse_sigmoid},
    {"squareplus", Activation::squareplus},
    {"tanh_shrink", Activation::tanh_shrink},
    {"sparsemax", Activation::sparsemax},
    {"swish", Activation::silu},
    {"hard_swish", Activation::hard_silu},
    {"gelu_new", Activation::gelu_approximate},
}};

/// Names Keras 3 knows (keras.activations.get) that strata refuses, and why.
struct RefusedActivation {
  std::string_view name;
  std::string_view reason;
};
inline constexpr std::array<RefusedActivation, 2> refused_activation_names{{
    {"glu", "Keras' glu halves the size of its axis, so it cannot be a layer's activation in strata"},
    {"threshold",
     "Keras' threshold(x, threshold, default_value) has no default parameters, so Keras itself cannot call it by "
     "name"},
}};

/// Why strata refuses a name Keras knows (empty: the name is not one of them).
inline std::string_view refused_activation_reason(std::string_view name) {
  for (const auto& entry : refused_activation_names) {
    if (entry.name == name) return entry.reason;
  }
  return {};
}

}  // namespace detail

/// The canonical Keras name of a, e.g. "relu".
inline std::string_view activation_name(Activation a) {
  for (const auto& entry : detail::activation_names) {
    if (entry.activation == a) return entry.name;
  }
  return "unknown";
}

/// The activation Keras calls name (aliases swish, hard_swish and gelu_new included), or nothing.
inline std::optional<Activation> find_activation(std::string_view name) {
  for (const auto& entry : detail::activation_names) {
    if (entry.name == name) return entry.activation;
  }
  return std::nullopt;
}

/// Every accepted name, comma-separated, for error messages.
inline std::string activation_names_list() {
  std::string s;
  for (const auto& entry : detail::activation_names) {
    if (!s.empty()) s += ", ";
    s += entry.name;
  }
  return s;
}

/// The activation called name; throws value_error naming `who` (the layer) when it is unknown.
inline Activation parse_activation(std::string_view name, std::string_view who) {
  if (auto a = find_activation(name)) return *a;
  const std::string_view reason = detail::refused_activation_reason(name);
  if (!reason.empty()) throw value_error(detail::concat(who, ": activation '", name, "' is not supported: ", reason));
  throw value_error(
      detail::concat(who, ": unknown activation '", name, "'; expected one of: ", activation_names_list()));
}

/// True unless a mixes the values of a row (softmax, log_softmax, sparsemax).
constexpr bool is_elementwise(Activation a) {
  return a != Activation::softmax && a != Activation::log_softmax && a != Activation::sparsemax;
}

namespace detail {

// Eigen's float logistic and tanh are rational approximations whose input is clamped where they
// reach exactly 1, at a clamp chosen for whether their multiply-adds are fused: Eigen assumes fused
// only with EIGEN_VECTORIZE_FMA, which it defines on x86 alone. aarch64's NEON multiply-adds are
// fused without it, so there the approximations stop a few ulps short of 1 (sigmoid(100) < 1,
// silu(1000) = 999.9998, seen under qemu). Where the exact function rounds to 1 in float (the
// logistic from x = 25 ln 2 = 17.3, tanh from x = 13 ln 2 = 9.0), these return 1 (-1) on every
// target; on x86, where Eigen gives 1 there already, nothing changes. Double goes through exp and
// std::tanh, exact already.

/// The logistic function on a chunk, exactly 1 where it rounds to 1.
template <class T>
inline Chunk<T> logistic_chunk(const Chunk<T>& v) {
  if constexpr (std::is_same_v<T, float>) {
    return (v >= T(17.5)).select(Chunk<T>::Ones(), v.logistic());
  } else {
    return v.logistic();
  }
}

/// tanh on a chunk, exactly 1 or -1 where it rounds to them.
template <class T>
inline Chunk<T> tanh_chunk(const Chunk<T>& v) {
  if constexpr (std::is_same_v<T, float>) {
    return (v >= T(9.5)).select(Chunk<T>::Ones(), (v <= T(-9.5)).select(-Chunk<T>::Ones(), v.tanh()));
  } else {
    return v.tanh();
  }
}

template <class T>
inline Chunk<T> softplus_chunk(const Chunk<T>& v) {
  return v.max(T(0)) + (-v.abs()).exp().log1p();
}

/// Applies an element-wise activation to one chunk in place.
template <class T>
inline void apply_chunk(Activation a, Chunk<T>& v) {
  switch (a) {
    case Activation::linear:
      return;
    case Activation::relu:
      v = v.max(T(0));
      return;
    case Activation::relu6:
      v = v.max(T(0)).min(T(6));
      return;
    case Activation::leaky_relu:
      v = v.max(T(0.2) * v);  // equals the select form because 0 < 0.2 < 1
      return;
    case Activation::elu:
      v = v.max(T(0)) + v.expm1().min(T(0));
      return;
    case Activation::selu:
      v = T(1.0507009873554805) * (v.max(T(0)) + T(1.6732632423543772) * v.expm1().min(T(0)));
      return;
    case Activation::gelu:
      v = T(0.5) * v * (T(1) + (v / T(1.4142135623730951)).erf());
      return;
    case Activation::gelu_approximate:
      v = T(0.5) * v * (T(1) + tanh_chunk<T>(T(0.7978845608028654) * (v + T(0.044715) * v * v * v)));
      return;
    case Activation::sigmoid:
      v = logistic_chunk(v);
      return;
    case Activation::hard_sigmoid:
      v = (v / T(6) + T(0.5)).max(T(0)).min(T(1));
      return;
    case Activation::hard_sigmoid_keras2:
      v = (T(0.2) * v + T(0.5)).max(T(0)).min(T(1));
      return;
    case Activation::tanh:
      v = tanh_chunk(v);
      return;
    case Activation::softplus:
      v = softplus_chunk(v);
      return;
    case Activation::softsign:
      v = v / (T(1) + v.abs());
      return;
    case Activation::silu:
      v = v * logistic_chunk(v);
      return;
    case Activation::mish:
      v = v * tanh_chunk<T>(softplus_chunk(v));
      return;
    case Activation::exponential:
      v = v.exp();
      return;
    case Activation::hard_silu:
      v = v * (v + T(3)).max(T(0)).min(T(6)) / T(6);
      return;
    case Activation::celu:
      v = v.max(T(0)) + v.min(T(0)).expm1();
      return;
    case Activation::hard_shrink:
      v = (v.abs() > T(0.5)).select(v, Chunk<T>::Zero());
      return;
    case Activation::hard_tanh:
      v = v.max(T(-1)).min(T(1));
      return;
    case Activation::log_sigmoid:
      v = -softplus_chunk<T>(-v);
      return;
    case Activation::soft_shrink:
      v = v - v.max(T(-0.5)).min(T(0.5));  // x -+ 0.5 outside [-0.5, 0.5], exactly 0 inside
      return;
    case Activation::sparse_plus:
      v = (v >= T(1)).select(v, (v > T(-1)).select(T(0.25) * (v + T(1)).square(), Chunk<T>::Zero()));
      return;
    case Activation::sparse_sigmoid:
      v = (T(0.5) * (v + T(1))).max(T(0)).min(T(1));
      return;
    case Activation::squareplus:
      v = (v + (v.square() + T(4)).sqrt()) / T(2);
      return;
    case Activation::tanh_shrink:
      v = v - tanh_chunk(v);
      return;
    case Activation::softmax:
    case Activation::log_softmax:
    case Activation::sparsemax:
      break;
  }
  STRATA_ASSERT(false && "apply_chunk: softmax, log_softmax and sparsemax are not element-wise");
}

/// softmax or log_softmax over one row of n values, in place; a fixed summation order keeps the
/// result independent of where the row sits.
template <class T>
inline void softmax_row(T* row, Index n, bool log) {
  if (n == 0) return;
  T max = row[0];
  for (Index j = 1; j < n; ++j) max = std::max(max, row[j]);
  transform_chunks(row, n, [max](Chunk<T>& v) { v -= max; });
  T sum = T(0);
  Chunk<T> e;
  for (Index j = 0; j < n; j += chunk_size<T>) {
    const Index count = std::min<Index>(chunk_size<T>, n - j);
    load_chunk(e, row + j, count);
    e = e.exp();
    for (Index k = 0; k < count; ++k) sum += e[k];
  }
  if (log) {
    const T log_sum = std::log(sum);
    transform_chunks(row, n, [log_sum](Chunk<T>& v) { v -= log_sum; });
  } else {
    transform_chunks(row, n, [sum](Chunk<T>& v) { v = v.exp() / sum; });
  }
}

/// Keras 3's sparsemax over one row of n values, in place; `sorted` is scratch for n values.
/// Keras (every backend) sorts the row in descending order z, takes cumulative sums c, the support
/// {i : z_i - (c_i - 1) / i > 0} of size k, and tau = (sum of c_i over the support - 1) / k --
/// the sum of the cumulative sums, not the textbook c_k, so rows need not sum to 1 -- then
/// max(x - tau, 0). strata follows Keras' formula, which is what a Keras model was trained with.
template <class T>
inline void sparsemax_row(T* row, Index n, T* sorted) {
  if (n == 0) return;
  // A NaN has no place in the order (and would break std::sort's contract): the row becomes NaN.
  if (std::any_of(row, row + n, [](T v) { return std::isnan(v); })) {
    std::fill(row, row + n, std::numeric_limits<T>::quiet_NaN());
    return;
  }
  std::copy(row, row + n, sorted);
  std::sort(sorted, sorted + n, [](T a, T b) { return a > b; });
  T cumsum = T(0), support_sum = T(0);
  Index k = 0;
  for (Index i = 0; i < n; ++i) {
    cumsum += sorted[i];
    if (sorted[i] - (cumsum - T(1)) / static_cast<T>(i + 1) > T(0)) {
      support_sum += cumsum;
      ++k;
    }
  }
  // k >= 1 always: the largest value z_1 passes z_1 - (z_1 - 1) = 1 > 0.
  const T tau = (support_sum - T(1)) / static_cast<T>(k);
  for (Index j = 0; j < n; ++j) row[j] = std::max(row[j] - tau, T(0));
}

}  // namespace detail

/// Applies a in place to a row-major (rows, cols) block; softmax, log_softmax and sparsemax act on
/// each row (the last axis), the rest on every element.
template <class T>
void apply_activation(Activation a, T* data, Index rows, Index cols) {
  if (a == Activation::linear) return;
  if (is_elementwise(a)) {
    detail::transform_chunks(data, rows * cols, [a](detail::Chunk<T>& v) { detail::apply_chunk(a, v); });
  } else if (a == Activation::sparsemax) {
    std::vector<T> sorted(static_cast<std::size_t>(cols));
    for (Index r = 0; r < rows; ++r) detail::sparsemax_row(data + r * cols, cols, sorted.data());
  } else {
    for (Index r = 0; r < rows; ++r) detail::softmax_row(data + r * cols, cols, a == Activation::log_softmax);
  }
}

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_ACTIVATIONS_HPP
