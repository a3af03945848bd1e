// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_LAYER_HPP
#define STRATA_DETAIL_LAYER_HPP

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include "../tensor.hpp"

namespace strata {

/// Layer::output_rank(r) for an output rank that depends on an option: the call returns AnyTensor.
inline constexpr int dynamic_rank = -1;
/// Layer::output_rank(r) for an input rank the layer rejects.
inline constexpr int invalid_rank = -2;

namespace detail {

// The layer concept, which TimeDistributed<Inner> requires of Inner:
//   using Scalar = T;
//   static constexpr int output_rank(int input_rank);      // a rank, dynamic_rank or invalid_rank
//   Shape compute_output_shape(const Shape& input) const;  // validates; throws shape_error
//   void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const;
//   bool carries_state() const;   // true for a stateful RNN
//   int output_count() const;     // 1, or 3 for an LSTM with return_state
//   std::string describe() const; // "strata::Dense 'name'", used in messages
//   void build(Index input_features);
//   Weights<T> get_weights() const; void set_weights(const Weights<T>&);
template <class L, class = void>
struct is_layer : std::false_type {};

template <class L>
struct is_layer<
    L, std::void_t<typename L::Scalar, decltype(L::output_rank(3)),
                   decltype(std::declval<const L&>().compute_output_shape(std::declval<const Shape&>())),
                   decltype(std::declval<const L&>().forward(std::declval<const typename L::Scalar*>(),
                                                             std::declval<const Shape&>(),
                                                             std::declval<typename L::Scalar*>(), Index{})),
                   decltype(std::declval<const L&>().carries_state()),
                   decltype(std::declval<const L&>().output_count()), decltype(std::declval<const L&>().describe()),
                   decltype(std::declval<L&>().build(Index{})), decltype(std::declval<const L&>().get_weights()),
                   decltype(std::declval<L&>().set_weights(std::declval<const Weights<typename L::Scalar>&>()))>>
    : std::true_type {};

template <class L>
inline constexpr bool is_layer_v = is_layer<L>::value;

/// "strata::Dense" or "strata::Dense 'name'".
inline std::string describe_layer(const char* class_name, const std::string& name) {
  std::string s = "strata::";
  s += class_name;
  if (!name.empty()) s += " '" + name + "'";
  return s;
}

/// Runs layer on a typed tensor or tensor map; returns Tensor<T, R> when the output rank is
/// fixed by the type, AnyTensor<T> when it depends on an option.
template <class Layer, class X>
auto call_tensor(const Layer& layer, const X& x) {
  using T = typename Layer::Scalar;
  static_assert(static_cast<int>(X::Layout) == static_cast<int>(Eigen::RowMajor),
                "strata: layers take RowMajor tensors (numpy's layout); use strata::Tensor or strata::ConstTensorMap.");
  constexpr int out_rank = Layer::output_rank(static_cast<int>(X::NumIndices));
  const Shape in = shape_of(x);
  const Shape out_shape = layer.compute_output_shape(in);
  if constexpr (out_rank >= 0) {
    Tensor<T, out_rank> y = new_tensor<T, out_rank>(to_dims<out_rank>(out_shape));
    layer.forward(x.data(), in, y.data(), y.size());
    return y;
  } else {
    AnyTensor<T> y = AnyTensor<T>::uninitialized(out_shape);
    layer.forward(x.data(), in, y.data(), y.size());
    return y;
  }
}

/// Runs layer on a tensor of run-time rank.
template <class Layer>
AnyTensor<typename Layer::Scalar> call_any(const Layer& layer, const AnyTensor<typename Layer::Scalar>& x) {
  using T = typename Layer::Scalar;
  if (x.empty()) throw shape_error(concat(layer.describe(), ": the input tensor is empty (it holds no tensor)"));
  const Shape in = x.shape();
  AnyTensor<T> y = AnyTensor<T>::uninitialized(layer.compute_output_shape(in));
  layer.forward(x.data(), in, y.data(), y.size());
  return y;
}

/// The data and shape of a layer input given as a typed Tensor / TensorMap (checked at compile
/// time: scalar type, Rank, RowMajor) or an AnyTensor (checked at run time by the layer).
template <class T, int Rank, class X>
std::pair<const T*, Shape> sequence_input(const X& x, const std::string& who) {
  if constexpr (std::is_same_v<X, AnyTensor<T>>) {
    if (x.empty()) throw shape_error(concat(who, ": the input tensor is empty (it holds no tensor)"));
    return {x.data(), x.shape()};
  } else {
    static_assert(is_tensor_input_v<X, T>,
                  "strata: the input must be a strata::Tensor, TensorMap or AnyTensor of the layer's scalar type.");
    static_assert(X::NumIndices == Rank,
                  "strata: the input has the wrong rank for this layer (see its documentation).");
    static_assert(static_cast<int>(X::Layout) == static_cast<int>(Eigen::RowMajor),
                  "strata: layers take RowMajor tensors (numpy's layout).");
    return {x.data(), shape_of(x)};
  }
}

/// Checks that forward() was handed an output buffer of the size compute_output_shape gives.
// Takes the layer, not its description: describe() builds a string, which forward() must not pay
// for (or allocate) on every call when the size is right.
template <class Layer>
void check_output_size(const Layer& layer, const Shape& out_shape, Index output_size) {
  if (out_shape.size() != output_size) {
    throw shape_error(concat(layer.describe(), ": output buffer holds ", output_size, " values; shape ",
                             out_shape.to_string(), " needs ", out_shape.size()));
  }
}

/// Checks a weight list's length against what the layer owns.
template <class T>
void check_weight_count(const Weights<T>& weights, std::size_t expected, const std::string& who,
                        const std::string& expected_list) {
  if (weights.size() != expected) {
    throw shape_error(concat(who, ": set_weights expects ", expected, " array", expected == 1 ? "" : "s", " [",
                             expected_list, "]; got ", weights.size()));
  }
}

/// set_weights of a layer without weights: accepts only an empty list.
template <class T>
void check_no_weights(const Weights<T>& weights, const std::string& who) {
  if (!weights.empty()) {
    throw shape_error(concat(who, ": set_weights expects an empty list (the layer has no weights); got ",
                             weights.size(), " array", weights.size() == 1 ? "" : "s"));
  }
}

/// Checks one weight's shape; returns it as a typed tensor.
template <int Rank, class T>
const Tensor<T, Rank>& check_weight(const AnyTensor<T>& w, const Shape& expected, const std::string& who,
                                    const char* weight_name, std::size_t position) {
  if (w.shape() != expected) {
    throw shape_error(concat(who, ": weight ", position, " (", weight_name, ") must have shape ", expected.to_string(),
                             "; got ", w.empty() ? std::string("an empty tensor") : w.shape().to_string()));
  }
  return w.template get<Rank>();
}

}  // namespace detail
}  // namespace strata

#endif  // STRATA_DETAIL_LAYER_HPP
