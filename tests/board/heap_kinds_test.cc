// The heap-kind table and how the board adds a heap profile's heaps.
#include "board/heap_kinds.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include "board/board_loader.h"

namespace dmaheap {
namespace {

std::vector<std::string> names(const Board& b) {
  std::vector<std::string> out;
  for (const auto& h : b.heaps) out.push_back(h.name);
  return out;
}

TEST(HeapKinds, TableKnowsEachKindOnce) {
  EXPECT_EQ(heapKindNames(), "system, cma, carveout");
  for (const char* k : {"system", "cma", "carveout"}) {
    const HeapKindOps* ops = findHeapKind(k);
    ASSERT_NE(ops, nullptr) << k;
    EXPECT_STREQ(ops->kind, k);
  }
  EXPECT_EQ(findHeapKind("chunk"), nullptr);
  EXPECT_EQ(findHeapKind("System"), nullptr);
}

TEST(HeapKinds, ProfileHeapsComeAfterTheKernelsAndSkipTheSameHeap) {
  BoardOptions o;
  o.profile = "rockchip";
  auto b = loadBoard(o);
  ASSERT_TRUE(b.ok()) << b.error().message();
  // "system" is the kernel's own (the profile's is the same heap): registered once.
  EXPECT_EQ(names(**b), (std::vector<std::string>{"system", "default_cma_region", "reserved", "system-dma32",
                                                   "system-uncached", "system-uncached-dma32"}));
  EXPECT_FALSE((*b)->registry->find("system-uncached")->heap->descriptor().cached);
}

TEST(HeapKinds, NxpNamesTheDefaultAreaAndItsUncachedView) {
  BoardOptions o;
  o.profile = "nxp";
  o.kernel = "6.12";
  auto b = loadBoard(o);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(names(**b), (std::vector<std::string>{"system", "reserved", "linux,cma", "linux,cma-uncached"}));
  // The three share the one area.
  auto& reg = *(*b)->registry;
  auto buf = reg.allocate(*reg.find("linux,cma-uncached"), {60 * kMiB, 0, O_RDWR, 0});
  ASSERT_TRUE(buf.ok());
  EXPECT_EQ(reg.find("reserved")->heap->usage().free, 4 * kMiB);
  EXPECT_EQ(reg.find("linux,cma-uncached")->heap->descriptor().region, "reserved");
}

TEST(HeapKinds, ANameTakenByADifferentHeapIsAnError) {
  BoardOptions o;
  auto b = loadBoard(o);
  ASSERT_TRUE(b.ok());
  HeapSpec s;
  s.kind = "system";
  s.name = "reserved";
  s.origin = "test";
  auto again = buildBoard((*b)->plan, {s});
  EXPECT_EQ(again.code(), EINVAL);
  EXPECT_EQ(again.error().message(), "test: the board already has a different heap named 'reserved'");
  s.kind = "chunk";
  EXPECT_EQ(buildBoard((*b)->plan, {s}).error().message(),
            "test: unknown heap kind 'chunk' (kinds: system, cma, carveout)");
}

}  // namespace
}  // namespace dmaheap
