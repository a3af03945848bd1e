// SPDX-License-Identifier: MIT
// Error paths shared by all layers: the typed exceptions, their base classes, and what a caller
// of the low-level forward() is protected from.
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/util.hpp"

using strata::Dense;
using strata::DenseOptions;
using strata::Index;
using strata::LSTM;
using strata::LSTMOptions;
using strata::Shape;

TEST_CASE("errors: every strata exception is a std::invalid_argument", "[errors]") {
  CHECK(std::is_base_of_v<std::invalid_argument, strata::error>);
  CHECK(std::is_base_of_v<strata::error, strata::shape_error>);
  CHECK(std::is_base_of_v<strata::error, strata::value_error>);
}

TEST_CASE("errors: forward() checks the input shape and the output buffer size", "[errors]") {
  Dense<float> dense(4, DenseOptions().input_dim(3).seed(1));
  std::vector<float> in(2 * 3, 0.5f);
  std::vector<float> out(2 * 4);
  CHECK_NOTHROW(dense.forward(in.data(), Shape{2, 3}, out.data(), 8));
  CHECK_THROWS_AS(dense.forward(in.data(), Shape{2, 3}, out.data(), 7), strata::shape_error);
  CHECK_THROWS_WITH(dense.forward(in.data(), Shape{2, 3}, out.data(), 7),
                    Catch::Contains("output buffer holds 7") && Catch::Contains("(2, 4)"));
  CHECK_THROWS_AS(dense.forward(in.data(), Shape{3, 2}, out.data(), 8), strata::shape_error);

  LSTM<float> lstm(2, LSTMOptions().input_dim(3).seed(1));
  CHECK_THROWS_AS(lstm.forward(in.data(), Shape{1, 2, 3}, out.data(), 3), strata::shape_error);
}

TEST_CASE("errors: an empty AnyTensor input is rejected by name", "[errors]") {
  Dense<float> dense(4, DenseOptions().input_dim(3).name("d"));
  strata::AnyTensor<float> nothing;
  CHECK_THROWS_AS(dense(nothing), strata::shape_error);
  CHECK_THROWS_WITH(dense(nothing), Catch::Contains("strata::Dense 'd'") && Catch::Contains("empty"));
}

TEST_CASE("errors: absurd sizes are rejected before allocating", "[errors]") {
  Dense<float> dense(4, DenseOptions().input_dim(3));
  std::vector<float> in(3);
  const Index huge = Index(1) << 62;
  std::vector<float> out(4);
  CHECK_THROWS_AS(dense.forward(in.data(), Shape{huge, 8, 3}, out.data(), 4), strata::shape_error);
  CHECK_THROWS_AS(Dense<float>(-3), strata::value_error);
  CHECK_THROWS_AS(Dense<float>(3, DenseOptions().input_dim(-1)), strata::value_error);
  CHECK_THROWS_AS(LSTM<float>(3, LSTMOptions().input_dim(-1)), strata::value_error);
}

TEST_CASE("errors: count_params needs a built layer", "[errors]") {
  CHECK_THROWS_AS(Dense<float>(4).count_params(), strata::value_error);
  CHECK_THROWS_AS(LSTM<float>(4).count_params(), strata::value_error);
  CHECK_THROWS_WITH(LSTM<float>(4).count_params(), Catch::Contains("count_params needs weights"));
}

TEST_CASE("errors: a stateful LSTM keeps its batch size, even for an explicit initial state", "[errors]") {
  LSTM<float> lstm(2, LSTMOptions().stateful(true).input_dim(3).seed(1));
  (void)lstm(test::random_tensor<float, 3>(4, 2, 3));
  const strata::LSTMState<float> other_batch{strata::Tensor<float, 2>(5, 2), strata::Tensor<float, 2>(5, 2)};
  const auto x5 = test::random_tensor<float, 3>(5, 2, 3);
  CHECK_THROWS_AS(lstm.call(x5, other_batch), strata::shape_error);
  CHECK_THROWS_WITH(lstm.call(x5, other_batch), Catch::Contains("holds states for batch 4"));
  CHECK(lstm.states().h.dimension(0) == 4);
  // An empty batch is another batch size too; after reset_states() it runs and stores nothing.
  CHECK_THROWS_AS(lstm(test::random_tensor<float, 3>(0, 2, 3)), strata::shape_error);
  lstm.reset_states();
  CHECK(lstm(test::random_tensor<float, 3>(0, 2, 3)).size() == 0);
  CHECK_FALSE(lstm.has_states());
}
