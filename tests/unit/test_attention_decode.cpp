// SPDX-License-Identifier: MIT
// MultiHeadAttention's key/value-cache decoding (decode_step, a C++ API Keras has none of): each
// step's output is bitwise row t of the full causal call mha(x, x, use_causal_mask=True), for every
// sample of a batch, in float and double; the cache's length, clear() and errors.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::AttentionMasks;
using strata::Index;
using strata::MultiHeadAttention;
using strata::MultiHeadAttentionOptions;
using strata::Shape;
using strata::TensorView;
using test::has;
using test::thrown_message;

template <class T>
AnyTensor<T> wave(const Shape& s, double seed) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(s);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(std::sin(seed + 0.43 * static_cast<double>(i)));
  return t;
}

}  // namespace

TEMPLATE_TEST_CASE("MultiHeadAttention decode_step: each step is bitwise the full causal call's row",
                   "[attention][decode]", float, double) {
  using T = TestType;
  // (heads, key_dim, value_dim, features, output_shape, steps): head sizes below, at and above the
  // kernels' packet and panel widths; a 2-D output_shape; more steps than a tile has rows.
  struct Case {
    Index heads, key_dim, value_dim, features;
    std::vector<Index> output_shape;
    Index steps;
  };
  const Case cases[] = {{2, 3, 3, 4, {}, 9},
                        {4, 8, 5, 12, {}, 20},
                        {1, 16, 1, 6, {2, 3}, 13},
                        {8, 32, 32, 24, {}, 40},
                        {3, 1, 2, 5, {}, 3}};
  for (const Case& c : cases) {
    INFO("heads " << c.heads << " key_dim " << c.key_dim << " value_dim " << c.value_dim << " steps " << c.steps);
    MultiHeadAttention<T> m(c.heads, c.key_dim,
                            MultiHeadAttentionOptions().value_dim(c.value_dim).output_shape(c.output_shape).seed(7));
    m.build(c.features);
    const Index batch = 2,
                out = m.compute_output_shape(Shape{1, 1, c.features}).product(2, 2 + (c.output_shape.empty() ? 1 : 2));
    const AnyTensor<T> x = wave<T>(Shape{batch, c.steps, c.features}, static_cast<double>(c.steps));
    AttentionMasks<T> causal;
    causal.use_causal_mask = true;
    const AnyTensor<T> full = m.call(x, x, TensorView<T>(), causal).output;
    auto cache = m.make_cache(c.steps + 3, batch);
    std::vector<T> step(static_cast<std::size_t>(batch * c.features)), y(static_cast<std::size_t>(batch * out));
    for (Index t = 0; t < c.steps; ++t) {
      for (Index b = 0; b < batch; ++b) {
        std::memcpy(step.data() + b * c.features, x.data() + (b * c.steps + t) * c.features,
                    static_cast<std::size_t>(c.features) * sizeof(T));
      }
      m.decode_step(cache, step.data(), y.data());
      CHECK(cache.length() == t + 1);
      for (Index b = 0; b < batch; ++b) {
        INFO("step " << t << " sample " << b);
        CHECK(std::memcmp(y.data() + b * out, full.data() + (b * c.steps + t) * out,
                          static_cast<std::size_t>(out) * sizeof(T)) == 0);
      }
    }
  }
}

TEST_CASE("MultiHeadAttention decode_step: tensors, clear() and errors", "[attention][decode]") {
  MultiHeadAttention<float> m(2, 4, MultiHeadAttentionOptions().name("dec").seed(2));
  CHECK(has(thrown_message<strata::value_error>([&] { (void)m.make_cache(4); }), "MultiHeadAttention 'dec'"));
  m.build(6);
  auto cache = m.make_cache(3);
  CHECK(cache.max_length() == 3);
  CHECK(cache.batch() == 1);
  const AnyTensor<float> x = wave<float>(Shape{1, 3, 6}, 0.5);
  AttentionMasks<float> causal;
  causal.use_causal_mask = true;
  const AnyTensor<float> full = m.call(x, x, TensorView<float>(), causal).output;
  for (int round = 0; round < 2; ++round) {
    for (Index t = 0; t < 3; ++t) {
      const AnyTensor<float> xt =
          AnyTensor<float>::from_values(Shape{1, 1, 6}, std::vector<float>(x.data() + t * 6, x.data() + (t + 1) * 6));
      const AnyTensor<float> y = m.decode_step(cache, TensorView<float>(xt));
      CHECK(y.shape() == Shape{1, 1, 6});
      CHECK(std::memcmp(y.data(), full.data() + t * 6, 6 * sizeof(float)) == 0);
    }
    const auto full_msg = thrown_message<strata::value_error>([&] {
      (void)m.decode_step(cache, TensorView<float>(wave<float>(Shape{1, 6}, 0)));
    });
    CHECK(has(full_msg, "cache is full (max_length 3)"));
    cache.clear();  // a new sequence reuses the room
    CHECK(cache.length() == 0);
  }
  const AnyTensor<float> wrong = wave<float>(Shape{1, 5}, 0);
  const auto shape = thrown_message<strata::shape_error>([&] { (void)m.decode_step(cache, TensorView<float>(wrong)); });
  CHECK(has(shape, "(batch=1, features=6)"));
  CHECK(has(shape, "(1, 5)"));
  MultiHeadAttention<float> other(3, 4, MultiHeadAttentionOptions().seed(1));
  other.build(6);
  CHECK(has(thrown_message<strata::value_error>([&] {
              (void)other.decode_step(cache, TensorView<float>(wave<float>(Shape{1, 6}, 0)));
            }),
            "a cache made by this layer's make_cache"));
  MultiHeadAttention<float> cross(2, 4, MultiHeadAttentionOptions().seed(1));
  cross.build(6, 5, 6);
  auto c2 = cross.make_cache(2);
  CHECK(has(thrown_message<strata::shape_error>([&] {
              (void)cross.decode_step(c2, TensorView<float>(wave<float>(Shape{1, 6}, 0)));
            }),
            "decode_step is self-attention"));
}
