// CmaHeap: a heap on one CMA area (drivers/dma-buf/heaps/cma_heap.c). One physically
// contiguous segment per buffer, aligned to min(get_order(size), CONFIG_CMA_ALIGNMENT) pages in
// absolute page frames; ENOMEM on any failure. Several heaps may share one area (the default
// area under "default_cma_region" and its legacy name, or a vendor's "-uncached" heap on it:
// the same memory, cached = false; docs/heap-profiles.md).
#pragma once

#include <memory>
#include <string>

#include "heap/heap.h"
#include "heaps/heap_kind.h"
#include "memory/memory_model.h"

namespace dmaheap {

class CmaHeap final : public Heap {
 public:
  CmaHeap(std::shared_ptr<MemoryModel> memory, size_t area, unsigned cma_alignment, bool cached = true)
      : memory_(std::move(memory)), area_(area), cma_alignment_(cma_alignment), cached_(cached) {}
  Result<std::unique_ptr<PhysicalAllocation>> allocate(uint64_t len) override;
  // The same with a placement policy and the migration cost reported (for the simulation).
  Result<std::unique_ptr<PhysicalAllocation>> allocate(uint64_t len, CmaPlacement placement, CmaAllocStats* stats);
  HeapDescriptor descriptor() const override { return describe(memory_->cmaAreaName(area_), cached_); }
  HeapUsage usage() const override;
  int mapErrorErrno() const override { return ENOMEM; }  // cma_heap_map_dma_buf: any failure is ENOMEM
  // One segment of `len` bytes inside the area, taken with MemoryModel::cmaClaim.
  Result<std::unique_ptr<PhysicalAllocation>> adopt(const std::vector<Segment>& segments, uint64_t len) override;

  // A CMA heap on the area named `area_name`.
  static HeapDescriptor describe(const std::string& area_name, bool cached = true) {
    HeapDescriptor d;
    d.kind = "cma";
    d.contiguous = true;
    d.cached = cached;
    d.source = MemorySource::kCmaArea;
    d.region = area_name;
    return d;
  }
  size_t area() const { return area_; }
  // get_order(size): the smallest order with PAGE_SIZE << order >= size.
  static unsigned getOrder(uint64_t size, unsigned page_shift);

 private:
  std::shared_ptr<MemoryModel> memory_;
  size_t area_;
  unsigned cma_alignment_;
  bool cached_;
};

// The heap the kernel still creates on a CMA area that could not be activated (its count was set
// to 0, e.g. a range across zones): listed under its name, every allocation fails with ENOMEM.
class InactiveCmaHeap final : public Heap {
 public:
  explicit InactiveCmaHeap(std::string area_name, bool cached = true)
      : area_name_(std::move(area_name)), cached_(cached) {}
  Result<std::unique_ptr<PhysicalAllocation>> allocate(uint64_t len) override;
  HeapDescriptor descriptor() const override { return CmaHeap::describe(area_name_, cached_); }
  HeapUsage usage() const override { return HeapUsage{}; }
  int mapErrorErrno() const override { return ENOMEM; }

 private:
  std::string area_name_;
  bool cached_;
};

// The heap-kind table entry of "cma": a heap on one CMA area (the kernel's own, or a profile's
// second name or uncached view of an area). Naming rule: the area's name, plus "-uncached".
extern const HeapKindOps kCmaHeapKind;

}  // namespace dmaheap
