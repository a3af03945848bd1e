// SPDX-License-Identifier: MIT
// Activations by name: the accepted names, each formula against naive:: (an independent scalar
// reference), the numerically stable forms at extreme inputs, softmax's per-row behaviour, the
// error for unknown names, and batch invariance of the chunked element-wise evaluation.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/naive.hpp"
#include "support/util.hpp"

namespace {

using strata::Activation;
using strata::Index;

// Written from the Keras documentation (keras-semantics.md, section 3), not from strata's table.
const std::vector<std::string>& expected_canonical_names() {
  static const std::vector<std::string> names = {"linear",
                                                 "relu",
                                                 "relu6",
                                                 "leaky_relu",
                                                 "elu",
                                                 "selu",
                                                 "gelu",
                                                 "gelu_approximate",
                                                 "sigmoid",
                                                 "hard_sigmoid",
                                                 "hard_sigmoid_keras2",
                                                 "tanh",
                                                 "softmax",
                                                 "log_softmax",
                                                 "softplus",
                                                 "softsign",
                                                 "silu",
                                                 "mish",
                                                 "exponential",
                                                 "hard_silu",
                                                 "celu",
                                                 "hard_shrink",
                                                 "hard_tanh",
                                                 "log_sigmoid",
                                                 "soft_shrink",
                                                 "sparse_plus",
                                                 "sparse_sigmoid",
                                                 "squareplus",
                                                 "tanh_shrink",
                                                 "sparsemax"};
  return names;
}

const std::vector<std::string>& expected_alias_names() {
  static const std::vector<std::string> names = {"swish", "hard_swish", "gelu_new"};
  return names;
}

// Every enumerator, listed by hand so that a missing table entry shows up.
const std::vector<Activation>& all_activations() {
  static const std::vector<Activation> all = {Activation::linear,
                                              Activation::relu,
                                              Activation::relu6,
                                              Activation::leaky_relu,
                                              Activation::elu,
                                              Activation::selu,
                                              Activation::gelu,
                                              Activation::gelu_approximate,
                                              Activation::sigmoid,
                                              Activation::hard_sigmoid,
                                              Activation::hard_sigmoid_keras2,
                                              Activation::tanh,
                                              Activation::softmax,
                                              Activation::log_softmax,
                                              Activation::softplus,
                                              Activation::softsign,
                                              Activation::silu,
                                              Activation::mish,
                                              Activation::exponential,
                                              Activation::hard_silu,
                                              Activation::celu,
                                              Activation::hard_shrink,
                                              Activation::hard_tanh,
                                              Activation::log_sigmoid,
                                              Activation::soft_shrink,
                                              Activation::sparse_plus,
                                              Activation::sparse_sigmoid,
                                              Activation::squareplus,
                                              Activation::tanh_shrink,
                                              Activation::sparsemax};
  return all;
}

// Every name strata accepts, read from its table.
std::vector<std::string> accepted_names() {
  std::vector<std::string> names;
  for (const auto& entry : strata::detail::activation_names) names.emplace_back(entry.name);
  return names;
}

// The formula naive:: computes a name with (naive knows swish and hard_swish itself).
std::string formula_name(const std::string& name) { return name == "gelu_new" ? "gelu_approximate" : name; }

bool is_row_wise(const std::string& name) { return name == "softmax" || name == "log_softmax" || name == "sparsemax"; }

Activation lookup(const std::string& name) {
  const std::optional<Activation> a = strata::find_activation(name);
  REQUIRE(a.has_value());
  return *a;
}

bool close(double a, double b, double tol) {
  if (std::isnan(a) || std::isnan(b)) return false;
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= tol * (1.0 + std::abs(b));
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// strata's activation of values (a rows x cols block).
template <class T>
std::vector<T> strata_apply(const std::string& name, std::vector<T> values, Index rows, Index cols) {
  strata::apply_activation(lookup(name), values.data(), rows, cols);
  return values;
}

template <class T>
T strata_apply1(const std::string& name, T x) {
  return strata_apply(name, std::vector<T>{x}, 1, 1)[0];
}

// Inputs for element-wise checks: zero, tiny, moderate and large magnitudes, plus random values.
template <class T>
std::vector<T> spread() {
  std::vector<T> v = {T(0),   -T(0),   T(1),    T(-1),    T(0.5),   T(-0.5),   T(2),     T(-2),
                      T(2.5), T(-2.5), T(3),    T(-3),    T(5.75),  T(-5.75),  T(6),     T(-6),
                      T(8.5), T(-8.5), T(10),   T(-10),   T(17.25), T(-17.25), T(30),    T(-30),
                      T(80),  T(-80),  T(1e-3), T(-1e-3), T(1e-7),  T(-1e-7),  T(1e-20), T(-1e-20)};
  v.push_back(std::numeric_limits<T>::min());
  v.push_back(-std::numeric_limits<T>::min());
  if (sizeof(T) == 8) {
    for (double x : {700.0, -700.0, 350.5, -350.5, 1e-300, -1e-300}) v.push_back(static_cast<T>(x));
  }
  std::vector<T> random(64);
  test::fill_uniform(random.data(), static_cast<Index>(random.size()), T(-12), T(12));
  v.insert(v.end(), random.begin(), random.end());
  return v;
}

}  // namespace

TEST_CASE("activations: the accepted names are exactly Keras' names and aliases", "[activations]") {
  const std::vector<std::string> names = accepted_names();
  std::vector<std::string> expected = expected_canonical_names();
  expected.insert(expected.end(), expected_alias_names().begin(), expected_alias_names().end());

  CHECK(names.size() == expected.size());
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());  // no duplicates
  CHECK(std::set<std::string>(names.begin(), names.end()) == std::set<std::string>(expected.begin(), expected.end()));
  for (const std::string& name : expected) {
    INFO(name);
    CHECK(strata::find_activation(name).has_value());
    CHECK(strata::activation_names_list().find(name) != std::string::npos);
  }
  // Canonical names come first in the table, so activation_name() can never return an alias.
  for (std::size_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    const bool alias = std::find(expected_alias_names().begin(), expected_alias_names().end(), names[i]) !=
                       expected_alias_names().end();
    CHECK(alias == (i >= expected_canonical_names().size()));
  }
  // Only softmax, log_softmax and sparsemax mix the values of a row.
  for (const Activation a : all_activations()) {
    const std::string name(strata::activation_name(a));
    INFO(name);
    CHECK(strata::is_elementwise(a) == !is_row_wise(name));
  }
  CHECK_FALSE(strata::find_activation("relux").has_value());
  CHECK_FALSE(strata::find_activation("").has_value());
  CHECK_FALSE(strata::find_activation("ReLU").has_value());
  CHECK_FALSE(strata::find_activation("relu ").has_value());
}

TEST_CASE("activations: activation_name round-trips and aliases resolve to their canonical activation",
          "[activations]") {
  std::set<std::string> seen;
  for (const Activation a : all_activations()) {
    const std::string name(strata::activation_name(a));
    INFO(name);
    CHECK(name != "unknown");
    CHECK(seen.insert(name).second);  // one distinct name per activation
    CHECK(std::find(expected_canonical_names().begin(), expected_canonical_names().end(), name) !=
          expected_canonical_names().end());
    const std::optional<Activation> back = strata::find_activation(name);
    REQUIRE(back.has_value());
    CHECK(*back == a);
    CHECK(strata::parse_activation(name, "test") == a);
  }
  CHECK(seen.size() == expected_canonical_names().size());

  CHECK(strata::activation_name(Activation::hard_sigmoid) == "hard_sigmoid");
  CHECK(strata::activation_name(Activation::hard_sigmoid_keras2) == "hard_sigmoid_keras2");
  CHECK(strata::find_activation("swish") == Activation::silu);
  CHECK(strata::find_activation("hard_swish") == Activation::hard_silu);
  CHECK(strata::find_activation("gelu_new") == Activation::gelu_approximate);
  CHECK(strata::find_activation("gelu") == Activation::gelu);
  CHECK(strata::find_activation("hard_sigmoid") == Activation::hard_sigmoid);
  CHECK(strata::activation_name(*strata::find_activation("swish")) == "silu");
  CHECK(strata::activation_name(*strata::find_activation("hard_swish")) == "hard_silu");
  CHECK(strata::activation_name(*strata::find_activation("gelu_new")) == "gelu_approximate");
  CHECK(strata::parse_activation("swish", "test") == Activation::silu);
}

TEST_CASE("activations: parse_activation of an unknown name throws value_error naming the layer", "[activations]") {
  CHECK_THROWS_AS(strata::parse_activation("relux", "strata::Dense 'head'"), strata::value_error);
  CHECK_THROWS_AS(strata::parse_activation("relux", "strata::Dense 'head'"), std::invalid_argument);
  CHECK_THROWS_AS(strata::parse_activation("", "strata::LSTM"), strata::value_error);
  try {
    (void)strata::parse_activation("relux", "strata::Dense 'head'");
    FAIL("parse_activation accepted 'relux'");
  } catch (const strata::value_error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("strata::Dense 'head'") != std::string::npos);
    CHECK(msg.find("relux") != std::string::npos);
    CHECK(msg.find("expected one of") != std::string::npos);
    for (const std::string& name : expected_canonical_names()) {
      INFO(name);
      CHECK(msg.find(name) != std::string::npos);
    }
  }
}

TEMPLATE_TEST_CASE("activations: every element-wise name matches the naive formula", "[activations]", float, double) {
  using T = TestType;
  const double tol = test::tolerance<T>();
  const std::vector<T> xs = spread<T>();
  int checked = 0;
  for (const std::string& name : accepted_names()) {
    if (is_row_wise(name)) continue;
    ++checked;
    // The whole spread at once (full and partial chunks), then each value on its own.
    const std::vector<T> got = strata_apply(name, xs, 1, static_cast<Index>(xs.size()));
    std::vector<T> want = xs;
    naive::activate_rows(formula_name(name), want, 1, want.size());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      INFO(name << "(" << xs[i] << "): strata " << got[i] << ", naive " << want[i]);
      CHECK(std::isfinite(got[i]));
      CHECK(close(got[i], want[i], tol));
      CHECK(close(got[i], naive::activate(formula_name(name), xs[i]), tol));
    }
    // As a 2-D block too: element-wise activations ignore the row structure.
    const std::vector<T> block = strata_apply(name, std::vector<T>(xs.begin(), xs.begin() + 30), 5, 6);
    for (std::size_t i = 0; i < block.size(); ++i) {
      INFO(name << "(" << xs[i] << ") in a 5x6 block");
      CHECK(same_bits(block[i], got[i]));
    }
  }
  CHECK(checked == 30);
}

TEMPLATE_TEST_CASE("activations: softmax and log_softmax match the naive formula row by row", "[activations]", float,
                   double) {
  using T = TestType;
  const double tol = test::tolerance<T>();
  const T big = sizeof(T) == 4 ? T(80) : T(700);
  for (const std::string name : {"softmax", "log_softmax"}) {
    for (const Index cols : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 37}) {
      const Index rows = 6;
      std::vector<T> x(static_cast<std::size_t>(rows * cols));
      test::fill_uniform(x.data(), rows * cols, T(-5), T(5));
      // Row 1: large logits; row 2: large negative ones; row 3: a wide spread; row 4: all equal.
      for (Index j = 0; j < cols; ++j) {
        x[static_cast<std::size_t>(1 * cols + j)] += T(1000);
        x[static_cast<std::size_t>(2 * cols + j)] -= T(1000);
        x[static_cast<std::size_t>(3 * cols + j)] = j % 2 == 0 ? big : -big;
        x[static_cast<std::size_t>(4 * cols + j)] = T(0.25);
      }
      const std::vector<T> got = strata_apply(name, x, rows, cols);
      std::vector<T> want = x;
      naive::activate_rows(name, want, static_cast<std::size_t>(rows), static_cast<std::size_t>(cols));
      for (std::size_t i = 0; i < got.size(); ++i) {
        INFO(name << " cols=" << cols << " element " << i << ": strata " << got[i] << ", naive " << want[i]);
        CHECK(std::isfinite(got[i]));
        CHECK(close(got[i], want[i], tol));
      }
    }
  }
}

TEMPLATE_TEST_CASE("activations: stable forms stay finite and correct at extreme inputs", "[activations]", float,
                   double) {
  using T = TestType;
  const double tol = test::tolerance<T>();

  // softplus never overflows: max(x, 0) + log1p(exp(-|x|)).
  const T sp_big = strata_apply1("softplus", T(1000));
  CHECK(std::isfinite(sp_big));
  CHECK(sp_big == T(1000));
  const T sp_small = strata_apply1("softplus", T(-1000));
  CHECK_FALSE(std::isnan(sp_small));
  CHECK(sp_small >= T(0));
  CHECK(sp_small <= T(1e-30));
  CHECK(strata_apply1("softplus", T(30)) == Approx(30.0).epsilon(tol));
  CHECK(strata_apply1("softplus", T(0)) == Approx(std::log(2.0)).epsilon(tol));

  // sigmoid saturates to 0 and 1 without NaN.
  const T s_hi = strata_apply1("sigmoid", T(100));
  const T s_lo = strata_apply1("sigmoid", T(-100));
  CHECK(s_hi == T(1));
  CHECK_FALSE(std::isnan(s_lo));
  CHECK(s_lo >= T(0));
  CHECK(s_lo <= T(1e-30));
  CHECK(strata_apply1("sigmoid", T(0)) == T(0.5));

  // softmax and log_softmax of large logits: shift by the max first.
  const double e = std::exp(1.0);
  const std::vector<T> sm = strata_apply("softmax", std::vector<T>{T(1000), T(1001)}, 1, 2);
  CHECK(std::isfinite(sm[0]));
  CHECK(std::isfinite(sm[1]));
  CHECK(close(sm[0], 1.0 / (1.0 + e), tol));
  CHECK(close(sm[1], e / (1.0 + e), tol));
  const std::vector<T> lsm = strata_apply("log_softmax", std::vector<T>{T(1000), T(1001)}, 1, 2);
  CHECK(std::isfinite(lsm[0]));
  CHECK(std::isfinite(lsm[1]));
  CHECK(close(lsm[0], -std::log1p(e), tol));
  CHECK(close(lsm[1], -std::log1p(1.0 / e), tol));
  const std::vector<T> sm_neg = strata_apply("softmax", std::vector<T>{T(-1000), T(-1001)}, 1, 2);
  CHECK(close(sm_neg[0], e / (1.0 + e), tol));
  CHECK(close(sm_neg[1], 1.0 / (1.0 + e), tol));

  // Every element-wise activation except exponential stays finite (no inf, no NaN) at +-1000.
  for (const std::string& name : accepted_names()) {
    if (is_row_wise(name)) continue;
    for (const T x : {T(1000), T(-1000)}) {
      if (name == "exponential" && x > 0) continue;
      const T y = strata_apply1(name, x);
      INFO(name << "(" << x << ") = " << y);
      CHECK(std::isfinite(y));
    }
  }
  CHECK(strata_apply1("tanh", T(1000)) == T(1));
  CHECK(strata_apply1("tanh", T(-1000)) == T(-1));
  CHECK(strata_apply1("mish", T(1000)) == T(1000));
  CHECK(strata_apply1("silu", T(1000)) == T(1000));
  CHECK(std::abs(strata_apply1("silu", T(-1000))) <= T(1e-30));
  CHECK(strata_apply1("elu", T(-1000)) == T(-1));
  CHECK(close(strata_apply1("selu", T(-1000)), -1.0507009873554805 * 1.6732632423543772, tol));
  CHECK(strata_apply1("gelu", T(1000)) == T(1000));
  CHECK(std::abs(strata_apply1("gelu", T(-1000))) <= T(1e-30));
  const T exp_inf = strata_apply1("exponential", T(1000));
  CHECK(std::isinf(exp_inf));
  CHECK(exp_inf > 0);
  CHECK(strata_apply1("exponential", T(-1000)) <= T(1e-30));
}

TEMPLATE_TEST_CASE("activations: hard_sigmoid is Keras 3's x/6 form, hard_sigmoid_keras2 the 0.2x form",
                   "[activations]", float, double) {
  using T = TestType;
  const double tol = test::tolerance<T>();
  CHECK(close(strata_apply1("hard_sigmoid", T(1)), 2.0 / 3.0, tol));
  CHECK(strata_apply1("hard_sigmoid", T(3)) == T(1));
  CHECK(strata_apply1("hard_sigmoid", T(-3)) == T(0));
  CHECK(strata_apply1("hard_sigmoid", T(0)) == T(0.5));
  CHECK(strata_apply1("hard_sigmoid", T(2.5)) < T(1));  // would be 1 with the Keras 2 slope
  CHECK(close(strata_apply1("hard_sigmoid", T(-1.5)), 0.25, tol));
  CHECK(strata_apply1("hard_sigmoid", T(100)) == T(1));
  CHECK(strata_apply1("hard_sigmoid", T(-100)) == T(0));

  CHECK(close(strata_apply1("hard_sigmoid_keras2", T(1)), 0.7, tol));
  CHECK(strata_apply1("hard_sigmoid_keras2", T(2.5)) == T(1));
  CHECK(strata_apply1("hard_sigmoid_keras2", T(3)) == T(1));
  CHECK(strata_apply1("hard_sigmoid_keras2", T(-2.5)) == T(0));
  CHECK(strata_apply1("hard_sigmoid_keras2", T(0)) == T(0.5));
  CHECK(close(strata_apply1("hard_sigmoid_keras2", T(-1)), 0.3, tol));
}

TEMPLATE_TEST_CASE("activations: leaky_relu uses the default slope 0.2", "[activations]", float, double) {
  using T = TestType;
  const double tol = test::tolerance<T>();
  CHECK(close(strata_apply1("leaky_relu", T(-1)), -0.2, tol));
  CHECK(close(strata_apply1("leaky_relu", T(-10)), -2.0, tol));
  CHECK(close(strata_apply1("leaky_relu", T(-0.5)), -0.1, tol));
  CHECK(strata_apply1("leaky_relu", T(5)) == T(5));
  CHECK(strata_apply1("leaky_relu", T(0)) == T(0));
  CHECK(strata_apply1("relu", T(-1)) == T(0));
  CHECK(strata_apply1("relu6", T(7)) == T(6));
}

TEMPLATE_TEST_CASE("activations: gelu is the exact erf form and gelu_approximate the tanh form", "[activations]", float,
                   double) {
  using T = TestType;
  const double tol = test::tolerance<T>();
  // Reference values from 0.5 x (1 + erf(x / sqrt 2)) and 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  struct Point {
    double x, exact, approximate;
  };
  const Point points[] = {{1.0, 0.8413447460685429, 0.8411919906082768},
                          {-1.0, -0.15865525393145707, -0.15880800939172324},
                          {2.0, 1.9544997361036416, 1.954597694087775},
                          {-0.5, -0.15426876936299344, -0.15428599017485606}};
  for (const Point& p : points) {
    INFO("x = " << p.x);
    const T exact = strata_apply1("gelu", static_cast<T>(p.x));
    const T approx = strata_apply1("gelu_approximate", static_cast<T>(p.x));
    CHECK(close(exact, p.exact, tol));
    CHECK(close(approx, p.approximate, tol));
    CHECK(std::abs(static_cast<double>(exact) - static_cast<double>(approx)) > 1e-5);  // really two formulas
    CHECK(same_bits(strata_apply1("gelu_new", static_cast<T>(p.x)), approx));
  }
}

TEMPLATE_TEST_CASE("activations: softmax and log_softmax act on each row independently", "[activations]", float,
                   double) {
  using T = TestType;
  const double tol = test::tolerance<T>();
  const Index rows = 5, cols = 11;
  std::vector<T> x(static_cast<std::size_t>(rows * cols));
  test::fill_uniform(x.data(), rows * cols, T(-4), T(4));
  for (Index j = 0; j < cols; ++j) x[static_cast<std::size_t>(2 * cols + j)] *= T(50);  // a row on another scale

  const std::vector<T> sm = strata_apply("softmax", x, rows, cols);
  const std::vector<T> lsm = strata_apply("log_softmax", x, rows, cols);
  const std::vector<T> whole = strata_apply("softmax", x, 1, rows * cols);  // one long row: a different answer
  double whole_sum = 0, worst_whole_row = 0;
  for (Index r = 0; r < rows; ++r) {
    INFO("row " << r);
    double sum = 0, exp_sum = 0, row_whole_sum = 0;
    for (Index j = 0; j < cols; ++j) {
      const std::size_t i = static_cast<std::size_t>(r * cols + j);
      CHECK(sm[i] >= T(0));
      CHECK(sm[i] <= T(1));
      sum += sm[i];
      exp_sum += std::exp(static_cast<double>(lsm[i]));
      row_whole_sum += whole[i];
    }
    CHECK(std::abs(sum - 1.0) <= 10 * tol);
    CHECK(std::abs(exp_sum - 1.0) <= 10 * tol);
    whole_sum += row_whole_sum;
    worst_whole_row = std::max(worst_whole_row, std::abs(row_whole_sum - 1.0));
    // The row alone gives the same bits as inside the block.
    const std::vector<T> row(x.begin() + r * cols, x.begin() + (r + 1) * cols);
    const std::vector<T> sm_alone = strata_apply("softmax", row, 1, cols);
    const std::vector<T> lsm_alone = strata_apply("log_softmax", row, 1, cols);
    for (Index j = 0; j < cols; ++j) {
      CHECK(same_bits(sm_alone[static_cast<std::size_t>(j)], sm[static_cast<std::size_t>(r * cols + j)]));
      CHECK(same_bits(lsm_alone[static_cast<std::size_t>(j)], lsm[static_cast<std::size_t>(r * cols + j)]));
    }
  }
  CHECK(std::abs(whole_sum - 1.0) <= 10 * tol);
  CHECK(worst_whole_row > 0.1);  // so the per-row sums above really tell rows from the whole block

  // A single column is always 1 (softmax) and 0 (log_softmax); zero rows are a no-op.
  const std::vector<T> one_col = strata_apply("softmax", std::vector<T>{T(-3), T(0), T(1e4)}, 3, 1);
  for (const T v : one_col) CHECK(v == T(1));
  const std::vector<T> log_one_col = strata_apply("log_softmax", std::vector<T>{T(-3), T(0), T(1e4)}, 3, 1);
  for (const T v : log_one_col) CHECK(v == T(0));
  std::vector<T> empty;
  strata::apply_activation(Activation::softmax, empty.data(), 0, 7);
  CHECK(empty.empty());
}

TEMPLATE_TEST_CASE("activations: an element's result does not depend on its position or the buffer length",
                   "[activations][batch-invariance]", float, double) {
  using T = TestType;
  const Index n = 37;
  std::vector<T> xs(static_cast<std::size_t>(n));
  test::fill_uniform(xs.data(), n, T(-9), T(9));
  xs[3] = T(0);
  xs[10] = T(-30);
  xs[20] = T(30);
  xs[36] = T(1e-7);
  for (const std::string& name : accepted_names()) {
    if (is_row_wise(name)) continue;
    const std::vector<T> whole = strata_apply(name, xs, 1, n);
    const std::vector<T> as_block = strata_apply(name, xs, n, 1);
    for (Index i = 0; i < n; ++i) {
      const std::size_t u = static_cast<std::size_t>(i);
      INFO(name << " at position " << i << " of " << n << ", x = " << xs[u]);
      const T alone = strata_apply1(name, xs[u]);
      CHECK(same_bits(whole[u], alone));
      CHECK(same_bits(as_block[u], alone));
    }
    // The same value at every position of buffers of every length up to 9 (all chunk offsets).
    for (Index len = 1; len <= 9; ++len) {
      for (Index pos = 0; pos < len; ++pos) {
        std::vector<T> buf(static_cast<std::size_t>(len));
        test::fill_uniform(buf.data(), len, T(-3), T(3));
        buf[static_cast<std::size_t>(pos)] = xs[10 + static_cast<std::size_t>(len)];
        const std::vector<T> out = strata_apply(name, buf, 1, len);
        INFO(name << " at position " << pos << " of " << len);
        CHECK(
            same_bits(out[static_cast<std::size_t>(pos)], strata_apply1(name, xs[10 + static_cast<std::size_t>(len)])));
      }
    }
  }
}

TEMPLATE_TEST_CASE("activations: sparsemax follows Keras 3's formula row by row", "[activations]", float, double) {
  using T = TestType;
  const double tol = test::tolerance<T>();
  for (const Index cols : {1, 2, 3, 5, 8, 13}) {
    const Index rows = 4;
    std::vector<T> x(static_cast<std::size_t>(rows * cols));
    test::fill_uniform(x.data(), rows * cols, T(-3), T(3));
    const std::vector<T> got = strata_apply("sparsemax", x, rows, cols);
    std::vector<T> want = x;
    naive::activate_rows("sparsemax", want, static_cast<std::size_t>(rows), static_cast<std::size_t>(cols));
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("cols=" << cols << " element " << i);
      CHECK(got[i] >= T(0));
      CHECK(close(got[i], want[i], tol));
    }
  }
  // Keras sums the cumulative sums over the support (every backend does): [0.5, 0.4] has support 2,
  // cumulative sums 0.5 and 0.9, tau = (0.5 + 0.9 - 1) / 2 = 0.2, so [0.3, 0.2] -- not the textbook
  // sparsemax [0.55, 0.45].
  const std::vector<T> pair = strata_apply("sparsemax", std::vector<T>{T(0.5), T(0.4)}, 1, 2);
  CHECK(close(pair[0], 0.3, tol));
  CHECK(close(pair[1], 0.2, tol));
  // One dominant value takes everything; a single column is max(x - (x - 1), 0) = 1.
  const std::vector<T> peak = strata_apply("sparsemax", std::vector<T>{T(5), T(0), T(-1)}, 1, 3);
  CHECK(peak[0] == T(1));
  CHECK(peak[1] == T(0));
  CHECK(peak[2] == T(0));
  CHECK(strata_apply1("sparsemax", T(-7)) == T(1));
  // A NaN makes its row NaN (no undefined sort), other rows are unaffected.
  const std::vector<T> nan_row =
      strata_apply("sparsemax", std::vector<T>{T(1), std::numeric_limits<T>::quiet_NaN(), T(5), T(0)}, 2, 2);
  CHECK(std::isnan(nan_row[0]));
  CHECK(std::isnan(nan_row[1]));
  CHECK(nan_row[2] == T(1));
  CHECK(nan_row[3] == T(0));
}

TEMPLATE_TEST_CASE("activations: the Keras 3.7+ element-wise names at their break points", "[activations]", float,
                   double) {
  using T = TestType;
  const double tol = test::tolerance<T>();
  // Values written from the Keras formulas (keras/src/backend/numpy/nn.py).
  CHECK(strata_apply1("hard_shrink", T(0.5)) == T(0));  // |x| > 0.5 strictly
  CHECK(strata_apply1("hard_shrink", T(-0.75)) == T(-0.75));
  CHECK(strata_apply1("soft_shrink", T(0.5)) == T(0));
  CHECK(strata_apply1("soft_shrink", T(-0.75)) == T(-0.25));
  CHECK(strata_apply1("soft_shrink", T(2)) == T(1.5));
  CHECK(strata_apply1("sparse_plus", T(-1)) == T(0));
  CHECK(strata_apply1("sparse_plus", T(0)) == T(0.25));
  CHECK(strata_apply1("sparse_plus", T(1)) == T(1));
  CHECK(strata_apply1("sparse_plus", T(3)) == T(3));
  CHECK(strata_apply1("sparse_sigmoid", T(-1)) == T(0));
  CHECK(strata_apply1("sparse_sigmoid", T(0)) == T(0.5));
  CHECK(strata_apply1("sparse_sigmoid", T(2)) == T(1));
  CHECK(strata_apply1("hard_tanh", T(-3)) == T(-1));
  CHECK(strata_apply1("hard_tanh", T(0.25)) == T(0.25));
  CHECK(strata_apply1("squareplus", T(0)) == T(1));  // (0 + sqrt(4)) / 2, Keras' default b = 4
  CHECK(close(strata_apply1("squareplus", T(1.5)), (1.5 + std::sqrt(6.25)) / 2, tol));
  CHECK(close(strata_apply1("celu", T(-1)), std::expm1(-1.0), tol));
  CHECK(strata_apply1("celu", T(2)) == T(2));
  CHECK(close(strata_apply1("log_sigmoid", T(0)), -std::log(2.0), tol));
  CHECK(close(strata_apply1("log_sigmoid", T(-50)), -50.0, tol));  // no log(0)
  CHECK(close(strata_apply1("tanh_shrink", T(1)), 1.0 - std::tanh(1.0), tol));
}

TEST_CASE("activations: glu and threshold are known but refused, with Keras' reason", "[activations]") {
  CHECK_FALSE(strata::find_activation("glu").has_value());
  CHECK_FALSE(strata::find_activation("threshold").has_value());
  for (const char* name : {"glu", "threshold"}) {
    try {
      (void)strata::parse_activation(name, "strata::Dense 'head'");
      FAIL("parse_activation accepted " << name);
    } catch (const strata::value_error& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find("strata::Dense 'head'") != std::string::npos);
      CHECK(msg.find(std::string("'") + name + "'") != std::string::npos);
      CHECK(msg.find("not supported") != std::string::npos);
      CHECK(msg.find(std::string(name) == "glu" ? "halves" : "default_value") != std::string::npos);
    }
  }
}
