// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_LSTM_HPP
#define STRATA_LAYERS_LSTM_HPP

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
#include "../parallel.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of LSTM, set by chaining: `LSTMOptions().return_sequences(true).go_backwards(true)`.
/// Defaults are Keras 3's. The common setters (activation, default "tanh"; use_bias; input_dim;
/// seed; name) are described in detail::LayerOptions, the recurrent ones (return_sequences,
/// return_state, go_backwards, stateful, zero_output_for_mask) in detail::RecurrentOptions,
/// recurrent_activation in detail::GatedRecurrentOptions.
class LSTMOptions : public detail::GatedRecurrentOptions<LSTMOptions> {
 public:
  LSTMOptions() : GatedRecurrentOptions("tanh") {}

  /// Keras `unit_forget_bias`: the initial forget-gate bias is 1; default true.
  LSTMOptions& unit_forget_bias(bool on) {
    unit_forget_bias_ = on;
    return *this;
  }
  bool unit_forget_bias() const { return unit_forget_bias_; }

 private:
  bool unit_forget_bias_ = true;
};

namespace detail {

/// The gate update after z = x . W + h . U + b: c = f * c + i * g, h = o * a(c), for `rows` rows
/// of z (row stride ldz >= 4u), c (rows, u) in place and h (row stride ld_h). Row by row and chunk by
/// chunk, so each element's result depends on its own inputs only. Any activations.
template <class T>
void lstm_gates(Index rows, Index u, Activation activation, Activation recurrent_activation, const T* z, Index ldz,
                T* c, T* h, Index ld_h) {
  Chunk<T> gi, gf, gg, go, cc;
  for (Index b = 0; b < rows; ++b) {
    const T* zr = z + b * ldz;
    T* cr = c + b * u;
    T* hr = h + b * ld_h;
    for (Index j = 0; j < u; j += chunk_size<T>) {
      const Index n = std::min<Index>(chunk_size<T>, u - j);
      load_chunk(gi, zr + j, n);
      load_chunk(gf, zr + u + j, n);
      load_chunk(gg, zr + 2 * u + j, n);
      load_chunk(go, zr + 3 * u + j, n);
      load_chunk(cc, cr + j, n);
      apply_chunk(recurrent_activation, gi);
      apply_chunk(recurrent_activation, gf);
      apply_chunk(activation, gg);
      apply_chunk(recurrent_activation, go);
      cc = gf * cc + gi * gg;
      store_chunk(cc, cr + j, n);
      apply_chunk(activation, cc);
      cc = go * cc;
      store_chunk(cc, hr + j, n);
    }
  }
}

/// tanh on a float packet for the LSTM gate pass: Eigen's rational approximation (the clamp,
/// coefficients and small-argument rule of its generic_fast_tanh_float), with the numerator's
/// degree-6 polynomial in x^2 evaluated by Estrin's scheme, not Horner's. Why: a streamed LSTM
/// step is one long dependency chain with two tanh on it, and Estrin's three levels of
/// multiply-adds instead of six take about a quarter off each tanh's latency. The rounding
/// differs from Eigen's ptanh by at most a few units in the last place; every LSTM path (batch,
/// LSTMStream, StaticLSTMStream) uses this one, so they stay bitwise equal.
template <class Packet>
inline Packet gate_tanh(const Packet& a) {
  using namespace Eigen::internal;  // NOLINT(google-build-using-namespace): packet primitives
  const Packet x = pmax(pmin(a, pset1<Packet>(7.99881172180175781f)), pset1<Packet>(-7.99881172180175781f));
  const Packet tiny = pcmp_lt(pabs(a), pset1<Packet>(0.0004f));
  const Packet y = pmul(x, x);
  const Packet y2 = pmul(y, y);
  const Packet y4 = pmul(y2, y2);
  const Packet t0 = pmadd(y, pset1<Packet>(6.37261928875436e-04f), pset1<Packet>(4.89352455891786e-03f));
  const Packet t1 = pmadd(y, pset1<Packet>(5.12229709037114e-08f), pset1<Packet>(1.48572235717979e-05f));
  const Packet t2 = pmadd(y, pset1<Packet>(2.00018790482477e-13f), pset1<Packet>(-8.60467152213735e-11f));
  const Packet u0 = pmadd(y2, t1, t0);
  const Packet u1 = pmadd(y2, pset1<Packet>(-2.76076847742355e-16f), t2);
  const Packet p = pmul(x, pmadd(y4, u1, u0));
  Packet q = pmadd(y, pset1<Packet>(1.19825839466702e-06f), pset1<Packet>(1.18534705686654e-04f));
  q = pmadd(y, q, pset1<Packet>(2.26843463243900e-03f));
  q = pmadd(y, q, pset1<Packet>(4.89352518554385e-03f));
  return pselect(tiny, x, pdiv(p, q));
}

/// The gate pass's tanh on one packet: gate_tanh for float, Eigen's ptanh otherwise.
template <class T, class Packet>
inline Packet lstm_tanh(const Packet& x) {
  if constexpr (std::is_same_v<T, float>) {
    return gate_tanh(x);
  } else {
    return Eigen::internal::ptanh(x);
  }
}

/// The same in place on a chunk, packet by packet (Eigen's array tanh for other scalars).
template <class T>
inline void lstm_tanh_chunk(Chunk<T>& c) {
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  constexpr int P = packet_size<T>;
  if constexpr (std::is_same_v<T, float> && P > 1) {
    for (int i = 0; i < chunk_size<T>; i += P) {
      Eigen::internal::pstoreu(c.data() + i, gate_tanh(Eigen::internal::ploadu<Packet>(c.data() + i)));
    }
  } else {
    c = c.tanh();
  }
}

/// The row stride of z an LSTM with u units works on: 4u when u fills whole chunks, else padded so
/// that a full chunk read at any gate offset stays inside its own row (see LSTMGates).
template <class T>
constexpr Index lstm_z_stride(Index u) {
  constexpr Index C = chunk_size<T>;
  return u % C == 0 ? 4 * u : (4 * u + C - 1 + C - 1) / C * C;
}

/// The LSTM gate pass, with a fast path for Keras' default activations (tanh, sigmoid).
///
/// The fast path first applies the activations to whole chunks of each z row in one sweep, the
/// sigmoid as 0.5 tanh(0.5 x) + 0.5 so that one kernel serves every column (y = s tanh(s x) + 1 - s,
/// s = 0.5 on the i, f, o blocks and 1 on g), then updates c and h chunk by chunk, reading the
/// gates with full (possibly overlapping) chunk loads from the padded row. This keeps every SIMD
/// lane busy when u is not a multiple of the chunk size (u = 5, say) and takes the per-element
/// activation switch out of the loop. sigmoid through tanh differs from Eigen's logistic by a few
/// 1e-8 (absolute); every element still goes through the same instructions, so results stay
/// independent of batch size, position and thread count.
///
/// When u is not a multiple of the chunk size and the packet has masked loads and stores (AVX and
/// AVX-512 float), z rows are stored densely (stride 4u) and both tanh sweeps run over the whole
/// block of rows as one flat array: the gates' (rows * 4u) values, then tanh(c) over the (rows * u)
/// new carries, instead of padded chunks per row. For u = 5 that is 1.6 instead of 3 tanh
/// chunks per row and step. Which layout is used depends only on T, u and the activations.
template <class T>
class LSTMGates {
 public:
  static constexpr Index C = chunk_size<T>;

  LSTMGates() = default;
  LSTMGates(Index units, Activation activation, Activation recurrent_activation)
      : units_(units),
        activation_(activation),
        recurrent_activation_(recurrent_activation),
        fast_(activation == Activation::tanh && recurrent_activation == Activation::sigmoid),
        flat_(fast_ && masked_io && units % C != 0) {
    ldz_ = flat_ ? 4 * units : lstm_z_stride<T>(units);
    if (fast_) {
      // Flat: the column pattern repeats every 4u scalars and chunks start at multiples of C, so
      // lcm(4u, C) scales cover every chunk's phase. Padded rows: one row, its padding at 1.
      const Index g = 4 * units;
      Index period = g;
      while (period % C != 0) period += g;
      const Index width = flat_ ? period : (g + C - 1) / C * C;
      scale_.assign(static_cast<std::size_t>(width), T(1));
      for (Index j = 0; j < (flat_ ? width : g); ++j) {
        const Index col = j % g;
        if (col < 2 * units || col >= 3 * units) scale_[static_cast<std::size_t>(j)] = T(0.5);
      }
    }
  }

  /// The row stride of z.
  Index ldz() const { return ldz_; }
  /// Scratch scalars per row: z, and with the flat layout tanh(c) as well.
  Index work_size() const { return flat_ ? 5 * units_ : ldz_; }

  /// z (rows, work_size()), overwritten; c (rows, u) in place; h (row stride ld_h).
  void operator()(Index rows, T* z, T* c, T* h, Index ld_h) const {
    if (!fast_) {
      lstm_gates(rows, units_, activation_, recurrent_activation_, z, ldz_, c, h, ld_h);
      return;
    }
    if constexpr (masked_io) {
      if (flat_) {
        flat_pass(rows, z, c, h, ld_h);
        return;
      }
    }
    using ChunkMap = Eigen::Map<Chunk<T>>;
    using ConstChunkMap = Eigen::Map<const Chunk<T>>;
    const Index u = units_;
    const Index width = static_cast<Index>(scale_.size());
    const auto activate_row = [&](Index b) {
      T* zr = z + b * ldz_;
      for (Index j = 0; j < width; j += C) {
        if constexpr (explicit_ops) {
          // y = s tanh(s z) + (1 - s) as one explicit multiply-add per packet, exactly the flat
          // pass's (and StaticLSTMStream's) operations: an array expression would leave it to the
          // compiler whether and where to fuse.
          for (Index q = 0; q < C; q += packet_size<T>) {
            const Packet s = Eigen::internal::ploadu<Packet>(scale_.data() + j + q);
            const Packet v = Eigen::internal::ploadu<Packet>(zr + j + q);
            Eigen::internal::pstoreu(zr + j + q, activate_gate(s, v));
          }
        } else {
          const ConstChunkMap s(scale_.data() + j);
          ChunkMap v(zr + j);
          Chunk<T> t = s * v;
          lstm_tanh_chunk(t);
          v = s * t + (T(1) - s);
        }
      }
    };
    Chunk<T> cc;
    const auto update_row = [&](Index b) {
      const T* zr = z + b * ldz_;
      T* cr = c + b * u;
      T* hr = h + b * ld_h;
      if constexpr (masked_io) {
        update_row_masked(u, zr, cr, hr);
        return;
      }
      for (Index j = 0; j < u; j += C) {
        const Index n = std::min<Index>(C, u - j);
        load_chunk(cc, cr + j, n);
        if constexpr (explicit_ops) {
          // The same explicit operations as update_row_masked (see lstm_carry).
          for (Index q = 0; q < C; q += packet_size<T>) {
            const auto load = [&](const T* p) { return Eigen::internal::ploadu<Packet>(p + q); };
            const Packet cp = lstm_carry(load(zr + u + j), load(cc.data()), load(zr + j), load(zr + 2 * u + j));
            Eigen::internal::pstoreu(cc.data() + q, cp);
          }
          store_chunk(cc, cr + j, n);
          for (Index q = 0; q < C; q += packet_size<T>) {
            const Packet h_new = Eigen::internal::pmul(Eigen::internal::ploadu<Packet>(zr + 3 * u + j + q),
                                                       lstm_tanh<T>(Eigen::internal::ploadu<Packet>(cc.data() + q)));
            Eigen::internal::pstoreu(cc.data() + q, h_new);
          }
          store_chunk(cc, hr + j, n);
        } else {
          const ConstChunkMap gi(zr + j), gf(zr + u + j), gg(zr + 2 * u + j), go(zr + 3 * u + j);
          cc = gf * cc + gi * gg;
          store_chunk(cc, cr + j, n);
          lstm_tanh_chunk(cc);
          cc = go * cc;
          store_chunk(cc, hr + j, n);
        }
      }
    };
    if (u % C == 0) {
      // Gate loads coincide with the activation's stores: row by row, while the row is in L1.
      for (Index b = 0; b < rows; ++b) {
        activate_row(b);
        update_row(b);
      }
    } else {
      // The update's loads straddle the activation's stores, and a load right behind such stores
      // cannot be forwarded from the store buffer (a stall of some 20 cycles): all rows' activations
      // first, so that the stores have drained when the updates read them.
      for (Index b = 0; b < rows; ++b) activate_row(b);
      for (Index b = 0; b < rows; ++b) update_row(b);
    }
  }

 private:
  using Packet = typename Eigen::internal::packet_traits<T>::type;
  // Where Eigen's packet has masked loads and stores (its unpacket_traits say so: AVX and AVX-512
  // float in Eigen 3.4), the c and h rows of a small u need no copy through a stack chunk (a copy
  // whose wide reload cannot be forwarded from the narrow stores before it). Elsewhere (SSE, NEON,
  // SVE, AltiVec, double, no SIMD) the padded-row layout serves every u.
  static constexpr bool masked_io = has_masked_io<T> && packet_size<T> == C;

 public:
  /// Whether the fast path's every step is an explicit packet operation (float with SIMD): then
  /// each element's result is fixed by its inputs alone, whatever the layout or packet width, and
  /// StaticLSTMStream can run the same operations on its own packets (activate_gate, lstm_carry,
  /// then h = o * tanh(c)).
  static constexpr bool explicit_ops = std::is_same_v<T, float> && packet_size<T> >= 4;

  /// A gate's activation on packet z, with s = 0.5 (sigmoid, as 0.5 tanh(0.5 z) + 0.5) or 1 (tanh):
  /// s tanh(s z) + (1 - s).
  template <class P>
  static P activate_gate(const P& s, const P& z) {
    using namespace Eigen::internal;  // NOLINT(google-build-using-namespace): packet primitives
    return pmadd(s, lstm_tanh<T>(pmul(s, z)), psub(pset1<P>(T(1)), s));
  }

  /// c = f c + i g with an explicit fused multiply-add. Why explicit: written as two products and
  /// a sum, the compiler may contract it into an FMA, and which product it fuses can differ
  /// between the places that inline it; every path must round alike, or a sample alone (one
  /// row) and in a batch would differ in the last bit.
  template <class P>
  static P lstm_carry(const P& f, const P& c, const P& i, const P& g) {
    return Eigen::internal::pmadd(f, c, Eigen::internal::pmul(i, g));
  }

 private:
  /// The flat layout's pass (see the class comment): z (rows, 4u) dense; with several rows,
  /// tanh(c) goes to z + rows * 4u.
  void flat_pass(Index rows, T* z, T* c, T* h, Index ld_h) const {
    using Eigen::internal::pmul;
    const Index u = units_;
    const Index period = static_cast<Index>(scale_.size());
    // 1. The gates: y = s tanh(s z) + (1 - s) over all rows * 4u values.
    const Index nz = rows * 4 * u;
    for (Index j = 0, phase = 0; j < nz; j += C, phase = phase + C == period ? 0 : phase + C) {
      const Index n = std::min<Index>(C, nz - j);
      const Packet sc = Eigen::internal::ploadu<Packet>(scale_.data() + phase);
      store_first(z + j, activate_gate(sc, load_first<T>(z + j, n)), n);
    }
    if (rows == 1) {
      // One row (streaming): the carry's tanh straight from registers, the same operations as
      // steps 2 to 4 below without the round trip through memory.
      update_row_masked(u, z, c, h);
      return;
    }
    // 2. The carries: c = f c + i g, row by row (the same formula as update_row_masked).
    for (Index b = 0; b < rows; ++b) {
      const T* zr = z + b * 4 * u;
      T* cr = c + b * u;
      for (Index j = 0; j < u; j += C) {
        const Index n = std::min<Index>(C, u - j);
        const auto load = [&](const T* p) { return load_first<T>(p, n); };
        store_first(cr + j, lstm_carry(load(zr + u + j), load(cr + j), load(zr + j), load(zr + 2 * u + j)), n);
      }
    }
    // 3. tanh of all rows * u carries (c is dense: rows * u values).
    T* t = z + nz;
    const Index nc = rows * u;
    for (Index j = 0; j < nc; j += C) {
      const Index n = std::min<Index>(C, nc - j);
      store_first(t + j, lstm_tanh<T>(load_first<T>(c + j, n)), n);
    }
    // 4. h = o tanh(c), row by row.
    for (Index b = 0; b < rows; ++b) {
      const T* zr = z + b * 4 * u;
      const T* tr = t + b * u;
      T* hr = h + b * ld_h;
      for (Index j = 0; j < u; j += C) {
        const Index n = std::min<Index>(C, u - j);
        store_first(hr + j, pmul(load_first<T>(zr + 3 * u + j, n), load_first<T>(tr + j, n)), n);
      }
    }
  }

  /// c and h of one row from its activated gates zr (loads masked where a chunk is partial: the
  /// flat layout's rows have no padding).
  static void update_row_masked(Index u, const T* zr, T* cr, T* hr) {
    for (Index j = 0; j < u; j += C) {
      const Index n = std::min<Index>(C, u - j);
      const auto load = [&](const T* p) { return load_first<T>(p, n); };
      const Packet cp = lstm_carry(load(zr + u + j), load(cr + j), load(zr + j), load(zr + 2 * u + j));
      store_first(cr + j, cp, n);
      store_first(hr + j, Eigen::internal::pmul(load(zr + 3 * u + j), lstm_tanh<T>(cp)), n);
    }
  }

  Index units_ = 0;
  Activation activation_ = Activation::tanh;
  Activation recurrent_activation_ = Activation::sigmoid;
  bool fast_ = false;
  bool flat_ = false;
  Index ldz_ = 0;
  std::vector<T, Eigen::aligned_allocator<T>> scale_;
};

// g++ warns that a packet type's attributes (__m256's may_alias) are ignored when it is a template
// argument (packet_dividing<Packet, N>, static_lstm_step<T, Packet, ...>); as in gemm.hpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

/// The widest SIMD packet of T (Eigen's packet, or a half of it) whose lanes divide N, with at
/// least 4 lanes; void if there is none.
template <class Packet, int N>
struct packet_dividing {
  using Traits = Eigen::internal::unpacket_traits<Packet>;
  using Half = typename Traits::half;
  template <class P>
  struct is {
    using type = P;
  };
  static constexpr bool fits = Traits::size >= 4 && N % Traits::size == 0;
  static constexpr bool last = Traits::size <= 4 || std::is_same_v<Half, Packet>;
  using type =
      typename std::conditional_t<fits, is<Packet>, std::conditional_t<last, is<void>, packet_dividing<Half, N>>>::type;
};

/// One step of a compile-time-sized LSTM (StaticLSTMStream) with Keras' default activations, all
/// in registers: for each group of unit packets, z = b + x . W + h . U for its i, f, g and o
/// packets (each element the packed GEMM's chain: the bias, then every input, then every unit),
/// then the gates, c and h with LSTMGates' explicit operations (activate_gate, lstm_carry,
/// h = o * tanh(c)), so each value is bitwise the LSTM's. Packet has P lanes with Units % P == 0;
/// w (Features, 4 Units), u (Units, 4 Units) and b (4 Units) are dense in Keras' gate order. h_new
/// must not alias h: later groups still read the old h.
template <class T, class Packet, int Features, int Units>
inline void static_lstm_step(const T* x, const T* h, T* c, T* h_new, const T* w, const T* u, const T* b) {
  using namespace Eigen::internal;  // NOLINT(google-build-using-namespace): packet primitives
  constexpr int P = unpacket_traits<Packet>::size;
  constexpr int UP = Units / P;  // packets per gate block
  constexpr int G = 4 * Units;
  // Unit packets per group: 4 accumulators each, 8 or 16 in registers with the broadcasts.
  constexpr int Group = sizeof(Packet) * 8 >= 512 ? 4 : 2;
  const Packet half = pset1<Packet>(T(0.5));
  const Packet one = pset1<Packet>(T(1));
  STRATA_UNROLL
  for (int j0 = 0; j0 < UP; j0 += Group) {
    constexpr int Max = Group;
    const int count = std::min(Group, UP - j0);
    Packet acc[4][Max];
    STRATA_UNROLL
    for (int g = 0; g < 4; ++g) {
      STRATA_UNROLL
      for (int q = 0; q < Max; ++q) {
        if (q < count) acc[g][q] = pload<Packet>(b + g * Units + (j0 + q) * P);
      }
    }
    STRATA_UNROLL
    for (int k = 0; k < Features; ++k) {
      const Packet xk = pset1<Packet>(x[k]);
      STRATA_UNROLL
      for (int g = 0; g < 4; ++g) {
        STRATA_UNROLL
        for (int q = 0; q < Max; ++q) {
          if (q < count) acc[g][q] = pmadd(xk, pload<Packet>(w + k * G + g * Units + (j0 + q) * P), acc[g][q]);
        }
      }
    }
    for (int k = 0; k < Units; ++k) {
      const Packet hk = pset1<Packet>(h[k]);
      STRATA_UNROLL
      for (int g = 0; g < 4; ++g) {
        STRATA_UNROLL
        for (int q = 0; q < Max; ++q) {
          if (q < count) acc[g][q] = pmadd(hk, pload<Packet>(u + k * G + g * Units + (j0 + q) * P), acc[g][q]);
        }
      }
    }
    STRATA_UNROLL
    for (int q = 0; q < Max; ++q) {
      if (q >= count) break;
      const Packet i = LSTMGates<T>::activate_gate(half, acc[0][q]);
      const Packet f = LSTMGates<T>::activate_gate(half, acc[1][q]);
      const Packet g = LSTMGates<T>::activate_gate(one, acc[2][q]);
      const Packet o = LSTMGates<T>::activate_gate(half, acc[3][q]);
      const int at = (j0 + q) * P;
      const Packet cn = LSTMGates<T>::lstm_carry(f, pload<Packet>(c + at), i, g);
      pstore(c + at, cn);
      pstore(h_new + at, pmul(o, lstm_tanh<T>(cn)));
    }
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// The LSTM recurrence on packed weights, shared by LSTM and the streaming classes: one step
/// for a block of rows, without allocating.
template <class T>
class LSTMCell {
 public:
  /// h and the carry c.
  static constexpr int state_count = 2;

  LSTMCell() = default;
  LSTMCell(Index units, Activation activation, Activation recurrent_activation)
      : units_(units),
        activation_(activation),
        recurrent_activation_(recurrent_activation),
        gates_(units, activation, recurrent_activation) {}

  /// Packs row-major kernel (features, 4u), recurrent kernel (u, 4u) and bias (4u) or null.
  void set(const T* kernel, Index features, const T* recurrent, const T* bias) {
    const Index g = 4 * units_;
    features_ = features;
    kernel_.pack(kernel, features, g);
    recurrent_.pack(recurrent, units_, g);
    has_bias_ = bias != nullptr;
    if (has_bias_) bias_.pack(bias, 1, g);
  }

  /// The kernel (features, 4u) and recurrent kernel (u, 4u) back in Keras' row-major layout.
  void unpack(T* kernel, T* recurrent) const {
    kernel_.unpack(kernel);
    recurrent_.unpack(recurrent);
  }

  Index units() const { return units_; }
  Index features() const { return features_; }
  /// Scratch scalars per row (z, and what the gate pass needs besides).
  Index work_size() const { return gates_.work_size(); }
  Activation activation() const { return activation_; }
  Activation recurrent_activation() const { return recurrent_activation_; }

  /// One step for `rows` rows: z = x . W + h_prev . U + b into z (rows * work_size() scratch), then c (rows, u)
  /// updated in place and h written to h_out (row stride ld_out; may equal h_prev).
  void step(Index rows, const T* x, Index ldx, const T* h_prev, Index ld_prev, T* z, T* c, T* h_out,
            Index ld_out) const {
    const Index g = 4 * units_;
    const GemmTerm<T> terms[2] = {{x, ldx, &kernel_}, {h_prev, ld_prev, &recurrent_}};
    gemm(rows, g, terms, 2, has_bias_ ? &bias_ : nullptr, z, gates_.ldz());
    gates_(rows, z, c, h_out, ld_out);
  }

  /// The gate pass alone, on z (rows, work_size()) as step() leaves it after the product.
  void gates(Index rows, T* z, T* c, T* h, Index ld_h) const { gates_(rows, z, c, h, ld_h); }

 private:
  Index units_ = 0;
  Index features_ = 0;
  Activation activation_ = Activation::tanh;
  Activation recurrent_activation_ = Activation::sigmoid;
  PackedMatrix<T> kernel_;
  PackedMatrix<T> recurrent_;
  PackedMatrix<T> bias_;
  bool has_bias_ = false;
  LSTMGates<T> gates_;
};

}  // namespace detail

/// Keras `LSTM(units, ...)` on (batch, time, features).
///
/// Per step, with x_t (batch, features) and row vectors:
///     z = x_t . kernel + h . recurrent_kernel + bias            (batch, 4 units)
///     i = ra(z[:, 0:u])  f = ra(z[:, u:2u])  g = a(z[:, 2u:3u])  o = ra(z[:, 3u:4u])
///     c = f * c + i * g;   h = o * a(c)
/// with a = activation and ra = recurrent_activation. Gate blocks are ordered i, f, c (g), o, as
/// in Keras. Weights, as Keras' get_weights(): [kernel (features, 4u), recurrent_kernel (u, 4u),
/// bias (4u,)] (no bias when use_bias is false). Initial weights as Keras: glorot_uniform kernel,
/// orthogonal recurrent kernel, zero bias with the forget block at 1 when unit_forget_bias.
///
/// Output: (batch, time, units) with return_sequences, else (batch, units); its rank depends on
/// an option, so calls return AnyTensor (convert with `Tensor<T, 3> y = lstm(x);`). The calls,
/// the initial state LSTMState {h, c} and the stored state of a stateful layer are described in
/// detail::RecurrentLayer, which LSTM, GRU and SimpleRNN share: a stateful LSTM is called through
/// a non-const reference, since every call updates its stored state.
template <class T>
class LSTM : public detail::RecurrentLayer<LSTM<T>, T, 2, Tensor<T, 1>> {
  static_assert(std::is_floating_point_v<T>, "strata::LSTM: the scalar type must be float or double.");
  using Base = detail::RecurrentLayer<LSTM<T>, T, 2, Tensor<T, 1>>;
  friend Base;

 public:
  static constexpr const char* class_name = "LSTM";
  static constexpr const char* options_name = "LSTMOptions";
  /// Kernel columns per unit: the i, f, c and o blocks.
  static constexpr Index gates = 4;

  /// Throws value_error for units < 1, input_dim < 0, an unknown activation name, or softmax /
  /// log_softmax as an activation (they mix units; strata does not support them here).
  explicit LSTM(Index units, const LSTMOptions& options = LSTMOptions())
      : Base(units, options), unit_forget_bias_(options.unit_forget_bias()) {
    recurrent_activation_ =
        detail::parse_recurrent_activation(options.recurrent_activation(), "recurrent_activation", this->describe());
    if (options.input_dim() > 0) this->build(options.input_dim());
  }

  Activation recurrent_activation() const { return recurrent_activation_; }
  bool unit_forget_bias() const { return unit_forget_bias_; }

  /// The packed weights and the step function (low level; used by LSTMStream).
  const detail::LSTMCell<T>& cell() const {
    this->require_built("cell");
    return cell_;
  }

  // --- Keras description (docs/design.md, "Adding a layer"); the rest is RecurrentLayer's.
  /// Keras config: units, activation, recurrent_activation (hard_sigmoid by default in files of
  /// Keras <= 2.2 and tfjs, sigmoid since), use_bias, unit_forget_bias, and the recurrent options.
  /// Keras 1 names units output_dim and recurrent_activation inner_activation (its
  /// forget_bias_init only initialises).
  static LSTM from_config(const LayerConfig<T>& config) {
    LSTMOptions options;
    Base::gated_options(config, options).unit_forget_bias(config.boolean("unit_forget_bias", true));
    return LSTM(config.integer(config.spelling("units", "output_dim")), options);
  }
  /// Keras 1's LSTM.build lists its per-gate weights in the order i, c, f, o (trainable_weights =
  /// [W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o]); Keras 2's columns are i, f, c, o.
  static constexpr std::array<detail::Keras1Gate, 4> keras1_gates{{{"i", 0}, {"c", 2}, {"f", 1}, {"o", 3}}};

 private:
  Shape bias_shape() const { return Shape{4 * this->units_}; }
  std::string bias_note() const { return ""; }
  Tensor<T, 1> initial_bias() const {
    Tensor<T, 1> bias(4 * this->units_);
    bias.setZero();
    if (unit_forget_bias_) {
      for (Index j = this->units_; j < 2 * this->units_; ++j) bias(j) = T(1);
    }
    return bias;
  }
  detail::LSTMCell<T> make_cell(const T* kernel, Index features, const T* recurrent, const T* bias) const {
    detail::LSTMCell<T> cell(this->units_, this->activation_, recurrent_activation_);
    cell.set(kernel, features, recurrent, bias);
    return cell;
  }

  Activation recurrent_activation_ = Activation::sigmoid;
  bool unit_forget_bias_;
  detail::LSTMCell<T> cell_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(LSTM)

// LSTMStream; streaming.hpp includes this header for LSTM itself, so it comes after the class.
#include "../streaming.hpp"  // IWYU pragma: export

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
/// LSTM's per-step form (Model::stream, through RecurrentLayer::make_step): LSTMStream, bitwise
/// the sequence call at every step.
template <class T>
LSTMStream<T> step_stream(const LSTM<T>& layer, Index batch) {
  return LSTMStream<T>(layer, batch);
}
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_LAYERS_LSTM_HPP
