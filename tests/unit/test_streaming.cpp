// SPDX-License-Identifier: MIT
// Streaming (LSTMStream, StaticLSTMStream, GRUStream, SimpleRNNStream, StaticSimpleRNNStream,
// StackStream, Conv1DStream, Conv1DStackStream) and threads: the same numbers as the
// whole-sequence layers, bit for bit, whatever the thread count or the batch around a sample.
#include <array>
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

// A built causal Conv1D with random weights (bias included: a zero bias would hide a wrong init).
template <class T>
strata::Conv1D<T> random_causal_conv(Index channels, Index filters, Index kernel, Index dilation, Index groups = 1,
                                     const std::string& activation = "linear", bool use_bias = true) {
  strata::Conv1D<T> conv(filters, kernel,
                         strata::ConvOptions<1>()
                             .padding("causal")
                             .dilation_rate(dilation)
                             .groups(groups)
                             .activation(activation)
                             .use_bias(use_bias)
                             .input_dim(channels)
                             .seed(7));
  auto w = conv.get_weights();
  for (auto& a : w) test::fill_uniform(a.data(), a.size(), T(-0.8), T(0.8));
  conv.set_weights(w);
  return conv;
}

// x[:, t, :] of a (batch, time, features) tensor as a (batch, features) one.
template <class T>
Tensor<T, 2> time_step(const Tensor<T, 3>& x, Index t) {
  Tensor<T, 2> s(x.dimension(0), x.dimension(2));
  for (Index b = 0; b < x.dimension(0); ++b) {
    for (Index f = 0; f < x.dimension(2); ++f) s(b, f) = x(b, t, f);
  }
  return s;
}

// Feeds x step by step through `step` (a const T* -> const T* function) and compares each output
// with y (batch, time, filters) of the whole sequence, bitwise.
template <class T, class Step>
void check_steps(const Tensor<T, 3>& x, const Tensor<T, 3>& y, Step&& step) {
  const Index batch = x.dimension(0), time = x.dimension(1), filters = y.dimension(2);
  for (Index t = 0; t < time; ++t) {
    const Tensor<T, 2> xt = time_step(x, t);
    const Tensor<T, 2> yt = time_step(y, t);
    const T* out = step(xt.data());
    INFO("step " << t);
    CHECK(test::bitwise_equal(out, yt.data(), batch * filters));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("streaming: Conv1DStream step by step equals the whole-sequence causal Conv1D bitwise",
                   "[streaming][conv]", float, double) {
  using T = TestType;
  struct Case {
    Index batch, channels, filters, kernel, dilation, groups;
    const char* activation;
    bool use_bias;
  };
  // Kernel sizes 1-5, dilations 1-7, groups, every activation kind (element-wise, softmax over the
  // filters, sparsemax), narrow outputs (filters / groups <= 2 with depth >= 8 takes the GEMM's
  // dot kernel) and wide ones (several panels, a partial last one).
  const Case cases[] = {
      {1, 5, 7, 3, 1, 1, "linear", true},    {3, 3, 16, 2, 4, 1, "relu", true}, {2, 6, 4, 5, 3, 2, "tanh", false},
      {5, 8, 2, 4, 1, 1, "sigmoid", true},   {2, 8, 8, 3, 2, 4, "gelu", true},  {2, 3, 6, 3, 2, 1, "softmax", true},
      {3, 4, 5, 2, 7, 1, "sparsemax", true}, {1, 4, 37, 1, 1, 1, "elu", true},  {4, 12, 40, 3, 5, 2, "swish", true},
  };
  for (const Case& c : cases) {
    INFO("batch " << c.batch << " channels " << c.channels << " filters " << c.filters << " kernel " << c.kernel
                  << " dilation " << c.dilation << " groups " << c.groups << " " << c.activation);
    const strata::Conv1D<T> conv =
        random_causal_conv<T>(c.channels, c.filters, c.kernel, c.dilation, c.groups, c.activation, c.use_bias);
    strata::Conv1DStream<T> stream(conv, c.batch);
    CHECK(stream.batch() == c.batch);
    CHECK(stream.input_dim() == c.channels);
    CHECK(stream.filters() == c.filters);
    CHECK(stream.span() == (c.kernel - 1) * c.dilation + 1);
    const Index time = 3 * stream.span() + 7;  // the ring wraps around several times
    const Tensor<T, 3> x = test::random_tensor<T, 3>(c.batch, time, c.channels);
    const Tensor<T, 3> y = conv(x);
    check_steps(x, y, [&](const T* xt) { return stream.step(xt); });
    // reset() is a new sequence: the stream again gives the outputs of a fresh call, here on
    // another sequence, through the checked step.
    stream.reset();
    const Tensor<T, 3> x2 = test::random_tensor<T, 3>(c.batch, stream.span() + 2, c.channels);
    const Tensor<T, 3> y2 = conv(x2);
    for (Index t = 0; t < x2.dimension(1); ++t) {
      const Tensor<T, 2> xt = time_step(x2, t);
      const Tensor<T, 2> yt = time_step(y2, t);
      const strata::ConstTensorMap<T, 2> out = stream.step(xt);
      CHECK(out.dimension(0) == c.batch);
      CHECK(out.dimension(1) == c.filters);
      CHECK(test::bitwise_equal(out.data(), yt.data(), yt.size()));
    }
  }
}

TEMPLATE_TEST_CASE("streaming: a sample's stream does not depend on the batch around it", "[streaming][conv]", float,
                   double) {
  using T = TestType;
  const strata::Conv1D<T> conv = random_causal_conv<T>(6, 9, 3, 2, 1, "tanh");
  const Tensor<T, 3> one = test::random_tensor<T, 3>(1, 20, 6);
  Tensor<T, 3> many = test::random_tensor<T, 3>(7, 20, 6);
  many.template chip<0>(4) = one.template chip<0>(0);
  strata::Conv1DStream<T> alone(conv, 1), among(conv, 7);
  for (Index t = 0; t < 20; ++t) {
    const Tensor<T, 2> a = time_step(one, t), m = time_step(many, t);
    const T* ya = alone.step(a.data());
    const T* ym = among.step(m.data());
    CHECK(test::bitwise_equal(ya, ym + 4 * 9, 9));
  }
}

TEMPLATE_TEST_CASE("streaming: Conv1DStackStream equals the stack called on the whole sequence bitwise",
                   "[streaming][conv]", float, double) {
  using T = TestType;
  // A small WaveNet stack (the W9 benchmark's shape, narrower): dilations 1, 2, 4, 8, 16, then a
  // grouped layer and a narrow head.
  std::vector<strata::Conv1D<T>> stack;
  stack.push_back(random_causal_conv<T>(5, 8, 3, 1, 1, "relu"));
  for (Index d : {2, 4, 8, 16}) stack.push_back(random_causal_conv<T>(8, 8, 3, d, 1, d == 8 ? "tanh" : "relu"));
  stack.push_back(random_causal_conv<T>(8, 6, 2, 3, 2, "linear", false));
  stack.push_back(random_causal_conv<T>(6, 2, 4, 1, 1, "sigmoid"));
  for (Index batch : {1, 3}) {
    INFO("batch " << batch);
    strata::Conv1DStackStream<T> stream(stack, batch);
    CHECK(stream.size() == 7);
    CHECK(stream.batch() == batch);
    CHECK(stream.input_dim() == 5);
    CHECK(stream.filters() == 2);
    const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, 90, 5);
    Tensor<T, 3> y = stack[0](x);
    for (std::size_t i = 1; i < stack.size(); ++i) y = stack[i](y);
    check_steps(x, y, [&](const T* xt) { return stream.step(xt); });
    // The same through one Conv1DStream per layer, each output fed to the next.
    std::vector<strata::Conv1DStream<T>> layers;
    for (const auto& conv : stack) layers.emplace_back(conv, batch);
    check_steps(x, y, [&](const T* xt) {
      const T* h = xt;
      for (auto& s : layers) h = s.step(h);
      return h;
    });
    // reset() resets every layer: the first steps again, through the checked step.
    stream.reset();
    for (Index t = 0; t < 40; ++t) {
      const Tensor<T, 2> xt = time_step(x, t);
      const Tensor<T, 2> yt = time_step(y, t);
      CHECK(test::bitwise_equal(stream.step(xt).data(), yt.data(), yt.size()));
    }
  }
}

TEST_CASE("streaming: convolutions that cannot be streamed, and wrong steps, are rejected",
          "[streaming][conv][errors]") {
  using strata::Conv1D;
  using strata::ConvOptions;
  const Conv1D<float> causal(4, 3, ConvOptions<1>().padding("causal").dilation_rate(2).input_dim(3).seed(1));
  CHECK_THROWS_AS(strata::Conv1DStream<float>(causal, 0), strata::value_error);
  CHECK_THROWS_AS(strata::Conv1DStream<float>(Conv1D<float>(4, 3, ConvOptions<1>().padding("causal"))),
                  strata::value_error);
  CHECK_THROWS_WITH(strata::Conv1DStream<float>(Conv1D<float>(4, 3, ConvOptions<1>().padding("causal"))),
                    Catch::Contains("not built"));
  const Conv1D<float> same(4, 3, ConvOptions<1>().padding("same").input_dim(3).seed(1));
  CHECK_THROWS_AS(strata::Conv1DStream<float>(same), strata::value_error);
  CHECK_THROWS_WITH(strata::Conv1DStream<float>(same), Catch::Contains("padding \"same\""));
  CHECK_THROWS_AS(strata::Conv1DStream<float>(Conv1D<float>(4, 3, ConvOptions<1>().input_dim(3))), strata::value_error);
  const Conv1D<float> strided(4, 3, ConvOptions<1>().padding("causal").strides(2).input_dim(3).seed(1));
  CHECK_THROWS_WITH(strata::Conv1DStream<float>(strided), Catch::Contains("strides 2"));

  strata::Conv1DStream<float> stream(causal, 2);
  CHECK_THROWS_AS(stream.step(Tensor<float, 2>(2, 4)), strata::shape_error);
  CHECK_THROWS_WITH(stream.step(Tensor<float, 2>(1, 3)), Catch::Contains("(2, 3); got (1, 3)"));
  CHECK_THROWS_AS(stream.step(Tensor<float, 3>(2, 1, 3)), strata::shape_error);

  CHECK_THROWS_AS(strata::Conv1DStackStream<float>(std::vector<Conv1D<float>>{}), strata::value_error);
  const Conv1D<float> next(5, 2, ConvOptions<1>().padding("causal").input_dim(5).seed(2));
  CHECK_THROWS_AS(strata::Conv1DStackStream<float>({causal, next}), strata::shape_error);
  CHECK_THROWS_WITH(strata::Conv1DStackStream<float>({causal, next}), Catch::Contains("takes 5 input channels"));
  CHECK_THROWS_AS(strata::Conv1DStackStream<float>({causal, same}), strata::shape_error);
  const Conv1D<float> same4(4, 3, ConvOptions<1>().padding("same").input_dim(4).seed(1));
  CHECK_THROWS_AS(strata::Conv1DStackStream<float>({causal, same4}), strata::value_error);
  strata::Conv1DStackStream<float> stack({causal, Conv1D<float>(2, 2, ConvOptions<1>().padding("causal").input_dim(4))},
                                         3);
  CHECK_THROWS_AS(stack.step(Tensor<float, 2>(3, 4)), strata::shape_error);
  CHECK(stack.step(Tensor<float, 2>(Tensor<float, 2>(3, 3).setZero())).dimension(1) == 2);
}

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

// StaticLSTMStream's all-in-registers step (float, tanh/sigmoid, units a multiple of 4): each size
// picks the widest packet whose lanes divide the units (16, 8 or 4 floats) and groups of unit
// packets, so these sizes cover each packet width, one and several groups, with and without a
// bias, and inputs large enough to saturate the gates; the result must still be the LSTM's bitwise.
template <int Features, int Units>
void check_static_lstm(bool use_bias, float scale) {
  const LSTM<float> lstm = random_lstm<float>(Features, Units, "tanh", "sigmoid", use_bias);
  strata::StaticLSTMStream<float, Features, Units> stream(lstm);
  Tensor<float, 3> x = test::random_tensor<float, 3>(1, 10, Features);
  x = x * scale;
  check_stream_equals_sequence(lstm, x, [&](const float* xt) { return stream.step(xt); });
  // reset() starts over from zeros: the same run again.
  stream.reset();
  check_stream_equals_sequence(lstm, x, [&](const float* xt) { return stream.step(xt); });
}

TEST_CASE("streaming: StaticLSTMStream's register step equals the LSTM bitwise at every packet width", "[streaming]") {
  check_static_lstm<1, 4>(true, 1.0f);
  check_static_lstm<2, 12>(false, 1.0f);
  check_static_lstm<1, 16>(true, 1.0f);
  check_static_lstm<3, 24>(true, 8.0f);
  check_static_lstm<1, 48>(false, 1.0f);
  check_static_lstm<1, 64>(true, 30.0f);
  check_static_lstm<2, 128>(true, 1.0f);
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
  CHECK_THROWS_AS(stream.step(Tensor<float, 2>(2, 3)), strata::shape_error);
  CHECK_THROWS_WITH(stream.step(Tensor<float, 2>(1, 2)), Catch::Contains("(2, 2); got (1, 2)"));
  CHECK(stream.step(Tensor<float, 2>(Tensor<float, 2>(2, 2).setZero())).dimension(1) == 4);
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

namespace {

using strata::GRU;
using strata::GRUOptions;
using strata::SimpleRNN;
using strata::SimpleRNNOptions;

// The layer with its weights redrawn from U(-0.6, 0.6) (a zero bias would hide a wrong init).
template <class Layer>
Layer randomized(Layer layer) {
  auto w = layer.get_weights();
  for (auto& a : w) test::fill_uniform(a.data(), a.size(), typename Layer::Scalar(-0.6), typename Layer::Scalar(0.6));
  layer.set_weights(w);
  return layer;
}

template <class T>
GRU<T> random_gru(Index features, Index units, bool reset_after, const std::string& activation = "tanh",
                  const std::string& recurrent = "sigmoid", bool use_bias = true) {
  return randomized(GRU<T>(units, GRUOptions()
                                      .reset_after(reset_after)
                                      .return_sequences(true)
                                      .activation(activation)
                                      .recurrent_activation(recurrent)
                                      .use_bias(use_bias)
                                      .input_dim(features)
                                      .seed(13)));
}

template <class T>
SimpleRNN<T> random_rnn(Index features, Index units, const std::string& activation = "tanh", bool use_bias = true) {
  return randomized(SimpleRNN<T>(units, SimpleRNNOptions()
                                            .return_sequences(true)
                                            .activation(activation)
                                            .use_bias(use_bias)
                                            .input_dim(features)
                                            .seed(17)));
}

// x[:, 0:steps, :].
template <class T>
Tensor<T, 3> first_steps(const Tensor<T, 3>& x, Index steps) {
  return x.slice(Eigen::array<Index, 3>{0, 0, 0}, Eigen::array<Index, 3>{x.dimension(0), steps, x.dimension(2)});
}

// Streams x through a GRUStream or SimpleRNNStream of `layer` (return_sequences) and checks
// every step against the whole-sequence call, the checked step, the state after half the
// sequence against the layer's final state on that half (Keras' return_state), reset() and
// reset(state) against the layer called with that initial state.
template <class Layer>
void check_recurrent_stream(const Layer& layer, Index batch, Index time) {
  using T = typename Layer::Scalar;
  const Index features = layer.input_dim(), units = layer.units();
  strata::RecurrentStream<Layer> stream(layer, batch);
  CHECK(stream.batch() == batch);
  CHECK(stream.units() == units);
  CHECK(stream.input_dim() == features);
  const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, time, features);
  const Tensor<T, 3> whole = layer(x);
  for (Index t = 0; t < time; ++t) {
    const Tensor<T, 2> xt = time_step(x, t);
    const Tensor<T, 2> yt = time_step(whole, t);
    INFO("step " << t);
    if (t % 2 == 0) {
      CHECK(test::bitwise_equal(stream.step(xt.data()), yt.data(), batch * units));
    } else {
      const strata::ConstTensorMap<T, 2> h = stream.step(xt);
      CHECK(h.dimension(0) == batch);
      CHECK(h.dimension(1) == units);
      CHECK(test::bitwise_equal(h.data(), yt.data(), batch * units));
    }
    if (t + 1 == time / 2) {
      // Mid-sequence: the state is the final state (return_state) of the layer on x[:, :t+1].
      const auto half = layer.call(first_steps(x, t + 1));
      CHECK(test::bitwise_equal(stream.h().data(), half.h.data(), batch * units));
    }
  }
  // reset(): a fresh start gives the first step again.
  stream.reset();
  CHECK(test::bitwise_equal(stream.step(time_step(x, 0).data()), &time_step(whole, 0)(0, 0), batch * units));
  // reset(state): Keras' initial_state; the rest of the sequence from the state after half of it.
  const Index half = std::max<Index>(time / 2, 1);
  const auto head = layer.call(first_steps(x, half));
  stream.reset(head.h);
  for (Index t = half; t < time; ++t) {
    INFO("after reset(state), step " << t);
    CHECK(test::bitwise_equal(stream.step(time_step(x, t).data()), &time_step(whole, t)(0, 0), batch * units));
  }
  const Tensor<T, 2> zeros = Tensor<T, 2>(batch, units).setZero();
  stream.reset(zeros);
  CHECK(test::bitwise_equal(stream.step(time_step(x, 0).data()), &time_step(whole, 0)(0, 0), batch * units));
}

}  // namespace

TEMPLATE_TEST_CASE("streaming: GRUStream step by step equals the whole-sequence GRU bitwise", "[streaming][gru]", float,
                   double) {
  using T = TestType;
  struct Case {
    Index features, units;
    const char* activation;
    const char* recurrent;
    bool use_bias;
  };
  // units 1 (less than a packet), 7 and 13 (partial chunks), 16 and 32 (whole ones), 67 (several
  // GEMM panels); features 1; every kind of activation pair, with and without bias.
  const Case cases[] = {{1, 1, "tanh", "sigmoid", true},       {1, 8, "tanh", "sigmoid", true},
                        {3, 7, "relu", "hard_sigmoid", false}, {1, 16, "tanh", "sigmoid", false},
                        {5, 13, "softsign", "sigmoid", true},  {2, 32, "tanh", "hard_sigmoid_keras2", true},
                        {9, 67, "elu", "sigmoid", true},       {4, 3, "linear", "tanh", true}};
  for (bool reset_after : {true, false}) {
    for (const Case& c : cases) {
      for (Index batch : {1, 3}) {
        INFO("reset_after " << reset_after << " features " << c.features << " units " << c.units << " " << c.activation
                            << "/" << c.recurrent << " bias " << c.use_bias << " batch " << batch);
        check_recurrent_stream(random_gru<T>(c.features, c.units, reset_after, c.activation, c.recurrent, c.use_bias),
                               batch, 11);
      }
    }
  }
}

TEMPLATE_TEST_CASE("streaming: SimpleRNNStream step by step equals the whole-sequence SimpleRNN bitwise",
                   "[streaming][simple_rnn]", float, double) {
  using T = TestType;
  struct Case {
    Index features, units;
    const char* activation;
    bool use_bias;
  };
  const Case cases[] = {{1, 1, "tanh", true},  {1, 8, "tanh", false},     {3, 5, "relu", true},
                        {2, 32, "tanh", true}, {6, 19, "sigmoid", false}, {1, 70, "gelu", true}};
  for (const Case& c : cases) {
    for (Index batch : {1, 3}) {
      INFO("features " << c.features << " units " << c.units << " " << c.activation << " bias " << c.use_bias
                       << " batch " << batch);
      check_recurrent_stream(random_rnn<T>(c.features, c.units, c.activation, c.use_bias), batch, 10);
    }
  }
}

TEMPLATE_TEST_CASE("streaming: LSTMStream's state mid-sequence is the LSTM's return_state", "[streaming]", float,
                   double) {
  using T = TestType;
  for (Index batch : {1, 3}) {
    const LSTM<T> lstm = random_lstm<T>(2, 9);
    strata::LSTMStream<T> stream(lstm, batch);
    const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, 8, 2);
    for (Index t = 0; t < 5; ++t) stream.step(time_step(x, t));
    const auto r = lstm.call(first_steps(x, 5));
    CHECK(test::bitwise_equal(stream.h().data(), r.h.data(), batch * 9));
    CHECK(test::bitwise_equal(stream.c().data(), r.c.data(), batch * 9));
  }
}

TEST_CASE("streaming: GRU and SimpleRNN layers that cannot be streamed, and wrong steps and states, are rejected",
          "[streaming][errors]") {
  const GRU<float> backwards(4, GRUOptions().go_backwards(true).input_dim(2).seed(1));
  CHECK_THROWS_AS(strata::GRUStream<float>(backwards), strata::value_error);
  CHECK_THROWS_WITH(strata::GRUStream<float>(backwards),
                    Catch::Contains("strata::GRUStream") && Catch::Contains("go_backwards"));
  CHECK_THROWS_AS(
      strata::SimpleRNNStream<float>(SimpleRNN<float>(3, SimpleRNNOptions().go_backwards(true).input_dim(2))),
      strata::value_error);
  CHECK_THROWS_AS(strata::GRUStream<float>(GRU<float>(4)), strata::value_error);
  CHECK_THROWS_WITH(strata::SimpleRNNStream<double>(SimpleRNN<double>(4)),
                    Catch::Contains("strata::SimpleRNNStream") && Catch::Contains("not built"));
  const GRU<float> gru(4, GRUOptions().input_dim(2).seed(1));
  CHECK_THROWS_AS(strata::GRUStream<float>(gru, 0), strata::value_error);
  CHECK_THROWS_WITH(strata::GRUStream<float>(gru, -2), Catch::Contains("batch must be at least 1; got -2"));

  strata::GRUStream<float> stream(gru, 2);
  CHECK_THROWS_AS(stream.step(Tensor<float, 2>(2, 3)), strata::shape_error);
  CHECK_THROWS_WITH(stream.step(Tensor<float, 2>(1, 2)),
                    Catch::Contains("strata::GRUStream") && Catch::Contains("(2, 2); got (1, 2)"));
  CHECK_THROWS_AS(stream.step(Tensor<float, 3>(2, 1, 2)), strata::shape_error);
  CHECK_THROWS_AS(stream.reset(Tensor<float, 2>(3, 4)), strata::shape_error);
  CHECK_THROWS_WITH(stream.reset(Tensor<float, 2>(2, 5)),
                    Catch::Contains("state h must have shape (2, 4); got (2, 5)"));
  Tensor<float, 2> state(2, 4);
  state.setConstant(0.5f);
  stream.reset(state);
  CHECK(stream.h()(1, 3) == 0.5f);

  const SimpleRNN<double> rnn(3, SimpleRNNOptions().input_dim(1).seed(2));
  strata::SimpleRNNStream<double> rs(rnn);
  CHECK_THROWS_AS(rs.step(Tensor<double, 2>(1, 2)), strata::shape_error);
  CHECK_THROWS_AS(rs.reset(Tensor<double, 2>(1, 2)), strata::shape_error);
  CHECK(rs.step(Tensor<double, 2>(Tensor<double, 2>(1, 1).setZero())).dimension(1) == 3);
}

namespace {

// y = the layers called in order on x (a whole-sequence pipeline), for a StackStream test.
template <class T>
strata::AnyTensor<T> call_in_order(const strata::AnyTensor<T>& x) {
  return x;
}
template <class T, class Layer, class... Rest>
strata::AnyTensor<T> call_in_order(const strata::AnyTensor<T>& x, const Layer& layer, const Rest&... rest) {
  return call_in_order<T>(strata::AnyTensor<T>(layer(strata::TensorView<T>(x))), rest...);
}

// Streams x through StackStream(batch, layers...) and checks every output against the layers
// called in order on the whole sequence ((batch, time, out) when the last recurrent layer
// returns sequences; otherwise the last step's output against the (batch, out) result), then
// reset() and the checked step.
template <class T, class... Layers>
void check_stack(Index batch, Index time, const Layers&... layers) {
  strata::StackStream<Layers...> stream(batch, layers...);
  CHECK(stream.batch() == batch);
  CHECK(stream.size() == sizeof...(Layers));
  const Index features = stream.input_dim(), out = stream.output_dim();
  const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, time, features);
  const strata::AnyTensor<T> y = call_in_order<T>(strata::AnyTensor<T>(x), layers...);
  REQUIRE(y.shape().back() == out);
  const auto expected = [&](Index t) {
    if (y.rank() == 3) return time_step(y.template get<3>(), t);
    // Not a sequence: only the last step's output is known from one call on x.
    return t + 1 == time ? Tensor<T, 2>(y.template get<2>()) : Tensor<T, 2>();
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (Index t = 0; t < time; ++t) {
      const Tensor<T, 2> xt = time_step(x, t);
      const Tensor<T, 2> yt = expected(t);
      INFO("pass " << pass << " step " << t);
      if (pass == 0) {
        const T* got = stream.step(xt.data());
        if (yt.size() > 0) CHECK(test::bitwise_equal(got, yt.data(), batch * out));
      } else {
        const strata::ConstTensorMap<T, 2> got = stream.step(xt);
        CHECK(got.dimension(0) == batch);
        CHECK(got.dimension(1) == out);
        if (yt.size() > 0) CHECK(test::bitwise_equal(got.data(), yt.data(), batch * out));
      }
    }
    stream.reset();  // the second pass starts again from zeros
  }
}

}  // namespace

TEMPLATE_TEST_CASE("streaming: StackStream equals its layers called in order on the whole sequence bitwise",
                   "[streaming][stack]", float, double) {
  using T = TestType;
  using strata::ActivationLayer;
  const auto dense = [](Index in, Index units, const char* activation, bool bias = true) {
    return randomized(Dense<T>(units, DenseOptions().activation(activation).use_bias(bias).input_dim(in).seed(19)));
  };
  for (Index batch : {1, 3}) {
    INFO("batch " << batch);
    {
      // LSTM -> GRU -> SimpleRNN -> Dense head, the recurrent layers in a mix.
      INFO("LSTM, GRU, SimpleRNN, Dense");
      check_stack<T>(batch, 12, random_lstm<T>(3, 6), random_gru<T>(6, 5, true), random_rnn<T>(5, 4),
                     dense(4, 2, "linear"));
    }
    {
      // One unit and one feature everywhere; GRU reset_after=false; Activation on a recurrent
      // state (a copy: h must stay the state), then Dense with softmax and an Activation in place.
      INFO("units 1, GRU(reset_after=false), Activation, Dense(softmax), Activation");
      check_stack<T>(batch, 9, random_gru<T>(1, 1, false), ActivationLayer<T>("relu"), dense(1, 3, "softmax"),
                     ActivationLayer<T>("log_softmax"));
    }
    {
      // Dense first (on each step of the input), TimeDistributed(Dense), sparsemax heads.
      INFO("Dense, LSTM, TimeDistributed(Dense(sparsemax)), Activation(sparsemax)");
      check_stack<T>(batch, 10, dense(2, 7, "tanh"), random_lstm<T>(7, 8, "tanh", "hard_sigmoid"),
                     TimeDistributed<Dense<T>>(dense(8, 5, "sparsemax")), ActivationLayer<T>("sparsemax"));
    }
    {
      // The last recurrent layer without return_sequences: Dense then acts on (batch, units).
      INFO("SimpleRNN, LSTM(return_sequences=false), Dense");
      LSTM<T> last(3, LSTMOptions().input_dim(16).seed(23));
      check_stack<T>(batch, 7, random_rnn<T>(4, 16, "relu", false), randomized(last), dense(3, 1, "sigmoid", false));
    }
    {
      // A lone recurrent layer, wide (several GEMM panels).
      INFO("GRU alone");
      check_stack<T>(batch, 6, random_gru<T>(5, 40, true));
    }
  }
}

TEST_CASE("streaming: StackStream's layer states, and stacks that cannot be streamed", "[streaming][stack][errors]") {
  using strata::ActivationLayer;
  const LSTM<float> lstm = random_lstm<float>(2, 4);
  const GRU<float> gru = random_gru<float>(4, 3, true);
  const Dense<float> head(2, DenseOptions().input_dim(3).seed(1));
  strata::StackStream stream(2, lstm, gru, head);  // class template argument deduction
  static_assert(std::is_same_v<decltype(stream), strata::StackStream<LSTM<float>, GRU<float>, Dense<float>>>);
  CHECK(stream.input_dim() == 2);
  CHECK(stream.output_dim() == 2);
  // Each recurrent layer's state, mid-sequence, is the layer's final state on the steps so far.
  const Tensor<float, 3> x = test::random_tensor<float, 3>(2, 6, 2);
  for (Index t = 0; t < 4; ++t) stream.step(time_step(x, t));
  const auto r0 = lstm.call(first_steps(x, 4));
  const Tensor<float, 3> h0 = lstm(first_steps(x, 4));
  const auto r1 = gru.call(h0);
  CHECK(test::bitwise_equal(stream.stream<0>().h().data(), r0.h.data(), 8));
  CHECK(test::bitwise_equal(stream.stream<0>().c().data(), r0.c.data(), 8));
  CHECK(test::bitwise_equal(stream.stream<1>().h().data(), r1.h.data(), 6));
  // A layer's state can be set (Keras' initial_state) through its stream.
  stream.stream<1>().reset(Tensor<float, 2>(Tensor<float, 2>(2, 3).setConstant(0.25f)));
  CHECK(stream.stream<1>().h()(1, 2) == 0.25f);
  stream.reset();
  CHECK(stream.stream<1>().h()(1, 2) == 0.0f);
  CHECK(stream.stream<0>().c()(0, 0) == 0.0f);

  CHECK_THROWS_AS(stream.step(Tensor<float, 2>(2, 3)), strata::shape_error);
  CHECK_THROWS_WITH(stream.step(Tensor<float, 2>(1, 2)),
                    Catch::Contains("strata::StackStream") && Catch::Contains("(2, 2); got (1, 2)"));
  CHECK_THROWS_AS(strata::StackStream(0, lstm, gru), strata::value_error);
  // Sizes that do not chain.
  CHECK_THROWS_AS(strata::StackStream(1, lstm, head), strata::shape_error);
  CHECK_THROWS_WITH(strata::StackStream(1, lstm, head), Catch::Contains("layer 1 (strata::Dense)") &&
                                                            Catch::Contains("takes 3 features per step") &&
                                                            Catch::Contains("gives 4"));
  // A recurrent layer, or TimeDistributed, after one without return_sequences.
  const LSTM<float> last(4, LSTMOptions().input_dim(2).seed(2));
  CHECK_THROWS_WITH(strata::StackStream(1, last, gru), Catch::Contains("needs a sequence"));
  CHECK_THROWS_AS(
      strata::StackStream(1, last, TimeDistributed<Dense<float>>(Dense<float>(2, DenseOptions().input_dim(4)))),
      strata::shape_error);
  CHECK_NOTHROW(
      strata::StackStream(1, last, Dense<float>(2, DenseOptions().input_dim(4)), ActivationLayer<float>("tanh")));
  // Unbuilt and go_backwards layers.
  CHECK_THROWS_AS(strata::StackStream(1, lstm, GRU<float>(3)), strata::value_error);
  CHECK_THROWS_WITH(strata::StackStream(1, lstm, Dense<float>(3)), Catch::Contains("not built"));
  CHECK_THROWS_AS(strata::StackStream(1, lstm, GRU<float>(3, GRUOptions().go_backwards(true).input_dim(4))),
                  strata::value_error);
}

namespace {

// StaticSimpleRNNStream<T, F, U> against the whole-sequence SimpleRNN, step by step, then reset()
// and reset(h) (from the state after 4 steps: the remaining steps again).
template <class T, int F, int U>
void check_static_rnn(const char* activation, bool use_bias) {
  INFO("features " << F << " units " << U << " " << activation << " bias " << use_bias);
  const SimpleRNN<T> rnn = random_rnn<T>(F, U, activation, use_bias);
  strata::StaticSimpleRNNStream<T, F, U> stream(rnn);
  const Tensor<T, 3> x = test::random_tensor<T, 3>(1, 10, F);
  const Tensor<T, 3> whole = rnn(x);
  std::array<T, U> after4{};
  for (Index t = 0; t < 10; ++t) {
    INFO("step " << t);
    CHECK(test::bitwise_equal(stream.step(time_step(x, t).data()), &time_step(whole, t)(0, 0), U));
    if (t == 3) after4 = stream.h();
  }
  stream.reset();
  CHECK(stream.h()[U - 1] == T(0));
  CHECK(test::bitwise_equal(stream.step(time_step(x, 0).data()), &time_step(whole, 0)(0, 0), U));
  stream.reset(after4);
  for (Index t = 4; t < 10; ++t) {
    CHECK(test::bitwise_equal(stream.step(time_step(x, t).data()), &time_step(whole, t)(0, 0), U));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("streaming: StaticSimpleRNNStream equals the whole-sequence SimpleRNN bitwise",
                   "[streaming][simple_rnn]", float, double) {
  using T = TestType;
  check_static_rnn<T, 1, 1>("tanh", true);
  check_static_rnn<T, 1, 8>("tanh", true);
  check_static_rnn<T, 3, 5>("relu", false);
  check_static_rnn<T, 1, 16>("tanh", false);
  check_static_rnn<T, 4, 13>("sigmoid", true);
  check_static_rnn<T, 2, 32>("tanh", true);
  check_static_rnn<T, 6, 70>("gelu", true);
  check_static_rnn<T, 9, 3>("softsign", true);

  const SimpleRNN<T> rnn(4, SimpleRNNOptions().input_dim(2).seed(1));
  CHECK_THROWS_AS((strata::StaticSimpleRNNStream<T, 3, 4>(rnn)), strata::shape_error);
  CHECK_THROWS_WITH((strata::StaticSimpleRNNStream<T, 2, 5>(rnn)), Catch::Contains("input_dim 2 and units 5"));
  CHECK_THROWS_AS((strata::StaticSimpleRNNStream<T, 2, 4>(SimpleRNN<T>(4))), strata::value_error);
  CHECK_THROWS_AS((strata::StaticSimpleRNNStream<T, 2, 4>(
                      SimpleRNN<T>(4, SimpleRNNOptions().go_backwards(true).input_dim(2).seed(1)))),
                  strata::value_error);
}
