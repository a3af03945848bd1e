// SPDX-License-Identifier: MIT
// Catch2 v2 or v3, whichever CMake found.
#ifndef STRATA_TESTS_CATCH_HPP
#define STRATA_TESTS_CATCH_HPP

#if defined(STRATA_CATCH2_V3)
#include <catch2/catch_all.hpp>
#include <string>
namespace Catch {
// Catch2 v2's name for the substring matcher, so the tests read the same with both versions.
inline Matchers::StringContainsMatcher Contains(const std::string& text,
                                                CaseSensitive sensitivity = CaseSensitive::Yes) {
  return Matchers::ContainsSubstring(text, sensitivity);
}
}  // namespace Catch
#else
#include <catch2/catch.hpp>
#endif

#endif  // STRATA_TESTS_CATCH_HPP
