// SPDX-License-Identifier: MIT
// Fuzz target: a TF.js Layers model. The input is model.json, then a NUL byte, then the bytes of
// every shard the manifest names (each shard gets the same bytes).
#include <cstring>
#include <map>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* begin = reinterpret_cast<const char*>(data);
  const void* nul = std::memchr(begin, 0, size);
  const std::size_t json_size = nul == nullptr ? size : static_cast<std::size_t>(static_cast<const char*>(nul) - begin);
  const std::string model_json(begin, json_size);
  const std::string shard = json_size < size ? std::string(begin + json_size + 1, size - json_size - 1) : std::string();
  try {
    std::map<std::string, std::string> shards;
    const strata::Config j = strata::io::parse_config(model_json, "fuzz/model.json");
    const strata::Config* manifest = j.find("weightsManifest");
    if (manifest != nullptr && manifest->is_list()) {
      for (const strata::Config& group : manifest->as_list()) {
        const strata::Config* paths = group.find("paths");
        if (paths == nullptr || !paths->is_list()) continue;
        for (const strata::Config& p : paths->as_list()) {
          if (p.is_string()) shards[p.as_string()] = shard;
        }
      }
    }
    auto model = strata::io::load_tfjs_from_memory<float>(model_json, shards, "fuzz/model.json");
    strata_fuzz::exercise(model);
  } catch (const strata::load_error&) {
  } catch (const strata::error&) {
  }
  return 0;
}
