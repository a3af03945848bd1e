// SPDX-License-Identifier: MIT
// ConvLSTM1D/2D/3D: agreement with a naive scalar ConvLSTM written here (direct loops over
// positions, taps and channels in double) for paddings, strides, dilations, go_backwards, masks,
// initial states and use_bias off; shapes, stateful calls, batch invariance, Bidirectional and
// TimeDistributed around it, and the error messages.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "support/catch.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::Bidirectional;
using strata::ConvLSTM;
using strata::ConvLSTM1D;
using strata::ConvLSTM2D;
using strata::ConvLSTM3D;
using strata::ConvLSTMOptions;
using strata::Index;
using strata::Mask;
using strata::Shape;
using strata::Tensor;
using strata::TensorView;

struct NaiveOptions {
  std::vector<Index> kernel, strides, dilation;
  bool same = false;
  bool go_backwards = false;
  bool return_sequences = false;
  bool zero_output_for_mask = false;
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// TensorFlow's SAME: total = max((out - 1) s + span - in, 0), the smaller half before.
struct Axis {
  Index in, out, k, s, d, pad;
};
Axis make_axis(Index in, Index k, Index s, Index d, bool same) {
  const Index span = (k - 1) * d + 1;
  Axis a{in, 0, k, s, d, 0};
  if (same) {
    a.out = (in + s - 1) / s;
    a.pad = std::max<Index>((a.out - 1) * s + span - in, 0) / 2;
  } else {
    a.out = (in - span) / s + 1;
  }
  return a;
}

// out[p, j] += sum over taps and channels of src[window(p, tap), c] * w[tap, c, j], for a (positions,
// channels) map src with the given axes; w is (taps, channels, cols) row-major.
void naive_conv(const std::vector<Axis>& axes, const double* src, Index channels, const std::vector<double>& w,
                Index cols, std::vector<double>& out) {
  const std::size_t n = axes.size();
  Index positions = 1, taps = 1;
  for (const Axis& a : axes) positions *= a.out, taps *= a.k;
  for (Index p = 0; p < positions; ++p) {
    std::vector<Index> o(n);
    for (Index r = p, i = static_cast<Index>(n) - 1; i >= 0; --i) o[i] = r % axes[i].out, r /= axes[i].out;
    for (Index tap = 0; tap < taps; ++tap) {
      std::vector<Index> t(n);
      for (Index r = tap, i = static_cast<Index>(n) - 1; i >= 0; --i) t[i] = r % axes[i].k, r /= axes[i].k;
      Index flat = 0;
      bool inside = true;
      for (std::size_t i = 0; i < n; ++i) {
        const Index pos = o[i] * axes[i].s - axes[i].pad + t[i] * axes[i].d;
        if (pos < 0 || pos >= axes[i].in) inside = false;
        flat = flat * axes[i].in + pos;
      }
      if (!inside) continue;
      for (Index c = 0; c < channels; ++c) {
        const double v = src[flat * channels + c];
        for (Index j = 0; j < cols; ++j) out[p * cols + j] += v * w[(tap * channels + c) * cols + j];
      }
    }
  }
}

struct NaiveResult {
  std::vector<double> output, h, c;
};

// x (batch, time, s..., C) flattened; weights as Keras' get_weights(); tanh / sigmoid.
NaiveResult naive_conv_lstm(const std::vector<double>& x, Index batch, Index time, const std::vector<Index>& spatial,
                            Index channels, Index filters, const std::vector<double>& kernel,
                            const std::vector<double>& recurrent, const std::vector<double>* bias,
                            const NaiveOptions& o, const std::vector<double>* h0 = nullptr,
                            const std::vector<double>* c0 = nullptr, const Mask* mask = nullptr) {
  std::vector<Axis> xa, ha;
  Index positions = 1, in_size = channels;
  for (std::size_t i = 0; i < spatial.size(); ++i) {
    xa.push_back(make_axis(spatial[i], o.kernel[i], o.strides[i], o.dilation[i], o.same));
    positions *= xa.back().out;
    in_size *= spatial[i];
  }
  for (const Axis& a : xa) ha.push_back(make_axis(a.out, a.k, 1, 1, true));
  const Index u = positions * filters, g = 4 * filters;
  NaiveResult r;
  r.output.assign(static_cast<std::size_t>(batch * (o.return_sequences ? time : 1) * u), 0.0);
  r.h.assign(static_cast<std::size_t>(batch * u), 0.0);
  r.c = r.h;
  for (Index b = 0; b < batch; ++b) {
    std::vector<double> h(u, 0.0), c(u, 0.0), prev(u, 0.0);
    if (h0 != nullptr) std::copy(h0->begin() + b * u, h0->begin() + (b + 1) * u, h.begin());
    if (c0 != nullptr) std::copy(c0->begin() + b * u, c0->begin() + (b + 1) * u, c.begin());
    for (Index s = 0; s < time; ++s) {
      const Index t = o.go_backwards ? time - 1 - s : s;
      const bool kept = mask == nullptr || (*mask)(b, t);
      std::vector<double> z(static_cast<std::size_t>(positions * g), 0.0);
      naive_conv(xa, x.data() + (b * time + t) * in_size, channels, kernel, g, z);
      naive_conv(ha, h.data(), filters, recurrent, g, z);
      std::vector<double> out_step(u);
      if (kept) {
        for (Index p = 0; p < positions; ++p) {
          for (Index f = 0; f < filters; ++f) {
            const double* zr = z.data() + p * g;
            const auto bb = [&](Index k) { return bias != nullptr ? (*bias)[k * filters + f] : 0.0; };
            const double i = sigmoid(zr[f] + bb(0)), fg = sigmoid(zr[filters + f] + bb(1));
            const double gg = std::tanh(zr[2 * filters + f] + bb(2)), og = sigmoid(zr[3 * filters + f] + bb(3));
            double& cc = c[p * filters + f];
            cc = fg * cc + i * gg;
            h[p * filters + f] = og * std::tanh(cc);
          }
        }
        out_step = h;
      } else {
        out_step = o.zero_output_for_mask ? std::vector<double>(u, 0.0) : prev;
      }
      prev = out_step;
      if (o.return_sequences) {
        std::copy(out_step.begin(), out_step.end(), r.output.begin() + (b * time + s) * u);
      } else {
        std::copy(out_step.begin(), out_step.end(), r.output.begin() + b * u);
      }
    }
    std::copy(h.begin(), h.end(), r.h.begin() + b * u);
    std::copy(c.begin(), c.end(), r.c.begin() + b * u);
  }
  return r;
}

template <class T>
std::vector<double> as_double(const T* p, Index n) {
  return std::vector<double>(p, p + n);
}
template <class T>
std::vector<double> as_double(const AnyTensor<T>& t) {
  return as_double(t.data(), t.size());
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

template <class T, int N>
void check_against_naive(const ConvLSTM<T, N>& layer, const std::array<Index, N>& spatial, Index batch, Index time,
                         bool use_initial, const Mask* mask) {
  const Index channels = layer.input_dim();
  Shape in{batch, time};
  for (Index s : spatial) in.push_back(s);
  in.push_back(channels);
  AnyTensor<T> x = AnyTensor<T>::uninitialized(in);
  test::fill_uniform(x.data(), x.size());
  const strata::Weights<T> w = layer.get_weights();
  NaiveOptions o;
  for (int i = 0; i < N; ++i) {
    o.kernel.push_back(layer.kernel_size()[i]);
    o.strides.push_back(layer.strides()[i]);
    o.dilation.push_back(layer.dilation_rate()[i]);
  }
  o.same = layer.padding() == "same";
  o.go_backwards = layer.go_backwards();
  o.return_sequences = layer.return_sequences();
  o.zero_output_for_mask = layer.zero_output_for_mask();
  const std::vector<double> bias = layer.use_bias() ? as_double(w[2]) : std::vector<double>();
  const Shape state_shape = layer.state_shape(in);
  typename ConvLSTM<T, N>::State init;
  std::vector<double> h0, c0;
  if (use_initial) {
    init.h = Tensor<T, N + 2>(strata::detail::to_dims<N + 2>(state_shape));
    init.c = init.h;
    test::fill_uniform(init.h.data(), init.h.size());
    test::fill_uniform(init.c.data(), init.c.size());
    h0 = as_double(init.h.data(), init.h.size());
    c0 = as_double(init.c.data(), init.c.size());
  }
  const auto want =
      naive_conv_lstm(as_double(x), batch, time, std::vector<Index>(spatial.begin(), spatial.end()), channels,
                      layer.filters(), as_double(w[0]), as_double(w[1]), layer.use_bias() ? &bias : nullptr, o,
                      use_initial ? &h0 : nullptr, use_initial ? &c0 : nullptr, mask);
  const auto got = layer.call(x, use_initial ? &init : nullptr, mask);
  CHECK(got.output.shape() == layer.compute_output_shape(in));
  CHECK(strata::detail::shape_of(got.h) == state_shape);
  CHECK(max_diff(as_double(got.output), want.output) <= 1e-5);
  CHECK(max_diff(as_double(got.h.data(), got.h.size()), want.h) <= 1e-5);
  CHECK(max_diff(as_double(got.c.data(), got.c.size()), want.c) <= 1e-5);
}

// Random weights (Keras' initial ones are too tame for a test): kernel, recurrent kernel, bias.
template <class T, int N>
void randomize(ConvLSTM<T, N>& layer) {
  strata::Weights<T> w = layer.get_weights();
  for (AnyTensor<T>& a : w) test::fill_uniform(a.data(), a.size(), T(-0.6), T(0.6));
  layer.set_weights(w);
}

}  // namespace

TEMPLATE_TEST_CASE("ConvLSTM1D/2D/3D: paddings, strides, dilations and options against a naive ConvLSTM", "[conv_lstm]",
                   float, double) {
  using T = TestType;
  using O1 = ConvLSTMOptions<1>;
  using O2 = ConvLSTMOptions<2>;
  {
    INFO("1D valid");
    ConvLSTM1D<T> l(3, 3, O1().input_dim(2).seed(1));
    randomize(l);
    check_against_naive<T, 1>(l, {7}, 2, 4, false, nullptr);
  }
  {
    INFO("1D same, stride 2, sequences, initial state");
    ConvLSTM1D<T> l(4, 4, O1().padding("same").strides(2).return_sequences(true).input_dim(3).seed(2));
    randomize(l);
    check_against_naive<T, 1>(l, {9}, 3, 3, true, nullptr);
  }
  {
    INFO("1D dilated valid, go_backwards, no bias");
    ConvLSTM1D<T> l(2, 3, O1().dilation_rate(2).go_backwards(true).use_bias(false).input_dim(2).seed(3));
    randomize(l);
    check_against_naive<T, 1>(l, {8}, 2, 5, false, nullptr);
  }
  {
    INFO("2D same, sequences, go_backwards");
    ConvLSTM2D<T> l(5, 3, O2().padding("same").return_sequences(true).go_backwards(true).input_dim(2).seed(4));
    randomize(l);
    check_against_naive<T, 2>(l, {5, 4}, 2, 3, true, nullptr);
  }
  {
    INFO("2D valid, strides (2, 1), kernel (2, 3)");
    ConvLSTM2D<T> l(3, {2, 3}, O2().strides({2, 1}).input_dim(3).seed(5));
    randomize(l);
    check_against_naive<T, 2>(l, {7, 6}, 2, 3, false, nullptr);
  }
  {
    INFO("2D same, dilation (1, 2), even kernel 4");
    ConvLSTM2D<T> l(2, 4, O2().padding("same").dilation_rate({1, 2}).return_sequences(true).input_dim(1).seed(6));
    randomize(l);
    check_against_naive<T, 2>(l, {5, 6}, 1, 3, false, nullptr);
  }
  {
    INFO("2D many filters (the gate pass's several chunks)");
    ConvLSTM2D<T> l(19, 2, O2().padding("same").input_dim(2).seed(7));
    randomize(l);
    check_against_naive<T, 2>(l, {3, 3}, 2, 2, false, nullptr);
  }
  {
    INFO("3D same");
    ConvLSTM3D<T> l(2, 2, ConvLSTMOptions<3>().padding("same").return_sequences(true).input_dim(2).seed(8));
    randomize(l);
    check_against_naive<T, 3>(l, {3, 2, 3}, 2, 2, false, nullptr);
  }
}

TEMPLATE_TEST_CASE("ConvLSTM: masks carry the state, zero_output_for_mask emits zeros", "[conv_lstm][mask]", float,
                   double) {
  using T = TestType;
  Mask mask(3, 5);
  const bool keep[3][5] = {
      {true, true, true, true, true}, {false, true, false, true, true}, {true, true, true, false, false}};
  for (Index b = 0; b < 3; ++b) {
    for (Index t = 0; t < 5; ++t) mask(b, t) = keep[b][t];
  }
  for (bool backwards : {false, true}) {
    for (bool sequences : {false, true}) {
      for (bool zero : {false, true}) {
        INFO("go_backwards " << backwards << ", return_sequences " << sequences << ", zero_output " << zero);
        ConvLSTM2D<T> l(3, 3,
                        ConvLSTMOptions<2>()
                            .padding("same")
                            .go_backwards(backwards)
                            .return_sequences(sequences)
                            .zero_output_for_mask(zero)
                            .input_dim(2)
                            .seed(9));
        randomize(l);
        check_against_naive<T, 2>(l, {4, 3}, 3, 5, true, &mask);
      }
    }
  }
}

TEMPLATE_TEST_CASE("ConvLSTM: shapes, outputs() with return_state, weights and count_params", "[conv_lstm]", float,
                   double) {
  using T = TestType;
  ConvLSTM2D<T> l(
      4, {3, 2},
      ConvLSTMOptions<2>().padding("valid").strides(2).return_state(true).return_sequences(true).input_dim(3));
  CHECK(l.compute_output_shape(Shape{2, 5, 9, 8, 3}) == Shape{2, 5, 4, 4, 4});
  CHECK(l.state_shape(Shape{2, 5, 9, 8, 3}) == Shape{2, 4, 4, 4});
  CHECK(l.count_params() == 3 * 2 * (3 + 4) * 16 + 16);
  const strata::Weights<T> w = l.get_weights();
  REQUIRE(w.size() == 3);
  CHECK(w[0].shape() == Shape{3, 2, 3, 16});
  CHECK(w[1].shape() == Shape{3, 2, 4, 16});
  CHECK(w[2].shape() == Shape{16});
  // unit_forget_bias: the forget block starts at 1, the others at 0.
  for (Index j = 0; j < 16; ++j) CHECK(w[2].data()[j] == (j >= 4 && j < 8 ? T(1) : T(0)));
  const Tensor<T, 5> x = test::random_tensor<T, 5>(2, 5, 9, 8, 3);
  const auto out = l.outputs(x);
  REQUIRE(out.size() == 3);
  CHECK(out[0].shape() == Shape{2, 5, 4, 4, 4});
  CHECK(out[1].shape() == Shape{2, 4, 4, 4});
  // h is the last output.
  CHECK(test::bitwise_equal(out[1].data(), out[0].data() + 4 * 64, 64));
  CHECK(test::bitwise_equal(out[1].data() + 64, out[0].data() + 320 + 4 * 64, 64));
  // get_weights gives back exactly what set_weights took.
  strata::Weights<T> w2 = w;
  test::fill_uniform(w2[1].data(), w2[1].size());
  l.set_weights(w2);
  CHECK(test::bitwise_equal(l.get_weights()[1].data(), w2[1].data(), w2[1].size()));
  // An unbuilt layer takes its channels from the kernel.
  ConvLSTM2D<T> fresh(4, {3, 2});
  fresh.set_weights(w2);
  CHECK(fresh.input_dim() == 3);
  // ConvLSTM1D: (batch, time, steps, channels) -> (batch, new_steps, filters).
  ConvLSTM1D<T> one(2, 3, ConvLSTMOptions<1>().input_dim(1));
  const Tensor<T, 4> x1 = test::random_tensor<T, 4>(1, 2, 5, 1);
  const Tensor<T, 3> y1 = one(x1);
  CHECK(y1.dimension(1) == 3);
  CHECK(y1.dimension(2) == 2);
}

TEMPLATE_TEST_CASE("ConvLSTM: a sample's result is bitwise the same alone and in a batch, at any thread count",
                   "[conv_lstm][batch-invariance]", float, double) {
  using T = TestType;
  for (Index filters : {3, 8, 13}) {
    ConvLSTM2D<T> l(filters, 3, ConvLSTMOptions<2>().padding("same").return_sequences(true).input_dim(2).seed(10));
    randomize(l);
    const Index batch = 7, time = 3;
    const Tensor<T, 5> x = test::random_tensor<T, 5>(batch, time, 6, 5, 2);
    const AnyTensor<T> all = l(x);
    const Index per_in = time * 6 * 5 * 2, per_out = all.size() / batch;
    for (int threads : {1, 3}) {
      strata::set_num_threads(threads);
      const AnyTensor<T> again = l(x);
      strata::set_num_threads(1);
      CHECK(test::bitwise_equal(again.data(), all.data(), all.size()));
    }
    for (Index b = 0; b < batch; ++b) {
      Tensor<T, 5> one(1, time, 6, 5, 2);
      std::copy(x.data() + b * per_in, x.data() + (b + 1) * per_in, one.data());
      const AnyTensor<T> alone = l(one);
      INFO("filters " << filters << ", sample " << b);
      CHECK(test::bitwise_equal(alone.data(), all.data() + b * per_out, per_out));
    }
  }
}

TEMPLATE_TEST_CASE("ConvLSTM: a stateful layer continues where it stopped, reset_states forgets", "[conv_lstm][state]",
                   float, double) {
  using T = TestType;
  ConvLSTM1D<T> plain(3, 3, ConvLSTMOptions<1>().padding("same").input_dim(2).seed(11));
  randomize(plain);
  ConvLSTM1D<T> stateful(3, 3, ConvLSTMOptions<1>().padding("same").stateful(true));
  stateful.set_weights(plain.get_weights());
  const Tensor<T, 4> x = test::random_tensor<T, 4>(2, 6, 5, 2);
  Tensor<T, 4> first(2, 3, 5, 2), second(2, 3, 5, 2);
  for (Index b = 0; b < 2; ++b) {
    std::copy(x.data() + b * 60, x.data() + b * 60 + 30, first.data() + b * 30);
    std::copy(x.data() + b * 60 + 30, x.data() + b * 60 + 60, second.data() + b * 30);
  }
  const AnyTensor<T> whole = plain(x);
  (void)stateful(first);
  REQUIRE(stateful.has_states());
  CHECK(strata::detail::shape_of(stateful.states().h) == Shape{2, 5, 3});
  const AnyTensor<T> cont = stateful(second);
  CHECK(max_diff(as_double(cont), as_double(whole)) <= 1e-6);
  // A stored state of another shape is refused; reset_states forgets it.
  const Tensor<T, 4> wider = test::random_tensor<T, 4>(2, 3, 6, 2);
  CHECK_THROWS_AS(stateful(wider), strata::shape_error);
  stateful.reset_states();
  CHECK_NOTHROW(stateful(wider));
  const ConvLSTM1D<T>& as_const = stateful;
  CHECK_THROWS_AS(as_const(wider), strata::value_error);
}

TEMPLATE_TEST_CASE("ConvLSTM: Bidirectional concatenates the forward maps and the flipped backward maps",
                   "[conv_lstm][bidirectional]", float, double) {
  using T = TestType;
  ConvLSTM2D<T> inner(3, 3, ConvLSTMOptions<2>().padding("same").return_sequences(true).input_dim(2).seed(12));
  randomize(inner);
  Bidirectional<ConvLSTM2D<T>> bi(inner);
  const Tensor<T, 5> x = test::random_tensor<T, 5>(2, 4, 3, 5, 2);
  const AnyTensor<T> y = bi(x);
  REQUIRE(y.shape() == Shape{2, 4, 3, 5, 6});
  ConvLSTM2D<T> back = inner;
  back.set_go_backwards(true);
  const AnyTensor<T> f = inner(x);
  const AnyTensor<T> r = back(x);
  const Index step = 3 * 5;
  for (Index b = 0; b < 2; ++b) {
    for (Index t = 0; t < 4; ++t) {
      for (Index p = 0; p < step; ++p) {
        const T* got = y.data() + ((b * 4 + t) * step + p) * 6;
        CHECK(test::bitwise_equal(got, f.data() + ((b * 4 + t) * step + p) * 3, 3));
        CHECK(test::bitwise_equal(got + 3, r.data() + ((b * 4 + (3 - t)) * step + p) * 3, 3));
      }
    }
  }
  // return_state: forward h, c then backward h, c, each a (batch, rows, cols, filters) map.
  ConvLSTM2D<T> stated(3, 3, ConvLSTMOptions<2>().padding("same").return_state(true).input_dim(2).seed(12));
  const auto out = Bidirectional<ConvLSTM2D<T>>(stated).outputs(x);
  REQUIRE(out.size() == 5);
  CHECK(out[0].shape() == Shape{2, 3, 5, 6});
  CHECK(out[4].shape() == Shape{2, 3, 5, 3});
  CHECK(Bidirectional<ConvLSTM2D<T>>(stated).output_shapes({Shape{2, 4, 3, 5, 2}})[3] == Shape{2, 3, 5, 3});
}

TEMPLATE_TEST_CASE("ConvLSTM: TimeDistributed(ConvLSTM1D) runs each slice's sequence alone", "[conv_lstm][td]", float,
                   double) {
  using T = TestType;
  ConvLSTM1D<T> inner(2, 2, ConvLSTMOptions<1>().padding("same").input_dim(3).seed(13));
  randomize(inner);
  strata::TimeDistributed<ConvLSTM1D<T>> td(inner);
  const Tensor<T, 5> x = test::random_tensor<T, 5>(2, 3, 4, 5, 3);  // (batch, slices, time, steps, channels)
  const AnyTensor<T> y = td(x);
  REQUIRE(y.shape() == Shape{2, 3, 5, 2});
  for (Index s = 0; s < 6; ++s) {
    Tensor<T, 4> slice(1, 4, 5, 3);
    std::copy(x.data() + s * 60, x.data() + (s + 1) * 60, slice.data());
    const AnyTensor<T> want = inner(slice);
    CHECK(test::bitwise_equal(y.data() + s * 10, want.data(), 10));
  }
}

TEST_CASE("ConvLSTM: errors name the layer and the sizes", "[conv_lstm][errors]") {
  using Catch::Contains;
  ConvLSTM2D<float> l(4, 3, ConvLSTMOptions<2>().input_dim(2).name("clstm"));
  // Wrong rank (run time) and wrong channels.
  const AnyTensor<float> rank4 = AnyTensor<float>::zeros(Shape{2, 3, 5, 2});
  CHECK_THROWS_WITH(l(rank4),
                    Contains("strata::ConvLSTM2D 'clstm': input must have rank 5") && Contains("(2, 3, 5, 2)"));
  const Tensor<float, 5> wrong_channels = test::random_tensor<float, 5>(1, 2, 5, 5, 3);
  CHECK_THROWS_AS(l(wrong_channels), strata::shape_error);
  // valid padding and an input shorter than the (dilated) kernel.
  const Tensor<float, 5> small = test::random_tensor<float, 5>(1, 2, 2, 5, 2);
  CHECK_THROWS_WITH(l(small),
                    Contains("'clstm'") && Contains("shorter than the dilated kernel") && Contains("has size 2"));
  ConvLSTM1D<float> dil(1, 3, ConvLSTMOptions<1>().dilation_rate(3).input_dim(1));
  const Tensor<float, 4> seven = test::random_tensor<float, 4>(1, 2, 6, 1);
  CHECK_THROWS_WITH(dil(seven), Contains("dilation_rate 3: 7"));
  // No time step.
  const Tensor<float, 5> empty_time(1, 0, 5, 5, 2);
  CHECK_THROWS_WITH(l(empty_time), Contains("at least one time step"));
  // Weights of the wrong channel count or shape.
  strata::Weights<float> w = l.get_weights();
  w[0] = AnyTensor<float>::zeros(Shape{3, 3, 5, 16});
  CHECK_THROWS_WITH(l.set_weights(w),
                    Contains("'clstm': weight 0 (kernel) must have shape (3, 3, 2, 16)") && Contains("(3, 3, 5, 16)"));
  const strata::Weights<float> three = l.get_weights();
  const strata::Weights<float> two(three.begin(), three.begin() + 2);
  CHECK_THROWS_AS(l.set_weights(two), strata::shape_error);
  // Options Keras refuses, and what strata does not implement.
  CHECK_THROWS_WITH(ConvLSTM2D<float>(2, 3, ConvLSTMOptions<2>().data_format("channels_first").name("cf")),
                    Contains("strata::ConvLSTM2D 'cf': data_format \"channels_first\" is not supported"));
  CHECK_THROWS_WITH(ConvLSTM1D<float>(2, 3, ConvLSTMOptions<1>().padding("causal")),
                    Contains("padding must be \"valid\" or \"same\""));
  CHECK_THROWS_AS(ConvLSTM2D<float>(2, 3, ConvLSTMOptions<2>().strides(2).dilation_rate(2)), strata::value_error);
  CHECK_THROWS_AS(ConvLSTM2D<float>(0, 3), strata::value_error);
  CHECK_THROWS_AS(ConvLSTM2D<float>(2, 3, ConvLSTMOptions<2>().activation("softmax")), strata::value_error);
  // An unbuilt layer cannot be called; a wrong initial state or mask is refused.
  ConvLSTM2D<float> unbuilt(2, 3);
  const Tensor<float, 5> x = test::random_tensor<float, 5>(2, 3, 5, 5, 2);
  CHECK_THROWS_AS(unbuilt(x), strata::value_error);
  ConvLSTM2D<float>::State bad{Tensor<float, 4>(2, 3, 3, 3), Tensor<float, 4>(2, 3, 3, 4)};
  bad.h.setZero();
  bad.c.setZero();
  CHECK_THROWS_WITH(l.call(x, &bad), Contains("initial state h must have shape (2, 3, 3, 4)"));
  const Mask short_mask(2, 2);
  CHECK_THROWS_AS(l(x, short_mask), strata::shape_error);
  // In a model: (batch, time) masks only; Keras' per-position mask (Masking on the rank-5 input
  // gives rank 4) is refused.
  CHECK(l.output_mask_ranks({Shape{2, 3, 5, 5, 2}}, {2}) == std::vector<int>{0});
  CHECK_THROWS_WITH(l.output_mask_ranks({Shape{2, 3, 5, 5, 2}}, {4}),
                    Contains("'clstm': receives a mask of rank 4") && Contains("(batch, time) masks"));
}
