// Device tree file loading: .dtb directly, .dts through a dtc child process.
#include "devicetree/loader.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

extern char** environ;

namespace dmaheap::dt {
namespace {

constexpr size_t kMaxFileBytes = 64u << 20;
constexpr int kDtcTimeoutMs = 30000;

Result<std::vector<uint8_t>> readFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return makeError(errno, "cannot read '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return makeError(errno, "cannot stat '" + path + "'");
  if (S_ISDIR(st.st_mode)) return makeError(EISDIR, "'" + path + "' is a directory");
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return makeError(errno, "cannot read '" + path + "': " + std::strerror(errno));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
    if (out.size() > kMaxFileBytes) return makeError(EFBIG, "'" + path + "' is larger than 64 MiB");
  }
  return out;
}

// The first line of dtc's stderr that says what is wrong, without trailing whitespace.
std::string summariseDtcError(const std::string& err) {
  std::string first;
  size_t pos = 0;
  while (pos < err.size()) {
    size_t nl = err.find('\n', pos);
    if (nl == std::string::npos) nl = err.size();
    std::string line = err.substr(pos, nl - pos);
    pos = nl + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    if (first.empty()) first = line;
    if (line.find("rror") != std::string::npos) return line;
  }
  return first.empty() ? "dtc failed without a message" : first;
}

int64_t nowMs() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

Result<std::vector<uint8_t>> compileDts(const std::string& path) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return makeError(errno, "pipe failed");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return makeError(errno, "pipe failed");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  std::string input = path;
  // A path starting with '-' would be read as an option.
  if (!input.empty() && input[0] == '-') input = "./" + input;
  const char* argv[] = {"dtc", "-q", "-I", "dts", "-O", "dtb", "-o", "-", input.c_str(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "dtc", &fa, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    return makeError(ENOEXEC, "cannot run dtc to compile '" + path + "': " + std::strerror(rc) +
                                  " (install the device-tree-compiler package)");
  }
  out_w.reset();
  err_w.reset();

  std::vector<uint8_t> out;
  std::string err;
  const int64_t deadline = nowMs() + kDtcTimeoutMs;
  bool timed_out = false;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    struct pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
    const int64_t left = deadline - nowMs();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(left));
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    uint8_t buf[65536];
    for (int i = 0; i < 2; ++i) {
      bool& open = i == 0 ? out_open : err_open;
      if (!open || fds[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) continue;
        open = false;
        fds[i].fd = -1;
        continue;
      }
      if (i == 0) {
        out.insert(out.end(), buf, buf + got);
        if (out.size() > kMaxFileBytes) timed_out = true;
      } else if (err.size() < 65536) {
        err.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(got));
      }
    }
    if (timed_out) break;
    if (!out_open) fds[0].fd = -1;
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return makeError(ETIMEDOUT, "dtc did not finish compiling '" + path + "'");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return makeError(EINVAL, "dtc cannot compile '" + path + "': " + summariseDtcError(err));
  }
  return out;
}

Result<Fdt> loadDeviceTree(const std::string& path) {
  auto bytes = readFile(path);
  if (!bytes) return bytes.error();
  const auto& b = *bytes;
  if (b.size() >= 4 && b[0] == 0xd0 && b[1] == 0x0d && b[2] == 0xfe && b[3] == 0xed) {
    auto fdt = Fdt::fromBlob(b);
    if (!fdt) return makeError(EINVAL, "'" + path + "': " + fdt.error().message());
    return fdt;
  }
  if (b.empty()) return makeError(EINVAL, "'" + path + "' is empty, not a device tree");
  // Anything else must be device-tree source; binary junk is refused before dtc sees it.
  size_t binary = 0;
  for (size_t i = 0; i < b.size() && i < 4096; ++i)
    if (b[i] == 0) ++binary;
  if (binary > 0) return makeError(EINVAL, "'" + path + "' is neither a .dtb (bad magic) nor device-tree source");
  auto compiled = compileDts(path);
  if (!compiled) return compiled.error();
  auto fdt = Fdt::fromBlob(*compiled);
  if (!fdt) return makeError(EINVAL, "'" + path + "': dtc output: " + fdt.error().message());
  return fdt;
}

}  // namespace dmaheap::dt
