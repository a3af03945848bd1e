// SPDX-License-Identifier: MIT
#ifndef STRATA_CONFIG_HPP
#define STRATA_CONFIG_HPP

#include <cctype>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "error.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// A Keras configuration value, as `layer.get_config()` gives it and model files store it in
/// JSON: null, a bool, an integer, a number, a string, a list or a dict (keys in file order).
/// The core's own small type, so that layer declarations read configs without a JSON library;
/// strata::io fills it from the files' JSON.
class Config {
 public:
  using List = std::vector<Config>;
  using Dict = std::vector<std::pair<std::string, Config>>;

  /// null.
  Config() = default;
  Config(std::nullptr_t) {}                                // NOLINT(google-explicit-constructor)
  Config(bool b) : value_(b) {}                            // NOLINT(google-explicit-constructor)
  Config(int i) : value_(static_cast<std::int64_t>(i)) {}  // NOLINT(google-explicit-constructor)
  Config(std::int64_t i) : value_(i) {}                    // NOLINT(google-explicit-constructor)
  Config(double d) : value_(d) {}                          // NOLINT(google-explicit-constructor)
  Config(const char* s) : value_(std::string(s)) {}        // NOLINT(google-explicit-constructor)
  Config(std::string s) : value_(std::move(s)) {}          // NOLINT(google-explicit-constructor)
  Config(List list) : value_(std::move(list)) {}           // NOLINT(google-explicit-constructor)
  Config(Dict dict) : value_(std::move(dict)) {}           // NOLINT(google-explicit-constructor)

  /// An empty dict, to fill with set().
  static Config dict() { return Config(Dict{}); }
  /// An empty list, to fill with push_back().
  static Config list() { return Config(List{}); }

  bool is_null() const { return std::holds_alternative<std::monostate>(value_); }
  bool is_bool() const { return std::holds_alternative<bool>(value_); }
  bool is_integer() const { return std::holds_alternative<std::int64_t>(value_); }
  /// An integer or a floating-point number.
  bool is_number() const { return is_integer() || std::holds_alternative<double>(value_); }
  bool is_string() const { return std::holds_alternative<std::string>(value_); }
  bool is_list() const { return std::holds_alternative<List>(value_); }
  bool is_dict() const { return std::holds_alternative<Dict>(value_); }

  /// The value; each throws value_error when the value is of another kind.
  bool as_bool() const { return get<bool>("a bool"); }
  std::int64_t as_integer() const {
    if (const auto* d = std::get_if<double>(&value_)) {
      // Some writers store whole numbers as floats (3.0).
      if (std::isfinite(*d) && std::floor(*d) == *d && std::abs(*d) < 9.0e15) return static_cast<std::int64_t>(*d);
    }
    return get<std::int64_t>("an integer");
  }
  double as_number() const {
    if (const auto* i = std::get_if<std::int64_t>(&value_)) return static_cast<double>(*i);
    return get<double>("a number");
  }
  const std::string& as_string() const { return get<std::string>("a string"); }
  const List& as_list() const { return get<List>("a list"); }
  const Dict& as_dict() const { return get<Dict>("a dict"); }

  /// The member `key` of a dict, or null when it is missing (or this is not a dict).
  const Config* find(const std::string& key) const {
    if (const auto* d = std::get_if<Dict>(&value_)) {
      for (const auto& [k, v] : *d) {
        if (k == key) return &v;
      }
    }
    return nullptr;
  }
  /// Whether a dict has `key` with a value other than null.
  bool has(const std::string& key) const {
    const Config* v = find(key);
    return v != nullptr && !v->is_null();
  }
  /// Sets member `key` of a dict (replacing it when present).
  Config& set(const std::string& key, Config value) {
    Dict& d = std::get<Dict>(value_);
    for (auto& [k, v] : d) {
      if (k == key) {
        v = std::move(value);
        return v;
      }
    }
    d.emplace_back(key, std::move(value));
    return d.back().second;
  }
  /// Appends to a list.
  void push_back(Config value) { std::get<List>(value_).push_back(std::move(value)); }

  /// JSON text (strings escaped minimally), for messages and tests.
  std::string dump() const {
    std::string s;
    dump_to(s);
    return s;
  }

  friend bool operator==(const Config& a, const Config& b) { return a.value_ == b.value_; }
  friend bool operator!=(const Config& a, const Config& b) { return !(a == b); }

 private:
  template <class V>
  const V& get(const char* what) const {
    if (const auto* v = std::get_if<V>(&value_)) return *v;
    throw value_error(detail::concat("strata::Config: expected ", what, "; got ", dump().substr(0, 200)));
  }

  static void quote(std::string& s, const std::string& text) {
    s += '"';
    for (char c : text) {
      if (c == '"' || c == '\\') {
        s += '\\';
        s += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        static const char hex[] = "0123456789abcdef";
        s += "\\u00";
        s += hex[(c >> 4) & 0xf];
        s += hex[c & 0xf];
      } else {
        s += c;
      }
    }
    s += '"';
  }

  void dump_to(std::string& s) const {
    if (is_null()) {
      s += "null";
    } else if (const auto* b = std::get_if<bool>(&value_)) {
      s += *b ? "true" : "false";
    } else if (const auto* i = std::get_if<std::int64_t>(&value_)) {
      s += std::to_string(*i);
    } else if (const auto* d = std::get_if<double>(&value_)) {
      std::ostringstream out;
      out.precision(17);
      out << *d;
      s += out.str();
    } else if (const auto* str = std::get_if<std::string>(&value_)) {
      quote(s, *str);
    } else if (const auto* l = std::get_if<List>(&value_)) {
      s += '[';
      for (std::size_t k = 0; k < l->size(); ++k) {
        if (k > 0) s += ", ";
        (*l)[k].dump_to(s);
      }
      s += ']';
    } else {
      const Dict& d = std::get<Dict>(value_);
      s += '{';
      for (std::size_t k = 0; k < d.size(); ++k) {
        if (k > 0) s += ", ";
        quote(s, d[k].first);
        s += ": ";
        d[k].second.dump_to(s);
      }
      s += '}';
    }
  }

  std::variant<std::monostate, bool, std::int64_t, double, std::string, List, Dict> value_;
};

/// Which Keras wrote a file: it decides the defaults and formulas that changed between versions.
struct KerasVersion {
  int major = 3;
  int minor = 0;
  bool tfjs = false;      ///< written by TensorFlow.js Layers (its own formulas)
  bool tf_keras = false;  ///< "2.x.y-tf": tf.keras
  std::string text;       ///< as recorded in the file
  /// The backend that wrote the weights: a legacy .h5 file's `backend` attribute (Keras 2), or
  /// for a Keras 1 file, which records none, "theano" or "tensorflow" by its weight names
  /// (TensorFlow's variables are named "<name>:0", Theano's "<name>"); empty when unknown.
  std::string backend;

  /// Keras 3 computes hard_sigmoid as clip(x/6 + 0.5); Keras 1, 2 and tfjs as clip(0.2x + 0.5).
  bool keras3_hard_sigmoid() const { return major >= 3 && !tfjs; }

  /// Defaults of options a config may lack: standalone Keras <= 2.2.x (and files without a
  /// version, which predate it) and tfjs default GRU reset_after to false and the LSTM/GRU
  /// recurrent_activation to hard_sigmoid; tf.keras, Keras >= 2.3 and Keras 3 to true and sigmoid.
  bool pre_2_3_defaults() const { return tfjs || (!tf_keras && (major < 2 || (major == 2 && minor < 3))); }

  /// Written by Keras 1.x ("1.2.2"): its own config names (output_dim, inner_activation, p, ...) and,
  /// for some layers, its own weight layout (an LSTM's twelve per-gate arrays).
  bool keras1() const { return !tfjs && major == 1; }

  /// Written by Keras' Theano backend. Its convolutions are true convolutions: the kernels are
  /// stored flipped along every spatial axis relative to TensorFlow's (and strata's)
  /// cross-correlation, which Keras 2 undoes on loading (conv_utils.convert_kernel) and so do
  /// strata's convolutions; its "same" padding differs from TensorFlow's in some cases, which
  /// the layers refuse.
  bool theano_backend() const { return backend == "theano"; }

  /// From a recorded version: "3.6.0", "2.15.0", "tfjs-layers 4.22.0"; empty -> Keras 2 (files
  /// that do not record a version predate Keras 3).
  static KerasVersion parse(const std::string& v) {
    KerasVersion f;
    f.text = v;
    if (v.find("tfjs") != std::string::npos || v.find("TensorFlow.js") != std::string::npos) {
      f.tfjs = true;
      f.major = 2;
      return f;
    }
    std::size_t i = 0;
    while (i < v.size() && !std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
    const auto number = [&](int& out) {
      bool any = false;
      out = 0;
      while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])) && out < 1000) {
        out = out * 10 + (v[i++] - '0');
        any = true;
      }
      return any;
    };
    const bool has_major = number(f.major);
    if (!has_major) f.major = 2;
    if (has_major && i < v.size() && v[i] == '.') {
      ++i;
      number(f.minor);
    }
    f.tf_keras = v.find("-tf") != std::string::npos;
    return f;
  }
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_CONFIG_HPP
