// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_CONV_TRANSPOSE_HPP
#define STRATA_LAYERS_CONV_TRANSPOSE_HPP

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

/// Options of Conv1DTranspose / Conv2DTranspose, set by chaining:
/// `Conv2DTransposeOptions().strides(2).padding("same").output_padding(1)`. Besides
/// output_padding (default None: Keras infers it): strides, padding, dilation_rate, data_format
/// (detail::ConvVariantOptions), activation (default linear), use_bias, input_dim (the input
/// channels; builds the layer), seed and name (detail::LayerOptions).
template <int N>
class ConvTransposeOptions : public detail::ConvVariantOptions<ConvTransposeOptions<N>, N> {
 public:
  /// Keras `output_padding`: extra output rows/cols at the end, each below its stride.
  ConvTransposeOptions& output_padding(Index p) {
    output_padding_ = detail::spatial_fill<N>(p);
    return *this;
  }
  ConvTransposeOptions& output_padding(const detail::Spatial<N>& p) {
    output_padding_ = p;
    return *this;
  }
  /// Keras' None again (the default).
  ConvTransposeOptions& no_output_padding() {
    output_padding_.reset();
    return *this;
  }
  const std::optional<detail::Spatial<N>>& output_padding() const { return output_padding_; }

 private:
  std::optional<detail::Spatial<N>> output_padding_;
};
using Conv1DTransposeOptions = ConvTransposeOptions<1>;
using Conv2DTransposeOptions = ConvTransposeOptions<2>;

/// Keras `Conv1DTranspose` (N = 1) and `Conv2DTranspose` (N = 2), channels_last: the transpose
/// (gradient) of a convolution, out[o] = bias + sum of x[i] . kernel[k] over i * stride +
/// k * dilation - crop = o.
///
/// Input (batch, spatial..., channels); output (batch, out..., filters) with Keras 3's sizes
/// (compute_conv_transpose_output_shape): without output_padding, valid (n - 1) s + max(ke, s)
/// and same n s; with it, valid (n - 1) s + ke + p and same (n - 1) s + ke % 2 + p, where ke =
/// (k - 1) * dilation + 1; the crop is Keras 3's (TensorFlow's "same" offsets). Weights, as Keras'
/// get_weights(): [kernel (k..., filters, channels) -- the last two axes swapped against a
/// convolution's --, bias (filters,)] (no bias without use_bias). Every output row is one product
/// (the GEMM of Dense) summing the taps that reach it, so each output value is the same chain of
/// multiply-adds wherever it sits in the batch. Initial weights: glorot_uniform kernel, zero bias.
template <class T, int N>
class ConvTranspose {
  static_assert(std::is_floating_point_v<T>, "strata::ConvTranspose: the scalar type must be float or double.");
  static_assert(N == 1 || N == 2, "strata::ConvTranspose: only 1-D and 2-D transposed convolutions are implemented.");

 public:
  using Scalar = T;
  using Options = ConvTransposeOptions<N>;
  static constexpr const char* class_name = N == 1 ? "Conv1DTranspose" : "Conv2DTranspose";

  /// Throws value_error for filters, a kernel size, stride or dilation below 1, strides and
  /// dilation both above 1, an output_padding not below its stride (or negative), an unknown
  /// padding or activation, or channels_first.
  ConvTranspose(Index filters, const detail::Spatial<N>& kernel_size, const Options& options = Options())
      : filters_(filters), use_bias_(options.use_bias()), seed_(options.seed()), name_(options.name()) {
    if (filters < 1) throw value_error(detail::concat(describe(), ": filters must be at least 1; got ", filters));
    spec_ = detail::ConvSpec<N>::make(kernel_size, options, describe());
    output_padding_ = options.output_padding();
    if (output_padding_) {
      for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i) {
        if ((*output_padding_)[i] < 0 || (*output_padding_)[i] >= spec_.strides[i]) {
          throw value_error(detail::concat(
              describe(), ": output_padding must be >= 0 and < strides (as in Keras); got ", "output_padding ",
              detail::spatial_string<N>(*output_padding_), " and strides ", detail::spatial_string<N>(spec_.strides)));
        }
      }
    }
    activation_ = parse_activation(options.activation(), describe());
    if (options.input_dim() < 0) {
      throw value_error(detail::concat(describe(), ": input_dim must be positive; got ", options.input_dim()));
    }
    if (options.input_dim() > 0) build(options.input_dim());
  }
  /// The same kernel size on every axis.
  ConvTranspose(Index filters, Index kernel_size, const Options& options = Options())
      : ConvTranspose(filters, detail::spatial_fill<N>(kernel_size), options) {}

  Index filters() const { return filters_; }
  const detail::Spatial<N>& kernel_size() const { return spec_.kernel; }
  const detail::Spatial<N>& strides() const { return spec_.strides; }
  const detail::Spatial<N>& dilation_rate() const { return spec_.dilation; }
  const std::optional<detail::Spatial<N>>& output_padding() const { return output_padding_; }
  std::string padding() const { return spec_.same ? "same" : "valid"; }
  Activation activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }
  const std::string& name() const { return name_; }
  bool built() const { return channels_ > 0; }
  /// Input channels; 0 until built.
  Index input_dim() const { return channels_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  /// Keras build for inputs with `channels` channels: glorot_uniform kernel (fan_in = k * filters,
  /// fan_out = k * channels, as Keras computes a kernel's fans) from the seed, zero bias.
  void build(Index channels) {
    if (channels < 1)
      throw value_error(detail::concat(describe(), ": input channels must be at least 1; got ", channels));
    std::vector<T> kernel(static_cast<std::size_t>(kernel_shape(channels).size()));
    auto gen = detail::Generator::from(seed_);
    const Index rf = taps();
    detail::glorot_uniform_conv(kernel.data(), static_cast<Index>(kernel.size()), rf * filters_, rf * channels, gen);
    Tensor<T, 1> bias(use_bias_ ? filters_ : 0);
    bias.setZero();
    assign(channels, kernel.data(), std::move(bias));
  }

  /// Keras get_weights(): [kernel (k..., filters, channels), bias (filters,)], or [kernel].
  Weights<T> get_weights() const {
    require_built("get_weights");
    std::vector<T> kernel(static_cast<std::size_t>(kernel_shape(channels_).size()));
    std::vector<T> tap(static_cast<std::size_t>(channels_ * filters_));
    for (Index t = 0; t < taps(); ++t) {
      packed_[static_cast<std::size_t>(t)].unpack(tap.data());  // (channels, filters)
      T* dst = kernel.data() + t * filters_ * channels_;        // (filters, channels)
      for (Index c = 0; c < channels_; ++c) {
        for (Index f = 0; f < filters_; ++f) dst[f * channels_ + c] = tap[static_cast<std::size_t>(c * filters_ + f)];
      }
    }
    Weights<T> w;
    w.push_back(AnyTensor<T>::from_values(kernel_shape(channels_), std::move(kernel)));
    if (use_bias_) w.emplace_back(bias_);
    return w;
  }

  /// Keras set_weights(): the list get_weights() gives; builds an unbuilt layer (channels from the
  /// kernel's last axis). Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, weight_count(), describe(), use_bias_ ? "kernel, bias" : "kernel");
    Index channels = channels_;
    if (!built()) {
      const Shape k = weights[0].shape();
      channels = k.rank() == N + 2 && k.back() >= 1 ? k.back() : 1;
    }
    const Shape ks = kernel_shape(channels);
    if (weights[0].shape() != ks) {
      throw shape_error(
          detail::concat(describe(), ": weight 0 (kernel) must have shape ", ks.to_string(),
                         " (kernel_size..., filters, input channels); got ",
                         weights[0].empty() ? std::string("an empty tensor") : weights[0].shape().to_string()));
    }
    Tensor<T, 1> bias(use_bias_ ? filters_ : 0);
    if (use_bias_) bias = detail::check_weight<1>(weights[1], Shape{filters_}, describe(), "bias", 1);
    assign(channels, weights[0].data(), std::move(bias));
  }

  /// The bias, (filters,); empty without bias.
  const Tensor<T, 1>& bias() const { return bias_; }

  Index count_params() const {
    require_built("count_params");
    return taps() * filters_ * channels_ + bias_.size();
  }

  static constexpr int output_rank(int input_rank) { return input_rank == N + 2 ? input_rank : invalid_rank; }

  /// (batch, spatial..., channels) -> (batch, out..., filters); shape_error for another rank or
  /// channel count, or an output axis that would be empty (same padding, output_padding 0, an even
  /// kernel and one input step).
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    std::string expected = "(batch";
    for (int i = 0; i < N; ++i) expected += N == 1 ? ", steps" : (i == 0 ? ", rows" : ", cols");
    expected += detail::concat(", channels=", channels_, ")");
    if (input.rank() != N + 2 || input.back() != channels_) {
      throw shape_error(detail::concat(describe(), ": input must have rank ", N + 2, " ", expected, "; got shape ",
                                       input.to_string()));
    }
    Shape out = input;
    for (int i = 0; i < N; ++i) {
      if (input[i + 1] < 1) {
        throw shape_error(
            detail::concat(describe(), ": input axis ", i + 1, " is empty; got shape ", input.to_string()));
      }
      const Index o = axis(input, i).out;
      if (o < 1) {
        throw shape_error(detail::concat(describe(), ": input axis ", i + 1, " of size ", input[i + 1],
                                         " gives an output of size ", o, " (", spec_.describe_options(),
                                         ", output_padding ", output_padding_string(), "); got shape ",
                                         input.to_string()));
      }
      out[i + 1] = o;
    }
    out[N + 1] = filters_;
    (void)out.size();
    return out;
  }

  /// Low-level call on raw row-major memory: output must hold compute_output_shape(input_shape).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const;

  /// Keras `layer(x)` on a Tensor or TensorMap of rank N + 2.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, N + 2> operator()(const X& x) const {
    static_assert(X::NumIndices == N + 2,
                  "strata::ConvTranspose: the input must have rank 3 (1-D: batch, steps, channels) or 4 (2-D: batch, "
                  "rows, cols, channels).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: filters, kernel_size, strides, padding, output_padding (null: inferred),
  /// dilation_rate (tfjs leaves it out: 1), data_format (channels_last only), activation, use_bias.
  /// A Theano-backend file is refused: Keras 2 flips such a kernel on loading, which strata does
  /// not implement for transposed convolutions.
  ///
  /// Keras 1 (Deconvolution2D, Keras 1's Conv2DTranspose): nb_filter, nb_row, nb_col,
  /// output_shape (batch, rows, cols, nb_filter) -- the output size, which TensorFlow's
  /// conv2d_transpose was given --, subsample, border_mode ("valid"/"same"; Theano's "full" is
  /// refused), dim_ordering ("tf"; "th" is refused), activation, bias.
  static std::vector<std::string> keras_aliases() {
    if constexpr (N == 2) return {"Deconvolution2D"};
    return {};
  }
  static ConvTranspose from_config(const LayerConfig<T>& config) {
    if (config.keras_version().theano_backend()) {
      config.unsupported(
          "a Theano-backend file's transposed convolution is not supported: its kernel was stored flipped "
          "(Keras 2 flips it back on loading), which strata implements for Conv1D/2D/3D only");
    }
    if constexpr (N == 2) {
      if (config.keras_version().keras1()) return from_keras1_config(config);
    }
    const Index filters = config.integer("filters");
    (void)config.get("kernel_size");
    const auto kernel = detail::spatial_config<N>(config, "kernel_size", 0, 1);
    Options o;
    detail::conv_variant_config<N>(config, o);
    if (config.has("output_padding")) o.output_padding(detail::spatial_config<N>(config, "output_padding", 0, 0));
    return detail::construct_from_config<ConvTranspose>(config, [&] { return ConvTranspose(filters, kernel, o); });
  }
  /// Keras' weights: kernel (k..., filters, channels), bias (filters,).
  std::size_t weight_count() const { return use_bias_ ? 2 : 1; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& x = detail::only_input(inputs, describe());
    if (x.rank() != N + 2) {
      throw shape_error(detail::concat(describe(), ": input must have rank ", N + 2, "; got shape ", x.to_string()));
    }
    WeightGroup group{"", {{"kernel", kernel_shape(x.back()), "(kernel_size..., filters, input channels)"}}};
    if (use_bias_) group.weights.push_back({"bias", Shape{filters_}, ""});
    return {group};
  }
  /// Keras 1 files: Deconvolution2D stored its kernel as a convolution's, (rows, cols, input
  /// channels, nb_filter) (TensorFlow's deconv2d swapped the last two axes when called).
  std::vector<WeightGroup> legacy_weight_groups(const std::vector<Shape>& inputs, const KerasVersion& version) const {
    if (!version.keras1()) return {};
    std::vector<WeightGroup> groups = weight_groups(inputs);
    WeightSpec& kernel = groups[0].weights[0];
    std::swap(kernel.shape[N], kernel.shape[N + 1]);
    kernel.note = " (Keras 1's Deconvolution2D layout (rows, cols, input channels, nb_filter))";
    return groups;
  }
  /// The legacy_weight_groups arrays -> [kernel, bias]: the kernel's last two axes swapped, as
  /// Keras 2's preprocess_weights_for_loading does (np.transpose(kernel, (0, 1, 3, 2))). Throws
  /// shape_error for a kernel of another rank.
  Weights<T> convert_legacy_weights(Weights<T> stored, const KerasVersion& /*version*/) const {
    if (stored.empty() || stored[0].rank() != N + 2) {
      throw shape_error(detail::concat(describe(), ": Keras 1's Deconvolution2D kernel must have rank ", N + 2,
                                       "; got ",
                                       stored.empty() ? std::string("no weight") : stored[0].shape().to_string()));
    }
    Shape shape = stored[0].shape();
    const Index in = shape[N], out = shape[N + 1];
    std::swap(shape[N], shape[N + 1]);
    AnyTensor<T> kernel = AnyTensor<T>::uninitialized(shape);
    const Index taps = in == 0 || out == 0 ? 0 : stored[0].size() / (in * out);
    const T* src = stored[0].data();
    T* dst = kernel.data();
    for (Index t = 0; t < taps; ++t) {
      for (Index i = 0; i < in; ++i) {
        for (Index o = 0; o < out; ++o) dst[(t * out + o) * in + i] = src[(t * in + i) * out + o];
      }
    }
    stored[0] = std::move(kernel);
    return stored;
  }

 private:
  void require_built(const char* what) const {
    if (!built()) detail::throw_unbuilt(describe(), what, N == 1 ? "Conv1DTransposeOptions" : "Conv2DTransposeOptions");
  }

  Index taps() const {
    Index rf = 1;
    for (Index k : spec_.kernel) rf *= k;
    return rf;
  }

  Shape kernel_shape(Index channels) const {
    Shape s;
    for (Index k : spec_.kernel) s.push_back(k);
    s.push_back(filters_);
    s.push_back(channels);
    return detail::checked_shape(s);
  }

  std::string output_padding_string() const {
    if (keras1_output_) return "from Keras 1's output_shape " + detail::spatial_string<N>(*keras1_output_);
    return output_padding_ ? detail::spatial_string<N>(*output_padding_) : std::string("None");
  }

  // Keras 1's Deconvolution2D (deconv.py / the TensorFlow backend's deconv2d): the output size is
  // given, and TensorFlow's conv2d_transpose pads for it as the convolution from that size back
  // to the input's, (out - ke + 1) / s rounded up ("valid") or out / s rounded up ("same"). Those
  // offsets are Keras 3's for output_padding out - (n - 1) s - ke ("valid") or - ke % 2 ("same").
  static ConvTranspose from_keras1_config(const LayerConfig<T>& config) {
    static_assert(N == 2, "strata::ConvTranspose: Keras 1 had Deconvolution2D only.");
    const std::string border = detail::keras1_border_mode(config);
    const Index filters = config.integer("nb_filter", 1);
    const detail::Spatial<N> kernel{config.integer("nb_row", 1), config.integer("nb_col", 1)};
    const std::vector<Index> shape = config.integers("output_shape");
    if (shape.size() != 4 || shape[1] < 1 || shape[2] < 1 || (shape[3] != filters && shape[3] != -1)) {
      config.invalid(detail::concat("option 'output_shape' must be (batch, rows, cols, nb_filter=", filters,
                                    ") with rows, cols >= 1; got ", config.get("output_shape").dump().substr(0, 100)));
    }
    Options o;
    o.strides(detail::spatial_config<N>(config, "subsample", 1, 1))
        .padding(border)
        .activation(config.activation("activation", "linear"))
        .use_bias(config.boolean("bias", true))
        .name(config.name());
    ConvTranspose layer =
        detail::construct_from_config<ConvTranspose>(config, [&] { return ConvTranspose(filters, kernel, o); });
    layer.keras1_output_ = detail::Spatial<N>{shape[1], shape[2]};
    return layer;
  }

  detail::TransposeAxis axis(const Shape& x, int i) const {
    const auto a = static_cast<std::size_t>(i);
    Index padding = output_padding_ ? (*output_padding_)[a] : -1;
    if (keras1_output_) {
      // TensorFlow accepts an output size whose convolution gives back the input size.
      const Index n = x[i + 1], s = spec_.strides[a], ke = detail::dilated_kernel(spec_.kernel[a], spec_.dilation[a]);
      const Index out = (*keras1_output_)[a];
      const Index back = spec_.same ? (out + s - 1) / s : (out - ke + s) / s;
      if (out < (spec_.same ? 1 : ke) || back != n) {
        throw shape_error(detail::concat(describe(), ": Keras 1's output_shape gives spatial axis ", i + 1,
                                         " the size ", out, ", which a ", spec_.same ? "'same'" : "'valid'",
                                         " transposed convolution (kernel ", spec_.kernel[a], ", stride ", s,
                                         ") cannot make from an input of size ", n, "; got shape ", x.to_string()));
      }
      padding = out - (n - 1) * s - (spec_.same ? ke % 2 : ke);
    }
    return detail::transpose_axis(x[i + 1], spec_.kernel[a], spec_.strides[a], spec_.dilation[a], spec_.same, padding);
  }

  // Each tap's (channels, filters) matrix -- kernel[tap] transposed -- packed for the GEMM, into
  // new matrices first: a failure (bad_alloc) leaves the layer as it was.
  void assign(Index channels, const T* kernel, Tensor<T, 1> bias) {
    std::vector<detail::PackedMatrix<T>> packed(static_cast<std::size_t>(taps()));
    std::vector<T> tap(static_cast<std::size_t>(channels * filters_));
    for (Index t = 0; t < taps(); ++t) {
      const T* src = kernel + t * filters_ * channels;
      for (Index f = 0; f < filters_; ++f) {
        for (Index c = 0; c < channels; ++c) tap[static_cast<std::size_t>(c * filters_ + f)] = src[f * channels + c];
      }
      packed[static_cast<std::size_t>(t)].pack(tap.data(), channels, filters_);
    }
    detail::PackedMatrix<T> packed_bias;
    if (use_bias_) packed_bias.pack(bias.data(), 1, filters_);
    packed_ = std::move(packed);
    packed_bias_ = std::move(packed_bias);
    bias_ = std::move(bias);
    channels_ = channels;
  }

  Index filters_;
  detail::ConvSpec<N> spec_;
  std::optional<detail::Spatial<N>> output_padding_;
  std::optional<detail::Spatial<N>> keras1_output_;  // Keras 1's output_shape (its spatial sizes)
  Activation activation_ = Activation::linear;
  bool use_bias_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  Index channels_ = 0;
  Tensor<T, 1> bias_;
  std::vector<detail::PackedMatrix<T>> packed_;  // one (channels, filters) matrix per tap
  detail::PackedMatrix<T> packed_bias_;
};

// implementation

template <class T, int N>
void ConvTranspose<T, N>::forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
  const Shape out_shape = compute_output_shape(input_shape);
  detail::check_output_size(*this, out_shape, output_size);
  // 1-D layers run as 2-D ones with a single row and a 1-tap kernel along it.
  const bool two = N == 2;
  const Index batch = input_shape[0], rows = two ? input_shape[1] : 1, cols = input_shape[N];
  const detail::TransposeAxis ah = two ? axis(input_shape, 0) : detail::transpose_axis(1, 1, 1, 1, false, -1);
  const detail::TransposeAxis aw = axis(input_shape, N - 1);
  const Index kh = two ? spec_.kernel[0] : 1, sh = two ? spec_.strides[0] : 1, dh = two ? spec_.dilation[0] : 1;
  const Index kw = spec_.kernel[N - 1], sw = spec_.strides[N - 1], dw = spec_.dilation[N - 1];
  const Index c = channels_, f = filters_;

  // The input with the zeros every output's taps may read around it.
  const Index hp = ah.lo + rows + ah.hi, wp = aw.lo + cols + aw.hi;
  std::vector<T> padded;
  const T* src = input;
  if (hp != rows || wp != cols) {
    padded.assign(static_cast<std::size_t>(detail::checked_shape(Shape{batch, hp, wp, c}).size()), T(0));
    for (Index b = 0; b < batch; ++b) {
      for (Index r = 0; r < rows; ++r) {
        std::copy(input + (b * rows + r) * cols * c, input + (b * rows + r + 1) * cols * c,
                  padded.data() + ((b * hp + r + ah.lo) * wp + aw.lo) * c);
      }
    }
    src = padded.data();
  }
  // Along a row, the outputs of one phase q (o = q, q + sw, ...) take the same taps kw, each from
  // input column i0 + j for the j-th of them: one GEMM of those outputs over the row's taps.
  struct Tap {
    Index k, i0;
  };
  std::vector<std::vector<Tap>> phase_taps(static_cast<std::size_t>(sw));
  for (Index q = 0; q < sw; ++q) {
    for (Index k = 0; k < kw; ++k) {
      const Index num = q + aw.crop - k * dw;
      if (num - detail::floor_div(num, sw) * sw == 0) phase_taps[static_cast<std::size_t>(q)].push_back({k, num / sw});
    }
  }
  const Index out_rows = batch * ah.out;
  const double flops = 2.0 * static_cast<double>(aw.out * c * f * kh * kw / std::max<Index>(1, sh * sw));
  const Index ow = aw.out;
  detail::parallel_rows_alloc(out_rows, detail::rows_worth_a_thread(flops), [&](Index r0, Index r1) {
    std::vector<detail::GemmTerm<T>> terms;
    terms.reserve(static_cast<std::size_t>(kh * kw));
    for (Index r = r0; r < r1; ++r) {
      const Index b = r / ah.out, oh = r % ah.out;
      T* out = output + r * ow * f;
      for (Index q = 0; q < sw && q < ow; ++q) {
        terms.clear();
        for (Index k = 0; k < kh; ++k) {
          const Index num = oh + ah.crop - k * dh;
          if (num - detail::floor_div(num, sh) * sh != 0) continue;
          const Index ih = detail::floor_div(num, sh) + ah.lo;
          for (const Tap& t : phase_taps[static_cast<std::size_t>(q)]) {
            terms.push_back(
                {src + ((b * hp + ih) * wp + t.i0 + aw.lo) * c, c, &packed_[static_cast<std::size_t>(k * kw + t.k)]});
          }
        }
        const Index m = (ow - q + sw - 1) / sw;
        detail::gemm(m, f, terms.data(), static_cast<int>(terms.size()), use_bias_ ? &packed_bias_ : nullptr,
                     out + q * f, sw * f);
      }
      apply_activation(activation_, out, ow, f);
    }
  });
}

/// Keras `Conv1DTranspose`: (batch, steps, channels) -> (batch, out_steps, filters).
template <class T>
using Conv1DTranspose = ConvTranspose<T, 1>;
/// Keras `Conv2DTranspose`: (batch, rows, cols, channels) -> (batch, out_rows, out_cols, filters).
template <class T>
using Conv2DTranspose = ConvTranspose<T, 2>;

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Conv1DTranspose)
STRATA_REGISTER_LAYER(Conv2DTranspose)

#endif  // STRATA_LAYERS_CONV_TRANSPOSE_HPP
