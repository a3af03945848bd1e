// SPDX-License-Identifier: MIT
// The attention core (detail/attention_core.hpp) that MultiHeadAttention and GroupedQueryAttention
// share, against a naive double implementation written here (Keras' _compute_attention_mask ANDed
// per score, Softmax(mask)'s -1e9 or dot_product_attention's replacement, the key/value heads
// repeated over the query-head groups); and batch invariance: a sample's result is bitwise the same
// alone and inside any batch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "support/catch.hpp"
#include "support/util.hpp"

namespace {

using strata::Index;
using strata::Mask;
namespace detail = strata::detail;

std::vector<double> wave(Index n, double seed) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = std::sin(seed + 0.37 * static_cast<double>(i)) * 1.3;
  return v;
}

template <class T>
std::vector<T> as(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

struct Problem {
  detail::AttentionSizes z;
  std::vector<double> q, k, v;  // (B, T, Nq, H), (B, S, Nkv, H), (B, S, Nkv, Hv)
  std::vector<double> am;       // (B|1, N|1, T|1, S|1) or empty
  Index am_shape[4] = {1, 1, 1, 1};
  const Mask* qm = nullptr;
  const Mask* vm = nullptr;
  const Mask* km = nullptr;
  bool causal = false;
  Index causal_offset = 0;
  detail::MaskFill fill = detail::MaskFill::add_large_negative;
};

Problem make(Index batch, Index nq, Index nkv, Index t, Index s, Index h, Index hv, double seed) {
  Problem p;
  p.z.batch = batch;
  p.z.query_heads = nq;
  p.z.kv_heads = nkv;
  p.z.query_steps = t;
  p.z.key_steps = s;
  p.z.key_dim = h;
  p.z.value_dim = hv;
  p.q = wave(batch * t * nq * h, seed);
  p.k = wave(batch * s * nkv * h, seed + 1);
  p.v = wave(batch * s * nkv * hv, seed + 2);
  return p;
}

bool allowed(const Problem& p, Index b, Index n, Index t, Index s) {
  if (p.qm != nullptr && !(*p.qm)(b, t)) return false;
  if (p.vm != nullptr && !(*p.vm)(b, s)) return false;
  if (p.km != nullptr && !(*p.km)(b, s)) return false;
  if (p.causal && s > t + p.causal_offset) return false;
  if (!p.am.empty()) {
    const Index* a = p.am_shape;
    const Index i =
        (((a[0] == 1 ? 0 : b) * a[1] + (a[1] == 1 ? 0 : n)) * a[2] + (a[2] == 1 ? 0 : t)) * a[3] + (a[3] == 1 ? 0 : s);
    if (p.am[static_cast<std::size_t>(i)] == 0) return false;
  }
  return true;
}

// The naive reference: context (B, T, Nq, Hv) and scores (B, Nq, T, S) in double; float32: a
// masked score - 1e9 rounded to float, as Keras computes it in float32 (a score of a few units
// vanishes: a row masked everywhere becomes uniform).
void naive(const Problem& p, std::vector<double>& ctx, std::vector<double>& scores, bool float32) {
  const auto& z = p.z;
  const Index group = z.query_heads / z.kv_heads;
  ctx.assign(static_cast<std::size_t>(z.batch * z.query_steps * z.query_heads * z.value_dim), 0.0);
  scores.assign(static_cast<std::size_t>(z.batch * z.query_heads * z.query_steps * z.key_steps), 0.0);
  for (Index b = 0; b < z.batch; ++b) {
    for (Index u = 0; u < z.query_heads; ++u) {
      const Index h = u / group;  // ops.repeat(key, group, axis=2)
      for (Index t = 0; t < z.query_steps; ++t) {
        std::vector<double> row(static_cast<std::size_t>(z.key_steps));
        double top = -std::numeric_limits<double>::infinity();
        for (Index s = 0; s < z.key_steps; ++s) {
          double d = 0;
          for (Index i = 0; i < z.key_dim; ++i) {
            d += p.q[static_cast<std::size_t>(((b * z.query_steps + t) * z.query_heads + u) * z.key_dim + i)] *
                 p.k[static_cast<std::size_t>(((b * z.key_steps + s) * z.kv_heads + h) * z.key_dim + i)];
          }
          if (!allowed(p, b, u, t, s)) {
            if (p.fill == detail::MaskFill::replace_with_lowest) {
              d = -0.7 * std::numeric_limits<double>::max();
            } else {
              d = float32 ? static_cast<double>(static_cast<float>(d) + -1e9f) : d - 1e9;
            }
          }
          row[static_cast<std::size_t>(s)] = d;
          top = std::max(top, d);
        }
        double sum = 0;
        for (double& x : row) sum += (x = std::exp(x - top));
        for (Index s = 0; s < z.key_steps; ++s) {
          const double w = row[static_cast<std::size_t>(s)] / sum;
          scores[static_cast<std::size_t>(((b * z.query_heads + u) * z.query_steps + t) * z.key_steps + s)] = w;
          for (Index j = 0; j < z.value_dim; ++j) {
            ctx[static_cast<std::size_t>(((b * z.query_steps + t) * z.query_heads + u) * z.value_dim + j)] +=
                w * p.v[static_cast<std::size_t>(((b * z.key_steps + s) * z.kv_heads + h) * z.value_dim + j)];
          }
        }
      }
    }
  }
}

// The core on p in T: the context, and the scores when want_scores.
template <class T>
std::vector<T> run(const Problem& p, std::vector<T>* scores, detail::AttentionWorkspace<T>& work) {
  const auto& z = p.z;
  const std::vector<T> q = as<T>(p.q), k = as<T>(p.k), v = as<T>(p.v), am = as<T>(p.am);
  std::vector<T> ctx(static_cast<std::size_t>(z.batch * z.query_steps * z.query_heads * z.value_dim), T(-7));
  if (scores != nullptr)
    scores->assign(static_cast<std::size_t>(z.batch * z.query_heads * z.query_steps * z.key_steps), T(-7));
  detail::AttentionMaskSpec<T> m;
  m.query_mask = p.qm;
  m.value_mask = p.vm;
  m.key_mask = p.km;
  if (!am.empty()) {
    m.attention_mask = am.data();
    std::copy(p.am_shape, p.am_shape + 4, m.attention_mask_shape);
  }
  m.causal = p.causal;
  m.causal_offset = p.causal_offset;
  m.fill = p.fill;
  const Index hq = z.query_heads * z.key_dim, hk = z.kv_heads * z.key_dim, hv = z.kv_heads * z.value_dim,
              ho = z.query_heads * z.value_dim;
  detail::attention(z, detail::HeadLayout<T>{q.data(), z.query_steps * hq, hq, z.key_dim},
                    detail::HeadLayout<T>{k.data(), z.key_steps * hk, hk, z.key_dim},
                    detail::HeadLayout<T>{v.data(), z.key_steps * hv, hv, z.value_dim}, m,
                    detail::OutputLayout<T>{ctx.data(), z.query_steps * ho, ho, z.value_dim},
                    scores != nullptr ? scores->data() : nullptr, work);
  return ctx;
}

template <class T>
double worst(const std::vector<T>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double d = 0;
  for (std::size_t i = 0; i < got.size(); ++i) d = std::max(d, std::abs(static_cast<double>(got[i]) - want[i]));
  return d;
}

template <class T>
double tol() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

template <class T>
void check(const Problem& p) {
  std::vector<double> want_ctx, want_scores;
  naive(p, want_ctx, want_scores, std::is_same_v<T, float>);
  detail::AttentionWorkspace<T> work;
  std::vector<T> scores;
  const std::vector<T> ctx = run<T>(p, &scores, work);
  CHECK(worst(ctx, want_ctx) <= tol<T>());
  CHECK(worst(scores, want_scores) <= tol<T>());
  // Without scores (one score block per head) the context is bitwise the same.
  const std::vector<T> alone = run<T>(p, nullptr, work);
  CHECK(std::memcmp(alone.data(), ctx.data(), ctx.size() * sizeof(T)) == 0);
}

}  // namespace

TEMPLATE_TEST_CASE("attention core: heads, groups and sizes against a naive double implementation",
                   "[attention][attention-core]", float, double) {
  using T = TestType;
  // (batch, query heads, kv heads, T, S, key_dim, value_dim): groups of 1, 2 and 4, multi-query,
  // one key step, one query step, sizes around the kernels' tiles and panels.
  const Index cases[][7] = {{2, 2, 2, 5, 5, 3, 3},    {2, 4, 2, 4, 6, 4, 5},  {1, 8, 2, 7, 9, 8, 8},
                            {3, 4, 1, 3, 2, 2, 16},   {1, 2, 1, 1, 1, 16, 1}, {2, 1, 1, 13, 17, 1, 2},
                            {1, 4, 4, 20, 33, 12, 7}, {2, 6, 3, 6, 1, 5, 3}};
  for (const auto& c : cases) {
    INFO("B " << c[0] << " Nq " << c[1] << " Nkv " << c[2] << " T " << c[3] << " S " << c[4] << " H " << c[5] << " Hv "
              << c[6]);
    check<T>(make(c[0], c[1], c[2], c[3], c[4], c[5], c[6], static_cast<double>(c[3])));
  }
}

TEMPLATE_TEST_CASE("attention core: query, value and key masks, causal, attention_mask broadcasts, both fills",
                   "[attention][attention-core]", float, double) {
  using T = TestType;
  const Index B = 2, N = 4, G = 2, Tq = 5, S = 6;
  Mask qm(B, Tq), vm(B, S), km(B, S);
  qm.setConstant(true);
  vm.setConstant(true);
  km.setConstant(true);
  qm(1, 2) = false;  // a query row masked everywhere
  vm(0, 1) = false;
  vm(1, 4) = false;
  km(0, 5) = false;
  for (auto fill : {detail::MaskFill::add_large_negative, detail::MaskFill::replace_with_lowest}) {
    for (int variant = 0; variant < 7; ++variant) {
      INFO("fill " << static_cast<int>(fill) << " variant " << variant);
      Problem p = make(B, N, G, Tq, S, 4, 3, 0.5 + variant);
      p.fill = fill;
      if (variant == 0) p.qm = &qm;
      if (variant == 1) p.vm = &vm, p.km = &km;
      if (variant == 2) p.causal = true;
      if (variant == 3) p.causal = true, p.causal_offset = 2;  // a decoding chunk after 2 cached steps
      if (variant >= 4) {
        // (B, N, T, S), (1, 1, T, S), (B, 1, 1, S) broadcasts; 0 = masked
        const Index shapes[3][4] = {{B, N, Tq, S}, {1, 1, Tq, S}, {B, 1, 1, S}};
        const Index* a = shapes[variant - 4];
        std::copy(a, a + 4, p.am_shape);
        const Index n = a[0] * a[1] * a[2] * a[3];
        p.am.resize(static_cast<std::size_t>(n));
        for (Index i = 0; i < n; ++i) p.am[static_cast<std::size_t>(i)] = (i % 5 == 2) ? 0.0 : 1.0;
        p.qm = &qm;
        p.vm = &vm;
        p.causal = variant == 6;
      }
      check<T>(p);
    }
  }
}

TEMPLATE_TEST_CASE("attention core: a row masked everywhere is uniform with replace, keeps the scores with add",
                   "[attention][attention-core]", float, double) {
  using T = TestType;
  Mask qm(1, 2);
  qm(0, 0) = true;
  qm(0, 1) = false;
  Problem p = make(1, 1, 1, 2, 4, 2, 2, 0.1);
  p.qm = &qm;
  p.fill = detail::MaskFill::replace_with_lowest;
  detail::AttentionWorkspace<T> work;
  std::vector<T> scores;
  (void)run<T>(p, &scores, work);
  for (Index s = 0; s < 4; ++s) CHECK(scores[static_cast<std::size_t>(4 + s)] == T(0.25));
  p.fill = detail::MaskFill::add_large_negative;
  (void)run<T>(p, &scores, work);
  if (std::is_same_v<T, double>) {
    CHECK(std::abs(static_cast<double>(scores[4]) - 0.25) > 1e-3);  // float64 keeps score - 1e9 apart
  } else {
    CHECK(scores[4] == T(0.25));  // float32 rounds every score - 1e9 to -1e9
  }
}

TEMPLATE_TEST_CASE("attention core: a sample's result is bitwise the same alone and in any batch",
                   "[attention][attention-core]", float, double) {
  using T = TestType;
  const Index B = 5, N = 4, G = 2, Tq = 7, S = 9, H = 8, Hv = 6;
  Problem all = make(B, N, G, Tq, S, H, Hv, 2.0);
  Mask vm(B, S);
  vm.setConstant(true);
  vm(3, 2) = false;
  all.vm = &vm;
  all.causal = true;
  detail::AttentionWorkspace<T> work;
  std::vector<T> all_scores;
  const std::vector<T> ctx = run<T>(all, &all_scores, work);
  const Index per_ctx = Tq * N * Hv, per_scores = N * Tq * S;
  for (Index b = 0; b < B; ++b) {
    INFO("sample " << b);
    Problem one = all;
    one.z.batch = 1;
    const auto slice = [&](const std::vector<double>& v, Index n) {
      return std::vector<double>(v.begin() + b * n, v.begin() + (b + 1) * n);
    };
    one.q = slice(all.q, Tq * N * H);
    one.k = slice(all.k, S * G * H);
    one.v = slice(all.v, S * G * Hv);
    Mask m1(1, S);
    for (Index s = 0; s < S; ++s) m1(0, s) = vm(b, s);
    one.vm = &m1;
    detail::AttentionWorkspace<T> fresh;
    std::vector<T> scores;
    const std::vector<T> got = run<T>(one, &scores, fresh);
    CHECK(std::memcmp(got.data(), ctx.data() + b * per_ctx, static_cast<std::size_t>(per_ctx) * sizeof(T)) == 0);
    CHECK(std::memcmp(scores.data(), all_scores.data() + b * per_scores,
                      static_cast<std::size_t>(per_scores) * sizeof(T)) == 0);
  }
}

TEMPLATE_TEST_CASE("attention core: a query row's result does not depend on the masked key steps after it",
                   "[attention][attention-core]", float, double) {
  // What decoding with a key/value cache relies on: the causal row t over S = T key steps equals
  // the same query over only the first t + 1 key steps, bitwise.
  using T = TestType;
  const Index N = 2, Tq = 11, H = 5, Hv = 3;
  Problem full = make(1, N, N, Tq, Tq, H, Hv, 4.0);
  full.causal = true;
  detail::AttentionWorkspace<T> work;
  const std::vector<T> ctx = run<T>(full, nullptr, work);
  for (Index t = 0; t < Tq; ++t) {
    INFO("row " << t);
    Problem row = make(1, N, N, 1, t + 1, H, Hv, 4.0);
    row.q.assign(full.q.begin() + t * N * H, full.q.begin() + (t + 1) * N * H);
    row.k.assign(full.k.begin(), full.k.begin() + (t + 1) * N * H);
    row.v.assign(full.v.begin(), full.v.begin() + (t + 1) * N * Hv);
    const std::vector<T> got = run<T>(row, nullptr, work);
    CHECK(std::memcmp(got.data(), ctx.data() + t * N * Hv, static_cast<std::size_t>(N * Hv) * sizeof(T)) == 0);
  }
}
