// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_ATTENTION_HPP
#define STRATA_LAYERS_ATTENTION_HPP

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
#include "../detail/gemm.hpp"
#include "../detail/init.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Keras Attention's `score_mode`: how a query step and a key step give a score.
enum class AttentionScoreMode {
  /// The dot product q . k (times `scale` with use_scale): Luong-style attention.
  dot,
  /// concat_score_weight * sum(tanh(scale * (q + k))) over the features (`scale` only with
  /// use_scale).
  concat
};

namespace detail {

/// "(2, 3, 4), (2, 5, 4)": the input shapes of a call, for messages.
inline std::string attention_shapes(const std::vector<Shape>& shapes) {
  std::string s;
  for (std::size_t k = 0; k < shapes.size(); ++k) s += (k ? ", " : "") + shapes[k].to_string();
  return s;
}

/// The options Attention and AdditiveAttention share: name, use_scale and the call arguments
/// use_causal_mask and return_attention_scores (a model file records these with the layer's call).
template <class Derived>
class AttentionOptionsBase : public Options<Derived> {
 public:
  /// Keras `use_scale`: learn a scale of the scores (Attention: a scalar `scale`;
  /// AdditiveAttention: `scale` of shape (dim,)).
  Derived& use_scale(bool on) {
    use_scale_ = on;
    return static_cast<Derived&>(*this);
  }
  /// Keras' call argument `use_causal_mask`: query step i attends to key steps j <= i only.
  Derived& use_causal_mask(bool on) {
    use_causal_mask_ = on;
    return static_cast<Derived&>(*this);
  }
  /// Keras' call argument `return_attention_scores`: the layer has a second output, the attention
  /// distribution (batch, Tq, Tv) after masking and softmax.
  Derived& return_attention_scores(bool on) {
    return_attention_scores_ = on;
    return static_cast<Derived&>(*this);
  }
  std::optional<bool> use_scale() const { return use_scale_; }
  bool use_causal_mask() const { return use_causal_mask_; }
  bool return_attention_scores() const { return return_attention_scores_; }

 private:
  std::optional<bool> use_scale_;  // each layer's Keras default when not set
  bool use_causal_mask_ = false;
  bool return_attention_scores_ = false;
};

/// The scratch memory of one attention call, reused across its samples.
template <class T>
struct AttentionWork {
  std::vector<T> scores;  // a sample's (Tq, Tv) scores when the caller does not keep them
  std::vector<T> key_t;   // a sample's key transposed to (dim, Tv)
  PackedMatrix<T> packed_key;
  PackedMatrix<T> packed_value;
};

/// What Keras' Attention and AdditiveAttention share (keras/src/layers/attention/attention.py):
/// the inputs [query, value] or [query, value, key] (key = value when not given), the masks, the
/// softmax and the weighted sum. Derived gives class_name, its weights and `score(q, k, dim)`, the
/// score of one query step and one key step before masking.
///
/// Per sample: scores (Tq, Tv) from query and key; where the value mask is false (and, with
/// use_causal_mask, where j > i) Keras subtracts 1e9 from the score (`scores - 1e9`, in the
/// layer's type, not -inf: a row masked everywhere still gets a distribution); the distribution
/// is softmax over Tv; the output (Tq, dim_v) is distribution . value, set to 0 where the query
/// mask is false. The output's mask is the query's. Dropout is off at inference. Derived may
/// replace `raw_scores` (the (Tq, Tv) scores of a sample) by a faster one (Attention's dot mode).
template <class Derived, class T>
class AttentionLayer {
  static_assert(std::is_floating_point_v<T>, "strata: an attention layer's scalar type must be float or double.");

 public:
  using Scalar = T;

  const std::string& name() const { return name_; }
  std::string describe() const { return describe_layer(Derived::class_name, name_); }
  bool use_scale() const { return use_scale_; }
  bool use_causal_mask() const { return use_causal_mask_; }
  bool return_attention_scores() const { return return_attention_scores_; }
  bool carries_state() const { return false; }
  /// 2 with return_attention_scores (the output, then the scores), else 1.
  int output_count() const { return return_attention_scores_ ? 2 : 1; }

  /// Several inputs only: the single-input calls throw value_error.
  static constexpr int output_rank(int /*input_rank*/) { return invalid_rank; }
  Shape compute_output_shape(const Shape& input) const { return output_shapes({input})[0]; }
  void forward(const T* /*input*/, const Shape& input_shape, T* /*output*/, Index /*output_size*/) const {
    (void)compute_output_shape(input_shape);
  }

  /// [(batch, Tq, dim_v)] and, with return_attention_scores, (batch, Tq, Tv). value_error unless
  /// there are 2 or 3 inputs; shape_error naming every input shape unless they have rank 3 (batch,
  /// time, features), one batch size, key and value the same steps, query and key the same
  /// features (and the layer's weights fit them).
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    if (inputs.size() < 2 || inputs.size() > 3) {
      throw value_error(concat(
          describe(), ": takes 2 or 3 inputs ([query, value] or [query, value, key]); it is given ", inputs.size()));
    }
    const Shape& q = inputs[0];
    const Shape& v = inputs[1];
    const Shape& k = inputs.size() > 2 ? inputs[2] : inputs[1];
    for (const Shape& s : inputs) {
      if (s.rank() != 3) {
        throw shape_error(concat(describe(), ": inputs must have rank 3 (batch, time, features); got shapes ",
                                 attention_shapes(inputs)));
      }
    }
    if (v[0] != q[0] || k[0] != q[0]) {
      throw shape_error(concat(describe(), ": inputs must have one batch size; got shapes ", attention_shapes(inputs)));
    }
    if (k[1] != v[1]) {
      throw shape_error(concat(describe(), ": key and value must have the same number of steps; got value ",
                               v.to_string(), " and key ", k.to_string()));
    }
    if (k[2] != q[2]) {
      throw shape_error(concat(describe(), ": query and key must have the same number of features; got query ",
                               q.to_string(), " and key ", k.to_string()));
    }
    self().check_features(q[2]);
    std::vector<Shape> out{Shape{q[0], q[1], v[2]}};
    if (return_attention_scores_) out.push_back(Shape{q[0], q[1], v[1]});
    return out;
  }

  /// Keras `layer([query, value])` or `layer([query, value, key])`, with the masks [query_mask,
  /// value_mask] (null: none; a third, the key's, is ignored as in Keras): the attention output
  /// (batch, Tq, dim_v).
  AnyTensor<T> operator()(const std::vector<TensorView<T>>& inputs,
                          const std::vector<const Mask*>& masks = std::vector<const Mask*>()) const {
    const std::vector<Shape> shapes = shapes_of(inputs);
    const std::vector<Shape> out = output_shapes(shapes);
    AnyTensor<T> y = AnyTensor<T>::uninitialized(out[0]);
    run(inputs, shapes, masks, y.data(), nullptr);
    return y;
  }
  /// The same with return_attention_scores=True: the output and the scores (batch, Tq, Tv) --
  /// the attention distribution after masking and softmax -- whatever the layer's option.
  std::pair<AnyTensor<T>, AnyTensor<T>> call_with_scores(
      const std::vector<TensorView<T>>& inputs,
      const std::vector<const Mask*>& masks = std::vector<const Mask*>()) const {
    const std::vector<Shape> shapes = shapes_of(inputs);
    const Shape out = output_shapes(shapes)[0];
    AnyTensor<T> y = AnyTensor<T>::uninitialized(out);
    AnyTensor<T> scores = AnyTensor<T>::uninitialized(Shape{out[0], out[1], shapes[1][1]});
    run(inputs, shapes, masks, y.data(), scores.data());
    return {std::move(y), std::move(scores)};
  }

  // --- Keras description (docs/custom-layers.md)
  /// The output's mask is the query's (Keras compute_mask returns mask[0]); the scores have none.
  /// Masks are (batch, time): shape_error for another rank.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    (void)output_shapes(inputs);
    for (std::size_t k = 0; k < masks.size() && k < 2; ++k) {
      if (masks[k] != 0 && masks[k] != 2) {
        throw shape_error(concat(describe(), ": input ", k, " carries a mask of rank ", masks[k],
                                 "; expected a (batch, time) mask of rank 2"));
      }
    }
    std::vector<int> out{masks.empty() ? 0 : masks[0]};
    if (return_attention_scores_) out.push_back(0);
    return out;
  }
  void call_graph(GraphCall<T>& call) const {
    std::vector<TensorView<T>> views;
    std::vector<const Mask*> masks;
    for (const GraphInput<T>& in : call.inputs) {
      if (in.tensor.empty()) throw shape_error(concat(describe(), ": an input tensor is empty"));
      views.push_back(in.tensor);
      masks.push_back(in.mask.get());
    }
    const std::vector<Shape> shapes = shapes_of(views);
    const std::vector<Shape> out = output_shapes(shapes);
    AnyTensor<T> y = AnyTensor<T>::uninitialized(out[0]);
    AnyTensor<T> scores;
    if (return_attention_scores_) scores = AnyTensor<T>::uninitialized(out[1]);
    run(views, shapes, masks, y.data(), return_attention_scores_ ? scores.data() : nullptr);
    call.outputs.push_back(std::move(y));
    call.masks.push_back(call.inputs[0].mask);
    if (return_attention_scores_) {
      call.outputs.push_back(std::move(scores));
      call.masks.push_back(MaskPtr());
    }
  }

 protected:
  AttentionLayer(bool use_scale, bool use_causal_mask, bool return_attention_scores, std::string name)
      : use_scale_(use_scale),
        use_causal_mask_(use_causal_mask),
        return_attention_scores_(return_attention_scores),
        name_(std::move(name)) {}

  /// A sample's scores (tq, tv), one score() per pair.
  void raw_scores(const T* q, const T* k, Index tq, Index tv, Index dim, T* out, AttentionWork<T>& /*work*/) const {
    for (Index i = 0; i < tq; ++i) {
      for (Index j = 0; j < tv; ++j) out[i * tv + j] = self().score(q + i * dim, k + j * dim, dim);
    }
  }

  /// Reads the options both layers share from a Keras config and the call arguments; `causal` is
  /// tf.keras' older spelling of use_causal_mask (a config option until TF 2.10).
  template <class Options>
  static Options options_from(const LayerConfig<T>& config, bool default_scale) {
    const LayerConfig<T> call = config.call_arguments();
    (void)config.number("dropout", 0.0);  // training only
    return Options()
        .use_scale(config.boolean("use_scale", default_scale))
        .use_causal_mask(config.boolean("causal", false) || call.boolean("use_causal_mask", false))
        .return_attention_scores(call.boolean("return_attention_scores", false))
        .name(config.name());
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }

  static std::vector<Shape> shapes_of(const std::vector<TensorView<T>>& inputs) {
    std::vector<Shape> shapes;
    for (const TensorView<T>& x : inputs) {
      if (x.empty()) throw shape_error("strata: an attention layer's input tensor is empty");
      shapes.push_back(x.shape());
    }
    return shapes;
  }

  void check_masks(const std::vector<Shape>& shapes, const std::vector<const Mask*>& masks) const {
    if (masks.size() > 3) {
      throw value_error(
          concat(describe(), ": takes up to 3 masks ([query_mask, value_mask, key_mask]); it is given ", masks.size()));
    }
    if (!masks.empty() && masks[0] != nullptr) {
      check_mask(*masks[0], shapes[0][0], shapes[0][1], describe() + " (the query mask)");
    }
    if (masks.size() > 1 && masks[1] != nullptr) {
      check_mask(*masks[1], shapes[1][0], shapes[1][1], describe() + " (the value mask)");
    }
  }

  // Writes the output (batch, Tq, dim_v) to out and, when scores is not null, the distribution
  // (batch, Tq, Tv) to scores. Per sample: the raw scores (Tq, Tv) from Derived::scores, the masks
  // and the softmax row by row, then distribution . value through strata's GEMM.
  void run(const std::vector<TensorView<T>>& inputs, const std::vector<Shape>& shapes,
           const std::vector<const Mask*>& masks, T* out, T* scores) const {
    (void)output_shapes(shapes);
    check_masks(shapes, masks);
    const Mask* q_mask = masks.empty() ? nullptr : masks[0];
    const Mask* v_mask = masks.size() > 1 ? masks[1] : nullptr;
    const Index batch = shapes[0][0], tq = shapes[0][1], dim = shapes[0][2];
    const Index tv = shapes[1][1], dim_v = shapes[1][2];
    const T* query = inputs[0].data();
    const T* value = inputs[1].data();
    const T* key = inputs.size() > 2 ? inputs[2].data() : value;
    AttentionWork<T> work;
    // The sample's scores, unless the caller keeps them all.
    if (scores == nullptr) work.scores.resize(static_cast<std::size_t>(tq * tv));
    // Keras' bias for masked scores: 1e9 (65504 for float16, which strata does not compute in).
    const T masked = static_cast<T>(1.0e9);
    for (Index b = 0; b < batch; ++b) {
      const T* vb = value + b * tv * dim_v;
      T* ob = out + b * tq * dim_v;
      T* sb = scores != nullptr ? scores + b * tq * tv : work.scores.data();
      self().raw_scores(query + b * tq * dim, key + b * tv * dim, tq, tv, dim, sb, work);
      for (Index i = 0; i < tq; ++i) {
        T* w = sb + i * tv;
        for (Index j = 0; j < tv; ++j) {
          const bool kept = (v_mask == nullptr || (*v_mask)(b, j)) && (!use_causal_mask_ || j <= i);
          if (!kept) w[j] -= masked;
        }
        // softmax over the key steps
        T top = tv > 0 ? w[0] : T(0);
        for (Index j = 1; j < tv; ++j) top = std::max(top, w[j]);
        T sum = 0;
        for (Index j = 0; j < tv; ++j) {
          w[j] = std::exp(w[j] - top);
          sum += w[j];
        }
        for (Index j = 0; j < tv; ++j) w[j] /= sum;
      }
      if (tq == 0 || dim_v == 0) continue;
      if (tv == 0) {
        std::fill(ob, ob + tq * dim_v, T(0));
      } else {
        work.packed_value.pack(vb, tv, dim_v);
        const GemmTerm<T> term{sb, tv, &work.packed_value};
        gemm(tq, dim_v, &term, 1, static_cast<const PackedMatrix<T>*>(nullptr), ob, dim_v);
      }
      for (Index i = 0; q_mask != nullptr && i < tq; ++i) {
        if (!(*q_mask)(b, i)) std::fill(ob + i * dim_v, ob + (i + 1) * dim_v, T(0));  // where(q_mask, out, 0)
      }
    }
  }

  bool use_scale_;
  bool use_causal_mask_;
  bool return_attention_scores_;
  std::string name_;
};

}  // namespace detail

/// Options of Attention: Keras' use_scale (default false) and score_mode (default dot), and the
/// call arguments use_causal_mask and return_attention_scores,
/// `AttentionOptions().score_mode(AttentionScoreMode::concat).use_causal_mask(true)`.
class AttentionOptions : public detail::AttentionOptionsBase<AttentionOptions> {
 public:
  /// Keras `score_mode`: "dot" (default) or "concat".
  AttentionOptions& score_mode(AttentionScoreMode mode) {
    score_mode_ = mode;
    return *this;
  }
  AttentionScoreMode score_mode() const { return score_mode_; }

 private:
  AttentionScoreMode score_mode_ = AttentionScoreMode::dot;
};

/// Keras `Attention(use_scale, score_mode)([query, value(, key)], mask=[query_mask, value_mask],
/// use_causal_mask=..., return_attention_scores=...)`: dot-product (Luong-style) attention.
///
/// Inputs query (batch, Tq, dim), value (batch, Tv, dim_v) and key (batch, Tv, dim), key = value
/// when not given; output (batch, Tq, dim_v). Scores: dot `q . k` (times `scale` with use_scale);
/// concat `concat_score_weight * sum_d tanh(scale * (q_d + k_d))` (`scale` only with use_scale).
/// Masking, softmax and output as detail::AttentionLayer says (Keras' `scores - 1e9` where the
/// value mask or the causal mask is false; the output zeroed where the query mask is false; the
/// output mask is the query's). `dropout` applies in training only and is ignored.
///
/// Weights, as Keras' get_weights(): [scale] with use_scale, then [concat_score_weight] with
/// score_mode concat; each a Keras scalar, which strata holds as shape (1,) (initialised to 1).
template <class T>
class Attention : public detail::AttentionLayer<Attention<T>, T> {
  using Base = detail::AttentionLayer<Attention<T>, T>;
  friend Base;

 public:
  static constexpr const char* class_name = "Attention";

  explicit Attention(const AttentionOptions& options = AttentionOptions())
      : Base(options.use_scale().value_or(false), options.use_causal_mask(), options.return_attention_scores(),
             options.name()),
        score_mode_(options.score_mode()) {}

  AttentionScoreMode score_mode() const { return score_mode_; }
  /// Keras `scale` (1 without use_scale).
  T scale() const { return scale_; }
  /// Keras `concat_score_weight` (score_mode concat; 1 otherwise).
  T concat_score_weight() const { return concat_score_weight_; }

  bool built() const { return true; }
  /// Nothing to do: the weights are scalars, created at construction (Keras initialises them to 1).
  void build(Index /*features*/) {}
  /// Keras get_weights(): [scale (1,)] with use_scale, then [concat_score_weight (1,)] with concat.
  Weights<T> get_weights() const {
    Weights<T> w;
    if (this->use_scale()) w.push_back(AnyTensor<T>::from_values(Shape{1}, {scale_}));
    if (score_mode_ == AttentionScoreMode::concat)
      w.push_back(AnyTensor<T>::from_values(Shape{1}, {concat_score_weight_}));
    return w;
  }
  /// Keras set_weights(); shape_error for a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, weight_count(), this->describe(), weight_list());
    std::size_t i = 0;
    if (this->use_scale()) {
      scale_ = detail::check_weight<1>(weights[i], Shape{1}, this->describe(), "scale", i).data()[0];
      ++i;
    }
    if (score_mode_ == AttentionScoreMode::concat) {
      concat_score_weight_ =
          detail::check_weight<1>(weights[i], Shape{1}, this->describe(), "concat_score_weight", i).data()[0];
    }
  }
  Index count_params() const { return static_cast<Index>(weight_count()); }

  // --- Keras description (docs/custom-layers.md)
  /// Keras config: use_scale (default false), score_mode ("dot" or "concat"), dropout (ignored),
  /// tf.keras' `causal`; the call arguments use_causal_mask and return_attention_scores.
  static Attention from_config(const LayerConfig<T>& config) {
    AttentionOptions options = Base::template options_from<AttentionOptions>(config, false);
    const std::string mode = config.string("score_mode", "dot");
    if (mode == "concat") {
      options.score_mode(AttentionScoreMode::concat);
    } else if (mode != "dot") {
      config.invalid(detail::concat("score_mode must be \"dot\" or \"concat\"; got \"", mode, "\""));
    }
    return Attention(options);
  }
  std::size_t weight_count() const {
    return (this->use_scale() ? 1 : 0) + (score_mode_ == AttentionScoreMode::concat ? 1 : 0);
  }
  /// Keras' weights are scalars (shape ()); strata reads them as (1,).
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& /*inputs*/) const {
    WeightGroup g{"", {}};
    if (this->use_scale()) g.weights.push_back({"scale", Shape{1}, " (a Keras scalar)"});
    if (score_mode_ == AttentionScoreMode::concat)
      g.weights.push_back({"concat_score_weight", Shape{1}, " (a Keras scalar)"});
    return {g};
  }

 private:
  void check_features(Index /*dim*/) const {}

  std::string weight_list() const {
    std::string s = this->use_scale() ? "scale" : "";
    if (score_mode_ == AttentionScoreMode::concat) s += s.empty() ? "concat_score_weight" : ", concat_score_weight";
    return s;
  }

  // dot: q . k^T through strata's GEMM (Keras' matmul), then times scale; concat: per pair.
  void raw_scores(const T* q, const T* k, Index tq, Index tv, Index dim, T* out, detail::AttentionWork<T>& work) const {
    if (score_mode_ != AttentionScoreMode::dot) {
      Base::raw_scores(q, k, tq, tv, dim, out, work);
      return;
    }
    if (tq == 0 || tv == 0) return;
    if (dim == 0) {
      std::fill(out, out + tq * tv, T(0));
      return;
    }
    work.key_t.resize(static_cast<std::size_t>(dim * tv));
    for (Index j = 0; j < tv; ++j) {
      for (Index d = 0; d < dim; ++d) work.key_t[static_cast<std::size_t>(d * tv + j)] = k[j * dim + d];
    }
    work.packed_key.pack(work.key_t.data(), dim, tv);
    const detail::GemmTerm<T> term{q, dim, &work.packed_key};
    detail::gemm(tq, tv, &term, 1, static_cast<const detail::PackedMatrix<T>*>(nullptr), out, tv);
    if (this->use_scale()) {
      for (Index i = 0; i < tq * tv; ++i) out[i] *= scale_;
    }
  }

  T score(const T* q, const T* k, Index dim) const {
    T s = 0;
    if (score_mode_ == AttentionScoreMode::dot) {
      for (Index d = 0; d < dim; ++d) s += q[d] * k[d];
      return this->use_scale() ? s * scale_ : s;
    }
    if (this->use_scale()) {
      for (Index d = 0; d < dim; ++d) s += std::tanh(scale_ * (q[d] + k[d]));
    } else {
      for (Index d = 0; d < dim; ++d) s += std::tanh(q[d] + k[d]);
    }
    return concat_score_weight_ * s;
  }

  AttentionScoreMode score_mode_;
  T scale_ = T(1);
  T concat_score_weight_ = T(1);
};

/// Options of AdditiveAttention: Keras' use_scale (default true) and the call arguments
/// use_causal_mask and return_attention_scores, plus the seed of build()'s initial scale.
class AdditiveAttentionOptions : public detail::AttentionOptionsBase<AdditiveAttentionOptions> {
 public:
  /// Seed of the initial `scale` drawn by build(); without one it comes from std::random_device.
  AdditiveAttentionOptions& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }
  std::optional<std::uint64_t> seed() const { return seed_; }

 private:
  std::optional<std::uint64_t> seed_;
};

/// Keras `AdditiveAttention(use_scale)([query, value(, key)], mask=[query_mask, value_mask],
/// use_causal_mask=..., return_attention_scores=...)`: Bahdanau-style attention.
///
/// Inputs, outputs and masks as Attention; the score of query step i and key step j is
/// `sum_d scale_d * tanh(q_d + k_d)` (scale_d = 1 without use_scale).
///
/// Weights, as Keras' get_weights(): [scale (dim,)] with use_scale (dim = the query's features;
/// build(dim) draws it from Keras' glorot_uniform, U(-sqrt(3 / dim), sqrt(3 / dim))).
template <class T>
class AdditiveAttention : public detail::AttentionLayer<AdditiveAttention<T>, T> {
  using Base = detail::AttentionLayer<AdditiveAttention<T>, T>;
  friend Base;

 public:
  static constexpr const char* class_name = "AdditiveAttention";

  explicit AdditiveAttention(const AdditiveAttentionOptions& options = AdditiveAttentionOptions())
      : Base(options.use_scale().value_or(true), options.use_causal_mask(), options.return_attention_scores(),
             options.name()),
        seed_(options.seed()) {}

  /// Keras `scale` (dim,); empty before build() or set_weights(), and without use_scale.
  const Tensor<T, 1>& scale() const { return scale_; }

  /// With use_scale, whether `scale` exists (build() or set_weights()).
  bool built() const { return !this->use_scale() || scale_.size() > 0; }
  /// Keras build for queries of `features` values: draws `scale` (glorot_uniform) once.
  void build(Index features) {
    if (built()) return;
    if (features < 1) {
      throw value_error(detail::concat(this->describe(), ": build needs at least one feature; got ", features));
    }
    scale_ = Tensor<T, 1>(features);
    auto gen = detail::Generator::from(seed_);
    const double limit = std::sqrt(3.0 / static_cast<double>(features));
    for (Index d = 0; d < features; ++d) scale_(d) = static_cast<T>((2.0 * gen.uniform() - 1.0) * limit);
  }
  /// Keras get_weights(): [scale (dim,)] with use_scale, else [].
  Weights<T> get_weights() const {
    if (!this->use_scale()) return {};
    require_built("get_weights");
    return {scale_};
  }
  /// Keras set_weights(); shape_error for a wrong count or a scale that is not a vector.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, weight_count(), this->describe(), this->use_scale() ? "scale" : "");
    if (!this->use_scale()) return;
    if (weights[0].rank() != 1 || weights[0].shape()[0] < 1) {
      throw shape_error(
          detail::concat(this->describe(), ": weight 0 (scale) must have shape (dim,); got ",
                         weights[0].empty() ? std::string("an empty tensor") : weights[0].shape().to_string()));
    }
    scale_ = weights[0].template get<1>();
  }
  Index count_params() const { return this->use_scale() ? scale_.size() : 0; }

  // --- Keras description (docs/custom-layers.md)
  /// Keras config: use_scale (default true), dropout (ignored); the call arguments
  /// use_causal_mask and return_attention_scores. The layer is left without weights: the loader
  /// sets the file's.
  static AdditiveAttention from_config(const LayerConfig<T>& config) {
    return AdditiveAttention(Base::template options_from<AdditiveAttentionOptions>(config, true));
  }
  std::size_t weight_count() const { return this->use_scale() ? 1 : 0; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    if (!this->use_scale()) return {};
    if (inputs.empty() || inputs[0].rank() < 1) {
      throw shape_error(detail::concat(this->describe(), ": the query must have a feature axis; got shapes ",
                                       detail::attention_shapes(inputs)));
    }
    return {WeightGroup{"", {{"scale", Shape{inputs[0][inputs[0].rank() - 1]}, " (the query's features)"}}}};
  }

 private:
  void require_built(const char* what) const {
    if (!built()) {
      throw value_error(
          detail::concat(this->describe(), ": ", what, " needs weights; call build(dim) or set_weights() first"));
    }
  }

  void check_features(Index dim) const {
    if (!this->use_scale()) return;
    require_built("call");
    if (scale_.size() != dim) {
      throw shape_error(detail::concat(this->describe(), ": scale has ", scale_.size(),
                                       " values; the query and key have ", dim, " features"));
    }
  }

  T score(const T* q, const T* k, Index dim) const {
    T s = 0;
    if (this->use_scale()) {
      const T* scale = scale_.data();
      for (Index d = 0; d < dim; ++d) s += scale[d] * std::tanh(q[d] + k[d]);
    } else {
      for (Index d = 0; d < dim; ++d) s += std::tanh(q[d] + k[d]);
    }
    return s;
  }

  std::optional<std::uint64_t> seed_;
  Tensor<T, 1> scale_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Attention)
STRATA_REGISTER_LAYER(AdditiveAttention)

#endif  // STRATA_LAYERS_ATTENTION_HPP
