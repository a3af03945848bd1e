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
#include <sstream>
#include <strata/io.hpp>
#include <string>
#include <vector>

namespace {

// A tensor of the reference file: {"shape": [...], "data": [...]}.
strata::AnyTensor<float> tensor_from(const strata::Config& j) {
  strata::Shape shape;
  for (const auto& d : j.find("shape")->as_list()) shape.push_back(static_cast<strata::Index>(d.as_integer()));
  std::vector<float> values;
  for (const auto& v : j.find("data")->as_list()) values.push_back(static_cast<float>(v.as_number()));
  return strata::AnyTensor<float>::from_values(shape, values);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model_path = argc > 2 ? argv[1] : STRATA_EXAMPLE_MODEL;
  const std::string reference_path = argc > 2 ? argv[2] : STRATA_EXAMPLE_REFERENCE;
  try {
    // Keras: model = keras.saving.load_model("seed.keras"); model.summary()
    strata::Model<float> model = strata::load_model<float>(model_path);
    std::cout << model.summary();

    // The reference file is JSON; strata's own parser reads it (strata::Config).
    std::ifstream in(reference_path);
    std::stringstream text;
    text << in.rdbuf();
    const strata::Config reference = strata::io::parse_config(text.str(), reference_path);
    const strata::AnyTensor<float> x = tensor_from(reference.find("inputs")->as_list().at(0));
    const strata::AnyTensor<float> want = tensor_from(reference.find("outputs")->as_list().at(0));

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
  } catch (const strata::load_error& e) {  // the file cannot be loaded
    std::cerr << "load_keras_model: " << e.what() << "\n";
    return 1;
  } catch (const strata::error& e) {  // a bad argument, e.g. an input of the wrong shape
    std::cerr << "load_keras_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
