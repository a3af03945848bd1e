// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_BIDIRECTIONAL_HPP
#define STRATA_LAYERS_BIDIRECTIONAL_HPP

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/layer.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"
#include "gru.hpp"
#include "lstm.hpp"
#include "simple_rnn.hpp"

namespace strata {

/// How Bidirectional combines the forward and backward outputs (Keras `merge_mode`).
enum class MergeMode {
  concat,  ///< [forward, backward] along the last axis (Keras' default)
  sum,     ///< forward + backward
  mul,     ///< forward * backward
  ave,     ///< (forward + backward) / 2
  none     ///< no merge: two outputs, forward then backward (Keras merge_mode=None)
};

/// Options of Bidirectional, set by chaining: `BidirectionalOptions().merge_mode("sum")`.
class BidirectionalOptions {
 public:
  /// Keras `merge_mode`: "concat" (default), "sum", "mul", "ave", or "none" / "" for None.
  BidirectionalOptions& merge_mode(const std::string& mode) {
    if (mode == "concat") {
      merge_mode_ = MergeMode::concat;
    } else if (mode == "sum") {
      merge_mode_ = MergeMode::sum;
    } else if (mode == "mul") {
      merge_mode_ = MergeMode::mul;
    } else if (mode == "ave") {
      merge_mode_ = MergeMode::ave;
    } else if (mode == "none" || mode.empty()) {
      merge_mode_ = MergeMode::none;
    } else {
      throw value_error(detail::concat("strata::Bidirectional: unknown merge_mode '", mode,
                                       "'; expected concat, sum, mul, ave or none"));
    }
    return *this;
  }
  BidirectionalOptions& merge_mode(MergeMode mode) {
    merge_mode_ = mode;
    return *this;
  }
  /// Keras `name`; appears in error messages.
  BidirectionalOptions& name(std::string value) {
    name_ = std::move(value);
    return *this;
  }
  MergeMode merge_mode() const { return merge_mode_; }
  const std::string& name() const { return name_; }

 private:
  MergeMode merge_mode_ = MergeMode::concat;
  std::string name_;
};

namespace detail {
template <class L>
struct is_recurrent_layer : std::false_type {};
template <class T>
struct is_recurrent_layer<LSTM<T>> : std::true_type {};
template <class T>
struct is_recurrent_layer<GRU<T>> : std::true_type {};
template <class T>
struct is_recurrent_layer<SimpleRNN<T>> : std::true_type {};

/// The initial-state type of an RNN layer: LSTMState for LSTM, h (batch, units) otherwise.
template <class L>
struct recurrent_state {
  using type = Tensor<typename L::Scalar, 2>;
};
template <class T>
struct recurrent_state<LSTM<T>> {
  using type = LSTMState<T>;
};
}  // namespace detail

/// Keras `Bidirectional(layer, merge_mode=...)` around an LSTM, GRU or SimpleRNN, on (batch,
/// time, features).
///
/// The forward layer is `layer` (renamed "forward_<name>"); the backward layer is a copy of it
/// with go_backwards flipped ("backward_<name>"), or the one given. Both get the same input and
/// mask; with return_sequences the backward sequence is flipped back to input order before the
/// merge, as Keras does, and -- as Keras' Bidirectional forces zero_output_for_mask =
/// return_sequences on its layers -- masked steps output 0. Weights, as Keras' get_weights():
/// the forward layer's list, then the backward layer's. outputs() gives Keras' list: the merged
/// output (two with MergeMode::none), then with return_state the forward states, then the
/// backward states.
template <class Layer>
class Bidirectional {
  static_assert(detail::is_recurrent_layer<Layer>::value,
                "strata::Bidirectional: the wrapped layer must be an LSTM, GRU or SimpleRNN.");

 public:
  using Scalar = typename Layer::Scalar;
  using T = Scalar;
  using State = typename detail::recurrent_state<Layer>::type;
  static constexpr const char* class_name = "Bidirectional";

  explicit Bidirectional(Layer layer, const BidirectionalOptions& options = BidirectionalOptions())
      : forward_(layer), backward_(std::move(layer)), merge_mode_(options.merge_mode()), name_(options.name()) {
    backward_.set_go_backwards(!forward_.go_backwards());
    setup();
  }
  /// Keras' `backward_layer` argument: it must differ from `layer` in go_backwards only (Keras
  /// checks return_sequences, return_state and go_backwards; throws value_error).
  Bidirectional(Layer layer, Layer backward_layer, const BidirectionalOptions& options = BidirectionalOptions())
      : forward_(std::move(layer)),
        backward_(std::move(backward_layer)),
        merge_mode_(options.merge_mode()),
        name_(options.name()) {
    if (forward_.go_backwards() == backward_.go_backwards() ||
        forward_.return_sequences() != backward_.return_sequences() ||
        forward_.return_state() != backward_.return_state()) {
      throw value_error(detail::concat(describe(), ": backward_layer must have the forward layer's return_sequences ",
                                       "and return_state and the opposite go_backwards"));
    }
    setup();
  }

  const Layer& forward_layer() const { return forward_; }
  const Layer& backward_layer() const { return backward_; }
  Layer& forward_layer() { return forward_; }
  Layer& backward_layer() { return backward_; }
  MergeMode merge_mode() const { return merge_mode_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  bool return_sequences() const { return forward_.return_sequences(); }
  bool return_state() const { return forward_.return_state(); }
  bool built() const { return forward_.built() && backward_.built(); }
  Index units() const { return forward_.units(); }

  /// Builds both layers for `features` inputs per step.
  void build(Index features) {
    forward_.build(features);
    backward_.build(features);
  }
  /// Keras get_weights(): the forward layer's weights, then the backward layer's.
  Weights<T> get_weights() const {
    Weights<T> w = forward_.get_weights();
    for (auto& x : backward_.get_weights()) w.push_back(std::move(x));
    return w;
  }
  /// Keras set_weights(): the first half to the forward layer, the second to the backward one.
  void set_weights(const Weights<T>& weights) {
    if (weights.size() % 2 != 0 || weights.empty()) {
      throw shape_error(detail::concat(describe(), ": set_weights expects the forward layer's weights then the ",
                                       "backward layer's (an even, non-zero count); got ", weights.size()));
    }
    const auto half = static_cast<std::ptrdiff_t>(weights.size() / 2);
    forward_.set_weights(Weights<T>(weights.begin(), weights.begin() + half));
    backward_.set_weights(Weights<T>(weights.begin() + half, weights.end()));
  }
  Index count_params() const { return forward_.count_params() + backward_.count_params(); }
  void reset_states() {
    forward_.reset_states();
    backward_.reset_states();
  }

  static constexpr int output_rank(int input_rank) { return input_rank == 3 ? dynamic_rank : invalid_rank; }

  /// The merged output's shape (each output's with MergeMode::none): concat doubles the units.
  Shape compute_output_shape(const Shape& input) const {
    Shape s = forward_.compute_output_shape(input);
    if (merge_mode_ == MergeMode::concat) s[s.rank() - 1] *= 2;
    return s;
  }
  /// Keras compute_mask: the input mask with return_sequences, else none.
  const Mask* compute_mask(const Mask* mask) const { return forward_.compute_mask(mask); }

  /// Low-level call writing the merged output; throws value_error with MergeMode::none (two
  /// outputs: use outputs()).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size,
               const Mask* mask = nullptr) const {
    if (merge_mode_ == MergeMode::none) {
      throw value_error(describe() + ": merge_mode none gives two outputs; call outputs() instead of forward()");
    }
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    const ConstTensorMap<T, 3> x(input, input_shape[0], input_shape[1], input_shape[2]);
    std::vector<AnyTensor<T>> out = outputs(x, nullptr, nullptr, mask);
    std::copy(out[0].data(), out[0].data() + output_size, output);
  }

  /// Keras `bidirectional(x)`: the merged output; throws value_error with MergeMode::none.
  template <class X>
  AnyTensor<T> operator()(const X& x) const {
    return single(outputs(x));
  }
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) const {
    return single(outputs(x, nullptr, nullptr, &mask));
  }

  /// Keras' return value as a list: [merged] or [forward, backward] (MergeMode::none), then with
  /// return_state the forward layer's states and the backward layer's. Initial states (Keras'
  /// initial_state list split in half) and the mask (batch, time) may be null.
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State* forward_state = nullptr,
                                    const State* backward_state = nullptr, const Mask* mask = nullptr) const {
    std::vector<AnyTensor<T>> f = forward_.outputs(x, forward_state, mask);
    std::vector<AnyTensor<T>> b = backward_.outputs(x, backward_state, mask);
    AnyTensor<T>& y = f[0];
    AnyTensor<T>& y_rev = b[0];
    if (return_sequences()) flip_time(y_rev);
    std::vector<AnyTensor<T>> out;
    if (merge_mode_ == MergeMode::none) {
      out.push_back(std::move(y));
      out.push_back(std::move(y_rev));
    } else {
      out.push_back(merge(y, y_rev));
    }
    for (std::size_t k = 1; k < f.size(); ++k) out.push_back(std::move(f[k]));
    for (std::size_t k = 1; k < b.size(); ++k) out.push_back(std::move(b[k]));
    return out;
  }

  bool carries_state() const { return forward_.carries_state(); }
  int output_count() const {
    return (merge_mode_ == MergeMode::none ? 2 : 1) + (return_state() ? 2 * Layer::state_count : 0);
  }

 private:
  void setup() {
    const std::string base = forward_.name();
    if (name_.empty() && !base.empty()) name_ = "bidirectional_" + base;
    forward_.set_name("forward_" + base);
    backward_.set_name("backward_" + base);
    forward_.set_zero_output_for_mask(forward_.return_sequences());
    backward_.set_zero_output_for_mask(backward_.return_sequences());
  }

  AnyTensor<T> single(std::vector<AnyTensor<T>> out) const {
    if (merge_mode_ == MergeMode::none) {
      throw value_error(describe() + ": merge_mode none gives two outputs; call outputs()");
    }
    return std::move(out[0]);
  }

  static void flip_time(AnyTensor<T>& y) {
    const Shape s = y.shape();
    const Index steps = s[1];
    const Index u = s[2];
    T* d = y.data();
    for (Index b = 0; b < s[0]; ++b) {
      for (Index t = 0; t < steps / 2; ++t) {
        std::swap_ranges(d + (b * steps + t) * u, d + (b * steps + t + 1) * u, d + (b * steps + steps - 1 - t) * u);
      }
    }
  }

  AnyTensor<T> merge(const AnyTensor<T>& y, const AnyTensor<T>& y_rev) const {
    const Shape s = y.shape();
    if (merge_mode_ == MergeMode::concat) {
      Shape cs = s;
      const Index u = s[s.rank() - 1];
      cs[cs.rank() - 1] = 2 * u;
      AnyTensor<T> out = AnyTensor<T>::uninitialized(cs);
      const Index rows = s.size() / u;
      for (Index r = 0; r < rows; ++r) {
        std::copy(y.data() + r * u, y.data() + (r + 1) * u, out.data() + r * 2 * u);
        std::copy(y_rev.data() + r * u, y_rev.data() + (r + 1) * u, out.data() + r * 2 * u + u);
      }
      return out;
    }
    AnyTensor<T> out = AnyTensor<T>::uninitialized(s);
    const T* a = y.data();
    const T* b = y_rev.data();
    T* o = out.data();
    for (Index i = 0; i < s.size(); ++i) {
      switch (merge_mode_) {
        case MergeMode::sum:
          o[i] = a[i] + b[i];
          break;
        case MergeMode::mul:
          o[i] = a[i] * b[i];
          break;
        default:  // ave
          o[i] = (a[i] + b[i]) / T(2);
          break;
      }
    }
    return out;
  }

  Layer forward_;
  Layer backward_;
  MergeMode merge_mode_;
  std::string name_;
};

}  // namespace strata

#endif  // STRATA_LAYERS_BIDIRECTIONAL_HPP
