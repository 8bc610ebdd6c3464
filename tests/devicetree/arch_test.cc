// The architecture dimension of the kernel model (docs/kernel-behaviour.md §11): page and
// pageblock sizes, zones, the default CMA area, the 32-bit ARM coherent-pool rule, and which
// architecture a tree is taken for (docs/device-trees.md "Architecture").
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "devicetree/arch_detect.h"
#include "devicetree/loader.h"
#include "devicetree/plan.h"
#include "devicetree/zones.h"

namespace dmaheap::dt {
namespace {

constexpr uint64_t kMiB1 = uint64_t{1} << 20;
constexpr uint64_t kGiB1 = uint64_t{1} << 30;

Kernel kernelFor(Arch arch, int major = 6, int minor = 18) {
  Kernel k;
  k.version = KernelVersion::of(major, minor);
  k.arch = arch;
  k.arch_origin = ArchOrigin::kOption;
  return k;
}

Kernel withConfig(Kernel k, const std::string& text) {
  auto c = KernelConfig::fromText(text);
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message());
  if (c.ok()) k.config = c.value();
  return k;
}

std::string writeDts(const std::string& dts) {
  static int n = 0;
  const std::string path =
      ::testing::TempDir() + "/arch_test-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".dts";
  std::ofstream(path) << dts;
  return path;
}

BoardPlan planOf(const std::string& dts, const Kernel& k) {
  auto p = planFromFile(writeDts(dts), k, "");
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message());
  return p.ok() ? std::move(p).value() : BoardPlan{};
}

// A 1-cell 32-bit ARM tree: a Cortex-A15, 2 GiB at 0x40000000 (QEMU virt's layout), and `reserved`.
std::string armTree(const std::string& reserved = "") {
  std::string dts =
      "/dts-v1/;\n/ {\n#address-cells = <1>;\n#size-cells = <1>;\ncompatible = \"linux,dummy-virt\";\n"
      "cpus {\n#address-cells = <1>;\n#size-cells = <0>;\ncpu@0 { device_type = \"cpu\"; "
      "compatible = \"arm,cortex-a15\"; reg = <0>; };\n};\n"
      "memory@40000000 { device_type = \"memory\"; reg = <0x40000000 0x80000000>; };\n";
  if (!reserved.empty()) dts += "reserved-memory {\n#address-cells = <1>;\n#size-cells = <1>;\nranges;\n" + reserved + "};\n";
  return dts + "};\n";
}

std::vector<std::string> codes(const BoardPlan& p) {
  std::vector<std::string> out;
  for (const auto& d : p.diagnostics) out.push_back(d.code);
  return out;
}

bool logHas(const BoardPlan& p, const std::string& line) {
  for (const auto& l : p.kernel_log)
    if (l == line) return true;
  return false;
}

TEST(Arch, NamesParseAndPrint) {
  for (Arch a : {Arch::kArm, Arch::kArm64, Arch::kRiscv64}) {
    auto parsed = parseArch(str(a));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed.value(), a);
  }
  EXPECT_STREQ(str(Arch::kArm), "arm");
  EXPECT_STREQ(str(Arch::kRiscv64), "riscv64");
  auto bad = parseArch("x86_64");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), EINVAL);
  EXPECT_EQ(bad.error().message(), "architecture 'x86_64' is not supported: give arm, arm64 or riscv64");
  EXPECT_FALSE(parseArch("ARM").ok());
}

TEST(Arch, RulesCarryTheirArchitectures) {
  EXPECT_TRUE(ruleApplies(KernelRule::kZoneDmaFromDt, kernelFor(Arch::kArm64)));
  EXPECT_FALSE(ruleApplies(KernelRule::kZoneDmaFromDt, kernelFor(Arch::kArm)));
  EXPECT_FALSE(ruleApplies(KernelRule::kZoneDmaFromDt, kernelFor(Arch::kRiscv64)));
  EXPECT_TRUE(ruleApplies(KernelRule::kArmCoherentPoolNeedsNoMap, kernelFor(Arch::kArm, 5, 3)));
  EXPECT_FALSE(ruleApplies(KernelRule::kArmCoherentPoolNeedsNoMap, kernelFor(Arch::kArm64)));
  EXPECT_TRUE(ruleApplies(KernelRule::kRiscvZoneDma32, kernelFor(Arch::kRiscv64)));
  // Generic rules hold everywhere.
  for (Arch a : {Arch::kArm, Arch::kArm64, Arch::kRiscv64}) {
    EXPECT_TRUE(ruleApplies(KernelRule::kCmaHeapPerRegion, kernelFor(a, 6, 19)));
  }
}

TEST(Arch, PageblockPerArchitectureAndConfig) {
  // arm64 and riscv64 with 4 KiB pages and hugetlb: PMD order 9, 2 MiB.
  EXPECT_EQ(kernelFor(Arch::kArm64).pageblockBytes(), 2 * kMiB1);
  EXPECT_EQ(kernelFor(Arch::kRiscv64).pageblockBytes(), 2 * kMiB1);
  // armmp without LPAE has no hugetlb: pageblock order is the max order, 10 by default: 4 MiB.
  const Kernel arm = kernelFor(Arch::kArm);
  EXPECT_FALSE(arm.hugetlbPages());
  EXPECT_EQ(arm.pageblockOrder(), 10u);
  EXPECT_EQ(arm.pageblockBytes(), 4 * kMiB1);
  EXPECT_EQ(arm.cmaMinAlignmentBytes(), 4 * kMiB1);
  // armmp-lpae: hugetlb with 2 MiB PMDs.
  const Kernel lpae = withConfig(kernelFor(Arch::kArm), "CONFIG_ARM=y\nCONFIG_ARM_LPAE=y\nCONFIG_HUGETLB_PAGE=y\n");
  EXPECT_EQ(lpae.pageblockOrder(), 9u);
  EXPECT_EQ(lpae.pageblockBytes(), 2 * kMiB1);
  // Debian's armmp (SOC_AM33XX): ARCH_FORCE_MAX_ORDER=11, the largest order itself from 6.4: 8 MiB.
  const std::string armmp = "CONFIG_ARM=y\nCONFIG_ARCH_FORCE_MAX_ORDER=11\nCONFIG_CMA=y\nCONFIG_DMA_CMA=y\n";
  const Kernel deb612 = withConfig(kernelFor(Arch::kArm, 6, 12), armmp);
  EXPECT_EQ(deb612.maxOrder(), 11u);
  EXPECT_EQ(deb612.pageblockBytes(), 8 * kMiB1);
  EXPECT_EQ(deb612.cmaMinAlignmentBytes(), 8 * kMiB1);
  // Up to 6.3 the same option was one more than the largest order (AM33XX's default was 12).
  EXPECT_EQ(withConfig(kernelFor(Arch::kArm, 6, 1), armmp).maxOrder(), 10u);
  EXPECT_EQ(withConfig(kernelFor(Arch::kArm, 6, 1), "CONFIG_FORCE_MAX_ZONEORDER=12\n").maxOrder(), 11u);
  // A .config names its architecture.
  EXPECT_EQ(withConfig(Kernel{}, armmp).config.arch, Arch::kArm);
  EXPECT_EQ(withConfig(Kernel{}, "CONFIG_RISCV=y\n").config.arch, Arch::kRiscv64);
  EXPECT_FALSE(KernelConfig::fromText("CONFIG_PAGE_OFFSET=zz\n").ok());
  // ZONE_DMA: absent from an arm64 .config means built (its default), absent from a 32-bit ARM
  // one means not (only platforms select it there; the oracle's arm-6.12 build has none).
  EXPECT_TRUE(KernelConfig::fromText("CONFIG_ARM64=y\n")->zone_dma);
  EXPECT_FALSE(KernelConfig::fromText("CONFIG_ARM=y\n")->zone_dma);
  EXPECT_TRUE(KernelConfig::fromText("CONFIG_ARM=y\nCONFIG_ZONE_DMA=y\n")->zone_dma);
  EXPECT_FALSE(KernelConfig::fromText("CONFIG_ARM64=y\n# CONFIG_ZONE_DMA is not set\n")->zone_dma);
}

TEST(Arch, ArmZonesSplitLowAndHighMemory) {
  const ZoneLayout z = zoneLayout(kernelFor(Arch::kArm), 0x40000000, 0xC0000000, std::nullopt);
  EXPECT_EQ(z.log, (std::vector<std::string>{"Zone ranges:",
                                              "  DMA      [mem 0x0000000040000000-0x000000006fffffff]",
                                              "  Normal   empty",
                                              "  HighMem  [mem 0x0000000070000000-0x00000000bfffffff]"}));
  EXPECT_EQ(z.highmem_start, 0x70000000u);
  EXPECT_EQ(z.cma_limit, 0xffffffffu);  // arm_dma_limit without a machine DMA zone size
  // A machine with a DMA zone (bcm2711: 1 GiB): arm_dma_limit is its last byte (the CMA limit);
  // here lowmem (768 MiB) ends first, so ZONE_DMA is lowmem.
  const Kernel k = kernelFor(Arch::kArm);
  EXPECT_EQ(armMachineDmaZoneSize(k, {"raspberrypi,4-model-b", "brcm,bcm2711"}), kGiB1);
  EXPECT_EQ(armMachineDmaZoneSize(k, {"ti,dra7"}), 0u);  // only with LPAE
  const ZoneLayout pi = zoneLayout(k, 0, 2 * kGiB1, std::nullopt, kGiB1);
  EXPECT_EQ(pi.log, (std::vector<std::string>{"Zone ranges:",
                                               "  DMA      [mem 0x0000000000000000-0x000000002fffffff]",
                                               "  Normal   empty",
                                               "  HighMem  [mem 0x0000000030000000-0x000000007fffffff]"}));
  EXPECT_EQ(pi.cma_limit, 0x3fffffffu);
  // VMSPLIT_2G: 1.75 GiB of lowmem.
  const Kernel split2g = withConfig(kernelFor(Arch::kArm), "CONFIG_ARM=y\nCONFIG_PAGE_OFFSET=0x80000000\nCONFIG_HIGHMEM=y\n");
  EXPECT_EQ(armLowmemEnd(split2g, 0x40000000, 0xC0000000), 0xB0000000u);
}

TEST(Arch, RiscvZonesAreDma32AndNormal) {
  const ZoneLayout z = zoneLayout(kernelFor(Arch::kRiscv64), 0x80000000, 0x280000000, std::nullopt);
  EXPECT_EQ(z.log, (std::vector<std::string>{"Zone ranges:",
                                              "  DMA32    [mem 0x0000000080000000-0x00000000ffffffff]",
                                              "  Normal   [mem 0x0000000100000000-0x000000027fffffff]"}));
  EXPECT_EQ(z.cma_limit, 4 * kGiB1);
  EXPECT_EQ(z.boundaries, (std::vector<uint64_t>{4 * kGiB1}));
}

TEST(Arch, ArmDefaultAreaGoesToHighMemoryFirst) {
  // 2 GiB at 0x40000000, CONFIG_CMA_SIZE_MBYTES=64: lowmem ends at 0x70000000, so
  // cma_declare_contiguous tries [0x70000000, 0xc0000000) first, top-down.
  const BoardPlan p = planOf(armTree(), kernelFor(Arch::kArm));
  ASSERT_EQ(p.cma_areas.size(), 1u);
  EXPECT_EQ(p.cma_areas[0].base, 0xBC000000u);
  EXPECT_EQ(p.cma_areas[0].size, 64 * kMiB1);
  EXPECT_TRUE(p.cma_areas[0].activated);
  EXPECT_TRUE(logHas(p, "cma: Reserved 64 MiB at 0xbc000000"));  // %pa of a 32-bit phys_addr_t
  // Debian's armmp .config: 16 MiB, 8 MiB pageblocks; the log line of 6.12 names the node.
  const BoardPlan deb = planOf(armTree(), withConfig(kernelFor(Arch::kArm, 6, 12),
                                                     "CONFIG_ARM=y\nCONFIG_ARCH_FORCE_MAX_ORDER=11\nCONFIG_CMA=y\n"
                                                     "CONFIG_DMA_CMA=y\nCONFIG_CMA_SIZE_MBYTES=16\nCONFIG_HIGHMEM=y\n"));
  ASSERT_EQ(deb.cma_areas.size(), 1u);
  EXPECT_EQ(deb.cma_areas[0].base, 0xBF000000u);
  EXPECT_TRUE(logHas(deb, "cma: Reserved 16 MiB at 0xbf000000 on node -1"));
  // When high memory cannot hold it, the area goes to the top of lowmem, never across the boundary.
  Kernel big = kernelFor(Arch::kArm, 6, 12);
  big.config.cma_size_mbytes = 1536;
  const BoardPlan q = planOf(armTree(), big);
  ASSERT_EQ(q.cma_areas.size(), 0u);  // 1.5 GiB fits neither in 1.25 GiB of highmem nor in 768 MiB of lowmem
  EXPECT_TRUE(logHas(q, "cma: Failed to reserve 1536 MiB on node -1"));
  big.config.cma_size_mbytes = 1280;  // exactly highmem
  const BoardPlan r = planOf(armTree(), big);
  ASSERT_EQ(r.cma_areas.size(), 1u);
  EXPECT_EQ(r.cma_areas[0].base, 0x70000000u);
  big.config.cma_size_mbytes = 512 + 1280;  // neither part can hold it, and it may not straddle them
  EXPECT_EQ(planOf(armTree(), big).cma_areas.size(), 0u);
  big.config.cma_size_mbytes = 1284;  // 4 MiB more than highmem: lowmem (768 MiB) cannot hold it either
  EXPECT_EQ(planOf(armTree(), big).cma_areas.size(), 0u);
  big.config.cma_size_mbytes = 512;
  const BoardPlan s = planOf(armTree(), big);
  ASSERT_EQ(s.cma_areas.size(), 1u);
  EXPECT_EQ(s.cma_areas[0].base, 0xA0000000u);  // top of highmem
}

TEST(Arch, ArmRefusesACoherentPoolWithoutNoMap) {
  const std::string pool = "pool@50000000 { compatible = \"shared-dma-pool\"; reg = <0x50000000 0x400000>; };\n";
  const BoardPlan p = planOf(armTree(pool), kernelFor(Arch::kArm));
  ASSERT_EQ(p.regions.size(), 1u);
  EXPECT_EQ(p.regions[0].outcome, RegionOutcome::kFailed);
  EXPECT_EQ(p.regions[0].handler, "");
  EXPECT_TRUE(logHas(p, "Reserved memory: regions without no-map are not yet supported"));
  EXPECT_TRUE(logHas(p, "OF: reserved mem: node pool@50000000 compatible matching fail"));
  EXPECT_EQ(codes(p), (std::vector<std::string>{"dma-pool-needs-no-map"}));
  ASSERT_EQ(p.diagnostics.size(), 1u);
  EXPECT_EQ(p.diagnostics[0].severity, Severity::kError);
  EXPECT_EQ(p.diagnostics[0].kernel_log.front(), "Reserved memory: regions without no-map are not yet supported");
  // Its memory is handed back: nothing of it stays reserved.
  for (const auto& r : p.reserved) EXPECT_FALSE(r.base < 0x50400000 && r.base + r.size > 0x50000000);
  // arm64 takes the same node as a pool, with a note.
  const BoardPlan a64 = planOf(armTree(pool), kernelFor(Arch::kArm64));
  EXPECT_EQ(a64.regions[0].outcome, RegionOutcome::kInitialized);
  EXPECT_EQ(a64.regions[0].handler, "dma-coherent");
  EXPECT_FALSE(logHas(a64, "Reserved memory: regions without no-map are not yet supported"));
  // With no-map, 32-bit ARM makes the pool.
  const std::string nomap = "pool@50000000 { compatible = \"shared-dma-pool\"; reg = <0x50000000 0x400000>; no-map; };\n";
  const BoardPlan ok = planOf(armTree(nomap), kernelFor(Arch::kArm));
  EXPECT_EQ(ok.regions[0].outcome, RegionOutcome::kInitialized);
  EXPECT_TRUE(logHas(ok, "Reserved memory: created DMA memory pool at 0x50000000, size 4 MiB"));
}

TEST(Arch, ArmSetsUpStaticRegionsAfterTheDefaultArea) {
  // As the stock armmp 6.12 boot printed it (docs/kernel-behaviour.md §11.2): the default area's
  // line, then the late phase's lines for the static pool.
  const std::string pool = "pool@50000000 { compatible = \"shared-dma-pool\"; reg = <0x50000000 0x800000>; };\n";
  const BoardPlan p = planOf(armTree(pool), kernelFor(Arch::kArm, 6, 12));
  EXPECT_EQ(p.kernel_log, (std::vector<std::string>{"cma: Reserved 64 MiB at 0xbc000000 on node -1",
                                                     "Reserved memory: regions without no-map are not yet supported",
                                                     "OF: reserved mem: node pool@50000000 compatible matching fail"}));
  // Before the split (6.11 and older) the handlers ran inside the scan, before the default area.
  const BoardPlan old = planOf(armTree(pool), kernelFor(Arch::kArm, 6, 1));
  ASSERT_FALSE(old.kernel_log.empty());
  EXPECT_EQ(old.kernel_log.back(), "cma: Reserved 64 MiB at 0xbc000000");  // no " on node -1" before 6.6
  // A static linux,cma-default node therefore does not stop the Kconfig area on 32-bit ARM 6.12+:
  // both exist and the node's area is the default (it is assigned last).
  const std::string deflt =
      "linux,cma@60000000 { compatible = \"shared-dma-pool\"; reusable; linux,cma-default; reg = <0x60000000 0x2000000>; };\n";
  const BoardPlan arm = planOf(armTree(deflt), kernelFor(Arch::kArm, 6, 12));
  ASSERT_EQ(arm.cma_areas.size(), 2u);
  EXPECT_EQ(arm.cma_areas[0].name, "reserved");
  EXPECT_FALSE(arm.cma_areas[0].is_default);
  EXPECT_EQ(arm.cma_areas[1].name, "linux,cma@60000000");
  EXPECT_TRUE(arm.cma_areas[1].is_default);
  // arm64 sets the node up first, and then makes no Kconfig area.
  const BoardPlan a64 = planOf(armTree(deflt), kernelFor(Arch::kArm64, 6, 12));
  ASSERT_EQ(a64.cma_areas.size(), 1u);
  EXPECT_TRUE(a64.cma_areas[0].is_default);
}

TEST(Arch, RiscvDefaultAreaStaysBelow4GiB) {
  const std::string dts =
      "/dts-v1/;\n/ {\n#address-cells = <2>;\n#size-cells = <2>;\ncompatible = \"riscv-virtio\";\n"
      "cpus {\n#address-cells = <1>;\n#size-cells = <0>;\ncpu@0 { device_type = \"cpu\"; "
      "compatible = \"riscv\"; reg = <0>; riscv,isa = \"rv64imafdc\"; };\n};\n"
      "memory@80000000 { device_type = \"memory\"; reg = <0x0 0x80000000 0x2 0x0>; };\n};\n";
  Kernel k;  // no --arch: the tree says riscv64
  const BoardPlan p = planOf(dts, k);
  EXPECT_EQ(p.kernel.arch, Arch::kRiscv64);
  ASSERT_EQ(p.cma_areas.size(), 1u);
  EXPECT_EQ(p.cma_areas[0].base, 0xFC000000u);
  EXPECT_TRUE(logHas(p, "cma: Reserved 64 MiB at 0x00000000fc000000"));
  ASSERT_EQ(p.zones.size(), 2u);
  EXPECT_EQ(p.zones[0].name, "DMA32");
}

TEST(Arch, DetectedFromTheTree) {
  auto detect = [](const std::string& dts) {
    auto fdt = loadDeviceTree(writeDts(dts));
    EXPECT_TRUE(fdt.ok());
    return detectArch(fdt.value());
  };
  const auto arm = detect(armTree());
  EXPECT_EQ(arm.arch, Arch::kArm);
  EXPECT_EQ(arm.origin, ArchOrigin::kTree);
  EXPECT_EQ(arm.reason, "/cpus/cpu@0 is compatible with \"arm,cortex-a15\", a 32-bit ARM core");
  const std::string a53 =
      "/dts-v1/;\n/ {\n#address-cells = <2>;\n#size-cells = <2>;\ncpus {\n#address-cells = <1>;\n#size-cells = <0>;\n"
      "cpu-map { };\ncpu@0 { device_type = \"cpu\"; compatible = \"arm,cortex-a53\"; reg = <0>; };\n};\n};\n";
  EXPECT_EQ(detect(a53).arch, Arch::kArm64);
  EXPECT_EQ(detect(a53).reason, "/cpus/cpu@0 is compatible with \"arm,cortex-a53\", a 64-bit ARM core");
  // The ARM models' generic core (fvp-base-revc, foundation-v8) is 64-bit, not an "arm,arm..." one.
  std::string v8 = a53;
  v8.replace(v8.find("arm,cortex-a53"), 14, "arm,armv8");
  EXPECT_EQ(detect(v8).arch, Arch::kArm64);
  std::string arm926 = a53;
  arm926.replace(arm926.find("arm,cortex-a53"), 14, "arm,arm926ej-s");
  EXPECT_EQ(detect(arm926).arch, Arch::kArm);
  const std::string hart =
      "/dts-v1/;\n/ {\ncpus {\ncpu@0 { device_type = \"cpu\"; compatible = \"sifive,u74-mc\", \"riscv\"; };\n};\n};\n";
  EXPECT_EQ(detect(hart).arch, Arch::kRiscv64);
  EXPECT_EQ(detect(hart).reason, "/cpus/cpu@0 is compatible with \"riscv\", a RISC-V hart");
  const std::string soc = "/dts-v1/;\n/ {\ncompatible = \"starfive,jh7110\";\n};\n";
  EXPECT_EQ(detect(soc).arch, Arch::kRiscv64);
  const std::string one_cell = "/dts-v1/;\n/ {\n#address-cells = <1>;\n#size-cells = <1>;\n};\n";
  EXPECT_EQ(detect(one_cell).arch, Arch::kArm);
  EXPECT_EQ(detect(one_cell).reason, "no known cpu compatible; the root has #address-cells = <1>, as 32-bit ARM trees do");
  const std::string nothing = "/dts-v1/;\n/ {\n};\n";
  EXPECT_EQ(detect(nothing).arch, Arch::kArm64);
  EXPECT_EQ(detect(nothing).origin, ArchOrigin::kDefault);
}

TEST(Arch, OptionThenConfigThenTree) {
  auto fdt = loadDeviceTree(writeDts(armTree()));
  ASSERT_TRUE(fdt.ok());
  Kernel k;
  EXPECT_EQ(chooseArch(k, &fdt.value()).arch, Arch::kArm);
  EXPECT_EQ(chooseArch(k, nullptr).arch, Arch::kArm64);
  EXPECT_EQ(chooseArch(k, nullptr).origin, ArchOrigin::kDefault);
  k.config.arch = Arch::kRiscv64;
  EXPECT_EQ(chooseArch(k, &fdt.value()).arch, Arch::kRiscv64);
  EXPECT_EQ(chooseArch(k, &fdt.value()).reason, "the kernel .config sets CONFIG_RISCV=y");
  k.arch = Arch::kArm64;
  k.arch_origin = ArchOrigin::kOption;
  EXPECT_EQ(chooseArch(k, &fdt.value()).arch, Arch::kArm64);
  EXPECT_EQ(chooseArch(k, &fdt.value()).reason, "--arch arm64");
  // The plan records the choice.
  const BoardPlan p = planOf(armTree(), Kernel{});
  EXPECT_EQ(p.kernel.arch, Arch::kArm);
  EXPECT_EQ(p.arch_reason, "/cpus/cpu@0 is compatible with \"arm,cortex-a15\", a 32-bit ARM core");
}

}  // namespace
}  // namespace dmaheap::dt
