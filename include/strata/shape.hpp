// SPDX-License-Identifier: MIT
#ifndef STRATA_SHAPE_HPP
#define STRATA_SHAPE_HPP

#include <array>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <string>

#include "error.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

using Index = Eigen::Index;

/// Largest tensor rank strata handles at run time (AnyTensor, Shape).
inline constexpr int max_rank = 8;

/// A tensor shape of run-time rank (up to max_rank), stored inline so that shape arithmetic
/// never allocates. Printed as a Python tuple: "(32, 10, 21)", "(5,)".
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<Index> dims) {
    for (Index d : dims) push_back(d);
  }

  /// The shape of dims[0..rank).
  template <class Dims>
  static Shape from_dims(const Dims& dims, int rank) {
    Shape s;
    for (int i = 0; i < rank; ++i) s.push_back(static_cast<Index>(dims[i]));
    return s;
  }

  int rank() const { return rank_; }
  bool empty() const { return rank_ == 0; }
  Index operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  Index& operator[](int i) { return dims_[static_cast<std::size_t>(i)]; }
  Index back() const { return dims_[static_cast<std::size_t>(rank_ - 1)]; }
  const Index* begin() const { return dims_.data(); }
  const Index* end() const { return dims_.data() + rank_; }

  void push_back(Index d) {
    if (rank_ == max_rank) {
      throw shape_error(detail::concat("strata: tensors of rank above ", max_rank, " are not supported"));
    }
    if (d < 0) throw shape_error(detail::concat("strata: a dimension cannot be negative; got ", d));
    dims_[static_cast<std::size_t>(rank_++)] = d;
  }

  /// Number of elements; throws shape_error if it does not fit in an Index.
  Index size() const { return product(0, rank_); }

  /// Product of dims[first..last); throws shape_error on overflow.
  Index product(int first, int last) const {
    Index n = 1;
    for (int i = first; i < last; ++i) {
      const Index d = dims_[static_cast<std::size_t>(i)];
      // The overflow builtin where there is one: a division per dimension costs more than the
      // rest of a streaming step's checks.
#if defined(__GNUC__) || defined(__clang__)
      const bool overflow = __builtin_mul_overflow(n, d, &n);
#else
      const bool overflow = d != 0 && n > std::numeric_limits<Index>::max() / d;
      if (!overflow) n *= d;
#endif
      if (overflow) throw shape_error(detail::concat("strata: shape ", to_string(), " has too many elements"));
    }
    return n;
  }

  /// The dims [first, rank).
  Shape tail(int first) const {
    Shape s;
    for (int i = first; i < rank_; ++i) s.push_back(dims_[static_cast<std::size_t>(i)]);
    return s;
  }

  std::string to_string() const {
    std::string s = "(";
    for (int i = 0; i < rank_; ++i) {
      if (i > 0) s += ", ";
      s += std::to_string(dims_[static_cast<std::size_t>(i)]);
    }
    if (rank_ == 1) s += ",";
    return s + ")";
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& out, const Shape& s) { return out << s.to_string(); }

 private:
  std::array<Index, max_rank> dims_{};
  int rank_ = 0;
};

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_SHAPE_HPP
