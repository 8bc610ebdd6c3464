// CMA bitmap searches.
#include "memory/cma_bitmap.h"

#include <algorithm>

#include "base/types.h"

namespace dmaheap {

CmaBitmap::CmaBitmap(uint64_t base_pfn, uint64_t count)
    : base_pfn_(base_pfn), count_(count), words_(count / 64 + 1, 0) {
  // Bits past the end of the area read as allocated, so no search runs past it.
  for (uint64_t i = count; i < words_.size() * 64; ++i) words_[i >> 6] |= uint64_t{1} << (i & 63);
  while (leaves_ < words_.size()) leaves_ *= 2;
  tree_.assign(2 * leaves_, Node{0, 0, 0});
  updateWords(0, words_.size() - 1);
}

namespace {

uint32_t zeroRunLength(uint64_t w) {
  // Longest run of zero bits, one run at a time.
  uint64_t z = ~w;
  uint32_t best = 0;
  while (z) {
    const unsigned start = static_cast<unsigned>(__builtin_ctzll(z));
    const uint64_t shifted = z >> start;
    const unsigned len = ~shifted == 0 ? 64 - start : static_cast<unsigned>(__builtin_ctzll(~shifted));
    best = std::max(best, static_cast<uint32_t>(len));
    if (start + len >= 64) break;
    z &= ~(((uint64_t{1} << len) - 1) << start);
  }
  return best;
}

}  // namespace

void CmaBitmap::updateWords(uint64_t first_word, uint64_t last_word) {
  for (uint64_t w = first_word; w <= last_word; ++w) {
    const uint64_t bits = words_[w];
    Node& leaf = tree_[leaves_ + w];
    leaf.pref = bits == 0 ? 64 : static_cast<uint32_t>(__builtin_ctzll(bits));
    leaf.suf = bits == 0 ? 64 : static_cast<uint32_t>(__builtin_clzll(bits));
    leaf.best = zeroRunLength(bits);
  }
  // Parents of the touched leaves, level by level.
  size_t lo = (leaves_ + first_word) / 2;
  size_t hi = (leaves_ + last_word) / 2;
  uint64_t child_len = 64;
  while (lo >= 1) {
    for (size_t i = lo; i <= hi; ++i) {
      const Node& l = tree_[2 * i];
      const Node& r = tree_[2 * i + 1];
      Node& n = tree_[i];
      n.pref = l.pref == child_len ? static_cast<uint32_t>(child_len + r.pref) : l.pref;
      n.suf = r.suf == child_len ? static_cast<uint32_t>(child_len + l.suf) : r.suf;
      n.best = std::max({l.best, r.best, l.suf + r.pref});
    }
    if (lo == 1) break;
    lo /= 2;
    hi /= 2;
    child_len *= 2;
  }
}

uint64_t CmaBitmap::metadataBytes() const { return words_.capacity() * 8 + tree_.capacity() * sizeof(Node); }

bool CmaBitmap::visit(size_t node, uint64_t lo, uint64_t hi, uint64_t n, uint64_t pos, uint64_t* run,
                      uint64_t* out) const {
  if (hi <= pos) return false;
  const Node& nd = tree_[node];
  if (lo >= pos) {
    if (*run + nd.pref >= n) {
      *out = lo - *run;
      return true;
    }
    if (nd.best < n) {
      *run = nd.pref == hi - lo ? *run + (hi - lo) : nd.suf;
      return false;
    }
  }
  if (node >= leaves_) {
    // A leaf: its runs of zero bits from max(lo, pos), one run at a time.
    const unsigned first = static_cast<unsigned>(std::max(lo, pos) - lo);
    uint64_t z = ~words_[node - leaves_] & (~uint64_t{0} << first);
    while (z) {
      const unsigned start = static_cast<unsigned>(__builtin_ctzll(z));
      const uint64_t shifted = z >> start;
      const unsigned len = ~shifted == 0 ? 64 - start : static_cast<unsigned>(__builtin_ctzll(~shifted));
      const uint64_t carried = start == first ? *run : 0;  // a run from the previous leaf continues
      if (carried + len >= n) {
        *out = lo + start - carried;
        return true;
      }
      if (start + len >= 64) {
        *run = carried + len;
        return false;
      }
      z &= ~(((uint64_t{1} << len) - 1) << start);
    }
    *run = 0;
    return false;
  }
  const uint64_t mid = lo + (hi - lo) / 2;
  return visit(2 * node, lo, mid, n, pos, run, out) || visit(2 * node + 1, mid, hi, n, pos, run, out);
}

uint64_t CmaBitmap::firstFree(uint64_t n, uint64_t pos) const {
  if (n == 0 || pos >= count_) return count_;
  uint64_t run = 0;
  uint64_t out = count_;
  if (!visit(1, 0, leaves_ * 64, n, pos, &run, &out)) return count_;
  return out + n <= count_ ? out : count_;
}

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
  if (n == 0) return;
  fill(words_, from, n, true);
  used_ += n;
  updateWords(from >> 6, (from + n - 1) >> 6);
}

void CmaBitmap::clear(uint64_t from, uint64_t n) {
  if (n == 0) return;
  fill(words_, from, n, false);
  used_ -= n;
  updateWords(from >> 6, (from + n - 1) >> 6);
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
    const uint64_t s = firstFree(n, idx);
    if (s >= count_) return count_;
    const uint64_t a = alignedIndex(s, align_order);
    if (a == s) return s;
    if (a >= count_ || n > count_ - a) return count_;
    // The free stretch that starts at s either reaches a + n (then a fits) or ends before it,
    // and then no later aligned index inside it can fit either: go on after its end.
    const uint64_t end = findSet(s, a + n);
    if (end == a + n) return a;
    idx = end + 1;
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
