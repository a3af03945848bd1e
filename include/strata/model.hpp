// SPDX-License-Identifier: MIT
#ifndef STRATA_MODEL_HPP
#define STRATA_MODEL_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "any_layer.hpp"
#include "error.hpp"
#include "layer_step.hpp"
#include "mask.hpp"
#include "shape.hpp"
#include "tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// A declared tensor shape as Keras writes it: the batch axis and any other axis may be unknown
/// (-1, Keras' None).
using DeclaredShape = std::vector<Index>;

/// "(None, 10, 20)".
inline std::string declared_shape_string(const DeclaredShape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += shape[i] < 0 ? std::string("None") : std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

template <class T>
class Model;

/// A model run one time step per call, for real-time use: what Model::stream returns. Each step
/// takes x[:, t] of every model input, (batch, features...), and gives every model output at that
/// step, bitwise what `model.predict` gives on the whole sequence: y[:, t] for an output with a
/// time axis, and for one without (after a recurrent layer without return_sequences) the output
/// predict gives on the sequence so far, x[:, :t + 1]. Keras has no separate API for this; it is
/// a stateful model's predict on one step at a time.
///
///     strata::ModelStream<float> stream = model.stream();  // batch 1
///     for (...) {
///       strata::TensorView<float> y = stream.step(x_t);    // x_t: (1, features)
///     }
///     stream.reset();                                      // a new sequence
///
/// Every layer call of the model runs its layer's per-step form (LayerStep, from the layer's
/// make_step; docs/custom-layers.md); the stream holds its own copy of the weights and its own
/// state, from zeros (a stateful layer's stored state is neither read nor changed), so the model
/// may change or go away afterwards. step() never allocates: all memory is made by Model::stream.
/// The outputs a step returns are views valid until the next step() or reset(); an output that
/// passes a model input on unchanged views the caller's memory. A stream can be moved, not
/// copied (make another with Model::stream); one stream is used by one thread at a time.
template <class T>
class ModelStream {
 public:
  using Scalar = T;

  /// The number of parallel sequences: axis 0 of every input and output.
  Index batch() const { return batch_; }
  std::size_t input_count() const { return input_shapes_.size(); }
  std::size_t output_count() const { return output_shapes_.size(); }
  /// Each input's shape at one step, (batch, features...): the declared shape without its time
  /// axis, batch set.
  const std::vector<StepShape>& input_shapes() const { return input_shapes_; }
  /// Each output's shape at one step, and whether it has a time axis in the sequence call
  /// (StepShape::timed): y[:, t] when it has, else the output for the sequence so far.
  const std::vector<StepShape>& output_shapes() const { return output_shapes_; }

  /// One time step: x[:, t] of each model input, in order, each of shape input_shapes()[i].shape
  /// (shape_error otherwise). The outputs are then output(k). Allocation-free (the vector is
  /// yours: keep it from step to step).
  void step(const std::vector<TensorView<T>>& inputs) {
    if (inputs.size() != input_shapes_.size()) {
      throw shape_error(detail::concat(who_, ": a step takes ", input_shapes_.size(), " input",
                                       input_shapes_.size() == 1 ? "" : "s", "; got ", inputs.size()));
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].shape() != input_shapes_[i].shape) {
        throw shape_error(
            detail::concat(who_, ": input ", i, " ('", input_names_[i], "') at one step must have shape ",
                           input_shapes_[i].shape.to_string(), "; got ",
                           inputs[i].empty() ? std::string("an empty tensor") : inputs[i].shape().to_string()));
      }
      slots_[input_slots_[i]] = inputs[i].data();
    }
    run();
  }
  /// step for a model of one input and one output: x[:, t] in, the output at t back. Throws
  /// value_error for a model with more inputs or outputs (use step(inputs) and output(k)).
  TensorView<T> step(const TensorView<T>& x) {
    require_single("step(x)");
    if (x.shape() != input_shapes_[0].shape) {
      throw shape_error(detail::concat(who_, ": input 0 ('", input_names_[0], "') at one step must have shape ",
                                       input_shapes_[0].shape.to_string(), "; got ",
                                       x.empty() ? std::string("an empty tensor") : x.shape().to_string()));
    }
    slots_[input_slots_[0]] = x.data();
    run();
    return output(0);
  }
  /// The same on raw row-major memory, unchecked: x holds input_shapes()[0] values; returns the
  /// output's values (output_shapes()[0]), valid until the next step() or reset().
  const T* step(const T* x) {
    require_single("step(const T*)");
    slots_[input_slots_[0]] = x;
    run();
    return slots_[output_slots_[0]];
  }

  /// Output k of the last step (empty data before the first step).
  TensorView<T> output(std::size_t k) const {
    if (k >= output_slots_.size()) {
      throw value_error(detail::concat(who_, ": there is no output ", k, " (it has ", output_slots_.size(), ")"));
    }
    return TensorView<T>(slots_[output_slots_[k]], output_shapes_[k].shape);
  }

  /// Starts a new sequence: every layer's state back to zeros (Keras `model.reset_states()`).
  void reset() {
    for (LayerStep<T>& s : steps_) s.reset();
  }

  /// The state layer `layer_name` carries from step to step in its `call`-th use in the model
  /// (0: the first; a shared layer has one state per call): an LSTM's [h, c], each (batch,
  /// units); empty for a layer without state. value_error when the model has no such call.
  std::vector<TensorView<T>> states(const std::string& layer_name, std::size_t call = 0) const {
    std::size_t seen = 0;
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      if (layer_names_[s] == layer_name && seen++ == call) return steps_[s].states();
    }
    throw value_error(detail::concat(who_, ": layer '", layer_name, "' has ", seen, " call", seen == 1 ? "" : "s",
                                     " in the model; asked for call ", call));
  }

 private:
  friend class Model<T>;
  ModelStream() = default;

  void require_single(const char* what) const {
    if (input_shapes_.size() != 1 || output_shapes_.size() != 1) {
      throw value_error(detail::concat(who_, ": ", what, " is for a model of one input and one output; it has ",
                                       input_shapes_.size(), " and ", output_shapes_.size(),
                                       ": call step(std::vector<TensorView<T>>) and output(k)"));
    }
  }

  // The layer calls in graph order; each reads its inputs' slots and sets its outputs' slots.
  void run() {
    for (std::size_t s = 0; s < steps_.size(); ++s) {
      const std::size_t first = in_offset_[s], last = in_offset_[s + 1];
      for (std::size_t j = first; j < last; ++j) gathered_[j] = slots_[in_slots_[j]];
      steps_[s].step(gathered_.data() + first, slots_.data() + out_offset_[s]);
    }
  }

  std::string who_;
  Index batch_ = 1;
  std::vector<StepShape> input_shapes_;
  std::vector<StepShape> output_shapes_;
  std::vector<std::string> input_names_;
  std::vector<LayerStep<T>> steps_;        // one per layer call, in graph order
  std::vector<std::string> layer_names_;   // per call
  std::vector<std::size_t> in_offset_;     // call s reads in_slots_[in_offset_[s] .. in_offset_[s + 1])
  std::vector<std::size_t> in_slots_;      // the slot of each input of each call
  std::vector<std::size_t> out_offset_;    // call s writes slots_[out_offset_[s] ...]
  std::vector<std::size_t> input_slots_;   // per model input
  std::vector<std::size_t> output_slots_;  // per model output
  std::vector<const T*> slots_;            // where each tensor of the graph is at this step
  std::vector<const T*> gathered_;         // each call's input pointers, in a row
};

/// A Keras model at inference: input tensors, a graph of layers (a chain for Sequential, a DAG for
/// Functional), output tensors. strata::load_model builds one from a Keras file; it can also be
/// assembled in C++ from typed layers:
///
///     strata::Model<float> model("seed", "Sequential");
///     auto x = model.add_input("x", {-1, 10, 20});                      // Keras Input((10, 20))
///     auto h = model.add(strata::LSTM<float>(5, lstm_options), x);
///     auto y = model.add(strata::TimeDistributed<strata::Dense<float>>(dense), h);
///     model.set_outputs({y});
///     strata::Tensor<float, 3> out = model.predict(input);             // Keras model.predict
///
/// The model owns its layers (AnyLayer, a type-erased handle around each typed layer); a layer
/// called at several places of the graph (a shared layer) is one layer with one set of weights.
/// `model.layer<strata::Dense<float>>("dense_1")` hands back the typed layer (for get_weights,
/// set_weights, or calling it alone). Keras masks travel with the tensors: Masking and
/// Embedding(mask_zero) make them, Dense-like layers pass them on, recurrent layers take them.
///
/// predict takes its inputs as views (no copy), moves each intermediate to its last consumer and
/// frees it there. Copying a Model copies its layers: copies never share weights or state. The
/// const predict may run concurrently on one model; it throws value_error for a model with a
/// stateful layer, whose every call changes the layer (call the non-const predict).
template <class T>
class Model {
 public:
  using Scalar = T;

  /// A reference to a tensor of the graph: output `index` of node `node` (an input's node has one).
  struct TensorRef {
    std::size_t node = 0;
    std::size_t index = 0;
  };

  explicit Model(std::string name = "model", std::string class_name = "Functional")
      : name_(std::move(name)), class_name_(std::move(class_name)) {}

  const std::string& name() const { return name_; }
  /// "Sequential" or "Functional".
  const std::string& class_name() const { return class_name_; }

  /// Declares the next model input; returns its tensor.
  TensorRef add_input(std::string input_name, DeclaredShape batch_shape) {
    if (batch_shape.empty() || static_cast<int>(batch_shape.size()) > max_rank) {
      throw shape_error(detail::concat(describe(), ": input '", input_name, "' must have rank 1 to ", max_rank,
                                       " (batch included); got ", declared_shape_string(batch_shape)));
    }
    for (Index d : batch_shape) {
      if (d < -1) {
        throw shape_error(detail::concat(describe(), ": input '", input_name, "' has a negative dimension in ",
                                         declared_shape_string(batch_shape)));
      }
    }
    Node node;
    node.input_index = inputs_.size();
    node.output_count = 1;
    inputs_.push_back(Input{std::move(input_name), std::move(batch_shape), nodes_.size()});
    nodes_.push_back(std::move(node));
    update_uses();
    return TensorRef{nodes_.size() - 1, 0};
  }

  /// Adds a layer -- any typed strata layer, a user layer, or an AnyLayer -- to the model without
  /// calling it; returns its index for call(). `keras_class` is the class name summary() shows
  /// (default: the layer's own); `name` the name layer() finds it by (default: the layer's own, or
  /// Keras' default "dense", "dense_1", ... for an unnamed one). Names are unique.
  template <class L>
  std::size_t add_layer(L layer, std::string keras_class = {}, std::string name = {}) {
    AnyLayer<T> any = to_any(std::move(layer));
    if (name.empty()) name = any.name();
    if (keras_class.empty()) keras_class = any.keras_class_name();
    if (name.empty()) {
      const std::string base = to_snake_case(keras_class);
      name = base;
      for (int k = 1; has_layer(name); ++k) name = base + "_" + std::to_string(k);
    }
    if (has_layer(name)) {
      throw value_error(detail::concat(describe(), ": the model already has a layer named '", name, "'"));
    }
    layers_.push_back(LayerEntry{std::move(any), std::move(name), std::move(keras_class)});
    return layers_.size() - 1;
  }

  /// Calls layer `layer_index` (from add_layer) on `inbound` tensors, Keras' `layer(inputs)`;
  /// returns its outputs. Call the same layer again for a shared layer. The inbound tensors must
  /// exist already, which keeps the graph in topological order.
  std::vector<TensorRef> call(std::size_t layer_index, std::vector<TensorRef> inbound) {
    if (layer_index >= layers_.size()) {
      throw value_error(detail::concat(describe(), ": there is no layer ", layer_index));
    }
    const std::string& who = layers_[layer_index].name;
    if (inbound.empty()) throw value_error(detail::concat(describe(), ": layer '", who, "' is called on no tensor"));
    for (const TensorRef& ref : inbound) check_ref(ref, who);
    const auto count = static_cast<std::size_t>(layers_[layer_index].layer.output_count());
    if (count == 0) throw value_error(detail::concat(describe(), ": layer '", who, "' has no outputs"));
    Node node;
    node.layer = layer_index;
    node.inbound = std::move(inbound);
    node.output_count = count;
    nodes_.push_back(std::move(node));
    update_uses();
    std::vector<TensorRef> out;
    for (std::size_t k = 0; k < count; ++k) out.push_back(TensorRef{nodes_.size() - 1, k});
    return out;
  }

  /// add_layer and call in one, for a layer used once: returns the layer's first output (the
  /// only one, for most layers; call() gives them all).
  template <class L>
  TensorRef add(L layer, TensorRef input) {
    return call(add_layer(std::move(layer)), {input}).front();
  }
  /// The same for a layer of several inputs (a recurrent layer's initial states); returns all
  /// outputs.
  template <class L>
  std::vector<TensorRef> add(L layer, std::vector<TensorRef> inputs) {
    return call(add_layer(std::move(layer)), std::move(inputs));
  }

  /// Declares the model outputs, in order.
  void set_outputs(std::vector<TensorRef> outputs) {
    for (const TensorRef& ref : outputs) check_ref(ref, "output");
    if (outputs.empty()) throw value_error(detail::concat(describe(), ": a model needs at least one output"));
    outputs_ = std::move(outputs);
    update_uses();
  }

  std::size_t input_count() const { return inputs_.size(); }
  std::size_t output_count() const { return outputs_.size(); }
  std::vector<std::string> input_names() const {
    std::vector<std::string> names;
    for (const Input& in : inputs_) names.push_back(in.name);
    return names;
  }
  /// The declared input shapes (Keras batch_shape, -1 for None).
  std::vector<DeclaredShape> input_shapes() const {
    std::vector<DeclaredShape> shapes;
    for (const Input& in : inputs_) shapes.push_back(in.shape);
    return shapes;
  }
  /// "layer" for a layer's only output, "layer:k" for output k of several.
  std::vector<std::string> output_names() const {
    std::vector<std::string> names;
    for (const TensorRef& ref : outputs_) names.push_back(tensor_name(ref));
    return names;
  }

  /// The layers, each once, in the order they were added (Keras model.layers without inputs).
  std::size_t layer_count() const { return layers_.size(); }
  std::vector<std::string> layer_names() const {
    std::vector<std::string> names;
    for (const LayerEntry& e : layers_) names.push_back(e.name);
    return names;
  }
  /// The Keras class name of layer `index` as the model file gave it ("GaussianNoise" for a layer
  /// strata runs as Dropout).
  const std::string& layer_class_name(std::size_t index) const { return entry(index).class_name; }
  AnyLayer<T>& layer(std::size_t index) { return entry(index).layer; }
  const AnyLayer<T>& layer(std::size_t index) const { return entry(index).layer; }
  /// The layer named `layer_name` (Keras model.get_layer(name)); value_error when there is none.
  /// A nested model's layers are named by their path, "base/dense" (a loaded model is flat): the
  /// nested model "base" itself is no layer, and asking for it is a value_error listing its
  /// layers' paths.
  AnyLayer<T>& layer(const std::string& layer_name) { return layers_[index_of(layer_name)].layer; }
  const AnyLayer<T>& layer(const std::string& layer_name) const { return layers_[index_of(layer_name)].layer; }
  /// The typed layer named `layer_name`: `model.layer<strata::Dense<float>>("dense_1")`. Throws
  /// value_error when there is none or it has another type (the message names the type).
  template <class L>
  L& layer(const std::string& layer_name) {
    return typed<L>(*this, layer_name);
  }
  template <class L>
  const L& layer(const std::string& layer_name) const {
    return typed<L>(*this, layer_name);
  }

  /// Total number of weight scalars (Keras count_params()).
  Index count_params() const {
    Index n = 0;
    for (const LayerEntry& e : layers_) n += e.layer.count_params();
    return n;
  }
  /// Keras model.get_weights(): every layer's weights, layer after layer.
  Weights<T> get_weights() const {
    Weights<T> all;
    for (const LayerEntry& e : layers_) {
      for (AnyTensor<T>& w : e.layer.get_weights()) all.push_back(std::move(w));
    }
    return all;
  }
  /// Keras model.set_weights(): the list get_weights() gives, each layer taking as many arrays as
  /// its weight_count() (unbuilt layers are built from them). Throws shape_error on a wrong count
  /// or shape (the layers before the failing one keep their new weights).
  void set_weights(const Weights<T>& weights) {
    std::size_t at = 0;
    for (LayerEntry& e : layers_) {
      const std::size_t n = e.layer.weight_count();
      if (at + n > weights.size()) {
        throw shape_error(detail::concat(describe(), ": set_weights got ", weights.size(),
                                         " arrays; the layers need more (layer '", e.name, "' needs ", n, ")"));
      }
      e.layer.set_weights(Weights<T>(weights.begin() + static_cast<std::ptrdiff_t>(at),
                                     weights.begin() + static_cast<std::ptrdiff_t>(at + n)));
      at += n;
    }
    if (at != weights.size()) {
      throw shape_error(
          detail::concat(describe(), ": set_weights got ", weights.size(), " arrays; the layers have ", at));
    }
  }

  /// Keras `model.predict(inputs)` (or `model(inputs)`): one tensor per declared input, in order
  /// (views: nothing is copied); returns one per declared output. Throws shape_error for a wrong
  /// count or a shape that contradicts a declared (non-None) dimension. Updates stateful layers.
  std::vector<AnyTensor<T>> predict(const std::vector<TensorView<T>>& inputs) { return run(*this, inputs); }
  /// The same without changing the model: safe to run concurrently; throws value_error when a
  /// layer is stateful.
  std::vector<AnyTensor<T>> predict(const std::vector<TensorView<T>>& inputs) const { return run(*this, inputs); }
  std::vector<AnyTensor<T>> predict(const std::vector<AnyTensor<T>>& inputs) { return run(*this, views(inputs)); }
  std::vector<AnyTensor<T>> predict(const std::vector<AnyTensor<T>>& inputs) const { return run(*this, views(inputs)); }
  /// predict for a model with one input and one output: a Tensor, TensorMap or AnyTensor in.
  AnyTensor<T> predict(const TensorView<T>& input) { return single(run(*this, one(input))); }
  AnyTensor<T> predict(const TensorView<T>& input) const { return single(run(*this, one(input))); }

  /// Keras `model.reset_states()`: stateful layers forget their state.
  void reset_states() {
    for (LayerEntry& e : layers_) e.layer.reset_states();
  }

  /// The model run one time step per call (see ModelStream), for `batch` parallel sequences:
  /// axis 1 of every input is its time axis. Every layer call runs its layer's per-step form,
  /// which a layer declares in its Keras description (make_step; docs/custom-layers.md): LSTM,
  /// causal Conv1D, Dense, TimeDistributed, the activations, Dropout, Identity, merges of one
  /// shape, ... Throws value_error naming the layer and the reason when one cannot be streamed:
  /// it has no per-step form (Flatten over time, pooling, Bidirectional, ...), or its make_step
  /// refuses its inputs (go_backwards, Conv1D padding other than causal or strides above 1, an
  /// initial state input, a layer that needs a time axis after a recurrent layer without
  /// return_sequences consumed it); also for batch < 1 and an input without a time axis or with
  /// an unknown size besides batch and time.
  ModelStream<T> stream(Index batch = 1) const {
    if (batch < 1) throw value_error(detail::concat(describe(), ": a stream's batch must be at least 1; got ", batch));
    if (outputs_.empty()) throw value_error(detail::concat(describe(), ": the model has no outputs"));
    ModelStream<T> s;
    s.who_ = detail::concat("strata::ModelStream of '", name_, "'");
    s.batch_ = batch;
    // The sequence call the stream must equal: batch and time set, to check the layers' steps.
    std::vector<Shape> whole_inputs;
    std::vector<Index> times;
    Index length = 7;  // the time axis' length for the check: a declared one, else any
    for (const Input& in : inputs_) {
      if (in.shape.size() >= 2 && in.shape[1] >= 0) length = in.shape[1];
    }
    for (const Input& in : inputs_) {
      if (in.shape.size() < 2) {
        throw value_error(detail::concat(describe(), ": input '", in.name, "' of shape ",
                                         declared_shape_string(in.shape),
                                         " has no time axis (axis 1); a stream feeds axis 1 one step at a time"));
      }
      Shape step{batch};
      Shape whole{batch, in.shape[1] < 0 ? length : in.shape[1]};
      for (std::size_t d = 2; d < in.shape.size(); ++d) {
        if (in.shape[d] < 0) {
          throw value_error(detail::concat(describe(), ": input '", in.name, "' of shape ",
                                           declared_shape_string(in.shape), " has an unknown size on axis ", d,
                                           "; a stream needs every size but batch and time"));
        }
        step.push_back(in.shape[d]);
        whole.push_back(in.shape[d]);
      }
      s.input_shapes_.push_back(StepShape{step, true});
      s.input_names_.push_back(in.name);
      whole_inputs.push_back(whole);
      times.push_back(whole[1]);
    }
    for (std::size_t i = 0; i < times.size(); ++i) {
      if (times[i] != times.front()) {
        throw value_error(detail::concat(describe(), ": inputs '", inputs_[0].name, "' and '", inputs_[i].name,
                                         "' declare ", times.front(), " and ", times[i],
                                         " time steps (axis 1); a stream steps them together"));
      }
    }
    std::vector<std::vector<StepShape>> shapes(nodes_.size());
    std::vector<std::size_t> first_slot(nodes_.size());
    std::size_t slots = 0;
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      first_slot[n] = slots;
      slots += nodes_[n].output_count;
    }
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = nodes_[n];
      if (node.is_input()) {
        shapes[n].push_back(s.input_shapes_[node.input_index]);
        s.input_slots_.push_back(first_slot[n]);
        continue;
      }
      const LayerEntry& e = layers_[node.layer];
      std::vector<StepShape> args;
      s.in_offset_.push_back(s.in_slots_.size());
      for (const TensorRef& ref : node.inbound) {
        args.push_back(shapes[ref.node][ref.index]);
        s.in_slots_.push_back(first_slot[ref.node] + ref.index);
      }
      LayerStep<T> step;
      const std::string who = detail::concat(describe(), ": cannot stream layer '", e.name, "' (", e.class_name, "): ");
      try {
        step = e.layer.make_step(args);
      } catch (const shape_error& error) {
        throw shape_error(who + error.what());
      } catch (const value_error& error) {
        throw value_error(who + error.what());
      }
      if (step.outputs().size() != node.output_count) {
        throw value_error(detail::concat(who, "its per-step form gives ", step.outputs().size(), " outputs; expected ",
                                         node.output_count));
      }
      shapes[n] = step.outputs();
      s.out_offset_.push_back(first_slot[n]);
      s.layer_names_.push_back(e.name);
      s.steps_.push_back(std::move(step));
    }
    s.in_offset_.push_back(s.in_slots_.size());
    // Every layer has a per-step form: check each against the sequence call's shapes (a timed
    // output is the sequence call's without its time axis, of the inputs' length).
    const std::vector<std::vector<Shape>> whole = propagate(whole_inputs, false);
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      for (std::size_t k = 0; k < shapes[n].size() && !nodes_[n].is_input(); ++k) {
        const StepShape& out = shapes[n][k];
        const Shape& w = whole[n][k];
        Shape expected;
        bool same = !out.timed || (w.rank() >= 2 && w[1] == times.front());
        for (int d = 0; same && d < w.rank(); ++d) {
          if (!out.timed || d != 1) expected.push_back(w[d]);
        }
        if (!same || expected != out.shape) {
          const LayerEntry& e = layers_[nodes_[n].layer];
          throw value_error(detail::concat(describe(), ": cannot stream layer '", e.name, "' (", e.class_name,
                                           "): its per-step form gives output ", k, " of ", step_shape_string(out),
                                           ", which does not match the sequence call's ", w.to_string(), " with ",
                                           times.front(), " steps"));
        }
      }
    }
    for (const TensorRef& ref : outputs_) {
      s.output_slots_.push_back(first_slot[ref.node] + ref.index);
      s.output_shapes_.push_back(shapes[ref.node][ref.index]);
    }
    s.slots_.assign(slots, nullptr);
    s.gathered_.assign(s.in_slots_.size(), nullptr);
    return s;
  }

  /// The output shapes of every node for the declared input shapes, None kept as -1: computed
  /// twice with None as 1 and as 2, and the dimensions that differ are None. Also checks every
  /// layer's input shapes and masks (the loaders call it once after building).
  std::vector<std::vector<DeclaredShape>> node_output_shapes() const {
    const auto a = propagate(1);
    const auto b = propagate(2);
    std::vector<std::vector<DeclaredShape>> result(nodes_.size());
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      for (std::size_t k = 0; k < a[n].size(); ++k) {
        DeclaredShape s;
        for (int d = 0; d < a[n][k].rank(); ++d) s.push_back(a[n][k][d] == b[n][k][d] ? a[n][k][d] : -1);
        result[n].push_back(std::move(s));
      }
    }
    return result;
  }

  /// Declared shapes of the outputs, None as -1.
  std::vector<DeclaredShape> output_shapes() const {
    const auto shapes = node_output_shapes();
    std::vector<DeclaredShape> result;
    for (const TensorRef& ref : outputs_) result.push_back(shapes[ref.node][ref.index]);
    return result;
  }

  /// A table like Keras' `model.summary()`: each layer call with its class, output shape(s),
  /// parameter count and (for graphs) where its inputs come from; then the totals.
  std::string summary() const {
    const auto shapes = node_output_shapes();
    const bool graph = class_name_ != "Sequential";
    std::vector<std::array<std::string, 4>> rows;
    rows.push_back({"Layer (type)", "Output Shape", "Param #", graph ? "Connected to" : ""});
    std::vector<bool> counted(layers_.size(), false);
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = nodes_[n];
      std::string out;
      for (std::size_t k = 0; k < shapes[n].size(); ++k) {
        if (k > 0) out += ", ";
        out += declared_shape_string(shapes[n][k]);
      }
      if (node.is_input()) {
        if (graph) rows.push_back({inputs_[node.input_index].name + " (InputLayer)", out, "0", "-"});
        continue;
      }
      const LayerEntry& e = layers_[node.layer];
      const bool first_use = !counted[node.layer];
      counted[node.layer] = true;
      std::string from;
      for (const TensorRef& ref : node.inbound) {
        if (!from.empty()) from += ", ";
        from += tensor_name(ref);
      }
      rows.push_back({e.name + " (" + e.class_name + ")", out, std::to_string(first_use ? e.layer.count_params() : 0),
                      graph ? from : ""});
    }
    std::array<std::size_t, 4> width{};
    for (const auto& r : rows) {
      for (std::size_t c = 0; c < 4; ++c) width[c] = std::max(width[c], r[c].size());
    }
    auto line = [&](const std::array<std::string, 4>& r) {
      std::string s;
      for (std::size_t c = 0; c < 4; ++c) {
        if (c == 3 && !graph) break;
        s += r[c] + std::string(width[c] - r[c].size() + (c < 3 ? 3 : 0), ' ');
      }
      while (!s.empty() && s.back() == ' ') s.pop_back();
      return s + "\n";
    };
    std::size_t total_width = width[0] + width[1] + width[2] + 6 + (graph ? width[3] + 3 : 0);
    std::string s = "Model: \"" + name_ + "\" (" + class_name_ + ")\n";
    s += std::string(total_width, '=') + "\n" + line(rows[0]) + std::string(total_width, '=') + "\n";
    for (std::size_t r = 1; r < rows.size(); ++r) s += line(rows[r]);
    s += std::string(total_width, '=') + "\n";
    s += "Total params: " + std::to_string(count_params()) + "\n";
    return s;
  }

 private:
  struct Input {
    std::string name;
    DeclaredShape shape;
    std::size_t node = 0;
  };
  static constexpr std::size_t no_layer = static_cast<std::size_t>(-1);
  struct Node {
    std::size_t layer = no_layer;  // no_layer for an input
    std::vector<TensorRef> inbound;
    std::size_t output_count = 1;
    std::size_t input_index = 0;
    bool is_input() const { return layer == no_layer; }
  };
  struct LayerEntry {
    AnyLayer<T> layer;
    std::string name;
    std::string class_name;
  };

  template <class L>
  static AnyLayer<T> to_any(L layer) {
    if constexpr (std::is_same_v<L, AnyLayer<T>>) {
      if (layer.empty()) throw value_error("strata::Model: add_layer was given an empty AnyLayer");
      return layer;
    } else {
      static_assert(detail::is_layer_v<L>, "strata::Model: add_layer takes a strata layer (or an AnyLayer).");
      static_assert(std::is_same_v<typename L::Scalar, T>,
                    "strata::Model: the layer's scalar type must be the model's.");
      return AnyLayer<T>(std::move(layer));
    }
  }

  std::string describe() const { return "strata::Model '" + name_ + "'"; }

  const LayerEntry& entry(std::size_t index) const {
    if (index >= layers_.size()) {
      throw value_error(detail::concat(describe(), ": there is no layer ", index, " (it has ", layers_.size(), ")"));
    }
    return layers_[index];
  }
  LayerEntry& entry(std::size_t index) {
    return const_cast<LayerEntry&>(static_cast<const Model*>(this)->entry(index));
  }

  bool has_layer(const std::string& layer_name) const {
    for (const LayerEntry& e : layers_) {
      if (e.name == layer_name) return true;
    }
    return false;
  }

  std::size_t index_of(const std::string& layer_name) const {
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      if (layers_[i].name == layer_name) return i;
    }
    // A nested model the loader flattened: its layers are "<name>/<layer>", the model itself none.
    std::string inner, first;
    for (const LayerEntry& e : layers_) {
      if (e.name.size() > layer_name.size() && e.name.compare(0, layer_name.size(), layer_name) == 0 &&
          e.name[layer_name.size()] == '/') {
        inner += (inner.empty() ? "'" : ", '") + e.name + "'";
        if (first.empty()) first = e.name;
      }
    }
    if (!inner.empty()) {
      throw value_error(detail::concat(describe(), ": '", layer_name,
                                       "' is a nested model, loaded flat: its layers are ", inner, " (model.layer(\"",
                                       first, "\")); the nested model is no layer of its own"));
    }
    std::string known;
    for (const LayerEntry& e : layers_) known += (known.empty() ? "" : ", ") + e.name;
    throw value_error(detail::concat(describe(), ": has no layer named '", layer_name, "' (its layers: ", known, ")"));
  }

  // For the const and the non-const layer<L>() (Self is `const Model` or `Model`).
  template <class L, class Self>
  static auto& typed(Self& self, const std::string& layer_name) {
    auto& any = self.layers_[self.index_of(layer_name)].layer;
    if (auto* l = any.template target<L>()) return *l;
    throw value_error(detail::concat(self.describe(), ": layer '", layer_name, "' is a ", any.describe(), " (",
                                     any.type().name(), "), not the type asked for (", typeid(L).name(), ")"));
  }

  std::string tensor_name(const TensorRef& ref) const {
    const Node& node = nodes_[ref.node];
    if (node.is_input()) return inputs_[node.input_index].name;
    const std::string& name = layers_[node.layer].name;
    if (node.output_count == 1) return name;
    return name + ":" + std::to_string(ref.index);
  }

  void check_ref(const TensorRef& ref, const std::string& who) const {
    if (ref.node >= nodes_.size() || ref.index >= nodes_[ref.node].output_count) {
      throw value_error(detail::concat(describe(), ": '", who, "' refers to a tensor that does not exist yet (node ",
                                       ref.node, ", output ", ref.index, ")"));
    }
  }

  // How many times each tensor is read: by later nodes and as a model output. Kept flat (node n's
  // outputs start at use_offset_[n]) so predict copies one vector.
  void update_uses() {
    use_offset_.assign(nodes_.size() + 1, 0);
    for (std::size_t n = 0; n < nodes_.size(); ++n) use_offset_[n + 1] = use_offset_[n] + nodes_[n].output_count;
    uses_.assign(use_offset_.back(), 0);
    for (const Node& node : nodes_) {
      for (const TensorRef& ref : node.inbound) ++uses_[use_offset_[ref.node] + ref.index];
    }
    for (const TensorRef& ref : outputs_) ++uses_[use_offset_[ref.node] + ref.index];
  }

  static std::vector<TensorView<T>> views(const std::vector<AnyTensor<T>>& inputs) {
    return std::vector<TensorView<T>>(inputs.begin(), inputs.end());
  }
  static std::vector<TensorView<T>> one(const TensorView<T>& input) { return std::vector<TensorView<T>>{input}; }

  AnyTensor<T> single(std::vector<AnyTensor<T>> out) const {
    if (out.size() != 1) {
      throw value_error(detail::concat(describe(), ": predict(tensor) returns one output; the model has ", out.size(),
                                       ": pass the inputs as a vector, predict(std::vector<TensorView<T>>{x}), ",
                                       "which returns them all"));
    }
    return std::move(out[0]);
  }

  void check_inputs(const std::vector<TensorView<T>>& inputs) const {
    if (outputs_.empty()) throw value_error(detail::concat(describe(), ": the model has no outputs"));
    if (inputs.size() != inputs_.size()) {
      throw shape_error(detail::concat(describe(), ": expects ", inputs_.size(), " input",
                                       inputs_.size() == 1 ? "" : "s", "; got ", inputs.size()));
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const DeclaredShape& want = inputs_[i].shape;
      const Shape& got = inputs[i].shape();
      bool ok = !inputs[i].empty() && got.rank() == static_cast<int>(want.size());
      for (int d = 0; ok && d < got.rank(); ++d)
        ok = want[static_cast<std::size_t>(d)] < 0 || got[d] == want[static_cast<std::size_t>(d)];
      if (!ok) {
        throw shape_error(detail::concat(describe(), ": input ", i, " ('", inputs_[i].name, "') must have shape ",
                                         declared_shape_string(want), "; got ",
                                         inputs[i].empty() ? std::string("an empty tensor") : got.to_string()));
      }
    }
  }

  // The graph run, for the const and the non-const predict (Self is `const Model` or `Model`).
  template <class Self>
  static std::vector<AnyTensor<T>> run(Self& self, const std::vector<TensorView<T>>& inputs) {
    self.check_inputs(inputs);
    const std::size_t node_count = self.nodes_.size();
    // Each node's outputs and their masks, freed after their last use.
    std::vector<std::vector<AnyTensor<T>>> values(node_count);
    std::vector<std::vector<MaskPtr>> masks(node_count);
    std::vector<std::size_t> uses = self.uses_;
    GraphCall<T> call;
    for (std::size_t n = 0; n < node_count; ++n) {
      const Node& node = self.nodes_[n];
      if (node.is_input()) continue;
      call.inputs.clear();
      call.outputs.clear();
      call.masks.clear();
      for (std::size_t i = 0; i < node.inbound.size(); ++i) {
        const TensorRef& ref = node.inbound[i];
        GraphInput<T> in;
        const Node& from = self.nodes_[ref.node];
        if (from.is_input()) {
          in.tensor = inputs[from.input_index];
        } else {
          AnyTensor<T>& t = values[ref.node][ref.index];
          in.tensor = TensorView<T>(t);
          in.mask = masks[ref.node][ref.index];
          std::size_t& left = uses[self.use_offset_[ref.node] + ref.index];
          // The last use of a tensor that this call reads once: the layer may take it over.
          bool once = true;
          for (std::size_t j = 0; j < node.inbound.size(); ++j) {
            once = once && (j == i || node.inbound[j].node != ref.node || node.inbound[j].index != ref.index);
          }
          if (left == 1 && once) in.owned = &t;
        }
        call.inputs.push_back(std::move(in));
      }
      if constexpr (std::is_const_v<Self>) {
        static_cast<const AnyLayer<T>&>(self.layers_[node.layer].layer).call_graph(call);
      } else {
        self.layers_[node.layer].layer.call_graph(call);
      }
      if (call.outputs.size() != node.output_count || call.masks.size() != node.output_count) {
        throw value_error(detail::concat(self.describe(), ": layer '", self.layers_[node.layer].name, "' gave ",
                                         call.outputs.size(), " outputs; expected ", node.output_count));
      }
      values[n] = std::move(call.outputs);
      masks[n] = std::move(call.masks);
      for (const TensorRef& ref : node.inbound) {
        std::size_t& left = uses[self.use_offset_[ref.node] + ref.index];
        if (left > 0) --left;
        if (left == 0 && !self.nodes_[ref.node].is_input()) {
          values[ref.node][ref.index] = AnyTensor<T>();
          masks[ref.node][ref.index].reset();
        }
      }
    }
    std::vector<AnyTensor<T>> result;
    result.reserve(self.outputs_.size());
    for (const TensorRef& ref : self.outputs_) {
      const Node& from = self.nodes_[ref.node];
      std::size_t& left = uses[self.use_offset_[ref.node] + ref.index];
      if (from.is_input()) {
        result.push_back(inputs[from.input_index].copy());
      } else if (--left == 0) {
        result.push_back(std::move(values[ref.node][ref.index]));
      } else {
        result.push_back(values[ref.node][ref.index]);  // the same tensor is a later output too
      }
    }
    return result;
  }

  std::vector<std::vector<Shape>> propagate(Index none_as) const {
    std::vector<Shape> inputs;
    for (const Input& in : inputs_) {
      Shape s;
      for (Index d : in.shape) s.push_back(d < 0 ? none_as : d);
      inputs.push_back(s);
    }
    return propagate(inputs, true);
  }

  // Every node's output shapes for these input shapes (and, with masks, the layers' checks of
  // the masks).
  std::vector<std::vector<Shape>> propagate(const std::vector<Shape>& input_shapes, bool masks) const {
    std::vector<std::vector<Shape>> shapes(nodes_.size());
    std::vector<std::vector<int>> mask_ranks(nodes_.size());
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = nodes_[n];
      if (node.is_input()) {
        shapes[n].push_back(input_shapes[node.input_index]);
        mask_ranks[n].push_back(0);
        continue;
      }
      std::vector<Shape> args;
      std::vector<int> arg_masks;
      for (const TensorRef& ref : node.inbound) {
        args.push_back(shapes[ref.node][ref.index]);
        arg_masks.push_back(mask_ranks[ref.node][ref.index]);
      }
      const AnyLayer<T>& layer = layers_[node.layer].layer;
      shapes[n] = layer.output_shapes(args);
      mask_ranks[n] = masks ? layer.output_mask_ranks(args, arg_masks) : std::vector<int>(node.output_count, 0);
      if (shapes[n].size() != node.output_count || mask_ranks[n].size() != node.output_count) {
        throw value_error(detail::concat(describe(), ": layer '", layers_[node.layer].name, "' declares ",
                                         shapes[n].size(), " output shapes; expected ", node.output_count));
      }
    }
    return shapes;
  }

  std::string name_;
  std::string class_name_;
  std::vector<Input> inputs_;
  std::vector<LayerEntry> layers_;
  std::vector<Node> nodes_;
  std::vector<TensorRef> outputs_;
  std::vector<std::size_t> use_offset_;
  std::vector<std::size_t> uses_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_MODEL_HPP
