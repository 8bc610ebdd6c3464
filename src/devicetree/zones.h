// The page allocator's zones as the kernel sizes them at boot (zone_sizes_init on arm64,
// docs/kernel-behaviour.md §6.10): ZONE_DMA from the tree's dma-ranges (of_dma_get_max_cpu_address),
// ZONE_DMA32 below 4 GiB, ZONE_Normal above, and the limit below which the default CMA area is
// reserved (arm64_dma_phys_limit). Which representation a release uses (a fixed 30-bit zone, a
// power-of-two number of bits, an address) is a KernelRule. arm64 only so far: another
// architecture is another branch of zoneLayout() and its own rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/kernel.h"
#include "devicetree/board_plan.h"

namespace dmaheap::dt {

struct PrintedZone {
  std::string name;  // "DMA", "DMA32", "Normal"
  uint64_t base = 0;
  uint64_t end = 0;  // exclusive; == base: the kernel prints "empty"
};

struct ZoneLayout {
  std::vector<PrintedZone> zones;  // every configured zone, in the kernel's order
  uint64_t cma_limit = 0;          // what dma_contiguous_reserve() is given
  uint64_t dma_limit = 0;          // arm64_dma_phys_limit (0 without ZONE_DMA)
  // Zone boundaries strictly inside [start, end) of RAM: an area across one is not activated.
  std::vector<uint64_t> boundaries;
  // The kernel's "Zone ranges:" block, as printed.
  std::vector<std::string> log;
  std::vector<Zone> nonEmpty() const;
};

// `dt_max_cpu`: of_dma_get_max_cpu_address(NULL) when some bus has dma-ranges (nullopt: none).
// RAM is [start, end) of memblock; an empty RAM gives no zones.
ZoneLayout zoneLayout(const Kernel& kernel, uint64_t start, uint64_t end, std::optional<uint64_t> dt_max_cpu);

}  // namespace dmaheap::dt
