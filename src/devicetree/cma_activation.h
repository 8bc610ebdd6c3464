// Step 5 of the boot replay: CMA activation at core_initcall (cma_init_reserved_areas →
// cma_activate_area; docs/kernel-behaviour.md §6.6, §6.7). An area outside RAM crashes the
// kernel (the WARN/Oops/panic lines are replayed as recorded); an area across a zone boundary is
// not activated.
#pragma once

#include "devicetree/boot_state.h"

namespace dmaheap::dt {

class CmaActivation : public BootStep {
 public:
  using BootStep::BootStep;
  void activateAreas();

 private:
  void crash(CmaArea& a, bool partly);
  // The kernel's lines for crash(), per architecture and release.
  void crashLines(bool partly, bool warn, uint64_t base, std::vector<std::string>& logs);
};

}  // namespace dmaheap::dt
