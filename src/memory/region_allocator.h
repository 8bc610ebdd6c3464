// RegionAllocator: hands out physically contiguous pieces of one fixed range of memory that the
// page allocator never sees (a no-map carve-out), as the kernel's genalloc pools do for
// carve-out heaps.
//
// Model: the range [base, base + size) in units of `granule` bytes (the page size); free space
// is a set of disjoint, non-adjacent free runs, kept sorted. allocate() takes the lowest run
// that holds the request (first fit) and returns its start; free() gives a piece back and
// merges it with its free neighbours. Invariants: every piece handed out lies inside the range
// and overlaps no other live piece or free run; free bytes + live bytes == size.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include "base/result.h"

namespace dmaheap {

class RegionAllocator {
 public:
  // `base` and `size` are multiples of `granule` (a power of two); the board assembler makes
  // them so.
  RegionAllocator(uint64_t base, uint64_t size, uint64_t granule);

  // `len` bytes rounded up to the granule, at the lowest free address. EINVAL for 0; ENOMEM
  // when no free run holds it (nothing changes).
  Result<uint64_t> allocate(uint64_t len);
  // Gives back a piece allocate() returned (same len). EINVAL, and nothing changes, when the
  // piece is not inside the range or overlaps free space.
  Status free(uint64_t base, uint64_t len);
  // Takes exactly [base, base + len) (a piece an earlier run handed out, docs/service-restart.md):
  // EINVAL outside the range or misaligned, EBUSY unless all of it is free; free() gives it back.
  Status claim(uint64_t base, uint64_t len);

  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }
  uint64_t freeBytes() const;
  uint64_t largestFreeRun() const;

 private:
  uint64_t roundUp(uint64_t len) const { return (len + granule_ - 1) & ~(granule_ - 1); }
  const uint64_t base_;
  const uint64_t size_;
  const uint64_t granule_;
  mutable std::mutex mu_;
  std::map<uint64_t, uint64_t> free_;  // start -> length of each free run
  uint64_t free_bytes_ = 0;
};

}  // namespace dmaheap
