// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_EINSUM_DENSE_HPP
#define STRATA_LAYERS_EINSUM_DENSE_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../activations.hpp"
#include "../detail/gemm.hpp"
#include "../detail/init.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../layer_config.hpp"
#include "../tensor.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

namespace detail {

/// An EinsumDense equation in Keras 3's grammar (keras/src/layers/core/einsum_dense.py,
/// _analyze_einsum_string): `X,Y->Z` with X, Y, Z runs of letters, `...X,Y->...Z` (the ellipsis
/// on the left of input and output) or `X...,Y->Z...` (on the right; X has at least two letters).
/// Axis labels are ints: a letter's own code; ellipsis axes get labels from 256 on.
struct EinsumEquation {
  enum class Ellipsis { none, left, right };
  std::string input, weight, output;
  Ellipsis ellipsis = Ellipsis::none;

  static bool letters(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
    }
    return true;
  }

  /// Parses `equation`; value_error naming `who` for one outside the grammar.
  static EinsumEquation parse(const std::string& equation, const std::string& who) {
    const auto fail = [&](const std::string& why) {
      throw value_error(concat(who, ": invalid einsum equation '", equation,
                               "'; equations must be in the form [X],[Y]->[Z], ...[X],[Y]->...[Z], or "
                               "[X]...,[Y]->[Z]... (",
                               why, ")"));
    };
    const std::size_t arrow = equation.find("->");
    const std::size_t comma = equation.find(',');
    if (arrow == std::string::npos || comma == std::string::npos || comma > arrow ||
        equation.find(',', comma + 1) != std::string::npos || equation.find("->", arrow + 2) != std::string::npos) {
      fail("one input, one kernel and one output are needed");
    }
    EinsumEquation e;
    std::string x = equation.substr(0, comma);
    e.weight = equation.substr(comma + 1, arrow - comma - 1);
    std::string z = equation.substr(arrow + 2);
    const auto starts = [](const std::string& s) { return s.size() >= 3 && s.compare(0, 3, "...") == 0; };
    const auto ends = [](const std::string& s) { return s.size() >= 3 && s.compare(s.size() - 3, 3, "...") == 0; };
    if (starts(x) && starts(z)) {
      e.ellipsis = Ellipsis::left;
      x = x.substr(3);
      z = z.substr(3);
    } else if (ends(x) && ends(z)) {
      e.ellipsis = Ellipsis::right;
      x = x.substr(0, x.size() - 3);
      z = z.substr(0, z.size() - 3);
      if (x.size() < 2) fail("with the ellipsis on the right, the input needs at least two letters");
    }
    if (!letters(x) || !letters(e.weight) || !letters(z)) fail("the operands must be letters, with '...' as above");
    e.input = x;
    e.output = z;
    for (const std::string* s : {&e.input, &e.weight, &e.output}) {
      for (std::size_t i = 0; i < s->size(); ++i) {
        if (s->find((*s)[i], i + 1) != std::string::npos) {
          throw unsupported_error(concat(who, ": einsum equation '", equation, "' repeats the label '", (*s)[i],
                                         "' within one operand (a diagonal); strata does not support it"));
        }
      }
    }
    for (char c : e.output) {
      if (e.input.find(c) == std::string::npos && e.weight.find(c) == std::string::npos) {
        throw value_error(concat(who, ": dimension '", c, "' was specified in the output '", e.output,
                                 "' but has no corresponding dim in the input spec '", e.input, "' or weight spec '",
                                 e.weight, "'"));
      }
    }
    for (char c : e.weight) {
      if (e.input.find(c) == std::string::npos && e.output.find(c) == std::string::npos) {
        throw value_error(concat(who, ": weight dimension '", c, "' did not have a match in either the input spec '",
                                 e.input, "' or the output spec '", e.output,
                                 "'; for this layer, the weight must be fully specified"));
      }
    }
    return e;
  }
};

}  // namespace detail

/// Options of EinsumDense: Keras `activation` (default linear), `bias_axes` (default none), seed
/// of the initial kernel and name, `EinsumDenseOptions().bias_axes("de").activation("relu")`.
class EinsumDenseOptions : public detail::Options<EinsumDenseOptions> {
 public:
  /// Keras `activation`; checked when the layer is constructed.
  EinsumDenseOptions& activation(std::string name) {
    activation_ = std::move(name);
    return *this;
  }
  /// Keras `bias_axes`: the output labels the bias runs over (none: no bias).
  EinsumDenseOptions& bias_axes(std::string axes) {
    bias_axes_ = std::move(axes);
    return *this;
  }
  /// Seed of the initial kernel (glorot_uniform); without one it is drawn from std::random_device.
  EinsumDenseOptions& seed(std::uint64_t value) {
    seed_ = value;
    return *this;
  }
  const std::string& activation() const { return activation_; }
  const std::optional<std::string>& bias_axes() const { return bias_axes_; }
  std::optional<std::uint64_t> seed() const { return seed_; }

 private:
  std::string activation_ = "linear";
  std::optional<std::string> bias_axes_;
  std::optional<std::uint64_t> seed_;
};

/// Keras `EinsumDense(equation, output_shape, activation, bias_axes)`: y = activation(einsum(
/// equation, x, kernel) + bias).
///
/// The equation follows Keras 3's grammar (`ab,bc->ac`, `...b,bc->...c`, `abc...,cd->abd...`; see
/// detail::EinsumEquation): a kernel label must be an input or an output label; an input label
/// that is in neither the kernel nor the output is summed over. `output_shape` gives the output's
/// sizes without the batch axis and the ellipsis axes; -1 (Keras' None) takes the size from the
/// input. The product runs as one GEMM per combination of the labels shared by input, kernel and
/// output (strata's kernel, detail/gemm.hpp), over the input permuted to (rows, contracted) when it
/// is not in that order already. Weights, as Keras' get_weights(): [kernel (the sizes of the
/// kernel labels), bias (Keras' bias shape: from the first bias label of the output to its end,
/// 1 on the labels not in bias_axes, and a 1 per right ellipsis axis)] (no bias without
/// bias_axes). Initial kernel glorot_uniform with Keras' fans, zero bias. The mask is dropped, as
/// Keras' EinsumDense does not support masking.
template <class T>
class EinsumDense {
  static_assert(std::is_floating_point_v<T>, "strata::EinsumDense: the scalar type must be float or double.");

 public:
  using Scalar = T;
  static constexpr const char* class_name = "EinsumDense";

  /// Throws value_error for an equation outside Keras' grammar, an unknown activation, or bias
  /// axes that are not output labels.
  EinsumDense(std::string equation, std::vector<Index> output_shape,
              const EinsumDenseOptions& options = EinsumDenseOptions())
      : equation_(std::move(equation)),
        partial_(std::move(output_shape)),
        bias_axes_(options.bias_axes()),
        seed_(options.seed()),
        name_(options.name()) {
    eq_ = detail::EinsumEquation::parse(equation_, describe());
    activation_ = parse_activation(options.activation(), describe());
    const std::size_t want = eq_.output.size() - (eq_.ellipsis == Ellipsis::left ? 0 : 1);
    if (partial_.size() != want) {
      throw value_error(detail::concat(
          describe(), ": output_shape must have ", want, " entries for the equation '", equation_,
          "' (the output's sizes without ", eq_.ellipsis == Ellipsis::left ? "the ellipsis axes" : "the batch axis",
          eq_.ellipsis == Ellipsis::right ? " and the ellipsis axes" : "", "); got ", partial_.size()));
    }
    for (Index d : partial_) {
      if (d < -1 || d == 0) {
        throw value_error(detail::concat(describe(), ": output_shape entries must be positive or None (-1); got ",
                                         shape_string(partial_)));
      }
    }
    if (bias_axes_) {
      if (bias_axes_->empty()) bias_axes_.reset();
    }
    if (bias_axes_) {
      for (char c : *bias_axes_) {
        if (eq_.output.find(c) == std::string::npos) {
          throw value_error(detail::concat(describe(), ": bias dimension '", c,
                                           "' was requested, but is not part of the output spec '", eq_.output, "'"));
        }
      }
      first_bias_ = eq_.output.size();
      for (char c : *bias_axes_) first_bias_ = std::min(first_bias_, eq_.output.find(c));
    }
    // Kernel labels by role (fixed by the equation): shared with input and output (a GEMM each),
    // contracted (in the input, not the output), or output columns (not in the input).
    for (char c : eq_.weight) {
      const bool in_x = eq_.input.find(c) != std::string::npos, in_z = eq_.output.find(c) != std::string::npos;
      if (in_x && in_z) {
        group_labels_.push_back(c);
      } else if (in_x) {
        contract_labels_.push_back(c);
      } else {
        column_labels_.push_back(c);
      }
    }
    // Group and contracted labels in input order (the permuted input's layout), columns in
    // kernel order.
    const auto by_input = [&](char a, char b) { return eq_.input.find(a) < eq_.input.find(b); };
    std::sort(group_labels_.begin(), group_labels_.end(), by_input);
    std::sort(contract_labels_.begin(), contract_labels_.end(), by_input);
  }

  const std::string& equation() const { return equation_; }
  /// Keras `output_shape` as given (-1: None).
  const std::vector<Index>& output_shape() const { return partial_; }
  /// Keras `bias_axes`; nullopt: no bias.
  const std::optional<std::string>& bias_axes() const { return bias_axes_; }
  Activation activation() const { return activation_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }
  bool built() const { return built_; }

  /// The kernel's shape for inputs of `input_shape` (Keras' build); shape_error when the equation
  /// does not fit it.
  Shape kernel_shape(const Shape& input) const {
    const Labels l = label_sizes(input, nullptr);
    Shape k;
    for (char c : eq_.weight) k.push_back(l.size(c));
    return k;
  }
  /// Keras' bias shape for inputs of `input_shape`; an empty Shape without bias.
  Shape bias_shape(const Shape& input) const {
    if (!bias_axes_) return Shape{};
    const Labels l = label_sizes(input, nullptr);
    Shape b;
    for (std::size_t i = first_bias_; i < eq_.output.size(); ++i) {
      b.push_back(bias_axes_->find(eq_.output[i]) != std::string::npos ? l.size(eq_.output[i]) : 1);
    }
    if (eq_.ellipsis == Ellipsis::right) {
      for (int e = 0; e < elided(input); ++e) b.push_back(1);
    }
    return b;
  }

  /// Keras build for inputs of `input_shape`: glorot_uniform kernel (Keras' fans: for rank > 2 the
  /// last two axes times the product of the others), zero bias.
  void build(const Shape& input) {
    const Shape k = kernel_shape(input);
    AnyTensor<T> kernel = AnyTensor<T>::uninitialized(k);
    Index fan_in = k[0], fan_out = k[0];
    if (k.rank() >= 2) {
      const Index field = k.product(0, k.rank() - 2);
      fan_in = k[k.rank() - 2] * field;
      fan_out = k[k.rank() - 1] * field;
    }
    auto gen = detail::Generator::from(seed_);
    const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
    for (Index i = 0; i < kernel.size(); ++i) kernel.data()[i] = static_cast<T>((2.0 * gen.uniform() - 1.0) * limit);
    Weights<T> w{std::move(kernel)};
    if (bias_axes_) w.push_back(AnyTensor<T>::zeros(bias_shape(input)));
    set_weights(w);
  }
  /// The layer concept's build from the last axis only: works when every kernel size follows from
  /// it and output_shape (value_error otherwise: build(Shape) then).
  void build(Index features) {
    if (features < 1) {
      throw value_error(detail::concat(describe(), ": input features must be at least 1; got ", features));
    }
    const char last = eq_.ellipsis == Ellipsis::right ? '\0' : eq_.input.back();
    Shape probe;
    // An input whose labels other than the last take their sizes nowhere: only the kernel's
    // labels matter, and they must come from the last axis or output_shape.
    for (char c : eq_.weight) {
      if (c != last && partial_of(c) < 1) {
        throw value_error(detail::concat(describe(), ": the kernel's size along '", c,
                                         "' depends on more of the input shape than its last axis; call "
                                         "build(input_shape) or set_weights()"));
      }
    }
    for (std::size_t i = 0; i < eq_.input.size(); ++i) {
      const char c = eq_.input[i];
      probe.push_back(c == last ? features : std::max<Index>(partial_of(c), 1));
    }
    if (eq_.ellipsis != Ellipsis::none) {
      Shape p;
      if (eq_.ellipsis == Ellipsis::left) p.push_back(1);
      for (Index d : probe) p.push_back(d);
      if (eq_.ellipsis == Ellipsis::right) p.push_back(1);
      probe = p;
    }
    build(probe);
  }

  /// Keras get_weights(): [kernel, bias] ([kernel] without bias).
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w{kernel_};
    if (bias_axes_) w.push_back(bias_);
    return w;
  }

  /// Keras set_weights(): [kernel, bias]. The kernel has one axis per kernel label (its sizes
  /// must agree with output_shape where that gives them); the bias has Keras' bias shape, with
  /// any number of trailing 1s for a right ellipsis. Throws shape_error on a wrong count or shape.
  void set_weights(const Weights<T>& weights) {
    detail::check_weight_count(weights, bias_axes_ ? 2 : 1, describe(), bias_axes_ ? "kernel, bias" : "kernel");
    const AnyTensor<T>& kernel = weights[0];
    const Shape ks = kernel.empty() ? Shape{} : kernel.shape();
    bool ok = ks.rank() == static_cast<int>(eq_.weight.size());
    for (int i = 0; ok && i < ks.rank(); ++i) {
      const Index p = partial_of(eq_.weight[static_cast<std::size_t>(i)]);
      ok = ks[i] >= 1 && (p < 1 || p == ks[i]);
    }
    if (!ok) {
      throw shape_error(detail::concat(describe(), ": weight 0 (kernel) must have one axis per label of '", eq_.weight,
                                       "' with sizes agreeing with output_shape ", shape_string(partial_), "; got ",
                                       kernel.empty() ? std::string("an empty tensor") : ks.to_string()));
    }
    AnyTensor<T> bias;
    if (bias_axes_) {
      const Shape bs = weights[1].empty() ? Shape{} : weights[1].shape();
      const int core = static_cast<int>(eq_.output.size() - first_bias_);
      bool bok = bs.rank() >= core && (eq_.ellipsis == Ellipsis::right || bs.rank() == core);
      for (int i = 0; bok && i < bs.rank(); ++i) {
        if (i >= core) {
          bok = bs[i] == 1;
          continue;
        }
        const char c = eq_.output[first_bias_ + static_cast<std::size_t>(i)];
        const bool biased = bias_axes_->find(c) != std::string::npos;
        const std::size_t kpos = eq_.weight.find(c);
        const Index p = partial_of(c);
        bok = biased ? bs[i] >= 1 && (p < 1 || p == bs[i]) &&
                           (kpos == std::string::npos || ks[static_cast<int>(kpos)] == bs[i])
                     : bs[i] == 1;
      }
      if (!bok) {
        throw shape_error(
            detail::concat(describe(), ": weight 1 (bias) must have Keras' bias shape for bias_axes '", *bias_axes_,
                           "' and output '", eq_.output, "' (1 on the unbiased labels from '", eq_.output[first_bias_],
                           "' on, sizes agreeing with the kernel and output_shape ", shape_string(partial_), "); got ",
                           weights[1].empty() ? std::string("an empty tensor") : bs.to_string()));
      }
      bias = weights[1];
    }
    // Pack one (contracted, columns) matrix per combination of the group labels.
    Index groups = 1, depth = 1, cols = 1;
    for (char c : group_labels_) groups *= ks[kpos(c)];
    for (char c : contract_labels_) depth *= ks[kpos(c)];
    for (char c : column_labels_) cols *= ks[kpos(c)];
    std::vector<detail::PackedMatrix<T>> packed(static_cast<std::size_t>(groups));
    std::vector<T> m(static_cast<std::size_t>(depth * cols));
    std::vector<Index> kstride(eq_.weight.size());
    {
      Index s = 1;
      for (int i = ks.rank() - 1; i >= 0; --i) {
        kstride[static_cast<std::size_t>(i)] = s;
        s *= ks[i];
      }
    }
    for (Index g = 0; g < groups; ++g) {
      const Index gbase = offset_of(group_labels_, g, ks, kstride);
      for (Index k = 0; k < depth; ++k) {
        const Index kbase = gbase + offset_of(contract_labels_, k, ks, kstride);
        for (Index j = 0; j < cols; ++j) {
          m[static_cast<std::size_t>(k * cols + j)] = kernel.data()[kbase + offset_of(column_labels_, j, ks, kstride)];
        }
      }
      if (depth > 0 && cols > 0) packed[static_cast<std::size_t>(g)].pack(m.data(), depth, cols);
    }
    kernel_ = kernel;
    bias_ = std::move(bias);
    packed_ = std::move(packed);
    groups_ = groups;
    depth_ = depth;
    cols_ = cols;
    built_ = true;
  }

  /// The kernel as Keras holds it; the layer must be built.
  const AnyTensor<T>& kernel() const {
    require_built("kernel");
    return kernel_;
  }
  /// The bias in Keras' shape; empty without bias.
  const AnyTensor<T>& bias() const { return bias_; }

  Index count_params() const {
    require_built("count_params");
    return kernel_.size() + (bias_axes_ ? bias_.size() : 0);
  }

  /// The output rank follows from the equation and the input rank only at run time.
  static constexpr int output_rank(int input_rank) { return input_rank >= 1 ? dynamic_rank : invalid_rank; }

  /// Keras' full output shape: the batch, output_shape (None taken from the input) and the
  /// ellipsis axes. Throws shape_error naming the equation, the input shape and what was expected
  /// when the input does not fit (rank, sizes shared with the kernel or output_shape), value_error
  /// when not built.
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    return plan(input).out;
  }

  /// Low-level call on raw row-major memory: output must hold compute_output_shape(input_shape).
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size) const {
    const Plan p = plan(input_shape);
    detail::check_output_size(*this, p.out, output_size);
    if (output_size == 0) return;
    const Index rows = p.rows;
    // A: (groups, rows, depth), the input itself when already in that order.
    const T* a = input;
    std::vector<T> abuf;
    if (!p.input_in_order) {
      abuf.assign(static_cast<std::size_t>(groups_ * rows * depth_), T(0));
      gather(input, p, abuf.data());
      a = abuf.data();
    }
    // C: (groups, rows, cols), the output itself when it is in that order.
    T* c = output;
    std::vector<T> cbuf;
    if (!p.output_in_order) {
      cbuf.resize(static_cast<std::size_t>(groups_ * rows * cols_));
      c = cbuf.data();
    }
    for (Index g = 0; g < groups_; ++g) {
      T* cg = c + g * rows * cols_;
      if (depth_ == 0) {
        std::fill(cg, cg + rows * cols_, T(0));
        continue;
      }
      const detail::GemmTerm<T> term{a + g * rows * depth_, depth_, &packed_[static_cast<std::size_t>(g)]};
      detail::gemm(rows, cols_, &term, 1, static_cast<const detail::PackedMatrix<T>*>(nullptr), cg, cols_);
    }
    if (!p.output_in_order) scatter(c, p, output);
    if (bias_axes_) add_bias(p, output);
    const Index last = p.out.back();
    apply_activation(activation_, output, output_size / last, last);
  }

  /// Keras `layer(x)` on a tensor of any rank; the output's rank follows from the equation.
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  AnyTensor<T> operator()(const X& x) const {
    return detail::call_tensor(*this, x);
  }
  AnyTensor<T> operator()(const TensorView<T>& x) const { return detail::call_any(*this, x); }
  AnyTensor<T> operator()(const AnyTensor<T>& x) const { return detail::call_any(*this, TensorView<T>(x)); }

  bool carries_state() const { return false; }
  int output_count() const { return 1; }

  // --- Keras description (docs/design.md, "Adding a layer")
  /// Keras config: equation, output_shape (an integer or a list with nulls), activation,
  /// bias_axes (null: none). Refused: lora_rank and quantization (the loader), kernel
  /// regularizers and constraints are training-only and ignored.
  static EinsumDense from_config(const LayerConfig<T>& config) {
    std::vector<Index> shape;
    const Config& os = config.get("output_shape");
    if (os.is_integer()) {
      shape.push_back(static_cast<Index>(os.as_integer()));
    } else {
      shape = config.integers("output_shape");
    }
    EinsumDenseOptions options;
    options.activation(config.activation("activation", "linear")).name(config.name());
    if (config.has("bias_axes") && !config.get("bias_axes").is_null())
      options.bias_axes(config.string("bias_axes", ""));
    return EinsumDense(config.string("equation", ""), shape, options);
  }
  std::size_t weight_count() const { return bias_axes_ ? 2 : 1; }
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    const Shape& x = detail::only_input(inputs, describe());
    WeightGroup group{"", {{"kernel", kernel_shape(x), "labels '" + eq_.weight + "'"}}};
    if (bias_axes_) group.weights.push_back({"bias", bias_shape(x), "bias_axes '" + *bias_axes_ + "'"});
    return {group};
  }

 private:
  using Ellipsis = detail::EinsumEquation::Ellipsis;

  // Label sizes of one call: letters by their char, ellipsis axes by their position.
  struct Labels {
    Index sizes[128] = {};
    Index size(char c) const { return sizes[static_cast<unsigned char>(c) & 127]; }
    void set(char c, Index v) { sizes[static_cast<unsigned char>(c) & 127] = v; }
  };
  // One call's layout: output shape, label strides of input and output, GEMM rows.
  struct Plan {
    Shape out;
    Index rows = 1;
    bool input_in_order = true, output_in_order = true;
    // Per input axis and per output axis, its label ('\0' + index for an ellipsis axis).
    std::vector<char> in_labels, out_labels;
    Labels sizes;
  };

  static std::string shape_string(const std::vector<Index>& s) {
    std::string r = "(";
    for (std::size_t i = 0; i < s.size(); ++i)
      r += (i ? ", " : "") + (s[i] < 0 ? std::string("None") : std::to_string(s[i]));
    return r + (s.size() == 1 ? ",)" : ")");
  }

  int kpos(char c) const { return static_cast<int>(eq_.weight.find(c)); }

  // output_shape's entry for output label c (-1: None or not an output label); the batch label
  // (first output label without a left ellipsis) has none.
  Index partial_of(char c) const {
    const std::size_t z = eq_.output.find(c);
    if (z == std::string::npos) return -1;
    if (eq_.ellipsis == Ellipsis::left) return partial_[z];
    return z == 0 ? -1 : partial_[z - 1];
  }

  int elided(const Shape& input) const { return input.rank() - static_cast<int>(eq_.input.size()); }

  // The offset in a tensor of shape `shape` (strides `stride`) of the flat index `i` over `labels`
  // (row-major over them, in their order).
  Index offset_of(const std::vector<char>& labels, Index i, const Shape& shape,
                  const std::vector<Index>& stride) const {
    Index off = 0;
    for (std::size_t n = labels.size(); n-- > 0;) {
      const int k = kpos(labels[n]);
      const Index d = shape[k];
      off += (i % d) * stride[static_cast<std::size_t>(k)];
      i /= d;
    }
    return off;
  }

  // Sizes of every label for an input shape; with a kernel (built), its sizes must agree.
  Labels label_sizes(const Shape& input, const Shape* kernel) const {
    const int e = elided(input);
    const bool ok_rank = eq_.ellipsis == Ellipsis::none ? e == 0 : e >= 1;
    if (!ok_rank) {
      throw shape_error(detail::concat(describe(), ": the equation '", equation_, "' takes inputs of rank ",
                                       eq_.input.size(), eq_.ellipsis == Ellipsis::none ? "" : " + 1 or more",
                                       "; got shape ", input.to_string()));
    }
    Labels l;
    const int x0 = eq_.ellipsis == Ellipsis::left ? e : 0;
    for (std::size_t i = 0; i < eq_.input.size(); ++i) l.set(eq_.input[i], input[x0 + static_cast<int>(i)]);
    for (std::size_t i = 0; i < eq_.weight.size(); ++i) {
      const char c = eq_.weight[i];
      const bool in_x = eq_.input.find(c) != std::string::npos;
      const Index want = in_x ? l.size(c) : (kernel != nullptr ? (*kernel)[static_cast<int>(i)] : partial_of(c));
      if (!in_x && want < 1) {
        throw value_error(detail::concat(describe(), ": output_shape ", shape_string(partial_),
                                         " must give the size of the kernel-only label '", c, "'"));
      }
      if (kernel != nullptr && (*kernel)[static_cast<int>(i)] != want) {
        throw shape_error(detail::concat(describe(), ": input of shape ", input.to_string(), " has ", want,
                                         " along label '", c, "' of '", equation_, "'; the kernel ",
                                         kernel->to_string(), " expects ", (*kernel)[static_cast<int>(i)]));
      }
      l.set(c, want);
    }
    // The output's sizes against output_shape (Keras: "Input shape and output shape do not match
    // at shared dimension").
    for (char c : eq_.output) {
      const Index p = partial_of(c);
      if (p >= 1 && p != l.size(c)) {
        throw shape_error(detail::concat(describe(), ": input of shape ", input.to_string(), " gives label '", c,
                                         "' of '", equation_, "' size ", l.size(c), "; output_shape ",
                                         shape_string(partial_), " expects ", p));
      }
    }
    return l;
  }

  Plan plan(const Shape& input) const {
    Plan p;
    const Shape ks = kernel_.shape();
    p.sizes = label_sizes(input, &ks);
    const int e = elided(input);
    for (int i = 0; i < e; ++i) p.sizes.sizes[i] = 0;  // ellipsis labels are '\0' + i: sizes below
    // Input and output axes as labels; ellipsis axis i gets label char(i) (below 'A').
    for (int i = 0; i < input.rank(); ++i) {
      const int xi = eq_.ellipsis == Ellipsis::left ? i - e : i;
      const bool ell = xi < 0 || xi >= static_cast<int>(eq_.input.size());
      const int ei = xi < 0 ? i : i - static_cast<int>(eq_.input.size());
      p.in_labels.push_back(ell ? static_cast<char>(ei) : eq_.input[static_cast<std::size_t>(xi)]);
      if (ell) p.sizes.sizes[ei] = input[i];
    }
    if (eq_.ellipsis == Ellipsis::left) {
      for (int i = 0; i < e; ++i) p.out_labels.push_back(static_cast<char>(i));
    }
    for (char c : eq_.output) p.out_labels.push_back(c);
    if (eq_.ellipsis == Ellipsis::right) {
      for (int i = 0; i < e; ++i) p.out_labels.push_back(static_cast<char>(i));
    }
    for (char c : p.out_labels) p.out.push_back(p.sizes.sizes[static_cast<unsigned char>(c) & 127]);
    // Keras' full output shape puts the input's batch first (without a left ellipsis).
    if (eq_.ellipsis != Ellipsis::left && p.out[0] != input[0]) {
      throw shape_error(detail::concat(describe(), ": the equation '", equation_,
                                       "' must keep the input's batch axis first; input shape ", input.to_string()));
    }
    (void)p.out.size();
    // Rows: the input's labels that stay in the output and are not in the kernel, in input order.
    std::string order;  // the permuted input's labels: groups, rows, contracted
    for (char c : group_labels_) order += c;
    for (char c : p.in_labels) {
      if (is_row(c)) {
        order += c;
        p.rows *= p.sizes.sizes[static_cast<unsigned char>(c) & 127];
      }
    }
    for (char c : contract_labels_) order += c;
    p.input_in_order = order == std::string(p.in_labels.begin(), p.in_labels.end());
    std::string c_order;
    for (char c : group_labels_) c_order += c;
    for (char c : p.in_labels) {
      if (is_row(c)) c_order += c;
    }
    for (char c : column_labels_) c_order += c;
    p.output_in_order = c_order == std::string(p.out_labels.begin(), p.out_labels.end());
    return p;
  }

  bool is_row(char c) const {
    const bool ellipsis = static_cast<unsigned char>(c) < 'A';
    return ellipsis || (eq_.weight.find(c) == std::string::npos && eq_.output.find(c) != std::string::npos);
  }

  static Index size_of(const Plan& p, char c) { return p.sizes.sizes[static_cast<unsigned char>(c) & 127]; }

  // Walks a row-major index space over `labels` and calls f(flat, offset) with the offset in a
  // tensor whose axes are `axes` (labels; a label not there has stride 0).
  template <class F>
  static void walk(const Plan& p, const std::vector<char>& labels, const std::vector<char>& axes, F&& f) {
    std::vector<Index> stride(labels.size(), 0), dim(labels.size(), 1), idx(labels.size(), 0);
    Index total = 1;
    for (std::size_t n = 0; n < labels.size(); ++n) {
      dim[n] = size_of(p, labels[n]);
      total *= dim[n];
      Index s = 1;
      for (std::size_t a = axes.size(); a-- > 0;) {
        if (axes[a] == labels[n]) stride[n] = s;
        s *= size_of(p, axes[a]);
      }
    }
    Index off = 0;
    for (Index flat = 0; flat < total; ++flat) {
      f(flat, off);
      for (std::size_t n = labels.size(); n-- > 0;) {
        ++idx[n];
        off += stride[n];
        if (idx[n] < dim[n]) break;
        off -= stride[n] * dim[n];
        idx[n] = 0;
      }
    }
  }

  // The input as (groups, rows, depth), summing the labels found only in the input.
  void gather(const T* input, const Plan& p, T* a) const {
    std::vector<char> target;
    for (char c : group_labels_) target.push_back(c);
    for (char c : p.in_labels) {
      if (is_row(c)) target.push_back(c);
    }
    for (char c : contract_labels_) target.push_back(c);
    std::vector<char> summed;
    for (char c : p.in_labels) {
      if (std::find(target.begin(), target.end(), c) == target.end()) summed.push_back(c);
    }
    walk(p, target, p.in_labels, [&](Index flat, Index off) {
      T sum = T(0);
      walk(p, summed, p.in_labels, [&](Index, Index soff) { sum += input[off + soff]; });
      a[flat] = sum;
    });
  }

  // (groups, rows, cols) -> the output's label order.
  void scatter(const T* c, const Plan& p, T* out) const {
    std::vector<char> source;
    for (char l : group_labels_) source.push_back(l);
    for (char l : p.in_labels) {
      if (is_row(l)) source.push_back(l);
    }
    for (char l : column_labels_) source.push_back(l);
    walk(p, source, p.out_labels, [&](Index flat, Index off) { out[off] = c[flat]; });
  }

  void add_bias(const Plan& p, T* out) const {
    std::vector<char> bias_labels;
    for (std::size_t i = first_bias_; i < eq_.output.size(); ++i) {
      if (bias_axes_->find(eq_.output[i]) != std::string::npos) bias_labels.push_back(eq_.output[i]);
    }
    // The bias over the output's trailing axes from its first bias label on; every leading index
    // adds the same block.
    const int lead = static_cast<int>(std::find(p.out_labels.begin(), p.out_labels.end(), eq_.output[first_bias_]) -
                                      p.out_labels.begin());
    const std::vector<char> trail(p.out_labels.begin() + lead, p.out_labels.end());
    const Index block = p.out.product(lead, p.out.rank());
    // bias_ is row-major over its biased labels in output order (its other axes are 1): the
    // offset of a block element in it has stride 0 along the unbiased labels.
    std::vector<T> expanded(static_cast<std::size_t>(block));
    walk(p, trail, bias_labels,
         [&](Index flat, Index off) { expanded[static_cast<std::size_t>(flat)] = bias_.data()[off]; });
    const Index total = p.out.size();
    for (Index i = 0; i < total; i += block) {
      for (Index j = 0; j < block; ++j) out[i + j] += expanded[static_cast<std::size_t>(j)];
    }
  }

  void require_built(const char* what) const {
    if (!built_) {
      throw value_error(
          detail::concat(describe(), ": ", what, " needs weights; call build(input_shape) or set_weights() first"));
    }
  }

  std::string equation_;
  std::vector<Index> partial_;
  std::optional<std::string> bias_axes_;
  std::optional<std::uint64_t> seed_;
  std::string name_;
  detail::EinsumEquation eq_;
  Activation activation_ = Activation::linear;
  std::size_t first_bias_ = 0;
  std::vector<char> group_labels_, contract_labels_, column_labels_;
  bool built_ = false;
  AnyTensor<T> kernel_, bias_;
  std::vector<detail::PackedMatrix<T>> packed_;
  Index groups_ = 1, depth_ = 1, cols_ = 1;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(EinsumDense)

#endif  // STRATA_LAYERS_EINSUM_DENSE_HPP
