// SPDX-License-Identifier: MIT
#ifndef STRATA_LAYERS_RNN_HPP
#define STRATA_LAYERS_RNN_HPP

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../any_layer.hpp"
#include "../detail/layer.hpp"
#include "../detail/options.hpp"
#include "../detail/recurrent.hpp"
#include "../layer_config.hpp"
#include "../mask.hpp"
#include "../tensor.hpp"
#include "gru.hpp"
#include "lstm.hpp"
#include "simple_rnn.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// Options of RNN (Keras `RNN(cell, ...)`), set by chaining: `RNNOptions().return_sequences(true)`.
/// return_sequences, return_state, go_backwards, stateful and zero_output_for_mask are described
/// in detail::RecurrentOptions; Keras' `unroll` changes only how Keras builds the loop, not its
/// values, so strata has no such option (a file's unroll is ignored).
class RNNOptions : public detail::RecurrentOptions<RNNOptions, detail::Options<RNNOptions>> {};

namespace detail {

/// What the Keras cells LSTMCell, GRUCell and SimpleRNNCell share. A Keras cell is one step of
/// its recurrent layer -- RNN(LSTMCell(u)) computes exactly LSTM(u) -- so a cell holds that
/// layer (strata's LSTM, GRU or SimpleRNN, its sequence options at their defaults) and RNN runs
/// it under its own options: the same kernels, weights and checks, no second implementation.
/// Derived provides `class_name` and `from_config`. Static (CRTP), not virtual.
template <class Derived, class Layer>
class RecurrentCell {
 public:
  using Scalar = typename Layer::Scalar;
  /// The recurrent layer that runs the cell over a sequence (LSTM<T> for an LSTMCell<T>).
  using LayerType = Layer;
  /// State tensors per step: 2 (h, c) for an LSTMCell, 1 (h) otherwise.
  static constexpr int state_count = Layer::state_count;

  Index units() const { return layer_.units(); }
  const std::string& name() const { return layer_.name(); }
  /// "strata::LSTMCell 'lstm_cell'": how messages name the cell.
  std::string describe() const { return layer_.describe(); }
  bool built() const { return layer_.built(); }
  /// Size of the input's last axis; 0 until built.
  Index input_dim() const { return layer_.input_dim(); }
  /// Keras build: the initial weights of the cell's layer (see LSTM, GRU, SimpleRNN).
  void build(Index features) { layer_.build(features); }
  /// Keras get_weights(): [kernel, recurrent_kernel, bias] as the cell's layer has them.
  Weights<Scalar> get_weights() const { return layer_.get_weights(); }
  /// Keras set_weights(); shape_error naming the cell on a wrong count or shape.
  void set_weights(const Weights<Scalar>& weights) { layer_.set_weights(weights); }
  Index count_params() const { return layer_.count_params(); }
  std::size_t weight_count() const { return layer_.weight_count(); }

  /// The cell's layer under RNN options: what RNN(cell, options) runs. It keeps the cell's name
  /// and weights.
  Layer layer(const RNNOptions& options) const {
    Layer l = layer_;
    l.set_sequence_options(options);
    return l;
  }

 protected:
  /// Throws value_error when `layer` has sequence options: in Keras they are RNN's, not the cell's.
  explicit RecurrentCell(Layer layer) : layer_(std::move(layer)) {
    layer_.set_label(Derived::class_name);
    if (layer_.return_sequences() || layer_.return_state() || layer_.go_backwards() || layer_.stateful() ||
        layer_.zero_output_for_mask()) {
      throw value_error(concat(describe(),
                               ": return_sequences, return_state, go_backwards, stateful and zero_output_for_mask "
                               "are options of RNN (RNNOptions), not of a cell"));
    }
  }

  Layer layer_;
};

/// The cell trait: what RNN<Cell> requires of its cell -- LSTMCell, GRUCell, SimpleRNNCell,
/// StackedRNNCells, or a user's cell with `LayerType`, `layer(const RNNOptions&)`, `describe()`
/// and `from_config`.
template <class C, class = void>
struct is_rnn_cell : std::false_type {};
template <class C>
struct is_rnn_cell<C, std::void_t<typename C::Scalar, typename C::LayerType,
                                  decltype(std::declval<const C&>().layer(std::declval<const RNNOptions&>())),
                                  decltype(std::declval<const C&>().describe())>>
    : std::bool_constant<is_layer_v<typename C::LayerType>> {};
template <class C>
inline constexpr bool is_rnn_cell_v = is_rnn_cell<C>::value;

/// A cell of one step (not a stack): a StackedRNNCells can hold it.
template <class C, class = void>
struct is_single_rnn_cell : std::false_type {};
template <class C>
struct is_single_rnn_cell<C, std::void_t<decltype(C::state_count), decltype(std::declval<const C&>().units()),
                                         decltype(std::declval<const C&>().input_dim())>>
    : std::bool_constant<is_rnn_cell_v<C>> {};
template <class C>
inline constexpr bool is_single_rnn_cell_v = is_single_rnn_cell<C>::value;

}  // namespace detail

/// Keras `LSTMCell(units, ...)`: an LSTM's step, run over a sequence by RNN (RNN(LSTMCell(u))
/// computes exactly LSTM(u), with LSTM's kernels). Options: LSTMOptions' activation,
/// recurrent_activation, use_bias, unit_forget_bias, input_dim, seed and name; the sequence options
/// belong to RNN (value_error here). Weights, as Keras' get_weights(): [kernel (features, 4u),
/// recurrent_kernel (u, 4u), bias (4u,)], gate blocks i, f, c, o.
template <class T>
class LSTMCell : public detail::RecurrentCell<LSTMCell<T>, LSTM<T>> {
  using Base = detail::RecurrentCell<LSTMCell<T>, LSTM<T>>;

 public:
  static constexpr const char* class_name = "LSTMCell";
  explicit LSTMCell(Index units, const LSTMOptions& options = LSTMOptions()) : Base(LSTM<T>(units, options)) {}
  /// Keras config: LSTM's cell options (units, activation, recurrent_activation, use_bias,
  /// unit_forget_bias), read with LSTM's defaults for the file's Keras version.
  static LSTMCell from_config(const LayerConfig<T>& config) { return LSTMCell(LSTM<T>::from_config(config)); }

 private:
  explicit LSTMCell(LSTM<T> layer) : Base(std::move(layer)) {}
};

/// Keras `GRUCell(units, ...)`: a GRU's step, run by RNN (RNN(GRUCell(u)) computes exactly GRU(u)).
/// Options: GRUOptions' activation, recurrent_activation, use_bias, reset_after, input_dim, seed,
/// name. Weights: [kernel (features, 3u), recurrent_kernel (u, 3u), bias ((2, 3u) with
/// reset_after, else (3u,))], gate blocks z, r, h.
template <class T>
class GRUCell : public detail::RecurrentCell<GRUCell<T>, GRU<T>> {
  using Base = detail::RecurrentCell<GRUCell<T>, GRU<T>>;

 public:
  static constexpr const char* class_name = "GRUCell";
  explicit GRUCell(Index units, const GRUOptions& options = GRUOptions()) : Base(GRU<T>(units, options)) {}
  /// Keras config: GRU's cell options, read with GRU's defaults for the file's Keras version
  /// (tfjs and Keras <= 2.2: reset_after false).
  static GRUCell from_config(const LayerConfig<T>& config) { return GRUCell(GRU<T>::from_config(config)); }

 private:
  explicit GRUCell(GRU<T> layer) : Base(std::move(layer)) {}
};

/// Keras `SimpleRNNCell(units, ...)`: h = activation(x . kernel + h . recurrent_kernel + bias), run
/// by RNN (RNN(SimpleRNNCell(u)) computes exactly SimpleRNN(u)). Options: SimpleRNNOptions'
/// activation, use_bias, input_dim, seed, name. Weights: [kernel (features, u), recurrent_kernel
/// (u, u), bias (u,)].
template <class T>
class SimpleRNNCell : public detail::RecurrentCell<SimpleRNNCell<T>, SimpleRNN<T>> {
  using Base = detail::RecurrentCell<SimpleRNNCell<T>, SimpleRNN<T>>;

 public:
  static constexpr const char* class_name = "SimpleRNNCell";
  explicit SimpleRNNCell(Index units, const SimpleRNNOptions& options = SimpleRNNOptions())
      : Base(SimpleRNN<T>(units, options)) {}
  static SimpleRNNCell from_config(const LayerConfig<T>& config) {
    return SimpleRNNCell(SimpleRNN<T>::from_config(config));
  }

 private:
  explicit SimpleRNNCell(SimpleRNN<T> layer) : Base(std::move(layer)) {}
};

/// A cell of one step of any type (LSTMCell, GRUCell, SimpleRNNCell, or a user's), as
/// StackedRNNCells holds its cells: a file's stack mixes cell types chosen at run time. Copies
/// share the (immutable) cell.
template <class T>
class AnyRNNCell {
 public:
  template <class C,
            std::enable_if_t<detail::is_single_rnn_cell_v<C> && std::is_same_v<typename C::Scalar, T>, int> = 0>
  AnyRNNCell(C cell)  // NOLINT(google-explicit-constructor): a list of cells converts element by element
      : node_(std::make_shared<const Holder<C>>(std::move(cell))) {}

  std::string describe() const { return node_->describe(); }
  const char* keras_class_name() const { return node_->class_name(); }
  Index units() const { return node_->units(); }
  int state_count() const { return node_->state_count(); }
  Index input_dim() const { return node_->input_dim(); }
  /// The cell's recurrent layer under RNN options, type-erased.
  AnyLayer<T> layer(const RNNOptions& options) const { return node_->layer(options); }
  /// The typed cell when it is a C, else null.
  template <class C>
  const C* target() const {
    const auto* h = dynamic_cast<const Holder<C>*>(node_.get());
    return h != nullptr ? &h->cell : nullptr;
  }

 private:
  struct Node {
    virtual ~Node() = default;
    virtual std::string describe() const = 0;
    virtual const char* class_name() const = 0;
    virtual Index units() const = 0;
    virtual int state_count() const = 0;
    virtual Index input_dim() const = 0;
    virtual AnyLayer<T> layer(const RNNOptions& options) const = 0;
  };
  template <class C>
  struct Holder final : Node {
    explicit Holder(C c) : cell(std::move(c)) {}
    std::string describe() const override { return cell.describe(); }
    const char* class_name() const override { return C::class_name; }
    Index units() const override { return cell.units(); }
    int state_count() const override { return C::state_count; }
    Index input_dim() const override { return cell.input_dim(); }
    AnyLayer<T> layer(const RNNOptions& options) const override { return AnyLayer<T>(cell.layer(options)); }
    C cell;
  };

  std::shared_ptr<const Node> node_;
};

/// Options of StackedRNNCells, set by chaining.
class StackedRNNCellsOptions : public detail::Options<StackedRNNCellsOptions> {
 public:
  /// Keras 2's `reverse_state_order`: states (returned, initial, stored) are listed cell by cell
  /// from the last cell to the first. Default false (Keras 2 and 3); TF.js always orders them so,
  /// and its files are read with it on.
  StackedRNNCellsOptions& reverse_state_order(bool on) {
    reverse_state_order_ = on;
    return *this;
  }
  bool reverse_state_order() const { return reverse_state_order_; }

 private:
  bool reverse_state_order_ = false;
};

template <class T>
class StackedRNNCells;

namespace detail {

/// The layer RNN(StackedRNNCells) runs: the cells' recurrent layers one after the other, each
/// over the whole sequence. Why that equals Keras' per-step loop: cell k at step t reads cell
/// k-1's output at t and its own state from t-1, so running cell k-1 over all steps first
/// changes nothing; at a masked step every cell keeps its state, as each layer does, and the
/// stack's output is the last cell's. Every cell but the last returns its sequence, with the
/// first taking go_backwards (the others read its output, already in processing order, with the
/// mask reversed to match) and the last the RNN's return_sequences and zero_output_for_mask.
template <class T>
class StackedRecurrence {
 public:
  using Scalar = T;
  /// Initial and final states: every cell's (h, c for an LSTMCell; h otherwise), cell after
  /// cell, as Keras' return_state lists them (last cell first with reverse_state_order).
  using State = std::vector<Tensor<T, 2>>;

  StackedRecurrence(const std::vector<AnyRNNCell<T>>& cells, const RNNOptions& options, bool reverse_state_order)
      : return_sequences_(options.return_sequences()),
        return_state_(options.return_state()),
        go_backwards_(options.go_backwards()),
        stateful_(options.stateful()),
        zero_output_for_mask_(options.zero_output_for_mask()),
        reverse_state_order_(reverse_state_order),
        name_(options.name()) {
    if (cells.empty()) throw value_error(describe() + ": StackedRNNCells needs at least one cell");
    std::vector<std::string> keys;
    for (std::size_t k = 0; k < cells.size(); ++k) {
      const bool last = k + 1 == cells.size();
      const RNNOptions flags = RNNOptions()
                                   .return_sequences(!last || return_sequences_)
                                   .return_state(true)
                                   .go_backwards(k == 0 && go_backwards_)
                                   .stateful(stateful_)
                                   .zero_output_for_mask(last && zero_output_for_mask_);
      // Keras 3 saves a list's layers under snake_case(class) keys, "_1", "_2", ... per class.
      const std::string base = to_snake_case(cells[k].keras_class_name());
      const auto same = static_cast<std::size_t>(std::count(keys.begin(), keys.end(), base));
      keys.push_back(base);
      cells_.push_back(Cell{cells[k].layer(flags), cells[k].units(), cells[k].state_count(), cells[k].describe(),
                            same == 0 ? base : base + "_" + std::to_string(same)});
    }
    // Built when every cell is, each for the one before it.
    Index features = cells[0].input_dim();
    for (std::size_t k = 0; k < cells.size() && features > 0; ++k) {
      if (cells[k].input_dim() != (k == 0 ? features : cells[k - 1].units())) features = 0;
    }
    input_dim_ = features;
  }

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  void set_label(std::string label) { label_ = std::move(label); }
  std::string describe() const { return describe_layer(label_.empty() ? "RNN" : label_.c_str(), name_); }
  /// The last cell's units (the output's last axis).
  Index units() const { return cells_.back().units; }
  std::size_t cell_count() const { return cells_.size(); }
  bool return_sequences() const { return return_sequences_; }
  bool return_state() const { return return_state_; }
  bool go_backwards() const { return go_backwards_; }
  bool stateful() const { return stateful_; }
  bool zero_output_for_mask() const { return zero_output_for_mask_; }
  bool reverse_state_order() const { return reverse_state_order_; }
  bool built() const { return input_dim_ > 0; }
  Index input_dim() const { return input_dim_; }

  /// Keras build: each cell's initial weights, cell k for the units of cell k-1.
  void build(Index features) {
    if (features < 1) throw value_error(concat(describe(), ": input features must be at least 1; got ", features));
    Index f = features;
    for (Cell& c : cells_) {
      c.layer.build(f);
      f = c.units;
    }
    input_dim_ = features;
  }

  /// Keras get_weights(): the first cell's weights, then the next cell's, ...
  Weights<T> get_weights() const {
    require_built("get_weights");
    Weights<T> w;
    for (const Cell& c : cells_) {
      for (AnyTensor<T>& x : c.layer.get_weights()) w.push_back(std::move(x));
    }
    return w;
  }
  /// Keras set_weights(): each cell's list in turn. Throws shape_error naming the cell on a wrong
  /// count or shape, or a kernel whose inputs are not the previous cell's units; on error the
  /// layer is unchanged.
  void set_weights(const Weights<T>& weights) {
    if (weights.size() != weight_count()) {
      std::string per_cell;
      for (std::size_t k = 0; k < cells_.size(); ++k) {
        per_cell +=
            concat(k == 0 ? "" : ", ", cells_[k].layer.weight_count(), " for cell ", k, " (", cells_[k].who, ")");
      }
      throw shape_error(concat(describe(), ": set_weights expects ", weight_count(), " arrays (", per_cell, "); got ",
                               weights.size()));
    }
    std::vector<AnyLayer<T>> layers;
    std::size_t at = 0;
    Index features = 0;
    for (std::size_t k = 0; k < cells_.size(); ++k) {
      const std::size_t n = cells_[k].layer.weight_count();
      const Weights<T> part(weights.begin() + static_cast<std::ptrdiff_t>(at),
                            weights.begin() + static_cast<std::ptrdiff_t>(at + n));
      const Index in = part.empty() || part[0].rank() != 2 ? 0 : part[0].shape()[0];
      if (k == 0) {
        features = in;
      } else if (in != cells_[k - 1].units) {
        throw shape_error(concat(describe(), ", cell ", k, " (", cells_[k].who, "): weight ", at,
                                 " (kernel) must have ", cells_[k - 1].units, " rows, the units of cell ", k - 1,
                                 "; got ", part.empty() ? std::string("none") : part[0].shape().to_string()));
      }
      layers.push_back(cells_[k].layer);
      try {
        layers.back().set_weights(part);
      } catch (const shape_error& e) {
        throw shape_error(concat(describe(), ", cell ", k, ": ", e.what()));
      }
      at += n;
    }
    for (std::size_t k = 0; k < cells_.size(); ++k) cells_[k].layer = std::move(layers[k]);
    input_dim_ = features;
  }
  Index count_params() const {
    require_built("count_params");
    Index n = 0;
    for (const Cell& c : cells_) n += c.layer.count_params();
    return n;
  }
  /// Forgets the stored states of a stateful stack (every cell's).
  void reset_states() {
    for (Cell& c : cells_) c.layer.reset_states();
  }

  static constexpr int output_rank(int input_rank) { return input_rank == 3 ? dynamic_rank : invalid_rank; }
  /// (batch, time, features) -> (batch, time, units) or (batch, units) (the last cell's units).
  Shape compute_output_shape(const Shape& input) const {
    require_built("call");
    if (input.rank() != 3 || input[2] != input_dim_) {
      throw shape_error(concat(describe(), ": input must have rank 3 (batch, time, features=", input_dim_,
                               "); got shape ", input.to_string()));
    }
    if (input[1] == 0) {
      throw shape_error(concat(describe(), ": input must have at least one time step; got shape ", input.to_string()));
    }
    return return_sequences_ ? Shape{input[0], input[1], units()} : Shape{input[0], units()};
  }
  /// Keras compute_mask: the input mask with return_sequences, else none.
  const Mask* compute_mask(const Mask* mask) const { return return_sequences_ ? mask : nullptr; }

  /// Low-level call: the output only, from zero states; a stateful stack throws value_error.
  void forward(const T* input, const Shape& input_shape, T* output, Index output_size,
               const Mask* mask = nullptr) const {
    check_output_size(*this, compute_output_shape(input_shape), output_size);
    std::vector<AnyTensor<T>> out = run(*this, TensorView<T>(input, input_shape), {}, borrow(mask), false);
    std::copy(out[0].data(), out[0].data() + output_size, output);
  }

  /// Keras `rnn(x)` and `rnn(x, mask=mask)`: the output (AnyTensor of rank 3 or 2).
  template <class X>
  AnyTensor<T> operator()(const X& x) const {
    return std::move(outputs(x)[0]);
  }
  template <class X>
  AnyTensor<T> operator()(const X& x) {
    return std::move(outputs(x)[0]);
  }
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) const {
    return std::move(outputs(x, nullptr, &mask)[0]);
  }
  template <class X>
  AnyTensor<T> operator()(const X& x, const Mask& mask) {
    return std::move(outputs(x, nullptr, &mask)[0]);
  }

  /// Keras' return value as a list: [output], then with return_state every cell's final states
  /// (State's order). initial_state (State's order) and mask ((batch, time)) may be null.
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State* initial_state = nullptr,
                                    const Mask* mask = nullptr) const {
    return call_with(*this, x, initial_state, mask);
  }
  template <class X>
  std::vector<AnyTensor<T>> outputs(const X& x, const State* initial_state = nullptr, const Mask* mask = nullptr) {
    return call_with(*this, x, initial_state, mask);
  }

  bool carries_state() const { return stateful_; }
  int output_count() const { return 1 + (return_state_ ? static_cast<int>(state_total()) : 0); }

  // --- Keras description
  static constexpr bool takes_mask = true;
  std::size_t weight_count() const {
    std::size_t n = 0;
    for (const Cell& c : cells_) n += c.layer.weight_count();
    return n;
  }
  /// Each cell's weights, where Keras 3 saves them: "cell/cells/<key>" (key: the snake_case cell
  /// class, "_1", "_2", ... for repeats), cell after cell.
  std::vector<WeightGroup> weight_groups(const std::vector<Shape>& inputs) const {
    if (inputs.empty() || inputs[0].rank() != 3) {
      throw shape_error(concat(describe(), ": input must have rank 3 (batch, time, features); got ",
                               inputs.empty() ? std::string("no input") : inputs[0].to_string()));
    }
    std::vector<WeightGroup> groups;
    Index features = inputs[0][2];
    for (const Cell& c : cells_) {
      for (WeightGroup g : c.layer.weight_groups({Shape{inputs[0][0], inputs[0][1], features}})) {
        g.path = "cell/cells/" + c.key + detail::strip_prefix(g.path, "cell");
        groups.push_back(std::move(g));
      }
      features = c.units;
    }
    return groups;
  }
  /// The output, then with return_state every cell's states (batch, units of the cell).
  std::vector<Shape> output_shapes(const std::vector<Shape>& inputs) const {
    check_input_count(inputs.size());
    std::vector<Shape> result{compute_output_shape(inputs[0])};
    const std::vector<Index> units = state_units();
    for (std::size_t k = 1; k < inputs.size(); ++k) {
      const Shape want{inputs[0][0], units[k - 1]};
      if (inputs[k] != want) {
        throw shape_error(concat(describe(), ": initial state ", k - 1, " must have shape ", want.to_string(),
                                 "; it is given ", inputs[k].to_string()));
      }
    }
    if (return_state_) {
      for (Index u : units) result.push_back(Shape{inputs[0][0], u});
    }
    return result;
  }
  std::vector<int> output_mask_ranks(const std::vector<Shape>& inputs, const std::vector<int>& masks) const {
    const int mask = masks.empty() ? 0 : masks[0];
    check_recurrent_mask_rank(mask, describe());
    std::vector<int> out(output_shapes(inputs).size(), 0);
    if (return_sequences_) out[0] = mask;
    return out;
  }
  /// In a model graph: the sequence, then optionally every initial state (State's order).
  void call_graph(GraphCall<T>& c) const { graph(*this, c); }
  void call_graph(GraphCall<T>& c) { graph(*this, c); }

 private:
  struct Cell {
    AnyLayer<T> layer;
    Index units;
    int states;
    std::string who;  // the cell, "strata::LSTMCell 'lstm_cell'"
    std::string key;  // its key in a .keras file
  };

  void require_built(const char* what) const {
    if (!built()) {
      throw value_error(concat(describe(), ": ", what,
                               " needs weights; give the first cell input_dim (each next one the units before it), "
                               "or call build() or set_weights() first"));
    }
  }
  std::size_t state_total() const {
    std::size_t n = 0;
    for (const Cell& c : cells_) n += static_cast<std::size_t>(c.states);
    return n;
  }
  // The cells in the order their states are listed.
  std::vector<std::size_t> state_cell_order() const {
    std::vector<std::size_t> order(cells_.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = reverse_state_order_ ? order.size() - 1 - k : k;
    return order;
  }
  // Each listed state's units.
  std::vector<Index> state_units() const {
    std::vector<Index> units;
    for (std::size_t k : state_cell_order())
      units.insert(units.end(), static_cast<std::size_t>(cells_[k].states), cells_[k].units);
    return units;
  }
  void check_input_count(std::size_t n) const {
    if (n != 1 && n != 1 + state_total()) {
      throw value_error(concat(describe(), ": takes an input and optionally ", state_total(),
                               " initial state tensors (every cell's); it is given ", n, " tensors"));
    }
  }
  // A mask the caller owns, as the MaskPtr a graph call takes (not owned).
  static MaskPtr borrow(const Mask* mask) { return mask != nullptr ? MaskPtr(MaskPtr(), mask) : MaskPtr(); }

  template <class Self, class X>
  static std::vector<AnyTensor<T>> call_with(Self& self, const X& x, const State* initial, const Mask* mask) {
    const auto [data, in] = sequence_input<T, 3>(x, self.describe());
    std::vector<TensorView<T>> init;
    if (initial != nullptr) {
      self.check_input_count(1 + initial->size());
      for (const Tensor<T, 2>& s : *initial) init.emplace_back(s.data(), shape_of(s));
    }
    return run(self, TensorView<T>(data, in), init, borrow(mask), true);
  }

  template <class Self>
  static void graph(Self& self, GraphCall<T>& c) {
    self.check_input_count(c.inputs.size());
    const TensorView<T>& x = c.inputs[0].tensor;
    if (x.empty()) throw shape_error(concat(self.describe(), ": the input tensor is empty"));
    std::vector<TensorView<T>> init;
    for (std::size_t k = 1; k < c.inputs.size(); ++k) init.push_back(c.inputs[k].tensor);
    const MaskPtr mask = c.inputs[0].mask;
    c.outputs = run(self, x, init, mask, self.return_state_);
    c.masks.assign(c.outputs.size(), MaskPtr());
    if (self.return_sequences_) c.masks[0] = mask;
  }

  // The cells one after the other; returns [output, states in State's order] (the states only
  // when `with_states`).
  template <class Self>
  static std::vector<AnyTensor<T>> run(Self& self, const TensorView<T>& x, const std::vector<TensorView<T>>& init,
                                       const MaskPtr& mask, bool with_states) {
    self.compute_output_shape(x.shape());
    const std::vector<Index> units = self.state_units();
    for (std::size_t k = 0; k < init.size(); ++k) {
      const Shape want{x.shape()[0], units[k]};
      if (init[k].shape() != want) {
        throw shape_error(concat(self.describe(), ": initial state ", k, " must have shape ", want.to_string(),
                                 "; got ",
                                 init[k].empty() ? std::string("an empty tensor") : init[k].shape().to_string()));
      }
    }
    if (mask) check_mask(*mask, x.shape()[0], x.shape()[1], self.describe());
    // Where each cell's states sit in the listed order.
    const std::vector<std::size_t> order = self.state_cell_order();
    std::vector<std::size_t> first(self.cells_.size());
    std::size_t at = 0;
    for (std::size_t k : order) {
      first[k] = at;
      at += static_cast<std::size_t>(self.cells_[k].states);
    }
    // The cells after the first read the first cell's output in processing order.
    MaskPtr processing = mask;
    if (mask && self.go_backwards_ && self.cells_.size() > 1) {
      const Index batch = mask->dimension(0), steps = mask->dimension(1);
      auto reversed = std::make_shared<Mask>(batch, steps);
      for (Index b = 0; b < batch; ++b) {
        for (Index t = 0; t < steps; ++t) (*reversed)(b, t) = (*mask)(b, steps - 1 - t);
      }
      processing = std::move(reversed);
    }
    std::vector<AnyTensor<T>> finals(at);
    AnyTensor<T> sequence;
    TensorView<T> in = x;
    for (std::size_t k = 0; k < self.cells_.size(); ++k) {
      GraphCall<T> call;
      call.inputs.push_back(GraphInput<T>{in, k == 0 ? mask : processing, nullptr});
      if (!init.empty()) {
        for (int s = 0; s < self.cells_[k].states; ++s) {
          call.inputs.push_back(GraphInput<T>{init[first[k] + static_cast<std::size_t>(s)], MaskPtr(), nullptr});
        }
      }
      try {
        self.cells_[k].layer.call_graph(call);
      } catch (const value_error& e) {
        throw value_error(concat(self.describe(), ", cell ", k, ": ", e.what()));
      }
      for (int s = 0; s < self.cells_[k].states; ++s) {
        finals[first[k] + static_cast<std::size_t>(s)] = std::move(call.outputs[1 + static_cast<std::size_t>(s)]);
      }
      sequence = std::move(call.outputs[0]);
      in = TensorView<T>(sequence);
    }
    std::vector<AnyTensor<T>> out;
    out.push_back(std::move(sequence));
    if (with_states) {
      for (AnyTensor<T>& s : finals) out.push_back(std::move(s));
    }
    return out;
  }

  std::vector<Cell> cells_;
  bool return_sequences_;
  bool return_state_;
  bool go_backwards_;
  bool stateful_;
  bool zero_output_for_mask_;
  bool reverse_state_order_;
  std::string name_;
  std::string label_;
  Index input_dim_ = 0;
};

}  // namespace detail

/// Keras `StackedRNNCells(cells)` (and a plain list of cells, which Keras' RNN wraps in one): the
/// cells run one after the other at every step, each on the previous one's output; RNN runs the
/// stack. Cells of any one-step type mix: `StackedRNNCells<float>({LSTMCell<float>(8),
/// GRUCell<float>(4)})`. Weights, as Keras' get_weights(): each cell's list in turn. States: every
/// cell's, cell after cell (StackedRNNCellsOptions::reverse_state_order for TF.js' order).
template <class T>
class StackedRNNCells {
 public:
  using Scalar = T;
  using LayerType = detail::StackedRecurrence<T>;
  static constexpr const char* class_name = "StackedRNNCells";

  /// Throws value_error for an empty list.
  explicit StackedRNNCells(std::vector<AnyRNNCell<T>> cells,
                           const StackedRNNCellsOptions& options = StackedRNNCellsOptions())
      : cells_(std::move(cells)), reverse_state_order_(options.reverse_state_order()), name_(options.name()) {
    if (cells_.empty()) throw value_error(describe() + ": needs at least one cell");
  }

  const std::vector<AnyRNNCell<T>>& cells() const { return cells_; }
  bool reverse_state_order() const { return reverse_state_order_; }
  const std::string& name() const { return name_; }
  std::string describe() const { return detail::describe_layer(class_name, name_); }

  /// The stack's layer under RNN options: what RNN(StackedRNNCells) runs.
  LayerType layer(const RNNOptions& options) const { return LayerType(cells_, options, reverse_state_order_); }

  /// Keras config: "cells", a list of cell configs, each built through the registry (any
  /// registered one-step cell). Files of TF.js list the states in reverse (reverse_state_order).
  static StackedRNNCells from_config(const LayerConfig<T>& config) {
    std::vector<AnyRNNCell<T>> cells;
    for (const LayerConfig<T>& cell : config.sublayers("cells")) cells.push_back(config.registry().rnn_cell(cell));
    if (cells.empty()) config.invalid("'cells' is empty; a StackedRNNCells needs at least one cell");
    return StackedRNNCells(
        std::move(cells),
        StackedRNNCellsOptions().reverse_state_order(config.keras_version().tfjs).name(config.name()));
  }
  /// Config keys holding nested cells (checked to be registered before anything is built).
  static std::vector<std::string> sublayer_keys() { return {"cells"}; }

 private:
  std::vector<AnyRNNCell<T>> cells_;
  bool reverse_state_order_;
  std::string name_;
};

/// Keras `RNN(cell, return_sequences=..., ...)` on (batch, time, features): the cell (LSTMCell,
/// GRUCell, SimpleRNNCell, StackedRNNCells, or a user's cell with the cell trait) run over the
/// sequence.
///
/// RNN<LSTMCell<T>> *is* an LSTM<T> under the class name RNN (likewise GRUCell -> GRU,
/// SimpleRNNCell -> SimpleRNN): the same kernels, calls, states, masks and streaming, so it is
/// bitwise equal to the plain layer with the same weights, and Bidirectional wraps it.
/// RNN<StackedRNNCells<T>> runs the cells' layers one after the other (detail::StackedRecurrence);
/// its states are every cell's, in order, and `outputs(x, &states, &mask)` takes and returns
/// them as a list. Weights, as Keras' get_weights(): the cell's (each cell's in turn). Options:
/// RNNOptions (return_sequences, return_state, go_backwards, stateful, zero_output_for_mask).
template <class Cell>
class RNN : public Cell::LayerType {
  static_assert(detail::is_rnn_cell_v<Cell>,
                "strata::RNN: the cell must be a Keras cell (LSTMCell, GRUCell, SimpleRNNCell, StackedRNNCells, or a "
                "type with the cell trait, detail::is_rnn_cell).");
  using Base = typename Cell::LayerType;

 public:
  using Scalar = typename Cell::Scalar;
  static constexpr const char* class_name = "RNN";

  explicit RNN(const Cell& cell, const RNNOptions& options = RNNOptions()) : Base(cell.layer(options)) {
    this->set_name(options.name());
    this->set_label("RNN(" + detail::strip_prefix(cell.describe(), "strata::") + ")");
  }

  /// Keras config: cell ({class_name, config}, any registered cell class), return_sequences,
  /// return_state, go_backwards, stateful, zero_output_for_mask; unroll changes nothing here.
  static RNN from_config(const LayerConfig<Scalar>& config) {
    config.refuse("time_major");
    RNNOptions options;
    detail::read_sequence_options(options, config).name(config.name());
    return RNN(Cell::from_config(config.sublayer("cell")), options);
  }
};

namespace detail {

/// The registry's entry for Keras' RNN: the cell's class is known only from the config, so it
/// asks the registry for that cell's RNN<Cell> (every registered cell provides one), and likewise
/// for Bidirectional(RNN(cell)).
template <class T>
struct RNNEntry {
  using Scalar = T;
  static constexpr const char* class_name = "RNN";
  static std::vector<std::string> sublayer_keys() { return {"cell"}; }
  static AnyLayer<T> from_config(const LayerConfig<T>& config) { return config.registry().rnn(config); }
  /// Keras' Bidirectional(RNN(cell)) from the Bidirectional's config.
  static AnyLayer<T> bidirectional_from_config(const LayerConfig<T>& config) {
    return config.registry().bidirectional_rnn(config);
  }
};

// STRATA_REGISTER_LAYER names the class inside strata::detail, where LSTMCell, GRUCell and
// SimpleRNNCell are the kernels' step classes: these aliases name the Keras cells.
template <class T>
using KerasLSTMCell = strata::LSTMCell<T>;
template <class T>
using KerasGRUCell = strata::GRUCell<T>;
template <class T>
using KerasSimpleRNNCell = strata::SimpleRNNCell<T>;

}  // namespace detail

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

STRATA_REGISTER_LAYER(KerasLSTMCell)
STRATA_REGISTER_LAYER(KerasGRUCell)
STRATA_REGISTER_LAYER(KerasSimpleRNNCell)
STRATA_REGISTER_LAYER(StackedRNNCells)
STRATA_REGISTER_LAYER(RNNEntry)

#endif  // STRATA_LAYERS_RNN_HPP
