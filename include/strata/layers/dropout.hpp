// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_DROPOUT_HPP
#define STRATA_LAYERS_DROPOUT_HPP

#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "../detail/layer.hpp"
#include "../tensor.hpp"

namespace strata {

/// Options of Dropout, set by chaining: `DropoutOptions().name("drop")`.
class DropoutOptions {
 public:
  /// Keras `name`; appears in error messages.
  DropoutOptions& name(std::string value) {
    name_ = std::move(value);
    return *this;
  }

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

/// Keras `Dropout(rate)` at inference (`training=False`, what `predict` uses): the identity.
///
/// strata runs inference only, so the layer returns its input unchanged, any rank >= 1; it exists
/// so that a Keras model's layer list maps one to one. rate must be in [0, 1) (Keras 3 also accepts
/// 1, which drops everything in training). Keras' noise_shape and seed act only in training and
/// have no equivalent. No weights and no state.
template <class T>
class Dropout {
  static_assert(std::is_floating_point_v<T>, "strata::Dropout: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "Dropout";

  /// Throws value_error unless 0 <= rate < 1.
  explicit Dropout(double rate, const DropoutOptions& options = DropoutOptions()) : rate_(rate), name_(options.name()) {
    if (!(rate >= 0.0 && rate < 1.0)) {
      throw value_error(detail::concat(describe(), ": rate must be in [0, 1); got ", rate));
    }
  }

  /// Keras `rate`: the fraction of values dropped in training (unused at inference).
  double rate() const { return rate_; }
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

  /// The input shape itself; throws shape_error for rank 0.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          detail::concat(describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    (void)input.size();
    return input;
  }

  /// Low-level call on raw row-major memory: a copy of the values (none when output == input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    if (input != output && output_size > 0) {
      std::memmove(output, input, static_cast<std::size_t>(output_size) * sizeof(T));
    }
  }

  /// Keras `dropout(x, training=False)` on a Tensor or TensorMap of rank >= 1: a copy of x.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, static_cast<int>(X::NumIndices)> operator()(const X& x) const {
    static_assert(X::NumIndices >= 1, "strata::Dropout: the input must have rank 1 or more (batch, ...).");
    return detail::call_tensor(*this, x);
  }
  /// The same on a tensor of run-time rank.
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, x); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

 private:
  double rate_;
  std::string name_;
};

}  // namespace strata

#endif  // STRATA_LAYERS_DROPOUT_HPP
