// SPDX-License-Identifier: MIT
// End to end: weights as Keras' get_weights() prints them, a batch of sequences predicted, and the
// same predictions produced again by streaming the sequences in one step at a time through a
// stateful LSTM, as a real-time program would.
//
// Exits with status 1 if the streamed predictions differ from the batch ones.
#include <cstdio>
#include <strata/strata.hpp>

int main() {
  using strata::Dense;
  using strata::DenseOptions;
  using strata::LSTM;
  using strata::LSTMOptions;
  using strata::Tensor;

  // The weights of a trained Keras model LSTM(2) -> Dense(1) on 1 feature, as get_weights() lists
  // them: kernel (1, 8), recurrent_kernel (2, 8), bias (8,) with gate blocks i, f, c, o; then the
  // Dense kernel (2, 1) and bias (1,).
  Tensor<float, 2> kernel(1, 8);
  kernel.setValues({{0.9f, -0.4f, 1.2f, 0.3f, -0.7f, 0.5f, 0.8f, -1.1f}});
  Tensor<float, 2> recurrent(2, 8);
  recurrent.setValues({{0.2f, 0.1f, -0.3f, 0.6f, 0.4f, -0.2f, 0.1f, 0.3f},  //
                       {-0.5f, 0.3f, 0.2f, -0.1f, 0.7f, 0.2f, -0.4f, 0.1f}});
  Tensor<float, 1> bias(8);
  bias.setValues({0.1f, 0.0f, 1.0f, 1.0f, 0.0f, -0.1f, 0.05f, 0.2f});
  Tensor<float, 2> head_kernel(2, 1);
  head_kernel.setValues({{1.5f}, {-0.8f}});
  Tensor<float, 1> head_bias(1);
  head_bias.setValues({0.25f});

  LSTM<float> lstm(2);
  lstm.set_weights({kernel, recurrent, bias});
  Dense<float> head(1);
  head.set_weights({head_kernel, head_bias});

  // A batch of 3 sequences of 6 steps with 1 feature each: a ramp, a sine-like wave, a step.
  Tensor<float, 3> x(3, 6, 1);
  x.setValues({{{0.0f}, {0.2f}, {0.4f}, {0.6f}, {0.8f}, {1.0f}},
               {{0.0f}, {0.8f}, {0.9f}, {0.1f}, {-0.7f}, {-1.0f}},
               {{0.0f}, {0.0f}, {0.0f}, {1.0f}, {1.0f}, {1.0f}}});

  // Batch prediction: Keras model.predict(x).
  Tensor<float, 2> h = lstm(x);
  Tensor<float, 2> batch_prediction = head(h);
  std::printf("batch prediction, shape %s:\n", strata::shape_of(batch_prediction).to_string().c_str());
  for (strata::Index b = 0; b < 3; ++b)
    std::printf("  sequence %ld -> %+.6f\n", static_cast<long>(b), batch_prediction(b, 0));

  // Streaming: the same weights in a stateful LSTM, fed one step of all 3 sequences per call.
  LSTM<float> streaming(2, LSTMOptions().stateful(true));
  streaming.set_weights(lstm.get_weights());
  Tensor<float, 2> last;
  for (strata::Index t = 0; t < 6; ++t) {
    Tensor<float, 3> step = x.slice(Eigen::array<strata::Index, 3>{0, t, 0}, Eigen::array<strata::Index, 3>{3, 1, 1});
    last = streaming(step).get<2>();  // (3, 2): h after this step; the state carries to the next call
  }
  Tensor<float, 2> streamed_prediction = head(last);
  bool same = true;
  for (strata::Index b = 0; b < 3; ++b) same &= streamed_prediction(b, 0) == batch_prediction(b, 0);
  std::printf("streamed one step per call: %s\n", same ? "identical to the batch prediction" : "DIFFERENT");

  streaming.reset_states();  // a new stream starts from zeros again
  return same ? 0 : 1;
}
