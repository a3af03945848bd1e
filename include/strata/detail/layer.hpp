// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_LAYER_HPP
#define STRATA_DETAIL_LAYER_HPP

#include <cstddef>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Layer::output_rank(r) for an output rank that depends on an option: the call returns AnyTensor.
inline constexpr int dynamic_rank = -1;
/// Layer::output_rank(r) for an input rank the layer rejects.
inline constexpr int invalid_rank = -2;

namespace detail {

// The layer concept, which TimeDistributed<Inner> requires of Inner and AnyLayer<T> holds:
//   using Scalar = T;
//   static constexpr const char* class_name;               // the Keras class name, "Dense"
//   static constexpr int output_rank(int input_rank);      // a rank, dynamic_rank or invalid_rank
//   Shape compute_output_shape(const Shape& input) const;  // validates; throws shape_error
//   void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const;
//   bool carries_state() const;   // true for a stateful RNN
//   int output_count() const;     // 1, or 3 for an LSTM with return_state
//   std::string describe() const; // "strata::Dense 'name'", used in messages
//   const std::string& name() const;  // Keras' layer name ("" when not given)
//   bool built() const;  Index count_params() const;
//   void build(Index input_features);
//   Weights<T> get_weights() const; void set_weights(const Weights<T>&);
// A layer's Keras description (what the registry and a model graph read; see layer_config.hpp
// and any_layer.hpp) adds: static from_config(const LayerConfig<T>&), and where they apply
// weight_count(), weight_groups(inputs), mask_rule or output_mask_ranks + call_graph, in_place,
// takes_mask, output_shapes, reset_states.
template <class L, class = void>
struct is_layer : std::false_type {};

template <class L>
struct is_layer<
    L,
    std::void_t<typename L::Scalar, decltype(L::output_rank(3)),
                decltype(std::declval<const L&>().compute_output_shape(std::declval<const Shape&>())),
                decltype(std::declval<const L&>().forward(std::declval<const typename L::Scalar*>(),
                                                          std::declval<const Shape&>(),
                                                          std::declval<typename L::Scalar*>(), Index{})),
                decltype(std::declval<const L&>().carries_state()), decltype(std::declval<const L&>().output_count()),
                decltype(std::declval<const L&>().describe()), decltype(std::declval<const L&>().name()),
                decltype(std::declval<const L&>().built()), decltype(std::declval<const L&>().count_params()),
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

/// Runs layer on a tensor of run-time rank (an AnyTensor, or any tensor through a TensorView).
template <class Layer>
AnyTensor<typename Layer::Scalar> call_any(const Layer& layer, const TensorView<typename Layer::Scalar>& x) {
  using T = typename Layer::Scalar;
  if (x.empty()) throw shape_error(concat(layer.describe(), ": the input tensor is empty (it holds no tensor)"));
  AnyTensor<T> y = AnyTensor<T>::uninitialized(layer.compute_output_shape(x.shape()));
  layer.forward(x.data(), x.shape(), y.data(), y.size());
  return y;
}

/// The data and shape of a layer input given as a typed Tensor / TensorMap (checked at compile
/// time: scalar type, Rank, RowMajor) or an AnyTensor or TensorView (checked at run time by the
/// layer).
template <class T, int Rank, class X>
std::pair<const T*, Shape> sequence_input(const X& x, const std::string& who) {
  if constexpr (std::is_same_v<X, AnyTensor<T>> || std::is_same_v<X, TensorView<T>>) {
    if (x.empty()) throw shape_error(concat(who, ": the input tensor is empty (it holds no tensor)"));
    return {x.data(), x.shape()};
  } else {
    static_assert(is_tensor_input_v<X, T>,
                  "strata: the input must be a strata::Tensor, TensorMap, AnyTensor or TensorView of the layer's "
                  "scalar type.");
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

/// s without a leading prefix.
inline std::string strip_prefix(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0 ? s.substr(prefix.size()) : s;
}

/// A single-input layer's input among a graph call's input shapes; value_error for another count.
inline const Shape& only_input(const std::vector<Shape>& in, const std::string& who) {
  if (in.size() != 1) throw value_error(concat(who, ": takes one input; it is given ", in.size()));
  return in[0];
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

/// What every layer without weights shares (Flatten, Reshape, Activation, Dropout, Masking): it
/// is always built, its weight list is empty, it keeps no state, and it is called like any layer.
/// Derived provides class_name, name(), output_rank, compute_output_shape and forward. Static
/// (CRTP), not virtual.
template <class Derived, class T>
class WeightlessLayer {
 public:
  using Scalar = T;

  std::string describe() const { return describe_layer(Derived::class_name, self().name()); }
  /// Always true: there are no weights to create.
  bool built() const { return true; }
  /// Keras build: nothing to do (no weights).
  void build(Index /*features*/) {}
  /// Keras get_weights(): an empty list.
  Weights<T> get_weights() const { return {}; }
  /// Keras set_weights(): accepts only an empty list; throws shape_error otherwise.
  void set_weights(const Weights<T>& weights) { check_no_weights(weights, describe()); }
  /// Keras count_params(): 0.
  Index count_params() const { return 0; }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

 protected:
  /// forward() of a layer whose output holds its input's values in the same order (Flatten,
  /// Reshape, Dropout): checks the shapes and copies, or nothing when output == input.
  void forward_copy(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    check_output_size(self(), self().compute_output_shape(input_shape), output_size);
    if (input != output && output_size > 0) {
      std::memmove(output, input, static_cast<std::size_t>(output_size) * sizeof(T));
    }
  }

 public:
  /// Keras `layer(x)` on a Tensor or TensorMap: a Tensor when the output rank follows from the
  /// input's, an AnyTensor when an option decides it.
  template <class X, std::enable_if_t<is_tensor_input_v<X, T>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(Derived::output_rank(static_cast<int>(X::NumIndices)) != invalid_rank,
                  "strata: this layer does not take inputs of this rank (see its documentation).");
    return call_tensor(self(), x);
  }
  /// The same on a tensor of run-time rank (an AnyTensor or a TensorView).
  AnyTensor<T> operator()(const TensorView<T>& x) const { return call_any(self(), x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return call_any(self(), TensorView<T>(x)); }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_LAYER_HPP
