// SystemHeap: the "system" heap (drivers/dma-buf/heaps/system_heap.c). Memory comes from the
// buddy allocator as unmovable pages in chunks of order 8, 4 and 0 (1 MiB, 64 KiB, 4 KiB with
// 4 KiB pages), largest first and never growing again once an order failed: orders match the
// sizes IOMMUs map efficiently. One segment per chunk. ENOMEM, with everything taken given back,
// when even order 0 fails.
#pragma once

#include <memory>

#include "heap/heap.h"
#include "memory/memory_model.h"

namespace dmaheap {

class SystemHeap final : public Heap {
 public:
  explicit SystemHeap(std::shared_ptr<MemoryModel> memory) : memory_(std::move(memory)) {}
  Result<std::unique_ptr<PhysicalAllocation>> allocate(uint64_t len) override;
  HeapTraits traits() const override;
  HeapUsage usage() const override;

 private:
  std::shared_ptr<MemoryModel> memory_;
};

}  // namespace dmaheap
