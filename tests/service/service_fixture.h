// Test support: a dmaheapd Service running in its own forked process on a small board, with a
// socket and a log file in a fresh temporary directory. Running it out of process keeps the
// test's own forks (clients, holders) from inheriting the service's descriptors.
#pragma once

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "board/board.h"
#include "protocol/service_client.h"
#include "service/service.h"

namespace dmaheap::testing {

inline constexpr uint64_t kRamBase = 0x40000000;

// 512 MiB of RAM at 0x40000000 with a 64 MiB default CMA area "reserved": kernel 6.18 makes
// the heaps "system", "default_cma_region" and "reserved" from it.
inline dt::BoardPlan smallBoardPlan() {
  dt::BoardPlan plan;
  plan.memory = {{kRamBase, 512 * kMiB}};
  dt::CmaArea area;
  area.name = "reserved";
  area.base = kRamBase + 256 * kMiB;
  area.size = 64 * kMiB;
  area.is_default = true;
  plan.cma_areas.push_back(area);
  return plan;
}

// Polls `done` until it holds; gives up (false) after a generous bound so a bug fails the test
// instead of hanging it. Not a timing assertion: it waits for events in other processes.
inline bool waitFor(const std::function<bool()>& done, std::chrono::seconds bound = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

// Removes a test's directory. A keeper dmaheapd started (docs/service-restart.md) ends by
// itself once nothing is worth keeping, which may be just when the test's last buffer closes,
// and it removes its socket then: an entry that vanishes meanwhile is not an error, so the
// removal is retried (up to 2 s) instead of throwing.
inline void removeTree(const std::string& path) {
  for (int i = 0; i < 200; ++i) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (!ec || !std::filesystem::exists(path)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

class ServiceProcess {
 public:
  explicit ServiceProcess(service::ServiceOptions options = {}, std::string dir = "") {
    if (dir.empty()) {
      char tmpl[] = "/tmp/dmaheapd-test-XXXXXX";
      dir_ = ::mkdtemp(tmpl);
      owns_dir_ = true;
    } else {
      dir_ = std::move(dir);
    }
    path_ = dir_ + "/dmaheap.sock";
    log_ = dir_ + "/log";
    start(std::move(options));
  }
  ~ServiceProcess() {
    stop();
    if (owns_dir_) std::filesystem::remove_all(dir_);
  }

  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }

  proto::ServiceClient connect() {
    auto c = proto::ServiceClient::connect(path_, "test");
    if (!c) {
      ADD_FAILURE() << "connect: " << c.error().message();
      std::abort();
    }
    return std::move(c.value());
  }

  std::string log() const {
    std::ifstream f(log_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  // SIGTERM and wait; the exit status (0 for a clean shutdown).
  int stop() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }

 private:
  void start(service::ServiceOptions options) {
    int ready[2];
    if (::pipe(ready) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGTERM);
      sigaddset(&set, SIGINT);
      ::sigprocmask(SIG_BLOCK, &set, nullptr);
      ::signal(SIGPIPE, SIG_IGN);
      const std::string log_path = log_;
      options.handle_signals = true;
      options.log = [log_path](const std::string& line) {
        std::ofstream(log_path, std::ios::app) << line << "\n";
      };
      auto board = buildBoard(smallBoardPlan());
      if (!board) _exit(10);
      auto svc = service::Service::create(*board.value()->registry, options);
      if (!svc) _exit(11);
      if (!(*svc)->listen(path_)) _exit(12);
      char ok = 1;
      if (::write(ready[1], &ok, 1) != 1) _exit(13);
      ::close(ready[1]);
      _exit((*svc)->run() ? 0 : 14);
    }
    ::close(ready[1]);
    char ok = 0;
    if (::read(ready[0], &ok, 1) != 1) ADD_FAILURE() << "the service process did not start";
    ::close(ready[0]);
  }

  std::string dir_, path_, log_;
  bool owns_dir_ = false;
  pid_t pid_ = -1;
  int status_ = 0;
};

// Passing fds between test processes over a socketpair, one byte each.
inline bool sendFd(int sock, int fd, char tag = 'f') {
  return proto::sendWithFd(sock, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&tag), 1), fd, false).ok();
}
inline UniqueFd receiveFd(int sock) {
  uint8_t b;
  std::vector<UniqueFd> fds;
  auto n = proto::receiveWithFds(sock, std::span<uint8_t>(&b, 1), fds, false);
  if (!n || *n != 1 || fds.size() != 1) return UniqueFd();
  return std::move(fds[0]);
}
inline bool sendByte(int sock, char c) { return ::write(sock, &c, 1) == 1; }
inline char readByte(int sock) {
  char c = 0;
  return ::read(sock, &c, 1) == 1 ? c : '\0';
}

}  // namespace dmaheap::testing
