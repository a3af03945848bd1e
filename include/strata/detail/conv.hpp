// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_CONV_HPP
#define STRATA_DETAIL_CONV_HPP

// The geometry of Keras' N-D convolutions (Conv1D/2D/3D, channels_last): output sizes, the zero
// padding before each axis for "valid", "same" and "causal", the range of output positions whose
// window lies inside the input, and the checks Keras makes of its options and input sizes.

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>

#include "../error.hpp"
#include "../shape.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace detail {

/// Keras `padding` of a convolution.
enum class ConvPadding { valid, same, causal };

inline const char* conv_padding_name(ConvPadding p) {
  switch (p) {
    case ConvPadding::valid:
      return "valid";
    case ConvPadding::same:
      return "same";
    case ConvPadding::causal:
      return "causal";
  }
  return "?";
}

/// Keras' standardize_padding: case-insensitive; "causal" only where allowed (Conv1D).
inline std::optional<ConvPadding> parse_conv_padding(std::string name, bool allow_causal) {
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "valid") return ConvPadding::valid;
  if (name == "same") return ConvPadding::same;
  if (name == "causal" && allow_causal) return ConvPadding::causal;
  return std::nullopt;
}

/// Largest kernel size, stride or dilation accepted: keeps (k - 1) * d and o * s far from overflow.
inline constexpr Index conv_max_option = Index(1) << 24;

/// One spatial axis of a convolution at a given input size.
struct ConvAxis {
  Index in = 0;        // input size
  Index out = 0;       // output size
  Index kernel = 1;    // kernel size
  Index stride = 1;    // stride
  Index dilation = 1;  // dilation rate
  Index pad = 0;       // zero padding before the first input position
  Index lo = 0;        // output positions [lo, hi) read only real input (no padding)
  Index hi = 0;

  /// The dilated kernel's extent, (kernel - 1) * dilation + 1.
  Index span() const { return (kernel - 1) * dilation + 1; }
  /// Whether output position o's window lies inside the input.
  bool interior(Index o) const { return o >= lo && o < hi; }
};

/// The axis of input size `in`. Output sizes are Keras 3's compute_conv_output_shape:
/// valid: floor((in - span) / s) + 1; same and causal: floor((in - 1) / s) + 1 (ceil(in / s)).
/// Padding before: valid 0; causal span - 1 (Conv1D pads d (k - 1) zeros on the left and then
/// runs a valid convolution); same: TensorFlow's and XLA's SAME rule, which Keras 3's TF and JAX
/// backends use: total = max((out - 1) s + span - in, 0), before = floor(total / 2), the odd one
/// after. A valid axis shorter than the span (output < 1) is left with out = 0 for the caller to
/// refuse.
inline ConvAxis conv_axis(Index in, Index kernel, Index stride, Index dilation, ConvPadding padding) {
  ConvAxis a;
  a.in = in;
  a.kernel = kernel;
  a.stride = stride;
  a.dilation = dilation;
  const Index span = a.span();
  if (padding == ConvPadding::valid) {
    a.out = in >= span ? (in - span) / stride + 1 : 0;
    a.pad = 0;
  } else {
    a.out = in > 0 ? (in - 1) / stride + 1 : 0;
    if (padding == ConvPadding::causal) {
      a.pad = span - 1;
    } else {
      const Index total = a.out > 0 ? std::max<Index>((a.out - 1) * stride + span - in, 0) : 0;
      a.pad = total / 2;
    }
  }
  // o is interior when o s - pad >= 0 and o s - pad + span - 1 <= in - 1.
  a.lo = std::min(a.out, (a.pad + stride - 1) / stride);
  a.hi = in - span + a.pad >= 0 ? std::min(a.out, (in - span + a.pad) / stride + 1) : 0;
  if (a.hi < a.lo) a.hi = a.lo;
  return a;
}

/// "(3, 3)" for N values, "(3,)" for one, as Keras prints tuples.
template <std::size_t N>
std::string tuple_string(const std::array<Index, N>& v) {
  Shape s;
  for (Index x : v) s.push_back(x);
  return s.to_string();
}

/// Keras 1 convolutions' dim_ordering and border_mode (convolutional.py, convolutional_recurrent.py):
/// "tf" (channels last) only -- "th" puts the channels first, which strata's convolutions do not
/// implement --, and "valid" or "same" (Theano's "full" is refused). Returns the border mode; the
/// refusals are the config's unsupported_error.
template <class LayerConfigT>
std::string keras1_border_mode(const LayerConfigT& config) {
  const std::string ordering = config.string("dim_ordering", "tf");
  if (ordering != "tf") {
    config.unsupported(concat("dim_ordering '", ordering,
                              "' is not supported (only 'tf', channels last, is; 'th' puts the channels first, which "
                              "strata's convolutions do not implement)"));
  }
  std::string border = config.string("border_mode", "valid");
  if (border != "valid" && border != "same") {
    config.unsupported(concat("border_mode '", border, "' is not supported (strata has 'valid' and 'same')"));
  }
  return border;
}

/// Keras BaseConv.__init__'s checks: positive filters, kernel sizes, strides, dilations and
/// groups; filters divisible by groups; not strides > 1 together with dilation_rate > 1. Throws
/// value_error naming `who` and the values.
template <std::size_t N>
void check_conv_options(const std::string& who, Index filters, const std::array<Index, N>& kernel,
                        const std::array<Index, N>& strides, const std::array<Index, N>& dilation, Index groups) {
  if (filters < 1) throw value_error(concat(who, ": filters must be at least 1; got ", filters));
  if (groups < 1) throw value_error(concat(who, ": groups must be at least 1; got ", groups));
  if (filters % groups != 0) {
    throw value_error(concat(who, ": filters (", filters, ") must be divisible by groups (", groups, ")"));
  }
  const auto check = [&](const std::array<Index, N>& v, const char* what) {
    for (Index x : v) {
      if (x < 1 || x > conv_max_option) {
        throw value_error(
            concat(who, ": ", what, " must be between 1 and ", conv_max_option, "; got ", tuple_string(v)));
      }
    }
  };
  check(kernel, "kernel_size");
  check(strides, "strides");
  check(dilation, "dilation_rate");
  Index max_stride = 1, max_dilation = 1;
  for (std::size_t i = 0; i < N; ++i) {
    max_stride = std::max(max_stride, strides[i]);
    max_dilation = std::max(max_dilation, dilation[i]);
  }
  if (max_stride > 1 && max_dilation > 1) {
    throw value_error(concat(who,
                             ": strides > 1 together with dilation_rate > 1 is not supported (as in Keras); got "
                             "strides=",
                             tuple_string(strides), " and dilation_rate=", tuple_string(dilation)));
  }
}

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_CONV_HPP
