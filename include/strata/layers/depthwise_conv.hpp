// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_DEPTHWISE_CONV_HPP
#define STRATA_LAYERS_DEPTHWISE_CONV_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../activations.hpp"
#include "../detail/conv_variants.hpp"
#include "../detail/init.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of DepthwiseConv1D / DepthwiseConv2D, set by chaining:
/// `DepthwiseConv2DOptions().depth_multiplier(2).padding("same").activation("relu")`. Besides
/// depth_multiplier (default 1): strides, padding, dilation_rate, data_format
/// (detail::ConvVariantOptions), activation (default linear), use_bias, input_dim (the input
/// channels; builds the layer), seed and name (detail::LayerOptions).
template <int N>
class DepthwiseConvOptions : public detail::ConvVariantOptions<DepthwiseConvOptions<N>, N> {
 public:
  /// Keras `depth_multiplier`: output channels per input channel; default 1.
  DepthwiseConvOptions& depth_multiplier(Index m) {
    depth_multiplier_ = m;
    return *this;
  }
  Index depth_multiplier() const { return depth_multiplier_; }

 private:
  Index depth_multiplier_ = 1;
};
using DepthwiseConv1DOptions = DepthwiseConvOptions<1>;
using DepthwiseConv2DOptions = DepthwiseConvOptions<2>;

/// Keras `DepthwiseConv1D` (N = 1) and `DepthwiseConv2D` (N = 2), channels_last: each input
/// channel convolved with its own depth_multiplier kernels, nothing mixed across channels.
///
/// Input (batch, steps, channels) or (batch, rows, cols, channels); output (batch, out..., channels
/// * depth_multiplier), output channel c * depth_multiplier + m from input channel c. Out sizes as
/// Keras: valid ceil((n - ke + 1) / s), same ceil(n / s) with TensorFlow's padding (the odd zero
/// after), ke = (k - 1) * dilation + 1. Weights, as Keras' get_weights(): [depthwise_kernel
/// (k..., channels, depth_multiplier), bias (channels * depth_multiplier,)] (no bias without
/// use_bias). Initial weights: glorot_uniform kernel, zero bias.
template <class T, int N>
class DepthwiseConv {
  static_assert(std::is_floating_point_v<T>, "strata::DepthwiseConv: the scalar type must be float or double.");
  static_assert(N == 1 || N == 2, "strata::DepthwiseConv: only 1-D and 2-D depthwise convolutions exist.");

 public:
  using Scalar = T;
  using Options = DepthwiseConvOptions<N>;
  static constexpr const char* class_name = N == 1 ? "DepthwiseConv1D" : "DepthwiseConv2D";

  /// Throws value_error for a kernel size, stride, dilation or depth_multiplier below 1, strides
  /// and dilation both above 1, an unknown padding or activation, or channels_first.
  explicit DepthwiseConv(const detail::Spatial<N>& kernel_size, const Options& options = Options())
      : use_bias_(options.use_bias()), seed_(options.seed()), name_(options.name()) {
    spec_ = detail::ConvSpec<N>::make(kernel_size, options, describe());
    multiplier_ = options.depth_multiplier();
    if (multiplier_ < 1) {
      throw value_error(detail::concat(describe(), ": depth_multiplier must be at least 1; got ", multiplier_));
    }
    activation_ = parse_activation(options.activation(), describe());
    if (options.input_dim() < 0) {
      throw value_error(detail::concat(describe(), ": input_dim must be positive; got ", options.input_dim()));
    }
    if (options.input_dim() > 0) build(options.input_dim());
  }
  /// The same kernel size on every axis.
  explicit DepthwiseConv(Index kernel_size, const Options& options = Options())
      : DepthwiseConv(detail::spatial_fill<N>(kernel_size), options) {}

  const detail::Spatial<N>& kernel_size() const { return spec_.kernel; }
  const detail::Spatial<N>& strides() const { return spec_.strides; }
  const detail::Spatial<N>& dilation_rate() const { return spec_.dilation; }
  std::string padding() const { return spec_.same ? "same" : "valid"; }
  Index depth_multiplier() const { return multiplier_; }
  Activation activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }
  const std::string& name() const { return name_; }
  bool built() const { return channels_ > 0; }
  /// Input channels; 0 until built.
  Index input_dim() const { return channels_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  /// Keras build for inputs with `channels` channels: glorot_uniform kernel from the seed, zero bias.
  void build(Index channels) {
    if (channels < 1)
      throw value_error(detail::concat(describe(), ": input channels must be at least 1; got ", channels));
    Tensor<T, 1> kernel(kernel_shape(channels).size());
    auto gen = detail::Generator::from(seed_);
    const Index rf = receptive_field();
    detail::glorot_uniform_conv(kernel.data(), kernel.size(), rf * channels, rf * multiplier_, gen);
    Tensor<T, 1> bias(use_bias_ ? channels * multiplier_ : 0);
    bias.setZero();
    channels_ = channels;
    kernel_ = std::move(kernel);
    bias_ = std::move(bias);
  }

  /// Keras get_weights(): [depthwise_kernel (k..., channels, depth_multiplier), bias] or [kernel].
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w;
    w.push_back(AnyTensor<T>::from_values(kernel_shape(channels_),
                                          std::vector<T>(kernel_.data(), kernel_.data() + kernel_.size())));
    if (use_bias_) w.emplace_back(bias_);
    return w;
  }

  /// Keras set_weights(): the list get_weights() gives; builds an unbuilt layer (channels from the
  /// kernel). Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, weight_count(), describe(),
                               use_bias_ ? "depthwise_kernel, bias" : "depthwise_kernel");
    Index channels = channels_;
    if (!built()) {
      const Shape k = weights[0].shape();
      channels = k.rank() == N + 2 && k[N] >= 1 ? k[N] : 1;
    }
    const Shape ks = kernel_shape(channels);
    if (weights[0].shape() != ks) {
      throw shape_error(
          detail::concat(describe(), ": weight 0 (depthwise_kernel) must have shape ", ks.to_string(),
                         " (kernel_size..., input channels, depth_multiplier); got ",
                         weights[0].empty() ? std::string("an empty tensor") : weights[0].shape().to_string()));
    }
    Tensor<T, 1> kernel(ks.size());
    std::copy(weights[0].data(), weights[0].data() + ks.size(), kernel.data());
    Tensor<T, 1> bias(use_bias_ ? channels * multiplier_ : 0);
    if (use_bias_) bias = detail::check_weight<1>(weights[1], Shape{channels * multiplier_}, describe(), "bias", 1);
    channels_ = channels;
    kernel_ = std::move(kernel);
    bias_ = std::move(bias);
  }

  /// The bias, (channels * depth_multiplier,); empty without bias.
  const Tensor<T, 1>& bias() const { return bias_; }

  Index count_params() const {
    require_built("count_params");
    return kernel_.size() + bias_.size();
  }

  static constexpr int output_rank(int input_rank) { return input_rank == N + 2 ? input_rank : invalid_rank; }

  /// (batch, spatial..., channels) -> (batch, out..., channels * depth_multiplier); shape_error for
  /// another rank or channel count, or an axis shorter than the dilated kernel with valid padding.
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    spec_.check_input(input, channels_, describe());
    Shape out = input;
    for (int i = 0; i < N; ++i) {
      const auto a = static_cast<std::size_t>(i);
      out[i + 1] =
          detail::variant_axis(input[i + 1], spec_.kernel[a], spec_.strides[a], spec_.dilation[a], spec_.same).out;
    }
    out[N + 1] = channels_ * multiplier_;
    (void)out.size();
    return out;
  }

  /// Low-level call on raw row-major memory: output must hold compute_output_shape(input_shape).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    pass(input_shape).run(input, kernel_.data(), use_bias_ ? bias_.data() : nullptr, output, activation_);
  }

  /// Keras `layer(x)` on a Tensor or TensorMap of rank N + 2.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, N + 2> operator()(const X& x) const {
    static_assert(X::NumIndices == N + 2,
                  "strata::DepthwiseConv: the input must have rank 3 (1-D: batch, steps, channels) or 4 (2-D: batch, "
                  "rows, cols, channels).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: kernel_size, depth_multiplier, strides, padding, dilation_rate, data_format
  /// (channels_last only), activation, use_bias.
  static DepthwiseConv from_config(const LayerConfig<T>& config) {
    (void)config.get("kernel_size");
    const auto kernel = detail::spatial_config<N>(config, "kernel_size", 0, 1);
    Options o;
    detail::conv_variant_config<N>(config, o).depth_multiplier(config.integer_or("depth_multiplier", 1, 1));
    return detail::construct_from_config<DepthwiseConv>(config, [&] { return DepthwiseConv(kernel, o); });
  }
  /// Keras' weights: depthwise_kernel (k..., channels, depth_multiplier), bias.
  std::size_t weight_count() const { return use_bias_ ? 2 : 1; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& x = detail::only_input(inputs, describe());
    if (x.rank() != N + 2) {
      throw shape_error(detail::concat(describe(), ": input must have rank ", N + 2, "; got shape ", x.to_string()));
    }
    WeightGroup group{"", {{"depthwise_kernel", kernel_shape(x.back()), ""}}};
    if (use_bias_) group.weights.push_back({"bias", Shape{x.back() * multiplier_}, ""});
    return {group};
  }

 private:
  void require_built(const char* what) const {
    if (!built()) detail::throw_unbuilt(describe(), what, N == 1 ? "DepthwiseConv1DOptions" : "DepthwiseConv2DOptions");
  }

  Index receptive_field() const {
    Index rf = 1;
    for (Index k : spec_.kernel) rf *= k;
    return rf;
  }

  Shape kernel_shape(Index channels) const {
    Shape s;
    for (Index k : spec_.kernel) s.push_back(k);
    s.push_back(channels);
    s.push_back(multiplier_);
    return detail::checked_shape(s);
  }

  detail::DepthwisePass<T> pass(const Shape& x) const {
    const bool two = N == 2;
    const Index rows = two ? x[1] : 1, cols = x[N];
    const Index kh = two ? spec_.kernel[0] : 1, sh = two ? spec_.strides[0] : 1, dh = two ? spec_.dilation[0] : 1;
    const Index kw = spec_.kernel[N - 1], sw = spec_.strides[N - 1], dw = spec_.dilation[N - 1];
    return {x[0],
            rows,
            cols,
            channels_,
            multiplier_,
            kh,
            kw,
            sh,
            sw,
            dh,
            dw,
            detail::variant_axis(rows, kh, sh, dh, spec_.same),
            detail::variant_axis(cols, kw, sw, dw, spec_.same)};
  }

  detail::ConvSpec<N> spec_;
  Index multiplier_ = 1;
  Activation activation_ = Activation::linear;
  bool use_bias_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  Index channels_ = 0;
  Tensor<T, 1> kernel_;  // (k..., channels, depth_multiplier), flat
  Tensor<T, 1> bias_;
};

/// Keras `DepthwiseConv1D`: (batch, steps, channels) -> (batch, out_steps, channels * depth_multiplier).
template <class T>
using DepthwiseConv1D = DepthwiseConv<T, 1>;
/// Keras `DepthwiseConv2D`: (batch, rows, cols, channels) -> (batch, out_rows, out_cols, channels *
/// depth_multiplier).
template <class T>
using DepthwiseConv2D = DepthwiseConv<T, 2>;

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(DepthwiseConv1D)
STRATA_REGISTER_LAYER(DepthwiseConv2D)

#endif  // STRATA_LAYERS_DEPTHWISE_CONV_HPP
