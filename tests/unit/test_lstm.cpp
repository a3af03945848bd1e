// SPDX-License-Identifier: MIT
// strata::LSTM: agreement with the independent scalar reference (support/naive.hpp) for every
// option, Keras weight layout and initializers, gate order, shapes, statefulness, batch
// invariance and error messages.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/naive.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::Index;
using strata::LSTM;
using strata::LSTMOptions;
using strata::LSTMResult;
using strata::LSTMState;
using strata::Shape;
using strata::Tensor;

// ---------------------------------------------------------------------------------------------
// Helpers

struct Dims {
  Index batch;
  Index time;
  Index features;
  Index units;
};

std::string describe(const Dims& d) {
  return "batch " + std::to_string(d.batch) + ", time " + std::to_string(d.time) + ", features " +
         std::to_string(d.features) + ", units " + std::to_string(d.units);
}

// Fixed edge sizes (1s, odd sizes, the maxima) plus a few random ones in the ranges.
std::vector<Dims> size_cases(int random_count = 4) {
  std::vector<Dims> cases = {{1, 1, 1, 1},  {1, 12, 16, 16}, {5, 1, 1, 16}, {5, 12, 16, 1},
                             {3, 7, 13, 9}, {2, 5, 3, 4},    {4, 3, 5, 5}};
  for (int i = 0; i < random_count; ++i) {
    cases.push_back(
        {test::random_int(1, 5), test::random_int(1, 12), test::random_int(1, 16), test::random_int(1, 16)});
  }
  return cases;
}

template <class T>
std::vector<T> random_vec(Index n, double lo = -0.5, double hi = 0.5) {
  std::vector<T> v(static_cast<std::size_t>(n));
  test::fill_uniform(v.data(), n, static_cast<T>(lo), static_cast<T>(hi));
  return v;
}

template <class T>
Tensor<T, 1> tensor1(const std::vector<T>& v) {
  Tensor<T, 1> t(static_cast<Index>(v.size()));
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

template <class T>
Tensor<T, 2> tensor2(const std::vector<T>& v, Index rows, Index cols) {
  Tensor<T, 2> t(rows, cols);
  REQUIRE(t.size() == static_cast<Index>(v.size()));
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

template <class T>
Tensor<T, 3> tensor3(const std::vector<T>& v, Index d0, Index d1, Index d2) {
  Tensor<T, 3> t(d0, d1, d2);
  REQUIRE(t.size() == static_cast<Index>(v.size()));
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

template <class X>
auto vec(const X& x) {
  return test::to_vector(x);
}

// Random LSTM weights in Keras layout, kept as flat vectors for naive::lstm.
template <class T>
struct Params {
  Index features = 0;
  Index units = 0;
  bool use_bias = true;
  std::vector<T> kernel;     // (features, 4u)
  std::vector<T> recurrent;  // (u, 4u)
  std::vector<T> bias;       // (4u,) or empty

  static Params random(Index features, Index units, bool use_bias, double scale = 0.5) {
    Params p;
    p.features = features;
    p.units = units;
    p.use_bias = use_bias;
    p.kernel = random_vec<T>(features * 4 * units, -scale, scale);
    p.recurrent = random_vec<T>(units * 4 * units, -scale, scale);
    if (use_bias) p.bias = random_vec<T>(4 * units, -scale, scale);
    return p;
  }

  strata::Weights<T> weights() const {
    strata::Weights<T> w;
    w.emplace_back(tensor2(kernel, features, 4 * units));
    w.emplace_back(tensor2(recurrent, units, 4 * units));
    if (use_bias) w.emplace_back(tensor1(bias));
    return w;
  }
};

naive::LstmConfig make_config(Index units, const std::string& activation = "tanh",
                              const std::string& recurrent_activation = "sigmoid", bool return_sequences = false,
                              bool go_backwards = false) {
  naive::LstmConfig cfg;
  cfg.units = static_cast<std::size_t>(units);
  cfg.activation = activation;
  cfg.recurrent_activation = recurrent_activation;
  cfg.return_sequences = return_sequences;
  cfg.go_backwards = go_backwards;
  return cfg;
}

// The layer options matching a naive config (plus use_bias).
LSTMOptions options_for(const naive::LstmConfig& cfg, bool use_bias) {
  return LSTMOptions()
      .activation(cfg.activation)
      .recurrent_activation(cfg.recurrent_activation)
      .return_sequences(cfg.return_sequences)
      .go_backwards(cfg.go_backwards)
      .use_bias(use_bias);
}

template <class T>
naive::LstmOutput<T> run_naive(const Params<T>& p, const std::vector<T>& x, Index batch, Index time,
                               const naive::LstmConfig& cfg, const std::vector<T>& h0 = {},
                               const std::vector<T>& c0 = {}) {
  return naive::lstm(x, static_cast<std::size_t>(batch), static_cast<std::size_t>(time),
                     static_cast<std::size_t>(p.features), p.kernel, p.recurrent, p.bias, cfg, h0, c0);
}

// max |a - b| / (1 + |b|); infinity for a non-finite value or a size mismatch (so NaN never passes).
template <class T>
double rel_err(const T* a, Index n, const std::vector<T>& b) {
  if (n != static_cast<Index>(b.size())) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (Index i = 0; i < n; ++i) {
    const double x = static_cast<double>(a[i]);
    const double y = static_cast<double>(b[static_cast<std::size_t>(i)]);
    if (!std::isfinite(x) || !std::isfinite(y)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::abs(x - y) / (1.0 + std::abs(y)));
  }
  return worst;
}

template <class T>
void check_close(const T* a, Index n, const std::vector<T>& b, const std::string& what) {
  INFO(what);
  CHECK(n == static_cast<Index>(b.size()));
  const double e = rel_err(a, n, b);
  INFO("max relative error " << e << " (tolerance " << test::tolerance<T>() << ")");
  CHECK(e <= test::tolerance<T>());
}

template <class X, class T>
void check_close(const X& a, const std::vector<T>& b, const std::string& what) {
  check_close(a.data(), static_cast<Index>(a.size()), b, what);
}

template <class A, class B>
bool same_bits(const A& a, const B& b) {
  return static_cast<Index>(a.size()) == static_cast<Index>(b.size()) &&
         test::bitwise_equal(a.data(), b.data(), static_cast<Index>(a.size()));
}

template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Rows [t0, t1) of the time axis of v (batch, time, units).
template <class T>
std::vector<T> slice_time(const std::vector<T>& v, Index batch, Index time, Index units, Index t0, Index t1) {
  std::vector<T> out;
  for (Index b = 0; b < batch; ++b) {
    const auto first = v.begin() + (b * time + t0) * units;
    out.insert(out.end(), first, first + (t1 - t0) * units);
  }
  return out;
}

// x (batch, t1, f) followed by y (batch, t2, f) along time.
template <class T>
std::vector<T> concat_time(const std::vector<T>& x, Index t1, const std::vector<T>& y, Index t2, Index batch,
                           Index features) {
  std::vector<T> out;
  for (Index b = 0; b < batch; ++b) {
    out.insert(out.end(), x.begin() + b * t1 * features, x.begin() + (b + 1) * t1 * features);
    out.insert(out.end(), y.begin() + b * t2 * features, y.begin() + (b + 1) * t2 * features);
  }
  return out;
}

// x (batch, time, f) with its time axis reversed.
template <class T>
Tensor<T, 3> reverse_time(const Tensor<T, 3>& x) {
  Tensor<T, 3> r(x.dimension(0), x.dimension(1), x.dimension(2));
  for (Index b = 0; b < x.dimension(0); ++b) {
    for (Index t = 0; t < x.dimension(1); ++t) {
      for (Index k = 0; k < x.dimension(2); ++k) r(b, t, k) = x(b, x.dimension(1) - 1 - t, k);
    }
  }
  return r;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// ---------------------------------------------------------------------------------------------
// Runs one configuration against naive::lstm, optionally from a random initial state.
template <class T>
void check_against_naive(const Dims& d, const naive::LstmConfig& cfg, bool use_bias, bool with_initial_state,
                         double x_scale = 1.0, double w_scale = 0.5) {
  INFO(describe(d) << ", activation " << cfg.activation << ", recurrent_activation " << cfg.recurrent_activation
                   << ", return_sequences " << cfg.return_sequences << ", go_backwards " << cfg.go_backwards
                   << ", use_bias " << use_bias << ", initial state " << with_initial_state);
  const auto p = Params<T>::random(d.features, d.units, use_bias, w_scale);
  LSTM<T> lstm(d.units, options_for(cfg, use_bias));
  lstm.set_weights(p.weights());
  const auto xv = random_vec<T>(d.batch * d.time * d.features, -x_scale, x_scale);
  const Tensor<T, 3> x = tensor3(xv, d.batch, d.time, d.features);

  std::vector<T> h0, c0;
  if (with_initial_state) {
    h0 = random_vec<T>(d.batch * d.units);
    c0 = random_vec<T>(d.batch * d.units);
  }
  const auto ref = run_naive(p, xv, d.batch, d.time, cfg, h0, c0);

  const LSTMResult<T> r = with_initial_state
                              ? lstm.call(x, LSTMState<T>{tensor2(h0, d.batch, d.units), tensor2(c0, d.batch, d.units)})
                              : lstm.call(x);
  const Shape expected = cfg.return_sequences ? Shape{d.batch, d.time, d.units} : Shape{d.batch, d.units};
  CHECK(r.output.shape() == expected);
  check_close(r.output, ref.output, "output");
  check_close(r.h, ref.h, "final h");
  check_close(r.c, ref.c, "final c");

  // operator() gives the same output as call().
  const AnyTensor<T> y = with_initial_state
                             ? lstm(x, LSTMState<T>{tensor2(h0, d.batch, d.units), tensor2(c0, d.batch, d.units)})
                             : lstm(x);
  CHECK(y.shape() == expected);
  CHECK(same_bits(y, r.output));
}

}  // namespace

// =============================================================================================
// 1. Agreement with the reference

TEMPLATE_TEST_CASE("LSTM: matches naive reference for return_sequences go_backwards and use_bias", "[lstm]", float,
                   double) {
  using T = TestType;
  for (const Dims& d : size_cases()) {
    for (bool return_sequences : {false, true}) {
      for (bool go_backwards : {false, true}) {
        for (bool use_bias : {true, false}) {
          check_against_naive<T>(d, make_config(d.units, "tanh", "sigmoid", return_sequences, go_backwards), use_bias,
                                 false);
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("LSTM: matches naive reference for every activation and recurrent_activation", "[lstm]", float,
                   double) {
  using T = TestType;
  const std::vector<std::string> activations = {
      "tanh",      "relu",  "sigmoid", "linear", "softsign",         "elu",  "hard_sigmoid", "hard_sigmoid_keras2",
      "selu",      "relu6", "gelu",    "silu",   "gelu_approximate", "mish", "softplus",     "leaky_relu",
      "hard_silu", "swish"};
  const std::vector<std::string> recurrent_activations = {"sigmoid", "hard_sigmoid", "hard_sigmoid_keras2", "tanh"};
  const std::vector<Dims> dims = {{3, 6, 5, 7}, {1, 1, 1, 1}, {2, 9, 16, 16}};
  for (const auto& a : activations) {
    for (const auto& ra : recurrent_activations) {
      for (std::size_t i = 0; i < dims.size(); ++i) {
        // Alternate the other options so every activation also meets return_sequences / go_backwards.
        check_against_naive<T>(dims[i], make_config(dims[i].units, a, ra, i % 2 == 0, i == 2), true, false);
      }
    }
  }
}

TEMPLATE_TEST_CASE("LSTM: activation options given as Activation values equal the names", "[lstm]", float, double) {
  using T = TestType;
  const Dims d{3, 5, 4, 6};
  const auto p = Params<T>::random(d.features, d.units, true);
  const auto x = test::random_tensor<T, 3>(d.batch, d.time, d.features);
  const std::vector<std::pair<strata::Activation, std::string>> pairs = {
      {strata::Activation::relu, "relu"},
      {strata::Activation::hard_sigmoid, "hard_sigmoid"},
      {strata::Activation::hard_sigmoid_keras2, "hard_sigmoid_keras2"},
      {strata::Activation::silu, "swish"},
      {strata::Activation::softsign, "softsign"}};
  for (const auto& [value, name] : pairs) {
    INFO(name);
    LSTM<T> by_value(d.units, LSTMOptions().activation(value).recurrent_activation(value).return_sequences(true));
    LSTM<T> by_name(d.units, LSTMOptions().activation(name).recurrent_activation(name).return_sequences(true));
    CHECK(by_value.activation() == value);
    CHECK(by_name.activation() == value);
    CHECK(by_name.recurrent_activation() == value);
    by_value.set_weights(p.weights());
    by_name.set_weights(p.weights());
    CHECK(same_bits(by_value(x), by_name(x)));
  }
  LSTM<T> defaults(d.units);
  CHECK(defaults.activation() == strata::Activation::tanh);
  CHECK(defaults.recurrent_activation() == strata::Activation::sigmoid);
  CHECK(defaults.use_bias());
  CHECK(defaults.unit_forget_bias());
  CHECK_FALSE(defaults.return_sequences());
  CHECK_FALSE(defaults.return_state());
  CHECK_FALSE(defaults.go_backwards());
  CHECK_FALSE(defaults.stateful());
  CHECK_FALSE(defaults.built());
}

TEMPLATE_TEST_CASE("LSTM: hard_sigmoid is the Keras 3 x/6+0.5 and hard_sigmoid_keras2 is 0.2x+0.5 both clipped",
                   "[lstm]", float, double) {
  using T = TestType;
  // Zero kernels: every step sees z = bias. Block values put the gates in the clipped and the linear
  // regions of both variants, and the expectation is computed from the formulas here.
  const Index u = 1;
  const std::vector<double> b = {4.0, -2.0, 0.5, 1.5};  // i, f, g, o
  for (const std::string& ra : {std::string("hard_sigmoid"), std::string("hard_sigmoid_keras2")}) {
    INFO(ra);
    const auto hs = [&](double v) {
      const double lin = ra == "hard_sigmoid" ? v / 6.0 + 0.5 : 0.2 * v + 0.5;
      return std::min(1.0, std::max(0.0, lin));
    };
    LSTM<T> lstm(u, LSTMOptions().recurrent_activation(ra).return_sequences(true));
    Params<T> p;
    p.features = 2;
    p.units = u;
    p.kernel.assign(8, T(0));
    p.recurrent.assign(4, T(0));
    for (double v : b) p.bias.push_back(static_cast<T>(v));
    lstm.set_weights(p.weights());
    const Index steps = 3;
    const auto x = test::random_tensor<T, 3>(1, steps, 2);
    const Tensor<T, 3> y = lstm(x);
    const double i = hs(b[0]), f = hs(b[1]), g = std::tanh(b[2]), o = hs(b[3]);
    // i is clipped to 1 in both variants; f and o sit on the sloped part, where the variants differ.
    double c = 0;
    for (Index s = 0; s < steps; ++s) {
      c = f * c + i * g;
      const double h = o * std::tanh(c);
      INFO("step " << s << ": expected " << h << ", got " << y(0, s, 0));
      CHECK(std::abs(static_cast<double>(y(0, s, 0)) - h) <= 4 * test::tolerance<T>());
    }
  }
  // With large inputs and weights, random data reaches both clip edges; still equal to the reference,
  // and the two variants give clearly different results.
  const Dims d{4, 8, 6, 5};
  for (const std::string& ra : {std::string("hard_sigmoid"), std::string("hard_sigmoid_keras2")}) {
    check_against_naive<T>(d, make_config(d.units, "tanh", ra, true, false), true, false, 4.0, 1.0);
  }
  const auto p = Params<T>::random(d.features, d.units, true, 1.0);
  const auto x = tensor3(random_vec<T>(d.batch * d.time * d.features, -4, 4), d.batch, d.time, d.features);
  LSTM<T> k3(d.units, LSTMOptions().recurrent_activation("hard_sigmoid").return_sequences(true));
  LSTM<T> k2(d.units, LSTMOptions().recurrent_activation("hard_sigmoid_keras2").return_sequences(true));
  k3.set_weights(p.weights());
  k2.set_weights(p.weights());
  const AnyTensor<T> y3 = k3(x), y2 = k2(x);
  CHECK(test::max_abs_diff(y3.data(), y2.data(), y3.size()) > 1e-2);
}

TEMPLATE_TEST_CASE("LSTM: go_backwards equals the forward LSTM on the time-reversed input in processing order",
                   "[lstm]", float, double) {
  using T = TestType;
  for (const Dims& d : size_cases(3)) {
    INFO(describe(d));
    const auto p = Params<T>::random(d.features, d.units, true);
    const auto x = test::random_tensor<T, 3>(d.batch, d.time, d.features);
    const Tensor<T, 3> xr = reverse_time(x);
    for (bool seq : {true, false}) {
      INFO("return_sequences " << seq);
      LSTM<T> backward(d.units, LSTMOptions().go_backwards(true).return_sequences(seq));
      LSTM<T> forward(d.units, LSTMOptions().return_sequences(seq));
      backward.set_weights(p.weights());
      forward.set_weights(p.weights());
      const auto rb = backward.call(x);
      const auto rf = forward.call(xr);
      CHECK(same_bits(rb.output, rf.output));
      CHECK(same_bits(rb.h, rf.h));
      CHECK(same_bits(rb.c, rf.c));
    }
    // out[:, k] is h after consuming x[:, T-1-k]: the forward LSTM's last output on the first k+1
    // steps of the reversed input. Not flipped back.
    LSTM<T> backward(d.units, LSTMOptions().go_backwards(true).return_sequences(true));
    LSTM<T> forward_last(d.units);
    backward.set_weights(p.weights());
    forward_last.set_weights(p.weights());
    const Tensor<T, 3> yb = backward(x);
    for (Index k = 0; k < d.time; ++k) {
      Tensor<T, 3> prefix(d.batch, k + 1, d.features);
      for (Index b = 0; b < d.batch; ++b) {
        for (Index t = 0; t <= k; ++t) {
          for (Index f = 0; f < d.features; ++f) prefix(b, t, f) = x(b, d.time - 1 - t, f);
        }
      }
      const Tensor<T, 2> h = forward_last(prefix);
      for (Index b = 0; b < d.batch; ++b) {
        for (Index j = 0; j < d.units; ++j) {
          INFO("k " << k << ", b " << b << ", j " << j);
          CHECK(yb(b, k, j) == h(b, j));
        }
      }
    }
    if (d.time > 1) {
      // The option does something: the backward output differs from the forward one on x.
      LSTM<T> fwd(d.units, LSTMOptions().return_sequences(true));
      fwd.set_weights(p.weights());
      const Tensor<T, 3> yf = fwd(x);
      CHECK_FALSE(same_bits(yf, yb));
    }
  }
}

TEMPLATE_TEST_CASE("LSTM: return_state through call() and outputs()", "[lstm]", float, double) {
  using T = TestType;
  for (const Dims& d : {Dims{3, 5, 4, 6}, Dims{1, 1, 1, 1}, Dims{5, 12, 16, 13}}) {
    for (bool seq : {false, true}) {
      for (bool back : {false, true}) {
        INFO(describe(d) << ", return_sequences " << seq << ", go_backwards " << back);
        const auto p = Params<T>::random(d.features, d.units, true);
        const auto xv = random_vec<T>(d.batch * d.time * d.features, -1, 1);
        const auto x = tensor3(xv, d.batch, d.time, d.features);
        const auto ref = run_naive(p, xv, d.batch, d.time, make_config(d.units, "tanh", "sigmoid", seq, back));

        LSTM<T> with_state(d.units, LSTMOptions().return_state(true).return_sequences(seq).go_backwards(back));
        LSTM<T> without(d.units, LSTMOptions().return_sequences(seq).go_backwards(back));
        with_state.set_weights(p.weights());
        without.set_weights(p.weights());
        CHECK(with_state.return_state());
        CHECK(with_state.output_count() == 3);
        CHECK(without.output_count() == 1);

        const auto r = with_state.call(x);
        check_close(r.output, ref.output, "call output");
        check_close(r.h, ref.h, "call h");
        check_close(r.c, ref.c, "call c");

        const auto outs = with_state.outputs(x);
        REQUIRE(outs.size() == 3);
        CHECK(outs[0].shape() == (seq ? Shape{d.batch, d.time, d.units} : Shape{d.batch, d.units}));
        CHECK(outs[1].shape() == Shape{d.batch, d.units});
        CHECK(outs[2].shape() == Shape{d.batch, d.units});
        CHECK(same_bits(outs[0], r.output));
        CHECK(same_bits(outs[1], r.h));
        CHECK(same_bits(outs[2], r.c));
        check_close(outs[2], ref.c, "outputs()[2] is c");

        // h equals the last output.
        const Tensor<T, 2> h = outs[1];
        if (seq) {
          const Tensor<T, 3> y = outs[0];
          for (Index b = 0; b < d.batch; ++b) {
            for (Index j = 0; j < d.units; ++j) CHECK(y(b, d.time - 1, j) == h(b, j));
          }
        } else {
          CHECK(same_bits(outs[0], h));
        }
        // The carry is not the output: c differs from h.
        CHECK_FALSE(same_bits(outs[1], outs[2]));

        const auto single = without.outputs(x);
        REQUIRE(single.size() == 1);
        CHECK(same_bits(single[0], r.output));
        // call() gives the final state whether or not return_state is set.
        const auto r2 = without.call(x);
        CHECK(same_bits(r2.h, r.h));
        CHECK(same_bits(r2.c, r.c));

        // outputs() with an initial state, and on an AnyTensor.
        const auto h0 = random_vec<T>(d.batch * d.units), c0 = random_vec<T>(d.batch * d.units);
        const auto ref0 = run_naive(p, xv, d.batch, d.time, make_config(d.units, "tanh", "sigmoid", seq, back), h0, c0);
        const auto outs0 =
            with_state.outputs(x, LSTMState<T>{tensor2(h0, d.batch, d.units), tensor2(c0, d.batch, d.units)});
        REQUIRE(outs0.size() == 3);
        check_close(outs0[0], ref0.output, "outputs(x, state)[0]");
        check_close(outs0[1], ref0.h, "outputs(x, state)[1]");
        check_close(outs0[2], ref0.c, "outputs(x, state)[2]");
        const auto outs_any = with_state.outputs(AnyTensor<T>(x));
        REQUIRE(outs_any.size() == 3);
        CHECK(same_bits(outs_any[0], r.output));
        CHECK(same_bits(outs_any[2], r.c));
      }
    }
  }
}

TEMPLATE_TEST_CASE("LSTM: initial state h0 and c0 through call() and operator()", "[lstm]", float, double) {
  using T = TestType;
  for (const Dims& d : size_cases(3)) {
    for (bool seq : {false, true}) {
      for (bool back : {false, true}) {
        check_against_naive<T>(d, make_config(d.units, "tanh", "sigmoid", seq, back), true, true);
      }
    }
    check_against_naive<T>(d, make_config(d.units, "relu", "hard_sigmoid", true, false), false, true);
  }
  // The initial state matters, c0 as well as h0, and AnyTensor input takes one too.
  const Dims d{2, 3, 4, 5};
  const auto p = Params<T>::random(d.features, d.units, true);
  LSTM<T> lstm(d.units, LSTMOptions().return_sequences(true));
  lstm.set_weights(p.weights());
  const auto x = test::random_tensor<T, 3>(d.batch, d.time, d.features);
  const Tensor<T, 2> zeros =
      tensor2(std::vector<T>(static_cast<std::size_t>(d.batch * d.units), T(0)), d.batch, d.units);
  const Tensor<T, 2> h0 = test::random_tensor<T, 2>(d.batch, d.units);
  const Tensor<T, 2> c0 = test::random_tensor<T, 2>(d.batch, d.units);
  const AnyTensor<T> y_zero_state = lstm(x, LSTMState<T>{zeros, zeros});
  CHECK(same_bits(y_zero_state, lstm(x)));
  CHECK_FALSE(same_bits(lstm(x, LSTMState<T>{h0, zeros}), y_zero_state));
  CHECK_FALSE(same_bits(lstm(x, LSTMState<T>{zeros, c0}), y_zero_state));
  const auto r_any = lstm.call(AnyTensor<T>(x), LSTMState<T>{h0, c0});
  const auto r = lstm.call(x, LSTMState<T>{h0, c0});
  CHECK(same_bits(r_any.output, r.output));
  CHECK(same_bits(r_any.h, r.h));
  CHECK(same_bits(r_any.c, r.c));
}

// =============================================================================================
// Stateful

TEMPLATE_TEST_CASE("LSTM: stateful layer continues across calls like one concatenated sequence", "[lstm]", float,
                   double) {
  using T = TestType;
  for (const Dims& d : {Dims{3, 4, 5, 6}, Dims{1, 1, 1, 1}, Dims{5, 7, 16, 9}}) {
    for (bool back : {false, true}) {
      INFO(describe(d) << ", go_backwards " << back);
      const Index t1 = d.time, t2 = d.time + 2;
      const auto p = Params<T>::random(d.features, d.units, true);
      LSTM<T> lstm(d.units, LSTMOptions().stateful(true).return_sequences(true).go_backwards(back));
      lstm.set_weights(p.weights());
      CHECK(lstm.stateful());
      CHECK_FALSE(lstm.has_states());
      CHECK(lstm.states().h.size() == 0);

      const auto x1v = random_vec<T>(d.batch * t1 * d.features, -1, 1);
      const auto x2v = random_vec<T>(d.batch * t2 * d.features, -1, 1);
      const auto x1 = tensor3(x1v, d.batch, t1, d.features);
      const auto x2 = tensor3(x2v, d.batch, t2, d.features);

      const auto r1 = lstm.call(x1);
      CHECK(lstm.has_states());
      CHECK(same_bits(lstm.states().h, r1.h));
      CHECK(same_bits(lstm.states().c, r1.c));
      const auto r2 = lstm.call(x2);
      CHECK(same_bits(lstm.states().h, r2.h));
      CHECK(same_bits(lstm.states().c, r2.c));

      // The second call starts from the first call's final state.
      const auto cfg = make_config(d.units, "tanh", "sigmoid", true, back);
      const auto ref1 = run_naive(p, x1v, d.batch, t1, cfg);
      const auto ref2 = run_naive(p, x2v, d.batch, t2, cfg, ref1.h, ref1.c);
      check_close(r1.output, ref1.output, "first call");
      check_close(r2.output, ref2.output, "second call");
      check_close(r2.h, ref2.h, "second call h");
      check_close(r2.c, ref2.c, "second call c");

      if (!back) {
        // Forward: exactly the naive LSTM on the concatenated sequence.
        const auto xc = concat_time(x1v, t1, x2v, t2, d.batch, d.features);
        const auto refc = run_naive(p, xc, d.batch, t1 + t2, cfg);
        check_close(r1.output, slice_time(refc.output, d.batch, t1 + t2, d.units, 0, t1), "concatenated, part 1");
        check_close(r2.output, slice_time(refc.output, d.batch, t1 + t2, d.units, t1, t1 + t2), "concatenated, part 2");
        check_close(lstm.states().h, refc.h, "stored h");
        check_close(lstm.states().c, refc.c, "stored c");
      }

      // operator() (the forward() path) updates the stored state too.
      LSTM<T> via_call_operator(d.units, LSTMOptions().stateful(true).return_sequences(true).go_backwards(back));
      via_call_operator.set_weights(p.weights());
      const AnyTensor<T> y1 = via_call_operator(x1);
      CHECK(via_call_operator.has_states());
      CHECK(same_bits(via_call_operator.states().c, r1.c));
      const AnyTensor<T> y2 = via_call_operator(x2);
      CHECK(same_bits(y1, r1.output));
      CHECK(same_bits(y2, r2.output));
      CHECK(same_bits(via_call_operator.states().h, r2.h));
    }
  }
}

TEMPLATE_TEST_CASE("LSTM: stateful reset_states and explicit initial state and batch size", "[lstm]", float, double) {
  using T = TestType;
  const Dims d{3, 4, 5, 7};
  const auto p = Params<T>::random(d.features, d.units, true);
  const auto opts = LSTMOptions().return_sequences(true);
  LSTM<T> lstm(d.units, LSTMOptions(opts).stateful(true));
  LSTM<T> plain(d.units, opts);
  lstm.set_weights(p.weights());
  plain.set_weights(p.weights());
  const auto x1 = test::random_tensor<T, 3>(d.batch, d.time, d.features);
  const auto x2 = test::random_tensor<T, 3>(d.batch, d.time, d.features);
  const auto x3 = test::random_tensor<T, 3>(d.batch, d.time + 3, d.features);

  SECTION("reset_states makes the next call start from zeros") {
    const auto first = lstm.call(x1);
    CHECK(same_bits(first.output, plain.call(x1).output));
    const auto continued = lstm.call(x2);
    CHECK_FALSE(same_bits(continued.output, plain.call(x2).output));  // the state was carried
    lstm.reset_states();
    CHECK_FALSE(lstm.has_states());
    CHECK(lstm.states().h.size() == 0);
    CHECK(lstm.states().c.size() == 0);
    const auto fresh = lstm.call(x2);
    const auto expected = plain.call(x2);
    CHECK(same_bits(fresh.output, expected.output));
    CHECK(same_bits(fresh.h, expected.h));
    CHECK(same_bits(fresh.c, expected.c));
    CHECK(lstm.has_states());
  }

  SECTION("an explicit initial state overrides the stored state and becomes the stored final state") {
    (void)lstm.call(x1);
    REQUIRE(lstm.has_states());
    const auto h0v = random_vec<T>(d.batch * d.units), c0v = random_vec<T>(d.batch * d.units);
    const LSTMState<T> init{tensor2(h0v, d.batch, d.units), tensor2(c0v, d.batch, d.units)};
    const auto r = lstm.call(x2, init);
    const auto expected = plain.call(x2, init);
    CHECK(same_bits(r.output, expected.output));
    CHECK(same_bits(r.h, expected.h));
    CHECK(same_bits(r.c, expected.c));
    const auto ref = run_naive(p, vec(x2), d.batch, d.time, make_config(d.units, "tanh", "sigmoid", true), h0v, c0v);
    check_close(r.output, ref.output, "output from explicit state");
    CHECK(same_bits(lstm.states().h, r.h));
    CHECK(same_bits(lstm.states().c, r.c));
    // The next call without a state continues from it.
    const auto next = lstm.call(x3);
    const auto expected_next = plain.call(x3, LSTMState<T>{r.h, r.c});
    CHECK(same_bits(next.output, expected_next.output));
    const auto ref_next =
        run_naive(p, vec(x3), d.batch, d.time + 3, make_config(d.units, "tanh", "sigmoid", true), ref.h, ref.c);
    check_close(next.output, ref_next.output, "continuation of the explicit state");
    // operator()(x, state) overrides as well.
    const AnyTensor<T> y = lstm(x2, init);
    CHECK(same_bits(y, expected.output));
    CHECK(same_bits(lstm.states().c, expected.c));
  }

  SECTION("another batch size needs reset_states") {
    const auto first = lstm.call(x1);
    const auto other = test::random_tensor<T, 3>(d.batch + 2, d.time, d.features);
    CHECK_THROWS_AS(lstm.call(other), strata::shape_error);
    CHECK_THROWS_AS(lstm(other), strata::shape_error);
    const std::string msg = message_of<strata::shape_error>([&] { (void)lstm.call(other); });
    INFO(msg);
    CHECK(contains(msg, "strata::LSTM"));
    CHECK(contains(msg, "batch 3"));
    CHECK(contains(msg, "(5, 4, 5)"));
    CHECK(contains(msg, "reset_states"));
    // The failed call left the stored state alone.
    CHECK(lstm.has_states());
    CHECK(same_bits(lstm.states().h, first.h));
    CHECK(same_bits(lstm.states().c, first.c));
    // After reset_states any batch size works, and then sticks.
    lstm.reset_states();
    const auto r5 = lstm.call(other);
    CHECK(same_bits(r5.output, plain.call(other).output));
    CHECK(lstm.states().h.dimension(0) == d.batch + 2);
    const auto single = test::random_tensor<T, 3>(1, d.time, d.features);
    CHECK_THROWS_AS(lstm.call(single), strata::shape_error);
    lstm.reset_states();
    const auto r1 = lstm.call(single);
    CHECK(same_bits(r1.output, plain.call(single).output));
  }
}

// =============================================================================================
// 2. Weights

TEMPLATE_TEST_CASE("LSTM: get_weights and set_weights use Keras order and round-trip exactly", "[lstm]", float,
                   double) {
  using T = TestType;
  // features == units makes kernel and recurrent kernel the same shape, so a swap would show.
  for (const Dims& d : {Dims{2, 3, 5, 5}, Dims{2, 3, 3, 7}, Dims{1, 1, 1, 1}, Dims{2, 2, 16, 16}}) {
    for (bool use_bias : {true, false}) {
      INFO(describe(d) << ", use_bias " << use_bias);
      const auto p = Params<T>::random(d.features, d.units, use_bias);
      LSTM<T> lstm(d.units, LSTMOptions().use_bias(use_bias));
      CHECK_FALSE(lstm.built());
      lstm.set_weights(p.weights());
      CHECK(lstm.built());
      CHECK(lstm.input_dim() == d.features);
      const auto w = lstm.get_weights();
      REQUIRE(w.size() == (use_bias ? 3u : 2u));
      CHECK(w[0].shape() == Shape{d.features, 4 * d.units});
      CHECK(w[1].shape() == Shape{d.units, 4 * d.units});
      CHECK(w[0].rank() == 2);
      CHECK(w[1].rank() == 2);
      CHECK(same_bits(w[0], p.kernel));
      CHECK(same_bits(w[1], p.recurrent));
      CHECK(same_bits(lstm.kernel(), p.kernel));
      CHECK(same_bits(lstm.recurrent_kernel(), p.recurrent));
      if (use_bias) {
        CHECK(w[2].shape() == Shape{4 * d.units});
        CHECK(w[2].rank() == 1);
        CHECK(same_bits(w[2], p.bias));
        CHECK(same_bits(lstm.bias(), p.bias));
      } else {
        CHECK(lstm.bias().size() == 0);
      }
      const Index expected_params = 4 * d.units * (d.features + d.units) + (use_bias ? 4 * d.units : 0);
      CHECK(lstm.count_params() == expected_params);

      // Another layer loaded from get_weights() computes the same, and set_weights on a built layer
      // replaces the weights.
      LSTM<T> copy(d.units, LSTMOptions().use_bias(use_bias).input_dim(d.features).seed(7));
      const auto x = test::random_tensor<T, 3>(d.batch, d.time, d.features);
      const AnyTensor<T> before = copy(x);
      copy.set_weights(w);
      CHECK(same_bits(copy(x), lstm(x)));
      if (d.units > 1) CHECK_FALSE(same_bits(before, lstm(x)));
      const auto w2 = copy.get_weights();
      REQUIRE(w2.size() == w.size());
      for (std::size_t k = 0; k < w.size(); ++k) {
        CHECK(w2[k].shape() == w[k].shape());
        CHECK(same_bits(w2[k], w[k]));
      }
    }
  }
}

TEMPLATE_TEST_CASE("LSTM: build() draws the Keras initial weights", "[lstm]", float, double) {
  using T = TestType;
  const double orth_tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  for (const auto& [features, units] :
       std::vector<std::pair<Index, Index>>{{1, 1}, {16, 16}, {7, 3}, {3, 12}, {5, 2}}) {
    INFO("features " << features << ", units " << units);
    const Index g = 4 * units;
    LSTM<T> lstm(units, LSTMOptions().input_dim(features).seed(1234));
    REQUIRE(lstm.built());
    CHECK(lstm.input_dim() == features);
    const auto w = lstm.get_weights();
    REQUIRE(w.size() == 3);
    REQUIRE(w[0].shape() == Shape{features, g});
    REQUIRE(w[1].shape() == Shape{units, g});
    REQUIRE(w[2].shape() == Shape{g});

    // Bias: zeros, the forget block [u, 2u) at 1.
    const Tensor<T, 1> bias = w[2];
    for (Index j = 0; j < g; ++j) {
      INFO("bias " << j);
      CHECK(bias(j) == ((j >= units && j < 2 * units) ? T(1) : T(0)));
    }
    LSTM<T> no_forget(units, LSTMOptions().input_dim(features).seed(1234).unit_forget_bias(false));
    CHECK_FALSE(no_forget.unit_forget_bias());
    const Tensor<T, 1> bias0 = no_forget.get_weights()[2];
    for (Index j = 0; j < g; ++j) CHECK(bias0(j) == T(0));

    // Kernel: glorot_uniform, within +-sqrt(6 / (fan_in + fan_out)) and spread over that range.
    const double limit = std::sqrt(6.0 / static_cast<double>(features + g));
    const Tensor<T, 2> kernel = w[0];
    double max_abs = 0;
    bool negative = false, positive = false;
    for (Index i = 0; i < kernel.size(); ++i) {
      const double v = static_cast<double>(kernel.data()[i]);
      max_abs = std::max(max_abs, std::abs(v));
      negative = negative || v < 0;
      positive = positive || v > 0;
    }
    INFO("limit " << limit << ", max |kernel| " << max_abs);
    CHECK(max_abs <= limit * (1 + 1e-6));
    if (kernel.size() >= 64) {
      CHECK(max_abs >= 0.9 * limit);
      CHECK(negative);
      CHECK(positive);
    }

    // Recurrent kernel: orthogonal; (u, 4u) has orthonormal rows, R R^T = I.
    const Tensor<T, 2> r = w[1];
    double worst = 0;
    for (Index a = 0; a < units; ++a) {
      for (Index b = 0; b < units; ++b) {
        double dot = 0;
        for (Index k = 0; k < g; ++k) dot += static_cast<double>(r(a, k)) * static_cast<double>(r(b, k));
        worst = std::max(worst, std::abs(dot - (a == b ? 1.0 : 0.0)));
      }
    }
    INFO("max |R R^T - I| " << worst);
    CHECK(worst <= orth_tol);

    CHECK(lstm.count_params() == 4 * units * (features + units) + 4 * units);
    LSTM<T> no_bias(units, LSTMOptions().input_dim(features).seed(1234).use_bias(false));
    CHECK(no_bias.count_params() == 4 * units * (features + units));
    CHECK(no_bias.get_weights().size() == 2);
    CHECK(no_bias.bias().size() == 0);

    // Deterministic per seed; build() equals input_dim(); another seed gives other weights.
    LSTM<T> same(units, LSTMOptions().seed(1234));
    CHECK_FALSE(same.built());
    same.build(features);
    CHECK(same.built());
    const auto ws = same.get_weights();
    for (std::size_t k = 0; k < 3; ++k) CHECK(same_bits(ws[k], w[k]));
    LSTM<T> other(units, LSTMOptions().input_dim(features).seed(1235));
    const auto wo = other.get_weights();
    CHECK_FALSE(same_bits(wo[0], w[0]));
    CHECK_FALSE(same_bits(wo[1], w[1]));
    // Without a seed, weights are drawn at random.
    LSTM<T> random_a(units, LSTMOptions().input_dim(features));
    LSTM<T> random_b(units, LSTMOptions().input_dim(features));
    CHECK_FALSE(same_bits(random_a.kernel(), random_b.kernel()));
  }
}

// =============================================================================================
// 3. Gate order

TEMPLATE_TEST_CASE("LSTM: gate blocks are ordered i f c o", "[lstm]", float, double) {
  using T = TestType;
  const Index u = 3, features = 2, steps = 4;
  const Index g = 4 * u;

  // The expectation from the equations, with zero kernels (z = bias at every step) and a given
  // assignment of bias blocks to gates: block perm[0] feeds i, perm[1] f, perm[2] g, perm[3] o.
  const auto expected = [&](const std::vector<double>& bias, const std::array<int, 4>& perm) {
    std::vector<double> out(static_cast<std::size_t>(steps * u));
    for (Index j = 0; j < u; ++j) {
      const auto z = [&](int gate) {
        return bias[static_cast<std::size_t>(perm[static_cast<std::size_t>(gate)] * u + j)];
      };
      const double i = sigmoid(z(0)), f = sigmoid(z(1)), gg = std::tanh(z(2)), o = sigmoid(z(3));
      double c = 0;
      for (Index s = 0; s < steps; ++s) {
        c = f * c + i * gg;
        out[static_cast<std::size_t>(s * u + j)] = o * std::tanh(c);
      }
    }
    return out;
  };
  const auto run = [&](const std::vector<double>& bias) {
    Params<T> p;
    p.features = features;
    p.units = u;
    p.kernel.assign(static_cast<std::size_t>(features * g), T(0));
    p.recurrent.assign(static_cast<std::size_t>(u * g), T(0));
    for (double v : bias) p.bias.push_back(static_cast<T>(v));
    LSTM<T> lstm(u, LSTMOptions().return_sequences(true));
    lstm.set_weights(p.weights());
    const Tensor<T, 3> y = lstm(test::random_tensor<T, 3>(1, steps, features));
    return std::vector<double>(y.data(), y.data() + y.size());
  };
  const auto max_diff = [](const std::vector<double>& a, const std::vector<double>& b) {
    double m = 0;
    for (std::size_t k = 0; k < a.size(); ++k) m = std::max(m, std::abs(a[k] - b[k]));
    return m;
  };
  const std::array<int, 4> identity{0, 1, 2, 3};

  SECTION("i open, f closed, g and o saturated") {
    const double big = 12;
    std::vector<double> bias;
    for (double v : {big, -big, big, big}) bias.insert(bias.end(), static_cast<std::size_t>(u), v);
    const auto y = run(bias);
    const auto e = expected(bias, identity);
    // By hand: i ~ 1, f ~ 0, g ~ 1, o ~ 1, so c ~ 1 and h ~ tanh(1) at every step.
    for (std::size_t k = 0; k < y.size(); ++k) {
      INFO("element " << k << ": " << y[k] << " vs " << e[k]);
      CHECK(std::abs(y[k] - e[k]) <= 4 * test::tolerance<T>());
      CHECK(std::abs(y[k] - std::tanh(1.0)) <= 1e-4);
    }
  }

  SECTION("distinct bias per block and unit") {
    std::vector<double> bias;
    for (Index j = 0; j < u; ++j) bias.push_back(0.5 + 0.1 * static_cast<double>(j));    // i
    for (Index j = 0; j < u; ++j) bias.push_back(-1.0 + 0.3 * static_cast<double>(j));   // f
    for (Index j = 0; j < u; ++j) bias.push_back(1.5 - 0.4 * static_cast<double>(j));    // g
    for (Index j = 0; j < u; ++j) bias.push_back(-0.4 + 0.45 * static_cast<double>(j));  // o
    const auto y = run(bias);
    CHECK(max_diff(y, expected(bias, identity)) <= 4 * test::tolerance<T>());
    // Every other block order predicts something clearly different, so the order is pinned down.
    std::array<int, 4> perm = identity;
    while (std::next_permutation(perm.begin(), perm.end())) {
      INFO("order " << perm[0] << perm[1] << perm[2] << perm[3]);
      CHECK(max_diff(y, expected(bias, perm)) > 1e-3);
    }
  }
}

// =============================================================================================
// 4. Shapes and input kinds

TEMPLATE_TEST_CASE("LSTM: output shapes and AnyTensor conversion and input kinds", "[lstm]", float, double) {
  using T = TestType;
  const Dims d{3, 5, 4, 6};
  const auto p = Params<T>::random(d.features, d.units, true);
  auto x = test::random_tensor<T, 3>(d.batch, d.time, d.features);

  LSTM<T> seq(d.units, LSTMOptions().return_sequences(true));
  LSTM<T> last(d.units);
  seq.set_weights(p.weights());
  last.set_weights(p.weights());

  CHECK(seq.compute_output_shape(Shape{d.batch, d.time, d.features}) == Shape{d.batch, d.time, d.units});
  CHECK(last.compute_output_shape(Shape{d.batch, d.time, d.features}) == Shape{d.batch, d.units});

  const AnyTensor<T> ys = seq(x);
  CHECK(ys.rank() == 3);
  CHECK(ys.shape() == Shape{d.batch, d.time, d.units});
  const Tensor<T, 3> y3 = seq(x);
  CHECK(y3.dimension(0) == d.batch);
  CHECK(y3.dimension(1) == d.time);
  CHECK(y3.dimension(2) == d.units);
  CHECK(same_bits(y3, ys));
  CHECK_THROWS_AS(([&] {
                    Tensor<T, 2> wrong = seq(x);
                    (void)wrong;
                  }()),
                  strata::shape_error);
  CHECK_THROWS_AS(ys.template get<2>(), strata::shape_error);

  const AnyTensor<T> yl = last(x);
  CHECK(yl.rank() == 2);
  CHECK(yl.shape() == Shape{d.batch, d.units});
  const Tensor<T, 2> y2 = last(x);
  CHECK(y2.dimension(0) == d.batch);
  CHECK(y2.dimension(1) == d.units);
  CHECK(same_bits(y2, yl));
  CHECK_THROWS_AS(([&] {
                    Tensor<T, 3> wrong = last(x);
                    (void)wrong;
                  }()),
                  strata::shape_error);
  // The last output equals the last step of the sequence.
  for (Index b = 0; b < d.batch; ++b) {
    for (Index j = 0; j < d.units; ++j) CHECK(y2(b, j) == y3(b, d.time - 1, j));
  }

  // ConstTensorMap, TensorMap and AnyTensor inputs give bitwise the same.
  const std::vector<T> storage = vec(x);
  const strata::ConstTensorMap<T, 3> cmap(storage.data(), d.batch, d.time, d.features);
  CHECK(same_bits(seq(cmap), ys));
  CHECK(same_bits(last(cmap), yl));
  CHECK(same_bits(seq.call(cmap).output, ys));
  const strata::TensorMap<T, 3> map(x.data(), d.batch, d.time, d.features);
  CHECK(same_bits(seq(map), ys));
  const AnyTensor<T> any(x);
  CHECK(same_bits(seq(any), ys));
  CHECK(same_bits(last(any), yl));
  CHECK(same_bits(seq.call(any).output, ys));
  const AnyTensor<T> any_from_map(cmap);
  CHECK(same_bits(last(any_from_map), yl));

  // The low-level forward() writes the same into caller memory and checks the buffer size.
  std::vector<T> out(static_cast<std::size_t>(d.batch * d.time * d.units));
  seq.forward(storage.data(), Shape{d.batch, d.time, d.features}, out.data(), static_cast<Index>(out.size()));
  CHECK(same_bits(out, ys));
  CHECK_THROWS_AS(
      seq.forward(storage.data(), Shape{d.batch, d.time, d.features}, out.data(), static_cast<Index>(out.size()) - 1),
      strata::shape_error);
}

TEMPLATE_TEST_CASE("LSTM: batch 0 gives an empty output and time 0 is rejected", "[lstm]", float, double) {
  using T = TestType;
  const Index f = 3, u = 4;
  LSTM<T> seq(u, LSTMOptions().return_sequences(true).input_dim(f).seed(1));
  LSTM<T> last(u, LSTMOptions().input_dim(f).seed(1).return_state(true));

  const Tensor<T, 3> empty_batch(0, 5, f);
  const AnyTensor<T> ys = seq(empty_batch);
  CHECK(ys.shape() == Shape{0, 5, u});
  CHECK(ys.size() == 0);
  const auto r = last.call(empty_batch);
  CHECK(r.output.shape() == Shape{0, u});
  CHECK(r.h.dimension(0) == 0);
  CHECK(r.h.dimension(1) == u);
  CHECK(r.c.dimension(0) == 0);
  CHECK(last(AnyTensor<T>(empty_batch)).shape() == Shape{0, u});
  const auto outs = last.outputs(empty_batch);
  REQUIRE(outs.size() == 3);
  CHECK(outs[1].shape() == Shape{0, u});

  for (Index batch : {Index(0), Index(2)}) {
    INFO("batch " << batch);
    const Tensor<T, 3> no_steps(batch, 0, f);
    CHECK_THROWS_AS(seq(no_steps), strata::shape_error);
    CHECK_THROWS_AS(last.call(no_steps), strata::shape_error);
    CHECK_THROWS_AS(seq(AnyTensor<T>(no_steps)), strata::shape_error);
    const std::string msg = message_of<strata::shape_error>([&] { (void)seq(no_steps); });
    INFO(msg);
    CHECK(contains(msg, "at least one time step"));
    CHECK(contains(msg, "strata::LSTM"));
    CHECK(contains(msg, "(" + std::to_string(batch) + ", 0, 3)"));
  }
}

// =============================================================================================
// 5. Batch invariance

TEMPLATE_TEST_CASE("LSTM: a sample output is bitwise independent of its batch and position", "[lstm]", float, double) {
  using T = TestType;
  for (const Dims& d : {Dims{1, 6, 5, 7}, Dims{1, 4, 16, 16}, Dims{1, 3, 1, 1}, Dims{1, 3, 9, 21}}) {
    for (bool back : {false, true}) {
      INFO(describe(d) << ", go_backwards " << back);
      const auto p = Params<T>::random(d.features, d.units, true);
      LSTM<T> lstm(d.units, LSTMOptions().return_sequences(true).go_backwards(back));
      lstm.set_weights(p.weights());
      const auto sample = test::random_tensor<T, 3>(1, d.time, d.features);
      const auto alone = lstm.call(sample);
      const Tensor<T, 3> alone_y = alone.output;
      for (Index batch : {Index(13), Index(29)}) {
        for (Index pos : {Index(0), Index(3), Index(12)}) {
          INFO("batch " << batch << ", position " << pos);
          auto x = test::random_tensor<T, 3>(batch, d.time, d.features);
          for (Index t = 0; t < d.time; ++t) {
            for (Index f = 0; f < d.features; ++f) x(pos, t, f) = sample(0, t, f);
          }
          const auto r = lstm.call(x);
          const Tensor<T, 3> y = r.output;
          bool same = true;
          for (Index t = 0; t < d.time; ++t) {
            for (Index j = 0; j < d.units; ++j) same = same && y(pos, t, j) == alone_y(0, t, j);
          }
          for (Index j = 0; j < d.units; ++j) {
            same = same && r.h(pos, j) == alone.h(0, j) && r.c(pos, j) == alone.c(0, j);
          }
          CHECK(same);
        }
      }
    }
  }
}

// =============================================================================================
// 6. Errors

TEMPLATE_TEST_CASE("LSTM: input shape errors", "[lstm]", float, double) {
  using T = TestType;
  LSTM<T> lstm(8, LSTMOptions().input_dim(20).seed(3));

  const AnyTensor<T> rank4(Tensor<T, 4>(2, 3, 4, 20));
  CHECK_THROWS_AS(lstm(rank4), strata::shape_error);
  CHECK_THROWS_AS(lstm.call(rank4), strata::shape_error);
  CHECK_THROWS_AS(lstm(rank4), std::invalid_argument);
  std::string msg = message_of<strata::shape_error>([&] { (void)lstm(rank4); });
  INFO(msg);
  CHECK(contains(msg, "strata::LSTM"));
  CHECK(contains(msg, "rank 3"));
  CHECK(contains(msg, "(2, 3, 4, 20)"));

  const AnyTensor<T> rank2(Tensor<T, 2>(32, 20));
  CHECK_THROWS_AS(lstm(rank2), strata::shape_error);
  CHECK(contains(message_of<strata::shape_error>([&] { (void)lstm(rank2); }), "rank 3"));
  CHECK_THROWS_AS(lstm(AnyTensor<T>()), strata::shape_error);

  const Tensor<T, 3> wide(32, 10, 21);
  const std::string exact = "strata::LSTM: input must have rank 3 (batch, time, features=20); got shape (32, 10, 21)";
  CHECK_THROWS_AS(lstm(wide), strata::shape_error);
  CHECK_THROWS_AS(lstm(wide), std::invalid_argument);
  CHECK_THROWS_AS(lstm.call(wide), strata::shape_error);
  CHECK_THROWS_AS(lstm(AnyTensor<T>(wide)), strata::shape_error);
  CHECK_THROWS_AS(lstm.compute_output_shape(Shape{32, 10, 21}), strata::shape_error);
  msg = message_of<strata::shape_error>([&] { (void)lstm(wide); });
  CHECK(contains(msg, exact));
  CHECK(contains(message_of<strata::shape_error>([&] { (void)lstm.call(wide); }), exact));
  CHECK(contains(message_of<strata::shape_error>([&] { (void)lstm(AnyTensor<T>(wide)); }), exact));
}

TEMPLATE_TEST_CASE("LSTM: wrong initial state shapes", "[lstm]", float, double) {
  using T = TestType;
  const Index batch = 3, units = 4;
  LSTM<T> lstm(units, LSTMOptions().input_dim(2).seed(3));
  const auto x = test::random_tensor<T, 3>(batch, 5, 2);
  const Tensor<T, 2> good = test::random_tensor<T, 2>(batch, units);
  const Tensor<T, 2> short_batch = test::random_tensor<T, 2>(batch - 1, units);
  const Tensor<T, 2> wide_units = test::random_tensor<T, 2>(batch, units + 1);

  CHECK_THROWS_AS(lstm.call(x, LSTMState<T>{short_batch, good}), strata::shape_error);
  CHECK_THROWS_AS(lstm.call(x, LSTMState<T>{good, wide_units}), strata::shape_error);
  CHECK_THROWS_AS(lstm(x, LSTMState<T>{short_batch, good}), strata::shape_error);
  CHECK_THROWS_AS(lstm.call(AnyTensor<T>(x), LSTMState<T>{good, short_batch}), strata::shape_error);
  CHECK_THROWS_AS(lstm.outputs(x, LSTMState<T>{good, wide_units}), strata::shape_error);
  CHECK_THROWS_AS(lstm.call(x, LSTMState<T>{}), strata::shape_error);
  CHECK_THROWS_AS(lstm.call(x, LSTMState<T>{good, short_batch}), std::invalid_argument);

  const std::string h_msg = message_of<strata::shape_error>([&] {
    (void)lstm.call(x, LSTMState<T>{short_batch, good});
  });
  INFO(h_msg);
  CHECK(contains(h_msg, "strata::LSTM"));
  CHECK(contains(h_msg, "initial state"));
  CHECK(contains(h_msg, "(batch=3, units=4)"));
  CHECK(contains(h_msg, "(2, 4)"));
  const std::string c_msg = message_of<strata::shape_error>([&] {
    (void)lstm.call(x, LSTMState<T>{good, wide_units});
  });
  INFO(c_msg);
  CHECK(contains(c_msg, "initial state"));
  CHECK(contains(c_msg, "(batch=3, units=4)"));
  CHECK(contains(c_msg, "(3, 5)"));
  CHECK(c_msg != h_msg);

  // A stateful layer keeps its stored state when the given one is rejected.
  LSTM<T> stateful(units, LSTMOptions().input_dim(2).seed(3).stateful(true));
  const auto r = stateful.call(x);
  CHECK_THROWS_AS(stateful.call(x, LSTMState<T>{short_batch, good}), strata::shape_error);
  CHECK(same_bits(stateful.states().h, r.h));
  CHECK(same_bits(stateful.states().c, r.c));
}

TEMPLATE_TEST_CASE("LSTM: set_weights errors name the weight and the expected shape", "[lstm]", float, double) {
  using T = TestType;
  const Index f = 4, u = 3, g = 12;
  const auto p = Params<T>::random(f, u, true);
  LSTM<T> lstm(u, LSTMOptions().input_dim(f).seed(5));
  const auto original = lstm.get_weights();
  const auto attempt = [&](strata::Weights<T> w) {
    return message_of<strata::shape_error>([&] { lstm.set_weights(w); });
  };
  const Tensor<T, 2> kernel = tensor2(p.kernel, f, g);
  const Tensor<T, 2> recurrent = tensor2(p.recurrent, u, g);
  const Tensor<T, 1> bias = tensor1(p.bias);

  std::string msg = attempt({kernel, recurrent});
  INFO(msg);
  CHECK(contains(msg, "strata::LSTM"));
  CHECK(contains(msg, "set_weights expects 3 arrays [kernel, recurrent_kernel, bias]; got 2"));
  CHECK(contains(attempt({kernel, recurrent, bias, bias}), "got 4"));
  CHECK(contains(attempt({}), "got 0"));

  msg = attempt({Tensor<T, 2>(f, g - 1), recurrent, bias});
  CHECK(contains(msg, "weight 0 (kernel) must have shape (4, 12); got (4, 11)"));
  msg = attempt({Tensor<T, 2>(f + 1, g), recurrent, bias});
  CHECK(contains(msg, "weight 0 (kernel) must have shape (4, 12); got (5, 12)"));
  msg = attempt({kernel, Tensor<T, 2>(g, u), bias});
  CHECK(contains(msg, "weight 1 (recurrent_kernel) must have shape (3, 12); got (12, 3)"));
  msg = attempt({kernel, Tensor<T, 1>(u * g), bias});
  CHECK(contains(msg, "weight 1 (recurrent_kernel) must have shape (3, 12); got (36,)"));
  msg = attempt({kernel, recurrent, Tensor<T, 1>(g - 1)});
  CHECK(contains(msg, "weight 2 (bias) must have shape (12,); got (11,)"));
  msg = attempt({kernel, recurrent, Tensor<T, 2>(1, g)});
  CHECK(contains(msg, "weight 2 (bias) must have shape (12,); got (1, 12)"));
  msg = attempt({kernel, recurrent, AnyTensor<T>()});
  CHECK(contains(msg, "weight 2 (bias)"));
  CHECK(contains(msg, "an empty tensor"));
  CHECK_THROWS_AS(lstm.set_weights({kernel, recurrent, Tensor<T, 1>(g + 1)}), std::invalid_argument);

  // Failed calls changed nothing.
  const auto now = lstm.get_weights();
  REQUIRE(now.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) CHECK(same_bits(now[k], original[k]));

  // Without bias: two arrays.
  LSTM<T> no_bias(u, LSTMOptions().use_bias(false).input_dim(f).seed(5));
  msg = message_of<strata::shape_error>([&] { no_bias.set_weights({kernel, recurrent, bias}); });
  CHECK(contains(msg, "set_weights expects 2 arrays [kernel, recurrent_kernel]; got 3"));

  // An unbuilt layer takes the feature size from the kernel, which must be (features, 4u).
  LSTM<T> unbuilt(u);
  msg = message_of<strata::shape_error>([&] { unbuilt.set_weights({Tensor<T, 1>(g), recurrent, bias}); });
  CHECK(contains(msg, "weight 0 (kernel) must have shape (features, 12)"));
  CHECK(contains(msg, "got (12,)"));
  msg = message_of<strata::shape_error>([&] { unbuilt.set_weights({Tensor<T, 2>(g, f), recurrent, bias}); });
  CHECK(contains(msg, "weight 0 (kernel) must have shape (12, 12); got (12, 4)"));
  msg = message_of<strata::shape_error>([&] { unbuilt.set_weights({kernel, Tensor<T, 2>(u, g + 4), bias}); });
  CHECK(contains(msg, "weight 1 (recurrent_kernel) must have shape (3, 12); got (3, 16)"));
  CHECK_FALSE(unbuilt.built());
}

TEMPLATE_TEST_CASE("LSTM: option errors and unbuilt layers", "[lstm]", float, double) {
  using T = TestType;
  CHECK_THROWS_AS(LSTM<T>(0), strata::value_error);
  CHECK_THROWS_AS(LSTM<T>(-2), strata::value_error);
  CHECK_THROWS_AS(LSTM<T>(0), std::invalid_argument);
  CHECK(contains(message_of<strata::value_error>([] { LSTM<T> l(0); }), "units must be at least 1; got 0"));

  CHECK_THROWS_AS(LSTM<T>(4, LSTMOptions().activation("tanhh")), strata::value_error);
  CHECK_THROWS_AS(LSTM<T>(4, LSTMOptions().recurrent_activation("nope")), strata::value_error);
  const std::string unknown = message_of<strata::value_error>([] { LSTM<T> l(4, LSTMOptions().activation("tanhh")); });
  INFO(unknown);
  CHECK(contains(unknown, "strata::LSTM"));
  CHECK(contains(unknown, "unknown activation 'tanhh'"));

  CHECK_THROWS_AS(LSTM<T>(4, LSTMOptions().activation("softmax")), strata::value_error);
  CHECK_THROWS_AS(LSTM<T>(4, LSTMOptions().activation("log_softmax")), strata::value_error);
  CHECK_THROWS_AS(LSTM<T>(4, LSTMOptions().recurrent_activation("softmax")), strata::value_error);
  CHECK_THROWS_AS(LSTM<T>(4, LSTMOptions().activation(strata::Activation::softmax)), strata::value_error);
  CHECK_THROWS_AS(LSTM<T>(4, LSTMOptions().activation("softmax")), std::invalid_argument);
  const std::string softmax =
      message_of<strata::value_error>([] { LSTM<T> l(4, LSTMOptions().activation("softmax")); });
  CHECK(contains(softmax, "activation 'softmax' is not supported"));
  const std::string rsoftmax =
      message_of<strata::value_error>([] { LSTM<T> l(4, LSTMOptions().recurrent_activation("softmax")); });
  CHECK(contains(rsoftmax, "recurrent_activation 'softmax' is not supported"));

  CHECK_THROWS_AS(LSTM<T>(4, LSTMOptions().input_dim(-1)), strata::value_error);

  LSTM<T> unbuilt(4);
  const auto x = test::random_tensor<T, 3>(2, 3, 5);
  CHECK_THROWS_AS(unbuilt(x), strata::value_error);
  CHECK_THROWS_AS(unbuilt.call(x), strata::value_error);
  CHECK_THROWS_AS(unbuilt(AnyTensor<T>(x)), strata::value_error);
  CHECK_THROWS_AS(unbuilt.outputs(x), strata::value_error);
  CHECK_THROWS_AS(unbuilt.get_weights(), strata::value_error);
  CHECK_THROWS_AS(unbuilt.kernel(), strata::value_error);
  CHECK_THROWS_AS(unbuilt.compute_output_shape(Shape{2, 3, 5}), strata::value_error);
  CHECK_THROWS_AS(unbuilt(x), std::invalid_argument);
  CHECK_THROWS_AS(unbuilt.build(0), strata::value_error);
  const std::string msg = message_of<strata::value_error>([&] { (void)unbuilt(x); });
  INFO(msg);
  CHECK(contains(msg, "strata::LSTM"));
  CHECK(contains(msg, "needs weights"));
  // Building makes the same call work.
  unbuilt.build(5);
  CHECK(unbuilt(x).shape() == Shape{2, 4});
}

TEMPLATE_TEST_CASE("LSTM: the layer name appears in messages", "[lstm]", float, double) {
  using T = TestType;
  LSTM<T> lstm(8, LSTMOptions().name("enc").input_dim(20).seed(1));
  CHECK(lstm.name() == "enc");
  CHECK(lstm.describe() == "strata::LSTM 'enc'");
  const Tensor<T, 3> wide(32, 10, 21);
  CHECK(contains(message_of<strata::shape_error>([&] { (void)lstm(wide); }),
                 "strata::LSTM 'enc': input must have rank 3 (batch, time, features=20); got shape (32, 10, 21)"));
  const auto x = test::random_tensor<T, 3>(2, 3, 20);
  CHECK(contains(message_of<strata::shape_error>([&] {
                   (void)lstm.call(x, LSTMState<T>{Tensor<T, 2>(1, 8), Tensor<T, 2>(2, 8)});
                 }),
                 "strata::LSTM 'enc': initial state"));
  CHECK(contains(message_of<strata::shape_error>([&] { lstm.set_weights({Tensor<T, 2>(20, 32)}); }),
                 "strata::LSTM 'enc': set_weights"));
  CHECK(contains(message_of<strata::value_error>([] { LSTM<T> l(4, LSTMOptions().name("enc").activation("bad")); }),
                 "strata::LSTM 'enc'"));
  CHECK(
      contains(message_of<strata::value_error>([] { LSTM<T> l(0, LSTMOptions().name("enc")); }), "strata::LSTM 'enc'"));
  LSTM<T> unbuilt(4, LSTMOptions().name("enc"));
  CHECK(contains(message_of<strata::value_error>([&] { (void)unbuilt(x); }), "strata::LSTM 'enc'"));
  LSTM<T> stateful(4, LSTMOptions().name("enc").stateful(true).input_dim(20).seed(1));
  (void)stateful(x);
  CHECK(contains(message_of<strata::shape_error>([&] { (void)stateful(test::random_tensor<T, 3>(3, 3, 20)); }),
                 "strata::LSTM 'enc'"));
}
