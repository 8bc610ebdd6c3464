// Assembling a Board from a BoardPlan.
#include "board/board.h"

#include "heaps/cma_heap.h"
#include "heaps/system_heap.h"

namespace dmaheap {

Result<std::unique_ptr<Board>> buildBoard(const dt::BoardPlan& plan) {
  if (plan.kernel_crashes) {
    return makeError(EINVAL, "this device tree crashes kernel " + plan.kernel.version.str() +
                                 " at boot (see dmaheap dt-check); no heaps to build");
  }
  auto board = std::make_unique<Board>();
  board->plan = plan;
  MemoryLayout layout;
  layout.ram = plan.memory;
  layout.reserved = plan.reserved;
  std::vector<int> model_area(plan.cma_areas.size(), -1);
  for (size_t i = 0; i < plan.cma_areas.size(); ++i) {
    const auto& a = plan.cma_areas[i];
    if (!a.activated || a.size == 0) continue;  // its pages went back to the buddy allocator
    model_area[i] = static_cast<int>(layout.cma_areas.size());
    layout.cma_areas.push_back({a.name, PhysRange{a.base, a.size}});
  }
  auto memory = MemoryModel::create(plan.kernel, layout);
  if (!memory) return memory.error();
  board->memory = std::shared_ptr<MemoryModel>(std::move(memory.value()));
  board->registry = std::make_unique<HeapRegistry>(plan.kernel);

  HeapPlanResult heaps = planHeaps(plan.kernel, plan.cma_areas);
  board->kernel_log = heaps.kernel_log;
  for (const HeapPlan& h : heaps.heaps) {
    std::shared_ptr<Heap> heap;
    if (h.kind == HeapKind::kSystem) {
      heap = std::make_shared<SystemHeap>(board->memory);
    } else {
      const int area = model_area.at(static_cast<size_t>(h.cma_area));
      if (area < 0) {
        // Not activated: the kernel still adds the heap, and every request fails.
        heap = std::make_shared<InactiveCmaHeap>(plan.cma_areas.at(static_cast<size_t>(h.cma_area)).name);
      } else {
        heap = std::make_shared<CmaHeap>(board->memory, static_cast<size_t>(area), plan.kernel.config.cma_alignment);
      }
    }
    std::string log;
    if (auto st = board->registry->add(h.name, std::move(heap), &log); !st) {
      board->kernel_log.push_back(log);
      continue;
    }
    board->heaps.push_back(h);
  }
  return board;
}

}  // namespace dmaheap
