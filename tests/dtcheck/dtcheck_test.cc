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

}  // namespace
}  // namespace dmaheap::dtcheck
