// Allocation + free through the embedded heaps, next to the floors measured in the same run:
// an in-process memfd_create + ftruncate (lazy) and + fallocate (populated), then close.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

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

#define DMAHEAP_SIZES ->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20)->Arg(64 << 20)->Unit(benchmark::kMicrosecond)
BENCHMARK(BM_FloorLazy)->Name("floor/lazy") DMAHEAP_SIZES;
BENCHMARK(BM_FloorPopulated)->Name("floor/populated") DMAHEAP_SIZES;
BENCHMARK(BM_EmbeddedSystem)->Name("embedded/system") DMAHEAP_SIZES;
BENCHMARK(BM_EmbeddedCma)->Name("embedded/cma") DMAHEAP_SIZES;

}  // namespace
}  // namespace dmaheap

BENCHMARK_MAIN();
