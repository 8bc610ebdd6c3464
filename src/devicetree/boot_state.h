// What the boot replay of the device-tree rules shares between its steps: the tree, the kernel,
// memblock, the plan being built, the kernel's reserved_mem[] array and the recorded events.
// The steps (memory_scan, reserved_scan, reserved_handlers, cma_declare, cma_activation) each
// derive from BootStep, which gives them short names for that state. Internal to src/devicetree.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/kernel.h"
#include "devicetree/board_plan.h"
#include "devicetree/diagnostics_catalogue.h"
#include "devicetree/fdt.h"
#include "devicetree/memblock.h"
#include "devicetree/plan.h"
#include "devicetree/zones.h"

namespace dmaheap::dt {

// The kernel's log prefixes and number formats, shared by every step.
inline constexpr const char* kOfRmem = "OF: reserved mem: ";
inline constexpr const char* kOfFdt = "OF: fdt: ";
inline constexpr const char* kCmaLog = "cma: ";
inline constexpr uint64_t kMaxPhysAddr = ~uint64_t{0};
inline constexpr uint64_t k4GiB = uint64_t{1} << 32;
std::string logHex(uint64_t v);                 // %llx with 0x
std::string logPa(uint64_t v);                  // %pa: 0x + 16 hex digits
std::string logMib(uint64_t v);                 // whole MiB
uint64_t addSaturated(uint64_t a, uint64_t b);  // a + b, at most 2^64-1
std::string logRange(uint64_t base, uint64_t size);  // %pa-%pa of the last byte

// One entry of the kernel's reserved_mem[] array (docs/kernel-behaviour.md §5.4).
struct SavedRegion {
  int node = -1;
  size_t region = 0;  // index into plan.regions
  uint64_t base = 0;
  uint64_t size = 0;
  bool dynamic = false;
};

struct BootState {
  // `fdt` may be null: the built-in default board. An empty `cmdline` means /chosen/bootargs.
  BootState(const Fdt* fdt, const Kernel& kernel, std::string_view cmdline);

  const Fdt* fdt;
  Kernel kernel;
  CmaCmdline cma;
  Memblock mb;
  BoardPlan plan;
  uint32_t addr_cells = 1;
  uint32_t size_cells = 1;
  bool cells_ok = true;
  bool no_memory = false;                             // the tree describes no RAM
  std::vector<SavedRegion> saved;                     // reserved_mem[]
  std::map<int, size_t> node_region;                  // node offset -> plan.regions index
  std::map<int, std::vector<std::string>> skip_logs;  // linux,cma-default nodes skipped for cma=
  int dt_default_area = -1;                           // plan.cma_areas index, or -1
  int kconfig_area = -1;
  std::vector<RecordedEvent> events;                  // for the diagnostics pass
  ZoneLayout zones;                                   // sized once RAM is known (sizeZones)
};

// The base of every step: references into the BootState and the helpers all of them use.
class BootStep {
 public:
  explicit BootStep(BootState& s);

 protected:
  // Appends a line to the kernel log and returns it (to quote it in an event).
  const std::string& log(std::string line);
  // Records that `event` happened to `node` (see diagnostics_catalogue.h).
  void record(DiagEvent event, std::string node, DiagArgs args, std::vector<std::string> logs = {});
  bool has(KernelRule rule) const { return ruleApplies(rule, k_); }
  // The early/late split of the reserved-memory scan (docs/kernel-behaviour.md §5.7).
  bool modern() const { return has(KernelRule::kRmemEarlyLateSplit); }
  // The "not my node" answer of a handler (docs/kernel-behaviour.md §5.5).
  int notMine() const { return has(KernelRule::kRmemHandlerNotMineEnodev) ? ENODEV : EINVAL; }
  uint32_t tLen() const { return (addr_cells_ + size_cells_) * 4; }
  // Before the restructure the early scan lived in drivers/of/fdt.c (observed on 6.1).
  const char* scanPrefix() const { return modern() ? kOfRmem : kOfFdt; }
  std::string cmaNodeSuffix() const { return has(KernelRule::kCmaLogNamesNode) ? " on node -1" : ""; }
  ReservedRegion& region(const SavedRegion& s) { return plan_.regions[s.region]; }
  size_t newRegion(int node, RegionOutcome outcome);
  size_t regionOf(int node);
  // zone_sizes_init: the zones from RAM and the tree's dma-ranges, into the plan and the log
  // (docs/kernel-behaviour.md §6.10). Called once, after the reserved-memory scan.
  void sizeZones();
  // Zone boundaries strictly inside RAM, per release (docs/kernel-behaviour.md §6.6, §6.10).
  std::vector<uint64_t> zoneLimits() const { return s_.zones.boundaries; }
  // The limit the default CMA area is reserved below (0: the end of RAM).
  uint64_t dmaLimit() const { return s_.zones.cma_limit; }
  // The start of high memory (docs/kernel-behaviour.md §11.2): the end of lowmem on 32-bit ARM,
  // the end of RAM elsewhere.
  uint64_t highmemStart() const { return s_.zones.highmem_start != 0 ? s_.zones.highmem_start : mb_.endOfDram(); }
  // %pa as this kernel prints it: 16 hex digits with a 64-bit phys_addr_t, 8 on 32-bit ARM
  // without LPAE (docs/kernel-behaviour.md §11.1). Steps use this one, not the free logPa.
  std::string logPa(uint64_t v) const;
  std::string logRange(uint64_t base, uint64_t size) const;

  BootState& s_;
  const Fdt* const fdt_;
  const Kernel& k_;
  const CmaCmdline& cma_;
  Memblock& mb_;
  BoardPlan& plan_;
  uint32_t& addr_cells_;
  uint32_t& size_cells_;
  bool& cells_ok_;
  bool& no_memory_;
  std::vector<SavedRegion>& saved_;
  std::map<int, std::vector<std::string>>& skip_logs_;
  int& dt_default_area_;
  int& kconfig_area_;
};

}  // namespace dmaheap::dt
