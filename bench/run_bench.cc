// ALLOC latency through `dmaheap run` (seccomp user notification, supervisor, ADDFD) against
// the in-process floor: memfd_create + ftruncate (lazy) and + fallocate (populated, which is
// what an emulated heap buffer is). The binary re-runs itself under runProgram() with an
// embedded default board; the benchmarks then execute inside the traced process.
//
// The seccomp floor (floor/seccomp_addfd*) cannot run in the traced process: a filter chain has
// at most one listener (a second NEW_LISTENER is EBUSY). So the untraced parent forks a helper
// before runProgram(), whose own child process traps while the helper answers, and the benchmark
// asks it over a socket for batches of round trips, timed by the trapping process.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "board/board_loader.h"
#include "emulation/caller.h"
#include "emulation/embedded_backend.h"
#include "emulation/ioctl_emulator.h"
#include "emulation/runner.h"
#include "emulation/seccomp_filter.h"
#include "heap/backing.h"
#include "heap/uapi.h"
#include "protocol/transport.h"


namespace {

constexpr const char* kTracedEnv = "DMAHEAP_RUN_BENCH_TRACED";

constexpr const char* kFloorFdEnv = "DMAHEAP_RUN_BENCH_FLOOR_FD";

// ---- the seccomp floor: helper process (untraced) ----

// Any 'H' ioctl goes to the listener of the repo's own filter (seccomp_filter.h); this number is
// none of the heap's, so the floor traps exactly what `dmaheap run` traps, through the same BPF.
constexpr unsigned long kFloorCmd = _IO('H', 0xf0);

enum FloorMode : uint32_t {
  kReadyMemfd = 0,          // one memfd, populated before the batch; each trip installs a dup
  kPopulatePerRequest = 1,  // the supervisor creates and populates a memfd per notification
  kNoSyncWakeUp = 2,        // leave SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP off
};

struct FloorRequest {
  uint64_t size = 0;
  uint32_t count = 0;
  uint32_t mode = 0;
};

struct FloorReply {
  int32_t error = 0;          // errno of the first failure, 0 on success
  uint32_t sync_wake_up = 0;  // the kernel accepted SECCOMP_IOCTL_NOTIF_SET_FLAGS
  uint32_t addfd_send = 0;    // SECCOMP_ADDFD_FLAG_SEND worked (5.14+)
  uint32_t same_cpu = 0;      // trips whose answer and trapped call ran on one CPU
  uint64_t total_ns = 0;      // the trapping process's wall time for the whole batch
};

uint64_t nowNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

int populatedMemfd(uint64_t size) {
  const int fd = ::memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  const auto len = static_cast<off_t>(size);
  if (fd >= 0 && (::ftruncate(fd, len) != 0 || ::fallocate(fd, 0, 0, len) != 0)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The process that traps, forked by the helper: its own filter and listener (sent back over a
// socket), then batches on request. A process, not a thread, since `dmaheap run`'s target is one:
// every wake-up crosses address spaces as it does there. The timed loop is the trap, the wait
// for the answer, and close() of the installed fd (the "free" of an ALLOC + close, as in
// run/system). Batch results travel through a shared page; the go/done bytes through a socket.
constexpr uint32_t kMaxBatch = 64;

struct TrapShared {
  uint32_t count = 0;
  int32_t error = 0;
  uint64_t elapsed_ns = 0;
  int cpus[kMaxBatch] = {};
};

class TrapProcess {
 public:
  dmaheap::Status start(const dmaheap::emul::FilterProgram& program) {
    void* mem = ::mmap(nullptr, sizeof(TrapShared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return dmaheap::makeError(errno, "mmap");
    shared_ = new (mem) TrapShared();
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return dmaheap::makeError(errno, "socketpair");
    pid_ = ::fork();
    if (pid_ < 0) return dmaheap::makeError(errno, "fork");
    if (pid_ == 0) {
      ::close(sv[0]);
      child(sv[1], program);
    }
    ::close(sv[1]);
    control_.reset(sv[0]);
    uint8_t status = 0;
    std::vector<dmaheap::UniqueFd> fds;
    auto n = dmaheap::proto::receiveWithFds(control_.get(), std::span(&status, 1), fds, /*nonblocking=*/false);
    if (!n || n.value() != 1 || fds.empty()) return dmaheap::makeError(status ? status : EIO, "seccomp listener");
    listener_ = std::move(fds.front());
    return {};
  }
  int listener() const { return listener_.get(); }
  // Ends the trapping process (it sees its socket close) and reaps it.
  void stop() {
    control_.reset();
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Starts a batch of `count` (<= kMaxBatch) trips.
  void run(uint32_t count) {
    shared_->count = count;
    const char go = 1;
    if (::send(control_.get(), &go, 1, MSG_NOSIGNAL) != 1) ::_exit(4);
  }
  // Waits for the batch; then error(), elapsedNs() and cpu(i) describe it.
  void wait() {
    char done;
    if (::recv(control_.get(), &done, 1, 0) != 1) ::_exit(4);
  }
  int error() const { return shared_->error; }
  uint64_t elapsedNs() const { return shared_->elapsed_ns; }
  int cpu(uint32_t i) const { return shared_->cpus[i]; }

 private:
  [[noreturn]] void child(int sock, const dmaheap::emul::FilterProgram& program) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    uint8_t status = 0;
    dmaheap::UniqueFd listener;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
      status = static_cast<uint8_t>(errno);
    } else if (auto r = dmaheap::emul::installDmaHeapFilter(program); r) {
      listener = std::move(r.value());
    } else {
      status = static_cast<uint8_t>(r.code());
    }
    (void)dmaheap::proto::sendWithFd(sock, std::span<const uint8_t>(&status, 1), listener.get(), false);
    listener.reset();  // the helper holds it now
    char go;
    while (::recv(sock, &go, 1, 0) == 1) {
      batch();
      const char done = 1;
      if (::send(sock, &done, 1, MSG_NOSIGNAL) != 1) break;
    }
    ::_exit(0);
  }
  void batch() {
    int error = 0;
    const uint32_t count = std::min(shared_->count, kMaxBatch);
    const uint64_t t0 = nowNs();
    for (uint32_t i = 0; i < count; ++i) {
      const int fd = ::ioctl(-1, kFloorCmd, 0);
      if (fd < 0) {
        error = errno;
        break;
      }
      shared_->cpus[i] = ::sched_getcpu();
      ::close(fd);
    }
    shared_->elapsed_ns = nowNs() - t0;
    shared_->error = error;
  }

  TrapShared* shared_ = nullptr;
  pid_t pid_ = -1;
  dmaheap::UniqueFd control_, listener_;
};

// The supervisor's half, on the helper's main thread: RECV, then ADDFD with SEND (the new fd
// is the trapped call's return value), nothing else; with a memfd made per notification, ADDFD
// and a separate SEND (answerFresh says why).
class FloorSupervisor {
 public:
  explicit FloorSupervisor(int listener) : listener_(listener) {
    struct seccomp_notif_sizes sizes {};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) sizes.seccomp_notif = sizeof(struct seccomp_notif);
    notif_.resize(std::max<size_t>(sizes.seccomp_notif, sizeof(struct seccomp_notif)));
  }
  // As the Supervisor does it; false when the kernel has no such flag (before 6.6).
  bool setSyncWakeUp(bool on) {
    const uint64_t flags = on ? SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP : 0;
    return ::ioctl(listener_, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) == 0 && on;
  }
  bool addfdSend() const { return addfd_send_; }
  // Answers one notification with `srcfd`, or with a fresh populated memfd of `size` if
  // srcfd < 0. Returns this thread's CPU after RECV, or -errno; a failed RECV is fatal.
  int answerOne(int srcfd, uint64_t size) {
    std::fill(notif_.begin(), notif_.end(), 0);
    auto* notif = reinterpret_cast<struct seccomp_notif*>(notif_.data());
    if (::ioctl(listener_, SECCOMP_IOCTL_NOTIF_RECV, notif) != 0) ::_exit(3);
    const int cpu = ::sched_getcpu();
    const int e = srcfd >= 0 ? answerWith(notif->id, srcfd) : answerFresh(notif->id, size);
    if (e != 0) {
      reply(notif->id, 0, e);
      return -e;
    }
    return cpu;
  }

 private:
  // The ready memfd: ADDFD with SEND installs a dup and answers in one ioctl.
  int answerWith(uint64_t id, int srcfd) {
    const int n = install(id, srcfd, addfd_send_);
    if (n == -EINVAL && addfd_send_) {  // before 5.14: ADDFD, then a separate SEND
      addfd_send_ = false;
      return answerWith(id, srcfd);
    }
    if (n < 0) return -n;
    return addfd_send_ ? 0 : reply(id, n, 0);
  }
  // A fresh memfd: our copy must be closed before the answer wakes the caller, or the last
  // close() (the pages given back) would be ours, after the caller's timer stopped. So ADDFD,
  // close, then SEND, as `dmaheap run`'s ALLOC answers too.
  int answerFresh(uint64_t id, uint64_t size) {
    const int fresh = populatedMemfd(size);
    if (fresh < 0) return ENOMEM;
    const int n = install(id, fresh, false);
    ::close(fresh);
    return n < 0 ? -n : reply(id, n, 0);
  }
  // The new fd's number in the caller, or -errno.
  int install(uint64_t id, int srcfd, bool send) {
    struct seccomp_notif_addfd addfd {};
    addfd.id = id;
    addfd.srcfd = static_cast<__u32>(srcfd);
    addfd.newfd_flags = O_CLOEXEC;
    addfd.flags = send ? SECCOMP_ADDFD_FLAG_SEND : 0;
    const int n = ::ioctl(listener_, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
    return n < 0 ? -errno : n;
  }
  int reply(uint64_t id, int64_t val, int error) {
    struct seccomp_notif_resp resp {};
    resp.id = id;
    resp.val = val;
    resp.error = error ? -error : 0;
    return ::ioctl(listener_, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0 ? 0 : errno;
  }

  int listener_;
  std::vector<uint8_t> notif_;
  bool addfd_send_ = true;
};

FloorReply runFloorBatch(TrapProcess& trap, FloorSupervisor& sup, const FloorRequest& req) {
  FloorReply out;
  out.sync_wake_up = sup.setSyncWakeUp(!(req.mode & kNoSyncWakeUp)) ? 1 : 0;
  const bool ready = !(req.mode & kPopulatePerRequest);
  const int ready_fd = ready ? populatedMemfd(req.size) : -1;  // outside the timed region
  if (ready && ready_fd < 0) {
    out.error = ENOMEM;
    return out;
  }
  const uint32_t count = std::min(req.count, kMaxBatch);
  std::vector<int> sup_cpus(count, -2);
  trap.run(count);
  for (uint32_t i = 0; i < count; ++i) {
    sup_cpus[i] = sup.answerOne(ready_fd, req.size);
    if (sup_cpus[i] < 0) break;  // the trapping process got the error and stops too
  }
  trap.wait();
  if (ready_fd >= 0) ::close(ready_fd);
  out.error = trap.error();
  out.total_ns = trap.elapsedNs();
  out.addfd_send = ready && sup.addfdSend() ? 1 : 0;
  for (uint32_t i = 0; i < count; ++i) out.same_cpu += trap.cpu(i) == sup_cpus[i] ? 1 : 0;
  return out;
}

// The helper's life: one trapping process, then batches until the benchmark's socket closes.
[[noreturn]] void floorHelperMain(int sock) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto program = dmaheap::emul::buildDmaHeapFilter();
  FloorReply failed;
  if (!program) {
    failed.error = program.code();
  }
  TrapProcess trap;
  if (program) {
    if (dmaheap::Status st = trap.start(program.value()); !st) failed.error = st.code();
  }
  std::optional<FloorSupervisor> sup;
  if (failed.error == 0) sup.emplace(trap.listener());
  FloorRequest req;
  while (::recv(sock, &req, sizeof req, 0) == static_cast<ssize_t>(sizeof req)) {
    const FloorReply r = sup ? runFloorBatch(trap, *sup, req) : failed;
    if (::send(sock, &r, sizeof r, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof r)) break;
  }
  trap.stop();
  ::_exit(0);
}

// Forks the helper (before runProgram, while this process is single-threaded) and leaves the
// benchmark's end of the socket open across exec, its number in $DMAHEAP_RUN_BENCH_FLOOR_FD.
pid_t startFloorHelper() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(sv[0]);
    floorHelperMain(sv[1]);
  }
  ::close(sv[1]);
  if (pid < 0 || ::fcntl(sv[0], F_SETFD, 0) != 0) {
    ::close(sv[0]);
    return -1;
  }
  ::setenv(kFloorFdEnv, std::to_string(sv[0]).c_str(), 1);
  return pid;
}

// Closes our end of the helper's socket (its recv sees EOF and it exits), then reaps it.
void stopFloorHelper(pid_t pid) {
  if (pid < 0) return;
  if (const char* env = std::getenv(kFloorFdEnv)) ::close(std::atoi(env));
  ::waitpid(pid, nullptr, 0);
}

// ---- the seccomp floor: the benchmark (in the traced process) ----

std::optional<FloorReply> askFloor(int sock, const FloorRequest& req) {
  FloorReply r;
  if (::send(sock, &req, sizeof req, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof req) ||
      ::recv(sock, &r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
    return std::nullopt;
  }
  return r;
}

// One iteration = one batch; its manual time is the mean per round trip, so real_time reads
// like the other floors'. Iterations are fixed at registration (a batch is many trips).
void BM_FloorSeccompAddfd(benchmark::State& state, uint32_t mode) {
  const char* env = std::getenv(kFloorFdEnv);
  if (!env) {
    state.SkipWithError("no floor helper (run_bench starts it outside dmaheap run)");
    return;
  }
  const int sock = std::atoi(env);
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  const bool populate = mode & kPopulatePerRequest;
  // Batches of about a millisecond or more, so the socket's wake-ups between them stay rare.
  const uint32_t batch = !populate ? 50u : size >= (16u << 20) ? 1u : size >= (1u << 20) ? 10u : 50u;
  const FloorRequest req{size, batch, mode};
  uint64_t trips = 0, same = 0;
  FloorReply last;
  for (auto _ : state) {
    auto r = askFloor(sock, req);
    if (!r || r->error != 0) {
      state.SkipWithError(r ? std::strerror(r->error) : "the floor helper is gone");
      return;
    }
    state.SetIterationTime(static_cast<double>(r->total_ns) * 1e-9 / req.count);
    trips += req.count;
    same += r->same_cpu;
    last = *r;
  }
  state.counters["round_trips"] = static_cast<double>(trips);
  state.counters["same_cpu_pct"] = trips ? 100.0 * static_cast<double>(same) / static_cast<double>(trips) : 0;
  state.counters["sync_wake_up"] = last.sync_wake_up;
  state.counters["addfd_send"] = last.addfd_send;
  state.SetLabel(std::string(last.sync_wake_up ? "SYNC_WAKE_UP" : "no SYNC_WAKE_UP") +
                 (last.addfd_send ? ", ADDFD_FLAG_SEND" : ", ADDFD then SEND"));
}


void BM_MemfdLazy(benchmark::State& state) {
  const auto size = static_cast<off_t>(state.range(0));
  for (auto _ : state) {
    int fd = ::memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ::ftruncate(fd, size) != 0) state.SkipWithError("memfd");
    ::close(fd);
  }
}

void BM_MemfdPopulated(benchmark::State& state) {
  const auto size = static_cast<off_t>(state.range(0));
  for (auto _ : state) {
    int fd = ::memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ::ftruncate(fd, size) != 0 || ::fallocate(fd, 0, 0, size) != 0) state.SkipWithError("memfd");
    ::close(fd);
  }
}

// In-process embedded backend (libdmaheap's embedded path): heap core + memfd, no supervisor.
void BM_EmbeddedInProcess(benchmark::State& state) {
  auto board = dmaheap::loadBoard({});
  auto backend = dmaheap::emul::EmbeddedBackend::create(std::move(board.value()));
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    auto buf = backend.value()->allocate("system", {size, 0, O_RDWR | O_CLOEXEC, 0});
    if (!buf) state.SkipWithError(buf.error().message().c_str());
  }
}

// An ioctl the filter sends to the supervisor that is not ours (a pipe): the CONTINUE path.
void BM_RunForeignIoctl(benchmark::State& state) {
  int p[2];
  if (::pipe(p) != 0) return;
  for (auto _ : state) {
    struct dma_heap_allocation_data d = {};
    benchmark::DoNotOptimize(::ioctl(p[0], DMA_HEAP_IOCTL_ALLOC, &d));
  }
  ::close(p[0]);
  ::close(p[1]);
}

constexpr int64_t k4K = 4096;
constexpr int64_t k64M = 64 << 20;
BENCHMARK(BM_EmbeddedInProcess)->Arg(k4K)->Arg(k64M)->Unit(benchmark::kMicrosecond);

// make bench: both heaps at every size, with floors at every size in the same process.
void BM_RunAllocHeap(benchmark::State& state, const char* heap_name) {
  const std::string path = std::string("/dev/dma_heap/") + heap_name;
  int heap = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (heap < 0) {
    state.SkipWithError(("no " + path + ": not under dmaheap run").c_str());
    return;
  }
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    struct dma_heap_allocation_data d = {};
    d.len = size;
    d.fd_flags = O_RDWR | O_CLOEXEC;
    if (::ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) != 0) {
      state.SkipWithError("ALLOC failed");
      break;
    }
    ::close(static_cast<int>(d.fd));
  }
  ::close(heap);
}
#define DMAHEAP_BENCH_SIZES ->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20)->Arg(64 << 20)
BENCHMARK(BM_MemfdLazy)->Name("floor/lazy") DMAHEAP_BENCH_SIZES->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MemfdPopulated)->Name("floor/populated") DMAHEAP_BENCH_SIZES->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RunAllocHeap, system, "system")->Name("run/system") DMAHEAP_BENCH_SIZES->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RunAllocHeap, cma, "reserved")->Name("run/cma") DMAHEAP_BENCH_SIZES->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RunForeignIoctl)->Name("run/foreign_ioctl")->UseRealTime()->Unit(benchmark::kMicrosecond);

// One frame's CPU access: DMA_BUF_IOCTL_SYNC start and end on a 4 KiB system-heap buffer, under
// the backing the board got ($DMAHEAP_BACKING, default auto: memfd where the host has no real
// dma-bufs, where every SYNC is a supervisor round trip; docs/emulation.md "Backings").
void BM_RunSyncPair(benchmark::State& state) {
  int heap = ::open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
  if (heap < 0) {
    state.SkipWithError("no /dev/dma_heap/system: not under dmaheap run");
    return;
  }
  struct dma_heap_allocation_data d = {};
  d.len = 4096;
  d.fd_flags = O_RDWR | O_CLOEXEC;
  if (::ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) != 0) {
    state.SkipWithError("ALLOC failed");
    ::close(heap);
    return;
  }
  const int fd = static_cast<int>(d.fd);
  for (auto _ : state) {
    struct dma_buf_sync start = {DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
    struct dma_buf_sync end = {DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW};
    if (::ioctl(fd, DMA_BUF_IOCTL_SYNC, &start) != 0 || ::ioctl(fd, DMA_BUF_IOCTL_SYNC, &end) != 0) {
      state.SkipWithError("SYNC failed");
      break;
    }
  }
  ::close(fd);
  ::close(heap);
}
BENCHMARK(BM_RunSyncPair)->Name("run/sync_pair")->UseRealTime()->Unit(benchmark::kMicrosecond);

// The floor of run/sync_pair where the host has no real dma-buf: the same SYNC start and end
// emulated in-process (the ioctl emulator and the embedded backend the supervisor runs, with
// this process as the caller), without the trap and the wake-ups around it.
void BM_FloorEmulatedSyncPair(benchmark::State& state) {
  auto board = dmaheap::loadBoard({});
  if (!board) return state.SkipWithError(board.error().message().c_str());
  auto backend = dmaheap::emul::EmbeddedBackend::create(std::move(board.value()));
  if (!backend) return state.SkipWithError(backend.error().message().c_str());
  auto buf = backend.value()->allocate("system", {4096, 0, O_RDWR | O_CLOEXEC, 0});
  if (!buf) return state.SkipWithError(buf.error().message().c_str());
  dmaheap::emul::SelfCaller self;
  struct dma_buf_sync start = {DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
  struct dma_buf_sync end = {DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW};
  const dmaheap::emul::IoctlCall calls[] = {{dmaheap::uapi::kBufIoctlSync, reinterpret_cast<uintptr_t>(&start)},
                                            {dmaheap::uapi::kBufIoctlSync, reinterpret_cast<uintptr_t>(&end)}};
  for (auto _ : state) {
    for (const auto& call : calls) {
      if (!dmaheap::emul::emulateBufferIoctl(*backend.value(), buf->key, buf->fd.get(), call, self)) {
        return state.SkipWithError("emulated SYNC failed");
      }
    }
  }
}
BENCHMARK(BM_FloorEmulatedSyncPair)->Name("floor/emulated_sync_pair")->UseRealTime()->Unit(benchmark::kMicrosecond);

// Scale under `dmaheap run`: T threads of this process allocate and close 4 KiB buffers at once
// (one supervisor answers them all). Manual time from the start signal to the last thread's end.
constexpr int kPerThread = 500;

bool allocLoop(int heap, int count) {
  for (int i = 0; i < count; ++i) {
    struct dma_heap_allocation_data d = {};
    d.len = 4096;
    d.fd_flags = O_RDWR | O_CLOEXEC;
    if (::ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) != 0) return false;
    ::close(static_cast<int>(d.fd));
  }
  return true;
}

void BM_RunThreads(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  int heap = ::open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
  if (heap < 0) return state.SkipWithError("no /dev/dma_heap/system: not under dmaheap run");
  for (auto _ : state) {
    std::atomic<bool> go{false};
    std::atomic<int> failed{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        if (!allocLoop(heap, kPerThread)) failed.fetch_add(1);
      });
    }
    const auto t0 = std::chrono::steady_clock::now();
    go.store(true, std::memory_order_release);
    for (auto& th : pool) th.join();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (failed.load() != 0) {
      state.SkipWithError("ALLOC failed in a thread");
      break;
    }
  }
  ::close(heap);
  state.SetItemsProcessed(state.iterations() * threads * kPerThread);
}
BENCHMARK(BM_RunThreads)->Name("run/threads")->ArgName("threads")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Iterations(3)
    ->UseManualTime()->Unit(benchmark::kMillisecond);

// The bare seccomp round trip: 4 KiB and 64 MiB with a ready memfd (the floor; the size
// only matters to what the trapping process's close() gives back: nothing, it closes a dup), the
// same with a memfd created and populated per notification (as floor/scm_rights_populated does
// per request: the floor of an ALLOC that has to make its buffer), and 4 KiB without
// SYNC_WAKE_UP (what the flag is worth here).
BENCHMARK_CAPTURE(BM_FloorSeccompAddfd, ready, kReadyMemfd)->Name("floor/seccomp_addfd")->Arg(4 << 10)->Arg(64 << 20)
    ->Iterations(100)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FloorSeccompAddfd, populated, kPopulatePerRequest)->Name("floor/seccomp_addfd_populated")
    ->Arg(4 << 10)->Arg(64 << 10)->Iterations(100)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FloorSeccompAddfd, populated_large, kPopulatePerRequest)->Name("floor/seccomp_addfd_populated")
    ->Arg(1 << 20)->Arg(16 << 20)->Arg(64 << 20)->Iterations(20)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FloorSeccompAddfd, nosync, kNoSyncWakeUp)->Name("floor/seccomp_addfd_nosync")->Arg(4 << 10)
    ->Iterations(100)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  if (!std::getenv(kTracedEnv)) {
    // Re-run this binary as `dmaheap run` would run any program, with the seccomp floor's
    // helper forked first (it must stay outside the filter).
    const pid_t floor_helper = startFloorHelper();
    if (floor_helper < 0) std::fprintf(stderr, "run_bench: no seccomp floor helper: %s\n", std::strerror(errno));
    ::setenv(kTracedEnv, "1", 1);
    auto board = dmaheap::loadBoard({});
    if (!board) return 2;
    dmaheap::BackingOptions backing;
    if (const char* choice = std::getenv("DMAHEAP_BACKING"); choice && *choice) {
      auto parsed = dmaheap::parseBackingChoice(choice);
      if (!parsed) return 2;
      backing.choice = parsed.value();
    }
    backing.paths = dmaheap::HostPaths::fromEnvironment();
    backing.notice_prefix = "run_bench";
    std::string why;
    auto selected = dmaheap::selectBacking(backing, &why);
    if (!selected) {
      std::fprintf(stderr, "run_bench: %s\n", selected.error().message().c_str());
      return 2;
    }
    std::fprintf(stderr, "run_bench: %s\n", why.c_str());
    board.value()->registry->setBacking(std::move(selected.value()));
    auto backend = dmaheap::emul::EmbeddedBackend::create(std::move(board.value()));
    if (!backend) return 2;
    dmaheap::emul::RunOptions o;
    o.argv.push_back("/proc/self/exe");
    for (int i = 1; i < argc; ++i) o.argv.push_back(argv[i]);
    auto status = dmaheap::emul::runProgram(*backend.value(), o);
    stopFloorHelper(floor_helper);
    if (!status) {
      std::fprintf(stderr, "run_bench: %s\n", status.error().message().c_str());
      return 2;
    }
    return status.value();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
