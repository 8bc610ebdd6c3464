// dt-check on the examples/: exact codes, CMA areas, heap names and exit status, both through the
// library and by running the dmaheap binary; the JSON fields of docs/cli.md; the SVG.
#include <unistd.h>
#include "dtcheck/report.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

namespace dmaheap::dtcheck {
namespace {

const std::string kExamples = std::string(DMAHEAP_SOURCE_DIR) + "/examples/";

struct Outcome {
  int status = -1;
  nlohmann::json json;
  std::string text;
};

Outcome check(const std::string& file, const std::string& kernel, const std::string& cmdline = "") {
  Options o;
  o.path = kExamples + file;
  o.kernel_version = kernel;
  o.cmdline = cmdline;
  Outcome r;
  std::string err;
  r.status = run(o, &r.text, &err);
  o.json = true;
  std::string js;
  EXPECT_EQ(run(o, &js, &err), r.status);
  r.json = nlohmann::json::parse(js);
  return r;
}

std::set<std::string> codesOf(const nlohmann::json& j) {
  std::set<std::string> out;
  for (const auto& d : j["diagnostics"]) out.insert(d["code"].get<std::string>());
  return out;
}
std::vector<std::string> heapsOf(const nlohmann::json& j) {
  std::vector<std::string> out;
  for (const auto& h : j["heaps"]) out.push_back(h["name"].get<std::string>());
  return out;
}

// Runs the binary; returns exit status and stdout.
std::pair<int, std::string> runTool(const std::string& args) {
  const std::string cmd = std::string(DMAHEAP_TOOL) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST(Examples, JunoFramebufferCma) {
  const auto v612 = check("juno-framebuffer-cma.dts", "6.12");
  EXPECT_EQ(v612.status, 0);
  EXPECT_EQ(codesOf(v612.json), (std::set<std::string>{"heap-name-changed"}));
  ASSERT_EQ(v612.json["cma_areas"].size(), 1u);
  EXPECT_EQ(v612.json["cma_areas"][0]["name"], "framebuffer@60000000");
  EXPECT_EQ(v612.json["cma_areas"][0]["base"], 0x60000000u);
  EXPECT_EQ(v612.json["cma_areas"][0]["size"], 128u << 20);
  EXPECT_EQ(v612.json["cma_areas"][0]["default"], true);
  EXPECT_EQ(heapsOf(v612.json), (std::vector<std::string>{"system", "framebuffer@60000000"}));
  const auto v618 = check("juno-framebuffer-cma.dts", "6.18");
  EXPECT_EQ(heapsOf(v618.json), (std::vector<std::string>{"system", "default_cma_region", "framebuffer@60000000"}));
}

TEST(Examples, JunoFramebufferNotReusable) {
  const auto r = check("juno-framebuffer-not-reusable.dts", "6.12");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(codesOf(r.json), (std::set<std::string>{"cma-not-reusable", "dma-pool-needs-no-map"}));
  ASSERT_EQ(r.json["cma_areas"].size(), 1u);
  EXPECT_EQ(r.json["cma_areas"][0]["name"], "reserved");
  EXPECT_EQ(heapsOf(r.json), (std::vector<std::string>{"system", "reserved"}));
  EXPECT_EQ(r.json["reserved"][0]["outcome"], "initialized");
  EXPECT_EQ(r.json["reserved"][0]["reusable"], false);
  EXPECT_NE(r.text.find("/reserved-memory/framebuffer@60000000: warning [cma-not-reusable]: "), std::string::npos);
}

TEST(Examples, JunoFramebufferOutsideMemoryCrashes) {
  for (const char* k : {"5.3", "6.1", "6.12", "6.18", "7.2"}) {
    SCOPED_TRACE(k);
    const auto r = check("juno-framebuffer-outside-memory.dts", k);
    EXPECT_EQ(r.status, 1);
    EXPECT_TRUE(codesOf(r.json).count("cma-outside-memory"));
    EXPECT_EQ(r.json["kernel_crashes"], true);
    EXPECT_TRUE(r.json["heaps"].empty());
    EXPECT_NE(r.text.find("Unable to handle kernel paging request"), std::string::npos);
    EXPECT_NE(r.text.find("WARNING"), std::string::npos);
  }
}

TEST(Examples, DynamicCmaAllocRanges) {
  const auto r = check("dynamic-cma-alloc-ranges.dts", "6.12");
  EXPECT_EQ(r.status, 0);
  ASSERT_EQ(r.json["cma_areas"].size(), 1u);
  EXPECT_EQ(r.json["cma_areas"][0]["name"], "linux,cma");
  EXPECT_EQ(r.json["cma_areas"][0]["base"], 0x70000000u);
  EXPECT_EQ(r.json["cma_areas"][0]["size"], 256u << 20);
  EXPECT_EQ(heapsOf(r.json), (std::vector<std::string>{"system", "linux,cma"}));
  EXPECT_EQ(heapsOf(check("dynamic-cma-alloc-ranges.dts", "7.2").json),
            (std::vector<std::string>{"system", "default_cma_region", "linux,cma"}));
}

TEST(Examples, NoMapCarveOut) {
  const auto r = check("nomap-carveout.dts", "6.12");
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.json["diagnostics"].empty());
  EXPECT_EQ(r.json["reserved"][0]["no_map"], true);
  EXPECT_EQ(r.json["reserved"][0]["outcome"], "no-handler");
  EXPECT_EQ(heapsOf(r.json), (std::vector<std::string>{"system", "reserved"}));
}

TEST(Json, HasTheDesignFields) {
  const auto r = check("juno-framebuffer-cma.dts", "6.18");
  for (const char* k : {"kernel", "memory", "reserved", "cma_areas", "heaps", "diagnostics"}) EXPECT_TRUE(r.json.contains(k)) << k;
  for (const char* k : {"base", "size"}) EXPECT_TRUE(r.json["memory"][0].contains(k));
  for (const char* k : {"name", "path", "base", "size", "no_map", "reusable", "compatible", "outcome"})
    EXPECT_TRUE(r.json["reserved"][0].contains(k)) << k;
  for (const char* k : {"name", "base", "size", "default", "activated"}) EXPECT_TRUE(r.json["cma_areas"][0].contains(k)) << k;
  for (const char* k : {"name", "type", "area"}) EXPECT_TRUE(r.json["heaps"][0].contains(k)) << k;
  for (const char* k : {"severity", "code", "node", "message", "kernel_log"})
    EXPECT_TRUE(r.json["diagnostics"][0].contains(k)) << k;
  EXPECT_EQ(r.json["kernel"], "6.18");
  EXPECT_EQ(r.json["heaps"][0]["type"], "system");
  EXPECT_EQ(r.json["heaps"][1]["type"], "cma");
}

TEST(Tool, ExitStatusAndOutput) {
  auto [st, out] = runTool("dt-check " + kExamples + "juno-framebuffer-not-reusable.dts");
  EXPECT_EQ(st, 0);
  EXPECT_NE(out.find("[cma-not-reusable]"), std::string::npos);
  std::tie(st, out) = runTool("dt-check " + kExamples + "juno-framebuffer-outside-memory.dts --json");
  EXPECT_EQ(st, 1);
  EXPECT_NE(out.find("\"cma-outside-memory\""), std::string::npos);
  std::tie(st, out) = runTool("dt-check " + kExamples + "juno-framebuffer-cma.dts --kernel 4.19");
  EXPECT_EQ(st, 2);
  std::tie(st, out) = runTool("dt-check /nonexistent.dtb");
  EXPECT_EQ(st, 2);
  std::tie(st, out) = runTool("dt-check " + kExamples + "../README.md");
  EXPECT_EQ(st, 2);
  std::tie(st, out) = runTool("dt-check " + kExamples + "juno-framebuffer-cma.dts --cmdline cma=32M --kernel 6.12");
  EXPECT_EQ(st, 0);
  EXPECT_NE(out.find("[cma-default-overridden]"), std::string::npos);
}

TEST(Svg, DrawsTheMapWithHeapNames) {
  const std::string svg = ::testing::TempDir() + "/juno-" + std::to_string(::getpid()) + ".svg";
  auto [st, out] = runTool("dt-check " + kExamples + "juno-framebuffer-cma.dts --kernel 6.18 --svg " + svg);
  EXPECT_EQ(st, 0);
  std::ifstream in(svg);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  EXPECT_EQ(s.rfind("<svg", 0), 0u);
  EXPECT_NE(s.find("</svg>"), std::string::npos);
  EXPECT_NE(s.find("/dev/dma_heap/default_cma_region, framebuffer@60000000"), std::string::npos);
  EXPECT_NE(s.find("RAM 0x0000000040000000"), std::string::npos);
}

}  // namespace
}  // namespace dmaheap::dtcheck

namespace dmaheap::dtcheck {
namespace {

// Found by the fuzzer: a node name with bytes that are not UTF-8 made the JSON output throw
// (and the process abort). Such bytes now come out as U+FFFD; text and SVG are unaffected.
TEST(MalformedInput, NonUtf8NodeNamesInJson) {
  Options o;
  o.path = std::string(DMAHEAP_SOURCE_DIR) + "/tests/dtcheck/data/fuzz-non-utf8-name.dtb";
  o.json = true;
  std::string out, err;
  const int status = run(o, &out, &err);
  EXPECT_NE(status, 2) << err;
  EXPECT_NE(out.find("\"diagnostics\""), std::string::npos);
  EXPECT_NE(out.find("\xef\xbf\xbd"), std::string::npos) << "the replacement character";
  o.json = false;
  EXPECT_EQ(run(o, &out, &err), status);
}

// Found by the fuzzer: a region address far outside its memory bank overflowed the SVG's
// float-to-int coordinate conversion (undefined behaviour; the sanitizer run aborts on it).
TEST(MalformedInput, SvgOfAnAddressFarOutsideTheBank) {
  Options o;
  o.path = std::string(DMAHEAP_SOURCE_DIR) + "/tests/dtcheck/data/fuzz-svg-huge-offset.dtb";
  o.svg_path = ::testing::TempDir() + "/fuzz-svg-" + std::to_string(::getpid()) + ".svg";
  std::string out, err;
  EXPECT_NE(run(o, &out, &err), 2) << err;
  std::ifstream svg(*o.svg_path);
  std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("</svg>"), std::string::npos);
}


// ---- Zones from dma-ranges and bootloader memory fix-ups (docs/kernel-behaviour.md §6.10) ----

Outcome checkWith(const std::string& file, const std::string& kernel, const std::string& memory,
                  const std::string& memory_size) {
  Options o;
  o.path = kExamples + file;
  o.kernel_version = kernel;
  o.memory = memory;
  o.memory_size = memory_size;
  Outcome r;
  std::string err;
  o.json = true;
  std::string js;
  r.status = run(o, &js, &err);
  if (r.status != 2) r.json = nlohmann::json::parse(js);
  r.text = err;
  return r;
}

std::vector<std::tuple<std::string, uint64_t, uint64_t>> zonesOf(const nlohmann::json& j) {
  std::vector<std::tuple<std::string, uint64_t, uint64_t>> out;
  for (const auto& z : j["zones"]) out.emplace_back(z["name"].get<std::string>(), z["base"].get<uint64_t>(), z["size"].get<uint64_t>());
  return out;
}

TEST(Examples, DmaZoneCrossing) {
  const auto r = check("dma-zone-crossing.dts", "6.12");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(zonesOf(r.json), (std::vector<std::tuple<std::string, uint64_t, uint64_t>>{
                                 {"DMA", 0x40000000, 0x40000000}, {"DMA32", 0x80000000, 0x40000000}}));
  ASSERT_TRUE(codesOf(r.json).count("cma-crosses-zones"));
  for (const auto& d : r.json["diagnostics"]) {
    if (d["code"] != "cma-crosses-zones") continue;
    EXPECT_EQ(d["node"], "/reserved-memory/camera@7e000000");
    EXPECT_NE(d["message"].get<std::string>().find("boundary at 0x0000000080000000 (ZONE_DMA below, ZONE_DMA32 above)"),
              std::string::npos)
        << d["message"];
    EXPECT_EQ(d["kernel_log"], nlohmann::json::array({"cma: CMA area camera@7e000000 could not be activated"}));
  }
  for (const auto& a : r.json["cma_areas"])
    if (a["name"] == "camera@7e000000") {
      EXPECT_EQ(a["activated"], false);
    }
  // The default area goes top-down below the DMA zone's end, below the camera region.
  bool found = false;
  for (const auto& a : r.json["cma_areas"]) {
    if (a["name"] != "reserved") continue;
    found = true;
    EXPECT_EQ(a["base"].get<uint64_t>() + a["size"].get<uint64_t>(), 0x7e000000u);
  }
  EXPECT_TRUE(found);
}

TEST(Examples, DmaLimitBelowRam) {
  const auto v612 = check("dma-limit-below-ram.dts", "6.12");
  EXPECT_EQ(v612.status, 1);
  EXPECT_EQ(zonesOf(v612.json), (std::vector<std::tuple<std::string, uint64_t, uint64_t>>{{"DMA32", 0x40000000, 0x40000000}}));
  EXPECT_EQ(v612.json["dma_limit"]["max_cpu_address"], 0x3fffffffu);
  EXPECT_TRUE(v612.json["cma_areas"].empty());
  ASSERT_EQ(codesOf(v612.json), (std::set<std::string>{"cma-reserve-failed"}));
  EXPECT_EQ(v612.json["diagnostics"][0]["kernel_log"], nlohmann::json::array({"cma: Failed to reserve 64 MiB on node -1"}));
  EXPECT_NE(v612.json["diagnostics"][0]["message"].get<std::string>().find("lies at or below the start of RAM"), std::string::npos);
  // 6.1 rounds the 30-bit limit into a zone that reaches 4 GiB: the area is reserved.
  const auto v61 = check("dma-limit-below-ram.dts", "6.1");
  EXPECT_EQ(v61.status, 0);
  EXPECT_EQ(zonesOf(v61.json), (std::vector<std::tuple<std::string, uint64_t, uint64_t>>{{"DMA", 0x40000000, 0x40000000}}));
  ASSERT_EQ(v61.json["cma_areas"].size(), 1u);
  EXPECT_EQ(v61.json["cma_areas"][0]["base"], 0x7c000000u);
}

TEST(Examples, PlaceholderMemoryFilledByMemorySize) {
  const auto none = checkWith("placeholder-memory.dts", "6.12", "", "");
  EXPECT_TRUE(codesOf(none.json).count("memory-missing"));
  EXPECT_TRUE(none.json["memory"].empty());
  for (const auto& d : none.json["diagnostics"])
    if (d["code"] == "memory-missing") {
      EXPECT_NE(d["fix"].get<std::string>().find("--memory-size"), std::string::npos);
    }

  const auto r = checkWith("placeholder-memory.dts", "6.12", "", "4G");
  ASSERT_EQ(r.status, 0) << r.text;
  EXPECT_EQ(r.json["memory"], nlohmann::json::parse(R"([{"base":0,"size":4294967296}])"));
  EXPECT_EQ(r.json["memory_origin"]["from"], "--memory-size");
  EXPECT_EQ(r.json["memory_origin"]["nodes"], nlohmann::json::array({"/memory@0"}));
  EXPECT_NE(r.json["memory_origin"]["detail"].get<std::string>().find("the base the tree's /memory@0 gives"), std::string::npos);
  EXPECT_EQ(zonesOf(r.json), (std::vector<std::tuple<std::string, uint64_t, uint64_t>>{
                                 {"DMA", 0, 0x40000000}, {"DMA32", 0x40000000, 0xc0000000}}));
  ASSERT_EQ(r.json["cma_areas"].size(), 1u);
  EXPECT_EQ(r.json["cma_areas"][0]["name"], "linux,cma");
  EXPECT_EQ(r.json["cma_areas"][0]["base"].get<uint64_t>() + r.json["cma_areas"][0]["size"].get<uint64_t>(), 0x30000000u);

  const auto m = checkWith("placeholder-memory.dts", "6.12", "0:1G,0x40000000:1G", "");
  ASSERT_EQ(m.status, 0) << m.text;
  EXPECT_EQ(m.json["memory_origin"]["from"], "--memory");
  EXPECT_EQ(m.json["memory"], nlohmann::json::parse(R"([{"base":0,"size":2147483648}])"));
  // 4 GiB does not fit the root's one size cell: written as two 2 GiB pairs, read back as one range.
  EXPECT_EQ(r.json["memory"].size(), 1u);
  // A zero size, both options at once and overlapping banks are usage errors.
  EXPECT_EQ(checkWith("placeholder-memory.dts", "6.12", "0:0", "").status, 2);
  EXPECT_EQ(checkWith("placeholder-memory.dts", "6.12", "0:1G", "1G").status, 2);
  EXPECT_EQ(checkWith("placeholder-memory.dts", "6.12", "0:1G,0x20000000:1G", "").status, 2);
}

TEST(Examples, MemorySizeLeavesCompleteMemoryAlone) {
  // rockchip-6g-above-4g has memory nodes with sizes: --memory-size changes nothing.
  const auto r = checkWith("rockchip-6g-above-4g.dts", "6.12", "", "1G");
  EXPECT_EQ(r.json["memory_origin"]["from"], "tree");
  EXPECT_EQ(r.json["memory"], nlohmann::json::parse(R"([{"base":2147483648,"size":6442450944}])"));
}

}  // namespace
}  // namespace dmaheap::dtcheck
