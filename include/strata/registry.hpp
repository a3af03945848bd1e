// SPDX-License-Identifier: MIT
#ifndef STRATA_REGISTRY_HPP
#define STRATA_REGISTRY_HPP

// The registry of Keras classes: Keras class name -> how to build the typed layer from its config.
// Each layer declares itself in its own header (its Keras description and STRATA_REGISTER_LAYER);
// loaders, wrappers and the parity tests all build layers through here.

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "any_layer.hpp"
#include "error.hpp"
#include "layer_config.hpp"
#include "layers/bidirectional.hpp"
#include "layers/rnn.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {
template <class L, class = void>
struct has_sublayer_keys : std::false_type {};
template <class L>
struct has_sublayer_keys<L, std::void_t<decltype(L::sublayer_keys())>> : std::true_type {};

template <class L, class = void>
struct has_keras_names : std::false_type {};
template <class L>
struct has_keras_names<L, std::void_t<decltype(L::keras_names())>> : std::true_type {};

template <class L, class = void>
struct has_keras_aliases : std::false_type {};
template <class L>
struct has_keras_aliases<L, std::void_t<decltype(L::keras_aliases())>> : std::true_type {};

template <class L, class = void>
struct has_bidirectional_from_config : std::false_type {};
template <class L>
struct has_bidirectional_from_config<
    L, std::void_t<decltype(L::bidirectional_from_config(std::declval<const LayerConfig<typename L::Scalar>&>()))>>
    : std::true_type {};

template <class L, class = void>
struct has_from_config : std::false_type {};
template <class L>
struct has_from_config<L, std::void_t<decltype(L::from_config(std::declval<const LayerConfig<typename L::Scalar>&>()))>>
    : std::true_type {};
}  // namespace detail

namespace detail {
/// The rest of the message for a class no one registered: why, and where to look. Keras' string
/// and vocabulary preprocessing layers are refused for good (strata's tensors hold numbers); any
/// other class may be a custom one, which users can register.
inline std::string unsupported_class_hint(const std::string& class_name) {
  static const char* const string_layers[] = {"StringLookup", "IntegerLookup",  "TextVectorization",
                                              "Hashing",      "HashedCrossing", "CategoryCrossing"};
  for (const char* s : string_layers) {
    if (class_name == s) {
      return ": Keras' string and vocabulary preprocessing layers map strings or vocabulary entries, which strata's "
             "numeric tensors do not hold; apply it to the data before calling the model (docs/loading-models.md, "
             "\"Not supported, and why\")";
    }
  }
  if (class_name == "Lambda") {
    return ": a Lambda's Python code cannot be loaded; register a C++ implementation for it with "
           "strata::register_layer (docs/custom-layers.md)";
  }
  // Keras' own classes (Keras 3, and Keras 1/2 names found in real files) that strata does not
  // implement: the documentation says why for each.
  static const char* const keras_layers[] = {"LocallyConnected1D",
                                             "LocallyConnected2D",
                                             "CuDNNLSTM",
                                             "CuDNNGRU",
                                             "SReLU",
                                             "ParametricSoftplus",
                                             "TimeDistributedDense",
                                             "Highway",
                                             "MaxoutDense",
                                             "ReversibleEmbedding",
                                             "Conv3DTranspose",
                                             "SpectralNormalization",
                                             "AdaptiveAveragePooling1D",
                                             "AdaptiveAveragePooling2D",
                                             "AdaptiveAveragePooling3D",
                                             "AdaptiveMaxPooling1D",
                                             "AdaptiveMaxPooling2D",
                                             "AdaptiveMaxPooling3D",
                                             "ReconstructPatches2D",
                                             "ReconstructPatches3D"};
  for (const char* s : keras_layers) {
    if (class_name == s) {
      return ": strata does not implement this Keras layer (why: docs/loading-models.md, \"Not supported, and "
             "why\"); to load such a model, register a C++ implementation for it with strata::register_layer "
             "(docs/custom-layers.md)";
    }
  }
  return " (the Keras classes strata supports: docs/loading-models.md, \"What is supported\"); for a custom class, "
         "register a C++ implementation for it with strata::register_layer (docs/custom-layers.md)";
}
}  // namespace detail

/// Keras class names and how to build each from its config: what load_model and the parity tests
/// use to turn a Keras model's layers into typed strata layers. The built-in classes register
/// themselves (each layer header's STRATA_REGISTER_LAYER); users add their own classes, custom
/// layers and Lambdas alike, with register_layer, before loading.
///
/// A layer type L is registrable when it has the layer concept and a Keras description: `static
/// L from_config(const LayerConfig<T>&)` (or returning AnyLayer<T>), and where it applies
/// weight_count / weight_groups, masks, initial states (see docs/custom-layers.md).
template <class T>
class Registry {
 public:
  /// What the registry knows of one Keras class.
  struct Entry {
    /// The name it answers to (a Keras class_name, or a registered_name such as "my_pkg>Scale").
    std::string name;
    /// Config keys holding nested layers (TimeDistributed's "layer").
    std::vector<std::string> sublayer_keys;
    /// Builds the layer from its config.
    std::function<AnyLayer<T>(const LayerConfig<T>&)> build;
    /// For a recurrent layer: builds Keras' Bidirectional(layer) around it.
    std::function<AnyLayer<T>(const LayerConfig<T>&)> bidirectional;
    /// For a Keras RNN cell (LSTMCell, StackedRNNCells, ...): builds Keras' RNN(cell) from the
    /// RNN's config.
    std::function<AnyLayer<T>(const LayerConfig<T>&)> rnn;
    /// For a cell whose RNN is a recurrent layer: Keras' Bidirectional(RNN(cell)) from the
    /// Bidirectional's config.
    std::function<AnyLayer<T>(const LayerConfig<T>&)> bidirectional_rnn;
    /// For a cell of one step: the cell from its config, as a StackedRNNCells holds it.
    std::function<AnyRNNCell<T>(const LayerConfig<T>&)> cell;
  };

  /// Registers layer type L under its class_name and keras_aliases() -- or under keras_names()
  /// alone when L declares them (a class Keras files know by its registered name only, such as
  /// keras-hub's "keras_hub>PositionEmbedding") -- or under `name` alone when one is given. A name
  /// registered again is replaced.
  template <class L>
  void add(const std::string& name = {}) {
    static_assert(std::is_same_v<typename L::Scalar, T>, "strata::Registry: the layer's scalar type must be T.");
    static_assert(detail::has_from_config<L>::value,
                  "strata::Registry: a registered layer needs `static L from_config(const LayerConfig<T>&)` (its "
                  "Keras description; see docs/custom-layers.md).");
    Entry e;
    if constexpr (detail::has_sublayer_keys<L>::value) e.sublayer_keys = L::sublayer_keys();
    if constexpr (detail::is_rnn_cell_v<L>) {
      // A Keras cell is a step, not a layer of a model: Keras runs it inside RNN(cell).
      e.build = [](const LayerConfig<T>& config) -> AnyLayer<T> {
        config.unsupported(detail::concat("a '", config.class_name(),
                                          "' is a recurrent cell, which Keras runs inside RNN(cell), not a layer"));
      };
      e.rnn = [](const LayerConfig<T>& config) { return AnyLayer<T>(RNN<L>::from_config(config)); };
      if constexpr (detail::is_recurrent_layer_v<RNN<L>>) {
        e.bidirectional_rnn = [](const LayerConfig<T>& config) {
          return AnyLayer<T>(Bidirectional<RNN<L>>::from_config(config));
        };
      }
      if constexpr (detail::is_single_rnn_cell_v<L>) {
        e.cell = [](const LayerConfig<T>& config) { return AnyRNNCell<T>(L::from_config(config)); };
      }
    } else {
      e.build = [](const LayerConfig<T>& config) -> AnyLayer<T> {
        if constexpr (std::is_same_v<decltype(L::from_config(config)), AnyLayer<T>>) {
          return L::from_config(config);
        } else {
          return AnyLayer<T>(L::from_config(config));
        }
      };
    }
    if constexpr (detail::is_recurrent_layer_v<L>) {
      e.bidirectional = [](const LayerConfig<T>& config) { return AnyLayer<T>(Bidirectional<L>::from_config(config)); };
    } else if constexpr (detail::has_bidirectional_from_config<L>::value) {
      e.bidirectional = [](const LayerConfig<T>& config) { return L::bidirectional_from_config(config); };
    }
    std::vector<std::string> names;
    if (!name.empty()) {
      names.push_back(name);
    } else if constexpr (detail::has_keras_names<L>::value) {
      names = L::keras_names();
    } else {
      names.emplace_back(L::class_name);
      if constexpr (detail::has_keras_aliases<L>::value) {
        for (const std::string& alias : L::keras_aliases()) names.push_back(alias);
      }
    }
    for (const std::string& n : names) {
      e.name = n;
      entries_[n] = e;
    }
  }

  /// The entry for a name, or null.
  const Entry* find(const std::string& name) const {
    const auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  /// The entry for a layer config: its registered_name when that is registered, else its
  /// class_name; throws unsupported_error naming the class and the layer.
  const Entry& entry(const LayerConfig<T>& config) const {
    if (!config.registered_name().empty()) {
      if (const Entry* e = find(config.registered_name())) return *e;
    }
    if (const Entry* e = find(config.class_name())) return *e;
    config.unsupported(
        detail::concat("the layer class '", config.class_name(), "'",
                       config.registered_name().empty() || config.registered_name() == config.class_name()
                           ? std::string()
                           : " (registered as '" + config.registered_name() + "')",
                       " is not supported", detail::unsupported_class_hint(config.class_name())));
  }
  /// Every registered name, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, e] : entries_) out.push_back(name);
    return out;
  }

  /// Checks that a layer config's class, and that of every layer nested in it, is registered:
  /// loaders call it for every layer before any other check, so an unknown class is what a user
  /// hears about first.
  void check_supported(const LayerConfig<T>& config) const {
    const Entry& e = entry(config);
    for (const std::string& key : e.sublayer_keys) {
      if (!config.has(key.c_str())) continue;
      for (const LayerConfig<T>& nested : config.sublayers(key.c_str())) check_supported(nested);
    }
  }

  /// Builds a layer from its config. An unknown class is an unsupported_error, and so is a call's
  /// tensor keyword argument that the layer's from_config never reads (LayerConfig::
  /// tensor_argument); what the layer's own checks refuse (shape_error, value_error) becomes a
  /// model_error naming the layer.
  AnyLayer<T> build(const LayerConfig<T>& config) const {
    const Entry& e = entry(config);
    try {
      AnyLayer<T> layer = e.build(config);
      const std::string unread = config.unread_tensor_argument();
      if (!unread.empty()) config.unsupported(detail::concat("tensor argument '", unread, "' is not supported"));
      return layer;
    } catch (const shape_error& error) {
      throw model_error(config.who() + ": " + error.what());
    } catch (const value_error& error) {
      throw model_error(config.who() + ": " + error.what());
    }
  }

  /// Keras' Bidirectional around the layer its config wraps: that layer's class must be a
  /// registered recurrent layer.
  AnyLayer<T> bidirectional(const LayerConfig<T>& config) const {
    const LayerConfig<T> inner = config.sublayer("layer");
    const Entry& e = entry(inner);
    if (!e.bidirectional) {
      config.unsupported(detail::concat("wraps a '", inner.class_name(),
                                        "' layer; Bidirectional takes a recurrent layer (LSTM, GRU, SimpleRNN, or a "
                                        "registered layer with the recurrent layer trait)"));
    }
    return e.bidirectional(config);
  }

  /// Keras' RNN(cell) from the RNN's config: the cell's class must be a registered cell.
  AnyLayer<T> rnn(const LayerConfig<T>& config) const {
    const LayerConfig<T> cell = config.sublayer("cell");
    const Entry& e = entry(cell);
    if (!e.rnn) {
      config.unsupported(detail::concat("its cell is a '", cell.class_name(),
                                        "', which is not a recurrent cell (LSTMCell, GRUCell, SimpleRNNCell, "
                                        "StackedRNNCells, or a registered class with the cell trait)"));
    }
    return e.rnn(config);
  }

  /// Keras' Bidirectional(RNN(cell)) from the Bidirectional's config.
  AnyLayer<T> bidirectional_rnn(const LayerConfig<T>& config) const {
    const LayerConfig<T> inner = config.sublayer("layer");
    const LayerConfig<T> cell = inner.sublayer("cell");
    const Entry& e = entry(cell);
    if (!e.bidirectional_rnn) {
      config.unsupported(detail::concat("wraps an RNN of a '", cell.class_name(),
                                        "', which strata's Bidirectional does not take (it takes RNN of one cell: "
                                        "LSTMCell, GRUCell, SimpleRNNCell)"));
    }
    return e.bidirectional_rnn(config);
  }

  /// A cell of a StackedRNNCells from its config: a registered cell of one step.
  AnyRNNCell<T> rnn_cell(const LayerConfig<T>& config) const {
    const Entry& e = entry(config);
    if (!e.cell) {
      config.unsupported(detail::concat(
          "a '", config.class_name(),
          "' cannot be a cell of StackedRNNCells (LSTMCell, GRUCell, SimpleRNNCell or a registered cell of one step "
          "can)",
          config.class_name() == "StackedRNNCells"
              ? "; a stack nested in a stack is not supported: list its cells in the outer stack instead"
              : ""));
    }
    return e.cell(config);
  }

 private:
  std::map<std::string, Entry> entries_;
};

/// The registry strata::load_model uses: the built-in Keras classes, and what users add. Defined
/// in strata::io (link it); add classes before loading, not while another thread loads.
template <class T>
Registry<T>& registry();

/// Registers a user layer class template for float and double with the registry load_model uses:
/// `strata::register_layer<Scale>()` under Scale<T>::class_name, or under `name` (e.g. "Lambda",
/// or Keras 3's registered name "my_package>Scale").
template <template <class> class L>
void register_layer(const std::string& name = {}) {
  registry<float>().template add<L<float>>(name);
  registry<double>().template add<L<double>>(name);
}
/// Registers a user layer type for its own scalar type.
template <class L>
void register_layer(const std::string& name = {}) {
  registry<typename L::Scalar>().template add<L>(name);
}

template <class T>
AnyLayer<T> LayerConfig<T>::layer(const char* key) const {
  return registry_->build(sublayer(key));
}

namespace detail {
template <template <class> class L>
bool register_builtin() {
  register_layer<L>();
  return true;
}
}  // namespace detail

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_REGISTRY_HPP
