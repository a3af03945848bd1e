// SPDX-License-Identifier: MIT
// Bidirectional wraps a recurrent layer (LSTM, GRU, SimpleRNN), as in Keras.
#include <strata/strata.hpp>

int main() {
#ifdef STRATA_SHOULD_FAIL
  strata::Bidirectional<strata::Dense<float> > bi(strata::Dense<float>(2));
#else
  strata::Bidirectional<strata::SimpleRNN<float> > bi(strata::SimpleRNN<float>(2));
#endif
  return bi.units() == 2 ? 0 : 1;
}
