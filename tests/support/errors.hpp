// SPDX-License-Identifier: MIT
// Checking the errors strata throws: their type and what their message says.
#ifndef STRATA_TESTS_ERRORS_HPP
#define STRATA_TESTS_ERRORS_HPP

#include <exception>
#include <stdexcept>
#include <string>

#include "catch.hpp"

namespace test {

inline bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The message of the E that f throws; a failed check when it throws something else or nothing.
template <class E, class F>
std::string caught_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK("threw an exception of another type: " << e.what());
    return {};
  }
  FAIL_CHECK("did not throw");
  return {};
}

/// Checks that f throws E (and that it is a std::invalid_argument); returns the message.
template <class E, class F>
std::string thrown_message(F&& f) {
  CHECK_THROWS_AS(f(), std::invalid_argument);
  return caught_message<E>(f);
}

/// Checks that f throws E, a load_error (a std::runtime_error, which thrown_message does not take);
/// returns the message.
template <class E, class F>
std::string load_error_message(F&& f) {
  CHECK_THROWS_AS(f(), E);
  return caught_message<E>(f);
}

}  // namespace test

#endif  // STRATA_TESTS_ERRORS_HPP
