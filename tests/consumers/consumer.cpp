// SPDX-License-Identifier: MIT
// A program that uses strata as an outside project would: Dense after an LSTM, both ways.
#include <cstdio>
#include <strata/strata.hpp>

int main() {
  strata::LSTM<float> lstm(4, strata::LSTMOptions().return_sequences(true).input_dim(3).seed(7));
  strata::Dense<float> dense(2, strata::DenseOptions().input_dim(4).seed(8));
  strata::TimeDistributed<strata::Dense<float>> td(dense);

  strata::Tensor<float, 3> x(2, 5, 3);
  x.setConstant(0.25f);
  strata::Tensor<float, 3> h = lstm(x);
  strata::Tensor<float, 3> a = dense(h);
  strata::Tensor<float, 3> b = td(h);
  for (strata::Index i = 0; i < a.size(); ++i) {
    if (a.data()[i] != b.data()[i]) {
      std::puts("Dense and TimeDistributed(Dense) differ");
      return 1;
    }
  }
  std::printf("strata %s: output (%ld, %ld, %ld), Dense == TimeDistributed(Dense)\n", STRATA_VERSION_STRING,
              static_cast<long>(a.dimension(0)), static_cast<long>(a.dimension(1)), static_cast<long>(a.dimension(2)));
  return 0;
}
