// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_SPATIAL_HPP
#define STRATA_LAYERS_SPATIAL_HPP

// The spatial shape layers: ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D and
// SpatialDropout2D/3D.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../detail/spatial_layout.hpp"
#include "../layer_config.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of ZeroPadding*, Cropping*, UpSampling* and SpatialDropout*, set by chaining:
/// `SpatialOptions().data_format("channels_first").name("pad")`.
class SpatialOptions : public detail::Options<SpatialOptions> {
 public:
  /// Keras `data_format`: "channels_last" (default) or "channels_first".
  SpatialOptions& data_format(std::string value) {
    data_format_ = std::move(value);
    return *this;
  }
  /// Keras UpSampling2D `interpolation`: "nearest" (default) or "bilinear".
  SpatialOptions& interpolation(std::string value) {
    interpolation_ = std::move(value);
    return *this;
  }
  const std::string& data_format() const { return data_format_; }
  const std::string& interpolation() const { return interpolation_; }

 private:
  std::string data_format_ = "channels_last";
  std::string interpolation_ = "nearest";
};

/// What ZeroPadding and Cropping do with their (before, after) amounts.
enum class BorderMode {
  pad,  ///< ZeroPadding*: zeros added
  crop  ///< Cropping*: values removed
};

namespace detail {
template <int N, BorderMode B>
constexpr const char* border_class_name() {
  if constexpr (B == BorderMode::pad) {
    return N == 1 ? "ZeroPadding1D" : N == 2 ? "ZeroPadding2D" : "ZeroPadding3D";
  } else {
    return N == 1 ? "Cropping1D" : N == 2 ? "Cropping2D" : "Cropping3D";
  }
}

/// Per-axis (before, after) amounts from one value for all sides, one per axis, or pairs.
template <int N>
std::array<std::array<Index, 2>, 3> expand_sides(const std::vector<std::array<Index, 2>>& sides, const std::string& who,
                                                 const char* what) {
  if (sides.size() != 1 && sides.size() != static_cast<std::size_t>(N)) {
    throw value_error(concat(who, ": ", what, " must hold 1 or ", N, " (before, after) pairs; got ", sides.size()));
  }
  std::array<std::array<Index, 2>, 3> out{};
  for (int i = 0; i < N; ++i) {
    const auto& s = sides[sides.size() == 1 ? 0 : static_cast<std::size_t>(i)];
    if (s[0] < 0 || s[1] < 0) {
      throw value_error(concat(who, ": ", what, " must not be negative; got (", s[0], ", ", s[1], ")"));
    }
    out[static_cast<std::size_t>(3 - N + i)] = s;
  }
  return out;
}
}  // namespace detail

/// Keras `ZeroPadding1D/2D/3D` (B = pad) and `Cropping1D/2D/3D` (B = crop), N spatial axes: adds
/// zeros to, or removes values from, both ends of each spatial axis.
///
/// Input (batch, spatial..., channels), or (batch, channels, spatial...) with data_format
/// "channels_first"; each spatial size s becomes s + before + after (padding) or s - before -
/// after (cropping, which must leave at least 1: shape_error otherwise, as Keras' ValueError).
/// Amounts are given as Keras does: one (before, after) pair per axis, or one pair for all.
/// No weights, no state; a mask is dropped (Keras' padding and cropping layers do not support
/// masking). Use the aliases ZeroPadding2D<T>, Cropping1D<T> etc.
template <class T, int N, BorderMode B>
class Border : public detail::WeightlessLayer<Border<T, N, B>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Border: the scalar type must be float or double.");
  static_assert(N >= 1 && N <= 3, "strata::Border: 1, 2 or 3 spatial axes.");
  static constexpr const char* amount_name = B == BorderMode::pad ? "padding" : "cropping";

 public:
  static constexpr const char* class_name = detail::border_class_name<N, B>();

  /// Keras `ZeroPadding2D(padding=((top, bottom), (left, right)))`, `Cropping1D(cropping=(a, b))`
  /// and the like: one {before, after} pair per spatial axis, or one for every axis. Throws
  /// value_error for negative amounts or an unknown data_format.
  explicit Border(const std::vector<std::array<Index, 2>>& sides, const SpatialOptions& options = SpatialOptions())
      : name_(options.name()) {
    sides_ = detail::expand_sides<N>(sides, this->describe(), amount_name);
    channels_first_ = detail::spatial::is_channels_first(options.data_format(), this->describe());
  }
  /// The same amount on every side (Keras' int argument).
  explicit Border(Index amount, const SpatialOptions& options = SpatialOptions())
      : Border(std::vector<std::array<Index, 2>>{{amount, amount}}, options) {}

  /// Keras `padding` / `cropping` as (before, after) per spatial axis; `data_format`.
  std::vector<std::array<Index, 2>> sides() const { return {sides_.end() - N, sides_.end()}; }
  std::string data_format() const { return channels_first_ ? "channels_first" : "channels_last"; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank == N + 2 ? N + 2 : invalid_rank; }

  /// The padded or cropped shape; shape_error for another rank or a cropping that leaves nothing.
  Shape compute_output_shape(const Shape& input) const {
    detail::spatial::check_spatial_rank<N>(input, channels_first_, this->describe());
    const detail::spatial::SpatialView v = detail::spatial::spatial_view<N>(input, channels_first_);
    std::array<Index, 3> out = v.size;
    for (std::size_t a = 3 - N; a < 3; ++a) {
      const Index total = sides_[a][0] + sides_[a][1];
      if constexpr (B == BorderMode::pad) {
        out[a] = v.size[a] + total;
      } else {
        if (v.size[a] - total < 1) {
          throw shape_error(detail::concat(this->describe(), ": cropping (", sides_[a][0], ", ", sides_[a][1],
                                           ") leaves nothing of the input's ", v.size[a], " (spatial axis ",
                                           a - (3 - N), " of shape ", input.to_string(), ")"));
        }
        out[a] = v.size[a] - total;
      }
    }
    return detail::spatial::spatial_shape<N>(input, channels_first_, out);
  }

  /// Low-level call on raw row-major memory: each output row written once (zeros, then a copy of
  /// the input row's part).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    if (output_size == 0) return;
    const detail::spatial::SpatialView v = detail::spatial::spatial_view<N>(input_shape, channels_first_);
    const detail::spatial::SpatialView o = detail::spatial::spatial_view<N>(out_shape, channels_first_);
    const Index C = v.channels;
    const Index out_row = o.size[2] * C;
    const Index rows = v.images * o.size[0] * o.size[1];
    detail::parallel_rows(rows, detail::rows_worth_a_thread(static_cast<double>(out_row)), 1, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const Index oh = r % o.size[1], od = (r / o.size[1]) % o.size[0], img = r / (o.size[1] * o.size[0]);
        T* out = output + r * out_row;
        if constexpr (B == BorderMode::pad) {
          const Index d = od - sides_[0][0], h = oh - sides_[1][0];
          if (d < 0 || d >= v.size[0] || h < 0 || h >= v.size[1]) {
            std::fill(out, out + out_row, T(0));
            continue;
          }
          const T* x = input + ((img * v.size[0] + d) * v.size[1] + h) * v.size[2] * C;
          const Index front = sides_[2][0] * C, body = v.size[2] * C;
          std::fill(out, out + front, T(0));
          std::memcpy(out + front, x, static_cast<std::size_t>(body) * sizeof(T));
          std::fill(out + front + body, out + out_row, T(0));
        } else {
          const Index d = od + sides_[0][0], h = oh + sides_[1][0];
          const T* x = input + (((img * v.size[0] + d) * v.size[1] + h) * v.size[2] + sides_[2][0]) * C;
          std::memcpy(out, x, static_cast<std::size_t>(out_row) * sizeof(T));
        }
      }
    });
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' ZeroPadding and Cropping layers do not support masking: a mask stops here.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Keras config: padding / cropping (an integer, one per axis, or (before, after) pairs; Keras'
  /// defaults 1 for padding, 0 for cropping), data_format (null: channels_last; ZeroPadding1D
  /// and Cropping1D of older Keras versions have none).
  static Border from_config(const LayerConfig<T>& config) {
    const auto sides = detail::spatial::read_sides(config, amount_name, N, B == BorderMode::pad ? Index(1) : Index(0));
    return Border(sides, SpatialOptions().data_format(detail::spatial::read_data_format(config)).name(config.name()));
  }

 private:
  std::array<std::array<Index, 2>, 3> sides_{};
  bool channels_first_ = false;
  std::string name_;
};

/// Keras `ZeroPadding1D(padding=1)`: (batch, steps, channels) -> (batch, steps + a + b, channels).
template <class T>
using ZeroPadding1D = Border<T, 1, BorderMode::pad>;
/// Keras `ZeroPadding2D(padding=(1, 1))`.
template <class T>
using ZeroPadding2D = Border<T, 2, BorderMode::pad>;
/// Keras `ZeroPadding3D(padding=(1, 1, 1))`.
template <class T>
using ZeroPadding3D = Border<T, 3, BorderMode::pad>;
/// Keras `Cropping1D(cropping=(1, 1))`: (batch, steps, channels) -> (batch, steps - a - b, channels).
template <class T>
using Cropping1D = Border<T, 1, BorderMode::crop>;
/// Keras `Cropping2D(cropping=((0, 0), (0, 0)))`.
template <class T>
using Cropping2D = Border<T, 2, BorderMode::crop>;
/// Keras `Cropping3D(cropping=((1, 1), (1, 1), (1, 1)))`.
template <class T>
using Cropping3D = Border<T, 3, BorderMode::crop>;

namespace detail {
template <int N>
constexpr const char* upsampling_class_name() {
  return N == 1 ? "UpSampling1D" : N == 2 ? "UpSampling2D" : "UpSampling3D";
}
}  // namespace detail

/// Keras `UpSampling1D/2D/3D` (N spatial axes): each spatial size multiplied by its factor.
///
/// "nearest" (every layer; Keras repeats each value `size` times along each axis) or, for
/// UpSampling2D, "bilinear": Keras 3's `ops.image.resize`, TensorFlow's half-pixel rule -- output
/// position o reads input position (o + 0.5) / size - 0.5, clamped to the input, interpolated
/// linearly between its two neighbours on each axis. Input (batch, spatial..., channels), or
/// (batch, channels, spatial...) with data_format "channels_first" (UpSampling1D has none in
/// Keras: channels last). No weights, no state; a mask is dropped (Keras' upsampling layers do
/// not support masking). Use the aliases UpSampling2D<T> etc.
template <class T, int N>
class UpSampling : public detail::WeightlessLayer<UpSampling<T, N>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::UpSampling: the scalar type must be float or double.");
  static_assert(N >= 1 && N <= 3, "strata::UpSampling: 1, 2 or 3 spatial axes.");

 public:
  static constexpr const char* class_name = detail::upsampling_class_name<N>();

  /// Keras `UpSampling2D(size=(2, 2), interpolation="nearest")` and the like: one factor per
  /// spatial axis, or one for all. Throws value_error for factors < 1, an interpolation other
  /// than "nearest" (or "bilinear" for UpSampling2D), or an unknown data_format.
  explicit UpSampling(const std::vector<Index>& size = {2}, const SpatialOptions& options = SpatialOptions())
      : name_(options.name()) {
    if (size.size() != 1 && size.size() != static_cast<std::size_t>(N)) {
      throw value_error(detail::concat(this->describe(), ": size must hold 1 or ", N, " values; got ", size.size()));
    }
    for (int i = 0; i < N; ++i) {
      const Index s = size[size.size() == 1 ? 0 : static_cast<std::size_t>(i)];
      if (s < 1) throw value_error(detail::concat(this->describe(), ": size must be >= 1; got ", s));
      size_[static_cast<std::size_t>(3 - N + i)] = s;
    }
    channels_first_ = detail::spatial::is_channels_first(options.data_format(), this->describe());
    if (options.interpolation() == "bilinear" && N == 2) {
      bilinear_ = true;
    } else if (options.interpolation() != "nearest") {
      throw value_error(detail::concat(this->describe(), ": interpolation must be \"nearest\"",
                                       N == 2 ? " or \"bilinear\"" : "", "; got \"", options.interpolation(), "\""));
    }
  }

  /// Keras `size`, `interpolation`, `data_format`.
  std::vector<Index> size() const { return {size_.end() - N, size_.end()}; }
  std::string interpolation() const { return bilinear_ ? "bilinear" : "nearest"; }
  std::string data_format() const { return channels_first_ ? "channels_first" : "channels_last"; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank == N + 2 ? N + 2 : invalid_rank; }

  /// Each spatial size times its factor; shape_error for another rank.
  Shape compute_output_shape(const Shape& input) const {
    detail::spatial::check_spatial_rank<N>(input, channels_first_, this->describe());
    const detail::spatial::SpatialView v = detail::spatial::spatial_view<N>(input, channels_first_);
    std::array<Index, 3> out{};
    for (std::size_t a = 0; a < 3; ++a) out[a] = v.size[a] * size_[a];
    return detail::spatial::spatial_shape<N>(input, channels_first_, out);
  }

  /// Low-level call on raw row-major memory. Nearest: each output row built once from its input
  /// row, then copied for the repeats; bilinear: four input rows blended along the channels.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    if (output_size == 0) return;
    const detail::spatial::SpatialView v = detail::spatial::spatial_view<N>(input_shape, channels_first_);
    const detail::spatial::SpatialView o = detail::spatial::spatial_view<N>(out_shape, channels_first_);
    const Index C = v.channels;
    const Index out_row = o.size[2] * C;
    if (bilinear_) {
      forward_bilinear(input, v, o, output);
      return;
    }
    // One task per input row: it writes its size[0] * size[1] output rows.
    const Index rows = v.images * v.size[0] * v.size[1];
    const double cost = static_cast<double>(out_row * size_[0] * size_[1]);
    detail::parallel_rows(rows, detail::rows_worth_a_thread(cost), 1, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const Index h = r % v.size[1], d = (r / v.size[1]) % v.size[0], img = r / (v.size[1] * v.size[0]);
        const T* x = input + r * v.size[2] * C;
        T* first = output + ((img * o.size[0] + d * size_[0]) * o.size[1] + h * size_[1]) * out_row;
        T* out = first;
        for (Index w = 0; w < v.size[2]; ++w, x += C) {
          for (Index k = 0; k < size_[2]; ++k, out += C) std::memcpy(out, x, static_cast<std::size_t>(C) * sizeof(T));
        }
        for (Index i = 0; i < size_[0]; ++i) {
          for (Index j = 0; j < size_[1]; ++j) {
            T* row = first + (i * o.size[1] + j) * out_row;
            if (row != first) std::memcpy(row, first, static_cast<std::size_t>(out_row) * sizeof(T));
          }
        }
      }
    });
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' upsampling layers do not support masking: a mask stops here.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Keras config: size (an integer or one per axis; default 2), interpolation (UpSampling2D:
  /// "nearest" or "bilinear"; Keras 3's "bicubic", "lanczos3", "lanczos5" and "area" are refused
  /// as unsupported), data_format (null: channels_last).
  static UpSampling from_config(const LayerConfig<T>& config) {
    // Keras 1's UpSampling1D calls its factor `length`.
    const char* key = N == 1 ? config.spelling("size", "length") : "size";
    const std::vector<Index> size = detail::spatial::read_int_tuple(config, key, N, {2});
    SpatialOptions o;
    o.name(config.name()).data_format(detail::spatial::read_data_format(config));
    if constexpr (N == 2) {
      const std::string interpolation = config.string("interpolation", "nearest");
      if (interpolation != "nearest" && interpolation != "bilinear") {
        config.unsupported(detail::concat("interpolation '", interpolation,
                                          "' is not supported (strata has 'nearest' and 'bilinear')"));
      }
      o.interpolation(interpolation);
    }
    return UpSampling(size, o);
  }

 private:
  // TensorFlow's half-pixel bilinear resize (resize_bilinear with half_pixel_centers) for an
  // integer factor: output o of an axis of n inputs reads position (o + 0.5) / f - 0.5.
  struct Tap {
    Index lo, hi;
    T lerp;
  };
  static Tap tap(Index o, Index factor, Index n) {
    const double in = (static_cast<double>(o) + 0.5) / static_cast<double>(factor) - 0.5;
    const double fl = std::floor(in);
    Tap t;
    t.lo = std::max<Index>(static_cast<Index>(fl), 0);
    t.hi = std::min<Index>(static_cast<Index>(std::ceil(in)), n - 1);
    t.lerp = static_cast<T>(in - fl);
    return t;
  }
  void forward_bilinear(const T* input, const detail::spatial::SpatialView& v, const detail::spatial::SpatialView& o,
                        T* output) const {
    const Index C = v.channels, H = v.size[1], W = v.size[2];
    const Index rows = v.images * o.size[1];
    detail::parallel_rows(rows, detail::rows_worth_a_thread(static_cast<double>(o.size[2] * C * 8)), 1,
                          [&](Index r0, Index r1) {
                            for (Index r = r0; r < r1; ++r) {
                              const Index oh = r % o.size[1], img = r / o.size[1];
                              const Tap y = tap(oh, size_[1], H);
                              const T* top = input + (img * H + y.lo) * W * C;
                              const T* bottom = input + (img * H + y.hi) * W * C;
                              T* out = output + r * o.size[2] * C;
                              for (Index ow = 0; ow < o.size[2]; ++ow, out += C) {
                                const Tap x = tap(ow, size_[2], W);
                                const T *tl = top + x.lo * C, *tr = top + x.hi * C;
                                const T *bl = bottom + x.lo * C, *br = bottom + x.hi * C;
                                for (Index c = 0; c < C; ++c) {
                                  const T t = tl[c] + (tr[c] - tl[c]) * x.lerp;
                                  const T b = bl[c] + (br[c] - bl[c]) * x.lerp;
                                  out[c] = t + (b - t) * y.lerp;
                                }
                              }
                            }
                          });
  }

  std::array<Index, 3> size_{1, 1, 1};
  bool bilinear_ = false;
  bool channels_first_ = false;
  std::string name_;
};

/// Keras `UpSampling1D(size=2)`: (batch, steps, features) -> (batch, steps * size, features).
template <class T>
using UpSampling1D = UpSampling<T, 1>;
/// Keras `UpSampling2D(size=(2, 2), interpolation="nearest")`.
template <class T>
using UpSampling2D = UpSampling<T, 2>;
/// Keras `UpSampling3D(size=(2, 2, 2))`.
template <class T>
using UpSampling3D = UpSampling<T, 3>;

namespace detail {
template <int N>
constexpr const char* spatial_dropout_class_name() {
  return N == 2 ? "SpatialDropout2D" : "SpatialDropout3D";
}
}  // namespace detail

/// Keras `SpatialDropout2D(rate)` / `SpatialDropout3D(rate)` at inference: the identity on a
/// rank-4 / rank-5 input (in training Keras drops whole channels). rate must be in [0, 1].
/// No weights, no state; the mask passes on (Keras' Dropout, their base, supports masking).
/// SpatialDropout1D loads as Dropout (layers/dropout.hpp).
template <class T, int N>
class SpatialDropout : public detail::WeightlessLayer<SpatialDropout<T, N>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::SpatialDropout: the scalar type must be float or double.");
  static_assert(N == 2 || N == 3, "strata::SpatialDropout: 2 or 3 spatial axes.");

 public:
  static constexpr const char* class_name = detail::spatial_dropout_class_name<N>();

  /// Throws value_error unless 0 <= rate <= 1, or for an unknown data_format.
  explicit SpatialDropout(double rate, const SpatialOptions& options = SpatialOptions())
      : rate_(rate), name_(options.name()) {
    if (!(rate >= 0.0 && rate <= 1.0)) {
      throw value_error(detail::concat(this->describe(), ": rate must be in [0, 1]; got ", rate));
    }
    channels_first_ = detail::spatial::is_channels_first(options.data_format(), this->describe());
  }

  /// Keras `rate` (unused at inference), `data_format`.
  double rate() const { return rate_; }
  std::string data_format() const { return channels_first_ ? "channels_first" : "channels_last"; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank == N + 2 ? N + 2 : invalid_rank; }

  /// The input shape; shape_error for another rank (Keras' InputSpec(ndim=N + 2)).
  Shape compute_output_shape(const Shape& input) const {
    detail::spatial::check_spatial_rank<N>(input, channels_first_, this->describe());
    return input;
  }

  /// A copy of the values (none when output == input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    this->forward_copy(input, input_shape, output, output_size);
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  static constexpr MaskRule mask_rule = MaskRule::pass;
  static constexpr bool in_place = true;
  /// Keras config: rate, data_format (null: channels_last); seed and noise_shape act only in
  /// training.
  static SpatialDropout from_config(const LayerConfig<T>& config) {
    const double rate = config.number("rate", 0.0);
    if (!(rate >= 0.0 && rate <= 1.0)) config.invalid(detail::concat("rate must be in [0, 1]; got ", rate));
    return SpatialDropout(rate,
                          SpatialOptions().data_format(detail::spatial::read_data_format(config)).name(config.name()));
  }

 private:
  double rate_;
  bool channels_first_ = false;
  std::string name_;
};

/// Keras `SpatialDropout2D(rate)`: the identity at inference on (batch, rows, cols, channels).
template <class T>
using SpatialDropout2D = SpatialDropout<T, 2>;
/// Keras `SpatialDropout3D(rate)`: the identity at inference on (batch, d1, d2, d3, channels).
template <class T>
using SpatialDropout3D = SpatialDropout<T, 3>;

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(ZeroPadding1D)
STRATA_REGISTER_LAYER(ZeroPadding2D)
STRATA_REGISTER_LAYER(ZeroPadding3D)
STRATA_REGISTER_LAYER(Cropping1D)
STRATA_REGISTER_LAYER(Cropping2D)
STRATA_REGISTER_LAYER(Cropping3D)
STRATA_REGISTER_LAYER(UpSampling1D)
STRATA_REGISTER_LAYER(UpSampling2D)
STRATA_REGISTER_LAYER(UpSampling3D)
STRATA_REGISTER_LAYER(SpatialDropout2D)
STRATA_REGISTER_LAYER(SpatialDropout3D)

#endif  // STRATA_LAYERS_SPATIAL_HPP
