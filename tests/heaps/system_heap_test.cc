#include "heaps/system_heap.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

constexpr uint64_t kBase = 0x40000000;

std::shared_ptr<MemoryModel> model(uint64_t size) {
  MemoryLayout l;
  l.ram = {{kBase, size}};
  return std::shared_ptr<MemoryModel>(MemoryModel::create(Kernel{}, l).value().release());
}

std::vector<uint64_t> sizes(const PhysicalAllocation& a) {
  std::vector<uint64_t> out;
  for (const auto& s : a.segments()) out.push_back(s.size);
  return out;
}

TEST(SystemHeap, GreedyOrdersEightFourZero) {
  SystemHeap heap(model(64 * kMiB));
  auto a = heap.allocate(3215360);  // 3 MiB + 68 KiB
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(sizes(**a), (std::vector<uint64_t>{kMiB, kMiB, kMiB, 64 * kKiB, 4 * kKiB}));
  for (const auto& s : (*a)->segments()) EXPECT_EQ(s.base % s.size, 0u) << "chunks are naturally aligned";
}

TEST(SystemHeap, ChunkSizesNeverGrowAfterAFailure) {
  auto m = model(4 * kMiB);
  // Take every order-8 block but leave scattered order-4 space: 4 MiB = 4 x 1 MiB; hold 3 and
  // fragment the last into 64 KiB pieces with holes.
  std::vector<PageBlock> held;
  for (int i = 0; i < 3; ++i) held.push_back(m->allocPages(8, MigrateType::kUnmovable).value());
  std::vector<PageBlock> small;
  for (int i = 0; i < 16; ++i) small.push_back(m->allocPages(4, MigrateType::kUnmovable).value());
  for (int i = 0; i < 16; i += 2) m->freePages(small[static_cast<size_t>(i)]);  // 8 x 64 KiB free, no 1 MiB
  SystemHeap heap(m);
  auto a = heap.allocate(2 * 64 * kKiB + 4096);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(sizes(**a), (std::vector<uint64_t>{64 * kKiB, 64 * kKiB, 4 * kKiB}));
}

TEST(SystemHeap, EnomemGivesEverythingBack) {
  auto m = model(8 * kMiB);
  SystemHeap heap(m);
  const std::string before = m->freeBlockSnapshot();
  auto a = heap.allocate(8 * kMiB + 4096);
  EXPECT_EQ(a.code(), ENOMEM);
  // Every page came back; pageblocks stolen for unmovable use keep their new type, as in the kernel.
  EXPECT_EQ(m->freeBlockSnapshot(), before);
  auto all = heap.allocate(8 * kMiB);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)->segments().size(), 8u);
  EXPECT_EQ(heap.usage().free, 0u);
  EXPECT_EQ(heap.allocate(4096).code(), ENOMEM);
  all.value().reset();
  EXPECT_EQ(heap.usage().free, 8 * kMiB);
  EXPECT_EQ(m->freeBlockSnapshot(), MemoryModel::create(Kernel{}, MemoryLayout{{{kBase, 8 * kMiB}}, {}, {}})
                                        .value()
                                        ->freeBlockSnapshot());
}

TEST(SystemHeap, UsageExcludesCma) {
  MemoryLayout l;
  l.ram = {{kBase, 64 * kMiB}};
  l.cma_areas = {{"reserved", {kBase + 32 * kMiB, 16 * kMiB}}};
  auto m = std::shared_ptr<MemoryModel>(MemoryModel::create(Kernel{}, l).value().release());
  SystemHeap heap(m);
  EXPECT_EQ(heap.usage().size, 48 * kMiB);
  EXPECT_EQ(heap.usage().free, 48 * kMiB);
  EXPECT_EQ(heap.usage().largest_free_block, 4 * kMiB);
  EXPECT_EQ(heap.descriptor().kind, "system");
}

}  // namespace
}  // namespace dmaheap

namespace dmaheap {
namespace {

// 1 GiB below 4 GiB and 1 GiB above it.
std::shared_ptr<MemoryModel> acrossFourGiB() {
  MemoryLayout l;
  l.ram = {{0xC0000000, 1024 * kMiB}, {0x100000000, 1024 * kMiB}};
  return std::shared_ptr<MemoryModel>(MemoryModel::create(Kernel{}, l).value().release());
}

TEST(SystemHeapVariants, Dma32TakesPagesBelow4GiBOnly) {
  auto m = acrossFourGiB();
  SystemHeap dma32(m, {true, AddressLimit::k32Bit});
  SystemHeap plain(m);
  auto a = dma32.allocate(64 * kMiB);
  ASSERT_TRUE(a.ok());
  for (const auto& s : (*a)->segments()) EXPECT_LE(s.base + s.size, uint64_t{1} << 32);
  auto b = plain.allocate(64 * kMiB);
  ASSERT_TRUE(b.ok());
  for (const auto& s : (*b)->segments()) EXPECT_GE(s.base, uint64_t{1} << 32) << "Normal zone first";
  EXPECT_EQ(dma32.usage().size, 1024 * kMiB);
  EXPECT_EQ(dma32.usage().free, 1024 * kMiB - 64 * kMiB);
  EXPECT_EQ(plain.usage().size, 2048 * kMiB);
}

TEST(SystemHeapVariants, Dma32IsEnomemWhenTheZoneIsFullAndRecovers) {
  auto m = acrossFourGiB();
  SystemHeap dma32(m, {true, AddressLimit::k32Bit});
  auto all = dma32.allocate(1024 * kMiB);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(dma32.allocate(4096).code(), ENOMEM) << "the Normal zone has room, but not below 4 GiB";
  EXPECT_TRUE(SystemHeap(m).allocate(4096).ok());
  all.value().reset();
  EXPECT_TRUE(dma32.allocate(1024 * kMiB).ok());
}

TEST(SystemHeapVariants, DescriptorsAndNames) {
  EXPECT_EQ(SystemHeap::defaultName({}), "system");
  EXPECT_EQ(SystemHeap::defaultName({false, AddressLimit::kNone}), "system-uncached");
  EXPECT_EQ(SystemHeap::defaultName({true, AddressLimit::k32Bit}), "system-dma32");
  EXPECT_EQ(SystemHeap::defaultName({false, AddressLimit::k32Bit}), "system-uncached-dma32");
  const HeapDescriptor d = SystemHeap::describe({false, AddressLimit::k32Bit});
  EXPECT_EQ(d.kind, "system");
  EXPECT_FALSE(d.cached);
  EXPECT_FALSE(d.contiguous);
  EXPECT_TRUE(d.dma32());
  EXPECT_EQ(d.source, MemorySource::kSystemPages);
  EXPECT_EQ(d.region, "");
}

}  // namespace
}  // namespace dmaheap
