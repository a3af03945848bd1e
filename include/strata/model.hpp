// SPDX-License-Identifier: MIT
#ifndef STRATA_MODEL_HPP
#define STRATA_MODEL_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "error.hpp"
#include "mask.hpp"
#include "shape.hpp"
#include "tensor.hpp"

namespace strata {

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

/// A Keras time-step mask travelling with a tensor of a Model: (batch, time), true = keep; null
/// when the tensor has none. Shared, so layers that pass a mask on do not copy it.
using MaskPtr = std::shared_ptr<const Mask>;

/// What a mask-aware layer call returns: the outputs and one mask per output (null = none).
template <class T>
struct MaskedOutputs {
  std::vector<AnyTensor<T>> tensors;
  std::vector<MaskPtr> masks;
};

/// How the masks of a layer's outputs follow from its inputs' masks when the layer has no
/// call_masked (Keras supports_masking): dropped (Flatten, Reshape), or the first input's mask
/// passed on to every output unchanged (Dense, TimeDistributed, Activation, Dropout).
enum class MaskRule { drop, pass };

/// One layer of a Model behind a uniform call: a list of input tensors in, a list of outputs out.
/// Model owns its layers through these; strata::load_model fills them from a Keras file, and
/// they can be made by hand for layers of one's own.
template <class T>
struct ModelLayer {
  std::string name;
  std::string class_name;
  /// Computes the outputs without masks; may update state (a stateful LSTM).
  std::function<std::vector<AnyTensor<T>>(const std::vector<AnyTensor<T>>&)> call;
  /// Optional mask-aware call, used instead of `call` by Model: the inputs with their masks
  /// (null = none) -> the outputs with theirs. Layers that make masks (Masking, Embedding with
  /// mask_zero) or take them (LSTM, GRU, SimpleRNN, Bidirectional) have one.
  std::function<MaskedOutputs<T>(const std::vector<AnyTensor<T>>&, const std::vector<MaskPtr>&)> call_masked;
  /// The output masks of a layer without call_masked.
  MaskRule mask_rule = MaskRule::drop;
  /// The output shapes for given input shapes (validates them; throws shape_error).
  std::function<std::vector<Shape>(const std::vector<Shape>&)> output_shapes;
  /// Forgets stored state; empty for layers without state.
  std::function<void()> reset_states;
  /// Number of scalars in the weights (Keras count_params()).
  Index param_count = 0;
};

/// A Keras model at inference: input tensors, a graph of layers (a chain for Sequential, a DAG for
/// Functional), output tensors. Keras `model.predict(x)` is `model.predict({x})`; layers used at
/// several places of the graph (shared layers) keep one set of weights. Keras masks travel with the
/// tensors (ModelLayer::call_masked and mask_rule): Masking and Embedding(mask_zero) make them,
/// Dense-like layers pass them on, recurrent layers take them; see docs/loading-models.md.
///
/// Not thread-safe when it has stateful layers (predict updates their state).
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
    Node node;
    node.input_index = inputs_.size();
    node.output_count = 1;
    inputs_.push_back(Input{std::move(input_name), std::move(batch_shape), nodes_.size()});
    nodes_.push_back(std::move(node));
    return TensorRef{nodes_.size() - 1, 0};
  }

  /// Adds a call of `layer` on `inbound` tensors producing `output_count` tensors; returns the
  /// node's index (its outputs are TensorRef{index, k}). Call with the same shared_ptr again for a
  /// shared layer. Inbound tensors must already exist, which keeps nodes in topological order.
  std::size_t add_node(std::shared_ptr<ModelLayer<T>> layer, std::vector<TensorRef> inbound, std::size_t output_count) {
    if (!layer || (!layer->call && !layer->call_masked) || !layer->output_shapes) {
      throw value_error(
          detail::concat(describe(), ": add_node needs a layer with call (or call_masked) and output_shapes"));
    }
    for (const TensorRef& ref : inbound) check_ref(ref, layer->name);
    if (output_count == 0) throw value_error(detail::concat(describe(), ": layer '", layer->name, "' has no outputs"));
    Node node;
    node.layer = std::move(layer);
    node.inbound = std::move(inbound);
    node.output_count = output_count;
    nodes_.push_back(std::move(node));
    return nodes_.size() - 1;
  }

  /// Declares the model outputs, in order.
  void set_outputs(std::vector<TensorRef> outputs) {
    for (const TensorRef& ref : outputs) check_ref(ref, "output");
    if (outputs.empty()) throw value_error(detail::concat(describe(), ": a model needs at least one output"));
    outputs_ = std::move(outputs);
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
  /// The layers, each once, in the order they were first added.
  std::vector<std::shared_ptr<const ModelLayer<T>>> layers() const {
    std::vector<std::shared_ptr<const ModelLayer<T>>> result;
    for (const Node& node : nodes_) {
      if (!node.layer) continue;
      bool seen = false;
      for (const auto& l : result) seen = seen || l == node.layer;
      if (!seen) result.push_back(node.layer);
    }
    return result;
  }
  /// Total number of weight scalars (Keras count_params()).
  Index count_params() const {
    Index n = 0;
    for (const auto& l : layers()) n += l->param_count;
    return n;
  }

  /// Keras `model.predict(inputs)` (or `model(inputs)`): one tensor per declared input, in order;
  /// returns one per declared output. Throws shape_error for a wrong count or a shape that
  /// contradicts a declared (non-None) dimension.
  std::vector<AnyTensor<T>> predict(const std::vector<AnyTensor<T>>& inputs) {
    check_inputs(inputs);
    // Each node's outputs, released once no later node needs them.
    // Masks follow the tensors: masks[n][k] is the mask of output k of node n (null: none).
    std::vector<std::vector<AnyTensor<T>>> values(nodes_.size());
    std::vector<std::vector<MaskPtr>> masks(nodes_.size());
    std::vector<std::size_t> uses = use_counts();
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = nodes_[n];
      if (!node.layer) {
        values[n].push_back(inputs[node.input_index]);
        masks[n].emplace_back();
        continue;
      }
      std::vector<AnyTensor<T>> args;
      std::vector<MaskPtr> arg_masks;
      args.reserve(node.inbound.size());
      for (const TensorRef& ref : node.inbound) {
        args.push_back(values[ref.node][ref.index]);
        arg_masks.push_back(masks[ref.node][ref.index]);
      }
      for (const TensorRef& ref : node.inbound) {
        if (--uses[ref.node] == 0) {
          values[ref.node].clear();
          masks[ref.node].clear();
        }
      }
      if (node.layer->call_masked) {
        MaskedOutputs<T> out = node.layer->call_masked(args, arg_masks);
        values[n] = std::move(out.tensors);
        masks[n] = std::move(out.masks);
        masks[n].resize(values[n].size());
      } else {
        values[n] = node.layer->call(args);
        const MaskPtr passed = node.layer->mask_rule == MaskRule::pass && !arg_masks.empty() ? arg_masks[0] : MaskPtr();
        masks[n].assign(values[n].size(), passed);
      }
      if (values[n].size() != node.output_count) {
        throw value_error(detail::concat(describe(), ": layer '", node.layer->name, "' gave ", values[n].size(),
                                         " outputs; expected ", node.output_count));
      }
    }
    std::vector<AnyTensor<T>> result;
    for (const TensorRef& ref : outputs_) result.push_back(values[ref.node][ref.index]);
    return result;
  }

  /// predict for a model with one input and one output.
  AnyTensor<T> predict(const AnyTensor<T>& input) {
    if (inputs_.size() != 1 || outputs_.size() != 1) {
      throw value_error(detail::concat(describe(), ": predict(tensor) needs one input and one output; the model has ",
                                       inputs_.size(), " inputs and ", outputs_.size(), " outputs"));
    }
    return std::move(predict(std::vector<AnyTensor<T>>{input})[0]);
  }

  /// Keras `model.reset_states()`: stateful layers forget their state.
  void reset_states() {
    for (const auto& l : layers()) {
      if (l->reset_states) l->reset_states();
    }
  }

  /// The output shapes of every node for the declared input shapes, None kept as -1: computed
  /// twice with None as 1 and as 2, and the dimensions that differ are None.
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
    std::vector<const ModelLayer<T>*> counted;
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = nodes_[n];
      std::string out;
      for (std::size_t k = 0; k < shapes[n].size(); ++k) {
        if (k > 0) out += ", ";
        out += declared_shape_string(shapes[n][k]);
      }
      if (!node.layer) {
        if (graph) rows.push_back({inputs_[node.input_index].name + " (InputLayer)", out, "0", "-"});
        continue;
      }
      bool first_use = true;
      for (const auto* l : counted) first_use = first_use && l != node.layer.get();
      if (first_use) counted.push_back(node.layer.get());
      std::string from;
      for (const TensorRef& ref : node.inbound) {
        if (!from.empty()) from += ", ";
        from += tensor_name(ref);
      }
      rows.push_back({node.layer->name + " (" + node.layer->class_name + ")", out,
                      std::to_string(first_use ? node.layer->param_count : 0), graph ? from : ""});
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
  struct Node {
    std::shared_ptr<ModelLayer<T>> layer;  // null for an input
    std::vector<TensorRef> inbound;
    std::size_t output_count = 1;
    std::size_t input_index = 0;
  };

  std::string describe() const { return "strata::Model '" + name_ + "'"; }

  std::string tensor_name(const TensorRef& ref) const {
    const Node& node = nodes_[ref.node];
    if (!node.layer) return inputs_[node.input_index].name;
    if (node.output_count == 1) return node.layer->name;
    return node.layer->name + ":" + std::to_string(ref.index);
  }

  void check_ref(const TensorRef& ref, const std::string& who) const {
    if (ref.node >= nodes_.size() || ref.index >= nodes_[ref.node].output_count) {
      throw value_error(detail::concat(describe(), ": '", who, "' refers to a tensor that does not exist yet (node ",
                                       ref.node, ", output ", ref.index, ")"));
    }
  }

  std::vector<std::size_t> use_counts() const {
    std::vector<std::size_t> uses(nodes_.size(), 0);
    for (const Node& node : nodes_) {
      for (const TensorRef& ref : node.inbound) ++uses[ref.node];
    }
    for (const TensorRef& ref : outputs_) ++uses[ref.node];  // never released
    return uses;
  }

  void check_inputs(const std::vector<AnyTensor<T>>& inputs) const {
    if (outputs_.empty()) throw value_error(detail::concat(describe(), ": the model has no outputs"));
    if (inputs.size() != inputs_.size()) {
      throw shape_error(detail::concat(describe(), ": expects ", inputs_.size(), " input",
                                       inputs_.size() == 1 ? "" : "s", "; got ", inputs.size()));
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      const DeclaredShape& want = inputs_[i].shape;
      const Shape got = inputs[i].shape();
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

  std::vector<std::vector<Shape>> propagate(Index none_as) const {
    std::vector<std::vector<Shape>> shapes(nodes_.size());
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const Node& node = nodes_[n];
      if (!node.layer) {
        Shape s;
        for (Index d : inputs_[node.input_index].shape) s.push_back(d < 0 ? none_as : d);
        shapes[n].push_back(s);
        continue;
      }
      std::vector<Shape> args;
      for (const TensorRef& ref : node.inbound) args.push_back(shapes[ref.node][ref.index]);
      shapes[n] = node.layer->output_shapes(args);
      if (shapes[n].size() != node.output_count) {
        throw value_error(detail::concat(describe(), ": layer '", node.layer->name, "' declares ", shapes[n].size(),
                                         " output shapes; expected ", node.output_count));
      }
    }
    return shapes;
  }

  std::string name_;
  std::string class_name_;
  std::vector<Input> inputs_;
  std::vector<Node> nodes_;
  std::vector<TensorRef> outputs_;
};

}  // namespace strata

#endif  // STRATA_MODEL_HPP
