// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_GLOBAL_POOLING_HPP
#define STRATA_LAYERS_GLOBAL_POOLING_HPP

#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../detail/spatial_layout.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"
#include "pooling.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of GlobalMaxPooling1D/2D/3D and GlobalAveragePooling1D/2D/3D, set by chaining:
/// `GlobalPoolingOptions().keepdims(true)`.
class GlobalPoolingOptions : public detail::Options<GlobalPoolingOptions> {
 public:
  /// Keras `keepdims` (default false): keep the spatial axes, of size 1.
  GlobalPoolingOptions& keepdims(bool on) {
    keepdims_ = on;
    return *this;
  }
  /// Keras `data_format`: "channels_last" (default) or "channels_first".
  GlobalPoolingOptions& data_format(std::string value) {
    data_format_ = std::move(value);
    return *this;
  }
  bool keepdims() const { return keepdims_; }
  const std::string& data_format() const { return data_format_; }

 private:
  bool keepdims_ = false;
  std::string data_format_ = "channels_last";
};

namespace detail {
template <int N, PoolMode M>
constexpr const char* global_pooling_class_name() {
  if constexpr (M == PoolMode::max) {
    return N == 1 ? "GlobalMaxPooling1D" : N == 2 ? "GlobalMaxPooling2D" : "GlobalMaxPooling3D";
  } else {
    return N == 1 ? "GlobalAveragePooling1D" : N == 2 ? "GlobalAveragePooling2D" : "GlobalAveragePooling3D";
  }
}
}  // namespace detail

/// Keras `GlobalMaxPooling1D/2D/3D` and `GlobalAveragePooling1D/2D/3D` (N spatial axes): the
/// maximum or the mean over all spatial positions, per channel.
///
/// (batch, spatial..., channels) -> (batch, channels), or with keepdims (batch, 1..., channels);
/// channels_first: (batch, channels, spatial...) -> (batch, channels) or (batch, channels, 1...).
/// Masks, as Keras 3: GlobalAveragePooling1D takes a (batch, steps) mask and averages only the
/// kept steps (a sample with no kept step gives 0 / 0 = NaN, as Keras); its output has no mask.
/// GlobalMaxPooling1D and the 2-D and 3-D layers do not support masking (Keras 3 passes them no
/// mask): a mask is ignored and stops there. No weights, no state. Use the aliases
/// GlobalAveragePooling1D<T> etc.
template <class T, int N, PoolMode M>
class GlobalPooling : public detail::WeightlessLayer<GlobalPooling<T, N, M>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::GlobalPooling: the scalar type must be float or double.");
  static_assert(N >= 1 && N <= 3, "strata::GlobalPooling: 1, 2 or 3 spatial axes.");
  static constexpr bool masked_average = N == 1 && M == PoolMode::average;

 public:
  static constexpr const char* class_name = detail::global_pooling_class_name<N, M>();

  /// Keras `GlobalAveragePooling2D(data_format=None, keepdims=False)` and the like. Throws
  /// value_error for an unknown data_format.
  explicit GlobalPooling(const GlobalPoolingOptions& options = GlobalPoolingOptions())
      : keepdims_(options.keepdims()), name_(options.name()) {
    channels_first_ = detail::spatial::is_channels_first(options.data_format(), this->describe());
  }

  /// Keras `keepdims`, `data_format`.
  bool keepdims() const { return keepdims_; }
  std::string data_format() const { return channels_first_ ? "channels_first" : "channels_last"; }
  const std::string& name() const { return name_; }

  /// Rank N + 2 only; the output rank depends on keepdims, so a typed call returns an AnyTensor.
  static constexpr int output_rank(int input_rank) { return input_rank == N + 2 ? dynamic_rank : invalid_rank; }

  /// (batch, channels), or (batch, 1..., channels) with keepdims; shape_error for another rank.
  Shape compute_output_shape(const Shape& input) const {
    detail::spatial::check_spatial_rank<N>(input, channels_first_, this->describe());
    const Index channels = channels_first_ ? input[1] : input[N + 1];
    if (!keepdims_) return Shape{input[0], channels};
    return detail::spatial::spatial_shape<N>(input, channels_first_, {1, 1, 1});
  }

  /// Low-level call on raw row-major memory, without a mask.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    forward(input, input_shape, nullptr, output, output_size);
  }

  /// The same with Keras' (batch, steps) mask (null: none). Only GlobalAveragePooling1D uses it;
  /// it must then have shape (batch, steps) (shape_error otherwise).
  void forward(const T* input, const Shape& input_shape, const Mask* mask, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    if constexpr (!masked_average) mask = nullptr;
    const Index batch = input_shape[0];
    const Index channels = channels_first_ ? input_shape[1] : input_shape[N + 1];
    const Index steps = input_shape.size() / std::max<Index>(batch * channels, 1);
    if (mask != nullptr) detail::check_mask(*mask, batch, steps, this->describe());
    if (output_size == 0) return;
    const double flops_per_row = static_cast<double>(steps * channels);
    detail::parallel_rows(batch, detail::rows_worth_a_thread(flops_per_row), 1, [&](Index b0, Index b1) {
      for (Index b = b0; b < b1; ++b) {
        const T* x = input + b * steps * channels;
        T* out = output + b * channels;
        const bool* kept = mask != nullptr ? mask->data() + b * steps : nullptr;
        if (channels_first_) {
          for (Index c = 0; c < channels; ++c) out[c] = reduce(x + c * steps, steps, kept);
        } else {
          reduce_rows(x, steps, channels, kept, out);
        }
      }
    });
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// GlobalAveragePooling1D supports masking but returns no mask (its compute_mask gives None);
  /// the others do not support it: no mask follows any of them.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// GlobalAveragePooling1D consumes a mask (TimeDistributed refuses to hand it one).
  static constexpr bool takes_mask = masked_average;
  /// In a model graph: GlobalAveragePooling1D averages the kept steps of a masked input.
  void call_graph(GraphCall<T>& call) const {
    if (call.inputs.size() != 1) {
      throw value_error(detail::concat(this->describe(), ": takes one input; it is given ", call.inputs.size()));
    }
    const GraphInput<T>& in = call.inputs[0];
    if (in.tensor.empty()) throw shape_error(detail::concat(this->describe(), ": the input tensor is empty"));
    AnyTensor<T> y = AnyTensor<T>::uninitialized(compute_output_shape(in.tensor.shape()));
    forward(in.tensor.data(), in.tensor.shape(), masked_average ? in.mask.get() : nullptr, y.data(), y.size());
    call.outputs.push_back(std::move(y));
    call.masks.push_back(MaskPtr());
  }
  /// Keras config: data_format (null: channels_last), keepdims (default false).
  static GlobalPooling from_config(const LayerConfig<T>& config) {
    return GlobalPooling(GlobalPoolingOptions()
                             .keepdims(config.boolean("keepdims", false))
                             .data_format(detail::spatial::read_data_format(config))
                             .name(config.name()));
  }

 private:
  // The reduction of n contiguous values (a channels_first plane), over the kept ones.
  static T reduce(const T* x, Index n, const bool* kept) {
    if constexpr (M == PoolMode::max) {
      T m = -std::numeric_limits<T>::infinity();
      for (Index i = 0; i < n; ++i) m = m < x[i] ? x[i] : m;
      return m;
    } else {
      T sum = 0;
      Index count = 0;
      for (Index i = 0; i < n; ++i) {
        if (kept == nullptr || kept[i]) {
          sum += x[i];
          ++count;
        }
      }
      return sum / static_cast<T>(count);
    }
  }
  // The reduction of n rows of `channels` values (channels_last), along the contiguous channels.
  static void reduce_rows(const T* x, Index n, Index channels, const bool* kept, T* out) {
    if constexpr (M == PoolMode::max) {
      std::fill(out, out + channels, -std::numeric_limits<T>::infinity());
      for (Index i = 0; i < n; ++i, x += channels) {
        for (Index c = 0; c < channels; ++c) out[c] = out[c] < x[c] ? x[c] : out[c];
      }
    } else {
      std::fill(out, out + channels, T(0));
      Index count = 0;
      for (Index i = 0; i < n; ++i, x += channels) {
        if (kept != nullptr && !kept[i]) continue;
        ++count;
        for (Index c = 0; c < channels; ++c) out[c] += x[c];
      }
      const T divisor = static_cast<T>(count);
      for (Index c = 0; c < channels; ++c) out[c] /= divisor;
    }
  }

  bool keepdims_ = false;
  bool channels_first_ = false;
  std::string name_;
};

/// Keras `GlobalMaxPooling1D`: (batch, steps, channels) -> (batch, channels).
template <class T>
using GlobalMaxPooling1D = GlobalPooling<T, 1, PoolMode::max>;
/// Keras `GlobalMaxPooling2D`: (batch, rows, cols, channels) -> (batch, channels).
template <class T>
using GlobalMaxPooling2D = GlobalPooling<T, 2, PoolMode::max>;
/// Keras `GlobalMaxPooling3D`: (batch, d1, d2, d3, channels) -> (batch, channels).
template <class T>
using GlobalMaxPooling3D = GlobalPooling<T, 3, PoolMode::max>;
/// Keras `GlobalAveragePooling1D`: (batch, steps, channels) -> (batch, channels); masks honoured.
template <class T>
using GlobalAveragePooling1D = GlobalPooling<T, 1, PoolMode::average>;
/// Keras `GlobalAveragePooling2D`.
template <class T>
using GlobalAveragePooling2D = GlobalPooling<T, 2, PoolMode::average>;
/// Keras `GlobalAveragePooling3D`.
template <class T>
using GlobalAveragePooling3D = GlobalPooling<T, 3, PoolMode::average>;

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(GlobalMaxPooling1D)
STRATA_REGISTER_LAYER(GlobalMaxPooling2D)
STRATA_REGISTER_LAYER(GlobalMaxPooling3D)
STRATA_REGISTER_LAYER(GlobalAveragePooling1D)
STRATA_REGISTER_LAYER(GlobalAveragePooling2D)
STRATA_REGISTER_LAYER(GlobalAveragePooling3D)

#endif  // STRATA_LAYERS_GLOBAL_POOLING_HPP
