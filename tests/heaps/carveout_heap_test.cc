#include "heaps/carveout_heap.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

constexpr uint64_t kRam = 0x40000000;
constexpr uint64_t kRegion = 0x70000000;

// A board plan with 2 GiB of RAM and the no-map region vendor@70000000 (8 MiB) taken by no handler.
struct Fixture {
  dt::BoardPlan plan;
  std::map<std::string, std::shared_ptr<RegionAllocator>> carveouts;
  HeapContext context;
  Fixture() {
    plan.memory = {{kRam, 2048 * kMiB}};
    plan.reserved = {{kRegion, 8 * kMiB}};
    dt::ReservedRegion r;
    r.name = "vendor@70000000";
    r.path = "/reserved-memory/vendor@70000000";
    r.base = kRegion;
    r.size = 8 * kMiB;
    r.no_map = true;
    r.outcome = dt::RegionOutcome::kNoHandler;
    plan.regions.push_back(r);
    MemoryLayout l;
    l.ram = plan.memory;
    l.reserved = plan.reserved;
    context.plan = &plan;
    context.memory = std::shared_ptr<MemoryModel>(MemoryModel::create(Kernel{}, l).value().release());
    context.carveouts = &carveouts;
  }
  HeapSpec spec(std::string region) {
    HeapSpec s;
    s.kind = "carveout";
    s.region = std::move(region);
    s.origin = "test";
    return s;
  }
};

TEST(CarveoutHeap, AllocatesOnlyInsideItsRegionThenEnomem) {
  Fixture f;
  auto heap = kCarveoutHeapKind.make(f.spec("vendor"), f.context);
  ASSERT_TRUE(heap.ok()) << heap.error().message();
  std::vector<std::unique_ptr<PhysicalAllocation>> held;
  for (int i = 0; i < 4; ++i) {
    auto a = (*heap)->allocate(2 * kMiB);
    ASSERT_TRUE(a.ok());
    ASSERT_EQ((*a)->segments().size(), 1u);
    const Segment s = (*a)->segments()[0];
    EXPECT_EQ(s.base, kRegion + static_cast<uint64_t>(i) * 2 * kMiB);
    EXPECT_EQ(s.size, 2 * kMiB);
    held.push_back(std::move(a.value()));
  }
  EXPECT_EQ((*heap)->allocate(4096).code(), ENOMEM);
  EXPECT_EQ((*heap)->usage().free, 0u);
  // The page allocator never saw the region: system memory is unaffected and never inside it.
  auto page = f.context.memory->allocPages(0, MigrateType::kUnmovable);
  ASSERT_TRUE(page.ok());
  const uint64_t addr = page->pfn.value << 12;
  EXPECT_TRUE(addr < kRegion || addr >= kRegion + 8 * kMiB);
  f.context.memory->freePages(*page);
  held.erase(held.begin() + 1);  // frees [2 MiB, 4 MiB) of the region
  auto again = (*heap)->allocate(2 * kMiB);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->segments()[0].base, kRegion + 2 * kMiB);
  held.clear();
  again.value().reset();
  EXPECT_EQ((*heap)->usage().free, 8 * kMiB);
  EXPECT_EQ((*heap)->usage().largest_free_block, 8 * kMiB);
}

TEST(CarveoutHeap, DescriptorAndNamingRule) {
  Fixture f;
  auto name = kCarveoutHeapKind.name(f.spec("/reserved-memory/vendor@70000000"), f.context);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "vendor");
  auto d = kCarveoutHeapKind.describe(f.spec("vendor@70000000"), f.context);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, "carveout");
  EXPECT_TRUE(d->contiguous);
  EXPECT_TRUE(d->cached);
  EXPECT_EQ(d->source, MemorySource::kCarveout);
  EXPECT_EQ(d->region, "vendor@70000000");
}

TEST(CarveoutHeap, TwoHeapsOnOneRegionShareItsAllocator) {
  Fixture f;
  auto cached = kCarveoutHeapKind.make(f.spec("vendor"), f.context);
  HeapSpec u = f.spec("vendor");
  u.cached = false;
  auto uncached = kCarveoutHeapKind.make(u, f.context);
  ASSERT_TRUE(cached.ok() && uncached.ok());
  auto a = (*cached)->allocate(6 * kMiB);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*uncached)->allocate(4 * kMiB).code(), ENOMEM);
  EXPECT_FALSE((*uncached)->descriptor().cached);
}

TEST(CarveoutHeap, RefusesRegionsThatAreNotPlainNoMapCarveouts) {
  Fixture f;
  EXPECT_EQ(kCarveoutHeapKind.make(f.spec(""), f.context).code(), EINVAL);
  EXPECT_EQ(kCarveoutHeapKind.make(f.spec("nope"), f.context).code(), EINVAL);
  HeapSpec dma32 = f.spec("vendor");
  dma32.address_limit = AddressLimit::k32Bit;
  EXPECT_EQ(kCarveoutHeapKind.make(dma32, f.context).code(), EINVAL);
  f.plan.regions[0].no_map = false;
  auto r = kCarveoutHeapKind.make(f.spec("vendor"), f.context);
  EXPECT_EQ(r.code(), EINVAL);
  EXPECT_NE(r.error().message().find("not no-map"), std::string::npos);
  f.plan.regions[0].no_map = true;
  f.plan.regions[0].outcome = dt::RegionOutcome::kInitialized;
  f.plan.regions[0].handler = "dma-coherent";
  r = kCarveoutHeapKind.make(f.spec("vendor"), f.context);
  EXPECT_EQ(r.code(), EINVAL);
  EXPECT_NE(r.error().message().find("dma-coherent"), std::string::npos);
}

}  // namespace
}  // namespace dmaheap
