# Cross-compiling strata's tests for aarch64 (NEON) with Debian's g++-aarch64-linux-gnu, and running
# them under qemu-user (.ci/run). Eigen, Catch2 and nlohmann-json are header-only and come from the
# host's packages; HDF5 and libzip are Debian's arm64 runtime libraries (libhdf5-103-1:arm64,
# libzip4:arm64, co-installable with the amd64 ones) linked directly, with the host's headers: Debian
# 12's libhdf5-dev:arm64 would remove libhdf5-dev:amd64, and both targets are little-endian LP64,
# so the generated headers agree.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(_strata_arm64_libs /usr/lib/aarch64-linux-gnu)
set(_strata_sysroot /usr/aarch64-linux-gnu)
# The test programs (and Catch2's test discovery at build time) run under qemu through the cross
# toolchain's own loader, which is given the library path: first the cross libc, libstdc++ and
# libgomp the programs were linked with, then the multiarch libraries (HDF5, libzip and theirs).
# Not `qemu-aarch64 -L /usr/aarch64-linux-gnu`: with it the cross loader (libc6-arm64-cross) looks in
# /lib/aarch64-linux-gnu first and loads the libc of libc6:arm64 (a dependency of the arm64 HDF5),
# a different build of glibc than the loader's (2.36-8cross1 with 2.36-9+deb12u14 here), and any
# thread start then hangs: the first OpenMP parallel region of the unit tests never returned.
set(CMAKE_CROSSCOMPILING_EMULATOR
    qemu-aarch64;${_strata_sysroot}/lib/ld-linux-aarch64.so.1;--library-path;${_strata_sysroot}/lib:${_strata_arm64_libs})
set(CMAKE_FIND_ROOT_PATH ${_strata_sysroot})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# Header-only packages (Eigen, Catch2, nlohmann-json) and their CMake files are the host's.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
# The arm64 libraries' own dependencies, for the linker.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_strata_arm64_libs}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_strata_arm64_libs}")
# strata's dependency finder (cmake/StrataIODependencies.cmake) uses these targets when they exist.
set(CMAKE_PROJECT_strata_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/aarch64-deps.cmake)
