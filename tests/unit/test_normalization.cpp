// SPDX-License-Identifier: MIT
// The normalization layers (BatchNormalization, LayerNormalization, UnitNormalization,
// GroupNormalization, RMSNormalization) against naive references written here from Keras'
// formulas -- one multi-index loop per element, statistics collected in double -- on every axis
// layout the kernels treat apart (last axes, one middle block, scattered axes); in place; inside
// TimeDistributed; their errors; and their Keras descriptions (from_config, weights, masks)
// through a local Registry.
// GCC 12 at -O2 and above reports -Wmaybe-uninitialized inside std::variant's moves when this file
// builds strata::Config lists (a false positive, as cmake/StrataWarnings.cmake notes for ASan).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cmath>
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
using strata::BatchNormalization;
using strata::BatchNormalizationOptions;
using strata::GroupNormalization;
using strata::GroupNormalizationOptions;
using strata::Index;
using strata::LayerNormalization;
using strata::LayerNormalizationOptions;
using strata::RMSNormalization;
using strata::RMSNormalizationOptions;
using strata::Shape;
using strata::Tensor;
using strata::TensorView;
using strata::UnitNormalization;
using strata::UnitNormalizationOptions;
using strata::Weights;

using test::has;
using test::thrown_message;

static_assert(strata::detail::is_layer_v<BatchNormalization<float>>);
static_assert(strata::detail::is_layer_v<LayerNormalization<double>>);
static_assert(strata::detail::is_layer_v<UnitNormalization<float>>);
static_assert(strata::detail::is_layer_v<GroupNormalization<float>>);
static_assert(strata::detail::is_layer_v<RMSNormalization<double>>);
static_assert(strata::detail::is_layer_v<strata::TimeDistributed<BatchNormalization<float>>>);
static_assert(BatchNormalization<float>::output_rank(3) == 3);
static_assert(LayerNormalization<float>::output_rank(1) == strata::invalid_rank);
static_assert(UnitNormalization<float>::output_rank(4) == 4);

template <class T>
AnyTensor<T> random_any(const Shape& shape, double lo = -2, double hi = 2) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(shape);
  test::fill_uniform(t.data(), t.size(), static_cast<T>(lo), static_cast<T>(hi));
  return t;
}

std::vector<int> sorted_axes(std::vector<int> axes, int rank) {
  for (int& a : axes) a = a < 0 ? a + rank : a;
  std::sort(axes.begin(), axes.end());
  return axes;
}

/// The multi-index of flat position i in shape.
std::vector<Index> multi_index(Index i, const Shape& shape) {
  std::vector<Index> idx(static_cast<std::size_t>(shape.rank()));
  for (int d = shape.rank() - 1; d >= 0; --d) {
    idx[static_cast<std::size_t>(d)] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}

/// Row-major index over `axes` (sorted) of a multi-index: a parameter's position.
Index param_index(const std::vector<Index>& idx, const Shape& shape, const std::vector<int>& axes) {
  Index p = 0;
  for (int a : axes) p = p * shape[a] + idx[static_cast<std::size_t>(a)];
  return p;
}

/// The kept positions' key of a multi-index: row-major over the axes not in `axes`.
Index kept_index(const std::vector<Index>& idx, const Shape& shape, const std::vector<int>& axes) {
  Index k = 0;
  for (int a = 0; a < shape.rank(); ++a) {
    if (std::find(axes.begin(), axes.end(), a) == axes.end()) k = k * shape[a] + idx[static_cast<std::size_t>(a)];
  }
  return k;
}

/// Keras BatchNormalization at inference, element by element.
template <class T>
std::vector<double> naive_batch_norm(const AnyTensor<T>& x, const std::vector<int>& axes, const T* gamma, const T* beta,
                                     const T* mean, const T* var, double eps) {
  std::vector<double> y(static_cast<std::size_t>(x.size()));
  for (Index i = 0; i < x.size(); ++i) {
    const Index p = param_index(multi_index(i, x.shape()), x.shape(), axes);
    const double g = gamma ? static_cast<double>(gamma[p]) : 1.0;
    const double b = beta ? static_cast<double>(beta[p]) : 0.0;
    y[static_cast<std::size_t>(i)] =
        (static_cast<double>(x.data()[i]) - mean[p]) / std::sqrt(static_cast<double>(var[p]) + eps) * g + b;
  }
  return y;
}

/// Statistics over `axes` for every kept position: kind 0 mean/variance, 1 mean of squares, 2 sum
/// of squares; then the per-element formula of each layer.
template <class T>
std::vector<double> naive_reduce_norm(const AnyTensor<T>& x, const std::vector<int>& axes, int kind, const T* gamma,
                                      const T* beta, double eps, bool rms_scaling = false) {
  const Shape& s = x.shape();
  Index groups = 1;
  for (int a = 0; a < s.rank(); ++a) {
    if (std::find(axes.begin(), axes.end(), a) == axes.end()) groups *= s[a];
  }
  std::vector<double> sum(static_cast<std::size_t>(groups)), sq(static_cast<std::size_t>(groups)),
      count(static_cast<std::size_t>(groups));
  for (Index i = 0; i < x.size(); ++i) {
    const auto k = static_cast<std::size_t>(kept_index(multi_index(i, s), s, axes));
    sum[k] += static_cast<double>(x.data()[i]);
    count[k] += 1;
  }
  for (Index i = 0; i < x.size(); ++i) {
    const auto k = static_cast<std::size_t>(kept_index(multi_index(i, s), s, axes));
    const double v = static_cast<double>(x.data()[i]);
    const double d = kind == 0 ? v - sum[k] / count[k] : v;
    sq[k] += d * d;
  }
  std::vector<double> y(static_cast<std::size_t>(x.size()));
  for (Index i = 0; i < x.size(); ++i) {
    const auto idx = multi_index(i, s);
    const auto k = static_cast<std::size_t>(kept_index(idx, s, axes));
    const Index p = param_index(idx, s, axes);
    const double v = static_cast<double>(x.data()[i]);
    const double g = gamma ? static_cast<double>(gamma[p]) : 1.0;
    const double b = beta ? static_cast<double>(beta[p]) : 0.0;
    double out = 0;
    if (kind == 0) {
      const double mean = sum[k] / count[k], var = sq[k] / count[k];
      out = rms_scaling ? v / std::sqrt(var + eps) * g : (v - mean) / std::sqrt(var + eps) * g + b;
    } else if (kind == 1) {
      out = v / std::sqrt(sq[k] / count[k] + eps) * g;
    } else {
      out = v / std::max(std::sqrt(sq[k]), eps);
    }
    y[static_cast<std::size_t>(i)] = out;
  }
  return y;
}

/// Keras GroupNormalization: statistics per (sample, group) over the group's channels and every
/// other non-batch axis.
template <class T>
std::vector<double> naive_group_norm(const AnyTensor<T>& x, int axis, Index groups, const T* gamma, const T* beta,
                                     double eps) {
  const Shape& s = x.shape();
  const Index channels = s[axis];
  const Index per = channels / groups;
  const auto key = [&](const std::vector<Index>& idx) {
    return static_cast<std::size_t>(idx[0] * groups + idx[static_cast<std::size_t>(axis)] / per);
  };
  const auto n = static_cast<std::size_t>(s[0] * groups);
  std::vector<double> sum(n), sq(n), count(n);
  for (Index i = 0; i < x.size(); ++i) {
    const auto k = key(multi_index(i, s));
    sum[k] += static_cast<double>(x.data()[i]);
    count[k] += 1;
  }
  for (Index i = 0; i < x.size(); ++i) {
    const auto k = key(multi_index(i, s));
    const double d = static_cast<double>(x.data()[i]) - sum[k] / count[k];
    sq[k] += d * d;
  }
  std::vector<double> y(static_cast<std::size_t>(x.size()));
  for (Index i = 0; i < x.size(); ++i) {
    const auto idx = multi_index(i, s);
    const auto k = key(idx);
    const Index c = idx[static_cast<std::size_t>(axis)];
    const double norm = (static_cast<double>(x.data()[i]) - sum[k] / count[k]) / std::sqrt(sq[k] / count[k] + eps);
    y[static_cast<std::size_t>(i)] =
        norm * (gamma ? static_cast<double>(gamma[c]) : 1.0) + (beta ? static_cast<double>(beta[c]) : 0.0);
  }
  return y;
}

template <class T>
double max_diff(const AnyTensor<T>& got, const std::vector<double>& want) {
  REQUIRE(static_cast<std::size_t>(got.size()) == want.size());
  double m = 0;
  for (Index i = 0; i < got.size(); ++i) {
    m = std::max(m, std::abs(static_cast<double>(got.data()[i]) - want[static_cast<std::size_t>(i)]));
  }
  return m;
}

/// Random weights of one shape: gamma/variance/scale in [0.5, 1.5), the others in [-0.5, 0.5).
template <class T>
Weights<T> random_weights(const std::vector<std::string>& names, const Shape& shape) {
  Weights<T> w;
  for (const auto& n : names) {
    const bool positive = n == "gamma" || n == "moving_variance" || n == "scale";
    w.push_back(random_any<T>(shape, positive ? 0.5 : -0.5, positive ? 1.5 : 0.5));
  }
  return w;
}

/// Calls the layer out of place and in place (output == input); both must give the same bits.
template <class L, class T = typename L::Scalar>
AnyTensor<T> call_both_ways(const L& layer, const AnyTensor<T>& x) {
  const AnyTensor<T> y = layer(TensorView<T>(x));
  AnyTensor<T> z = x;
  layer.forward(z.data(), z.shape(), z.data(), z.size());
  CHECK(test::bitwise_equal(y.data(), z.data(), y.size()));
  return y;
}

strata::Config int_list(std::initializer_list<int> values) {
  strata::Config l = strata::Config::list();
  for (int v : values) l.push_back(v);
  return l;
}

}  // namespace

TEMPLATE_TEST_CASE("BatchNormalization equals the naive inference formula on every axis layout", "[normalization]",
                   float, double) {
  using T = TestType;
  struct Case {
    Shape shape;
    std::vector<int> axis;
    bool center, scale;
    double eps;
  };
  const std::vector<Case> cases = {
      {{3, 7}, {-1}, true, true, 1e-3},        {{2, 5, 6}, {-1}, true, true, 1e-3},
      {{2, 5, 6}, {1}, true, false, 1e-5},     {{2, 3, 4, 5}, {1}, false, true, 1e-3},
      {{2, 3, 4, 5}, {-2}, false, false, 0.1}, {{2, 3, 4, 5}, {1, 3}, true, true, 1e-3},
      {{4, 1, 9}, {2}, true, true, 1e-3},      {{2, 3, 4, 5}, {2, 3}, true, true, 1e-3},
      {{1, 40, 33}, {-1}, true, true, 1e-3},   {{2, 3, 2, 2, 3}, {1, 2, 4}, true, true, 1e-3},
  };
  for (const Case& c : cases) {
    INFO("shape " << c.shape.to_string() << " axis " << strata::detail::axes_to_string(c.axis));
    BatchNormalization<T> bn(
        BatchNormalizationOptions().axis(c.axis).center(c.center).scale(c.scale).epsilon(c.eps).name("bn"));
    const std::vector<int> axes = sorted_axes(c.axis, c.shape.rank());
    Shape p;
    if (axes.size() == 1) {
      p = Shape{c.shape[axes[0]]};
    } else {
      for (int i = 0; i < c.shape.rank(); ++i) {
        p.push_back(std::find(axes.begin(), axes.end(), i) != axes.end() ? c.shape[i] : 1);
      }
    }
    std::vector<std::string> names;
    if (c.scale) names.emplace_back("gamma");
    if (c.center) names.emplace_back("beta");
    names.emplace_back("moving_mean");
    names.emplace_back("moving_variance");
    const Weights<T> w = random_weights<T>(names, p);
    bn.set_weights(w);
    CHECK(bn.weight_count() == names.size());
    CHECK(bn.count_params() == p.size() * static_cast<Index>(names.size()));
    const Weights<T> back = bn.get_weights();
    REQUIRE(back.size() == w.size());
    for (std::size_t i = 0; i < w.size(); ++i) CHECK(test::to_vector(back[i]) == test::to_vector(w[i]));
    std::size_t i = 0;
    const T* gamma = c.scale ? w[i++].data() : nullptr;
    const T* beta = c.center ? w[i++].data() : nullptr;
    const T* mean = w[i++].data();
    const T* var = w[i].data();
    const AnyTensor<T> x = random_any<T>(c.shape);
    const AnyTensor<T> y = call_both_ways(bn, x);
    CHECK(y.shape() == c.shape);
    CHECK(max_diff(y, naive_batch_norm(x, axes, gamma, beta, mean, var, c.eps)) <= test::tolerance<T>());
  }
}

TEMPLATE_TEST_CASE("BatchNormalization: build gives Keras' initial statistics, renorm keeps three more weights",
                   "[normalization]", float, double) {
  using T = TestType;
  BatchNormalization<T> bn;
  CHECK_FALSE(bn.built());
  bn.build(4);
  REQUIRE(bn.built());
  const Weights<T> w = bn.get_weights();
  REQUIRE(w.size() == 4);
  CHECK(test::to_vector(w[0]) == std::vector<T>(4, T(1)));  // gamma
  CHECK(test::to_vector(w[1]) == std::vector<T>(4, T(0)));  // beta
  CHECK(test::to_vector(w[2]) == std::vector<T>(4, T(0)));  // moving_mean
  CHECK(test::to_vector(w[3]) == std::vector<T>(4, T(1)));  // moving_variance
  // x / sqrt(1 + 1e-3)
  const Tensor<T, 2> x = test::random_tensor<T, 2>(3, 4);
  const Tensor<T, 2> y = bn(x);
  for (Index i = 0; i < x.size(); ++i) {
    CHECK(std::abs(static_cast<double>(y.data()[i]) - static_cast<double>(x.data()[i]) / std::sqrt(1.001)) <=
          test::tolerance<T>());
  }
  // renorm: moving_stddev, renorm_mean, renorm_stddev after the others; inference ignores them.
  BatchNormalization<T> renorm(BatchNormalizationOptions().renorm(true));
  Weights<T> rw = random_weights<T>({"gamma", "beta", "moving_mean", "moving_variance"}, Shape{4});
  BatchNormalization<T> plain;
  plain.set_weights(rw);
  rw.push_back(random_any<T>(Shape{4}));
  rw.push_back(random_any<T>(Shape{4}));
  rw.push_back(random_any<T>(Shape{4}));
  renorm.set_weights(rw);
  CHECK(renorm.weight_count() == 7);
  const auto groups = renorm.weight_groups({Shape{2, 4}});
  REQUIRE(groups.size() == 1);
  REQUIRE(groups[0].weights.size() == 7);
  CHECK(groups[0].weights[4].name == "moving_stddev");
  CHECK(groups[0].weights[6].name == "renorm_stddev");
  const Tensor<T, 2> a = renorm(x), b = plain(x);
  CHECK(test::bitwise_equal(a.data(), b.data(), a.size()));
  // build(features) only for axis -1; build(input_shape) for the others.
  BatchNormalization<T> channels_first(BatchNormalizationOptions().axis(1).name("cf"));
  CHECK(has(thrown_message<strata::value_error>([&] { channels_first.build(4); }), "build(input_shape)"));
  channels_first.build(Shape{1, 3, 5});
  CHECK(channels_first.param_shape() == Shape{3});
}

TEMPLATE_TEST_CASE("LayerNormalization equals the naive formula, rms_scaling included", "[normalization]", float,
                   double) {
  using T = TestType;
  struct Case {
    Shape shape;
    std::vector<int> axis;
    bool center, scale, rms;
  };
  const std::vector<Case> cases = {
      {{3, 7}, {-1}, true, true, false},         {{2, 5, 6}, {-1}, true, false, false},
      {{2, 5, 6}, {-2, -1}, false, true, false}, {{2, 5, 6}, {1}, true, true, false},
      {{2, 3, 4, 5}, {1, 3}, true, true, false}, {{2, 3, 4, 5}, {1, 2}, true, true, false},
      {{2, 5, 6}, {-1, -2}, true, true, false},  {{2, 5, 6}, {-1}, true, true, true},
      {{2, 3, 4, 5}, {2, 3}, true, false, true}, {{2, 3, 4, 5}, {1}, false, false, true},
      {{2, 1, 1}, {-1}, true, true, false},      {{3, 300}, {-1}, true, true, false},
  };
  for (const Case& c : cases) {
    INFO("shape " << c.shape.to_string() << " axis " << strata::detail::axes_to_string(c.axis) << " rms " << c.rms);
    LayerNormalization<T> ln(
        LayerNormalizationOptions().axis(c.axis).center(c.center).scale(c.scale).rms_scaling(c.rms).epsilon(1e-3));
    const std::vector<int> axes = sorted_axes(c.axis, c.shape.rank());
    Shape p;  // the sizes in the order given
    for (int a : c.axis) p.push_back(c.shape[a < 0 ? a + c.shape.rank() : a]);
    const bool has_gamma = c.scale || c.rms, has_beta = c.center && !c.rms;
    std::vector<std::string> names;
    if (has_gamma) names.emplace_back("gamma");
    if (has_beta) names.emplace_back("beta");
    const Weights<T> w = random_weights<T>(names, p);
    ln.set_weights(w);
    const auto groups = ln.weight_groups({c.shape});
    REQUIRE(groups[0].weights.size() == names.size());
    for (const auto& spec : groups[0].weights) CHECK(spec.shape == p);
    const T* gamma = has_gamma ? w[0].data() : nullptr;
    const T* beta = has_beta ? w[has_gamma ? 1 : 0].data() : nullptr;
    const AnyTensor<T> x = random_any<T>(c.shape);
    const AnyTensor<T> y = call_both_ways(ln, x);
    CHECK(max_diff(y, naive_reduce_norm(x, axes, 0, gamma, beta, 1e-3, c.rms)) <= test::tolerance<T>());
  }
}

TEST_CASE("LayerNormalization: a large mean over a small spread keeps its precision in float", "[normalization]") {
  // E[x^2] - E[x]^2 in float would lose every digit of a variance of ~1e-2 under a mean of 1e4;
  // the two passes about the mean (in double) keep it.
  LayerNormalization<float> ln(LayerNormalizationOptions().epsilon(1e-6));
  ln.build(64);
  AnyTensor<float> x = random_any<float>(Shape{4, 64}, -0.1, 0.1);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] += 1e4f;
  const AnyTensor<float> y = ln(TensorView<float>(x));
  CHECK(max_diff(y, naive_reduce_norm(x, {1}, 0, static_cast<const float*>(nullptr), static_cast<const float*>(nullptr),
                                      1e-6)) <= 2e-3);
}

TEMPLATE_TEST_CASE("UnitNormalization, GroupNormalization and RMSNormalization equal their naive formulas",
                   "[normalization]", float, double) {
  using T = TestType;
  SECTION("UnitNormalization") {
    for (const auto& [shape, axis] : std::vector<std::pair<Shape, std::vector<int>>>{
             {{3, 7}, {-1}}, {{2, 5, 6}, {1}}, {{2, 3, 4, 5}, {1, 3}}, {{2, 3, 4, 5}, {-2, -1}}, {{2, 3, 4}, {1, 2}}}) {
      INFO("shape " << shape.to_string());
      UnitNormalization<T> unit(UnitNormalizationOptions().axis(axis));
      const AnyTensor<T> x = random_any<T>(shape);
      const AnyTensor<T> y = call_both_ways(unit, x);
      CHECK(max_diff(y, naive_reduce_norm(x, sorted_axes(axis, shape.rank()), 2, static_cast<const T*>(nullptr),
                                          static_cast<const T*>(nullptr), 1e-12)) <= test::tolerance<T>());
    }
    // A zero row gives zeros, not NaN.
    UnitNormalization<T> unit;
    const Tensor<T, 2> zeros = Tensor<T, 2>(2, 3).setZero();
    const Tensor<T, 2> y = unit(zeros);
    for (Index i = 0; i < y.size(); ++i) CHECK(y.data()[i] == T(0));
  }
  SECTION("GroupNormalization") {
    struct Case {
      Shape shape;
      int axis;
      Index groups;
      bool center, scale;
    };
    for (const Case& c : std::vector<Case>{{{2, 6}, -1, 3, true, true},
                                           {{2, 4, 6}, -1, 2, true, false},
                                           {{2, 6, 4}, 1, 3, false, true},
                                           {{2, 3, 4, 6}, -1, 6, true, true},
                                           {{2, 3, 4, 6}, -1, -1, true, true},
                                           {{2, 3, 6, 4}, 2, 1, false, false},
                                           {{2, 4, 3, 5}, -3, 2, true, true}}) {
      INFO("shape " << c.shape.to_string() << " axis " << c.axis << " groups " << c.groups);
      GroupNormalization<T> gn(
          GroupNormalizationOptions().groups(c.groups).axis(c.axis).center(c.center).scale(c.scale).epsilon(1e-3));
      const int axis = c.axis < 0 ? c.axis + c.shape.rank() : c.axis;
      std::vector<std::string> names;
      if (c.scale) names.emplace_back("gamma");
      if (c.center) names.emplace_back("beta");
      const Weights<T> w = random_weights<T>(names, Shape{c.shape[axis]});
      gn.set_weights(w);
      const AnyTensor<T> x = random_any<T>(c.shape);
      const AnyTensor<T> y = call_both_ways(gn, x);
      const Index groups = c.groups == -1 ? c.shape[axis] : c.groups;
      CHECK(max_diff(y, naive_group_norm(x, axis, groups, c.scale ? w[0].data() : nullptr,
                                         c.center ? w[c.scale ? 1 : 0].data() : nullptr, 1e-3)) <=
            test::tolerance<T>());
    }
  }
  SECTION("RMSNormalization") {
    for (const auto& [shape, axis] : std::vector<std::pair<Shape, std::vector<int>>>{
             {{3, 7}, {-1}}, {{2, 5, 6}, {2}}, {{2, 3, 4, 5}, {-2, -1}}, {{2, 3, 4, 5}, {1, 2, 3}}}) {
      INFO("shape " << shape.to_string());
      RMSNormalization<T> rms(RMSNormalizationOptions().axis(axis).epsilon(1e-5));
      Shape p;
      for (int a : axis) p.push_back(shape[a < 0 ? a + shape.rank() : a]);
      const Weights<T> w = random_weights<T>({"scale"}, p);
      rms.set_weights(w);
      const AnyTensor<T> x = random_any<T>(shape);
      const AnyTensor<T> y = call_both_ways(rms, x);
      CHECK(max_diff(y, naive_reduce_norm(x, sorted_axes(axis, shape.rank()), 1, w[0].data(),
                                          static_cast<const T*>(nullptr), 1e-5)) <= test::tolerance<T>());
    }
  }
}

TEST_CASE("TimeDistributed(BatchNormalization(axis=1)) counts the axis in the slice", "[normalization]") {
  // Keras' slice x[:, t] has shape (batch, a, b): its axis 1 is the input's axis 2.
  BatchNormalization<double> inner(BatchNormalizationOptions().axis(1).name("bn"));
  const Weights<double> w = random_weights<double>({"gamma", "beta", "moving_mean", "moving_variance"}, Shape{4});
  inner.set_weights(w);
  strata::TimeDistributed<BatchNormalization<double>> td(inner);
  BatchNormalization<double> whole(BatchNormalizationOptions().axis(2));
  whole.set_weights(w);
  const AnyTensor<double> x = random_any<double>(Shape{2, 3, 4, 5});
  const AnyTensor<double> a = td(TensorView<double>(x));
  const AnyTensor<double> b = whole(TensorView<double>(x));
  CHECK(test::bitwise_equal(a.data(), b.data(), a.size()));
  CHECK(max_diff(a, naive_batch_norm(x, {2}, w[0].data(), w[1].data(), w[2].data(), w[3].data(), 1e-3)) <= 1e-12);
}

TEST_CASE("Normalization layers: wrong inputs, options and weights are typed errors naming the layer",
          "[normalization][errors]") {
  BatchNormalization<float> bn(BatchNormalizationOptions().name("bn"));
  // Not built.
  const Tensor<float, 2> x = test::random_tensor<float, 2>(2, 3);
  std::string m = thrown_message<strata::value_error>([&] { (void)bn(x); });
  CHECK(has(m, "strata::BatchNormalization 'bn'"));
  CHECK(has(m, "set_weights"));
  // Weights: count and shapes.
  m = thrown_message<strata::shape_error>([&] { bn.set_weights(random_weights<float>({"gamma"}, Shape{3})); });
  CHECK(has(m, "set_weights expects 4 arrays [gamma, beta, moving_mean, moving_variance]; got 1"));
  Weights<float> w = random_weights<float>({"gamma", "beta", "moving_mean", "moving_variance"}, Shape{3});
  w[2] = random_any<float>(Shape{4});
  m = thrown_message<strata::shape_error>([&] { bn.set_weights(w); });
  CHECK(has(m, "weight 2 (moving_mean) must have shape (3,)"));
  CHECK(has(m, "got (4,)"));
  CHECK_FALSE(bn.built());  // nothing committed
  w[2] = random_any<float>(Shape{3});
  bn.set_weights(w);
  // Input whose axis size differs from the weights', and inputs of rank 1.
  m = thrown_message<strata::shape_error>([&] { (void)bn(test::random_tensor<float, 2>(2, 5)); });
  CHECK(has(m, "'bn'"));
  CHECK(has(m, "(2, 5)"));
  CHECK(has(m, "(3,)"));
  m = thrown_message<strata::shape_error>([&] { (void)bn(TensorView<float>(AnyTensor<float>(Tensor<float, 1>(3)))); });
  CHECK(has(m, "rank >= 2"));
  // A wrong output buffer.
  std::vector<float> out(5);
  CHECK(has(thrown_message<strata::shape_error>([&] {
              bn.forward(x.data(), Shape{2, 3}, out.data(), 5);
            }),
            "output buffer holds 5 values"));
  // Axes.
  CHECK(has(thrown_message<strata::value_error>([] { BatchNormalization<float>(BatchNormalizationOptions().axis(0)); }),
            "batch axis"));
  CHECK(has(thrown_message<strata::value_error>([] {
              LayerNormalization<float>(LayerNormalizationOptions().axis({1, -1, 1}));
            }),
            "appears twice"));
  LayerNormalization<float> ln(LayerNormalizationOptions().axis(3).name("ln"));
  m = thrown_message<strata::shape_error>([&] { ln.build(Shape{2, 3, 4}); });
  CHECK(has(m, "axis 3 is out of range for an input of rank 3"));
  LayerNormalization<float> ln_neg(LayerNormalizationOptions().axis(-3).name("ln"));
  CHECK(has(thrown_message<strata::shape_error>([&] { ln_neg.build(Shape{2, 3}); }), "out of range"));
  CHECK(has(thrown_message<strata::shape_error>([&] { ln_neg.build(Shape{2, 3, 4}); }), "batch axis"));
  // GroupNormalization: groups that do not divide the channels.
  GroupNormalization<float> gn(GroupNormalizationOptions().groups(4).name("gn"));
  m = thrown_message<strata::shape_error>([&] { gn.build(6); });
  CHECK(has(m, "strata::GroupNormalization 'gn'"));
  CHECK(has(m, "6 channels"));
  CHECK(has(m, "4 groups"));
  CHECK(
      has(thrown_message<strata::value_error>([] { GroupNormalization<float>(GroupNormalizationOptions().groups(0)); }),
          "groups must be positive"));
  gn.build(8);
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)gn(test::random_tensor<float, 3>(2, 3, 12)); }),
            "has sizes (12,)"));
  // RMSNormalization: scale broadcasts against the trailing axes only.
  RMSNormalization<float> rms(RMSNormalizationOptions().axis(1).name("rms"));
  m = thrown_message<strata::shape_error>([&] { rms.build(Shape{2, 3, 4}); });
  CHECK(has(m, "must be the last axes"));
  RMSNormalization<float> rms_order(RMSNormalizationOptions().axis({-1, -2}).name("rms"));
  CHECK(has(thrown_message<strata::shape_error>([&] { rms_order.build(Shape{2, 3, 4}); }), "increasing order"));
  // UnitNormalization.
  CHECK(has(thrown_message<strata::value_error>(
                [] { UnitNormalization<float>(UnitNormalizationOptions().min_norm(0).name("u")); }),
            "min_norm"));
  UnitNormalization<float> unit(UnitNormalizationOptions().axis(2).name("u"));
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)unit(x); }), "strata::UnitNormalization 'u'"));
}

TEMPLATE_TEST_CASE("Normalization layers from Keras configs through a local Registry: options, weights, masks",
                   "[normalization][registry]", float, double) {
  using T = TestType;
  strata::Registry<T> registry;
  registry.template add<BatchNormalization<T>>();
  registry.template add<LayerNormalization<T>>();
  registry.template add<UnitNormalization<T>>();
  registry.template add<GroupNormalization<T>>();
  registry.template add<RMSNormalization<T>>();
  CHECK(registry.find("SyncBatchNormalization") != nullptr);
  const auto build = [&](const char* cls, const strata::Config& config, const char* version = "3.6.0") {
    const strata::LayerConfig<T> lc(registry, cls, config, strata::KerasVersion::parse(version), "test");
    return registry.build(lc);
  };

  SECTION("BatchNormalization: Keras 3, tf.keras axis lists, Keras 1 mode, refused options") {
    strata::Config c = strata::Config::dict();
    c.set("name", "bn");
    c.set("axis", 1);
    c.set("epsilon", 0.01);
    c.set("center", false);
    c.set("momentum", 0.9);
    AnyLayer<T> layer = build("BatchNormalization", c);
    const BatchNormalization<T>* bn = layer.template target<BatchNormalization<T>>();
    REQUIRE(bn != nullptr);
    CHECK(bn->axis() == std::vector<int>{1});
    CHECK(bn->epsilon() == 0.01);
    CHECK_FALSE(bn->center());
    CHECK(layer.weight_count() == 3);
    const auto groups = layer.weight_groups({Shape{2, 5, 7}});
    REQUIRE(groups[0].weights.size() == 3);
    CHECK(groups[0].weights[0].name == "gamma");
    CHECK(groups[0].weights[0].shape == Shape{5});
    CHECK(groups[0].weights[2].name == "moving_variance");
    // Keras' defaults: epsilon 1e-3, axis -1.
    strata::Config d = strata::Config::dict();
    AnyLayer<T> plain = build("BatchNormalization", d, "tfjs-layers 4.22.0");
    CHECK(plain.template target<BatchNormalization<T>>()->epsilon() == 1e-3);
    CHECK(plain.template target<BatchNormalization<T>>()->axis() == std::vector<int>{-1});
    // tf.keras 2: a list of axes; several give parameters of the input's rank.
    strata::Config l = strata::Config::dict();
    l.set("axis", int_list({1, 3}));
    AnyLayer<T> listed = build("BatchNormalization", l, "2.15.0");
    CHECK(listed.weight_groups({Shape{2, 3, 4, 5}})[0].weights[0].shape == (Shape{1, 3, 1, 5}));
    strata::Config one = strata::Config::dict();
    one.set("axis", int_list({3}));
    CHECK(build("BatchNormalization", one, "2.15.0").weight_groups({Shape{2, 3, 4, 5}})[0].weights[0].shape ==
          Shape{5});
    // Keras 1: mode 0 only.
    strata::Config k1 = strata::Config::dict();
    k1.set("name", "bn1");
    k1.set("mode", 0);
    CHECK(build("BatchNormalization", k1, "1.2.2").weight_count() == 4);
    k1.set("mode", 2);
    std::string m =
        load_error_message<strata::unsupported_error>([&] { (void)build("BatchNormalization", k1, "1.2.2"); });
    CHECK(has(m, "layer 'bn1' (BatchNormalization)"));
    CHECK(has(m, "mode 2"));
    strata::Config v = strata::Config::dict();
    v.set("virtual_batch_size", 4);
    CHECK(has(load_error_message<strata::unsupported_error>([&] { (void)build("BatchNormalization", v); }),
              "virtual_batch_size"));
    strata::Config r = strata::Config::dict();
    r.set("renorm", true);
    r.set("synchronized", true);
    CHECK(build("BatchNormalization", r).weight_count() == 7);
    strata::Config bad = strata::Config::dict();
    bad.set("axis", "last");
    CHECK_THROWS_AS(build("BatchNormalization", bad), strata::io_error);
    bad.set("axis", 99);
    CHECK_THROWS_AS(build("BatchNormalization", bad), strata::model_error);
    // The mask passes on.
    layer.set_weights(random_weights<T>({"gamma", "moving_mean", "moving_variance"}, Shape{5}));
    CHECK(layer.output_mask_ranks({Shape{2, 5, 7}}, {2}) == std::vector<int>{2});
  }
  SECTION("LayerNormalization: axis list, rms_scaling drops beta and keeps gamma") {
    strata::Config c = strata::Config::dict();
    c.set("name", "ln");
    c.set("axis", int_list({-2, -1}));
    c.set("rms_scaling", true);
    c.set("scale", false);
    AnyLayer<T> layer = build("LayerNormalization", c);
    const auto groups = layer.weight_groups({Shape{2, 3, 4}});
    REQUIRE(groups[0].weights.size() == 1);
    CHECK(groups[0].weights[0].name == "gamma");
    CHECK(groups[0].weights[0].shape == (Shape{3, 4}));
    CHECK(layer.template target<LayerNormalization<T>>()->epsilon() == 1e-3);
    layer.set_weights(random_weights<T>({"gamma"}, Shape{3, 4}));
    CHECK(layer.output_mask_ranks({Shape{2, 3, 4}}, {2}) == std::vector<int>{2});
  }
  SECTION("GroupNormalization and RMSNormalization: defaults and weights; RMSNormalization drops masks") {
    strata::Config g = strata::Config::dict();
    g.set("groups", -1);
    AnyLayer<T> gl = build("GroupNormalization", g);
    CHECK(gl.template target<GroupNormalization<T>>()->groups() == -1);
    CHECK(gl.weight_groups({Shape{2, 5}})[0].weights.size() == 2);
    strata::Config g0 = strata::Config::dict();
    g0.set("groups", 0);
    CHECK_THROWS_AS(build("GroupNormalization", g0), strata::model_error);
    strata::Config g32 = strata::Config::dict();
    CHECK(build("GroupNormalization", g32).template target<GroupNormalization<T>>()->groups() == 32);
    strata::Config r = strata::Config::dict();
    AnyLayer<T> rl = build("RMSNormalization", r);
    CHECK(rl.template target<RMSNormalization<T>>()->epsilon() == 1e-6);
    const auto groups = rl.weight_groups({Shape{2, 3, 8}});
    REQUIRE(groups[0].weights.size() == 1);
    CHECK(groups[0].weights[0].name == "scale");
    rl.set_weights(random_weights<T>({"scale"}, Shape{8}));
    CHECK(rl.output_mask_ranks({Shape{2, 3, 8}}, {2}) == std::vector<int>{0});
  }
  SECTION("UnitNormalization: the norm's floor follows the Keras version") {
    strata::Config u = strata::Config::dict();
    u.set("axis", int_list({1}));
    AnyLayer<T> new_keras = build("UnitNormalization", u, "3.6.0");
    AnyLayer<T> old_keras = build("UnitNormalization", u, "3.5.0");
    AnyLayer<T> tf_keras = build("UnitNormalization", u, "2.15.0");
    CHECK(new_keras.template target<UnitNormalization<T>>()->min_norm() == 1e-12);
    CHECK(old_keras.template target<UnitNormalization<T>>()->min_norm() == 1e-6);
    CHECK(tf_keras.template target<UnitNormalization<T>>()->min_norm() == 1e-6);
    CHECK(new_keras.weight_count() == 0);
    CHECK(new_keras.output_mask_ranks({Shape{2, 3}}, {1}) == std::vector<int>{1});
    // A row of norm 1e-8: Keras >= 3.6 scales it to norm 1, older versions divide by 1e-6.
    Tensor<T, 2> tiny(1, 2);
    tiny.setValues({{T(6e-9), T(8e-9)}});
    const AnyTensor<T> a = new_keras(TensorView<T>(AnyTensor<T>(tiny)));
    const AnyTensor<T> b = old_keras(TensorView<T>(AnyTensor<T>(tiny)));
    CHECK(std::abs(static_cast<double>(a.data()[0]) - 0.6) < 1e-5);
    CHECK(std::abs(static_cast<double>(b.data()[0]) - 6e-3) < 1e-8);
  }
}

TEST_CASE("Masking -> LayerNormalization -> LSTM: the mask passes LayerNormalization on to the LSTM",
          "[normalization][model]") {
  const Index batch = 2, steps = 5, features = 3;
  strata::Masking<float> masking(0.0f, strata::MaskingOptions().name("masking"));
  LayerNormalization<float> ln(LayerNormalizationOptions().name("ln"));
  ln.set_weights(random_weights<float>({"gamma", "beta"}, Shape{features}));
  strata::LSTM<float> lstm(4, strata::LSTMOptions().input_dim(features).return_sequences(true).seed(7).name("lstm"));
  strata::Model<float> model("m", "Sequential");
  const auto x_in = model.add_input("x", {-1, steps, features});
  const auto m = model.add(masking, x_in);
  const auto n = model.add(ln, m);
  model.set_outputs({model.add(lstm, n)});

  Tensor<float, 3> x = test::random_tensor<float, 3>(batch, steps, features);
  for (Index f = 0; f < features; ++f) {
    x(0, 1, f) = 0;
    x(1, 4, f) = 0;
  }
  const Tensor<float, 3> y = model.predict(x);
  // The LSTM repeats its previous output at a masked step; without the mask it would not.
  for (Index u = 0; u < 4; ++u) {
    CHECK(y(0, 1, u) == y(0, 0, u));
    CHECK(y(1, 4, u) == y(1, 3, u));
  }
  const Tensor<float, 3> unmasked = lstm(ln(masking(x))).get<3>();
  bool differs = false;
  for (Index u = 0; u < 4; ++u) differs = differs || unmasked(0, 1, u) != unmasked(0, 0, u);
  CHECK(differs);
}
