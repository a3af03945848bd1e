// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_CONV_HPP
#define STRATA_LAYERS_CONV_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../activations.hpp"
#include "../detail/conv.hpp"
#include "../detail/gemm.hpp"
#include "../detail/init.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../layer_step.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of Conv1D/Conv2D/Conv3D (N spatial axes), set by chaining:
/// `ConvOptions<2>().padding("same").strides(2).activation("relu")`. Keras' arguments and
/// defaults: strides 1, padding "valid" ("same"; "causal" for Conv1D only), data_format
/// "channels_last" (the only one strata implements), dilation_rate 1, groups 1, activation
/// "linear", use_bias true; input_dim (the input channels; builds the layer), seed and name as in
/// detail::LayerOptions.
template <int N>
class ConvOptions : public detail::SpatialOptions<ConvOptions<N>, N, detail::LayerOptions<ConvOptions<N>>> {
 public:
  ConvOptions() : detail::SpatialOptions<ConvOptions<N>, N, detail::LayerOptions<ConvOptions<N>>>("linear") {}

  /// Keras `groups`: input channels and filters split into this many independent convolutions.
  ConvOptions& groups(Index g) {
    groups_ = g;
    return *this;
  }
  Index groups() const { return groups_; }

 private:
  Index groups_ = 1;
};

/// Keras `Conv1D` (N = 1), `Conv2D` (N = 2), `Conv3D` (N = 3), channels_last:
/// (batch, s_1, ..., s_N, in_channels) -> (batch, o_1, ..., o_N, filters), a cross-correlation
/// y[b, o, f] = activation(bias[f] + sum over taps t and channels c of the group of f of
/// x[b, o * strides - pad + t * dilation_rate, c] kernel[t, c, f]), zero outside the input.
///
/// Output sizes and padding as Keras 3: valid floor((s - span) / stride) + 1 with span =
/// (k - 1) dilation + 1; same ceil(s / stride), padded as TensorFlow's SAME (the odd zero after);
/// causal (Conv1D) pads span - 1 zeros before. Weights, as Keras' get_weights(): [kernel (k_1,
/// ..., k_N, in_channels / groups, filters), bias (filters,)] (no bias when use_bias is false);
/// filters [g f/G, (g + 1) f/G) read input channels [g c/G, (g + 1) c/G). Initial weights as
/// Keras: glorot_uniform kernel (fan_in = prod(k) in_channels / groups, fan_out = prod(k)
/// filters), zero bias. Masks do not pass (Keras 3's convolutions do not support masking).
///
/// Computed as matrix products on strata's GEMM: the kernel is packed once per tap and group
/// (in_channels / groups x filters / groups); output positions whose window lies inside the
/// input sum the taps as shifted products straight from the input, the others from a row of the
/// window copied with its zeros (im2col). Both take the same operations per output, so a
/// sample's result does not depend on the batch around it nor on the thread count.
template <class T, int N>
class Conv {
  static_assert(std::is_floating_point_v<T>, "strata::Conv: the scalar type must be float or double.");
  static_assert(N >= 1 && N <= 3, "strata::Conv: 1, 2 or 3 spatial axes (Conv1D, Conv2D, Conv3D).");

 public:
  using Scalar = T;
  using Options = ConvOptions<N>;
  using Sizes = typename Options::Sizes;
  static constexpr int rank = N;
  static constexpr const char* class_name = N == 1 ? "Conv1D" : N == 2 ? "Conv2D" : "Conv3D";

  /// Keras `ConvND(filters, kernel_size, ...)`. Throws value_error for values Keras refuses
  /// (filters, kernel sizes, strides, dilations or groups below 1, filters not divisible by
  /// groups, strides > 1 with dilation_rate > 1), an unknown padding or activation, or
  /// data_format "channels_first" (not implemented).
  Conv(Index filters, const Sizes& kernel_size, const Options& options = Options())
      : filters_(filters),
        kernel_size_(kernel_size),
        strides_(options.strides()),
        dilation_(options.dilation_rate()),
        groups_(options.groups()),
        use_bias_(options.use_bias()),
        seed_(options.seed()),
        name_(options.name()) {
    detail::check_conv_options(describe(), filters_, kernel_size_, strides_, dilation_, groups_);
    const auto padding = detail::parse_conv_padding(options.padding(), N == 1);
    if (!padding) {
      throw value_error(detail::concat(describe(), ": padding must be ",
                                       N == 1 ? "\"valid\", \"same\" or \"causal\"" : "\"valid\" or \"same\"",
                                       "; got \"", options.padding(), "\""));
    }
    padding_ = *padding;
    if (options.data_format() != "channels_last") {
      throw value_error(detail::concat(describe(), ": data_format \"", options.data_format(),
                                       "\" is not supported; strata implements \"channels_last\" only"));
    }
    activation_ = parse_activation(options.activation(), describe());
    taps_ = 1;
    for (Index k : kernel_size_) taps_ *= k;
    if (options.input_dim() < 0) {
      throw value_error(detail::concat(describe(), ": input_dim must be positive; got ", options.input_dim()));
    }
    if (options.input_dim() > 0) build(options.input_dim());
  }
  /// The same with one kernel size for every axis.
  Conv(Index filters, Index kernel_size, const Options& options = Options())
      : Conv(filters, filled(kernel_size), options) {}

  Index filters() const { return filters_; }
  const Sizes& kernel_size() const { return kernel_size_; }
  const Sizes& strides() const { return strides_; }
  const Sizes& dilation_rate() const { return dilation_; }
  Index groups() const { return groups_; }
  /// "valid", "same" or "causal".
  std::string padding() const { return detail::conv_padding_name(padding_); }
  Activation activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }
  const std::string& name() const { return name_; }
  bool built() const { return in_channels_ > 0; }
  /// Input channels (the last axis); 0 until built.
  Index input_dim() const { return in_channels_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  /// Keras build for inputs with `channels` values on the last axis: glorot_uniform kernel from
  /// the seed, zero bias. Throws value_error when channels is not a positive multiple of groups.
  void build(Index channels) {
    check_channels(channels);
    const Shape shape = kernel_shape(channels);
    Tensor<T, N + 2> kernel(detail::to_dims<N + 2>(shape));
    const double fan_in = static_cast<double>(taps_ * (channels / groups_));
    const double fan_out = static_cast<double>(taps_ * filters_);
    const double limit = std::sqrt(6.0 / (fan_in + fan_out));
    auto gen = detail::Generator::from(seed_);
    for (Index i = 0; i < kernel.size(); ++i) kernel.data()[i] = static_cast<T>((2.0 * gen.uniform() - 1.0) * limit);
    Tensor<T, 1> bias(use_bias_ ? filters_ : 0);
    bias.setZero();
    assign(kernel.data(), channels, std::move(bias));
  }

  /// Keras get_weights(): [kernel (k_1, ..., k_N, in_channels / groups, filters), bias (filters,)].
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w{AnyTensor<T>(kernel())};
    if (use_bias_) w.emplace_back(bias_);
    return w;
  }

  /// Keras set_weights(): the list get_weights() gives. An unbuilt layer takes its input channels
  /// from the kernel (its axis N times groups). Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    const std::size_t count = use_bias_ ? 2 : 1;
    detail::check_weight_count(weights, count, describe(), use_bias_ ? "kernel, bias" : "kernel");
    Index channels = in_channels_;
    if (!built()) {
      const Shape k = weights[0].shape();
      if (weights[0].empty() || k.rank() != N + 2 || k[N] < 1) {
        throw shape_error(detail::concat(describe(), ": weight 0 (kernel) must have shape (", kernel_dims_text(),
                                         "in_channels / groups >= 1, ", filters_, "); got ",
                                         weights[0].empty() ? std::string("an empty tensor") : k.to_string()));
      }
      channels = k[N] * groups_;
    }
    const auto& kernel = detail::check_weight<N + 2>(weights[0], kernel_shape(channels), describe(), "kernel", 0);
    Tensor<T, 1> bias(use_bias_ ? filters_ : 0);
    if (use_bias_) bias = detail::check_weight<1>(weights[1], Shape{filters_}, describe(), "bias", 1);
    assign(kernel.data(), channels, std::move(bias));
  }

  /// The kernel, (k_1, ..., k_N, in_channels / groups, filters), unpacked on request (the layer
  /// keeps only the packed form its products read).
  Tensor<T, N + 2> kernel() const {
    require_built("kernel");
    Tensor<T, N + 2> k(detail::to_dims<N + 2>(kernel_shape(in_channels_)));
    const Index cg = in_channels_ / groups_, fg = filters_ / groups_;
    for (Index g = 0; g < groups_; ++g) {
      for (Index t = 0; t < taps_; ++t)
        packed_[g * taps_ + t].unpack_columns(k.data() + t * cg * filters_, filters_, g * fg);
    }
    return k;
  }
  /// The bias, (filters,); empty without bias.
  const Tensor<T, 1>& bias() const { return bias_; }

  /// The packed kernel, [group * taps + tap] each (in_channels / groups, filters / groups), and
  /// the packed bias, one (1, filters / groups) row per group (none without bias); low level, for
  /// Conv1DStream, which sums a step with them exactly as a call does.
  const std::vector<detail::PackedMatrix<T>>& packed_kernel() const {
    require_built("packed_kernel");
    return packed_;
  }
  const std::vector<detail::PackedMatrix<T>>& packed_bias() const {
    require_built("packed_bias");
    return packed_bias_;
  }

  /// Keras count_params(); the layer must be built.
  Index count_params() const {
    require_built("count_params");
    return taps_ * (in_channels_ / groups_) * filters_ + (use_bias_ ? filters_ : 0);
  }

  static constexpr int output_rank(int input_rank) { return input_rank == N + 2 ? input_rank : invalid_rank; }

  /// (batch, s_1, ..., s_N, in_channels) -> (batch, o_1, ..., o_N, filters). Throws shape_error
  /// for another rank or channel count, or a valid (or any) axis shorter than the dilated kernel
  /// with valid padding; value_error when not built.
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    check_input(input);
    Shape out{input[0]};
    for (int i = 0; i < N; ++i) out.push_back(axis(input, i).out);
    out.push_back(filters_);
    (void)out.size();
    return out;
  }

  /// Low-level call on raw row-major memory: output must hold compute_output_shape(input_shape)
  /// and not overlap the input.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    if (output_size == 0) return;
    Plan plan = make_plan(input_shape);
    const Index items = plan.outer * plan.chunks;
    const double flops = 2.0 * static_cast<double>(std::min(plan.axes[N - 1].out, chunk)) *
                         static_cast<double>(taps_ * (in_channels_ / groups_) * filters_);
    // Each range allocates its scratch; an allocation failure in a thread is rethrown here.
    std::exception_ptr error;
    std::atomic<bool> failed{false};
    detail::parallel_rows(items, detail::rows_worth_a_thread(flops), 1, [&](Index i0, Index i1) {
      try {
        run_items(plan, input, output, i0, i1);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
  }

  /// Keras `conv(x)` on a Tensor or TensorMap of rank N + 2; returns a Tensor of that rank.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, N + 2> operator()(const X& x) const {
    static_assert(X::NumIndices == N + 2,
                  "strata::Conv: the input must have rank N + 2 (batch, spatial axes..., channels); wrap the layer "
                  "in TimeDistributed for more leading axes.");
    return detail::call_tensor(*this, x);
  }
  /// The same on a tensor of run-time rank; another rank throws shape_error.
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras 3's convolutions do not support masking (BaseConv has no compute_mask): a mask stops.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Conv1D's per-step form (Model::stream): Conv1DStream, bitwise the sequence call at every
  /// step. Refuses (value_error) padding other than "causal" and strides other than 1 (Conv1DStream
  /// says why), and an input without a time axis.
  template <int M = N, std::enable_if_t<M == 1, int> = 0>
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    const StepShape& in = detail::only_step_input(inputs, describe());
    if (!in.timed) {
      throw value_error(detail::concat(describe(), ": its input ", step_shape_string(in),
                                       " has no time axis to convolve over (an earlier layer consumed it, or the "
                                       "layer is wrapped in TimeDistributed)"));
    }
    if (!built() || in.shape.rank() != 2 || in.shape[1] != in_channels_) {
      throw shape_error(detail::concat(describe(), ": one step must be (batch, channels=", in_channels_, "); got ",
                                       step_shape_string(in)));
    }
    auto stream = step_stream(*this, in.shape[0]);  // Conv1DStream, declared after the class
    return LayerStep<T>(detail::StreamStep<T, decltype(stream)>(std::move(stream)),
                        {StepShape{Shape{in.shape[0], filters_}, true}});
  }
  /// Keras config: filters, kernel_size, strides, padding, data_format, dilation_rate, groups,
  /// activation, use_bias. data_format "channels_first" is an unsupported_error.
  ///
  /// Keras 1 (Convolution1D/2D/3D, AtrousConvolution1D/2D): nb_filter; filter_length (1D),
  /// nb_row and nb_col (2D) or kernel_dim1..3 (3D); subsample_length (1D) or subsample;
  /// atrous_rate; border_mode ("valid"/"same"; Theano's "full" is refused); dim_ordering ("tf";
  /// "th", channels first, is refused); bias.
  static std::vector<std::string> keras_aliases() {
    if constexpr (N == 1) return {"Convolution1D", "AtrousConvolution1D"};
    if constexpr (N == 2) return {"Convolution2D", "AtrousConvolution2D"};
    return {"Convolution3D"};
  }
  static Conv from_config(const LayerConfig<T>& config) {
    if (config.keras_version().keras1()) return from_keras1_config(config);
    const std::string format = config.string("data_format", "channels_last");
    if (format != "channels_last") {
      config.unsupported(detail::concat("data_format '", format, "' is not supported (only channels_last is)"));
    }
    Options options;
    options.strides(sizes(config, "strides", 1))
        .dilation_rate(sizes(config, "dilation_rate", 1))
        .padding(config.string("padding", "valid"))
        .groups(config.integer_or("groups", 1, 1))
        .activation(config.activation("activation", "linear"))
        .use_bias(config.boolean("use_bias", true))
        .name(config.name());
    const Sizes kernel = sizes(config, "kernel_size", 0);
    check_theano_padding(config, options, kernel);
    return Conv(config.integer("filters"), kernel, options);
  }
  /// Keras' weights: kernel (k_1, ..., k_N, in_channels / groups, filters), bias (filters,).
  std::size_t weight_count() const { return use_bias_ ? 2 : 1; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& x = detail::only_input(inputs, describe());
    if (x.rank() != N + 2) throw_rank(x);
    check_channels(x.back());
    WeightGroup group{"", {{"kernel", kernel_shape(x.back()), ""}}};
    if (use_bias_) group.weights.push_back({"bias", Shape{filters_}, ""});
    return {group};
  }
  /// Older files' kernels: Keras 1's Convolution1D kernel (filter_length, 1, input_dim,
  /// nb_filter) (its 'tf' Convolution2D/3D kernels are Keras 2's), and kernels a Theano backend
  /// trained (KerasVersion::theano_backend): flipped along the spatial axes. None otherwise.
  std::vector<WeightGroup> legacy_weight_groups(const std::vector<Shape>& inputs, const KerasVersion& version) const {
    const bool keras1_1d = N == 1 && version.keras1();
    if (!keras1_1d && !version.theano_backend()) return {};
    std::vector<WeightGroup> groups = weight_groups(inputs);
    WeightSpec& kernel = groups[0].weights[0];
    if (keras1_1d) {
      kernel.shape = Shape{kernel.shape[0], 1, kernel.shape[1], kernel.shape[2]};
      kernel.note = " (Keras 1's Convolution1D layout (filter_length, 1, input_dim, nb_filter))";
    }
    if (version.theano_backend()) kernel.note += " (Theano's flipped kernel)";
    return groups;
  }
  /// The legacy_weight_groups arrays -> [kernel, bias]: Keras 1's Convolution1D kernel drops its
  /// axis of size 1; a Theano kernel is flipped back along every spatial axis (Keras 2's
  /// preprocess_weights_for_loading and conv_utils.convert_kernel). Throws shape_error for
  /// arrays of other shapes.
  Weights<T> convert_legacy_weights(Weights<T> stored, const KerasVersion& version) const {
    if (stored.empty() || stored[0].rank() < 3) {
      throw shape_error(detail::concat(describe(), ": an older Keras' kernel must have rank ", N + 2, " or more"));
    }
    const Shape& from = stored[0].shape();
    Shape shape;
    for (int a = 0; a < from.rank(); ++a) {
      if (!(N == 1 && version.keras1() && a == 1 && from.rank() == 4)) shape.push_back(from[a]);
    }
    if (N == 1 && version.keras1() && (from.rank() != 4 || from[1] != 1)) {
      throw shape_error(detail::concat(describe(), ": Keras 1's Convolution1D kernel must have shape (filter_length, ",
                                       "1, input_dim, nb_filter); got ", from.to_string()));
    }
    if (shape.rank() != N + 2) {
      throw shape_error(detail::concat(describe(), ": the kernel must have rank ", N + 2, "; got ", from.to_string()));
    }
    AnyTensor<T> kernel = AnyTensor<T>::uninitialized(shape);
    // Row-major: the spatial axes come first, then (in_channels, filters) as one contiguous block.
    Index spatial = 1;
    for (int a = 0; a < N; ++a) spatial *= shape[a];
    const Index block = shape[N] * shape[N + 1];
    const T* src = stored[0].data();
    T* dst = kernel.data();
    for (Index p = 0; p < spatial; ++p) {
      Index q = p;
      if (version.theano_backend()) {
        // The tap at position (i_1, ..., i_N) reads (k_1 - 1 - i_1, ..., k_N - 1 - i_N).
        Index rest = p;
        Index flipped = 0;
        Index stride = 1;
        for (int a = N - 1; a >= 0; --a) {
          const Index i = rest % shape[a];
          rest /= shape[a];
          flipped += (shape[a] - 1 - i) * stride;
          stride *= shape[a];
        }
        q = flipped;
      }
      std::copy(src + q * block, src + (q + 1) * block, dst + p * block);
    }
    stored[0] = std::move(kernel);
    return stored;
  }

 private:
  // Output positions along the last spatial axis handled as one work item (its im2col rows fit
  // in cache); items are (batch, o_1, ..., o_{N-1}) rows times chunks of the last axis.
  static constexpr Index chunk = 64;

  struct Plan {
    std::array<detail::ConvAxis, static_cast<std::size_t>(N)> axes;
    std::array<Index, static_cast<std::size_t>(N)> in_stride{};  // scalars per step of each axis
    Index sample_stride = 0;                                     // scalars per sample
    Index outer = 0;                                             // batch * o_1 * ... * o_{N-1}
    Index chunks = 0;                                            // chunks of the last axis
    std::vector<Index> tap_offset;  // each tap's offset from its window's origin, in scalars
  };

  static Sizes filled(Index v) {
    Sizes s;
    s.fill(v);
    return s;
  }

  // Keras 1.2's Convolution1D/2D/3D and AtrousConvolution1D/2D configs (convolutional.py).
  static Conv from_keras1_config(const LayerConfig<T>& config) {
    const std::string border = detail::keras1_border_mode(config);
    Sizes kernel;
    Sizes strides = filled(1);
    if constexpr (N == 1) {
      kernel = filled(config.integer("filter_length", 1, detail::conv_max_option));
      strides = filled(config.integer_or("subsample_length", 1, 1, detail::conv_max_option));
    } else {
      const char* const keys[2][3] = {{"nb_row", "nb_col", ""}, {"kernel_dim1", "kernel_dim2", "kernel_dim3"}};
      for (int a = 0; a < N; ++a) {
        kernel[static_cast<std::size_t>(a)] = config.integer(keys[N - 2][a], 1, detail::conv_max_option);
      }
      if (config.has("subsample")) strides = sizes(config, "subsample", 1);
    }
    Options options;
    options.strides(strides)
        .dilation_rate(sizes(config, "atrous_rate", 1))
        .padding(border)
        .activation(config.activation("activation", "linear"))
        .use_bias(config.boolean("bias", true))
        .name(config.name());
    check_theano_padding(config, options, kernel);
    return Conv(config.integer("nb_filter"), kernel, options);
  }

  // Theano's "same" padding (border_mode "half", then a crop for an even kernel) puts span / 2
  // zeros before each axis, TensorFlow's (span - 1) / 2 and, with strides, fewer: they agree only
  // for stride 1 and odd spans, which a Theano file is loaded with; anything else is refused.
  static void check_theano_padding(const LayerConfig<T>& config, const Options& options, const Sizes& kernel) {
    if (!config.keras_version().theano_backend() || options.padding() != "same") return;
    for (std::size_t a = 0; a < kernel.size(); ++a) {
      const Index span = (kernel[a] - 1) * options.dilation_rate()[a] + 1;
      if (span % 2 == 0 || options.strides()[a] != 1) {
        config.unsupported(
            "'same' padding with an even kernel span or a stride above 1 is not supported for a Theano-backend "
            "file: Theano padded such a convolution differently from TensorFlow (border_mode 'half', then a crop)");
      }
    }
  }

  // An int or a list of N ints (Keras standardize_tuple); `fallback` when missing (0: required).
  static Sizes sizes(const LayerConfig<T>& config, const char* key, Index fallback) {
    if (fallback > 0 && !config.has(key)) return filled(fallback);
    const Config& v = config.get(key);
    if (!v.is_list()) return filled(config.integer(key, 1, detail::conv_max_option));
    const std::vector<Index> list = config.integers(key);
    if (list.size() != static_cast<std::size_t>(N)) {
      config.invalid(detail::concat("option '", key, "' must hold ", N, " value", N == 1 ? "" : "s", "; got ",
                                    v.dump().substr(0, 100)));
    }
    Sizes s;
    for (int i = 0; i < N; ++i) s[static_cast<std::size_t>(i)] = list[static_cast<std::size_t>(i)];
    return s;
  }

  void require_built(const char* what) const {
    if (!built()) detail::throw_unbuilt(describe(), what, "ConvOptions");
  }

  std::string kernel_dims_text() const {
    std::string s;
    for (Index k : kernel_size_) s += std::to_string(k) + ", ";
    return s;
  }

  Shape kernel_shape(Index channels) const {
    Shape s;
    for (Index k : kernel_size_) s.push_back(k);
    s.push_back(channels / groups_);
    s.push_back(filters_);
    (void)s.size();
    return s;
  }

  void check_channels(Index channels) const {
    if (channels < 1 || channels % groups_ != 0) {
      throw value_error(detail::concat(describe(), ": the input channels (", channels,
                                       ") must be a positive multiple of groups (", groups_, ")"));
    }
  }

  [[noreturn]] void throw_rank(const Shape& input) const {
    throw shape_error(detail::concat(describe(), ": input must have rank ", N + 2, " (batch, ",
                                     N == 1   ? "steps"
                                     : N == 2 ? "rows, cols"
                                              : "dim1, dim2, dim3",
                                     ", channels=", built() ? std::to_string(in_channels_) : std::string("?"),
                                     "); got shape ", input.to_string(),
                                     input.rank() > N + 2 ? " (wrap the layer in TimeDistributed for more axes)" : ""));
  }

  void check_input(const Shape& input) const {
    if (input.rank() != N + 2 || input.back() != in_channels_) throw_rank(input);
    if (padding_ != detail::ConvPadding::valid) return;
    for (int i = 0; i < N; ++i) {
      const detail::ConvAxis a = axis(input, i);
      if (a.out < 1) {
        throw shape_error(detail::concat(
            describe(), ": with padding \"valid\", spatial axis ", i + 1, " of input shape ", input.to_string(),
            " has size ", a.in, ", shorter than the dilated kernel (kernel_size ", a.kernel, ", dilation_rate ",
            a.dilation, ": ", a.span(), "); the output size would be < 1"));
      }
    }
  }

  detail::ConvAxis axis(const Shape& input, int i) const {
    const auto u = static_cast<std::size_t>(i);
    return detail::conv_axis(input[i + 1], kernel_size_[u], strides_[u], dilation_[u], padding_);
  }

  Plan make_plan(const Shape& input) const {
    Plan p;
    Index stride = in_channels_;
    for (int i = N - 1; i >= 0; --i) {
      p.axes[static_cast<std::size_t>(i)] = axis(input, i);
      p.in_stride[static_cast<std::size_t>(i)] = stride;
      stride *= input[i + 1];
    }
    p.sample_stride = stride;
    p.outer = input[0];
    for (int i = 0; i + 1 < N; ++i) p.outer *= p.axes[static_cast<std::size_t>(i)].out;
    p.chunks = (p.axes[N - 1].out + chunk - 1) / chunk;
    p.tap_offset.resize(static_cast<std::size_t>(taps_));
    std::array<Index, static_cast<std::size_t>(N)> t{};
    for (Index tap = 0; tap < taps_; ++tap) {
      Index off = 0;
      for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i) off += t[i] * dilation_[i] * p.in_stride[i];
      p.tap_offset[static_cast<std::size_t>(tap)] = off;
      next_tap(t);
    }
    return p;
  }

  // Odometer over the kernel's taps in row-major order (Keras' kernel layout).
  void next_tap(std::array<Index, static_cast<std::size_t>(N)>& t) const {
    for (int i = N - 1; i >= 0; --i) {
      const auto u = static_cast<std::size_t>(i);
      if (++t[u] < kernel_size_[u]) return;
      t[u] = 0;
    }
  }

  // Work items [i0, i1): each is one (batch, o_1, ..., o_{N-1}) row and a chunk of the last axis.
  void run_items(const Plan& p, const T* x, T* y, Index i0, Index i1) const {
    const Index cg = in_channels_ / groups_, fg = filters_ / groups_;
    const detail::ConvAxis& last = p.axes[N - 1];
    std::vector<T, Eigen::aligned_allocator<T>> cols(static_cast<std::size_t>(std::min(chunk, last.out) * taps_ * cg));
    std::vector<detail::GemmTerm<T>> terms(static_cast<std::size_t>(taps_));
    std::array<Index, static_cast<std::size_t>(N)> o{};
    for (Index item = i0; item < i1; ++item) {
      Index r = item / p.chunks;
      const Index o_a = (item % p.chunks) * chunk;
      const Index o_b = std::min(last.out, o_a + chunk);
      // Decode the row: batch index and the outer output coordinates.
      for (int i = N - 2; i >= 0; --i) {
        const auto u = static_cast<std::size_t>(i);
        o[u] = r % p.axes[u].out;
        r /= p.axes[u].out;
      }
      const Index b = r;
      bool outer_inside = true;
      Index base = b * p.sample_stride;  // the window origin's offset, without the last axis
      for (int i = 0; i + 1 < N; ++i) {
        const auto u = static_cast<std::size_t>(i);
        outer_inside = outer_inside && p.axes[u].interior(o[u]);
        base += (o[u] * p.axes[u].stride - p.axes[u].pad) * p.in_stride[u];
      }
      const Index lo = outer_inside ? std::clamp(last.lo, o_a, o_b) : o_b;
      const Index hi = outer_inside ? std::clamp(last.hi, lo, o_b) : o_b;
      T* out_rows = y + (item / p.chunks * last.out) * filters_;
      for (Index g = 0; g < groups_; ++g) {
        const detail::PackedMatrix<T>* packed = packed_.data() + g * taps_;
        const detail::PackedMatrix<T>* init = use_bias_ ? &packed_bias_[static_cast<std::size_t>(g)] : nullptr;
        // Interior positions: each tap a shifted view of the input, no copy.
        if (lo < hi) {
          const T* origin = x + base + (lo * last.stride - last.pad) * p.in_stride[N - 1] + g * cg;
          for (Index t = 0; t < taps_; ++t) {
            terms[static_cast<std::size_t>(t)] = {origin + p.tap_offset[static_cast<std::size_t>(t)],
                                                  last.stride * in_channels_, packed + t};
          }
          detail::gemm(hi - lo, fg, terms.data(), static_cast<int>(taps_), init, out_rows + lo * filters_ + g * fg,
                       filters_);
        }
        // The others (padding in the window): their windows copied with the zeros, then the same product.
        border(p, x, b, o, g, cg, o_a, lo, cols.data(), terms.data(), packed, init, out_rows, fg);
        border(p, x, b, o, g, cg, hi, o_b, cols.data(), terms.data(), packed, init, out_rows, fg);
      }
      apply_activation(activation_, out_rows + o_a * filters_, o_b - o_a, filters_);
    }
  }

  void border(const Plan& p, const T* x, Index b, std::array<Index, static_cast<std::size_t>(N)> o, Index g, Index cg,
              Index o_a, Index o_b, T* cols, detail::GemmTerm<T>* terms, const detail::PackedMatrix<T>* packed,
              const detail::PackedMatrix<T>* init, T* out_rows, Index fg) const {
    if (o_a >= o_b) return;
    const Index row_len = taps_ * cg;
    for (Index ol = o_a; ol < o_b; ++ol) {
      o[N - 1] = ol;
      T* row = cols + (ol - o_a) * row_len;
      std::array<Index, static_cast<std::size_t>(N)> t{};
      for (Index tap = 0; tap < taps_; ++tap) {
        Index off = b * p.sample_stride + g * cg;
        bool inside = true;
        for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i) {
          const detail::ConvAxis& a = p.axes[i];
          const Index pos = o[i] * a.stride - a.pad + t[i] * a.dilation;
          if (pos < 0 || pos >= a.in) {
            inside = false;
            break;
          }
          off += pos * p.in_stride[i];
        }
        T* dst = row + tap * cg;
        if (inside) {
          std::copy(x + off, x + off + cg, dst);
        } else {
          std::fill(dst, dst + cg, T(0));
        }
        next_tap(t);
      }
    }
    for (Index t = 0; t < taps_; ++t) terms[t] = {cols + t * cg, row_len, packed + t};
    detail::gemm(o_b - o_a, fg, terms, static_cast<int>(taps_), init, out_rows + o_a * filters_ + g * fg, filters_);
  }

  // Packs into new matrices, then commits: a failure (bad_alloc) leaves the layer as it was.
  void assign(const T* kernel, Index channels, Tensor<T, 1> bias) {
    const Index cg = channels / groups_, fg = filters_ / groups_;
    std::vector<detail::PackedMatrix<T>> packed(static_cast<std::size_t>(groups_ * taps_));
    std::vector<detail::PackedMatrix<T>> packed_bias(static_cast<std::size_t>(use_bias_ ? groups_ : 0));
    std::vector<T> block(static_cast<std::size_t>(cg * fg));
    for (Index g = 0; g < groups_; ++g) {
      for (Index t = 0; t < taps_; ++t) {
        for (Index c = 0; c < cg; ++c) {
          const T* src = kernel + (t * cg + c) * filters_ + g * fg;
          std::copy(src, src + fg, block.data() + c * fg);
        }
        packed[static_cast<std::size_t>(g * taps_ + t)].pack(block.data(), cg, fg);
      }
      if (use_bias_) packed_bias[static_cast<std::size_t>(g)].pack(bias.data() + g * fg, 1, fg);
    }
    packed_ = std::move(packed);
    packed_bias_ = std::move(packed_bias);
    bias_ = std::move(bias);
    in_channels_ = channels;
  }

  Index filters_;
  Sizes kernel_size_;
  Sizes strides_;
  Sizes dilation_;
  Index groups_;
  detail::ConvPadding padding_ = detail::ConvPadding::valid;
  Activation activation_ = Activation::linear;
  bool use_bias_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  Index taps_ = 1;
  Index in_channels_ = 0;
  Tensor<T, 1> bias_;
  std::vector<detail::PackedMatrix<T>> packed_;       // [group * taps + tap]: (in_channels / groups, filters / groups)
  std::vector<detail::PackedMatrix<T>> packed_bias_;  // [group]: (1, filters / groups)
};

/// Keras `Conv1D`: (batch, steps, channels) -> (batch, new_steps, filters); padding "causal" too.
template <class T>
using Conv1D = Conv<T, 1>;
/// Keras `Conv2D`: (batch, rows, cols, channels) -> (batch, new_rows, new_cols, filters).
template <class T>
using Conv2D = Conv<T, 2>;
/// Keras `Conv3D`: (batch, d1, d2, d3, channels) -> (batch, o1, o2, o3, filters).
template <class T>
using Conv3D = Conv<T, 3>;

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Conv1D)
STRATA_REGISTER_LAYER(Conv2D)
STRATA_REGISTER_LAYER(Conv3D)

// Conv1DStream; streaming.hpp includes this header for Conv1D itself, so it comes after the class.
#include "../streaming.hpp"  // IWYU pragma: export

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
/// Conv1D's per-step form (Model::stream, through Conv::make_step): Conv1DStream, bitwise the
/// sequence call at every step.
template <class T>
Conv1DStream<T> step_stream(const Conv1D<T>& layer, Index batch) {
  return Conv1DStream<T>(layer, batch);
}
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_LAYERS_CONV_HPP
