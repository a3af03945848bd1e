// SPDX-License-Identifier: MIT
// Shared by strata_bench and strata_bench_torch: the workloads' shapes and FLOP counts, the thread
// count, the GFLOP/s counters, and main(). It depends on neither strata nor libtorch, so both
// binaries count the same work and take the same flags.
#ifndef STRATA_BENCHMARKS_COMMON_HPP
#define STRATA_BENCHMARKS_COMMON_HPP

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace bench {

// ---- FLOP counts (docs: /work/shared/docs/benchmarks.md). Gate math and activations are not counted.

/// One LSTM step for one sequence: 2*F*4u (input part) + 2*u*4u (recurrent part).
inline double lstm_step_flops(double features, double units) {
  return 2.0 * features * 4.0 * units + 2.0 * units * 4.0 * units;
}
/// A whole LSTM call: every step of every sequence.
inline double lstm_flops(double sequences, double steps, double features, double units) {
  return sequences * steps * lstm_step_flops(features, units);
}
/// One GRU step for one sequence: 2*F*3u + 2*u*3u (either reset_after variant).
inline double gru_step_flops(double features, double units) {
  return 2.0 * features * 3.0 * units + 2.0 * units * 3.0 * units;
}
/// One SimpleRNN step for one sequence: 2*F*u + 2*u*u.
inline double rnn_step_flops(double features, double units) { return 2.0 * features * units + 2.0 * units * units; }
/// A Dense on `rows` rows: 2*F*units per row.
inline double dense_flops(double rows, double features, double units) { return 2.0 * rows * features * units; }

// ---- The workloads (float, Keras shapes (batch, time, features)).

namespace w1 {  // LSTM(5, return_sequences) on (32, 10, 20) -> TimeDistributed(Dense(1)) / Dense(1)
constexpr int batch = 32, steps = 10, features = 20, units = 5, out = 1;
inline double flops() { return lstm_flops(batch, steps, features, units) + dense_flops(batch * steps, units, out); }
}  // namespace w1

namespace w2 {  // LSTM(256, return_sequences) on (64, 100, 128) -> TimeDistributed(Dense(128))
constexpr int batch = 64, steps = 100, features = 128, units = 256, out = 128;
/// The TimeDistributed(Dense(128)) head on the recurrent layer's (64, 100, width) output.
inline double head_flops(int width) { return dense_flops(batch * steps, width, out); }
inline double lstm_layer_flops() { return lstm_flops(batch, steps, features, units); }
inline double flops() { return lstm_layer_flops() + head_flops(units); }

// The W2-shaped variants (same input, units and head; the recurrent layer changes). "_layer"
// benchmarks time the recurrent layer alone, so their count leaves the head out.
/// W2GRU: GRU(256, reset_after, return_sequences) -> TimeDistributed(Dense(128)).
inline double gru_layer_flops() { return batch * steps * gru_step_flops(features, units); }
inline double gru_flops() { return gru_layer_flops() + head_flops(units); }
/// W2BiLSTM: Bidirectional(LSTM(256, return_sequences), concat) -> TimeDistributed(Dense(128)) on
/// 512 features: twice the LSTM.
inline double bilstm_layer_flops() { return 2.0 * lstm_layer_flops(); }
inline double bilstm_flops() { return bilstm_layer_flops() + head_flops(2 * units); }
/// W2RNN: SimpleRNN(256, tanh, return_sequences) -> TimeDistributed(Dense(128)).
inline double rnn_layer_flops() { return batch * steps * rnn_step_flops(features, units); }
inline double rnn_flops() { return rnn_layer_flops() + head_flops(units); }
}  // namespace w2

namespace w3 {  // LSTM(input 1, hidden H) -> Dense(1), batch 1, one step per call, state carried
constexpr int samples = 48000, features = 1, out = 1;
inline const std::vector<int>& hidden_sizes() {
  static const std::vector<int> h{8, 16, 32, 64, 128};
  return h;
}
inline double flops_per_sample(int units) { return lstm_step_flops(features, units) + dense_flops(1, units, out); }
/// The stream fed to every W3 benchmark: a noisy sine, the same in both binaries.
inline const std::vector<float>& signal() {
  static const std::vector<float> s = [] {
    std::vector<float> v(samples);
    std::mt19937 gen(3);
    std::uniform_real_distribution<float> noise(-0.05f, 0.05f);
    for (int i = 0; i < samples; ++i)
      v[static_cast<std::size_t>(i)] = std::sin(0.01f * static_cast<float>(i)) + noise(gen);
    return v;
  }();
  return s;
}
}  // namespace w3

namespace w3gru {  // GRU(input 1, hidden H, reset_after) -> Dense(1), batch 1, one step per call
using w3::features;
using w3::out;
using w3::samples;
inline double flops_per_sample(int units) { return gru_step_flops(features, units) + dense_flops(1, units, out); }

/// Keras' weights of W3GRU, the same in every program that times it (strata_bench and
/// strata_bench_rtneural_gru, whose libraries cannot share an initializer): row-major kernel (1, 3H),
/// recurrent_kernel (H, 3H), bias (2, 3H) (row 0 input, row 1 recurrent), gates z, r, h; then the
/// Dense head's kernel (H, 1) and bias (1).
struct Weights {
  int units = 0;
  std::vector<float> kernel, recurrent, bias, dense_kernel, dense_bias;
};
inline Weights weights(int units) {
  std::mt19937 gen(100 + static_cast<unsigned>(units));
  const auto uniform = [&gen](std::vector<float>& v, std::size_t n, float limit) {
    std::uniform_real_distribution<float> d(-limit, limit);
    v.resize(n);
    for (float& x : v) x = d(gen);
  };
  const auto h = static_cast<std::size_t>(units);
  Weights w;
  w.units = units;
  uniform(w.kernel, 3 * h, std::sqrt(6.0f / static_cast<float>(1 + 3 * units)));  // glorot uniform
  uniform(w.recurrent, h * 3 * h, std::sqrt(3.0f / static_cast<float>(units)));   // variance 1/H
  uniform(w.bias, 2 * 3 * h, 0.1f);
  uniform(w.dense_kernel, h, std::sqrt(6.0f / static_cast<float>(units + 1)));
  uniform(w.dense_bias, 1, 0.1f);
  return w;
}

/// The first n outputs of W3GRU on w3::signal(), in double with std::tanh and std::exp: the
/// reference both programs check their outputs against before timing (Keras 3's GRU with
/// reset_after, sigmoid and tanh).
inline std::vector<double> reference(const Weights& w, int n) {
  const auto h = static_cast<std::size_t>(w.units);
  std::vector<double> state(h, 0.0), next(h), y(static_cast<std::size_t>(n));
  const auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (int t = 0; t < n; ++t) {
    const double x = w3::signal()[static_cast<std::size_t>(t)];
    for (std::size_t j = 0; j < h; ++j) {
      double xz[3], hz[3];
      for (std::size_t g = 0; g < 3; ++g) {
        const std::size_t col = g * h + j;
        xz[g] = x * w.kernel[col] + w.bias[col];
        hz[g] = w.bias[3 * h + col];
        for (std::size_t k = 0; k < h; ++k) hz[g] += state[k] * w.recurrent[k * 3 * h + col];
      }
      const double z = sigmoid(xz[0] + hz[0]), r = sigmoid(xz[1] + hz[1]);
      const double hh = std::tanh(xz[2] + r * hz[2]);
      next[j] = z * state[j] + (1.0 - z) * hh;
    }
    state.swap(next);
    double out = w.dense_bias[0];
    for (std::size_t k = 0; k < h; ++k) out += state[k] * w.dense_kernel[k];
    y[static_cast<std::size_t>(t)] = out;
  }
  return y;
}

/// Whether `step` (float sample in, float output out, from a zero state) gives reference()'s
/// first 256 outputs to 1e-4 (relative to 1 + |y|).
template <class Step>
bool matches_reference(const Weights& w, Step&& step) {
  constexpr int n = 256;
  const std::vector<double> want = reference(w, n);
  for (int t = 0; t < n; ++t) {
    const double got = step(w3::signal()[static_cast<std::size_t>(t)]);
    const double ref = want[static_cast<std::size_t>(t)];
    if (!(std::fabs(got - ref) <= 1e-4 * (1.0 + std::fabs(ref)))) return false;
  }
  return true;
}
}  // namespace w3gru

namespace w4 {  // Dense(512) and TimeDistributed(Dense(512)) on (64, 256, 512); as a GEMM M=16384, K=512, N=512
constexpr int batch = 64, steps = 256, features = 512, units = 512;
constexpr int gemm_m = batch * steps, gemm_k = features, gemm_n = units;
inline double flops() { return dense_flops(gemm_m, gemm_k, gemm_n); }
}  // namespace w4

namespace w5 {  // TimeDistributed(LSTM(64)) on (16, 32, 50, 32)
constexpr int batch = 16, outer = 32, steps = 50, features = 32, units = 64;
inline double flops() { return lstm_flops(batch * outer, steps, features, units); }
}  // namespace w5

namespace w6 {  // Conv2D(64, 3x3, same) + ReLU on (32, 56, 56, 64)
constexpr int batch = 32, height = 56, width = 56, channels = 64, filters = 64, kernel = 3;
inline double flops() { return 2.0 * batch * height * width * channels * filters * kernel * kernel; }
}  // namespace w6
namespace w7 {  // 8 x Conv1D(64, 3, causal), dilations 1, 2, 4, ..., 128, on (8, 4000, 64)
constexpr int batch = 8, steps = 4000, channels = 64, filters = 64, kernel = 3, layers = 8;
inline int dilation(int layer) { return 1 << layer; }
inline double flops() { return layers * 2.0 * batch * steps * channels * filters * kernel; }
}  // namespace w7
namespace w8 {  // TD(Conv2D(16, 3x3, valid)) -> TD(MaxPooling2D(2)) -> TD(Flatten) -> LSTM(64) -> Dense(10)
constexpr int batch = 8, frames = 16, height = 64, width = 64, channels = 3, filters = 16, kernel = 3;
constexpr int conv_h = height - kernel + 1, conv_w = width - kernel + 1;  // 62 x 62
constexpr int pooled_h = conv_h / 2, pooled_w = conv_w / 2;               // 31 x 31
constexpr int features = pooled_h * pooled_w * filters, units = 64, out = 10;
inline double conv_flops() { return 2.0 * batch * frames * conv_h * conv_w * channels * filters * kernel * kernel; }
inline double flops() {
  return conv_flops() + lstm_flops(batch, frames, features, units) + dense_flops(batch, units, out);
}
}  // namespace w8

namespace w9 {  // W7's stack streamed: batch 1, one time step per call, state carried
constexpr int batch = 1, steps = 4000;
/// One step through the eight layers: 2 * channels * filters * kernel per layer.
inline double flops_per_step() { return w7::layers * 2.0 * w7::channels * w7::filters * w7::kernel; }
}  // namespace w9
namespace resblock {  // Conv2D(64, 3x3, same) -> BN -> ReLU -> Conv2D -> BN -> Add(input) -> ReLU on W6's shape
constexpr int batch = w6::batch, height = w6::height, width = w6::width, channels = w6::channels;
/// The two convolutions (BatchNormalization, Add and ReLU are not counted).
inline double flops() { return 2.0 * w6::flops(); }
}  // namespace resblock
namespace w11 {  // autoregressive decoding: causal self-attention, one token per call with a K/V cache
constexpr int batch = 1, d_model = 256, heads = 8, key_dim = d_model / heads;
/// The sequence lengths decoded per iteration (from an empty cache).
inline std::vector<int> lengths() { return {64, 128, 256, 512}; }
/// Decoding `steps` tokens: per token t the four d_model x d_model projections (2 * 4 * d^2) and
/// the scores and context over t + 1 keys (2 * 2 * d * (t + 1)).
inline double flops(int steps) {
  const double d = d_model, n = steps;
  return 8.0 * d * d * n + 2.0 * d * n * (n + 1.0);
}
}  // namespace w11

namespace w10 {  // keras-hub TransformerEncoder (post-norm): 8 heads, d_model 256, FFN 1024, on (32, 128, 256)
constexpr int batch = 32, steps = 128, d_model = 256, heads = 8, ffn = 1024;
/// The attention's products: Q, K, V and output projections 8·B·T·D², scores and context 4·B·T²·D.
inline double attention_flops() {
  const double bt = static_cast<double>(batch) * steps;
  return 8.0 * bt * d_model * d_model + 4.0 * bt * steps * d_model;
}
/// The feedforward network's two products, 4·B·T·D·F.
inline double ffn_flops() { return 4.0 * batch * steps * static_cast<double>(d_model) * ffn; }
/// The block's matrix products (softmax, LayerNormalization and the residual sums are not counted).
inline double flops() { return attention_flops() + ffn_flops(); }
}  // namespace w10

// ---- Helpers.

/// Uniform [-1, 1) values from a fixed seed.
inline void fill_uniform(float* data, std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) data[i] = dist(gen);
}

/// Sets the counters every benchmark reports: "GFLOPs" (GFLOP/s over the measured time, which is
/// wall time: every benchmark uses UseRealTime) and "GFLOP" per iteration.
inline void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOPs"] = benchmark::Counter(flops_per_iteration * 1e-9 * static_cast<double>(state.iterations()),
                                                benchmark::Counter::kIsRate);
  state.counters["GFLOP"] = benchmark::Counter(flops_per_iteration * 1e-9);
}

/// For W3: also "per_sample", the wall time per streamed sample in seconds (the console shows it
/// as e.g. 583ns).
inline void set_per_sample(benchmark::State& state, double samples_per_iteration) {
  state.counters["per_sample"] = benchmark::Counter(samples_per_iteration * static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

/// For W9: also "per_step", the wall time per streamed time step in seconds.
inline void set_per_step(benchmark::State& state, double steps_per_iteration) {
  state.counters["per_step"] = benchmark::Counter(steps_per_iteration * static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

/// The thread count of this run: `--threads=N` on the command line, else the environment
/// variable STRATA_BENCH_THREADS, else 1. Read once by main().
inline int& threads_ref() {
  static int n = 1;
  return n;
}
inline int threads() { return threads_ref(); }

/// Removes `--threads=N` / `--threads N` from argv (Google Benchmark rejects unknown flags) and
/// sets threads().
inline void parse_threads(int* argc, char** argv) {
  if (const char* env = std::getenv("STRATA_BENCH_THREADS"); env != nullptr && *env != '\0') {
    threads_ref() = std::max(1, std::atoi(env));
  }
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--threads=", 10) == 0) {
      threads_ref() = std::max(1, std::atoi(a + 10));
    } else if (std::strcmp(a, "--threads") == 0 && i + 1 < *argc) {
      threads_ref() = std::max(1, std::atoi(argv[++i]));
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  argv[out] = nullptr;
}

/// Registers fn under `name` with the settings every benchmark shares: wall-clock time (the work
/// may run on several threads), milliseconds.
template <class Fn>
benchmark::internal::Benchmark* add(const std::string& name, Fn&& fn) {
  return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace bench

#ifndef STRATA_BENCH_FLAGS
#define STRATA_BENCH_FLAGS "unknown"
#endif

/// main() of a benchmark binary: parse --threads, let `setup(threads)` apply the thread count and
/// register the benchmarks, then run them. Adds "threads" and "compile_flags" to the JSON context.
#define STRATA_BENCH_MAIN(setup)                                              \
  int main(int argc, char** argv) {                                           \
    bench::parse_threads(&argc, argv);                                        \
    benchmark::AddCustomContext("threads", std::to_string(bench::threads())); \
    benchmark::AddCustomContext("compile_flags", STRATA_BENCH_FLAGS);         \
    setup(bench::threads());                                                  \
    benchmark::Initialize(&argc, argv);                                       \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;         \
    benchmark::RunSpecifiedBenchmarks();                                      \
    benchmark::Shutdown();                                                    \
    return 0;                                                                 \
  }

#endif  // STRATA_BENCHMARKS_COMMON_HPP
