// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_ACTIVATION_HPP
#define STRATA_LAYERS_ACTIVATION_HPP

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>

#include "../activations.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../layer_step.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of ActivationLayer, set by chaining: `ActivationLayerOptions().name("act")`.
class ActivationLayerOptions : public detail::Options<ActivationLayerOptions> {};

/// Keras `Activation(activation)`: applies a named activation (see strata::Activation) to its input.
///
/// The class is not called `Activation` because strata::Activation is the enum of activations.
/// The shape is unchanged, any rank >= 1. Element-wise activations act on every value; softmax and
/// log_softmax act over the last axis, as Dense applies them, and need rank >= 2 (on a rank-1
/// input Keras would normalise over the batch axis, mixing samples, which strata never does).
/// Every value goes through the same code as Dense's activation, so Dense("linear") followed by
/// ActivationLayer(a) equals Dense(a) bit for bit. No weights and no state.
template <class T>
class ActivationLayer : public detail::WeightlessLayer<ActivationLayer<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::ActivationLayer: the scalar type must be float or double.");

 public:
  /// Keras' class name; the C++ name differs because strata::Activation names the functions.
  static constexpr const char* class_name = "Activation";

  /// Takes the activation by its Keras name (aliases included); throws value_error when unknown.
  explicit ActivationLayer(const std::string& activation,
                           const ActivationLayerOptions& options = ActivationLayerOptions())
      : name_(options.name()) {
    activation_ = parse_activation(activation, this->describe());
  }
  explicit ActivationLayer(Activation activation, const ActivationLayerOptions& options = ActivationLayerOptions())
      : activation_(activation), name_(options.name()) {}

  Activation activation() const { return activation_; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? input_rank : invalid_rank; }

  /// The input shape itself. Throws shape_error for rank 0, and for rank 1 with softmax or
  /// log_softmax.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          detail::concat(this->describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    if (!is_elementwise(activation_) && input.rank() < 2) {
      throw shape_error(detail::concat(this->describe(), ": ", activation_name(activation_),
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

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' Activation supports masking: the mask passes on.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  /// forward may write over its input (a model graph hands it the last use of a tensor).
  static constexpr bool in_place = true;
  /// Per-step form (Model::stream): the activation on one step's values. softmax and log_softmax
  /// act over the last axis: refused (value_error) when that is the time axis.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    const StepShape& in = detail::only_step_input(inputs, this->describe());
    if (!is_elementwise(activation_)) detail::require_features_axis(in, this->describe(), activation_name(activation_));
    return forward_step(*this, in);
  }
  /// Keras config: activation (by name; hard_sigmoid by the file's Keras version).
  static ActivationLayer from_config(const LayerConfig<T>& config) {
    return ActivationLayer(config.activation("activation", "linear"), ActivationLayerOptions().name(config.name()));
  }

 private:
  Activation activation_ = Activation::linear;
  std::string name_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(ActivationLayer)

#endif  // STRATA_LAYERS_ACTIVATION_HPP
