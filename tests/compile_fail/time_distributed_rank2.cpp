// SPDX-License-Identifier: MIT
// TimeDistributed needs (batch, time, ...): rank 3 at least.
#include <strata/strata.hpp>

int main() {
  strata::TimeDistributed<strata::Dense<float>> td(
      strata::Dense<float>(3, strata::DenseOptions().input_dim(2).seed(1)));
#ifdef STRATA_SHOULD_FAIL
  strata::Tensor<float, 2> x(1, 2);
#else
  strata::Tensor<float, 3> x(1, 1, 2);
#endif
  x.setZero();
  return td(x).size() > 0 ? 0 : 1;
}
