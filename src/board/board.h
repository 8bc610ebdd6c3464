// Board: a memory model and the heaps a kernel creates on it, assembled from a BoardPlan (from
// a device tree, or the built-in default board) plus the heaps of heap profiles. Which kinds of
// heap exist is the heap-kind table's business (board/heap_kinds.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "devicetree/board_plan.h"
#include "heap/registry.h"
#include "heaps/heap_kind.h"
#include "heaps/heap_plan.h"
#include "memory/memory_model.h"

namespace dmaheap {

struct Board {
  dt::BoardPlan plan;
  std::shared_ptr<MemoryModel> memory;
  std::unique_ptr<HeapRegistry> registry;
  std::vector<HeapSpec> heaps;          // what was registered, in creation order (names filled in)
  std::vector<std::string> kernel_log;  // heap creation lines
  std::map<std::string, std::shared_ptr<RegionAllocator>> carveouts;  // by region path
};

// Builds the memory model (RAM minus reserved ranges; activated CMA areas as CMA pageblocks)
// and registers the heaps planHeaps() names, then the heaps of `profile` (a heap profile's specs,
// heaps/heap_profile.h). EINVAL when the plan predicts a kernel crash (the board would not boot),
// the layout is inconsistent, or a profile heap does not fit the board (unknown kind or region,
// a name taken by a different heap), with the reason.
Result<std::unique_ptr<Board>> buildBoard(const dt::BoardPlan& plan, const std::vector<HeapSpec>& profile = {});

}  // namespace dmaheap
