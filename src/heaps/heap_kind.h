// HeapKindOps: what a heap file registers in the heap-kind table (src/board/heap_kinds.cc): its
// kind name, its naming rule and its constructor. A heap is asked for by a HeapSpec, from the
// kernel's plan (the heaps the kernel makes) or from a heap profile (docs/heap-profiles.md).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "devicetree/board_plan.h"
#include "dmaheap/heap_descriptor.h"
#include "heap/heap.h"
#include "memory/memory_model.h"
#include "memory/region_allocator.h"

namespace dmaheap {

// One heap to create.
struct HeapSpec {
  std::string kind;                                  // a name from the heap-kind table
  std::string name;                                  // "" = the kind's naming rule
  bool cached = true;                                // false: an "-uncached" heap
  AddressLimit address_limit = AddressLimit::kNone;  // k32Bit: memory below 4 GiB only
  // cma: the CMA area by name ("" = the default area); carveout: the reserved-memory node, by
  // name ("secure@7e000000"), name without unit address ("secure") or full path.
  std::string region;
  int cma_area = -1;   // cma heaps the kernel makes: the index into BoardPlan::cma_areas
  std::string origin;  // where the spec came from, for messages ("profile rockchip", "FILE: heaps[1]")
};

// What a kind may use to build a heap on a board.
struct HeapContext {
  const dt::BoardPlan* plan = nullptr;
  std::shared_ptr<MemoryModel> memory;
  std::vector<int> model_area;  // BoardPlan::cma_areas index -> memory-model area, -1 if not activated
  // Carve-out allocators by region path: heaps over one region share its allocator, so that
  // two views of a carve-out never hand out the same memory twice. Owned by the assembler.
  std::map<std::string, std::shared_ptr<RegionAllocator>>* carveouts = nullptr;
};

struct HeapKindOps {
  const char* kind;
  // The /dev/dma_heap name a spec without one gets. EINVAL (with the spec's origin) when the
  // spec does not fit the kind (a field the kind does not take, an unknown region).
  Result<std::string> (*name)(const HeapSpec& spec, const HeapContext& context);
  // What a heap built from `spec` is, without building it (to compare with an existing heap).
  Result<HeapDescriptor> (*describe)(const HeapSpec& spec, const HeapContext& context);
  // The heap. Same errors as `name`.
  Result<std::shared_ptr<Heap>> (*make)(const HeapSpec& spec, const HeapContext& context);
};

}  // namespace dmaheap
