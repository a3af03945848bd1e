// SPDX-License-Identifier: MIT
#ifndef STRATA_IO_LOAD_HPP
#define STRATA_IO_LOAD_HPP

// strata::load_model: Keras model files -> strata::Model. Declarations only: the loaders live in
// the compiled strata::io library (float and double), so a program that loads models compiles
// none of the JSON, HDF5 and zip code, nor the layers' instantiations, itself.

#include <map>
#include <string>

#include "../config.hpp"
#include "../model.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace io {

/// Loads a Keras model for inference, telling the format by content: a Keras 3 `.keras` archive,
/// a legacy (Keras 1/2, or Keras 3 `save("m.h5")`) full-model `.h5`, or a TensorFlow.js Layers
/// `model.json` (its weight shards are read from the same directory). The file's Keras version
/// decides version-dependent behaviour (hard_sigmoid, recurrent defaults). Layers are built
/// through strata::registry<T>(): the built-in classes and those added with register_layer.
/// Throws a strata::load_error (docs/loading-models.md, "Errors"): io_error for an unreadable,
/// truncated or corrupt file, unsupported_error for a layer class or option strata does not
/// implement, model_error for weights or shapes that contradict the model; each names the file
/// and the layer.
template <class T = float>
Model<T> load_model(const std::string& path);

/// Loads a model saved as a JSON config (Keras `model.to_json()`) plus a weights-only `.h5`
/// (`model.save_weights("w.h5")` in Keras 2; Keras 3's `.weights.h5` uses the .keras layout and is
/// read as such).
template <class T = float>
Model<T> load_model(const std::string& config_json_path, const std::string& weights_path);

/// Loads a model from bytes in memory: a .keras archive or an HDF5 full-model file (for tests,
/// fuzzing, and models embedded in a program).
template <class T = float>
Model<T> load_model_from_memory(const std::string& bytes, const std::string& source = "<memory>");

/// Loads a TF.js Layers model from its model.json text and shard bytes by path (for tests and
/// fuzzing).
template <class T = float>
Model<T> load_tfjs_from_memory(const std::string& model_json, const std::map<std::string, std::string>& shards,
                               const std::string& source = "<memory>");

/// Parses JSON text into a Config, with the parser load_model uses; io_error naming `source` for
/// text that is not JSON (or not UTF-8).
Config parse_config(const std::string& json_text, const std::string& source = "<memory>");

extern template Model<float> load_model<float>(const std::string&);
extern template Model<double> load_model<double>(const std::string&);
extern template Model<float> load_model<float>(const std::string&, const std::string&);
extern template Model<double> load_model<double>(const std::string&, const std::string&);
extern template Model<float> load_model_from_memory<float>(const std::string&, const std::string&);
extern template Model<double> load_model_from_memory<double>(const std::string&, const std::string&);
extern template Model<float> load_tfjs_from_memory<float>(const std::string&, const std::map<std::string, std::string>&,
                                                          const std::string&);
extern template Model<double> load_tfjs_from_memory<double>(const std::string&,
                                                            const std::map<std::string, std::string>&,
                                                            const std::string&);

}  // namespace io
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
using io::load_model;
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_IO_LOAD_HPP
