// SPDX-License-Identifier: MIT
// Real-time audio with a recurrent Keras model: reads a mono WAV file, runs a model loaded from a
// .keras file (LSTM(16, return_sequences) -> Dense(1, tanh)) on it one sample at a time, as an
// audio callback would, writes the processed WAV, and prints the real-time factor at 48 kHz.
//
//   stream_audio --make-wav IN.wav            writes a 1 s, 48 kHz test signal (16-bit PCM)
//   stream_audio IN.wav OUT.wav [MODEL.keras]
//
// Keras' equivalent is the same model built with stateful=True and fed one step per call
// (model.predict(x[:, t:t+1])). strata::Model::stream() does that without allocating: the stream
// keeps the LSTM's state between steps and starts from zeros, as Keras does after reset_states().
// The example checks itself and exits non-zero when
// - the streamed output is not bitwise the output of one model.predict on the whole signal, or
// - the written WAV does not read back as the streamed output rounded to 16 bits.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <strata/io.hpp>
#include <string>
#include <vector>

namespace {

// ---- A minimal WAV reader and writer: RIFF/WAVE, mono, 16-bit PCM or 32-bit float. ----

std::uint32_t read_u32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint16_t read_u16(const unsigned char* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned>(p[0]) | static_cast<unsigned>(p[1]) << 8);
}
void put_u32(std::vector<unsigned char>& out, std::uint32_t v) {
  for (int k = 0; k < 4; ++k) out.push_back(static_cast<unsigned char>(v >> (8 * k)));
}
void put_u16(std::vector<unsigned char>& out, std::uint16_t v) {
  out.push_back(static_cast<unsigned char>(v));
  out.push_back(static_cast<unsigned char>(v >> 8));
}

struct Audio {
  std::uint32_t sample_rate = 48000;
  std::vector<float> samples;  // in [-1, 1]
};

Audio read_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 || std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    throw std::runtime_error(path + ": not a RIFF/WAVE file");
  }
  Audio audio;
  std::uint16_t format = 0, channels = 0, bits = 0;
  for (std::size_t at = 12; at + 8 <= bytes.size();) {
    const std::uint32_t size = read_u32(bytes.data() + at + 4);
    const unsigned char* body = bytes.data() + at + 8;
    if (size > bytes.size() - at - 8) throw std::runtime_error(path + ": a chunk runs past the end of the file");
    if (std::memcmp(bytes.data() + at, "fmt ", 4) == 0 && size >= 16) {
      format = read_u16(body);
      channels = read_u16(body + 2);
      audio.sample_rate = read_u32(body + 4);
      bits = read_u16(body + 14);
    } else if (std::memcmp(bytes.data() + at, "data", 4) == 0) {
      if (channels != 1) throw std::runtime_error(path + ": the example reads mono files only");
      if (format == 1 && bits == 16) {
        for (std::uint32_t i = 0; i + 1 < size; i += 2) {
          audio.samples.push_back(static_cast<float>(static_cast<std::int16_t>(read_u16(body + i))) / 32768.0f);
        }
      } else if (format == 3 && bits == 32) {
        for (std::uint32_t i = 0; i + 3 < size; i += 4) {
          const std::uint32_t u = read_u32(body + i);
          float f;
          std::memcpy(&f, &u, sizeof f);
          audio.samples.push_back(f);
        }
      } else {
        throw std::runtime_error(path + ": the example reads 16-bit PCM or 32-bit float samples only");
      }
      return audio;
    }
    at += 8 + size + (size & 1);  // chunks are padded to an even size
  }
  throw std::runtime_error(path + ": no fmt and data chunks");
}

std::int16_t to_pcm16(float x) {
  const float clipped = std::min(1.0f, std::max(-1.0f, x));
  return static_cast<std::int16_t>(std::lround(clipped * 32767.0f));
}

void write_wav16(const std::string& path, const Audio& audio) {
  std::vector<unsigned char> out;
  const auto data_size = static_cast<std::uint32_t>(2 * audio.samples.size());
  out.insert(out.end(), {'R', 'I', 'F', 'F'});
  put_u32(out, 36 + data_size);
  out.insert(out.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
  put_u32(out, 16);
  put_u16(out, 1);  // PCM
  put_u16(out, 1);  // mono
  put_u32(out, audio.sample_rate);
  put_u32(out, 2 * audio.sample_rate);  // bytes per second
  put_u16(out, 2);                      // bytes per frame
  put_u16(out, 16);
  out.insert(out.end(), {'d', 'a', 't', 'a'});
  put_u32(out, data_size);
  for (float x : audio.samples) put_u16(out, static_cast<std::uint16_t>(to_pcm16(x)));
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
  if (!file) throw std::runtime_error("cannot write " + path);
}

// The test signal: a 220 Hz tone with a 3 kHz overtone and a slow tremolo, 1 s at 48 kHz.
Audio test_signal() {
  Audio audio;
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < 48000; ++i) {
    const double t = i / 48000.0;
    const double tremolo = 0.6 + 0.3 * std::sin(2 * pi * 3 * t);
    audio.samples.push_back(
        static_cast<float>(tremolo * (0.8 * std::sin(2 * pi * 220 * t) + 0.2 * std::sin(2 * pi * 3000 * t))));
  }
  return audio;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "--make-wav") {
      write_wav16(argv[2], test_signal());
      std::cout << "wrote " << argv[2] << "\n";
      return 0;
    }
    if (argc < 3) {
      std::cerr << "usage: stream_audio --make-wav IN.wav | stream_audio IN.wav OUT.wav [MODEL.keras]\n";
      return 2;
    }
    const std::string model_path = argc > 3 ? argv[3] : STRATA_EXAMPLE_MODEL;
    const Audio input = read_wav(argv[1]);
    const auto n = static_cast<strata::Index>(input.samples.size());
    if (n == 0) throw std::runtime_error(std::string(argv[1]) + " holds no samples");

    strata::Model<float> model = strata::load_model<float>(model_path);
    std::cout << model.summary();

    // Sample by sample, as an audio callback: stream.step takes x[:, t] = (batch 1, 1 channel) and
    // returns y[:, t]. Nothing allocates inside the loop.
    strata::ModelStream<float> stream = model.stream();
    Audio output;
    output.sample_rate = input.sample_rate;
    output.samples.resize(input.samples.size());
    const auto start = std::chrono::steady_clock::now();
    for (strata::Index t = 0; t < n; ++t) {
      const strata::TensorView<float> x(&input.samples[static_cast<std::size_t>(t)], strata::Shape{1, 1});
      output.samples[static_cast<std::size_t>(t)] = stream.step(x).data()[0];
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write_wav16(argv[2], output);

    // Check 1: the stream equals one call on the whole signal, bit for bit.
    const strata::AnyTensor<float> whole =
        model.predict(strata::AnyTensor<float>::from_values(strata::Shape{1, n, 1}, input.samples));
    if (whole.size() != n ||
        std::memcmp(whole.data(), output.samples.data(), sizeof(float) * input.samples.size()) != 0) {
      std::cerr << "FAILED: the streamed output differs from model.predict on the whole signal\n";
      return 1;
    }
    // Check 2: the written file reads back as the streamed output rounded to 16 bits.
    const Audio back = read_wav(argv[2]);
    if (back.samples.size() != output.samples.size()) {
      std::cerr << "FAILED: " << argv[2] << " holds " << back.samples.size() << " samples, not " << n << "\n";
      return 1;
    }
    for (std::size_t i = 0; i < back.samples.size(); ++i) {
      if (back.samples[i] != static_cast<float>(to_pcm16(output.samples[i])) / 32768.0f) {
        std::cerr << "FAILED: sample " << i << " of " << argv[2] << " does not read back\n";
        return 1;
      }
    }

    const double per_sample = seconds / static_cast<double>(n);
    std::cout << "streamed " << n << " samples (" << static_cast<double>(n) / input.sample_rate << " s of audio at "
              << input.sample_rate << " Hz) in " << seconds * 1e3 << " ms: " << per_sample * 1e9
              << " ns per sample; real-time factor at 48 kHz: " << per_sample * 48000.0 << " (1 = just in time; "
              << 1.0 / (per_sample * 48000.0) << "x faster than real time)\n"
              << "the stream equals model.predict on the whole signal bit for bit; wrote " << argv[2] << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
