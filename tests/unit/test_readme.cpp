// SPDX-License-Identifier: MIT
// The README's "API tour" snippet on Sequential and Model, verbatim between the markers, with checks
// of what its comments claim.
#include <strata/strata.hpp>

#include "support/catch.hpp"

TEST_CASE("README: Sequential and Model as the API tour shows them", "[readme]") {
  // --- README snippet
  // clang-format off
  strata::Sequential chain(strata::LSTM<float>(5, strata::LSTMOptions().return_sequences(true).input_dim(20)),
                           strata::TimeDistributed<strata::Dense<float>>(strata::Dense<float>(1, strata::DenseOptions().input_dim(5))));
  strata::Tensor<float, 3> x(32, 10, 20);
  x.setRandom();
  strata::Tensor<float, 3> y = chain(x);                  // (32, 10, 1)

  strata::Model<float> model("seed", "Sequential");
  auto in = model.add_input("x", {-1, 10, 20});           // Keras Input((10, 20)); -1 is None
  auto h = model.add(chain.layer<0>(), in);
  model.set_outputs({model.add(chain.layer<1>(), h)});
  strata::Tensor<float, 3> same = model.predict(x);       // x is viewed, not copied; bitwise y
  strata::LSTM<float>& lstm = model.layer<strata::LSTM<float>>(model.layer_names()[0]);
  // clang-format on
  // --- end of the README snippet
  CHECK(strata::shape_of(y) == strata::Shape{32, 10, 1});
  REQUIRE(same.size() == y.size());
  for (strata::Index i = 0; i < y.size(); ++i) CHECK(same.data()[i] == y.data()[i]);
  CHECK(lstm.units() == 5);
}
