// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_PERMUTE_HPP
#define STRATA_LAYERS_PERMUTE_HPP

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

/// Options of Permute, set by chaining: `PermuteOptions().name("swap")`.
class PermuteOptions : public detail::Options<PermuteOptions> {};

/// Keras `Permute(dims)`: reorders the non-batch axes, output axis i + 1 = input axis dims[i].
///
/// dims is 1-based and excludes the batch axis, as in Keras: `Permute({2, 1})` turns (batch, time,
/// features) into (batch, features, time). The input rank must be dims.size() + 1 (Keras' input
/// spec). Keras 3's Permute does not support masking, so a mask stops here. No weights and no state.
template <class T>
class Permute : public detail::WeightlessLayer<Permute<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Permute: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "Permute";

  /// Throws value_error unless dims is a permutation of 1..dims.size() with at most max_rank - 1
  /// entries.
  explicit Permute(std::vector<Index> dims, const PermuteOptions& options = PermuteOptions())
      : dims_(std::move(dims)), name_(options.name()) {
    std::vector<Index> sorted = dims_;
    std::sort(sorted.begin(), sorted.end());
    bool ok = !dims_.empty() && static_cast<int>(dims_.size()) <= max_rank - 1;
    for (std::size_t i = 0; ok && i < sorted.size(); ++i) ok = sorted[i] == static_cast<Index>(i) + 1;
    if (!ok) {
      throw value_error(detail::concat(this->describe(), ": dims ", dims_string(),
                                       " must be a permutation of 1..n (1-based, without the batch axis), n between 1 "
                                       "and ",
                                       max_rank - 1));
    }
  }

  /// Keras `dims` (1-based).
  const std::vector<Index>& dims() const { return dims_; }
  const std::string& name() const { return name_; }

  /// The rank is kept; the typed call checks it at run time against dims.
  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }

  /// (batch, d1, ..., dn) -> (batch, d_dims[0], ..., d_dims[n-1]); shape_error unless the rank is
  /// dims.size() + 1.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() != static_cast<int>(dims_.size()) + 1) {
      throw shape_error(detail::concat(this->describe(), ": input must have rank ", dims_.size() + 1,
                                       " (batch and the ", dims_.size(), " axes dims ", dims_string(),
                                       " permutes); got shape ", input.to_string()));
    }
    Shape out{input[0]};
    for (Index d : dims_) out.push_back(input[static_cast<int>(d)]);
    (void)out.size();
    return out;
  }

  /// Low-level call on raw row-major memory: the transposed values (output must not alias input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    if (output_size == 0) return;
    const int rank = input_shape.rank();
    // in_stride[k]: the input stride of output axis k.
    Index in_strides[max_rank] = {};
    Index stride = 1;
    for (int a = rank - 1; a >= 0; --a) {
      in_strides[a] = stride;
      stride *= input_shape[a];
    }
    Index in_stride_of_out[max_rank] = {};
    in_stride_of_out[0] = in_strides[0];
    for (int k = 1; k < rank; ++k) in_stride_of_out[k] = in_strides[dims_[static_cast<std::size_t>(k - 1)]];
    // Odometer over the output's outer axes; the innermost axis is one strided loop.
    const Index inner = out_shape[rank - 1];
    const Index inner_stride = in_stride_of_out[rank - 1];
    Index counter[max_rank] = {};
    Index offset = 0;
    for (Index o = 0; o < output_size; o += inner) {
      const T* src = input + offset;
      T* dst = output + o;
      for (Index j = 0; j < inner; ++j) dst[j] = src[j * inner_stride];
      for (int k = rank - 2; k >= 0; --k) {
        offset += in_stride_of_out[k];
        if (++counter[k] < out_shape[k]) break;
        offset -= in_stride_of_out[k] * out_shape[k];
        counter[k] = 0;
      }
    }
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras 3's Permute does not support masking: a mask stops here.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Keras config: dims (a list of 1-based axes).
  static Permute from_config(const LayerConfig<T>& config) {
    return Permute(config.integers("dims"), PermuteOptions().name(config.name()));
  }

 private:
  std::string dims_string() const {
    std::string s = "(";
    for (std::size_t i = 0; i < dims_.size(); ++i) {
      if (i > 0) s += ", ";
      s += std::to_string(dims_[i]);
    }
    if (dims_.size() == 1) s += ",";
    return s + ")";
  }

  std::vector<Index> dims_;
  std::string name_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Permute)

#endif  // STRATA_LAYERS_PERMUTE_HPP
