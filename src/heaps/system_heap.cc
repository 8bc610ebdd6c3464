// The system heap's chunking algorithm.
#include "heaps/system_heap.h"

#include <array>

namespace dmaheap {
namespace {

constexpr std::array<unsigned, 3> kOrders = {8, 4, 0};

class SystemAllocation final : public PhysicalAllocation {
 public:
  explicit SystemAllocation(std::shared_ptr<MemoryModel> memory) : memory_(std::move(memory)) {}
  ~SystemAllocation() override {
    for (const PageBlock& b : blocks_) memory_->freePages(b);
  }
  void add(PageBlock b) {
    blocks_.push_back(b);
    segments_.push_back(Segment{b.pfn.value << memory_->pageShift(), memory_->pageSize() << b.order});
  }

 private:
  std::shared_ptr<MemoryModel> memory_;
  std::vector<PageBlock> blocks_;
};

}  // namespace

Result<std::unique_ptr<PhysicalAllocation>> SystemHeap::allocate(uint64_t len) {
  auto alloc = std::make_unique<SystemAllocation>(memory_);
  const uint64_t page = memory_->pageSize();
  uint64_t remaining = len;
  unsigned max_order = kOrders.front();
  while (remaining > 0) {
    bool got = false;
    for (unsigned order : kOrders) {
      if (remaining < (page << order) || order > max_order) continue;
      auto block = memory_->allocPages(order, MigrateType::kUnmovable);
      if (!block) continue;
      alloc->add(block.value());
      remaining -= page << order;
      max_order = order;
      got = true;
      break;
    }
    if (!got) {
      // `alloc` goes out of scope and gives back every chunk taken so far.
      return makeError(ENOMEM, "system heap: out of memory with " + std::to_string(remaining) + " of " +
                                   std::to_string(len) + " bytes still to allocate");
    }
  }
  return std::unique_ptr<PhysicalAllocation>(std::move(alloc));
}

HeapTraits SystemHeap::traits() const {
  HeapTraits t;
  t.type = "system";
  t.physically_contiguous = false;
  t.private_mmap_allowed = true;
  t.map_error_errno = EIO;  // dma_map_sgtable's errno is passed through
  return t;
}

HeapUsage SystemHeap::usage() const {
  const FreeStats s = memory_->stats();
  uint64_t cma_pages = 0;
  for (size_t i = 0; i < memory_->cmaAreaCount(); ++i) cma_pages += memory_->cmaAreaRange(i).size / memory_->pageSize();
  HeapUsage u;
  u.size = (s.total_pages - cma_pages) * memory_->pageSize();
  u.free = (s.free_pages - s.free_cma_pages) * memory_->pageSize();
  u.largest_free_block = s.largest_free_block_pages * memory_->pageSize();
  return u;
}

}  // namespace dmaheap
