// CMA declaration in the boot replay (docs/kernel-behaviour.md §6.3-§6.5).
#include "devicetree/cma_declare.h"

#include <algorithm>

#include "base/size.h"

namespace dmaheap::dt {

// cma_init_reserved_mem
int CmaDeclaration::initReservedMem(uint64_t base, uint64_t size, const std::string& name, const std::string& path,
                                    bool from_dt, std::vector<std::string>* logs) {
  if (plan_.cma_areas.size() >= k_.maxCmaAreas()) {
    logs->push_back(log(std::string(kCmaLog) + "Not enough slots for CMA reserved regions!"));
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

// cma_declare_contiguous for the default area "reserved".
void CmaDeclaration::declareContiguous(uint64_t base, uint64_t size, uint64_t limit, bool fixed) {
  std::vector<std::string> logs;
  const std::string suffix = cmaNodeSuffix();
  const auto fail = [&](DiagEvent why, DiagArgs args) {
    logs.push_back(log(std::string(kCmaLog) + "Failed to reserve " + logMib(size) + " MiB" + suffix));
    args.emplace_back("size", formatSize(size));
    args.emplace_back("cmdline", cma_.present ? "1" : "");
    record(why, "/chosen", std::move(args), logs);
  };
  if (plan_.cma_areas.size() >= k_.maxCmaAreas()) {
    logs.push_back(log(std::string(kCmaLog) + "Not enough slots for CMA reserved regions!"));
    // The cma_declare_contiguous_nid wrapper reports every failure (docs/kernel-behaviour.md §6.5).
    if (has(KernelRule::kCmaDeclareReportsFailure)) logs.push_back(log(std::string(kCmaLog) + "Failed to reserve " + logMib(size) + " MiB"));
    record(DiagEvent::kDefaultAreaNoSlot, "/chosen", {}, logs);
    return;
  }
  const uint64_t align = k_.cmaMinAlignmentBytes();
  if (has(KernelRule::kCmaFixedBaseChecked) && fixed && (base & (align - 1))) {
    logs.push_back(log(std::string(kCmaLog) + "Region at " + logPa(base) + " must be aligned to " + logPa(align) + " bytes"));
    return fail(DiagEvent::kDefaultAreaMisaligned, {{"base", logPa(base)}, {"align", formatSize(align)}});
  }
  base = alignUp(base, align);
  size = alignUp(size, align);
  limit &= ~(align - 1);
  if (base == 0) fixed = false;
  const uint64_t end_dram = mb_.endOfDram();
  const uint64_t highmem_start = highmemStart();
  if (fixed && base < highmem_start && base + size > highmem_start) {
    logs.push_back(log(std::string(kCmaLog) + "Region at " + logPa(base) + " defined on low/high memory boundary (" +
                       logPa(highmem_start) + ")"));
    return fail(DiagEvent::kDefaultAreaCrossesLowHigh, {});
  }
  if (limit == 0 || limit > end_dram) limit = end_dram;
  if (has(KernelRule::kCmaFixedBaseChecked) && fixed && base + size > limit) {
    logs.push_back(log(std::string(kCmaLog) + "Size (" + logPa(size) + ") of region at " + logPa(base) + " exceeds limit (" +
                       logPa(limit) + ")"));
    return fail(DiagEvent::kDefaultAreaAboveLimit, {});
  }
  if (fixed) {
    if (mb_.isRegionReserved(base, size)) return fail(DiagEvent::kDefaultAreaBusy, {{"range", logRange(base, size)}});
    mb_.reserve(base, size);
  } else {
    uint64_t addr = 0;
    if (has(KernelRule::kCmaDefaultPrefersAbove4G) && k_.physAddr64() && end_dram >= k4GiB + size) {
      addr = mb_.allocRange(size, align, k4GiB, limit, true);
    }
    // An area must not straddle low and high memory: high memory is tried first, then low
    // (docs/kernel-behaviour.md §11.2; only 32-bit ARM has RAM above highmem_start).
    if (addr == 0 && base < highmem_start && limit > highmem_start) {
      addr = mb_.allocRange(size, align, highmem_start, limit, false);
      limit = highmem_start;
    }
    if (addr == 0) addr = mb_.allocRange(size, align, base, limit, false);
    if (addr == 0) {
      // A DMA limit from dma-ranges at or below the start of RAM (6.12 on: ZONE_DMA empty).
      if (plan_.dma_limit_from_tree && limit != 0 && limit <= mb_.startOfDram()) {
        return fail(DiagEvent::kDefaultAreaLimitBelowRam, {{"limit", logPa(limit)},
                                                           {"reach", logPa(plan_.dt_dma_max_cpu)},
                                                           {"start", logPa(mb_.startOfDram())}});
      }
      return fail(DiagEvent::kDefaultAreaNoFreeBlock, {{"limit", logPa(limit)}});
    }
    base = addr;
  }
  const int err = initReservedMem(base, size, "reserved", "", false, &logs);
  if (err != 0) {
    mb_.free(base, size);
    return fail(err == ENOSPC ? DiagEvent::kDefaultAreaInitNoSlot : DiagEvent::kDefaultAreaInitRefused, {});
  }
  kconfig_area_ = static_cast<int>(plan_.cma_areas.size()) - 1;
  log(std::string(kCmaLog) + "Reserved " + logMib(size) + " MiB at " + logPa(base) + suffix);
}

void CmaDeclaration::dmaContiguousReserve() {
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
      record(DiagEvent::kDtDefaultIgnoresCmdline, a.path, {{"kernel", k_.version.str()}});
    }
    return;
  }
  declareContiguous(base, size, limit, fixed);
}

void CmaDeclaration::markDefaultArea() {
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
      record(DiagEvent::kCmaDefaultDuplicate, r->path, {{"winner", winner}});
    }
  }
}

}  // namespace dmaheap::dt
