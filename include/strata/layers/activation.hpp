// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_ACTIVATION_HPP
#define STRATA_LAYERS_ACTIVATION_HPP

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>

#include "../activations.hpp"
#include "../detail/layer.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"

namespace strata {

/// Options of ActivationLayer, set by chaining: `ActivationLayerOptions().name("act")`.
class ActivationLayerOptions {
 public:
  /// Keras `name`; appears in error messages.
  ActivationLayerOptions& name(std::string value) {
    name_ = std::move(value);
    return *this;
  }

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

/// Keras `Activation(activation)`: applies a named activation (see strata::Activation) to its input.
///
/// The class is not called `Activation` because strata::Activation is the enum of activations.
/// The shape is unchanged, any rank >= 1. Element-wise activations act on every value; softmax and
/// log_softmax act over the last axis, as Dense applies them, and need rank >= 2 (on a rank-1
/// input Keras would normalise over the batch axis, mixing samples, which strata never does).
/// Every value goes through the same code as Dense's activation, so Dense("linear") followed by
/// ActivationLayer(a) equals Dense(a) bit for bit. No weights and no state.
template <class T>
class ActivationLayer {
  static_assert(std::is_floating_point_v<T>, "strata::ActivationLayer: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "ActivationLayer";

  /// Takes the activation by its Keras name (aliases included); throws value_error when unknown.
  explicit ActivationLayer(const std::string& activation,
                           const ActivationLayerOptions& options = ActivationLayerOptions())
      : name_(options.name()) {
    activation_ = parse_activation(activation, describe());
  }
  explicit ActivationLayer(Activation activation, const ActivationLayerOptions& options = ActivationLayerOptions())
      : activation_(activation), name_(options.name()) {}

  Activation activation() const { return activation_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  /// Always true: there are no weights to create.
  bool built() const { return true; }
  /// Keras build: nothing to do (no weights).
  void build(Index /*features*/) {}
  /// Keras get_weights(): an empty list.
  Weights<T> get_weights() const { return {}; }
  /// Keras set_weights(): accepts only an empty list; throws shape_error otherwise.
  void set_weights(const Weights<T>& weights) { detail::check_no_weights(weights, describe()); }
  /// Keras count_params(): 0.
  Index count_params() const { return 0; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? input_rank : invalid_rank; }

  /// The input shape itself. Throws shape_error for rank 0, and for rank 1 with softmax or
  /// log_softmax.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          detail::concat(describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    if (!is_elementwise(activation_) && input.rank() < 2) {
      throw shape_error(detail::concat(describe(), ": ", activation_name(activation_),
                                       " acts over the last axis and needs rank >= 2 (batch, ..., features); got "
                                       "shape ",
                                       input.to_string(), " (over the batch axis it would mix samples)"));
    }
    (void)input.size();
    return input;
  }

  /// Low-level call on raw row-major memory. output may be input itself (in place); otherwise the
  /// two must not overlap.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    // Rows of the last axis: softmax needs them; element-wise activations only split the work.
    const int rank = input_shape.rank();
    const Index cols = rank >= 2 ? input_shape.back() : 1;
    const Index rows = rank >= 2 ? input_shape.product(0, rank - 1) : input_shape[0];
    const double flops_per_row = 20.0 * static_cast<double>(std::max<Index>(cols, 1));
    detail::parallel_rows(rows, detail::rows_worth_a_thread(flops_per_row), 1, [&](Index r0, Index r1) {
      T* out = output + r0 * cols;
      if (input != output) std::copy(input + r0 * cols, input + r1 * cols, out);
      apply_activation(activation_, out, r1 - r0, cols);
    });
  }

  /// Keras `activation_layer(x)` on a Tensor or TensorMap of rank >= 1; returns a Tensor of the
  /// same shape.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, static_cast<int>(X::NumIndices)> operator()(const X& x) const {
    static_assert(X::NumIndices >= 1, "strata::ActivationLayer: the input must have rank 1 or more (batch, ...).");
    return detail::call_tensor(*this, x);
  }
  /// The same on a tensor of run-time rank.
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, x); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

 private:
  Activation activation_ = Activation::linear;
  std::string name_;
};

}  // namespace strata

#endif  // STRATA_LAYERS_ACTIVATION_HPP
