// Which /dev/dma_heap nodes a kernel creates from its CMA areas (docs/kernel-behaviour.md §4.1), as plain data.
// Both the board assembler (which then creates the heaps) and dt-check (which prints them) use it.
#pragma once

#include <string>
#include <vector>

#include "base/kernel.h"
#include "devicetree/board_plan.h"
#include "dmaheap/heap_descriptor.h"

namespace dmaheap {

struct HeapPlan {
  std::string name;         // the node name under /dev/dma_heap
  HeapDescriptor descriptor;  // what the heap is; descriptor.kind names its heap-kind table entry
  int cma_area = -1;        // index into the plan's cma_areas for a "cma" heap, else -1
  std::string note;         // why it exists, e.g. "legacy name of the default CMA area"
};

// Kernel log lines printed while creating the heaps (e.g. a failed duplicate name).
struct HeapPlanResult {
  std::vector<HeapPlan> heaps;  // in creation order
  std::vector<std::string> kernel_log;
};

// The heaps `kernel` creates, in creation order: "system" (if built), then the CMA heaps of its
// era. Duplicate names are dropped with the kernel's log line, as dma_heap_add refuses them.
HeapPlanResult planHeaps(const Kernel& kernel, const std::vector<dt::CmaArea>& areas);

}  // namespace dmaheap
