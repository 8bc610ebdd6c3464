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
  std::snprintf(buf, sizeof buf, "[mem %#018llx-%#018llx]", static_cast<unsigned long long>(z.base),
                static_cast<unsigned long long>(z.end - 1));
  return name + buf;
}

}  // namespace

std::vector<Zone> ZoneLayout::nonEmpty() const {
  std::vector<Zone> out;
  for (const auto& z : zones)
    if (z.end > z.base) out.push_back(Zone{z.name, z.base, z.end - z.base});
  return out;
}

ZoneLayout zoneLayout(const Kernel& kernel, uint64_t start, uint64_t end, std::optional<uint64_t> dt_max_cpu) {
  ZoneLayout out;
  if (end <= start) return out;
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
