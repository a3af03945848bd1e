// SPDX-License-Identifier: MIT
// Pooling and the spatial shape layers (layers/pooling.hpp, global_pooling.hpp, spatial.hpp):
// values against naive references written here (an N-d odometer over every output position, no
// shared code with the layers), channels_first against a transposed channels_last, the masks of
// GlobalAveragePooling1D / GlobalMaxPooling1D, TimeDistributed(MaxPooling2D) on 5-D input, the
// errors (ranks, sizes, options), and the Keras configs read through a local Registry.
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyLayer;
using strata::AnyTensor;
using strata::Index;
using strata::Shape;
using strata::Tensor;
using test::has;
using test::thrown_message;

static_assert(strata::detail::is_layer_v<strata::MaxPooling2D<float>>);
static_assert(strata::MaxPooling2D<float>::output_rank(4) == 4);
static_assert(strata::MaxPooling2D<float>::output_rank(3) == strata::invalid_rank);
static_assert(strata::GlobalAveragePooling1D<float>::output_rank(3) == strata::dynamic_rank);
static_assert(strata::UpSampling3D<double>::output_rank(5) == 5);

/// A row-major array of any rank, for the references.
template <class T>
struct Array {
  std::vector<Index> shape;
  std::vector<T> data;
  Index offset(const std::vector<Index>& idx) const {
    Index o = 0;
    for (std::size_t i = 0; i < shape.size(); ++i) o = o * shape[i] + idx[i];
    return o;
  }
  T& at(const std::vector<Index>& idx) { return data[static_cast<std::size_t>(offset(idx))]; }
  const T& at(const std::vector<Index>& idx) const { return data[static_cast<std::size_t>(offset(idx))]; }
};

/// Calls f on every index of `shape`, last axis fastest.
void for_each_index(const std::vector<Index>& shape, const std::function<void(const std::vector<Index>&)>& f) {
  for (Index d : shape) {
    if (d == 0) return;
  }
  std::vector<Index> idx(shape.size(), 0);
  for (;;) {
    f(idx);
    int a = static_cast<int>(shape.size()) - 1;
    while (a >= 0 && ++idx[static_cast<std::size_t>(a)] == shape[static_cast<std::size_t>(a)]) {
      idx[static_cast<std::size_t>(a)] = 0;
      --a;
    }
    if (a < 0) return;
  }
}

/// A shape's sizes as a vector (the shape held in a local: shape() returns a copy).
std::vector<Index> dims_of(const Shape& shape) { return {shape.begin(), shape.end()}; }

std::string str(const std::vector<Index>& v) {
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

template <class T>
Array<T> random_array(std::vector<Index> shape) {
  Array<T> a{std::move(shape), {}};
  Index n = 1;
  for (Index d : a.shape) n *= d;
  a.data.resize(static_cast<std::size_t>(n));
  test::fill_uniform(a.data.data(), n);
  return a;
}

/// channels_first <-> channels_last by index arithmetic.
template <class T>
Array<T> move_channels(const Array<T>& x, bool to_last) {
  const int r = static_cast<int>(x.shape.size());
  Array<T> y{x.shape, x.data};
  if (to_last) {
    y.shape.erase(y.shape.begin() + 1);
    y.shape.push_back(x.shape[1]);
  } else {
    y.shape.pop_back();
    y.shape.insert(y.shape.begin() + 1, x.shape.back());
  }
  for_each_index(x.shape, [&](const std::vector<Index>& i) {
    std::vector<Index> j = i;
    if (to_last) {
      j.erase(j.begin() + 1);
      j.push_back(i[1]);
    } else {
      j.pop_back();
      j.insert(j.begin() + 1, i[static_cast<std::size_t>(r - 1)]);
    }
    y.at(j) = x.at(i);
  });
  return y;
}

/// Keras' pooling (TF rules) on channels_last, straight from the definition.
template <class T>
Array<T> naive_pool(const Array<T>& x, bool max, const std::vector<Index>& pool, const std::vector<Index>& stride,
                    bool same) {
  const std::size_t n = x.shape.size() - 2;
  std::vector<Index> out_shape{x.shape[0]}, pad(n);
  for (std::size_t a = 0; a < n; ++a) {
    const Index in = x.shape[a + 1];
    const Index o = same ? (in + stride[a] - 1) / stride[a] : (in - pool[a]) / stride[a] + 1;
    pad[a] = same ? std::max<Index>((o - 1) * stride[a] + pool[a] - in, 0) / 2 : 0;
    out_shape.push_back(o);
  }
  out_shape.push_back(x.shape.back());
  Array<T> y{out_shape, std::vector<T>(static_cast<std::size_t>(0))};
  Index total = 1;
  for (Index d : out_shape) total *= d;
  y.data.assign(static_cast<std::size_t>(total), T(0));
  for_each_index(out_shape, [&](const std::vector<Index>& o) {
    T acc = max ? -std::numeric_limits<T>::infinity() : T(0);
    Index count = 0;
    for_each_index(std::vector<Index>(pool.begin(), pool.end()), [&](const std::vector<Index>& k) {
      std::vector<Index> i{o[0]};
      for (std::size_t a = 0; a < n; ++a) {
        const Index p = o[a + 1] * stride[a] - pad[a] + k[a];
        if (p < 0 || p >= x.shape[a + 1]) return;
        i.push_back(p);
      }
      i.push_back(o.back());
      const T v = x.at(i);
      acc = max ? std::max(acc, v) : acc + v;
      ++count;
    });
    y.at(o) = max ? acc : acc / static_cast<T>(count);
  });
  return y;
}

template <class T>
void check_close(const T* got, const Array<T>& want, Index n) {
  REQUIRE(static_cast<std::size_t>(n) == want.data.size());
  double worst = 0;
  for (Index i = 0; i < n; ++i) {
    worst = std::max(
        worst, std::abs(static_cast<double>(got[i]) - static_cast<double>(want.data[static_cast<std::size_t>(i)])));
  }
  CHECK(worst <= test::tolerance<T>());
}

template <class T>
AnyTensor<T> as_tensor(const Array<T>& a) {
  Shape s;
  for (Index d : a.shape) s.push_back(d);
  AnyTensor<T> t = AnyTensor<T>::uninitialized(s);
  std::copy(a.data.begin(), a.data.end(), t.data());
  return t;
}

template <class T, int N, strata::PoolMode M>
void check_pooling(bool same, bool channels_first) {
  std::vector<Index> pool, stride, shape{test::random_int(1, 3)};
  for (int a = 0; a < N; ++a) {
    pool.push_back(test::random_int(1, 3));
    stride.push_back(test::random_int(1, 4));
    shape.push_back(test::random_int(same ? 1 : pool.back(), 7));
  }
  shape.push_back(test::random_int(1, 5));
  const Array<T> x_last = random_array<T>(shape);
  const Array<T> x = channels_first ? move_channels(x_last, false) : x_last;
  strata::Pooling<T, N, M> layer(pool, strata::PoolingOptions()
                                           .strides(stride)
                                           .padding(same ? "same" : "valid")
                                           .data_format(channels_first ? "channels_first" : "channels_last"));
  Array<T> want = naive_pool(x_last, M == strata::PoolMode::max, pool, stride, same);
  if (channels_first) want = move_channels(want, false);
  INFO(layer.describe() << " pool " << str(pool) << " stride " << str(stride) << (same ? " same" : " valid")
                        << " input " << as_tensor(x).shape() << (channels_first ? " channels_first" : ""));
  const AnyTensor<T> y = layer(as_tensor(x));
  REQUIRE(dims_of(y.shape()) == want.shape);
  check_close(y.data(), want, y.size());
}

}  // namespace

TEMPLATE_TEST_CASE("MaxPooling and AveragePooling 1D/2D/3D against the definition, valid and same, both formats",
                   "[pooling]", float, double) {
  using T = TestType;
  using strata::PoolMode;
  for (int trial = 0; trial < 12; ++trial) {
    for (bool same : {false, true}) {
      for (bool cf : {false, true}) {
        check_pooling<T, 1, PoolMode::max>(same, cf);
        check_pooling<T, 2, PoolMode::max>(same, cf);
        check_pooling<T, 3, PoolMode::max>(same, cf);
        check_pooling<T, 1, PoolMode::average>(same, cf);
        check_pooling<T, 2, PoolMode::average>(same, cf);
        check_pooling<T, 3, PoolMode::average>(same, cf);
      }
    }
  }
}

TEST_CASE("AveragePooling with same padding divides by the input values in the window, as TensorFlow", "[pooling]") {
  // x = [1, 2, 3, 4, 5], pool 2, stride 2, same: out 3, padding total max(2*2+2-5, 0) = 1, none in
  // front: windows [1, 2], [3, 4], [5] -> 1.5, 3.5, 5 (not 2.5: the pad is not counted).
  const std::vector<float> x{1, 2, 3, 4, 5};
  strata::AveragePooling1D<float> avg({2}, strata::PoolingOptions().padding("same"));
  const Tensor<float, 3> y = avg(strata::ConstTensorMap<float, 3>(x.data(), 1, 5, 1));
  CHECK(test::to_vector(y) == std::vector<float>{1.5f, 3.5f, 5.0f});
  strata::MaxPooling1D<float> mx({3}, strata::PoolingOptions().strides({2}).padding("same"));
  // out 3, padding total 2*2+3-5 = 2, one in front: windows [1, 2], [2, 3, 4], [4, 5].
  const std::vector<float> neg{-1, -2, -3, -4, -5};
  const Tensor<float, 3> m = mx(strata::ConstTensorMap<float, 3>(neg.data(), 1, 5, 1));
  CHECK(test::to_vector(m) == std::vector<float>{-1, -2, -4});
}

TEMPLATE_TEST_CASE("Pooling errors: rank, a pool bigger than the input with valid padding, options, buffers",
                   "[pooling][errors]", float, double) {
  using T = TestType;
  strata::MaxPooling2D<T> pool({3, 2}, strata::PoolingOptions().name("pool"));
  std::string msg = thrown_message<strata::shape_error>([&] { (void)pool.compute_output_shape(Shape{1, 2, 5, 3}); });
  CHECK(has(msg, "strata::MaxPooling2D 'pool'"));
  CHECK(has(msg, "pool_size 3 is bigger than the input's 2"));
  CHECK(has(msg, "(1, 2, 5, 3)"));
  msg = thrown_message<strata::shape_error>([&] { (void)pool.compute_output_shape(Shape{1, 5, 3}); });
  CHECK(has(msg, "must have rank 4 (batch, rows, cols, channels)"));
  CHECK(has(msg, "(1, 5, 3)"));
  msg = thrown_message<strata::value_error>([&] { strata::AveragePooling1D<T> p({0}); });
  CHECK(has(msg, "strata::AveragePooling1D: pool_size must be >= 1; got 0"));
  msg = thrown_message<strata::value_error>([&] { strata::MaxPooling3D<T> p({2, 2}); });
  CHECK(has(msg, "pool_size must hold 1 or 3 values; got 2"));
  msg = thrown_message<strata::value_error>(
      [&] { strata::MaxPooling1D<T> p({2}, strata::PoolingOptions().padding("causal")); });
  CHECK(has(msg, "padding must be \"valid\" or \"same\"; got \"causal\""));
  msg = thrown_message<strata::value_error>(
      [&] { strata::MaxPooling1D<T> p({2}, strata::PoolingOptions().data_format("channels_middle")); });
  CHECK(has(msg, "data_format must be"));
  std::vector<T> in(40), out(3);
  msg = thrown_message<strata::shape_error>([&] { pool.forward(in.data(), Shape{1, 4, 5, 2}, out.data(), 3); });
  CHECK(has(msg, "output buffer holds 3 values; shape (1, 1, 2, 2) needs 4"));
  // A pool as big as the input, and "same" on any size, are fine.
  CHECK(pool.compute_output_shape(Shape{2, 3, 2, 1}) == (Shape{2, 1, 1, 1}));
  strata::MaxPooling2D<T> same({4}, strata::PoolingOptions().padding("same").strides({3}));
  CHECK(same.compute_output_shape(Shape{2, 1, 7, 1}) == (Shape{2, 1, 3, 1}));
}

namespace {

template <class T>
Array<T> naive_global(const Array<T>& x_last, bool max, const strata::Mask* mask) {
  const Index batch = x_last.shape[0], channels = x_last.shape.back();
  Array<T> y{{batch, channels}, std::vector<T>(static_cast<std::size_t>(batch * channels))};
  for (Index b = 0; b < batch; ++b) {
    for (Index c = 0; c < channels; ++c) {
      T acc = max ? -std::numeric_limits<T>::infinity() : T(0);
      Index count = 0;
      std::vector<Index> spatial(x_last.shape.begin() + 1, x_last.shape.end() - 1);
      for_each_index(spatial, [&](const std::vector<Index>& s) {
        if (mask != nullptr && !(*mask)(b, s[0])) return;
        std::vector<Index> i{b};
        i.insert(i.end(), s.begin(), s.end());
        i.push_back(c);
        acc = max ? std::max(acc, x_last.at(i)) : acc + x_last.at(i);
        ++count;
      });
      y.at({b, c}) = max ? acc : acc / static_cast<T>(count);
    }
  }
  return y;
}

template <class T, int N, strata::PoolMode M>
void check_global(bool keepdims, bool cf) {
  std::vector<Index> shape{test::random_int(1, 3)};
  for (int a = 0; a < N; ++a) shape.push_back(test::random_int(1, 5));
  shape.push_back(test::random_int(1, 6));
  const Array<T> x_last = random_array<T>(shape);
  const Array<T> x = cf ? move_channels(x_last, false) : x_last;
  strata::GlobalPooling<T, N, M> layer(
      strata::GlobalPoolingOptions().keepdims(keepdims).data_format(cf ? "channels_first" : "channels_last"));
  const Array<T> want = naive_global(x_last, M == strata::PoolMode::max, nullptr);
  INFO(layer.describe() << " keepdims " << keepdims << " cf " << cf << " input " << as_tensor(x).shape());
  const AnyTensor<T> y = layer(as_tensor(x));
  Shape expected{shape[0]};
  if (cf) expected.push_back(shape.back());
  for (int a = 0; keepdims && a < N; ++a) expected.push_back(1);
  if (!cf) expected.push_back(shape.back());
  if (!keepdims) expected = Shape{shape[0], shape.back()};
  REQUIRE(y.shape() == expected);
  check_close(y.data(), want, y.size());
}

}  // namespace

TEMPLATE_TEST_CASE("GlobalMaxPooling and GlobalAveragePooling 1D/2D/3D: keepdims, both formats", "[pooling][global]",
                   float, double) {
  using T = TestType;
  using strata::PoolMode;
  for (int trial = 0; trial < 8; ++trial) {
    for (bool keepdims : {false, true}) {
      for (bool cf : {false, true}) {
        check_global<T, 1, PoolMode::max>(keepdims, cf);
        check_global<T, 2, PoolMode::max>(keepdims, cf);
        check_global<T, 3, PoolMode::max>(keepdims, cf);
        check_global<T, 1, PoolMode::average>(keepdims, cf);
        check_global<T, 2, PoolMode::average>(keepdims, cf);
        check_global<T, 3, PoolMode::average>(keepdims, cf);
      }
    }
  }
  strata::GlobalAveragePooling2D<T> g(strata::GlobalPoolingOptions().name("gap"));
  const std::string msg = thrown_message<strata::shape_error>([&] { (void)g.compute_output_shape(Shape{2, 3, 4}); });
  CHECK(has(msg, "strata::GlobalAveragePooling2D 'gap': input must have rank 4"));
}

TEMPLATE_TEST_CASE("GlobalAveragePooling1D averages the kept steps of a mask, GlobalMaxPooling1D ignores masks",
                   "[pooling][global][mask]", float, double) {
  using T = TestType;
  const Index batch = 3, steps = 5, channels = 4;
  const Array<T> x = random_array<T>({batch, steps, channels});
  strata::Mask mask(batch, steps);
  for (Index b = 0; b < batch; ++b) {
    for (Index t = 0; t < steps; ++t) mask(b, t) = (b + t) % 3 != 0;
  }
  const auto run = [&](const AnyLayer<T>& layer, const strata::Mask* m) {
    strata::GraphCall<T> call;
    strata::GraphInput<T> in;
    const AnyTensor<T> xt = as_tensor(x);
    in.tensor = strata::TensorView<T>(xt);
    if (m != nullptr) in.mask = std::make_shared<const strata::Mask>(*m);
    call.inputs.push_back(in);
    layer.call_graph(call);
    REQUIRE(call.outputs.size() == 1);
    REQUIRE(call.masks.size() == 1);
    CHECK(call.masks[0] == nullptr);  // Keras' compute_mask: None
    return call.outputs[0];
  };
  const AnyLayer<T> avg{strata::GlobalAveragePooling1D<T>()};
  CHECK(avg.takes_mask());
  check_close(run(avg, &mask).data(), naive_global(x, false, &mask), batch * channels);
  check_close(run(avg, nullptr).data(), naive_global(x, false, nullptr), batch * channels);
  CHECK(avg.output_mask_ranks({Shape{batch, steps, channels}}, {2}) == std::vector<int>{0});

  const AnyLayer<T> mx{strata::GlobalMaxPooling1D<T>()};
  CHECK_FALSE(mx.takes_mask());
  check_close(run(mx, &mask).data(), naive_global(x, true, nullptr), batch * channels);

  // Every step masked: 0 / 0 = NaN, as Keras.
  strata::Mask none(batch, steps);
  none.setConstant(false);
  const AnyTensor<T> y = run(avg, &none);
  for (Index i = 0; i < y.size(); ++i) CHECK(std::isnan(y.data()[i]));

  // A mask of another shape is refused.
  strata::Mask wrong(batch, steps + 1);
  wrong.setConstant(true);
  const std::string msg = thrown_message<strata::shape_error>([&] { (void)run(avg, &wrong); });
  CHECK(has(msg, "strata::GlobalAveragePooling1D: mask must have shape (batch=3, time=5); got (3, 6)"));

  // channels_first: the mask runs along the last axis.
  strata::GlobalAveragePooling1D<T> cf(strata::GlobalPoolingOptions().data_format("channels_first"));
  const Array<T> xf = move_channels(x, false);
  std::vector<T> out(static_cast<std::size_t>(batch * channels));
  cf.forward(xf.data.data(), Shape{batch, channels, steps}, &mask, out.data(), batch * channels);
  check_close(out.data(), naive_global(x, false, &mask), batch * channels);
}

namespace {

template <class T>
Array<T> naive_border(const Array<T>& x, const std::vector<std::array<Index, 2>>& sides, bool pad) {
  std::vector<Index> shape = x.shape;
  for (std::size_t a = 0; a < sides.size(); ++a)
    shape[a + 1] += pad ? sides[a][0] + sides[a][1] : -sides[a][0] - sides[a][1];
  Index total = 1;
  for (Index d : shape) total *= d;
  Array<T> y{shape, std::vector<T>(static_cast<std::size_t>(total))};
  for_each_index(shape, [&](const std::vector<Index>& o) {
    std::vector<Index> i = o;
    bool inside = true;
    for (std::size_t a = 0; a < sides.size(); ++a) {
      i[a + 1] = pad ? o[a + 1] - sides[a][0] : o[a + 1] + sides[a][0];
      inside = inside && i[a + 1] >= 0 && i[a + 1] < x.shape[a + 1];
    }
    y.at(o) = inside ? x.at(i) : T(0);
  });
  return y;
}

template <class T>
Array<T> naive_nearest(const Array<T>& x, const std::vector<Index>& size) {
  std::vector<Index> shape = x.shape;
  for (std::size_t a = 0; a < size.size(); ++a) shape[a + 1] *= size[a];
  Index total = 1;
  for (Index d : shape) total *= d;
  Array<T> y{shape, std::vector<T>(static_cast<std::size_t>(total))};
  for_each_index(shape, [&](const std::vector<Index>& o) {
    std::vector<Index> i = o;
    for (std::size_t a = 0; a < size.size(); ++a) i[a + 1] = o[a + 1] / size[a];
    y.at(o) = x.at(i);
  });
  return y;
}

template <class T, int N, strata::BorderMode B>
void check_border(bool cf) {
  std::vector<std::array<Index, 2>> sides;
  std::vector<Index> shape{test::random_int(1, 3)};
  for (int a = 0; a < N; ++a) {
    sides.push_back({test::random_int(0, 2), test::random_int(0, 2)});
    shape.push_back(test::random_int(1, 4) + (B == strata::BorderMode::crop ? sides.back()[0] + sides.back()[1] : 0));
  }
  shape.push_back(test::random_int(1, 4));
  const Array<T> x_last = random_array<T>(shape);
  const Array<T> x = cf ? move_channels(x_last, false) : x_last;
  strata::Border<T, N, B> layer(sides, strata::SpatialOptions().data_format(cf ? "channels_first" : "channels_last"));
  Array<T> want = naive_border(x_last, sides, B == strata::BorderMode::pad);
  if (cf) want = move_channels(want, false);
  INFO(layer.describe() << " input " << as_tensor(x).shape() << " cf " << cf);
  const AnyTensor<T> y = layer(as_tensor(x));
  REQUIRE(dims_of(y.shape()) == want.shape);
  CHECK(test::to_vector(y) == want.data);
}

template <class T, int N>
void check_nearest(bool cf) {
  std::vector<Index> size, shape{test::random_int(1, 3)};
  for (int a = 0; a < N; ++a) {
    size.push_back(test::random_int(1, 3));
    shape.push_back(test::random_int(1, 4));
  }
  shape.push_back(test::random_int(1, 4));
  const Array<T> x_last = random_array<T>(shape);
  const Array<T> x = cf ? move_channels(x_last, false) : x_last;
  strata::UpSampling<T, N> layer(size, strata::SpatialOptions().data_format(cf ? "channels_first" : "channels_last"));
  Array<T> want = naive_nearest(x_last, size);
  if (cf) want = move_channels(want, false);
  INFO(layer.describe() << " input " << as_tensor(x).shape() << " cf " << cf);
  const AnyTensor<T> y = layer(as_tensor(x));
  REQUIRE(dims_of(y.shape()) == want.shape);
  CHECK(test::to_vector(y) == want.data);
}

}  // namespace

TEMPLATE_TEST_CASE("ZeroPadding, Cropping and UpSampling(nearest) 1D/2D/3D against the definition, both formats",
                   "[pooling][spatial]", float, double) {
  using T = TestType;
  using strata::BorderMode;
  for (int trial = 0; trial < 10; ++trial) {
    for (bool cf : {false, true}) {
      check_border<T, 1, BorderMode::pad>(cf);
      check_border<T, 2, BorderMode::pad>(cf);
      check_border<T, 3, BorderMode::pad>(cf);
      check_border<T, 1, BorderMode::crop>(cf);
      check_border<T, 2, BorderMode::crop>(cf);
      check_border<T, 3, BorderMode::crop>(cf);
      check_nearest<T, 1>(cf);
      check_nearest<T, 2>(cf);
      check_nearest<T, 3>(cf);
    }
  }
}

TEMPLATE_TEST_CASE("UpSampling2D bilinear: TensorFlow's half-pixel centres, clamped at the borders",
                   "[pooling][spatial]", float, double) {
  using T = TestType;
  // One row [0, 1], factor 2: positions (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> 0, 0.25, 0.75, 1.
  strata::UpSampling2D<T> up({1, 2}, strata::SpatialOptions().interpolation("bilinear"));
  const std::vector<T> row{0, 1};
  const Tensor<T, 4> y = up(strata::ConstTensorMap<T, 4>(row.data(), 1, 1, 2, 1));
  CHECK(test::to_vector(y) == std::vector<T>{0, T(0.25), T(0.75), 1});
  // tfjs' upSampling2d reads position o / 2 (TF1's resize): 0, 0.5, 1, 1 -- not Keras 3's values.
  CHECK(test::to_vector(y) != std::vector<T>{0, T(0.5), 1, 1});
  // Factor 3 on [0, 3]: positions -1/3, 0, 1/3, 2/3, 1, 4/3 -> 0, 0, 1, 2, 3, 3.
  strata::UpSampling2D<T> up3({3, 3}, strata::SpatialOptions().interpolation("bilinear"));
  const std::vector<T> row3{0, 3};
  const Tensor<T, 4> y3 = up3(strata::ConstTensorMap<T, 4>(row3.data(), 1, 1, 2, 1));
  const std::vector<T> want{0, 0, 1, 2, 3, 3};
  for (Index r = 0; r < 3; ++r) {
    for (Index c = 0; c < 6; ++c) CHECK(std::abs(y3(0, r, c, 0) - want[static_cast<std::size_t>(c)]) < 1e-6);
  }
  // Separable: on an outer product the result is the product of the 1-D results, in both formats.
  const Index h = 3, w = 4, ch = 2;
  Array<T> x{{1, h, w, ch}, std::vector<T>(static_cast<std::size_t>(h * w * ch))};
  const std::vector<T> a{1, -2, 0.5}, b{0.25, 2, -1, 3};
  for_each_index(x.shape, [&](const std::vector<Index>& i) {
    x.at(i) = a[static_cast<std::size_t>(i[1])] * b[static_cast<std::size_t>(i[2])] * T(i[3] + 1);
  });
  const auto lin = [](const std::vector<T>& v, Index f) {
    std::vector<T> out;
    const Index n = static_cast<Index>(v.size());
    for (Index o = 0; o < n * f; ++o) {
      const double p = (static_cast<double>(o) + 0.5) / static_cast<double>(f) - 0.5;
      const Index lo = std::max<Index>(static_cast<Index>(std::floor(p)), 0);
      const Index hi = std::min<Index>(static_cast<Index>(std::ceil(p)), n - 1);
      const double l = p - std::floor(p);
      out.push_back(static_cast<T>(v[static_cast<std::size_t>(lo)] * (1 - l) + v[static_cast<std::size_t>(hi)] * l));
    }
    return out;
  };
  for (bool cf : {false, true}) {
    strata::UpSampling2D<T> up23(
        {2, 3},
        strata::SpatialOptions().interpolation("bilinear").data_format(cf ? "channels_first" : "channels_last"));
    const Array<T> xin = cf ? move_channels(x, false) : x;
    const AnyTensor<T> yy = up23(as_tensor(xin));
    const std::vector<T> ya = lin(a, 2), yb = lin(b, 3);
    Array<T> want{{1, 2 * h, 3 * w, ch}, std::vector<T>(static_cast<std::size_t>(6 * h * w * ch))};
    for_each_index(want.shape, [&](const std::vector<Index>& i) {
      want.at(i) = ya[static_cast<std::size_t>(i[1])] * yb[static_cast<std::size_t>(i[2])] * T(i[3] + 1);
    });
    if (cf) want = move_channels(want, false);
    REQUIRE(dims_of(yy.shape()) == want.shape);
    check_close(yy.data(), want, yy.size());
  }
}

TEMPLATE_TEST_CASE("Padding, cropping, upsampling and spatial dropout errors", "[pooling][spatial][errors]", float,
                   double) {
  using T = TestType;
  strata::Cropping2D<T> crop(std::vector<std::array<Index, 2>>{{1, 2}, {0, 0}}, strata::SpatialOptions().name("crop"));
  std::string msg = thrown_message<strata::shape_error>([&] { (void)crop.compute_output_shape(Shape{1, 3, 4, 1}); });
  CHECK(has(msg, "strata::Cropping2D 'crop': cropping (1, 2) leaves nothing of the input's 3"));
  CHECK(crop.compute_output_shape(Shape{1, 4, 4, 1}) == (Shape{1, 1, 4, 1}));
  msg = thrown_message<strata::shape_error>([&] { (void)crop.compute_output_shape(Shape{4, 4, 1}); });
  CHECK(has(msg, "input must have rank 4"));
  msg = thrown_message<strata::value_error>([&] { strata::ZeroPadding1D<T> p(-1); });
  CHECK(has(msg, "strata::ZeroPadding1D: padding must not be negative"));
  msg = thrown_message<strata::value_error>([&] {
    strata::ZeroPadding3D<T> p(std::vector<std::array<Index, 2>>{{1, 1}, {1, 1}});
  });
  CHECK(has(msg, "padding must hold 1 or 3 (before, after) pairs; got 2"));
  msg = thrown_message<strata::value_error>(
      [&] { strata::UpSampling3D<T> u({2}, strata::SpatialOptions().interpolation("bilinear")); });
  CHECK(has(msg, "strata::UpSampling3D: interpolation must be \"nearest\"; got \"bilinear\""));
  msg = thrown_message<strata::value_error>([&] { strata::UpSampling1D<T> u({0}); });
  CHECK(has(msg, "size must be >= 1; got 0"));
  strata::UpSampling1D<T> up({2}, strata::SpatialOptions().name("up"));
  msg = thrown_message<strata::shape_error>([&] { (void)up.compute_output_shape(Shape{2, 3, 4, 5}); });
  CHECK(has(msg, "strata::UpSampling1D 'up': input must have rank 3 (batch, steps, channels); got shape (2, 3, 4, 5)"));
  msg = thrown_message<strata::value_error>([&] { strata::SpatialDropout2D<T> d(1.5); });
  CHECK(has(msg, "rate must be in [0, 1]"));
  strata::SpatialDropout3D<T> drop(0.3, strata::SpatialOptions().name("sd"));
  msg = thrown_message<strata::shape_error>([&] { (void)drop.compute_output_shape(Shape{2, 3, 4, 5}); });
  CHECK(has(msg, "strata::SpatialDropout3D 'sd': input must have rank 5"));
  const Tensor<T, 5> x = test::random_tensor<T, 5>(2, 3, 2, 2, 3);
  const Tensor<T, 5> y = drop(x);
  CHECK(test::to_vector(y) == test::to_vector(x));
}

TEMPLATE_TEST_CASE("TimeDistributed(MaxPooling2D) on 5-D input pools every time step", "[pooling][time_distributed]",
                   float, double) {
  using T = TestType;
  const Index batch = 2, time = 3;
  const Tensor<T, 5> x = test::random_tensor<T, 5>(batch, time, 5, 4, 3);
  strata::MaxPooling2D<T> pool({2}, strata::PoolingOptions().padding("same"));
  strata::TimeDistributed<strata::MaxPooling2D<T>> td(pool);
  const Tensor<T, 5> y = td(x);
  REQUIRE(strata::shape_of(y) == (Shape{batch, time, 3, 2, 3}));
  for (Index t = 0; t < time; ++t) {
    const Tensor<T, 4> slice = x.template chip<1>(t);
    const Tensor<T, 4> expected = pool(slice);
    const Tensor<T, 4> got = y.template chip<1>(t);
    CHECK(test::to_vector(got) == test::to_vector(expected));
  }
  // Through AnyLayer, as a loaded model holds it.
  strata::TimeDistributed<AnyLayer<T>> any_td{AnyLayer<T>(pool)};
  const AnyTensor<T> z = any_td(strata::TensorView<T>(AnyTensor<T>(x)));
  CHECK(test::to_vector(z) == test::to_vector(y));
}

namespace {

template <class T>
AnyLayer<T> build(const strata::Registry<T>& registry, const char* cls, const strata::Config& config) {
  const strata::LayerConfig<T> lc(registry, cls, config, strata::KerasVersion{}, "test");
  return registry.build(lc);
}

strata::Config list(std::initializer_list<strata::Config> v) {
  strata::Config l = strata::Config::list();
  for (const auto& e : v) l.push_back(e);
  return l;
}

}  // namespace

TEMPLATE_TEST_CASE("Keras configs of the pooling and spatial layers through a local Registry", "[pooling][registry]",
                   float, double) {
  using T = TestType;
  strata::Registry<T> registry;
  registry.template add<strata::MaxPooling2D<T>>();
  registry.template add<strata::AveragePooling1D<T>>();
  registry.template add<strata::GlobalAveragePooling3D<T>>();
  registry.template add<strata::ZeroPadding2D<T>>();
  registry.template add<strata::ZeroPadding1D<T>>();
  registry.template add<strata::Cropping3D<T>>();
  registry.template add<strata::UpSampling2D<T>>();
  registry.template add<strata::SpatialDropout2D<T>>();

  strata::Config c = strata::Config::dict();
  c.set("name", "pool");
  c.set("pool_size", list({3, 2}));
  c.set("strides", nullptr);
  c.set("padding", "same");
  c.set("data_format", "channels_first");
  AnyLayer<T> layer = build(registry, "MaxPooling2D", c);
  const auto* pool = layer.template target<strata::MaxPooling2D<T>>();
  REQUIRE(pool != nullptr);
  CHECK(pool->pool_size() == std::vector<Index>{3, 2});
  CHECK(pool->strides() == std::vector<Index>{3, 2});
  CHECK(pool->padding() == "same");
  CHECK(pool->data_format() == "channels_first");
  CHECK(layer.output_mask_ranks({Shape{1, 2, 6, 6}}, {2}) == std::vector<int>{0});

  strata::Config a = strata::Config::dict();
  a.set("name", "avg");
  a.set("pool_size", 3);
  a.set("strides", list({1}));
  AnyLayer<T> avg = build(registry, "AveragePooling1D", a);
  CHECK(avg.template target<strata::AveragePooling1D<T>>()->strides() == std::vector<Index>{1});
  a.set("pool_size", list({1, 2}));
  CHECK_THROWS_AS(build(registry, "AveragePooling1D", a), strata::io_error);
  a.set("pool_size", 0);
  CHECK_THROWS_AS(build(registry, "AveragePooling1D", a), strata::model_error);
  a.set("pool_size", 2);
  a.set("padding", "full");
  CHECK_THROWS_AS(build(registry, "AveragePooling1D", a), strata::model_error);

  strata::Config g = strata::Config::dict();
  g.set("name", "gap");
  g.set("keepdims", true);
  g.set("data_format", "channels_last");
  AnyLayer<T> gap = build(registry, "GlobalAveragePooling3D", g);
  CHECK(gap.output_shapes({Shape{2, 3, 4, 5, 6}}) == std::vector<Shape>{Shape{2, 1, 1, 1, 6}});
  CHECK_FALSE(gap.takes_mask());
  g.set("data_format", "channels_sideways");
  CHECK_THROWS_AS(build(registry, "GlobalAveragePooling3D", g), strata::model_error);

  // ZeroPadding: an int, one per axis, or pairs; ZeroPadding1D also takes one pair.
  strata::Config z = strata::Config::dict();
  z.set("name", "pad");
  z.set("padding", 2);
  CHECK(build(registry, "ZeroPadding2D", z).output_shapes({Shape{1, 3, 3, 1}}) ==
        std::vector<Shape>{Shape{1, 7, 7, 1}});
  z.set("padding", list({1, 0}));
  CHECK(build(registry, "ZeroPadding2D", z).output_shapes({Shape{1, 3, 3, 1}}) ==
        std::vector<Shape>{Shape{1, 5, 3, 1}});
  z.set("padding", list({list({0, 1}), list({2, 3})}));
  CHECK(build(registry, "ZeroPadding2D", z).output_shapes({Shape{1, 3, 3, 1}}) ==
        std::vector<Shape>{Shape{1, 4, 8, 1}});
  z.set("padding", list({2, 1}));
  CHECK(build(registry, "ZeroPadding1D", z).output_shapes({Shape{1, 3, 2}}) == std::vector<Shape>{Shape{1, 6, 2}});
  z.set("padding", list({list({0, 1}), 2, 3}));
  CHECK_THROWS_AS(build(registry, "ZeroPadding2D", z), strata::io_error);
  z.set("padding", -1);
  CHECK_THROWS_AS(build(registry, "ZeroPadding2D", z), strata::model_error);

  strata::Config k = strata::Config::dict();
  k.set("name", "crop");
  k.set("cropping", list({list({1, 0}), list({0, 1}), list({1, 1})}));
  k.set("data_format", "channels_first");
  CHECK(build(registry, "Cropping3D", k).output_shapes({Shape{1, 2, 4, 4, 4}}) ==
        std::vector<Shape>{Shape{1, 2, 3, 3, 2}});

  strata::Config u = strata::Config::dict();
  u.set("name", "up");
  u.set("size", list({2, 3}));
  u.set("interpolation", "bilinear");
  CHECK(build(registry, "UpSampling2D", u).template target<strata::UpSampling2D<T>>()->interpolation() == "bilinear");
  u.set("interpolation", "bicubic");
  const std::string msg = [&] {
    try {
      (void)build(registry, "UpSampling2D", u);
    } catch (const strata::unsupported_error& e) {
      return std::string(e.what());
    }
    return std::string("no unsupported_error");
  }();
  CHECK(has(msg, "interpolation 'bicubic' is not supported"));

  strata::Config d = strata::Config::dict();
  d.set("name", "sd");
  d.set("rate", 0.5);
  AnyLayer<T> sd = build(registry, "SpatialDropout2D", d);
  CHECK(sd.output_mask_ranks({Shape{1, 2, 2, 1}}, {2}) == std::vector<int>{2});
}
