// Strong types for physical memory: a physical address and a page frame number are not
// interchangeable with byte counts, so they get their own types.
#pragma once

#include <compare>
#include <cstdint>

namespace dmaheap {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

// A physical (CPU) address in bytes.
struct PhysAddr {
  uint64_t value = 0;
  constexpr auto operator<=>(const PhysAddr&) const = default;
};

// A page frame number: physical address >> page shift.
struct Pfn {
  uint64_t value = 0;
  constexpr auto operator<=>(const Pfn&) const = default;
};

// A half-open physical byte range [base, base + size).
struct PhysRange {
  uint64_t base = 0;
  uint64_t size = 0;
  constexpr uint64_t end() const { return base + size; }
  constexpr bool contains(uint64_t addr) const { return addr >= base && addr - base < size; }
  constexpr bool overlaps(const PhysRange& o) const {
    return size != 0 && o.size != 0 && base < o.end() && o.base < end();
  }
  constexpr bool operator==(const PhysRange&) const = default;
};

constexpr bool isPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
constexpr uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
constexpr uint64_t alignDown(uint64_t v, uint64_t a) { return v & ~(a - 1); }

}  // namespace dmaheap
