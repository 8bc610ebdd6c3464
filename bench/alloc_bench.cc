// Allocation + free through the embedded heaps, next to the floors measured in the same run:
// an in-process memfd_create + ftruncate (lazy) and + fallocate (populated), then close; and,
// where the host has them, its own system heap's ALLOC, udmabuf creation and a SYNC pair on a
// real dma-buf (skipped with the reason elsewhere, and make bench says "no floor on this host").
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "board/board_loader.h"

namespace dmaheap {
namespace {

void BM_FloorLazy(benchmark::State& state) {
  const auto size = static_cast<off_t>(state.range(0));
  for (auto _ : state) {
    const int fd = memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, size) != 0) state.SkipWithError("memfd");
    close(fd);
  }
}

void BM_FloorPopulated(benchmark::State& state) {
  const auto size = static_cast<off_t>(state.range(0));
  for (auto _ : state) {
    const int fd = memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, size) != 0 || fallocate(fd, 0, 0, size) != 0) state.SkipWithError("memfd");
    close(fd);
  }
}

void embedded(benchmark::State& state, const char* heap_name) {
  auto board = loadBoard(BoardOptions{});
  if (!board) {
    state.SkipWithError(board.error().message().c_str());
    return;
  }
  const HeapEntry* heap = board.value()->registry->find(heap_name);
  const uapi::AllocationData req{static_cast<uint64_t>(state.range(0)), 0, O_RDWR | O_CLOEXEC, 0};
  for (auto _ : state) {
    auto b = board.value()->registry->allocate(*heap, req);
    if (!b) state.SkipWithError(b.error().message().c_str());
    benchmark::DoNotOptimize(b);
  }
}
void BM_EmbeddedSystem(benchmark::State& state) { embedded(state, "system"); }
void BM_EmbeddedCma(benchmark::State& state) { embedded(state, "reserved"); }

// ---- the host's own devices ----

constexpr const char* kHostHeap = "/dev/dma_heap/system";
constexpr const char* kUdmabuf = "/dev/udmabuf";

// A real dma-buf of `size` from the host's system heap; -1 if it has none or ALLOC fails.
int hostHeapAlloc(int heap, uint64_t size) {
  struct dma_heap_allocation_data d = {};
  d.len = size;
  d.fd_flags = O_RDWR | O_CLOEXEC;
  return ::ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) == 0 ? static_cast<int>(d.fd) : -1;
}

// udmabuf's way to a dma-buf: a populated memfd that cannot shrink, then UDMABUF_CREATE.
int udmabufCreate(int dev, uint64_t size) {
  const int mem = memfd_create("floor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mem < 0) return -1;
  const auto len = static_cast<off_t>(size);
  int buf = -1;
  if (ftruncate(mem, len) == 0 && fallocate(mem, 0, 0, len) == 0 && fcntl(mem, F_ADD_SEALS, F_SEAL_SHRINK) == 0) {
    struct udmabuf_create c = {};
    c.memfd = static_cast<__u32>(mem);
    c.flags = UDMABUF_FLAGS_CLOEXEC;
    c.size = size;
    buf = ioctl(dev, UDMABUF_CREATE, &c);
  }
  close(mem);
  return buf;
}

int openOrSkip(benchmark::State& state, const char* path) {
  const int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) state.SkipWithError((std::string("no ") + path + " on this host").c_str());
  return fd;
}

void BM_FloorHostHeapAlloc(benchmark::State& state) {
  const int heap = openOrSkip(state, kHostHeap);
  if (heap < 0) return;
  for (auto _ : state) {
    const int fd = hostHeapAlloc(heap, static_cast<uint64_t>(state.range(0)));
    if (fd < 0) {
      state.SkipWithError("ALLOC on the host's heap failed");
      break;
    }
    close(fd);
  }
  close(heap);
}

// The whole way from nothing to a dma-buf and back: memfd, populate, seal, create, close both.
void BM_FloorUdmabufCreate(benchmark::State& state) {
  const int dev = openOrSkip(state, kUdmabuf);
  if (dev < 0) return;
  for (auto _ : state) {
    const int fd = udmabufCreate(dev, static_cast<uint64_t>(state.range(0)));
    if (fd < 0) {
      state.SkipWithError("UDMABUF_CREATE failed");
      break;
    }
    close(fd);
  }
  close(dev);
}

// A real dma-buf for the SYNC floor: the host's heap, else udmabuf; nullopt (skipped) if neither.
std::optional<int> hostDmabuf(benchmark::State& state) {
  if (const int heap = open(kHostHeap, O_RDWR | O_CLOEXEC); heap >= 0) {
    const int fd = hostHeapAlloc(heap, 4096);
    close(heap);
    if (fd >= 0) return fd;
  }
  if (const int dev = open(kUdmabuf, O_RDWR | O_CLOEXEC); dev >= 0) {
    const int fd = udmabufCreate(dev, 4096);
    close(dev);
    if (fd >= 0) return fd;
  }
  state.SkipWithError("no /dev/dma_heap/system or /dev/udmabuf on this host");
  return std::nullopt;
}

// One frame's CPU access on a real dma-buf in-process: the floor of run/sync_pair.
void BM_FloorHostSyncPair(benchmark::State& state) {
  const auto fd = hostDmabuf(state);
  if (!fd) return;
  for (auto _ : state) {
    struct dma_buf_sync start = {DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
    struct dma_buf_sync end = {DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW};
    if (ioctl(*fd, DMA_BUF_IOCTL_SYNC, &start) != 0 || ioctl(*fd, DMA_BUF_IOCTL_SYNC, &end) != 0) {
      state.SkipWithError("SYNC failed");
      break;
    }
  }
  close(*fd);
}

#define DMAHEAP_SIZES ->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20)->Arg(64 << 20)->Unit(benchmark::kMicrosecond)
BENCHMARK(BM_FloorLazy)->Name("floor/lazy") DMAHEAP_SIZES;
BENCHMARK(BM_FloorPopulated)->Name("floor/populated") DMAHEAP_SIZES;
BENCHMARK(BM_EmbeddedSystem)->Name("embedded/system") DMAHEAP_SIZES;
BENCHMARK(BM_EmbeddedCma)->Name("embedded/cma") DMAHEAP_SIZES;
BENCHMARK(BM_FloorHostHeapAlloc)->Name("floor/host_heap_alloc")->Arg(4 << 10)->Arg(64 << 20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FloorUdmabufCreate)->Name("floor/udmabuf_create")->Arg(4 << 10)->Arg(64 << 20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FloorHostSyncPair)->Name("floor/host_sync_pair")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace dmaheap

BENCHMARK_MAIN();
