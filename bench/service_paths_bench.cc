// The dmaheapd paths, against floors measured in the same process and run:
//   floor/lazy/N, floor/populated/N      in-process memfd_create + ftruncate (+ fallocate) + close
//   service/system/N, service/cma/N      ALLOC round trip to dmaheapd, fd received, fd closed
//   service/hello                        a round trip without a buffer (the transport's own cost)
//   throughput/{floor,scm_rights_floor,service}/clients:K
//                                        allocations per second, 4 KiB, from K client processes:
//                                        in-process memfds, one server process passing populated
//                                        memfds over SCM_RIGHTS to all K, and dmaheapd
//   free_latency/HEAP/N                  last close of a buffer -> its pages back in the heap
//                                        (p50_us / p99_us counters over every sample), and its
//   floor/close_populated/N              floor: close() of an in-process populated memfd
//                                        (p50_us / p99_us counters too)
// dmaheapd is the real binary (build/dmaheapd, or $DMAHEAPD), started as a child process on a
// private socket with the built-in default board (64 MiB CMA area `reserved`: 64 MiB fits).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "protocol/service_client.h"

namespace dmaheap {
namespace {

using Clock = std::chrono::steady_clock;

// ---- the daemon ----

class Daemon {
 public:
  Daemon() {
    char tmpl[] = "/tmp/dmaheap-bench-XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    dir_ = tmpl;
    socket_ = dir_ + "/dmaheap.sock";
    std::string exe;
    if (const char* env = std::getenv("DMAHEAPD")) exe = env;
    else exe = (std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "dmaheapd").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::execl(exe.c_str(), exe.c_str(), "--socket", socket_.c_str(), static_cast<char*>(nullptr));
      std::fprintf(stderr, "service_paths_bench: cannot run %s\n", exe.c_str());
      ::_exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      if (proto::ServiceClient::connectIfRunning(socket_)) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::fprintf(stderr, "service_paths_bench: dmaheapd (%s) did not start\n", exe.c_str());
    std::exit(2);
  }
  ~Daemon() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  const std::string& socket() const { return socket_; }

 private:
  std::string dir_, socket_;
  pid_t pid_ = -1;
};

Daemon& benchDaemon() {
  static Daemon* d = [] {
    ::signal(SIGPIPE, SIG_IGN);
    auto* p = new Daemon();
    std::atexit([] { delete d; });
    return p;
  }();
  return *d;
}

proto::ServiceClient connectOrSkip(benchmark::State& state) {
  auto c = proto::ServiceClient::connect(benchDaemon().socket(), "bench");
  if (!c) {
    state.SkipWithError(c.error().message().c_str());
    return proto::ServiceClient(UniqueFd{});
  }
  return std::move(c.value());
}

// ---- floors ----

bool floorOnce(off_t size, bool populate) {
  const int fd = ::memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  bool ok = fd >= 0 && ::ftruncate(fd, size) == 0 && (!populate || ::fallocate(fd, 0, 0, size) == 0);
  if (fd >= 0) ::close(fd);
  return ok;
}

void BM_FloorLazy(benchmark::State& state) {
  for (auto _ : state)
    if (!floorOnce(state.range(0), false)) state.SkipWithError("memfd");
}
void BM_FloorPopulated(benchmark::State& state) {
  for (auto _ : state)
    if (!floorOnce(state.range(0), true)) state.SkipWithError("memfd");
}

// The transport floors: a forked process answering over a Unix stream socketpair, either a
// plain 1-byte ping-pong (what any request to any local service costs here) or, when `size` is
// not 0, a populated memfd of `size` bytes created per request and passed back with SCM_RIGHTS
// (what any service handing out memory as fds costs, before doing anything of its own).
// Answers one request byte `x` on `sock`: x back, with a fresh populated memfd when size != 0.
bool echoOne(int sock, char x, off_t size) {
  int fd = -1;
  if (size != 0) {
    fd = ::memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return false;
    if (::ftruncate(fd, size) != 0 || ::fallocate(fd, 0, 0, size) != 0) {
      ::close(fd);
      return false;
    }
  }
  struct iovec iov = {&x, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr m = {};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (fd >= 0) {
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  const bool sent = ::sendmsg(sock, &m, MSG_NOSIGNAL) == 1;
  if (fd >= 0) ::close(fd);
  return sent;
}

[[noreturn]] void echoServer(int sock, off_t size) {
  char x;
  while (::read(sock, &x, 1) == 1)
    if (!echoOne(sock, x, size)) ::_exit(1);
  ::_exit(0);
}

// One server process for many clients (as dmaheapd is): poll, answer whichever asked, until
// every client has hung up.
[[noreturn]] void multiEchoServer(const std::vector<int>& socks, off_t size) {
  std::vector<struct pollfd> p;
  for (int s : socks) p.push_back({s, POLLIN, 0});
  size_t open = p.size();
  while (open > 0) {
    if (::poll(p.data(), p.size(), -1) < 0 && errno != EINTR) ::_exit(1);
    for (auto& q : p) {
      if (q.fd < 0 || q.revents == 0) continue;
      char x;
      if (::read(q.fd, &x, 1) == 1) {
        if (!echoOne(q.fd, x, size)) ::_exit(1);
        continue;
      }
      ::close(q.fd);
      q.fd = -1;
      --open;
    }
  }
  ::_exit(0);
}

// The client's half: one byte out, the byte and the fd back; the fd closed.
bool scmRoundTrip(int sock) {
  char x = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct iovec iov = {&x, 1};
  struct msghdr m = {};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  if (::write(sock, &x, 1) != 1 || ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC) != 1) return false;
  if (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c && c->cmsg_type == SCM_RIGHTS) {
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    ::close(fd);
  }
  return true;
}

void BM_FloorIpc(benchmark::State& state) {
  const off_t size = state.range(0);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return state.SkipWithError("socketpair");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(sv[0]);
    echoServer(sv[1], size);
  }
  ::close(sv[1]);
  for (auto _ : state) {
    if (!scmRoundTrip(sv[0])) {
      state.SkipWithError("echo");
      break;
    }
  }
  ::close(sv[0]);
  ::waitpid(pid, nullptr, 0);
}

// The floor of the free latency: close() of the only fd of a populated memfd, in-process (the
// kernel gives the pages back inside that close). Creating it is not timed.
// The percentiles are what free_latency's p99 is judged against.
double percentile(std::vector<double> v, double p);

void BM_FloorClose(benchmark::State& state) {
  const off_t size = state.range(0);
  std::vector<double> samples;
  for (auto _ : state) {
    state.PauseTiming();
    const int fd = ::memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ::ftruncate(fd, size) != 0 || ::fallocate(fd, 0, 0, size) != 0) state.SkipWithError("memfd");
    state.ResumeTiming();
    const auto t0 = Clock::now();
    ::close(fd);
    samples.push_back(std::chrono::duration<double>(Clock::now() - t0).count() * 1e6);
  }
  state.counters["p50_us"] = percentile(samples, 0.50);
  state.counters["p99_us"] = percentile(samples, 0.99);
}

// ---- round trips ----

void BM_ServiceAlloc(benchmark::State& state, const char* heap) {
  auto client = connectOrSkip(state);
  const auto size = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    auto b = client.allocate(heap, size);
    if (!b) {
      state.SkipWithError(b.error().message().c_str());
      break;
    }
  }  // the fd closes here: the service frees the buffer when its watch fires
}

void BM_ServiceHello(benchmark::State& state) {
  auto client = connectOrSkip(state);
  for (auto _ : state)
    if (!client.hello()) state.SkipWithError("hello");
}

// ---- throughput: K processes, each `per_client` 4 KiB allocations ----

constexpr int kPerClient = 1000;

enum class Source { kInProcess, kScmRights, kService };

// One client's allocations (after the start signal): kPerClient 4 KiB buffers, each closed.
bool clientAllocations(Source source, int scm_sock, proto::ServiceClient* c) {
  for (int k = 0; k < kPerClient; ++k) {
    const bool ok = source == Source::kService     ? static_cast<bool>(c->allocate("system", 4096))
                    : source == Source::kScmRights ? scmRoundTrip(scm_sock)
                                                   : floorOnce(4096, true);
    if (!ok) return false;
  }
  return true;
}

// For kScmRights: one socketpair per client, their server ends to one forked multiEchoServer.
// Returns the server's pid (-1 on failure); client i's end is (*client_ends)[i].
pid_t startScmServer(int clients, std::vector<int>* client_ends) {
  std::vector<int> server_ends;
  for (int i = 0; i < clients; ++i) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    client_ends->push_back(sv[0]);
    server_ends.push_back(sv[1]);
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (int s : *client_ends) ::close(s);
    multiEchoServer(server_ends, 4096);
  }
  for (int s : server_ends) ::close(s);
  return pid;
}

// Forks `clients` processes that each connect (to dmaheapd, or have their SCM_RIGHTS server),
// wait for the start signal, then allocate and close kPerClient buffers. Returns the wall time
// from start to the last exit.
double runClients(int clients, Source source) {
  // The server first: it must not hold the start pipe's write end (the clients wait for EOF).
  std::vector<int> scm_ends;
  const pid_t scm_server = source == Source::kScmRights ? startScmServer(clients, &scm_ends) : 0;
  if (scm_server < 0) return -1;
  int go[2];
  if (::pipe(go) != 0) return -1;
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  std::vector<pid_t> pids;
  for (int i = 0; i < clients; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(go[1]);
      ::close(ready[0]);
      std::optional<proto::ServiceClient> c;
      if (source == Source::kService) {
        auto r = proto::ServiceClient::connect(benchDaemon().socket(), "bench-client");
        if (!r) ::_exit(3);
        c.emplace(std::move(r.value()));
      }
      char x = 1;
      if (::write(ready[1], &x, 1) != 1 || ::read(go[0], &x, 1) != 0) ::_exit(4);  // EOF = go
      const int scm_sock = source == Source::kScmRights ? scm_ends[static_cast<size_t>(i)] : -1;
      ::_exit(clientAllocations(source, scm_sock, c ? &*c : nullptr) ? 0 : 5);
    }
    pids.push_back(pid);
  }
  for (int s : scm_ends) ::close(s);  // the server sees EOF once every client has exited
  ::close(go[0]);
  ::close(ready[1]);
  char x;
  for (int i = 0; i < clients; ++i)
    if (::read(ready[0], &x, 1) != 1) break;
  ::close(ready[0]);
  const auto t0 = Clock::now();
  ::close(go[1]);
  bool ok = true;
  for (pid_t p : pids) {
    int status = 0;
    ::waitpid(p, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  const auto t1 = Clock::now();
  if (scm_server > 0) {
    int status = 0;
    ::waitpid(scm_server, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return ok ? std::chrono::duration<double>(t1 - t0).count() : -1;
}

void BM_Throughput(benchmark::State& state, Source source) {
  const int clients = static_cast<int>(state.range(0));
  if (source == Source::kService) (void)benchDaemon();  // started before the fork, once
  for (auto _ : state) {
    const double s = runClients(clients, source);
    if (s < 0) {
      state.SkipWithError("a client failed");
      break;
    }
    state.SetIterationTime(s);
  }
  state.SetItemsProcessed(state.iterations() * clients * kPerClient);
}

// ---- free latency ----

Result<uint64_t> heapFree(proto::ServiceClient& c, const std::string& heap) {
  auto s = c.stats(false);
  if (!s) return s.error();
  for (const auto& h : s->heaps)
    if (h.heap.name == heap) return h.heap.free;
  return makeError(ENOENT, "no heap " + heap);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

// Allocates, closes the only fd at t0, then asks the service for the heap's free bytes until
// they are back to what they were before the allocation (each ask is one Stats round trip, and
// the service reads its watcher's events before answering one).
void BM_FreeLatency(benchmark::State& state, const char* heap) {
  auto client = connectOrSkip(state);
  const auto size = static_cast<uint64_t>(state.range(0));
  std::vector<double> samples, closes;
  uint64_t polls = 0;
  for (auto _ : state) {
    auto before = heapFree(client, heap);
    auto b = client.allocate(heap, size);
    if (!before || !b) {
      state.SkipWithError("alloc/stats");
      break;
    }
    const auto t0 = Clock::now();
    b->fd.reset();
    closes.push_back(std::chrono::duration<double>(Clock::now() - t0).count() * 1e6);
    for (;;) {
      ++polls;
      auto now = heapFree(client, heap);
      if (!now) {
        state.SkipWithError("stats");
        return;
      }
      if (*now == *before) break;
      if (Clock::now() - t0 > std::chrono::seconds(2)) {
        state.SkipWithError("buffer not freed within 2 s");
        return;
      }
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    state.SetIterationTime(s);
    samples.push_back(s * 1e6);
  }
  state.counters["p50_us"] = percentile(samples, 0.50);
  state.counters["p99_us"] = percentile(samples, 0.99);
  state.counters["close_p50_us"] = percentile(closes, 0.50);  // the close() alone: the kernel's part
  state.counters["polls_per_free"] = samples.empty() ? 0 : static_cast<double>(polls) / samples.size();
}

#define DMAHEAP_SIZES ->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20)->Arg(64 << 20)
BENCHMARK(BM_FloorLazy)->Name("floor/lazy") DMAHEAP_SIZES->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FloorPopulated)->Name("floor/populated") DMAHEAP_SIZES->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FloorIpc)->Name("floor/ipc_roundtrip")->Arg(0)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FloorIpc)->Name("floor/scm_rights_populated") DMAHEAP_SIZES->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ServiceAlloc, system, "system")->Name("service/system") DMAHEAP_SIZES->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ServiceAlloc, cma, "reserved")->Name("service/cma") DMAHEAP_SIZES->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ServiceHello)->Name("service/hello")->UseRealTime()->Unit(benchmark::kMicrosecond);
#define DMAHEAP_CLIENTS ->ArgName("clients")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Iterations(3)->UseManualTime()
BENCHMARK_CAPTURE(BM_Throughput, floor, Source::kInProcess)->Name("throughput/floor") DMAHEAP_CLIENTS
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Throughput, scm_rights, Source::kScmRights)->Name("throughput/scm_rights_floor") DMAHEAP_CLIENTS
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Throughput, service, Source::kService)->Name("throughput/service") DMAHEAP_CLIENTS
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FloorClose)->Name("floor/close_populated")->Arg(4 << 10)->Iterations(2000)->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FloorClose)->Name("floor/close_populated")->Arg(64 << 20)->Iterations(20)->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FreeLatency, system, "system")->Name("free_latency/system")->Arg(4 << 10)->Iterations(400)
    ->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FreeLatency, cma, "reserved")->Name("free_latency/cma")->Arg(4 << 10)->Iterations(400)
    ->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FreeLatency, cma64, "reserved")->Name("free_latency/cma")->Arg(64 << 20)->Iterations(20)
    ->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace dmaheap

BENCHMARK_MAIN();
