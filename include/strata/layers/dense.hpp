// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_DENSE_HPP
#define STRATA_LAYERS_DENSE_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../activations.hpp"
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

/// Options of Dense, set by chaining: `DenseOptions().activation("relu").use_bias(false)`. The
/// setters (activation, default "linear"; use_bias; input_dim; seed; name) are described in
/// detail::LayerOptions.
class DenseOptions : public detail::LayerOptions<DenseOptions> {
 public:
  DenseOptions() : LayerOptions("linear") {}
};

/// Keras `Dense(units, activation, use_bias)`: y = activation(x . kernel + bias) on the last axis.
///
/// Takes any rank >= 2, (batch, d1, ..., dk, features) -> (batch, d1, ..., dk, units), with one
/// kernel for every position, so on a sequence it equals TimeDistributed(Dense) bit for bit.
/// Weights, as Keras' get_weights(): [kernel (features, units), bias (units,)] (no bias when
/// use_bias is false). Initial weights as Keras: glorot_uniform kernel, zero bias.
template <class T>
class Dense {
  static_assert(std::is_floating_point_v<T>, "strata::Dense: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "Dense";

  /// Throws value_error for units < 1, input_dim < 0 or an unknown activation name.
  explicit Dense(Index units, const DenseOptions& options = DenseOptions())
      : units_(units), use_bias_(options.use_bias()), seed_(options.seed()), name_(options.name()) {
    if (units < 1) throw value_error(detail::concat(describe(), ": units must be at least 1; got ", units));
    activation_ = parse_activation(options.activation(), describe());
    if (options.input_dim() < 0) {
      throw value_error(detail::concat(describe(), ": input_dim must be positive; got ", options.input_dim()));
    }
    if (options.input_dim() > 0) build(options.input_dim());
  }

  Index units() const { return units_; }
  Activation activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }
  const std::string& name() const { return name_; }
  /// Whether the layer has weights (built, or given weights).
  bool built() const { return input_dim_ > 0; }
  /// Size of the input's last axis; 0 until built.
  Index input_dim() const { return input_dim_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  /// Keras build: creates initial weights for inputs with `features` values on the last axis
  /// (glorot_uniform kernel from the seed, zero bias). Calling it again re-initialises the weights
  /// (the same ones again when a seed is set).
  void build(Index features) {
    if (features < 1)
      throw value_error(detail::concat(describe(), ": input features must be at least 1; got ", features));
    Tensor<T, 2> kernel(detail::to_dims<2>(detail::weight_shape(features, units_)));
    auto gen = detail::Generator::from(seed_);
    detail::glorot_uniform(kernel.data(), features, units_, gen);
    Tensor<T, 1> bias(use_bias_ ? units_ : 0);
    bias.setZero();
    assign(kernel, std::move(bias));
  }

  /// Keras get_weights(): [kernel (features, units), bias (units,)], or [kernel] without bias.
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w{kernel()};
    if (use_bias_) w.emplace_back(bias_);
    return w;
  }

  /// Keras set_weights(): takes the list get_weights() gives. Builds the layer if needed, taking
  /// the input size from the kernel. Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    const std::size_t count = use_bias_ ? 2 : 1;
    const std::string list = use_bias_ ? "kernel, bias" : "kernel";
    detail::check_weight_count(weights, count, describe(), list);
    const Index features = built() ? input_dim_ : detail::features_from_kernel(weights[0], units_, describe());
    const auto& kernel = detail::check_weight<2>(weights[0], Shape{features, units_}, describe(), "kernel", 0);
    Tensor<T, 1> bias(use_bias_ ? units_ : 0);
    if (use_bias_) bias = detail::check_weight<1>(weights[1], Shape{units_}, describe(), "bias", 1);
    assign(kernel, std::move(bias));
  }

  /// The kernel, (features, units); the layer must be built. The layer keeps its kernel only in
  /// the packed form its product reads (one copy of the weights in memory), so this is a copy
  /// made on request.
  Tensor<T, 2> kernel() const {
    require_built("kernel");
    Tensor<T, 2> k(input_dim_, units_);
    packed_kernel_.unpack(k.data());
    return k;
  }
  /// The bias, (units,); empty without bias.
  const Tensor<T, 1>& bias() const { return bias_; }

  /// Number of scalars in the weights (Keras count_params()); the layer must be built.
  Index count_params() const {
    require_built("count_params");
    return input_dim_ * units_ + (use_bias_ ? units_ : 0);
  }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }

  /// (batch, ..., features) -> (batch, ..., units); throws shape_error for rank < 2 or a last axis
  /// other than input_dim(), value_error when not built.
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    if (input.rank() < 2 || input.back() != input_dim_) {
      throw shape_error(detail::concat(describe(), ": input must have rank >= 2 (batch, ..., features=", input_dim_,
                                       "); got shape ", input.to_string()));
    }
    Shape out = input;
    out[out.rank() - 1] = units_;
    (void)out.size();
    return out;
  }

  /// Low-level call on raw row-major memory: output must hold compute_output_shape(input_shape).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    const Index rows = input_shape.product(0, input_shape.rank() - 1);
    const double flops_per_row = 2.0 * static_cast<double>(input_dim_) * static_cast<double>(units_);
    detail::parallel_rows(
        rows, detail::rows_worth_a_thread(flops_per_row), detail::GemmConfig<T>::tile_rows,
        [&](Index r0, Index r1) { forward_rows(input + r0 * input_dim_, r1 - r0, output + r0 * units_); });
  }

  /// The lowest-level call, for streams (one time step per call): `rows` rows of input_dim()
  /// values in, rows of units() values out, on the calling thread, without checks -- the same
  /// GEMM and activation code as forward(), so bitwise its rows. `sorted` is sparsemax's scratch
  /// (units() values; null: made here); with it, or any other activation, nothing allocates.
  /// The layer must be built.
  void forward_rows(const T* input, Index rows, T* output, T* sorted = nullptr) const {
    const detail::GemmTerm<T> term{input, input_dim_, &packed_kernel_};
    detail::gemm(rows, units_, &term, 1, use_bias_ ? &packed_bias_ : nullptr, output, units_);
    if (activation_ == Activation::sparsemax && sorted != nullptr) {
      for (Index r = 0; r < rows; ++r) detail::sparsemax_row(output + r * units_, units_, sorted);
    } else {
      apply_activation(activation_, output, rows, units_);
    }
  }

  /// Keras `dense(x)` on a Tensor or TensorMap of rank >= 2; returns a Tensor of the same rank.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, static_cast<int>(X::NumIndices)> operator()(const X& x) const {
    static_assert(X::NumIndices >= 2, "strata::Dense: the input must have rank 2 or more (batch, ..., features).");
    return detail::call_tensor(*this, x);
  }
  /// The same on a tensor of run-time rank; a rank below 2 throws shape_error.
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' Dense supports masking: the mask passes on.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  /// Keras config: units, activation, use_bias; Keras 1 names them output_dim, activation, bias
  /// and stores the weights as W, b: kernel, bias.
  static Dense from_config(const LayerConfig<T>& config) {
    return Dense(config.integer(config.spelling("units", "output_dim")),
                 DenseOptions()
                     .activation(config.activation("activation", "linear"))
                     .use_bias(config.boolean(config.spelling("use_bias", "bias"), true))
                     .name(config.name()));
  }
  /// Per-step form (Model::stream): Dense acts on the last axis, so one step is Dense on
  /// (batch, ..., features), bitwise the sequence call's rows (the GEMM does not depend on the
  /// rows around). Refuses (value_error) a last axis that is the time axis.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    const StepShape& in = detail::only_step_input(inputs, describe());
    detail::require_features_axis(in, describe(), "Dense");
    const Shape out = compute_output_shape(in.shape);
    return LayerStep<T>(RowsStep(*this, in.shape.product(0, in.shape.rank() - 1)), {StepShape{out, in.timed}});
  }
  /// Keras' weights: kernel (features, units), bias (units,).
  std::size_t weight_count() const { return use_bias_ ? 2 : 1; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& x = detail::only_input(inputs, describe());
    if (x.rank() < 2) {
      throw shape_error(detail::concat(describe(), ": input must have rank >= 2; got shape ", x.to_string()));
    }
    WeightGroup group{"", {{"kernel", Shape{x.back(), units_}, ""}}};
    if (use_bias_) group.weights.push_back({"bias", Shape{units_}, ""});
    return {group};
  }

 private:
  void require_built(const char* what) const {
    if (!built()) detail::throw_unbuilt(describe(), what, "DenseOptions");
  }

  // Packs into new matrices, then commits: a failure (bad_alloc) leaves the layer as it was.
  void assign(const Tensor<T, 2>& kernel, Tensor<T, 1> bias) {
    detail::PackedMatrix<T> packed_kernel(kernel.data(), kernel.dimension(0), units_);
    detail::PackedMatrix<T> packed_bias;
    if (use_bias_) packed_bias.pack(bias.data(), 1, units_);
    packed_kernel_ = std::move(packed_kernel);
    packed_bias_ = std::move(packed_bias);
    bias_ = std::move(bias);
    input_dim_ = kernel.dimension(0);
  }

  Index units_;
  Activation activation_ = Activation::linear;
  bool use_bias_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  Index input_dim_ = 0;
  Tensor<T, 1> bias_;
  // The per-step form: forward_rows on one step's rows, into a buffer (and sparsemax's scratch)
  // made once; no shape work per step.
  class RowsStep {
   public:
    RowsStep(const Dense& layer, Index rows)
        : layer_(layer), rows_(rows), out_(static_cast<std::size_t>(rows * layer.units())) {
      if (layer.activation() == Activation::sparsemax) sorted_.resize(static_cast<std::size_t>(layer.units()));
    }
    void step(const T* const* inputs, const T** outputs) {
      layer_.forward_rows(inputs[0], rows_, out_.data(), sorted_.empty() ? nullptr : sorted_.data());
      outputs[0] = out_.data();
    }

   private:
    Dense layer_;
    Index rows_;
    std::vector<T, Eigen::aligned_allocator<T>> out_;
    std::vector<T> sorted_;
  };

  detail::PackedMatrix<T> packed_kernel_;
  detail::PackedMatrix<T> packed_bias_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Dense)

#endif  // STRATA_LAYERS_DENSE_HPP
