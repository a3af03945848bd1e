// SPDX-License-Identifier: MIT
// Two translation units built for different targets (probe.cpp with AVX disabled, and with
// -mavx2 -mfma) in one program: each must run strata's kernels as compiled for its own target
// (its own inline namespace, packet size and panel layout) and get the right results. Without
// the ISA-tagged namespace both define strata::detail::PackedMatrix<float>, gemm<float>,
// Dense<float>::set_weights, ... under the same symbols with different panel widths, and the
// linker keeps one of each: weights packed for one layout are read with the other.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "probe.hpp"

float probe_value(int stream, int i) {
  // A small integer hash mapped to [-0.5, 0.5): no floating-point work, identical in every TU.
  unsigned v = static_cast<unsigned>(stream) * 2654435761u + static_cast<unsigned>(i) * 40503u + 12345u;
  v ^= v >> 13;
  v *= 0x5bd1e995u;
  v ^= v >> 15;
  return static_cast<float>(v % 1024u) / 1024.0f - 0.5f;
}

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// The same layers in double, written out naively.
void reference(std::vector<double>& dense, std::vector<double>& lstm) {
  const int f = 13, units = 20, rows = 7;
  dense.assign(rows * units, 0.0);
  for (int r = 0; r < rows; ++r) {
    for (int j = 0; j < units; ++j) {
      double s = probe_value(2, j);
      for (int k = 0; k < f; ++k) s += double(probe_value(3, r * f + k)) * probe_value(1, k * units + j);
      dense[r * units + j] = std::tanh(s);
    }
  }
  const int u = 5, g = 4 * u, batch = 3, steps = 4;
  lstm.assign(batch * steps * u, 0.0);
  for (int b = 0; b < batch; ++b) {
    std::vector<double> h(u, 0.0), c(u, 0.0), z(g);
    for (int t = 0; t < steps; ++t) {
      for (int j = 0; j < g; ++j) {
        double s = probe_value(6, j);
        for (int k = 0; k < f; ++k) s += double(probe_value(7, (b * steps + t) * f + k)) * probe_value(4, k * g + j);
        for (int k = 0; k < u; ++k) s += h[k] * probe_value(5, k * g + j);
        z[j] = s;
      }
      for (int j = 0; j < u; ++j) {
        const double i = sigmoid(z[j]), fg = sigmoid(z[u + j]), cc = std::tanh(z[2 * u + j]), o = sigmoid(z[3 * u + j]);
        c[j] = fg * c[j] + i * cc;
        h[j] = o * std::tanh(c[j]);
        lstm[(b * steps + t) * u + j] = h[j];
      }
    }
  }
}

void check_close(const std::vector<float>& got, const std::vector<double>& want, const std::string& what) {
  check(got.size() == want.size(), what + ": size");
  double worst = 0;
  for (std::size_t i = 0; i < got.size() && i < want.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  std::printf("%s: max |error| %.3g against double\n", what.c_str(), worst);
  check(worst <= 1e-5, what + ": within 1e-5 of the double reference");
}

}  // namespace

int main() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::printf("skipped: this CPU has no AVX2 and FMA, so the -mavx2 -mfma translation unit cannot run\n");
    return 77;
  }
#endif
  const ProbeResult a = probe_baseline();
  const ProbeResult b = probe_avx2_fma();
  std::printf("baseline TU: %s, float packet %d, panel width %d\n", a.isa.c_str(), a.float_packet, a.panel_width);
  std::printf("avx2+fma TU: %s, float packet %d, panel width %d\n", b.isa.c_str(), b.float_packet, b.panel_width);
  check(a.isa != b.isa, "the two translation units have distinct strata namespaces");
  check(a.isa.find("avx") == std::string::npos, "the baseline TU is built without AVX");
  check(b.isa == "isa_avx2_fma", "the AVX2 TU's namespace is isa_avx2_fma");
  check(a.float_packet == 4 && b.float_packet == 8, "float packets of 4 (SSE) and 8 (AVX) lanes");
  check(a.panel_width == 8 && b.panel_width == 16, "GEMM panels of 8 and 16 columns");
  // Packing is an inline member function of PackedMatrix<float> in both translation units: each
  // must have run its own (20 columns: 3 panels of 8, 2 of 16).
  check(a.packed_panels == 3 && b.packed_panels == 2, "20 columns packed into 3 and 2 panels");
  std::vector<double> dense, lstm;
  reference(dense, lstm);
  check_close(a.dense, dense, "baseline Dense");
  check_close(b.dense, dense, "avx2+fma Dense");
  check_close(a.lstm, lstm, "baseline LSTM");
  check_close(b.lstm, lstm, "avx2+fma LSTM");
  // Each TU's second call gives its first call's bits (its own kernels, deterministic).
  const ProbeResult a2 = probe_baseline();
  const ProbeResult b2 = probe_avx2_fma();
  check(a2.dense == a.dense && a2.lstm == a.lstm, "the baseline TU repeats its results bitwise");
  check(b2.dense == b.dense && b2.lstm == b.lstm, "the AVX2 TU repeats its results bitwise");
  if (failures == 0) std::printf("passed\n");
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
