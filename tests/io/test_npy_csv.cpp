// SPDX-License-Identifier: MIT
// strata::io's NPY and CSV readers and writers: round trips, every NPY dtype (files built byte by
// byte here), files written by numpy (tests/io/data, made by make_npy.py), and malformed input,
// which must always end in a typed strata exception naming the file.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>
#include <strata/io/csv.hpp>
#include <strata/io/npy.hpp>
#include <string>
#include <vector>

#include "support/catch.hpp"

#ifndef STRATA_IO_DATA_DIR
#error "STRATA_IO_DATA_DIR must name tests/io/data"
#endif

namespace fs = std::filesystem;
using strata::AnyTensor;
using strata::Index;
using strata::Shape;
using strata::io::read_csv;
using strata::io::read_npy;
using strata::io::write_csv;
using strata::io::write_npy;

namespace {

/// A fresh directory under the system's temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("strata_io_tests_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string data_file(const std::string& name) { return std::string(STRATA_IO_DATA_DIR) + "/" + name; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// An NPY file: magic, version, header length (2 bytes for 1.0, 4 for 2.0 and 3.0), the header
/// text padded with spaces and '\n' to a multiple of `align`, then `data`.
std::string npy_file(const std::string& header, const std::string& data, int major = 1, int minor = 0,
                     std::size_t align = 64) {
  const std::size_t len_size = major == 1 ? 2 : 4;
  std::string text = header;
  while ((6 + 2 + len_size + text.size() + 1) % align != 0) text += ' ';
  text += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += static_cast<char>(minor);
  for (std::size_t i = 0; i < len_size; ++i) out += static_cast<char>((text.size() >> (8 * i)) & 0xff);
  return out + text + data;
}

std::string dict(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

/// The bytes of `values` as S, in little- or big-endian order.
template <class S>
std::string encode(const std::vector<S>& values, bool big_endian) {
  std::string out;
  for (S v : values) {
    unsigned char b[sizeof(S)];
    std::memcpy(b, &v, sizeof(S));
    const std::uint16_t one = 1;
    unsigned char first = 0;
    std::memcpy(&first, &one, 1);
    const bool host_little = first == 1;
    if (host_little == big_endian) std::reverse(b, b + sizeof(S));
    out.append(reinterpret_cast<const char*>(b), sizeof(S));
  }
  return out;
}

template <class T>
AnyTensor<T> read_npy_bytes(const std::string& bytes, const std::string& name = "mem.npy") {
  std::istringstream in(bytes);
  return read_npy<T>(in, name);
}

/// A stream buffer over a string that cannot seek (like a pipe).
class PipeBuf : public std::streambuf {
 public:
  explicit PipeBuf(std::string s) : s_(std::move(s)) { setg(s_.data(), s_.data(), s_.data() + s_.size()); }

 private:
  std::string s_;
};

template <class T>
std::vector<T> values_of(const AnyTensor<T>& t) {
  return std::vector<T>(t.data(), t.data() + t.size());
}

template <class T>
bool same_bits(const AnyTensor<T>& a, const AnyTensor<T>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)) == 0;
}

/// Random normal values with some special ones mixed in at the front.
template <class T>
AnyTensor<T> sample(const Shape& shape, unsigned seed, bool specials = true) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(shape);
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist(0.0, 3.0);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(dist(gen));
  if (specials) {
    const T special[] = {T(0.1),
                         T(-1e-30),
                         std::numeric_limits<T>::max(),
                         std::numeric_limits<T>::lowest(),
                         std::numeric_limits<T>::denorm_min(),
                         std::numeric_limits<T>::min(),
                         T(-0.0),
                         std::numeric_limits<T>::infinity(),
                         -std::numeric_limits<T>::infinity(),
                         T(3.14159265358979323846)};
    for (Index i = 0; i < t.size() && i < 10; ++i) t.data()[i] = special[i];
  }
  return t;
}

const std::vector<Shape> round_trip_shapes = {Shape{7}, Shape{3, 4}, Shape{2, 3, 4}, Shape{2, 1, 3, 2},
                                              Shape{1, 2, 3, 2, 2}};

/// Reading `bytes` throws an exception of type E whose message names "bad.npy" and holds `fragment`.
template <class E>
void check_npy_throws(const std::string& bytes, const std::string& fragment) {
  INFO("expecting: " << fragment);
  std::istringstream in(bytes);
  try {
    (void)read_npy<float>(in, "bad.npy");
    FAIL("no exception");
  } catch (const E& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("'bad.npy'") && Catch::Contains(fragment));
  }
}

template <class E>
void check_csv_throws(const std::string& text, const std::string& fragment, int rank = 0) {
  INFO("CSV text: " << text << "\nexpecting: " << fragment);
  std::istringstream in(text);
  try {
    (void)read_csv<float>(in, "bad.csv", rank);
    FAIL("no exception");
  } catch (const E& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("'bad.csv'") && Catch::Contains(fragment));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// NPY

TEMPLATE_TEST_CASE("npy: round trip of ranks 1 to 5 through a file, bit for bit", "[io][npy]", float, double) {
  TempDir dir;
  unsigned seed = 1;
  for (const Shape& shape : round_trip_shapes) {
    INFO("shape " << shape);
    const AnyTensor<TestType> t = sample<TestType>(shape, seed++);
    const std::string path = dir.file("t.npy");
    write_npy(path, t);
    const AnyTensor<TestType> back = read_npy<TestType>(path);
    CHECK(back.rank() == shape.rank());
    CHECK(same_bits(t, back));
  }
}

TEST_CASE("npy: an array with a zero dimension round-trips", "[io][npy]") {
  std::stringstream buffer;
  write_npy(buffer, AnyTensor<float>::zeros(Shape{0, 3}));
  const AnyTensor<float> back = read_npy<float>(buffer);
  CHECK(back.shape() == Shape{0, 3});
  CHECK(back.size() == 0);
}

TEST_CASE("npy: write_npy takes a Tensor directly", "[io][npy]") {
  TempDir dir;
  strata::Tensor<float, 2> t(2, 3);
  t.setValues({{1, 2, 3}, {4, 5, 6}});
  write_npy(dir.file("t.npy"), t);
  CHECK(values_of(read_npy<float>(dir.file("t.npy"))) == std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("npy: the header is numpy's, padded to 64 bytes and ended by a newline", "[io][npy]") {
  for (const Shape& shape : {Shape{5}, Shape{3, 4}, Shape{123456789, 0}, Shape{2, 3, 4, 5, 6, 7, 8, 9}}) {
    INFO("shape " << shape);
    std::stringstream buffer;
    write_npy(buffer, AnyTensor<double>::zeros(shape));
    const std::string bytes = buffer.str();
    REQUIRE(bytes.size() >= 10);
    CHECK(bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
    const std::size_t header_len =
        static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    CHECK((10 + header_len) % 64 == 0);
    REQUIRE(bytes.size() >= 10 + header_len);
    CHECK(bytes[10 + header_len - 1] == '\n');
    std::string dims;
    for (int i = 0; i < shape.rank(); ++i) dims += (i > 0 ? ", " : "") + std::to_string(shape[i]);
    if (shape.rank() == 1) dims += ",";
    CHECK(bytes.substr(10, header_len).find("{'descr': '<f8', 'fortran_order': False, 'shape': (" + dims + "), }") ==
          0);
    CHECK(bytes.size() == 10 + header_len + static_cast<std::size_t>(shape.size()) * 8);
  }
}

TEST_CASE("npy: write_npy reproduces numpy's files byte for byte", "[io][npy]") {
  TempDir dir;
  {
    AnyTensor<float> t = AnyTensor<float>::uninitialized(Shape{3, 4});
    for (int i = 0; i < 12; ++i) t.data()[i] = static_cast<float>(i) / 4.0f - 1.0f;
    write_npy(dir.file("f4.npy"), t);
    CHECK(read_bytes(dir.file("f4.npy")) == read_bytes(data_file("numpy_float32.npy")));
  }
  {
    const AnyTensor<double> t = AnyTensor<double>::from_values(Shape{3}, {0.1, -2.5, 1e300});
    write_npy(dir.file("f8.npy"), t);
    CHECK(read_bytes(dir.file("f8.npy")) == read_bytes(data_file("numpy_float64_rank1.npy")));
  }
}

TEST_CASE("npy: files written by numpy read", "[io][npy]") {
  {
    const AnyTensor<float> t = read_npy<float>(data_file("numpy_float32.npy"));
    CHECK(t.shape() == Shape{3, 4});
    std::vector<float> want;
    for (int i = 0; i < 12; ++i) want.push_back(static_cast<float>(i) / 4.0f - 1.0f);
    CHECK(values_of(t) == want);
  }
  {
    const AnyTensor<double> t = read_npy<double>(data_file("numpy_float64_be.npy"));
    CHECK(t.shape() == Shape{2, 3, 2});
    std::vector<double> want;
    for (int i = 0; i < 12; ++i) want.push_back(i * 0.5 - 2);
    CHECK(values_of(t) == want);
  }
  {
    const AnyTensor<double> t = read_npy<double>(data_file("numpy_float64_rank1.npy"));
    CHECK(values_of(t) == std::vector<double>{0.1, -2.5, 1e300});
    const AnyTensor<float> f = read_npy<float>(data_file("numpy_float64_rank1.npy"));
    CHECK(values_of(f) == std::vector<float>{0.1f, -2.5f, std::numeric_limits<float>::infinity()});
  }
  {
    const AnyTensor<float> t = read_npy<float>(data_file("numpy_int16.npy"));
    CHECK(t.shape() == Shape{5});
    CHECK(values_of(t) == std::vector<float>{-300, -1, 0, 1, 300});
  }
  {
    const AnyTensor<float> t = read_npy<float>(data_file("numpy_bool.npy"));
    CHECK(t.shape() == Shape{2, 2});
    CHECK(values_of(t) == std::vector<float>{1, 0, 0, 1});
  }
  {
    const AnyTensor<float> t = read_npy<float>(data_file("numpy_uint8_v2.npy"));
    CHECK(t.shape() == Shape{2, 3});
    CHECK(values_of(t) == std::vector<float>{0, 1, 2, 253, 254, 255});
  }
  {
    const AnyTensor<float> t = read_npy<float>(data_file("seed_lstm5_td_dense_input.npy"));
    CHECK(t.shape() == Shape{3, 10, 20});
    CHECK(t.data()[0] == -0.16210042f);
  }
  CHECK_THROWS_AS(read_npy<float>(data_file("numpy_fortran.npy")), strata::value_error);
  CHECK_THROWS_WITH(read_npy<float>(data_file("numpy_fortran.npy")),
                    Catch::Contains("Fortran order") && Catch::Contains("numpy_fortran.npy"));
}

namespace {

template <class S>
void check_dtype(const std::string& descr, const std::vector<S>& values, bool big_endian) {
  INFO("dtype " << descr);
  const std::string bytes =
      npy_file(dict(descr, "(" + std::to_string(values.size()) + ",)"), encode(values, big_endian));
  const AnyTensor<double> d = read_npy_bytes<double>(bytes);
  const AnyTensor<float> f = read_npy_bytes<float>(bytes);
  REQUIRE(d.shape() == Shape{static_cast<Index>(values.size())});
  REQUIRE(f.shape() == d.shape());
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHECK(d.data()[i] == static_cast<double>(values[i]));
    CHECK(f.data()[i] == static_cast<float>(values[i]));
  }
}

}  // namespace

TEST_CASE("npy: every dtype and byte order reads, converted to T", "[io][npy]") {
  const std::vector<float> f4 = {0.5f, -1.25f, 3.0e38f, 1e-45f, 0.1f};
  const std::vector<double> f8 = {0.1, -2.5, 1e-300, 123456789.125};
  const std::vector<std::int8_t> i1 = {-128, -1, 0, 1, 127};
  const std::vector<std::int16_t> i2 = {-32768, -300, 0, 7, 32767};
  const std::vector<std::int32_t> i4 = {std::numeric_limits<std::int32_t>::min(), -1, 0, 65537,
                                        std::numeric_limits<std::int32_t>::max()};
  const std::vector<std::int64_t> i8 = {std::numeric_limits<std::int64_t>::min(), -1, 0, 1LL << 40,
                                        std::numeric_limits<std::int64_t>::max()};
  const std::vector<std::uint8_t> u1 = {0, 1, 128, 255};
  const std::vector<std::uint16_t> u2 = {0, 1, 40000, 65535};
  const std::vector<std::uint32_t> u4 = {0, 1, 4000000000u, std::numeric_limits<std::uint32_t>::max()};
  const std::vector<std::uint64_t> u8 = {0, 1, std::numeric_limits<std::uint64_t>::max()};

  for (bool big : {false, true}) {
    const std::string o = big ? ">" : "<";
    check_dtype(o + "f4", f4, big);
    check_dtype(o + "f8", f8, big);
    check_dtype(o + "i2", i2, big);
    check_dtype(o + "i4", i4, big);
    check_dtype(o + "i8", i8, big);
    check_dtype(o + "u2", u2, big);
    check_dtype(o + "u4", u4, big);
    check_dtype(o + "u8", u8, big);
    check_dtype(o + "u1", u1, big);
    check_dtype(o + "i1", i1, big);
  }
  check_dtype("|u1", u1, false);
  check_dtype("|i1", i1, false);
  const std::uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  check_dtype("=f4", f4, first == 0);  // native order
  check_dtype("=i4", i4, first == 0);

  // Booleans: numpy writes 0 and 1; any nonzero byte reads as true.
  const std::string bools = npy_file(dict("|b1", "(4,)"), std::string("\x00\x01\x00\x02", 4));
  CHECK(values_of(read_npy_bytes<float>(bools)) == std::vector<float>{0, 1, 0, 1});

  // A double beyond float's range becomes an infinity when read as float.
  const std::string big_values = npy_file(dict("<f8", "(2,)"), encode(std::vector<double>{1e300, -1e300}, false));
  CHECK(values_of(read_npy_bytes<float>(big_values)) ==
        std::vector<float>{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()});
}

TEST_CASE("npy: format versions 1.0, 2.0 and 3.0, and other header layouts numpy accepts", "[io][npy]") {
  const std::string data = encode(std::vector<float>{1, 2, 3, 4, 5, 6}, false);
  for (int major : {1, 2, 3}) {
    INFO("version " << major << ".0");
    const AnyTensor<float> t = read_npy_bytes<float>(npy_file(dict("<f4", "(2, 3)"), data, major));
    CHECK(t.shape() == Shape{2, 3});
    CHECK(values_of(t) == std::vector<float>{1, 2, 3, 4, 5, 6});
  }
  // Old numpy: 16-byte alignment, keys in another order, Python 2 longs, double quotes, a list shape.
  for (const std::string& header : {std::string("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
                                    std::string("{'shape': (2L, 3L), 'fortran_order': False, 'descr': '<f4'}"),
                                    std::string("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": [2, 3]}"),
                                    std::string("  {'descr':'<f4','fortran_order':False,'shape':(2,3)}  \t")}) {
    INFO(header);
    CHECK(read_npy_bytes<float>(npy_file(header, data, 1, 0, 16)).shape() == Shape{2, 3});
  }
  // Bytes after the data are ignored, as numpy ignores them.
  CHECK(read_npy_bytes<float>(npy_file(dict("<f4", "(2, 3)"), data + "extra")).shape() == Shape{2, 3});
  // A stream that cannot seek (a pipe) reads too, in every conversion path.
  PipeBuf pipe(npy_file(dict("<f4", "(6,)"), data));
  std::istream in(&pipe);
  CHECK(values_of(read_npy<double>(in, "pipe")) == std::vector<double>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("npy: bad magic, versions and truncation are io_errors naming the file", "[io][npy]") {
  const std::string good = npy_file(dict("<f4", "(2, 3)"), encode(std::vector<float>(6, 1.0f), false));
  check_npy_throws<strata::io_error>("", "it is empty");
  check_npy_throws<strata::io_error>("\x93NUM", "magic");
  check_npy_throws<strata::io_error>("PK\x03\x04 this is a zip file", "magic");
  check_npy_throws<strata::io_error>("\x93NUMPZ" + good.substr(6), "magic");
  check_npy_throws<strata::io_error>(good.substr(0, 7), "preamble");
  check_npy_throws<strata::io_error>(good.substr(0, 9), "header length");

  std::string v4 = good;
  v4[6] = 4;
  check_npy_throws<strata::io_error>(v4, "version 4.0");
  std::string v11 = good;
  v11[7] = 1;
  check_npy_throws<strata::io_error>(v11, "version 1.1");

  check_npy_throws<strata::io_error>(good.substr(0, 40), "truncated header");
  check_npy_throws<strata::io_error>(good.substr(0, good.size() - 1), "truncated data");
  check_npy_throws<strata::io_error>(good.substr(0, 128), "truncated data");

  // A v2 header length of 4 GiB: refused before reading or allocating it.
  std::string huge_header = npy_file(dict("<f4", "(2, 3)"), "", 2);
  huge_header[8] = huge_header[9] = huge_header[10] = huge_header[11] = '\xff';
  check_npy_throws<strata::io_error>(huge_header, "bytes of header");

  // The same truncations through a stream that cannot seek.
  for (const std::string& cut : {good.substr(0, 40), good.substr(0, good.size() - 1)}) {
    PipeBuf pipe(cut);
    std::istream in(&pipe);
    CHECK_THROWS_AS(read_npy<float>(in, "pipe.npy"), strata::io_error);
  }
}

TEST_CASE("npy: absurd shapes are refused before allocating", "[io][npy]") {
  const std::string data = encode(std::vector<float>(6, 1.0f), false);
  // 4 TiB declared, 24 bytes present: an io_error, not std::bad_alloc.
  check_npy_throws<strata::io_error>(npy_file(dict("<f4", "(1099511627776,)"), data), "truncated data");
  check_npy_throws<strata::io_error>(npy_file(dict("<f8", "(65536, 65536, 65536)"), data), "truncated data");
  // Element counts or byte counts that overflow 64 bits.
  check_npy_throws<strata::io_error>(npy_file(dict("<f4", "(4611686018427387904, 4)"), data), "too many elements");
  check_npy_throws<strata::io_error>(npy_file(dict("<f4", "(4294967296, 4294967296)"), data), "too many elements");
  check_npy_throws<strata::io_error>(npy_file(dict("<f8", "(2305843009213693952, 2)"), data), "too large");
  check_npy_throws<strata::io_error>(npy_file(dict("<f4", "(99999999999999999999999,)"), data), "too large");
  check_npy_throws<strata::io_error>(npy_file(dict("<f4", "(9223372036854775808,)"), data), "too large");
  check_npy_throws<strata::io_error>(npy_file(dict("<f4", "(2, -3)"), data), "negative dimension");
  // Through a pipe the size is unknown: the reader stops when the data ends.
  PipeBuf pipe(npy_file(dict("<f4", "(1099511627776,)"), data));
  std::istream in(&pipe);
  CHECK_THROWS_AS(read_npy<float>(in, "pipe.npy"), strata::io_error);
}

TEST_CASE("npy: malformed headers are io_errors naming the file", "[io][npy]") {
  const std::string data = encode(std::vector<float>(6, 1.0f), false);
  const auto bad = [&](const std::string& header, const std::string& fragment) {
    check_npy_throws<strata::io_error>(npy_file(header, data), fragment);
  };
  bad("[1, 2, 3]", "it is a list, not a dict");
  bad("'abc'", "it is a string, not a dict");
  bad("(2, 3)", "it is a tuple, not a dict");
  bad("", "unexpected end");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", "malformed header");
  bad("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", "malformed header");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} xyz", "unexpected text after");
  bad("{'descr': '<f4', 'fortran_order': False 'shape': (2, 3)}", "expected ',' or '}'");
  bad("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3)}", "expected a Python literal");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5, 3)}", "expected an integer");
  bad("{1: '<f4', 'fortran_order': False, 'shape': (2, 3)}", "not a string");
  bad("{'descr': '<f4', 'shape': (2, 3)}", "no 'fortran_order' key");
  bad("{'fortran_order': False, 'shape': (2, 3)}", "no 'descr' key");
  bad("{'descr': '<f4', 'fortran_order': False}", "no 'shape' key");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", "unexpected key 'extra'");
  bad("{'descr': '<f4', 'fortran_order': 'no', 'shape': (2, 3)}", "'fortran_order' is a string, not a bool");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': 6}", "'shape' is an integer");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 'x')}", "a dimension in 'shape' is a string");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, None)}", "a dimension in 'shape' is None");
  bad(std::string(2000, '(') + std::string(2000, ')'), "nested too deeply");
  bad(std::string(2000, '['), "nested too deeply");
  bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\x01\xff", "unexpected text after");
}

TEST_CASE("npy: Fortran order, unsupported dtypes and ranks are refused by type", "[io][npy]") {
  const std::string data = encode(std::vector<float>(6, 1.0f), false);
  check_npy_throws<strata::value_error>(npy_file(dict("<f4", "(2, 3)", "True"), data), "Fortran order");
  for (const std::string descr : {"<c8", "<f2", "<f16", "|S4", "|O", "<U3", "|f4", "<b2", "f4", "<m8", "<i3"}) {
    check_npy_throws<strata::value_error>(npy_file(dict(descr, "(2, 3)"), data), "unsupported dtype");
  }
  check_npy_throws<strata::value_error>(
      npy_file("{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (3,)}", data), "structured");
  check_npy_throws<strata::shape_error>(npy_file(dict("<f4", "()"), data), "0-d array");
  check_npy_throws<strata::shape_error>(npy_file(dict("<f4", "(1, 1, 1, 1, 1, 1, 1, 1, 6)"), data), "rank 9");
  // Rank max_rank is fine.
  CHECK(read_npy_bytes<float>(npy_file(dict("<f4", "(1, 1, 1, 1, 1, 1, 2, 3)"), data)).rank() == strata::max_rank);
}

TEST_CASE("npy: missing files and unwritable paths are io_errors naming them", "[io][npy]") {
  TempDir dir;
  const std::string missing = dir.file("missing.npy");
  CHECK_THROWS_AS(read_npy<float>(missing), strata::io_error);
  CHECK_THROWS_WITH(read_npy<float>(missing), Catch::Contains(missing) && Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(read_npy<float>(dir.file("")), Catch::Contains("is a directory"));
  const AnyTensor<float> t = AnyTensor<float>::zeros(Shape{2});
  const std::string nowhere = dir.file("no/such/dir/x.npy");
  CHECK_THROWS_AS(write_npy(nowhere, t), strata::io_error);
  CHECK_THROWS_WITH(write_npy(nowhere, t), Catch::Contains(nowhere));
  CHECK_THROWS_AS(write_npy(dir.file("empty.npy"), AnyTensor<float>()), strata::shape_error);
  CHECK_FALSE(fs::exists(dir.file("empty.npy")));
  // A garbage file on disk.
  write_bytes(dir.file("garbage.npy"), "hello, world");
  CHECK_THROWS_WITH(read_npy<float>(dir.file("garbage.npy")),
                    Catch::Contains("garbage.npy") && Catch::Contains("magic"));
}

// ---------------------------------------------------------------------------------------------
// CSV

TEMPLATE_TEST_CASE("csv: 2-D and 3-D round trips through a file, bit for bit", "[io][csv]", float, double) {
  TempDir dir;
  unsigned seed = 10;
  for (const Shape& shape : {Shape{1, 1}, Shape{5, 3}, Shape{1, 12}, Shape{12, 1}, Shape{2, 3, 4}, Shape{4, 1, 2}}) {
    INFO("shape " << shape);
    const AnyTensor<TestType> t = sample<TestType>(shape, seed++);
    write_csv(dir.file("t.csv"), t);
    const AnyTensor<TestType> back = read_csv<TestType>(dir.file("t.csv"), shape.rank());
    CHECK(same_bits(t, back));
    if (shape[0] > 1 || shape.rank() == 2) CHECK(same_bits(t, read_csv<TestType>(dir.file("t.csv"))));
  }
  // NaN stays NaN.
  AnyTensor<TestType> nan = AnyTensor<TestType>::zeros(Shape{1, 2});
  nan.data()[1] = std::numeric_limits<TestType>::quiet_NaN();
  write_csv(dir.file("nan.csv"), nan);
  const AnyTensor<TestType> back = read_csv<TestType>(dir.file("nan.csv"));
  CHECK(back.data()[0] == 0);
  CHECK(std::isnan(back.data()[1]));
}

TEST_CASE("csv: the text written follows the convention", "[io][csv]") {
  std::ostringstream out;
  AnyTensor<float> t = AnyTensor<float>::uninitialized(Shape{2, 2, 3});
  for (int i = 0; i < 12; ++i) t.data()[i] = static_cast<float>(i + 1);
  t.data()[0] = 0.1f;
  t.data()[1] = -2.5e-7f;
  write_csv(out, t);
  CHECK(out.str() == "0.100000001,-2.49999999e-07,3\n4,5,6\n\n7,8,9\n10,11,12\n");
  std::ostringstream two;
  write_csv(two, AnyTensor<double>::from_values(Shape{2, 2}, {0.1, 1, 2, 1e300}));
  CHECK(two.str() == "0.10000000000000001,1\n2,1.0000000000000001e+300\n");
  // The stream's own formatting settings do not matter.
  std::ostringstream fixed;
  fixed.precision(2);
  fixed.setf(std::ios::fixed);
  write_csv(fixed, AnyTensor<double>::from_values(Shape{1, 2}, {0.125, 1e-9}));
  CHECK(fixed.str() == "0.125,1.0000000000000001e-09\n");
}

TEST_CASE("csv: what the reader accepts", "[io][csv]") {
  const auto read = [](const std::string& text, int rank = 0) {
    std::istringstream in(text);
    return read_csv<double>(in, "mem.csv", rank);
  };
  {
    const AnyTensor<double> t = read(" 1.5 ,\t-2e3,+4\r\n5,6,  7  \r\n");
    CHECK(t.shape() == Shape{2, 3});
    CHECK(values_of(t) == std::vector<double>{1.5, -2000, 4, 5, 6, 7});
  }
  CHECK(read("1,2\n3,4").shape() == Shape{2, 2});            // no final newline
  CHECK(read("\n\n1,2\n3,4\n\n\n").shape() == Shape{2, 2});  // leading, trailing empty lines
  CHECK(read("\xEF\xBB\xBF"
             "1,2\n")
            .shape() == Shape{1, 2});                                   // UTF-8 byte order mark
  CHECK(read("1\n2\n\n3\n4\n").shape() == Shape{2, 2, 1});              // blocks
  CHECK(read("1,2\n\n\n3,4\n").shape() == Shape{2, 1, 2});              // several empty lines
  CHECK(read("1,2\n \t\n3,4\r\n\r\n5,6\n").shape() == Shape{3, 1, 2});  // blank means blank
  CHECK(read("1,2\n3,4\n", 3).shape() == Shape{1, 2, 2});               // rank 3 asked for
  CHECK(read("1,2\n3,4\n", 2).shape() == Shape{2, 2});
  {
    const AnyTensor<double> t = read("inf,-inf,nan,-0,1e-320,1e999,-1e999\n");
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(t.data()[0] == inf);
    CHECK(t.data()[1] == -inf);
    CHECK(std::isnan(t.data()[2]));
    CHECK(std::signbit(t.data()[3]));
    CHECK(t.data()[4] > 0);
    CHECK(t.data()[5] == inf);
    CHECK(t.data()[6] == -inf);
  }
  {
    std::istringstream in("1e-50,1e50,3.4028236e38\n");
    const AnyTensor<float> t = read_csv<float>(in);
    CHECK(t.data()[0] == 0.0f);
    CHECK(t.data()[1] == std::numeric_limits<float>::infinity());
    CHECK(t.data()[2] == std::numeric_limits<float>::infinity());
  }
}

TEST_CASE("csv: ragged rows and blocks, non-numbers and empty files are io_errors naming file and line", "[io][csv]") {
  check_csv_throws<strata::io_error>("1,2,3\n4,5\n", "line 2: 2 values; line 1 has 3");
  check_csv_throws<strata::io_error>("1,2\n3,4\n5,6,7\n", "line 3: 3 values; line 1 has 2");
  check_csv_throws<strata::io_error>("1,2\n3,4\n\n5,6\n", "line 4: block 2 (from line 4) has 1 lines; block 1 has 2");
  check_csv_throws<strata::io_error>("1\n\n2\n3\n\n4\n", "line 4: block 2 (from line 3) has 2 lines; block 1 has 1");
  check_csv_throws<strata::io_error>("1,2\n\n3\n", "line 3: 1 values; line 1 has 2");
  check_csv_throws<strata::io_error>("1,abc,3\n", "line 1: field 2 is not a number: 'abc'");
  check_csv_throws<strata::io_error>("1,2\n3,4x\n", "line 2: field 2 is not a number: '4x'");
  check_csv_throws<strata::io_error>("a,b\n1,2\n", "line 1: field 1 is not a number: 'a'");
  check_csv_throws<strata::io_error>("1,,3\n", "line 1: field 2 is empty");
  check_csv_throws<strata::io_error>("1,2,\n", "line 1: field 3 is empty");
  check_csv_throws<strata::io_error>("1;2\n", "field 1 is not a number: '1;2'");
  check_csv_throws<strata::io_error>("1 2\n", "field 1 is not a number");
  check_csv_throws<strata::io_error>("0x10\n", "field 1 is not a number");
  check_csv_throws<strata::io_error>("+-1\n", "field 1 is not a number");
  check_csv_throws<strata::io_error>("\"1\",2\n", "field 1 is not a number");
  check_csv_throws<strata::io_error>("", "line 1: no numbers (the file is empty)");
  check_csv_throws<strata::io_error>("\n \n\n", "line 3: no numbers (the file has only empty lines)");
  check_csv_throws<strata::io_error>("1,2\n\n3,4\n", "line 3: an empty line before it", 2);
  check_csv_throws<strata::value_error>("1,2\n", "rank must be 0 (automatic), 2 or 3; got 4", 4);
}

TEST_CASE("csv: missing files, unwritable paths and shapes CSV cannot hold", "[io][csv]") {
  TempDir dir;
  const std::string missing = dir.file("missing.csv");
  CHECK_THROWS_AS(read_csv<float>(missing), strata::io_error);
  CHECK_THROWS_WITH(read_csv<float>(missing), Catch::Contains(missing) && Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(read_csv<float>(dir.file("")), Catch::Contains("is a directory"));
  write_bytes(dir.file("bad.csv"), "1,2\n3,x\n");
  CHECK_THROWS_WITH(read_csv<float>(dir.file("bad.csv")),
                    Catch::Contains(dir.file("bad.csv") + "' line 2") && Catch::Contains("'x'"));

  const std::string nowhere = dir.file("no/such/dir/x.csv");
  CHECK_THROWS_AS(write_csv(nowhere, AnyTensor<float>::zeros(Shape{2, 2})), strata::io_error);
  CHECK_THROWS_WITH(write_csv(nowhere, AnyTensor<float>::zeros(Shape{2, 2})), Catch::Contains(nowhere));
  const std::string out = dir.file("out.csv");
  for (const Shape& shape : {Shape{4}, Shape{1, 2, 3, 4}, Shape{0, 3}, Shape{3, 0}, Shape{2, 0, 3}}) {
    INFO("shape " << shape);
    CHECK_THROWS_AS(write_csv(out, AnyTensor<float>::zeros(shape)), strata::shape_error);
  }
  CHECK_THROWS_AS(write_csv(out, AnyTensor<float>()), strata::shape_error);
  CHECK_THROWS_WITH(write_csv(out, AnyTensor<float>::zeros(Shape{4})), Catch::Contains("(4,)"));
  CHECK_FALSE(fs::exists(out));  // refused before the file was created
  strata::Tensor<double, 2> t(1, 2);
  t.setValues({{1.5, -2}});
  write_csv(out, t);
  CHECK(read_bytes(out) == "1.5,-2\n");
}
