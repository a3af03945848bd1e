// SPDX-License-Identifier: MIT
#ifndef STRATA_VERSION_HPP
#define STRATA_VERSION_HPP

/// strata's version; CMake reads these three lines.
#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 1
#define STRATA_VERSION_PATCH 0

#define STRATA_VERSION_STRING "0.1.0"

#endif  // STRATA_VERSION_HPP
