// The device-tree rules engine. One Planner per call replays, for one kernel, what early boot does
// with the tree: /memory into memblock, /memreserve/, the /reserved-memory scan (the 5.3-6.12
// order or the 6.13+ early/late split), the compatible handlers, the cma=/Kconfig default area,
// and CMA activation. Each step prints the kernel's log line and, where a person should act,
// records a diagnostic with a fix.
#include "devicetree/plan.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>

#include "base/size.h"
#include "devicetree/loader.h"
#include "devicetree/memblock.h"

namespace dmaheap::dt {
namespace {

constexpr uint64_t kMaxAddr = std::numeric_limits<uint64_t>::max();
constexpr uint64_t k4G = uint64_t{1} << 32;
// arm64 with 48-bit physical addresses: MAX_MEMBLOCK_ADDR.
constexpr uint64_t kMaxMemblockAddr = (uint64_t{1} << 48) - 1;
constexpr const char* kOfRmem = "OF: reserved mem: ";
constexpr const char* kOfFdt = "OF: fdt: ";
constexpr const char* kCma = "cma: ";

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
std::string pa(uint64_t v) { return formatAddr(v); }  // %pa: 0x + 16 hex digits
std::string mib(uint64_t v) { return std::to_string(v / kMiB); }
uint64_t addSat(uint64_t a, uint64_t b) { return b > kMaxAddr - a ? kMaxAddr : a + b; }
std::string range(uint64_t base, uint64_t size) {
  return pa(base) + "-" + pa(size == 0 ? base : addSat(base, size) - 1);
}

// One entry of the kernel's reserved_mem[] array.
struct Saved {
  int node = -1;
  size_t region = 0;  // index into plan.regions
  uint64_t base = 0;
  uint64_t size = 0;
  bool dynamic = false;
};

class Planner {
 public:
  Planner(const Fdt* fdt, const Kernel& kernel, std::string_view cmdline) : fdt_(fdt), k_(kernel) {
    plan_.kernel = kernel;
    // Without an explicit command line the kernel gets the tree's /chosen/bootargs.
    plan_.cmdline = std::string(cmdline);
    if (cmdline.empty() && fdt_) {
      const int chosen = fdt_->pathOffset("/chosen");
      if (chosen >= 0) plan_.cmdline = fdt_->stringProp(chosen, "bootargs");
    }
    cma_ = parseCmaCmdline(plan_.cmdline);
  }

  BoardPlan run() {
    if (fdt_) {
      readRootCells();
      scanMemory();
      for (const auto& e : fdt_->memReserves()) mb_.reserve(e.address, e.size);
      if (modern()) scanModern();
      else scanLegacy();
    } else {
      mb_.addMemory(0x40000000, 2 * kGiB);
    }
    dmaContiguousReserve();
    markDefaultArea();
    activateAreas();
    finish();
    return std::move(plan_);
  }

 private:
  // ---- helpers -------------------------------------------------------------------------------
  const std::string& log(std::string line) {
    plan_.kernel_log.push_back(std::move(line));
    return plan_.kernel_log.back();
  }
  void diag(Severity sev, std::string code, std::string node, std::string message,
            std::vector<std::string> logs, std::string fix) {
    plan_.diagnostics.push_back(
        Diagnostic{sev, std::move(code), std::move(node), std::move(message), std::move(logs), std::move(fix)});
  }
  bool has(KernelRule rule) const { return ruleApplies(rule, k_); }
  // The early/late split of the reserved-memory scan (docs/kernel-behaviour.md §5.7).
  bool modern() const { return has(KernelRule::kRmemEarlyLateSplit); }
  // The "not my node" answer of a handler (docs/kernel-behaviour.md §5.5).
  int notMine() const { return has(KernelRule::kRmemHandlerNotMineEnodev) ? ENODEV : EINVAL; }
  uint32_t tLen() const { return (addr_cells_ + size_cells_) * 4; }
  // Before the restructure the early scan lived in drivers/of/fdt.c (observed on 6.1).
  const char* scanPrefix() const { return modern() ? kOfRmem : kOfFdt; }
  std::string cmaNodeSuffix() const { return has(KernelRule::kCmaLogNamesNode) ? " on node -1" : ""; }
  ReservedRegion& region(const Saved& s) { return plan_.regions[s.region]; }

  void readRootCells() {
    const auto cells = [&](const char* name, uint32_t* out) {
      const auto p = fdt_->prop(fdt_->root(), name);
      if (!p) return;
      if (p->size() < 4) {
        diag(Severity::kWarning, "dt-bad-cells", "/", std::string("the root ") + name + " property is shorter than one cell",
             {}, std::string("give the root node ") + name + " = <1> or <2>");
        return;
      }
      size_t pos = 0;
      *out = static_cast<uint32_t>(readCells(p->data, &pos, 1));
    };
    cells("#address-cells", &addr_cells_);
    cells("#size-cells", &size_cells_);
    if (addr_cells_ > 4 || size_cells_ > 4 || addr_cells_ + size_cells_ == 0) {
      diag(Severity::kError, "dt-bad-cells", "/",
           "root #address-cells = " + std::to_string(addr_cells_) + ", #size-cells = " + std::to_string(size_cells_) +
               ": no reg, size or alloc-ranges in this tree can be read",
           {}, "use #address-cells = <2> and #size-cells = <2> (or <1>/<1>) at the root");
      cells_ok_ = false;
    }
  }

  // ---- /memory -------------------------------------------------------------------------------
  void collectAll(int node, int depth, std::vector<int>* out) const {
    if (depth > 64) return;
    for (int c : fdt_->children(node)) {
      out->push_back(c);
      collectAll(c, depth + 1, out);
    }
  }

  void scanMemory() {
    std::vector<int> nodes;
    // Up to 5.16 of_scan_flat_dt visited every node; from 5.17 only the root's children.
    if (has(KernelRule::kMemoryScanRootChildrenOnly)) nodes = fdt_->children(fdt_->root());
    else collectAll(fdt_->root(), 0, &nodes);
    for (int node : nodes) {
      if (fdt_->stringProp(node, "device_type") != "memory") continue;
      if (!fdt_->isAvailable(node)) continue;
      auto reg = fdt_->prop(node, "linux,usable-memory");
      if (!reg) reg = fdt_->prop(node, "reg");
      if (!reg || !cells_ok_) continue;
      size_t pos = 0;
      while (reg->size() - pos >= tLen()) {
        const uint64_t base = readCells(reg->data, &pos, addr_cells_);
        const uint64_t size = readCells(reg->data, &pos, size_cells_);
        if (size == 0) continue;
        addMemoryArch(fdt_->path(node), base, size);
      }
    }
    if (mb_.memory().empty()) {
      no_memory_ = true;
      diag(Severity::kNote, "memory-missing", "/memory",
           "the tree describes no usable RAM (no /memory node with device_type = \"memory\" and a non-zero reg); "
           "a bootloader usually fills it in, so checks that need RAM are reported as notes",
           {}, "add the board's RAM, e.g. memory@80000000 { device_type = \"memory\"; reg = <0x0 0x80000000 0x0 0x80000000>; };");
    }
  }

  // early_init_dt_add_memory_arch
  void addMemoryArch(const std::string& node, uint64_t base, uint64_t size) {
    const uint64_t page = k_.pageSize();
    const uint64_t off = base & (page - 1);
    const auto ignored = [&](const std::string& line, const std::string& why) {
      diag(Severity::kWarning, "memory-ignored", node, why, {log(line)},
           "describe RAM in whole pages, below 2^48, in the /memory reg");
    };
    if (size < page - off) {
      ignored(std::string(kOfFdt) + "Ignoring memory block " + hex(base) + " - " + hex(addSat(base, size)),
              "memory block " + hex(base) + " - " + hex(addSat(base, size)) + " is smaller than one page after alignment");
      return;
    }
    if (off != 0) {
      size -= page - off;
      base += page - off;
    }
    size &= ~(page - 1);
    if (base > kMaxMemblockAddr) {
      ignored(std::string(kOfFdt) + "Ignoring memory block " + hex(base) + " - " + hex(addSat(base, size)),
              "memory block at " + hex(base) + " lies above the largest physical address (2^48)");
      return;
    }
    if (size == 0) return;
    if (addSat(base, size) - 1 > kMaxMemblockAddr) {
      ignored(std::string(kOfFdt) + "Ignoring memory range " + hex(kMaxMemblockAddr + 1) + " - " + hex(addSat(base, size)),
              "the part of this memory above 2^48 is ignored");
      size = kMaxMemblockAddr - base + 1;
    }
    mb_.addMemory(base, size);
  }

  // ---- /reserved-memory container ------------------------------------------------------------
  int findContainer() {
    if (has(KernelRule::kRmemContainerByPath)) return fdt_->pathOffset("/reserved-memory");
    for (int c : fdt_->children(fdt_->root()))
      if (fdt_->name(c) == "reserved-memory") return c;
    const int by_path = fdt_->pathOffset("/reserved-memory");
    if (by_path >= 0) {
      diag(Severity::kError, "reserved-bad-container", fdt_->path(by_path),
           "kernel " + k_.version.str() + " looks for a root child named exactly \"reserved-memory\"; '" +
               fdt_->name(by_path) + "' is not found, so every reserved region in it is ignored",
           {}, "rename the node to reserved-memory (no unit address)");
    }
    return -1;
  }

  bool checkRoot(int node) const {
    const auto cellsEq = [&](const char* name, uint32_t want) {
      const auto p = fdt_->prop(node, name);
      if (!p || p->size() < 4) return false;
      size_t pos = 0;
      return readCells(p->data, &pos, 1) == want;
    };
    return cellsEq("#size-cells", size_cells_) && cellsEq("#address-cells", addr_cells_) && fdt_->has(node, "ranges");
  }

  void badContainer(int node, bool twice) {
    std::vector<std::string> logs{log(std::string(scanPrefix()) + "Reserved memory: unsupported node format, ignoring")};
    if (twice) logs.push_back(log(std::string(kOfRmem) + "Reserved memory: unsupported node format, ignoring"));
    diag(Severity::kError, "reserved-bad-container", fdt_->path(node),
         "/reserved-memory must have #address-cells = <" + std::to_string(addr_cells_) + ">, #size-cells = <" +
             std::to_string(size_cells_) + "> (the root's values) and a ranges property; the kernel ignores every region in it",
         logs,
         "set #address-cells = <" + std::to_string(addr_cells_) + ">; #size-cells = <" + std::to_string(size_cells_) +
             ">; ranges; in /reserved-memory");
    for (int c : fdt_->children(node)) newRegion(c, RegionOutcome::kSkipped);
  }

  size_t newRegion(int node, RegionOutcome outcome) {
    ReservedRegion r;
    r.name = fdt_->name(node);
    r.path = fdt_->path(node);
    r.no_map = fdt_->has(node, "no-map");
    r.reusable = fdt_->has(node, "reusable");
    r.compatible = fdt_->stringProp(node, "compatible");
    r.cma_default = fdt_->has(node, "linux,cma-default");
    r.outcome = outcome;
    r.dynamic = !fdt_->has(node, "reg") && fdt_->has(node, "size");
    plan_.regions.push_back(std::move(r));
    node_region_[node] = plan_.regions.size() - 1;
    return plan_.regions.size() - 1;
  }
  size_t regionOf(int node) {
    auto it = node_region_.find(node);
    return it != node_region_.end() ? it->second : newRegion(node, RegionOutcome::kNoHandler);
  }

  // ---- static regions ------------------------------------------------------------------------
  // early_init_dt_reserve_memory: 0 or EBUSY.
  int reserveMemory(uint64_t base, uint64_t size, bool nomap) {
    if (nomap) {
      if (!has(KernelRule::kNomapMarksMemblock)) {  // memblock_remove: the range stops being memory at all
        mb_.removeMemory(base, size);
        return 0;
      }
      const bool busy = has(KernelRule::kNomapRefusesReservedInRamOnly)
                            ? (mb_.overlapsMemory(base, size) && mb_.isRegionReserved(base, size))
                            : (has(KernelRule::kNomapRefusesReserved) && mb_.isRegionReserved(base, size));
      if (busy) return EBUSY;
      mb_.markNomap(base, size);
      return 0;
    }
    mb_.reserve(base, size);
    return 0;
  }

  // of_reserved_mem.c skips any linux,cma-default node when cma= is given (docs/kernel-behaviour.md §6.4).
  bool cmaDefaultSkippedAtScan(int node) const {
    return cma_.present && fdt_->has(node, "linux,cma-default") && has(KernelRule::kRmemScanSkipsCmaDefault);
  }
  // The validate hook of the CMA handler, run during the scan (docs/kernel-behaviour.md §6.4).
  bool cmaVerifyRejectsDefault(int node) const {
    return has(KernelRule::kCmaValidateHook) && k_.config.cma && fdt_->isCompatible(node, "shared-dma-pool") && fdt_->has(node, "reusable") &&
           !fdt_->has(node, "no-map") && cma_.present && fdt_->has(node, "linux,cma-default");
  }
  std::string skipLine() const {
    // The validate hook prints it from kernel/dma/contiguous.c, which has no prefix.
    return has(KernelRule::kCmaValidateHook) ? std::string("Skipping dt linux,cma-default node in favor for \"cma=\" kernel param.")
                   : std::string(kOfRmem) + "Skipping dt linux,cma-default for \"cma=\" kernel param.";
  }

  // __reserved_mem_reserve_reg. Returns ENOENT when the node has no reg.
  int reserveReg(int node, bool save_first) {
    const auto reg = fdt_->prop(node, "reg");
    if (!reg) return ENOENT;
    const size_t ri = regionOf(node);
    const std::string name = fdt_->name(node);
    const std::string path = fdt_->path(node);
    if (!cells_ok_) {
      plan_.regions[ri].outcome = RegionOutcome::kNotReserved;
      return EINVAL;
    }
    const size_t len = reg->size();
    if (len != 0 && len % tLen() != 0) {
      plan_.regions[ri].outcome = RegionOutcome::kNotReserved;
      std::vector<std::string> logs;
      const std::string line =
          std::string(scanPrefix()) + "Reserved memory: invalid reg property in '" + name + "', skipping node.";
      if (has(KernelRule::kRmemInvalidRegLogged)) logs.push_back(log(line));
      if (modern() && has(KernelRule::kRmemInvalidRegLogged)) logs.push_back(log(line));  // the late scan says it again
      diag(Severity::kError, "reserved-bad-reg", path,
           "reg is " + std::to_string(len) + " bytes, not a multiple of " + std::to_string(tLen()) + " (#address-cells " +
               std::to_string(addr_cells_) + " + #size-cells " + std::to_string(size_cells_) +
               " cells of 4 bytes): the node is skipped, nothing is reserved",
           logs,
           "write reg as <base size> pairs using the root's cell counts (" + std::to_string(addr_cells_) + " address + " +
               std::to_string(size_cells_) + " size cells)");
      return EINVAL;
    }
    if (cmaDefaultSkippedAtScan(node) || cmaVerifyRejectsDefault(node)) {
      plan_.regions[ri].outcome = RegionOutcome::kSkipped;
      skip_logs_[node].push_back(log(skipLine()));
      return has(KernelRule::kCmaValidateHook) ? EBUSY : EINVAL;
    }
    const bool nomap = fdt_->has(node, "no-map");
    size_t pos = 0;
    bool first = true;
    int pair = 0;
    const size_t pairs = len / tLen();
    if (has(KernelRule::kRmemFirstRegPairOnly) && pairs > 1) {
      log(std::string(kOfRmem) + "Reserved memory: node '" + name + "' has " + std::to_string(pairs) +
          " <base size> entries, only the first is used");
    }
    while (len - pos >= tLen() && (first || !has(KernelRule::kRmemFirstRegPairOnly))) {
      const uint64_t base = readCells(reg->data, &pos, addr_cells_);
      const uint64_t size = readCells(reg->data, &pos, size_cells_);
      const int err = size ? reserveMemory(base, size, nomap) : EINVAL;
      if (err != 0) {
        const std::string line = std::string(scanPrefix()) + "Reserved memory: failed to reserve memory for node '" +
                                 name + "': base " + pa(base) + ", size " + mib(size) + " MiB";
        diag(Severity::kError, "reserved-bad-reg", path,
             size == 0 ? "reg pair " + std::to_string(pair) + " has size 0: nothing is reserved for it"
                       : "reg pair " + std::to_string(pair) + " (" + range(base, size) +
                             ") is no-map but overlaps memory that is already reserved, so it cannot be marked no-map",
             {log(line)},
             size == 0 ? "give the region its real size, or delete the pair"
                       : "move the region off the other reservation (see the overlap), or drop no-map");
        if (first) plan_.regions[ri].outcome = RegionOutcome::kNotReserved;
      }
      if (first) {
        plan_.regions[ri].base = base;
        plan_.regions[ri].size = size;
        plan_.regions[ri].removed_from_memory = nomap && err == 0;
        if (save_first) save(node, base, size, false);
      }
      first = false;
      ++pair;
    }
    return 0;
  }

  // fdt_reserved_mem_save_node. False when the array is full.
  bool save(int node, uint64_t base, uint64_t size, bool dynamic) {
    const size_t ri = regionOf(node);
    // 6.13+ sizes the array to fit after the early phase; only older kernels run out.
    if (!modern() && saved_.size() >= k_.maxReservedRegions()) {
      diag(Severity::kError, "reserved-too-many", fdt_->path(node),
           "more than " + std::to_string(k_.maxReservedRegions()) + " reserved regions (MAX_RESERVED_REGIONS on " +
               k_.version.str() + "): this one is " + (dynamic ? "never allocated" : "reserved but never initialised"),
           {log(std::string(scanPrefix()) + "not enough space for all defined regions.")},
           "merge regions, or use a kernel from 5.7 on (64 regions)");
      plan_.regions[ri].outcome = dynamic ? RegionOutcome::kNotReserved : RegionOutcome::kNoHandler;
      return false;
    }
    saved_.push_back(Saved{node, ri, base, size, dynamic});
    return true;
  }

  // ---- dynamic regions -----------------------------------------------------------------------
  uint64_t allocArch(uint64_t size, uint64_t align, uint64_t start, uint64_t end, bool nomap, bool bottom_up) {
    if (end == 0) end = kMaxAddr;
    const uint64_t base = mb_.allocRange(size, align, start, end, bottom_up);
    if (base == 0) return 0;
    if (nomap) {
      if (!has(KernelRule::kNomapMarksMemblock)) {
        mb_.free(base, size);
        mb_.removeMemory(base, size);
      } else {
        mb_.markNomap(base, size);
      }
    }
    return base;
  }

  // __reserved_mem_alloc_in_range (6.3+): bottom-up next to a reservation touching the start.
  uint64_t allocInRange(uint64_t size, uint64_t align, uint64_t start, uint64_t end, bool nomap) {
    bool bottom_up = false;
    if (has(KernelRule::kRmemAllocInRangeBottomUp)) {
      bool up = false;
      bool down = false;
      for (const auto& s : saved_) {
        if (s.size == 0) continue;
        const uint64_t e = addSat(s.base, s.size);
        if (start >= s.base && start <= e) up = true;
        if (end >= s.base && end <= e) down = true;
      }
      if (up != down) bottom_up = up;
    }
    return allocArch(size, align, start, end, nomap, bottom_up);
  }

  // __reserved_mem_alloc_size. On success fills base/size of the saved entry.
  int allocSize(Saved* s) {
    const int node = s->node;
    const std::string name = fdt_->name(node);
    const std::string path = fdt_->path(node);
    ReservedRegion& r = region(*s);
    r.dynamic = true;
    const auto size_prop = fdt_->prop(node, "size");
    if (!size_prop) return EINVAL;
    if (!cells_ok_) {
      r.outcome = RegionOutcome::kNotReserved;
      return EINVAL;
    }
    if (size_prop->size() != size_cells_ * 4) {
      r.outcome = RegionOutcome::kNotReserved;
      diag(Severity::kError, "reserved-bad-size", path,
           "size is " + std::to_string(size_prop->size()) + " bytes but #size-cells = " + std::to_string(size_cells_) +
               " needs " + std::to_string(size_cells_ * 4) + ": the region is not allocated",
           {log(std::string(kOfRmem) + "invalid size property in '" + name + "' node.")},
           "write size with exactly #size-cells (" + std::to_string(size_cells_) + ") cells");
      return EINVAL;
    }
    size_t pos = 0;
    const uint64_t size = readCells(size_prop->data, &pos, size_cells_);
    uint64_t align = 0;
    if (const auto ap = fdt_->prop(node, "alignment")) {
      if (ap->size() != addr_cells_ * 4) {
        r.outcome = RegionOutcome::kNotReserved;
        diag(Severity::kError, "reserved-bad-alignment", path,
             "alignment is " + std::to_string(ap->size()) + " bytes but the kernel reads it with #address-cells = " +
                 std::to_string(addr_cells_) + " (" + std::to_string(addr_cells_ * 4) + " bytes): the region is not allocated",
             {log(std::string(kOfRmem) + "invalid alignment property in '" + name + "' node.")},
             "write alignment with exactly #address-cells (" + std::to_string(addr_cells_) + ") cells");
        return EINVAL;
      }
      pos = 0;
      align = readCells(ap->data, &pos, addr_cells_);
    }
    const bool nomap = fdt_->has(node, "no-map");
    if (k_.config.cma && fdt_->isCompatible(node, "shared-dma-pool") && fdt_->has(node, "reusable") && !nomap) {
      align = std::max(align, k_.cmaMinAlignmentBytes());
    }
    uint64_t base = 0;
    if (const auto ar = fdt_->prop(node, "alloc-ranges")) {
      if (ar->size() % tLen() != 0) {
        r.outcome = RegionOutcome::kNotReserved;
        diag(Severity::kError, "reserved-bad-alloc-ranges", path,
             "alloc-ranges is " + std::to_string(ar->size()) + " bytes, not a multiple of " + std::to_string(tLen()) +
                 ": the node is skipped",
             {log(std::string(kOfRmem) + "invalid alloc-ranges property in '" + name + "', skipping node.")},
             "write alloc-ranges as <base size> pairs with the root's cell counts");
        return EINVAL;
      }
      size_t p = 0;
      while (ar->size() - p >= tLen()) {
        const uint64_t start = readCells(ar->data, &p, addr_cells_);
        const uint64_t rsize = readCells(ar->data, &p, size_cells_);
        base = allocInRange(size, align, start, start + rsize, nomap);  // the kernel's u64 sum wraps too
        if (base != 0) break;
      }
    } else {
      base = allocArch(size, align, 0, 0, nomap, false);
    }
    if (base == 0) {
      r.outcome = RegionOutcome::kNotReserved;
      const std::string line = has(KernelRule::kRmemAllocFailLogsSize) ? std::string(kOfRmem) + "failed to allocate memory for node '" + name +
                                              "': size " + mib(size) + " MiB"
                                        : std::string(kOfRmem) + "failed to allocate memory for node '" + name + "'";
      diag(no_memory_ ? Severity::kNote : Severity::kError, "reserved-alloc-failed", path,
           "no free " + formatSize(size) + " block" + (align ? " aligned to " + formatSize(align) : std::string()) +
               (fdt_->has(node, "alloc-ranges") ? " inside alloc-ranges" : std::string(" in RAM")) +
               ": the region does not exist and no device can use it",
           {log(line)}, "reduce size or alignment, or widen alloc-ranges to cover free RAM");
      return ENOMEM;
    }
    s->base = base;
    s->size = size;
    r.base = base;
    r.size = size;
    r.removed_from_memory = nomap;
    return 0;
  }

  // ---- handlers ------------------------------------------------------------------------------
  // cma_init_reserved_mem
  int cmaInitReservedMem(uint64_t base, uint64_t size, const std::string& name, const std::string& path,
                         bool from_dt, std::vector<std::string>* logs) {
    if (plan_.cma_areas.size() >= k_.maxCmaAreas()) {
      logs->push_back(log(std::string(kCma) + "Not enough slots for CMA reserved regions!"));
      return ENOSPC;
    }
    if (size == 0 || !mb_.isRegionReserved(base, size)) return EINVAL;
    const uint64_t a = k_.cmaMinAlignmentBytes();
    if ((base | size) & (a - 1)) return EINVAL;
    CmaArea area;
    area.name = name.substr(0, 63);  // CMA_MAX_NAME
    area.base = base;
    area.size = size;
    area.from_dt = from_dt;
    area.path = path;
    plan_.cma_areas.push_back(area);
    return 0;
  }

  int rmemCmaSetup(Saved& s, std::vector<std::string>* logs) {
    const int node = s.node;
    ReservedRegion& r = region(s);
    const bool nomap = r.no_map;
    const bool deflt = fdt_->has(node, "linux,cma-default");
    if (has(KernelRule::kCmaCmdlineBypassesDtDefault) && cma_.present && deflt) {
      logs->push_back(log("Reserved memory: bypass " + r.name + " node, using cmdline CMA params instead"));
      return EBUSY;
    }
    if (!r.reusable || nomap) return notMine();
    const uint64_t a = k_.cmaMinAlignmentBytes();
    if ((s.base & (a - 1)) || (s.size & (a - 1))) {
      logs->push_back(log("Reserved memory: incorrect alignment of CMA region"));
      return EINVAL;
    }
    const int err = cmaInitReservedMem(s.base, s.size, r.name, r.path, true, logs);
    if (err != 0) {
      logs->push_back(log("Reserved memory: unable to setup CMA region"));
      return err;
    }
    if (deflt) dt_default_area_ = static_cast<int>(plan_.cma_areas.size()) - 1;
    logs->push_back(log("Reserved memory: created CMA memory pool at " + pa(s.base) + ", size " + mib(s.size) + " MiB"));
    return 0;
  }

  int rmemDmaSetup(Saved& s, std::vector<std::string>* logs) {
    ReservedRegion& r = region(s);
    if (r.reusable) return notMine();
    logs->push_back(log("Reserved memory: created DMA memory pool at " + pa(s.base) + ", size " + mib(s.size) + " MiB"));
    return 0;
  }

  int rmemSwiotlbSetup(Saved& s, std::vector<std::string>* logs) {
    const int node = s.node;
    ReservedRegion& r = region(s);
    if (r.reusable || fdt_->has(node, "linux,cma-default") || fdt_->has(node, "linux,dma-default") || r.no_map) {
      return EINVAL;
    }
    logs->push_back(log("software IO TLB: Reserved memory: created restricted DMA pool at " + pa(s.base) + ", size " +
                        mib(s.size) + " MiB"));
    return 0;
  }

  // __reserved_mem_init_node plus the outcome handling of fdt_init_reserved_mem(_node).
  void initNode(Saved& s) {
    const int node = s.node;
    ReservedRegion& r = region(s);
    std::vector<std::string> logs;
    int ret = ENOENT;
    int cma_ret = ENOENT;
    std::string matched;
    const bool shared = fdt_->isCompatible(node, "shared-dma-pool");
    if (shared && k_.config.cma) {
      ret = cma_ret = rmemCmaSetup(s, &logs);
      if (ret == 0) {
        matched = "shared-dma-pool";
        r.handler = "cma";
      }
    }
    if (ret != 0 && shared) {
      ret = rmemDmaSetup(s, &logs);
      if (ret == 0) {
        matched = "shared-dma-pool";
        r.handler = "dma-coherent";
      }
    }
    if (ret != 0 && fdt_->isCompatible(node, "restricted-dma-pool") && has(KernelRule::kRestrictedDmaPool) && k_.config.restricted_dma_pool) {
      ret = rmemSwiotlbSetup(s, &logs);
      if (ret == 0) {
        matched = "restricted-dma-pool";
        r.handler = "restricted-dma";
      }
    }
    // A handler's "not mine" (-ENODEV) does not hide an earlier handler's real error (docs/kernel-behaviour.md §5.5).
    if (has(KernelRule::kRmemHandlerNotMineEnodev) && ret == ENODEV && cma_ret != ENOENT && cma_ret != ENODEV && cma_ret != 0) ret = cma_ret;
    const bool no_handler = ret == ENOENT || (has(KernelRule::kRmemHandlerNotMineEnodev) && ret == ENODEV);
    if (ret == 0) {
      logs.push_back(log(std::string(kOfRmem) + "initialized node " + r.name + ", compatible id " + matched));
      r.outcome = RegionOutcome::kInitialized;
    } else if (no_handler) {
      r.outcome = RegionOutcome::kNoHandler;
    } else {
      logs.push_back(log(std::string(kOfRmem) + "node " + r.name + " compatible matching fail"));
      r.outcome = RegionOutcome::kFailed;
      if (r.no_map) {
        if (!has(KernelRule::kNomapMarksMemblock)) {
          mb_.free(s.base, s.size);
          mb_.addMemory(s.base, s.size);
        } else {
          mb_.clearNomap(s.base, s.size);
        }
      } else {
        mb_.free(s.base, s.size);
      }
      r.removed_from_memory = false;
    }
    if (has(KernelRule::kRmemSummaryLine) && (ret == 0 || no_handler)) {
      const uint64_t end = s.base + s.size - 1;
      log(std::string(kOfRmem) + pa(s.base) + ".." + pa(end) + " (" + std::to_string(s.size / kKiB) + " KiB) " +
          (r.no_map ? "nomap" : "map") + " " + (r.reusable ? "reusable" : "non-reusable") + " " + r.name);
    }
    explainInit(s, cma_ret, logs);
  }

  // Diagnostics for the handler outcome of one region.
  // `ret` is what the CMA handler answered (ENOENT if it was not tried).
  void explainInit(const Saved& s, int ret, const std::vector<std::string>& logs) {
    const int node = s.node;
    const ReservedRegion& r = plan_.regions[s.region];
    const bool shared = fdt_->isCompatible(node, "shared-dma-pool");
    const uint64_t a = k_.cmaMinAlignmentBytes();
    if (shared && r.reusable && r.no_map) {
      diag(Severity::kError, "cma-no-map", r.path,
           "reusable and no-map together: the CMA handler refuses no-map memory and the coherent-pool handler refuses "
           "reusable memory, so no CMA area is made" +
               std::string(has(KernelRule::kRmemHandlerNotMineEnodev) ? "; the region stays carved out as no-map memory nobody uses"
                                   : "; the memory is handed back to the kernel"),
           logs, "drop no-map (CMA memory must stay mapped so the kernel can use it while it is free)");
      return;
    }
    if (ret == EBUSY && r.cma_default) {
      diag(Severity::kWarning, "cma-default-overridden", r.path,
           "cma= on the command line takes precedence over linux,cma-default: this node is bypassed and its memory "
           "freed; the default CMA area comes from cma=",
           logs, "drop cma= from the command line to use this node, or drop the node");
      return;
    }
    if (shared && r.reusable && r.handler != "cma" && k_.config.cma && ret != 0 && ret != ENOENT) {
      if ((s.base & (a - 1)) || (s.size & (a - 1))) {
        diag(Severity::kError, "cma-misaligned", r.path,
             "base " + pa(s.base) + " and size " + formatSize(s.size) + " must be multiples of " + formatSize(a) +
                 " (the CMA minimum alignment on " + k_.version.str() + " with " + formatSize(k_.pageblockBytes()) +
                 " pageblocks): no CMA area is made from this node and its memory is handed back" +
                 (r.cma_default ? "; the default CMA area falls back to cma=/CONFIG_CMA_SIZE_MBYTES" : ""),
             logs, "align base and size to " + formatSize(a) + " (4 MiB works on every kernel and pageblock size)");
      } else if (ret == ENOSPC) {
        diag(Severity::kError, "cma-too-many-areas", r.path,
             "every CMA area slot is used (MAX_CMA_AREAS = " + std::to_string(k_.maxCmaAreas()) +
                 "): no CMA area is made from this node",
             logs, "merge CMA regions, or raise CONFIG_CMA_AREAS");
      } else {
        diag(Severity::kError, "cma-setup-failed", r.path,
             "the CMA handler refused this region (" + std::string(ret == EINVAL ? "its range is not reserved memory"
                                                                                   : "error " + std::to_string(ret)) +
                 "): no CMA area is made and the memory is handed back",
             logs, "check that the reg pair reserves the whole region (size not 0, no conflicting no-map)");
      }
      return;
    }
    if (shared && !r.reusable && r.handler == "dma-coherent") {
      diag(r.cma_default ? Severity::kWarning : Severity::kNote, "cma-not-reusable", r.path,
           "shared-dma-pool without reusable is a per-device coherent DMA pool, not a CMA area: no CMA heap is made "
           "from it" +
               std::string(r.cma_default ? " and linux,cma-default has no effect; the default CMA area comes from "
                                           "cma=/CONFIG_CMA_SIZE_MBYTES instead"
                                         : ""),
           logs, "add reusable; to make it a CMA area (and a heap candidate); keep it as is for a device-private pool");
      if (!r.no_map) {
        diag(Severity::kNote, "dma-pool-needs-no-map", r.path,
             "a coherent pool without no-map is accepted on arm64 but refused on 32-bit ARM kernels "
             "(\"Reserved memory: regions without no-map are not yet supported\")",
             {}, "add no-map; if the tree is also used with 32-bit ARM kernels");
      }
      return;
    }
    if (r.outcome == RegionOutcome::kFailed) {
      diag(Severity::kError, "reserved-handler-failed", r.path,
           "the " + r.compatible + " handler refused this region; its memory is handed back to the kernel", logs,
           "check the binding of " + r.compatible + " for forbidden property combinations");
      return;
    }
    if (r.outcome == RegionOutcome::kNoHandler && !r.compatible.empty() && !shared &&
        !(fdt_->isCompatible(node, "restricted-dma-pool") && has(KernelRule::kRestrictedDmaPool))) {
      diag(Severity::kNote, "reserved-no-handler", r.path,
           "no early handler for compatible \"" + r.compatible +
               "\": the memory stays reserved as a plain carve-out for a driver to claim",
           logs, "nothing to do if a driver claims it through memory-region; otherwise check the compatible");
    }
  }

  // ---- scans ---------------------------------------------------------------------------------
  void overlapCheck() {
    std::vector<Saved> sorted = saved_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Saved& a, const Saved& b) {
      return a.base != b.base ? a.base < b.base : a.size < b.size;
    });
    for (size_t i = 0; i + 1 < sorted.size(); ++i) {
      const Saved& a = sorted[i];
      const Saved& b = sorted[i + 1];
      if (addSat(a.base, a.size) <= b.base) continue;
      const ReservedRegion& ra = region(a);
      const ReservedRegion& rb = region(b);
      const std::string l1 = log(std::string(kOfRmem) + "OVERLAP DETECTED!");
      const std::string l2 = log(ra.name + " (" + pa(a.base) + "--" + pa(addSat(a.base, a.size)) + ") overlaps with " +
                                 rb.name + " (" + pa(b.base) + "--" + pa(addSat(b.base, b.size)) + ")");
      diag(Severity::kWarning, "reserved-overlap", ra.path,
           ra.name + " overlaps " + rb.path + "; the kernel only warns and keeps both", {l1, l2},
           "make the two regions disjoint (or delete the duplicate)");
    }
    if (!modern()) saved_ = std::move(sorted);  // the kernel sorts its array in place
  }

  void scanLegacy() {
    const int container = findContainer();
    if (container < 0) return;
    if (!checkRoot(container)) {
      badContainer(container, false);
      return;
    }
    for (int child : fdt_->children(container)) {
      if (!fdt_->isAvailable(child)) {
        newRegion(child, RegionOutcome::kSkipped);
        continue;
      }
      const int err = reserveReg(child, true);
      if (err == ENOENT && fdt_->has(child, "size")) {
        newRegion(child, RegionOutcome::kNotReserved);
        save(child, 0, 0, true);
      }
    }
    overlapCheck();
    for (auto& s : saved_) {
      int err = 0;
      if (s.size == 0) err = allocSize(&s);
      if (err == 0) initNode(s);
    }
  }

  void scanModern() {
    const int container = fdt_->pathOffset("/reserved-memory");
    if (container < 0) {
      log(std::string(kOfRmem) + "Reserved memory: No reserved-memory node in the DT");
      return;
    }
    if (!checkRoot(container)) {
      badContainer(container, true);
      return;
    }
    // Early phase: reserve every static range, then allocate and initialise dynamic nodes.
    std::vector<int> dynamic;
    for (int child : fdt_->children(container)) {
      if (!fdt_->isAvailable(child)) {
        newRegion(child, RegionOutcome::kSkipped);
        continue;
      }
      const int err = reserveReg(child, false);
      if (err == ENOENT && fdt_->has(child, "size")) dynamic.push_back(child);
    }
    if (dynamic.size() > 64) {
      diag(Severity::kError, "reserved-too-many", fdt_->path(container),
           std::to_string(dynamic.size()) + " dynamically placed regions: the early scan keeps them in a 64-entry "
           "array without a bounds check (fixed in 2026), so early boot memory is overwritten",
           {}, "use at most 64 size/alloc-ranges regions, or give some a fixed reg");
    }
    for (int child : dynamic) {
      newRegion(child, RegionOutcome::kNotReserved);
      if (cmaVerifyRejectsDefault(child)) {
        region(Saved{child, regionOf(child)}).outcome = RegionOutcome::kSkipped;
        skip_logs_[child].push_back(log(skipLine()));
        continue;
      }
      Saved s{child, regionOf(child), 0, 0, true};
      if (allocSize(&s) != 0) continue;
      if (!save(child, s.base, s.size, true)) continue;
      initNode(saved_.back());
    }
    // Late phase (unflatten_device_tree, before dma_contiguous_reserve on arm64): static nodes.
    for (int child : fdt_->children(container)) {
      if (!fdt_->isAvailable(child)) continue;
      const auto reg = fdt_->prop(child, "reg");
      if (!reg || !cells_ok_) continue;
      if (cmaVerifyRejectsDefault(child)) {  // 7.1+: the validate hook runs again, and says so
        skip_logs_[child].push_back(log(skipLine()));
        continue;
      }
      if (cmaDefaultSkippedAtScan(child)) continue;
      if (reg->size() < tLen() || reg->size() % tLen() != 0) continue;
      const size_t pairs = reg->size() / tLen();
      if (pairs > 1 && !has(KernelRule::kRmemFirstRegPairOnly)) {
        log(std::string(kOfRmem) + "fdt_scan_reserved_mem_reg_nodes() ignores " + std::to_string(pairs - 1) +
            " regions in node '" + fdt_->name(child) + "'");
      }
      size_t pos = 0;
      const uint64_t base = readCells(reg->data, &pos, addr_cells_);
      const uint64_t size = readCells(reg->data, &pos, size_cells_);
      if (size == 0) continue;
      if (!save(child, base, size, false)) continue;
      initNode(saved_.back());
    }
    overlapCheck();
  }

  // ---- default CMA area and activation -------------------------------------------------------
  // Zone boundaries inside RAM on arm64 (4 KiB pages), per era.
  std::vector<uint64_t> zoneLimits() const {
    const uint64_t start = mb_.startOfDram();
    const uint64_t end = mb_.endOfDram();
    std::vector<uint64_t> out;
    const auto legacyZone = [&](unsigned bits) {
      const uint64_t offset = start & ~((uint64_t{1} << bits) - 1);
      return std::min(offset + (uint64_t{1} << bits), end);
    };
    if (has(KernelRule::kZoneDmaFromDt)) {
      uint64_t mask = k4G - 1;
      if (start > k4G - 1) mask = kMaxAddr;
      out.push_back(std::min(mask, end - 1) + 1);
    } else if (has(KernelRule::kZoneDmaFixed1G)) {
      out.push_back(legacyZone(30));
      out.push_back(legacyZone(32));
    } else {
      out.push_back(legacyZone(32));
    }
    return out;
  }
  uint64_t dmaLimit() const {
    if (mb_.memory().empty()) return 0;
    return zoneLimits().back();
  }

  // cma_declare_contiguous for the default area "reserved".
  void declareContiguous(uint64_t base, uint64_t size, uint64_t limit, bool fixed) {
    std::vector<std::string> logs;
    const std::string suffix = cmaNodeSuffix();
    const auto fail = [&](int err, const std::string& why) {
      logs.push_back(log(std::string(kCma) + "Failed to reserve " + mib(size) + " MiB" + suffix));
      diag(no_memory_ ? Severity::kNote : Severity::kError, err == ENOSPC ? "cma-too-many-areas" : "cma-reserve-failed", "/chosen",
           "the default CMA area (" + formatSize(size) + (cma_.present ? " from cma=" : " from CONFIG_CMA_SIZE_MBYTES") +
               ") cannot be reserved: " + why + "; the kernel has no default CMA area",
           logs, cma_.present ? "change cma= (size, @base, -limit) to fit free RAM below the DMA limit"
                              : "lower CONFIG_CMA_SIZE_MBYTES or pass a smaller cma=");
    };
    if (plan_.cma_areas.size() >= k_.maxCmaAreas()) {
      logs.push_back(log(std::string(kCma) + "Not enough slots for CMA reserved regions!"));
      // The cma_declare_contiguous_nid wrapper reports every failure (docs/kernel-behaviour.md §6.5).
      if (has(KernelRule::kCmaDeclareReportsFailure)) logs.push_back(log(std::string(kCma) + "Failed to reserve " + mib(size) + " MiB"));
      diag(Severity::kError, "cma-too-many-areas", "/chosen",
           "every CMA area slot is used by the device tree: the default area cannot be made", logs,
           "merge CMA regions, or raise CONFIG_CMA_AREAS");
      return;
    }
    const uint64_t align = k_.cmaMinAlignmentBytes();
    if (has(KernelRule::kCmaFixedBaseChecked) && fixed && (base & (align - 1))) {
      logs.push_back(log(std::string(kCma) + "Region at " + pa(base) + " must be aligned to " + pa(align) + " bytes"));
      return fail(EINVAL, "base " + pa(base) + " is not aligned to " + formatSize(align));
    }
    base = alignUp(base, align);
    size = alignUp(size, align);
    limit &= ~(align - 1);
    if (base == 0) fixed = false;
    const uint64_t end_dram = mb_.endOfDram();
    if (fixed && base < end_dram && base + size > end_dram) {
      logs.push_back(log(std::string(kCma) + "Region at " + pa(base) + " defined on low/high memory boundary (" +
                         pa(end_dram) + ")"));
      return fail(EINVAL, "the range crosses the end of low memory");
    }
    if (limit == 0 || limit > end_dram) limit = end_dram;
    if (has(KernelRule::kCmaFixedBaseChecked) && fixed && base + size > limit) {
      logs.push_back(log(std::string(kCma) + "Size (" + pa(size) + ") of region at " + pa(base) + " exceeds limit (" +
                         pa(limit) + ")"));
      return fail(EINVAL, "the range ends above the limit");
    }
    if (fixed) {
      if (mb_.isRegionReserved(base, size)) return fail(EBUSY, range(base, size) + " is already reserved");
      mb_.reserve(base, size);
    } else {
      uint64_t addr = 0;
      if (has(KernelRule::kCmaDefaultPrefersAbove4G) && end_dram >= k4G + size) addr = mb_.allocRange(size, align, k4G, limit, true);
      if (addr == 0) addr = mb_.allocRange(size, align, base, limit, false);
      if (addr == 0) return fail(ENOMEM, "no free " + formatSize(size) + " block below " + pa(limit));
      base = addr;
    }
    const int err = cmaInitReservedMem(base, size, "reserved", "", false, &logs);
    if (err != 0) {
      mb_.free(base, size);
      return fail(err, "cma_init_reserved_mem refused it");
    }
    kconfig_area_ = static_cast<int>(plan_.cma_areas.size()) - 1;
    log(std::string(kCma) + "Reserved " + mib(size) + " MiB at " + pa(base) + suffix);
  }

  void dmaContiguousReserve() {
    if (!k_.config.cma) return;
    uint64_t size = k_.config.cma_size_mbytes * kMiB;
    uint64_t base = 0;
    uint64_t limit = dmaLimit();
    bool fixed = false;
    if (cma_.present) {
      size = cma_.size;
      base = cma_.base;
      if (cma_.limit != 0) limit = limit == 0 ? cma_.limit : std::min(limit, cma_.limit);
      fixed = cma_.fixed();
    }
    if (size == 0) return;
    if (dt_default_area_ >= 0) {
      if (cma_.present) {
        const CmaArea& a = plan_.cma_areas[dt_default_area_];
        diag(Severity::kWarning, "cma-default-overridden", a.path,
             "kernel " + k_.version.str() + " sets up the device-tree default CMA area before looking at cma=, so cma= "
             "is ignored (cma= wins from 5.7)",
             {}, "drop cma= from the command line, or drop linux,cma-default from the node");
      }
      return;
    }
    declareContiguous(base, size, limit, fixed);
  }

  void markDefaultArea() {
    // dma_contiguous_default_area is a plain pointer: the last assignment wins.
    const int idx = dt_default_area_ >= 0 ? dt_default_area_ : kconfig_area_;
    if (idx >= 0) plan_.cma_areas[idx].is_default = true;
    // More than one DT node claims the default.
    std::vector<const ReservedRegion*> defaults;
    for (const auto& r : plan_.regions)
      if (r.cma_default && r.handler == "cma") defaults.push_back(&r);
    if (defaults.size() > 1) {
      const std::string winner = idx >= 0 ? plan_.cma_areas[idx].name : "";
      for (const auto* r : defaults) {
        if (r->name == winner) continue;
        diag(Severity::kWarning, "cma-default-duplicate", r->path,
             "more than one reusable region has linux,cma-default; the kernel silently keeps the last one initialised (" +
                 winner + ")",
             {}, "keep linux,cma-default on exactly one region");
      }
    }
  }

  void crash(CmaArea& a, bool partly) {
    plan_.kernel_crashes = !no_memory_;
    a.activated = false;
    std::vector<std::string> logs;
    // Observed (oracle): wholly outside RAM WARNs on 6.1 (mm/cma.c:110), 6.12 (:106) and 7.2
    // (cma_validate_zones, :129); straddling the end of RAM WARNs in the pfn loop up to 6.14
    // (6.1 :113, 6.12 :109) and not after the 6.15 multi-range rework.
    const bool warn = !partly || !has(KernelRule::kCmaMultiRange);
    std::string line_no;
    if (has(KernelRule::kCmaWarnRelease6_1)) line_no = partly ? ":113" : ":110";
    if (has(KernelRule::kCmaWarnRelease6_12)) line_no = partly ? ":109" : ":106";
    if (has(KernelRule::kCmaWarnRelease7_2)) line_no = ":129";
    if (warn) {
      if (has(KernelRule::kWarnFormat7)) {  // the newer WARN format (seen on 7.2)
        logs.push_back(log("WARNING: mm/cma.c" + line_no + " at cma_validate_zones, CPU#0: swapper/0/1"));
      } else {
        logs.push_back(log(std::string("WARNING: CPU: 0 PID: 1 at mm/cma.c") + line_no +
                           (has(KernelRule::kCmaMultiRange) ? " cma_validate_zones" : " cma_init_reserved_areas")));
      }
    }
    logs.push_back(log("Unable to handle kernel paging request at virtual address <vmemmap of pfn " +
                       hex(a.base / k_.pageSize()) + ">"));
    const bool esr6 = partly || has(KernelRule::kCmaWarnRelease6_1);
    logs.push_back(log(std::string("Internal error: Oops: ") + (esr6 ? "0000000096000006" : "0000000096000005") +
                       (has(KernelRule::kWarnFormat7) ? " [#1]  SMP" : " [#1] SMP")));
    logs.push_back(log(std::string("pc : ") + (has(KernelRule::kCmaMultiRange) ? "init_cma_reserved_pageblock" : "cma_init_reserved_areas")));
    logs.push_back(log("Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b"));
    const std::string node = a.path.empty() ? "/chosen" : a.path;
    for (auto& r : plan_.regions)
      if (r.path == a.path && !a.path.empty()) r.outcome = RegionOutcome::kCrashed;
    diag(no_memory_ ? Severity::kNote : Severity::kError, "cma-outside-memory", node,
         "CMA area " + a.name + " (" + range(a.base, a.size) + ") lies " + (partly ? "partly" : "wholly") +
             " outside every /memory range: set-up accepts it (\"created CMA memory pool\") because only memblock "
             "reservation is checked, then activation at core_initcall reads the struct pages of non-RAM pfns: " +
             (warn ? "WARN, " : "") + "\"Unable to handle kernel paging request\" Oops in PID 1 and a kernel panic" +
             (no_memory_ ? " (the tree has no /memory, so this depends on what the bootloader adds)" : ""),
         logs, "move the region inside RAM (a /memory reg range), or extend /memory if the RAM is really there");
  }

  void activateAreas() {
    bool aborted = false;
    const auto limits = mb_.memory().empty() ? std::vector<uint64_t>{} : zoneLimits();
    for (auto& a : plan_.cma_areas) {
      if (aborted) {
        a.activated = false;
        continue;
      }
      if (!no_memory_ && !mb_.isAllMemory(a.base, a.size)) {
        crash(a, mb_.overlapsMemory(a.base, a.size));
        break;  // the kernel is dead: nothing after this runs
      }
      if (no_memory_ && !a.from_dt) continue;
      if (no_memory_) {
        crash(a, false);
        continue;
      }
      uint64_t boundary = 0;
      for (uint64_t l : limits)
        if (a.base < l && a.base + a.size > l) boundary = l;
      if (boundary == 0) continue;
      a.activated = false;
      const std::string line = log(std::string(kCma) + "CMA area " + a.name + " could not be activated");
      const bool stops = has(KernelRule::kCmaActivationStopsOnFailure);
      diag(Severity::kError, "cma-crosses-zones", a.path.empty() ? "/chosen" : a.path,
           "CMA area " + a.name + " (" + range(a.base, a.size) + ") spans the zone boundary at " + pa(boundary) +
               " (DMA/DMA32 below, Normal above); all pages of an area must be in one zone, so it is not activated "
               "and every allocation from it fails" +
               (stops ? "; on this kernel the first failure also stops the activation of every later area" : ""),
           {line}, "keep the area entirely below or entirely above " + pa(boundary));
      if (stops) aborted = true;
    }
  }

  // ---- summary -------------------------------------------------------------------------------
  void finish() {
    plan_.memory = mb_.memory();
    std::vector<PhysRange> held = mb_.reserved();
    for (const auto& r : mb_.nomap()) rangeAdd(&held, r.base, r.size);
    for (const auto& a : plan_.cma_areas) rangeRemove(&held, a.base, a.size);
    plan_.reserved = rangeIntersect(held, plan_.memory);

    for (const auto& s : skip_logs_) {
      const ReservedRegion& r = plan_.regions[regionOf(s.first)];
      diag(Severity::kWarning, "cma-default-overridden", r.path,
           "cma= on the command line takes precedence: this linux,cma-default node is skipped while the tree is "
           "scanned (nothing is reserved for it) and the default CMA area comes from cma=",
           s.second, "drop cma= from the command line to use this node, or drop the node");
    }

    // Which DT CMA areas become heaps on this kernel, and how names differ on others.
    const auto era = k_.cmaHeapEra();
    for (const auto& a : plan_.cma_areas) {
      if (!a.from_dt) continue;
      if (a.is_default && era != CmaHeapEra::kNone) {
        diag(Severity::kNote, "heap-name-changed", a.path,
             "the heap of this default CMA area is /dev/dma_heap/" + a.name +
                 " on 5.6-6.16; from 6.17 it is /dev/dma_heap/default_cma_region, and " + a.name +
                 " remains only with CONFIG_DMABUF_HEAPS_CMA_LEGACY=y (6.17-6.18) or as its per-region heap (6.19+)",
             {}, "open /dev/dma_heap/default_cma_region and fall back to /dev/dma_heap/" + a.name);
      } else if (!a.is_default && (era == CmaHeapEra::kDefaultOnly || era == CmaHeapEra::kDefaultNamePlusLegacy)) {
        diag(Severity::kNote, "cma-area-no-heap", a.path,
             "CMA area " + a.name + " is not the default area: kernels before 6.19 make no /dev/dma_heap node for it "
             "(devices reach it through memory-region); from 6.19 it is /dev/dma_heap/" + a.name,
             {}, "add linux,cma-default; if user space must allocate from it on this kernel");
      }
    }
  }

  const Fdt* fdt_;
  Kernel k_;
  CmaCmdline cma_;
  Memblock mb_;
  BoardPlan plan_;
  uint32_t addr_cells_ = 1;
  uint32_t size_cells_ = 1;
  bool cells_ok_ = true;
  bool no_memory_ = false;
  std::vector<Saved> saved_;
  std::map<int, size_t> node_region_;
  std::map<int, std::vector<std::string>> skip_logs_;
  int dt_default_area_ = -1;
  int kconfig_area_ = -1;
};

}  // namespace

CmaCmdline parseCmaCmdline(std::string_view cmdline) {
  CmaCmdline out;
  size_t pos = 0;
  while (pos < cmdline.size()) {
    while (pos < cmdline.size() && cmdline[pos] == ' ') ++pos;
    size_t end = cmdline.find(' ', pos);
    if (end == std::string_view::npos) end = cmdline.size();
    const std::string_view tok = cmdline.substr(pos, end - pos);
    pos = end;
    if (tok.substr(0, 4) != "cma=") continue;
    std::string_view p = tok.substr(4);
    CmaCmdline c;
    c.present = true;
    const auto num = [](std::string_view* s) -> uint64_t {
      auto r = memparse(*s);
      if (!r) return 0;  // the kernel's memparse reads no digits as 0 and does not move
      *s = r->rest;
      return r->value;
    };
    c.size = num(&p);
    if (!p.empty() && p[0] == '@') {
      p.remove_prefix(1);
      c.base = num(&p);
      if (!p.empty() && p[0] == '-') {
        p.remove_prefix(1);
        c.limit = num(&p);
      } else {
        c.limit = c.base + c.size;
      }
    }
    out = c;  // the last cma= wins
  }
  return out;
}

BoardPlan planFromFdt(const Fdt& fdt, const Kernel& kernel, std::string_view cmdline) {
  return Planner(&fdt, kernel, cmdline).run();
}

Result<BoardPlan> planFromBlob(std::span<const uint8_t> blob, const Kernel& kernel, std::string_view cmdline) {
  auto fdt = Fdt::fromBlob(blob);
  if (!fdt) return fdt.error();
  return planFromFdt(*fdt, kernel, cmdline);
}

Result<BoardPlan> planFromFile(const std::string& path, const Kernel& kernel, std::string_view cmdline) {
  auto fdt = loadDeviceTree(path);
  if (!fdt) return fdt.error();
  return planFromFdt(*fdt, kernel, cmdline);
}

BoardPlan planDefaultBoard(const Kernel& kernel, std::string_view cmdline) {
  return Planner(nullptr, kernel, cmdline).run();
}

const char* outcomeName(RegionOutcome outcome) {
  switch (outcome) {
    case RegionOutcome::kInitialized: return "initialized";
    case RegionOutcome::kNoHandler: return "no-handler";
    case RegionOutcome::kFailed: return "failed";
    case RegionOutcome::kNotReserved: return "not-reserved";
    case RegionOutcome::kSkipped: return "skipped";
    case RegionOutcome::kCrashed: return "crashed";
  }
  return "unknown";
}

const char* severityName(Severity severity) {
  switch (severity) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kNote: return "note";
  }
  return "unknown";
}

}  // namespace dmaheap::dt
