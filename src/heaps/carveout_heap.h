// CarveoutHeap: a heap over one no-map reserved-memory region that no kernel handler claimed (a
// vendor carve-out, as ION's carveout heap and the unmerged mainline carve-out heap patches
// offer; docs/heap-profiles.md). The region never reaches the page allocator, so the heap keeps
// its own allocator over exactly that range: one physically contiguous, page-aligned segment per
// buffer, first fit, never outside the region; ENOMEM when no free run is large enough.
#pragma once

#include <memory>
#include <string>

#include "heap/heap.h"
#include "heaps/heap_kind.h"
#include "memory/region_allocator.h"

namespace dmaheap {

class CarveoutHeap final : public Heap {
 public:
  // `region` names the reserved-memory node (for the descriptor and messages).
  CarveoutHeap(std::shared_ptr<RegionAllocator> allocator, std::string region, bool cached = true)
      : allocator_(std::move(allocator)), region_(std::move(region)), cached_(cached) {}
  Result<std::unique_ptr<PhysicalAllocation>> allocate(uint64_t len) override;
  HeapDescriptor descriptor() const override;
  HeapUsage usage() const override;
  // One segment of `len` bytes, taken with RegionAllocator::claim.
  Result<std::unique_ptr<PhysicalAllocation>> adopt(const std::vector<Segment>& segments, uint64_t len) override;

 private:
  std::shared_ptr<RegionAllocator> allocator_;
  std::string region_;
  bool cached_;
};

// The heap-kind table entry of "carveout". The spec's region names a reserved-memory node by
// name, name without unit address, or path; it must be no-map, reserved at boot and claimed by
// no handler. Naming rule: the node's name without its unit address.
extern const HeapKindOps kCarveoutHeapKind;

}  // namespace dmaheap
