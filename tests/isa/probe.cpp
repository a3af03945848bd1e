// SPDX-License-Identifier: MIT
// Compiled twice (STRATA_PROBE = probe_baseline / probe_avx2_fma, with different target flags):
// each copy builds a Dense and an LSTM with strata's kernels as compiled for its own target.
#include "probe.hpp"

#include <strata/layers/dense.hpp>
#include <strata/layers/lstm.hpp>

ProbeResult STRATA_PROBE() {
  ProbeResult r;
  r.isa = strata::detail::isa_name;
  r.float_packet = strata::detail::packet_size<float>;
  r.panel_width = strata::detail::GemmConfig<float>::panel_width;

  const int f = 13;
  strata::Tensor<float, 2> kernel(f, 20);
  strata::Tensor<float, 1> bias(20);
  for (int i = 0; i < kernel.size(); ++i) kernel.data()[i] = probe_value(1, i);
  r.packed_panels = static_cast<long>(strata::detail::PackedMatrix<float>(kernel.data(), f, 20).panels());
  for (int i = 0; i < bias.size(); ++i) bias.data()[i] = probe_value(2, i);
  strata::Dense<float> dense(20, strata::DenseOptions().activation("tanh"));
  dense.set_weights({strata::AnyTensor<float>(kernel), strata::AnyTensor<float>(bias)});
  strata::Tensor<float, 2> x(7, f);
  for (int i = 0; i < x.size(); ++i) x.data()[i] = probe_value(3, i);
  const strata::Tensor<float, 2> y = dense(x);
  r.dense.assign(y.data(), y.data() + y.size());

  const int u = 5;
  strata::Tensor<float, 2> w(f, 4 * u), rec(u, 4 * u);
  strata::Tensor<float, 1> b(4 * u);
  for (int i = 0; i < w.size(); ++i) w.data()[i] = probe_value(4, i);
  for (int i = 0; i < rec.size(); ++i) rec.data()[i] = probe_value(5, i);
  for (int i = 0; i < b.size(); ++i) b.data()[i] = probe_value(6, i);
  strata::LSTM<float> lstm(u, strata::LSTMOptions().return_sequences(true));
  lstm.set_weights({strata::AnyTensor<float>(w), strata::AnyTensor<float>(rec), strata::AnyTensor<float>(b)});
  strata::Tensor<float, 3> xs(3, 4, f);
  for (int i = 0; i < xs.size(); ++i) xs.data()[i] = probe_value(7, i);
  const strata::Tensor<float, 3> h = lstm(xs);
  r.lstm.assign(h.data(), h.data() + h.size());
  return r;
}
