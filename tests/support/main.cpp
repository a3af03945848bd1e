// SPDX-License-Identifier: MIT
// Catch2 v3 brings its own main (Catch2WithMain); v2 needs this one.
#if defined(STRATA_CATCH2_V2)
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#endif
