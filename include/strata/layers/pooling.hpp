// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_POOLING_HPP
#define STRATA_LAYERS_POOLING_HPP

#include <algorithm>
#include <array>
#include <string>
#include <type_traits>
#include <vector>

#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../detail/spatial_layout.hpp"
#include "../layer_config.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Which reduction a pooling layer applies over its windows.
enum class PoolMode {
  max,     ///< MaxPooling*, GlobalMaxPooling*
  average  ///< AveragePooling*, GlobalAveragePooling*
};

/// Options of MaxPooling1D/2D/3D and AveragePooling1D/2D/3D, set by chaining:
/// `PoolingOptions().strides({1, 1}).padding("same")`.
class PoolingOptions : public detail::Options<PoolingOptions> {
 public:
  /// Keras `strides`; empty (Keras' None, the default) means pool_size. One value per spatial
  /// axis, or one value for all of them.
  PoolingOptions& strides(std::vector<Index> value) {
    strides_ = std::move(value);
    return *this;
  }
  /// Keras `padding`: "valid" (default, windows inside the input) or "same" (output size
  /// ceil(input / stride), the input padded evenly, one more at the end when odd).
  PoolingOptions& padding(std::string value) {
    padding_ = std::move(value);
    return *this;
  }
  /// Keras `data_format`: "channels_last" (default) or "channels_first".
  PoolingOptions& data_format(std::string value) {
    data_format_ = std::move(value);
    return *this;
  }
  const std::vector<Index>& strides() const { return strides_; }
  const std::string& padding() const { return padding_; }
  const std::string& data_format() const { return data_format_; }

 private:
  std::vector<Index> strides_;
  std::string padding_ = "valid";
  std::string data_format_ = "channels_last";
};

namespace detail {
template <int N, PoolMode M>
constexpr const char* pooling_class_name() {
  if constexpr (M == PoolMode::max) {
    return N == 1 ? "MaxPooling1D" : N == 2 ? "MaxPooling2D" : "MaxPooling3D";
  } else {
    return N == 1 ? "AveragePooling1D" : N == 2 ? "AveragePooling2D" : "AveragePooling3D";
  }
}
}  // namespace detail

/// Keras `MaxPooling1D/2D/3D` and `AveragePooling1D/2D/3D` (N spatial axes): the maximum or the
/// mean of each pool_size window, windows `strides` apart.
///
/// Input (batch, spatial..., channels), or (batch, channels, spatial...) with data_format
/// "channels_first"; output the same with each spatial size s turned into
/// floor((s - pool) / stride) + 1 ("valid"; at least 1, else shape_error) or ceil(s / stride)
/// ("same", TensorFlow's rule: the padding total max((out - 1) * stride + pool - s, 0), its
/// smaller half in front). With "same", a window's padded positions take no part: the maximum
/// is over the input values in it, and the average divides by their count (as TensorFlow's
/// avg_pool, which Keras 3 uses). No weights, no state; a mask is dropped (Keras' pooling layers
/// do not support masking). Use the aliases MaxPooling2D<T> etc.
template <class T, int N, PoolMode M>
class Pooling : public detail::WeightlessLayer<Pooling<T, N, M>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Pooling: the scalar type must be float or double.");
  static_assert(N >= 1 && N <= 3, "strata::Pooling: 1, 2 or 3 spatial axes.");

 public:
  static constexpr const char* class_name = detail::pooling_class_name<N, M>();

  /// Keras `MaxPooling2D(pool_size, strides=None, padding="valid", data_format=None)` and the
  /// like. pool_size holds one size per spatial axis, or one for all. Throws value_error for sizes
  /// or strides < 1, a padding other than "valid"/"same" or an unknown data_format.
  explicit Pooling(std::vector<Index> pool_size, const PoolingOptions& options = PoolingOptions())
      : name_(options.name()) {
    pool_ = expand(pool_size, "pool_size");
    stride_ = options.strides().empty() ? pool_ : expand(options.strides(), "strides");
    if (options.padding() != "valid" && options.padding() != "same") {
      throw value_error(
          detail::concat(this->describe(), ": padding must be \"valid\" or \"same\"; got \"", options.padding(), "\""));
    }
    same_ = options.padding() == "same";
    channels_first_ = detail::spatial::is_channels_first(options.data_format(), this->describe());
  }
  /// Keras' default pool_size of 2 on every axis.
  Pooling() : Pooling(std::vector<Index>{2}) {}

  /// Keras `pool_size`, `strides`, `padding`, `data_format`.
  std::vector<Index> pool_size() const { return {pool_.end() - N, pool_.end()}; }
  std::vector<Index> strides() const { return {stride_.end() - N, stride_.end()}; }
  std::string padding() const { return same_ ? "same" : "valid"; }
  std::string data_format() const { return channels_first_ ? "channels_first" : "channels_last"; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank == N + 2 ? N + 2 : invalid_rank; }

  /// The pooled shape; shape_error for another rank, or a window bigger than the input with
  /// "valid" padding.
  Shape compute_output_shape(const Shape& input) const {
    detail::spatial::check_spatial_rank<N>(input, channels_first_, this->describe());
    const detail::spatial::SpatialView v = detail::spatial::spatial_view<N>(input, channels_first_);
    std::array<Index, 3> out{1, 1, 1};
    for (std::size_t a = 3 - N; a < 3; ++a) {
      if (same_) {
        out[a] = (v.size[a] + stride_[a] - 1) / stride_[a];
      } else {
        if (v.size[a] < pool_[a]) {
          throw shape_error(detail::concat(this->describe(), ": pool_size ", pool_[a], " is bigger than the input's ",
                                           v.size[a], " (spatial axis ", a - (3 - N), " of shape ", input.to_string(),
                                           ") with padding \"valid\": the output size would be < 1"));
        }
        out[a] = (v.size[a] - pool_[a]) / stride_[a] + 1;
      }
    }
    return detail::spatial::spatial_shape<N>(input, channels_first_, out);
  }

  /// Low-level call on raw row-major memory. One pass over each window's rows, along the
  /// contiguous channels; rows of the output split between threads (set_num_threads).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    if (output_size == 0) return;
    const detail::spatial::SpatialView v = detail::spatial::spatial_view<N>(input_shape, channels_first_);
    const detail::spatial::SpatialView o = detail::spatial::spatial_view<N>(out_shape, channels_first_);
    std::array<Index, 3> pad{0, 0, 0};
    if (same_) {
      for (std::size_t a = 0; a < 3; ++a) {
        pad[a] = std::max<Index>((o.size[a] - 1) * stride_[a] + pool_[a] - v.size[a], 0) / 2;
      }
    }
    const Index C = v.channels;
    const Index rows = v.images * o.size[0] * o.size[1];
    const double flops_per_row = static_cast<double>(o.size[2] * C * pool_[0] * pool_[1] * pool_[2]);
    detail::parallel_rows(rows, detail::rows_worth_a_thread(flops_per_row), 1, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const Index oh = r % o.size[1], od = (r / o.size[1]) % o.size[0], img = r / (o.size[1] * o.size[0]);
        const auto [d0, d1] = window(od, 0, v.size[0], pad[0]);
        const auto [h0, h1] = window(oh, 1, v.size[1], pad[1]);
        const T* image = input + img * v.size[0] * v.size[1] * v.size[2] * C;
        T* out = output + r * o.size[2] * C;
        for (Index ow = 0; ow < o.size[2]; ++ow, out += C) {
          const auto [w0, w1] = window(ow, 2, v.size[2], pad[2]);
          bool first = true;
          for (Index d = d0; d < d1; ++d) {
            for (Index h = h0; h < h1; ++h) {
              const T* x = image + ((d * v.size[1] + h) * v.size[2] + w0) * C;
              for (Index w = w0; w < w1; ++w, x += C) {
                if (first) {
                  std::copy(x, x + C, out);
                  first = false;
                } else if constexpr (M == PoolMode::max) {
                  for (Index c = 0; c < C; ++c) out[c] = out[c] < x[c] ? x[c] : out[c];
                } else {
                  for (Index c = 0; c < C; ++c) out[c] += x[c];
                }
              }
            }
          }
          if constexpr (M == PoolMode::average) {
            // TensorFlow's avg_pool divides by the count of input values in the window.
            const T count = static_cast<T>((d1 - d0) * (h1 - h0) * (w1 - w0));
            for (Index c = 0; c < C; ++c) out[c] /= count;
          }
        }
      }
    });
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' pooling layers do not support masking: a mask stops here.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Keras config: pool_size (an integer or a tuple; Keras 3's default 2), strides (null:
  /// pool_size), padding ("valid"/"same", either case), data_format (null: channels_last).
  ///
  /// Keras 1: pool_length and stride (1D) or pool_size and strides, border_mode, dim_ordering
  /// ("tf" channels last, "th" channels first).
  static Pooling from_config(const LayerConfig<T>& config) {
    const bool keras1 = config.keras_version().keras1();
    const char* pool_key = keras1 && N == 1 ? "pool_length" : "pool_size";
    const char* strides_key = keras1 && N == 1 ? "stride" : "strides";
    const std::vector<Index> pool = detail::spatial::read_int_tuple(config, pool_key, N, {2});
    PoolingOptions o;
    o.name(config.name());
    if (config.has(strides_key)) o.strides(detail::spatial::read_int_tuple(config, strides_key, N, {}));
    std::string padding = config.string(config.spelling("padding", "border_mode"), "valid");
    for (char& ch : padding) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    if (padding != "valid" && padding != "same") {
      config.invalid(detail::concat("padding must be 'valid' or 'same'; got '", padding, "'"));
    }
    if (padding == "same" && config.keras_version().theano_backend()) {
      config.unsupported(
          "'same' padding is not supported for a Theano-backend file: Keras' Theano backend padded pool_size - 1 "
          "or pool_size - 2 on both sides and then cropped, not TensorFlow's rule, which strata implements");
    }
    o.padding(padding).data_format(detail::spatial::read_data_format(config));
    return Pooling(pool, o);
  }

 private:
  // One size per spatial axis, right-aligned in three (the missing leading axes: size 1).
  std::array<Index, 3> expand(const std::vector<Index>& values, const char* what) const {
    if (values.size() != 1 && values.size() != static_cast<std::size_t>(N)) {
      throw value_error(
          detail::concat(this->describe(), ": ", what, " must hold 1 or ", N, " values; got ", values.size()));
    }
    std::array<Index, 3> out{1, 1, 1};
    for (int i = 0; i < N; ++i) {
      const Index x = values[values.size() == 1 ? 0 : static_cast<std::size_t>(i)];
      if (x < 1) throw value_error(detail::concat(this->describe(), ": ", what, " must be >= 1; got ", x));
      out[static_cast<std::size_t>(3 - N + i)] = x;
    }
    return out;
  }
  // The input range [first, last) of output position o along axis a: never empty.
  std::pair<Index, Index> window(Index o, std::size_t a, Index size, Index pad) const {
    const Index start = o * stride_[a] - pad;
    return {std::max<Index>(start, 0), std::min<Index>(start + pool_[a], size)};
  }

  std::array<Index, 3> pool_{1, 1, 1};
  std::array<Index, 3> stride_{1, 1, 1};
  bool same_ = false;
  bool channels_first_ = false;
  std::string name_;
};

/// Keras `MaxPooling1D`: (batch, steps, channels) -> (batch, pooled steps, channels).
template <class T>
using MaxPooling1D = Pooling<T, 1, PoolMode::max>;
/// Keras `MaxPooling2D`: (batch, rows, cols, channels) -> (batch, pooled rows, pooled cols, channels).
template <class T>
using MaxPooling2D = Pooling<T, 2, PoolMode::max>;
/// Keras `MaxPooling3D`: (batch, d1, d2, d3, channels) -> pooled d1, d2, d3.
template <class T>
using MaxPooling3D = Pooling<T, 3, PoolMode::max>;
/// Keras `AveragePooling1D`.
template <class T>
using AveragePooling1D = Pooling<T, 1, PoolMode::average>;
/// Keras `AveragePooling2D`.
template <class T>
using AveragePooling2D = Pooling<T, 2, PoolMode::average>;
/// Keras `AveragePooling3D`.
template <class T>
using AveragePooling3D = Pooling<T, 3, PoolMode::average>;

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(MaxPooling1D)
STRATA_REGISTER_LAYER(MaxPooling2D)
STRATA_REGISTER_LAYER(MaxPooling3D)
STRATA_REGISTER_LAYER(AveragePooling1D)
STRATA_REGISTER_LAYER(AveragePooling2D)
STRATA_REGISTER_LAYER(AveragePooling3D)

#endif  // STRATA_LAYERS_POOLING_HPP
