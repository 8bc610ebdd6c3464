// Step 1 of the boot replay: the root's cell sizes and /memory into memblock
// (early_init_dt_scan_memory, early_init_dt_add_memory_arch; docs/kernel-behaviour.md §5.1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devicetree/boot_state.h"

namespace dmaheap::dt {

class MemoryScan : public BootStep {
 public:
  using BootStep::BootStep;
  // #address-cells / #size-cells of the root (records dt-bad-cells events).
  void readRootCells();
  // Every available memory node's reg (or linux,usable-memory) into memblock; records
  // memory-missing when the tree describes no RAM.
  void scanMemory();

 private:
  void collectAll(int node, int depth, std::vector<int>* out) const;
  void addMemoryArch(const std::string& node, uint64_t base, uint64_t size);
};

}  // namespace dmaheap::dt
