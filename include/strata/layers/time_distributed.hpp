// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_TIME_DISTRIBUTED_HPP
#define STRATA_LAYERS_TIME_DISTRIBUTED_HPP

#include <string>
#include <type_traits>
#include <utility>

#include "../detail/layer.hpp"
#include "../tensor.hpp"

namespace strata {

/// Keras `TimeDistributed(layer)`: applies the wrapped layer to every slice x[:, t] along axis 1.
///
/// (batch, time, ...) -> (batch, time, ...inner output without its batch axis). The slices are not
/// copied out one by one: batch and time are merged into one axis (a reshape of the same memory),
/// the inner layer runs once on (batch * time, ...), and its output is read back as
/// (batch, time, ...), so it runs at the inner layer's full speed. Per slice that is the same
/// arithmetic Keras does, and the inner layer never mixes slices, so results are identical.
///
/// Weights: the inner layer's, in its order. The inner layer may be any strata layer, including a
/// TimeDistributed (nesting). A stateful inner layer, or one with several outputs (return_state),
/// is rejected: state carried from one slice to the next has no clear meaning here.
template <class Inner>
class TimeDistributed {
  static_assert(
      detail::is_layer_v<Inner>,
      "strata::TimeDistributed: the wrapped type must be a strata layer such as Dense, LSTM or TimeDistributed.");

 public:
  using Scalar = typename Inner::Scalar;
  using Layer = Inner;
  static constexpr const char* class_name = "TimeDistributed";

  /// Wraps layer (taken by value). Throws value_error if it is stateful or has several outputs.
  explicit TimeDistributed(Inner layer, std::string name = {}) : layer_(std::move(layer)), name_(std::move(name)) {
    if (layer_.carries_state()) {
      throw value_error(detail::concat(describe(), ": the wrapped layer ", layer_.describe(),
                                       " is stateful; state carried across slices of TimeDistributed is ill-defined, "
                                       "so strata rejects it"));
    }
    if (layer_.output_count() != 1) {
      throw value_error(detail::concat(describe(), ": the wrapped layer ", layer_.describe(), " has ",
                                       layer_.output_count(), " outputs (return_state); TimeDistributed needs one"));
    }
  }

  /// The wrapped layer.
  const Inner& layer() const { return layer_; }
  const std::string& name() const { return name_; }
  std::string describe() const {
    std::string inner = layer_.describe();
    const std::string prefix = "strata::";
    if (inner.compare(0, prefix.size(), prefix) == 0) inner.erase(0, prefix.size());
    std::string s = "strata::TimeDistributed(" + inner + ")";
    if (!name_.empty()) s += " '" + name_ + "'";
    return s;
  }

  bool built() const { return layer_.built(); }
  /// Builds the wrapped layer for slices whose last axis has `features` values.
  void build(Index features) { layer_.build(features); }
  /// The wrapped layer's weights (Keras TimeDistributed.get_weights()).
  Weights<Scalar> get_weights() const { return layer_.get_weights(); }
  void set_weights(const Weights<Scalar>& weights) { layer_.set_weights(weights); }
  Index count_params() const { return layer_.count_params(); }

  static constexpr int output_rank(int input_rank) {
    if (input_rank < 3) return invalid_rank;
    const int inner = Inner::output_rank(input_rank - 1);
    if (inner == invalid_rank || inner == dynamic_rank) return inner;
    return inner + 1;
  }

  /// (batch, time, ...) -> (batch, time, ...); throws shape_error for rank < 3 or when the inner
  /// layer rejects the slice shape (the message gives both shapes).
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 3) {
      throw shape_error(
          detail::concat(describe(), ": input must have rank >= 3 (batch, time, ...); got shape ", input.to_string()));
    }
    // Keras builds the wrapped layer for one slice x[:, t], shape (batch, rest...): check that
    // shape first, so a message shows the slice the user would expect, then the merged one.
    Shape slice{input[0]};
    for (int i = 2; i < input.rank(); ++i) slice.push_back(input[i]);
    Shape inner_out;
    try {
      (void)layer_.compute_output_shape(slice);
      inner_out = layer_.compute_output_shape(merge(input));
    } catch (const shape_error& e) {
      throw shape_error(detail::concat(describe(), ": input shape ", input.to_string(), " gives slices of shape ",
                                       slice.to_string(), " that the wrapped layer rejects: ", e.what()));
    }
    Shape out{input[0], input[1]};
    for (int i = 1; i < inner_out.rank(); ++i) out.push_back(inner_out[i]);
    return out;
  }

  /// Low-level call on raw row-major memory; output must hold compute_output_shape(input_shape).
  void forward(const Scalar* input, const Shape& input_shape, Scalar* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    layer_.forward(input, merge(input_shape), output, output_size);
  }

  /// Keras `TimeDistributed(layer)(x)`: returns a Tensor when the output rank is fixed by the
  /// types (e.g. Dense inside), an AnyTensor when it depends on an option (e.g. LSTM inside).
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, Scalar>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(X::NumIndices >= 3,
                  "strata::TimeDistributed: the input must have rank 3 or more (batch, time, ...).");
    static_assert(
        output_rank(static_cast<int>(X::NumIndices)) != invalid_rank,
        "strata::TimeDistributed: the wrapped layer does not accept slices of this rank (input rank minus one).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<Scalar> operator()(const AnyTensor<Scalar>& x) const { return detail::call_any(*this, x); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

 private:
  // (batch, time, rest...) -> (batch * time, rest...): the same memory, one axis fewer.
  static Shape merge(const Shape& input) {
    Shape merged{input.product(0, 2)};
    for (int i = 2; i < input.rank(); ++i) merged.push_back(input[i]);
    return merged;
  }

  Inner layer_;
  std::string name_;
};

}  // namespace strata

#endif  // STRATA_LAYERS_TIME_DISTRIBUTED_HPP
