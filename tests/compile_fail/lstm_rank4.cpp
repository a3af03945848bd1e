// SPDX-License-Identifier: MIT
// An LSTM takes (batch, time, features); a rank-4 tensor needs TimeDistributed(LSTM).
#include <strata/strata.hpp>

int main() {
  strata::LSTM<float> lstm(3, strata::LSTMOptions().input_dim(2).seed(1));
#ifdef STRATA_SHOULD_FAIL
  strata::Tensor<float, 4> x(1, 2, 3, 2);
#else
  strata::Tensor<float, 3> x(1, 3, 2);
#endif
  x.setZero();
  return lstm(x).rank() > 0 ? 0 : 1;
}
