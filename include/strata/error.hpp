// SPDX-License-Identifier: MIT
#ifndef STRATA_ERROR_HPP
#define STRATA_ERROR_HPP

#include <sstream>
#include <stdexcept>
#include <string>
#include <unsupported/Eigen/CXX11/Tensor>
#include <utility>

namespace strata {

/// Base of every exception strata throws for a bad argument: a shape, a weight, an option.
/// Derives from std::invalid_argument, so `catch (const std::invalid_argument&)` sees it too.
class error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A tensor, weight or state of the wrong rank or size (Keras raises ValueError for these).
class shape_error : public error {
 public:
  using error::error;
};

/// An option or name strata does not accept: an unknown activation, units <= 0, a layer used
/// before it has weights, a stateful layer inside TimeDistributed.
class value_error : public error {
 public:
  using error::error;
};

/// A file strata cannot read or write: it cannot be opened, is truncated or malformed, or holds
/// data that does not parse (strata::io: the NPY and CSV readers and writers, the model loader).
/// The message names the file.
class io_error : public error {
 public:
  using error::error;
};

namespace detail {

/// Joins the arguments with operator<< into one message.
template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

}  // namespace detail
}  // namespace strata

/// Internal invariant check; never used for user input (that throws). Redefine before including
/// strata to route it elsewhere.
#ifndef STRATA_ASSERT
#define STRATA_ASSERT(condition) eigen_assert(condition)
#endif

#endif  // STRATA_ERROR_HPP
