// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_SEPARABLE_CONV_HPP
#define STRATA_LAYERS_SEPARABLE_CONV_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../activations.hpp"
#include "../detail/conv.hpp"
#include "../detail/conv_variants.hpp"
#include "../detail/gemm.hpp"
#include "../detail/init.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of SeparableConv1D / SeparableConv2D, set by chaining:
/// `SeparableConv2DOptions().depth_multiplier(2).padding("same")`. Besides depth_multiplier
/// (default 1): strides, padding, dilation_rate, data_format (detail::ConvVariantOptions),
/// activation (default linear), use_bias, input_dim (the input channels; builds the layer), seed
/// and name (detail::LayerOptions).
template <int N>
class SeparableConvOptions : public detail::ConvVariantOptions<SeparableConvOptions<N>, N> {
 public:
  /// Keras `depth_multiplier`: depthwise output channels per input channel; default 1.
  SeparableConvOptions& depth_multiplier(Index m) {
    depth_multiplier_ = m;
    return *this;
  }
  Index depth_multiplier() const { return depth_multiplier_; }

 private:
  Index depth_multiplier_ = 1;
};
using SeparableConv1DOptions = SeparableConvOptions<1>;
using SeparableConv2DOptions = SeparableConvOptions<2>;

/// Keras `SeparableConv1D` (N = 1) and `SeparableConv2D` (N = 2), channels_last: a depthwise
/// convolution (strides, padding, dilation_rate, depth_multiplier; no bias) followed by a
/// pointwise (1 x 1) convolution to `filters` channels, then the bias and the activation.
///
/// Input (batch, spatial..., channels); output (batch, out..., filters), out sizes as
/// DepthwiseConv. Weights, as Keras' get_weights(): [depthwise_kernel (k..., channels,
/// depth_multiplier), pointwise_kernel (1[, 1], channels * depth_multiplier, filters), bias
/// (filters,)] (no bias without use_bias). The pointwise step is one product (the GEMM of Dense)
/// over all output positions. Initial weights: glorot_uniform kernels, zero bias.
template <class T, int N>
class SeparableConv {
  static_assert(std::is_floating_point_v<T>, "strata::SeparableConv: the scalar type must be float or double.");
  static_assert(N == 1 || N == 2, "strata::SeparableConv: only 1-D and 2-D separable convolutions exist.");

 public:
  using Scalar = T;
  using Options = SeparableConvOptions<N>;
  static constexpr const char* class_name = N == 1 ? "SeparableConv1D" : "SeparableConv2D";

  /// Throws value_error for filters, a kernel size, stride, dilation or depth_multiplier below 1,
  /// strides and dilation both above 1, an unknown padding or activation, or channels_first.
  SeparableConv(Index filters, const detail::Spatial<N>& kernel_size, const Options& options = Options())
      : filters_(filters), use_bias_(options.use_bias()), seed_(options.seed()), name_(options.name()) {
    if (filters < 1) throw value_error(detail::concat(describe(), ": filters must be at least 1; got ", filters));
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
  SeparableConv(Index filters, Index kernel_size, const Options& options = Options())
      : SeparableConv(filters, detail::spatial_fill<N>(kernel_size), options) {}

  Index filters() const { return filters_; }
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

  /// Keras build for inputs with `channels` channels: glorot_uniform kernels from the seed, zero bias.
  void build(Index channels) {
    if (channels < 1)
      throw value_error(detail::concat(describe(), ": input channels must be at least 1; got ", channels));
    Tensor<T, 1> depthwise(depthwise_shape(channels).size());
    Tensor<T, 2> pointwise(detail::to_dims<2>(detail::weight_shape(channels * multiplier_, filters_)));
    auto gen = detail::Generator::from(seed_);
    const Index rf = receptive_field();
    detail::glorot_uniform_conv(depthwise.data(), depthwise.size(), rf * channels, rf * multiplier_, gen);
    detail::glorot_uniform_conv(pointwise.data(), pointwise.size(), channels * multiplier_, filters_, gen);
    Tensor<T, 1> bias(use_bias_ ? filters_ : 0);
    bias.setZero();
    assign(channels, std::move(depthwise), pointwise, std::move(bias));
  }

  /// Keras get_weights(): [depthwise_kernel, pointwise_kernel, bias] (no bias without use_bias).
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w;
    w.push_back(AnyTensor<T>::from_values(depthwise_shape(channels_),
                                          std::vector<T>(depthwise_.data(), depthwise_.data() + depthwise_.size())));
    std::vector<T> pointwise(static_cast<std::size_t>(channels_ * multiplier_ * filters_));
    packed_pointwise_.unpack(pointwise.data());
    w.push_back(AnyTensor<T>::from_values(pointwise_shape(channels_), std::move(pointwise)));
    if (use_bias_) w.emplace_back(bias_);
    return w;
  }

  /// Keras set_weights(): the list get_weights() gives; builds an unbuilt layer (channels from the
  /// depthwise kernel). Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(
        weights, weight_count(), describe(),
        use_bias_ ? "depthwise_kernel, pointwise_kernel, bias" : "depthwise_kernel, pointwise_kernel");
    Index channels = channels_;
    if (!built()) {
      const Shape k = weights[0].shape();
      channels = k.rank() == N + 2 && k[N] >= 1 ? k[N] : 1;
    }
    const Shape ds = depthwise_shape(channels);
    const Shape ps = pointwise_shape(channels);
    const auto check = [&](std::size_t i, const Shape& s, const char* what, const char* layout) {
      if (weights[i].shape() != s) {
        throw shape_error(detail::concat(
            describe(), ": weight ", i, " (", what, ") must have shape ", s.to_string(), " (", layout, "); got ",
            weights[i].empty() ? std::string("an empty tensor") : weights[i].shape().to_string()));
      }
    };
    check(0, ds, "depthwise_kernel", "kernel_size..., input channels, depth_multiplier");
    check(1, ps, "pointwise_kernel", "1..., input channels * depth_multiplier, filters");
    Tensor<T, 1> depthwise(ds.size());
    std::copy(weights[0].data(), weights[0].data() + ds.size(), depthwise.data());
    Tensor<T, 2> pointwise(channels * multiplier_, filters_);
    std::copy(weights[1].data(), weights[1].data() + ps.size(), pointwise.data());
    Tensor<T, 1> bias(use_bias_ ? filters_ : 0);
    if (use_bias_) bias = detail::check_weight<1>(weights[2], Shape{filters_}, describe(), "bias", 2);
    assign(channels, std::move(depthwise), pointwise, std::move(bias));
  }

  /// The bias, (filters,); empty without bias.
  const Tensor<T, 1>& bias() const { return bias_; }

  Index count_params() const {
    require_built("count_params");
    return depthwise_.size() + channels_ * multiplier_ * filters_ + bias_.size();
  }

  static constexpr int output_rank(int input_rank) { return input_rank == N + 2 ? input_rank : invalid_rank; }

  /// (batch, spatial..., channels) -> (batch, out..., filters); shape_error for another rank or
  /// channel count, or an axis shorter than the dilated kernel with valid padding.
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    spec_.check_input(input, channels_, describe());
    Shape out = input;
    for (int i = 0; i < N; ++i) {
      const auto a = static_cast<std::size_t>(i);
      out[i + 1] =
          detail::variant_axis(input[i + 1], spec_.kernel[a], spec_.strides[a], spec_.dilation[a], spec_.same).out;
    }
    out[N + 1] = filters_;
    (void)out.size();
    return out;
  }

  /// Low-level call on raw row-major memory: output must hold compute_output_shape(input_shape).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    const Index width = channels_ * multiplier_;
    const Index positions = out_shape.product(0, N + 1);
    // The depthwise result of every position, then one pointwise product over all of them.
    std::vector<T> mid(static_cast<std::size_t>(detail::checked_shape(Shape{positions, width}).size()));
    pass(input_shape).run(input, depthwise_.data(), nullptr, mid.data(), Activation::linear);
    const double flops_per_row = 2.0 * static_cast<double>(width) * static_cast<double>(filters_);
    detail::parallel_rows(positions, detail::rows_worth_a_thread(flops_per_row), detail::GemmConfig<T>::tile_rows,
                          [&](Index r0, Index r1) {
                            const detail::GemmTerm<T> term{mid.data() + r0 * width, width, &packed_pointwise_};
                            T* out = output + r0 * filters_;
                            detail::gemm(r1 - r0, filters_, &term, 1, use_bias_ ? &packed_bias_ : nullptr, out,
                                         filters_);
                            apply_activation(activation_, out, r1 - r0, filters_);
                          });
  }

  /// Keras `layer(x)` on a Tensor or TensorMap of rank N + 2.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, N + 2> operator()(const X& x) const {
    static_assert(X::NumIndices == N + 2,
                  "strata::SeparableConv: the input must have rank 3 (1-D: batch, steps, channels) or 4 (2-D: batch, "
                  "rows, cols, channels).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: filters, kernel_size, depth_multiplier (tfjs leaves it out of its files: 1),
  /// strides, padding, dilation_rate, data_format (channels_last only), activation, use_bias.
  ///
  /// Keras 1 (SeparableConvolution2D, TensorFlow backend only): nb_filter, nb_row, nb_col,
  /// depth_multiplier, subsample, border_mode ("valid"/"same"), dim_ordering ("tf"; "th" is
  /// refused), activation, bias; its depthwise_kernel, pointwise_kernel and b are Keras 2's.
  static std::vector<std::string> keras_aliases() {
    if constexpr (N == 2) return {"SeparableConvolution2D"};
    return {};
  }
  static SeparableConv from_config(const LayerConfig<T>& config) {
    if constexpr (N == 2) {
      if (config.keras_version().keras1()) {
        const std::string border = detail::keras1_border_mode(config);
        const Index filters = config.integer("nb_filter", 1);
        const detail::Spatial<N> kernel{config.integer("nb_row", 1), config.integer("nb_col", 1)};
        Options o;
        o.depth_multiplier(config.integer_or("depth_multiplier", 1, 1))
            .strides(detail::spatial_config<N>(config, "subsample", 1, 1))
            .padding(border)
            .activation(config.activation("activation", "linear"))
            .use_bias(config.boolean("bias", true))
            .name(config.name());
        return detail::construct_from_config<SeparableConv>(config, [&] { return SeparableConv(filters, kernel, o); });
      }
    }
    const Index filters = config.integer("filters");
    (void)config.get("kernel_size");
    const auto kernel = detail::spatial_config<N>(config, "kernel_size", 0, 1);
    Options o;
    detail::conv_variant_config<N>(config, o).depth_multiplier(config.integer_or("depth_multiplier", 1, 1));
    return detail::construct_from_config<SeparableConv>(config, [&] { return SeparableConv(filters, kernel, o); });
  }
  /// Keras' weights: depthwise_kernel, pointwise_kernel, bias.
  std::size_t weight_count() const { return use_bias_ ? 3 : 2; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& x = detail::only_input(inputs, describe());
    if (x.rank() != N + 2) {
      throw shape_error(detail::concat(describe(), ": input must have rank ", N + 2, "; got shape ", x.to_string()));
    }
    WeightGroup group{
        "", {{"depthwise_kernel", depthwise_shape(x.back()), ""}, {"pointwise_kernel", pointwise_shape(x.back()), ""}}};
    if (use_bias_) group.weights.push_back({"bias", Shape{filters_}, ""});
    return {group};
  }

 private:
  void require_built(const char* what) const {
    if (!built()) detail::throw_unbuilt(describe(), what, N == 1 ? "SeparableConv1DOptions" : "SeparableConv2DOptions");
  }

  Index receptive_field() const {
    Index rf = 1;
    for (Index k : spec_.kernel) rf *= k;
    return rf;
  }

  Shape depthwise_shape(Index channels) const {
    Shape s;
    for (Index k : spec_.kernel) s.push_back(k);
    s.push_back(channels);
    s.push_back(multiplier_);
    return detail::checked_shape(s);
  }

  Shape pointwise_shape(Index channels) const {
    Shape s;
    for (int i = 0; i < N; ++i) s.push_back(1);
    s.push_back(channels * multiplier_);
    s.push_back(filters_);
    return detail::checked_shape(s);
  }

  // Packs into new matrices, then commits: a failure (bad_alloc) leaves the layer as it was.
  void assign(Index channels, Tensor<T, 1> depthwise, const Tensor<T, 2>& pointwise, Tensor<T, 1> bias) {
    detail::PackedMatrix<T> packed(pointwise.data(), pointwise.dimension(0), filters_);
    detail::PackedMatrix<T> packed_bias;
    if (use_bias_) packed_bias.pack(bias.data(), 1, filters_);
    packed_pointwise_ = std::move(packed);
    packed_bias_ = std::move(packed_bias);
    depthwise_ = std::move(depthwise);
    bias_ = std::move(bias);
    channels_ = channels;
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

  Index filters_;
  detail::ConvSpec<N> spec_;
  Index multiplier_ = 1;
  Activation activation_ = Activation::linear;
  bool use_bias_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  Index channels_ = 0;
  Tensor<T, 1> depthwise_;  // (k..., channels, depth_multiplier), flat
  Tensor<T, 1> bias_;
  detail::PackedMatrix<T> packed_pointwise_;  // (channels * depth_multiplier, filters)
  detail::PackedMatrix<T> packed_bias_;
};

/// Keras `SeparableConv1D`: (batch, steps, channels) -> (batch, out_steps, filters).
template <class T>
using SeparableConv1D = SeparableConv<T, 1>;
/// Keras `SeparableConv2D`: (batch, rows, cols, channels) -> (batch, out_rows, out_cols, filters).
template <class T>
using SeparableConv2D = SeparableConv<T, 2>;

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(SeparableConv1D)
STRATA_REGISTER_LAYER(SeparableConv2D)

#endif  // STRATA_LAYERS_SEPARABLE_CONV_HPP
