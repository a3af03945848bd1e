// SPDX-License-Identifier: MIT
// Shared by the loader fuzz targets: a loader may reject any input, but only with strata's typed
// errors (strata::load_error for the file, strata::error for running it). Anything else (another exception, a crash, a
// leak, a sanitizer report) is a finding.
#ifndef STRATA_FUZZ_COMMON_HPP
#define STRATA_FUZZ_COMMON_HPP

#include <cstddef>
#include <cstdint>
#include <strata/io.hpp>
#include <string>
#include <vector>

namespace strata_fuzz {

/// Runs the model once on zeros of its declared input shapes (None as 1), so the fuzzers also
/// reach the layers with whatever the file declared. Sizes are capped to keep runs fast.
template <class T>
void exercise(strata::Model<T>& model) {
  std::vector<strata::AnyTensor<T>> inputs;
  for (const auto& declared : model.input_shapes()) {
    strata::Shape shape;
    for (strata::Index d : declared) shape.push_back(d < 0 ? 1 : d);
    if (shape.size() > 4096) return;
    inputs.push_back(strata::AnyTensor<T>::zeros(shape));
  }
  (void)model.summary();
  (void)model.predict(inputs);
}

}  // namespace strata_fuzz

#endif  // STRATA_FUZZ_COMMON_HPP
