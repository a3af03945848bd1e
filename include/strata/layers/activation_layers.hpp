// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_ACTIVATION_LAYERS_HPP
#define STRATA_LAYERS_ACTIVATION_LAYERS_HPP

// Keras' activation layers with options of their own: ReLU, LeakyReLU, PReLU, ELU, Softmax and
// ThresholdedReLU (Keras' `Activation(name)` layer is layers/activation.hpp).

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../activations.hpp"
#include "../any_layer.hpp"
#include "../detail/chunks.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../parallel.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace detail {

/// What ReLU, LeakyReLU, ELU and ThresholdedReLU share: any rank >= 1, the output shape is the
/// input's, and forward applies Derived::apply(Chunk&) to every value (in place allowed).
template <class Derived, class T>
class ElementwiseLayer : public WeightlessLayer<Derived, T> {
 public:
  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? input_rank : invalid_rank; }

  /// The input shape; throws shape_error for rank 0.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          concat(self().describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    (void)input.size();
    return input;
  }

  /// Low-level call on raw row-major memory; output may be input itself (in place), otherwise the
  /// two must not overlap.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    check_output_size(self(), compute_output_shape(input_shape), output_size);
    const Index n = output_size;
    // Blocks of whole chunks, so that threads never share a chunk.
    const Index block = 4 * chunk_size<T>;
    const Index blocks = (n + block - 1) / block;
    parallel_rows(blocks, rows_worth_a_thread(8.0 * static_cast<double>(block)), 1, [&](Index b0, Index b1) {
      const Index i0 = b0 * block, i1 = std::min(n, b1 * block);
      if (input != output) std::copy(input + i0, input + i1, output + i0);
      transform_chunks(output + i0, i1 - i0, [this](Chunk<T>& v) { self().apply(v); });
    });
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' activation layers support masking: the mask passes on unchanged.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  /// forward may write over its input.
  static constexpr bool in_place = true;
  /// Per-step form (Model::stream): the function on one step's values, element by element.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    return forward_step(self(), only_step_input(inputs, self().describe()));
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

/// A float option read from a Keras config, refused (model_error) when below `lo`.
template <class T>
double config_at_least(const LayerConfig<T>& config, const char* key, double fallback, double lo) {
  const double v = config.number(key, fallback);
  if (!(v >= lo)) config.invalid(concat("option '", key, "' must be >= ", lo, "; got ", v));
  return v;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// ReLU
// ---------------------------------------------------------------------------------------------

/// Options of ReLU, set by chaining: `ReLUOptions().max_value(6).negative_slope(0.1)`.
class ReLUOptions : public detail::Options<ReLUOptions> {
 public:
  /// Keras `max_value` (>= 0): the largest output; not set (Keras' None) means unbounded.
  ReLUOptions& max_value(double v) {
    max_value_ = v;
    has_max_value_ = true;
    return *this;
  }
  /// Keras `negative_slope` (>= 0, default 0): the slope below the threshold.
  ReLUOptions& negative_slope(double v) {
    negative_slope_ = v;
    return *this;
  }
  /// Keras `threshold` (>= 0, default 0): values at or below it are damped.
  ReLUOptions& threshold(double v) {
    threshold_ = v;
    return *this;
  }
  bool has_max_value() const { return has_max_value_; }
  double max_value() const { return max_value_; }
  double negative_slope() const { return negative_slope_; }
  double threshold() const { return threshold_; }

 private:
  double max_value_ = 0;
  bool has_max_value_ = false;
  double negative_slope_ = 0;
  double threshold_ = 0;
};

/// Keras `ReLU(max_value=None, negative_slope=0, threshold=0)`, element-wise:
/// y = (x > threshold ? x : 0) when threshold != 0, else max(x, 0); then clip(y, 0, max_value)
/// when max_value is set; then y - negative_slope * max(threshold - x, 0). So x for
/// threshold < x < max_value, max_value above, negative_slope * (x - threshold) below the threshold
/// (the order of operations of Keras 3's `activations.relu`, tf.keras 2's `backend.relu`). tfjs'
/// ReLU has max_value only. Any rank >= 1, shape unchanged; no weights; masks pass on.
template <class T>
class ReLU : public detail::ElementwiseLayer<ReLU<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::ReLU: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "ReLU";

  /// Throws value_error for a negative max_value, negative_slope or threshold (Keras raises too).
  explicit ReLU(const ReLUOptions& options = ReLUOptions())
      : has_max_(options.has_max_value()),
        max_value_(static_cast<T>(options.max_value())),
        negative_slope_(static_cast<T>(options.negative_slope())),
        threshold_(static_cast<T>(options.threshold())),
        name_(options.name()) {
    check(options.has_max_value() ? options.max_value() : 0.0, "max_value");
    check(options.negative_slope(), "negative_slope");
    check(options.threshold(), "threshold");
  }

  bool has_max_value() const { return has_max_; }
  T max_value() const { return max_value_; }
  T negative_slope() const { return negative_slope_; }
  T threshold() const { return threshold_; }
  const std::string& name() const { return name_; }

  /// The formula on one chunk.
  void apply(detail::Chunk<T>& v) const {
    detail::Chunk<T> y =
        threshold_ != T(0) ? (v > threshold_).select(v, detail::Chunk<T>::Zero()).eval() : v.max(T(0)).eval();
    if (has_max_) y = y.max(T(0)).min(max_value_);
    if (negative_slope_ != T(0)) y -= negative_slope_ * (threshold_ - v).max(T(0));
    v = y;
  }

  /// Keras config: max_value (null: none), negative_slope, threshold (tfjs writes max_value only).
  static ReLU from_config(const LayerConfig<T>& config) {
    ReLUOptions o;
    o.name(config.name());
    if (config.has("max_value")) o.max_value(detail::config_at_least(config, "max_value", 0.0, 0.0));
    o.negative_slope(detail::config_at_least(config, "negative_slope", 0.0, 0.0));
    o.threshold(detail::config_at_least(config, "threshold", 0.0, 0.0));
    return ReLU(o);
  }

 private:
  void check(double v, const char* what) const {
    if (!(v >= 0.0)) throw value_error(detail::concat(this->describe(), ": ", what, " must be >= 0; got ", v));
  }

  bool has_max_;
  T max_value_;
  T negative_slope_;
  T threshold_;
  std::string name_;
};

// ---------------------------------------------------------------------------------------------
// LeakyReLU
// ---------------------------------------------------------------------------------------------

/// Options of LeakyReLU: `LeakyReLUOptions().negative_slope(0.1)`.
class LeakyReLUOptions : public detail::Options<LeakyReLUOptions> {
 public:
  /// Keras 3 `negative_slope` (Keras 2 and tfjs: `alpha`), >= 0; default 0.3, the layer's default
  /// in Keras 1, 2, 3 and tfjs (the function keras.activations.leaky_relu defaults to 0.2).
  LeakyReLUOptions& negative_slope(double v) {
    negative_slope_ = v;
    return *this;
  }
  double negative_slope() const { return negative_slope_; }

 private:
  double negative_slope_ = 0.3;
};

/// Keras `LeakyReLU(negative_slope=0.3)`: y = x >= 0 ? x : negative_slope * x, element-wise.
/// Any rank >= 1, shape unchanged; no weights; masks pass on.
template <class T>
class LeakyReLU : public detail::ElementwiseLayer<LeakyReLU<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::LeakyReLU: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "LeakyReLU";

  /// Throws value_error for a negative slope (Keras raises too).
  explicit LeakyReLU(const LeakyReLUOptions& options = LeakyReLUOptions())
      : negative_slope_(static_cast<T>(options.negative_slope())), name_(options.name()) {
    if (!(options.negative_slope() >= 0.0)) {
      throw value_error(
          detail::concat(this->describe(), ": negative_slope must be >= 0; got ", options.negative_slope()));
    }
  }

  T negative_slope() const { return negative_slope_; }
  const std::string& name() const { return name_; }

  void apply(detail::Chunk<T>& v) const { v = (v >= T(0)).select(v, negative_slope_ * v); }

  /// Keras config: Keras 3 writes `negative_slope` (and, as Keras 3 does, takes a deprecated
  /// `alpha` over it); Keras 1/2 and tfjs write `alpha`. Default 0.3 in every version.
  static LeakyReLU from_config(const LayerConfig<T>& config) {
    const bool keras3 = config.keras_version().major >= 3 && !config.keras_version().tfjs;
    const char* key = !keras3 || config.has("alpha") ? "alpha" : "negative_slope";
    return LeakyReLU(
        LeakyReLUOptions().negative_slope(detail::config_at_least(config, key, 0.3, 0.0)).name(config.name()));
  }

 private:
  T negative_slope_;
  std::string name_;
};

// ---------------------------------------------------------------------------------------------
// ELU
// ---------------------------------------------------------------------------------------------

/// Options of ELU: `ELUOptions().alpha(0.5)`.
class ELUOptions : public detail::Options<ELUOptions> {
 public:
  /// Keras `alpha` (default 1): the scale of the negative part.
  ELUOptions& alpha(double v) {
    alpha_ = v;
    return *this;
  }
  double alpha() const { return alpha_; }

 private:
  double alpha_ = 1.0;
};

/// Keras `ELU(alpha=1.0)`: y = x > 0 ? x : alpha * (exp(x) - 1), element-wise (expm1, so small
/// negative x keep their precision). tfjs' ELU takes only alpha = 1. Any rank >= 1, shape
/// unchanged; no weights; masks pass on.
template <class T>
class ELU : public detail::ElementwiseLayer<ELU<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::ELU: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "ELU";

  /// Throws value_error for a non-finite alpha.
  explicit ELU(const ELUOptions& options = ELUOptions())
      : alpha_(static_cast<T>(options.alpha())), name_(options.name()) {
    if (!std::isfinite(options.alpha())) {
      throw value_error(detail::concat(this->describe(), ": alpha must be finite; got ", options.alpha()));
    }
  }

  T alpha() const { return alpha_; }
  const std::string& name() const { return name_; }

  void apply(detail::Chunk<T>& v) const { v = (v > T(0)).select(v, alpha_ * v.expm1()); }

  /// Keras config: alpha (default 1).
  static ELU from_config(const LayerConfig<T>& config) {
    const double alpha = config.number("alpha", 1.0);
    if (!std::isfinite(alpha)) config.invalid(detail::concat("option 'alpha' must be finite; got ", alpha));
    return ELU(ELUOptions().alpha(alpha).name(config.name()));
  }

 private:
  T alpha_;
  std::string name_;
};

// ---------------------------------------------------------------------------------------------
// ThresholdedReLU
// ---------------------------------------------------------------------------------------------

/// Options of ThresholdedReLU: `ThresholdedReLUOptions().theta(0.5)`.
class ThresholdedReLUOptions : public detail::Options<ThresholdedReLUOptions> {
 public:
  /// Keras `theta` (>= 0, default 1).
  ThresholdedReLUOptions& theta(double v) {
    theta_ = v;
    return *this;
  }
  double theta() const { return theta_; }

 private:
  double theta_ = 1.0;
};

/// Keras 2 `ThresholdedReLU(theta=1.0)`: y = x > theta ? x : 0, element-wise. Keras 3 removed the
/// layer (its ReLU(threshold=theta) computes the same values); strata still loads it from Keras 2
/// and tfjs files. Any rank >= 1, shape unchanged; no weights; masks pass on.
template <class T>
class ThresholdedReLU : public detail::ElementwiseLayer<ThresholdedReLU<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::ThresholdedReLU: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "ThresholdedReLU";

  /// Throws value_error for a negative theta (Keras raises too).
  explicit ThresholdedReLU(const ThresholdedReLUOptions& options = ThresholdedReLUOptions())
      : theta_(static_cast<T>(options.theta())), name_(options.name()) {
    if (!(options.theta() >= 0.0)) {
      throw value_error(detail::concat(this->describe(), ": theta must be >= 0; got ", options.theta()));
    }
  }

  T theta() const { return theta_; }
  const std::string& name() const { return name_; }

  void apply(detail::Chunk<T>& v) const { v = (v > theta_).select(v, detail::Chunk<T>::Zero()); }

  /// Keras config: theta (default 1).
  static ThresholdedReLU from_config(const LayerConfig<T>& config) {
    return ThresholdedReLU(
        ThresholdedReLUOptions().theta(detail::config_at_least(config, "theta", 1.0, 0.0)).name(config.name()));
  }

 private:
  T theta_;
  std::string name_;
};

// ---------------------------------------------------------------------------------------------
// PReLU
// ---------------------------------------------------------------------------------------------

/// Options of PReLU: `PReLUOptions().shared_axes({1, 2})`.
class PReLUOptions : public detail::Options<PReLUOptions> {
 public:
  /// Keras `shared_axes`: input axes (>= 1) along which one alpha is shared (alpha has size 1 there).
  PReLUOptions& shared_axes(std::vector<int> axes) {
    shared_axes_ = std::move(axes);
    return *this;
  }
  const std::vector<int>& shared_axes() const { return shared_axes_; }

 private:
  std::vector<int> shared_axes_;
};

/// Keras `PReLU(shared_axes=None)`: y = x >= 0 ? x : alpha * x with a learned alpha per position
/// (Keras computes relu(x) - alpha * relu(-x), the same values).
///
/// Weights, as Keras' get_weights(): [alpha], of the input's shape without the batch axis, with
/// size 1 on the shared axes (input (batch, 10, 8, 3) with shared_axes [1, 2]: alpha (1, 1, 3)).
/// The input must then have alpha's rank + 1 and alpha's size on every axis that is not shared.
/// The initial alpha is 0 (Keras' alpha_initializer "zeros"); alpha_initializer, _regularizer
/// and _constraint do not matter at inference and are ignored. Masks pass on.
template <class T>
class PReLU {
  static_assert(std::is_floating_point_v<T>, "strata::PReLU: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "PReLU";

  /// Throws value_error for a shared axis below 1 (axis 0 is the batch).
  explicit PReLU(const PReLUOptions& options = PReLUOptions())
      : shared_axes_(options.shared_axes()), name_(options.name()) {
    for (int a : shared_axes_) {
      if (a < 1) {
        throw value_error(detail::concat(describe(), ": shared_axes must be >= 1 (axis 0 is the batch); got ", a));
      }
    }
  }

  const std::vector<int>& shared_axes() const { return shared_axes_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  bool built() const { return !alpha_.empty(); }
  /// alpha, as Keras' weight; empty until built.
  const AnyTensor<T>& alpha() const { return alpha_; }

  /// The shape of alpha for an input shape: input[1:], 1 on the shared axes. Throws shape_error
  /// for rank < 2 or a shared axis beyond the input's last.
  Shape alpha_shape(const Shape& input) const {
    if (input.rank() < 2) {
      throw shape_error(
          detail::concat(describe(), ": input must have rank >= 2 (batch, ...); got shape ", input.to_string()));
    }
    Shape s;
    for (int i = 1; i < input.rank(); ++i) s.push_back(is_shared(i) ? 1 : input[i]);
    for (int a : shared_axes_) {
      if (a >= input.rank()) {
        throw shape_error(
            detail::concat(describe(), ": shared axis ", a, " does not exist in input shape ", input.to_string()));
      }
    }
    return s;
  }

  /// Keras build for a (batch, features) input: alpha (features,) = 0.
  void build(Index features) { build(Shape{1, features}); }
  /// Keras build for an input shape: alpha = 0, of alpha_shape(input).
  void build(const Shape& input) {
    const Shape s = alpha_shape(input);
    AnyTensor<T> a = AnyTensor<T>::from_values(s, std::vector<T>(static_cast<std::size_t>(s.size()), T(0)));
    alpha_ = std::move(a);
  }

  /// Keras get_weights(): [alpha].
  Weights<T> get_weights() const {
    require_built("get_weights");
    return {alpha_};
  }
  /// Keras set_weights([alpha]): any rank >= 1 when unbuilt (it fixes the input's shape), else
  /// alpha's current shape; size 1 on every shared axis. Throws shape_error otherwise.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, 1, describe(), "alpha");
    const AnyTensor<T>& a = weights[0];
    if (a.empty() || a.shape().rank() < 1) {
      throw shape_error(detail::concat(describe(), ": weight 0 (alpha) must have rank >= 1; got ",
                                       a.empty() ? std::string("an empty tensor") : a.shape().to_string()));
    }
    if (built() && a.shape() != alpha_.shape()) {
      throw shape_error(detail::concat(describe(), ": weight 0 (alpha) must have shape ", alpha_.shape().to_string(),
                                       "; got ", a.shape().to_string()));
    }
    for (int axis : shared_axes_) {
      if (axis > a.shape().rank() || a.shape()[axis - 1] != 1) {
        throw shape_error(detail::concat(describe(), ": weight 0 (alpha) must have size 1 on shared axis ", axis,
                                         " (its axis ", axis - 1, "); got shape ", a.shape().to_string()));
      }
    }
    alpha_ = a;
  }
  Index count_params() const {
    require_built("count_params");
    return alpha_.size();
  }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  /// Rank of the output: the input's (the input must have alpha's rank + 1).
  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }

  /// The input shape; throws shape_error when it does not match alpha (value_error when unbuilt).
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    const Shape& a = alpha_.shape();
    bool ok = input.rank() == a.rank() + 1;
    for (int i = 1; ok && i < input.rank(); ++i) ok = input[i] == a[i - 1] || (a[i - 1] == 1 && is_shared(i));
    if (!ok) {
      throw shape_error(detail::concat(describe(), ": input must have shape (batch, ", dims_text(a),
                                       ") (alpha's shape ", a.to_string(), ", any size on shared axes); got shape ",
                                       input.to_string()));
    }
    (void)input.size();
    return input;
  }

  /// Low-level call on raw row-major memory; output may be input itself.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    const Index batch = input_shape[0];
    const Index per_sample = batch == 0 ? 0 : output_size / batch;
    // alpha at every position of a sample: alpha itself, or alpha broadcast over the shared axes.
    std::vector<T> expanded;
    const T* alpha = alpha_.data();
    if (alpha_.size() != per_sample) {
      expanded = broadcast_alpha(input_shape);
      alpha = expanded.data();
    }
    detail::parallel_rows(batch, detail::rows_worth_a_thread(4.0 * static_cast<double>(per_sample)), 1,
                          [&](Index r0, Index r1) {
                            detail::Chunk<T> v, a;
                            for (Index r = r0; r < r1; ++r) {
                              const T* x = input + r * per_sample;
                              T* y = output + r * per_sample;
                              for (Index j = 0; j < per_sample; j += detail::chunk_size<T>) {
                                const Index count = std::min<Index>(detail::chunk_size<T>, per_sample - j);
                                detail::load_chunk(v, x + j, count);
                                detail::load_chunk(a, alpha + j, count);
                                v = (v >= T(0)).select(v, a * v);
                                detail::store_chunk(v, y + j, count);
                              }
                            }
                          });
  }

  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(X::NumIndices >= 2, "strata::PReLU: the input must have rank 2 or more (batch, ...).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  // --- Keras description (docs/design.md, "Adding a layer")
  static constexpr MaskRule mask_rule = MaskRule::pass;
  static constexpr bool in_place = true;
  /// Keras config: shared_axes (null, an int or a list); the alpha_* options are ignored.
  static PReLU from_config(const LayerConfig<T>& config) {
    std::vector<int> axes;
    if (config.has("shared_axes")) {
      const Config& v = config.get("shared_axes");
      if (v.is_list()) {
        for (Index a : config.integers("shared_axes")) axes.push_back(static_cast<int>(a));
      } else {
        axes.push_back(static_cast<int>(config.integer("shared_axes", -(Index(1) << 30), Index(1) << 30)));
      }
    }
    for (int a : axes) {
      if (a < 1) config.invalid(detail::concat("shared_axes must be >= 1 (axis 0 is the batch); got ", a));
    }
    return PReLU(PReLUOptions().shared_axes(axes).name(config.name()));
  }
  std::size_t weight_count() const { return 1; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    return {WeightGroup{"", {{"alpha", alpha_shape(detail::only_input(inputs, describe())), ""}}}};
  }

 private:
  bool is_shared(int axis) const {
    return std::find(shared_axes_.begin(), shared_axes_.end(), axis) != shared_axes_.end();
  }
  void require_built(const char* what) const {
    if (!built()) {
      throw value_error(detail::concat(describe(), ": ", what,
                                       " needs the layer's weights: call build(input_shape) or set_weights first"));
    }
  }
  static std::string dims_text(const Shape& s) {
    std::string t = s.to_string();
    return t.size() >= 2 ? t.substr(1, t.size() - 2) : t;
  }
  // alpha repeated along the shared axes to one sample's shape (input_shape without the batch).
  std::vector<T> broadcast_alpha(const Shape& input_shape) const {
    const Shape& a = alpha_.shape();
    const int r = a.rank();
    Index n = 1;
    for (int i = 1; i <= r; ++i) n *= input_shape[i];
    std::vector<T> out(static_cast<std::size_t>(n));
    std::vector<Index> idx(static_cast<std::size_t>(r), 0);
    for (Index p = 0; p < n; ++p) {
      Index src = 0;
      for (int i = 0; i < r; ++i) src = src * a[i] + (a[i] == 1 ? 0 : idx[static_cast<std::size_t>(i)]);
      out[static_cast<std::size_t>(p)] = alpha_.data()[src];
      for (int i = r - 1; i >= 0; --i) {
        if (++idx[static_cast<std::size_t>(i)] < input_shape[i + 1]) break;
        idx[static_cast<std::size_t>(i)] = 0;
      }
    }
    return out;
  }

  std::vector<int> shared_axes_;
  std::string name_;
  AnyTensor<T> alpha_;
};

// ---------------------------------------------------------------------------------------------
// Softmax
// ---------------------------------------------------------------------------------------------

/// How Softmax treats masked positions; Keras changed it twice (keras/src/layers/activations/softmax.py).
enum class SoftmaxMasking {
  /// Keras >= 3.13: masked inputs replaced by -1e9, masked outputs set to 0.
  replace_and_zero,
  /// Keras 3.10 - 3.12: -1e9 added to masked inputs, masked outputs set to 0.
  add_and_zero,
  /// Keras 2, Keras 3.0 - 3.9 and tfjs: -1e9 added to masked inputs, outputs left as they are (a
  /// fully masked group gets the softmax of its shifted values, not 0).
  add,
};

/// Options of Softmax: `SoftmaxOptions().axis({1, 2})`.
class SoftmaxOptions : public detail::Options<SoftmaxOptions> {
 public:
  /// Keras `axis`: an axis (default -1) or, Keras 3 / tfjs, several; negative counts from the end.
  SoftmaxOptions& axis(int a) {
    axes_ = {a};
    return *this;
  }
  SoftmaxOptions& axis(std::vector<int> axes) {
    axes_ = std::move(axes);
    return *this;
  }
  /// The mask rule of the Keras version that wrote the model (default: Keras >= 3.13's).
  SoftmaxOptions& masking(SoftmaxMasking m) {
    masking_ = m;
    return *this;
  }
  const std::vector<int>& axis() const { return axes_; }
  SoftmaxMasking masking() const { return masking_; }

 private:
  std::vector<int> axes_{-1};
  SoftmaxMasking masking_ = SoftmaxMasking::replace_and_zero;
};

/// Keras `Softmax(axis=-1)`: exp(x - max) / sum exp(x - max) over the axis or axes, each group of
/// values on its own (several axes: Keras' exp(x - logsumexp(x)), the same function).
///
/// The batch axis can never be one of them (strata never mixes samples): axis 0, or a negative
/// axis that reaches it, is a shape_error. With a mask (Keras `softmax(x, mask=m)`, or the mask
/// a model graph carries), masked positions are left out: their input becomes -1e9 (see
/// SoftmaxMasking for the version differences) and, from Keras 3.10, their output is 0. Keras
/// broadcasts the mask against the input aligned on the last axes, so strata's (d0, d1) mask
/// applies to the input's last two axes; each mask size must be 1 or the input's size there,
/// else shape_error (Keras 3.14+ raises the same; older versions fail to broadcast). A
/// (batch, time) mask from Masking or Embedding on a (batch, time, features) input therefore
/// fails unless batch is 1 or time and time is 1 or features, where Keras reads it along those
/// axes anyway. No weights; the mask passes on.
template <class T>
class Softmax : public detail::WeightlessLayer<Softmax<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Softmax: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "Softmax";

  /// Throws value_error for an empty axis list or axis 0 (the batch).
  explicit Softmax(const SoftmaxOptions& options = SoftmaxOptions())
      : axes_(options.axis()), masking_(options.masking()), name_(options.name()) {
    if (axes_.empty()) throw value_error(detail::concat(this->describe(), ": axis must name at least one axis"));
    for (int a : axes_) {
      if (a == 0) {
        throw value_error(
            detail::concat(this->describe(), ": axis 0 is the batch axis; softmax over it would mix samples"));
      }
    }
  }

  const std::vector<int>& axis() const { return axes_; }
  SoftmaxMasking masking() const { return masking_; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 2 ? input_rank : invalid_rank; }

  /// The input shape; throws shape_error when an axis is out of range or reaches the batch axis.
  Shape compute_output_shape(const Shape& input) const {
    (void)resolve(input);
    (void)input.size();
    return input;
  }

  /// Low-level call without a mask; output may be input itself.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    forward(input, input_shape, output, output_size, nullptr);
  }
  /// Low-level call with a mask (null: none) of shape (m0, m1), aligned with the input's last two axes.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size, const Mask* mask) const {
    const std::vector<int> axes = resolve(input_shape);
    detail::check_output_size(*this, input_shape, output_size);
    if (mask != nullptr) check_mask(*mask, input_shape);
    const int rank = input_shape.rank();
    if (mask == nullptr && axes.size() == 1 && axes[0] == rank - 1) {
      const Index cols = input_shape.back();
      const Index rows = cols == 0 ? 0 : output_size / cols;
      detail::parallel_rows(rows, detail::rows_worth_a_thread(20.0 * static_cast<double>(std::max<Index>(cols, 1))), 1,
                            [&](Index r0, Index r1) {
                              if (input != output) std::copy(input + r0 * cols, input + r1 * cols, output + r0 * cols);
                              apply_activation(Activation::softmax, output + r0 * cols, r1 - r0, cols);
                            });
      return;
    }
    grouped(input, input_shape, axes, output, output_size, mask);
  }

  /// Keras `softmax(x)` on a Tensor or TensorMap of rank >= 2.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(X::NumIndices >= 2, "strata::Softmax: the input must have rank 2 or more (batch, ...).");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }
  /// Keras `softmax(x, mask=mask)` on a tensor of any rank >= 2.
  AnyTensor<T> operator()(const TensorView<T>& x, const Mask& mask) const {
    if (x.empty()) throw shape_error(detail::concat(this->describe(), ": the input tensor is empty"));
    AnyTensor<T> y = AnyTensor<T>::uninitialized(compute_output_shape(x.shape()));
    forward(x.data(), x.shape(), y.data(), y.size(), &mask);
    return y;
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: axis (an int or a list; default -1; tfjs writes its default 1). The mask rule
  /// follows the file's Keras version.
  static Softmax from_config(const LayerConfig<T>& config) {
    SoftmaxOptions o;
    o.name(config.name());
    if (config.has("axis")) {
      const Config& v = config.get("axis");
      std::vector<int> axes;
      if (v.is_list()) {
        for (Index a : config.integers("axis")) axes.push_back(static_cast<int>(a));
      } else {
        axes.push_back(static_cast<int>(config.integer("axis", -64, 64)));
      }
      if (axes.empty()) config.invalid("option 'axis' must name at least one axis; got []");
      for (int a : axes) {
        if (a == 0) config.invalid("option 'axis' 0 is the batch axis; softmax over it would mix samples");
      }
      o.axis(axes);
    }
    o.masking(masking_for(config.keras_version()));
    return Softmax(o);
  }
  /// The mask rule of a Keras version.
  static SoftmaxMasking masking_for(const KerasVersion& v) {
    if (v.tfjs || v.major < 3 || v.minor < 10) return SoftmaxMasking::add;
    return v.minor < 13 ? SoftmaxMasking::add_and_zero : SoftmaxMasking::replace_and_zero;
  }
  /// Per-step form (Model::stream), for a softmax over the last axis only: softmax on one step's
  /// rows, bitwise the sequence call's. Refuses (value_error) an axis that is the time axis, and
  /// other axes.
  LayerStep<T> make_step(const std::vector<StepShape>& inputs) const {
    const StepShape& in = detail::only_step_input(inputs, this->describe());
    const int step_rank = in.shape.rank();
    const int rank = step_rank + (in.timed ? 1 : 0);  // the sequence call's rank
    for (int a : axes_) {
      const int p = a < 0 ? a + rank : a;
      if (in.timed && p == 1) {
        throw value_error(detail::concat(this->describe(), ": axis ", a,
                                         " is the time axis here; a softmax over it mixes the steps"));
      }
      if (p != rank - 1 || step_rank < 2) {
        throw value_error(detail::concat(this->describe(), ": axis ", a, " of a ", step_shape_string(in),
                                         " input; strata streams a softmax over the last axis only"));
      }
    }
    const Index cols = in.shape.back();
    return LayerStep<T>(
        LastAxisStep{std::vector<T, Eigen::aligned_allocator<T>>(static_cast<std::size_t>(in.shape.size())), cols},
        {in});
  }
  /// Keras' Softmax supports masking: the mask is used and passed on.
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    (void)detail::only_input(inputs, this->describe());
    return {masks.empty() ? 0 : masks[0]};
  }
  /// In a model graph: the output, using and passing on the input's mask.
  void call_graph(GraphCall<T>& call) const {
    if (call.inputs.size() != 1) {
      throw value_error(detail::concat(this->describe(), ": takes one input; it is given ", call.inputs.size()));
    }
    const GraphInput<T>& in = call.inputs[0];
    if (in.tensor.empty()) throw shape_error(detail::concat(this->describe(), ": the input tensor is empty"));
    const Shape shape = in.tensor.shape();
    (void)compute_output_shape(shape);
    if (in.owned != nullptr) {
      forward(in.owned->data(), shape, in.owned->data(), in.owned->size(), in.mask.get());
      call.outputs.push_back(std::move(*in.owned));
    } else {
      AnyTensor<T> y = AnyTensor<T>::uninitialized(shape);
      forward(in.tensor.data(), shape, y.data(), y.size(), in.mask.get());
      call.outputs.push_back(std::move(y));
    }
    call.masks.push_back(in.mask);
  }

 private:
  // forward's path for the last axis without a mask, on one step.
  struct LastAxisStep {
    std::vector<T, Eigen::aligned_allocator<T>> out;
    Index cols;
    void step(const T* const* inputs, const T** outputs) {
      const Index n = static_cast<Index>(out.size());
      std::copy(inputs[0], inputs[0] + n, out.data());
      if (n > 0) apply_activation(Activation::softmax, out.data(), n / cols, cols);
      outputs[0] = out.data();
    }
  };

  // The axes as positive, sorted, distinct numbers in [1, rank).
  std::vector<int> resolve(const Shape& input) const {
    const int rank = input.rank();
    if (rank < 2) {
      throw shape_error(detail::concat(this->describe(), ": input must have rank >= 2 (batch, ...); got shape ",
                                       input.to_string(), " (over the batch axis softmax would mix samples)"));
    }
    std::vector<int> out;
    for (int a : axes_) {
      const int p = a < 0 ? a + rank : a;
      if (p < 1 || p >= rank) {
        throw shape_error(detail::concat(this->describe(), ": axis ", a, " is ",
                                         p == 0 ? "the batch axis" : "out of range", " for input shape ",
                                         input.to_string(), p == 0 ? " (softmax over it would mix samples)" : ""));
      }
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  void check_mask(const Mask& mask, const Shape& input) const {
    const int r = input.rank();
    const Index m0 = mask.dimension(0), m1 = mask.dimension(1);
    if ((m0 != 1 && m0 != input[r - 2]) || (m1 != 1 && m1 != input[r - 1])) {
      throw shape_error(detail::concat(
          this->describe(), ": a mask of shape (", m0, ", ", m1, ") does not broadcast to input shape ",
          input.to_string(),
          " (Keras aligns the mask with the input's last axes; each mask size must be 1 or the input's size there)"));
    }
  }

  // Softmax over every group of positions that differ only along `axes`: each group is gathered
  // into a contiguous row (masked positions set), normalised, and scattered back.
  void grouped(const T* input, const Shape& s, const std::vector<int>& axes, T* output, Index size,
               const Mask* mask) const {
    const int rank = s.rank();
    std::vector<Index> stride(static_cast<std::size_t>(rank), 1);
    for (int i = rank - 2; i >= 0; --i)
      stride[static_cast<std::size_t>(i)] = stride[static_cast<std::size_t>(i + 1)] * s[i + 1];
    const auto offsets = [&](bool reduced) {
      std::vector<Index> offs{0};
      for (int i = 0; i < rank; ++i) {
        const bool in_axes = std::find(axes.begin(), axes.end(), i) != axes.end();
        if (in_axes != reduced) continue;
        std::vector<Index> next;
        next.reserve(offs.size() * static_cast<std::size_t>(s[i]));
        for (Index base : offs) {
          for (Index k = 0; k < s[i]; ++k) next.push_back(base + k * stride[static_cast<std::size_t>(i)]);
        }
        offs = std::move(next);
      }
      return offs;
    };
    if (size == 0) return;
    const std::vector<Index> within = offsets(true);   // the positions of one group, in row-major order
    const std::vector<Index> groups = offsets(false);  // the first position of every group
    const Index n = static_cast<Index>(within.size());
    const Index d1 = s[rank - 1], d2 = s[rank - 2];
    const auto kept = [&](Index p) {
      const Index j = mask->dimension(1) == 1 ? 0 : p % d1;
      const Index i = mask->dimension(0) == 1 ? 0 : (p / d1) % d2;
      return (*mask)(i, j);
    };
    const bool zero = masking_ != SoftmaxMasking::add;
    const T large_negative = T(-1e9);
    detail::parallel_rows(
        static_cast<Index>(groups.size()), detail::rows_worth_a_thread(24.0 * static_cast<double>(n)), 1,
        [&](Index g0, Index g1) {
          std::vector<T> row(static_cast<std::size_t>(n));
          for (Index g = g0; g < g1; ++g) {
            const Index base = groups[static_cast<std::size_t>(g)];
            for (Index k = 0; k < n; ++k) {
              const Index p = base + within[static_cast<std::size_t>(k)];
              T v = input[p];
              if (mask != nullptr && !kept(p)) {
                v = masking_ == SoftmaxMasking::replace_and_zero ? large_negative : v + large_negative;
              }
              row[static_cast<std::size_t>(k)] = v;
            }
            detail::softmax_row(row.data(), n, false);
            for (Index k = 0; k < n; ++k) {
              const Index p = base + within[static_cast<std::size_t>(k)];
              output[p] = mask != nullptr && zero && !kept(p) ? T(0) : row[static_cast<std::size_t>(k)];
            }
          }
        });
  }

  std::vector<int> axes_;
  SoftmaxMasking masking_;
  std::string name_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(ReLU)
STRATA_REGISTER_LAYER(LeakyReLU)
STRATA_REGISTER_LAYER(PReLU)
STRATA_REGISTER_LAYER(ELU)
STRATA_REGISTER_LAYER(Softmax)
STRATA_REGISTER_LAYER(ThresholdedReLU)

#endif  // STRATA_LAYERS_ACTIVATION_LAYERS_HPP
