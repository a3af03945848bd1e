# Finds what strata::io needs: nlohmann-json, the HDF5 C library and libzip (Debian:
# nlohmann-json3-dev libhdf5-dev libzip-dev, plus pkg-config). HDF5 and libzip are found with
# pkg-config: CMake's FindHDF5 needs the C language enabled, and Debian 12's libzip CMake package
# refers to tools (zipcmp) that libzip-dev does not install. Creates the imported targets
# PkgConfig::strata_hdf5 and PkgConfig::strata_zip and sets STRATA_IO_DEPENDENCIES_FOUND; with
# STRATA_BUILD_IO=ON a missing dependency is an error, with AUTO strata::io is skipped.
set(_strata_io_required "")
if(STRATA_BUILD_IO STREQUAL "ON")
  set(_strata_io_required REQUIRED)
endif()
set(STRATA_IO_DEPENDENCIES_FOUND FALSE)
find_package(nlohmann_json 3 QUIET ${_strata_io_required})
find_package(PkgConfig QUIET ${_strata_io_required})
if(nlohmann_json_FOUND AND PkgConfig_FOUND)
  if(NOT TARGET PkgConfig::strata_hdf5)
    pkg_check_modules(strata_hdf5 QUIET ${_strata_io_required} IMPORTED_TARGET GLOBAL hdf5)
  endif()
  if(NOT TARGET PkgConfig::strata_zip)
    pkg_check_modules(strata_zip QUIET ${_strata_io_required} IMPORTED_TARGET GLOBAL libzip)
  endif()
  if(TARGET PkgConfig::strata_hdf5 AND TARGET PkgConfig::strata_zip)
    set(STRATA_IO_DEPENDENCIES_FOUND TRUE)
  endif()
endif()
if(NOT STRATA_IO_DEPENDENCIES_FOUND)
  message(STATUS "strata: strata::io and strata-predict skipped (they need nlohmann-json, pkg-config, HDF5 and libzip)")
endif()
