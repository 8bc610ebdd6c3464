// Building the memory model for boards of 1 to 64 GiB: time, and metadata bytes as a counter
// (the footprint, which must stay a small fraction of the modelled RAM).
#include <benchmark/benchmark.h>

#include "memory/memory_model.h"

namespace dmaheap {
namespace {

void BM_BuildBoard(benchmark::State& state) {
  const uint64_t gib = static_cast<uint64_t>(state.range(0));
  MemoryLayout layout;
  layout.ram = {{0x40000000, gib * kGiB}};
  layout.cma_areas = {{"reserved", {0x40000000 + gib * kGiB - 64 * kMiB, 64 * kMiB}}};
  uint64_t metadata = 0;
  for (auto _ : state) {
    auto m = MemoryModel::create(Kernel{}, layout);
    if (!m) state.SkipWithError(m.error().message().c_str());
    metadata = m.value()->metadataBytes();
    benchmark::DoNotOptimize(m);
  }
  state.counters["ram_bytes"] = static_cast<double>(gib * kGiB);
  state.counters["metadata_bytes"] = static_cast<double>(metadata);
  state.counters["metadata_pct"] = 100.0 * static_cast<double>(metadata) / static_cast<double>(gib * kGiB);
}
BENCHMARK(BM_BuildBoard)->Arg(1)->Arg(4)->Arg(16)->Arg(64)->Unit(benchmark::kMillisecond);

// Order-0 allocate/free pairs on a 16 GiB board.
void BM_AllocFreeOrder0(benchmark::State& state) {
  MemoryLayout layout;
  layout.ram = {{0x40000000, 16 * kGiB}};
  auto m = MemoryModel::create(Kernel{}, layout).value();
  for (auto _ : state) {
    auto b = m->allocPages(0, MigrateType::kUnmovable);
    m->freePages(b.value());
  }
}
BENCHMARK(BM_AllocFreeOrder0);

}  // namespace
}  // namespace dmaheap

BENCHMARK_MAIN();
