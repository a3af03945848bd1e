// SPDX-License-Identifier: MIT
// strata::Model::stream: a model run one time step per call, bitwise equal to model.predict on the
// whole sequence at every step (or, for an output without a time axis, to predict on the sequence
// so far); models with a layer that cannot be streamed are refused, naming the layer and why.
#include <strata/strata.hpp>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/util.hpp"

namespace {

using strata::Add;
using strata::AnyTensor;
using strata::Concatenate;
using strata::ConcatenateOptions;
using strata::Conv1D;
using strata::ConvOptions;
using strata::Dense;
using strata::DenseOptions;
using strata::Index;
using strata::LSTM;
using strata::LSTMOptions;
using strata::Model;
using strata::ModelStream;
using strata::Shape;
using strata::Tensor;
using strata::TensorView;
using strata::TimeDistributed;

// x[:, t] of a (batch, time, rest...) tensor, as its own (batch, rest...) tensor.
template <class T>
AnyTensor<T> step_of(const AnyTensor<T>& x, Index t) {
  const Shape& s = x.shape();
  Shape step{s[0]};
  for (int d = 2; d < s.rank(); ++d) step.push_back(s[d]);
  AnyTensor<T> out = AnyTensor<T>::uninitialized(step);
  const Index inner = step.size() / s[0];
  for (Index b = 0; b < s[0]; ++b) {
    const T* src = x.data() + (b * s[1] + t) * inner;
    std::copy(src, src + inner, out.data() + b * inner);
  }
  return out;
}

// The first `steps` steps of a (batch, time, rest...) tensor.
template <class T>
AnyTensor<T> prefix_of(const AnyTensor<T>& x, Index steps) {
  const Shape& s = x.shape();
  Shape p = s;
  p[1] = steps;
  AnyTensor<T> out = AnyTensor<T>::uninitialized(p);
  const Index inner = s.size() / (s[0] * s[1]);
  for (Index b = 0; b < s[0]; ++b) {
    const T* src = x.data() + b * s[1] * inner;
    std::copy(src, src + steps * inner, out.data() + b * steps * inner);
  }
  return out;
}

template <class T>
bool same_bits(const TensorView<T>& a, const TensorView<T>& b) {
  if (a.shape() != b.shape()) return false;
  for (Index i = 0; i < a.size(); ++i) {
    if (a.data()[i] != b.data()[i]) return false;
  }
  return true;
}

template <class T>
AnyTensor<T> random_any(const Shape& shape) {
  AnyTensor<T> x = AnyTensor<T>::uninitialized(shape);
  test::fill_uniform(x.data(), x.size());
  return x;
}

// Streams `inputs` (each (batch, time, ...)) through model.stream(batch) and checks every output
// at every step against predict: y[:, t] of the whole call for an output with a time axis, the
// call on x[:, :t + 1] for one without. Twice, with reset() between: the second sequence starts
// from zeros again. Returns the number of values compared.
template <class T>
Index check_stream(Model<T>& model, const std::vector<AnyTensor<T>>& inputs) {
  const Index batch = inputs.at(0).shape()[0];
  const Index steps = inputs.at(0).shape()[1];
  const std::vector<AnyTensor<T>> whole = model.predict(inputs);
  ModelStream<T> stream = model.stream(batch);
  REQUIRE(stream.output_count() == whole.size());
  Index compared = 0;
  for (int round = 0; round < 2; ++round) {
    for (Index t = 0; t < steps; ++t) {
      std::vector<AnyTensor<T>> x;
      for (const AnyTensor<T>& in : inputs) x.push_back(step_of(in, t));
      stream.step(std::vector<TensorView<T>>(x.begin(), x.end()));
      std::vector<AnyTensor<T>> so_far;
      for (std::size_t k = 0; k < whole.size(); ++k) {
        INFO("round " << round << ", step " << t << ", output " << k);
        if (stream.output_shapes()[k].timed) {
          CHECK(same_bits(stream.output(k), TensorView<T>(step_of(whole[k], t))));
        } else {
          if (so_far.empty()) {
            std::vector<AnyTensor<T>> prefix;
            for (const AnyTensor<T>& in : inputs) prefix.push_back(prefix_of(in, t + 1));
            so_far = model.predict(prefix);
          }
          CHECK(same_bits(stream.output(k), TensorView<T>(so_far[k])));
        }
        compared += stream.output(k).size();
      }
    }
    stream.reset();
  }
  return compared;
}

// Keras: Input((None, 3)) -> LSTM(6, return_sequences=True) -> Dense(2).
template <class T>
Model<T> lstm_dense_model() {
  Model<T> model("lstm_dense", "Sequential");
  const auto x = model.add_input("x", {-1, -1, 3});
  const auto h = model.add(LSTM<T>(6, LSTMOptions().return_sequences(true).input_dim(3).seed(1).name("lstm")), x);
  model.set_outputs({model.add(Dense<T>(2, DenseOptions().input_dim(6).seed(2).name("dense")), h)});
  return model;
}

// Keras: Conv1D(8, 3, padding="causal", dilation_rate=d, activation="relu") for d = 1, 2, 4 ->
// LSTM(5, return_sequences=True) -> TimeDistributed(Dense(2, "tanh")).
template <class T>
Model<T> conv_lstm_td_model() {
  Model<T> model("wavenet", "Sequential");
  auto h = model.add_input("x", {-1, -1, 2});
  for (Index d : {1, 2, 4}) {
    h = model.add(Conv1D<T>(8, 3,
                            ConvOptions<1>()
                                .padding("causal")
                                .dilation_rate(d)
                                .activation("relu")
                                .input_dim(d == 1 ? 2 : 8)
                                .seed(static_cast<std::uint64_t>(10 + d))
                                .name("conv_" + std::to_string(d))),
                  h);
  }
  h = model.add(LSTM<T>(5, LSTMOptions().return_sequences(true).input_dim(8).seed(20).name("lstm")), h);
  model.set_outputs(
      {model.add(TimeDistributed<Dense<T>>(Dense<T>(2, DenseOptions().activation("tanh").input_dim(5).seed(21)),
                                           strata::TimeDistributedOptions().name("td")),
                 h)});
  return model;
}

// A functional model with a residual connection and two outputs:
//   a = Dense(8)(x); b = LSTM(8, return_sequences=True)(a); r = Add()([a, b]);
//   y1 = Dense(3, "softmax")(Dropout(0.5)(Activation("relu")(r)));
//   y2 = Concatenate()([r, Conv1D(4, 2, padding="causal")(x)]).
template <class T>
Model<T> residual_model() {
  Model<T> model("residual", "Functional");
  const auto x = model.add_input("x", {-1, -1, 4});
  const auto a = model.add(Dense<T>(8, DenseOptions().input_dim(4).seed(30).name("proj")), x);
  const auto b = model.add(LSTM<T>(8, LSTMOptions().return_sequences(true).input_dim(8).seed(31).name("lstm")), a);
  const auto r =
      model.add(Add<T>(strata::MergeOptions().name("add")), std::vector<typename Model<T>::TensorRef>{a, b}).front();
  const auto act = model.add(strata::ActivationLayer<T>("relu", strata::ActivationLayerOptions().name("relu")), r);
  const auto drop = model.add(strata::Dropout<T>(0.5, strata::DropoutOptions().name("drop")), act);
  const auto y1 = model.add(Dense<T>(3, DenseOptions().activation("softmax").input_dim(8).seed(32).name("head")), drop);
  const auto c = model.add(Conv1D<T>(4, 2, ConvOptions<1>().padding("causal").input_dim(4).seed(33).name("conv")), x);
  const auto y2 =
      model.add(Concatenate<T>(ConcatenateOptions().name("concat")), std::vector<typename Model<T>::TensorRef>{r, c})
          .front();
  model.set_outputs({y1, y2});
  return model;
}

}  // namespace

TEMPLATE_TEST_CASE("Model::stream: LSTM -> Dense equals predict bitwise at every step", "[model][stream]", float,
                   double) {
  using T = TestType;
  Model<T> model = lstm_dense_model<T>();
  for (Index batch : {1, 3}) {
    INFO("batch " << batch);
    CHECK(check_stream(model, {random_any<T>(Shape{batch, 12, 3})}) == 2 * 12 * batch * 2);
  }
  const ModelStream<T> stream = model.stream(2);
  CHECK(stream.batch() == 2);
  REQUIRE(stream.input_shapes().size() == 1);
  CHECK(stream.input_shapes()[0].shape == Shape{2, 3});
  CHECK(stream.input_shapes()[0].timed);
  CHECK(stream.output_shapes()[0].shape == Shape{2, 2});
  CHECK(stream.output_shapes()[0].timed);
}

TEMPLATE_TEST_CASE("Model::stream: causal dilated Conv1D x3 -> LSTM -> TimeDistributed(Dense) equals predict bitwise",
                   "[model][stream][conv]", float, double) {
  using T = TestType;
  Model<T> model = conv_lstm_td_model<T>();
  for (Index batch : {1, 2}) {
    INFO("batch " << batch);
    // 20 steps: longer than the stack's receptive field (1 + 2 * (1 + 2 + 4) = 15).
    CHECK(check_stream(model, {random_any<T>(Shape{batch, 20, 2})}) == 2 * 20 * batch * 2);
  }
}

TEMPLATE_TEST_CASE("Model::stream: a functional model with a residual Add and two outputs equals predict bitwise",
                   "[model][stream][merge]", float, double) {
  using T = TestType;
  Model<T> model = residual_model<T>();
  CHECK(check_stream(model, {random_any<T>(Shape{2, 9, 4})}) == 2 * 9 * (2 * 3 + 2 * 12));
  const ModelStream<T> stream = model.stream(2);
  CHECK(stream.output_shapes()[1].shape == Shape{2, 12});
}

TEMPLATE_TEST_CASE("Model::stream: after an LSTM without return_sequences each step is predict on the sequence so far",
                   "[model][stream]", float, double) {
  using T = TestType;
  // Keras: LSTM(4, return_sequences=True) -> LSTM(3, return_state=True) -> [Dense(2)(h), h, c].
  Model<T> model("summary", "Functional");
  const auto x = model.add_input("x", {-1, -1, 3});
  const auto s = model.add(LSTM<T>(4, LSTMOptions().return_sequences(true).input_dim(3).seed(40).name("seq")), x);
  const auto last = model.add(LSTM<T>(3, LSTMOptions().return_state(true).input_dim(4).seed(41).name("last")),
                              std::vector<typename Model<T>::TensorRef>{s});
  const auto y = model.add(Dense<T>(2, DenseOptions().input_dim(3).seed(42).name("head")), last[0]);
  model.set_outputs({y, last[1], last[2]});
  CHECK(check_stream(model, {random_any<T>(Shape{2, 7, 3})}) == 2 * 7 * 2 * (2 + 3 + 3));
  ModelStream<T> stream = model.stream(2);
  for (const strata::StepShape& out : stream.output_shapes()) CHECK_FALSE(out.timed);

  // The states are the call's return_state outputs; step(x) is for one output only.
  const AnyTensor<T> seq = random_any<T>(Shape{2, 5, 3});
  CHECK_THROWS_AS(stream.step(TensorView<T>(step_of(seq, 0))), strata::value_error);
  for (Index t = 0; t < 5; ++t) {
    const AnyTensor<T> xt = step_of(seq, t);
    stream.step(std::vector<TensorView<T>>{xt});
    const std::vector<TensorView<T>> states = stream.states("last");
    REQUIRE(states.size() == 2);
    CHECK(same_bits(states[0], stream.output(1)));
    CHECK(same_bits(states[1], stream.output(2)));
  }
}

TEMPLATE_TEST_CASE("Model::stream: Flatten, Subtract and ReLU stream on tensors without a time axis", "[model][stream]",
                   float, double) {
  using T = TestType;
  // Keras: h = LSTM(4)(x); y = Dense(2)(Flatten()(ReLU()(Subtract()([h, Dense(4)(h)])))).
  Model<T> model("tail", "Functional");
  const auto x = model.add_input("x", {-1, -1, 3});
  const auto h = model.add(LSTM<T>(4, LSTMOptions().input_dim(3).seed(60).name("lstm")), x);
  const auto d = model.add(Dense<T>(4, DenseOptions().input_dim(4).seed(61).name("proj")), h);
  const auto diff =
      model
          .add(strata::Subtract<T>(strata::MergeOptions().name("sub")), std::vector<typename Model<T>::TensorRef>{h, d})
          .front();
  const auto flat = model.add(strata::Flatten<T>(), model.add(strata::ReLU<T>(), diff));
  model.set_outputs({model.add(Dense<T>(2, DenseOptions().input_dim(4).seed(62).name("head")), flat)});
  CHECK(check_stream(model, {random_any<T>(Shape{3, 6, 3})}) == 2 * 6 * 3 * 2);
  CHECK_FALSE(model.stream(3).output_shapes()[0].timed);
}

TEMPLATE_TEST_CASE("Model::stream: reset() starts again from zeros, and states() shows each call's state",
                   "[model][stream]", float, double) {
  using T = TestType;
  Model<T> model = lstm_dense_model<T>();
  const LSTM<T>& lstm = model.template layer<LSTM<T>>("lstm");
  const AnyTensor<T> x = random_any<T>(Shape{2, 6, 3});
  const auto whole = lstm.call(x);
  ModelStream<T> stream = model.stream(2);
  for (int round = 0; round < 2; ++round) {
    for (Index t = 0; t < 6; ++t) stream.step(TensorView<T>(step_of(x, t)));
    const std::vector<TensorView<T>> states = stream.states("lstm");
    REQUIRE(states.size() == 2);
    CHECK(same_bits(states[0], TensorView<T>(whole.h)));
    CHECK(same_bits(states[1], TensorView<T>(whole.c)));
    stream.reset();
    CHECK(stream.states("lstm")[0].data()[0] == T(0));
  }
  CHECK(stream.states("dense").empty());
  CHECK_THROWS_WITH(stream.states("nope"), Catch::Contains("'nope'"));
  CHECK_THROWS_AS(stream.states("lstm", 1), strata::value_error);
}

TEST_CASE("Model::stream: a shared layer keeps one state per call, and the stream owns its weights",
          "[model][stream]") {
  // Keras: lstm = LSTM(4, return_sequences=True); y = Add()([lstm(x1), lstm(x2)]).
  Model<float> model("shared", "Functional");
  const auto x1 = model.add_input("x1", {-1, -1, 3});
  const auto x2 = model.add_input("x2", {-1, -1, 3});
  const std::size_t lstm =
      model.add_layer(LSTM<float>(4, LSTMOptions().return_sequences(true).input_dim(3).seed(50).name("lstm")));
  const auto h1 = model.call(lstm, {x1}).front();
  const auto h2 = model.call(lstm, {x2}).front();
  model.set_outputs(
      {model.add(Add<float>(strata::MergeOptions().name("add")), std::vector<Model<float>::TensorRef>{h1, h2})
           .front()});
  const std::vector<AnyTensor<float>> inputs{random_any<float>(Shape{2, 5, 3}), random_any<float>(Shape{2, 5, 3})};
  CHECK(check_stream(model, inputs) == 2 * 5 * 2 * 4);

  ModelStream<float> stream = model.stream(2);
  const std::vector<AnyTensor<float>> before = model.predict(inputs);
  // Changing the model afterwards does not reach the stream.
  auto w = model.layer<LSTM<float>>("lstm").get_weights();
  w[2].data()[0] += 1.0f;
  model.layer<LSTM<float>>("lstm").set_weights(w);
  for (Index t = 0; t < 5; ++t) {
    const AnyTensor<float> a = step_of(inputs[0], t), b = step_of(inputs[1], t);
    stream.step({TensorView<float>(a), TensorView<float>(b)});
    CHECK(same_bits(stream.output(0), TensorView<float>(step_of(before[0], t))));
  }
  CHECK(stream.states("lstm", 1).size() == 2);
  CHECK_FALSE(same_bits(stream.states("lstm", 0)[0], stream.states("lstm", 1)[0]));
}

TEST_CASE("Model::stream: a step's inputs are checked, and step(x) is for one input and one output",
          "[model][stream]") {
  Model<float> model = lstm_dense_model<float>();
  ModelStream<float> stream = model.stream(2);
  CHECK_THROWS_WITH(stream.step(TensorView<float>(Tensor<float, 2>(2, 4))),
                    Catch::Contains("(2, 3)") && Catch::Contains("(2, 4)"));
  CHECK_THROWS_AS(stream.step(std::vector<TensorView<float>>{}), strata::shape_error);
  CHECK_THROWS_AS(model.stream(0), strata::value_error);
  // The raw step is the checked one without the checks.
  Tensor<float, 2> x(2, 3);
  x.setConstant(0.25f);
  const float* raw = stream.step(x.data());
  stream.reset();
  const TensorView<float> checked = stream.step(TensorView<float>(x));
  CHECK(raw == checked.data());

  Model<float> two = residual_model<float>();
  ModelStream<float> s2 = two.stream();
  CHECK_THROWS_WITH(s2.step(TensorView<float>(Tensor<float, 2>(1, 4))), Catch::Contains("one input and one output"));
  CHECK_THROWS_AS(s2.output(2), strata::value_error);
}

namespace {
// model.stream() must throw value_error whose message names the layer and says `why`.
template <class L>
void check_refused(L layer, strata::DeclaredShape input, const std::string& name, const std::string& why) {
  Model<float> model("refused", "Sequential");
  const auto x = model.add_input("x", std::move(input));
  model.set_outputs({model.add(std::move(layer), x)});
  INFO(name);
  CHECK_THROWS_AS(model.stream(), strata::value_error);
  CHECK_THROWS_WITH(model.stream(), Catch::Contains("layer '" + name + "'") && Catch::Contains(why));
}
}  // namespace

TEST_CASE("Model::stream refuses layers that need more than the steps so far, naming the layer and why",
          "[model][stream][refused]") {
  check_refused(strata::Bidirectional<LSTM<float>>(LSTM<float>(3, LSTMOptions().input_dim(2).seed(1)),
                                                   strata::BidirectionalOptions().name("bidi")),
                {-1, -1, 2}, "bidi", "backward layer reads the sequence from its end");
  check_refused(LSTM<float>(3, LSTMOptions().go_backwards(true).input_dim(2).seed(1).name("backwards")), {-1, -1, 2},
                "backwards", "go_backwards");
  check_refused(Conv1D<float>(4, 3, ConvOptions<1>().padding("same").input_dim(2).seed(1).name("same_conv")),
                {-1, -1, 2}, "same_conv", "padding \"same\"");
  check_refused(Conv1D<float>(4, 3, ConvOptions<1>().padding("valid").input_dim(2).seed(1).name("valid_conv")),
                {-1, -1, 2}, "valid_conv", "only padding \"causal\" with strides 1");
  check_refused(Conv1D<float>(4, 2, ConvOptions<1>().padding("causal").strides(2).input_dim(2).seed(1).name("s2")),
                {-1, -1, 2}, "s2", "strides 2");
  check_refused(strata::Flatten<float>(strata::FlattenOptions().name("flat")), {-1, 6, 2}, "flat",
                "flattens the time axis");
  check_refused(strata::GlobalAveragePooling1D<float>(strata::GlobalPoolingOptions().name("gap")), {-1, -1, 2}, "gap",
                "has no per-step form");
  check_refused(strata::MaxPooling1D<float>({2}, strata::PoolingOptions().name("pool")), {-1, -1, 2}, "pool",
                "has no per-step form");
  // Dense on (batch, time): its last axis is the time axis.
  check_refused(Dense<float>(2, DenseOptions().input_dim(6).seed(1).name("over_time")), {-1, 6}, "over_time",
                "the time axis");
  check_refused(Concatenate<float>(ConcatenateOptions().axis(1).name("join")), {-1, -1, 2}, "join", "the time axis");
  check_refused(strata::Softmax<float>(strata::SoftmaxOptions().axis(1).name("soft")), {-1, -1, 2}, "soft",
                "the time axis");
}

TEST_CASE("Model::stream refuses a layer that needs a time axis after a recurrent layer consumed it",
          "[model][stream][refused]") {
  // Keras: LSTM(4) -> RepeatVector(3) -> LSTM(2): the repeated summary is a new sequence that
  // needs the whole input first.
  Model<float> model("seq2seq", "Sequential");
  auto h = model.add_input("x", {-1, -1, 2});
  h = model.add(LSTM<float>(4, LSTMOptions().input_dim(2).seed(1).name("encoder")), h);
  h = model.add(strata::RepeatVector<float>(3, strata::RepeatVectorOptions().name("repeat")), h);
  model.set_outputs({model.add(LSTM<float>(2, LSTMOptions().input_dim(4).seed(2).name("decoder")), h)});
  CHECK_THROWS_WITH(model.stream(), Catch::Contains("layer 'repeat'") && Catch::Contains("no per-step form"));

  // An Add of a sequence and a summary mixes the steps so far with the sequence so far.
  Model<float> mixed("mixed", "Functional");
  const auto x = mixed.add_input("x", {-1, -1, 4});
  const auto last = mixed.add(LSTM<float>(4, LSTMOptions().input_dim(4).seed(3).name("last")), x);
  const auto seq = mixed.add(Dense<float>(4, DenseOptions().input_dim(4).seed(4).name("per_step")), x);
  mixed.set_outputs(
      {mixed.add(Add<float>(strata::MergeOptions().name("add")), std::vector<Model<float>::TensorRef>{seq, last})
           .front()});
  CHECK_THROWS_WITH(mixed.stream(), Catch::Contains("layer 'add'") && Catch::Contains("time axis and one without"));

  // A Conv1D after the time axis is gone (TimeDistributed's wrapped layer sees whole slices).
  Model<float> td("td_conv", "Sequential");
  const auto v = td.add_input("x", {-1, -1, 5, 2});
  td.set_outputs({td.add(TimeDistributed<Conv1D<float>>(
                             Conv1D<float>(3, 2, ConvOptions<1>().padding("causal").input_dim(2).seed(5).name("inner")),
                             strata::TimeDistributedOptions().name("td")),
                         v)});
  CHECK_THROWS_WITH(td.stream(), Catch::Contains("layer 'td'") && Catch::Contains("no time axis"));
}

TEST_CASE("Model::stream: an input without a time axis or with unknown feature sizes is refused",
          "[model][stream][refused]") {
  Model<float> flat("flat", "Sequential");
  const auto x = flat.add_input("x", {-1});
  flat.set_outputs({x});
  CHECK_THROWS_WITH(flat.stream(), Catch::Contains("'x'") && Catch::Contains("no time axis"));
  Model<float> unknown("unknown", "Sequential");
  const auto u = unknown.add_input("u", {-1, -1, -1});
  unknown.set_outputs({u});
  CHECK_THROWS_WITH(unknown.stream(), Catch::Contains("'u'") && Catch::Contains("unknown size on axis 2"));
}
