// SPDX-License-Identifier: MIT
#ifndef STRATA_SRC_IO_BUILDER_HPP
#define STRATA_SRC_IO_BUILDER_HPP

// A Keras model config -> strata::Model, every layer built through the registry from its own Keras
// description. The file formats differ only in where the config and the weights live: each reader
// supplies a WeightReader that the builder asks for every layer's weights, with the groups, names
// and shapes the layer declares. Nothing here knows a layer class by name. Part of the compiled
// strata::io library.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <strata/config.hpp>
#include <strata/error.hpp>
#include <strata/model.hpp>
#include <strata/registry.hpp>
#include <string>
#include <utility>
#include <vector>

#include "model_config.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace io::detail {

/// What a format reader is asked for: one layer's weights, in Keras get_weights() order.
struct WeightRequest {
  /// The layer's name: TF.js and legacy .h5 files keep its weights (a wrapped layer's too) under it.
  std::string layer_name;
  std::string class_name;
  /// Position among the model's layers that own weights (model.layers order): legacy .h5 binds by
  /// it, as Keras does. For a layer inside a nested model, the position of the outermost nested
  /// model, whose group holds the weights of every layer inside it.
  std::size_t weighted_index = 0;
  /// The nested models the layer sits in, outermost first (empty for a layer of the model itself).
  std::vector<std::string> scope;
  /// The layer's object path in a Keras 3 weights file, e.g. "layers/lstm".
  std::string keras3_key;
  /// The weights as the layer declares them: groups of named, shaped weights by sublayer path.
  std::vector<WeightGroup> groups;
  /// Another layout the file's Keras version may have stored them in (the layer's
  /// legacy_weight_groups: a Keras 1 LSTM's twelve per-gate arrays), or none. A legacy .h5 reader
  /// reads it when the file holds exactly its number of arrays; the builder then converts them.
  std::vector<WeightGroup> legacy_groups;

  /// "base/dense": the layer's path through the nested models (its name in the loaded Model).
  std::string path() const {
    std::string p;
    for (const std::string& m : scope) p += m + "/";
    return p + layer_name;
  }
  std::string describe() const { return "layer '" + path() + "' (" + class_name + ")"; }
  std::size_t count() const {
    std::size_t n = 0;
    for (const WeightGroup& g : groups) n += g.weights.size();
    return n;
  }
  /// Where a Keras 3 file keeps a group's weights: "<key>/<path>/vars".
  std::string keras3_path(const WeightGroup& g) const {
    return keras3_key + (g.path.empty() ? "" : "/" + g.path) + "/vars";
  }
  /// The same request for the legacy layout (groups = legacy_groups).
  WeightRequest as_legacy() const {
    WeightRequest r = *this;
    r.groups = legacy_groups;
    r.legacy_groups.clear();
    return r;
  }
  /// Whether `stored` arrays are in the legacy layout: the file holds exactly its count.
  bool is_legacy(std::size_t stored) const { return !legacy_groups.empty() && stored == as_legacy().count(); }
  /// The i-th weight of the flat list, with its group.
  const WeightSpec& spec(std::size_t i) const {
    for (const WeightGroup& g : groups) {
      if (i < g.weights.size()) return g.weights[i];
      i -= g.weights.size();
    }
    throw io_error("strata::load_model: weight index out of range");
  }
  /// "recurrent_kernel", with the group's path and the declaration's note: for messages.
  std::string weight_label(std::size_t i) const {
    std::size_t k = i;
    for (const WeightGroup& g : groups) {
      if (k < g.weights.size()) {
        return (g.path.empty() ? "" : g.path + "/") + g.weights[k].name + g.weights[k].note;
      }
      k -= g.weights.size();
    }
    return "?";
  }
};

/// Reads one layer's weights, converted to T straight from their stored type.
template <class T>
using WeightReader = std::function<Weights<T>(const WeightRequest&)>;

/// Builds a Model from a parsed model config, asking `read` for each layer's weights.
template <class T>
class Builder {
 public:
  Builder(KerasVersion version, WeightReader<T> read, std::string who)
      : version_(std::move(version)), read_(std::move(read)), who_(std::move(who)) {}

  Model<T> build(const ModelSpec& spec) {
    Scope top;
    prepare(top, spec);
    // 1. Every class, nested ones included, must be registered: an unknown class is the first
    // thing a user hears about, before any option, rank or input-count check could mislead.
    check_supported(top);
    // 2. The layers, from their configs: a nested model's layers join the model as
    // "<nested model>/<layer>", each once however often the nested model is called.
    Model<T> model(spec.name, spec.sequential ? "Sequential" : "Functional");
    add_layers(model, top);
    // The weighted-layer index of legacy .h5 files, over the model's own layers (a nested model
    // with weights is one of them: its group holds its layers' weights).
    std::size_t n_weighted = 0;
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
      const LayerSpec& ls = spec.layers[i];
      if (spec.sequential && ls.class_name == "InputLayer") continue;
      const std::size_t w = ls.nested              ? weight_count(model, *top.nested[i])
                            : top.layer_configs[i] ? model.layer(top.index[i]).weight_count()
                                                   : 0;
      set_weighted(top, i, n_weighted);
      if (w > 0) ++n_weighted;
    }

    // 3. The graph: the model's inputs, in the declared order, then its layers called on them.
    std::vector<Wired> inputs;
    for (const TensorKey& in : spec.inputs) {
      const LayerSpec* ls = find(spec, in.layer);
      if (ls == nullptr || ls->class_name != "InputLayer" || in.node != 0 || in.index != 0) {
        throw model_error(concat(who_, ": model input ", in.str(), " is not an InputLayer"));
      }
      DeclaredShape shape;
      if (!declared_batch_shape(ls->config, who_ + ", layer '" + ls->name + "'", shape)) {
        throw io_error(concat(who_, ": InputLayer '", ls->name, "' declares no shape"));
      }
      Shape concrete;
      for (Index d : shape) concrete.push_back(d < 0 ? 1 : d);
      inputs.push_back(Wired{model.add_input(ls->name, shape), concrete});
    }
    std::vector<typename Model<T>::TensorRef> outs;
    for (const Wired& w : wire(model, top, inputs)) outs.push_back(w.ref);
    model.set_outputs(outs);
    return model;
  }

 private:
  /// One model config placed in the Model: the model itself, or a nested model (the same Scope
  /// for all of its calls, so a shared nested model shares its layers).
  struct Scope {
    const ModelSpec* spec = nullptr;
    std::vector<std::string> path;  // the nested models it sits in, outermost first, itself last
    std::string keras3_key;         // its object path in a .keras file: "" or "layers/functional/"
    std::size_t weighted = 0;       // legacy .h5: the outermost nested model's weighted index
    std::vector<Config> configs;    // kept alive: LayerConfig refers to them
    std::vector<std::optional<LayerConfig<T>>> layer_configs;
    std::vector<std::unique_ptr<Scope>> nested;
    std::vector<std::size_t> index;  // the layer's index in the Model
    std::vector<std::string> keys;   // .keras container keys ("layers/dense_1")
    std::vector<std::size_t> weighted_index;
    std::vector<bool> bound;
  };
  /// A tensor of the Model and its shape with None as 1 (for the weight shapes).
  struct Wired {
    typename Model<T>::TensorRef ref;
    Shape shape;
  };

  static std::string join(const std::vector<std::string>& path, const std::string& name) {
    std::string p;
    for (const std::string& m : path) p += m + "/";
    return p + name;
  }

  void prepare(Scope& scope, const ModelSpec& spec) {
    Registry<T>& reg = registry<T>();
    const std::size_t n = spec.layers.size();
    scope.spec = &spec;
    scope.configs.resize(n);
    scope.layer_configs.resize(n);
    scope.nested.resize(n);
    scope.index.assign(n, 0);
    scope.keys.resize(n);
    scope.weighted_index.assign(n, 0);
    scope.bound.assign(n, false);
    // The .keras container keys, in model.layers order: one counter per class name.
    std::map<std::string, int> class_counter;
    for (std::size_t i = 0; i < n; ++i) {
      const LayerSpec& ls = spec.layers[i];
      if (spec.sequential && ls.class_name == "InputLayer") continue;  // not in Sequential.layers
      const std::string base = to_snake_case(ls.class_name);
      const int k = class_counter[base]++;
      scope.keys[i] = scope.keras3_key + "layers/" + base + (k == 0 ? "" : "_" + std::to_string(k));
    }
    for (std::size_t i = 0; i < n; ++i) {
      const LayerSpec& ls = spec.layers[i];
      if (ls.nested) {
        auto inner = std::make_unique<Scope>();
        inner->path = scope.path;
        inner->path.push_back(ls.name);
        inner->keras3_key = scope.keys[i] + "/";
        prepare(*inner, *ls.nested);
        scope.nested[i] = std::move(inner);
        continue;
      }
      if (ls.class_name == "InputLayer") continue;
      Config& config = scope.configs[i];
      config = to_config(ls.config);
      // The name the model knows the layer by (the config's, or Keras' default for an unnamed
      // one; "<nested model>/<name>" inside a nested model), so that the layer's messages and
      // model.layer(name) agree.
      if (config.is_dict()) config.set("name", join(scope.path, ls.name));
      LayerConfig<T>& c = scope.layer_configs[i].emplace(reg, ls.class_name, config, version_, who_);
      c.set_registered_name(ls.registered_name);
      c.set_call_arguments(to_config(ls.call_arguments));
    }
  }

  void check_supported(const Scope& scope) {
    for (std::size_t i = 0; i < scope.layer_configs.size(); ++i) {
      if (scope.nested[i]) check_supported(*scope.nested[i]);
      if (scope.layer_configs[i]) registry<T>().check_supported(*scope.layer_configs[i]);
    }
  }

  void add_layers(Model<T>& model, Scope& scope) {
    for (std::size_t i = 0; i < scope.layer_configs.size(); ++i) {
      if (scope.nested[i]) add_layers(model, *scope.nested[i]);
      if (!scope.layer_configs[i]) continue;
      LayerConfig<T>& c = *scope.layer_configs[i];
      for (const char* key : {"lora_rank", "quantization_config"}) c.refuse(key);
      const LayerSpec& ls = scope.spec->layers[i];
      scope.index[i] = model.add_layer(registry<T>().build(c), ls.class_name, join(scope.path, ls.name));
    }
  }

  static std::size_t weight_count(Model<T>& model, const Scope& scope) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < scope.layer_configs.size(); ++i) {
      if (scope.nested[i]) n += weight_count(model, *scope.nested[i]);
      if (scope.layer_configs[i]) n += model.layer(scope.index[i]).weight_count();
    }
    return n;
  }

  // Layer i of the model itself gets weighted index w; a nested model passes it to all inside.
  static void set_weighted(Scope& scope, std::size_t i, std::size_t w) {
    scope.weighted_index[i] = w;
    if (Scope* inner = scope.nested[i].get()) {
      inner->weighted = w;
      for (std::size_t j = 0; j < inner->weighted_index.size(); ++j) set_weighted(*inner, j, w);
    }
  }

  /// Calls the scope's layers on `inputs` (one per model input) and returns its outputs: each
  /// layer call once its inputs exist (configs list layers in a topological order, but a shared
  /// layer's later calls may come after other layers). A layer's weights are bound at its first
  /// call, when its input shape is known.
  std::vector<Wired> wire(Model<T>& model, Scope& scope, const std::vector<Wired>& inputs) {
    const ModelSpec& spec = *scope.spec;
    const std::size_t n_layers = spec.layers.size();
    const std::string where = scope.path.empty() ? who_ : concat(who_, ", model '", path_str(scope), "'");
    if (inputs.size() != spec.inputs.size()) {
      throw model_error(concat(where, ": takes ", spec.inputs.size(), " inputs; it is called on ", inputs.size()));
    }
    std::map<TensorKey, Wired> tensors;
    for (std::size_t j = 0; j < inputs.size(); ++j) {
      const TensorKey& in = spec.inputs[j];
      Wired w = inputs[j];
      if (!scope.path.empty()) {
        // A nested model's input: its declared dimensions replace the caller's None (as 1).
        const LayerSpec* ls = find(spec, in.layer);
        DeclaredShape declared;
        if (ls == nullptr || ls->class_name != "InputLayer" || !declared_batch_shape(ls->config, where, declared)) {
          throw model_error(concat(where, ": input ", in.str(), " is not an InputLayer with a shape"));
        }
        if (static_cast<int>(declared.size()) != w.shape.rank()) {
          throw model_error(concat(where, ": input '", in.layer, "' has shape ", declared_shape_string(declared),
                                   "; it is called on a tensor of rank ", w.shape.rank()));
        }
        for (std::size_t d = 0; d < declared.size(); ++d) {
          if (declared[d] >= 0) w.shape[static_cast<int>(d)] = declared[d];
        }
      }
      tensors[in] = w;
    }
    std::vector<std::size_t> next_call(n_layers, 0);
    bool progress = true;
    while (progress) {
      progress = false;
      for (std::size_t i = 0; i < n_layers; ++i) {
        const LayerSpec& ls = spec.layers[i];
        if (!scope.layer_configs[i] && !scope.nested[i]) continue;
        while (next_call[i] < ls.calls.size()) {
          const auto& call = ls.calls[next_call[i]];
          bool ready = !call.empty();
          for (const TensorKey& k : call) ready = ready && tensors.count(k) > 0;
          if (!ready) break;
          std::vector<Wired> args;
          for (const TensorKey& k : call) args.push_back(tensors.at(k));
          const std::vector<Wired> out =
              scope.nested[i] ? wire(model, *scope.nested[i], args) : call_layer(model, scope, i, args);
          for (std::size_t k = 0; k < out.size(); ++k)
            tensors[TensorKey{ls.name, next_call[i] + ls.node_offset, k}] = out[k];
          ++next_call[i];
          progress = true;
        }
      }
    }
    for (std::size_t i = 0; i < n_layers; ++i) {
      const LayerSpec& ls = spec.layers[i];
      if ((scope.layer_configs[i] || scope.nested[i]) && next_call[i] < ls.calls.size()) {
        std::string missing;
        for (const TensorKey& k : ls.calls[next_call[i]]) {
          if (tensors.count(k) == 0) missing += (missing.empty() ? "" : ", ") + k.str();
        }
        throw model_error(concat(where, ": layer '", ls.name, "' takes tensors no layer produces: ",
                                 missing.empty() ? std::string("(none given)") : missing));
      }
    }
    std::vector<Wired> outs;
    for (const TensorKey& k : spec.outputs) {
      if (tensors.count(k) == 0) throw model_error(concat(where, ": model output ", k.str(), " does not exist"));
      outs.push_back(tensors.at(k));
    }
    return outs;
  }

  static std::string path_str(const Scope& scope) {
    std::string p;
    for (const std::string& m : scope.path) p += (p.empty() ? "" : "/") + m;
    return p;
  }

  /// One call of an ordinary layer: binds its weights at its first call.
  std::vector<Wired> call_layer(Model<T>& model, Scope& scope, std::size_t i, const std::vector<Wired>& args) {
    const LayerSpec& ls = scope.spec->layers[i];
    const std::string& who = scope.layer_configs[i]->who();
    AnyLayer<T>& layer = model.layer(scope.index[i]);
    std::vector<Shape> in_shapes;
    std::vector<typename Model<T>::TensorRef> refs;
    for (const Wired& w : args) {
      in_shapes.push_back(w.shape);
      refs.push_back(w.ref);
    }
    std::vector<Shape> out;
    try {
      if (!scope.bound[i]) {
        WeightRequest req{ls.name, ls.class_name, scope.weighted_index[i], scope.path, scope.keys[i], {}, {}};
        bind_weights(layer, in_shapes, std::move(req), who);
        scope.bound[i] = true;
      }
      out = layer.output_shapes(in_shapes);
    } catch (const shape_error& e) {
      throw model_error(concat(who, ": ", e.what()));
    } catch (const value_error& e) {
      throw model_error(concat(who, ": ", e.what()));
    }
    const auto outs = model.call(scope.index[i], refs);
    if (outs.size() != out.size()) {
      throw model_error(concat(who, ": declares ", out.size(), " output shapes for ", outs.size(), " outputs"));
    }
    std::vector<Wired> result;
    for (std::size_t k = 0; k < out.size(); ++k) result.push_back(Wired{outs[k], out[k]});
    return result;
  }

  static const LayerSpec* find(const ModelSpec& spec, const std::string& name) {
    for (const LayerSpec& ls : spec.layers) {
      if (ls.name == name) return &ls;
    }
    return nullptr;
  }

  /// Asks the reader for the weights the layer declares for these inputs, and sets them.
  void bind_weights(AnyLayer<T>& layer, const std::vector<Shape>& inputs, WeightRequest req, const std::string& who) {
    req.groups = layer.weight_groups(inputs);
    // The weighted-layer index of legacy .h5 files came from weight_count(): the two declarations
    // must agree, or every later layer would be bound to another's weights.
    if (req.count() != layer.weight_count()) {
      throw model_error(concat(who, ": declares ", layer.weight_count(), " weights (weight_count) but ", req.count(),
                               " in its weight groups"));
    }
    if (req.count() == 0) return;
    req.legacy_groups = layer.legacy_weight_groups(inputs, version_);
    Weights<T> w = read_(req);
    if (req.is_legacy(w.size())) {
      // An older Keras' layout (the reader read it with its shapes): the layer converts it.
      const WeightRequest legacy = req.as_legacy();
      for (std::size_t i = 0; i < w.size(); ++i) {
        if (w[i].shape() != legacy.spec(i).shape) {
          throw model_error(concat(who, ": weight ", i, " (", legacy.weight_label(i), ") must have shape ",
                                   legacy.spec(i).shape.to_string(), "; the file has ", w[i].shape().to_string()));
        }
      }
      w = layer.convert_legacy_weights(std::move(w), version_);
    }
    if (w.size() != req.count()) {
      throw model_error(concat(who, ": needs ", req.count(), " weight arrays; the file has ", w.size()));
    }
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (w[i].shape() != req.spec(i).shape) {
        throw model_error(concat(who, ": weight ", i, " (", req.weight_label(i), ") must have shape ",
                                 req.spec(i).shape.to_string(), "; the file has ", w[i].shape().to_string()));
      }
    }
    layer.set_weights(w);
  }

  KerasVersion version_;
  WeightReader<T> read_;
  std::string who_;
};

/// Builds a Model from a Keras model config ({"class_name", "config"}), asking `read` for weights.
template <class T>
Model<T> build_model(const json& model_config, const KerasVersion& version, const WeightReader<T>& read,
                     const std::string& source) {
  const std::string who = "strata::load_model(" + source + ")";
  try {
    const ModelSpec spec = parse_model_config(model_config, who, version.major >= 3 && !version.tfjs);
    Builder<T> builder(version, read, who);
    Model<T> model = builder.build(spec);
    try {
      // Checks every layer's input shapes and masks once more, with None as 1 and 2.
      (void)model.node_output_shapes();
    } catch (const strata::error& e) {
      throw model_error(concat(who, ": ", e.what()));
    }
    return model;
  } catch (const json::exception& e) {
    // A value of an unexpected JSON type somewhere in the config.
    throw io_error(concat(who, ": malformed model config: ", e.what()));
  }
}

}  // namespace io::detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_SRC_IO_BUILDER_HPP
