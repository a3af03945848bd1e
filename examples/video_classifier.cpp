// SPDX-License-Identifier: MIT
// The seed question's example of where TimeDistributed matters: a video classifier on
// (batch, time, height, width, channels),
//
//   TimeDistributed(Conv2D(4, 3, relu)) -> TimeDistributed(MaxPooling2D(2)) -> TimeDistributed(Flatten)
//   -> LSTM(6) -> Dense(3, softmax)
//
// Conv2D mixes the height, width and channel axes of one image, so on 5-D input it must be wrapped:
// TimeDistributed applies the same Conv2D to every frame. The program shows that
//   1. TimeDistributed(Conv2D) equals Conv2D applied frame by frame, bitwise;
//   2. Conv2D alone refuses the 5-D input (a shape_error that says to wrap it);
//   3. the same model loaded from a Keras 3 .keras file (tests/io/fixtures, written from the
//      tools/keras-reference fixture video/td_conv2d_pool_flatten_lstm_dense) reproduces the outputs
//      TensorFlow.js (a port of Keras) computed, and the typed layers given its weights compute
//      exactly what the loaded model does.
//
//   video_classifier [MODEL.keras REFERENCE.json]
//
// Exits non-zero when a check fails.
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <strata/io.hpp>
#include <strata/strata.hpp>
#include <string>
#include <vector>

namespace {

// A tensor of the reference file: {"shape": [...], "data": [...]}.
strata::AnyTensor<float> tensor_from(const strata::Config& j) {
  strata::Shape shape;
  for (const auto& d : j.find("shape")->as_list()) shape.push_back(static_cast<strata::Index>(d.as_integer()));
  std::vector<float> values;
  for (const auto& v : j.find("data")->as_list()) values.push_back(static_cast<float>(v.as_number()));
  return strata::AnyTensor<float>::from_values(shape, values);
}

bool check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok: " : "FAILED: ") << what << "\n";
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string model_path = argc > 2 ? argv[1] : STRATA_EXAMPLE_MODEL;
  const std::string reference_path = argc > 2 ? argv[2] : STRATA_EXAMPLE_REFERENCE;
  bool all = true;
  try {
    constexpr strata::Index batch = 2, frames = 5, height = 8, width = 8, channels = 3;

    // The typed layers, as the Keras code writes them.
    strata::TimeDistributed<strata::Conv2D<float>> conv(
        strata::Conv2D<float>(4, 3, strata::ConvOptions<2>().activation("relu").input_dim(channels).seed(1)));
    strata::TimeDistributed<strata::MaxPooling2D<float>> pool(strata::MaxPooling2D<float>({2, 2}));
    strata::TimeDistributed<strata::Flatten<float>> flatten{strata::Flatten<float>()};
    strata::LSTM<float> lstm(6, strata::LSTMOptions().recurrent_activation("sigmoid").input_dim(3 * 3 * 4).seed(2));
    strata::Dense<float> dense(3, strata::DenseOptions().activation("softmax").input_dim(6).seed(3));

    strata::Tensor<float, 5> x(batch, frames, height, width, channels);
    x.setRandom();

    // 1. TimeDistributed(Conv2D) == Conv2D on each frame, bitwise.
    const strata::Tensor<float, 5> a = conv(x);  // (2, 5, 6, 6, 4)
    // Frame t of every clip: (batch, height, width, channels), copied out of (batch, time, ...).
    const strata::Index frame_size = height * width * channels, out_frame = a.size() / (batch * frames);
    bool same = true;
    for (strata::Index t = 0; t < frames; ++t) {
      strata::Tensor<float, 4> frame(batch, height, width, channels);
      for (strata::Index b = 0; b < batch; ++b) {
        std::memcpy(frame.data() + b * frame_size, x.data() + (b * frames + t) * frame_size,
                    sizeof(float) * static_cast<std::size_t>(frame_size));
      }
      const strata::Tensor<float, 4> one = conv.layer()(frame);  // the wrapped Conv2D alone
      for (strata::Index b = 0; b < batch; ++b) {
        same = same && one.size() == batch * out_frame &&
               std::memcmp(one.data() + b * out_frame, a.data() + (b * frames + t) * out_frame,
                           sizeof(float) * static_cast<std::size_t>(out_frame)) == 0;
      }
    }
    all &= check(same, "TimeDistributed(Conv2D) equals Conv2D applied to each of the " + std::to_string(frames) +
                           " frames, bitwise");

    // 2. Conv2D alone refuses the 5-D input.
    try {
      (void)conv.layer()(strata::AnyTensor<float>(x));
      all &= check(false, "Conv2D alone refuses 5-D input");
    } catch (const strata::shape_error& e) {
      std::cout << "Conv2D alone on " << strata::shape_of(x) << ": " << e.what() << "\n";
      all &= check(std::string(e.what()).find("TimeDistributed") != std::string::npos,
                   "Conv2D alone refuses 5-D input and says to wrap it in TimeDistributed");
    }

    // The whole classifier: one probability row per clip.
    const strata::Tensor<float, 3> features = flatten(pool(a));  // (2, 5, 36)
    const strata::Tensor<float, 2> probabilities = dense(lstm(features));
    std::cout << "clips " << strata::shape_of(x) << " -> frame features " << strata::shape_of(features)
              << " -> class probabilities " << strata::shape_of(probabilities) << "\n";
    for (strata::Index b = 0; b < batch; ++b) {
      float sum = 0;
      for (strata::Index k = 0; k < 3; ++k) sum += probabilities(b, k);
      all &= check(std::abs(sum - 1.0f) < 1e-5f, "clip " + std::to_string(b) + "'s probabilities sum to 1");
    }

    // 3. The same model from a Keras 3 .keras file.
    strata::Model<float> model = strata::load_model<float>(model_path);
    std::cout << model.summary();
    std::ifstream in(reference_path);
    std::stringstream text;
    text << in.rdbuf();
    const strata::Config reference = strata::io::parse_config(text.str(), reference_path);
    const strata::AnyTensor<float> clips = tensor_from(reference.find("inputs")->as_list().at(0));
    const strata::AnyTensor<float> want = tensor_from(reference.find("outputs")->as_list().at(0));
    const strata::AnyTensor<float> got = model.predict(clips);
    double worst = 0;
    for (strata::Index i = 0; i < want.size() && got.shape() == want.shape(); ++i) {
      worst = std::max(worst, std::abs(static_cast<double>(got.data()[i]) - static_cast<double>(want.data()[i])));
    }
    std::cout << "loaded model on " << clips.shape() << ": largest difference from the Keras (tfjs) outputs " << worst
              << "\n";
    all &= check(got.shape() == want.shape() && worst <= 1e-5, "the .keras model reproduces the Keras outputs");

    // The typed layers with the file's weights compute what the loaded model computes, bitwise.
    conv.set_weights(model.layer("time_distributed").get_weights());
    lstm.set_weights(model.layer("lstm").get_weights());
    dense.set_weights(model.layer("dense").get_weights());
    const strata::Tensor<float, 5>& typed_in = clips.get<5>();
    const strata::Tensor<float, 2> typed = dense(lstm(flatten(pool(conv(typed_in)))));
    all &= check(typed.size() == got.size() &&
                     std::memcmp(typed.data(), got.data(), sizeof(float) * static_cast<std::size_t>(got.size())) == 0,
                 "the typed layers given the file's weights equal the loaded model, bitwise");
  } catch (const strata::load_error& e) {
    std::cerr << "video_classifier: " << e.what() << "\n";
    return 1;
  } catch (const strata::error& e) {
    std::cerr << "video_classifier: " << e.what() << "\n";
    return 1;
  }
  return all ? 0 : 1;
}
