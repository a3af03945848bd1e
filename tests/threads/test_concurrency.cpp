// SPDX-License-Identifier: MIT
// strata's rule: a call that changes state (a stateful RNN) is not const, and every const call is
// safe to run concurrently. Here four std::threads call ONE shared layer or model through const
// calls, many times each, each thread on its own input, and every result must be bitwise the one a
// single-threaded call gave before the threads started (so a thread reading another's data, or a
// layer's scratch memory shared between calls, shows). CI also builds this program with
// ThreadSanitizer (STRATA_SANITIZE_THREAD, without OpenMP), where any data race fails the run.
//
// Catch2's assertions are not thread-safe: the threads only count mismatches, and the main thread
// checks the counts after joining them. The streaming classes (strata/streaming.hpp) hold the state
// of one sequence and are not shareable, so they are not here.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <exception>
#include <strata/io.hpp>
#include <strata/strata.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/catch.hpp"
#include "support/util.hpp"

namespace {

using strata::AnyTensor;
using strata::Bidirectional;
using strata::BidirectionalOptions;
using strata::Dense;
using strata::DenseOptions;
using strata::Embedding;
using strata::EmbeddingOptions;
using strata::GRU;
using strata::GRUOptions;
using strata::Index;
using strata::LSTM;
using strata::LSTMOptions;
using strata::Mask;
using strata::Masking;
using strata::Model;
using strata::SimpleRNN;
using strata::SimpleRNNOptions;
using strata::Tensor;
using strata::TimeDistributed;

constexpr int thread_count = 4;
// Calls per thread. ThreadSanitizer reports two unsynchronised accesses to one address as soon as
// they are not ordered by any synchronisation (it keeps a history of earlier accesses), so a few
// hundred overlapping calls of each object would do; a thousand give the bitwise checks of the
// other builds more chances to catch a torn result, and keep the program within seconds under TSan.
// Unoptimised (the -O0 ASan + UBSan build) a tenth, which takes as long there.
#if defined(__OPTIMIZE__)
constexpr int default_calls = 1000;
#else
constexpr int default_calls = 100;
#endif

const std::string reference_dir = STRATA_REFERENCE_DIR;

/// The bytes of a result: for each tensor its element count and its elements' bytes. Two results
/// are equal only when every element has the same bits.
class Bits {
 public:
  template <class X>
  Bits& add(const X& x) {
    const Index n = x.size();
    bytes_.append(reinterpret_cast<const char*>(&n), sizeof n);
    bytes_.append(reinterpret_cast<const char*>(x.data()), static_cast<std::size_t>(n) * sizeof(*x.data()));
    return *this;
  }
  template <class X>
  Bits& add_all(const std::vector<X>& xs) {
    for (const X& x : xs) add(x);
    return *this;
  }
  bool operator==(const Bits& other) const {
    return bytes_.size() == other.bytes_.size() && std::memcmp(bytes_.data(), other.bytes_.data(), bytes_.size()) == 0;
  }
  bool operator!=(const Bits& other) const { return !(*this == other); }

 private:
  std::string bytes_;
};

/// Calls call(t) `calls` times on each of thread_count threads, started together;
/// call returns true when its result is the expected one. Returns the mismatches of each thread;
/// an exception thrown in a thread is rethrown here.
template <class Call>
std::array<int, thread_count> run_concurrently(int calls, const Call& call) {
  std::atomic<int> ready{0};
  std::array<int, thread_count> mismatches{};
  std::array<std::exception_ptr, thread_count> errors{};
  std::vector<std::thread> threads;
  threads.reserve(thread_count);
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      try {
        ready.fetch_add(1);
        while (ready.load() < thread_count) std::this_thread::yield();
        for (int i = 0; i < calls; ++i) {
          if (!call(t)) ++mismatches[static_cast<std::size_t>(t)];
        }
      } catch (...) {
        errors[static_cast<std::size_t>(t)] = std::current_exception();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return mismatches;
}

/// The test: compute(t) -- thread t's call on the shared object, as Bits -- runs once per thread
/// on this thread first; then the threads run it concurrently and each result must equal thread
/// t's expected bits. The threads' inputs differ, and so must their results (else cross-talk
/// between threads could not show).
template <class Compute>
void check_concurrent(const Compute& compute, int calls = default_calls) {
  std::vector<Bits> expected;
  for (int t = 0; t < thread_count; ++t) expected.push_back(compute(t));
  for (int t = 1; t < thread_count; ++t) REQUIRE(expected[static_cast<std::size_t>(t)] != expected[0]);
  const auto mismatches =
      run_concurrently(calls, [&](int t) { return compute(t) == expected[static_cast<std::size_t>(t)]; });
  for (int t = 0; t < thread_count; ++t) {
    INFO("thread " << t << ": " << mismatches[static_cast<std::size_t>(t)] << " of " << calls
                   << " results differ from the single-threaded one");
    CHECK(mismatches[static_cast<std::size_t>(t)] == 0);
  }
}

/// thread_count random tensors of one shape (drawn here, on the main thread: test::rng() is not
/// thread-safe).
template <class T, int Rank, class... Dims>
std::vector<Tensor<T, Rank>> per_thread(Dims... dims) {
  std::vector<Tensor<T, Rank>> xs;
  for (int t = 0; t < thread_count; ++t) xs.push_back(test::random_tensor<T, Rank>(dims...));
  return xs;
}

/// Sets whole time steps of x (batch, time, features) to 0 -- Masking(0) masks them -- a different
/// pattern for each t.
template <class T>
void zero_steps(Tensor<T, 3>& x, int t) {
  for (Index b = 0; b < x.dimension(0); ++b) {
    for (Index s = 0; s < x.dimension(1); ++s) {
      if ((b + s + t) % 3 == 0 && (s + t) % 2 == 0) {
        for (Index f = 0; f < x.dimension(2); ++f) x(b, s, f) = T(0);
      }
    }
  }
}

/// (batch, time) masks, a different pattern for each thread, each sample keeping its first step.
std::vector<Mask> per_thread_masks(Index batch, Index steps) {
  std::vector<Mask> masks;
  for (int t = 0; t < thread_count; ++t) {
    Mask m(batch, steps);
    for (Index b = 0; b < batch; ++b) {
      for (Index s = 0; s < steps; ++s) m(b, s) = s == 0 || (b * 7 + s * 3 + t) % 4 != 0;
    }
    masks.push_back(std::move(m));
  }
  return masks;
}

}  // namespace

TEST_CASE("Dense: one const layer, four threads", "[threads]") {
  const Dense<float> dense(16, DenseOptions().input_dim(12).activation("tanh").seed(1));
  const auto x2 = per_thread<float, 2>(8, 12);
  const auto x3 = per_thread<float, 3>(3, 5, 12);
  check_concurrent([&](int t) {
    const auto i = static_cast<std::size_t>(t);
    return Bits().add(dense(x2[i])).add(dense(x3[i])).add(dense(AnyTensor<float>(x3[i])));
  });
}

TEST_CASE("LSTM: one const layer (return_sequences, final states, masks), four threads", "[threads]") {
  const LSTM<float> lstm(8, LSTMOptions().input_dim(6).return_sequences(true).seed(2));
  const auto x = per_thread<float, 3>(3, 10, 6);
  const auto masks = per_thread_masks(3, 10);
  check_concurrent([&](int t) {
    const auto i = static_cast<std::size_t>(t);
    const auto r = lstm.call(x[i]);
    const auto masked = lstm.call(x[i], masks[i]);
    return Bits().add(r.output).add(r.h).add(r.c).add(masked.output).add(masked.h).add(masked.c).add(lstm(x[i]));
  });
}

TEST_CASE("GRU and SimpleRNN: const layers (initial states, masks, go_backwards), four threads", "[threads]") {
  const GRU<double> gru(6, GRUOptions().input_dim(4).seed(3));
  const GRU<double> gru_before(6, GRUOptions().input_dim(4).reset_after(false).return_sequences(true).seed(4));
  const SimpleRNN<float> rnn(5, SimpleRNNOptions().input_dim(4).return_sequences(true).go_backwards(true).seed(5));
  const auto xd = per_thread<double, 3>(3, 9, 4);
  const auto xf = per_thread<float, 3>(3, 9, 4);
  const auto masks = per_thread_masks(3, 9);
  const auto h0 = per_thread<double, 2>(3, 6);
  check_concurrent([&](int t) {
    const auto i = static_cast<std::size_t>(t);
    const auto r = gru.call(xd[i], h0[i]);
    return Bits()
        .add(gru(xd[i]))
        .add(r.output)
        .add(r.h)
        .add(gru_before(xd[i], masks[i]))
        .add(rnn(xf[i]))
        .add(rnn(xf[i], masks[i]));
  });
}

TEST_CASE("Bidirectional: one const Bidirectional LSTM with masks, four threads", "[threads]") {
  const Bidirectional<LSTM<float>> bi(LSTM<float>(5, LSTMOptions().input_dim(4).return_sequences(true).seed(6)));
  const Bidirectional<LSTM<float>> last(LSTM<float>(3, LSTMOptions().input_dim(4).return_state(true).seed(7)),
                                        BidirectionalOptions().merge_mode("sum"));
  const auto x = per_thread<float, 3>(3, 8, 4);
  const auto masks = per_thread_masks(3, 8);
  check_concurrent([&](int t) {
    const auto i = static_cast<std::size_t>(t);
    return Bits().add(bi(x[i], masks[i])).add(bi(x[i])).add_all(last.outputs(x[i], nullptr, nullptr, &masks[i]));
  });
}

TEST_CASE("TimeDistributed: one const TimeDistributed Dense, four threads", "[threads]") {
  const TimeDistributed<Dense<float>> td(Dense<float>(7, DenseOptions().input_dim(5).activation("relu").seed(8)));
  const auto x3 = per_thread<float, 3>(3, 6, 5);
  const auto x4 = per_thread<float, 4>(2, 3, 4, 5);
  check_concurrent([&](int t) {
    const auto i = static_cast<std::size_t>(t);
    return Bits().add(td(x3[i])).add(td(x4[i]));
  });
}

TEST_CASE("Embedding and Masking: const layers and the masks they make, fed to a const LSTM, four threads",
          "[threads]") {
  const Embedding<float> embedding(10, 4, EmbeddingOptions().mask_zero(true).seed(9));
  const Masking<float> masking(0.0f);
  const LSTM<float> lstm(3, LSTMOptions().input_dim(4).return_sequences(true).seed(10));
  std::vector<Eigen::Tensor<int, 2, Eigen::RowMajor, Index>> ids;
  for (int t = 0; t < thread_count; ++t) {
    Eigen::Tensor<int, 2, Eigen::RowMajor, Index> id(3, 7);
    for (Index k = 0; k < id.size(); ++k) id.data()[k] = static_cast<int>((k * 7 + t * 3) % 10);
    ids.push_back(std::move(id));
  }
  auto x = per_thread<float, 3>(3, 7, 4);
  for (int t = 0; t < thread_count; ++t) zero_steps(x[static_cast<std::size_t>(t)], t);
  check_concurrent([&](int t) {
    const auto i = static_cast<std::size_t>(t);
    const Tensor<float, 3> e = embedding(ids[i]);
    const Mask e_mask = *embedding.compute_mask(ids[i]);
    const Tensor<float, 3> m = masking(x[i]);
    const Mask m_mask = masking.compute_mask(x[i]);
    return Bits().add(e).add(e_mask).add(lstm(e, e_mask)).add(m).add(m_mask).add(lstm(m, m_mask));
  });
}

TEST_CASE("Model: one const model assembled in C++ (branches, masks, several outputs), four threads",
          "[threads][model]") {
  Model<float> model("graph");
  const auto x = model.add_input("x", {-1, 8, 6});
  const auto m = model.add(Masking<float>(0.0f), x);
  const auto h = model.add(LSTM<float>(8, LSTMOptions().input_dim(6).return_sequences(true).seed(11)), m);
  const auto b =
      model.add(Bidirectional<GRU<float>>(GRU<float>(4, GRUOptions().input_dim(8).return_sequences(true).seed(12))), h);
  const auto y = model.add(
      TimeDistributed<Dense<float>>(Dense<float>(3, DenseOptions().input_dim(8).activation("tanh").seed(13))), b);
  const auto r = model.add(SimpleRNN<float>(5, SimpleRNNOptions().input_dim(6).seed(14)), m);
  const auto d = model.add(Dense<float>(2, DenseOptions().input_dim(5).seed(15)), r);
  model.set_outputs({y, d, r});
  (void)model.node_output_shapes();  // checks the graph's shapes and masks
  const Model<float>& shared = model;

  auto inputs = per_thread<float, 3>(3, 8, 6);
  for (int t = 0; t < thread_count; ++t) zero_steps(inputs[static_cast<std::size_t>(t)], t);
  check_concurrent([&](int t) {
    const std::vector<strata::TensorView<float>> in{strata::TensorView<float>(inputs[static_cast<std::size_t>(t)])};
    return Bits().add_all(shared.predict(in));
  });
}

TEST_CASE("Model: const models from load_model (TF.js fixtures, masks), four threads", "[threads][model][io]") {
  for (const char* name : {"seed_model/seed_lstm5_td_dense", "masking/masking_dense_lstm_seq",
                           "masking/masking_bidi_lstm_seq", "masking/masking_td_dense_gru_seq"}) {
    INFO(name);
    const Model<float> model = strata::load_model<float>(reference_dir + "/" + name + "/model.json");
    REQUIRE(model.input_count() == 1);
    const strata::DeclaredShape declared = model.input_shapes()[0];
    REQUIRE(declared.size() == 3);
    std::vector<Tensor<float, 3>> inputs;
    for (int t = 0; t < thread_count; ++t) {
      inputs.push_back(test::random_tensor<float, 3>(3, declared[1], declared[2]));
      zero_steps(inputs.back(), t);
    }
    check_concurrent([&](int t) {
      const Tensor<float, 3>& input = inputs[static_cast<std::size_t>(t)];
      const strata::ConstTensorMap<float, 3> view(input.data(), input.dimension(0), input.dimension(1),
                                                  input.dimension(2));
      return Bits().add(model.predict(input)).add(model.predict(view));
    });
  }
}

#if defined(_OPENMP)
TEST_CASE("OpenMP: const layers whose calls run OpenMP threads of their own, four threads", "[threads][openmp]") {
  // Large enough that LSTM and Dense split their rows between two OpenMP threads
  // (rows_worth_a_thread): four callers, each with a team of its own; fewer calls, as each is
  // larger. (Not in the ThreadSanitizer build, which has no OpenMP.)
  struct ThreadCount {
    ThreadCount() { strata::set_num_threads(2); }
    ~ThreadCount() { strata::set_num_threads(1); }
  } two_threads;
  const LSTM<float> lstm(32, LSTMOptions().input_dim(32).return_sequences(true).seed(16));
  const TimeDistributed<Dense<float>> td(Dense<float>(64, DenseOptions().input_dim(32).seed(17)));
  const auto x = per_thread<float, 3>(16, 16, 32);
  const auto masks = per_thread_masks(16, 16);
  check_concurrent(
      [&](int t) {
        const auto i = static_cast<std::size_t>(t);
        const Tensor<float, 3> h = lstm(x[i]);
        return Bits().add(h).add(td(h)).add(lstm(x[i], masks[i]));
      },
      default_calls / 10);
}
#endif

TEST_CASE("Model: the const predict refuses a stateful model, the non-const one runs it", "[threads][stateful]") {
  Model<float> model("stateful", "Sequential");
  model.set_outputs({model.add(LSTM<float>(4, LSTMOptions().input_dim(3).stateful(true).seed(18).name("lstm")),
                               model.add_input("x", {2, 5, 3}))});
  const Model<float>& const_model = model;
  const Tensor<float, 3> x = test::random_tensor<float, 3>(2, 5, 3);
  CHECK_THROWS_AS(const_model.predict(x), strata::value_error);
  CHECK_THROWS_WITH(const_model.predict(x), Catch::Contains("stateful") && Catch::Contains("non-const"));
  CHECK_FALSE(model.layer<LSTM<float>>("lstm").has_states());  // the refused calls changed nothing
  const Bits first = Bits().add(model.predict(x));
  CHECK(model.layer<LSTM<float>>("lstm").has_states());
  const Bits second = Bits().add(model.predict(x));  // continues from the stored state
  CHECK(first != second);
  model.reset_states();
  CHECK(Bits().add(model.predict(x)) == first);
  // A const stateful layer cannot be called either.
  const LSTM<float> const_lstm(4, LSTMOptions().input_dim(3).stateful(true).seed(18));
  CHECK_THROWS_AS(const_lstm(x), strata::value_error);

  // The same for a stateful model from a file.
  Model<float> loaded = strata::load_model<float>(reference_dir + "/lstm_stateful/stateful_seq_rec_sigmoid/model.json");
  const Model<float>& const_loaded = loaded;
  const Tensor<float, 3> input = test::random_tensor<float, 3>(2, 7, 6);
  CHECK_THROWS_AS(const_loaded.predict(input), strata::value_error);
  const Bits once = Bits().add(loaded.predict(input));
  CHECK(Bits().add(loaded.predict(input)) != once);
}
