// SPDX-License-Identifier: MIT
// A Keras-style Transformer text classifier, loaded from a Keras 3 .keras file:
//
//   ids (batch, 7), 0 = padding
//   -> keras_hub.layers.TokenAndPositionEmbedding(20, 10, 16, mask_zero=True)
//   -> keras_hub.layers.TransformerEncoder(32, 4) -> keras_hub.layers.TransformerEncoder(32, 4)
//   -> GlobalAveragePooling1D (the mean of the kept steps) -> Dense(3, softmax)
//
// keras-hub is not needed: strata registers its classes under their Keras names. The padding mask
// made by the embedding flows through both encoders (keras-hub masks the padded key steps) into the
// pooling. The program checks that
//   1. the loaded model reproduces the reference probabilities (tools/torch-reference/
//      make_transformer_fixtures.py composes keras-hub's call() in numpy and cross-checks it with
//      torch.nn.TransformerEncoderLayer; tools/keras-files/make_fixtures.py wrote the .keras file);
//   2. a padded sequence gives bitwise the result of the same sequence without padding: the typed
//      layers, taken from the loaded model, run each sequence alone at its own length, and padded to
//      the embedding's full sequence_length;
//   3. a sample's result does not depend on the batch around it (bitwise).
//
//   transformer_classifier [MODEL.keras REFERENCE.json]
//
// Exits non-zero when a check fails.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <strata/io.hpp>
#include <strata/strata.hpp>
#include <string>
#include <vector>

namespace {

using strata::AnyTensor;
using strata::Index;
using strata::Shape;

AnyTensor<float> tensor_from(const strata::Config& j) {
  Shape shape;
  for (const auto& d : j.find("shape")->as_list()) shape.push_back(static_cast<Index>(d.as_integer()));
  std::vector<float> values;
  for (const auto& v : j.find("data")->as_list()) values.push_back(static_cast<float>(v.as_number()));
  return AnyTensor<float>::from_values(shape, values);
}

// The classifier's layers as typed strata layers, with the loaded model's weights.
struct TypedClassifier {
  const strata::TokenAndPositionEmbedding<float>& embedding;
  const strata::TransformerEncoder<float>& encoder1;
  const strata::TransformerEncoder<float>& encoder2;
  const strata::Dense<float>& dense;
  strata::GlobalAveragePooling1D<float> pooling;

  // ids (batch, steps) -> probabilities (batch, 3); the mask is ids != 0, as mask_zero makes it.
  std::vector<float> operator()(const AnyTensor<float>& ids) const {
    const Index batch = ids.shape()[0], steps = ids.shape()[1];
    strata::Mask mask(batch, steps);
    for (Index i = 0; i < ids.size(); ++i) mask.data()[i] = ids.data()[i] != 0.0f;
    strata::TransformerEncoderMasks<float> masks;
    masks.input_mask = &mask;
    const AnyTensor<float> x = embedding(ids);
    const AnyTensor<float> h = encoder2.call(encoder1.call(x, masks), masks);
    AnyTensor<float> pooled = AnyTensor<float>::uninitialized(Shape{batch, h.shape()[2]});
    pooling.forward(h.data(), h.shape(), &mask, pooled.data(), pooled.size());
    const AnyTensor<float> p = dense(pooled);
    return std::vector<float>(p.data(), p.data() + p.size());
  }
};

bool same_bits(const float* a, const float* b, Index n) {
  for (Index i = 0; i < n; ++i) {
    if (!(a[i] == b[i])) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model_path = argc > 2 ? argv[1] : STRATA_EXAMPLE_MODEL;
  const std::string reference_path = argc > 2 ? argv[2] : STRATA_EXAMPLE_REFERENCE;
  int failures = 0;
  const auto check = [&](bool ok, const std::string& what) {
    std::cout << (ok ? "ok    " : "FAIL  ") << what << "\n";
    if (!ok) ++failures;
  };
  try {
    const strata::Model<float> model = strata::load_model<float>(model_path);
    std::cout << model.summary() << "\n";

    std::ifstream in(reference_path);
    std::stringstream text;
    text << in.rdbuf();
    const strata::Config reference = strata::io::parse_config(text.str(), reference_path);
    const AnyTensor<float> ids = tensor_from(reference.find("inputs")->as_list().at(0));
    // The float32 reference: Keras in float32 (padded query steps, which Keras masks everywhere,
    // attend uniformly; they do not reach the pooled result).
    const AnyTensor<float> want = tensor_from(reference.find("outputs_float32")->as_list().at(0));
    const Index batch = ids.shape()[0], steps = ids.shape()[1], classes = want.shape()[1];

    // 1. The loaded model on the padded batch against the reference.
    const AnyTensor<float> probs = model.predict(ids);
    double worst = 0;
    for (Index i = 0; i < want.size(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(probs.data()[i]) - static_cast<double>(want.data()[i])));
    }
    std::cout << "padded batch of " << batch << " sequences of " << steps << " ids; largest difference to the "
              << "reference: " << worst << "\n";
    check(worst <= 1e-5, "the loaded model reproduces the reference probabilities (within 1e-5)");

    // 2. Each sequence unpadded, and padded to the embedding's sequence_length, through the typed
    //    layers holding the model's weights.
    const TypedClassifier typed{model.layer<strata::TokenAndPositionEmbedding<float>>("token_and_position_embedding"),
                                model.layer<strata::TransformerEncoder<float>>("transformer_encoder"),
                                model.layer<strata::TransformerEncoder<float>>("transformer_encoder_1"),
                                model.layer<strata::Dense<float>>("dense"), strata::GlobalAveragePooling1D<float>()};
    const Index longest = typed.embedding.sequence_length();
    bool unpadded_same = true, longer_same = true;
    for (Index b = 0; b < batch; ++b) {
      const float* row = ids.data() + b * steps;
      const Index length = static_cast<Index>(std::find(row, row + steps, 0.0f) - row);
      const AnyTensor<float> alone =
          AnyTensor<float>::from_values(Shape{1, length}, std::vector<float>(row, row + length));
      std::vector<float> padded(static_cast<std::size_t>(longest), 0.0f);
      std::copy(row, row + length, padded.begin());
      const std::vector<float> a = typed(alone);
      const std::vector<float> p = typed(AnyTensor<float>::from_values(Shape{1, longest}, padded));
      std::cout << "  sequence " << b << ": " << length << " ids, probabilities";
      for (float v : a) std::cout << " " << v;
      std::cout << "\n";
      unpadded_same = unpadded_same && same_bits(a.data(), probs.data() + b * classes, classes);
      longer_same = longer_same && same_bits(p.data(), probs.data() + b * classes, classes);
    }
    check(unpadded_same, "every padded sequence gives bitwise the probabilities of the sequence without padding");
    check(longer_same, "padding to sequence_length (" + std::to_string(longest) + ") changes no bit either");

    // 3. Batch invariance: each sample alone through the loaded model.
    bool alone_same = true;
    for (Index b = 0; b < batch; ++b) {
      const AnyTensor<float> one = AnyTensor<float>::from_values(
          Shape{1, steps}, std::vector<float>(ids.data() + b * steps, ids.data() + (b + 1) * steps));
      const AnyTensor<float> p = model.predict(one);
      alone_same = alone_same && same_bits(p.data(), probs.data() + b * classes, classes);
    }
    check(alone_same, "a sample's probabilities do not depend on the batch around it");
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  if (failures > 0) {
    std::cout << failures << " check(s) failed\n";
    return 1;
  }
  std::cout << "all checks passed\n";
  return 0;
}
