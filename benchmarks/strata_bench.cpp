// SPDX-License-Identifier: MIT
// strata_bench: the workloads W1-W10 and RESBLOCK, and W2's GRU, Bidirectional(LSTM) and SimpleRNN
// variants, on strata (public API only), plus, from reference_bench.cpp, the machine's limits (an FMA-loop
// peak and Eigen's own GEMM on W4's 2-D shape).
//
//   strata_bench [--threads=N] [Google Benchmark flags]
//
// Names: BM_<workload>_strata[_<variant>][/H:<units>]; strata_bench_torch registers the libtorch
// counterpart as BM_<workload>_torch[_<variant>][/H:<units>] (the variant only where libtorch has
// one of its own, e.g. "_layer"), which is how benchmarks/compare pairs them.
#include <strata/strata.hpp>

#if __has_include(<strata/streaming.hpp>)
#include <strata/streaming.hpp>
#define STRATA_BENCH_HAS_STREAMING 1
#else
#define STRATA_BENCH_HAS_STREAMING 0
#endif

#if STRATA_BENCH_HAS_IO
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <strata/io.hpp>
#endif

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common.hpp"

void register_reference_benchmarks(int threads);  // reference_bench.cpp

// ---- Threads. strata's thread count is `strata::set_num_threads(int)` (OpenMP inside, so this
// binary is built with OpenMP), read back with `strata::num_threads()`. They are called through
// unqualified lookup with fallbacks, so this file also builds against a strata without them (then
// it runs strata on one thread): the using-directive puts strata's names in the global namespace
// for that lookup, where the fallbacks below, being templates, lose overload resolution to them.
namespace strata_bench_detail {
struct no_thread_api {};
inline int thread_count_of(no_thread_api) { return 1; }
inline int thread_count_of(int n) { return n; }
}  // namespace strata_bench_detail
template <class... A>
strata_bench_detail::no_thread_api set_num_threads(A...) {
  return {};
}
template <class... A>
strata_bench_detail::no_thread_api num_threads(A...) {
  return {};
}

namespace bench {
namespace {

/// Applies n threads to strata; returns the count strata reports it uses (1 without the API,
/// and 1 when strata was built without OpenMP).
int apply_strata_threads(int n) {
  using namespace strata;  // NOLINT(google-build-using-namespace): see above
  set_num_threads(n);
  return strata_bench_detail::thread_count_of(num_threads());
}

using strata::AnyTensor;
using strata::Bidirectional;
using strata::BidirectionalOptions;
using strata::Dense;
using strata::DenseOptions;
using strata::GRU;
using strata::GRUOptions;
using strata::LSTM;
using strata::LSTMOptions;
using strata::Shape;
using strata::SimpleRNN;
using strata::SimpleRNNOptions;
using strata::Tensor;
using strata::TimeDistributed;

template <int R>
Tensor<float, R> random_tensor(const std::array<Eigen::Index, R>& dims, std::uint32_t seed) {
  Tensor<float, R> t(dims);
  fill_uniform(t.data(), static_cast<std::size_t>(t.size()), seed);
  return t;
}

// ---- W1: LSTM(5, return_sequences) on (32, 10, 20) -> TimeDistributed(Dense(1)), or -> Dense(1).
void BM_W1(benchmark::State& state, bool time_distributed) {
  const LSTM<float> lstm(w1::units, LSTMOptions().return_sequences(true).input_dim(w1::features).seed(1));
  const Dense<float> dense(w1::out, DenseOptions().input_dim(w1::units).seed(2));
  const TimeDistributed<Dense<float>> td(dense);
  const auto x = random_tensor<3>({w1::batch, w1::steps, w1::features}, 11);
  for (auto _ : state) {
    Tensor<float, 3> h = lstm(x);
    Tensor<float, 3> y = time_distributed ? td(h) : dense(h);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w1::flops());
}

// ---- W2: LSTM(256, return_sequences) on (64, 100, 128) -> TimeDistributed(Dense(128)).
void BM_W2(benchmark::State& state) {
  const LSTM<float> lstm(w2::units, LSTMOptions().return_sequences(true).input_dim(w2::features).seed(1));
  const TimeDistributed<Dense<float>> td(Dense<float>(w2::out, DenseOptions().input_dim(w2::units).seed(2)));
  const auto x = random_tensor<3>({w2::batch, w2::steps, w2::features}, 12);
  for (auto _ : state) {
    Tensor<float, 3> h = lstm(x);
    Tensor<float, 3> y = td(h);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w2::flops());
}

// ---- W2-shaped recurrent variants: `layer` (return_sequences, built for 128 features) on W2's
// (64, 100, 128) input, then, with `head`, TimeDistributed(Dense(128)) on its (64, 100, width)
// output; without it the recurrent layer alone (the "_layer" benchmarks).
template <class Layer>
void run_w2_recurrent(benchmark::State& state, const Layer& layer, int width, bool head, double flops) {
  const TimeDistributed<Dense<float>> td(Dense<float>(w2::out, DenseOptions().input_dim(width).seed(2)));
  const auto x = random_tensor<3>({w2::batch, w2::steps, w2::features}, 12);
  for (auto _ : state) {
    Tensor<float, 3> h = layer(x);
    if (head) {
      Tensor<float, 3> y = td(h);
      benchmark::DoNotOptimize(y.data());
    } else {
      benchmark::DoNotOptimize(h.data());
    }
    benchmark::ClobberMemory();
  }
  set_flops(state, flops);
}

/// W2 itself without the head: LSTM(256, return_sequences) alone.
void BM_W2_layer(benchmark::State& state) {
  const LSTM<float> lstm(w2::units, LSTMOptions().return_sequences(true).input_dim(w2::features).seed(1));
  run_w2_recurrent(state, lstm, w2::units, false, w2::lstm_layer_flops());
}

/// W2GRU: GRU(256, reset_after = true: PyTorch's formula, Keras 3's default).
void BM_W2GRU(benchmark::State& state, bool head) {
  const GRU<float> gru(w2::units,
                       GRUOptions().reset_after(true).return_sequences(true).input_dim(w2::features).seed(1));
  run_w2_recurrent(state, gru, w2::units, head, head ? w2::gru_flops() : w2::gru_layer_flops());
}

/// W2BiLSTM: Bidirectional(LSTM(256), merge_mode "concat"), a (64, 100, 512) output.
void BM_W2BiLSTM(benchmark::State& state, bool head) {
  const Bidirectional<LSTM<float>> bi(
      LSTM<float>(w2::units, LSTMOptions().return_sequences(true).input_dim(w2::features).seed(1)),
      BidirectionalOptions().merge_mode("concat"));
  run_w2_recurrent(state, bi, 2 * w2::units, head, head ? w2::bilstm_flops() : w2::bilstm_layer_flops());
}

/// W2RNN: SimpleRNN(256, tanh).
void BM_W2RNN(benchmark::State& state, bool head) {
  const SimpleRNN<float> rnn(w2::units, SimpleRNNOptions().return_sequences(true).input_dim(w2::features).seed(1));
  run_w2_recurrent(state, rnn, w2::units, head, head ? w2::rnn_flops() : w2::rnn_layer_flops());
}

// ---- W3: LSTM(input 1, hidden H) -> Dense(1), batch 1, 48,000 samples one step at a time.

/// The naive way with the layer API: a stateful LSTM called on a (1, 1, 1) tensor per sample, and
/// Dense called on its (1, H) output. Each call allocates its output (and validates shapes).
void BM_W3_layer_call(benchmark::State& state, int units) {
  LSTM<float> lstm(units, LSTMOptions().input_dim(w3::features).stateful(true).seed(1));
  const Dense<float> dense(w3::out, DenseOptions().input_dim(units).seed(2));
  const std::vector<float>& signal = w3::signal();
  Tensor<float, 3> step(1, 1, 1);
  for (auto _ : state) {
    lstm.reset_states();
    float sink = 0.0f;
    for (const float v : signal) {
      step(0, 0, 0) = v;
      Tensor<float, 2> h = lstm(step);
      Tensor<float, 2> y = dense(h);
      sink += y(0, 0);
    }
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w3::samples * w3::flops_per_sample(units));
  set_per_sample(state, w3::samples);
}

#if STRATA_BENCH_HAS_STREAMING
/// The first few outputs of the stream `step` against the layer API's; a benchmark of a stream
/// that computes something else would be meaningless, so a mismatch skips it with an error.
template <class Step>
bool stream_matches_layer(int units, Step&& step) {
  LSTM<float> lstm(units, LSTMOptions().input_dim(w3::features).stateful(true).seed(1));
  const Dense<float> dense(w3::out, DenseOptions().input_dim(units).seed(2));
  Tensor<float, 3> x(1, 1, 1);
  for (int i = 0; i < 64; ++i) {
    const float v = w3::signal()[static_cast<std::size_t>(i)];
    x(0, 0, 0) = v;
    Tensor<float, 2> h = lstm(x);
    Tensor<float, 2> y = dense(h);
    const float s = step(v);
    if (!(std::fabs(s - y(0, 0)) <= 1e-4f * (1.0f + std::fabs(y(0, 0))))) return false;
  }
  return true;
}

/// Streams w3::signal() through `stream` then Dense's allocation-free forward, after checking the
/// stream against the layer API.
template <class Stream>
void run_w3_stream(benchmark::State& state, int units, Stream& stream, const char* what) {
  const Dense<float> dense(w3::out, DenseOptions().input_dim(units).seed(2));
  const Shape h_shape{1, units};
  float y = 0.0f;
  auto step = [&](float v) {
    const float* h = stream.step(&v);
    dense.forward(h, h_shape, &y, 1);
    return y;
  };
  if (!stream_matches_layer(units, step)) {
    state.SkipWithError((std::string(what) + "'s output differs from the layer API's").c_str());
    return;
  }
  const std::vector<float>& signal = w3::signal();
  for (auto _ : state) {
    stream.reset();
    float sink = 0.0f;
    for (const float v : signal) sink += step(v);
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w3::samples * w3::flops_per_sample(units));
  set_per_sample(state, w3::samples);
}

/// The streaming API with a run-time size: LSTMStream::step.
void BM_W3_stream(benchmark::State& state, int units) {
  const LSTM<float> lstm(units, LSTMOptions().input_dim(w3::features).seed(1));
  strata::LSTMStream<float> stream(lstm, 1);
  run_w3_stream(state, units, stream, "LSTMStream");
}

/// The streaming API with compile-time sizes.
template <int Units>
void BM_W3_static(benchmark::State& state) {
  const LSTM<float> lstm(Units, LSTMOptions().input_dim(w3::features).seed(1));
  strata::StaticLSTMStream<float, w3::features, Units> stream(lstm);
  run_w3_stream(state, Units, stream, "StaticLSTMStream");
}

/// W3GRU: GRU(1 -> H, reset_after) -> Dense(1) streamed through GRUStream and Dense::forward, on
/// w3gru::weights (the weights strata_bench_rtneural_gru gives RTNeural), after checking the first
/// 256 outputs against w3gru::reference.
void BM_W3GRU_stream(benchmark::State& state, int units) {
  const w3gru::Weights w = w3gru::weights(units);
  GRU<float> gru(units, GRUOptions().reset_after(true));
  gru.set_weights({AnyTensor<float>::from_values({1, 3 * units}, w.kernel),
                   AnyTensor<float>::from_values({units, 3 * units}, w.recurrent),
                   AnyTensor<float>::from_values({2, 3 * units}, w.bias)});
  Dense<float> dense(w3gru::out);
  dense.set_weights(
      {AnyTensor<float>::from_values({units, 1}, w.dense_kernel), AnyTensor<float>::from_values({1}, w.dense_bias)});
  strata::GRUStream<float> stream(gru, 1);
  const Shape h_shape{1, units};
  float y = 0.0f;
  auto step = [&](float v) {
    dense.forward(stream.step(&v), h_shape, &y, 1);
    return y;
  };
  if (!w3gru::matches_reference(w, step)) {
    state.SkipWithError("GRUStream's output differs from the float64 reference");
    return;
  }
  const std::vector<float>& signal = w3::signal();
  for (auto _ : state) {
    stream.reset();
    float sink = 0.0f;
    for (const float v : signal) sink += step(v);
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w3gru::samples * w3gru::flops_per_sample(units));
  set_per_sample(state, w3gru::samples);
}

template <int... Units>
void register_w3_static(std::integer_sequence<int, Units...>) {
  (add("BM_W3_strata_static/H:" + std::to_string(Units), BM_W3_static<Units>), ...);
}
#endif  // STRATA_BENCH_HAS_STREAMING

// ---- Loaded models: W1, W2 and a W3-style step through a strata::Model loaded from a Keras file,
// against the same layers called by hand (BM_W1_strata_td, BM_W2_strata, BM_W3_strata_layer_call)
// and through the typed chain strata::Sequential. The files are TF.js Layers models (model.json and
// one float32 shard) written here from the typed layers' weights, so both paths compute with the
// same weights; the loader reads them as from any Keras file.
void BM_W1_sequential(benchmark::State& state) {
  const strata::Sequential model(
      LSTM<float>(w1::units, LSTMOptions().return_sequences(true).input_dim(w1::features).seed(1)),
      TimeDistributed<Dense<float>>(Dense<float>(w1::out, DenseOptions().input_dim(w1::units).seed(2))));
  const auto x = random_tensor<3>({w1::batch, w1::steps, w1::features}, 11);
  for (auto _ : state) {
    Tensor<float, 3> y = model(x);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w1::flops());
}

#if STRATA_BENCH_HAS_IO
/// One weight of a TF.js manifest: its name ("<layer>/<variable>") and values.
struct NamedWeight {
  std::string name;
  strata::AnyTensor<float> value;
};

std::string shape_json(const Shape& s) {
  std::string out = "[";
  for (int i = 0; i < s.rank(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

/// Writes a Sequential TF.js Layers model (Keras 3.6 configs) to a fresh directory; returns the
/// path of its model.json.
std::string write_tfjs_model(const std::string& name, const std::string& layers_json,
                             const std::vector<NamedWeight>& weights) {
  const std::string dir = "/tmp/strata_bench_" + name + "_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream bin(dir + "/w.bin", std::ios::binary);
  std::string manifest;
  for (const NamedWeight& w : weights) {
    bin.write(reinterpret_cast<const char*>(w.value.data()), static_cast<std::streamsize>(w.value.size() * 4));
    manifest += std::string(manifest.empty() ? "" : ",") + "{\"name\":\"" + w.name +
                "\",\"shape\":" + shape_json(w.value.shape()) + ",\"dtype\":\"float32\"}";
  }
  std::ofstream json(dir + "/model.json");
  json << "{\"modelTopology\":{\"class_name\":\"Sequential\",\"config\":{\"name\":\"" << name
       << "\",\"layers\":" << layers_json
       << "},\"keras_version\":\"3.6.0\"},\"weightsManifest\":[{\"paths\":[\"w.bin\"],"
       << "\"weights\":[" << manifest << "]}],\"format\":\"layers-model\"}";
  return dir + "/model.json";
}

std::vector<NamedWeight> named(const std::string& layer, const strata::Weights<float>& w,
                               const std::vector<std::string>& variables) {
  std::vector<NamedWeight> out;
  for (std::size_t i = 0; i < w.size(); ++i) out.push_back({layer + "/" + variables[i], w[i]});
  return out;
}

/// LSTM(units, return_sequences) on (None, steps, features) -> TimeDistributed(Dense(out)), with the
/// weights of the given typed layers.
strata::Model<float> load_lstm_td(const std::string& name, const LSTM<float>& lstm, const Dense<float>& dense,
                                  int steps, int features) {
  const std::string layers =
      "[{\"class_name\":\"LSTM\",\"config\":{\"name\":\"lstm\",\"units\":" + std::to_string(lstm.units()) +
      ",\"activation\":\"tanh\",\"recurrent_activation\":\"sigmoid\",\"use_bias\":true,"
      "\"return_sequences\":true,\"batch_input_shape\":[null," +
      std::to_string(steps) + "," + std::to_string(features) +
      "]}},{\"class_name\":\"TimeDistributed\",\"config\":{\"name\":\"td\",\"layer\":{\"class_name\":"
      "\"Dense\",\"config\":{\"name\":\"dense\",\"units\":" +
      std::to_string(dense.units()) + ",\"activation\":\"linear\",\"use_bias\":true}}}}]";
  std::vector<NamedWeight> weights = named("lstm", lstm.get_weights(), {"kernel", "recurrent_kernel", "bias"});
  for (auto& w : named("td", dense.get_weights(), {"kernel", "bias"})) weights.push_back(std::move(w));
  return strata::load_model<float>(write_tfjs_model(name, layers, weights));
}

/// The loaded model's output against the typed layers' on x: a benchmark of a model that computes
/// something else would be meaningless.
template <class X, class Y>
bool same_output(strata::Model<float>& model, const X& x, const Y& want) {
  const strata::AnyTensor<float> y = model.predict(x);
  if (y.size() != want.size()) return false;
  for (strata::Index i = 0; i < y.size(); ++i) {
    if (y.data()[i] != want.data()[i]) return false;
  }
  return true;
}

void BM_W1_loaded(benchmark::State& state) {
  const LSTM<float> lstm(w1::units, LSTMOptions().return_sequences(true).input_dim(w1::features).seed(1));
  const Dense<float> dense(w1::out, DenseOptions().input_dim(w1::units).seed(2));
  strata::Model<float> model = load_lstm_td("w1", lstm, dense, w1::steps, w1::features);
  const auto x = random_tensor<3>({w1::batch, w1::steps, w1::features}, 11);
  if (!same_output(model, x, TimeDistributed<Dense<float>>(dense)(lstm(x)))) {
    state.SkipWithError("the loaded model's output differs from the typed layers'");
    return;
  }
  for (auto _ : state) {
    strata::AnyTensor<float> y = model.predict(x);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w1::flops());
}

void BM_W2_loaded(benchmark::State& state) {
  const LSTM<float> lstm(w2::units, LSTMOptions().return_sequences(true).input_dim(w2::features).seed(1));
  const Dense<float> dense(w2::out, DenseOptions().input_dim(w2::units).seed(2));
  strata::Model<float> model = load_lstm_td("w2", lstm, dense, w2::steps, w2::features);
  const auto x = random_tensor<3>({w2::batch, w2::steps, w2::features}, 12);
  for (auto _ : state) {
    strata::AnyTensor<float> y = model.predict(x);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w2::flops());
}

/// W3 through a loaded stateful model: one predict call per sample (batch 1, one step), as
/// BM_W3_layer_call calls the typed layers.
void BM_W3_loaded_step(benchmark::State& state, int units) {
  const LSTM<float> lstm(units, LSTMOptions().input_dim(w3::features).seed(1));
  const Dense<float> dense(w3::out, DenseOptions().input_dim(units).seed(2));
  const std::string layers =
      "[{\"class_name\":\"LSTM\",\"config\":{\"name\":\"lstm\",\"units\":" + std::to_string(units) +
      ",\"activation\":\"tanh\",\"recurrent_activation\":\"sigmoid\",\"use_bias\":true,\"stateful\":true,"
      "\"batch_input_shape\":[1,1,1]}},{\"class_name\":\"Dense\",\"config\":{\"name\":\"dense\",\"units\":1,"
      "\"activation\":\"linear\",\"use_bias\":true}}]";
  std::vector<NamedWeight> weights = named("lstm", lstm.get_weights(), {"kernel", "recurrent_kernel", "bias"});
  for (auto& w : named("dense", dense.get_weights(), {"kernel", "bias"})) weights.push_back(std::move(w));
  strata::Model<float> model =
      strata::load_model<float>(write_tfjs_model("w3_" + std::to_string(units), layers, weights));
  const std::vector<float>& signal = w3::signal();
  Tensor<float, 3> step(1, 1, 1);
  for (auto _ : state) {
    model.reset_states();
    float sink = 0.0f;
    for (const float v : signal) {
      step(0, 0, 0) = v;
      strata::AnyTensor<float> y = model.predict(step);
      sink += y.data()[0];
    }
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w3::samples * w3::flops_per_sample(units));
  set_per_sample(state, w3::samples);
}
#endif  // STRATA_BENCH_HAS_IO

// ---- W4: Dense(512) and TimeDistributed(Dense(512)) on (64, 256, 512).

/// Through the typed call, which allocates the (64, 256, 512) output each time (as libtorch does).
void BM_W4(benchmark::State& state, bool time_distributed) {
  const Dense<float> dense(w4::units, DenseOptions().input_dim(w4::features).seed(1));
  const TimeDistributed<Dense<float>> td(dense);
  const auto x = random_tensor<3>({w4::batch, w4::steps, w4::features}, 14);
  for (auto _ : state) {
    Tensor<float, 3> y = time_distributed ? td(x) : dense(x);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w4::flops());
}

/// Through forward() into a preallocated output: the kernel alone, as Eigen's GEMM reference
/// (which writes into a preallocated matrix) measures it. Also for TimeDistributed(Dense), whose
/// comparison with Dense is otherwise dominated by the page faults of a fresh 32 MiB output.
void BM_W4_forward(benchmark::State& state, bool time_distributed) {
  const Dense<float> dense(w4::units, DenseOptions().input_dim(w4::features).seed(1));
  const TimeDistributed<Dense<float>> td(dense);
  const auto x = random_tensor<3>({w4::batch, w4::steps, w4::features}, 14);
  const Shape shape{w4::batch, w4::steps, w4::features};
  Tensor<float, 3> y(w4::batch, w4::steps, w4::units);
  for (auto _ : state) {
    if (time_distributed) {
      td.forward(x.data(), shape, y.data(), y.size());
    } else {
      dense.forward(x.data(), shape, y.data(), y.size());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w4::flops());
}

// ---- W5: TimeDistributed(LSTM(64)) on (16, 32, 50, 32).
void BM_W5(benchmark::State& state) {
  const TimeDistributed<LSTM<float>> td(LSTM<float>(w5::units, LSTMOptions().input_dim(w5::features).seed(1)));
  const auto x = random_tensor<4>({w5::batch, w5::outer, w5::steps, w5::features}, 15);
  for (auto _ : state) {
    Tensor<float, 3> y = td(x);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w5::flops());
}

// ---- W6: Conv2D(64, 3x3, same) + ReLU on (32, 56, 56, 64), through the typed call.
void BM_W6(benchmark::State& state) {
  const strata::Conv2D<float> conv(
      w6::filters, w6::kernel,
      strata::ConvOptions<2>().padding("same").activation("relu").input_dim(w6::channels).seed(1));
  const auto x = random_tensor<4>({w6::batch, w6::height, w6::width, w6::channels}, 16);
  for (auto _ : state) {
    Tensor<float, 4> y = conv(x);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w6::flops());
}

// ---- W10: keras-hub's TransformerEncoder(1024, 8) (post-norm) on (32, 128, 256): the typed call,
// and forward() into a buffer made once. BM_W10split_* time its two halves alone, with the layer's
// own sublayers: the self-attention (MultiHeadAttention's forward) and the rest (residual sum,
// LayerNormalization, the feedforward network, residual sum, LayerNormalization), to show where the
// time goes; strata_bench_torch has the same split of libtorch's layer.
strata::TransformerEncoder<float> w10_encoder() {
  strata::TransformerEncoder<float> encoder(w10::ffn, w10::heads, strata::TransformerEncoderOptions().seed(1));
  encoder.build(w10::d_model);
  return encoder;
}

void BM_W10(benchmark::State& state, bool forward) {
  const strata::TransformerEncoder<float> encoder = w10_encoder();
  const auto x = random_tensor<3>({w10::batch, w10::steps, w10::d_model}, 23);
  Tensor<float, 3> out(w10::batch, w10::steps, w10::d_model);
  const strata::Shape shape{w10::batch, w10::steps, w10::d_model};
  for (auto _ : state) {
    if (forward) {
      encoder.forward(x.data(), shape, out.data(), out.size());
      benchmark::DoNotOptimize(out.data());
    } else {
      Tensor<float, 3> y = encoder(x);
      benchmark::DoNotOptimize(y.data());
    }
    benchmark::ClobberMemory();
  }
  set_flops(state, w10::flops());
}

void BM_W10split_attention(benchmark::State& state) {
  const strata::TransformerEncoder<float> encoder = w10_encoder();
  const auto x = random_tensor<3>({w10::batch, w10::steps, w10::d_model}, 23);
  Tensor<float, 3> out(w10::batch, w10::steps, w10::d_model);
  const strata::Shape shape{w10::batch, w10::steps, w10::d_model};
  for (auto _ : state) {
    encoder.self_attention().forward(x.data(), shape, out.data(), out.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w10::attention_flops());
}

void BM_W10split_ffn(benchmark::State& state) {
  const strata::TransformerEncoder<float> encoder = w10_encoder();
  const auto x = random_tensor<3>({w10::batch, w10::steps, w10::d_model}, 23);
  const auto a = random_tensor<3>({w10::batch, w10::steps, w10::d_model}, 24);
  const strata::Shape shape{w10::batch, w10::steps, w10::d_model};
  const strata::Index rows = w10::batch * w10::steps, n = rows * w10::d_model;
  Tensor<float, 3> out(w10::batch, w10::steps, w10::d_model), z(w10::batch, w10::steps, w10::d_model);
  Tensor<float, 2> h(rows, w10::ffn);
  for (auto _ : state) {
    for (strata::Index i = 0; i < n; ++i) out.data()[i] = a.data()[i] + x.data()[i];
    encoder.self_attention_layer_norm().forward(out.data(), shape, out.data(), n);
    encoder.feedforward_intermediate_dense().forward(out.data(), strata::Shape{rows, w10::d_model}, h.data(), h.size());
    encoder.feedforward_output_dense().forward(h.data(), strata::Shape{rows, w10::ffn}, z.data(), n);
    for (strata::Index i = 0; i < n; ++i) out.data()[i] += z.data()[i];
    encoder.feedforward_layer_norm().forward(out.data(), shape, out.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w10::ffn_flops());
}

// ---- W7: eight causal Conv1D(64, 3) with dilation 1, 2, ..., 128 on (8, 4000, 64) (a WaveNet stack).
std::vector<strata::Conv1D<float>> w7_stack() {
  std::vector<strata::Conv1D<float>> stack;
  for (int i = 0; i < w7::layers; ++i) {
    stack.emplace_back(w7::filters, w7::kernel,
                       strata::ConvOptions<1>()
                           .padding("causal")
                           .dilation_rate(w7::dilation(i))
                           .input_dim(w7::channels)
                           .seed(static_cast<std::uint64_t>(i + 1)));
  }
  return stack;
}

Tensor<float, 3> run_w7_stack(const std::vector<strata::Conv1D<float>>& stack, const Tensor<float, 3>& x) {
  Tensor<float, 3> y = stack[0](x);
  for (std::size_t i = 1; i < stack.size(); ++i) y = stack[i](y);
  return y;
}

void BM_W7(benchmark::State& state) {
  const std::vector<strata::Conv1D<float>> stack = w7_stack();
  const auto x = random_tensor<3>({w7::batch, w7::steps, w7::channels}, 17);
  for (auto _ : state) {
    Tensor<float, 3> y = run_w7_stack(stack, x);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w7::flops());
}

#if STRATA_BENCH_HAS_STREAMING
// ---- W9: W7's stack streamed, batch 1, one (1, 64) step per call through strata::Conv1DStackStream
// (allocation-free; each layer keeps a ring of its last (3 - 1) * dilation + 1 inputs). Every
// iteration streams 4000 steps from a fresh state; the stream is first checked bitwise against the
// stack called on the whole sequence (a mismatch skips the benchmark with an error).
void BM_W9(benchmark::State& state) {
  const std::vector<strata::Conv1D<float>> stack = w7_stack();
  strata::Conv1DStackStream<float> stream(stack, w9::batch);
  const auto x = random_tensor<3>({w9::batch, w9::steps, w7::channels}, 19);
  {
    constexpr Eigen::Index checked = 600;  // past the last layer's 257-step window
    const Tensor<float, 3> head =
        x.slice(std::array<Eigen::Index, 3>{0, 0, 0}, std::array<Eigen::Index, 3>{w9::batch, checked, w7::channels});
    const Tensor<float, 3> whole = run_w7_stack(stack, head);
    for (Eigen::Index t = 0; t < checked; ++t) {
      const float* y = stream.step(x.data() + t * w7::channels);
      if (std::memcmp(y, whole.data() + t * w7::filters, sizeof(float) * w7::filters) != 0) {
        state.SkipWithError("Conv1DStackStream's output differs from the whole-sequence stack's");
        return;
      }
    }
  }
  for (auto _ : state) {
    stream.reset();
    float sink = 0.0f;
    for (int t = 0; t < w9::steps; ++t) sink += stream.step(x.data() + t * w7::channels)[0];
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w9::steps * w9::flops_per_step());
  set_per_step(state, w9::steps);
}
#endif

// ---- W11: autoregressive decoding with MultiHeadAttention's key/value cache (decode_step), batch 1,
// d_model 256, 8 heads of 32: every iteration decodes `steps` tokens from an empty cache (one (1,
// 256) token per call, allocation-free). Checked first, bitwise, against the full causal call on the
// whole sequence (a mismatch skips the benchmark with an error). "per_step" is the time per token.
void BM_W11(benchmark::State& state, int steps) {
  strata::MultiHeadAttention<float> mha(w11::heads, w11::key_dim, strata::MultiHeadAttentionOptions().seed(23));
  mha.build(w11::d_model);
  auto cache = mha.make_cache(steps, w11::batch);
  const auto x = random_tensor<3>({w11::batch, steps, w11::d_model}, 24);
  std::vector<float> y(static_cast<std::size_t>(w11::d_model));
  {
    strata::AttentionMasks<float> causal;
    causal.use_causal_mask = true;
    const strata::TensorView<float> xv(x.data(), strata::Shape{w11::batch, steps, w11::d_model});
    const strata::AnyTensor<float> whole = mha.call(xv, xv, strata::TensorView<float>(), causal).output;
    for (int t = 0; t < steps; ++t) {
      mha.decode_step(cache, x.data() + t * w11::d_model, y.data());
      if (std::memcmp(y.data(), whole.data() + t * w11::d_model, sizeof(float) * w11::d_model) != 0) {
        state.SkipWithError("decode_step's output differs from the full causal call's row");
        return;
      }
    }
  }
  for (auto _ : state) {
    cache.clear();
    float sink = 0.0f;
    for (int t = 0; t < steps; ++t) {
      mha.decode_step(cache, x.data() + t * w11::d_model, y.data());
      sink += y[0];
    }
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w11::flops(steps));
  set_per_step(state, steps);
}

// ---- W8: the seed's video model on (8, 16, 64, 64, 3), as BM_W8_torch: TimeDistributed(Conv2D(16,
// 3x3, valid, no activation)) -> TimeDistributed(MaxPooling2D(2)) -> TimeDistributed(Flatten) ->
// LSTM(64) (last h) -> Dense(10) (no activation), through the typed calls.
void BM_W8(benchmark::State& state) {
  const TimeDistributed<strata::Conv2D<float>> conv(
      strata::Conv2D<float>(w8::filters, w8::kernel, strata::ConvOptions<2>().input_dim(w8::channels).seed(1)));
  const TimeDistributed<strata::MaxPooling2D<float>> pool(strata::MaxPooling2D<float>({2, 2}));
  const TimeDistributed<strata::Flatten<float>> flatten{strata::Flatten<float>()};
  const LSTM<float> lstm(w8::units, LSTMOptions().input_dim(w8::features).seed(2));
  const Dense<float> dense(w8::out, DenseOptions().input_dim(w8::units).seed(3));
  const auto x = random_tensor<5>({w8::batch, w8::frames, w8::height, w8::width, w8::channels}, 18);
  for (auto _ : state) {
    const Tensor<float, 5> c = conv(x);     // (8, 16, 62, 62, 16)
    const Tensor<float, 5> p = pool(c);     // (8, 16, 31, 31, 16)
    const Tensor<float, 3> f = flatten(p);  // (8, 16, 15376)
    const Tensor<float, 2> h = lstm(f);     // (8, 64)
    const Tensor<float, 2> y = dense(h);    // (8, 10)
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, w8::flops());
}

// ---- RESBLOCK: a ResNet basic block on W6's (32, 56, 56, 64): Conv2D(64, 3x3, same) ->
// BatchNormalization -> ReLU -> Conv2D(64, 3x3, same) -> BatchNormalization -> Add(block input) ->
// ReLU; inference (BatchNormalization uses its moving statistics).
struct ResBlock {
  strata::Conv2D<float> conv1, conv2;
  strata::BatchNormalization<float> bn1, bn2;
  strata::ReLU<float> relu;
  strata::Add<float> add;
};

strata::BatchNormalization<float> random_batch_norm(std::uint32_t seed) {
  strata::BatchNormalization<float> bn;
  bn.build(Shape{resblock::batch, resblock::height, resblock::width, resblock::channels});
  strata::Weights<float> w = bn.get_weights();  // gamma, beta, moving_mean, moving_variance
  for (std::size_t k = 0; k < w.size(); ++k) {
    fill_uniform(w[k].data(), static_cast<std::size_t>(w[k].size()), seed + static_cast<std::uint32_t>(k));
    if (k == 0 || k == 3) {  // gamma and the variance around 1, the variance positive
      for (Eigen::Index i = 0; i < w[k].size(); ++i) w[k].data()[i] = 1.0f + 0.5f * w[k].data()[i];
    }
  }
  bn.set_weights(w);
  return bn;
}

ResBlock make_resblock() {
  const auto conv = [](std::uint64_t seed) {
    return strata::Conv2D<float>(resblock::channels, 3,
                                 strata::ConvOptions<2>().padding("same").input_dim(resblock::channels).seed(seed));
  };
  return ResBlock{
      conv(1), conv(2), random_batch_norm(30), random_batch_norm(40), strata::ReLU<float>(), strata::Add<float>()};
}

/// The block through the typed calls, as a user writes it: each call returns a new tensor.
Tensor<float, 4> resblock_typed(const ResBlock& r, const Tensor<float, 4>& x) {
  Tensor<float, 4> y = r.bn1(r.conv1(x));
  y = r.relu(y);
  y = r.bn2(r.conv2(y));
  Tensor<float, 4> s = r.add(y, x);
  return r.relu(s);
}

/// The same layers through forward() into two preallocated tensors, BatchNormalization and ReLU in
/// place; Add still returns a new tensor (the merge layers have no preallocated-output call).
void resblock_forward(const ResBlock& r, const Tensor<float, 4>& x, Tensor<float, 4>& a, Tensor<float, 4>& b,
                      Tensor<float, 4>& out) {
  const Shape shape = strata::shape_of(x);
  r.conv1.forward(x.data(), shape, a.data(), a.size());
  r.bn1.forward(a.data(), shape, a.data(), a.size());
  r.relu.forward(a.data(), shape, a.data(), a.size());
  r.conv2.forward(a.data(), shape, b.data(), b.size());
  r.bn2.forward(b.data(), shape, b.data(), b.size());
  out = r.add(b, x).get<4>();
  r.relu.forward(out.data(), shape, out.data(), out.size());
}

void BM_RESBLOCK(benchmark::State& state, bool preallocated) {
  const ResBlock r = make_resblock();
  const auto x = random_tensor<4>({resblock::batch, resblock::height, resblock::width, resblock::channels}, 20);
  Tensor<float, 4> a(x.dimensions()), b(x.dimensions()), out(x.dimensions());
  {
    // Both ways compute the same block, bitwise.
    const Tensor<float, 4> typed = resblock_typed(r, x);
    resblock_forward(r, x, a, b, out);
    if (std::memcmp(typed.data(), out.data(), sizeof(float) * static_cast<std::size_t>(out.size())) != 0) {
      state.SkipWithError("the typed calls and forward() differ");
      return;
    }
  }
  for (auto _ : state) {
    if (preallocated) {
      resblock_forward(r, x, a, b, out);
      benchmark::DoNotOptimize(out.data());
    } else {
      Tensor<float, 4> y = resblock_typed(r, x);
      benchmark::DoNotOptimize(y.data());
    }
    benchmark::ClobberMemory();
  }
  set_flops(state, resblock::flops());
}

void register_strata_benchmarks(int threads) {
  const int used = apply_strata_threads(threads);
  benchmark::AddCustomContext("strata_threads", used == threads
                                                    ? std::to_string(used)
                                                    : std::to_string(used) + " (asked for " + std::to_string(threads) +
                                                          "; strata has no thread API, or no OpenMP)");
  benchmark::AddCustomContext("strata_streaming_api", STRATA_BENCH_HAS_STREAMING ? "yes" : "no");
  benchmark::AddCustomContext("strata_loaded_models", STRATA_BENCH_HAS_IO ? "yes" : "no");
  benchmark::AddCustomContext("strata_version", STRATA_VERSION_STRING);
  benchmark::AddCustomContext("eigen_version", std::to_string(EIGEN_WORLD_VERSION) + "." +
                                                   std::to_string(EIGEN_MAJOR_VERSION) + "." +
                                                   std::to_string(EIGEN_MINOR_VERSION));

  add("BM_W1_strata_td", [](benchmark::State& s) { BM_W1(s, true); })->Unit(benchmark::kMicrosecond);
  add("BM_W1_strata_dense", [](benchmark::State& s) { BM_W1(s, false); })->Unit(benchmark::kMicrosecond);
  add("BM_W1_strata_sequential", BM_W1_sequential)->Unit(benchmark::kMicrosecond);
#if STRATA_BENCH_HAS_IO
  add("BM_W1_strata_loaded", BM_W1_loaded)->Unit(benchmark::kMicrosecond);
  add("BM_W2_strata_loaded", BM_W2_loaded);
  for (const int h : w3::hidden_sizes()) {
    add("BM_W3_strata_loaded_step/H:" + std::to_string(h), [h](benchmark::State& s) { BM_W3_loaded_step(s, h); });
  }
#endif
  add("BM_W2_strata", BM_W2);
  add("BM_W2_strata_layer", BM_W2_layer);
  add("BM_W2GRU_strata", [](benchmark::State& s) { BM_W2GRU(s, true); });
  add("BM_W2GRU_strata_layer", [](benchmark::State& s) { BM_W2GRU(s, false); });
  add("BM_W2BiLSTM_strata", [](benchmark::State& s) { BM_W2BiLSTM(s, true); });
  add("BM_W2BiLSTM_strata_layer", [](benchmark::State& s) { BM_W2BiLSTM(s, false); });
  add("BM_W2RNN_strata", [](benchmark::State& s) { BM_W2RNN(s, true); });
  add("BM_W2RNN_strata_layer", [](benchmark::State& s) { BM_W2RNN(s, false); });
  for (const int h : w3::hidden_sizes()) {
    add("BM_W3_strata_layer_call/H:" + std::to_string(h), [h](benchmark::State& s) { BM_W3_layer_call(s, h); });
  }
#if STRATA_BENCH_HAS_STREAMING
  for (const int h : w3::hidden_sizes()) {
    add("BM_W3_strata_stream/H:" + std::to_string(h), [h](benchmark::State& s) { BM_W3_stream(s, h); });
  }
  register_w3_static(std::integer_sequence<int, 8, 16, 32, 64, 128>{});
  for (const int h : w3::hidden_sizes()) {
    add("BM_W3GRU_strata_stream/H:" + std::to_string(h), [h](benchmark::State& s) { BM_W3GRU_stream(s, h); });
  }
#endif
  add("BM_W4_strata_dense", [](benchmark::State& s) { BM_W4(s, false); });
  add("BM_W4_strata_td", [](benchmark::State& s) { BM_W4(s, true); });
  add("BM_W4_strata_dense_forward", [](benchmark::State& s) { BM_W4_forward(s, false); });
  add("BM_W4_strata_td_forward", [](benchmark::State& s) { BM_W4_forward(s, true); });
  add("BM_W5_strata", BM_W5);
  add("BM_W6_strata", BM_W6);
  add("BM_W7_strata", BM_W7);
  add("BM_W8_strata", BM_W8);
#if STRATA_BENCH_HAS_STREAMING
  add("BM_W9_strata", BM_W9);
#endif
  add("BM_W10_strata", [](benchmark::State& s) { BM_W10(s, false); });
  add("BM_W10_strata_forward", [](benchmark::State& s) { BM_W10(s, true); });
  add("BM_W10split_strata_attention", BM_W10split_attention);
  add("BM_W10split_strata_ffn", BM_W10split_ffn);
  for (const int n : w11::lengths()) {
    add("BM_W11_strata/T:" + std::to_string(n), [n](benchmark::State& s) {
      BM_W11(s, n);
    })->Unit(benchmark::kMicrosecond);
  }
  add("BM_RESBLOCK_strata", [](benchmark::State& s) { BM_RESBLOCK(s, false); });
  add("BM_RESBLOCK_strata_forward", [](benchmark::State& s) { BM_RESBLOCK(s, true); });
}

}  // namespace
}  // namespace bench

static void setup(int threads) {
  bench::register_strata_benchmarks(threads);
  register_reference_benchmarks(threads);
}

STRATA_BENCH_MAIN(setup)
