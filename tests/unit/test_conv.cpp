// SPDX-License-Identifier: MIT
// Conv1D/Conv2D/Conv3D: values against a naive direct convolution written here (padding from
// TensorFlow's SAME rule and Keras' causal rule, computed independently of strata), many small
// random shapes, strides, dilations, paddings and groups in float and double; output sizes; the
// errors Keras makes (short inputs, strides with dilation, channels and groups); weights round
// trip; bitwise independence of the batch around a sample and of the thread count;
// TimeDistributed(Conv2D) against Conv2D per frame.
#include <algorithm>
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
using strata::Conv;
using strata::Conv1D;
using strata::Conv2D;
using strata::Conv3D;
using strata::ConvOptions;
using strata::Index;
using strata::Shape;
using strata::Tensor;
using strata::TimeDistributed;
using test::has;
using test::thrown_message;

/// One convolution's settings, as the naive reference reads them.
template <int N>
struct Setup {
  std::array<Index, N> kernel{}, strides{}, dilation{};
  std::string padding = "valid";
  Index groups = 1, filters = 1, channels = 1;
  bool use_bias = true;
  std::string activation = "linear";
};

/// Output size and padding before, from the Keras/TF definitions (not from strata).
inline void naive_axis(Index in, Index k, Index s, Index d, const std::string& padding, Index& out, Index& before) {
  const Index span = (k - 1) * d + 1;
  if (padding == "valid") {
    out = (in - span) / s + 1;
    before = 0;
  } else if (padding == "causal") {
    out = (in + s - 1) / s;
    before = span - 1;
  } else {
    out = (in + s - 1) / s;
    const Index total = std::max<Index>((out - 1) * s + span - in, 0);
    before = total / 2;
  }
}

/// Direct convolution in long double: y[b, o, f] = bias[f] + sum_t sum_c x[b, o s - pad + t d, g cg + c]
/// kernel[t, c, f], then the activation. Returns the output and its shape.
template <int N, class T>
std::vector<T> naive_conv(const Setup<N>& st, const std::vector<T>& x, const std::vector<Index>& xs,
                          const std::vector<T>& kernel, const std::vector<T>& bias, std::vector<Index>& ys) {
  const Index B = xs[0], C = st.channels, F = st.filters, G = st.groups, cg = C / G, fg = F / G;
  std::array<Index, N> out{}, before{}, in{};
  ys = {B};
  Index positions = 1, taps = 1;
  for (int i = 0; i < N; ++i) {
    in[i] = xs[static_cast<std::size_t>(i + 1)];
    naive_axis(in[i], st.kernel[i], st.strides[i], st.dilation[i], st.padding, out[i], before[i]);
    ys.push_back(out[i]);
    positions *= out[i];
    taps *= st.kernel[i];
  }
  ys.push_back(F);
  std::vector<T> y(static_cast<std::size_t>(B * positions * F));
  for (Index b = 0; b < B; ++b) {
    for (Index pos = 0; pos < positions; ++pos) {
      std::array<Index, N> o{};
      Index r = pos;
      for (int i = N - 1; i >= 0; --i) {
        o[i] = r % out[i];
        r /= out[i];
      }
      for (Index f = 0; f < F; ++f) {
        const Index g = f / fg;
        long double acc = st.use_bias ? bias[static_cast<std::size_t>(f)] : 0;
        for (Index tap = 0; tap < taps; ++tap) {
          std::array<Index, N> t{};
          Index rt = tap;
          for (int i = N - 1; i >= 0; --i) {
            t[i] = rt % st.kernel[i];
            rt /= st.kernel[i];
          }
          Index flat = b;
          bool inside = true;
          for (int i = 0; i < N; ++i) {
            const Index p = o[i] * st.strides[i] - before[i] + t[i] * st.dilation[i];
            if (p < 0 || p >= in[i]) inside = false;
            flat = flat * in[i] + p;
          }
          if (!inside) continue;
          for (Index c = 0; c < cg; ++c) {
            acc += static_cast<long double>(x[static_cast<std::size_t>(flat * C + g * cg + c)]) *
                   kernel[static_cast<std::size_t>((tap * cg + c) * F + f)];
          }
        }
        y[static_cast<std::size_t>((b * positions + pos) * F + f)] =
            naive::activate(st.activation, static_cast<T>(acc));
      }
    }
  }
  return y;
}

template <int N>
ConvOptions<N> options_of(const Setup<N>& st) {
  ConvOptions<N> o;
  o.strides(st.strides)
      .dilation_rate(st.dilation)
      .padding(st.padding)
      .groups(st.groups)
      .use_bias(st.use_bias)
      .activation(st.activation);
  return o;
}

template <int N>
Setup<N> random_setup() {
  Setup<N> st;
  const bool dilate = test::random_int(0, 2) == 0;
  const bool stride = !dilate && test::random_int(0, 1) == 0;
  for (int i = 0; i < N; ++i) {
    st.kernel[i] = test::random_int(1, N == 3 ? 3 : 4);
    st.dilation[i] = dilate ? test::random_int(1, 3) : 1;
    st.strides[i] = stride ? test::random_int(1, 3) : 1;
  }
  const Index p = test::random_int(0, N == 1 ? 2 : 1);
  st.padding = p == 0 ? "valid" : p == 1 ? "same" : "causal";
  st.groups = test::random_int(0, 2) == 0 ? test::random_int(2, 3) : 1;
  st.channels = st.groups * test::random_int(1, 4);
  st.filters = st.groups * test::random_int(1, 5);
  st.use_bias = test::random_int(0, 3) != 0;
  const char* acts[] = {"linear", "relu", "tanh", "linear"};
  st.activation = acts[test::random_int(0, 3)];
  return st;
}

template <class T, int N>
void check_random_case() {
  const Setup<N> st = random_setup<N>();
  std::vector<Index> xs{test::random_int(1, 3)};
  for (int i = 0; i < N; ++i) {
    const Index span = (st.kernel[i] - 1) * st.dilation[i] + 1;
    xs.push_back(test::random_int(st.padding == "valid" ? span : 1, span + (N == 3 ? 5 : N == 2 ? 9 : 70)));
  }
  xs.push_back(st.channels);
  Shape shape;
  for (Index d : xs) shape.push_back(d);
  AnyTensor<T> x = AnyTensor<T>::uninitialized(shape);
  test::fill_uniform(x.data(), x.size());

  Conv<T, N> conv(st.filters, st.kernel, options_of(st));
  Shape kshape;
  Index kn = 1;
  for (int i = 0; i < N; ++i) {
    kshape.push_back(st.kernel[i]);
    kn *= st.kernel[i];
  }
  kshape.push_back(st.channels / st.groups);
  kshape.push_back(st.filters);
  AnyTensor<T> kernel = AnyTensor<T>::uninitialized(kshape);
  const T scale = T(1.5) / std::sqrt(static_cast<T>(kn * st.channels / st.groups));
  test::fill_uniform(kernel.data(), kernel.size(), -scale, scale);
  AnyTensor<T> bias = AnyTensor<T>::uninitialized(Shape{st.filters});
  test::fill_uniform(bias.data(), bias.size());
  strata::Weights<T> w{kernel};
  if (st.use_bias) w.push_back(bias);
  conv.set_weights(w);

  std::vector<Index> ys;
  const std::vector<T> want = naive_conv<N>(st, std::vector<T>(x.data(), x.data() + x.size()), xs,
                                            std::vector<T>(kernel.data(), kernel.data() + kernel.size()),
                                            std::vector<T>(bias.data(), bias.data() + bias.size()), ys);
  const AnyTensor<T> y = conv(x);
  INFO("input " << shape.to_string() << ", kernel " << kshape.to_string() << ", padding " << st.padding << ", groups "
                << st.groups << ", activation " << st.activation);
  Shape want_shape;
  for (Index d : ys) want_shape.push_back(d);
  REQUIRE(y.shape() == want_shape);
  CHECK(test::max_abs_diff(y.data(), want.data(), y.size()) <= (sizeof(T) == 4 ? 3e-5 : 1e-12));
}

TEMPLATE_TEST_CASE("Conv1D/2D/3D: random shapes, strides, dilations, paddings and groups against a naive convolution",
                   "[conv]", float, double) {
  using T = TestType;
  for (int i = 0; i < 120; ++i) check_random_case<T, 1>();
  for (int i = 0; i < 120; ++i) check_random_case<T, 2>();
  for (int i = 0; i < 40; ++i) check_random_case<T, 3>();
}

TEST_CASE("Conv: output sizes and padding offsets of valid, same (TF SAME, the odd zero after) and causal", "[conv]") {
  using strata::detail::conv_axis;
  using strata::detail::ConvPadding;
  // same, stride 2: ceil(5 / 2) = 3, total = max(2 * 2 + 3 - 5, 0) = 2, one before.
  auto a = conv_axis(5, 3, 2, 1, ConvPadding::same);
  CHECK(a.out == 3);
  CHECK(a.pad == 1);
  // same, stride 2 on 6: out 3, total = max(4 + 3 - 6, 0) = 1, zero before (the odd one after).
  a = conv_axis(6, 3, 2, 1, ConvPadding::same);
  CHECK(a.out == 3);
  CHECK(a.pad == 0);
  // same, k = 4: total 3, one before, two after.
  a = conv_axis(7, 4, 1, 1, ConvPadding::same);
  CHECK(a.out == 7);
  CHECK(a.pad == 1);
  // same with a kernel longer than the input still gives ceil(in / s).
  a = conv_axis(2, 5, 1, 1, ConvPadding::same);
  CHECK(a.out == 2);
  CHECK(a.pad == 2);
  CHECK(a.lo == a.hi);
  // valid with dilation: span 5 on 9 -> 5; stride 3 on 10 with k 3 -> 3.
  CHECK(conv_axis(9, 3, 1, 2, ConvPadding::valid).out == 5);
  CHECK(conv_axis(10, 3, 3, 1, ConvPadding::valid).out == 3);
  // causal: d (k - 1) zeros before, output length ceil(in / s).
  a = conv_axis(10, 3, 1, 4, ConvPadding::causal);
  CHECK(a.out == 10);
  CHECK(a.pad == 8);
  CHECK(a.lo == 8);
  CHECK(a.hi == 10);

  Conv2D<float> conv(4, {3, 2}, ConvOptions<2>().padding("same").strides({2, 3}).input_dim(5));
  CHECK(conv.compute_output_shape(Shape{2, 7, 8, 5}) == Shape{2, 4, 3, 4});
  Conv3D<double> c3(2, 2, ConvOptions<3>().input_dim(1));
  CHECK(c3.compute_output_shape(Shape{1, 2, 3, 4, 1}) == Shape{1, 1, 2, 3, 2});
  Conv1D<float> causal(3, 3, ConvOptions<1>().padding("causal").dilation_rate(2).input_dim(2));
  CHECK(causal.compute_output_shape(Shape{4, 1, 2}) == Shape{4, 1, 3});
}

TEST_CASE("Conv: what Keras refuses is a shape_error or value_error naming the layer and the sizes", "[conv][errors]") {
  // Input shorter than the dilated kernel with valid padding.
  Conv2D<float> conv(4, 3, ConvOptions<2>().dilation_rate({1, 2}).input_dim(2).name("c"));
  std::string m = thrown_message<strata::shape_error>([&] { (void)conv(test::random_tensor<float, 4>(1, 5, 4, 2)); });
  CHECK(has(m, "strata::Conv2D 'c'"));
  CHECK(has(m, "(1, 5, 4, 2)"));
  CHECK(has(m, "dilation_rate 2"));
  CHECK(has(m, ": 5)"));
  // Wrong channels, wrong rank (5-D: TimeDistributed's job).
  m = thrown_message<strata::shape_error>([&] { (void)conv(test::random_tensor<float, 4>(1, 5, 5, 3)); });
  CHECK(has(m, "channels=2"));
  CHECK(has(m, "(1, 5, 5, 3)"));
  AnyTensor<float> five(test::random_tensor<float, 5>(1, 2, 5, 5, 2));
  m = thrown_message<strata::shape_error>([&] { (void)conv(five); });
  CHECK(has(m, "rank 4"));
  CHECK(has(m, "TimeDistributed"));
  // Strides > 1 with dilation > 1.
  m = thrown_message<strata::value_error>(
      [] { Conv1D<float>(2, 3, ConvOptions<1>().strides(2).dilation_rate(2).name("d")); });
  CHECK(has(m, "strata::Conv1D 'd'"));
  CHECK(has(m, "strides=(2,)"));
  CHECK(has(m, "dilation_rate=(2,)"));
  // Filters not divisible by groups; channels not divisible by groups.
  m = thrown_message<strata::value_error>([] { Conv2D<float>(5, 3, ConvOptions<2>().groups(2)); });
  CHECK(has(m, "filters (5)"));
  CHECK(has(m, "groups (2)"));
  Conv2D<float> grouped(4, 3, ConvOptions<2>().groups(2));
  m = thrown_message<strata::value_error>([&] { grouped.build(3); });
  CHECK(has(m, "input channels (3)"));
  m = thrown_message<strata::shape_error>([&] { (void)grouped.weight_groups({Shape{1, 4, 4, 3, 1}}); });
  CHECK(has(m, "rank 4"));
  // Causal is Conv1D's only; channels_first is not implemented; zero sizes.
  m = thrown_message<strata::value_error>([] { Conv2D<float>(2, 3, ConvOptions<2>().padding("causal")); });
  CHECK(has(m, "\"causal\""));
  m = thrown_message<strata::value_error>([] { Conv2D<float>(2, 3, ConvOptions<2>().data_format("channels_first")); });
  CHECK(has(m, "channels_first"));
  m = thrown_message<strata::value_error>([] { Conv3D<float>(2, {3, 0, 3}); });
  CHECK(has(m, "kernel_size"));
  CHECK(has(m, "(3, 0, 3)"));
  m = thrown_message<strata::value_error>([] { Conv1D<double>(0, 3); });
  CHECK(has(m, "filters"));
  // Weights of the wrong shape or count.
  Conv1D<float> c1(3, 2, ConvOptions<1>().input_dim(4).name("w"));
  m = thrown_message<strata::shape_error>([&] {
    c1.set_weights({AnyTensor<float>(Tensor<float, 3>(2, 5, 3)), AnyTensor<float>(Tensor<float, 1>(3))});
  });
  CHECK(has(m, "(2, 4, 3)"));
  CHECK(has(m, "(2, 5, 3)"));
  m = thrown_message<strata::shape_error>([&] { c1.set_weights({AnyTensor<float>(Tensor<float, 3>(2, 4, 3))}); });
  CHECK(has(m, "kernel, bias"));
  // An unbuilt layer is called.
  Conv1D<float> unbuilt(3, 2);
  m = thrown_message<strata::value_error>([&] { (void)unbuilt(test::random_tensor<float, 3>(1, 4, 2)); });
  CHECK(has(m, "needs weights"));
}

TEST_CASE("Conv: weights round trip, unbuilt layers take the channels from the kernel, Keras' initial weights",
          "[conv]") {
  Conv2D<double> conv(6, {2, 3}, ConvOptions<2>().groups(3));
  const Tensor<double, 4> k = test::random_tensor<double, 4>(2, 3, 2, 6);
  const Tensor<double, 1> b = test::random_tensor<double, 1>(6);
  conv.set_weights({AnyTensor<double>(k), AnyTensor<double>(b)});
  CHECK(conv.input_dim() == 6);
  CHECK(conv.count_params() == 2 * 3 * 2 * 6 + 6);
  const auto w = conv.get_weights();
  REQUIRE(w.size() == 2);
  CHECK(w[0].shape() == Shape{2, 3, 2, 6});
  CHECK(test::bitwise_equal(w[0].data(), k.data(), k.size()));
  CHECK(test::bitwise_equal(w[1].data(), b.data(), b.size()));

  Conv1D<float> seeded(8, 5, ConvOptions<1>().seed(3).use_bias(false).input_dim(4));
  const auto kw = seeded.get_weights();
  REQUIRE(kw.size() == 1);
  const double limit = std::sqrt(6.0 / (5 * 4 + 5 * 8));
  double m = 0;
  for (Index i = 0; i < kw[0].size(); ++i) m = std::max(m, std::abs(static_cast<double>(kw[0].data()[i])));
  CHECK(m <= limit);
  CHECK(m > 0.8 * limit);
  Conv1D<float> again(8, 5, ConvOptions<1>().seed(3).use_bias(false).input_dim(4));
  CHECK(test::bitwise_equal(again.get_weights()[0].data(), kw[0].data(), kw[0].size()));
}

/// A sample alone, inside batches at several positions, and with 1 or 2 threads: the same bits.
template <class T, int N>
void check_invariance(Conv<T, N>& conv, const std::array<Index, N>& spatial, Index channels) {
  Shape one{1};
  for (Index s : spatial) one.push_back(s);
  one.push_back(channels);
  AnyTensor<T> x = AnyTensor<T>::uninitialized(one);
  test::fill_uniform(x.data(), x.size());
  const AnyTensor<T> alone = conv(x);
  for (const Index batch : {3, 7}) {
    Shape bs = one;
    bs[0] = batch;
    AnyTensor<T> xb = AnyTensor<T>::uninitialized(bs);
    test::fill_uniform(xb.data(), xb.size());
    const Index pos = batch / 2;
    std::copy(x.data(), x.data() + x.size(), xb.data() + pos * x.size());
    for (const int threads : {1, 2}) {
      strata::set_num_threads(threads);
      const AnyTensor<T> y = conv(xb);
      strata::set_num_threads(1);
      INFO("batch " << batch << ", threads " << threads);
      CHECK(test::bitwise_equal(y.data() + pos * alone.size(), alone.data(), alone.size()));
    }
  }
}

TEMPLATE_TEST_CASE("Conv: a sample's output is bitwise the same alone, in any batch and with any thread count",
                   "[conv][batch-invariance]", float, double) {
  using T = TestType;
  Conv2D<T> same(16, 3, ConvOptions<2>().padding("same").activation("relu").input_dim(8).seed(1));
  check_invariance<T, 2>(same, {20, 23}, 8);
  Conv2D<T> strided(6, {3, 2}, ConvOptions<2>().padding("same").strides(2).groups(2).input_dim(4).seed(2));
  check_invariance<T, 2>(strided, {15, 14}, 4);
  Conv1D<T> causal(2, 3, ConvOptions<1>().padding("causal").dilation_rate(4).input_dim(9).seed(3));
  check_invariance<T, 1>(causal, {300}, 9);
  Conv3D<T> c3(5, 3, ConvOptions<3>().padding("same").input_dim(3).seed(4));
  check_invariance<T, 3>(c3, {5, 6, 7}, 3);
}

TEMPLATE_TEST_CASE("Conv: TimeDistributed(Conv2D) on (batch, time, h, w, c) is Conv2D per frame, bitwise",
                   "[conv][time-distributed]", float, double) {
  using T = TestType;
  Conv2D<T> conv(7, 3, ConvOptions<2>().padding("same").strides({1, 2}).activation("tanh").input_dim(3).seed(5));
  TimeDistributed<Conv2D<T>> td(conv);
  const Tensor<T, 5> x = test::random_tensor<T, 5>(2, 4, 9, 10, 3);
  const Tensor<T, 5> y = td(x);
  REQUIRE(y.dimension(0) == 2);
  REQUIRE(y.dimension(1) == 4);
  REQUIRE(y.dimension(2) == 9);
  REQUIRE(y.dimension(3) == 5);
  REQUIRE(y.dimension(4) == 7);
  const Index frame_in = 9 * 10 * 3, frame_out = 9 * 5 * 7;
  for (Index b = 0; b < 2; ++b) {
    for (Index t = 0; t < 4; ++t) {
      Tensor<T, 4> frame(1, 9, 10, 3);
      std::copy(x.data() + (b * 4 + t) * frame_in, x.data() + (b * 4 + t + 1) * frame_in, frame.data());
      const Tensor<T, 4> want = conv(frame);
      CHECK(test::bitwise_equal(y.data() + (b * 4 + t) * frame_out, want.data(), frame_out));
    }
  }
}

}  // namespace
