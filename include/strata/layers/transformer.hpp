// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_TRANSFORMER_HPP
#define STRATA_LAYERS_TRANSFORMER_HPP

// keras-hub's TransformerEncoder and TransformerDecoder (keras_hub/src/layers/modeling/
// transformer_encoder.py, transformer_decoder.py), composed of strata's MultiHeadAttention,
// LayerNormalization and Dense. Keras files name them by their registered names,
// "keras_hub>TransformerEncoder" (and "keras_nlp>..." for keras-nlp's files); keras-hub is not needed.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"
#include "dense.hpp"
#include "multi_head_attention.hpp"
#include "normalization.hpp"
#include "position_embedding.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {

/// The options keras-hub's TransformerEncoder and TransformerDecoder share, with keras-hub's names
/// and defaults: dropout (0; inference ignores it), activation ("relu"), layer_norm_epsilon (1e-5),
/// normalize_first (false), and the seed of build()'s initial weights. kernel_initializer and
/// bias_initializer only choose initial weights; strata's are Keras' defaults (glorot_uniform,
/// zeros).
template <class Derived>
class TransformerOptions : public Options<Derived> {
 public:
  Derived& dropout(double rate) {
    dropout_ = rate;
    return self();
  }
  /// The feedforward network's activation (a built-in Keras activation by name).
  Derived& activation(std::string name) {
    activation_ = std::move(name);
    return self();
  }
  Derived& layer_norm_epsilon(double e) {
    layer_norm_epsilon_ = e;
    return self();
  }
  /// true: the inputs of the attention and feedforward blocks are normalised (GPT-2); false: their
  /// outputs after the residual sum (BERT, "Attention Is All You Need").
  Derived& normalize_first(bool on) {
    normalize_first_ = on;
    return self();
  }
  Derived& seed(std::uint64_t value) {
    seed_ = value;
    return self();
  }
  double dropout() const { return dropout_; }
  const std::string& activation() const { return activation_; }
  double layer_norm_epsilon() const { return layer_norm_epsilon_; }
  bool normalize_first() const { return normalize_first_; }
  std::optional<std::uint64_t> seed() const { return seed_; }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  double dropout_ = 0;
  std::string activation_ = "relu";
  double layer_norm_epsilon_ = 1e-5;
  bool normalize_first_ = false;
  std::optional<std::uint64_t> seed_;
};

/// One attention block of a keras-hub Transformer layer: its MultiHeadAttention and the
/// LayerNormalization that follows (or, with normalize_first, precedes) it.
template <class T>
struct AttentionBlock {
  std::optional<MultiHeadAttention<T>> attention;
  std::optional<LayerNormalization<T>> norm;
};

/// What keras-hub's TransformerEncoder and TransformerDecoder share: the sublayers' construction,
/// weights and computation. x (B, T, D) -> (B, T, D):
///   post-norm:  x = LN_a(x + attention(x)) for each attention block, then x = LN_f(x + FFN(x))
///   pre-norm:   x = x + attention(LN_a(x)) for each attention block, then x = x + FFN(LN_f(x))
/// with FFN(x) = Dense(D)(activation(Dense(intermediate_dim)(x))); each attention has num_heads
/// heads of key_dim = D / num_heads (rounded down) and projects back to D.
template <class T>
class TransformerCore {
 public:
  TransformerCore(Index intermediate_dim, Index num_heads, double dropout, std::string activation, double epsilon,
                  bool normalize_first, std::optional<std::uint64_t> seed, std::string who, std::string name)
      : intermediate_dim_(intermediate_dim),
        heads_(num_heads),
        dropout_(dropout),
        activation_(std::move(activation)),
        epsilon_(epsilon),
        normalize_first_(normalize_first),
        seed_(seed),
        who_(std::move(who)),
        name_(std::move(name)) {
    if (intermediate_dim < 1 || num_heads < 1) {
      throw value_error(concat(who_, ": intermediate_dim and num_heads must be at least 1; got ", intermediate_dim,
                               " and ", num_heads));
    }
    if (!(dropout >= 0 && dropout < 1)) throw value_error(concat(who_, ": dropout must be in [0, 1); got ", dropout));
    if (!(epsilon > 0)) throw value_error(concat(who_, ": layer_norm_epsilon must be positive; got ", epsilon));
    (void)parse_activation(activation_, who_);  // value_error for an unknown name, now
  }

  Index intermediate_dim() const { return intermediate_dim_; }
  Index num_heads() const { return heads_; }
  double dropout() const { return dropout_; }
  const std::string& activation() const { return activation_; }
  double layer_norm_epsilon() const { return epsilon_; }
  bool normalize_first() const { return normalize_first_; }
  bool built() const { return hidden_ > 0; }
  /// D, the inputs' feature size; 0 until built.
  Index hidden_dim() const { return hidden_; }
  Index key_dim_for(Index hidden) const {
    const Index k = hidden / heads_;
    if (k < 1) {
      throw value_error(concat(who_, ": the attention key_dim, hidden_dim / num_heads, must be at least 1: hidden_dim ",
                               hidden, " is smaller than num_heads ", heads_));
    }
    return k;
  }

  /// keras-hub's build: the attention blocks (self, then cross with `encoder_features` > 0), the
  /// feedforward network; glorot_uniform kernels, zero biases, unit gammas, zero betas.
  void build(Index hidden, Index encoder_features, std::size_t blocks) {
    const Index key_dim = key_dim_for(hidden);
    std::vector<AttentionBlock<T>> made(blocks);
    for (std::size_t i = 0; i < blocks; ++i) {
      MultiHeadAttentionOptions o;
      o.dropout(dropout_).name(sub_name(i == 0 ? "self_attention" : "cross_attention"));
      if (seed_) o.seed(*seed_ + 10 * i);
      made[i].attention.emplace(heads_, key_dim, o);
      const Index kv = i == 0 ? hidden : encoder_features;
      made[i].attention->build(hidden, kv, kv);
      made[i].norm.emplace(layer_norm(i == 0 ? "self_attention_layer_norm" : "cross_attention_layer_norm"));
      made[i].norm->build(hidden);
    }
    DenseOptions io, oo;
    io.activation(activation_).name(sub_name("feedforward_intermediate_dense"));
    oo.name(sub_name("feedforward_output_dense"));
    if (seed_) {
      io.seed(*seed_ + 100);
      oo.seed(*seed_ + 101);
    }
    Dense<T> inter(intermediate_dim_, io), out(hidden, oo);
    inter.build(hidden);
    out.build(intermediate_dim_);
    LayerNormalization<T> fnorm = layer_norm("feedforward_layer_norm");
    fnorm.build(hidden);
    blocks_ = std::move(made);
    intermediate_.emplace(std::move(inter));
    output_.emplace(std::move(out));
    ffn_norm_.emplace(std::move(fnorm));
    hidden_ = hidden;
  }

  const std::vector<AttentionBlock<T>>& blocks() const { return blocks_; }
  const Dense<T>& intermediate_dense() const { return *intermediate_; }
  const Dense<T>& output_dense() const { return *output_; }
  const LayerNormalization<T>& feedforward_layer_norm() const { return *ffn_norm_; }

  /// The weights of attention block i: its MultiHeadAttention's 8, then its LayerNormalization's 2.
  void add_block_weights(Weights<T>& w, std::size_t i) const {
    for (AnyTensor<T>& a : blocks_[i].attention->get_weights()) w.push_back(std::move(a));
    for (AnyTensor<T>& a : blocks_[i].norm->get_weights()) w.push_back(std::move(a));
  }
  static void append(Weights<T>& w, Weights<T> more) {
    for (AnyTensor<T>& a : more) w.push_back(std::move(a));
  }
  Weights<T> intermediate_weights() const { return intermediate_->get_weights(); }
  Weights<T> output_weights() const { return output_->get_weights(); }
  Weights<T> ffn_norm_weights() const { return ffn_norm_->get_weights(); }

  /// Sets the weights from their parts: per attention block its 10 arrays at `block_at[i]`, the
  /// feedforward network's at `inter_at`, `out_at`, `norm_at` (2 each). Validates every shape
  /// against D (from the first query kernel), num_heads and intermediate_dim; commits only when
  /// all are valid.
  void set_weights(const Weights<T>& w, const std::vector<std::size_t>& block_at, std::size_t inter_at,
                   std::size_t out_at, std::size_t norm_at) {
    const AnyTensor<T>& q = w[block_at[0]];
    if (q.rank() != 3 || q.shape()[1] != heads_ || q.shape()[0] < 1) {
      throw shape_error(concat(who_, ": weight ", block_at[0],
                               " (self-attention query kernel) must have shape (hidden_dim, num_heads=", heads_,
                               ", key_dim); got ", q.empty() ? std::string("an empty tensor") : q.shape().to_string()));
    }
    const Index hidden = q.shape()[0];
    const Index key_dim = key_dim_for(hidden);
    const auto slice = [&](std::size_t at, std::size_t n) {
      return Weights<T>(w.begin() + static_cast<std::ptrdiff_t>(at), w.begin() + static_cast<std::ptrdiff_t>(at + n));
    };
    const auto expect = [&](std::size_t at, const Shape& shape, const char* what) {
      if (w[at].shape() != shape) {
        throw shape_error(concat(who_, ": weight ", at, " (", what, ") must have shape ", shape.to_string(), "; got ",
                                 w[at].empty() ? std::string("an empty tensor") : w[at].shape().to_string()));
      }
    };
    std::vector<AttentionBlock<T>> made(block_at.size());
    for (std::size_t i = 0; i < block_at.size(); ++i) {
      const std::size_t at = block_at[i];
      // keras-hub's attention: key_dim = value_dim = D / num_heads, output projected to D.
      expect(at, Shape{hidden, heads_, key_dim},
             i == 0 ? "self-attention query kernel" : "cross-attention query kernel");
      expect(at + 6, Shape{heads_, key_dim, hidden},
             i == 0 ? "self-attention output kernel" : "cross-attention output kernel");
      if (i == 0) expect(at + 2, Shape{hidden, heads_, key_dim}, "self-attention key kernel");
      MultiHeadAttentionOptions o;
      o.dropout(dropout_).name(sub_name(i == 0 ? "self_attention" : "cross_attention"));
      made[i].attention.emplace(heads_, key_dim, o);
      made[i].attention->set_weights(slice(at, 8));
      expect(at + 8, Shape{hidden}, i == 0 ? "self_attention_layer_norm gamma" : "cross_attention_layer_norm gamma");
      expect(at + 9, Shape{hidden}, i == 0 ? "self_attention_layer_norm beta" : "cross_attention_layer_norm beta");
      made[i].norm.emplace(layer_norm(i == 0 ? "self_attention_layer_norm" : "cross_attention_layer_norm"));
      made[i].norm->set_weights(slice(at + 8, 2));
    }
    expect(inter_at, Shape{hidden, intermediate_dim_}, "feedforward_intermediate_dense kernel");
    expect(inter_at + 1, Shape{intermediate_dim_}, "feedforward_intermediate_dense bias");
    expect(out_at, Shape{intermediate_dim_, hidden}, "feedforward_output_dense kernel");
    expect(out_at + 1, Shape{hidden}, "feedforward_output_dense bias");
    expect(norm_at, Shape{hidden}, "feedforward_layer_norm gamma");
    expect(norm_at + 1, Shape{hidden}, "feedforward_layer_norm beta");
    Dense<T> inter(intermediate_dim_,
                   DenseOptions().activation(activation_).name(sub_name("feedforward_intermediate_dense")));
    inter.set_weights(slice(inter_at, 2));
    Dense<T> out(hidden, DenseOptions().name(sub_name("feedforward_output_dense")));
    out.set_weights(slice(out_at, 2));
    LayerNormalization<T> fnorm = layer_norm("feedforward_layer_norm");
    fnorm.set_weights(slice(norm_at, 2));
    blocks_ = std::move(made);
    intermediate_.emplace(std::move(inter));
    output_.emplace(std::move(out));
    ffn_norm_.emplace(std::move(fnorm));
    hidden_ = hidden;
  }

  Index count_params() const {
    Index n = intermediate_->count_params() + output_->count_params() + ffn_norm_->count_params();
    for (const AttentionBlock<T>& b : blocks_) n += b.attention->count_params() + b.norm->count_params();
    return n;
  }

  /// keras-hub's MultiHeadAttention weight groups of a .keras file, at `<attribute>/query_dense`, ...
  void add_attention_groups(std::vector<WeightGroup>& g, const std::string& attribute, Index hidden,
                            Index kv_features) const {
    const Index key_dim = key_dim_for(hidden);
    const auto group = [&](const char* sub, Shape kernel, Shape bias) {
      g.push_back(
          WeightGroup{attribute + "/" + sub, {{"kernel", std::move(kernel), ""}, {"bias", std::move(bias), ""}}});
    };
    group("query_dense", Shape{hidden, heads_, key_dim}, Shape{heads_, key_dim});
    group("key_dense", Shape{kv_features, heads_, key_dim}, Shape{heads_, key_dim});
    group("value_dense", Shape{kv_features, heads_, key_dim}, Shape{heads_, key_dim});
    group("output_dense", Shape{heads_, key_dim, hidden}, Shape{hidden});
  }
  static WeightGroup norm_group(const std::string& attribute, Index hidden) {
    return WeightGroup{attribute, {{"gamma", Shape{hidden}, ""}, {"beta", Shape{hidden}, ""}}};
  }
  static WeightGroup dense_group(const std::string& attribute, Index in, Index units) {
    return WeightGroup{attribute, {{"kernel", Shape{in, units}, ""}, {"bias", Shape{units}, ""}}};
  }

  /// Throws shape_error unless x is (batch, steps, D) with the layer's D.
  void check_input(const Shape& x, const char* what) const {
    if (x.rank() != 3 || x[2] != hidden_) {
      throw shape_error(
          concat(who_, ": ", what, " must have shape (batch, steps, hidden_dim=", hidden_, "); got ", x.to_string()));
    }
  }

  /// The computation on x (B, T, D), into out (B, T, D; not x's memory). masks[i] are attention
  /// block i's masks; `encoder` is the cross-attention's value (and key).
  ///
  /// The attention blocks mix steps, so each runs over the whole tensor; what follows the last one
  /// (its residual sum and LayerNormalization, the feedforward network, its residual sum and
  /// LayerNormalization) is row by row, so it runs in blocks of rows that stay in cache, each
  /// block through the Dense and LayerNormalization layers (whose rows do not depend on the rows
  /// around them: the result is bitwise that of whole-tensor calls).
  void run(const TensorView<T>& x, const std::vector<AttentionMasks<T>>& masks, const TensorView<T>& encoder,
           T* out) const {
    const Shape& shape = x.shape();
    const Index n = shape.size();
    if (n == 0) return;
    std::unique_ptr<T[]> normed;
    AttentionResult<T> last;    // the last block's attention output, when it is not in out
    const T* addend = nullptr;  // the last block's sum is out + addend
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const AttentionBlock<T>& b = blocks_[i];
      const AttentionMasks<T>& m = masks[i];
      const bool plain = m.query_mask == nullptr && m.value_mask == nullptr && m.key_mask == nullptr &&
                         m.attention_mask.empty() && !m.use_causal_mask;
      // The block's input and residual: x for the first block, then the running result (in out).
      const T* in = i == 0 ? x.data() : out;
      const T* query = in;
      if (normalize_first_) {
        if (!normed) normed.reset(new T[static_cast<std::size_t>(n)]);
        b.norm->forward(in, shape, normed.get(), n);
        query = normed.get();
      }
      const TensorView<T> q(query, shape);
      if (i == 0 && plain) {
        b.attention->forward(query, shape, out, n);  // straight into out
        addend = x.data();
      } else {
        AttentionResult<T> r = b.attention->call(q, i == 0 ? q : encoder, TensorView<T>(), m);
        if (i == 0) {
          std::copy(r.output.data(), r.output.data() + n, out);
          addend = x.data();
        } else {
          last = std::move(r);
          addend = last.output.data();
        }
      }
      if (i + 1 < blocks_.size()) {
        add_into(out, addend, n);
        if (!normalize_first_) b.norm->forward(out, shape, out, n);
      }
    }
    const LayerNormalization<T>& last_norm = *blocks_.back().norm;
    const Index rows = n / hidden_, width = intermediate_dim_, block = ffn_block_rows;
    const double flops_per_row = 4.0 * static_cast<double>(hidden_) * static_cast<double>(width);
    parallel_rows(rows, std::max(block, rows_worth_a_thread(flops_per_row)), block, [&](Index r0, Index r1) {
      // Scratch for one block of rows, per thread (uninitialised: every value is written first).
      const Index m_max = std::min(block, r1 - r0);
      std::unique_ptr<T[]> h(new T[static_cast<std::size_t>(m_max * width)]);
      std::unique_ptr<T[]> z(new T[static_cast<std::size_t>(m_max * hidden_)]);
      for (Index b0 = r0; b0 < r1; b0 += block) {
        const Index m = std::min(block, r1 - b0), size = m * hidden_;
        const Shape rows_shape{m, hidden_};
        T* o = out + b0 * hidden_;
        add_into(o, addend + b0 * hidden_, size);
        const T* ffn_in = o;
        if (normalize_first_) {
          ffn_norm_->forward(o, rows_shape, z.get(), size);
          ffn_in = z.get();
        } else {
          last_norm.forward(o, rows_shape, o, size);
        }
        intermediate_->forward(ffn_in, rows_shape, h.get(), m * width);
        output_->forward(h.get(), Shape{m, width}, z.get(), size);
        add_into(o, z.get(), size);
        if (!normalize_first_) ffn_norm_->forward(o, rows_shape, o, size);
      }
    });
  }

  /// Rows per block of the row-wise part: a multiple of the GEMM's 6-row tiles whose intermediate
  /// activations (rows x intermediate_dim) stay in a core's cache for common sizes.
  static constexpr Index ffn_block_rows = 96;

  const std::string& who() const { return who_; }

 private:
  static void add_into(T* y, const T* x, Index n) {
    for (Index i = 0; i < n; ++i) y[i] += x[i];
  }
  std::string sub_name(const char* attribute) const { return name_.empty() ? attribute : name_ + "/" + attribute; }
  LayerNormalization<T> layer_norm(const char* attribute) const {
    return LayerNormalization<T>(LayerNormalizationOptions().epsilon(epsilon_).name(sub_name(attribute)));
  }

  Index intermediate_dim_, heads_;
  double dropout_;
  std::string activation_;
  double epsilon_;
  bool normalize_first_;
  std::optional<std::uint64_t> seed_;
  std::string who_, name_;
  Index hidden_ = 0;
  std::vector<AttentionBlock<T>> blocks_;
  std::optional<Dense<T>> intermediate_, output_;
  std::optional<LayerNormalization<T>> ffn_norm_;
};

/// A keras-hub padding mask given as a tensor (batch, steps) (Keras: bool or int; nonzero = kept).
template <class T>
Mask mask_from_tensor(const TensorView<T>& t, Index batch, Index steps, const std::string& who, const char* what) {
  if (t.rank() != 2 || t.shape()[0] != batch || t.shape()[1] != steps) {
    throw shape_error(concat(who, ": ", what, " must have shape (batch=", batch, ", steps=", steps, "); got ",
                             t.shape().to_string()));
  }
  Mask m(batch, steps);
  for (Index i = 0; i < t.size(); ++i) m.data()[i] = t.data()[i] != T(0);
  return m;
}

/// Which of a keras-hub layer's call arguments a graph call's inputs are: positional ones ("") take
/// `positional`'s names in order; a loaded call names its keyword tensors (LayerConfig::tensor_roles).
inline std::vector<std::string> transformer_roles(const std::vector<std::string>& names_given, std::size_t n,
                                                  const std::vector<const char*>& positional, const std::string& who) {
  std::vector<std::string> names = names_given;
  if (names.empty()) names.resize(n);
  if (names.size() != n) {
    throw value_error(concat(who, ": the call names ", names.size(), " inputs; it is given ", n));
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      if (i >= positional.size()) throw value_error(concat(who, ": takes at most ", positional.size(), " inputs"));
      names[i] = positional[i];
    }
    if (std::find(positional.begin(), positional.end(), names[i]) == positional.end()) {
      throw unsupported_error(concat(who, ": the call argument '", names[i], "' is not supported"));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (names[j] == names[i]) throw value_error(concat(who, ": the input '", names[i], "' is given twice"));
    }
  }
  return names;
}

inline int role_index(const std::vector<std::string>& names, const char* role) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == role) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace detail

/// Options of TransformerEncoder, keras-hub's arguments and defaults: dropout (0), activation
/// ("relu"), layer_norm_epsilon (1e-5), normalize_first (false); and the seed of build().
class TransformerEncoderOptions : public detail::TransformerOptions<TransformerEncoderOptions> {};

/// The masks of a TransformerEncoder call: `input_mask`, the Keras mask the inputs carry
/// (Embedding(mask_zero=True) or TokenAndPositionEmbedding(mask_zero=True) before it); keras-hub's
/// call arguments `padding_mask` (batch, steps) and `attention_mask` ((batch, T, T), nonzero = may
/// attend). As keras-hub: the padding mask (padding_mask, else input_mask) masks the key steps
/// (it becomes the attention mask (B, 1, S), ANDed with attention_mask), and Keras'
/// MultiHeadAttention adds input_mask as its query mask (a padded query step attends to nothing:
/// every score gets -1e9, which in float swallows the scores, so the step's attention is the mean of
/// the values).
template <class T>
struct TransformerEncoderMasks {
  const Mask* input_mask = nullptr;
  const Mask* padding_mask = nullptr;
  TensorView<T> attention_mask;
};

/// keras-hub `TransformerEncoder(intermediate_dim, num_heads, dropout, activation,
/// layer_norm_epsilon, normalize_first)(inputs, padding_mask, attention_mask)`.
///
/// inputs (B, T, D) -> (B, T, D). Post-norm (normalize_first=false, the default):
///   x = LN_1(x + MultiHeadAttention(x, x)),  y = LN_2(x + Dense(D)(activation(Dense(intermediate_dim)(x))));
/// pre-norm: x = x + MultiHeadAttention(LN_1(x), LN_1(x)), y = x + FFN(LN_2(x)). The attention has
/// num_heads heads of key_dim = value_dim = D / num_heads (rounded down) and projects back to D;
/// LN_i are LayerNormalization(epsilon=layer_norm_epsilon) over the last axis. Dropout is a training
/// option; inference ignores it. Masks: TransformerEncoderMasks; the output carries the inputs' mask.
///
/// Weights, as Keras' get_weights() (16 arrays): the self-attention's 8 (MultiHeadAttention's: query,
/// key, value kernels (D, N, D/N) and biases (N, D/N), output kernel (N, D/N, D) and bias (D,)),
/// self_attention_layer_norm gamma, beta (D,), feedforward_layer_norm gamma, beta (D,),
/// feedforward_intermediate_dense kernel (D, intermediate_dim), bias, feedforward_output_dense kernel
/// (intermediate_dim, D), bias (D,). A .keras file keeps them at `<layer>/_self_attention_layer/
/// query_dense/vars`, ..., `<layer>/_self_attention_layer_norm/vars`, `<layer>/_feedforward_layer_norm/
/// vars`, `<layer>/_feedforward_intermediate_dense/vars`, `<layer>/_feedforward_output_dense/vars`.
template <class T>
class TransformerEncoder {
  static_assert(std::is_floating_point_v<T>, "strata::TransformerEncoder: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "TransformerEncoder";
  static std::vector<std::string> keras_names() { return detail::keras_hub_names(class_name); }

  /// Throws value_error for intermediate_dim or num_heads < 1, dropout outside [0, 1), a
  /// non-positive layer_norm_epsilon or an unknown activation.
  TransformerEncoder(Index intermediate_dim, Index num_heads,
                     const TransformerEncoderOptions& options = TransformerEncoderOptions())
      : core_(intermediate_dim, num_heads, options.dropout(), options.activation(), options.layer_norm_epsilon(),
              options.normalize_first(), options.seed(), detail::describe_layer(class_name, options.name()),
              options.name()),
        name_(options.name()) {}

  Index intermediate_dim() const { return core_.intermediate_dim(); }
  Index num_heads() const { return core_.num_heads(); }
  double dropout() const { return core_.dropout(); }
  const std::string& activation() const { return core_.activation(); }
  double layer_norm_epsilon() const { return core_.layer_norm_epsilon(); }
  bool normalize_first() const { return core_.normalize_first(); }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  bool built() const { return core_.built(); }
  /// The sublayers (after build or set_weights).
  const MultiHeadAttention<T>& self_attention() const { return *core_.blocks().at(0).attention; }
  const LayerNormalization<T>& self_attention_layer_norm() const { return *core_.blocks().at(0).norm; }
  const LayerNormalization<T>& feedforward_layer_norm() const { return core_.feedforward_layer_norm(); }
  const Dense<T>& feedforward_intermediate_dense() const { return core_.intermediate_dense(); }
  const Dense<T>& feedforward_output_dense() const { return core_.output_dense(); }

  /// keras-hub build for inputs of `hidden_dim` features: glorot_uniform kernels, zero biases.
  /// value_error when hidden_dim < num_heads (key_dim would be 0).
  void build(Index hidden_dim) { core_.build(hidden_dim, 0, 1); }

  /// Keras get_weights() (the 16 arrays of the class comment).
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w;
    core_.add_block_weights(w, 0);
    core_.append(w, core_.ffn_norm_weights());
    core_.append(w, core_.intermediate_weights());
    core_.append(w, core_.output_weights());
    return w;
  }
  /// Keras set_weights(): the 16 arrays get_weights() gives; takes D from the query kernel.
  /// shape_error for a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, 16, describe(),
                               "self-attention's 8, self_attention_layer_norm gamma, beta, feedforward_layer_norm "
                               "gamma, beta, feedforward_intermediate_dense kernel, bias, feedforward_output_dense "
                               "kernel, bias");
    core_.set_weights(weights, {0}, 12, 14, 10);
  }
  Index count_params() const {
    require_built("count_params");
    return core_.count_params();
  }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  static constexpr int output_rank(int input_rank) { return input_rank == 3 ? 3 : invalid_rank; }
  /// The input's shape; shape_error unless (batch, steps, D).
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    core_.check_input(input, "inputs");
    return input;
  }
  /// Keras `encoder(x)` on raw row-major memory, no masks (output must not overlap input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    core_.run(TensorView<T>(input, input_shape), {AttentionMasks<T>()}, TensorView<T>(), output);
  }
  /// Keras `encoder(x, padding_mask=..., attention_mask=...)` with the masks of
  /// TransformerEncoderMasks; returns (B, T, D).
  AnyTensor<T> call(const TensorView<T>& x, const TransformerEncoderMasks<T>& masks) const {
    (void)compute_output_shape(x.shape());
    AnyTensor<T> y = AnyTensor<T>::uninitialized(x.shape());
    core_.run(x, {attention_masks(x.shape(), masks)}, TensorView<T>(), y.data());
    return y;
  }

  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(X::NumIndices == 3,
                  "strata::TransformerEncoder: the input must have rank 3 (batch, steps, features).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  // --- Keras description (docs/custom-layers.md)
  /// keras-hub config: intermediate_dim, num_heads, dropout, activation, layer_norm_epsilon,
  /// normalize_first (kernel/bias initializers and regularizers only matter for training). Call
  /// arguments: padding_mask and attention_mask tensors (by keyword or position);
  /// return_attention_scores is refused.
  static TransformerEncoder from_config(const LayerConfig<T>& config) {
    if (config.call_arguments().boolean("return_attention_scores", false)) {
      config.unsupported("return_attention_scores is not supported");
    }
    TransformerEncoder layer(config.integer("intermediate_dim"), config.integer("num_heads"),
                             TransformerEncoderOptions()
                                 .dropout(config.number("dropout", 0.0))
                                 .activation(config.activation("activation", "relu"))
                                 .layer_norm_epsilon(config.number("layer_norm_epsilon", 1e-5))
                                 .normalize_first(config.boolean("normalize_first", false))
                                 .name(config.name()));
    layer.names_ = config.call_arguments().tensor_roles({"inputs", "padding_mask", "attention_mask"});
    return layer;
  }
  std::size_t weight_count() const { return 16; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const std::vector<std::string> r = roles(inputs.size());
    const Shape& x = inputs[0];
    if (x.rank() != 3) {
      throw shape_error(
          detail::concat(describe(), ": inputs must have rank 3 (batch, steps, features); got ", x.to_string()));
    }
    const Index d = x[2], f = core_.intermediate_dim();
    std::vector<WeightGroup> g;
    core_.add_attention_groups(g, "_self_attention_layer", d, d);
    g.push_back(detail::TransformerCore<T>::norm_group("_self_attention_layer_norm", d));
    g.push_back(detail::TransformerCore<T>::norm_group("_feedforward_layer_norm", d));
    g.push_back(detail::TransformerCore<T>::dense_group("_feedforward_intermediate_dense", d, f));
    g.push_back(detail::TransformerCore<T>::dense_group("_feedforward_output_dense", f, d));
    return g;
  }
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    (void)roles(inputs.size());
    return {compute_output_shape(inputs[0])};
  }
  /// The output carries the inputs' mask (keras-hub's layer supports masking).
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    (void)output_shapes(inputs);
    return {masks.empty() ? 0 : masks[0]};
  }
  void call_graph(GraphCall<T>& c) const {
    const std::vector<std::string> r = roles(c.inputs.size());
    for (const GraphInput<T>& in : c.inputs) {
      if (in.tensor.empty()) throw shape_error(detail::concat(describe(), ": an input tensor is empty"));
    }
    const TensorView<T>& x = c.inputs[0].tensor;
    (void)compute_output_shape(x.shape());
    TransformerEncoderMasks<T> m;
    m.input_mask = c.inputs[0].mask.get();
    std::optional<Mask> padding;
    if (const int p = detail::role_index(r, "padding_mask"); p >= 0) {
      padding = detail::mask_from_tensor(c.inputs[static_cast<std::size_t>(p)].tensor, x.shape()[0], x.shape()[1],
                                         describe(), "padding_mask");
      m.padding_mask = &*padding;
    }
    if (const int a = detail::role_index(r, "attention_mask"); a >= 0) {
      m.attention_mask = c.inputs[static_cast<std::size_t>(a)].tensor;
    }
    c.outputs.push_back(call(x, m));
    c.masks.push_back(c.inputs[0].mask);
  }

 private:
  std::vector<std::string> roles(std::size_t n) const {
    return detail::transformer_roles(names_, n, {"inputs", "padding_mask", "attention_mask"}, describe());
  }
  AttentionMasks<T> attention_masks(const Shape& x, const TransformerEncoderMasks<T>& masks) const {
    const Index batch = x[0], steps = x[1];
    AttentionMasks<T> m;
    if (masks.input_mask != nullptr) detail::check_mask(*masks.input_mask, batch, steps, describe() + " (input mask)");
    if (masks.padding_mask != nullptr) {
      detail::check_mask(*masks.padding_mask, batch, steps, describe() + " (padding_mask)");
    }
    // keras-hub's merge_padding_and_attention_mask: the padding mask as (B, 1, S) (Keras'
    // MultiHeadAttention's value mask is that), ANDed with attention_mask; Keras' MultiHeadAttention
    // takes the query mask from the inputs' own mask.
    m.value_mask = masks.padding_mask != nullptr ? masks.padding_mask : masks.input_mask;
    m.query_mask = masks.input_mask;
    if (!masks.attention_mask.empty()) {
      const Shape& a = masks.attention_mask.shape();
      if (a.rank() != 3) {
        throw shape_error(
            detail::concat(describe(), ": attention_mask must have shape (batch, T, T); got ", a.to_string()));
      }
      m.attention_mask = masks.attention_mask;
    }
    return m;
  }
  void require_built(const char* what) const {
    if (!built()) {
      throw value_error(detail::concat(describe(), ": ", what, " needs weights; call build() or set_weights() first"));
    }
  }

  detail::TransformerCore<T> core_;
  std::string name_;
  std::vector<std::string> names_;
};

/// Options of TransformerDecoder: TransformerEncoderOptions' (keras-hub's dropout, activation,
/// layer_norm_epsilon, normalize_first, with their defaults) and keras-hub's call argument
/// use_causal_mask (default true).
class TransformerDecoderOptions : public detail::TransformerOptions<TransformerDecoderOptions> {
 public:
  /// keras-hub's call argument `use_causal_mask`: decoder step t attends to steps s <= t only.
  TransformerDecoderOptions& use_causal_mask(bool on) {
    use_causal_mask_ = on;
    return *this;
  }
  bool use_causal_mask() const { return use_causal_mask_; }

 private:
  bool use_causal_mask_ = true;
};

/// The masks of a TransformerDecoder call: the Keras masks the decoder and encoder sequences
/// carry, and keras-hub's call arguments decoder_padding_mask, decoder_attention_mask (B, T, T),
/// encoder_padding_mask, encoder_attention_mask (B, T, S). As keras-hub: the self-attention's
/// mask is the decoder padding mask (decoder_padding_mask, else decoder_mask) as (B, 1, T), ANDed
/// with decoder_attention_mask and the causal mask; the cross-attention's is the encoder padding
/// mask (encoder_padding_mask, else encoder_mask) as (B, 1, S), ANDed with encoder_attention_mask.
/// (keras-hub's CachedMultiHeadAttention takes no query mask.)
template <class T>
struct TransformerDecoderMasks {
  const Mask* decoder_mask = nullptr;
  const Mask* decoder_padding_mask = nullptr;
  TensorView<T> decoder_attention_mask;
  const Mask* encoder_mask = nullptr;
  const Mask* encoder_padding_mask = nullptr;
  TensorView<T> encoder_attention_mask;
};

/// keras-hub `TransformerDecoder(intermediate_dim, num_heads, dropout, activation,
/// layer_norm_epsilon, normalize_first)(decoder_sequence, encoder_sequence, ...,
/// use_causal_mask=True)`.
///
/// decoder_sequence (B, T, D) [, encoder_sequence (B, S, E)] -> (B, T, D). Post-norm (default):
///   x = LN_1(x + SelfAttention(x, x)),  [x = LN_2(x + CrossAttention(x, encoder_sequence)),]
///   y = LN_3(x + Dense(D)(activation(Dense(intermediate_dim)(x))));
/// pre-norm: each block is x + block(LN(x)). Self-attention is causal unless use_causal_mask is
/// false. The cross-attention exists when the layer is built with an encoder sequence (Keras: the
/// first call has one; then every call must have one). Attention heads as TransformerEncoder's.
/// Masks: TransformerDecoderMasks; the output carries the decoder sequence's mask.
///
/// Weights, as Keras' get_weights(): the self-attention's 8 (as TransformerEncoder's),
/// self_attention_layer_norm gamma, beta; with cross-attention its 8 (key and value kernels (E, N,
/// D/N)) and cross_attention_layer_norm gamma, beta; feedforward_intermediate_dense kernel, bias,
/// feedforward_output_dense kernel, bias; feedforward_layer_norm gamma, beta (16 or 26 arrays). A
/// .keras file keeps them at `<layer>/_self_attention_layer/query_dense/vars`, ...,
/// `<layer>/_cross_attention_layer/...`, `<layer>/_feedforward_layer_norm/vars`.
template <class T>
class TransformerDecoder {
  static_assert(std::is_floating_point_v<T>, "strata::TransformerDecoder: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "TransformerDecoder";
  static std::vector<std::string> keras_names() { return detail::keras_hub_names(class_name); }

  /// Throws value_error as TransformerEncoder's constructor.
  TransformerDecoder(Index intermediate_dim, Index num_heads,
                     const TransformerDecoderOptions& options = TransformerDecoderOptions())
      : core_(intermediate_dim, num_heads, options.dropout(), options.activation(), options.layer_norm_epsilon(),
              options.normalize_first(), options.seed(), detail::describe_layer(class_name, options.name()),
              options.name()),
        causal_(options.use_causal_mask()),
        name_(options.name()) {}

  Index intermediate_dim() const { return core_.intermediate_dim(); }
  Index num_heads() const { return core_.num_heads(); }
  double dropout() const { return core_.dropout(); }
  const std::string& activation() const { return core_.activation(); }
  double layer_norm_epsilon() const { return core_.layer_norm_epsilon(); }
  bool normalize_first() const { return core_.normalize_first(); }
  bool use_causal_mask() const { return causal_; }
  /// Whether the layer has a cross-attention (built with an encoder sequence).
  bool has_cross_attention() const { return core_.blocks().size() == 2; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  bool built() const { return core_.built(); }
  const MultiHeadAttention<T>& self_attention() const { return *core_.blocks().at(0).attention; }
  /// The cross-attention; value_error without one.
  const MultiHeadAttention<T>& cross_attention() const {
    if (!has_cross_attention()) throw value_error(describe() + ": the layer has no cross-attention");
    return *core_.blocks()[1].attention;
  }

  /// keras-hub build(decoder_sequence_shape, encoder_sequence_shape): D = decoder_features; a
  /// cross-attention when encoder_features > 0. glorot_uniform kernels, zero biases.
  void build(Index decoder_features, Index encoder_features = 0) {
    if (encoder_features < 0) throw value_error(describe() + ": encoder_features must be >= 0");
    core_.build(decoder_features, encoder_features, encoder_features > 0 ? 2 : 1);
  }

  /// Keras get_weights() (the class comment's 16 or 26 arrays).
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w;
    core_.add_block_weights(w, 0);
    if (has_cross_attention()) core_.add_block_weights(w, 1);
    core_.append(w, core_.intermediate_weights());
    core_.append(w, core_.output_weights());
    core_.append(w, core_.ffn_norm_weights());
    return w;
  }
  /// Keras set_weights(): 16 arrays (no cross-attention) or 26 (with one); shape_error otherwise,
  /// or for a count that contradicts the config's encoder_sequence_shape.
  void set_weights(const Weights<T>& weights) {
    const std::string list =
        "self-attention's 8, self_attention_layer_norm gamma, beta, [cross-attention's 8, cross_attention_layer_norm "
        "gamma, beta,] feedforward_intermediate_dense kernel, bias, feedforward_output_dense kernel, bias, "
        "feedforward_layer_norm gamma, beta";
    if (expect_cross_) {
      detail::check_weight_count(weights, *expect_cross_ ? 26 : 16, describe(), list);
    } else if (weights.size() != 16 && weights.size() != 26) {
      throw shape_error(detail::concat(describe(), ": set_weights expects 16 arrays (no cross-attention) or 26 [", list,
                                       "]; got ", weights.size()));
    }
    const bool cross = weights.size() == 26;
    const std::size_t f = cross ? 20 : 10;
    core_.set_weights(weights, cross ? std::vector<std::size_t>{0, 10} : std::vector<std::size_t>{0}, f, f + 2, f + 4);
  }
  Index count_params() const {
    require_built("count_params");
    return core_.count_params();
  }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  static constexpr int output_rank(int input_rank) { return input_rank == 3 ? 3 : invalid_rank; }
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    core_.check_input(input, "decoder_sequence");
    return input;
  }
  /// Keras `decoder(x)` on raw memory, no masks but the causal one; value_error for a layer with
  /// cross-attention (it needs the encoder sequence: call()).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    if (has_cross_attention()) {
      throw value_error(describe() + ": the layer has a cross-attention; call it with the encoder sequence");
    }
    AttentionMasks<T> m;
    m.use_causal_mask = causal_;
    core_.run(TensorView<T>(input, input_shape), {m}, TensorView<T>(), output);
  }
  /// Keras `decoder(decoder_sequence, encoder_sequence, ...)`; `encoder_sequence` empty for a
  /// layer without cross-attention (value_error when that does not match the layer).
  AnyTensor<T> call(const TensorView<T>& decoder_sequence, const TensorView<T>& encoder_sequence,
                    const TransformerDecoderMasks<T>& masks = TransformerDecoderMasks<T>()) const {
    (void)compute_output_shape(decoder_sequence.shape());
    const Shape& x = decoder_sequence.shape();
    if (has_cross_attention() == encoder_sequence.empty()) {
      throw value_error(describe() + (has_cross_attention()
                                          ? ": the layer has a cross-attention; it needs the encoder sequence"
                                          : ": the layer has no cross-attention; it takes no encoder sequence"));
    }
    const Index batch = x[0], steps = x[1];
    std::vector<AttentionMasks<T>> m(has_cross_attention() ? 2 : 1);
    m[0].use_causal_mask = causal_;
    const auto check = [&](const Mask* mask, Index s, const char* what) {
      if (mask != nullptr) detail::check_mask(*mask, batch, s, describe() + " (" + what + ")");
    };
    check(masks.decoder_mask, steps, "decoder mask");
    check(masks.decoder_padding_mask, steps, "decoder_padding_mask");
    m[0].value_mask = masks.decoder_padding_mask != nullptr ? masks.decoder_padding_mask : masks.decoder_mask;
    m[0].attention_mask = masks.decoder_attention_mask;
    if (has_cross_attention()) {
      const Shape& e = encoder_sequence.shape();
      if (e.rank() != 3 || e[0] != batch) {
        throw shape_error(detail::concat(describe(), ": encoder_sequence must have shape (batch=", batch,
                                         ", steps, features); got ", e.to_string()));
      }
      check(masks.encoder_mask, e[1], "encoder mask");
      check(masks.encoder_padding_mask, e[1], "encoder_padding_mask");
      m[1].value_mask = masks.encoder_padding_mask != nullptr ? masks.encoder_padding_mask : masks.encoder_mask;
      m[1].attention_mask = masks.encoder_attention_mask;
    }
    for (const TensorView<T>* a : {&masks.decoder_attention_mask, &masks.encoder_attention_mask}) {
      if (!a->empty() && a->rank() != 3) {
        throw shape_error(detail::concat(describe(), ": an attention mask must have shape (batch, T, S); got ",
                                         a->shape().to_string()));
      }
    }
    AnyTensor<T> y = AnyTensor<T>::uninitialized(x);
    core_.run(decoder_sequence, m, encoder_sequence, y.data());
    return y;
  }

  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(X::NumIndices == 3,
                  "strata::TransformerDecoder: the input must have rank 3 (batch, steps, features).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  // --- Keras description (docs/custom-layers.md)
  /// keras-hub config: intermediate_dim, num_heads, dropout, activation, layer_norm_epsilon,
  /// normalize_first, decoder_sequence_shape and encoder_sequence_shape (when present, the latter
  /// says whether there is a cross-attention). Call arguments: encoder_sequence and the four mask
  /// tensors (by keyword or position), use_causal_mask; the caches are refused.
  static TransformerDecoder from_config(const LayerConfig<T>& config) {
    TransformerDecoder layer(config.integer("intermediate_dim"), config.integer("num_heads"),
                             TransformerDecoderOptions()
                                 .use_causal_mask(config.call_arguments().boolean("use_causal_mask", true))
                                 .dropout(config.number("dropout", 0.0))
                                 .activation(config.activation("activation", "relu"))
                                 .layer_norm_epsilon(config.number("layer_norm_epsilon", 1e-5))
                                 .normalize_first(config.boolean("normalize_first", false))
                                 .name(config.name()));
    if (config.has("encoder_sequence_shape")) layer.expect_cross_ = !config.get("encoder_sequence_shape").is_null();
    layer.names_ = config.call_arguments().tensor_roles({"decoder_sequence", "encoder_sequence", "decoder_padding_mask",
                                                         "decoder_attention_mask", "encoder_padding_mask",
                                                         "encoder_attention_mask"});
    return layer;
  }
  std::size_t weight_count() const { return expect_cross_ && *expect_cross_ ? 26 : 16; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const std::vector<std::string> r = roles(inputs.size());
    const Shape& x = inputs[0];
    if (x.rank() != 3) {
      throw shape_error(detail::concat(describe(), ": decoder_sequence must have rank 3 (batch, steps, features); got ",
                                       x.to_string()));
    }
    const Index d = x[2], f = core_.intermediate_dim();
    const int e = detail::role_index(r, "encoder_sequence");
    std::vector<WeightGroup> g;
    core_.add_attention_groups(g, "_self_attention_layer", d, d);
    g.push_back(detail::TransformerCore<T>::norm_group("_self_attention_layer_norm", d));
    if (e >= 0) {
      const Shape& es = inputs[static_cast<std::size_t>(e)];
      if (es.rank() != 3) {
        throw shape_error(detail::concat(describe(), ": encoder_sequence must have rank 3; got ", es.to_string()));
      }
      core_.add_attention_groups(g, "_cross_attention_layer", d, es[2]);
      g.push_back(detail::TransformerCore<T>::norm_group("_cross_attention_layer_norm", d));
    }
    g.push_back(detail::TransformerCore<T>::dense_group("_feedforward_intermediate_dense", d, f));
    g.push_back(detail::TransformerCore<T>::dense_group("_feedforward_output_dense", f, d));
    g.push_back(detail::TransformerCore<T>::norm_group("_feedforward_layer_norm", d));
    return g;
  }
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    (void)roles(inputs.size());
    return {compute_output_shape(inputs[0])};
  }
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    (void)output_shapes(inputs);
    return {masks.empty() ? 0 : masks[0]};
  }
  void call_graph(GraphCall<T>& c) const {
    const std::vector<std::string> r = roles(c.inputs.size());
    for (const GraphInput<T>& in : c.inputs) {
      if (in.tensor.empty()) throw shape_error(detail::concat(describe(), ": an input tensor is empty"));
    }
    const TensorView<T>& x = c.inputs[0].tensor;
    (void)compute_output_shape(x.shape());
    const auto at = [&](const char* role) -> const GraphInput<T>* {
      const int i = detail::role_index(r, role);
      return i >= 0 ? &c.inputs[static_cast<std::size_t>(i)] : nullptr;
    };
    TransformerDecoderMasks<T> m;
    m.decoder_mask = c.inputs[0].mask.get();
    const GraphInput<T>* enc = at("encoder_sequence");
    TensorView<T> encoder;
    if (enc != nullptr) {
      encoder = enc->tensor;
      m.encoder_mask = enc->mask.get();
    }
    std::optional<Mask> dp, ep;
    if (const GraphInput<T>* p = at("decoder_padding_mask")) {
      dp = detail::mask_from_tensor(p->tensor, x.shape()[0], x.shape()[1], describe(), "decoder_padding_mask");
      m.decoder_padding_mask = &*dp;
    }
    if (const GraphInput<T>* p = at("encoder_padding_mask")) {
      if (enc == nullptr) throw value_error(describe() + ": encoder_padding_mask needs an encoder_sequence");
      ep = detail::mask_from_tensor(p->tensor, x.shape()[0], encoder.shape()[1], describe(), "encoder_padding_mask");
      m.encoder_padding_mask = &*ep;
    }
    if (const GraphInput<T>* a = at("decoder_attention_mask")) m.decoder_attention_mask = a->tensor;
    if (const GraphInput<T>* a = at("encoder_attention_mask")) {
      if (enc == nullptr) throw value_error(describe() + ": encoder_attention_mask needs an encoder_sequence");
      m.encoder_attention_mask = a->tensor;
    }
    c.outputs.push_back(call(x, encoder, m));
    c.masks.push_back(c.inputs[0].mask);
  }

 private:
  std::vector<std::string> roles(std::size_t n) const {
    std::vector<std::string> r =
        detail::transformer_roles(names_, n,
                                  {"decoder_sequence", "encoder_sequence", "decoder_padding_mask",
                                   "decoder_attention_mask", "encoder_padding_mask", "encoder_attention_mask"},
                                  describe());
    if (r[0] != "decoder_sequence") throw value_error(describe() + ": the first input must be the decoder_sequence");
    const bool cross = detail::role_index(r, "encoder_sequence") >= 0;
    if (expect_cross_ && *expect_cross_ != cross) {
      throw value_error(describe() + (*expect_cross_
                                          ? ": the layer was built with a cross-attention (its config has an "
                                            "encoder_sequence_shape) but is called without encoder_sequence"
                                          : ": the layer was built without cross-attention but is called "
                                            "with an encoder_sequence"));
    }
    return r;
  }
  void require_built(const char* what) const {
    if (!built()) {
      throw value_error(detail::concat(describe(), ": ", what, " needs weights; call build() or set_weights() first"));
    }
  }

  detail::TransformerCore<T> core_;
  bool causal_;
  std::string name_;
  std::vector<std::string> names_;
  std::optional<bool> expect_cross_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(TransformerEncoder)
STRATA_REGISTER_LAYER(TransformerDecoder)

#endif  // STRATA_LAYERS_TRANSFORMER_HPP
