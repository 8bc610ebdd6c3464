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

namespace dmaheap {
namespace {

// Reusable CMA: movable pages borrow free CMA pageblocks and are migrated out by cmaAlloc.
class ReusableCma : public ::testing::Test {
 protected:
  void SetUp() override {
    MemoryLayout l;
    l.ram = {{kRamBase, 16 * kMiB}};
    l.cma_areas = {{"cma", {kRamBase + 8 * kMiB, 8 * kMiB}}};
    m_ = MemoryModel::create(Kernel{}, l).value();
  }
  bool inCma(MovablePageId id) {
    const uint64_t addr = m_->movablePagePfn(id).value << 12;
    return addr >= kRamBase + 8 * kMiB && addr < kRamBase + 16 * kMiB;
  }
  std::unique_ptr<MemoryModel> m_;
};

TEST_F(ReusableCma, MovablePagesPreferCmaWhileItHoldsMostFreeMemory) {
  // Free: 8 MiB normal + 8 MiB CMA: CMA is not more than half, so normal pages first.
  auto first = m_->allocMovablePage(false).value();
  EXPECT_FALSE(inCma(first));
  // Now CMA holds more than half of the free pages: the next one comes from CMA.
  auto second = m_->allocMovablePage(false).value();
  EXPECT_TRUE(inCma(second));
  EXPECT_EQ(m_->cmaAreaBorrowedPages(0), 1u);
  m_->checkInvariants();
}

TEST_F(ReusableCma, MovableSourceChoosesTheKindOfPage) {
  // The rule would take a normal page first (see above); kCma takes a CMA page anyway.
  auto cma = m_->allocMovablePage(false, MovableSource::kCma).value();
  EXPECT_TRUE(inCma(cma));
  EXPECT_EQ(m_->cmaAreaBorrowedPages(0), 1u);
  // Now CMA holds more than half of the free pages and the rule would take CMA; kNotCma does not.
  auto normal = m_->allocMovablePage(false, MovableSource::kNotCma).value();
  EXPECT_FALSE(inCma(normal));
  EXPECT_EQ(m_->cmaAreaBorrowedPages(0), 1u);
  // kNotCma never borrows: 2048 normal pages, the one taken already included, then ENOMEM with
  // the CMA pages still free.
  int n = 1;
  while (auto p = m_->allocMovablePage(false, MovableSource::kNotCma)) {
    EXPECT_FALSE(inCma(*p));
    ++n;
  }
  EXPECT_EQ(n, 2048);
  EXPECT_EQ(m_->cmaAreaBorrowedPages(0), 1u);
  auto none = m_->allocMovablePage(false, MovableSource::kNotCma);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.code(), ENOMEM);
  // kCma takes the rest of the area, 2047 pages, then ENOMEM.
  int c = 1;
  while (auto p = m_->allocMovablePage(false, MovableSource::kCma)) {
    EXPECT_TRUE(inCma(*p));
    ++c;
  }
  EXPECT_EQ(c, 2048);
  EXPECT_EQ(m_->cmaAreaBorrowedPages(0), 2048u);
  m_->checkInvariants();
}

TEST_F(ReusableCma, VmstatThresholdMakesTheRuleTakeRuns) {
  // Exact counters: normal, then CMA, alternating (see above).
  // Counters published only after a drift of more than 10 pages: the rule sees 4096 free of which
  // 2048 CMA (not more than half) until 11 pages have gone, then 4085 / 2048 (more than half) and
  // takes CMA pages until the counts have drifted by 11 again: 11 normal pages, then 11 CMA pages.
  m_->setVmstatThreshold(10);
  std::string kinds;
  for (int i = 0; i < 24; ++i) kinds += inCma(m_->allocMovablePage(false).value()) ? 'C' : 'n';
  EXPECT_EQ(kinds, "nnnnnnnnnnnCCCCCCCCCCCnn");
  EXPECT_EQ(m_->cmaAreaBorrowedPages(0), 11u);
  // Exact counters again: 4072 free, 2037 of them CMA (more than half): CMA, CMA (2036 of 4071),
  // then 2035 of 4070 is not more than half: normal, then CMA.
  m_->setVmstatThreshold(0);
  kinds.clear();
  for (int i = 0; i < 4; ++i) kinds += inCma(m_->allocMovablePage(false).value()) ? 'C' : 'n';
  EXPECT_EQ(kinds, "CCnC");
  m_->checkInvariants();
}

TEST_F(ReusableCma, UnmovableNeverBorrowsCma) {
  int n = 0;
  while (m_->allocPages(0, MigrateType::kUnmovable)) ++n;
  EXPECT_EQ(n, 2048);
  EXPECT_EQ(m_->cmaAreaFreePages(0), 2048u);
}

TEST_F(ReusableCma, CmaAllocMigratesBorrowedPages) {
  std::vector<MovablePageId> pages;
  for (int i = 0; i < 3000; ++i) pages.push_back(m_->allocMovablePage(false).value());
  const uint64_t borrowed = m_->cmaAreaBorrowedPages(0);
  EXPECT_GT(borrowed, 900u);
  // The whole area: every borrowed page must move out; only 4096 + ... pages exist in total.
  for (int i = 0; i < 1000; ++i) m_->freeMovablePage(pages[static_cast<size_t>(i)]);
  pages.erase(pages.begin(), pages.begin() + 1000);
  const uint64_t borrowed_now = m_->cmaAreaBorrowedPages(0);
  CmaAllocStats st;
  auto pfn = m_->cmaAlloc(0, 2048, 8, CmaPlacement::kFirstFit, &st);
  ASSERT_TRUE(pfn.ok());
  EXPECT_EQ(st.pages_migrated, borrowed_now);
  EXPECT_EQ(st.busy_candidates, 0u);
  EXPECT_EQ(m_->cmaAreaBorrowedPages(0), 0u);
  for (auto id : pages) EXPECT_FALSE(inCma(id));
  m_->checkInvariants();
}

TEST_F(ReusableCma, PinnedPageMakesTheCandidateBusyAndTheNextSlotIsTried) {
  // Fill normal memory first so that movable pages land in CMA.
  std::vector<PageBlock> normal;
  while (auto b = m_->allocPages(0, MigrateType::kUnmovable)) normal.push_back(*b);
  // Fill the area with movable pages, pin the one at its first page, free the rest.
  std::vector<MovablePageId> in_cma;
  while (auto p = m_->allocMovablePage(false)) in_cma.push_back(*p);
  ASSERT_EQ(in_cma.size(), 2048u);
  MovablePageId pinned{};
  for (auto id : in_cma) {
    if ((m_->movablePagePfn(id).value << 12) == kRamBase + 8 * kMiB) {
      pinned = id;
    } else {
      m_->freeMovablePage(id);
    }
  }
  m_->setMovablePagePinned(pinned, true);
  EXPECT_EQ(m_->cmaAreaPinnedPages(0), 1u);
  EXPECT_EQ(m_->cmaAreaBorrowedPages(0), 1u);
  CmaAllocStats st;
  auto pfn = m_->cmaAlloc(0, 256, 8, CmaPlacement::kFirstFit, &st);  // 1 MiB, 1 MiB aligned
  ASSERT_TRUE(pfn.ok());
  EXPECT_EQ(pfn->value << 12, kRamBase + 9 * kMiB);  // the next aligned slot
  EXPECT_EQ(st.busy_candidates, 1u);
  // A request that needs the pinned page fails: ENOMEM, the kernel's answer.
  EXPECT_EQ(m_->cmaAlloc(0, 2048, 8).code(), ENOMEM);
  // Unpinned, the page can move, but there is no free page outside the area to move it to
  // except inside the area itself.
  m_->setMovablePagePinned(pinned, false);
  EXPECT_EQ(m_->cmaAreaPinnedPages(0), 0u);
  CmaAllocStats st2;
  auto low = m_->cmaAlloc(0, 256, 8, CmaPlacement::kFirstFit, &st2);
  ASSERT_TRUE(low.ok());
  EXPECT_EQ(low->value << 12, kRamBase + 8 * kMiB);
  EXPECT_EQ(st2.pages_migrated, 1u);
  EXPECT_TRUE(inCma(pinned));  // moved within the area, outside the claimed range
  m_->checkInvariants();
}

TEST_F(ReusableCma, ABusyCandidateStillHasItsOtherPagesMigrated) {
  std::vector<PageBlock> normal;
  while (auto b = m_->allocPages(0, MigrateType::kUnmovable)) normal.push_back(*b);
  // The area full of movable pages; keep the 256 of its first MiB, pin the first of them.
  std::vector<MovablePageId> in_cma, kept;
  while (auto p = m_->allocMovablePage(false)) in_cma.push_back(*p);
  ASSERT_EQ(in_cma.size(), 2048u);
  MovablePageId pinned{};
  for (auto id : in_cma) {
    const uint64_t addr = m_->movablePagePfn(id).value << 12;
    if (addr >= kRamBase + 9 * kMiB) {
      m_->freeMovablePage(id);
    } else if (addr == kRamBase + 8 * kMiB) {
      pinned = id;
    } else {
      kept.push_back(id);
    }
  }
  ASSERT_EQ(kept.size(), 255u);
  m_->setMovablePagePinned(pinned, true);
  // The first candidate, [8 MiB, 9 MiB), is busy: its 255 other pages are migrated anyway (the
  // kernel migrates all it can before it finds the range busy), to the free pages just above it;
  // the next slot, [9 MiB, 10 MiB), then migrates them once more (into the range the first
  // candidate gave back) and is taken: 2 x 255 copies.
  CmaAllocStats st;
  auto pfn = m_->cmaAlloc(0, 256, 8, CmaPlacement::kFirstFit, &st);
  ASSERT_TRUE(pfn.ok());
  EXPECT_EQ(pfn->value << 12, kRamBase + 9 * kMiB);
  EXPECT_EQ(st.busy_candidates, 1u);
  EXPECT_EQ(st.pages_migrated, 510u);
  EXPECT_EQ(m_->movablePagePfn(pinned).value << 12, kRamBase + 8 * kMiB);
  for (auto id : kept) {
    const uint64_t addr = m_->movablePagePfn(id).value << 12;
    EXPECT_FALSE(addr >= kRamBase + 9 * kMiB && addr < kRamBase + 10 * kMiB) << addr;
    EXPECT_TRUE(inCma(id));
  }
  EXPECT_EQ(m_->cmaAreaBorrowedPages(0), 256u);
  EXPECT_EQ(m_->cmaAreaFreePages(0), 2048u - 256u);
  m_->checkInvariants();
}

TEST_F(ReusableCma, MigrationWithNowhereToGoIsEnomem) {
  std::vector<MovablePageId> pages;
  while (auto p = m_->allocMovablePage(false)) pages.push_back(*p);
  EXPECT_EQ(pages.size(), 4096u);
  const std::string before = m_->snapshot();
  CmaAllocStats st;
  EXPECT_EQ(m_->cmaAlloc(0, 1, 0, CmaPlacement::kFirstFit, &st).code(), ENOMEM);
  EXPECT_EQ(m_->snapshot(), before);
  m_->checkInvariants();
}

TEST_F(ReusableCma, BestFitKeepsLargeRunsWhole) {
  // Bitmap: [1 MiB used][1 MiB free][1 MiB used][5 MiB free]. A 1 MiB request: first fit takes
  // the small hole's neighbour... both policies place it, but best fit picks the 1 MiB hole.
  auto a = m_->cmaAlloc(0, 256, 8).value();
  auto b = m_->cmaAlloc(0, 256, 8).value();
  auto c = m_->cmaAlloc(0, 256, 8).value();
  ASSERT_TRUE(m_->cmaRelease(0, b, 256));
  (void)a;
  (void)c;
  auto bf = m_->cmaAlloc(0, 128, 7, CmaPlacement::kBestFit).value();
  EXPECT_EQ(bf.value << 12, kRamBase + 9 * kMiB);
  auto bf2 = m_->cmaAlloc(0, 256, 8, CmaPlacement::kBestFit).value();
  EXPECT_EQ(bf2.value << 12, kRamBase + 11 * kMiB);  // the 128-page remnant is too small
  m_->checkInvariants();
}

}  // namespace
}  // namespace dmaheap

namespace dmaheap {
namespace {

TEST(CmaPlacementPolicy, SegregatedPutsSmallRequestsAtTheTop) {
  MemoryLayout l;
  l.ram = {{kRamBase, 64 * kMiB}};
  l.cma_areas = {{"cma", {kRamBase + 32 * kMiB, 32 * kMiB}}};
  auto m = MemoryModel::create(Kernel{}, l).value();
  auto small = m->cmaAlloc(0, 256, 8, CmaPlacement::kSegregated).value();  // 1 MiB: top-down
  EXPECT_EQ(small.value << 12, kRamBase + 63 * kMiB);
  auto small2 = m->cmaAlloc(0, 16, 4, CmaPlacement::kSegregated).value();  // 64 KiB below it
  EXPECT_EQ(small2.value << 12, kRamBase + 63 * kMiB - 64 * kKiB);
  auto large = m->cmaAlloc(0, 2048, 8, CmaPlacement::kSegregated).value();  // 8 MiB: bottom-up
  EXPECT_EQ(large.value << 12, kRamBase + 32 * kMiB);
  EXPECT_STREQ(cmaPlacementName(CmaPlacement::kSegregated), "segregated");
  m->checkInvariants();
}

}  // namespace
}  // namespace dmaheap
