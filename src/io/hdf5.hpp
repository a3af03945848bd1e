// SPDX-License-Identifier: MIT
#ifndef STRATA_SRC_IO_HDF5_HPP
#define STRATA_SRC_IO_HDF5_HPP

// A thin RAII layer over the HDF5 C library for reading Keras weight files: open from a path or
// from memory, walk groups, read string attributes and numeric datasets straight into the model's
// scalar type. Every failure is an io_error naming the file and the object. Part of the compiled
// strata::io library (users never include it).

#include <hdf5.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <strata/error.hpp>
#include <strata/tensor.hpp>
#include <string>
#include <utility>
#include <vector>

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace io::hdf5 {

using strata::detail::concat;

/// An HDF5 identifier closed by the matching H5*close.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  void reset() {
    if (id_ >= 0 && close_ != nullptr) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

/// HDF5 prints its error stack to stderr by default; strata reports errors as exceptions instead.
/// While a guard lives, the default error stack prints nothing; its destructor puts back what the
/// program had (HDF5's default printer, or the program's own), so strata never changes HDF5's
/// behaviour for the rest of the program. Every public loader entry point holds one.
class QuietErrors {
 public:
  QuietErrors() {
    saved_ = H5Eget_auto2(H5E_DEFAULT, &function_, &data_) >= 0;
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;
  ~QuietErrors() {
    if (saved_) H5Eset_auto2(H5E_DEFAULT, function_, data_);
  }

 private:
  H5E_auto2_t function_ = nullptr;
  void* data_ = nullptr;
  bool saved_ = false;
};

/// An open HDF5 file (read only) and the name used in messages.
class File {
 public:
  /// Opens `path`.
  static File open(const std::string& path) {
    File f;
    f.source_ = path;
    f.file_ = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!f.file_.valid()) throw io_error(concat("strata: cannot open '", path, "' as an HDF5 file"));
    return f;
  }
  /// Opens a temporary file that only this File uses (a .keras archive's model.weights.h5 copied to
  /// disk), and removes it: at once where the system lets an open file be removed (POSIX), else
  /// when the File is closed. `source` names it in messages.
  static File open_temporary(const std::string& path, const std::string& source) {
    File f;
    f.source_ = source;
    f.file_ = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    const bool removed = std::remove(path.c_str()) == 0;
    if (!f.file_.valid()) {
      if (!removed) std::remove(path.c_str());
      throw io_error(concat("strata: ", source, " is not a readable HDF5 file"));
    }
    if (!removed) f.temporary_ = std::make_shared<Temporary>(path);
    return f;
  }
  /// Opens an HDF5 file held in memory (a .keras archive's model.weights.h5); `source` names it.
  /// HDF5 reads the bytes where they are (no copy of the image); the File keeps them alive.
  static File open_image(std::shared_ptr<const std::string> bytes, const std::string& source) {
    File f;
    f.source_ = source;
    f.image_ = std::move(bytes);
    Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    // udata: the image's own (heap) string, whose address outlives every move of the File.
    H5FD_file_image_callbacks_t callbacks = {&image_malloc,
                                             &image_memcpy,
                                             &image_realloc,
                                             &image_free,
                                             &udata_copy,
                                             &udata_free,
                                             const_cast<void*>(static_cast<const void*>(f.image_.get()))};
    if (!fapl.valid() || H5Pset_fapl_core(fapl.get(), 1 << 16, 0) < 0 ||
        H5Pset_file_image_callbacks(fapl.get(), &callbacks) < 0 ||
        H5Pset_file_image(fapl.get(), const_cast<char*>(f.image_->data()), f.image_->size()) < 0) {
      throw io_error(concat("strata: cannot set up reading ", source, " from memory"));
    }
    // The name only identifies the image, and HDF5 matches open in-memory files by name: a name
    // of its own (the buffer's address) keeps two images open at once apart, and one no real
    // file has (the core driver would open a file of that name instead).
    const std::string name = concat("strata-in-memory-image-", static_cast<const void*>(f.image_->data()), ".h5");
    f.file_ = Handle(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
    if (!f.file_.valid()) throw io_error(concat("strata: ", source, " is not a readable HDF5 file"));
    return f;
  }

  hid_t id() const { return file_.get(); }
  const std::string& source() const { return source_; }

 private:
  // HDF5's file-image callbacks that hand out the caller's buffer instead of copies: every
  // "allocation" of the image is the buffer itself, every copy of it into itself a no-op, and
  // nothing is freed (the shared_ptr owns it). Only a read-only open uses them, so the image is
  // never written or resized.
  using Image = std::shared_ptr<const std::string>;
  static const std::string& image_of(void* udata) { return *static_cast<const std::string*>(udata); }
  static void* image_malloc(size_t size, H5FD_file_image_op_t /*op*/, void* udata) {
    const std::string& image = image_of(udata);
    return size == image.size() ? const_cast<char*>(image.data()) : nullptr;
  }
  static void* image_memcpy(void* dest, const void* src, size_t size, H5FD_file_image_op_t /*op*/, void* udata) {
    const std::string& image = image_of(udata);
    if (dest != image.data() || src != image.data() || size != image.size()) return nullptr;
    return dest;
  }
  static void* image_realloc(void* /*ptr*/, size_t /*size*/, H5FD_file_image_op_t /*op*/, void* /*udata*/) {
    return nullptr;
  }
  static herr_t image_free(void* /*ptr*/, H5FD_file_image_op_t /*op*/, void* /*udata*/) { return 0; }
  static void* udata_copy(void* udata) { return udata; }
  static herr_t udata_free(void* /*udata*/) { return 0; }

  // A temporary file to remove once it is closed (systems that cannot remove an open file).
  struct Temporary {
    explicit Temporary(std::string p) : path(std::move(p)) {}
    Temporary(const Temporary&) = delete;
    Temporary& operator=(const Temporary&) = delete;
    ~Temporary() { std::remove(path.c_str()); }
    std::string path;
  };

  // Declared before file_ so that they outlive it (members are destroyed in reverse order): the
  // image of open_image, the temporary file of open_temporary.
  Image image_;
  std::shared_ptr<Temporary> temporary_;
  Handle file_;
  std::string source_;
};

/// Whether `path` (relative to loc, '/'-separated) names an existing object; checks each
/// component, since H5Lexists fails on a missing intermediate group.
inline bool exists(hid_t loc, const std::string& path) {
  std::string prefix;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = path.find('/', start);
    const std::string part = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (part.empty()) return false;
    prefix += (prefix.empty() ? "" : "/") + part;
    if (H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (H5Oexists_by_name(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return !prefix.empty();
}

inline Handle open_group(const File& f, hid_t loc, const std::string& path) {
  if (path == "/") return Handle(H5Gopen2(loc, "/", H5P_DEFAULT), H5Gclose);
  if (!exists(loc, path)) throw io_error(concat("strata: ", f.source(), " has no group '", path, "'"));
  Handle g(H5Gopen2(loc, path.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) throw io_error(concat("strata: ", f.source(), ": '", path, "' is not a group"));
  return g;
}

inline bool has_attribute(hid_t loc, const std::string& name) { return H5Aexists(loc, name.c_str()) > 0; }

/// A string attribute's values (fixed- or variable-length strings, scalar or 1-D), or the bytes
/// of a uint8/int8 array; Keras writes both byte strings and str.
inline std::vector<std::string> string_attribute(const File& f, hid_t loc, const std::string& name) {
  const std::string who = concat("strata: ", f.source(), ": attribute '", name, "'");
  Handle attr(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) throw io_error(who + " is missing");
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  if (!type.valid() || !space.valid()) throw io_error(who + " cannot be read");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 1) throw io_error(concat(who, " must be a scalar or a list; it has rank ", rank));
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0 || n > (1 << 24)) throw io_error(concat(who, " has an absurd element count ", n));
  const auto count = static_cast<std::size_t>(n);
  std::vector<std::string> result;
  if (H5Tget_class(type.get()) != H5T_STRING) {
    // h5py writes an empty name list (a layer without weights) as an empty float array.
    if (count == 0) return result;
    throw io_error(who + " is not a string");
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    std::vector<char*> ptrs(count, nullptr);
    const herr_t read = H5Aread(attr.get(), mem.get(), ptrs.data());
    if (read >= 0) {
      for (char* p : ptrs) result.emplace_back(p == nullptr ? "" : p);
    }
    // Frees what HDF5 allocated, also after a failed read (null entries are skipped).
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, ptrs.data());
    if (read < 0) throw io_error(who + " cannot be read");
    return result;
  }
  const std::size_t size = H5Tget_size(type.get());
  if (size == 0 || size > (1u << 24) || (count != 0 && size > (std::size_t(1) << 28) / count)) {
    throw io_error(concat(who, " has an absurd size"));
  }
  std::vector<char> buf(size * count + 1, '\0');
  if (H5Aread(attr.get(), type.get(), buf.data()) < 0) throw io_error(who + " cannot be read");
  for (std::size_t i = 0; i < count; ++i) {
    const char* p = buf.data() + i * size;
    result.emplace_back(p, strnlen(p, size));
  }
  return result;
}

inline std::string string_attribute1(const File& f, hid_t loc, const std::string& name) {
  auto v = string_attribute(f, loc, name);
  if (v.size() != 1) throw io_error(concat("strata: ", f.source(), ": attribute '", name, "' must hold one string"));
  return v[0];
}

/// Keras splits long name lists into name0, name1, ... attributes (over 64 KB).
inline std::vector<std::string> chunked_string_list(const File& f, hid_t loc, const std::string& name) {
  if (has_attribute(loc, name)) return string_attribute(f, loc, name);
  std::vector<std::string> all;
  for (int k = 0; has_attribute(loc, name + std::to_string(k)); ++k) {
    auto part = string_attribute(f, loc, name + std::to_string(k));
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

template <class T>
hid_t native_type();
template <>
inline hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
inline hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}

/// Reads a float (or integer) dataset into a tensor of T: HDF5 converts each stored value (float16,
/// float32, float64, integers) to T once, with no wider copy in between. Its shape must equal
/// `expected`, checked before anything is allocated or read (a declared absurd size costs
/// nothing); a dataset of another shape is a model_error.
template <class T>
AnyTensor<T> read_dataset(const File& f, hid_t loc, const std::string& path, const Shape& expected,
                          const std::string& who) {
  if (!exists(loc, path)) throw io_error(concat(who, ": ", f.source(), " has no dataset '", path, "'"));
  Handle ds(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) throw io_error(concat(who, ": '", path, "' in ", f.source(), " is not a dataset"));
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (!space.valid() || !type.valid()) throw io_error(concat(who, ": cannot read dataset '", path, "'"));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > max_rank) throw io_error(concat(who, ": dataset '", path, "' has rank ", rank));
  hsize_t dims[H5S_MAX_RANK] = {};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  Shape shape;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > (hsize_t(1) << 40)) throw io_error(concat(who, ": dataset '", path, "' declares an absurd size"));
    shape.push_back(static_cast<Index>(dims[i]));
  }
  if (rank == 0) shape.push_back(1);  // strata holds Keras' scalar weights (e.g. a count) as shape (1,)
  if (shape != expected) {
    throw model_error(concat(who, ": weight '", path, "' must have shape ", expected.to_string(), "; the file has ",
                             shape.to_string()));
  }
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
    throw unsupported_error(concat(who, ": weight '", path, "' is not numeric"));
  }
  if (has_attribute(ds.get(), "dtype")) {
    const auto dtype = string_attribute(f, ds.get(), "dtype");
    if (!dtype.empty() && dtype[0] != "float32" && dtype[0] != "float64" && dtype[0] != "float16") {
      throw unsupported_error(
          concat(who, ": weight '", path, "' has dtype ", dtype[0], ", which strata does not read"));
    }
  }
  AnyTensor<T> w = AnyTensor<T>::uninitialized(expected);
  if (w.size() > 0 && H5Dread(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, w.data()) < 0) {
    throw io_error(concat(who, ": cannot read weight '", path, "' from ", f.source()));
  }
  return w;
}

/// The number of links in a group.
inline std::size_t link_count(hid_t group) {
  H5G_info_t info{};
  if (H5Gget_info(group, &info) < 0) return 0;
  return static_cast<std::size_t>(info.nlinks);
}

}  // namespace io::hdf5
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_SRC_IO_HDF5_HPP
