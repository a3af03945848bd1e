// SPDX-License-Identifier: MIT
#ifndef STRATA_STREAMING_HPP
#define STRATA_STREAMING_HPP

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

#include "detail/isa.hpp"

// The streams, declared before the layers they stream: each layer's header includes this one at
// its end and declares its per-step form (its step_stream, for Model::stream) with its stream,
// which may come before the definitions below when this header is the one included first.
namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
template <class T>
class LSTMStream;
template <class T>
class Conv1DStream;
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#include "activations.hpp"
#include "detail/gemm.hpp"
#include "layers/conv.hpp"
#include "layers/lstm.hpp"
#include "tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {

/// The check of a stream's checked step(): x must be (batch, features).
inline void check_step_shape(const char* who, const Shape& x, Index batch, Index features) {
  if (x.rank() != 2 || x[0] != batch || x[1] != features) {
    throw shape_error(concat(who, ": step takes one time step of shape (batch, features) = ",
                             Shape{batch, features}.to_string(), "; got ", x.to_string()));
  }
}

}  // namespace detail

/// Feeds sequences to an LSTM one time step at a time, as a real-time program receives them: the
/// state [h, c] is carried from one step() to the next. Equivalent to a stateful LSTM called on
/// (batch, 1, features) tensors, with bitwise the same results as one LSTM call on the whole
/// sequence, but step() never allocates: all buffers are made by the constructor.
///
/// Keras has no separate API for this; it is `model.predict` on one step with `stateful=True`.
template <class T>
class LSTMStream {
 public:
  /// Copies the weights of a built `layer` and starts from a zero state for `batch` parallel
  /// streams. Throws value_error for an unbuilt layer, batch < 1, or go_backwards (which needs
  /// the whole sequence).
  explicit LSTMStream(const LSTM<T>& layer, Index batch = 1) : cell_(layer.cell()), batch_(batch) {
    if (batch < 1) throw value_error(detail::concat("strata::LSTMStream: batch must be at least 1; got ", batch));
    if (layer.go_backwards()) {
      throw value_error(detail::concat("strata::LSTMStream: ", layer.describe(),
                                       " has go_backwards, which needs the whole sequence; it cannot be streamed"));
    }
    const Index u = cell_.units();
    z_.assign(static_cast<std::size_t>(batch * cell_.work_size()), T(0));
    c_.assign(static_cast<std::size_t>(batch * u), T(0));
    h_.assign(static_cast<std::size_t>(batch * u), T(0));
  }

  Index batch() const { return batch_; }
  Index units() const { return cell_.units(); }
  Index input_dim() const { return cell_.features(); }

  /// Consumes one time step, x: (batch, features) row-major; returns h (batch, units), which stays
  /// valid until the next step() or reset(). Allocation-free.
  const T* step(const T* x) {
    const Index u = cell_.units();
    cell_.step(batch_, x, cell_.features(), h_.data(), u, z_.data(), c_.data(), h_.data(), u);
    return h_.data();
  }
  /// The same, checked: x must have shape (batch, features) (shape_error otherwise). Allocation-free.
  ConstTensorMap<T, 2> step(const TensorView<T>& x) {
    detail::check_step_shape("strata::LSTMStream", x.shape(), batch_, cell_.features());
    return ConstTensorMap<T, 2>(step(x.data()), batch_, cell_.units());
  }

  /// The current state, each (batch, units).
  ConstTensorMap<T, 2> h() const { return ConstTensorMap<T, 2>(h_.data(), batch_, cell_.units()); }
  ConstTensorMap<T, 2> c() const { return ConstTensorMap<T, 2>(c_.data(), batch_, cell_.units()); }

  /// Starts again from zeros.
  void reset() {
    std::fill(h_.begin(), h_.end(), T(0));
    std::fill(c_.begin(), c_.end(), T(0));
  }
  /// Starts again from the given state (each (batch, units)); throws shape_error otherwise.
  void reset(const LSTMState<T>& state) {
    const Shape want{batch_, cell_.units()};
    if (shape_of(state.h) != want || shape_of(state.c) != want) {
      throw shape_error(detail::concat("strata::LSTMStream: state must be h ", want.to_string(), " and c ",
                                       want.to_string(), "; got ", shape_of(state.h).to_string(), " and ",
                                       shape_of(state.c).to_string()));
    }
    std::copy(state.h.data(), state.h.data() + state.h.size(), h_.begin());
    std::copy(state.c.data(), state.c.data() + state.c.size(), c_.begin());
  }

 private:
  detail::LSTMCell<T> cell_;
  Index batch_;
  std::vector<T, Eigen::aligned_allocator<T>> z_;
  std::vector<T, Eigen::aligned_allocator<T>> c_;
  std::vector<T, Eigen::aligned_allocator<T>> h_;
};

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
  static constexpr int Group = 8;             // packets accumulated in registers at once
  // z as the gate pass reads it (one row: the flat layout's tanh(c) scratch is not used).
  static constexpr Index ZW = detail::lstm_z_stride<T>(Units);
  static_assert(ZW >= GW, "strata::StaticLSTMStream: the gate pass's row must hold the padded product row.");

 public:
  /// Copies the weights of a built `layer` with `Features` inputs and `Units` units; throws
  /// shape_error if the sizes differ, value_error for go_backwards or an unbuilt layer.
  explicit StaticLSTMStream(const LSTM<T>& layer) : gates_(Units, layer.activation(), layer.recurrent_activation()) {
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
    using Eigen::internal::pload;
    using Eigen::internal::pmadd;
    using Eigen::internal::pset1;
    using Eigen::internal::pstore;
    // z = b + x . W + h . U, each element as the same chain of multiply-adds as the packed GEMM.
    STRATA_UNROLL
    for (int p0 = 0; p0 < GP; p0 += Group) {
      Packet acc[Group];
      const int count = std::min(Group, GP - p0);
      for (int q = 0; q < count; ++q) acc[q] = pload<Packet>(b_.data() + (p0 + q) * P);
      for (int k = 0; k < Features; ++k) {
        const Packet xk = pset1<Packet>(x[k]);
        for (int q = 0; q < count; ++q) acc[q] = pmadd(xk, pload<Packet>(w_.data() + k * GW + (p0 + q) * P), acc[q]);
      }
      for (int k = 0; k < Units; ++k) {
        const Packet hk = pset1<Packet>(h_[static_cast<std::size_t>(k)]);
        for (int q = 0; q < count; ++q) acc[q] = pmadd(hk, pload<Packet>(u_.data() + k * GW + (p0 + q) * P), acc[q]);
      }
      for (int q = 0; q < count; ++q) pstore(z_.data() + (p0 + q) * P, acc[q]);
    }
    gates_(1, z_.data(), c_.data(), h_.data(), Units);
    return h_.data();
  }

  const std::array<T, Units>& h() const { return h_; }
  const std::array<T, Units>& c() const { return c_; }

  /// Starts again from zeros.
  void reset() {
    h_.fill(T(0));
    c_.fill(T(0));
  }

 private:
  detail::LSTMGates<T> gates_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, Features * GW> w_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, Units * GW> u_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, GW> b_;
  alignas(EIGEN_MAX_ALIGN_BYTES) std::array<T, ZW> z_;
  std::array<T, Units> h_;
  std::array<T, Units> c_;
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

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_STREAMING_HPP
