#include "memory/region_allocator.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

constexpr uint64_t kBase = 0x70000000;
constexpr uint64_t kPage = 4096;

TEST(RegionAllocator, FirstFitInsideTheRangeThenEnomem) {
  RegionAllocator r(kBase, 16 * kPage, kPage);
  EXPECT_EQ(r.allocate(1).value(), kBase);  // rounded up to one page
  EXPECT_EQ(r.allocate(4 * kPage).value(), kBase + kPage);
  EXPECT_EQ(r.allocate(11 * kPage).value(), kBase + 5 * kPage);
  EXPECT_EQ(r.freeBytes(), 0u);
  EXPECT_EQ(r.allocate(kPage).code(), ENOMEM);
  EXPECT_EQ(r.allocate(0).code(), EINVAL);
}

TEST(RegionAllocator, FreeMergesNeighboursAndRecovers) {
  RegionAllocator r(kBase, 8 * kPage, kPage);
  const uint64_t a = r.allocate(2 * kPage).value();
  const uint64_t b = r.allocate(2 * kPage).value();
  const uint64_t c = r.allocate(2 * kPage).value();
  ASSERT_TRUE(r.free(a, 2 * kPage));
  ASSERT_TRUE(r.free(c, 2 * kPage));
  EXPECT_EQ(r.largestFreeRun(), 4 * kPage);  // c merged with the tail
  EXPECT_EQ(r.allocate(5 * kPage).code(), ENOMEM) << "6 pages free but fragmented";
  ASSERT_TRUE(r.free(b, 2 * kPage));
  EXPECT_EQ(r.largestFreeRun(), 8 * kPage);
  EXPECT_EQ(r.allocate(8 * kPage).value(), kBase);
}

TEST(RegionAllocator, RefusesPiecesItDidNotHandOut) {
  RegionAllocator r(kBase, 4 * kPage, kPage);
  const uint64_t a = r.allocate(kPage).value();
  EXPECT_EQ(r.free(kBase - kPage, kPage).code(), EINVAL);
  EXPECT_EQ(r.free(kBase + 3 * kPage, 2 * kPage).code(), EINVAL);
  EXPECT_EQ(r.free(kBase + 2 * kPage, kPage).code(), EINVAL) << "free space";
  ASSERT_TRUE(r.free(a, kPage));
  EXPECT_EQ(r.free(a, kPage).code(), EINVAL) << "double free";
  EXPECT_EQ(r.freeBytes(), 4 * kPage);
}

TEST(RegionAllocator, RepeatedAllocFreeLeavesNothingBehind) {
  RegionAllocator r(kBase, 64 * kPage, kPage);
  for (int round = 0; round < 100; ++round) {
    std::vector<uint64_t> got;
    for (uint64_t n = 1; n <= 10; ++n) got.push_back(r.allocate(n * kPage).value());
    for (size_t i = 0; i < got.size(); i += 2) ASSERT_TRUE(r.free(got[i], (i + 1) * kPage));
    for (size_t i = 1; i < got.size(); i += 2) ASSERT_TRUE(r.free(got[i], (i + 1) * kPage));
    ASSERT_EQ(r.freeBytes(), 64 * kPage);
    ASSERT_EQ(r.largestFreeRun(), 64 * kPage);
  }
}

}  // namespace
}  // namespace dmaheap
