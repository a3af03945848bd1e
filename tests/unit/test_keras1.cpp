// SPDX-License-Identifier: MIT
// Keras 1 files: each layer reads Keras 1's config names (LayerConfig::spelling) and converts
// Keras 1's per-gate LSTM/GRU weights (legacy_weight_groups / convert_legacy_weights). The
// expected conversion is written here from Keras 2.0.9's preprocess_weights_for_loading (engine/
// topology.py), which concatenates the stored arrays by index: LSTM kernel = [0, 6, 3, 9],
// recurrent kernel = [1, 7, 4, 10], bias = [2, 8, 5, 11]; GRU [0, 3, 6], [1, 4, 7], [2, 5, 8].
// The loader tests load whole Keras 1.2.2 files (tests/io/fixtures, *_keras1_*).

#include <string>
#include <utility>
#include <vector>

#include "strata/layers/bidirectional.hpp"
#include "strata/layers/dense.hpp"
#include "strata/layers/dropout.hpp"
#include "strata/layers/gru.hpp"
#include "strata/layers/lstm.hpp"
#include "strata/layers/simple_rnn.hpp"
#include "strata/layers/time_distributed.hpp"
#include "strata/registry.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/util.hpp"

using strata::AnyLayer;
using strata::AnyTensor;
using strata::Index;
using strata::KerasVersion;
using strata::Shape;
using strata::Weights;
using test::has;

namespace {

const KerasVersion keras1 = KerasVersion::parse("1.2.2");

// The message of a load_error E (a std::runtime_error, which test::thrown_message does not take).
template <class E, class F>
std::string load_error_message(F&& f) {
  CHECK_THROWS_AS(f(), E);
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("threw an exception of another type: " << e.what());
  }
  return {};
}

// The stored arrays of a Keras 1 LSTM/GRU (W, U, b per gate), random.
template <class T>
Weights<T> per_gate_arrays(std::size_t gates, Index features, Index units) {
  Weights<T> w;
  for (std::size_t g = 0; g < gates; ++g) {
    w.emplace_back(test::random_tensor<T, 2>(features, units));
    w.emplace_back(test::random_tensor<T, 2>(units, units));
    w.emplace_back(test::random_tensor<T, 1>(units));
  }
  return w;
}

// numpy.concatenate(arrays at `order`, axis=-1) on row-major arrays of equal row counts.
template <class T>
std::vector<T> concat_last_axis(const Weights<T>& stored, const std::vector<std::size_t>& order) {
  const Shape& first = stored[order[0]].shape();
  const Index rows = first.rank() == 2 ? first[0] : 1;
  std::vector<T> out;
  for (Index r = 0; r < rows; ++r) {
    for (std::size_t k : order) {
      const AnyTensor<T>& a = stored[k];
      const Index cols = a.shape().back();
      for (Index c = 0; c < cols; ++c) out.push_back(a.data()[r * cols + c]);
    }
  }
  return out;
}

template <class T>
strata::Registry<T> keras1_registry() {
  strata::Registry<T> registry;
  registry.template add<strata::Dense<T>>();
  registry.template add<strata::Dropout<T>>();
  registry.template add<strata::LSTM<T>>();
  registry.template add<strata::GRU<T>>();
  registry.template add<strata::SimpleRNN<T>>();
  registry.template add<strata::detail::AnyTimeDistributed<T>>();
  registry.template add<strata::detail::BidirectionalEntry<T>>();
  return registry;
}

strata::Config keras1_rnn_config(const char* name, Index output_dim) {
  strata::Config c = strata::Config::dict();
  c.set("name", name);
  c.set("trainable", true);
  c.set("return_sequences", true);
  c.set("go_backwards", false);
  c.set("stateful", false);
  c.set("unroll", false);
  c.set("consume_less", "cpu");
  c.set("input_dim", 3);
  c.set("input_length", nullptr);
  c.set("output_dim", output_dim);
  c.set("init", "glorot_uniform");
  c.set("inner_init", "orthogonal");
  c.set("activation", "tanh");
  c.set("inner_activation", "hard_sigmoid");
  c.set("W_regularizer", nullptr);
  c.set("dropout_W", 0.0);
  c.set("dropout_U", 0.0);
  return c;
}

}  // namespace

TEMPLATE_TEST_CASE("Keras 1 LSTM and GRU weights: twelve / nine per-gate arrays -> kernel, recurrent_kernel, bias",
                   "[keras1][lstm][gru]", float, double) {
  using T = TestType;
  const Index features = 3;
  const Index units = 4;
  const std::vector<Shape> inputs{Shape{2, 5, features}};

  SECTION("LSTM: stored i, c, f, o; Keras 2 columns i, f, c, o") {
    const strata::LSTM<T> lstm(units, strata::LSTMOptions().name("lstm_1"));
    const auto groups = lstm.legacy_weight_groups(inputs, keras1);
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].path == "cell");
    std::vector<std::string> names;
    for (const auto& w : groups[0].weights) names.push_back(w.name);
    CHECK(names ==
          std::vector<std::string>{"W_i", "U_i", "b_i", "W_c", "U_c", "b_c", "W_f", "U_f", "b_f", "W_o", "U_o", "b_o"});
    CHECK(groups[0].weights[0].shape == (Shape{features, units}));
    CHECK(groups[0].weights[1].shape == (Shape{units, units}));
    CHECK(groups[0].weights[2].shape == (Shape{units}));

    const Weights<T> stored = per_gate_arrays<T>(4, features, units);
    const Weights<T> w = lstm.convert_legacy_weights(stored, keras1);
    REQUIRE(w.size() == 3);
    CHECK(w[0].shape() == (Shape{features, 4 * units}));
    CHECK(w[1].shape() == (Shape{units, 4 * units}));
    CHECK(w[2].shape() == (Shape{4 * units}));
    CHECK(test::to_vector(w[0]) == concat_last_axis(stored, {0, 6, 3, 9}));
    CHECK(test::to_vector(w[1]) == concat_last_axis(stored, {1, 7, 4, 10}));
    CHECK(test::to_vector(w[2]) == concat_last_axis(stored, {2, 8, 5, 11}));

    // Files of other versions keep Keras 2's layout: nothing to declare.
    for (const char* v : {"2.2.4", "2.15.0", "3.6.0", "tfjs-layers 4.22.0", ""}) {
      CHECK(lstm.legacy_weight_groups(inputs, KerasVersion::parse(v)).empty());
    }
    // Without a bias (never in Keras 1) there is no Keras 1 layout either.
    const strata::LSTM<T> nobias(units, strata::LSTMOptions().use_bias(false));
    CHECK(nobias.legacy_weight_groups(inputs, keras1).empty());
  }

  SECTION("GRU: stored z, r, h, Keras 2's order") {
    const strata::GRU<T> gru(units, strata::GRUOptions().reset_after(false));
    const auto groups = gru.legacy_weight_groups(inputs, keras1);
    REQUIRE(groups.size() == 1);
    REQUIRE(groups[0].weights.size() == 9);
    CHECK(groups[0].weights[3].name == "W_r");
    CHECK(groups[0].weights[8].name == "b_h");
    const Weights<T> stored = per_gate_arrays<T>(3, features, units);
    const Weights<T> w = gru.convert_legacy_weights(stored, keras1);
    REQUIRE(w.size() == 3);
    CHECK(test::to_vector(w[0]) == concat_last_axis(stored, {0, 3, 6}));
    CHECK(test::to_vector(w[1]) == concat_last_axis(stored, {1, 4, 7}));
    CHECK(test::to_vector(w[2]) == concat_last_axis(stored, {2, 5, 8}));
    // reset_after=true has a (2, 3u) bias, which Keras 1 never wrote.
    const strata::GRU<T> after(units, strata::GRUOptions().reset_after(true));
    CHECK(after.legacy_weight_groups(inputs, keras1).empty());
    CHECK(has(test::thrown_message<strata::value_error>([&] { (void)after.convert_legacy_weights(stored, keras1); }),
              "Keras 1 stored no such layer"));
  }

  SECTION("SimpleRNN: W, U, b is already Keras 2's layout") {
    const strata::SimpleRNN<T> rnn(units);
    CHECK(rnn.legacy_weight_groups(inputs, keras1).empty());
    const Weights<T> stored{AnyTensor<T>(test::random_tensor<T, 2>(features, units)),
                            AnyTensor<T>(test::random_tensor<T, 2>(units, units)),
                            AnyTensor<T>(test::random_tensor<T, 1>(units))};
    const Weights<T> w = rnn.convert_legacy_weights(stored, keras1);
    REQUIRE(w.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) CHECK(test::to_vector(w[i]) == test::to_vector(stored[i]));
  }

  SECTION("wrong arrays: a shape_error naming the layer, the weight and both shapes") {
    const strata::LSTM<T> lstm(units, strata::LSTMOptions().name("lstm_1"));
    Weights<T> eleven = per_gate_arrays<T>(4, features, units);
    eleven.pop_back();
    const std::string count =
        test::thrown_message<strata::shape_error>([&] { (void)lstm.convert_legacy_weights(eleven, keras1); });
    CHECK(has(count, "strata::LSTM 'lstm_1'"));
    CHECK(has(count, "12 weight arrays; got 11"));

    Weights<T> transposed = per_gate_arrays<T>(4, features, units);
    transposed[3] = AnyTensor<T>(test::random_tensor<T, 2>(units, features));  // W_c
    const std::string shape =
        test::thrown_message<strata::shape_error>([&] { (void)lstm.convert_legacy_weights(transposed, keras1); });
    CHECK(has(shape, "strata::LSTM 'lstm_1'"));
    CHECK(has(shape, "weight 3 (W_c) must have shape (3, 4); got (4, 3)"));
  }
}

TEMPLATE_TEST_CASE("Keras 1 weights through the wrappers and AnyLayer: TimeDistributed(LSTM), Bidirectional(GRU)",
                   "[keras1][time_distributed][bidirectional]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();
  const Index units = 2;

  // TimeDistributed(LSTM) on (batch, outer, time, features): the LSTM sees (batch*outer, time, features).
  strata::Config inner = strata::Config::dict();
  inner.set("class_name", "LSTM");
  inner.set("config", keras1_rnn_config("lstm_1", units));
  strata::Config td = strata::Config::dict();
  td.set("name", "td");
  td.set("layer", inner);
  const strata::LayerConfig<T> td_config(registry, "TimeDistributed", td, keras1, "test");
  const AnyLayer<T> td_layer = registry.build(td_config);
  const std::vector<Shape> td_inputs{Shape{2, 4, 5, 3}};
  const auto td_groups = td_layer.legacy_weight_groups(td_inputs, keras1);
  REQUIRE(td_groups.size() == 1);
  CHECK(td_groups[0].path == "layer/cell");
  REQUIRE(td_groups[0].weights.size() == 12);
  CHECK(td_groups[0].weights[0].shape == (Shape{3, units}));
  const Weights<T> stored = per_gate_arrays<T>(4, 3, units);
  const Weights<T> w = td_layer.convert_legacy_weights(stored, keras1);
  REQUIRE(w.size() == 3);
  CHECK(test::to_vector(w[0]) == concat_last_axis(stored, {0, 6, 3, 9}));
  CHECK(td_layer.legacy_weight_groups(td_inputs, KerasVersion::parse("2.2.4")).empty());

  // Bidirectional(GRU): the forward layer's nine arrays, then the backward layer's.
  strata::Config gru = strata::Config::dict();
  gru.set("class_name", "GRU");
  gru.set("config", keras1_rnn_config("gru_1", units));
  strata::Config bidi = strata::Config::dict();
  bidi.set("name", "bidi");
  bidi.set("layer", gru);
  bidi.set("merge_mode", "concat");
  const strata::LayerConfig<T> bidi_config(registry, "Bidirectional", bidi, keras1, "test");
  const AnyLayer<T> bidi_layer = registry.build(bidi_config);
  const std::vector<Shape> inputs{Shape{2, 5, 3}};
  const auto groups = bidi_layer.legacy_weight_groups(inputs, keras1);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].path == "forward_layer/cell");
  CHECK(groups[1].path == "backward_layer/cell");
  Weights<T> both = per_gate_arrays<T>(3, 3, units);
  const Weights<T> backward = per_gate_arrays<T>(3, 3, units);
  both.insert(both.end(), backward.begin(), backward.end());
  const Weights<T> converted = bidi_layer.convert_legacy_weights(both, keras1);
  REQUIRE(converted.size() == 6);
  CHECK(test::to_vector(converted[0]) == concat_last_axis(both, {0, 3, 6}));
  CHECK(test::to_vector(converted[3]) == concat_last_axis(both, {9, 12, 15}));
  CHECK(test::to_vector(converted[5]) == concat_last_axis(both, {11, 14, 17}));
}

TEMPLATE_TEST_CASE("Keras 1 config names: output_dim, inner_activation, bias, p", "[keras1][config]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();

  const strata::Config lstm_cfg = keras1_rnn_config("lstm_1", 6);
  const strata::LayerConfig<T> lstm_config(registry, "LSTM", lstm_cfg, keras1, "test");
  CHECK(std::string(lstm_config.spelling("units", "output_dim")) == "output_dim");
  const strata::LSTM<T> lstm = strata::LSTM<T>::from_config(lstm_config);
  CHECK(lstm.units() == 6);
  // Keras 1's hard_sigmoid is clip(0.2x + 0.5).
  CHECK(lstm.recurrent_activation() == strata::Activation::hard_sigmoid_keras2);
  CHECK(lstm.return_sequences());
  CHECK(lstm.use_bias());

  // inner_activation missing: Keras 1's default, hard_sigmoid; GRU without reset_after: false.
  strata::Config gru_cfg = keras1_rnn_config("gru_1", 5);
  gru_cfg.set("inner_activation", nullptr);
  const strata::LayerConfig<T> gru_config(registry, "GRU", gru_cfg, keras1, "test");
  const strata::GRU<T> gru = strata::GRU<T>::from_config(gru_config);
  CHECK(gru.units() == 5);
  CHECK(gru.recurrent_activation() == strata::Activation::hard_sigmoid_keras2);
  CHECK_FALSE(gru.reset_after());

  strata::Config dense_cfg = strata::Config::dict();
  dense_cfg.set("name", "dense_1");
  dense_cfg.set("output_dim", 7);
  dense_cfg.set("init", "glorot_uniform");
  dense_cfg.set("activation", "relu");
  dense_cfg.set("bias", false);
  dense_cfg.set("input_dim", 3);
  const strata::LayerConfig<T> dense_config(registry, "Dense", dense_cfg, keras1, "test");
  const strata::Dense<T> dense = strata::Dense<T>::from_config(dense_config);
  CHECK(dense.units() == 7);
  CHECK_FALSE(dense.use_bias());
  CHECK(dense.activation() == strata::Activation::relu);

  // The same config read as a Keras 2 file: Keras 2's names, so 'units' is missing.
  const strata::LayerConfig<T> dense_k2(registry, "Dense", dense_cfg, KerasVersion::parse("2.2.4"), "test");
  CHECK(std::string(dense_k2.spelling("units", "output_dim")) == "units");
  const std::string missing =
      load_error_message<strata::io_error>([&] { (void)strata::Dense<T>::from_config(dense_k2); });
  CHECK(has(missing, "layer 'dense_1' (Dense)"));
  CHECK(has(missing, "the config has no 'units'"));
  // And a Keras 2 spelling in a Keras 1 file is not read either.
  strata::Config k2_in_k1 = strata::Config::dict();
  k2_in_k1.set("name", "d");
  k2_in_k1.set("units", 3);
  const strata::LayerConfig<T> k2_in_k1_config(registry, "Dense", k2_in_k1, keras1, "test");
  CHECK(has(load_error_message<strata::io_error>([&] { (void)strata::Dense<T>::from_config(k2_in_k1_config); }),
            "the config has no 'output_dim'"));

  strata::Config dropout_cfg = strata::Config::dict();
  dropout_cfg.set("name", "dropout_1");
  dropout_cfg.set("p", 0.25);
  const strata::LayerConfig<T> dropout_config(registry, "Dropout", dropout_cfg, keras1, "test");
  CHECK(strata::Dropout<T>::from_config(dropout_config).rate() == 0.25);
  dropout_cfg.set("p", 1.5);
  const strata::LayerConfig<T> bad_dropout(registry, "Dropout", dropout_cfg, keras1, "test");
  CHECK(has(load_error_message<strata::model_error>([&] { (void)strata::Dropout<T>::from_config(bad_dropout); }),
            "rate must be in [0, 1]; got 1.5"));

  CHECK(keras1.keras1());
  CHECK_FALSE(KerasVersion::parse("2.0.0").keras1());
  CHECK_FALSE(KerasVersion::parse("tfjs-layers 1.2.2").keras1());
}
