// SPDX-License-Identifier: MIT
// Dense: values against naive::dense for every activation and input ranks 2-5 (Tensor, ConstTensorMap,
// AnyTensor), Keras weights and initial values, output shapes including empty ones, batch
// invariance, and the error paths with their exception types and messages.
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/naive.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::ConstTensorMap;
using strata::Dense;
using strata::DenseOptions;
using strata::Index;
using strata::Shape;
using strata::Tensor;
using strata::Weights;

// Every name strata accepts, aliases included.
std::vector<std::string> accepted_names() {
  std::vector<std::string> names;
  for (const auto& entry : strata::detail::activation_names) names.emplace_back(entry.name);
  return names;
}

// The formula naive:: computes a name with (naive knows swish and hard_swish itself).
std::string formula_name(const std::string& name) { return name == "gelu_new" ? "gelu_approximate" : name; }

bool close(double a, double b, double tol) {
  if (std::isnan(a) || std::isnan(b)) return false;
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= tol * (1.0 + std::abs(b));
}

template <class T>
bool same_bits(const T* a, const T* b, Index n) {
  return n == 0 || std::memcmp(a, b, static_cast<std::size_t>(n) * sizeof(T)) == 0;
}

using test::has;
using test::thrown_message;

template <class T>
Tensor<T, 2> random_kernel(Index features, Index units) {
  Tensor<T, 2> k(features, units);
  test::fill_uniform(k.data(), k.size(), T(-1), T(1));
  return k;
}

template <class T>
Tensor<T, 1> random_bias(Index units) {
  Tensor<T, 1> b(units);
  test::fill_uniform(b.data(), b.size(), T(-0.5), T(0.5));
  return b;
}

template <class T>
Weights<T> weights_of(const Tensor<T, 2>& kernel, const Tensor<T, 1>& bias, bool use_bias) {
  Weights<T> w{kernel};
  if (use_bias) w.emplace_back(bias);
  return w;
}

template <class T>
std::vector<T> values(const AnyTensor<T>& t) {
  return std::vector<T>(t.data(), t.data() + t.size());
}

const Index feature_choices[] = {1, 3, 7, 17, 33};
const Index unit_choices[] = {1, 5, 9, 16, 31};

template <int R>
std::array<Index, R> random_dims(Index features) {
  std::array<Index, R> dims{};
  dims[0] = test::random_int(1, 5);
  for (int i = 1; i < R - 1; ++i) dims[static_cast<std::size_t>(i)] = test::random_int(1, 3);
  dims[R - 1] = features;
  return dims;
}

/// Dense of rank R against naive::dense, and the same layer through ConstTensorMap and AnyTensor.
template <class T, int R>
void check_against_naive(const std::string& activation, bool use_bias) {
  const Index features = feature_choices[test::random_int(0, 4)];
  const Index units = unit_choices[test::random_int(0, 4)];
  const std::array<Index, R> dims = random_dims<R>(features);
  Tensor<T, R> x(dims);
  test::fill_uniform(x.data(), x.size(), T(-2), T(2));
  const Tensor<T, 2> kernel = random_kernel<T>(features, units);
  const Tensor<T, 1> bias = random_bias<T>(units);

  Dense<T> dense(units, DenseOptions().activation(activation).use_bias(use_bias));
  dense.set_weights(weights_of(kernel, bias, use_bias));

  Shape in_shape = Shape::from_dims(dims, R);
  Shape out_shape = in_shape;
  out_shape[R - 1] = units;
  INFO("activation " << activation << ", bias " << use_bias << ", input " << in_shape << ", units " << units);

  const Tensor<T, R> y = dense(x);
  for (int i = 0; i < R - 1; ++i) CHECK(y.dimension(i) == x.dimension(i));
  CHECK(y.dimension(R - 1) == units);
  REQUIRE(y.size() == out_shape.size());

  const std::size_t rows = static_cast<std::size_t>(in_shape.product(0, R - 1));
  const std::vector<T> want = naive::dense(test::to_vector(x), rows, static_cast<std::size_t>(features),
                                           test::to_vector(kernel), use_bias ? test::to_vector(bias) : std::vector<T>{},
                                           static_cast<std::size_t>(units), formula_name(activation));
  REQUIRE(want.size() == static_cast<std::size_t>(y.size()));
  bool all_close = true;
  for (Index i = 0; i < y.size(); ++i) {
    if (!close(y.data()[i], want[static_cast<std::size_t>(i)], test::tolerance<T>())) {
      all_close = false;
      INFO("element " << i << ": strata " << y.data()[i] << ", naive " << want[static_cast<std::size_t>(i)]);
      CHECK(close(y.data()[i], want[static_cast<std::size_t>(i)], test::tolerance<T>()));
      break;
    }
  }
  CHECK(all_close);

  // A read-only map over a std::vector gives the same bits.
  const std::vector<T> buffer = test::to_vector(x);
  const ConstTensorMap<T, R> map(buffer.data(), dims);
  const Tensor<T, R> y_map = dense(map);
  CHECK(Shape::from_dims(y_map.dimensions(), R) == out_shape);
  CHECK(same_bits(y_map.data(), y.data(), y.size()));

  // So does a tensor of run-time rank.
  const AnyTensor<T> y_any = dense(AnyTensor<T>(x));
  CHECK(y_any.rank() == R);
  CHECK(y_any.shape() == out_shape);
  REQUIRE(y_any.size() == y.size());
  CHECK(same_bits(y_any.data(), y.data(), y.size()));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Values

TEMPLATE_TEST_CASE("Dense: matches naive::dense for every activation, with and without bias, ranks 2-5", "[dense]",
                   float, double) {
  using T = TestType;
  int combinations = 0;
  for (const std::string& activation : accepted_names()) {
    for (const bool use_bias : {true, false}) {
      check_against_naive<T, 2>(activation, use_bias);
      check_against_naive<T, 3>(activation, use_bias);
      check_against_naive<T, 4>(activation, use_bias);
      check_against_naive<T, 5>(activation, use_bias);
      ++combinations;
    }
  }
  CHECK(combinations == 66);
}

TEMPLATE_TEST_CASE("Dense: every feature and unit size, including 1, matches naive::dense", "[dense]", float, double) {
  using T = TestType;
  for (const Index features : feature_choices) {
    for (const Index units : unit_choices) {
      INFO("features " << features << ", units " << units);
      const Index batch = test::random_int(1, 6);
      Tensor<T, 3> x(batch, 1, features);
      test::fill_uniform(x.data(), x.size(), T(-2), T(2));
      const Tensor<T, 2> kernel = random_kernel<T>(features, units);
      const Tensor<T, 1> bias = random_bias<T>(units);
      Dense<T> dense(units, DenseOptions().activation("tanh"));
      dense.set_weights({kernel, bias});
      const Tensor<T, 3> y = dense(x);
      REQUIRE(y.dimension(0) == batch);
      REQUIRE(y.dimension(1) == 1);
      REQUIRE(y.dimension(2) == units);
      const std::vector<T> want =
          naive::dense(test::to_vector(x), static_cast<std::size_t>(batch), static_cast<std::size_t>(features),
                       test::to_vector(kernel), test::to_vector(bias), static_cast<std::size_t>(units), "tanh");
      CHECK(test::max_abs_diff(test::to_vector(y), want) <= test::tolerance<T>());
    }
  }
}

TEMPLATE_TEST_CASE("Dense: the default activation is linear, y = x . kernel + bias", "[dense]", float, double) {
  using T = TestType;
  Dense<T> dense(2);
  CHECK(dense.activation() == strata::Activation::linear);
  CHECK(dense.use_bias());
  Tensor<T, 2> kernel(3, 2);
  kernel.setValues({{T(1), T(-2)}, {T(0.5), T(4)}, {T(-1), T(0)}});
  Tensor<T, 1> bias(2);
  bias.setValues({T(0.25), T(-1)});
  dense.set_weights({kernel, bias});
  Tensor<T, 2> x(2, 3);
  x.setValues({{T(1), T(2), T(3)}, {T(-2), T(0), T(4)}});
  const Tensor<T, 2> y = dense(x);
  // Row 0: 1 + 1 - 3 + 0.25 = -0.75, -2 + 8 + 0 - 1 = 5; row 1: -2 + 0 - 4 + 0.25 = -5.75, 4 + 0 + 0 - 1 = 3.
  CHECK(y(0, 0) == T(-0.75));
  CHECK(y(0, 1) == T(5));
  CHECK(y(1, 0) == T(-5.75));
  CHECK(y(1, 1) == T(3));
  Dense<T> relu(2, DenseOptions().activation(strata::Activation::relu));
  relu.set_weights({kernel, bias});
  const Tensor<T, 2> r = relu(x);
  CHECK(r(0, 0) == T(0));
  CHECK(r(0, 1) == T(5));
  CHECK(r(1, 0) == T(0));
  CHECK(r(1, 1) == T(3));
}

// ---------------------------------------------------------------------------------------------
// Weights

TEMPLATE_TEST_CASE("Dense: get_weights returns [kernel (F, units), bias (units,)] in Keras order", "[dense]", float,
                   double) {
  using T = TestType;
  Dense<T> dense(7, DenseOptions().input_dim(5).seed(1));
  const Weights<T> w = dense.get_weights();
  REQUIRE(w.size() == 2);
  CHECK(w[0].rank() == 2);
  CHECK(w[0].shape() == Shape{5, 7});
  CHECK(w[1].rank() == 1);
  CHECK(w[1].shape() == Shape{7});
  CHECK(same_bits(w[0].data(), dense.kernel().data(), 35));
  CHECK(same_bits(w[1].data(), dense.bias().data(), 7));

  Dense<T> no_bias(7, DenseOptions().input_dim(5).use_bias(false).seed(1));
  const Weights<T> wk = no_bias.get_weights();
  REQUIRE(wk.size() == 1);
  CHECK(wk[0].shape() == Shape{5, 7});
  CHECK(no_bias.bias().size() == 0);
  CHECK(no_bias.count_params() == 35);
}

TEMPLATE_TEST_CASE("Dense: set_weights then get_weights round-trips the values exactly", "[dense]", float, double) {
  using T = TestType;
  for (const bool use_bias : {true, false}) {
    INFO("use_bias " << use_bias);
    Dense<T> dense(9, DenseOptions().use_bias(use_bias).input_dim(17).seed(3));
    const Tensor<T, 2> kernel = random_kernel<T>(17, 9);
    const Tensor<T, 1> bias = random_bias<T>(9);
    dense.set_weights(weights_of(kernel, bias, use_bias));
    const Weights<T> w = dense.get_weights();
    REQUIRE(w.size() == (use_bias ? 2u : 1u));
    CHECK(w[0].shape() == Shape{17, 9});
    CHECK(values(w[0]) == test::to_vector(kernel));
    if (use_bias) {
      CHECK(w[1].shape() == Shape{9});
      CHECK(values(w[1]) == test::to_vector(bias));
    }
    CHECK(test::to_vector(dense.kernel()) == test::to_vector(kernel));
    // get_weights -> set_weights on a fresh layer reproduces the outputs bit for bit.
    Dense<T> copy(9, DenseOptions().use_bias(use_bias).activation("sigmoid"));
    Dense<T> original(9, DenseOptions().use_bias(use_bias).activation("sigmoid"));
    original.set_weights(w);
    copy.set_weights(original.get_weights());
    const Tensor<T, 3> x = test::random_tensor<T, 3>(3, 4, 17);
    const Tensor<T, 3> a = original(x);
    const Tensor<T, 3> b = copy(x);
    CHECK(same_bits(a.data(), b.data(), a.size()));
  }
}

TEMPLATE_TEST_CASE("Dense: set_weights builds an unbuilt layer with F from the kernel", "[dense]", float, double) {
  using T = TestType;
  Dense<T> dense(4);
  CHECK_FALSE(dense.built());
  CHECK(dense.input_dim() == 0);
  const Tensor<T, 2> kernel = random_kernel<T>(6, 4);
  const Tensor<T, 1> bias = random_bias<T>(4);
  dense.set_weights({kernel, bias});
  CHECK(dense.built());
  CHECK(dense.input_dim() == 6);
  CHECK(dense.count_params() == 6 * 4 + 4);
  CHECK(test::to_vector(dense.kernel()) == test::to_vector(kernel));
  CHECK(test::to_vector(dense.bias()) == test::to_vector(bias));
  const Tensor<T, 2> y = dense(test::random_tensor<T, 2>(2, 6));
  CHECK(y.dimension(1) == 4);

  Dense<T> no_bias(4, DenseOptions().use_bias(false));
  no_bias.set_weights({kernel});
  CHECK(no_bias.built());
  CHECK(no_bias.input_dim() == 6);
  CHECK(no_bias.count_params() == 24);
}

TEMPLATE_TEST_CASE("Dense: build gives Keras' initial weights, glorot_uniform kernel and zero bias", "[dense]", float,
                   double) {
  using T = TestType;
  const struct { Index features, units; } sizes[] = {{20, 4}, {1, 1}, {33, 31}, {7, 16}, {128, 3}};
  for (const auto& s : sizes) {
    INFO("features " << s.features << ", units " << s.units);
    Dense<T> dense(s.units, DenseOptions().seed(42));
    CHECK_FALSE(dense.built());
    dense.build(s.features);
    CHECK(dense.built());
    CHECK(dense.input_dim() == s.features);
    CHECK(dense.count_params() == s.features * s.units + s.units);
    const Weights<T> w = dense.get_weights();
    REQUIRE(w.size() == 2);
    CHECK(w[0].shape() == Shape{s.features, s.units});
    CHECK(w[1].shape() == Shape{s.units});
    for (const T b : values(w[1])) CHECK(b == T(0));
    const double limit = std::sqrt(6.0 / static_cast<double>(s.features + s.units));
    double largest = 0;
    bool all_zero = true;
    for (const T k : values(w[0])) {
      largest = std::max(largest, std::abs(static_cast<double>(k)));
      if (k != T(0)) all_zero = false;
    }
    CHECK(largest <= limit * (1 + 1e-6));
    CHECK_FALSE(all_zero);
    if (s.features * s.units >= 64) {
      CHECK(largest >= 0.5 * limit);  // spread over the range, not squeezed near 0
      double mean = 0;
      for (const T k : values(w[0])) mean += static_cast<double>(k);
      mean /= static_cast<double>(s.features * s.units);
      CHECK(std::abs(mean) <= 0.25 * limit);
    }

    // Deterministic for a seed: another layer with seed 42 gets the same weights, seed 43 others.
    Dense<T> same(s.units, DenseOptions().seed(42));
    same.build(s.features);
    CHECK(values(same.get_weights()[0]) == values(w[0]));
    Dense<T> via_option(s.units, DenseOptions().seed(42).input_dim(s.features));
    CHECK(via_option.built());
    CHECK(values(via_option.get_weights()[0]) == values(w[0]));
    Dense<T> other(s.units, DenseOptions().seed(43));
    other.build(s.features);
    CHECK(values(other.get_weights()[0]) != values(w[0]));
  }
}

TEST_CASE("Dense: count_params is features * units (+ units with bias)", "[dense]") {
  CHECK(Dense<float>(4, DenseOptions().input_dim(20)).count_params() == 84);
  CHECK(Dense<float>(4, DenseOptions().input_dim(20).use_bias(false)).count_params() == 80);
  CHECK(Dense<double>(31, DenseOptions().input_dim(33)).count_params() == 33 * 31 + 31);
  CHECK(Dense<double>(1, DenseOptions().input_dim(1)).count_params() == 2);
}

// ---------------------------------------------------------------------------------------------
// Shapes

TEMPLATE_TEST_CASE("Dense: the output shape replaces the last axis with units", "[dense]", float, double) {
  using T = TestType;
  Dense<T> dense(5, DenseOptions().input_dim(3).seed(0));
  CHECK(dense.compute_output_shape(Shape{8, 3}) == Shape{8, 5});
  CHECK(dense.compute_output_shape(Shape{2, 10, 3}) == Shape{2, 10, 5});
  CHECK(dense.compute_output_shape(Shape{2, 1, 4, 3}) == Shape{2, 1, 4, 5});
  CHECK(dense.compute_output_shape(Shape{1, 2, 3, 4, 3}) == Shape{1, 2, 3, 4, 5});
  CHECK(dense.compute_output_shape(Shape{0, 3, 3}) == Shape{0, 3, 5});

  const Tensor<T, 2> y2 = dense(test::random_tensor<T, 2>(8, 3));
  CHECK(y2.dimension(0) == 8);
  CHECK(y2.dimension(1) == 5);
  const Tensor<T, 4> y4 = dense(test::random_tensor<T, 4>(2, 1, 4, 3));
  CHECK(Shape::from_dims(y4.dimensions(), 4) == (Shape{2, 1, 4, 5}));
  const Tensor<T, 5> y5 = dense(test::random_tensor<T, 5>(1, 2, 3, 4, 3));
  CHECK(Shape::from_dims(y5.dimensions(), 5) == (Shape{1, 2, 3, 4, 5}));
  const AnyTensor<T> any = dense(AnyTensor<T>(test::random_tensor<T, 3>(2, 10, 3)));
  CHECK(any.shape() == (Shape{2, 10, 5}));
}

TEMPLATE_TEST_CASE("Dense: a zero batch or zero middle dimension gives an empty output of the right shape", "[dense]",
                   float, double) {
  using T = TestType;
  for (const std::string activation : {"linear", "relu", "softmax", "log_softmax"}) {
    INFO(activation);
    Dense<T> dense(6, DenseOptions().input_dim(4).activation(activation).seed(9));
    Tensor<T, 3> zero_batch(0, 3, 4);
    Tensor<T, 3> y;
    CHECK_NOTHROW(y = dense(zero_batch));
    CHECK(Shape::from_dims(y.dimensions(), 3) == (Shape{0, 3, 6}));
    CHECK(y.size() == 0);

    Tensor<T, 3> zero_middle(2, 0, 4);
    CHECK_NOTHROW(y = dense(zero_middle));
    CHECK(Shape::from_dims(y.dimensions(), 3) == (Shape{2, 0, 6}));

    Tensor<T, 2> zero_rows(0, 4);
    Tensor<T, 2> y2;
    CHECK_NOTHROW(y2 = dense(zero_rows));
    CHECK(y2.dimension(0) == 0);
    CHECK(y2.dimension(1) == 6);

    const std::vector<T> nothing;
    const ConstTensorMap<T, 4> map(nothing.data(), 0, 2, 3, 4);
    Tensor<T, 4> y4;
    CHECK_NOTHROW(y4 = dense(map));
    CHECK(Shape::from_dims(y4.dimensions(), 4) == (Shape{0, 2, 3, 6}));

    AnyTensor<T> any;
    CHECK_NOTHROW(any = dense(AnyTensor<T>::zeros(Shape{0, 3, 4})));
    CHECK(any.shape() == (Shape{0, 3, 6}));
    CHECK(any.size() == 0);
    CHECK_NOTHROW(any = dense(AnyTensor<T>::zeros(Shape{2, 0, 4})));
    CHECK(any.shape() == (Shape{2, 0, 6}));
  }
}

// ---------------------------------------------------------------------------------------------
// Batch invariance

// A sample alone and inside batches of several sizes and positions, bitwise, for every activation.
template <class T>
void check_dense_batch_invariance(Index features, Index units) {
  const Tensor<T, 2> kernel = random_kernel<T>(features, units);
  const Tensor<T, 1> bias = random_bias<T>(units);
  Tensor<T, 2> sample(1, features);
  test::fill_uniform(sample.data(), features, T(-2), T(2));
  Tensor<T, 3> sample_seq(1, 3, features);  // a (time, features) sample for rank 3
  test::fill_uniform(sample_seq.data(), sample_seq.size(), T(-2), T(2));

  for (const std::string& activation : accepted_names()) {
    INFO(activation);
    Dense<T> dense(units, DenseOptions().activation(activation));
    dense.set_weights({kernel, bias});
    const Tensor<T, 2> alone = dense(sample);
    const Tensor<T, 3> alone_seq = dense(sample_seq);
    for (const Index batch : {19, 33, 64}) {
      for (const Index position : {0, 5, 17}) {
        INFO("batch " << batch << ", position " << position);
        Tensor<T, 2> x(batch, features);
        test::fill_uniform(x.data(), x.size(), T(-2), T(2));
        std::copy(sample.data(), sample.data() + features, x.data() + position * features);
        const Tensor<T, 2> y = dense(x);
        CHECK(same_bits(y.data() + position * units, alone.data(), units));

        Tensor<T, 3> xs(batch, 3, features);
        test::fill_uniform(xs.data(), xs.size(), T(-2), T(2));
        std::copy(sample_seq.data(), sample_seq.data() + 3 * features, xs.data() + position * 3 * features);
        const Tensor<T, 3> ys = dense(xs);
        CHECK(same_bits(ys.data() + position * 3 * units, alone_seq.data(), 3 * units));
      }
    }
  }
}

TEMPLATE_TEST_CASE("Dense: a sample's output is bitwise the same at any position in a batch of any size",
                   "[dense][batch-invariance]", float, double) {
  using T = TestType;
  // 31 units take the tile kernel, 1 and 2 the dot-product kernel (gemm.hpp).
  for (const Index units : {Index(31), Index(1), Index(2)}) {
    INFO("units " << units);
    check_dense_batch_invariance<T>(17, units);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

TEMPLATE_TEST_CASE("Dense: a wrong last axis throws shape_error naming the layer, features and shape",
                   "[dense][errors]", float, double) {
  using T = TestType;
  Dense<T> dense(4, DenseOptions().input_dim(20).seed(0));
  Tensor<T, 3> x(32, 10, 21);
  x.setZero();
  CHECK_THROWS_AS(dense(x), strata::shape_error);
  const std::string msg = thrown_message<strata::shape_error>([&] { (void)dense(x); });
  INFO(msg);
  CHECK(has(msg, "strata::Dense"));
  CHECK(has(msg, "features=20"));
  CHECK(has(msg, "(32, 10, 21)"));

  const std::string any_msg = thrown_message<strata::shape_error>([&] { (void)dense(AnyTensor<T>(x)); });
  CHECK(has(any_msg, "features=20"));
  CHECK(has(any_msg, "(32, 10, 21)"));

  const std::vector<T> buffer(32 * 19, T(0));
  const ConstTensorMap<T, 2> map(buffer.data(), 32, 19);
  const std::string map_msg = thrown_message<strata::shape_error>([&] { (void)dense(map); });
  CHECK(has(map_msg, "(32, 19)"));

  CHECK_THROWS_AS(dense.compute_output_shape(Shape{32, 10, 21}), strata::shape_error);
  // forward() checks the output buffer's size too.
  Tensor<T, 2> ok(2, 20);
  ok.setZero();
  std::vector<T> out(7);
  CHECK_THROWS_AS(dense.forward(ok.data(), Shape{2, 20}, out.data(), 7), strata::shape_error);
}

TEMPLATE_TEST_CASE("Dense: a rank-1 AnyTensor input throws shape_error asking for rank >= 2", "[dense][errors]", float,
                   double) {
  using T = TestType;
  Dense<T> dense(4, DenseOptions().input_dim(20).seed(0));
  const AnyTensor<T> x = test::random_tensor<T, 1>(20);
  CHECK_THROWS_AS(dense(x), strata::shape_error);
  const std::string msg = thrown_message<strata::shape_error>([&] { (void)dense(x); });
  INFO(msg);
  CHECK(has(msg, "strata::Dense"));
  CHECK(has(msg, "rank >= 2"));
  CHECK(has(msg, "(20,)"));
  CHECK_THROWS_AS(dense(AnyTensor<T>()), strata::shape_error);
}

TEST_CASE("Dense: units below 1 throw value_error", "[dense][errors]") {
  CHECK_THROWS_AS(Dense<float>(0), strata::value_error);
  CHECK_THROWS_AS(Dense<double>(-3), strata::value_error);
  const std::string msg = thrown_message<strata::value_error>([] { Dense<float> d(0); });
  INFO(msg);
  CHECK(has(msg, "strata::Dense"));
  CHECK(has(msg, "units"));
  CHECK(has(msg, "0"));
  CHECK_NOTHROW(Dense<float>(1));
  CHECK_THROWS_AS(Dense<float>(3, DenseOptions().input_dim(-1)), strata::value_error);
  Dense<float> unbuilt(3);
  CHECK_THROWS_AS(unbuilt.build(0), strata::value_error);
}

TEST_CASE("Dense: an unknown activation throws value_error naming it and the layer", "[dense][errors]") {
  CHECK_THROWS_AS(Dense<float>(4, DenseOptions().activation("relux")), strata::value_error);
  const std::string msg =
      thrown_message<strata::value_error>([] { Dense<float> d(4, DenseOptions().activation("relux")); });
  INFO(msg);
  CHECK(has(msg, "relux"));
  CHECK(has(msg, "strata::Dense"));
  CHECK(has(msg, "expected one of"));
  CHECK_THROWS_AS(Dense<double>(4, DenseOptions().activation("")), strata::value_error);
  CHECK_THROWS_AS(Dense<double>(4, DenseOptions().activation("Softmax")), strata::value_error);
}

TEST_CASE("Dense: a name given with DenseOptions().name appears in error messages", "[dense][errors]") {
  const std::string act_msg =
      thrown_message<strata::value_error>([] { Dense<float> d(4, DenseOptions().name("head").activation("relux")); });
  CHECK(has(act_msg, "'head'"));
  CHECK(has(act_msg, "relux"));
  const std::string units_msg =
      thrown_message<strata::value_error>([] { Dense<float> d(0, DenseOptions().name("head")); });
  CHECK(has(units_msg, "'head'"));

  Dense<float> head(4, DenseOptions().name("head").input_dim(20).seed(0));
  CHECK(head.name() == "head");
  CHECK(has(head.describe(), "strata::Dense"));
  CHECK(has(head.describe(), "'head'"));
  Tensor<float, 3> x(32, 10, 21);
  x.setZero();
  const std::string shape_msg = thrown_message<strata::shape_error>([&] { (void)head(x); });
  INFO(shape_msg);
  CHECK(has(shape_msg, "strata::Dense 'head'"));
  CHECK(has(shape_msg, "(32, 10, 21)"));
  const std::string weights_msg = thrown_message<strata::shape_error>([&] { head.set_weights({}); });
  CHECK(has(weights_msg, "'head'"));
}

TEMPLATE_TEST_CASE("Dense: calling an unbuilt layer throws value_error pointing to set_weights or build",
                   "[dense][errors]", float, double) {
  using T = TestType;
  Dense<T> dense(4, DenseOptions().name("later"));
  const Tensor<T, 2> x = test::random_tensor<T, 2>(2, 3);
  CHECK_THROWS_AS(dense(x), strata::value_error);
  const std::string msg = thrown_message<strata::value_error>([&] { (void)dense(x); });
  INFO(msg);
  CHECK(has(msg, "strata::Dense 'later'"));
  CHECK(has(msg, "set_weights"));
  CHECK(has(msg, "build"));
  CHECK_THROWS_AS(dense(AnyTensor<T>(x)), strata::value_error);
  CHECK_THROWS_AS(dense.get_weights(), strata::value_error);
  CHECK_THROWS_AS(dense.kernel(), strata::value_error);
  CHECK_THROWS_AS(dense.compute_output_shape(Shape{2, 3}), strata::value_error);
  dense.build(3);
  CHECK_NOTHROW(dense(x));
}

TEMPLATE_TEST_CASE("Dense: set_weights with the wrong number of arrays throws shape_error", "[dense][errors]", float,
                   double) {
  using T = TestType;
  Dense<T> dense(4, DenseOptions().input_dim(20).seed(0));
  const Tensor<T, 2> kernel = random_kernel<T>(20, 4);
  const Tensor<T, 1> bias = random_bias<T>(4);

  const std::string three = thrown_message<strata::shape_error>([&] { dense.set_weights({kernel, bias, bias}); });
  INFO(three);
  CHECK(has(three, "strata::Dense"));
  CHECK(has(three, "expects 2"));
  CHECK(has(three, "3"));
  const std::string one = thrown_message<strata::shape_error>([&] { dense.set_weights({kernel}); });
  CHECK(has(one, "expects 2"));
  CHECK_THROWS_AS(dense.set_weights({}), strata::shape_error);

  Dense<T> no_bias(4, DenseOptions().input_dim(20).use_bias(false).seed(0));
  const std::string two = thrown_message<strata::shape_error>([&] { no_bias.set_weights({kernel, bias}); });
  INFO(two);
  CHECK(has(two, "expects 1"));
  CHECK(has(two, "2"));
  CHECK_NOTHROW(no_bias.set_weights({kernel}));

  Dense<T> unbuilt(4);
  CHECK_THROWS_AS(unbuilt.set_weights({kernel, bias, bias}), strata::shape_error);
  CHECK_FALSE(unbuilt.built());
}

TEMPLATE_TEST_CASE("Dense: set_weights with a kernel or bias of the wrong shape throws shape_error", "[dense][errors]",
                   float, double) {
  using T = TestType;
  Dense<T> dense(4, DenseOptions().input_dim(20).seed(0));
  const std::vector<T> before = values(dense.get_weights()[0]);
  const Tensor<T, 1> bias = random_bias<T>(4);

  const std::string wide = thrown_message<strata::shape_error>([&] {
    dense.set_weights({random_kernel<T>(20, 5), bias});
  });
  INFO(wide);
  CHECK(has(wide, "strata::Dense"));
  CHECK(has(wide, "kernel"));
  CHECK(has(wide, "(20, 4)"));
  CHECK(has(wide, "(20, 5)"));
  const std::string tall = thrown_message<strata::shape_error>([&] {
    dense.set_weights({random_kernel<T>(21, 4), bias});
  });
  CHECK(has(tall, "(20, 4)"));
  CHECK(has(tall, "(21, 4)"));
  const Tensor<T, 1> flat = random_bias<T>(80);
  const std::string rank1 = thrown_message<strata::shape_error>([&] { dense.set_weights({flat, bias}); });
  CHECK(has(rank1, "(20, 4)"));
  CHECK(has(rank1, "(80,)"));
  const std::string empty = thrown_message<strata::shape_error>([&] { dense.set_weights({AnyTensor<T>(), bias}); });
  CHECK(has(empty, "(20, 4)"));

  const std::string bad_bias = thrown_message<strata::shape_error>([&] {
    dense.set_weights({random_kernel<T>(20, 4), random_bias<T>(5)});
  });
  INFO(bad_bias);
  CHECK(has(bad_bias, "bias"));
  CHECK(has(bad_bias, "(4,)"));
  CHECK(has(bad_bias, "(5,)"));
  Tensor<T, 2> bias_2d(1, 4);
  bias_2d.setZero();
  const std::string bias_rank = thrown_message<strata::shape_error>([&] {
    dense.set_weights({random_kernel<T>(20, 4), bias_2d});
  });
  CHECK(has(bias_rank, "(4,)"));
  CHECK(has(bias_rank, "(1, 4)"));

  // A failed set_weights leaves the weights as they were.
  CHECK(values(dense.get_weights()[0]) == before);
  CHECK(dense.input_dim() == 20);

  // An unbuilt layer checks the kernel's units and the bias too, and stays unbuilt on failure.
  Dense<T> unbuilt(4);
  const std::string units_msg = thrown_message<strata::shape_error>([&] {
    unbuilt.set_weights({random_kernel<T>(6, 5), bias});
  });
  CHECK(has(units_msg, "(6, 4)"));
  CHECK(has(units_msg, "(6, 5)"));
  CHECK_THROWS_AS(unbuilt.set_weights({flat, bias}), strata::shape_error);
  CHECK_THROWS_AS(unbuilt.set_weights({random_kernel<T>(6, 4), random_bias<T>(3)}), strata::shape_error);
  CHECK_THROWS_AS(unbuilt.set_weights({AnyTensor<T>(), bias}), strata::shape_error);
  CHECK_FALSE(unbuilt.built());
}

TEMPLATE_TEST_CASE("Dense: forward_rows gives forward's rows bitwise, sparsemax with or without scratch", "[dense]",
                   float, double) {
  using T = TestType;
  for (const char* act : {"linear", "tanh", "softmax", "sparsemax"}) {
    for (const Index units : {1, 2, 7, 33}) {
      const Index features = 9, rows = 5;
      const Dense<T> dense(units, DenseOptions().activation(act).input_dim(features).seed(3));
      const Tensor<T, 2> x = test::random_tensor<T, 2>(rows, features);
      std::vector<T> want(static_cast<std::size_t>(rows * units)), got(want.size()), got_scratch(want.size());
      dense.forward(x.data(), Shape{rows, features}, want.data(), rows * units);
      dense.forward_rows(x.data(), rows, got.data());
      std::vector<T> sorted(static_cast<std::size_t>(units));
      dense.forward_rows(x.data(), rows, got_scratch.data(), sorted.data());
      INFO(act << ", " << units << " units");
      CHECK(test::bitwise_equal(got.data(), want.data(), rows * units));
      CHECK(test::bitwise_equal(got_scratch.data(), want.data(), rows * units));
      // One row at a time, as a stream calls it: the same rows.
      for (Index r = 0; r < rows; ++r) {
        dense.forward_rows(x.data() + r * features, 1, got.data() + r * units, sorted.data());
      }
      CHECK(test::bitwise_equal(got.data(), want.data(), rows * units));
    }
  }
}
