// Assembling a Board from a BoardPlan and the heap profiles' specs.
#include "board/board.h"

#include "board/heap_kinds.h"

namespace dmaheap {

namespace {

// The spec of a heap the kernel's plan makes.
HeapSpec specOf(const HeapPlan& h) {
  HeapSpec s;
  s.kind = h.descriptor.kind;
  s.name = h.name;
  s.cached = h.descriptor.cached;
  s.address_limit = h.descriptor.address_limit;
  s.cma_area = h.cma_area;
  s.origin = "the kernel's heap " + h.name;
  return s;
}

Result<const HeapKindOps*> kindOf(const HeapSpec& spec) {
  const HeapKindOps* kind = findHeapKind(spec.kind);
  if (kind == nullptr) {
    return makeError(EINVAL, spec.origin + ": unknown heap kind '" + spec.kind + "' (kinds: " + heapKindNames() + ")");
  }
  return kind;
}

}  // namespace

Result<std::unique_ptr<Board>> buildBoard(const dt::BoardPlan& plan, const std::vector<HeapSpec>& profile) {
  if (plan.kernel_crashes) {
    return makeError(EINVAL, "this device tree crashes kernel " + plan.kernel.version.str() +
                                 " at boot (see dmaheap dt-check); no heaps to build");
  }
  auto board = std::make_unique<Board>();
  board->plan = plan;
  MemoryLayout layout;
  layout.ram = plan.memory;
  layout.reserved = plan.reserved;
  HeapContext context;
  context.plan = &board->plan;
  context.carveouts = &board->carveouts;
  context.model_area.assign(plan.cma_areas.size(), -1);
  for (size_t i = 0; i < plan.cma_areas.size(); ++i) {
    const auto& a = plan.cma_areas[i];
    if (!a.activated || a.size == 0) continue;  // its pages went back to the buddy allocator
    context.model_area[i] = static_cast<int>(layout.cma_areas.size());
    layout.cma_areas.push_back({a.name, PhysRange{a.base, a.size}});
  }
  auto memory = MemoryModel::create(plan.kernel, layout);
  if (!memory) return memory.error();
  board->memory = std::shared_ptr<MemoryModel>(std::move(memory.value()));
  context.memory = board->memory;
  board->registry = std::make_unique<HeapRegistry>(plan.kernel);

  // The kernel's heaps, as its plan names them.
  HeapPlanResult heaps = planHeaps(plan.kernel, plan.cma_areas);
  board->kernel_log = heaps.kernel_log;
  for (const HeapPlan& h : heaps.heaps) {
    const HeapSpec spec = specOf(h);
    auto kind = kindOf(spec);
    if (!kind) return kind.error();
    auto heap = (*kind)->make(spec, context);
    if (!heap) return heap.error();
    std::string log;
    if (auto st = board->registry->add(h.name, std::move(heap.value()), &log); !st) {
      board->kernel_log.push_back(log);
      continue;
    }
    board->heaps.push_back(spec);
  }

  // The profiles' heaps (docs/heap-profiles.md): a name the board already has is fine when the
  // heap there is the same (a profile may list the kernel's own "system"), an error otherwise.
  for (HeapSpec spec : profile) {
    auto kind = kindOf(spec);
    if (!kind) return kind.error();
    auto name = (*kind)->name(spec, context);
    if (!name) return name.error();
    spec.name = name.value();
    auto wanted = (*kind)->describe(spec, context);
    if (!wanted) return wanted.error();
    if (const HeapEntry* existing = board->registry->find(spec.name)) {
      if (existing->heap->descriptor() == wanted.value()) continue;
      return makeError(EINVAL, spec.origin + ": the board already has a different heap named '" + spec.name + "'");
    }
    auto heap = (*kind)->make(spec, context);
    if (!heap) return heap.error();
    std::string log;
    if (auto st = board->registry->add(spec.name, std::move(heap.value()), &log); !st) {
      return makeError(st.code(), spec.origin + ": " + st.error().message() + (log.empty() ? "" : " (" + log + ")"));
    }
    board->heaps.push_back(spec);
  }
  return board;
}

}  // namespace dmaheap
