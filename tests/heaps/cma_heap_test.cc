#include "heaps/cma_heap.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

constexpr uint64_t kBase = 0x40000000;
constexpr uint64_t kArea = kBase + 2 * kMiB;  // 2 MiB aligned only

std::shared_ptr<MemoryModel> model() {
  MemoryLayout l;
  l.ram = {{kBase, 128 * kMiB}};
  l.cma_areas = {{"reserved", {kArea, 64 * kMiB}}};
  return std::shared_ptr<MemoryModel>(MemoryModel::create(Kernel{}, l).value().release());
}

TEST(CmaHeap, GetOrder) {
  EXPECT_EQ(CmaHeap::getOrder(4096, 12), 0u);
  EXPECT_EQ(CmaHeap::getOrder(8192, 12), 1u);
  EXPECT_EQ(CmaHeap::getOrder(12288, 12), 2u);
  EXPECT_EQ(CmaHeap::getOrder(3 * kMiB, 12), 10u);
}

TEST(CmaHeap, AlignmentIsCappedAtCmaAlignment) {
  CmaHeap heap(model(), 0, 8);
  auto small = heap.allocate(12288);  // order 2: 16 KiB alignment
  ASSERT_TRUE(small.ok());
  EXPECT_EQ((*small)->segments()[0], (Segment{kArea, 12288}));
  auto big = heap.allocate(3 * kMiB);  // order 10 capped at 8: 1 MiB alignment
  ASSERT_TRUE(big.ok());
  ASSERT_EQ((*big)->segments().size(), 1u);
  EXPECT_EQ((*big)->segments()[0].base, kArea + kMiB);
  EXPECT_EQ((*big)->segments()[0].base % kMiB, 0u);
  auto mid = heap.allocate(64 * kKiB);  // next 64 KiB aligned hole after the first buffer
  EXPECT_EQ((*mid)->segments()[0].base, kArea + 64 * kKiB);
}

TEST(CmaHeap, ExhaustionFreeSuccess) {
  auto m = model();
  CmaHeap heap(m, 0, 8);
  const std::string before = m->snapshot();
  EXPECT_EQ(heap.allocate(65 * kMiB).code(), ENOMEM);
  auto whole = heap.allocate(64 * kMiB);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(heap.usage().free, 0u);
  auto fail = heap.allocate(4096);
  EXPECT_EQ(fail.code(), ENOMEM);
  EXPECT_EQ(fail.error().message(), "cma: __cma_alloc: reserved: alloc failed, req-size: 1 pages, ret: -12");
  whole.value().reset();
  EXPECT_EQ(m->snapshot(), before);
  EXPECT_TRUE(heap.allocate(4096).ok());
}

TEST(CmaHeap, FragmentationBlocksLargeBuffers) {
  auto m = model();
  CmaHeap heap(m, 0, 8);
  std::vector<std::unique_ptr<PhysicalAllocation>> bufs;
  for (int i = 0; i < 64; ++i) bufs.push_back(std::move(heap.allocate(kMiB).value()));
  for (size_t i = 0; i < bufs.size(); i += 2) bufs[i].reset();
  EXPECT_EQ(heap.usage().free, 32 * kMiB);
  EXPECT_EQ(heap.usage().largest_free_block, kMiB);
  EXPECT_EQ(heap.allocate(2 * kMiB).code(), ENOMEM);
  EXPECT_TRUE(heap.allocate(kMiB).ok());
}

}  // namespace
}  // namespace dmaheap
