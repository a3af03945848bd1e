// SPDX-License-Identifier: MIT
// Padded batches, the Keras way: token sequences of different lengths padded with index 0, fed to
// Embedding(mask_zero=True) -> Bidirectional(GRU) -> Dense(1, sigmoid), the shape of a typical
// Keras text classifier. The mask makes the recurrent layers skip the padding, so each sentence
// scores the same as when it is run alone, unpadded -- which this program checks -- and it shows
// what happens without the mask.
//
// Exits with status 1 if any claim it prints turns out false.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <strata/strata.hpp>
#include <vector>

namespace {

bool check(bool ok, const char* claim) {
  std::printf("%s %s\n", ok ? "ok:    " : "FAILED:", claim);
  return ok;
}

using Ids = Eigen::Tensor<int, 2, Eigen::RowMajor, Eigen::Index>;

}  // namespace

int main() {
  // Keras:
  //   model = Sequential([Input((None,), dtype="int32"), Embedding(50, 8, mask_zero=True),
  //                       Bidirectional(GRU(6)), Dense(1, activation="sigmoid")])
  strata::Embedding<float> embed(50, 8, strata::EmbeddingOptions().mask_zero(true).seed(1));
  strata::Bidirectional<strata::GRU<float>> encoder(strata::GRU<float>(6, strata::GRUOptions().input_dim(8).seed(2)));
  strata::Dense<float> head(1, strata::DenseOptions().input_dim(12).activation("sigmoid").seed(3));

  const auto score = [&](const Ids& ids, bool use_mask) {
    const strata::Tensor<float, 3> e = embed(ids);
    const std::optional<strata::Mask> mask = embed.compute_mask(ids);
    const strata::Tensor<float, 2> h = use_mask ? encoder(e, *mask).get<2>() : encoder(e).get<2>();
    return strata::Tensor<float, 2>(head(h));
  };

  // Three sentences of lengths 5, 2 and 4, padded at the end (Keras' pad_sequences default is at
  // the front; both are fine with a mask).
  const std::vector<std::vector<int>> sentences = {{12, 7, 33, 4, 9}, {18, 2}, {41, 5, 5, 27}};
  Ids batch(3, 5);
  batch.setZero();
  for (int s = 0; s < 3; ++s) {
    for (std::size_t t = 0; t < sentences[s].size(); ++t) batch(s, static_cast<Eigen::Index>(t)) = sentences[s][t];
  }
  const strata::Tensor<float, 2> masked = score(batch, true);
  const strata::Tensor<float, 2> unmasked = score(batch, false);

  bool ok = true;
  float worst_unmasked = 0;
  for (int s = 0; s < 3; ++s) {
    Ids alone(1, static_cast<Eigen::Index>(sentences[s].size()));
    for (std::size_t t = 0; t < sentences[s].size(); ++t) alone(0, static_cast<Eigen::Index>(t)) = sentences[s][t];
    const float single = score(alone, true)(0, 0);
    std::printf("sentence %d: alone %.7f, padded with mask %.7f, padded without mask %.7f\n", s, single, masked(s, 0),
                unmasked(s, 0));
    ok &= check(single == masked(s, 0), "with the mask, a padded sentence scores exactly as it does alone");
    worst_unmasked = std::max(worst_unmasked, std::abs(single - unmasked(s, 0)));
  }
  // Without the mask the GRUs read the padding rows of the embedding as tokens.
  ok &= check(worst_unmasked > 1e-6f, "without the mask, the padding changes the scores of the padded sentences");

  // An index outside the vocabulary is an error naming it, not a read out of bounds.
  batch(2, 4) = 50;
  bool threw = false;
  try {
    score(batch, true);
  } catch (const strata::value_error& e) {
    std::printf("%s\n", e.what());
    threw = true;
  }
  ok &= check(threw, "an out-of-range token index throws value_error");
  return ok ? 0 : 1;
}
