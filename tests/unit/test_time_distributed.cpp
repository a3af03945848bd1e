// SPDX-License-Identifier: MIT
// The mission test: Dense on the last axis and TimeDistributed(Dense) agree element for element,
// and the cases where wrapping a layer in TimeDistributed does change the result.
#include <array>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/naive.hpp"
#include "support/util.hpp"

namespace {

using strata::Dense;
using strata::DenseOptions;
using strata::Index;
using strata::LSTM;
using strata::LSTMOptions;
using strata::Tensor;
using strata::TimeDistributed;
using strata::TimeDistributedOptions;

// Random dims for a rank-R input, with size 1 and odd sizes likely.
template <int Rank>
std::array<Index, Rank> random_dims(Index features) {
  static const Index choices[] = {1, 1, 2, 3, 5, 7, 9, 13};
  std::array<Index, Rank> d{};
  for (int i = 0; i + 1 < Rank; ++i) d[static_cast<std::size_t>(i)] = choices[test::random_int(0, 7)];
  d[Rank - 1] = features;
  return d;
}

// out[:, t] computed by Dense on the slice x[:, t] alone, in an explicit loop over time.
template <class T, int Rank>
void check_slice_loop(const Dense<T>& dense, const Tensor<T, Rank>& x, const Tensor<T, Rank>& out) {
  for (Index t = 0; t < x.dimension(1); ++t) {
    Tensor<T, Rank - 1> slice = x.template chip<1>(t);
    Tensor<T, Rank - 1> y = dense(slice);
    Tensor<T, Rank - 1> expected = out.template chip<1>(t);
    REQUIRE(y.size() == expected.size());
    CHECK(test::bitwise_equal(y.data(), expected.data(), y.size()));
  }
}

template <class T, int Rank>
void check_dense_vs_time_distributed(const std::string& activation, bool use_bias) {
  static const Index feature_choices[] = {1, 3, 8, 17, 33};
  static const Index unit_choices[] = {1, 4, 7, 16, 31};
  for (int trial = 0; trial < 4; ++trial) {
    const Index features = feature_choices[test::random_int(0, 4)];
    const Index units = unit_choices[test::random_int(0, 4)];
    const auto dims = random_dims<Rank>(features);
    Tensor<T, Rank> x(dims);
    test::fill_uniform(x.data(), x.size());
    Dense<T> dense(units, DenseOptions()
                              .activation(activation)
                              .use_bias(use_bias)
                              .input_dim(features)
                              .seed(static_cast<std::uint64_t>(trial)));
    if (use_bias) {
      // Keras starts with a zero bias; use a nonzero one so the bias path is exercised.
      Tensor<T, 1> bias(units);
      test::fill_uniform(bias.data(), units);
      dense.set_weights({dense.kernel(), bias});
    }
    TimeDistributed<Dense<T>> td(dense);

    Tensor<T, Rank> direct = dense(x);
    Tensor<T, Rank> wrapped = td(x);
    INFO("rank " << Rank << ", input " << strata::shape_of(x) << ", units " << units << ", activation " << activation
                 << ", bias " << use_bias);
    REQUIRE(strata::shape_of(direct) == strata::shape_of(wrapped));
    CHECK(direct.dimension(Rank - 1) == units);
    CHECK(test::bitwise_equal(direct.data(), wrapped.data(), direct.size()));
    check_slice_loop(dense, x, direct);

    // And both are what Dense means: the naive reference within rounding.
    const Index rows = x.size() / features;
    const auto kernel = test::to_vector(dense.kernel());
    const auto bias = test::to_vector(dense.bias());
    const auto expected =
        naive::dense(test::to_vector(x), static_cast<std::size_t>(rows), static_cast<std::size_t>(features), kernel,
                     bias, static_cast<std::size_t>(units), activation);
    CHECK(test::max_abs_diff(test::to_vector(direct), expected) <= test::tolerance<T>());
  }
}

}  // namespace

TEMPLATE_TEST_CASE("mission: Dense on the last axis equals TimeDistributed(Dense) bitwise",
                   "[mission][time_distributed]", float, double) {
  for (const char* activation : {"linear", "relu", "tanh", "sigmoid", "softmax"}) {
    for (bool use_bias : {true, false}) {
      check_dense_vs_time_distributed<TestType, 3>(activation, use_bias);
      check_dense_vs_time_distributed<TestType, 4>(activation, use_bias);
      check_dense_vs_time_distributed<TestType, 5>(activation, use_bias);
    }
  }
}

TEMPLATE_TEST_CASE("mission: TimeDistributed(TimeDistributed(Dense)) on rank 4 equals Dense bitwise",
                   "[mission][time_distributed]", float, double) {
  using T = TestType;
  for (int trial = 0; trial < 6; ++trial) {
    const Index features = test::random_int(1, 16);
    const Index units = test::random_int(1, 16);
    Tensor<T, 4> x(test::random_int(1, 4), test::random_int(1, 6), test::random_int(1, 6), features);
    test::fill_uniform(x.data(), x.size());
    Dense<T> dense(units, DenseOptions().activation(trial % 2 ? "relu" : "linear").input_dim(features).seed(9));
    TimeDistributed<TimeDistributed<Dense<T>>> nested(TimeDistributed<Dense<T>>{dense});
    Tensor<T, 4> a = dense(x);
    Tensor<T, 4> b = nested(x);
    REQUIRE(strata::shape_of(a) == strata::shape_of(b));
    CHECK(b.dimension(3) == units);
    CHECK(test::bitwise_equal(a.data(), b.data(), a.size()));
    check_slice_loop(dense, x, b);
    CHECK(nested.get_weights().size() == 2);
  }
}

TEMPLATE_TEST_CASE("mission: the seed question, LSTM(5) then TimeDistributed(Dense(1)) vs Dense(1)", "[mission][seed]",
                   float, double) {
  using T = TestType;
  for (Index batch : {1, 3, 32}) {
    LSTM<T> lstm(5, LSTMOptions().return_sequences(true).input_dim(20).seed(1));
    Dense<T> dense(1, DenseOptions().input_dim(5).seed(2));
    TimeDistributed<Dense<T>> td(dense);  // a copy: the same weights
    const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, 10, 20);

    Tensor<T, 3> h = lstm(x);
    Tensor<T, 3> model_a = td(h);
    Tensor<T, 3> model_b = dense(h);
    CHECK(strata::shape_of(model_a) == strata::Shape{batch, 10, 1});
    CHECK(strata::shape_of(model_b) == strata::Shape{batch, 10, 1});
    CHECK(test::bitwise_equal(model_a.data(), model_b.data(), model_a.size()));
    // The outputs are real numbers, not trivially equal zeros.
    CHECK(test::max_abs_diff(model_a.data(), std::vector<T>(model_a.size(), T(0)).data(), model_a.size()) > 1e-3);
  }
}

TEMPLATE_TEST_CASE("TimeDistributed(LSTM) on rank 4 runs an independent LSTM per outer step",
                   "[time_distributed][lstm]", float, double) {
  using T = TestType;
  for (bool sequences : {false, true}) {
    for (bool backwards : {false, true}) {
      const Index batch = test::random_int(1, 4), t1 = test::random_int(1, 5), t2 = test::random_int(1, 7);
      const Index features = test::random_int(1, 9), units = test::random_int(1, 9);
      LSTM<T> lstm(units,
                   LSTMOptions().return_sequences(sequences).go_backwards(backwards).input_dim(features).seed(5));
      TimeDistributed<LSTM<T>> td(lstm);
      const Tensor<T, 4> x = test::random_tensor<T, 4>(batch, t1, t2, features);

      strata::AnyTensor<T> y = td(x);
      const strata::Shape expected_shape =
          sequences ? strata::Shape{batch, t1, t2, units} : strata::Shape{batch, t1, units};
      REQUIRE(y.shape() == expected_shape);

      // The manual loop: for every outer step, a fresh LSTM call (zero state) on x[:, t1].
      const Index per_step = y.size() / t1;
      for (Index t = 0; t < t1; ++t) {
        Tensor<T, 3> slice = x.template chip<1>(t);
        strata::AnyTensor<T> expected = lstm(slice);
        std::vector<T> got;
        for (Index b = 0; b < batch; ++b) {
          const Index row = per_step / batch;
          const T* start = y.data() + (b * t1 + t) * row;
          got.insert(got.end(), start, start + row);
        }
        CHECK(test::bitwise_equal(got.data(), expected.data(), expected.size()));

        // And the naive equations agree with both.
        naive::LstmConfig cfg;
        cfg.units = static_cast<std::size_t>(units);
        cfg.return_sequences = sequences;
        cfg.go_backwards = backwards;
        const auto ref =
            naive::lstm(test::to_vector(slice), static_cast<std::size_t>(batch), static_cast<std::size_t>(t2),
                        static_cast<std::size_t>(features), test::to_vector(lstm.kernel()),
                        test::to_vector(lstm.recurrent_kernel()), test::to_vector(lstm.bias()), cfg);
        CHECK(test::max_abs_diff(got, ref.output) <= test::tolerance<T>());
      }
    }
  }
}

TEST_CASE("TimeDistributed(LSTM) differs from LSTM: the LSTM alone rejects rank 4", "[time_distributed][lstm]") {
  LSTM<float> lstm(3, LSTMOptions().input_dim(2).seed(1));
  strata::AnyTensor<float> x4 = test::random_tensor<float, 4>(2, 3, 4, 2);
  CHECK_THROWS_AS(lstm(x4), strata::shape_error);
  CHECK_THROWS_WITH(
      lstm(x4), Catch::Contains("strata::LSTM: input must have rank 3") && Catch::Contains("got shape (2, 3, 4, 2)"));
  TimeDistributed<LSTM<float>> td(lstm);
  CHECK(td(x4).shape() == strata::Shape{2, 3, 3});
}

TEST_CASE("TimeDistributed(LSTM) is not LSTM over the flattened time axes", "[time_distributed][lstm]") {
  // Running one LSTM over all T1 * T2 steps carries the state across outer steps; the wrapped
  // LSTM restarts from zeros at every outer step, so the results differ.
  const Index batch = 2, t1 = 3, t2 = 4, features = 3, units = 4;
  LSTM<double> lstm(units, LSTMOptions().input_dim(features).return_sequences(true).seed(3));
  TimeDistributed<LSTM<double>> td(lstm);
  const Tensor<double, 4> x = test::random_tensor<double, 4>(batch, t1, t2, features);
  Tensor<double, 4> wrapped = td(x);
  Eigen::array<Index, 3> flat{batch, t1 * t2, features};
  Tensor<double, 3> flattened = x.reshape(flat);
  Tensor<double, 3> through = lstm(flattened);
  CHECK(wrapped.size() == through.size());
  // The first outer step starts from zeros both ways, so it agrees; later steps do not.
  CHECK(test::max_abs_diff(wrapped.data(), through.data(), t2 * units) == 0.0);
  CHECK(test::max_abs_diff(wrapped.data(), through.data(), wrapped.size()) > 1e-6);
}

TEST_CASE("TimeDistributed rejects a stateful or multi-output inner layer", "[time_distributed][errors]") {
  LSTM<float> stateful(3, LSTMOptions().stateful(true).input_dim(2).name("memory"));
  CHECK_THROWS_AS(TimeDistributed<LSTM<float>>(stateful), strata::value_error);
  CHECK_THROWS_WITH(TimeDistributed<LSTM<float>>(stateful),
                    Catch::Contains("strata::TimeDistributed(LSTM 'memory')") && Catch::Contains("stateful"));
  LSTM<float> with_state(3, LSTMOptions().return_state(true).input_dim(2));
  CHECK_THROWS_AS(TimeDistributed<LSTM<float>>(with_state), strata::value_error);
  CHECK_THROWS_WITH(TimeDistributed<LSTM<float>>(with_state), Catch::Contains("return_state"));
}

TEST_CASE("TimeDistributed errors name the wrapper, the input and the slice", "[time_distributed][errors]") {
  TimeDistributed<Dense<float>> td(Dense<float>(4, DenseOptions().input_dim(20).name("head")),
                                   TimeDistributedOptions().name("td"));
  strata::AnyTensor<float> rank2 = test::random_tensor<float, 2>(3, 20);
  CHECK_THROWS_AS(td(rank2), strata::shape_error);
  CHECK_THROWS_WITH(td(rank2), Catch::Contains("strata::TimeDistributed(Dense 'head') 'td'") &&
                                   Catch::Contains("rank >= 3") && Catch::Contains("(3, 20)"));
  const Tensor<float, 3> wrong = test::random_tensor<float, 3>(2, 5, 21);
  CHECK_THROWS_AS(td(wrong), strata::shape_error);
  CHECK_THROWS_WITH(td(wrong), Catch::Contains("input shape (2, 5, 21)") && Catch::Contains("strata::Dense 'head'") &&
                                   Catch::Contains("features=20") && Catch::Contains("slices of shape (2, 21)"));
  // All of them are std::invalid_argument too.
  CHECK_THROWS_AS(td(wrong), std::invalid_argument);
}

TEST_CASE("TimeDistributed forwards weights to the wrapped layer", "[time_distributed]") {
  TimeDistributed<Dense<double>> td(Dense<double>(3));
  CHECK_FALSE(td.built());
  Tensor<double, 2> kernel = test::random_tensor<double, 2>(4, 3);
  Tensor<double, 1> bias = test::random_tensor<double, 1>(3);
  td.set_weights({kernel, bias});
  CHECK(td.built());
  CHECK(td.layer().input_dim() == 4);
  const auto w = td.get_weights();
  REQUIRE(w.size() == 2);
  CHECK(w[0].shape() == strata::Shape{4, 3});
  CHECK(test::bitwise_equal(w[0].data(), kernel.data(), kernel.size()));
  CHECK(test::bitwise_equal(w[1].data(), bias.data(), bias.size()));
  CHECK(td.count_params() == 15);
}

TEST_CASE("TimeDistributed keeps empty axes empty", "[time_distributed]") {
  TimeDistributed<Dense<float>> td(Dense<float>(2, DenseOptions().input_dim(3).seed(1)));
  Tensor<float, 3> no_time(4, 0, 3);
  Tensor<float, 3> y = td(no_time);
  CHECK(strata::shape_of(y) == strata::Shape{4, 0, 2});
  Tensor<float, 3> no_batch(0, 5, 3);
  CHECK(strata::shape_of(td(no_batch)) == strata::Shape{0, 5, 2});
}
