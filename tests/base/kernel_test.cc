#include "base/kernel.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

TEST(KernelVersion, ParsesSupportedReleases) {
  EXPECT_EQ(KernelVersion::parse("6.18").value(), KernelVersion::of(6, 18));
  EXPECT_EQ(KernelVersion::parse("5.3").value(), KernelVersion::of(5, 3));
  EXPECT_EQ(KernelVersion::parse("7.2").value(), KernelVersion::of(7, 2));
  EXPECT_EQ(KernelVersion::parse("6.12.118+deb13-arm64").value(), KernelVersion::of(6, 12));
  EXPECT_EQ(KernelVersion().str(), "6.18");
}

TEST(KernelVersion, RejectsOutsideRangeNamingIt) {
  for (const char* bad : {"5.2", "4.19", "7.3", "8.0", "6.20", "5.20", "6", "", "x.y", "6.18x", "6.-1"}) {
    auto r = KernelVersion::parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.code(), EINVAL);
    EXPECT_NE(r.error().message().find("5.3 to 7.2"), std::string::npos);
  }
}

TEST(Kernel, VersionRules) {
  Kernel k;
  k.version = KernelVersion::of(5, 4);
  EXPECT_EQ(k.maxReservedRegions(), 32u);
  EXPECT_EQ(k.cmaMinAlignmentBytes(), 4u << 20);
  EXPECT_EQ(k.duplicateHeapNameErrno(), EINVAL);
  EXPECT_EQ(k.cmaHeapEra(), CmaHeapEra::kNone);
  k.version = KernelVersion::of(5, 7);
  EXPECT_EQ(k.maxReservedRegions(), 64u);
  EXPECT_EQ(k.cmaHeapEra(), CmaHeapEra::kDefaultOnly);
  k.version = KernelVersion::of(5, 19);
  EXPECT_EQ(k.cmaMinAlignmentBytes(), 2u << 20);
  k.config.hugetlb = false;
  EXPECT_EQ(k.cmaMinAlignmentBytes(), 4u << 20);
  EXPECT_EQ(k.pageblockOrder(), 10u);
  k.version = KernelVersion::of(6, 2);
  EXPECT_EQ(k.duplicateHeapNameErrno(), EEXIST);
  k.version = KernelVersion::of(6, 17);
  EXPECT_EQ(k.cmaHeapEra(), CmaHeapEra::kDefaultNamePlusLegacy);
  k.version = KernelVersion::of(6, 19);
  EXPECT_EQ(k.cmaHeapEra(), CmaHeapEra::kPerRegion);
}

TEST(KernelConfig, ReadsRealConfigLines) {
  auto c = KernelConfig::fromText(
      "# comment\nCONFIG_ARM64_4K_PAGES=y\n# CONFIG_HUGETLB_PAGE is not set\nCONFIG_CMA=y\n"
      "CONFIG_DMA_CMA=y\nCONFIG_CMA_AREAS=7\nCONFIG_CMA_SIZE_MBYTES=32\nCONFIG_CMA_ALIGNMENT=8\n"
      "CONFIG_DMABUF_HEAPS=y\nCONFIG_DMABUF_HEAPS_SYSTEM=y\nCONFIG_DMABUF_HEAPS_CMA=y\n");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->hugetlb);
  EXPECT_TRUE(c->cma);
  EXPECT_EQ(c->cma_areas, 7u);
  EXPECT_EQ(c->cma_size_mbytes, 32u);
  EXPECT_TRUE(c->system_heap);
  EXPECT_FALSE(c->cma_heap_legacy);
  Kernel k{KernelVersion::of(6, 12), c.value()};
  EXPECT_EQ(k.pageblockBytes(), 4u << 20);
  EXPECT_EQ(k.maxCmaAreas(), 7u);
}

TEST(KernelConfig, DebianConfigWithoutHeaps) {
  auto c = KernelConfig::fromText("CONFIG_CMA=y\nCONFIG_DMA_CMA=y\nCONFIG_HUGETLB_PAGE=y\n");
  ASSERT_TRUE(c.ok());
  Kernel k{KernelVersion::of(6, 12), c.value()};
  EXPECT_FALSE(k.hasDmaBufHeaps());
  EXPECT_EQ(k.cmaHeapEra(), CmaHeapEra::kNone);
  EXPECT_EQ(k.pageblockBytes(), 2u << 20);
}

TEST(KernelConfig, MalformedValues) {
  EXPECT_EQ(KernelConfig::fromText("CONFIG_CMA_AREAS=many\n").code(), EINVAL);
  EXPECT_EQ(KernelConfig::fromText("CONFIG_CMA_ALIGNMENT=40\n").code(), EINVAL);
  EXPECT_EQ(KernelConfig::fromText("CONFIG_BROKEN\n").code(), EINVAL);
  EXPECT_EQ(KernelConfig::fromFile("/nonexistent/.config").code(), ENOENT);
}

}  // namespace
}  // namespace dmaheap
