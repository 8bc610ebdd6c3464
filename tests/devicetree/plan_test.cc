// The reserved-memory and CMA rules: exact outcomes, kernel log lines and diagnostic codes per
// kernel version and configuration.
#include <unistd.h>
#include "devicetree/plan.h"

#include <gtest/gtest.h>

#include <fstream>

#include "devicetree/loader.h"

namespace dmaheap::dt {
namespace {

Kernel kernel(int major, int minor) {
  Kernel k;
  k.version = KernelVersion::of(major, minor);
  return k;
}

// A 2-cell tree with `memory` (default: 1 GiB at 0x40000000) and `reserved` as the body of
// /reserved-memory (omitted when null).
BoardPlan plan(const std::string& reserved, const Kernel& k, const std::string& cmdline = "",
               const std::string& memory = "reg = <0x0 0x40000000 0x0 0x40000000>;", const std::string& extra = "") {
  std::string dts = "/dts-v1/;\n/ {\n#address-cells = <2>;\n#size-cells = <2>;\nmemory@40000000 {\n"
                    "device_type = \"memory\";\n" + memory + "\n};\n" + extra;
  if (!reserved.empty()) {
    dts += "reserved-memory {\n#address-cells = <2>;\n#size-cells = <2>;\nranges;\n" + reserved + "\n};\n";
  }
  dts += "};\n";
  const std::string path = ::testing::TempDir() + "/plan_test-" + std::to_string(::getpid()) + ".dts";
  std::ofstream(path) << dts;
  auto p = planFromFile(path, k, cmdline);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message());
  return p.ok() ? std::move(p).value() : BoardPlan{};
}

std::vector<std::string> codes(const BoardPlan& p) {
  std::vector<std::string> out;
  for (const auto& d : p.diagnostics) out.push_back(d.code);
  return out;
}
bool hasCode(const BoardPlan& p, const std::string& code) {
  for (const auto& d : p.diagnostics)
    if (d.code == code) return true;
  return false;
}
const Diagnostic* find(const BoardPlan& p, const std::string& code) {
  for (const auto& d : p.diagnostics)
    if (d.code == code) return &d;
  return nullptr;
}
bool logHas(const BoardPlan& p, const std::string& line) {
  for (const auto& l : p.kernel_log)
    if (l == line) return true;
  return false;
}

const char* kJuno =
    "framebuffer@60000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x60000000 0x0 0x8000000>;"
    " reusable; linux,cma-default; };";
const char* kJunoNotReusable =
    "framebuffer@60000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x60000000 0x0 0x8000000>;"
    " linux,cma-default; };";

TEST(DefaultBoard, KconfigAreaOnDefaultKernel) {
  const BoardPlan p = planDefaultBoard(Kernel{}, "");
  ASSERT_EQ(p.memory.size(), 1u);
  EXPECT_EQ(p.memory[0], (PhysRange{0x40000000, 2 * kGiB}));
  ASSERT_EQ(p.cma_areas.size(), 1u);
  EXPECT_EQ(p.cma_areas[0].name, "reserved");
  EXPECT_EQ(p.cma_areas[0].size, 64 * kMiB);
  EXPECT_EQ(p.cma_areas[0].base, 0xbc000000u);  // top-down below the end of RAM (< 4 GiB)
  EXPECT_TRUE(p.cma_areas[0].is_default);
  EXPECT_TRUE(p.diagnostics.empty());
  EXPECT_TRUE(logHas(p, "cma: Reserved 64 MiB at 0x00000000bc000000"));  // 6.15+: no node suffix
}

TEST(DefaultBoard, NodeSuffixOn6_6To6_14AndCmdline) {
  EXPECT_TRUE(logHas(planDefaultBoard(kernel(6, 12), ""), "cma: Reserved 64 MiB at 0x00000000bc000000 on node -1"));
  EXPECT_TRUE(logHas(planDefaultBoard(kernel(6, 1), ""), "cma: Reserved 64 MiB at 0x00000000bc000000"));
  const BoardPlan p = planDefaultBoard(Kernel{}, "console=ttyAMA0 cma=32M");
  ASSERT_EQ(p.cma_areas.size(), 1u);
  EXPECT_EQ(p.cma_areas[0].size, 32 * kMiB);
  EXPECT_TRUE(planDefaultBoard(Kernel{}, "cma=0").cma_areas.empty());
}

TEST(CmaCmdline, Syntax) {
  auto c = parseCmaCmdline("quiet cma=64M@0x70000000 root=/dev/vda");
  EXPECT_TRUE(c.present);
  EXPECT_EQ(c.size, 64 * kMiB);
  EXPECT_EQ(c.base, 0x70000000u);
  EXPECT_TRUE(c.fixed());
  c = parseCmaCmdline("cma=16M@0x60000000-0x80000000");
  EXPECT_EQ(c.limit, 0x80000000u);
  EXPECT_FALSE(c.fixed());
  c = parseCmaCmdline("cma=8M cma=32M");
  EXPECT_EQ(c.size, 32 * kMiB);
  EXPECT_FALSE(parseCmaCmdline("nocma=1").present);
}

TEST(Juno, ReusableDefaultBecomesTheDefaultArea) {
  const BoardPlan p = plan(kJuno, kernel(6, 12));
  ASSERT_EQ(p.cma_areas.size(), 1u);
  EXPECT_EQ(p.cma_areas[0].name, "framebuffer@60000000");
  EXPECT_EQ(p.cma_areas[0].base, 0x60000000u);
  EXPECT_TRUE(p.cma_areas[0].is_default);
  EXPECT_TRUE(p.cma_areas[0].from_dt);
  const std::vector<std::string> want = {
      "Reserved memory: created CMA memory pool at 0x0000000060000000, size 128 MiB",
      "OF: reserved mem: initialized node framebuffer@60000000, compatible id shared-dma-pool",
      "OF: reserved mem: 0x0000000060000000..0x0000000067ffffff (131072 KiB) map reusable framebuffer@60000000"};
  EXPECT_EQ(p.kernel_log, want);
  EXPECT_EQ(codes(p), std::vector<std::string>{"heap-name-changed"});
  EXPECT_FALSE(p.hasErrors());
}

TEST(Juno, NotReusableIsACoherentPool) {
  const BoardPlan p = plan(kJunoNotReusable, kernel(6, 12));
  ASSERT_EQ(p.cma_areas.size(), 1u);
  EXPECT_EQ(p.cma_areas[0].name, "reserved");  // the Kconfig default stays
  ASSERT_EQ(p.regions.size(), 1u);
  EXPECT_EQ(p.regions[0].handler, "dma-coherent");
  EXPECT_EQ(p.regions[0].outcome, RegionOutcome::kInitialized);
  const Diagnostic* d = find(p, "cma-not-reusable");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->severity, Severity::kWarning);
  EXPECT_EQ(d->node, "/reserved-memory/framebuffer@60000000");
  EXPECT_EQ(d->kernel_log.front(), "Reserved memory: created DMA memory pool at 0x0000000060000000, size 128 MiB");
  EXPECT_FALSE(d->fix.empty());
  EXPECT_FALSE(p.hasErrors());
}

TEST(Juno, OutsideMemoryCrashesPerEra) {
  const std::string outside =
      "framebuffer@10000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x10000000 0x0 0x8000000>;"
      " reusable; linux,cma-default; };";
  struct Case {
    Kernel k;
    const char* warn;
  } cases[] = {{kernel(6, 1), "WARNING: CPU: 0 PID: 1 at mm/cma.c:110 cma_init_reserved_areas"},
               {kernel(6, 12), "WARNING: CPU: 0 PID: 1 at mm/cma.c:106 cma_init_reserved_areas"},
               {kernel(7, 2), "WARNING: mm/cma.c:129 at cma_validate_zones, CPU#0: swapper/0/1"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.k.version.str());
    const BoardPlan p = plan(outside, c.k);
    EXPECT_TRUE(p.kernel_crashes);
    EXPECT_TRUE(p.hasErrors());
    const Diagnostic* d = find(p, "cma-outside-memory");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->severity, Severity::kError);
    EXPECT_EQ(d->kernel_log.front(), c.warn);
    EXPECT_EQ(d->kernel_log.back(), "Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b");
    EXPECT_EQ(p.regions[0].outcome, RegionOutcome::kCrashed);
    EXPECT_TRUE(logHas(p, "Reserved memory: created CMA memory pool at 0x0000000010000000, size 128 MiB"));
  }
}

TEST(Juno, StraddlingTheEndOfRamWarnsOnlyBefore6_15) {
  const std::string straddle =
      "fb@7c000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x7c000000 0x0 0x8000000>; reusable; };";
  EXPECT_TRUE(logHas(plan(straddle, kernel(6, 12)), "WARNING: CPU: 0 PID: 1 at mm/cma.c:109 cma_init_reserved_areas"));
  const BoardPlan p = plan(straddle, kernel(7, 2));
  EXPECT_TRUE(p.kernel_crashes);
  for (const auto& l : p.kernel_log) EXPECT_EQ(l.find("WARNING"), std::string::npos);
  const std::string at_end =
      "fb@7c000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x7c000000 0x0 0x4000000>; reusable; };";
  EXPECT_FALSE(plan(at_end, kernel(7, 2)).kernel_crashes);
}

TEST(Cma, ReusableNoMapPerEra) {
  const std::string rn = "fb@60000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x60000000 0x0 0x8000000>;"
                         " reusable; no-map; linux,cma-default; };";
  const BoardPlan old = plan(rn, kernel(6, 12));
  EXPECT_TRUE(logHas(old, "OF: reserved mem: node fb@60000000 compatible matching fail"));
  EXPECT_EQ(old.regions[0].outcome, RegionOutcome::kFailed);
  EXPECT_TRUE(hasCode(old, "cma-no-map"));
  const BoardPlan now = plan(rn, kernel(7, 2));
  EXPECT_FALSE(logHas(now, "OF: reserved mem: node fb@60000000 compatible matching fail"));
  EXPECT_TRUE(logHas(now, "OF: reserved mem: 0x0000000060000000..0x0000000067ffffff (131072 KiB) nomap reusable fb@60000000"));
  EXPECT_EQ(now.regions[0].outcome, RegionOutcome::kNoHandler);
  EXPECT_TRUE(hasCode(now, "cma-no-map"));
  ASSERT_EQ(now.cma_areas.size(), 1u);
  EXPECT_EQ(now.cma_areas[0].name, "reserved");
}

TEST(Cma, AlignmentDependsOnPageblockNotVersion) {
  const std::string r2m =
      "fb@60200000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x60200000 0x0 0x200000>; reusable; };";
  Kernel huge = kernel(6, 12);
  Kernel nohuge = kernel(6, 12);
  nohuge.config.hugetlb = false;
  EXPECT_FALSE(hasCode(plan(r2m, huge), "cma-misaligned"));
  const BoardPlan p = plan(r2m, nohuge);
  const Diagnostic* d = find(p, "cma-misaligned");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->kernel_log.front(), "Reserved memory: incorrect alignment of CMA region");
  EXPECT_TRUE(hasCode(plan(r2m, kernel(5, 10)), "cma-misaligned"));  // 4 MiB before 5.19
}

TEST(Cma, PageblockFromKernelConfig) {
  auto huge = KernelConfig::fromText("CONFIG_CMA=y\nCONFIG_DMA_CMA=y\nCONFIG_HUGETLB_PAGE=y\n");
  auto nohuge = KernelConfig::fromText("CONFIG_CMA=y\nCONFIG_DMA_CMA=y\n# CONFIG_HUGETLB_PAGE is not set\n");
  ASSERT_TRUE(huge.ok() && nohuge.ok());
  Kernel a{KernelVersion::of(6, 12), *huge};
  Kernel b{KernelVersion::of(6, 12), *nohuge};
  EXPECT_EQ(a.cmaMinAlignmentBytes(), 2 * kMiB);
  EXPECT_EQ(b.cmaMinAlignmentBytes(), 4 * kMiB);
}

TEST(Cma, TooManyAreas) {
  std::string pools;
  for (int i = 0; i < 24; ++i) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "pool%d@%x { compatible = \"shared-dma-pool\"; reg = <0x0 0x%x 0x0 0x400000>; reusable; };", i,
                  0x60000000 + i * 0x400000, 0x60000000 + i * 0x400000);
    pools += buf;
  }
  const BoardPlan p = plan(pools, kernel(6, 12));
  EXPECT_EQ(p.cma_areas.size(), 20u);
  EXPECT_TRUE(hasCode(p, "cma-too-many-areas"));
  EXPECT_TRUE(logHas(p, "OF: reserved mem: node pool20@65000000 compatible matching fail"));
  EXPECT_EQ(p.kernel_log.back(), "cma: Not enough slots for CMA reserved regions!");
}

TEST(Cma, CrossingTheDma32BoundaryIsNotActivated) {
  const std::string across =
      "fb@f0000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0xf0000000 0x0 0x20000000>; reusable; };";
  const BoardPlan p = plan(across, kernel(6, 12), "", "reg = <0x0 0x40000000 0x1 0x40000000>;");
  ASSERT_FALSE(p.cma_areas.empty());
  EXPECT_FALSE(p.cma_areas[0].activated);
  const Diagnostic* d = find(p, "cma-crosses-zones");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->kernel_log, std::vector<std::string>{"cma: CMA area fb@f0000000 could not be activated"});
  // 5.5-5.10 also have a 1 GiB ZONE_DMA for RAM starting at 0.
  const std::string low = "fb@3c000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x3c000000 0x0 0x8000000>; reusable; };";
  EXPECT_TRUE(hasCode(plan(low, kernel(5, 10), "", "reg = <0x0 0x0 0x0 0x80000000>;"), "cma-crosses-zones"));
  EXPECT_FALSE(hasCode(plan(low, kernel(5, 15), "", "reg = <0x0 0x0 0x0 0x80000000>;"), "cma-crosses-zones"));
}

TEST(Cmdline, PrecedencePerEra) {
  const BoardPlan v53 = plan(kJuno, kernel(5, 3), "cma=32M");
  ASSERT_EQ(v53.cma_areas.size(), 1u);
  EXPECT_EQ(v53.cma_areas[0].name, "framebuffer@60000000");  // DT wins on 5.3
  EXPECT_TRUE(hasCode(v53, "cma-default-overridden"));

  const BoardPlan v612 = plan(kJuno, kernel(6, 12), "cma=32M");
  EXPECT_TRUE(logHas(v612, "Reserved memory: bypass framebuffer@60000000 node, using cmdline CMA params instead"));
  EXPECT_TRUE(logHas(v612, "OF: reserved mem: node framebuffer@60000000 compatible matching fail"));
  ASSERT_EQ(v612.cma_areas.size(), 1u);
  EXPECT_EQ(v612.cma_areas[0].name, "reserved");
  EXPECT_EQ(v612.cma_areas[0].size, 32 * kMiB);
  EXPECT_TRUE(hasCode(v612, "cma-default-overridden"));

  const BoardPlan v72 = plan(kJuno, kernel(7, 2), "cma=32M");
  int skips = 0;
  for (const auto& l : v72.kernel_log)
    if (l == "Skipping dt linux,cma-default node in favor for \"cma=\" kernel param.") ++skips;
  EXPECT_EQ(skips, 2);
  EXPECT_EQ(v72.regions[0].outcome, RegionOutcome::kSkipped);
  EXPECT_TRUE(hasCode(v72, "cma-default-overridden"));
}

TEST(Cmdline, BootargsAreTheDefaultCommandLine) {
  const BoardPlan p =
      plan(kJuno, kernel(6, 12), "", "reg = <0x0 0x40000000 0x0 0x40000000>;", "chosen { bootargs = \"cma=16M\"; };");
  EXPECT_EQ(p.cmdline, "cma=16M");
  ASSERT_EQ(p.cma_areas.size(), 1u);
  EXPECT_EQ(p.cma_areas[0].size, 16 * kMiB);
}

TEST(Container, BadCellsOrRangesIgnoresEverything) {
  const std::string dts_body = kJuno;
  // Wrong #size-cells: build a tree by hand.
  const std::string path = ::testing::TempDir() + "/bad_container-" + std::to_string(::getpid()) + ".dts";
  std::ofstream(path) << "/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n"
                         "memory@40000000 { device_type = \"memory\"; reg = <0x0 0x40000000 0x0 0x40000000>; };\n"
                         "reserved-memory { #address-cells = <2>; #size-cells = <1>; ranges; " + dts_body + " }; };\n";
  const BoardPlan v612 = planFromFile(path, kernel(6, 12), "").value();
  EXPECT_TRUE(hasCode(v612, "reserved-bad-container"));
  EXPECT_EQ(find(v612, "reserved-bad-container")->kernel_log.size(), 2u);  // early and late scan
  EXPECT_EQ(v612.cma_areas[0].name, "reserved");
  const BoardPlan v61 = planFromFile(path, kernel(6, 1), "").value();
  EXPECT_EQ(find(v61, "reserved-bad-container")->kernel_log,
            std::vector<std::string>{"OF: fdt: Reserved memory: unsupported node format, ignoring"});
}

TEST(Container, UnitAddressFoundByPathNotByName) {
  const std::string path = ::testing::TempDir() + "/unit_container-" + std::to_string(::getpid()) + ".dts";
  std::ofstream(path) << "/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n"
                         "memory@40000000 { device_type = \"memory\"; reg = <0x0 0x40000000 0x0 0x40000000>; };\n"
                         "reserved-memory@0 { #address-cells = <2>; #size-cells = <2>; ranges; " + std::string(kJuno) + " }; };\n";
  EXPECT_EQ(planFromFile(path, kernel(6, 12), "").value().cma_areas[0].name, "framebuffer@60000000");
  const BoardPlan v53 = planFromFile(path, kernel(5, 3), "").value();
  EXPECT_EQ(v53.cma_areas[0].name, "reserved");
  EXPECT_TRUE(hasCode(v53, "reserved-bad-container"));
}

TEST(Static, InvalidRegLengthPerEra) {
  const std::string bad = "framebuffer@60000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x60000000 0x8000000>;"
                          " reusable; linux,cma-default; };";
  const std::string line = "Reserved memory: invalid reg property in 'framebuffer@60000000', skipping node.";
  EXPECT_EQ(find(plan(bad, kernel(6, 1)), "reserved-bad-reg")->kernel_log, std::vector<std::string>{"OF: fdt: " + line});
  EXPECT_EQ(find(plan(bad, kernel(6, 12)), "reserved-bad-reg")->kernel_log.size(), 2u);
  EXPECT_TRUE(find(plan(bad, kernel(7, 2)), "reserved-bad-reg")->kernel_log.empty());
}

TEST(Static, SizeZeroAndMultiplePairs) {
  const std::string zero = "fb@60000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x60000000 0x0 0x0>; reusable; };";
  const BoardPlan p = plan(zero, kernel(6, 12));
  EXPECT_TRUE(logHas(p, "OF: reserved mem: Reserved memory: failed to reserve memory for node 'fb@60000000': base "
                        "0x0000000060000000, size 0 MiB"));
  EXPECT_TRUE(hasCode(p, "reserved-bad-reg"));
  const std::string two = "pool@60000000 { compatible = \"shared-dma-pool\"; reusable;"
                          " reg = <0x0 0x60000000 0x0 0x1000000>, <0x0 0x62000000 0x0 0x1000000>; };";
  EXPECT_TRUE(logHas(plan(two, kernel(6, 12)),
                     "OF: reserved mem: fdt_scan_reserved_mem_reg_nodes() ignores 1 regions in node 'pool@60000000'"));
  EXPECT_TRUE(logHas(plan(two, kernel(7, 2)),
                     "OF: reserved mem: Reserved memory: node 'pool@60000000' has 2 <base size> entries, only the first is used"));
}

TEST(Static, DisabledNodeIsSkipped) {
  const std::string off = "fb@60000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x60000000 0x0 0x8000000>;"
                          " reusable; linux,cma-default; status = \"disabled\"; };";
  const BoardPlan p = plan(off, kernel(6, 12));
  EXPECT_EQ(p.regions[0].outcome, RegionOutcome::kSkipped);
  EXPECT_EQ(p.cma_areas[0].name, "reserved");
}

TEST(Static, OverlapIsOnlyAWarning) {
  const std::string two = "a@60000000 { reg = <0x0 0x60000000 0x0 0x1000000>; no-map; };"
                          "b@60800000 { reg = <0x0 0x60800000 0x0 0x1000000>; no-map; };";
  const BoardPlan p = plan(two, kernel(6, 12));
  const Diagnostic* d = find(p, "reserved-overlap");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->severity, Severity::kWarning);
  EXPECT_EQ(d->kernel_log[0], "OF: reserved mem: OVERLAP DETECTED!");
  EXPECT_EQ(d->kernel_log[1],
            "a@60000000 (0x0000000060000000--0x0000000061000000) overlaps with b@60800000 "
            "(0x0000000060800000--0x0000000061800000)");
  EXPECT_FALSE(p.hasErrors());
}

TEST(Static, NoMapCarveOutLeavesTheLinearMap) {
  const BoardPlan p = plan("fw@7e000000 { reg = <0x0 0x7e000000 0x0 0x2000000>; no-map; };", kernel(6, 12));
  EXPECT_EQ(p.regions[0].outcome, RegionOutcome::kNoHandler);
  ASSERT_EQ(p.reserved.size(), 1u);
  EXPECT_EQ(p.reserved[0], (PhysRange{0x7e000000, 32 * kMiB}));
  EXPECT_EQ(p.memory[0].size, kGiB);  // still RAM from 5.12 on (marked no-map)
  // 5.3 removes it from memory altogether.
  const BoardPlan v53 = plan("fw@7e000000 { reg = <0x0 0x7e000000 0x0 0x2000000>; no-map; };", kernel(5, 3));
  EXPECT_EQ(v53.memory[0].size, kGiB - 32 * kMiB);
}

TEST(Dynamic, TopDownInAllocRanges) {
  const std::string dyn = "linux,cma { compatible = \"shared-dma-pool\"; reusable; size = <0x0 0x4000000>;"
                          " alignment = <0x0 0x400000>; alloc-ranges = <0x0 0x40000000 0x0 0x40000000>; linux,cma-default; };";
  const BoardPlan p = plan(dyn, kernel(6, 12));
  ASSERT_EQ(p.cma_areas.size(), 1u);
  EXPECT_EQ(p.cma_areas[0].base, 0x7c000000u);  // as the real 6.12 kernel placed it
  EXPECT_EQ(p.cma_areas[0].name, "linux,cma");
}

TEST(Dynamic, PropertyLengthRules) {
  const std::string bad_size = "linux,cma { compatible = \"shared-dma-pool\"; reusable; size = <0x4000000>; };";
  const BoardPlan p = plan(bad_size, kernel(6, 12));
  EXPECT_TRUE(logHas(p, "OF: reserved mem: invalid size property in 'linux,cma' node."));
  EXPECT_TRUE(hasCode(p, "reserved-bad-size"));
  const std::string bad_align =
      "linux,cma { compatible = \"shared-dma-pool\"; reusable; size = <0x0 0x4000000>; alignment = <0x400000>; };";
  EXPECT_TRUE(hasCode(plan(bad_align, kernel(6, 12)), "reserved-bad-alignment"));
  const std::string bad_ranges = "linux,cma { compatible = \"shared-dma-pool\"; reusable; size = <0x0 0x4000000>;"
                                 " alloc-ranges = <0x0 0x40000000 0x40000000>; };";
  const BoardPlan r = plan(bad_ranges, kernel(6, 12));
  EXPECT_TRUE(logHas(r, "OF: reserved mem: invalid alloc-ranges property in 'linux,cma', skipping node."));
  EXPECT_TRUE(hasCode(r, "reserved-bad-alloc-ranges"));
}

TEST(Dynamic, AllocationFailure) {
  const std::string big = "linux,cma { compatible = \"shared-dma-pool\"; reusable; size = <0x0 0x80000000>; linux,cma-default; };";
  const BoardPlan p = plan(big, kernel(6, 12));
  EXPECT_TRUE(logHas(p, "OF: reserved mem: failed to allocate memory for node 'linux,cma': size 2048 MiB"));
  EXPECT_TRUE(hasCode(p, "reserved-alloc-failed"));
  EXPECT_TRUE(logHas(plan(big, kernel(5, 3)), "OF: reserved mem: failed to allocate memory for node 'linux,cma'"));
  const std::string outside = "linux,cma { compatible = \"shared-dma-pool\"; reusable; size = <0x0 0x2000000>;"
                              " alloc-ranges = <0x0 0x10000000 0x0 0x10000000>; };";
  EXPECT_TRUE(hasCode(plan(outside, kernel(6, 12)), "reserved-alloc-failed"));
}

// Three dynamic no-map pools as in Debian's fsl-ls1043a trees, 2 GiB of RAM: 5.3-6.11 allocate
// them in the order the kernel's (unstable) heap sort leaves them, 6.12 in node order; the
// addresses are those the stock 6.1 and 6.12 kernels logged (tests/oracle-shipped).
TEST(Dynamic, AllocationOrderFollowsTheKernelsSort) {
  const std::string pools =
      "bman-fbpr { compatible = \"shared-dma-pool\"; size = <0x0 0x1000000>; alignment = <0x0 0x1000000>; no-map; };"
      "qman-fqd { compatible = \"shared-dma-pool\"; size = <0x0 0x400000>; alignment = <0x0 0x400000>; no-map; };"
      "qman-pfdr { compatible = \"shared-dma-pool\"; size = <0x0 0x2000000>; alignment = <0x0 0x2000000>; no-map; };";
  const std::string ram = "reg = <0x0 0x40000000 0x0 0x80000000>;";
  const auto base = [](const BoardPlan& p, const std::string& name) {
    for (const auto& r : p.regions)
      if (r.name == name) return r.base;
    return uint64_t{1};
  };
  const BoardPlan old = plan(pools, kernel(6, 1), "", ram);
  EXPECT_EQ(base(old, "qman-fqd"), 0xbfc00000u);  // sorted first, allocated first: the top
  EXPECT_EQ(base(old, "qman-pfdr"), 0xbc000000u);
  EXPECT_EQ(base(old, "bman-fbpr"), 0xbe000000u);  // in the gap the other two left
  const BoardPlan now = plan(pools, kernel(6, 12), "", ram);
  EXPECT_EQ(base(now, "bman-fbpr"), 0xbf000000u);
  EXPECT_EQ(base(now, "qman-fqd"), 0xbec00000u);
  EXPECT_EQ(base(now, "qman-pfdr"), 0xbc000000u);
}

TEST(Dynamic, SizeZeroGetsAnAddressThenCmaRefusesIt) {
  const std::string zero = "linux,cma { compatible = \"shared-dma-pool\"; reusable; size = <0x0 0x0>; linux,cma-default; };";
  const BoardPlan p = plan(zero, kernel(6, 12));
  EXPECT_TRUE(logHas(p, "Reserved memory: unable to setup CMA region"));
  EXPECT_TRUE(logHas(p, "OF: reserved mem: node linux,cma compatible matching fail"));
  EXPECT_EQ(p.cma_areas[0].name, "reserved");
}

TEST(Limits, ThirtyTwoRegionsBefore5_7) {
  std::string many;
  for (int i = 0; i < 40; ++i) {
    char buf[120];
    std::snprintf(buf, sizeof buf, "r%d@%x { reg = <0x0 0x%x 0x0 0x100000>; };", i, 0x60000000 + i * 0x100000,
                  0x60000000 + i * 0x100000);
    many += buf;
  }
  const BoardPlan v53 = plan(many, kernel(5, 3));
  EXPECT_TRUE(hasCode(v53, "reserved-too-many"));
  EXPECT_TRUE(logHas(v53, "OF: fdt: not enough space for all defined regions."));
  EXPECT_FALSE(hasCode(plan(many, kernel(5, 10)), "reserved-too-many"));
}

TEST(Handlers, RestrictedPoolAndUnknownCompatible) {
  const BoardPlan p = plan("restricted@70000000 { compatible = \"restricted-dma-pool\"; reg = <0x0 0x70000000 0x0 0x400000>; };"
                           "vendor@71000000 { compatible = \"acme,secure-mem\"; reg = <0x0 0x71000000 0x0 0x400000>; };",
                           kernel(6, 12));
  EXPECT_TRUE(logHas(p, "software IO TLB: Reserved memory: created restricted DMA pool at 0x0000000070000000, size 4 MiB"));
  EXPECT_EQ(p.regions[0].handler, "restricted-dma");
  EXPECT_EQ(p.regions[1].outcome, RegionOutcome::kNoHandler);
  EXPECT_TRUE(hasCode(p, "reserved-no-handler"));
}

TEST(Defaults, TwoDefaultsLastWins) {
  const BoardPlan p = plan("fb0@60000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x60000000 0x0 0x2000000>; reusable; linux,cma-default; };"
                           "fb1@68000000 { compatible = \"shared-dma-pool\"; reg = <0x0 0x68000000 0x0 0x2000000>; reusable; linux,cma-default; };",
                           kernel(6, 12));
  ASSERT_EQ(p.cma_areas.size(), 2u);
  EXPECT_FALSE(p.cma_areas[0].is_default);
  EXPECT_TRUE(p.cma_areas[1].is_default);
  EXPECT_TRUE(hasCode(p, "cma-default-duplicate"));
}

TEST(Memory, UsableMemoryAndIgnoredBlocks) {
  const BoardPlan p = plan("", kernel(6, 12), "",
                           "reg = <0x0 0x40000000 0x0 0x40000000>; linux,usable-memory = <0x0 0x40000000 0x0 0x20000000>;");
  EXPECT_EQ(p.memory[0], (PhysRange{0x40000000, 512 * kMiB}));
  const BoardPlan q = plan("", kernel(6, 12), "", "reg = <0x0 0x40000800 0x0 0x7ff>, <0x0 0x50000000 0x0 0x10000000>;");
  EXPECT_TRUE(logHas(q, "OF: fdt: Ignoring memory block 0x40000800 - 0x40000fff"));
  EXPECT_TRUE(hasCode(q, "memory-ignored"));
  ASSERT_EQ(q.memory.size(), 1u);
}

TEST(Memory, NoMemoryNodeIsANoteNotACrash) {
  const std::string path = ::testing::TempDir() + "/nomem-" + std::to_string(::getpid()) + ".dts";
  std::ofstream(path) << "/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n"
                         "memory { device_type = \"memory\"; reg = <0x0 0x0 0x0 0x0>; };\n"
                         "reserved-memory { #address-cells = <2>; #size-cells = <2>; ranges; " + std::string(kJuno) + " }; };\n";
  const BoardPlan p = planFromFile(path, Kernel{}, "").value();
  EXPECT_TRUE(hasCode(p, "memory-missing"));
  EXPECT_FALSE(p.kernel_crashes);
  EXPECT_FALSE(p.hasErrors());
}

TEST(Cells, ZeroCellsDoNotLoop) {
  const std::string path = ::testing::TempDir() + "/zerocells-" + std::to_string(::getpid()) + ".dts";
  std::ofstream(path) << "/dts-v1/;\n/ { #address-cells = <0>; #size-cells = <0>;\n"
                         "memory { device_type = \"memory\"; reg = <>; };\n"
                         "reserved-memory { #address-cells = <0>; #size-cells = <0>; ranges; x { reg = <>; }; y { size = <>; }; }; };\n";
  const BoardPlan p = planFromFile(path, Kernel{}, "").value();
  EXPECT_TRUE(hasCode(p, "dt-bad-cells"));
}

}  // namespace
}  // namespace dmaheap::dt
