// SPDX-License-Identifier: MIT
#ifndef STRATA_SEQUENTIAL_HPP
#define STRATA_SEQUENTIAL_HPP

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "any_layer.hpp"
#include "detail/layer.hpp"
#include "tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Keras' Sequential written in C++, with the layer types known at compile time: each layer's
/// output is the next layer's input, and calling the chain is calling the layers one after the
/// other -- no virtual call, no graph, no copy beyond what the layers return:
///
///     // Keras: Sequential([LSTM(5, return_sequences=True), TimeDistributed(Dense(1))])
///     strata::Sequential model(strata::LSTM<float>(5, lstm_options),
///                              strata::TimeDistributed<strata::Dense<float>>(dense));
///     strata::Tensor<float, 3> y = model(x);
///
/// The result type is the last layer's (a Tensor where the ranks are known, an AnyTensor where an
/// option decides). Weights, as Keras' model.get_weights(): every layer's, layer after layer. The
/// const call leaves the layers unchanged (stateful layers need the non-const one). For a model
/// chosen at run time, or loaded from a file, use strata::Model.
template <class... Layers>
class Sequential {
  static_assert(sizeof...(Layers) >= 1, "strata::Sequential: the chain needs at least one layer.");
  static_assert((detail::is_layer_v<Layers> && ...), "strata::Sequential: every element must be a strata layer.");
  using First = std::tuple_element_t<0, std::tuple<Layers...>>;
  static_assert((std::is_same_v<typename Layers::Scalar, typename First::Scalar> && ...),
                "strata::Sequential: every layer must have the same scalar type.");

 public:
  using Scalar = typename First::Scalar;

  explicit Sequential(Layers... layers) : layers_(std::move(layers)...) {}

  /// Number of layers.
  static constexpr std::size_t size() { return sizeof...(Layers); }
  /// Layer I (0 first).
  template <std::size_t I>
  auto& layer() {
    return std::get<I>(layers_);
  }
  template <std::size_t I>
  const auto& layer() const {
    return std::get<I>(layers_);
  }

  /// Keras `model(x)`: the layers applied in order.
  template <class X>
  auto operator()(const X& x) const {
    return apply<0>(layers_, x);
  }
  template <class X>
  auto operator()(const X& x) {
    return apply<0>(layers_, x);
  }

  /// Keras model.get_weights(): every layer's weights, layer after layer.
  Weights<Scalar> get_weights() const {
    Weights<Scalar> all;
    std::apply(
        [&](const auto&... l) {
          (
              [&] {
                for (auto& w : l.get_weights()) all.push_back(std::move(w));
              }(),
              ...);
        },
        layers_);
    return all;
  }
  /// Keras model.set_weights(): the list get_weights() gives; each layer takes as many arrays as
  /// its weight_count() (unbuilt layers are built from them). Throws shape_error on a wrong count
  /// or shape.
  void set_weights(const Weights<Scalar>& weights) {
    std::size_t at = 0;
    std::apply(
        [&](auto&... l) {
          (
              [&] {
                const std::size_t n = detail::weight_count_of(l);
                if (at + n > weights.size()) {
                  throw shape_error(detail::concat("strata::Sequential: set_weights got ", weights.size(),
                                                   " arrays; the layers need more (", l.describe(), " needs ", n, ")"));
                }
                l.set_weights(Weights<Scalar>(weights.begin() + static_cast<std::ptrdiff_t>(at),
                                              weights.begin() + static_cast<std::ptrdiff_t>(at + n)));
                at += n;
              }(),
              ...);
        },
        layers_);
    if (at != weights.size()) {
      throw shape_error(
          detail::concat("strata::Sequential: set_weights got ", weights.size(), " arrays; the layers have ", at));
    }
  }
  /// Keras count_params().
  Index count_params() const {
    return std::apply([](const auto&... l) { return (Index(0) + ... + l.count_params()); }, layers_);
  }
  /// Keras reset_states(): the stateful layers forget their state.
  void reset_states() {
    std::apply([](auto&... l) { (reset(l), ...); }, layers_);
  }

 private:
  template <std::size_t I, class Tuple, class X>
  static auto apply(Tuple& layers, const X& x) {
    auto y = std::get<I>(layers)(x);
    if constexpr (I + 1 == sizeof...(Layers)) {
      return y;
    } else {
      return apply<I + 1>(layers, y);
    }
  }

  template <class L>
  static void reset(L& layer) {
    if constexpr (detail::has_reset_states<L>::value) layer.reset_states();
  }

  std::tuple<Layers...> layers_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_SEQUENTIAL_HPP
