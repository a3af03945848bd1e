// SPDX-License-Identifier: MIT
// Isolated loading (LoadOptions::isolation): the HDF5 part of a load runs in a forked child under
// a wall-clock timeout and CPU-time and memory limits, and the parent rebuilds the model from what
// the child sends back, so that a file that crashes or hangs libhdf5 costs an io_error, not the
// program.
//
// The child runs the whole format loader with a recording build step: every layer's weights, as
// its reader returned them, and finally the model config, Keras version and source it built from,
// are appended to a reply. The parent reads the reply while it waits (a full pipe never blocks the
// child), checks it (framing, bounds, an FNV-1a checksum), and builds the model again with a reader
// that replays the recorded weights in the same order: build_model asks for them deterministically.
// The child ends with _exit (no atexit handlers, no second flush of the parent's stdio buffers);
// the parent reaps it on every path, killing it first on timeout.
#ifndef STRATA_SRC_IO_ISOLATION_HPP
#define STRATA_SRC_IO_ISOLATION_HPP

#if __has_include(<unistd.h>) && __has_include(<sys/wait.h>) && __has_include(<poll.h>) && \
    __has_include(<sys/resource.h>)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#define STRATA_IO_HAS_FORK 1
#else
#define STRATA_IO_HAS_FORK 0
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <new>
#include <string>
#include <utility>

#include "builder.hpp"

namespace strata {
inline namespace STRATA_ISA_NAMESPACE {
namespace io::detail {

/// The build step of a loader: config, Keras version text, weight reader, source -> Model.
template <class T>
using BuildStep = std::function<Model<T>(const json& config, const KerasVersion& version, const WeightReader<T>& read,
                                         const std::string& source)>;

/// The build step of a normal load.
template <class T>
Model<T> plain_build(const json& config, const KerasVersion& version, const WeightReader<T>& read,
                     const std::string& source) {
  return build_model<T>(config, version, read, source);
}

namespace isolation {

inline std::uint64_t fnv1a(const char* data, std::size_t n) {
  std::uint64_t h = 14695981039346656037ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ull;
  }
  return h;
}

// The reply: "STRATAISO1", then records, each a tag byte: 'W' one request's weights (u64 count,
// then per array u32 rank, i64 dims, the values as T), 'M' the build's config/version/source
// (three strings: u64 length + bytes), 'X' an error (u8 kind, string message); then 'E' and the
// FNV-1a of everything before it. Native byte order: both ends are the same process image.
constexpr char magic[] = "STRATAISO1";
constexpr std::size_t magic_size = sizeof(magic) - 1;

class Writer {
 public:
  Writer() { out_.assign(magic, magic_size); }
  void tag(char c) { out_.push_back(c); }
  template <class U>
  void pod(U v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof(U));
  }
  void str(const std::string& s) {
    pod<std::uint64_t>(s.size());
    out_.append(s);
  }
  template <class T>
  void weights(const Weights<T>& ws) {
    tag('W');
    pod<std::uint64_t>(ws.size());
    for (const AnyTensor<T>& w : ws) {
      const Shape shape = w.shape();
      pod<std::uint32_t>(static_cast<std::uint32_t>(shape.rank()));
      for (int i = 0; i < shape.rank(); ++i) pod<std::int64_t>(shape[i]);
      if (w.size() > 0) out_.append(reinterpret_cast<const char*>(w.data()), sizeof(T) * std::size_t(w.size()));
    }
  }
  void error(char kind, const std::string& message) {
    out_.assign(magic, magic_size);
    tag('X');
    pod<char>(kind);
    str(message);
  }
  const std::string& finish() {
    tag('E');
    pod<std::uint64_t>(fnv1a(out_.data(), out_.size()));
    return out_;
  }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(const std::string& in, std::string who) : in_(in), who_(std::move(who)) {
    if (in_.size() < magic_size + 1 + 8 || in_.compare(0, magic_size, magic) != 0) bad("no reply header");
    std::uint64_t sum = 0;
    std::memcpy(&sum, in_.data() + in_.size() - 8, 8);
    if (in_[in_.size() - 9] != 'E' || fnv1a(in_.data(), in_.size() - 8) != sum) bad("checksum mismatch");
    pos_ = magic_size;
    end_ = in_.size() - 9;
  }
  bool done() const { return pos_ == end_; }
  char tag() { return pod<char>(); }
  template <class U>
  U pod() {
    need(sizeof(U));
    U v;
    std::memcpy(&v, in_.data() + pos_, sizeof(U));
    pos_ += sizeof(U);
    return v;
  }
  std::string str() {
    const auto n = pod<std::uint64_t>();
    need(n);
    std::string s = in_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  template <class T>
  Weights<T> weights() {
    const auto count = pod<std::uint64_t>();
    if (count > (end_ - pos_) / 4) bad("weight count");
    Weights<T> out;
    for (std::uint64_t k = 0; k < count; ++k) {
      const auto rank = pod<std::uint32_t>();
      if (rank > static_cast<std::uint32_t>(max_rank)) bad("rank");
      Shape shape;
      std::uint64_t size = 1;
      for (std::uint32_t i = 0; i < rank; ++i) {
        const auto d = pod<std::int64_t>();
        if (d < 0 || (d > 0 && size > (end_ - pos_) / std::uint64_t(d))) bad("dimension");
        size *= std::uint64_t(d);
        shape.push_back(static_cast<Index>(d));
      }
      if (rank == 0) {
        out.emplace_back();
        continue;
      }
      need(size * sizeof(T));
      AnyTensor<T> t = AnyTensor<T>::zeros(shape);
      if (size > 0) std::memcpy(t.data(), in_.data() + pos_, static_cast<std::size_t>(size) * sizeof(T));
      pos_ += static_cast<std::size_t>(size) * sizeof(T);
      out.push_back(std::move(t));
    }
    return out;
  }
  [[noreturn]] void bad(const char* what) const {
    throw io_error(concat(who_, ": the isolated HDF5 reader sent a malformed reply (", what, ")"));
  }

 private:
  void need(std::uint64_t n) const {
    if (n > end_ - pos_) bad("truncated");
  }
  const std::string& in_;
  std::string who_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
};

/// The memory limit in bytes for a file of `file_size` bytes (0: unknown).
inline std::uint64_t memory_limit(const LoadOptions& o, std::uint64_t file_size) {
  const std::uint64_t mib = std::uint64_t(1) << 20;
  if (o.memory_limit_mb() != 0) return std::uint64_t(o.memory_limit_mb()) * mib;
  return 1024 * mib + 8 * std::min<std::uint64_t>(file_size, std::uint64_t(1) << 40);
}

inline std::string seconds_text(double s) {
  return std::floor(s) == s ? std::to_string(static_cast<long long>(s)) : concat(s);
}

#if STRATA_IO_HAS_FORK

inline const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGKILL:
      return "SIGKILL";
    case SIGXCPU:
      return "SIGXCPU";
    default:
      return "";
  }
}

/// What the program had mapped when it forked (Linux: /proc/self/statm), or 0.
inline std::uint64_t mapped_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0;
  if (!(statm >> pages)) return 0;
  const long page = ::sysconf(_SC_PAGESIZE);
  return page > 0 ? pages * std::uint64_t(page) : 0;
}

/// The child: limits, the load with a recording build step, the reply, _exit. Never returns.
template <class T>
[[noreturn]] void child_main(int fd, std::uint64_t memory, std::uint64_t base, double cpu_seconds, double wall_seconds,
                             const std::function<Model<T>(const BuildStep<T>&)>& load) {
  // A crash must end the child with its signal, not run the program's crash handlers.
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGXCPU, SIGPIPE, SIGALRM}) ::signal(sig, SIG_DFL);
  rlimit cpu{};
  cpu.rlim_cur = static_cast<rlim_t>(std::ceil(cpu_seconds));
  cpu.rlim_max = cpu.rlim_cur + 1;
  ::setrlimit(RLIMIT_CPU, &cpu);
  // Should the parent die, nothing is left waiting on the child: this ends it anyway.
  ::alarm(static_cast<unsigned>(std::ceil(std::max(cpu_seconds, wall_seconds))) + 2);
  if (base != 0) {
    rlimit as{};
    as.rlim_cur = as.rlim_max = static_cast<rlim_t>(base + memory);
    ::setrlimit(RLIMIT_AS, &as);
  }
  int code = 0;
  try {
    Writer w;
    try {
      BuildStep<T> record = [&w](const json& config, const KerasVersion& version, const WeightReader<T>& read,
                                 const std::string& source) {
        const WeightReader<T> tap = [&w, &read](const WeightRequest& req) {
          Weights<T> ws = read(req);
          w.weights(ws);
          return ws;
        };
        Model<T> model = build_model<T>(config, version, tap, source);
        w.tag('M');
        w.str(config.dump());
        w.str(version.text);
        w.str(version.backend);
        w.str(source);
        return model;
      };
      (void)load(record);
    } catch (const std::bad_alloc&) {
      w.error('A', "");
    } catch (const io_error& e) {
      // An allocation inside libhdf5 that failed comes back as an HDF5 error: if no 4 MiB can be
      // had now, the limit is why.
      void* volatile probe = std::malloc(std::size_t(4) << 20);  // volatile: not elided with the free
      std::free(probe);
      w.error(probe == nullptr ? 'A' : 'I', e.what());
    } catch (const unsupported_error& e) {
      w.error('U', e.what());
    } catch (const model_error& e) {
      w.error('M', e.what());
    } catch (const std::exception& e) {
      w.error('O', e.what());
    }
    const std::string& out = w.finish();
    std::size_t at = 0;
    while (at < out.size()) {
      const ssize_t n = ::write(fd, out.data() + at, out.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        code = 3;
        break;
      }
      at += static_cast<std::size_t>(n);
    }
  } catch (...) {
    code = 4;  // no memory left even for the reply
  }
  ::_exit(code);
}

/// The parent's end: the child's pid and the pipe; kills and reaps a child still running when it
/// goes (an exception on the way), so that no path leaves a zombie or a stray process.
class Child {
 public:
  Child(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    close_pipe();
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      (void)wait(status, nullptr);
    }
  }
  int fd() const { return fd_; }
  void close_pipe() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  /// Waits for the child's exit (blocking); its status and CPU time.
  bool wait(int& status, rusage* usage) {
    while (true) {
      rusage ru{};
      const pid_t r = ::wait4(pid_, &status, 0, &ru);
      if (r == pid_) {
        pid_ = -1;
        if (usage != nullptr) *usage = ru;
        return true;
      }
      if (r < 0 && errno != EINTR) {
        pid_ = -1;
        return false;
      }
    }
  }
  /// Whether the child has exited (without blocking).
  bool exited(int& status, rusage& usage) {
    if (pid_ <= 0) return true;
    const pid_t r = ::wait4(pid_, &status, WNOHANG, &usage);
    if (r == pid_ || (r < 0 && errno != EINTR)) pid_ = -1;
    return pid_ < 0;
  }
  void kill_and_reap() {
    if (pid_ <= 0) return;  // never kill(-1, ...): that would signal every process
    ::kill(pid_, SIGKILL);
    int status = 0;
    (void)wait(status, nullptr);
  }

 private:
  pid_t pid_;
  int fd_;
};

/// Runs `load` in a child and returns its reply (checked by the caller), or throws io_error
/// naming `source` and what happened.
template <class T>
std::string run_child(const LoadOptions& o, const std::string& source, std::uint64_t file_size,
                      const std::function<Model<T>(const BuildStep<T>&)>& load) {
  const std::string who = concat("strata::load_model(", source, ")");
  const std::uint64_t memory = memory_limit(o, file_size);
  // By default one second over the timeout, so that the timeout, which the parent enforces, comes
  // first; the CPU limit (and the alarm) end a child whose parent is gone.
  const double cpu = o.cpu_limit() != 0 ? o.cpu_limit() : std::ceil(o.timeout()) + 1;
  const std::uint64_t base = mapped_bytes();
  int fds[2];
  if (::pipe(fds) != 0) throw io_error(concat(who, ": cannot start the isolated HDF5 reader: ", std::strerror(errno)));
#ifdef F_SETPIPE_SZ
  // A larger pipe (Linux; 1 MiB is the default maximum) means fewer switches between the two
  // processes: with 64 KiB, a 100 MB model took 1600 of them, seconds on a busy machine.
  (void)::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
#endif
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw io_error(concat(who, ": cannot start the isolated HDF5 reader (fork): ", std::strerror(e)));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main<T>(fds[1], memory, base, cpu, o.timeout(), load);
  }
  ::close(fds[1]);
  Child child(pid, fds[0]);
  const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(o.timeout()));
  const auto timed_out = [&]() {
    child.kill_and_reap();
    return io_error(concat(who, ": the HDF5 reader timed out after ", seconds_text(o.timeout()),
                           " s and was stopped (isolated loading; the file is corrupt or malicious, or needs a "
                           "longer LoadOptions::timeout)"));
  };
  std::string reply;
  std::string chunk(std::size_t(1) << 20, '\0');
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw timed_out();
    pollfd p{child.fd(), POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30)));
    if (r < 0 && errno != EINTR) throw io_error(concat(who, ": waiting for the HDF5 reader: ", std::strerror(errno)));
    if (r <= 0) continue;
    const ssize_t n = ::read(child.fd(), chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw io_error(concat(who, ": reading from the HDF5 reader: ", std::strerror(errno)));
    }
    if (n == 0) break;
    // The reply holds the weights once; more than the child's memory limit cannot be one.
    if (reply.size() + std::size_t(n) > memory) {
      child.kill_and_reap();
      throw io_error(concat(who, ": the HDF5 reader sent more than its memory limit"));
    }
    reply.append(chunk.data(), static_cast<std::size_t>(n));
  }
  child.close_pipe();
  int status = 0;
  rusage usage{};
  while (!child.exited(status, usage)) {
    if (std::chrono::steady_clock::now() >= deadline) throw timed_out();
    ::usleep(1000);
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const double used = double(usage.ru_utime.tv_sec) + double(usage.ru_stime.tv_sec) +
                        1e-6 * double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
    if (sig == SIGXCPU || (sig == SIGKILL && used >= std::ceil(cpu))) {
      throw io_error(concat(who, ": the HDF5 reader exceeded the CPU-time limit of ", seconds_text(std::ceil(cpu)),
                            " s and was stopped (isolated loading; the file is corrupt or malicious)"));
    }
    const char* name = signal_name(sig);
    throw io_error(concat(who, ": the HDF5 reader crashed (signal ", sig, *name ? ", " : "", name,
                          ") (isolated loading; the file is corrupt or malicious)"));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 4) {
    throw io_error(concat(who, ": the HDF5 reader exceeded the memory limit of ", memory >> 20,
                          " MiB (isolated loading; the file is corrupt or malicious, or needs a larger "
                          "LoadOptions::memory_limit_mb)"));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw io_error(concat(who, ": the HDF5 reader crashed (exit status ", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                          ") (isolated loading; the file is corrupt or malicious)"));
  }
  return reply;
}

#endif  // STRATA_IO_HAS_FORK

}  // namespace isolation

/// Runs `load` (a format loader taking its build step) isolated as LoadOptions describes, and
/// builds the model in this process from the child's reply. `file_size` sizes the default memory
/// limit.
template <class T>
Model<T> load_isolated(const LoadOptions& o, const std::string& source, std::uint64_t file_size,
                       const std::function<Model<T>(const BuildStep<T>&)>& load) {
#if STRATA_IO_HAS_FORK
  const std::string reply = isolation::run_child<T>(o, source, file_size, load);
  const std::string who = concat("strata::load_model(", source, ")");
  isolation::Reader in(reply, who);
  std::vector<Weights<T>> recorded;
  while (!in.done()) {
    const char tag = in.tag();
    if (tag == 'W') {
      recorded.push_back(in.weights<T>());
    } else if (tag == 'X') {
      const char kind = in.pod<char>();
      const std::string message = in.str();
      switch (kind) {
        case 'A':
          throw io_error(concat(who, ": the HDF5 reader exceeded the memory limit of ",
                                isolation::memory_limit(o, file_size) >> 20,
                                " MiB (isolated loading; the file is corrupt or malicious, or needs a larger "
                                "LoadOptions::memory_limit_mb)"));
        case 'U':
          throw unsupported_error(message);
        case 'M':
          throw model_error(message);
        default:
          throw io_error(message);
      }
    } else if (tag == 'M') {
      const std::string config_text = in.str();
      const std::string version_text = in.str();
      const std::string backend = in.str();
      const std::string built_source = in.str();
      if (!in.done()) in.bad("data after the model");
      json config;
      try {
        config = json::parse(config_text);
      } catch (const json::exception&) {
        in.bad("config");
      }
      std::size_t next = 0;
      const WeightReader<T> replay = [&](const WeightRequest&) {
        if (next >= recorded.size()) in.bad("fewer weights than the model asks for");
        return std::move(recorded[next++]);
      };
      try {
        KerasVersion version = KerasVersion::parse(version_text);
        version.backend = backend;  // found from the file's weights, not from its version text
        Model<T> model = build_model<T>(config, version, replay, built_source);
        if (next != recorded.size()) in.bad("more weights than the model asks for");
        return model;
      } catch (const strata::error& e) {
        // The child built this model without complaint; anything else is a bad reply.
        throw model_error(concat(who, ": ", e.what()));
      }
    } else {
      in.bad("unknown record");
    }
  }
  in.bad("no model");
#else
  (void)o;
  (void)file_size;
  (void)load;
  throw unsupported_error(concat("strata::load_model(", source,
                                 "): isolated loading (LoadOptions::isolation) needs fork(), which this platform "
                                 "lacks; load without isolation only files you trust"));
#endif
}

}  // namespace io::detail
}  // namespace STRATA_ISA_NAMESPACE
}  // namespace strata

#endif  // STRATA_SRC_IO_ISOLATION_HPP
