// One suite, every heap: the behaviour the kernel selftest and our users rely on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <set>

#include "heap/registry.h"
#include "heaps/carveout_heap.h"
#include "heaps/cma_heap.h"
#include "heaps/system_heap.h"

namespace dmaheap {
namespace {

constexpr uint64_t kBase = 0x40000000;

class HeapConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    MemoryLayout l;
    l.ram = {{kBase, 256 * kMiB}};
    l.cma_areas = {{"reserved", {kBase + 128 * kMiB, 64 * kMiB}}};
    l.reserved = {{kBase + 64 * kMiB, 48 * kMiB}};  // a no-map carve-out
    memory_ = std::shared_ptr<MemoryModel>(MemoryModel::create(Kernel{}, l).value().release());
    ASSERT_TRUE(registry_.add("system", std::make_shared<SystemHeap>(memory_)));
    ASSERT_TRUE(registry_.add("reserved", std::make_shared<CmaHeap>(memory_, 0, 8)));
    // The vendor heaps of docs/heap-profiles.md.
    ASSERT_TRUE(registry_.add("system-uncached", std::make_shared<SystemHeap>(memory_, SystemHeapOptions{false})));
    ASSERT_TRUE(registry_.add("system-dma32",
                              std::make_shared<SystemHeap>(memory_, SystemHeapOptions{true, AddressLimit::k32Bit})));
    ASSERT_TRUE(registry_.add("reserved-uncached", std::make_shared<CmaHeap>(memory_, 0, 8, false)));
    ASSERT_TRUE(registry_.add(
        "carveout", std::make_shared<CarveoutHeap>(
                        std::make_shared<RegionAllocator>(kBase + 64 * kMiB, 48 * kMiB, 4096), "carveout@44000000")));
    heap_ = registry_.find(GetParam());
    ASSERT_NE(heap_, nullptr);
  }
  std::unique_ptr<Buffer> alloc(uint64_t len) {
    auto b = registry_.allocate(*heap_, {len, 0, O_RDWR | O_CLOEXEC, 0});
    EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message());
    return b.ok() ? std::move(b.value()) : nullptr;
  }
  void zeroedAfterReuse(uint64_t size) {
    std::vector<std::unique_ptr<Buffer>> bufs;
    for (int i = 0; i < 32; ++i) {
      bufs.push_back(alloc(size));
      void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, bufs.back()->fd(), 0);
      ASSERT_NE(p, MAP_FAILED);
      ASSERT_TRUE(bufs.back()->sync(uapi::kSyncStart | uapi::kSyncRw));
      std::memset(p, 0xff, size);
      ASSERT_TRUE(bufs.back()->sync(uapi::kSyncEnd | uapi::kSyncRw));
      munmap(p, size);
    }
    std::set<uint64_t> dirty;
    for (const auto& b : bufs)
      for (const auto& seg : b->segments()) dirty.insert(seg.base);
    bufs.clear();
    size_t reused = 0;
    for (int i = 0; i < 32; ++i) {
      bufs.push_back(alloc(size));
      for (const auto& seg : bufs.back()->segments()) reused += dirty.count(seg.base);
      auto* p = static_cast<const uint8_t*>(mmap(nullptr, size, PROT_READ, MAP_SHARED, bufs.back()->fd(), 0));
      ASSERT_NE(p, MAP_FAILED);
      for (uint64_t j = 0; j < size; ++j) ASSERT_EQ(p[j], 0) << "byte " << j << " of buffer " << i;
      munmap(const_cast<uint8_t*>(p), size);
    }
    EXPECT_GT(reused, 0u) << "the second round must land on pages the first round dirtied";
  }

  std::shared_ptr<MemoryModel> memory_;
  HeapRegistry registry_{Kernel{}};
  const HeapEntry* heap_ = nullptr;
};

TEST_P(HeapConformance, ZeroedAfterReuse4K) { zeroedAfterReuse(4096); }
TEST_P(HeapConformance, ZeroedAfterReuse1M) { zeroedAfterReuse(kMiB); }

TEST_P(HeapConformance, RepeatedAllocFreeLeavesTheModelAsItStarted) {
  const std::string start = memory_->freeBlockSnapshot();
  const uint64_t free_start = heap_->heap->usage().free;
  { auto warm = alloc(3215360); }
  const std::string steady = memory_->snapshot();
  for (int i = 0; i < 1024; ++i) {
    auto b = alloc(static_cast<uint64_t>(4096) * static_cast<uint64_t>(1 + (i % 300)));
    ASSERT_NE(b, nullptr);
  }
  EXPECT_EQ(memory_->freeBlockSnapshot(), start);
  EXPECT_EQ(memory_->snapshot(), steady);
  EXPECT_EQ(heap_->heap->usage().free, free_start);
  memory_->checkInvariants();
}

TEST_P(HeapConformance, ExhaustThenRecover) {
  std::vector<std::unique_ptr<Buffer>> held;
  for (;;) {
    auto b = registry_.allocate(*heap_, {8 * kMiB, 0, O_RDWR, 0});
    if (!b) {
      EXPECT_EQ(b.code(), ENOMEM);
      break;
    }
    held.push_back(std::move(b.value()));
    ASSERT_LT(held.size(), 64u);
  }
  EXPECT_FALSE(held.empty());
  held.pop_back();
  EXPECT_NE(alloc(8 * kMiB), nullptr);
}

TEST_P(HeapConformance, SegmentsCoverTheBufferAndLieInRam) {
  auto b = alloc(5 * kMiB + 12345);
  uint64_t total = 0;
  for (const auto& s : b->segments()) {
    total += s.size;
    EXPECT_GE(s.base, kBase);
    EXPECT_LE(s.base + s.size, kBase + 256 * kMiB);
  }
  EXPECT_EQ(total, b->size());
  EXPECT_EQ(b->size(), 5 * kMiB + 16384);
  if (heap_->heap->descriptor().contiguous) {
    EXPECT_EQ(b->segments().size(), 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryHeap, HeapConformance,
                         ::testing::Values("system", "reserved", "system-uncached", "system-dma32", "reserved-uncached",
                                           "carveout"));

}  // namespace
}  // namespace dmaheap
