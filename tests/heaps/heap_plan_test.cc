#include "heaps/heap_plan.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

std::vector<std::string> names(const HeapPlanResult& r) {
  std::vector<std::string> out;
  for (const auto& h : r.heaps) out.push_back(h.name);
  return out;
}

Kernel kernel(int major, int minor) {
  Kernel k;
  k.version = KernelVersion::of(major, minor);
  return k;
}

dt::CmaArea area(std::string name, bool is_default, bool from_dt) {
  dt::CmaArea a;
  a.name = std::move(name);
  a.is_default = is_default;
  a.from_dt = from_dt;
  return a;
}

using V = std::vector<std::string>;

TEST(HeapPlan, KconfigDefaultAreaPerEra) {
  const std::vector<dt::CmaArea> areas = {area("reserved", true, false)};
  EXPECT_EQ(names(planHeaps(kernel(5, 4), areas)), V{});
  EXPECT_EQ(names(planHeaps(kernel(6, 12), areas)), (V{"system", "reserved"}));
  EXPECT_EQ(names(planHeaps(kernel(6, 18), areas)), (V{"system", "default_cma_region", "reserved"}));
  EXPECT_EQ(names(planHeaps(kernel(7, 2), areas)), (V{"system", "default_cma_region", "reserved"}));
  Kernel no_legacy = kernel(6, 17);
  no_legacy.config.cma_heap_legacy = false;
  EXPECT_EQ(names(planHeaps(no_legacy, areas)), (V{"system", "default_cma_region"}));
}

TEST(HeapPlan, DtRegionsPerEra) {
  const std::vector<dt::CmaArea> areas = {area("framebuffer@60000000", true, true), area("video@70000000", false, true)};
  EXPECT_EQ(names(planHeaps(kernel(6, 12), areas)), (V{"system", "framebuffer@60000000"}));
  EXPECT_EQ(names(planHeaps(kernel(7, 2), areas)),
            (V{"system", "default_cma_region", "framebuffer@60000000", "video@70000000"}));
}

TEST(HeapPlan, NoDefaultAreaNoCmaHeapBefore619) {
  const std::vector<dt::CmaArea> areas = {area("video@70000000", false, true)};
  EXPECT_EQ(names(planHeaps(kernel(6, 12), areas)), V{"system"});
  EXPECT_EQ(names(planHeaps(kernel(6, 19), areas)), (V{"system", "video@70000000"}));
}

TEST(HeapPlan, LegacyNameEqualToDefaultNameIsSkipped) {
  const std::vector<dt::CmaArea> areas = {area("default_cma_region", true, true)};
  EXPECT_EQ(names(planHeaps(kernel(6, 18), areas)), (V{"system", "default_cma_region"}));
}

TEST(HeapPlan, DuplicateNamesAreRefusedWithTheKernelsLog) {
  const std::vector<dt::CmaArea> areas = {area("pool", true, true), area("pool", false, true)};
  auto r = planHeaps(kernel(7, 2), areas);
  EXPECT_EQ(names(r), (V{"system", "default_cma_region", "pool"}));
  ASSERT_EQ(r.kernel_log.size(), 3u);
  EXPECT_EQ(r.kernel_log[1], "dma_heap: Unable to create device");
  EXPECT_EQ(r.kernel_log[2], "cma_heap: Failed to add CMA heap pool");
}

TEST(HeapPlan, ConfigWithoutHeaps) {
  Kernel k = kernel(6, 12);
  k.config.dmabuf_heaps = false;
  EXPECT_EQ(names(planHeaps(k, {area("reserved", true, false)})), V{});
}

}  // namespace
}  // namespace dmaheap
