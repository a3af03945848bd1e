// SPDX-License-Identifier: MIT
#ifndef STRATA_TESTS_ISA_PROBE_HPP
#define STRATA_TESTS_ISA_PROBE_HPP

#include <string>
#include <vector>

// What one translation unit computes with its own build of strata: probe.cpp is compiled twice,
// for two targets, into one program (see CMakeLists.txt), each copy under its own function name.
struct ProbeResult {
  std::string isa;           // strata::detail::isa_name in that translation unit
  int float_packet = 0;      // Eigen's float packet size there
  int panel_width = 0;       // the float GEMM's packed panel width there
  long packed_panels = 0;    // panels a (13, 20) PackedMatrix<float> packed there holds
  std::vector<float> dense;  // Dense(20, tanh) on (7, 13): 7 x 20 values
  std::vector<float> lstm;   // LSTM(5, return_sequences) on (3, 4, 13): 3 x 4 x 5 values
};

// Deterministic inputs and weights, shared by both probes and the reference.
float probe_value(int stream, int i);

ProbeResult probe_baseline();  // compiled for the default target minus AVX
ProbeResult probe_avx2_fma();  // compiled with -mavx2 -mfma

#endif  // STRATA_TESTS_ISA_PROBE_HPP
