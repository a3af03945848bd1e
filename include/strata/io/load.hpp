// SPDX-License-Identifier: MIT
#ifndef STRATA_IO_LOAD_HPP
#define STRATA_IO_LOAD_HPP

// strata::load_model: Keras model files -> strata::Model. Declarations only: the loaders live in
// the compiled strata::io library (float and double), so a program that loads models compiles
// none of the JSON, HDF5 and zip code, nor the layers' instantiations, itself.

#include <cstddef>
#include <map>
#include <string>

#include "../config.hpp"
#include "../error.hpp"
#include "../model.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace io {

/// How load_model reads a file: by default in the calling process; with `isolation(true)`, the
/// part that goes through the HDF5 C library (a legacy `.h5`, a `.keras` archive's
/// `model.weights.h5`, a weights `.h5`) runs in a child process (POSIX `fork`) under a wall-clock
/// timeout and CPU-time and memory limits, and sends the config and weights back through a pipe;
/// the model is then built in the calling process. A crafted or corrupt file that crashes or hangs
/// libhdf5 then costs a strata::io_error naming the file and what happened ("HDF5 reader crashed
/// (signal 11, SIGSEGV)", "timed out after 60 s", "exceeded the memory limit of 1090 MiB") instead
/// of the program. It costs a fork and a copy of the weights through the pipe per load
/// (docs/loading-models.md, "Untrusted files", for measurements). TF.js files do not use HDF5 and
/// are always read in the calling process. Where there is no fork (Windows), asking for isolation
/// is a strata::unsupported_error.
class LoadOptions {
 public:
  /// Reads the HDF5 part of a load in a child process; default false.
  LoadOptions& isolation(bool on) {
    isolation_ = on;
    return *this;
  }
  bool isolation() const { return isolation_; }
  /// Wall-clock limit of the isolated reader in seconds (default 60); past it the child is killed
  /// and the load throws io_error "... timed out after N s". Must be positive.
  LoadOptions& timeout(double seconds) {
    check_positive("timeout", seconds);
    timeout_ = seconds;
    return *this;
  }
  double timeout() const { return timeout_; }
  /// CPU-time limit of the isolated reader (RLIMIT_CPU), in seconds, rounded up; 0 (the default)
  /// means the timeout rounded up plus one second, so that the timeout normally comes first; the
  /// CPU limit (with an alarm as long as the larger limit plus 2 s) also ends a reader whose
  /// program died while it ran.
  LoadOptions& cpu_limit(double seconds) {
    if (seconds != 0) check_positive("cpu_limit", seconds);
    cpu_limit_ = seconds;
    return *this;
  }
  double cpu_limit() const { return cpu_limit_; }
  /// Memory the isolated reader may map on top of what the program had mapped when it forked
  /// (RLIMIT_AS, Linux), in MiB; 0 (the default) means 1024 MiB + 8 x the file's size (the reader
  /// holds the file's bytes, the weights converted to T, their serialised copy and a built model).
  LoadOptions& memory_limit_mb(std::size_t mebibytes) {
    memory_limit_mb_ = mebibytes;
    return *this;
  }
  std::size_t memory_limit_mb() const { return memory_limit_mb_; }

 private:
  static void check_positive(const char* what, double seconds) {
    if (!(seconds > 0) || seconds > 1e6) {
      throw value_error(strata::detail::concat("strata::io::LoadOptions: ", what,
                                               " must be a positive number of seconds (at most 1e6); got ", seconds));
    }
  }

  bool isolation_ = false;
  double timeout_ = 60;
  double cpu_limit_ = 0;
  std::size_t memory_limit_mb_ = 0;
};

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

/// load_model(path) with options: `LoadOptions().isolation(true)` for a file from a source you do
/// not trust (see LoadOptions).
template <class T = float>
Model<T> load_model(const std::string& path, const LoadOptions& options);

/// Loads a model saved as a JSON config (Keras `model.to_json()`) plus a weights-only `.h5`
/// (`model.save_weights("w.h5")` in Keras 2; Keras 3's `.weights.h5` uses the .keras layout and is
/// read as such).
template <class T = float>
Model<T> load_model(const std::string& config_json_path, const std::string& weights_path);

/// load_model(config_json_path, weights_path) with options (see LoadOptions).
template <class T = float>
Model<T> load_model(const std::string& config_json_path, const std::string& weights_path, const LoadOptions& options);

/// Loads a model from bytes in memory: a .keras archive or an HDF5 full-model file (for tests,
/// fuzzing, and models embedded in a program).
template <class T = float>
Model<T> load_model_from_memory(const std::string& bytes, const std::string& source = "<memory>");

/// load_model_from_memory with options (see LoadOptions).
template <class T = float>
Model<T> load_model_from_memory(const std::string& bytes, const std::string& source, const LoadOptions& options);

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
extern template Model<float> load_model<float>(const std::string&, const LoadOptions&);
extern template Model<double> load_model<double>(const std::string&, const LoadOptions&);
extern template Model<float> load_model<float>(const std::string&, const std::string&, const LoadOptions&);
extern template Model<double> load_model<double>(const std::string&, const std::string&, const LoadOptions&);
extern template Model<float> load_model_from_memory<float>(const std::string&, const std::string&, const LoadOptions&);
extern template Model<double> load_model_from_memory<double>(const std::string&, const std::string&,
                                                             const LoadOptions&);
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
using io::LoadOptions;
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_IO_LOAD_HPP
