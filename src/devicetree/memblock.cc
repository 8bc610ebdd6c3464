// Memblock model: range sets and the early allocator.
#include "devicetree/memblock.h"

#include <algorithm>
#include <iterator>
#include <limits>

namespace dmaheap::dt {
namespace {

constexpr uint64_t kMaxAddr = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kSmpCacheBytes = 64;
constexpr uint64_t kPageSize = 4096;

// Clamps base+size to the 64-bit address space (a reg may describe a range past 2^64).
uint64_t endOf(uint64_t base, uint64_t size) { return size > kMaxAddr - base ? kMaxAddr : base + size; }

}  // namespace

// Both keep `set` sorted and disjoint, in place: a binary search for the first range that can
// touch [base, end), then only the ranges it merges with or cuts are visited. No copy of the set,
// so thousands of regions cost O(n log n) plus element moves, not O(n^2) allocations.
void rangeAdd(std::vector<PhysRange>* set, uint64_t base, uint64_t size) {
  if (size == 0) return;
  uint64_t b = base;
  uint64_t e = endOf(base, size);
  // First range whose end reaches b (adjacent ranges merge, as before).
  auto first = std::lower_bound(set->begin(), set->end(), b, [](const PhysRange& r, uint64_t v) { return r.end() < v; });
  auto last = first;
  while (last != set->end() && last->base <= e) {
    b = std::min(b, last->base);
    e = std::max(e, last->end());
    ++last;
  }
  if (first == last) {
    set->insert(first, PhysRange{b, e - b});
    return;
  }
  *first = PhysRange{b, e - b};
  set->erase(first + 1, last);
}

void rangeRemove(std::vector<PhysRange>* set, uint64_t base, uint64_t size) {
  if (size == 0) return;
  const uint64_t e = endOf(base, size);
  // First range that ends after base.
  auto first = std::lower_bound(set->begin(), set->end(), base, [](const PhysRange& r, uint64_t v) { return r.end() <= v; });
  auto last = first;
  while (last != set->end() && last->base < e) ++last;
  if (first == last) return;
  const PhysRange head = *first;
  const PhysRange tail = *(last - 1);
  PhysRange keep[2];
  int n = 0;
  if (head.base < base) keep[n++] = {head.base, base - head.base};
  if (tail.end() > e) keep[n++] = {e, tail.end() - e};
  auto at = set->erase(first, last);
  set->insert(at, keep, keep + n);
}

std::vector<PhysRange> rangeIntersect(const std::vector<PhysRange>& a, const std::vector<PhysRange>& b) {
  std::vector<PhysRange> out;
  for (const auto& x : a) {
    for (const auto& y : b) {
      const uint64_t lo = std::max(x.base, y.base);
      const uint64_t hi = std::min(x.end(), y.end());
      if (lo < hi) out.push_back({lo, hi - lo});
    }
  }
  std::sort(out.begin(), out.end(), [](const PhysRange& p, const PhysRange& q) { return p.base < q.base; });
  return out;
}

void Memblock::addMemory(uint64_t base, uint64_t size) { rangeAdd(&memory_, base, size); }

void Memblock::removeMemory(uint64_t base, uint64_t size) {
  rangeRemove(&memory_, base, size);
  rangeRemove(&nomap_, base, size);
}

void Memblock::reserve(uint64_t base, uint64_t size) { rangeAdd(&reserved_, base, size); }
void Memblock::free(uint64_t base, uint64_t size) { rangeRemove(&reserved_, base, size); }

void Memblock::markNomap(uint64_t base, uint64_t size) {
  // Only memory can carry the flag; a no-map range outside RAM changes nothing.
  std::vector<PhysRange> one{{base, endOf(base, size) - base}};
  for (const auto& r : rangeIntersect(memory_, one)) rangeAdd(&nomap_, r.base, r.size);
}

void Memblock::clearNomap(uint64_t base, uint64_t size) { rangeRemove(&nomap_, base, size); }

bool Memblock::isRegionReserved(uint64_t base, uint64_t size) const {
  const PhysRange q{base, endOf(base, size) - base};
  for (const auto& r : reserved_)
    if (r.overlaps(q)) return true;
  return false;
}

bool Memblock::overlapsMemory(uint64_t base, uint64_t size) const {
  const PhysRange q{base, endOf(base, size) - base};
  for (const auto& r : memory_)
    if (r.overlaps(q)) return true;
  return false;
}

bool Memblock::isAllMemory(uint64_t base, uint64_t size) const {
  if (size == 0) return false;
  const uint64_t e = endOf(base, size);
  for (const auto& r : memory_)
    if (r.base <= base && r.end() >= e) return true;
  return false;
}

std::vector<PhysRange> Memblock::freeRanges() const {
  // memory minus (no-map ∪ reserved), in one sweep over the three sorted sets.
  std::vector<PhysRange> taken;
  taken.reserve(nomap_.size() + reserved_.size());
  std::merge(nomap_.begin(), nomap_.end(), reserved_.begin(), reserved_.end(), std::back_inserter(taken),
             [](const PhysRange& x, const PhysRange& y) { return x.base < y.base; });
  std::vector<PhysRange> free;
  size_t t = 0;
  for (const auto& m : memory_) {
    uint64_t at = m.base;
    const uint64_t end = m.end();
    while (t < taken.size() && taken[t].end() <= at) ++t;
    for (size_t i = t; i < taken.size() && taken[i].base < end; ++i) {
      if (taken[i].base > at) free.push_back({at, taken[i].base - at});
      at = std::max(at, taken[i].end());
      if (at >= end) break;
    }
    if (at < end) free.push_back({at, end - at});
  }
  return free;
}

uint64_t Memblock::allocRange(uint64_t size, uint64_t align, uint64_t start, uint64_t end, bool bottom_up) {
  if (align == 0) align = kSmpCacheBytes;
  // Size 0 "succeeds" as in the kernel: a dynamic node with size 0 gets an address (and the CMA
  // handler then refuses it).
  // memblock_find_in_range_node: never hand out the first page, and end >= start.
  start = std::max(start, kPageSize);
  end = std::max(start, end);
  const uint64_t mask = align - 1;  // round_down/round_up use the mask even for odd alignments
  const auto free = freeRanges();
  uint64_t found = 0;
  if (bottom_up) {
    for (const auto& r : free) {
      const uint64_t lo = std::clamp(r.base, start, end);
      const uint64_t hi = std::clamp(r.end(), start, end);
      if (lo > kMaxAddr - mask) continue;
      const uint64_t cand = (lo + mask) & ~mask;
      if (cand < hi && hi - cand >= size) {
        found = cand;
        break;
      }
    }
  } else {
    for (auto it = free.rbegin(); it != free.rend(); ++it) {
      const uint64_t lo = std::clamp(it->base, start, end);
      const uint64_t hi = std::clamp(it->end(), start, end);
      if (hi < size) continue;
      const uint64_t cand = (hi - size) & ~mask;
      if (cand >= lo) {
        found = cand;
        break;
      }
    }
  }
  if (found != 0 && size != 0) reserve(found, size);
  return found;
}

}  // namespace dmaheap::dt
