// checkFdtLayout and Fdt::fromBlob on hostile blobs: every header field out of range, broken
// structure blocks, the crashers found so far (tests/devicetree/hostile/), and every single-byte
// change of a real blob (none may crash; under ASan none may read outside the blob).
#include "devicetree/fdt_layout.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "devicetree/fdt.h"
#include "devicetree/loader.h"

namespace dmaheap::dt {
namespace {

std::vector<uint8_t> compile(const std::string& dts, const std::string& extra_flags = "") {
  const std::string base = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "-layout";
  std::ofstream(base + ".dts") << dts;
  const std::string cmd = "dtc -q -I dts -O dtb " + extra_flags + " -o " + base + ".dtb " + base + ".dts";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(base + ".dtb", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

const char* kTree =
    "/dts-v1/;\n/memreserve/ 0x48000000 0x1000;\n/ { #address-cells = <1>; #size-cells = <1>; model = \"m\";\n"
    "memory@40000000 { device_type = \"memory\"; reg = <0x40000000 0x40000000>; };\n"
    "reserved-memory { #address-cells = <1>; #size-cells = <1>; ranges;\n"
    "  pool@50000000 { compatible = \"shared-dma-pool\"; reusable; reg = <0x50000000 0x1000000>; }; }; };\n";

void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  b[at] = v >> 24;
  b[at + 1] = v >> 16;
  b[at + 2] = v >> 8;
  b[at + 3] = v;
}
uint32_t get32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) | (uint32_t{b[at + 2]} << 8) | b[at + 3];
}

std::string reason(const std::vector<uint8_t>& b) {
  auto st = checkFdtLayout(b);
  return st ? std::string("ok") : st.error().message();
}

TEST(FdtLayout, RealBlobsOfVersion17And16Pass) {
  EXPECT_EQ(reason(compile(kTree)), "ok");
  const auto v16 = compile(kTree, "-V 16");
  EXPECT_EQ(get32(v16, 20), 16u);
  EXPECT_EQ(reason(v16), "ok");
  EXPECT_TRUE(Fdt::fromBlob(v16).ok());
}

TEST(FdtLayout, CrasherWithVersion10IsRefusedBeforeLibfdt) {
  const std::string path = std::string(DMAHEAP_SOURCE_DIR) + "/tests/devicetree/hostile/fdt-check-full-segv.dtb";
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> blob{std::istreambuf_iterator<char>(in), {}};
  ASSERT_EQ(blob.size(), 840u);
  auto fdt = Fdt::fromBlob(blob);
  ASSERT_FALSE(fdt.ok());
  EXPECT_EQ(fdt.code(), EINVAL);
  EXPECT_EQ(fdt.error().message(),
            "device tree blob: version 10 is older than 16: versions 2-15 (full-path node names, no structure size) "
            "are not read; recompile the source with dtc, which writes version 17");
}

// Every blob in tests/devicetree/hostile/ (crashers found by fuzzing or by hand) is refused with
// EINVAL and a one-line reason.
TEST(FdtLayout, EveryHostileBlobIsEinvalWithOneLine) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(DMAHEAP_SOURCE_DIR) + "/tests/devicetree/hostile")) {
    auto fdt = loadDeviceTree(e.path().string());
    ASSERT_FALSE(fdt.ok()) << e.path();
    EXPECT_EQ(fdt.code(), EINVAL) << e.path();
    EXPECT_EQ(fdt.error().message().find('\n'), std::string::npos) << e.path();
    ++n;
  }
  EXPECT_GE(n, 1);
}

TEST(FdtLayout, HeaderFieldsOutOfRange) {
  const auto good = compile(kTree);
  auto with = [&](size_t at, uint32_t v) {
    auto b = good;
    put32(b, at, v);
    return reason(b);
  };
  EXPECT_EQ(with(0, 0xd00dfeee), "device tree blob: bad magic 0xd00dfeee (not 0xd00dfeed)");
  EXPECT_EQ(with(24, 18), "device tree blob: last compatible version 18 is newer than 17, the newest the kernel reads");
  EXPECT_EQ(with(20, 15), "device tree blob: version 15 is older than its last compatible version 16");
  EXPECT_EQ(with(4, static_cast<uint32_t>(good.size() + 8)), "device tree blob: totalsize does not match the blob");
  EXPECT_EQ(with(16, 0x2c), "device tree blob: memory reservation map offset 0x2c is not 8-byte aligned");
  EXPECT_EQ(with(16, 0x20), "device tree blob: memory reservation map offset 0x20 is outside the blob");
  EXPECT_EQ(with(8, 0x3a), "device tree blob: structure block offset 0x3a is not 4-byte aligned");
  EXPECT_EQ(with(36, 0xfffffff0).rfind("device tree blob: structure block [", 0), 0u);
  EXPECT_EQ(with(32, 0xfffffff0).rfind("device tree blob: strings block [", 0), 0u);
  EXPECT_EQ(with(12, 0xffffffff).rfind("device tree blob: strings block [", 0), 0u);
  // A version newer than 17 that declares itself compatible with 17 is read, as the kernel does.
  EXPECT_EQ(with(20, 18), "ok");
}

TEST(FdtLayout, StructureBlockDefects) {
  const auto good = compile(kTree);
  const uint32_t off_struct = get32(good, 8);
  const uint32_t size_struct = get32(good, 36);
  {  // FDT_END replaced: the walk runs off the end of the block.
    auto b = good;
    put32(b, off_struct + size_struct - 4, 4 /* FDT_NOP */);
    EXPECT_EQ(reason(b), "device tree blob: structure block ends at " +
                             [&] { char x[16]; std::snprintf(x, sizeof x, "0x%x", size_struct); return std::string(x); }() +
                             " without an FDT_END token");
  }
  {  // The root's FDT_BEGIN_NODE becomes an unknown token.
    auto b = good;
    put32(b, off_struct, 7);
    EXPECT_EQ(reason(b), "device tree blob: unknown token 0x7 at structure offset 0x0");
  }
  {  // The last FDT_END_NODE before FDT_END removed: a node stays open.
    auto b = good;
    put32(b, off_struct + size_struct - 8, 4);
    EXPECT_EQ(reason(b), "device tree blob: FDT_END with 1 node(s) still open");
  }
  {  // The first property (after the root's 8-byte header) names a string past the strings block.
    auto b = good;
    ASSERT_EQ(get32(b, off_struct + 8), 3u);
    put32(b, off_struct + 16, get32(b, 32));
    EXPECT_EQ(reason(b).find("outside the strings block"), reason(b).find("outside"));
    EXPECT_NE(reason(b).find("outside the strings block"), std::string::npos);
  }
  {  // The first property claims more bytes than the block holds.
    auto b = good;
    put32(b, off_struct + 12, 0x7fffffff);
    EXPECT_NE(reason(b).find("claims 2147483647 bytes, past the end of the block"), std::string::npos);
  }
}

TEST(FdtLayout, NestingIsBoundedByTheKernelsDepth) {
  auto nested = [](int levels) {
    std::string dts = "/dts-v1/;\n/ {";
    for (int i = 1; i < levels; ++i) dts += " n" + std::to_string(i) + " {";
    for (int i = 1; i < levels; ++i) dts += " };";
    return dts + " };\n";
  };
  EXPECT_EQ(reason(compile(nested(64))), "ok");
  EXPECT_EQ(reason(compile(nested(65))), "device tree blob: nodes nested deeper than 64 levels");
}

// Every byte of a real blob set to a few values: refused with EINVAL or read, never a crash
// (the sanitizer build makes an out-of-bounds read a failure).
TEST(FdtLayout, EverySingleByteChangeIsHandled) {
  const auto good = compile(kTree);
  size_t refused = 0, read = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0x01}, uint8_t{0x7f}, uint8_t{0xff}}) {
      auto b = good;
      b[i] = v;
      auto fdt = Fdt::fromBlob(b);
      if (fdt.ok()) {
        ++read;
        for (int c = fdt->firstChild(fdt->root()); c >= 0; c = fdt->nextSibling(c)) (void)fdt->path(c);
      } else {
        ++refused;
        EXPECT_EQ(fdt.code(), EINVAL);
      }
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(read, 0u);
}

}  // namespace
}  // namespace dmaheap::dt
