// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_EMBEDDING_HPP
#define STRATA_LAYERS_EMBEDDING_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../detail/init.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of Embedding, set by chaining: `EmbeddingOptions().mask_zero(true)`.
class EmbeddingOptions : public detail::Options<EmbeddingOptions> {
 public:
  /// Keras `mask_zero`: index 0 is padding; compute_mask gives false there. Default false.
  EmbeddingOptions& mask_zero(bool on) {
    mask_zero_ = on;
    return *this;
  }
  /// Seed of the initial weights; without one they are drawn from std::random_device.
  EmbeddingOptions& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }

  bool mask_zero() const { return mask_zero_; }
  std::optional<std::uint64_t> seed() const { return seed_; }

 private:
  bool mask_zero_ = false;
  std::optional<std::uint64_t> seed_;
};

/// Keras `Embedding(input_dim, output_dim, mask_zero=...)`: integer indices (batch, ...) ->
/// rows of the embeddings matrix, (batch, ..., output_dim).
///
/// Weights, as Keras' get_weights(): [embeddings (input_dim, output_dim)], initialised like
/// Keras' "uniform" initializer, U(-0.05, 0.05). Indices come as an integer tensor, or -- inside a
/// Model, where every tensor has the model's scalar type -- as floating-point values that must
/// be whole numbers. An index outside [0, input_dim) (or a non-integral value) is a value_error
/// naming the index and its position; Keras' TensorFlow backend also fails there. With mask_zero,
/// compute_mask(ids) of a (batch, time) input gives the mask that LSTM, GRU, SimpleRNN and
/// Bidirectional take (index 0 = masked); index 0 is still looked up like any other.
template <class T>
class Embedding {
  static_assert(std::is_floating_point_v<T>, "strata::Embedding: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "Embedding";

  /// Throws value_error for input_dim or output_dim < 1 (shape_error for a matrix too large to
  /// address). The layer is built (has weights) at once.
  Embedding(Index input_dim, Index output_dim, const EmbeddingOptions& options = EmbeddingOptions())
      : Embedding(input_dim, output_dim, options, false) {
    embeddings_ = Tensor<T, 2>(input_dim, output_dim);
    auto gen = detail::Generator::from(options.seed());
    for (Index i = 0; i < embeddings_.size(); ++i) embeddings_.data()[i] = static_cast<T>(0.1 * gen.uniform() - 0.05);
  }

  /// The layer without weights, as from_config leaves it: a loader, or a layer holding it, sets
  /// them (set_weights) before the first call.
  static Embedding without_weights(Index input_dim, Index output_dim,
                                   const EmbeddingOptions& options = EmbeddingOptions()) {
    return Embedding(input_dim, output_dim, options, false);
  }

  Index input_dim() const { return input_dim_; }
  Index output_dim() const { return output_dim_; }
  bool mask_zero() const { return mask_zero_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  /// Whether the layer has weights: always, except between from_config and set_weights (a loader
  /// sets the file's weights without drawing initial ones first).
  bool built() const { return embeddings_.size() > 0; }
  /// Nothing to do: the weights' shape does not depend on the input.
  void build(Index /*features*/) {}
  const Tensor<T, 2>& embeddings() const { return embeddings_; }

  /// Keras get_weights(): [embeddings (input_dim, output_dim)].
  Weights<T> get_weights() const {
    require_built("get_weights");
    return {embeddings_};
  }
  /// Keras set_weights(); throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, 1, describe(), "embeddings");
    embeddings_ = detail::check_weight<2>(weights[0], Shape{input_dim_, output_dim_}, describe(), "embeddings", 0);
  }
  Index count_params() const { return input_dim_ * output_dim_; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? input_rank + 1 : invalid_rank; }

  /// (batch, ...) -> (batch, ..., output_dim); throws shape_error for rank 0.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          detail::concat(describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    Shape out = input;
    out.push_back(output_dim_);
    (void)out.size();
    return out;
  }

  /// Low-level call with indices given as floating-point values (the layer concept's form).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    forward_indices(input, input_shape, output, output_size);
  }

  /// Low-level call on indices of any arithmetic type; checks every index first.
  template <class I>
  void forward_indices(const I* ids, const Shape& input_shape, T* output, Index output_size) const {
    require_built("call");
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    const Index n = input_shape.size();
    for (Index i = 0; i < n; ++i) check_index(ids[i], i, input_shape);
    for (Index i = 0; i < n; ++i) {
      const T* row = embeddings_.data() + static_cast<Index>(ids[i]) * output_dim_;
      std::copy(row, row + output_dim_, output + i * output_dim_);
    }
  }

  /// Keras `embedding(ids)` on an integer tensor of rank R: returns (..., output_dim), rank R + 1.
  template <class I, int R, std::enable_if_t<std::is_integral_v<I>, int> = 0>
  Tensor<T, R + 1> operator()(const Eigen::Tensor<I, R, Eigen::RowMajor, Index>& ids) const {
    static_assert(R >= 1, "strata::Embedding: the indices must have rank 1 or more (batch, ...).");
    const Shape in = detail::shape_of(ids);
    Tensor<T, R + 1> y(detail::to_dims<R + 1>(compute_output_shape(in)));
    forward_indices(ids.data(), in, y.data(), y.size());
    return y;
  }
  /// The same with indices stored as floating-point values (whole numbers).
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, static_cast<int>(X::NumIndices) + 1> operator()(const X& x) const {
    static_assert(X::NumIndices >= 1, "strata::Embedding: the indices must have rank 1 or more (batch, ...).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  /// Keras compute_mask: with mask_zero, ids != 0 for (batch, time) indices; without, none.
  template <class I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
  std::optional<Mask> compute_mask(const Eigen::Tensor<I, 2, Eigen::RowMajor, Index>& ids) const {
    return compute_mask(ids.data(), detail::shape_of(ids));
  }
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T> || std::is_same_v<X, AnyTensor<T>> ||
                                          std::is_same_v<X, TensorView<T>>,
                                      int> = 0>
  std::optional<Mask> compute_mask(const X& x) const {
    const auto [data, in] = detail::sequence_input<T, 2>(x, describe());
    return compute_mask(data, in);
  }
  /// The same on raw memory; throws shape_error unless the shape is (batch, time).
  template <class I>
  std::optional<Mask> compute_mask(const I* ids, const Shape& in) const {
    if (!mask_zero_) return std::nullopt;
    if (in.rank() != 2) {
      throw shape_error(
          detail::concat(describe(), ": a mask is made from rank-2 indices (batch, time); got ", in.to_string()));
    }
    Mask mask(in[0], in[1]);
    for (Index i = 0; i < in.size(); ++i) mask.data()[i] = ids[i] != I(0);
    return mask;
  }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: input_dim, output_dim, mask_zero (Keras 2's input_length only declared the
  /// input shape). The layer is left without weights: the loader sets the file's. Keras 1 uses
  /// the same names (its dropout drops whole rows in training only) and stores W: embeddings.
  static Embedding from_config(const LayerConfig<T>& config) {
    return Embedding(config.integer("input_dim"), config.integer("output_dim"),
                     EmbeddingOptions().mask_zero(config.boolean("mask_zero", false)).name(config.name()), false);
  }
  /// Keras' weights: embeddings (input_dim, output_dim).
  std::size_t weight_count() const { return 1; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& /*inputs*/) const {
    return {WeightGroup{"", {{"embeddings", Shape{input_dim_, output_dim_}, ""}}}};
  }
  /// Keras compute_mask: with mask_zero, a mask of the indices' shape.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& /*masks*/) const {
    return {mask_zero_ ? detail::only_input(inputs, describe()).rank() : 0};
  }
  /// In a model graph: the looked-up rows, and with mask_zero the mask of (batch, time) indices.
  void call_graph(GraphCall<T>& call) const { call_graph_for(*this, call); }
  /// The graph call of `layer`, which looks its one input's ids up in this embedding (itself, or
  /// TokenAndPositionEmbedding's token embedding): layer's output, and with mask_zero the mask of
  /// (batch, time) ids.
  template <class Layer>
  void call_graph_for(const Layer& layer, GraphCall<T>& call) const {
    if (call.inputs.size() != 1) {
      throw value_error(detail::concat(layer.describe(), ": takes one input; it is given ", call.inputs.size()));
    }
    const TensorView<T>& ids = call.inputs[0].tensor;
    call.outputs.push_back(detail::call_any(layer, ids));
    MaskPtr mask;
    if (mask_zero_ && ids.rank() == 2) mask = std::make_shared<const Mask>(*compute_mask(ids.data(), ids.shape()));
    call.masks.push_back(std::move(mask));
  }

 private:
  // The checks, without weights (from_config).
  Embedding(Index input_dim, Index output_dim, const EmbeddingOptions& options, bool /*initialise*/)
      : input_dim_(input_dim), output_dim_(output_dim), mask_zero_(options.mask_zero()), name_(options.name()) {
    if (input_dim < 1 || output_dim < 1) {
      throw value_error(detail::concat(describe(), ": input_dim and output_dim must be at least 1; got ", input_dim,
                                       " and ", output_dim));
    }
    (void)detail::weight_shape(input_dim, output_dim);
  }

  void require_built(const char* what) const {
    if (!built()) {
      throw value_error(detail::concat(describe(), ": ", what, " needs weights; call set_weights() first"));
    }
  }

  template <class I>
  void check_index(I v, Index flat, const Shape& shape) const {
    bool ok;
    if constexpr (std::is_integral_v<I>) {
      ok = v >= I(0) && static_cast<std::uint64_t>(v) < static_cast<std::uint64_t>(input_dim_);
    } else {
      ok = std::isfinite(v) && v >= I(0) && v < static_cast<I>(input_dim_) && std::floor(v) == v;
    }
    if (ok) return;
    std::string position = "(";
    Index rest = flat;
    std::vector<Index> coords(static_cast<std::size_t>(shape.rank()));
    for (int d = shape.rank() - 1; d >= 0; --d) {
      coords[static_cast<std::size_t>(d)] = rest % shape[d];
      rest /= shape[d];
    }
    for (std::size_t d = 0; d < coords.size(); ++d) position += (d ? ", " : "") + std::to_string(coords[d]);
    position += ")";
    throw value_error(detail::concat(describe(), ": index ", v, " at position ", position,
                                     " is not a valid row; expected an integer in [0, input_dim=", input_dim_, ")"));
  }

  Index input_dim_;
  Index output_dim_;
  bool mask_zero_;
  std::string name_;
  Tensor<T, 2> embeddings_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Embedding)

#endif  // STRATA_LAYERS_EMBEDDING_HPP
