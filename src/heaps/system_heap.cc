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

constexpr uint64_t kDma32Limit = uint64_t{1} << 32;

}  // namespace

Result<std::unique_ptr<PhysicalAllocation>> SystemHeap::allocate(uint64_t len) {
  auto alloc = std::make_unique<SystemAllocation>(memory_);
  const uint64_t page = memory_->pageSize();
  uint64_t remaining = len;
  unsigned max_order = kOrders.front();
  const Zone zone = options_.address_limit == AddressLimit::k32Bit ? Zone::kDma32 : Zone::kNormal;
  while (remaining > 0) {
    bool got = false;
    for (unsigned order : kOrders) {
      if (remaining < (page << order) || order > max_order) continue;
      auto block = memory_->allocPages(order, MigrateType::kUnmovable, zone);
      if (!block) continue;
      alloc->add(block.value());
      remaining -= page << order;
      max_order = order;
      got = true;
      break;
    }
    if (!got) {
      // `alloc` goes out of scope and gives back every chunk taken so far.
      return makeError(ENOMEM, std::string(zone == Zone::kDma32 ? "system heap (DMA32 zone)" : "system heap") + ": out of memory with " + std::to_string(remaining) + " of " +
                                   std::to_string(len) + " bytes still to allocate");
    }
  }
  return std::unique_ptr<PhysicalAllocation>(std::move(alloc));
}

Result<std::unique_ptr<PhysicalAllocation>> SystemHeap::adopt(const std::vector<Segment>& segments, uint64_t len) {
  auto alloc = std::make_unique<SystemAllocation>(memory_);
  const unsigned shift = memory_->pageShift();
  uint64_t total = 0;
  for (const Segment& s : segments) {
    int order = -1;
    for (unsigned o : kOrders)
      if (s.size == (uint64_t{1} << (shift + o))) order = static_cast<int>(o);
    if (order < 0) return makeError(EINVAL, "a system heap chunk is 2^8, 2^4 or 1 pages, not " + std::to_string(s.size) + " bytes");
    if (options_.address_limit == AddressLimit::k32Bit && (s.base >= kDma32Limit || kDma32Limit - s.base < s.size)) {
      return makeError(EINVAL, "a DMA32 system heap chunk lies below 4 GiB");
    }
    auto block = memory_->claimPages(Pfn{s.base >> shift}, static_cast<unsigned>(order));
    if (!block) return block.error();  // `alloc` gives back the chunks claimed so far
    alloc->add(block.value());
    total += s.size;
  }
  if (segments.empty() || total != len) return makeError(EINVAL, "the chunks do not add up to the buffer's length");
  return std::unique_ptr<PhysicalAllocation>(std::move(alloc));
}

std::string SystemHeap::defaultName(SystemHeapOptions options) {
  std::string name = "system";
  if (!options.cached) name += "-uncached";
  if (options.address_limit == AddressLimit::k32Bit) name += "-dma32";
  return name;
}

HeapUsage SystemHeap::usage() const {
  const bool dma32 = options_.address_limit == AddressLimit::k32Bit;
  const FreeStats s = dma32 ? memory_->zoneStats(Zone::kDma32) : memory_->stats();
  uint64_t cma_pages = 0;
  for (size_t i = 0; i < memory_->cmaAreaCount(); ++i) {
    const PhysRange r = memory_->cmaAreaRange(i);
    if (dma32 && r.base >= kDma32Limit) continue;
    // An activated CMA area never crosses the 4 GiB boundary (one that does is not activated:
    // dt-check's cma-crosses-zones), so a whole area lies on one side of it.
    cma_pages += r.size / memory_->pageSize();
  }
  HeapUsage u;
  u.size = (s.total_pages - cma_pages) * memory_->pageSize();
  u.free = (s.free_pages - s.free_cma_pages) * memory_->pageSize();
  u.largest_free_block = s.largest_free_block_pages * memory_->pageSize();
  return u;
}

namespace {

Status systemSpecFits(const HeapSpec& spec) {
  if (!spec.region.empty()) {
    return makeError(EINVAL, spec.origin + ": a system heap takes no \"region\" (its memory is any system page)");
  }
  return {};
}

SystemHeapOptions optionsOf(const HeapSpec& spec) { return SystemHeapOptions{spec.cached, spec.address_limit}; }

}  // namespace

const HeapKindOps kSystemHeapKind = {
    "system",
    [](const HeapSpec& spec, const HeapContext&) -> Result<std::string> {
      if (auto st = systemSpecFits(spec); !st) return st.error();
      return spec.name.empty() ? SystemHeap::defaultName(optionsOf(spec)) : spec.name;
    },
    [](const HeapSpec& spec, const HeapContext&) -> Result<HeapDescriptor> {
      if (auto st = systemSpecFits(spec); !st) return st.error();
      return SystemHeap::describe(optionsOf(spec));
    },
    [](const HeapSpec& spec, const HeapContext& context) -> Result<std::shared_ptr<Heap>> {
      if (auto st = systemSpecFits(spec); !st) return st.error();
      return std::shared_ptr<Heap>(std::make_shared<SystemHeap>(context.memory, optionsOf(spec)));
    },
};

}  // namespace dmaheap
