// SPDX-License-Identifier: MIT
#ifndef STRATA_ERROR_HPP
#define STRATA_ERROR_HPP

#include <sstream>
#include <stdexcept>
#include <string>
#include <unsupported/Eigen/CXX11/Tensor>
#include <utility>

#include "detail/isa.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

// Two families, as in the standard library: a call given bad arguments (std::invalid_argument),
// and a file that cannot be loaded (std::runtime_error). Every message names the layer or file.
//
//   std::invalid_argument
//     strata::error            a bad argument to a layer, tensor or model call
//       strata::shape_error      a tensor, weight or state of the wrong rank or size
//       strata::value_error      an option or name strata does not accept
//   std::runtime_error
//     strata::load_error       a model (or NPY/CSV) file cannot be loaded: catch this one
//       strata::io_error         unreadable, truncated or corrupt bytes
//       strata::unsupported_error  a layer class, option or dtype strata does not implement
//       strata::model_error      well-formed, but the model contradicts itself (weights of the wrong
//                                shape or count, options its weights or inputs contradict)

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

/// Base of everything strata::load_model (and the NPY/CSV readers) throw when a file cannot be
/// loaded: `catch (const strata::load_error&)` is "this file cannot be loaded". The message names
/// the file, and the layer where there is one.
class load_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file that cannot be read: it cannot be opened, is truncated or corrupt, or is not in a
/// format it claims (an HDF5, zip, JSON, NPY or CSV structure that does not parse). Also thrown
/// when writing a file fails.
class io_error : public load_error {
 public:
  using load_error::load_error;
};

/// A model that uses something strata does not implement: a layer class nobody registered, an
/// option or a weight dtype strata cannot honour.
class unsupported_error : public load_error {
 public:
  using load_error::load_error;
};

/// A model file that reads well but contradicts itself: weights of the wrong shape or count, an
/// option its weights contradict, an input shape its layers reject, a graph that does not connect.
class model_error : public load_error {
 public:
  using load_error::load_error;
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
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

/// Internal invariant check; never used for user input (that throws). Redefine before including
/// strata to route it elsewhere.
#ifndef STRATA_ASSERT
#define STRATA_ASSERT(condition) eigen_assert(condition)
#endif

#endif  // STRATA_ERROR_HPP
