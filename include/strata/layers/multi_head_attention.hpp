// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_MULTI_HEAD_ATTENTION_HPP
#define STRATA_LAYERS_MULTI_HEAD_ATTENTION_HPP

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
#include "../detail/attention_core.hpp"
#include "../detail/gemm.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"
#include "dense.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of MultiHeadAttention, Keras' arguments and defaults: value_dim (0: key_dim), dropout
/// (0; inference ignores it), use_bias (true), output_shape (empty: the query's last axis),
/// attention_axes (empty: Keras' default, every axis but batch, heads and features), and Keras'
/// call arguments use_causal_mask and return_attention_scores (false), which a loaded model takes
/// from its call.
class MultiHeadAttentionOptions : public detail::Options<MultiHeadAttentionOptions> {
 public:
  MultiHeadAttentionOptions& value_dim(Index v) {
    value_dim_ = v;
    return *this;
  }
  MultiHeadAttentionOptions& dropout(double rate) {
    dropout_ = rate;
    return *this;
  }
  MultiHeadAttentionOptions& use_bias(bool on) {
    use_bias_ = on;
    return *this;
  }
  /// Keras `output_shape`: the output's sizes after the query's sequence axes.
  MultiHeadAttentionOptions& output_shape(std::vector<Index> shape) {
    output_shape_ = std::move(shape);
    return *this;
  }
  /// Keras `attention_axes`; strata supports Keras' default only (value_error otherwise).
  MultiHeadAttentionOptions& attention_axes(std::vector<Index> axes) {
    attention_axes_ = std::move(axes);
    return *this;
  }
  /// Keras' call argument `use_causal_mask`: query step t attends to key steps s <= t only.
  MultiHeadAttentionOptions& use_causal_mask(bool on) {
    use_causal_mask_ = on;
    return *this;
  }
  /// Keras' call argument `return_attention_scores`: a graph call also outputs the scores.
  MultiHeadAttentionOptions& return_attention_scores(bool on) {
    return_attention_scores_ = on;
    return *this;
  }
  /// Seed of the initial kernels (glorot_uniform).
  MultiHeadAttentionOptions& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }
  Index value_dim() const { return value_dim_; }
  double dropout() const { return dropout_; }
  bool use_bias() const { return use_bias_; }
  const std::vector<Index>& output_shape() const { return output_shape_; }
  const std::vector<Index>& attention_axes() const { return attention_axes_; }
  bool use_causal_mask() const { return use_causal_mask_; }
  bool return_attention_scores() const { return return_attention_scores_; }
  std::optional<std::uint64_t> seed() const { return seed_; }

 private:
  Index value_dim_ = 0;
  double dropout_ = 0;
  bool use_bias_ = true;
  std::vector<Index> output_shape_;
  std::vector<Index> attention_axes_;
  bool use_causal_mask_ = false;
  bool return_attention_scores_ = false;
  std::optional<std::uint64_t> seed_;
};

/// The masks of one MultiHeadAttention call (Keras' call arguments): the Keras masks of query,
/// value and key ((batch, steps), true = kept; null: none), an explicit attention_mask ((B, T, S),
/// or (B, N, T, S), nonzero = may attend; a size-1 axis and a missing batch/head axis broadcast),
/// and use_causal_mask. Keras' _compute_attention_mask ANDs them all.
template <class T>
struct AttentionMasks {
  const Mask* query_mask = nullptr;
  const Mask* value_mask = nullptr;
  const Mask* key_mask = nullptr;
  TensorView<T> attention_mask;
  bool use_causal_mask = false;
};

/// What MultiHeadAttention::call returns: the output (B, T..., output_shape) and the attention
/// scores (B, N, T..., S...) (the softmax probabilities, as Keras' return_attention_scores).
template <class T>
struct AttentionResult {
  AnyTensor<T> output;
  AnyTensor<T> scores;
};

template <class T>
class MultiHeadAttention;

/// The key/value cache of MultiHeadAttention::decode_step (a C++ API; Keras has none): for each
/// sample and head, the projected keys and values of the steps decoded so far, in room reserved
/// for max_length steps by MultiHeadAttention::make_cache, so a step allocates nothing.
template <class T>
class MultiHeadAttentionCache {
 public:
  MultiHeadAttentionCache() = default;
  /// Steps decoded so far.
  Index length() const { return length_; }
  Index max_length() const { return max_length_; }
  Index batch() const { return batch_; }
  /// Forgets the steps (keeps the room): the next decode_step is step 0 of a new sequence.
  void clear() { length_ = 0; }

 private:
  friend class MultiHeadAttention<T>;
  Index batch_ = 0, heads_ = 0, key_dim_ = 0, value_dim_ = 0, features_ = 0, max_length_ = 0, length_ = 0;
  std::vector<detail::PackedMatrix<T>> keys_;    // per (sample, head): K^T (key_dim, max_length)
  std::vector<detail::PackedMatrix<T>> values_;  // per (sample, head): V (max_length, value_dim)
  std::vector<T> q_, k_, v_, ctx_, row_;         // one step's projections, context and score row
};

/// Keras 3 `MultiHeadAttention(num_heads, key_dim, value_dim, dropout, use_bias, output_shape,
/// attention_axes)`, called as `mha(query, value, key)`.
///
/// query (B, T..., Fq), value (B, S..., Fv), key (B, S..., Fk) (key defaults to value): each is
/// projected by Keras' EinsumDense (`abc,cde->abde` for rank 3: a Dense to num_heads * key_dim
/// per step); scores = softmax over the key steps of (q / sqrt(key_dim)) . k per head, masked
/// positions getting -1e9 added first (Keras' Softmax masking constant); the heads' score-weighted
/// values go through the output EinsumDense (`abcd,cde->abe`) to output_shape (default: Fq).
/// Attention runs over every axis but batch, heads and features (Keras' default attention_axes;
/// several sequence axes attend jointly, as Keras' softmax over several axes). Dropout is a
/// training option; inference ignores it. Weights, as Keras 3's get_weights(): query kernel (Fq,
/// N, key_dim), query bias (N, key_dim), key kernel (Fk, N, key_dim), key bias, value kernel (Fv,
/// N, value_dim), value bias (N, value_dim), output kernel (N, value_dim, output_shape...),
/// output bias (output_shape...) (no biases without use_bias). Masks: see AttentionMasks; the
/// output carries the query's mask.
template <class T>
class MultiHeadAttention {
  static_assert(std::is_floating_point_v<T>, "strata::MultiHeadAttention: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "MultiHeadAttention";

  /// Throws value_error for num_heads or key_dim < 1, a negative value_dim, an output_shape entry
  /// < 1, or attention_axes other than Keras' default.
  MultiHeadAttention(Index num_heads, Index key_dim,
                     const MultiHeadAttentionOptions& options = MultiHeadAttentionOptions())
      : heads_(num_heads),
        key_dim_(key_dim),
        value_dim_(options.value_dim() > 0 ? options.value_dim() : key_dim),
        dropout_(options.dropout()),
        use_bias_(options.use_bias()),
        output_shape_(options.output_shape()),
        attention_axes_(options.attention_axes()),
        causal_(options.use_causal_mask()),
        return_scores_(options.return_attention_scores()),
        seed_(options.seed()),
        name_(options.name()) {
    if (num_heads < 1 || key_dim < 1 || options.value_dim() < 0) {
      throw value_error(detail::concat(describe(),
                                       ": num_heads and key_dim must be at least 1 and value_dim >= 0; got ", num_heads,
                                       ", ", key_dim, ", ", options.value_dim()));
    }
    for (Index d : output_shape_) {
      if (d < 1) throw value_error(detail::concat(describe(), ": output_shape entries must be at least 1"));
    }
    if (dropout_ < 0 || dropout_ >= 1) {
      throw value_error(detail::concat(describe(), ": dropout must be in [0, 1); got ", dropout_));
    }
  }

  Index num_heads() const { return heads_; }
  Index key_dim() const { return key_dim_; }
  Index value_dim() const { return value_dim_; }
  bool use_bias() const { return use_bias_; }
  bool use_causal_mask() const { return causal_; }
  bool return_attention_scores() const { return return_scores_; }
  const std::vector<Index>& output_shape() const { return output_shape_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  bool built() const { return built_; }

  /// Keras build(query_shape, value_shape, key_shape) from the feature sizes: glorot_uniform
  /// kernels, zero biases.
  void build(Index query_features, Index value_features, Index key_features) {
    if (query_features < 1 || value_features < 1 || key_features < 1) {
      throw value_error(detail::concat(describe(), ": input features must be at least 1"));
    }
    const Index out = out_size(query_features);
    auto make = [&](Index in, Index units, std::uint64_t salt) {
      DenseOptions o;
      o.use_bias(use_bias_);
      if (seed_) o.seed(*seed_ + salt);
      Dense<T> d(units, o);
      d.build(in);
      return d;
    };
    query_.emplace(make(query_features, heads_ * key_dim_, 0));
    key_.emplace(make(key_features, heads_ * key_dim_, 1));
    value_.emplace(make(value_features, heads_ * value_dim_, 2));
    output_.emplace(make(heads_ * value_dim_, out, 3));
    query_features_ = query_features;
    built_ = true;
  }
  /// The layer concept's build: query, value and key with `features` values each.
  void build(Index features) { build(features, features, features); }

  /// Keras 3 get_weights() (see the class comment).
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w;
    const Index fq = query_features_;
    const Index fk = key_->input_dim(), fv = value_->input_dim();
    add(w, *query_, Shape{fq, heads_, key_dim_}, Shape{heads_, key_dim_});
    add(w, *key_, Shape{fk, heads_, key_dim_}, Shape{heads_, key_dim_});
    add(w, *value_, Shape{fv, heads_, value_dim_}, Shape{heads_, value_dim_});
    Shape ok{heads_, value_dim_};
    Shape ob;
    for (Index d : out_dims(fq)) {
      ok.push_back(d);
      ob.push_back(d);
    }
    add(w, *output_, ok, ob);
    return w;
  }

  /// Keras 3 set_weights(): the list get_weights() gives; builds the layer, taking the feature
  /// sizes from the kernels. Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    const std::size_t per = use_bias_ ? 2 : 1;
    detail::check_weight_count(weights, 4 * per, describe(),
                               use_bias_ ? "query kernel, query bias, key kernel, key bias, value kernel, value bias, "
                                           "output kernel, output bias"
                                         : "query kernel, key kernel, value kernel, output kernel");
    const auto feat = [&](std::size_t i, Index dim, const char* what) {
      const AnyTensor<T>& k = weights[i * per];
      if (k.empty() || k.shape().rank() != 3 || k.shape()[0] < 1 || k.shape()[1] != heads_ || k.shape()[2] != dim) {
        throw shape_error(detail::concat(describe(), ": weight ", i * per, " (", what,
                                         " kernel) must have shape (features, ", heads_, ", ", dim, "); got ",
                                         k.empty() ? std::string("an empty tensor") : k.shape().to_string()));
      }
      return k.shape()[0];
    };
    const Index fq = feat(0, key_dim_, "query"), fk = feat(1, key_dim_, "key"), fv = feat(2, value_dim_, "value");
    Shape ok{heads_, value_dim_}, ob;
    for (Index d : out_dims(fq)) {
      ok.push_back(d);
      ob.push_back(d);
    }
    const auto dense = [&](std::size_t i, Index in, Index units, const Shape& kshape, const Shape& bshape,
                           const char* what) {
      const std::size_t k = i * per;
      if (weights[k].empty() || weights[k].shape() != kshape) {
        throw shape_error(detail::concat(
            describe(), ": weight ", k, " (", what, " kernel) must have shape ", kshape.to_string(), "; got ",
            weights[k].empty() ? std::string("an empty tensor") : weights[k].shape().to_string()));
      }
      Weights<T> dw{AnyTensor<T>::from_values(Shape{in, units}, values(weights[k]))};
      if (use_bias_) {
        if (weights[k + 1].empty() || weights[k + 1].shape() != bshape) {
          throw shape_error(detail::concat(
              describe(), ": weight ", k + 1, " (", what, " bias) must have shape ", bshape.to_string(), "; got ",
              weights[k + 1].empty() ? std::string("an empty tensor") : weights[k + 1].shape().to_string()));
        }
        dw.push_back(AnyTensor<T>::from_values(Shape{units}, values(weights[k + 1])));
      }
      Dense<T> d(units, DenseOptions().use_bias(use_bias_));
      d.set_weights(dw);
      return d;
    };
    const Index out = out_size(fq);
    Dense<T> q = dense(0, fq, heads_ * key_dim_, Shape{fq, heads_, key_dim_}, Shape{heads_, key_dim_}, "query");
    Dense<T> k = dense(1, fk, heads_ * key_dim_, Shape{fk, heads_, key_dim_}, Shape{heads_, key_dim_}, "key");
    Dense<T> v = dense(2, fv, heads_ * value_dim_, Shape{fv, heads_, value_dim_}, Shape{heads_, value_dim_}, "value");
    Dense<T> o = dense(3, heads_ * value_dim_, out, ok, ob, "output");
    query_.emplace(std::move(q));
    key_.emplace(std::move(k));
    value_.emplace(std::move(v));
    output_.emplace(std::move(o));
    query_features_ = fq;
    built_ = true;
  }

  Index count_params() const {
    require_built("count_params");
    return query_->count_params() + key_->count_params() + value_->count_params() + output_->count_params();
  }

  /// Keras' output shape for query, value and key shapes (key: value's when not given): the
  /// query's shape with its last axis replaced by output_shape. Throws shape_error naming the
  /// shapes: ranks below 3 or unequal, batch sizes or value/key sequence axes that differ, or
  /// feature sizes other than the kernels'.
  Shape output_shape_for(const Shape& query, const Shape& value, const Shape& key) const {
    require_built("call");
    const auto bad = [&](const std::string& why) {
      throw shape_error(detail::concat(describe(), ": ", why, "; got query ", query.to_string(), ", value ",
                                       value.to_string(), ", key ", key.to_string()));
    };
    if (query.rank() < 3 || value.rank() != query.rank() || key.rank() != query.rank()) {
      bad("query, value and key must have one rank >= 3 (batch, steps..., features)");
    }
    if (value[0] != query[0] || key[0] != query[0]) bad("the batch sizes must agree");
    for (int d = 1; d + 1 < value.rank(); ++d) {
      if (value[d] != key[d]) bad("all dimensions of value and key, except the last one, must be equal");
    }
    if (query.back() != query_features_ || value.back() != value_->input_dim() || key.back() != key_->input_dim()) {
      bad(detail::concat("the feature sizes must be the kernels' (query ", query_features_, ", value ",
                         value_->input_dim(), ", key ", key_->input_dim(), ")"));
    }
    Shape out;
    for (int d = 0; d + 1 < query.rank(); ++d) out.push_back(query[d]);
    for (Index d : out_dims(query_features_)) out.push_back(d);
    (void)out.size();
    return out;
  }
  /// The scores' shape (B, N, T..., S...).
  Shape scores_shape_for(const Shape& query, const Shape& value) const {
    Shape s{query[0], heads_};
    for (int d = 1; d + 1 < query.rank(); ++d) s.push_back(query[d]);
    for (int d = 1; d + 1 < value.rank(); ++d) s.push_back(value[d]);
    (void)s.size();
    return s;
  }

  /// Keras `mha(query, value, key, ..., return_attention_scores=True)`: the output and the
  /// scores. `key` may be empty (then value is the key).
  AttentionResult<T> call(const TensorView<T>& query, const TensorView<T>& value, const TensorView<T>& key,
                          const AttentionMasks<T>& masks) const {
    return call_with(query, value, key, masks, true);
  }

  /// Keras `mha(query, value)` (self-attention: `mha(x, x)`): the output, (B, T..., output_shape).
  template <class Q, class V>
  AnyTensor<T> operator()(const Q& query, const V& value) const {
    AttentionMasks<T> m;
    m.use_causal_mask = causal_;
    return call_with(TensorView<T>(query), TensorView<T>(value), TensorView<T>(), m, false).output;
  }
  /// Keras `mha(query, value, key)`.
  template <class Q, class V, class K>
  AnyTensor<T> operator()(const Q& query, const V& value, const K& key) const {
    AttentionMasks<T> m;
    m.use_causal_mask = causal_;
    return call_with(TensorView<T>(query), TensorView<T>(value), TensorView<T>(key), m, false).output;
  }

  /// A cache for decode_step: `batch` sequences of up to max_length steps. Allocates all its room
  /// now. Throws value_error for a max_length or batch below 1, or an unbuilt layer.
  MultiHeadAttentionCache<T> make_cache(Index max_length, Index batch = 1) const {
    require_built("make_cache");
    if (max_length < 1 || batch < 1) {
      throw value_error(
          detail::concat(describe(), ": make_cache needs max_length and batch >= 1; got ", max_length, " and ", batch));
    }
    MultiHeadAttentionCache<T> c;
    c.batch_ = batch;
    c.heads_ = heads_;
    c.key_dim_ = key_dim_;
    c.value_dim_ = value_dim_;
    c.features_ = query_features_;
    c.max_length_ = max_length;
    c.keys_.resize(static_cast<std::size_t>(batch * heads_));
    c.values_.resize(static_cast<std::size_t>(batch * heads_));
    for (auto& k : c.keys_) k.reserve(key_dim_, max_length);
    for (auto& v : c.values_) v.reserve(max_length, value_dim_);
    c.q_.resize(static_cast<std::size_t>(batch * heads_ * key_dim_));
    c.k_.resize(static_cast<std::size_t>(batch * heads_ * key_dim_));
    c.v_.resize(static_cast<std::size_t>(batch * heads_ * value_dim_));
    c.ctx_.resize(static_cast<std::size_t>(batch * heads_ * value_dim_));
    c.row_.resize(static_cast<std::size_t>(max_length));
    return c;
  }

  /// Autoregressive decoding, one new step per call: causal self-attention of the step x (batch,
  /// features: one row per sample, the query's features) over itself and the cache's earlier
  /// steps, written to y (batch, output size). It is row t (t = cache.length() before the call) of
  /// `mha(x_seq, x_seq, use_causal_mask=True)` on the whole sequence, bitwise: the same
  /// projections (row by row), the same multiply-add chains for the scores and the context, and
  /// the key steps after t, which the full call masks, add exact zeros there (unless a value is
  /// infinite or NaN). The layer's own use_causal_mask option does not matter here. Allocates
  /// nothing. Throws value_error when the cache is full or was made for another layer shape, and
  /// shape_error when query, key and value features differ (decoding is self-attention).
  void decode_step(MultiHeadAttentionCache<T>& cache, const T* x, T* y) const {
    require_built("decode_step");
    if (cache.heads_ != heads_ || cache.key_dim_ != key_dim_ || cache.value_dim_ != value_dim_ ||
        cache.features_ != query_features_) {
      throw value_error(detail::concat(describe(), ": decode_step needs a cache made by this layer's make_cache"));
    }
    if (key_->input_dim() != query_features_ || value_->input_dim() != query_features_) {
      throw shape_error(detail::concat(describe(), ": decode_step is self-attention; query, value and key features (",
                                       query_features_, ", ", value_->input_dim(), ", ", key_->input_dim(),
                                       ") must agree"));
    }
    if (cache.length_ >= cache.max_length_) {
      throw value_error(detail::concat(describe(), ": the decoding cache is full (max_length ", cache.max_length_,
                                       "); clear() it or make a longer one"));
    }
    const Index batch = cache.batch_, t = cache.length_, hk = heads_ * key_dim_, hv = heads_ * value_dim_;
    const Shape in{batch, query_features_};
    query_->forward(x, in, cache.q_.data(), batch * hk);
    key_->forward(x, in, cache.k_.data(), batch * hk);
    value_->forward(x, in, cache.v_.data(), batch * hv);
    const T scale = query_scale();
    for (T& q : cache.q_) q *= scale;
    T* row = cache.row_.data();
    for (Index b = 0; b < batch; ++b) {
      for (Index n = 0; n < heads_; ++n) {
        detail::PackedMatrix<T>& keys = cache.keys_[static_cast<std::size_t>(b * heads_ + n)];
        detail::PackedMatrix<T>& values = cache.values_[static_cast<std::size_t>(b * heads_ + n)];
        keys.set_column(t, cache.k_.data() + b * hk + n * key_dim_, 1, key_dim_);
        keys.resize(key_dim_, t + 1);
        values.set_row(t, cache.v_.data() + b * hv + n * value_dim_, value_dim_);
        values.resize(t + 1, value_dim_);
        // As the attention core computes a row (detail/attention_core.hpp).
        const detail::GemmTerm<T> qk{cache.q_.data() + b * hk + n * key_dim_, hk, &keys};
        detail::gemm_tiled(1, t + 1, &qk, 1, static_cast<const detail::PackedMatrix<T>*>(nullptr), row, t + 1);
        detail::softmax_row(row, t + 1, false);
        const detail::GemmTerm<T> pv{row, t + 1, &values};
        detail::gemm_tiled(1, value_dim_, &pv, 1, static_cast<const detail::PackedMatrix<T>*>(nullptr),
                           cache.ctx_.data() + b * hv + n * value_dim_, hv);
      }
    }
    output_->forward(cache.ctx_.data(), Shape{batch, hv}, y, batch * output_->units());
    cache.length_ = t + 1;
  }
  /// decode_step on a (batch, features) or (batch, 1, features) tensor; returns (batch, output
  /// shape...). Allocates the result.
  AnyTensor<T> decode_step(MultiHeadAttentionCache<T>& cache, const TensorView<T>& x) const {
    require_built("decode_step");
    const Shape& s = x.shape();
    const bool ok = !x.empty() && s[0] == cache.batch_ && s.back() == query_features_ &&
                    (s.rank() == 2 || (s.rank() == 3 && s[1] == 1));
    if (!ok) {
      throw shape_error(detail::concat(describe(), ": decode_step takes one step, (batch=", cache.batch_,
                                       ", features=", query_features_, ") or (batch, 1, features); got ",
                                       x.empty() ? std::string("an empty tensor") : s.to_string()));
    }
    Shape out{cache.batch_};
    if (s.rank() == 3) out.push_back(1);
    for (Index d : out_dims(query_features_)) out.push_back(d);
    AnyTensor<T> y = AnyTensor<T>::uninitialized(out);
    decode_step(cache, x.data(), y.data());
    return y;
  }

  // The single-input layer concept: self-attention mha(x, x).
  static constexpr int output_rank(int input_rank) { return input_rank >= 3 ? dynamic_rank : invalid_rank; }
  Shape compute_output_shape(const Shape& input) const { return output_shape_for(input, input, input); }
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out = compute_output_shape(input_shape);
    detail::check_output_size(*this, out, output_size);
    const TensorView<T> x(input, input_shape);
    AttentionMasks<T> m;
    m.use_causal_mask = causal_;
    run(x, x, x, m, output, nullptr);
  }
  bool carries_state() const { return false; }
  int output_count() const { return return_scores_ ? 2 : 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: num_heads, key_dim, value_dim (null: key_dim), dropout, use_bias, output_shape
  /// (null, an integer or a list), attention_axes (null or Keras' default only). A loaded model's
  /// call arguments (LayerConfig::call_arguments): use_causal_mask, return_attention_scores, and
  /// the inputs passed by keyword: value (tf.keras 2 writes it so), key, attention_mask.
  static MultiHeadAttention from_config(const LayerConfig<T>& config) {
    MultiHeadAttentionOptions o;
    o.name(config.name());
    if (config.has("value_dim") && !config.get("value_dim").is_null()) o.value_dim(config.integer("value_dim"));
    o.dropout(config.number("dropout", 0.0)).use_bias(config.boolean("use_bias", true));
    config.refuse("softmax_robust_masking");  // tf.keras 2.13+: a softmax masking strata does not implement
    if (config.has("output_shape") && !config.get("output_shape").is_null()) {
      const Config& os = config.get("output_shape");
      o.output_shape(os.is_integer() ? std::vector<Index>{static_cast<Index>(os.as_integer())}
                                     : config.integers("output_shape"));
    }
    if (config.has("attention_axes") && !config.get("attention_axes").is_null()) {
      const Config& ax = config.get("attention_axes");
      o.attention_axes(ax.is_integer() ? std::vector<Index>{static_cast<Index>(ax.as_integer())}
                                       : config.integers("attention_axes"));
    }
    const LayerConfig<T> call = config.call_arguments();
    o.use_causal_mask(call.boolean("use_causal_mask", false));
    o.return_attention_scores(call.boolean("return_attention_scores", false));
    // Each input's role: "" for a positional one (query, value, key in turn), else its keyword.
    const std::vector<std::string> roles = call.tensor_roles({"value", "key", "attention_mask"});
    MultiHeadAttention layer(config.integer("num_heads"), config.integer("key_dim"), o);
    layer.check_attention_axes_config(config);
    layer.roles_ = roles;
    return layer;
  }
  std::size_t weight_count() const { return use_bias_ ? 8 : 4; }
  /// Keras 3 keeps the weights in the sublayers query_dense, key_dense, value_dense and
  /// output_dense (a .keras file's `<layer>/query_dense/vars/0` ...).
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Roles r = roles_of(inputs.size());
    const Shape& q = inputs[0];
    const Shape& v = inputs[r.value];
    const Shape& k = r.key >= 0 ? inputs[static_cast<std::size_t>(r.key)] : v;
    const auto group = [&](const char* path, Shape kernel, Shape bias) {
      WeightGroup g{path, {{"kernel", std::move(kernel), ""}}};
      if (use_bias_) g.weights.push_back({"bias", std::move(bias), ""});
      return g;
    };
    Shape ok{heads_, value_dim_}, ob;
    for (Index d : out_dims(q.back())) {
      ok.push_back(d);
      ob.push_back(d);
    }
    return {group("query_dense", Shape{q.back(), heads_, key_dim_}, Shape{heads_, key_dim_}),
            group("key_dense", Shape{k.back(), heads_, key_dim_}, Shape{heads_, key_dim_}),
            group("value_dense", Shape{v.back(), heads_, value_dim_}, Shape{heads_, value_dim_}),
            group("output_dense", ok, ob)};
  }
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    const Roles r = roles_of(inputs.size());
    const Shape& v = inputs[r.value];
    const Shape& k = r.key >= 0 ? inputs[static_cast<std::size_t>(r.key)] : v;
    std::vector<Shape> out{output_shape_for(inputs[0], v, k)};
    if (return_scores_) out.push_back(scores_shape_for(inputs[0], v));
    return out;
  }
  /// The output carries the query's mask; the scores none.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    (void)output_shapes(inputs);
    std::vector<int> r{masks.empty() ? 0 : masks[0]};
    if (return_scores_) r.push_back(0);
    return r;
  }
  void call_graph(GraphCall<T>& c) const {
    const Roles r = roles_of(c.inputs.size());
    for (const GraphInput<T>& in : c.inputs) {
      if (in.tensor.empty()) throw shape_error(detail::concat(describe(), ": an input tensor is empty"));
    }
    AttentionMasks<T> m;
    m.use_causal_mask = causal_;
    m.query_mask = c.inputs[0].mask.get();
    m.value_mask = c.inputs[r.value].mask.get();
    if (r.key >= 0) m.key_mask = c.inputs[static_cast<std::size_t>(r.key)].mask.get();
    if (r.attention_mask >= 0) m.attention_mask = c.inputs[static_cast<std::size_t>(r.attention_mask)].tensor;
    AttentionResult<T> res =
        call_with(c.inputs[0].tensor, c.inputs[r.value].tensor,
                  r.key >= 0 ? c.inputs[static_cast<std::size_t>(r.key)].tensor : TensorView<T>(), m, return_scores_);
    c.outputs.push_back(std::move(res.output));
    c.masks.push_back(c.inputs[0].mask);
    if (return_scores_) {
      c.outputs.push_back(std::move(res.scores));
      c.masks.push_back(MaskPtr());
    }
  }

 private:
  // Where query, value, key and attention_mask sit among a graph call's inputs.
  using Roles = detail::AttentionRoles;
  Roles roles_of(std::size_t n) const { return detail::attention_roles(roles_, n, describe()); }

  void check_attention_axes_config(const LayerConfig<T>& config) const {
    if (attention_axes_.empty()) return;
    // Keras normalises axes against the projected rank (query rank + 1); the default is
    // (1, ..., rank - 2). Only a list equal to the default for some query rank is accepted: a
    // rank-3 query's (1,) or (-3,), a rank-4 query's (1, 2) or (-4, -3), ...
    const Index n = static_cast<Index>(attention_axes_.size());
    for (Index i = 0; i < n; ++i) {
      const Index a = attention_axes_[static_cast<std::size_t>(i)];
      if (a != i + 1 && a != i - n - 2) {
        config.unsupported(
            detail::concat("attention_axes other than Keras' default (every axis but batch, heads and "
                           "features) are not supported; got ",
                           config.get("attention_axes").dump()));
      }
    }
  }

  static std::vector<T> values(const AnyTensor<T>& t) { return std::vector<T>(t.data(), t.data() + t.size()); }

  std::vector<Index> out_dims(Index query_features) const {
    return output_shape_.empty() ? std::vector<Index>{query_features} : output_shape_;
  }
  Index out_size(Index query_features) const {
    Index n = 1;
    for (Index d : out_dims(query_features)) n *= d;
    return n;
  }

  static void add(Weights<T>& w, const Dense<T>& d, const Shape& kernel, const Shape& bias) {
    const Tensor<T, 2> k = d.kernel();
    w.push_back(AnyTensor<T>::from_values(kernel, std::vector<T>(k.data(), k.data() + k.size())));
    if (d.use_bias()) w.push_back(AnyTensor<T>::from_values(bias, values(AnyTensor<T>(d.bias()))));
  }

  void require_built(const char* what) const {
    if (!built_) {
      throw value_error(detail::concat(describe(), ": ", what, " needs weights; call build() or set_weights() first"));
    }
  }

  // call(), with the scores only when asked for (without them the core keeps one score block).
  AttentionResult<T> call_with(const TensorView<T>& query, const TensorView<T>& value, const TensorView<T>& key,
                               const AttentionMasks<T>& masks, bool want_scores) const {
    if (query.empty() || value.empty()) throw shape_error(detail::concat(describe(), ": an input tensor is empty"));
    const TensorView<T>& k = key.empty() ? value : key;
    const Shape out_shape = output_shape_for(query.shape(), value.shape(), k.shape());
    AttentionResult<T> r;
    r.output = AnyTensor<T>::uninitialized(out_shape);
    if (want_scores) r.scores = AnyTensor<T>::uninitialized(scores_shape_for(query.shape(), value.shape()));
    run(query, value, k, masks, r.output.data(), want_scores ? r.scores.data() : nullptr);
    return r;
  }

  // Checks the masks of a call against the shapes and describes them for the attention core
  // (Keras' _compute_attention_mask).
  detail::AttentionMaskSpec<T> mask_spec(const AttentionMasks<T>& m, Index batch, Index t_len, Index s_len,
                                         const Shape& q, const Shape& v) const {
    detail::AttentionMaskSpec<T> p;
    const auto check = [&](const Mask* mask, Index steps, const char* which, const Shape& x) {
      if (mask == nullptr) return;
      if (x.rank() != 3) {
        throw shape_error(detail::concat(describe(), ": a ", which, " mask is (batch, steps) of a rank-3 ", which,
                                         "; got ", which, " ", x.to_string()));
      }
      detail::check_mask(*mask, batch, steps, describe() + " (" + which + " mask)");
    };
    check(m.query_mask, t_len, "query", q);
    check(m.value_mask, s_len, "value", v);
    check(m.key_mask, s_len, "key", v);
    p.query_mask = m.query_mask;
    p.value_mask = m.value_mask;
    p.key_mask = m.key_mask;
    if (m.use_causal_mask) {
      if (q.rank() != 3) {
        throw shape_error(
            detail::concat(describe(), ": use_causal_mask needs rank-3 query and value; got query ", q.to_string()));
      }
      p.causal = true;
    }
    if (!m.attention_mask.empty()) {
      const Shape& a = m.attention_mask.shape();
      // Keras expands the mask at the head axis (and the batch axis) until it has the scores'
      // rank, then broadcasts.
      const Index full[4] = {batch, heads_, t_len, s_len};
      Shape am;
      if (a.rank() == 2) {
        am = Shape{1, 1, a[0], a[1]};
      } else if (a.rank() == 3) {
        am = Shape{a[0], 1, a[1], a[2]};
      } else if (a.rank() == 4) {
        am = a;
      }
      bool ok = am.rank() == 4 && q.rank() == 3;
      for (int d = 0; ok && d < 4; ++d) ok = am[d] == full[d] || am[d] == 1;
      if (!ok) {
        throw shape_error(detail::concat(describe(), ": attention_mask must broadcast to (batch=", batch,
                                         ", heads=", heads_, ", T=", t_len, ", S=", s_len,
                                         ") as (B, T, S) or (B, N, T, S) of a rank-3 query; got ", a.to_string()));
      }
      p.attention_mask = m.attention_mask.data();
      for (int d = 0; d < 4; ++d) p.attention_mask_shape[d] = am[d];
    }
    return p;
  }

  // The projections, the attention core (detail/attention_core.hpp) and the output projection;
  // scores (B, N, T, S) is written when not null.
  void run(const TensorView<T>& query, const TensorView<T>& value, const TensorView<T>& key, const AttentionMasks<T>& m,
           T* out, T* scores) const {
    const Shape& qs = query.shape();
    const Shape& vs = value.shape();
    const Index batch = qs[0];
    const Index t_len = qs.product(1, qs.rank() - 1);
    const Index s_len = vs.product(1, vs.rank() - 1);
    const detail::AttentionMaskSpec<T> spec = mask_spec(m, batch, t_len, s_len, qs, vs);
    const Index hk = heads_ * key_dim_, hv = heads_ * value_dim_;
    // Projections: Keras' EinsumDense on the last axis is a Dense to heads * dim.
    std::vector<T> qp(static_cast<std::size_t>(batch * t_len * hk)), kp(static_cast<std::size_t>(batch * s_len * hk)),
        vp(static_cast<std::size_t>(batch * s_len * hv)), ctx(static_cast<std::size_t>(batch * t_len * hv));
    if (!qp.empty())
      query_->forward(query.data(), Shape{batch * t_len, qs.back()}, qp.data(), static_cast<Index>(qp.size()));
    if (!kp.empty())
      key_->forward(key.data(), Shape{batch * s_len, key.shape().back()}, kp.data(), static_cast<Index>(kp.size()));
    if (!vp.empty())
      value_->forward(value.data(), Shape{batch * s_len, vs.back()}, vp.data(), static_cast<Index>(vp.size()));
    // Keras scales the projected query by 1/sqrt(key_dim) before the product.
    const T scale = query_scale();
    for (T& x : qp) x *= scale;
    detail::AttentionSizes z;
    z.batch = batch;
    z.query_heads = z.kv_heads = heads_;
    z.query_steps = t_len;
    z.key_steps = s_len;
    z.key_dim = key_dim_;
    z.value_dim = value_dim_;
    detail::AttentionWorkspace<T> work;
    detail::attention(z, detail::HeadLayout<T>{qp.data(), t_len * hk, hk, key_dim_},
                      detail::HeadLayout<T>{kp.data(), s_len * hk, hk, key_dim_},
                      detail::HeadLayout<T>{vp.data(), s_len * hv, hv, value_dim_}, spec,
                      detail::OutputLayout<T>{ctx.data(), t_len * hv, hv, value_dim_}, scores, work);
    const Index rows = batch * t_len;
    if (rows > 0) output_->forward(ctx.data(), Shape{rows, hv}, out, rows * output_->units());
  }
  T query_scale() const { return static_cast<T>(1.0 / std::sqrt(static_cast<double>(key_dim_))); }

  Index heads_, key_dim_, value_dim_;
  double dropout_;
  bool use_bias_;
  std::vector<Index> output_shape_;
  std::vector<Index> attention_axes_;
  bool causal_, return_scores_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  std::vector<std::string> roles_;
  bool built_ = false;
  Index query_features_ = 0;
  std::optional<Dense<T>> query_, key_, value_, output_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(MultiHeadAttention)

#endif  // STRATA_LAYERS_MULTI_HEAD_ATTENTION_HPP
