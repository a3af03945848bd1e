// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_SPATIAL_LAYOUT_HPP
#define STRATA_DETAIL_SPATIAL_LAYOUT_HPP

// What the pooling, padding, cropping and upsampling layers share: Keras' data_format, the
// (batch, spatial..., channels) view every kernel works on, and the config readers of Keras'
// int-or-tuple arguments.

#include <array>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../layer_config.hpp"
#include "../shape.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail::spatial {

/// A tensor of rank N + 2 seen as `images` images of up to three spatial axes (missing leading
/// axes have size 1) with `channels` contiguous values per position. channels_first becomes
/// batch * channels images of one channel each: every channel plane is an image of its own.
struct SpatialView {
  Index images = 0;
  Index channels = 0;
  std::array<Index, 3> size{1, 1, 1};
};

/// The view of `input` (rank N + 2, checked by the caller).
template <int N>
SpatialView spatial_view(const Shape& input, bool channels_first) {
  SpatialView v;
  const int first = !channels_first ? 1 : 2;
  for (int i = 0; i < N; ++i) v.size[static_cast<std::size_t>(3 - N + i)] = input[first + i];
  if (!channels_first) {
    v.images = input[0];
    v.channels = input[N + 1];
  } else {
    v.images = input[0] * input[1];
    v.channels = 1;
  }
  return v;
}

/// The shape (batch, out..., channels) or (batch, channels, out...) for the input's batch and
/// channels and the spatial sizes `out` (N of them).
template <int N>
Shape spatial_shape(const Shape& input, bool channels_first, const std::array<Index, 3>& out) {
  Shape s{input[0]};
  if (channels_first) s.push_back(input[1]);
  for (int i = 0; i < N; ++i) s.push_back(out[static_cast<std::size_t>(3 - N + i)]);
  if (!channels_first) s.push_back(input[N + 1]);
  return s;
}

/// "(batch, steps, channels)" and the like, for messages.
template <int N>
const char* spatial_layout(bool channels_first) {
  static constexpr const char* last[] = {"(batch, steps, channels)", "(batch, rows, cols, channels)",
                                         "(batch, dim1, dim2, dim3, channels)"};
  static constexpr const char* first[] = {"(batch, channels, steps)", "(batch, channels, rows, cols)",
                                          "(batch, channels, dim1, dim2, dim3)"};
  return !channels_first ? last[N - 1] : first[N - 1];
}

/// Throws shape_error unless `input` has rank N + 2.
template <int N>
void check_spatial_rank(const Shape& input, bool channels_first, const std::string& who) {
  if (input.rank() != N + 2) {
    throw shape_error(concat(who, ": input must have rank ", N + 2, " ", spatial_layout<N>(channels_first),
                             "; got shape ", input.to_string()));
  }
}

/// Keras config `data_format` (Keras 3 writes it; null or missing: channels_last, Keras' default
/// image_data_format).
/// Keras 1 writes `dim_ordering` instead: "tf" (channels last) or "th" (channels first).
template <class T>
std::string read_data_format(const LayerConfig<T>& config) {
  if (config.keras_version().keras1() && config.has("dim_ordering")) {
    const std::string o = config.string("dim_ordering", "tf");
    if (o != "tf" && o != "th") config.invalid(concat("dim_ordering must be 'tf' or 'th'; got '", o, "'"));
    return o == "tf" ? "channels_last" : "channels_first";
  }
  const std::string f = config.string("data_format", "channels_last");
  if (f != "channels_last" && f != "channels_first") {
    config.invalid(concat("data_format must be 'channels_last' or 'channels_first'; got '", f, "'"));
  }
  return f;
}

/// Checks a data_format option given in C++; true for channels_first. Throws value_error naming
/// the layer for any other string.
inline bool is_channels_first(const std::string& data_format, const std::string& who) {
  if (data_format == "channels_last") return false;
  if (data_format == "channels_first") return true;
  throw value_error(
      concat(who, ": data_format must be \"channels_last\" or \"channels_first\"; got \"", data_format, "\""));
}

/// A Keras int-or-tuple argument of n integers (pool_size, strides, size): an integer (repeated n
/// times) or a list of n integers, each in [lo, hi]; `fallback` when missing or null.
template <class T>
std::vector<Index> read_int_tuple(const LayerConfig<T>& config, const char* key, int n, std::vector<Index> fallback,
                                  Index lo = 1) {
  if (!config.has(key)) return fallback;
  const Config& v = config.get(key);
  std::vector<Index> out;
  if (v.is_list() && v.as_list().size() == static_cast<std::size_t>(n)) {
    for (const Config& e : v.as_list()) {
      if (!e.is_integer()) break;
      out.push_back(static_cast<Index>(e.as_integer()));
    }
  } else if (v.is_integer()) {
    out.assign(static_cast<std::size_t>(n), static_cast<Index>(v.as_integer()));
  }
  if (out.size() != static_cast<std::size_t>(n)) {
    throw io_error(concat(config.who(), ": option '", key, "' must be an integer or a list of ", n, " integers; got ",
                          v.dump().substr(0, 200)));
  }
  for (Index x : out) {
    if (x < lo) config.invalid(concat("option '", key, "' must hold integers >= ", lo, "; got ", v.dump()));
  }
  return out;
}

/// A Keras padding/cropping argument of N axes as (before, after) pairs: an integer (every side),
/// a list of N integers (both sides of each axis), a list of N pairs, or for N == 1 one pair.
/// Keras 1's ZeroPadding1D/2D also took a dict ({"left_pad", "right_pad"} / {"top_pad",
/// "bottom_pad", "left_pad", "right_pad"}, missing sides 0) and ZeroPadding2D a flat list
/// (top, bottom, left, right).
template <class T>
std::vector<std::array<Index, 2>> read_sides(const LayerConfig<T>& config, const char* key, int n, Index fallback) {
  std::vector<std::array<Index, 2>> out;
  if (!config.has(key)) return std::vector<std::array<Index, 2>>(static_cast<std::size_t>(n), {fallback, fallback});
  const Config& v = config.get(key);
  bool ok = true;
  const bool keras1 = config.keras_version().keras1();
  if (keras1 && v.is_dict() && (n == 1 || n == 2)) {
    static const char* const names[2][4] = {{"left_pad", "right_pad", "", ""},
                                            {"top_pad", "bottom_pad", "left_pad", "right_pad"}};
    std::size_t known = 0;
    for (int k = 0; k < 2 * n; ++k) {
      const Config* side = v.find(names[n - 1][k]);
      if (side != nullptr) ++known;
      if (side != nullptr && !side->is_integer()) ok = false;
      if (k % 2 == 0) out.push_back({0, 0});
      if (side != nullptr && side->is_integer()) out.back()[k % 2] = static_cast<Index>(side->as_integer());
    }
    if (known != v.as_dict().size()) ok = false;
  } else if (keras1 && n == 2 && v.is_list() && v.as_list().size() == 4) {
    for (const Config& e : v.as_list()) ok = ok && e.is_integer();
    if (ok) {
      const auto& l = v.as_list();
      out = {{static_cast<Index>(l[0].as_integer()), static_cast<Index>(l[1].as_integer())},
             {static_cast<Index>(l[2].as_integer()), static_cast<Index>(l[3].as_integer())}};
    }
  } else if (v.is_integer()) {
    out.assign(static_cast<std::size_t>(n), {static_cast<Index>(v.as_integer()), static_cast<Index>(v.as_integer())});
  } else if (v.is_list()) {
    const auto& list = v.as_list();
    if (n == 1 && list.size() == 2 && list[0].is_integer() && list[1].is_integer()) {
      out.push_back({static_cast<Index>(list[0].as_integer()), static_cast<Index>(list[1].as_integer())});
    } else if (list.size() == static_cast<std::size_t>(n)) {
      for (const Config& e : list) {
        if (e.is_integer()) {
          out.push_back({static_cast<Index>(e.as_integer()), static_cast<Index>(e.as_integer())});
        } else if (e.is_list() && e.as_list().size() == 2 && e.as_list()[0].is_integer() &&
                   e.as_list()[1].is_integer()) {
          out.push_back(
              {static_cast<Index>(e.as_list()[0].as_integer()), static_cast<Index>(e.as_list()[1].as_integer())});
        } else {
          ok = false;
        }
      }
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  if (!ok) {
    throw io_error(concat(config.who(), ": option '", key, "' must be an integer, a list of ", n,
                          " integers or a list of ", n, " (before, after) pairs; got ", v.dump().substr(0, 200)));
  }
  for (const auto& s : out) {
    if (s[0] < 0 || s[1] < 0) config.invalid(concat("option '", key, "' must not be negative; got ", v.dump()));
  }
  return out;
}

}  // namespace detail::spatial
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_SPATIAL_LAYOUT_HPP
