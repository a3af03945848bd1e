// SPDX-License-Identifier: MIT
#ifndef STRATA_IO_NPY_HPP
#define STRATA_IO_NPY_HPP

/// \file
/// numpy's `.npy` files to and from strata::AnyTensor, with nothing but the standard library.
///
///     strata::AnyTensor<float> x = strata::io::read_npy<float>("x.npy");   // np.save("x.npy", x)
///     strata::io::write_npy("y.npy", y);                                    // np.load("y.npy")
///
/// Reading accepts NPY format versions 1.0, 2.0 and 3.0 and the dtypes `f4 f8 i1 i2 i4 i8 u1 u2 u4
/// u8 b1` in any byte order (`<`, `>`, `=`, or `|` for one-byte types); the values are converted to
/// T (float or double). Arrays must be in C order (numpy's default) and of rank 1 to
/// strata::max_rank: a Fortran-order array throws strata::value_error (save
/// `np.ascontiguousarray(a)` instead), a 0-d array (a numpy scalar) or one of higher rank throws
/// strata::shape_error, an unsupported dtype strata::value_error. A file that cannot be opened, is
/// not an NPY file, or is truncated or malformed throws strata::io_error; its size is checked
/// against the header before anything is allocated (a stream that cannot seek, such as a pipe, is
/// read in chunks instead). Bytes after the data are ignored, as numpy ignores them. Every message
/// names the file.
///
/// Writing produces what `np.save` produces for a C-order array: format 1.0, dtype `<f4` for
/// float and `<f8` for double, the header padded with spaces to a multiple of 64 bytes and ended
/// by '\n' (byte for byte numpy 1.24's file).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../shape.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace io {

namespace npy_detail {

using strata::detail::concat;

/// Largest header accepted: numpy itself refuses headers above 10000 bytes unless told otherwise.
inline constexpr std::uint32_t max_header_bytes = 1u << 20;
/// Nesting depth accepted in the header's Python literal (numpy's own headers nest 2 deep).
inline constexpr int max_header_depth = 16;

inline bool host_is_little_endian() {
  const std::uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

[[noreturn]] inline void fail_io(const char* function, const std::string& name, const std::string& what) {
  throw io_error(concat("strata::io::", function, ": '", name, "': ", what));
}

/// The bytes left in `in` from its current position, or nullopt if it cannot seek.
inline std::optional<std::uint64_t> remaining_bytes(std::istream& in) {
  const std::istream::pos_type here = in.tellg();
  if (here == std::istream::pos_type(-1)) {
    in.clear(in.rdstate() & ~std::ios::failbit);
    return std::nullopt;
  }
  in.seekg(0, std::ios::end);
  const std::istream::pos_type end = in.tellg();
  in.clear(in.rdstate() & ~(std::ios::failbit | std::ios::eofbit));
  in.seekg(here);
  if (!in || end == std::istream::pos_type(-1) || end < here) {
    in.clear(in.rdstate() & ~(std::ios::failbit | std::ios::eofbit));
    in.seekg(here);
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(end - here);
}

/// Reads exactly n bytes; false if the stream ends first.
inline bool read_exactly(std::istream& in, void* out, std::uint64_t n) {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    const std::streamsize chunk =
        static_cast<std::streamsize>(std::min<std::uint64_t>(n, std::uint64_t(1) << 30));  // 1 GiB at a time
    in.read(p, chunk);
    if (in.gcount() != chunk) return false;
    p += chunk;
    n -= static_cast<std::uint64_t>(chunk);
  }
  return true;
}

/// A Python literal as it appears in an NPY header: the dict numpy writes holds strings, a
/// bool and a tuple of ints; other literal kinds are parsed so that the error can say what was
/// found.
struct PyValue {
  enum class Kind { string, integer, boolean, none, tuple, list, dict };
  Kind kind = Kind::none;
  std::string text;               // string
  bool negative = false;          // integer: sign
  std::uint64_t magnitude = 0;    // integer: absolute value (saturated)
  bool overflow = false;          // integer: more than 64 bits
  bool flag = false;              // boolean
  std::vector<PyValue> items;     // tuple, list; dict values
  std::vector<std::string> keys;  // dict keys (strings only)

  const char* kind_name() const {
    switch (kind) {
      case Kind::string:
        return "a string";
      case Kind::integer:
        return "an integer";
      case Kind::boolean:
        return "a bool";
      case Kind::none:
        return "None";
      case Kind::tuple:
        return "a tuple";
      case Kind::list:
        return "a list";
      case Kind::dict:
        return "a dict";
    }
    return "?";
  }

  const PyValue* find(const std::string& key) const {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) return &items[i];
    }
    return nullptr;
  }
};

/// Parses the header text: one Python literal followed by whitespace only.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : text_(text), name_(name) {}

  PyValue parse() {
    skip_space();
    PyValue v = value(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the header's dict");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    fail_io("read_npy", name_, concat("malformed header (", what, " at offset ", pos_, "): ", excerpt()));
  }

  std::string excerpt() const {
    std::string s = text_.substr(0, 120);
    for (char& c : s) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return concat('"', s, text_.size() > 120 ? "...\"" : "\"");
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  void skip_space() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) fail(concat("expected '", c, "'"));
    ++pos_;
  }

  PyValue value(int depth) {
    if (depth > max_header_depth) fail("nested too deeply");
    skip_space();
    if (at_end()) fail("unexpected end");
    const char c = peek();
    if (c == '{') return dict(depth);
    if (c == '(') return sequence(depth, ')', PyValue::Kind::tuple);
    if (c == '[') return sequence(depth, ']', PyValue::Kind::list);
    if (c == '\'' || c == '"') return string();
    if (c == '-' || c == '+' || (c >= '0' && c <= '9')) return integer();
    return word();
  }

  PyValue dict(int depth) {
    PyValue v;
    v.kind = PyValue::Kind::dict;
    ++pos_;  // '{'
    skip_space();
    while (peek() != '}') {
      PyValue key = value(depth + 1);
      if (key.kind != PyValue::Kind::string) fail(concat("a dict key is ", key.kind_name(), ", not a string"));
      expect(':');
      PyValue item = value(depth + 1);
      v.keys.push_back(std::move(key.text));
      v.items.push_back(std::move(item));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        fail("expected ',' or '}' in the dict");
      }
    }
    ++pos_;  // '}'
    return v;
  }

  PyValue sequence(int depth, char close, PyValue::Kind kind) {
    PyValue v;
    v.kind = kind;
    ++pos_;  // '(' or '['
    skip_space();
    bool comma = false;  // a tuple of one needs its trailing comma: (3,)
    while (peek() != close) {
      v.items.push_back(value(depth + 1));
      skip_space();
      comma = false;
      if (peek() == ',') {
        ++pos_;
        skip_space();
        comma = true;
      } else if (peek() != close) {
        fail(concat("expected ',' or '", close, "'"));
      }
    }
    ++pos_;
    if (kind == PyValue::Kind::tuple && v.items.size() == 1 && !comma) {
      return std::move(v.items[0]);  // (3) is just 3 in Python
    }
    return v;
  }

  PyValue string() {
    PyValue v;
    v.kind = PyValue::Kind::string;
    const char quote = text_[pos_++];
    while (true) {
      if (at_end()) fail("unterminated string");
      char c = text_[pos_++];
      if (c == quote) break;
      if (c == '\\') {
        if (at_end()) fail("unterminated string");
        c = text_[pos_++];
      }
      v.text += c;
    }
    return v;
  }

  PyValue integer() {
    PyValue v;
    v.kind = PyValue::Kind::integer;
    if (peek() == '-' || peek() == '+') v.negative = text_[pos_++] == '-';
    if (!(peek() >= '0' && peek() <= '9')) fail("expected a digit");
    while (peek() >= '0' && peek() <= '9') {
      const auto digit = static_cast<std::uint64_t>(peek() - '0');
      if (v.magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
        v.overflow = true;
      } else {
        v.magnitude = v.magnitude * 10 + digit;
      }
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2's long suffix, written by old numpy
    if (peek() == '.' || peek() == 'e' || peek() == 'E') fail("expected an integer");
    return v;
  }

  PyValue word() {
    const std::size_t start = pos_;
    while (!at_end() && ((peek() >= 'a' && peek() <= 'z') || (peek() >= 'A' && peek() <= 'Z') || peek() == '_')) {
      ++pos_;
    }
    const std::string w = text_.substr(start, pos_ - start);
    PyValue v;
    if (w == "True" || w == "False") {
      v.kind = PyValue::Kind::boolean;
      v.flag = w == "True";
    } else if (w == "None") {
      v.kind = PyValue::Kind::none;
    } else {
      pos_ = start;
      fail("expected a Python literal");
    }
    return v;
  }

  const std::string& text_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

/// An NPY dtype string such as "<f4", reduced to what the reader converts.
struct DType {
  char kind = 'f';  // 'f', 'i', 'u' or 'b'
  int size = 4;     // bytes per element
  bool swap = false;
  std::string descr;
};

inline DType parse_dtype(const PyValue& descr, const std::string& name) {
  if (descr.kind != PyValue::Kind::string) {
    throw value_error(concat("strata::io::read_npy: '", name, "': unsupported dtype: 'descr' is ", descr.kind_name(),
                             " (a structured or record array); only plain numeric arrays are read"));
  }
  const std::string& d = descr.text;
  const auto unsupported = [&]() {
    return value_error(concat("strata::io::read_npy: '", name, "': unsupported dtype '", d,
                              "'; supported: f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 (byte order <, >, = or |)"));
  };
  if (d.size() != 3) throw unsupported();
  DType t;
  t.descr = d;
  t.kind = d[1];
  if (d[2] < '1' || d[2] > '8') throw unsupported();
  t.size = d[2] - '0';
  const bool ok = (t.kind == 'f' && (t.size == 4 || t.size == 8)) ||
                  ((t.kind == 'i' || t.kind == 'u') && (t.size == 1 || t.size == 2 || t.size == 4 || t.size == 8)) ||
                  (t.kind == 'b' && t.size == 1);
  if (!ok) throw unsupported();
  bool little = host_is_little_endian();
  switch (d[0]) {
    case '<':
      little = true;
      break;
    case '>':
      little = false;
      break;
    case '=':
      break;
    case '|':
      if (t.size != 1) throw unsupported();  // "not applicable" makes sense for one byte only
      break;
    default:
      throw unsupported();
  }
  t.swap = t.size > 1 && little != host_is_little_endian();
  return t;
}

/// S to floating-point T; values beyond T's range become infinities (instead of undefined behaviour).
template <class T, class S>
T to_floating(S v) {
  if constexpr (std::is_floating_point_v<S>) {
    if constexpr (sizeof(S) > sizeof(T)) {
      if (v > static_cast<S>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::infinity();
      if (v < static_cast<S>(std::numeric_limits<T>::lowest())) return -std::numeric_limits<T>::infinity();
    }
  }
  return static_cast<T>(v);
}

template <class S, class T>
void convert_as(const unsigned char* src, std::size_t n, bool swap, T* dst) {
  unsigned char bytes[sizeof(S)];
  for (std::size_t i = 0; i < n; ++i) {
    std::memcpy(bytes, src + i * sizeof(S), sizeof(S));
    if (swap) std::reverse(bytes, bytes + sizeof(S));
    S v;
    std::memcpy(&v, bytes, sizeof(S));
    dst[i] = to_floating<T>(v);
  }
}

/// Converts n elements of type `type` at src to T at dst.
template <class T>
void convert(const unsigned char* src, std::size_t n, const DType& type, T* dst) {
  const bool s = type.swap;
  switch (type.kind) {
    case 'f':
      if (type.size == 4) return convert_as<float>(src, n, s, dst);
      return convert_as<double>(src, n, s, dst);
    case 'i':
      if (type.size == 1) return convert_as<std::int8_t>(src, n, s, dst);
      if (type.size == 2) return convert_as<std::int16_t>(src, n, s, dst);
      if (type.size == 4) return convert_as<std::int32_t>(src, n, s, dst);
      return convert_as<std::int64_t>(src, n, s, dst);
    case 'u':
      if (type.size == 1) return convert_as<std::uint8_t>(src, n, s, dst);
      if (type.size == 2) return convert_as<std::uint16_t>(src, n, s, dst);
      if (type.size == 4) return convert_as<std::uint32_t>(src, n, s, dst);
      return convert_as<std::uint64_t>(src, n, s, dst);
    default:  // 'b': numpy bools are one byte, 0 or 1; any nonzero byte reads as 1
      for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] != 0 ? T(1) : T(0);
      return;
  }
}

template <class T>
constexpr const char* descr_of() {
  return std::is_same_v<T, float> ? "<f4" : "<f8";
}

/// The file's shape, checked: rank 1..max_rank, dimensions that fit, a product that fits.
inline Shape parse_shape(const PyValue& v, const std::string& name) {
  if (v.kind != PyValue::Kind::tuple && v.kind != PyValue::Kind::list) {
    fail_io("read_npy", name, concat("malformed header: 'shape' is ", v.kind_name(), ", not a tuple of integers"));
  }
  for (const PyValue& d : v.items) {
    if (d.kind != PyValue::Kind::integer) {
      fail_io("read_npy", name, concat("malformed header: a dimension in 'shape' is ", d.kind_name()));
    }
    if (d.negative && d.magnitude != 0) {
      fail_io("read_npy", name, concat("malformed header: negative dimension -", d.magnitude, " in 'shape'"));
    }
    if (d.overflow || d.magnitude > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) {
      fail_io("read_npy", name, "malformed header: a dimension in 'shape' is too large");
    }
  }
  const std::size_t rank = v.items.size();
  if (rank == 0) {
    throw shape_error(concat("strata::io::read_npy: '", name,
                             "': holds a 0-d array (a numpy scalar, shape ()); strata tensors have rank 1 to ",
                             max_rank, " (save np.atleast_1d(x) instead)"));
  }
  if (rank > static_cast<std::size_t>(max_rank)) {
    throw shape_error(concat("strata::io::read_npy: '", name, "': holds an array of rank ", rank,
                             "; strata handles ranks 1 to ", max_rank));
  }
  Shape shape;
  for (const PyValue& d : v.items) shape.push_back(static_cast<Index>(d.magnitude));
  return shape;
}

}  // namespace npy_detail

/// Reads an NPY array from `in`, converting its values to T (float or double). `name` is the
/// file name used in error messages. See the file comment for what is accepted and thrown.
template <class T>
AnyTensor<T> read_npy(std::istream& in, const std::string& name = "<stream>") {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "strata::io::read_npy<T>: T must be float or double");
  namespace d = npy_detail;
  unsigned char prefix[8];
  in.read(reinterpret_cast<char*>(prefix), 8);
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got < 6 || std::memcmp(prefix, "\x93NUMPY", 6) != 0) {
    d::fail_io("read_npy", name,
               got == 0 ? std::string("not an NPY file: it is empty")
                        : std::string("not an NPY file: it does not start with the magic string \"\\x93NUMPY\""));
  }
  if (got < 8) d::fail_io("read_npy", name, "truncated: the file ends inside the NPY preamble");
  const int major = prefix[6];
  const int minor = prefix[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    d::fail_io("read_npy", name,
               d::concat("unsupported NPY format version ", major, ".", minor, " (1.0, 2.0 and 3.0 are read)"));
  }
  unsigned char len_bytes[4] = {0, 0, 0, 0};
  const int len_size = major == 1 ? 2 : 4;
  if (!d::read_exactly(in, len_bytes, static_cast<std::uint64_t>(len_size))) {
    d::fail_io("read_npy", name, "truncated: the file ends inside the header length");
  }
  const std::uint32_t header_len =
      static_cast<std::uint32_t>(len_bytes[0]) | (static_cast<std::uint32_t>(len_bytes[1]) << 8) |
      (static_cast<std::uint32_t>(len_bytes[2]) << 16) | (static_cast<std::uint32_t>(len_bytes[3]) << 24);
  if (header_len > d::max_header_bytes) {
    d::fail_io("read_npy", name,
               d::concat("malformed header: it declares ", header_len, " bytes of header (at most ",
                         d::max_header_bytes, " are accepted)"));
  }
  const std::optional<std::uint64_t> remaining = d::remaining_bytes(in);
  if (remaining && header_len > *remaining) {
    d::fail_io(
        "read_npy", name,
        d::concat("truncated header: it declares ", header_len, " bytes but the file has ", *remaining, " left"));
  }
  std::string header(header_len, '\0');
  if (!d::read_exactly(in, header.data(), header_len)) {
    d::fail_io("read_npy", name, d::concat("truncated header: it declares ", header_len, " bytes"));
  }

  const d::PyValue dict = d::HeaderParser(header, name).parse();
  if (dict.kind != d::PyValue::Kind::dict) {
    d::fail_io("read_npy", name, d::concat("malformed header: it is ", dict.kind_name(), ", not a dict"));
  }
  for (const char* key : {"descr", "fortran_order", "shape"}) {
    if (dict.find(key) == nullptr) {
      d::fail_io("read_npy", name, d::concat("malformed header: the dict has no '", key, "' key"));
    }
  }
  for (const std::string& key : dict.keys) {
    if (key != "descr" && key != "fortran_order" && key != "shape") {
      d::fail_io("read_npy", name,
                 d::concat("malformed header: unexpected key '", key,
                           "' (an NPY header holds exactly 'descr', 'fortran_order' and 'shape')"));
    }
  }
  const d::PyValue& fortran = *dict.find("fortran_order");
  if (fortran.kind != d::PyValue::Kind::boolean) {
    d::fail_io("read_npy", name,
               d::concat("malformed header: 'fortran_order' is ", fortran.kind_name(), ", not a bool"));
  }
  const d::DType type = d::parse_dtype(*dict.find("descr"), name);
  const Shape shape = d::parse_shape(*dict.find("shape"), name);
  if (fortran.flag) {
    throw value_error(d::concat("strata::io::read_npy: '", name, "': the array is in Fortran order (fortran_order: ",
                                "True); strata reads C order only: save np.ascontiguousarray(a) instead"));
  }

  std::uint64_t count = 1;
  for (Index dim : shape) {
    const auto u = static_cast<std::uint64_t>(dim);
    if (u != 0 && count > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()) / u) {
      d::fail_io("read_npy", name, d::concat("shape ", shape.to_string(), " has too many elements"));
    }
    count *= u;
  }
  const auto item = static_cast<std::uint64_t>(type.size);
  if (count > std::numeric_limits<std::uint64_t>::max() / item ||
      count * item > static_cast<std::uint64_t>(std::numeric_limits<std::streamsize>::max())) {
    d::fail_io("read_npy", name, d::concat("shape ", shape.to_string(), " of ", type.descr, " is too large"));
  }
  const std::uint64_t bytes = count * item;
  const auto truncated = [&](const std::string& have) {
    d::fail_io("read_npy", name,
               d::concat("truncated data: the header declares shape ", shape.to_string(), " of ", type.descr, ", ",
                         bytes, " bytes, but ", have));
  };
  if (remaining && bytes > *remaining - header_len) {
    truncated(d::concat("only ", *remaining - header_len, " bytes follow the header"));
  }

  const bool native = (type.kind == 'f' && static_cast<std::size_t>(type.size) == sizeof(T) && !type.swap);
  if (!remaining) {
    // A stream that cannot tell its size (a pipe): read the bytes first, in chunks, so that the
    // memory used grows only with the data actually there, then allocate the tensor.
    std::vector<unsigned char> raw;
    std::uint64_t left = bytes;
    while (left > 0) {
      const std::uint64_t chunk = std::min<std::uint64_t>(left, std::uint64_t(1) << 24);
      const std::size_t old = raw.size();
      raw.resize(old + static_cast<std::size_t>(chunk));
      in.read(reinterpret_cast<char*>(raw.data() + old), static_cast<std::streamsize>(chunk));
      if (static_cast<std::uint64_t>(in.gcount()) != chunk) {
        truncated(d::concat("the stream ends after ", old + static_cast<std::size_t>(in.gcount()), " bytes"));
      }
      left -= chunk;
    }
    AnyTensor<T> result = AnyTensor<T>::uninitialized(shape);
    d::convert(raw.data(), static_cast<std::size_t>(count), type, result.data());
    return result;
  }

  AnyTensor<T> result = AnyTensor<T>::uninitialized(shape);
  if (native) {
    if (!d::read_exactly(in, result.data(), bytes)) truncated("the file ends early");
    return result;
  }
  // Convert chunk by chunk, so that only one small buffer of raw bytes exists at a time.
  const std::size_t per_chunk = (std::size_t(1) << 20) / static_cast<std::size_t>(type.size);
  std::vector<unsigned char> raw(
      static_cast<std::size_t>(std::min<std::uint64_t>(bytes, per_chunk * static_cast<std::size_t>(type.size))));
  std::size_t done = 0;
  while (done < count) {
    const std::size_t n = std::min<std::size_t>(per_chunk, static_cast<std::size_t>(count) - done);
    if (!d::read_exactly(in, raw.data(), n * static_cast<std::size_t>(type.size))) truncated("the file ends early");
    d::convert(raw.data(), n, type, result.data() + done);
    done += n;
  }
  return result;
}

/// Reads the NPY file at `path`; see the file comment.
template <class T>
AnyTensor<T> read_npy(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) npy_detail::fail_io("read_npy", path, "is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) npy_detail::fail_io("read_npy", path, "cannot open the file for reading");
  return read_npy<T>(in, path);
}

/// Writes `t` to `out` as an NPY format 1.0 array (`<f4` for float, `<f8` for double), exactly
/// as np.save writes it. `name` is used in error messages.
template <class T>
void write_npy(std::ostream& out, const AnyTensor<T>& t, const std::string& name = "<stream>") {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "strata::io::write_npy: the tensor must hold float or double");
  namespace d = npy_detail;
  if (t.empty()) {
    throw shape_error(d::concat("strata::io::write_npy: '", name, "': the AnyTensor is empty (it holds no tensor)"));
  }
  const Shape shape = t.shape();
  std::string dims;
  for (int i = 0; i < shape.rank(); ++i) dims += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  if (shape.rank() == 1) dims += ",";
  std::string header =
      d::concat("{'descr': '", d::descr_of<T>(), "', 'fortran_order': False, 'shape': (", dims, "), }");
  // numpy leaves room to grow the first axis in place (GROWTH_AXIS_MAX_DIGITS = 21), then pads
  // magic + length + header + '\n' to a multiple of 64 bytes.
  header.append(21 - std::to_string(shape[0]).size(), ' ');
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append(64 - unpadded % 64, ' ');
  header += '\n';
  const auto len = static_cast<std::uint16_t>(header.size());
  std::string preamble("\x93NUMPY\x01\x00", 8);
  preamble += static_cast<char>(len & 0xff);
  preamble += static_cast<char>(len >> 8);
  out.write(preamble.data(), static_cast<std::streamsize>(preamble.size()));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  const auto n = static_cast<std::size_t>(t.size());
  if (d::host_is_little_endian()) {
    out.write(reinterpret_cast<const char*>(t.data()), static_cast<std::streamsize>(n * sizeof(T)));
  } else {
    unsigned char bytes[sizeof(T)];
    for (std::size_t i = 0; i < n; ++i) {
      std::memcpy(bytes, t.data() + i, sizeof(T));
      std::reverse(bytes, bytes + sizeof(T));
      out.write(reinterpret_cast<const char*>(bytes), sizeof(T));
    }
  }
  out.flush();
  if (!out) d::fail_io("write_npy", name, "writing failed");
}

/// Writes `t` to the file at `path` (replacing it) as np.save would; see the file comment.
template <class T>
void write_npy(const std::string& path, const AnyTensor<T>& t);

/// Writes a Tensor<T, Rank> (copied into an AnyTensor first).
template <class T, int Rank>
void write_npy(const std::string& path, const Tensor<T, Rank>& t) {
  write_npy(path, AnyTensor<T>(t));
}

template <class T>
void write_npy(const std::string& path, const AnyTensor<T>& t) {
  if (t.empty()) {
    throw shape_error(
        npy_detail::concat("strata::io::write_npy: '", path, "': the AnyTensor is empty (it holds no tensor)"));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) npy_detail::fail_io("write_npy", path, "cannot open the file for writing");
  write_npy(out, t, path);
  out.close();
  if (!out) npy_detail::fail_io("write_npy", path, "writing failed");
}

}  // namespace io
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_IO_NPY_HPP
