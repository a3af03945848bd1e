// SPDX-License-Identifier: MIT
// strata_npy_compare ACTUAL EXPECTED [TOLERANCE]: exit 0 if the two tensors (.npy, or .csv read
// with the rank of EXPECTED) have the same shape and differ by at most TOLERANCE (default 1e-5)
// everywhere, NaN matching NaN only; otherwise print why and exit 1. Used by the strata-predict
// tests, where numpy is not available.
#include <cmath>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <strata/io/csv.hpp>
#include <strata/io/npy.hpp>
#include <string>

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

strata::AnyTensor<double> load(const std::string& path, int rank) {
  if (ends_with(path, ".csv")) return strata::io::read_csv<double>(path, rank == 2 || rank == 3 ? rank : 0);
  return strata::io::read_npy<double>(path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::cerr << "usage: strata_npy_compare ACTUAL EXPECTED [TOLERANCE]\n";
    return 2;
  }
  try {
    const double tolerance = argc == 4 ? std::stod(argv[3]) : 1e-5;
    const strata::AnyTensor<double> expected = load(argv[2], 0);
    const strata::AnyTensor<double> actual = load(argv[1], expected.rank());
    if (actual.shape() != expected.shape()) {
      std::cerr << "shape " << actual.shape() << " of " << argv[1] << " differs from " << expected.shape() << " of "
                << argv[2] << "\n";
      return 1;
    }
    double worst = 0;
    strata::Index worst_at = 0;
    for (strata::Index i = 0; i < expected.size(); ++i) {
      const double a = actual.data()[i];
      const double e = expected.data()[i];
      if (std::isnan(a) || std::isnan(e)) {
        if (std::isnan(a) && std::isnan(e)) continue;
        std::cerr << "element " << i << ": " << a << " vs " << e << "\n";
        return 1;
      }
      const double diff = a == e ? 0.0 : std::fabs(a - e);
      if (!(diff <= worst)) {
        worst = diff;
        worst_at = i;
      }
    }
    std::cout << expected.size() << " values, shape " << expected.shape() << ", max abs error " << worst << " (element "
              << worst_at << "), tolerance " << tolerance << "\n";
    return worst <= tolerance ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "strata_npy_compare: " << e.what() << "\n";
    return 1;
  }
}
