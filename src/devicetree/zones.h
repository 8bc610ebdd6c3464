// The page allocator's zones as the kernel sizes them at boot (zone_sizes_init on arm64,
// docs/kernel-behaviour.md §6.10): ZONE_DMA from the tree's dma-ranges (of_dma_get_max_cpu_address),
// ZONE_DMA32 below 4 GiB, ZONE_Normal above, and the limit below which the default CMA area is
// reserved (arm64_dma_phys_limit). Which representation a release uses (a fixed 30-bit zone, a
// power-of-two number of bits, an address) is a KernelRule. 32-bit ARM (ZONE_DMA for some machines,
// Normal up to the end of lowmem, HighMem; §11.2) and riscv64 (DMA32 and Normal; §11.4) are their
// own branches of zoneLayout(), each behind its rule.
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
  // The start of high memory, which cma_declare_contiguous tries first and never lets an area
  // cross (docs/kernel-behaviour.md §11.2): the end of lowmem on 32-bit ARM, else the end of RAM.
  uint64_t highmem_start = 0;
  // Zone boundaries strictly inside [start, end) of RAM: an area across one is not activated.
  std::vector<uint64_t> boundaries;
  // The kernel's "Zone ranges:" block, as printed.
  std::vector<std::string> log;
  std::vector<Zone> nonEmpty() const;
};

// `dt_max_cpu`: of_dma_get_max_cpu_address(NULL) when some bus has dma-ranges (nullopt: none).
// RAM is [start, end) of memblock; an empty RAM gives no zones. `arm_dma_zone_size`: the 32-bit ARM
// machine's dma_zone_size (armMachineDmaZoneSize; 0: none).
ZoneLayout zoneLayout(const Kernel& kernel, uint64_t start, uint64_t end, std::optional<uint64_t> dt_max_cpu,
                      uint64_t arm_dma_zone_size = 0);

// The end of lowmem on 32-bit ARM (adjust_lowmem_bounds, docs/kernel-behaviour.md §11.2): the
// linear map holds VMALLOC_END - 240 MiB of vmalloc - 8 MiB - PAGE_OFFSET bytes from the start of
// RAM; RAM above it is highmem.
uint64_t armLowmemEnd(const Kernel& kernel, uint64_t start, uint64_t end);

// The dma_zone_size of the 32-bit ARM machine whose DT_MACHINE_START matches one of the root
// compatibles (docs/kernel-behaviour.md §11.2), for this kernel's configuration; 0: none.
uint64_t armMachineDmaZoneSize(const Kernel& kernel, const std::vector<std::string>& root_compatibles);

}  // namespace dmaheap::dt
