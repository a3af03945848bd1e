// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_DROPOUT_HPP
#define STRATA_LAYERS_DROPOUT_HPP

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

/// Options of Dropout, set by chaining: `DropoutOptions().name("drop")`.
class DropoutOptions : public detail::Options<DropoutOptions> {};

/// Keras `Dropout(rate)` at inference (`training=False`, what `predict` uses): the identity.
///
/// strata runs inference only, so the layer returns its input unchanged, any rank >= 1; it exists
/// so that a Keras model's layer list maps one to one. rate must be in [0, 1) (Keras 3 also accepts
/// 1, which drops everything in training). Keras' noise_shape and seed act only in training and
/// have no equivalent. No weights and no state.
template <class T>
class Dropout : public detail::WeightlessLayer<Dropout<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Dropout: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "Dropout";

  /// Throws value_error unless 0 <= rate < 1.
  explicit Dropout(double rate, const DropoutOptions& options = DropoutOptions()) : rate_(rate), name_(options.name()) {
    if (!(rate >= 0.0 && rate < 1.0)) {
      throw value_error(detail::concat(this->describe(), ": rate must be in [0, 1); got ", rate));
    }
  }

  /// Keras `rate`: the fraction of values dropped in training (unused at inference).
  double rate() const { return rate_; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? input_rank : invalid_rank; }

  /// The input shape itself; throws shape_error for rank 0.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          detail::concat(this->describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    (void)input.size();
    return input;
  }

  /// Low-level call on raw row-major memory: a copy of the values (none when output == input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    this->forward_copy(input, input_shape, output, output_size);
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' Dropout supports masking: the mask passes on.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  /// forward may write over its input: a model graph hands it the last use of a tensor, which it
  /// then returns without a copy.
  static constexpr bool in_place = true;
  /// Per-step form (Model::stream): the identity, the step's values passed on.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    const StepShape& in = detail::only_step_input(inputs, this->describe());
    (void)compute_output_shape(in.shape);
    return LayerStep<T>(detail::PassStep<T>{}, {in});
  }
  /// Keras config: rate. The layers that are the identity at inference like Dropout load as one:
  /// SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout and ActivityRegularization
  /// (their training options, such as stddev, noise_shape or l1, have no effect at inference).
  static Dropout from_config(const LayerConfig<T>& config) {
    const double rate = config.number(config.spelling("rate", "p"), 0.0);  // Keras 1: p
    if (!(rate >= 0.0 && rate <= 1.0)) config.invalid(detail::concat("rate must be in [0, 1]; got ", rate));
    // Keras 3 accepts rate 1 (everything dropped in training); at inference it is the identity too.
    return Dropout(rate < 1.0 ? rate : 0.0, DropoutOptions().name(config.name()));
  }
  static std::vector<std::string> keras_aliases() {
    return {"SpatialDropout1D", "GaussianNoise",    "GaussianDropout", "ActivityRegularization",
            "AlphaDropout",     "SpatialDropout2D", "SpatialDropout3D"};
  }

 private:
  double rate_;
  std::string name_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Dropout)

#endif  // STRATA_LAYERS_DROPOUT_HPP
