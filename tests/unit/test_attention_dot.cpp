// SPDX-License-Identifier: MIT
// Attention and AdditiveAttention against a naive reference written here from Keras 3's
// attention.py / additive_attention.py (scores, `scores - 1e9` where masked, softmax, weighted sum,
// the query mask zeroing the output), their masks, the causal mask, the scores output, their
// errors, their Keras description (config and call arguments through a local Registry) and a call
// in a Model with masks from Embedding(mask_zero).
#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyLayer;
using strata::AnyTensor;
using strata::AttentionScoreMode;
using strata::GraphCall;
using strata::GraphInput;
using strata::Index;
using strata::Mask;
using strata::Shape;
using strata::TensorView;

using test::has;
using test::thrown_message;

enum class Score { dot, concat, additive };

struct Naive {
  Score score = Score::dot;
  bool use_scale = false;
  double scale = 1;               // dot / concat
  double concat_weight = 1;       // concat
  std::vector<double> scale_vec;  // additive
  bool causal = false;
};

/// Keras 3's Attention / AdditiveAttention for one call, in double, step by step as attention.py
/// writes it. Returns the output (B, Tq, Dv) and fills the distribution (B, Tq, Tv).
template <class T>
std::vector<double> naive_attention(const Naive& n, const AnyTensor<T>& q, const AnyTensor<T>& v, const AnyTensor<T>* k,
                                    const Mask* q_mask, const Mask* v_mask, std::vector<double>& dist) {
  const AnyTensor<T>& key = k != nullptr ? *k : v;
  const Index B = q.shape()[0], Tq = q.shape()[1], D = q.shape()[2], Tv = v.shape()[1], Dv = v.shape()[2];
  const auto Q = [&](Index b, Index i, Index d) { return static_cast<double>(q.data()[(b * Tq + i) * D + d]); };
  const auto K = [&](Index b, Index j, Index d) { return static_cast<double>(key.data()[(b * Tv + j) * D + d]); };
  const auto V = [&](Index b, Index j, Index d) { return static_cast<double>(v.data()[(b * Tv + j) * Dv + d]); };
  std::vector<double> out(static_cast<std::size_t>(B * Tq * Dv), 0.0);
  dist.assign(static_cast<std::size_t>(B * Tq * Tv), 0.0);
  for (Index b = 0; b < B; ++b) {
    for (Index i = 0; i < Tq; ++i) {
      std::vector<double> s(static_cast<std::size_t>(Tv));
      for (Index j = 0; j < Tv; ++j) {
        double acc = 0;
        for (Index d = 0; d < D; ++d) {
          if (n.score == Score::dot) acc += Q(b, i, d) * K(b, j, d);
          if (n.score == Score::concat) acc += std::tanh((n.use_scale ? n.scale : 1.0) * (Q(b, i, d) + K(b, j, d)));
          if (n.score == Score::additive)
            acc += (n.use_scale ? n.scale_vec[static_cast<std::size_t>(d)] : 1.0) * std::tanh(Q(b, i, d) + K(b, j, d));
        }
        if (n.score == Score::dot && n.use_scale) acc *= n.scale;
        if (n.score == Score::concat) acc *= n.concat_weight;
        const bool padded = (v_mask != nullptr && !(*v_mask)(b, j)) || (n.causal && j > i);
        s[static_cast<std::size_t>(j)] = padded ? acc - 1.0e9 : acc;
      }
      const double top = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - top));
      for (Index j = 0; j < Tv; ++j) {
        const double w = s[static_cast<std::size_t>(j)] / sum;
        dist[static_cast<std::size_t>((b * Tq + i) * Tv + j)] = w;
        for (Index d = 0; d < Dv; ++d) out[static_cast<std::size_t>((b * Tq + i) * Dv + d)] += w * V(b, j, d);
      }
      if (q_mask != nullptr && !(*q_mask)(b, i)) {
        for (Index d = 0; d < Dv; ++d) out[static_cast<std::size_t>((b * Tq + i) * Dv + d)] = 0;
      }
    }
  }
  return out;
}

template <class T>
AnyTensor<T> random_any(const Shape& s) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(s);
  test::fill_uniform(t.data(), t.size());
  return t;
}

template <class T>
double diff(const AnyTensor<T>& got, const std::vector<double>& want) {
  if (static_cast<std::size_t>(got.size()) != want.size()) return INFINITY;
  double m = 0;
  for (Index i = 0; i < got.size(); ++i)
    m = std::max(m, std::abs(static_cast<double>(got.data()[i]) - want[static_cast<std::size_t>(i)]));
  return m;
}

Mask make_mask(Index b, Index t, const std::vector<int>& bits) {
  Mask m(b, t);
  for (Index i = 0; i < b * t; ++i) m.data()[i] = bits[static_cast<std::size_t>(i)] != 0;
  return m;
}

std::vector<int> to_bits(const Mask& m) {
  std::vector<int> v;
  for (Index i = 0; i < m.size(); ++i) v.push_back(m.data()[i] ? 1 : 0);
  return v;
}

template <class T>
std::vector<TensorView<T>> views(const std::vector<const AnyTensor<T>*>& xs) {
  std::vector<TensorView<T>> v;
  for (const AnyTensor<T>* x : xs) v.emplace_back(*x);
  return v;
}

}  // namespace

TEMPLATE_TEST_CASE("Attention (dot, concat) and AdditiveAttention match Keras 3's formulas", "[attention]", float,
                   double) {
  using T = TestType;
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-13;
  const Index B = 2, Tq = 4, Tv = 5, D = 3, Dv = 2;
  const AnyTensor<T> q = random_any<T>(Shape{B, Tq, D});
  const AnyTensor<T> v = random_any<T>(Shape{B, Tv, Dv});
  const AnyTensor<T> k = random_any<T>(Shape{B, Tv, D});
  const AnyTensor<T> vk = random_any<T>(Shape{B, Tv, D});  // a value that is also the key
  const Mask q_mask = make_mask(B, Tq, {1, 0, 1, 1, 1, 1, 0, 1});
  const Mask v_mask = make_mask(B, Tv, {1, 1, 0, 1, 0, 0, 1, 1, 1, 1});
  std::vector<double> dist;

  SECTION("dot, without scale, [query, value]: the key is the value") {
    const strata::Attention<T> att;
    const auto got = att(views<T>({&q, &vk}));
    CHECK(got.shape() == Shape{B, Tq, D});
    CHECK(diff(got, naive_attention<T>(Naive{}, q, vk, nullptr, nullptr, nullptr, dist)) <= tol);
  }
  SECTION("dot with scale, key, masks and the scores") {
    strata::Attention<T> att(strata::AttentionOptions().use_scale(true));
    att.set_weights({AnyTensor<T>::from_values(Shape{1}, {T(0.75)})});
    Naive n;
    n.use_scale = true;
    n.scale = static_cast<double>(T(0.75));
    const auto [out, scores] = att.call_with_scores(views<T>({&q, &v, &k}), {&q_mask, &v_mask});
    const auto want = naive_attention<T>(n, q, v, &k, &q_mask, &v_mask, dist);
    CHECK(diff(out, want) <= tol);
    CHECK(diff(scores, dist) <= tol);
    // A masked value step gets no weight; a masked query step gives 0 (its scores stay a
    // distribution, as Keras returns them).
    CHECK(scores.data()[2] == T(0));
    for (Index d = 0; d < Dv; ++d) CHECK(out.data()[(0 * Tq + 1) * Dv + d] == T(0));
    T row = 0;
    for (Index j = 0; j < Tv; ++j) row += scores.data()[(0 * Tq + 1) * Tv + j];
    CHECK(std::abs(static_cast<double>(row) - 1.0) <= tol * 10);
    // The key mask (a third mask) is ignored, as in Keras.
    const Mask k_mask = make_mask(B, Tv, std::vector<int>(static_cast<std::size_t>(B * Tv), 0));
    const AnyTensor<T> ignored = att(views<T>({&q, &v, &k}), {&q_mask, &v_mask, &k_mask});
    CHECK(std::equal(ignored.data(), ignored.data() + ignored.size(), out.data()));
  }
  SECTION("concat with and without scale") {
    for (const bool use_scale : {false, true}) {
      strata::Attention<T> att(strata::AttentionOptions().score_mode(AttentionScoreMode::concat).use_scale(use_scale));
      Naive n;
      n.score = Score::concat;
      n.use_scale = use_scale;
      n.scale = static_cast<double>(T(1.5));
      n.concat_weight = static_cast<double>(T(-0.5));
      if (use_scale) {
        att.set_weights(
            {AnyTensor<T>::from_values(Shape{1}, {T(1.5)}), AnyTensor<T>::from_values(Shape{1}, {T(-0.5)})});
        CHECK(att.count_params() == 2);
      } else {
        att.set_weights({AnyTensor<T>::from_values(Shape{1}, {T(-0.5)})});
        CHECK(att.count_params() == 1);
      }
      CHECK(att.get_weights().size() == (use_scale ? 2u : 1u));
      CHECK(diff(att(views<T>({&q, &v, &k}), {nullptr, &v_mask}),
                 naive_attention<T>(n, q, v, &k, nullptr, &v_mask, dist)) <= tol);
    }
  }
  SECTION("additive, with and without scale") {
    strata::AdditiveAttention<T> add(strata::AdditiveAttentionOptions().seed(7));
    CHECK_FALSE(add.built());
    add.build(D);
    REQUIRE(add.built());
    Naive n;
    n.score = Score::additive;
    n.use_scale = true;
    for (Index d = 0; d < D; ++d) {
      const double s = static_cast<double>(add.scale()(d));
      CHECK(std::abs(s) <= std::sqrt(3.0 / D));
      n.scale_vec.push_back(s);
    }
    CHECK(diff(add(views<T>({&q, &v, &k}), {&q_mask, &v_mask}),
               naive_attention<T>(n, q, v, &k, &q_mask, &v_mask, dist)) <= tol);
    const strata::AdditiveAttention<T> plain(strata::AdditiveAttentionOptions().use_scale(false));
    CHECK(plain.get_weights().empty());
    n.use_scale = false;
    CHECK(diff(plain(views<T>({&q, &v, &k})), naive_attention<T>(n, q, v, &k, nullptr, nullptr, dist)) <= tol);
  }
  SECTION("the causal mask, alone and with a value mask") {
    const Index S = 5;
    const AnyTensor<T> x = random_any<T>(Shape{B, S, D});
    const Mask m = make_mask(B, S, {1, 1, 0, 1, 1, 1, 0, 1, 1, 0});
    for (const bool with_mask : {false, true}) {
      const strata::Attention<T> att(strata::AttentionOptions().use_causal_mask(true));
      Naive n;
      n.causal = true;
      const auto [out, scores] = att.call_with_scores(views<T>({&x, &x}), {nullptr, with_mask ? &m : nullptr});
      CHECK(diff(out, naive_attention<T>(n, x, x, nullptr, nullptr, with_mask ? &m : nullptr, dist)) <= tol);
      CHECK(diff(scores, dist) <= tol);
      // Step 0 attends to itself only; no step attends to a later one.
      CHECK(scores.data()[0] == T(1));
      for (Index b = 0; b < B; ++b)
        for (Index i = 0; i < S; ++i)
          for (Index j = i + 1; j < S; ++j) CHECK(scores.data()[(b * S + i) * S + j] == T(0));
    }
  }
  SECTION("a row masked everywhere: Keras subtracts 1e9, it does not drop the row") {
    // Every value step masked: scores - 1e9 everywhere. In double that is softmax(scores) to about
    // 1e-7; float rounds every (small) score - 1e9 to the same value: uniform weights.
    const Mask none = make_mask(B, Tv, std::vector<int>(static_cast<std::size_t>(B * Tv), 0));
    const strata::Attention<T> att;
    const auto [out, scores] = att.call_with_scores(views<T>({&q, &v, &k}), {nullptr, &none});
    if (sizeof(T) == 4) {
      for (Index i = 0; i < scores.size(); ++i) CHECK(scores.data()[i] == T(1) / T(Tv));
    } else {
      CHECK(diff(scores, (naive_attention<T>(Naive{}, q, v, &k, nullptr, nullptr, dist), dist)) <= 1e-6);
    }
    for (Index i = 0; i < out.size(); ++i) CHECK(std::isfinite(out.data()[i]));
  }
}

TEMPLATE_TEST_CASE("Attention layers: shapes, masks and errors name the layer, what they expect and what they got",
                   "[attention][errors]", float, double) {
  using T = TestType;
  strata::Attention<T> att(strata::AttentionOptions().name("att").return_attention_scores(true));
  const std::vector<Shape> shapes{Shape{2, 4, 3}, Shape{2, 5, 6}, Shape{2, 5, 3}};
  CHECK(att.output_count() == 2);
  CHECK(att.output_shapes(shapes) == std::vector<Shape>{Shape{2, 4, 6}, Shape{2, 4, 5}});
  CHECK(att.output_mask_ranks(shapes, {2, 2, 0}) == std::vector<int>{2, 0});
  CHECK(att.output_mask_ranks(shapes, {0, 2, 0}) == std::vector<int>{0, 0});
  CHECK(strata::Attention<T>().output_mask_ranks({Shape{2, 4, 3}, Shape{2, 5, 3}}, {2, 0}) == std::vector<int>{2});

  std::string msg = thrown_message<strata::value_error>([&] { (void)att.output_shapes({Shape{2, 4, 3}}); });
  CHECK(has(msg, "strata::Attention 'att'"));
  CHECK(has(msg, "2 or 3 inputs"));
  CHECK(has(msg, "given 1"));
  msg = thrown_message<strata::shape_error>([&] { (void)att.output_shapes({Shape{2, 4}, Shape{2, 5, 3}}); });
  CHECK(has(msg, "'att'"));
  CHECK(has(msg, "rank 3"));
  CHECK(has(msg, "(2, 4), (2, 5, 3)"));
  msg = thrown_message<strata::shape_error>([&] {
    (void)att.output_shapes({Shape{2, 4, 3}, Shape{2, 5, 6}, Shape{2, 6, 3}});
  });
  CHECK(has(msg, "same number of steps"));
  CHECK(has(msg, "(2, 6, 3)"));
  msg = thrown_message<strata::shape_error>([&] { (void)att.output_shapes({Shape{2, 4, 3}, Shape{2, 5, 4}}); });
  CHECK(has(msg, "same number of features"));
  CHECK(has(msg, "(2, 4, 3)"));
  CHECK(has(msg, "(2, 5, 4)"));
  msg = thrown_message<strata::shape_error>([&] { (void)att.output_shapes({Shape{2, 4, 3}, Shape{3, 5, 3}}); });
  CHECK(has(msg, "one batch size"));
  CHECK(has(msg, "(3, 5, 3)"));
  CHECK_THROWS_AS(att.compute_output_shape(Shape{2, 4, 3}), strata::value_error);
  CHECK_THROWS_AS(att.output_mask_ranks(shapes, {3, 0, 0}), strata::shape_error);

  // A mask of another shape than its input's (batch, time).
  const AnyTensor<T> q = random_any<T>(Shape{2, 4, 3});
  const AnyTensor<T> v = random_any<T>(Shape{2, 5, 3});
  const Mask wrong(2, 4);
  msg = thrown_message<strata::shape_error>([&] { (void)att(views<T>({&q, &v}), {nullptr, &wrong}); });
  CHECK(has(msg, "'att'"));
  CHECK(has(msg, "value mask"));
  CHECK(has(msg, "time=5"));
  CHECK(has(msg, "got (2, 4)"));
  const Mask m(2, 4);
  CHECK_THROWS_AS(att(views<T>({&q, &v}), {&m, &m, &m, &m}), strata::value_error);

  // Weights: counts and shapes.
  msg = thrown_message<strata::shape_error>([&] { att.set_weights({AnyTensor<T>::from_values(Shape{1}, {T(1)})}); });
  CHECK(has(msg, "expects 0 arrays"));
  strata::Attention<T> scaled(strata::AttentionOptions().use_scale(true).name("s"));
  msg = thrown_message<strata::shape_error>([&] {
    scaled.set_weights({AnyTensor<T>::from_values(Shape{2}, {T(1), T(2)})});
  });
  CHECK(has(msg, "scale"));
  CHECK(has(msg, "(1,)"));
  CHECK(has(msg, "(2,)"));
  strata::AdditiveAttention<T> add(strata::AdditiveAttentionOptions().name("add"));
  CHECK_THROWS_AS(add(views<T>({&q, &v})), strata::value_error);  // no scale yet
  add.set_weights({AnyTensor<T>::from_values(Shape{4}, {T(1), T(2), T(3), T(4)})});
  msg = thrown_message<strata::shape_error>([&] { (void)add(views<T>({&q, &v})); });
  CHECK(has(msg, "strata::AdditiveAttention 'add'"));
  CHECK(has(msg, "4 values"));
  CHECK(has(msg, "3 features"));
  CHECK(add.weight_groups({Shape{2, 4, 3}, Shape{2, 5, 3}})[0].weights[0].shape == Shape{3});
}

TEMPLATE_TEST_CASE("Attention layers from their Keras configs and call arguments through a local Registry",
                   "[attention][config]", float, double) {
  using T = TestType;
  strata::Registry<T> registry;
  registry.template add<strata::Attention<T>>();
  registry.template add<strata::AdditiveAttention<T>>();
  strata::Config config = strata::Config::dict();
  config.set("name", "attention");
  config.set("use_scale", true);
  config.set("score_mode", "concat");
  config.set("dropout", 0.1);
  strata::LayerConfig<T> lc(registry, "Attention", config, strata::KerasVersion{}, "test");
  strata::Config call = strata::Config::dict();
  call.set("use_causal_mask", true);
  call.set("return_attention_scores", true);
  lc.set_call_arguments(call);
  AnyLayer<T> layer = registry.build(lc);
  const auto* att = layer.template target<strata::Attention<T>>();
  REQUIRE(att != nullptr);
  CHECK(att->use_scale());
  CHECK(att->score_mode() == AttentionScoreMode::concat);
  CHECK(att->use_causal_mask());
  CHECK(att->return_attention_scores());
  CHECK(layer.weight_count() == 2);
  CHECK(layer.output_count() == 2);
  const auto groups = layer.weight_groups({Shape{1, 2, 3}, Shape{1, 2, 3}});
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].weights.size() == 2);
  CHECK(groups[0].weights[0].name == "scale");
  CHECK(groups[0].weights[1].name == "concat_score_weight");
  CHECK(groups[0].weights[1].shape == Shape{1});

  // tf.keras' `causal` option; defaults.
  strata::Config old = strata::Config::dict();
  old.set("name", "a");
  old.set("causal", true);
  // The layer must outlive the pointer into it.
  const AnyLayer<T> built =
      registry.build(strata::LayerConfig<T>(registry, "Attention", old, strata::KerasVersion{}, "test"));
  const auto* a2 = built.template target<strata::Attention<T>>();
  REQUIRE(a2 != nullptr);
  CHECK(a2->use_causal_mask());
  CHECK_FALSE(a2->use_scale());
  CHECK(a2->score_mode() == AttentionScoreMode::dot);
  strata::Config bad = strata::Config::dict();
  bad.set("score_mode", "general");
  std::string msg;
  try {
    (void)registry.build(strata::LayerConfig<T>(registry, "Attention", bad, strata::KerasVersion{}, "test"));
  } catch (const strata::model_error& e) {
    msg = e.what();
  }
  CHECK(has(msg, "layer 'attention' (Attention)"));
  CHECK(has(msg, "score_mode"));
  CHECK(has(msg, "general"));

  strata::Config additive = strata::Config::dict();
  additive.set("name", "additive_attention");
  AnyLayer<T> ad =
      registry.build(strata::LayerConfig<T>(registry, "AdditiveAttention", additive, strata::KerasVersion{}, "test"));
  CHECK(ad.weight_count() == 1);  // use_scale defaults to true
  CHECK(ad.weight_groups({Shape{1, 2, 7}, Shape{1, 3, 7}})[0].weights[0].shape == Shape{7});
  CHECK(ad.output_count() == 1);
}

TEST_CASE("Attention in a Model: Embedding(mask_zero) masks reach it and the output carries the query's mask",
          "[attention][model]") {
  // ids_q -> Embedding(mask_zero) -> q ; ids_v -> Embedding(mask_zero) -> v ; Attention([q, v]).
  const Index B = 2, Tq = 3, Tv = 4, V = 6, E = 3;
  strata::Model<double> model;
  const auto iq = model.add_input("ids_q", {-1, Tq});
  const auto iv = model.add_input("ids_v", {-1, Tv});
  const strata::Embedding<double> emb(V, E, strata::EmbeddingOptions().mask_zero(true).seed(3));
  const std::size_t shared = model.add_layer(emb);
  const auto q = model.call(shared, std::vector<strata::Model<double>::TensorRef>{iq}).front();
  const auto v = model.call(shared, std::vector<strata::Model<double>::TensorRef>{iv}).front();
  const auto out = model.add(strata::Attention<double>(strata::AttentionOptions().return_attention_scores(true)),
                             std::vector<strata::Model<double>::TensorRef>{q, v});
  REQUIRE(out.size() == 2);
  // The output's mask reaches an LSTM: the masked query step repeats the previous output.
  strata::LSTM<double> lstm(2, strata::LSTMOptions().input_dim(E).seed(4).return_sequences(true));
  const auto y = model.add(lstm, out[0]);
  model.set_outputs(std::vector<strata::Model<double>::TensorRef>{out[0], out[1], y});
  AnyTensor<double> ids_q = AnyTensor<double>::from_values(Shape{B, Tq}, {1, 0, 2, 3, 4, 5});
  AnyTensor<double> ids_v = AnyTensor<double>::from_values(Shape{B, Tv}, {1, 2, 0, 4, 5, 0, 0, 3});
  const auto got = model.predict(std::vector<TensorView<double>>{TensorView<double>(ids_q), TensorView<double>(ids_v)});
  REQUIRE(got.size() == 3);
  const AnyTensor<double> qe = emb(TensorView<double>(ids_q));
  const AnyTensor<double> ve = emb(TensorView<double>(ids_v));
  const Mask qm = *emb.compute_mask(TensorView<double>(ids_q));
  const Mask vm = *emb.compute_mask(TensorView<double>(ids_v));
  std::vector<double> dist;
  CHECK(diff(got[0], naive_attention<double>(Naive{}, qe, ve, nullptr, &qm, &vm, dist)) <= 1e-13);
  CHECK(diff(got[1], dist) <= 1e-13);
  for (Index u = 0; u < 2; ++u) CHECK(got[2].data()[(0 * Tq + 1) * 2 + u] == got[2].data()[(0 * Tq + 0) * 2 + u]);
}

// --- keras-hub position layers ------------------------------------------------------------

TEMPLATE_TEST_CASE("PositionEmbedding, TokenAndPositionEmbedding and SinePositionEncoding follow keras-hub",
                   "[position_embedding]", float, double) {
  using T = TestType;
  const Index B = 2, S = 3, D = 4, L = 6;

  SECTION("PositionEmbedding: rows start_index ... of its embeddings, for every sample") {
    strata::PositionEmbedding<T> pe(L, strata::PositionEmbeddingOptions().start_index(2).name("pos"));
    CHECK_FALSE(pe.built());
    CHECK_THROWS_AS(pe(random_any<T>(Shape{B, S, D})), strata::value_error);
    const AnyTensor<T> e = random_any<T>(Shape{L, D});
    pe.set_weights({e});
    CHECK(pe.count_params() == L * D);
    const AnyTensor<T> x = random_any<T>(Shape{B, S, D});
    const AnyTensor<T> y = pe(x);
    REQUIRE(y.shape() == Shape{B, S, D});
    for (Index b = 0; b < B; ++b)
      for (Index t = 0; t < S; ++t)
        for (Index d = 0; d < D; ++d) CHECK(y.data()[(b * S + t) * D + d] == e.data()[(2 + t) * D + d]);
    // Rank 2 (T, dim) works too; too many steps or other features do not.
    CHECK(pe(random_any<T>(Shape{4, D})).shape() == Shape{4, D});
    std::string msg = thrown_message<strata::shape_error>([&] { (void)pe(random_any<T>(Shape{B, 5, D})); });
    CHECK(has(msg, "strata::PositionEmbedding 'pos'"));
    CHECK(has(msg, "5 steps"));
    CHECK(has(msg, "start_index 2"));
    CHECK(has(msg, "sequence_length=6"));
    msg = thrown_message<strata::shape_error>([&] { (void)pe(random_any<T>(Shape{B, S, 5})); });
    CHECK(has(msg, "5 features"));
    CHECK(has(msg, "have 4"));
    CHECK_THROWS_AS(pe(random_any<T>(Shape{S})), strata::shape_error);
    msg = thrown_message<strata::shape_error>([&] { pe.set_weights({random_any<T>(Shape{L + 1, D})}); });
    CHECK(has(msg, "sequence_length=6"));
    CHECK(has(msg, "(7, 4)"));
    CHECK(pe.weight_groups({Shape{B, S, D}})[0].weights[0].shape == Shape{L, D});
    strata::PositionEmbedding<T> drawn(L, strata::PositionEmbeddingOptions().seed(3));
    drawn.build(D);
    CHECK(drawn.get_weights()[0].shape() == Shape{L, D});
  }
  SECTION("TokenAndPositionEmbedding: token rows plus position rows; the ids' mask") {
    const Index V = 5;
    strata::TokenAndPositionEmbedding<T> tp(V, L, D,
                                            strata::TokenAndPositionEmbeddingOptions().mask_zero(true).seed(1));
    const AnyTensor<T> tok = random_any<T>(Shape{V, D});
    const AnyTensor<T> pos = random_any<T>(Shape{L, D});
    tp.set_weights({tok, pos});
    const AnyTensor<T> ids = AnyTensor<T>::from_values(Shape{B, S}, {1, 0, 4, 3, 2, 0});
    const AnyTensor<T> y = tp(ids);
    REQUIRE(y.shape() == Shape{B, S, D});
    for (Index b = 0; b < B; ++b)
      for (Index t = 0; t < S; ++t) {
        const auto id = static_cast<Index>(ids.data()[b * S + t]);
        for (Index d = 0; d < D; ++d)
          CHECK(y.data()[(b * S + t) * D + d] == tok.data()[id * D + d] + pos.data()[t * D + d]);
      }
    GraphCall<T> call;
    call.inputs.push_back(GraphInput<T>{TensorView<T>(ids), nullptr, nullptr});
    tp.call_graph(call);
    REQUIRE(call.masks.size() == 1);
    REQUIRE(call.masks[0] != nullptr);
    CHECK(to_bits(*call.masks[0]) == std::vector<int>{1, 0, 1, 1, 1, 0});
    CHECK(tp.output_mask_ranks({Shape{B, S}}, {0}) == std::vector<int>{2});
    // Untied weights: reverse_embeddings (dim, vocab) between the two.
    strata::TokenAndPositionEmbedding<T> untied(V, L, D, strata::TokenAndPositionEmbeddingOptions().tie_weights(false));
    CHECK(untied.weight_count() == 3);
    const auto groups = untied.weight_groups({Shape{B, S}});
    REQUIRE(groups.size() == 2);
    CHECK(groups[0].path == "token_embedding");
    CHECK(groups[0].weights[1].shape == Shape{D, V});
    CHECK(groups[1].path == "position_embedding");
    CHECK(untied.get_weights().size() == 3);
    CHECK(untied.count_params() == 2 * V * D + L * D);
    std::string msg = thrown_message<strata::value_error>([&] {
      (void)tp(AnyTensor<T>::from_values(Shape{1, 2}, {1, 5}));
    });
    CHECK(has(msg, "index 5"));
    msg = thrown_message<strata::shape_error>([&] { tp.set_weights({tok}); });
    CHECK(has(msg, "expects 2 arrays"));
    CHECK_THROWS_AS(tp(AnyTensor<T>::from_values(Shape{1, 7}, {1, 1, 1, 1, 1, 1, 1})), strata::shape_error);
  }
  SECTION("SinePositionEncoding: sin on even features, cos on odd, timescales 1e-4^(2 floor(j/2) / hidden)") {
    const strata::SinePositionEncoding<T> sine(strata::SinePositionEncodingOptions().start_index(1));
    const AnyTensor<T> y = sine(random_any<T>(Shape{B, S, D}));
    REQUIRE(y.shape() == Shape{B, S, D});
    const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
    for (Index b = 0; b < B; ++b)
      for (Index t = 0; t < S; ++t) {
        const double p = static_cast<double>(t + 1);
        const T* row = y.data() + (b * S + t) * D;
        CHECK(std::abs(static_cast<double>(row[0]) - std::sin(p)) <= tol);
        CHECK(std::abs(static_cast<double>(row[1]) - std::cos(p)) <= tol);
        CHECK(std::abs(static_cast<double>(row[2]) - std::sin(p * 1e-2)) <= tol);
        CHECK(std::abs(static_cast<double>(row[3]) - std::cos(p * 1e-2)) <= tol);
      }
    CHECK_THROWS_AS(sine(random_any<T>(Shape{S})), strata::shape_error);
    CHECK_THROWS_AS(strata::SinePositionEncoding<T>(strata::SinePositionEncodingOptions().max_wavelength(0)),
                    strata::value_error);
  }
}

TEMPLATE_TEST_CASE("keras-hub layers register under their keras_hub> and keras_nlp> names only", "[position_embedding]",
                   float, double) {
  using T = TestType;
  strata::Registry<T> registry;
  registry.template add<strata::PositionEmbedding<T>>();
  registry.template add<strata::TokenAndPositionEmbedding<T>>();
  CHECK(registry.find("keras_hub>PositionEmbedding") != nullptr);
  CHECK(registry.find("keras_nlp>PositionEmbedding") != nullptr);
  CHECK(registry.find("PositionEmbedding") == nullptr);
  strata::Config config = strata::Config::dict();
  config.set("name", "tp");
  config.set("vocabulary_size", 9);
  config.set("sequence_length", 4);
  config.set("embedding_dim", 2);
  config.set("mask_zero", true);
  config.set("tie_weights", false);
  strata::LayerConfig<T> lc(registry, "TokenAndPositionEmbedding", config, strata::KerasVersion{}, "test");
  // A custom class of that name registered by someone else is not taken for keras-hub's.
  lc.set_registered_name("my_package>TokenAndPositionEmbedding");
  CHECK_THROWS_AS(registry.build(lc), strata::unsupported_error);
  lc.set_registered_name("keras_hub>TokenAndPositionEmbedding");
  strata::Config call = strata::Config::dict();
  call.set("start_index", 1);
  lc.set_call_arguments(call);
  AnyLayer<T> layer = registry.build(lc);
  const auto* tp = layer.template target<strata::TokenAndPositionEmbedding<T>>();
  REQUIRE(tp != nullptr);
  CHECK(tp->vocabulary_size() == 9);
  CHECK(tp->sequence_length() == 4);
  CHECK(tp->embedding_dim() == 2);
  CHECK(tp->mask_zero());
  CHECK_FALSE(tp->tie_weights());
  CHECK(tp->start_index() == 1);
  CHECK(layer.weight_count() == 3);
  CHECK_FALSE(layer.built());

  // The layers without mask logic drop an incoming mask, as keras-hub's (no supports_masking).
  CHECK(AnyLayer<T>(strata::PositionEmbedding<T>(4)).output_mask_ranks({Shape{2, 3, 2}}, {2}) == std::vector<int>{0});
  CHECK(AnyLayer<T>(strata::SinePositionEncoding<T>()).output_mask_ranks({Shape{2, 3, 2}}, {2}) == std::vector<int>{0});
  CHECK(AnyLayer<T>(strata::RotaryEmbedding<T>()).output_mask_ranks({Shape{2, 3, 2}}, {2}) == std::vector<int>{0});

  // RotaryEmbedding's config; rope_type "yarn" is refused.
  registry.template add<strata::RotaryEmbedding<T>>();
  strata::Config rope = strata::Config::dict();
  rope.set("name", "rope");
  rope.set("max_wavelength", 500);
  rope.set("scaling_factor", 2.0);
  rope.set("rope_type", "dynamic");
  rope.set("sequence_axis", 2);
  rope.set("feature_axis", 1);
  rope.set("denominator_dim", strata::Config());
  strata::LayerConfig<T> rc(registry, "RotaryEmbedding", rope, strata::KerasVersion{}, "test");
  rc.set_registered_name("keras_hub>RotaryEmbedding");
  AnyLayer<T> r = registry.build(rc);
  const auto& ro = r.template target<strata::RotaryEmbedding<T>>()->options();
  CHECK(ro.max_wavelength() == 500);
  CHECK(ro.scaling_factor() == 2);
  CHECK(ro.rope_type() == strata::RopeType::dynamic);
  CHECK(ro.sequence_axis() == 2);
  CHECK(ro.feature_axis() == 1);
  CHECK(ro.denominator_dim() == 0);
  rope.set("rope_type", "yarn");
  strata::LayerConfig<T> yarn(registry, "RotaryEmbedding", rope, strata::KerasVersion{}, "test");
  yarn.set_registered_name("keras_hub>RotaryEmbedding");
  std::string msg;
  try {
    (void)registry.build(yarn);
  } catch (const strata::unsupported_error& e) {
    msg = e.what();
  }
  CHECK(has(msg, "layer 'rope' (RotaryEmbedding)"));
  CHECK(has(msg, "yarn"));
}

TEMPLATE_TEST_CASE("RotaryEmbedding rotates feature halves by position angles, on any axes", "[position_embedding]",
                   float, double) {
  using T = TestType;
  const Index B = 2, S = 5, H = 2, D = 6, half = D / 2;
  const AnyTensor<T> x = random_any<T>(Shape{B, S, H, D});
  const strata::RotaryEmbedding<T> rope(
      strata::RotaryEmbeddingOptions().max_wavelength(100).scaling_factor(2).start_index(3).name("rope"));
  const AnyTensor<T> y = rope(x);
  REQUIRE(y.shape() == x.shape());
  // The angles in double: p * 100^(-2i / D) / 2 (keras-hub computes them in float32: 1e-6 apart).
  const auto angle = [&](Index p, Index i) {
    return static_cast<double>(p + 3) * std::pow(100.0, -2.0 * static_cast<double>(i) / D) / 2.0;
  };
  double worst = 0;
  for (Index b = 0; b < B; ++b)
    for (Index p = 0; p < S; ++p)
      for (Index h = 0; h < H; ++h) {
        const T* xi = x.data() + ((b * S + p) * H + h) * D;
        const T* yi = y.data() + ((b * S + p) * H + h) * D;
        for (Index j = 0; j < D; ++j) {
          const Index i = j % half;
          const double a = angle(p, i);
          const double other = j < half ? -static_cast<double>(xi[j + half]) : static_cast<double>(xi[j - half]);
          const double want = static_cast<double>(xi[j]) * std::cos(a) + other * std::sin(a);
          worst = std::max(worst, std::abs(static_cast<double>(yi[j]) - want));
        }
      }
  CHECK(worst <= 2e-6);
  // The same layer on axes (sequence 2, features 1) of the transposed input gives the transposed
  // output.
  const strata::RotaryEmbedding<T> moved(strata::RotaryEmbeddingOptions()
                                             .max_wavelength(100)
                                             .scaling_factor(2)
                                             .start_index(3)
                                             .sequence_axis(2)
                                             .feature_axis(1));
  AnyTensor<T> xt = AnyTensor<T>::uninitialized(Shape{B, D, S, H});
  for (Index b = 0; b < B; ++b)
    for (Index p = 0; p < S; ++p)
      for (Index h = 0; h < H; ++h)
        for (Index j = 0; j < D; ++j)
          xt.data()[((b * D + j) * S + p) * H + h] = x.data()[((b * S + p) * H + h) * D + j];
  const AnyTensor<T> yt = moved(xt);
  for (Index b = 0; b < B; ++b)
    for (Index p = 0; p < S; ++p)
      for (Index h = 0; h < H; ++h)
        for (Index j = 0; j < D; ++j)
          CHECK(yt.data()[((b * D + j) * S + p) * H + h] == y.data()[((b * S + p) * H + h) * D + j]);
  // Errors: odd features, one axis for both.
  std::string msg = thrown_message<strata::shape_error>([&] { (void)rope(random_any<T>(Shape{B, S, 5})); });
  CHECK(has(msg, "strata::RotaryEmbedding 'rope'"));
  CHECK(has(msg, "even"));
  CHECK(has(msg, "(2, 5, 5)"));
  CHECK_THROWS_AS(rope(random_any<T>(Shape{S, D})), strata::shape_error);
  CHECK_THROWS_AS(strata::RotaryEmbedding<T>(strata::RotaryEmbeddingOptions().scaling_factor(0)), strata::value_error);
}
