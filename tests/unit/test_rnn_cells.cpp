// SPDX-License-Identifier: MIT
// Keras' generic RNN with LSTMCell, GRUCell, SimpleRNNCell and StackedRNNCells: RNN(cell) equals
// the plain layer bit for bit; a stack equals Keras' per-step loop (each cell stepped at every
// time step, written out here with one-step calls of the plain layers); states, masks,
// go_backwards, statefulness, batch invariance, Bidirectional(RNN(cell)), and errors naming the cell.
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::GRU;
using strata::GRUCell;
using strata::GRUOptions;
using strata::Index;
using strata::LSTM;
using strata::LSTMCell;
using strata::LSTMOptions;
using strata::LSTMState;
using strata::Mask;
using strata::RNN;
using strata::RNNOptions;
using strata::SimpleRNN;
using strata::SimpleRNNCell;
using strata::SimpleRNNOptions;
using strata::StackedRNNCells;
using strata::StackedRNNCellsOptions;
using strata::Tensor;
using strata::Weights;

template <class X>
bool same(const X& a, const X& b) {
  return a.shape() == b.shape() && test::bitwise_equal(a.data(), b.data(), a.size());
}
template <class T, int R>
bool same(const Tensor<T, R>& a, const Tensor<T, R>& b) {
  return a.dimensions() == b.dimensions() && test::bitwise_equal(a.data(), b.data(), a.size());
}

template <class T>
Weights<T> random_weights(const Weights<T>& like) {
  Weights<T> w = like;
  for (AnyTensor<T>& x : w) test::fill_uniform(x.data(), x.size(), T(-0.8), T(0.8));
  return w;
}

Mask gappy_mask(Index batch, Index time) {
  Mask m(batch, time);
  for (Index b = 0; b < batch; ++b) {
    for (Index t = 0; t < time; ++t) m(b, t) = (b + 2 * t) % 3 != 1;
  }
  m(0, 0) = false;  // a leading masked step
  return m;
}

RNNOptions sequence_options(bool sequences, bool backwards) {
  return RNNOptions().return_sequences(sequences).go_backwards(backwards).return_state(true);
}

}  // namespace

TEMPLATE_TEST_CASE("RNN(LSTMCell/GRUCell/SimpleRNNCell) equals LSTM/GRU/SimpleRNN bitwise", "[rnn]", float, double) {
  using T = TestType;
  const Index batch = 3, time = 5, features = 4;
  const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, time, features);
  const Mask mask = gappy_mask(batch, time);
  for (const bool sequences : {false, true}) {
    for (const bool backwards : {false, true}) {
      INFO("return_sequences " << sequences << ", go_backwards " << backwards);
      // LSTM with a mask and an initial state.
      LSTM<T> lstm(6, LSTMOptions().return_sequences(sequences).go_backwards(backwards).return_state(true));
      lstm.build(features);
      RNN<LSTMCell<T>> rnn_lstm(LSTMCell<T>(6, LSTMOptions().name("lstm_cell")),
                                sequence_options(sequences, backwards).name("rnn"));
      rnn_lstm.set_weights(lstm.get_weights());
      const LSTMState<T> s0{test::random_tensor<T, 2>(batch, 6), test::random_tensor<T, 2>(batch, 6)};
      const auto a = lstm.outputs(x, &s0, &mask);
      const auto b = rnn_lstm.outputs(x, &s0, &mask);
      REQUIRE(a.size() == 3);
      REQUIRE(b.size() == 3);
      for (std::size_t k = 0; k < 3; ++k) CHECK(same(a[k], b[k]));
      // GRU in both variants and SimpleRNN, without a mask.
      for (const bool reset_after : {true, false}) {
        GRU<T> gru(5, GRUOptions().reset_after(reset_after).return_sequences(sequences).go_backwards(backwards));
        gru.build(features);
        RNN<GRUCell<T>> rnn_gru(GRUCell<T>(5, GRUOptions().reset_after(reset_after)),
                                RNNOptions().return_sequences(sequences).go_backwards(backwards));
        rnn_gru.set_weights(gru.get_weights());
        CHECK(same(gru(x), rnn_gru(x)));
      }
      SimpleRNN<T> simple(3, SimpleRNNOptions().activation("relu").return_sequences(sequences));
      simple.build(features);
      RNN<SimpleRNNCell<T>> rnn_simple(SimpleRNNCell<T>(3, SimpleRNNOptions().activation("relu")),
                                       RNNOptions().return_sequences(sequences));
      rnn_simple.set_weights(simple.get_weights());
      CHECK(same(simple(x, mask), rnn_simple(x, mask)));
    }
  }
}

TEMPLATE_TEST_CASE("RNN(cell): Keras' class name, the cell in messages, and a cell's own weights", "[rnn]", float,
                   double) {
  using T = TestType;
  LSTMCell<T> cell(4, LSTMOptions().name("lstm_cell").input_dim(3).seed(7));
  CHECK(cell.describe() == "strata::LSTMCell 'lstm_cell'");
  CHECK(cell.get_weights().size() == 3);
  const RNN<LSTMCell<T>> rnn(cell, RNNOptions().name("rnn"));
  CHECK(std::string(RNN<LSTMCell<T>>::class_name) == "RNN");
  CHECK(rnn.describe() == "strata::RNN(LSTMCell 'lstm_cell') 'rnn'");
  // The cell's weights come along.
  const Weights<T> a = cell.get_weights(), b = rnn.get_weights();
  for (std::size_t k = 0; k < a.size(); ++k) CHECK(same(a[k], b[k]));
  // A weight of the wrong shape: the message names the RNN, its cell and the weight.
  Weights<T> bad = a;
  bad[1] = AnyTensor<T>::zeros(strata::Shape{4, 15});
  RNN<LSTMCell<T>> target = rnn;
  CHECK_THROWS_WITH(target.set_weights(bad),
                    Catch::Matchers::Contains("strata::RNN(LSTMCell 'lstm_cell') 'rnn': weight 1 (recurrent_kernel) "
                                              "must have shape (4, 16)"));
  // Sequence options belong to RNN.
  CHECK_THROWS_AS(LSTMCell<T>(4, LSTMOptions().return_sequences(true)), strata::value_error);
  CHECK_THROWS_WITH(GRUCell<T>(4, GRUOptions().stateful(true).name("g")),
                    Catch::Matchers::Contains("strata::GRUCell 'g': return_sequences, return_state"));
}

namespace {

// Keras' RNN(StackedRNNCells) written as its per-step loop: at every step each cell runs once
// (a one-step call of its plain layer from the cell's state), the next cell reading its output;
// at a masked step every state is kept and the output repeats the previous one (zeros first).
template <class T>
struct StepReference {
  LSTM<T> lstm;
  GRU<T> gru;
  SimpleRNN<T> simple;

  // Returns [output sequence (processing order)] + final states [h0, c0, h1, h2].
  std::vector<Tensor<T, 2>> run(const Tensor<T, 3>& x, const Mask* mask, bool backwards,
                                const std::vector<Tensor<T, 2>>& init, Tensor<T, 3>& sequence) const {
    const Index batch = x.dimension(0), time = x.dimension(1), features = x.dimension(2);
    std::vector<Tensor<T, 2>> s = init;
    sequence = Tensor<T, 3>(batch, time, simple.units());
    Tensor<T, 2> previous(batch, simple.units());
    previous.setZero();
    for (Index step = 0; step < time; ++step) {
      const Index t = backwards ? time - 1 - step : step;
      Tensor<T, 3> xt(batch, 1, features);
      for (Index b = 0; b < batch; ++b) {
        for (Index f = 0; f < features; ++f) xt(b, 0, f) = x(b, t, f);
      }
      const auto r0 = lstm.call(xt, LSTMState<T>{s[0], s[1]});
      const Tensor<T, 2> y0 = r0.output;
      const Tensor<T, 3> in1 = y0.reshape(Eigen::array<Index, 3>{batch, 1, lstm.units()});
      const auto r1 = gru.call(in1, s[2]);
      const Tensor<T, 2> y1 = r1.output;
      const Tensor<T, 3> in2 = y1.reshape(Eigen::array<Index, 3>{batch, 1, gru.units()});
      const auto r2 = simple.call(in2, s[3]);
      const std::vector<Tensor<T, 2>> next{r0.h, r0.c, r1.h, r2.h};
      for (Index b = 0; b < batch; ++b) {
        const bool kept = mask == nullptr || (*mask)(b, t);
        for (std::size_t k = 0; k < s.size() && kept; ++k) {
          for (Index j = 0; j < s[k].dimension(1); ++j) s[k](b, j) = next[k](b, j);
        }
        for (Index j = 0; j < simple.units(); ++j) {
          if (kept) previous(b, j) = r2.h(b, j);
          sequence(b, step, j) = previous(b, j);
        }
      }
    }
    return s;
  }
};

}  // namespace

TEMPLATE_TEST_CASE("RNN(StackedRNNCells) of mixed cells equals Keras' per-step loop", "[rnn][stacked]", float, double) {
  using T = TestType;
  const Index batch = 3, time = 6, features = 4;
  const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, time, features);
  const Mask mask = gappy_mask(batch, time);
  const StackedRNNCells<T> cells({LSTMCell<T>(5, LSTMOptions().name("lstm_cell")),
                                  GRUCell<T>(3, GRUOptions().name("gru_cell")),
                                  SimpleRNNCell<T>(2, SimpleRNNOptions().name("simple_rnn_cell"))});
  StepReference<T> ref{LSTM<T>(5), GRU<T>(3), SimpleRNN<T>(2)};
  ref.lstm.build(features);
  ref.gru.build(5);
  ref.simple.build(3);
  Weights<T> weights;
  for (const Weights<T>& w : {ref.lstm.get_weights(), ref.gru.get_weights(), ref.simple.get_weights()}) {
    weights.insert(weights.end(), w.begin(), w.end());
  }
  const std::vector<Tensor<T, 2>> init{test::random_tensor<T, 2>(batch, 5), test::random_tensor<T, 2>(batch, 5),
                                       test::random_tensor<T, 2>(batch, 3), test::random_tensor<T, 2>(batch, 2)};
  for (const bool backwards : {false, true}) {
    for (const bool masked : {false, true}) {
      INFO("go_backwards " << backwards << ", mask " << masked);
      RNN<StackedRNNCells<T>> rnn(cells, sequence_options(true, backwards).name("rnn"));
      rnn.set_weights(weights);
      CHECK(rnn.get_weights().size() == 9);
      CHECK(rnn.count_params() == ref.lstm.count_params() + ref.gru.count_params() + ref.simple.count_params());
      const Mask* m = masked ? &mask : nullptr;
      Tensor<T, 3> want;
      const std::vector<Tensor<T, 2>> finals = ref.run(x, m, backwards, init, want);
      const std::vector<AnyTensor<T>> got = rnn.outputs(x, &init, m);
      REQUIRE(got.size() == 5);
      CHECK(test::max_abs_diff(got[0].data(), want.data(), want.size()) <= test::tolerance<T>());
      for (std::size_t k = 0; k < 4; ++k) {
        CHECK(got[1 + k].shape() == strata::shape_of(finals[k]));
        CHECK(test::max_abs_diff(got[1 + k].data(), finals[k].data(), finals[k].size()) <= test::tolerance<T>());
      }
      // return_sequences=false gives the last step of the sequence.
      RNN<StackedRNNCells<T>> last(cells, sequence_options(false, backwards));
      last.set_weights(weights);
      const Tensor<T, 3> seq = got[0];
      const Tensor<T, 2> y = last.outputs(x, &init, m)[0];
      Tensor<T, 2> want_last(batch, 2);
      for (Index b = 0; b < batch; ++b) {
        for (Index j = 0; j < 2; ++j) want_last(b, j) = seq(b, time - 1, j);
      }
      CHECK(same(y, want_last));
    }
  }
}

TEMPLATE_TEST_CASE("RNN(StackedRNNCells): states in Keras' order, reverse_state_order, a graph call", "[rnn][stacked]",
                   float, double) {
  using T = TestType;
  const Index batch = 2, time = 3;
  const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, time, 3);
  const std::vector<strata::AnyRNNCell<T>> list{GRUCell<T>(2), LSTMCell<T>(4)};
  RNN<StackedRNNCells<T>> keras(StackedRNNCells<T>(list), RNNOptions().return_state(true));
  keras.build(3);
  RNN<StackedRNNCells<T>> tfjs(StackedRNNCells<T>(list, StackedRNNCellsOptions().reverse_state_order(true)),
                               RNNOptions().return_state(true));
  tfjs.set_weights(keras.get_weights());
  CHECK(keras.output_count() == 4);
  const auto a = keras.outputs(x);
  const auto b = tfjs.outputs(x);
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  CHECK(a[1].shape() == strata::Shape{2, 2});  // the GRUCell's h, then the LSTMCell's h and c
  CHECK(a[2].shape() == strata::Shape{2, 4});
  CHECK(same(a[0], b[0]));
  CHECK(same(a[1], b[3]));  // TF.js: the last cell's states first
  CHECK(same(a[2], b[1]));
  CHECK(same(a[3], b[2]));
  // The same call through a model graph: the initial states as extra inputs, in the layer's order.
  strata::GraphCall<T> call;
  call.inputs.push_back({strata::TensorView<T>(x), nullptr, nullptr});
  std::vector<AnyTensor<T>> states{a[1], a[2], a[3]};
  for (const AnyTensor<T>& s : states) call.inputs.push_back({strata::TensorView<T>(s), nullptr, nullptr});
  const strata::AnyLayer<T> any(keras);
  any.call_graph(call);
  const std::vector<Tensor<T, 2>> init{a[1], a[2], a[3]};
  const auto direct = keras.outputs(x, &init);
  REQUIRE(call.outputs.size() == 4);
  for (std::size_t k = 0; k < 4; ++k) CHECK(same(call.outputs[k], direct[k]));
  // Wrong state count or shape.
  const std::vector<Tensor<T, 2>> two{a[1], a[2]};
  CHECK_THROWS_AS(keras.outputs(x, &two), strata::value_error);
  const std::vector<Tensor<T, 2>> wrong{a[1], a[1], a[3]};
  CHECK_THROWS_WITH(keras.outputs(x, &wrong), Catch::Matchers::Contains("initial state 1 must have shape (2, 4)"));
}

TEMPLATE_TEST_CASE("RNN(StackedRNNCells): errors name the cell", "[rnn][stacked]", float, double) {
  using T = TestType;
  RNN<StackedRNNCells<T>> rnn(
      StackedRNNCells<T>({LSTMCell<T>(4, LSTMOptions().name("a")), GRUCell<T>(3, GRUOptions().name("b"))}),
      RNNOptions().name("rnn"));
  CHECK_THROWS_WITH(rnn(test::random_tensor<T, 3>(1, 2, 3)), Catch::Matchers::Contains("needs weights"));
  rnn.build(3);
  Weights<T> w = rnn.get_weights();
  REQUIRE(w.size() == 6);
  // Count: the message lists each cell's share.
  const Weights<T> short_list(w.begin(), w.end() - 1);
  CHECK_THROWS_WITH(
      rnn.set_weights(short_list),
      Catch::Matchers::Contains("strata::RNN(StackedRNNCells) 'rnn': set_weights expects 6 arrays (3 "
                                "for cell 0 (strata::LSTMCell 'a'), 3 for cell 1 (strata::GRUCell 'b'))"));
  // Shape: the GRUCell's bias.
  Weights<T> bad = w;
  bad[5] = AnyTensor<T>::zeros(strata::Shape{9});
  CHECK_THROWS_WITH(rnn.set_weights(bad), Catch::Matchers::Contains("cell 1: strata::GRUCell 'b': weight 2 (bias) "
                                                                    "must have shape (2, 9)"));
  // A kernel whose rows are not the previous cell's units.
  bad = w;
  bad[3] = AnyTensor<T>::zeros(strata::Shape{5, 9});
  CHECK_THROWS_WITH(rnn.set_weights(bad), Catch::Matchers::Contains("kernel) must have 4 rows, the units of cell 0"));
  // Unchanged after the failures.
  const Weights<T> after = rnn.get_weights();
  for (std::size_t k = 0; k < w.size(); ++k) CHECK(same(after[k], w[k]));
  CHECK_THROWS_WITH(rnn(test::random_tensor<T, 3>(1, 2, 5)),
                    Catch::Matchers::Contains("strata::RNN(StackedRNNCells) 'rnn': input must have rank 3 (batch, "
                                              "time, features=3)"));
  CHECK_THROWS_AS(StackedRNNCells<T>({}), strata::value_error);
}

TEMPLATE_TEST_CASE("RNN(StackedRNNCells): batch invariance, statefulness", "[rnn][stacked]", float, double) {
  using T = TestType;
  const Index batch = 4, time = 5, features = 3;
  const StackedRNNCells<T> cells({SimpleRNNCell<T>(3), LSTMCell<T>(2), GRUCell<T>(4, GRUOptions().reset_after(false))});
  RNN<StackedRNNCells<T>> rnn(cells, RNNOptions().return_sequences(true));
  rnn.build(features);
  const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, time, features);
  const Mask mask = gappy_mask(batch, time);
  const Tensor<T, 3> all = rnn(x, mask);
  for (Index b = 0; b < batch; ++b) {
    const Tensor<T, 3> one = x.slice(Eigen::array<Index, 3>{b, 0, 0}, Eigen::array<Index, 3>{1, time, features});
    Mask m(1, time);
    for (Index t = 0; t < time; ++t) m(0, t) = mask(b, t);
    const Tensor<T, 3> y = rnn(one, m);
    const Tensor<T, 3> row = all.slice(Eigen::array<Index, 3>{b, 0, 0}, Eigen::array<Index, 3>{1, time, 4});
    CHECK(same(y, row));
  }
  // Stateful: two calls continue each other, as one call over both halves does.
  RNN<StackedRNNCells<T>> stateful(cells, RNNOptions().return_sequences(true).stateful(true));
  stateful.set_weights(rnn.get_weights());
  CHECK(stateful.carries_state());
  const Tensor<T, 3> first = x.slice(Eigen::array<Index, 3>{0, 0, 0}, Eigen::array<Index, 3>{batch, 2, features});
  const Tensor<T, 3> second = x.slice(Eigen::array<Index, 3>{0, 2, 0}, Eigen::array<Index, 3>{batch, 3, features});
  const Tensor<T, 3> whole = rnn(x);
  (void)stateful(first);
  const Tensor<T, 3> continued = stateful(second);
  const Tensor<T, 3> tail = whole.slice(Eigen::array<Index, 3>{0, 2, 0}, Eigen::array<Index, 3>{batch, 3, 4});
  CHECK(test::max_abs_diff(continued.data(), tail.data(), tail.size()) <= test::tolerance<T>());
  stateful.reset_states();
  const Tensor<T, 3> fresh = stateful(first);
  const Tensor<T, 3> head = whole.slice(Eigen::array<Index, 3>{0, 0, 0}, Eigen::array<Index, 3>{batch, 2, 4});
  CHECK(same(fresh, head));
  // A stateful stack's call changes it: the const call refuses.
  const auto& frozen = stateful;
  CHECK_THROWS_AS(frozen(first), strata::value_error);
}

TEMPLATE_TEST_CASE("Bidirectional(RNN(LSTMCell)) equals Bidirectional(LSTM) bitwise", "[rnn][bidirectional]", float,
                   double) {
  using T = TestType;
  const Tensor<T, 3> x = test::random_tensor<T, 3>(2, 4, 3);
  strata::Bidirectional<LSTM<T>> plain(LSTM<T>(3, LSTMOptions().return_sequences(true)));
  plain.build(3);
  strata::Bidirectional<RNN<LSTMCell<T>>> generic(
      RNN<LSTMCell<T>>(LSTMCell<T>(3), RNNOptions().return_sequences(true)));
  generic.set_weights(plain.get_weights());
  const Mask mask = gappy_mask(2, 4);
  CHECK(same(plain(x, mask), generic(x, mask)));
}
