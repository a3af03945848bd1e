// SPDX-License-Identifier: MIT
// GroupedQueryAttention against a naive double transcription of Keras 3's
// grouped_query_attention.py written here (projections, key/value heads repeated over the query-head
// groups, the masks of _compute_attention_mask, Softmax's -1e9 or dot_product_attention's
// replacement), its weights, Keras description, graph calls, batch invariance and errors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::AttentionMasks;
using strata::GraphCall;
using strata::GraphInput;
using strata::GroupedQueryAttention;
using strata::GroupedQueryAttentionOptions;
using strata::Index;
using strata::Mask;
using strata::Shape;
using strata::TensorView;
using test::has;
using test::thrown_message;

template <class T>
AnyTensor<T> wave(const Shape& s, double seed) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(s);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(std::sin(seed + 0.61 * static_cast<double>(i)));
  return t;
}

template <class T>
double at(const AnyTensor<T>& t, Index i) {
  return static_cast<double>(t.data()[i]);
}

// Keras 3's GroupedQueryAttention.call in double: weights w as get_weights() (with biases).
// replace: the dot_product_attention path (masked scores replaced), else Softmax's -1e9, rounded
// as float32 does when float32.
template <class T, class Allowed>
std::vector<double> naive_gqa(const std::vector<AnyTensor<T>>& w, const AnyTensor<T>& q, const AnyTensor<T>& v,
                              const AnyTensor<T>& k, Index nq, Index nkv, Index hd, Allowed allowed, bool replace,
                              std::vector<double>* scores) {
  const Index B = q.shape()[0], Tq = q.shape()[1], S = v.shape()[1], F = q.shape()[2], Fk = k.shape()[2];
  const auto proj = [&](const AnyTensor<T>& x, Index steps, Index fin, const AnyTensor<T>& kern,
                        const AnyTensor<T>& bias, Index heads) {
    std::vector<double> p(static_cast<std::size_t>(B * steps * heads * hd));
    for (Index r = 0; r < B * steps; ++r)
      for (Index o = 0; o < heads * hd; ++o) {
        double s = at(bias, o);
        for (Index i = 0; i < fin; ++i) s += at(x, r * fin + i) * at(kern, i * heads * hd + o);
        p[static_cast<std::size_t>(r * heads * hd + o)] = s;
      }
    return p;
  };
  const auto qp = proj(q, Tq, F, w[0], w[1], nq), kp = proj(k, S, Fk, w[2], w[3], nkv),
             vp = proj(v, S, F, w[4], w[5], nkv);
  const Index rep = nq / nkv;
  std::vector<double> ctx(static_cast<std::size_t>(B * Tq * nq * hd), 0.0);
  if (scores) scores->assign(static_cast<std::size_t>(B * nq * Tq * S), 0.0);
  for (Index b = 0; b < B; ++b)
    for (Index u = 0; u < nq; ++u)
      for (Index t = 0; t < Tq; ++t) {
        const Index h = u / rep;  // ops.repeat(key, rep, axis=2)
        std::vector<double> row(static_cast<std::size_t>(S));
        for (Index s = 0; s < S; ++s) {
          double d = 0;
          for (Index i = 0; i < hd; ++i) {
            d += qp[static_cast<std::size_t>(((b * Tq + t) * nq + u) * hd + i)] / std::sqrt(static_cast<double>(hd)) *
                 kp[static_cast<std::size_t>(((b * S + s) * nkv + h) * hd + i)];
          }
          if (!allowed(b, t, s)) {
            if (replace) {
              d = -0.7 * std::numeric_limits<double>::max();
            } else {
              d = std::is_same_v<T, float> ? static_cast<double>(static_cast<float>(d) - 1e9f) : d - 1e9;
            }
          }
          row[static_cast<std::size_t>(s)] = d;
        }
        const double mx = *std::max_element(row.begin(), row.end());
        double sum = 0;
        for (double& r : row) sum += (r = std::exp(r - mx));
        for (Index s = 0; s < S; ++s) {
          const double p = row[static_cast<std::size_t>(s)] / sum;
          if (scores) (*scores)[static_cast<std::size_t>(((b * nq + u) * Tq + t) * S + s)] = p;
          for (Index i = 0; i < hd; ++i) {
            ctx[static_cast<std::size_t>(((b * Tq + t) * nq + u) * hd + i)] +=
                p * vp[static_cast<std::size_t>(((b * S + s) * nkv + h) * hd + i)];
          }
        }
      }
  std::vector<double> y(static_cast<std::size_t>(B * Tq * F));
  for (Index r = 0; r < B * Tq; ++r)
    for (Index o = 0; o < F; ++o) {
      double s = at(w[7], o);
      for (Index i = 0; i < nq * hd; ++i) s += ctx[static_cast<std::size_t>(r * nq * hd + i)] * at(w[6], i * F + o);
      y[static_cast<std::size_t>(r * F + o)] = s;
    }
  return y;
}

template <class T>
double max_diff(const AnyTensor<T>& got, const std::vector<double>& want) {
  REQUIRE(static_cast<std::size_t>(got.size()) == want.size());
  double e = 0;
  for (Index i = 0; i < got.size(); ++i) e = std::max(e, std::abs(at(got, i) - want[static_cast<std::size_t>(i)]));
  return e;
}

template <class T>
double tol() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

template <class T>
GroupedQueryAttention<T> gqa_with_weights(Index hd, Index nq, Index nkv, Index f, Index fk,
                                          std::vector<AnyTensor<T>>& w,
                                          const GroupedQueryAttentionOptions& o = GroupedQueryAttentionOptions()) {
  GroupedQueryAttention<T> g(hd, nq, nkv, o);
  w = {wave<T>(Shape{f, nq, hd}, 1.0), wave<T>(Shape{nq, hd}, 2.0),     wave<T>(Shape{fk, nkv, hd}, 3.0),
       wave<T>(Shape{nkv, hd}, 4.0),   wave<T>(Shape{f, nkv, hd}, 5.0), wave<T>(Shape{nkv, hd}, 6.0),
       wave<T>(Shape{nq, hd, f}, 7.0), wave<T>(Shape{f}, 8.0)};
  g.set_weights(w);
  return g;
}

}  // namespace

TEMPLATE_TEST_CASE("GroupedQueryAttention: Keras' computation for groups of 1, 2 and 4, weights and shapes",
                   "[attention][gqa]", float, double) {
  using T = TestType;
  const auto all = [](Index, Index, Index) { return true; };
  for (const auto& c : {std::vector<Index>{4, 4, 3}, std::vector<Index>{4, 2, 3}, std::vector<Index>{4, 1, 2},
                        std::vector<Index>{8, 2, 8}}) {
    const Index nq = c[0], nkv = c[1], hd = c[2];
    INFO("num_query_heads " << nq << " num_key_value_heads " << nkv << " head_dim " << hd);
    std::vector<AnyTensor<T>> w;
    const GroupedQueryAttention<T> g = gqa_with_weights<T>(hd, nq, nkv, 5, 3, w);
    const AnyTensor<T> q = wave<T>(Shape{2, 4, 5}, 0.1), v = wave<T>(Shape{2, 6, 5}, 0.2),
                       k = wave<T>(Shape{2, 6, 3}, 0.3);
    std::vector<double> scores;
    const auto want = naive_gqa<T>(w, q, v, k, nq, nkv, hd, all, false, &scores);
    const AnyTensor<T> y = g(q, v, k);
    CHECK(y.shape() == Shape{2, 4, 5});
    CHECK(max_diff(y, want) <= tol<T>());
    const auto r = g.call(q, v, k, AttentionMasks<T>());
    CHECK(r.scores.shape() == Shape{2, nq, 4, 6});
    CHECK(max_diff(r.scores, scores) <= tol<T>());
    const auto got = g.get_weights();
    REQUIRE(got.size() == 8);
    for (std::size_t i = 0; i < 8; ++i) {
      CHECK(got[i].shape() == w[i].shape());
      CHECK(std::equal(got[i].data(), got[i].data() + got[i].size(), w[i].data()));
    }
    CHECK(g.count_params() == 5 * nq * hd + nq * hd + 2 * (5 + 3) / 2 * nkv * hd + 2 * nkv * hd + nq * hd * 5 + 5);
  }
  // use_bias=False: four kernels; built layers run self-attention on typed tensors.
  GroupedQueryAttention<T> nb(2, 4, 2, GroupedQueryAttentionOptions().use_bias(false).seed(3));
  nb.build(6);
  CHECK(nb.get_weights().size() == 4);
  strata::Tensor<T, 3> x(2, 3, 6);
  x.setConstant(T(0.25));
  CHECK(nb(x, x).shape() == Shape{2, 3, 6});
}

TEMPLATE_TEST_CASE("GroupedQueryAttention: masks, causal, attention_mask and Keras' two masking paths",
                   "[attention][gqa]", float, double) {
  using T = TestType;
  std::vector<AnyTensor<T>> w;
  const GroupedQueryAttention<T> g = gqa_with_weights<T>(3, 4, 2, 4, 4, w);
  const AnyTensor<T> q = wave<T>(Shape{2, 5, 4}, 0.4), v = wave<T>(Shape{2, 5, 4}, 0.9);
  Mask qm(2, 5), vm(2, 5), km(2, 5);
  qm.setConstant(true);
  vm.setConstant(true);
  km.setConstant(true);
  qm(0, 4) = false;  // a query row masked everywhere: the two paths differ there (in double)
  vm(0, 1) = false;
  vm(1, 3) = false;
  km(1, 0) = false;
  AnyTensor<T> am = AnyTensor<T>::uninitialized(Shape{2, 5, 5});
  for (Index i = 0; i < am.size(); ++i) am.data()[i] = (i % 7 == 3) ? T(0) : T(1);
  AttentionMasks<T> masks;
  masks.query_mask = &qm;
  masks.value_mask = &vm;
  masks.key_mask = &km;
  masks.attention_mask = TensorView<T>(am);
  masks.use_causal_mask = true;
  const auto allowed = [&](Index b, Index t, Index s) {
    return qm(b, t) && vm(b, s) && km(b, s) && s <= t && am.data()[(b * 5 + t) * 5 + s] != T(0);
  };
  // return_attention_scores: Keras' Softmax path.
  std::vector<double> scores;
  const auto want_add = naive_gqa<T>(w, q, v, v, 4, 2, 3, allowed, false, &scores);
  const auto r = g.call(q, v, v, masks);
  CHECK(max_diff(r.output, want_add) <= tol<T>());
  CHECK(max_diff(r.scores, scores) <= tol<T>());
  // Without scores: a graph call takes Keras' dot_product_attention path.
  const auto want_replace = naive_gqa<T>(w, q, v, v, 4, 2, 3, allowed, true, nullptr);
  auto qmp = std::make_shared<Mask>(qm), vmp = std::make_shared<Mask>(vm), kmp = std::make_shared<Mask>(km);
  // From a Keras config: query and value positional, attention_mask and key keywords (the loader
  // gives a tensor keyword argument as {"input": its position among the inputs}), use_causal_mask a
  // call argument.
  strata::Registry<T> registry;
  registry.template add<GroupedQueryAttention<T>>();
  strata::Config config = strata::Config::dict();
  config.set("name", "gqa");
  config.set("head_dim", 3);
  config.set("num_query_heads", 4);
  config.set("num_key_value_heads", 2);
  config.set("flash_attention", nullptr);
  strata::LayerConfig<T> lc(registry, "GroupedQueryAttention", config, strata::KerasVersion{}, "test");
  strata::Config arguments = strata::Config::dict();
  arguments.set("use_causal_mask", true);
  for (const auto& [key, at] : {std::pair<const char*, int>{"attention_mask", 2}, {"key", 3}}) {
    strata::Config input = strata::Config::dict();
    input.set("input", at);
    arguments.set(key, input);
  }
  lc.set_call_arguments(arguments);
  strata::AnyLayer<T> any = registry.build(lc);
  any.set_weights(w);
  GraphCall<T> c2;
  c2.inputs.push_back(GraphInput<T>{TensorView<T>(q), qmp, nullptr});
  c2.inputs.push_back(GraphInput<T>{TensorView<T>(v), vmp, nullptr});
  c2.inputs.push_back(GraphInput<T>{TensorView<T>(am), nullptr, nullptr});
  c2.inputs.push_back(GraphInput<T>{TensorView<T>(v), kmp, nullptr});
  const auto groups = any.weight_groups({q.shape(), v.shape(), am.shape(), v.shape()});
  REQUIRE(groups.size() == 4);
  CHECK(groups[0].path == "_query_dense");
  CHECK(groups[1].weights[0].shape == Shape{4, 2, 3});
  CHECK(groups[3].path == "_output_dense");
  CHECK(groups[3].weights[0].shape == Shape{4, 3, 4});
  any.call_graph(c2);
  REQUIRE(c2.outputs.size() == 1);
  CHECK(c2.masks[0] == qmp);
  CHECK(max_diff(c2.outputs[0], want_replace) <= tol<T>());
  // The paths agree except on rows masked everywhere (sample 0 step 4 by the query mask, and two
  // early causal rows whose few key steps are masked), where float64's Softmax path keeps the
  // scores apart and the replacement is uniform.
  double off_row = 0, on_row = 0;
  int masked_rows = 0;
  for (Index r = 0; r < 2 * 5; ++r) {
    bool any_kept = false;
    for (Index s = 0; s < 5; ++s) any_kept = any_kept || allowed(r / 5, r % 5, s);
    masked_rows += any_kept ? 0 : 1;
    for (Index o = 0; o < 4; ++o) {
      const auto i = static_cast<std::size_t>(r * 4 + o);
      double& worst = any_kept ? off_row : on_row;
      worst = std::max(worst, std::abs(want_add[i] - want_replace[i]));
    }
  }
  CHECK(masked_rows == 3);
  CHECK(off_row <= 1e-12);
  if (std::is_same_v<T, double>) CHECK(on_row > 1e-6);
}

TEMPLATE_TEST_CASE("GroupedQueryAttention: with as many key/value heads as query heads it is MultiHeadAttention",
                   "[attention][gqa]", float, double) {
  using T = TestType;
  std::vector<AnyTensor<T>> w;
  const GroupedQueryAttention<T> g = gqa_with_weights<T>(3, 2, 2, 4, 4, w);
  strata::MultiHeadAttention<T> m(2, 3);
  m.set_weights(w);
  const AnyTensor<T> x = wave<T>(Shape{3, 6, 4}, 1.5);
  const AnyTensor<T> a = g(x, x), b = m(x, x);
  CHECK(std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(T)) == 0);
}

TEMPLATE_TEST_CASE("GroupedQueryAttention: a sample's output is bitwise the same alone and in a batch",
                   "[attention][gqa]", float, double) {
  using T = TestType;
  std::vector<AnyTensor<T>> w;
  const GroupedQueryAttention<T> g = gqa_with_weights<T>(4, 8, 2, 6, 6, w, GroupedQueryAttentionOptions());
  const Index B = 4, Tq = 7, F = 6;
  const AnyTensor<T> x = wave<T>(Shape{B, Tq, F}, 0.3);
  AttentionMasks<T> causal;
  causal.use_causal_mask = true;
  const auto all = g.call(x, x, TensorView<T>(), causal);
  for (Index b = 0; b < B; ++b) {
    INFO("sample " << b);
    const AnyTensor<T> one =
        AnyTensor<T>::from_values(Shape{1, Tq, F}, std::vector<T>(x.data() + b * Tq * F, x.data() + (b + 1) * Tq * F));
    const auto r = g.call(one, one, TensorView<T>(), causal);
    CHECK(std::memcmp(r.output.data(), all.output.data() + b * Tq * F, static_cast<std::size_t>(Tq * F) * sizeof(T)) ==
          0);
    CHECK(std::memcmp(r.scores.data(), all.scores.data() + b * 8 * Tq * Tq,
                      static_cast<std::size_t>(8 * Tq * Tq) * sizeof(T)) == 0);
  }
}

TEST_CASE("GroupedQueryAttention: errors name the layer, what was expected and what was given", "[attention][gqa]") {
  using strata::shape_error;
  using strata::value_error;
  const auto div = thrown_message<value_error>([] { GroupedQueryAttention<float>(2, 6, 4); });
  CHECK(has(div, "num_query_heads (6) must be divisible by num_key_value_heads (4)"));
  CHECK(has(thrown_message<value_error>([] { GroupedQueryAttention<float>(0, 2, 1); }), "head_dim"));
  GroupedQueryAttention<float> g(2, 4, 2, GroupedQueryAttentionOptions().name("gqa").seed(1));
  CHECK(has(thrown_message<value_error>([&] { (void)g.get_weights(); }), "GroupedQueryAttention 'gqa'"));
  g.build(4, 4, 3);
  const AnyTensor<float> q = wave<float>(Shape{2, 3, 4}, 0), v = wave<float>(Shape{2, 5, 4}, 0),
                         k = wave<float>(Shape{2, 5, 3}, 0);
  CHECK(g(q, v, k).shape() == Shape{2, 3, 4});
  const auto feat = thrown_message<shape_error>([&] { (void)g(q, wave<float>(Shape{2, 5, 6}, 0), k); });
  CHECK(has(feat, "GroupedQueryAttention 'gqa'"));
  CHECK(has(feat, "last dimension of query and value must be equal"));
  CHECK(has(feat, "(2, 5, 6)"));
  CHECK(has(thrown_message<shape_error>([&] {
              (void)g(wave<float>(Shape{2, 4}, 0), v, k);
            }),
            "(batch, steps, features)"));
  CHECK(has(thrown_message<shape_error>([&] { (void)g(q, v, wave<float>(Shape{2, 4, 3}, 0)); }), "same steps"));
  AttentionMasks<float> am;
  const AnyTensor<float> wrong = wave<float>(Shape{2, 3, 4}, 0);
  am.attention_mask = TensorView<float>(wrong);
  const auto amsg = thrown_message<shape_error>([&] { (void)g.call(q, v, k, am); });
  CHECK(has(amsg, "attention_mask"));
  CHECK(has(amsg, "(2, 3, 4)"));
  auto w = g.get_weights();
  w[2] = wave<float>(Shape{3, 4, 2}, 0);
  CHECK(has(thrown_message<shape_error>([&] { g.set_weights(w); }), "(features, 2, 2)"));
  CHECK(has(thrown_message<shape_error>([&] { g.set_weights({}); }), "expects 8"));
}
