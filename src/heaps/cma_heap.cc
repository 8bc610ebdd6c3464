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

Result<std::unique_ptr<PhysicalAllocation>> CmaHeap::adopt(const std::vector<Segment>& segments, uint64_t len) {
  const unsigned shift = memory_->pageShift();
  const uint64_t page_mask = (uint64_t{1} << shift) - 1;
  if (segments.size() != 1 || segments[0].size != len || len == 0 || ((segments[0].base | len) & page_mask) != 0) {
    return makeError(EINVAL, "a CMA buffer is one page-aligned segment of its whole length");
  }
  const Pfn pfn{segments[0].base >> shift};
  const uint64_t count = len >> shift;
  if (auto ok = memory_->cmaClaim(area_, pfn, count); !ok) return ok.error();
  return std::unique_ptr<PhysicalAllocation>(std::make_unique<CmaAllocation>(memory_, area_, pfn, count));
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

namespace {

// The plan's CMA area a spec names: the kernel's own index, else by name or path, else the
// default area.
Result<size_t> areaOf(const HeapSpec& spec, const HeapContext& context) {
  const auto& areas = context.plan->cma_areas;
  if (spec.address_limit != AddressLimit::kNone) {
    return makeError(EINVAL, spec.origin + ": a cma heap takes no \"dma32\" (its memory is where its area lies)");
  }
  if (spec.cma_area >= 0 && static_cast<size_t>(spec.cma_area) < areas.size()) return static_cast<size_t>(spec.cma_area);
  if (!spec.region.empty()) {
    for (size_t i = 0; i < areas.size(); ++i)
      if (areas[i].name == spec.region || (!areas[i].path.empty() && areas[i].path == spec.region)) return i;
    std::string known;
    for (const auto& a : areas) known += (known.empty() ? "" : ", ") + a.name;
    return makeError(EINVAL, spec.origin + ": no CMA area '" + spec.region + "' on this board (areas: " +
                                 (known.empty() ? "none" : known) + ")");
  }
  int found = -1;
  for (size_t i = 0; i < areas.size(); ++i)
    if (areas[i].is_default) found = static_cast<int>(i);  // the last one set wins, as in the plan
  if (found < 0) return makeError(EINVAL, spec.origin + ": this board has no default CMA area for a cma heap");
  return static_cast<size_t>(found);
}

}  // namespace

const HeapKindOps kCmaHeapKind = {
    "cma",
    [](const HeapSpec& spec, const HeapContext& context) -> Result<std::string> {
      auto area = areaOf(spec, context);
      if (!area) return area.error();
      if (!spec.name.empty()) return spec.name;
      return context.plan->cma_areas[*area].name + (spec.cached ? "" : "-uncached");
    },
    [](const HeapSpec& spec, const HeapContext& context) -> Result<HeapDescriptor> {
      auto area = areaOf(spec, context);
      if (!area) return area.error();
      return CmaHeap::describe(context.plan->cma_areas[*area].name, spec.cached);
    },
    [](const HeapSpec& spec, const HeapContext& context) -> Result<std::shared_ptr<Heap>> {
      auto area = areaOf(spec, context);
      if (!area) return area.error();
      const int model = context.model_area.at(*area);
      if (model < 0) {
        // Not activated: the kernel still adds the heap, and every request fails.
        return std::shared_ptr<Heap>(
            std::make_shared<InactiveCmaHeap>(context.plan->cma_areas[*area].name, spec.cached));
      }
      return std::shared_ptr<Heap>(std::make_shared<CmaHeap>(context.memory, static_cast<size_t>(model),
                                                             context.plan->kernel.config.cma_alignment, spec.cached));
    },
};

}  // namespace dmaheap
