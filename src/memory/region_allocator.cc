// First-fit allocation over one carve-out range.
#include "memory/region_allocator.h"

#include <algorithm>

namespace dmaheap {

RegionAllocator::RegionAllocator(uint64_t base, uint64_t size, uint64_t granule)
    : base_(base), size_(size), granule_(granule) {
  if (size > 0) free_.emplace(base, size);
  free_bytes_ = size;
}

Result<uint64_t> RegionAllocator::allocate(uint64_t len) {
  if (len == 0) return makeError(EINVAL, "length 0");
  const uint64_t want = roundUp(len);
  if (want < len) return makeError(ENOMEM, "length too large");
  std::lock_guard lock(mu_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < want) continue;
    const uint64_t start = it->first;
    const uint64_t rest = it->second - want;
    free_.erase(it);
    if (rest > 0) free_.emplace(start + want, rest);
    free_bytes_ -= want;
    return start;
  }
  return makeError(ENOMEM, "no free run of " + std::to_string(want) + " bytes in the carve-out (" +
                               std::to_string(free_bytes_) + " bytes free)");
}

Status RegionAllocator::free(uint64_t base, uint64_t len) {
  const uint64_t n = roundUp(len);
  if (n == 0 || base < base_ || base - base_ > size_ || n > size_ - (base - base_)) {
    return makeError(EINVAL, "the piece is not inside the carve-out");
  }
  std::lock_guard lock(mu_);
  auto next = free_.lower_bound(base);
  if (next != free_.end() && next->first < base + n) return makeError(EINVAL, "the piece overlaps free space");
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second > base) return makeError(EINVAL, "the piece overlaps free space");
  }
  uint64_t start = base;
  uint64_t length = n;
  if (next != free_.end() && next->first == base + n) {
    length += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == base) {
      start = prev->first;
      length += prev->second;
      free_.erase(prev);
    }
  }
  free_.emplace(start, length);
  free_bytes_ += n;
  return {};
}

Status RegionAllocator::claim(uint64_t base, uint64_t len) {
  const uint64_t n = roundUp(len);
  if (n == 0 || n != len || (base & (granule_ - 1)) != 0 || base < base_ || base - base_ > size_ ||
      n > size_ - (base - base_)) {
    return makeError(EINVAL, "the piece is not a granule-aligned part of the carve-out");
  }
  std::lock_guard lock(mu_);
  auto it = free_.upper_bound(base);
  if (it == free_.begin()) return makeError(EBUSY, "the piece is not free");
  --it;
  const uint64_t start = it->first;
  const uint64_t length = it->second;
  if (base + n > start + length) return makeError(EBUSY, "the piece is not free");
  free_.erase(it);
  if (base > start) free_.emplace(start, base - start);
  if (start + length > base + n) free_.emplace(base + n, start + length - (base + n));
  free_bytes_ -= n;
  return {};
}

uint64_t RegionAllocator::freeBytes() const {
  std::lock_guard lock(mu_);
  return free_bytes_;
}

uint64_t RegionAllocator::largestFreeRun() const {
  std::lock_guard lock(mu_);
  uint64_t best = 0;
  for (const auto& [start, len] : free_) best = std::max(best, len);
  return best;
}

}  // namespace dmaheap
