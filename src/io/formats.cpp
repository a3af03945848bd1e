// SPDX-License-Identifier: MIT
// The three Keras model formats strata reads. Each turns a file into (config, version, weight
// reader) and hands them to io::build_model:
// - Keras 3 `.keras`: a zip of metadata.json, config.json and model.weights.h5, weights under
//   per-class container keys (layers/lstm/cell/vars/0), not layer names;
// - legacy `.h5` (Keras 1/2, and Keras 3's legacy writer): model_config attribute, weights bound
//   by order of the layers that have them, values in weight_names order (in a Keras 1 file, in
//   the layout the layer declares for Keras 1 when it has one: legacy_weight_groups);
// - TensorFlow.js Layers `model.json` + binary shards: weights bound by manifest name.

#include <zip.h>

#if __has_include(<unistd.h>)
#include <unistd.h>
#define STRATA_IO_HAS_MKSTEMP 1
#else
#define STRATA_IO_HAS_MKSTEMP 0
#endif

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <strata/io/load.hpp>
#include <strata/registry.hpp>
#include <string>
#include <utility>
#include <vector>

#include "builder.hpp"
#include "hdf5.hpp"
#include "isolation.hpp"
#include "model_config.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace io {

using detail::json;

namespace detail {

inline std::string read_file(const std::string& path, std::size_t limit = std::size_t(1) << 34) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(concat("strata::load_model: cannot open '", path, "'"));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<std::uint64_t>(size) > limit) {
    throw io_error(concat("strata::load_model: cannot read '", path, "' (size ", size, ")"));
  }
  in.seekg(0, std::ios::beg);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (size > 0 && !in.read(bytes.data(), size)) throw io_error(concat("strata::load_model: cannot read '", path, "'"));
  return bytes;
}

inline json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw io_error(concat("strata::load_model: ", what, " is not valid JSON: ", e.what()));
  }
}

/// Runs a loader, turning a JSON value of an unexpected type anywhere in a file into an io_error,
/// and what a layer or tensor refused on the way (a strata::error) into a model_error, so that
/// everything a loader throws is a load_error naming the file.
template <class F>
auto guarded(const std::string& source, F&& load) {
  try {
    return load();
  } catch (const json::exception& e) {
    throw io_error(concat("strata::load_model(", source, "): malformed JSON content: ", e.what()));
  } catch (const strata::error& e) {
    throw model_error(concat("strata::load_model(", source, "): ", e.what()));
  }
}

inline std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

/// Reads a Keras 3 weights file: each weight group at `<key>/<path>/vars/<n>`, n = 0, 1, ...
template <class T>
WeightReader<T> keras3_weight_reader(std::shared_ptr<hdf5::File> file) {
  return [file](const WeightRequest& req) {
    const std::string who = "strata::load_model(" + file->source() + "), " + req.describe();
    Weights<T> out;
    std::size_t flat = 0;
    for (const WeightGroup& g : req.groups) {
      const std::string wanted = req.keras3_path(g);
      std::string path = wanted;
      // tf.keras 2.12-2.14 wrote the same tree under _layer_checkpoint_dependencies.
      if (!hdf5::exists(file->id(), path) && path.rfind("layers/", 0) == 0) {
        const std::string alt = "_layer_checkpoint_dependencies/" + path.substr(7);
        if (hdf5::exists(file->id(), alt)) path = alt;
      }
      if (!hdf5::exists(file->id(), path)) {
        throw io_error(concat(who, ": the weights file has no group '", wanted, "'"));
      }
      hdf5::Handle group = hdf5::open_group(*file, file->id(), path);
      const std::size_t stored = hdf5::link_count(group.get());
      if (stored != g.weights.size()) {
        throw model_error(
            concat(who, ": needs ", g.weights.size(), " weight arrays; the file has ", stored, " in '", path, "'"));
      }
      for (std::size_t i = 0; i < g.weights.size(); ++i, ++flat) {
        out.push_back(hdf5::read_dataset<T>(*file, group.get(), std::to_string(i), g.weights[i].shape,
                                            who + ", " + req.weight_label(flat)));
      }
    }
    return out;
  };
}

/// Legacy h5 weights: the layer groups with weights, in layer_names order.
struct LegacyLayer {
  std::string name;
  std::vector<std::string> weight_names;
  std::size_t read = 0;  // how many of them the model's layers took
};

/// Whether a legacy weight name ("sequential/dense/kernel:0", "dense/kernel:0") belongs to the
/// layer `layer`: one of its path segments before the variable's own name is the layer's name.
inline bool legacy_name_in(const std::string& weight_name, const std::string& layer) {
  std::size_t start = 0;
  for (std::size_t slash = weight_name.find('/'); slash != std::string::npos;
       start = slash + 1, slash = weight_name.find('/', start)) {
    if (weight_name.compare(start, slash - start, layer) == 0 && slash - start == layer.size()) return true;
  }
  return false;
}

template <class T>
WeightReader<T> legacy_weight_reader(std::shared_ptr<hdf5::File> file, std::string root,
                                     std::shared_ptr<std::vector<LegacyLayer>> layers) {
  hdf5::Handle group = hdf5::open_group(*file, file->id(), root);
  const auto names = hdf5::chunked_string_list(*file, group.get(), "layer_names");
  for (const std::string& name : names) {
    if (!hdf5::exists(group.get(), name)) {
      throw io_error(concat("strata::load_model(", file->source(), "): layer_names lists '", name,
                            "' but there is no such group"));
    }
    hdf5::Handle g = hdf5::open_group(*file, group.get(), name);
    auto weight_names = hdf5::chunked_string_list(*file, g.get(), "weight_names");
    if (!weight_names.empty()) layers->push_back(LegacyLayer{name, std::move(weight_names), 0});
  }
  return [file, root, layers](const WeightRequest& req) {
    const std::string who = "strata::load_model(" + file->source() + "), " + req.describe();
    if (req.weighted_index >= layers->size()) {
      throw io_error(concat(who, ": the file holds weights for ", layers->size(),
                            " layers, fewer than the model's layers with weights"));
    }
    LegacyLayer& l = (*layers)[req.weighted_index];
    // A nested model's group holds the weights of all the layers inside it (Keras writes
    // model.trainable_weights + non_trainable_weights): a layer's are those its name prefixes.
    std::vector<std::string> names = l.weight_names;
    if (!req.scope.empty()) {
      names.clear();
      for (const std::string& n : l.weight_names) {
        if (legacy_name_in(n, req.layer_name)) names.push_back(n);
      }
    }
    // A layer an older Keras stored in another layout (Keras 1's per-gate LSTM arrays) is read in
    // that layout when the file holds its number of arrays; the builder converts it.
    const WeightRequest stored = req.is_legacy(names.size()) ? req.as_legacy() : req;
    if (names.size() != stored.count()) {
      const std::string legacy =
          req.legacy_groups.empty() ? std::string() : concat(" (or ", req.as_legacy().count(), " in the older layout)");
      const std::string held = req.scope.empty() ? std::string(" has ")
                                                 : concat(" (nested model '", req.scope.front(), "') has, named '",
                                                          req.layer_name, "/...', ");
      throw model_error(concat(who, ": needs ", req.count(), " weight arrays", legacy, "; the file's layer '", l.name,
                               "'", held, names.size()));
    }
    hdf5::Handle g = hdf5::open_group(*file, file->id(), root == "/" ? l.name : root + "/" + l.name);
    Weights<T> out;
    for (std::size_t i = 0; i < names.size(); ++i) {
      out.push_back(
          hdf5::read_dataset<T>(*file, g.get(), names[i], stored.spec(i).shape, who + ", " + stored.weight_label(i)));
    }
    l.read += names.size();
    return out;
  };
}

/// The backend that wrote a legacy file's weights (KerasVersion::backend): Keras 2 records it on
/// the file (save_model) and on the weights group (save_weights); Keras 1 records none, but its
/// TensorFlow backend named every variable "<name>:0" and Theano "<name>".
inline std::string legacy_backend(const hdf5::File& file, const std::string& root, const KerasVersion& version) {
  hdf5::Handle group = hdf5::open_group(file, file.id(), root);
  for (hid_t id : {file.id(), group.get()}) {
    if (hdf5::has_attribute(id, "backend")) return hdf5::string_attribute1(file, id, "backend");
  }
  if (!version.keras1()) return {};
  bool any = false;
  for (const std::string& name : hdf5::chunked_string_list(file, group.get(), "layer_names")) {
    hdf5::Handle g = hdf5::open_group(file, group.get(), name);
    for (const std::string& w : hdf5::chunked_string_list(file, g.get(), "weight_names")) {
      if (w.size() >= 2 && w.compare(w.size() - 2, 2, ":0") == 0) return "tensorflow";
      any = true;
    }
  }
  return any ? "theano" : "";
}

template <class T>
Model<T> load_legacy(std::shared_ptr<hdf5::File> file, const json& model_config, const std::string& version,
                     const std::string& root, const BuildStep<T>& build) {
  auto layers = std::make_shared<std::vector<LegacyLayer>>();
  KerasVersion keras = KerasVersion::parse(version);
  keras.backend = legacy_backend(*file, root, keras);
  Model<T> model = build(model_config, keras, legacy_weight_reader<T>(file, root, layers), file->source());
  std::size_t used = 0;
  for (const LegacyLayer& l : *layers) used += l.read > 0 ? 1 : 0;
  if (used != layers->size()) {
    throw io_error(concat("strata::load_model(", file->source(), "): the file holds weights for ", layers->size(),
                          " layers; the model has ", used, " layers with weights"));
  }
  for (const LegacyLayer& l : *layers) {
    if (l.read != l.weight_names.size()) {
      throw model_error(concat("strata::load_model(", file->source(), "): the file's layer '", l.name, "' holds ",
                               l.weight_names.size(), " weight arrays; the model's layers in it take ", l.read));
    }
  }
  return model;
}

inline std::string root_string(const hdf5::File& f, const char* name) {
  return hdf5::has_attribute(f.id(), name) ? hdf5::string_attribute1(f, f.id(), name) : std::string();
}

/// model.to_json() text or a {class_name, config} object; unwraps {"model_config": ...}.
inline const json& model_config_of(const json& j, const std::string& who) {
  if (j.is_object() && j.contains("model_config")) return model_config_of(j.at("model_config"), who);
  if (!j.is_object() || !j.contains("class_name") || !j.contains("config")) {
    throw io_error(concat("strata::load_model(", who, "): no model config (an object with class_name and config)"));
  }
  return j;
}

/// A zip archive, read from a file or from memory.
class Zip {
 public:
  /// The archive in the file at `path`, read on demand (not loaded whole).
  static Zip open_file(const std::string& path) {
    Zip zip(path);
    int code = 0;
    zip.archive_ = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (zip.archive_ == nullptr) {
      zip_error_t error;
      zip_error_init_with_code(&error, code);
      const std::string msg = zip_error_strerror(&error);
      zip_error_fini(&error);
      throw io_error(concat("strata::load_model(", path, "): not a valid .keras (zip) archive: ", msg));
    }
    return zip;
  }
  /// The archive held in `bytes` (which must outlive it).
  Zip(const std::string& bytes, std::string source) : source_(std::move(source)) {
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
    if (src == nullptr) {
      zip_error_fini(&error);
      throw io_error(concat("strata::load_model(", source_, "): cannot read the zip archive"));
    }
    archive_ = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
    if (archive_ == nullptr) {
      zip_source_free(src);
      const std::string msg = zip_error_strerror(&error);
      zip_error_fini(&error);
      throw io_error(concat("strata::load_model(", source_, "): not a valid .keras (zip) archive: ", msg));
    }
    zip_error_fini(&error);
  }
  Zip(const Zip&) = delete;
  Zip& operator=(const Zip&) = delete;
  Zip(Zip&& other) noexcept : archive_(std::exchange(other.archive_, nullptr)), source_(std::move(other.source_)) {}
  Zip& operator=(Zip&&) = delete;
  ~Zip() {
    if (archive_ != nullptr) zip_discard(archive_);
  }

  bool has(const std::string& name) const { return zip_name_locate(archive_, name.c_str(), 0) >= 0; }

  /// A member's bytes; its declared size is checked against `limit` before allocating.
  std::string read(const std::string& name, std::uint64_t limit) const {
    std::string out;
    stream(
        name, limit, [&](std::uint64_t size) { out.reserve(static_cast<std::size_t>(size)); },
        [&](const char* data, std::size_t n) { out.append(data, n); });
    return out;
  }

  /// Copies a member into a new temporary file (one chunk in memory at a time) and returns its
  /// path, or "" when no temporary file can be made (the caller then reads the member into
  /// memory). The caller removes the file.
  std::string extract_to_temporary(const std::string& name, std::uint64_t limit) const {
#if STRATA_IO_HAS_MKSTEMP
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
    if (ec) return {};
    std::string path = (dir / "strata-weights-XXXXXX").string();
    const int fd = ::mkstemp(path.data());
    if (fd < 0) return {};
    bool written = true;
    try {
      stream(
          name, limit, [](std::uint64_t) {},
          [&](const char* data, std::size_t n) {
            while (written && n > 0) {
              const ssize_t w = ::write(fd, data, n);
              if (w <= 0) {
                written = false;
                break;
              }
              data += w;
              n -= static_cast<std::size_t>(w);
            }
          });
    } catch (...) {
      ::close(fd);
      std::remove(path.c_str());
      throw;
    }
    if (::close(fd) != 0 || !written) {
      std::remove(path.c_str());
      return {};
    }
    return path;
#else
    (void)name;
    (void)limit;
    return {};
#endif
  }

 private:
  explicit Zip(std::string source) : source_(std::move(source)) {}

  // Reads a member chunk by chunk: `reserve(size)` once its declared size has passed the limit,
  // then `sink(data, n)` per chunk. libzip checks the member's CRC when a read reaches its end.
  template <class Reserve, class Sink>
  void stream(const std::string& name, std::uint64_t limit, Reserve&& reserve, Sink&& sink) const {
    const zip_int64_t index = zip_name_locate(archive_, name.c_str(), 0);
    if (index < 0) throw io_error(concat("strata::load_model(", source_, "): the archive has no ", name));
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive_, static_cast<zip_uint64_t>(index), 0, &st) < 0 || (st.valid & ZIP_STAT_SIZE) == 0) {
      throw io_error(concat("strata::load_model(", source_, "): cannot stat ", name));
    }
    if (st.size > limit) {
      throw io_error(concat("strata::load_model(", source_, "): ", name, " declares ", st.size, " bytes, over the ",
                            limit, " limit"));
    }
    reserve(st.size);
    zip_file_t* file = zip_fopen_index(archive_, static_cast<zip_uint64_t>(index), 0);
    if (file == nullptr) throw io_error(concat("strata::load_model(", source_, "): cannot open ", name));
    std::vector<char> chunk(std::size_t(1) << 20);
    zip_uint64_t total = 0;
    bool failed = false;
    while (total < st.size) {
      const zip_uint64_t want = std::min<zip_uint64_t>(chunk.size(), st.size - total);
      const zip_int64_t got = zip_fread(file, chunk.data(), want);
      if (got <= 0) {
        failed = true;
        break;
      }
      sink(chunk.data(), static_cast<std::size_t>(got));
      total += static_cast<zip_uint64_t>(got);
    }
    // One more read past the end makes libzip check the CRC.
    char extra = 0;
    const zip_int64_t tail = failed ? -1 : zip_fread(file, &extra, 1);
    zip_fclose(file);
    if (failed || total != st.size || tail != 0) {
      throw io_error(concat("strata::load_model(", source_, "): ", name, " is truncated or corrupt"));
    }
  }

  zip_t* archive_ = nullptr;
  std::string source_;
};

/// A Keras 3 archive: `archive_size` bounds what a member may claim to expand to. With `spill`
/// (an archive read from a file), the weights file is copied to a temporary file that HDF5 reads
/// from disk, so that loading holds no second copy of the weights in memory; without it, or when no
/// temporary file can be made, HDF5 reads the member's bytes in memory, where they lie.
template <class T>
Model<T> load_keras3(const Zip& zip, std::uint64_t archive_size, const std::string& source, bool spill,
                     const BuildStep<T>& build) {
  // A member may not claim more than the archive could expand to (deflate tops out near 1032:1).
  const std::uint64_t limit = std::min<std::uint64_t>(archive_size * 1100 + 4096, std::uint64_t(1) << 34);
  const json metadata = parse_json(zip.read("metadata.json", limit), source + ": metadata.json");
  std::string version = "3";
  if (metadata.is_object() && metadata.contains("keras_version") && metadata.at("keras_version").is_string()) {
    version = metadata.at("keras_version").get<std::string>();
  }
  const json config = parse_json(zip.read("config.json", limit), source + ": config.json");
  if (!zip.has("model.weights.h5")) {
    throw io_error(concat("strata::load_model(", source, "): the archive has no model.weights.h5",
                          zip.has("model.weights.npz") ? " (model.weights.npz is not supported)" : ""));
  }
  std::shared_ptr<hdf5::File> file;
  const std::string temporary = spill ? zip.extract_to_temporary("model.weights.h5", limit) : std::string();
  if (!temporary.empty()) {
    file = std::make_shared<hdf5::File>(hdf5::File::open_temporary(temporary, source + ": model.weights.h5"));
  } else {
    auto image = std::make_shared<const std::string>(zip.read("model.weights.h5", limit));
    file = std::make_shared<hdf5::File>(hdf5::File::open_image(image, source + ": model.weights.h5"));
  }
  return build(model_config_of(config, source), KerasVersion::parse(version), keras3_weight_reader<T>(file), source);
}

// --- TensorFlow.js

/// A TF.js weight's stored type, resolved once per weight (not per value).
enum class StoredType { none, float32, int32, float16, uint16, int16, uint8, int8 };

inline StoredType stored_type(const std::string& dtype) {
  if (dtype == "float32") return StoredType::float32;
  if (dtype == "int32") return StoredType::int32;
  if (dtype == "float16") return StoredType::float16;
  if (dtype == "uint16") return StoredType::uint16;
  if (dtype == "int16") return StoredType::int16;
  if (dtype == "uint8" || dtype == "bool") return StoredType::uint8;
  if (dtype == "int8") return StoredType::int8;
  return StoredType::none;
}

/// Bytes per value; 0 for an unknown type.
inline std::size_t stored_size(StoredType type) {
  switch (type) {
    case StoredType::float32:
    case StoredType::int32:
      return 4;
    case StoredType::float16:
    case StoredType::uint16:
    case StoredType::int16:
      return 2;
    case StoredType::uint8:
    case StoredType::int8:
      return 1;
    case StoredType::none:
      break;
  }
  return 0;
}

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline double read_scalar(const unsigned char* p, StoredType type) {
  auto u32 = [&] {
    return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24;
  };
  auto u16 = [&] { return static_cast<std::uint16_t>(p[0] | p[1] << 8); };
  switch (type) {
    case StoredType::float32: {
      const std::uint32_t b = u32();
      float f;
      std::memcpy(&f, &b, sizeof f);
      return f;
    }
    case StoredType::int32:
      return static_cast<std::int32_t>(u32());
    case StoredType::float16:
      return half_to_float(u16());
    case StoredType::uint16:
      return u16();
    case StoredType::int16:
      return static_cast<std::int16_t>(u16());
    case StoredType::int8:
      return static_cast<std::int8_t>(p[0]);
    case StoredType::uint8:
    case StoredType::none:
      break;
  }
  return p[0];
}

/// One weight of the manifest: where its bytes are and how they are stored. Decoded to the model's
/// scalar type only when its layer asks (no copy of the whole model in another type).
struct TfjsEntry {
  std::string name;
  Shape shape;
  StoredType stored = StoredType::none;  // the bytes' type: float32, int32, float16, or uint8 / uint16 quantized
  bool quantized = false;
  double scale = 1;
  double min = 0;
  std::size_t group = 0;  // which manifest group's bytes
  std::size_t offset = 0;
};

/// The manifest's weights, in order, and each group's bytes (its shards, concatenated).
struct TfjsWeights {
  std::vector<std::string> bytes;
  std::vector<TfjsEntry> entries;

  template <class T>
  AnyTensor<T> decode(const TfjsEntry& e) const {
    AnyTensor<T> t = AnyTensor<T>::uninitialized(e.shape);
    const std::size_t size = stored_size(e.stored);
    const auto* p = reinterpret_cast<const unsigned char*>(bytes[e.group].data()) + e.offset;
    T* out = t.data();
    for (Index i = 0; i < t.size(); ++i) {
      const double v = read_scalar(p + static_cast<std::size_t>(i) * size, e.stored);
      out[i] = static_cast<T>(e.quantized ? v * e.scale + e.min : v);
    }
    return t;
  }
};

/// Decodes the weightsManifest; `shard(path)` returns a shard file's bytes. Every weight's byte
/// range is checked against the shards here, before anything is decoded.
inline TfjsWeights decode_manifest(const json& manifest, const std::function<std::string(const std::string&)>& shard,
                                   const std::string& who) {
  if (!manifest.is_array()) throw io_error(who + ": weightsManifest must be a list");
  TfjsWeights result;
  for (const json& group : manifest) {
    const json& paths = member(group, "paths", who);
    const json& weights = member(group, "weights", who);
    if (!paths.is_array() || !weights.is_array())
      throw io_error(who + ": a manifest group needs lists paths and weights");
    std::string bytes;
    for (const json& p : paths) {
      if (!p.is_string()) throw io_error(who + ": shard paths must be strings");
      const std::string name = p.get<std::string>();
      if (name.find("..") != std::string::npos || (!name.empty() && name[0] == '/')) {
        throw io_error(concat(who, ": shard path '", name, "' leaves the model's directory"));
      }
      bytes += shard(name);
    }
    std::size_t offset = 0;
    for (const json& w : weights) {
      TfjsEntry e;
      e.name = string_member(w, "name", who);
      const std::string dtype = string_member(w, "dtype", who);
      const json& shape = member(w, "shape", who);
      if (!shape.is_array() || shape.size() > static_cast<std::size_t>(max_rank)) {
        throw io_error(concat(who, ": weight '", e.name, "' has a bad shape ", shape.dump().substr(0, 100)));
      }
      for (const json& d : shape) {
        if (!d.is_number_unsigned() || d.get<std::uint64_t>() > (std::uint64_t(1) << 40)) {
          throw io_error(concat(who, ": weight '", e.name, "' has a bad dimension ", d.dump().substr(0, 100)));
        }
        e.shape.push_back(static_cast<Index>(d.get<std::uint64_t>()));
      }
      if (shape.empty()) e.shape.push_back(1);  // strata holds Keras' scalar weights as shape (1,)
      std::uint64_t count = 0;
      try {
        count = static_cast<std::uint64_t>(e.shape.size());
      } catch (const shape_error&) {
        throw io_error(concat(who, ": weight '", e.name, "' declares an absurd shape ", e.shape.to_string()));
      }
      std::string stored = dtype;
      if (w.contains("quantization") && !w.at("quantization").is_null()) {
        const json& q = w.at("quantization");
        stored = string_member(q, "dtype", who);
        if (stored == "uint8" || stored == "uint16") {
          e.quantized = true;
          const json& sc = member(q, "scale", who);
          const json& mn = member(q, "min", who);
          if (!sc.is_number() || !mn.is_number())
            throw io_error(concat(who, ": weight '", e.name, "': bad quantization"));
          e.scale = sc.get<double>();
          e.min = mn.get<double>();
        } else if (stored != "float16") {
          throw unsupported_error(
              concat(who, ": weight '", e.name, "': quantization dtype ", stored, " is not supported"));
        }
      }
      if (dtype != "float32" && dtype != "int32") {
        throw unsupported_error(
            concat(who, ": weight '", e.name, "' has dtype ", dtype, ", which strata does not read"));
      }
      e.stored = stored_type(stored);
      const std::size_t size = stored_size(e.stored);
      if (size == 0) throw unsupported_error(concat(who, ": weight '", e.name, "': unknown dtype ", stored));
      if (count > (bytes.size() - offset) / size) {
        throw io_error(concat(who, ": weight '", e.name, "' ", e.shape.to_string(), " needs ", count * size,
                              " bytes; the shards hold only ", bytes.size() - offset, " more"));
      }
      e.group = result.bytes.size();
      e.offset = offset;
      offset += static_cast<std::size_t>(count) * size;
      result.entries.push_back(std::move(e));
    }
    result.bytes.push_back(std::move(bytes));
  }
  return result;
}

template <class T>
WeightReader<T> tfjs_weight_reader(std::shared_ptr<TfjsWeights> weights, std::string source,
                                   std::shared_ptr<std::size_t> used) {
  return [weights, source, used](const WeightRequest& req) {
    const std::string who = "strata::load_model(" + source + "), " + req.describe();
    // Saved by tfjs or converted from .h5: "<layer>/<var>"; converted from .keras: the HDF5
    // path(s), group by group.
    // A layer inside a nested model: tfjs names its weights by the layer alone; a converted
    // model may carry the nested models' names in front.
    std::vector<std::vector<std::string>> candidates;
    if (!req.scope.empty()) candidates.push_back({req.path() + "/"});
    candidates.push_back({req.layer_name + "/"});
    candidates.emplace_back();
    for (const WeightGroup& g : req.groups) candidates.back().push_back(req.keras3_path(g) + "/");
    for (const auto& prefixes : candidates) {
      Weights<T> out;
      for (const std::string& prefix : prefixes) {
        for (const TfjsEntry& e : weights->entries) {
          if (e.name.rfind(prefix, 0) == 0) {
            if (out.size() < req.count() && e.shape != req.spec(out.size()).shape) {
              throw model_error(concat(who, ": weight ", out.size(), " (", req.weight_label(out.size()),
                                       ") must have shape ", req.spec(out.size()).shape.to_string(),
                                       "; the manifest's '", e.name, "' has ", e.shape.to_string()));
            }
            out.push_back(weights->decode<T>(e));
          }
        }
      }
      if (!out.empty()) {
        *used += out.size();
        return out;
      }
    }
    throw io_error(concat(who, ": the weights manifest has no weights named '", req.layer_name, "/...'",
                          req.scope.empty() ? std::string() : " (nor '" + req.path() + "/...')"));
  };
}

template <class T>
Model<T> load_tfjs(const json& model_json, const std::function<std::string(const std::string&)>& shard,
                   const std::string& source) {
  const std::string who = "strata::load_model(" + source + ")";
  const json& topology = member(model_json, "modelTopology", who);
  const json& config = model_config_of(topology, source);
  std::string version = topology.value("keras_version", "");
  // Saved by tfjs: tfjs' own formulas. Converted from Keras: the recorded Keras version's.
  if (version.empty() || version.rfind("tfjs", 0) == 0) version = "tfjs " + version;
  auto weights = std::make_shared<TfjsWeights>(decode_manifest(member(model_json, "weightsManifest", who), shard, who));
  auto used = std::make_shared<std::size_t>(0);
  Model<T> model =
      build_model<T>(config, KerasVersion::parse(version), tfjs_weight_reader<T>(weights, source, used), source);
  if (*used != weights->entries.size()) {
    throw model_error(
        concat(who, ": the manifest holds ", weights->entries.size(), " weights; the model uses ", *used));
  }
  return model;
}

enum class Format { keras, hdf5, tfjs, json_config, unknown };

inline Format detect(const std::string& head) {
  static const char hdf5_magic[] = "\x89HDF\r\n\x1a\n";
  if (head.size() >= 4 && head.compare(0, 4, "PK\x03\x04") == 0) return Format::keras;
  // HDF5's superblock sits at 0, 512, 1024, 2048, ... (after an optional user block).
  for (std::size_t at = 0; at + 8 <= head.size(); at = at == 0 ? 512 : at * 2) {
    if (head.compare(at, 8, hdf5_magic, 8) == 0) return Format::hdf5;
  }
  for (char c : head) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    return c == '{' ? Format::tfjs : Format::unknown;
  }
  return Format::unknown;
}

template <class T>
Model<T> load_h5(std::shared_ptr<hdf5::File> file, const BuildStep<T>& build) {
  const std::string version = root_string(*file, "keras_version");
  if (!hdf5::has_attribute(file->id(), "model_config")) {
    throw io_error(concat("strata::load_model(", file->source(),
                          "): the HDF5 file has no model_config: a weights-only file (save_weights) needs its JSON "
                          "config too, load_model(config_json, weights_h5)"));
  }
  const json config =
      parse_json(hdf5::string_attribute1(*file, file->id(), "model_config"), file->source() + ": model_config");
  const std::string root = hdf5::exists(file->id(), "model_weights") ? "model_weights" : "/";
  return load_legacy<T>(file, model_config_of(config, file->source()), version, root, build);
}

/// The first 4096 bytes of the file at `path` (for detect).
inline std::string head_of(const std::string& path) {
  std::string head;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(concat("strata::load_model: cannot open '", path, "'"));
  head.resize(4096);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

/// load_model(path) with a build step; `spill` as load_keras3's.
template <class T>
Model<T> load_path(const std::string& path, const BuildStep<T>& build, bool spill) {
  hdf5::QuietErrors quiet;
  const std::string head = head_of(path);
  return detail::guarded(path, [&]() -> Model<T> {
    switch (detail::detect(head)) {
      case detail::Format::keras: {
        std::error_code ec;
        const auto size = std::filesystem::file_size(path, ec);
        if (ec) throw io_error(detail::concat("strata::load_model: cannot read '", path, "': ", ec.message()));
        return detail::load_keras3<T>(detail::Zip::open_file(path), size, path, spill, build);
      }
      case detail::Format::hdf5:
        return detail::load_h5<T>(std::make_shared<hdf5::File>(hdf5::File::open(path)), build);
      case detail::Format::tfjs: {
        const json j = detail::parse_json(detail::read_file(path, std::size_t(1) << 30), path);
        if (!j.is_object() || !j.contains("weightsManifest")) {
          throw io_error(detail::concat("strata::load_model(", path,
                                        "): a JSON file without weightsManifest is a model config without weights; "
                                        "use load_model(config_json, weights_h5)"));
        }
        const std::string dir = detail::dir_of(path);
        return detail::load_tfjs<T>(
            j, [&](const std::string& shard) { return detail::read_file(dir + shard); }, path);
      }
      default:
        throw io_error(detail::concat("strata::load_model(", path,
                                      "): not a Keras model file (neither a .keras zip, an HDF5 file nor a TF.js "
                                      "model.json)"));
    }
  });
}

/// load_model(config_json_path, weights_path) with a build step.
template <class T>
Model<T> load_config_weights(const std::string& config_json_path, const std::string& weights_path,
                             const BuildStep<T>& build) {
  hdf5::QuietErrors quiet;
  return detail::guarded(config_json_path, [&]() -> Model<T> {
    const json config = detail::parse_json(detail::read_file(config_json_path, std::size_t(1) << 30), config_json_path);
    auto file = std::make_shared<hdf5::File>(hdf5::File::open(weights_path));
    std::string version = config.is_object() ? config.value("keras_version", "") : "";
    if (version.empty()) version = detail::root_string(*file, "keras_version");
    if (hdf5::has_attribute(file->id(), "layer_names") || hdf5::exists(file->id(), "model_weights")) {
      const std::string root = hdf5::exists(file->id(), "model_weights") ? "model_weights" : "/";
      return detail::load_legacy<T>(file, detail::model_config_of(config, config_json_path), version, root, build);
    }
    if (version.empty()) version = "3";
    return build(detail::model_config_of(config, config_json_path), KerasVersion::parse(version),
                 detail::keras3_weight_reader<T>(file), weights_path);
  });
}

/// load_model_from_memory with a build step.
template <class T>
Model<T> load_memory(const std::string& bytes, const std::string& source, const BuildStep<T>& build) {
  hdf5::QuietErrors quiet;
  return detail::guarded(source, [&]() -> Model<T> {
    switch (detail::detect(bytes.substr(0, 4096))) {
      case detail::Format::keras:
        return detail::load_keras3<T>(detail::Zip(bytes, source), bytes.size(), source, false, build);
      case detail::Format::hdf5: {
        auto image = std::make_shared<const std::string>(bytes);
        auto file = std::make_shared<hdf5::File>(hdf5::File::open_image(image, source));
        return detail::load_h5<T>(file, build);
      }
      default:
        throw io_error(detail::concat("strata::load_model(", source, "): not a .keras archive or an HDF5 file"));
    }
  });
}

inline std::uint64_t size_of_file(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::uint64_t>(size);
}

}  // namespace detail

template <class T>
Model<T> load_model(const std::string& path) {
  return detail::load_path<T>(path, detail::plain_build<T>, true);
}

template <class T>
Model<T> load_model(const std::string& path, const LoadOptions& options) {
  if (!options.isolation()) return load_model<T>(path);
  // TF.js files do not go through HDF5; nor do files no loader takes (their error comes faster here).
  const detail::Format format = detail::detect(detail::head_of(path));
  if (format != detail::Format::keras && format != detail::Format::hdf5) return load_model<T>(path);
  // The child reads a .keras archive's weights file in memory, not through a temporary file that
  // a crash would leave behind; its memory limit allows for that.
  return detail::load_isolated<T>(options, path, detail::size_of_file(path), [&](const detail::BuildStep<T>& build) {
    return detail::load_path<T>(path, build, false);
  });
}

template <class T>
Model<T> load_model(const std::string& config_json_path, const std::string& weights_path) {
  return detail::load_config_weights<T>(config_json_path, weights_path, detail::plain_build<T>);
}

template <class T>
Model<T> load_model(const std::string& config_json_path, const std::string& weights_path, const LoadOptions& options) {
  if (!options.isolation()) return load_model<T>(config_json_path, weights_path);
  return detail::load_isolated<T>(options, weights_path,
                                  detail::size_of_file(weights_path) + detail::size_of_file(config_json_path),
                                  [&](const detail::BuildStep<T>& build) {
                                    return detail::load_config_weights<T>(config_json_path, weights_path, build);
                                  });
}

template <class T>
Model<T> load_model_from_memory(const std::string& bytes, const std::string& source) {
  return detail::load_memory<T>(bytes, source, detail::plain_build<T>);
}

template <class T>
Model<T> load_model_from_memory(const std::string& bytes, const std::string& source, const LoadOptions& options) {
  if (!options.isolation()) return load_model_from_memory<T>(bytes, source);
  return detail::load_isolated<T>(options, source, bytes.size(), [&](const detail::BuildStep<T>& build) {
    return detail::load_memory<T>(bytes, source, build);
  });
}

template <class T>
Model<T> load_tfjs_from_memory(const std::string& model_json, const std::map<std::string, std::string>& shards,
                               const std::string& source) {
  return detail::guarded(source, [&]() -> Model<T> {
    const json j = detail::parse_json(model_json, source);
    return detail::load_tfjs<T>(
        j,
        [&](const std::string& name) {
          auto it = shards.find(name);
          if (it == shards.end())
            throw io_error(detail::concat("strata::load_model(", source, "): no shard '", name, "'"));
          return it->second;
        },
        source);
  });
}

Config parse_config(const std::string& json_text, const std::string& source) {
  return detail::to_config(detail::parse_json(json_text, source));
}

template Model<float> load_model<float>(const std::string&);
template Model<double> load_model<double>(const std::string&);
template Model<float> load_model<float>(const std::string&, const std::string&);
template Model<double> load_model<double>(const std::string&, const std::string&);
template Model<float> load_model_from_memory<float>(const std::string&, const std::string&);
template Model<float> load_model<float>(const std::string&, const LoadOptions&);
template Model<double> load_model<double>(const std::string&, const LoadOptions&);
template Model<float> load_model<float>(const std::string&, const std::string&, const LoadOptions&);
template Model<double> load_model<double>(const std::string&, const std::string&, const LoadOptions&);
template Model<float> load_model_from_memory<float>(const std::string&, const std::string&, const LoadOptions&);
template Model<double> load_model_from_memory<double>(const std::string&, const std::string&, const LoadOptions&);
template Model<double> load_model_from_memory<double>(const std::string&, const std::string&);
template Model<float> load_tfjs_from_memory<float>(const std::string&, const std::map<std::string, std::string>&,
                                                   const std::string&);
template Model<double> load_tfjs_from_memory<double>(const std::string&, const std::map<std::string, std::string>&,
                                                     const std::string&);

}  // namespace io
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata
