// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_RESHAPE_HPP
#define STRATA_LAYERS_RESHAPE_HPP

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of Reshape, set by chaining: `ReshapeOptions().name("to_grid")`.
class ReshapeOptions : public detail::Options<ReshapeOptions> {};

/// Keras `Reshape(target_shape)`: (batch, ...) -> (batch, *target_shape).
///
/// target_shape excludes the batch axis; at most one entry may be -1, which is inferred from the
/// number of values per sample. The values keep their row-major order (the output holds the same
/// numbers in the same memory order as the input). The output rank is target_shape.size() + 1, an
/// option, so calls return AnyTensor. No weights (get_weights() is empty) and no state.
template <class T>
class Reshape : public detail::WeightlessLayer<Reshape<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Reshape: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "Reshape";

  /// Throws value_error when target_shape has more than max_rank - 1 entries, more than one -1, an
  /// entry below -1, or a -1 next to a 0 (which Keras cannot infer either).
  explicit Reshape(std::vector<Index> target_shape, const ReshapeOptions& options = ReshapeOptions())
      : target_shape_(std::move(target_shape)), name_(options.name()) {
    if (static_cast<int>(target_shape_.size()) > max_rank - 1) {
      throw value_error(detail::concat(this->describe(), ": target_shape ", target_string(), " has ",
                                       target_shape_.size(), " axes; at most ", max_rank - 1,
                                       " are supported (plus the batch axis)"));
    }
    if (std::count(target_shape_.begin(), target_shape_.end(), Index(-1)) > 1) {
      throw value_error(
          detail::concat(this->describe(), ": target_shape ", target_string(), " must not contain more than one -1"));
    }
    Shape known;
    for (Index d : target_shape_) {
      if (d < -1) {
        throw value_error(detail::concat(this->describe(), ": target_shape ", target_string(),
                                         " may contain only sizes >= 0 and one -1; got ", d));
      }
      if (d >= 0) known.push_back(d);
    }
    known_size_ = known.size();
    inferred_ = known.rank() != static_cast<int>(target_shape_.size());
    if (inferred_ && known_size_ == 0) {
      throw value_error(detail::concat(this->describe(), ": target_shape ", target_string(),
                                       " has a 0 next to the -1, so the -1 cannot be inferred"));
    }
  }

  /// The target shape as given (without the batch axis, with its -1 if any).
  const std::vector<Index>& target_shape() const { return target_shape_; }
  const std::string& name() const { return name_; }

  /// Any rank >= 1 is accepted; the output rank is set by target_shape at run time.
  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? dynamic_rank : invalid_rank; }

  /// (batch, ...) -> (batch, *target_shape) with the -1 inferred. Throws shape_error for rank 0 or
  /// when the values per sample do not fit target_shape (the message gives both shapes).
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          detail::concat(this->describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    const Index per_sample = input.product(1, input.rank());
    if (!inferred_ && per_sample != known_size_) {
      throw shape_error(detail::concat(this->describe(), ": cannot reshape input of shape ", input.to_string(),
                                       " to target shape ", target_string(), ": a sample holds ", per_sample,
                                       " values, the target shape ", known_size_));
    }
    if (inferred_ && per_sample % known_size_ != 0) {
      throw shape_error(detail::concat(this->describe(), ": cannot reshape input of shape ", input.to_string(),
                                       " to target shape ", target_string(), ": a sample holds ", per_sample,
                                       " values, which is not a multiple of ", known_size_));
    }
    Shape out{input[0]};
    for (Index d : target_shape_) out.push_back(d == -1 ? per_sample / known_size_ : d);
    return out;
  }

  /// Low-level call on raw row-major memory: a copy of the values (none when output == input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    this->forward_copy(input, input_shape, output, output_size);
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' Reshape does not support masking: a mask stops here.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Keras config: target_shape (the inferred entry is -1 in Keras, null in TF.js).
  static Reshape from_config(const LayerConfig<T>& config) {
    return Reshape(config.integers("target_shape"), ReshapeOptions().name(config.name()));
  }

 private:
  // The target shape in Python notation, -1 included: "(3, -1)", "(12,)", "()".
  std::string target_string() const {
    std::string s = "(";
    for (std::size_t i = 0; i < target_shape_.size(); ++i) {
      if (i > 0) s += ", ";
      s += std::to_string(target_shape_[i]);
    }
    if (target_shape_.size() == 1) s += ",";
    return s + ")";
  }

  std::vector<Index> target_shape_;
  std::string name_;
  Index known_size_ = 1;  // product of the entries other than -1
  bool inferred_ = false;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Reshape)

#endif  // STRATA_LAYERS_RESHAPE_HPP
