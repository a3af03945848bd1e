// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_IDENTITY_HPP
#define STRATA_LAYERS_IDENTITY_HPP

#include <string>
#include <type_traits>
#include <vector>

#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../tensor.hpp"

namespace strata {

/// Options of Identity, set by chaining: `IdentityOptions().name("placeholder")`.
class IdentityOptions : public detail::Options<IdentityOptions> {};

/// Keras 3 `Identity()`: returns its input unchanged, any rank >= 1.
///
/// A placeholder layer; the mask passes on (Keras sets supports_masking). The image augmentation
/// layers that Keras 3 runs as the identity at inference (`training=False`) load as one too: see
/// keras_aliases(). No weights and no state.
template <class T>
class Identity : public detail::WeightlessLayer<Identity<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Identity: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "Identity";

  explicit Identity(const IdentityOptions& options = IdentityOptions()) : name_(options.name()) {}

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
  /// Keras' Identity supports masking: the mask passes on.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  /// A model graph hands it the last use of a tensor, which it returns without a copy.
  static constexpr bool in_place = true;
  /// Keras config: no options of its own.
  static Identity from_config(const LayerConfig<T>& config) { return Identity(IdentityOptions().name(config.name())); }
  /// Keras 3's image augmentation layers whose transform_images returns the images unchanged when
  /// training is false (checked in keras/src/layers/preprocessing/image_preprocessing/*.py, Keras
  /// 3.16): at inference they are the identity, whatever their factors. Not RandomCrop (it crops
  /// or resizes at inference), nor RandomRotation, RandomTranslation, RandomZoom, RandomShear,
  /// RandomPerspective, RandomElasticTransform (not checked).
  static std::vector<std::string> keras_aliases() {
    return {"RandomFlip",      "RandomContrast",         "RandomBrightness", "RandomGrayscale",
            "RandomHue",       "RandomSaturation",       "RandomSharpness",  "RandomColorJitter",
            "RandomColorDegeneration", "RandomInvert",   "RandomPosterization", "RandomGaussianBlur",
            "RandomErasing"};
  }

 private:
  std::string name_;
};

}  // namespace strata

STRATA_REGISTER_LAYER(Identity)

#endif  // STRATA_LAYERS_IDENTITY_HPP
