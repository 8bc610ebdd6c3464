// Step 3 of the boot replay: the early reserved-memory handlers, a table keyed by compatible as
// the kernel's RESERVEDMEM_OF_DECLARE builds it (docs/kernel-behaviour.md §5.5, §5.8, §6.2).
// Each saved region is offered to every handler whose compatible it has, in table order, until
// one accepts; the outcome (initialised, no handler, failed and handed back) is recorded on the
// region, and what a person should know about it as an event.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "devicetree/boot_state.h"

namespace dmaheap::dt {

class ReservedMemoryHandlers;

// One handler. `setup` answers 0 (accepted), notMine() (not its node) or an errno (refused),
// appending the kernel's log lines to `logs`.
struct ReservedMemHandler {
  const char* compatible;          // the compatible string it is declared for
  const char* kind;                // ReservedRegion::handler when it accepts: "cma", "dma-coherent", ...
  bool (*built)(const Kernel& k);  // whether this release and .config have it
  int (*setup)(ReservedMemoryHandlers& h, SavedRegion& s, std::vector<std::string>* logs);
};

// The table, in the kernel's link order.
std::span<const ReservedMemHandler> reservedMemHandlers();

class ReservedMemoryHandlers : public BootStep {
 public:
  using BootStep::BootStep;
  // __reserved_mem_init_node plus the outcome handling of fdt_init_reserved_mem(_node).
  void initNode(SavedRegion& s);

  // The setup functions of the table.
  int rmemCmaSetup(SavedRegion& s, std::vector<std::string>* logs);      // kernel/dma/contiguous.c
  int rmemDmaSetup(SavedRegion& s, std::vector<std::string>* logs);      // kernel/dma/coherent.c
  int rmemSwiotlbSetup(SavedRegion& s, std::vector<std::string>* logs);  // kernel/dma/swiotlb.c

 private:
  // Records the event that explains the outcome of one region. `cma_ret` is what the CMA
  // handler answered (ENOENT if it was not tried).
  void explainInit(const SavedRegion& s, int cma_ret, const std::vector<std::string>& logs);
};

}  // namespace dmaheap::dt
