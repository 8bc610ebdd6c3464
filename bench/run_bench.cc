// ALLOC latency through `dmaheap run` (seccomp user notification, supervisor, ADDFD) against
// the in-process floor: memfd_create + ftruncate (lazy) and + fallocate (populated, which is
// what an emulated heap buffer is). The binary re-runs itself under runProgram() with an
// embedded default board; the benchmarks then execute inside the traced process.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "board/board_loader.h"
#include "emulation/embedded_backend.h"
#include "emulation/runner.h"
#include "heap/backing.h"

namespace {

constexpr const char* kTracedEnv = "DMAHEAP_RUN_BENCH_TRACED";

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

// make bench (issue 7): both heaps at every size, with floors at every size in the same process.
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

}  // namespace

int main(int argc, char** argv) {
  if (!std::getenv(kTracedEnv)) {
    // Re-run this binary as `dmaheap run` would run any program.
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
