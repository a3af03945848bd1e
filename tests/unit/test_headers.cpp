// SPDX-License-Identifier: MIT
// What a user's translation unit sees: the core and the loader's headers bring Eigen and the
// standard library only -- never nlohmann-json, HDF5 or libzip, which the compiled strata::io
// library keeps to itself (so a program that loads models compiles none of them).
#include <strata/fwd.hpp>  // its declarations must agree with the definitions below
#include <strata/io.hpp>
#include <strata/strata.hpp>

#if defined(INCLUDE_NLOHMANN_JSON_HPP_) || defined(NLOHMANN_JSON_VERSION_MAJOR)
#error "strata's headers must not include nlohmann/json.hpp"
#endif
#if defined(H5public_H) || defined(H5_VERS_MAJOR)
#error "strata's headers must not include hdf5.h"
#endif
#if defined(_HAD_ZIP_H) || defined(LIBZIP_VERSION)
#error "strata's headers must not include zip.h"
#endif

#include <string>
#include <type_traits>

#include "support/catch.hpp"

TEST_CASE("headers: the core and the loader's declarations compile without the loader's libraries", "[headers]") {
  // The loader's declarations are visible (calling them needs the library, which this program
  // does not link: an unevaluated use is enough here).
  using Loader = decltype(static_cast<strata::Model<float> (*)(const std::string&)>(&strata::load_model<float>));
  STATIC_REQUIRE(std::is_pointer_v<Loader>);
  CHECK(strata::Config(3).as_integer() == 3);
}
