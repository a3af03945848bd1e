// SPDX-License-Identifier: MIT
// strata::load_model on real model files: every TF.js model the Keras reference generator saved
// (tests/reference/fixtures/*/*/model.json) and the .keras / legacy .h5 files written by
// tools/keras-files (tests/io/fixtures), each compared with the outputs tfjs computed.
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <strata/io.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/fixtures.hpp"

namespace {

using json = nlohmann::json;
using strata::AnyTensor;
using strata::Index;
using strata::Shape;
using test::read_bytes;
using test::read_json;
using test::tensor_from;

const std::string reference_dir = STRATA_REFERENCE_DIR;
const std::string io_dir = STRATA_IO_FIXTURE_DIR;

// Runs a loaded model on a reference fixture's inputs; returns the largest absolute error.
template <class T>
double run(strata::Model<T>& model, const json& fixture) {
  std::vector<AnyTensor<T>> inputs;
  for (const auto& in : fixture.at("inputs")) inputs.push_back(tensor_from<T>(in));
  std::vector<AnyTensor<T>> got;
  if (fixture.value("call_sequence", false)) {
    for (const auto& x : inputs) got.push_back(model.predict(x));
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
    const AnyTensor<T> want = tensor_from<T>(expected[k]);
    INFO("output " << k);
    REQUIRE(got[k].shape() == want.shape());
    for (Index i = 0; i < want.size(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(got[k].data()[i]) - static_cast<double>(want.data()[i])));
    }
  }
  return worst;
}

// The (batch, time) mask a fixture's model computes from its first input: the Masking layer's
// mask_value on x, or Embedding(mask_zero)'s ids != 0.
std::vector<std::vector<bool>> fixture_mask(const json& fixture) {
  const json& x = fixture.at("inputs").at(0);
  const auto batch = x.at("shape").at(0).get<std::size_t>();
  const auto steps = x.at("shape").at(1).get<std::size_t>();
  const std::size_t features = x.at("shape").size() == 3 ? x.at("shape").at(2).get<std::size_t>() : 1;
  const json& data = x.at("data");
  for (const auto& layer : fixture.at("model_config").at("config").at("layers")) {
    const std::string cls = layer.at("class_name");
    const json& cfg = layer.at("config");
    std::vector<std::vector<bool>> mask(batch, std::vector<bool>(steps, false));
    if (cls == "Masking") {
      const double value = cfg.value("mask_value", 0.0);
      for (std::size_t b = 0; b < batch; ++b) {
        for (std::size_t t = 0; t < steps; ++t) {
          for (std::size_t f = 0; f < features; ++f) {
            if (data.at((b * steps + t) * features + f).get<double>() != value) mask[b][t] = true;
          }
        }
      }
      return mask;
    }
    if (cls == "Embedding" && cfg.value("mask_zero", false)) {
      for (std::size_t b = 0; b < batch; ++b) {
        for (std::size_t t = 0; t < steps; ++t) mask[b][t] = data.at(b * steps + t).get<double>() != 0;
      }
      return mask;
    }
  }
  throw std::runtime_error("the fixture's model has no Masking or Embedding(mask_zero) layer");
}

// The go_backwards of the fixture's (only) recurrent layer.
bool fixture_go_backwards(const json& fixture) {
  for (const auto& layer : fixture.at("model_config").at("config").at("layers")) {
    const std::string cls = layer.at("class_name");
    if (cls == "LSTM" || cls == "GRU" || cls == "SimpleRNN") return layer.at("config").value("go_backwards", false);
  }
  throw std::runtime_error("the fixture's model has no recurrent layer");
}

// Where tfjs and strata (which follows Keras 3 on its TensorFlow backend) compute different masked
// outputs, the tfjs outputs are changed into what Keras 3 / TF computes (see
// tools/keras-reference/README.md, "formulas"):
// - masked_output_before_first_step = initial_h: tfjs emits h0 at the masked steps before the
//   first kept step (in processing order), TF emits zeros;
// - bidirectional_masked_output = previous: tfjs' Bidirectional repeats the previous output at
//   masked steps, Keras 3 (zero_output_for_mask = return_sequences) emits zeros.
// Returns the number of non-zero values replaced (the adjustment must change something).
std::size_t adjust_masked_outputs(json& fixture) {
  if (!fixture.contains("formulas")) return 0;
  const json& formulas = fixture.at("formulas");
  const bool initial_h = formulas.value("masked_output_before_first_step", "") == "initial_h";
  const bool previous = formulas.value("bidirectional_masked_output", "") == "previous";
  if (!initial_h && !previous) return 0;
  REQUIRE(!fixture.value("call_mask", json()).is_object());
  const auto mask = fixture_mask(fixture);
  REQUIRE(fixture.at("outputs").size() == 1);
  json& y = fixture.at("outputs").at(0);
  REQUIRE(y.at("shape").size() == 3);
  const auto batch = y.at("shape").at(0).get<std::size_t>();
  const auto steps = y.at("shape").at(1).get<std::size_t>();
  const auto units = y.at("shape").at(2).get<std::size_t>();
  REQUIRE(mask.size() == batch);
  REQUIRE(mask.at(0).size() == steps);
  std::size_t nonzero = 0;
  auto zero = [&](std::size_t b, std::size_t position) {
    for (std::size_t j = 0; j < units; ++j) {
      json& v = y.at("data").at((b * steps + position) * units + j);
      if (v.get<double>() != 0) ++nonzero;
      v = 0.0;
    }
  };
  const bool backwards = initial_h && fixture_go_backwards(fixture);
  for (std::size_t b = 0; b < batch; ++b) {
    if (initial_h) {
      // The output sequence is in processing order: position s holds step t = T-1-s when
      // go_backwards. Zero the leading run of masked steps.
      for (std::size_t s = 0; s < steps && !mask[b][backwards ? steps - 1 - s : s]; ++s) zero(b, s);
    } else {
      // Bidirectional(return_sequences): the merged output is in input order.
      for (std::size_t t = 0; t < steps; ++t) {
        if (!mask[b][t]) zero(b, t);
      }
    }
  }
  return nonzero;
}

}  // namespace

TEST_CASE("load_model reads every TF.js model the Keras reference generator saved", "[io][tfjs]") {
  const json index = read_json(reference_dir + "/index.json");
  REQUIRE(index.at("cases").size() >= 100);
  // Cases with a top-level call_mask call their layer with an explicit mask, which no model file
  // can hold (tools/keras-reference/README.md): they are counted and skipped here, and checked
  // against the number the index marks (7 in rnn_explicit_mask, 2 in mask_initial_state, 1 in
  // activation_layers).
  std::size_t call_mask_cases = 0;
  for (const auto& entry : index.at("cases")) call_mask_cases += entry.value("call_mask", false) ? 1 : 0;
  CHECK(call_mask_cases == 9 + 1);
  std::size_t skipped = 0;
  std::size_t adjusted = 0;
  std::size_t compared = 0;
  for (const auto& entry : index.at("cases")) {
    const std::string id = entry.at("group").get<std::string>() + "/" + entry.at("name").get<std::string>();
    if (entry.value("call_mask", false)) {
      CHECK(read_json(reference_dir + "/" + entry.at("file").get<std::string>()).contains("call_mask"));
      ++skipped;
      continue;
    }
    const json formulas = entry.value("formulas", json::object());
    const bool masked_formula =
        formulas.contains("masked_output_before_first_step") || formulas.contains("bidirectional_masked_output");
    adjusted += masked_formula ? 1 : 0;
    ++compared;
    DYNAMIC_SECTION(id) {
      json fixture = read_json(reference_dir + "/" + entry.at("file").get<std::string>());
      REQUIRE(!fixture.contains("call_mask"));
      const std::size_t replaced = adjust_masked_outputs(fixture);
      if (masked_formula) {
        INFO("the tfjs outputs at the adjusted masked steps must have been non-zero");
        CHECK(replaced > 0);
      }
      const std::string path = reference_dir + "/" + entry.at("model_json").get<std::string>();
      auto model_f = strata::load_model<float>(path);
      CHECK(run(model_f, fixture) <= 1e-5);
      auto model_d = strata::load_model<double>(path);
      CHECK(run(model_d, fixture) <= 1e-5);
    }
  }
  CHECK(skipped == call_mask_cases);
  // masking_bidi_lstm_seq, emb_mask_bidi_lstm_seq (previous) and the three mask_initial_state
  // cases without call_mask (initial_h).
  CHECK(adjusted == 5);
  CHECK(compared + skipped == index.at("cases").size());
}

// --- Bad files: each is a typed strata error naming the problem, never a crash or a wrong model.
namespace {

// A TF.js model in memory (model.json parsed, its one shard's bytes), to be broken.
struct TfjsModel {
  json model;
  std::string shard;

  static TfjsModel load(const std::string& case_dir) {
    TfjsModel m;
    m.model = read_json(reference_dir + "/" + case_dir + "/model.json");
    m.shard = read_bytes(reference_dir + "/" + case_dir + "/group1-shard1of1.bin");
    return m;
  }
  strata::Model<float> open() const {
    return strata::io::load_tfjs_from_memory<float>(model.dump(), {{"group1-shard1of1.bin", shard}}, "test/model.json");
  }
  json& layers() { return model["modelTopology"]["config"]["layers"]; }
  json& manifest_weights() { return model["weightsManifest"][0]["weights"]; }
};

}  // namespace

TEST_CASE("load_model: a file that is not a model is an io_error", "[io][bad]") {
  CHECK_THROWS_AS(strata::io::load_model_from_memory<float>("GIF89a not a model"), strata::io_error);
  CHECK_THROWS_AS(strata::io::load_model_from_memory<float>(""), strata::io_error);
  CHECK_THROWS_WITH(strata::load_model<float>(reference_dir + "/no/such/model.json"),
                    Catch::Contains("cannot open") && Catch::Contains("no/such/model.json"));
  // index.json is JSON but not a model.
  CHECK_THROWS_AS(strata::load_model<float>(reference_dir + "/index.json"), strata::io_error);
}

TEST_CASE("load_model: truncated TF.js files are io_errors", "[io][bad]") {
  TfjsModel m = TfjsModel::load("lstm_stacked/stacked2_seq");
  REQUIRE_NOTHROW(m.open());
  // The shard cut short: the manifest needs more bytes than there are.
  TfjsModel cut = m;
  cut.shard.resize(cut.shard.size() / 2);
  CHECK_THROWS_WITH(cut.open(), Catch::Contains("needs") && Catch::Contains("bytes"));
  CHECK_THROWS_AS(cut.open(), strata::io_error);
  // model.json cut short.
  const std::string text = m.model.dump();
  for (std::size_t n : {std::size_t(0), std::size_t(1), text.size() / 3, text.size() - 1}) {
    CHECK_THROWS_AS(strata::io::load_tfjs_from_memory<float>(text.substr(0, n), {{"group1-shard1of1.bin", m.shard}}),
                    strata::io_error);
  }
}

TEST_CASE("load_model: missing, extra and misshapen weights are errors naming the layer", "[io][bad]") {
  TfjsModel m = TfjsModel::load("lstm_stacked/stacked2_seq");
  const std::string second = m.layers()[1]["config"]["name"];
  SECTION("a layer without weights in the manifest") {
    TfjsModel bad = m;
    json kept = json::array();
    for (const auto& w : bad.manifest_weights()) {
      if (w["name"].get<std::string>().rfind(second + "/", 0) != 0) kept.push_back(w);
    }
    bad.manifest_weights() = kept;
    CHECK_THROWS_AS(bad.open(), strata::io_error);
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("'" + second + "'") && Catch::Contains("no weights"));
  }
  SECTION("weights no layer uses") {
    TfjsModel bad = m;
    json extra = bad.manifest_weights().back();
    extra["name"] = "ghost/bias";
    bad.manifest_weights().push_back(extra);
    bad.shard += bad.shard.substr(0, 4 * 64);
    CHECK_THROWS_AS(bad.open(), strata::model_error);
  }
  SECTION("a kernel of the wrong shape") {
    TfjsModel bad = m;
    auto& kernel = bad.manifest_weights()[0];
    const auto rows = kernel["shape"][0].get<Index>();
    const auto cols = kernel["shape"][1].get<Index>();
    REQUIRE(cols % 4 == 0);
    kernel["shape"] = {rows * 4, cols / 4};  // same byte count, wrong shape
    CHECK_THROWS_AS(bad.open(), strata::model_error);
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("kernel") && Catch::Contains("must have shape"));
  }
  SECTION("absurd declared sizes") {
    TfjsModel bad = m;
    bad.manifest_weights()[0]["shape"] = {Index(1) << 40, Index(1) << 40};
    CHECK_THROWS_AS(bad.open(), strata::load_error);
    TfjsModel huge_input = m;
    huge_input.layers()[0]["config"]["batch_input_shape"] = {nullptr, Index(1) << 40, Index(1) << 40};
    CHECK_THROWS_AS(huge_input.open(), strata::load_error);
    TfjsModel negative = m;
    negative.layers()[0]["config"]["batch_input_shape"] = {nullptr, -3, 2};
    CHECK_THROWS_AS(negative.open(), strata::io_error);
  }
}

TEST_CASE("load_model: unsupported layers and options are unsupported_errors naming layer and class", "[io][bad]") {
  TfjsModel m = TfjsModel::load("lstm_stacked/stacked2_seq");
  SECTION("an unknown layer class") {
    TfjsModel bad = m;
    bad.layers()[1]["class_name"] = "StrataTestUnknownLayer";
    const std::string name = bad.layers()[1]["config"]["name"];
    CHECK_THROWS_AS(bad.open(), strata::unsupported_error);
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("'" + name + "'") && Catch::Contains("StrataTestUnknownLayer") &&
                                      Catch::Contains("not supported"));
    // Where to look: the supported classes, and how to register a custom one.
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("docs/loading-models.md, \"What is supported\"") &&
                                      Catch::Contains("strata::register_layer (docs/custom-layers.md)"));
  }
  SECTION("a string preprocessing layer: refused, saying why") {
    TfjsModel bad = m;
    bad.layers()[1]["class_name"] = "StringLookup";
    const std::string name = bad.layers()[1]["config"]["name"];
    CHECK_THROWS_AS(bad.open(), strata::unsupported_error);
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("layer '" + name + "' (StringLookup)") &&
                                      Catch::Contains("the layer class 'StringLookup' is not supported: Keras' string "
                                                      "and vocabulary preprocessing layers") &&
                                      Catch::Contains("numeric tensors do not hold") &&
                                      Catch::Contains("\"Not supported, and why\""));
  }
  SECTION("a custom activation") {
    TfjsModel bad = m;
    bad.layers()[0]["config"]["activation"] = {{"class_name", "MyActivation"}, {"config", {{"k", 1}}}};
    CHECK_THROWS_AS(bad.open(), strata::unsupported_error);
  }
  SECTION("an unknown activation name") {
    TfjsModel bad = m;
    bad.layers()[0]["config"]["activation"] = "frobnicate";
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("frobnicate"));
  }
  SECTION("time_major") {
    TfjsModel bad = m;
    bad.layers()[0]["config"]["time_major"] = true;
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("time_major"));
  }
  SECTION("a harmless option (unroll) is accepted") {
    TfjsModel ok = m;
    ok.layers()[0]["config"]["unroll"] = true;
    CHECK_NOTHROW(ok.open());
  }
  SECTION("a config value of the wrong JSON type") {
    TfjsModel bad = m;
    bad.layers()[0]["config"]["units"] = "many";
    CHECK_THROWS_AS(bad.open(), strata::io_error);
    TfjsModel bad2 = m;
    bad2.model["modelTopology"]["keras_version"] = 42;
    CHECK_THROWS_AS(bad2.open(), strata::io_error);
  }
}

TEST_CASE("load_model: Keras' RNN with cells -- errors name the cell, TF.js' state order", "[io][rnn]") {
  TfjsModel m = TfjsModel::load("rnn_cells/rnn_stacked_lstm_gru_simple_seq");
  REQUIRE_NOTHROW(m.open());
  json& rnn = m.layers()[0]["config"];
  SECTION("an unknown class among a stack's cells is what is reported, naming the cell") {
    TfjsModel bad = m;
    bad.layers()[0]["config"]["cell"]["config"]["cells"][1]["class_name"] = "StrataTestCell";
    CHECK_THROWS_AS(bad.open(), strata::unsupported_error);
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("wrapping 'gru_cell' (StrataTestCell)") &&
                                      Catch::Contains("the layer class 'StrataTestCell' is not supported"));
  }
  SECTION("a layer class as a cell") {
    TfjsModel bad = m;
    bad.layers()[0]["config"]["cell"]["config"]["cells"][0]["class_name"] = "Dense";
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("a 'Dense' cannot be a cell of StackedRNNCells"));
    TfjsModel bad2 = m;
    bad2.layers()[0]["config"]["cell"] = rnn["cell"]["config"]["cells"][0];
    bad2.layers()[0]["config"]["cell"]["class_name"] = "Dense";
    CHECK_THROWS_WITH(bad2.open(), Catch::Contains("its cell is a 'Dense', which is not a recurrent cell"));
  }
  SECTION("a stack nested in a stack, and Bidirectional(RNN(StackedRNNCells)): refused, saying what to do") {
    TfjsModel nested = m;
    json inner = rnn["cell"];
    inner["config"]["name"] = "inner_stack";
    nested.layers()[0]["config"]["cell"]["config"]["cells"][1] = inner;
    CHECK_THROWS_AS(nested.open(), strata::unsupported_error);
    CHECK_THROWS_WITH(nested.open(), Catch::Contains("a 'StackedRNNCells' cannot be a cell of StackedRNNCells") &&
                                         Catch::Contains("list its cells in the outer stack instead"));
    TfjsModel bidi = m;
    json wrapped = json::object();
    wrapped["class_name"] = "Bidirectional";
    wrapped["config"] = {{"name", "bidi"}, {"merge_mode", "concat"}, {"layer", m.layers()[0]}};
    wrapped["config"]["batch_input_shape"] = rnn["batch_input_shape"];
    bidi.layers()[0] = wrapped;
    CHECK_THROWS_AS(bidi.open(), strata::unsupported_error);
    CHECK_THROWS_WITH(bidi.open(), Catch::Contains("wraps an RNN of a 'StackedRNNCells', which strata's Bidirectional "
                                                   "does not take"));
  }
  SECTION("a cell outside RNN") {
    TfjsModel bad = m;
    bad.layers()[0] = rnn["cell"]["config"]["cells"][0];
    bad.layers()[0]["config"]["batch_input_shape"] = rnn["batch_input_shape"];
    CHECK_THROWS_AS(bad.open(), strata::unsupported_error);
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("a 'LSTMCell' is a recurrent cell, which Keras runs inside RNN"));
  }
  SECTION("a cell's weight of the wrong shape") {
    TfjsModel bad = m;
    bad.manifest_weights()[4]["shape"] = json::array({1, 1});  // the GRUCell's recurrent_kernel
    CHECK_THROWS_AS(bad.open(), strata::load_error);
  }
}

TEST_CASE("load_model: a stack's return_state outputs in TF.js' order and in Keras' order", "[io][rnn]") {
  // TF.js lists a stack's states last cell first; the same model read as a Keras file lists them
  // cell after cell (the fixture's expected outputs are TF.js').
  TfjsModel m = TfjsModel::load("rnn_cells/rnn_stacked_return_state");
  const json fixture = read_json(reference_dir + "/rnn_cells/rnn_stacked_return_state.json");
  const AnyTensor<float> x = tensor_from<float>(fixture.at("inputs")[0]);
  strata::Model<float> from_tfjs = m.open();
  const auto tfjs = from_tfjs.predict(std::vector<strata::TensorView<float>>{x});
  REQUIRE(tfjs.size() == 4);
  for (std::size_t k = 0; k < 4; ++k) {
    const AnyTensor<float> want = tensor_from<float>(fixture.at("outputs")[k]);
    REQUIRE(tfjs[k].shape() == want.shape());
    for (Index i = 0; i < want.size(); ++i) CHECK(std::abs(tfjs[k].data()[i] - want.data()[i]) <= 1e-5f);
  }
  const auto same = [](const AnyTensor<float>& a, const AnyTensor<float>& b) {
    return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.size(), b.data());
  };
  TfjsModel keras = m;
  keras.model["modelTopology"]["keras_version"] = "2.15.0";
  strata::Model<float> from_keras = keras.open();
  const auto k2 = from_keras.predict(std::vector<strata::TensorView<float>>{x});
  REQUIRE(k2.size() == 4);
  CHECK(same(k2[0], tfjs[0]));
  CHECK(same(k2[1], tfjs[2]));  // the LSTMCell's h and c first
  CHECK(same(k2[2], tfjs[3]));
  CHECK(same(k2[3], tfjs[1]));
}

TEST_CASE("load_model: a stateful LSTM inside TimeDistributed is rejected", "[io][bad]") {
  TfjsModel m = TfjsModel::load("td_lstm/td_lstm_seq");
  m.layers()[0]["config"]["layer"]["config"]["stateful"] = true;
  CHECK_THROWS_AS(m.open(), strata::unsupported_error);
  CHECK_THROWS_WITH(m.open(), Catch::Contains("stateful"));
}

TEST_CASE("load_model: names that are not UTF-8 are an io_error", "[io][bad]") {
  TfjsModel m = TfjsModel::load("lstm_stacked/stacked2_seq");
  std::string text = m.model.dump();
  const std::string name = "\"" + m.layers()[0]["config"]["name"].get<std::string>() + "\"";
  const auto at = text.find(name);
  REQUIRE(at != std::string::npos);
  text.replace(at + 1, 1, "\xff\xfe");
  CHECK_THROWS_AS(strata::io::load_tfjs_from_memory<float>(text, {{"group1-shard1of1.bin", m.shard}}),
                  strata::io_error);
}

TEST_CASE("Model checks the inputs predict is given", "[io]") {
  auto model = strata::load_model<float>(reference_dir + "/seed_model/seed_lstm5_td_dense/model.json");
  REQUIRE(model.input_count() == 1);
  CHECK(model.input_shapes()[0] == strata::DeclaredShape{-1, 10, 20});
  CHECK_THROWS_WITH(model.predict(strata::AnyTensor<float>(strata::Tensor<float, 3>(2, 10, 21))),
                    Catch::Contains("must have shape (None, 10, 20)") && Catch::Contains("(2, 10, 21)"));
  CHECK_THROWS_AS(model.predict(std::vector<strata::AnyTensor<float>>{}), strata::shape_error);
  const std::string summary = model.summary();
  CHECK_THAT(summary, Catch::Contains("(None, 10, 5)") && Catch::Contains("(None, 10, 1)") &&
                          Catch::Contains("Total params: " + std::to_string(4 * 5 * (20 + 5) + 4 * 5 + 5 + 1)));
}

TEST_CASE("load_model reads the .keras and legacy .h5 files written by tools/keras-files", "[io][keras][h5]") {
  const json index = read_json(io_dir + "/index.json");
  REQUIRE(index.at("cases").size() >= 30);
  for (const auto& entry : index.at("cases")) {
    const std::string name = entry.at("name");
    DYNAMIC_SECTION(name) {
      const std::string format = entry.at("format");
      const std::string file = io_dir + "/" + entry.at("file").get<std::string>();
      // Sources "torch:<case>" are the PyTorch GRU(reset_after=True) fixtures.
      const std::string source = entry.at("source");
      json fixture = source.rfind("torch:", 0) == 0
                         ? read_json(reference_dir + "/../fixtures_torch/" + source.substr(6) + ".json")
                         : read_json(reference_dir + "/" + source + ".json");
      adjust_masked_outputs(fixture);
      auto load = [&](auto tag) {
        using T = decltype(tag);
        if (format == "h5_weights") {
          return strata::load_model<T>(io_dir + "/" + entry.at("config").get<std::string>(), file);
        }
        return strata::load_model<T>(file);
      };
      auto model_f = load(float{});
      auto model_d = load(double{});
      if (entry.at("expect") == "match") {
        CHECK(run(model_f, fixture) <= 1e-5);
        CHECK(run(model_d, fixture) <= 1e-5);
      } else {
        // A Keras 3 file computes Keras 3's hard_sigmoid: it must miss the tfjs (Keras 2 formula)
        // outputs and hit the Keras 3 ones the fixture script computed with numpy.
        REQUIRE(entry.at("expect") == "differs");
        CHECK(run(model_d, fixture) > 1e-3);
        json keras3 = fixture;
        keras3["outputs"] = read_json(io_dir + "/" + entry.at("keras3_outputs").get<std::string>()).at("outputs");
        CHECK(run(model_f, keras3) <= 1e-5);
        CHECK(run(model_d, keras3) <= 1e-5);
      }
    }
  }
}

TEST_CASE("load_model: a Keras 1 file's per-gate weights become the same weights as a Keras 2 file's", "[io][h5]") {
  // The same models written by Keras 1.2.2 (LSTMs: twelve per-gate arrays each; GRU: nine) and by
  // Keras 2.2.4 / tf.keras 2.15 (kernel, recurrent_kernel, bias): after the layers' conversion the
  // weights must agree bit for bit, layer by layer.
  const std::pair<const char*, const char*> pairs[] = {
      {"h5/stacked2_mixed_rec_hard_sigmoid_keras1_th.h5", "h5/stacked2_mixed_rec_hard_sigmoid_nocolon.h5"},
      {"h5/masking_gru_seq_keras1_th.h5", "h5/masking_gru_seq.h5"},
      {"h5/td_lstm_seq_keras1_th.h5", "keras/td_lstm_seq.keras"},
      {"h5/bidi_lstm_concat_seq_keras1_tf.h5", "keras/bidi_lstm_concat_seq.keras"},
      {"h5/lstm_seq_rec_hard_sigmoid_keras1_tf_gpu.h5", "tfjs:lstm/lstm_seq_rec_hard_sigmoid"},
  };
  for (const auto& [keras1, other] : pairs) {
    DYNAMIC_SECTION(keras1) {
      const std::string second = other;
      const auto k1 = strata::load_model<float>(io_dir + "/" + keras1);
      const auto k2 = second.rfind("tfjs:", 0) == 0
                          ? strata::load_model<float>(reference_dir + "/" + second.substr(5) + "/model.json")
                          : strata::load_model<float>(io_dir + "/" + second);
      const strata::Weights<float> a = k1.get_weights();
      const strata::Weights<float> b = k2.get_weights();
      REQUIRE(a.size() == b.size());
      for (std::size_t i = 0; i < a.size(); ++i) {
        INFO("weight " << i);
        REQUIRE(a[i].shape() == b[i].shape());
        CHECK(std::memcmp(a[i].data(), b[i].data(), sizeof(float) * static_cast<std::size_t>(a[i].size())) == 0);
      }
    }
  }
}

TEST_CASE("load_model: truncated and corrupted .keras and .h5 files are typed errors", "[io][bad]") {
  const json index = read_json(io_dir + "/index.json");
  for (const char* format : {"keras", "h5"}) {
    std::string path;
    for (const auto& entry : index.at("cases")) {
      if (entry.at("format") == format) path = io_dir + "/" + entry.at("file").get<std::string>();
    }
    REQUIRE(!path.empty());
    const std::string bytes = read_bytes(path);
    REQUIRE_NOTHROW(strata::io::load_model_from_memory<float>(bytes, path));
    DYNAMIC_SECTION(format << " truncated") {
      for (std::size_t n : {std::size_t(4), std::size_t(100), bytes.size() / 4, bytes.size() / 2, bytes.size() - 1}) {
        INFO("first " << n << " bytes");
        CHECK_THROWS_AS(strata::io::load_model_from_memory<float>(bytes.substr(0, n), path), strata::load_error);
      }
    }
    // libhdf5 (1.10) trusts the structure of the files it reads: some single flipped bytes in a
    // raw .h5 make it read out of bounds inside the library (see docs/loading-models.md). A .keras
    // archive is checked by its CRCs before HDF5 sees its weights file, so flips there must be
    // caught.
    if (std::string(format) != "keras") continue;
    DYNAMIC_SECTION(format << " with flipped bytes") {
      for (std::size_t at = 8; at < bytes.size(); at += bytes.size() / 61 + 1) {
        std::string bad = bytes;
        bad[at] = static_cast<char>(bad[at] ^ 0x5a);
        INFO("byte " << at << " flipped");
        CHECK_THROWS_AS(strata::io::load_model_from_memory<float>(bad, path), strata::load_error);
      }
    }
  }
}

TEST_CASE("load_model: the broken .keras and .h5 files of tools/keras-files give the documented errors", "[io][bad]") {
  const json index = read_json(io_dir + "/index.json");
  REQUIRE(index.at("bad").size() >= 15);
  for (const auto& entry : index.at("bad")) {
    const std::string name = entry.at("name");
    DYNAMIC_SECTION(name) {
      const std::string file = io_dir + "/" + entry.at("file").get<std::string>();
      auto load = [&] {
        if (entry.contains("config")) {
          (void)strata::load_model<float>(io_dir + "/" + entry.at("config").get<std::string>(), file);
        } else {
          (void)strata::load_model<float>(file);
        }
      };
      std::string message;
      std::string kind = "none";
      try {
        load();
      } catch (const strata::io_error& e) {
        kind = "io_error";
        message = e.what();
      } catch (const strata::unsupported_error& e) {
        kind = "unsupported_error";
        message = e.what();
      } catch (const strata::model_error& e) {
        kind = "model_error";
        message = e.what();
      } catch (const strata::load_error& e) {
        kind = "load_error";
        message = e.what();
      }
      INFO(message);
      const std::string want = entry.at("error");
      if (want == "load_error") {
        CHECK(kind != "none");
      } else {
        CHECK(kind == want);
      }
      for (const auto& part : entry.at("contains")) CHECK_THAT(message, Catch::Contains(part.get<std::string>()));
    }
  }
}

TEST_CASE("load_model: recurrent layer options that contradict the weights or each other are errors", "[io][bad]") {
  SECTION("a GRU config saying reset_after=true with a (3u,) bias") {
    TfjsModel m = TfjsModel::load("gru/gru_seq_rec_sigmoid");
    REQUIRE_NOTHROW(m.open());
    m.layers()[0]["config"]["reset_after"] = true;
    CHECK_THROWS_AS(m.open(), strata::model_error);
    CHECK_THROWS_WITH(m.open(), Catch::Contains("reset_after=true") && Catch::Contains("bias"));
  }
  SECTION("a Bidirectional backward_layer with the forward layer's go_backwards") {
    TfjsModel m = TfjsModel::load("bidirectional/bidi_lstm_concat_seq");
    json& cfg = m.layers()[0]["config"];
    cfg["backward_layer"] = cfg["layer"];
    CHECK_THROWS_AS(m.open(), strata::model_error);
    CHECK_THROWS_WITH(m.open(), Catch::Contains("'bidirectional'") && Catch::Contains("go_backwards"));
    cfg["backward_layer"]["config"]["go_backwards"] = true;
    CHECK_NOTHROW(m.open());  // as Keras 3 writes it
    cfg["backward_layer"]["class_name"] = "GRU";
    CHECK_THROWS_AS(m.open(), strata::unsupported_error);
  }
  SECTION("an unknown merge_mode, and a wrapped layer that is not recurrent") {
    TfjsModel m = TfjsModel::load("bidirectional/bidi_lstm_concat_seq");
    TfjsModel bad = m;
    bad.layers()[0]["config"]["merge_mode"] = "max";
    CHECK_THROWS_WITH(bad.open(), Catch::Contains("merge_mode") && Catch::Contains("max"));
    TfjsModel dense = m;
    dense.layers()[0]["config"]["layer"]["class_name"] = "Dense";
    CHECK_THROWS_AS(dense.open(), strata::unsupported_error);
  }
}

TEST_CASE("Model: masks follow the tensors from Masking and Embedding to the recurrent layers", "[io][mask]") {
  // Masking -> Dense(tanh) -> LSTM(seq): the mask passes through Dense and reaches the LSTM, which
  // then repeats its previous output at masked steps (zeros before the first kept one).
  auto model = strata::load_model<double>(reference_dir + "/masking/masking_dense_lstm_seq/model.json");
  const json fixture = read_json(reference_dir + "/masking/masking_dense_lstm_seq.json");
  CHECK(run(model, fixture) <= 1e-5);
  CHECK_THAT(model.summary(), Catch::Contains("(Masking)") && Catch::Contains("(LSTM)"));
  auto bidi = strata::load_model<float>(reference_dir + "/bidirectional/bidi_gru_none_state_seq/model.json");
  CHECK_THAT(bidi.summary(), Catch::Contains("(Bidirectional)"));
  // Flatten drops the mask (Keras 3 and tfjs; Keras 2 raised an error there).
  TfjsModel flat = TfjsModel::load("embedding/emb_nomask_flatten_dense");
  flat.layers()[0]["config"]["mask_zero"] = true;
  CHECK_NOTHROW(flat.open());
}

TEST_CASE("load_model: HDF5's error printing is the program's own again after every load", "[io][h5]") {
  // A program's own HDF5 error handler: strata silences HDF5 while it loads (its failures become
  // exceptions) and puts the handler back afterwards, whether the load succeeded or failed.
  static int calls = 0;
  struct Handler {
    static herr_t count(hid_t /*stack*/, void* /*data*/) {
      ++calls;
      return 0;
    }
  };
  int marker = 0;
  H5E_auto2_t previous_function = nullptr;
  void* previous_data = nullptr;
  REQUIRE(H5Eget_auto2(H5E_DEFAULT, &previous_function, &previous_data) >= 0);
  REQUIRE(H5Eset_auto2(H5E_DEFAULT, &Handler::count, &marker) >= 0);
  CHECK_THROWS_AS(strata::load_model<float>(io_dir + "/bad/h5_missing_dataset.h5"), strata::io_error);
  CHECK_NOTHROW(strata::load_model<float>(io_dir + "/h5/seed_lstm5_td_dense.h5"));
  CHECK(calls == 0);  // strata's own HDF5 failures did not reach the program's handler
  H5E_auto2_t function = nullptr;
  void* data = nullptr;
  REQUIRE(H5Eget_auto2(H5E_DEFAULT, &function, &data) >= 0);
  CHECK(function == &Handler::count);
  CHECK(data == &marker);
  // And the program's own failing HDF5 call reaches it.
  const hid_t missing = H5Fopen((io_dir + "/no/such/file.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  CHECK(missing < 0);
  CHECK(calls > 0);
  H5Eset_auto2(H5E_DEFAULT, previous_function, previous_data);
}

TEST_CASE("docs: the supported-layers table lists exactly the registered Keras classes", "[io][docs]") {
  // docs/loading-models.md, "What is supported": one row per Keras class, the names in the first
  // cell in backticks. A class registered without a row, or a row the registry does not know, fails.
  std::ifstream in(std::string(STRATA_DOCS_DIR) + "/loading-models.md");
  REQUIRE(in);
  std::set<std::string> documented;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) inside = line == "## What is supported";
    if (!inside || line.rfind("| `", 0) != 0) continue;
    const std::string cell = line.substr(1, line.find('|', 1) - 1);
    for (std::size_t at = cell.find('`'); at != std::string::npos; at = cell.find('`', at)) {
      const std::size_t end = cell.find('`', at + 1);
      documented.insert(cell.substr(at + 1, end - at - 1));
      at = end + 1;
    }
  }
  std::set<std::string> registered{"InputLayer"};  // a model's inputs, not a registered layer
  for (const std::string& name : strata::registry<float>().names()) registered.insert(name);
  for (const std::string& name : registered) {
    INFO("registered but without a row: " << name);
    CHECK(documented.count(name) == 1);
  }
  for (const std::string& name : documented) {
    INFO("a row for a class the registry does not know: " << name);
    CHECK(registered.count(name) == 1);
  }
  CHECK(registered.size() >= 15);
}

TEST_CASE("load_model: a .keras file's weights go through a temporary file that is always removed", "[io][keras]") {
  // Loading a .keras file from disk copies its model.weights.h5 to a temporary file (so that no
  // second copy of the weights sits in memory) and removes it, whether the load succeeds or fails.
  namespace fs = std::filesystem;
  const auto temporaries = [] {
    std::size_t n = 0;
    for (const auto& entry : fs::directory_iterator(fs::temp_directory_path())) {
      n += entry.path().filename().string().rfind("strata-weights-", 0) == 0 ? 1 : 0;
    }
    return n;
  };
  const std::size_t before = temporaries();
  const auto model = strata::load_model<float>(io_dir + "/keras/seed_lstm5_td_dense.keras");
  CHECK(model.count_params() > 0);
  CHECK_THROWS_AS(strata::load_model<float>(io_dir + "/bad/keras_kernel_transposed.keras"), strata::model_error);
  CHECK_THROWS_AS(strata::load_model<float>(io_dir + "/bad/keras_missing_layer_vars.keras"), strata::io_error);
  CHECK(temporaries() == before);
}

TEST_CASE("load_model: Keras' scalar weights (Normalization's count) are read as shape (1,)", "[io][misc]") {
  // Keras' Normalization after adapt() owns mean (F,), variance (F,) and count, an int64 scalar;
  // TF.js writes the scalar with shape [] (here as int32). strata holds it as (1,). The model is
  // misc/rescaling_rank4_no_offset with a Normalization(axis=-1) added after its Rescaling.
  TfjsModel m = TfjsModel::load("misc/rescaling_rank4_no_offset");
  const json fixture = read_json(reference_dir + "/misc/rescaling_rank4_no_offset.json");
  const AnyTensor<float> x = tensor_from<float>(fixture.at("inputs")[0]);
  const AnyTensor<float> rescaled = tensor_from<float>(fixture.at("outputs")[0]);
  const Index f = x.shape().back();
  json norm = {{"class_name", "Normalization"},
               {"config",
                {{"name", "normalization"},
                 {"trainable", false},
                 {"axis", {-1}},
                 {"mean", nullptr},
                 {"variance", nullptr},
                 {"invert", false}}}};
  m.layers().push_back(norm);
  std::vector<float> mean, variance;
  for (Index i = 0; i < f; ++i) {
    mean.push_back(0.25f * static_cast<float>(i) - 0.5f);
    variance.push_back(0.5f + static_cast<float>(i));
  }
  const auto append = [&](const void* p, std::size_t n) { m.shard.append(static_cast<const char*>(p), n); };
  append(mean.data(), mean.size() * 4);
  append(variance.data(), variance.size() * 4);
  const std::int32_t count = 1234;
  append(&count, 4);
  m.manifest_weights().push_back({{"name", "normalization/mean"}, {"shape", {f}}, {"dtype", "float32"}});
  m.manifest_weights().push_back({{"name", "normalization/variance"}, {"shape", {f}}, {"dtype", "float32"}});
  m.manifest_weights().push_back({{"name", "normalization/count"}, {"shape", json::array()}, {"dtype", "int32"}});
  auto model = m.open();
  const auto& layer = model.layer("normalization");
  const auto weights = layer.get_weights();
  REQUIRE(weights.size() == 3);
  CHECK(weights[2].shape() == Shape{1});
  CHECK(weights[2].data()[0] == 1234.0f);
  const AnyTensor<float> y = model.predict(x);
  REQUIRE(y.shape() == x.shape());
  double worst = 0;
  for (Index i = 0; i < y.size(); ++i) {
    const auto k = static_cast<std::size_t>(i % f);
    const double want =
        (static_cast<double>(rescaled.data()[i]) - mean[k]) / std::sqrt(static_cast<double>(variance[k]));
    worst = std::max(worst, std::abs(static_cast<double>(y.data()[i]) - want));
  }
  CHECK(worst <= 1e-5);
  // A mean of another size than the input's last axis is a model_error naming the weight.
  TfjsModel bad = m;
  bad.manifest_weights()[0]["shape"] = {f + 1};
  bad.manifest_weights()[1]["shape"] = {f - 1};
  CHECK_THROWS_AS(bad.open(), strata::model_error);
  CHECK_THROWS_WITH(bad.open(), Catch::Contains("normalization") && Catch::Contains("mean"));
}

namespace {

// A numpy/PyTorch fixture of tools/torch-reference (a Keras 3 model_config and its layers' weights)
// wrapped in a converted TF.js model.json written by Keras `version` (modelTopology.model_config +
// keras_version, the weights in one shard), loaded as a file would be.
template <class T>
strata::Model<T> load_as_tfjs(const json& fixture, const std::string& version, const std::string& name) {
  json weights = json::array();
  std::string shard;
  for (const auto& layer : fixture.at("layers")) {
    for (const auto& w : layer.at("weights")) {
      weights.push_back({{"name", w.at("name")}, {"shape", w.at("shape")}, {"dtype", "float32"}});
      for (const auto& v : w.at("data")) {
        const float f = v.get<float>();
        shard.append(reinterpret_cast<const char*>(&f), sizeof f);
      }
    }
  }
  json model = {{"format", "layers-model"},
                {"modelTopology",
                 {{"keras_version", version}, {"backend", "tensorflow"}, {"model_config", fixture.at("model_config")}}},
                {"weightsManifest", json::array({{{"paths", {"group1-shard1of1.bin"}}, {"weights", weights}}})}};
  return strata::io::load_tfjs_from_memory<T>(model.dump(), {{"group1-shard1of1.bin", shard}}, name);
}

}  // namespace

TEST_CASE("load_model reads Keras 3 configs whose merge calls take a list of tensors", "[io][merge]") {
  // A Keras 3 config writes a merge call as {"args": [[tensor, tensor]], "kwargs": {}}. The numpy
  // fixtures of tools/torch-reference/make_merge_fixtures.py hold such configs (Keras 3.10
  // semantics: masks ORed, Multiply/Maximum/Minimum skip masked steps); each is wrapped here in a
  // converted TF.js model.json (modelTopology.model_config + keras_version, its weights in one
  // shard) and loaded as a file would be.
  const std::string dir = reference_dir + "/../fixtures_torch/merge";
  const json index = read_json(dir + "/index.json");
  REQUIRE(index.at("cases").size() >= 10);
  for (const auto& entry : index.at("cases")) {
    const std::string name = entry.at("name");
    DYNAMIC_SECTION(name) {
      const json fixture = read_json(dir + "/" + name + ".json");
      auto model_f = load_as_tfjs<float>(fixture, "3.10.0", name);
      auto model_d = load_as_tfjs<double>(fixture, "3.10.0", name);
      CHECK(run(model_f, fixture) <= 1e-5);
      CHECK(run(model_d, fixture) <= 1e-5);
      // Keras 3.0-3.3 gave merges no masks: the same file from those versions computes otherwise
      // where a mask reaches a merge's values or the LSTM after it.
      if (name == "multiply_masking_both_lstm" || name == "maximum_masking_both_lstm") {
        auto model_old = load_as_tfjs<double>(fixture, "3.3.0", name);
        CHECK(run(model_old, fixture) > 1e-3);
      }
    }
  }
}

TEST_CASE("load_model reads Attention and keras-hub layers with their call arguments", "[io][attention]") {
  // The numpy fixtures of tools/torch-reference/make_attention_fixtures.py hold Keras 3 Functional
  // configs whose inbound nodes carry call arguments (use_causal_mask, return_attention_scores,
  // start_index; one also Keras 3.6's mask [null, null] and training false) and keras-hub classes by
  // their registered names. Each is wrapped in a converted TF.js model.json and loaded as a file.
  const std::string dir = reference_dir + "/../fixtures_torch/attention_dot";
  const json index = read_json(dir + "/index.json");
  REQUIRE(index.at("cases").size() >= 15);
  const auto load = [](const json& fixture, auto tag) {
    return load_as_tfjs<decltype(tag)>(fixture, "3.10.0", "attention");
  };
  for (const auto& entry : index.at("cases")) {
    const std::string name = entry.at("name");
    DYNAMIC_SECTION(name) {
      const json fixture = read_json(dir + "/" + name + ".json");
      auto model_f = load(fixture, float{});
      auto model_d = load(fixture, double{});
      CHECK(run(model_f, fixture) <= 1e-5);
      CHECK(run(model_d, fixture) <= 1e-5);
    }
  }
  SECTION("the call arguments decide; tf.keras 2 spells them otherwise; what is refused") {
    // The call arguments decide: without use_causal_mask the causal case computes otherwise.
    const json causal = read_json(dir + "/attention_crosscheck_causal_self.json");
    json plain = causal;
    for (auto& layer : plain["model_config"]["config"]["layers"]) {
      if (layer.at("class_name") == "Attention") layer["inbound_nodes"][0]["kwargs"].erase("use_causal_mask");
    }
    auto unmasked = load(plain, double{});
    CHECK(run(unmasked, causal) > 1e-3);
    // tf.keras 2 writes a call's arguments as the fourth item of each inbound tensor reference.
    json keras2 = causal;
    for (auto& layer : keras2["model_config"]["config"]["layers"]) {
      if (layer.at("class_name") != "Attention") continue;
      json refs = json::array();
      for (const auto& t : layer["inbound_nodes"][0]["args"][0]) {
        json ref = t.at("config").at("keras_history");
        ref.push_back(layer["inbound_nodes"][0]["kwargs"]);
        refs.push_back(ref);
      }
      layer["inbound_nodes"] = json::array({refs});
    }
    auto from_keras2 = load(keras2, double{});
    auto from_keras3 = load(causal, double{});
    std::vector<AnyTensor<double>> inputs;
    for (const auto& in : causal.at("inputs")) inputs.push_back(tensor_from<double>(in));
    const auto a = from_keras2.predict(inputs);
    const auto b = from_keras3.predict(inputs);
    REQUIRE(a.size() == 2);
    REQUIRE(b.size() == 2);
    for (std::size_t k = 0; k < a.size(); ++k) {
      REQUIRE(a[k].shape() == b[k].shape());
      CHECK(std::equal(a[k].data(), a[k].data() + a[k].size(), b[k].data()));
    }
    CHECK(run(from_keras2, causal) <= 1e-5);
    // A tensor mask argument, and calls of one layer with different arguments, are refused.
    json masked = causal;
    json shared = causal;
    for (auto& layer : masked["model_config"]["config"]["layers"]) {
      if (layer.at("class_name") == "Attention")
        layer["inbound_nodes"][0]["kwargs"]["mask"] = layer["inbound_nodes"][0]["args"][0];
    }
    CHECK_THROWS_WITH(load(masked, double{}), Catch::Contains("explicit mask inputs are not supported"));
    for (auto& layer : shared["model_config"]["config"]["layers"]) {
      if (layer.at("class_name") != "Attention") continue;
      json second = layer["inbound_nodes"][0];
      second["kwargs"].erase("use_causal_mask");
      layer["inbound_nodes"].push_back(second);
    }
    CHECK_THROWS_AS(load(shared, double{}), strata::unsupported_error);
    CHECK_THROWS_WITH(load(shared, double{}), Catch::Contains("layer 'attention'") &&
                                                  Catch::Contains("different arguments") &&
                                                  Catch::Contains("use_causal_mask"));
    // keras-hub's tensor argument `positions` is refused (start_index, a number, is read): the loader
    // passes a call's tensor keyword arguments as further inputs (MultiHeadAttention's key and
    // attention_mask), and one the layer's description does not read is named.
    json positions = read_json(dir + "/keras_hub_position_embedding_start_index.json");
    for (auto& layer : positions["model_config"]["config"]["layers"]) {
      if (layer.at("class_name") == "PositionEmbedding")
        layer["inbound_nodes"][0]["kwargs"]["positions"] = layer["inbound_nodes"][0]["args"][0];
    }
    CHECK_THROWS_AS(load(positions, double{}), strata::unsupported_error);
    CHECK_THROWS_WITH(load(positions, double{}), Catch::Contains("layer 'position_embedding'") &&
                                                     Catch::Contains("tensor argument 'positions' is not supported"));
    // keras-hub classes are found by their registered names only.
    json custom = read_json(dir + "/keras_hub_position_embedding_start_index.json");
    for (auto& layer : custom["model_config"]["config"]["layers"]) {
      if (layer.at("class_name") == "PositionEmbedding") layer["registered_name"] = "my_package>PositionEmbedding";
    }
    CHECK_THROWS_AS(load(custom, double{}), strata::unsupported_error);
  }
}

TEST_CASE("load_model: MultiHeadAttention's inputs passed by keyword, as tf.keras 2 writes them", "[io][attention]") {
  // tf.keras 2's Node.serialize names every positional argument after the first: mha(q, v, k)
  // becomes [["q", 0, 0, {"value": ["v", 0, 0], "key": ["k", 0, 0]}]]. The tfjs fixtures and the
  // tf.keras 2.15 .h5 files of tools/keras-files are written so; here the roles are swapped and
  // broken.
  TfjsModel m = TfjsModel::load("attention/mha_cross_key");
  json& mha = m.layers().back();
  REQUIRE(mha.at("class_name") == "MultiHeadAttention");
  json& kwargs = mha["inbound_nodes"][0][0][3];
  REQUIRE(kwargs.at("value") == json::array({"v", 0, 0}));
  REQUIRE(kwargs.at("key") == json::array({"k", 0, 0}));
  // The roles follow the keywords: value and key swapped is another model (the value and key have
  // other feature sizes than each other, so their projections' weights no longer fit).
  TfjsModel swapped = m;
  json& kw = swapped.layers().back()["inbound_nodes"][0][0][3];
  std::swap(kw["value"], kw["key"]);
  CHECK_THROWS_AS(swapped.open(), strata::model_error);
  // A tensor argument MultiHeadAttention does not read is refused by name, not taken for an input.
  TfjsModel extra = m;
  extra.layers().back()["inbound_nodes"][0][0][3]["query_mask"] = json::array({"q", 0, 0});
  CHECK_THROWS_AS(extra.open(), strata::unsupported_error);
  CHECK_THROWS_WITH(extra.open(),
                    Catch::Contains("layer 'mha'") && Catch::Contains("tensor argument 'query_mask' is not supported"));
  // tf.keras 2.13+'s softmax_robust_masking (false in the files it writes) is refused when true.
  TfjsModel robust = m;
  robust.layers().back()["config"]["softmax_robust_masking"] = true;
  CHECK_THROWS_AS(robust.open(), strata::unsupported_error);
  CHECK_THROWS_WITH(robust.open(), Catch::Contains("softmax_robust_masking"));
  robust.layers().back()["config"]["softmax_robust_masking"] = false;
  CHECK_NOTHROW(robust.open());
}

// --- Nested models: a Sequential or Functional used as a layer. The loader inlines its layers as
// "<model>/<layer>", each once however often the nested model is called.
namespace {

std::vector<std::string> split_words(const std::string& s, const std::string& word) {
  std::vector<std::string> found;
  for (std::size_t at = s.find(word); at != std::string::npos; at = s.find(word, at + 1)) found.push_back(word);
  return found;
}

}  // namespace

TEST_CASE("load_model: a nested model shared by two calls is one set of layers in all three formats", "[io][nested]") {
  const json fixture = read_json(reference_dir + "/nested/shared_twice.json");
  // The reference's parameter count: base (Dense + BatchNormalization) once, then the head.
  strata::Index params = 0;
  for (const auto& layer : fixture.at("layers")) {
    for (const auto& sub : layer.contains("layers") ? layer.at("layers") : json::array({layer})) {
      for (const auto& w : sub.at("weights")) {
        strata::Index n = 1;
        for (const auto& d : w.at("shape")) n *= d.get<strata::Index>();
        params += n;
      }
    }
  }
  const std::vector<std::string> paths = {reference_dir + "/nested/shared_twice/model.json",
                                          io_dir + "/keras/nested_shared_twice.keras",
                                          io_dir + "/h5/nested_shared_twice.h5"};
  std::vector<strata::Weights<double>> weights;
  for (const std::string& path : paths) {
    INFO(path);
    auto model = strata::load_model<double>(path);
    CHECK(model.layer_names() == std::vector<std::string>{"base/base_d1", "base/base_bn", "concatenate", "head"});
    CHECK(model.count_params() == params);
    CHECK(model.layer("base/base_d1").weight_count() == 2);  // Keras model.get_layer, by path
    // The nested model itself is no layer of the flat model: the error lists its layers' paths.
    CHECK_THROWS_AS(model.layer("base"), strata::value_error);
    CHECK_THROWS_WITH(model.layer("base"),
                      Catch::Contains("'base' is a nested model, loaded flat: its layers are 'base/base_d1', "
                                      "'base/base_bn' (model.layer(\"base/base_d1\"))"));
    // summary(): each call of the nested model's layers is a row; the parameters count once.
    const std::string summary = model.summary();
    CHECK(split_words(summary, "base/base_d1 (Dense)").size() == 2);
    CHECK(split_words(summary, "base/base_bn (BatchNormalization)").size() == 2);
    CHECK_THAT(summary, Catch::Contains("Total params: " + std::to_string(params)));
    CHECK(run(model, fixture) <= 1e-5);
    weights.push_back(model.get_weights());
  }
  // The same weights, bit for bit, whichever format they came from.
  for (std::size_t f = 1; f < weights.size(); ++f) {
    REQUIRE(weights[f].size() == weights[0].size());
    for (std::size_t i = 0; i < weights[0].size(); ++i) {
      REQUIRE(weights[f][i].shape() == weights[0][i].shape());
      CHECK(std::equal(weights[f][i].data(), weights[f][i].data() + weights[f][i].size(), weights[0][i].data()));
    }
  }
}

TEST_CASE("load_model: two levels of nesting give paths through both models", "[io][nested]") {
  for (const std::string& path : {reference_dir + "/nested/two_levels/model.json",
                                  io_dir + "/keras/nested_two_levels.keras", io_dir + "/h5/nested_two_levels.h5"}) {
    INFO(path);
    auto model = strata::load_model<float>(path);
    CHECK(model.layer_names() ==
          std::vector<std::string>{"mid/inner/inner_d1", "mid/inner/inner_bn", "mid/mid_d1", "head"});
  }
}

TEST_CASE("load_model: a nested layer's missing weights are an error naming its path", "[io][nested][bad]") {
  auto m = TfjsModel::load("nested/shared_twice");
  // Drop the nested BatchNormalization's statistics (the manifest's last two weights).
  auto& weights = m.manifest_weights();
  REQUIRE(weights.back().at("name") == "base_bn/moving_variance");
  weights.erase(weights.end() - 2, weights.end());
  CHECK_THROWS_WITH(m.open(), Catch::Contains("'base/base_bn' (BatchNormalization)") &&
                                  Catch::Contains("needs 4 weight arrays") && Catch::Contains("has 2"));
  // A model the nested model's call does not fit: base takes one input.
  auto two = TfjsModel::load("nested/shared_twice");
  for (auto& layer : two.layers()) {
    if (layer.at("name") == "base") layer["inbound_nodes"][0] = json::parse(R"([["x1", 0, 0, {}], ["x2", 0, 0, {}]])");
  }
  CHECK_THROWS_AS(two.open(), strata::model_error);
  CHECK_THROWS_WITH(two.open(), Catch::Contains("model 'base'") && Catch::Contains("takes 1 inputs") &&
                                    Catch::Contains("called on 2"));
}

TEST_CASE("load_model: models nested too deeply are an io_error, not a stack overflow", "[io][nested][bad]") {
  auto m = TfjsModel::load("nested/seq_in_seq");
  json& outer = m.model["modelTopology"];
  // Wrap the nested Sequential "base" in 40 more Sequentials.
  json& first = outer["config"]["layers"][0];
  json wrapped = first;
  for (int k = 0; k < 40; ++k) {
    wrapped =
        json{{"class_name", "Sequential"}, {"config", {{"name", "wrap" + std::to_string(k)}, {"layers", {wrapped}}}}};
  }
  first = wrapped;
  CHECK_THROWS_AS(m.open(), strata::io_error);
  CHECK_THROWS_WITH(m.open(), Catch::Contains("nested more than 32 levels"));
}

// --- Model::stream on loaded models: a model either streams, bitwise equal to predict at every
// step, or is refused with a value_error naming the layer.
namespace {

// x[:, t] of a (batch, time, rest...) tensor, or its first `steps` steps.
template <class T>
AnyTensor<T> time_slice(const AnyTensor<T>& x, Index t, Index steps, bool keep_axis) {
  const Shape& s = x.shape();
  Shape out{s[0]};
  if (keep_axis) out.push_back(steps);
  for (int d = 2; d < s.rank(); ++d) out.push_back(s[d]);
  AnyTensor<T> y = AnyTensor<T>::uninitialized(out);
  const Index inner = s.size() / (s[0] * s[1]);
  for (Index b = 0; b < s[0]; ++b) {
    const T* src = x.data() + (b * s[1] + t) * inner;
    std::copy(src, src + steps * inner, y.data() + b * steps * inner);
  }
  return y;
}

template <class T>
bool bitwise_equal(const strata::TensorView<T>& a, const strata::TensorView<T>& b) {
  return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.size(), b.data());
}

// Streams the fixture's inputs through the model: "streamed" after checking every output at
// every step against predict (an output without a time axis against predict on the sequence so
// far, or when the model declares a fixed length, at the last step), or "refused: <message>".
template <class T>
std::string stream_or_refusal(strata::Model<T>& model, const json& fixture) {
  std::vector<AnyTensor<T>> inputs;
  for (const auto& in : fixture.at("inputs")) inputs.push_back(tensor_from<T>(in));
  std::optional<strata::ModelStream<T>> stream;
  try {
    stream.emplace(model.stream(inputs.at(0).shape()[0]));
  } catch (const strata::value_error& e) {
    INFO(e.what());
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("cannot stream layer '") || Catch::Contains("input '") || Catch::Contains("inputs '"));
    return std::string("refused: ") + e.what();
  }
  const Index steps = inputs[0].shape()[1];
  bool fixed_length = false;
  for (const strata::DeclaredShape& s : model.input_shapes()) fixed_length = fixed_length || s.at(1) >= 0;
  model.reset_states();
  const std::vector<AnyTensor<T>> whole = model.predict(inputs);
  for (Index t = 0; t < steps; ++t) {
    std::vector<AnyTensor<T>> x;
    for (const AnyTensor<T>& in : inputs) x.push_back(time_slice(in, t, 1, false));
    stream->step(std::vector<strata::TensorView<T>>(x.begin(), x.end()));
    std::vector<AnyTensor<T>> so_far;
    for (std::size_t k = 0; k < whole.size(); ++k) {
      INFO("step " << t << ", output " << k);
      if (stream->output_shapes()[k].timed) {
        CHECK(bitwise_equal(stream->output(k), strata::TensorView<T>(time_slice(whole[k], t, 1, false))));
      } else if (t + 1 == steps) {
        CHECK(bitwise_equal(stream->output(k), strata::TensorView<T>(whole[k])));
      } else if (!fixed_length) {
        if (so_far.empty()) {
          std::vector<AnyTensor<T>> prefix;
          for (const AnyTensor<T>& in : inputs) prefix.push_back(time_slice(in, 0, t + 1, true));
          model.reset_states();
          so_far = model.predict(prefix);
        }
        CHECK(bitwise_equal(stream->output(k), strata::TensorView<T>(so_far[k])));
      }
    }
  }
  return "streamed";
}

}  // namespace

TEST_CASE("Model::stream on every loaded model: bitwise predict at every step, or refused naming the layer",
          "[io][stream]") {
  // The TF.js reference models and the .keras / .h5 files of tools/keras-files.
  std::vector<std::pair<std::string, std::function<strata::Model<double>()>>> models;
  std::vector<std::pair<std::string, std::function<strata::Model<float>()>>> models_f;
  std::vector<json> fixtures;
  const json reference = read_json(reference_dir + "/index.json");
  for (const auto& entry : reference.at("cases")) {
    if (entry.value("call_mask", false)) continue;
    const std::string path = reference_dir + "/" + entry.at("model_json").get<std::string>();
    const std::string id = entry.at("group").get<std::string>() + "/" + entry.at("name").get<std::string>();
    json fixture = read_json(reference_dir + "/" + entry.at("file").get<std::string>());
    if (fixture.value("call_sequence", false)) continue;  // calls a stateful model several times
    models.emplace_back("tfjs:" + id, [path] { return strata::load_model<double>(path); });
    models_f.emplace_back("tfjs:" + id, [path] { return strata::load_model<float>(path); });
    fixtures.push_back(std::move(fixture));
  }
  const json files = read_json(io_dir + "/index.json");
  for (const auto& entry : files.at("cases")) {
    if (entry.at("format") == "h5_weights" || entry.at("expect") != "match") continue;
    const std::string source = entry.at("source");
    json fixture = source.rfind("torch:", 0) == 0
                       ? read_json(reference_dir + "/../fixtures_torch/" + source.substr(6) + ".json")
                       : read_json(reference_dir + "/" + source + ".json");
    if (fixture.value("call_sequence", false)) continue;
    const std::string file = io_dir + "/" + entry.at("file").get<std::string>();
    models.emplace_back(entry.at("name").get<std::string>(), [file] { return strata::load_model<double>(file); });
    models_f.emplace_back(entry.at("name").get<std::string>(), [file] { return strata::load_model<float>(file); });
    fixtures.push_back(std::move(fixture));
  }
  std::map<std::string, std::string> result;
  for (std::size_t i = 0; i < models.size(); ++i) {
    INFO(models[i].first);
    strata::Model<double> model = models[i].second();
    const std::string r = stream_or_refusal(model, fixtures[i]);
    strata::Model<float> model_f = models_f[i].second();
    CHECK(stream_or_refusal(model_f, fixtures[i]) == r);  // float and double agree
    result[models[i].first] = r;
  }
  std::size_t streamed = 0;
  for (const auto& [name, r] : result) streamed += r == "streamed";
  std::printf("Model::stream: %zu of %zu loaded models streamed, the others refused\n", streamed, result.size());
  CHECK(streamed >= 130);  // 137 when written
  // Some of each kind: LSTM -> TimeDistributed(Dense), stacked LSTMs, RNN(LSTMCell) with
  // return_state, a functional model of LSTM state heads, merges, activations, all three formats.
  for (const char* name :
       {"keras/seed_lstm5_td_dense", "h5/seed_lstm5_td_dense", "tfjs:seed_model/seed_lstm5_td_dense",
        "keras/stacked2_last", "keras/rnn_lstm_cell_return_state", "tfjs:functional/lstm_state_heads",
        "keras/dense_elu_dropout_lstm_td_dense_functional", "keras/concatenate_lstm_branches_dense",
        "tfjs:merge/minimum_3_dense_rank3", "tfjs:activation_layers/softmax_last_rank3",
        "tfjs:shape_layers/td_flatten_lstm_dense_rank4"}) {
    INFO(name);
    CHECK(result.at(name) == "streamed");
  }
  const auto refused = [&](const char* name, const char* layer, const char* why) {
    INFO(name << ": " << result.at(name));
    CHECK_THAT(result.at(name),
               Catch::Contains(std::string("cannot stream layer '") + layer + "'") && Catch::Contains(why));
  };
  refused("keras/bidi_lstm_concat_seq", "bidirectional", "backward layer reads the sequence from its end");
  refused("keras/lstm_backwards_td_dense_relu", "lstm", "go_backwards");
  refused("keras/conv1d_stack_dense", "conv1d", "padding \"same\"");
  refused("keras/masking_lstm_seq", "masking", "has no per-step form");
  refused("keras/dense_flatten_dense_rank3", "flatten", "flattens the time axis");
  refused("tfjs:conv/conv1d_dilated_valid", "conv1d", "padding \"valid\"");
  refused("h5/conv1d_valid_strides2_keras1_th", "conv1d", "strides 2");
}
