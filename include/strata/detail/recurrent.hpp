// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_RECURRENT_HPP
#define STRATA_DETAIL_RECURRENT_HPP

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "../mask.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"
#include "gemm.hpp"
#include "layer.hpp"
#include "options.hpp"

namespace strata {

/// What GRU::call and SimpleRNN::call return: the output ((batch, time, units) or (batch,
/// units)) and the final state h (batch, units).
template <class T>
struct RNNResult {
  AnyTensor<T> output;
  Tensor<T, 2> h;
};

namespace detail {

/// The options every Keras RNN layer (LSTM, GRU, SimpleRNN) has besides LayerOptions'.
template <class Derived>
class RecurrentOptions : public LayerOptions<Derived> {
 public:
  /// Keras `return_sequences`: output (batch, time, units) instead of (batch, units); default false.
  Derived& return_sequences(bool on) {
    return_sequences_ = on;
    return self();
  }
  /// Keras `return_state`: outputs() also gives the final state(s); default false.
  Derived& return_state(bool on) {
    return_state_ = on;
    return self();
  }
  /// Keras `go_backwards`: consume the sequence last step first; the output sequence stays in
  /// processing order, as in Keras. Default false.
  Derived& go_backwards(bool on) {
    go_backwards_ = on;
    return self();
  }
  /// Keras `stateful`: each call starts from the final state of the previous call (sample i
  /// continues sample i); reset_states() forgets it. Default false.
  Derived& stateful(bool on) {
    stateful_ = on;
    return self();
  }
  /// Keras `zero_output_for_mask`: at a masked step the output is 0 instead of the previous
  /// output. Default false; Keras' Bidirectional turns it on for its layers with return_sequences.
  Derived& zero_output_for_mask(bool on) {
    zero_output_for_mask_ = on;
    return self();
  }

  bool return_sequences() const { return return_sequences_; }
  bool return_state() const { return return_state_; }
  bool go_backwards() const { return go_backwards_; }
  bool stateful() const { return stateful_; }
  bool zero_output_for_mask() const { return zero_output_for_mask_; }

 protected:
  explicit RecurrentOptions(std::string default_activation) : LayerOptions<Derived>(std::move(default_activation)) {}

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  bool return_sequences_ = false;
  bool return_state_ = false;
  bool go_backwards_ = false;
  bool stateful_ = false;
  bool zero_output_for_mask_ = false;
};

/// How a sequence is consumed and what is written (the options that shape the recurrence).
struct RecurrenceFlags {
  bool return_sequences = false;
  bool go_backwards = false;
  bool zero_output_for_mask = false;
};

template <class T>
using AlignedVector = std::vector<T, Eigen::aligned_allocator<T>>;

/// Runs `cell` over x (batch, steps, features), row-major.
///
/// Cell: `static constexpr int state_count` (1: h; 2: h and a carry, the LSTM's c), `units()`,
/// `work_size()` (scalars of scratch per row) and `step(rows, x, ldx, h_prev, ld_prev, work,
/// carry, h_out, ld_out)`, which may be called with h_out == h_prev.
///
/// initial: state_count pointers to (batch, units) states, or nulls for zeros. mask: (batch,
/// steps) or null. out: (batch, steps, units) with return_sequences, else (batch, units).
/// finals: state_count pointers (batch, units) to receive the final states, or nulls.
///
/// Masks follow Keras' TensorFlow backend: at a masked step the states are carried unchanged and
/// the output repeats the previous output -- zeros before the first kept step -- or is 0 with
/// zero_output_for_mask. The mask is indexed like the input, so go_backwards reverses both.
/// Rows never interact: each thread runs its own block of rows through the whole sequence, and
/// all scratch memory is allocated before the time loop.
template <class T, class Cell>
void run_recurrence(const Cell& cell, const RecurrenceFlags& flags, const T* x, Index batch, Index steps,
                    Index features, const std::array<const T*, Cell::state_count>& initial, const bool* mask, T* out,
                    const std::array<T*, Cell::state_count>& finals) {
  constexpr bool has_carry = Cell::state_count == 2;
  const Index u = cell.units();
  const Index w = cell.work_size();
  if (batch == 0) return;
  AlignedVector<T> work(static_cast<std::size_t>(batch * w));
  AlignedVector<T> carry(has_carry ? static_cast<std::size_t>(batch * u) : 0, T(0));
  if constexpr (has_carry) {
    if (initial[1] != nullptr) std::copy(initial[1], initial[1] + batch * u, carry.begin());
  }
  T* carry_data = has_carry ? carry.data() : nullptr;
  const Index out_ld = flags.return_sequences ? steps * u : u;
  const double flops_per_row = 2.0 * static_cast<double>(steps) * static_cast<double>((features + u) * w);
  const Index grain = rows_worth_a_thread(flops_per_row);
  const auto step_index = [&](Index s) { return flags.go_backwards ? steps - 1 - s : s; };

  if (mask == nullptr) {
    // With return_sequences each step's h is written straight into its output slot, and the next
    // step reads it from there; otherwise the output itself is the running h.
    AlignedVector<T> h_zero;
    if (initial[0] == nullptr) h_zero.assign(static_cast<std::size_t>(batch * u), T(0));
    parallel_rows(batch, grain, GemmConfig<T>::tile_rows, [&](Index r0, Index r1) {
      const Index rows = r1 - r0;
      const T* h_prev = (initial[0] != nullptr ? initial[0] : h_zero.data()) + r0 * u;
      Index h_prev_ld = u;
      T* out_rows = out + r0 * out_ld;
      for (Index s = 0; s < steps; ++s) {
        const Index t = step_index(s);
        T* h_out = flags.return_sequences ? out_rows + s * u : out_rows;
        cell.step(rows, x + r0 * steps * features + t * features, steps * features, h_prev, h_prev_ld,
                  work.data() + r0 * w, has_carry ? carry_data + r0 * u : nullptr, h_out, out_ld);
        h_prev = h_out;
        h_prev_ld = out_ld;
      }
      if (finals[0] != nullptr) {
        for (Index b = 0; b < rows; ++b) {
          std::copy(h_prev + b * h_prev_ld, h_prev + b * h_prev_ld + u, finals[0] + (r0 + b) * u);
        }
      }
    });
  } else {
    // The state h lives apart from the output here: at a masked step they differ (the output may
    // be zeros while h is carried). Masked rows are saved before the step and restored after.
    AlignedVector<T> h(static_cast<std::size_t>(batch * u), T(0));
    if (initial[0] != nullptr) std::copy(initial[0], initial[0] + batch * u, h.begin());
    AlignedVector<T> saved(static_cast<std::size_t>(batch * u * Cell::state_count));
    if (!flags.return_sequences) std::fill(out, out + batch * u, T(0));
    parallel_rows(batch, grain, GemmConfig<T>::tile_rows, [&](Index r0, Index r1) {
      const Index rows = r1 - r0;
      T* h_rows = h.data() + r0 * u;
      T* carry_rows = has_carry ? carry_data + r0 * u : nullptr;
      T* saved_h = saved.data() + r0 * u * Cell::state_count;
      T* saved_carry = saved_h + rows * u;
      for (Index s = 0; s < steps; ++s) {
        const Index t = step_index(s);
        for (Index b = 0; b < rows; ++b) {
          if (mask[(r0 + b) * steps + t]) continue;
          std::copy(h_rows + b * u, h_rows + (b + 1) * u, saved_h + b * u);
          if constexpr (has_carry) std::copy(carry_rows + b * u, carry_rows + (b + 1) * u, saved_carry + b * u);
        }
        cell.step(rows, x + r0 * steps * features + t * features, steps * features, h_rows, u, work.data() + r0 * w,
                  carry_rows, h_rows, u);
        for (Index b = 0; b < rows; ++b) {
          const bool kept = mask[(r0 + b) * steps + t];
          if (!kept) {
            std::copy(saved_h + b * u, saved_h + (b + 1) * u, h_rows + b * u);
            if constexpr (has_carry) std::copy(saved_carry + b * u, saved_carry + (b + 1) * u, carry_rows + b * u);
          }
          T* dst = out + (r0 + b) * out_ld + (flags.return_sequences ? s * u : 0);
          if (kept) {
            std::copy(h_rows + b * u, h_rows + (b + 1) * u, dst);
          } else if (flags.zero_output_for_mask) {
            std::fill(dst, dst + u, T(0));
          } else if (flags.return_sequences) {
            // The previous output; zeros before the first step (TensorFlow's prev_output).
            if (s == 0) {
              std::fill(dst, dst + u, T(0));
            } else {
              std::copy(dst - u, dst, dst);
            }
          }  // else: the running last output keeps its value.
        }
      }
      if (finals[0] != nullptr) std::copy(h_rows, h_rows + rows * u, finals[0] + r0 * u);
    });
  }
  if constexpr (has_carry) {
    if (finals[1] != nullptr) std::copy(carry.begin(), carry.end(), finals[1]);
  }
}

/// What the RNN layers share: the options that shape the recurrence, the checks, and the stored
/// state of a stateful layer. A member of LSTM, GRU and SimpleRNN (no virtual base).
template <class T, int StateCount>
class RecurrentCore {
 public:
  using States = std::array<Tensor<T, 2>, StateCount>;

  RecurrentCore() = default;
  template <class Options>
  explicit RecurrentCore(const Options& options)
      : return_sequences_(options.return_sequences()),
        return_state_(options.return_state()),
        go_backwards_(options.go_backwards()),
        stateful_(options.stateful()),
        zero_output_for_mask_(options.zero_output_for_mask()) {}

  bool return_sequences() const { return return_sequences_; }
  bool return_state() const { return return_state_; }
  bool go_backwards() const { return go_backwards_; }
  bool stateful() const { return stateful_; }
  bool zero_output_for_mask() const { return zero_output_for_mask_; }
  void set_go_backwards(bool on) { go_backwards_ = on; }
  void set_zero_output_for_mask(bool on) { zero_output_for_mask_ = on; }

  void reset_states() {
    state_ = States{};
    has_state_ = false;
  }
  bool has_states() const { return has_state_; }
  const States& states() const { return state_; }

  /// (batch, time, features) -> (batch, time, units) or (batch, units).
  Shape output_shape(const Shape& input, Index input_dim, Index units, const std::string& who) const {
    if (input.rank() != 3 || input[2] != input_dim) {
      throw shape_error(concat(who, ": input must have rank 3 (batch, time, features=", input_dim, "); got shape ",
                               input.to_string()));
    }
    if (input[1] == 0) {
      throw shape_error(concat(who, ": input must have at least one time step; got shape ", input.to_string()));
    }
    (void)input.size();
    return return_sequences_ ? Shape{input[0], input[1], units} : Shape{input[0], units};
  }

  /// Keras compute_mask: the input mask with return_sequences, else none.
  const Mask* output_mask(const Mask* mask) const { return return_sequences_ ? mask : nullptr; }

  /// Checks initial states (each (batch, units)) and a mask, naming the layer.
  void check_inputs(const std::array<const Tensor<T, 2>*, StateCount>& initial, const Mask* mask, const Shape& in,
                    Index units, const std::string& who, const std::array<const char*, StateCount>& names) const {
    for (int k = 0; k < StateCount; ++k) {
      if (initial[k] == nullptr) continue;
      const Tensor<T, 2>& s = *initial[k];
      if (s.dimension(0) != in[0] || s.dimension(1) != units) {
        throw shape_error(concat(who, ": initial state ", names[k], " must have shape (batch=", in[0],
                                 ", units=", units, "); got ", shape_of(s).to_string()));
      }
    }
    if (mask != nullptr) check_mask(*mask, in[0], in[1], who);
  }

  /// Picks the initial states (given, stored or zeros), runs the cell, and stores the final
  /// states of a stateful layer. finals may hold nulls.
  template <class Cell>
  void run(const Cell& cell, const T* x, const Shape& in, const std::array<const Tensor<T, 2>*, StateCount>& initial,
           const Mask* mask, T* out, const std::array<T*, StateCount>& finals, const std::string& who) const {
    const Index batch = in[0];
    const Index units = cell.units();
    // Keras keeps a stateful layer's batch size fixed (its state variables have that shape).
    if (stateful_ && has_state_ && state_[0].dimension(0) != batch) {
      throw shape_error(concat(who, ": stateful layer holds states for batch ", state_[0].dimension(0), "; got shape ",
                               in.to_string(), " (call reset_states() to change the batch)"));
    }
    std::array<const T*, StateCount> start{};
    for (int k = 0; k < StateCount; ++k) {
      if (initial[k] != nullptr) {
        start[k] = initial[k]->data();
      } else if (stateful_ && has_state_) {
        start[k] = state_[k].data();
      }
    }
    const RecurrenceFlags flags{return_sequences_, go_backwards_, zero_output_for_mask_};
    const bool* mask_data = mask != nullptr ? mask->data() : nullptr;
    if (!stateful_ || batch == 0) {
      run_recurrence(cell, flags, x, batch, in[1], in[2], start, mask_data, out, finals);
      return;
    }
    States next;
    std::array<T*, StateCount> next_ptr{};
    for (int k = 0; k < StateCount; ++k) {
      next[k] = Tensor<T, 2>(batch, units);
      next_ptr[k] = next[k].data();
    }
    run_recurrence(cell, flags, x, batch, in[1], in[2], start, mask_data, out, next_ptr);
    for (int k = 0; k < StateCount; ++k) {
      if (finals[k] != nullptr) std::copy(next[k].data(), next[k].data() + next[k].size(), finals[k]);
    }
    state_ = std::move(next);
    has_state_ = true;
  }

 private:
  bool return_sequences_ = false;
  bool return_state_ = false;
  bool go_backwards_ = false;
  bool stateful_ = false;
  bool zero_output_for_mask_ = false;
  // The stored state of a stateful layer: updated by const calls, as Keras updates it in call().
  mutable States state_{};
  mutable bool has_state_ = false;
};

/// The base of GRU and SimpleRNN, whose only state is h: their calls, masks, initial state and
/// outputs list. Derived provides cell(), units(), input_dim(), built(), describe(),
/// require_built(what) and core() (a RecurrentCore<T, 1>). Static (CRTP), not virtual.
template <class Derived, class T>
class SingleStateRecurrent {
 public:
  using Scalar = T;
  /// Number of state tensors (h).
  static constexpr int state_count = 1;

  static constexpr int output_rank(int input_rank) { return input_rank == 3 ? dynamic_rank : invalid_rank; }

  /// (batch, time, features) -> (batch, time, units) or (batch, units). Throws shape_error for
  /// another rank, another feature size or an empty time axis; value_error when not built.
  Shape compute_output_shape(const Shape& input) const {
    self().require_built("call");
    return self().core().output_shape(input, self().input_dim(), self().units(), self().describe());
  }

  /// Keras compute_mask: the input mask with return_sequences, else none (null).
  const Mask* compute_mask(const Mask* mask) const { return self().core().output_mask(mask); }

  /// Low-level call on raw row-major memory; output must hold compute_output_shape(input_shape).
  /// Starts from zeros, or from the stored state when stateful. mask: (batch, time) or null.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size,
               const Mask* mask = nullptr) const {
    const Shape out_shape = compute_output_shape(input_shape);
    check_output_size(self(), out_shape, output_size);
    self().core().check_inputs({nullptr}, mask, input_shape, self().units(), self().describe(), {"h"});
    self().core().run(self().cell(), input, input_shape, {nullptr}, mask, output, {nullptr}, self().describe());
  }

  /// Keras `layer(x)` on a rank-3 Tensor, TensorMap or AnyTensor; returns the output (rank 3 or 2).
  template <class X>
  AnyTensor<T> operator()(const X& x) const {
    return call(x).output;
  }
  /// Keras `layer(x, mask=mask)`.
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) const {
    return call(x, nullptr, &mask).output;
  }
  /// Keras `layer(x, initial_state=h0)`, h0 (batch, units).
  template <class X>
  AnyTensor<T> operator()(const X& x, const Tensor<T, 2>& initial_state) const {
    return call(x, &initial_state, nullptr).output;
  }

  /// The output and the final state h, from zeros (or the stored state when stateful).
  template <class X>
  RNNResult<T> call(const X& x) const {
    return call(x, nullptr, nullptr);
  }
  /// The general form: initial_state (batch, units) and mask (batch, time) may be null; an
  /// initial state given here takes precedence over a stateful layer's stored state, as in Keras.
  template <class X>
  RNNResult<T> call(const X& x, const Tensor<T, 2>* initial_state, const Mask* mask) const {
    if constexpr (is_tensor_input_v<X, T>) {
      static_assert(X::NumIndices == 3,
                    "strata::GRU and strata::SimpleRNN: the input must have rank 3 (batch, time, features); for rank "
                    "4 wrap the layer in TimeDistributed.");
    }
    const auto [data, in] = sequence_input<T, 3>(x, self().describe());
    RNNResult<T> result;
    result.output = AnyTensor<T>::uninitialized(compute_output_shape(in));
    self().core().check_inputs({initial_state}, mask, in, self().units(), self().describe(), {"h"});
    result.h = Tensor<T, 2>(in[0], self().units());
    self().core().run(self().cell(), data, in, {initial_state}, mask, result.output.data(), {result.h.data()},
                      self().describe());
    return result;
  }

  /// Keras' return value as a list: [output], or [output, h] with return_state.
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const Tensor<T, 2>* initial_state = nullptr,
                                    const Mask* mask = nullptr) const {
    RNNResult<T> r = call(x, initial_state, mask);
    std::vector<AnyTensor<T>> out;
    out.push_back(std::move(r.output));
    if (self().core().return_state()) out.emplace_back(std::move(r.h));
    return out;
  }

  bool return_sequences() const { return self().core().return_sequences(); }
  bool return_state() const { return self().core().return_state(); }
  bool go_backwards() const { return self().core().go_backwards(); }
  bool stateful() const { return self().core().stateful(); }
  bool zero_output_for_mask() const { return self().core().zero_output_for_mask(); }
  bool carries_state() const { return self().core().stateful(); }
  int output_count() const { return self().core().return_state() ? 2 : 1; }

  /// Forgets the stored state of a stateful layer (Keras reset_states()).
  void reset_states() { self().core().reset_states(); }
  bool has_states() const { return self().core().has_states(); }
  /// The stored h of a stateful layer (empty when there is none).
  const Tensor<T, 2>& states() const { return self().core().states()[0]; }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self() { return static_cast<Derived&>(*this); }
};

/// Packs columns [c0, c0 + n) of a row-major (rows, cols) matrix.
template <class T>
PackedMatrix<T> pack_columns(const T* src, Index rows, Index cols, Index c0, Index n) {
  std::vector<T> slice(static_cast<std::size_t>(rows * n));
  for (Index k = 0; k < rows; ++k) std::copy(src + k * cols + c0, src + k * cols + c0 + n, slice.data() + k * n);
  return PackedMatrix<T>(slice.data(), rows, n);
}

/// Throws value_error for softmax-like activations, which mix the units of a state.
inline Activation parse_recurrent_activation(const std::string& name, const char* option, const std::string& who) {
  const Activation a = parse_activation(name, who);
  if (!is_elementwise(a)) {
    throw value_error(concat(who, ": ", option, " '", name,
                             "' is not supported (it mixes the units of a state; use an element-wise one)"));
  }
  return a;
}

}  // namespace detail
}  // namespace strata

#endif  // STRATA_DETAIL_RECURRENT_HPP
