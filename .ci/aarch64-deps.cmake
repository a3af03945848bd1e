# Included after project(strata) in the aarch64 cross build (.ci/aarch64-toolchain.cmake): HDF5 and
# libzip as the arm64 runtime libraries with the host's headers.
add_library(strata_dep::hdf5 INTERFACE IMPORTED GLOBAL)
target_include_directories(strata_dep::hdf5 INTERFACE /usr/include/hdf5/serial)
target_link_libraries(strata_dep::hdf5 INTERFACE /usr/lib/aarch64-linux-gnu/libhdf5_serial.so.103)
add_library(strata_dep::zip INTERFACE IMPORTED GLOBAL)
target_link_libraries(strata_dep::zip INTERFACE /usr/lib/aarch64-linux-gnu/libzip.so.4)
