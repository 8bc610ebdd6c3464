// Heap naming per kernel era (docs/kernel-behaviour.md §4.1).
#include "heaps/heap_plan.h"

#include "heap/heap_naming.h"

#include "heaps/cma_heap.h"
#include "heaps/system_heap.h"

namespace dmaheap {
namespace {

constexpr const char* kDefaultCmaName = "default_cma_region";

class Planner {
 public:
  explicit Planner(const Kernel& kernel) : naming_(kernel) {}

  // dma_heap_add's naming rules (HeapNaming, shared with the runtime registry); the heap's own
  // line `fail_log` + name follows the kernel's when it is refused.
  bool add(std::string name, HeapDescriptor descriptor, int area, std::string note, const char* fail_log) {
    if (auto node = naming_.add(name, true, &out_.kernel_log); !node) {
      if (fail_log) out_.kernel_log.push_back(fail_log + name);
      return false;
    }
    out_.heaps.push_back(HeapPlan{std::move(name), std::move(descriptor), area, std::move(note)});
    return true;
  }

  HeapPlanResult take() { return std::move(out_); }

 private:
  HeapNaming naming_;
  HeapPlanResult out_;
};

}  // namespace

HeapPlanResult planHeaps(const Kernel& kernel, const std::vector<dt::CmaArea>& areas) {
  Planner p(kernel);
  if (kernel.hasSystemHeap()) p.add("system", SystemHeap::describe({}), -1, "system heap", nullptr);

  auto cma = [&](int area) { return CmaHeap::describe(areas[static_cast<size_t>(area)].name); };
  int default_area = -1;
  for (size_t i = 0; i < areas.size(); ++i)
    if (areas[i].is_default) default_area = static_cast<int>(i);  // the last one set wins

  switch (kernel.cmaHeapEra()) {
    case CmaHeapEra::kNone:
      break;
    case CmaHeapEra::kDefaultOnly:
      if (default_area >= 0) {
        p.add(areas[default_area].name, cma(default_area), default_area, "the default CMA area", nullptr);
      }
      break;
    case CmaHeapEra::kDefaultNamePlusLegacy:
      if (default_area >= 0) {
        p.add(kDefaultCmaName, cma(default_area), default_area, "the default CMA area", nullptr);
        if (kernel.config.cma_heap_legacy) {
          if (areas[default_area].name == kDefaultCmaName) {
            // The kernel notices and skips the second heap.
          } else {
            p.add(areas[default_area].name, cma(default_area), default_area,
                  "legacy name of the default CMA area (CONFIG_DMABUF_HEAPS_CMA_LEGACY)",
                  "cma_heap: failed to add legacy heap: ");
          }
        }
      }
      break;
    case CmaHeapEra::kPerRegion: {
      if (default_area >= 0) {
        p.add(kDefaultCmaName, cma(default_area), default_area, "the default CMA area", nullptr);
      }
      // One heap per area recorded for heaps: every DT reusable region and the cma=/Kconfig
      // default area, in registration order; the table has MAX_CMA_AREAS slots.
      for (size_t i = 0; i < areas.size(); ++i) {
        const bool recorded = areas[i].from_dt || areas[i].is_default;
        if (!recorded) continue;
        p.add(areas[i].name, cma(static_cast<int>(i)), static_cast<int>(i),
              areas[i].from_dt ? "reusable reserved-memory region" : "the cma=/Kconfig default area",
              "cma_heap: Failed to add CMA heap ");
      }
      break;
    }
  }
  return p.take();
}

}  // namespace dmaheap
