// SPDX-License-Identifier: MIT
// strata_bench_rtneural_gru: W3GRU -- GRU(1 -> H) -> Dense(1), batch 1, one step per call -- on
// RTNeural (https://github.com/jatinchowdhury18/RTNeural), the real-time audio library, with the
// weights strata_bench's BM_W3GRU_strata_stream uses (bench::w3gru::weights), so that the two
// binaries time the same model. Built only when CMake is given -DSTRATA_RTNEURAL_DIR=<an RTNeural
// checkout> (benchmarks/CMakeLists.txt); RTNeural's sources never enter strata's repository.
//
// RTNeural's compile-time API (ModelT<GRULayerT, DenseT>), with the backend this binary was built
// with (RTNEURAL_USE_EIGEN with RTNeural's own Eigen, or RTNEURAL_USE_XSIMD), one sample per
// forward() from a zero state, reset() before each pass over w3::signal().
#include <RTNeural/RTNeural.h>

#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

#ifndef STRATA_RTNEURAL_BACKEND
#error "define STRATA_RTNEURAL_BACKEND (\"Eigen\" or \"xsimd\"): benchmarks/CMakeLists.txt does"
#endif

namespace bench {
namespace {

std::vector<std::vector<float>> rows_of(const std::vector<float>& flat, int rows, int cols) {
  std::vector<std::vector<float>> m(static_cast<std::size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    m[static_cast<std::size_t>(r)].assign(flat.begin() + r * cols, flat.begin() + (r + 1) * cols);
  }
  return m;
}

template <int H>
void BM_W3GRU_rtneural(benchmark::State& state) {
  using Model = RTNeural::ModelT<float, 1, 1, RTNeural::GRULayerT<float, 1, H>, RTNeural::DenseT<float, H, 1>>;
  const w3gru::Weights w = w3gru::weights(H);
  auto model = std::make_unique<Model>();
  auto& gru = model->template get<0>();
  gru.setWVals(rows_of(w.kernel, 1, 3 * H));  // Keras' layout (features, 3H), gates z, r, h
  gru.setUVals(rows_of(w.recurrent, H, 3 * H));
  gru.setBVals(rows_of(w.bias, 2, 3 * H));  // row 0 input bias, row 1 recurrent bias (reset_after)
  auto& dense = model->template get<1>();
  dense.setWeights(rows_of(w.dense_kernel, 1, H));  // RTNeural's [out][in]: the (H, 1) kernel transposed
  dense.setBias(w.dense_bias.data());
  model->reset();
  // RTNeural's ModelT reads its input with aligned whole-packet loads: a padded, aligned buffer.
  alignas(64) float in[16] = {};
  auto step = [&](float v) {
    in[0] = v;
    return model->forward(in);
  };
  if (!w3gru::matches_reference(w, step)) {
    state.SkipWithError("RTNeural's output differs from the float64 reference");
    return;
  }
  const std::vector<float>& signal = w3::signal();
  for (auto _ : state) {
    model->reset();
    float sink = 0.0f;
    for (const float v : signal) sink += step(v);
    benchmark::DoNotOptimize(sink);
  }
  set_flops(state, w3gru::samples * w3gru::flops_per_sample(H));
  set_per_sample(state, w3gru::samples);
}

template <int... H>
void register_all(std::integer_sequence<int, H...>) {
  (add(std::string("BM_W3GRU_rtneural_") + STRATA_RTNEURAL_BACKEND + "/H:" + std::to_string(H), BM_W3GRU_rtneural<H>),
   ...);
}

}  // namespace
}  // namespace bench

static void setup(int /*threads*/) {
  benchmark::AddCustomContext("rtneural_backend", STRATA_RTNEURAL_BACKEND);
  bench::register_all(std::integer_sequence<int, 8, 16, 32, 64, 128>{});
}

STRATA_BENCH_MAIN(setup)
