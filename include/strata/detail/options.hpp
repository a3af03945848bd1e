// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_OPTIONS_HPP
#define STRATA_DETAIL_OPTIONS_HPP

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "../activations.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace detail {

/// The option every strata layer has: its Keras `name`, which appears in error messages. The base
/// of every layer's options class; setters return the derived type, so calls chain:
/// `FlattenOptions().name("flat")`.
template <class Derived>
class Options {
 public:
  /// Keras `name`; appears in error messages.
  Derived& name(std::string value) {
    name_ = std::move(value);
    return static_cast<Derived&>(*this);
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

/// The options of the layers with a kernel (Dense, the recurrent layers): `Options`' name plus
/// activation, use_bias, input_dim and seed. Setters return the derived options type, so calls
/// chain: `DenseOptions().activation("relu").use_bias(false)`.
template <class Derived>
class LayerOptions : public Options<Derived> {
 public:
  /// Keras `activation`. Names are checked when the layer is constructed.
  Derived& activation(std::string name) {
    activation_ = std::move(name);
    return self();
  }
  Derived& activation(Activation a) {
    activation_ = std::string(activation_name(a));
    return self();
  }
  /// Keras `use_bias`; default true.
  Derived& use_bias(bool on) {
    use_bias_ = on;
    return self();
  }
  /// Size of the input's last axis. When given, the layer is built (has weights) at construction;
  /// otherwise call build() or set_weights() first. 0 means "not given".
  Derived& input_dim(Index features) {
    input_dim_ = features;
    return self();
  }
  /// Seed of the initial weights; without one they are drawn from std::random_device.
  Derived& seed(std::uint64_t value) {
    seed_ = value;
    return self();
  }

  const std::string& activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }
  Index input_dim() const { return input_dim_; }
  std::optional<std::uint64_t> seed() const { return seed_; }

 protected:
  explicit LayerOptions(std::string default_activation) : activation_(std::move(default_activation)) {}

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  std::string activation_;
  bool use_bias_ = true;
  Index input_dim_ = 0;
  std::optional<std::uint64_t> seed_;
};

/// One size per spatial axis (kernel_size, strides, dilation_rate, output_padding).
template <int N>
using Spatial = std::array<Index, static_cast<std::size_t>(N)>;

template <int N>
Spatial<N> spatial_fill(Index v) {
  Spatial<N> s{};
  s.fill(v);
  return s;
}

/// The spatial options of the convolutions (Conv, ConvLSTM, the depthwise, separable and
/// transposed convolutions), on top of their other options `Base`: Keras' strides, padding,
/// dilation_rate and data_format, with Keras' defaults (1, "valid", 1, "channels_last"). Setters
/// taking one number use it on every spatial axis, as Keras does; each returns the derived
/// options type (CRTP), so calls chain: `ConvOptions<2>().strides(2).padding("same")`. The
/// values are checked when the layer is made.
template <class Derived, int N, class Base>
class SpatialOptions : public Base {
 public:
  using Sizes = Spatial<N>;

  /// Keras `strides`; default 1.
  Derived& strides(Index s) { return set(strides_, spatial_fill<N>(s)); }
  Derived& strides(const Sizes& s) { return set(strides_, s); }
  /// Keras `dilation_rate`; default 1.
  Derived& dilation_rate(Index d) { return set(dilation_rate_, spatial_fill<N>(d)); }
  Derived& dilation_rate(const Sizes& d) { return set(dilation_rate_, d); }
  /// Keras `padding`: "valid" (default), "same", or where the layer has it "causal".
  Derived& padding(std::string p) {
    padding_ = std::move(p);
    return static_cast<Derived&>(*this);
  }
  /// Keras `data_format`: only "channels_last" (the default) is implemented; others are refused.
  Derived& data_format(std::string f) {
    data_format_ = std::move(f);
    return static_cast<Derived&>(*this);
  }

  const Sizes& strides() const { return strides_; }
  const Sizes& dilation_rate() const { return dilation_rate_; }
  const std::string& padding() const { return padding_; }
  const std::string& data_format() const { return data_format_; }

 protected:
  /// The base's default activation.
  explicit SpatialOptions(std::string default_activation) : Base(std::move(default_activation)) {}

 private:
  Derived& set(Sizes& field, const Sizes& v) {
    field = v;
    return static_cast<Derived&>(*this);
  }

  Sizes strides_ = spatial_fill<N>(1);
  Sizes dilation_rate_ = spatial_fill<N>(1);
  std::string padding_ = "valid";
  std::string data_format_ = "channels_last";
};

/// Throws the value_error of a layer used before it has weights; `what` names the attempted
/// operation, `options_class` the options whose input_dim would have built it.
[[noreturn]] inline void throw_unbuilt(const std::string& who, const char* what, const char* options_class) {
  throw value_error(concat(who, ": ", what, " needs weights; pass ", options_class,
                           "().input_dim(features), or call build() or set_weights() first"));
}

/// A weight matrix's shape, checked to fit in an Index before anything is allocated (an
/// absurd config must be an error, not an overflow).
inline Shape weight_shape(Index rows, Index cols) {
  const Shape s{rows, cols};
  (void)s.size();
  return s;
}

/// The input size an unbuilt layer takes from the kernel given to set_weights: its row count.
template <class T>
Index features_from_kernel(const AnyTensor<T>& kernel, Index columns, const std::string& who) {
  const Shape k = kernel.shape();
  if (k.rank() != 2 || k[0] < 1) {
    throw shape_error(concat(who, ": weight 0 (kernel) must have shape (features, ", columns,
                             ") with features >= 1; got ",
                             kernel.empty() ? std::string("an empty tensor") : k.to_string()));
  }
  return k[0];
}

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_OPTIONS_HPP
