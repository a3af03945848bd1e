// SPDX-License-Identifier: MIT
// The activation layers ReLU, LeakyReLU, PReLU, ELU, ThresholdedReLU and Softmax: values against
// naive scalar loops written from Keras' formulas, their options and Keras-version defaults read
// from configs (through a local Registry), masks (passed on; Softmax's mask rules by version and its
// broadcasting against the input), PReLU's weights, and the errors.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
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
using strata::Index;
using strata::Shape;
using strata::Tensor;

using test::has;
using test::thrown_message;

template <class T>
AnyTensor<T> random_any(const Shape& s, T lo = T(-3), T hi = T(3)) {
  std::vector<T> v(static_cast<std::size_t>(s.size()));
  test::fill_uniform(v.data(), s.size(), lo, hi);
  return AnyTensor<T>::from_values(s, v);
}

template <class T>
std::vector<T> values(const AnyTensor<T>& t) {
  return std::vector<T>(t.data(), t.data() + t.size());
}

bool close(double a, double b, double tol) { return std::abs(a - b) <= tol * (1.0 + std::abs(b)); }

template <class T>
void check_close(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO(what << " element " << i << ": strata " << got[i] << ", naive " << want[i]);
    CHECK(close(got[i], want[i], test::tolerance<T>()));
  }
}

/// A registry of the six layers, as the io library's is filled (but without linking it).
template <class T>
strata::Registry<T> activation_registry() {
  strata::Registry<T> r;
  r.template add<strata::ReLU<T>>();
  r.template add<strata::LeakyReLU<T>>();
  r.template add<strata::PReLU<T>>();
  r.template add<strata::ELU<T>>();
  r.template add<strata::Softmax<T>>();
  r.template add<strata::ThresholdedReLU<T>>();
  return r;
}

template <class T>
AnyLayer<T> from_config(const char* cls, const strata::Config& config, const std::string& version = "3.13.0") {
  static const strata::Registry<T> registry = activation_registry<T>();
  const strata::LayerConfig<T> lc(registry, cls, config, strata::KerasVersion::parse(version), "test");
  return registry.build(lc);
}

strata::Config dict(std::initializer_list<std::pair<const char*, strata::Config>> entries) {
  strata::Config c = strata::Config::dict();
  c.set("name", "layer");
  for (const auto& [k, v] : entries) c.set(k, v);
  return c;
}

// ---- naive references, one scalar at a time, piecewise as Keras documents them

/// Keras ReLU: x > threshold ? min(x, max_value) : negative_slope * (x - threshold).
template <class T>
T naive_relu(T x, T slope, bool has_max, T max_value, T threshold) {
  if (x > threshold) return has_max ? std::min(x, max_value) : x;
  return slope * (x - threshold);
}

/// Keras Softmax over the last axis of (rows, cols) with a mask (null: none) in one of its rules.
template <class T>
std::vector<T> naive_masked_softmax(const std::vector<T>& x, Index rows, Index cols, const std::vector<int>* keep,
                                    strata::SoftmaxMasking rule) {
  std::vector<T> y(x.size());
  for (Index r = 0; r < rows; ++r) {
    std::vector<double> z(static_cast<std::size_t>(cols));
    for (Index j = 0; j < cols; ++j) {
      const std::size_t i = static_cast<std::size_t>(r * cols + j);
      const bool kept = keep == nullptr || (*keep)[i] != 0;
      T v = x[i];
      if (!kept) v = rule == strata::SoftmaxMasking::replace_and_zero ? T(-1e9) : static_cast<T>(v + T(-1e9));
      z[static_cast<std::size_t>(j)] = v;
    }
    const double m = *std::max_element(z.begin(), z.end());
    double sum = 0;
    for (double v : z) sum += std::exp(v - m);
    for (Index j = 0; j < cols; ++j) {
      const std::size_t i = static_cast<std::size_t>(r * cols + j);
      const bool kept = keep == nullptr || (*keep)[i] != 0;
      const bool zero = rule != strata::SoftmaxMasking::add && !kept;
      y[i] = zero ? T(0) : static_cast<T>(std::exp(z[static_cast<std::size_t>(j)] - m) / sum);
    }
  }
  return y;
}

}  // namespace

TEMPLATE_TEST_CASE("ReLU: every combination of max_value, negative_slope and threshold matches Keras' formula",
                   "[activation_layers]", float, double) {
  using T = TestType;
  struct Opt {
    bool has_max;
    double max_value, slope, threshold;
  };
  const Opt opts[] = {{false, 0, 0, 0},   {true, 6, 0, 0},       {true, 1.5, 0, 0},
                      {false, 0, 0.2, 0}, {false, 0, 0, 0.5},    {true, 2.5, 0.3, 0.75},
                      {true, 6, 0.1, 0},  {false, 0, 1.5, 0.25}, {true, 0, 0.5, 0}};
  const AnyTensor<T> x = random_any<T>(Shape{3, 4, 7}, T(-8), T(8));
  for (const Opt& o : opts) {
    strata::ReLUOptions options;
    if (o.has_max) options.max_value(o.max_value);
    options.negative_slope(o.slope).threshold(o.threshold);
    const strata::ReLU<T> relu(options);
    INFO("max " << o.has_max << "/" << o.max_value << " slope " << o.slope << " threshold " << o.threshold);
    std::vector<T> want = values(x);
    for (T& v : want) {
      v = naive_relu<T>(v, static_cast<T>(o.slope), o.has_max, static_cast<T>(o.max_value),
                        static_cast<T>(o.threshold));
    }
    check_close(values(relu(x)), want, "ReLU");
    // The typed call and the in-place forward agree with the AnyTensor call.
    Tensor<T, 3> typed = relu(x.template get<3>());
    CHECK(std::vector<T>(typed.data(), typed.data() + typed.size()) == values(relu(x)));
    AnyTensor<T> in_place = x;
    relu.forward(in_place.data(), in_place.shape(), in_place.data(), in_place.size());
    CHECK(values(in_place) == values(relu(x)));
  }
  // Keras' docstring example: [-10, -5, 0, 5, 10].
  const AnyTensor<T> doc = AnyTensor<T>::from_values(Shape{1, 5}, {T(-10), T(-5), T(0), T(5), T(10)});
  CHECK(values(strata::ReLU<T>()(doc)) == std::vector<T>{0, 0, 0, 5, 10});
  CHECK(values(strata::ReLU<T>(strata::ReLUOptions().negative_slope(0.5))(doc)) ==
        std::vector<T>{T(-5), T(-2.5), 0, 5, 10});
  CHECK(values(strata::ReLU<T>(strata::ReLUOptions().max_value(5))(doc)) == std::vector<T>{0, 0, 0, 5, 5});
  CHECK(values(strata::ReLU<T>(strata::ReLUOptions().threshold(5))(doc)) == std::vector<T>{0, 0, 0, 0, 10});
}

TEMPLATE_TEST_CASE("ReLU, LeakyReLU, ELU, ThresholdedReLU: options, configs and errors", "[activation_layers]", float,
                   double) {
  using T = TestType;
  // Negative options are refused, as Keras refuses them.
  for (const auto& make : std::vector<std::function<void()>>{
           [] { (void)strata::ReLU<T>(strata::ReLUOptions().max_value(-1).name("r")); },
           [] { (void)strata::ReLU<T>(strata::ReLUOptions().negative_slope(-0.1).name("r")); },
           [] { (void)strata::ReLU<T>(strata::ReLUOptions().threshold(-2).name("r")); }}) {
    const std::string msg = thrown_message<strata::value_error>(make);
    CHECK(has(msg, "strata::ReLU 'r'"));
    CHECK(has(msg, "must be >= 0"));
  }
  CHECK(has(thrown_message<strata::value_error>(
                [] { (void)strata::LeakyReLU<T>(strata::LeakyReLUOptions().negative_slope(-1).name("l")); }),
            "strata::LeakyReLU 'l': negative_slope must be >= 0; got -1"));
  CHECK(has(thrown_message<strata::value_error>(
                [] { (void)strata::ThresholdedReLU<T>(strata::ThresholdedReLUOptions().theta(-0.5)); }),
            "theta must be >= 0"));
  CHECK_THROWS_AS(strata::ELU<T>(strata::ELUOptions().alpha(std::numeric_limits<double>::infinity())),
                  strata::value_error);
  // Rank 0 is refused; rank 1 (batch,) works element-wise.
  CHECK(has(thrown_message<strata::shape_error>([] { (void)strata::ReLU<T>().compute_output_shape(Shape{}); }),
            "input must have rank >= 1"));
  const AnyTensor<T> v = AnyTensor<T>::from_values(Shape{4}, {T(-2), T(-0.5), T(0.5), T(2)});
  CHECK(values(strata::ThresholdedReLU<T>()(v)) == std::vector<T>{0, 0, 0, 2});
  CHECK(values(strata::ThresholdedReLU<T>(strata::ThresholdedReLUOptions().theta(0.5))(v)) ==
        std::vector<T>{0, 0, 0, 2});  // x > theta strictly
  CHECK(values(strata::LeakyReLU<T>()(v)) == std::vector<T>{T(-2) * T(0.3), T(-0.5) * T(0.3), T(0.5), 2});
  const std::vector<T> elu = values(strata::ELU<T>(strata::ELUOptions().alpha(0.5))(v));
  CHECK(close(elu[0], 0.5 * std::expm1(-2.0), test::tolerance<T>()));
  CHECK(close(elu[1], 0.5 * std::expm1(-0.5), test::tolerance<T>()));
  CHECK(elu[3] == T(2));
  // Output buffer of the wrong size.
  std::vector<T> out(3);
  CHECK(has(thrown_message<strata::shape_error>([&] { strata::ELU<T>().forward(v.data(), v.shape(), out.data(), 3); }),
            "output buffer holds 3 values"));

  // Configs: Keras 3 ReLU keys, tfjs' max_value only, null max_value.
  {
    AnyLayer<T> l = from_config<T>("ReLU", dict({{"max_value", 2.5}, {"negative_slope", 0.3}, {"threshold", 0.75}}));
    const auto* relu = l.template target<strata::ReLU<T>>();
    REQUIRE(relu != nullptr);
    CHECK(relu->has_max_value());
    CHECK(relu->max_value() == T(2.5));
    CHECK(relu->negative_slope() == T(0.3));
    CHECK(relu->threshold() == T(0.75));
    AnyLayer<T> tfjs = from_config<T>("ReLU", dict({{"max_value", nullptr}}), "tfjs-layers 4.22.0");
    CHECK_FALSE(tfjs.template target<strata::ReLU<T>>()->has_max_value());
    CHECK(tfjs.template target<strata::ReLU<T>>()->negative_slope() == T(0));
    const std::string bad = load_error_message<strata::model_error>([] {
      (void)from_config<T>("ReLU", dict({{"negative_slope", -0.5}}));
    });
    CHECK(has(bad, "layer 'layer' (ReLU)"));
    CHECK(has(bad, "option 'negative_slope' must be >= 0"));
    CHECK_THROWS_AS(from_config<T>("ReLU", dict({{"threshold", "high"}})), strata::io_error);
  }
  // LeakyReLU: Keras 3 writes negative_slope (a deprecated alpha wins, as in Keras 3); Keras 2 and
  // tfjs write alpha; every version defaults to 0.3.
  const auto slope = [](const strata::Config& c, const std::string& version) {
    return from_config<T>("LeakyReLU", c, version).template target<strata::LeakyReLU<T>>()->negative_slope();
  };
  CHECK(slope(dict({{"negative_slope", 0.05}}), "3.13.0") == T(0.05));
  CHECK(slope(dict({}), "3.13.0") == T(0.3));
  CHECK(slope(dict({{"alpha", 0.1}, {"negative_slope", 0.05}}), "3.6.0") == T(0.1));
  CHECK(slope(dict({{"alpha", 0.15}}), "2.15.0") == T(0.15));
  CHECK(slope(dict({{"alpha", 0.15}}), "2.15.0-tf") == T(0.15));
  CHECK(slope(dict({}), "2.2.4") == T(0.3));
  CHECK(slope(dict({{"alpha", 0.01}}), "tfjs-layers 4.22.0") == T(0.01));
  CHECK(strata::LeakyReLU<T>().negative_slope() == T(0.3));
  CHECK_THROWS_AS(slope(dict({{"negative_slope", -1.0}}), "3.13.0"), strata::model_error);
  // ELU and ThresholdedReLU.
  CHECK(from_config<T>("ELU", dict({{"alpha", 0.5}})).template target<strata::ELU<T>>()->alpha() == T(0.5));
  CHECK(from_config<T>("ELU", dict({})).template target<strata::ELU<T>>()->alpha() == T(1));
  CHECK(from_config<T>("ThresholdedReLU", dict({}), "2.15.0").template target<strata::ThresholdedReLU<T>>()->theta() ==
        T(1));
  CHECK(from_config<T>("ThresholdedReLU", dict({{"theta", 0.25}}), "tfjs-layers 4.22.0")
            .template target<strata::ThresholdedReLU<T>>()
            ->theta() == T(0.25));
  CHECK_THROWS_AS(from_config<T>("ThresholdedReLU", dict({{"theta", -1.0}})), strata::model_error);
}

TEMPLATE_TEST_CASE("activation layers pass masks on and work in place in a model graph", "[activation_layers]", float,
                   double) {
  using T = TestType;
  const std::vector<AnyLayer<T>> layers = {
      AnyLayer<T>(strata::ReLU<T>(strata::ReLUOptions().max_value(1))), AnyLayer<T>(strata::LeakyReLU<T>()),
      AnyLayer<T>(strata::ELU<T>()), AnyLayer<T>(strata::ThresholdedReLU<T>()), AnyLayer<T>(strata::Softmax<T>())};
  for (const AnyLayer<T>& layer : layers) {
    INFO(layer.keras_class_name());
    CHECK(layer.output_mask_ranks({Shape{2, 3, 4}}, {2}) == std::vector<int>{2});
    CHECK(layer.output_mask_ranks({Shape{2, 3, 4}}, {0}) == std::vector<int>{0});
    CHECK(layer.weight_count() == 0);
    AnyTensor<T> x = random_any<T>(Shape{2, 3, 4});
    const AnyTensor<T> expected = layer(strata::TensorView<T>(x));
    strata::GraphCall<T> call;
    strata::GraphInput<T> in;
    in.tensor = strata::TensorView<T>(x);
    strata::Mask mask(2, 3);
    mask.setConstant(true);
    mask(1, 2) = false;
    in.mask = std::make_shared<const strata::Mask>(mask);
    if (std::string(layer.keras_class_name()) == "Softmax") in.mask = nullptr;  // its mask rules: below
    const strata::MaskPtr given = in.mask;
    in.owned = &x;
    call.inputs.push_back(in);
    layer.call_graph(call);
    REQUIRE(call.outputs.size() == 1);
    CHECK(call.masks[0] == given);
    CHECK(values(call.outputs[0]) == values(expected));
  }
}

TEMPLATE_TEST_CASE("PReLU: alpha per position, shared axes, weights and errors", "[activation_layers]", float, double) {
  using T = TestType;
  // Rank 4 (batch, h, w, c) with shared_axes [1, 2]: one alpha per channel.
  strata::PReLU<T> prelu(strata::PReLUOptions().shared_axes({1, 2}).name("p"));
  CHECK_FALSE(prelu.built());
  CHECK(has(thrown_message<strata::value_error>([&] {
              (void)prelu.compute_output_shape(Shape{2, 3, 4, 5});
            }),
            "needs the layer's weights"));
  CHECK(prelu.weight_groups({Shape{2, 3, 4, 5}})[0].weights[0].shape == (Shape{1, 1, 5}));
  CHECK(prelu.weight_groups({Shape{2, 3, 4, 5}})[0].weights[0].name == "alpha");
  const AnyTensor<T> alpha = random_any<T>(Shape{1, 1, 5}, T(-1), T(1));
  prelu.set_weights({alpha});
  CHECK(prelu.built());
  CHECK(prelu.count_params() == 5);
  CHECK(values(prelu.get_weights()[0]) == values(alpha));
  for (const Shape& s : {Shape{2, 3, 4, 5}, Shape{1, 7, 1, 5}}) {  // any size on the shared axes
    const AnyTensor<T> x = random_any<T>(s);
    std::vector<T> want = values(x);
    for (std::size_t i = 0; i < want.size(); ++i) {
      const T a = alpha.data()[i % 5];
      want[i] = want[i] >= T(0) ? want[i] : a * want[i];
    }
    CHECK(values(prelu(x)) == want);
  }
  CHECK(has(thrown_message<strata::shape_error>([&] {
              (void)prelu(random_any<T>(Shape{2, 3, 4, 6}));
            }),
            "input must have shape (batch, 1, 1, 5)"));
  CHECK_THROWS_AS(prelu(random_any<T>(Shape{2, 3, 5})), strata::shape_error);
  // set_weights: count, shape once built, size 1 on the shared axes.
  CHECK(has(thrown_message<strata::shape_error>([&] { prelu.set_weights({}); }), "expects 1 array"));
  CHECK(has(thrown_message<strata::shape_error>([&] {
              prelu.set_weights({random_any<T>(Shape{1, 1, 4})});
            }),
            "weight 0 (alpha) must have shape (1, 1, 5)"));
  strata::PReLU<T> fresh(strata::PReLUOptions().shared_axes({1, 2}));
  CHECK(has(thrown_message<strata::shape_error>([&] {
              fresh.set_weights({random_any<T>(Shape{3, 1, 5})});
            }),
            "size 1 on shared axis 1"));
  CHECK(values(prelu.get_weights()[0]) == values(alpha));  // a refused set leaves the weights

  // Rank 2 without shared axes: build(features) gives Keras' zero alpha (y = max(x, 0) * ... = relu).
  strata::PReLU<T> dense_like;
  dense_like.build(6);
  CHECK(dense_like.alpha().shape() == (Shape{6}));
  const AnyTensor<T> x2 = random_any<T>(Shape{4, 6});
  std::vector<T> relu = values(x2);
  for (T& v : relu) v = v >= T(0) ? v : T(0) * v;
  CHECK(values(dense_like(x2)) == relu);
  // A rank-3 alpha from set_weights on an unbuilt layer fixes the input shape; typed call too.
  strata::PReLU<T> seq;
  const AnyTensor<T> a3 = random_any<T>(Shape{3, 4}, T(-1), T(1));
  seq.set_weights({a3});
  const Tensor<T, 3> x3 = test::random_tensor<T, 3>(2, 3, 4);
  const Tensor<T, 3> y3 = seq(x3);
  for (Index i = 0; i < x3.size(); ++i) {
    const T v = x3.data()[i];
    CHECK(y3.data()[i] == (v >= T(0) ? v : a3.data()[i % 12] * v));
  }
  CHECK(
      has(thrown_message<strata::value_error>([] { (void)strata::PReLU<T>(strata::PReLUOptions().shared_axes({0})); }),
          "shared_axes must be >= 1"));
  CHECK(has(thrown_message<strata::shape_error>([] {
              (void)strata::PReLU<T>(strata::PReLUOptions().shared_axes({3})).alpha_shape(Shape{2, 4, 5});
            }),
            "shared axis 3 does not exist"));
  // Configs: shared_axes null, an int, a list; the alpha_* options are ignored.
  strata::Config init = strata::Config::dict();
  init.set("class_name", "Zeros");
  CHECK(from_config<T>("PReLU", dict({{"shared_axes", nullptr}, {"alpha_initializer", init}}))
            .template target<strata::PReLU<T>>()
            ->shared_axes()
            .empty());
  CHECK(from_config<T>("PReLU", dict({{"shared_axes", 1}})).template target<strata::PReLU<T>>()->shared_axes() ==
        std::vector<int>{1});
  CHECK(from_config<T>("PReLU", dict({{"shared_axes", strata::Config::List{1, 2}}}))
            .template target<strata::PReLU<T>>()
            ->shared_axes() == std::vector<int>{1, 2});
  CHECK_THROWS_AS(
      from_config<T>("PReLU", dict({{"shared_axes", strata::Config(strata::Config::List{strata::Config(0)})}})),
      strata::model_error);
  AnyLayer<T> any = from_config<T>("PReLU", dict({{"shared_axes", 1}}));
  CHECK(any.weight_count() == 1);
  CHECK(any.weight_groups({Shape{2, 7, 3}})[0].weights[0].shape == (Shape{1, 3}));
  any.set_weights({random_any<T>(Shape{1, 3})});
  CHECK(any.output_mask_ranks({Shape{2, 7, 3}}, {2}) == std::vector<int>{2});
}

TEMPLATE_TEST_CASE("Softmax: one axis, several axes, and the batch axis refused", "[activation_layers]", float,
                   double) {
  using T = TestType;
  const AnyTensor<T> x = random_any<T>(Shape{2, 3, 4, 5});
  // Naive softmax over a set of axes of a rank-4 tensor.
  const auto naive = [&](std::vector<int> axes) {
    const Shape& s = x.shape();
    std::vector<T> y(static_cast<std::size_t>(x.size()));
    const auto in_group = [&](Index p, Index q) {
      Index a = p, b = q;
      for (int i = 3; i >= 0; --i) {
        const bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
        if (!reduced && a % s[i] != b % s[i]) return false;
        a /= s[i];
        b /= s[i];
      }
      return true;
    };
    for (Index p = 0; p < x.size(); ++p) {
      double m = -1e300, sum = 0;
      for (Index q = 0; q < x.size(); ++q) {
        if (in_group(p, q)) m = std::max(m, static_cast<double>(x.data()[q]));
      }
      for (Index q = 0; q < x.size(); ++q) {
        if (in_group(p, q)) sum += std::exp(static_cast<double>(x.data()[q]) - m);
      }
      y[static_cast<std::size_t>(p)] = static_cast<T>(std::exp(static_cast<double>(x.data()[p]) - m) / sum);
    }
    return y;
  };
  check_close(values(strata::Softmax<T>()(x)), naive({3}), "axis -1");
  check_close(values(strata::Softmax<T>(strata::SoftmaxOptions().axis(1))(x)), naive({1}), "axis 1");
  check_close(values(strata::Softmax<T>(strata::SoftmaxOptions().axis(-2))(x)), naive({2}), "axis -2");
  check_close(values(strata::Softmax<T>(strata::SoftmaxOptions().axis({1, 3}))(x)), naive({1, 3}), "axes 1, 3");
  check_close(values(strata::Softmax<T>(strata::SoftmaxOptions().axis({-1, 2, 1}))(x)), naive({1, 2, 3}),
              "axes -1, 2, 1");
  check_close(values(strata::Softmax<T>(strata::SoftmaxOptions().axis({3, -1}))(x)), naive({3}), "axes 3, -1");
  // The last axis, as the Activation layer's softmax: the same bits.
  CHECK(values(strata::Softmax<T>()(x)) == values(strata::ActivationLayer<T>("softmax")(x)));
  // In place over several axes.
  AnyTensor<T> in_place = x;
  const strata::Softmax<T> s13(strata::SoftmaxOptions().axis({1, 3}));
  s13.forward(in_place.data(), in_place.shape(), in_place.data(), in_place.size());
  CHECK(values(in_place) == values(s13(x)));

  CHECK(has(thrown_message<strata::value_error>([] { (void)strata::Softmax<T>(strata::SoftmaxOptions().axis(0)); }),
            "axis 0 is the batch axis"));
  CHECK_THROWS_AS(strata::Softmax<T>(strata::SoftmaxOptions().axis(std::vector<int>{})), strata::value_error);
  CHECK(has(thrown_message<strata::shape_error>(
                [&] { (void)strata::Softmax<T>(strata::SoftmaxOptions().axis(-4).name("sm"))(x); }),
            "strata::Softmax 'sm': axis -4 is the batch axis for input shape (2, 3, 4, 5)"));
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)strata::Softmax<T>(strata::SoftmaxOptions().axis(4))(x); }),
            "axis 4 is out of range"));
  CHECK(has(thrown_message<strata::shape_error>([] {
              (void)strata::Softmax<T>()(AnyTensor<T>::from_values(Shape{3}, {T(1), T(2), T(3)}));
            }),
            "input must have rank >= 2"));

  // Configs: an int, a list, tfjs' default 1 written out, Keras' default -1 when missing.
  const auto axes = [](const strata::Config& c) {
    return from_config<T>("Softmax", c).template target<strata::Softmax<T>>()->axis();
  };
  CHECK(axes(dict({})) == std::vector<int>{-1});
  CHECK(axes(dict({{"axis", 1}})) == std::vector<int>{1});
  CHECK(axes(dict({{"axis", strata::Config::List{1, 2}}})) == std::vector<int>{1, 2});
  CHECK(has(load_error_message<strata::model_error>([] {
              (void)from_config<T>("Softmax", dict({{"axis", 0}}));
            }),
            "option 'axis' 0 is the batch axis"));
  CHECK_THROWS_AS(from_config<T>("Softmax", dict({{"axis", strata::Config::List{}}})), strata::model_error);
}

TEMPLATE_TEST_CASE("Softmax: mask rules by Keras version, and how a mask broadcasts", "[activation_layers]", float,
                   double) {
  using T = TestType;
  using strata::SoftmaxMasking;
  CHECK(strata::Softmax<T>::masking_for(strata::KerasVersion::parse("3.13.0")) == SoftmaxMasking::replace_and_zero);
  CHECK(strata::Softmax<T>::masking_for(strata::KerasVersion::parse("3.14.1")) == SoftmaxMasking::replace_and_zero);
  CHECK(strata::Softmax<T>::masking_for(strata::KerasVersion::parse("3.12.0")) == SoftmaxMasking::add_and_zero);
  CHECK(strata::Softmax<T>::masking_for(strata::KerasVersion::parse("3.10.0")) == SoftmaxMasking::add_and_zero);
  CHECK(strata::Softmax<T>::masking_for(strata::KerasVersion::parse("3.9.2")) == SoftmaxMasking::add);
  CHECK(strata::Softmax<T>::masking_for(strata::KerasVersion::parse("2.15.0")) == SoftmaxMasking::add);
  CHECK(strata::Softmax<T>::masking_for(strata::KerasVersion::parse("tfjs-layers 4.22.0")) == SoftmaxMasking::add);
  CHECK(from_config<T>("Softmax", dict({}), "3.11.0").template target<strata::Softmax<T>>()->masking() ==
        SoftmaxMasking::add_and_zero);

  // (batch, features) input with a (batch, features) mask; row 0 entirely masked.
  const Index rows = 4, cols = 6;
  const AnyTensor<T> x = random_any<T>(Shape{rows, cols});
  strata::Mask mask(rows, cols);
  std::vector<int> keep(static_cast<std::size_t>(rows * cols));
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c) {
      const bool k = r != 0 && (c == 0 || (r + c) % 3 != 0);
      mask(r, c) = k;
      keep[static_cast<std::size_t>(r * cols + c)] = k ? 1 : 0;
    }
  }
  for (const SoftmaxMasking rule : {SoftmaxMasking::replace_and_zero, SoftmaxMasking::add_and_zero}) {
    const strata::Softmax<T> sm(strata::SoftmaxOptions().masking(rule));
    const std::vector<T> got = values(sm(strata::TensorView<T>(x), mask));
    check_close(got, naive_masked_softmax(values(x), rows, cols, &keep, rule), "masked softmax");
    for (Index c = 0; c < cols; ++c) CHECK(got[static_cast<std::size_t>(c)] == T(0));  // fully masked row: 0
    for (Index r = 1; r < rows; ++r) {
      double sum = 0;
      for (Index c = 0; c < cols; ++c) sum += got[static_cast<std::size_t>(r * cols + c)];
      CHECK(std::abs(sum - 1.0) < 1e-5);
    }
  }
  // Keras 2 / tfjs: the masked outputs are exp(-1e9) = 0 where a row keeps something; a fully masked
  // row is the softmax of its shifted logits, not 0 (in double, the softmax of the logits themselves).
  const strata::Softmax<T> old(strata::SoftmaxOptions().masking(SoftmaxMasking::add));
  const std::vector<T> got_old = values(old(strata::TensorView<T>(x), mask));
  double row0 = 0;
  for (Index c = 0; c < cols; ++c) row0 += got_old[static_cast<std::size_t>(c)];
  CHECK(std::abs(row0 - 1.0) < 1e-5);
  // (exp(-1e9) is 0; Eigen's vectorised exp clamps its argument, giving the smallest value it can, ~1e-39
  // in float.)
  for (Index i = cols; i < rows * cols; ++i) {
    if (keep[static_cast<std::size_t>(i)] == 0) CHECK(std::abs(got_old[static_cast<std::size_t>(i)]) < T(1e-30));
  }
  if (sizeof(T) == 8) {
    const std::vector<T> plain = values(strata::Softmax<T>()(x));
    for (Index c = 0; c < cols; ++c)
      CHECK(close(got_old[static_cast<std::size_t>(c)], plain[static_cast<std::size_t>(c)], 1e-6));
  }

  // A (batch, time) mask -- what Masking or Embedding make -- on a (batch, time, features) input: Keras
  // aligns it with the last two axes (time, features), so it fails unless the sizes happen to fit.
  const AnyTensor<T> seq = random_any<T>(Shape{3, 5, 4});
  strata::Mask bt(3, 5);
  bt.setConstant(true);
  const std::string msg =
      thrown_message<strata::shape_error>([&] { (void)strata::Softmax<T>()(strata::TensorView<T>(seq), bt); });
  CHECK(has(msg, "a mask of shape (3, 5) does not broadcast to input shape (3, 5, 4)"));
  // ... and through a model graph call (Masking -> Softmax) the same.
  strata::GraphCall<T> call;
  strata::GraphInput<T> in;
  in.tensor = strata::TensorView<T>(seq);
  in.mask = std::make_shared<const strata::Mask>(bt);
  call.inputs.push_back(in);
  CHECK_THROWS_AS(strata::Softmax<T>().call_graph(call), strata::shape_error);
  // Batch 1 and time == features: Keras reads mask[0, j] as feature j of every step, and so does strata.
  const AnyTensor<T> sq = random_any<T>(Shape{1, 4, 4});
  strata::Mask one(1, 4);
  one.setConstant(true);
  one(0, 1) = false;
  const std::vector<T> got = values(strata::Softmax<T>()(strata::TensorView<T>(sq), one));
  std::vector<int> keep4(16, 1);
  for (Index t = 0; t < 4; ++t) keep4[static_cast<std::size_t>(t * 4 + 1)] = 0;
  check_close(got, naive_masked_softmax(values(sq), 4, 4, &keep4, SoftmaxMasking::replace_and_zero), "coinciding mask");
  // A graph call passes the mask on and uses it.
  strata::GraphCall<T> c2;
  strata::GraphInput<T> in2;
  in2.tensor = strata::TensorView<T>(x);
  in2.mask = std::make_shared<const strata::Mask>(mask);
  c2.inputs.push_back(in2);
  strata::Softmax<T>().call_graph(c2);
  CHECK(c2.masks[0] == in2.mask);
  CHECK(values(c2.outputs[0]) == values(strata::Softmax<T>()(strata::TensorView<T>(x), mask)));
}
