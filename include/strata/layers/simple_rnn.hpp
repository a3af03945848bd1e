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
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

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

  /// The kernel (features, u) and recurrent kernel (u, u) back in Keras' row-major layout.
  void unpack(T* kernel, T* recurrent) const {
    kernel_.unpack(kernel);
    recurrent_.unpack(recurrent);
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
/// units) (AnyTensor); with return_state, outputs() gives [output, h]. The calls and states are
/// detail::RecurrentLayer's (shared with LSTM and GRU).
template <class T>
class SimpleRNN : public detail::RecurrentLayer<SimpleRNN<T>, T, 1, Tensor<T, 1>> {
  static_assert(std::is_floating_point_v<T>, "strata::SimpleRNN: the scalar type must be float or double.");
  using Base = detail::RecurrentLayer<SimpleRNN<T>, T, 1, Tensor<T, 1>>;
  friend Base;

 public:
  static constexpr const char* class_name = "SimpleRNN";
  static constexpr const char* options_name = "SimpleRNNOptions";
  /// Kernel columns per unit.
  static constexpr Index gates = 1;

  /// Throws value_error for units < 1, input_dim < 0, an unknown activation name, or softmax /
  /// log_softmax as the activation.
  explicit SimpleRNN(Index units, const SimpleRNNOptions& options = SimpleRNNOptions()) : Base(units, options) {
    if (options.input_dim() > 0) this->build(options.input_dim());
  }

  const detail::SimpleRNNCell<T>& cell() const {
    this->require_built("cell");
    return cell_;
  }

  // --- Keras description (docs/design.md, "Adding a layer"); the rest is RecurrentLayer's.
  /// Keras config: units, activation, use_bias, and the recurrent options. Keras 1 names units
  /// output_dim and stores the weights as W, U, b: kernel, recurrent_kernel, bias.
  static SimpleRNN from_config(const LayerConfig<T>& config) {
    SimpleRNNOptions options;
    Base::common_options(config, options);
    return SimpleRNN(config.integer(config.spelling("units", "output_dim")), options);
  }

 private:
  Shape bias_shape() const { return Shape{this->units_}; }
  std::string bias_note() const { return ""; }
  Tensor<T, 1> initial_bias() const {
    Tensor<T, 1> bias(this->units_);
    bias.setZero();
    return bias;
  }
  detail::SimpleRNNCell<T> make_cell(const T* kernel, Index features, const T* recurrent, const T* bias) const {
    detail::SimpleRNNCell<T> cell(this->units_, this->activation_);
    cell.set(kernel, features, recurrent, bias);
    return cell;
  }

  detail::SimpleRNNCell<T> cell_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(SimpleRNN)

// SimpleRNNStream; streaming.hpp includes this header for SimpleRNN itself, so it comes after the class.
#include "../streaming.hpp"  // IWYU pragma: export

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
/// SimpleRNN's per-step form (Model::stream, through RecurrentLayer::make_step): SimpleRNNStream, bitwise
/// the sequence call at every step.
template <class T>
SimpleRNNStream<T> step_stream(const SimpleRNN<T>& layer, Index batch) {
  return SimpleRNNStream<T>(layer, batch);
}
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_LAYERS_SIMPLE_RNN_HPP
