#include "board/board.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include "board/board_loader.h"

namespace dmaheap {
namespace {

std::vector<std::string> heapNames(const Board& b) {
  std::vector<std::string> out;
  for (const auto& h : b.heaps) out.push_back(h.name);
  return out;
}

TEST(Board, DefaultBoardOn618) {
  auto b = loadBoard(BoardOptions{});
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(heapNames(**b), (std::vector<std::string>{"system", "default_cma_region", "reserved"}));
  const HeapUsage cma = (*b)->registry->find("reserved")->heap->usage();
  EXPECT_EQ(cma.size, 64 * kMiB);
  // Both CMA heaps share one area.
  auto buf = (*b)->registry->allocate(*(*b)->registry->find("default_cma_region"), {60 * kMiB, 0, O_RDWR, 0});
  ASSERT_TRUE(buf.ok());
  EXPECT_EQ((*b)->registry->find("reserved")->heap->usage().free, 4 * kMiB);
  EXPECT_EQ((*b)->memory->stats().total_pages, (2 * kGiB) >> 12);
}

TEST(Board, KernelOptionsAreValidated) {
  EXPECT_EQ(loadBoard(BoardOptions{"", "4.4", "", ""}).code(), EINVAL);
  EXPECT_EQ(loadBoard(BoardOptions{"", "", "/nonexistent.config", ""}).code(), ENOENT);
  EXPECT_EQ(loadBoard(BoardOptions{"/nonexistent.dtb", "", "", ""}).code(), ENOENT);
}

TEST(Board, CrashingPlanIsRefused) {
  dt::BoardPlan p;
  p.memory = {{0x40000000, 256 * kMiB}};
  p.kernel_crashes = true;
  EXPECT_EQ(buildBoard(p).code(), EINVAL);
}

TEST(Board, InactiveAreaStillGetsItsHeapWhichAlwaysFails) {
  dt::BoardPlan p;
  p.memory = {{0x40000000, 256 * kMiB}};
  dt::CmaArea a;
  a.name = "reserved";
  a.base = 0x40000000 + 128 * kMiB;
  a.size = 64 * kMiB;
  a.is_default = true;
  a.activated = false;
  p.cma_areas = {a};
  auto b = buildBoard(p);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(heapNames(**b), (std::vector<std::string>{"system", "default_cma_region", "reserved"}));
  auto r = (*b)->registry->allocate(*(*b)->registry->find("reserved"), {4096, 0, O_RDWR, 0});
  EXPECT_EQ(r.code(), ENOMEM);
  // Its pages went back to the page allocator.
  EXPECT_EQ((*b)->registry->find("system")->heap->usage().size, 256 * kMiB);
}

TEST(Board, DuplicateHeapNamesAreLoggedNotFatal) {
  dt::BoardPlan p;
  p.kernel.version = KernelVersion::of(7, 2);
  p.memory = {{0x40000000, 256 * kMiB}};
  for (uint64_t off : {64, 128}) {
    dt::CmaArea a;
    a.name = "pool";
    a.base = 0x40000000 + off * kMiB;
    a.size = 16 * kMiB;
    a.from_dt = true;
    a.is_default = off == 64;
    p.cma_areas.push_back(a);
  }
  auto b = buildBoard(p);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(heapNames(**b), (std::vector<std::string>{"system", "default_cma_region", "pool"}));
  EXPECT_EQ((*b)->kernel_log.back(), "cma_heap: Failed to add CMA heap pool");
}

}  // namespace
}  // namespace dmaheap
