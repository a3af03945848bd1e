// SPDX-License-Identifier: MIT
// TimeDistributed wraps strata layers only.
#include <strata/strata.hpp>

struct NotALayer {};

int main() {
#ifdef STRATA_SHOULD_FAIL
  strata::TimeDistributed<NotALayer> td{NotALayer{}};
#else
  strata::TimeDistributed<strata::Dense<float> > td(strata::Dense<float>(1));
#endif
  (void)td;
  return 0;
}
