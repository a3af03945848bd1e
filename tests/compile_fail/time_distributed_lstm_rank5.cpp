// SPDX-License-Identifier: MIT
// TimeDistributed(LSTM) takes rank 4: slices of rank 3. Rank 5 would hand the LSTM rank-4 slices.
#include <strata/strata.hpp>

int main() {
  strata::TimeDistributed<strata::LSTM<float>> td(strata::LSTM<float>(3, strata::LSTMOptions().input_dim(2).seed(1)));
#ifdef STRATA_SHOULD_FAIL
  strata::Tensor<float, 5> x(1, 1, 1, 1, 2);
#else
  strata::Tensor<float, 4> x(1, 1, 1, 2);
#endif
  x.setZero();
  return td(x).rank() > 0 ? 0 : 1;
}
