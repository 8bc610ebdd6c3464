// dma-ranges: parsing, translation through parent buses, a device's reach and the tree's lowest
// DMA limit (of_dma_get_max_cpu_address), on small hand-made trees.
#include "devicetree/dma_ranges.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "devicetree/loader.h"

namespace dmaheap::dt {
namespace {

Fdt tree(const std::string& body) {
  static int n = 0;
  const std::string path = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "-dmar" +
                           std::to_string(n++) + ".dts";
  std::ofstream(path) << "/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n" << body << "\n};\n";
  auto fdt = loadDeviceTree(path);
  EXPECT_TRUE(fdt.ok()) << fdt.error().message();
  return std::move(fdt).value();
}

const Kernel kKernel{};

TEST(DmaRanges, NoDmaRangesMeansNoLimitAndNoRestriction) {
  const Fdt f = tree("soc { #address-cells = <1>; #size-cells = <1>; ranges; dev@1000 { reg = <0x1000 0x100>; }; };");
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::nullopt);
  const DmaReach r = dmaReach(f, f.pathOffset("/soc/dev@1000"));
  EXPECT_TRUE(r.translated);
  EXPECT_TRUE(r.windows.empty());
  EXPECT_EQ(r.ranges_node, -1);
}

// The Raspberry Pi 4 shape: the bus sees RAM at 0xc0000000, the CPU at 0; one GiB.
TEST(DmaRanges, OffsetBusGivesThirtyBitLimit) {
  const Fdt f = tree(
      "soc { #address-cells = <1>; #size-cells = <1>; ranges = <0x7e000000 0x0 0xfe000000 0x1800000>;"
      " dma-ranges = <0xc0000000 0x0 0x00000000 0x40000000>; uart@7e201000 { reg = <0x7e201000 0x200>; }; };");
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::optional<uint64_t>(0x3fffffff));
  const DmaReach r = dmaReach(f, f.pathOffset("/soc/uart@7e201000"));
  ASSERT_TRUE(r.translated);
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0].cpu_base, 0u);
  EXPECT_EQ(r.windows[0].size, 0x40000000u);
  EXPECT_EQ(r.windows[0].bus_base, 0xc0000000u);
  EXPECT_EQ(r.ranges_node, f.pathOffset("/soc"));
}

TEST(DmaRanges, NestedBusIsTranslatedThroughItsParent) {
  const Fdt f = tree(
      "bus1 { #address-cells = <1>; #size-cells = <1>; ranges;"
      " dma-ranges = <0x80000000 0x0 0x40000000 0x40000000>;"
      " bus2 { #address-cells = <1>; #size-cells = <1>; ranges; dma-ranges = <0x0 0x80000000 0x10000000>;"
      "  dev@0 { reg = <0 4>; }; }; };");
  // bus1 reaches CPU 0x40000000..0x7fffffff; bus2's window is 0x40000000..0x4fffffff.
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::optional<uint64_t>(0x4fffffff));
  const auto entries = parseDmaRanges(f, f.pathOffset("/bus1/bus2"));
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].cpu, std::optional<uint64_t>(0x40000000));
  const DmaReach r = dmaReach(f, f.pathOffset("/bus1/bus2/dev@0"));
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.windows[0].cpu_base, 0x40000000u);
  EXPECT_EQ(r.windows[0].size, 0x10000000u);
  EXPECT_EQ(r.windows[0].bus_base, 0u);
}

TEST(DmaRanges, LowestOfSeveralBusesAndDisabledBusesIgnored) {
  const Fdt f = tree(
      "a { #address-cells = <1>; #size-cells = <1>; dma-ranges = <0x0 0x0 0x0 0x80000000>; };"
      "b { #address-cells = <1>; #size-cells = <1>; dma-ranges = <0x0 0x0 0x0 0x60000000>; };"
      "c { status = \"disabled\"; #address-cells = <1>; #size-cells = <1>; dma-ranges = <0x0 0x0 0x0 0x1000000>; };");
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::optional<uint64_t>(0x5fffffff));
}

TEST(DmaRanges, OnlyDisabledBusesMeansNoLimit) {
  const Fdt f = tree(
      "c { status = \"disabled\"; #address-cells = <1>; #size-cells = <1>; dma-ranges = <0x0 0x0 0x0 0x1000000>; };");
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::nullopt);
}

TEST(DmaRanges, EmptyDmaRangesIsOneToOneAndNoLimit) {
  const Fdt f = tree(
      "soc { #address-cells = <1>; #size-cells = <1>; ranges; dma-ranges = <0x0 0x0 0x0 0x40000000>;"
      " sub { #address-cells = <1>; #size-cells = <1>; ranges; dma-ranges; dev@0 { reg = <0 4>; }; }; };");
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::optional<uint64_t>(0x3fffffff));
  // The device's bus has an empty dma-ranges: the search goes on to soc.
  const DmaReach r = dmaReach(f, f.pathOffset("/soc/sub/dev@0"));
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.ranges_node, f.pathOffset("/soc"));
  EXPECT_EQ(r.windows[0].size, 0x40000000u);
}

TEST(DmaRanges, MissingDmaRangesAfterTheFirstLevelEndsTheSearch) {
  const Fdt f = tree(
      "soc { #address-cells = <1>; #size-cells = <1>; ranges; dma-ranges = <0x0 0x0 0x0 0x40000000>;"
      " mid { #address-cells = <1>; #size-cells = <1>; ranges;"
      "  sub { #address-cells = <1>; #size-cells = <1>; ranges; dev@0 { reg = <0 4>; }; }; };"
      " near { #address-cells = <1>; #size-cells = <1>; ranges; dev@0 { reg = <0 4>; }; }; };");
  // dev's bus (sub) and sub's parent (mid) both lack dma-ranges: no restriction.
  const DmaReach far = dmaReach(f, f.pathOffset("/soc/mid/sub/dev@0"));
  EXPECT_TRUE(far.translated);
  EXPECT_TRUE(far.windows.empty());
  // near lacks it but its parent soc has it: soc's window applies.
  const DmaReach near = dmaReach(f, f.pathOffset("/soc/near/dev@0"));
  ASSERT_EQ(near.windows.size(), 1u);
  EXPECT_EQ(near.ranges_node, f.pathOffset("/soc"));
}

TEST(DmaRanges, UntranslatableEntryFailsTheDeviceAndWrapsTheLimit) {
  // sub's parent address 0x90000000 lies outside soc's only window.
  const Fdt f = tree(
      "soc { #address-cells = <1>; #size-cells = <1>; ranges; dma-ranges = <0x0 0x0 0x0 0x40000000>;"
      " sub { #address-cells = <1>; #size-cells = <1>; ranges; dma-ranges = <0x0 0x90000000 0x1000000>;"
      "  dev@0 { reg = <0 4>; }; }; };");
  const DmaReach r = dmaReach(f, f.pathOffset("/soc/sub/dev@0"));
  EXPECT_FALSE(r.translated);
  EXPECT_TRUE(r.windows.empty());
  EXPECT_FALSE(r.why_not.empty());
  ASSERT_EQ(r.untranslated_logs.size(), 1u);
  EXPECT_EQ(r.untranslated_logs[0], "OF: translation of DMA address(0) to CPU address failed node(/soc/sub)");
  // The kernel adds the size to OF_BAD_ADDR: the end wraps to size - 2, below soc's limit.
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::optional<uint64_t>(0xfffffe));
}

TEST(DmaRanges, RootDmaRangesNeverTranslates) {
  const Fdt f = tree("dma-ranges = <0x0 0x0 0x0 0x0 0x0 0x40000000>;");
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::optional<uint64_t>(0x3ffffffe));
}

TEST(DmaRanges, ContiguousEntriesMerge) {
  const Fdt f = tree(
      "soc { #address-cells = <1>; #size-cells = <1>; ranges;"
      " dma-ranges = <0x0 0x0 0x0 0x20000000  0x20000000 0x0 0x20000000 0x20000000  0x80000000 0x0 0x80000000 0x1000000>;"
      " dev@0 { reg = <0 4>; }; };");
  const auto e = parseDmaRanges(f, f.pathOffset("/soc"));
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].size, 0x40000000u);
  EXPECT_EQ(e[1].bus, 0x80000000u);
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::optional<uint64_t>(0x80ffffff));
}

TEST(DmaRanges, InterconnectDmaMemIsTheDmaParent) {
  const Fdt f = tree(
      "noc: noc { #interconnect-cells = <1>; #address-cells = <2>; #size-cells = <2>;"
      " dma-ranges = <0x0 0x0 0x0 0x40000000 0x0 0x40000000>; };"
      "soc { #address-cells = <1>; #size-cells = <1>; ranges;"
      " dev@0 { reg = <0 4>; interconnects = <&noc 7>, <&noc 8>; interconnect-names = \"cpu\", \"dma-mem\"; }; };");
  EXPECT_EQ(dmaParent(f, f.pathOffset("/soc/dev@0")), f.pathOffset("/noc"));
  EXPECT_EQ(dmaParent(f, f.pathOffset("/soc")), f.root());
  const DmaReach r = dmaReach(f, f.pathOffset("/soc/dev@0"));
  ASSERT_EQ(r.windows.size(), 1u);
  EXPECT_EQ(r.ranges_node, f.pathOffset("/noc"));
}

TEST(DmaRanges, PciHostBridgeSkipsTheFlagsCell) {
  const Fdt f = tree(
      "pcie@7d500000 { device_type = \"pci\"; #address-cells = <3>; #size-cells = <2>;"
      " dma-ranges = <0x02000000 0x0 0x0 0x0 0x0 0x0 0xc0000000>; };");
  const auto e = parseDmaRanges(f, f.pathOffset("/pcie@7d500000"));
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].bus, 0u);
  EXPECT_EQ(e[0].cpu, std::optional<uint64_t>(0));
  EXPECT_EQ(e[0].size, 0xc0000000u);
  EXPECT_EQ(maxDmaCpuAddress(f, kKernel), std::optional<uint64_t>(0xbfffffff));
}

}  // namespace
}  // namespace dmaheap::dt
