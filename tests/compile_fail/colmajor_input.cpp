// SPDX-License-Identifier: MIT
// Layers read memory in numpy's (row-major) order; a ColMajor tensor would be read transposed.
#include <strata/strata.hpp>

int main() {
  strata::Dense<float> dense(3, strata::DenseOptions().input_dim(2).seed(1));
#ifdef STRATA_SHOULD_FAIL
  Eigen::Tensor<float, 2, Eigen::ColMajor> x(1, 2);
#else
  strata::Tensor<float, 2> x(1, 2);
#endif
  x.setZero();
  return dense(x).size() > 0 ? 0 : 1;
}
