// SPDX-License-Identifier: MIT
// strata_bench_torch: the workloads W1-W10 and RESBLOCK on libtorch (torch::nn::LSTM, torch::nn::Linear,
// torch::nn::Conv1d/Conv2d, batch_first, under NoGradGuard), W2's variants (torch::nn::GRU, bidirectional
// torch::nn::LSTM, torch::nn::RNN), plus torch::mm on W4's 2-D shape (the BLAS libtorch uses).
//
//   strata_bench_torch [--threads=N] [Google Benchmark flags]
//
// It is a separate process so that it can run with its own environment (OPENBLAS_CORETYPE,
// OMP_WAIT_POLICY): benchmarks/compare sets those on this command only. Names mirror
// strata_bench's: BM_<workload>_torch[_<variant>][/H:<units>].
//
// Threads: torch::set_num_threads(N) sets libtorch's OpenMP pool; libtorch calls the system BLAS
// (libblas.so.3), which, when it is OpenBLAS, has a thread pool of its own that defaults to every
// core. openblas_set_num_threads(N) is called as well when that symbol is present (looked up at
// run time, so any BLAS works), or the two pools fight over the cores.
#include <dlfcn.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "common.hpp"

namespace bench {
namespace {

using torch::Tensor;

Tensor random_tensor(at::IntArrayRef shape, std::uint32_t seed) {
  Tensor t = torch::empty(shape, torch::kFloat32);
  fill_uniform(t.data_ptr<float>(), static_cast<std::size_t>(t.numel()), seed);
  return t;
}

// ---- W1: LSTM(5, return_sequences) on (32, 10, 20) -> Linear(1) on every step (Linear acts on the
// last axis, which is both TimeDistributed(Dense) and Dense).
void BM_W1(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(w1::features, w1::units).batch_first(true));
  torch::nn::Linear head(w1::units, w1::out);
  lstm->eval();
  head->eval();
  const Tensor x = random_tensor({w1::batch, w1::steps, w1::features}, 11);
  for (auto _ : state) {
    Tensor y = head->forward(std::get<0>(lstm->forward(x)));
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w1::flops());
}

// ---- W2: LSTM(256) over (64, 100, 128), all steps -> Linear(128).
void BM_W2(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(w2::features, w2::units).batch_first(true));
  torch::nn::Linear head(w2::units, w2::out);
  lstm->eval();
  head->eval();
  const Tensor x = random_tensor({w2::batch, w2::steps, w2::features}, 12);
  for (auto _ : state) {
    Tensor y = head->forward(std::get<0>(lstm->forward(x)));
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w2::flops());
}

// ---- W2-shaped recurrent variants: `rnn` (batch_first, 128 -> 256) on W2's (64, 100, 128) input,
// all steps, then, with `head`, Linear(width, 128); without it the recurrent module alone (the
// "_layer" benchmarks). GRU, LSTM and RNN all return (output, state), output first.
template <class Module>
void run_w2_recurrent(benchmark::State& state, Module& rnn, int width, bool head, double flops) {
  torch::NoGradGuard no_grad;
  torch::nn::Linear linear(width, w2::out);
  rnn->eval();
  linear->eval();
  const Tensor x = random_tensor({w2::batch, w2::steps, w2::features}, 12);
  for (auto _ : state) {
    Tensor h = std::get<0>(rnn->forward(x));
    if (head) {
      Tensor y = linear->forward(h);
      benchmark::DoNotOptimize(y.data_ptr<float>());
    } else {
      benchmark::DoNotOptimize(h.data_ptr<float>());
    }
    benchmark::ClobberMemory();
  }
  set_flops(state, flops);
}

/// W2 itself without the head: LSTM(256) alone.
void BM_W2_layer(benchmark::State& state) {
  torch::manual_seed(1);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(w2::features, w2::units).batch_first(true));
  run_w2_recurrent(state, lstm, w2::units, false, w2::lstm_layer_flops());
}

/// W2GRU: torch::nn::GRU(128, 256), i.e. Keras' GRU with reset_after = true.
void BM_W2GRU(benchmark::State& state, bool head) {
  torch::manual_seed(1);
  torch::nn::GRU gru(torch::nn::GRUOptions(w2::features, w2::units).batch_first(true));
  run_w2_recurrent(state, gru, w2::units, head, head ? w2::gru_flops() : w2::gru_layer_flops());
}

/// W2BiLSTM: torch::nn::LSTM(128, 256, bidirectional), a (64, 100, 512) output, then Linear(512, 128).
void BM_W2BiLSTM(benchmark::State& state, bool head) {
  torch::manual_seed(1);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(w2::features, w2::units).batch_first(true).bidirectional(true));
  run_w2_recurrent(state, lstm, 2 * w2::units, head, head ? w2::bilstm_flops() : w2::bilstm_layer_flops());
}

/// W2RNN: torch::nn::RNN(128, 256, tanh).
void BM_W2RNN(benchmark::State& state, bool head) {
  torch::manual_seed(1);
  torch::nn::RNN rnn(torch::nn::RNNOptions(w2::features, w2::units).nonlinearity(torch::kTanh).batch_first(true));
  run_w2_recurrent(state, rnn, w2::units, head, head ? w2::rnn_flops() : w2::rnn_layer_flops());
}

// ---- W3: LSTM(1 -> H), batch 1, fed one (1, 1, 1) step at a time carrying (h, c), then Linear(H, 1).
void BM_W3(benchmark::State& state, int units) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(w3::features, units).batch_first(true));
  torch::nn::Linear head(units, w3::out);
  lstm->eval();
  head->eval();
  std::vector<float> signal = w3::signal();  // from_blob wants non-const memory
  for (auto _ : state) {
    std::tuple<Tensor, Tensor> hc{torch::zeros({1, 1, units}), torch::zeros({1, 1, units})};
    float sink = 0.0f;
    for (float& v : signal) {
      const Tensor x = torch::from_blob(&v, {1, 1, 1}, torch::kFloat32);
      auto out = lstm->forward(x, hc);
      hc = std::get<1>(out);
      const Tensor y = head->forward(std::get<0>(out));
      sink += y.data_ptr<float>()[0];
    }
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w3::samples * w3::flops_per_sample(units));
  set_per_sample(state, w3::samples);
}

// ---- W4: Linear(512) on (64, 256, 512).
void BM_W4(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  torch::nn::Linear dense(w4::features, w4::units);
  dense->eval();
  const Tensor x = random_tensor({w4::batch, w4::steps, w4::features}, 14);
  for (auto _ : state) {
    Tensor y = dense->forward(x);
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w4::flops());
}

// ---- W5: TimeDistributed(LSTM(64)) on (16, 32, 50, 32) = one LSTM over (16*32, 50, 32), last h.
void BM_W5(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(w5::features, w5::units).batch_first(true));
  lstm->eval();
  const Tensor x = random_tensor({w5::batch, w5::outer, w5::steps, w5::features}, 15);
  for (auto _ : state) {
    auto out = lstm->forward(x.view({w5::batch * w5::outer, w5::steps, w5::features}));
    Tensor y = std::get<0>(std::get<1>(out)).view({w5::batch, w5::outer, w5::units});
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w5::flops());
}

// ---- W6: Conv2D(64, 3x3, same) + ReLU on (32, 56, 56, 64). torch::nn::Conv2d runs oneDNN when
// libtorch has it (Debian's links libdnnl). Two layouts, both timed: NCHW (torch's default; the
// input permuted once, outside the loop) and channels_last (the NHWC memory order Keras uses).
void BM_W6(benchmark::State& state, bool channels_last) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(w6::channels, w6::filters, w6::kernel).padding(w6::kernel / 2));
  conv->eval();
  Tensor x = random_tensor({w6::batch, w6::height, w6::width, w6::channels}, 16).permute({0, 3, 1, 2});
  x = channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x.contiguous();
  if (channels_last) conv->weight.set_data(conv->weight.contiguous(at::MemoryFormat::ChannelsLast));
  for (auto _ : state) {
    Tensor y = torch::relu(conv->forward(x));
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w6::flops());
}

// ---- W7: eight causal Conv1D(64, 3) with dilations 1..128 on (8, 4000, 64): each layer pads
// (kernel-1)*dilation zeros on the left of the time axis (Keras' "causal"), then convolves.
void BM_W7(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  std::vector<torch::nn::Conv1d> convs;
  for (int l = 0; l < w7::layers; ++l) {
    convs.emplace_back(torch::nn::Conv1dOptions(w7::channels, w7::filters, w7::kernel).dilation(w7::dilation(l)));
    convs.back()->eval();
  }
  const Tensor x = random_tensor({w7::batch, w7::steps, w7::channels}, 17).permute({0, 2, 1}).contiguous();
  for (auto _ : state) {
    Tensor y = x;
    for (int l = 0; l < w7::layers; ++l) {
      const int pad = (w7::kernel - 1) * w7::dilation(l);
      y = convs[static_cast<std::size_t>(l)]->forward(torch::constant_pad_nd(y, {pad, 0}));
    }
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w7::flops());
}

// ---- W9: W7's stack streamed, batch 1, one (1, 64) step per call, 4000 steps per iteration from a
// fresh state. libtorch has no streaming convolution, so this keeps, per layer, a ring of its last
// (3 - 1) * dilation + 1 inputs in plain memory and, per step, gathers the 3 taps the output reads
// (plain copies, no tensor ops). Then, per layer, one libtorch call on them:
//   BM_W9_torch          torch::addmv_out(out, bias, W, taps) with the kernel flattened once to
//                        W (64, 3 * 64): a one-step convolution is that matrix-vector product,
//                        done in one call that allocates nothing (the faster of the two);
//   BM_W9_torch_conv1d   torch::conv1d(window, weight, bias) on the (1, 64, 3) window of taps (the
//                        dilation is in the gather): what a user reaches for.
// Each layer's output is written into the next layer's ring (addmv_out writes there directly). Both
// are first checked against the whole-sequence W7 computation (padding then nn::Conv1d), 1e-4
// relative; a mismatch skips the benchmark with an error.
class W9TorchStream {
 public:
  W9TorchStream(const std::vector<torch::nn::Conv1d>& convs, bool use_conv1d) : use_conv1d_(use_conv1d) {
    for (std::size_t l = 0; l < convs.size(); ++l) {
      Layer layer;
      layer.dilation = w7::dilation(static_cast<int>(l));
      layer.span = (w7::kernel - 1) * layer.dilation + 1;
      layer.ring = torch::zeros({layer.span, w7::channels});
      for (int s = 0; s < layer.span; ++s) layer.slots.push_back(layer.ring.select(0, s));
      layer.weight = convs[l]->weight.detach().clone();  // (filters, channels, kernel)
      layer.bias = convs[l]->bias.detach().clone();
      // W[f, k * channels + c] = weight[f, c, k], for taps gathered time-major.
      layer.flat = layer.weight.permute({0, 2, 1}).reshape({w7::filters, w7::kernel * w7::channels}).contiguous();
      layer.taps = torch::zeros({w7::kernel * w7::channels});
      layer.window = torch::zeros({1, w7::channels, w7::kernel});
      layers_.push_back(std::move(layer));
    }
    out_ = torch::zeros({w7::filters});
  }

  void reset() {
    for (Layer& l : layers_) {
      l.ring.zero_();
      l.head = 0;
    }
  }

  /// One (64,) step; returns the last layer's (64,) output, valid until the next step.
  const float* step(const float* x) {
    std::memcpy(layers_[0].slots[static_cast<std::size_t>(layers_[0].head)].data_ptr<float>(), x,
                sizeof(float) * w7::channels);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      Layer& l = layers_[i];
      const float* ring = l.ring.data_ptr<float>();
      if (use_conv1d_) {
        float* w = l.window.data_ptr<float>();  // (1, channels, kernel)
        for (int k = 0; k < w7::kernel; ++k) {
          const float* src = ring + slot_of(l, k) * w7::channels;
          for (int c = 0; c < w7::channels; ++c) w[c * w7::kernel + k] = src[c];
        }
      } else {
        float* taps = l.taps.data_ptr<float>();  // (kernel * channels,), tap-major
        for (int k = 0; k < w7::kernel; ++k) {
          std::memcpy(taps + k * w7::channels, ring + slot_of(l, k) * w7::channels, sizeof(float) * w7::channels);
        }
      }
      const bool last = i + 1 == layers_.size();
      Tensor& dst = last ? out_ : layers_[i + 1].slots[static_cast<std::size_t>(layers_[i + 1].head)];
      if (use_conv1d_) {
        const Tensor y = torch::conv1d(l.window, l.weight, l.bias);  // (1, filters, 1)
        std::memcpy(dst.data_ptr<float>(), y.data_ptr<float>(), sizeof(float) * w7::filters);
      } else {
        torch::addmv_out(dst, l.bias, l.flat, l.taps);
      }
      l.head = l.head + 1 == l.span ? 0 : l.head + 1;
    }
    return out_.data_ptr<float>();
  }

 private:
  struct Layer {
    int dilation = 1, span = 1, head = 0;
    Tensor ring;                // (span, channels): the last span inputs, slot head = now
    std::vector<Tensor> slots;  // ring.select(0, s), made once
    Tensor weight, bias, flat, taps, window;
  };
  // The ring slot tap k reads: time now - (kernel - 1 - k) * dilation.
  static int slot_of(const Layer& l, int k) {
    const int s = l.head - (w7::kernel - 1 - k) * l.dilation;
    return s < 0 ? s + l.span : s;
  }
  bool use_conv1d_;
  std::vector<Layer> layers_;
  Tensor out_;
};

std::vector<torch::nn::Conv1d> w7_convs() {
  torch::manual_seed(1);
  std::vector<torch::nn::Conv1d> convs;
  for (int l = 0; l < w7::layers; ++l) {
    convs.emplace_back(torch::nn::Conv1dOptions(w7::channels, w7::filters, w7::kernel).dilation(w7::dilation(l)));
    convs.back()->eval();
  }
  return convs;
}

/// W7's computation on x (batch, channels, time): each layer pads (kernel - 1) * dilation zeros on
/// the left, then convolves.
Tensor run_w7_convs(std::vector<torch::nn::Conv1d>& convs, const Tensor& x) {
  Tensor y = x;
  for (int l = 0; l < w7::layers; ++l) {
    const int pad = (w7::kernel - 1) * w7::dilation(l);
    y = convs[static_cast<std::size_t>(l)]->forward(torch::constant_pad_nd(y, {pad, 0}));
  }
  return y;
}

void BM_W9(benchmark::State& state, bool use_conv1d) {
  torch::NoGradGuard no_grad;
  std::vector<torch::nn::Conv1d> convs = w7_convs();
  W9TorchStream stream(convs, use_conv1d);
  const Tensor x = random_tensor({w9::steps, w7::channels}, 19);  // (time, channels), batch 1
  {
    constexpr int checked = 600;  // past the last layer's 257-step window
    const Tensor whole = run_w7_convs(convs, x.narrow(0, 0, checked).t().unsqueeze(0).contiguous())
                             .squeeze(0)
                             .t()
                             .contiguous();  // (checked, filters)
    const float* ref = whole.data_ptr<float>();
    for (int t = 0; t < checked; ++t) {
      const float* y = stream.step(x.data_ptr<float>() + t * w7::channels);
      for (int f = 0; f < w7::filters; ++f) {
        const float r = ref[t * w7::filters + f];
        if (!(std::fabs(y[f] - r) <= 1e-4f * (1.0f + std::fabs(r)))) {
          state.SkipWithError("the stepped stack differs from the whole-sequence W7 computation");
          return;
        }
      }
    }
  }
  for (auto _ : state) {
    stream.reset();
    float sink = 0.0f;
    for (int t = 0; t < w9::steps; ++t) sink += stream.step(x.data_ptr<float>() + t * w7::channels)[0];
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w9::steps * w9::flops_per_step());
  set_per_step(state, w9::steps);
}

// ---- RESBLOCK: Conv2d(64, 3x3, padding 1) -> BatchNorm2d -> ReLU -> Conv2d -> BatchNorm2d -> add
// the block input -> ReLU on W6's (32, 56, 56, 64), in eval mode (BatchNorm uses its running
// statistics, set to random values), under NoGradGuard, ReLU and the add in place (relu_, add_:
// no temporaries for them). NCHW, or channels_last memory order (input and conv weights) for
// oneDNN's NHWC kernels. BatchNorm is not folded into the convolutions (strata does not fold either).
void BM_RESBLOCK(benchmark::State& state, bool channels_last) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  const auto conv_options = torch::nn::Conv2dOptions(resblock::channels, resblock::channels, 3).padding(1);
  torch::nn::Conv2d conv1(conv_options), conv2(conv_options);
  torch::nn::BatchNorm2d bn1(resblock::channels), bn2(resblock::channels);
  for (auto* bn : {&bn1, &bn2}) {
    (*bn)->weight.uniform_(0.5, 1.5);
    (*bn)->bias.uniform_(-0.5, 0.5);
    (*bn)->running_mean.uniform_(-0.5, 0.5);
    (*bn)->running_var.uniform_(0.5, 1.5);
    (*bn)->eval();
  }
  conv1->eval();
  conv2->eval();
  Tensor x =
      random_tensor({resblock::batch, resblock::height, resblock::width, resblock::channels}, 20).permute({0, 3, 1, 2});
  x = channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x.contiguous();
  if (channels_last) {
    conv1->weight.set_data(conv1->weight.contiguous(at::MemoryFormat::ChannelsLast));
    conv2->weight.set_data(conv2->weight.contiguous(at::MemoryFormat::ChannelsLast));
  }
  for (auto _ : state) {
    Tensor y = bn1->forward(conv1->forward(x));
    y.relu_();
    y = bn2->forward(conv2->forward(y));
    y.add_(x);
    y.relu_();
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, resblock::flops());
}

// ---- W8: the seed's video model on (8, 16, 64, 64, 3): Conv2d(3->16, 3x3, valid) on every frame,
// MaxPool2d(2), flatten, LSTM(64) over the 16 frames (last h), Linear(10).
void BM_W8(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(w8::channels, w8::filters, w8::kernel));
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(w8::features, w8::units).batch_first(true));
  torch::nn::Linear head(w8::units, w8::out);
  conv->eval();
  lstm->eval();
  head->eval();
  const Tensor x = random_tensor({w8::batch * w8::frames, w8::height, w8::width, w8::channels}, 18)
                       .permute({0, 3, 1, 2})
                       .contiguous();
  for (auto _ : state) {
    Tensor f = torch::max_pool2d(conv->forward(x), {2, 2});
    f = f.reshape({w8::batch, w8::frames, w8::features});
    Tensor h = std::get<0>(std::get<1>(lstm->forward(f)));  // (1, batch, units)
    Tensor y = head->forward(h.squeeze(0));
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w8::flops());
}

// ---- W10: torch::nn::TransformerEncoderLayer(256, 8, dim_feedforward 1024, dropout 0, relu, post-norm)
// on (32, 128, 256), eval, NoGradGuard. libtorch's C++ layer has no batch_first option: it takes
// (steps, batch, d_model), so the input is transposed once, outside the loop (the values are the
// same; only the memory order differs). BM_W10split_torch_* time the layer's two halves alone: its
// self_attn (MultiheadAttention) and the rest (residual sum, norm1, linear1, relu, linear2, residual
// sum, norm2), as strata_bench splits strata's.
torch::nn::TransformerEncoderLayer w10_layer() {
  torch::manual_seed(1);
  torch::nn::TransformerEncoderLayer layer(
      torch::nn::TransformerEncoderLayerOptions(w10::d_model, w10::heads).dim_feedforward(w10::ffn).dropout(0.0));
  layer->eval();
  return layer;
}

void BM_W10(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::nn::TransformerEncoderLayer layer = w10_layer();
  const Tensor x = random_tensor({w10::batch, w10::steps, w10::d_model}, 23).transpose(0, 1).contiguous();
  for (auto _ : state) {
    Tensor y = layer->forward(x);
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w10::flops());
}

void BM_W10split_attention(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::nn::TransformerEncoderLayer layer = w10_layer();
  const Tensor x = random_tensor({w10::batch, w10::steps, w10::d_model}, 23).transpose(0, 1).contiguous();
  for (auto _ : state) {
    Tensor y = std::get<0>(layer->self_attn->forward(x, x, x, {}, /*need_weights=*/false));
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w10::attention_flops());
}

void BM_W10split_ffn(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  torch::nn::TransformerEncoderLayer layer = w10_layer();
  const Tensor x = random_tensor({w10::batch, w10::steps, w10::d_model}, 23).transpose(0, 1).contiguous();
  const Tensor a = random_tensor({w10::batch, w10::steps, w10::d_model}, 24).transpose(0, 1).contiguous();
  for (auto _ : state) {
    Tensor h = layer->norm1->forward(x + a);
    Tensor y = layer->norm2->forward(h + layer->linear2->forward(torch::relu(layer->linear1->forward(h))));
    benchmark::DoNotOptimize(y.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w10::ffn_flops());
}

// ---- The BLAS libtorch calls, on W4's 2-D shape.
void BM_gemm_torch(benchmark::State& state) {
  torch::NoGradGuard no_grad;
  const Tensor a = random_tensor({w4::gemm_m, w4::gemm_k}, 21);
  const Tensor b = random_tensor({w4::gemm_k, w4::gemm_n}, 22);
  Tensor c = torch::empty({w4::gemm_m, w4::gemm_n}, torch::kFloat32);
  for (auto _ : state) {
    torch::mm_out(c, a, b);
    benchmark::DoNotOptimize(c.data_ptr<float>());
    benchmark::ClobberMemory();
  }
  set_flops(state, w4::flops());
}

// ---- Which BLAS: the library that provides sgemm_, and OpenBLAS' own report when it is OpenBLAS.
std::string blas_library() {
  void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (sgemm == nullptr || dladdr(sgemm, &info) == 0 || info.dli_fname == nullptr) return "unknown";
  char resolved[PATH_MAX];
  return realpath(info.dli_fname, resolved) != nullptr ? resolved : info.dli_fname;
}

/// OpenBLAS' own report (corename, config) when sgemm_ is OpenBLAS'. Debian's liblapack.so.3 may
/// be OpenBLAS' while libblas.so.3 is the reference BLAS, so the openblas_* symbols alone do not
/// tell which sgemm_ libtorch calls.
std::string openblas_string(const char* symbol) {
  if (blas_library().find("openblas") == std::string::npos) return "n/a (sgemm_ is not OpenBLAS')";
  using Fn = char* (*)();
  auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, symbol));
  return fn != nullptr ? std::string(fn()) : std::string("unknown");
}

/// Sets libtorch's threads and, for OpenBLAS, BLAS' threads; returns a description.
std::string apply_torch_threads(int threads) {
  torch::set_num_threads(threads);
  using SetFn = void (*)(int);
  auto set_openblas = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set_openblas != nullptr) set_openblas(threads);
  std::ostringstream s;
  s << torch::get_num_threads() << (set_openblas != nullptr ? " (openblas_set_num_threads too)" : "");
  return s.str();
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : fallback;
}

// ---- W11: autoregressive decoding, batch 1, d_model 256, 8 heads, one (1, 256) token per call, `steps`
// tokens per iteration from an empty cache. libtorch has no decoding API, so two peers:
//   BM_W11_torch            the key/value cache by hand on torch::nn::MultiheadAttention's weights:
//                           per token one addmm for q, k, v (in_proj), k and v copied into
//                           preallocated (heads, steps, 32) buffers, bmm -> softmax -> bmm over the
//                           t + 1 cached steps, addmm for out_proj;
//   BM_W11_torch_recompute  torch::nn::MultiheadAttention::forward(token, prefix, prefix): the keys
//                           and values of the whole prefix projected again at every token (lengths
//                           up to 128 only: it grows quadratically).
// Both are checked against the full causal MultiheadAttention call (attn_mask) on the sequence.
void BM_W11(benchmark::State& state, int steps, bool recompute) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(25);
  torch::nn::MultiheadAttention mha(torch::nn::MultiheadAttentionOptions(w11::d_model, w11::heads));
  mha->eval();
  const Tensor x = random_tensor({steps, 1, w11::d_model}, 24);  // (L, N, E), batch 1
  const int d = w11::d_model, h = w11::heads, hd = w11::key_dim;
  const Tensor w_in_t = mha->in_proj_weight.t().contiguous();  // (d, 3d)
  const Tensor b_in = mha->in_proj_bias;
  const Tensor w_out_t = mha->out_proj->weight.t().contiguous();  // (d, d)
  const Tensor b_out = mha->out_proj->bias;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  Tensor kbuf = torch::zeros({h, steps, hd}), vbuf = torch::zeros({h, steps, hd});
  const auto step = [&](int t) -> Tensor {
    const Tensor xt = x[t];  // (1, d)
    if (recompute) {
      const Tensor prefix = x.narrow(0, 0, t + 1);
      return std::get<0>(mha->forward(xt.unsqueeze(0), prefix, prefix, {}, false)).view({1, d});
    }
    const Tensor qkv = torch::addmm(b_in, xt, w_in_t);                 // (1, 3d)
    const Tensor q = qkv.narrow(1, 0, d).view({h, 1, hd}).mul(scale);  // (h, 1, hd)
    kbuf.select(1, t).copy_(qkv.narrow(1, d, d).view({h, hd}));
    vbuf.select(1, t).copy_(qkv.narrow(1, 2 * d, d).view({h, hd}));
    const Tensor p = torch::softmax(torch::bmm(q, kbuf.narrow(1, 0, t + 1).transpose(1, 2)), -1);  // (h, 1, t+1)
    const Tensor ctx = torch::bmm(p, vbuf.narrow(1, 0, t + 1)).view({1, d});
    return torch::addmm(b_out, ctx, w_out_t);
  };
  {
    const Tensor causal = torch::triu(torch::full({steps, steps}, -std::numeric_limits<float>::infinity()), 1);
    const Tensor whole = std::get<0>(mha->forward(x, x, x, {}, false, causal)).view({steps, d});
    double worst = 0;
    for (int t = 0; t < steps; ++t) worst = std::max(worst, (step(t) - whole[t]).abs().max().item<double>());
    if (!(worst < 1e-4)) {
      state.SkipWithError("the decoding peer differs from the full causal MultiheadAttention call");
      return;
    }
  }
  for (auto _ : state) {
    float sink = 0.0f;
    for (int t = 0; t < steps; ++t) sink += step(t).data_ptr<float>()[0];
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w11::flops(steps));
  set_per_step(state, steps);
}

void register_torch_benchmarks(int threads) {
  benchmark::AddCustomContext("torch_version", TORCH_VERSION);
  benchmark::AddCustomContext("torch_threads", apply_torch_threads(threads));
  benchmark::AddCustomContext("blas_library", blas_library());
  benchmark::AddCustomContext("openblas_core", openblas_string("openblas_get_corename"));
  benchmark::AddCustomContext("openblas_config", openblas_string("openblas_get_config"));
  benchmark::AddCustomContext("OPENBLAS_CORETYPE", env_or("OPENBLAS_CORETYPE", "(unset)"));
  benchmark::AddCustomContext("OMP_WAIT_POLICY", env_or("OMP_WAIT_POLICY", "(unset)"));

  add("BM_W1_torch", BM_W1)->Unit(benchmark::kMicrosecond);
  add("BM_W2_torch", BM_W2);
  add("BM_W2_torch_layer", BM_W2_layer);
  add("BM_W2GRU_torch", [](benchmark::State& s) { BM_W2GRU(s, true); });
  add("BM_W2GRU_torch_layer", [](benchmark::State& s) { BM_W2GRU(s, false); });
  add("BM_W2BiLSTM_torch", [](benchmark::State& s) { BM_W2BiLSTM(s, true); });
  add("BM_W2BiLSTM_torch_layer", [](benchmark::State& s) { BM_W2BiLSTM(s, false); });
  add("BM_W2RNN_torch", [](benchmark::State& s) { BM_W2RNN(s, true); });
  add("BM_W2RNN_torch_layer", [](benchmark::State& s) { BM_W2RNN(s, false); });
  for (const int h : w3::hidden_sizes()) {
    add("BM_W3_torch/H:" + std::to_string(h), [h](benchmark::State& s) { BM_W3(s, h); });
  }
  add("BM_W4_torch", BM_W4);
  add("BM_W5_torch", BM_W5);
  add("BM_W6_torch", [](benchmark::State& s) { BM_W6(s, false); });
  add("BM_W6_torch_channels_last", [](benchmark::State& s) { BM_W6(s, true); });
  add("BM_W7_torch", BM_W7);
  add("BM_W8_torch", BM_W8);
  add("BM_W9_torch", [](benchmark::State& s) { BM_W9(s, false); });
  add("BM_W9_torch_conv1d", [](benchmark::State& s) { BM_W9(s, true); });
  add("BM_W10_torch", BM_W10);
  add("BM_W10split_torch_attention", BM_W10split_attention);
  add("BM_W10split_torch_ffn", BM_W10split_ffn);
  for (const int n : w11::lengths()) {
    add("BM_W11_torch/T:" + std::to_string(n), [n](benchmark::State& s) {
      BM_W11(s, n, false);
    })->Unit(benchmark::kMicrosecond);
    if (n <= 128) {
      add("BM_W11_torch_recompute/T:" + std::to_string(n), [n](benchmark::State& s) {
        BM_W11(s, n, true);
      })->Unit(benchmark::kMicrosecond);
    }
  }
  add("BM_RESBLOCK_torch", [](benchmark::State& s) { BM_RESBLOCK(s, false); });
  add("BM_RESBLOCK_torch_channels_last", [](benchmark::State& s) { BM_RESBLOCK(s, true); });
  add("BM_gemm_torch", BM_gemm_torch);
}

}  // namespace
}  // namespace bench

static void setup(int threads) { bench::register_torch_benchmarks(threads); }

STRATA_BENCH_MAIN(setup)
