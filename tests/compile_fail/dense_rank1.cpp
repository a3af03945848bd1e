// SPDX-License-Identifier: MIT
// Dense needs a batch axis and a feature axis.
#include <strata/strata.hpp>

int main() {
  strata::Dense<float> dense(3, strata::DenseOptions().input_dim(2).seed(1));
#ifdef STRATA_SHOULD_FAIL
  strata::Tensor<float, 1> x(2);
#else
  strata::Tensor<float, 2> x(1, 2);
#endif
  x.setZero();
  return dense(x).size() > 0 ? 0 : 1;
}
