// SPDX-License-Identifier: MIT
// Keras classes users register themselves (strata::register_layer, docs/custom-layers.md): a
// .keras file with a custom class (tests/io/fixtures index.json "custom", written by
// tools/keras-files), a Lambda layer, the order of the loader's checks for unknown classes, and
// the lookup by Keras 3's registered_name before class_name.
//
// The registry is process-global and nothing can be unregistered: every class name registered
// here is used by no other test in this program, and each test case checks the unregistered
// behaviour before it registers.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <strata/io.hpp>
#include <strata/layers/activation.hpp>
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

template <class T>
double max_abs_diff(const AnyTensor<T>& got, const AnyTensor<T>& want) {
  REQUIRE(got.shape() == want.shape());
  double worst = 0;
  for (Index i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(got.data()[i]) - static_cast<double>(want.data()[i])));
  }
  return worst;
}

/// The message of the unsupported_error `load` throws ("" and a failed check when it throws
/// nothing or something else).
template <class F>
std::string unsupported_message(F&& load) {
  try {
    load();
  } catch (const strata::unsupported_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("expected strata::unsupported_error; got: " << e.what());
    return "";
  }
  FAIL_CHECK("expected strata::unsupported_error; nothing was thrown");
  return "";
}

/// A TF.js model in memory (model.json parsed, its one shard's bytes), to be rewritten.
struct TfjsModel {
  json model;
  std::string shard;

  static TfjsModel load(const std::string& case_dir) {
    TfjsModel m;
    m.model = read_json(reference_dir + "/" + case_dir + "/model.json");
    m.shard = read_bytes(reference_dir + "/" + case_dir + "/group1-shard1of1.bin");
    return m;
  }
  template <class T = float>
  strata::Model<T> open() const {
    return strata::io::load_tfjs_from_memory<T>(model.dump(), {{"group1-shard1of1.bin", shard}}, "test/model.json");
  }
  json& layers() { return model["modelTopology"]["config"]["layers"]; }
};

// --- The user's Scale (as in examples/custom_layer.cpp, last axis only): y = x * gamma.
template <class T>
class TestScale {
 public:
  using Scalar = T;
  static constexpr const char* class_name = "Scale";

  explicit TestScale(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  std::string describe() const { return "TestScale '" + name_ + "'"; }
  void build(Index features) { gamma_.assign(static_cast<std::size_t>(features), T(1)); }
  bool built() const { return !gamma_.empty(); }
  strata::Weights<T> get_weights() const { return {AnyTensor<T>::from_values(Shape{count_params()}, gamma_)}; }
  void set_weights(const strata::Weights<T>& w) {
    if (w.size() != 1 || w[0].rank() != 1) throw strata::shape_error(describe() + ": expects [gamma]");
    gamma_.assign(w[0].data(), w[0].data() + w[0].size());
  }
  Index count_params() const { return static_cast<Index>(gamma_.size()); }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  static constexpr int output_rank(int rank) { return rank >= 2 ? rank : strata::invalid_rank; }
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 2 || input.back() != count_params()) {
      throw strata::shape_error(describe() + ": bad input shape " + input.to_string());
    }
    return input;
  }
  void forward(const T* x, const Shape& shape, T* y, Index size) const {
    if (compute_output_shape(shape).size() != size) throw strata::shape_error(describe() + ": bad output size");
    const Index n = count_params();
    for (Index i = 0; i < size; ++i) y[i] = x[i] * gamma_[static_cast<std::size_t>(i % n)];
  }

  static constexpr strata::MaskRule mask_rule = strata::MaskRule::pass;
  static TestScale from_config(const strata::LayerConfig<T>& config) {
    if (config.integer_or("axis", -1, -8, 7) != -1) config.unsupported("only axis -1 is implemented");
    return TestScale(config.name());
  }
  std::size_t weight_count() const { return 1; }
  std::vector<strata::WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& x = inputs.at(0);
    return {strata::WeightGroup{"", {strata::WeightSpec{"gamma", Shape{x.back()}, ""}}}};
  }

 private:
  std::string name_;
  std::vector<T> gamma_;
};

}  // namespace

TEST_CASE("custom layers: a .keras file with a custom class loads once the class is registered, and matches numpy",
          "[io][custom]") {
  const json index = read_json(io_dir + "/index.json");
  REQUIRE(index.at("custom").size() == 1);
  const json& entry = index.at("custom")[0];
  REQUIRE(entry.at("classes")[0].at("registered_name") == "strata_example>Scale");
  const std::string path = io_dir + "/" + entry.at("file").get<std::string>();
  const json expected = read_json(io_dir + "/" + entry.at("keras3_outputs").get<std::string>());

  // Unregistered: an unsupported_error naming the class, its registered name and the layer.
  REQUIRE(strata::registry<float>().find("strata_example>Scale") == nullptr);
  REQUIRE(strata::registry<float>().find("Scale") == nullptr);
  const std::string message = unsupported_message([&] { (void)strata::load_model<float>(path); });
  CHECK_THAT(message, Catch::Contains("'Scale'") && Catch::Contains("strata_example>Scale") &&
                          Catch::Contains("layer 'scale'") && Catch::Contains("not supported") &&
                          Catch::Contains("register_layer") && Catch::Contains("custom_scale.keras"));
  CHECK_THAT(message, Catch::Contains("for a custom class, register a C++ implementation for it with "
                                      "strata::register_layer (docs/custom-layers.md)") &&
                          Catch::Contains("docs/loading-models.md"));

  strata::register_layer<TestScale>("strata_example>Scale");
  CHECK(strata::registry<double>().find("strata_example>Scale") != nullptr);  // both scalar types
  CHECK(strata::registry<float>().find("Scale") == nullptr);                  // only the name given

  auto model_f = strata::load_model<float>(path);
  auto model_d = strata::load_model<double>(path);
  CHECK(model_f.layer_names() == std::vector<std::string>{"dense", "scale", "dense_1"});
  CHECK(model_f.layer_class_name(1) == "Scale");
  CHECK(model_f.count_params() == 4 * 5 + 5 + 5 + 5 * 2 + 2);
  CHECK_THAT(model_f.summary(), Catch::Contains("scale (Scale)"));
  // gamma was read from layers/scale/vars/0.
  const AnyTensor<float> gamma = model_f.layer<TestScale<float>>("scale").get_weights()[0];
  CHECK(gamma.shape() == Shape{5});
  CHECK(gamma.data()[0] == 1.25f);

  const json& x = expected.at("inputs")[0];
  const json& y = expected.at("outputs")[0];
  CHECK(max_abs_diff(model_f.predict(tensor_from<float>(x)), tensor_from<float>(y)) <= 1e-5);
  CHECK(max_abs_diff(model_d.predict(tensor_from<double>(x)), tensor_from<double>(y)) <= 1e-5);
  // The same bytes from memory.
  auto from_memory = strata::io::load_model_from_memory<float>(read_bytes(path), path);
  CHECK(max_abs_diff(from_memory.predict(tensor_from<float>(x)), tensor_from<float>(y)) <= 1e-5);
}

namespace {

// A C++ Lambda: Keras saves a Lambda's Python function as bytecode or a name, which C++ cannot
// run; the user registers an implementation under "Lambda" and tells the model's Lambdas apart
// by their layer names.
template <class T>
class TestLambda : public strata::detail::WeightlessLayer<TestLambda<T>, T> {
 public:
  static constexpr const char* class_name = "Lambda";

  TestLambda(strata::Activation fn, std::string name) : fn_(fn), name_(std::move(name)) {}
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int rank) { return rank >= 2 ? rank : strata::invalid_rank; }
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 2) throw strata::shape_error(this->describe() + ": needs rank >= 2");
    return input;
  }
  void forward(const T* x, const Shape& shape, T* y, Index size) const {
    if (compute_output_shape(shape).size() != size) throw strata::shape_error(this->describe() + ": bad size");
    std::copy(x, x + size, y);
    strata::apply_activation(fn_, y, shape.product(0, shape.rank() - 1), shape.back());
  }

  static constexpr strata::MaskRule mask_rule = strata::MaskRule::pass;
  static TestLambda from_config(const strata::LayerConfig<T>& config) {
    if (config.name() == "activation") return TestLambda(strata::Activation::softmax, config.name());
    config.unsupported("this program has no C++ implementation of the Lambda '" + config.name() + "'");
  }

 private:
  strata::Activation fn_;
  std::string name_;
};

// Keras 3's Lambda(lambda x: keras.ops.softmax(x)).get_config(): the function as marshalled
// bytecode (not meant to be run here; the bytes are a stand-in).
json lambda_layer(const std::string& name) {
  return {{"class_name", "Lambda"},
          {"config",
           {{"name", name},
            {"trainable", true},
            {"dtype", "float32"},
            {"function",
             {{"class_name", "__lambda__"},
              {"config", {{"code", "4wEAAAAAAAAAAAAAAAEAAAAD"}, {"defaults", nullptr}, {"closure", nullptr}}}}},
            {"arguments", json::object()}}}};
}

}  // namespace

TEST_CASE("custom layers: a Lambda loads once a C++ implementation is registered under \"Lambda\"",
          "[io][custom][lambda]") {
  // Dense(3) -> Activation(softmax) on (None, 5, 10); the Activation becomes a Lambda.
  const std::string dir = "shape_layers/dense_activation_softmax_rank3";
  const json fixture = read_json(reference_dir + "/" + dir + ".json");
  TfjsModel original = TfjsModel::load(dir);
  REQUIRE(original.layers()[1]["class_name"] == "Activation");
  REQUIRE(original.layers()[1]["config"]["name"] == "activation");
  TfjsModel with_lambda = original;
  with_lambda.layers()[1] = lambda_layer("activation");

  REQUIRE(strata::registry<float>().find("Lambda") == nullptr);
  const std::string message = unsupported_message([&] { (void)with_lambda.open(); });
  CHECK_THAT(message, Catch::Contains("'Lambda'") && Catch::Contains("layer 'activation'") &&
                          Catch::Contains("not supported") && Catch::Contains("test/model.json"));
  CHECK_THAT(message, Catch::Contains("a Lambda's Python code cannot be loaded; register a C++ implementation for "
                                      "it with strata::register_layer (docs/custom-layers.md)"));

  strata::register_layer<TestLambda>("Lambda");
  const AnyTensor<float> x = tensor_from<float>(fixture.at("inputs")[0]);
  auto reference = original.open();
  auto model = with_lambda.open();
  CHECK(model.layer_class_name(1) == "Lambda");
  CHECK(model.layer("activation").target<TestLambda<float>>() != nullptr);
  const AnyTensor<float> want = reference.predict(x);
  const AnyTensor<float> got = model.predict(x);
  REQUIRE(got.shape() == want.shape());
  CHECK(std::memcmp(got.data(), want.data(), static_cast<std::size_t>(want.size()) * sizeof(float)) == 0);
  CHECK(max_abs_diff(got, tensor_from<float>(fixture.at("outputs")[0])) <= 1e-5);
  // double too: register_layer<TestLambda> registered both.
  const AnyTensor<double> xd = tensor_from<double>(fixture.at("inputs")[0]);
  const AnyTensor<double> want_d = original.open<double>().predict(xd);
  const AnyTensor<double> got_d = with_lambda.open<double>().predict(xd);
  CHECK(std::memcmp(got_d.data(), want_d.data(), static_cast<std::size_t>(want_d.size()) * sizeof(double)) == 0);

  // A Lambda the implementation does not know: its from_config refuses it, naming it.
  TfjsModel other = original;
  other.layers()[1] = lambda_layer("mystery");
  CHECK_THAT(unsupported_message([&] { (void)other.open(); }),
             Catch::Contains("layer 'mystery' (Lambda)") && Catch::Contains("no C++ implementation"));
}

TEST_CASE("custom layers: an unknown class is reported before any other check", "[io][custom]") {
  SECTION("Bidirectional around an unregistered LocallyConnected1D (not recurrent, with a Conv config)") {
    TfjsModel m = TfjsModel::load("bidirectional/bidi_lstm_concat_seq");
    REQUIRE(m.layers()[0]["class_name"] == "Bidirectional");
    REQUIRE(m.layers()[0]["config"]["batch_input_shape"].size() == 3);
    REQUIRE(strata::registry<float>().find("LocallyConnected1D") == nullptr);
    json& inner = m.layers()[0]["config"]["layer"];
    inner["class_name"] = "LocallyConnected1D";
    inner["config"]["filters"] = 4;
    inner["config"]["kernel_size"] = {3, 3};
    const std::string message = unsupported_message([&] { (void)m.open(); });
    CHECK_THAT(message, Catch::Contains("'LocallyConnected1D'") && Catch::Contains("not supported") &&
                            Catch::Contains("register_layer") && Catch::Contains("'bidirectional'"));
    // Not the Bidirectional's own refusal of a non-recurrent layer, nor a rank or weight error.
    CHECK_THAT(message, !Catch::Contains("recurrent") && !Catch::Contains("rank") && !Catch::Contains("weight"));
  }
  SECTION("an unregistered class given two inputs in a Functional graph") {
    // x1 -> lstm -> dense, x2 -> lstm_1 -> dense_1: 'dense' now takes both LSTM outputs.
    TfjsModel m = TfjsModel::load("functional/two_inputs_two_lstms");
    REQUIRE(m.layers()[4]["name"] == "dense");
    m.layers()[4]["inbound_nodes"] = json::parse(R"([[["lstm", 0, 0, {}], ["lstm_1", 0, 0, {}]]])");
    // A registered single-input class fails on the input count ...
    CHECK_THROWS_AS(m.open(), strata::model_error);
    CHECK_THROWS_WITH(m.open(), Catch::Contains("takes one input"));
    // ... an unregistered one on its class.
    REQUIRE(strata::registry<float>().find("StrataTestMerge") == nullptr);
    m.layers()[4]["class_name"] = "StrataTestMerge";
    const std::string message = unsupported_message([&] { (void)m.open(); });
    CHECK_THAT(message, Catch::Contains("'StrataTestMerge'") && Catch::Contains("layer 'dense'") &&
                            Catch::Contains("not supported") && !Catch::Contains("input"));
  }
  SECTION("an unregistered class after a layer whose options are wrong") {
    TfjsModel m = TfjsModel::load("shape_layers/dense_activation_softmax_rank3");
    m.layers()[0]["config"]["units"] = -3;  // Dense would refuse it (model_error)
    CHECK_THROWS_AS(m.open(), strata::model_error);
    m.layers()[1]["class_name"] = "StrataTestUnknown";
    CHECK_THAT(unsupported_message([&] { (void)m.open(); }),
               Catch::Contains("'StrataTestUnknown'") && Catch::Contains("layer 'activation'"));
  }
}

namespace {

// Two implementations of one Keras class, told apart by what they compute: x * Factor.
template <class T, int Factor>
class Times : public strata::detail::WeightlessLayer<Times<T, Factor>, T> {
 public:
  static constexpr const char* class_name = "StrataTestProbe";
  explicit Times(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  static constexpr int output_rank(int rank) { return rank >= 1 ? rank : strata::invalid_rank; }
  Shape compute_output_shape(const Shape& input) const { return input; }
  void forward(const T* x, const Shape& /*shape*/, T* y, Index size) const {
    for (Index i = 0; i < size; ++i) y[i] = x[i] * T(Factor);
  }
  static Times from_config(const strata::LayerConfig<T>& config) { return Times(config.name()); }

 private:
  std::string name_;
};
template <class T>
using ByClassName = Times<T, 2>;
template <class T>
using ByRegisteredName = Times<T, 3>;

// A dispatcher rather than a layer: from_config returns the AnyLayer<T> to use, here a built-in.
template <class T>
struct SoftmaxAlias {
  using Scalar = T;
  static constexpr const char* class_name = "StrataTestSoftmaxAlias";
  static strata::AnyLayer<T> from_config(const strata::LayerConfig<T>& config) {
    return strata::AnyLayer<T>(
        strata::ActivationLayer<T>("softmax", strata::ActivationLayerOptions().name(config.name())));
  }
};

}  // namespace

TEST_CASE("custom layers: registered_name is looked up before class_name", "[io][custom]") {
  // Dense(3) -> a probe layer {"class_name": "StrataTestProbe", "registered_name": ...}.
  TfjsModel m = TfjsModel::load("shape_layers/dense_activation_softmax_rank3");
  auto probe = [&](const char* registered_name) {
    json layer = {{"class_name", "StrataTestProbe"}, {"config", {{"name", "activation"}}}};
    if (registered_name != nullptr) layer["registered_name"] = registered_name;
    TfjsModel copy = m;
    copy.layers()[1] = layer;
    return copy;
  };
  const TfjsModel with_package = probe("strata_test_pkg>StrataTestProbe");
  const TfjsModel other_package = probe("other_pkg>StrataTestProbe");
  const TfjsModel same_name = probe("StrataTestProbe");  // Keras 3's registered_name for an unregistered class
  const TfjsModel without = probe(nullptr);
  auto is = [](const strata::Model<float>& model, auto* tag) {
    using L = std::remove_pointer_t<decltype(tag)>;
    return model.layer("activation").template target<L>() != nullptr;
  };

  REQUIRE(strata::registry<float>().find("StrataTestProbe") == nullptr);
  REQUIRE(strata::registry<float>().find("strata_test_pkg>StrataTestProbe") == nullptr);
  CHECK_THAT(unsupported_message([&] { (void)with_package.open(); }),
             Catch::Contains("'StrataTestProbe' (registered as 'strata_test_pkg>StrataTestProbe') is not supported"));
  CHECK_THAT(unsupported_message([&] { (void)same_name.open(); }),
             Catch::Contains("'StrataTestProbe' is not supported"));

  // Only the class name registered (register_layer<L>() takes L::class_name): every spelling uses it.
  strata::register_layer<ByClassName>();
  for (const TfjsModel* model : {&with_package, &other_package, &same_name, &without}) {
    CHECK(is(model->open(), static_cast<ByClassName<float>*>(nullptr)));
  }

  // The registered name registered too, for float only (the type form): it wins where the config
  // names it; double still falls back to the class name.
  strata::register_layer<ByRegisteredName<float>>("strata_test_pkg>StrataTestProbe");
  auto model = with_package.open();
  CHECK(is(model, static_cast<ByRegisteredName<float>*>(nullptr)));
  CHECK(with_package.open<double>().layer("activation").target<ByClassName<double>>() != nullptr);
  CHECK(is(other_package.open(), static_cast<ByClassName<float>*>(nullptr)));
  CHECK(is(without.open(), static_cast<ByClassName<float>*>(nullptr)));
  // And it computes: Dense's output times 3 (ByRegisteredName) rather than times 2.
  const json fixture = read_json(reference_dir + "/shape_layers/dense_activation_softmax_rank3.json");
  const AnyTensor<float> x = tensor_from<float>(fixture.at("inputs")[0]);
  const AnyTensor<float> by_registered = model.predict(x);
  const AnyTensor<float> by_class = without.open().predict(x);
  REQUIRE(by_registered.shape() == by_class.shape());
  for (Index i = 0; i < by_class.size(); ++i) CHECK(by_registered.data()[i] * 2 == by_class.data()[i] * 3);
}

TEST_CASE("custom layers: a registered from_config may return an AnyLayer: any layer, built-in or not",
          "[io][custom]") {
  TfjsModel m = TfjsModel::load("shape_layers/dense_activation_softmax_rank3");
  const json fixture = read_json(reference_dir + "/shape_layers/dense_activation_softmax_rank3.json");
  m.layers()[1]["class_name"] = "StrataTestSoftmaxAlias";
  m.layers()[1]["config"] = {{"name", "activation"}};
  REQUIRE(strata::registry<float>().find("StrataTestSoftmaxAlias") == nullptr);
  CHECK_THROWS_AS(m.open(), strata::unsupported_error);
  strata::register_layer<SoftmaxAlias>();
  auto model = m.open();
  CHECK(model.layer_class_name(1) == "StrataTestSoftmaxAlias");
  CHECK(model.layer("activation").target<strata::ActivationLayer<float>>() != nullptr);
  CHECK(max_abs_diff(model.predict(tensor_from<float>(fixture.at("inputs")[0])),
                     tensor_from<float>(fixture.at("outputs")[0])) <= 1e-5);
}

namespace {

// A layer of two inputs: output_shapes and call_graph take the place of the one-input defaults.
template <class T>
class TestAdd : public strata::detail::WeightlessLayer<TestAdd<T>, T> {
 public:
  static constexpr const char* class_name = "StrataTestAdd";
  explicit TestAdd(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

  // The one-input layer concept, which a two-input layer refuses.
  static constexpr int output_rank(int rank) { return rank >= 1 ? rank : strata::invalid_rank; }
  Shape compute_output_shape(const Shape& /*input*/) const {
    throw strata::value_error(this->describe() + ": takes two inputs");
  }
  void forward(const T* /*x*/, const Shape& shape, T* /*y*/, Index /*size*/) const { compute_output_shape(shape); }

  // In a model graph.
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    if (inputs.size() != 2 || inputs[0] != inputs[1]) {
      throw strata::value_error(this->describe() + ": takes two inputs of one shape");
    }
    return {inputs[0]};
  }
  void call_graph(strata::GraphCall<T>& call) const {
    std::vector<Shape> shapes;
    for (const auto& in : call.inputs) shapes.push_back(in.tensor.shape());
    AnyTensor<T> y = AnyTensor<T>::uninitialized(output_shapes(shapes).at(0));
    const T* a = call.inputs[0].tensor.data();
    const T* b = call.inputs[1].tensor.data();
    for (Index i = 0; i < y.size(); ++i) y.data()[i] = a[i] + b[i];
    call.outputs.push_back(std::move(y));
    call.masks.push_back(nullptr);  // no mask
  }
  static TestAdd from_config(const strata::LayerConfig<T>& config) { return TestAdd(config.name()); }

 private:
  std::string name_;
};

}  // namespace

TEST_CASE("custom layers: a registered class of two inputs: output_shapes and call_graph", "[io][custom]") {
  // x1 -> dense, x2 -> dense (shared): add(dense(x1), dense(x2)) is the new output.
  TfjsModel m = TfjsModel::load("functional/shared_dense_two_inputs");
  const json fixture = read_json(reference_dir + "/functional/shared_dense_two_inputs.json");
  m.layers().push_back(json::parse(R"({"class_name": "StrataTestAdd", "name": "add", "config": {"name": "add"},
                                       "inbound_nodes": [[["dense", 0, 0, {}], ["dense", 1, 0, {}]]]})"));
  m.model["modelTopology"]["config"]["output_layers"] = json::parse(R"([["add", 0, 0]])");
  REQUIRE(strata::registry<float>().find("StrataTestAdd") == nullptr);
  CHECK_THROWS_AS(m.open(), strata::unsupported_error);

  strata::register_layer<TestAdd>();
  auto model = m.open();
  std::vector<AnyTensor<float>> inputs;
  for (const auto& x : fixture.at("inputs")) inputs.push_back(tensor_from<float>(x));
  const std::vector<AnyTensor<float>> got = model.predict(inputs);
  REQUIRE(got.size() == 1);
  const AnyTensor<float> y1 = tensor_from<float>(fixture.at("outputs")[0]);
  const AnyTensor<float> y2 = tensor_from<float>(fixture.at("outputs")[1]);
  AnyTensor<float> want = AnyTensor<float>::uninitialized(y1.shape());
  for (Index i = 0; i < want.size(); ++i) want.data()[i] = y1.data()[i] + y2.data()[i];
  CHECK(max_abs_diff(got[0], want) <= 1e-5);
  CHECK_THAT(model.summary(), Catch::Contains("add (StrataTestAdd)"));
}
