#include "memory/memory_model.h"

#include <gtest/gtest.h>

#include <vector>

namespace dmaheap {
namespace {

constexpr uint64_t kRamBase = 0x40000000;

std::unique_ptr<MemoryModel> makeModel(uint64_t ram_size, std::vector<MemoryLayout::Area> cma = {},
                                       std::vector<PhysRange> reserved = {}, Kernel kernel = {}) {
  MemoryLayout l;
  l.ram = {{kRamBase, ram_size}};
  l.cma_areas = std::move(cma);
  l.reserved = std::move(reserved);
  auto m = MemoryModel::create(kernel, l);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message());
  return std::move(m.value());
}

TEST(MemoryModel, FreshBoardIsAllFreeInMaxOrderBlocks) {
  auto m = makeModel(64 * kMiB);
  const FreeStats s = m->stats();
  EXPECT_EQ(s.total_pages, 16384u);
  EXPECT_EQ(s.free_pages, 16384u);
  EXPECT_EQ(s.largest_free_block_pages, 1024u);
  m->checkInvariants();
}

TEST(MemoryModel, BuddySplitsLowHalfFirstAndMergesBack) {
  auto m = makeModel(4 * kMiB);
  const std::string start = m->freeBlockSnapshot();
  auto a = m->allocPages(0, MigrateType::kUnmovable);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->pfn.value, kRamBase >> 12);  // the low page of the only block
  auto b = m->allocPages(0, MigrateType::kUnmovable);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->pfn.value, (kRamBase >> 12) + 1);  // its buddy, left on the order-0 list
  EXPECT_EQ(m->stats().free_pages, 1022u);
  m->freePages(*a);
  m->freePages(*b);
  EXPECT_EQ(m->freeBlockSnapshot(), start);
  m->checkInvariants();
}

TEST(MemoryModel, ExhaustionThenRecovery) {
  auto m = makeModel(8 * kMiB);
  std::vector<PageBlock> blocks;
  for (;;) {
    auto b = m->allocPages(4, MigrateType::kUnmovable);
    if (!b) {
      EXPECT_EQ(b.code(), ENOMEM);
      break;
    }
    blocks.push_back(*b);
  }
  EXPECT_EQ(blocks.size(), 128u);
  EXPECT_EQ(m->stats().free_pages, 0u);
  m->freePages(blocks.back());
  blocks.pop_back();
  EXPECT_TRUE(m->allocPages(4, MigrateType::kUnmovable).ok());
  EXPECT_EQ(m->allocPages(0, MigrateType::kMovable).code(), ENOMEM);
}

TEST(MemoryModel, ReservedRangesAreNeverHandedOut) {
  auto m = makeModel(8 * kMiB, {}, {{kRamBase + 4 * kMiB, 1 * kMiB}});
  EXPECT_EQ(m->stats().total_pages, 2048u - 256u);
  std::vector<PageBlock> blocks;
  while (auto b = m->allocPages(0, MigrateType::kUnmovable)) {
    const uint64_t addr = b->pfn.value << 12;
    EXPECT_FALSE(addr >= kRamBase + 4 * kMiB && addr < kRamBase + 5 * kMiB);
    blocks.push_back(*b);
  }
  EXPECT_EQ(blocks.size(), 2048u - 256u);
}

TEST(MemoryModel, CmaPagesAreNotUsedForUnmovableRequests) {
  auto m = makeModel(8 * kMiB, {{"cma", {kRamBase + 4 * kMiB, 4 * kMiB}}});
  EXPECT_EQ(m->pageblockType(Pfn{(kRamBase + 4 * kMiB) >> 12}), MigrateType::kCma);
  int n = 0;
  while (m->allocPages(0, MigrateType::kUnmovable)) ++n;
  EXPECT_EQ(n, 1024);
  EXPECT_EQ(m->stats().free_cma_pages, 1024u);
  m->checkInvariants();
}

TEST(MemoryModel, ZonesSplitAtFourGiB) {
  MemoryLayout l;
  l.ram = {{0xF0000000, 512 * kMiB}};
  auto m = MemoryModel::create(Kernel{}, l).value();
  EXPECT_EQ(m->zoneStats(Zone::kDma32).total_pages, 65536u);
  EXPECT_EQ(m->zoneStats(Zone::kNormal).total_pages, 65536u);
  // Normal is tried first, as the zonelist orders zones.
  auto b = m->allocPages(0, MigrateType::kUnmovable);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(m->zoneOf(b->pfn), Zone::kNormal);
  m->checkInvariants();
}

TEST(MemoryModel, CmaAllocIsFirstFitAlignedInAbsolutePageFrames) {
  // An area that starts 2 MiB past a 4 MiB boundary: 4 MiB alignment is absolute, not relative.
  auto m = makeModel(64 * kMiB, {{"area", {kRamBase + 2 * kMiB, 16 * kMiB}}});
  auto a = m->cmaAlloc(0, 256, 10);  // 1 MiB at 4 MiB alignment
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value << 12, kRamBase + 4 * kMiB);
  auto b = m->cmaAlloc(0, 256, 8);  // 1 MiB at 1 MiB alignment: first fit below the first
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->value << 12, kRamBase + 2 * kMiB);
  auto c = m->cmaAlloc(0, 256, 8);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->value << 12, kRamBase + 3 * kMiB);
  EXPECT_EQ(m->cmaAreaFreePages(0), 4096u - 768u);
  m->checkInvariants();
  EXPECT_EQ(m->cmaAlloc(0, 0, 0).code(), EINVAL);
  EXPECT_EQ(m->cmaAlloc(0, 4097, 0).code(), ENOMEM);
}

TEST(MemoryModel, CmaFragmentationFailsThenRecovers) {
  auto m = makeModel(64 * kMiB, {{"area", {kRamBase, 8 * kMiB}}});
  std::vector<Pfn> one_mib;
  for (int i = 0; i < 8; ++i) one_mib.push_back(m->cmaAlloc(0, 256, 8).value());
  // Free every other MiB: 4 MiB free but no 2 MiB run.
  for (int i = 0; i < 8; i += 2) ASSERT_TRUE(m->cmaRelease(0, one_mib[i], 256));
  EXPECT_EQ(m->cmaAreaFreePages(0), 1024u);
  EXPECT_EQ(m->cmaAreaLargestFreeRun(0), 256u);
  EXPECT_EQ(m->cmaAlloc(0, 512, 9).code(), ENOMEM);
  ASSERT_TRUE(m->cmaRelease(0, one_mib[1], 256));
  auto big = m->cmaAlloc(0, 512, 9);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->value << 12, kRamBase);
  m->checkInvariants();
}

TEST(MemoryModel, CmaReleaseOfUnallocatedRangeIsRefused) {
  auto m = makeModel(16 * kMiB, {{"area", {kRamBase, 4 * kMiB}}});
  const std::string before = m->snapshot();
  EXPECT_EQ(m->cmaRelease(0, Pfn{kRamBase >> 12}, 16).code(), EINVAL);
  EXPECT_EQ(m->cmaRelease(0, Pfn{(kRamBase >> 12) + 2048}, 16).code(), EINVAL);
  EXPECT_EQ(m->snapshot(), before);
}

TEST(MemoryModel, RejectsInconsistentLayouts) {
  Kernel k;
  MemoryLayout l;
  EXPECT_EQ(MemoryModel::create(k, l).code(), EINVAL);  // no RAM
  l.ram = {{kRamBase, 16 * kMiB}, {kRamBase + 8 * kMiB, 16 * kMiB}};
  EXPECT_EQ(MemoryModel::create(k, l).code(), EINVAL);  // overlap
  l.ram = {{kRamBase + 1, 16 * kMiB}};
  EXPECT_EQ(MemoryModel::create(k, l).code(), EINVAL);  // unaligned
  l.ram = {{kRamBase, 16 * kMiB}};
  l.cma_areas = {{"x", {kRamBase + 1 * kMiB, 4 * kMiB}}};
  EXPECT_EQ(MemoryModel::create(k, l).code(), EINVAL);  // not pageblock aligned
  l.cma_areas = {{"x", {0x10000000, 4 * kMiB}}};
  EXPECT_EQ(MemoryModel::create(k, l).code(), EINVAL);  // outside RAM
  l.ram = {{0, uint64_t{1} << 46}};
  l.cma_areas = {};
  EXPECT_EQ(MemoryModel::create(k, l).code(), EINVAL);  // more than 2^32 pages
}

TEST(MemoryModel, SteadyStateAfterRepeatedCycles) {
  auto m = makeModel(64 * kMiB, {{"area", {kRamBase + 32 * kMiB, 16 * kMiB}}});
  const std::string free_at_start = m->freeBlockSnapshot();
  auto cycle = [&] {
    std::vector<PageBlock> blocks;
    for (unsigned order : {8u, 4u, 0u, 0u, 4u}) blocks.push_back(m->allocPages(order, MigrateType::kUnmovable).value());
    Pfn c = m->cmaAlloc(0, 300, 8).value();
    for (const auto& b : blocks) m->freePages(b);
    ASSERT_TRUE(m->cmaRelease(0, c, 300));
  };
  cycle();
  const std::string after_first = m->snapshot();
  for (int i = 0; i < 1024; ++i) cycle();
  EXPECT_EQ(m->snapshot(), after_first);
  EXPECT_EQ(m->freeBlockSnapshot(), free_at_start);
  m->checkInvariants();
}

TEST(MemoryModel, MetadataStaysSmall) {
  auto m = makeModel(1 * kGiB);
  // 9 bytes per 4 KiB page: 0.22% of modelled RAM.
  EXPECT_LT(m->metadataBytes(), kGiB / 400);
  EXPECT_GT(m->metadataBytes(), 262144u * 9);
}

}  // namespace
}  // namespace dmaheap
