// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYER_CONFIG_HPP
#define STRATA_LAYER_CONFIG_HPP

// What a layer's Keras description is written with: the config it is built from (LayerConfig),
// the weights it declares (WeightGroup), how masks pass it (MaskRule), and the macro that
// registers it. Light on purpose: every layer header includes it.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "activations.hpp"
#include "config.hpp"
#include "error.hpp"
#include "shape.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

template <class T>
class AnyLayer;
template <class T>
class Registry;

/// How a layer's output mask follows its input's mask when the layer has no mask logic of its own
/// (Keras' `supports_masking`): dropped -- Keras' default, and Flatten's and Reshape's -- or passed
/// on unchanged (Dense, Activation, Dropout, TimeDistributed).
enum class MaskRule { drop, pass };

/// One weight as Keras declares it: the variable's name and shape, and a note that messages about
/// it add (why the shape is what it is).
struct WeightSpec {
  std::string name;
  Shape shape;
  std::string note;
};

/// The weights one Keras (sub)layer owns, in `get_weights()` order, and where that sublayer sits
/// in the saved layer: "" for the layer itself, "cell" for a recurrent layer's cell,
/// "forward_layer/cell" for a Bidirectional's forward layer, "layer" for TimeDistributed's inner
/// layer. A Keras 3 `.keras` file keeps them at `<layer>/<path>/vars/<i>`; a legacy `.h5` file and
/// TF.js list all of a layer's weights in order under the layer's name.
struct WeightGroup {
  std::string path;
  std::vector<WeightSpec> weights;
};

/// Keras' naming.to_snake_case: "TimeDistributed" -> "time_distributed", "LSTM" -> "lstm" (the
/// default layer names, and the keys of a .keras file's weights).
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

/// A Keras layer's configuration as the registry hands it to the layer's `from_config`: the
/// config dict (what Keras' `get_config()` gave), the Keras version that wrote it, and readers
/// that turn its values into options with Keras' defaults. Every error names the layer and where
/// it was read: a value of the wrong JSON type is an io_error, a value out of range a model_error,
/// an option strata does not implement an unsupported_error.
template <class T>
class LayerConfig {
 public:
  /// `context` names the source, e.g. "strata::load_model(m.keras)"; `class_name` is the Keras
  /// class the config was written for.
  LayerConfig(const Registry<T>& registry, std::string class_name, const Config& config, KerasVersion version,
              const std::string& context)
      : registry_(&registry), class_name_(std::move(class_name)), config_(&config), version_(std::move(version)) {
    if (!config.is_dict()) {
      throw io_error(detail::concat(context, ", a layer of class '", class_name_, "': the config must be a dict; got ",
                                    config.dump().substr(0, 200)));
    }
    const Config* n = config.find("name");
    name_ = n != nullptr && n->is_string() ? n->as_string() : to_snake_case(class_name_);
    who_ = detail::concat(context, ", layer '", name_, "' (", class_name_, ")");
  }

  /// The config is referred to, not copied: it must outlive the LayerConfig.
  LayerConfig(const Registry<T>&, std::string, Config&&, KerasVersion, const std::string&) = delete;

  const std::string& class_name() const { return class_name_; }
  /// Keras 3's "registered_name" of a custom or keras-hub class ("my_package>Scale"), when the
  /// file gives one beside class_name; the registry looks it up first.
  const std::string& registered_name() const { return registered_name_; }
  void set_registered_name(std::string name) { registered_name_ = std::move(name); }
  /// The config's "name", or the snake_case class name when it has none.
  const std::string& name() const { return name_; }
  const Config& config() const { return *config_; }
  const KerasVersion& keras_version() const { return version_; }
  const Registry<T>& registry() const { return *registry_; }
  /// "strata::load_model(m.keras), layer 'dense' (Dense)": how messages name this layer.
  const std::string& who() const { return who_; }

  /// The config key of an option in this file: `keras1_key` in a file of Keras 1.x, which named
  /// many options otherwise (`config.integer(config.spelling("units", "output_dim"))`), else `key`.
  const char* spelling(const char* key, const char* keras1_key) const { return version_.keras1() ? keras1_key : key; }

  /// Whether the config has `key` with a value other than null.
  bool has(const char* key) const { return config_->has(key); }

  /// Member `key`; throws io_error when it is missing.
  const Config& get(const char* key) const {
    const Config* v = config_->find(key);
    if (v == nullptr) throw io_error(detail::concat(who_, ": the config has no '", key, "'"));
    return *v;
  }

  /// A required integer in [lo, hi].
  Index integer(const char* key, Index lo = 1, Index hi = Index(1) << 40) const {
    return checked(key, get(key), lo, hi);
  }
  /// An optional integer in [lo, hi]; `fallback` when missing or null.
  Index integer_or(const char* key, Index fallback, Index lo = -(Index(1) << 40), Index hi = Index(1) << 40) const {
    return has(key) ? checked(key, get(key), lo, hi) : fallback;
  }
  /// An optional bool; `fallback` when missing or null.
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const Config& v = get(key);
    if (!v.is_bool()) wrong_type(key, v, "true or false");
    return v.as_bool();
  }
  /// An optional number; `fallback` when missing or null.
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const Config& v = get(key);
    if (!v.is_number()) wrong_type(key, v, "a number");
    return v.as_number();
  }
  /// An optional string; `fallback` when missing or null.
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const Config& v = get(key);
    if (!v.is_string()) wrong_type(key, v, "a string");
    return v.as_string();
  }
  /// A required list of integers; null entries become `null_as` (Keras' None, or tfjs' inferred
  /// Reshape dimension).
  std::vector<Index> integers(const char* key, Index null_as = -1) const {
    const Config& v = get(key);
    if (!v.is_list()) wrong_type(key, v, "a list");
    std::vector<Index> out;
    for (const Config& e : v.as_list()) {
      if (e.is_null()) {
        out.push_back(null_as);
      } else if (e.is_integer()) {
        out.push_back(static_cast<Index>(e.as_integer()));
      } else {
        wrong_type(key, v, "a list of integers or null");
      }
    }
    return out;
  }

  /// A Keras activation option: a name, or Keras 3's {"class_name": "function", "config": name};
  /// "hard_sigmoid" becomes the formula of the file's Keras version. An unknown name or a custom
  /// activation is an unsupported_error.
  std::string activation(const char* key, const char* fallback) const {
    std::string name = fallback;
    if (has(key)) {
      const Config& v = get(key);
      if (v.is_string()) {
        name = v.as_string();
      } else if (v.is_dict() && v.find("config") != nullptr && v.find("config")->is_string()) {
        name = v.find("config")->as_string();
      } else {
        unsupported(detail::concat(key, " ", v.dump().substr(0, 200),
                                   " is not supported (only built-in activations by name are)"));
      }
    }
    if (name == "None" || name.empty()) return "linear";
    if (name == "hard_sigmoid" && !version_.keras3_hard_sigmoid()) name = "hard_sigmoid_keras2";
    for (const auto& entry : detail::activation_names) {
      if (entry.name == name) return name;
    }
    const std::string_view reason = detail::refused_activation_reason(name);
    if (!reason.empty()) unsupported(detail::concat(key, " '", name, "' is not supported: ", reason));
    unsupported(detail::concat(key, " '", name, "' is not supported; strata knows ", activation_names_list()));
  }

  /// Refuses an option strata cannot honour: throws unsupported_error when `key` holds anything
  /// but null, false or 0.
  void refuse(const char* key) const {
    const Config* v = config_->find(key);
    if (v == nullptr || v->is_null() || (v->is_bool() && !v->as_bool()) || (v->is_number() && v->as_number() == 0)) {
      return;
    }
    unsupported(detail::concat("option '", key, "' = ", v->dump().substr(0, 100), " is not supported"));
  }

  /// The nested layer config at `key`: {"class_name": ..., "config": {...}}.
  LayerConfig sublayer(const char* key) const { return nested(get(key), key); }

  /// The nested layer configs at `key`: one for a layer config, each entry's for a list of them
  /// (StackedRNNCells' "cells").
  std::vector<LayerConfig> sublayers(const char* key) const {
    const Config& v = get(key);
    if (!v.is_list()) return {nested(v, key)};
    std::vector<LayerConfig> out;
    for (const Config& e : v.as_list()) out.push_back(nested(e, key));
    return out;
  }

  /// Builds the nested layer at `key` through the registry (defined in registry.hpp).
  AnyLayer<T> layer(const char* key) const;

  /// The arguments the model file gives the layer's call besides its positional input tensors
  /// and masks (a Keras 3 inbound node's "kwargs", a Keras 2 node's call kwargs; `training` is left
  /// out: strata infers), read with the same readers: `config.call_arguments().boolean(
  /// "use_causal_mask", false)`, and tensor_argument() for a tensor passed by keyword. Empty when
  /// there are none. It refers to this LayerConfig, which must outlive it.
  LayerConfig call_arguments() const {
    LayerConfig c = *this;
    c.config_ = &call_arguments_;
    c.who_ = who_ + ", call argument";
    return c;
  }
  /// Sets what call_arguments() reads (a dict); the loader passes a layer's call arguments so, a
  /// tensor passed by keyword as {"input": i} (tensor_argument).
  void set_call_arguments(Config arguments) {
    if (!arguments.is_dict()) {
      throw io_error(
          detail::concat(who_, ": the call arguments must be a dict; got ", arguments.dump().substr(0, 200)));
    }
    call_arguments_ = std::move(arguments);
    tensor_arguments_read_ = std::make_shared<std::vector<std::string>>();
  }
  /// On call_arguments(): where the tensor that the call passes as keyword argument `key` sits among
  /// the layer's inputs (MultiHeadAttention's key= and attention_mask=), or -1 when it passes none.
  /// The inputs are the positional tensors, then those passed by keyword, in key order.
  Index tensor_argument(const char* key) const {
    const Config* v = config_->find(key);
    if (v == nullptr || v->is_null()) return -1;
    const Config* at = v->is_dict() ? v->find("input") : nullptr;
    if (at == nullptr) wrong_type(key, *v, "a tensor");
    if (tensor_arguments_read_ != nullptr) tensor_arguments_read_->push_back(key);
    return checked(key, *at, 0, Index(1) << 20);
  }
  /// On call_arguments(): the keyword (one of `keys`) each input was passed by, indexed by the
  /// input's position, "" for a positional input; as long as the last input passed by keyword (a
  /// layer that takes several tensors by keyword: MultiHeadAttention's value, key, attention_mask).
  std::vector<std::string> tensor_roles(std::initializer_list<const char*> keys) const {
    std::vector<std::string> roles;
    for (const char* key : keys) {
      const Index at = tensor_argument(key);
      if (at < 0) continue;
      if (roles.size() <= static_cast<std::size_t>(at)) roles.resize(static_cast<std::size_t>(at) + 1);
      roles[static_cast<std::size_t>(at)] = key;
    }
    return roles;
  }
  /// A tensor keyword argument of the call that the layer never asked for with tensor_argument()
  /// ("" when there is none): the registry refuses to build a layer whose call has one, since the
  /// tensor would be taken for another input.
  std::string unread_tensor_argument() const {
    for (const auto& [key, v] : call_arguments_.as_dict()) {
      if (!v.is_dict() || v.find("input") == nullptr) continue;
      if (tensor_arguments_read_ == nullptr || std::find(tensor_arguments_read_->begin(), tensor_arguments_read_->end(),
                                                         key) == tensor_arguments_read_->end()) {
        return key;
      }
    }
    return {};
  }

  /// Throws unsupported_error: "<who>: <what>".
  [[noreturn]] void unsupported(const std::string& what) const { throw unsupported_error(who_ + ": " + what); }
  /// Throws model_error: "<who>: <what>".
  [[noreturn]] void invalid(const std::string& what) const { throw model_error(who_ + ": " + what); }

 private:
  [[noreturn]] void wrong_type(const char* key, const Config& v, const char* expected) const {
    throw io_error(detail::concat(who_, ": option '", key, "' must be ", expected, "; got ", v.dump().substr(0, 200)));
  }

  LayerConfig nested(const Config& v, const char* key) const {
    const Config* cls = v.find("class_name");
    const Config* cfg = v.find("config");
    if (cls == nullptr || !cls->is_string() || cfg == nullptr) {
      throw io_error(detail::concat(who_, ": '", key, "' must be a layer ({\"class_name\", \"config\"}); got ",
                                    v.dump().substr(0, 200)));
    }
    LayerConfig inner(*registry_, cls->as_string(), *cfg, version_, who_);
    const Config* registered = v.find("registered_name");
    if (registered != nullptr && registered->is_string()) inner.registered_name_ = registered->as_string();
    inner.who_ = detail::concat(who_, " wrapping '", inner.name_, "' (", inner.class_name_, ")");
    return inner;
  }

  Index checked(const char* key, const Config& v, Index lo, Index hi) const {
    if (!v.is_number()) wrong_type(key, v, "an integer");
    const double d = v.as_number();
    if (std::floor(d) != d) wrong_type(key, v, "an integer");
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
      invalid(detail::concat("option '", key, "' must be between ", lo, " and ", hi, "; got ", v.dump()));
    }
    return static_cast<Index>(d);
  }

  const Registry<T>* registry_;
  std::string class_name_;
  std::string registered_name_;
  const Config* config_;
  Config call_arguments_ = Config::dict();
  // The tensor keyword arguments that tensor_argument() was asked for, shared by the copies that
  // call_arguments() makes.
  std::shared_ptr<std::vector<std::string>> tensor_arguments_read_;
  KerasVersion version_;
  std::string name_;
  std::string who_;
};

namespace detail {
/// Adds layer template L (a layer class template on the scalar type) to the built-in registries of
/// float and double; defined in registry.hpp.
template <template <class> class L>
bool register_builtin();
}  // namespace detail

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

/// Registers a layer class template with the built-in registry of Keras classes: the last line of
/// every layer header, right after the layer's Keras description. It takes effect in the one
/// translation unit that defines the registry (strata::io's src/io/builtin_layers.cpp defines
/// STRATA_DEFINE_BUILTIN_REGISTRY before including the layers); everywhere else it expands to
/// nothing, so code that only uses the layers compiles nothing for it. Users register their own
/// classes at run time with strata::register_layer.
#if defined(STRATA_DEFINE_BUILTIN_REGISTRY)
#define STRATA_REGISTER_LAYER(Layer)                                                 \
  namespace strata {                                                                 \
  inline namespace STRATA_ISA_NAMESPACE {                                            \
  namespace detail {                                                                 \
  [[maybe_unused]] static const bool registered_##Layer = register_builtin<Layer>(); \
  }                                                                                  \
  }                                                                                  \
  }
#else
#define STRATA_REGISTER_LAYER(Layer)
#endif

#endif  // STRATA_LAYER_CONFIG_HPP
