// SPDX-License-Identifier: MIT
#ifndef STRATA_IO_HPP
#define STRATA_IO_HPP

/// strata's optional IO part (CMake target strata::io): loading Keras model files
/// (strata::load_model for .keras, legacy .h5 and TF.js model.json) into a strata::Model, and
/// reading and writing .npy and .csv tensors (those two need only the standard library).
/// Needs nlohmann-json, the HDF5 C library and libzip; the core (strata.hpp) needs Eigen only.
#include "io/config.hpp"
#include "io/csv.hpp"
#include "io/formats.hpp"
#include "io/npy.hpp"
#include "model.hpp"

#endif  // STRATA_IO_HPP
