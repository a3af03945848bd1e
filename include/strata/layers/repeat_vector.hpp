// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_REPEAT_VECTOR_HPP
#define STRATA_LAYERS_REPEAT_VECTOR_HPP

#include <cstring>
#include <string>
#include <type_traits>

#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of RepeatVector, set by chaining: `RepeatVectorOptions().name("repeat")`.
class RepeatVectorOptions : public detail::Options<RepeatVectorOptions> {};

/// Keras `RepeatVector(n)`: (batch, features) -> (batch, n, features).
///
/// Each sample's feature vector is repeated n times along a new axis 1: y[b, i, :] == x[b, :] for
/// every i < n. The usual bridge from a vector to a sequence, as in the sequence autoencoder
/// `LSTM(u) -> RepeatVector(T) -> LSTM(u, return_sequences=True) -> TimeDistributed(Dense)`.
/// The input must have rank 2, as Keras' `InputSpec(ndim=2)` requires; inside TimeDistributed it
/// takes (batch, time, features) and gives (batch, time, n, features). No weights (get_weights()
/// is empty) and no state.
template <class T>
class RepeatVector : public detail::WeightlessLayer<RepeatVector<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::RepeatVector: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "RepeatVector";

  /// Keras `RepeatVector(n)`. Throws value_error for n < 1.
  explicit RepeatVector(Index n, const RepeatVectorOptions& options = RepeatVectorOptions())
      : n_(n), name_(options.name()) {
    if (n_ < 1) {
      throw value_error(detail::concat(this->describe(), ": n (the number of repetitions) must be >= 1; got ", n_));
    }
  }

  /// Keras `n`: how many times each sample's vector is repeated.
  Index n() const { return n_; }
  const std::string& name() const { return name_; }

  /// Only rank 2 (batch, features) is accepted; the output has rank 3.
  static constexpr int output_rank(int input_rank) { return input_rank == 2 ? 3 : invalid_rank; }

  /// (batch, features) -> (batch, n, features). Throws shape_error for any other rank.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() != 2) {
      throw shape_error(detail::concat(this->describe(), ": input must have rank 2 (batch, features); got shape ",
                                       input.to_string()));
    }
    return Shape{input[0], n_, input[1]};
  }

  /// Low-level call on raw row-major memory: each input row copied n times. output must not
  /// overlap input (n == 1 with output == input is allowed: nothing to copy).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    if (output_size == 0 || (n_ == 1 && input == output)) return;
    const Index batch = input_shape[0], features = input_shape[1];
    const std::size_t row_bytes = static_cast<std::size_t>(features) * sizeof(T);
    for (Index b = 0; b < batch; ++b) {
      const T* row = input + b * features;
      T* out = output + b * n_ * features;
      for (Index i = 0; i < n_; ++i) std::memcpy(out + i * features, row, row_bytes);
    }
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras 3's RepeatVector does not support masking (it has no compute_mask, so Layer sets
  /// supports_masking to False): a mask stops here, with a warning in Keras 3.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Keras config: n (required, >= 1).
  static RepeatVector from_config(const LayerConfig<T>& config) {
    return RepeatVector(config.integer("n"), RepeatVectorOptions().name(config.name()));
  }

 private:
  Index n_;
  std::string name_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(RepeatVector)

#endif  // STRATA_LAYERS_REPEAT_VECTOR_HPP
