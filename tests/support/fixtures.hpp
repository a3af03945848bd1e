// SPDX-License-Identifier: MIT
// Reading the reference fixtures (JSON files of tools/keras-reference, tools/torch-reference and
// tools/keras-files) in the tests that link nlohmann-json: the io and parity tests.
#ifndef STRATA_TESTS_FIXTURES_HPP
#define STRATA_TESTS_FIXTURES_HPP

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <strata/tensor.hpp>
#include <string>
#include <vector>

namespace test {

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(in);
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// A fixture tensor {"shape": [...], "data": [...]}. Weights and inputs are float32 values written
/// as the shortest decimal that reads back as that float32 (`float32` rounds them there); outputs
/// are plain decimals (float32 values from tfjs, float64 ones from PyTorch).
template <class T>
strata::AnyTensor<T> tensor_from(const nlohmann::json& j, bool float32 = false) {
  strata::Shape shape;
  for (const auto& d : j.at("shape")) shape.push_back(d.get<strata::Index>());
  std::vector<T> values;
  values.reserve(j.at("data").size());
  for (const auto& v : j.at("data")) {
    const double d = v.get<double>();
    values.push_back(float32 ? static_cast<T>(static_cast<float>(d)) : static_cast<T>(d));
  }
  return strata::AnyTensor<T>::from_values(shape, values);
}

}  // namespace test

#endif  // STRATA_TESTS_FIXTURES_HPP
