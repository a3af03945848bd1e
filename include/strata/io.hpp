// SPDX-License-Identifier: MIT
#ifndef STRATA_IO_HPP
#define STRATA_IO_HPP

/// strata's optional IO part (CMake target strata::io, a compiled library): loading Keras model
/// files (strata::load_model for .keras, legacy .h5 and TF.js model.json) into a strata::Model,
/// and reading and writing .npy and .csv tensors (those two are header-only, standard library
/// only). The library needs nlohmann-json, the HDF5 C library and libzip; code that includes this
/// header sees none of them. To register your own Keras classes include <strata/registry.hpp>.
#include "io/csv.hpp"
#include "io/load.hpp"
#include "io/npy.hpp"
#include "model.hpp"
#include "registry.hpp"

#endif  // STRATA_IO_HPP
