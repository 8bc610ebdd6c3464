#include "heaps/heap_profile.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace dmaheap {
namespace {

std::string names(const std::vector<HeapSpec>& specs) {
  std::string out;
  for (const auto& s : specs) {
    out += (out.empty() ? "" : " ") + s.kind + (s.name.empty() ? "" : ":" + s.name) + (s.cached ? "" : ",uncached") +
           (s.address_limit == AddressLimit::k32Bit ? ",dma32" : "") + (s.region.empty() ? "" : "@" + s.region);
  }
  return out;
}

TEST(HeapProfile, BuiltinProfiles) {
  EXPECT_EQ(names(builtinHeapProfile("android").value()), "system system,uncached");
  EXPECT_EQ(names(builtinHeapProfile("rockchip").value()), "system system,dma32 system,uncached system,uncached,dma32");
  EXPECT_EQ(names(builtinHeapProfile("nxp").value()), "cma:linux,cma cma:linux,cma-uncached,uncached");
  EXPECT_EQ(builtinHeapProfileNames(), (std::vector<std::string>{"android", "rockchip", "nxp"}));
  auto bad = builtinHeapProfile("Rockchip");
  EXPECT_EQ(bad.code(), EINVAL);
  EXPECT_EQ(bad.error().message(), "unknown heap profile 'Rockchip' (profiles: android, rockchip, nxp)");
}

TEST(HeapProfile, FileFormat) {
  auto specs = parseHeapProfile(R"({"heaps": [
      {"kind": "carveout", "name": "secure", "region": "/reserved-memory/secure@7e000000"},
      {"kind": "system", "cached": false, "dma32": true}]})", "h.json");
  ASSERT_TRUE(specs.ok()) << specs.error().message();
  EXPECT_EQ(names(*specs), "carveout:secure@/reserved-memory/secure@7e000000 system,uncached,dma32");
  EXPECT_EQ((*specs)[1].origin, "h.json: heaps[1]");
  EXPECT_TRUE(parseHeapProfile(R"({"heaps": []})", "h.json").value().empty());
}

TEST(HeapProfile, StrictErrors) {
  auto err = [](const char* text) {
    auto r = parseHeapProfile(text, "h.json");
    EXPECT_EQ(r.code(), EINVAL) << text;
    return r.ok() ? std::string() : r.error().message();
  };
  EXPECT_EQ(err(R"([])"), "h.json: must be a JSON object {\"heaps\": [...]}");
  EXPECT_EQ(err(R"({})"), "h.json: \"heaps\" must be an array of heaps");
  EXPECT_EQ(err(R"({"heaps": {}})"), "h.json: \"heaps\" must be an array of heaps");
  EXPECT_EQ(err(R"({"heaps": [], "x": 1})"), "h.json: unknown key 'x' (the file has one key: heaps)");
  EXPECT_EQ(err(R"({"heaps": [3]})"), "h.json: heaps[0]: must be an object with a \"kind\"");
  EXPECT_EQ(err(R"({"heaps": [{"kind": "system"}, {"name": "x"}]})"),
            "h.json: heaps[1]: needs a \"kind\" (system, cma, carveout)");
  EXPECT_EQ(err(R"({"heaps": [{"kind": 1}]})"), "h.json: heaps[0]: \"kind\" must be a string");
  EXPECT_EQ(err(R"({"heaps": [{"kind": "system", "name": ""}]})"), "h.json: heaps[0]: \"name\" must not be empty");
  EXPECT_EQ(err(R"({"heaps": [{"kind": "system", "dma32": 1}]})"), "h.json: heaps[0]: \"dma32\" must be true or false");
  EXPECT_EQ(err(R"({"heaps": [{"kind": "system", "Cached": false}]})"),
            "h.json: heaps[0]: unknown key 'Cached' (keys: kind, name, cached, dma32, region)");
  EXPECT_EQ(err(R"({"heaps": [{"kind": "system", "name": "../x"}]})"),
            "h.json: heaps[0]: \"name\" must be a plain /dev/dma_heap entry name, not '../x'");
  EXPECT_EQ(err("{\"heaps\": [").rfind("h.json: not valid JSON: ", 0), 0u);
}

TEST(HeapProfile, OptionsCombineProfileThenFile) {
  EXPECT_TRUE(heapProfileFromOptions("", "").value().empty());
  EXPECT_EQ(names(heapProfileFromOptions("android", "").value()), "system system,uncached");
  EXPECT_EQ(heapProfileFromOptions("android", "/nonexistent/heaps.json").code(), ENOENT);
  EXPECT_EQ(heapProfileFromOptions("bogus", "").code(), EINVAL);
}

// Numbers too big for a double made the JSON library throw out_of_range, which was not caught
// (fuzz/campaign-log.md): every such file is EINVAL, "not valid JSON", like any other bad JSON.
TEST(HeapProfile, NumbersOutOfRangeAreInvalidJson) {
  for (const char* text : {"1e999999", R"({"heaps": [1e400]})", "-1e400", R"({"heaps": [{"kind": 7e7777777}]})"}) {
    auto r = parseHeapProfile(text, "h.json");
    ASSERT_EQ(r.code(), EINVAL) << text;
    EXPECT_EQ(r.error().message().rfind("h.json: not valid JSON: ", 0), 0u) << r.error().message();
  }
  // The campaign's inputs themselves (tests/heaps/hostile/).
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(DMAHEAP_SOURCE_DIR) / "tests/heaps/hostile")) {
    auto r = readHeapProfileFile(e.path().string());
    EXPECT_EQ(r.code(), EINVAL) << e.path();
    ++files;
  }
  EXPECT_EQ(files, 5u);
}

}  // namespace
}  // namespace dmaheap
