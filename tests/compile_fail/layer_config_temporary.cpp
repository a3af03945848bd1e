// SPDX-License-Identifier: MIT
// A LayerConfig refers to its Config (it does not copy it): one made from a temporary would dangle.
#include <strata/strata.hpp>

int main() {
  const strata::Registry<float> registry;
#ifdef STRATA_SHOULD_FAIL
  const strata::LayerConfig<float> config(registry, "Dense", strata::Config::dict(), strata::KerasVersion(), "test");
#else
  const strata::Config dict = strata::Config::dict();
  const strata::LayerConfig<float> config(registry, "Dense", dict, strata::KerasVersion(), "test");
#endif
  return config.name() == "dense" ? 0 : 1;
}
