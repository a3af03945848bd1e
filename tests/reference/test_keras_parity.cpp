// SPDX-License-Identifier: MIT
// Keras parity: every fixture written by tools/keras-reference (TensorFlow.js Layers 4.22, a port
// of Keras, on its pure-JS CPU backend) is rebuilt here through strata's public API -- layers
// constructed from the Keras config, weights set from the get_weights() lists -- and its outputs
// compared with what tfjs computed, in float and in double.
//
// One ctest test per fixture: CMake sets STRATA_FIXTURE=<group>/<name>. Without it, every fixture
// runs. STRATA_PARITY_REPORT=1 prints each case's largest error (docs/keras-parity.md uses it).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <strata/io.hpp>
#include <strata/strata.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "support/catch.hpp"
#include "support/fixtures.hpp"

namespace {

using json = nlohmann::json;
using strata::AnyTensor;
using strata::Index;
using strata::Shape;
using test::read_json;
using test::tensor_from;

// "layer:node:index" of a Keras 2 reference [layer, node, index, ...] or a Keras 3 tensor.
std::string tensor_key(const json& t) {
  const json& ref = t.is_object() ? t.at("config").at("keras_history") : t;
  return ref[0].get<std::string>() + ":" + std::to_string(ref[1].get<int>()) + ":" + std::to_string(ref[2].get<int>());
}

bool is_tensor(const json& v) {
  return (v.is_object() && v.value("class_name", "") == "__keras_tensor__") ||
         (v.is_array() && v.size() >= 3 && v[0].is_string() && v[1].is_number_unsigned());
}

// One call of a layer as strata's loader reads its inbound node (src/io/model_config.hpp,
// call_inputs): the input tensors -- the positional ones (and initial states), then those passed by
// keyword, in key order -- and the call arguments the layer reads (LayerConfig::call_arguments):
// each bool, number or string argument but `training`, and {"input": i} for a tensor passed by
// keyword. tfjs and Keras 2 write a list of [layer, node, index, kwargs]; Keras 3 writes {"args":
// [...], "kwargs": {...}} with keras_history references.
struct NodeCall {
  std::vector<std::string> refs;
  json arguments = json::object();
};

NodeCall node_call(const json& node) {
  NodeCall c;
  json keyword = json::object();
  std::function<void(const json&)> add = [&](const json& t) {
    if (is_tensor(t)) {
      c.refs.push_back(tensor_key(t));
    } else if (t.is_array()) {
      for (const auto& e : t) add(e);  // a list of tensors (a merge layer's first argument)
    } else {
      throw std::runtime_error("not a tensor in a node's inputs: " + t.dump());
    }
  };
  const auto argument = [&](const std::string& k, const json& v) {
    if (k == "initial_state") {
      add(v);
    } else if (is_tensor(v)) {
      keyword[k] = v;
    } else if (k != "training" && k != "mask" && (v.is_boolean() || v.is_number() || v.is_string())) {
      c.arguments[k] = v;
    }
  };
  if (node.is_array()) {
    for (const auto& ref : node) {
      c.refs.push_back(tensor_key(ref));
      if (ref.size() >= 4) {
        for (const auto& [k, v] : ref[3].items()) argument(k, v);
      }
    }
  } else {
    for (const auto& a : node.at("args")) add(a);
    const json kwargs = node.value("kwargs", json::object());
    for (const auto& [k, v] : kwargs.items()) argument(k, v);
  }
  for (const auto& [k, v] : keyword.items()) {
    c.arguments[k] = {{"input", c.refs.size()}};
    add(v);
  }
  return c;
}

// tfjs writes Keras 2-style configs and computes hard_sigmoid with the Keras 2 formula; the fixture
// says so in "formulas", and the registry reads configs with the Keras version that wrote them, so
// a tfjs version maps hard_sigmoid to that formula (strata's hard_sigmoid_keras2). The difference
// test below flips this to build the same models as a Keras 3 file, with Keras 3's hard_sigmoid.
bool use_keras3_hard_sigmoid = false;
// The version-difference tests below rebuild a fixture as if another Keras version had written it.
std::string forced_keras_version;

strata::KerasVersion fixture_version(const json& fixture, const json& layer) {
  if (use_keras3_hard_sigmoid) return strata::KerasVersion::parse("3.6.0");
  if (!forced_keras_version.empty()) return strata::KerasVersion::parse(forced_keras_version);
  // A reference fixture written as a Keras (not tfjs) file records the version whose defaults and
  // rules it follows, as a .keras file's metadata does.
  const std::string recorded = fixture.at("model_config").value("keras_version", std::string());
  if (!recorded.empty() && recorded.find("tfjs") == std::string::npos) return strata::KerasVersion::parse(recorded);
  // A numpy/PyTorch fixture of Keras 3 semantics may name the Keras version its config stands for.
  if (fixture.contains("keras_version")) return strata::KerasVersion::parse(fixture.at("keras_version"));
  if (layer.dump().find("\"hard_sigmoid\"") != std::string::npos) {
    const auto formulas = fixture.value("formulas", json::object());
    REQUIRE(formulas.value("hard_sigmoid", "") == "keras2");
  }
  return strata::KerasVersion::parse("tfjs-layers " + fixture.value("tfjs_version", std::string("4.22.0")));
}

// A layer's outputs and, for each, the Keras mask it carries (none: nullopt).
template <class T>
struct Flow {
  std::vector<AnyTensor<T>> tensors;
  std::vector<std::optional<strata::Mask>> masks;
};

// A built layer behind a uniform call: inputs (the tensor(s), then any initial states) and each
// input's mask (null: none; fewer masks than inputs: the rest have none) -> outputs with their masks.
template <class T>
using Call = std::function<Flow<T>(const std::vector<AnyTensor<T>>&, const std::vector<const strata::Mask*>&)>;

template <class T>
strata::Weights<T> weights_from(const json& layer) {
  strata::Weights<T> w;
  for (const auto& entry : layer.at("weights")) w.push_back(tensor_from<T>(entry, true));
  return w;
}

// The layer as the loader builds it: its Keras config through strata's registry of Keras classes
// (the same code path as load_model, so a config key or default read wrong fails here too), the
// weights from the fixture's get_weights() lists, and Keras' call -- inputs, masks, outputs --
// through the layer's own graph call.
// `entry` is the layer's model_config entry: its registered_name (a keras-hub class) and the
// arguments of its first call (node_call: Attention's use_causal_mask, MultiHeadAttention's
// key=), which the loader hands the layer the same way.
template <class T>
Call<T> build_layer(const json& layer, const json& fixture, const json& entry) {
  const std::string cls = layer.at("class_name");
  const strata::Config config = strata::io::parse_config(layer.at("config").dump(), "fixture layer");
  strata::LayerConfig<T> layer_config(strata::registry<T>(), cls, config, fixture_version(fixture, layer),
                                      "keras parity fixture '" + fixture.value("name", std::string()) + "'");
  if (entry.contains("registered_name") && entry.at("registered_name").is_string())
    layer_config.set_registered_name(entry.at("registered_name").get<std::string>());
  const json arguments = entry.contains("inbound_nodes") && !entry.at("inbound_nodes").empty()
                             ? node_call(entry.at("inbound_nodes")[0]).arguments
                             : json::object();
  layer_config.set_call_arguments(strata::io::parse_config(arguments.dump(), "fixture call arguments"));
  auto built = std::make_shared<strata::AnyLayer<T>>(strata::registry<T>().build(layer_config));
  built->set_weights(weights_from<T>(layer));
  return [built](const std::vector<AnyTensor<T>>& in, const std::vector<const strata::Mask*>& masks) {
    strata::GraphCall<T> call;
    for (std::size_t k = 0; k < in.size(); ++k) {
      strata::GraphInput<T> input;
      input.tensor = strata::TensorView<T>(in[k]);
      if (k < masks.size() && masks[k] != nullptr) input.mask = std::make_shared<const strata::Mask>(*masks[k]);
      call.inputs.push_back(std::move(input));
    }
    built->call_graph(call);
    REQUIRE(call.masks.size() == call.outputs.size());
    Flow<T> f;
    f.tensors = std::move(call.outputs);
    for (const auto& m : call.masks) f.masks.push_back(m ? std::optional<strata::Mask>(*m) : std::nullopt);
    return f;
  };
}

// The model as tfjs saved it: a Sequential chain, or a Functional ("Model") graph of the layers.
// Masks flow with the tensors as in Keras. A fixture's "call_mask" is the explicit mask its one
// layer was called with (the model file cannot hold it).
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
      if (layer_entries[name]->contains("layers")) {
        // A nested model (a Sequential or Functional used as a layer): its own fixture of its
        // layers, run as a model. tfjs counts its calls from node 1 (node 0 is its own input's).
        json sub = {{"name", fixture.value("name", std::string())},
                    {"model_config", {{"class_name", cls}, {"config", l.at("config")}}},
                    {"layers", layer_entries[name]->at("layers")}};
        if (mc.contains("keras_version")) sub["model_config"]["keras_version"] = mc.at("keras_version");
        auto nested = std::make_shared<Model<T>>(sub);
        calls_[name] = [nested](const std::vector<AnyTensor<T>>& in, const std::vector<const strata::Mask*>&) {
          return Flow<T>{nested->predict(in), {}};
        };
        first_node_[name] = 1;
        continue;
      }
      calls_[name] = build_layer<T>(*layer_entries[name], fixture, l);
    }
    if (fixture.contains("call_mask")) {
      const json& cm = fixture.at("call_mask");
      call_mask_ = strata::Mask(cm.at("shape")[0].get<Index>(), cm.at("shape")[1].get<Index>());
      for (std::size_t i = 0; i < cm.at("data").size(); ++i) call_mask_->data()[i] = cm.at("data")[i].get<int>() != 0;
      REQUIRE(order_.size() == 1);
    }
  }

  std::vector<AnyTensor<T>> predict(const std::vector<AnyTensor<T>>& inputs) const {
    const strata::Mask* given = call_mask_ ? &*call_mask_ : nullptr;
    if (sequential_) {
      Flow<T> x{inputs, {}};
      std::optional<strata::Mask> mask;
      for (const auto& name : order_) {
        const strata::Mask* m = given != nullptr ? given : (mask ? &*mask : nullptr);
        x = calls_.at(name)(x.tensors, {m});
        mask = x.masks.empty() ? std::nullopt : x.masks[0];
      }
      return x.tensors;
    }
    // Functional: tensors are keyed "layer:node:index"; inputs by the input layers' names. A layer
    // called several times (a shared layer) has one inbound node per call, and node n's outputs are
    // "layer:n:k". A node runs once all its inbound tensors exist, so the order of the layer list
    // does not matter (node 1 of a shared layer may need a layer listed after it).
    std::map<std::string, AnyTensor<T>> tensors;
    std::map<std::string, std::optional<strata::Mask>> masks;
    const json& input_layers = config_.at("input_layers");
    REQUIRE(input_layers.size() == inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) tensors[tensor_key(input_layers[i])] = inputs[i];
    struct Pending {
      std::string layer;
      std::size_t node;
      std::vector<std::string> refs;
    };
    std::vector<Pending> pending;
    for (const auto& l : config_.at("layers")) {
      if (l.at("class_name") == "InputLayer") continue;
      const json& nodes = l.at("inbound_nodes");
      REQUIRE(!nodes.empty());
      const std::size_t first = first_node_.count(l.at("name")) ? first_node_.at(l.at("name")) : 0;
      for (std::size_t n = 0; n < nodes.size(); ++n)
        pending.push_back({l.at("name"), first + n, node_call(nodes[n]).refs});
    }
    while (!pending.empty()) {
      std::vector<Pending> blocked;
      for (const auto& p : pending) {
        bool ready = true;
        for (const auto& ref : p.refs) ready = ready && tensors.count(ref) == 1;
        if (!ready) {
          blocked.push_back(p);
          continue;
        }
        std::vector<AnyTensor<T>> args;
        for (const auto& ref : p.refs) args.push_back(tensors.at(ref));
        // Keras passes every input's mask; an explicit call mask is the first input's.
        std::vector<const strata::Mask*> arg_masks;
        for (const auto& ref : p.refs) {
          const auto& m = masks[ref];
          arg_masks.push_back(m ? &*m : nullptr);
        }
        if (given != nullptr) arg_masks[0] = given;
        Flow<T> outs = calls_.at(p.layer)(args, arg_masks);
        for (std::size_t k = 0; k < outs.tensors.size(); ++k) {
          const std::string out_key = p.layer + ":" + std::to_string(p.node) + ":" + std::to_string(k);
          tensors[out_key] = std::move(outs.tensors[k]);
          if (k < outs.masks.size()) masks[out_key] = outs.masks[k];
        }
      }
      INFO("nodes whose inputs never become available: " << blocked.size());
      REQUIRE(blocked.size() < pending.size());
      pending = std::move(blocked);
    }
    std::vector<AnyTensor<T>> result;
    for (const auto& ref : config_.at("output_layers")) result.push_back(tensors.at(tensor_key(ref)));
    return result;
  }

 private:
  bool sequential_ = true;
  json config_;
  std::vector<std::string> order_;
  std::map<std::string, Call<T>> calls_;
  std::map<std::string, std::size_t> first_node_;  // a nested model's first node index
  std::optional<strata::Mask> call_mask_;
};

// Where tfjs and Keras 3 (TensorFlow backend) differ on masked steps, Keras 3 wins: the fixture's
// "formulas" say which tfjs rule it shows, and the expected output is turned into Keras 3's.
//  - masked_output_before_first_step = initial_h: tfjs outputs h0 at the masked steps before a
//    sample's first kept step; TensorFlow outputs 0 there.
//  - bidirectional_masked_output = previous: tfjs' Bidirectional repeats the previous output at
//    masked steps; Keras 3 forces zero_output_for_mask on its layers when they return sequences.
// Returns how many expected values changed (nonzero in tfjs, 0 in Keras 3).
int keras3_changes = 0;
bool keras3_applies = false;  // the fixture has an output where the rules above apply

template <class T>
int to_keras3(const json& fixture, const std::vector<AnyTensor<T>>& inputs, std::size_t output, AnyTensor<T>& want) {
  const json formulas = fixture.value("formulas", json::object());
  const bool initial_h = formulas.value("masked_output_before_first_step", "") == "initial_h";
  const bool bidi_previous = formulas.value("bidirectional_masked_output", "") == "previous";
  if (!initial_h && !bidi_previous) return 0;
  // The mask: the explicit call mask, else the Masking layer's or Embedding's on the first input.
  std::optional<strata::Mask> mask;
  const json* rnn = nullptr;
  for (const auto& l : fixture.at("model_config").at("config").at("layers")) {
    const std::string cls = l.at("class_name");
    if (cls == "Masking") {
      mask = strata::Masking<T>(static_cast<T>(l.at("config").at("mask_value").get<double>())).compute_mask(inputs[0]);
    }
    if (cls == "Embedding" && l.at("config").value("mask_zero", false)) {
      const Shape& in = inputs[0].shape();
      mask = strata::Mask(in[0], in[1]);
      for (Index i = 0; i < in.size(); ++i) mask->data()[i] = inputs[0].data()[i] != T(0);
    }
    if (cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN" || cls == "Bidirectional") rnn = &l.at("config");
  }
  if (fixture.contains("call_mask")) {
    const json& cm = fixture.at("call_mask");
    mask = strata::Mask(cm.at("shape")[0].get<Index>(), cm.at("shape")[1].get<Index>());
    for (std::size_t i = 0; i < cm.at("data").size(); ++i) mask->data()[i] = cm.at("data")[i].get<int>() != 0;
  }
  REQUIRE(mask.has_value());
  REQUIRE(rnn != nullptr);
  const bool bidi = rnn->contains("layer");
  const json& rcfg = bidi ? rnn->at("layer").at("config") : *rnn;
  const bool sequences = rcfg.at("return_sequences").get<bool>();
  // Only sequence outputs of the RNN differ (states and last outputs agree).
  const std::size_t sequence_outputs = bidi && rnn->at("merge_mode").is_null() ? 2 : 1;
  if (!sequences || output >= sequence_outputs || want.shape().rank() != 3) return 0;
  const Index batch = want.shape()[0], steps = want.shape()[1], width = want.shape()[2];
  keras3_applies = true;
  int changed = 0;
  const auto zero = [&](Index b, Index s) {
    for (Index j = 0; j < width; ++j) {
      T& v = want.data()[(b * steps + s) * width + j];
      if (v != T(0)) ++changed;
      v = T(0);
    }
  };
  for (Index b = 0; b < batch; ++b) {
    if (bidi_previous && bidi) {
      for (Index t = 0; t < steps; ++t) {
        if (!(*mask)(b, t)) zero(b, t);
      }
    }
    if (initial_h && !bidi) {
      const bool backwards = rcfg.at("go_backwards").get<bool>();
      for (Index s = 0; s < steps; ++s) {
        const Index t = backwards ? steps - 1 - s : s;
        if ((*mask)(b, t)) break;
        zero(b, s);
      }
    }
  }
  return changed;
}

// Runs one fixture in scalar type T; returns the largest absolute error over all outputs.
template <class T>
double run_fixture(const json& fixture) {
  Model<T> model(fixture);
  std::vector<AnyTensor<T>> inputs;
  for (const auto& in : fixture.at("inputs")) inputs.push_back(tensor_from<T>(in, true));
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
  // A reference whose float32 result differs from its float64 one beyond rounding (attention rows
  // masked everywhere: Keras' -1e9 swallows the scores in float32 only) gives the float32 values too.
  const json& expected = std::is_same_v<T, float> && fixture.contains("outputs_float32") ? fixture.at("outputs_float32")
                                                                                         : fixture.at("outputs");
  REQUIRE(got.size() == expected.size());
  double worst = 0;
  for (std::size_t k = 0; k < got.size(); ++k) {
    AnyTensor<T> want = tensor_from<T>(expected[k]);
    keras3_changes += to_keras3(fixture, inputs, k, want);
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
      keras3_changes = 0;
      keras3_applies = false;
      const double err_float = run_fixture<float>(fixture);
      const double err_double = run_fixture<double>(fixture);
      if (report) std::cout << "parity " << id << " float " << err_float << " double " << err_double << "\n";
      CHECK(err_float <= 1e-5);
      CHECK(err_double <= 1e-5);
      // A fixture marked as showing a tfjs / Keras 3 difference must actually show it.
      if (keras3_applies) {
        INFO("values where tfjs differs from Keras 3: " << keras3_changes);
        CHECK(keras3_changes > 0);
      }
    }
  }
  // A misspelt STRATA_FIXTURE must not pass by running nothing.
  REQUIRE(ran > 0);
}

// The PyTorch/numpy reference fixtures: tools/torch-reference/make_gru_fixtures.py writes
// fixtures_torch/ itself (ids "torch/<name>"); every other reference family writes a folder of its
// own, fixtures_torch/<family>/ with its index.json (ids "torch/<family>/<name>"), found here and by
// tests/CMakeLists.txt without a list to edit.
std::vector<std::pair<std::string, std::string>> torch_fixtures() {
  namespace fs = std::filesystem;
  const std::string dir = STRATA_TORCH_FIXTURE_DIR;
  std::vector<std::pair<std::string, std::string>> found;
  const auto add_index = [&](const std::string& folder, const std::string& prefix) {
    const json index = read_json(folder + "/index.json");
    for (const auto& entry : index.at("cases")) {
      found.emplace_back(prefix + entry.at("name").get<std::string>(),
                         folder + "/" + entry.at("file").get<std::string>());
    }
  };
  add_index(dir, "torch/");
  std::vector<std::string> families;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && fs::exists(e.path() / "index.json")) families.push_back(e.path().filename().string());
  }
  std::sort(families.begin(), families.end());
  for (const auto& f : families) add_index(dir + "/" + f, "torch/" + f + "/");
  return found;
}

TEST_CASE("keras parity: strata reproduces the PyTorch/numpy reference fixtures (tools/torch-reference)",
          "[parity][torch]") {
  // What tfjs cannot build (GRU reset_after=True, layers tfjs lacks) computed by PyTorch or numpy in
  // float64, with weights mapped to Keras' layout (each script's README gives its mapping). A
  // fixture may ask for a looser double tolerance ("tolerance_double", at most 1e-5) when its
  // reference is not exact to float64 rounding; the float tolerance is 1e-5 throughout.
  const char* only = std::getenv("STRATA_FIXTURE");
  // A tfjs fixture's run, or the cross-check's (the next test case).
  if (only != nullptr && (std::string(only).rfind("torch/", 0) != 0 || std::string(only) == "torch/crosscheck" ||
                          std::string(only) == "torch/versions"))
    return;
  const bool report = std::getenv("STRATA_PARITY_REPORT") != nullptr;
  int ran = 0;
  for (const auto& [id, file] : torch_fixtures()) {
    if (only != nullptr && id != only) continue;
    ++ran;
    DYNAMIC_SECTION(id) {
      const json fixture = read_json(file);
      REQUIRE((fixture.at("reference") == "pytorch" || fixture.at("reference") == "numpy"));
      const double tol_double = fixture.value("tolerance_double", 1e-12);
      REQUIRE(tol_double <= 1e-5);
      const double err_float = run_fixture<float>(fixture);
      const double err_double = run_fixture<double>(fixture);
      if (report) std::cout << "parity " << id << " float " << err_float << " double " << err_double << "\n";
      CHECK(err_float <= 1e-5);
      CHECK(err_double <= tol_double);
    }
  }
  REQUIRE(ran > 0);
}

TEST_CASE("keras parity: the PyTorch GRU mapping agrees with tfjs where both GRU variants coincide",
          "[parity][torch]") {
  // With the recurrent kernel's h block and the recurrent bias's h part zero, reset_after=True
  // (PyTorch) and reset_after=False (tfjs, bias = row 0 + row 1) compute the same function. Both
  // references ran the same weights and input: their outputs must agree without strata involved.
  const char* only = std::getenv("STRATA_FIXTURE");
  if (only != nullptr && std::string(only) != "torch/crosscheck") return;
  const json torch = read_json(std::string(STRATA_TORCH_FIXTURE_DIR) + "/gru_crosscheck.json");
  const json tfjs = read_json(std::string(STRATA_FIXTURE_DIR) + "/gru/gru_torch_crosscheck.json");
  REQUIRE(torch.at("inputs")[0].at("data") == tfjs.at("inputs")[0].at("data"));
  const auto a = tensor_from<double>(torch.at("outputs")[0]);
  const auto b = tensor_from<double>(tfjs.at("outputs")[0]);
  REQUIRE(a.shape() == b.shape());
  double worst = 0;
  for (Index i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
  CHECK(worst < 1e-6);
  // And the h block is really zero, so the case tests the mapping of z, r and the kernel.
  const auto rk = tensor_from<double>(torch.at("layers")[0].at("weights")[1]);
  const Index u = rk.shape()[0];
  for (Index k = 0; k < u; ++k) {
    for (Index j = 2 * u; j < 3 * u; ++j) CHECK(rk.data()[k * 3 * u + j] == 0.0);
  }
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

TEST_CASE("keras parity: fixtures whose Keras version decides a rule miss when read as another version",
          "[parity][torch]") {
  // The activation fixtures record the Keras version whose rules they follow; read as another
  // version they must fail clearly, which shows that the version decides (and that the fixtures
  // tell the rules apart): Keras 3.10+'s Softmax zeroes masked outputs (a fully masked row), Keras 2
  // and tfjs do not; Keras 3 writes LeakyReLU's slope as negative_slope, Keras 2 as alpha.
  const char* only = std::getenv("STRATA_FIXTURE");
  if (only != nullptr && std::string(only) != "torch/versions") return;
  const std::string dir = std::string(STRATA_TORCH_FIXTURE_DIR) + "/activations/";
  const std::pair<const char*, const char*> cases[] = {{"softmax_mask_keras3_13", "2.15.0"},
                                                       {"softmax_mask_keras3_10", "tfjs-layers 4.22.0"},
                                                       {"leaky_relu_keras3_negative_slope", "2.15.0"}};
  for (const auto& [name, version] : cases) {
    DYNAMIC_SECTION(name << " read as " << version) {
      const json fixture = read_json(dir + name + ".json");
      CHECK(run_fixture<double>(fixture) <= 1e-12);
      forced_keras_version = version;
      const double err = run_fixture<double>(fixture);
      forced_keras_version.clear();
      CHECK(err > 1e-3);
    }
  }
}
