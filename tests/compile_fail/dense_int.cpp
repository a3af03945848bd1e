// SPDX-License-Identifier: MIT
// Layers compute in floating point.
#include <strata/strata.hpp>

int main() {
#ifdef STRATA_SHOULD_FAIL
  strata::Dense<int> dense(3);
#else
  strata::Dense<double> dense(3);
#endif
  return dense.units() == 3 ? 0 : 1;
}
