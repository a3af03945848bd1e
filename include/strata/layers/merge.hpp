// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_MERGE_HPP
#define STRATA_LAYERS_MERGE_HPP

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../detail/gemm.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../layer_step.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// How a merge layer treats the Keras masks of its inputs; Keras changed it twice.
enum class MergeMasks {
  /// Keras >= 3.4 (the default): the output mask is the OR of the input masks when every input
  /// has one (else none); Multiply, Maximum and Minimum also leave masked steps out of the
  /// values (Concatenate: the OR along its last axis of the inputs' masks, an unmasked input
  /// counting as all true).
  keras3,
  /// Keras 2 / tf.keras and TF.js files: the output mask is the AND of the masks that are given
  /// (Concatenate: the AND); the values ignore masks.
  keras2,
  /// Keras 3.0 to 3.3 files: merge layers never received masks (a Keras bug fixed in 3.4), so
  /// their output has none and the values ignore masks.
  none
};

namespace detail {

/// The mask rule of the Keras version that wrote a config.
inline MergeMasks merge_masks_of(const KerasVersion& v) {
  if (v.tfjs || v.major < 3) return MergeMasks::keras2;
  return v.major == 3 && v.minor < 4 ? MergeMasks::none : MergeMasks::keras3;
}

/// The base of the merge layers' options: name and mask rule.
template <class Derived>
class MergeOptionsBase : public Options<Derived> {
 public:
  /// Which Keras version's mask rule the layer follows (default: Keras 3's).
  Derived& masks(MergeMasks rule) {
    masks_ = rule;
    return static_cast<Derived&>(*this);
  }
  MergeMasks masks() const { return masks_; }

 private:
  MergeMasks masks_ = MergeMasks::keras3;
};

/// "(2, 3), (2, 4)": every input shape of a call, for messages.
inline std::string shapes_string(const std::vector<Shape>& shapes) {
  std::string s;
  for (std::size_t k = 0; k < shapes.size(); ++k) s += (k ? ", " : "") + shapes[k].to_string();
  return s;
}

/// Throws value_error unless a merge is given at least `lo` and at most `hi` inputs.
inline void check_merge_count(std::size_t n, std::size_t lo, std::size_t hi, const std::string& who) {
  if (n < lo || n > hi) {
    throw value_error(concat(who, ": takes ", lo == hi ? "exactly " : "at least ", lo, " input", lo == 1 ? "" : "s",
                             "; it is given ", n));
  }
}

/// Throws shape_error unless a mask is (batch, time) of the tensor it travels with.
inline void check_merge_mask(const Mask& m, const Shape& x, std::size_t k, const std::string& who) {
  if (x.rank() < 2 || m.dimension(0) != x[0] || m.dimension(1) != x[1]) {
    throw shape_error(concat(who, ": the mask of input ", k, " has shape (", m.dimension(0), ", ", m.dimension(1),
                             "); input ", k, " has shape ", x.to_string()));
  }
}

/// The element-wise merge operations.
enum class MergeOp { add, subtract, multiply, average, maximum, minimum };

/// Checks that a merge's inputs at one step are all timed or all without a time axis; returns
/// which.
inline bool same_timing(const std::vector<StepShape>& inputs, const std::string& who) {
  for (const StepShape& s : inputs) {
    if (s.timed != inputs.at(0).timed) {
      std::string shapes;
      for (const StepShape& x : inputs) shapes += (shapes.empty() ? "" : ", ") + step_shape_string(x);
      throw value_error(concat(who, ": merges a tensor with a time axis and one without (", shapes,
                               "): a stream has only the steps so far of the one, the sequence so far of the other"));
    }
  }
  return !inputs.empty() && inputs[0].timed;
}

/// Keras' element-wise merge (Add, Subtract, Multiply, Average, Maximum, Minimum); Derived gives
/// class_name and the typed from_config.
template <class Derived, class T, MergeOp Op>
class ElementwiseMerge {
  static_assert(std::is_floating_point_v<T>, "strata: a merge layer's scalar type must be float or double.");

 public:
  using Scalar = T;

  explicit ElementwiseMerge(const std::string& name = std::string(), MergeMasks masks = MergeMasks::keras3)
      : name_(name), masks_(masks) {}

  const std::string& name() const { return name_; }
  std::string describe() const { return describe_layer(Derived::class_name, name_); }
  /// The Keras version whose mask rule the layer follows.
  MergeMasks masks() const { return masks_; }

  // No weights, no state.
  bool built() const { return true; }
  void build(Index /*features*/) {}
  Weights<T> get_weights() const { return {}; }
  void set_weights(const Weights<T>& weights) { check_no_weights(weights, describe()); }
  Index count_params() const { return 0; }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  /// With one input (Keras 3 accepts a list of one), the output is the input; Subtract needs two.
  static constexpr int output_rank(int input_rank) {
    return Op == MergeOp::subtract || input_rank < 1 ? invalid_rank : input_rank;
  }
  Shape compute_output_shape(const Shape& input) const { return output_shapes({input})[0]; }
  /// The layer concept's single-input call: a copy (output may equal input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out = compute_output_shape(input_shape);
    check_output_size(*this, out, output_size);
    if (input != output && output_size > 0)
      std::memmove(output, input, static_cast<std::size_t>(output_size) * sizeof(T));
  }

  /// Keras' output shape: the batch sizes must agree; the other axes broadcast as numpy does,
  /// aligned on the last axis (Keras inserts the missing axes of a lower-rank input after the
  /// batch axis), a size-1 axis stretching to the other size. Throws shape_error naming every
  /// input shape, value_error for a wrong input count.
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    check_merge_count(inputs.size(), Op == MergeOp::subtract ? 2 : 1, Op == MergeOp::subtract ? 2 : inputs.size(),
                      describe());
    int rank = 0;
    for (const Shape& s : inputs) {
      if (s.rank() < 1) {
        throw shape_error(concat(describe(), ": inputs must have a batch axis; got shapes ", shapes_string(inputs)));
      }
      rank = std::max(rank, s.rank());
    }
    Shape out;
    out.push_back(inputs[0][0]);
    for (int d = 1; d < rank; ++d) out.push_back(1);
    for (const Shape& s : inputs) {
      if (s[0] != out[0]) {
        throw shape_error(concat(describe(), ": cannot merge tensors with different batch sizes; got shapes ",
                                 shapes_string(inputs)));
      }
      for (int d = 1; d < s.rank(); ++d) {
        Index& o = out[rank - s.rank() + d];
        if (o == 1) {
          o = s[d];
        } else if (s[d] != 1 && s[d] != o) {
          throw shape_error(concat(describe(), ": inputs have incompatible shapes ", shapes_string(inputs),
                                   " (axes of other sizes than 1 must match)"));
        }
      }
    }
    (void)out.size();
    return {out};
  }

  /// Keras compute_mask of the merged output for the input shapes and masks (null: none), under
  /// the layer's mask rule (MergeMasks); nullopt when the output has no mask.
  std::optional<Mask> compute_mask(const std::vector<Shape>& inputs, const std::vector<const Mask*>& masks) const {
    const Shape out = output_shapes(inputs)[0];
    check_masks(inputs, masks);
    std::size_t given = 0;
    for (const Mask* m : masks) given += m != nullptr;
    if (masks_ == MergeMasks::none || given == 0) return std::nullopt;
    if (masks_ == MergeMasks::keras3 && given != masks.size()) return std::nullopt;
    const bool any = masks_ == MergeMasks::keras3;
    Index steps = 1;
    for (const Mask* m : masks) steps = m != nullptr && m->dimension(1) != 1 ? m->dimension(1) : steps;
    Mask result(out[0], steps);
    for (Index b = 0; b < out[0]; ++b) {
      for (Index t = 0; t < steps; ++t) {
        bool v = !any;
        for (const Mask* m : masks) {
          if (m == nullptr) continue;
          const bool mv = (*m)(b, m->dimension(1) == 1 ? 0 : t);
          v = any ? (v || mv) : (v && mv);
        }
        result(b, t) = v;
      }
    }
    return result;
  }

  /// Keras `layer([x1, x2, ...])`: the merged tensor.
  AnyTensor<T> operator()(const std::vector<TensorView<T>>& inputs) const {
    return (*this)(inputs, std::vector<const Mask*>(inputs.size(), nullptr));
  }
  /// The same with the inputs' Keras masks (null: none), which Multiply, Maximum and Minimum
  /// leave out of the values under Keras 3's rule.
  AnyTensor<T> operator()(const std::vector<TensorView<T>>& inputs, const std::vector<const Mask*>& masks) const {
    const std::vector<Shape> shapes = shapes_of(inputs);
    AnyTensor<T> y = AnyTensor<T>::uninitialized(output_shapes(shapes)[0]);
    write(inputs, shapes, masks, y.data());
    return y;
  }
  /// Two tensors of any type (Tensor, TensorMap, AnyTensor, TensorView).
  template <class A, class B>
  AnyTensor<T> operator()(const A& a, const B& b) const {
    return (*this)(std::vector<TensorView<T>>{TensorView<T>(a), TensorView<T>(b)});
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: only name (and the Keras version's mask rule).
  static Derived from_config(const LayerConfig<T>& config) {
    return Derived(config.name(), merge_masks_of(config.keras_version()));
  }
  /// Output mask: see compute_mask; shape_error for masks strata cannot follow into the values.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    const Shape out = output_shapes(inputs)[0];
    std::size_t given = 0;
    int rank = 0;
    for (std::size_t k = 0; k < masks.size(); ++k) {
      if (masks[k] == 0) continue;
      ++given;
      if (rank != 0 && masks[k] != rank) {
        throw shape_error(concat(describe(), ": the inputs carry masks of ranks ", rank, " and ", masks[k],
                                 ", which strata cannot combine"));
      }
      rank = masks[k];
      if (masks_ == MergeMasks::keras3 && masked_values && inputs[k].rank() == out.rank() &&
          (masks[k] != 2 || inputs[k].rank() != 3)) {
        throw shape_error(concat(describe(), ": input ", k, " of shape ", inputs[k].to_string(),
                                 " carries a mask of rank ", masks[k],
                                 "; strata applies (batch, time) masks of rank-3 inputs only"));
      }
    }
    if (masks_ == MergeMasks::none || given == 0 || (masks_ == MergeMasks::keras3 && given != masks.size())) return {0};
    return {rank};
  }
  /// Per-step form (Model::stream), for inputs of one shape: the operation on one step's values,
  /// element by element as the sequence call does. Refuses (value_error) inputs that broadcast, and
  /// a mix of inputs with and without a time axis.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    std::vector<Shape> shapes;
    for (const StepShape& s : inputs) shapes.push_back(s.shape);
    const Shape out = output_shapes(shapes)[0];
    const bool timed = same_timing(inputs, describe());
    for (const Shape& s : shapes) {
      if (s != out) {
        throw value_error(concat(describe(), ": broadcasts inputs of shapes ", shapes_string(shapes),
                                 " at one step; strata streams merges of inputs of one shape"));
      }
    }
    return LayerStep<T>(
        Step{std::vector<T, Eigen::aligned_allocator<T>>(static_cast<std::size_t>(out.size())), inputs.size()},
        {StepShape{out, timed}});
  }
  /// In a model graph: one pass writing the output, into an input handed over when it has the
  /// output's shape.
  void call_graph(GraphCall<T>& call) const {
    std::vector<TensorView<T>> views;
    std::vector<const Mask*> masks;
    for (const GraphInput<T>& in : call.inputs) {
      if (in.tensor.empty()) throw shape_error(concat(describe(), ": an input tensor is empty"));
      views.push_back(in.tensor);
      masks.push_back(in.mask.get());
    }
    const std::vector<Shape> shapes = shapes_of(views);
    const Shape out = output_shapes(shapes)[0];
    std::optional<Mask> mask = compute_mask(shapes, masks);
    MaskPtr out_mask;
    if (mask) {
      // One mask given and passed on unchanged: share it rather than copy it.
      for (const GraphInput<T>& in : call.inputs) {
        if (in.mask && in.mask->dimension(0) == mask->dimension(0) && in.mask->dimension(1) == mask->dimension(1) &&
            std::equal(mask->data(), mask->data() + mask->size(), in.mask->data())) {
          out_mask = in.mask;
          break;
        }
      }
      if (!out_mask) out_mask = std::make_shared<const Mask>(std::move(*mask));
    }
    AnyTensor<T>* target = nullptr;
    for (const GraphInput<T>& in : call.inputs) {
      if (in.owned != nullptr && in.tensor.shape() == out) {
        target = in.owned;
        break;
      }
    }
    if (target != nullptr) {
      write(views, shapes, masks, target->data());
      call.outputs.push_back(std::move(*target));
    } else {
      AnyTensor<T> y = AnyTensor<T>::uninitialized(out);
      write(views, shapes, masks, y.data());
      call.outputs.push_back(std::move(y));
    }
    call.masks.push_back(std::move(out_mask));
  }

 private:
  // make_step's step: write()'s path for inputs of one shape without masks, the same operations
  // on each element in the same order.
  struct Step {
    std::vector<T, Eigen::aligned_allocator<T>> out;
    std::size_t count;
    void step(const T* const* inputs, const T** outputs) {
      T* acc = out.data();
      const std::size_t len = out.size();
      std::copy(inputs[0], inputs[0] + len, acc);
      for (std::size_t k = 1; k < count; ++k) {
        const T* x = inputs[k];
        for (std::size_t j = 0; j < len; ++j) acc[j] = apply(acc[j], x[j]);
      }
      if constexpr (Op == MergeOp::average) {
        for (std::size_t j = 0; j < len; ++j) acc[j] /= static_cast<T>(count);
      }
      outputs[0] = acc;
    }
  };

  // Multiply, Maximum and Minimum read masks in their values under Keras 3's rule.
  static constexpr bool masked_values = Op == MergeOp::multiply || Op == MergeOp::maximum || Op == MergeOp::minimum;

  static std::vector<Shape> shapes_of(const std::vector<TensorView<T>>& inputs) {
    std::vector<Shape> shapes;
    for (const TensorView<T>& x : inputs) shapes.push_back(x.shape());
    return shapes;
  }

  void check_masks(const std::vector<Shape>& inputs, const std::vector<const Mask*>& masks) const {
    if (masks.size() != inputs.size()) {
      throw value_error(concat(describe(), ": ", inputs.size(), " inputs and ", masks.size(), " masks"));
    }
    for (std::size_t k = 0; k < masks.size(); ++k) {
      if (masks[k] != nullptr) check_merge_mask(*masks[k], inputs[k], k, describe());
    }
    if (masks_ == MergeMasks::none) return;
    Index steps = 0;
    for (std::size_t k = 0; k < masks.size(); ++k) {
      if (masks[k] == nullptr || masks[k]->dimension(1) == 1) continue;
      if (steps != 0 && masks[k]->dimension(1) != steps) {
        throw shape_error(concat(describe(), ": the input masks have ", steps, " and ", masks[k]->dimension(1),
                                 " steps; input shapes ", shapes_string(inputs)));
      }
      steps = masks[k]->dimension(1);
    }
  }

  // Writes the merged output (its shape from output_shapes) to out, which may be one of the
  // inputs' memory: each block of an output row is folded in a small buffer first.
  void write(const std::vector<TensorView<T>>& inputs, const std::vector<Shape>& shapes,
             const std::vector<const Mask*>& masks, T* out) const {
    const Shape os = output_shapes(shapes)[0];
    check_masks(shapes, masks);
    const std::size_t n = inputs.size();
    const int rank = os.rank();
    if (os.size() == 0) return;
    // Masks enter the values (Keras 3's Multiply, Maximum, Minimum) for inputs of the output's
    // rank (Keras expands the others, which drops their masks); output rank 3, one row per step.
    std::vector<const Mask*> vm(n, nullptr);
    bool any_vm = false;
    if (masks_ == MergeMasks::keras3 && masked_values) {
      for (std::size_t k = 0; k < n; ++k) {
        if (masks[k] != nullptr && shapes[k].rank() == rank) {
          if (rank != 3) {
            throw shape_error(concat(describe(), ": input ", k, " of shape ", shapes[k].to_string(),
                                     " carries a (batch, time) mask; strata applies it to rank-3 inputs only"));
          }
          vm[k] = masks[k];
          any_vm = true;
        }
      }
    }
    bool all_vm = any_vm;
    for (std::size_t k = 0; k < n; ++k) all_vm = all_vm && vm[k] != nullptr;
    // Row layout: the last axis is contiguous; with equal shapes everywhere and no masks the
    // whole tensor is one row.
    bool same = !any_vm;
    for (const Shape& s : shapes) same = same && s == os;
    const Index cols = same ? os.size() : os[rank - 1];
    const Index rows = os.size() / cols;
    // Per input: its dims aligned to the output's rank, and the element strides (0 on an axis it
    // broadcasts).
    std::vector<std::vector<Index>> strides(n, std::vector<Index>(static_cast<std::size_t>(rank), 0));
    for (std::size_t k = 0; k < n && !same; ++k) {
      const Shape& s = shapes[k];
      Index st = 1;
      for (int d = rank - 1; d >= 1; --d) {
        const int sd = d - (rank - s.rank());
        const Index dim = sd >= 1 ? s[sd] : 1;
        strides[k][static_cast<std::size_t>(d)] = dim == 1 ? 0 : st;
        st *= dim;
      }
      strides[k][0] = st;
    }
    constexpr Index block = 256;
    T acc[block];
    std::vector<const T*> src(n);
    std::vector<Index> step(n);
    for (Index r = 0; r < rows; ++r) {
      // The row's multi-index -> each input's row start.
      Index rem = r;
      for (std::size_t k = 0; k < n; ++k) src[k] = inputs[k].data();
      for (int d = rank - 2; d >= 0 && !same; --d) {
        const Index i = rem % os[d];
        rem /= os[d];
        for (std::size_t k = 0; k < n; ++k) src[k] += i * strides[k][static_cast<std::size_t>(d)];
      }
      for (std::size_t k = 0; k < n; ++k) step[k] = same ? 1 : strides[k][static_cast<std::size_t>(rank - 1)];
      // The row's mask bits (rank 3: row r is step (b, t)).
      const Index b = any_vm ? r / os[1] : 0, t = any_vm ? r % os[1] : 0;
      const auto bit = [&](std::size_t k) -> int {  // -1: no mask, 0: masked, 1: kept
        if (vm[k] == nullptr) return -1;
        return (*vm[k])(b, vm[k]->dimension(1) == 1 ? 0 : t) ? 1 : 0;
      };
      for (Index j0 = 0; j0 < cols; j0 += block) {
        const Index len = std::min(block, cols - j0);
        fold(src, step, j0, len, any_vm, bit, all_vm, acc);
        std::copy(acc, acc + len, out + r * cols + j0);
      }
    }
  }

  template <class Bit>
  void fold(const std::vector<const T*>& src, const std::vector<Index>& step, Index j0, Index len, bool any_vm,
            const Bit& bit, bool all_vm, T* acc) const {
    (void)all_vm;
    const std::size_t n = src.size();
    const auto load = [&](std::size_t k, Index j) { return src[k][(j0 + j) * step[k]]; };
    if (!any_vm) {
      for (Index j = 0; j < len; ++j) acc[j] = load(0, j);
      for (std::size_t k = 1; k < n; ++k) {
        if (step[k] == 1) {
          const T* x = src[k] + j0;
          for (Index j = 0; j < len; ++j) acc[j] = apply(acc[j], x[j]);
        } else {
          for (Index j = 0; j < len; ++j) acc[j] = apply(acc[j], load(k, j));
        }
      }
      if constexpr (Op == MergeOp::average) {
        for (Index j = 0; j < len; ++j) acc[j] /= static_cast<T>(n);
      }
      return;
    }
    if constexpr (Op == MergeOp::multiply) {
      // Keras 3: a masked step of an input counts as 1; with every input masked, a step masked
      // everywhere gives 0.
      bool kept_anywhere = false;
      for (std::size_t k = 0; k < n; ++k) {
        const int m = bit(k);
        kept_anywhere = kept_anywhere || m == 1;
        if (k == 0) {
          for (Index j = 0; j < len; ++j) acc[j] = m == 0 ? T(1) : load(0, j);
        } else if (m != 0) {
          for (Index j = 0; j < len; ++j) acc[j] *= load(k, j);
        }
      }
      if (all_vm && !kept_anywhere) std::fill(acc, acc + len, T(0));
    } else if constexpr (Op == MergeOp::maximum || Op == MergeOp::minimum) {
      // Keras 3 (_apply_merge_op_and_or_mask): a masked input leaves the running result as it
      // is; a masked running result is replaced by the input; the running mask is the OR of the
      // masks while every input so far has one.
      int om = bit(0);
      for (Index j = 0; j < len; ++j) acc[j] = load(0, j);
      for (std::size_t k = 1; k < n; ++k) {
        const int m = bit(k);
        if (m == 0) {
          // unchanged
        } else if (om == 0) {
          for (Index j = 0; j < len; ++j) acc[j] = load(k, j);
        } else {
          for (Index j = 0; j < len; ++j) acc[j] = apply(acc[j], load(k, j));
        }
        om = (m >= 0 && om >= 0) ? (om == 1 || m == 1 ? 1 : 0) : -1;
      }
    } else {
      (void)bit;
    }
  }

  static T apply(T a, T b) {
    if constexpr (Op == MergeOp::add || Op == MergeOp::average) {
      return a + b;
    } else if constexpr (Op == MergeOp::subtract) {
      return a - b;
    } else if constexpr (Op == MergeOp::multiply) {
      return a * b;
    } else if constexpr (Op == MergeOp::maximum) {
      return a < b ? b : a;
    } else {
      return b < a ? b : a;
    }
  }

  std::string name_;
  MergeMasks masks_;
};

}  // namespace detail

/// Options of Add, Subtract, Multiply, Average, Maximum and Minimum: name and mask rule,
/// `MergeOptions().name("sum")`.
class MergeOptions : public detail::MergeOptionsBase<MergeOptions> {};

/// Keras `Add()([x1, x2, ...])`: the element-wise sum x1 + x2 + ... (added left to right).
///
/// Inputs of one batch size; their other axes broadcast as Keras 3 does (numpy's rule aligned on
/// the last axis, a lower-rank input getting its missing axes after the batch axis), e.g.
/// (B, T, F) + (B, F) or (B, 1, F). Keras masks: see MergeMasks (the values ignore them). No
/// weights. Call with a list, `add({x1, x2})`, or two tensors, `add(x1, x2)`.
template <class T>
class Add : public detail::ElementwiseMerge<Add<T>, T, detail::MergeOp::add> {
 public:
  static constexpr const char* class_name = "Add";
  explicit Add(const MergeOptions& options = MergeOptions())
      : detail::ElementwiseMerge<Add<T>, T, detail::MergeOp::add>(options.name(), options.masks()) {}
  Add(const std::string& name, MergeMasks masks)
      : detail::ElementwiseMerge<Add<T>, T, detail::MergeOp::add>(name, masks) {}
};

/// Keras `Subtract()([x1, x2])`: x1 - x2, exactly two inputs (value_error otherwise). Shapes and
/// masks as Add.
template <class T>
class Subtract : public detail::ElementwiseMerge<Subtract<T>, T, detail::MergeOp::subtract> {
 public:
  static constexpr const char* class_name = "Subtract";
  explicit Subtract(const MergeOptions& options = MergeOptions())
      : detail::ElementwiseMerge<Subtract<T>, T, detail::MergeOp::subtract>(options.name(), options.masks()) {}
  Subtract(const std::string& name, MergeMasks masks)
      : detail::ElementwiseMerge<Subtract<T>, T, detail::MergeOp::subtract>(name, masks) {}
};

/// Keras `Multiply()([x1, x2, ...])`: the element-wise product (left to right). Shapes as Add.
/// Under Keras 3's mask rule a masked step of an input counts as 1, and with every input masked
/// a step masked in all of them gives 0.
template <class T>
class Multiply : public detail::ElementwiseMerge<Multiply<T>, T, detail::MergeOp::multiply> {
 public:
  static constexpr const char* class_name = "Multiply";
  explicit Multiply(const MergeOptions& options = MergeOptions())
      : detail::ElementwiseMerge<Multiply<T>, T, detail::MergeOp::multiply>(options.name(), options.masks()) {}
  Multiply(const std::string& name, MergeMasks masks)
      : detail::ElementwiseMerge<Multiply<T>, T, detail::MergeOp::multiply>(name, masks) {}
};

/// Keras `Average()([x1, x2, ...])`: (x1 + x2 + ...) / n, summed left to right then divided, as
/// Keras 3. Shapes and masks as Add.
template <class T>
class Average : public detail::ElementwiseMerge<Average<T>, T, detail::MergeOp::average> {
 public:
  static constexpr const char* class_name = "Average";
  explicit Average(const MergeOptions& options = MergeOptions())
      : detail::ElementwiseMerge<Average<T>, T, detail::MergeOp::average>(options.name(), options.masks()) {}
  Average(const std::string& name, MergeMasks masks)
      : detail::ElementwiseMerge<Average<T>, T, detail::MergeOp::average>(name, masks) {}
};

/// Keras `Maximum()([x1, x2, ...])`: the element-wise maximum. Shapes as Add. Under Keras 3's
/// mask rule a masked step of an input does not take part (the others decide).
template <class T>
class Maximum : public detail::ElementwiseMerge<Maximum<T>, T, detail::MergeOp::maximum> {
 public:
  static constexpr const char* class_name = "Maximum";
  explicit Maximum(const MergeOptions& options = MergeOptions())
      : detail::ElementwiseMerge<Maximum<T>, T, detail::MergeOp::maximum>(options.name(), options.masks()) {}
  Maximum(const std::string& name, MergeMasks masks)
      : detail::ElementwiseMerge<Maximum<T>, T, detail::MergeOp::maximum>(name, masks) {}
};

/// Keras `Minimum()([x1, x2, ...])`: the element-wise minimum; shapes and masks as Maximum.
template <class T>
class Minimum : public detail::ElementwiseMerge<Minimum<T>, T, detail::MergeOp::minimum> {
 public:
  static constexpr const char* class_name = "Minimum";
  explicit Minimum(const MergeOptions& options = MergeOptions())
      : detail::ElementwiseMerge<Minimum<T>, T, detail::MergeOp::minimum>(options.name(), options.masks()) {}
  Minimum(const std::string& name, MergeMasks masks)
      : detail::ElementwiseMerge<Minimum<T>, T, detail::MergeOp::minimum>(name, masks) {}
};

/// Options of Concatenate: Keras `axis` (default -1) and the mask rule,
/// `ConcatenateOptions().axis(1)`.
class ConcatenateOptions : public detail::MergeOptionsBase<ConcatenateOptions> {
 public:
  /// Keras `axis`: the axis to join along; negative counts from the end; not the batch axis.
  ConcatenateOptions& axis(Index a) {
    axis_ = a;
    return *this;
  }
  Index axis() const { return axis_; }

 private:
  Index axis_ = -1;
};

/// Keras `Concatenate(axis)([x1, x2, ...])`: the inputs joined along `axis`.
///
/// Every input has the same rank and the same sizes on every axis but `axis` (no broadcasting);
/// the output's `axis` is the sum of theirs. Masks (Keras compute_mask, rank-3 inputs): under
/// Keras 3's rule, each input's (batch, time) mask (all true when it has none) is stretched to its
/// shape, joined along `axis` and OR-ed over the last axis -- axis 1 joins the masks along time,
/// axis 2 ORs them (an unmasked input makes every step kept); Keras 2 / TF.js AND them. No mask
/// when no input has one. No weights.
template <class T>
class Concatenate {
  static_assert(std::is_floating_point_v<T>, "strata::Concatenate: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "Concatenate";

  explicit Concatenate(const ConcatenateOptions& options = ConcatenateOptions())
      : axis_(options.axis()), name_(options.name()), masks_(options.masks()) {}

  /// Keras `axis`, as given (negative counts from the end).
  Index axis() const { return axis_; }
  MergeMasks masks() const { return masks_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  bool built() const { return true; }
  void build(Index /*features*/) {}
  Weights<T> get_weights() const { return {}; }
  void set_weights(const Weights<T>& weights) { detail::check_no_weights(weights, describe()); }
  Index count_params() const { return 0; }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }
  Shape compute_output_shape(const Shape& input) const { return output_shapes({input})[0]; }
  /// One input: a copy.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    if (input != output && output_size > 0)
      std::memmove(output, input, static_cast<std::size_t>(output_size) * sizeof(T));
  }

  /// The inputs' shape with `axis` summed; shape_error naming every input shape unless they have
  /// one rank and agree on every other axis, or `axis` is out of range or the batch axis.
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    detail::check_merge_count(inputs.size(), 1, inputs.size(), describe());
    const int rank = inputs[0].rank();
    const int a = axis_of(rank, inputs);
    Shape out = inputs[0];
    for (std::size_t k = 1; k < inputs.size(); ++k) {
      bool ok = inputs[k].rank() == rank;
      for (int d = 0; ok && d < rank; ++d) ok = d == a || inputs[k][d] == out[d];
      if (!ok) {
        throw shape_error(detail::concat(describe(), ": inputs must have matching shapes except along axis ", axis_,
                                         "; got shapes ", detail::shapes_string(inputs)));
      }
      out[a] += inputs[k][a];
    }
    (void)out.size();
    return {out};
  }

  /// Keras compute_mask for rank-3 inputs (see the class comment); nullopt: no mask.
  std::optional<Mask> compute_mask(const std::vector<Shape>& inputs, const std::vector<const Mask*>& masks) const {
    const Shape out = output_shapes(inputs)[0];
    if (masks.size() != inputs.size()) {
      throw value_error(detail::concat(describe(), ": ", inputs.size(), " inputs and ", masks.size(), " masks"));
    }
    bool given = false;
    for (std::size_t k = 0; k < masks.size(); ++k) {
      if (masks[k] == nullptr) continue;
      given = true;
      if (inputs[k].rank() != 3) {
        throw shape_error(
            detail::concat(describe(), ": input ", k, " of shape ", inputs[k].to_string(),
                           " carries a (batch, time) mask; strata joins the masks of rank-3 inputs only"));
      }
      detail::check_merge_mask(*masks[k], inputs[k], k, describe());
    }
    if (!given || masks_ == MergeMasks::none) return std::nullopt;
    const bool any = masks_ == MergeMasks::keras3;
    const int a = axis_of(3, inputs);
    Mask result(out[0], out[1]);
    if (a == 1) {
      Index offset = 0;
      for (std::size_t k = 0; k < inputs.size(); ++k) {
        for (Index b = 0; b < out[0]; ++b) {
          for (Index t = 0; t < inputs[k][1]; ++t) result(b, offset + t) = masks[k] == nullptr || (*masks[k])(b, t);
        }
        offset += inputs[k][1];
      }
    } else {
      for (Index b = 0; b < out[0]; ++b) {
        for (Index t = 0; t < out[1]; ++t) {
          bool v = !any;
          for (std::size_t k = 0; k < inputs.size(); ++k) {
            // An input with no features along the axis adds nothing to the OR / AND.
            if (inputs[k][2] == 0) continue;
            const bool mv = masks[k] == nullptr || (*masks[k])(b, t);
            v = any ? (v || mv) : (v && mv);
          }
          result(b, t) = v;
        }
      }
    }
    return result;
  }

  /// Keras `layer([x1, x2, ...])`.
  AnyTensor<T> operator()(const std::vector<TensorView<T>>& inputs) const {
    std::vector<Shape> shapes;
    for (const TensorView<T>& x : inputs) shapes.push_back(x.shape());
    AnyTensor<T> y = AnyTensor<T>::uninitialized(output_shapes(shapes)[0]);
    write(inputs, shapes, y.data());
    return y;
  }
  template <class A, class B>
  AnyTensor<T> operator()(const A& a, const B& b) const {
    return (*this)(std::vector<TensorView<T>>{TensorView<T>(a), TensorView<T>(b)});
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: axis (default -1).
  static Concatenate from_config(const LayerConfig<T>& config) {
    return Concatenate(ConcatenateOptions()
                           .axis(config.integer_or("axis", -1, -8, 8))
                           .name(config.name())
                           .masks(detail::merge_masks_of(config.keras_version())));
  }
  /// Per-step form (Model::stream): the inputs at one step joined along the same axis, which is
  /// one axis lower at a step than in the sequence call when the inputs have a time axis.
  /// Refuses (value_error) joining along the time axis, and a mix of inputs with and without one.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    detail::check_merge_count(inputs.size(), 1, inputs.size(), describe());
    const bool timed = detail::same_timing(inputs, describe());
    std::vector<Shape> shapes;
    for (const StepShape& s : inputs) shapes.push_back(s.shape);
    const int step_rank = shapes[0].rank();
    const int rank = step_rank + (timed ? 1 : 0);  // the sequence call's
    const Index whole = axis_ < 0 ? axis_ + rank : axis_;
    if (timed && whole == 1) {
      throw value_error(detail::concat(describe(), ": axis ", axis_,
                                       " is the time axis here; joining along it needs the whole sequences"));
    }
    if (whole < 1 || whole >= rank) {
      throw shape_error(detail::concat(describe(), ": axis ", axis_, " is out of range for inputs of shapes ",
                                       detail::shapes_string(shapes), timed ? " per step" : ""));
    }
    const int a = static_cast<int>(timed ? whole - 1 : whole);  // at one step
    const Shape out = Concatenate(ConcatenateOptions().axis(a).name(name_)).output_shapes(shapes)[0];
    StepJoin join;
    join.outer = out.product(0, a);
    const Index inner = out.product(a + 1, out.rank());
    for (const Shape& s : shapes) join.lengths.push_back(s[a] * inner);
    join.out.resize(static_cast<std::size_t>(out.size()));
    return LayerStep<T>(std::move(join), {StepShape{out, timed}});
  }
  /// A mask of the output's rank minus one when any input has one (strata holds rank 2).
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    const Shape out = output_shapes(inputs)[0];
    bool given = false;
    for (std::size_t k = 0; k < masks.size(); ++k) {
      if (masks[k] == 0) continue;
      given = true;
      if (masks[k] != inputs[k].rank() - 1) {
        throw shape_error(detail::concat(describe(), ": input ", k, " of shape ", inputs[k].to_string(),
                                         " carries a mask of rank ", masks[k], "; expected rank ",
                                         inputs[k].rank() - 1));
      }
    }
    return {given && masks_ != MergeMasks::none ? out.rank() - 1 : 0};
  }
  void call_graph(GraphCall<T>& call) const {
    std::vector<TensorView<T>> views;
    std::vector<const Mask*> masks;
    std::vector<Shape> shapes;
    for (const GraphInput<T>& in : call.inputs) {
      if (in.tensor.empty()) throw shape_error(detail::concat(describe(), ": an input tensor is empty"));
      views.push_back(in.tensor);
      shapes.push_back(in.tensor.shape());
      // strata's masks are (batch, time): a rank-3 input's; others are not carried.
      masks.push_back(in.tensor.rank() == 3 ? in.mask.get() : nullptr);
    }
    std::optional<Mask> mask = compute_mask(shapes, masks);
    if (call.inputs.size() == 1 && call.inputs[0].owned != nullptr) {
      call.outputs.push_back(std::move(*call.inputs[0].owned));
    } else {
      AnyTensor<T> y = AnyTensor<T>::uninitialized(output_shapes(shapes)[0]);
      write(views, shapes, y.data());
      call.outputs.push_back(std::move(y));
    }
    call.masks.push_back(mask ? std::make_shared<const Mask>(std::move(*mask)) : MaskPtr());
  }

 private:
  int axis_of(int rank, const std::vector<Shape>& inputs) const {
    const Index a = axis_ < 0 ? axis_ + rank : axis_;
    if (a < 1 || a >= rank) {
      throw shape_error(detail::concat(describe(), ": axis ", axis_, " is ", a == 0 ? "the batch axis" : "out of range",
                                       " for inputs of shapes ", detail::shapes_string(inputs)));
    }
    return static_cast<int>(a);
  }

  // make_step's step: write() on one step, its sizes computed once.
  struct StepJoin {
    Index outer = 0;
    std::vector<Index> lengths;  // per input: its block per index before the axis
    std::vector<T, Eigen::aligned_allocator<T>> out;
    void step(const T* const* inputs, const T** outputs) {
      T* dest = out.data();
      for (Index o = 0; o < outer; ++o) {
        for (std::size_t k = 0; k < lengths.size(); ++k) {
          const T* src = inputs[k] + o * lengths[k];
          dest = std::copy(src, src + lengths[k], dest);
        }
      }
      outputs[0] = out.data();
    }
  };

  // One pass: for each index before the axis, each input's contiguous block in turn.
  void write(const std::vector<TensorView<T>>& inputs, const std::vector<Shape>& shapes, T* out) const {
    const Shape os = output_shapes(shapes)[0];
    const int a = axis_of(os.rank(), shapes);
    const Index outer = os.product(0, a);
    const Index inner = os.product(a + 1, os.rank());
    for (Index o = 0; o < outer; ++o) {
      for (std::size_t k = 0; k < inputs.size(); ++k) {
        const Index len = shapes[k][a] * inner;
        const T* src = inputs[k].data() + o * len;
        out = std::copy(src, src + len, out);
      }
    }
  }

  Index axis_;
  std::string name_;
  MergeMasks masks_;
};

/// Options of Dot: Keras `normalize` (default false), `DotOptions().normalize(true)`.
class DotOptions : public detail::Options<DotOptions> {
 public:
  /// Keras `normalize`: L2-normalise both inputs along their dot axes first (the output is then
  /// the cosine similarity).
  DotOptions& normalize(bool on) {
    normalize_ = on;
    return *this;
  }
  bool normalize() const { return normalize_; }

 private:
  bool normalize_ = false;
};

/// Keras `Dot(axes, normalize)([x, y])`: per sample, the sum over x's axis axes[0] and y's axis
/// axes[1] (Keras' batch_dot).
///
/// Exactly two inputs of rank >= 2 and one batch size; axes count from 1 (the batch axis cannot
/// be one), negative from the end of each input. The output's axes are x's without axes[0], then
/// y's without the batch axis and axes[1]; a (batch,) result becomes (batch, 1). With normalize
/// each input is first scaled along its axis by Keras 3's x * rsqrt(max(sum(x^2), 1e-14)). The
/// sums run through strata's GEMM (detail/gemm.hpp) per sample. No mask (Keras' Dot has none).
/// No weights.
template <class T>
class Dot {
  static_assert(std::is_floating_point_v<T>, "strata::Dot: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "Dot";

  /// Keras `Dot(axes=axis)`: the same axis of both inputs.
  explicit Dot(Index axis, const DotOptions& options = DotOptions()) : Dot(axis, axis, options) {}
  /// Keras `Dot(axes=(axis_x, axis_y))`.
  Dot(Index axis_x, Index axis_y, const DotOptions& options = DotOptions())
      : axes_{axis_x, axis_y}, normalize_(options.normalize()), name_(options.name()) {
    if (axis_x == 0 || axis_y == 0) {
      throw value_error(
          detail::concat(describe(), ": axes cannot include 0 (the batch axis); got (", axis_x, ", ", axis_y, ")"));
    }
  }

  Index axis_x() const { return axes_[0]; }
  Index axis_y() const { return axes_[1]; }
  bool normalize() const { return normalize_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  bool built() const { return true; }
  void build(Index /*features*/) {}
  Weights<T> get_weights() const { return {}; }
  void set_weights(const Weights<T>& weights) { detail::check_no_weights(weights, describe()); }
  Index count_params() const { return 0; }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  /// Two inputs only: the single-input calls throw value_error.
  static constexpr int output_rank(int /*input_rank*/) { return invalid_rank; }
  Shape compute_output_shape(const Shape& input) const { return output_shapes({input})[0]; }
  void forward(const T* /*input*/, const Shape& input_shape, T* /*output*/, Index /*output_size*/) const {
    (void)compute_output_shape(input_shape);
  }

  /// See the class comment; shape_error naming both shapes when the axes' sizes differ, an axis
  /// is out of range, the ranks are below 2 or the batch sizes differ.
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    detail::check_merge_count(inputs.size(), 2, 2, describe());
    const auto [ax, ay] = resolve(inputs);
    Shape out;
    for (int d = 0; d < inputs[0].rank(); ++d) {
      if (d != ax) out.push_back(inputs[0][d]);
    }
    for (int d = 1; d < inputs[1].rank(); ++d) {
      if (d != ay) out.push_back(inputs[1][d]);
    }
    if (out.rank() == 1) out.push_back(1);
    (void)out.size();
    return {out};
  }

  /// Keras `layer([x, y])`.
  AnyTensor<T> operator()(const std::vector<TensorView<T>>& inputs) const {
    std::vector<Shape> shapes;
    for (const TensorView<T>& x : inputs) shapes.push_back(x.shape());
    AnyTensor<T> y = AnyTensor<T>::uninitialized(output_shapes(shapes)[0]);
    write(inputs[0], inputs[1], y.data());
    return y;
  }
  template <class A, class B>
  AnyTensor<T> operator()(const A& a, const B& b) const {
    return (*this)(std::vector<TensorView<T>>{TensorView<T>(a), TensorView<T>(b)});
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: axes (an integer or a list of two), normalize (default false).
  static Dot from_config(const LayerConfig<T>& config) {
    const Config& axes = config.get("axes");
    const DotOptions options = DotOptions().normalize(config.boolean("normalize", false)).name(config.name());
    Index a0 = 0, a1 = 0;
    if (axes.is_integer()) {
      a0 = a1 = static_cast<Index>(axes.as_integer());
    } else if (axes.is_list() && axes.as_list().size() == 2 && axes.as_list()[0].is_integer() &&
               axes.as_list()[1].is_integer()) {
      a0 = static_cast<Index>(axes.as_list()[0].as_integer());
      a1 = static_cast<Index>(axes.as_list()[1].as_integer());
    } else {
      config.invalid(detail::concat("axes must be an integer or a list of two integers; got ", axes.dump()));
    }
    if (a0 == 0 || a1 == 0 || a0 < -8 || a0 > 8 || a1 < -8 || a1 > 8) {
      config.invalid(
          detail::concat("axes must not include 0 (the batch axis) and lie within the rank; got ", axes.dump()));
    }
    return Dot(a0, a1, options);
  }
  /// Keras' Dot has no mask (compute_mask returns None).
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& /*masks*/) const {
    (void)output_shapes(inputs);
    return {0};
  }
  void call_graph(GraphCall<T>& call) const {
    detail::check_merge_count(call.inputs.size(), 2, 2, describe());
    for (const GraphInput<T>& in : call.inputs) {
      if (in.tensor.empty()) throw shape_error(detail::concat(describe(), ": an input tensor is empty"));
    }
    call.outputs.push_back((*this)(std::vector<TensorView<T>>{call.inputs[0].tensor, call.inputs[1].tensor}));
    call.masks.push_back(MaskPtr());
  }

 private:
  std::pair<int, int> resolve(const std::vector<Shape>& in) const {
    const Shape& x = in[0];
    const Shape& y = in[1];
    if (x.rank() < 2 || y.rank() < 2) {
      throw shape_error(detail::concat(describe(), ": inputs must have rank >= 2 (batch, ...); got shapes ",
                                       detail::shapes_string(in)));
    }
    if (x[0] != y[0]) {
      throw shape_error(
          detail::concat(describe(), ": inputs must have one batch size; got shapes ", detail::shapes_string(in)));
    }
    const Index ax = axes_[0] < 0 ? axes_[0] + x.rank() : axes_[0];
    const Index ay = axes_[1] < 0 ? axes_[1] + y.rank() : axes_[1];
    if (ax < 1 || ax >= x.rank() || ay < 1 || ay >= y.rank()) {
      throw shape_error(detail::concat(describe(), ": axes (", axes_[0], ", ", axes_[1],
                                       ") out of range (or the batch axis) for inputs of shapes ",
                                       detail::shapes_string(in)));
    }
    if (x[static_cast<int>(ax)] != y[static_cast<int>(ay)]) {
      throw shape_error(detail::concat(describe(), ": axis ", ax, " of input 0 has size ", x[static_cast<int>(ax)],
                                       " and axis ", ay, " of input 1 size ", y[static_cast<int>(ay)],
                                       "; they must match. Input shapes ", detail::shapes_string(in)));
    }
    return {static_cast<int>(ax), static_cast<int>(ay)};
  }

  // A sample of an input as a (rows, depth) row-major matrix, depth the dot axis (moved last,
  // the other axes in order), normalised along depth when asked. Returns a pointer to the
  // sample itself when it already has that layout and needs no scaling, else fills buf.
  const T* gather(const T* sample, const Shape& s, int axis, std::vector<T>& buf) const {
    const Index depth = s[axis];
    const Index before = s.product(1, axis);
    const Index after = s.product(axis + 1, s.rank());
    const Index rows = before * after;
    if (after == 1 && !normalize_) return sample;
    buf.resize(static_cast<std::size_t>(rows * depth));
    for (Index i = 0; i < before; ++i) {
      for (Index k = 0; k < depth; ++k) {
        const T* src = sample + (i * depth + k) * after;
        for (Index j = 0; j < after; ++j) buf[static_cast<std::size_t>(((i * after + j) * depth) + k)] = src[j];
      }
    }
    if (normalize_) {
      // Keras 3's l2 normalisation: x * rsqrt(max(sum(x^2), epsilon^2)), epsilon = 1e-7.
      for (Index r = 0; r < rows; ++r) {
        T* row = buf.data() + r * depth;
        T sum = 0;
        for (Index k = 0; k < depth; ++k) sum += row[k] * row[k];
        const T inv = T(1) / std::sqrt(std::max(sum, static_cast<T>(1e-14)));
        for (Index k = 0; k < depth; ++k) row[k] *= inv;
      }
    }
    return buf.data();
  }

  void write(const TensorView<T>& x, const TensorView<T>& y, T* out) const {
    const auto [ax, ay] = resolve({x.shape(), y.shape()});
    const Shape& xs = x.shape();
    const Shape& ys = y.shape();
    const Index batch = xs[0];
    const Index depth = xs[ax];
    const Index m = xs.product(1, ax) * xs.product(ax + 1, xs.rank());
    const Index n = ys.product(1, ay) * ys.product(ay + 1, ys.rank());
    if (batch == 0 || m == 0 || n == 0) return;
    if (depth == 0) {
      std::fill(out, out + batch * m * n, T(0));
      return;
    }
    std::vector<T> xb, yb, yt;
    detail::PackedMatrix<T> packed;
    for (Index b = 0; b < batch; ++b) {
      const T* a = gather(x.data() + b * m * depth, xs, ax, xb);
      const T* ysample = y.data() + b * n * depth;
      if (ay == 1 && !normalize_) {
        // y's sample already is the (depth, n) matrix the packed GEMM operand takes.
        packed.pack(ysample, depth, n);
      } else {
        // As (n, depth), transposed to (depth, n).
        const T* yr = gather(ysample, ys, ay, yb);
        yt.resize(static_cast<std::size_t>(depth * n));
        for (Index j = 0; j < n; ++j) {
          for (Index k = 0; k < depth; ++k) yt[static_cast<std::size_t>(k * n + j)] = yr[j * depth + k];
        }
        packed.pack(yt.data(), depth, n);
      }
      const detail::GemmTerm<T> term{a, depth, &packed};
      detail::gemm(m, n, &term, 1, static_cast<const detail::PackedMatrix<T>*>(nullptr), out + b * m * n, n);
    }
  }

  Index axes_[2];
  bool normalize_;
  std::string name_;
};

namespace detail {

/// Keras 1's `Merge` layer (engine/topology.py; the functional `merge([a, b], mode=...)`, and a
/// Sequential's first layer merging branch models, which the loader turns into a graph): each
/// built-in mode is built as the Keras 2 layer that replaced it, with Keras 1's mask rule (the
/// AND of the given masks, as Keras 2's). Config: mode ("sum" -> Add, "mul" -> Multiply, "ave"
/// -> Average, "max" -> Maximum, "concat" -> Concatenate(axis=concat_axis), "dot" ->
/// Dot(axes=dot_axes)), mode_type "raw". Refused: a mode given as a Python function (its code
/// cannot be loaded) and "cos" (see below); an unknown mode is a model_error.
template <class T>
struct Keras1Merge {
  using Scalar = T;
  static constexpr const char* class_name = "Merge";
  static AnyLayer<T> from_config(const LayerConfig<T>& config) {
    const std::string mode_type = config.string("mode_type", "raw");
    if (mode_type != "raw") {
      config.unsupported(concat("a mode given as a Python function (mode_type '", mode_type,
                                "') is not supported: its code cannot be loaded; register a C++ layer for it and "
                                "rename the class (docs/custom-layers.md)"));
    }
    const std::string mode = config.string("mode", "sum");
    const MergeMasks masks = merge_masks_of(config.keras_version());
    if (mode == "sum") return AnyLayer<T>(Add<T>(MergeOptions().masks(masks).name(config.name())));
    if (mode == "mul") return AnyLayer<T>(Multiply<T>(MergeOptions().masks(masks).name(config.name())));
    if (mode == "ave") return AnyLayer<T>(Average<T>(MergeOptions().masks(masks).name(config.name())));
    if (mode == "max") return AnyLayer<T>(Maximum<T>(MergeOptions().masks(masks).name(config.name())));
    if (mode == "concat") {
      return AnyLayer<T>(Concatenate<T>(
          ConcatenateOptions().axis(config.integer_or("concat_axis", -1, -8, 8)).masks(masks).name(config.name())));
    }
    if (mode == "dot") {
      Index a0 = -1, a1 = -1;  // Keras 1's default dot_axes, -1
      if (config.has("dot_axes")) {
        const Config& axes = config.get("dot_axes");
        if (axes.is_integer()) {
          a0 = a1 = static_cast<Index>(axes.as_integer());
        } else if (axes.is_list() && axes.as_list().size() == 2 && axes.as_list()[0].is_integer() &&
                   axes.as_list()[1].is_integer()) {
          a0 = static_cast<Index>(axes.as_list()[0].as_integer());
          a1 = static_cast<Index>(axes.as_list()[1].as_integer());
        } else {
          config.invalid(concat("dot_axes must be an integer or a list of two integers; got ", axes.dump()));
        }
      }
      if (a0 == 0 || a1 == 0 || a0 < -8 || a0 > 8 || a1 < -8 || a1 > 8) {
        config.invalid(
            concat("dot_axes must not include 0 (the batch axis) and lie within the rank; got (", a0, ", ", a1, ")"));
      }
      return AnyLayer<T>(Dot<T>(a0, a1, DotOptions().name(config.name())));
    }
    if (mode == "cos") {
      config.unsupported(
          "mode 'cos' is not supported: Keras 1 divides batch_dot(x, y) by max(sqrt(batch_dot(x, x) * "
          "batch_dot(y, y)), epsilon) and then adds an axis (K.expand_dims), so its output shape depends on the "
          "backend's batch_dot; Keras 2 replaced it by Dot(axes, normalize=True), which strata loads");
    }
    config.invalid(concat("unknown mode '", mode, "' (Keras 1 has sum, mul, concat, ave, max, dot and cos)"));
  }
};

}  // namespace detail

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Add)
STRATA_REGISTER_LAYER(Subtract)
STRATA_REGISTER_LAYER(Multiply)
STRATA_REGISTER_LAYER(Average)
STRATA_REGISTER_LAYER(Maximum)
STRATA_REGISTER_LAYER(Minimum)
STRATA_REGISTER_LAYER(Concatenate)
STRATA_REGISTER_LAYER(Dot)
STRATA_REGISTER_LAYER(Keras1Merge)

#endif  // STRATA_LAYERS_MERGE_HPP
