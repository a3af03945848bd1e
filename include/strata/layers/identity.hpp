// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_IDENTITY_HPP
#define STRATA_LAYERS_IDENTITY_HPP

#include <string>
#include <type_traits>
#include <vector>

#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../layer_step.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {
/// What Identity and the augmentation layers share: any rank >= 1 in, the same shape out, the
/// values copied (or, handed the last use of a tensor in a model graph, returned as they are).
template <class Derived, class T>
class PassThroughLayer : public WeightlessLayer<Derived, T> {
 public:
  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? input_rank : invalid_rank; }

  /// The input shape itself; throws shape_error for rank 0.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          concat(this->describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    (void)input.size();
    return input;
  }

  /// Low-level call on raw row-major memory: a copy of the values (none when output == input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    this->forward_copy(input, input_shape, output, output_size);
  }

  /// A model graph hands it the last use of a tensor, which it returns without a copy.
  static constexpr bool in_place = true;

  /// Per-step form (Model::stream): the identity, the step's values passed on.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    const StepShape& in = only_step_input(inputs, this->describe());
    (void)compute_output_shape(in.shape);
    return LayerStep<T>(PassStep<T>{}, {in});
  }
};
}  // namespace detail

/// Options of Identity, set by chaining: `IdentityOptions().name("placeholder")`.
class IdentityOptions : public detail::Options<IdentityOptions> {};

/// Keras 3 `Identity()`: returns its input unchanged, any rank >= 1.
///
/// A placeholder layer; the mask passes on (Keras sets supports_masking). No weights and no state.
/// The image augmentation layers that are the identity at inference are RandomFlip below.
template <class T>
class Identity : public detail::PassThroughLayer<Identity<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Identity: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "Identity";

  explicit Identity(const IdentityOptions& options = IdentityOptions()) : name_(options.name()) {}

  const std::string& name() const { return name_; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' Identity supports masking: the mask passes on.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  /// Keras config: no options of its own.
  static Identity from_config(const LayerConfig<T>& config) { return Identity(IdentityOptions().name(config.name())); }

 private:
  std::string name_;
};

/// Options of RandomFlip, set by chaining: `RandomFlipOptions().name("flip")`.
class RandomFlipOptions : public detail::Options<RandomFlipOptions> {};

/// Keras 3 `RandomFlip` -- and the other image augmentation layers listed in keras_aliases() -- at
/// inference (`training=False`, what `predict` uses): the identity, any rank >= 1.
///
/// Their transform_images returns the images unchanged when training is false (checked in
/// keras/src/layers/preprocessing/image_preprocessing/*.py, Keras 3.16), whatever their factors,
/// modes or seeds, so one class stands for all of them. Unlike Identity they do not support masking
/// (Keras sets no supports_masking): a mask stops here. Not RandomCrop (it crops or resizes at
/// inference), nor the affine ones (RandomRotation, RandomTranslation, RandomZoom, RandomShear,
/// RandomPerspective, RandomElasticTransform), not checked. No weights and no state.
template <class T>
class RandomFlip : public detail::PassThroughLayer<RandomFlip<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::RandomFlip: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "RandomFlip";

  explicit RandomFlip(const RandomFlipOptions& options = RandomFlipOptions()) : name_(options.name()) {}

  const std::string& name() const { return name_; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' image augmentation layers do not support masking: a mask stops here.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Keras config: every option (factor, mode, value_range, seed, ...) acts only in training.
  static RandomFlip from_config(const LayerConfig<T>& config) {
    return RandomFlip(RandomFlipOptions().name(config.name()));
  }
  static std::vector<std::string> keras_aliases() {
    return {"RandomContrast",   "RandomBrightness",    "RandomGrayscale",    "RandomHue",
            "RandomSaturation", "RandomSharpness",     "RandomColorJitter",  "RandomColorDegeneration",
            "RandomInvert",     "RandomPosterization", "RandomGaussianBlur", "RandomErasing"};
  }

 private:
  std::string name_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Identity)
STRATA_REGISTER_LAYER(RandomFlip)

#endif  // STRATA_LAYERS_IDENTITY_HPP
