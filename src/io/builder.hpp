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
  /// it, as Keras does.
  std::size_t weighted_index = 0;
  /// The layer's object path in a Keras 3 weights file, e.g. "layers/lstm".
  std::string keras3_key;
  /// The weights as the layer declares them: groups of named, shaped weights by sublayer path.
  std::vector<WeightGroup> groups;
  /// Another layout the file's Keras version may have stored them in (the layer's
  /// legacy_weight_groups: a Keras 1 LSTM's twelve per-gate arrays), or none. A legacy .h5 reader
  /// reads it when the file holds exactly its number of arrays; the builder then converts them.
  std::vector<WeightGroup> legacy_groups;

  std::string describe() const { return "layer '" + layer_name + "' (" + class_name + ")"; }
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
    Registry<T>& reg = registry<T>();
    const std::size_t n_layers = spec.layers.size();
    // The configs, as the layers' declarations read them (kept alive: LayerConfig refers to them).
    std::vector<Config> configs(n_layers);
    std::vector<std::optional<LayerConfig<T>>> layer_configs(n_layers);
    for (std::size_t i = 0; i < n_layers; ++i) {
      const LayerSpec& ls = spec.layers[i];
      if (ls.class_name == "InputLayer") continue;
      configs[i] = to_config(ls.config);
      // The name the model knows the layer by (the config's, or Keras' default for an unnamed
      // one), so that the layer's messages and model.layer(name) agree.
      if (configs[i].is_dict() && !configs[i].has("name")) configs[i].set("name", ls.name);
      LayerConfig<T>& c = layer_configs[i].emplace(reg, ls.class_name, configs[i], version_, who_);
      c.set_registered_name(ls.registered_name);
    }
    // 1. Every class, nested ones included, must be registered: an unknown class is the first
    // thing a user hears about, before any option, rank or input-count check could mislead.
    for (const auto& c : layer_configs) {
      if (c) reg.check_supported(*c);
    }
    // 2. The layers, from their configs.
    Model<T> model(spec.name, spec.sequential ? "Sequential" : "Functional");
    std::vector<std::size_t> index(n_layers, 0);
    for (std::size_t i = 0; i < n_layers; ++i) {
      if (!layer_configs[i]) continue;
      for (const char* key : {"lora_rank", "quantization_config"}) layer_configs[i]->refuse(key);
      index[i] = model.add_layer(reg.build(*layer_configs[i]), spec.layers[i].class_name, spec.layers[i].name);
    }
    // The .keras container keys and the weighted-layer index, both in model.layers order.
    std::map<std::string, int> class_counter;
    std::vector<std::string> keys(n_layers);
    std::vector<std::size_t> weighted(n_layers, 0);
    std::size_t n_weighted = 0;
    for (std::size_t i = 0; i < n_layers; ++i) {
      const LayerSpec& ls = spec.layers[i];
      if (spec.sequential && ls.class_name == "InputLayer") continue;  // not in Sequential.layers
      const std::string base = to_snake_case(ls.class_name);
      const int k = class_counter[base]++;
      keys[i] = "layers/" + base + (k == 0 ? "" : "_" + std::to_string(k));
      weighted[i] = n_weighted;
      if (layer_configs[i] && model.layer(index[i]).weight_count() > 0) ++n_weighted;
    }

    // 3. The graph: inputs first, in the declared order, then each layer call once its inputs
    // exist (configs list layers in a topological order, but a shared layer's later calls may come
    // after other layers). A layer's weights are bound at its first call, when its input shape is
    // known.
    std::map<TensorKey, typename Model<T>::TensorRef> tensors;
    std::map<TensorKey, Shape> shapes;  // None as 1, for the weight shapes
    for (const TensorKey& in : spec.inputs) {
      const LayerSpec* ls = find(spec, in.layer);
      if (ls == nullptr || ls->class_name != "InputLayer" || in.node != 0 || in.index != 0) {
        throw model_error(concat(who_, ": model input ", in.str(), " is not an InputLayer"));
      }
      DeclaredShape shape;
      if (!declared_batch_shape(ls->config, who_ + ", layer '" + ls->name + "'", shape)) {
        throw io_error(concat(who_, ": InputLayer '", ls->name, "' declares no shape"));
      }
      tensors[in] = model.add_input(ls->name, shape);
      Shape concrete;
      for (Index d : shape) concrete.push_back(d < 0 ? 1 : d);
      shapes[in] = concrete;
    }
    std::vector<bool> bound(n_layers, false);
    std::vector<std::size_t> next_call(n_layers, 0);
    bool progress = true;
    while (progress) {
      progress = false;
      for (std::size_t i = 0; i < n_layers; ++i) {
        const LayerSpec& ls = spec.layers[i];
        if (!layer_configs[i]) continue;
        while (next_call[i] < ls.calls.size()) {
          const auto& call = ls.calls[next_call[i]];
          bool ready = !call.empty();
          for (const TensorKey& k : call) ready = ready && tensors.count(k) > 0;
          if (!ready) break;
          std::vector<Shape> in_shapes;
          std::vector<typename Model<T>::TensorRef> refs;
          for (const TensorKey& k : call) {
            in_shapes.push_back(shapes.at(k));
            refs.push_back(tensors.at(k));
          }
          const std::string& who = layer_configs[i]->who();
          AnyLayer<T>& layer = model.layer(index[i]);
          std::vector<Shape> out;
          try {
            if (!bound[i]) {
              bind_weights(layer, in_shapes, WeightRequest{ls.name, ls.class_name, weighted[i], keys[i], {}, {}}, who);
              bound[i] = true;
            }
            out = layer.output_shapes(in_shapes);
          } catch (const shape_error& e) {
            throw model_error(concat(who, ": ", e.what()));
          } catch (const value_error& e) {
            throw model_error(concat(who, ": ", e.what()));
          }
          const auto outs = model.call(index[i], refs);
          if (outs.size() != out.size()) {
            throw model_error(concat(who, ": declares ", out.size(), " output shapes for ", outs.size(), " outputs"));
          }
          for (std::size_t k = 0; k < out.size(); ++k) {
            const TensorKey key{ls.name, next_call[i], k};
            tensors[key] = outs[k];
            shapes[key] = out[k];
          }
          ++next_call[i];
          progress = true;
        }
      }
    }
    for (std::size_t i = 0; i < n_layers; ++i) {
      const LayerSpec& ls = spec.layers[i];
      if (layer_configs[i] && next_call[i] < ls.calls.size()) {
        std::string missing;
        for (const TensorKey& k : ls.calls[next_call[i]]) {
          if (tensors.count(k) == 0) missing += (missing.empty() ? "" : ", ") + k.str();
        }
        throw model_error(concat(who_, ": layer '", ls.name, "' takes tensors no layer produces: ",
                                 missing.empty() ? std::string("(none given)") : missing));
      }
    }
    std::vector<typename Model<T>::TensorRef> outs;
    for (const TensorKey& k : spec.outputs) {
      if (tensors.count(k) == 0) throw model_error(concat(who_, ": model output ", k.str(), " does not exist"));
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
    const ModelSpec spec = parse_model_config(model_config, who);
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
