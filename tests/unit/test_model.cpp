// SPDX-License-Identifier: MIT
// strata::Model assembled in C++ from typed layers, AnyLayer, the typed chain strata::Sequential,
// and what the graph promises: results bitwise those of the layers called by hand, typed access to
// its layers, deep copies, masks, const calls that never change a layer.
#include <strata/strata.hpp>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyLayer;
using strata::AnyTensor;
using strata::Dense;
using strata::DenseOptions;
using strata::LSTM;
using strata::LSTMOptions;
using strata::Model;
using strata::Shape;
using strata::Tensor;
using strata::TimeDistributed;

template <class A, class B>
bool same_bits(const A& a, const B& b) {
  if (a.size() != b.size()) return false;
  for (strata::Index i = 0; i < a.size(); ++i) {
    if (a.data()[i] != b.data()[i]) return false;
  }
  return true;
}

LSTM<float> seed_lstm(bool stateful = false) {
  return LSTM<float>(5, LSTMOptions().return_sequences(true).stateful(stateful).input_dim(20).seed(3).name("lstm"));
}
TimeDistributed<Dense<float>> seed_head() {
  return TimeDistributed<Dense<float>>(Dense<float>(1, DenseOptions().input_dim(5).seed(4).name("dense")),
                                       strata::TimeDistributedOptions().name("td"));
}

}  // namespace

TEST_CASE("Model: assembled from typed layers, it computes bitwise what the layers compute by hand", "[model]") {
  const auto lstm = seed_lstm();
  const auto head = seed_head();
  Model<float> model("seed", "Sequential");
  const auto x = model.add_input("x", {-1, 10, 20});
  const auto h = model.add(lstm, x);
  model.set_outputs({model.add(head, h)});
  const Tensor<float, 3> input = test::random_tensor<float, 3>(4, 10, 20);
  const Tensor<float, 3> by_hand = head(lstm(input));
  const Tensor<float, 3> y = model.predict(input);  // a Tensor is viewed, not copied
  CHECK(same_bits(y, by_hand));
  // A view of user memory works the same.
  const strata::ConstTensorMap<float, 3> view(input.data(), 4, 10, 20);
  CHECK(same_bits(model.predict(view), by_hand));
  CHECK(model.layer_names() == std::vector<std::string>{"lstm", "td"});
  CHECK(model.output_shapes() == std::vector<strata::DeclaredShape>{{-1, 10, 1}});
  CHECK(model.count_params() == lstm.count_params() + head.count_params());
}

TEST_CASE("Model: layer<L>(name) hands back the typed layer, and get/set_weights change the model", "[model]") {
  Model<float> model("m", "Sequential");
  const auto x = model.add_input("x", {-1, 10, 20});
  model.set_outputs({model.add(seed_head(), model.add(seed_lstm(), x))});
  Dense<float>& dense = model.layer<TimeDistributed<Dense<float>>>("td").layer();
  CHECK(dense.units() == 1);
  CHECK(model.layer<LSTM<float>>("lstm").units() == 5);
  // The wrong type or name is a value_error naming what was asked.
  CHECK_THROWS_AS(model.layer<Dense<float>>("lstm"), strata::value_error);
  CHECK_THROWS_WITH(model.layer<LSTM<float>>("nope"), Catch::Contains("'nope'") && Catch::Contains("lstm"));

  const Tensor<float, 3> input = test::random_tensor<float, 3>(2, 10, 20);
  const AnyTensor<float> before = model.predict(input);
  auto w = dense.get_weights();
  w[1].data()[0] += 1.0f;  // the bias of the only unit
  dense.set_weights(w);
  const AnyTensor<float> after = model.predict(input);
  for (strata::Index i = 0; i < after.size(); ++i)
    CHECK(after.data()[i] == Approx(before.data()[i] + 1.0f).margin(1e-5));
  // Keras model.get_weights(): the layers' lists, layer after layer.
  const auto all = model.get_weights();
  REQUIRE(all.size() == 5);
  CHECK(all[4].shape() == Shape{1});
  model.set_weights(all);
  CHECK(same_bits(model.predict(input), after));
  CHECK_THROWS_AS(model.set_weights({all[0]}), strata::shape_error);
}

TEST_CASE("Model: a copy owns its layers, and weights and state are never shared", "[model]") {
  Model<float> model("m", "Sequential");
  const auto x = model.add_input("x", {2, 3, 20});
  model.set_outputs({model.add(seed_lstm(/*stateful=*/true), x)});
  const Tensor<float, 3> input = test::random_tensor<float, 3>(2, 3, 20);
  const AnyTensor<float> first = model.predict(input);
  Model<float> copy = model;  // holds the state after one call
  const AnyTensor<float> second = model.predict(input);
  CHECK(same_bits(copy.predict(input), second));  // the copy continues from the same state
  CHECK_FALSE(same_bits(first, second));
  // Changing the copy's weights leaves the original alone.
  auto& lstm = copy.layer<LSTM<float>>("lstm");
  auto w = lstm.get_weights();
  const float original = w[0].data()[0];
  w[0].data()[0] = original + 1.0f;
  lstm.set_weights(w);
  CHECK(model.layer<LSTM<float>>("lstm").get_weights()[0].data()[0] == original);
  CHECK(copy.layer<LSTM<float>>("lstm").get_weights()[0].data()[0] == original + 1.0f);
  model.reset_states();
  CHECK(same_bits(model.predict(input), first));
}

TEST_CASE("Model: the const predict runs stateless models and refuses stateful ones", "[model]") {
  Model<float> stateless("s", "Sequential");
  stateless.set_outputs({stateless.add(seed_lstm(), stateless.add_input("x", {-1, 10, 20}))});
  const Model<float>& const_model = stateless;
  const Tensor<float, 3> input = test::random_tensor<float, 3>(2, 10, 20);
  CHECK(same_bits(const_model.predict(input), seed_lstm()(input)));

  Model<float> stateful("s", "Sequential");
  stateful.set_outputs({stateful.add(seed_lstm(true), stateful.add_input("x", {2, 10, 20}))});
  const Model<float>& const_stateful = stateful;
  CHECK_THROWS_AS(const_stateful.predict(input), strata::value_error);
  CHECK_THROWS_WITH(const_stateful.predict(input), Catch::Contains("stateful") && Catch::Contains("non-const"));
  CHECK_NOTHROW(stateful.predict(input));
  // The same for a layer on its own: a const stateful LSTM cannot be called.
  const LSTM<float> const_lstm = seed_lstm(true);
  CHECK_THROWS_AS(const_lstm(input), strata::value_error);
}

TEST_CASE("Model: graphs with branches, shared layers, several inputs and outputs", "[model]") {
  const Dense<float> shared(3, DenseOptions().input_dim(4).activation("tanh").seed(1).name("shared"));
  Model<float> model("g");
  const auto a = model.add_input("a", {-1, 4});
  const auto b = model.add_input("b", {-1, 4});
  const std::size_t s = model.add_layer(shared);
  const auto ya = model.call(s, {a}).front();
  const auto yb = model.call(s, {b}).front();
  const auto z = model.add(strata::ActivationLayer<float>("relu"), ya);
  model.set_outputs({z, yb, ya});
  const Tensor<float, 2> xa = test::random_tensor<float, 2>(3, 4);
  const Tensor<float, 2> xb = test::random_tensor<float, 2>(3, 4);
  const auto out = model.predict({strata::TensorView<float>(xa), strata::TensorView<float>(xb)});
  REQUIRE(out.size() == 3);
  const Tensor<float, 2> ra = shared(xa);
  CHECK(same_bits(out[1], shared(xb)));
  CHECK(same_bits(out[2], ra));
  CHECK(same_bits(out[0], strata::ActivationLayer<float>("relu")(ra)));
  CHECK(model.layer_count() == 2);  // the shared layer once
  CHECK_THAT(model.summary(), Catch::Contains("shared (Dense)") && Catch::Contains("Connected to"));
  CHECK_THROWS_AS(model.add_layer(shared), strata::value_error);  // the name is taken
  CHECK_THROWS_AS(model.predict({strata::TensorView<float>(xa)}), strata::shape_error);
}

TEST_CASE("Model: masks travel with the tensors from Masking to the recurrent layer", "[model][mask]") {
  Model<double> model("masked", "Sequential");
  const auto x = model.add_input("x", {-1, 6, 3});
  const auto m = model.add(strata::Masking<double>(0.0), x);
  const auto d = model.add(Dense<double>(4, DenseOptions().input_dim(3).seed(2)), m);
  const auto y = model.add(LSTM<double>(2, LSTMOptions().input_dim(4).return_sequences(true).seed(5)), d);
  model.set_outputs({y});
  Tensor<double, 3> input = test::random_tensor<double, 3>(2, 6, 3);
  for (int f = 0; f < 3; ++f) input(1, 4, f) = 0.0;  // one masked step
  const auto& lstm = model.layer<LSTM<double>>(model.layer_names()[2]);
  const auto& dense = model.layer<Dense<double>>(model.layer_names()[1]);
  const strata::Mask mask = strata::Masking<double>(0.0).compute_mask(input);
  const AnyTensor<double> want = lstm(dense(strata::Masking<double>(0.0)(input)), mask);
  CHECK(same_bits(model.predict(input), want));
  CHECK_FALSE(same_bits(model.predict(input), lstm(dense(input))));
}

TEST_CASE("AnyLayer: holds any layer, copies it deeply, and hands it back by type", "[model]") {
  AnyLayer<float> any(Dense<float>(2, DenseOptions().input_dim(3).seed(1).name("d")));
  CHECK(std::string(any.keras_class_name()) == "Dense");
  CHECK(any.target<Dense<float>>() != nullptr);
  CHECK(any.target<LSTM<float>>() == nullptr);
  AnyLayer<float> copy = any;
  auto w = copy.get_weights();
  const float original = w[0].data()[0];
  w[0].data()[0] = original + 1.0f;
  copy.set_weights(w);
  CHECK(any.get_weights()[0].data()[0] == original);
  CHECK(copy.get_weights()[0].data()[0] == original + 1.0f);
  CHECK(any.weight_count() == 2);
  CHECK(any.weight_groups({Shape{5, 3}})[0].weights[0].shape == Shape{3, 2});
  // TimeDistributed wraps a layer chosen at run time.
  TimeDistributed<AnyLayer<float>> td(any);
  const Tensor<float, 3> x = test::random_tensor<float, 3>(2, 4, 3);
  const AnyTensor<float> y = td(x);
  CHECK(y.shape() == Shape{2, 4, 2});
  CHECK(same_bits(y, TimeDistributed<Dense<float>>(*any.target<Dense<float>>())(x)));
  CHECK_THROWS_AS(AnyLayer<float>().describe(), strata::value_error);
}

TEST_CASE("Sequential: the typed chain is the layers called in order", "[model]") {
  const auto lstm = seed_lstm();
  const auto head = seed_head();
  strata::Sequential chain(lstm, head);
  static_assert(decltype(chain)::size() == 2, "two layers");
  const Tensor<float, 3> input = test::random_tensor<float, 3>(3, 10, 20);
  const Tensor<float, 3> y = chain(input);
  CHECK(same_bits(y, head(lstm(input))));
  CHECK(chain.layer<0>().units() == 5);
  const auto w = chain.get_weights();
  CHECK(w.size() == 5);
  strata::Sequential other(seed_lstm(), TimeDistributed<Dense<float>>(Dense<float>(1, DenseOptions().input_dim(5))));
  other.set_weights(w);
  CHECK(same_bits(other(input), y));
  CHECK(chain.count_params() == lstm.count_params() + head.count_params());
  CHECK_THROWS_AS(other.set_weights({w[0]}), strata::shape_error);
}

TEST_CASE("Model and Sequential: set_weights builds unbuilt layers, counting by weight_count", "[model]") {
  const Dense<float> built(2, DenseOptions().input_dim(3).seed(1).name("d"));
  Model<float> model("m", "Sequential");
  model.set_outputs({model.add(Dense<float>(2, DenseOptions().name("d")), model.add_input("x", {-1, 3}))});
  model.set_weights(built.get_weights());  // the layer had no weights yet
  const Tensor<float, 2> x = test::random_tensor<float, 2>(4, 3);
  CHECK(same_bits(model.predict(x), built(x)));
  strata::Sequential chain(Dense<float>(2));
  chain.set_weights(built.get_weights());
  CHECK(same_bits(chain(x), built(x)));
}

TEST_CASE("Model: predict(tensor) of a model with several outputs is refused, not cut short", "[model]") {
  Model<float> model("two");
  const auto x = model.add_input("x", {-1, 3});
  const auto a = model.add(Dense<float>(2, DenseOptions().input_dim(3).seed(1)), x);
  const auto b = model.add(strata::ActivationLayer<float>("relu"), a);
  model.set_outputs({a, b});
  const Tensor<float, 2> input = test::random_tensor<float, 2>(4, 3);
  CHECK_THROWS_AS(model.predict(input), strata::value_error);
  CHECK(model.predict(std::vector<strata::TensorView<float>>{input}).size() == 2);
}

TEST_CASE("Bidirectional: a backward layer of other units is refused, and set_weights is all or nothing",
          "[model][bidirectional]") {
  using strata::Bidirectional;
  // Merging outputs of two widths would read past the narrower one.
  CHECK_THROWS_AS(Bidirectional<LSTM<float>>(LSTM<float>(16, LSTMOptions().input_dim(3)),
                                             LSTM<float>(2, LSTMOptions().input_dim(3).go_backwards(true))),
                  strata::value_error);
  CHECK_THROWS_AS(Bidirectional<LSTM<float>>(LSTM<float>(4, LSTMOptions().input_dim(3)),
                                             LSTM<float>(4, LSTMOptions().input_dim(5).go_backwards(true))),
                  strata::value_error);
  Bidirectional<LSTM<float>> bi(LSTM<float>(4, LSTMOptions().input_dim(3).seed(2)));
  const auto before = bi.get_weights();
  auto bad = before;
  bad[0].data()[0] += 1.0f;                        // a new forward kernel...
  bad[4] = AnyTensor<float>::zeros(Shape{5, 16});  // ...and a backward kernel of the wrong shape
  CHECK_THROWS_AS(bi.set_weights(bad), strata::shape_error);
  CHECK(same_bits(bi.get_weights()[0], before[0]));  // the forward layer kept its weights
}

TEST_CASE("Embedding: a matrix too large to address is an error, not an overflow", "[model]") {
  CHECK_THROWS_AS(strata::Embedding<float>(strata::Index(1) << 32, strata::Index(1) << 32), strata::shape_error);
  CHECK_THROWS_AS(Dense<float>(strata::Index(1) << 32, DenseOptions().input_dim(strata::Index(1) << 32)),
                  strata::shape_error);
}
