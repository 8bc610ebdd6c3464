// The carve-out heap: its own allocator over one no-map region.
#include "heaps/carveout_heap.h"

#include <cstdlib>

namespace dmaheap {
namespace {

class CarveoutAllocation final : public PhysicalAllocation {
 public:
  CarveoutAllocation(std::shared_ptr<RegionAllocator> allocator, uint64_t base, uint64_t len)
      : allocator_(std::move(allocator)) {
    segments_.push_back(Segment{base, len});
  }
  ~CarveoutAllocation() override {
    // Giving back a piece the allocator handed out cannot fail; if it did, it is broken.
    if (!allocator_->free(segments_[0].base, segments_[0].size)) std::abort();
  }

 private:
  std::shared_ptr<RegionAllocator> allocator_;
};

}  // namespace

Result<std::unique_ptr<PhysicalAllocation>> CarveoutHeap::allocate(uint64_t len) {
  auto base = allocator_->allocate(len);
  if (!base) return makeError(ENOMEM, "carveout heap on " + region_ + ": " + base.error().message());
  return std::unique_ptr<PhysicalAllocation>(std::make_unique<CarveoutAllocation>(allocator_, *base, len));
}

Result<std::unique_ptr<PhysicalAllocation>> CarveoutHeap::adopt(const std::vector<Segment>& segments, uint64_t len) {
  if (segments.size() != 1 || segments[0].size != len) return makeError(EINVAL, "a carve-out buffer is one segment");
  if (auto ok = allocator_->claim(segments[0].base, len); !ok) return ok.error();
  return std::unique_ptr<PhysicalAllocation>(std::make_unique<CarveoutAllocation>(allocator_, segments[0].base, len));
}

HeapDescriptor CarveoutHeap::descriptor() const {
  HeapDescriptor d;
  d.kind = "carveout";
  d.contiguous = true;
  d.cached = cached_;
  d.source = MemorySource::kCarveout;
  d.region = region_;
  return d;
}

HeapUsage CarveoutHeap::usage() const {
  HeapUsage u;
  u.size = allocator_->size();
  u.free = allocator_->freeBytes();
  u.largest_free_block = allocator_->largestFreeRun();
  return u;
}

namespace {

std::string withoutUnitAddress(const std::string& name) { return name.substr(0, name.find('@')); }

// The region a spec names, checked to be a usable carve-out.
Result<const dt::ReservedRegion*> regionOf(const HeapSpec& spec, const HeapContext& context) {
  if (spec.region.empty()) {
    return makeError(EINVAL, spec.origin + ": a carveout heap needs \"region\": the reserved-memory node it covers");
  }
  if (spec.address_limit != AddressLimit::kNone) {
    return makeError(EINVAL, spec.origin + ": a carveout heap takes no \"dma32\" (its memory is its region)");
  }
  std::vector<const dt::ReservedRegion*> found;
  for (const auto& r : context.plan->regions) {
    if (r.path.empty() || r.path.rfind("/memreserve/", 0) == 0) continue;
    if (r.name == spec.region || r.path == spec.region || withoutUnitAddress(r.name) == spec.region) found.push_back(&r);
  }
  if (found.empty()) {
    std::string known;
    for (const auto& r : context.plan->regions)
      if (r.no_map) known += (known.empty() ? "" : ", ") + r.path;
    return makeError(EINVAL, spec.origin + ": no reserved-memory node '" + spec.region + "' (no-map regions: " +
                                 (known.empty() ? "none" : known) + ")");
  }
  if (found.size() > 1) {
    return makeError(EINVAL, spec.origin + ": '" + spec.region + "' names " + std::to_string(found.size()) +
                                 " reserved-memory nodes; give the full path");
  }
  const dt::ReservedRegion& r = *found[0];
  if (!r.no_map) {
    return makeError(EINVAL, spec.origin + ": " + r.path + " is not no-map: its memory belongs to the kernel, "
                                 "not to a carve-out heap (add no-map to the node)");
  }
  if (r.outcome != dt::RegionOutcome::kNoHandler) {
    return makeError(EINVAL, spec.origin + ": " + r.path + " is not a plain carve-out reserved at boot" +
                                 (r.handler.empty() ? std::string() : " (the " + r.handler + " handler claimed it)"));
  }
  const uint64_t page = context.memory->pageSize();
  const uint64_t first = (r.base + page - 1) & ~(page - 1);
  const uint64_t end = (r.base + r.size) & ~(page - 1);
  if (end <= first) return makeError(EINVAL, spec.origin + ": " + r.path + " holds no whole page");
  return &r;
}

}  // namespace

const HeapKindOps kCarveoutHeapKind = {
    "carveout",
    [](const HeapSpec& spec, const HeapContext& context) -> Result<std::string> {
      auto r = regionOf(spec, context);
      if (!r) return r.error();
      return spec.name.empty() ? withoutUnitAddress((*r)->name) : spec.name;
    },
    [](const HeapSpec& spec, const HeapContext& context) -> Result<HeapDescriptor> {
      auto r = regionOf(spec, context);
      if (!r) return r.error();
      return CarveoutHeap(nullptr, (*r)->name, spec.cached).descriptor();
    },
    [](const HeapSpec& spec, const HeapContext& context) -> Result<std::shared_ptr<Heap>> {
      auto r = regionOf(spec, context);
      if (!r) return r.error();
      const uint64_t page = context.memory->pageSize();
      const uint64_t first = ((*r)->base + page - 1) & ~(page - 1);
      const uint64_t end = ((*r)->base + (*r)->size) & ~(page - 1);
      auto& shared = (*context.carveouts)[(*r)->path];
      if (!shared) shared = std::make_shared<RegionAllocator>(first, end - first, page);
      return std::shared_ptr<Heap>(std::make_shared<CarveoutHeap>(shared, (*r)->name, spec.cached));
    },
};

}  // namespace dmaheap
