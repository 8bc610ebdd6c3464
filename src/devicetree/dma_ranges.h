// DMA reach from `dma-ranges`: which CPU addresses a device can reach by DMA, and the lowest
// "highest reachable CPU address" over the whole tree that sizes arm64's ZONE_DMA. Both follow the
// kernel's own walk (docs/kernel-behaviour.md §6.9): entries are parsed with the bus's cell counts,
// contiguous entries merge, and each entry's parent address is translated up the tree through the
// ancestors' dma-ranges (a missing or empty dma-ranges is 1:1 at that level; an address outside
// every entry of a level cannot be translated). Plain functions over a validated Fdt; no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/kernel.h"
#include "devicetree/fdt.h"

namespace dmaheap::dt {

// One dma-ranges entry translated to CPU addresses: bus addresses [bus_base, bus_base + size)
// are CPU addresses [cpu_base, cpu_base + size).
struct DmaWindow {
  uint64_t cpu_base;
  uint64_t size;
  uint64_t bus_base;
};

struct DmaReach {
  // False when the tree restricts the device but none of its windows translates to CPU
  // addresses (the kernel refuses its DMA set-up with -EINVAL); why_not says why.
  bool translated = true;
  // Empty with translated=true: no dma-ranges above the device, no restriction (the kernel's
  // default).
  std::vector<DmaWindow> windows;
  std::string why_not;
  // The node whose dma-ranges gave the windows (-1 when none) and the kernel's error line for
  // each entry that did not translate (it skips them and keeps the others).
  int ranges_node = -1;
  std::vector<std::string> untranslated_logs;
};

// The CPU-address windows a device at `node` can reach by DMA, as of_dma_get_range finds them
// for it: from the device's DMA parent up, the first non-empty dma-ranges (an empty one means
// 1:1 at that level and the search goes on; a missing one after the first level ends it: no
// restriction). A bad `node` offset gives translated=true, no windows.
DmaReach dmaReach(const Fdt& fdt, int node);

// The kernel's of_dma_get_max_cpu_address(NULL): the lowest, over every node with a non-empty
// dma-ranges reached from the root through available children only, of the highest CPU address
// its entries reach; nullopt when no such node exists (the kernel's "no limit", PHYS_ADDR_MAX).
// The same walk for every release that sizes zones from the tree (5.11 on); `kernel` is where a
// later change would enter. An entry that does not translate keeps the kernel's unsigned
// arithmetic (its end wraps to size - 2) — observable, so modelled.
std::optional<uint64_t> maxDmaCpuAddress(const Fdt& fdt, const Kernel& kernel);

// ---- The pieces, for tests and for callers that need one level -------------------------------

// One parsed entry of a node's dma-ranges (after merging contiguous entries): cpu is nullopt
// when the parent address does not translate.
struct DmaRangeEntry {
  uint64_t bus = 0;
  std::optional<uint64_t> cpu;
  uint64_t size = 0;
};
std::vector<DmaRangeEntry> parseDmaRanges(const Fdt& fdt, int node);

// __of_get_dma_parent: the `interconnects` target named "dma-mem" when there is one, else the
// parent; -1 for the root.
int dmaParent(const Fdt& fdt, int node);

}  // namespace dmaheap::dt
