// SPDX-License-Identifier: MIT
// No heap allocation inside a time step. This program counts both ways memory can be allocated:
// operator new (replaced below) and Eigen's aligned_malloc, which tensors and aligned vectors use
// (Eigen's EIGEN_RUNTIME_NO_MALLOC check, routed to a counter through eigen_assert). It is its own
// executable, so the counting cannot disturb other tests. It checks that streaming an
// LSTM -> Dense model allocates nothing per step, at every hidden size of the W3 benchmark, and
// that streaming causal Conv1D layers (alone and the W9 benchmark's stack), GRU, SimpleRNN,
// stacks of recurrent layers with Dense and Activation heads (StackStream) and whole models
// (Model::stream) allocates nothing either.
#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace {
std::atomic<long> allocations{0};
}

// Eigen calls eigen_assert(is_malloc_allowed()) in every heap allocation it makes; while strata is
// measured, allocation is "forbidden" and each such call is counted instead of aborting.
#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(condition)                                            \
  do {                                                                     \
    if (!(condition)) allocations.fetch_add(1, std::memory_order_relaxed); \
  } while (false)

#include "support/catch.hpp"
#include "support/util.hpp"

// GCC sees malloc behind operator new and free behind operator delete, and would call the pair
// mismatched; they are this program's replacements of both.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Every replaceable form of operator new counts and takes memory from malloc (aligned_alloc for
// over-aligned types); every operator delete gives it back with free, so all pairs match.
namespace {
void* counted_malloc(std::size_t size, std::size_t alignment) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  if (alignment <= alignof(std::max_align_t)) return std::malloc(size);
  return std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
}
void* counted_new(std::size_t size, std::size_t alignment) {
  if (void* p = counted_malloc(size, alignment)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) { return counted_new(size, 0); }
void* operator new[](std::size_t size) { return counted_new(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) { return counted_new(size, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return counted_new(size, static_cast<std::size_t>(a)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size, 0); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted_malloc(size, 0); }
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_malloc(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_malloc(size, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

using strata::Dense;
using strata::DenseOptions;
using strata::Index;
using strata::LSTM;
using strata::LSTMOptions;

// Allocations made while f runs.
template <class F>
long count_allocations(F&& f) {
  const long before = allocations.load();
  Eigen::internal::set_is_malloc_allowed(false);
  f();
  Eigen::internal::set_is_malloc_allowed(true);
  return allocations.load() - before;
}

}  // namespace

TEST_CASE("no allocation: the counter sees allocations", "[allocation]") {
  // Guards against a counter that never counts (e.g. if operator new were not replaced).
  CHECK(count_allocations([] {
          std::vector<float> v(100);
          v[0] = 1;
        }) == 1);
  CHECK(count_allocations([] {
          strata::Tensor<float, 2> t(3, 4);
          t.setZero();
        }) == 1);
  CHECK(count_allocations([] {
          std::vector<float, Eigen::aligned_allocator<float>> v(9);
          v[0] = 1;
        }) == 1);
}

TEST_CASE("no allocation: streaming LSTM -> Dense allocates nothing per step", "[allocation][streaming]") {
  for (Index units : {8, 16, 32, 64, 128}) {
    INFO("hidden size " << units);
    LSTM<float> lstm(units, LSTMOptions().input_dim(1).seed(5));
    Dense<float> head(1, DenseOptions().input_dim(units).seed(6));
    strata::LSTMStream<float> stream(lstm);
    std::vector<float> y(1);
    const strata::Shape h_shape{1, units};
    float x = 0.0f;
    const long n = count_allocations([&] {
      for (int t = 0; t < 2000; ++t) {
        x = 0.9f * x + 0.1f;
        const float* h = stream.step(&x);
        head.forward(h, h_shape, y.data(), 1);
      }
    });
    CHECK(n == 0);
    CHECK(std::isfinite(y[0]));
  }
}

template <int Units>
void check_static_lstm_allocates_nothing(const char* recurrent_activation) {
  INFO(Units << " units, recurrent_activation " << recurrent_activation);
  LSTM<float> lstm(Units, LSTMOptions().recurrent_activation(recurrent_activation).input_dim(1).seed(5));
  strata::StaticLSTMStream<float, 1, Units> stream(lstm);
  float x = 0.5f;
  float sum = 0;
  const long n = count_allocations([&] {
    for (int t = 0; t < 2000; ++t) sum += stream.step(&x)[0];
  });
  CHECK(n == 0);
  CHECK(std::isfinite(sum));
}

TEST_CASE("no allocation: StaticLSTMStream allocates nothing per step", "[allocation][streaming]") {
  // The register step at 8, 16, 32 and 64 units (each packet width and several groups); the
  // product-then-gates path for 5 units and for hard_sigmoid.
  check_static_lstm_allocates_nothing<8>("sigmoid");
  check_static_lstm_allocates_nothing<16>("sigmoid");
  check_static_lstm_allocates_nothing<32>("sigmoid");
  check_static_lstm_allocates_nothing<64>("sigmoid");
  check_static_lstm_allocates_nothing<5>("sigmoid");
  check_static_lstm_allocates_nothing<32>("hard_sigmoid");
}

TEST_CASE("no allocation: Conv1DStream and Conv1DStackStream allocate nothing per step",
          "[allocation][streaming][conv]") {
  using strata::Conv1D;
  using strata::ConvOptions;
  const auto causal = [](Index channels, Index filters, Index kernel, Index dilation, const char* activation,
                         Index groups = 1) {
    return Conv1D<float>(filters, kernel,
                         ConvOptions<1>()
                             .padding("causal")
                             .dilation_rate(dilation)
                             .groups(groups)
                             .activation(activation)
                             .input_dim(channels)
                             .seed(static_cast<std::uint64_t>(dilation)));
  };
  // One layer: element-wise, softmax and sparsemax activations, groups; the raw and the checked step.
  for (const char* activation : {"relu", "softmax", "sparsemax"}) {
    INFO(activation);
    strata::Conv1DStream<float> stream(causal(6, 8, 3, 4, activation, 2), 3);
    strata::Tensor<float, 2> x(3, 6);
    float sum = 0;
    const long n = count_allocations([&] {
      for (int t = 0; t < 500; ++t) {
        x.setConstant(0.01f * static_cast<float>(t % 17));
        sum += stream.step(x.data())[0];
        sum += stream.step(x)(2, 7);
      }
      stream.reset();
    });
    CHECK(n == 0);
    CHECK(std::isfinite(sum));
  }
  // The W9 benchmark's stack: eight Conv1D(64, 3), dilations 1, 2, ..., 128, batch 1 and 2.
  std::vector<Conv1D<float>> stack;
  for (Index i = 0; i < 8; ++i) stack.push_back(causal(64, 64, 3, Index(1) << i, "relu"));
  for (Index batch : {1, 2}) {
    INFO("batch " << batch);
    strata::Conv1DStackStream<float> stream(stack, batch);
    strata::Tensor<float, 2> x(batch, 64);
    float sum = 0;
    const long n = count_allocations([&] {
      for (int t = 0; t < 600; ++t) {
        x.setConstant(0.001f * static_cast<float>(t % 29));
        sum += stream.step(x.data())[0];
        sum += stream.step(x)(batch - 1, 63);
      }
      stream.reset();
    });
    CHECK(n == 0);
    CHECK(std::isfinite(sum));
  }
}

TEST_CASE("no allocation: a model stream's step allocates nothing", "[allocation][streaming][model]") {
  using strata::Conv1D;
  using strata::ConvOptions;
  using strata::Model;
  using strata::TensorView;
  using Ref = Model<float>::TensorRef;
  // LSTM(32) -> Dense(1) (W3's model, through the graph); the WaveNet-style stack Conv1D(causal,
  // dilations 1, 2, 4) x3 -> LSTM -> TimeDistributed(Dense); a functional model with a residual
  // Add, an Activation, Dropout, a softmax head and a Concatenate of two outputs.
  Model<float> w3("w3", "Sequential");
  w3.set_outputs({w3.add(Dense<float>(1, DenseOptions().input_dim(32).seed(2)),
                         w3.add(LSTM<float>(32, LSTMOptions().return_sequences(true).input_dim(1).seed(1)),
                                w3.add_input("x", {-1, -1, 1})))});
  Model<float> stack("stack", "Sequential");
  Ref h = stack.add_input("x", {-1, -1, 2});
  for (Index d : {1, 2, 4}) {
    h = stack.add(Conv1D<float>(8, 3,
                                ConvOptions<1>()
                                    .padding("causal")
                                    .dilation_rate(d)
                                    .activation("relu")
                                    .input_dim(d == 1 ? 2 : 8)
                                    .seed(static_cast<std::uint64_t>(d))),
                  h);
  }
  h = stack.add(LSTM<float>(5, LSTMOptions().return_sequences(true).input_dim(8).seed(7)), h);
  stack.set_outputs(
      {stack.add(strata::TimeDistributed<Dense<float>>(Dense<float>(2, DenseOptions().input_dim(5).seed(8))), h)});
  Model<float> residual("residual", "Functional");
  const Ref x = residual.add_input("x", {-1, -1, 4});
  const Ref a = residual.add(Dense<float>(8, DenseOptions().input_dim(4).seed(9)), x);
  const Ref b = residual.add(LSTM<float>(8, LSTMOptions().return_sequences(true).input_dim(8).seed(10)), a);
  const Ref r = residual.add(strata::Add<float>(), std::vector<Ref>{a, b}).front();
  const Ref act = residual.add(strata::Dropout<float>(0.5), residual.add(strata::ActivationLayer<float>("relu"), r));
  const Ref y1 = residual.add(Dense<float>(3, DenseOptions().activation("softmax").input_dim(8).seed(11)), act);
  const Ref y2 = residual.add(strata::Concatenate<float>(), std::vector<Ref>{r, x}).front();
  residual.set_outputs({y1, y2});
  // A sparsemax head (its scratch row is made by Model::stream), directly and in TimeDistributed.
  Model<float> sparse("sparse", "Sequential");
  const Ref s = sparse.add(LSTM<float>(6, LSTMOptions().return_sequences(true).input_dim(3).seed(12)),
                           sparse.add_input("x", {-1, -1, 3}));
  const Ref s1 = sparse.add(Dense<float>(5, DenseOptions().activation("sparsemax").input_dim(6).seed(13)), s);
  sparse.set_outputs({sparse.add(strata::TimeDistributed<Dense<float>>(
                                     Dense<float>(4, DenseOptions().activation("sparsemax").input_dim(5).seed(14))),
                                 s1)});

  for (Model<float>* model : {&w3, &stack, &residual, &sparse}) {
    for (Index batch : {1, 3}) {
      INFO(model->name() << ", batch " << batch);
      strata::ModelStream<float> stream = model->stream(batch);
      strata::AnyTensor<float> step = strata::AnyTensor<float>::uninitialized(stream.input_shapes()[0].shape);
      const std::vector<TensorView<float>> inputs{TensorView<float>(step)};
      float sum = 0;
      const long n = count_allocations([&] {
        for (int t = 0; t < 1000; ++t) {
          std::fill(step.data(), step.data() + step.size(), 0.01f * static_cast<float>(t % 13));
          stream.step(inputs);
          for (std::size_t k = 0; k < stream.output_count(); ++k) sum += stream.output(k).data()[0];
          if (stream.output_count() == 1) {
            sum += stream.step(inputs[0]).data()[0];
            sum += stream.step(step.data())[0];
          }
        }
        stream.reset();
      });
      CHECK(n == 0);
      CHECK(std::isfinite(sum));
    }
  }
}

TEMPLATE_TEST_CASE("no allocation: GRUStream, SimpleRNNStream and LSTMStream allocate nothing per step",
                   "[allocation][streaming]", float, double) {
  using T = TestType;
  // Hidden sizes around the packet and chunk widths, batch 1 and 3, both GRU variants; the raw
  // step, the checked step, reset() and reset(state).
  for (Index units : {1, 8, 13, 32, 64}) {
    for (Index batch : {1, 3}) {
      INFO("units " << units << " batch " << batch);
      const strata::GRU<T> gru_after(units, strata::GRUOptions().input_dim(2).seed(5));
      const strata::GRU<T> gru_before(units, strata::GRUOptions().reset_after(false).input_dim(2).seed(5));
      const strata::SimpleRNN<T> rnn(units, strata::SimpleRNNOptions().input_dim(2).seed(6));
      const LSTM<T> lstm(units, LSTMOptions().input_dim(2).seed(7));
      strata::GRUStream<T> a(gru_after, batch), b(gru_before, batch);
      strata::SimpleRNNStream<T> c(rnn, batch);
      strata::LSTMStream<T> d(lstm, batch);
      strata::Tensor<T, 2> x(batch, 2);
      const strata::Tensor<T, 2> h0 = strata::Tensor<T, 2>(batch, units).setConstant(T(0.1));
      const strata::LSTMState<T> s0{h0, h0};
      T sum = 0;
      const long n = count_allocations([&] {
        for (int t = 0; t < 300; ++t) {
          x.setConstant(T(0.01) * static_cast<T>(t % 23));
          sum += a.step(x.data())[0] + b.step(x.data())[0] + c.step(x.data())[0] + d.step(x.data())[0];
          sum += a.step(x)(batch - 1, 0) + b.step(x)(0, 0) + c.step(x)(0, units - 1) + d.step(x)(0, 0);
        }
        a.reset();
        b.reset(h0);
        c.reset(h0);
        d.reset(s0);
        sum += a.step(x.data())[0] + b.step(x.data())[0] + c.step(x.data())[0] + d.step(x.data())[0];
      });
      CHECK(n == 0);
      CHECK(std::isfinite(sum));
    }
  }
}

TEST_CASE("no allocation: StaticSimpleRNNStream allocates nothing per step", "[allocation][streaming]") {
  strata::SimpleRNN<float> rnn(32, strata::SimpleRNNOptions().input_dim(1).seed(5));
  strata::StaticSimpleRNNStream<float, 1, 32> stream(rnn);
  const std::array<float, 32> h0{};
  float x = 0.5f;
  float sum = 0;
  const long n = count_allocations([&] {
    for (int t = 0; t < 2000; ++t) sum += stream.step(&x)[0];
    stream.reset();
    stream.reset(h0);
  });
  CHECK(n == 0);
  CHECK(std::isfinite(sum));
}

TEMPLATE_TEST_CASE("no allocation: StackStream allocates nothing per step", "[allocation][streaming]", float, double) {
  using T = TestType;
  using strata::ActivationLayer;
  const strata::LSTM<T> lstm(16, LSTMOptions().return_sequences(true).input_dim(3).seed(1));
  const strata::GRU<T> gru(12, strata::GRUOptions().reset_after(false).return_sequences(true).input_dim(16).seed(2));
  const strata::SimpleRNN<T> rnn(8, strata::SimpleRNNOptions().input_dim(12).seed(3));
  // Every head kind, sparsemax (whose scratch the stream makes) and softmax included; an
  // Activation on a recurrent state (a copy) and on a Dense's buffer (in place).
  const Dense<T> dense(6, DenseOptions().activation("sparsemax").input_dim(8).seed(4));
  const strata::TimeDistributed<Dense<T>> td(Dense<T>(5, DenseOptions().activation("softmax").input_dim(12).seed(5)));
  for (Index batch : {1, 3}) {
    INFO("batch " << batch);
    strata::StackStream s1(batch, lstm, gru, rnn, dense, ActivationLayer<T>("sparsemax"));
    strata::StackStream s2(batch, Dense<T>(3, DenseOptions().input_dim(4).seed(6)), lstm, gru,
                           ActivationLayer<T>("relu"), td, ActivationLayer<T>("log_softmax"));
    strata::Tensor<T, 2> x3(batch, 3), x4(batch, 4);
    T sum = 0;
    const long n = count_allocations([&] {
      for (int t = 0; t < 300; ++t) {
        x3.setConstant(T(0.02) * static_cast<T>(t % 19));
        x4.setConstant(T(0.03) * static_cast<T>(t % 7));
        sum += s1.step(x3.data())[0] + s1.step(x3)(batch - 1, 5);
        sum += s2.step(x4.data())[0] + s2.step(x4)(0, 4);
      }
      s1.reset();
      s2.reset();
    });
    CHECK(n == 0);
    CHECK(std::isfinite(sum));
  }
}

TEST_CASE("no allocation: a whole LSTM call allocates per call, not per step", "[allocation]") {
  // The batch API allocates its output and workspace once per call; the count must not grow with
  // the number of time steps.
  LSTM<float> lstm(16, LSTMOptions().input_dim(4).return_sequences(true).seed(5));
  const auto short_x = test::random_tensor<float, 3>(3, 5, 4);
  const auto long_x = test::random_tensor<float, 3>(3, 500, 4);
  const long short_count = count_allocations([&] { (void)lstm(short_x); });
  const long long_count = count_allocations([&] { (void)lstm(long_x); });
  CHECK(short_count > 0);
  CHECK(long_count == short_count);
}

TEST_CASE("no allocation per step: a whole-sequence RNN call allocates the same for 5 and 200 steps",
          "[allocation][recurrent]") {
  // The recurrence allocates its scratch before the time loop; a count that grew with the number
  // of steps would mean an allocation inside it. Masked and unmasked paths, every RNN layer.
  const auto run = [](const auto& layer, Index steps, bool masked) {
    strata::Tensor<float, 3> x(3, steps, 4);
    test::fill_uniform(x.data(), x.size());
    strata::Mask mask(3, steps);
    mask.setConstant(true);
    mask(1, 0) = false;
    const strata::Shape shape{3, steps, 4};
    std::vector<float> y(static_cast<std::size_t>(layer.compute_output_shape(shape).size()));
    return count_allocations(
        [&] { layer.forward(x.data(), shape, y.data(), static_cast<Index>(y.size()), masked ? &mask : nullptr); });
  };
  const LSTM<float> lstm(16, LSTMOptions().input_dim(4).seed(1).return_sequences(true));
  const strata::GRU<float> gru(16, strata::GRUOptions().input_dim(4).seed(2).return_sequences(true));
  const strata::GRU<float> gru_v1(16, strata::GRUOptions().input_dim(4).seed(3).reset_after(false));
  const strata::SimpleRNN<float> rnn(16, strata::SimpleRNNOptions().input_dim(4).seed(4).return_sequences(true));
  for (bool masked : {false, true}) {
    INFO("masked " << masked);
    CHECK(run(lstm, 5, masked) == run(lstm, 200, masked));
    CHECK(run(gru, 5, masked) == run(gru, 200, masked));
    CHECK(run(gru_v1, 5, masked) == run(gru_v1, 200, masked));
    CHECK(run(rnn, 5, masked) == run(rnn, 200, masked));
    CHECK(run(gru, 5, masked) > 0);  // the counter does see the scratch allocations
  }
}

TEST_CASE("no allocation: normalization layers' forward allocates nothing, in place or not",
          "[allocation][normalization]") {
  // One pass over memory without temporaries: the axes are resolved into inline storage and the
  // statistics kept in registers, whatever the axis layout (last axes, a middle axis, scattered).
  using strata::Shape;
  const Shape shape{3, 4, 5, 6};
  strata::Tensor<float, 4> x = test::random_tensor<float, 4>(3, 4, 5, 6);
  strata::Tensor<float, 4> y(3, 4, 5, 6);
  strata::BatchNormalization<float> bn_last, bn_middle(strata::BatchNormalizationOptions().axis(1)),
      bn_list(strata::BatchNormalizationOptions().axis({1, 3}));
  strata::LayerNormalization<float> ln_last, ln_axes(strata::LayerNormalizationOptions().axis({1, 3}));
  strata::GroupNormalization<float> gn(strata::GroupNormalizationOptions().groups(3));
  strata::UnitNormalization<float> unit(strata::UnitNormalizationOptions().axis({1, 2}));
  strata::RMSNormalization<float> rms(strata::RMSNormalizationOptions().axis({-2, -1}));
  for (auto* l : {&bn_last, &bn_middle, &bn_list}) l->build(shape);
  for (auto* l : {&ln_last, &ln_axes}) l->build(shape);
  gn.build(shape);
  rms.build(shape);
  const auto run = [&](const auto& layer) {
    return count_allocations([&] {
      layer.forward(x.data(), shape, y.data(), y.size());
      layer.forward(y.data(), shape, y.data(), y.size());
    });
  };
  CHECK(run(bn_last) == 0);
  CHECK(run(bn_middle) == 0);
  CHECK(run(bn_list) == 0);
  CHECK(run(ln_last) == 0);
  CHECK(run(ln_axes) == 0);
  CHECK(run(gn) == 0);
  CHECK(run(unit) == 0);
  CHECK(run(rms) == 0);
}

TEMPLATE_TEST_CASE("no allocation: MultiHeadAttention's decode_step allocates nothing after make_cache",
                   "[allocation][attention]", float, double) {
  // The W11 shape (d_model 256, 8 heads of 32) and a small one; all steps up to max_length, two
  // sequences through one cache (clear() keeps the room).
  using T = TestType;
  for (const auto& c : {std::array<Index, 4>{8, 32, 256, 96}, std::array<Index, 4>{3, 5, 7, 20}}) {
    INFO("heads " << c[0] << " key_dim " << c[1] << " features " << c[2]);
    strata::MultiHeadAttention<T> mha(c[0], c[1], strata::MultiHeadAttentionOptions().seed(4));
    mha.build(c[2]);
    auto cache = mha.make_cache(c[3], 2);
    std::vector<T> x(static_cast<std::size_t>(2 * c[2])), y(x.size());
    const long n = count_allocations([&] {
      for (int round = 0; round < 2; ++round) {
        for (Index t = 0; t < c[3]; ++t) {
          for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(std::sin(0.1 * static_cast<double>(i + t)));
          mha.decode_step(cache, x.data(), y.data());
        }
        cache.clear();
      }
    });
    CHECK(n == 0);
    CHECK(std::isfinite(static_cast<double>(y[0])));
  }
}
