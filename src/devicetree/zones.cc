// Zone sizing per release (docs/kernel-behaviour.md §6.10).
#include "devicetree/zones.h"

#include <algorithm>
#include <bit>
#include <cstdio>

namespace dmaheap::dt {
namespace {

constexpr uint64_t kU32Max = 0xffffffffull;
constexpr uint64_t kPhysAddrMax = ~uint64_t{0};

uint64_t bitMask(unsigned bits) { return bits >= 64 ? kPhysAddrMax : (uint64_t{1} << bits) - 1; }
unsigned fls64(uint64_t v) { return v == 0 ? 0 : 64 - static_cast<unsigned>(std::countl_zero(v)); }

std::string memLine(const PrintedZone& z) {
  char buf[96];
  std::string name = "  " + z.name;
  name.resize(2 + 8 + 1, ' ');  // "  %-8s "
  if (z.base == z.end) return name + "empty";
  std::snprintf(buf, sizeof buf, "[mem 0x%016llx-0x%016llx]", static_cast<unsigned long long>(z.base),
                static_cast<unsigned long long>(z.end - 1));
  return name + buf;
}

// 32-bit ARM machines that set a DMA zone (docs/kernel-behaviour.md §11.2), keyed by the root
// compatibles of their DT_MACHINE_START; `lpae_only`: the size is set only with CONFIG_ARM_LPAE.
struct ArmDmaZoneMachine {
  const char* compatible;
  uint64_t size;
  bool lpae_only;
};
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr ArmDmaZoneMachine kArmDmaZoneMachines[] = {
    {"brcm,bcm2711", 1 * kGiB, false},                                  // mach-bcm/bcm2711.c
    {"calxeda,highbank", 4 * kGiB, true}, {"calxeda,ecx-2000", 4 * kGiB, true},  // mach-highbank
    {"ti,k2hk", 2 * kGiB, true}, {"ti,k2e", 2 * kGiB, true}, {"ti,k2l", 2 * kGiB, true},
    {"ti,k2g", 2 * kGiB, true}, {"ti,keystone", 2 * kGiB, true},        // mach-keystone
    {"ti,omap5432", 2 * kGiB, true}, {"ti,omap5430", 2 * kGiB, true}, {"ti,omap5", 2 * kGiB, true},
    {"ti,dra762", 2 * kGiB, true}, {"ti,am5728", 2 * kGiB, true}, {"ti,am5726", 2 * kGiB, true},
    {"ti,dra742", 2 * kGiB, true}, {"ti,dra7", 2 * kGiB, true},          // mach-omap2 DRA74X
    {"ti,am5718", 2 * kGiB, true}, {"ti,am5716", 2 * kGiB, true}, {"ti,dra722", 2 * kGiB, true},
    {"ti,dra718", 2 * kGiB, true},                                      // mach-omap2 DRA72X
    {"arm,realview-eb", 256 * kMiB, false}, {"arm,realview-pb1176", 256 * kMiB, false},
    {"arm,realview-pba8", 256 * kMiB, false}, {"arm,realview-pbx", 256 * kMiB, false},  // mach-versatile
};

// Lays zones end to end from the first page of RAM: each ends at its limit (rounded down to a
// page, never before the previous one), and an end inside RAM is a zone boundary.
struct ZoneStacker {
  ZoneLayout& out;
  uint64_t page, start, end, at;
  void operator()(const char* name, uint64_t limit) {
    const uint64_t zend = std::max(limit / page * page, at);
    out.zones.push_back(PrintedZone{name, at, zend});
    if (zend > start && zend < end) out.boundaries.push_back(zend);
    at = zend;
  }
};

// The 32-bit ARM layout (arch/arm/mm/init.c zone_sizes_init, docs/kernel-behaviour.md §11.2).
ZoneLayout armZoneLayout(const Kernel& kernel, uint64_t start, uint64_t end, uint64_t dma_zone_size) {
  ZoneLayout out;
  const uint64_t page = kernel.pageSize();
  const uint64_t lowmem = armLowmemEnd(kernel, start, end);
  const uint64_t phys_max = kernel.physAddr64() ? kPhysAddrMax : kU32Max;
  // With CONFIG_ZONE_DMA the zone always exists: arm_dma_limit is the last byte of the machine's
  // DMA zone (PHYS_OFFSET + size - 1), else 0xffffffff, so ZONE_DMA then holds all of lowmem and
  // ZONE_NORMAL is empty; ~0 without ZONE_DMA. Its pfn is used as the zone's end pfn.
  const bool zone_dma = kernel.config.zone_dma;
  uint64_t arm_dma_limit = zone_dma ? kU32Max : phys_max;
  if (zone_dma && dma_zone_size != 0) arm_dma_limit = std::min(start + dma_zone_size - 1, phys_max);
  out.cma_limit = arm_dma_limit;
  out.highmem_start = lowmem;
  const uint64_t dma_end = std::min(arm_dma_limit / page, lowmem / page) * page;
  out.dma_limit = zone_dma ? dma_end : 0;
  ZoneStacker add{out, page, start, end, start / page * page};
  if (zone_dma) add("DMA", dma_end);
  add("Normal", lowmem);
  if (kernel.config.highmem) add("HighMem", end);
  out.log.push_back("Zone ranges:");
  for (const auto& z : out.zones) out.log.push_back(memLine(z));
  return out;
}

// The riscv64 layout (arch/riscv/mm/init.c zone_sizes_init, docs/kernel-behaviour.md §11.4).
ZoneLayout riscvZoneLayout(const Kernel& kernel, uint64_t start, uint64_t end) {
  ZoneLayout out;
  const uint64_t page = kernel.pageSize();
  const uint64_t dma32 = std::min(uint64_t{4} * kGiB, end / page * page);  // dma32_phys_limit
  out.cma_limit = dma32;
  out.highmem_start = end;
  ZoneStacker add{out, page, start, end, start / page * page};
  if (kernel.config.zone_dma32) add("DMA32", dma32);
  add("Normal", end);
  out.log.push_back("Zone ranges:");
  for (const auto& z : out.zones) out.log.push_back(memLine(z));
  return out;
}

}  // namespace

uint64_t armLowmemEnd(const Kernel& kernel, uint64_t start, uint64_t end) {
  constexpr uint64_t kVmallocEnd = 0xff800000;
  constexpr uint64_t kVmallocOffset = 8 * kMiB;
  constexpr uint64_t kVmallocSize = 240 * kMiB;  // the default; vmalloc= is not modelled
  const uint64_t vmalloc_start = kVmallocEnd - kVmallocSize - kVmallocOffset;
  // A PAGE_OFFSET at or above the vmalloc area (no real kernel has one) leaves no lowmem.
  const uint64_t page_offset = kernel.config.arm_page_offset;
  const uint64_t linear = page_offset < vmalloc_start ? vmalloc_start - page_offset : 0;
  return linear > end - std::min(start, end) ? end : start + linear;
}

uint64_t armMachineDmaZoneSize(const Kernel& kernel, const std::vector<std::string>& root_compatibles) {
  for (const auto& c : root_compatibles)
    for (const auto& m : kArmDmaZoneMachines)
      if (c == m.compatible && (!m.lpae_only || kernel.config.arm_lpae)) return m.size;
  return 0;
}

std::vector<Zone> ZoneLayout::nonEmpty() const {
  std::vector<Zone> out;
  for (const auto& z : zones)
    if (z.end > z.base) out.push_back(Zone{z.name, z.base, z.end - z.base});
  return out;
}

ZoneLayout zoneLayout(const Kernel& kernel, uint64_t start, uint64_t end, std::optional<uint64_t> dt_max_cpu,
                      uint64_t arm_dma_zone_size) {
  ZoneLayout out;
  if (end <= start) return out;
  if (ruleApplies(KernelRule::kArmZonesLowHigh, kernel)) return armZoneLayout(kernel, start, end, arm_dma_zone_size);
  if (ruleApplies(KernelRule::kRiscvZoneDma32, kernel)) return riscvZoneLayout(kernel, start, end);
  out.highmem_start = end;
  const uint64_t page = kernel.pageSize();
  const uint64_t dt_limit = dt_max_cpu.value_or(kPhysAddrMax);  // ACPI IORT: none (PHYS_ADDR_MAX)
  // arm64 has ZONE_DMA from 5.5 (CONFIG_ZONE_DMA), ZONE_DMA32 throughout.
  const bool zone_dma = kernel.config.zone_dma && (ruleApplies(KernelRule::kZoneDmaFixed1G, kernel) ||
                                                   ruleApplies(KernelRule::kZoneDmaFromDt, kernel));
  const bool zone_dma32 = kernel.config.zone_dma32;

  // The end (exclusive) of a zone given as a number of address bits, before 5.16: the zone starts
  // at RAM's own 2^bits-aligned offset.
  const auto offsetZone = [&](unsigned bits) {
    const uint64_t offset = start & ~bitMask(bits);
    return std::min(offset + (uint64_t{1} << bits), end);
  };
  // From 5.16 (zone as bits) and 6.12 (zone as an address): the limit itself, clamped to RAM.
  const auto clampZone = [&](uint64_t mask) { return std::min(mask, end - 1) + 1; };

  uint64_t dma = 0;
  uint64_t dma32 = 0;
  if (ruleApplies(KernelRule::kZoneDmaLimitAddress, kernel)) {
    dma32 = clampZone(bitMask(32));
    uint64_t limit = dt_limit;
    // Platforms with RAM below 4 GiB keep ZONE_DMA in the low 32 bits.
    if (start < kU32Max) limit = std::min(limit, kU32Max);
    dma = clampZone(limit);
  } else if (ruleApplies(KernelRule::kZoneDmaFromDt, kernel)) {
    // zone_dma_bits: the limit rounded up to a power of two (fls64), at most 32 bits.
    const unsigned bits = std::min({32u, fls64(dt_limit), fls64(kPhysAddrMax)});
    const auto maxZonePhys = [&](unsigned b) {
      uint64_t mask = bitMask(b);
      if (start > kU32Max) mask = kPhysAddrMax;   // RAM above 4 GiB: one zone holds it all
      else if (start > mask) mask = kU32Max;      // RAM starts above the limit: the zone goes to 4 GiB
      return clampZone(mask);
    };
    dma = maxZonePhys(bits);
    dma32 = maxZonePhys(32);
  } else if (ruleApplies(KernelRule::kZoneDmaFixed1G, kernel)) {
    dma = offsetZone(30);
    dma32 = offsetZone(32);
  } else {
    dma32 = offsetZone(32);
  }
  if (!zone_dma) dma = 0;
  if (!zone_dma32) dma32 = 0;
  out.dma_limit = dma;

  // Which limit the default CMA area gets (docs/kernel-behaviour.md §6.10): the DMA32 limit up to
  // 5.10, arm64_dma_phys_limit after (the DMA32 limit without ZONE_DMA, all memory without both).
  if (ruleApplies(KernelRule::kZoneDmaFromDt, kernel)) {
    out.cma_limit = dma != 0 ? dma : (dma32 != 0 ? dma32 : 0);
  } else {
    out.cma_limit = dma32;
  }

  // free_area_init: each zone runs from the end of the previous one to max(its limit, that end),
  // in whole pages.
  uint64_t at = start / page * page;
  const auto add = [&](const char* name, uint64_t limit, bool configured) {
    if (!configured) return;
    const uint64_t zend = std::max(limit / page * page, at);
    out.zones.push_back(PrintedZone{name, at, zend});
    if (zend > start && zend < end) out.boundaries.push_back(zend);
    at = zend;
  };
  add("DMA", dma, zone_dma);
  add("DMA32", dma32, zone_dma32);
  add("Normal", end / page * page, true);
  std::sort(out.boundaries.begin(), out.boundaries.end());
  out.boundaries.erase(std::unique(out.boundaries.begin(), out.boundaries.end()), out.boundaries.end());
  out.log.push_back("Zone ranges:");
  for (const auto& z : out.zones) out.log.push_back(memLine(z));
  return out;
}

}  // namespace dmaheap::dt
