// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYER_STEP_HPP
#define STRATA_LAYER_STEP_HPP

// A layer's per-step form, what strata::Model::stream runs: one time step per call instead of the
// whole sequence. A layer opts in from its own header with an optional member of its Keras
// description (docs/custom-layers.md):
//
//     LayerStep<T> make_step(const std::vector<StepShape>& inputs) const;
//
// AnyLayer detects it; a model whose layers do not all have it cannot be streamed.

#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "error.hpp"
#include "shape.hpp"
#include "tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// A tensor as a stream sees it at one step: its shape, and whether the whole-sequence call has
/// it with a time axis.
///
/// - `timed`: the whole call's tensor is (batch, time, rest...) and a step holds x[:, t], shape
///   (batch, rest...). A model's inputs are timed.
/// - not timed: the whole call's tensor has no time axis any more (a recurrent layer without
///   return_sequences consumed it). A step holds the whole call's value for the sequence up to
///   and including the step, shape (batch, rest...) as in the whole call.
struct StepShape {
  Shape shape;
  bool timed = true;
};

/// "(2, 8) per step" or "(2, 8) without a time axis", for messages.
inline std::string step_shape_string(const StepShape& s) {
  return s.shape.to_string() + (s.timed ? " per step" : " without a time axis");
}

namespace detail {
template <class S, class = void>
struct has_step_reset : std::false_type {};
template <class S>
struct has_step_reset<S, std::void_t<decltype(std::declval<S&>().reset())>> : std::true_type {};

template <class S, class = void>
struct has_step_states : std::false_type {};
template <class S>
struct has_step_states<S, std::void_t<decltype(std::declval<const S&>().states())>> : std::true_type {};

template <class T>
class StepNode {
 public:
  virtual ~StepNode() = default;
  virtual void step(const T* const* inputs, const T** outputs) = 0;
  virtual void reset() = 0;
  virtual std::vector<TensorView<T>> states() const = 0;
};

template <class T, class S>
class StepHolder final : public StepNode<T> {
 public:
  explicit StepHolder(S s) : s_(std::move(s)) {}
  void step(const T* const* inputs, const T** outputs) override { s_.step(inputs, outputs); }
  void reset() override {
    if constexpr (has_step_reset<S>::value) s_.reset();
  }
  std::vector<TensorView<T>> states() const override {
    if constexpr (has_step_states<S>::value) {
      return s_.states();
    } else {
      return {};
    }
  }

 private:
  S s_;
};
}  // namespace detail

/// A layer's per-step form, type-erased: what a layer's `make_step` returns and what
/// strata::ModelStream runs, one per layer call of the model. It holds a step object S with
///
///     void step(const T* const* inputs, const T** outputs);  // one time step
///     void reset();                                          // optional: a new sequence
///     std::vector<TensorView<T>> states() const;             // optional: the carried state
///
/// `step` reads input k at inputs[k] (row-major, of the k-th StepShape make_step was given) and
/// sets outputs[k] to where output k is (of the shape outputs()[k] gives): its own buffer, or an
/// input's pointer when it passes the values on unchanged. The pointers stay valid until the
/// next step() or reset(). step() must not allocate: all its memory is made by make_step.
/// A step object carries its own copy of the weights and its own state; it never changes the
/// layer it was made from.
template <class T>
class LayerStep {
 public:
  /// An empty step (no layer); step() on it throws value_error.
  LayerStep() = default;
  /// Holds step object `s`, whose outputs have the shapes `outputs`.
  template <class S, std::enable_if_t<!std::is_same_v<std::decay_t<S>, LayerStep>, int> = 0>
  LayerStep(S s, std::vector<StepShape> outputs)
      : node_(std::make_unique<detail::StepHolder<T, std::decay_t<S>>>(std::move(s))), outputs_(std::move(outputs)) {}

  bool empty() const { return node_ == nullptr; }
  /// This step, its outputs' shapes replaced: a wrapper (TimeDistributed) runs its inner layer's
  /// step as its own this way, without one more call through it per step.
  LayerStep with_outputs(std::vector<StepShape> outputs) && {
    LayerStep s;
    s.node_ = std::move(node_);
    s.outputs_ = std::move(outputs);
    return s;
  }
  /// The shape of each output at one step.
  const std::vector<StepShape>& outputs() const { return outputs_; }

  /// One time step (see the class comment). Allocation-free.
  void step(const T* const* inputs, const T** outputs) { node().step(inputs, outputs); }
  /// Starts a new sequence: the state the step carries back to its initial value (zeros).
  void reset() { node().reset(); }
  /// The state the step carries from one step to the next (an LSTM's [h, c], each (batch, units));
  /// empty for a step without state. Views valid until the next step() or reset().
  std::vector<TensorView<T>> states() const {
    if (!node_) throw value_error("strata::LayerStep: the step is empty (it holds no layer)");
    return node_->states();
  }

 private:
  detail::StepNode<T>& node() {
    if (!node_) throw value_error("strata::LayerStep: the step is empty (it holds no layer)");
    return *node_;
  }

  std::unique_ptr<detail::StepNode<T>> node_;
  std::vector<StepShape> outputs_;
};

namespace detail {

/// The shape a layer's one input must have for its per-step form: exactly one input. Throws
/// value_error otherwise.
inline const StepShape& only_step_input(const std::vector<StepShape>& inputs, const std::string& who) {
  if (inputs.size() != 1) throw value_error(concat(who, ": takes one input; it is given ", inputs.size()));
  return inputs[0];
}

/// For a layer that acts on the last axis only (Dense, softmax): its per-step form is the layer
/// on (batch, ..., features), unless the last axis of a timed tensor is the time axis itself
/// (a whole-sequence tensor of rank 2, (batch, time)), which mixes the steps: value_error.
inline void require_features_axis(const StepShape& in, const std::string& who, std::string_view what) {
  if (in.timed && in.shape.rank() < 2) {
    throw value_error(concat(who, ": ", what, " acts on the last axis, which is the time axis here (one step is ",
                             step_shape_string(in), "); that mixes the steps"));
  }
}

/// The per-step form of a layer that passes its input on unchanged (Dropout, Identity, a linear
/// Activation): the output is the input's memory.
template <class T>
struct PassStep {
  void step(const T* const* inputs, const T** outputs) { outputs[0] = inputs[0]; }
};

/// The per-step form of a layer without state whose output at a position depends on that
/// position's values only (Dense, the activations): its forward() on one step's tensor, into a
/// buffer made once. The layer's forward must not allocate for this shape.
template <class L>
class ForwardStep {
  using T = typename L::Scalar;

 public:
  ForwardStep(L layer, const Shape& input, const Shape& output)
      : layer_(std::move(layer)), input_(input), out_(static_cast<std::size_t>(output.size())) {}
  void step(const T* const* inputs, const T** outputs) {
    layer_.forward(inputs[0], input_, out_.data(), static_cast<Index>(out_.size()));
    outputs[0] = out_.data();
  }

 private:
  L layer_;
  Shape input_;
  std::vector<T, Eigen::aligned_allocator<T>> out_;
};

/// The per-step form of a layer whose stream class (Conv1DStream) takes one step and returns a
/// pointer to its output: `const T* step(const T* x)` and `reset()`.
template <class T, class Stream>
class StreamStep {
 public:
  explicit StreamStep(Stream stream) : stream_(std::move(stream)) {}
  void step(const T* const* inputs, const T** outputs) { outputs[0] = stream_.step(inputs[0]); }
  void reset() { stream_.reset(); }

 private:
  Stream stream_;
};

}  // namespace detail

/// The per-step form of a layer without state whose output at a position depends on that
/// position's values alone (Dense, the activations, a user's element-wise layer): its forward()
/// on one step's tensor, into a buffer made here; the output has a time axis when the input has.
/// The layer's forward must not allocate for this shape. A layer's make_step returns it as
/// `return strata::forward_step(*this, input);`.
template <class L>
LayerStep<typename L::Scalar> forward_step(const L& layer, const StepShape& input) {
  const Shape out = layer.compute_output_shape(input.shape);
  return LayerStep<typename L::Scalar>(detail::ForwardStep<L>(layer, input.shape, out), {StepShape{out, input.timed}});
}

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_LAYER_STEP_HPP
