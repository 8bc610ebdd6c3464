// CmaBitmap: the allocation bitmap of one CMA area (one bit per page, order_per_bit 0) and the
// searches cma_alloc makes on it. Alignment is counted in absolute page frames: index i is page
// frame base_pfn + i.
//
// Besides the bits, a segment tree over the 64-bit words keeps, per node, the free run at its
// start, at its end, and the longest inside. A first-fit search then skips every subtree whose
// longest run is too short: O(log n) per decision instead of a scan from the start of the area,
// with exactly the kernel's answers (the leftmost aligned fit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dmaheap {

class CmaBitmap {
 public:
  CmaBitmap(uint64_t base_pfn, uint64_t count);

  uint64_t size() const { return count_; }
  uint64_t used() const { return used_; }
  bool test(uint64_t i) const { return (words_[i >> 6] >> (i & 63)) & 1; }
  // Marks [from, from + n) allocated / free. The caller guarantees the bits had the other value.
  void set(uint64_t from, uint64_t n);
  void clear(uint64_t from, uint64_t n);
  // First set / clear bit in [from, to), or `to`.
  uint64_t findSet(uint64_t from, uint64_t to) const;
  uint64_t findClear(uint64_t from, uint64_t to) const;
  // The first index >= from where `n` clear bits start at a page frame aligned to 2^align_order
  // (bitmap_find_next_zero_area_off with the area's offset), or size() if there is none.
  uint64_t nextFit(uint64_t from, uint64_t n, unsigned align_order) const;
  // The first aligned index at or after i.
  uint64_t alignedIndex(uint64_t i, unsigned align_order) const;

  struct Run {
    uint64_t start;
    uint64_t length;
  };
  std::vector<Run> freeRuns() const;
  uint64_t largestFreeRun() const;
  const std::vector<uint64_t>& words() const { return words_; }
  uint64_t metadataBytes() const;

 private:
  // The leftmost i >= pos with [i, i + n) free, or count_.
  uint64_t firstFree(uint64_t n, uint64_t pos) const;
  bool visit(size_t node, uint64_t lo, uint64_t hi, uint64_t n, uint64_t pos, uint64_t* run, uint64_t* out) const;
  void updateWords(uint64_t first_word, uint64_t last_word);

  uint64_t base_pfn_;
  uint64_t count_;
  uint64_t used_ = 0;
  std::vector<uint64_t> words_;  // 1 = allocated; bits past count_ are set
  size_t leaves_ = 1;            // power of two >= number of words
  struct Node {
    uint32_t pref, suf, best;    // free bits at the start, at the end, longest run
  };
  std::vector<Node> tree_;       // 1-based heap layout, 2 * leaves_ nodes
};

}  // namespace dmaheap
