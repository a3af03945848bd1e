// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_BIDIRECTIONAL_HPP
#define STRATA_LAYERS_BIDIRECTIONAL_HPP

#include <algorithm>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../detail/recurrent.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// How Bidirectional combines the forward and backward outputs (Keras `merge_mode`).
enum class MergeMode {
  concat,  ///< [forward, backward] along the last axis (Keras' default)
  sum,     ///< forward + backward
  mul,     ///< forward * backward
  ave,     ///< (forward + backward) / 2
  none     ///< no merge: two outputs, forward then backward (Keras merge_mode=None)
};

/// Options of Bidirectional, set by chaining: `BidirectionalOptions().merge_mode("sum")`.
class BidirectionalOptions : public detail::Options<BidirectionalOptions> {
 public:
  /// Keras `merge_mode`: "concat" (default), "sum", "mul", "ave", or "none" / "" for None.
  BidirectionalOptions& merge_mode(const std::string& mode) {
    if (mode == "concat") {
      merge_mode_ = MergeMode::concat;
    } else if (mode == "sum") {
      merge_mode_ = MergeMode::sum;
    } else if (mode == "mul") {
      merge_mode_ = MergeMode::mul;
    } else if (mode == "ave") {
      merge_mode_ = MergeMode::ave;
    } else if (mode == "none" || mode.empty()) {
      merge_mode_ = MergeMode::none;
    } else {
      throw value_error(detail::concat("strata::Bidirectional: unknown merge_mode '", mode,
                                       "'; expected concat, sum, mul, ave or none"));
    }
    return *this;
  }
  BidirectionalOptions& merge_mode(MergeMode mode) {
    merge_mode_ = mode;
    return *this;
  }
  MergeMode merge_mode() const { return merge_mode_; }

 private:
  MergeMode merge_mode_ = MergeMode::concat;
};

namespace detail {

/// The recurrent layer trait, which Bidirectional requires of the layer it wraps: what LSTM, GRU
/// and SimpleRNN have (detail::RecurrentLayer), and what a user's own recurrent layer needs to be
/// wrapped (and loaded inside a Keras Bidirectional): `state_count`, a `State` type (a tensor, or
/// a struct of two tensors `h` and `c`), `outputs(x, const State*, const Mask*)` on a TensorView
/// (const and non-const), go_backwards / return_sequences /
/// return_state / stateful / units / input_dim, compute_mask(const Mask*), reset_states, and the
/// setters set_go_backwards, set_zero_output_for_mask, set_name.
template <class L, class = void>
struct is_recurrent_layer : std::false_type {};
template <class L>
struct is_recurrent_layer<
    L, std::void_t<
           decltype(L::state_count), typename L::State,
           decltype(std::declval<const L&>().outputs(std::declval<const TensorView<typename L::Scalar>&>(),
                                                     std::declval<const typename L::State*>(),
                                                     std::declval<const Mask*>())),
           decltype(std::declval<L&>().outputs(std::declval<const TensorView<typename L::Scalar>&>(),
                                               std::declval<const typename L::State*>(), std::declval<const Mask*>())),
           decltype(std::declval<const L&>().go_backwards()), decltype(std::declval<const L&>().return_sequences()),
           decltype(std::declval<const L&>().return_state()), decltype(std::declval<const L&>().units()),
           decltype(std::declval<const L&>().stateful()), decltype(std::declval<const L&>().input_dim()),
           decltype(std::declval<const L&>().compute_mask(std::declval<const Mask*>())),
           decltype(std::declval<L&>().reset_states()), decltype(std::declval<L&>().set_go_backwards(true)),
           decltype(std::declval<L&>().set_zero_output_for_mask(true)),
           decltype(std::declval<L&>().set_name(std::string()))>> : std::bool_constant<is_layer_v<L>> {};

template <class L>
inline constexpr bool is_recurrent_layer_v = is_recurrent_layer<L>::value;

/// Whether a recurrent layer says its states' shape for an input (`Shape state_shape(const
/// Shape&) const`); without it, states are (batch, units).
template <class L, class = void>
struct has_state_shape : std::false_type {};
template <class L>
struct has_state_shape<L, std::void_t<decltype(std::declval<const L&>().state_shape(std::declval<const Shape&>()))>>
    : std::true_type {};

}  // namespace detail

/// Keras `Bidirectional(layer, merge_mode=...)` around a recurrent layer -- LSTM, GRU, SimpleRNN,
/// ConvLSTM1D/2D/3D, or any layer with the recurrent layer trait (detail::is_recurrent_layer) --
/// on (batch, time, ...), the inputs the wrapped layer takes.
///
/// The forward layer is `layer` (renamed "forward_<name>"); the backward layer is a copy of it
/// with go_backwards flipped ("backward_<name>"), or the one given. Both get the same input and
/// mask; with return_sequences the backward sequence is flipped back to input order before the
/// merge, as Keras does, and -- as Keras' Bidirectional forces zero_output_for_mask =
/// return_sequences on its layers -- masked steps output 0. Weights, as Keras' get_weights():
/// the forward layer's list, then the backward layer's. outputs() gives Keras' list: the merged
/// output (two with MergeMode::none), then with return_state the forward states, then the
/// backward states. Calls are const (concurrent, stateless) and non-const (a stateful layer's).
template <class Layer>
class Bidirectional {
  static_assert(detail::is_recurrent_layer_v<Layer>,
                "strata::Bidirectional: the wrapped layer must be a recurrent layer (LSTM, GRU, SimpleRNN, or a layer "
                "with the recurrent layer trait).");

 public:
  using Scalar = typename Layer::Scalar;
  using T = Scalar;
  using State = typename Layer::State;
  static constexpr const char* class_name = "Bidirectional";

  explicit Bidirectional(Layer layer, const BidirectionalOptions& options = BidirectionalOptions())
      : forward_(layer), backward_(std::move(layer)), merge_mode_(options.merge_mode()), name_(options.name()) {
    backward_.set_go_backwards(!forward_.go_backwards());
    setup();
  }
  /// Keras' `backward_layer` argument: it must differ from `layer` in go_backwards only (Keras
  /// checks return_sequences, return_state and go_backwards; throws value_error).
  Bidirectional(Layer layer, Layer backward_layer, const BidirectionalOptions& options = BidirectionalOptions())
      : forward_(std::move(layer)),
        backward_(std::move(backward_layer)),
        merge_mode_(options.merge_mode()),
        name_(options.name()) {
    if (forward_.go_backwards() == backward_.go_backwards() ||
        forward_.return_sequences() != backward_.return_sequences() ||
        forward_.return_state() != backward_.return_state() || forward_.stateful() != backward_.stateful()) {
      throw value_error(detail::concat(describe(), ": backward_layer must have the forward layer's return_sequences, ",
                                       "return_state and stateful and the opposite go_backwards"));
    }
    // The outputs are merged element by element (or concatenated row by row): both layers must
    // give the same shape.
    if (forward_.units() != backward_.units() ||
        (forward_.built() && backward_.built() && forward_.input_dim() != backward_.input_dim())) {
      throw value_error(detail::concat(describe(), ": backward_layer must have the forward layer's units and inputs; ",
                                       "got units ", forward_.units(), " and ", backward_.units()));
    }
    setup();
  }

  const Layer& forward_layer() const { return forward_; }
  const Layer& backward_layer() const { return backward_; }
  Layer& forward_layer() { return forward_; }
  Layer& backward_layer() { return backward_; }
  MergeMode merge_mode() const { return merge_mode_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  bool return_sequences() const { return forward_.return_sequences(); }
  bool return_state() const { return forward_.return_state(); }
  bool built() const { return forward_.built() && backward_.built(); }
  Index units() const { return forward_.units(); }

  /// Builds both layers for `features` inputs per step.
  void build(Index features) {
    forward_.build(features);
    backward_.build(features);
  }
  /// Keras get_weights(): the forward layer's weights, then the backward layer's.
  Weights<T> get_weights() const {
    Weights<T> w = forward_.get_weights();
    for (auto& x : backward_.get_weights()) w.push_back(std::move(x));
    return w;
  }
  /// Keras set_weights(): the first half to the forward layer, the second to the backward one.
  void set_weights(const Weights<T>& weights) {
    if (weights.size() % 2 != 0 || weights.empty()) {
      throw shape_error(detail::concat(describe(), ": set_weights expects the forward layer's weights then the ",
                                       "backward layer's (an even, non-zero count); got ", weights.size()));
    }
    // Both halves on copies first, so that a bad half leaves the layer as it was.
    const auto half = static_cast<std::ptrdiff_t>(weights.size() / 2);
    Layer forward = forward_;
    Layer backward = backward_;
    forward.set_weights(Weights<T>(weights.begin(), weights.begin() + half));
    backward.set_weights(Weights<T>(weights.begin() + half, weights.end()));
    if (forward.input_dim() != backward.input_dim()) {
      throw shape_error(detail::concat(describe(), ": the forward and backward kernels have ", forward.input_dim(),
                                       " and ", backward.input_dim(), " input features"));
    }
    forward_ = std::move(forward);
    backward_ = std::move(backward);
  }
  Index count_params() const { return forward_.count_params() + backward_.count_params(); }
  void reset_states() {
    forward_.reset_states();
    backward_.reset_states();
  }

  static constexpr int output_rank(int input_rank) { return Layer::output_rank(input_rank); }

  /// The merged output's shape (each output's with MergeMode::none): concat doubles the units.
  Shape compute_output_shape(const Shape& input) const {
    Shape s = forward_.compute_output_shape(input);
    if (merge_mode_ == MergeMode::concat) s[s.rank() - 1] *= 2;
    return s;
  }
  /// Keras compute_mask: the input mask with return_sequences, else none.
  const Mask* compute_mask(const Mask* mask) const { return forward_.compute_mask(mask); }

  /// Low-level call writing the merged output; throws value_error with MergeMode::none (two
  /// outputs: use outputs()).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size,
               const Mask* mask = nullptr) const {
    if (merge_mode_ == MergeMode::none) {
      throw value_error(describe() + ": merge_mode none gives two outputs; call outputs() instead of forward()");
    }
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    std::vector<AnyTensor<T>> out = outputs(TensorView<T>(input, input_shape), nullptr, nullptr, mask);
    std::copy(out[0].data(), out[0].data() + output_size, output);
  }

  /// Keras `bidirectional(x)`: the merged output; throws value_error with MergeMode::none.
  template <class X>
  AnyTensor<T> operator()(const X& x) const {
    return single(outputs(x));
  }
  template <class X>
  AnyTensor<T> operator()(const X& x) {
    return single(outputs(x));
  }
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) const {
    return single(outputs(x, nullptr, nullptr, &mask));
  }
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) {
    return single(outputs(x, nullptr, nullptr, &mask));
  }

  /// Keras' return value as a list: [merged] or [forward, backward] (MergeMode::none), then with
  /// return_state the forward layer's states and the backward layer's. Initial states (Keras'
  /// initial_state list split in half) and the mask (batch, time) may be null.
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State* forward_state = nullptr,
                                    const State* backward_state = nullptr, const Mask* mask = nullptr) const {
    return combine(forward_.outputs(x, forward_state, mask), backward_.outputs(x, backward_state, mask));
  }
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State* forward_state = nullptr,
                                    const State* backward_state = nullptr, const Mask* mask = nullptr) {
    return combine(forward_.outputs(x, forward_state, mask), backward_.outputs(x, backward_state, mask));
  }

  bool carries_state() const { return forward_.carries_state(); }
  int output_count() const {
    return (merge_mode_ == MergeMode::none ? 2 : 1) + (return_state() ? 2 * Layer::state_count : 0);
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// No per-step form (Model::stream): always value_error, saying why.
  LayerStep<T> make_step(const std::vector<StepShape>& /*inputs*/) const {
    throw value_error(detail::concat(describe(),
                                     ": its backward layer reads the sequence from its end, which a stream has not "
                                     "received yet; a bidirectional layer cannot be streamed"));
  }
  /// Keras config: layer (the recurrent layer, any registered class with the recurrent trait),
  /// merge_mode (null: none), backward_layer (Keras 3 always writes it; Keras 2 and tfjs when
  /// one was given). The registry picks Layer from the wrapped class.
  static Bidirectional from_config(const LayerConfig<T>& config) {
    const LayerConfig<T> inner = config.sublayer("layer");
    Layer forward = Layer::from_config(inner);
    MergeMode mode = MergeMode::concat;
    if (config.config().find("merge_mode") != nullptr) {
      const Config& m = config.get("merge_mode");
      const std::string text = m.is_string() ? m.as_string() : std::string();
      if (m.is_null()) {
        mode = MergeMode::none;
      } else if (text == "concat" || text == "sum" || text == "mul" || text == "ave") {
        mode = BidirectionalOptions().merge_mode(text).merge_mode();
      } else {
        config.unsupported(detail::concat("merge_mode ", m.dump().substr(0, 100),
                                          " is not supported (concat, sum, mul, ave or null are)"));
      }
    }
    const BidirectionalOptions options = BidirectionalOptions().merge_mode(mode).name(config.name());
    const std::string base = detail::strip_prefix(inner.name(), "forward_");
    std::string backward_name = "backward_" + base;
    std::optional<Bidirectional> result;
    if (config.has("backward_layer")) {
      const LayerConfig<T> back = config.sublayer("backward_layer");
      if (back.class_name() != inner.class_name()) {
        config.unsupported(detail::concat("backward_layer is a ", back.class_name(), " and layer a ",
                                          inner.class_name(), "; strata needs both of one class"));
      }
      Layer backward = Layer::from_config(back);
      if (backward.go_backwards() == forward.go_backwards()) {
        config.invalid(detail::concat("backward_layer must have the opposite go_backwards of layer; both have ",
                                      "go_backwards=", forward.go_backwards() ? "true" : "false"));
      }
      if (backward.return_sequences() != forward.return_sequences() ||
          backward.return_state() != forward.return_state() || backward.stateful() != forward.stateful()) {
        config.invalid("backward_layer must have the return_sequences, return_state and stateful of layer");
      }
      if (backward.units() != forward.units()) {
        config.unsupported(detail::concat("backward_layer has ", backward.units(), " units and layer ", forward.units(),
                                          "; strata needs the same"));
      }
      backward_name = back.name();
      result.emplace(std::move(forward), std::move(backward), options);
    } else {
      result.emplace(std::move(forward), options);
    }
    result->forward_.set_name("forward_" + base);
    result->backward_.set_name(backward_name);
    return std::move(*result);
  }
  /// Recurrent: it consumes masks.
  static constexpr bool takes_mask = true;
  /// Keras' weights: the forward layer's groups under "forward_layer/", then the backward
  /// layer's under "backward_layer/".
  std::size_t weight_count() const { return detail::weight_count_of(forward_) + detail::weight_count_of(backward_); }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    std::vector<WeightGroup> groups;
    if constexpr (detail::has_weight_groups<Layer>::value) {
      for (auto [layer, prefix] : {std::pair<const Layer*, const char*>{&forward_, "forward_layer/"},
                                   std::pair<const Layer*, const char*>{&backward_, "backward_layer/"}}) {
        for (WeightGroup g : layer->weight_groups(inputs)) {
          g.path = prefix + g.path;
          groups.push_back(std::move(g));
        }
      }
    } else {
      (void)inputs;
    }
    return groups;
  }
  /// The wrapped layers' legacy layouts (Keras 1: each LSTM's per-gate arrays), forward then
  /// backward, as for weight_groups.
  std::vector<WeightGroup> legacy_weight_groups(const std::vector<Shape>& inputs, const KerasVersion& version) const {
    std::vector<WeightGroup> groups;
    for (auto [layer, prefix] : {std::pair<const Layer*, const char*>{&forward_, "forward_layer/"},
                                 std::pair<const Layer*, const char*>{&backward_, "backward_layer/"}}) {
      for (WeightGroup g : detail::legacy_weight_groups_of(*layer, inputs, version)) {
        g.path = prefix + g.path;
        groups.push_back(std::move(g));
      }
    }
    return groups;
  }
  /// Each half of the stored arrays converted by its layer (Keras 2's preprocess_weights_for_loading
  /// splits them in halves too).
  Weights<T> convert_legacy_weights(Weights<T> stored, const KerasVersion& version) const {
    const auto half = static_cast<std::ptrdiff_t>(stored.size() / 2);
    Weights<T> out =
        detail::convert_legacy_weights_of(forward_, Weights<T>(stored.begin(), stored.begin() + half), version);
    for (AnyTensor<T>& w :
         detail::convert_legacy_weights_of(backward_, Weights<T>(stored.begin() + half, stored.end()), version)) {
      out.push_back(std::move(w));
    }
    return out;
  }
  /// The merged output (two without merge), then with return_state the forward and the backward
  /// states; the inputs are the sequence and optionally both layers' initial states.
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    check_input_count(inputs.size());
    const Shape out = compute_output_shape(inputs[0]);
    const Shape state = state_shape(inputs[0]);
    for (std::size_t k = 1; k < inputs.size(); ++k) {
      if (inputs[k] != state) {
        throw shape_error(detail::concat(describe(), ": initial state ", k - 1, " must have shape ", state.to_string(),
                                         "; it is given ", inputs[k].to_string()));
      }
    }
    std::vector<Shape> result(merge_mode_ == MergeMode::none ? 2 : 1, out);
    if (return_state()) result.insert(result.end(), 2 * static_cast<std::size_t>(Layer::state_count), state);
    return result;
  }
  /// Keras compute_mask: the output sequence(s) keep the input's (batch, time) mask with
  /// return_sequences; the states have none. Any other mask cannot be taken.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    const int mask = masks.empty() ? 0 : masks[0];
    detail::check_recurrent_mask_rank(mask, describe());
    std::vector<int> out(output_shapes(inputs).size(), 0);
    if (return_sequences()) {
      for (std::size_t k = 0; k < (merge_mode_ == MergeMode::none ? 2u : 1u); ++k) out[k] = mask;
    }
    return out;
  }
  /// In a model graph: the sequence, then optionally the forward and backward initial states.
  void call_graph(GraphCall<T>& c) const { graph(*this, c); }
  void call_graph(GraphCall<T>& c) { graph(*this, c); }

 private:
  void setup() {
    const std::string base = forward_.name();
    if (name_.empty() && !base.empty()) name_ = "bidirectional_" + base;
    forward_.set_name("forward_" + base);
    backward_.set_name("backward_" + base);
    forward_.set_zero_output_for_mask(forward_.return_sequences());
    backward_.set_zero_output_for_mask(backward_.return_sequences());
  }

  // Each state's shape for an input: (batch, units), or what the wrapped layer says when it has
  // state_shape(input) (a ConvLSTM's (batch, o..., filters) maps).
  Shape state_shape(const Shape& input) const {
    if constexpr (detail::has_state_shape<Layer>::value) {
      return forward_.state_shape(input);
    } else {
      return Shape{input[0], units()};
    }
  }

  void check_input_count(std::size_t n) const {
    const std::size_t states = 2 * static_cast<std::size_t>(Layer::state_count);
    if (n != 1 && n != 1 + states) {
      throw value_error(detail::concat(describe(), ": takes an input and optionally ", states,
                                       " initial state tensors; it is given ", n, " tensors"));
    }
  }

  template <class Self>
  static void graph(Self& self, GraphCall<T>& c) {
    self.check_input_count(c.inputs.size());
    const TensorView<T>& x = c.inputs[0].tensor;
    if (x.empty() || Layer::output_rank(x.rank()) == invalid_rank) {
      throw shape_error(detail::concat(self.describe(), ": the wrapped layer cannot take input of shape ",
                                       x.empty() ? std::string("an empty tensor") : x.shape().to_string()));
    }
    const TensorView<T>& xs = x;
    const Mask* mask = c.inputs[0].mask.get();
    if (c.inputs.size() == 1) {
      c.outputs = self.outputs(xs, nullptr, nullptr, mask);
    } else {
      const std::size_t n = static_cast<std::size_t>(Layer::state_count);
      const State f = state_from(c, 1, n);
      const State b = state_from(c, 1 + n, n);
      c.outputs = self.outputs(xs, &f, &b, mask);
    }
    c.masks.assign(c.outputs.size(), MaskPtr());
    if (self.compute_mask(mask) != nullptr) {
      for (std::size_t k = 0; k < (self.merge_mode_ == MergeMode::none ? 2u : 1u); ++k) c.masks[k] = c.inputs[0].mask;
    }
  }

  // An initial state from a graph call's views (a copy): State is a tensor, or {h, c} tensors.
  static State state_from(const GraphCall<T>& c, std::size_t first, std::size_t count) {
    const auto take = [&](std::size_t k, auto tag) {
      using Tensor_ = decltype(tag);
      constexpr int R = Tensor_::NumIndices;
      const TensorView<T>& v = c.inputs[first + k].tensor;
      if (v.rank() != R) {
        throw shape_error(detail::concat("strata::Bidirectional: initial state ", first + k - 1, " must have rank ", R,
                                         "; got ", v.empty() ? std::string("an empty tensor") : v.shape().to_string()));
      }
      return Tensor_(v.template map<R>());
    };
    if constexpr (std::is_same_v<State, Tensor<T, 2>>) {
      (void)count;
      return take(0, Tensor<T, 2>());
    } else {
      STRATA_ASSERT(count == 2);
      using H = decltype(std::declval<State>().h);
      return State{take(0, H()), take(1, H())};
    }
  }

  std::vector<AnyTensor<T>> combine(std::vector<AnyTensor<T>> f, std::vector<AnyTensor<T>> b) const {
    AnyTensor<T>& y = f[0];
    AnyTensor<T>& y_rev = b[0];
    if (return_sequences()) flip_time(y_rev);
    std::vector<AnyTensor<T>> out;
    if (merge_mode_ == MergeMode::none) {
      out.push_back(std::move(y));
      out.push_back(std::move(y_rev));
    } else {
      out.push_back(merge(y, y_rev));
    }
    for (std::size_t k = 1; k < f.size(); ++k) out.push_back(std::move(f[k]));
    for (std::size_t k = 1; k < b.size(); ++k) out.push_back(std::move(b[k]));
    return out;
  }

  AnyTensor<T> single(std::vector<AnyTensor<T>> out) const {
    if (merge_mode_ == MergeMode::none) {
      throw value_error(describe() + ": merge_mode none gives two outputs; call outputs()");
    }
    return std::move(out[0]);
  }

  static void flip_time(AnyTensor<T>& y) {
    const Shape s = y.shape();
    const Index steps = s[1];
    Index u = 1;  // the values of one step: (units) or a ConvLSTM's (o..., filters)
    for (Index k = 2; k < s.rank(); ++k) u *= s[k];
    T* d = y.data();
    for (Index b = 0; b < s[0]; ++b) {
      for (Index t = 0; t < steps / 2; ++t) {
        std::swap_ranges(d + (b * steps + t) * u, d + (b * steps + t + 1) * u, d + (b * steps + steps - 1 - t) * u);
      }
    }
  }

  AnyTensor<T> merge(const AnyTensor<T>& y, const AnyTensor<T>& y_rev) const {
    const Shape s = y.shape();
    STRATA_ASSERT(y_rev.shape() == s);  // the constructors make both layers give one shape
    if (merge_mode_ == MergeMode::concat) {
      Shape cs = s;
      const Index u = s[s.rank() - 1];
      cs[cs.rank() - 1] = 2 * u;
      AnyTensor<T> out = AnyTensor<T>::uninitialized(cs);
      const Index rows = s.size() / u;
      for (Index r = 0; r < rows; ++r) {
        std::copy(y.data() + r * u, y.data() + (r + 1) * u, out.data() + r * 2 * u);
        std::copy(y_rev.data() + r * u, y_rev.data() + (r + 1) * u, out.data() + r * 2 * u + u);
      }
      return out;
    }
    AnyTensor<T> out = AnyTensor<T>::uninitialized(s);
    const T* a = y.data();
    const T* b = y_rev.data();
    T* o = out.data();
    for (Index i = 0; i < s.size(); ++i) {
      switch (merge_mode_) {
        case MergeMode::sum:
          o[i] = a[i] + b[i];
          break;
        case MergeMode::mul:
          o[i] = a[i] * b[i];
          break;
        default:  // ave
          o[i] = (a[i] + b[i]) / T(2);
          break;
      }
    }
    return out;
  }

  Layer forward_;
  Layer backward_;
  MergeMode merge_mode_;
  std::string name_;
};

namespace detail {

/// The registry's entry for Keras' Bidirectional: the wrapped class is known only from the config,
/// so it asks the registry for that class's Bidirectional<Layer>, which every registered layer with
/// the recurrent trait provides.
template <class T>
struct BidirectionalEntry {
  using Scalar = T;
  static constexpr const char* class_name = "Bidirectional";
  /// Config keys that hold nested layers (checked to be registered before anything is built).
  static std::vector<std::string> sublayer_keys() { return {"layer", "backward_layer"}; }
  static AnyLayer<T> from_config(const LayerConfig<T>& config) { return config.registry().bidirectional(config); }
};

}  // namespace detail

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(BidirectionalEntry)

#endif  // STRATA_LAYERS_BIDIRECTIONAL_HPP
