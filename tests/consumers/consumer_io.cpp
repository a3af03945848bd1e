// SPDX-License-Identifier: MIT
// An outside project using the installed strata::io: loads the Keras model given on the command
// line and predicts zeros of its declared input shape.
#include <cstdio>
#include <strata/io.hpp>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::puts("usage: strata_consumer_io MODEL");
    return 2;
  }
  strata::Model<float> model = strata::load_model<float>(argv[1]);
  strata::Shape shape;
  const std::vector<strata::DeclaredShape> declared = model.input_shapes();
  for (strata::Index d : declared.at(0)) shape.push_back(d < 0 ? 2 : d);
  const auto y = model.predict(strata::AnyTensor<float>::zeros(shape));
  std::printf("%s: %s -> %s\n", model.name().c_str(), shape.to_string().c_str(), y.shape().to_string().c_str());
  return y.empty() ? 1 : 0;
}
