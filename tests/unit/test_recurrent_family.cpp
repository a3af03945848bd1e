// SPDX-License-Identifier: MIT
// GRU (both reset_after variants), SimpleRNN, masks through LSTM/GRU/SimpleRNN, Bidirectional,
// Masking and Embedding: agreement with the independent scalar reference (support/naive.hpp) for
// every option, Keras weight layouts, statefulness, batch invariance and error messages.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/naive.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::Bidirectional;
using strata::BidirectionalOptions;
using strata::Embedding;
using strata::EmbeddingOptions;
using strata::GRU;
using strata::GRUOptions;
using strata::Index;
using strata::LSTM;
using strata::LSTMOptions;
using strata::LSTMState;
using strata::Mask;
using strata::Masking;
using strata::MergeMode;
using strata::Shape;
using strata::SimpleRNN;
using strata::SimpleRNNOptions;
using strata::Tensor;

template <class T>
std::vector<T> flat(const AnyTensor<T>& t) {
  return std::vector<T>(t.data(), t.data() + t.size());
}

template <class T, int R>
std::vector<T> flat(const Tensor<T, R>& t) {
  return std::vector<T>(t.data(), t.data() + t.size());
}

// A random mask with leading, trailing and middle gaps; row 0 keeps everything, and with `all_off`
// the last row is fully masked.
Mask random_mask(Index batch, Index time, bool all_off) {
  Mask m(batch, time);
  for (Index b = 0; b < batch; ++b) {
    for (Index t = 0; t < time; ++t) m(b, t) = b == 0 || test::random_int(0, 2) != 0;
  }
  if (batch > 1) m(1, 0) = false;  // a leading masked step
  if (all_off && batch > 2) {
    for (Index t = 0; t < time; ++t) m(batch - 1, t) = false;
  }
  return m;
}

std::vector<int> mask_ints(const Mask& m) {
  std::vector<int> v(static_cast<std::size_t>(m.size()));
  for (Index i = 0; i < m.size(); ++i) v[static_cast<std::size_t>(i)] = m.data()[i] ? 1 : 0;
  return v;
}

// A layer of the kind `cfg.kind`, built with random weights; returns it with its weights.
struct Built {
  std::vector<double> kernel, recurrent, bias;
};

template <class T>
strata::Weights<T> random_weights(const naive::RnnConfig& cfg, Index features, bool use_bias) {
  const Index u = static_cast<Index>(cfg.units);
  const Index g = static_cast<Index>(naive::rnn_gates(cfg)) * u;
  strata::Weights<T> w;
  Tensor<T, 2> k(features, g), r(u, g);
  test::fill_uniform(k.data(), k.size(), T(-0.8), T(0.8));
  test::fill_uniform(r.data(), r.size(), T(-0.8), T(0.8));
  w.emplace_back(k);
  w.emplace_back(r);
  if (use_bias) {
    const Shape bs = cfg.kind == "gru" && cfg.reset_after ? Shape{2, g} : Shape{g};
    AnyTensor<T> b = AnyTensor<T>::uninitialized(bs);
    test::fill_uniform(b.data(), b.size(), T(-0.5), T(0.5));
    w.push_back(b);
  }
  return w;
}

// Runs `layer` (LSTM, GRU or SimpleRNN configured like cfg) and the naive reference on the same
// data, with optional mask and initial state, and compares output and final states.
template <class T, class Layer>
void check_against_naive(const Layer& layer, const naive::RnnConfig& cfg, const strata::Weights<T>& w, Index batch,
                         Index time, Index features, bool with_mask, bool with_state) {
  const Index u = static_cast<Index>(cfg.units);
  Tensor<T, 3> x = test::random_tensor<T, 3>(batch, time, features);
  Tensor<T, 2> h0 = test::random_tensor<T, 2>(batch, u);
  Tensor<T, 2> c0 = test::random_tensor<T, 2>(batch, u);
  Mask mask = random_mask(batch, time, true);
  const std::vector<T> bias = w.size() == 3 ? flat(w[2]) : std::vector<T>{};
  // The reference in double from the same (float-rounded) values: the difference is strata's
  // rounding alone.
  const auto wide = [](const std::vector<T>& v) { return std::vector<double>(v.begin(), v.end()); };
  const auto ref = naive::rnn<double>(wide(flat(x)), static_cast<std::size_t>(batch), static_cast<std::size_t>(time),
                                      static_cast<std::size_t>(features), wide(flat(w[0])), wide(flat(w[1])),
                                      wide(bias), cfg, with_state ? wide(flat(h0)) : std::vector<double>{},
                                      with_state && cfg.kind == "lstm" ? wide(flat(c0)) : std::vector<double>{},
                                      with_mask ? mask_ints(mask) : std::vector<int>{});
  // Each step sums features + units + 1 products into each unit, and an error made at one step is
  // carried through the later ones as the values are: the error stays within time * (features +
  // units + 1) roundings of the largest value (measured over 300 seeds of this test: at most 0.25
  // of that, float and double). relu and linear SimpleRNNs grow their values far past 1 (to a few
  // hundred), where test::tolerance's few float ulps at scale 1 is too tight.
  double scale = 1;
  for (const std::vector<double>* v : {&ref.output, &ref.h, &ref.c}) {
    for (double e : *v) scale = std::max(scale, std::abs(e));
  }
  const double tol = std::max(
      test::tolerance<T>(), static_cast<double>(time * (features + u + 1)) * std::numeric_limits<T>::epsilon() * scale);
  INFO("scale " << scale << ", tolerance " << tol);
  std::vector<AnyTensor<T>> got;
  if constexpr (std::is_same_v<Layer, LSTM<T>>) {
    const LSTMState<T> s{h0, c0};
    got = layer.outputs(x, with_state ? &s : nullptr, with_mask ? &mask : nullptr);
  } else {
    got = layer.outputs(x, with_state ? &h0 : nullptr, with_mask ? &mask : nullptr);
  }
  REQUIRE(got.size() == (cfg.kind == "lstm" ? 3u : 2u));
  CHECK(test::max_abs_diff(wide(flat(got[0])), ref.output) <= tol);
  CHECK(test::max_abs_diff(wide(flat(got[1])), ref.h) <= tol);
  if (cfg.kind == "lstm") CHECK(test::max_abs_diff(wide(flat(got[2])), ref.c) <= tol);
}

template <class T>
void check_kind(const std::string& kind, bool reset_after) {
  for (int trial = 0; trial < 24; ++trial) {
    naive::RnnConfig cfg;
    cfg.kind = kind;
    cfg.reset_after = reset_after;
    cfg.units = static_cast<std::size_t>(test::random_int(1, 11));
    cfg.return_sequences = trial % 2 == 0;
    cfg.go_backwards = trial % 3 == 0;
    cfg.zero_output_for_mask = trial % 5 == 1;
    const char* acts[] = {"tanh", "relu", "sigmoid", "linear"};
    cfg.activation = acts[trial % 4];
    cfg.recurrent_activation = trial % 4 == 3 ? "hard_sigmoid" : "sigmoid";
    const bool use_bias = trial % 7 != 2;
    const bool with_mask = trial % 2 == 1 || trial % 3 == 0;
    const bool with_state = trial % 4 >= 2;
    const Index batch = test::random_int(1, 9);
    const Index time = test::random_int(1, 9);
    const Index features = test::random_int(1, 7);
    const Index u = static_cast<Index>(cfg.units);
    const auto w = random_weights<T>(cfg, features, use_bias);
    INFO(kind << " trial " << trial << " reset_after " << reset_after << " units " << u << " batch " << batch
              << " time " << time << " features " << features << " mask " << with_mask << " state " << with_state);
    if (kind == "gru") {
      GRU<T> layer(u, GRUOptions()
                          .activation(cfg.activation)
                          .recurrent_activation(cfg.recurrent_activation)
                          .reset_after(reset_after)
                          .use_bias(use_bias)
                          .return_sequences(cfg.return_sequences)
                          .return_state(true)
                          .go_backwards(cfg.go_backwards)
                          .zero_output_for_mask(cfg.zero_output_for_mask));
      layer.set_weights(w);
      check_against_naive<T>(layer, cfg, w, batch, time, features, with_mask, with_state);
    } else if (kind == "simple_rnn") {
      SimpleRNN<T> layer(u, SimpleRNNOptions()
                                .activation(cfg.activation)
                                .use_bias(use_bias)
                                .return_sequences(cfg.return_sequences)
                                .return_state(true)
                                .go_backwards(cfg.go_backwards)
                                .zero_output_for_mask(cfg.zero_output_for_mask));
      layer.set_weights(w);
      check_against_naive<T>(layer, cfg, w, batch, time, features, with_mask, with_state);
    } else {
      LSTM<T> layer(u, LSTMOptions()
                           .activation(cfg.activation)
                           .recurrent_activation(cfg.recurrent_activation)
                           .use_bias(use_bias)
                           .return_sequences(cfg.return_sequences)
                           .return_state(true)
                           .go_backwards(cfg.go_backwards)
                           .zero_output_for_mask(cfg.zero_output_for_mask));
      layer.set_weights(w);
      check_against_naive<T>(layer, cfg, w, batch, time, features, with_mask, with_state);
    }
  }
}

}  // namespace

TEST_CASE("GRU (reset_after true and false) matches the naive Keras equations for every option", "[gru]") {
  check_kind<float>("gru", true);
  check_kind<double>("gru", true);
  check_kind<float>("gru", false);
  check_kind<double>("gru", false);
}

TEST_CASE("SimpleRNN matches the naive Keras equations for every option", "[simple_rnn]") {
  // Its own draws: which sizes and values it meets must not move when tests are added elsewhere.
  const test::SeededDraws draws(186);
  check_kind<float>("simple_rnn", false);
  check_kind<double>("simple_rnn", false);
}

TEST_CASE("LSTM with masks matches the naive Keras (TensorFlow backend) masking rule", "[lstm][mask]") {
  check_kind<float>("lstm", false);
  check_kind<double>("lstm", false);
}

TEST_CASE("masks: the TensorFlow rule for leading masked steps with a nonzero initial state", "[mask]") {
  // TF (and tf.keras 2) output 0 at masked steps before the first kept one even when h0 != 0;
  // JAX/numpy and tfjs output h0 there. strata follows TensorFlow.
  GRU<double> gru(3, GRUOptions().input_dim(2).seed(5).return_sequences(true).return_state(true));
  Tensor<double, 3> x = test::random_tensor<double, 3>(1, 4, 2);
  Tensor<double, 2> h0(1, 3);
  h0.setValues({{0.5, -0.25, 0.75}});
  Mask m(1, 4);
  m.setValues({{false, false, true, false}});
  const auto r = gru.call(x, &h0, &m);
  const Tensor<double, 3> y = r.output.get<3>();
  for (Index j = 0; j < 3; ++j) {
    CHECK(y(0, 0, j) == 0.0);
    CHECK(y(0, 1, j) == 0.0);
    CHECK(y(0, 2, j) != 0.0);
    CHECK(y(0, 3, j) == y(0, 2, j));  // a later masked step repeats the previous output
    CHECK(r.h(0, j) == y(0, 2, j));   // the state is carried past the masked last step
  }
}

TEST_CASE("masks: an all-true mask gives bitwise the unmasked result, a fully masked row keeps its state", "[mask]") {
  LSTM<float> lstm(5, LSTMOptions().input_dim(3).seed(9).return_sequences(true).return_state(true));
  Tensor<float, 3> x = test::random_tensor<float, 3>(4, 6, 3);
  Mask all(4, 6);
  all.setConstant(true);
  const auto a = lstm.call(x);
  const auto b = lstm.call(x, all);
  CHECK(test::bitwise_equal(a.output.data(), b.output.data(), a.output.size()));
  CHECK(test::bitwise_equal(a.c.data(), b.c.data(), a.c.size()));
  Mask none(4, 6);
  none.setConstant(false);
  Tensor<float, 2> h0 = test::random_tensor<float, 2>(4, 5);
  Tensor<float, 2> c0 = test::random_tensor<float, 2>(4, 5);
  const auto r = lstm.call(x, LSTMState<float>{h0, c0}, none);
  CHECK(test::bitwise_equal(r.h.data(), h0.data(), h0.size()));
  CHECK(test::bitwise_equal(r.c.data(), c0.data(), c0.size()));
  for (Index i = 0; i < r.output.size(); ++i) CHECK(r.output.data()[i] == 0.0f);
}

TEST_CASE("masks: a sample's output does not depend on the batch around it (with and without masks)",
          "[mask][invariance]") {
  GRU<float> gru(7, GRUOptions().input_dim(4).seed(3).return_sequences(true));
  SimpleRNN<float> rnn(6, SimpleRNNOptions().input_dim(4).seed(4).return_sequences(true).go_backwards(true));
  Tensor<float, 3> x = test::random_tensor<float, 3>(13, 5, 4);
  Mask m = random_mask(13, 5, true);
  const AnyTensor<float> gy = gru(x, m);
  const AnyTensor<float> ry = rnn(x, m);
  for (Index b : {Index(0), Index(6), Index(12)}) {
    Tensor<float, 3> xb(1, 5, 4);
    std::copy(x.data() + b * 20, x.data() + (b + 1) * 20, xb.data());
    Mask mb(1, 5);
    for (Index t = 0; t < 5; ++t) mb(0, t) = m(b, t);
    const AnyTensor<float> g1 = gru(xb, mb);
    const AnyTensor<float> r1 = rnn(xb, mb);
    CHECK(test::bitwise_equal(g1.data(), gy.data() + b * 35, 35));
    CHECK(test::bitwise_equal(r1.data(), ry.data() + b * 30, 30));
  }
}

TEST_CASE("GRU and SimpleRNN: weights in Keras layout, count_params, initial weights", "[gru][simple_rnn]") {
  GRU<float> a(4, GRUOptions().input_dim(3).seed(1));
  const auto w = a.get_weights();
  REQUIRE(w.size() == 3);
  CHECK(w[0].shape() == Shape{3, 12});
  CHECK(w[1].shape() == Shape{4, 12});
  CHECK(w[2].shape() == Shape{2, 12});  // reset_after: input and recurrent bias rows
  CHECK(a.count_params() == 3 * 4 * (3 + 4) + 2 * 12);
  GRU<float> b(4, GRUOptions().input_dim(3).seed(1).reset_after(false));
  CHECK(b.get_weights()[2].shape() == Shape{12});
  CHECK(b.count_params() == 3 * 4 * (3 + 4) + 12);
  SimpleRNN<float> c(4, SimpleRNNOptions().input_dim(3).seed(1));
  CHECK(c.get_weights()[1].shape() == Shape{4, 4});
  CHECK(c.count_params() == 4 * (3 + 4) + 4);
  // Orthogonal recurrent kernel: U U^T = I for (u, 3u).
  const auto& u = a.recurrent_kernel();
  for (Index i = 0; i < 4; ++i) {
    for (Index j = 0; j < 4; ++j) {
      double s = 0;
      for (Index k = 0; k < 12; ++k) s += static_cast<double>(u(i, k)) * u(j, k);
      CHECK(std::abs(s - (i == j ? 1.0 : 0.0)) < 1e-5);
    }
  }
  // set_weights(get_weights()) round trip gives the same outputs.
  GRU<float> d(4, GRUOptions().seed(2));
  d.set_weights(w);
  Tensor<float, 3> x = test::random_tensor<float, 3>(2, 3, 3);
  const AnyTensor<float> ya = a(x), yd = d(x);
  CHECK(test::bitwise_equal(ya.data(), yd.data(), ya.size()));
}

TEST_CASE("GRU and SimpleRNN: stateful calls continue the sequence", "[gru][simple_rnn][stateful]") {
  GRU<double> whole(5, GRUOptions().input_dim(2).seed(8).return_sequences(true));
  GRU<double> parts(5, GRUOptions().input_dim(2).seed(8).return_sequences(true).stateful(true));
  Tensor<double, 3> x = test::random_tensor<double, 3>(3, 6, 2);
  Tensor<double, 3> x1(3, 4, 2), x2(3, 2, 2);
  for (Index b = 0; b < 3; ++b) {
    for (Index t = 0; t < 6; ++t) {
      for (Index f = 0; f < 2; ++f) (t < 4 ? x1(b, t, f) : x2(b, t - 4, f)) = x(b, t, f);
    }
  }
  const Tensor<double, 3> y = whole(x).get<3>();
  const Tensor<double, 3> y1 = parts(x1).get<3>();
  const Tensor<double, 3> y2 = parts(x2).get<3>();
  CHECK(parts.has_states());
  for (Index b = 0; b < 3; ++b) {
    for (Index j = 0; j < 5; ++j) {
      CHECK(y1(b, 3, j) == y(b, 3, j));
      CHECK(y2(b, 1, j) == y(b, 5, j));
    }
  }
  parts.reset_states();
  CHECK_FALSE(parts.has_states());
  SimpleRNN<double> srnn(3, SimpleRNNOptions().input_dim(2).seed(1).stateful(true));
  srnn(x);
  const Tensor<double, 3> two_rows = x1.slice(std::array<Index, 3>{0, 0, 0}, std::array<Index, 3>{2, 4, 2});
  CHECK_THROWS_AS(srnn(two_rows), strata::shape_error);
}

TEST_CASE("GRU, SimpleRNN and masks: errors name the layer, the expectation and what was given", "[errors]") {
  GRU<float> gru(4, GRUOptions().input_dim(3).name("enc"));
  Tensor<float, 3> x(2, 5, 3);
  x.setZero();
  Mask wrong(2, 4);
  wrong.setConstant(true);
  CHECK_THROWS_WITH(gru(x, wrong), Catch::Contains("strata::GRU 'enc'") && Catch::Contains("(batch=2, time=5)") &&
                                       Catch::Contains("got (2, 4)"));
  Tensor<float, 2> h0(3, 4);
  h0.setZero();
  CHECK_THROWS_WITH(gru(x, h0), Catch::Contains("initial state h") && Catch::Contains("(batch=2, units=4)"));
  GRU<float> fresh(4, GRUOptions().reset_after(true));
  strata::Weights<float> w{Tensor<float, 2>(3, 12), Tensor<float, 2>(4, 12), Tensor<float, 1>(12)};
  CHECK_THROWS_WITH(fresh.set_weights(w), Catch::Contains("bias") && Catch::Contains("(2, 12)") &&
                                              Catch::Contains("reset_after") && Catch::Contains("got (12,)"));
  CHECK_THROWS_AS(GRU<float>(0), strata::value_error);
  CHECK_THROWS_WITH(SimpleRNN<float>(3, SimpleRNNOptions().activation("softmax")),
                    Catch::Contains("strata::SimpleRNN") && Catch::Contains("softmax"));
  SimpleRNN<float> srnn(2, SimpleRNNOptions().input_dim(4).name("r"));
  CHECK_THROWS_WITH(srnn(x), Catch::Contains("strata::SimpleRNN 'r'") && Catch::Contains("features=4") &&
                                 Catch::Contains("(2, 5, 3)"));
}

TEST_CASE("Bidirectional matches forward and flipped-back backward references for every merge mode",
          "[bidirectional]") {
  const MergeMode modes[] = {MergeMode::concat, MergeMode::sum, MergeMode::mul, MergeMode::ave, MergeMode::none};
  for (int trial = 0; trial < 20; ++trial) {
    const MergeMode mode = modes[trial % 5];
    const bool seq = trial % 2 == 0;
    const bool with_mask = trial % 3 != 0;
    const Index batch = test::random_int(1, 5), time = test::random_int(1, 6), features = test::random_int(1, 4);
    const Index u = test::random_int(1, 6);
    INFO("trial " << trial << " seq " << seq << " mask " << with_mask);
    naive::RnnConfig cfg;
    cfg.kind = trial % 3 == 0 ? "lstm" : trial % 3 == 1 ? "gru" : "simple_rnn";
    cfg.units = static_cast<std::size_t>(u);
    cfg.return_sequences = seq;
    cfg.zero_output_for_mask = seq;  // Keras' Bidirectional forces this on its layers
    const auto wf = random_weights<double>(cfg, features, true);
    const auto wb = random_weights<double>(cfg, features, true);
    strata::Weights<double> all = wf;
    all.insert(all.end(), wb.begin(), wb.end());
    Tensor<double, 3> x = test::random_tensor<double, 3>(batch, time, features);
    Mask m = random_mask(batch, time, false);
    const auto fwd = naive::rnn<double>(flat(x), batch, time, features, flat(wf[0]), flat(wf[1]), flat(wf[2]), cfg, {},
                                        {}, with_mask ? mask_ints(m) : std::vector<int>{});
    naive::RnnConfig bcfg = cfg;
    bcfg.go_backwards = true;
    auto bwd = naive::rnn<double>(flat(x), batch, time, features, flat(wb[0]), flat(wb[1]), flat(wb[2]), bcfg, {}, {},
                                  with_mask ? mask_ints(m) : std::vector<int>{});
    if (seq) {  // flip the backward sequence back to input order
      std::vector<double> flipped(bwd.output.size());
      for (Index b = 0; b < batch; ++b) {
        for (Index t = 0; t < time; ++t) {
          std::copy_n(bwd.output.begin() + (b * time + t) * u, u, flipped.begin() + (b * time + time - 1 - t) * u);
        }
      }
      bwd.output = flipped;
    }
    std::vector<double> expected;
    const std::size_t n = fwd.output.size();
    for (std::size_t i = 0; i < n; ++i) {
      const double a = fwd.output[i], b = bwd.output[i];
      if (mode == MergeMode::sum) expected.push_back(a + b);
      if (mode == MergeMode::mul) expected.push_back(a * b);
      if (mode == MergeMode::ave) expected.push_back((a + b) / 2);
    }
    if (mode == MergeMode::concat) {
      for (std::size_t r = 0; r < n / static_cast<std::size_t>(u); ++r) {
        expected.insert(expected.end(), fwd.output.begin() + r * u, fwd.output.begin() + (r + 1) * u);
        expected.insert(expected.end(), bwd.output.begin() + r * u, bwd.output.begin() + (r + 1) * u);
      }
    }
    const auto opts = BidirectionalOptions().merge_mode(mode);
    const auto check = [&](const auto& bi) {
      const auto out = bi.outputs(x, nullptr, nullptr, with_mask ? &m : nullptr);
      const std::size_t merged = mode == MergeMode::none ? 2 : 1;
      REQUIRE(out.size() == merged + (cfg.kind == "lstm" ? 4u : 2u));
      if (mode == MergeMode::none) {
        CHECK(test::max_abs_diff(flat(out[0]), fwd.output) < 1e-11);
        CHECK(test::max_abs_diff(flat(out[1]), bwd.output) < 1e-11);
      } else {
        CHECK(test::max_abs_diff(flat(out[0]), expected) < 1e-11);
      }
      CHECK(test::max_abs_diff(flat(out[merged]), fwd.h) < 1e-11);
      if (cfg.kind == "lstm") {
        CHECK(test::max_abs_diff(flat(out[merged + 1]), fwd.c) < 1e-11);
        CHECK(test::max_abs_diff(flat(out[merged + 2]), bwd.h) < 1e-11);
        CHECK(test::max_abs_diff(flat(out[merged + 3]), bwd.c) < 1e-11);
      } else {
        CHECK(test::max_abs_diff(flat(out[merged + 1]), bwd.h) < 1e-11);
      }
      CHECK(bi.get_weights().size() == all.size());
    };
    if (cfg.kind == "lstm") {
      Bidirectional<LSTM<double>> bi(LSTM<double>(u, LSTMOptions().return_sequences(seq).return_state(true).name("l")),
                                     opts);
      bi.set_weights(all);
      check(bi);
      CHECK(bi.forward_layer().name() == "forward_l");
      CHECK(bi.backward_layer().go_backwards());
    } else if (cfg.kind == "gru") {
      Bidirectional<GRU<double>> bi(GRU<double>(u, GRUOptions().return_sequences(seq).return_state(true)), opts);
      bi.set_weights(all);
      check(bi);
    } else {
      Bidirectional<SimpleRNN<double>> bi(
          SimpleRNN<double>(u, SimpleRNNOptions().return_sequences(seq).return_state(true)), opts);
      bi.set_weights(all);
      check(bi);
    }
  }
}

TEST_CASE("Bidirectional: shapes, the layer concept and errors", "[bidirectional]") {
  Bidirectional<LSTM<float>> bi(LSTM<float>(3, LSTMOptions().input_dim(2).seed(1).return_sequences(true)));
  CHECK(bi.compute_output_shape(Shape{4, 5, 2}) == Shape{4, 5, 6});
  Tensor<float, 3> x = test::random_tensor<float, 3>(4, 5, 2);
  const AnyTensor<float> y = bi(x);
  const auto out = bi.outputs(x);
  CHECK(test::bitwise_equal(y.data(), out[0].data(), y.size()));
  // TimeDistributed(Bidirectional) on rank 4 equals Bidirectional on each slice.
  strata::TimeDistributed<Bidirectional<LSTM<float>>> td(bi);
  Tensor<float, 4> x4 = test::random_tensor<float, 4>(2, 3, 5, 2);
  const AnyTensor<float> y4 = td(x4);
  CHECK(y4.shape() == Shape{2, 3, 5, 6});
  Tensor<float, 3> slice(2, 5, 2);
  for (Index b = 0; b < 2; ++b) std::copy_n(x4.data() + (b * 3 + 1) * 10, 10, slice.data() + b * 10);
  const AnyTensor<float> ys = bi(slice);
  for (Index b = 0; b < 2; ++b) CHECK(test::bitwise_equal(ys.data() + b * 30, y4.data() + (b * 3 + 1) * 30, 30));
  Bidirectional<GRU<float>> none(GRU<float>(2, GRUOptions().input_dim(2)), BidirectionalOptions().merge_mode("none"));
  CHECK_THROWS_AS(none(x), strata::value_error);
  CHECK_THROWS_AS(BidirectionalOptions().merge_mode("max"), strata::value_error);
  CHECK_THROWS_AS(bi.set_weights(bi.forward_layer().get_weights()), strata::shape_error);
  CHECK_THROWS_AS(Bidirectional<GRU<float>>(GRU<float>(2), GRU<float>(2)), strata::value_error);
}

TEST_CASE("Masking: compute_mask, zeroed steps, and Masking -> LSTM equals LSTM with the mask", "[masking]") {
  Masking<double> masking(-1.0);
  Tensor<double, 3> x = test::random_tensor<double, 3>(3, 5, 2);
  for (Index f = 0; f < 2; ++f) {
    x(0, 0, f) = -1.0;  // leading
    x(1, 4, f) = -1.0;  // trailing
    x(2, 2, f) = -1.0;  // middle
  }
  x(1, 2, 0) = -1.0;  // one feature equal only: kept
  const Mask m = masking.compute_mask(x);
  CHECK_FALSE(m(0, 0));
  CHECK_FALSE(m(1, 4));
  CHECK_FALSE(m(2, 2));
  CHECK(m(1, 2));
  CHECK(m(0, 1));
  const Tensor<double, 3> y = masking(x);
  CHECK(y(0, 0, 1) == 0.0);
  CHECK(y(1, 2, 0) == -1.0);
  LSTM<double> lstm(4, LSTMOptions().input_dim(2).seed(2).return_sequences(true));
  const AnyTensor<double> a = lstm(y, m);
  const AnyTensor<double> b = lstm(x, m);  // masked steps are never read
  CHECK(test::bitwise_equal(a.data(), b.data(), a.size()));
  CHECK(lstm.compute_mask(&m) == &m);
  LSTM<double> last(4, LSTMOptions().input_dim(2));
  CHECK(last.compute_mask(&m) == nullptr);
  CHECK_THROWS_AS(masking.compute_mask(AnyTensor<double>(Tensor<double, 4>(1, 2, 3, 4))), strata::shape_error);
}

TEST_CASE("Embedding: lookup, mask_zero, weights and index errors", "[embedding]") {
  Embedding<float> emb(6, 3, EmbeddingOptions().mask_zero(true).seed(4).name("tok"));
  const auto w = emb.get_weights();
  REQUIRE(w.size() == 1);
  CHECK(w[0].shape() == Shape{6, 3});
  for (Index i = 0; i < 18; ++i) CHECK(std::abs(w[0].data()[i]) <= 0.05f);
  Eigen::Tensor<std::int64_t, 2, Eigen::RowMajor, Index> ids(2, 4);
  ids.setValues({{1, 5, 0, 0}, {0, 2, 3, 5}});
  const Tensor<float, 3> y = emb(ids);
  CHECK(y.dimension(2) == 3);
  for (Index b = 0; b < 2; ++b) {
    for (Index t = 0; t < 4; ++t) {
      for (Index j = 0; j < 3; ++j) CHECK(y(b, t, j) == emb.embeddings()(ids(b, t), j));
    }
  }
  const auto m = emb.compute_mask(ids);
  REQUIRE(m.has_value());
  CHECK_FALSE((*m)(0, 2));
  CHECK_FALSE((*m)(1, 0));
  CHECK((*m)(1, 1));
  // Float indices (a Model's tensors) give the same rows.
  Tensor<float, 2> fids(2, 4);
  for (Index i = 0; i < 8; ++i) fids.data()[i] = static_cast<float>(ids.data()[i]);
  const Tensor<float, 3> yf = emb(fids);
  CHECK(test::bitwise_equal(y.data(), yf.data(), y.size()));
  Eigen::Tensor<int, 2, Eigen::RowMajor, Index> bad(1, 3);
  bad.setValues({{1, 6, 2}});
  CHECK_THROWS_WITH(emb(bad), Catch::Contains("strata::Embedding 'tok'") && Catch::Contains("index 6") &&
                                  Catch::Contains("(0, 1)") && Catch::Contains("input_dim=6"));
  bad.setValues({{1, 2, -1}});
  CHECK_THROWS_WITH(emb(bad), Catch::Contains("index -1") && Catch::Contains("(0, 2)"));
  fids(1, 3) = 2.5f;
  CHECK_THROWS_WITH(emb(fids), Catch::Contains("index 2.5") && Catch::Contains("(1, 3)"));
  Embedding<float> plain(6, 3);
  CHECK_FALSE(plain.compute_mask(ids).has_value());
  CHECK_THROWS_AS(emb.set_weights({Tensor<float, 2>(5, 3)}), strata::shape_error);
  CHECK_THROWS_AS(Embedding<float>(0, 3), strata::value_error);
}
