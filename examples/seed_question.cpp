// SPDX-License-Identifier: MIT
// The seed question: LSTM(5, return_sequences) followed by TimeDistributed(Dense(1)), or by a
// plain Dense(1) -- what is the difference? Both models are built with the same weights, run on
// the same batch, and compared; then the case where wrapping does matter is shown.
//
// Exits with status 1 if any claim it prints turns out false.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <strata/strata.hpp>

namespace {

template <class X>
float max_abs_diff(const X& a, const X& b) {
  float m = 0;
  for (strata::Index i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

bool check(bool ok, const char* claim) {
  if (!ok) std::printf("FAILED: %s\n", claim);
  return ok;
}

}  // namespace

int main() {
  using strata::Dense;
  using strata::DenseOptions;
  using strata::LSTM;
  using strata::LSTMOptions;
  using strata::Tensor;
  using strata::TimeDistributed;
  bool ok = true;

  // Keras: LSTM(5, input_shape=(10, 20), return_sequences=True)
  LSTM<float> lstm(5, LSTMOptions().return_sequences(true).input_dim(20).seed(1));
  // Model A ends in TimeDistributed(Dense(1)), model B in Dense(1); B gets A's weights.
  TimeDistributed<Dense<float>> td_dense(Dense<float>(1, DenseOptions().input_dim(5).seed(2)));
  Dense<float> dense(1);
  dense.set_weights(td_dense.get_weights());

  Tensor<float, 3> x(32, 10, 20);  // a batch of 32 sequences of 10 steps with 20 features
  x.setRandom();
  Tensor<float, 3> h = lstm(x);
  Tensor<float, 3> a = td_dense(h);
  Tensor<float, 3> b = dense(h);

  std::printf("Model A  LSTM(5) -> TimeDistributed(Dense(1)): output shape %s\n",
              strata::shape_of(a).to_string().c_str());
  std::printf("Model B  LSTM(5) -> Dense(1):                  output shape %s\n",
              strata::shape_of(b).to_string().c_str());
  const float diff = max_abs_diff(a, b);
  std::printf("Largest difference between A and B: %g\n\n", static_cast<double>(diff));
  ok &= check(strata::shape_of(a) == strata::Shape({32, 10, 1}), "model A has shape (32, 10, 1)");
  ok &= check(strata::shape_of(b) == strata::Shape({32, 10, 1}), "model B has shape (32, 10, 1)");
  ok &= check(diff == 0.0f, "A and B are equal element for element");

  std::printf(
      "Why: Dense acts on the last axis only. On (batch, 10, 5) it applies one (5, 1) kernel at each of the\n"
      "10 steps -- which is exactly what TimeDistributed(Dense) does, slice by slice. Same weights, same\n"
      "arithmetic, same numbers.\n\n");

  // Where wrapping matters: a layer that mixes the axes it is given. An LSTM reads axis 1 as time.
  // On (batch, 4, 6, 3) the LSTM alone refuses the input (it needs rank 3); TimeDistributed(LSTM)
  // runs an independent LSTM, from a zero state, over the 6 inner steps of each of the 4 outer steps.
  LSTM<float> inner(5, LSTMOptions().input_dim(3).seed(3));
  TimeDistributed<LSTM<float>> td_lstm(inner);
  Tensor<float, 4> video(2, 4, 6, 3);
  video.setRandom();
  Tensor<float, 3> per_outer_step = td_lstm(video);
  std::printf("TimeDistributed(LSTM(5)) on (2, 4, 6, 3): output shape %s (one state per outer step)\n",
              strata::shape_of(per_outer_step).to_string().c_str());
  ok &= check(strata::shape_of(per_outer_step) == strata::Shape({2, 4, 5}), "TD(LSTM) gives (2, 4, 5)");

  bool rejected = false;
  try {
    (void)inner(strata::AnyTensor<float>(video));
  } catch (const strata::shape_error& e) {
    rejected = true;
    std::printf("LSTM(5) on the same input:                 %s\n", e.what());
  }
  ok &= check(rejected, "the bare LSTM rejects rank 4");

  // Flattening the two time axes into one sequence is not the same model: the state would flow
  // from one outer step into the next.
  Eigen::array<strata::Index, 3> flat{2, 24, 3};
  Tensor<float, 3> flattened = video.reshape(flat);
  LSTM<float> over_all(5, LSTMOptions().input_dim(3).seed(3));
  Tensor<float, 2> last = over_all(flattened);
  Tensor<float, 2> last_outer = per_outer_step.chip<1>(3);
  const float flat_diff = max_abs_diff(last, last_outer);
  std::printf("LSTM(5) over the 24 flattened steps vs TD(LSTM)'s last outer step: largest difference %g\n\n",
              static_cast<double>(flat_diff));
  ok &= check(flat_diff > 1e-4f, "one LSTM over all steps differs from TD(LSTM)");

  std::printf(
      "So: TimeDistributed changes nothing for a layer that already works on the last axis (Dense), and\n"
      "changes the meaning of a layer that mixes axes (LSTM, Conv, Flatten): the wrapped layer sees each\n"
      "slice x[:, t] as a separate input, with its own batch of samples and no memory between slices.\n");
  return ok ? 0 : 1;
}
