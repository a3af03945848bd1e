// SPDX-License-Identifier: MIT
// The weightless layers Flatten, Reshape, ActivationLayer and Dropout: shapes and values against
// naive index loops, Keras' rank-1 and -1 rules, errors with their types and messages, the layer
// concept (no weights, no state), and what they are for: TimeDistributed(Flatten) vs Flatten on
// (B, T, H, W), TimeDistributed(Reshape), and Flatten -> Dense chains.
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/naive.hpp"
#include "support/util.hpp"

namespace {

using strata::ActivationLayer;
using strata::ActivationLayerOptions;
using strata::AnyTensor;
using strata::ConstTensorMap;
using strata::Dense;
using strata::DenseOptions;
using strata::Dropout;
using strata::DropoutOptions;
using strata::Flatten;
using strata::FlattenOptions;
using strata::Index;
using strata::Reshape;
using strata::ReshapeOptions;
using strata::Shape;
using strata::Tensor;
using strata::TimeDistributed;
using strata::TimeDistributedOptions;
using strata::Weights;

using test::has;
using test::thrown_message;

template <class T>
bool same_bits(const T* a, const T* b, Index n) {
  return n == 0 || std::memcmp(a, b, static_cast<std::size_t>(n) * sizeof(T)) == 0;
}

bool close(double a, double b, double tol) {
  if (std::isnan(a) || std::isnan(b)) return false;
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::abs(a - b) <= tol * (1.0 + std::abs(b));
}

// Every activation name strata accepts, aliases included, and the formula naive:: knows it by.
std::vector<std::string> accepted_names() {
  std::vector<std::string> names;
  for (const auto& entry : strata::detail::activation_names) names.emplace_back(entry.name);
  return names;
}
std::string formula_name(const std::string& name) { return name == "gelu_new" ? "gelu_approximate" : name; }

// Random dims for a rank-R tensor: batch 1-4, other axes from a list with 1 and odd sizes.
template <int R>
std::array<Index, R> random_dims() {
  static const Index choices[] = {1, 1, 2, 3, 5, 7};
  std::array<Index, R> d{};
  d[0] = test::random_int(1, 4);
  for (int i = 1; i < R; ++i) d[static_cast<std::size_t>(i)] = choices[test::random_int(0, 5)];
  return d;
}

// Calls f(index) for every index of a tensor with these dims, in row-major order.
template <std::size_t R, class F>
void for_each_index(const std::array<Index, R>& dims, F&& f) {
  for (Index d : dims) {
    if (d == 0) return;
  }
  std::array<Index, R> index{};
  for (;;) {
    f(index);
    int axis = static_cast<int>(R) - 1;
    while (axis >= 0 && ++index[static_cast<std::size_t>(axis)] == dims[static_cast<std::size_t>(axis)]) {
      index[static_cast<std::size_t>(axis)] = 0;
      --axis;
    }
    if (axis < 0) return;
  }
}

// The row-major position of index[first..R) within dims[first..R), computed by hand.
template <std::size_t R>
Index flat_position(const std::array<Index, R>& index, const std::array<Index, R>& dims, std::size_t first) {
  Index p = 0;
  for (std::size_t a = first; a < R; ++a) p = p * dims[a] + index[a];
  return p;
}

/// Flatten of a rank-R tensor: shape (B, prod) and y(b, j) == x(b, i1, ..., ik) at the row-major j.
template <class T, int R>
void check_flatten() {
  const auto dims = random_dims<R>();
  Tensor<T, R> x(dims);
  test::fill_uniform(x.data(), x.size());
  Flatten<T> flatten;
  const Tensor<T, 2> y = flatten(x);
  Index per_sample = 1;
  for (int i = 1; i < R; ++i) per_sample *= dims[static_cast<std::size_t>(i)];
  INFO("input " << strata::shape_of(x));
  REQUIRE(strata::shape_of(y) == (Shape{dims[0], per_sample}));
  bool all_equal = true;
  for_each_index(dims, [&](const std::array<Index, R>& index) {
    all_equal = all_equal && y(index[0], flat_position(index, dims, 1)) == x(index);
  });
  CHECK(all_equal);

  // A read-only map and a tensor of run-time rank give the same shape and bits.
  const std::vector<T> buffer = test::to_vector(x);
  const Tensor<T, 2> y_map = flatten(ConstTensorMap<T, R>(buffer.data(), dims));
  CHECK(strata::shape_of(y_map) == strata::shape_of(y));
  CHECK(same_bits(y_map.data(), y.data(), y.size()));
  const AnyTensor<T> y_any = flatten(AnyTensor<T>(x));
  CHECK(y_any.shape() == strata::shape_of(y));
  CHECK(same_bits(y_any.data(), y.data(), y.size()));
}

/// Every activation on a rank-R tensor against naive::activate_rows over the last axis.
template <class T, int R>
void check_activation_layer(const std::string& name) {
  const auto dims = random_dims<R>();
  Tensor<T, R> x(dims);
  test::fill_uniform(x.data(), x.size(), T(-3), T(3));
  ActivationLayer<T> layer(name);
  const Tensor<T, R> y = layer(x);
  INFO("activation " << name << ", input " << strata::shape_of(x));
  REQUIRE(strata::shape_of(y) == strata::shape_of(x));
  const std::size_t cols = R >= 2 ? static_cast<std::size_t>(dims[R - 1]) : 1;
  const std::size_t rows = static_cast<std::size_t>(x.size()) / cols;
  std::vector<T> want = test::to_vector(x);
  naive::activate_rows(formula_name(name), want, rows, cols);
  bool all_close = true;
  for (Index i = 0; i < y.size() && all_close; ++i) {
    all_close = close(y.data()[i], want[static_cast<std::size_t>(i)], test::tolerance<T>());
    if (!all_close) {
      INFO("element " << i << ": strata " << y.data()[i] << ", naive " << want[static_cast<std::size_t>(i)]);
      CHECK(all_close);
    }
  }
  CHECK(all_close);
  // The enum constructor is the same layer.
  const Tensor<T, R> y_enum = ActivationLayer<T>(layer.activation())(x);
  CHECK(same_bits(y_enum.data(), y.data(), y.size()));
}

template <class T, int R>
void check_dropout_identity(double rate) {
  const auto dims = random_dims<R>();
  Tensor<T, R> x(dims);
  test::fill_uniform(x.data(), x.size());
  Dropout<T> dropout(rate);
  const Tensor<T, R> y = dropout(x);
  INFO("rate " << rate << ", input " << strata::shape_of(x));
  REQUIRE(strata::shape_of(y) == strata::shape_of(x));
  CHECK(same_bits(y.data(), x.data(), x.size()));
  const AnyTensor<T> y_any = dropout(AnyTensor<T>(x));
  CHECK(y_any.shape() == strata::shape_of(x));
  CHECK(same_bits(y_any.data(), x.data(), x.size()));
}

// The layer concept, which TimeDistributed checks.
static_assert(strata::detail::is_layer_v<Flatten<float>>);
static_assert(strata::detail::is_layer_v<Reshape<double>>);
static_assert(strata::detail::is_layer_v<ActivationLayer<float>>);
static_assert(strata::detail::is_layer_v<Dropout<double>>);
static_assert(strata::detail::is_layer_v<TimeDistributed<Flatten<float>>>);
static_assert(Flatten<float>::output_rank(1) == 2 && Flatten<float>::output_rank(5) == 2);
static_assert(Flatten<float>::output_rank(0) == strata::invalid_rank);
static_assert(TimeDistributed<Flatten<float>>::output_rank(4) == 3);
static_assert(Reshape<float>::output_rank(3) == strata::dynamic_rank);
static_assert(TimeDistributed<Reshape<float>>::output_rank(3) == strata::dynamic_rank);
static_assert(ActivationLayer<float>::output_rank(1) == 1 && ActivationLayer<float>::output_rank(4) == 4);
static_assert(Dropout<float>::output_rank(3) == 3 && Dropout<float>::output_rank(0) == strata::invalid_rank);

}  // namespace

// ---------------------------------------------------------------------------------------------
// Flatten

TEMPLATE_TEST_CASE("Flatten: (B, d1..dk) -> (B, d1*...*dk) in row-major order, ranks 2-6", "[shape][flatten]", float,
                   double) {
  for (int trial = 0; trial < 4; ++trial) {
    check_flatten<TestType, 2>();
    check_flatten<TestType, 3>();
    check_flatten<TestType, 4>();
    check_flatten<TestType, 5>();
    check_flatten<TestType, 6>();
  }
}

TEMPLATE_TEST_CASE("Flatten: rank 1 (B,) becomes (B, 1) as in Keras 3, empty axes stay empty", "[shape][flatten]",
                   float, double) {
  using T = TestType;
  Flatten<T> flatten;
  const Tensor<T, 1> x = test::random_tensor<T, 1>(5);
  const Tensor<T, 2> y = flatten(x);
  REQUIRE(strata::shape_of(y) == (Shape{5, 1}));
  for (Index b = 0; b < 5; ++b) CHECK(y(b, 0) == x(b));
  CHECK(flatten(AnyTensor<T>(x)).shape() == (Shape{5, 1}));

  CHECK(strata::shape_of(flatten(Tensor<T, 3>(0, 3, 4))) == (Shape{0, 12}));
  CHECK(strata::shape_of(flatten(Tensor<T, 3>(2, 0, 5))) == (Shape{2, 0}));
  CHECK(flatten.compute_output_shape(Shape{3, 2, 2, 2}) == (Shape{3, 8}));
}

TEST_CASE("Flatten: data_format, names and errors", "[shape][flatten][errors]") {
  CHECK(Flatten<float>(FlattenOptions().data_format("channels_last")).data_format() == "channels_last");
  const std::string first = thrown_message<strata::value_error>(
      [] { Flatten<float>(FlattenOptions().data_format("channels_first").name("flat")); });
  CHECK(has(first, "strata::Flatten 'flat'"));
  CHECK(has(first, "channels_first"));
  const std::string unknown =
      thrown_message<strata::value_error>([] { Flatten<float>(FlattenOptions().data_format("NHWC")); });
  CHECK(has(unknown, "unknown data_format 'NHWC'"));

  Flatten<float> flatten(FlattenOptions().name("flat"));
  CHECK(flatten.name() == "flat");
  CHECK(flatten.describe() == "strata::Flatten 'flat'");
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)flatten(AnyTensor<float>()); }), "empty"));
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)flatten.compute_output_shape(Shape{}); }), "rank >= 1"));
  const Tensor<float, 3> x = test::random_tensor<float, 3>(2, 3, 4);
  std::vector<float> out(23);
  const std::string size_msg = thrown_message<strata::shape_error>([&] {
    flatten.forward(x.data(), Shape{2, 3, 4}, out.data(), 23);
  });
  CHECK(has(size_msg, "strata::Flatten 'flat'"));
  CHECK(has(size_msg, "(2, 12)"));
}

TEMPLATE_TEST_CASE("TimeDistributed(Flatten) vs Flatten on (B, T, H, W): other shapes, the same numbers in memory",
                   "[shape][flatten][time_distributed]", float, double) {
  using T = TestType;
  for (int trial = 0; trial < 6; ++trial) {
    const Index batch = test::random_int(1, 4), time = test::random_int(1, 5);
    const Index height = test::random_int(1, 6), width = test::random_int(1, 6);
    const Tensor<T, 4> x = test::random_tensor<T, 4>(batch, time, height, width);
    Flatten<T> flatten;
    TimeDistributed<Flatten<T>> td(flatten);

    const Tensor<T, 3> wrapped = td(x);      // Keras: TimeDistributed(Flatten()) -> (B, T, H*W)
    const Tensor<T, 2> direct = flatten(x);  // Keras: Flatten() -> (B, T*H*W)
    INFO("input " << strata::shape_of(x));
    REQUIRE(strata::shape_of(wrapped) == (Shape{batch, time, height * width}));
    REQUIRE(strata::shape_of(direct) == (Shape{batch, time * height * width}));
    REQUIRE(wrapped.size() == direct.size());
    CHECK(same_bits(wrapped.data(), direct.data(), direct.size()));
    CHECK(same_bits(wrapped.data(), x.data(), x.size()));

    bool all_equal = true;
    for (Index b = 0; b < batch; ++b) {
      for (Index t = 0; t < time; ++t) {
        for (Index h = 0; h < height; ++h) {
          for (Index w = 0; w < width; ++w) {
            all_equal = all_equal && wrapped(b, t, h * width + w) == x(b, t, h, w);
            all_equal = all_equal && direct(b, (t * height + h) * width + w) == x(b, t, h, w);
          }
        }
      }
    }
    CHECK(all_equal);

    // And TimeDistributed is Flatten applied to every slice x[:, t].
    for (Index t = 0; t < time; ++t) {
      const Tensor<T, 3> slice = x.template chip<1>(t);
      const Tensor<T, 2> y = flatten(slice);
      const Tensor<T, 2> expected = wrapped.template chip<1>(t);
      REQUIRE(strata::shape_of(y) == strata::shape_of(expected));
      CHECK(same_bits(y.data(), expected.data(), y.size()));
    }
  }
}

TEST_CASE("TimeDistributed(Flatten): rank 3 is unchanged, rank 5 nests, rank 2 is rejected",
          "[shape][flatten][time_distributed]") {
  TimeDistributed<Flatten<float>> td(Flatten<float>(FlattenOptions().name("flat")),
                                     TimeDistributedOptions().name("td"));
  const Tensor<float, 3> x3 = test::random_tensor<float, 3>(2, 3, 4);
  CHECK(strata::shape_of(td(x3)) == (Shape{2, 3, 4}));              // each slice (2, 4) is already flat
  CHECK(strata::shape_of(Flatten<float>()(x3)) == (Shape{2, 12}));  // Flatten alone merges T too

  const Tensor<float, 5> x5 = test::random_tensor<float, 5>(2, 3, 4, 5, 6);
  CHECK(strata::shape_of(td(x5)) == (Shape{2, 3, 120}));
  TimeDistributed<TimeDistributed<Flatten<float>>> nested(TimeDistributed<Flatten<float>>{Flatten<float>()});
  const Tensor<float, 4> y5 = nested(x5);
  CHECK(strata::shape_of(y5) == (Shape{2, 3, 4, 30}));
  CHECK(same_bits(y5.data(), x5.data(), x5.size()));

  const std::string msg =
      thrown_message<strata::shape_error>([&] { (void)td(AnyTensor<float>(test::random_tensor<float, 2>(2, 3))); });
  CHECK(has(msg, "strata::TimeDistributed(Flatten 'flat') 'td'"));
  CHECK(has(msg, "rank >= 3"));
}

TEMPLATE_TEST_CASE("Flatten -> Dense chains match naive::dense on the flattened input", "[shape][flatten][dense]",
                   float, double) {
  using T = TestType;
  for (int trial = 0; trial < 4; ++trial) {
    // Keras: Flatten() then Dense(units) on (B, H, W, C), the classic CNN head.
    const Index batch = test::random_int(1, 5), height = test::random_int(1, 4), width = test::random_int(1, 4);
    const Index channels = test::random_int(1, 3), units = test::random_int(1, 9);
    const Index features = height * width * channels;
    const Tensor<T, 4> x = test::random_tensor<T, 4>(batch, height, width, channels);
    Flatten<T> flatten;
    Dense<T> dense(units, DenseOptions().input_dim(features).activation("tanh").seed(static_cast<unsigned>(trial)));
    const Tensor<T, 2> y = dense(flatten(x));
    REQUIRE(strata::shape_of(y) == (Shape{batch, units}));
    const std::vector<T> want = naive::dense(test::to_vector(x), static_cast<std::size_t>(batch),
                                             static_cast<std::size_t>(features), test::to_vector(dense.kernel()),
                                             test::to_vector(dense.bias()), static_cast<std::size_t>(units), "tanh");
    CHECK(test::max_abs_diff(test::to_vector(y), want) <= test::tolerance<T>());

    // Reshape((-1,)) is the same flattening.
    const Tensor<T, 2> via_reshape = Reshape<T>({-1})(x);
    CHECK(same_bits(dense(via_reshape).data(), y.data(), y.size()));

    // Keras: TimeDistributed(Flatten()) then Dense(units) on (B, T, H, W): one Dense per frame.
    const Index time = test::random_int(1, 4);
    const Tensor<T, 4> frames = test::random_tensor<T, 4>(batch, time, height, width);
    Dense<T> per_frame(units, DenseOptions().input_dim(height * width).seed(7));
    TimeDistributed<Flatten<T>> td(flatten);
    const Tensor<T, 3> z = per_frame(td(frames));
    REQUIRE(strata::shape_of(z) == (Shape{batch, time, units}));
    const std::vector<T> want_frames =
        naive::dense(test::to_vector(frames), static_cast<std::size_t>(batch * time),
                     static_cast<std::size_t>(height * width), test::to_vector(per_frame.kernel()),
                     test::to_vector(per_frame.bias()), static_cast<std::size_t>(units), "linear");
    CHECK(test::max_abs_diff(test::to_vector(z), want_frames) <= test::tolerance<T>());
    for (Index t = 0; t < time; ++t) {
      const Tensor<T, 3> slice = frames.template chip<1>(t);
      const Tensor<T, 2> zt = per_frame(flatten(slice));
      const Tensor<T, 2> expected = z.template chip<1>(t);
      CHECK(same_bits(zt.data(), expected.data(), zt.size()));
    }
  }
}

TEMPLATE_TEST_CASE("A weightless chain: Reshape -> Dropout -> Flatten -> Dense -> ActivationLayer(softmax)",
                   "[shape][dense]", float, double) {
  using T = TestType;
  // Keras: Reshape((4, 3)), Dropout(0.5), Flatten(), Dense(5), Activation("softmax") on (B, 12).
  const Tensor<T, 2> x = test::random_tensor<T, 2>(6, 12);
  Reshape<T> reshape({4, 3});
  Dropout<T> dropout(0.5);
  Flatten<T> flatten;
  Dense<T> dense(5, DenseOptions().input_dim(12).seed(3));
  ActivationLayer<T> softmax("softmax");
  const Tensor<T, 3> a = reshape(x);
  const Tensor<T, 3> b = dropout(a);
  const Tensor<T, 2> c = flatten(b);
  const Tensor<T, 2> y = softmax(dense(c));
  REQUIRE(strata::shape_of(y) == (Shape{6, 5}));
  Dense<T> fused(5, DenseOptions().input_dim(12).seed(3).activation("softmax"));
  const Tensor<T, 2> expected = fused(x);
  CHECK(same_bits(y.data(), expected.data(), y.size()));
}

// ---------------------------------------------------------------------------------------------
// Reshape

TEMPLATE_TEST_CASE("Reshape: target shapes with and without -1, values in row-major order", "[shape][reshape]", float,
                   double) {
  using T = TestType;
  const Index batch = test::random_int(1, 4);
  const Tensor<T, 2> x = test::random_tensor<T, 2>(batch, 12);

  // Keras: Reshape((3, 4)) on (None, 12) -> (None, 3, 4).
  Reshape<T> to_grid({3, 4});
  const Tensor<T, 3> grid = to_grid(x);
  REQUIRE(strata::shape_of(grid) == (Shape{batch, 3, 4}));
  bool all_equal = true;
  for (Index b = 0; b < batch; ++b) {
    for (Index i = 0; i < 3; ++i) {
      for (Index j = 0; j < 4; ++j) all_equal = all_equal && grid(b, i, j) == x(b, i * 4 + j);
    }
  }
  CHECK(all_equal);

  // Keras: Reshape((-1, 2, 2)) -> (None, 3, 2, 2).
  const Tensor<T, 4> blocks = Reshape<T>({-1, 2, 2})(x);
  REQUIRE(strata::shape_of(blocks) == (Shape{batch, 3, 2, 2}));
  all_equal = true;
  for (Index b = 0; b < batch; ++b) {
    for (Index i = 0; i < 3; ++i) {
      for (Index j = 0; j < 2; ++j) {
        for (Index k = 0; k < 2; ++k) all_equal = all_equal && blocks(b, i, j, k) == x(b, (i * 2 + j) * 2 + k);
      }
    }
  }
  CHECK(all_equal);

  // Back to (None, 12), with the -1 in the last place, from a typed and from a run-time-rank input.
  Reshape<T> back({-1});
  const Tensor<T, 2> flat = back(blocks);
  REQUIRE(strata::shape_of(flat) == (Shape{batch, 12}));
  CHECK(same_bits(flat.data(), x.data(), x.size()));
  const AnyTensor<T> flat_any = back(AnyTensor<T>(blocks));
  CHECK(flat_any.rank() == 2);
  CHECK(same_bits(flat_any.data(), x.data(), x.size()));
  CHECK(strata::shape_of(Reshape<T>({2, -1})(grid).template get<3>()) == (Shape{batch, 2, 6}));

  // Rank-1 input (B,): one value per sample; Reshape(()) goes back to (B,).
  const Tensor<T, 1> v = test::random_tensor<T, 1>(batch);
  const Tensor<T, 3> v3 = Reshape<T>({1, 1})(v);
  CHECK(strata::shape_of(v3) == (Shape{batch, 1, 1}));
  const Tensor<T, 1> v1 = Reshape<T>({})(v3);
  CHECK(strata::shape_of(v1) == (Shape{batch}));
  CHECK(same_bits(v1.data(), v.data(), v.size()));

  // Empty batch and empty samples.
  CHECK(Reshape<T>({3, 4})(Tensor<T, 2>(0, 12)).shape() == (Shape{0, 3, 4}));
  CHECK(Reshape<T>({-1, 3})(Tensor<T, 3>(2, 0, 5)).shape() == (Shape{2, 0, 3}));
  CHECK(Reshape<T>({0, 7})(Tensor<T, 2>(2, 0)).shape() == (Shape{2, 0, 7}));

  CHECK((to_grid.target_shape() == std::vector<Index>{3, 4}));
  CHECK((Reshape<T>({-1, 2, 2}).target_shape() == std::vector<Index>{-1, 2, 2}));
}

TEST_CASE("Reshape: errors name the layer, the target shape and the input shape", "[shape][reshape][errors]") {
  Reshape<float> five({5, -1}, ReshapeOptions().name("r"));
  const Tensor<float, 3> x = test::random_tensor<float, 3>(2, 3, 4);
  const std::string indivisible = thrown_message<strata::shape_error>([&] { (void)five(x); });
  CHECK(has(indivisible, "strata::Reshape 'r'"));
  CHECK(has(indivisible, "target shape (5, -1)"));
  CHECK(has(indivisible, "input of shape (2, 3, 4)"));
  CHECK(has(indivisible, "12"));

  Reshape<float> fixed({5, 3});
  const std::string mismatch = thrown_message<strata::shape_error>([&] { (void)fixed(AnyTensor<float>(x)); });
  CHECK(has(mismatch, "strata::Reshape:"));
  CHECK(has(mismatch, "target shape (5, 3)"));
  CHECK(has(mismatch, "(2, 3, 4)"));
  CHECK(has(mismatch, "12 values"));
  CHECK(has(mismatch, "15"));
  CHECK(has(thrown_message<strata::shape_error>([] { (void)Reshape<float>({7})(Tensor<float, 1>(3)); }),
            "target shape (7,)"));
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)fixed.compute_output_shape(Shape{}); }), "rank >= 1"));

  CHECK(has(thrown_message<strata::value_error>([] { Reshape<float>({-1, 2, -1}); }), "more than one -1"));
  CHECK(has(thrown_message<strata::value_error>([] { Reshape<float>({-2, 3}); }), "got -2"));
  CHECK(has(thrown_message<strata::value_error>([] { Reshape<float>({0, -1}); }), "cannot be inferred"));
  CHECK(has(thrown_message<strata::value_error>([] { Reshape<float>({1, 1, 1, 1, 1, 1, 1, 1}); }), "at most 7"));
  CHECK_NOTHROW(Reshape<float>({1, 1, 1, 1, 1, 1, -1}));
}

TEMPLATE_TEST_CASE("TimeDistributed(Reshape) reshapes every slice, Reshape alone reshapes the whole sample",
                   "[shape][reshape][time_distributed]", float, double) {
  using T = TestType;
  const Index batch = test::random_int(1, 4), time = test::random_int(1, 5);
  const Tensor<T, 3> x = test::random_tensor<T, 3>(batch, time, 12);
  Reshape<T> reshape({3, -1});
  TimeDistributed<Reshape<T>> td(reshape);

  // Keras: TimeDistributed(Reshape((3, -1))) -> (B, T, 3, 4); Reshape((3, -1)) -> (B, 3, 4T).
  const Tensor<T, 4> wrapped = td(x);
  const Tensor<T, 3> direct = reshape(x);
  REQUIRE(strata::shape_of(wrapped) == (Shape{batch, time, 3, 4}));
  REQUIRE(strata::shape_of(direct) == (Shape{batch, 3, 4 * time}));
  CHECK(same_bits(wrapped.data(), x.data(), x.size()));
  CHECK(same_bits(direct.data(), x.data(), x.size()));
  bool all_equal = true;
  for (Index b = 0; b < batch; ++b) {
    for (Index t = 0; t < time; ++t) {
      for (Index i = 0; i < 3; ++i) {
        for (Index j = 0; j < 4; ++j) all_equal = all_equal && wrapped(b, t, i, j) == x(b, t, i * 4 + j);
      }
    }
  }
  CHECK(all_equal);
  for (Index t = 0; t < time; ++t) {
    const Tensor<T, 2> slice = x.template chip<1>(t);
    const Tensor<T, 3> y = reshape(slice);
    const Tensor<T, 3> expected = wrapped.template chip<1>(t);
    REQUIRE(strata::shape_of(y) == strata::shape_of(expected));
    CHECK(same_bits(y.data(), expected.data(), y.size()));
  }

  // The wrapper's error shows the input and the slice the Reshape rejects.
  TimeDistributed<Reshape<T>> td5(Reshape<T>({5, -1}));
  const std::string msg = thrown_message<strata::shape_error>([&] { (void)td5(x); });
  CHECK(has(msg, "strata::TimeDistributed(Reshape)"));
  CHECK(has(msg, "slices of shape (" + std::to_string(batch) + ", 12)"));
  CHECK(has(msg, "target shape (5, -1)"));
}

// ---------------------------------------------------------------------------------------------
// ActivationLayer

TEMPLATE_TEST_CASE("ActivationLayer: every activation matches naive::activate_rows, ranks 1-4", "[shape][activation]",
                   float, double) {
  using T = TestType;
  for (const std::string& name : accepted_names()) {
    if (strata::is_elementwise(*strata::find_activation(name))) check_activation_layer<T, 1>(name);
    check_activation_layer<T, 2>(name);
    check_activation_layer<T, 3>(name);
    check_activation_layer<T, 4>(name);
  }
  // Softmax rows sum to one over the last axis.
  const Tensor<T, 3> x = test::random_tensor<T, 3>(2, 3, 5);
  const Tensor<T, 3> y = ActivationLayer<T>("softmax")(x);
  for (Index b = 0; b < 2; ++b) {
    for (Index t = 0; t < 3; ++t) {
      T sum = 0;
      for (Index j = 0; j < 5; ++j) sum += y(b, t, j);
      CHECK(std::abs(static_cast<double>(sum) - 1.0) <= 10 * test::tolerance<T>());
    }
  }
}

TEMPLATE_TEST_CASE("ActivationLayer: after Dense('linear') it equals Dense(activation) bitwise, and TD changes nothing",
                   "[shape][activation][time_distributed]", float, double) {
  using T = TestType;
  for (const std::string& name : accepted_names()) {
    const Index features = test::random_int(1, 9), units = test::random_int(1, 17);
    const Tensor<T, 3> x = test::random_tensor<T, 3>(test::random_int(1, 4), test::random_int(1, 5), features);
    Dense<T> linear(units, DenseOptions().input_dim(features).seed(11));
    Dense<T> fused(units, DenseOptions().input_dim(features).seed(11).activation(name));
    ActivationLayer<T> act(name);
    INFO("activation " << name);
    const Tensor<T, 3> a = act(linear(x));
    const Tensor<T, 3> b = fused(x);
    CHECK(same_bits(a.data(), b.data(), a.size()));

    // Activation acts per row of the last axis, so wrapping it changes nothing.
    TimeDistributed<ActivationLayer<T>> td(act);
    const Tensor<T, 3> c = td(linear(x));
    CHECK(same_bits(c.data(), a.data(), a.size()));

    // In place on raw memory gives the same bits.
    Tensor<T, 3> h = linear(x);
    act.forward(h.data(), strata::shape_of(h), h.data(), h.size());
    CHECK(same_bits(h.data(), a.data(), a.size()));
  }
}

TEST_CASE("ActivationLayer: results do not depend on the thread count", "[shape][activation]") {
#if defined(_OPENMP)
  const Tensor<float, 3> x = test::random_tensor<float, 3>(64, 33, 129);
  for (const char* name : {"tanh", "softmax", "gelu"}) {
    ActivationLayer<float> act(name);
    strata::set_num_threads(1);
    const Tensor<float, 3> one = act(x);
    strata::set_num_threads(2);
    const Tensor<float, 3> two = act(x);
    strata::set_num_threads(1);
    CHECK(same_bits(one.data(), two.data(), one.size()));
  }
#else
  SUCCEED("built without OpenMP");
#endif
}

TEST_CASE("ActivationLayer: names and errors", "[shape][activation][errors]") {
  ActivationLayer<float> act("swish", ActivationLayerOptions().name("act"));
  CHECK(act.activation() == strata::Activation::silu);
  CHECK(act.name() == "act");
  CHECK(act.describe() == "strata::Activation 'act'");

  const std::string unknown = thrown_message<strata::value_error>(
      [] { ActivationLayer<float>("leakyrelu", ActivationLayerOptions().name("bad")); });
  CHECK(has(unknown, "strata::Activation 'bad'"));
  CHECK(has(unknown, "unknown activation 'leakyrelu'"));

  // Keras would normalise a rank-1 softmax over the batch axis; strata never mixes samples.
  ActivationLayer<float> softmax(strata::Activation::softmax);
  const Tensor<float, 1> v = test::random_tensor<float, 1>(4);
  const std::string rank1 = thrown_message<strata::shape_error>([&] { (void)softmax(v); });
  CHECK(has(rank1, "softmax"));
  CHECK(has(rank1, "rank >= 2"));
  CHECK(has(rank1, "(4,)"));
  CHECK_THROWS_AS(ActivationLayer<float>("log_softmax")(AnyTensor<float>(v)), strata::shape_error);
  CHECK(strata::shape_of(ActivationLayer<float>("relu")(v)) == (Shape{4}));
}

// ---------------------------------------------------------------------------------------------
// Dropout

TEMPLATE_TEST_CASE("Dropout is the identity at inference, any rank and rate", "[shape][dropout]", float, double) {
  using T = TestType;
  for (double rate : {0.0, 0.2, 0.5, 0.999}) {
    check_dropout_identity<T, 1>(rate);
    check_dropout_identity<T, 2>(rate);
    check_dropout_identity<T, 3>(rate);
    check_dropout_identity<T, 4>(rate);
  }
  Dropout<T> dropout(0.25, DropoutOptions().name("drop"));
  CHECK(dropout.rate() == 0.25);
  CHECK(dropout.describe() == "strata::Dropout 'drop'");
  const Tensor<T, 4> x = test::random_tensor<T, 4>(2, 3, 4, 5);
  TimeDistributed<Dropout<T>> td(dropout);
  const Tensor<T, 4> y = td(x);
  CHECK(same_bits(y.data(), x.data(), x.size()));
  Tensor<T, 4> in_place = x;
  dropout.forward(in_place.data(), strata::shape_of(x), in_place.data(), x.size());
  CHECK(same_bits(in_place.data(), x.data(), x.size()));
  CHECK(strata::shape_of(dropout(Tensor<T, 2>(0, 3))) == (Shape{0, 3}));
}

TEST_CASE("Dropout: rate must be at least 0 and below 1", "[shape][dropout][errors]") {
  for (double rate :
       {-0.1, 1.0, 1.5, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    INFO("rate " << rate);
    const std::string msg =
        thrown_message<strata::value_error>([&] { Dropout<float>(rate, DropoutOptions().name("d")); });
    CHECK(has(msg, "strata::Dropout 'd'"));
    CHECK(has(msg, "rate must be in [0, 1)"));
  }
  CHECK_NOTHROW(Dropout<double>(0.0));
}

// ---------------------------------------------------------------------------------------------
// What the four share

template <class Layer>
void check_weightless(Layer layer, const std::string& described) {
  using T = typename Layer::Scalar;
  INFO(described);
  CHECK(layer.describe() == described);
  CHECK(layer.built());
  CHECK(layer.get_weights().empty());
  CHECK(layer.count_params() == 0);
  CHECK_FALSE(layer.carries_state());
  CHECK(layer.output_count() == 1);
  layer.build(7);  // nothing to build
  CHECK_NOTHROW(layer.set_weights({}));
  const Tensor<T, 1> bias = test::random_tensor<T, 1>(3);
  const std::string one = thrown_message<strata::shape_error>([&] { layer.set_weights({bias}); });
  CHECK(has(one, described + ": set_weights expects an empty list (the layer has no weights); got 1 array"));
  const std::string two = thrown_message<strata::shape_error>([&] { layer.set_weights({bias, bias}); });
  CHECK(has(two, "got 2 arrays"));

  // Wrapped, the same through TimeDistributed.
  TimeDistributed<Layer> td(layer);
  CHECK(td.built());
  CHECK(td.get_weights().empty());
  CHECK(td.count_params() == 0);
  CHECK_NOTHROW(td.set_weights({}));
  CHECK(has(thrown_message<strata::shape_error>([&] { td.set_weights({bias}); }), described));
}

TEMPLATE_TEST_CASE("Flatten, Reshape, ActivationLayer, Dropout: no weights, no state", "[shape][weights]", float,
                   double) {
  using T = TestType;
  check_weightless(Flatten<T>(FlattenOptions().name("f")), "strata::Flatten 'f'");
  check_weightless(Reshape<T>({-1}, ReshapeOptions().name("r")), "strata::Reshape 'r'");
  check_weightless(ActivationLayer<T>("relu", ActivationLayerOptions().name("a")), "strata::Activation 'a'");
  check_weightless(Dropout<T>(0.5, DropoutOptions().name("d")), "strata::Dropout 'd'");
  check_weightless(Flatten<T>(), "strata::Flatten");
  CHECK(TimeDistributed<Flatten<T>>(Flatten<T>(FlattenOptions().name("f")), TimeDistributedOptions().name("td"))
            .describe() == "strata::TimeDistributed(Flatten 'f') 'td'");
}
