// SPDX-License-Identifier: MIT
// Streaming (LSTMStream, StaticLSTMStream) and threads: the same numbers as the whole-sequence
// LSTM, bit for bit, whatever the thread count or the batch around a sample.
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/util.hpp"

namespace {

using strata::Dense;
using strata::DenseOptions;
using strata::Index;
using strata::LSTM;
using strata::LSTMOptions;
using strata::Tensor;
using strata::TimeDistributed;

template <class T>
LSTM<T> random_lstm(Index features, Index units, const std::string& activation = "tanh",
                    const std::string& recurrent = "sigmoid", bool use_bias = true) {
  LSTM<T> lstm(units, LSTMOptions()
                          .return_sequences(true)
                          .activation(activation)
                          .recurrent_activation(recurrent)
                          .use_bias(use_bias)
                          .input_dim(features)
                          .seed(11));
  auto w = lstm.get_weights();
  for (auto& a : w) test::fill_uniform(a.data(), a.size(), T(-0.6), T(0.6));
  lstm.set_weights(w);
  return lstm;
}

// Feeds x (batch, time, features) step by step through `step` and compares every h with the
// whole-sequence output, bitwise.
template <class T, class Step>
void check_stream_equals_sequence(const LSTM<T>& lstm, const Tensor<T, 3>& x, Step&& step) {
  const Index batch = x.dimension(0), time = x.dimension(1), features = x.dimension(2), units = lstm.units();
  Tensor<T, 3> whole = lstm(x);
  std::vector<T> xt(static_cast<std::size_t>(batch * features));
  for (Index t = 0; t < time; ++t) {
    for (Index b = 0; b < batch; ++b) {
      for (Index f = 0; f < features; ++f) xt[static_cast<std::size_t>(b * features + f)] = x(b, t, f);
    }
    const T* h = step(xt.data());
    for (Index b = 0; b < batch; ++b) {
      INFO("step " << t << " sample " << b);
      CHECK(test::bitwise_equal(h + b * units, &whole(b, t, 0), units));
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("streaming: LSTMStream step by step equals the whole-sequence LSTM bitwise", "[streaming]", float,
                   double) {
  using T = TestType;
  for (Index batch : {1, 3, 7}) {
    for (const char* act : {"tanh", "relu", "softsign"}) {
      const Index features = test::random_int(1, 9), units = test::random_int(1, 40);
      const LSTM<T> lstm = random_lstm<T>(features, units, act, "sigmoid", batch != 3);
      strata::LSTMStream<T> stream(lstm, batch);
      CHECK(stream.batch() == batch);
      CHECK(stream.units() == units);
      CHECK(stream.input_dim() == features);
      const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, 9, features);
      check_stream_equals_sequence(lstm, x, [&](const T* xt) { return stream.step(xt); });
      // reset() starts over: the same first step again.
      const Tensor<T, 3> first =
          lstm(Tensor<T, 3>(x.slice(Eigen::array<Index, 3>{0, 0, 0}, Eigen::array<Index, 3>{batch, 1, features})));
      stream.reset();
      std::vector<T> x0(static_cast<std::size_t>(batch * features));
      for (Index b = 0; b < batch; ++b) {
        for (Index f = 0; f < features; ++f) x0[static_cast<std::size_t>(b * features + f)] = x(b, 0, f);
      }
      CHECK(test::bitwise_equal(stream.step(x0.data()), first.data(), batch * units));
    }
  }
}

TEMPLATE_TEST_CASE("streaming: StaticLSTMStream equals the whole-sequence LSTM bitwise", "[streaming]", float, double) {
  using T = TestType;
  {
    const LSTM<T> lstm = random_lstm<T>(1, 32);
    strata::StaticLSTMStream<T, 1, 32> stream(lstm);
    check_stream_equals_sequence(lstm, test::random_tensor<T, 3>(1, 12, 1), [&](const T* x) { return stream.step(x); });
  }
  {
    const LSTM<T> lstm = random_lstm<T>(3, 5, "relu", "hard_sigmoid", false);
    strata::StaticLSTMStream<T, 3, 5> stream(lstm);
    check_stream_equals_sequence(lstm, test::random_tensor<T, 3>(1, 12, 3), [&](const T* x) { return stream.step(x); });
  }
  {
    // 8 units: the gate pass's flat layout (units not a multiple of the packet), W3's H = 8.
    const LSTM<T> lstm = random_lstm<T>(1, 8);
    strata::StaticLSTMStream<T, 1, 8> stream(lstm);
    check_stream_equals_sequence(lstm, test::random_tensor<T, 3>(1, 12, 1), [&](const T* x) { return stream.step(x); });
  }
  {
    const LSTM<T> lstm = random_lstm<T>(2, 67);
    strata::StaticLSTMStream<T, 2, 67> stream(lstm);
    check_stream_equals_sequence(lstm, test::random_tensor<T, 3>(1, 6, 2), [&](const T* x) { return stream.step(x); });
    stream.reset();
    CHECK(stream.h()[0] == T(0));
    CHECK(stream.c()[66] == T(0));
  }
}

TEST_CASE("streaming: wrong layers and states are rejected", "[streaming][errors]") {
  const LSTM<float> backwards(4, LSTMOptions().go_backwards(true).input_dim(2).seed(1));
  CHECK_THROWS_AS(strata::LSTMStream<float>(backwards), strata::value_error);
  CHECK_THROWS_WITH(strata::LSTMStream<float>(backwards), Catch::Contains("go_backwards"));
  CHECK_THROWS_AS((strata::StaticLSTMStream<float, 2, 4>(backwards)), strata::value_error);
  CHECK_THROWS_AS(strata::LSTMStream<float>(LSTM<float>(4)), strata::value_error);
  const LSTM<float> lstm(4, LSTMOptions().input_dim(2).seed(1));
  CHECK_THROWS_AS(strata::LSTMStream<float>(lstm, 0), strata::value_error);
  CHECK_THROWS_AS((strata::StaticLSTMStream<float, 3, 4>(lstm)), strata::shape_error);
  CHECK_THROWS_WITH((strata::StaticLSTMStream<float, 3, 4>(lstm)), Catch::Contains("input_dim 3 and units 4"));
  strata::LSTMStream<float> stream(lstm, 2);
  const strata::LSTMState<float> wrong{Tensor<float, 2>(3, 4), Tensor<float, 2>(3, 4)};
  CHECK_THROWS_AS(stream.reset(wrong), strata::shape_error);
  strata::LSTMState<float> state{Tensor<float, 2>(2, 4), Tensor<float, 2>(2, 4)};
  state.h.setConstant(0.5f);
  state.c.setConstant(-0.25f);
  stream.reset(state);
  CHECK(stream.h()(1, 3) == 0.5f);
  CHECK(stream.c()(0, 0) == -0.25f);
}

TEMPLATE_TEST_CASE("threads: results are bitwise the same with 1 and 2 threads", "[threads]", float, double) {
  using T = TestType;
#if defined(_OPENMP)
  strata::set_num_threads(2);
  CHECK(strata::num_threads() == 2);
  strata::set_num_threads(1);
#else
  strata::set_num_threads(2);
  CHECK(strata::num_threads() == 1);  // without OpenMP strata stays on the calling thread
#endif
  Dense<T> dense(64, DenseOptions().activation("tanh").input_dim(96).seed(3));
  const LSTM<T> lstm = random_lstm<T>(12, 48);
  TimeDistributed<LSTM<T>> td(lstm);
  const Tensor<T, 3> xd = test::random_tensor<T, 3>(37, 29, 96);
  const Tensor<T, 3> xl = test::random_tensor<T, 3>(61, 17, 12);
  const Tensor<T, 4> xt = test::random_tensor<T, 4>(9, 7, 5, 12);

  strata::set_num_threads(1);
  const Tensor<T, 3> d1 = dense(xd);
  const Tensor<T, 3> l1 = lstm(xl);
  const Tensor<T, 4> t1 = td(xt);
  strata::set_num_threads(2);
  const Tensor<T, 3> d2 = dense(xd);
  const Tensor<T, 3> l2 = lstm(xl);
  const Tensor<T, 4> t2 = td(xt);
  strata::set_num_threads(1);
  CHECK(test::bitwise_equal(d1.data(), d2.data(), d1.size()));
  CHECK(test::bitwise_equal(l1.data(), l2.data(), l1.size()));
  CHECK(test::bitwise_equal(t1.data(), t2.data(), t1.size()));
}

TEMPLATE_TEST_CASE("batch invariance: TimeDistributed gives a sample the same bits in any batch", "[threads]", float,
                   double) {
  using T = TestType;
  TimeDistributed<Dense<T>> td_dense(Dense<T>(9, DenseOptions().activation("sigmoid").input_dim(7).seed(4)));
  TimeDistributed<LSTM<T>> td_lstm(random_lstm<T>(7, 10));
  const Tensor<T, 4> one = test::random_tensor<T, 4>(1, 3, 4, 7);
  const Tensor<T, 4> alone_d = td_dense(one);
  const Tensor<T, 4> alone_l = td_lstm(one);
  for (Index batch : {5, 23}) {
    for (Index position : {Index(0), batch / 2, batch - 1}) {
      Tensor<T, 4> x = test::random_tensor<T, 4>(batch, 3, 4, 7);
      x.template chip<0>(position) = one.template chip<0>(0);
      const Tensor<T, 4> yd = td_dense(x);
      const Tensor<T, 4> yl = td_lstm(x);
      const Tensor<T, 3> sample_d = yd.template chip<0>(position);
      const Tensor<T, 3> sample_l = yl.template chip<0>(position);
      CHECK(test::bitwise_equal(sample_d.data(), alone_d.data(), alone_d.size()));
      CHECK(test::bitwise_equal(sample_l.data(), alone_l.data(), alone_l.size()));
    }
  }
}
