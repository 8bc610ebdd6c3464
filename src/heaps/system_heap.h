// SystemHeap: the "system" heap (drivers/dma-buf/heaps/system_heap.c) and its vendor variants
// ("system-uncached", "system-dma32", "system-uncached-dma32"; docs/heap-profiles.md). Memory
// comes from the buddy allocator as unmovable pages in chunks of order 8, 4 and 0 (1 MiB,
// 64 KiB, 4 KiB with 4 KiB pages), largest first and never growing again once an order failed:
// orders match the sizes IOMMUs map efficiently. One segment per chunk. ENOMEM, with everything
// taken given back, when even order 0 fails. A dma32 variant takes pages from the DMA32 zone
// only (every segment ends below 4 GiB). An uncached variant hands out the same pages (user
// space cannot tell a write-combined mapping here) and says cached = false.
#pragma once

#include <memory>

#include "heap/heap.h"
#include "heaps/heap_kind.h"
#include "memory/memory_model.h"

namespace dmaheap {

struct SystemHeapOptions {
  bool cached = true;
  AddressLimit address_limit = AddressLimit::kNone;
};

class SystemHeap final : public Heap {
 public:
  explicit SystemHeap(std::shared_ptr<MemoryModel> memory, SystemHeapOptions options = {})
      : memory_(std::move(memory)), options_(options) {}
  Result<std::unique_ptr<PhysicalAllocation>> allocate(uint64_t len) override;
  HeapDescriptor descriptor() const override { return describe(options_); }
  HeapUsage usage() const override;
  // Segments that are chunks of order 8, 4 or 0 (DMA32 heaps: below 4 GiB), each taken with
  // MemoryModel::claimPages.
  Result<std::unique_ptr<PhysicalAllocation>> adopt(const std::vector<Segment>& segments, uint64_t len) override;

  static HeapDescriptor describe(SystemHeapOptions options) {
    HeapDescriptor d;
    d.kind = "system";
    d.contiguous = false;
    d.cached = options.cached;
    d.address_limit = options.address_limit;
    d.source = MemorySource::kSystemPages;
    return d;
  }
  // The naming rule: "system", then "-uncached", then "-dma32".
  static std::string defaultName(SystemHeapOptions options);

 private:
  std::shared_ptr<MemoryModel> memory_;
  SystemHeapOptions options_;
};

// The heap-kind table entry of "system".
extern const HeapKindOps kSystemHeapKind;

}  // namespace dmaheap
