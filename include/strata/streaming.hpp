// SPDX-License-Identifier: MIT
#ifndef STRATA_STREAMING_HPP
#define STRATA_STREAMING_HPP

#include <algorithm>
#include <array>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/isa.hpp"

// The streams, declared before the layers they stream: each layer's header includes this one at
// its end and declares its per-step form (its step_stream, for Model::stream) with its stream,
// which may come before the definitions below when this header is the one included first.
namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
template <class T>
class LSTM;
template <class T>
class GRU;
template <class T>
class SimpleRNN;
template <class Layer>
class RecurrentStream;
/// Streams an LSTM (RecurrentStream): the state is [h, c]; reset(LSTMState) sets both.
template <class T>
using LSTMStream = RecurrentStream<LSTM<T>>;
/// Streams a GRU (RecurrentStream), either reset_after: the state is h.
template <class T>
using GRUStream = RecurrentStream<GRU<T>>;
/// Streams a SimpleRNN (RecurrentStream): the state is h.
template <class T>
using SimpleRNNStream = RecurrentStream<SimpleRNN<T>>;
template <class T>
class Conv1DStream;
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#include "activations.hpp"
#include "detail/gemm.hpp"
#include "layers/activation.hpp"
#include "layers/conv.hpp"
#include "layers/dense.hpp"
#include "layers/gru.hpp"
#include "layers/lstm.hpp"
#include "layers/simple_rnn.hpp"
#include "layers/time_distributed.hpp"
#include "tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {

/// Whether x is one time step of a stream: (batch, features).
inline bool is_step_shape(const Shape& x, Index batch, Index features) {
  return x.rank() == 2 && x[0] == batch && x[1] == features;
}

[[noreturn]] inline void throw_step_shape(const std::string& who, const Shape& x, Index batch, Index features) {
  throw shape_error(concat(who, ": step takes one time step of shape (batch, features) = ",
                           Shape{batch, features}.to_string(), "; got ", x.to_string()));
}

/// The check of a stream's checked step(): x must be (batch, features).
inline void check_step_shape(const char* who, const Shape& x, Index batch, Index features) {
  if (!is_step_shape(x, batch, features)) throw_step_shape(who, x, batch, features);
}

}  // namespace detail

/// Feeds sequences to a recurrent layer -- `RecurrentStream<LSTM<T>>` (LSTMStream),
/// `RecurrentStream<GRU<T>>` (GRUStream) or `RecurrentStream<SimpleRNN<T>>` (SimpleRNNStream) --
/// one time step at a time, as a real-time program receives them: the state (h, and the LSTM's
/// carry c) is carried from one step() to the next. Equivalent to a stateful layer called on
/// (batch, 1, features) tensors, with bitwise the same results as one call of the layer on the
/// whole sequence: step() runs the layer's own cell (the same packed GEMM and gate code, on the
/// same row layout), so every value is computed by the same instructions. step() never
/// allocates: all buffers are made by the constructor.
///
/// Keras has no separate API for this; it is `model.predict` on one step with `stateful=True`.
template <class Layer>
class RecurrentStream {
  using T = typename Layer::Scalar;
  using Cell = std::decay_t<decltype(std::declval<const Layer&>().cell())>;
  static constexpr int N = Layer::state_count;
  using Types = detail::RecurrentTypes<T, N>;

 public:
  /// The state reset(state) takes: Tensor<T, 2> h (GRU, SimpleRNN) or LSTMState<T> {h, c} (LSTM),
  /// as the layer's initial_state.
  using State = typename Layer::State;

  /// Copies the weights of a built `layer` and starts from a zero state for `batch` parallel
  /// streams (Keras: the layer with `stateful=True` after `reset_states()`). The layer's
  /// return_sequences, return_state and stateful do not matter: step() returns each step's h.
  /// Throws value_error for an unbuilt layer, batch < 1, or go_backwards (which needs the whole
  /// sequence).
  explicit RecurrentStream(const Layer& layer, Index batch = 1) : cell_(checked(layer, batch).cell()), batch_(batch) {
    const auto per_row = static_cast<std::size_t>(batch);
    work_.assign(per_row * static_cast<std::size_t>(cell_.work_size()), T(0));
    h_.assign(per_row * static_cast<std::size_t>(cell_.units()), T(0));
    if constexpr (N == 2) carry_.assign(h_.size(), T(0));
  }

  /// The number of parallel streams (rows of every step).
  Index batch() const { return batch_; }
  /// Keras `units`: the size of h.
  Index units() const { return cell_.units(); }
  /// The features of one step (the layer's input_dim).
  Index input_dim() const { return cell_.features(); }

  /// Keras `layer(x[:, t:t+1, :])` of the stateful layer: consumes one time step, x (batch,
  /// features) row-major, and returns h (batch, units), which stays valid until the next step()
  /// or reset(). Allocation-free.
  const T* step(const T* x) {
    const Index u = cell_.units();
    cell_.step(batch_, x, cell_.features(), h_.data(), u, work_.data(), N == 2 ? carry_.data() : nullptr, h_.data(), u);
    return h_.data();
  }
  /// The same, checked: x must have shape (batch, features) (shape_error otherwise); returns h as
  /// a (batch, units) map. Allocation-free.
  ConstTensorMap<T, 2> step(const TensorView<T>& x) {
    if (!detail::is_step_shape(x.shape(), batch_, cell_.features())) {
      detail::throw_step_shape(name(), x.shape(), batch_, cell_.features());
    }
    return ConstTensorMap<T, 2>(step(x.data()), batch_, cell_.units());
  }

  /// The current state h (batch, units): the last step's output, Keras' final "memory state"
  /// (what `return_state=True` gives after the steps so far).
  ConstTensorMap<T, 2> h() const { return ConstTensorMap<T, 2>(h_.data(), batch_, cell_.units()); }
  /// The LSTM's current carry c (batch, units), Keras' final "carry state". LSTM only.
  ConstTensorMap<T, 2> c() const {
    static_assert(N == 2, "strata::RecurrentStream: only an LSTM has a carry state c.");
    return ConstTensorMap<T, 2>(carry_.data(), batch_, cell_.units());
  }

  /// Keras `reset_states()`: starts again from zeros.
  void reset() {
    std::fill(h_.begin(), h_.end(), T(0));
    std::fill(carry_.begin(), carry_.end(), T(0));
  }
  /// Keras `initial_state=state` for the next steps: starts again from `state` (each tensor
  /// (batch, units)); throws shape_error otherwise.
  void reset(const State& state) {
    const Shape want{batch_, cell_.units()};
    const auto shapes = Types::shapes(state);
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      if (shapes[k] != want) {
        throw shape_error(detail::concat(name(), ": state ", Types::names[k], " must have shape ", want.to_string(),
                                         "; got ", shapes[k].to_string()));
      }
    }
    const auto data = Types::data(state);
    std::copy(data[0], data[0] + h_.size(), h_.begin());
    if constexpr (N == 2) std::copy(data[1], data[1] + carry_.size(), carry_.begin());
  }

 private:
  static std::string name() { return detail::concat("strata::", Layer::class_name, "Stream"); }

  static const Layer& checked(const Layer& layer, Index batch) {
    if (batch < 1) throw value_error(detail::concat(name(), ": batch must be at least 1; got ", batch));
    if (!layer.built()) {
      throw value_error(detail::concat(name(), ": ", layer.describe(),
                                       " is not built; build it (or set its weights) before streaming it"));
    }
    if (layer.go_backwards()) {
      throw value_error(detail::concat(name(), ": ", layer.describe(),
                                       " has go_backwards, which needs the whole sequence; it cannot be streamed"));
    }
    return layer;
  }

  Cell cell_;
  Index batch_;
  detail::AlignedVector<T> work_;   // the cell's scratch, (batch, work_size)
  detail::AlignedVector<T> carry_;  // c (batch, units) of an LSTM; empty otherwise
  detail::AlignedVector<T> h_;      // (batch, units)
};

// LSTMStream, GRUStream and SimpleRNNStream: the aliases at the top of this header.

namespace detail {
/// The product of a compile-time-sized stream's step (StaticLSTMStream, StaticSimpleRNNStream):
/// z = b + x . W + h . U over GP packets of z, each element as the same chain of multiply-adds as
/// the packed GEMM (the bias, then every input, then every unit), eight packets in registers at a
/// time. W (Features rows) and U (Units rows) have rows of GP packets.
template <class T, int Features, int Units, int GP>
inline void static_step_product(const T* x, const T* h, const T* w, const T* u, const T* b, T* z) {
  using Eigen::internal::pload;
  using Eigen::internal::pmadd;
  using Eigen::internal::pset1;
  using Eigen::internal::pstore;
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr int P = packet_size<T>;
  constexpr int GW = GP * P;
  constexpr int Group = 8;
  STRATA_UNROLL
  for (int p0 = 0; p0 < GP; p0 += Group) {
    Packet acc[Group];
    const int count = std::min(Group, GP - p0);
    for (int q = 0; q < count; ++q) acc[q] = pload<Packet>(b + (p0 + q) * P);
    for (int k = 0; k < Features; ++k) {
      const Packet xk = pset1<Packet>(x[k]);
      for (int q = 0; q < count; ++q) acc[q] = pmadd(xk, pload<Packet>(w + k * GW + (p0 + q) * P), acc[q]);
    }
    for (int k = 0; k < Units; ++k) {
      const Packet hk = pset1<Packet>(h[k]);
      for (int q = 0; q < count; ++q) acc[q] = pmadd(hk, pload<Packet>(u + k * GW + (p0 + q) * P), acc[q]);
    }
    for (int q = 0; q < count; ++q) pstore(z + (p0 + q) * P, acc[q]);
  }
}
}  // namespace detail

// g++ warns that a packet type's attributes are ignored when it is a template argument (FastPacket).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

/// LSTMStream for one stream whose sizes are compile-time constants: the weights live inside the
/// object and every loop has a fixed trip count, which pays for small layers, where a step costs
/// tens of nanoseconds. Same arithmetic, element for element, as LSTM and LSTMStream, so the
/// results are bitwise the same.
template <class T, int Features, int Units>
class StaticLSTMStream {
  static_assert(std::is_floating_point_v<T>, "strata::StaticLSTMStream: the scalar type must be float or double.");
  static_assert(Features >= 1 && Units >= 1, "strata::StaticLSTMStream: Features and Units must be at least 1.");

  using Packet = typename Eigen::internal::packet_traits<T>::type;
  static constexpr int P = detail::packet_size<T>;
  static constexpr int G = 4 * Units;
  static constexpr int GP = (G + P - 1) / P;  // packets per padded row of z
  static constexpr int GW = GP * P;           // padded row width
  // z as the gate pass reads it (one row: the flat layout's tanh(c) scratch is not used).
  static constexpr Index ZW = detail::lstm_z_stride<T>(Units);
  static_assert(ZW >= GW, "strata::StaticLSTMStream: the gate pass's row must hold the padded product row.");
  // The all-in-registers step (detail::static_lstm_step) where its packets fit the gate blocks and
  // the gate pass is explicit packet operations (float); else the product, then LSTMGates.
  using FastPacket = typename detail::packet_dividing<Packet, Units>::type;
  static constexpr bool fast_layout = detail::LSTMGates<T>::explicit_ops && !std::is_void_v<FastPacket> && GW == G;

 public:
  /// Copies the weights of a built `layer` with `Features` inputs and `Units` units; throws
  /// shape_error if the sizes differ, value_error for go_backwards or an unbuilt layer.
  explicit StaticLSTMStream(const LSTM<T>& layer)
      : gates_(Units, layer.activation(), layer.recurrent_activation()),
        fast_(fast_layout && layer.activation() == Activation::tanh &&
              layer.recurrent_activation() == Activation::sigmoid) {
    if (!layer.built() || layer.input_dim() != Features || layer.units() != Units) {
      throw shape_error(detail::concat("strata::StaticLSTMStream<", Features, ", ", Units, ">: ", layer.describe(),
                                       " must be built with input_dim ", Features, " and units ", Units, "; it has ",
                                       layer.input_dim(), " and ", layer.units()));
    }
    if (layer.go_backwards()) {
      throw value_error(detail::concat("strata::StaticLSTMStream: ", layer.describe(),
                                       " has go_backwards, which needs the whole sequence; it cannot be streamed"));
    }
    w_.fill(T(0));
    u_.fill(T(0));
    z_.fill(T(0));
    b_.fill(T(0));
    for (int k = 0; k < Features; ++k) std::copy_n(layer.kernel().data() + k * G, G, w_.data() + k * GW);
    for (int k = 0; k < Units; ++k) std::copy_n(layer.recurrent_kernel().data() + k * G, G, u_.data() + k * GW);
    if (layer.use_bias()) std::copy_n(layer.bias().data(), G, b_.data());
    reset();
  }

  /// Consumes one time step x (Features values); returns h (Units values), valid until the next
  /// step() or reset(). Allocation-free.
  const T* step(const T* x) {
    if constexpr (fast_layout) {
      if (fast_) {
        // h is double-buffered: every group of the step reads the whole previous h.
        const std::array<T, Units>& h = h_[current_];
        current_ ^= 1;
        detail::static_lstm_step<T, FastPacket, Features, Units>(x, h.data(), c_.data(), h_[current_].data(), w_.data(),
                                                                 u_.data(), b_.data());
        return h_[current_].data();
      }
    }
    std::array<T, Units>& h = h_[current_];
    detail::static_step_product<T, Features, Units, GP>(x, h.data(), w_.data(), u_.data(), b_.data(), z_.data());
    gates_(1, z_.data(), c_.data(), h.data(), Units);
    return h.data();
  }

  const std::array<T, Units>& h() const { return h_[current_]; }
  const std::array<T, Units>& c() const { return c_; }

  /// Starts again from zeros.
  void reset() {
    h_[0].fill(T(0));
    h_[1].fill(T(0));
    c_.fill(T(0));
    current_ = 0;
  }

 private:
  detail::LSTMGates<T> gates_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, Features * GW> w_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, Units * GW> u_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, GW> b_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, ZW> z_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<std::array<T, Units>, 2> h_;  // [current_]: h
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, Units> c_;
  bool fast_;
  int current_ = 0;
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// SimpleRNNStream for one stream whose sizes are compile-time constants, as StaticLSTMStream is
/// for the LSTM: the weights live inside the object and the product's loops have fixed trip
/// counts, which pays for small layers (see docs/performance.md). The product is the packed
/// GEMM's chain for each element (the bias or 0, then x . kernel and h . recurrent_kernel
/// term by term in k order, one multiply-add each) and the activation runs on the same chunks
/// as SimpleRNN's step, so the results are bitwise those of SimpleRNN and SimpleRNNStream.
///
/// Keras: `SimpleRNN(Units, stateful=True)` on Features inputs, fed one step per call.
template <class T, int Features, int Units>
class StaticSimpleRNNStream {
  static_assert(std::is_floating_point_v<T>, "strata::StaticSimpleRNNStream: the scalar type must be float or double.");
  static_assert(Features >= 1 && Units >= 1, "strata::StaticSimpleRNNStream: Features and Units must be at least 1.");
  static_assert(!(Units <= detail::dot_max_cols && Features + Units >= detail::dot_min_depth),
                "strata::StaticSimpleRNNStream: with so few units and this many inputs the layer's product takes "
                "the GEMM's dot kernel, which this class does not mirror; use SimpleRNNStream.");

  using Packet = typename Eigen::internal::packet_traits<T>::type;
  static constexpr int P = detail::packet_size<T>;
  static constexpr int GP = (Units + P - 1) / P;  // packets per padded row
  static constexpr int GW = GP * P;               // padded row width

 public:
  /// Copies the weights of a built `layer` with `Features` inputs and `Units` units; throws
  /// shape_error if the sizes differ, value_error for go_backwards or an unbuilt layer.
  explicit StaticSimpleRNNStream(const SimpleRNN<T>& layer) : activation_(layer.activation()) {
    if (!layer.built()) {
      throw value_error(detail::concat("strata::StaticSimpleRNNStream: ", layer.describe(),
                                       " is not built; build it (or set its weights) before streaming it"));
    }
    if (layer.input_dim() != Features || layer.units() != Units) {
      throw shape_error(detail::concat("strata::StaticSimpleRNNStream<", Features, ", ", Units, ">: ", layer.describe(),
                                       " must be built with input_dim ", Features, " and units ", Units, "; it has ",
                                       layer.input_dim(), " and ", layer.units()));
    }
    if (layer.go_backwards()) {
      throw value_error(detail::concat("strata::StaticSimpleRNNStream: ", layer.describe(),
                                       " has go_backwards, which needs the whole sequence; it cannot be streamed"));
    }
    w_.fill(T(0));
    u_.fill(T(0));
    b_.fill(T(0));
    z_.fill(T(0));
    const Tensor<T, 2> kernel = layer.kernel();
    const Tensor<T, 2> recurrent = layer.recurrent_kernel();
    for (int k = 0; k < Features; ++k) std::copy_n(kernel.data() + k * Units, Units, w_.data() + k * GW);
    for (int k = 0; k < Units; ++k) std::copy_n(recurrent.data() + k * Units, Units, u_.data() + k * GW);
    if (layer.use_bias()) std::copy_n(layer.bias().data(), Units, b_.data());
    reset();
  }

  /// Keras `layer(x[:, t:t+1, :])` of the stateful layer: consumes one time step x (Features
  /// values); returns h (Units values), valid until the next step() or reset(). Allocation-free.
  const T* step(const T* x) {
    detail::static_step_product<T, Features, Units, GP>(x, h_.data(), w_.data(), u_.data(), b_.data(), z_.data());
    detail::Chunk<T> c;
    for (Index j = 0; j < Units; j += detail::chunk_size<T>) {
      const Index n = std::min<Index>(detail::chunk_size<T>, Units - j);
      detail::load_chunk(c, z_.data() + j, n);
      detail::apply_chunk(activation_, c);
      detail::store_chunk(c, h_.data() + j, n);
    }
    return h_.data();
  }

  /// The current state h: the last step's output (Keras' final state).
  const std::array<T, Units>& h() const { return h_; }

  /// Keras `reset_states()`: starts again from zeros.
  void reset() { h_.fill(T(0)); }
  /// Keras `initial_state=h` for the next steps: starts again from the given state.
  void reset(const std::array<T, Units>& h) { h_ = h; }

 private:
  Activation activation_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, Features * GW> w_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, Units * GW> u_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, GW> b_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, GW> z_;
  std::array<T, Units> h_;
};

template <class T>
class Conv1DStackStream;

/// Feeds sequences to a causal Conv1D one time step at a time: step(x) takes x[:, t, :] and
/// returns y[:, t, :] of the layer called on the whole sequence, bitwise the same (the same GEMM
/// sums the same terms in the same order as Conv1D's call, and the same activation code runs on
/// the result), and never allocates: all buffers are made by the constructor.
///
/// Output t reads inputs t - (kernel_size - 1 - k) dilation_rate for taps k = 0 .. kernel_size - 1,
/// so the stream keeps, per row of the batch, a ring buffer of the last span = (kernel_size - 1)
/// dilation_rate + 1 inputs. That window is the whole state: a new stream starts (and reset()
/// starts again) with zeros in it, which is Keras' causal padding, so the first outputs are those
/// of the start of a sequence. Only padding "causal" with strides 1 can be streamed (the other
/// paddings read inputs after t, and strides > 1 give an output every stride steps); any
/// kernel_size, dilation_rate, groups, use_bias and activation can.
///
/// Keras has no separate API for this; the closest is calling the layer on the sequence so far
/// and keeping its last step.
template <class T>
class Conv1DStream {
 public:
  /// Copies the weights of a built `layer` and starts from zeros for `batch` parallel streams.
  /// Throws value_error for an unbuilt layer, batch < 1, a padding other than "causal" or strides
  /// other than 1.
  explicit Conv1DStream(const Conv1D<T>& layer, Index batch = 1)
      : packed_(checked(layer, batch).packed_kernel()),
        packed_bias_(layer.packed_bias()),
        activation_(layer.activation()),
        batch_(batch),
        in_channels_(layer.input_dim()),
        filters_(layer.filters()),
        groups_(layer.groups()),
        kernel_size_(layer.kernel_size()[0]),
        dilation_(layer.dilation_rate()[0]),
        span_((kernel_size_ - 1) * dilation_ + 1) {
    ring_.assign(static_cast<std::size_t>(span_ * batch_ * in_channels_), T(0));
    out_.assign(static_cast<std::size_t>(batch_ * filters_), T(0));
    terms_.resize(static_cast<std::size_t>(kernel_size_));
    if (activation_ == Activation::sparsemax) sorted_.resize(static_cast<std::size_t>(filters_));
  }

  Index batch() const { return batch_; }
  /// Input channels per step.
  Index input_dim() const { return in_channels_; }
  /// Output channels per step.
  Index filters() const { return filters_; }
  /// Inputs kept per row: (kernel_size - 1) dilation_rate + 1, the current one included.
  Index span() const { return span_; }

  /// Consumes one time step, x: (batch, input_dim) row-major; returns y (batch, filters), which
  /// stays valid until the next step() or reset(). x may be the previous step's output.
  /// Allocation-free.
  const T* step(const T* x) {
    std::copy(x, x + batch_ * in_channels_, input_slot());
    advance_into(out_.data());
    return out_.data();
  }
  /// The same, checked: x must have shape (batch, input_dim) (shape_error otherwise). Allocation-free.
  ConstTensorMap<T, 2> step(const TensorView<T>& x) {
    detail::check_step_shape("strata::Conv1DStream", x.shape(), batch_, in_channels_);
    return ConstTensorMap<T, 2>(step(x.data()), batch_, filters_);
  }

  /// Starts again from zeros (a new sequence: Keras' causal padding).
  void reset() {
    std::fill(ring_.begin(), ring_.end(), T(0));
    head_ = 0;
  }

 private:
  template <class>
  friend class Conv1DStackStream;

  static const Conv1D<T>& checked(const Conv1D<T>& layer, Index batch) {
    if (batch < 1) throw value_error(detail::concat("strata::Conv1DStream: batch must be at least 1; got ", batch));
    if (!layer.built()) {
      throw value_error(detail::concat("strata::Conv1DStream: ", layer.describe(),
                                       " is not built; build it (or set its weights) before streaming it"));
    }
    if (layer.padding() != "causal" || layer.strides()[0] != 1) {
      throw value_error(detail::concat("strata::Conv1DStream: ", layer.describe(), " has padding \"", layer.padding(),
                                       "\" and strides ", layer.strides()[0],
                                       "; only padding \"causal\" with strides 1 can be streamed (one output per "
                                       "input, from past inputs only)"));
    }
    return layer;
  }

  // Where the next input goes: the ring's slot for the current time, (batch, input_dim).
  T* input_slot() { return ring_.data() + head_ * batch_ * in_channels_; }

  // Computes the output of the input in input_slot() and the older ones into y (batch, filters),
  // then moves the ring on. The batch call's sums: per group, init = the packed bias, then the
  // taps in order, each (batch, in_channels / groups) rows (the row stride is input_dim) times
  // its packed (in_channels / groups, filters / groups) block.
  void advance_into(T* y) {
    const Index cg = in_channels_ / groups_, fg = filters_ / groups_, slot_size = batch_ * in_channels_;
    for (Index g = 0; g < groups_; ++g) {
      for (Index k = 0; k < kernel_size_; ++k) {
        Index slot = head_ - (kernel_size_ - 1 - k) * dilation_;
        if (slot < 0) slot += span_;
        terms_[static_cast<std::size_t>(k)] = {ring_.data() + slot * slot_size + g * cg, in_channels_,
                                               &packed_[static_cast<std::size_t>(g * kernel_size_ + k)]};
      }
      const detail::PackedMatrix<T>* init = packed_bias_.empty() ? nullptr : &packed_bias_[static_cast<std::size_t>(g)];
      detail::gemm(batch_, fg, terms_.data(), static_cast<int>(kernel_size_), init, y + g * fg, filters_);
    }
    if (activation_ == Activation::sparsemax) {
      for (Index b = 0; b < batch_; ++b) detail::sparsemax_row(y + b * filters_, filters_, sorted_.data());
    } else {
      apply_activation(activation_, y, batch_, filters_);  // allocates only for sparsemax
    }
    head_ = head_ + 1 == span_ ? 0 : head_ + 1;
  }

  std::vector<detail::PackedMatrix<T>> packed_;       // [group * kernel_size + tap], as Conv1D's
  std::vector<detail::PackedMatrix<T>> packed_bias_;  // [group], or empty
  Activation activation_;
  Index batch_;
  Index in_channels_;
  Index filters_;
  Index groups_;
  Index kernel_size_;
  Index dilation_;
  Index span_;
  Index head_ = 0;                                    // the ring slot of the current time step
  std::vector<T, Eigen::aligned_allocator<T>> ring_;  // [slot][batch][input_dim]
  std::vector<T, Eigen::aligned_allocator<T>> out_;   // (batch, filters)
  std::vector<detail::GemmTerm<T>> terms_;            // one per tap
  std::vector<T> sorted_;                             // sparsemax's scratch
};

/// Streams a stack of causal Conv1D layers, each feeding the next (a WaveNet-style dilated
/// stack), one time step at a time: the same as a Conv1DStream per layer, bitwise equal to
/// calling the layers one after the other on the whole sequence, but each layer writes its output
/// straight into the next one's ring buffer (no copy between layers). Allocation-free after
/// construction; reset() resets every layer.
template <class T>
class Conv1DStackStream {
 public:
  /// Copies the weights of `layers` (applied in order) for `batch` parallel streams. Throws
  /// value_error for an empty list or a layer Conv1DStream refuses, shape_error when a layer's
  /// input_dim is not the previous layer's filters.
  explicit Conv1DStackStream(const std::vector<Conv1D<T>>& layers, Index batch = 1) {
    if (layers.empty()) throw value_error("strata::Conv1DStackStream: the stack needs at least one layer");
    streams_.reserve(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
      if (i > 0 && layers[i].built() && layers[i].input_dim() != layers[i - 1].filters()) {
        throw shape_error(detail::concat("strata::Conv1DStackStream: layer ", i, " (", layers[i].describe(), ") takes ",
                                         layers[i].input_dim(), " input channels, but layer ", i - 1, " (",
                                         layers[i - 1].describe(), ") gives ", layers[i - 1].filters()));
      }
      streams_.emplace_back(layers[i], batch);
    }
  }

  Index batch() const { return streams_.front().batch(); }
  Index input_dim() const { return streams_.front().input_dim(); }
  /// The last layer's filters.
  Index filters() const { return streams_.back().filters(); }
  /// The number of layers.
  Index size() const { return static_cast<Index>(streams_.size()); }

  /// Consumes one time step, x: (batch, input_dim) row-major; returns the last layer's output
  /// (batch, filters), valid until the next step() or reset(). Allocation-free.
  const T* step(const T* x) {
    Conv1DStream<T>& first = streams_.front();
    std::copy(x, x + first.batch_ * first.in_channels_, first.input_slot());
    for (std::size_t i = 0; i + 1 < streams_.size(); ++i) streams_[i].advance_into(streams_[i + 1].input_slot());
    Conv1DStream<T>& last = streams_.back();
    last.advance_into(last.out_.data());
    return last.out_.data();
  }
  /// The same, checked: x must have shape (batch, input_dim) (shape_error otherwise). Allocation-free.
  ConstTensorMap<T, 2> step(const TensorView<T>& x) {
    detail::check_step_shape("strata::Conv1DStackStream", x.shape(), batch(), input_dim());
    return ConstTensorMap<T, 2>(step(x.data()), batch(), filters());
  }

  /// Starts every layer again from zeros (a new sequence).
  void reset() {
    for (Conv1DStream<T>& s : streams_) s.reset();
  }

 private:
  std::vector<Conv1DStream<T>> streams_;
};

namespace detail {

/// A Dense head of a StackStream (Dense, or TimeDistributed(Dense), which is the same on each
/// step): the layer's forward_rows() on the step's (batch, features) rows -- the same GEMM and
/// activation code as its call on the whole sequence, whose rows it computes one by one too --
/// with sparsemax's scratch made here, so that nothing allocates.
template <class T>
class DenseStreamStage {
 public:
  /// Keras `Dense` on each step's (batch, features) rows; throws value_error when not built.
  DenseStreamStage(const Dense<T>& dense, Index batch) : dense_(checked(dense)), batch_(batch) {
    out_.assign(static_cast<std::size_t>(batch * dense.units()), T(0));
    if (dense.activation() == Activation::sparsemax) sorted_.resize(static_cast<std::size_t>(dense.units()));
  }
  /// Keras `TimeDistributed(Dense)`: on each step, the inner Dense.
  DenseStreamStage(const TimeDistributed<Dense<T>>& td, Index batch) : DenseStreamStage(td.layer(), batch) {}

  /// Keras `input_dim` of the Dense: features per row.
  Index input_dim() const { return dense_.input_dim(); }
  /// Keras `units` of the Dense: values per output row.
  Index output_dim() const { return dense_.units(); }

  /// y = Dense(x) for one step, into this stage's buffer (the next stage's input).
  T* step(const T* x) {
    dense_.forward_rows(x, batch_, out_.data(), sorted_.empty() ? nullptr : sorted_.data());
    return out_.data();
  }
  /// Nothing to reset: a Dense has no state.
  void reset() {}

 private:
  static const Dense<T>& checked(const Dense<T>& dense) {
    if (!dense.built()) {
      throw value_error(concat("strata::StackStream: ", dense.describe(),
                               " is not built; build it (or set its weights) before streaming it"));
    }
    return dense;
  }

  Dense<T> dense_;
  Index batch_;
  AlignedVector<T> out_;   // (batch, units)
  std::vector<T> sorted_;  // sparsemax's scratch
};

/// An Activation head of a StackStream: the activation over the step's (batch, features) rows,
/// in place on a previous head's buffer, else on a copy (a recurrent layer's h is its state).
/// The same calls as ActivationLayer::forward (apply_activation; sparsemax row by row, with
/// scratch made here, since apply_activation allocates it).
template <class T>
class ActivationStreamStage {
 public:
  /// Keras `Activation` on each step's rows; bind() sizes it.
  ActivationStreamStage(const ActivationLayer<T>& layer, Index batch)
      : activation_(layer.activation()), batch_(batch) {}

  /// Sizes the stage for `features` values per row (the previous stage's output).
  void bind(Index features) {
    features_ = features;
    out_.assign(static_cast<std::size_t>(batch_ * features), T(0));
    if (activation_ == Activation::sparsemax) sorted_.resize(static_cast<std::size_t>(features));
  }
  /// Values per output row: the input's (an activation keeps the shape).
  Index output_dim() const { return features_; }

  /// Activates a copy of x (a recurrent state, or the stream's input) in this stage's buffer.
  T* step(const T* x) {
    std::copy(x, x + batch_ * features_, out_.data());
    return step(out_.data());
  }
  /// Activates x in place (a previous head's buffer).
  T* step(T* x) {
    if (activation_ == Activation::sparsemax) {
      for (Index b = 0; b < batch_; ++b) sparsemax_row(x + b * features_, features_, sorted_.data());
    } else {
      apply_activation(activation_, x, batch_, features_);
    }
    return x;
  }
  /// Nothing to reset: an activation has no state.
  void reset() {}

 private:
  Activation activation_;
  Index batch_;
  Index features_ = 0;
  AlignedVector<T> out_;  // (batch, features)
  std::vector<T> sorted_;
};

/// The stage type StackStream keeps for a layer type: void for a layer it cannot stream.
template <class Layer>
struct StreamStage {
  using type = void;
  static constexpr bool recurrent = false;
};
template <class T>
struct StreamStage<LSTM<T>> {
  using type = RecurrentStream<LSTM<T>>;
  static constexpr bool recurrent = true;
};
template <class T>
struct StreamStage<GRU<T>> {
  using type = RecurrentStream<GRU<T>>;
  static constexpr bool recurrent = true;
};
template <class T>
struct StreamStage<SimpleRNN<T>> {
  using type = RecurrentStream<SimpleRNN<T>>;
  static constexpr bool recurrent = true;
};
template <class T>
struct StreamStage<Dense<T>> {
  using type = DenseStreamStage<T>;
  static constexpr bool recurrent = false;
};
template <class T>
struct StreamStage<TimeDistributed<Dense<T>>> {
  using type = DenseStreamStage<T>;
  static constexpr bool recurrent = false;
};
template <class T>
struct StreamStage<ActivationLayer<T>> {
  using type = ActivationStreamStage<T>;
  static constexpr bool recurrent = false;
};

template <class Layer>
using stream_stage_t = typename StreamStage<Layer>::type;

template <class First, class...>
struct first_type {
  using type = First;
};

}  // namespace detail

/// Streams a stack of layers applied one after the other -- recurrent layers (LSTM, GRU,
/// SimpleRNN, in any mix) and per-step heads (Dense, TimeDistributed(Dense), Activation) --
/// one time step at a time, the way a Keras `Sequential([LSTM(..., return_sequences=True),
/// GRU(...), Dense(...)])` with `stateful=True` layers would be fed one step per predict:
/// step(x) takes x[:, t, :] and returns the last layer's output for step t, bitwise equal to
/// calling the layers in order on the whole sequence, and never allocates. Each layer's output
/// is the next one's input buffer: a recurrent layer's h (its state) is read in place by the
/// next layer, a Dense writes into its own buffer, and an Activation after a Dense works in
/// place. The layer list is typed: `StackStream<LSTM<float>, GRU<float>, Dense<float>>` keeps a
/// tuple of one stream per layer (RecurrentStream, or a head stage), with no virtual call or
/// variant dispatch per step; class template argument deduction gives the type:
///
///     strata::StackStream stream(batch, lstm, gru, dense);
///
/// A recurrent layer may follow another only when that one has return_sequences (Keras: the
/// other gives (batch, units), not a sequence), and TimeDistributed(Dense) needs a sequence too;
/// Dense and Activation take either. Layers are copied; the first one must have weights (it
/// fixes input_dim), so it is not an Activation.
template <class... Layers>
class StackStream {
  static_assert(sizeof...(Layers) >= 1, "strata::StackStream: the stack needs at least one layer.");
  static_assert((!std::is_void_v<detail::stream_stage_t<Layers>> && ...),
                "strata::StackStream: every layer must be an LSTM, GRU, SimpleRNN, Dense, TimeDistributed<Dense> or "
                "ActivationLayer.");
  using First = typename detail::first_type<Layers...>::type;
  using T = typename First::Scalar;
  static_assert((std::is_same_v<typename Layers::Scalar, T> && ...),
                "strata::StackStream: every layer must have the same scalar type.");
  static_assert(!std::is_same_v<First, ActivationLayer<T>>,
                "strata::StackStream: the first layer must have weights (it fixes the input size); an Activation "
                "cannot come first.");

 public:
  /// Copies the layers (applied in the order given) for `batch` parallel streams, each starting
  /// from a zero state. Throws value_error for batch < 1, an unbuilt layer or a go_backwards
  /// one; shape_error when a layer's input size is not the previous layer's output size, or when
  /// a recurrent layer or TimeDistributed follows a recurrent layer without return_sequences.
  explicit StackStream(Index batch, const Layers&... layers)
      : batch_(checked_batch(batch)), stages_(detail::stream_stage_t<Layers>(layers, batch)...) {
    connect(std::index_sequence_for<Layers...>{}, layers...);
  }

  /// The number of parallel streams (rows of every step; Keras' batch of a stateful model).
  Index batch() const { return batch_; }
  /// Features of one input step (the first layer's input_dim).
  Index input_dim() const { return input_dim_; }
  /// Values per row of the output (the last layer's units, or its input's for an Activation).
  Index output_dim() const { return output_dim_; }
  /// The number of layers.
  static constexpr std::size_t size() { return sizeof...(Layers); }

  /// Consumes one time step, x: (batch, input_dim) row-major; returns the last layer's output
  /// (batch, output_dim), valid until the next step() or reset(). Allocation-free.
  const T* step(const T* x) { return run<0>(x); }
  /// The same, checked: x must have shape (batch, input_dim) (shape_error otherwise). Allocation-free.
  ConstTensorMap<T, 2> step(const TensorView<T>& x) {
    detail::check_step_shape("strata::StackStream", x.shape(), batch_, input_dim_);
    return ConstTensorMap<T, 2>(step(x.data()), batch_, output_dim_);
  }

  /// The stream of recurrent layer I (a RecurrentStream: its state h(), an LSTM's c(), and
  /// reset(state) to start that layer from a given state, Keras' initial_state).
  template <std::size_t I>
  auto& stream() {
    static_assert(detail::StreamStage<std::tuple_element_t<I, std::tuple<Layers...>>>::recurrent,
                  "strata::StackStream: stream<I>() is layer I's state; layer I is not recurrent.");
    return std::get<I>(stages_);
  }
  /// The same, read-only.
  template <std::size_t I>
  const auto& stream() const {
    static_assert(detail::StreamStage<std::tuple_element_t<I, std::tuple<Layers...>>>::recurrent,
                  "strata::StackStream: stream<I>() is layer I's state; layer I is not recurrent.");
    return std::get<I>(stages_);
  }

  /// Keras `reset_states()` on every layer: starts again from zeros (a new sequence).
  void reset() {
    std::apply([](auto&... stage) { (stage.reset(), ...); }, stages_);
  }

 private:
  static Index checked_batch(Index batch) {
    if (batch < 1) throw value_error(detail::concat("strata::StackStream: batch must be at least 1; got ", batch));
    return batch;
  }

  // Stage I on the previous stage's output: a const pointer (a recurrent state, or the input),
  // or a writable one (a head's buffer), which an Activation takes in place.
  template <std::size_t I, class P>
  const T* run(P x) {
    if constexpr (I == sizeof...(Layers)) {
      return x;
    } else {
      return run<I + 1>(std::get<I>(stages_).step(x));
    }
  }

  template <std::size_t... I>
  void connect(std::index_sequence<I...>, const Layers&... layers) {
    Index dim = 0;
    bool sequence = true;  // whether the previous layer gives a sequence (batch, time, units)
    std::string previous;
    (connect_one(std::get<I>(stages_), layers, I, dim, sequence, previous), ...);
    input_dim_ = std::get<0>(stages_).input_dim();
    output_dim_ = dim;
  }

  template <class Stage, class Layer>
  static void connect_one(Stage& stage, const Layer& layer, std::size_t i, Index& dim, bool& sequence,
                          std::string& previous) {
    constexpr bool recurrent = detail::StreamStage<Layer>::recurrent;
    if constexpr (std::is_same_v<Layer, ActivationLayer<T>>) {
      stage.bind(dim);
    } else {
      if (i > 0 && !sequence && (recurrent || !std::is_same_v<Layer, Dense<T>>)) {
        throw shape_error(detail::concat("strata::StackStream: layer ", i, " (", layer.describe(),
                                         ") needs a sequence (batch, time, features), but layer ", i - 1, " (",
                                         previous, ") has return_sequences false and gives (batch, units)"));
      }
      if (i > 0 && stage.input_dim() != dim) {
        throw shape_error(detail::concat("strata::StackStream: layer ", i, " (", layer.describe(), ") takes ",
                                         stage.input_dim(), " features per step, but layer ", i - 1, " (", previous,
                                         ") gives ", dim));
      }
      if constexpr (recurrent) {
        dim = stage.units();
        sequence = layer.return_sequences();
      } else {
        dim = stage.output_dim();
      }
    }
    previous = layer.describe();
  }

  Index batch_;
  std::tuple<detail::stream_stage_t<Layers>...> stages_;
  Index input_dim_ = 0;
  Index output_dim_ = 0;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_STREAMING_HPP
