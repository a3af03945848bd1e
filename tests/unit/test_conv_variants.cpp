// SPDX-License-Identifier: MIT
// DepthwiseConv1D/2D, SeparableConv1D/2D and Conv1DTranspose/2DTranspose: values against naive
// loops written here from Keras' definitions (strides, dilation, valid/same with TensorFlow's
// offsets, depth_multiplier, output_padding), Keras weights and shapes, batch and thread
// invariance (bitwise), TimeDistributed composition, and the error paths.
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/naive.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::Index;
using strata::Shape;
using strata::Tensor;
using strata::Weights;
using test::has;
using test::thrown_message;

// --- naive references (double), every layer on a (batch, rows, cols, channels) input; 1-D = 1 row

struct Geometry {
  Index kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  bool same = false;
};

// Keras 3 / TensorFlow conv output size and front padding of one axis.
void conv_axis(Index n, Index k, Index s, Index d, bool same, Index& out, Index& pad) {
  const Index ke = (k - 1) * d + 1;
  if (same) {
    out = (n + s - 1) / s;
    const Index total = std::max<Index>(0, (out - 1) * s + ke - n);
    pad = total / 2;
  } else {
    out = (n - ke) / s + 1;
    pad = 0;
  }
}

// y[b, oh, ow, c * m + j] = bias + sum over taps of x[b, oh sh - ph + i dh, ow sw - pw + k dw, c] w[i, k, c, j]
std::vector<double> naive_depthwise(const std::vector<double>& x, Index B, Index H, Index W, Index C,
                                    const std::vector<double>& w, Index M, const std::vector<double>& bias,
                                    const Geometry& g, Index& oh_out, Index& ow_out) {
  Index OH, OW, ph, pw;
  conv_axis(H, g.kh, g.sh, g.dh, g.same, OH, ph);
  conv_axis(W, g.kw, g.sw, g.dw, g.same, OW, pw);
  oh_out = OH;
  ow_out = OW;
  std::vector<double> y(static_cast<std::size_t>(B * OH * OW * C * M));
  for (Index b = 0; b < B; ++b)
    for (Index oh = 0; oh < OH; ++oh)
      for (Index ow = 0; ow < OW; ++ow)
        for (Index c = 0; c < C; ++c)
          for (Index j = 0; j < M; ++j) {
            double s = bias.empty() ? 0.0 : bias[static_cast<std::size_t>(c * M + j)];
            for (Index i = 0; i < g.kh; ++i)
              for (Index k = 0; k < g.kw; ++k) {
                const Index r = oh * g.sh - ph + i * g.dh, q = ow * g.sw - pw + k * g.dw;
                if (r < 0 || r >= H || q < 0 || q >= W) continue;
                s += x[static_cast<std::size_t>(((b * H + r) * W + q) * C + c)] *
                     w[static_cast<std::size_t>(((i * g.kw + k) * C + c) * M + j)];
              }
            y[static_cast<std::size_t>(((b * OH + oh) * OW + ow) * C * M + c * M + j)] = s;
          }
  return y;
}

// Keras 3's transposed-conv axis (backend_utils: output size and the JAX left padding).
void transpose_axis(Index n, Index k, Index s, Index d, bool same, Index op, Index& out, Index& crop) {
  const Index ke = (k - 1) * d + 1;
  Index left;
  if (!same) {
    const Index p = op < 0 ? std::max(ke, s) - ke : op;
    out = (n - 1) * s + ke + p;
    left = ke - 1;
  } else {
    const Index pad_len = op < 0 ? s + ke - 2 : ke + ke % 2 - 2 + op;
    left = std::min(pad_len / 2 + pad_len % 2, ke - 1);
    out = op < 0 ? n * s : (n - 1) * s + ke % 2 + op;
  }
  crop = ke - 1 - left;
}

// Scatter form: every x[i] W[k] lands on o = i s + k d - crop; kernel (kh, kw, F, C).
std::vector<double> naive_transpose(const std::vector<double>& x, Index B, Index H, Index W, Index C,
                                    const std::vector<double>& w, Index F, const std::vector<double>& bias,
                                    const Geometry& g, Index oph, Index opw, Index& oh_out, Index& ow_out) {
  Index OH, OW, ch, cw;
  transpose_axis(H, g.kh, g.sh, g.dh, g.same, oph, OH, ch);
  transpose_axis(W, g.kw, g.sw, g.dw, g.same, opw, OW, cw);
  oh_out = OH;
  ow_out = OW;
  std::vector<double> y(static_cast<std::size_t>(B * OH * OW * F));
  for (Index b = 0; b < B; ++b)
    for (Index p = 0; p < OH * OW; ++p)
      for (Index f = 0; f < F; ++f)
        y[static_cast<std::size_t>((b * OH * OW + p) * F + f)] = bias.empty() ? 0.0 : bias[f];
  for (Index b = 0; b < B; ++b)
    for (Index ih = 0; ih < H; ++ih)
      for (Index iw = 0; iw < W; ++iw)
        for (Index i = 0; i < g.kh; ++i)
          for (Index k = 0; k < g.kw; ++k) {
            const Index oh = ih * g.sh + i * g.dh - ch, ow = iw * g.sw + k * g.dw - cw;
            if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
            for (Index f = 0; f < F; ++f) {
              double s = 0;
              for (Index c = 0; c < C; ++c) {
                s += x[static_cast<std::size_t>(((b * H + ih) * W + iw) * C + c)] *
                     w[static_cast<std::size_t>(((i * g.kw + k) * F + f) * C + c)];
              }
              y[static_cast<std::size_t>(((b * OH + oh) * OW + ow) * F + f)] += s;
            }
          }
  return y;
}

std::vector<double> random_values(Index n, double scale = 1.0) {
  std::vector<double> v(static_cast<std::size_t>(n));
  test::fill_uniform(v.data(), n, -scale, scale);
  return v;
}

template <class T>
AnyTensor<T> tensor_of(const Shape& shape, const std::vector<double>& v) {
  return AnyTensor<T>::from_values(shape, std::vector<T>(v.begin(), v.end()));
}

template <class T>
std::vector<double> as_double(const AnyTensor<T>& t) {
  return std::vector<double>(t.data(), t.data() + t.size());
}

double max_rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]) / (1.0 + std::abs(b[i])));
  return m;
}

void activate(std::vector<double>& v, const std::string& act, std::size_t cols) {
  naive::activate_rows(act, v, v.size() / cols, cols);
}

Shape input_shape(int n, Index B, Index H, Index W, Index C) { return n == 1 ? Shape{B, W, C} : Shape{B, H, W, C}; }

template <int N>
strata::detail::Spatial<N> pair(Index a, Index b) {
  if constexpr (N == 1) {
    (void)a;
    return {b};
  } else {
    return {a, b};
  }
}

struct Case {
  Index B, H, W, C, M, F, kh, kw, sh, sw, dh, dw;
  bool same, bias;
  std::string act;
  Index oph = -1, opw = -1;
};

const Case cases[] = {
    {2, 5, 6, 3, 1, 4, 3, 3, 1, 1, 1, 1, false, true, "linear"},
    {1, 7, 5, 4, 2, 3, 3, 2, 2, 2, 1, 1, true, true, "relu"},
    {3, 6, 7, 5, 3, 2, 2, 3, 1, 1, 2, 2, true, false, "tanh"},
    {2, 4, 9, 1, 4, 6, 1, 4, 1, 3, 1, 1, true, true, "linear", 0, 2},
    {1, 8, 8, 17, 1, 9, 3, 3, 2, 2, 1, 1, false, true, "sigmoid", 1, 1},
    {2, 3, 11, 9, 2, 1, 2, 5, 1, 1, 1, 2, false, true, "linear"},
    {1, 5, 4, 6, 1, 5, 4, 4, 3, 3, 1, 1, true, true, "linear", 2, 1},
    {2, 6, 6, 2, 3, 3, 5, 3, 2, 1, 1, 1, true, true, "softmax"},
};

template <class T, int N>
void check_depthwise(const Case& k) {
  const Index H = N == 1 ? 1 : k.H;
  Geometry g{N == 1 ? 1 : k.kh, k.kw, N == 1 ? 1 : k.sh, k.sw, N == 1 ? 1 : k.dh, k.dw, k.same};
  const auto x = random_values(k.B * H * k.W * k.C);
  const auto w = random_values(g.kh * g.kw * k.C * k.M);
  const auto b = k.bias ? random_values(k.C * k.M, 0.5) : std::vector<double>{};
  Index OH, OW;
  auto ref = naive_depthwise(x, k.B, H, k.W, k.C, w, k.M, b, g, OH, OW);
  activate(ref, k.act, static_cast<std::size_t>(k.C * k.M));

  strata::DepthwiseConv<T, N> layer(pair<N>(k.kh, k.kw), typename strata::DepthwiseConv<T, N>::Options()
                                                             .depth_multiplier(k.M)
                                                             .strides(pair<N>(k.sh, k.sw))
                                                             .dilation_rate(pair<N>(k.dh, k.dw))
                                                             .padding(k.same ? "same" : "valid")
                                                             .use_bias(k.bias)
                                                             .activation(k.act));
  Shape ks;
  if (N == 2) ks.push_back(g.kh);
  ks.push_back(g.kw);
  ks.push_back(k.C);
  ks.push_back(k.M);
  Weights<T> weights{tensor_of<T>(ks, w)};
  if (k.bias) weights.push_back(tensor_of<T>(Shape{k.C * k.M}, b));
  layer.set_weights(weights);
  const AnyTensor<T> y = layer(tensor_of<T>(input_shape(N, k.B, H, k.W, k.C), x));
  const Shape expected = N == 1 ? Shape{k.B, OW, k.C * k.M} : Shape{k.B, OH, OW, k.C * k.M};
  REQUIRE(y.shape() == expected);
  CHECK(max_rel_err(as_double(y), ref) < test::tolerance<T>());
  // get_weights gives back what was set, bit for bit.
  const Weights<T> back = layer.get_weights();
  REQUIRE(back.size() == weights.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].shape() == weights[i].shape());
    CHECK(test::bitwise_equal(back[i].data(), weights[i].data(), back[i].size()));
  }
  CHECK(layer.count_params() == g.kh * g.kw * k.C * k.M + (k.bias ? k.C * k.M : 0));
}

template <class T, int N>
void check_separable(const Case& k) {
  const Index H = N == 1 ? 1 : k.H;
  Geometry g{N == 1 ? 1 : k.kh, k.kw, N == 1 ? 1 : k.sh, k.sw, N == 1 ? 1 : k.dh, k.dw, k.same};
  const auto x = random_values(k.B * H * k.W * k.C);
  const auto dw = random_values(g.kh * g.kw * k.C * k.M);
  const auto pw = random_values(k.C * k.M * k.F, 0.5);
  const auto b = k.bias ? random_values(k.F, 0.5) : std::vector<double>{};
  Index OH, OW;
  const auto mid = naive_depthwise(x, k.B, H, k.W, k.C, dw, k.M, {}, g, OH, OW);
  const Index positions = k.B * OH * OW, width = k.C * k.M;
  std::vector<double> ref(static_cast<std::size_t>(positions * k.F));
  for (Index p = 0; p < positions; ++p)
    for (Index f = 0; f < k.F; ++f) {
      double s = k.bias ? b[static_cast<std::size_t>(f)] : 0.0;
      for (Index j = 0; j < width; ++j)
        s += mid[static_cast<std::size_t>(p * width + j)] * pw[static_cast<std::size_t>(j * k.F + f)];
      ref[static_cast<std::size_t>(p * k.F + f)] = s;
    }
  activate(ref, k.act, static_cast<std::size_t>(k.F));

  strata::SeparableConv<T, N> layer(k.F, pair<N>(k.kh, k.kw),
                                    typename strata::SeparableConv<T, N>::Options()
                                        .depth_multiplier(k.M)
                                        .strides(pair<N>(k.sh, k.sw))
                                        .dilation_rate(pair<N>(k.dh, k.dw))
                                        .padding(k.same ? "same" : "valid")
                                        .use_bias(k.bias)
                                        .activation(k.act));
  Shape ds, ps;
  if (N == 2) {
    ds.push_back(g.kh);
    ps.push_back(1);
  }
  ds.push_back(g.kw);
  ds.push_back(k.C);
  ds.push_back(k.M);
  ps.push_back(1);
  ps.push_back(width);
  ps.push_back(k.F);
  Weights<T> weights{tensor_of<T>(ds, dw), tensor_of<T>(ps, pw)};
  if (k.bias) weights.push_back(tensor_of<T>(Shape{k.F}, b));
  layer.set_weights(weights);
  const AnyTensor<T> y = layer(tensor_of<T>(input_shape(N, k.B, H, k.W, k.C), x));
  const Shape expected = N == 1 ? Shape{k.B, OW, k.F} : Shape{k.B, OH, OW, k.F};
  REQUIRE(y.shape() == expected);
  CHECK(max_rel_err(as_double(y), ref) < test::tolerance<T>());
  const Weights<T> back = layer.get_weights();
  REQUIRE(back.size() == weights.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].shape() == weights[i].shape());
    CHECK(test::bitwise_equal(back[i].data(), weights[i].data(), back[i].size()));
  }
  CHECK(layer.count_params() == g.kh * g.kw * k.C * k.M + width * k.F + (k.bias ? k.F : 0));
}

template <class T, int N>
void check_transpose(const Case& k) {
  const Index H = N == 1 ? 1 : k.H;
  Geometry g{N == 1 ? 1 : k.kh, k.kw, N == 1 ? 1 : k.sh, k.sw, N == 1 ? 1 : k.dh, k.dw, k.same};
  const Index oph = N == 1 ? -1 : k.oph;
  const auto x = random_values(k.B * H * k.W * k.C);
  const auto w = random_values(g.kh * g.kw * k.F * k.C, 0.5);
  const auto b = k.bias ? random_values(k.F, 0.5) : std::vector<double>{};
  Index OH, OW;
  auto ref = naive_transpose(x, k.B, H, k.W, k.C, w, k.F, b, g, oph, k.opw, OH, OW);
  activate(ref, k.act, static_cast<std::size_t>(k.F));

  typename strata::ConvTranspose<T, N>::Options o;
  o.strides(pair<N>(k.sh, k.sw))
      .dilation_rate(pair<N>(k.dh, k.dw))
      .padding(k.same ? "same" : "valid")
      .use_bias(k.bias)
      .activation(k.act);
  if (k.opw >= 0) o.output_padding(pair<N>(std::max<Index>(oph, 0), k.opw));
  if (N == 2 && k.opw >= 0 && oph < 0) return;  // not a Keras combination (all axes or none)
  strata::ConvTranspose<T, N> layer(k.F, pair<N>(k.kh, k.kw), o);
  Shape ks;
  if (N == 2) ks.push_back(g.kh);
  ks.push_back(g.kw);
  ks.push_back(k.F);
  ks.push_back(k.C);
  Weights<T> weights{tensor_of<T>(ks, w)};
  if (k.bias) weights.push_back(tensor_of<T>(Shape{k.F}, b));
  layer.set_weights(weights);
  const AnyTensor<T> y = layer(tensor_of<T>(input_shape(N, k.B, H, k.W, k.C), x));
  const Shape expected = N == 1 ? Shape{k.B, OW, k.F} : Shape{k.B, OH, OW, k.F};
  REQUIRE(y.shape() == expected);
  CHECK(max_rel_err(as_double(y), ref) < test::tolerance<T>());
  const Weights<T> back = layer.get_weights();
  REQUIRE(back.size() == weights.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].shape() == weights[i].shape());
    CHECK(test::bitwise_equal(back[i].data(), weights[i].data(), back[i].size()));
  }
}

// A batch's outputs equal each sample's own, bitwise, whatever the batch around it and the
// thread count.
template <class L>
void check_batch_invariance(const L& layer, const Shape& one) {
  using T = typename L::Scalar;
  const Index B = 7;
  Shape batch_shape = one;
  batch_shape[0] = B;
  std::vector<double> x = random_values(batch_shape.size());
  const AnyTensor<T> whole = layer(tensor_of<T>(batch_shape, x));
  const Index per_out = whole.size() / B, per_in = one.size();
  for (Index b = 0; b < B; ++b) {
    std::vector<double> xi(x.begin() + b * per_in, x.begin() + (b + 1) * per_in);
    const AnyTensor<T> yi = layer(tensor_of<T>(one, xi));
    CHECK(test::bitwise_equal(yi.data(), whole.data() + b * per_out, per_out));
  }
  // Two samples starting at sample 3.
  Shape two = one;
  two[0] = 2;
  std::vector<double> x2(x.begin() + 3 * per_in, x.begin() + 5 * per_in);
  const AnyTensor<T> y2 = layer(tensor_of<T>(two, x2));
  CHECK(test::bitwise_equal(y2.data(), whole.data() + 3 * per_out, 2 * per_out));
#if defined(_OPENMP)
  strata::set_num_threads(3);
  const AnyTensor<T> threaded = layer(tensor_of<T>(batch_shape, x));
  strata::set_num_threads(1);
  CHECK(test::bitwise_equal(threaded.data(), whole.data(), whole.size()));
#endif
}

}  // namespace

TEMPLATE_TEST_CASE("DepthwiseConv1D/2D match a naive depthwise convolution", "[conv_variants]", float, double) {
  for (const Case& k : cases) {
    check_depthwise<TestType, 1>(k);
    check_depthwise<TestType, 2>(k);
  }
}

TEMPLATE_TEST_CASE("SeparableConv1D/2D match a naive depthwise then pointwise convolution", "[conv_variants]", float,
                   double) {
  for (const Case& k : cases) {
    check_separable<TestType, 1>(k);
    check_separable<TestType, 2>(k);
  }
}

TEMPLATE_TEST_CASE("Conv1DTranspose/2DTranspose match the scatter definition with Keras 3's sizes and offsets",
                   "[conv_variants]", float, double) {
  for (const Case& k : cases) {
    check_transpose<TestType, 1>(k);
    check_transpose<TestType, 2>(k);
  }
}

TEST_CASE("Conv transpose output sizes follow Keras 3's compute_conv_transpose_output_shape", "[conv_variants]") {
  // Values worked out by hand from keras/src/backend/common/backend_utils.py.
  struct Size {
    Index n, k, s, d;
    const char* padding;
    Index op, out;
  };
  const Size sizes[] = {{5, 3, 2, 1, "valid", -1, 11}, {5, 3, 2, 1, "same", -1, 10}, {5, 1, 3, 1, "valid", -1, 15},
                        {5, 3, 2, 1, "valid", 1, 12},  {5, 3, 2, 1, "same", 1, 10},  {5, 4, 2, 1, "same", 0, 8},
                        {4, 3, 1, 2, "valid", -1, 8},  {4, 3, 1, 2, "same", -1, 4},  {3, 2, 3, 1, "same", 2, 8}};
  for (const Size& z : sizes) {
    strata::Conv1DTransposeOptions o;
    o.strides(z.s).dilation_rate(z.d).padding(z.padding).input_dim(2);
    if (z.op >= 0) o.output_padding(z.op);
    strata::Conv1DTranspose<float> layer(3, z.k, o);
    CHECK(layer.compute_output_shape(Shape{1, z.n, 2}) == Shape{1, z.out, 3});
  }
}

TEMPLATE_TEST_CASE("Conv variants are batch and thread invariant, bitwise", "[conv_variants]", float, double) {
  using T = TestType;
  strata::DepthwiseConv2D<T> dw(3, strata::DepthwiseConv2DOptions().depth_multiplier(2).padding("same").input_dim(5));
  check_batch_invariance(dw, Shape{1, 9, 8, 5});
  strata::SeparableConv1D<T> sep(7, 3, strata::SeparableConv1DOptions().strides(2).input_dim(6).activation("tanh"));
  check_batch_invariance(sep, Shape{1, 13, 6});
  strata::Conv2DTranspose<T> tr(5, 3, strata::Conv2DTransposeOptions().strides(2).padding("same").input_dim(4));
  check_batch_invariance(tr, Shape{1, 6, 5, 4});
  strata::Conv1DTranspose<T> tr1(2, 4, strata::Conv1DTransposeOptions().dilation_rate(2).input_dim(9));
  check_batch_invariance(tr1, Shape{1, 8, 9});
}

TEMPLATE_TEST_CASE("TimeDistributed(DepthwiseConv1D) and TimeDistributed(Conv1DTranspose) equal per-slice calls",
                   "[conv_variants]", float, double) {
  using T = TestType;
  const Index B = 2, time = 3, L = 7, C = 4;
  std::vector<double> x = random_values(B * time * L * C);
  const auto run = [&](const auto& inner) {
    strata::TimeDistributed<std::decay_t<decltype(inner)>> td(inner);
    const AnyTensor<T> y = td(tensor_of<T>(Shape{B, time, L, C}, x));
    REQUIRE(y.shape().rank() == 4);
    const Index per_out = y.size() / (B * time);
    for (Index b = 0; b < B; ++b)
      for (Index t = 0; t < time; ++t) {
        const auto first = x.begin() + (b * time + t) * L * C;
        const AnyTensor<T> slice = inner(tensor_of<T>(Shape{1, L, C}, std::vector<double>(first, first + L * C)));
        CHECK(test::bitwise_equal(slice.data(), y.data() + (b * time + t) * per_out, per_out));
      }
  };
  run(strata::DepthwiseConv1D<T>(3, strata::DepthwiseConv1DOptions().depth_multiplier(2).padding("same").input_dim(C)));
  run(strata::Conv1DTranspose<T>(5, 3, strata::Conv1DTransposeOptions().strides(2).input_dim(C)));
  run(strata::SeparableConv1D<T>(3, 2, strata::SeparableConv1DOptions().input_dim(C)));
}

TEST_CASE("Conv variants build Keras-shaped initial weights", "[conv_variants]") {
  strata::DepthwiseConv2D<float> dw(strata::detail::Spatial<2>{3, 2},
                                    strata::DepthwiseConv2DOptions().depth_multiplier(3).seed(4).input_dim(5));
  auto w = dw.get_weights();
  REQUIRE(w.size() == 2);
  CHECK(w[0].shape() == Shape{3, 2, 5, 3});
  CHECK(w[1].shape() == Shape{15});
  // glorot_uniform limit sqrt(6 / (fan_in + fan_out)), fans = receptive field 6 times 5 and 3.
  const double limit = std::sqrt(6.0 / (30.0 + 18.0));
  for (Index i = 0; i < w[0].size(); ++i) CHECK(std::abs(w[0].data()[i]) <= limit);
  strata::SeparableConv1D<double> sep(
      4, 3, strata::SeparableConv1DOptions().depth_multiplier(2).input_dim(3).use_bias(false));
  auto ws = sep.get_weights();
  REQUIRE(ws.size() == 2);
  CHECK(ws[0].shape() == Shape{3, 3, 2});
  CHECK(ws[1].shape() == Shape{1, 6, 4});
  strata::Conv2DTranspose<float> tr(6, 3, strata::Conv2DTransposeOptions().input_dim(2));
  auto wt = tr.get_weights();
  REQUIRE(wt.size() == 2);
  CHECK(wt[0].shape() == Shape{3, 3, 6, 2});
  CHECK(wt[1].shape() == Shape{6});
  CHECK(tr.count_params() == 3 * 3 * 6 * 2 + 6);
}

TEST_CASE("Conv variants refuse what Keras refuses, naming the layer", "[conv_variants]") {
  using strata::shape_error;
  using strata::value_error;
  std::string m;
  m = thrown_message<value_error>([] {
    strata::DepthwiseConv2D<float>(3, strata::DepthwiseConv2DOptions().strides(2).dilation_rate(2).name("dw"));
  });
  CHECK(has(m, "strata::DepthwiseConv2D 'dw'"));
  CHECK(has(m, "strides (2, 2)"));
  CHECK(has(m, "dilation_rate (2, 2)"));
  m = thrown_message<value_error>(
      [] { strata::SeparableConv1D<float>(2, 3, strata::SeparableConv1DOptions().depth_multiplier(0)); });
  CHECK(has(m, "strata::SeparableConv1D: depth_multiplier must be at least 1; got 0"));
  m = thrown_message<value_error>([] {
    strata::Conv2DTranspose<float>(2, 3, strata::Conv2DTransposeOptions().strides(2).output_padding(2).name("up"));
  });
  CHECK(has(m, "strata::Conv2DTranspose 'up': output_padding must be >= 0 and < strides"));
  m = thrown_message<value_error>(
      [] { strata::Conv1DTranspose<float>(2, 3, strata::Conv1DTransposeOptions().padding("causal")); });
  CHECK(has(m, "padding must be 'valid' or 'same'; got 'causal'"));
  m = thrown_message<value_error>(
      [] { strata::DepthwiseConv1D<float>(3, strata::DepthwiseConv1DOptions().data_format("channels_first")); });
  CHECK(has(m, "data_format 'channels_first' is not supported"));
  m = thrown_message<value_error>([] { strata::Conv1DTranspose<float>(0, 3); });
  CHECK(has(m, "filters must be at least 1; got 0"));
  m = thrown_message<value_error>([] { strata::DepthwiseConv2D<float>(strata::detail::Spatial<2>{3, 0}); });
  CHECK(has(m, "kernel_size must be at least 1; got (3, 0)"));

  strata::DepthwiseConv2D<float> dw(strata::detail::Spatial<2>{3, 3},
                                    strata::DepthwiseConv2DOptions().dilation_rate(2).input_dim(4).name("dw"));
  m = thrown_message<shape_error>([&] { (void)dw(Tensor<float, 4>(1, 4, 9, 4)); });
  CHECK(has(m, "strata::DepthwiseConv2D 'dw': input axis 1 has size 4, shorter than the dilated kernel 5"));
  CHECK(has(m, "padding 'valid'"));
  m = thrown_message<shape_error>([&] { (void)dw(Tensor<float, 4>(1, 9, 9, 3)); });
  CHECK(has(m, "input must have rank 4 (batch, rows, cols, channels=4); got shape (1, 9, 9, 3)"));
  m = thrown_message<shape_error>([&] { (void)dw(AnyTensor<float>::zeros(Shape{2, 9, 4})); });
  CHECK(has(m, "got shape (2, 9, 4)"));
  m = thrown_message<shape_error>([&] {
    dw.set_weights({AnyTensor<float>::zeros(Shape{3, 3, 4, 2}), AnyTensor<float>::zeros(Shape{4})});
  });
  CHECK(has(m, "weight 0 (depthwise_kernel) must have shape (3, 3, 4, 1)"));
  m = thrown_message<shape_error>([&] { dw.set_weights({AnyTensor<float>::zeros(Shape{3, 3, 4, 1})}); });
  CHECK(has(m, "set_weights expects 2 arrays [depthwise_kernel, bias]; got 1"));

  strata::SeparableConv2D<float> sep(5, 2, strata::SeparableConv2DOptions().input_dim(3).name("sep"));
  m = thrown_message<shape_error>([&] {
    sep.set_weights({AnyTensor<float>::zeros(Shape{2, 2, 3, 1}), AnyTensor<float>::zeros(Shape{3, 5}),
                     AnyTensor<float>::zeros(Shape{5})});
  });
  CHECK(has(m, "strata::SeparableConv2D 'sep': weight 1 (pointwise_kernel) must have shape (1, 1, 3, 5)"));

  strata::Conv1DTranspose<float> tr(
      4, 2, strata::Conv1DTransposeOptions().padding("same").output_padding(0).input_dim(3).name("tr"));
  m = thrown_message<shape_error>([&] { (void)tr(Tensor<float, 3>(1, 1, 3)); });
  CHECK(has(m, "strata::Conv1DTranspose 'tr': input axis 1 of size 1 gives an output of size 0"));
  m = thrown_message<shape_error>([&] {
    tr.set_weights({AnyTensor<float>::zeros(Shape{2, 3, 4}), AnyTensor<float>::zeros(Shape{4})});
  });
  CHECK(has(m, "weight 0 (kernel) must have shape (2, 4, 3)"));
  m = thrown_message<shape_error>([&] { (void)tr(Tensor<float, 3>(1, 5, 4)); });
  CHECK(has(m, "(batch, steps, channels=3)"));

  strata::DepthwiseConv1D<double> unbuilt(3);
  m = thrown_message<value_error>([&] { (void)unbuilt(Tensor<double, 3>(1, 5, 2)); });
  CHECK(has(m, "strata::DepthwiseConv1D: call needs weights"));
  // An unbuilt layer takes its channels from the kernel.
  unbuilt.set_weights({AnyTensor<double>::zeros(Shape{3, 6, 1}), AnyTensor<double>::zeros(Shape{6})});
  CHECK(unbuilt.input_dim() == 6);
}
