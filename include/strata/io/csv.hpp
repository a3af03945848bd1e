// SPDX-License-Identifier: MIT
#ifndef STRATA_IO_CSV_HPP
#define STRATA_IO_CSV_HPP

/// \file
/// 2-D and 3-D tensors as plain CSV text, with nothing but the standard library.
///
/// The convention:
///
/// - A 2-D tensor of shape (N, F) is N lines of F comma-separated numbers:
///
///       0.5,1,-2
///       3.25,4e-07,5
///
/// - A 3-D tensor of shape (B, T, F) is B blocks of T such lines, consecutive blocks separated by
///   one empty line (a (2, 2, 3) tensor):
///
///       1,2,3
///       4,5,6
///
///       7,8,9
///       10,11,12
///
/// - No header row, no quoting; fields may have spaces or tabs around them; "nan", "inf" and
///   "-inf" are numbers; a line may end in "\r\n". Empty lines before the first and after the last
///   line of numbers are ignored, and when reading, a run of several empty lines separates two
///   blocks like one.
/// - A file of one block reads as 2-D (N, F), unless `rank` 3 is asked for, which gives (1, T, F);
///   asking for `rank` 2 makes a file of several blocks an error.
///
/// read_csv throws strata::io_error naming the file and the line for a row of another length than
/// the first, a block of another number of lines than the first, a field that is not a number, or
/// a file without numbers; write_csv throws strata::shape_error for a tensor that is not 2-D or
/// 3-D or has a zero dimension (which CSV cannot represent), strata::io_error if the file cannot
/// be written. Numbers are written with std::numeric_limits<T>::max_digits10 significant digits,
/// so that reading them back gives the same values bit for bit.

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <locale>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>
#if defined(__has_include)
#if __has_include(<charconv>)
#include <charconv>
#endif
#endif

#include "../error.hpp"
#include "../shape.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace io {

namespace csv_detail {

using strata::detail::concat;

[[noreturn]] inline void fail_line(const char* function, const std::string& name, long long line,
                                   const std::string& what) {
  throw io_error(concat("strata::io::", function, ": '", name, "' line ", line, ": ", what));
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

/// Parses the whole of `s` as a number of type T (locale-independent); false if it is not one.
/// Values beyond T's range become infinities, values below its smallest subnormal zeros.
template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  if (s.front() == '+') {
    s.remove_prefix(1);
    if (s.empty() || s.front() == '-' || s.front() == '+') return false;
  }
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
  T value{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (end != s.data() + s.size()) return false;
  if (ec == std::errc()) {
    out = value;
    return true;
  }
  if (ec != std::errc::result_out_of_range) return false;
#else
  for (char c : s) {  // strtod would also take hexadecimal and locale-specific forms
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+' ||
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '(' || c == ')')) {
      return false;
    }
  }
  if (s.size() > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) return false;
  if (s.size() > 2 && s[0] == '-' && s[1] == '0' && (s[2] == 'x' || s[2] == 'X')) return false;
#endif
  // Out of range (or no <charconv> for floating point): strtod's overflow gives +-HUGE_VAL, its
  // underflow a subnormal or zero; the syntax was checked above.
  const std::string copy(s);
  char* end_ptr = nullptr;
  errno = 0;
  const long double wide = std::strtold(copy.c_str(), &end_ptr);
  if (end_ptr != copy.c_str() + copy.size()) return false;
  if (wide > static_cast<long double>(std::numeric_limits<T>::max())) {
    out = std::numeric_limits<T>::infinity();
  } else if (wide < static_cast<long double>(std::numeric_limits<T>::lowest())) {
    out = -std::numeric_limits<T>::infinity();
  } else {
    out = static_cast<T>(wide);
  }
  return true;
}

/// A field for an error message: at most 40 characters, control characters replaced.
inline std::string quote_field(std::string_view s) {
  std::string q(s.substr(0, 40));
  for (char& c : q) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return concat("'", q, s.size() > 40 ? "...'" : "'");
}

/// Throws shape_error unless t is 2-D or 3-D without zero dimensions.
template <class T>
void check_shape(const AnyTensor<T>& t, const std::string& name) {
  if (t.rank() != 2 && t.rank() != 3) {
    throw shape_error(concat("strata::io::write_csv: '", name, "': CSV holds 2-D (N, F) or 3-D (B, T, F) tensors; got ",
                             t.empty() ? std::string("an empty AnyTensor") : "shape " + t.shape().to_string()));
  }
  const Shape shape = t.shape();
  for (Index dim : shape) {
    if (dim == 0) {
      throw shape_error(concat("strata::io::write_csv: '", name, "': shape ", shape.to_string(),
                               " has a zero dimension, which CSV cannot represent"));
    }
  }
}

}  // namespace csv_detail

/// Reads CSV text from `in` (see the file comment for the convention) into a tensor of rank 2 or
/// 3. `rank` 0 lets the text decide (2 for one block, 3 for several); 2 or 3 asks for that rank.
/// `name` is the file name used in error messages.
template <class T>
AnyTensor<T> read_csv(std::istream& in, const std::string& name = "<stream>", int rank = 0) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "strata::io::read_csv<T>: T must be float or double");
  namespace d = csv_detail;
  if (rank != 0 && rank != 2 && rank != 3) {
    throw value_error(d::concat("strata::io::read_csv: '", name, "': rank must be 0 (automatic), 2 or 3; got ", rank));
  }
  std::vector<T> values;
  Index columns = -1;  // F, from the first line of numbers
  long long columns_line = 0;
  Index block_rows = -1;      // T, from the first block
  Index rows = 0;             // lines in the current block
  Index blocks = 0;           // blocks completed
  long long block_start = 0;  // first line of the current block
  long long last_data_line = 0;
  bool blank_before = false;

  const auto end_block = [&](long long line) {
    if (block_rows < 0) {
      block_rows = rows;
    } else if (rows != block_rows) {
      d::fail_line("read_csv", name, line,
                   d::concat("block ", blocks + 1, " (from line ", block_start, ") has ", rows, " lines; block 1 has ",
                             block_rows, " (every block of a 3-D CSV has the same number of lines)"));
    }
    ++blocks;
    rows = 0;
  };

  std::string line;
  long long line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view text(line);
    if (line_no == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
    if (d::trim(text).empty()) {
      blank_before = columns >= 0;
      continue;
    }
    if (blank_before) {
      if (rank == 2) {
        d::fail_line("read_csv", name, line_no,
                     "an empty line before it splits the file into blocks, as in a 3-D CSV; a 2-D CSV has none");
      }
      end_block(last_data_line);
      blank_before = false;
    }
    if (rows == 0) block_start = line_no;
    Index fields = 0;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = text.find(',', start);
      const std::string_view field =
          d::trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      T value{};
      if (!d::parse_number(field, value)) {
        d::fail_line("read_csv", name, line_no,
                     field.empty() ? d::concat("field ", fields + 1, " is empty")
                                   : d::concat("field ", fields + 1, " is not a number: ", d::quote_field(field)));
      }
      values.push_back(value);
      ++fields;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (columns < 0) {
      columns = fields;
      columns_line = line_no;
    } else if (fields != columns) {
      d::fail_line("read_csv", name, line_no,
                   d::concat(fields, " values; line ", columns_line, " has ", columns,
                             " (every line of a CSV tensor has the same number of values)"));
    }
    ++rows;
    last_data_line = line_no;
  }
  if (in.bad()) throw io_error(d::concat("strata::io::read_csv: '", name, "': reading failed"));
  if (columns < 0) {
    throw io_error(d::concat("strata::io::read_csv: '", name, "' line ", line_no == 0 ? 1 : line_no, ": no numbers",
                             line_no == 0 ? " (the file is empty)" : " (the file has only empty lines)"));
  }
  end_block(last_data_line);
  Shape shape;
  if (blocks > 1 || rank == 3) {
    shape = Shape{blocks, block_rows, columns};
  } else {
    shape = Shape{block_rows, columns};
  }
  return AnyTensor<T>::from_values(shape, values);
}

/// Reads the CSV file at `path`; see read_csv(std::istream&, ...) and the file comment.
template <class T>
AnyTensor<T> read_csv(const std::string& path, int rank = 0) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw io_error(csv_detail::concat("strata::io::read_csv: '", path, "': is a directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(csv_detail::concat("strata::io::read_csv: '", path, "': cannot open the file for reading"));
  return read_csv<T>(in, path, rank);
}

/// Writes a 2-D or 3-D tensor to `out` as CSV (see the file comment). `name` is used in error
/// messages.
template <class T>
void write_csv(std::ostream& out, const AnyTensor<T>& t, const std::string& name = "<stream>") {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "strata::io::write_csv: the tensor must hold float or double");
  namespace d = csv_detail;
  d::check_shape(t, name);
  const Shape shape = t.shape();
  const Index blocks = t.rank() == 3 ? shape[0] : 1;
  const Index rows = shape[t.rank() - 2];
  const Index columns = shape[t.rank() - 1];
  std::ostringstream text;  // its own locale and precision, whatever `out` has
  text.imbue(std::locale::classic());
  text.precision(std::numeric_limits<T>::max_digits10);
  const auto flush_text = [&]() {
    const std::string chunk = text.str();
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    text.str(std::string());
  };
  const T* p = t.data();
  for (Index b = 0; b < blocks; ++b) {
    if (b > 0) text << '\n';
    for (Index r = 0; r < rows; ++r) {
      for (Index c = 0; c < columns; ++c) {
        if (c > 0) text << ',';
        text << *p++;
      }
      text << '\n';
      if (text.tellp() > std::streamoff(1) << 20) flush_text();
    }
  }
  flush_text();
  out.flush();
  if (!out) throw io_error(d::concat("strata::io::write_csv: '", name, "': writing failed"));
}

/// Writes a 2-D or 3-D tensor to the file at `path` (replacing it) as CSV.
template <class T>
void write_csv(const std::string& path, const AnyTensor<T>& t) {
  csv_detail::check_shape(t, path);  // before the file is touched
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw io_error(csv_detail::concat("strata::io::write_csv: '", path, "': cannot open the file for writing"));
  write_csv(out, t, path);
  out.close();
  if (!out) throw io_error(csv_detail::concat("strata::io::write_csv: '", path, "': writing failed"));
}

/// Writes a Tensor<T, 2> or Tensor<T, 3> (copied into an AnyTensor first).
template <class T, int Rank>
void write_csv(const std::string& path, const Tensor<T, Rank>& t) {
  write_csv(path, AnyTensor<T>(t));
}

}  // namespace io
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_IO_CSV_HPP
