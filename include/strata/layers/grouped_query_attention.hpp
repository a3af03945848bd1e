// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_GROUPED_QUERY_ATTENTION_HPP
#define STRATA_LAYERS_GROUPED_QUERY_ATTENTION_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../detail/attention_core.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"
#include "dense.hpp"
#include "multi_head_attention.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of GroupedQueryAttention, Keras' arguments and defaults: dropout (0; inference ignores
/// it, but a nonzero rate selects Keras' softmax path, see the class comment), use_bias (true),
/// flash_attention (null; a speed choice of Keras' backends that changes nothing computed here),
/// and Keras' call arguments use_causal_mask and return_attention_scores (false), which a loaded
/// model takes from its call.
class GroupedQueryAttentionOptions : public detail::Options<GroupedQueryAttentionOptions> {
 public:
  GroupedQueryAttentionOptions& dropout(double rate) {
    dropout_ = rate;
    return *this;
  }
  GroupedQueryAttentionOptions& use_bias(bool on) {
    use_bias_ = on;
    return *this;
  }
  GroupedQueryAttentionOptions& flash_attention(std::optional<bool> on) {
    flash_attention_ = on;
    return *this;
  }
  /// Keras' call argument `use_causal_mask`: query step t attends to key steps s <= t only.
  GroupedQueryAttentionOptions& use_causal_mask(bool on) {
    use_causal_mask_ = on;
    return *this;
  }
  /// Keras' call argument `return_attention_scores`: a graph call also outputs the scores.
  GroupedQueryAttentionOptions& return_attention_scores(bool on) {
    return_attention_scores_ = on;
    return *this;
  }
  /// Seed of the initial kernels (glorot_uniform).
  GroupedQueryAttentionOptions& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }
  double dropout() const { return dropout_; }
  bool use_bias() const { return use_bias_; }
  std::optional<bool> flash_attention() const { return flash_attention_; }
  bool use_causal_mask() const { return use_causal_mask_; }
  bool return_attention_scores() const { return return_attention_scores_; }
  std::optional<std::uint64_t> seed() const { return seed_; }

 private:
  double dropout_ = 0;
  bool use_bias_ = true;
  std::optional<bool> flash_attention_;
  bool use_causal_mask_ = false;
  bool return_attention_scores_ = false;
  std::optional<std::uint64_t> seed_;
};

/// Keras 3 `GroupedQueryAttention(head_dim, num_query_heads, num_key_value_heads, dropout,
/// use_bias, flash_attention)`, called as `gqa(query, value, key)`.
///
/// query (B, T, F), value (B, S, F), key (B, S, Fk) (key defaults to value; Keras requires query
/// and value to have the same features F). Keras' EinsumDense projections `bqm,muh->bquh` (query,
/// num_query_heads heads) and `bkm,mvh->bkvh` (key and value, num_key_value_heads heads); each
/// key/value head serves num_query_heads / num_key_value_heads consecutive query heads (Keras'
/// ops.repeat on the head axis; strata reads the shared head in place, nothing is repeated);
/// scores = softmax over the key steps of (q / sqrt(head_dim)) . k; the heads' score-weighted values
/// go through `bquh,uhm->bqm` back to F features. Masks: the query's, value's and key's Keras masks,
/// use_causal_mask and an explicit attention_mask ((B, T, S) or (B, N, T, S), nonzero = may attend,
/// broadcast as in MultiHeadAttention), ANDed as Keras' _compute_attention_mask. Keras 3 takes two
/// paths that differ only on a query row masked everywhere: with return_attention_scores (or a
/// nonzero dropout) Keras' Softmax adds -1e9 to masked scores (float64 then keeps the scores'
/// differences on such a row; float32 makes it uniform); otherwise ops.dot_product_attention (JAX
/// and TensorFlow backends) replaces them with -0.7 * the largest value (the row is uniform).
/// strata follows each path. Weights, as Keras 3's get_weights(): query kernel (F, Nq, H), query
/// bias (Nq, H), key kernel (Fk, Nkv, H), key bias (Nkv, H), value kernel (F, Nkv, H), value bias
/// (Nkv, H), output kernel (Nq, H, F), output bias (F) (no biases without use_bias). The output
/// carries the query's mask.
template <class T>
class GroupedQueryAttention {
  static_assert(std::is_floating_point_v<T>, "strata::GroupedQueryAttention: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "GroupedQueryAttention";

  /// Throws value_error for a head_dim or head count < 1, num_query_heads not a multiple of
  /// num_key_value_heads, or a dropout outside [0, 1).
  GroupedQueryAttention(Index head_dim, Index num_query_heads, Index num_key_value_heads,
                        const GroupedQueryAttentionOptions& options = GroupedQueryAttentionOptions())
      : head_dim_(head_dim),
        query_heads_(num_query_heads),
        kv_heads_(num_key_value_heads),
        dropout_(options.dropout()),
        use_bias_(options.use_bias()),
        flash_attention_(options.flash_attention()),
        causal_(options.use_causal_mask()),
        return_scores_(options.return_attention_scores()),
        seed_(options.seed()),
        name_(options.name()) {
    if (head_dim < 1 || num_query_heads < 1 || num_key_value_heads < 1) {
      throw value_error(detail::concat(describe(),
                                       ": head_dim, num_query_heads and num_key_value_heads must be at least 1; got ",
                                       head_dim, ", ", num_query_heads, ", ", num_key_value_heads));
    }
    if (num_query_heads % num_key_value_heads != 0) {
      throw value_error(detail::concat(describe(), ": num_query_heads (", num_query_heads,
                                       ") must be divisible by num_key_value_heads (", num_key_value_heads, ")"));
    }
    if (dropout_ < 0 || dropout_ >= 1) {
      throw value_error(detail::concat(describe(), ": dropout must be in [0, 1); got ", dropout_));
    }
  }

  Index head_dim() const { return head_dim_; }
  Index num_query_heads() const { return query_heads_; }
  Index num_key_value_heads() const { return kv_heads_; }
  double dropout() const { return dropout_; }
  bool use_bias() const { return use_bias_; }
  bool use_causal_mask() const { return causal_; }
  bool return_attention_scores() const { return return_scores_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  bool built() const { return built_; }

  /// Keras build(query_shape, value_shape, key_shape) from the feature sizes: glorot_uniform
  /// kernels, zero biases.
  void build(Index query_features, Index value_features, Index key_features) {
    if (query_features < 1 || value_features < 1 || key_features < 1) {
      throw value_error(detail::concat(describe(), ": input features must be at least 1"));
    }
    auto make = [&](Index in, Index units, std::uint64_t salt) {
      DenseOptions o;
      o.use_bias(use_bias_);
      if (seed_) o.seed(*seed_ + salt);
      Dense<T> d(units, o);
      d.build(in);
      return d;
    };
    query_.emplace(make(query_features, query_heads_ * head_dim_, 0));
    key_.emplace(make(key_features, kv_heads_ * head_dim_, 1));
    value_.emplace(make(value_features, kv_heads_ * head_dim_, 2));
    output_.emplace(make(query_heads_ * head_dim_, query_features, 3));
    built_ = true;
  }
  /// The layer concept's build: query, value and key with `features` values each.
  void build(Index features) { build(features, features, features); }

  /// Keras 3 get_weights() (see the class comment).
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w;
    const Index f = features(), fk = key_->input_dim(), fv = value_->input_dim();
    add(w, *query_, Shape{f, query_heads_, head_dim_}, Shape{query_heads_, head_dim_});
    add(w, *key_, Shape{fk, kv_heads_, head_dim_}, Shape{kv_heads_, head_dim_});
    add(w, *value_, Shape{fv, kv_heads_, head_dim_}, Shape{kv_heads_, head_dim_});
    add(w, *output_, Shape{query_heads_, head_dim_, f}, Shape{f});
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
    const auto feat = [&](std::size_t i, Index heads, const char* what) {
      const AnyTensor<T>& k = weights[i * per];
      if (k.empty() || k.shape().rank() != 3 || k.shape()[0] < 1 || k.shape()[1] != heads ||
          k.shape()[2] != head_dim_) {
        throw shape_error(detail::concat(describe(), ": weight ", i * per, " (", what,
                                         " kernel) must have shape (features, ", heads, ", ", head_dim_, "); got ",
                                         k.empty() ? std::string("an empty tensor") : k.shape().to_string()));
      }
      return k.shape()[0];
    };
    const Index f = feat(0, query_heads_, "query"), fk = feat(1, kv_heads_, "key"), fv = feat(2, kv_heads_, "value");
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
    const Index hq = query_heads_ * head_dim_, hkv = kv_heads_ * head_dim_;
    Dense<T> q = dense(0, f, hq, Shape{f, query_heads_, head_dim_}, Shape{query_heads_, head_dim_}, "query");
    Dense<T> k = dense(1, fk, hkv, Shape{fk, kv_heads_, head_dim_}, Shape{kv_heads_, head_dim_}, "key");
    Dense<T> v = dense(2, fv, hkv, Shape{fv, kv_heads_, head_dim_}, Shape{kv_heads_, head_dim_}, "value");
    Dense<T> o = dense(3, hq, f, Shape{query_heads_, head_dim_, f}, Shape{f}, "output");
    query_.emplace(std::move(q));
    key_.emplace(std::move(k));
    value_.emplace(std::move(v));
    output_.emplace(std::move(o));
    built_ = true;
  }

  Index count_params() const {
    require_built("count_params");
    return query_->count_params() + key_->count_params() + value_->count_params() + output_->count_params();
  }

  /// Keras' output shape: the query's. Throws shape_error naming the shapes: ranks other than 3,
  /// batch sizes or value/key steps that differ, query and value features that differ (Keras'
  /// compute_output_shape), or feature sizes other than the kernels'.
  Shape output_shape_for(const Shape& query, const Shape& value, const Shape& key) const {
    require_built("call");
    const auto bad = [&](const std::string& why) {
      throw shape_error(detail::concat(describe(), ": ", why, "; got query ", query.to_string(), ", value ",
                                       value.to_string(), ", key ", key.to_string()));
    };
    if (query.rank() != 3 || value.rank() != 3 || key.rank() != 3) {
      bad("query, value and key must be (batch, steps, features)");
    }
    if (value[0] != query[0] || key[0] != query[0]) bad("the batch sizes must agree");
    if (value[1] != key[1]) bad("value and key must have the same steps");
    if (query[2] != value[2]) bad("the last dimension of query and value must be equal");
    if (query[2] != features() || value[2] != value_->input_dim() || key[2] != key_->input_dim()) {
      bad(detail::concat("the feature sizes must be the kernels' (query ", features(), ", value ", value_->input_dim(),
                         ", key ", key_->input_dim(), ")"));
    }
    return query;
  }
  /// The scores' shape (B, num_query_heads, T, S).
  Shape scores_shape_for(const Shape& query, const Shape& value) const {
    return Shape{query[0], query_heads_, query[1], value[1]};
  }

  /// Keras `gqa(query, value, key, ..., return_attention_scores=True)`: the output and the scores
  /// (masked scores take Keras' softmax path, -1e9 added). `key` may be empty (then value is the
  /// key).
  AttentionResult<T> call(const TensorView<T>& query, const TensorView<T>& value, const TensorView<T>& key,
                          const AttentionMasks<T>& masks) const {
    return call_with(query, value, key, masks, true);
  }

  /// Keras `gqa(query, value)` (self-attention: `gqa(x, x)`): the output, (B, T, F).
  template <class Q, class V>
  AnyTensor<T> operator()(const Q& query, const V& value) const {
    AttentionMasks<T> m;
    m.use_causal_mask = causal_;
    return call_with(TensorView<T>(query), TensorView<T>(value), TensorView<T>(), m, false).output;
  }
  /// Keras `gqa(query, value, key)`.
  template <class Q, class V, class K>
  AnyTensor<T> operator()(const Q& query, const V& value, const K& key) const {
    AttentionMasks<T> m;
    m.use_causal_mask = causal_;
    return call_with(TensorView<T>(query), TensorView<T>(value), TensorView<T>(key), m, false).output;
  }

  // The single-input layer concept: self-attention gqa(x, x).
  static constexpr int output_rank(int input_rank) { return input_rank == 3 ? 3 : invalid_rank; }
  Shape compute_output_shape(const Shape& input) const { return output_shape_for(input, input, input); }
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out = compute_output_shape(input_shape);
    detail::check_output_size(*this, out, output_size);
    const TensorView<T> x(input, input_shape);
    AttentionMasks<T> m;
    m.use_causal_mask = causal_;
    run(x, x, x, m, output, nullptr, return_scores_);
  }
  bool carries_state() const { return false; }
  int output_count() const { return return_scores_ ? 2 : 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: head_dim, num_query_heads, num_key_value_heads, dropout, use_bias,
  /// flash_attention (ignored); the call arguments use_causal_mask and return_attention_scores
  /// (LayerConfig::call_arguments()), and the inputs passed by keyword: value, key,
  /// attention_mask (as for MultiHeadAttention).
  static GroupedQueryAttention from_config(const LayerConfig<T>& config) {
    const LayerConfig<T> call = config.call_arguments();
    GroupedQueryAttentionOptions o;
    o.name(config.name());
    o.dropout(config.number("dropout", 0.0)).use_bias(config.boolean("use_bias", true));
    if (config.has("flash_attention") && !config.get("flash_attention").is_null()) {
      o.flash_attention(config.boolean("flash_attention", false));
    }
    o.use_causal_mask(call.boolean("use_causal_mask", false));
    o.return_attention_scores(call.boolean("return_attention_scores", false));
    const std::vector<std::string> roles = call.tensor_roles({"value", "key", "attention_mask"});
    GroupedQueryAttention layer(config.integer("head_dim"), config.integer("num_query_heads"),
                                config.integer("num_key_value_heads"), o);
    layer.roles_ = roles;
    return layer;
  }
  std::size_t weight_count() const { return use_bias_ ? 8 : 4; }
  /// Keras 3 keeps the weights in the sublayers _query_dense, _key_dense, _value_dense and
  /// _output_dense (a .keras file's `<layer>/_query_dense/vars/0` ...: GroupedQueryAttention has
  /// no public properties for them, so Keras' saving_lib names them by their private attributes).
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
    return {group("_query_dense", Shape{q.back(), query_heads_, head_dim_}, Shape{query_heads_, head_dim_}),
            group("_key_dense", Shape{k.back(), kv_heads_, head_dim_}, Shape{kv_heads_, head_dim_}),
            group("_value_dense", Shape{v.back(), kv_heads_, head_dim_}, Shape{kv_heads_, head_dim_}),
            group("_output_dense", Shape{query_heads_, head_dim_, q.back()}, Shape{q.back()})};
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

  Index features() const { return query_->input_dim(); }

  AttentionResult<T> call_with(const TensorView<T>& query, const TensorView<T>& value, const TensorView<T>& key,
                               const AttentionMasks<T>& masks, bool want_scores) const {
    if (query.empty() || value.empty()) throw shape_error(detail::concat(describe(), ": an input tensor is empty"));
    const TensorView<T>& k = key.empty() ? value : key;
    AttentionResult<T> r;
    r.output = AnyTensor<T>::uninitialized(output_shape_for(query.shape(), value.shape(), k.shape()));
    if (want_scores) r.scores = AnyTensor<T>::uninitialized(scores_shape_for(query.shape(), value.shape()));
    run(query, value, k, masks, r.output.data(), want_scores ? r.scores.data() : nullptr, want_scores);
    return r;
  }

  // Checks the masks against the shapes and describes them for the attention core.
  detail::AttentionMaskSpec<T> mask_spec(const AttentionMasks<T>& m, Index batch, Index t_len, Index s_len,
                                         bool softmax_path) const {
    detail::AttentionMaskSpec<T> p;
    if (m.query_mask != nullptr) detail::check_mask(*m.query_mask, batch, t_len, describe() + " (query mask)");
    if (m.value_mask != nullptr) detail::check_mask(*m.value_mask, batch, s_len, describe() + " (value mask)");
    if (m.key_mask != nullptr) detail::check_mask(*m.key_mask, batch, s_len, describe() + " (key mask)");
    p.query_mask = m.query_mask;
    p.value_mask = m.value_mask;
    p.key_mask = m.key_mask;
    p.causal = m.use_causal_mask;
    if (!m.attention_mask.empty()) {
      const Shape& a = m.attention_mask.shape();
      const Index full[4] = {batch, query_heads_, t_len, s_len};
      Shape am;
      if (a.rank() == 2) {
        am = Shape{1, 1, a[0], a[1]};
      } else if (a.rank() == 3) {
        am = Shape{a[0], 1, a[1], a[2]};
      } else if (a.rank() == 4) {
        am = a;
      }
      bool ok = am.rank() == 4;
      for (int d = 0; ok && d < 4; ++d) ok = am[d] == full[d] || am[d] == 1;
      if (!ok) {
        throw shape_error(detail::concat(describe(), ": attention_mask must broadcast to (batch=", batch,
                                         ", num_query_heads=", query_heads_, ", T=", t_len, ", S=", s_len,
                                         ") as (B, T, S) or (B, N, T, S); got ", a.to_string()));
      }
      p.attention_mask = m.attention_mask.data();
      for (int d = 0; d < 4; ++d) p.attention_mask_shape[d] = am[d];
    }
    // Keras 3 takes its softmax path (Softmax(mask): -1e9 added) when it returns the scores or has
    // a dropout rate, else ops.dot_product_attention (masked scores replaced).
    p.fill =
        (softmax_path || dropout_ > 0) ? detail::MaskFill::add_large_negative : detail::MaskFill::replace_with_lowest;
    return p;
  }

  void run(const TensorView<T>& query, const TensorView<T>& value, const TensorView<T>& key, const AttentionMasks<T>& m,
           T* out, T* scores, bool softmax_path) const {
    const Shape& qs = query.shape();
    const Index batch = qs[0], t_len = qs[1], s_len = value.shape()[1];
    const detail::AttentionMaskSpec<T> spec = mask_spec(m, batch, t_len, s_len, softmax_path);
    const Index hq = query_heads_ * head_dim_, hkv = kv_heads_ * head_dim_;
    std::vector<T> qp(static_cast<std::size_t>(batch * t_len * hq)), kp(static_cast<std::size_t>(batch * s_len * hkv)),
        vp(static_cast<std::size_t>(batch * s_len * hkv)), ctx(static_cast<std::size_t>(batch * t_len * hq));
    if (!qp.empty())
      query_->forward(query.data(), Shape{batch * t_len, qs[2]}, qp.data(), static_cast<Index>(qp.size()));
    if (!kp.empty())
      key_->forward(key.data(), Shape{batch * s_len, key.shape()[2]}, kp.data(), static_cast<Index>(kp.size()));
    if (!vp.empty())
      value_->forward(value.data(), Shape{batch * s_len, value.shape()[2]}, vp.data(), static_cast<Index>(vp.size()));
    // Keras scales the projected query by 1/sqrt(head_dim) before the product.
    const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(head_dim_)));
    for (T& x : qp) x *= scale;
    detail::AttentionSizes z;
    z.batch = batch;
    z.query_heads = query_heads_;
    z.kv_heads = kv_heads_;
    z.query_steps = t_len;
    z.key_steps = s_len;
    z.key_dim = z.value_dim = head_dim_;
    detail::AttentionWorkspace<T> work;
    detail::attention(z, detail::HeadLayout<T>{qp.data(), t_len * hq, hq, head_dim_},
                      detail::HeadLayout<T>{kp.data(), s_len * hkv, hkv, head_dim_},
                      detail::HeadLayout<T>{vp.data(), s_len * hkv, hkv, head_dim_}, spec,
                      detail::OutputLayout<T>{ctx.data(), t_len * hq, hq, head_dim_}, scores, work);
    const Index rows = batch * t_len;
    if (rows > 0) output_->forward(ctx.data(), Shape{rows, hq}, out, rows * output_->units());
  }

  static std::vector<T> values(const AnyTensor<T>& t) { return std::vector<T>(t.data(), t.data() + t.size()); }

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

  Index head_dim_, query_heads_, kv_heads_;
  double dropout_;
  bool use_bias_;
  std::optional<bool> flash_attention_;
  bool causal_, return_scores_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  std::vector<std::string> roles_;
  bool built_ = false;
  std::optional<Dense<T>> query_, key_, value_, output_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(GroupedQueryAttention)

#endif  // STRATA_LAYERS_GROUPED_QUERY_ATTENTION_HPP
