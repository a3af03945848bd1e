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
    const auto j = nlohmann::json::parse(model_json, nullptr, false);
    if (j.is_object() && j.contains("weightsManifest") && j["weightsManifest"].is_array()) {
      for (const auto& group : j["weightsManifest"]) {
        if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array()) continue;
        for (const auto& p : group["paths"]) {
          if (p.is_string()) shards[p.get<std::string>()] = shard;
        }
      }
    }
    auto model = strata::io::load_tfjs_from_memory<float>(model_json, shards, "fuzz/model.json");
    strata_fuzz::exercise(model);
  } catch (const strata::error&) {
  }
  return 0;
}
