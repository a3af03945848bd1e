// SPDX-License-Identifier: MIT
// Fuzz target: the CSV reader (include/strata/io/csv.hpp). The first byte picks the rank asked for
// (0 automatic, 2 or 3), the rest is the text. Any input may be rejected, but only with strata's
// typed errors; text that reads must write back (write_csv) and read again to the same shape and
// the same values bit for bit (NaNs as NaNs), in float and in double.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <strata/io/csv.hpp>
#include <string>

namespace {

template <class T>
void check(int rank, const std::string& text) {
  strata::AnyTensor<T> first;
  try {
    std::istringstream in(text);
    first = strata::io::read_csv<T>(in, "fuzz.csv", rank);
  } catch (const strata::load_error&) {
    return;  // strata::io_error: a malformed file
  } catch (const strata::error&) {
    return;  // value_error: a bad rank argument
  }
  std::ostringstream out;
  strata::io::write_csv(out, first, "fuzz.csv");
  std::istringstream again(out.str());
  const strata::AnyTensor<T> second = strata::io::read_csv<T>(again, "fuzz.csv", first.rank());
  if (!(second.shape() == first.shape())) std::abort();
  for (strata::Index i = 0; i < first.size(); ++i) {
    const T a = first.data()[i];
    const T b = second.data()[i];
    if (std::isnan(a) ? !std::isnan(b) : std::memcmp(&a, &b, sizeof(T)) != 0) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr int ranks[3] = {0, 2, 3};
  const int rank = ranks[data[0] % 3];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  check<float>(rank, text);
  check<double>(rank, text);
  return 0;
}
