// The CMA heap: alignment rule and cma_alloc/cma_release.
#include "heaps/cma_heap.h"

#include <algorithm>
#include <cstdlib>

namespace dmaheap {
namespace {

class CmaAllocation final : public PhysicalAllocation {
 public:
  CmaAllocation(std::shared_ptr<MemoryModel> memory, size_t area, Pfn pfn, uint64_t count)
      : memory_(std::move(memory)), area_(area), pfn_(pfn), count_(count) {
    segments_.push_back(Segment{pfn.value << memory_->pageShift(), count << memory_->pageShift()});
  }
  ~CmaAllocation() override {
    // cma_release of a range we were given cannot fail; if it did, the model is broken.
    if (!memory_->cmaRelease(area_, pfn_, count_)) std::abort();
  }

 private:
  std::shared_ptr<MemoryModel> memory_;
  size_t area_;
  Pfn pfn_;
  uint64_t count_;
};

}  // namespace

unsigned CmaHeap::getOrder(uint64_t size, unsigned page_shift) {
  unsigned order = 0;
  const uint64_t pages = (size + (uint64_t{1} << page_shift) - 1) >> page_shift;
  while ((uint64_t{1} << order) < pages) ++order;
  return order;
}

Result<std::unique_ptr<PhysicalAllocation>> CmaHeap::allocate(uint64_t len) {
  return allocate(len, CmaPlacement::kFirstFit, nullptr);
}

Result<std::unique_ptr<PhysicalAllocation>> CmaHeap::allocate(uint64_t len, CmaPlacement placement,
                                                              CmaAllocStats* stats) {
  const unsigned shift = memory_->pageShift();
  const uint64_t count = len >> shift;
  const unsigned align = std::min(getOrder(len, shift), cma_alignment_);
  auto pfn = memory_->cmaAlloc(area_, count, align, placement, stats);
  if (!pfn) {
    return makeError(ENOMEM, "cma: __cma_alloc: " + memory_->cmaAreaName(area_) + ": alloc failed, req-size: " +
                                 std::to_string(count) + " pages, ret: -12");
  }
  return std::unique_ptr<PhysicalAllocation>(std::make_unique<CmaAllocation>(memory_, area_, pfn.value(), count));
}

HeapTraits CmaHeap::traits() const {
  HeapTraits t;
  t.type = "cma";
  t.physically_contiguous = true;
  t.private_mmap_allowed = false;
  t.map_error_errno = ENOMEM;  // cma_heap_map_dma_buf turns any failure into ENOMEM
  return t;
}

HeapUsage CmaHeap::usage() const {
  HeapUsage u;
  const uint64_t page = memory_->pageSize();
  u.size = memory_->cmaAreaRange(area_).size;
  u.free = memory_->cmaAreaFreePages(area_) * page;
  u.largest_free_block = memory_->cmaAreaLargestFreeRun(area_) * page;
  return u;
}

Result<std::unique_ptr<PhysicalAllocation>> InactiveCmaHeap::allocate(uint64_t len) {
  return makeError(ENOMEM, "CMA area " + area_name_ + " was not activated at boot; cma_alloc of " +
                               std::to_string(len) + " bytes fails");
}

HeapTraits InactiveCmaHeap::traits() const {
  HeapTraits t;
  t.type = "cma";
  t.physically_contiguous = true;
  t.private_mmap_allowed = false;
  t.map_error_errno = ENOMEM;
  return t;
}

}  // namespace dmaheap
