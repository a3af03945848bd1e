// SPDX-License-Identifier: MIT
#ifndef STRATA_IO_CONFIG_HPP
#define STRATA_IO_CONFIG_HPP

// Keras model configs (the JSON Keras 2, Keras 3 and TensorFlow.js write) -> strata::Model.
// The file formats differ only in where the config and the weights live; each reader supplies a
// WeightReader that this builder asks for every layer's weights, with the shapes it expects.

#include <cctype>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../layers/activation.hpp"
#include "../layers/bidirectional.hpp"
#include "../layers/dense.hpp"
#include "../layers/embedding.hpp"
#include "../layers/flatten.hpp"
#include "../layers/gru.hpp"
#include "../layers/lstm.hpp"
#include "../layers/masking.hpp"
#include "../layers/reshape.hpp"
#include "../layers/simple_rnn.hpp"
#include "../mask.hpp"
#include "../model.hpp"

namespace strata::io {

using json = nlohmann::json;

/// Which Keras wrote a file; decides version-dependent behaviour (hard_sigmoid).
struct KerasFlavor {
  int major = 3;
  int minor = 0;
  bool tfjs = false;
  bool tf_keras = false;  // "2.x.y-tf": tf.keras
  std::string version;    // as recorded in the file

  /// Keras 3 computes hard_sigmoid as clip(x/6 + 0.5); Keras 1, 2 and tfjs as clip(0.2x + 0.5).
  bool keras3_hard_sigmoid() const { return major >= 3 && !tfjs; }

  /// Defaults of options a config may lack: standalone Keras <= 2.2.x (and files without a
  /// version, which predate it) and tfjs default GRU reset_after to false and the LSTM/GRU
  /// recurrent_activation to hard_sigmoid; tf.keras, Keras >= 2.3 and Keras 3 to true and sigmoid.
  bool pre_2_3_defaults() const { return tfjs || (!tf_keras && (major < 2 || (major == 2 && minor < 3))); }

  /// From a recorded version: "3.6.0", "2.15.0", "tfjs-layers 4.22.0"; empty -> Keras 2 (files
  /// that do not record a version predate Keras 3).
  static KerasFlavor from_version(const std::string& v) {
    KerasFlavor f;
    f.version = v;
    if (v.find("tfjs") != std::string::npos || v.find("TensorFlow.js") != std::string::npos) {
      f.tfjs = true;
      f.major = 2;
      return f;
    }
    std::size_t i = 0;
    while (i < v.size() && !std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
    int major = 0;
    bool any = false;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])) && major < 1000) {
      major = major * 10 + (v[i++] - '0');
      any = true;
    }
    f.major = any ? major : 2;
    if (any && i < v.size() && v[i] == '.') {
      ++i;
      int minor = 0;
      while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])) && minor < 1000)
        minor = minor * 10 + (v[i++] - '0');
      f.minor = minor;
    }
    f.tf_keras = v.find("-tf") != std::string::npos;
    return f;
  }
};

/// What a format reader is asked for: one layer's weights, in Keras get_weights() order.
struct WeightRequest {
  std::string layer_name;
  std::string class_name;
  /// Position among the model's layers that own weights (model.layers order): legacy .h5 binds
  /// by it, as Keras does.
  std::size_t weighted_index = 0;
  /// The layer's group in a Keras 3 .keras weights file, e.g. "layers/lstm/cell/vars".
  std::string keras3_path;
  /// Variable names in order ("kernel", "recurrent_kernel", "bias").
  std::vector<std::string> variable_names;
  /// The shapes the layer needs, from its config and its input shape.
  std::vector<Shape> shapes;
  /// Weights spread over several groups (Bidirectional: forward_layer/cell/vars, then
  /// backward_layer/cell/vars): each group's path and how many of the weights it holds, in
  /// order. Empty: all are in keras3_path.
  std::vector<std::pair<std::string, std::size_t>> keras3_groups;

  std::string describe() const { return "layer '" + layer_name + "' (" + class_name + ")"; }
};

/// One layer's weights as float64 values with their shapes (converted to the model's scalar by
/// the builder).
struct RawWeight {
  Shape shape;
  std::vector<double> values;
};
using WeightReader = std::function<std::vector<RawWeight>(const WeightRequest&)>;

namespace detail {

using strata::detail::concat;

inline std::string where(const std::string& source) { return "strata::load_model(" + source + ")"; }

/// Keras' naming.to_snake_case: "TimeDistributed" -> "time_distributed", "LSTM" -> "lstm".
inline std::string to_snake_case(const std::string& name) {
  // re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
  std::string a;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (i > 0 && std::isupper(c) && i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1]))) {
      a += '_';
    }
    a += name[i];
  }
  // re.sub("([a-z])([A-Z])", r"\1_\2", ...)
  std::string b;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto c = static_cast<unsigned char>(a[i]);
    if (i > 0 && std::isupper(c) && std::islower(static_cast<unsigned char>(a[i - 1]))) b += '_';
    b += static_cast<char>(std::tolower(c));
  }
  return b;
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

struct LayerSpec {
  std::string class_name;
  std::string name;
  json config;
  /// Per call of the layer: the tensors it takes (main inputs, then initial states).
  std::vector<std::vector<TensorKey>> calls;
};

struct ModelSpec {
  std::string name;
  bool sequential = true;
  std::vector<LayerSpec> layers;  // model.layers order, InputLayers included
  std::vector<TensorKey> inputs;
  std::vector<TensorKey> outputs;
};

inline const json& member(const json& j, const char* key, const std::string& who) {
  if (!j.is_object() || !j.contains(key)) throw io_error(concat(who, ": the config has no '", key, "'"));
  return j.at(key);
}

inline std::string string_member(const json& j, const char* key, const std::string& who) {
  const json& v = member(j, key, who);
  if (!v.is_string()) throw io_error(concat(who, ": '", key, "' must be a string; got ", v.dump()));
  return v.get<std::string>();
}

inline bool bool_option(const json& cfg, const char* key, bool fallback, const std::string& who) {
  if (!cfg.contains(key) || cfg.at(key).is_null()) return fallback;
  if (!cfg.at(key).is_boolean())
    throw io_error(concat(who, ": option '", key, "' must be true or false; got ", cfg.at(key).dump()));
  return cfg.at(key).get<bool>();
}

inline Index int_option(const json& cfg, const char* key, const std::string& who, Index lo = 1,
                        Index hi = Index(1) << 40) {
  const json& v = member(cfg, key, who);
  if (!v.is_number_integer() &&
      !(v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<Index>(v.get<double>())))) {
    throw io_error(concat(who, ": option '", key, "' must be an integer; got ", v.dump()));
  }
  const double d = v.get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    throw value_error(concat(who, ": option '", key, "' must be between ", lo, " and ", hi, "; got ", v.dump()));
  }
  return static_cast<Index>(d);
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

/// Keras 2 refs ["x", 0, 0, {...}] and Keras 3 {"class_name": "__keras_tensor__", "config":
/// {"keras_history": ["x", 0, 0]}}; nested lists are flattened.
inline void collect_refs(const json& j, std::vector<TensorKey>& out, const std::string& who) {
  if (j.is_object()) {
    if (j.value("class_name", "") == "__keras_tensor__") {
      collect_refs(member(member(j, "config", who), "keras_history", who), out, who);
      return;
    }
    throw io_error(concat(who, ": unexpected object in a layer's inputs: ", j.dump().substr(0, 200)));
  }
  if (!j.is_array()) throw io_error(concat(who, ": unexpected value in a layer's inputs: ", j.dump().substr(0, 200)));
  if (j.size() >= 3 && j[0].is_string()) {
    if (!j[1].is_number_unsigned() || !j[2].is_number_unsigned()) {
      throw io_error(concat(who, ": a tensor reference must be [layer, node, index]; got ", j.dump().substr(0, 200)));
    }
    out.push_back(TensorKey{j[0].get<std::string>(), j[1].get<std::size_t>(), j[2].get<std::size_t>()});
    if (j.size() >= 4 && j[3].is_object()) {
      // Keras 2 call kwargs; tensors among them (initial_state) are further inputs.
      for (const auto& [k, v] : j[3].items()) {
        if (k == "initial_state" || k == "constants") collect_refs(v, out, who);
        if (k == "mask" && !v.is_null()) throw value_error(concat(who, ": explicit mask inputs are not supported"));
      }
    }
    return;
  }
  for (const json& e : j) collect_refs(e, out, who);
}

/// One call's inputs from an inbound_nodes entry (Keras 2 list or Keras 3 {args, kwargs}).
inline std::vector<TensorKey> call_inputs(const json& node, const std::string& who) {
  std::vector<TensorKey> refs;
  if (node.is_object()) {
    collect_refs(member(node, "args", who), refs, who);
    if (node.contains("kwargs") && node.at("kwargs").is_object()) {
      for (const auto& [k, v] : node.at("kwargs").items()) {
        if (k == "initial_state") {
          collect_refs(v, refs, who);
        } else if (k == "mask" && !v.is_null()) {
          throw value_error(concat(who, ": explicit mask inputs are not supported"));
        } else if (v.is_object() && v.value("class_name", "") == "__keras_tensor__") {
          throw value_error(concat(who, ": tensor argument '", k, "' is not supported"));
        }
      }
    }
  } else {
    collect_refs(node, refs, who);
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

/// {"class_name": "Sequential"|"Functional"|"Model", "config": ...} -> ModelSpec.
inline ModelSpec parse_model_config(const json& model, const std::string& who) {
  ModelSpec spec;
  const std::string cls = string_member(model, "class_name", who);
  const json& cfg = member(model, "config", who);
  if (cls == "Sequential") {
    const json& layers = cfg.is_array() ? cfg : member(cfg, "layers", who);  // Keras <= 2.1: a bare list
    if (cfg.is_object()) spec.name = cfg.value("name", "sequential");
    if (!layers.is_array()) throw io_error(concat(who, ": Sequential 'layers' must be a list"));
    spec.sequential = true;
    std::vector<TensorKey> previous;
    for (const json& l : layers) {
      LayerSpec ls;
      ls.class_name = string_member(l, "class_name", who);
      ls.config = member(l, "config", who);
      ls.name = ls.config.is_object() && ls.config.contains("name") && ls.config.at("name").is_string()
                    ? ls.config.at("name").get<std::string>()
                    : ls.class_name + "_" + std::to_string(spec.layers.size());
      if (ls.class_name == "InputLayer") {
        if (!spec.layers.empty()) throw value_error(concat(who, ": an InputLayer may only come first in a Sequential"));
        spec.inputs.push_back(TensorKey{ls.name, 0, 0});
        previous = {spec.inputs.back()};
        spec.layers.push_back(std::move(ls));
        continue;
      }
      if (previous.empty()) {
        // No InputLayer: the first layer declares the input shape, or build_input_shape does.
        DeclaredShape shape;
        LayerSpec input;
        input.class_name = "InputLayer";
        input.name = ls.name + "_input";
        if (!declared_batch_shape(ls.config, who, shape) && cfg.is_object() && cfg.contains("build_input_shape") &&
            !cfg.at("build_input_shape").is_null()) {
          shape = declared_shape(cfg.at("build_input_shape"), who);
        } else if (shape.empty()) {
          throw value_error(concat(who,
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
    if (spec.layers.size() < 2) throw value_error(concat(who, ": the Sequential model has no layers"));
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
      ls.config = member(l, "config", who);
      ls.name = string_member(l, "name", who);
      const json& nodes = member(l, "inbound_nodes", who);
      if (!nodes.is_array()) throw io_error(concat(who, ": layer '", ls.name, "': inbound_nodes must be a list"));
      for (const json& node : nodes) ls.calls.push_back(call_inputs(node, who + ", layer '" + ls.name + "'"));
      spec.layers.push_back(std::move(ls));
    }
    spec.inputs = io_refs(member(cfg, "input_layers", who), who);
    spec.outputs = io_refs(member(cfg, "output_layers", who), who);
    return spec;
  }
  throw value_error(concat(who, ": the model class '", cls, "' is not supported (Sequential and Functional are)"));
}

/// An activation option by name, mapped for the file's Keras version.
inline std::string activation_option(const json& cfg, const char* key, const char* fallback, const KerasFlavor& flavor,
                                     const std::string& who) {
  std::string name = fallback;
  if (cfg.contains(key) && !cfg.at(key).is_null()) {
    const json& v = cfg.at(key);
    if (v.is_string()) {
      name = v.get<std::string>();
    } else if (v.is_object() && v.contains("config") && v.at("config").is_string()) {
      name = v.at("config").get<std::string>();  // {"class_name": "function", "config": "relu"}
    } else {
      throw value_error(concat(who, ": ", key, " ", v.dump().substr(0, 200),
                               " is not supported (only built-in "
                               "activations by name are)"));
    }
  }
  if (name == "hard_sigmoid" && !flavor.keras3_hard_sigmoid()) return "hard_sigmoid_keras2";
  if (name == "None" || name.empty()) return "linear";
  return name;
}

/// Options strata ignores at inference, or cannot honour: the latter are errors.
inline void reject_options(const json& cfg, const std::string& who) {
  auto active = [&](const char* key) {
    if (!cfg.contains(key)) return false;
    const json& v = cfg.at(key);
    return !(v.is_null() || (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v.get<double>() == 0));
  };
  for (const char* key : {"lora_rank", "quantization_config", "time_major"}) {
    if (active(key)) throw value_error(concat(who, ": option '", key, "' = ", cfg.at(key).dump(), " is not supported"));
  }
}

template <class T>
Weights<T> to_weights(const std::vector<RawWeight>& raw) {
  Weights<T> w;
  for (const RawWeight& r : raw) {
    AnyTensor<T> t = AnyTensor<T>::uninitialized(r.shape);
    if (static_cast<Index>(r.values.size()) != t.size()) {
      throw io_error("strata::load_model: a weight's value count does not match its shape " + r.shape.to_string());
    }
    for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(r.values[static_cast<std::size_t>(i)]);
    w.push_back(std::move(t));
  }
  return w;
}

/// Checks what a reader returned against the request.
inline void check_raw(const std::vector<RawWeight>& raw, const WeightRequest& req, const std::string& who) {
  if (raw.size() != req.shapes.size()) {
    throw shape_error(
        concat(who, ": ", req.describe(), " needs ", req.shapes.size(), " weight arrays; the file has ", raw.size()));
  }
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i].shape != req.shapes[i]) {
      throw shape_error(concat(who, ": ", req.describe(), ": weight ", i, " (", req.variable_names[i],
                               ") must have shape ", req.shapes[i].to_string(), "; the file has ",
                               raw[i].shape.to_string()));
    }
  }
}

template <class L>
struct is_bidirectional : std::false_type {};
template <class L>
struct is_bidirectional<Bidirectional<L>> : std::true_type {};

/// A layer built from its config: the runtime layer and how to bind its weights.
template <class T>
struct Built {
  std::shared_ptr<ModelLayer<T>> layer;
  std::size_t output_count = 1;
};

/// Builds the layers; calls `read` for each layer with weights.
template <class T>
class Builder {
 public:
  Builder(KerasFlavor flavor, WeightReader read, std::string who)
      : flavor_(std::move(flavor)), read_(std::move(read)), who_(std::move(who)) {}

  Model<T> build(const ModelSpec& spec) {
    Model<T> model(spec.name, spec.sequential ? "Sequential" : "Functional");
    // .keras container keys, and the weighted-layer index, both in model.layers order.
    std::map<std::string, int> class_counter;
    std::vector<std::string> keys(spec.layers.size());
    std::vector<std::size_t> weighted(spec.layers.size(), 0);
    std::size_t n_weighted = 0;
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
      const LayerSpec& ls = spec.layers[i];
      if (spec.sequential && ls.class_name == "InputLayer") continue;  // not in Sequential.layers
      const std::string base = to_snake_case(ls.class_name);
      const int k = class_counter[base]++;
      keys[i] = "layers/" + base + (k == 0 ? "" : "_" + std::to_string(k));
      weighted[i] = n_weighted;
      if (has_weights(ls.class_name, ls.config)) ++n_weighted;
    }

    std::map<TensorKey, typename Model<T>::TensorRef> tensors;
    std::map<TensorKey, Shape> shapes;    // None as 1, for the weight shapes
    std::map<TensorKey, int> mask_ranks;  // rank of each tensor's mask (Keras _keras_mask), 0: none
    // Inputs first, in the declared order.
    for (const TensorKey& in : spec.inputs) {
      const LayerSpec* ls = find(spec, in.layer);
      if (ls == nullptr || ls->class_name != "InputLayer" || in.node != 0 || in.index != 0) {
        throw io_error(concat(who_, ": model input ", in.str(), " is not an InputLayer"));
      }
      DeclaredShape shape;
      if (!declared_batch_shape(ls->config, who_ + ", layer '" + ls->name + "'", shape)) {
        throw io_error(concat(who_, ": InputLayer '", ls->name, "' declares no shape"));
      }
      tensors[in] = model.add_input(ls->name, shape);
      Shape concrete;
      for (Index d : shape) concrete.push_back(d < 0 ? 1 : d);
      shapes[in] = concrete;
      mask_ranks[in] = 0;
    }
    // Layer calls, each once its inputs exist (configs list layers in a topological order, but
    // a shared layer's later calls may come after other layers).
    std::vector<std::shared_ptr<ModelLayer<T>>> layer_objects(spec.layers.size());
    std::vector<std::size_t> next_call(spec.layers.size(), 0);
    bool progress = true;
    while (progress) {
      progress = false;
      for (std::size_t i = 0; i < spec.layers.size(); ++i) {
        const LayerSpec& ls = spec.layers[i];
        if (ls.class_name == "InputLayer") continue;
        while (next_call[i] < ls.calls.size()) {
          const auto& call = ls.calls[next_call[i]];
          bool ready = !call.empty();
          for (const TensorKey& k : call) ready = ready && tensors.count(k) > 0;
          if (!ready) break;
          std::vector<Shape> in_shapes;
          std::vector<int> in_masks;
          std::vector<typename Model<T>::TensorRef> refs;
          for (const TensorKey& k : call) {
            in_shapes.push_back(shapes.at(k));
            in_masks.push_back(mask_ranks.at(k));
            refs.push_back(tensors.at(k));
          }
          const std::string who = who_ + ", layer '" + ls.name + "' (" + ls.class_name + ")";
          if (!layer_objects[i]) {
            layer_objects[i] =
                make_layer(ls.class_name, ls.name, ls.config, in_shapes, keys[i], weighted[i], who, ls.name);
          }
          const std::vector<Shape> out = layer_objects[i]->output_shapes(in_shapes);
          const std::vector<int> out_masks = output_mask_ranks(ls, in_shapes, in_masks, out.size(), who);
          const std::size_t node = model.add_node(layer_objects[i], refs, out.size());
          for (std::size_t k = 0; k < out.size(); ++k) {
            const TensorKey key{ls.name, next_call[i], k};
            tensors[key] = typename Model<T>::TensorRef{node, k};
            shapes[key] = out[k];
            mask_ranks[key] = out_masks[k];
          }
          ++next_call[i];
          progress = true;
        }
      }
    }
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
      const LayerSpec& ls = spec.layers[i];
      if (ls.class_name != "InputLayer" && next_call[i] < ls.calls.size()) {
        std::string missing;
        for (const TensorKey& k : ls.calls[next_call[i]]) {
          if (tensors.count(k) == 0) missing += (missing.empty() ? "" : ", ") + k.str();
        }
        throw io_error(concat(who_, ": layer '", ls.name, "' takes tensors no layer produces: ",
                              missing.empty() ? std::string("(none given)") : missing));
      }
    }
    std::vector<typename Model<T>::TensorRef> outs;
    for (const TensorKey& k : spec.outputs) {
      if (tensors.count(k) == 0) throw io_error(concat(who_, ": model output ", k.str(), " does not exist"));
      outs.push_back(tensors.at(k));
    }
    model.set_outputs(outs);
    return model;
  }

 private:
  static const LayerSpec* find(const ModelSpec& spec, const std::string& name) {
    for (const LayerSpec& ls : spec.layers) {
      if (ls.name == name) return &ls;
    }
    return nullptr;
  }

  static bool has_weights(const std::string& cls, const json& cfg) {
    if (cls == "Dense" || cls == "Embedding" || is_recurrent(cls)) return true;
    if (cls == "TimeDistributed" && cfg.is_object() && cfg.contains("layer") && cfg.at("layer").is_object()) {
      const json& inner = cfg.at("layer");
      return has_weights(inner.value("class_name", ""), inner.contains("config") ? inner.at("config") : json());
    }
    return false;
  }

  /// batch * time, which TimeDistributed hands its inner layer as one batch; declared sizes can be
  /// absurd, so the product is checked.
  static Index merged_extent(const Shape& s, const std::string& who) {
    if (s[1] != 0 && s[0] > std::numeric_limits<Index>::max() / s[1]) {
      throw shape_error(concat(who, ": shape ", s.to_string(), " has too many elements"));
    }
    return s[0] * s[1];
  }

  /// A single-input layer's input.
  static const Shape& single(const std::vector<Shape>& in, const std::string& who) {
    if (in.size() != 1) throw value_error(concat(who, ": takes one input; the model gives it ", in.size()));
    return in[0];
  }

  /// `owner` is the outermost layer's name: TF.js and legacy .h5 files store a wrapped layer's
  /// weights under the wrapper's name (time_distributed/kernel).
  std::shared_ptr<ModelLayer<T>> make_layer(const std::string& cls, const std::string& name, const json& cfg,
                                            const std::vector<Shape>& in, const std::string& key,
                                            std::size_t weighted_index, const std::string& who,
                                            const std::string& owner) {
    if (!cfg.is_object()) throw io_error(concat(who, ": the layer config must be an object"));
    reject_options(cfg, who);
    auto layer = std::make_shared<ModelLayer<T>>();
    layer->name = name;
    layer->class_name = cls;
    if (cls == "TimeDistributed") {
      const Shape& x = single(in, who);
      if (x.rank() < 3) {
        throw shape_error(concat(who, ": input must have rank >= 3 (batch, time, ...); got ", x.to_string()));
      }
      const json& inner = member(cfg, "layer", who);
      const std::string inner_cls = string_member(inner, "class_name", who);
      const json& inner_cfg = member(inner, "config", who);
      const std::string inner_name =
          inner_cfg.is_object() && inner_cfg.contains("name") && inner_cfg.at("name").is_string()
              ? inner_cfg.at("name").get<std::string>()
              : inner_cls;
      if (inner_cls == "Masking" || inner_cls == "Embedding") {
        throw value_error(concat(who, ": ", inner_cls, " inside TimeDistributed is not supported"));
      }
      Shape slice;
      slice.push_back(merged_extent(x, who));
      for (int d = 2; d < x.rank(); ++d) slice.push_back(x[d]);
      Unit unit = make_unit(inner_cls, inner_name, inner_cfg, slice, key + "/layer/", weighted_index,
                            who + " wrapping '" + inner_name + "' (" + inner_cls + ")", /*wrapped=*/true, owner);
      if (unit.stateful) {
        throw value_error(concat(who,
                                 ": wraps a stateful layer, whose state across slices is ill-defined; strata "
                                 "does not support it"));
      }
      auto merge = [td_who = who](const Shape& s) {
        Shape m;
        m.push_back(merged_extent(s, td_who));
        for (int d = 2; d < s.rank(); ++d) m.push_back(s[d]);
        return m;
      };
      auto split = [](const Shape& s, Index batch, Index time) {
        Shape r;
        r.push_back(batch);
        r.push_back(time);
        for (int d = 1; d < s.rank(); ++d) r.push_back(s[d]);
        return r;
      };
      const std::string td_who = who;
      auto inner_shapes = unit.output_shapes;
      layer->output_shapes = [inner_shapes, merge, split, td_who](const std::vector<Shape>& s) {
        const Shape& x = single(s, td_who);
        if (x.rank() < 3) {
          throw shape_error(concat(td_who, ": input must have rank >= 3 (batch, time, ...); got ", x.to_string()));
        }
        auto out = inner_shapes({merge(x)});
        for (Shape& o : out) o = split(o, x[0], x[1]);
        return out;
      };
      auto inner_call = unit.call;
      layer->call = [inner_call, merge, split, td_who](const std::vector<AnyTensor<T>>& args) {
        if (args.size() != 1) throw value_error(concat(td_who, ": takes one input; got ", args.size()));
        const Shape x = args[0].shape();
        if (x.rank() < 3) {
          throw shape_error(concat(td_who, ": input must have rank >= 3 (batch, time, ...); got ", x.to_string()));
        }
        // Merging batch and time is a reshape of row-major data: one call at full speed.
        AnyTensor<T> merged = AnyTensor<T>::uninitialized(merge(x));
        std::copy(args[0].data(), args[0].data() + args[0].size(), merged.data());
        auto out = inner_call({merged});
        for (AnyTensor<T>& o : out) {
          AnyTensor<T> r = AnyTensor<T>::uninitialized(split(o.shape(), x[0], x[1]));
          std::copy(o.data(), o.data() + o.size(), r.data());
          o = std::move(r);
        }
        return out;
      };
      layer->param_count = unit.param_count;
      layer->mask_rule = MaskRule::pass;  // Keras and tfjs pass the input mask on
      return layer;
    }
    if (is_dropout_like(cls)) {
      single(in, who);
      layer->call = [](const std::vector<AnyTensor<T>>& a) { return std::vector<AnyTensor<T>>{a.at(0)}; };
      layer->output_shapes = [who](const std::vector<Shape>& s) { return std::vector<Shape>{single(s, who)}; };
      layer->mask_rule = MaskRule::pass;
      return layer;
    }
    if (is_recurrent(cls)) {
      const std::size_t states = state_inputs(cls, cfg, who);
      if (in.empty() || (in.size() != 1 && in.size() != 1 + states)) {
        throw value_error(concat(who, ": takes an input and optionally ", states, " initial state tensors; the model ",
                                 "gives it ", in.size(), " tensors"));
      }
    } else {
      single(in, who);
    }
    Unit unit = make_unit(cls, name, cfg, in[0], key + "/", weighted_index, who, /*wrapped=*/false, owner);
    layer->call = unit.call;
    layer->output_shapes = unit.output_shapes;
    layer->reset_states = unit.reset_states;
    layer->param_count = unit.param_count;
    if (unit.call_masked) {
      layer->call_masked = [f = unit.call_masked](const std::vector<AnyTensor<T>>& a, const std::vector<MaskPtr>& m) {
        return f(a, m.empty() ? MaskPtr() : m[0]);
      };
    }
    // Keras supports_masking: Dense and Activation pass the mask on; Flatten and Reshape do not.
    layer->mask_rule = cls == "Dense" || cls == "Activation" ? MaskRule::pass : MaskRule::drop;
    return layer;
  }

  static bool is_dropout_like(const std::string& cls) {
    return cls == "Dropout" || cls == "SpatialDropout1D" || cls == "GaussianNoise" || cls == "GaussianDropout" ||
           cls == "ActivityRegularization";
  }
  static bool is_recurrent(const std::string& cls) {
    return cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN" || cls == "Bidirectional";
  }
  /// Whether a layer config is, or wraps, a recurrent layer (which would take a mask).
  static bool has_recurrent(const std::string& cls, const json& cfg) {
    if (is_recurrent(cls)) return true;
    if (cls == "TimeDistributed" && cfg.is_object() && cfg.contains("layer") && cfg.at("layer").is_object()) {
      const json& inner = cfg.at("layer");
      return has_recurrent(inner.value("class_name", ""), inner.contains("config") ? inner.at("config") : json());
    }
    return false;
  }
  /// The wrapped layer's config of a Bidirectional.
  static const json& bidirectional_inner(const json& cfg, const std::string& who) {
    return member(member(cfg, "layer", who), "config", who);
  }
  /// Number of initial-state tensors a recurrent layer takes (and gives with return_state).
  static std::size_t state_inputs(const std::string& cls, const json& cfg, const std::string& who) {
    if (cls == "LSTM") return 2;
    if (cls == "Bidirectional") {
      return 2 * (string_member(member(cfg, "layer", who), "class_name", who) == "LSTM" ? 2 : 1);
    }
    return 1;
  }

  /// The ranks of the masks of a layer call's outputs (0 = none) from its inputs' (Keras
  /// compute_mask), checked before anything runs: strata's recurrent layers take (batch, time)
  /// masks only, and not inside TimeDistributed.
  static std::vector<int> output_mask_ranks(const LayerSpec& ls, const std::vector<Shape>& in,
                                            const std::vector<int>& in_masks, std::size_t outputs,
                                            const std::string& who) {
    const std::string& cls = ls.class_name;
    const json& cfg = ls.config;
    const int mask = in_masks.empty() ? 0 : in_masks[0];
    std::vector<int> out(outputs, 0);
    if (cls == "Masking") {
      out[0] = in[0].rank() - 1;
    } else if (cls == "Embedding") {
      out[0] = bool_option(cfg, "mask_zero", false, who) ? in[0].rank() : 0;
    } else if (is_recurrent(cls)) {
      if (mask != 0 && mask != 2) {
        throw value_error(concat(who, ": receives a mask of rank ", mask,
                                 "; recurrent layers take (batch, time) masks, which Masking and "
                                 "Embedding(mask_zero) make from (batch, time, ...) inputs"));
      }
      const json& rnn_cfg = cls == "Bidirectional" ? bidirectional_inner(cfg, who) : cfg;
      const bool none_merge = cls == "Bidirectional" && cfg.contains("merge_mode") && cfg.at("merge_mode").is_null();
      if (mask == 2 && bool_option(rnn_cfg, "return_sequences", false, who)) {
        for (std::size_t k = 0; k < (none_merge ? 2u : 1u) && k < outputs; ++k) out[k] = 2;
      }
    } else if (cls == "TimeDistributed" || cls == "Dense" || cls == "Activation" || is_dropout_like(cls)) {
      if (mask != 0 && has_recurrent(cls, cfg)) {
        throw value_error(concat(who,
                                 ": receives a mask, which would have to reach the recurrent layer it wraps; "
                                 "masks inside TimeDistributed are not supported"));
      }
      std::fill(out.begin(), out.end(), mask);
    }
    return out;
  }

  /// A layer that can also sit inside TimeDistributed.
  struct Unit {
    std::function<std::vector<AnyTensor<T>>(const std::vector<AnyTensor<T>>&)> call;
    /// Mask-aware call (layers that make or take masks): the first input's mask in.
    std::function<MaskedOutputs<T>(const std::vector<AnyTensor<T>>&, const MaskPtr&)> call_masked;
    std::function<std::vector<Shape>(const std::vector<Shape>&)> output_shapes;
    std::function<void()> reset_states;
    Index param_count = 0;
    bool stateful = false;
  };

  Weights<T> fetch(WeightRequest req, const std::string& who) {
    const std::vector<RawWeight> raw = read_(req);
    check_raw(raw, req, who);
    return to_weights<T>(raw);
  }

  /// A recurrent layer's options, read from its config.
  struct RnnSpec {
    std::string cls;
    Index units = 0;
    bool use_bias = true;
    bool return_sequences = false;
    bool return_state = false;
    bool go_backwards = false;
    bool stateful = false;
    bool zero_output_for_mask = false;
    bool reset_after = false;
    std::string activation;
    std::string recurrent_activation;
  };

  RnnSpec rnn_spec(const std::string& cls, const json& cfg, const std::string& who) const {
    if (!cfg.is_object()) throw io_error(concat(who, ": the layer config must be an object"));
    reject_options(cfg, who);
    RnnSpec s;
    s.cls = cls;
    s.units = int_option(cfg, "units", who);
    s.use_bias = bool_option(cfg, "use_bias", true, who);
    s.return_sequences = bool_option(cfg, "return_sequences", false, who);
    s.return_state = bool_option(cfg, "return_state", false, who);
    s.go_backwards = bool_option(cfg, "go_backwards", false, who);
    s.stateful = bool_option(cfg, "stateful", false, who);
    s.zero_output_for_mask = bool_option(cfg, "zero_output_for_mask", false, who);
    s.activation = activation_option(cfg, "activation", "tanh", flavor_, who);
    if (cls != "SimpleRNN") {
      // Keras <= 2.2 and tfjs default to hard_sigmoid; tf.keras, Keras >= 2.3 and 3 to sigmoid.
      s.recurrent_activation = activation_option(cfg, "recurrent_activation",
                                                 flavor_.pre_2_3_defaults() ? "hard_sigmoid" : "sigmoid", flavor_, who);
    }
    if (cls == "GRU") s.reset_after = bool_option(cfg, "reset_after", !flavor_.pre_2_3_defaults(), who);
    return s;
  }

  template <class L>
  static L make_rnn(const RnnSpec& s, const std::string& name) {
    auto common = [&](auto options) {
      options.activation(s.activation)
          .use_bias(s.use_bias)
          .return_sequences(s.return_sequences)
          .return_state(s.return_state)
          .go_backwards(s.go_backwards)
          .stateful(s.stateful)
          .zero_output_for_mask(s.zero_output_for_mask)
          .name(name);
      return options;
    };
    if constexpr (std::is_same_v<L, LSTM<T>>) {
      LSTMOptions o = common(LSTMOptions());
      o.recurrent_activation(s.recurrent_activation);
      return L(s.units, o);
    } else if constexpr (std::is_same_v<L, GRU<T>>) {
      GRUOptions o = common(GRUOptions());
      o.recurrent_activation(s.recurrent_activation).reset_after(s.reset_after);
      return L(s.units, o);
    } else {
      return L(s.units, common(SimpleRNNOptions()));
    }
  }

  /// Variable names and shapes of a recurrent layer (Keras get_weights() order).
  static void rnn_weights(const RnnSpec& s, Index features, const std::string& prefix, std::vector<std::string>& names,
                          std::vector<Shape>& shapes) {
    const Index g = (s.cls == "LSTM" ? 4 : s.cls == "GRU" ? 3 : 1) * s.units;
    names.push_back(prefix + "kernel");
    shapes.push_back(Shape{features, g});
    names.push_back(prefix + "recurrent_kernel");
    shapes.push_back(Shape{s.units, g});
    if (!s.use_bias) return;
    if (s.cls == "GRU") {
      names.push_back(prefix + (s.reset_after ? "bias (the config has reset_after=true: input and recurrent biases, "
                                                "(2, 3*units))"
                                              : "bias (the config has reset_after=false: one bias, (3*units,))"));
      shapes.push_back(s.reset_after ? Shape{2, g} : Shape{g});
      return;
    }
    names.push_back(prefix + "bias");
    shapes.push_back(Shape{g});
  }

  template <class S>
  static S state_of(const std::vector<AnyTensor<T>>& a, std::size_t first) {
    if constexpr (std::is_same_v<S, LSTMState<T>>) {
      return S{a[first].template get<2>(), a[first + 1].template get<2>()};
    } else {
      return a[first].template get<2>();
    }
  }

  /// Keras' output list of a recurrent layer called on a[0], with initial states a[1...] if given.
  template <class L>
  static std::vector<AnyTensor<T>> call_rnn(const L& l, const std::vector<AnyTensor<T>>& a, const Mask* mask) {
    if constexpr (is_bidirectional<L>::value) {
      using S = typename L::State;
      if (a.size() == 1) return l.outputs(a[0], nullptr, nullptr, mask);
      const std::size_t half = (a.size() - 1) / 2;
      const S f = state_of<S>(a, 1);
      const S b = state_of<S>(a, 1 + half);
      return l.outputs(a[0], &f, &b, mask);
    } else if constexpr (std::is_same_v<L, LSTM<T>>) {
      if (a.size() == 1) return l.outputs(a[0], nullptr, mask);
      const LSTMState<T> s = state_of<LSTMState<T>>(a, 1);
      return l.outputs(a[0], &s, mask);
    } else {
      if (a.size() == 1) return l.outputs(a[0], nullptr, mask);
      const Tensor<T, 2> h = a[1].template get<2>();
      return l.outputs(a[0], &h, mask);
    }
  }

  /// A recurrent layer (LSTM, GRU, SimpleRNN or Bidirectional of one) as a unit: the input, then
  /// optionally `states` initial states; outputs the `main` output(s) (two for a Bidirectional
  /// without merge), then with return_state its final states.
  template <class L>
  static Unit rnn_unit(std::shared_ptr<L> rnn, std::size_t states, std::size_t main, Index units,
                       const std::string& who) {
    Unit unit;
    unit.stateful = rnn->carries_state();
    unit.call_masked = [rnn, states, main, units, who](const std::vector<AnyTensor<T>>& a, const MaskPtr& mask) {
      if (a.empty() || (a.size() != 1 && a.size() != 1 + states)) {
        throw value_error(concat(who, ": takes an input and optionally ", states, " initial state tensors; got ",
                                 a.size(), " tensors"));
      }
      for (std::size_t k = 1; k < a.size(); ++k) {
        if (a[k].rank() != 2) {
          throw shape_error(concat(who, ": initial state ", k - 1, " must have shape (batch, ", units, "); got ",
                                   a[k].shape().to_string()));
        }
      }
      if (mask) {
        const Shape x = a[0].shape();
        if (x.rank() != 3 || mask->dimension(0) != x[0] || mask->dimension(1) != x[1]) {
          throw shape_error(concat(who, ": the mask it receives has shape (", mask->dimension(0), ", ",
                                   mask->dimension(1), "); it must be (batch, time) of its input ", x.to_string()));
        }
      }
      MaskedOutputs<T> out;
      out.tensors = call_rnn(*rnn, a, mask.get());
      out.masks.resize(out.tensors.size());
      // Keras compute_mask: the input mask on the output sequence(s), none on the states.
      if (rnn->compute_mask(mask.get()) != nullptr) {
        for (std::size_t k = 0; k < main && k < out.masks.size(); ++k) out.masks[k] = mask;
      }
      return out;
    };
    unit.call = [f = unit.call_masked](const std::vector<AnyTensor<T>>& a) { return f(a, MaskPtr()).tensors; };
    unit.output_shapes = [rnn, states, main, units, who](const std::vector<Shape>& s) {
      if (s.empty() || (s.size() != 1 && s.size() != 1 + states)) {
        throw value_error(concat(who, ": takes an input and optionally ", states, " initial state tensors; got ",
                                 s.size(), " tensors"));
      }
      const Shape out = rnn->compute_output_shape(s[0]);
      const Shape state{s[0][0], units};
      for (std::size_t k = 1; k < s.size(); ++k) {
        if (s[k] != state) {
          throw shape_error(concat(who, ": initial state ", k - 1, " must have shape ", state.to_string(),
                                   "; the model gives ", s[k].to_string()));
        }
      }
      std::vector<Shape> result(main, out);
      if (rnn->return_state()) result.insert(result.end(), states, state);
      return result;
    };
    unit.reset_states = [rnn] { rnn->reset_states(); };
    unit.param_count = rnn->count_params();
    return unit;
  }

  template <class L>
  Unit single_rnn_unit(const RnnSpec& spec, const std::string& name, Index features, const std::string& path,
                       std::size_t weighted_index, const std::string& who, const std::string& owner) {
    auto rnn = std::make_shared<L>(make_rnn<L>(spec, name));
    WeightRequest req{owner, spec.cls, weighted_index, path + "cell/vars", {}, {}, {}};
    rnn_weights(spec, features, "", req.variable_names, req.shapes);
    rnn->set_weights(fetch(req, who));
    return rnn_unit(rnn, spec.cls == "LSTM" ? 2 : 1, 1, spec.units, who);
  }

  static std::string strip_prefix(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0 ? s.substr(prefix.size()) : s;
  }

  /// Keras Bidirectional: `layer` is the forward layer; Keras 3 also writes `backward_layer`
  /// (tfjs and Keras 2 only when one was given), else the backward layer is `layer` with
  /// go_backwards flipped.
  template <class L>
  Unit bidirectional_unit(const std::string& name, const json& cfg, const std::string& inner_cls, const Shape& x,
                          const std::string& path, std::size_t weighted_index, const std::string& who,
                          const std::string& owner) {
    const json& inner_cfg = bidirectional_inner(cfg, who);
    const std::string inner_name = inner_cfg.value("name", to_snake_case(inner_cls));
    const std::string fwho = who + ", forward layer";
    const RnnSpec fspec = rnn_spec(inner_cls, inner_cfg, fwho);
    MergeMode mode = MergeMode::concat;
    if (cfg.contains("merge_mode")) {
      const json& m = cfg.at("merge_mode");
      if (m.is_null()) {
        mode = MergeMode::none;
      } else if (m.is_string() && (m == "concat" || m == "sum" || m == "mul" || m == "ave")) {
        mode = BidirectionalOptions().merge_mode(m.get<std::string>()).merge_mode();
      } else {
        throw value_error(concat(who, ": merge_mode ", m.dump().substr(0, 100),
                                 " is not supported (concat, sum, mul, ave or null are)"));
      }
    }
    const BidirectionalOptions options = BidirectionalOptions().merge_mode(mode).name(name);
    std::shared_ptr<Bidirectional<L>> bidi;
    RnnSpec bspec = fspec;
    bspec.go_backwards = !fspec.go_backwards;
    std::string backward_name = "backward_" + strip_prefix(inner_name, "forward_");
    if (cfg.contains("backward_layer") && !cfg.at("backward_layer").is_null()) {
      const json& back = cfg.at("backward_layer");
      const std::string back_cls = string_member(back, "class_name", who);
      if (back_cls != inner_cls) {
        throw value_error(concat(who, ": backward_layer is a ", back_cls, " and layer a ", inner_cls,
                                 "; strata needs both of one class"));
      }
      const json& back_cfg = member(back, "config", who);
      const std::string bwho = who + ", backward layer";
      bspec = rnn_spec(back_cls, back_cfg, bwho);
      if (bspec.go_backwards == fspec.go_backwards) {
        throw value_error(
            concat(who, ": backward_layer must have the opposite go_backwards of layer; both have go_backwards=",
                   fspec.go_backwards ? "true" : "false"));
      }
      if (bspec.return_sequences != fspec.return_sequences || bspec.return_state != fspec.return_state ||
          bspec.stateful != fspec.stateful) {
        throw value_error(
            concat(who, ": backward_layer must have the return_sequences, return_state and stateful ", "of layer"));
      }
      if (bspec.units != fspec.units) {
        throw value_error(concat(who, ": backward_layer has ", bspec.units, " units and layer ", fspec.units,
                                 "; strata needs the same"));
      }
      backward_name = back_cfg.value("name", backward_name);
      bidi = std::make_shared<Bidirectional<L>>(make_rnn<L>(fspec, inner_name), make_rnn<L>(bspec, backward_name),
                                                options);
    } else {
      bidi = std::make_shared<Bidirectional<L>>(make_rnn<L>(fspec, inner_name), options);
    }
    bidi->forward_layer().set_name("forward_" + strip_prefix(inner_name, "forward_"));
    bidi->backward_layer().set_name(backward_name);
    // Keras 3: <path>/forward_layer/cell/vars and <path>/backward_layer/cell/vars; legacy .h5 and
    // TF.js: one list under the Bidirectional's name, the forward layer's weights first.
    WeightRequest req{owner, "Bidirectional", weighted_index, path + "forward_layer/cell/vars", {}, {}, {}};
    rnn_weights(fspec, x[2], "forward_layer ", req.variable_names, req.shapes);
    const std::size_t forward_count = req.shapes.size();
    rnn_weights(bspec, x[2], "backward_layer ", req.variable_names, req.shapes);
    req.keras3_groups = {{path + "forward_layer/cell/vars", forward_count},
                         {path + "backward_layer/cell/vars", req.shapes.size() - forward_count}};
    bidi->set_weights(fetch(req, who));
    return rnn_unit(bidi, static_cast<std::size_t>(2 * L::state_count), mode == MergeMode::none ? 2 : 1, fspec.units,
                    who);
  }

  Unit make_unit(const std::string& cls, const std::string& name, const json& cfg, const Shape& x,
                 const std::string& path, std::size_t weighted_index, const std::string& who, bool wrapped,
                 const std::string& owner) {
    if (!cfg.is_object()) throw io_error(concat(who, ": the layer config must be an object"));
    reject_options(cfg, who);
    Unit unit;
    if (cls == "Dense") {
      const Index units = int_option(cfg, "units", who);
      const bool bias = bool_option(cfg, "use_bias", true, who);
      if (x.rank() < 2) throw shape_error(concat(who, ": input must have rank >= 2; got ", x.to_string()));
      const Index features = x.back();
      auto dense = std::make_shared<Dense<T>>(
          units, DenseOptions()
                     .activation(activation_option(cfg, "activation", "linear", flavor_, who))
                     .use_bias(bias)
                     .name(name));
      WeightRequest req{
          owner, cls, weighted_index, path + "vars", {"kernel", "bias"}, {Shape{features, units}, Shape{units}}, {}};
      if (!bias) {
        req.variable_names.pop_back();
        req.shapes.pop_back();
      }
      dense->set_weights(fetch(req, who));
      unit.call = [dense](const std::vector<AnyTensor<T>>& a) { return std::vector<AnyTensor<T>>{(*dense)(a.at(0))}; };
      unit.output_shapes = [dense, who](const std::vector<Shape>& s) {
        return std::vector<Shape>{dense->compute_output_shape(single(s, who))};
      };
      unit.param_count = dense->count_params();
      return unit;
    }
    if (cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN" || cls == "Bidirectional") {
      if (x.rank() != 3) throw shape_error(concat(who, ": input must have rank 3; got ", x.to_string()));
      if (cls == "Bidirectional") {
        const std::string inner_cls = string_member(member(cfg, "layer", who), "class_name", who);
        if (wrapped && bool_option(bidirectional_inner(cfg, who), "return_state", false, who)) {
          throw value_error(concat(who, ": return_state inside TimeDistributed is not supported"));
        }
        if (inner_cls == "LSTM") {
          return bidirectional_unit<LSTM<T>>(name, cfg, inner_cls, x, path, weighted_index, who, owner);
        }
        if (inner_cls == "GRU") {
          return bidirectional_unit<GRU<T>>(name, cfg, inner_cls, x, path, weighted_index, who, owner);
        }
        if (inner_cls == "SimpleRNN") {
          return bidirectional_unit<SimpleRNN<T>>(name, cfg, inner_cls, x, path, weighted_index, who, owner);
        }
        throw value_error(concat(who, ": wraps a '", inner_cls,
                                 "' layer, which is not supported (Bidirectional of LSTM, GRU or SimpleRNN is)"));
      }
      const RnnSpec spec = rnn_spec(cls, cfg, who);
      if (wrapped && spec.return_state) {
        throw value_error(concat(who, ": return_state inside TimeDistributed is not supported"));
      }
      if (cls == "LSTM") return single_rnn_unit<LSTM<T>>(spec, name, x[2], path, weighted_index, who, owner);
      if (cls == "GRU") return single_rnn_unit<GRU<T>>(spec, name, x[2], path, weighted_index, who, owner);
      return single_rnn_unit<SimpleRNN<T>>(spec, name, x[2], path, weighted_index, who, owner);
    }
    if (cls == "Masking") {
      double value = 0;
      if (cfg.contains("mask_value") && !cfg.at("mask_value").is_null()) {
        if (!cfg.at("mask_value").is_number()) {
          throw io_error(concat(who, ": mask_value must be a number; got ", cfg.at("mask_value").dump()));
        }
        value = cfg.at("mask_value").get<double>();
      }
      auto masking = std::make_shared<Masking<T>>(static_cast<T>(value), MaskingOptions().name(name));
      unit = stateless(masking, who);
      // Keras compute_mask: any(x != mask_value, axis=-1); strata's masks are (batch, time), so
      // for other ranks the output has none (a later recurrent layer is rejected at load time).
      unit.call_masked = [masking](const std::vector<AnyTensor<T>>& a, const MaskPtr&) {
        MaskedOutputs<T> out;
        out.tensors.push_back(strata::detail::call_any(*masking, a.at(0)));
        out.masks.emplace_back();
        if (a[0].rank() == 3)
          out.masks[0] = std::make_shared<const Mask>(masking->compute_mask(a[0].data(), a[0].shape()));
        return out;
      };
      return unit;
    }
    if (cls == "Embedding") {
      // input_length (Keras 2, tfjs) only declared the input shape: ignored.
      const Index input_dim = int_option(cfg, "input_dim", who);
      const Index output_dim = int_option(cfg, "output_dim", who);
      const bool mask_zero = bool_option(cfg, "mask_zero", false, who);
      auto embedding =
          std::make_shared<Embedding<T>>(input_dim, output_dim, EmbeddingOptions().mask_zero(mask_zero).name(name));
      embedding->set_weights(fetch(
          WeightRequest{owner, cls, weighted_index, path + "vars", {"embeddings"}, {Shape{input_dim, output_dim}}, {}},
          who));
      unit = stateless(embedding, who);
      unit.param_count = embedding->count_params();
      unit.call_masked = [embedding](const std::vector<AnyTensor<T>>& a, const MaskPtr&) {
        MaskedOutputs<T> out;
        out.tensors.push_back(strata::detail::call_any(*embedding, a.at(0)));
        out.masks.emplace_back();
        if (embedding->mask_zero() && a[0].rank() == 2) {
          std::optional<Mask> m = embedding->compute_mask(a[0].data(), a[0].shape());
          if (m) out.masks[0] = std::make_shared<const Mask>(std::move(*m));
        }
        return out;
      };
      return unit;
    }
    if (cls == "Flatten") {
      const json& fmt = cfg.contains("data_format") ? cfg.at("data_format") : json();
      if (!fmt.is_null() && !(fmt.is_string() && fmt.get<std::string>() == "channels_last")) {
        throw value_error(concat(who, ": data_format ", fmt.dump(), " is not supported (channels_last is)"));
      }
      return stateless(std::make_shared<Flatten<T>>(FlattenOptions().name(name)), who);
    }
    if (cls == "Reshape") {
      const json& target = member(cfg, "target_shape", who);
      if (!target.is_array()) throw io_error(concat(who, ": target_shape must be a list"));
      std::vector<Index> dims;
      for (const json& d : target) {
        // An inferred dimension is -1 in Keras and null in TF.js.
        if (d.is_null()) {
          dims.push_back(-1);
          continue;
        }
        if (!d.is_number_integer()) throw io_error(concat(who, ": target_shape entries must be integers or null"));
        dims.push_back(d.get<Index>());
      }
      return stateless(std::make_shared<Reshape<T>>(dims, ReshapeOptions().name(name)), who);
    }
    if (cls == "Activation") {
      return stateless(
          std::make_shared<ActivationLayer<T>>(activation_option(cfg, "activation", "linear", flavor_, who),
                                               ActivationLayerOptions().name(name)),
          who);
    }
    if (cls == "TimeDistributed" || cls == "Dropout") {
      // Nested wrappers and Dropout: built as a one-layer model of their own.
      auto layer = make_layer(cls, name, cfg, {x}, path.substr(0, path.size() - 1), weighted_index, who, owner);
      unit.call = layer->call;
      unit.output_shapes = layer->output_shapes;
      unit.reset_states = layer->reset_states;
      unit.param_count = layer->param_count;
      return unit;
    }
    throw value_error(concat(who, ": the layer class '", cls, "' is not supported"));
  }

  /// A layer without weights or state, called through the layer concept.
  template <class L>
  static Unit stateless(std::shared_ptr<L> l, const std::string& who) {
    Unit unit;
    unit.call = [l](const std::vector<AnyTensor<T>>& a) {
      return std::vector<AnyTensor<T>>{strata::detail::call_any(*l, a.at(0))};
    };
    unit.output_shapes = [l, who](const std::vector<Shape>& s) {
      return std::vector<Shape>{l->compute_output_shape(single(s, who))};
    };
    return unit;
  }

  KerasFlavor flavor_;
  WeightReader read_;
  std::string who_;
};

}  // namespace detail

/// Builds a Model from a Keras model config ({"class_name", "config"}), asking `read` for weights.
template <class T>
Model<T> build_model(const json& model_config, const KerasFlavor& flavor, const WeightReader& read,
                     const std::string& source) {
  const std::string who = detail::where(source);
  try {
    const detail::ModelSpec spec = detail::parse_model_config(model_config, who);
    detail::Builder<T> builder(flavor, read, who);
    Model<T> model = builder.build(spec);
    (void)model.output_shapes();  // validates every layer's input shape once more, with None as 1 and 2
    return model;
  } catch (const json::exception& e) {
    // A value of an unexpected JSON type somewhere in the config.
    throw io_error(detail::concat(who, ": malformed model config: ", e.what()));
  }
}

}  // namespace strata::io

#endif  // STRATA_IO_CONFIG_HPP
