// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_MASKING_HPP
#define STRATA_LAYERS_MASKING_HPP

#include <string>
#include <type_traits>
#include <utility>

#include "../detail/layer.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"

namespace strata {

/// Options of Masking: the layer name.
class MaskingOptions {
 public:
  /// Keras `name`; appears in error messages.
  MaskingOptions& name(std::string value) {
    name_ = std::move(value);
    return *this;
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

/// Keras `Masking(mask_value)`: a time step whose features all equal mask_value is masked.
///
/// compute_mask(x) gives the (batch, time) mask -- true where any feature differs from
/// mask_value -- that LSTM, GRU, SimpleRNN and Bidirectional take. The output is x with masked
/// steps multiplied by 0, as Keras does (so they become 0). Input rank >= 2 for the output;
/// compute_mask needs rank 3 (batch, time, features), the masks strata's RNN layers use. No
/// weights and no state.
template <class T>
class Masking {
  static_assert(std::is_floating_point_v<T>, "strata::Masking: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "Masking";

  explicit Masking(T mask_value = T(0), const MaskingOptions& options = MaskingOptions())
      : mask_value_(mask_value), name_(options.name()) {}

  /// Keras `mask_value`.
  T mask_value() const { return mask_value_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  bool built() const { return true; }
  void build(Index /*features*/) {}
  /// Keras get_weights(): an empty list.
  Weights<T> get_weights() const { return {}; }
  /// Keras set_weights(): accepts only an empty list; throws shape_error otherwise.
  void set_weights(const Weights<T>& weights) { detail::check_no_weights(weights, describe()); }
  Index count_params() const { return 0; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }

  /// The input shape; throws shape_error below rank 2.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 2) {
      throw shape_error(detail::concat(describe(), ": input must have rank >= 2 (batch, ..., features); got shape ",
                                       input.to_string()));
    }
    (void)input.size();
    return input;
  }

  /// Low-level call: masked steps times 0, the others copied (output may equal input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    const Index f = input_shape[input_shape.rank() - 1];
    const Index rows = f == 0 ? 0 : output_size / f;
    for (Index r = 0; r < rows; ++r) {
      const T scale = kept(input + r * f, f) ? T(1) : T(0);
      for (Index j = 0; j < f; ++j) output[r * f + j] = input[r * f + j] * scale;
    }
  }

  /// Keras `masking(x)`.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, static_cast<int>(X::NumIndices)> operator()(const X& x) const {
    static_assert(X::NumIndices >= 2, "strata::Masking: the input must have rank 2 or more (batch, ..., features).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, x); }

  /// Keras compute_mask on (batch, time, features): true where a step has a feature != mask_value.
  template <class X>
  Mask compute_mask(const X& x) const {
    const auto [data, in] = detail::sequence_input<T, 3>(x, describe());
    return compute_mask(data, in);
  }
  /// The same on raw row-major memory; throws shape_error unless the shape has rank 3.
  Mask compute_mask(const T* data, const Shape& in) const {
    if (in.rank() != 3) {
      throw shape_error(detail::concat(describe(), ": a mask is made from rank-3 input (batch, time, features); got ",
                                       in.to_string()));
    }
    Mask mask(in[0], in[1]);
    for (Index r = 0; r < in[0] * in[1]; ++r) mask.data()[r] = kept(data + r * in[2], in[2]);
    return mask;
  }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

 private:
  bool kept(const T* row, Index f) const {
    for (Index j = 0; j < f; ++j) {
      if (row[j] != mask_value_) return true;
    }
    return false;
  }

  T mask_value_;
  std::string name_;
};

}  // namespace strata

#endif  // STRATA_LAYERS_MASKING_HPP
