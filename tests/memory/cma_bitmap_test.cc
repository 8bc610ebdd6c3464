#include "memory/cma_bitmap.h"

#include <gtest/gtest.h>

#include <random>

namespace dmaheap {
namespace {

// The kernel's first fit, written plainly: the leftmost absolutely aligned index >= from with
// n free bits.
uint64_t plainNextFit(const std::vector<bool>& bits, uint64_t base_pfn, uint64_t from, uint64_t n, unsigned align) {
  const uint64_t step = uint64_t{1} << align;
  for (uint64_t i = from; i + n <= bits.size(); ++i) {
    if ((base_pfn + i) % step != 0) continue;
    bool ok = true;
    for (uint64_t j = 0; j < n && ok; ++j) ok = !bits[i + j];
    if (ok) return i;
  }
  return bits.size();
}

TEST(CmaBitmap, SegmentTreeSearchAgreesWithThePlainAlgorithm) {
  std::mt19937_64 rng(12345);
  for (uint64_t size : {1ull, 63ull, 64ull, 65ull, 700ull, 4096ull, 5000ull}) {
    for (uint64_t base : {0ull, 3ull, 512ull, 262144ull + 17}) {
      CmaBitmap bm(base, size);
      std::vector<bool> plain(size, false);
      for (int round = 0; round < 400; ++round) {
        // Random allocate or free of a random range.
        const uint64_t n = 1 + rng() % std::min<uint64_t>(size, 1 + (rng() % 3 == 0 ? 300 : 20));
        const unsigned align = static_cast<unsigned>(rng() % 9);
        const uint64_t from = rng() % size;
        const uint64_t got = bm.nextFit(from, n, align);
        ASSERT_EQ(got, plainNextFit(plain, base, from, n, align))
            << "size " << size << " base " << base << " n " << n << " align " << align << " from " << from;
        if (got < size && rng() % 2) {
          bm.set(got, n);
          for (uint64_t j = 0; j < n; ++j) plain[got + j] = true;
        } else {
          // Free a random allocated stretch.
          const uint64_t at = rng() % size;
          uint64_t end = at;
          while (end < size && plain[end] && end - at < 50) ++end;
          if (end > at) {
            bm.clear(at, end - at);
            for (uint64_t j = at; j < end; ++j) plain[j] = false;
          }
        }
        uint64_t used = 0;
        for (bool b : plain) used += b;
        ASSERT_EQ(bm.used(), used);
      }
    }
  }
}

TEST(CmaBitmap, RunsAndLargestRun) {
  CmaBitmap bm(0, 200);
  bm.set(10, 5);
  bm.set(100, 50);
  auto runs = bm.freeRuns();
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[1].start, 15u);
  EXPECT_EQ(runs[1].length, 85u);
  EXPECT_EQ(bm.largestFreeRun(), 85u);
  EXPECT_EQ(bm.nextFit(0, 86, 0), 200u);
  EXPECT_EQ(bm.nextFit(0, 85, 0), 15u);
  EXPECT_EQ(bm.nextFit(0, 50, 5), 32u);
}

}  // namespace
}  // namespace dmaheap
