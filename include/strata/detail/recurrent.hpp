// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_RECURRENT_HPP
#define STRATA_DETAIL_RECURRENT_HPP

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"
#include "gemm.hpp"
#include "init.hpp"
#include "layer.hpp"
#include "options.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// What GRU::call and SimpleRNN::call return: the output ((batch, time, units) or (batch,
/// units)) and the final state h (batch, units).
template <class T>
struct RNNResult {
  AnyTensor<T> output;
  Tensor<T, 2> h;
};

/// An LSTM state: h (the output, "memory state" in Keras) and c (the carry), each (batch, units).
template <class T>
struct LSTMState {
  Tensor<T, 2> h;
  Tensor<T, 2> c;
};

/// What LSTM::call returns: the output ((batch, time, units) or (batch, units)) and the final state.
template <class T>
struct LSTMResult {
  AnyTensor<T> output;
  Tensor<T, 2> h;
  Tensor<T, 2> c;
};

namespace detail {

/// The options every Keras RNN layer (LSTM, GRU, SimpleRNN, RNN) has besides Base's: LayerOptions'
/// for the layers with their own weights, Options' (the name) for RNN, whose cell has the weights.
template <class Derived, class Base = LayerOptions<Derived>>
class RecurrentOptions : public Base {
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
  RecurrentOptions() = default;
  explicit RecurrentOptions(std::string default_activation) : Base(std::move(default_activation)) {}

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  bool return_sequences_ = false;
  bool return_state_ = false;
  bool go_backwards_ = false;
  bool stateful_ = false;
  bool zero_output_for_mask_ = false;
};

/// Reads the config keys every Keras recurrent layer has (LSTM, GRU, SimpleRNN, RNN(cell),
/// ConvLSTM) into a RecurrentOptions: return_sequences, return_state, go_backwards, stateful and
/// zero_output_for_mask, each false when missing (Keras 1 has no return_state nor
/// zero_output_for_mask). `unroll` changes nothing at inference and is not read.
template <class Options, class T>
Options& read_sequence_options(Options& options, const LayerConfig<T>& config) {
  return options.return_sequences(config.boolean("return_sequences", false))
      .return_state(config.boolean("return_state", false))
      .go_backwards(config.boolean("go_backwards", false))
      .stateful(config.boolean("stateful", false))
      .zero_output_for_mask(config.boolean("zero_output_for_mask", false));
}

/// The options of the recurrent layers with gates (LSTM, GRU): RecurrentOptions' plus
/// `recurrent_activation`.
template <class Derived>
class GatedRecurrentOptions : public RecurrentOptions<Derived> {
 public:
  /// Keras `recurrent_activation` (the gates); default "sigmoid" (Keras 3, tf.keras 2; Keras <= 2.2
  /// and tfjs default to hard_sigmoid, i.e. strata's "hard_sigmoid_keras2").
  Derived& recurrent_activation(std::string name) {
    recurrent_activation_ = std::move(name);
    return static_cast<Derived&>(*this);
  }
  Derived& recurrent_activation(Activation a) {
    recurrent_activation_ = std::string(activation_name(a));
    return static_cast<Derived&>(*this);
  }
  const std::string& recurrent_activation() const { return recurrent_activation_; }

 protected:
  using RecurrentOptions<Derived>::RecurrentOptions;

 private:
  std::string recurrent_activation_ = "sigmoid";
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

/// A recurrent layer's check of the mask it is given in a model graph (0: none): strata's masks
/// are (batch, time), rank 2.
inline void check_recurrent_mask_rank(int mask, const std::string& who) {
  if (mask != 0 && mask != 2) {
    throw value_error(concat(who, ": receives a mask of rank ", mask,
                             "; recurrent layers take (batch, time) masks, which Masking and Embedding(mask_zero) "
                             "make from (batch, time, ...) inputs"));
  }
}

/// A recurrent layer's check of the initial states among its graph inputs (inputs[1...]): each
/// (batch, units).
inline void check_initial_state_shapes(const std::vector<Shape>& inputs, Index units, const std::string& who) {
  const Shape state{inputs[0][0], units};
  for (std::size_t k = 1; k < inputs.size(); ++k) {
    if (inputs[k] != state) {
      throw shape_error(concat(who, ": initial state ", k - 1, " must have shape ", state.to_string(), "; it is given ",
                               inputs[k].to_string()));
    }
  }
}

/// The state and result types of a recurrent layer with N state tensors: N = 1 (h: GRU,
/// SimpleRNN) or N = 2 (h and c: LSTM).
template <class T, int N>
struct RecurrentTypes;

template <class T>
struct RecurrentTypes<T, 1> {
  using State = Tensor<T, 2>;
  using Result = RNNResult<T>;
  static constexpr std::array<const char*, 1> names{{"h"}};
  static std::array<const T*, 1> data(const State& s) { return {s.data()}; }
  static std::array<Shape, 1> shapes(const State& s) { return {shape_of(s)}; }
  static Result result(AnyTensor<T> output, std::array<Tensor<T, 2>, 1>& finals) {
    return Result{std::move(output), std::move(finals[0])};
  }
  static State state(const std::array<Tensor<T, 2>, 1>& s) { return s[0]; }
};

template <class T>
struct RecurrentTypes<T, 2> {
  using State = LSTMState<T>;
  using Result = LSTMResult<T>;
  static constexpr std::array<const char*, 2> names{{"h", "c"}};
  static std::array<const T*, 2> data(const State& s) { return {s.h.data(), s.c.data()}; }
  static std::array<Shape, 2> shapes(const State& s) { return {shape_of(s.h), shape_of(s.c)}; }
  static Result result(AnyTensor<T> output, std::array<Tensor<T, 2>, 2>& finals) {
    return Result{std::move(output), std::move(finals[0]), std::move(finals[1])};
  }
  static State state(const std::array<Tensor<T, 2>, 2>& s) { return State{s[0], s[1]}; }
};

/// A gate of a Keras 1 LSTM or GRU: its name in Keras 1's weight names (W_i, U_i, b_i) and its
/// position in Keras 2's gate order (the column block of kernel, recurrent_kernel and bias).
struct Keras1Gate {
  const char* name;
  Index position;
};

/// What the RNN layers share: the options that shape the recurrence, the checks, and the stored
/// state of a stateful layer. A member of every recurrent layer (no virtual base).
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

  /// Checks initial states (each (batch, units); empty shapes are absent ones) and a mask.
  void check_inputs(const std::array<Shape, StateCount>& initial, const Mask* mask, const Shape& in, Index units,
                    const std::string& who, const std::array<const char*, StateCount>& names) const {
    for (int k = 0; k < StateCount; ++k) {
      const Shape& s = initial[static_cast<std::size_t>(k)];
      if (s.empty()) continue;
      if (s != Shape{in[0], units}) {
        throw shape_error(concat(who, ": initial state ", names[static_cast<std::size_t>(k)],
                                 " must have shape (batch=", in[0], ", units=", units, "); got ", s.to_string()));
      }
    }
    if (mask != nullptr) check_mask(*mask, in[0], in[1], who);
  }

  /// Runs the cell from the given initial states (nulls: zeros), writing finals (nulls: not
  /// wanted). Leaves the stored state alone, so it refuses a stateful layer, whose every call
  /// changes that state: call it through a non-const reference (run_stateful).
  template <class Cell>
  void run(const Cell& cell, const T* x, const Shape& in, const std::array<const T*, StateCount>& initial,
           const Mask* mask, T* out, const std::array<T*, StateCount>& finals, const std::string& who) const {
    if (stateful_) {
      throw value_error(concat(who,
                               ": is stateful, so every call changes its stored state; call it through a "
                               "non-const reference"));
    }
    run_recurrence(cell, flags(), x, in[0], in[1], in[2], initial, mask_data(mask), out, finals);
  }

  /// Runs the cell; a stateful layer starts from its stored state (when no initial state is
  /// given) and stores the final one, as Keras does.
  template <class Cell>
  void run_stateful(const Cell& cell, const T* x, const Shape& in, const std::array<const T*, StateCount>& initial,
                    const Mask* mask, T* out, const std::array<T*, StateCount>& finals, const std::string& who) {
    if (!stateful_) {
      run(cell, x, in, initial, mask, out, finals, who);
      return;
    }
    const Index batch = in[0];
    // Keras keeps a stateful layer's batch size fixed (its state variables have that shape).
    if (has_state_ && state_[0].dimension(0) != batch) {
      throw shape_error(concat(who, ": stateful layer holds states for batch ", state_[0].dimension(0), "; got shape ",
                               in.to_string(), " (call reset_states() to change the batch)"));
    }
    std::array<const T*, StateCount> start = initial;
    for (int k = 0; k < StateCount; ++k) {
      const auto i = static_cast<std::size_t>(k);
      if (start[i] == nullptr && has_state_) start[i] = state_[i].data();
    }
    if (batch == 0) {
      run_recurrence(cell, flags(), x, batch, in[1], in[2], start, mask_data(mask), out, finals);
      return;
    }
    States next;
    std::array<T*, StateCount> next_ptr{};
    for (int k = 0; k < StateCount; ++k) {
      const auto i = static_cast<std::size_t>(k);
      next[i] = Tensor<T, 2>(batch, cell.units());
      next_ptr[i] = next[i].data();
    }
    run_recurrence(cell, flags(), x, batch, in[1], in[2], start, mask_data(mask), out, next_ptr);
    for (int k = 0; k < StateCount; ++k) {
      const auto i = static_cast<std::size_t>(k);
      if (finals[i] != nullptr) std::copy(next[i].data(), next[i].data() + next[i].size(), finals[i]);
    }
    state_ = std::move(next);
    has_state_ = true;
  }

 private:
  RecurrenceFlags flags() const { return RecurrenceFlags{return_sequences_, go_backwards_, zero_output_for_mask_}; }
  static const bool* mask_data(const Mask* mask) { return mask != nullptr ? mask->data() : nullptr; }

  bool return_sequences_ = false;
  bool return_state_ = false;
  bool go_backwards_ = false;
  bool stateful_ = false;
  bool zero_output_for_mask_ = false;
  // The stored state of a stateful layer; only non-const calls change it.
  States state_{};
  bool has_state_ = false;
};

/// A recurrent layer's per-step form (RecurrentLayer::make_step) around its stream class, which
/// has a constructor (const Layer&, Index batch), `const T* step(const T* x)` returning h,
/// `reset()`, `h()` and, for N == 2, `c()` (views with data()). Outputs: h, then with return_state
/// the N states (h; or h and c).
template <class T, class Stream, int N>
class RecurrentStep {
 public:
  RecurrentStep(Stream stream, Index units, bool return_state)
      : stream_(std::move(stream)), units_(units), return_state_(return_state) {}
  void step(const T* const* inputs, const T** outputs) {
    const T* h = stream_.step(inputs[0]);
    outputs[0] = h;
    if (return_state_) {
      outputs[1] = h;
      if constexpr (N == 2) outputs[2] = stream_.c().data();
    }
  }
  void reset() { stream_.reset(); }
  /// [h] or [h, c], each (batch, units).
  std::vector<TensorView<T>> states() const {
    const Shape s{stream_.batch(), units_};
    std::vector<TensorView<T>> out{TensorView<T>(stream_.h().data(), s)};
    if constexpr (N == 2) out.emplace_back(stream_.c().data(), s);
    return out;
  }

 private:
  Stream stream_;
  Index units_;
  bool return_state_;
};

/// Everything LSTM, GRU and SimpleRNN share: options, weights, the call and state API, and the
/// Keras description (config, weights under the layer's "cell", masks, initial states). Derived
/// provides: `class_name`, `options_name` (its options class, for messages), `gates` (columns
/// of the kernel per unit: 4, 3, 1), `cell()` and `make_cell()` (packing the weights), and
/// `bias_shape()` and `initial_bias()` (Keras' bias layout and initializer). N is the number of
/// state tensors; Bias is the bias's tensor type. Static (CRTP), not virtual. A layer has
/// make_step (Model::stream) when its header declares its stream, found by argument-dependent
/// lookup: `Stream step_stream(const Derived& layer, Index batch)`.
///
/// Every call exists twice: `const`, which leaves the layer unchanged and may run concurrently
/// (and throws value_error for a stateful layer), and non-const, which a stateful layer needs:
/// it starts from the stored state and stores the final one.
template <class Derived, class T, int N, class Bias>
class RecurrentLayer {
  using Types = RecurrentTypes<T, N>;

 public:
  using Scalar = T;
  /// The initial-state type: Tensor<T, 2> h (GRU, SimpleRNN), or LSTMState<T> {h, c} (LSTM).
  using State = typename Types::State;
  /// What call() returns: the output and the final state(s).
  using Result = typename Types::Result;
  /// Number of state tensors (h; or h and c).
  static constexpr int state_count = N;

  Index units() const { return units_; }
  Activation activation() const { return activation_; }
  bool use_bias() const { return use_bias_; }
  bool return_sequences() const { return core_.return_sequences(); }
  bool return_state() const { return core_.return_state(); }
  bool go_backwards() const { return core_.go_backwards(); }
  bool stateful() const { return core_.stateful(); }
  bool zero_output_for_mask() const { return core_.zero_output_for_mask(); }
  const std::string& name() const { return name_; }
  /// Whether the layer has weights (built, or given weights).
  bool built() const { return input_dim_ > 0; }
  /// Size of the input's last axis; 0 until built.
  Index input_dim() const { return input_dim_; }
  std::string describe() const { return describe_layer(label_.empty() ? Derived::class_name : label_.c_str(), name_); }

  /// Replaces the options that shape the recurrence (return_sequences, return_state, go_backwards,
  /// stateful, zero_output_for_mask) with those of `options` and forgets any stored state: RNN(cell)
  /// runs its cell's layer under the RNN's options. Weights are kept.
  template <class Options>
  void set_sequence_options(const Options& options) {
    core_ = RecurrentCore<T, N>(options);
  }
  /// The class name messages give instead of Derived::class_name ("" for it): RNN and the Keras
  /// cells run this layer under their own names ("RNN(LSTMCell 'lstm_cell')", "LSTMCell").
  void set_label(std::string label) { label_ = std::move(label); }

  /// Changes go_backwards, name or zero_output_for_mask of a constructed layer (Bidirectional
  /// derives its backward layer this way); weights are kept.
  void set_go_backwards(bool on) { core_.set_go_backwards(on); }
  void set_zero_output_for_mask(bool on) { core_.set_zero_output_for_mask(on); }
  void set_name(std::string name) { name_ = std::move(name); }

  /// Keras build: initial weights for `features` inputs per step (glorot_uniform kernel,
  /// orthogonal recurrent kernel, the layer's bias initializer). Calling it again re-initialises
  /// them (the same ones again when a seed is set).
  void build(Index features) {
    if (features < 1) throw value_error(concat(describe(), ": input features must be at least 1; got ", features));
    const Index g = gate_columns();
    auto gen = Generator::from(seed_);
    Tensor<T, 2> kernel(to_dims<2>(weight_shape(features, g)));
    glorot_uniform(kernel.data(), features, g, gen);
    Tensor<T, 2> recurrent(units_, g);
    orthogonal(recurrent.data(), units_, g, gen);
    assign(kernel, recurrent, use_bias_ ? self().initial_bias() : Bias());
  }

  /// Keras get_weights(): [kernel (features, g u), recurrent_kernel (u, g u), bias] (no bias
  /// without use_bias), g the gate count.
  Weights<T> get_weights() const {
    require_built("get_weights");
    auto [kernel, recurrent] = unpacked();
    Weights<T> w{std::move(kernel), std::move(recurrent)};
    if (use_bias_) w.emplace_back(bias_);
    return w;
  }

  /// Keras set_weights(): takes the list get_weights() gives; builds the layer if needed, taking
  /// the input size from the kernel. Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    const Index g = gate_columns();
    check_weight_count(weights, use_bias_ ? 3 : 2, describe(),
                       use_bias_ ? "kernel, recurrent_kernel, bias" : "kernel, recurrent_kernel");
    const Index features = built() ? input_dim_ : features_from_kernel(weights[0], g, describe());
    const auto& kernel = check_weight<2>(weights[0], Shape{features, g}, describe(), "kernel", 0);
    const auto& recurrent = check_weight<2>(weights[1], Shape{units_, g}, describe(), "recurrent_kernel", 1);
    Bias bias;
    if (use_bias_) {
      const AnyTensor<T>& b = weights[2];
      const Shape want = self().bias_shape();
      if (b.shape() != want) {
        throw shape_error(concat(describe(), ": weight 2 (bias) must have shape ", want.to_string(), self().bias_note(),
                                 "; got ", b.empty() ? std::string("an empty tensor") : b.shape().to_string()));
      }
      if constexpr (std::is_same_v<Bias, AnyTensor<T>>) {
        bias = b;
      } else {
        bias = b.template get<1>();
      }
    }
    assign(kernel, recurrent, std::move(bias));
  }

  /// The kernel (features, g u) and recurrent kernel (u, g u), in Keras' layout. The layer keeps
  /// its weights only in the packed form its products read, so these are copies made on request.
  Tensor<T, 2> kernel() const {
    require_built("kernel");
    return unpacked().first;
  }
  Tensor<T, 2> recurrent_kernel() const {
    require_built("recurrent_kernel");
    return unpacked().second;
  }
  /// The bias (empty without use_bias).
  const Bias& bias() const { return bias_; }

  /// Number of scalars in the weights (Keras count_params()); the layer must be built.
  Index count_params() const {
    require_built("count_params");
    return gate_columns() * (input_dim_ + units_) + (use_bias_ ? self().bias_shape().size() : 0);
  }

  /// Forgets the stored state of a stateful layer: the next call starts from zeros, at any batch
  /// size (Keras reset_states()).
  void reset_states() { core_.reset_states(); }
  /// Whether a stateful layer holds a state from an earlier call.
  bool has_states() const { return core_.has_states(); }
  /// The stored state of a stateful layer (empty tensors when there is none).
  State states() const { return Types::state(core_.states()); }

  static constexpr int output_rank(int input_rank) { return input_rank == 3 ? dynamic_rank : invalid_rank; }

  /// (batch, time, features) -> (batch, time, units) or (batch, units). Throws shape_error for
  /// another rank, another feature size or an empty time axis; value_error when not built.
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    return core_.output_shape(input, input_dim_, units_, describe());
  }

  /// Keras compute_mask: the output mask for an input mask -- the same mask with
  /// return_sequences, else none (null).
  const Mask* compute_mask(const Mask* mask) const { return core_.output_mask(mask); }

  /// Low-level call on raw row-major memory; output must hold compute_output_shape(input_shape).
  /// Starts from zeros; mask: (batch, time) or null. A stateful layer throws value_error (use the
  /// non-const calls).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size,
               const Mask* mask = nullptr) const {
    const Shape out_shape = compute_output_shape(input_shape);
    check_output_size(self(), out_shape, output_size);
    core_.check_inputs({}, mask, input_shape, units_, describe(), Types::names);
    core_.run(self().cell(), input, input_shape, {}, mask, output, {}, describe());
  }

  /// Keras `layer(x)` on a rank-3 Tensor, TensorMap, AnyTensor or TensorView; returns the output
  /// (AnyTensor of rank 3 or 2: convert with `Tensor<T, 3> y = layer(x);`).
  template <class X>
  AnyTensor<T> operator()(const X& x) const {
    return call_with(*this, x, nullptr, nullptr).output;
  }
  template <class X>
  AnyTensor<T> operator()(const X& x) {
    return call_with(*this, x, nullptr, nullptr).output;
  }
  /// Keras `layer(x, mask=mask)`: masked steps (false) are skipped; see docs/masking.md.
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) const {
    return call_with(*this, x, nullptr, &mask).output;
  }
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) {
    return call_with(*this, x, nullptr, &mask).output;
  }
  /// Keras `layer(x, initial_state=state)`.
  template <class X>
  AnyTensor<T> operator()(const X& x, const State& initial_state) const {
    return call_with(*this, x, &initial_state, nullptr).output;
  }
  template <class X>
  AnyTensor<T> operator()(const X& x, const State& initial_state) {
    return call_with(*this, x, &initial_state, nullptr).output;
  }

  /// The output and the final state(s), from zeros (or, non-const, a stateful layer's stored
  /// state). An initial state given here takes precedence over the stored one, as in Keras.
  template <class X>
  Result call(const X& x) const {
    return call_with(*this, x, nullptr, nullptr);
  }
  template <class X>
  Result call(const X& x) {
    return call_with(*this, x, nullptr, nullptr);
  }
  template <class X>
  Result call(const X& x, const State& initial_state) const {
    return call_with(*this, x, &initial_state, nullptr);
  }
  template <class X>
  Result call(const X& x, const State& initial_state) {
    return call_with(*this, x, &initial_state, nullptr);
  }
  template <class X>
  Result call(const X& x, const Mask& mask) const {
    return call_with(*this, x, nullptr, &mask);
  }
  template <class X>
  Result call(const X& x, const Mask& mask) {
    return call_with(*this, x, nullptr, &mask);
  }
  template <class X>
  Result call(const X& x, const State& initial_state, const Mask& mask) const {
    return call_with(*this, x, &initial_state, &mask);
  }
  template <class X>
  Result call(const X& x, const State& initial_state, const Mask& mask) {
    return call_with(*this, x, &initial_state, &mask);
  }
  /// The general form: initial_state and mask may be null.
  template <class X>
  Result call(const X& x, const State* initial_state, const Mask* mask) const {
    return call_with(*this, x, initial_state, mask);
  }
  template <class X>
  Result call(const X& x, const State* initial_state, const Mask* mask) {
    return call_with(*this, x, initial_state, mask);
  }

  /// Keras' return value as a list: [output], or with return_state [output, h] / [output, h, c].
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State* initial_state = nullptr,
                                    const Mask* mask = nullptr) const {
    return to_list(call_with(*this, x, initial_state, mask));
  }
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State* initial_state = nullptr, const Mask* mask = nullptr) {
    return to_list(call_with(*this, x, initial_state, mask));
  }
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State& initial_state) const {
    return to_list(call_with(*this, x, &initial_state, nullptr));
  }
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State& initial_state) {
    return to_list(call_with(*this, x, &initial_state, nullptr));
  }

  bool carries_state() const { return core_.stateful(); }
  int output_count() const { return core_.return_state() ? 1 + N : 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Recurrent layers consume masks (TimeDistributed refuses to pass one to them).
  static constexpr bool takes_mask = true;
  /// Keras' weights, kept by the layer's cell: kernel, recurrent_kernel, bias.
  std::size_t weight_count() const { return use_bias_ ? 3 : 2; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    if (inputs.empty() || inputs[0].rank() != 3) {
      throw shape_error(concat(describe(), ": input must have rank 3 (batch, time, features); got ",
                               inputs.empty() ? std::string("no input") : inputs[0].to_string()));
    }
    const Index g = gate_columns();
    WeightGroup group{"cell", {{"kernel", Shape{inputs[0][2], g}, ""}, {"recurrent_kernel", Shape{units_, g}, ""}}};
    if (use_bias_) group.weights.push_back({"bias", self().bias_shape(), self().bias_note()});
    return {group};
  }
  /// Keras 1 files: a gated layer (LSTM, GRU) with Keras 1's default consume_less "cpu" (or "mem")
  /// stored its cell's weights per gate, W_g (features, units), U_g (units, units), b_g (units,) for
  /// each gate g in `Derived::keras1_gates` order (Keras 1's trainable_weights); with consume_less
  /// "gpu" it stored kernel, recurrent_kernel and bias as Keras 2 does (weight_groups).
  std::vector<WeightGroup> legacy_weight_groups(const std::vector<Shape>& inputs, const KerasVersion& version) const {
    if constexpr (Derived::gates > 1) {
      if (!version.keras1() || !use_bias_ || self().bias_shape().rank() != 1) return {};
      const Index features = weight_groups(inputs)[0].weights[0].shape[0];
      WeightGroup group{"cell", {}};
      for (const Keras1Gate& g : Derived::keras1_gates) {
        const std::string gate = g.name;
        group.weights.push_back({"W_" + gate, Shape{features, units_}, " (Keras 1's per-gate layout)"});
        group.weights.push_back({"U_" + gate, Shape{units_, units_}, " (Keras 1's per-gate layout)"});
        group.weights.push_back({"b_" + gate, Shape{units_}, " (Keras 1's per-gate layout)"});
      }
      return {group};
    } else {
      (void)inputs, (void)version;
      return {};
    }
  }
  /// Keras 1's per-gate arrays (legacy_weight_groups) -> [kernel, recurrent_kernel, bias]: each
  /// gate's W, U and b placed in its columns of Keras 2's gate order, as Keras 2's
  /// preprocess_weights_for_loading converts them. Throws shape_error on a wrong count or shape,
  /// value_error for a layer Keras 1 cannot have written (no bias; GRU with reset_after).
  Weights<T> convert_legacy_weights(Weights<T> stored, const KerasVersion& /*version*/) const {
    if constexpr (Derived::gates > 1) {
      const auto& gates = Derived::keras1_gates;
      if (!use_bias_ || self().bias_shape().rank() != 1) {
        throw value_error(concat(describe(), ": Keras 1 stored no such layer (it always has one bias of ",
                                 gate_columns(), " values)"));
      }
      if (stored.size() != 3 * gates.size()) {
        throw shape_error(concat(describe(), ": Keras 1's per-gate layout has ", 3 * gates.size(),
                                 " weight arrays; got ", stored.size()));
      }
      const Index u = units_;
      const Index features = stored[0].rank() == 2 ? stored[0].shape()[0] : 0;
      const Index cols = gate_columns();
      Tensor<T, 2> kernel(features, cols);
      Tensor<T, 2> recurrent(u, cols);
      Tensor<T, 1> bias(cols);
      for (std::size_t k = 0; k < gates.size(); ++k) {
        const Index first = gates[k].position * u;  // the gate's first column in Keras 2's order
        const std::string gate = gates[k].name;
        const Shape want[3] = {Shape{features, u}, Shape{u, u}, Shape{u}};
        T* dest[3] = {kernel.data(), recurrent.data(), bias.data()};
        for (std::size_t a = 0; a < 3; ++a) {
          const AnyTensor<T>& w = stored[3 * k + a];
          if (features < 1 || w.shape() != want[a]) {
            throw shape_error(concat(describe(), ": Keras 1 weight ", 3 * k + a, " (", "WUb"[a], "_", gate,
                                     ") must have shape ", want[a].to_string(), "; got ", w.shape().to_string()));
          }
          const Index rows = a == 2 ? 1 : want[a][0];
          for (Index r = 0; r < rows; ++r) {
            std::copy(w.data() + r * u, w.data() + (r + 1) * u, dest[a] + r * cols + first);
          }
        }
      }
      return {AnyTensor<T>(std::move(kernel)), AnyTensor<T>(std::move(recurrent)), AnyTensor<T>(std::move(bias))};
    } else {
      return stored;
    }
  }
  /// The output, then with return_state the final states; the inputs are the sequence and
  /// optionally the N initial states.
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    check_input_count(inputs.size());
    const Shape out = compute_output_shape(inputs[0]);
    check_initial_state_shapes(inputs, units_, describe());
    std::vector<Shape> result{out};
    if (return_state()) result.insert(result.end(), N, Shape{inputs[0][0], units_});
    return result;
  }
  /// Keras compute_mask: the output sequence keeps the input's (batch, time) mask; states have
  /// none. Any other mask cannot be taken.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    const int mask = masks.empty() ? 0 : masks[0];
    check_recurrent_mask_rank(mask, describe());
    std::vector<int> out(output_shapes(inputs).size(), 0);
    if (return_sequences()) out[0] = mask;
    return out;
  }
  /// In a model graph: the sequence, then optionally the initial states, with the sequence's mask.
  void call_graph(GraphCall<T>& c) const { graph(*this, c); }
  void call_graph(GraphCall<T>& c) { graph(*this, c); }

  /// Per-step form (Model::stream), for a layer whose header declares its stream, `LSTMStream<T>
  /// step_stream(const LSTM<T>&, Index batch)` (found by argument-dependent lookup where the model
  /// is streamed; a layer without one has no make_step): that stream over one (batch, features)
  /// step, carrying the state from step to step from zeros (a stateful layer's stored state is
  /// neither read nor changed). The output is h, timed with return_sequences; without, it has no
  /// time axis (the output for the sequence so far), and so have return_state's states. Refuses
  /// (value_error) go_backwards, initial states given as inputs, and an input without a time axis.
  template <class D = Derived, class Stream = decltype(step_stream(std::declval<const D&>(), Index{}))>
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    if (inputs.size() != 1) {
      throw value_error(concat(describe(), ": is given ", inputs.size() - 1,
                               " initial state tensor(s) as inputs; a stream starts from zeros and carries its own "
                               "state (reset() starts again)"));
    }
    const StepShape& in = inputs[0];
    if (!in.timed) {
      throw value_error(concat(describe(), ": its input ", step_shape_string(in),
                               " has no time axis to run over (an earlier layer consumed it, or the layer is "
                               "wrapped in TimeDistributed)"));
    }
    if (go_backwards()) {
      throw value_error(concat(describe(),
                               ": has go_backwards, which reads the sequence from its end; a stream has "
                               "not received the end yet"));
    }
    if (!built() || in.shape.rank() != 2 || in.shape[1] != input_dim_) {
      throw shape_error(
          concat(describe(), ": one step must be (batch, features=", input_dim_, "); got ", step_shape_string(in)));
    }
    const Shape h{in.shape[0], units_};
    std::vector<StepShape> outputs{StepShape{h, return_sequences()}};
    if (return_state()) outputs.insert(outputs.end(), N, StepShape{h, false});
    return LayerStep<T>(
        RecurrentStep<T, Stream, N>(step_stream(static_cast<const D&>(*this), in.shape[0]), units_, return_state()),
        std::move(outputs));
  }

 protected:
  /// Reads units, activation, use_bias and the checks every recurrent layer's constructor makes.
  template <class Options>
  RecurrentLayer(Index units, const Options& options)
      : units_(units), use_bias_(options.use_bias()), core_(options), seed_(options.seed()), name_(options.name()) {
    if (units < 1) throw value_error(concat(describe(), ": units must be at least 1; got ", units));
    activation_ = parse_recurrent_activation(options.activation(), "activation", describe());
    if (options.input_dim() < 0) {
      throw value_error(concat(describe(), ": input_dim must be positive; got ", options.input_dim()));
    }
  }

  /// The options every Keras recurrent layer's config has, read into `options`. Keras 1 names
  /// them alike, has no use_bias (always a bias), return_state or zero_output_for_mask, and its
  /// consume_less, dropout_W and dropout_U change nothing at inference.
  template <class Options>
  static Options& common_options(const LayerConfig<T>& config, Options& options) {
    config.refuse("time_major");
    options.activation(config.activation("activation", "tanh")).use_bias(config.boolean("use_bias", true));
    read_sequence_options(options, config).name(config.name());
    return options;
  }

  /// common_options, plus a gated layer's recurrent_activation: hard_sigmoid by default in files of
  /// Keras <= 2.2 and tfjs, sigmoid since.
  template <class Options>
  static Options& gated_options(const LayerConfig<T>& config, Options& options) {
    common_options(config, options);
    const char* gate_default = config.keras_version().pre_2_3_defaults() ? "hard_sigmoid" : "sigmoid";
    options.recurrent_activation(
        config.activation(config.spelling("recurrent_activation", "inner_activation"), gate_default));
    return options;
  }

  void require_built(const char* what) const {
    if (!built()) throw_unbuilt(describe(), what, Derived::options_name);
  }
  Index gate_columns() const { return Derived::gates * units_; }

  Index units_;
  Activation activation_ = Activation::tanh;
  bool use_bias_;
  RecurrentCore<T, N> core_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  std::string label_;
  Index input_dim_ = 0;
  Bias bias_;

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self() { return static_cast<Derived&>(*this); }

  // Packs the weights into a new cell, the only copy the layer keeps, then commits: a failure
  // (bad_alloc) leaves the layer as it was.
  void assign(const Tensor<T, 2>& kernel, const Tensor<T, 2>& recurrent, Bias bias) {
    auto cell =
        self().make_cell(kernel.data(), kernel.dimension(0), recurrent.data(), use_bias_ ? bias.data() : nullptr);
    self().cell_ = std::move(cell);
    bias_ = std::move(bias);
    input_dim_ = kernel.dimension(0);
  }

  // The kernel and recurrent kernel in Keras' layout, from the cell's packed weights.
  std::pair<Tensor<T, 2>, Tensor<T, 2>> unpacked() const {
    std::pair<Tensor<T, 2>, Tensor<T, 2>> w{Tensor<T, 2>(input_dim_, gate_columns()),
                                            Tensor<T, 2>(units_, gate_columns())};
    self().cell().unpack(w.first.data(), w.second.data());
    return w;
  }

  void check_input_count(std::size_t n) const {
    if (n != 1 && n != 1 + static_cast<std::size_t>(N)) {
      throw value_error(concat(describe(), ": takes an input and optionally ", N, " initial state tensor",
                               N == 1 ? "" : "s", "; it is given ", n, " tensors"));
    }
  }

  std::vector<AnyTensor<T>> to_list(Result r) const {
    std::vector<AnyTensor<T>> out;
    out.push_back(std::move(r.output));
    if (core_.return_state()) {
      if constexpr (N == 2) {
        out.emplace_back(std::move(r.h));
        out.emplace_back(std::move(r.c));
      } else {
        out.emplace_back(std::move(r.h));
      }
    }
    return out;
  }

  // One implementation for the const and non-const calls: Self is `const RecurrentLayer` or
  // `RecurrentLayer`, and only the latter may update a stateful layer's state.
  template <class Self, class X>
  static Result call_with(Self& layer, const X& x, const State* initial, const Mask* mask) {
    if constexpr (is_tensor_input_v<X, T>) {
      static_assert(X::NumIndices == 3,
                    "strata::LSTM, GRU and SimpleRNN: the input must have rank 3 (batch, time, features); for rank 4 "
                    "wrap the layer in TimeDistributed.");
    }
    const auto [data, in] = sequence_input<T, 3>(x, layer.describe());
    std::array<const T*, N> init{};
    std::array<Shape, N> init_shapes{};
    if (initial != nullptr) {
      init = Types::data(*initial);
      init_shapes = Types::shapes(*initial);
    }
    return run_views(layer, data, in, init, init_shapes, mask);
  }

  template <class Self>
  // The final states are computed only when wanted (call() always returns them; a model graph
  // needs them only with return_state).
  static Result run_views(Self& layer, const T* data, const Shape& in, const std::array<const T*, N>& init,
                          const std::array<Shape, N>& init_shapes, const Mask* mask, bool want_finals = true) {
    AnyTensor<T> output = AnyTensor<T>::uninitialized(layer.compute_output_shape(in));
    layer.core_.check_inputs(init_shapes, mask, in, layer.units_, layer.describe(), Types::names);
    std::array<Tensor<T, 2>, N> finals;
    std::array<T*, N> final_ptrs{};
    for (std::size_t k = 0; want_finals && k < static_cast<std::size_t>(N); ++k) {
      finals[k] = Tensor<T, 2>(in[0], layer.units_);
      final_ptrs[k] = finals[k].data();
    }
    if constexpr (std::is_const_v<Self>) {
      layer.core_.run(layer.self().cell(), data, in, init, mask, output.data(), final_ptrs, layer.describe());
    } else {
      layer.core_.run_stateful(layer.self().cell(), data, in, init, mask, output.data(), final_ptrs, layer.describe());
    }
    return Types::result(std::move(output), finals);
  }

  template <class Self>
  static void graph(Self& layer, GraphCall<T>& c) {
    layer.check_input_count(c.inputs.size());
    const TensorView<T>& x = c.inputs[0].tensor;
    if (x.empty()) throw shape_error(concat(layer.describe(), ": the input tensor is empty"));
    std::array<const T*, N> init{};
    std::array<Shape, N> init_shapes{};
    if (c.inputs.size() > 1) {
      for (std::size_t k = 0; k < static_cast<std::size_t>(N); ++k) {
        init[k] = c.inputs[k + 1].tensor.data();
        init_shapes[k] = c.inputs[k + 1].tensor.shape();
        if (init_shapes[k].empty()) throw shape_error(concat(layer.describe(), ": initial state ", k, " is empty"));
      }
    }
    const MaskPtr& mask = c.inputs[0].mask;
    c.outputs =
        layer.to_list(run_views(layer, x.data(), x.shape(), init, init_shapes, mask.get(), layer.core_.return_state()));
    c.masks.assign(c.outputs.size(), MaskPtr());
    if (layer.core_.output_mask(mask.get()) != nullptr) c.masks[0] = mask;
  }
};

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_RECURRENT_HPP
