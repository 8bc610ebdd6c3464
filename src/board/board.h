// Board: a memory model and the heaps a kernel creates on it, assembled from a BoardPlan (from
// a device tree, or the built-in default board). This is the one place that knows every heap
// type: a new heap gets its registration here and nowhere else in the core.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "devicetree/board_plan.h"
#include "heap/registry.h"
#include "heaps/heap_plan.h"
#include "memory/memory_model.h"

namespace dmaheap {

struct Board {
  dt::BoardPlan plan;
  std::shared_ptr<MemoryModel> memory;
  std::unique_ptr<HeapRegistry> registry;
  std::vector<HeapPlan> heaps;          // what was registered, in creation order
  std::vector<std::string> kernel_log;  // heap creation lines
};

// Builds the memory model (RAM minus reserved ranges; activated CMA areas as CMA pageblocks)
// and registers the heaps planHeaps() names. EINVAL when the plan predicts a kernel crash
// (the board would not boot) or the layout is inconsistent, with the reason.
Result<std::unique_ptr<Board>> buildBoard(const dt::BoardPlan& plan);

}  // namespace dmaheap
