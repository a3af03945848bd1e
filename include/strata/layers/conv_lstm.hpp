// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_CONV_LSTM_HPP
#define STRATA_LAYERS_CONV_LSTM_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../activations.hpp"
#include "../any_layer.hpp"
#include "../detail/conv.hpp"
#include "../detail/gemm.hpp"
#include "../detail/init.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../detail/recurrent.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"
#include "lstm.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of ConvLSTM1D/2D/3D (N spatial axes), set by chaining:
/// `ConvLSTMOptions<2>().padding("same").return_sequences(true)`. Keras 3's arguments and
/// defaults: strides 1, padding "valid" (or "same"), data_format "channels_last" (the only one
/// strata implements), dilation_rate 1 (detail::SpatialOptions; strides, padding and
/// dilation_rate are the input convolution's: the recurrent one has stride 1, "same" padding and
/// no dilation), activation "tanh", recurrent_activation "sigmoid",
/// use_bias true, unit_forget_bias true (an initializer only); the recurrent options
/// (return_sequences, return_state, go_backwards, stateful, zero_output_for_mask) as in
/// detail::RecurrentOptions. dropout and recurrent_dropout act in training only and have no
/// setter.
template <int N>
class ConvLSTMOptions
    : public detail::SpatialOptions<ConvLSTMOptions<N>, N, detail::GatedRecurrentOptions<ConvLSTMOptions<N>>> {
 public:
  ConvLSTMOptions()
      : detail::SpatialOptions<ConvLSTMOptions<N>, N, detail::GatedRecurrentOptions<ConvLSTMOptions<N>>>("tanh") {}

  /// Keras `unit_forget_bias`: the initial forget-gate bias is 1; default true.
  ConvLSTMOptions& unit_forget_bias(bool on) {
    unit_forget_bias_ = on;
    return *this;
  }
  bool unit_forget_bias() const { return unit_forget_bias_; }

 private:
  bool unit_forget_bias_ = true;
};

/// A ConvLSTM state: h (the output) and c (the carry), each (batch, o_1, ..., o_N, filters).
template <class T, int N>
struct ConvLSTMState {
  Tensor<T, N + 2> h;
  Tensor<T, N + 2> c;
};

/// What ConvLSTM::call returns: the output and the final state.
template <class T, int N>
struct ConvLSTMResult {
  AnyTensor<T> output;
  Tensor<T, N + 2> h;
  Tensor<T, N + 2> c;
};

namespace detail {

/// One ConvLSTM step on packed weights, for one input geometry, in the form run_recurrence drives:
/// a sample's state is its whole (o_1, ..., o_N, filters) map, so "units" are positions * filters.
///
/// Per sample, each output position's input window (taps x in_channels, zeros where the window
/// leaves the input) and recurrent window (taps x filters, "same" padding) are copied side by
/// side into one row, and z = windows . [kernel; recurrent_kernel] + bias is LSTMCell's fused
/// two-term GEMM over the positions; then LSTMGates updates c and h for every position. Every
/// position, border or not, takes the same operations, and samples never mix, so a sample's
/// result does not depend on the batch around it.
template <class T>
class ConvLSTMCell {
 public:
  static constexpr int state_count = 2;

  /// x_offsets / h_offsets: per position and tap, the window's offset in a sample's step input /
  /// state, or -1 for padding.
  ConvLSTMCell(const PackedMatrix<T>& kernel, const PackedMatrix<T>& recurrent, const PackedMatrix<T>* bias,
               const LSTMGates<T>& gates, Index filters, Index in_channels, Index taps, Index positions,
               std::vector<Index> x_offsets, std::vector<Index> h_offsets)
      : kernel_(&kernel),
        recurrent_(&recurrent),
        bias_(bias),
        gates_(&gates),
        filters_(filters),
        in_channels_(in_channels),
        taps_(taps),
        positions_(positions),
        depth_(taps * (in_channels + filters)),
        x_offsets_(std::move(x_offsets)),
        h_offsets_(std::move(h_offsets)) {}

  Index units() const { return positions_ * filters_; }
  Index work_size() const { return positions_ * (depth_ + gates_->work_size()); }

  void step(Index rows, const T* x, Index ldx, const T* h_prev, Index ld_prev, T* work, T* c, T* h_out,
            Index ld_out) const {
    const Index kx = taps_ * in_channels_;
    for (Index b = 0; b < rows; ++b) {
      T* windows = work + b * work_size();
      T* z = windows + positions_ * depth_;
      // Read all of h_prev before h_out (which may be the same memory) is written.
      gather(windows, x + b * ldx, x_offsets_, in_channels_, 0);
      gather(windows, h_prev + b * ld_prev, h_offsets_, filters_, kx);
      const GemmTerm<T> terms[2] = {{windows, depth_, kernel_}, {windows + kx, depth_, recurrent_}};
      gemm(positions_, 4 * filters_, terms, 2, bias_, z, gates_->ldz());
      (*gates_)(positions_, z, c + b * units(), h_out + b * ld_out, filters_);
    }
  }

 private:
  void gather(T* windows, const T* src, const std::vector<Index>& offsets, Index width, Index column) const {
    for (Index p = 0; p < positions_; ++p) {
      T* row = windows + p * depth_ + column;
      const Index* off = offsets.data() + p * taps_;
      for (Index t = 0; t < taps_; ++t) {
        if (off[t] >= 0) {
          std::copy(src + off[t], src + off[t] + width, row + t * width);
        } else {
          std::fill(row + t * width, row + (t + 1) * width, T(0));
        }
      }
    }
  }

  const PackedMatrix<T>* kernel_;
  const PackedMatrix<T>* recurrent_;
  const PackedMatrix<T>* bias_;
  const LSTMGates<T>* gates_;
  Index filters_, in_channels_, taps_, positions_, depth_;
  std::vector<Index> x_offsets_;
  std::vector<Index> h_offsets_;
};

}  // namespace detail

/// Keras `ConvLSTM1D` (N = 1), `ConvLSTM2D` (N = 2), `ConvLSTM3D` (N = 3), channels_last:
/// (batch, time, s_1, ..., s_N, in_channels) -> (batch, time, o_1, ..., o_N, filters) with
/// return_sequences, else (batch, o_1, ..., o_N, filters).
///
/// An LSTM whose products are convolutions. Per step, with x_t (batch, s..., in_channels) and
/// h, c (batch, o..., filters):
///     z = conv(x_t, kernel; strides, padding, dilation_rate) + bias + conv(h, recurrent_kernel; 1, "same")
///     i = ra(z[..., 0:f])  f = ra(z[..., f:2f])  g = a(z[..., 2f:3f])  o = ra(z[..., 3f:4f])
///     c = f * c + i * g;   h = o * a(c)
/// with a = activation, ra = recurrent_activation; gate blocks i, f, c (g), o as in Keras.
/// Output sizes as Keras' convolutions (detail::conv_axis). Weights, as Keras' get_weights():
/// [kernel (k_1, ..., k_N, in_channels, 4 filters), recurrent_kernel (k_1, ..., k_N, filters,
/// 4 filters), bias (4 filters,)] (no bias without use_bias). Initial weights as Keras:
/// glorot_uniform kernel, orthogonal recurrent kernel (as a (taps filters, 4 filters) matrix),
/// zero bias with the forget block at 1 when unit_forget_bias.
///
/// go_backwards, masks ((batch, time); masked steps carry the state), initial states, stateful
/// and zero_output_for_mask behave as in LSTM (detail::RecurrentLayer); a stateful layer is
/// called through a non-const reference. The output's rank depends on return_sequences, so calls
/// return AnyTensor. Computed by detail::ConvLSTMCell through the recurrence LSTM, GRU and
/// SimpleRNN share (detail::run_recurrence).
template <class T, int N>
class ConvLSTM {
  static_assert(std::is_floating_point_v<T>, "strata::ConvLSTM: the scalar type must be float or double.");
  static_assert(N >= 1 && N <= 3, "strata::ConvLSTM: 1, 2 or 3 spatial axes (ConvLSTM1D, ConvLSTM2D, ConvLSTM3D).");

 public:
  using Scalar = T;
  using Options = ConvLSTMOptions<N>;
  using Sizes = typename Options::Sizes;
  /// The initial-state type {h, c}, each (batch, o_1, ..., o_N, filters).
  using State = ConvLSTMState<T, N>;
  using Result = ConvLSTMResult<T, N>;
  static constexpr int state_count = 2;
  static constexpr int rank = N;
  static constexpr const char* class_name = N == 1 ? "ConvLSTM1D" : N == 2 ? "ConvLSTM2D" : "ConvLSTM3D";

  /// Keras `ConvLSTMND(filters, kernel_size, ...)`. Throws value_error for values Keras refuses
  /// (filters, kernel sizes, strides or dilations below 1, strides > 1 with dilation_rate > 1),
  /// a padding other than "valid"/"same", an unknown or softmax-like activation, or data_format
  /// "channels_first" (not implemented).
  ConvLSTM(Index filters, const Sizes& kernel_size, const Options& options = Options())
      : filters_(filters),
        kernel_size_(kernel_size),
        strides_(options.strides()),
        dilation_(options.dilation_rate()),
        use_bias_(options.use_bias()),
        unit_forget_bias_(options.unit_forget_bias()),
        core_(options),
        seed_(options.seed()),
        name_(options.name()) {
    detail::check_conv_options(describe(), filters_, kernel_size_, strides_, dilation_, 1);
    const auto padding = detail::parse_conv_padding(options.padding(), false);
    if (!padding) {
      throw value_error(
          detail::concat(describe(), ": padding must be \"valid\" or \"same\"; got \"", options.padding(), "\""));
    }
    padding_ = *padding;
    if (options.data_format() != "channels_last") {
      throw value_error(detail::concat(describe(), ": data_format \"", options.data_format(),
                                       "\" is not supported; strata implements \"channels_last\" only"));
    }
    activation_ = detail::parse_recurrent_activation(options.activation(), "activation", describe());
    recurrent_activation_ =
        detail::parse_recurrent_activation(options.recurrent_activation(), "recurrent_activation", describe());
    taps_ = 1;
    for (Index k : kernel_size_) taps_ *= k;
    gates_ = detail::LSTMGates<T>(filters_, activation_, recurrent_activation_);
    if (options.input_dim() < 0) {
      throw value_error(detail::concat(describe(), ": input_dim must be positive; got ", options.input_dim()));
    }
    if (options.input_dim() > 0) build(options.input_dim());
  }
  /// The same with one kernel size for every axis.
  ConvLSTM(Index filters, Index kernel_size, const Options& options = Options())
      : ConvLSTM(filters, filled(kernel_size), options) {}

  Index filters() const { return filters_; }
  /// The state's channels (Bidirectional's "units"): filters.
  Index units() const { return filters_; }
  const Sizes& kernel_size() const { return kernel_size_; }
  const Sizes& strides() const { return strides_; }
  const Sizes& dilation_rate() const { return dilation_; }
  std::string padding() const { return detail::conv_padding_name(padding_); }
  Activation activation() const { return activation_; }
  Activation recurrent_activation() const { return recurrent_activation_; }
  bool use_bias() const { return use_bias_; }
  bool unit_forget_bias() const { return unit_forget_bias_; }
  bool return_sequences() const { return core_.return_sequences(); }
  bool return_state() const { return core_.return_state(); }
  bool go_backwards() const { return core_.go_backwards(); }
  bool stateful() const { return core_.stateful(); }
  bool zero_output_for_mask() const { return core_.zero_output_for_mask(); }
  const std::string& name() const { return name_; }
  bool built() const { return in_channels_ > 0; }
  /// Input channels (the last axis); 0 until built.
  Index input_dim() const { return in_channels_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  /// Changes go_backwards, zero_output_for_mask or the name (Bidirectional derives its backward
  /// layer this way); weights are kept.
  void set_go_backwards(bool on) { core_.set_go_backwards(on); }
  void set_zero_output_for_mask(bool on) { core_.set_zero_output_for_mask(on); }
  void set_name(std::string name) { name_ = std::move(name); }

  /// Keras build for `channels` input channels: glorot_uniform kernel (fan_in = taps channels,
  /// fan_out = taps 4 filters), orthogonal recurrent kernel, zero bias (forget block 1 with
  /// unit_forget_bias), from the seed.
  void build(Index channels) {
    if (channels < 1)
      throw value_error(detail::concat(describe(), ": input channels must be at least 1; got ", channels));
    const Index g = 4 * filters_;
    auto gen = detail::Generator::from(seed_);
    std::vector<T> kernel(static_cast<std::size_t>(kernel_shape(channels).size()));
    const double limit = std::sqrt(6.0 / static_cast<double>(taps_ * channels + taps_ * g));
    for (T& v : kernel) v = static_cast<T>((2.0 * gen.uniform() - 1.0) * limit);
    std::vector<T> recurrent(static_cast<std::size_t>(taps_ * filters_ * g));
    detail::orthogonal(recurrent.data(), taps_ * filters_, g, gen);
    Tensor<T, 1> bias(use_bias_ ? g : 0);
    bias.setZero();
    if (use_bias_ && unit_forget_bias_) {
      for (Index j = filters_; j < 2 * filters_; ++j) bias(j) = T(1);
    }
    assign(kernel.data(), channels, recurrent.data(), std::move(bias));
  }

  /// Keras get_weights(): [kernel (k..., in_channels, 4 filters), recurrent_kernel (k...,
  /// filters, 4 filters), bias (4 filters,)].
  Weights<T> get_weights() const {
    require_built("get_weights");
    AnyTensor<T> kernel = AnyTensor<T>::uninitialized(kernel_shape(in_channels_));
    AnyTensor<T> recurrent = AnyTensor<T>::uninitialized(kernel_shape(filters_));
    kernel_.unpack(kernel.data());
    recurrent_.unpack(recurrent.data());
    Weights<T> w{std::move(kernel), std::move(recurrent)};
    if (use_bias_) w.emplace_back(bias_);
    return w;
  }

  /// Keras set_weights(): the list get_weights() gives. An unbuilt layer takes its input channels
  /// from the kernel. Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, use_bias_ ? 3 : 2, describe(),
                               use_bias_ ? "kernel, recurrent_kernel, bias" : "kernel, recurrent_kernel");
    Index channels = in_channels_;
    if (!built()) {
      const Shape k = weights[0].shape();
      if (weights[0].empty() || k.rank() != N + 2 || k[N] < 1) {
        throw shape_error(detail::concat(describe(), ": weight 0 (kernel) must have shape ",
                                         kernel_text("in_channels >= 1"), "; got ",
                                         weights[0].empty() ? std::string("an empty tensor") : k.to_string()));
      }
      channels = k[N];
    }
    check_weight_shape(weights[0], kernel_shape(channels), "kernel", 0);
    check_weight_shape(weights[1], kernel_shape(filters_), "recurrent_kernel", 1);
    Tensor<T, 1> bias(use_bias_ ? 4 * filters_ : 0);
    if (use_bias_) bias = detail::check_weight<1>(weights[2], Shape{4 * filters_}, describe(), "bias", 2);
    assign(weights[0].data(), channels, weights[1].data(), std::move(bias));
  }

  /// The bias (empty without use_bias).
  const Tensor<T, 1>& bias() const { return bias_; }

  Index count_params() const {
    require_built("count_params");
    return taps_ * (in_channels_ + filters_) * 4 * filters_ + (use_bias_ ? 4 * filters_ : 0);
  }

  /// Forgets the stored state of a stateful layer (Keras reset_states()).
  void reset_states() {
    core_.reset_states();
    state_shape_ = Shape();
  }
  bool has_states() const { return core_.has_states(); }
  /// The stored state of a stateful layer (empty tensors when there is none).
  State states() const {
    State s;
    if (!core_.has_states()) return s;
    const auto dims = detail::to_dims<N + 2>(state_shape_);
    s.h = ConstTensorMap<T, N + 2>(core_.states()[0].data(), dims);
    s.c = ConstTensorMap<T, N + 2>(core_.states()[1].data(), dims);
    return s;
  }

  static constexpr int output_rank(int input_rank) { return input_rank == N + 3 ? dynamic_rank : invalid_rank; }

  /// (batch, time, s..., in_channels) -> (batch, time, o..., filters) or (batch, o..., filters).
  /// Throws shape_error for another rank or channel count, no time step, or with padding "valid"
  /// a spatial axis shorter than the dilated kernel; value_error when not built.
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    const Shape state = state_shape(input);
    Shape out{input[0]};
    if (core_.return_sequences()) out.push_back(input[1]);
    for (Index k = 1; k < state.rank(); ++k) out.push_back(state[k]);
    return out;
  }

  /// The shape of h and c, (batch, o_1, ..., o_N, filters), for an input shape; throws shape_error
  /// as compute_output_shape does.
  Shape state_shape(const Shape& input) const {
    if (input.rank() != N + 3 || input.back() != in_channels_) throw_rank(input);
    if (input[1] == 0) {
      throw shape_error(
          detail::concat(describe(), ": input must have at least one time step; got shape ", input.to_string()));
    }
    Shape s{input[0]};
    for (int i = 0; i < N; ++i) {
      const detail::ConvAxis a = axis(input, i);
      if (a.out < 1) {
        throw shape_error(detail::concat(
            describe(), ": with padding \"valid\", spatial axis ", i + 1, " of input shape ", input.to_string(),
            " has size ", a.in, ", shorter than the dilated kernel (kernel_size ", a.kernel, ", dilation_rate ",
            a.dilation, ": ", a.span(), "); the output size would be < 1"));
      }
      s.push_back(a.out);
    }
    s.push_back(filters_);
    (void)s.size();
    return s;
  }

  /// Keras compute_mask: the input mask with return_sequences, else none.
  const Mask* compute_mask(const Mask* mask) const { return core_.output_mask(mask); }

  /// Low-level call on raw row-major memory; output must hold compute_output_shape(input_shape).
  /// Starts from zeros; mask (batch, time) or null. A stateful layer throws value_error.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size,
               const Mask* mask = nullptr) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    run(*this, input, input_shape, nullptr, mask, output, nullptr);
  }

  /// Keras `layer(x)` on a rank N + 3 Tensor, TensorMap, AnyTensor or TensorView.
  template <class X>
  AnyTensor<T> operator()(const X& x) const {
    return call_with(*this, x, nullptr, nullptr).output;
  }
  template <class X>
  AnyTensor<T> operator()(const X& x) {
    return call_with(*this, x, nullptr, nullptr).output;
  }
  /// Keras `layer(x, mask=mask)`, mask (batch, time).
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) const {
    return call_with(*this, x, nullptr, &mask).output;
  }
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) {
    return call_with(*this, x, nullptr, &mask).output;
  }
  /// The output and the final state, from `initial_state` (null: zeros, or non-const, a stateful
  /// layer's stored state); mask may be null.
  template <class X>
  Result call(const X& x, const State* initial_state = nullptr, const Mask* mask = nullptr) const {
    return call_with(*this, x, initial_state, mask);
  }
  template <class X>
  Result call(const X& x, const State* initial_state = nullptr, const Mask* mask = nullptr) {
    return call_with(*this, x, initial_state, mask);
  }
  /// Keras' return value as a list: [output], or with return_state [output, h, c].
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State* initial_state = nullptr,
                                    const Mask* mask = nullptr) const {
    return to_list(call_with(*this, x, initial_state, mask));
  }
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State* initial_state = nullptr, const Mask* mask = nullptr) {
    return to_list(call_with(*this, x, initial_state, mask));
  }

  bool carries_state() const { return core_.stateful(); }
  int output_count() const { return core_.return_state() ? 3 : 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  static constexpr bool takes_mask = true;
  /// Keras config: filters, kernel_size, strides, padding, data_format, dilation_rate,
  /// activation, recurrent_activation (hard_sigmoid by default in files of Keras <= 2.2, sigmoid
  /// since), use_bias, unit_forget_bias, and the recurrent options; dropout and
  /// recurrent_dropout act in training only. data_format "channels_first" is an
  /// unsupported_error.
  ///
  /// Keras 1.2 (ConvLSTM2D, convolutional_recurrent.py): nb_filter, nb_row, nb_col, subsample,
  /// border_mode ("valid"/"same"), dim_ordering ("tf"; "th" is refused), activation,
  /// inner_activation (default hard_sigmoid, Keras 1's clip(0.2x + 0.5)), return_sequences,
  /// go_backwards, stateful; always a bias. A Theano-backend file's kernels are flipped back;
  /// its "same" convolutions (the recurrent one always) load for odd kernels and stride 1 only.
  static ConvLSTM from_config(const LayerConfig<T>& config) {
    if constexpr (N == 2) {
      if (config.keras_version().keras1()) return from_keras1_config(config);
    }
    const std::string format = config.string("data_format", "channels_last");
    if (format != "channels_last") {
      config.unsupported(detail::concat("data_format '", format, "' is not supported (only channels_last is)"));
    }
    const char* gate_default = config.keras_version().pre_2_3_defaults() ? "hard_sigmoid" : "sigmoid";
    Options options;
    options.strides(sizes(config, "strides", 1))
        .dilation_rate(sizes(config, "dilation_rate", 1))
        .padding(config.string("padding", "valid"))
        .unit_forget_bias(config.boolean("unit_forget_bias", true))
        .recurrent_activation(config.activation("recurrent_activation", gate_default))
        .activation(config.activation("activation", "tanh"))
        .use_bias(config.boolean("use_bias", true));
    detail::read_sequence_options(options, config).name(config.name());
    return ConvLSTM(config.integer("filters"), sizes(config, "kernel_size", 0), options);
  }
  /// Keras' weights, kept by the layer's cell (`.keras` path "cell"): kernel, recurrent_kernel,
  /// bias.
  std::size_t weight_count() const { return use_bias_ ? 3 : 2; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    if (inputs.empty() || inputs[0].rank() != N + 3) throw_rank(inputs.empty() ? Shape() : inputs[0]);
    const Index channels = inputs[0].back();
    WeightGroup group{"cell",
                      {{"kernel", kernel_shape(channels), ""}, {"recurrent_kernel", kernel_shape(filters_), ""}}};
    if (use_bias_) group.weights.push_back({"bias", Shape{4 * filters_}, ""});
    return {group};
  }
  /// Keras 1 files: ConvLSTM2D stored its weights per gate, W_g (k..., in_channels, filters),
  /// U_g (k..., filters, filters), b_g (filters,) for the gates i, c, f, o (Keras 1's
  /// trainable_weights order).
  std::vector<WeightGroup> legacy_weight_groups(const std::vector<Shape>& inputs, const KerasVersion& version) const {
    if (!version.keras1() || !use_bias_) return {};
    const std::vector<WeightGroup> keras2 = weight_groups(inputs);
    const char* note = version.theano_backend() ? " (Keras 1's per-gate layout; Theano's flipped kernel)"
                                                : " (Keras 1's per-gate layout)";
    WeightGroup group{"cell", {}};
    for (const detail::Keras1Gate& g : keras1_gates) {
      const std::string gate = g.name;
      group.weights.push_back({"W_" + gate, gate_shape(keras2[0].weights[0].shape), note});
      group.weights.push_back({"U_" + gate, gate_shape(keras2[0].weights[1].shape), note});
      group.weights.push_back({"b_" + gate, Shape{filters_}, note});
    }
    return {group};
  }
  /// Keras 1's per-gate arrays (legacy_weight_groups) -> [kernel, recurrent_kernel, bias]: each
  /// gate's W, U and b in its block of Keras 2's gate order i, f, c, o (Keras 2's
  /// preprocess_weights_for_loading: kernel = [0, 6, 3, 9] concatenated on the last axis, ...);
  /// a Theano file's kernels flipped back along the spatial axes (conv_utils.convert_kernel).
  /// Throws shape_error on a wrong count or shape.
  Weights<T> convert_legacy_weights(Weights<T> stored, const KerasVersion& version) const {
    if (stored.size() != 12) {
      throw shape_error(
          detail::concat(describe(), ": Keras 1's per-gate layout has 12 weight arrays; got ", stored.size()));
    }
    const Shape& first = stored[0].shape();
    const Index channels = first.rank() == N + 2 ? first[N] : 0;
    const Shape want[3] = {gate_shape(kernel_shape(channels)), gate_shape(kernel_shape(filters_)), Shape{filters_}};
    const Index f = filters_;
    AnyTensor<T> out[3] = {AnyTensor<T>::uninitialized(kernel_shape(channels)),
                           AnyTensor<T>::uninitialized(kernel_shape(filters_)),
                           AnyTensor<T>::uninitialized(Shape{4 * f})};
    const bool flip = version.theano_backend();
    for (std::size_t k = 0; k < keras1_gates.size(); ++k) {
      const Index first_col = keras1_gates[k].position * f;
      for (std::size_t a = 0; a < 3; ++a) {
        const AnyTensor<T>& w = stored[3 * k + a];
        if (channels < 1 || w.shape() != want[a]) {
          throw shape_error(detail::concat(describe(), ": Keras 1 weight ", 3 * k + a, " (", "WUb"[a], "_",
                                           keras1_gates[k].name, ") must have shape ", want[a].to_string(), "; got ",
                                           w.shape().to_string()));
        }
        // Rows are (tap, channel) pairs; a flip of every spatial axis reverses the tap order.
        const Index per_tap = a == 2 ? 1 : want[a][N];
        const Index taps = a == 2 ? 1 : taps_;
        for (Index t = 0; t < taps; ++t) {
          const Index from = flip ? taps - 1 - t : t;
          for (Index c = 0; c < per_tap; ++c) {
            const T* src = w.data() + (from * per_tap + c) * f;
            std::copy(src, src + f, out[a].data() + (t * per_tap + c) * 4 * f + first_col);
          }
        }
      }
    }
    return {std::move(out[0]), std::move(out[1]), std::move(out[2])};
  }
  /// The output, then with return_state h and c; the inputs are the sequence and optionally the
  /// initial h and c.
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    check_input_count(inputs.size());
    const Shape out = compute_output_shape(inputs[0]);
    const Shape state = state_shape(inputs[0]);
    for (std::size_t k = 1; k < inputs.size(); ++k) {
      if (inputs[k] != state) {
        throw shape_error(detail::concat(describe(), ": initial state ", k - 1, " must have shape ", state.to_string(),
                                         "; it is given ", inputs[k].to_string()));
      }
    }
    std::vector<Shape> result{out};
    if (core_.return_state()) result.insert(result.end(), 2, state);
    return result;
  }
  /// Keras compute_mask: the output sequence keeps the input's (batch, time) mask; states have none.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    const int mask = masks.empty() ? 0 : masks[0];
    detail::check_recurrent_mask_rank(mask, describe());
    std::vector<int> out(output_shapes(inputs).size(), 0);
    if (core_.return_sequences()) out[0] = mask;
    return out;
  }
  void call_graph(GraphCall<T>& c) const { graph(*this, c); }
  void call_graph(GraphCall<T>& c) { graph(*this, c); }

 private:
  static Sizes filled(Index v) {
    Sizes s;
    s.fill(v);
    return s;
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
    if (!built()) detail::throw_unbuilt(describe(), what, "ConvLSTMOptions");
  }

  // Keras 1.2's trainable_weights are LSTM's: W_i, U_i, b_i, W_c, ..., b_o (Keras 2 columns i, f, c, o).
  static constexpr const auto& keras1_gates = LSTM<T>::keras1_gates;

  // A Keras 2 kernel shape (k..., channels, 4 filters) -> one gate's (k..., channels, filters).
  Shape gate_shape(Shape s) const {
    s[s.rank() - 1] = filters_;
    return s;
  }

  // Keras 1.2's ConvLSTM2D config (convolutional_recurrent.py).
  static ConvLSTM from_keras1_config(const LayerConfig<T>& config) {
    static_assert(N == 2, "strata::ConvLSTM: Keras 1 had ConvLSTM2D only.");
    const std::string border = detail::keras1_border_mode(config);
    const Sizes kernel{config.integer("nb_row", 1, detail::conv_max_option),
                       config.integer("nb_col", 1, detail::conv_max_option)};
    const Sizes strides = config.has("subsample") ? sizes(config, "subsample", 1) : filled(1);
    if (config.keras_version().theano_backend()) {
      // Theano's "same" (border_mode "half", then a crop for an even kernel) is TensorFlow's only for
      // odd kernels and stride 1; the recurrent convolution is always "same".
      for (std::size_t a = 0; a < kernel.size(); ++a) {
        if (kernel[a] % 2 == 0 || (border == "same" && strides[a] != 1)) {
          config.unsupported(
              "a Theano-backend file's ConvLSTM2D with an even kernel size, or 'same' padding and a stride above 1, "
              "is not supported: Theano padded its 'same' convolutions (the recurrent one always) differently from "
              "TensorFlow (border_mode 'half', then a crop)");
        }
      }
    }
    Options options;
    options.strides(strides)
        .padding(border)
        .recurrent_activation(config.activation("inner_activation", "hard_sigmoid"))
        .activation(config.activation("activation", "tanh"));
    detail::read_sequence_options(options, config).name(config.name());
    return ConvLSTM(config.integer("nb_filter"), kernel, options);
  }

  Shape kernel_shape(Index channels) const {
    Shape s;
    for (Index k : kernel_size_) s.push_back(k);
    s.push_back(channels);
    s.push_back(4 * filters_);
    (void)s.size();
    return s;
  }
  std::string kernel_text(const std::string& channels) const {
    std::string s = "(";
    for (Index k : kernel_size_) s += std::to_string(k) + ", ";
    return s + channels + ", " + std::to_string(4 * filters_) + ")";
  }
  void check_weight_shape(const AnyTensor<T>& w, const Shape& want, const char* what, std::size_t position) const {
    if (w.shape() != want) {
      throw shape_error(detail::concat(describe(), ": weight ", position, " (", what, ") must have shape ",
                                       want.to_string(), "; got ",
                                       w.empty() ? std::string("an empty tensor") : w.shape().to_string()));
    }
  }

  [[noreturn]] void throw_rank(const Shape& input) const {
    throw shape_error(detail::concat(describe(), ": input must have rank ", N + 3, " (batch, time, ",
                                     N == 1   ? "steps"
                                     : N == 2 ? "rows, cols"
                                              : "dim1, dim2, dim3",
                                     ", channels=", built() ? std::to_string(in_channels_) : std::string("?"),
                                     "); got shape ", input.to_string()));
  }

  detail::ConvAxis axis(const Shape& input, int i) const {
    const auto u = static_cast<std::size_t>(i);
    return detail::conv_axis(input[i + 2], kernel_size_[u], strides_[u], dilation_[u], padding_);
  }

  // Per output position and tap, the offset of the window's first value in a sample (positions
  // in row-major order, taps in the kernel's row-major order), or -1 where it is padding.
  static std::vector<Index> window_offsets(const std::array<detail::ConvAxis, static_cast<std::size_t>(N)>& axes,
                                           const Sizes& kernel, Index channels) {
    Index positions = 1, taps = 1;
    for (int i = 0; i < N; ++i) {
      positions *= axes[static_cast<std::size_t>(i)].out;
      taps *= kernel[static_cast<std::size_t>(i)];
    }
    std::vector<Index> offsets(static_cast<std::size_t>(positions * taps));
    std::array<Index, static_cast<std::size_t>(N)> o{};
    for (Index p = 0; p < positions; ++p) {
      std::array<Index, static_cast<std::size_t>(N)> t{};
      for (Index tap = 0; tap < taps; ++tap) {
        Index off = 0;
        for (int i = 0; i < N; ++i) {
          const auto u = static_cast<std::size_t>(i);
          const detail::ConvAxis& a = axes[u];
          const Index pos = o[u] * a.stride - a.pad + t[u] * a.dilation;
          if (pos < 0 || pos >= a.in) {
            off = -1;
            break;
          }
          off = off * a.in + pos;
        }
        offsets[static_cast<std::size_t>(p * taps + tap)] = off < 0 ? -1 : off * channels;
        odometer(t, kernel);
      }
      std::array<Index, static_cast<std::size_t>(N)> outs{};
      for (int i = 0; i < N; ++i) outs[static_cast<std::size_t>(i)] = axes[static_cast<std::size_t>(i)].out;
      odometer(o, outs);
    }
    return offsets;
  }
  static void odometer(std::array<Index, static_cast<std::size_t>(N)>& v, const Sizes& limits) {
    for (int i = N - 1; i >= 0; --i) {
      const auto u = static_cast<std::size_t>(i);
      if (++v[u] < limits[u]) return;
      v[u] = 0;
    }
  }

  // The cell for one input shape (validated): the window tables of the input and the recurrent
  // convolution.
  detail::ConvLSTMCell<T> make_cell(const Shape& input) const {
    std::array<detail::ConvAxis, static_cast<std::size_t>(N)> x_axes, h_axes;
    Index positions = 1;
    for (int i = 0; i < N; ++i) {
      const auto u = static_cast<std::size_t>(i);
      x_axes[u] = axis(input, i);
      h_axes[u] = detail::conv_axis(x_axes[u].out, kernel_size_[u], 1, 1, detail::ConvPadding::same);
      positions *= x_axes[u].out;
    }
    return detail::ConvLSTMCell<T>(kernel_, recurrent_, use_bias_ ? &bias_packed_ : nullptr, gates_, filters_,
                                   in_channels_, taps_, positions, window_offsets(x_axes, kernel_size_, in_channels_),
                                   window_offsets(h_axes, kernel_size_, filters_));
  }

  // Packs into new matrices, then commits: a failure (bad_alloc) leaves the layer as it was.
  void assign(const T* kernel, Index channels, const T* recurrent, Tensor<T, 1> bias) {
    const Index g = 4 * filters_;
    detail::PackedMatrix<T> k(kernel, taps_ * channels, g);
    detail::PackedMatrix<T> r(recurrent, taps_ * filters_, g);
    detail::PackedMatrix<T> b;
    if (use_bias_) b.pack(bias.data(), 1, g);
    kernel_ = std::move(k);
    recurrent_ = std::move(r);
    bias_packed_ = std::move(b);
    bias_ = std::move(bias);
    in_channels_ = channels;
  }

  void check_input_count(std::size_t n) const {
    if (n != 1 && n != 3) {
      throw value_error(detail::concat(
          describe(), ": takes an input and optionally 2 initial state tensors; it is given ", n, " tensors"));
    }
  }

  std::vector<AnyTensor<T>> to_list(Result r) const {
    std::vector<AnyTensor<T>> out;
    out.push_back(std::move(r.output));
    if (core_.return_state()) {
      out.emplace_back(std::move(r.h));
      out.emplace_back(std::move(r.c));
    }
    return out;
  }

  // Runs the recurrence: initial (h, c) pointers or nulls, finals likewise. Self is `const
  // ConvLSTM` (refuses a stateful layer) or `ConvLSTM` (updates its stored state).
  template <class Self>
  static void run(Self& layer, const T* x, const Shape& in, const std::array<const T*, 2>* initial, const Mask* mask,
                  T* out, const std::array<T*, 2>* finals) {
    const Shape state = layer.state_shape(in);
    const Index units = state.size() / std::max<Index>(in[0], 1);
    const Index features = in.size() / std::max<Index>(in[0] * in[1], 1);
    const Shape flat{in[0], in[1], features};
    layer.core_.check_inputs({}, mask, flat, units, layer.describe(), {{"h", "c"}});
    const detail::ConvLSTMCell<T> cell = layer.make_cell(in);
    const std::array<const T*, 2> init = initial != nullptr ? *initial : std::array<const T*, 2>{};
    const std::array<T*, 2> fin = finals != nullptr ? *finals : std::array<T*, 2>{};
    if constexpr (std::is_const_v<Self>) {
      layer.core_.run(cell, x, flat, init, mask, out, fin, layer.describe());
    } else {
      if (layer.core_.stateful() && layer.core_.has_states() && layer.state_shape_ != state) {
        throw shape_error(detail::concat(layer.describe(), ": stateful layer holds states of shape ",
                                         layer.state_shape_.to_string(), "; input shape ", in.to_string(),
                                         " needs states of shape ", state.to_string(),
                                         " (call reset_states() to change it)"));
      }
      layer.core_.run_stateful(cell, x, flat, init, mask, out, fin, layer.describe());
      if (layer.core_.stateful()) layer.state_shape_ = state;
    }
  }

  template <class Self, class X>
  static Result call_with(Self& layer, const X& x, const State* initial, const Mask* mask) {
    if constexpr (detail::is_tensor_input_v<X, T>) {
      static_assert(X::NumIndices == N + 3,
                    "strata::ConvLSTM: the input must have rank N + 3 (batch, time, spatial axes..., channels).");
    }
    const auto [data, in] = detail::sequence_input<T, N + 3>(x, layer.describe());
    std::array<const T*, 2> init{};
    if (initial != nullptr) init = {initial->h.data(), initial->c.data()};
    return run_views(layer, data, in, init,
                     initial != nullptr
                         ? std::array<Shape, 2>{detail::shape_of(initial->h), detail::shape_of(initial->c)}
                         : std::array<Shape, 2>{},
                     mask, true);
  }

  template <class Self>
  static Result run_views(Self& layer, const T* data, const Shape& in, const std::array<const T*, 2>& init,
                          const std::array<Shape, 2>& init_shapes, const Mask* mask, bool want_finals) {
    AnyTensor<T> output = AnyTensor<T>::uninitialized(layer.compute_output_shape(in));
    const Shape state = layer.state_shape(in);
    static constexpr const char* names[2] = {"h", "c"};
    for (std::size_t k = 0; k < 2; ++k) {
      if (!init_shapes[k].empty() && init_shapes[k] != state) {
        throw shape_error(detail::concat(layer.describe(), ": initial state ", names[k], " must have shape ",
                                         state.to_string(), "; got ", init_shapes[k].to_string()));
      }
    }
    Result r{std::move(output), {}, {}};
    std::array<T*, 2> finals{};
    if (want_finals) {
      r.h = Tensor<T, N + 2>(detail::to_dims<N + 2>(state));
      r.c = Tensor<T, N + 2>(detail::to_dims<N + 2>(state));
      finals = {r.h.data(), r.c.data()};
    }
    run(layer, data, in, &init, mask, r.output.data(), &finals);
    return r;
  }

  template <class Self>
  static void graph(Self& layer, GraphCall<T>& c) {
    layer.check_input_count(c.inputs.size());
    const TensorView<T>& x = c.inputs[0].tensor;
    if (x.empty()) throw shape_error(detail::concat(layer.describe(), ": the input tensor is empty"));
    std::array<const T*, 2> init{};
    std::array<Shape, 2> init_shapes{};
    if (c.inputs.size() > 1) {
      for (std::size_t k = 0; k < 2; ++k) {
        init[k] = c.inputs[k + 1].tensor.data();
        init_shapes[k] = c.inputs[k + 1].tensor.shape();
        if (init_shapes[k].empty()) {
          throw shape_error(detail::concat(layer.describe(), ": initial state ", k, " is empty"));
        }
      }
    }
    const MaskPtr& mask = c.inputs[0].mask;
    c.outputs =
        layer.to_list(run_views(layer, x.data(), x.shape(), init, init_shapes, mask.get(), layer.core_.return_state()));
    c.masks.assign(c.outputs.size(), MaskPtr());
    if (layer.core_.output_mask(mask.get()) != nullptr) c.masks[0] = mask;
  }

  Index filters_;
  Sizes kernel_size_;
  Sizes strides_;
  Sizes dilation_;
  detail::ConvPadding padding_ = detail::ConvPadding::valid;
  Activation activation_ = Activation::tanh;
  Activation recurrent_activation_ = Activation::sigmoid;
  bool use_bias_;
  bool unit_forget_bias_;
  detail::RecurrentCore<T, 2> core_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  Index taps_ = 1;
  Index in_channels_ = 0;
  Shape state_shape_;  // the shape of a stateful layer's stored state
  Tensor<T, 1> bias_;
  detail::PackedMatrix<T> kernel_;       // (taps in_channels, 4 filters): Keras' kernel as a matrix
  detail::PackedMatrix<T> recurrent_;    // (taps filters, 4 filters)
  detail::PackedMatrix<T> bias_packed_;  // (1, 4 filters)
  detail::LSTMGates<T> gates_;
};

/// Keras `ConvLSTM1D`: (batch, time, steps, channels) -> (batch, [time,] new_steps, filters).
template <class T>
using ConvLSTM1D = ConvLSTM<T, 1>;
/// Keras `ConvLSTM2D`: (batch, time, rows, cols, channels) -> (batch, [time,] new_rows, new_cols, filters).
template <class T>
using ConvLSTM2D = ConvLSTM<T, 2>;
/// Keras `ConvLSTM3D`: (batch, time, d1, d2, d3, channels) -> (batch, [time,] o1, o2, o3, filters).
template <class T>
using ConvLSTM3D = ConvLSTM<T, 3>;

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(ConvLSTM1D)
STRATA_REGISTER_LAYER(ConvLSTM2D)
STRATA_REGISTER_LAYER(ConvLSTM3D)

#endif  // STRATA_LAYERS_CONV_LSTM_HPP
