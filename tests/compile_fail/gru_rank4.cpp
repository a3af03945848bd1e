// SPDX-License-Identifier: MIT
// GRU (like LSTM) takes (batch, time, features); rank 4 needs TimeDistributed.
#include <strata/strata.hpp>

int main() {
  strata::GRU<float> gru(3, strata::GRUOptions().input_dim(2));
#ifdef STRATA_SHOULD_FAIL
  strata::Tensor<float, 4> x(1, 2, 3, 2);
#else
  strata::Tensor<float, 3> x(1, 3, 2);
#endif
  x.setZero();
  const strata::AnyTensor<float> y = gru(x);
  return y.size() > 0 ? 0 : 1;
}
