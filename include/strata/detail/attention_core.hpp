// SPDX-License-Identifier: MIT
#ifndef STRATA_DETAIL_ATTENTION_CORE_HPP
#define STRATA_DETAIL_ATTENTION_CORE_HPP

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "../activations.hpp"
#include "../error.hpp"
#include "../mask.hpp"
#include "gemm.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace detail {

// The attention core MultiHeadAttention and GroupedQueryAttention share: from projected queries,
// keys and values, per (sample, query head) one score block q k^T, the combined Keras mask, the
// softmax over the key steps and the context scores v. Query head u reads key/value head
// u / (query_heads / kv_heads) (Keras' ops.repeat of the key/value heads), straight from the
// projections: nothing is repeated or copied but one packed key and value block per (sample,
// key/value head). Every score and context value is a chain of multiply-adds in k order
// (gemm_tiled) and the softmax works row by row, so a sample's result does not depend on the batch
// around it, and a row's result does not depend on how many masked key steps follow it.

/// Which of an attention layer's inputs are value, key and attention_mask. `roles` names each input
/// passed by keyword (LayerConfig::tensor_roles; empty for a typed or positional call), "" a
/// positional one: query, value, key in turn.
struct AttentionRoles {
  std::size_t value = 1;
  int key = -1;
  int attention_mask = -1;
};
inline AttentionRoles attention_roles(const std::vector<std::string>& roles, std::size_t n, const std::string& who) {
  AttentionRoles r;
  std::vector<std::string> names = roles;
  if (names.empty()) names.resize(n);
  const char* positional[] = {"query", "value", "key"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty() && i < 3) names[i] = positional[i];
  }
  if (names.size() != n || names.size() < 2 || names[0] != "query") {
    throw value_error(
        concat(who, ": takes query, value and optionally key and attention_mask; it is given ", n, " inputs"));
  }
  for (std::size_t i = 1; i < names.size(); ++i) {
    if (names[i] == "value") {
      r.value = i;
    } else if (names[i] == "key") {
      r.key = static_cast<int>(i);
    } else if (names[i] == "attention_mask") {
      r.attention_mask = static_cast<int>(i);
    } else {
      throw value_error(concat(who, ": unknown input '", names[i], "'"));
    }
  }
  return r;
}

/// Where the projected rows of one tensor are: head h of step t of sample b starts at
/// data + b * batch_stride + t * step_stride + h * head_stride.
template <class T>
struct HeadLayout {
  const T* data = nullptr;
  Index batch_stride = 0;
  Index step_stride = 0;
  Index head_stride = 0;
  const T* at(Index b, Index t, Index h) const { return data + b * batch_stride + t * step_stride + h * head_stride; }
};

/// The same for an output.
template <class T>
struct OutputLayout {
  T* data = nullptr;
  Index batch_stride = 0;
  Index step_stride = 0;
  Index head_stride = 0;
  T* at(Index b, Index t, Index h) const { return data + b * batch_stride + t * step_stride + h * head_stride; }
};

/// How a masked score enters the softmax. Keras' Softmax(mask) adds (1 - mask) * -1e9 (the
/// softmax path of MultiHeadAttention and GroupedQueryAttention); Keras 3's
/// ops.dot_product_attention (JAX and TensorFlow backends) replaces a masked score with
/// -0.7 * the dtype's largest value. They differ only on a row masked everywhere: there the
/// first keeps the scores' differences (in float64; float32 rounds score - 1e9 to -1e9) and the
/// second is uniform.
enum class MaskFill { add_large_negative, replace_with_lowest };

/// Keras' _compute_attention_mask, ANDed: the query's (B, T), value's and key's (B, S) Keras masks
/// (null: none), the causal mask (query step t attends to key steps s <= t + causal_offset) and an
/// explicit attention_mask of shape (B|1, N|1, T|1, S|1) (a size-1 axis broadcasts; nonzero = may
/// attend).
template <class T>
struct AttentionMaskSpec {
  const Mask* query_mask = nullptr;
  const Mask* value_mask = nullptr;
  const Mask* key_mask = nullptr;
  const T* attention_mask = nullptr;
  Index attention_mask_shape[4] = {1, 1, 1, 1};
  bool causal = false;
  Index causal_offset = 0;
  MaskFill fill = MaskFill::add_large_negative;

  bool any() const {
    return query_mask != nullptr || value_mask != nullptr || key_mask != nullptr || attention_mask != nullptr || causal;
  }
};

/// The sizes of one attention call: query_heads a multiple of kv_heads.
struct AttentionSizes {
  Index batch = 0;
  Index query_heads = 0;
  Index kv_heads = 0;
  Index query_steps = 0;  // T
  Index key_steps = 0;    // S
  Index key_dim = 0;
  Index value_dim = 0;
};

/// Scratch of the core, sized once per call (reserve) so that the per-head loop allocates nothing.
template <class T>
class AttentionWorkspace {
 public:
  /// Room for key_steps x key_dim keys, key_steps x value_dim values, a (query_steps, key_steps)
  /// score block and a key-step mask row. Allocates only when the sizes grow.
  void reserve(const AttentionSizes& s) {
    if (s.key_dim > kt_rows_ || s.key_steps > kt_cols_) {
      kt_rows_ = std::max(kt_rows_, s.key_dim);
      kt_cols_ = std::max(kt_cols_, s.key_steps);
      keys.reserve(kt_rows_, kt_cols_);
    }
    if (s.key_steps > v_rows_ || s.value_dim > v_cols_) {
      v_rows_ = std::max(v_rows_, s.key_steps);
      v_cols_ = std::max(v_cols_, s.value_dim);
      values.reserve(v_rows_, v_cols_);
    }
    const std::size_t cells = static_cast<std::size_t>(s.query_steps * s.key_steps);
    if (block.size() < cells) block.resize(cells);
    if (keep.size() < static_cast<std::size_t>(s.key_steps)) keep.resize(static_cast<std::size_t>(s.key_steps));
  }

  PackedMatrix<T> keys;             // K^T of one (sample, key/value head): (key_dim, S)
  PackedMatrix<T> values;           // V of one (sample, key/value head): (S, value_dim)
  std::vector<T> block;             // one (T, S) score block when the caller keeps no scores
  std::vector<unsigned char> keep;  // the key steps a query row may attend to

 private:
  Index kt_rows_ = 0, kt_cols_ = 0, v_rows_ = 0, v_cols_ = 0;
};

/// Keras' masking constant for the add mode (its Softmax's _large_negative_number).
template <class T>
inline constexpr T attention_large_negative = static_cast<T>(-1e9);

/// Masks one score row of query step t (sample b, head n) in place, as spec says; keep is scratch
/// for the S key steps.
template <class T>
inline void mask_score_row(const AttentionMaskSpec<T>& m, Index b, Index n, Index t, Index s_len, T* row,
                           unsigned char* keep) {
  // Keras ANDs the masks into one boolean per score and masks each score once.
  const bool query_kept = m.query_mask == nullptr || m.query_mask->data()[b * m.query_mask->dimension(1) + t];
  std::fill(keep, keep + s_len, static_cast<unsigned char>(query_kept ? 1 : 0));
  if (query_kept) {
    if (m.value_mask != nullptr) {
      const bool* v = m.value_mask->data() + b * m.value_mask->dimension(1);
      for (Index s = 0; s < s_len; ++s) keep[s] &= static_cast<unsigned char>(v[s]);
    }
    if (m.key_mask != nullptr) {
      const bool* k = m.key_mask->data() + b * m.key_mask->dimension(1);
      for (Index s = 0; s < s_len; ++s) keep[s] &= static_cast<unsigned char>(k[s]);
    }
    if (m.causal) {
      const Index first_masked = std::max<Index>(0, std::min<Index>(s_len, t + m.causal_offset + 1));
      std::fill(keep + first_masked, keep + s_len, static_cast<unsigned char>(0));
    }
    if (m.attention_mask != nullptr) {
      const Index* a = m.attention_mask_shape;
      const T* am =
          m.attention_mask + (((a[0] == 1 ? 0 : b) * a[1] + (a[1] == 1 ? 0 : n)) * a[2] + (a[2] == 1 ? 0 : t)) * a[3];
      if (a[3] == 1) {
        if (am[0] == T(0)) std::fill(keep, keep + s_len, static_cast<unsigned char>(0));
      } else {
        for (Index s = 0; s < s_len; ++s) keep[s] &= static_cast<unsigned char>(am[s] != T(0));
      }
    }
  }
  if (m.fill == MaskFill::add_large_negative) {
    const T add = attention_large_negative<T>;
    for (Index s = 0; s < s_len; ++s) row[s] += keep[s] ? T(0) : add;
  } else {
    const T lowest = static_cast<T>(-0.7) * std::numeric_limits<T>::max();
    for (Index s = 0; s < s_len; ++s) row[s] = keep[s] ? row[s] : lowest;
  }
}

/// softmax((q k^T) masked) v for every (sample, query head): q (already scaled by the caller) has
/// key_dim values per head, k key_dim and v value_dim; the context goes to ctx (value_dim per
/// head) and, when scores is not null, the probabilities to scores (B, query_heads, T, S).
/// With S = 0 the context is zero.
template <class T>
void attention(const AttentionSizes& z, const HeadLayout<T>& q, const HeadLayout<T>& k, const HeadLayout<T>& v,
               const AttentionMaskSpec<T>& mask, const OutputLayout<T>& ctx, T* scores, AttentionWorkspace<T>& work) {
  STRATA_ASSERT(z.kv_heads >= 1 && z.query_heads % z.kv_heads == 0);
  const Index t_len = z.query_steps, s_len = z.key_steps;
  const Index group = z.query_heads / z.kv_heads;
  if (t_len == 0) return;
  if (s_len == 0) {
    for (Index b = 0; b < z.batch; ++b) {
      for (Index t = 0; t < t_len; ++t) {
        for (Index u = 0; u < z.query_heads; ++u) std::fill(ctx.at(b, t, u), ctx.at(b, t, u) + z.value_dim, T(0));
      }
    }
    return;
  }
  work.reserve(z);
  const bool masked = mask.any();
  for (Index b = 0; b < z.batch; ++b) {
    for (Index h = 0; h < z.kv_heads; ++h) {
      // This (sample, key/value head)'s K^T and V, packed once for the group's query heads.
      work.keys.resize(z.key_dim, s_len);
      work.values.resize(s_len, z.value_dim);
      for (Index s = 0; s < s_len; ++s) {
        work.keys.set_column(s, k.at(b, s, h), 1, z.key_dim);
        work.values.set_row(s, v.at(b, s, h), z.value_dim);
      }
      for (Index u = h * group; u < (h + 1) * group; ++u) {
        T* block = scores != nullptr ? scores + (b * z.query_heads + u) * t_len * s_len : work.block.data();
        const GemmTerm<T> qk{q.at(b, 0, u), q.step_stride, &work.keys};
        gemm_tiled(t_len, s_len, &qk, 1, static_cast<const PackedMatrix<T>*>(nullptr), block, s_len);
        for (Index t = 0; t < t_len; ++t) {
          T* row = block + t * s_len;
          if (masked) mask_score_row(mask, b, u, t, s_len, row, work.keep.data());
          softmax_row(row, s_len, false);
        }
        const GemmTerm<T> pv{block, s_len, &work.values};
        gemm_tiled(t_len, z.value_dim, &pv, 1, static_cast<const PackedMatrix<T>*>(nullptr), ctx.at(b, 0, u),
                   ctx.step_stride);
      }
    }
  }
}

}  // namespace detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_DETAIL_ATTENTION_CORE_HPP
