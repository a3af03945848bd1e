// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_PREPROCESSING_HPP
#define STRATA_LAYERS_PREPROCESSING_HPP

// Keras' numeric preprocessing layers (keras/src/layers/preprocessing/): Rescaling, Normalization
// and CategoryEncoding. The string and vocabulary ones (StringLookup, TextVectorization, ...) work
// on strings, which strata's tensors do not hold; see docs/loading-models.md.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {

/// A number or nested list of numbers from a Keras config (a Python scalar, list, or numpy array
/// serialised as {"class_name": "__numpy__", "config": {"value": ...}}; "__tensor__" likewise), as a
/// flat row-major list and its shape (rank 0 for a scalar).
struct ConfigArray {
  std::vector<double> values;
  Shape shape;
};

inline void config_array_fill(const Config& v, int depth, ConfigArray& out, std::vector<Index>& dims, bool& ok) {
  if (!ok) return;
  if (v.is_number()) {
    if (depth != static_cast<int>(dims.size()) && !(dims.empty() && depth == 0)) {
      ok = false;
      return;
    }
    out.values.push_back(v.as_number());
    return;
  }
  if (!v.is_list() || depth >= max_rank) {
    ok = false;
    return;
  }
  const auto& list = v.as_list();
  const auto size = static_cast<Index>(list.size());
  if (static_cast<int>(dims.size()) == depth) {
    if (!out.values.empty()) {  // a list where an earlier branch had a number: ragged
      ok = false;
      return;
    }
    dims.push_back(size);
  } else if (dims[static_cast<std::size_t>(depth)] != size) {
    ok = false;
    return;
  }
  for (const Config& e : list) config_array_fill(e, depth + 1, out, dims, ok);
}

/// Reads config_array values; throws io_error (through `config`) for anything but a number or a
/// rectangular nested list of numbers.
template <class T>
ConfigArray config_array(const LayerConfig<T>& config, const char* key) {
  const Config* v = &config.get(key);
  if (v->is_dict()) {
    const Config* cls = v->find("class_name");
    const Config* cfg = v->find("config");
    if (cls != nullptr && cls->is_string() && (cls->as_string() == "__numpy__" || cls->as_string() == "__tensor__") &&
        cfg != nullptr && cfg->find("value") != nullptr) {
      v = cfg->find("value");
    }
  }
  ConfigArray out;
  std::vector<Index> dims;
  bool ok = true;
  config_array_fill(*v, 0, out, dims, ok);
  Index count = 1;
  for (Index d : dims) count *= d;
  if (!ok || static_cast<Index>(out.values.size()) != count) {
    throw io_error(detail::concat(config.who(), ": option '", key,
                                  "' must be a number or a rectangular list of numbers; got ",
                                  v->dump().substr(0, 200)));
  }
  for (Index d : dims) out.shape.push_back(d);
  return out;
}

/// The per-element offsets into an array of shape `small`, broadcast (numpy's rule, right-aligned)
/// to `big`: stride 0 on broadcast axes. Returns false when it does not broadcast without growing
/// `big`.
inline bool broadcast_strides(const Shape& small, const Shape& big, Index* strides) {
  if (small.rank() > big.rank()) return false;
  const int lead = big.rank() - small.rank();
  Index stride = 1;
  for (int a = big.rank() - 1; a >= 0; --a) {
    const Index d = a >= lead ? small[a - lead] : 1;
    if (d != 1 && d != big[a]) return false;
    strides[a] = d == 1 ? 0 : stride;
    stride *= d;
  }
  return true;
}

/// Calls f(out_index, a_index, b_index) for every element of `shape` in row-major order, with the
/// matching element offsets of two arrays broadcast to it (strides from broadcast_strides).
template <class F>
void for_each_broadcast(const Shape& shape, const Index* a_strides, const Index* b_strides, F&& f) {
  const Index total = shape.size();
  if (total == 0) return;
  const int rank = shape.rank();
  const Index inner = shape[rank - 1];
  const Index ai = a_strides[rank - 1];
  const Index bi = b_strides[rank - 1];
  Index counter[max_rank] = {};
  Index a = 0;
  Index b = 0;
  for (Index o = 0; o < total; o += inner) {
    for (Index j = 0; j < inner; ++j) f(o + j, a + j * ai, b + j * bi);
    for (int k = rank - 2; k >= 0; --k) {
      a += a_strides[k];
      b += b_strides[k];
      if (++counter[k] < shape[k]) break;
      a -= a_strides[k] * shape[k];
      b -= b_strides[k] * shape[k];
      counter[k] = 0;
    }
  }
}

inline std::string shape_or_scalar(const Shape& s) {
  return s.rank() == 0 ? std::string("() (a scalar)") : s.to_string();
}

}  // namespace detail

// ------------------------------------------------------------------------------------------------
// Rescaling

/// Options of Rescaling, set by chaining: `RescalingOptions().offset(-1.0).name("to_unit")`.
class RescalingOptions : public detail::Options<RescalingOptions> {};

/// Keras `Rescaling(scale, offset=0.0)`: y = x * scale + offset, any rank >= 1.
///
/// scale and offset are scalars or arrays that broadcast to the input as numpy does (aligned on the
/// last axes: a (C,) array scales the channels of (batch, H, W, C)); an array that would make the
/// output larger than the input is a shape_error (Keras declares the output shape to be the input
/// shape). Computed in T as Keras does in the compute dtype: the product rounded, then the sum.
/// Keras' channels_first reshape of an array scale follows the global image_data_format, which a
/// saved model does not record: strata always broadcasts on the last axes. The mask passes on.
/// No weights and no state.
template <class T>
class Rescaling : public detail::WeightlessLayer<Rescaling<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::Rescaling: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "Rescaling";

  /// Scalar scale and offset.
  explicit Rescaling(T scale, T offset = T(0), const RescalingOptions& options = RescalingOptions())
      : Rescaling(std::vector<T>{scale}, Shape{}, std::vector<T>{offset}, Shape{}, options) {}

  /// Array scale and offset: row-major values and their shape (Shape{} for a scalar). Throws
  /// value_error when a shape does not match its number of values.
  Rescaling(std::vector<T> scale, Shape scale_shape, std::vector<T> offset, Shape offset_shape,
            const RescalingOptions& options = RescalingOptions())
      : scale_(std::move(scale)),
        offset_(std::move(offset)),
        scale_shape_(std::move(scale_shape)),
        offset_shape_(std::move(offset_shape)),
        name_(options.name()) {
    check_values("scale", scale_, scale_shape_);
    check_values("offset", offset_, offset_shape_);
  }

  /// Keras `scale` and `offset`: row-major values and shapes (Shape{} for a scalar).
  const std::vector<T>& scale() const { return scale_; }
  const Shape& scale_shape() const { return scale_shape_; }
  const std::vector<T>& offset() const { return offset_; }
  const Shape& offset_shape() const { return offset_shape_; }
  const std::string& name() const { return name_; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? input_rank : invalid_rank; }

  /// The input shape; shape_error for rank 0 or when scale or offset does not broadcast to it.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          detail::concat(this->describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    (void)input.size();
    Index strides[max_rank];
    check_broadcast("scale", scale_shape_, input, strides);
    check_broadcast("offset", offset_shape_, input, strides);
    return input;
  }

  /// Low-level call: x * scale + offset element-wise (output may equal input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    if (scale_.size() == 1 && offset_.size() == 1) {
      const T s = scale_[0];
      const T o = offset_[0];
      for (Index i = 0; i < output_size; ++i) output[i] = rescale(input[i], s, o);
      return;
    }
    Index s_strides[max_rank];
    Index o_strides[max_rank];
    detail::broadcast_strides(scale_shape_, input_shape, s_strides);
    detail::broadcast_strides(offset_shape_, input_shape, o_strides);
    const T* s = scale_.data();
    const T* o = offset_.data();
    detail::for_each_broadcast(input_shape, s_strides, o_strides,
                               [&](Index i, Index si, Index oi) { output[i] = rescale(input[i], s[si], o[oi]); });
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' Rescaling supports masking: the mask passes on.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  static constexpr bool in_place = true;
  /// Keras config: scale, offset (default 0): numbers, lists, or serialised numpy arrays.
  static Rescaling from_config(const LayerConfig<T>& config) {
    const detail::ConfigArray scale = detail::config_array(config, "scale");
    detail::ConfigArray offset{{0.0}, Shape{}};
    if (config.has("offset")) offset = detail::config_array(config, "offset");
    return Rescaling(cast(scale.values), scale.shape, cast(offset.values), offset.shape,
                     RescalingOptions().name(config.name()));
  }

 private:
  // Two roundings, as Keras' `inputs * scale + offset` in the compute dtype: TensorFlow and tfjs run
  // a multiply op and an add op, each rounded to float32. The product must not be fused into the
  // sum: g++ contracts p + o with p = x * s into one FMA even across statements
  // (-ffp-contract=fast, its default in GNU mode) once the target has FMA (-mfma, -march=native,
  // aarch64), and so does clang with -ffp-contract=fast; the fused result can differ by an ulp of
  // the product, which near x * scale = -offset is most of the result. The empty asm claims to
  // change p, so the compiler cannot see that the sum's operand is a product; it emits nothing and
  // keeps p in a register. Other compilers: a volatile copy, which the C++ standard requires to hold
  // the rounded value.
  static T rescale(T x, T s, T o) {
#if defined(__GNUC__) && (defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__)))
    T p = x * s;
    __asm__("" : "+x"(p));
#elif defined(__GNUC__) && defined(__aarch64__)
    T p = x * s;
    __asm__("" : "+w"(p));
#else
    const volatile T p = x * s;
#endif
    return p + o;
  }

  static std::vector<T> cast(const std::vector<double>& v) {
    std::vector<T> out;
    out.reserve(v.size());
    for (double d : v) out.push_back(static_cast<T>(d));
    return out;
  }

  void check_values(const char* what, const std::vector<T>& values, const Shape& shape) const {
    if (shape.rank() > max_rank || static_cast<Index>(values.size()) != shape.size()) {
      throw value_error(detail::concat(this->describe(), ": ", what, " has ", values.size(), " values but shape ",
                                       detail::shape_or_scalar(shape)));
    }
  }

  void check_broadcast(const char* what, const Shape& shape, const Shape& input, Index* strides) const {
    if (!detail::broadcast_strides(shape, input, strides)) {
      throw shape_error(detail::concat(this->describe(), ": ", what, " of shape ", detail::shape_or_scalar(shape),
                                       " does not broadcast to the input shape ", input.to_string(),
                                       " (each of its axes, aligned on the last, must be 1 or the input's size)"));
    }
  }

  std::vector<T> scale_;
  std::vector<T> offset_;
  Shape scale_shape_;
  Shape offset_shape_;
  std::string name_;
};

// ------------------------------------------------------------------------------------------------
// Normalization

/// Options of Normalization, set by chaining:
/// `NormalizationOptions().axis({-1}).mean({0.5}, Shape{}).variance({4.0}, Shape{})`.
class NormalizationOptions : public detail::Options<NormalizationOptions> {
 public:
  /// Keras `axis`: the axes that keep a mean and variance of their own (default {-1}); an empty
  /// list is Keras' axis=None (one mean and variance for all values).
  NormalizationOptions& axis(std::vector<int> axes) {
    axis_ = std::move(axes);
    return *this;
  }
  /// Keras `mean` and `variance` given to the constructor (row-major values and their shape,
  /// Shape{} for a scalar): the layer then has no weights. Without them the layer holds the
  /// weights mean, variance and count that Keras' adapt() sets.
  NormalizationOptions& mean(std::vector<double> values, Shape shape = Shape{}) {
    mean_ = {std::move(values), std::move(shape)};
    has_mean_ = true;
    return *this;
  }
  NormalizationOptions& variance(std::vector<double> values, Shape shape = Shape{}) {
    variance_ = {std::move(values), std::move(shape)};
    has_variance_ = true;
    return *this;
  }
  /// Keras `invert`: y = mean + x * max(sqrt(variance), epsilon), undoing the normalisation.
  NormalizationOptions& invert(bool on) {
    invert_ = on;
    return *this;
  }

  const std::vector<int>& axis() const { return axis_; }
  bool has_mean() const { return has_mean_; }
  bool has_variance() const { return has_variance_; }
  const detail::ConfigArray& mean() const { return mean_; }
  const detail::ConfigArray& variance() const { return variance_; }
  bool invert() const { return invert_; }

 private:
  std::vector<int> axis_{-1};
  detail::ConfigArray mean_;
  detail::ConfigArray variance_;
  bool has_mean_ = false;
  bool has_variance_ = false;
  bool invert_ = false;
};

/// Keras `Normalization(axis=-1, mean=None, variance=None, invert=False)`, the preprocessing layer:
/// y = (x - mean) / max(sqrt(variance), 1e-7), or with invert y = mean + x * max(sqrt(variance),
/// 1e-7), computed in T in that order (Keras' backend epsilon is 1e-7).
///
/// `axis` names the axes that keep their own statistics (negative values count from the end); the
/// statistics have the shape of the input along those axes, in axis order ("kept shape"), and are
/// broadcast over the others. They come either
/// - from the config (Keras 3's `mean=`, `variance=`): a scalar, or an array aligned on the kept
///   axes from the right, each axis 1 or the kept size (Keras >= 3.14's rule; it equals numpy's
///   broadcasting whenever the kept axes are the last ones). The layer has no weights; or
/// - from adapt(): weights `mean` (kept shape), `variance` (kept shape), `count` (Keras: an int64
///   scalar, unused at inference), in that order. strata holds Keras' scalar weights as shape (1,):
///   with axis=None mean and variance are (1,) too.
/// The input rank is free as long as the axes exist, and the kept sizes must match the weights'.
/// The mask passes on. No state.
template <class T>
class Normalization {
  static_assert(std::is_floating_point_v<T>, "strata::Normalization: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "Normalization";
  /// Keras' backend epsilon, the floor of the standard deviation.
  static constexpr double epsilon = 1e-7;

  /// Throws value_error for mean without variance (or the reverse), shapes that differ, a mean
  /// of more axes than `axis` has, or repeated axes.
  explicit Normalization(const NormalizationOptions& options = NormalizationOptions())
      : axis_(options.axis()), invert_(options.invert()), name_(options.name()) {
    for (std::size_t i = 0; i < axis_.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (axis_[i] == axis_[j]) {
          throw value_error(detail::concat(describe(), ": axis ", axis_string(), " repeats axis ", axis_[i]));
        }
      }
    }
    if (options.has_mean() != options.has_variance()) {
      throw value_error(detail::concat(describe(), ": mean and variance must be given together; got only the ",
                                       options.has_mean() ? "mean" : "variance"));
    }
    if (options.has_mean()) {
      const auto& m = options.mean();
      const auto& v = options.variance();
      if (m.shape != v.shape) {
        throw value_error(detail::concat(describe(), ": mean and variance must have the same shape; got ",
                                         detail::shape_or_scalar(m.shape), " and ", detail::shape_or_scalar(v.shape)));
      }
      if (static_cast<Index>(m.values.size()) != m.shape.size() || m.values.size() != v.values.size()) {
        throw value_error(detail::concat(describe(), ": mean has ", m.values.size(), " values for shape ",
                                         detail::shape_or_scalar(m.shape), ", variance ", v.values.size()));
      }
      if (m.shape.rank() > static_cast<int>(axis_.size())) {
        throw value_error(detail::concat(describe(), ": mean of shape ", detail::shape_or_scalar(m.shape),
                                         " has more axes than axis ", axis_string(), " keeps"));
      }
      from_config_ = true;
      given_shape_ = m.shape;
      given_mean_ = m.values;
      given_variance_ = v.values;
    }
  }

  const std::vector<int>& axis() const { return axis_; }
  bool invert() const { return invert_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  /// True when mean and variance came with the options (the layer then has no weights) or were set.
  bool built() const { return from_config_ || weights_set_; }
  bool carries_state() const { return false; }
  int output_count() const { return 1; }
  /// Keras count_params(): mean, variance and count are non-trainable weights but count as params.
  Index count_params() const { return weights_set_ ? 2 * static_cast<Index>(mean_.size()) + 1 : 0; }

  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? input_rank : invalid_rank; }

  /// The input shape; shape_error when an axis is out of range, or a kept size differs from the
  /// weights' (or the config mean does not broadcast to it). value_error before weights are set.
  Shape compute_output_shape(const Shape& input) const {
    if (input.rank() < 1) {
      throw shape_error(
          detail::concat(describe(), ": input must have rank >= 1 (batch, ...); got shape ", input.to_string()));
    }
    (void)input.size();
    Shape kept = kept_shape(input);
    if (from_config_) {
      check_given(kept, input);
    } else {
      if (kept.rank() == 0) kept = Shape{1};  // axis=None: scalar statistics, held as (1,)
      if (!weights_set_) {
        throw value_error(detail::concat(describe(),
                                         ": needs its mean and variance: pass them in "
                                         "NormalizationOptions, or call set_weights() or build() first"));
      }
      if (kept != weights_shape_) {
        throw shape_error(detail::concat(describe(), ": input shape ", input.to_string(), " has ",
                                         detail::shape_or_scalar(kept), " along axis ", axis_string(),
                                         "; the weights have shape ", weights_shape_.to_string()));
      }
    }
    return input;
  }

  /// Low-level call on raw row-major memory (output may equal input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    detail::check_output_size(*this, compute_output_shape(input_shape), output_size);
    if (output_size == 0) return;
    const int rank = input_shape.rank();
    // Offsets into the kept-shape arrays: row-major strides of the kept shape on kept axes, 0 on
    // the reduced ones.
    Index strides[max_rank] = {};
    const std::vector<int> keep = kept_axes(rank);
    Index stride = 1;
    for (auto it = keep.rbegin(); it != keep.rend(); ++it) {
      strides[*it] = stride;
      stride *= input_shape[*it];
    }
    // Config statistics are expanded to this input's kept sizes per call (small: the kept shape).
    std::vector<T> given_mean;
    std::vector<T> given_denominator;
    if (from_config_) {
      given_mean = expand_given(input_shape, false);
      given_denominator = expand_given(input_shape, true);
    }
    const T* m = from_config_ ? given_mean.data() : mean_.data();
    const T* d = from_config_ ? given_denominator.data() : denominator_.data();
    if (invert_) {
      detail::for_each_broadcast(input_shape, strides, strides, [&](Index i, Index k, Index) {
        const T p = input[i] * d[k];
        output[i] = m[k] + p;
      });
    } else {
      detail::for_each_broadcast(input_shape, strides, strides,
                                 [&](Index i, Index k, Index) { output[i] = (input[i] - m[k]) / d[k]; });
    }
  }

  /// Keras `layer(x)` on a Tensor or TensorMap: a Tensor of the same rank.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  auto operator()(const X& x) const {
    static_assert(output_rank(static_cast<int>(X::NumIndices)) != invalid_rank,
                  "strata::Normalization: the input must have rank >= 1.");
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  /// Keras build on (batch, features) with axis -1: mean 0, variance 1, count 0 (Keras'
  /// initializers before adapt). Other axes need the input shape: use set_weights. value_error
  /// for a layer whose mean and variance came with its options.
  void build(Index features) {
    if (from_config_) {
      throw value_error(detail::concat(describe(),
                                       ": has its mean and variance from its options; build() "
                                       "has nothing to do"));
    }
    if (axis_ != std::vector<int>{-1}) {
      throw value_error(detail::concat(describe(), ": build(features) needs axis (-1); with axis ", axis_string(),
                                       " call set_weights()"));
    }
    if (features < 1) throw value_error(detail::concat(describe(), ": build needs features >= 1; got ", features));
    Weights<T> w;
    w.push_back(AnyTensor<T>::zeros(Shape{features}));
    AnyTensor<T> var = AnyTensor<T>::zeros(Shape{features});
    std::fill(var.data(), var.data() + var.size(), T(1));
    w.push_back(std::move(var));
    w.push_back(AnyTensor<T>::zeros(Shape{1}));
    set_weights(w);
  }

  /// Keras get_weights(): [mean, variance, count] (count as shape (1,)); empty when mean and
  /// variance came with the options or nothing is set.
  Weights<T> get_weights() const {
    Weights<T> w;
    if (from_config_ || !weights_set_) return w;
    AnyTensor<T> m = AnyTensor<T>::uninitialized(weights_shape_);
    AnyTensor<T> v = AnyTensor<T>::uninitialized(weights_shape_);
    std::copy(mean_.begin(), mean_.end(), m.data());
    std::copy(variance_.begin(), variance_.end(), v.data());
    AnyTensor<T> c = AnyTensor<T>::uninitialized(Shape{1});
    c.data()[0] = count_;
    w.push_back(std::move(m));
    w.push_back(std::move(v));
    w.push_back(std::move(c));
    return w;
  }

  /// Keras set_weights([mean, variance, count]): mean and variance of one shape, the kept shape
  /// ((1,) for axis=None), count of shape (1,). shape_error otherwise, or for any weight when mean
  /// and variance came with the options.
  void set_weights(const Weights<T>& weights) {
    if (from_config_) {
      detail::check_no_weights(weights, describe() + " (mean and variance given as options)");
      return;
    }
    detail::check_weight_count(weights, 3, describe(), "mean, variance, count");
    const Shape shape = weights[0].empty() ? Shape{} : weights[0].shape();
    if (shape.rank() < 1 || (axis_.empty() && shape != Shape{1}) ||
        (!axis_.empty() && shape.rank() != static_cast<int>(axis_.size()))) {
      throw shape_error(detail::concat(describe(), ": weight 0 (mean) must have one axis per kept axis of ",
                                       axis_string(), axis_.empty() ? " (shape (1,))" : "", "; got ",
                                       weights[0].empty() ? std::string("an empty tensor") : shape.to_string()));
    }
    detail::check_weight<1>(weights[2], Shape{1}, describe(), "count", 2);
    const AnyTensor<T>& var = weights[1];
    if (var.empty() || var.shape() != shape) {
      throw shape_error(detail::concat(describe(), ": weight 1 (variance) must have shape ", shape.to_string(),
                                       " (the mean's); got ",
                                       var.empty() ? std::string("an empty tensor") : var.shape().to_string()));
    }
    weights_shape_ = shape;
    mean_.assign(weights[0].data(), weights[0].data() + weights[0].size());
    variance_.assign(var.data(), var.data() + var.size());
    denominator_.resize(variance_.size());
    for (std::size_t i = 0; i < variance_.size(); ++i) denominator_[i] = denominator(variance_[i]);
    count_ = weights[2].data()[0];
    weights_set_ = true;
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' Normalization supports masking: the mask passes on.
  static constexpr MaskRule mask_rule = MaskRule::pass;
  static constexpr bool in_place = true;
  /// Keras config: axis (an int, a list, or null for all values; default -1), mean and variance
  /// (null, a number, a list or a serialised array), invert (default false).
  static Normalization from_config(const LayerConfig<T>& config) {
    NormalizationOptions o;
    o.name(config.name());
    if (config.config().find("axis") == nullptr) {
      o.axis({-1});
    } else if (!config.has("axis")) {
      o.axis({});  // axis=None
    } else if (config.get("axis").is_list()) {
      std::vector<int> axes;
      for (Index a : config.integers("axis")) axes.push_back(static_cast<int>(a));
      o.axis(axes);
    } else {
      o.axis({static_cast<int>(config.integer_or("axis", -1, -max_rank, max_rank))});
    }
    if (config.has("mean") || config.has("variance")) {
      if (!config.has("mean") || !config.has("variance")) {
        config.invalid("mean and variance must be given together");
      }
      const detail::ConfigArray m = detail::config_array(config, "mean");
      const detail::ConfigArray v = detail::config_array(config, "variance");
      o.mean(m.values, m.shape).variance(v.values, v.shape);
    }
    o.invert(config.boolean("invert", false));
    return Normalization(o);
  }
  /// 3 (mean, variance, count) after adapt; 0 when mean and variance are in the config.
  std::size_t weight_count() const { return from_config_ ? 0 : 3; }
  /// mean and variance of the kept shape, count of shape (1,) (Keras: a scalar), in one group.
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& x = detail::only_input(inputs, describe());
    if (from_config_) return {};
    if (x.rank() < 1) {
      throw shape_error(detail::concat(describe(), ": input must have rank >= 1; got shape ", x.to_string()));
    }
    Shape kept = kept_shape(x);
    if (kept.rank() == 0) kept = Shape{1};
    return {WeightGroup{"",
                        {{"mean", kept, "the input's sizes along axis " + axis_string()},
                         {"variance", kept, "the input's sizes along axis " + axis_string()},
                         {"count", Shape{1}, "a scalar, held as shape (1,)"}}}};
  }

 private:
  static T denominator(T variance) {
    const T sd = std::sqrt(variance);
    return std::max(sd, static_cast<T>(epsilon));
  }

  std::string axis_string() const {
    if (axis_.empty()) return "None";
    std::string s = "(";
    for (std::size_t i = 0; i < axis_.size(); ++i) {
      if (i > 0) s += ", ";
      s += std::to_string(axis_[i]);
    }
    if (axis_.size() == 1) s += ",";
    return s + ")";
  }

  // The kept axes as non-negative indices, sorted (Keras sorts them); shape_error when one is out
  // of range for `rank`.
  std::vector<int> kept_axes(int rank) const {
    std::vector<int> keep;
    for (int a : axis_) {
      if (a < -rank || a >= rank) {
        throw shape_error(
            detail::concat(describe(), ": axis ", axis_string(), " is out of range for an input of rank ", rank));
      }
      keep.push_back(a < 0 ? a + rank : a);
    }
    std::sort(keep.begin(), keep.end());
    for (std::size_t i = 1; i < keep.size(); ++i) {
      if (keep[i] == keep[i - 1]) {
        throw shape_error(detail::concat(describe(), ": axis ", axis_string(), " names axis ", keep[i],
                                         " twice for an input of rank ", rank));
      }
    }
    return keep;
  }

  Shape kept_shape(const Shape& input) const {
    Shape kept;
    for (int a : kept_axes(input.rank())) kept.push_back(input[a]);
    return kept;
  }

  // Keras >= 3.14: the config mean's axes align with the kept axes from the right; each must be 1
  // or the kept size (earlier versions broadcast it numpy-style and failed where the two differ).
  // Returns the (kept-shape) strides into the given array, 0 on broadcast axes.
  void given_strides(const Shape& kept, const Shape& input, Index* strides) const {
    const int lead = kept.rank() - given_shape_.rank();
    Index stride = 1;
    for (int a = kept.rank() - 1; a >= 0; --a) {
      const Index d = a >= lead ? given_shape_[a - lead] : 1;
      if (d != 1 && d != kept[a]) {
        throw shape_error(detail::concat(describe(), ": mean and variance of shape ", given_shape_.to_string(),
                                         " do not broadcast to ", kept.to_string(), ", the sizes of input shape ",
                                         input.to_string(), " along axis ", axis_string()));
      }
      strides[a] = d == 1 ? 0 : stride;
      stride *= d;
    }
  }

  void check_given(const Shape& kept, const Shape& input) const {
    Index strides[max_rank] = {};
    given_strides(kept, input, strides);
  }

  // The config mean (or denominator) expanded to the kept shape of this input.
  std::vector<T> expand_given(const Shape& input, bool denominators) const {
    const Shape kept = kept_shape(input);
    std::vector<T> out(static_cast<std::size_t>(kept.size()));
    if (out.empty()) return out;
    if (kept.rank() == 0) {
      out[0] = denominators ? denominator(static_cast<T>(given_variance_[0])) : static_cast<T>(given_mean_[0]);
      return out;
    }
    Index strides[max_rank] = {};
    given_strides(kept, input, strides);
    detail::for_each_broadcast(kept, strides, strides, [&](Index i, Index g, Index) {
      const auto k = static_cast<std::size_t>(g);
      out[static_cast<std::size_t>(i)] =
          denominators ? denominator(static_cast<T>(given_variance_[k])) : static_cast<T>(given_mean_[k]);
    });
    return out;
  }

  std::vector<int> axis_;
  bool invert_ = false;
  std::string name_;
  // mean and variance from the options
  bool from_config_ = false;
  Shape given_shape_;
  std::vector<double> given_mean_;
  std::vector<double> given_variance_;
  // mean and variance from set_weights (adapt)
  bool weights_set_ = false;
  Shape weights_shape_;
  std::vector<T> mean_;
  std::vector<T> variance_;
  std::vector<T> denominator_;
  T count_ = T(0);
};

// ------------------------------------------------------------------------------------------------
// CategoryEncoding

/// Options of CategoryEncoding, set by chaining: `CategoryEncodingOptions().output_mode("one_hot")`.
class CategoryEncodingOptions : public detail::Options<CategoryEncodingOptions> {
 public:
  /// Keras `output_mode`: "one_hot", "multi_hot" (the default; Keras' old name "binary" too) or
  /// "count". Checked when the layer is constructed.
  CategoryEncodingOptions& output_mode(std::string mode) {
    output_mode_ = std::move(mode);
    return *this;
  }
  const std::string& output_mode() const { return output_mode_; }

 private:
  std::string output_mode_ = "multi_hot";
};

/// Keras `CategoryEncoding(num_tokens, output_mode="multi_hot")`: integer ids to one-hot,
/// multi-hot or count vectors of num_tokens entries.
///
/// The ids arrive in the model's scalar type T and must be whole numbers in [0, num_tokens)
/// (value_error naming the layer and the bad id otherwise). Shapes, as Keras 3:
/// - one_hot: (..., 1) -> (..., num_tokens); another last axis gets a new axis: (batch,) ->
///   (batch, num_tokens), (batch, n) -> (batch, n, num_tokens). Any rank >= 1.
/// - multi_hot, count: rank 1 or 2; the last axis is the sample: (batch, n) -> (batch, num_tokens)
///   (1 where an id occurs / how often it occurs); a rank-1 input (n,) is one sample and gives
///   (num_tokens,), as Keras does. Keras 3's count_weights call argument and sparse=True are not
///   supported. A mask stops here (Keras' CategoryEncoding does not support masking). No weights.
template <class T>
class CategoryEncoding : public detail::WeightlessLayer<CategoryEncoding<T>, T> {
  static_assert(std::is_floating_point_v<T>, "strata::CategoryEncoding: the scalar type must be float or double.");

 public:
  static constexpr const char* class_name = "CategoryEncoding";
  enum class Mode { one_hot, multi_hot, count };

  /// Throws value_error unless num_tokens >= 1 and output_mode is one_hot, multi_hot (binary) or
  /// count.
  explicit CategoryEncoding(Index num_tokens, const CategoryEncodingOptions& options = CategoryEncodingOptions())
      : num_tokens_(num_tokens), name_(options.name()) {
    if (num_tokens < 1 || num_tokens > (Index(1) << 40)) {
      throw value_error(detail::concat(this->describe(), ": num_tokens must be >= 1; got ", num_tokens));
    }
    const std::string& m = options.output_mode();
    if (m == "one_hot") {
      mode_ = Mode::one_hot;
    } else if (m == "multi_hot" || m == "binary") {
      mode_ = Mode::multi_hot;
    } else if (m == "count") {
      mode_ = Mode::count;
    } else {
      throw value_error(
          detail::concat(this->describe(), ": output_mode '", m, "' is not one of one_hot, multi_hot, count"));
    }
  }

  /// Keras `num_tokens`.
  Index num_tokens() const { return num_tokens_; }
  /// Keras `output_mode`.
  const char* output_mode() const {
    return mode_ == Mode::one_hot ? "one_hot" : mode_ == Mode::multi_hot ? "multi_hot" : "count";
  }
  const std::string& name() const { return name_; }

  /// The output rank depends on the input's last size (one_hot) or the mode: calls return AnyTensor.
  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? dynamic_rank : invalid_rank; }

  /// The shapes above; shape_error for rank 0, or rank > 2 with multi_hot or count.
  Shape compute_output_shape(const Shape& input) const {
    const int r = input.rank();
    if (r < 1 || (mode_ != Mode::one_hot && r > 2)) {
      throw shape_error(detail::concat(this->describe(), ": output_mode ", output_mode(), " takes input of rank ",
                                       mode_ == Mode::one_hot ? ">= 1" : "1 or 2 (the last axis is the sample)",
                                       "; got shape ", input.to_string()));
    }
    Shape out;
    const bool replace_last = mode_ != Mode::one_hot || (r > 1 && input.back() == 1);
    for (int a = 0; a < (replace_last ? r - 1 : r); ++a) out.push_back(input[a]);
    if (out.rank() >= max_rank) {
      throw shape_error(detail::concat(this->describe(), ": the output of input shape ", input.to_string(),
                                       " would have rank ", out.rank() + 1, "; at most ", max_rank, " is supported"));
    }
    out.push_back(num_tokens_);
    (void)out.size();
    return out;
  }

  /// Low-level call on raw row-major memory (output must not alias input).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Shape out_shape = compute_output_shape(input_shape);
    detail::check_output_size(*this, out_shape, output_size);
    std::fill(output, output + output_size, T(0));
    const Index n = input_shape.size();
    if (mode_ == Mode::one_hot) {
      for (Index i = 0; i < n; ++i) output[i * num_tokens_ + id(input[i], i, input_shape)] = T(1);
      return;
    }
    // multi_hot / count: each row of the last axis (or the whole rank-1 input) is one sample.
    const Index len = input_shape.back();
    const Index rows = len == 0 ? (input_shape.rank() == 2 ? input_shape[0] : 1) : n / len;
    for (Index r = 0; r < rows; ++r) {
      T* out = output + r * num_tokens_;
      for (Index j = 0; j < len; ++j) {
        const Index k = id(input[r * len + j], r * len + j, input_shape);
        out[k] = mode_ == Mode::count ? out[k] + T(1) : T(1);
      }
    }
  }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras' CategoryEncoding does not support masking: a mask stops here.
  static constexpr MaskRule mask_rule = MaskRule::drop;
  /// Keras config: num_tokens, output_mode (default multi_hot); sparse=True is refused.
  static CategoryEncoding from_config(const LayerConfig<T>& config) {
    config.refuse("sparse");
    const std::string mode = config.string("output_mode", "multi_hot");
    if (mode != "one_hot" && mode != "multi_hot" && mode != "binary" && mode != "count") {
      config.unsupported(detail::concat("output_mode '", mode, "' is not supported (one_hot, multi_hot, count are)"));
    }
    return CategoryEncoding(config.integer("num_tokens"),
                            CategoryEncodingOptions().output_mode(mode).name(config.name()));
  }

 private:
  // The id at flat position i, checked: a whole number in [0, num_tokens).
  Index id(T v, Index i, const Shape& shape) const {
    if (!(v >= T(0) && v < static_cast<T>(num_tokens_) && std::floor(v) == v)) {
      throw value_error(detail::concat(this->describe(),
                                       ": input values must be whole numbers in [0, num_tokens=", num_tokens_,
                                       "); got ", v, " at flat index ", i, " of input shape ", shape.to_string()));
    }
    return static_cast<Index>(v);
  }

  Index num_tokens_;
  Mode mode_ = Mode::multi_hot;
  std::string name_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(Rescaling)
STRATA_REGISTER_LAYER(Normalization)
STRATA_REGISTER_LAYER(CategoryEncoding)

#endif  // STRATA_LAYERS_PREPROCESSING_HPP
