// SPDX-License-Identifier: MIT
// EinsumDense and MultiHeadAttention against naive references written here (an einsum by nested
// loops; attention as Keras' multi_head_attention.py computes it, with the masks of
// _compute_attention_mask), their shapes, weights, graph calls (masks, several inputs, the scores
// output), Keras descriptions and errors, in float and double.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::AttentionMasks;
using strata::EinsumDense;
using strata::EinsumDenseOptions;
using strata::GraphCall;
using strata::GraphInput;
using strata::Index;
using strata::Mask;
using strata::MultiHeadAttention;
using strata::MultiHeadAttentionOptions;
using strata::Shape;
using strata::Tensor;
using strata::TensorView;
using test::has;
using test::thrown_message;

template <class T>
AnyTensor<T> filled(const Shape& s, double seed) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(s);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(std::sin(seed + 0.7 * static_cast<double>(i)));
  return t;
}

// A naive einsum of "x,w->z" (letters only) by looping over every label assignment.
template <class T>
std::vector<double> naive_einsum(const std::string& xs, const std::string& ws, const std::string& zs,
                                 const AnyTensor<T>& x, const AnyTensor<T>& w, Shape& out) {
  std::map<char, Index> size;
  for (std::size_t i = 0; i < xs.size(); ++i) size[xs[i]] = x.shape()[static_cast<int>(i)];
  for (std::size_t i = 0; i < ws.size(); ++i) size[ws[i]] = w.shape()[static_cast<int>(i)];
  std::string labels;
  for (const auto& [c, n] : size) labels += c;
  out = Shape{};
  for (char c : zs) out.push_back(size[c]);
  std::vector<double> z(static_cast<std::size_t>(out.size()), 0.0);
  std::map<char, Index> at;
  Index total = 1;
  for (char c : labels) total *= size[c];
  const auto offset = [&](const std::string& spec, const Shape& s) {
    Index o = 0;
    for (std::size_t i = 0; i < spec.size(); ++i) o = o * s[static_cast<int>(i)] + at[spec[i]];
    return o;
  };
  for (Index flat = 0; flat < total; ++flat) {
    Index rem = flat;
    for (std::size_t n = labels.size(); n-- > 0;) {
      at[labels[n]] = rem % size[labels[n]];
      rem /= size[labels[n]];
    }
    z[static_cast<std::size_t>(offset(zs, out))] +=
        static_cast<double>(x.data()[offset(xs, x.shape())]) * static_cast<double>(w.data()[offset(ws, w.shape())]);
  }
  return z;
}

template <class T>
double tol() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

// Keras' MultiHeadAttention on rank-3 inputs, naive: projections, scores with -1e9 added at masked
// positions, softmax over S, context, output projection. allowed(b, t, s) is the combined mask.
template <class T, class Allowed>
std::vector<double> naive_mha(const std::vector<AnyTensor<T>>& w, const AnyTensor<T>& q, const AnyTensor<T>& v,
                              const AnyTensor<T>& k, Index heads, Index kd, Index vd, Allowed allowed,
                              std::vector<double>* scores = nullptr) {
  const Index B = q.shape()[0], T_ = q.shape()[1], S = v.shape()[1], fq = q.shape()[2], fv = v.shape()[2],
              fk = k.shape()[2], out = w[6].shape()[2];
  const auto proj = [&](const AnyTensor<T>& x, Index f, Index steps, const AnyTensor<T>& kern, const AnyTensor<T>& bias,
                        Index d) {
    std::vector<double> p(static_cast<std::size_t>(B * steps * heads * d));
    for (Index b = 0; b < B; ++b)
      for (Index t = 0; t < steps; ++t)
        for (Index n = 0; n < heads; ++n)
          for (Index h = 0; h < d; ++h) {
            double s = static_cast<double>(bias.data()[n * d + h]);
            for (Index c = 0; c < f; ++c) {
              s += static_cast<double>(x.data()[(b * steps + t) * f + c]) *
                   static_cast<double>(kern.data()[(c * heads + n) * d + h]);
            }
            p[static_cast<std::size_t>(((b * steps + t) * heads + n) * d + h)] = s;
          }
    return p;
  };
  const auto qp = proj(q, fq, T_, w[0], w[1], kd), kp = proj(k, fk, S, w[2], w[3], kd),
             vp = proj(v, fv, S, w[4], w[5], vd);
  std::vector<double> ctx(static_cast<std::size_t>(B * T_ * heads * vd), 0.0);
  if (scores) scores->assign(static_cast<std::size_t>(B * heads * T_ * S), 0.0);
  for (Index b = 0; b < B; ++b)
    for (Index n = 0; n < heads; ++n)
      for (Index t = 0; t < T_; ++t) {
        std::vector<double> row(static_cast<std::size_t>(S));
        for (Index s = 0; s < S; ++s) {
          double d = 0;
          for (Index h = 0; h < kd; ++h) {
            d += qp[static_cast<std::size_t>(((b * T_ + t) * heads + n) * kd + h)] /
                 std::sqrt(static_cast<double>(kd)) * kp[static_cast<std::size_t>(((b * S + s) * heads + n) * kd + h)];
          }
          row[static_cast<std::size_t>(s)] = d + (allowed(b, t, s) ? 0.0 : -1e9);
        }
        // A row masked everywhere: in float, score - 1e9 rounds to -1e9 whatever the score (Keras
        // in float32 too), so the row is uniform; in double the scores' differences survive.
        bool any = false;
        for (Index s = 0; s < S; ++s) any = any || allowed(b, t, s);
        if (!any && std::is_same_v<T, float>) std::fill(row.begin(), row.end(), 0.0);
        const double mx = *std::max_element(row.begin(), row.end());
        double sum = 0;
        for (double& r : row) sum += (r = std::exp(r - mx));
        for (Index s = 0; s < S; ++s) {
          const double p = row[static_cast<std::size_t>(s)] / sum;
          if (scores) (*scores)[static_cast<std::size_t>(((b * heads + n) * T_ + t) * S + s)] = p;
          for (Index h = 0; h < vd; ++h) {
            ctx[static_cast<std::size_t>(((b * T_ + t) * heads + n) * vd + h)] +=
                p * vp[static_cast<std::size_t>(((b * S + s) * heads + n) * vd + h)];
          }
        }
      }
  std::vector<double> y(static_cast<std::size_t>(B * T_ * out));
  for (Index r = 0; r < B * T_; ++r)
    for (Index o = 0; o < out; ++o) {
      double s = static_cast<double>(w[7].data()[o]);
      for (Index i = 0; i < heads * vd; ++i) {
        s += ctx[static_cast<std::size_t>(r * heads * vd + i)] * static_cast<double>(w[6].data()[i * out + o]);
      }
      y[static_cast<std::size_t>(r * out + o)] = s;
    }
  return y;
}

template <class T>
double max_diff(const AnyTensor<T>& got, const std::vector<double>& want) {
  REQUIRE(static_cast<std::size_t>(got.size()) == want.size());
  double e = 0;
  for (Index i = 0; i < got.size(); ++i) {
    e = std::max(e, std::abs(static_cast<double>(got.data()[i]) - want[static_cast<std::size_t>(i)]));
  }
  return e;
}

template <class T>
MultiHeadAttention<T> mha_with_weights(Index heads, Index kd, Index vd, Index fq, Index fv, Index fk,
                                       std::vector<AnyTensor<T>>& w, const MultiHeadAttentionOptions& o = {}) {
  MultiHeadAttention<T> m(heads, kd, MultiHeadAttentionOptions(o).value_dim(vd));
  w = {filled<T>(Shape{fq, heads, kd}, 1.0), filled<T>(Shape{heads, kd}, 2.0),
       filled<T>(Shape{fk, heads, kd}, 3.0), filled<T>(Shape{heads, kd}, 4.0),
       filled<T>(Shape{fv, heads, vd}, 5.0), filled<T>(Shape{heads, vd}, 6.0),
       filled<T>(Shape{heads, vd, fq}, 7.0), filled<T>(Shape{fq}, 8.0)};
  m.set_weights(w);
  return m;
}

}  // namespace

TEMPLATE_TEST_CASE("EinsumDense: any equation of Keras' grammar against a naive einsum", "[attention]", float, double) {
  using T = TestType;
  struct Case {
    const char *eq, *x, *w, *z;
    Shape in;
    std::vector<Index> out;
  };
  const std::vector<Case> cases = {
      {"abc,cde->abde", "abc", "cde", "abde", Shape{2, 3, 4}, {-1, 2, 3}},
      {"abcd,cde->abe", "abcd", "cde", "abe", Shape{2, 3, 2, 5}, {-1, 4}},
      {"abc,cd->adb", "abc", "cd", "adb", Shape{2, 3, 4}, {5, 3}},
      {"abcd,bde->aec", "abcd", "bde", "aec", Shape{2, 3, 4, 5}, {6, 4}},
      {"abc,bcd->ad", "abc", "bcd", "ad", Shape{2, 3, 4}, {5}},
      {"abc,bd->adb", "abc", "bd", "adb", Shape{2, 3, 4}, {5, 3}},
  };
  for (const Case& c : cases) {
    INFO(c.eq);
    EinsumDense<T> layer(c.eq, c.out);
    layer.build(c.in);
    const AnyTensor<T> x = filled<T>(c.in, 0.3);
    const AnyTensor<T> k = filled<T>(layer.kernel_shape(c.in), 1.1);
    layer.set_weights({k});
    Shape want_shape;
    const std::vector<double> want = naive_einsum(c.x, c.w, c.z, x, k, want_shape);
    const AnyTensor<T> y = layer(x);
    CHECK(y.shape() == want_shape);
    CHECK(layer.compute_output_shape(c.in) == want_shape);
    CHECK(max_diff(y, want) <= tol<T>() * 10);
  }
}

TEMPLATE_TEST_CASE("EinsumDense: bias shapes, ellipses, activation and weights as Keras", "[attention]", float,
                   double) {
  using T = TestType;
  // Keras' docstring: EinsumDense("abc,cd->abd", (None, 64), bias_axes="d") on (None, 32, 128).
  EinsumDense<T> seq("abc,cd->abd", {-1, 64}, EinsumDenseOptions().bias_axes("d"));
  CHECK(seq.kernel_shape(Shape{1, 32, 128}) == Shape{128, 64});
  CHECK(seq.bias_shape(Shape{1, 32, 128}) == Shape{64});
  // A bias over a middle label keeps 1s on the unbiased later labels; a right ellipsis adds 1s.
  EinsumDense<T> mid("abc,cd->abd", {-1, 5}, EinsumDenseOptions().bias_axes("b"));
  CHECK(mid.bias_shape(Shape{2, 3, 4}) == Shape{3, 1});
  EinsumDense<T> right("abc...,cd->abd...", {3, 5}, EinsumDenseOptions().bias_axes("bd"));
  CHECK(right.bias_shape(Shape{2, 3, 4, 2, 2}) == Shape{3, 5, 1, 1});
  // Right and left ellipses against the same product as a plain Dense.
  const AnyTensor<T> x = filled<T>(Shape{2, 3, 4, 2}, 0.5);
  EinsumDense<T> left("...b,bc->...c", {5}, EinsumDenseOptions().bias_axes("c").activation("tanh"));
  left.build(Shape{2, 3, 4, 2});
  const auto w = left.get_weights();
  REQUIRE(w.size() == 2);
  CHECK(w[0].shape() == Shape{2, 5});
  CHECK(w[1].shape() == Shape{5});
  strata::Dense<T> dense(5, strata::DenseOptions().activation("tanh"));
  dense.set_weights({AnyTensor<T>(w[0]), filled<T>(Shape{5}, 9.0)});
  left.set_weights({AnyTensor<T>(w[0]), filled<T>(Shape{5}, 9.0)});
  const AnyTensor<T> a = left(x), b = dense(TensorView<T>(x));
  REQUIRE(a.shape() == b.shape());
  for (Index i = 0; i < a.size(); ++i) CHECK(std::abs(a.data()[i] - b.data()[i]) <= tol<T>());
  // The right ellipsis: y[a, b, d, e] = sum_c x[a, b, c, e] k[c, d] + bias[b, d].
  right.build(Shape{2, 3, 4, 2});
  const AnyTensor<T> kr = filled<T>(Shape{4, 5}, 2.0), br = filled<T>(Shape{3, 5, 1}, 3.0);
  right.set_weights({kr, br});
  const AnyTensor<T> yr = right(x);
  REQUIRE(yr.shape() == Shape{2, 3, 5, 2});
  double err = 0;
  for (Index i = 0; i < 2; ++i)
    for (Index j = 0; j < 3; ++j)
      for (Index d = 0; d < 5; ++d)
        for (Index e = 0; e < 2; ++e) {
          double s = static_cast<double>(br.data()[j * 5 + d]);
          for (Index c = 0; c < 4; ++c) {
            s += static_cast<double>(x.data()[((i * 3 + j) * 4 + c) * 2 + e]) *
                 static_cast<double>(kr.data()[c * 5 + d]);
          }
          err = std::max(err, std::abs(s - static_cast<double>(yr.data()[((i * 3 + j) * 5 + d) * 2 + e])));
        }
  CHECK(err <= tol<T>() * 10);
  CHECK(right.count_params() == 20 + 15);
  // build() draws glorot_uniform with Keras' fans: kernel (4, 2, 3) has fan_in 2 * 4, fan_out 3 * 4.
  EinsumDense<T> proj("abc,cde->abde", {-1, 2, 3}, EinsumDenseOptions().bias_axes("de").seed(7));
  proj.build(Shape{1, 5, 4});
  const auto pw = proj.get_weights();
  const double limit = std::sqrt(6.0 / (8 + 12));
  double largest = 0;
  for (Index i = 0; i < pw[0].size(); ++i) largest = std::max(largest, std::abs(static_cast<double>(pw[0].data()[i])));
  CHECK(largest <= limit);
  CHECK(largest > 0.5 * limit);
  CHECK(pw[1].shape() == Shape{2, 3});
  for (Index i = 0; i < pw[1].size(); ++i) CHECK(pw[1].data()[i] == T(0));
}

TEST_CASE("EinsumDense: errors name the layer, what was expected and what was given", "[attention]") {
  using strata::shape_error;
  using strata::value_error;
  const auto bad_eq =
      thrown_message<value_error>([] { EinsumDense<float>("ab,bc", {4}, EinsumDenseOptions().name("ed")); });
  CHECK(has(bad_eq, "EinsumDense 'ed'"));
  CHECK(has(bad_eq, "[X],[Y]->[Z]"));
  CHECK(has(thrown_message<value_error>([] { EinsumDense<float>("ab,bc->ac", {4, 5}); }), "1 entries"));
  CHECK(has(
      thrown_message<value_error>([] { EinsumDense<float>("ab,bc->ac", {4}, EinsumDenseOptions().bias_axes("x")); }),
      "bias dimension 'x'"));
  CHECK(has(thrown_message<value_error>([] { EinsumDense<float>("ab,bcz->ac", {4}); }), "weight dimension 'z'"));
  CHECK_THROWS_AS(EinsumDense<float>("aab,bc->ac", {4}), strata::unsupported_error);
  EinsumDense<float> l("abc,cd->abd", {-1, 4}, EinsumDenseOptions().name("proj"));
  l.build(Shape{2, 3, 5});
  const auto wrong_rank = thrown_message<shape_error>([&] { (void)l.compute_output_shape(Shape{2, 5}); });
  CHECK(has(wrong_rank, "EinsumDense 'proj'"));
  CHECK(has(wrong_rank, "rank 3"));
  CHECK(has(wrong_rank, "(2, 5)"));
  const auto wrong_size = thrown_message<shape_error>([&] { (void)l.compute_output_shape(Shape{2, 3, 6}); });
  CHECK(has(wrong_size, "expects 5"));
  CHECK(has(wrong_size, "(2, 3, 6)"));
  const auto wrong_kernel = thrown_message<shape_error>([&] { l.set_weights({AnyTensor<float>::zeros(Shape{5, 3})}); });
  CHECK(has(wrong_kernel, "(5, 3)"));
  EinsumDense<float> fixed("abc,cd->abd", {7, 4});
  fixed.build(Shape{1, 7, 5});
  CHECK(has(thrown_message<shape_error>([&] { (void)fixed.compute_output_shape(Shape{1, 6, 5}); }), "expects 7"));
}

TEMPLATE_TEST_CASE("MultiHeadAttention: Keras' computation, shapes and weights", "[attention]", float, double) {
  using T = TestType;
  std::vector<AnyTensor<T>> w;
  const MultiHeadAttention<T> m = mha_with_weights<T>(3, 2, 4, 5, 3, 6, w);
  const AnyTensor<T> q = filled<T>(Shape{2, 4, 5}, 0.1), v = filled<T>(Shape{2, 6, 3}, 0.2),
                     k = filled<T>(Shape{2, 6, 6}, 0.3);
  const auto all = [](Index, Index, Index) { return true; };
  std::vector<double> scores;
  const auto want = naive_mha<T>(w, q, v, k, 3, 2, 4, all, &scores);
  const AnyTensor<T> y = m(q, v, k);
  CHECK(y.shape() == Shape{2, 4, 5});
  CHECK(max_diff(y, want) <= tol<T>());
  const auto r = m.call(q, v, k, AttentionMasks<T>());
  CHECK(r.scores.shape() == Shape{2, 3, 4, 6});
  CHECK(max_diff(r.scores, scores) <= tol<T>());
  // get_weights gives back Keras' shapes and values.
  const auto got = m.get_weights();
  REQUIRE(got.size() == 8);
  for (std::size_t i = 0; i < 8; ++i) {
    CHECK(got[i].shape() == w[i].shape());
    CHECK(std::equal(got[i].data(), got[i].data() + got[i].size(), w[i].data()));
  }
  CHECK(m.count_params() == 5 * 6 + 6 + 6 * 6 + 6 + 3 * 12 + 12 + 12 * 5 + 5);
  // Typed self-attention on a Tensor, and output_shape.
  MultiHeadAttention<T> s(2, 3, MultiHeadAttentionOptions().output_shape({2, 3}).seed(1));
  s.build(4);
  Tensor<T, 3> x(2, 5, 4);
  x.setConstant(T(0.5));
  CHECK(s(x, x).shape() == Shape{2, 5, 2, 3});
  CHECK(s.get_weights()[6].shape() == Shape{2, 3, 2, 3});
}

TEMPLATE_TEST_CASE("MultiHeadAttention: query, value and key masks, the causal mask and attention_mask", "[attention]",
                   float, double) {
  using T = TestType;
  std::vector<AnyTensor<T>> w;
  const MultiHeadAttention<T> m = mha_with_weights<T>(2, 3, 3, 4, 4, 4, w);
  const AnyTensor<T> q = filled<T>(Shape{2, 5, 4}, 0.4), v = filled<T>(Shape{2, 5, 4}, 0.9);
  Mask qm(2, 5), vm(2, 5), km(2, 5);
  qm.setConstant(true);
  vm.setConstant(true);
  km.setConstant(true);
  qm(0, 4) = false;
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
  std::vector<double> scores;
  const auto want = naive_mha<T>(w, q, v, v, 2, 3, 3, allowed, &scores);
  const auto r = m.call(q, v, v, masks);
  CHECK(max_diff(r.output, want) <= tol<T>());
  CHECK(max_diff(r.scores, scores) <= tol<T>());
  // Masked positions get (near) zero probability; the causal mask alone differs from no mask.
  CHECK(r.scores.data()[1] < 1e-6);  // b 0, head 0, t 0, s 1: causal
  AttentionMasks<T> causal;
  causal.use_causal_mask = true;
  const auto c = m.call(q, v, TensorView<T>(), causal);
  const auto none = m.call(q, v, TensorView<T>(), AttentionMasks<T>());
  CHECK(max_diff(c.output, std::vector<double>(none.output.data(), none.output.data() + none.output.size())) > 1e-3);
  // A (T, S) attention_mask broadcasts over batch and heads, a (B, N, T, S) one is per head.
  AnyTensor<T> m2 = AnyTensor<T>::uninitialized(Shape{5, 5});
  for (Index i = 0; i < 25; ++i) m2.data()[i] = (i / 5 >= i % 5) ? T(1) : T(0);
  AttentionMasks<T> tri;
  tri.attention_mask = TensorView<T>(m2);
  CHECK(max_diff(m.call(q, v, TensorView<T>(), tri).output,
                 std::vector<double>(c.output.data(), c.output.data() + c.output.size())) <= tol<T>());
}

TEST_CASE("MultiHeadAttention: graph calls pass the query's mask, take key and attention_mask, output scores",
          "[attention]") {
  using T = double;
  std::vector<AnyTensor<T>> w;
  MultiHeadAttention<T> plain = mha_with_weights<T>(2, 2, 2, 3, 3, 3, w);
  const AnyTensor<T> q = filled<T>(Shape{2, 4, 3}, 0.1), v = filled<T>(Shape{2, 5, 3}, 0.2);
  auto qm = std::make_shared<Mask>(2, 4);
  qm->setConstant(true);
  (*qm)(1, 2) = false;
  GraphCall<T> call;
  call.inputs.push_back(GraphInput<T>{TensorView<T>(q), qm, nullptr});
  call.inputs.push_back(GraphInput<T>{TensorView<T>(v), nullptr, nullptr});
  plain.call_graph(call);
  REQUIRE(call.outputs.size() == 1);
  CHECK(call.masks[0] == qm);
  AttentionMasks<T> direct;
  direct.query_mask = qm.get();
  const auto want = plain.call(q, v, TensorView<T>(), direct).output;
  CHECK(std::equal(want.data(), want.data() + want.size(), call.outputs[0].data()));
  CHECK(plain.output_mask_ranks({q.shape(), v.shape()}, {2, 0}) == std::vector<int>{2});
  // From a Keras config with the call's arguments as the loader passes them: attention_mask and
  // key as keywords (after the positional query and value, in key order), scores returned.
  strata::Registry<T> registry;
  registry.template add<MultiHeadAttention<T>>();
  strata::Config config = strata::Config::dict();
  config.set("name", "mha");
  config.set("num_heads", 2);
  config.set("key_dim", 2);
  config.set("value_dim", nullptr);
  config.set("output_shape", nullptr);
  config.set("attention_axes", nullptr);
  strata::Config arguments = strata::Config::dict();
  for (const auto& [role, input] : {std::pair<const char*, int>{"attention_mask", 2}, {"key", 3}}) {
    strata::Config at = strata::Config::dict();
    at.set("input", input);
    arguments.set(role, at);
  }
  arguments.set("return_attention_scores", true);
  strata::LayerConfig<T> layer_config(registry, "MultiHeadAttention", config, strata::KerasVersion{}, "test");
  layer_config.set_call_arguments(arguments);
  strata::AnyLayer<T> any = registry.build(layer_config);
  any.set_weights(w);
  AnyTensor<T> am = AnyTensor<T>::uninitialized(Shape{2, 4, 5});
  for (Index i = 0; i < am.size(); ++i) am.data()[i] = i % 3 == 0 ? T(0) : T(1);
  const AnyTensor<T> k = filled<T>(Shape{2, 5, 3}, 0.7);
  auto km = std::make_shared<Mask>(2, 5);
  km->setConstant(true);
  (*km)(0, 4) = false;
  GraphCall<T> c2;
  c2.inputs.push_back(GraphInput<T>{TensorView<T>(q), nullptr, nullptr});
  c2.inputs.push_back(GraphInput<T>{TensorView<T>(v), nullptr, nullptr});
  c2.inputs.push_back(GraphInput<T>{TensorView<T>(am), nullptr, nullptr});
  c2.inputs.push_back(GraphInput<T>{TensorView<T>(k), km, nullptr});
  CHECK(any.output_shapes({q.shape(), v.shape(), am.shape(), k.shape()}) ==
        std::vector<Shape>{Shape{2, 4, 3}, Shape{2, 2, 4, 5}});
  const auto groups = any.weight_groups({q.shape(), v.shape(), am.shape(), k.shape()});
  REQUIRE(groups.size() == 4);
  CHECK(groups[0].path == "query_dense");
  CHECK(groups[3].path == "output_dense");
  CHECK(groups[1].weights[0].shape == Shape{3, 2, 2});
  any.call_graph(c2);
  REQUIRE(c2.outputs.size() == 2);
  AttentionMasks<T> m2;
  m2.attention_mask = TensorView<T>(am);
  m2.key_mask = km.get();
  const auto r2 = plain.call(q, v, k, m2);
  CHECK(std::equal(r2.output.data(), r2.output.data() + r2.output.size(), c2.outputs[0].data()));
  CHECK(std::equal(r2.scores.data(), r2.scores.data() + r2.scores.size(), c2.outputs[1].data()));
  CHECK(c2.masks[1] == nullptr);
}

TEST_CASE("MultiHeadAttention: errors name the layer, what was expected and what was given", "[attention]") {
  using strata::shape_error;
  using strata::value_error;
  CHECK(has(thrown_message<value_error>([] { MultiHeadAttention<float>(0, 2); }), "num_heads"));
  MultiHeadAttention<float> m(2, 3, MultiHeadAttentionOptions().name("attn").seed(3));
  CHECK(has(thrown_message<value_error>([&] { (void)m.get_weights(); }), "MultiHeadAttention 'attn'"));
  m.build(4, 5, 6);
  const AnyTensor<float> q = filled<float>(Shape{2, 3, 4}, 0), v = filled<float>(Shape{2, 5, 5}, 0),
                         k = filled<float>(Shape{2, 5, 6}, 0);
  const auto rank = thrown_message<shape_error>([&] { (void)m(filled<float>(Shape{2, 4}, 0), v, k); });
  CHECK(has(rank, "MultiHeadAttention 'attn'"));
  CHECK(has(rank, "rank >= 3"));
  CHECK(has(rank, "(2, 4)"));
  const auto feat = thrown_message<shape_error>([&] { (void)m(q, v, filled<float>(Shape{2, 5, 7}, 0)); });
  CHECK(has(feat, "key 6"));
  CHECK(has(feat, "(2, 5, 7)"));
  const auto steps = thrown_message<shape_error>([&] { (void)m(q, v, filled<float>(Shape{2, 4, 6}, 0)); });
  CHECK(has(steps, "except the last one"));
  CHECK(has(thrown_message<shape_error>([&] { (void)m(q, filled<float>(Shape{3, 5, 5}, 0), k); }), "batch"));
  Mask bad(2, 4);
  bad.setConstant(true);
  AttentionMasks<float> masks;
  masks.query_mask = &bad;
  CHECK(has(thrown_message<shape_error>([&] { (void)m.call(q, v, k, masks); }), "query mask"));
  AttentionMasks<float> am;
  const AnyTensor<float> wrong = filled<float>(Shape{2, 3, 4}, 0);
  am.attention_mask = TensorView<float>(wrong);
  const auto amsg = thrown_message<shape_error>([&] { (void)m.call(q, v, k, am); });
  CHECK(has(amsg, "attention_mask"));
  CHECK(has(amsg, "(2, 3, 4)"));
  auto w = m.get_weights();
  w[2] = filled<float>(Shape{6, 3, 3}, 0);
  CHECK(has(thrown_message<shape_error>([&] { m.set_weights(w); }), "(features, 2, 3)"));
  CHECK(has(thrown_message<shape_error>([&] { m.set_weights({}); }), "expects 8"));
  // A graph call with the query alone (a tf.keras 2 node passes value as a keyword, which the
  // loader does not take) is refused.
  GraphCall<float> one;
  one.inputs.push_back(GraphInput<float>{TensorView<float>(q), nullptr, nullptr});
  const auto single = thrown_message<value_error>([&] { m.call_graph(one); });
  CHECK(has(single, "MultiHeadAttention 'attn'"));
  CHECK(has(single, "given 1 inputs"));
}
