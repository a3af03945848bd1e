// SPDX-License-Identifier: MIT
// Runs a model trained in Keras from C++: loads the seed model LSTM(5) -> TimeDistributed(Dense(1))
// from a Keras 3 .keras file, prints its summary, predicts a batch, and checks the result against
// the outputs TensorFlow.js (a port of Keras) computed for the same weights and input.
//
//   load_keras_model [MODEL.keras REFERENCE.json]
//
// Exits non-zero when a prediction differs from the reference by more than 1e-5.
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <strata/io.hpp>
#include <string>
#include <vector>

namespace {

strata::AnyTensor<float> tensor_from(const nlohmann::json& j) {
  strata::Shape shape;
  for (const auto& d : j.at("shape")) shape.push_back(d.get<strata::Index>());
  return strata::AnyTensor<float>::from_values(shape, j.at("data").get<std::vector<float>>());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model_path = argc > 2 ? argv[1] : STRATA_EXAMPLE_MODEL;
  const std::string reference_path = argc > 2 ? argv[2] : STRATA_EXAMPLE_REFERENCE;
  try {
    // Keras: model = keras.saving.load_model("seed.keras"); model.summary()
    strata::Model<float> model = strata::load_model<float>(model_path);
    std::cout << model.summary();

    std::ifstream in(reference_path);
    const nlohmann::json reference = nlohmann::json::parse(in);
    const strata::AnyTensor<float> x = tensor_from(reference.at("inputs")[0]);
    const strata::AnyTensor<float> want = tensor_from(reference.at("outputs")[0]);

    // Keras: y = model.predict(x)
    const strata::Tensor<float, 3> y = model.predict(x);
    std::cout << "input " << x.shape() << " -> output " << strata::shape_of(y) << "\n";

    double worst = 0;
    for (strata::Index i = 0; i < want.size(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(y.data()[i]) - static_cast<double>(want.data()[i])));
    }
    std::cout << "largest difference from the Keras (tfjs) outputs: " << worst << "\n";
    if (!(strata::shape_of(y) == want.shape()) || worst > 1e-5) {
      std::cerr << "load_keras_model: the prediction does not match the reference\n";
      return 1;
    }
  } catch (const strata::error& e) {
    std::cerr << "load_keras_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
