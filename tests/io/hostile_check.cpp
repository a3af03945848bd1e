// SPDX-License-Identifier: MIT
// One file of the hostile corpus (tests/io/hostile, made by tools/fuzz/make-hostile-corpus: files
// that crash or hang libhdf5 when loaded without isolation), loaded with isolation and a
// TIMEOUT-second limit: it must throw strata::io_error naming the file and containing EXPECTED (from
// MANIFEST.tsv: "the HDF5 reader crashed (signal 11, SIGSEGV)", "the HDF5 reader timed out after 3
// s", or the HDF5 error a hang becomes under the memory limit), within the timeout, and leave no
// child process behind.
//
//   strata_hostile_check FILE EXPECTED TIMEOUT
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <strata/io.hpp>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: strata_hostile_check FILE EXPECTED TIMEOUT\n");
    return 2;
  }
  const std::string file = argv[1];
  std::string expected = argv[2];
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer the child's bad access is caught by ASan, which ends it with its own exit
  // status instead of the signal: the crash is still reported, in other words.
  const std::string crashed = "the HDF5 reader crashed (";
  if (expected.compare(0, crashed.size(), crashed) == 0) expected = crashed;
#endif
  const double timeout = std::atof(argv[3]);
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  try {
    (void)strata::load_model<float>(file, strata::LoadOptions().isolation(true).timeout(timeout));
    std::fprintf(stderr, "FAIL: %s loaded without an error\n", file.c_str());
    return 1;
  } catch (const strata::io_error& e) {
    message = e.what();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: %s: not an io_error: %s\n", file.c_str(), e.what());
    return 1;
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.2f s: %s\n", took, message.c_str());
  bool ok = true;
  if (message.find(file) == std::string::npos) {
    std::fprintf(stderr, "FAIL: the message does not name the file\n");
    ok = false;
  }
  if (message.find(expected) == std::string::npos) {
    std::fprintf(stderr, "FAIL: the message does not contain '%s'\n", expected.c_str());
    ok = false;
  }
  if (took > timeout + 2) {
    std::fprintf(stderr, "FAIL: took %.2f s, over the %.2f s timeout\n", took, timeout);
    ok = false;
  }
  if (!(::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD)) {
    std::fprintf(stderr, "FAIL: a child process is left\n");
    ok = false;
  }
  return ok ? 0 : 1;
}
