// SPDX-License-Identifier: MIT
// RepeatVector: values and shapes against a naive nested loop, its errors (ranks other than 2,
// n < 1, a wrong output buffer), TimeDistributed(RepeatVector) on rank 3, its Keras description
// (from_config, the dropped mask) through a local Registry -- no strata::io, so no
// strata::registry() -- and the sequence autoencoder it is made for, in a Model assembled in C++.
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/util.hpp"

namespace {

using test::load_error_message;

using strata::AnyLayer;
using strata::AnyTensor;
using strata::ConstTensorMap;
using strata::Dense;
using strata::DenseOptions;
using strata::Index;
using strata::LSTM;
using strata::LSTMOptions;
using strata::RepeatVector;
using strata::RepeatVectorOptions;
using strata::Shape;
using strata::Tensor;
using strata::TimeDistributed;
using strata::TimeDistributedOptions;

using test::has;
using test::thrown_message;

template <class T>
bool same_bits(const T* a, const T* b, Index n) {
  return n == 0 || std::memcmp(a, b, static_cast<std::size_t>(n) * sizeof(T)) == 0;
}

/// The reference: out[b][i][f] = x[b][f] for i < n, written as the nested loop it is.
template <class T>
std::vector<T> naive_repeat(const std::vector<T>& x, Index batch, Index features, Index n) {
  std::vector<T> out(static_cast<std::size_t>(batch * n * features));
  for (Index b = 0; b < batch; ++b) {
    for (Index i = 0; i < n; ++i) {
      for (Index f = 0; f < features; ++f) {
        out[static_cast<std::size_t>((b * n + i) * features + f)] = x[static_cast<std::size_t>(b * features + f)];
      }
    }
  }
  return out;
}

// The layer concept, which TimeDistributed and AnyLayer require, and the ranks it takes.
static_assert(strata::detail::is_layer_v<RepeatVector<float>>);
static_assert(strata::detail::is_layer_v<TimeDistributed<RepeatVector<double>>>);
static_assert(RepeatVector<float>::output_rank(2) == 3);
static_assert(RepeatVector<float>::output_rank(1) == strata::invalid_rank);
static_assert(RepeatVector<float>::output_rank(3) == strata::invalid_rank);
static_assert(TimeDistributed<RepeatVector<float>>::output_rank(3) == 4);
static_assert(TimeDistributed<RepeatVector<float>>::output_rank(4) == strata::invalid_rank);

}  // namespace

TEMPLATE_TEST_CASE("RepeatVector: (B, F) -> (B, n, F) equals the naive nested loop", "[repeat_vector]", float, double) {
  using T = TestType;
  for (int trial = 0; trial < 12; ++trial) {
    const Index batch = test::random_int(1, 5), features = test::random_int(1, 9), n = test::random_int(1, 7);
    const Tensor<T, 2> x = test::random_tensor<T, 2>(batch, features);
    RepeatVector<T> repeat(n);
    INFO("batch " << batch << ", features " << features << ", n " << n);

    const Tensor<T, 3> y = repeat(x);
    REQUIRE(strata::shape_of(y) == (Shape{batch, n, features}));
    const std::vector<T> want = naive_repeat(test::to_vector(x), batch, features, n);
    CHECK(test::to_vector(y) == want);
    bool all_equal = true;
    for (Index b = 0; b < batch; ++b) {
      for (Index i = 0; i < n; ++i) {
        for (Index f = 0; f < features; ++f) all_equal = all_equal && y(b, i, f) == x(b, f);
      }
    }
    CHECK(all_equal);

    // A read-only view, a tensor of run-time rank and raw memory give the same bits.
    const std::vector<T> buffer = test::to_vector(x);
    const Tensor<T, 3> y_map = repeat(ConstTensorMap<T, 2>(buffer.data(), batch, features));
    CHECK(same_bits(y_map.data(), want.data(), y_map.size()));
    const AnyTensor<T> y_any = repeat(AnyTensor<T>(x));
    CHECK(y_any.shape() == (Shape{batch, n, features}));
    CHECK(same_bits(y_any.data(), want.data(), y_any.size()));
    std::vector<T> raw(want.size(), T(-7));
    repeat.forward(x.data(), Shape{batch, features}, raw.data(), static_cast<Index>(raw.size()));
    CHECK(raw == want);
  }
}

TEMPLATE_TEST_CASE("RepeatVector: shapes, n = 1, empty axes, and no weights or state", "[repeat_vector]", float,
                   double) {
  using T = TestType;
  RepeatVector<T> three(3, RepeatVectorOptions().name("rep"));
  CHECK(three.n() == 3);
  CHECK(three.name() == "rep");
  CHECK(three.describe() == "strata::RepeatVector 'rep'");
  CHECK(RepeatVector<T>(4).describe() == "strata::RepeatVector");
  CHECK(three.compute_output_shape(Shape{4, 5}) == (Shape{4, 3, 5}));
  CHECK(three.compute_output_shape(Shape{1, 1}) == (Shape{1, 3, 1}));

  // n = 1 adds an axis of size 1 and keeps the values (in place too: nothing to copy).
  const Tensor<T, 2> x = test::random_tensor<T, 2>(3, 4);
  RepeatVector<T> one(1);
  const Tensor<T, 3> y1 = one(x);
  REQUIRE(strata::shape_of(y1) == (Shape{3, 1, 4}));
  CHECK(same_bits(y1.data(), x.data(), x.size()));
  Tensor<T, 2> in_place = x;
  one.forward(in_place.data(), Shape{3, 4}, in_place.data(), in_place.size());
  CHECK(same_bits(in_place.data(), x.data(), x.size()));

  // An empty batch or empty samples give empty outputs of the right shape.
  CHECK(strata::shape_of(three(Tensor<T, 2>(0, 5))) == (Shape{0, 3, 5}));
  CHECK(strata::shape_of(three(Tensor<T, 2>(2, 0))) == (Shape{2, 3, 0}));

  // A large n: every one of the n copies is the input row.
  const Tensor<T, 2> row = test::random_tensor<T, 2>(2, 3);
  const Tensor<T, 3> many = RepeatVector<T>(257)(row);
  REQUIRE(strata::shape_of(many) == (Shape{2, 257, 3}));
  CHECK(test::to_vector(many) == naive_repeat(test::to_vector(row), 2, 3, 257));

  CHECK(three.built());
  CHECK(three.get_weights().empty());
  CHECK(three.count_params() == 0);
  CHECK_FALSE(three.carries_state());
  CHECK(three.output_count() == 1);
  CHECK_NOTHROW(three.set_weights({}));
  const std::string weights_msg =
      thrown_message<strata::shape_error>([&] { three.set_weights({AnyTensor<T>(test::random_tensor<T, 1>(3))}); });
  CHECK(has(weights_msg, "strata::RepeatVector 'rep'"));
  CHECK(has(weights_msg, "empty list"));
}

TEST_CASE("RepeatVector: errors name the layer and the shape", "[repeat_vector][errors]") {
  RepeatVector<float> repeat(2, RepeatVectorOptions().name("rep"));

  // Rank 1 and rank 3 inputs (a compile error with a typed tensor; run-time rank here).
  const std::string rank1 =
      thrown_message<strata::shape_error>([&] { (void)repeat(AnyTensor<float>(test::random_tensor<float, 1>(5))); });
  CHECK(has(rank1, "strata::RepeatVector 'rep'"));
  CHECK(has(rank1, "rank 2 (batch, features)"));
  CHECK(has(rank1, "(5,)"));
  const std::string rank3 = thrown_message<strata::shape_error>(
      [&] { (void)repeat(AnyTensor<float>(test::random_tensor<float, 3>(2, 3, 4))); });
  CHECK(has(rank3, "strata::RepeatVector 'rep'"));
  CHECK(has(rank3, "(2, 3, 4)"));
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)repeat.compute_output_shape(Shape{}); }), "rank 2"));
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)repeat(AnyTensor<float>()); }), "empty"));

  // n < 1.
  const std::string zero =
      thrown_message<strata::value_error>([] { RepeatVector<float>(0, RepeatVectorOptions().name("none")); });
  CHECK(has(zero, "strata::RepeatVector 'none'"));
  CHECK(has(zero, "n (the number of repetitions) must be >= 1; got 0"));
  CHECK(has(thrown_message<strata::value_error>([] { RepeatVector<double>(-3); }), "got -3"));

  // An output buffer of the wrong size, too small and too large.
  const Tensor<float, 2> x = test::random_tensor<float, 2>(2, 3);
  std::vector<float> out(13);
  const std::string small = thrown_message<strata::shape_error>([&] {
    repeat.forward(x.data(), Shape{2, 3}, out.data(), 11);
  });
  CHECK(has(small, "strata::RepeatVector 'rep'"));
  CHECK(has(small, "holds 11 values"));
  CHECK(has(small, "(2, 2, 3) needs 12"));
  CHECK(has(thrown_message<strata::shape_error>([&] {
              repeat.forward(x.data(), Shape{2, 3}, out.data(), 13);
            }),
            "holds 13 values"));
  CHECK_THROWS_AS(repeat.forward(x.data(), Shape{6}, out.data(), 12), strata::shape_error);
}

TEMPLATE_TEST_CASE("TimeDistributed(RepeatVector) on (B, T, F) gives (B, T, n, F), RepeatVector per time step",
                   "[repeat_vector][time_distributed]", float, double) {
  using T = TestType;
  for (int trial = 0; trial < 6; ++trial) {
    const Index batch = test::random_int(1, 4), time = test::random_int(1, 5);
    const Index features = test::random_int(1, 6), n = test::random_int(1, 4);
    const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, time, features);
    RepeatVector<T> repeat(n);
    TimeDistributed<RepeatVector<T>> td(repeat);
    INFO("input " << strata::shape_of(x) << ", n " << n);

    const Tensor<T, 4> y = td(x);
    REQUIRE(strata::shape_of(y) == (Shape{batch, time, n, features}));
    bool all_equal = true;
    for (Index b = 0; b < batch; ++b) {
      for (Index t = 0; t < time; ++t) {
        for (Index i = 0; i < n; ++i) {
          for (Index f = 0; f < features; ++f) all_equal = all_equal && y(b, t, i, f) == x(b, t, f);
        }
      }
    }
    CHECK(all_equal);
    // The same as RepeatVector on every slice x[:, t].
    for (Index t = 0; t < time; ++t) {
      const Tensor<T, 2> slice = x.template chip<1>(t);
      const Tensor<T, 3> expected = repeat(slice);
      const Tensor<T, 3> got = y.template chip<1>(t);
      REQUIRE(strata::shape_of(got) == strata::shape_of(expected));
      CHECK(same_bits(got.data(), expected.data(), got.size()));
    }
  }

  // A rank-4 input gives rank-3 slices, which RepeatVector rejects; the message shows the slice.
  TimeDistributed<RepeatVector<T>> td(RepeatVector<T>(2, RepeatVectorOptions().name("rep")),
                                      TimeDistributedOptions().name("td"));
  const std::string msg =
      thrown_message<strata::shape_error>([&] { (void)td(AnyTensor<T>(test::random_tensor<T, 4>(2, 3, 4, 5))); });
  CHECK(has(msg, "strata::TimeDistributed(RepeatVector 'rep') 'td'"));
  CHECK(has(msg, "slices of shape (2, 4, 5)"));
  CHECK(has(msg, "rank 2"));
}

TEMPLATE_TEST_CASE("RepeatVector without strata::registry(): from_config through a local Registry, masks dropped",
                   "[repeat_vector][registry]", float, double) {
  using T = TestType;
  // This program does not link strata::io, which defines strata::registry(): the layer, its Keras
  // description and a Registry of one's own are all header-only.
  strata::Registry<T> registry;
  registry.template add<RepeatVector<T>>();
  REQUIRE(registry.find("RepeatVector") != nullptr);
  CHECK(registry.names() == std::vector<std::string>{"RepeatVector"});

  strata::Config config = strata::Config::dict();
  config.set("name", "repeat_vector_1");
  config.set("trainable", true);
  config.set("n", 4);
  const strata::LayerConfig<T> layer_config(registry, "RepeatVector", config, strata::KerasVersion{}, "test");
  AnyLayer<T> layer = registry.build(layer_config);
  CHECK(std::string(layer.keras_class_name()) == "RepeatVector");
  CHECK(layer.name() == "repeat_vector_1");
  const RepeatVector<T>* typed = layer.template target<RepeatVector<T>>();
  REQUIRE(typed != nullptr);
  CHECK(typed->n() == 4);
  CHECK(layer.weight_count() == 0);
  CHECK(layer.weight_groups({Shape{2, 3}}).empty());
  CHECK_FALSE(layer.takes_mask());
  CHECK(layer.output_shapes({Shape{2, 3}}) == std::vector<Shape>{Shape{2, 4, 3}});

  const Tensor<T, 2> x = test::random_tensor<T, 2>(2, 3);
  const AnyTensor<T> y = layer(strata::TensorView<T>(AnyTensor<T>(x)));
  CHECK(y.shape() == (Shape{2, 4, 3}));
  CHECK(test::to_vector(y) == naive_repeat(test::to_vector(x), 2, 3, 4));

  // Keras 3: RepeatVector does not support masking, so a mask stops at it.
  CHECK(layer.output_mask_ranks({Shape{2, 3}}, {1}) == std::vector<int>{0});
  strata::GraphCall<T> call;
  strata::GraphInput<T> input;
  const AnyTensor<T> x_any(x);
  input.tensor = strata::TensorView<T>(x_any);
  strata::Mask mask(2, 3);
  mask.setConstant(true);
  input.mask = std::make_shared<const strata::Mask>(mask);
  call.inputs.push_back(input);
  layer.call_graph(call);
  REQUIRE(call.outputs.size() == 1);
  REQUIRE(call.masks.size() == 1);
  CHECK(call.masks[0] == nullptr);
  CHECK(test::to_vector(call.outputs[0]) == test::to_vector(y));

  // Configs the layer refuses: n out of range, of the wrong type, or missing.
  const auto build_with = [&](strata::Config n) {
    strata::Config bad = strata::Config::dict();
    bad.set("name", "rep");
    if (!n.is_null()) bad.set("n", std::move(n));
    const strata::LayerConfig<T> bad_config(registry, "RepeatVector", bad, strata::KerasVersion{}, "test");
    return registry.build(bad_config);
  };
  const std::string zero = load_error_message<strata::model_error>([&] { (void)build_with(0); });
  CHECK(has(zero, "layer 'rep' (RepeatVector)"));
  CHECK(has(zero, "option 'n' must be between 1"));
  CHECK_THROWS_AS(build_with(2.5), strata::io_error);
  CHECK_THROWS_AS(build_with("3"), strata::io_error);
  CHECK(has(load_error_message<strata::io_error>([&] { (void)build_with(nullptr); }), "the config has no 'n'"));
}

TEST_CASE("RepeatVector in the sequence autoencoder: Dense -> RepeatVector -> LSTM(seq) -> TimeDistributed(Dense)",
          "[repeat_vector][model]") {
  // Keras: Dense(8, tanh) -> RepeatVector(6) -> LSTM(5, return_sequences=True) -> TimeDistributed(Dense(3))
  // on (batch, 4), assembled as a Model and called by hand.
  const Index batch = 3, features = 4, steps = 6;
  Dense<float> encode(8, DenseOptions().input_dim(features).activation("tanh").seed(1).name("dense"));
  RepeatVector<float> repeat(steps, RepeatVectorOptions().name("repeat_vector"));
  LSTM<float> decode(5, LSTMOptions().input_dim(8).return_sequences(true).seed(2).name("lstm"));
  TimeDistributed<Dense<float>> head(Dense<float>(3, DenseOptions().input_dim(5).seed(3).name("dense_1")),
                                     TimeDistributedOptions().name("td"));

  strata::Model<float> model("autoencoder", "Sequential");
  const auto x_in = model.add_input("x", {-1, features});
  const auto e = model.add(encode, x_in);
  const auto r = model.add(repeat, e);
  const auto d = model.add(decode, r);
  model.set_outputs({model.add(head, d)});
  CHECK(model.output_shapes() == std::vector<strata::DeclaredShape>{{-1, steps, 3}});
  CHECK(model.count_params() == encode.count_params() + decode.count_params() + head.count_params());

  const Tensor<float, 2> x = test::random_tensor<float, 2>(batch, features);
  const Tensor<float, 2> code = encode(x);
  const Tensor<float, 3> repeated = repeat(code);
  const Tensor<float, 3> by_hand = head(decode(repeated).get<3>());
  const Tensor<float, 3> y = model.predict(x);
  REQUIRE(strata::shape_of(y) == (Shape{batch, steps, 3}));
  CHECK(same_bits(y.data(), by_hand.data(), y.size()));

  // The LSTM sees the naive repetition of the code: the same input gives the same bits.
  const std::vector<float> naive = naive_repeat(test::to_vector(code), batch, 8, steps);
  const Tensor<float, 3> by_naive = head(decode(ConstTensorMap<float, 3>(naive.data(), batch, steps, 8)).get<3>());
  CHECK(same_bits(by_naive.data(), by_hand.data(), by_hand.size()));
  CHECK(model.layer<RepeatVector<float>>("repeat_vector").n() == steps);
}
