// SPDX-License-Identifier: MIT
// keras-hub's TransformerEncoder and TransformerDecoder: their computation against the same steps
// written here with their sublayers (MultiHeadAttention, LayerNormalization, Dense, each tested
// against Keras elsewhere), bit for bit; padding and causal masks; weights; graph calls; errors.
// Keras parity itself: the fixtures of tools/torch-reference/make_transformer_fixtures.py.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::AttentionMasks;
using strata::GraphCall;
using strata::GraphInput;
using strata::Index;
using strata::Mask;
using strata::Shape;
using strata::TensorView;
using strata::TransformerDecoder;
using strata::TransformerDecoderMasks;
using strata::TransformerDecoderOptions;
using strata::TransformerEncoder;
using strata::TransformerEncoderMasks;
using strata::TransformerEncoderOptions;
using test::has;
using test::thrown_message;

template <class T>
AnyTensor<T> filled(const Shape& s, double seed) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(s);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(std::sin(seed + 0.37 * static_cast<double>(i)));
  return t;
}

// Random weights in the layer's own layout (biases, gammas and betas away from their initial values).
template <class L>
void randomize(L& layer) {
  using T = typename L::Scalar;
  strata::Weights<T> w = layer.get_weights();
  for (AnyTensor<T>& a : w) test::fill_uniform(a.data(), a.size(), T(-0.6), T(0.6));
  layer.set_weights(w);
}

template <class T>
std::vector<T> values(const AnyTensor<T>& t) {
  return std::vector<T>(t.data(), t.data() + t.size());
}

template <class T>
void add(AnyTensor<T>& y, const AnyTensor<T>& x) {
  for (Index i = 0; i < y.size(); ++i) y.data()[i] += x.data()[i];
}

// The block structure of keras-hub's call(), step by step with the layer's own sublayers.
template <class T>
AnyTensor<T> by_steps(const strata::MultiHeadAttention<T>& mha, const strata::LayerNormalization<T>& ln_a,
                      const strata::Dense<T>& inter, const strata::Dense<T>& out,
                      const strata::LayerNormalization<T>& ln_f, bool normalize_first, const AnyTensor<T>& x,
                      const AttentionMasks<T>& m, const strata::MultiHeadAttention<T>* cross = nullptr,
                      const strata::LayerNormalization<T>* ln_c = nullptr, const AnyTensor<T>* enc = nullptr,
                      const AttentionMasks<T>& cm = AttentionMasks<T>()) {
  AnyTensor<T> h = x;
  const auto attend = [&](const strata::MultiHeadAttention<T>& a, const strata::LayerNormalization<T>& ln,
                          const AnyTensor<T>* value, const AttentionMasks<T>& masks) {
    AnyTensor<T> q = normalize_first ? ln(h) : h;
    AnyTensor<T> y =
        a.call(q, value != nullptr ? TensorView<T>(*value) : TensorView<T>(q), TensorView<T>(), masks).output;
    add(y, h);
    h = normalize_first ? y : ln(y);
  };
  attend(mha, ln_a, nullptr, m);
  if (cross != nullptr) attend(*cross, *ln_c, enc, cm);
  AnyTensor<T> f = out(inter(normalize_first ? ln_f(h) : h));
  add(f, h);
  return normalize_first ? f : ln_f(f);
}

}  // namespace

TEMPLATE_TEST_CASE("TransformerEncoder: keras-hub's blocks, step by step with its sublayers", "[transformer]", float,
                   double) {
  using T = TestType;
  for (const bool first : {false, true}) {
    DYNAMIC_SECTION("normalize_first " << first) {
      TransformerEncoder<T> enc(
          12, 3, TransformerEncoderOptions().normalize_first(first).activation("gelu").seed(7).name("enc"));
      enc.build(9);  // key_dim 3
      randomize(enc);
      CHECK(enc.get_weights().size() == 16);
      CHECK(enc.count_params() == 4 * (9 * 9 + 9) + 4 * 9 + 9 * 12 + 12 + 12 * 9 + 9);
      CHECK(enc.self_attention().key_dim() == 3);
      const AnyTensor<T> x = filled<T>(Shape{2, 5, 9}, 0.3);
      const AnyTensor<T> y = enc(x);
      const AnyTensor<T> want =
          by_steps(enc.self_attention(), enc.self_attention_layer_norm(), enc.feedforward_intermediate_dense(),
                   enc.feedforward_output_dense(), enc.feedforward_layer_norm(), first, x, AttentionMasks<T>());
      CHECK(values(y) == values(want));
      // Weights round-trip into a fresh layer.
      TransformerEncoder<T> copy(12, 3, TransformerEncoderOptions().normalize_first(first).activation("gelu"));
      copy.set_weights(enc.get_weights());
      CHECK(values(copy(x)) == values(y));
    }
  }
}

TEMPLATE_TEST_CASE("TransformerEncoder: row blocks and threads change no bit", "[transformer]", float, double) {
  // 4 x 53 = 212 rows: the row-wise part runs in several blocks (and on two threads when OpenMP
  // is there); the steps above run each sublayer over the whole tensor at once.
  using T = TestType;
  for (const bool first : {false, true}) {
    TransformerEncoder<T> enc(24, 2, TransformerEncoderOptions().normalize_first(first).seed(9));
    enc.build(8);
    randomize(enc);
    const AnyTensor<T> x = filled<T>(Shape{4, 53, 8}, 0.7);
    const AnyTensor<T> want =
        by_steps(enc.self_attention(), enc.self_attention_layer_norm(), enc.feedforward_intermediate_dense(),
                 enc.feedforward_output_dense(), enc.feedforward_layer_norm(), first, x, AttentionMasks<T>());
    for (const int threads : {1, 2}) {
      strata::set_num_threads(threads);
      CHECK(values(enc(x)) == values(want));
    }
    strata::set_num_threads(1);
  }
}

TEMPLATE_TEST_CASE("TransformerEncoder: a padded sequence's kept steps are bitwise its unpadded result",
                   "[transformer]", float, double) {
  using T = TestType;
  TransformerEncoder<T> enc(16, 2, TransformerEncoderOptions().seed(3));
  enc.build(8);
  randomize(enc);
  const Index lengths[] = {6, 3, 1};
  const AnyTensor<T> x = filled<T>(Shape{3, 6, 8}, 1.1);
  Mask mask(3, 6);
  for (Index b = 0; b < 3; ++b) {
    for (Index t = 0; t < 6; ++t) mask(b, t) = t < lengths[b];
  }
  TransformerEncoderMasks<T> m;
  m.input_mask = &mask;
  const AnyTensor<T> y = enc.call(x, m);
  for (Index b = 0; b < 3; ++b) {
    const Index n = lengths[b];
    AnyTensor<T> alone = AnyTensor<T>::uninitialized(Shape{1, n, 8});
    std::copy(x.data() + b * 48, x.data() + b * 48 + n * 8, alone.data());
    const AnyTensor<T> ya = enc(alone);
    CHECK(std::vector<T>(y.data() + b * 48, y.data() + b * 48 + n * 8) == values(ya));
  }
  // The same masks step by step: the padding mask masks key steps, the input mask query steps.
  AttentionMasks<T> am;
  am.query_mask = &mask;
  am.value_mask = &mask;
  const AnyTensor<T> want =
      by_steps(enc.self_attention(), enc.self_attention_layer_norm(), enc.feedforward_intermediate_dense(),
               enc.feedforward_output_dense(), enc.feedforward_layer_norm(), false, x, am);
  CHECK(values(y) == values(want));
  // An explicit padding_mask replaces the input mask as the key mask; the query mask stays the input's.
  Mask keys = mask;
  keys(0, 5) = false;
  m.padding_mask = &keys;
  am.value_mask = &keys;
  const AnyTensor<T> want2 =
      by_steps(enc.self_attention(), enc.self_attention_layer_norm(), enc.feedforward_intermediate_dense(),
               enc.feedforward_output_dense(), enc.feedforward_layer_norm(), false, x, am);
  CHECK(values(enc.call(x, m)) == values(want2));
  CHECK(values(enc.call(x, m)) != values(y));
}

TEMPLATE_TEST_CASE(
    "TransformerEncoder: a graph call takes padding_mask and attention_mask inputs and passes the mask on",
    "[transformer]", float, double) {
  using T = TestType;
  TransformerEncoder<T> enc(8, 2, TransformerEncoderOptions().seed(5));
  enc.build(4);
  randomize(enc);
  const AnyTensor<T> x = filled<T>(Shape{2, 4, 4}, 0.2);
  AnyTensor<T> pad = AnyTensor<T>::from_values(Shape{2, 4}, {1, 1, 1, 0, 1, 1, 0, 0});
  AnyTensor<T> att = AnyTensor<T>::zeros(Shape{2, 4, 4});
  for (Index i = 0; i < att.size(); ++i) att.data()[i] = static_cast<T>((i % 3) != 1);
  GraphCall<T> c;
  c.inputs.resize(3);
  c.inputs[0].tensor = TensorView<T>(x);
  auto in_mask = std::make_shared<const Mask>(Mask(2, 4).setConstant(true));
  c.inputs[0].mask = in_mask;
  c.inputs[1].tensor = TensorView<T>(pad);
  c.inputs[2].tensor = TensorView<T>(att);
  enc.call_graph(c);
  REQUIRE(c.outputs.size() == 1);
  CHECK(c.masks[0] == in_mask);
  Mask p(2, 4);
  for (Index i = 0; i < 8; ++i) p.data()[i] = pad.data()[i] != T(0);
  TransformerEncoderMasks<T> m;
  m.input_mask = in_mask.get();
  m.padding_mask = &p;
  m.attention_mask = TensorView<T>(att);
  CHECK(values(c.outputs[0]) == values(enc.call(x, m)));
  // Too many inputs.
  c.inputs.resize(4);
  c.inputs[3].tensor = TensorView<T>(att);
  c.outputs.clear();
  c.masks.clear();
  CHECK(has(thrown_message<strata::value_error>([&] { enc.call_graph(c); }), "takes at most 3 inputs"));
}

TEMPLATE_TEST_CASE("TransformerDecoder: causal self-attention, cross-attention, step by step", "[transformer]", float,
                   double) {
  using T = TestType;
  for (const bool first : {false, true}) {
    DYNAMIC_SECTION("normalize_first " << first) {
      TransformerDecoder<T> dec(10, 2, TransformerDecoderOptions().normalize_first(first).seed(11).name("dec"));
      dec.build(6, 5);
      randomize(dec);
      REQUIRE(dec.has_cross_attention());
      CHECK(dec.get_weights().size() == 26);
      CHECK(dec.cross_attention().get_weights()[2].shape() == Shape{5, 2, 3});  // key kernel (E, N, D / N)
      const AnyTensor<T> x = filled<T>(Shape{2, 4, 6}, 0.5);
      const AnyTensor<T> e = filled<T>(Shape{2, 3, 5}, 2.5);
      Mask em(2, 3);
      em.setConstant(true);
      em(1, 2) = false;
      TransformerDecoderMasks<T> m;
      m.encoder_mask = &em;
      const AnyTensor<T> y = dec.call(x, e, m);
      AttentionMasks<T> sm, cm;
      sm.use_causal_mask = true;
      cm.value_mask = &em;
      const strata::Weights<T> w = dec.get_weights();
      // The sublayers again, from the weight list (self 0-9, cross 10-19, intermediate 20-21,
      // output 22-23, feedforward_layer_norm 24-25).
      const auto slice = [&](std::size_t a, std::size_t n) {
        return strata::Weights<T>(w.begin() + a, w.begin() + a + n);
      };
      strata::MultiHeadAttention<T> self(2, 3), cross(2, 3);
      self.set_weights(slice(0, 8));
      cross.set_weights(slice(10, 8));
      strata::LayerNormalization<T> ln1(strata::LayerNormalizationOptions().epsilon(1e-5)),
          ln2(strata::LayerNormalizationOptions().epsilon(1e-5)),
          ln3(strata::LayerNormalizationOptions().epsilon(1e-5));
      ln1.set_weights(slice(8, 2));
      ln2.set_weights(slice(18, 2));
      ln3.set_weights(slice(24, 2));
      strata::Dense<T> inter(10, strata::DenseOptions().activation("relu")), out(6);
      inter.set_weights(slice(20, 2));
      out.set_weights(slice(22, 2));
      CHECK(values(y) == values(by_steps(self, ln1, inter, out, ln3, first, x, sm, &cross, &ln2, &e, cm)));
      // Causal: changing the last decoder step leaves the earlier steps' outputs unchanged.
      AnyTensor<T> x2 = x;
      for (Index j = 0; j < 6; ++j) x2.data()[3 * 6 + j] += T(0.5);
      const AnyTensor<T> y2 = dec.call(x2, e, m);
      for (Index b = 0; b < 2; ++b) {
        for (Index i = 0; i < 3 * 6; ++i) CHECK(y2.data()[b * 24 + i] == y.data()[b * 24 + i]);
      }
      CHECK(y2.data()[18] != y.data()[18]);
    }
  }
}

TEMPLATE_TEST_CASE("TransformerDecoder: without cross-attention, use_causal_mask false", "[transformer]", float,
                   double) {
  using T = TestType;
  TransformerDecoder<T> dec(8, 2, TransformerDecoderOptions().use_causal_mask(false).seed(2));
  dec.build(4);
  randomize(dec);
  CHECK_FALSE(dec.has_cross_attention());
  CHECK(dec.get_weights().size() == 16);
  TransformerEncoder<T> enc(8, 2);
  // The encoder's weight order: self-attention, its norm, feedforward_layer_norm, then the Denses.
  strata::Weights<T> w = dec.get_weights();
  strata::Weights<T> ew(w.begin(), w.begin() + 10);
  ew.push_back(w[14]);
  ew.push_back(w[15]);
  for (std::size_t i = 10; i < 14; ++i) ew.push_back(w[i]);
  enc.set_weights(ew);
  const AnyTensor<T> x = filled<T>(Shape{3, 5, 4}, 0.9);
  // Without masks, a non-causal decoder is the encoder.
  CHECK(values(dec(x)) == values(enc(x)));
  CHECK(has(thrown_message<strata::value_error>([&] { (void)dec.call(x, TensorView<T>(x)); }), "no cross-attention"));
}

TEST_CASE("TransformerEncoder and TransformerDecoder: errors name the layer, what was expected and what was given",
          "[transformer]") {
  CHECK(has(thrown_message<strata::value_error>([] { TransformerEncoder<float>(0, 2); }), "intermediate_dim"));
  CHECK(has(thrown_message<strata::value_error>(
                [] { TransformerEncoder<float>(4, 2, TransformerEncoderOptions().activation("nope")); }),
            "nope"));
  CHECK(has(thrown_message<strata::value_error>(
                [] { TransformerEncoder<float>(4, 2, TransformerEncoderOptions().layer_norm_epsilon(0)); }),
            "layer_norm_epsilon"));
  TransformerEncoder<float> enc(4, 3, TransformerEncoderOptions().name("e"));
  CHECK(has(thrown_message<strata::value_error>([&] { enc.build(2); }), "smaller than num_heads 3"));
  CHECK(has(thrown_message<strata::value_error>([&] { (void)enc.get_weights(); }), "TransformerEncoder 'e'"));
  enc.build(6);
  strata::Weights<float> w = enc.get_weights();
  w.pop_back();
  CHECK(has(thrown_message<strata::shape_error>([&] { enc.set_weights(w); }), "expects 16 arrays"));
  w = enc.get_weights();
  w[12] = AnyTensor<float>::zeros(Shape{6, 5});
  CHECK(has(thrown_message<strata::shape_error>([&] { enc.set_weights(w); }),
            "feedforward_intermediate_dense kernel) must have shape (6, 4); got (6, 5)"));
  const AnyTensor<float> bad = AnyTensor<float>::zeros(Shape{2, 3, 5});
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)enc(bad); }), "hidden_dim=6); got (2, 3, 5)"));
  TransformerEncoderMasks<float> m;
  Mask wrong(2, 4);
  m.input_mask = &wrong;
  const AnyTensor<float> x = AnyTensor<float>::zeros(Shape{2, 3, 6});
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)enc.call(x, m); }),
            "mask must have shape (batch=2, time=3)"));
  TransformerDecoder<float> dec(4, 2, TransformerDecoderOptions().name("d"));
  dec.build(4, 3);
  CHECK(has(thrown_message<strata::value_error>([&] {
              (void)dec(AnyTensor<float>::zeros(Shape{1, 2, 4}));
            }),
            "call it with the encoder sequence"));
  strata::Weights<float> dw = dec.get_weights();
  dw.resize(20);
  CHECK(has(thrown_message<strata::shape_error>([&] { dec.set_weights(dw); }), "16 arrays (no cross-attention) or 26"));
}
