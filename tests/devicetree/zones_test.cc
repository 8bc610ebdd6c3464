// Zone sizing per release (docs/kernel-behaviour.md §6.10) and the /memory fix-ups.
#include "devicetree/zones.h"

#include <gtest/gtest.h>

#include "devicetree/memory_fixup.h"

#include <unistd.h>

#include <fstream>

#include "devicetree/loader.h"

namespace dmaheap::dt {
namespace {

Kernel release(int major, int minor) {
  Kernel k;
  k.version = KernelVersion::of(major, minor);
  return k;
}

std::vector<std::string> printed(const ZoneLayout& z) { return z.log; }

constexpr uint64_t kGiB1 = uint64_t{1} << 30;

TEST(Zones, NoDmaRangesKeepsDmaBelow4GiB) {
  const ZoneLayout z = zoneLayout(release(6, 12), kGiB1, 5 * kGiB1 + kGiB1, std::nullopt);
  EXPECT_EQ(printed(z), (std::vector<std::string>{"Zone ranges:",
                                                   "  DMA      [mem 0x0000000040000000-0x00000000ffffffff]",
                                                   "  DMA32    empty",
                                                   "  Normal   [mem 0x0000000100000000-0x000000017fffffff]"}));
  EXPECT_EQ(z.cma_limit, 4 * kGiB1);
  EXPECT_EQ(z.boundaries, (std::vector<uint64_t>{4 * kGiB1}));
}

TEST(Zones, LimitThatIsNotAPowerOfTwoIsRoundedUpBefore6_12) {
  const uint64_t start = kGiB1, end = 3 * kGiB1;
  const ZoneLayout v61 = zoneLayout(release(6, 1), start, end, 0x5fffffff);
  EXPECT_EQ(v61.dma_limit, 0x80000000u);
  const ZoneLayout v612 = zoneLayout(release(6, 12), start, end, 0x5fffffff);
  EXPECT_EQ(v612.dma_limit, 0x60000000u);
  EXPECT_EQ(v612.cma_limit, 0x60000000u);
  EXPECT_EQ(v612.nonEmpty().size(), 2u);
  EXPECT_EQ(v612.nonEmpty()[1].name, "DMA32");
  EXPECT_EQ(v612.nonEmpty()[1].base, 0x60000000u);
  EXPECT_EQ(v612.nonEmpty()[1].size, 0x60000000u);
}

TEST(Zones, LimitBelowTheStartOfRam) {
  // 6.1: RAM starts above the 30-bit mask, so ZONE_DMA widens to 4 GiB (here: all RAM).
  const ZoneLayout v61 = zoneLayout(release(6, 1), kGiB1, 2 * kGiB1, 0x3fffffff);
  EXPECT_EQ(v61.dma_limit, 2 * kGiB1);
  // 6.12: ZONE_DMA is empty and the default area's limit is the start of RAM.
  const ZoneLayout v612 = zoneLayout(release(6, 12), kGiB1, 2 * kGiB1, 0x3fffffff);
  EXPECT_EQ(v612.cma_limit, kGiB1);
  EXPECT_EQ(v612.log[1], "  DMA      empty");
  EXPECT_TRUE(v612.boundaries.empty());
}

TEST(Zones, RamAbove4GiBIsAllDma) {
  const ZoneLayout z = zoneLayout(release(6, 1), 8 * kGiB1, 10 * kGiB1, std::nullopt);
  ASSERT_EQ(z.nonEmpty().size(), 1u);
  EXPECT_EQ(z.nonEmpty()[0].name, "DMA");
  EXPECT_EQ(z.nonEmpty()[0].size, 2 * kGiB1);
}

TEST(Zones, OldReleases) {
  // 5.5-5.10: a fixed 1 GiB ZONE_DMA; the default area goes below the DMA32 limit.
  const ZoneLayout v510 = zoneLayout(release(5, 10), 0, 2 * kGiB1, 0x1fffffff);
  EXPECT_EQ(v510.dma_limit, kGiB1);
  EXPECT_EQ(v510.cma_limit, 2 * kGiB1);
  // 5.4: no ZONE_DMA on arm64.
  const ZoneLayout v54 = zoneLayout(release(5, 4), kGiB1, 2 * kGiB1, std::nullopt);
  EXPECT_EQ(v54.log[1].rfind("  DMA32", 0), 0u);
  EXPECT_EQ(v54.log.size(), 3u);
}

TEST(Zones, ZoneDmaNotBuilt) {
  Kernel k = release(6, 12);
  k.config.zone_dma = false;
  const ZoneLayout z = zoneLayout(k, kGiB1, 2 * kGiB1, 0x3fffffff);
  EXPECT_EQ(z.log.size(), 3u);
  EXPECT_EQ(z.cma_limit, 2 * kGiB1);
}

TEST(MemoryFixup, ParsesBanks) {
  auto b = parseMemoryBanks("0x40000000:2G,0x100000000:1G");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 2u);
  EXPECT_EQ((*b)[0].base, 0x40000000u);
  EXPECT_EQ((*b)[0].size, 2 * kGiB1);
  EXPECT_EQ((*b)[1].base, 0x100000000u);
  EXPECT_EQ(parseMemoryBanks("0x40000000").code(), EINVAL);
  EXPECT_EQ(parseMemoryBanks("0:0").code(), EINVAL);
  EXPECT_EQ(parseMemoryBanks("0:2G,0x40000000:1G").code(), EINVAL);
  EXPECT_EQ(parseMemoryBanks("").code(), EINVAL);
  EXPECT_EQ(memoryFixupFromOptions("0:1G", "1G").code(), EINVAL);
  EXPECT_EQ(memoryFixupFromOptions("", "0").code(), EINVAL);
  EXPECT_EQ(memoryFixupFromOptions("", "2G")->fill_size, 2 * kGiB1);
}

Fdt treeOf(const std::string& body) {
  static int n = 0;
  const std::string path = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "-fix" + std::to_string(n++) + ".dts";
  std::ofstream(path) << "/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n" << body << "\n};\n";
  return loadDeviceTree(path).value();
}

TEST(MemoryFixup, NoMemoryNodeGetsTheSocBase) {
  const Fdt imx = treeOf("compatible = \"fsl,imx8mp-evk\", \"fsl,imx8mp\";");
  EXPECT_EQ(socDramBase(imx).base, 0x40000000u);
  MemoryFixup f;
  f.fill_size = 2 * kGiB1;
  auto fixed = applyMemoryFixup(imx, f);
  ASSERT_TRUE(fixed.ok()) << fixed.error().message();
  EXPECT_EQ(fixed->source.from, "--memory-size");
  EXPECT_EQ(fixed->source.nodes, std::vector<std::string>{"/memory@40000000"});
  const int mem = fixed->fdt.pathOffset("/memory@40000000");
  ASSERT_GE(mem, 0);
  EXPECT_EQ(fixed->fdt.stringProp(mem, "device_type"), "memory");
  EXPECT_EQ(fixed->fdt.prop(mem, "reg")->size(), 16u);
  EXPECT_EQ(socDramBase(treeOf("compatible = \"qcom,sm8550\";")).base, 0x80000000u);
  EXPECT_EQ(socDramBase(treeOf("compatible = \"acme,unknown\";")).base, 0x40000000u);
}

TEST(MemoryFixup, MemoryReplacesEveryMemoryNode) {
  const Fdt t = treeOf("memory@80000000 { device_type = \"memory\"; reg = <0 0x80000000 0 0x40000000>; };"
                       "memory@100000000 { device_type = \"memory\"; reg = <1 0 0 0x40000000>; };");
  MemoryFixup f;
  f.banks = {PhysRange{0x40000000, kGiB1}};
  auto fixed = applyMemoryFixup(t, f);
  ASSERT_TRUE(fixed.ok());
  EXPECT_LT(fixed->fdt.pathOffset("/memory@80000000"), 0);
  EXPECT_LT(fixed->fdt.pathOffset("/memory@100000000"), 0);
  EXPECT_GE(fixed->fdt.pathOffset("/memory@40000000"), 0);
}

}  // namespace
}  // namespace dmaheap::dt
