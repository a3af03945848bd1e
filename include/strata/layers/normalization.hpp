// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_NORMALIZATION_HPP
#define STRATA_LAYERS_NORMALIZATION_HPP

// Keras' normalization layers at inference: BatchNormalization, LayerNormalization,
// UnitNormalization, GroupNormalization and RMSNormalization. They share how axes are given
// (one int or a list, negative from the end), how a parameter (gamma, beta, ...) is indexed (row
// major over the normalised axes in increasing order, whatever order the config lists them in:
// Keras reshapes the weight to the broadcast shape, it does not transpose it) and the loops over
// "kept" and "normalised" positions.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {

/// The normalised axes of one input, canonical (0 <= axis < rank) and in increasing order; held
/// inline, so resolving them on every call allocates nothing.
struct SortedAxes {
  std::array<int, max_rank> axes{};
  int count = 0;
  const int* begin() const { return axes.data(); }
  const int* end() const { return axes.data() + count; }
  int size() const { return count; }
  int operator[](int i) const { return axes[static_cast<std::size_t>(i)]; }
  bool contains(int a) const { return std::find(begin(), end(), a) != end(); }
};

/// The normalised axes of an input of `rank` from axes as Keras gives them (negative counts from
/// the end). shape_error naming `layer` when an axis is out of range, repeated, or the batch axis
/// (strata normalises within a sample; TimeDistributed merges the batch axis).
template <class Layer>
SortedAxes resolve_axes(const std::vector<int>& axes, int rank, const Layer& layer) {
  SortedAxes out;
  for (int a : axes) {
    const int c = a < 0 ? a + rank : a;
    if (c < 0 || c >= rank) {
      throw shape_error(concat(layer.describe(), ": axis ", a, " is out of range for an input of rank ", rank));
    }
    if (c == 0) {
      throw shape_error(concat(layer.describe(), ": axis ", a, " is the batch axis of an input of rank ", rank,
                               "; strata normalises within a sample only"));
    }
    if (out.contains(c)) throw shape_error(concat(layer.describe(), ": axis ", a, " appears twice in the axes"));
    out.axes[static_cast<std::size_t>(out.count++)] = c;
  }
  std::sort(out.axes.begin(), out.axes.begin() + out.count);
  return out;
}

/// An input's positions split into kept ones (each normalised on its own) and normalised ones
/// (reduced over, and indexing the parameters). Adjacent axes of the same kind are merged, so the
/// common layouts are recognised: `trailing` (element (k, p) at k * reduced + p) and `middle`
/// (element (o, p, i) at (o * reduced + p) * inner + i).
struct AxisPlan {
  int kept_groups = 0;
  int reduced_groups = 0;
  std::array<Index, max_rank> kept_dims{};
  std::array<Index, max_rank> kept_strides{};
  std::array<Index, max_rank> reduced_dims{};
  std::array<Index, max_rank> reduced_strides{};
  Index kept = 1;
  Index reduced = 1;
  bool trailing = false;
  bool middle = false;
  Index outer = 1;
  Index inner = 1;
};

/// `sorted_axes` from resolve_axes (never axis 0).
inline AxisPlan plan_axes(const Shape& shape, const SortedAxes& sorted_axes) {
  AxisPlan plan;
  const int rank = shape.rank();
  std::array<Index, max_rank> strides{};
  Index s = 1;
  for (int i = rank - 1; i >= 0; --i) {
    strides[static_cast<std::size_t>(i)] = s;
    s *= shape[i];
  }
  int previous = -1;  // 0 kept, 1 reduced
  for (int i = 0; i < rank; ++i) {
    const int kind = sorted_axes.contains(i) ? 1 : 0;
    auto& dims = kind == 1 ? plan.reduced_dims : plan.kept_dims;
    auto& group_strides = kind == 1 ? plan.reduced_strides : plan.kept_strides;
    int& groups = kind == 1 ? plan.reduced_groups : plan.kept_groups;
    if (kind != previous) {
      dims[static_cast<std::size_t>(groups)] = 1;
      ++groups;
    }
    const auto g = static_cast<std::size_t>(groups - 1);
    dims[g] *= shape[i];
    group_strides[g] = strides[static_cast<std::size_t>(i)];  // the innermost axis of the group
    (kind == 1 ? plan.reduced : plan.kept) *= shape[i];
    previous = kind;
  }
  const bool last_reduced = previous == 1;
  plan.trailing = plan.reduced_groups == 1 && plan.kept_groups == 1 && last_reduced;
  plan.middle = plan.reduced_groups == 1 && plan.kept_groups == 2 && !last_reduced;
  if (plan.middle) {
    plan.outer = plan.kept_dims[0];
    plan.inner = plan.kept_dims[1];
  }
  return plan;
}

/// Calls f(offset, index) for every position of the row-major grid `dims` (n of them, with
/// `strides`), index counting 0, 1, ... in row-major order.
template <class F>
void for_each_offset(const Index* dims, const Index* strides, int n, Index base, F&& f) {
  Index total = 1;
  for (int i = 0; i < n; ++i) total *= dims[i];
  if (total == 0) return;
  if (n == 0) {
    f(base, Index(0));
    return;
  }
  std::array<Index, max_rank> idx{};
  const Index last_dim = dims[n - 1];
  const Index last_stride = strides[n - 1];
  Index offset = base;
  for (Index k = 0; k < total; k += last_dim) {
    for (Index j = 0; j < last_dim; ++j) f(offset + j * last_stride, k + j);
    for (int level = n - 2; level >= 0; --level) {
      const auto l = static_cast<std::size_t>(level);
      offset += strides[level];
      if (++idx[l] < dims[level]) break;
      offset -= strides[level] * dims[level];
      idx[l] = 0;
    }
  }
}

/// Reads a Keras axis option: one integer or a list of integers (`fallback` when missing).
template <class T>
std::vector<int> axes_from_config(const LayerConfig<T>& config, const char* key, std::vector<int> fallback,
                                  bool list_allowed = true) {
  if (!config.has(key)) return fallback;
  const Config& v = config.get(key);
  const auto one = [&](const Config& e) {
    if (!e.is_integer()) {
      throw io_error(concat(config.who(), ": option '", key, "' must be an integer",
                            list_allowed ? " or a list of integers" : "", "; got ", v.dump().substr(0, 200)));
    }
    const auto a = e.as_integer();
    if (a < -max_rank || a >= max_rank) {
      config.invalid(concat("option '", key, "' = ", a, " is out of range for tensors of rank up to ", max_rank));
    }
    return static_cast<int>(a);
  };
  if (v.is_list() && list_allowed) {
    std::vector<int> out;
    for (const Config& e : v.as_list()) out.push_back(one(e));
    if (out.empty()) config.invalid(concat("option '", key, "' is an empty list"));
    return out;
  }
  return {one(v)};
}

inline std::string axes_to_string(const std::vector<int>& axes) {
  if (axes.size() == 1) return std::to_string(axes[0]);
  std::string s = "[";
  for (std::size_t i = 0; i < axes.size(); ++i) s += (i ? ", " : "") + std::to_string(axes[i]);
  return s + "]";
}

/// 1 / sqrt(v + epsilon) in double (the statistics are accumulated in double, so a float layer's
/// rounding is that of its inputs and output only).
inline double inverse_root(double v, double epsilon) { return 1.0 / std::sqrt(v + epsilon); }

/// Sum of f(x[j]) over a contiguous row, in double, in eight independent lanes: the lanes are
/// one vector add per eight values (a single running sum would be a chain of dependent adds, which
/// the compiler may not reorder).
template <class T, class F>
double lane_sum(const T* x, Index n, F f) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  Index j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; ++k) lane[k] += f(static_cast<double>(x[j + k]));
  }
  double tail = 0;
  for (; j < n; ++j) tail += f(static_cast<double>(x[j]));
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])) + tail;
}

/// Mean and (population) variance of a contiguous row, in two passes: the variance is the mean of
/// squared deviations from the mean (Keras' moments, tf.nn.moments and jnp.var), not E[x^2] -
/// E[x]^2, which cancels badly when the mean is large.
template <class T>
std::pair<double, double> row_moments(const T* x, Index n) {
  const double mean = lane_sum(x, n, [](double v) { return v; }) / static_cast<double>(n);
  const double squares = lane_sum(x, n, [mean](double v) { return (v - mean) * (v - mean); });
  return {mean, squares / static_cast<double>(n)};
}

/// Sum of squares of a contiguous row, in double.
template <class T>
double row_squares(const T* x, Index n) {
  return lane_sum(x, n, [](double v) { return v * v; });
}

/// A mean held as two T values, hi + lo: (x - hi) is exact for x near hi, so x - mean keeps
/// T's precision even when the mean is large against the spread (Keras' x * inv + (beta - mean *
/// inv) cancels there).
template <class T>
struct SplitMean {
  explicit SplitMean(double mean) : hi(static_cast<T>(mean)), lo(static_cast<T>(mean - static_cast<double>(hi))) {}
  T hi;
  T lo;
};

/// One normalised element: (x - mean) * inv * gamma[j] + beta[j], without gamma or beta when the
/// layer has none (Gamma, Beta false). Every path computes its elements through this one expression,
/// with no condition inside it: with -ffp-contract=fast (g++'s default) a compiler fuses a
/// multiply and an add into one FMA only when it sees them together, so a `beta ? beta[j] : 0`
/// between them was fused in the vectorised copy of a loop and not in its scalar copy (the one an
/// in-place call takes), and in place was not bitwise out of place.
template <bool Gamma, bool Beta, class T>
T normalized(T x, SplitMean<T> m, T inv, const T* gamma, const T* beta, Index j) {
  const T d = (x - m.hi) - m.lo;
  if constexpr (Gamma && Beta) {
    return d * (inv * gamma[j]) + beta[j];
  } else if constexpr (Gamma) {
    return d * (inv * gamma[j]);
  } else if constexpr (Beta) {
    return d * inv + beta[j];
  } else {
    return d * inv;
  }
}

/// One element scaled without centring (rms_scaling): x * inv * gamma[j] (no gamma: x * inv).
template <bool Gamma, class T>
T scaled(T x, T inv, const T* gamma, Index j) {
  if constexpr (Gamma) {
    return x * inv * gamma[j];
  } else {
    return x * inv;
  }
}

/// Calls f(std::bool_constant<gamma != null>, std::bool_constant<beta != null>): the choice made
/// once, outside the loops over the elements.
template <class T, class F>
void with_affine(const T* gamma, const T* beta, F&& f) {
  if (gamma != nullptr && beta != nullptr) {
    f(std::true_type(), std::true_type());
  } else if (gamma != nullptr) {
    f(std::true_type(), std::false_type());
  } else if (beta != nullptr) {
    f(std::false_type(), std::true_type());
  } else {
    f(std::false_type(), std::false_type());
  }
}

/// y = (x - mean) * inv * gamma + beta along one contiguous row; gamma and beta may be null.
template <class T>
void normalize_row(const T* x, T* y, Index n, SplitMean<T> m, T inv, const T* gamma, const T* beta) {
  with_affine(gamma, beta, [&](auto g, auto b) {
    for (Index j = 0; j < n; ++j)
      y[j] = normalized<decltype(g)::value, decltype(b)::value>(x[j], m, inv, gamma, beta, j);
  });
}

/// y = x * inv * gamma along one contiguous row (gamma may be null).
template <class T>
void scale_row(const T* x, T* y, Index n, T inv, const T* gamma) {
  with_affine(gamma, gamma, [&](auto g, auto) {
    for (Index j = 0; j < n; ++j) y[j] = scaled<decltype(g)::value>(x[j], inv, gamma, j);
  });
}

/// What the weighted normalization layers share: the name, the axes, the weights (kept as given,
/// in Keras' order, all of one shape) and everything derived from them but the arithmetic.
/// Derived provides class_name, weight_names(), param_shape_for(input), check_param_shape(shape),
/// assign(weights, shape) (its derived values; must commit all or nothing) and forward().
template <class Derived, class T>
class NormalizationBase {
 public:
  using Scalar = T;

  const std::string& name() const { return name_; }
  std::string describe() const { return describe_layer(Derived::class_name, name_); }
  /// The axes as given (negative ones count from the end).
  const std::vector<int>& axis() const { return axes_; }
  double epsilon() const { return epsilon_; }
  /// Whether the layer has its weights (always, when its options leave it none).
  bool built() const { return built_ || weightless_; }
  /// The shape of each weight; empty until built.
  const Shape& param_shape() const { return param_shape_; }

  /// Keras build(input_shape): the initial weights (gamma and variances 1, the others 0) for
  /// inputs of this shape.
  void build(const Shape& input_shape) {
    const Shape p = self().param_shape_for(input_shape);
    Weights<T> w;
    for (const std::string& n : self().weight_names()) {
      const bool one =
          n == "gamma" || n == "moving_variance" || n == "scale" || n == "moving_stddev" || n == "renorm_stddev";
      AnyTensor<T> t = AnyTensor<T>::uninitialized(p);
      std::fill(t.data(), t.data() + t.size(), one ? T(1) : T(0));
      w.push_back(std::move(t));
    }
    self().assign(std::move(w), p);
  }
  /// Keras build for inputs whose last axis has `features` values; only for a layer normalising
  /// that axis alone (axis -1). Other axes need build(input_shape) or set_weights().
  void build(Index features) {
    if (axes_ != std::vector<int>{-1}) {
      throw value_error(concat(describe(), ": build(features) needs axis -1; this layer's axis is ",
                               axes_to_string(axes_), ", so call build(input_shape) or set_weights()"));
    }
    if (features < 1) throw value_error(concat(describe(), ": input features must be at least 1; got ", features));
    build(Shape{1, features});
  }

  /// Keras get_weights(), in Keras' order (Derived::weight_names()).
  Weights<T> get_weights() const {
    require_built("get_weights");
    return weights_;
  }
  /// Keras set_weights(): the list get_weights() gives. Builds the layer if needed, taking the
  /// parameter shape from the weights. Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    const std::vector<std::string> names = self().weight_names();
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    check_weight_count(weights, names.size(), describe(), list);
    if (weights.empty()) return;
    Shape p = weights[0].shape();
    if (built_) {
      p = param_shape_;
    } else if (!weights[0].empty()) {
      self().check_param_shape(p);
    }
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (weights[i].empty() || weights[i].shape() != p) {
        throw shape_error(concat(describe(), ": weight ", i, " (", names[i], ") must have shape ", p.to_string(),
                                 "; got ",
                                 weights[i].empty() ? std::string("an empty tensor") : weights[i].shape().to_string()));
      }
    }
    self().assign(Weights<T>(weights), p);
  }
  /// Number of scalars in the weights (Keras count_params()).
  Index count_params() const {
    require_built("count_params");
    return weightless_ ? 0 : param_shape_.size() * static_cast<Index>(weights_.size());
  }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }

  /// The input shape; shape_error when its rank is below 2, an axis is out of range or its sizes
  /// differ from the weights'; value_error when not built.
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    const Shape p = self().param_shape_for(input);
    if (!weightless_ && p != param_shape_) {
      throw shape_error(concat(describe(), ": input shape ", input.to_string(), " has sizes ", p.to_string(),
                               " on axis ", axes_to_string(axes_), "; the weights have shape ",
                               param_shape_.to_string()));
    }
    (void)input.size();
    return input;
  }

  template <class X, std::enable_if_t<is_tensor_input_v<X, T>, int> = 0>
  Tensor<T, static_cast<int>(X::NumIndices)> operator()(const X& x) const {
    static_assert(X::NumIndices >= 2, "strata: normalization layers take inputs of rank 2 or more (batch, ...).");
    return call_tensor(self(), x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return call_any(self(), x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return call_any(self(), TensorView<T>(x)); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  // --- Keras description
  /// Keras' normalization layers support masking: the mask passes on (RMSNormalization drops it).
  static constexpr MaskRule mask_rule = MaskRule::pass;
  /// The output may overwrite the input: every position is read before it is written.
  static constexpr bool in_place = true;
  std::size_t weight_count() const { return self().weight_names().size(); }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape p = self().param_shape_for(only_input(inputs, describe()));
    WeightGroup group{"", {}};
    for (const std::string& n : self().weight_names()) group.weights.push_back({n, p, ""});
    return {group};
  }

 protected:
  NormalizationBase(std::vector<int> axes, double epsilon, std::string name)
      : axes_(std::move(axes)), epsilon_(epsilon), name_(std::move(name)) {
    if (axes_.empty()) throw value_error(concat(describe(), ": axis must name at least one axis"));
    for (std::size_t i = 0; i < axes_.size(); ++i) {
      if (axes_[i] == 0) {
        throw value_error(concat(describe(), ": axis 0 is the batch axis; strata normalises within a sample only"));
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (axes_[i] == axes_[j]) throw value_error(concat(describe(), ": axis ", axes_[i], " appears twice"));
      }
    }
    if (!(epsilon_ >= 0) || !std::isfinite(epsilon_)) {
      throw value_error(concat(describe(), ": epsilon must be a finite number >= 0; got ", epsilon_));
    }
  }

  /// The input's sizes on the axes in the order given (LayerNormalization, RMSNormalization).
  Shape sizes_on_axes(const Shape& input) const {
    check_rank(input);
    (void)resolve_axes(axes_, input.rank(), self());
    Shape p;
    for (int a : axes_) p.push_back(input[a < 0 ? a + input.rank() : a]);
    return p;
  }
  void require_built(const char* what) const {
    if (!built()) {
      throw value_error(
          concat(describe(), ": ", what, " needs weights; call build(input_shape) or set_weights() first"));
    }
  }
  void check_rank(const Shape& input) const {
    if (input.rank() < 2) {
      throw shape_error(concat(describe(), ": input must have rank >= 2 (batch, ...); got shape ", input.to_string()));
    }
  }
  /// The weight at `i` of the committed list.
  const T* weight(std::size_t i) const { return weights_[i].data(); }
  void commit(Weights<T> w, const Shape& p) noexcept {
    weights_ = std::move(w);
    param_shape_ = p;
    built_ = true;
  }

  std::vector<int> axes_;
  double epsilon_;
  std::string name_;
  Weights<T> weights_;
  Shape param_shape_;
  bool built_ = false;
  bool weightless_ = false;  // set by Derived's constructor: its options leave it no weights

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace detail

// ------------------------------------------------------------------------------------------------
// BatchNormalization
// ------------------------------------------------------------------------------------------------

/// Options of BatchNormalization: `BatchNormalizationOptions().axis(1).epsilon(1e-5)`.
class BatchNormalizationOptions : public detail::Options<BatchNormalizationOptions> {
 public:
  /// Keras `axis`, default -1: the features axis, which gets one gamma, beta, mean and variance
  /// per index.
  BatchNormalizationOptions& axis(int a) {
    axis_ = {a};
    return *this;
  }
  /// tf.keras 2's list of axes: the parameters then have the input's rank, with 1 on every other
  /// axis (a list of one axis is the same as that axis).
  BatchNormalizationOptions& axis(std::vector<int> a) {
    axis_ = std::move(a);
    return *this;
  }
  /// Keras `epsilon`, default 1e-3.
  BatchNormalizationOptions& epsilon(double e) {
    epsilon_ = e;
    return *this;
  }
  /// Keras `center`, default true: add beta. false: no beta weight.
  BatchNormalizationOptions& center(bool on) {
    center_ = on;
    return *this;
  }
  /// Keras `scale`, default true: multiply by gamma. false: no gamma weight.
  BatchNormalizationOptions& scale(bool on) {
    scale_ = on;
    return *this;
  }
  /// Keras `renorm`, default false. Inference is the same either way; true adds the weights
  /// moving_stddev, renorm_mean and renorm_stddev after the others (training statistics).
  BatchNormalizationOptions& renorm(bool on) {
    renorm_ = on;
    return *this;
  }
  const std::vector<int>& axis() const { return axis_; }
  double epsilon() const { return epsilon_; }
  bool center() const { return center_; }
  bool scale() const { return scale_; }
  bool renorm() const { return renorm_; }

 private:
  std::vector<int> axis_{-1};
  double epsilon_ = 1e-3;
  bool center_ = true;
  bool scale_ = true;
  bool renorm_ = false;
};

/// Keras `BatchNormalization` at inference:
/// y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta, per index of `axis`.
///
/// Any input rank >= 2; `axis` any non-batch axis, negative from the end. Weights, as Keras'
/// get_weights(): [gamma, beta, moving_mean, moving_variance] (gamma absent when scale is false,
/// beta when center is false; with renorm, then moving_stddev, renorm_mean, renorm_stddev), each of
/// shape (size of axis,) -- or, for a tf.keras list of several axes, the input's rank with 1 on the
/// other axes. set_weights folds them into one scale and shift per channel, so a call is one
/// multiply-add per element. The mask passes on. momentum and the training-time options are
/// ignored.
template <class T>
class BatchNormalization : public detail::NormalizationBase<BatchNormalization<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::BatchNormalization: the scalar type must be float or double.");
  using Base = detail::NormalizationBase<BatchNormalization<T>, T>;
  friend Base;

 public:
  static constexpr const char* class_name = "BatchNormalization";

  explicit BatchNormalization(const BatchNormalizationOptions& options = BatchNormalizationOptions())
      : Base(options.axis(), options.epsilon(), options.name()),
        center_(options.center()),
        scale_(options.scale()),
        renorm_(options.renorm()) {}

  bool center() const { return center_; }
  bool scale() const { return scale_; }
  bool renorm() const { return renorm_; }

  /// Low-level call on raw row-major memory (output may equal input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, this->compute_output_shape(input_shape), output_size);
    const detail::AxisPlan plan =
        detail::plan_axes(input_shape, detail::resolve_axes(this->axes_, input_shape.rank(), *this));
    const T* a = multiplier_.data();
    const T* b = offset_.data();
    if (plan.trailing) {
      const Index n = plan.reduced;
      detail::parallel_rows(plan.kept, detail::rows_worth_a_thread(2.0 * static_cast<double>(n)), 1,
                            [&](Index r0, Index r1) {
                              for (Index r = r0; r < r1; ++r) {
                                const T* x = input + r * n;
                                T* y = output + r * n;
                                for (Index j = 0; j < n; ++j) y[j] = x[j] * a[j] + b[j];
                              }
                            });
    } else if (plan.middle) {
      const Index n = plan.reduced, inner = plan.inner;
      for (Index o = 0; o < plan.outer; ++o) {
        for (Index c = 0; c < n; ++c) {
          const Index at = (o * n + c) * inner;
          const T m = a[c], s = b[c];
          for (Index i = 0; i < inner; ++i) output[at + i] = input[at + i] * m + s;
        }
      }
    } else {
      detail::for_each_offset(
          plan.kept_dims.data(), plan.kept_strides.data(), plan.kept_groups, 0, [&](Index base, Index) {
            detail::for_each_offset(plan.reduced_dims.data(), plan.reduced_strides.data(), plan.reduced_groups, base,
                                    [&](Index at, Index p) { output[at] = input[at] * a[p] + b[p]; });
          });
    }
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: axis (an int, or tf.keras' list), epsilon, center, scale, renorm (and Keras 1's
  /// mode: 0 only); momentum, initializers, regularizers, constraints, fused and synchronized play
  /// no part at inference. virtual_batch_size and adjustment are refused.
  /// tf.keras 2's SyncBatchNormalization: the same layer at inference.
  static std::vector<std::string> keras_aliases() { return {"SyncBatchNormalization"}; }
  static BatchNormalization from_config(const LayerConfig<T>& config) {
    if (config.has("mode")) {
      const Index mode = config.integer_or("mode", 0, 0, 2);
      if (mode != 0) {
        config.unsupported(detail::concat("Keras 1 mode ", mode, " is not supported (only mode 0, feature-wise ",
                                          "normalization with the moving statistics at inference; modes 1 and 2 ",
                                          "use the statistics of each sample or batch)"));
      }
    }
    config.refuse("virtual_batch_size");
    config.refuse("adjustment");
    return BatchNormalization(BatchNormalizationOptions()
                                  .axis(detail::axes_from_config(config, "axis", {-1}))
                                  .epsilon(config.number("epsilon", 1e-3))
                                  .center(config.boolean("center", true))
                                  .scale(config.boolean("scale", true))
                                  .renorm(config.boolean("renorm", false))
                                  .name(config.name()));
  }

 private:
  std::vector<std::string> weight_names() const {
    std::vector<std::string> n;
    if (scale_) n.emplace_back("gamma");
    if (center_) n.emplace_back("beta");
    n.emplace_back("moving_mean");
    n.emplace_back("moving_variance");
    if (renorm_) {
      n.emplace_back("moving_stddev");
      n.emplace_back("renorm_mean");
      n.emplace_back("renorm_stddev");
    }
    return n;
  }

  // Keras 3 and tfjs: (size of axis,); tf.keras 2 with several axes: the input's rank, 1 elsewhere.
  Shape param_shape_for(const Shape& input) const {
    this->check_rank(input);
    const detail::SortedAxes axes = detail::resolve_axes(this->axes_, input.rank(), *this);
    if (axes.size() == 1) return Shape{input[axes[0]]};
    Shape p;
    for (int i = 0; i < input.rank(); ++i) p.push_back(axes.contains(i) ? input[i] : 1);
    return p;
  }
  void check_param_shape(const Shape& p) const {
    const bool ok = this->axes_.size() == 1 ? p.rank() == 1 : p.rank() >= 2;
    if (!ok) {
      throw shape_error(detail::concat(this->describe(), ": weight 0 must have shape ",
                                       this->axes_.size() == 1 ? "(channels,)" : "(the input's rank, 1 off the axes)",
                                       " for axis ", detail::axes_to_string(this->axes_), "; got ", p.to_string()));
    }
  }
  // Folds the four statistics into y = x * multiplier + offset (in double, then rounded once).
  void assign(Weights<T> w, const Shape& p) {
    const Index n = p.size();
    std::vector<T> multiplier(static_cast<std::size_t>(n)), offset(static_cast<std::size_t>(n));
    std::size_t i = 0;
    const T* gamma = scale_ ? w[i++].data() : nullptr;
    const T* beta = center_ ? w[i++].data() : nullptr;
    const T* mean = w[i++].data();
    const T* variance = w[i].data();
    for (Index c = 0; c < n; ++c) {
      const double inv = detail::inverse_root(static_cast<double>(variance[c]), this->epsilon_) *
                         (gamma ? static_cast<double>(gamma[c]) : 1.0);
      multiplier[static_cast<std::size_t>(c)] = static_cast<T>(inv);
      offset[static_cast<std::size_t>(c)] =
          static_cast<T>((beta ? static_cast<double>(beta[c]) : 0.0) - static_cast<double>(mean[c]) * inv);
    }
    multiplier_ = std::move(multiplier);
    offset_ = std::move(offset);
    this->commit(std::move(w), p);
  }

  bool center_;
  bool scale_;
  bool renorm_;
  std::vector<T> multiplier_;
  std::vector<T> offset_;
};

// ------------------------------------------------------------------------------------------------
// LayerNormalization
// ------------------------------------------------------------------------------------------------

/// Options of LayerNormalization: `LayerNormalizationOptions().axis({-2, -1}).epsilon(1e-6)`.
class LayerNormalizationOptions : public detail::Options<LayerNormalizationOptions> {
 public:
  /// Keras `axis`, default -1: the axes each sample is normalised over.
  LayerNormalizationOptions& axis(int a) {
    axis_ = {a};
    return *this;
  }
  LayerNormalizationOptions& axis(std::vector<int> a) {
    axis_ = std::move(a);
    return *this;
  }
  /// Keras `epsilon`, default 1e-3.
  LayerNormalizationOptions& epsilon(double e) {
    epsilon_ = e;
    return *this;
  }
  /// Keras `center`, default true: add beta.
  LayerNormalizationOptions& center(bool on) {
    center_ = on;
    return *this;
  }
  /// Keras `scale`, default true: multiply by gamma.
  LayerNormalizationOptions& scale(bool on) {
    scale_ = on;
    return *this;
  }
  /// Keras 3's `rms_scaling`, default false: y = x * gamma / sqrt(variance + epsilon), no
  /// centering and no beta (gamma exists whatever `scale` says).
  LayerNormalizationOptions& rms_scaling(bool on) {
    rms_scaling_ = on;
    return *this;
  }
  const std::vector<int>& axis() const { return axis_; }
  double epsilon() const { return epsilon_; }
  bool center() const { return center_; }
  bool scale() const { return scale_; }
  bool rms_scaling() const { return rms_scaling_; }

 private:
  std::vector<int> axis_{-1};
  double epsilon_ = 1e-3;
  bool center_ = true;
  bool scale_ = true;
  bool rms_scaling_ = false;
};

/// Keras `LayerNormalization`: each sample normalised over `axis`,
/// y = gamma * (x - mean) / sqrt(variance + epsilon) + beta, mean and (population) variance over
/// the normalised axes. With Keras 3's rms_scaling: y = gamma * x / sqrt(variance + epsilon) (the
/// variance still about the mean; Keras 3's formula, which its RMSNormalization replaces).
///
/// Any input rank >= 2. Weights, as Keras' get_weights(): [gamma, beta] (gamma absent when scale
/// and rms_scaling are false, beta when center is false or rms_scaling), each of shape (sizes of
/// the axes in the order given); their values run row-major over the axes in increasing order, as
/// Keras broadcasts them. The mean and variance are accumulated in double, in two passes over each
/// normalised row. The mask passes on.
template <class T>
class LayerNormalization : public detail::NormalizationBase<LayerNormalization<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::LayerNormalization: the scalar type must be float or double.");
  using Base = detail::NormalizationBase<LayerNormalization<T>, T>;
  friend Base;

 public:
  static constexpr const char* class_name = "LayerNormalization";

  explicit LayerNormalization(const LayerNormalizationOptions& options = LayerNormalizationOptions())
      : Base(options.axis(), options.epsilon(), options.name()),
        center_(options.center()),
        scale_(options.scale()),
        rms_scaling_(options.rms_scaling()) {
    this->weightless_ = weight_names().empty();
  }

  bool center() const { return center_; }
  bool scale() const { return scale_; }
  bool rms_scaling() const { return rms_scaling_; }

  /// Low-level call on raw row-major memory (output may equal input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, this->compute_output_shape(input_shape), output_size);
    const detail::AxisPlan plan =
        detail::plan_axes(input_shape, detail::resolve_axes(this->axes_, input_shape.rank(), *this));
    const T* gamma = has_gamma() ? this->weight(0) : nullptr;
    const T* beta = has_beta() ? this->weight(has_gamma() ? 1 : 0) : nullptr;
    const Index n = plan.reduced;
    if (n == 0) return;
    if (plan.trailing) {
      detail::parallel_rows(plan.kept, detail::rows_worth_a_thread(6.0 * static_cast<double>(n)), 1,
                            [&](Index r0, Index r1) {
                              for (Index r = r0; r < r1; ++r) {
                                const T* x = input + r * n;
                                T* y = output + r * n;
                                const auto [mean, variance] = detail::row_moments(x, n);
                                const T inv = static_cast<T>(detail::inverse_root(variance, this->epsilon_));
                                if (rms_scaling_) {
                                  detail::scale_row(x, y, n, inv, gamma);
                                } else {
                                  detail::normalize_row(x, y, n, detail::SplitMean<T>(mean), inv, gamma, beta);
                                }
                              }
                            });
      return;
    }
    detail::for_each_offset(
        plan.kept_dims.data(), plan.kept_strides.data(), plan.kept_groups, 0, [&](Index base, Index) {
          const auto visit = [&](auto&& f) {
            detail::for_each_offset(plan.reduced_dims.data(), plan.reduced_strides.data(), plan.reduced_groups, base,
                                    f);
          };
          double sum = 0;
          visit([&](Index at, Index) { sum += static_cast<double>(input[at]); });
          const double mean = sum / static_cast<double>(n);
          double squares = 0;
          visit([&](Index at, Index) {
            const double d = static_cast<double>(input[at]) - mean;
            squares += d * d;
          });
          const T inv = static_cast<T>(detail::inverse_root(squares / static_cast<double>(n), this->epsilon_));
          // The same per-element expressions as the contiguous rows above, chosen outside the loop.
          const detail::SplitMean<T> m(mean);
          if (rms_scaling_) {
            detail::with_affine(gamma, gamma, [&](auto g, auto) {
              visit([&](Index at, Index p) {
                output[at] = detail::scaled<decltype(g)::value>(input[at], inv, gamma, p);
              });
            });
          } else {
            detail::with_affine(gamma, beta, [&](auto g, auto b) {
              visit([&](Index at, Index p) {
                output[at] =
                    detail::normalized<decltype(g)::value, decltype(b)::value>(input[at], m, inv, gamma, beta, p);
              });
            });
          }
        });
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: axis (int or list), epsilon, center, scale, rms_scaling (Keras 3; tfjs and
  /// tf.keras have none).
  static LayerNormalization from_config(const LayerConfig<T>& config) {
    return LayerNormalization(LayerNormalizationOptions()
                                  .axis(detail::axes_from_config(config, "axis", {-1}))
                                  .epsilon(config.number("epsilon", 1e-3))
                                  .center(config.boolean("center", true))
                                  .scale(config.boolean("scale", true))
                                  .rms_scaling(config.boolean("rms_scaling", false))
                                  .name(config.name()));
  }

 private:
  bool has_gamma() const { return scale_ || rms_scaling_; }
  bool has_beta() const { return center_ && !rms_scaling_; }
  std::vector<std::string> weight_names() const {
    std::vector<std::string> n;
    if (has_gamma()) n.emplace_back("gamma");
    if (has_beta()) n.emplace_back("beta");
    return n;
  }
  Shape param_shape_for(const Shape& input) const { return this->sizes_on_axes(input); }
  void check_param_shape(const Shape& p) const {
    if (p.rank() != static_cast<int>(this->axes_.size())) {
      throw shape_error(detail::concat(this->describe(), ": weight 0 must have one size per axis of ",
                                       detail::axes_to_string(this->axes_), "; got shape ", p.to_string()));
    }
  }
  void assign(Weights<T> w, const Shape& p) { this->commit(std::move(w), p); }

  bool center_;
  bool scale_;
  bool rms_scaling_;
};

// ------------------------------------------------------------------------------------------------
// RMSNormalization
// ------------------------------------------------------------------------------------------------

/// Options of RMSNormalization: `RMSNormalizationOptions().axis(-1).epsilon(1e-5)`.
class RMSNormalizationOptions : public detail::Options<RMSNormalizationOptions> {
 public:
  /// Keras `axis`, default -1. The axes must be the input's last ones: Keras multiplies by
  /// `scale` by broadcasting against the trailing axes.
  RMSNormalizationOptions& axis(int a) {
    axis_ = {a};
    return *this;
  }
  RMSNormalizationOptions& axis(std::vector<int> a) {
    axis_ = std::move(a);
    return *this;
  }
  /// Keras `epsilon`, default 1e-6.
  RMSNormalizationOptions& epsilon(double e) {
    epsilon_ = e;
    return *this;
  }
  const std::vector<int>& axis() const { return axis_; }
  double epsilon() const { return epsilon_; }

 private:
  std::vector<int> axis_{-1};
  double epsilon_ = 1e-6;
};

/// Keras 3.9+ `RMSNormalization`: y = x * scale / sqrt(mean(x^2) + epsilon), the mean over `axis`.
///
/// Any input rank >= 2; the axes must be the last ones of the input in increasing order (Keras
/// broadcasts `scale` against the trailing axes, so other axes would scale along the wrong ones or
/// fail). Weights, as Keras' get_weights(): [scale] of shape (sizes of the axes). Keras 3 does not
/// set supports_masking on it: a mask is dropped.
template <class T>
class RMSNormalization : public detail::NormalizationBase<RMSNormalization<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::RMSNormalization: the scalar type must be float or double.");
  using Base = detail::NormalizationBase<RMSNormalization<T>, T>;
  friend Base;

 public:
  static constexpr const char* class_name = "RMSNormalization";
  /// Keras 3's RMSNormalization does not support masking: the mask is dropped.
  static constexpr MaskRule mask_rule = MaskRule::drop;

  explicit RMSNormalization(const RMSNormalizationOptions& options = RMSNormalizationOptions())
      : Base(options.axis(), options.epsilon(), options.name()) {}

  /// Low-level call on raw row-major memory (output may equal input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, this->compute_output_shape(input_shape), output_size);
    const Index n = this->param_shape_.size();
    if (n == 0) return;
    const Index rows = output_size / n;
    const T* scale = this->weight(0);
    detail::parallel_rows(rows, detail::rows_worth_a_thread(4.0 * static_cast<double>(n)), 1, [&](Index r0, Index r1) {
      for (Index r = r0; r < r1; ++r) {
        const T* x = input + r * n;
        T* y = output + r * n;
        const double squares = detail::row_squares(x, n);
        const T inv = static_cast<T>(detail::inverse_root(squares / static_cast<double>(n), this->epsilon_));
        for (Index j = 0; j < n; ++j) y[j] = x[j] * inv * scale[j];
      }
    });
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: axis (int or list), epsilon.
  static RMSNormalization from_config(const LayerConfig<T>& config) {
    return RMSNormalization(RMSNormalizationOptions()
                                .axis(detail::axes_from_config(config, "axis", {-1}))
                                .epsilon(config.number("epsilon", 1e-6))
                                .name(config.name()));
  }

 private:
  std::vector<std::string> weight_names() const { return {"scale"}; }
  Shape param_shape_for(const Shape& input) const {
    const Shape p = this->sizes_on_axes(input);
    const detail::SortedAxes sorted = detail::resolve_axes(this->axes_, input.rank(), *this);
    bool trailing = true;
    const int k = sorted.size();
    for (int i = 0; i < k; ++i) {
      const int a = this->axes_[static_cast<std::size_t>(i)];
      trailing = trailing && sorted[i] == input.rank() - k + i && (a < 0 ? a + input.rank() : a) == sorted[i];
    }
    if (!trailing) {
      throw shape_error(detail::concat(this->describe(), ": axis ", detail::axes_to_string(this->axes_),
                                       " must be the last axes of the input in increasing order (Keras broadcasts "
                                       "scale against the trailing axes); input shape ",
                                       input.to_string()));
    }
    return p;
  }
  void check_param_shape(const Shape& p) const {
    if (p.rank() != static_cast<int>(this->axes_.size())) {
      throw shape_error(detail::concat(this->describe(), ": weight 0 (scale) must have one size per axis of ",
                                       detail::axes_to_string(this->axes_), "; got shape ", p.to_string()));
    }
  }
  void assign(Weights<T> w, const Shape& p) { this->commit(std::move(w), p); }
};

// ------------------------------------------------------------------------------------------------
// GroupNormalization
// ------------------------------------------------------------------------------------------------

/// Options of GroupNormalization: `GroupNormalizationOptions().groups(4).axis(-1)`.
class GroupNormalizationOptions : public detail::Options<GroupNormalizationOptions> {
 public:
  /// Keras `groups`, default 32; -1 means one group per channel (instance normalization).
  GroupNormalizationOptions& groups(Index g) {
    groups_ = g;
    return *this;
  }
  /// Keras `axis`, default -1: the channel axis.
  GroupNormalizationOptions& axis(int a) {
    axis_ = a;
    return *this;
  }
  /// Keras `epsilon`, default 1e-3.
  GroupNormalizationOptions& epsilon(double e) {
    epsilon_ = e;
    return *this;
  }
  /// Keras `center`, default true: add beta.
  GroupNormalizationOptions& center(bool on) {
    center_ = on;
    return *this;
  }
  /// Keras `scale`, default true: multiply by gamma.
  GroupNormalizationOptions& scale(bool on) {
    scale_ = on;
    return *this;
  }
  Index groups() const { return groups_; }
  int axis() const { return axis_; }
  double epsilon() const { return epsilon_; }
  bool center() const { return center_; }
  bool scale() const { return scale_; }

 private:
  Index groups_ = 32;
  int axis_ = -1;
  double epsilon_ = 1e-3;
  bool center_ = true;
  bool scale_ = true;
};

/// Keras `GroupNormalization`: the channels of `axis` split into `groups` consecutive groups; each
/// sample's group is normalised over its channels and every other non-batch axis,
/// y = gamma_c * (x - mean_g) / sqrt(variance_g + epsilon) + beta_c.
///
/// Any input rank >= 2; the channel count must be a multiple of groups (groups -1: one per
/// channel). Weights, as Keras' get_weights(): [gamma (channels,), beta (channels,)] (gamma absent
/// when scale is false, beta when center is false). Statistics in double, two passes per group.
/// The mask passes on.
template <class T>
class GroupNormalization : public detail::NormalizationBase<GroupNormalization<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::GroupNormalization: the scalar type must be float or double.");
  using Base = detail::NormalizationBase<GroupNormalization<T>, T>;
  friend Base;

 public:
  static constexpr const char* class_name = "GroupNormalization";

  /// Throws value_error for groups 0 or below -1.
  explicit GroupNormalization(const GroupNormalizationOptions& options = GroupNormalizationOptions())
      : Base({options.axis()}, options.epsilon(), options.name()),
        groups_(options.groups()),
        center_(options.center()),
        scale_(options.scale()) {
    this->weightless_ = weight_names().empty();
    if (groups_ == 0 || groups_ < -1) {
      throw value_error(
          detail::concat(this->describe(), ": groups must be positive (or -1: one per channel); got ", groups_));
    }
  }

  /// As configured (-1: one group per channel).
  Index groups() const { return groups_; }
  bool center() const { return center_; }
  bool scale() const { return scale_; }

  /// Low-level call on raw row-major memory (output may equal input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, this->compute_output_shape(input_shape), output_size);
    const int rank = input_shape.rank();
    const int k = detail::resolve_axes(this->axes_, rank, *this)[0];
    const Index channels = input_shape[k];
    const Index groups = groups_ == -1 ? channels : groups_;
    const Index per_group = channels / groups;
    const Index batch = input_shape[0];
    const Index pre = input_shape.product(1, k);
    const Index post = input_shape.product(k + 1, rank);
    const Index run = per_group * post;  // one group's contiguous values at one `pre` index
    const Index count = pre * run;
    if (count == 0) return;
    const T* gamma = scale_ ? this->weight(0) : nullptr;
    const T* beta = center_ ? this->weight(scale_ ? 1 : 0) : nullptr;
    for (Index b = 0; b < batch; ++b) {
      for (Index g = 0; g < groups; ++g) {
        const auto start = [&](Index p) { return ((b * pre + p) * channels + g * per_group) * post; };
        double sum = 0;
        for (Index p = 0; p < pre; ++p) sum += detail::lane_sum(input + start(p), run, [](double v) { return v; });
        const double mean = sum / static_cast<double>(count);
        double squares = 0;
        for (Index p = 0; p < pre; ++p) {
          squares += detail::lane_sum(input + start(p), run, [mean](double v) { return (v - mean) * (v - mean); });
        }
        const T inv = static_cast<T>(detail::inverse_root(squares / static_cast<double>(count), this->epsilon_));
        const detail::SplitMean<T> m(mean);
        for (Index p = 0; p < pre; ++p) {
          const T* x = input + start(p);
          T* y = output + start(p);
          for (Index c = 0; c < per_group; ++c) {
            const Index ch = g * per_group + c;
            const T a = gamma ? inv * gamma[ch] : inv;
            const T s = beta ? beta[ch] : T(0);
            for (Index i = 0; i < post; ++i) y[c * post + i] = ((x[c * post + i] - m.hi) - m.lo) * a + s;
          }
        }
      }
    }
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: groups, axis, epsilon, center, scale.
  static GroupNormalization from_config(const LayerConfig<T>& config) {
    const Index groups = config.integer_or("groups", 32, -1);
    if (groups == 0) config.invalid("option 'groups' must be positive or -1; got 0");
    return GroupNormalization(GroupNormalizationOptions()
                                  .groups(groups)
                                  .axis(detail::axes_from_config(config, "axis", {-1}, false)[0])
                                  .epsilon(config.number("epsilon", 1e-3))
                                  .center(config.boolean("center", true))
                                  .scale(config.boolean("scale", true))
                                  .name(config.name()));
  }

 private:
  std::vector<std::string> weight_names() const {
    std::vector<std::string> n;
    if (scale_) n.emplace_back("gamma");
    if (center_) n.emplace_back("beta");
    return n;
  }
  Shape param_shape_for(const Shape& input) const {
    this->check_rank(input);
    const Index channels = input[detail::resolve_axes(this->axes_, input.rank(), *this)[0]];
    check_groups(channels, input);
    return Shape{channels};
  }
  void check_groups(Index channels, const Shape& input) const {
    const Index groups = groups_ == -1 ? channels : groups_;
    if (groups < 1 || channels < groups || channels % groups != 0) {
      throw shape_error(detail::concat(this->describe(), ": the ", channels, " channels on axis ", this->axes_[0],
                                       " of input shape ", input.to_string(), " cannot be split into ", groups,
                                       " groups of equal size"));
    }
  }
  void check_param_shape(const Shape& p) const {
    if (p.rank() != 1) {
      throw shape_error(
          detail::concat(this->describe(), ": weight 0 must have shape (channels,); got ", p.to_string()));
    }
    check_groups(p[0], p);
  }
  void assign(Weights<T> w, const Shape& p) { this->commit(std::move(w), p); }

  Index groups_;
  bool center_;
  bool scale_;
};

// ------------------------------------------------------------------------------------------------
// UnitNormalization
// ------------------------------------------------------------------------------------------------

/// Options of UnitNormalization: `UnitNormalizationOptions().axis({1, 2})`.
class UnitNormalizationOptions : public detail::Options<UnitNormalizationOptions> {
 public:
  /// Keras `axis`, default -1: the axes whose L2 norm becomes 1.
  UnitNormalizationOptions& axis(int a) {
    axis_ = {a};
    return *this;
  }
  UnitNormalizationOptions& axis(std::vector<int> a) {
    axis_ = std::move(a);
    return *this;
  }
  /// The smallest norm divided by: Keras >= 3.6 computes x / max(norm, 1e-12) (the default);
  /// Keras 3.0-3.5 and tf.keras x / max(norm, 1e-6) (x * rsqrt(max(sum of squares, 1e-12))).
  /// Not a Keras argument: from_config sets it from the file's Keras version.
  UnitNormalizationOptions& min_norm(double v) {
    min_norm_ = v;
    return *this;
  }
  const std::vector<int>& axis() const { return axis_; }
  double min_norm() const { return min_norm_; }

 private:
  std::vector<int> axis_{-1};
  double min_norm_ = 1e-12;
};

/// Keras `UnitNormalization`: y = x / max(||x||, min_norm), the L2 norm over `axis` of each sample.
///
/// Any input rank >= 2, any non-batch axes. No weights, no state; the mask passes on. The sum of
/// squares is accumulated in double.
template <class T>
class UnitNormalization : public detail::WeightlessLayer<UnitNormalization<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::UnitNormalization: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "UnitNormalization";

  /// Throws value_error for an empty or repeated axis list, axis 0, or min_norm <= 0.
  explicit UnitNormalization(const UnitNormalizationOptions& options = UnitNormalizationOptions())
      : axes_(options.axis()), min_norm_(options.min_norm()), name_(options.name()) {
    if (axes_.empty()) throw value_error(detail::concat(this->describe(), ": axis must name at least one axis"));
    for (std::size_t i = 0; i < axes_.size(); ++i) {
      if (axes_[i] == 0) {
        throw value_error(
            detail::concat(this->describe(), ": axis 0 is the batch axis; strata normalises within a sample only"));
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (axes_[i] == axes_[j])
          throw value_error(detail::concat(this->describe(), ": axis ", axes_[i], " appears twice"));
      }
    }
    if (!(min_norm_ > 0) || !std::isfinite(min_norm_)) {
      throw value_error(detail::concat(this->describe(), ": min_norm must be a finite number > 0; got ", min_norm_));
    }
  }

  const std::vector<int>& axis() const { return axes_; }
  double min_norm() const { return min_norm_; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }

  /// The input shape; shape_error below rank 2 or for an axis out of range.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 2) {
      throw shape_error(
          detail::concat(this->describe(), ": input must have rank >= 2 (batch, ...); got shape ", input.to_string()));
    }
    (void)detail::resolve_axes(axes_, input.rank(), *this);
    (void)input.size();
    return input;
  }

  /// Low-level call on raw row-major memory (output may equal input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    const detail::AxisPlan plan =
        detail::plan_axes(input_shape, detail::resolve_axes(axes_, input_shape.rank(), *this));
    const double floor = min_norm_ * min_norm_;
    if (plan.trailing) {
      const Index n = plan.reduced;
      if (n == 0) return;
      detail::parallel_rows(plan.kept, detail::rows_worth_a_thread(3.0 * static_cast<double>(n)), 1,
                            [&](Index r0, Index r1) {
                              for (Index r = r0; r < r1; ++r) {
                                const T* x = input + r * n;
                                T* y = output + r * n;
                                const double squares = detail::row_squares(x, n);
                                const T inv = static_cast<T>(1.0 / std::sqrt(std::max(squares, floor)));
                                for (Index j = 0; j < n; ++j) y[j] = x[j] * inv;
                              }
                            });
      return;
    }
    detail::for_each_offset(
        plan.kept_dims.data(), plan.kept_strides.data(), plan.kept_groups, 0, [&](Index base, Index) {
          const auto visit = [&](auto&& f) {
            detail::for_each_offset(plan.reduced_dims.data(), plan.reduced_strides.data(), plan.reduced_groups, base,
                                    f);
          };
          double squares = 0;
          visit([&](Index at, Index) { squares += static_cast<double>(input[at]) * static_cast<double>(input[at]); });
          const T inv = static_cast<T>(1.0 / std::sqrt(std::max(squares, floor)));
          visit([&](Index at, Index) { output[at] = input[at] * inv; });
        });
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' UnitNormalization supports masking: the mask passes on.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  static constexpr bool in_place = true;
  /// Keras config: axis (int or list). The norm's floor follows the file's version: 1e-6 before
  /// Keras 3.6 (tf.keras' l2_normalize and Keras 3.0-3.5), 1e-12 from 3.6.
  static UnitNormalization from_config(const LayerConfig<T>& config) {
    const KerasVersion& v = config.keras_version();
    const bool before_3_6 = v.tfjs || v.major < 3 || (v.major == 3 && v.minor < 6);
    return UnitNormalization(UnitNormalizationOptions()
                                 .axis(detail::axes_from_config(config, "axis", {-1}))
                                 .min_norm(before_3_6 ? 1e-6 : 1e-12)
                                 .name(config.name()));
  }

 private:
  std::vector<int> axes_;
  double min_norm_;
  std::string name_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(BatchNormalization)
STRATA_REGISTER_LAYER(LayerNormalization)
STRATA_REGISTER_LAYER(UnitNormalization)
STRATA_REGISTER_LAYER(GroupNormalization)
STRATA_REGISTER_LAYER(RMSNormalization)

#endif  // STRATA_LAYERS_NORMALIZATION_HPP
