// SPDX-License-Identifier: MIT
// Fuzz target: the .npy reader (include/strata/io/npy.hpp). Any input may be rejected, but only
// with strata's typed errors; an input that reads must write back (write_npy) and read again to
// the same shape and the same values bit for bit, in float and in double.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <strata/io/npy.hpp>
#include <string>

namespace {

template <class T>
void check(const std::string& bytes) {
  strata::AnyTensor<T> first;
  try {
    std::istringstream in(bytes);
    first = strata::io::read_npy<T>(in, "fuzz.npy");
  } catch (const strata::load_error&) {
    return;  // strata::io_error: a malformed file
  } catch (const strata::error&) {
    return;  // value_error, shape_error: an array strata does not read (dtype, order, rank)
  }
  std::ostringstream out;
  strata::io::write_npy(out, first, "fuzz.npy");
  std::istringstream again(out.str());
  const strata::AnyTensor<T> second = strata::io::read_npy<T>(again, "fuzz.npy");
  if (!(second.shape() == first.shape())) std::abort();  // the shape changed on the round trip
  if (first.size() > 0 &&                                // an empty array may have no storage (data() null)
      std::memcmp(first.data(), second.data(), sizeof(T) * static_cast<std::size_t>(first.size())) != 0)
    std::abort();  // a value changed on the round trip
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  check<float>(bytes);
  check<double>(bytes);
  return 0;
}
