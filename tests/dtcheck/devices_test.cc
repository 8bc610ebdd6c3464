// dt-check --devices: what each memory-region entry gives its device, DMA reach, IOMMU, the heap
// to use and the pipelines, on hand-made trees with exact expected values; and the trees of
// examples/devices/ against their committed expected output.
#include "dtcheck/devices.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "devicetree/loader.h"
#include "devicetree/plan.h"
#include "dtcheck/report.h"

namespace dmaheap::dtcheck {
namespace {

namespace fs = std::filesystem;

Kernel kernel(const char* v) {
  Kernel k;
  k.version = KernelVersion::parse(v).value();
  return k;
}

Report reportOf(const std::string& path, const char* version, const std::string& cmdline = "") {
  auto fdt = dt::loadDeviceTree(path);
  EXPECT_TRUE(fdt.ok()) << (fdt.ok() ? "" : fdt.error().message());
  Report r = makeReport(path, cmdline, dt::planFromFdt(*fdt, kernel(version), cmdline));
  addDevices(&r, *fdt);
  return r;
}

// A 2-cell tree with 1 GiB of RAM at 0x40000000 (unless `memory` is given), `reserved` inside
// /reserved-memory and `body` at the root.
Report tree(const std::string& reserved, const std::string& body, const char* version,
            const std::string& memory = "memory@40000000 { device_type = \"memory\"; reg = <0x0 0x40000000 0x0 0x40000000>; };") {
  const std::string dts = "/dts-v1/;\n/ {\n#address-cells = <2>;\n#size-cells = <2>;\n" + memory +
                          "\nreserved-memory {\n#address-cells = <2>;\n#size-cells = <2>;\nranges;\n" + reserved +
                          "\n};\n" + body + "\n};\n";
  const std::string path = ::testing::TempDir() + "/devices_test-" + std::to_string(::getpid()) + ".dts";
  std::ofstream(path) << dts;
  return reportOf(path, version);
}

std::vector<std::string> deviceCodes(const Report& r) {
  std::vector<std::string> out;
  for (const auto& d : r.devices->diagnostics) out.push_back(d.code);
  return out;
}

const char* kPool = "pool: pool@60000000 { compatible = \"shared-dma-pool\"; reusable; reg = <0x0 0x60000000 0x0 0x4000000>; };";
const char* kCodec = "codec@20000000 { compatible = \"vendor,codec\"; memory-region = <&pool>; memory-region-names = \"frames\"; };";

TEST(Devices, OwnCmaRegionHasNoHeapBefore6_19SoTheDefaultHeapIsUsed) {
  const Report r = tree(kPool, kCodec, "6.12");
  ASSERT_EQ(r.devices->devices.size(), 1u);
  const DeviceEntry& e = r.devices->devices[0];
  EXPECT_EQ(e.device.path, "/codec@20000000");
  EXPECT_EQ(e.device.compatible, "vendor,codec");
  ASSERT_EQ(e.device.regions.size(), 1u);
  const auto& g = e.device.regions[0];
  EXPECT_EQ(g.name, "frames");
  EXPECT_EQ(g.target, "/reserved-memory/pool@60000000");
  EXPECT_EQ(g.binding, dt::RegionBinding::kCmaArea);
  EXPECT_EQ(r.plan.cma_areas[static_cast<size_t>(g.cma_area)].name, "pool@60000000");
  EXPECT_TRUE(g.reachable);
  EXPECT_EQ(e.region_heaps, (std::vector<std::string>{""}));
  EXPECT_EQ(e.heap, "reserved");
  EXPECT_EQ(e.heap_why,
            "no IOMMU: the default CMA area reserved (0x000000007c000000-0x000000007fffffff), inside the DMA reach");
  EXPECT_EQ(e.pipeline, 0);
  EXPECT_TRUE(r.devices->diagnostics.empty());
  EXPECT_EQ(renderDevicesText(*r.devices, r.plan),
            "\ndevices (memory-region):\n"
            "  /codec@20000000 (vendor,codec)\n"
            "    region 0 \"frames\" -> /reserved-memory/pool@60000000: cma 0x0000000060000000-0x0000000063ffffff 64 MiB, "
            "heap none on 6.12\n"
            "    DMA reach: unrestricted\n"
            "    IOMMU: none\n"
            "    heap: reserved (no IOMMU: the default CMA area reserved (0x000000007c000000-0x000000007fffffff), inside "
            "the DMA reach)\n"
            "\npipelines without IOMMU:\n"
            "  0: /codec@20000000 -> reserved (the default CMA area reserved (0x000000007c000000-0x000000007fffffff), "
            "inside the DMA reach)\n");
}

TEST(Devices, OwnCmaRegionIsItsHeapFrom6_19) {
  const Report r = tree(kPool, kCodec, "6.19");
  const DeviceEntry& e = r.devices->devices.at(0);
  EXPECT_EQ(e.region_heaps, (std::vector<std::string>{"pool@60000000"}));
  EXPECT_EQ(e.heap, "pool@60000000");
  EXPECT_EQ(e.heap_why,
            "no IOMMU: CMA area pool@60000000, the memory-region of /codec@20000000 "
            "(0x0000000060000000-0x0000000063ffffff), inside the DMA reach");
  const auto j = renderDevicesJson(*r.devices, r.plan);
  EXPECT_EQ(j[0]["regions"][0]["outcome"], "cma");
  EXPECT_EQ(j[0]["regions"][0]["cma_area"], "pool@60000000");
  EXPECT_EQ(j[0]["regions"][0]["heap"], "pool@60000000");
  EXPECT_EQ(j[0]["regions"][0]["base"], 0x60000000u);
  EXPECT_EQ(j[0]["regions"][0]["size"], 0x4000000u);
  EXPECT_EQ(j[0]["heap"], "pool@60000000");
  EXPECT_EQ(j[0]["iommu"]["kind"], "none");
  EXPECT_EQ(j[0]["dma_reach"]["restricted"], false);
}

TEST(Devices, DefaultRegionSharedByTwoDevicesIsOnePipelineNamedPerRelease) {
  const char* pool =
      "pool: pool@60000000 { compatible = \"shared-dma-pool\"; reusable; linux,cma-default; reg = <0x0 0x60000000 0x0 0x4000000>; };";
  const char* body =
      "cam@1000 { memory-region = <&pool>; };\n"
      "disp@2000 { memory-region = <&pool>; };\n"
      "solo@3000 { memory-region = <&other>; };\n";
  const std::string reserved = std::string(pool) + "other: other@70000000 { reg = <0x0 0x70000000 0x0 0x100000>; no-map; };";
  const Report r612 = tree(reserved, body, "6.12");
  ASSERT_EQ(r612.devices->pipelines.size(), 2u);
  EXPECT_EQ(r612.devices->pipelines[0].members, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(r612.devices->pipelines[0].heap, "pool@60000000");
  EXPECT_EQ(r612.devices->pipelines[1].members, (std::vector<size_t>{2}));
  EXPECT_EQ(r612.devices->pipelines[1].heap, "pool@60000000");
  EXPECT_EQ(r612.devices->devices[2].device.regions[0].binding, dt::RegionBinding::kCarveOut);
  const Report r618 = tree(reserved, body, "6.18");
  EXPECT_EQ(r618.devices->pipelines[0].heap, "default_cma_region");
  EXPECT_EQ(r618.devices->devices[0].heap, "default_cma_region");
  EXPECT_EQ(r618.devices->devices[0].region_heaps, (std::vector<std::string>{"default_cma_region"}));
}

TEST(Devices, IommuBehindEnabledIommuUsesTheSystemHeapADisabledOneDoesNot) {
  const char* body =
      "smmu: iommu@50000000 { #iommu-cells = <1>; };\n"
      "off: iommu@51000000 { #iommu-cells = <1>; status = \"disabled\"; };\n"
      "gpu@1000 { memory-region = <&pool>; iommus = <&smmu 0x1>, <&smmu 0x2>; };\n"
      "vpu@2000 { memory-region = <&pool>; iommus = <&off 0x3>; };\n"
      "pcie@3000 { memory-region = <&pool>; iommu-map = <0x0 &smmu 0x0 0x10000>; };\n";
  const Report r = tree(kPool, body, "6.12");
  const auto& d = r.devices->devices;
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].device.iommu.kind, dt::IommuKind::kIommus);
  EXPECT_EQ(d[0].device.iommu.targets, (std::vector<std::string>{"/iommu@50000000", "/iommu@50000000"}));
  EXPECT_TRUE(d[0].device.iommu.active);
  EXPECT_EQ(d[0].heap, "system");
  EXPECT_EQ(d[0].heap_why, "behind an IOMMU (iommus): scattered pages are mapped contiguously for it");
  EXPECT_EQ(d[0].pipeline, -1);
  EXPECT_FALSE(d[1].device.iommu.active);
  EXPECT_EQ(d[1].device.iommu.why_not, "the IOMMU /iommu@51000000 is disabled");
  EXPECT_EQ(d[1].heap, "reserved");
  EXPECT_EQ(d[2].device.iommu.kind, dt::IommuKind::kIommuMap);
  EXPECT_TRUE(d[2].device.iommu.active);
  EXPECT_EQ(d[2].heap, "system");
  ASSERT_EQ(r.devices->pipelines.size(), 1u);
  EXPECT_EQ(r.devices->pipelines[0].members, (std::vector<size_t>{1}));
}

TEST(Devices, NodesUnderADisabledBusAreNotDevices) {
  const char* body =
      "bus { status = \"disabled\"; codec@1 { memory-region = <&pool>; }; };\n"
      "off@2 { status = \"disabled\"; memory-region = <&pool>; };\n"
      "on@3 { memory-region = <&pool>; };\n";
  const Report r = tree(kPool, body, "6.12");
  ASSERT_EQ(r.devices->devices.size(), 1u);
  EXPECT_EQ(r.devices->devices[0].device.path, "/on@3");
}

TEST(Devices, ACmaAreaThatIsNeverActivatedIsFailedWithThePlanReason) {
  const char* pool = "pool: pool@f0000000 { compatible = \"shared-dma-pool\"; reusable; reg = <0x0 0xf0000000 0x0 0x20000000>; };";
  const Report r = tree(pool, "dev@1 { memory-region = <&pool>; };", "6.12",
                        "memory@40000000 { device_type = \"memory\"; reg = <0x0 0x40000000 0x1 0x0>; };");
  const auto& g = r.devices->devices.at(0).device.regions.at(0);
  EXPECT_EQ(g.binding, dt::RegionBinding::kFailed);
  EXPECT_EQ(g.reason.rfind("[cma-crosses-zones] CMA area pool@f0000000", 0), 0u) << g.reason;
  EXPECT_EQ(deviceCodes(r), (std::vector<std::string>{"device-region-failed"}));
  EXPECT_EQ(r.devices->diagnostics[0].severity, dt::Severity::kError);
}

TEST(Devices, WithoutMemoryAFailedRegionIsANoteAndNoHeapIsRecommended) {
  const char* pool = "pool: pool { compatible = \"shared-dma-pool\"; reusable; size = <0x0 0x1000000>; };";
  const Report r = tree(pool, "dev@1 { memory-region = <&pool>; };", "6.12", "");
  EXPECT_EQ(deviceCodes(r), (std::vector<std::string>{"device-region-failed", "pipeline-no-cma-heap"}));
  for (const auto& d : r.devices->diagnostics) EXPECT_EQ(d.severity, dt::Severity::kNote) << d.code;
  EXPECT_EQ(r.devices->devices[0].heap, "");
  EXPECT_EQ(r.devices->devices[0].heap_why, "no IOMMU: there is no default CMA area");
}

TEST(Devices, AKernelWithoutHeapsRecommendsNoneAndRaisesNoPipelineFinding) {
  const Report r = tree(kPool, kCodec, "5.4");
  EXPECT_EQ(r.devices->devices[0].heap, "");
  EXPECT_EQ(r.devices->devices[0].heap_why, "kernel 5.4 makes no DMA-BUF heaps");
  EXPECT_EQ(r.devices->pipelines[0].heap_why, "kernel 5.4 makes no DMA-BUF heaps");
  EXPECT_TRUE(r.devices->diagnostics.empty());
}

TEST(Devices, PhandlesResolveThroughLinuxPhandleAndZeroMatchesNothing) {
  const char* pool = "pool@60000000 { linux,phandle = <0x77>; compatible = \"shared-dma-pool\"; reusable; reg = <0x0 0x60000000 0x0 0x4000000>; };";
  const Report r = tree(pool, "dev@1 { memory-region = <0x77 0x0>; };", "6.12");
  const auto& regions = r.devices->devices.at(0).device.regions;
  ASSERT_EQ(regions.size(), 2u);
  EXPECT_EQ(regions[0].target, "/reserved-memory/pool@60000000");
  EXPECT_EQ(regions[0].binding, dt::RegionBinding::kCmaArea);
  EXPECT_EQ(regions[1].binding, dt::RegionBinding::kMissing);
  EXPECT_EQ(regions[1].reason, "phandle 0x0 matches no node");
  EXPECT_EQ(deviceCodes(r), (std::vector<std::string>{"device-region-missing"}));
}

TEST(Devices, WithoutTheOptionTheJsonKeepsItsFields) {
  const std::string path = ::testing::TempDir() + "/devices_test-opt-" + std::to_string(::getpid()) + ".dts";
  std::ofstream(path) << "/dts-v1/;\n/ {\n#address-cells = <2>;\n#size-cells = <2>;\n"
                         "memory@40000000 { device_type = \"memory\"; reg = <0x0 0x40000000 0x0 0x40000000>; };\n"
                         "reserved-memory {\n#address-cells = <2>;\n#size-cells = <2>;\nranges;\n"
                      << kPool << "\n};\n" << kCodec << "\n};\n";
  Options o;
  o.path = path;
  o.kernel_version = "6.12";
  o.json = true;
  std::string out, err;
  EXPECT_EQ(run(o, &out, &err), 0);
  const auto plain = nlohmann::json::parse(out);
  EXPECT_FALSE(plain.contains("devices"));
  EXPECT_FALSE(plain.contains("pipelines"));
  o.devices = true;
  out.clear();
  EXPECT_EQ(run(o, &out, &err), 0);
  auto with = nlohmann::json::parse(out);
  EXPECT_EQ(with["devices"].size(), 1u);
  EXPECT_EQ(with["pipelines"].size(), 1u);
  with.erase("devices");
  with.erase("pipelines");
  EXPECT_EQ(with, plain);
}

TEST(ReachCovers, JoinsWindowsEndToEndAndSeesGaps) {
  dt::DmaReach reach;
  reach.windows = {{0x80000000, 0x40000000, 0}, {0x40000000, 0x40000000, 0}};
  EXPECT_TRUE(dt::reachCovers(reach, 0x7ff00000, 0x200000));
  EXPECT_TRUE(dt::reachCovers(reach, 0x40000000, 0x80000000));
  EXPECT_FALSE(dt::reachCovers(reach, 0x40000000, 0x80001000));
  EXPECT_FALSE(dt::reachCovers(reach, 0x3ffff000, 0x2000));
  reach.windows.push_back({0xd0000000, 0x10000000, 0});
  EXPECT_FALSE(dt::reachCovers(reach, 0xbff00000, 0x200000));  // the gap 0xc0000000-0xcfffffff
  dt::DmaReach top;
  top.windows = {{0xffffffffff000000, 0x1000000, 0}};
  EXPECT_TRUE(dt::reachCovers(top, 0xffffffffff800000, 0x800000));
  EXPECT_FALSE(dt::reachCovers(top, 0xffffffffff800000, 0x900000));  // wraps past 2^64
  EXPECT_TRUE(dt::reachCovers(dt::DmaReach{}, 0, ~uint64_t{0}));
  dt::DmaReach broken;
  broken.translated = false;
  EXPECT_FALSE(dt::reachCovers(broken, 0x40000000, 0x1000));
}

// ---- examples/devices: one tree per diagnostic, with its expected output -----------------------

// The --devices section and the device diagnostics as dt-check prints them.
std::string devicesOutput(const Report& r) {
  std::string out = renderDevicesText(*r.devices, r.plan);
  for (const auto& d : r.devices->diagnostics) {
    out += "\n" + d.node + ": " + dt::severityName(d.severity) + " [" + d.code + "]: " + d.message + "\n";
    out += "  fix: " + d.fix + "\n";
  }
  return out;
}

TEST(DevicesExamples, MatchTheirExpectedOutputAndCoverEveryDeviceCode) {
  const fs::path dir = fs::path(DMAHEAP_SOURCE_DIR) / "examples/devices";
  std::set<std::string> codes;
  size_t trees = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".dts") continue;
    ++trees;
    fs::path expected = entry.path();
    expected.replace_extension(".expected");
    std::ifstream in(expected);
    ASSERT_TRUE(in) << expected << " is missing";
    std::stringstream want;
    want << in.rdbuf();
    const Report r = reportOf(entry.path().string(), "6.12");
    EXPECT_EQ(devicesOutput(r), want.str()) << entry.path().filename();
    for (const auto& d : r.devices->diagnostics) codes.insert(d.code);
    // The tree is named after the diagnostic it shows.
    EXPECT_TRUE(codes.count(entry.path().stem().string())) << entry.path().filename();
  }
  EXPECT_EQ(trees, 5u);
  EXPECT_EQ(codes, (std::set<std::string>{"device-region-missing", "device-region-disabled", "device-region-failed",
                                          "device-region-unreachable", "pipeline-no-cma-heap"}));
}

}  // namespace
}  // namespace dmaheap::dtcheck
