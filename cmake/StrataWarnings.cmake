# strata_warnings and strata_sanitizers: INTERFACE targets that strata's own tests and examples
# link. Users of strata::strata never get these flags.

add_library(strata_warnings INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(strata_warnings INTERFACE -Wall -Wextra -Wpedantic)
  if(STRATA_WARNINGS_AS_ERRORS)
    target_compile_options(strata_warnings INTERFACE -Werror)
  endif()
elseif(MSVC)
  target_compile_options(strata_warnings INTERFACE /W4 /permissive-)
  if(STRATA_WARNINGS_AS_ERRORS)
    target_compile_options(strata_warnings INTERFACE /WX)
  endif()
endif()

add_library(strata_sanitizers INTERFACE)
# ThreadSanitizer instead of ASan + UBSan: the thread tests (tests/threads) check that const calls
# may run concurrently. Configure it without OpenMP (-DCMAKE_DISABLE_FIND_PACKAGE_OpenMP=ON): its
# runtime is not instrumented, so TSan would report the handover of work to its threads as races.
option(STRATA_SANITIZE_THREAD "Build tests and examples with ThreadSanitizer (excludes STRATA_SANITIZE)" OFF)
if(STRATA_SANITIZE AND STRATA_SANITIZE_THREAD)
  message(FATAL_ERROR "STRATA_SANITIZE and STRATA_SANITIZE_THREAD exclude each other (ThreadSanitizer cannot run "
                      "with AddressSanitizer): configure one build directory for each")
endif()
if(STRATA_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "STRATA_SANITIZE needs GCC or Clang")
  endif()
  set(_strata_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_compile_options(strata_sanitizers INTERFACE ${_strata_san})
  target_link_options(strata_sanitizers INTERFACE ${_strata_san})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # ASan's instrumentation defeats GCC's flow analysis: GCC 12 then reports -Wmaybe-uninitialized
    # for std::variant moves in the standard library. The plain g++ build keeps the warning.
    target_compile_options(strata_sanitizers INTERFACE -Wno-maybe-uninitialized)
  endif()
endif()
# strata::io links strata_sanitizers too (privately), so the loader is instrumented with the tests.
if(STRATA_SANITIZE_THREAD)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "STRATA_SANITIZE_THREAD needs GCC or Clang")
  endif()
  set(_strata_tsan -fsanitize=thread -fno-omit-frame-pointer -g)
  target_compile_options(strata_sanitizers INTERFACE ${_strata_tsan})
  target_link_options(strata_sanitizers INTERFACE ${_strata_tsan})
endif()
