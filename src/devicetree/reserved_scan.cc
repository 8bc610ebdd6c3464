// The /reserved-memory scan of the boot replay (docs/kernel-behaviour.md §5.2-§5.7).
#include "devicetree/reserved_scan.h"

#include <algorithm>

#include "base/size.h"
#include "devicetree/reserved_handlers.h"

namespace dmaheap::dt {

void ReservedMemoryScan::initNode(SavedRegion& s) { ReservedMemoryHandlers(s_).initNode(s); }

// ---- /reserved-memory container ------------------------------------------------------------
int ReservedMemoryScan::findContainer() {
  if (has(KernelRule::kRmemContainerByPath)) return fdt_->pathOffset("/reserved-memory");
  for (int c : fdt_->children(fdt_->root()))
    if (fdt_->name(c) == "reserved-memory") return c;
  const int by_path = fdt_->pathOffset("/reserved-memory");
  if (by_path >= 0) {
    record(DiagEvent::kContainerMisnamed, fdt_->path(by_path),
           {{"kernel", k_.version.str()}, {"name", fdt_->name(by_path)}});
  }
  return -1;
}

bool ReservedMemoryScan::checkRoot(int node) const {
  const auto cellsEq = [&](const char* name, uint32_t want) {
    const auto p = fdt_->prop(node, name);
    if (!p || p->size() < 4) return false;
    size_t pos = 0;
    return readCells(p->data, &pos, 1) == want;
  };
  return cellsEq("#size-cells", size_cells_) && cellsEq("#address-cells", addr_cells_) && fdt_->has(node, "ranges");
}

void ReservedMemoryScan::badContainer(int node) {
  const std::string line = log(std::string(scanPrefix()) + "Reserved memory: unsupported node format, ignoring");
  record(DiagEvent::kContainerBadFormat, fdt_->path(node),
         {{"ac", std::to_string(addr_cells_)}, {"sc", std::to_string(size_cells_)}}, {line});
  bad_container_event_ = s_.events.size() - 1;
  for (int c : fdt_->children(node)) newRegion(c, RegionOutcome::kSkipped);
}

// ---- static regions ------------------------------------------------------------------------
// early_init_dt_reserve_memory: 0 or EBUSY.
int ReservedMemoryScan::reserveMemory(uint64_t base, uint64_t size, bool nomap) {
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
bool ReservedMemoryScan::cmaDefaultSkippedAtScan(int node) const {
  return cma_.present && fdt_->has(node, "linux,cma-default") && has(KernelRule::kRmemScanSkipsCmaDefault);
}
// The validate hook of the CMA handler, run during the scan (docs/kernel-behaviour.md §6.4).
bool ReservedMemoryScan::cmaVerifyRejectsDefault(int node) const {
  return has(KernelRule::kCmaValidateHook) && k_.config.cma && fdt_->isCompatible(node, "shared-dma-pool") && fdt_->has(node, "reusable") &&
         !fdt_->has(node, "no-map") && cma_.present && fdt_->has(node, "linux,cma-default");
}
std::string ReservedMemoryScan::skipLine() const {
  // The validate hook prints it from kernel/dma/contiguous.c, which has no prefix.
  return has(KernelRule::kCmaValidateHook) ? std::string("Skipping dt linux,cma-default node in favor for \"cma=\" kernel param.")
                 : std::string(kOfRmem) + "Skipping dt linux,cma-default for \"cma=\" kernel param.";
}

// Said by both phases of the 6.12+ scan (the late one's prefix is always "OF: reserved mem: ",
// as the early one's from 6.12).
std::string ReservedMemoryScan::invalidRegLine(const std::string& name) const {
  return std::string(scanPrefix()) + "Reserved memory: invalid reg property in '" + name + "', skipping node.";
}

// __reserved_mem_reserve_reg. Returns ENOENT when the node has no reg.
int ReservedMemoryScan::reserveReg(int node, bool save_first) {
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
    if (has(KernelRule::kRmemInvalidRegLogged)) logs.push_back(log(invalidRegLine(name)));
    record(DiagEvent::kRegLengthInvalid, path,
           {{"len", std::to_string(len)},
            {"tlen", std::to_string(tLen())},
            {"ac", std::to_string(addr_cells_)},
            {"sc", std::to_string(size_cells_)}},
           logs);
    invalid_reg_event_[node] = s_.events.size() - 1;  // the late scan says it again (scanLate)
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
                               name + "': base " + logPa(base) + ", size " + logMib(size) + " MiB";
      record(size == 0 ? DiagEvent::kRegPairSizeZero : DiagEvent::kRegPairNomapBusy, path,
             {{"pair", std::to_string(pair)}, {"range", logRange(base, size)}}, {log(line)});
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
bool ReservedMemoryScan::save(int node, uint64_t base, uint64_t size, bool dynamic) {
  const size_t ri = regionOf(node);
  // 6.13+ sizes the array to fit after the early phase; only older kernels run out.
  if (!modern() && saved_.size() >= k_.maxReservedRegions()) {
    record(DiagEvent::kReservedArrayFull, fdt_->path(node),
           {{"max", std::to_string(k_.maxReservedRegions())},
            {"kernel", k_.version.str()},
            {"dynamic", dynamic ? "1" : ""}},
           {log(std::string(scanPrefix()) + "not enough space for all defined regions.")});
    plan_.regions[ri].outcome = dynamic ? RegionOutcome::kNotReserved : RegionOutcome::kNoHandler;
    return false;
  }
  saved_.push_back(SavedRegion{node, ri, base, size, dynamic});
  return true;
}

// ---- dynamic regions -----------------------------------------------------------------------
uint64_t ReservedMemoryScan::allocArch(uint64_t size, uint64_t align, uint64_t start, uint64_t end, bool nomap, bool bottom_up) {
  if (end == 0) end = kMaxPhysAddr;
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
uint64_t ReservedMemoryScan::allocInRange(uint64_t size, uint64_t align, uint64_t start, uint64_t end, bool nomap) {
  bool bottom_up = false;
  if (has(KernelRule::kRmemAllocInRangeBottomUp)) {
    bool up = false;
    bool down = false;
    for (const auto& s : saved_) {
      if (s.size == 0) continue;
      const uint64_t e = addSaturated(s.base, s.size);
      if (start >= s.base && start <= e) up = true;
      if (end >= s.base && end <= e) down = true;
    }
    if (up != down) bottom_up = up;
  }
  return allocArch(size, align, start, end, nomap, bottom_up);
}

// __reserved_mem_alloc_size. On success fills base/size of the saved entry.
int ReservedMemoryScan::allocSize(SavedRegion* s) {
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
    record(DiagEvent::kSizeBadLength, path,
           {{"len", std::to_string(size_prop->size())},
            {"sc", std::to_string(size_cells_)},
            {"want", std::to_string(size_cells_ * 4)}},
           {log(std::string(kOfRmem) + "invalid size property in '" + name + "' node.")});
    return EINVAL;
  }
  size_t pos = 0;
  const uint64_t size = readCells(size_prop->data, &pos, size_cells_);
  uint64_t align = 0;
  if (const auto ap = fdt_->prop(node, "alignment")) {
    if (ap->size() != addr_cells_ * 4) {
      r.outcome = RegionOutcome::kNotReserved;
      record(DiagEvent::kAlignmentBadLength, path,
             {{"len", std::to_string(ap->size())},
              {"ac", std::to_string(addr_cells_)},
              {"want", std::to_string(addr_cells_ * 4)}},
             {log(std::string(kOfRmem) + "invalid alignment property in '" + name + "' node.")});
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
      record(DiagEvent::kAllocRangesBadLength, path,
             {{"len", std::to_string(ar->size())}, {"tlen", std::to_string(tLen())}},
             {log(std::string(kOfRmem) + "invalid alloc-ranges property in '" + name + "', skipping node.")});
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
                                            "': size " + logMib(size) + " MiB"
                                      : std::string(kOfRmem) + "failed to allocate memory for node '" + name + "'";
    record(DiagEvent::kDynamicAllocFailed, path,
           {{"size", formatSize(size)},
            {"align", align ? formatSize(align) : std::string()},
            {"in_ranges", fdt_->has(node, "alloc-ranges") ? "1" : ""}},
           {log(line)});
    return ENOMEM;
  }
  s->base = base;
  s->size = size;
  r.base = base;
  r.size = size;
  r.removed_from_memory = nomap;
  return 0;
}

// ---- scans ---------------------------------------------------------------------------------
namespace {

// The kernel's sort() (a bottom-up heapsort) over the saved regions, by base then size: not
// stable, so entries that compare equal (the unallocated dynamic ones, all 0/0) come out in the
// order the heap leaves them, and 5.3-6.11 allocate them in that order (docs/kernel-behaviour.md
// §5.6).
void kernelHeapSort(std::vector<SavedRegion>& v) {
  const auto cmp = [&](size_t x, size_t y) {
    if (v[x].base != v[y].base) return v[x].base < v[y].base ? -1 : 1;
    if (v[x].size != v[y].size) return v[x].size < v[y].size ? -1 : 1;
    return 0;
  };
  const auto parent = [](size_t i) { return (i - 1) / 2; };
  size_t n = v.size();
  size_t a = n / 2;
  if (a == 0) return;
  for (;;) {
    if (a > 0) {
      --a;  // building the heap: sift element a down
    } else if (--n > 0) {
      std::swap(v[0], v[n]);  // sorting: the largest goes to the end, sift the new root down
    } else {
      break;
    }
    // Follow the larger child down to a leaf (the left one when they compare equal)...
    size_t b = a;
    size_t c = 0;
    size_t d = 0;
    for (;;) {
      c = 2 * b + 1;
      d = c + 1;
      if (d >= n) break;
      b = cmp(c, d) >= 0 ? c : d;
    }
    if (d == n) b = c;  // a last leaf without a sibling
    // ...back up to the first element on that path that is larger than element a...
    while (b != a && cmp(a, b) >= 0) b = parent(b);
    // ...and rotate element a into that place, the path above it moving up one level.
    const size_t at = b;
    while (b != a) {
      b = parent(b);
      std::swap(v[b], v[at]);
    }
  }
}

}  // namespace

void ReservedMemoryScan::overlapCheck() {
  std::vector<SavedRegion> sorted = saved_;
  if (modern()) {
    // 6.12+ breaks ties by node offset, and only reports overlaps with the sorted copy.
    std::stable_sort(sorted.begin(), sorted.end(), [](const SavedRegion& a, const SavedRegion& b) {
      return a.base != b.base ? a.base < b.base : a.size < b.size;
    });
  } else {
    kernelHeapSort(sorted);
  }
  for (size_t i = 0; i + 1 < sorted.size(); ++i) {
    const SavedRegion& a = sorted[i];
    const SavedRegion& b = sorted[i + 1];
    if (addSaturated(a.base, a.size) <= b.base) continue;
    const ReservedRegion& ra = region(a);
    const ReservedRegion& rb = region(b);
    const std::string l1 = log(std::string(kOfRmem) + "OVERLAP DETECTED!");
    const std::string l2 = log(ra.name + " (" + logPa(a.base) + "--" + logPa(addSaturated(a.base, a.size)) + ") overlaps with " +
                               rb.name + " (" + logPa(b.base) + "--" + logPa(addSaturated(b.base, b.size)) + ")");
    record(DiagEvent::kOverlap, ra.path, {{"name", ra.name}, {"other", rb.path}}, {l1, l2});
  }
  if (!modern()) saved_ = std::move(sorted);  // the kernel sorts its array in place
}

void ReservedMemoryScan::scanLegacy() {
  const int container = findContainer();
  if (container < 0) return;
  if (!checkRoot(container)) {
    badContainer(container);
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

// The early phase (fdt_scan_reserved_mem) is silent without a /reserved-memory node and says
// "unsupported node format" once for a bad one; the late phase says its own line for each
// (scanLate), which on 32-bit ARM comes after the default CMA area's.
void ReservedMemoryScan::scanEarly() {
  const int container = fdt_->pathOffset("/reserved-memory");
  if (container < 0) return;
  if (!checkRoot(container)) {
    badContainer(container);
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
    record(DiagEvent::kDynamicArrayOverflow, fdt_->path(container), {{"count", std::to_string(dynamic.size())}});
  }
  for (int child : dynamic) {
    newRegion(child, RegionOutcome::kNotReserved);
    if (cmaVerifyRejectsDefault(child)) {
      region(SavedRegion{child, regionOf(child)}).outcome = RegionOutcome::kSkipped;
      skip_logs_[child].push_back(log(skipLine()));
      continue;
    }
    SavedRegion s{child, regionOf(child), 0, 0, true};
    if (allocSize(&s) != 0) continue;
    if (!save(child, s.base, s.size, true)) continue;
    initNode(saved_.back());
  }
  container_ok_ = true;
}

void ReservedMemoryScan::scanLate() {
  const int container = fdt_->pathOffset("/reserved-memory");
  if (container < 0) {
    log(std::string(kOfRmem) + "Reserved memory: No reserved-memory node in the DT");
    return;
  }
  if (bad_container_event_) {  // fdt_scan_reserved_mem_reg_nodes checks the container again
    s_.events[*bad_container_event_].kernel_log.push_back(
        log(std::string(kOfRmem) + "Reserved memory: unsupported node format, ignoring"));
    return;
  }
  if (!container_ok_) return;
  // Late phase (unflatten_device_tree: before dma_contiguous_reserve on arm64 and riscv64, after
  // it on 32-bit ARM): static nodes.
  for (int child : fdt_->children(container)) {
    if (!fdt_->isAvailable(child)) continue;
    const auto reg = fdt_->prop(child, "reg");
    if (!reg || !cells_ok_) continue;
    if (cmaVerifyRejectsDefault(child)) {  // 7.1+: the validate hook runs again, and says so
      skip_logs_[child].push_back(log(skipLine()));
      continue;
    }
    if (cmaDefaultSkippedAtScan(child)) continue;
    if (const auto bad = invalid_reg_event_.find(child); bad != invalid_reg_event_.end()) {
      if (has(KernelRule::kRmemInvalidRegLogged)) {
        s_.events[bad->second].kernel_log.push_back(log(invalidRegLine(fdt_->name(child))));
      }
      continue;
    }
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

}  // namespace dmaheap::dt
