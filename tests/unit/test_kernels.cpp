// SPDX-License-Identifier: MIT
// The kernels tested directly, not through a layer: detail::gemm (every tile shape, remainder
// switch, panel edge and the dot kernel) against a naive product, with canaries around every
// partial load and store; and the vectorised activations swept over their useful range against
// double-precision references, reporting their largest error.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <strata/activations.hpp>
#include <strata/detail/gemm.hpp>
#include <strata/layers/lstm.hpp>
#include <string>
#include <vector>

#include "support/catch.hpp"

namespace {

using strata::Index;
using strata::detail::GemmConfig;
using strata::detail::GemmTerm;
using strata::detail::PackedMatrix;

// Deterministic values in [-1, 1) with a few exact zeros and ones (xorshift, no <random> state).
struct Values {
  std::uint64_t s;
  explicit Values(std::uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  double next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<double>(s >> 11) / static_cast<double>(1ull << 52) * 2.0 - 1.0;
  }
};

// A value no product of the test's inputs can produce: a NaN with a payload, compared bitwise.
template <class T>
T canary() {
  if constexpr (std::is_same_v<T, float>) {
    const std::uint32_t bits = 0x7FC0BEEFu;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  } else {
    const std::uint64_t bits = 0x7FF8DEADBEEF0001ull;
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
}

template <class T>
bool is_canary(T v) {
  const T c = canary<T>();
  return std::memcmp(&v, &c, sizeof v) == 0;
}

// One product C = init + sum_s A_s B_s checked three ways: every element against a naive double
// sum (within the rounding of a k-term float sum), the canaries around C untouched (stores stop
// at column n of each row, and before and after the buffer), and every row bitwise equal to the
// same row computed alone (a sample's output does not depend on the rows around it).
// A has lda = k + 3 with NaN in the padding and after the buffer: a load past k is caught.
template <class T>
void check_product(Index m, Index n, const std::vector<Index>& ks, bool with_init, std::uint64_t seed) {
  Values v(seed);
  const int terms = static_cast<int>(ks.size());
  std::vector<std::vector<T>> a(ks.size());
  std::vector<std::vector<T>> b(ks.size());
  std::vector<PackedMatrix<T>> packed(ks.size());
  std::vector<Index> lda(ks.size());
  for (int s = 0; s < terms; ++s) {
    const Index k = ks[static_cast<std::size_t>(s)];
    lda[static_cast<std::size_t>(s)] = k + 3;
    auto& as = a[static_cast<std::size_t>(s)];
    as.assign(static_cast<std::size_t>(m * (k + 3) + 16), std::numeric_limits<T>::quiet_NaN());
    for (Index i = 0; i < m; ++i) {
      for (Index j = 0; j < k; ++j) as[static_cast<std::size_t>(i * (k + 3) + j)] = static_cast<T>(v.next());
    }
    auto& bs = b[static_cast<std::size_t>(s)];
    bs.resize(static_cast<std::size_t>(k * n));
    for (auto& x : bs) x = static_cast<T>(v.next());
    packed[static_cast<std::size_t>(s)].pack(bs.data(), k, n);
  }
  std::vector<T> bias(static_cast<std::size_t>(n));
  for (auto& x : bias) x = static_cast<T>(v.next());
  const PackedMatrix<T> init(bias.data(), 1, n);
  std::vector<GemmTerm<T>> gt;
  for (int s = 0; s < terms; ++s) {
    gt.push_back({a[static_cast<std::size_t>(s)].data(), lda[static_cast<std::size_t>(s)],
                  &packed[static_cast<std::size_t>(s)]});
  }

  // C with ldc = n + 5 and a guard of 32 values on each side, all canaries.
  const Index ldc = n + 5, guard = 32;
  std::vector<T> buf(static_cast<std::size_t>(guard + m * ldc + guard), canary<T>());
  T* c = buf.data() + guard;
  strata::detail::gemm<T>(m, n, gt.data(), terms, with_init ? &init : nullptr, c, ldc);

  const double eps = std::numeric_limits<T>::epsilon();
  Index depth = 0;
  for (Index k : ks) depth += k;
  for (Index i = 0; i < m; ++i) {
    for (Index j = 0; j < n; ++j) {
      double want = with_init ? static_cast<double>(bias[static_cast<std::size_t>(j)]) : 0.0;
      double magnitude = std::abs(want);
      for (int s = 0; s < terms; ++s) {
        const auto& as = a[static_cast<std::size_t>(s)];
        const auto& bs = b[static_cast<std::size_t>(s)];
        for (Index q = 0; q < ks[static_cast<std::size_t>(s)]; ++q) {
          const double p = static_cast<double>(as[static_cast<std::size_t>(i * lda[static_cast<std::size_t>(s)] + q)]) *
                           static_cast<double>(bs[static_cast<std::size_t>(q * n + j)]);
          want += p;
          magnitude += std::abs(p);
        }
      }
      const double got = static_cast<double>(c[i * ldc + j]);
      const double bound = static_cast<double>(depth + 2) * eps * magnitude + std::numeric_limits<T>::min();
      if (!(std::abs(got - want) <= bound)) {
        FAIL_CHECK("m=" << m << " n=" << n << " terms=" << terms << " depth=" << depth << " init=" << with_init
                        << ": C[" << i << "," << j << "] = " << got << ", naive " << want << " (bound " << bound
                        << ")");
        return;
      }
    }
  }
  // Canaries: the guards and every row's columns [n, ldc).
  for (Index g = 0; g < guard; ++g) {
    if (!is_canary(buf[static_cast<std::size_t>(g)]) || !is_canary(c[m * ldc + g])) {
      FAIL_CHECK("m=" << m << " n=" << n << ": a store outside C");
      return;
    }
  }
  for (Index i = 0; i < m; ++i) {
    for (Index j = n; j < ldc; ++j) {
      if (!is_canary(c[i * ldc + j])) {
        FAIL_CHECK("m=" << m << " n=" << n << ": row " << i << " written past column n (at " << j << ")");
        return;
      }
    }
  }
  // Batch invariance: each row alone, bitwise.
  std::vector<T> row(static_cast<std::size_t>(n));
  for (Index i = 0; i < m; ++i) {
    std::vector<GemmTerm<T>> one = gt;
    for (int s = 0; s < terms; ++s) one[static_cast<std::size_t>(s)].a += i * lda[static_cast<std::size_t>(s)];
    strata::detail::gemm<T>(1, n, one.data(), terms, with_init ? &init : nullptr, row.data(), n);
    if (std::memcmp(row.data(), c + i * ldc, static_cast<std::size_t>(n) * sizeof(T)) != 0) {
      FAIL_CHECK("m=" << m << " n=" << n << " terms=" << terms << ": row " << i
                      << " differs from the same row computed alone");
      return;
    }
  }
}

// Sizes 1 to 40 for m, n and k. An optimised build sweeps all 64,000 shapes; a build without
// optimisation (the sanitizer build) sweeps every m and n with the k values around the packet and
// panel widths, which keeps it under a minute there.
std::vector<Index> depths() {
  std::vector<Index> ks;
#if defined(__OPTIMIZE__)
  for (Index k = 1; k <= 40; ++k) ks.push_back(k);
#else
  for (Index k : {1, 3, 8, 9, 16, 17, 40}) ks.push_back(k);
#endif
  return ks;
}

template <class T>
void sweep_gemm() {
  std::uint64_t seed = 1;
  for (Index k : depths()) {
    for (Index m = 1; m <= 40; ++m) {
      for (Index n = 1; n <= 40; ++n) check_product<T>(m, n, {k}, (m + n) % 2 == 0, seed++);
    }
  }
}

}  // namespace

TEST_CASE(
    "kernels: gemm equals a naive product for every m, n, k in 1..40, stores nothing past C, and rows are "
    "batch-invariant",
    "[kernels][gemm]") {
  INFO("packet " << GemmConfig<float>::packet << " (float), panel width " << GemmConfig<float>::panel_width
                 << ", tile rows " << GemmConfig<float>::tile_rows);
  SECTION("float") { sweep_gemm<float>(); }
  SECTION("double") { sweep_gemm<double>(); }
}

TEST_CASE("kernels: gemm with several terms (an RNN's x W + h U) and panel widths around the edges",
          "[kernels][gemm]") {
  std::uint64_t seed = 100000;
  for (int pw : {GemmConfig<float>::panel_width, GemmConfig<double>::panel_width}) {
    for (Index n : {Index(pw - 1), Index(pw), Index(pw + 1), Index(2 * pw - 1), Index(2 * pw), Index(2 * pw + 1),
                    Index(4 * pw + 3)}) {
      for (Index m : {1, 5, 6, 7, 13, 72, 73, 80}) {
        check_product<float>(m, n, {7, 3}, true, seed++);
        check_product<double>(m, n, {7, 3}, true, seed++);
        check_product<float>(m, n, {1, 9, 16}, false, seed++);
        check_product<double>(m, n, {1, 9, 16}, true, seed++);
        // A 3 x 3 convolution's nine taps, each term a few channels deep.
        check_product<float>(m, n, {2, 3, 1, 4, 2, 5, 1, 3, 2}, true, seed++);
        check_product<double>(m, n, {2, 3, 1, 4, 2, 5, 1, 3, 2}, false, seed++);
      }
    }
  }
  // The dot kernel: n <= dot_max_cols with a depth of at least dot_min_depth, over one or two terms.
  for (Index n = 1; n <= strata::detail::dot_max_cols; ++n) {
    for (Index m : {1, 2, 3, 6, 7, 33}) {
      for (Index k : {Index(strata::detail::dot_min_depth - 1), Index(strata::detail::dot_min_depth), Index(17),
                      Index(64), Index(65)}) {
        check_product<float>(m, n, {k}, true, seed++);
        check_product<double>(m, n, {k}, false, seed++);
        check_product<float>(m, n, {k, 5}, true, seed++);
      }
    }
  }
}

TEST_CASE("kernels: load_first and store_first touch exactly the lanes asked for", "[kernels][gemm]") {
  using Packet = typename Eigen::internal::packet_traits<float>::type;
  constexpr int P = strata::detail::packet_size<float>;
  for (int count = 1; count <= P; ++count) {
    // The source ends at count values (NaN after it): a wider load would bring a NaN in.
    std::vector<float> src(static_cast<std::size_t>(P + 8), std::numeric_limits<float>::quiet_NaN());
    for (int i = 0; i < count; ++i) src[static_cast<std::size_t>(i)] = static_cast<float>(i + 1);
    const Packet p = strata::detail::load_first<float>(src.data(), count);
    std::vector<float> lanes(static_cast<std::size_t>(P));
    Eigen::internal::pstoreu(lanes.data(), p);
    for (int i = 0; i < P; ++i) {
      INFO("count " << count << " lane " << i);
      CHECK(lanes[static_cast<std::size_t>(i)] == (i < count ? static_cast<float>(i + 1) : 0.0f));
    }
    std::vector<float> dst(static_cast<std::size_t>(P + 8), canary<float>());
    strata::detail::store_first<float>(dst.data() + 4, Eigen::internal::pset1<Packet>(7.0f), count);
    for (int i = 0; i < P + 8; ++i) {
      INFO("count " << count << " slot " << i);
      if (i >= 4 && i < 4 + count) {
        CHECK(dst[static_cast<std::size_t>(i)] == 7.0f);
      } else {
        CHECK(is_canary(dst[static_cast<std::size_t>(i)]));
      }
    }
  }
}

namespace {

// Units in the last place between a float result and the double reference rounded to float.
double ulp_distance(float got, double want) {
  const float w = static_cast<float>(want);
  if (got == w) return 0;
  const double ulp =
      std::abs(static_cast<double>(std::nextafter(w, std::numeric_limits<float>::infinity())) - static_cast<double>(w));
  return std::abs(static_cast<double>(got) - want) / (ulp > 0 ? ulp : std::numeric_limits<float>::denorm_min());
}

struct Sweep {
  const char* name;
  strata::Activation activation;
  double lo, hi;
  double (*reference)(double);
  double bound;  // on the float error as defined below (double: 1e-14 throughout)
};

double ref_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double ref_tanh(double x) { return std::tanh(x); }
double ref_elu(double x) { return x > 0 ? x : std::expm1(x); }
double ref_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double ref_silu(double x) { return x * ref_sigmoid(x); }
double ref_softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double ref_mish(double x) { return x * std::tanh(ref_softplus(x)); }
double ref_exp(double x) { return std::exp(x); }

}  // namespace

TEST_CASE("kernels: the vectorised activations against double-precision references over their useful range",
          "[kernels][activations]") {
  // The ranges cover where each function is not yet constant to float precision (tanh and sigmoid
  // saturate beyond |x| ~ 9 and ~ 17) plus a margin; 200,001 points each, both ends included.
  // The asserted error is |got - want| / max(|want|, 1): absolute below 1, relative above, which is
  // what a model's outputs see. The purely relative error and the ULPs are printed: Eigen's float
  // logistic and erf trade relative accuracy in their tails for speed (sigmoid near x = -9 is off
  // by ~1e-3 relative, 1.2e-7 absolute, which silu multiplies by |x|), and gelu's 1 + erf(x / sqrt 2)
  // cancels in float for x < -5 (as it does in Keras' own float32 formula): ~1e-6 absolute there.
  const Sweep sweeps[] = {
      {"sigmoid", strata::Activation::sigmoid, -20, 20, ref_sigmoid, 5e-7},
      {"tanh", strata::Activation::tanh, -12, 12, ref_tanh, 5e-7},
      {"elu", strata::Activation::elu, -20, 20, ref_elu, 5e-7},
      {"gelu", strata::Activation::gelu, -8, 8, ref_gelu, 2e-6},
      {"silu", strata::Activation::silu, -20, 20, ref_silu, 2e-6},
      {"softplus", strata::Activation::softplus, -20, 20, ref_softplus, 5e-7},
      {"mish", strata::Activation::mish, -20, 20, ref_mish, 5e-7},
      {"exponential", strata::Activation::exponential, -20, 20, ref_exp, 5e-7},
  };
  constexpr int points = 200001;
  for (const Sweep& s : sweeps) {
    std::vector<float> xf(points);
    std::vector<double> xd(points);
    for (int i = 0; i < points; ++i) {
      xd[static_cast<std::size_t>(i)] = s.lo + (s.hi - s.lo) * i / (points - 1);
      xf[static_cast<std::size_t>(i)] = static_cast<float>(xd[static_cast<std::size_t>(i)]);
    }
    std::vector<float> yf = xf;
    std::vector<double> yd = xd;
    strata::apply_activation(s.activation, yf.data(), 1, points);
    strata::apply_activation(s.activation, yd.data(), 1, points);
    double worst_f = 0, worst_d = 0, worst_rel = 0, worst_ulp = 0, at_f = 0;
    for (int i = 0; i < points; ++i) {
      const auto u = static_cast<std::size_t>(i);
      const double want_f = s.reference(static_cast<double>(xf[u]));
      const double want_d = s.reference(xd[u]);
      const double err_f = std::abs(static_cast<double>(yf[u]) - want_f);
      const double mixed_f = err_f / std::max(std::abs(want_f), 1.0);
      if (mixed_f > worst_f) {
        worst_f = mixed_f;
        at_f = static_cast<double>(xf[u]);
      }
      worst_d = std::max(worst_d, std::abs(yd[u] - want_d) / std::max(std::abs(want_d), 1.0));
      if (std::abs(want_f) > 1e-30) {
        worst_rel = std::max(worst_rel, err_f / std::abs(want_f));
        worst_ulp = std::max(worst_ulp, ulp_distance(yf[u], want_f));
      }
    }
    std::cout << "kernels: " << s.name << " on [" << s.lo << ", " << s.hi << "]: float error " << worst_f
              << " (at x = " << at_f << "; relative " << worst_rel << ", " << worst_ulp << " ulp), double " << worst_d
              << "\n";
    INFO(s.name << ": float error " << worst_f << " at x = " << at_f << ", double " << worst_d);
    CHECK(worst_f <= s.bound);
    CHECK(worst_d <= 1e-14);
  }
}

TEST_CASE("kernels: the LSTM gate pass's tanh and sigmoid against double precision, in ulps", "[kernels][lstm]") {
  // detail::gate_tanh (float) and the gates' sigmoid as 0.5 gate_tanh(x / 2) + 0.5, as the fast
  // path computes them (packet by packet, with pmadd), over every 61st float bit pattern in
  // [-10, 10] (beyond, tanh is +-1 in float and the clamp holds it there) and both signs. Measured
  // on x86 (every 7th pattern): gate_tanh 3.2e-7 relative, 5.3 ulp with FMA; 3.6e-7, 6.1 ulp with
  // SSE2 (Eigen's own ptanh: 2.9e-7 / 4.6 ulp and 3.8e-7 / 6.4 ulp). The sigmoid is bounded in
  // absolute terms: 0.5 + 0.5 tanh cancels for large negative x, as Eigen's logistic does.
  using Packet = strata::detail::PacketOf<float>;
  constexpr int P = strata::detail::packet_size<float>;
  std::uint32_t top = 0;
  const float ten = 10.0f;
  std::memcpy(&top, &ten, sizeof top);
  std::vector<float> xs;
  for (std::uint64_t b = 0; b <= top; b += 61) {
    for (std::uint32_t sign : {0u, 0x80000000u}) {
      const std::uint32_t bits = static_cast<std::uint32_t>(b) | sign;
      float x = 0;
      std::memcpy(&x, &bits, sizeof x);
      xs.push_back(x);
    }
  }
  while (xs.size() % P != 0) xs.push_back(0.0f);
  double tanh_rel = 0, tanh_ulp = 0, sigmoid_abs = 0;
  float tanh_at = 0;
  std::vector<float> t(P), s(P);
  const Packet half = Eigen::internal::pset1<Packet>(0.5f);
  for (std::size_t i = 0; i < xs.size(); i += P) {
    const Packet x = Eigen::internal::ploadu<Packet>(xs.data() + i);
    Eigen::internal::pstoreu(t.data(), strata::detail::lstm_tanh<float>(x));
    Eigen::internal::pstoreu(
        s.data(), Eigen::internal::pmadd(half, strata::detail::lstm_tanh<float>(Eigen::internal::pmul(half, x)), half));
    for (int l = 0; l < P; ++l) {
      const double xd = xs[i + static_cast<std::size_t>(l)];
      const double want = std::tanh(xd);
      const double err = std::abs(static_cast<double>(t[static_cast<std::size_t>(l)]) - want);
      if (want != 0 && err / std::abs(want) > tanh_rel) {
        tanh_rel = err / std::abs(want);
        tanh_at = static_cast<float>(xd);
      }
      tanh_ulp = std::max(tanh_ulp, ulp_distance(t[static_cast<std::size_t>(l)], want));
      sigmoid_abs =
          std::max(sigmoid_abs, std::abs(static_cast<double>(s[static_cast<std::size_t>(l)]) - ref_sigmoid(xd)));
    }
  }
  std::cout << "kernels: gate_tanh (" << strata::detail::isa_name << "): relative " << tanh_rel << " at x = " << tanh_at
            << ", " << tanh_ulp << " ulp; gate sigmoid: absolute " << sigmoid_abs << "\n";
  CHECK(tanh_rel <= 4e-7);
  CHECK(tanh_ulp <= 7);
  CHECK(sigmoid_abs <= 2.5e-7);
}

// g++ warns that a packet type's attributes are ignored as a template argument (as in gemm.hpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

// detail::static_lstm_step (StaticLSTMStream's register step) against LSTMCell::step, the LSTM's
// own step, on one row, bitwise, for each packet width the stream can pick (4, 8, 16 floats where
// the target has them): the same chain of multiply-adds for z and the same gate operations.
template <class Packet, int Features, int Units>
void check_static_lstm_step(std::mt19937& gen) {
  using strata::detail::AlignedVector;
  constexpr int G = 4 * Units;
  std::uniform_real_distribution<float> dist(-0.7f, 0.7f);
  AlignedVector<float> w(Features * G), u(Units * G), b(G);
  for (auto* v : {&w, &u, &b}) {
    for (float& e : *v) e = dist(gen);
  }
  strata::detail::LSTMCell<float> cell(Units, strata::Activation::tanh, strata::Activation::sigmoid);
  cell.set(w.data(), Features, u.data(), b.data());
  AlignedVector<float> work(static_cast<std::size_t>(cell.work_size())), c_cell(Units, 0.0f), h_cell(Units, 0.0f);
  AlignedVector<float> c(Units, 0.0f), h(Units, 0.0f), h_new(Units, 0.0f);
  for (int t = 0; t < 12; ++t) {
    float x[Features];
    for (float& e : x) e = 6.0f * dist(gen);
    cell.step(1, x, Features, h_cell.data(), Units, work.data(), c_cell.data(), h_cell.data(), Units);
    strata::detail::static_lstm_step<float, Packet, Features, Units>(x, h.data(), c.data(), h_new.data(), w.data(),
                                                                     u.data(), b.data());
    h.swap(h_new);
    INFO("units " << Units << ", packet of " << Eigen::internal::unpacket_traits<Packet>::size << ", step " << t);
    REQUIRE(std::memcmp(h.data(), h_cell.data(), sizeof(float) * Units) == 0);
    REQUIRE(std::memcmp(c.data(), c_cell.data(), sizeof(float) * Units) == 0);
  }
}

TEST_CASE("kernels: StaticLSTMStream's register step equals LSTMCell's step bitwise", "[kernels][lstm]") {
  if constexpr (strata::detail::LSTMGates<float>::explicit_ops) {
    std::mt19937 gen(17);
    using Full = strata::detail::PacketOf<float>;
    using Widest16 = typename strata::detail::packet_dividing<Full, 16>::type;
    using Widest8 = typename strata::detail::packet_dividing<Full, 8>::type;
    using Widest4 = typename strata::detail::packet_dividing<Full, 4>::type;
    check_static_lstm_step<Widest4, 1, 4>(gen);
    check_static_lstm_step<Widest4, 2, 20>(gen);
    check_static_lstm_step<Widest8, 1, 8>(gen);
    check_static_lstm_step<Widest8, 3, 40>(gen);
    check_static_lstm_step<Widest16, 1, 16>(gen);
    check_static_lstm_step<Widest16, 1, 96>(gen);
    CHECK(Eigen::internal::unpacket_traits<Widest4>::size == 4);
  } else {
    SUCCEED("no float SIMD packet here: StaticLSTMStream takes the product-then-gates path");
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
