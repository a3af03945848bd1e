// SPDX-License-Identifier: MIT
// Peak memory of strata::load_model: loads a model file, and prints the weights' size and how much
// the process's peak resident set grew while loading (getrusage ru_maxrss), and their ratio.
//
//   strata_load_memory MODEL [--double]
//
// Make a large model with make_large_model.py next to this file. The process does nothing else
// before loading, so the growth is the loader's: the file's bytes it holds, the weights it reads,
// the layers' packed copies.
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <strata/io.hpp>
#include <string>

namespace {

long peak_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

template <class T>
int run(const std::string& path) {
  const long before = peak_kib();
  strata::Model<T> model = strata::load_model<T>(path);
  const long after = peak_kib();
  const double weights_mb = static_cast<double>(model.count_params()) * sizeof(T) / 1e6;
  const double growth_mb = static_cast<double>(after - before) * 1024.0 / 1e6;
  std::printf(
      "%s (%s): %lld parameters, weights %.1f MB; peak RSS %.1f MB before loading, %.1f MB after; "
      "growth %.1f MB = %.2f x the weights\n",
      path.c_str(), sizeof(T) == 4 ? "float" : "double", static_cast<long long>(model.count_params()), weights_mb,
      before * 1024.0 / 1e6, after * 1024.0 / 1e6, growth_mb, growth_mb / weights_mb);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: strata_load_memory MODEL [--double]\n");
    return 2;
  }
  try {
    if (argc > 2 && std::strcmp(argv[2], "--double") == 0) return run<double>(argv[1]);
    return run<float>(argv[1]);
  } catch (const strata::load_error& e) {
    std::fprintf(stderr, "strata_load_memory: %s\n", e.what());
    return 1;
  }
}
