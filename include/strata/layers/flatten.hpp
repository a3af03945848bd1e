// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_FLATTEN_HPP
#define STRATA_LAYERS_FLATTEN_HPP

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../layer_step.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of Flatten, set by chaining: `FlattenOptions().name("flat")`.
class FlattenOptions : public detail::Options<FlattenOptions> {
 public:
  /// Keras `data_format`. Only "channels_last" (the default) is supported: "channels_first" (Keras
  /// moves axis 1 to the end before flattening) throws value_error when the layer is constructed.
  FlattenOptions& data_format(std::string value) {
    data_format_ = std::move(value);
    return *this;
  }
  const std::string& data_format() const { return data_format_; }

 private:
  std::string data_format_ = "channels_last";
};

/// Keras `Flatten()` (data_format "channels_last"): (batch, d1, ..., dk) -> (batch, d1 * ... * dk).
///
/// A rank-1 input (batch,) becomes (batch, 1), as in Keras 3. The values keep their row-major
/// order, so the output holds the same numbers in the same memory order as the input. Flatten mixes
/// every axis after the batch, so TimeDistributed(Flatten) on (batch, T, H, W) gives
/// (batch, T, H * W) while Flatten gives (batch, T * H * W): the same numbers, other shapes.
/// No weights (get_weights() is empty) and no state.
template <class T>
class Flatten : public detail::WeightlessLayer<Flatten<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Flatten: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "Flatten";

  /// Throws value_error for a data_format other than "channels_last".
  explicit Flatten(const FlattenOptions& options = FlattenOptions()) : name_(options.name()) {
    if (options.data_format() == "channels_first") {
      throw value_error(detail::concat(this->describe(),
                                       ": data_format 'channels_first' is not supported; move the channels axis "
                                       "last (Keras' Flatten transposes to (batch, ..., channels) first)"));
    }
    if (options.data_format() != "channels_last") {
      throw value_error(detail::concat(this->describe(), ": unknown data_format '", options.data_format(),
                                       "'; expected 'channels_last'"));
    }
  }

  const std::string& name() const { return name_; }
  /// Always "channels_last".
  std::string data_format() const { return "channels_last"; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? 2 : invalid_rank; }

  /// (batch, d1, ..., dk) -> (batch, d1 * ... * dk); (batch,) -> (batch, 1). Throws shape_error for
  /// rank 0.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          detail::concat(this->describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    return Shape{input[0], input.product(1, input.rank())};
  }

  /// Low-level call on raw row-major memory: a copy of the values (none when output == input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    this->forward_copy(input, input_shape, output, output_size);
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' Flatten does not support masking: a mask stops here.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Per-step form (Model::stream), for an input without a time axis (after a recurrent layer
  /// without return_sequences): the same values, reshaped. Refuses (value_error) an input with a
  /// time axis, which Flatten would join with the features of every step.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    const StepShape& in = detail::only_step_input(inputs, this->describe());
    if (in.timed) {
      throw value_error(detail::concat(this->describe(), ": flattens the time axis with the features (one step is ",
                                       step_shape_string(in), "), which needs every step of the sequence"));
    }
    return LayerStep<T>(detail::PassStep<T>{}, {StepShape{compute_output_shape(in.shape), false}});
  }
  /// Keras config: data_format (tfjs writes it only when given).
  static Flatten from_config(const LayerConfig<T>& config) {
    const std::string format = config.string("data_format", "channels_last");
    if (format != "channels_last")
      config.unsupported("data_format '" + format + "' is not supported (channels_last is)");
    return Flatten(FlattenOptions().name(config.name()));
  }

 private:
  std::string name_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Flatten)

#endif  // STRATA_LAYERS_FLATTEN_HPP
