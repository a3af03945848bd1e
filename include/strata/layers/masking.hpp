// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_MASKING_HPP
#define STRATA_LAYERS_MASKING_HPP

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of Masking, set by chaining: `MaskingOptions().name("mask")`.
class MaskingOptions : public detail::Options<MaskingOptions> {};

/// Keras `Masking(mask_value)`: a time step whose features all equal mask_value is masked.
///
/// compute_mask(x) gives the (batch, time) mask -- true where any feature differs from
/// mask_value -- that LSTM, GRU, SimpleRNN and Bidirectional take. The output is x with masked
/// steps multiplied by 0, as Keras does (so they become 0). Input rank >= 2 for the output;
/// compute_mask needs rank 3 (batch, time, features), the masks strata's RNN layers use. No
/// weights and no state.
template <class T>
class Masking : public detail::WeightlessLayer<Masking<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Masking: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "Masking";

  explicit Masking(T mask_value = T(0), const MaskingOptions& options = MaskingOptions())
      : mask_value_(mask_value), name_(options.name()) {}

  /// Keras `mask_value`.
  T mask_value() const { return mask_value_; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }

  /// The input shape; throws shape_error below rank 2.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 2) {
      throw shape_error(detail::concat(
          this->describe(), ": input must have rank >= 2 (batch, ..., features); got shape ", input.to_string()));
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

  /// Keras compute_mask on (batch, time, features): true where a step has a feature != mask_value.
  template <class X>
  Mask compute_mask(const X& x) const {
    const auto [data, in] = detail::sequence_input<T, 3>(x, this->describe());
    return compute_mask(data, in);
  }
  /// The same on raw row-major memory; throws shape_error unless the shape has rank 3.
  Mask compute_mask(const T* data, const Shape& in) const {
    if (in.rank() != 3) {
      throw shape_error(detail::concat(
          this->describe(), ": a mask is made from rank-3 input (batch, time, features); got ", in.to_string()));
    }
    Mask mask(in[0], in[1]);
    for (Index r = 0; r < in[0] * in[1]; ++r) mask.data()[r] = kept(data + r * in[2], in[2]);
    return mask;
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: mask_value (default 0).
  static Masking from_config(const LayerConfig<T>& config) {
    return Masking(static_cast<T>(config.number("mask_value", 0.0)), MaskingOptions().name(config.name()));
  }
  /// Keras compute_mask: a mask of the input's rank minus one. strata's masks are (batch, time), so
  /// only a rank-3 input's can be used by a later layer; the graph refuses the others where a
  /// layer would take them.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& /*masks*/) const {
    return {detail::only_input(inputs, this->describe()).rank() - 1};
  }
  /// In a model graph: the output (written over a handed-over input), and its mask when the input
  /// is (batch, time, features).
  void call_graph(GraphCall<T>& call) const {
    if (call.inputs.size() != 1) {
      throw value_error(detail::concat(this->describe(), ": takes one input; it is given ", call.inputs.size()));
    }
    const GraphInput<T>& in = call.inputs[0];
    const Shape shape = in.tensor.shape();
    MaskPtr mask = shape.rank() == 3 ? std::make_shared<const Mask>(compute_mask(in.tensor.data(), shape)) : nullptr;
    if (in.owned != nullptr) {
      forward(in.owned->data(), shape, in.owned->data(), in.owned->size());
      call.outputs.push_back(std::move(*in.owned));
    } else {
      call.outputs.push_back(detail::call_any(*this, in.tensor));
    }
    call.masks.push_back(std::move(mask));
  }

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

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Masking)

#endif  // STRATA_LAYERS_MASKING_HPP
