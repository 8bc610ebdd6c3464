// Memblock: the early boot memory bookkeeping the device-tree rules act on, modelled on
// mm/memblock.c. Two range sets: `memory` (RAM from /memory, some ranges flagged no-map) and
// `reserved` (may also hold ranges that are not RAM, as the kernel's does). Allocation searches
// free RAM (memory, not no-map, minus reserved) top-down or bottom-up like
// memblock_find_in_range_node. Invariant: each set is sorted and its ranges are disjoint.
#pragma once

#include <cstdint>
#include <vector>

#include "base/types.h"

namespace dmaheap::dt {

class Memblock {
 public:
  void addMemory(uint64_t base, uint64_t size);
  void removeMemory(uint64_t base, uint64_t size);
  void reserve(uint64_t base, uint64_t size);
  void free(uint64_t base, uint64_t size);  // memblock_phys_free: drop from reserved
  void markNomap(uint64_t base, uint64_t size);
  void clearNomap(uint64_t base, uint64_t size);

  // memblock_is_region_reserved: [base, base+size) intersects a reserved range.
  bool isRegionReserved(uint64_t base, uint64_t size) const;
  // memblock_overlaps_region(&memory, ...)
  bool overlapsMemory(uint64_t base, uint64_t size) const;
  // The whole range is RAM (inside memory ranges, no gaps).
  bool isAllMemory(uint64_t base, uint64_t size) const;

  // memblock_phys_alloc_range: finds a free, `align`-aligned block of `size` in [start, end)
  // and reserves it. Returns 0 on failure (the kernel's "no memory"). `align` 0 means 64
  // (SMP_CACHE_BYTES); a non-power-of-two alignment is applied with the kernel's mask arithmetic.
  uint64_t allocRange(uint64_t size, uint64_t align, uint64_t start, uint64_t end, bool bottom_up);

  uint64_t startOfDram() const { return memory_.empty() ? 0 : memory_.front().base; }
  uint64_t endOfDram() const { return memory_.empty() ? 0 : memory_.back().end(); }

  const std::vector<PhysRange>& memory() const { return memory_; }
  const std::vector<PhysRange>& reserved() const { return reserved_; }
  const std::vector<PhysRange>& nomap() const { return nomap_; }

 private:
  // Free RAM ranges: memory minus no-map minus reserved, sorted.
  std::vector<PhysRange> freeRanges() const;

  std::vector<PhysRange> memory_;
  std::vector<PhysRange> reserved_;
  std::vector<PhysRange> nomap_;  // subset of memory flagged MEMBLOCK_NOMAP
};

// Set helpers on sorted disjoint range lists (used by the planner too).
void rangeAdd(std::vector<PhysRange>* set, uint64_t base, uint64_t size);
void rangeRemove(std::vector<PhysRange>* set, uint64_t base, uint64_t size);
std::vector<PhysRange> rangeIntersect(const std::vector<PhysRange>& a, const std::vector<PhysRange>& b);

}  // namespace dmaheap::dt
