// SPDX-License-Identifier: MIT
// The merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot) against
// naive references written here: broadcasting as Keras 3's Merge does it, negative axes, Dot's
// axes and normalize, the masks of the three Keras mask rules (MergeMasks), their errors, their
// Keras description through a local Registry, and merges in a Model (taking over a handed-over
// input, masks reaching an LSTM).
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
using strata::GraphCall;
using strata::GraphInput;
using strata::Index;
using strata::Mask;
using strata::MaskPtr;
using strata::MergeMasks;
using strata::Shape;
using strata::Tensor;
using strata::TensorView;

using test::has;
using test::thrown_message;

// --- naive references -----------------------------------------------------------------

/// x's value at output index idx (output rank R) under Keras 3's broadcasting: x's axes aligned
/// on the last one, axes of size 1 stretched.
template <class T>
T at(const TensorView<T>& x, const std::vector<Index>& idx) {
  const Shape& s = x.shape();
  const int R = static_cast<int>(idx.size());
  Index off = 0;
  for (int d = 0; d < s.rank(); ++d) {
    const Index i = d == 0 ? idx[0] : idx[static_cast<std::size_t>(R - s.rank() + d)];
    off = off * s[d] + (s[d] == 1 ? 0 : i);
  }
  return x.data()[off];
}

std::vector<Index> unravel(Index flat, const Shape& s) {
  std::vector<Index> idx(static_cast<std::size_t>(s.rank()));
  for (int d = s.rank() - 1; d >= 0; --d) {
    idx[static_cast<std::size_t>(d)] = flat % s[d];
    flat /= s[d];
  }
  return idx;
}

enum class Op { add, sub, mul, avg, max, min };

/// Keras 3's element-wise merges, element by element (no masks).
template <class T>
std::vector<T> naive_merge(Op op, const std::vector<TensorView<T>>& xs, const Shape& out) {
  std::vector<T> y(static_cast<std::size_t>(out.size()));
  for (Index i = 0; i < out.size(); ++i) {
    const auto idx = unravel(i, out);
    T v = at(xs[0], idx);
    for (std::size_t k = 1; k < xs.size(); ++k) {
      const T w = at(xs[k], idx);
      switch (op) {
        case Op::add:
        case Op::avg:
          v = v + w;
          break;
        case Op::sub:
          v = v - w;
          break;
        case Op::mul:
          v = v * w;
          break;
        case Op::max:
          v = std::max(v, w);
          break;
        case Op::min:
          v = std::min(v, w);
          break;
      }
    }
    if (op == Op::avg) v = v / static_cast<T>(xs.size());
    y[static_cast<std::size_t>(i)] = v;
  }
  return y;
}

template <class T>
void check_equal(const AnyTensor<T>& got, const Shape& shape, const std::vector<T>& want, double tol = 0) {
  REQUIRE(got.shape() == shape);
  REQUIRE(static_cast<std::size_t>(got.size()) == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    if (tol == 0) {
      CHECK(got.data()[i] == want[i]);
    } else {
      CHECK(std::abs(static_cast<double>(got.data()[i]) - static_cast<double>(want[i])) <= tol);
    }
  }
}

template <class T>
AnyTensor<T> random_any(const Shape& s) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(s);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(test::random_int(-1000, 1000)) / T(250);
  return t;
}

template <class L, class T>
AnyTensor<T> call_all(const L& layer, const std::vector<AnyTensor<T>>& xs) {
  return layer(std::vector<TensorView<T>>(xs.begin(), xs.end()));
}

}  // namespace

TEMPLATE_TEST_CASE("Element-wise merges equal a naive loop, with Keras 3's broadcasting", "[merge]", float, double) {
  using T = TestType;
  const std::vector<std::vector<Shape>> cases = {
      {Shape{3, 4, 5}, Shape{3, 4, 5}},                  // equal shapes (one flat row)
      {Shape{2, 4, 5}, Shape{2, 1, 5}},                  // a size-1 time axis
      {Shape{2, 4, 5}, Shape{2, 4, 1}},                  // a size-1 feature axis
      {Shape{2, 4, 5}, Shape{2, 5}},                     // rank 2 with rank 3: (B, F) -> (B, 1, F)
      {Shape{2, 3}, Shape{2, 4, 3}, Shape{2, 4, 1}},     // three inputs, mixed ranks
      {Shape{1, 2, 3, 600}, Shape{1, 2, 3, 600}},        // rows longer than one block
      {Shape{2, 3, 1, 4}, Shape{2, 5, 1}, Shape{2, 1}},  // rank 4, 3 and 2, stretched both ways
  };
  for (const auto& shapes : cases) {
    std::vector<AnyTensor<T>> xs;
    for (const Shape& s : shapes) xs.push_back(random_any<T>(s));
    const std::vector<TensorView<T>> views(xs.begin(), xs.end());
    const Shape out = strata::Add<T>().output_shapes(shapes)[0];
    INFO("shapes " << strata::detail::shapes_string(shapes) << " -> " << out.to_string());
    check_equal(call_all(strata::Add<T>(), xs), out, naive_merge(Op::add, views, out));
    check_equal(call_all(strata::Multiply<T>(), xs), out, naive_merge(Op::mul, views, out));
    check_equal(call_all(strata::Average<T>(), xs), out, naive_merge(Op::avg, views, out));
    check_equal(call_all(strata::Maximum<T>(), xs), out, naive_merge(Op::max, views, out));
    check_equal(call_all(strata::Minimum<T>(), xs), out, naive_merge(Op::min, views, out));
    if (shapes.size() == 2) check_equal(call_all(strata::Subtract<T>(), xs), out, naive_merge(Op::sub, views, out));
  }
  // The output shape takes the larger size of each axis and the highest rank.
  CHECK(strata::Add<T>().output_shapes({Shape{2, 3, 1, 4}, Shape{2, 5, 1}, Shape{2, 1}})[0] == Shape{2, 3, 5, 4});
  // One input: the input (Keras 3 accepts a list of one).
  const AnyTensor<T> x = random_any<T>(Shape{2, 3});
  check_equal(strata::Add<T>()({TensorView<T>(x)}), Shape{2, 3}, std::vector<T>(x.data(), x.data() + 6));
  // Two typed tensors.
  const Tensor<T, 2> a = test::random_tensor<T, 2>(2, 3), b = test::random_tensor<T, 2>(2, 3);
  const AnyTensor<T> s = strata::Subtract<T>()(a, b);
  for (Index i = 0; i < 6; ++i) CHECK(s.data()[i] == a.data()[i] - b.data()[i]);
}

TEST_CASE("Merge shape errors name the layer and every input shape", "[merge][errors]") {
  const strata::Add<float> add(strata::MergeOptions().name("sum"));
  std::string m = thrown_message<strata::shape_error>([&] { add.output_shapes({Shape{2, 4, 5}, Shape{2, 3, 5}}); });
  CHECK(has(m, "strata::Add 'sum'"));
  CHECK(has(m, "(2, 4, 5), (2, 3, 5)"));
  m = thrown_message<strata::shape_error>([&] { add.output_shapes({Shape{2, 4}, Shape{3, 4}}); });
  CHECK(has(m, "different batch sizes"));
  CHECK(has(m, "(2, 4), (3, 4)"));
  m = thrown_message<strata::shape_error>([&] { add.output_shapes({Shape{2, 4, 5}, Shape{2, 4}}); });
  CHECK(has(m, "incompatible shapes (2, 4, 5), (2, 4)"));
  m = thrown_message<strata::value_error>([&] {
    strata::Subtract<float>().output_shapes({Shape{2}, Shape{2}, Shape{2}});
  });
  CHECK(has(m, "strata::Subtract: takes exactly 2 inputs; it is given 3"));
  CHECK_THROWS_AS(strata::Subtract<float>().compute_output_shape(Shape{2, 3}), strata::value_error);
  CHECK_THROWS_AS(add.output_shapes({}), strata::value_error);
  const AnyTensor<float> x = random_any<float>(Shape{2, 3});
  CHECK_THROWS_AS(add(x, random_any<float>(Shape{2, 4})), strata::shape_error);
  strata::Add<float> mutable_add;
  CHECK_THROWS_AS(mutable_add.set_weights({x}), strata::shape_error);
  std::vector<float> out(5);
  CHECK_THROWS_AS(add.forward(x.data(), Shape{2, 3}, out.data(), 5), strata::shape_error);

  const strata::Concatenate<float> cat(strata::ConcatenateOptions().axis(1).name("join"));
  m = thrown_message<strata::shape_error>([&] { cat.output_shapes({Shape{2, 4, 5}, Shape{2, 3, 6}}); });
  CHECK(has(m, "strata::Concatenate 'join'"));
  CHECK(has(m, "(2, 4, 5), (2, 3, 6)"));
  CHECK_THROWS_AS(cat.output_shapes({Shape{2, 4, 5}, Shape{2, 4}}), strata::shape_error);
  CHECK_THROWS_AS(cat.output_shapes({Shape{2, 4, 5}, Shape{3, 4, 5}}), strata::shape_error);
  m = thrown_message<strata::shape_error>([&] {
    strata::Concatenate<float>(strata::ConcatenateOptions().axis(-3)).output_shapes({Shape{2, 4, 5}});
  });
  CHECK(has(m, "the batch axis"));
  CHECK_THROWS_AS(strata::Concatenate<float>(strata::ConcatenateOptions().axis(3)).output_shapes({Shape{2, 4, 5}}),
                  strata::shape_error);

  const strata::Dot<float> dot(2, strata::DotOptions().name("d"));
  m = thrown_message<strata::shape_error>([&] { dot.output_shapes({Shape{2, 4, 5}, Shape{2, 4, 6}}); });
  CHECK(has(m, "strata::Dot 'd'"));
  CHECK(has(m, "(2, 4, 5), (2, 4, 6)"));
  CHECK_THROWS_AS(dot.output_shapes({Shape{2, 4, 5}, Shape{3, 4, 5}}), strata::shape_error);
  CHECK_THROWS_AS(dot.output_shapes({Shape{2}, Shape{2}}), strata::shape_error);
  CHECK_THROWS_AS(strata::Dot<float>(3).output_shapes({Shape{2, 4, 5}, Shape{2, 4, 5}}), strata::shape_error);
  CHECK_THROWS_AS(dot.output_shapes({Shape{2, 4, 5}}), strata::value_error);
  CHECK_THROWS_AS(strata::Dot<float>(0), strata::value_error);
  CHECK_THROWS_AS(dot.compute_output_shape(Shape{2, 3}), strata::value_error);
}

TEMPLATE_TEST_CASE("Concatenate joins along any axis, negative ones too", "[merge]", float, double) {
  using T = TestType;
  const std::vector<AnyTensor<T>> xs = {random_any<T>(Shape{2, 3, 4, 5}), random_any<T>(Shape{2, 3, 2, 5}),
                                        random_any<T>(Shape{2, 3, 1, 5})};
  for (Index axis : {Index(2), Index(-2)}) {
    const AnyTensor<T> y = call_all(strata::Concatenate<T>(strata::ConcatenateOptions().axis(axis)), xs);
    REQUIRE(y.shape() == Shape{2, 3, 7, 5});
    for (Index i = 0; i < y.size(); ++i) {
      auto idx = unravel(i, y.shape());
      std::size_t k = 0;
      while (idx[2] >= xs[k].shape()[2]) idx[2] -= xs[k++].shape()[2];
      const Shape& s = xs[k].shape();
      const Index off = ((idx[0] * s[1] + idx[1]) * s[2] + idx[2]) * s[3] + idx[3];
      CHECK(y.data()[i] == xs[k].data()[off]);
    }
  }
  // The default axis -1 and axis 1.
  const AnyTensor<T> a = random_any<T>(Shape{2, 3}), b = random_any<T>(Shape{2, 2});
  const AnyTensor<T> y = strata::Concatenate<T>()(a, b);
  REQUIRE(y.shape() == Shape{2, 5});
  CHECK(y.data()[3] == b.data()[0]);
  CHECK(y.data()[5] == a.data()[3]);
  const AnyTensor<T> c = random_any<T>(Shape{2, 4, 3});
  const AnyTensor<T> d = random_any<T>(Shape{2, 1, 3});
  const AnyTensor<T> z = strata::Concatenate<T>(strata::ConcatenateOptions().axis(1))(c, d);
  REQUIRE(z.shape() == Shape{2, 5, 3});
  CHECK(z.data()[12] == d.data()[0]);
  CHECK(z.data()[15] == c.data()[12]);
}

namespace {

/// Keras' batch_dot for one sample pair, with Keras 3's normalisation, in double.
std::vector<double> naive_dot(const AnyTensor<double>& x, const AnyTensor<double>& y, int ax, int ay, bool normalize,
                              Shape& out) {
  const Shape& xs = x.shape();
  const Shape& ys = y.shape();
  const auto normed = [&](const AnyTensor<double>& t, int axis) {
    std::vector<double> v(t.data(), t.data() + t.size());
    if (!normalize) return v;
    const Shape& s = t.shape();
    for (Index i = 0; i < t.size(); ++i) {
      auto idx = unravel(i, s);
      double sum = 0;
      for (Index k = 0; k < s[axis]; ++k) {
        idx[static_cast<std::size_t>(axis)] = k;
        Index off = 0;
        for (int d = 0; d < s.rank(); ++d) off = off * s[d] + idx[static_cast<std::size_t>(d)];
        sum += t.data()[off] * t.data()[off];
      }
      v[static_cast<std::size_t>(i)] = t.data()[i] / std::sqrt(std::max(sum, 1e-14));
    }
    return v;
  };
  const std::vector<double> xv = normed(x, ax), yv = normed(y, ay);
  out = Shape{};
  for (int d = 0; d < xs.rank(); ++d) {
    if (d != ax) out.push_back(xs[d]);
  }
  for (int d = 1; d < ys.rank(); ++d) {
    if (d != ay) out.push_back(ys[d]);
  }
  if (out.rank() == 1) out.push_back(1);
  std::vector<double> result;
  // Enumerate x's free indices then y's, in order.
  std::vector<int> xfree, yfree;
  for (int d = 1; d < xs.rank(); ++d) {
    if (d != ax) xfree.push_back(d);
  }
  for (int d = 1; d < ys.rank(); ++d) {
    if (d != ay) yfree.push_back(d);
  }
  const Index nx = xs.size() / xs[0] / xs[ax], ny = ys.size() / ys[0] / ys[ay];
  for (Index b = 0; b < xs[0]; ++b) {
    for (Index i = 0; i < nx; ++i) {
      for (Index j = 0; j < ny; ++j) {
        std::vector<Index> xi(static_cast<std::size_t>(xs.rank())), yi(static_cast<std::size_t>(ys.rank()));
        xi[0] = yi[0] = b;
        Index r = i;
        for (auto it = xfree.rbegin(); it != xfree.rend(); ++it) {
          xi[static_cast<std::size_t>(*it)] = r % xs[*it];
          r /= xs[*it];
        }
        r = j;
        for (auto it = yfree.rbegin(); it != yfree.rend(); ++it) {
          yi[static_cast<std::size_t>(*it)] = r % ys[*it];
          r /= ys[*it];
        }
        double sum = 0;
        for (Index k = 0; k < xs[ax]; ++k) {
          xi[static_cast<std::size_t>(ax)] = k;
          yi[static_cast<std::size_t>(ay)] = k;
          Index xo = 0, yo = 0;
          for (int d = 0; d < xs.rank(); ++d) xo = xo * xs[d] + xi[static_cast<std::size_t>(d)];
          for (int d = 0; d < ys.rank(); ++d) yo = yo * ys[d] + yi[static_cast<std::size_t>(d)];
          sum += xv[static_cast<std::size_t>(xo)] * yv[static_cast<std::size_t>(yo)];
        }
        result.push_back(sum);
      }
    }
  }
  return result;
}

}  // namespace

TEMPLATE_TEST_CASE("Dot equals Keras' batch_dot, with any axes and normalize", "[merge]", float, double) {
  using T = TestType;
  struct Case {
    Shape x, y;
    Index ax, ay;
  };
  const std::vector<Case> cases = {
      {Shape{3, 5}, Shape{3, 5}, 1, 1},           {Shape{3, 5}, Shape{3, 5}, -1, -1},
      {Shape{2, 4, 5}, Shape{2, 6, 5}, 2, 2},     {Shape{2, 4, 5}, Shape{2, 4, 6}, 1, 1},
      {Shape{2, 4, 5}, Shape{2, 5, 6}, 2, 1},     {Shape{2, 4, 5}, Shape{2, 5}, -1, -1},
      {Shape{2, 5}, Shape{2, 3, 5}, 1, 2},        {Shape{2, 3, 4, 5}, Shape{2, 4, 2}, 2, 1},
      {Shape{1, 20, 16}, Shape{1, 20, 16}, 2, 2},
  };
  for (const bool normalize : {false, true}) {
    for (const Case& c : cases) {
      const AnyTensor<T> x = random_any<T>(c.x), y = random_any<T>(c.y);
      const strata::Dot<T> dot(c.ax, c.ay, strata::DotOptions().normalize(normalize));
      const AnyTensor<T> got = dot(x, y);
      AnyTensor<double> xd = AnyTensor<double>::uninitialized(c.x), yd = AnyTensor<double>::uninitialized(c.y);
      std::copy(x.data(), x.data() + x.size(), xd.data());
      std::copy(y.data(), y.data() + y.size(), yd.data());
      Shape want_shape;
      const Index ax = c.ax < 0 ? c.ax + c.x.rank() : c.ax, ay = c.ay < 0 ? c.ay + c.y.rank() : c.ay;
      const std::vector<double> want =
          naive_dot(xd, yd, static_cast<int>(ax), static_cast<int>(ay), normalize, want_shape);
      INFO("x " << c.x.to_string() << " y " << c.y.to_string() << " axes " << c.ax << ", " << c.ay << " normalize "
                << normalize);
      REQUIRE(got.shape() == want_shape);
      REQUIRE(dot.output_shapes({c.x, c.y})[0] == want_shape);
      const double tol = std::is_same_v<T, float> ? 2e-5 * (normalize ? 1 : 20) : 1e-12 * 20;
      for (Index i = 0; i < got.size(); ++i) {
        CHECK(std::abs(static_cast<double>(got.data()[i]) - want[static_cast<std::size_t>(i)]) <= tol);
      }
    }
  }
  // A zero vector normalises to zero (Keras 3 clamps the squared norm at 1e-14), not NaN.
  Tensor<T, 2> zeros(2, 3);
  zeros.setZero();
  const AnyTensor<T> zero(zeros);
  const AnyTensor<T> one = random_any<T>(Shape{2, 3});
  const AnyTensor<T> r = strata::Dot<T>(1, strata::DotOptions().normalize(true))(zero, one);
  CHECK(r.data()[0] == T(0));
  CHECK(r.data()[1] == T(0));
}

TEMPLATE_TEST_CASE("Merge masks follow Keras 3 (>= 3.4), Keras 2 / TF.js and Keras 3.0-3.3", "[merge][mask]", float,
                   double) {
  using T = TestType;
  const Index B = 3, Tm = 4, F = 2;
  const AnyTensor<T> x = random_any<T>(Shape{B, Tm, F}), y = random_any<T>(Shape{B, Tm, F});
  Mask mx(B, Tm), my(B, Tm);
  for (Index b = 0; b < B; ++b) {
    for (Index t = 0; t < Tm; ++t) {
      mx(b, t) = (b + t) % 2 == 0;
      my(b, t) = t % 3 == 0;
    }
  }
  const std::vector<Shape> shapes = {x.shape(), y.shape()};
  const std::vector<TensorView<T>> views = {TensorView<T>(x), TensorView<T>(y)};
  // Keras 3: OR when every input has a mask, else none.
  const strata::Add<T> add3;
  const auto both = add3.compute_mask(shapes, {&mx, &my});
  REQUIRE(both);
  for (Index i = 0; i < B * Tm; ++i) CHECK(both->data()[i] == (mx.data()[i] || my.data()[i]));
  CHECK_FALSE(add3.compute_mask(shapes, {&mx, nullptr}));
  CHECK_FALSE(add3.compute_mask(shapes, {nullptr, nullptr}));
  // Keras 2 / TF.js: AND of the masks given.
  const strata::Add<T> add2(strata::MergeOptions().masks(MergeMasks::keras2));
  const auto and2 = add2.compute_mask(shapes, {&mx, &my});
  REQUIRE(and2);
  for (Index i = 0; i < B * Tm; ++i) CHECK(and2->data()[i] == (mx.data()[i] && my.data()[i]));
  const auto one2 = add2.compute_mask(shapes, {nullptr, &my});
  REQUIRE(one2);
  CHECK(std::equal(one2->data(), one2->data() + one2->size(), my.data()));
  // Keras 3.0-3.3: none.
  CHECK_FALSE(strata::Add<T>(strata::MergeOptions().masks(MergeMasks::none)).compute_mask(shapes, {&mx, &my}));
  // The values of Add ignore masks.
  const AnyTensor<T> sum = add3(views, {&mx, &my});
  for (Index i = 0; i < sum.size(); ++i) CHECK(sum.data()[i] == x.data()[i] + y.data()[i]);

  // Keras 3's Multiply: a masked step counts as 1; masked in both -> 0.
  const AnyTensor<T> prod = strata::Multiply<T>()(views, {&mx, &my});
  const AnyTensor<T> prod_one = strata::Multiply<T>()(views, {&mx, nullptr});
  // Keras 3's Maximum: a masked input leaves the other's value; masked in both -> the first's.
  const AnyTensor<T> mx_v = strata::Maximum<T>()(views, {&mx, &my});
  const AnyTensor<T> mn_v = strata::Minimum<T>()(views, {nullptr, &my});
  const AnyTensor<T> prod2 = strata::Multiply<T>(strata::MergeOptions().masks(MergeMasks::keras2))(views, {&mx, &my});
  for (Index b = 0; b < B; ++b) {
    for (Index t = 0; t < Tm; ++t) {
      for (Index f = 0; f < F; ++f) {
        const Index i = (b * Tm + t) * F + f;
        const T a = x.data()[i], c = y.data()[i];
        const bool kx = mx(b, t), ky = my(b, t);
        CHECK(prod.data()[i] == (kx || ky ? (kx ? a : T(1)) * (ky ? c : T(1)) : T(0)));
        CHECK(prod_one.data()[i] == (kx ? a : T(1)) * c);
        CHECK(mx_v.data()[i] == (kx && ky ? std::max(a, c) : kx ? a : ky ? c : a));
        CHECK(mn_v.data()[i] == (ky ? std::min(a, c) : a));
        CHECK(prod2.data()[i] == a * c);
      }
    }
  }

  // Concatenate along features: OR (an unmasked input makes every step kept); Keras 2: AND.
  const strata::Concatenate<T> cat;
  const auto c3 = cat.compute_mask(shapes, {&mx, &my});
  REQUIRE(c3);
  for (Index i = 0; i < B * Tm; ++i) CHECK(c3->data()[i] == (mx.data()[i] || my.data()[i]));
  const auto c3_one = cat.compute_mask(shapes, {&mx, nullptr});
  REQUIRE(c3_one);
  for (Index i = 0; i < B * Tm; ++i) CHECK(c3_one->data()[i]);
  const auto c2 = strata::Concatenate<T>(strata::ConcatenateOptions().masks(MergeMasks::keras2))
                      .compute_mask(shapes, {&mx, nullptr});
  REQUIRE(c2);
  CHECK(std::equal(c2->data(), c2->data() + c2->size(), mx.data()));
  CHECK_FALSE(cat.compute_mask(shapes, {nullptr, nullptr}));
  // Concatenate along time joins the masks.
  const auto ct = strata::Concatenate<T>(strata::ConcatenateOptions().axis(1))
                      .compute_mask({Shape{B, Tm, F}, Shape{B, 2, F}}, {&mx, nullptr});
  REQUIRE(ct);
  REQUIRE(ct->dimension(1) == Tm + 2);
  for (Index b = 0; b < B; ++b) {
    for (Index t = 0; t < Tm + 2; ++t) CHECK((*ct)(b, t) == (t < Tm ? mx(b, t) : true));
  }
  // A mask of the wrong shape.
  Mask bad(B, Tm + 1);
  CHECK_THROWS_AS(add3.compute_mask(shapes, {&mx, &bad}), strata::shape_error);
  CHECK_THROWS_AS(cat.compute_mask(shapes, {&bad, nullptr}), strata::shape_error);
  // Declared mask ranks in a graph; Dot has none; masks strata cannot apply are refused.
  CHECK(add3.output_mask_ranks(shapes, {2, 2}) == std::vector<int>{2});
  CHECK(add3.output_mask_ranks(shapes, {2, 0}) == std::vector<int>{0});
  CHECK(add2.output_mask_ranks(shapes, {0, 2}) == std::vector<int>{2});
  CHECK(cat.output_mask_ranks(shapes, {0, 2}) == std::vector<int>{2});
  CHECK(strata::Dot<T>(2).output_mask_ranks({Shape{B, Tm, F}, Shape{B, Tm, F}}, {2, 2}) == std::vector<int>{0});
  CHECK_THROWS_AS(strata::Maximum<T>().output_mask_ranks({Shape{B, Tm, 2, F}, Shape{B, Tm, 2, F}}, {3, 0}),
                  strata::shape_error);
}

TEMPLATE_TEST_CASE("Merge layers from their Keras configs through a local Registry", "[merge][config]", float, double) {
  using T = TestType;
  strata::Registry<T> registry;
  registry.template add<strata::Add<T>>();
  registry.template add<strata::Concatenate<T>>();
  registry.template add<strata::Dot<T>>();
  strata::Config config = strata::Config::dict();
  config.set("name", "add_1");
  AnyLayer<T> add = registry.build(strata::LayerConfig<T>(registry, "Add", config, strata::KerasVersion{}, "test"));
  CHECK(add.name() == "add_1");
  CHECK(add.output_shapes({Shape{2, 3}, Shape{2, 3}}) == std::vector<Shape>{Shape{2, 3}});
  // KerasVersion{} is 3.0: merges received no masks before Keras 3.4.
  CHECK(add.template target<strata::Add<T>>()->masks() == MergeMasks::none);
  const auto version = [](const char* v) { return strata::KerasVersion::parse(v); };
  CHECK(registry.build(strata::LayerConfig<T>(registry, "Add", config, version("2.15.0"), "test"))
            .template target<strata::Add<T>>()
            ->masks() == MergeMasks::keras2);
  CHECK(registry.build(strata::LayerConfig<T>(registry, "Add", config, version("tfjs-layers 4.22.0"), "test"))
            .template target<strata::Add<T>>()
            ->masks() == MergeMasks::keras2);
  CHECK(registry.build(strata::LayerConfig<T>(registry, "Add", config, version("3.3.3"), "test"))
            .template target<strata::Add<T>>()
            ->masks() == MergeMasks::none);
  CHECK(registry.build(strata::LayerConfig<T>(registry, "Add", config, version("3.10.0"), "test"))
            .template target<strata::Add<T>>()
            ->masks() == MergeMasks::keras3);

  strata::Config cat = strata::Config::dict();
  cat.set("name", "cat");
  cat.set("axis", 1);
  AnyLayer<T> c = registry.build(strata::LayerConfig<T>(registry, "Concatenate", cat, strata::KerasVersion{}, "test"));
  CHECK(c.template target<strata::Concatenate<T>>()->axis() == 1);

  strata::Config dot = strata::Config::dict();
  dot.set("name", "dot");
  strata::Config axes = strata::Config::list();
  axes.push_back(2);
  axes.push_back(-1);
  dot.set("axes", axes);
  dot.set("normalize", true);
  AnyLayer<T> d = registry.build(strata::LayerConfig<T>(registry, "Dot", dot, strata::KerasVersion{}, "test"));
  const strata::Dot<T>* typed = d.template target<strata::Dot<T>>();
  REQUIRE(typed != nullptr);
  CHECK(typed->axis_x() == 2);
  CHECK(typed->axis_y() == -1);
  CHECK(typed->normalize());
  dot.set("axes", 1);
  CHECK(registry.build(strata::LayerConfig<T>(registry, "Dot", dot, strata::KerasVersion{}, "test"))
            .template target<strata::Dot<T>>()
            ->axis_y() == 1);
  dot.set("axes", 0);
  CHECK_THROWS_AS(registry.build(strata::LayerConfig<T>(registry, "Dot", dot, strata::KerasVersion{}, "test")),
                  strata::load_error);
  dot.set("axes", "x");
  CHECK_THROWS_AS(registry.build(strata::LayerConfig<T>(registry, "Dot", dot, strata::KerasVersion{}, "test")),
                  strata::load_error);
}

TEST_CASE("A merge in a Model writes into a handed-over input and passes masks on to an LSTM", "[merge][model]") {
  // x -> Masking -> Dense ; x2 -> Dense ; Add -> LSTM(return_sequences): the LSTM must see the
  // Keras 3 mask: OR of the masks when both branches carry one, none here (one branch has none).
  const Index B = 2, Tm = 5, F = 3;
  strata::Model<double> model;
  const auto x = model.add_input("x", {-1, Tm, F});
  const auto x2 = model.add_input("x2", {-1, Tm, F});
  const auto masked = model.add(strata::Masking<double>(0.0), x);
  const auto d1 = model.add(strata::Dense<double>(4, strata::DenseOptions().input_dim(F).seed(1)), masked);
  const auto d2 = model.add(strata::Dense<double>(4, strata::DenseOptions().input_dim(F).seed(2)), x2);
  const auto m1 = model.add(strata::Masking<double>(0.0), x2);
  const auto d3 = model.add(strata::Dense<double>(4, strata::DenseOptions().input_dim(F).seed(3)), m1);
  const auto sum = model.add(strata::Add<double>(), std::vector<strata::Model<double>::TensorRef>{d1, d2}).front();
  const auto both = model.add(strata::Add<double>(), std::vector<strata::Model<double>::TensorRef>{d1, d3}).front();
  strata::LSTM<double> lstm(3, strata::LSTMOptions().input_dim(4).seed(4).return_sequences(true));
  const std::size_t shared = model.add_layer(lstm);
  const auto y1 = model.call(shared, std::vector<strata::Model<double>::TensorRef>{sum}).front();
  const auto y2 = model.call(shared, std::vector<strata::Model<double>::TensorRef>{both}).front();
  model.set_outputs(std::vector<strata::Model<double>::TensorRef>{y1, y2, sum});
  Tensor<double, 3> xv = test::random_tensor<double, 3>(B, Tm, F), x2v = test::random_tensor<double, 3>(B, Tm, F);
  for (Index f = 0; f < F; ++f) {
    xv(0, 1, f) = 0;  // step 1 of sample 0 masked in x only
    xv(1, 3, f) = 0;  // step 3 of sample 1 masked in both
    x2v(1, 3, f) = 0;
  }
  const auto out = model.predict(std::vector<TensorView<double>>{TensorView<double>(xv), TensorView<double>(x2v)});
  REQUIRE(out.size() == 3);
  // sum: d1 + d2 with no mask -> the LSTM runs every step (equal to the LSTM on the sum).
  const AnyTensor<double> s = out[2];
  const Tensor<double, 3> s3 = s.get<3>();
  const AnyTensor<double> plain = lstm(s3);
  CHECK(std::equal(plain.data(), plain.data() + plain.size(), out[0].data()));
  // both: masks OR-ed -> only (1, 3) is masked; the LSTM's output there repeats step 2.
  const auto& y2v = out[1];
  REQUIRE(y2v.shape() == Shape{B, Tm, 3});
  for (Index u = 0; u < 3; ++u) CHECK(y2v.data()[((1 * Tm) + 3) * 3 + u] == y2v.data()[((1 * Tm) + 2) * 3 + u]);
  CHECK(y2v.data()[((0 * Tm) + 1) * 3] != y2v.data()[((0 * Tm) + 0) * 3]);
}

TEST_CASE("An element-wise merge takes over a handed-over input of the output's shape", "[merge][model]") {
  const strata::Multiply<float> mul;
  AnyTensor<float> a = random_any<float>(Shape{2, 3, 4});
  AnyTensor<float> b = random_any<float>(Shape{2, 1, 4});
  const AnyTensor<float> want = mul(a, b);
  const float* storage = a.data();
  GraphCall<float> call;
  call.inputs.push_back(GraphInput<float>{TensorView<float>(b), nullptr, &b});  // broadcast: not taken
  call.inputs.push_back(GraphInput<float>{TensorView<float>(a), nullptr, &a});
  mul.call_graph(call);
  REQUIRE(call.outputs.size() == 1);
  CHECK(call.outputs[0].data() == storage);
  // b * a in this order equals a * b elementwise.
  CHECK(std::equal(want.data(), want.data() + want.size(), call.outputs[0].data()));
}
