// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_TIME_DISTRIBUTED_HPP
#define STRATA_LAYERS_TIME_DISTRIBUTED_HPP

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of TimeDistributed, set by chaining: `TimeDistributedOptions().name("td")`.
class TimeDistributedOptions : public detail::Options<TimeDistributedOptions> {};

/// Keras `TimeDistributed(layer)`: applies the wrapped layer to every slice x[:, t] along axis 1.
///
/// (batch, time, ...) -> (batch, time, ...inner output without its batch axis). The slices are not
/// copied out one by one: batch and time are merged into one axis (a reshape of the same memory),
/// the inner layer runs once on (batch * time, ...), and its output is read back as
/// (batch, time, ...), so it runs at the inner layer's full speed. Per slice that is the same
/// arithmetic Keras does, and the inner layer never mixes slices, so results are identical.
///
/// Weights: the inner layer's, in its order. The inner layer may be any strata layer, including a
/// TimeDistributed (nesting), or an AnyLayer (a layer chosen at run time, as the loader builds
/// it). A stateful inner layer, or one with several outputs (return_state), is rejected: state
/// carried from one slice to the next has no clear meaning here.
template <class Inner>
class TimeDistributed {
  static_assert(
      detail::is_layer_v<Inner>,
      "strata::TimeDistributed: the wrapped type must be a strata layer such as Dense, LSTM or TimeDistributed.");

 public:
  using Scalar = typename Inner::Scalar;
  using Layer = Inner;
  static constexpr const char* class_name = "TimeDistributed";

  /// Wraps layer (taken by value). Throws value_error if it is stateful or has several outputs.
  explicit TimeDistributed(Inner layer, const TimeDistributedOptions& options = TimeDistributedOptions())
      : layer_(std::move(layer)), name_(options.name()) {
    if (layer_.carries_state()) {
      throw value_error(detail::concat(describe(), ": the wrapped layer ", layer_.describe(),
                                       " is stateful; state carried across slices of TimeDistributed is ill-defined, "
                                       "so strata rejects it"));
    }
    if (layer_.output_count() != 1) {
      throw value_error(detail::concat(describe(), ": the wrapped layer ", layer_.describe(), " has ",
                                       layer_.output_count(), " outputs (return_state); TimeDistributed needs one"));
    }
  }

  /// The wrapped layer.
  const Inner& layer() const { return layer_; }
  Inner& layer() { return layer_; }
  const std::string& name() const { return name_; }
  std::string describe() const {
    std::string s = "strata::TimeDistributed(" + detail::strip_prefix(layer_.describe(), "strata::") + ")";
    if (!name_.empty()) s += " '" + name_ + "'";
    return s;
  }

  bool built() const { return layer_.built(); }
  /// Builds the wrapped layer for slices whose last axis has `features` values.
  void build(Index features) { layer_.build(features); }
  /// The wrapped layer's weights (Keras TimeDistributed.get_weights()).
  Weights<Scalar> get_weights() const { return layer_.get_weights(); }
  void set_weights(const Weights<Scalar>& weights) { layer_.set_weights(weights); }
  Index count_params() const { return layer_.count_params(); }

  static constexpr int output_rank(int input_rank) {
    if (input_rank < 3) return invalid_rank;
    const int inner = Inner::output_rank(input_rank - 1);
    if (inner == invalid_rank || inner == dynamic_rank) return inner;
    return inner + 1;
  }

  /// (batch, time, ...) -> (batch, time, ...); throws shape_error for rank < 3 or when the inner
  /// layer rejects the slice shape (the message gives both shapes).
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 3) {
      throw shape_error(
          detail::concat(describe(), ": input must have rank >= 3 (batch, time, ...); got shape ", input.to_string()));
    }
    // Keras builds the wrapped layer for one slice x[:, t], shape (batch, rest...): check that
    // shape first, so a message shows the slice the user would expect, then the merged one.
    Shape inner_out;
    try {
      (void)layer_.compute_output_shape(slice(input));
      inner_out = layer_.compute_output_shape(merge(input));
    } catch (const shape_error& e) {
      throw shape_error(detail::concat(describe(), ": input shape ", input.to_string(), " gives slices of shape ",
                                       slice(input).to_string(), " that the wrapped layer rejects: ", e.what()));
    }
    Shape out{input[0], input[1]};
    for (int i = 1; i < inner_out.rank(); ++i) out.push_back(inner_out[i]);
    return out;
  }

  /// Low-level call on raw row-major memory; output must hold compute_output_shape(input_shape).
  void forward(const Scalar* input, const Shape& input_shape, Scalar* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    layer_.forward(input, merge(input_shape), output, output_size);
  }

  /// Keras `TimeDistributed(layer)(x)`: returns a Tensor when the output rank is fixed by the
  /// types (e.g. Dense inside), an AnyTensor when it depends on an option (e.g. LSTM inside).
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, Scalar>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(X::NumIndices >= 3,
                  "strata::TimeDistributed: the input must have rank 3 or more (batch, time, ...).");
    static_assert(
        output_rank(static_cast<int>(X::NumIndices)) != invalid_rank,
        "strata::TimeDistributed: the wrapped layer does not accept slices of this rank (input rank minus one).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<Scalar> operator()(const TensorView<Scalar>& x) const { return detail::call_any(*this, x); }
  AnyTensor<Scalar> operator()(const AnyTensor<Scalar>& x) const {
    return detail::call_any(*this, TensorView<Scalar>(x));
  }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' TimeDistributed passes its input's mask on.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  /// Config keys that hold nested layers (checked to be registered before anything is built).
  static std::vector<std::string> sublayer_keys() { return {"layer"}; }
  /// Per-step form (Model::stream): one step x[:, t] is one slice, so it is the wrapped layer's
  /// per-step form for that slice as a whole input (no time axis of the stream in it: the wrapped
  /// layer sees each slice alone). Refuses (value_error) a wrapped layer without a per-step form
  /// for that input, and an input without a time axis.
  LayerStep<Scalar> make_step(const std::vector<StepShape>& inputs) const {
    const StepShape& in = detail::only_step_input(inputs, describe());
    if constexpr (detail::has_make_step<Inner>::value) {
      if (!in.timed) {
        throw value_error(
            detail::concat(describe(), ": its input ", step_shape_string(in), " has no time axis to distribute over"));
      }
      if (in.shape.rank() < 2) {
        throw shape_error(detail::concat(describe(), ": input must have rank >= 3 (batch, time, ...); one step is ",
                                         step_shape_string(in)));
      }
      LayerStep<Scalar> inner = wrapped_step(StepShape{in.shape, false});
      std::vector<StepShape> out = inner.outputs();
      out.at(0).timed = true;
      return std::move(inner).with_outputs(std::move(out));
    } else {
      (void)in;
      throw value_error(detail::concat(describe(), ": the wrapped layer ", layer_.describe(),
                                       " has no per-step form, so neither has the wrapper"));
    }
  }
  /// Keras config: layer -- any registered class when Inner is AnyLayer (as the loader builds
  /// it), else Inner's own.
  static TimeDistributed from_config(const LayerConfig<Scalar>& config) {
    Inner inner = [&] {
      if constexpr (std::is_same_v<Inner, AnyLayer<Scalar>>) {
        return config.layer("layer");
      } else {
        const LayerConfig<Scalar> inner_config = config.sublayer("layer");
        if (inner_config.class_name() != Inner::class_name) {
          config.unsupported(detail::concat("wraps a '", inner_config.class_name(),
                                            "' layer; this TimeDistributed wraps ", Inner::class_name));
        }
        return Inner::from_config(inner_config);
      }
    }();
    if (inner.carries_state()) {
      config.unsupported(
          "wraps a stateful layer, whose state across slices is ill-defined; strata does not support it");
    }
    if (inner.output_count() != 1) config.unsupported("return_state inside TimeDistributed is not supported");
    return TimeDistributed(std::move(inner), TimeDistributedOptions().name(config.name()));
  }
  /// Keras' weights: the wrapped layer's, under "layer/".
  std::size_t weight_count() const { return detail::weight_count_of(layer_); }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& x = detail::only_input(inputs, describe());
    if (x.rank() < 3) {
      throw shape_error(
          detail::concat(describe(), ": input must have rank >= 3 (batch, time, ...); got shape ", x.to_string()));
    }
    std::vector<WeightGroup> groups;
    if constexpr (detail::has_weight_groups<Inner>::value) groups = layer_.weight_groups({merge(x)});
    for (WeightGroup& g : groups) g.path = g.path.empty() ? "layer" : "layer/" + g.path;
    return groups;
  }
  /// The wrapped layer's legacy layout (a Keras 1 LSTM's per-gate arrays), under "layer/".
  std::vector<WeightGroup> legacy_weight_groups(const std::vector<Shape>& inputs, const KerasVersion& version) const {
    const Shape& x = detail::only_input(inputs, describe());
    if (x.rank() < 3) return {};
    std::vector<WeightGroup> groups = detail::legacy_weight_groups_of(layer_, {merge(x)}, version);
    for (WeightGroup& g : groups) g.path = g.path.empty() ? "layer" : "layer/" + g.path;
    return groups;
  }
  Weights<Scalar> convert_legacy_weights(Weights<Scalar> stored, const KerasVersion& version) const {
    return detail::convert_legacy_weights_of(layer_, std::move(stored), version);
  }
  /// Keras compute_mask: the input's mask passes on. strata does not reshape masks for the slices,
  /// so a mask cannot reach a recurrent layer inside, and a mask the wrapped layer makes (Masking,
  /// Embedding(mask_zero)) is refused.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    const Shape& x = detail::only_input(inputs, describe());
    const int mask = masks.empty() ? 0 : masks[0];
    if (mask != 0 && detail::layer_takes_mask(layer_)) {
      throw value_error(detail::concat(describe(),
                                       ": receives a mask, which would have to reach the recurrent layer it wraps; "
                                       "masks inside TimeDistributed are not supported"));
    }
    if constexpr (detail::has_output_mask_ranks<Inner>::value) {
      if (layer_.output_mask_ranks({merge(x)}, {0}).at(0) != 0) {
        throw value_error(detail::concat(describe(), ": the wrapped layer ", layer_.describe(),
                                         " makes a mask, which strata does not carry out of TimeDistributed"));
      }
    }
    return {mask};
  }

 private:
  // (batch, time, rest...) -> (batch * time, rest...): the same memory, one axis fewer.
  static Shape merge(const Shape& input) {
    Shape merged{input.product(0, 2)};
    for (int i = 2; i < input.rank(); ++i) merged.push_back(input[i]);
    return merged;
  }
  // The wrapped layer's step for a whole input, its message naming the wrapper.
  LayerStep<Scalar> wrapped_step(const StepShape& in) const {
    try {
      return layer_.make_step({in});
    } catch (const shape_error& e) {
      throw shape_error(detail::concat(describe(), ": ", e.what()));
    } catch (const value_error& e) {
      throw value_error(detail::concat(describe(), ": ", e.what()));
    }
  }
  // One slice x[:, t]: (batch, rest...).
  static Shape slice(const Shape& input) {
    Shape s{input[0]};
    for (int i = 2; i < input.rank(); ++i) s.push_back(input[i]);
    return s;
  }

  Inner layer_;
  std::string name_;
};

namespace detail {
/// What the registry builds for Keras' TimeDistributed: the typed wrapper around a layer chosen
/// at run time.
template <class T>
using AnyTimeDistributed = TimeDistributed<AnyLayer<T>>;
}  // namespace detail

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(AnyTimeDistributed)

#endif  // STRATA_LAYERS_TIME_DISTRIBUTED_HPP
