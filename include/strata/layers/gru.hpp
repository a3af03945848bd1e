// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_GRU_HPP
#define STRATA_LAYERS_GRU_HPP

#include <algorithm>
#include <array>
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

/// Options of GRU, set by chaining: `GRUOptions().return_sequences(true).reset_after(false)`.
/// Defaults are Keras 3's. Common setters: detail::LayerOptions, detail::RecurrentOptions and
/// detail::GatedRecurrentOptions (recurrent_activation).
class GRUOptions : public detail::GatedRecurrentOptions<GRUOptions> {
 public:
  GRUOptions() : GatedRecurrentOptions("tanh") {}

  /// Keras `reset_after`: apply the reset gate after the recurrent product, with separate input
  /// and recurrent biases (bias shape (2, 3u)); default true (Keras 3, tf.keras 2). false is
  /// Keras <= 2.2's and tfjs' variant (bias (3u,)).
  GRUOptions& reset_after(bool on) {
    reset_after_ = on;
    return *this;
  }
  bool reset_after() const { return reset_after_; }

 private:
  bool reset_after_ = true;
};

namespace detail {

/// The GRU step on packed weights: one step for a block of rows, without allocating.
template <class T>
class GRUCell {
 public:
  static constexpr int state_count = 1;

  GRUCell() = default;
  GRUCell(Index units, Activation activation, Activation recurrent_activation, bool reset_after)
      : units_(units),
        activation_(activation),
        recurrent_activation_(recurrent_activation),
        reset_after_(reset_after) {}

  /// Packs row-major kernel (features, 3u), recurrent kernel (u, 3u) and bias -- (2, 3u) with
  /// reset_after, else (3u) -- or null.
  void set(const T* kernel, Index features, const T* recurrent, const T* bias) {
    const Index u = units_;
    features_ = features;
    kernel_.pack(kernel, features, 3 * u);
    has_bias_ = bias != nullptr;
    if (reset_after_) {
      recurrent_.pack(recurrent, u, 3 * u);
      if (has_bias_) {
        input_bias_.pack(bias, 1, 3 * u);
        recurrent_bias_.pack(bias + 3 * u, 1, 3 * u);
      }
    } else {
      recurrent_ = pack_columns(recurrent, u, 3 * u, 0, 2 * u);
      recurrent_h_ = pack_columns(recurrent, u, 3 * u, 2 * u, u);
      if (has_bias_) input_bias_.pack(bias, 1, 3 * u);
    }
  }

  /// The kernel (features, 3u) and recurrent kernel (u, 3u) back in Keras' row-major layout.
  void unpack(T* kernel, T* recurrent) const {
    kernel_.unpack(kernel);
    if (reset_after_) {
      recurrent_.unpack(recurrent);
    } else {
      recurrent_.unpack_columns(recurrent, 3 * units_, 0);
      recurrent_h_.unpack_columns(recurrent, 3 * units_, 2 * units_);
    }
  }

  Index units() const { return units_; }
  Index features() const { return features_; }
  /// Scratch per row: x . W (3u), h . U (3u), r * h (u).
  Index work_size() const { return 7 * units_; }

  /// h_out = GRU(x, h_prev) for `rows` rows (h_out may equal h_prev). Keras 3's arithmetic:
  ///   reset_after: xz = x W + b0, hz = h U + b1, z = ra(xz_z + hz_z), r = ra(xz_r + hz_r),
  ///                hh = a(xz_h + r * hz_h)
  ///   otherwise:   xz = x W + b, z = ra(xz_z + h U_z), r = ra(xz_r + h U_r),
  ///                hh = a(xz_h + (r * h) U_h)
  ///   h = z * h_prev + (1 - z) * hh
  void step(Index rows, const T* x, Index ldx, const T* h_prev, Index ld_prev, T* work, T* /*carry*/, T* h_out,
            Index ld_out) const {
    const Index u = units_;
    T* xz = work;
    T* hz = work + rows * 3 * u;
    T* rh = work + rows * 6 * u;
    const GemmTerm<T> x_term{x, ldx, &kernel_};
    gemm(rows, 3 * u, &x_term, 1, has_bias_ ? &input_bias_ : nullptr, xz, 3 * u);
    const GemmTerm<T> h_term{h_prev, ld_prev, &recurrent_};
    Chunk<T> cz, cr, ch, cx, cp;
    // g = act(a + b) on n values.
    const auto gate = [&cx](Chunk<T>& g, const T* a, const T* b, Index n, Activation act) {
      load_chunk(g, a, n);
      load_chunk(cx, b, n);
      g = g + cx;
      apply_chunk(act, g);
    };
    if (reset_after_) {
      gemm(rows, 3 * u, &h_term, 1, has_bias_ ? &recurrent_bias_ : nullptr, hz, 3 * u);
      for (Index b = 0; b < rows; ++b) {
        const T* xr = xz + b * 3 * u;
        const T* hr = hz + b * 3 * u;
        for (Index j = 0; j < u; j += chunk_size<T>) {
          const Index n = std::min<Index>(chunk_size<T>, u - j);
          gate(cz, xr + j, hr + j, n, recurrent_activation_);
          gate(cr, xr + u + j, hr + u + j, n, recurrent_activation_);
          load_chunk(ch, xr + 2 * u + j, n);
          load_chunk(cx, hr + 2 * u + j, n);
          ch = ch + cr * cx;
          apply_chunk(activation_, ch);
          load_chunk(cp, h_prev + b * ld_prev + j, n);
          cp = cz * cp + (T(1) - cz) * ch;
          store_chunk(cp, h_out + b * ld_out + j, n);
        }
      }
      return;
    }
    // reset_after = false: the z and r gates first (z kept in hz's z block), then (r * h) U_h.
    gemm<T>(rows, 2 * u, &h_term, 1, nullptr, hz, 2 * u);
    for (Index b = 0; b < rows; ++b) {
      const T* xr = xz + b * 3 * u;
      T* hr = hz + b * 2 * u;
      for (Index j = 0; j < u; j += chunk_size<T>) {
        const Index n = std::min<Index>(chunk_size<T>, u - j);
        gate(cz, xr + j, hr + j, n, recurrent_activation_);
        store_chunk(cz, hr + j, n);
        gate(cr, xr + u + j, hr + u + j, n, recurrent_activation_);
        load_chunk(cp, h_prev + b * ld_prev + j, n);
        cr = cr * cp;
        store_chunk(cr, rh + b * u + j, n);
      }
    }
    const GemmTerm<T> rh_term{rh, u, &recurrent_h_};
    gemm<T>(rows, u, &rh_term, 1, nullptr, hz + u, 2 * u);
    for (Index b = 0; b < rows; ++b) {
      const T* xr = xz + b * 3 * u;
      const T* hr = hz + b * 2 * u;
      for (Index j = 0; j < u; j += chunk_size<T>) {
        const Index n = std::min<Index>(chunk_size<T>, u - j);
        gate(ch, xr + 2 * u + j, hr + u + j, n, activation_);
        load_chunk(cz, hr + j, n);
        load_chunk(cp, h_prev + b * ld_prev + j, n);
        cp = cz * cp + (T(1) - cz) * ch;
        store_chunk(cp, h_out + b * ld_out + j, n);
      }
    }
  }

 private:
  Index units_ = 0;
  Index features_ = 0;
  Activation activation_ = Activation::tanh;
  Activation recurrent_activation_ = Activation::sigmoid;
  bool reset_after_ = true;
  PackedMatrix<T> kernel_;
  PackedMatrix<T> recurrent_;    // all of U (reset_after) or its z and r blocks
  PackedMatrix<T> recurrent_h_;  // U's h block (reset_after = false)
  PackedMatrix<T> input_bias_;
  PackedMatrix<T> recurrent_bias_;
  bool has_bias_ = false;
};

}  // namespace detail

/// Keras `GRU(units, ...)` on (batch, time, features).
///
/// Gate blocks are ordered z (update), r (reset), h (candidate), as in Keras; see
/// detail::GRUCell::step for the formulas of both variants. Weights, as Keras' get_weights():
/// [kernel (features, 3u), recurrent_kernel (u, 3u), bias] with bias (2, 3u) -- row 0 the input
/// bias, row 1 the recurrent bias -- when reset_after (Keras 3's default), else (3u,); no bias
/// without use_bias. Initial weights as Keras: glorot_uniform kernel, orthogonal recurrent
/// kernel, zero bias.
///
/// Output: (batch, time, units) with return_sequences, else (batch, units) (AnyTensor). The calls,
/// the initial state h and the stored state of a stateful layer are described in
/// detail::RecurrentLayer (shared with LSTM and SimpleRNN); with return_state, outputs() gives
/// [output, h].
template <class T>
class GRU : public detail::RecurrentLayer<GRU<T>, T, 1, AnyTensor<T>> {
  static_assert(std::is_floating_point_v<T>, "strata::GRU: the scalar type must be float or double.");
  using Base = detail::RecurrentLayer<GRU<T>, T, 1, AnyTensor<T>>;
  friend Base;

 public:
  static constexpr const char* class_name = "GRU";
  static constexpr const char* options_name = "GRUOptions";
  /// Kernel columns per unit: the z, r and h blocks.
  static constexpr Index gates = 3;

  /// Throws value_error for units < 1, input_dim < 0, an unknown activation name, or softmax /
  /// log_softmax as an activation.
  explicit GRU(Index units, const GRUOptions& options = GRUOptions())
      : Base(units, options), reset_after_(options.reset_after()) {
    recurrent_activation_ =
        detail::parse_recurrent_activation(options.recurrent_activation(), "recurrent_activation", this->describe());
    if (options.input_dim() > 0) this->build(options.input_dim());
  }

  Activation recurrent_activation() const { return recurrent_activation_; }
  bool reset_after() const { return reset_after_; }
  const detail::GRUCell<T>& cell() const {
    this->require_built("cell");
    return cell_;
  }

  // --- Keras description (docs/design.md, "Adding a layer"); the rest is RecurrentLayer's.
  /// Keras config: units, activation, recurrent_activation and reset_after (defaults hard_sigmoid
  /// and false in files of Keras <= 2.2 and tfjs, sigmoid and true since), use_bias, and the
  /// recurrent options.
  /// Keras 1 names units output_dim and recurrent_activation inner_activation; its GRU applies
  /// the reset gate before the recurrent product (reset_after=false, the default for its files).
  static GRU from_config(const LayerConfig<T>& config) {
    GRUOptions options;
    Base::gated_options(config, options)
        .reset_after(config.boolean("reset_after", !config.keras_version().pre_2_3_defaults()));
    return GRU(config.integer(config.spelling("units", "output_dim")), options);
  }
  /// Keras 1's GRU.build lists its per-gate weights in the order z, r, h (W_z, U_z, b_z, W_r, ...),
  /// Keras 2's column order.
  static constexpr std::array<detail::Keras1Gate, 3> keras1_gates{{{"z", 0}, {"r", 1}, {"h", 2}}};

 private:
  Shape bias_shape() const { return reset_after_ ? Shape{2, 3 * this->units_} : Shape{3 * this->units_}; }
  std::string bias_note() const {
    return reset_after_ ? " (the config has reset_after=true: input and recurrent biases, (2, 3*units))"
                        : " (the config has reset_after=false: one bias, (3*units,))";
  }
  AnyTensor<T> initial_bias() const { return AnyTensor<T>::zeros(bias_shape()); }
  detail::GRUCell<T> make_cell(const T* kernel, Index features, const T* recurrent, const T* bias) const {
    detail::GRUCell<T> cell(this->units_, this->activation_, recurrent_activation_, reset_after_);
    cell.set(kernel, features, recurrent, bias);
    return cell;
  }

  Activation recurrent_activation_ = Activation::sigmoid;
  bool reset_after_;
  detail::GRUCell<T> cell_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(GRU)

// GRUStream; streaming.hpp includes this header for GRU itself, so it comes after the class.
#include "../streaming.hpp"  // IWYU pragma: export

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
/// GRU's per-step form (Model::stream, through RecurrentLayer::make_step): GRUStream, bitwise
/// the sequence call at every step.
template <class T>
GRUStream<T> step_stream(const GRU<T>& layer, Index batch) {
  return GRUStream<T>(layer, batch);
}
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_LAYERS_GRU_HPP
