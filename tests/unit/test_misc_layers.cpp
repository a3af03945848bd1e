// SPDX-License-Identifier: MIT
// The misc layer family: Permute, Identity (and the augmentation layers that load as it), the
// Dropout aliases AlphaDropout / SpatialDropout2D/3D, Rescaling, Normalization and
// CategoryEncoding -- values against naive references written here, shapes, masks, their Keras
// descriptions through a local Registry, and the errors (naming the layer, what was expected, what
// was given). Also the unknown-class message of the registry.
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
using strata::Config;
using strata::Index;
using strata::Shape;
using strata::Tensor;
using test::has;
using test::thrown_message;

/// Row-major strides of a shape.
std::vector<Index> strides_of(const Shape& s) {
  std::vector<Index> st(static_cast<std::size_t>(s.rank()), 1);
  for (int a = s.rank() - 2; a >= 0; --a)
    st[static_cast<std::size_t>(a)] = st[static_cast<std::size_t>(a + 1)] * s[a + 1];
  return st;
}

/// The multi-index of flat position i in shape s.
std::vector<Index> unravel(Index i, const Shape& s) {
  std::vector<Index> idx(static_cast<std::size_t>(s.rank()));
  for (int a = s.rank() - 1; a >= 0; --a) {
    idx[static_cast<std::size_t>(a)] = i % s[a];
    i /= s[a];
  }
  return idx;
}

/// Naive transpose: out[b, i_1..i_n] = x[b, j] with j[dims[k]] = i_{k+1} (dims 1-based).
template <class T>
std::vector<T> naive_permute(const std::vector<T>& x, const Shape& in, const std::vector<Index>& dims) {
  Shape out{in[0]};
  for (Index d : dims) out.push_back(in[static_cast<int>(d)]);
  const auto st = strides_of(in);
  std::vector<T> y(static_cast<std::size_t>(out.size()));
  for (Index o = 0; o < out.size(); ++o) {
    const auto oi = unravel(o, out);
    Index off = oi[0] * st[0];
    for (std::size_t k = 0; k < dims.size(); ++k) off += oi[k + 1] * st[static_cast<std::size_t>(dims[k])];
    y[static_cast<std::size_t>(o)] = x[static_cast<std::size_t>(off)];
  }
  return y;
}

template <class T>
AnyTensor<T> random_any(const Shape& s, T lo = T(-1), T hi = T(1)) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(s);
  test::fill_uniform(t.data(), t.size(), lo, hi);
  return t;
}

template <class T>
strata::GraphCall<T> graph_call_with_mask(const AnyTensor<T>& x) {
  strata::GraphCall<T> call;
  strata::GraphInput<T> input;
  input.tensor = strata::TensorView<T>(x);
  strata::Mask mask(x.shape()[0], x.shape()[1]);
  mask.setConstant(true);
  input.mask = std::make_shared<const strata::Mask>(mask);
  call.inputs.push_back(input);
  return call;
}

template <class T>
AnyLayer<T> build(const strata::Registry<T>& registry, const std::string& cls, const Config& config) {
  const strata::LayerConfig<T> lc(registry, cls, config, strata::KerasVersion{}, "test");
  return registry.build(lc);
}

// (Built from a range: g++ 12 -O3 warns of maybe-uninitialized variant storage when a list is
// filled with push_back of a temporary Config here.)
Config list_of(std::initializer_list<double> v) { return Config(Config::List(v.begin(), v.end())); }

}  // namespace

// ------------------------------------------------------------------------------------------------
TEMPLATE_TEST_CASE("Permute matches a naive transpose on ranks 2 to 5", "[misc][permute]", float, double) {
  using T = TestType;
  const std::vector<std::vector<Index>> perms = {{1},       {2, 1},    {1, 2},       {3, 1, 2},
                                                 {2, 3, 1}, {1, 3, 2}, {4, 2, 1, 3}, {2, 4, 1, 3}};
  for (const auto& dims : perms) {
    Shape in{test::random_int(1, 3)};
    for (std::size_t k = 0; k < dims.size(); ++k) in.push_back(test::random_int(1, 5));
    const AnyTensor<T> x = random_any<T>(in);
    const strata::Permute<T> p(dims, strata::PermuteOptions().name("perm"));
    const AnyTensor<T> y = p(x);
    const std::vector<T> want = naive_permute(test::to_vector(x), in, dims);
    REQUIRE(y.size() == static_cast<Index>(want.size()));
    CHECK(test::to_vector(y) == want);  // a copy: exact
    Shape out{in[0]};
    for (Index d : dims) out.push_back(in[static_cast<int>(d)]);
    CHECK(y.shape() == out);
  }
  // Typed: (batch, time, features) -> (batch, features, time).
  const Tensor<T, 3> x = test::random_tensor<T, 3>(2, 3, 4);
  const Tensor<T, 3> y = strata::Permute<T>({2, 1})(x);
  CHECK(y.dimension(1) == 4);
  CHECK(y.dimension(2) == 3);
  CHECK(y(1, 3, 2) == x(1, 2, 3));
}

TEMPLATE_TEST_CASE("Permute errors, Keras description and dropped mask", "[misc][permute]", float, double) {
  using T = TestType;
  for (const std::vector<Index>& bad : std::vector<std::vector<Index>>{{}, {0, 1}, {1, 1}, {2, 3}, {1, 2, 4}}) {
    const std::string m = thrown_message<strata::value_error>([&] { (void)strata::Permute<T>(bad); });
    CHECK(has(m, "strata::Permute"));
    CHECK(has(m, "must be a permutation of 1..n"));
  }
  const strata::Permute<T> p({2, 1}, strata::PermuteOptions().name("perm"));
  const std::string rank = thrown_message<strata::shape_error>([&] { (void)p(random_any<T>(Shape{2, 3, 4, 5})); });
  CHECK(has(rank, "strata::Permute 'perm'"));
  CHECK(has(rank, "input must have rank 3"));
  CHECK(has(rank, "(2, 3, 4, 5)"));

  strata::Registry<T> registry;
  registry.template add<strata::Permute<T>>();
  Config c = Config::dict();
  c.set("name", "permute");
  Config dims = Config::list();
  dims.push_back(2);
  dims.push_back(1);
  c.set("dims", dims);
  AnyLayer<T> layer = build(registry, "Permute", c);
  REQUIRE(layer.template target<strata::Permute<T>>() != nullptr);
  CHECK(layer.output_shapes({Shape{2, 3, 4}}) == std::vector<Shape>{Shape{2, 4, 3}});
  // Keras 3: Permute does not support masking; a mask stops here.
  const AnyTensor<T> x = random_any<T>(Shape{2, 3, 4});
  strata::GraphCall<T> call = graph_call_with_mask(x);
  layer.call_graph(call);
  REQUIRE(call.masks.size() == 1);
  CHECK(call.masks[0] == nullptr);
  Config bad = c;
  dims.push_back(7);
  bad.set("dims", dims);
  CHECK(has(load_error_message<strata::model_error>([&] { (void)build(registry, "Permute", bad); }),
            "layer 'permute' (Permute)"));
}

// ------------------------------------------------------------------------------------------------
TEMPLATE_TEST_CASE("Identity, the augmentation layers and the Dropout aliases are the identity at inference",
                   "[misc][identity]", float, double) {
  using T = TestType;
  strata::Registry<T> registry;
  registry.template add<strata::Identity<T>>();
  registry.template add<strata::RandomFlip<T>>();
  registry.template add<strata::Dropout<T>>();
  const AnyTensor<T> x = random_any<T>(Shape{2, 3, 4, 2});
  struct Expect {
    const char* cls;
    bool keeps_mask;  // Keras' supports_masking
  };
  for (const Expect e :
       {Expect{"Identity", true}, Expect{"RandomFlip", false}, Expect{"RandomContrast", false},
        Expect{"RandomBrightness", false}, Expect{"RandomGrayscale", false}, Expect{"RandomGaussianBlur", false},
        Expect{"RandomErasing", false}, Expect{"AlphaDropout", true}, Expect{"SpatialDropout2D", true},
        Expect{"SpatialDropout3D", true}}) {
    INFO(e.cls);
    Config c = Config::dict();
    c.set("name", "n");
    if (std::string(e.cls).find("Dropout") != std::string::npos) c.set("rate", 0.4);
    if (std::string(e.cls).rfind("Random", 0) == 0) c.set("factor", 0.5);
    AnyLayer<T> layer = build(registry, e.cls, c);
    const AnyTensor<T> y = layer(strata::TensorView<T>(x));
    CHECK(y.shape() == x.shape());
    CHECK(test::to_vector(y) == test::to_vector(x));
    strata::GraphCall<T> call = graph_call_with_mask(x);
    layer.call_graph(call);
    REQUIRE(call.masks.size() == 1);
    CHECK((call.masks[0] != nullptr) == e.keeps_mask);
    CHECK(test::to_vector(call.outputs[0]) == test::to_vector(x));
  }
  // Not every Random* layer is the identity at inference: RandomCrop crops, and is not registered.
  CHECK(registry.find("RandomCrop") == nullptr);
  CHECK(registry.find("RandomRotation") == nullptr);
  const std::string m = thrown_message<strata::shape_error>([] { (void)strata::Identity<T>()(AnyTensor<T>()); });
  CHECK(has(m, "strata::Identity"));
}

// ------------------------------------------------------------------------------------------------
TEMPLATE_TEST_CASE("Rescaling: scalar and broadcast scale and offset against x * scale + offset", "[misc][rescaling]",
                   float, double) {
  using T = TestType;
  const AnyTensor<T> x = random_any<T>(Shape{2, 3, 4, 3}, T(-255), T(255));
  const strata::Rescaling<T> scalar(T(1) / T(127.5), T(-1));
  const AnyTensor<T> y = scalar(x);
  // The expectation is Keras' two roundings (a multiply op, then an add op). The product goes
  // through a volatile so that the compiler cannot fuse it into the sum here either (g++ contracts
  // across statements when the target has FMA), which would make this side the fused one.
  for (Index i = 0; i < x.size(); ++i) {
    const volatile T p = x.data()[i] * (T(1) / T(127.5));
    CHECK(y.data()[i] == p + T(-1));
  }
  // Per-channel scale (3,) and an offset of shape (4, 1): numpy broadcasting on the last axes.
  const std::vector<T> s{T(0.5), T(-2), T(0.125)};
  const std::vector<T> o{T(1), T(2), T(3), T(4)};
  const strata::Rescaling<T> arrays(s, Shape{3}, o, Shape{4, 1}, strata::RescalingOptions().name("rs"));
  const AnyTensor<T> z = arrays(x);
  for (Index i = 0; i < x.size(); ++i) {
    const auto idx = unravel(i, x.shape());
    const volatile T p = x.data()[i] * s[static_cast<std::size_t>(idx[3])];
    CHECK(z.data()[i] == p + o[static_cast<std::size_t>(idx[2])]);
  }
  // A scale that would grow the input, or does not fit its axis.
  const std::string m = thrown_message<strata::shape_error>([&] { (void)arrays(random_any<T>(Shape{2, 3, 5, 3})); });
  CHECK(has(m, "strata::Rescaling 'rs'"));
  CHECK(has(m, "offset of shape (4, 1) does not broadcast to the input shape (2, 3, 5, 3)"));
  const strata::Rescaling<T> grows({T(1), T(2)}, Shape{2}, {T(0)}, Shape{});
  CHECK_THROWS_AS(grows(random_any<T>(Shape{4, 1})), strata::shape_error);
  CHECK_THROWS_AS(strata::Rescaling<T>({T(1), T(2)}, Shape{3}, {T(0)}, Shape{}), strata::value_error);
}

TEMPLATE_TEST_CASE("Rescaling from_config: numbers, nested lists, numpy arrays", "[misc][rescaling]", float, double) {
  using T = TestType;
  strata::Registry<T> registry;
  registry.template add<strata::Rescaling<T>>();
  Config c = Config::dict();
  c.set("name", "rescaling");
  Config np = Config::dict();
  np.set("class_name", "__numpy__");
  Config npc = Config::dict();
  npc.set("value", list_of({0.5, 2.0}));
  npc.set("dtype", "float32");
  np.set("config", npc);
  c.set("scale", np);
  Config offset = Config::list();
  offset.push_back(list_of({1.0, 2.0}));
  offset.push_back(list_of({3.0, 4.0}));
  c.set("offset", offset);
  AnyLayer<T> layer = build(registry, "Rescaling", c);
  const auto* r = layer.template target<strata::Rescaling<T>>();
  REQUIRE(r != nullptr);
  CHECK(r->scale_shape() == Shape{2});
  CHECK(r->offset_shape() == (Shape{2, 2}));
  const AnyTensor<T> x = random_any<T>(Shape{3, 2, 2});
  const AnyTensor<T> y = layer(strata::TensorView<T>(x));
  for (Index i = 0; i < x.size(); ++i) {
    const auto idx = unravel(i, x.shape());
    const T p = x.data()[i] * (idx[2] == 0 ? T(0.5) : T(2));
    CHECK(y.data()[i] == p + static_cast<T>(1 + 2 * idx[1] + idx[2]));
  }
  // The mask passes on (Keras: supports_masking).
  strata::GraphCall<T> call = graph_call_with_mask(x);
  layer.call_graph(call);
  CHECK(call.masks[0] != nullptr);
  // Ragged lists and strings are io_errors naming the option.
  Config ragged = c;
  Config bad = Config::list();
  bad.push_back(list_of({1.0, 2.0}));
  bad.push_back(list_of({3.0}));
  ragged.set("offset", bad);
  CHECK(has(load_error_message<strata::io_error>([&] { (void)build(registry, "Rescaling", ragged); }),
            "option 'offset' must be a number or a rectangular list of numbers"));
  Config text = c;
  text.set("scale", "1/255");
  CHECK_THROWS_AS(build(registry, "Rescaling", text), strata::io_error);
}

// ------------------------------------------------------------------------------------------------
namespace {
/// Keras' Normalization in double: (x - mean) / max(sqrt(var), 1e-7) with statistics indexed by
/// the kept axes `keep` (sorted), or mean + x * max(...) with invert.
template <class T>
std::vector<double> naive_normalization(const AnyTensor<T>& x, const std::vector<double>& mean,
                                        const std::vector<double>& var, const std::vector<int>& keep, bool invert) {
  std::vector<double> y(static_cast<std::size_t>(x.size()));
  for (Index i = 0; i < x.size(); ++i) {
    const auto idx = unravel(i, x.shape());
    Index k = 0;
    for (int a : keep) k = k * x.shape()[a] + idx[static_cast<std::size_t>(a)];
    const double m = mean[static_cast<std::size_t>(k)];
    const double d = std::max(std::sqrt(var[static_cast<std::size_t>(k)]), 1e-7);
    const double v = static_cast<double>(x.data()[i]);
    y[static_cast<std::size_t>(i)] = invert ? m + v * d : (v - m) / d;
  }
  return y;
}

template <class T>
double max_diff(const AnyTensor<T>& y, const std::vector<double>& want) {
  double m = 0;
  for (Index i = 0; i < y.size(); ++i) {
    m = std::max(m, std::abs(static_cast<double>(y.data()[i]) - want[static_cast<std::size_t>(i)]));
  }
  return m;
}

template <class T>
AnyTensor<T> vec(const std::vector<double>& v, const Shape& s) {
  AnyTensor<T> t = AnyTensor<T>::uninitialized(s);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<T>(v[static_cast<std::size_t>(i)]);
  return t;
}
}  // namespace

TEMPLATE_TEST_CASE("Normalization with adapted weights: axes, epsilon, invert", "[misc][normalization]", float,
                   double) {
  using T = TestType;
  struct Case {
    std::vector<int> axis;
    Shape input;
    std::vector<int> keep;
    bool invert;
  };
  const std::vector<Case> cases = {{{-1}, Shape{3, 4, 5}, {2}, false},
                                   {{1}, Shape{3, 4, 5}, {1}, false},
                                   {{1, -1}, Shape{2, 3, 4}, {1, 2}, true},
                                   {{-1, 1}, Shape{2, 3, 4}, {1, 2}, false},
                                   {{}, Shape{3, 6}, {}, true},
                                   {{0}, Shape{4, 2}, {0}, false}};
  for (const Case& c : cases) {
    strata::Normalization<T> layer(strata::NormalizationOptions().axis(c.axis).invert(c.invert).name("norm"));
    CHECK_FALSE(layer.built());
    Shape kept;
    for (int a : c.keep) kept.push_back(c.input[a]);
    if (kept.rank() == 0) kept = Shape{1};
    // weight_groups gives Keras' names and the kept shape (a scalar count held as (1,)).
    const auto groups = layer.weight_groups({c.input});
    REQUIRE(groups.size() == 1);
    REQUIRE(groups[0].weights.size() == 3);
    CHECK(groups[0].weights[0].name == "mean");
    CHECK(groups[0].weights[0].shape == kept);
    CHECK(groups[0].weights[1].name == "variance");
    CHECK(groups[0].weights[2].name == "count");
    CHECK(groups[0].weights[2].shape == Shape{1});
    std::vector<double> mean(static_cast<std::size_t>(kept.size())), var(mean.size());
    for (std::size_t i = 0; i < mean.size(); ++i) {
      mean[i] = static_cast<double>(static_cast<T>(std::sin(1.0 + static_cast<double>(i))));
      var[i] = i == 0 ? 0.0 : static_cast<double>(static_cast<T>(0.3 + static_cast<double>(i) * 0.7));
    }
    layer.set_weights({vec<T>(mean, kept), vec<T>(var, kept), vec<T>({42.0}, Shape{1})});
    CHECK(layer.built());
    CHECK(layer.count_params() == 2 * kept.size() + 1);
    AnyTensor<T> x = random_any<T>(c.input, T(-2), T(2));
    // Values at statistic 0 (variance 0, so the denominator is epsilon) near the mean, as adapted data
    // would be: otherwise they would be divided by 1e-7.
    for (Index i = 0; i < x.size(); ++i) {
      const auto idx = unravel(i, x.shape());
      Index k = 0;
      for (int a : c.keep) k = k * x.shape()[a] + idx[static_cast<std::size_t>(a)];
      if (k == 0) x.data()[i] = static_cast<T>(mean[0]) + static_cast<T>(static_cast<int>(i % 5) - 2) * T(1e-7);
    }
    const AnyTensor<T> y = layer(strata::TensorView<T>(x));
    REQUIRE(y.shape() == c.input);
    CHECK(max_diff(y, naive_normalization(x, mean, var, c.keep, c.invert)) <= (sizeof(T) == 4 ? 2e-5 : 1e-12));
    const auto w = layer.get_weights();
    REQUIRE(w.size() == 3);
    CHECK(w[2].data()[0] == T(42));
  }
}

TEMPLATE_TEST_CASE("Normalization with mean and variance in its config (Keras 3)", "[misc][normalization]", float,
                   double) {
  using T = TestType;
  strata::Registry<T> registry;
  registry.template add<strata::Normalization<T>>();
  // Scalar statistics, the default axis -1: no weights.
  Config c = Config::dict();
  c.set("name", "normalization");
  Config axis = Config::list();
  axis.push_back(-1);
  c.set("axis", axis);
  c.set("mean", 3.0);
  c.set("variance", 2.0);
  c.set("invert", false);
  AnyLayer<T> layer = build(registry, "Normalization", c);
  CHECK(layer.weight_count() == 0);
  CHECK(layer.weight_groups({Shape{2, 5}}).empty());
  const AnyTensor<T> x = random_any<T>(Shape{2, 5}, T(-5), T(5));
  const AnyTensor<T> y = layer(strata::TensorView<T>(x));
  for (Index i = 0; i < x.size(); ++i) CHECK(y.data()[i] == (x.data()[i] - T(3)) / std::sqrt(T(2)));
  // The mask passes on.
  strata::GraphCall<T> call = graph_call_with_mask(x);
  layer.call_graph(call);
  CHECK(call.masks[0] != nullptr);

  // axis (1, 2) and a (b,) mean: aligned on the kept axes from the right (Keras 3.16), i.e. axis 2.
  Config c2 = c;
  Config axes = Config::list();
  axes.push_back(1);
  axes.push_back(2);
  c2.set("axis", axes);
  c2.set("mean", list_of({1.0, -1.0, 0.5}));
  c2.set("variance", list_of({4.0, 1.0, 0.25}));
  AnyLayer<T> partial = build(registry, "Normalization", c2);
  const AnyTensor<T> x2 = random_any<T>(Shape{2, 2, 3, 4});
  const AnyTensor<T> y2 = partial(strata::TensorView<T>(x2));
  std::vector<double> mean(6), var(6);
  for (std::size_t i = 0; i < 6; ++i) {
    mean[i] = std::vector<double>{1.0, -1.0, 0.5}[i % 3];
    var[i] = std::vector<double>{4.0, 1.0, 0.25}[i % 3];
  }
  CHECK(max_diff(y2, naive_normalization(x2, mean, var, {1, 2}, false)) <= (sizeof(T) == 4 ? 2e-6 : 1e-15));
  // A kept size the list does not fit.
  const std::string m = thrown_message<strata::shape_error>([&] {
    (void)partial(strata::TensorView<T>(AnyTensor<T>(random_any<T>(Shape{2, 2, 4, 4}))));
  });
  CHECK(has(m, "strata::Normalization 'normalization'"));
  CHECK(has(m, "do not broadcast to (2, 4)"));

  // axis null (None) and a missing axis (-1); axis as a bare int (Keras 2 configs).
  Config none = c;
  none.set("axis", nullptr);
  CHECK(build(registry, "Normalization", none).template target<strata::Normalization<T>>()->axis().empty());
  Config bare = c;
  bare.set("axis", 1);
  CHECK(build(registry, "Normalization", bare).template target<strata::Normalization<T>>()->axis() ==
        std::vector<int>{1});
  // mean without variance, a mean of more axes than kept.
  Config half = c;
  half.set("variance", nullptr);
  CHECK(has(load_error_message<strata::model_error>([&] { (void)build(registry, "Normalization", half); }),
            "mean and variance must be given together"));
  Config deep = c;
  Config nested = Config::list();
  nested.push_back(list_of({1.0, 2.0}));
  deep.set("mean", nested);
  deep.set("variance", nested);
  CHECK(has(load_error_message<strata::model_error>([&] { (void)build(registry, "Normalization", deep); }),
            "has more axes than axis (-1,) keeps"));
}

TEMPLATE_TEST_CASE("Normalization errors name the layer, what was expected and what was given", "[misc][normalization]",
                   float, double) {
  using T = TestType;
  strata::Normalization<T> layer(strata::NormalizationOptions().name("norm"));
  const AnyTensor<T> x = random_any<T>(Shape{2, 3});
  const std::string unbuilt = thrown_message<strata::value_error>([&] { (void)layer(x); });
  CHECK(has(unbuilt, "strata::Normalization 'norm': needs its mean and variance"));
  layer.build(3);  // Keras' initial statistics: mean 0, variance 1
  CHECK(test::to_vector(layer(x)) == test::to_vector(x));
  const std::string other = thrown_message<strata::shape_error>([&] { (void)layer(random_any<T>(Shape{2, 4})); });
  CHECK(has(other, "input shape (2, 4) has (4,) along axis (-1,); the weights have shape (3,)"));
  const std::string count = thrown_message<strata::shape_error>([&] {
    layer.set_weights({vec<T>({0, 0, 0}, Shape{3}), vec<T>({1, 1, 1}, Shape{3}), vec<T>({0, 0}, Shape{2})});
  });
  CHECK(has(count, "weight 2 (count) must have shape (1,)"));
  const std::string var = thrown_message<strata::shape_error>([&] {
    layer.set_weights({vec<T>({0, 0, 0}, Shape{3}), vec<T>({1, 1}, Shape{2}), vec<T>({0}, Shape{1})});
  });
  CHECK(has(var, "weight 1 (variance) must have shape (3,)"));
  CHECK_THROWS_AS(layer.set_weights({}), strata::shape_error);
  strata::Normalization<T> axis3(strata::NormalizationOptions().axis({3}).name("n3"));
  axis3.set_weights({vec<T>({0, 0}, Shape{2}), vec<T>({1, 1}, Shape{2}), vec<T>({0}, Shape{1})});
  CHECK(has(thrown_message<strata::shape_error>([&] { (void)axis3(x); }),
            "axis (3,) is out of range for an input of rank 2"));
  CHECK_THROWS_AS(axis3.build(2), strata::value_error);
  CHECK_THROWS_AS(strata::Normalization<T>(strata::NormalizationOptions().axis({1, 1})), strata::value_error);
  CHECK_THROWS_AS(strata::Normalization<T>(strata::NormalizationOptions().mean({1.0})), strata::value_error);
  CHECK_THROWS_AS(strata::Normalization<T>(strata::NormalizationOptions().mean({1.0, 2.0}, Shape{2}).variance({1.0})),
                  strata::value_error);
  // With statistics in the options there are no weights to set.
  strata::Normalization<T> given(strata::NormalizationOptions().mean({1.0}).variance({1.0}));
  CHECK(given.built());
  CHECK(given.get_weights().empty());
  CHECK_THROWS_AS(given.set_weights({vec<T>({0}, Shape{1})}), strata::shape_error);
}

// ------------------------------------------------------------------------------------------------
namespace {
/// Keras 3's encode_categorical_inputs written out: one_hot appends (or replaces a size-1 last)
/// axis; multi_hot / count reduce the last axis (rank 2) or the whole input (rank 1).
template <class T>
std::pair<Shape, std::vector<T>> naive_encoding(const AnyTensor<T>& x, Index n, const std::string& mode) {
  const Shape in = x.shape();
  Shape out;
  std::vector<T> y;
  if (mode == "one_hot") {
    const bool replace = in.rank() > 1 && in.back() == 1;
    for (int a = 0; a < (replace ? in.rank() - 1 : in.rank()); ++a) out.push_back(in[a]);
    out.push_back(n);
    y.assign(static_cast<std::size_t>(out.size()), T(0));
    for (Index i = 0; i < x.size(); ++i) y[static_cast<std::size_t>(i * n + static_cast<Index>(x.data()[i]))] = T(1);
    return {out, y};
  }
  const Index rows = in.rank() == 1 ? 1 : in[0];
  const Index len = in.back();
  if (in.rank() == 2) out.push_back(rows);
  out.push_back(n);
  y.assign(static_cast<std::size_t>(out.size()), T(0));
  for (Index r = 0; r < rows; ++r) {
    for (Index j = 0; j < len; ++j) {
      T& v = y[static_cast<std::size_t>(r * n + static_cast<Index>(x.data()[r * len + j]))];
      v = mode == "count" ? v + T(1) : T(1);
    }
  }
  return {out, y};
}
}  // namespace

TEMPLATE_TEST_CASE("CategoryEncoding: one_hot, multi_hot and count against Keras 3's rules", "[misc][category]", float,
                   double) {
  using T = TestType;
  const std::vector<std::pair<std::string, Shape>> cases = {
      {"one_hot", Shape{5}},       {"one_hot", Shape{4, 1}},   {"one_hot", Shape{3, 4}},   {"one_hot", Shape{2, 3, 1}},
      {"one_hot", Shape{2, 2, 3}}, {"multi_hot", Shape{6}},    {"multi_hot", Shape{3, 5}}, {"count", Shape{7}},
      {"count", Shape{3, 6}},      {"multi_hot", Shape{2, 1}}, {"count", Shape{2, 0}}};
  for (const auto& [mode, shape] : cases) {
    const Index n = test::random_int(1, 6);
    AnyTensor<T> x = AnyTensor<T>::uninitialized(shape);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<T>(test::random_int(0, n - 1));
    const strata::CategoryEncoding<T> layer(n, strata::CategoryEncodingOptions().output_mode(mode).name("enc"));
    const AnyTensor<T> y = layer(x);
    const auto [want_shape, want] = naive_encoding(x, n, mode);
    CHECK(y.shape() == want_shape);
    CHECK(test::to_vector(y) == want);
  }
}

TEMPLATE_TEST_CASE("CategoryEncoding errors and Keras description", "[misc][category]", float, double) {
  using T = TestType;
  const strata::CategoryEncoding<T> layer(4, strata::CategoryEncodingOptions().output_mode("count").name("enc"));
  for (const T bad : {T(4), T(-1), T(1.5), T(NAN)}) {
    AnyTensor<T> x = AnyTensor<T>::zeros(Shape{2, 3});
    x.data()[4] = bad;
    const std::string m = thrown_message<strata::value_error>([&] { (void)layer(x); });
    CHECK(has(m, "strata::CategoryEncoding 'enc': input values must be whole numbers in [0, num_tokens=4)"));
    CHECK(has(m, "at flat index 4 of input shape (2, 3)"));
  }
  const std::string rank = thrown_message<strata::shape_error>([&] {
    (void)layer(AnyTensor<T>::zeros(Shape{2, 3, 1}));
  });
  CHECK(has(rank, "output_mode count takes input of rank 1 or 2"));
  CHECK_THROWS_AS(strata::CategoryEncoding<T>(0), strata::value_error);
  CHECK_THROWS_AS(strata::CategoryEncoding<T>(3, strata::CategoryEncodingOptions().output_mode("tf_idf")),
                  strata::value_error);

  strata::Registry<T> registry;
  registry.template add<strata::CategoryEncoding<T>>();
  Config c = Config::dict();
  c.set("name", "category_encoding");
  c.set("num_tokens", 3);
  c.set("output_mode", "one_hot");
  c.set("sparse", false);
  AnyLayer<T> built = build(registry, "CategoryEncoding", c);
  CHECK(std::string(built.template target<strata::CategoryEncoding<T>>()->output_mode()) == "one_hot");
  const AnyTensor<T> ids = AnyTensor<T>::zeros(Shape{2, 3});
  strata::GraphCall<T> call = graph_call_with_mask(ids);
  built.call_graph(call);
  CHECK(call.masks[0] == nullptr);  // Keras' CategoryEncoding does not support masking
  Config sparse = c;
  sparse.set("sparse", true);
  CHECK(has(load_error_message<strata::unsupported_error>([&] { (void)build(registry, "CategoryEncoding", sparse); }),
            "option 'sparse'"));
  Config tfidf = c;
  tfidf.set("output_mode", "tf_idf");
  CHECK_THROWS_AS(build(registry, "CategoryEncoding", tfidf), strata::unsupported_error);
  Config defaults = Config::dict();
  defaults.set("num_tokens", 2);
  CHECK(std::string(build(registry, "CategoryEncoding", defaults)
                        .template target<strata::CategoryEncoding<T>>()
                        ->output_mode()) == "multi_hot");
}

// ------------------------------------------------------------------------------------------------
TEST_CASE("an unknown layer class says where to look and, for string layers, why", "[misc][registry]") {
  strata::Registry<float> registry;
  const auto message = [&](const std::string& cls) {
    Config c = Config::dict();
    c.set("name", "x");
    const strata::LayerConfig<float> lc(registry, cls, c, strata::KerasVersion{}, "test");
    return load_error_message<strata::unsupported_error>([&] { (void)registry.build(lc); });
  };
  for (const char* cls :
       {"StringLookup", "IntegerLookup", "TextVectorization", "Hashing", "HashedCrossing", "CategoryCrossing"}) {
    const std::string m = message(cls);
    CHECK(has(m, std::string("the layer class '") + cls + "' is not supported: Keras' string and vocabulary"));
    CHECK(has(m, "strata's numeric tensors do not hold"));
    CHECK(has(m, "docs/loading-models.md"));
  }
  const std::string lambda = message("Lambda");
  CHECK(has(lambda, "'Lambda' is not supported: a Lambda's Python code cannot be loaded"));
  CHECK(has(lambda, "strata::register_layer (docs/custom-layers.md)"));
  // Keras' own classes strata does not implement: the message points at the reason in the docs.
  for (const char* cls : {"LocallyConnected1D", "LocallyConnected2D", "SReLU", "ParametricSoftplus", "CuDNNLSTM",
                          "ReversibleEmbedding"}) {
    const std::string m = message(cls);
    CHECK(has(m, std::string("the layer class '") + cls +
                     "' is not supported: strata does not implement this Keras layer (why: "
                     "docs/loading-models.md, \"Not supported, and why\")"));
    CHECK(has(m, "strata::register_layer (docs/custom-layers.md)"));
  }
  const std::string other = message("MyCustomBlock");
  CHECK(has(other,
            "'MyCustomBlock' is not supported (the Keras classes strata supports: docs/loading-models.md, "
            "\"What is supported\"); for a custom class, register a C++ implementation for it with "
            "strata::register_layer (docs/custom-layers.md)"));
}
