// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_SIMPLE_RNN_HPP
#define STRATA_LAYERS_SIMPLE_RNN_HPP

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../activations.hpp"
#include "../detail/chunks.hpp"
#include "../detail/gemm.hpp"
#include "../detail/init.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../detail/recurrent.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"

namespace strata {

/// Options of SimpleRNN, set by chaining: `SimpleRNNOptions().activation("relu")`. Defaults are
/// Keras 3's (activation "tanh"). Setters: detail::LayerOptions and detail::RecurrentOptions.
class SimpleRNNOptions : public detail::RecurrentOptions<SimpleRNNOptions> {
 public:
  SimpleRNNOptions() : RecurrentOptions("tanh") {}
};

namespace detail {

/// The SimpleRNN step h = a(x W + h U + b) on packed weights, without allocating.
template <class T>
class SimpleRNNCell {
 public:
  static constexpr int state_count = 1;

  SimpleRNNCell() = default;
  SimpleRNNCell(Index units, Activation activation) : units_(units), activation_(activation) {}

  /// Packs row-major kernel (features, u), recurrent kernel (u, u) and bias (u) or null.
  void set(const T* kernel, Index features, const T* recurrent, const T* bias) {
    features_ = features;
    kernel_.pack(kernel, features, units_);
    recurrent_.pack(recurrent, units_, units_);
    has_bias_ = bias != nullptr;
    if (has_bias_) bias_.pack(bias, 1, units_);
  }

  Index units() const { return units_; }
  Index features() const { return features_; }
  Index work_size() const { return units_; }

  void step(Index rows, const T* x, Index ldx, const T* h_prev, Index ld_prev, T* work, T* /*carry*/, T* h_out,
            Index ld_out) const {
    const GemmTerm<T> terms[2] = {{x, ldx, &kernel_}, {h_prev, ld_prev, &recurrent_}};
    gemm(rows, units_, terms, 2, has_bias_ ? &bias_ : nullptr, work, units_);
    Chunk<T> c;
    for (Index b = 0; b < rows; ++b) {
      for (Index j = 0; j < units_; j += chunk_size<T>) {
        const Index n = std::min<Index>(chunk_size<T>, units_ - j);
        load_chunk(c, work + b * units_ + j, n);
        apply_chunk(activation_, c);
        store_chunk(c, h_out + b * ld_out + j, n);
      }
    }
  }

 private:
  Index units_ = 0;
  Index features_ = 0;
  Activation activation_ = Activation::tanh;
  PackedMatrix<T> kernel_;
  PackedMatrix<T> recurrent_;
  PackedMatrix<T> bias_;
  bool has_bias_ = false;
};

}  // namespace detail

/// Keras `SimpleRNN(units, ...)` on (batch, time, features): h = activation(x_t . kernel + h .
/// recurrent_kernel + bias), output = h.
///
/// Weights, as Keras' get_weights(): [kernel (features, u), recurrent_kernel (u, u), bias (u,)]
/// (no bias without use_bias). Initial weights as Keras: glorot_uniform kernel, orthogonal
/// recurrent kernel, zero bias. Output: (batch, time, units) with return_sequences, else (batch,
/// units) (AnyTensor); with return_state, outputs() gives [output, h].
template <class T>
class SimpleRNN : public detail::SingleStateRecurrent<SimpleRNN<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::SimpleRNN: the scalar type must be float or double.");
  friend class detail::SingleStateRecurrent<SimpleRNN<T>, T>;

 public:
  static constexpr const char* class_name = "SimpleRNN";

  /// Throws value_error for units < 1, input_dim < 0, an unknown activation name, or softmax /
  /// log_softmax as the activation.
  explicit SimpleRNN(Index units, const SimpleRNNOptions& options = SimpleRNNOptions())
      : units_(units), use_bias_(options.use_bias()), core_(options), seed_(options.seed()), name_(options.name()) {
    if (units < 1) throw value_error(detail::concat(describe(), ": units must be at least 1; got ", units));
    activation_ = detail::parse_recurrent_activation(options.activation(), "activation", describe());
    if (options.input_dim() < 0) {
      throw value_error(detail::concat(describe(), ": input_dim must be positive; got ", options.input_dim()));
    }
    if (options.input_dim() > 0) build(options.input_dim());
  }

  Index units() const { return units_; }
  Activation activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }
  const std::string& name() const { return name_; }
  bool built() const { return input_dim_ > 0; }
  Index input_dim() const { return input_dim_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  void set_go_backwards(bool on) { core_.set_go_backwards(on); }
  void set_zero_output_for_mask(bool on) { core_.set_zero_output_for_mask(on); }
  void set_name(std::string name) { name_ = std::move(name); }

  /// Keras build: initial weights for `features` inputs per step.
  void build(Index features) {
    if (features < 1)
      throw value_error(detail::concat(describe(), ": input features must be at least 1; got ", features));
    auto gen = detail::Generator::from(seed_);
    Tensor<T, 2> kernel(features, units_);
    detail::glorot_uniform(kernel.data(), features, units_, gen);
    Tensor<T, 2> recurrent(units_, units_);
    detail::orthogonal(recurrent.data(), units_, units_, gen);
    Tensor<T, 1> bias(use_bias_ ? units_ : 0);
    bias.setZero();
    assign(std::move(kernel), std::move(recurrent), std::move(bias));
  }

  /// Keras get_weights(): [kernel (features, u), recurrent_kernel (u, u), bias (u,)].
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w{kernel_, recurrent_kernel_};
    if (use_bias_) w.emplace_back(bias_);
    return w;
  }

  /// Keras set_weights(); builds the layer if needed. Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, use_bias_ ? 3 : 2, describe(),
                               use_bias_ ? "kernel, recurrent_kernel, bias" : "kernel, recurrent_kernel");
    const Index features = built() ? input_dim_ : detail::features_from_kernel(weights[0], units_, describe());
    const auto& kernel = detail::check_weight<2>(weights[0], Shape{features, units_}, describe(), "kernel", 0);
    const auto& recurrent =
        detail::check_weight<2>(weights[1], Shape{units_, units_}, describe(), "recurrent_kernel", 1);
    Tensor<T, 1> bias(use_bias_ ? units_ : 0);
    if (use_bias_) bias = detail::check_weight<1>(weights[2], Shape{units_}, describe(), "bias", 2);
    assign(kernel, recurrent, std::move(bias));
  }

  const Tensor<T, 2>& kernel() const {
    require_built("kernel");
    return kernel_;
  }
  const Tensor<T, 2>& recurrent_kernel() const {
    require_built("recurrent_kernel");
    return recurrent_kernel_;
  }
  const Tensor<T, 1>& bias() const { return bias_; }
  const detail::SimpleRNNCell<T>& cell() const {
    require_built("cell");
    return cell_;
  }
  /// Keras count_params().
  Index count_params() const {
    require_built("count_params");
    return units_ * (input_dim_ + units_) + (use_bias_ ? units_ : 0);
  }

 private:
  const detail::RecurrentCore<T, 1>& core() const { return core_; }
  detail::RecurrentCore<T, 1>& core() { return core_; }
  void require_built(const char* what) const {
    if (!built()) detail::require_built(false, describe(), what, "SimpleRNNOptions");
  }

  void assign(Tensor<T, 2> kernel, Tensor<T, 2> recurrent, Tensor<T, 1> bias) {
    input_dim_ = kernel.dimension(0);
    kernel_ = std::move(kernel);
    recurrent_kernel_ = std::move(recurrent);
    bias_ = std::move(bias);
    cell_ = detail::SimpleRNNCell<T>(units_, activation_);
    cell_.set(kernel_.data(), input_dim_, recurrent_kernel_.data(), use_bias_ ? bias_.data() : nullptr);
  }

  Index units_;
  Activation activation_ = Activation::tanh;
  bool use_bias_;
  detail::RecurrentCore<T, 1> core_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  Index input_dim_ = 0;
  Tensor<T, 2> kernel_;
  Tensor<T, 2> recurrent_kernel_;
  Tensor<T, 1> bias_;
  detail::SimpleRNNCell<T> cell_;
};

}  // namespace strata

#endif  // STRATA_LAYERS_SIMPLE_RNN_HPP
