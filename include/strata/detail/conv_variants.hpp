// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_CONV_VARIANTS_HPP
#define STRATA_DETAIL_CONV_VARIANTS_HPP

// What the depthwise, separable and transposed convolutions share: their spatial options, Keras'
// output-size and padding rules for one axis, the config readers, the input checks, and the
// vectorised depthwise pass (channels are the contiguous axis, so a channel loop is a SIMD loop).

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cmath>
#include <new>
#include <string>
#include <vector>

#include "../activations.hpp"
#include "../layer_config.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"
#include "gemm.hpp"
#include "init.hpp"
#include "layer.hpp"
#include "options.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace detail {

/// "(3, 3)" or "(3,)" as Keras prints a tuple.
template <int N>
std::string spatial_string(const Spatial<N>& s) {
  std::string out = "(";
  for (int i = 0; i < N; ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(s[static_cast<std::size_t>(i)]);
  }
  return out + (N == 1 ? ",)" : ")");
}

inline Index dilated_kernel(Index k, Index d) { return (k - 1) * d + 1; }

/// Floor division for a possibly negative numerator (d > 0).
inline Index floor_div(Index a, Index d) { return a >= 0 ? a / d : -((-a + d - 1) / d); }

/// One spatial axis of a convolution: the output size and the zeros before and after the input
/// (Keras 3 / TensorFlow "same": total = max((out - 1) s + ke - n, 0), pad_before = total / 2,
/// the odd one after).
struct VariantAxis {
  Index out = 0;
  Index before = 0;
  Index after = 0;
};

inline VariantAxis variant_axis(Index n, Index k, Index s, Index d, bool same) {
  const Index ke = dilated_kernel(k, d);
  VariantAxis a;
  if (same) {
    a.out = (n + s - 1) / s;
    const Index total = std::max<Index>(0, (a.out - 1) * s + ke - n);
    a.before = total / 2;
  } else {
    a.out = (n - ke) / s + 1;  // the caller has checked n >= ke
  }
  // Zeros past the end the last window reads (valid: none; same: the odd pad on that side).
  a.after = std::max<Index>(0, (a.out - 1) * s + ke - n - a.before);
  return a;
}

/// One spatial axis of a transposed convolution, Keras 3's rules
/// (keras/src/backend/common/backend_utils.py: _get_output_shape_given_tf_padding and the JAX
/// padding it pairs with). out[o] sums x[i] W[k] over i s + k d - crop = o. `lo`/`hi` zeros before
/// and after the input let every output read every tap without bounds checks.
struct TransposeAxis {
  Index out = 0;
  Index crop = 0;
  Index lo = 0;
  Index hi = 0;
};

/// output_padding < 0 stands for Keras' None.
inline TransposeAxis transpose_axis(Index n, Index k, Index s, Index d, bool same, Index output_padding) {
  const Index ke = dilated_kernel(k, d);
  TransposeAxis a;
  Index left = 0;
  if (!same) {
    const Index op = output_padding < 0 ? std::max(ke, s) - ke : output_padding;
    left = ke - 1;
    a.out = (n - 1) * s + ke + op;
  } else {
    const Index pad_len = output_padding < 0 ? s + ke - 2 : ke + ke % 2 - 2 + output_padding;
    left = std::min(pad_len / 2 + pad_len % 2, ke - 1);
    a.out = output_padding < 0 ? n * s : (n - 1) * s + ke % 2 + output_padding;
  }
  a.crop = ke - 1 - left;
  a.lo = std::max<Index>(0, -floor_div(a.crop - (k - 1) * d, s));
  a.hi = std::max<Index>(0, floor_div(a.out - 1 + a.crop, s) - (n - 1));
  return a;
}

/// The options every convolution variant has besides LayerOptions' activation, use_bias,
/// input_dim (here: the input channels) and seed: Keras' strides, padding, dilation_rate and
/// data_format (SpatialOptions); activation "linear" by default.
template <class Derived, int N>
class ConvVariantOptions : public SpatialOptions<Derived, N, LayerOptions<Derived>> {
 protected:
  ConvVariantOptions() : SpatialOptions<Derived, N, LayerOptions<Derived>>("linear") {}
};

/// The checked spatial options of a layer (value_error, naming the layer, for what Keras refuses).
template <int N>
struct ConvSpec {
  Spatial<N> kernel{};
  Spatial<N> strides{};
  Spatial<N> dilation{};
  bool same = false;

  template <class Opt>
  static ConvSpec make(const Spatial<N>& kernel_size, const Opt& o, const std::string& who) {
    ConvSpec c;
    c.kernel = kernel_size;
    c.strides = o.strides();
    c.dilation = o.dilation_rate();
    const auto check_positive = [&](const Spatial<N>& v, const char* what) {
      for (Index x : v) {
        if (x < 1) throw value_error(concat(who, ": ", what, " must be at least 1; got ", spatial_string<N>(v)));
      }
    };
    check_positive(c.kernel, "kernel_size");
    check_positive(c.strides, "strides");
    check_positive(c.dilation, "dilation_rate");
    if (*std::max_element(c.strides.begin(), c.strides.end()) > 1 &&
        *std::max_element(c.dilation.begin(), c.dilation.end()) > 1) {
      throw value_error(
          concat(who, ": strides > 1 is not supported together with dilation_rate > 1 (as in Keras); got strides ",
                 spatial_string<N>(c.strides), " and dilation_rate ", spatial_string<N>(c.dilation)));
    }
    std::string p = o.padding();
    for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (p != "valid" && p != "same") {
      throw value_error(concat(who, ": padding must be 'valid' or 'same'; got '", o.padding(), "'"));
    }
    c.same = p == "same";
    if (o.data_format() != "channels_last") {
      throw value_error(concat(who, ": data_format '", o.data_format(),
                               "' is not supported; only 'channels_last' is (transpose the input to channels_last)"));
    }
    return c;
  }

  /// (batch, spatial..., channels) with the given channel count, and every axis long enough for
  /// the dilated kernel under valid padding; shape_error naming the layer otherwise.
  void check_input(const Shape& x, Index channels, const std::string& who) const {
    std::string expected = "(batch";
    for (int i = 0; i < N; ++i) expected += ", " + std::string(N == 1 ? "steps" : (i == 0 ? "rows" : "cols"));
    expected += concat(", channels=", channels, ")");
    if (x.rank() != N + 2 || x.back() != channels) {
      throw shape_error(concat(who, ": input must have rank ", N + 2, " ", expected, "; got shape ", x.to_string()));
    }
    for (int i = 0; i < N; ++i) {
      const auto a = static_cast<std::size_t>(i);
      const Index n = x[i + 1];
      if (n < 1) throw shape_error(concat(who, ": input axis ", i + 1, " is empty; got shape ", x.to_string()));
      const Index ke = dilated_kernel(kernel[a], dilation[a]);
      if (!same && n < ke) {
        throw shape_error(concat(who, ": input axis ", i + 1, " has size ", n, ", shorter than the dilated kernel ", ke,
                                 " (kernel_size ", kernel[a], ", dilation_rate ", dilation[a],
                                 ") with padding 'valid'; got shape ", x.to_string()));
      }
    }
  }

  std::string describe_options() const {
    return concat("kernel_size ", spatial_string<N>(kernel), ", strides ", spatial_string<N>(strides),
                  ", dilation_rate ", spatial_string<N>(dilation), ", padding '", same ? "same" : "valid", "'");
  }
};

// --- config readers

/// A spatial option: an integer (all axes), a list of N integers (or one), or missing (fallback).
template <int N, class T>
Spatial<N> spatial_config(const LayerConfig<T>& config, const char* key, Index fallback, Index lo) {
  Spatial<N> out = spatial_fill<N>(fallback);
  if (!config.has(key)) return out;
  if (config.get(key).is_number()) {
    out.fill(config.integer(key, lo));
    return out;
  }
  const std::vector<Index> v = config.integers(key);
  if (v.size() != 1 && v.size() != static_cast<std::size_t>(N)) {
    config.invalid(
        concat("option '", key, "' must hold ", N, " integer", N == 1 ? "" : "s", "; got ", config.get(key).dump()));
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i) {
    out[i] = v.size() == 1 ? v[0] : v[i];
    if (out[i] < lo)
      config.invalid(concat("option '", key, "' must be at least ", lo, "; got ", config.get(key).dump()));
  }
  return out;
}

/// Reads strides, padding, dilation_rate, data_format, activation and use_bias into options;
/// 'causal' padding and channels_first are refused as unsupported.
template <int N, class T, class Opt>
Opt& conv_variant_config(const LayerConfig<T>& config, Opt& o) {
  std::string padding = config.string("padding", "valid");
  for (char& ch : padding) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (padding == "causal") config.unsupported("padding 'causal' is not supported by this layer (Keras refuses it too)");
  if (padding != "valid" && padding != "same") {
    config.invalid(concat("option 'padding' must be 'valid' or 'same'; got '", padding, "'"));
  }
  const std::string format = config.string("data_format", "channels_last");
  if (format != "channels_last") {
    config.unsupported(concat("data_format '", format, "' is not supported; only 'channels_last' is"));
  }
  o.strides(spatial_config<N>(config, "strides", 1, 1))
      .dilation_rate(spatial_config<N>(config, "dilation_rate", 1, 1))
      .padding(padding)
      .activation(config.activation("activation", "linear"))
      .use_bias(config.boolean("use_bias", true))
      .name(config.name());
  return o;
}

/// Builds a layer from its config, turning the constructor's value_error (an option Keras refuses)
/// into the loader's model_error naming the file and layer.
template <class L, class T, class F>
L construct_from_config(const LayerConfig<T>& config, F&& make) {
  try {
    return make();
  } catch (const value_error& e) {
    config.invalid(e.what());
  }
}

// --- weights

/// Keras glorot_uniform on a conv kernel: fan_in = receptive field * shape[-2], fan_out =
/// receptive field * shape[-1] (keras.initializers compute_fans).
template <class T>
void glorot_uniform_conv(T* data, Index count, Index fan_in, Index fan_out, Generator& gen) {
  const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  for (Index i = 0; i < count; ++i) data[i] = static_cast<T>((2.0 * gen.uniform() - 1.0) * limit);
}

/// A weight shape, checked to fit in an Index before anything is allocated.
inline Shape checked_shape(Shape s) {
  (void)s.size();
  return s;
}

// --- kernels

/// Runs f(first, last) over [0, rows) like parallel_rows, for a body that may allocate: a
/// bad_alloc inside a thread is caught and rethrown on the calling thread afterwards.
template <class F>
void parallel_rows_alloc(Index rows, Index grain, F&& f) {
  std::atomic<bool> failed{false};
  parallel_rows(rows, grain, 1, [&](Index r0, Index r1) {
    try {
      f(r0, r1);
    } catch (...) {
      failed.store(true);
    }
  });
  if (failed.load()) throw std::bad_alloc();
}

/// out[j] = init[j] + sum over taps t (in order) of x[offset[t] + j] * w[t * width + j], for j <
/// width: one multiply-add chain per channel, a packet of channels at a time (the last packet
/// partial), so each value is computed by the same instructions wherever it sits.
template <class T>
inline void depthwise_taps(const T* x, const Index* offsets, Index taps, const T* w, const T* init, Index width,
                           T* out) {
  using Packet = typename GemmConfig<T>::Packet;
  constexpr Index P = packet_size<T>;
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  for (Index j = 0; j < width; j += P) {
    const Index count = std::min<Index>(P, width - j);
    Packet acc = init != nullptr ? load_first<T>(init + j, count) : pset1<Packet>(T(0));
    for (Index t = 0; t < taps; ++t) {
      acc = pmadd(load_first<T>(x + offsets[t] + j, count), load_first<T>(w + t * width + j, count), acc);
    }
    store_first(out + j, acc, count);
  }
}

/// The depthwise part of DepthwiseConv and SeparableConv on channels_last input (batch, rows, cols,
/// channels), 1-D layers as rows = 1: y (batch, out rows, out cols, channels * multiplier) =
/// init + the per-channel convolution, output channel c * multiplier + m from input channel c
/// (TensorFlow's order). kernel: (kh, kw, channels, multiplier), as Keras stores it.
template <class T>
struct DepthwisePass {
  Index batch, rows, cols, channels, multiplier;
  Index kh, kw, sh, sw, dh, dw;
  VariantAxis ah, aw;

  void run(const T* x, const T* kernel, const T* init, T* y, Activation activation) const {
    const Index width = channels * multiplier;
    // The input, zero-padded as the windows read it and each channel repeated multiplier times,
    // so that every window reads one contiguous run of width values per tap; a valid depthwise
    // conv with multiplier 1 reads the input in place.
    const Index hp = ah.before + rows + ah.after;
    const Index wp = aw.before + cols + aw.after;
    const bool copy = multiplier > 1 || hp != rows || wp != cols;
    std::vector<T> padded;
    const T* src = x;
    if (copy) {
      padded.assign(static_cast<std::size_t>(checked_shape(Shape{batch, hp, wp, width}).size()), T(0));
      for (Index b = 0; b < batch; ++b) {
        for (Index r = 0; r < rows; ++r) {
          for (Index c = 0; c < cols; ++c) {
            const T* in = x + ((b * rows + r) * cols + c) * channels;
            T* out = padded.data() + ((b * hp + r + ah.before) * wp + c + aw.before) * width;
            for (Index ch = 0; ch < channels; ++ch)
              std::fill(out + ch * multiplier, out + (ch + 1) * multiplier, in[ch]);
          }
        }
      }
      src = padded.data();
    }
    std::vector<Index> offsets(static_cast<std::size_t>(kh * kw));
    for (Index i = 0; i < kh; ++i) {
      for (Index j = 0; j < kw; ++j) offsets[static_cast<std::size_t>(i * kw + j)] = (i * dh * wp + j * dw) * width;
    }
    const Index out_rows = batch * ah.out;
    const double flops = 2.0 * static_cast<double>(aw.out * width * kh * kw);
    parallel_rows(out_rows, rows_worth_a_thread(flops), 1, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const Index b = r / ah.out, oh = r % ah.out;
        T* out = y + r * aw.out * width;
        for (Index ow = 0; ow < aw.out; ++ow) {
          const T* window = src + ((b * hp + oh * sh) * wp + ow * sw) * width;
          depthwise_taps(window, offsets.data(), kh * kw, kernel, init, width, out + ow * width);
        }
        apply_activation(activation, out, aw.out, width);
      }
    });
  }
};

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_CONV_VARIANTS_HPP
