// SPDX-License-Identifier: MIT
#ifndef STRATA_ANY_LAYER_HPP
#define STRATA_ANY_LAYER_HPP

#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "detail/layer.hpp"
#include "layer_config.hpp"
#include "layer_step.hpp"
#include "mask.hpp"
#include "tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// One input of a layer call in a model graph: a view of the tensor, its Keras mask (null: none),
/// and, when this call is the tensor's last use, the tensor itself, which the layer may take over
/// (an identity or in-place layer then returns it instead of writing a copy).
template <class T>
struct GraphInput {
  TensorView<T> tensor;
  MaskPtr mask;
  AnyTensor<T>* owned = nullptr;
};

/// A layer call in a model graph, Keras' `layer(inputs, mask=...)`: the inputs (the tensor(s),
/// then initial states for a recurrent layer), and what the call produces -- its outputs and, for
/// each, its mask (null: none).
template <class T>
struct GraphCall {
  std::vector<GraphInput<T>> inputs;
  std::vector<AnyTensor<T>> outputs;
  std::vector<MaskPtr> masks;
};

namespace detail {

// Optional parts of a layer's Keras description, detected; the adapter supplies Keras' defaults.
template <class L, class = void>
struct has_call_graph : std::false_type {};
template <class L>
struct has_call_graph<
    L, std::void_t<decltype(std::declval<L&>().call_graph(std::declval<GraphCall<typename L::Scalar>&>()))>>
    : std::true_type {};

template <class L, class = void>
struct has_const_call_graph : std::false_type {};
template <class L>
struct has_const_call_graph<
    L, std::void_t<decltype(std::declval<const L&>().call_graph(std::declval<GraphCall<typename L::Scalar>&>()))>>
    : std::true_type {};

template <class L, class = void>
struct has_output_shapes : std::false_type {};
template <class L>
struct has_output_shapes<
    L, std::void_t<decltype(std::declval<const L&>().output_shapes(std::declval<const std::vector<Shape>&>()))>>
    : std::true_type {};

template <class L, class = void>
struct has_output_mask_ranks : std::false_type {};
template <class L>
struct has_output_mask_ranks<L,
                             std::void_t<decltype(std::declval<const L&>().output_mask_ranks(
                                 std::declval<const std::vector<Shape>&>(), std::declval<const std::vector<int>&>()))>>
    : std::true_type {};

template <class L, class = void>
struct has_weight_groups : std::false_type {};
template <class L>
struct has_weight_groups<
    L, std::void_t<decltype(std::declval<const L&>().weight_groups(std::declval<const std::vector<Shape>&>()))>>
    : std::true_type {};

template <class L, class = void>
struct has_weight_count : std::false_type {};
template <class L>
struct has_weight_count<L, std::void_t<decltype(std::declval<const L&>().weight_count())>> : std::true_type {};

/// How many weight arrays a layer declares (its weight_count(); 0 when it declares none). The
/// loader binds weights by it and by weight_groups, which must agree.
template <class L>
std::size_t weight_count_of(const L& layer);

template <class L, class = void>
struct has_legacy_weights : std::false_type {};
template <class L>
struct has_legacy_weights<L, std::void_t<decltype(std::declval<const L&>().legacy_weight_groups(
                                 std::declval<const std::vector<Shape>&>(), std::declval<const KerasVersion&>()))>>
    : std::true_type {};

/// The layout in which a file of `version` may store the layer's weights when it differs from
/// weight_groups (the layer's `legacy_weight_groups`; none when it declares none).
template <class L>
std::vector<WeightGroup> legacy_weight_groups_of(const L& layer, const std::vector<Shape>& inputs,
                                                 const KerasVersion& version) {
  if constexpr (has_legacy_weights<L>::value) {
    return layer.legacy_weight_groups(inputs, version);
  } else {
    (void)layer, (void)inputs, (void)version;
    return {};
  }
}

/// Arrays stored in the layer's legacy_weight_groups layout -> its get_weights() list.
template <class L>
Weights<typename L::Scalar> convert_legacy_weights_of(const L& layer, Weights<typename L::Scalar> stored,
                                                      const KerasVersion& version) {
  if constexpr (has_legacy_weights<L>::value) {
    return layer.convert_legacy_weights(std::move(stored), version);
  } else {
    (void)layer, (void)version;
    return stored;
  }
}

template <class L, class = void>
struct has_make_step : std::false_type {};
template <class L>
struct has_make_step<
    L, std::void_t<decltype(std::declval<const L&>().make_step(std::declval<const std::vector<StepShape>&>()))>>
    : std::true_type {};

template <class L, class = void>
struct has_reset_states : std::false_type {};
template <class L>
struct has_reset_states<L, std::void_t<decltype(std::declval<L&>().reset_states())>> : std::true_type {};

template <class L, class = void>
struct declared_mask_rule : std::integral_constant<MaskRule, MaskRule::drop> {};
template <class L>
struct declared_mask_rule<L, std::void_t<decltype(L::mask_rule)>> : std::integral_constant<MaskRule, L::mask_rule> {};

template <class L, class = void>
struct declared_in_place : std::false_type {};
template <class L>
struct declared_in_place<L, std::void_t<decltype(L::in_place)>> : std::bool_constant<L::in_place> {};

template <class L, class = void>
struct declared_takes_mask : std::false_type {};
template <class L>
struct declared_takes_mask<L, std::void_t<decltype(L::takes_mask)>> : std::bool_constant<L::takes_mask> {};

template <class L, class = void>
struct has_takes_mask_function : std::false_type {};
template <class L>
struct has_takes_mask_function<L, std::void_t<decltype(std::declval<const L&>().takes_mask())>> : std::true_type {};

/// Whether a layer consumes Keras masks (a recurrent layer): its `static constexpr bool
/// takes_mask`, or AnyLayer's run-time answer.
template <class L>
bool layer_takes_mask(const L& layer) {
  if constexpr (has_takes_mask_function<L>::value) {
    return layer.takes_mask();
  } else {
    (void)layer;
    return declared_takes_mask<L>::value;
  }
}

template <class L>
std::size_t weight_count_of(const L& layer) {
  if constexpr (has_weight_count<L>::value) {
    return layer.weight_count();
  } else {
    (void)layer;
    return 0;
  }
}

/// The node a model holds for a layer of any type: the layer concept and the Keras description
/// behind virtual calls. One implementation, LayerHolder<L>, for every L.
template <class T>
class LayerNode {
 public:
  virtual ~LayerNode() = default;
  virtual std::unique_ptr<LayerNode> clone() const = 0;
  virtual const std::type_info& type() const = 0;
  virtual void* get() = 0;
  virtual const void* get() const = 0;

  virtual const char* class_name() const = 0;
  virtual std::string name() const = 0;
  virtual std::string describe() const = 0;
  virtual bool built() const = 0;
  virtual void build(Index features) = 0;
  virtual Weights<T> get_weights() const = 0;
  virtual void set_weights(const Weights<T>& weights) = 0;
  virtual Index count_params() const = 0;
  virtual std::size_t weight_count() const = 0;
  virtual std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const = 0;
  virtual std::vector<WeightGroup> legacy_weight_groups(const std::vector<Shape>& inputs,
                                                        const KerasVersion& version) const = 0;
  virtual Weights<T> convert_legacy_weights(Weights<T> stored, const KerasVersion& version) const = 0;
  virtual bool carries_state() const = 0;
  virtual int output_count() const = 0;
  virtual bool takes_mask() const = 0;
  virtual void reset_states() = 0;

  virtual Shape compute_output_shape(const Shape& input) const = 0;
  virtual void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const = 0;
  virtual std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const = 0;
  virtual std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs,
                                             const std::vector<int>& mask_ranks) const = 0;
  virtual void call(GraphCall<T>& call) = 0;
  virtual void call(GraphCall<T>& call) const = 0;
  virtual LayerStep<T> make_step(const std::vector<StepShape>& inputs) const = 0;
};

template <class L>
class LayerHolder final : public LayerNode<typename L::Scalar> {
  using T = typename L::Scalar;

 public:
  explicit LayerHolder(L layer) : layer_(std::move(layer)) {}

  std::unique_ptr<LayerNode<T>> clone() const override { return std::make_unique<LayerHolder>(layer_); }
  const std::type_info& type() const override { return typeid(L); }
  void* get() override { return &layer_; }
  const void* get() const override { return &layer_; }

  const char* class_name() const override { return L::class_name; }
  std::string name() const override { return layer_.name(); }
  std::string describe() const override { return layer_.describe(); }
  bool built() const override { return layer_.built(); }
  void build(Index features) override { layer_.build(features); }
  Weights<T> get_weights() const override { return layer_.get_weights(); }
  void set_weights(const Weights<T>& weights) override { layer_.set_weights(weights); }
  Index count_params() const override { return layer_.count_params(); }
  std::size_t weight_count() const override { return weight_count_of(layer_); }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const override {
    if constexpr (has_weight_groups<L>::value) {
      return layer_.weight_groups(inputs);
    } else {
      return {};
    }
  }
  std::vector<WeightGroup> legacy_weight_groups(const std::vector<Shape>& inputs,
                                                const KerasVersion& version) const override {
    return legacy_weight_groups_of(layer_, inputs, version);
  }
  Weights<T> convert_legacy_weights(Weights<T> stored, const KerasVersion& version) const override {
    return convert_legacy_weights_of(layer_, std::move(stored), version);
  }
  bool carries_state() const override { return layer_.carries_state(); }
  int output_count() const override { return layer_.output_count(); }
  bool takes_mask() const override { return layer_takes_mask(layer_); }
  void reset_states() override {
    if constexpr (has_reset_states<L>::value) layer_.reset_states();
  }

  Shape compute_output_shape(const Shape& input) const override { return layer_.compute_output_shape(input); }
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const override {
    layer_.forward(input, input_shape, output, output_size);
  }
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const override {
    if constexpr (has_output_shapes<L>::value) {
      return layer_.output_shapes(inputs);
    } else {
      return {layer_.compute_output_shape(only_input(inputs, layer_.describe()))};
    }
  }
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs,
                                     const std::vector<int>& mask_ranks) const override {
    if constexpr (has_output_mask_ranks<L>::value) {
      return layer_.output_mask_ranks(inputs, mask_ranks);
    } else {
      const int passed = declared_mask_rule<L>::value == MaskRule::pass && !mask_ranks.empty() ? mask_ranks[0] : 0;
      return std::vector<int>(output_shapes(inputs).size(), passed);
    }
  }
  void call(GraphCall<T>& c) override {
    if constexpr (has_call_graph<L>::value) {
      layer_.call_graph(c);
    } else {
      default_call(layer_, c);
    }
  }
  void call(GraphCall<T>& c) const override {
    if constexpr (has_const_call_graph<L>::value) {
      layer_.call_graph(c);
    } else if constexpr (has_call_graph<L>::value) {
      throw value_error(concat(layer_.describe(),
                               ": its call changes the layer's state; call it through a non-const model or layer"));
    } else {
      default_call(layer_, c);
    }
  }

  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const override {
    if constexpr (has_make_step<L>::value) {
      return layer_.make_step(inputs);
    } else {
      (void)inputs;
      throw value_error(concat(layer_.describe(), ": has no per-step form (a stream runs one time step per call; the ",
                               L::class_name,
                               " layer needs more of the sequence than the steps so far, or strata does not "
                               "implement its step)"));
    }
  }

  L& layer() { return layer_; }
  const L& layer() const { return layer_; }

 private:
  // One input, one output: the layer concept's forward, in place on a tensor handed over when the
  // layer allows it.
  static void default_call(const L& layer, GraphCall<T>& c) {
    if (c.inputs.size() != 1) {
      throw value_error(concat(layer.describe(), ": takes one input; it is given ", c.inputs.size()));
    }
    const GraphInput<T>& in = c.inputs[0];
    if (in.tensor.empty()) throw shape_error(concat(layer.describe(), ": the input tensor is empty"));
    const Shape out_shape = layer.compute_output_shape(in.tensor.shape());
    if constexpr (declared_in_place<L>::value) {
      if (in.owned != nullptr && out_shape == in.tensor.shape()) {
        layer.forward(in.owned->data(), out_shape, in.owned->data(), in.owned->size());
        c.outputs.push_back(std::move(*in.owned));
        c.masks.push_back(declared_mask_rule<L>::value == MaskRule::pass ? in.mask : MaskPtr());
        return;
      }
    }
    AnyTensor<T> y = AnyTensor<T>::uninitialized(out_shape);
    layer.forward(in.tensor.data(), in.tensor.shape(), y.data(), y.size());
    c.outputs.push_back(std::move(y));
    c.masks.push_back(declared_mask_rule<L>::value == MaskRule::pass ? in.mask : MaskPtr());
  }

  L layer_;
};

}  // namespace detail

/// A layer of any type behind one interface: what a Model's graph holds, and what the registry
/// builds from a Keras config. It owns a copy of the typed layer (copying an AnyLayer copies the
/// layer: two copies never share weights or state), satisfies the layer concept itself (so
/// TimeDistributed<AnyLayer<T>> wraps a layer chosen at run time), and hands the typed layer back:
///
///     strata::AnyLayer<float> any(strata::Dense<float>(4));
///     strata::Dense<float>* dense = any.target<strata::Dense<float>>();  // null for another type
///
/// The virtual call costs a few nanoseconds per layer call, not per element.
template <class T>
class AnyLayer {
 public:
  using Scalar = T;
  static constexpr const char* class_name = "AnyLayer";

  /// An empty handle; every call but empty() throws value_error.
  AnyLayer() = default;
  /// Holds `layer` (any strata layer, or a user layer satisfying the layer concept).
  template <class L, std::enable_if_t<!std::is_same_v<std::decay_t<L>, AnyLayer> && detail::is_layer_v<std::decay_t<L>>,
                                      int> = 0>
  explicit AnyLayer(L layer) : node_(std::make_unique<detail::LayerHolder<std::decay_t<L>>>(std::move(layer))) {
    static_assert(std::is_same_v<typename std::decay_t<L>::Scalar, T>,
                  "strata::AnyLayer: the layer's scalar type must be the AnyLayer's.");
  }
  AnyLayer(const AnyLayer& other) : node_(other.node_ ? other.node_->clone() : nullptr) {}
  AnyLayer(AnyLayer&&) noexcept = default;
  AnyLayer& operator=(const AnyLayer& other) {
    if (this != &other) node_ = other.node_ ? other.node_->clone() : nullptr;
    return *this;
  }
  AnyLayer& operator=(AnyLayer&&) noexcept = default;
  ~AnyLayer() = default;

  bool empty() const { return node_ == nullptr; }

  /// The typed layer when it is an L, else null.
  template <class L>
  L* target() {
    return node_ && node_->type() == typeid(L) ? static_cast<L*>(node_->get()) : nullptr;
  }
  template <class L>
  const L* target() const {
    return node_ && node_->type() == typeid(L) ? static_cast<const L*>(std::as_const(*node_).get()) : nullptr;
  }
  /// The type of the held layer.
  const std::type_info& type() const { return node().type(); }

  /// The Keras class name of the held layer ("Dense"), and its Keras name.
  const char* keras_class_name() const { return node().class_name(); }
  std::string name() const { return node().name(); }
  std::string describe() const { return node().describe(); }

  // The layer concept (detail/layer.hpp): the output rank is known only at run time.
  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? dynamic_rank : invalid_rank; }
  Shape compute_output_shape(const Shape& input) const { return node().compute_output_shape(input); }
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    node().forward(input, input_shape, output, output_size);
  }
  bool carries_state() const { return node().carries_state(); }
  int output_count() const { return node().output_count(); }
  bool built() const { return node().built(); }
  void build(Index features) { node().build(features); }
  Weights<T> get_weights() const { return node().get_weights(); }
  void set_weights(const Weights<T>& weights) { node().set_weights(weights); }
  Index count_params() const { return node().count_params(); }
  void reset_states() { node().reset_states(); }

  // The Keras description: weights as Keras declares them, shapes and masks in a graph.
  std::size_t weight_count() const { return node().weight_count(); }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    return node().weight_groups(inputs);
  }
  /// How a file of an older Keras (`version`) may store the weights when that differs from
  /// weight_groups -- Keras 1's LSTM: twelve per-gate arrays --, and the conversion of arrays stored
  /// so to get_weights(); none for most layers. A legacy .h5 loader reads that layout when the
  /// file holds its number of arrays.
  std::vector<WeightGroup> legacy_weight_groups(const std::vector<Shape>& inputs, const KerasVersion& version) const {
    return node().legacy_weight_groups(inputs, version);
  }
  Weights<T> convert_legacy_weights(Weights<T> stored, const KerasVersion& version) const {
    return node().convert_legacy_weights(std::move(stored), version);
  }
  bool takes_mask() const { return node().takes_mask(); }
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const { return node().output_shapes(inputs); }
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& mask_ranks) const {
    return node().output_mask_ranks(inputs, mask_ranks);
  }
  /// Keras' call in a model graph; the non-const form may update a stateful layer's state, the
  /// const one throws value_error for such a layer.
  void call_graph(GraphCall<T>& call) { node().call(call); }
  void call_graph(GraphCall<T>& call) const { node().call(call); }

  /// Keras `layer(x)` on a tensor of run-time rank, for a layer with one input and one output.
  AnyTensor<T> operator()(TensorView<T> x) const { return detail::call_any(*this, x); }

  /// The held layer's per-step form for inputs of these shapes at one step (what Model::stream
  /// runs; see LayerStep). Throws value_error naming the layer when it has none -- it declares no
  /// make_step, or its make_step refuses these inputs (go_backwards, padding other than causal,
  /// ...) -- and shape_error for shapes it does not take.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const { return node().make_step(inputs); }

 private:
  const detail::LayerNode<T>& node() const {
    if (!node_) throw value_error("strata::AnyLayer: the handle is empty (it holds no layer)");
    return *node_;
  }
  detail::LayerNode<T>& node() {
    if (!node_) throw value_error("strata::AnyLayer: the handle is empty (it holds no layer)");
    return *node_;
  }

  std::unique_ptr<detail::LayerNode<T>> node_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_ANY_LAYER_HPP
