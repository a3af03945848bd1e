// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_POSITION_EMBEDDING_HPP
#define STRATA_LAYERS_POSITION_EMBEDDING_HPP

// keras-hub's position layers (keras_hub/src/layers/modeling/): PositionEmbedding,
// TokenAndPositionEmbedding, SinePositionEncoding, RotaryEmbedding. Keras files name them by their
// registered names, "keras_hub>PositionEmbedding" (and "keras_nlp>..." for files of keras-nlp,
// keras-hub's former name), which is what they are registered under; keras-hub is not needed.

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
#include "embedding.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {

/// The names a keras-hub class is registered under: "keras_hub>Name" and keras-nlp's "keras_nlp>Name".
inline std::vector<std::string> keras_hub_names(const char* name) {
  return {std::string("keras_hub>") + name, std::string("keras_nlp>") + name};
}

/// Throws shape_error unless a position layer's input has rank >= 2 (..., sequence, features).
inline void check_position_input(const Shape& input, const std::string& who) {
  if (input.rank() < 2) {
    throw shape_error(
        concat(who, ": input must have rank >= 2 (..., sequence, features); got shape ", input.to_string()));
  }
}

}  // namespace detail

/// Options of PositionEmbedding: keras-hub's call argument `start_index` (default 0),
/// `PositionEmbeddingOptions().start_index(3)`, and the seed of build()'s initial weights.
class PositionEmbeddingOptions : public detail::Options<PositionEmbeddingOptions> {
 public:
  /// keras-hub's call argument `start_index`: the position of the input's first step.
  PositionEmbeddingOptions& start_index(Index value) {
    start_index_ = value;
    return *this;
  }
  PositionEmbeddingOptions& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }
  Index start_index() const { return start_index_; }
  std::optional<std::uint64_t> seed() const { return seed_; }

 private:
  Index start_index_ = 0;
  std::optional<std::uint64_t> seed_;
};

/// keras-hub `PositionEmbedding(sequence_length)(x, start_index=...)`: learned position embeddings.
///
/// Input (..., T, dim), rank >= 2; output of the same shape: rows start_index ... start_index + T
/// - 1 of `embeddings`, the same for every sample (the input's values are not read).
/// start_index + T must not exceed sequence_length (shape_error). No mask (keras-hub's layer does
/// not support masking: an incoming mask is dropped).
///
/// Weights, as Keras' get_weights(): [embeddings (sequence_length, dim)]; build(dim) draws them
/// from glorot_uniform.
template <class T>
class PositionEmbedding {
  static_assert(std::is_floating_point_v<T>, "strata::PositionEmbedding: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "PositionEmbedding";
  static std::vector<std::string> keras_names() { return detail::keras_hub_names(class_name); }

  /// Throws value_error for sequence_length < 1 or start_index < 0.
  explicit PositionEmbedding(Index sequence_length,
                             const PositionEmbeddingOptions& options = PositionEmbeddingOptions())
      : sequence_length_(sequence_length),
        start_index_(options.start_index()),
        seed_(options.seed()),
        name_(options.name()) {
    if (sequence_length < 1 || start_index_ < 0) {
      throw value_error(detail::concat(describe(),
                                       ": sequence_length must be at least 1 and start_index at least 0; got ",
                                       sequence_length, " and ", start_index_));
    }
  }

  Index sequence_length() const { return sequence_length_; }
  Index start_index() const { return start_index_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  const Tensor<T, 2>& embeddings() const { return embeddings_; }

  bool built() const { return embeddings_.size() > 0; }
  /// Keras build for inputs of `features` values: draws embeddings (glorot_uniform) once.
  void build(Index features) {
    if (built()) return;
    if (features < 1)
      throw value_error(detail::concat(describe(), ": build needs at least one feature; got ", features));
    embeddings_ = Tensor<T, 2>(sequence_length_, features);
    auto gen = detail::Generator::from(seed_);
    detail::glorot_uniform(embeddings_.data(), sequence_length_, features, gen);
  }
  /// Keras get_weights(): [embeddings (sequence_length, dim)].
  Weights<T> get_weights() const {
    require_built("get_weights");
    return {embeddings_};
  }
  /// Keras set_weights(); shape_error unless one array of shape (sequence_length, dim).
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, 1, describe(), "embeddings");
    const AnyTensor<T>& w = weights[0];
    if (w.rank() != 2 || w.shape()[0] != sequence_length_ || w.shape()[1] < 1) {
      throw shape_error(
          detail::concat(describe(), ": weight 0 (embeddings) must have shape (sequence_length=", sequence_length_,
                         ", dim); got ", w.empty() ? std::string("an empty tensor") : w.shape().to_string()));
    }
    embeddings_ = w.template get<2>();
  }
  Index count_params() const { return embeddings_.size(); }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }
  /// The input's shape; shape_error for rank < 2, more steps than the embeddings hold from
  /// start_index, or other features than the embeddings'.
  Shape compute_output_shape(const Shape& input) const {
    detail::check_position_input(input, describe());
    const Index steps = input[input.rank() - 2];
    if (start_index_ + steps > sequence_length_) {
      throw shape_error(detail::concat(describe(), ": input ", input.to_string(), " has ", steps,
                                       " steps; from start_index ", start_index_, " the layer holds ",
                                       sequence_length_ - std::min(start_index_, sequence_length_),
                                       " (sequence_length=", sequence_length_, ")"));
    }
    if (built() && input[input.rank() - 1] != embeddings_.dimension(1)) {
      throw shape_error(detail::concat(describe(), ": input ", input.to_string(), " has ", input[input.rank() - 1],
                                       " features; the embeddings have ", embeddings_.dimension(1)));
    }
    return input;
  }
  /// Writes the embeddings of the input's positions to every sample (output may equal input).
  void forward(const T* /*input*/, const Shape& input_shape, T* output, Index output_size) const {
    require_built("call");
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    const Index block = input_shape[input_shape.rank() - 2] * input_shape[input_shape.rank() - 1];
    const T* rows = embeddings_.data() + start_index_ * embeddings_.dimension(1);
    for (Index o = 0; o + block <= output_size && block > 0; o += block) std::copy(rows, rows + block, output + o);
  }
  static constexpr bool in_place = true;

  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(X::NumIndices >= 2, "strata::PositionEmbedding: the input must have rank 2 or more.");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  // --- Keras description (docs/custom-layers.md)
  /// keras-hub config: sequence_length, initializer (initial weights only); call argument
  /// start_index (a tensor `positions` is refused by the loader).
  static PositionEmbedding from_config(const LayerConfig<T>& config) {
    return PositionEmbedding(config.integer("sequence_length"),
                             PositionEmbeddingOptions()
                                 .start_index(config.call_arguments().integer_or("start_index", 0, 0))
                                 .name(config.name()));
  }
  std::size_t weight_count() const { return 1; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& in = detail::only_input(inputs, describe());
    detail::check_position_input(in, describe());
    return {WeightGroup{"", {{"embeddings", Shape{sequence_length_, in[in.rank() - 1]}, ""}}}};
  }

 private:
  void require_built(const char* what) const {
    if (!built()) {
      throw value_error(
          detail::concat(describe(), ": ", what, " needs weights; call build(dim) or set_weights() first"));
    }
  }

  Index sequence_length_;
  Index start_index_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  Tensor<T, 2> embeddings_;
};

/// Options of TokenAndPositionEmbedding: keras-hub's tie_weights (default true), mask_zero
/// (default false), the call argument start_index (default 0), and the seed of the initial weights.
class TokenAndPositionEmbeddingOptions : public detail::Options<TokenAndPositionEmbeddingOptions> {
 public:
  /// keras-hub `tie_weights`: false adds the token embedding's `reverse_embeddings` (dim, vocab),
  /// which only a reverse call (logits) uses; strata holds it as a weight of the layer.
  TokenAndPositionEmbeddingOptions& tie_weights(bool on) {
    tie_weights_ = on;
    return *this;
  }
  /// keras-hub `mask_zero`: token 0 is padding; the output's mask is ids != 0.
  TokenAndPositionEmbeddingOptions& mask_zero(bool on) {
    mask_zero_ = on;
    return *this;
  }
  TokenAndPositionEmbeddingOptions& start_index(Index value) {
    start_index_ = value;
    return *this;
  }
  TokenAndPositionEmbeddingOptions& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }
  bool tie_weights() const { return tie_weights_; }
  bool mask_zero() const { return mask_zero_; }
  Index start_index() const { return start_index_; }
  std::optional<std::uint64_t> seed() const { return seed_; }

 private:
  bool tie_weights_ = true;
  bool mask_zero_ = false;
  Index start_index_ = 0;
  std::optional<std::uint64_t> seed_;
};

/// keras-hub `TokenAndPositionEmbedding(vocabulary_size, sequence_length, embedding_dim,
/// tie_weights, mask_zero)(ids, start_index=...)`: token embeddings plus position embeddings.
///
/// Input: integer token ids (..., T) (inside a Model, whole numbers of the model's type); output
/// (..., T, embedding_dim) = token_embedding[ids] + position_embedding[start_index + t]. With
/// mask_zero the output's mask is ids != 0 for (batch, time) ids (nothing is zeroed). Token ids
/// outside [0, vocabulary_size) are a value_error, T > sequence_length - start_index a shape_error.
///
/// Weights, as Keras' get_weights(): the sublayer `token_embedding` (a ReversibleEmbedding):
/// [embeddings (vocabulary_size, embedding_dim)] and, with tie_weights=false, [reverse_embeddings
/// (embedding_dim, vocabulary_size)]; then the sublayer `position_embedding`: [embeddings
/// (sequence_length, embedding_dim)]. A .keras file keeps them at
/// `<layer>/token_embedding/vars` and `<layer>/position_embedding/vars`.
template <class T>
class TokenAndPositionEmbedding {
  static_assert(std::is_floating_point_v<T>,
                "strata::TokenAndPositionEmbedding: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "TokenAndPositionEmbedding";
  static std::vector<std::string> keras_names() { return detail::keras_hub_names(class_name); }

  /// Throws value_error for sizes below 1 or a negative start_index. Built at once (weights drawn
  /// as Keras' "uniform" initializer, U(-0.05, 0.05), the default embeddings_initializer).
  TokenAndPositionEmbedding(Index vocabulary_size, Index sequence_length, Index embedding_dim,
                            const TokenAndPositionEmbeddingOptions& options = TokenAndPositionEmbeddingOptions())
      : TokenAndPositionEmbedding(vocabulary_size, sequence_length, embedding_dim, options, false) {
    auto gen = detail::Generator::from(options.seed());
    const auto fill = [&gen](T* data, Index n) {
      for (Index i = 0; i < n; ++i) data[i] = static_cast<T>(0.1 * gen.uniform() - 0.05);
    };
    Tensor<T, 2> tokens(vocabulary_size, embedding_dim), positions(sequence_length, embedding_dim);
    fill(tokens.data(), tokens.size());
    fill(positions.data(), positions.size());
    Weights<T> w{AnyTensor<T>(tokens)};
    if (!tie_weights_) {
      Tensor<T, 2> reverse(embedding_dim, vocabulary_size);
      fill(reverse.data(), reverse.size());
      w.push_back(AnyTensor<T>(reverse));
    }
    w.push_back(AnyTensor<T>(positions));
    set_weights(w);
  }

  Index vocabulary_size() const { return token_.input_dim(); }
  Index sequence_length() const { return position_.sequence_length(); }
  Index embedding_dim() const { return token_.output_dim(); }
  bool tie_weights() const { return tie_weights_; }
  bool mask_zero() const { return token_.mask_zero(); }
  Index start_index() const { return position_.start_index(); }
  const Embedding<T>& token_embedding() const { return token_; }
  const PositionEmbedding<T>& position_embedding() const { return position_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  bool built() const { return token_.built() && position_.built(); }
  void build(Index /*features*/) {}
  /// Keras get_weights(): [token embeddings, (reverse_embeddings,) position embeddings].
  Weights<T> get_weights() const {
    Weights<T> w = token_.get_weights();
    if (!tie_weights_) w.push_back(AnyTensor<T>(reverse_));
    for (AnyTensor<T>& p : position_.get_weights()) w.push_back(std::move(p));
    return w;
  }
  /// Keras set_weights(); shape_error for a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    const std::size_t n = weight_count();
    detail::check_weight_count(weights, n, describe(),
                               tie_weights_ ? "token embeddings, position embeddings"
                                            : "token embeddings, reverse_embeddings, position embeddings");
    const Index v = vocabulary_size(), d = embedding_dim();
    if (!tie_weights_) {
      reverse_ = detail::check_weight<2>(weights[1], Shape{d, v}, describe(), "token_embedding/reverse_embeddings", 1);
    }
    const AnyTensor<T>& pos = weights[n - 1];
    if (pos.shape() != Shape{sequence_length(), d}) {
      throw shape_error(detail::concat(describe(), ": weight ", n - 1,
                                       " (position_embedding/embeddings) must have shape ",
                                       Shape{sequence_length(), d}.to_string(), "; got ",
                                       pos.empty() ? std::string("an empty tensor") : pos.shape().to_string()));
    }
    token_.set_weights({weights[0]});
    position_.set_weights({pos});
  }
  Index count_params() const { return token_.count_params() + reverse_.size() + position_.count_params(); }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? input_rank + 1 : invalid_rank; }
  /// (..., T) -> (..., T, embedding_dim); shape_error for rank 0 or more steps than the position
  /// embeddings hold from start_index.
  Shape compute_output_shape(const Shape& input) const {
    const Shape out = token_.compute_output_shape(input);
    (void)position_.compute_output_shape(out);
    return out;
  }
  /// Looks the tokens up (ids as whole numbers of T), then adds the position embeddings.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    if (!built()) throw value_error(detail::concat(describe(), ": call needs weights; call set_weights() first"));
    const Shape out = compute_output_shape(input_shape);
    token_.forward(input, input_shape, output, output_size);
    const Index block = out[out.rank() - 2] * out[out.rank() - 1];
    const T* rows = position_.embeddings().data() + start_index() * embedding_dim();
    for (Index o = 0; o + block <= output_size && block > 0; o += block) {
      for (Index i = 0; i < block; ++i) output[o + i] += rows[i];
    }
  }

  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(X::NumIndices >= 1, "strata::TokenAndPositionEmbedding: the ids must have rank 1 or more.");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  // --- Keras description (docs/custom-layers.md)
  /// keras-hub config: vocabulary_size, sequence_length, embedding_dim, tie_weights (default
  /// true; older keras-nlp files have none), mask_zero, embeddings_initializer (initial weights
  /// only); call argument start_index. The loader sets the file's weights.
  static TokenAndPositionEmbedding from_config(const LayerConfig<T>& config) {
    return TokenAndPositionEmbedding(config.integer("vocabulary_size"), config.integer("sequence_length"),
                                     config.integer("embedding_dim"),
                                     TokenAndPositionEmbeddingOptions()
                                         .tie_weights(config.boolean("tie_weights", true))
                                         .mask_zero(config.boolean("mask_zero", false))
                                         .start_index(config.call_arguments().integer_or("start_index", 0, 0))
                                         .name(config.name()),
                                     false);
  }
  std::size_t weight_count() const { return tie_weights_ ? 2 : 3; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& /*inputs*/) const {
    const Index v = vocabulary_size(), d = embedding_dim();
    WeightGroup token{"token_embedding", {{"embeddings", Shape{v, d}, ""}}};
    if (!tie_weights_) token.weights.push_back({"reverse_embeddings", Shape{d, v}, " (tie_weights=False)"});
    return {token, WeightGroup{"position_embedding", {{"embeddings", Shape{sequence_length(), d}, ""}}}};
  }
  /// With mask_zero, a mask of the ids' shape (keras-hub sets the token embedding's mask on the sum).
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& /*masks*/) const {
    return {mask_zero() ? detail::only_input(inputs, describe()).rank() : 0};
  }
  void call_graph(GraphCall<T>& call) const { token_.call_graph_for(*this, call); }

 private:
  TokenAndPositionEmbedding(Index vocabulary_size, Index sequence_length, Index embedding_dim,
                            const TokenAndPositionEmbeddingOptions& options, bool /*initialise*/)
      : token_(Embedding<T>::without_weights(
            vocabulary_size, embedding_dim,
            EmbeddingOptions().mask_zero(options.mask_zero()).name(options.name() + "/token_embedding"))),
        position_(
            sequence_length,
            PositionEmbeddingOptions().start_index(options.start_index()).name(options.name() + "/position_embedding")),
        tie_weights_(options.tie_weights()),
        name_(options.name()) {}

  Embedding<T> token_;
  PositionEmbedding<T> position_;
  bool tie_weights_;
  Tensor<T, 2> reverse_;
  std::string name_;
};

/// Options of SinePositionEncoding: keras-hub's max_wavelength (default 10000) and the call
/// argument start_index (default 0).
class SinePositionEncodingOptions : public detail::Options<SinePositionEncodingOptions> {
 public:
  SinePositionEncodingOptions& max_wavelength(double value) {
    max_wavelength_ = value;
    return *this;
  }
  SinePositionEncodingOptions& start_index(Index value) {
    start_index_ = value;
    return *this;
  }
  double max_wavelength() const { return max_wavelength_; }
  Index start_index() const { return start_index_; }

 private:
  double max_wavelength_ = 10000;
  Index start_index_ = 0;
};

/// keras-hub `SinePositionEncoding(max_wavelength)(x, start_index=...)`: the fixed sinusoidal
/// position encoding of "Attention Is All You Need".
///
/// Input (..., T, hidden), rank >= 2; output of the same shape, the same for every sample (the
/// input's values are not read): for position p = start_index + t and feature j,
/// angle = p * (1 / max_wavelength)^(2 * floor(j / 2) / hidden), and the value is sin(angle) for
/// even j, cos(angle) for odd j; computed in T (Keras: in the layer's compute dtype). No weights;
/// no mask (an incoming mask is dropped, as keras-hub's layer does not support masking).
template <class T>
class SinePositionEncoding : public detail::WeightlessLayer<SinePositionEncoding<T>, T> {
 public:
  static constexpr const char* class_name = "SinePositionEncoding";
  static std::vector<std::string> keras_names() { return detail::keras_hub_names(class_name); }

  /// Throws value_error unless max_wavelength > 0 and start_index >= 0.
  explicit SinePositionEncoding(const SinePositionEncodingOptions& options = SinePositionEncodingOptions())
      : max_wavelength_(options.max_wavelength()), start_index_(options.start_index()), name_(options.name()) {
    if (!(max_wavelength_ > 0) || start_index_ < 0) {
      throw value_error(detail::concat(this->describe(),
                                       ": max_wavelength must be positive and start_index at least 0; got ",
                                       max_wavelength_, " and ", start_index_));
    }
  }

  double max_wavelength() const { return max_wavelength_; }
  Index start_index() const { return start_index_; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }
  Shape compute_output_shape(const Shape& input) const {
    detail::check_position_input(input, this->describe());
    return input;
  }
  void forward(const T* /*input*/, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    const Index steps = input_shape[input_shape.rank() - 2], hidden = input_shape[input_shape.rank() - 1];
    const Index block = steps * hidden;
    if (block == 0) return;
    // keras-hub: timescales = min_freq ** (2 * (j // 2) / hidden), min_freq = 1 / max_wavelength.
    const T min_freq = static_cast<T>(1) / static_cast<T>(max_wavelength_);
    for (Index t = 0; t < steps; ++t) {
      const T position = static_cast<T>(t + start_index_);
      for (Index j = 0; j < hidden; ++j) {
        const T timescale = std::pow(min_freq, static_cast<T>(2 * (j / 2)) / static_cast<T>(hidden));
        const T angle = position * timescale;
        output[t * hidden + j] = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
      }
    }
    for (Index o = block; o + block <= output_size; o += block) std::copy(output, output + block, output + o);
  }
  static constexpr bool in_place = true;

  // --- Keras description (docs/custom-layers.md)
  /// keras-hub config: max_wavelength (default 10000); call argument start_index.
  static SinePositionEncoding from_config(const LayerConfig<T>& config) {
    const double wavelength = config.number("max_wavelength", 10000);
    if (!(wavelength > 0)) config.invalid(detail::concat("max_wavelength must be positive; got ", wavelength));
    return SinePositionEncoding(SinePositionEncodingOptions()
                                    .max_wavelength(wavelength)
                                    .start_index(config.call_arguments().integer_or("start_index", 0, 0))
                                    .name(config.name()));
  }

 private:
  double max_wavelength_;
  Index start_index_;
  std::string name_;
};

/// keras-hub RotaryEmbedding's `rope_type`: how `scaling_factor` scales the inverse frequencies.
enum class RopeType {
  /// inverse frequencies / scaling_factor (keras-hub's default).
  linear,
  /// inverse frequencies / scaling_factor^(dim / (dim - 2)).
  dynamic,
  /// inverse frequencies unscaled (any other name but "yarn", which strata does not implement).
  none
};

/// Options of RotaryEmbedding: keras-hub's max_wavelength (10000), scaling_factor (1), rope_type
/// (linear), sequence_axis (1), feature_axis (-1), denominator_dim (the rotary dimension when 0)
/// and the call argument start_index (0).
class RotaryEmbeddingOptions : public detail::Options<RotaryEmbeddingOptions> {
 public:
  RotaryEmbeddingOptions& max_wavelength(double v) {
    max_wavelength_ = v;
    return *this;
  }
  RotaryEmbeddingOptions& scaling_factor(double v) {
    scaling_factor_ = v;
    return *this;
  }
  RotaryEmbeddingOptions& rope_type(RopeType v) {
    rope_type_ = v;
    return *this;
  }
  RotaryEmbeddingOptions& sequence_axis(Index v) {
    sequence_axis_ = v;
    return *this;
  }
  RotaryEmbeddingOptions& feature_axis(Index v) {
    feature_axis_ = v;
    return *this;
  }
  RotaryEmbeddingOptions& denominator_dim(Index v) {
    denominator_dim_ = v;
    return *this;
  }
  RotaryEmbeddingOptions& start_index(Index v) {
    start_index_ = v;
    return *this;
  }
  double max_wavelength() const { return max_wavelength_; }
  double scaling_factor() const { return scaling_factor_; }
  RopeType rope_type() const { return rope_type_; }
  Index sequence_axis() const { return sequence_axis_; }
  Index feature_axis() const { return feature_axis_; }
  Index denominator_dim() const { return denominator_dim_; }
  Index start_index() const { return start_index_; }

 private:
  double max_wavelength_ = 10000;
  double scaling_factor_ = 1;
  RopeType rope_type_ = RopeType::linear;
  Index sequence_axis_ = 1;
  Index feature_axis_ = -1;
  Index denominator_dim_ = 0;
  Index start_index_ = 0;
};

/// keras-hub `RotaryEmbedding(max_wavelength, scaling_factor, rope_type, sequence_axis,
/// feature_axis, denominator_dim)(x, start_index=...)`: rotary position embedding (RoPE).
///
/// Input of rank >= 2 (typically (batch, T, heads, head_dim)) with an even number of features d
/// on feature_axis; output of the same shape. With h = d / 2, position p = start_index + the
/// index along sequence_axis and inv_i = max_wavelength^(-2i / denominator_dim) (scaled as
/// rope_type says), angle_j = p * inv_(j mod h), and
///   out_j = x_j cos(angle_j) - x_(j+h) sin(angle_j)   for j < h,
///   out_j = x_j cos(angle_j) + x_(j-h) sin(angle_j)   for j >= h.
/// As keras-hub, the positions, frequencies, angles and their cos and sin are computed in float32
/// whatever T (then the products in T). No weights; no mask (an incoming mask is dropped).
template <class T>
class RotaryEmbedding : public detail::WeightlessLayer<RotaryEmbedding<T>, T> {
 public:
  static constexpr const char* class_name = "RotaryEmbedding";
  static std::vector<std::string> keras_names() { return detail::keras_hub_names(class_name); }

  /// Throws value_error for a non-positive max_wavelength or scaling_factor, a negative
  /// start_index or denominator_dim.
  explicit RotaryEmbedding(const RotaryEmbeddingOptions& options = RotaryEmbeddingOptions())
      : options_(options), name_(options.name()) {
    if (!(options.max_wavelength() > 0) || !(options.scaling_factor() > 0) || options.start_index() < 0 ||
        options.denominator_dim() < 0) {
      throw value_error(
          detail::concat(this->describe(),
                         ": max_wavelength and scaling_factor must be positive, start_index and denominator_dim "
                         "at least 0; got ",
                         options.max_wavelength(), ", ", options.scaling_factor(), ", ", options.start_index(), ", ",
                         options.denominator_dim()));
    }
  }

  const RotaryEmbeddingOptions& options() const { return options_; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }
  /// The input's shape; shape_error when an axis is out of range, the two axes are one, or the
  /// features are odd.
  Shape compute_output_shape(const Shape& input) const {
    (void)axes(input);
    return input;
  }
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    const auto [seq_axis, feat_axis] = axes(input_shape);
    const Index steps = input_shape[seq_axis], dim = input_shape[feat_axis], half = dim / 2;
    if (output_size == 0) return;
    // The tables, in float32 as keras-hub computes them: inverse frequencies, then the angles.
    const float denom = static_cast<float>(options_.denominator_dim() > 0 ? options_.denominator_dim() : dim);
    std::vector<float> inv(static_cast<std::size_t>(half));
    for (Index i = 0; i < half; ++i) {
      const float range = static_cast<float>(2 * i) / denom;
      float v = std::pow(static_cast<float>(options_.max_wavelength()), -range);
      if (options_.rope_type() == RopeType::linear) {
        v = v / static_cast<float>(options_.scaling_factor());
      } else if (options_.rope_type() == RopeType::dynamic) {
        const float exponent = static_cast<float>(dim) / static_cast<float>(std::max<Index>(1, dim - 2));
        v = v / std::pow(static_cast<float>(options_.scaling_factor()), exponent);
      }
      inv[static_cast<std::size_t>(i)] = v;
    }
    std::vector<T> cos_table(static_cast<std::size_t>(steps * half)), sin_table(cos_table.size());
    for (Index p = 0; p < steps; ++p) {
      const float position = static_cast<float>(p) + static_cast<float>(options_.start_index());
      for (Index i = 0; i < half; ++i) {
        const float angle = position * inv[static_cast<std::size_t>(i)];
        cos_table[static_cast<std::size_t>(p * half + i)] = static_cast<T>(std::cos(angle));
        sin_table[static_cast<std::size_t>(p * half + i)] = static_cast<T>(std::sin(angle));
      }
    }
    const Index feat_stride = input_shape.product(feat_axis + 1, input_shape.rank());
    const Index seq_stride = input_shape.product(seq_axis + 1, input_shape.rank());
    for (Index f = 0; f < output_size; ++f) {
      const Index j = (f / feat_stride) % dim;
      const Index p = (f / seq_stride) % steps;
      const Index i = j < half ? j : j - half;
      const T c = cos_table[static_cast<std::size_t>(p * half + i)];
      const T s = sin_table[static_cast<std::size_t>(p * half + i)];
      const T rotated = j < half ? -input[f + half * feat_stride] : input[f - half * feat_stride];
      output[f] = input[f] * c + rotated * s;
    }
  }

  // --- Keras description (docs/custom-layers.md)
  /// keras-hub config: max_wavelength, scaling_factor, rope_type ("yarn" is refused),
  /// sequence_axis, feature_axis, denominator_dim; call argument start_index.
  static RotaryEmbedding from_config(const LayerConfig<T>& config) {
    const std::string type = config.string("rope_type", "linear");
    if (type == "yarn") config.unsupported("rope_type \"yarn\" is not supported (linear and dynamic are)");
    const RopeType rope = type == "linear" ? RopeType::linear : type == "dynamic" ? RopeType::dynamic : RopeType::none;
    const double wavelength = config.number("max_wavelength", 10000), scaling = config.number("scaling_factor", 1);
    if (!(wavelength > 0) || !(scaling > 0)) {
      config.invalid(
          detail::concat("max_wavelength and scaling_factor must be positive; got ", wavelength, " and ", scaling));
    }
    return RotaryEmbedding(RotaryEmbeddingOptions()
                               .max_wavelength(wavelength)
                               .scaling_factor(scaling)
                               .rope_type(rope)
                               .sequence_axis(config.integer_or("sequence_axis", 1, -8, 8))
                               .feature_axis(config.integer_or("feature_axis", -1, -8, 8))
                               .denominator_dim(config.integer_or("denominator_dim", 0, 0))
                               .start_index(config.call_arguments().integer_or("start_index", 0, 0))
                               .name(config.name()));
  }

 private:
  std::pair<int, int> axes(const Shape& input) const {
    const Index r = input.rank();
    const Index s = options_.sequence_axis() < 0 ? options_.sequence_axis() + r : options_.sequence_axis();
    const Index f = options_.feature_axis() < 0 ? options_.feature_axis() + r : options_.feature_axis();
    if (r < 2 || s < 0 || s >= r || f < 0 || f >= r || s == f) {
      throw shape_error(detail::concat(this->describe(), ": sequence_axis ", options_.sequence_axis(),
                                       " and feature_axis ", options_.feature_axis(),
                                       " must be two different axes of the input; got shape ", input.to_string()));
    }
    if (input[static_cast<int>(f)] % 2 != 0) {
      throw shape_error(detail::concat(this->describe(), ": the rotary dimension (axis ", f, ") must be even; input ",
                                       input.to_string()));
    }
    return {static_cast<int>(s), static_cast<int>(f)};
  }

  RotaryEmbeddingOptions options_;
  std::string name_;
};
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(PositionEmbedding)
STRATA_REGISTER_LAYER(TokenAndPositionEmbedding)
STRATA_REGISTER_LAYER(SinePositionEncoding)
STRATA_REGISTER_LAYER(RotaryEmbedding)

#endif  // STRATA_LAYERS_POSITION_EMBEDDING_HPP
