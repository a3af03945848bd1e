// SPDX-License-Identifier: MIT
// A Keras model that uses a layer class of your own: write the layer in C++, register it, load.
//
// tests/io/fixtures/keras/custom_scale.keras was saved by Keras 3 from
//
//     @keras.saving.register_keras_serializable(package="strata_example")
//     class Scale(keras.layers.Layer):                  # y = x * gamma, gamma learned
//         def __init__(self, axis=-1, **kwargs):
//             super().__init__(**kwargs)
//             self.axis = axis
//         def build(self, input_shape):
//             self.gamma = self.add_weight(shape=(input_shape[self.axis],), initializer="ones", name="gamma")
//         def call(self, x):
//             return x * self.gamma
//         def get_config(self):
//             return {**super().get_config(), "axis": self.axis}
//
//     model = keras.Sequential([keras.Input((6, 4)), keras.layers.Dense(5, activation="relu"), Scale(),
//                               keras.layers.Dense(2)])
//
// The file holds no Python code: only the layer's config, {"class_name": "Scale", "registered_name":
// "strata_example>Scale", "config": {"name": "scale", ..., "axis": -1}}, and its weight gamma. So
// strata needs a C++ implementation of the class, registered under that name before loading. This
// program writes one (Scale<T> below), shows that loading fails without it, registers it, loads
// the model, checks the prediction against the outputs numpy computed for the same weights, and
// streams the model one time step at a time (Model::stream, through Scale's make_step).
//
//   custom_layer [MODEL.keras EXPECTED.json]
//
// Exits non-zero when a check fails. docs/custom-layers.md explains every part.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <iostream>
#include <sstream>
#include <strata/io.hpp>  // strata::load_model, strata::register_layer (strata/registry.hpp)
#include <string>
#include <utility>
#include <vector>

/// Keras `Scale(axis)`: y = x * gamma, gamma (one value per position on `axis`) broadcast over the
/// other axes. Weights, as Keras' get_weights(): [gamma (features,)].
template <class T>
class Scale {
 public:
  // --- The layer concept: what strata::Model and AnyLayer call.
  using Scalar = T;
  /// The Keras class name: summary() shows it, and register_layer<Scale>() without a name uses it.
  static constexpr const char* class_name = "Scale";

  explicit Scale(int axis = -1, std::string name = "scale") : axis_(axis), name_(std::move(name)) {}

  int axis() const { return axis_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return "Scale '" + name_ + "'"; }

  /// Keras build(): gamma starts as ones (the loader then sets the trained values).
  void build(strata::Index features) { gamma_.assign(static_cast<std::size_t>(features), T(1)); }
  bool built() const { return !gamma_.empty(); }
  strata::Weights<T> get_weights() const {
    return {strata::AnyTensor<T>::from_values(strata::Shape{count_params()}, gamma_)};
  }
  void set_weights(const strata::Weights<T>& weights) {
    if (weights.size() != 1 || weights[0].rank() != 1) {
      throw strata::shape_error(describe() + ": set_weights expects one array, gamma (features,)");
    }
    gamma_.assign(weights[0].data(), weights[0].data() + weights[0].size());
  }
  strata::Index count_params() const { return static_cast<strata::Index>(gamma_.size()); }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  /// The output has the input's shape; inputs of rank < 2 are refused.
  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : strata::invalid_rank; }
  strata::Shape compute_output_shape(const strata::Shape& input) const {
    const int a = axis_in(input);
    if (input[a] != count_params()) {
      throw strata::shape_error(describe() + ": axis " + std::to_string(axis_) + " of input " + input.to_string() +
                                " must have " + std::to_string(count_params()) + " values (gamma's size)");
    }
    return input;
  }
  /// y = x * gamma on raw row-major memory; `output` may be `input` (in place).
  void forward(const T* input, const strata::Shape& input_shape, T* output, strata::Index output_size) const {
    if (compute_output_shape(input_shape).size() != output_size) {
      throw strata::shape_error(describe() + ": the output buffer has the wrong size");
    }
    const int a = axis_in(input_shape);
    const strata::Index n = input_shape[a];                                       // gamma's size
    const strata::Index stride = input_shape.product(a + 1, input_shape.rank());  // elements per step on axis
    for (strata::Index i = 0; i < output_size; ++i) {
      output[i] = input[i] * gamma_[static_cast<std::size_t>((i / stride) % n)];
    }
  }

  // --- The Keras description: what the registry and load_model read.
  /// Keras' Layer passes masks on only when supports_masking; Scale is element-wise, so a mask
  /// (from Masking or Embedding(mask_zero)) passes through it. Without this line it would stop here.
  static constexpr strata::MaskRule mask_rule = strata::MaskRule::pass;
  /// forward() may write over its input: a model hands it the last use of a tensor without a copy.
  static constexpr bool in_place = true;
  /// Builds the layer from its Keras config: {"name": "scale", "trainable": ..., "dtype": ..., "axis": -1}.
  static Scale from_config(const strata::LayerConfig<T>& config) {
    const strata::Index axis = config.integer_or("axis", -1, -strata::max_rank, strata::max_rank - 1);
    if (axis == 0) config.invalid("axis 0 is the batch axis; Scale needs a feature axis");
    return Scale(static_cast<int>(axis), config.name());
  }
  /// Its per-step form, for Model::stream (one time step per call): y = x * gamma on one step's
  /// values. A negative axis counts from the end, so it names the same axis at a step, unless it
  /// is the time axis (axis 1 of the whole sequence), which a step does not have.
  strata::LayerStep<T> make_step(const std::vector<strata::StepShape>& inputs) const {
    if (inputs.size() != 1) throw strata::value_error(describe() + ": takes one input");
    const strata::StepShape& in = inputs[0];
    const int whole_rank = in.shape.rank() + (in.timed ? 1 : 0);
    if (axis_ >= 0 || (in.timed && whole_rank + axis_ <= 1)) {
      throw strata::value_error(describe() + ": streams with a negative axis other than the time axis only");
    }
    return strata::forward_step(*this, in);
  }
  /// How many weights the layer owns (before it knows its input shape).
  std::size_t weight_count() const { return 1; }
  /// Its weights by name and shape for given input shapes, in get_weights() order: the loader reads
  /// them from the file (a .keras file: layers/scale/vars/0) and checks their shapes.
  std::vector<strata::WeightGroup> weight_groups(const std::vector<strata::Shape>& inputs) const {
    if (inputs.size() != 1) {
      throw strata::value_error(describe() + ": takes one input; it is given " + std::to_string(inputs.size()));
    }
    const strata::Shape& x = inputs[0];
    return {strata::WeightGroup{"", {strata::WeightSpec{"gamma", strata::Shape{x[axis_in(x)]}, ""}}}};
  }

 private:
  /// The axis as an index into `shape` (Python's negative axes count from the end).
  int axis_in(const strata::Shape& shape) const {
    const int a = axis_ < 0 ? shape.rank() + axis_ : axis_;
    if (shape.rank() < 2 || a < 1 || a >= shape.rank()) {
      throw strata::shape_error(describe() + ": axis " + std::to_string(axis_) + " does not fit input shape " +
                                shape.to_string());
    }
    return a;
  }

  int axis_;
  std::string name_;
  std::vector<T> gamma_;
};

namespace {

// A tensor of the expected-outputs file: {"shape": [...], "data": [...]}.
strata::AnyTensor<float> tensor_from(const strata::Config& j) {
  strata::Shape shape;
  for (const auto& d : j.find("shape")->as_list()) shape.push_back(static_cast<strata::Index>(d.as_integer()));
  std::vector<float> values;
  for (const auto& v : j.find("data")->as_list()) values.push_back(static_cast<float>(v.as_number()));
  return strata::AnyTensor<float>::from_values(shape, values);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model_path = argc > 2 ? argv[1] : STRATA_EXAMPLE_MODEL;
  const std::string expected_path = argc > 2 ? argv[2] : STRATA_EXAMPLE_EXPECTED;
  try {
    // 1. Nothing registered under "strata_example>Scale" or "Scale" yet: load_model refuses the
    //    file with an unsupported_error naming the class and the layer. (Every layer's class is
    //    checked before anything else, so this is the first thing a user hears about.)
    try {
      (void)strata::load_model<float>(model_path);
      std::cerr << "custom_layer: the model loaded although no Scale is registered\n";
      return 1;
    } catch (const strata::unsupported_error& e) {
      const std::string message = e.what();
      std::cout << "Before registering Scale, load_model says:\n  " << message << "\n\n";
      if (message.find("Scale") == std::string::npos || message.find("not supported") == std::string::npos) {
        std::cerr << "custom_layer: the error does not name the unknown class\n";
        return 1;
      }
    }

    // 2. Register the C++ class for float and double under the name Keras 3 wrote for it:
    //    "<package>><class>" from register_keras_serializable(package="strata_example"). Do this
    //    before loading, and not while another thread loads.
    strata::register_layer<Scale>("strata_example>Scale");

    // 3. Load, print, predict. Keras: model = keras.saving.load_model("custom_scale.keras")
    strata::Model<float> model = strata::load_model<float>(model_path);
    std::cout << model.summary();
    const Scale<float>& scale = model.layer<Scale<float>>("scale");  // the typed layer, with its weights
    std::cout << "scale: axis " << scale.axis() << ", gamma";
    const strata::AnyTensor<float> gamma = scale.get_weights()[0];
    for (strata::Index i = 0; i < gamma.size(); ++i) std::cout << " " << gamma.data()[i];
    std::cout << "\n";

    // The expected outputs are JSON; strata's own parser reads them (strata::Config).
    std::ifstream in(expected_path);
    std::stringstream text;
    text << in.rdbuf();
    const strata::Config expected = strata::io::parse_config(text.str(), expected_path);
    const strata::AnyTensor<float> x = tensor_from(expected.find("inputs")->as_list().at(0));
    const strata::AnyTensor<float> want = tensor_from(expected.find("outputs")->as_list().at(0));
    const strata::AnyTensor<float> y = model.predict(x);
    std::cout << "input " << x.shape() << " -> output " << y.shape() << "\n";

    // 4. Compare with the outputs numpy computed (tools/keras-files/make_fixtures.py).
    double worst = 0;
    for (strata::Index i = 0; i < want.size() && y.shape() == want.shape(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(y.data()[i]) - static_cast<double>(want.data()[i])));
    }
    std::cout << "largest difference from the numpy outputs: " << worst << "\n";
    if (y.shape() != want.shape() || worst > 1e-5) {
      std::cerr << "custom_layer: the prediction does not match the expected outputs\n";
      return 1;
    }

    // 5. Stream the model one time step at a time (Scale's make_step is its per-step form): each
    //    step's output is bitwise that step of the prediction.
    strata::ModelStream<float> stream = model.stream(x.shape()[0]);
    const strata::Shape step_shape = stream.input_shapes()[0].shape;  // (batch, features)
    strata::AnyTensor<float> step = strata::AnyTensor<float>::uninitialized(step_shape);
    const strata::Index batch = x.shape()[0], steps = x.shape()[1], features = x.shape()[2], units = y.shape()[2];
    bool same = true;
    for (strata::Index t = 0; t < steps; ++t) {
      for (strata::Index b = 0; b < batch; ++b) {
        std::copy_n(x.data() + (b * steps + t) * features, features, step.data() + b * features);
      }
      const strata::TensorView<float> out = stream.step(strata::TensorView<float>(step));
      for (strata::Index b = 0; b < batch; ++b) {
        same = same &&
               std::equal(out.data() + b * units, out.data() + (b + 1) * units, y.data() + (b * steps + t) * units);
      }
    }
    std::cout << "streamed " << steps << " steps: " << (same ? "bitwise the prediction" : "DIFFERENT") << "\n";
    if (!same) {
      std::cerr << "custom_layer: the stream differs from the prediction\n";
      return 1;
    }
  } catch (const strata::load_error& e) {  // a file that cannot be loaded
    std::cerr << "custom_layer: " << e.what() << "\n";
    return 1;
  } catch (const strata::error& e) {  // a bad argument to a layer or model call
    std::cerr << "custom_layer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
