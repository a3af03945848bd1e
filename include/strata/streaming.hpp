// SPDX-License-Identifier: MIT
#ifndef STRATA_STREAMING_HPP
#define STRATA_STREAMING_HPP

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

#include "layers/lstm.hpp"
#include "tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

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

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_STREAMING_HPP
