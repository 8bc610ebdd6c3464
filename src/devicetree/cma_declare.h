// Step 4 of the boot replay: CMA declaration. cma_init_reserved_mem (used by the CMA handler
// for device-tree areas and for the default area), the default area from cma= or
// CONFIG_CMA_SIZE_MBYTES (dma_contiguous_reserve → cma_declare_contiguous), and which area ends
// up as dma_contiguous_default_area (docs/kernel-behaviour.md §6.3-§6.5).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devicetree/boot_state.h"

namespace dmaheap::dt {

class CmaDeclaration : public BootStep {
 public:
  using BootStep::BootStep;
  // cma_init_reserved_mem: appends a CmaArea. 0, ENOSPC (no free slot) or EINVAL (not reserved
  // memory, or not aligned to the CMA minimum alignment).
  int initReservedMem(uint64_t base, uint64_t size, const std::string& name, const std::string& path, bool from_dt,
                      std::vector<std::string>* logs);
  // The default area "reserved" unless the tree already made one.
  void dmaContiguousReserve();
  // Marks dma_contiguous_default_area; records cma-default-duplicate.
  void markDefaultArea();

 private:
  void declareContiguous(uint64_t base, uint64_t size, uint64_t limit, bool fixed);
};

}  // namespace dmaheap::dt
