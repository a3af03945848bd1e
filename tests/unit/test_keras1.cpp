// SPDX-License-Identifier: MIT
// Keras 1 files: each layer reads Keras 1's config names (LayerConfig::spelling) and converts
// Keras 1's per-gate LSTM/GRU weights (legacy_weight_groups / convert_legacy_weights). The
// expected conversion is written here from Keras 2.0.9's preprocess_weights_for_loading (engine/
// topology.py), which concatenates the stored arrays by index: LSTM kernel = [0, 6, 3, 9],
// recurrent kernel = [1, 7, 4, 10], bias = [2, 8, 5, 11]; GRU [0, 3, 6], [1, 4, 7], [2, 5, 8].
// The loader tests load whole Keras 1.2.2 files (tests/io/fixtures, *_keras1_*).

#include <string>
#include <utility>
#include <vector>

#include "strata/layers/bidirectional.hpp"
#include "strata/layers/conv.hpp"
#include "strata/layers/conv_lstm.hpp"
#include "strata/layers/conv_transpose.hpp"
#include "strata/layers/dense.hpp"
#include "strata/layers/dropout.hpp"
#include "strata/layers/gru.hpp"
#include "strata/layers/lstm.hpp"
#include "strata/layers/merge.hpp"
#include "strata/layers/pooling.hpp"
#include "strata/layers/separable_conv.hpp"
#include "strata/layers/simple_rnn.hpp"
#include "strata/layers/spatial.hpp"
#include "strata/layers/time_distributed.hpp"
#include "strata/registry.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/util.hpp"

using strata::AnyLayer;
using strata::AnyTensor;
using strata::Index;
using strata::KerasVersion;
using strata::Shape;
using strata::Weights;
using test::has;

namespace {

using test::load_error_message;

const KerasVersion keras1 = KerasVersion::parse("1.2.2");

// A Keras 1 file of the given backend (what the loader reads from the weight names).
KerasVersion keras1_with(const char* backend) {
  KerasVersion v = keras1;
  v.backend = backend;
  return v;
}

// A Keras 1 LSTM's (or ConvLSTM2D's) stored layout: twelve arrays in the cell, W, U and b per gate
// in Keras 1's gate order i, c, f, o.
void check_keras1_lstm_gates(const std::vector<strata::WeightGroup>& groups) {
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].path == "cell");
  std::vector<std::string> names;
  for (const auto& w : groups[0].weights) names.push_back(w.name);
  CHECK(names ==
        std::vector<std::string>{"W_i", "U_i", "b_i", "W_c", "U_c", "b_c", "W_f", "U_f", "b_f", "W_o", "U_o", "b_o"});
}

// The stored arrays of a Keras 1 LSTM/GRU (W, U, b per gate), random.
template <class T>
Weights<T> per_gate_arrays(std::size_t gates, Index features, Index units) {
  Weights<T> w;
  for (std::size_t g = 0; g < gates; ++g) {
    w.emplace_back(test::random_tensor<T, 2>(features, units));
    w.emplace_back(test::random_tensor<T, 2>(units, units));
    w.emplace_back(test::random_tensor<T, 1>(units));
  }
  return w;
}

// numpy.concatenate(arrays at `order`, axis=-1) on row-major arrays of equal row counts (the
// product of the axes before the last).
template <class T>
std::vector<T> concat_last_axis(const Weights<T>& stored, const std::vector<std::size_t>& order) {
  const Shape& first = stored[order[0]].shape();
  const Index rows = first.rank() >= 2 ? first.size() / first.back() : 1;
  std::vector<T> out;
  for (Index r = 0; r < rows; ++r) {
    for (std::size_t k : order) {
      const AnyTensor<T>& a = stored[k];
      const Index cols = a.shape().back();
      for (Index c = 0; c < cols; ++c) out.push_back(a.data()[r * cols + c]);
    }
  }
  return out;
}

template <class T>
strata::Registry<T> keras1_registry() {
  strata::Registry<T> registry;
  registry.template add<strata::Dense<T>>();
  registry.template add<strata::Dropout<T>>();
  registry.template add<strata::LSTM<T>>();
  registry.template add<strata::GRU<T>>();
  registry.template add<strata::SimpleRNN<T>>();
  registry.template add<strata::detail::AnyTimeDistributed<T>>();
  registry.template add<strata::detail::BidirectionalEntry<T>>();
  registry.template add<strata::Conv1D<T>>();
  registry.template add<strata::Conv2D<T>>();
  registry.template add<strata::Conv3D<T>>();
  registry.template add<strata::ConvLSTM2D<T>>();
  registry.template add<strata::Conv2DTranspose<T>>();
  registry.template add<strata::SeparableConv2D<T>>();
  registry.template add<strata::MaxPooling1D<T>>();
  registry.template add<strata::AveragePooling2D<T>>();
  registry.template add<strata::ZeroPadding1D<T>>();
  registry.template add<strata::ZeroPadding2D<T>>();
  registry.template add<strata::UpSampling1D<T>>();
  registry.template add<strata::detail::Keras1Merge<T>>();
  return registry;
}

strata::Config keras1_rnn_config(const char* name, Index output_dim) {
  strata::Config c = strata::Config::dict();
  c.set("name", name);
  c.set("trainable", true);
  c.set("return_sequences", true);
  c.set("go_backwards", false);
  c.set("stateful", false);
  c.set("unroll", false);
  c.set("consume_less", "cpu");
  c.set("input_dim", 3);
  c.set("input_length", nullptr);
  c.set("output_dim", output_dim);
  c.set("init", "glorot_uniform");
  c.set("inner_init", "orthogonal");
  c.set("activation", "tanh");
  c.set("inner_activation", "hard_sigmoid");
  c.set("W_regularizer", nullptr);
  c.set("dropout_W", 0.0);
  c.set("dropout_U", 0.0);
  return c;
}

}  // namespace

TEMPLATE_TEST_CASE("Keras 1 LSTM and GRU weights: twelve / nine per-gate arrays -> kernel, recurrent_kernel, bias",
                   "[keras1][lstm][gru]", float, double) {
  using T = TestType;
  const Index features = 3;
  const Index units = 4;
  const std::vector<Shape> inputs{Shape{2, 5, features}};

  SECTION("LSTM: stored i, c, f, o; Keras 2 columns i, f, c, o") {
    const strata::LSTM<T> lstm(units, strata::LSTMOptions().name("lstm_1"));
    const auto groups = lstm.legacy_weight_groups(inputs, keras1);
    check_keras1_lstm_gates(groups);
    CHECK(groups[0].weights[0].shape == (Shape{features, units}));
    CHECK(groups[0].weights[1].shape == (Shape{units, units}));
    CHECK(groups[0].weights[2].shape == (Shape{units}));

    const Weights<T> stored = per_gate_arrays<T>(4, features, units);
    const Weights<T> w = lstm.convert_legacy_weights(stored, keras1);
    REQUIRE(w.size() == 3);
    CHECK(w[0].shape() == (Shape{features, 4 * units}));
    CHECK(w[1].shape() == (Shape{units, 4 * units}));
    CHECK(w[2].shape() == (Shape{4 * units}));
    CHECK(test::to_vector(w[0]) == concat_last_axis(stored, {0, 6, 3, 9}));
    CHECK(test::to_vector(w[1]) == concat_last_axis(stored, {1, 7, 4, 10}));
    CHECK(test::to_vector(w[2]) == concat_last_axis(stored, {2, 8, 5, 11}));

    // Files of other versions keep Keras 2's layout: nothing to declare.
    for (const char* v : {"2.2.4", "2.15.0", "3.6.0", "tfjs-layers 4.22.0", ""}) {
      CHECK(lstm.legacy_weight_groups(inputs, KerasVersion::parse(v)).empty());
    }
    // Without a bias (never in Keras 1) there is no Keras 1 layout either.
    const strata::LSTM<T> nobias(units, strata::LSTMOptions().use_bias(false));
    CHECK(nobias.legacy_weight_groups(inputs, keras1).empty());
  }

  SECTION("GRU: stored z, r, h, Keras 2's order") {
    const strata::GRU<T> gru(units, strata::GRUOptions().reset_after(false));
    const auto groups = gru.legacy_weight_groups(inputs, keras1);
    REQUIRE(groups.size() == 1);
    REQUIRE(groups[0].weights.size() == 9);
    CHECK(groups[0].weights[3].name == "W_r");
    CHECK(groups[0].weights[8].name == "b_h");
    const Weights<T> stored = per_gate_arrays<T>(3, features, units);
    const Weights<T> w = gru.convert_legacy_weights(stored, keras1);
    REQUIRE(w.size() == 3);
    CHECK(test::to_vector(w[0]) == concat_last_axis(stored, {0, 3, 6}));
    CHECK(test::to_vector(w[1]) == concat_last_axis(stored, {1, 4, 7}));
    CHECK(test::to_vector(w[2]) == concat_last_axis(stored, {2, 5, 8}));
    // reset_after=true has a (2, 3u) bias, which Keras 1 never wrote.
    const strata::GRU<T> after(units, strata::GRUOptions().reset_after(true));
    CHECK(after.legacy_weight_groups(inputs, keras1).empty());
    CHECK(has(test::thrown_message<strata::value_error>([&] { (void)after.convert_legacy_weights(stored, keras1); }),
              "Keras 1 stored no such layer"));
  }

  SECTION("SimpleRNN: W, U, b is already Keras 2's layout") {
    const strata::SimpleRNN<T> rnn(units);
    CHECK(rnn.legacy_weight_groups(inputs, keras1).empty());
    const Weights<T> stored{AnyTensor<T>(test::random_tensor<T, 2>(features, units)),
                            AnyTensor<T>(test::random_tensor<T, 2>(units, units)),
                            AnyTensor<T>(test::random_tensor<T, 1>(units))};
    const Weights<T> w = rnn.convert_legacy_weights(stored, keras1);
    REQUIRE(w.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) CHECK(test::to_vector(w[i]) == test::to_vector(stored[i]));
  }

  SECTION("wrong arrays: a shape_error naming the layer, the weight and both shapes") {
    const strata::LSTM<T> lstm(units, strata::LSTMOptions().name("lstm_1"));
    Weights<T> eleven = per_gate_arrays<T>(4, features, units);
    eleven.pop_back();
    const std::string count =
        test::thrown_message<strata::shape_error>([&] { (void)lstm.convert_legacy_weights(eleven, keras1); });
    CHECK(has(count, "strata::LSTM 'lstm_1'"));
    CHECK(has(count, "12 weight arrays; got 11"));

    Weights<T> transposed = per_gate_arrays<T>(4, features, units);
    transposed[3] = AnyTensor<T>(test::random_tensor<T, 2>(units, features));  // W_c
    const std::string shape =
        test::thrown_message<strata::shape_error>([&] { (void)lstm.convert_legacy_weights(transposed, keras1); });
    CHECK(has(shape, "strata::LSTM 'lstm_1'"));
    CHECK(has(shape, "weight 3 (W_c) must have shape (3, 4); got (4, 3)"));
  }
}

TEMPLATE_TEST_CASE("Keras 1 weights through the wrappers and AnyLayer: TimeDistributed(LSTM), Bidirectional(GRU)",
                   "[keras1][time_distributed][bidirectional]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();
  const Index units = 2;

  // TimeDistributed(LSTM) on (batch, outer, time, features): the LSTM sees (batch*outer, time, features).
  strata::Config inner = strata::Config::dict();
  inner.set("class_name", "LSTM");
  inner.set("config", keras1_rnn_config("lstm_1", units));
  strata::Config td = strata::Config::dict();
  td.set("name", "td");
  td.set("layer", inner);
  const strata::LayerConfig<T> td_config(registry, "TimeDistributed", td, keras1, "test");
  const AnyLayer<T> td_layer = registry.build(td_config);
  const std::vector<Shape> td_inputs{Shape{2, 4, 5, 3}};
  const auto td_groups = td_layer.legacy_weight_groups(td_inputs, keras1);
  REQUIRE(td_groups.size() == 1);
  CHECK(td_groups[0].path == "layer/cell");
  REQUIRE(td_groups[0].weights.size() == 12);
  CHECK(td_groups[0].weights[0].shape == (Shape{3, units}));
  const Weights<T> stored = per_gate_arrays<T>(4, 3, units);
  const Weights<T> w = td_layer.convert_legacy_weights(stored, keras1);
  REQUIRE(w.size() == 3);
  CHECK(test::to_vector(w[0]) == concat_last_axis(stored, {0, 6, 3, 9}));
  CHECK(td_layer.legacy_weight_groups(td_inputs, KerasVersion::parse("2.2.4")).empty());

  // Bidirectional(GRU): the forward layer's nine arrays, then the backward layer's.
  strata::Config gru = strata::Config::dict();
  gru.set("class_name", "GRU");
  gru.set("config", keras1_rnn_config("gru_1", units));
  strata::Config bidi = strata::Config::dict();
  bidi.set("name", "bidi");
  bidi.set("layer", gru);
  bidi.set("merge_mode", "concat");
  const strata::LayerConfig<T> bidi_config(registry, "Bidirectional", bidi, keras1, "test");
  const AnyLayer<T> bidi_layer = registry.build(bidi_config);
  const std::vector<Shape> inputs{Shape{2, 5, 3}};
  const auto groups = bidi_layer.legacy_weight_groups(inputs, keras1);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].path == "forward_layer/cell");
  CHECK(groups[1].path == "backward_layer/cell");
  Weights<T> both = per_gate_arrays<T>(3, 3, units);
  const Weights<T> backward = per_gate_arrays<T>(3, 3, units);
  both.insert(both.end(), backward.begin(), backward.end());
  const Weights<T> converted = bidi_layer.convert_legacy_weights(both, keras1);
  REQUIRE(converted.size() == 6);
  CHECK(test::to_vector(converted[0]) == concat_last_axis(both, {0, 3, 6}));
  CHECK(test::to_vector(converted[3]) == concat_last_axis(both, {9, 12, 15}));
  CHECK(test::to_vector(converted[5]) == concat_last_axis(both, {11, 14, 17}));
}

TEMPLATE_TEST_CASE("Keras 1 config names: output_dim, inner_activation, bias, p", "[keras1][config]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();

  const strata::Config lstm_cfg = keras1_rnn_config("lstm_1", 6);
  const strata::LayerConfig<T> lstm_config(registry, "LSTM", lstm_cfg, keras1, "test");
  CHECK(std::string(lstm_config.spelling("units", "output_dim")) == "output_dim");
  const strata::LSTM<T> lstm = strata::LSTM<T>::from_config(lstm_config);
  CHECK(lstm.units() == 6);
  // Keras 1's hard_sigmoid is clip(0.2x + 0.5).
  CHECK(lstm.recurrent_activation() == strata::Activation::hard_sigmoid_keras2);
  CHECK(lstm.return_sequences());
  CHECK(lstm.use_bias());

  // inner_activation missing: Keras 1's default, hard_sigmoid; GRU without reset_after: false.
  strata::Config gru_cfg = keras1_rnn_config("gru_1", 5);
  gru_cfg.set("inner_activation", nullptr);
  const strata::LayerConfig<T> gru_config(registry, "GRU", gru_cfg, keras1, "test");
  const strata::GRU<T> gru = strata::GRU<T>::from_config(gru_config);
  CHECK(gru.units() == 5);
  CHECK(gru.recurrent_activation() == strata::Activation::hard_sigmoid_keras2);
  CHECK_FALSE(gru.reset_after());

  strata::Config dense_cfg = strata::Config::dict();
  dense_cfg.set("name", "dense_1");
  dense_cfg.set("output_dim", 7);
  dense_cfg.set("init", "glorot_uniform");
  dense_cfg.set("activation", "relu");
  dense_cfg.set("bias", false);
  dense_cfg.set("input_dim", 3);
  const strata::LayerConfig<T> dense_config(registry, "Dense", dense_cfg, keras1, "test");
  const strata::Dense<T> dense = strata::Dense<T>::from_config(dense_config);
  CHECK(dense.units() == 7);
  CHECK_FALSE(dense.use_bias());
  CHECK(dense.activation() == strata::Activation::relu);

  // The same config read as a Keras 2 file: Keras 2's names, so 'units' is missing.
  const strata::LayerConfig<T> dense_k2(registry, "Dense", dense_cfg, KerasVersion::parse("2.2.4"), "test");
  CHECK(std::string(dense_k2.spelling("units", "output_dim")) == "units");
  const std::string missing =
      load_error_message<strata::io_error>([&] { (void)strata::Dense<T>::from_config(dense_k2); });
  CHECK(has(missing, "layer 'dense_1' (Dense)"));
  CHECK(has(missing, "the config has no 'units'"));
  // And a Keras 2 spelling in a Keras 1 file is not read either.
  strata::Config k2_in_k1 = strata::Config::dict();
  k2_in_k1.set("name", "d");
  k2_in_k1.set("units", 3);
  const strata::LayerConfig<T> k2_in_k1_config(registry, "Dense", k2_in_k1, keras1, "test");
  CHECK(has(load_error_message<strata::io_error>([&] { (void)strata::Dense<T>::from_config(k2_in_k1_config); }),
            "the config has no 'output_dim'"));

  strata::Config dropout_cfg = strata::Config::dict();
  dropout_cfg.set("name", "dropout_1");
  dropout_cfg.set("p", 0.25);
  const strata::LayerConfig<T> dropout_config(registry, "Dropout", dropout_cfg, keras1, "test");
  CHECK(strata::Dropout<T>::from_config(dropout_config).rate() == 0.25);
  dropout_cfg.set("p", 1.5);
  const strata::LayerConfig<T> bad_dropout(registry, "Dropout", dropout_cfg, keras1, "test");
  CHECK(has(load_error_message<strata::model_error>([&] { (void)strata::Dropout<T>::from_config(bad_dropout); }),
            "rate must be in [0, 1]; got 1.5"));

  CHECK(keras1.keras1());
  CHECK_FALSE(KerasVersion::parse("2.0.0").keras1());
  CHECK_FALSE(KerasVersion::parse("tfjs-layers 1.2.2").keras1());
}

namespace {

// A Keras 1 layer config with a name, and the registry's layer built from it.
template <class T>
AnyLayer<T> build_keras1(const strata::Registry<T>& registry, const char* class_name, const strata::Config& cfg,
                         const KerasVersion& version = keras1) {
  const strata::LayerConfig<T> config(registry, class_name, cfg, version, "test");
  return registry.build(config);
}

// The output shape of a convolution built from a Keras 1 config, once built for the input's channels.
template <class T>
Shape conv_output(const strata::Registry<T>& registry, const char* class_name, const strata::Config& cfg,
                  const Shape& input, const KerasVersion& version = keras1) {
  AnyLayer<T> layer = build_keras1(registry, class_name, cfg, version);
  layer.build(input.back());
  return layer.output_shapes({input})[0];
}

// A Keras 1.2.2 2-D convolution's config, as Convolution2D, Deconvolution2D and
// SeparableConvolution2D write it: a (3, 2) kernel.
strata::Config keras1_conv_config(const char* name, Index nb_filter, const char* activation, const char* border,
                                  Index stride_rows, Index stride_cols, bool bias) {
  strata::Config c = strata::Config::dict();
  c.set("name", name);
  c.set("nb_filter", nb_filter);
  c.set("nb_row", 3);
  c.set("nb_col", 2);
  c.set("init", "glorot_uniform");
  c.set("activation", activation);
  c.set("border_mode", border);
  c.set("subsample", strata::Config::List{strata::Config(stride_rows), strata::Config(stride_cols)});
  c.set("dim_ordering", "tf");
  c.set("bias", bias);
  return c;
}

strata::Config keras1_conv2d_config() { return keras1_conv_config("convolution2d_1", 4, "relu", "valid", 2, 1, false); }

// What the layer read from a keras1_conv_config of 4 filters, relu, strides (2, 1) and no bias.
template <class Layer>
void check_keras1_conv_options(const Layer& layer, const char* padding) {
  CHECK(layer.filters() == 4);
  CHECK(layer.kernel_size()[0] == 3);
  CHECK(layer.kernel_size()[1] == 2);
  CHECK(layer.strides()[0] == 2);
  CHECK(layer.strides()[1] == 1);
  CHECK(layer.padding() == padding);
  CHECK(layer.activation() == strata::Activation::relu);
  CHECK_FALSE(layer.use_bias());
}

}  // namespace

TEMPLATE_TEST_CASE("Keras 1 convolution configs: nb_filter, nb_row/nb_col, subsample, atrous_rate, border_mode",
                   "[keras1][conv][config]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();

  strata::Config c2 = keras1_conv2d_config();
  const strata::LayerConfig<T> conv2d_config(registry, "Convolution2D", c2, keras1, "test");
  const strata::Conv2D<T> conv2d = strata::Conv2D<T>::from_config(conv2d_config);
  check_keras1_conv_options(conv2d, "valid");
  // The registry knows Keras 1's class names.
  CHECK(conv_output(registry, "Convolution2D", c2, Shape{1, 9, 5, 3}) == (Shape{1, 4, 4, 4}));

  strata::Config atrous = strata::Config::dict();
  atrous.set("name", "atrousconvolution1d_1");
  atrous.set("nb_filter", 2);
  atrous.set("filter_length", 3);
  atrous.set("border_mode", "same");
  atrous.set("subsample_length", 1);
  atrous.set("atrous_rate", 2);
  atrous.set("bias", true);
  const strata::LayerConfig<T> atrous_config(registry, "AtrousConvolution1D", atrous, keras1, "test");
  const strata::Conv1D<T> conv1d = strata::Conv1D<T>::from_config(atrous_config);
  CHECK(conv1d.dilation_rate()[0] == 2);
  CHECK(conv1d.padding() == "same");
  CHECK(conv_output(registry, "AtrousConvolution1D", atrous, Shape{1, 7, 3}) == (Shape{1, 7, 2}));

  strata::Config c3 = strata::Config::dict();
  c3.set("name", "convolution3d_1");
  c3.set("nb_filter", 2);
  c3.set("kernel_dim1", 1);
  c3.set("kernel_dim2", 2);
  c3.set("kernel_dim3", 3);
  c3.set("dim_ordering", "tf");
  CHECK(conv_output(registry, "Convolution3D", c3, Shape{1, 4, 4, 4, 2}) == (Shape{1, 4, 3, 2, 2}));

  // Refused: channels first, Theano's 'full' border mode.
  c2.set("dim_ordering", "th");
  const std::string th =
      load_error_message<strata::unsupported_error>([&] { (void)build_keras1(registry, "Convolution2D", c2); });
  CHECK(has(th, "layer 'convolution2d_1' (Convolution2D)"));
  CHECK(has(th, "dim_ordering 'th' is not supported"));
  c2.set("dim_ordering", "tf");
  c2.set("border_mode", "full");
  CHECK(has(load_error_message<strata::unsupported_error>([&] { (void)build_keras1(registry, "Convolution2D", c2); }),
            "border_mode 'full' is not supported"));
}

TEMPLATE_TEST_CASE("Theano-backend files: flipped kernels, and the 'same' paddings Theano computed otherwise",
                   "[keras1][conv][theano]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();
  const KerasVersion theano = keras1_with("theano");
  const KerasVersion tensorflow = keras1_with("tensorflow");

  SECTION("Convolution2D: the kernel flipped back on both spatial axes; TensorFlow's is Keras 2's") {
    const strata::Conv2D<T> conv(2, {3, 2}, strata::ConvOptions<2>().name("c"));
    const std::vector<Shape> inputs{Shape{1, 6, 5, 3}};
    CHECK(conv.legacy_weight_groups(inputs, tensorflow).empty());
    CHECK(conv.legacy_weight_groups(inputs, KerasVersion::parse("2.15.0")).empty());
    const auto groups = conv.legacy_weight_groups(inputs, theano);
    REQUIRE(groups.size() == 1);
    REQUIRE(groups[0].weights.size() == 2);
    CHECK(groups[0].weights[0].shape == (Shape{3, 2, 3, 2}));
    const Weights<T> stored{AnyTensor<T>(test::random_tensor<T, 4>(3, 2, 3, 2)),
                            AnyTensor<T>(test::random_tensor<T, 1>(2))};
    const Weights<T> w = conv.convert_legacy_weights(stored, theano);
    REQUIRE(w.size() == 2);
    REQUIRE(w[0].shape() == (Shape{3, 2, 3, 2}));
    // convert_kernel: w[r][c][i][o] = stored[2 - r][1 - c][i][o].
    const T* a = stored[0].data();
    const T* b = w[0].data();
    bool flipped = true;
    for (Index r = 0; r < 3; ++r)
      for (Index c = 0; c < 2; ++c)
        for (Index k = 0; k < 6; ++k) flipped = flipped && b[(r * 2 + c) * 6 + k] == a[((2 - r) * 2 + (1 - c)) * 6 + k];
    CHECK(flipped);
    CHECK(test::to_vector(w[1]) == test::to_vector(stored[1]));
    // A Keras 2 file that records the Theano backend is converted too (Keras 2 does).
    KerasVersion k2 = KerasVersion::parse("2.2.4");
    k2.backend = "theano";
    CHECK(test::to_vector(conv.convert_legacy_weights(stored, k2)[0]) == test::to_vector(w[0]));
  }

  SECTION("Convolution1D: Keras 1's (filter_length, 1, input_dim, nb_filter), flipped along time for Theano") {
    const strata::Conv1D<T> conv(2, {3}, strata::ConvOptions<1>().use_bias(false).name("c1"));
    const std::vector<Shape> inputs{Shape{1, 6, 4}};
    const auto groups = conv.legacy_weight_groups(inputs, tensorflow);
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].weights[0].shape == (Shape{3, 1, 4, 2}));
    const Weights<T> stored{AnyTensor<T>(test::random_tensor<T, 4>(3, 1, 4, 2))};
    const Weights<T> tf = conv.convert_legacy_weights(stored, tensorflow);
    REQUIRE(tf[0].shape() == (Shape{3, 4, 2}));
    CHECK(test::to_vector(tf[0]) == test::to_vector(stored[0]));
    const Weights<T> th = conv.convert_legacy_weights(stored, theano);
    const std::vector<T> s = test::to_vector(stored[0]);
    std::vector<T> want;
    for (Index t = 2; t >= 0; --t) want.insert(want.end(), s.begin() + t * 8, s.begin() + (t + 1) * 8);
    CHECK(test::to_vector(th[0]) == want);
    const Weights<T> wrong{AnyTensor<T>(test::random_tensor<T, 4>(2, 4, 3, 1))};
    CHECK(has(test::thrown_message<strata::shape_error>([&] { (void)conv.convert_legacy_weights(wrong, keras1); }),
              "(filter_length, 1, input_dim, nb_filter); got (2, 4, 3, 1)"));
  }

  SECTION("'same' padding: loaded for stride 1 and odd spans, refused otherwise") {
    strata::Config c = keras1_conv2d_config();
    c.set("border_mode", "same");
    c.set("subsample", strata::Config::List{strata::Config(1), strata::Config(1)});
    c.set("nb_col", 3);
    CHECK(conv_output(registry, "Convolution2D", c, Shape{1, 5, 5, 2}, theano) == (Shape{1, 5, 5, 4}));
    c.set("nb_col", 2);  // even
    const std::string even = load_error_message<strata::unsupported_error>(
        [&] { (void)build_keras1(registry, "Convolution2D", c, theano); });
    CHECK(has(even, "layer 'convolution2d_1' (Convolution2D)"));
    CHECK(has(even, "Theano-backend file"));
    (void)build_keras1(registry, "Convolution2D", c, tensorflow);  // TensorFlow's rule: loads
    c.set("nb_col", 3);
    c.set("subsample", strata::Config::List{strata::Config(2), strata::Config(1)});
    CHECK(has(load_error_message<strata::unsupported_error>(
                  [&] { (void)build_keras1(registry, "Convolution2D", c, theano); }),
              "a stride above 1"));

    strata::Config pool = strata::Config::dict();
    pool.set("name", "maxpooling1d_1");
    pool.set("pool_length", 2);
    pool.set("stride", nullptr);
    pool.set("border_mode", "same");
    CHECK(has(load_error_message<strata::unsupported_error>(
                  [&] { (void)build_keras1(registry, "MaxPooling1D", pool, theano); }),
              "'same' padding is not supported for a Theano-backend file"));
    CHECK(build_keras1(registry, "MaxPooling1D", pool, tensorflow).output_shapes({Shape{1, 5, 2}})[0] ==
          (Shape{1, 3, 2}));
  }
}

TEMPLATE_TEST_CASE("Keras 1 pooling, padding and upsampling names", "[keras1][pooling][config]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();

  strata::Config pool = strata::Config::dict();
  pool.set("name", "maxpooling1d_1");
  pool.set("pool_length", 3);
  pool.set("stride", 2);
  pool.set("border_mode", "valid");
  CHECK(build_keras1(registry, "MaxPooling1D", pool).output_shapes({Shape{1, 8, 2}})[0] == (Shape{1, 3, 2}));

  strata::Config avg = strata::Config::dict();
  avg.set("name", "averagepooling2d_1");
  avg.set("pool_size", strata::Config::List{strata::Config(2), strata::Config(2)});
  avg.set("strides", nullptr);
  avg.set("border_mode", "valid");
  avg.set("dim_ordering", "th");  // channels first: (batch, channels, rows, cols)
  CHECK(build_keras1(registry, "AveragePooling2D", avg).output_shapes({Shape{1, 3, 4, 6}})[0] == (Shape{1, 3, 2, 3}));
  avg.set("dim_ordering", "xy");
  CHECK(has(load_error_message<strata::model_error>([&] { (void)build_keras1(registry, "AveragePooling2D", avg); }),
            "dim_ordering must be 'tf' or 'th'; got 'xy'"));

  // ZeroPadding2D: (top, bottom, left, right), or a dict of the sides (missing ones 0).
  strata::Config pad = strata::Config::dict();
  pad.set("name", "zeropadding2d_1");
  pad.set("padding", strata::Config::List{strata::Config(1), strata::Config(2), strata::Config(3), strata::Config(0)});
  pad.set("dim_ordering", "tf");
  CHECK(build_keras1(registry, "ZeroPadding2D", pad).output_shapes({Shape{1, 4, 4, 2}})[0] == (Shape{1, 7, 7, 2}));
  strata::Config sides = strata::Config::dict();
  sides.set("top_pad", 2);
  sides.set("right_pad", 1);
  pad.set("padding", sides);
  CHECK(build_keras1(registry, "ZeroPadding2D", pad).output_shapes({Shape{1, 4, 4, 2}})[0] == (Shape{1, 6, 5, 2}));
  sides.set("middle_pad", 1);
  pad.set("padding", sides);
  CHECK(has(load_error_message<strata::io_error>([&] { (void)build_keras1(registry, "ZeroPadding2D", pad); }),
            "option 'padding' must be"));
  strata::Config pad1 = strata::Config::dict();
  pad1.set("name", "zeropadding1d_1");
  strata::Config lr = strata::Config::dict();
  lr.set("left_pad", 3);
  pad1.set("padding", lr);
  CHECK(build_keras1(registry, "ZeroPadding1D", pad1).output_shapes({Shape{1, 4, 2}})[0] == (Shape{1, 7, 2}));

  strata::Config up = strata::Config::dict();
  up.set("name", "upsampling1d_1");
  up.set("length", 3);
  CHECK(build_keras1(registry, "UpSampling1D", up).output_shapes({Shape{1, 4, 2}})[0] == (Shape{1, 12, 2}));
}

TEMPLATE_TEST_CASE("Keras 1 Merge: each mode is Keras 2's merge layer, and the cos and Python modes are refused",
                   "[keras1][merge]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();
  const auto merge = [](const char* mode) {
    strata::Config c = strata::Config::dict();
    c.set("name", "merge_1");
    c.set("mode", mode);
    c.set("mode_type", "raw");
    c.set("concat_axis", 1);
    c.set("dot_axes", strata::Config::List{strata::Config(2), strata::Config(2)});
    c.set("output_shape", nullptr);
    c.set("arguments", strata::Config::dict());
    return c;
  };
  const std::vector<Shape> same{Shape{2, 3, 4}, Shape{2, 3, 4}};
  const std::pair<const char*, const char*> classes[] = {
      {"sum", "Add"},     {"mul", "Multiply"},       {"ave", "Average"},
      {"max", "Maximum"}, {"concat", "Concatenate"}, {"dot", "Dot"}};
  for (const auto& [mode, cls] : classes) {
    const AnyLayer<T> layer = build_keras1(registry, "Merge", merge(mode));
    CHECK(std::string(layer.keras_class_name()) == cls);
  }
  CHECK(build_keras1(registry, "Merge", merge("concat")).output_shapes(same)[0] == (Shape{2, 6, 4}));
  CHECK(build_keras1(registry, "Merge", merge("dot")).output_shapes(same)[0] == (Shape{2, 3, 3}));
  const std::string cos =
      load_error_message<strata::unsupported_error>([&] { (void)build_keras1(registry, "Merge", merge("cos")); });
  CHECK(has(cos, "layer 'merge_1' (Merge)"));
  CHECK(has(cos, "mode 'cos' is not supported"));
  strata::Config lambda = merge("sum");
  lambda.set("mode_type", "lambda");
  CHECK(has(load_error_message<strata::unsupported_error>([&] { (void)build_keras1(registry, "Merge", lambda); }),
            "a mode given as a Python function"));
  CHECK(has(load_error_message<strata::model_error>([&] { (void)build_keras1(registry, "Merge", merge("min")); }),
            "unknown mode 'min'"));
  strata::Config bad_axes = merge("dot");
  bad_axes.set("dot_axes", strata::Config::List{strata::Config(0), strata::Config(1)});
  CHECK(has(load_error_message<strata::model_error>([&] { (void)build_keras1(registry, "Merge", bad_axes); }),
            "must not include 0"));
}

namespace {

strata::Config keras1_convlstm_config(Index rows, Index cols, const char* border) {
  strata::Config c = strata::Config::dict();
  c.set("name", "convlstm2d_1");
  c.set("return_sequences", true);
  c.set("go_backwards", false);
  c.set("stateful", false);
  c.set("nb_filter", 3);
  c.set("nb_row", rows);
  c.set("nb_col", cols);
  c.set("init", "glorot_uniform");
  c.set("inner_init", "orthogonal");
  c.set("forget_bias_init", "one");
  c.set("activation", "tanh");
  c.set("dim_ordering", "tf");
  c.set("border_mode", border);
  c.set("inner_activation", "hard_sigmoid");
  c.set("subsample", strata::Config::List{strata::Config(1), strata::Config(1)});
  c.set("dropout_W", 0.0);
  c.set("dropout_U", 0.0);
  return c;
}

// The flip of every spatial axis of a row-major (k..., in, out) kernel: the taps in reverse order.
template <class T>
std::vector<T> reverse_taps(const std::vector<T>& k, Index block) {
  std::vector<T> out;
  const Index taps = static_cast<Index>(k.size()) / block;
  for (Index t = taps - 1; t >= 0; --t) out.insert(out.end(), k.begin() + t * block, k.begin() + (t + 1) * block);
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("Keras 1 ConvLSTM2D: config names, twelve per-gate kernels, Theano's flipped kernels",
                   "[keras1][conv_lstm]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();
  const strata::Config cfg = keras1_convlstm_config(3, 2, "same");
  const strata::LayerConfig<T> config(registry, "ConvLSTM2D", cfg, keras1, "test");
  const strata::ConvLSTM2D<T> layer = strata::ConvLSTM2D<T>::from_config(config);
  CHECK(layer.filters() == 3);
  CHECK(layer.kernel_size()[0] == 3);
  CHECK(layer.kernel_size()[1] == 2);
  CHECK(layer.padding() == "same");
  CHECK(layer.return_sequences());
  CHECK(layer.use_bias());
  CHECK(layer.recurrent_activation() == strata::Activation::hard_sigmoid_keras2);

  const std::vector<Shape> inputs{Shape{1, 2, 5, 4, 2}};
  const auto groups = layer.legacy_weight_groups(inputs, keras1);
  check_keras1_lstm_gates(groups);
  CHECK(groups[0].weights[0].shape == (Shape{3, 2, 2, 3}));
  CHECK(groups[0].weights[1].shape == (Shape{3, 2, 3, 3}));
  CHECK(groups[0].weights[2].shape == (Shape{3}));
  CHECK(layer.legacy_weight_groups(inputs, KerasVersion::parse("2.2.4")).empty());

  Weights<T> stored;
  for (int g = 0; g < 4; ++g) {
    stored.emplace_back(test::random_tensor<T, 4>(3, 2, 2, 3));
    stored.emplace_back(test::random_tensor<T, 4>(3, 2, 3, 3));
    stored.emplace_back(test::random_tensor<T, 1>(3));
  }
  // Keras 2's preprocess_weights_for_loading: kernel = [0, 6, 3, 9], recurrent [1, 7, 4, 10], bias [2, 8, 5, 11].
  const Weights<T> w = layer.convert_legacy_weights(stored, keras1);
  REQUIRE(w.size() == 3);
  CHECK(w[0].shape() == (Shape{3, 2, 2, 12}));
  CHECK(w[1].shape() == (Shape{3, 2, 3, 12}));
  CHECK(test::to_vector(w[0]) == concat_last_axis(stored, {0, 6, 3, 9}));
  CHECK(test::to_vector(w[1]) == concat_last_axis(stored, {1, 7, 4, 10}));
  CHECK(test::to_vector(w[2]) == concat_last_axis(stored, {2, 8, 5, 11}));
  // Theano: convert_kernel on both kernels (every spatial axis reversed: the taps in reverse order).
  const Weights<T> th = layer.convert_legacy_weights(stored, keras1_with("theano"));
  CHECK(test::to_vector(th[0]) == reverse_taps(concat_last_axis(stored, {0, 6, 3, 9}), 2 * 12));
  CHECK(test::to_vector(th[1]) == reverse_taps(concat_last_axis(stored, {1, 7, 4, 10}), 3 * 12));
  CHECK(test::to_vector(th[2]) == test::to_vector(w[2]));
  // The converted weights load: the layer built from the Keras 1 config runs on them.
  strata::ConvLSTM2D<T> loaded = strata::ConvLSTM2D<T>::from_config(config);
  loaded.set_weights(w);
  CHECK(loaded.compute_output_shape(inputs[0]) == (Shape{1, 2, 5, 4, 3}));

  Weights<T> wrong = stored;
  wrong[4] = AnyTensor<T>(test::random_tensor<T, 4>(2, 3, 3, 3));  // U_c transposed
  const std::string shape =
      test::thrown_message<strata::shape_error>([&] { (void)layer.convert_legacy_weights(wrong, keras1); });
  CHECK(has(shape, "weight 4 (U_c) must have shape (3, 2, 3, 3); got (2, 3, 3, 3)"));
  wrong.pop_back();
  CHECK(has(test::thrown_message<strata::shape_error>([&] { (void)layer.convert_legacy_weights(wrong, keras1); }),
            "12 weight arrays; got 11"));

  // Refused: channels first; a Theano file's even kernel (the recurrent convolution is always "same").
  strata::Config th_order = cfg;
  th_order.set("dim_ordering", "th");
  CHECK(
      has(load_error_message<strata::unsupported_error>([&] { (void)build_keras1(registry, "ConvLSTM2D", th_order); }),
          "dim_ordering 'th' is not supported"));
  const std::string even = load_error_message<strata::unsupported_error>(
      [&] { (void)build_keras1(registry, "ConvLSTM2D", cfg, keras1_with("theano")); });
  CHECK(has(even, "layer 'convlstm2d_1' (ConvLSTM2D)"));
  CHECK(has(even, "Theano-backend file's ConvLSTM2D with an even kernel size"));
  (void)build_keras1(registry, "ConvLSTM2D", keras1_convlstm_config(3, 3, "valid"), keras1_with("theano"));
}

namespace {

strata::Config keras1_deconv_config(const char* border, Index stride, Index rows, Index cols) {
  strata::Config c = keras1_conv_config("deconvolution2d_1", 2, "linear", border, stride, stride, true);
  c.set("output_shape",
        strata::Config::List{strata::Config(nullptr), strata::Config(rows), strata::Config(cols), strata::Config(2)});
  return c;
}

}  // namespace

TEMPLATE_TEST_CASE("Keras 1 Deconvolution2D: output_shape decides the output size and the kernel's last axes swapped",
                   "[keras1][conv_transpose]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();
  const Shape input{2, 4, 3, 5};

  SECTION("each output size TensorFlow accepts is Keras 2's output_padding, computed alike") {
    // valid, stride 2, kernel (3, 2): rows (4 - 1) 2 + 3 + p, p in {0, 1}; cols (3 - 1) 2 + 2 + p.
    // same: rows (4 - 1) 2 + 1 + p (odd kernel), cols (3 - 1) 2 + p, p >= 1 (even kernel; p = 2 = stride too).
    struct Case {
      const char* border;
      Index rows, cols;
      Index pad_rows, pad_cols;  // Keras 2's output_padding for the same size; -1: none expresses it
    };
    const Case cases[] = {{"valid", 9, 6, 0, 0}, {"valid", 10, 7, 1, 1}, {"same", 7, 5, 0, 1}, {"same", 8, 6, 1, -1}};
    for (const Case& c : cases) {
      const strata::Config cfg = keras1_deconv_config(c.border, 2, c.rows, c.cols);
      const strata::LayerConfig<T> config(registry, "Deconvolution2D", cfg, keras1, "test");
      strata::Conv2DTranspose<T> k1 = strata::Conv2DTranspose<T>::from_config(config);
      k1.build(5);
      CHECK(k1.compute_output_shape(input) == (Shape{2, c.rows, c.cols, 2}));
      if (c.pad_cols < 0) continue;
      strata::Conv2DTranspose<T> k2(
          2, {3, 2},
          strata::Conv2DTransposeOptions().strides(2).padding(c.border).output_padding({c.pad_rows, c.pad_cols}));
      k2.set_weights(k1.get_weights());
      const strata::Tensor<T, 4> x = test::random_tensor<T, 4>(2, 4, 3, 5);
      CHECK(test::to_vector(k1(x)) == test::to_vector(k2(x)));
    }
  }

  SECTION("an input the output_shape cannot come from is a shape_error") {
    const strata::Config cfg = keras1_deconv_config("valid", 2, 9, 6);
    const strata::LayerConfig<T> config(registry, "Deconvolution2D", cfg, keras1, "test");
    strata::Conv2DTranspose<T> layer = strata::Conv2DTranspose<T>::from_config(config);
    layer.build(5);
    const std::string msg = test::thrown_message<strata::shape_error>([&] {
      (void)layer.compute_output_shape(Shape{2, 5, 3, 5});
    });
    CHECK(has(msg, "strata::Conv2DTranspose 'deconvolution2d_1'"));
    CHECK(has(msg, "Keras 1's output_shape gives spatial axis 1 the size 9"));
    CHECK(has(msg, "input of size 5"));
  }

  SECTION("weights: Keras 1's (rows, cols, input channels, nb_filter) -> Keras 2's (rows, cols, filters, channels)") {
    const strata::Config cfg = keras1_deconv_config("same", 1, 4, 3);
    const strata::LayerConfig<T> config(registry, "Deconvolution2D", cfg, keras1, "test");
    const strata::Conv2DTranspose<T> layer = strata::Conv2DTranspose<T>::from_config(config);
    const auto groups = layer.legacy_weight_groups({input}, keras1);
    REQUIRE(groups.size() == 1);
    CHECK(groups[0].weights[0].shape == (Shape{3, 2, 5, 2}));
    CHECK(groups[0].weights[1].shape == (Shape{2}));
    CHECK(layer.legacy_weight_groups({input}, KerasVersion::parse("2.2.4")).empty());
    const Weights<T> stored{AnyTensor<T>(test::random_tensor<T, 4>(3, 2, 5, 2)),
                            AnyTensor<T>(test::random_tensor<T, 1>(2))};
    const Weights<T> w = layer.convert_legacy_weights(stored, keras1);
    REQUIRE(w[0].shape() == (Shape{3, 2, 2, 5}));
    const T* a = stored[0].data();
    const T* b = w[0].data();
    bool swapped = true;
    for (Index t = 0; t < 6; ++t)
      for (Index i = 0; i < 5; ++i)
        for (Index o = 0; o < 2; ++o) swapped = swapped && b[(t * 2 + o) * 5 + i] == a[(t * 5 + i) * 2 + o];
    CHECK(swapped);
    CHECK(test::to_vector(w[1]) == test::to_vector(stored[1]));
  }

  SECTION("refused: channels first, 'full', a Theano file, an output_shape of other filters") {
    strata::Config c = keras1_deconv_config("valid", 2, 9, 6);
    c.set("dim_ordering", "th");
    CHECK(
        has(load_error_message<strata::unsupported_error>([&] { (void)build_keras1(registry, "Deconvolution2D", c); }),
            "dim_ordering 'th' is not supported"));
    c.set("dim_ordering", "tf");
    c.set("border_mode", "full");
    CHECK(
        has(load_error_message<strata::unsupported_error>([&] { (void)build_keras1(registry, "Deconvolution2D", c); }),
            "border_mode 'full' is not supported"));
    CHECK(has(load_error_message<strata::unsupported_error>([&] {
                (void)build_keras1(registry, "Deconvolution2D", keras1_deconv_config("valid", 2, 9, 6),
                                   keras1_with("theano"));
              }),
              "Theano-backend file's transposed convolution is not supported"));
    strata::Config filters = keras1_deconv_config("valid", 2, 9, 6);
    filters.set("output_shape",
                strata::Config::List{strata::Config(nullptr), strata::Config(9), strata::Config(6), strata::Config(3)});
    CHECK(
        has(load_error_message<strata::model_error>([&] { (void)build_keras1(registry, "Deconvolution2D", filters); }),
            "option 'output_shape' must be (batch, rows, cols, nb_filter=2)"));
  }
}

TEMPLATE_TEST_CASE("Keras 1 SeparableConvolution2D: nb_filter, nb_row/nb_col, depth_multiplier, subsample, bias",
                   "[keras1][separable_conv]", float, double) {
  using T = TestType;
  const strata::Registry<T> registry = keras1_registry<T>();
  strata::Config c = keras1_conv_config("separableconvolution2d_1", 4, "relu", "same", 2, 1, false);
  c.set("depth_multiplier", 3);
  const strata::LayerConfig<T> config(registry, "SeparableConvolution2D", c, keras1, "test");
  const strata::SeparableConv2D<T> layer = strata::SeparableConv2D<T>::from_config(config);
  check_keras1_conv_options(layer, "same");
  CHECK(layer.depth_multiplier() == 3);
  CHECK(conv_output(registry, "SeparableConvolution2D", c, Shape{1, 5, 4, 2}) == (Shape{1, 3, 4, 4}));
  c.set("dim_ordering", "th");
  CHECK(has(
      load_error_message<strata::unsupported_error>([&] { (void)build_keras1(registry, "SeparableConvolution2D", c); }),
      "dim_ordering 'th' is not supported"));
}
