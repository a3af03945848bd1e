// SPDX-License-Identifier: MIT
// Keras parity: every fixture written by tools/keras-reference (TensorFlow.js Layers 4.22, a port
// of Keras, on its pure-JS CPU backend) is rebuilt here through strata's public API -- layers
// constructed from the Keras config, weights set from the get_weights() lists -- and its outputs
// compared with what tfjs computed, in float and in double.
//
// One ctest test per fixture: CMake sets STRATA_FIXTURE=<group>/<name>. Without it, every fixture
// runs. STRATA_PARITY_REPORT=1 prints each case's largest error (docs/keras-parity.md uses it).
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <strata/strata.hpp>
#include <string>
#include <vector>

#include "support/catch.hpp"

namespace {

using json = nlohmann::json;
using strata::AnyTensor;
using strata::Index;
using strata::Shape;

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path);
  return json::parse(in);
}

template <class T>
AnyTensor<T> tensor_from(const json& j) {
  Shape shape;
  for (const auto& d : j.at("shape")) shape.push_back(d.get<Index>());
  std::vector<T> values;
  values.reserve(j.at("data").size());
  for (const auto& v : j.at("data")) values.push_back(static_cast<T>(v.get<double>()));
  return AnyTensor<T>::from_values(shape, values);
}

// tfjs writes Keras 2-style configs and computes hard_sigmoid with the Keras 2 formula; the fixture
// says so in "formulas", and strata's explicit name for that formula is hard_sigmoid_keras2.
// The difference test below flips this to build the same models with Keras 3's hard_sigmoid.
bool use_keras3_hard_sigmoid = false;

std::string activation_for(const std::string& keras_name, const json& fixture) {
  if (keras_name == "hard_sigmoid") {
    if (use_keras3_hard_sigmoid) return "hard_sigmoid";
    const auto formulas = fixture.value("formulas", json::object());
    REQUIRE(formulas.value("hard_sigmoid", "") == "keras2");
    return "hard_sigmoid_keras2";
  }
  return keras_name;
}

// A built layer behind a uniform call: inputs (the tensor, then any initial states) -> outputs.
template <class T>
using Call = std::function<std::vector<AnyTensor<T>>(const std::vector<AnyTensor<T>>&)>;

template <class T>
strata::Dense<T> make_dense(const json& cfg, const json& fixture) {
  return strata::Dense<T>(cfg.at("units").get<Index>(),
                          strata::DenseOptions()
                              .activation(activation_for(cfg.at("activation").get<std::string>(), fixture))
                              .use_bias(cfg.at("use_bias").get<bool>())
                              .name(cfg.value("name", "")));
}

template <class T>
strata::LSTM<T> make_lstm(const json& cfg, const json& fixture) {
  return strata::LSTM<T>(
      cfg.at("units").get<Index>(),
      strata::LSTMOptions()
          .activation(activation_for(cfg.at("activation").get<std::string>(), fixture))
          .recurrent_activation(activation_for(cfg.at("recurrent_activation").get<std::string>(), fixture))
          .use_bias(cfg.at("use_bias").get<bool>())
          .return_sequences(cfg.at("return_sequences").get<bool>())
          .return_state(cfg.at("return_state").get<bool>())
          .go_backwards(cfg.at("go_backwards").get<bool>())
          .stateful(cfg.at("stateful").get<bool>())
          .name(cfg.value("name", "")));
}

template <class T>
strata::Weights<T> weights_from(const json& layer) {
  strata::Weights<T> w;
  for (const auto& entry : layer.at("weights")) w.push_back(tensor_from<T>(entry));
  return w;
}

template <class T, class L>
Call<T> single_output(std::shared_ptr<L> layer) {
  return [layer](const std::vector<AnyTensor<T>>& in) {
    REQUIRE(in.size() == 1);
    return std::vector<AnyTensor<T>>{(*layer)(in[0])};
  };
}

// Flatten: tfjs omits data_format unless it was given; Keras 3 always writes it.
template <class T>
strata::Flatten<T> make_flatten(const json& cfg) {
  strata::FlattenOptions options;
  options.name(cfg.value("name", ""));
  if (cfg.contains("data_format") && cfg.at("data_format").is_string()) {
    options.data_format(cfg.at("data_format").get<std::string>());
  }
  return strata::Flatten<T>(options);
}

// Reshape: tfjs writes the inferred entry of target_shape as null (Keras writes -1).
template <class T>
strata::Reshape<T> make_reshape(const json& cfg) {
  std::vector<Index> target;
  for (const auto& d : cfg.at("target_shape")) target.push_back(d.is_null() ? Index(-1) : d.get<Index>());
  return strata::Reshape<T>(target, strata::ReshapeOptions().name(cfg.value("name", "")));
}

template <class T>
strata::ActivationLayer<T> make_activation(const json& cfg, const json& fixture) {
  return strata::ActivationLayer<T>(activation_for(cfg.at("activation").get<std::string>(), fixture),
                                    strata::ActivationLayerOptions().name(cfg.value("name", "")));
}

template <class T>
strata::Dropout<T> make_dropout(const json& cfg) {
  return strata::Dropout<T>(cfg.at("rate").get<double>(), strata::DropoutOptions().name(cfg.value("name", "")));
}

// Constructs the single-output layer of Keras class `cls` from its config and hands it to `use`;
// returns false when `cls` is not one of them. Shared by plain layers and TimeDistributed's inner
// layer, so every such layer can also be wrapped.
template <class T, class Use>
bool with_single_output_layer(const std::string& cls, const json& cfg, const json& fixture, Use&& use) {
  if (cls == "Dense") {
    use(make_dense<T>(cfg, fixture));
  } else if (cls == "Flatten") {
    use(make_flatten<T>(cfg));
  } else if (cls == "Reshape") {
    use(make_reshape<T>(cfg));
  } else if (cls == "Activation") {
    use(make_activation<T>(cfg, fixture));
  } else if (cls == "Dropout") {
    use(make_dropout<T>(cfg));
  } else {
    return false;
  }
  return true;
}

template <class T>
Call<T> build_layer(const json& layer, const json& fixture) {
  const std::string cls = layer.at("class_name");
  const json& cfg = layer.at("config");
  const auto weights = weights_from<T>(layer);
  Call<T> call;
  const auto as_call = [&](auto built) {
    auto shared = std::make_shared<decltype(built)>(std::move(built));
    shared->set_weights(weights);
    call = single_output<T>(shared);
  };
  if (with_single_output_layer<T>(cls, cfg, fixture, as_call)) return call;
  if (cls == "LSTM") {
    auto lstm = std::make_shared<strata::LSTM<T>>(make_lstm<T>(cfg, fixture));
    lstm->set_weights(weights);
    return [lstm](const std::vector<AnyTensor<T>>& in) {
      if (in.size() == 3) {
        return lstm->outputs(in[0], strata::LSTMState<T>{in[1].template get<2>(), in[2].template get<2>()});
      }
      REQUIRE(in.size() == 1);
      return lstm->outputs(in[0]);
    };
  }
  if (cls == "TimeDistributed") {
    const json& inner = cfg.at("layer");
    const std::string inner_cls = inner.at("class_name");
    const std::string name = cfg.value("name", "");
    const auto wrapped = [&](auto inner_layer) {
      as_call(strata::TimeDistributed<decltype(inner_layer)>(std::move(inner_layer), name));
    };
    if (with_single_output_layer<T>(inner_cls, inner.at("config"), fixture, wrapped)) return call;
    if (inner_cls == "LSTM") {
      wrapped(make_lstm<T>(inner.at("config"), fixture));
      return call;
    }
    FAIL("unsupported wrapped layer " << inner_cls);
  }
  FAIL("unsupported layer " << cls);
  return {};
}

// The model as tfjs saved it: a Sequential chain, or a Functional ("Model") graph of the layers.
template <class T>
class Model {
 public:
  explicit Model(const json& fixture) {
    const json& mc = fixture.at("model_config");
    sequential_ = mc.at("class_name") == "Sequential";
    config_ = mc.at("config");
    std::map<std::string, const json*> layer_entries;
    for (const auto& l : fixture.at("layers")) layer_entries[l.at("name")] = &l;
    for (const auto& l : config_.at("layers")) {
      const std::string cls = l.at("class_name");
      if (cls == "InputLayer") continue;
      const std::string name = sequential_ ? l.at("config").at("name") : l.at("name");
      REQUIRE(layer_entries.count(name) == 1);
      order_.push_back(name);
      calls_[name] = build_layer<T>(*layer_entries[name], fixture);
    }
  }

  std::vector<AnyTensor<T>> predict(const std::vector<AnyTensor<T>>& inputs) const {
    if (sequential_) {
      std::vector<AnyTensor<T>> x = inputs;
      for (const auto& name : order_) x = calls_.at(name)(x);
      return x;
    }
    // Functional: tensors are keyed "layer:node:index"; inputs by the input layers' names. A layer
    // called several times (a shared layer) has one inbound node per call, and node n's outputs are
    // "layer:n:k". A node runs once all its inbound tensors exist, so the order of the layer list
    // does not matter (node 1 of a shared layer may need a layer listed after it).
    std::map<std::string, AnyTensor<T>> tensors;
    const json& input_layers = config_.at("input_layers");
    REQUIRE(input_layers.size() == inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) tensors[key(input_layers[i])] = inputs[i];
    struct Pending {
      std::string layer;
      std::size_t node;
      const json* refs;
    };
    std::vector<Pending> pending;
    for (const auto& l : config_.at("layers")) {
      if (l.at("class_name") == "InputLayer") continue;
      const json& nodes = l.at("inbound_nodes");
      REQUIRE(!nodes.empty());
      for (std::size_t n = 0; n < nodes.size(); ++n) pending.push_back({l.at("name"), n, &nodes[n]});
    }
    while (!pending.empty()) {
      std::vector<Pending> blocked;
      for (const auto& p : pending) {
        bool ready = true;
        for (const auto& ref : *p.refs) ready = ready && tensors.count(key(ref)) == 1;
        if (!ready) {
          blocked.push_back(p);
          continue;
        }
        std::vector<AnyTensor<T>> args;
        for (const auto& ref : *p.refs) args.push_back(tensors.at(key(ref)));
        auto outs = calls_.at(p.layer)(args);
        for (std::size_t k = 0; k < outs.size(); ++k) {
          tensors[p.layer + ":" + std::to_string(p.node) + ":" + std::to_string(k)] = std::move(outs[k]);
        }
      }
      INFO("nodes whose inputs never become available: " << blocked.size());
      REQUIRE(blocked.size() < pending.size());
      pending = std::move(blocked);
    }
    std::vector<AnyTensor<T>> result;
    for (const auto& ref : config_.at("output_layers")) result.push_back(tensors.at(key(ref)));
    return result;
  }

 private:
  static std::string key(const json& ref) {
    return ref[0].get<std::string>() + ":" + std::to_string(ref[1].get<int>()) + ":" +
           std::to_string(ref[2].get<int>());
  }

  bool sequential_ = true;
  json config_;
  std::vector<std::string> order_;
  std::map<std::string, Call<T>> calls_;
};

// Runs one fixture in scalar type T; returns the largest absolute error over all outputs.
template <class T>
double run_fixture(const json& fixture) {
  Model<T> model(fixture);
  std::vector<AnyTensor<T>> inputs;
  for (const auto& in : fixture.at("inputs")) inputs.push_back(tensor_from<T>(in));
  std::vector<AnyTensor<T>> got;
  if (fixture.value("call_sequence", false)) {
    // A stateful model fed the inputs one after the other; one output per call.
    for (const auto& x : inputs) {
      auto y = model.predict({x});
      REQUIRE(y.size() == 1);
      got.push_back(std::move(y[0]));
    }
  } else {
    got = model.predict(inputs);
  }
  const json& expected = fixture.at("outputs");
  REQUIRE(got.size() == expected.size());
  double worst = 0;
  for (std::size_t k = 0; k < got.size(); ++k) {
    const AnyTensor<T> want = tensor_from<T>(expected[k]);
    INFO("output " << k << " (" << expected[k].value("label", "") << ")");
    REQUIRE(got[k].shape() == want.shape());
    for (Index i = 0; i < want.size(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(got[k].data()[i]) - static_cast<double>(want.data()[i])));
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("keras parity: strata reproduces the tfjs (Keras) fixtures", "[parity]") {
  const std::string dir = STRATA_FIXTURE_DIR;
  const json index = read_json(dir + "/index.json");
  const char* only = std::getenv("STRATA_FIXTURE");
  const bool report = std::getenv("STRATA_PARITY_REPORT") != nullptr;
  int ran = 0;
  for (const auto& entry : index.at("cases")) {
    const std::string id = entry.at("group").get<std::string>() + "/" + entry.at("name").get<std::string>();
    if (only != nullptr && id != only) continue;
    ++ran;
    DYNAMIC_SECTION(id) {
      const json fixture = read_json(dir + "/" + entry.at("file").get<std::string>());
      const double err_float = run_fixture<float>(fixture);
      const double err_double = run_fixture<double>(fixture);
      if (report) std::cout << "parity " << id << " float " << err_float << " double " << err_double << "\n";
      CHECK(err_float <= 1e-5);
      CHECK(err_double <= 1e-5);
    }
  }
  // A misspelt STRATA_FIXTURE must not pass by running nothing.
  REQUIRE(ran > 0);
}

TEST_CASE("keras parity: Keras 3's hard_sigmoid differs from the Keras 2 formula the tfjs fixtures use", "[parity]") {
  // strata's "hard_sigmoid" is Keras 3's clip(x / 6 + 0.5); tfjs (like Keras 2) computes
  // clip(0.2 x + 0.5). Building the hard_sigmoid fixtures with the Keras 3 formula must miss them
  // clearly, which shows both that the fixtures exercise the formula and that the explicit mapping
  // to hard_sigmoid_keras2 is what makes them pass.
  const std::string dir = STRATA_FIXTURE_DIR;
  const json index = read_json(dir + "/index.json");
  const char* only = std::getenv("STRATA_FIXTURE");
  int ran = 0;
  for (const auto& entry : index.at("cases")) {
    const std::string id = entry.at("group").get<std::string>() + "/" + entry.at("name").get<std::string>();
    if (only != nullptr && id != only) continue;
    const json fixture = read_json(dir + "/" + entry.at("file").get<std::string>());
    if (fixture.value("formulas", json::object()).value("hard_sigmoid", "") != "keras2") continue;
    ++ran;
    DYNAMIC_SECTION(id) {
      use_keras3_hard_sigmoid = true;
      const double err = run_fixture<double>(fixture);
      use_keras3_hard_sigmoid = false;
      CHECK(err > 1e-4);
    }
  }
  if (only == nullptr) REQUIRE(ran >= 10);
}
