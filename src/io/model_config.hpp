// SPDX-License-Identifier: MIT
#ifndef STRATA_SRC_IO_MODEL_CONFIG_HPP
#define STRATA_SRC_IO_MODEL_CONFIG_HPP

// A Keras model config (the JSON Keras 2, Keras 3 and TensorFlow.js write) read into the list of its
// layers and the tensors each call takes: Sequential chains and Functional graphs, Keras 2's
// [layer, node, index] references and Keras 3's __keras_tensor__ ones. Part of the compiled
// strata::io library.

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <strata/config.hpp>
#include <strata/error.hpp>
#include <strata/layer_config.hpp>
#include <strata/model.hpp>
#include <string>
#include <utility>
#include <vector>

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace io::detail {

using json = nlohmann::json;
using strata::detail::concat;

inline const json& member(const json& j, const char* key, const std::string& who) {
  if (!j.is_object() || !j.contains(key)) throw io_error(concat(who, ": the config has no '", key, "'"));
  return j.at(key);
}

inline std::string string_member(const json& j, const char* key, const std::string& who) {
  const json& v = member(j, key, who);
  if (!v.is_string()) throw io_error(concat(who, ": '", key, "' must be a string; got ", v.dump()));
  return v.get<std::string>();
}

/// A shape list [null, 10, 20] -> {-1, 10, 20}.
inline DeclaredShape declared_shape(const json& j, const std::string& who) {
  if (!j.is_array() || j.empty() || j.size() > static_cast<std::size_t>(max_rank)) {
    throw io_error(concat(who, ": a shape must be a list of 1 to ", max_rank, " dimensions; got ", j.dump()));
  }
  DeclaredShape s;
  for (const json& d : j) {
    if (d.is_null()) {
      s.push_back(-1);
    } else if (d.is_number_integer() && d.get<std::int64_t>() >= 0 &&
               d.get<std::int64_t>() <= (std::int64_t(1) << 40)) {
      s.push_back(static_cast<Index>(d.get<std::int64_t>()));
    } else {
      throw io_error(concat(who, ": a dimension must be null or an integer in [0, 2^40]; got ", d.dump()));
    }
  }
  return s;
}

/// The batch shape a layer config declares (InputLayer, or the first layer of an old Sequential).
inline bool declared_batch_shape(const json& cfg, const std::string& who, DeclaredShape& out) {
  for (const char* key : {"batch_shape", "batch_input_shape"}) {
    if (cfg.contains(key) && !cfg.at(key).is_null()) {
      out = declared_shape(cfg.at(key), who);
      return true;
    }
  }
  if (cfg.contains("input_shape") && !cfg.at("input_shape").is_null()) {
    out = declared_shape(cfg.at("input_shape"), who);
    out.insert(out.begin(), -1);
    return true;
  }
  return false;
}

/// nlohmann's JSON value as strata's Config (what layer declarations read).
inline Config to_config(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
    case json::value_t::discarded:
      return Config();
    case json::value_t::boolean:
      return Config(j.get<bool>());
    case json::value_t::number_integer:
      return Config(j.get<std::int64_t>());
    case json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      return u <= static_cast<std::uint64_t>(INT64_MAX) ? Config(static_cast<std::int64_t>(u))
                                                        : Config(static_cast<double>(u));
    }
    case json::value_t::number_float:
      return Config(j.get<double>());
    case json::value_t::string:
      return Config(j.get<std::string>());
    case json::value_t::array: {
      Config::List list;
      list.reserve(j.size());
      for (const json& e : j) list.push_back(to_config(e));
      return Config(std::move(list));
    }
    case json::value_t::object: {
      Config::Dict dict;
      for (const auto& [k, v] : j.items()) dict.emplace_back(k, to_config(v));
      return Config(std::move(dict));
    }
    case json::value_t::binary:
      break;
  }
  throw io_error("strata::load_model: a config holds a binary JSON value");
}

/// A reference to a tensor in a config: (layer name, node index, tensor index).
struct TensorKey {
  std::string layer;
  std::size_t node = 0;
  std::size_t index = 0;
  bool operator<(const TensorKey& o) const {
    return layer != o.layer ? layer < o.layer : node != o.node ? node < o.node : index < o.index;
  }
  std::string str() const { return layer + "[" + std::to_string(node) + "][" + std::to_string(index) + "]"; }
};

struct ModelSpec;

struct LayerSpec {
  std::string class_name;
  std::string registered_name;  // Keras 3's name of a registered (custom) class, when given
  std::string name;
  json config;
  /// Per call of the layer: the tensors it takes (main inputs, then initial states).
  std::vector<std::vector<TensorKey>> calls;
  /// The arguments of its calls besides masks and `training` (the same for every call), as
  /// LayerConfig::call_arguments() reads them (call_inputs).
  json call_arguments = json::object();
  /// A Sequential or Functional model used as a layer (transfer learning): its parsed config.
  /// The builder inlines its layers and calls them at each of this layer's calls.
  std::shared_ptr<const ModelSpec> nested;
  /// The node index that tensor references give this nested model's first call: 1 where the
  /// model "starts with a built-in node" linking its own input to its output (Keras 2 and tfjs
  /// for a model with an input, Keras 3 for a Functional), else 0.
  std::size_t node_offset = 0;
};

struct ModelSpec {
  std::string name;
  bool sequential = true;
  std::vector<LayerSpec> layers;  // model.layers order, InputLayers included
  std::vector<TensorKey> inputs;
  std::vector<TensorKey> outputs;
};

/// Keras 2 refs ["x", 0, 0, {...}] and Keras 3 {"class_name": "__keras_tensor__", "config":
/// {"keras_history": ["x", 0, 0]}}; nested lists are flattened.
/// Whether a call's "mask" argument holds no tensor: null, or a list of nulls (Keras 3 passes a layer
/// called on a list, such as Attention, the list of its inputs' masks, each null when the input has none).
inline bool no_mask_tensor(const json& v) {
  if (v.is_null()) return true;
  if (!v.is_array()) return false;
  for (const json& e : v) {
    if (!no_mask_tensor(e)) return false;
  }
  return true;
}

/// Keeps a call argument that is neither a tensor, the mask nor `training` (which is off at
/// inference): a bool, number or string, such as Attention's use_causal_mask, is what the layer
/// reads through LayerConfig::call_arguments().
inline void keep_call_argument(json* arguments, const std::string& key, const json& value) {
  if (arguments == nullptr || key == "training" || key == "mask") return;
  if (value.is_boolean() || value.is_number() || value.is_string()) (*arguments)[key] = value;
}

/// A Keras 2 tensor reference [layer, node, index(, kwargs)].
inline bool is_keras2_ref(const json& j) {
  return j.is_array() && j.size() >= 3 && j[0].is_string() && j[1].is_number_unsigned() && j[2].is_number_unsigned();
}

/// Collects the tensor references of a call's first argument (or of io_refs' lists). A Keras 2
/// reference's fourth item holds the call's other arguments (tf.keras' Node.serialize gives each
/// tensor of the first argument the same dict): initial_state and constants are further inputs,
/// other tensors go to `tensor_kwargs` (name -> reference), the rest to `arguments`.
inline void collect_refs(const json& j, std::vector<TensorKey>& out, const std::string& who, json* arguments = nullptr,
                         json* tensor_kwargs = nullptr) {
  if (j.is_object()) {
    if (j.value("class_name", "") == "__keras_tensor__") {
      collect_refs(member(member(j, "config", who), "keras_history", who), out, who);
      return;
    }
    throw io_error(concat(who, ": unexpected object in a layer's inputs: ", j.dump().substr(0, 200)));
  }
  if (!j.is_array()) throw io_error(concat(who, ": unexpected value in a layer's inputs: ", j.dump().substr(0, 200)));
  if (j.size() >= 3 && j[0].is_string()) {
    if (!is_keras2_ref(j)) {
      throw io_error(concat(who, ": a tensor reference must be [layer, node, index]; got ", j.dump().substr(0, 200)));
    }
    out.push_back(TensorKey{j[0].get<std::string>(), j[1].get<std::size_t>(), j[2].get<std::size_t>()});
    if (j.size() >= 4 && j[3].is_object()) {
      for (const auto& [k, v] : j[3].items()) {
        if (k == "initial_state" || k == "constants") {
          collect_refs(v, out, who);
        } else if (k == "mask") {
          if (!no_mask_tensor(v)) throw unsupported_error(concat(who, ": explicit mask inputs are not supported"));
        } else if (is_keras2_ref(v)) {
          if (tensor_kwargs == nullptr)
            throw unsupported_error(concat(who, ": tensor argument '", k, "' is not supported"));
          (*tensor_kwargs)[k] = v;
        } else {
          keep_call_argument(arguments, k, v);
        }
      }
    }
    return;
  }
  for (const json& e : j) collect_refs(e, out, who, arguments, tensor_kwargs);
}

/// One call's inputs from an inbound_nodes entry (Keras 2 list or Keras 3 {args, kwargs}), and its
/// arguments for LayerConfig::call_arguments(): the non-tensor ones (keep_call_argument), and for
/// each other tensor passed by keyword (MultiHeadAttention's key and attention_mask; a tf.keras 2
/// file passes even its value so) {"input": i}, its place among the inputs, which are the
/// positional tensors (then initial states), then the keyword tensors in key order.
inline std::vector<TensorKey> call_inputs(const json& node, const std::string& who, json& arguments) {
  std::vector<TensorKey> refs;
  json tensor_kwargs = json::object();
  if (node.is_object()) {
    collect_refs(member(node, "args", who), refs, who);
    if (node.contains("kwargs") && node.at("kwargs").is_object()) {
      for (const auto& [k, v] : node.at("kwargs").items()) {
        if (k == "initial_state") {
          collect_refs(v, refs, who);
        } else if (k == "mask") {
          if (!no_mask_tensor(v)) throw unsupported_error(concat(who, ": explicit mask inputs are not supported"));
        } else if (v.is_object() && v.value("class_name", "") == "__keras_tensor__") {
          tensor_kwargs[k] = v;
        } else {
          keep_call_argument(&arguments, k, v);
        }
      }
    }
  } else {
    collect_refs(node, refs, who, &arguments, &tensor_kwargs);
  }
  for (const auto& [k, v] : tensor_kwargs.items()) {
    arguments[k] = json{{"input", refs.size()}};
    collect_refs(v, refs, who);
  }
  return refs;
}

/// input_layers / output_layers: [[name, 0, 0], ...] or one [name, 0, 0].
inline std::vector<TensorKey> io_refs(const json& j, const std::string& who) {
  std::vector<TensorKey> refs;
  if (j.is_array() && !j.empty() && j[0].is_string()) {
    collect_refs(j, refs, who);
  } else if (j.is_array()) {
    for (const json& e : j) collect_refs(e, refs, who);
  } else {
    throw io_error(concat(who, ": input_layers/output_layers must be a list; got ", j.dump().substr(0, 200)));
  }
  return refs;
}

/// The model classes a config may nest as layers: a model config's own class names.
inline bool is_model_class(const std::string& class_name) {
  return class_name == "Sequential" || class_name == "Functional" || class_name == "Model";
}

/// The batch shape of a parsed model's only input (to start a Sequential whose first layer is a
/// nested model); false when it has several or declares none.
inline bool model_input_shape(const ModelSpec& spec, const std::string& who, DeclaredShape& out);

/// Where a Functional config refers to a nested model's calls: node indices counted from 0 or
/// from 1 (Keras 3's functional.py reindexes a Functional's nodes from 1 and a Sequential's from
/// 0; Keras 2 and tfjs skip the first node of any model that has an input, so count from 1). The
/// references themselves decide when they can (an index 0, or one past the last call).
inline std::size_t nested_node_offset(const ModelSpec& spec, const LayerSpec& nested, bool keras3);

inline ModelSpec parse_model_config(const json& model, const std::string& who, bool keras3 = false, int depth = 0);

/// Keras 1's Sequential that starts with Merge(branch models, mode): the branches become a graph
/// in front of the Merge layer. Each branch (a Sequential, itself possibly starting with such a
/// Merge) adds its inputs and its layers, in Keras 1's order (Sequential.flattened_layers: every
/// branch's layers, then the Merge, then the rest), which is the order its weights were saved in;
/// the Merge takes the branches' outputs. The model is then a multi-input graph.
inline void merge_branches(LayerSpec& merge, ModelSpec& spec, const std::string& who, int depth) {
  const std::string where = who + ", layer '" + merge.name + "' (Merge)";
  if (depth >= 16) throw model_error(concat(where, ": Merges of models are nested more than 16 deep"));
  const json branches = merge.config.at("layers");
  merge.config.erase("layers");
  if (!branches.is_array() || branches.size() < 2) {
    throw io_error(concat(where, ": 'layers' must list the merged models; got ", branches.dump().substr(0, 200)));
  }
  std::vector<TensorKey> inputs;
  for (std::size_t b = 0; b < branches.size(); ++b) {
    const json& branch = branches[b];
    if (!branch.is_object() || branch.value("class_name", "") != "Sequential") {
      throw unsupported_error(concat(where, ": merged branch ", b, " is a '",
                                     branch.is_object() ? branch.value("class_name", "?") : std::string("?"),
                                     "'; strata loads Keras 1's Merge of Sequential models"));
    }
    ModelSpec part = parse_model_config(branch, where + ", branch " + std::to_string(b), false, depth + 1);
    for (const TensorKey& in : part.inputs) spec.inputs.push_back(in);
    for (LayerSpec& l : part.layers) {
      for (const LayerSpec& seen : spec.layers) {
        if (seen.name == l.name) throw model_error(concat(where, ": two layers are named '", l.name, "'"));
      }
      spec.layers.push_back(std::move(l));
    }
    for (const TensorKey& out : part.outputs) inputs.push_back(out);
  }
  merge.calls.push_back(inputs);
  spec.sequential = false;
}

/// {"class_name": "Sequential"|"Functional"|"Model", "config": ...} -> ModelSpec; a layer that is
/// itself a model config is parsed into its LayerSpec::nested. `keras3`: written by Keras 3 (how
/// nested models' node indices count).
inline ModelSpec parse_model_config(const json& model, const std::string& who, bool keras3, int depth) {
  // Each level of nesting is a recursion here and in the builder: bounded, so that no file can
  // exhaust the stack.
  constexpr int max_depth = 32;
  if (depth > max_depth) {
    throw io_error(concat(who, ": models nested more than ", max_depth, " levels deep"));
  }
  ModelSpec spec;
  const std::string cls = string_member(model, "class_name", who);
  const json& cfg = member(model, "config", who);
  if (cls == "Sequential") {
    const json& layers = cfg.is_array() ? cfg : member(cfg, "layers", who);  // Keras <= 2.1: a bare list
    if (cfg.is_object()) spec.name = cfg.value("name", "sequential");
    if (!layers.is_array()) throw io_error(concat(who, ": Sequential 'layers' must be a list"));
    spec.sequential = true;
    std::vector<TensorKey> previous;
    std::map<std::string, int> default_names;
    for (const json& l : layers) {
      LayerSpec ls;
      ls.class_name = string_member(l, "class_name", who);
      ls.registered_name = l.is_object() && l.contains("registered_name") && l.at("registered_name").is_string()
                               ? l.at("registered_name").get<std::string>()
                               : std::string();
      ls.config = member(l, "config", who);
      // Old Sequential configs may name no layer: Keras' default names then ("dense", "dense_1").
      if (ls.config.is_object() && ls.config.contains("name") && ls.config.at("name").is_string()) {
        ls.name = ls.config.at("name").get<std::string>();
      } else {
        const std::string base = to_snake_case(ls.class_name);
        const int k = default_names[base]++;
        ls.name = k == 0 ? base : base + "_" + std::to_string(k);
      }
      if (is_model_class(ls.class_name)) {
        ls.nested =
            std::make_shared<ModelSpec>(parse_model_config(l, who + ", model '" + ls.name + "'", keras3, depth + 1));
      }
      if (ls.class_name == "InputLayer") {
        if (!spec.layers.empty()) throw model_error(concat(who, ": an InputLayer may only come first in a Sequential"));
        spec.inputs.push_back(TensorKey{ls.name, 0, 0});
        previous = {spec.inputs.back()};
        spec.layers.push_back(std::move(ls));
        continue;
      }
      if (ls.class_name == "Merge" && ls.config.is_object() && ls.config.contains("layers")) {
        // Keras 1: a Sequential that starts by merging branch models, listed inside the Merge.
        if (!spec.layers.empty()) {
          throw model_error(concat(who, ", layer '", ls.name, "' (Merge): a Merge of models may only come first"));
        }
        merge_branches(ls, spec, who, depth);
        previous = {TensorKey{ls.name, 0, 0}};
        spec.layers.push_back(std::move(ls));
        continue;
      }
      if (previous.empty()) {
        // No InputLayer: the first layer declares the input shape, or build_input_shape does.
        DeclaredShape shape;
        LayerSpec input;
        input.class_name = "InputLayer";
        input.name = ls.name + "_input";
        const bool declared =
            ls.nested ? model_input_shape(*ls.nested, who, shape) : declared_batch_shape(ls.config, who, shape);
        if (!declared && cfg.is_object() && cfg.contains("build_input_shape") &&
            !cfg.at("build_input_shape").is_null()) {
          shape = declared_shape(cfg.at("build_input_shape"), who);
        } else if (shape.empty()) {
          throw model_error(concat(who,
                                   ": the Sequential model declares no input shape (no InputLayer, no "
                                   "batch_input_shape); strata needs it to bind the weights"));
        }
        input.config = json{{"batch_shape", json::array()}, {"name", input.name}};
        for (Index d : shape) input.config["batch_shape"].push_back(d < 0 ? json(nullptr) : json(d));
        spec.inputs.push_back(TensorKey{input.name, 0, 0});
        previous = {spec.inputs.back()};
        spec.layers.push_back(std::move(input));
      }
      ls.calls.push_back(previous);
      previous = {TensorKey{ls.name, 0, 0}};
      spec.layers.push_back(std::move(ls));
    }
    if (spec.layers.size() < 2) throw model_error(concat(who, ": the Sequential model has no layers"));
    spec.outputs = previous;
    return spec;
  }
  if (cls == "Functional" || cls == "Model") {
    spec.sequential = false;
    spec.name = cfg.value("name", "model");
    const json& layers = member(cfg, "layers", who);
    if (!layers.is_array()) throw io_error(concat(who, ": 'layers' must be a list"));
    for (const json& l : layers) {
      LayerSpec ls;
      ls.class_name = string_member(l, "class_name", who);
      ls.registered_name = l.contains("registered_name") && l.at("registered_name").is_string()
                               ? l.at("registered_name").get<std::string>()
                               : std::string();
      ls.config = member(l, "config", who);
      ls.name = string_member(l, "name", who);
      if (is_model_class(ls.class_name)) {
        ls.nested =
            std::make_shared<ModelSpec>(parse_model_config(l, who + ", model '" + ls.name + "'", keras3, depth + 1));
      }
      const json& nodes = member(l, "inbound_nodes", who);
      if (!nodes.is_array()) throw io_error(concat(who, ": layer '", ls.name, "': inbound_nodes must be a list"));
      for (std::size_t n = 0; n < nodes.size(); ++n) {
        const std::string where = who + ", layer '" + ls.name + "'";
        json arguments = json::object();
        ls.calls.push_back(call_inputs(nodes[n], where, arguments));
        // strata builds a layer once, with one set of call arguments, for all its calls.
        if (n > 0 && arguments != ls.call_arguments) {
          throw unsupported_error(concat(where, ": its calls have different arguments (", ls.call_arguments.dump(),
                                         " and ", arguments.dump(), "); strata calls a layer one way"));
        }
        ls.call_arguments = std::move(arguments);
      }
      spec.layers.push_back(std::move(ls));
    }
    spec.inputs = io_refs(member(cfg, "input_layers", who), who);
    spec.outputs = io_refs(member(cfg, "output_layers", who), who);
    for (LayerSpec& ls : spec.layers) {
      if (ls.nested) ls.node_offset = nested_node_offset(spec, ls, keras3);
    }
    return spec;
  }
  throw unsupported_error(
      concat(who, ": the model class '", cls, "' is not supported (Sequential and Functional are)"));
}

inline bool model_input_shape(const ModelSpec& spec, const std::string& who, DeclaredShape& out) {
  if (spec.inputs.size() != 1) return false;
  for (const LayerSpec& ls : spec.layers) {
    if (ls.name == spec.inputs[0].layer) return declared_batch_shape(ls.config, who, out);
  }
  return false;
}

inline std::size_t nested_node_offset(const ModelSpec& spec, const LayerSpec& nested, bool keras3) {
  bool zero = false;
  bool past_last = false;
  auto see = [&](const TensorKey& k) {
    if (k.layer != nested.name) return;
    zero = zero || k.node == 0;
    past_last = past_last || k.node == nested.calls.size();
  };
  for (const LayerSpec& ls : spec.layers) {
    for (const auto& call : ls.calls) {
      for (const TensorKey& k : call) see(k);
    }
  }
  for (const TensorKey& k : spec.outputs) see(k);
  if (zero != past_last) return past_last ? 1 : 0;
  return keras3 && nested.class_name == "Sequential" ? 0 : 1;
}

}  // namespace io::detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_SRC_IO_MODEL_CONFIG_HPP
