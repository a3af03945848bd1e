// SPDX-License-Identifier: MIT
// Isolated loading (strata::LoadOptions().isolation(true)): the same models and the same errors as
// a load in the process, for every .keras / .h5 fixture of tools/keras-files; option checks; the
// child's exit neither flushes the program's stdio buffers a second time nor leaves a process.
// The hostile files (tests/io/hostile: files that crash or hang libhdf5) run one ctest each
// through hostile_check.cpp; here, one of them spins past LoadOptions::cpu_limit, and a file that
// declares more weights than it stores (tests/io/limits) needs more than memory_limit_mb.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <strata/io.hpp>
#include <string>

#include "support/catch.hpp"
#include "support/fixtures.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define STRATA_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_TEST_ASAN 1
#endif
#endif
#ifndef STRATA_TEST_ASAN
#define STRATA_TEST_ASAN 0
#endif

namespace {

using json = nlohmann::json;
using test::read_bytes;
using test::read_json;

const std::string reference_dir = STRATA_REFERENCE_DIR;
const std::string io_dir = STRATA_IO_FIXTURE_DIR;
const std::string hostile_dir = STRATA_HOSTILE_DIR;
const std::string limits_dir = STRATA_LIMITS_DIR;

const strata::LoadOptions isolated = strata::LoadOptions().isolation(true).timeout(30);

template <class T>
void check_same(const strata::Model<T>& a, const strata::Model<T>& b) {
  CHECK(a.summary() == b.summary());
  const strata::Weights<T> wa = a.get_weights();
  const strata::Weights<T> wb = b.get_weights();
  REQUIRE(wa.size() == wb.size());
  for (std::size_t i = 0; i < wa.size(); ++i) {
    INFO("weight " << i);
    REQUIRE(wa[i].shape() == wb[i].shape());
    if (wa[i].size() > 0) {
      CHECK(std::memcmp(wa[i].data(), wb[i].data(), sizeof(T) * static_cast<std::size_t>(wa[i].size())) == 0);
    }
  }
}

/// "kind: message" of what `load` throws, or "none".
template <class F>
std::string outcome(F&& load) {
  try {
    load();
  } catch (const strata::io_error& e) {
    return std::string("io_error: ") + e.what();
  } catch (const strata::unsupported_error& e) {
    return std::string("unsupported_error: ") + e.what();
  } catch (const strata::model_error& e) {
    return std::string("model_error: ") + e.what();
  } catch (const strata::load_error& e) {
    return std::string("load_error: ") + e.what();
  }
  return "none";
}

bool no_child_left() { return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD; }

/// The first file of the hostile corpus whose isolated error contains `expect`.
std::string hostile_file(const std::string& expect) {
  std::ifstream in(hostile_dir + "/MANIFEST.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.find(expect) != std::string::npos) return hostile_dir + "/" + line.substr(0, line.find('\t'));
  }
  FAIL("no hostile file expecting '" << expect << "' in " << hostile_dir << "/MANIFEST.tsv");
  return {};
}

}  // namespace

TEST_CASE("isolated loading builds the same model as loading in the process", "[io][isolation]") {
  const json index = read_json(io_dir + "/index.json");
  REQUIRE(index.at("cases").size() >= 30);
  for (const auto& entry : index.at("cases")) {
    DYNAMIC_SECTION(entry.at("name").get<std::string>()) {
      const std::string format = entry.at("format");
      const std::string file = io_dir + "/" + entry.at("file").get<std::string>();
      if (format == "h5_weights") {
        const std::string config = io_dir + "/" + entry.at("config").get<std::string>();
        check_same(strata::load_model<float>(config, file), strata::load_model<float>(config, file, isolated));
        check_same(strata::load_model<double>(config, file), strata::load_model<double>(config, file, isolated));
      } else {
        check_same(strata::load_model<float>(file), strata::load_model<float>(file, isolated));
        check_same(strata::load_model<double>(file), strata::load_model<double>(file, isolated));
        const std::string bytes = read_bytes(file);
        check_same(strata::io::load_model_from_memory<float>(bytes, file),
                   strata::io::load_model_from_memory<float>(bytes, file, isolated));
      }
      CHECK(no_child_left());
    }
  }
}

TEST_CASE("isolated loading of a TF.js model reads it in the process, as without isolation", "[io][isolation]") {
  const std::string file = reference_dir + "/seed_model/seed_lstm5_td_dense/model.json";
  check_same(strata::load_model<float>(file), strata::load_model<float>(file, isolated));
}

TEST_CASE("isolated loading gives the broken fixture files' errors unchanged", "[io][isolation]") {
  const json index = read_json(io_dir + "/index.json");
  REQUIRE(index.at("bad").size() >= 15);
  for (const auto& entry : index.at("bad")) {
    DYNAMIC_SECTION(entry.at("name").get<std::string>()) {
      const std::string file = io_dir + "/" + entry.at("file").get<std::string>();
      const bool has_config = entry.contains("config");
      const std::string config = has_config ? io_dir + "/" + entry.at("config").get<std::string>() : "";
      const auto load = [&](const strata::LoadOptions& o) {
        return outcome([&] {
          if (has_config) {
            (void)strata::load_model<float>(config, file, o);
          } else {
            (void)strata::load_model<float>(file, o);
          }
        });
      };
      const std::string plain = load(strata::LoadOptions());
      CHECK(plain != "none");
      CHECK(load(isolated) == plain);
    }
  }
  CHECK(no_child_left());
}

TEST_CASE("isolated loading: a crash in the HDF5 reader is an io_error naming the file and the signal",
          "[io][isolation]") {
  const std::string file = hostile_file("crashed");
  const std::string got = outcome([&] { (void)strata::load_model<float>(file, isolated); });
  CHECK_THAT(got, Catch::StartsWith("io_error: strata::load_model(" + file + "): the HDF5 reader crashed ("));
  CHECK(no_child_left());
}

TEST_CASE(
    "isolated loading: a reader past LoadOptions::cpu_limit is stopped, an io_error naming the file and the limit",
    "[io][isolation]") {
  // The hostile file that hangs libhdf5 spins (it runs, it does not wait): the CPU-time limit of
  // 1 s ends it long before the timeout, whatever else the machine runs meanwhile.
  const std::string file = hostile_file("timed out");
  const auto start = std::chrono::steady_clock::now();
  const std::string got = outcome(
      [&] { (void)strata::load_model<float>(file, strata::LoadOptions().isolation(true).timeout(60).cpu_limit(1)); });
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(got == "io_error: strata::load_model(" + file +
                   "): the HDF5 reader exceeded the CPU-time limit of 1 s and was stopped (isolated loading; the file "
                   "is corrupt or malicious)");
  CHECK(took < 60);
  CHECK(no_child_left());
}

TEST_CASE(
    "isolated loading: a file needing more than LoadOptions::memory_limit_mb is an io_error naming the file and "
    "the limit",
    "[io][isolation]") {
  // A valid file of 12 KiB whose Dense kernel is declared (3, 2^26) float32 and never stored
  // (tools/fuzz/make-limit-files): reading it takes 768 MiB, the child may have 64.
  const std::string file = limits_dir + "/dense_768mib_kernel.h5";
  const std::string got = outcome([&] {
    (void)strata::load_model<float>(file, strata::LoadOptions().isolation(true).timeout(60).memory_limit_mb(64));
  });
#if STRATA_TEST_ASAN
  // AddressSanitizer's operator new never throws std::bad_alloc: it reports the failed allocation
  // itself and ends the child, which the parent reports as a crash.
  CHECK_THAT(got, Catch::StartsWith("io_error: strata::load_model(" + file + "): the HDF5 reader crashed ("));
#else
  CHECK(got == "io_error: strata::load_model(" + file +
                   "): the HDF5 reader exceeded the memory limit of 64 MiB (isolated loading; the file is corrupt or "
                   "malicious, or needs a larger LoadOptions::memory_limit_mb)");
#endif
  CHECK(no_child_left());
}

TEST_CASE("isolated loading: the child's exit does not flush the program's stdio buffers again", "[io][isolation]") {
  // stdout to a file (fully buffered), a marker left unflushed across loads whose child exits
  // normally and by a crash: the marker must reach the file once.
  const std::string path = std::string(STRATA_TEST_OUT_DIR) + "/isolation_stdio.txt";
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  REQUIRE(std::setvbuf(f, nullptr, _IOFBF, 1 << 16) == 0);
  std::fputs("marker;", f);
  const json index = read_json(io_dir + "/index.json");
  (void)strata::load_model<float>(io_dir + "/" + index.at("cases").at(0).at("file").get<std::string>(), isolated);
  CHECK_THROWS_AS(strata::load_model<float>(hostile_file("crashed"), isolated), strata::io_error);
  std::fclose(f);
  CHECK(read_bytes(path) == "marker;");
}

TEST_CASE("LoadOptions: defaults and checked limits", "[io][isolation]") {
  const strata::LoadOptions o;
  CHECK_FALSE(o.isolation());
  CHECK(o.timeout() == 60);
  CHECK(o.cpu_limit() == 0);
  CHECK(o.memory_limit_mb() == 0);
  CHECK_THROWS_AS(strata::LoadOptions().timeout(0), strata::value_error);
  CHECK_THROWS_AS(strata::LoadOptions().timeout(-1), strata::value_error);
  CHECK_THROWS_AS(strata::LoadOptions().timeout(std::nan("")), strata::value_error);
  CHECK_THROWS_AS(strata::LoadOptions().cpu_limit(-2), strata::value_error);
  CHECK(strata::LoadOptions().timeout(2.5).timeout() == 2.5);
}
