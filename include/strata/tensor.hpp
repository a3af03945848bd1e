// SPDX-License-Identifier: MIT
#ifndef STRATA_TENSOR_HPP
#define STRATA_TENSOR_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "error.hpp"
#include "shape.hpp"

#if defined(__linux__) && !defined(STRATA_NO_HUGE_PAGES) && __has_include(<sys/mman.h>)
#include <sys/mman.h>
#endif

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

/// The tensor every layer takes and returns: RowMajor, so memory order equals numpy's (C order)
/// and Keras weights and inputs load without transposes. Axis 0 is the batch.
template <class T, int Rank>
using Tensor = Eigen::Tensor<T, Rank, Eigen::RowMajor, Eigen::Index>;

/// A writable view of memory laid out like Tensor<T, Rank>.
template <class T, int Rank>
using TensorMap = Eigen::TensorMap<Tensor<T, Rank>>;

/// A read-only view of memory laid out like Tensor<T, Rank>; layers accept it like a Tensor.
template <class T, int Rank>
using ConstTensorMap = Eigen::TensorMap<const Tensor<T, Rank>>;

/// The shape of an Eigen tensor or tensor map, e.g. `shape_of(y).to_string()` gives "(32, 10, 1)".
template <class X>
Shape shape_of(const X& x) {
  return Shape::from_dims(x.dimensions(), static_cast<int>(X::NumIndices));
}

namespace detail {

template <class X, class = void>
struct is_tensor_like : std::false_type {};

template <class X>
struct is_tensor_like<
    X, std::void_t<typename X::Scalar, decltype(X::NumIndices), decltype(X::Layout),
                   decltype(std::declval<const X&>().data()), decltype(std::declval<const X&>().dimensions())>>
    : std::true_type {};

/// True when X is an Eigen tensor or tensor map with scalar T (of either layout; layers
/// static_assert RowMajor with a readable message).
template <class X, class T>
inline constexpr bool is_tensor_input_v = [] {
  if constexpr (is_tensor_like<X>::value) {
    return std::is_same_v<std::remove_const_t<typename X::Scalar>, T>;
  } else {
    return false;
  }
}();

using strata::shape_of;

template <int Rank>
std::array<Index, static_cast<std::size_t>(Rank)> to_dims(const Shape& s) {
  STRATA_ASSERT(s.rank() == Rank);
  std::array<Index, static_cast<std::size_t>(Rank)> d{};
  for (int i = 0; i < Rank; ++i) d[static_cast<std::size_t>(i)] = s[i];
  return d;
}

/// Asks Linux to back the whole 2 MiB pages inside [data, data + bytes) with transparent huge
/// pages, when the system leaves that to the program (THP "madvise" mode, Debian's default).
// Why: a fresh output of many MiB is first touched by the layer writing it, and each 4 KiB page
// then costs a page fault; on virtual machines a fault can cost microseconds, which made a
// Dense(512) on (64, 256, 512) (a 32 MiB output) take twice as long as its arithmetic. One fault
// per 2 MiB removes most of that. Advice only: results do not change, and a kernel without THP
// ignores it. Define STRATA_NO_HUGE_PAGES to leave it out.
inline void advise_huge_pages([[maybe_unused]] void* data, [[maybe_unused]] std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE) && !defined(STRATA_NO_HUGE_PAGES)
  constexpr std::size_t huge = std::size_t(1) << 21;
  if (bytes < 2 * huge) return;
  const auto first = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t begin = (first + huge - 1) & ~(std::uintptr_t(huge) - 1);
  const std::uintptr_t end = (first + bytes) & ~(std::uintptr_t(huge) - 1);
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

/// A new tensor of the given dimensions with unspecified contents (the outputs layers return):
/// large ones advise huge pages before anything touches them.
template <class T, int Rank, class Dims>
Tensor<T, Rank> new_tensor(const Dims& dims) {
  Tensor<T, Rank> t(dims);
  advise_huge_pages(t.data(), static_cast<std::size_t>(t.size()) * sizeof(T));
  return t;
}

template <class T, int... Ranks>
using rank_variant = std::variant<std::monostate, Tensor<T, Ranks>...>;

template <class T, class Seq>
struct any_storage;
template <class T, int... I>
struct any_storage<T, std::integer_sequence<int, I...>> {
  using type = rank_variant<T, (I + 1)...>;
};

/// Calls f(std::integral_constant<int, R>{}) for the run-time rank r in [1, max_rank].
template <class F, int... I>
decltype(auto) dispatch_rank_impl(int r, F&& f, std::integer_sequence<int, I...>) {
  using Result = decltype(f(std::integral_constant<int, 1>{}));
  if constexpr (std::is_void_v<Result>) {
    (void)((r == I + 1 ? (f(std::integral_constant<int, I + 1>{}), true) : false) || ...);
  } else {
    Result result{};
    (void)((r == I + 1 ? (result = f(std::integral_constant<int, I + 1>{}), true) : false) || ...);
    return result;
  }
}

template <class F>
decltype(auto) dispatch_rank(int r, F&& f) {
  if (r < 1 || r > max_rank) {
    throw shape_error(detail::concat("strata: rank must be between 1 and ", max_rank, "; got ", r));
  }
  return dispatch_rank_impl(r, std::forward<F>(f), std::make_integer_sequence<int, max_rank>{});
}

}  // namespace detail

/// A tensor whose rank is known only at run time: it holds one Tensor<T, R> for some R in
/// [1, max_rank]. Layers whose output rank depends on an option (LSTM's return_sequences) return
/// it; it converts to the Tensor<T, R> you name, moving the data when it is an rvalue:
///
///     strata::Tensor<float, 3> y = lstm(x);   // throws strata::shape_error if rank differs
///
/// It is also how weight lists are passed (get_weights / set_weights), as in Keras.
template <class T>
class AnyTensor {
 public:
  using Scalar = T;

  /// An empty AnyTensor (rank 0, no data).
  AnyTensor() = default;

  /// Holds t (implicit, so a Tensor can be passed wherever an AnyTensor is expected). Converting
  /// back works in a declaration, `Tensor<T, 3> y = any;`; to assign to an existing tensor use
  /// `y = std::move(any).get<3>();`.
  template <int Rank, std::enable_if_t<(Rank >= 1 && Rank <= max_rank), int> = 0>
  AnyTensor(Tensor<T, Rank> t)  // NOLINT(google-explicit-constructor)
      : storage_(std::move(t)) {}

  /// Copies any RowMajor tensor expression with data (a TensorMap, for example).
  template <class X,
            std::enable_if_t<detail::is_tensor_input_v<X, T> && !std::is_same_v<X, Tensor<T, X::NumIndices>>, int> = 0>
  explicit AnyTensor(const X& x) {
    static_assert(static_cast<int>(X::Layout) == static_cast<int>(Eigen::RowMajor),
                  "strata::AnyTensor: only RowMajor tensors can be copied in.");
    constexpr int Rank = X::NumIndices;
    Tensor<T, Rank> t(x.dimensions());
    std::copy(x.data(), x.data() + t.size(), t.data());
    storage_ = std::move(t);
  }

  /// A tensor of the given shape with unspecified contents.
  static AnyTensor uninitialized(const Shape& shape) {
    AnyTensor result;
    (void)shape.size();  // throws on overflow before allocating
    detail::dispatch_rank(shape.rank(), [&](auto r) {
      constexpr int Rank = decltype(r)::value;
      result.storage_ = detail::new_tensor<T, Rank>(detail::to_dims<Rank>(shape));
    });
    return result;
  }

  /// A tensor of the given shape filled with zeros.
  static AnyTensor zeros(const Shape& shape) {
    AnyTensor result = uninitialized(shape);
    std::fill(result.data(), result.data() + result.size(), T(0));
    return result;
  }

  /// A tensor of the given shape holding a copy of values (row-major); throws shape_error if the
  /// counts differ.
  static AnyTensor from_values(const Shape& shape, const std::vector<T>& values) {
    AnyTensor result = uninitialized(shape);
    if (static_cast<Index>(values.size()) != result.size()) {
      throw shape_error(detail::concat("strata::AnyTensor: shape ", shape.to_string(), " needs ", result.size(),
                                       " values; got ", values.size()));
    }
    std::copy(values.begin(), values.end(), result.data());
    return result;
  }

  /// 0 when empty.
  int rank() const { return static_cast<int>(storage_.index()); }
  bool empty() const { return storage_.index() == 0; }

  Shape shape() const {
    return std::visit(
        [](const auto& t) -> Shape {
          if constexpr (std::is_same_v<std::decay_t<decltype(t)>, std::monostate>) {
            return Shape{};
          } else {
            return detail::shape_of(t);
          }
        },
        storage_);
  }

  Index size() const { return empty() ? 0 : shape().size(); }

  T* data() {
    return std::visit(
        [](auto& t) -> T* {
          if constexpr (std::is_same_v<std::decay_t<decltype(t)>, std::monostate>) {
            return nullptr;
          } else {
            return t.data();
          }
        },
        storage_);
  }
  const T* data() const { return const_cast<AnyTensor*>(this)->data(); }

  /// The held Tensor<T, Rank>; throws shape_error if the rank differs. On an rvalue it moves the
  /// tensor out, which is how to assign a result to an existing tensor (Eigen's templated
  /// operator= would not use the conversion): `y = lstm(x).get<2>();`
  template <int Rank>
  Tensor<T, Rank>& get() & {
    check_rank(Rank);
    return std::get<static_cast<std::size_t>(Rank)>(storage_);
  }
  template <int Rank>
  const Tensor<T, Rank>& get() const& {
    check_rank(Rank);
    return std::get<static_cast<std::size_t>(Rank)>(storage_);
  }
  template <int Rank>
  Tensor<T, Rank> get() && {
    check_rank(Rank);
    return std::move(std::get<static_cast<std::size_t>(Rank)>(storage_));
  }

  template <int Rank>
  operator Tensor<T, Rank>() const& {  // NOLINT(google-explicit-constructor)
    return get<Rank>();
  }
  template <int Rank>
  operator Tensor<T, Rank>() && {  // NOLINT(google-explicit-constructor)
    return std::move(get<Rank>());
  }

 private:
  void check_rank(int wanted) const {
    if (rank() != wanted) {
      throw shape_error(detail::concat("strata::AnyTensor: holds a tensor of rank ", rank(), " with shape ",
                                       shape().to_string(), "; asked for rank ", wanted));
    }
  }

  typename detail::any_storage<T, std::make_integer_sequence<int, max_rank>>::type storage_;
};

/// A layer's weights, in the order and with the shapes Keras' `layer.get_weights()` gives.
template <class T>
using Weights = std::vector<AnyTensor<T>>;

/// A read-only view of a row-major tensor of run-time rank: its data and shape, owned elsewhere.
/// Made implicitly from a strata::Tensor, TensorMap, ConstTensorMap or AnyTensor, so the calls
/// that take views (Model::predict, the layers' run-time rank calls) take any of them without a
/// copy. The viewed memory must outlive the view.
template <class T>
class TensorView {
 public:
  /// An empty view (rank 0, no data).
  TensorView() = default;
  TensorView(const T* data, const Shape& shape) : data_(data), shape_(shape) {}
  TensorView(const AnyTensor<T>& t)  // NOLINT(google-explicit-constructor)
      : data_(t.data()), shape_(t.shape()) {}
  template <class X, std::enable_if_t<detail::is_tensor_input_v<X, T>, int> = 0>
  TensorView(const X& x)  // NOLINT(google-explicit-constructor)
      : data_(x.data()), shape_(shape_of(x)) {
    static_assert(static_cast<int>(X::Layout) == static_cast<int>(Eigen::RowMajor),
                  "strata::TensorView: only RowMajor tensors can be viewed (numpy's layout).");
  }

  const T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  Index size() const { return shape_.size(); }
  /// True for a default-constructed view (or one of an empty AnyTensor).
  bool empty() const { return shape_.rank() == 0; }

  /// The view as a typed map; throws shape_error if the rank differs.
  template <int Rank>
  ConstTensorMap<T, Rank> map() const {
    if (rank() != Rank) {
      throw shape_error(detail::concat("strata::TensorView: views a tensor of shape ", shape_.to_string(),
                                       "; asked for rank ", Rank));
    }
    return ConstTensorMap<T, Rank>(data_, detail::to_dims<Rank>(shape_));
  }

  /// A copy of the viewed values in a tensor of their own.
  AnyTensor<T> copy() const {
    AnyTensor<T> t = AnyTensor<T>::uninitialized(shape_);
    std::copy(data_, data_ + t.size(), t.data());
    return t;
  }

 private:
  const T* data_ = nullptr;
  Shape shape_;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_TENSOR_HPP
