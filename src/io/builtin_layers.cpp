// SPDX-License-Identifier: MIT
// The built-in registry: every layer header included here registers its Keras description (the
// STRATA_REGISTER_LAYER line at its end expands only in this translation unit), for float and
// double. Adding a layer to strata adds its header to strata.hpp; nothing here changes.
#define STRATA_DEFINE_BUILTIN_REGISTRY
#include <strata/strata.hpp>

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {

template <class T>
Registry<T>& registry() {
  static Registry<T> instance;
  return instance;
}

template Registry<float>& registry<float>();
template Registry<double>& registry<double>();

}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata
