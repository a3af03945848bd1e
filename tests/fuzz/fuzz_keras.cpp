// SPDX-License-Identifier: MIT
// Fuzz target: a Keras 3 .keras archive (zip of metadata.json, config.json, model.weights.h5).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    auto model = strata::io::load_model_from_memory<float>(bytes, "fuzz.keras");
    strata_fuzz::exercise(model);
  } catch (const strata::load_error&) {
  } catch (const strata::error&) {
  }
  return 0;
}
