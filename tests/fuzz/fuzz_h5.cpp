// SPDX-License-Identifier: MIT
// Fuzz target: a legacy Keras full-model .h5 file (HDF5 with model_config and model_weights).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    auto model = strata::io::load_model_from_memory<float>(bytes, "fuzz.h5");
    strata_fuzz::exercise(model);
  } catch (const strata::load_error&) {
  } catch (const strata::error&) {
  }
  return 0;
}
