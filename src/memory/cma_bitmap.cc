// CMA bitmap searches.
#include "memory/cma_bitmap.h"

#include <algorithm>

#include "base/types.h"

namespace dmaheap {

CmaBitmap::CmaBitmap(uint64_t base_pfn, uint64_t count)
    : base_pfn_(base_pfn), count_(count), words_(count / 64 + 1, 0) {}

namespace {
void fill(std::vector<uint64_t>& w, uint64_t from, uint64_t n, bool v) {
  const uint64_t end = from + n;
  uint64_t i = from;
  while (i < end) {
    if ((i & 63) == 0 && i + 64 <= end) {
      w[i >> 6] = v ? ~uint64_t{0} : 0;
      i += 64;
      continue;
    }
    const uint64_t bit = uint64_t{1} << (i & 63);
    if (v) w[i >> 6] |= bit;
    else w[i >> 6] &= ~bit;
    ++i;
  }
}
}  // namespace

void CmaBitmap::set(uint64_t from, uint64_t n) {
  fill(words_, from, n, true);
  used_ += n;
}

void CmaBitmap::clear(uint64_t from, uint64_t n) {
  fill(words_, from, n, false);
  used_ -= n;
}

uint64_t CmaBitmap::findSet(uint64_t from, uint64_t to) const {
  while (from < to) {
    const uint64_t word = words_[from >> 6] >> (from & 63);
    if (word != 0) return std::min(to, from + static_cast<uint64_t>(__builtin_ctzll(word)));
    from = (from | 63) + 1;
  }
  return to;
}

uint64_t CmaBitmap::findClear(uint64_t from, uint64_t to) const {
  while (from < to) {
    const uint64_t word = ~words_[from >> 6] >> (from & 63);
    if (word != 0) return std::min(to, from + static_cast<uint64_t>(__builtin_ctzll(word)));
    from = (from | 63) + 1;
  }
  return to;
}

uint64_t CmaBitmap::alignedIndex(uint64_t i, unsigned align_order) const {
  const uint64_t step = uint64_t{1} << align_order;
  const uint64_t offset = alignUp(base_pfn_, step) - base_pfn_;
  return i < offset ? offset : offset + alignUp(i - offset, step);
}

uint64_t CmaBitmap::nextFit(uint64_t from, uint64_t n, unsigned align_order) const {
  uint64_t idx = from;
  for (;;) {
    idx = alignedIndex(findClear(idx, count_), align_order);
    if (idx >= count_ || n > count_ - idx) return count_;
    const uint64_t busy = findSet(idx, idx + n);
    if (busy == idx + n) return idx;
    idx = busy + 1;
  }
}

std::vector<CmaBitmap::Run> CmaBitmap::freeRuns() const {
  std::vector<Run> runs;
  for (uint64_t i = 0; i < count_;) {
    const uint64_t st = findClear(i, count_);
    if (st >= count_) break;
    const uint64_t en = findSet(st, count_);
    runs.push_back({st, en - st});
    i = en;
  }
  return runs;
}

uint64_t CmaBitmap::largestFreeRun() const {
  uint64_t best = 0;
  for (const Run& r : freeRuns()) best = std::max(best, r.length);
  return best;
}

}  // namespace dmaheap
