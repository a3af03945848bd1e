// SPDX-License-Identifier: MIT
// Shape and AnyTensor: the run-time-rank pieces layers use for messages, weights and LSTM output.
#include <limits>
#include <vector>

#include "support/catch.hpp"
#include "support/util.hpp"

using strata::AnyTensor;
using strata::Index;
using strata::Shape;
using strata::Tensor;

TEST_CASE("Shape prints like a Python tuple and multiplies safely", "[tensor]") {
  CHECK(Shape{32, 10, 21}.to_string() == "(32, 10, 21)");
  CHECK(Shape{5}.to_string() == "(5,)");
  CHECK(Shape{}.to_string() == "()");
  CHECK(Shape{2, 3, 4}.size() == 24);
  CHECK(Shape{2, 0, 4}.size() == 0);
  CHECK(Shape{2, 3, 4}.product(1, 3) == 12);
  CHECK(Shape{2, 3, 4}.tail(1) == Shape{3, 4});
  CHECK(Shape{1, 2} != Shape{1, 2, 1});
  const Index big = std::numeric_limits<Index>::max() / 2;
  CHECK_THROWS_AS((Shape{big, 3}.size()), strata::shape_error);
  CHECK_THROWS_WITH((Shape{big, 3}.size()), Catch::Contains("too many elements"));
  CHECK_THROWS_AS((Shape{1, -2}), strata::shape_error);
  Shape s;
  for (int i = 0; i < strata::max_rank; ++i) s.push_back(1);
  CHECK_THROWS_AS(s.push_back(1), strata::shape_error);
}

TEST_CASE("AnyTensor holds a tensor of run-time rank and converts back without copying", "[tensor]") {
  Tensor<float, 3> t = test::random_tensor<float, 3>(2, 3, 4);
  const std::vector<float> values = test::to_vector(t);
  AnyTensor<float> any = t;
  CHECK(any.rank() == 3);
  CHECK(any.shape() == Shape{2, 3, 4});
  CHECK(any.size() == 24);
  CHECK(test::bitwise_equal(any.data(), values.data(), 24));

  const float* storage = any.data();
  Tensor<float, 3> back = std::move(any);
  CHECK(back.data() == storage);  // moved, not copied
  CHECK(test::bitwise_equal(back.data(), values.data(), 24));

  AnyTensor<float> other = t;
  CHECK_THROWS_AS((static_cast<Tensor<float, 2>>(other)), strata::shape_error);
  CHECK_THROWS_WITH(other.get<4>(),
                    Catch::Contains("rank 3") && Catch::Contains("(2, 3, 4)") && Catch::Contains("asked for rank 4"));
}

TEST_CASE("AnyTensor factories check their arguments", "[tensor]") {
  AnyTensor<double> z = AnyTensor<double>::zeros(Shape{2, 2});
  CHECK(z.rank() == 2);
  for (Index i = 0; i < z.size(); ++i) CHECK(z.data()[i] == 0.0);
  AnyTensor<double> v = AnyTensor<double>::from_values(Shape{3}, {1.0, 2.0, 3.0});
  CHECK(v.get<1>()(2) == 3.0);
  CHECK_THROWS_AS(AnyTensor<double>::from_values(Shape{2, 2}, {1.0}), strata::shape_error);
  CHECK_THROWS_AS(AnyTensor<double>::uninitialized(Shape{}), strata::shape_error);
  AnyTensor<double> empty;
  CHECK(empty.empty());
  CHECK(empty.rank() == 0);
  CHECK(empty.data() == nullptr);
}

TEST_CASE("AnyTensor copies a TensorMap", "[tensor]") {
  std::vector<float> buffer{1, 2, 3, 4, 5, 6};
  strata::ConstTensorMap<float, 2> view(buffer.data(), 2, 3);
  AnyTensor<float> copy(view);
  CHECK(copy.shape() == Shape{2, 3});
  CHECK(copy.data() != buffer.data());
  CHECK(test::bitwise_equal(copy.data(), buffer.data(), 6));
}
