// Step 2 of the boot replay: the /reserved-memory scan (fdt_scan_reserved_mem and friends,
// docs/kernel-behaviour.md §5.2-§5.7): reserve static regions, allocate dynamic ones, fill the
// reserved_mem[] array, check overlaps, and hand every saved region to the compatible handlers
// (reserved_handlers.h). The 5.3-6.11 single pass and the 6.12+ early/late split are both here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "devicetree/boot_state.h"

namespace dmaheap::dt {

class ReservedMemoryScan : public BootStep {
 public:
  using BootStep::BootStep;
  // The whole scan, as this kernel release runs it.
  void run() {
    if (!modern()) return scanLegacy();
    scanEarly();
    scanLate();
  }
  // The 6.12+ split run apart, for an architecture whose late phase comes after the default CMA
  // area (32-bit ARM, docs/kernel-behaviour.md §11.2): scanEarly() now, scanLate() later, on the
  // same object. Only when modern().
  void scanEarly();
  void scanLate();

 private:
  void scanLegacy();
  bool container_ok_ = false;  // scanEarly found a well-formed /reserved-memory
  std::optional<size_t> bad_container_event_;  // the event of a malformed container (its lines)
  std::map<int, size_t> invalid_reg_event_;      // node -> the event of its malformed reg
  int findContainer();
  bool checkRoot(int node) const;
  void badContainer(int node);
  std::string invalidRegLine(const std::string& name) const;
  // early_init_dt_reserve_memory: 0 or EBUSY.
  int reserveMemory(uint64_t base, uint64_t size, bool nomap);
  bool cmaDefaultSkippedAtScan(int node) const;
  bool cmaVerifyRejectsDefault(int node) const;
  std::string skipLine() const;
  // __reserved_mem_reserve_reg. ENOENT when the node has no reg.
  int reserveReg(int node, bool save_first);
  // fdt_reserved_mem_save_node. False when the array is full.
  bool save(int node, uint64_t base, uint64_t size, bool dynamic);
  uint64_t allocArch(uint64_t size, uint64_t align, uint64_t start, uint64_t end, bool nomap, bool bottom_up);
  uint64_t allocInRange(uint64_t size, uint64_t align, uint64_t start, uint64_t end, bool nomap);
  // __reserved_mem_alloc_size. On success fills base/size of the saved entry.
  int allocSize(SavedRegion* s);
  void overlapCheck();
  void initNode(SavedRegion& s);
};

}  // namespace dmaheap::dt
