// SPDX-License-Identifier: MIT
// probe.cpp again, compiled with -mavx2 -mfma (see CMakeLists.txt).
#include "probe.cpp"  // NOLINT(bugprone-suspicious-include)
