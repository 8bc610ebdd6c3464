// Loading: valid and hostile blobs, .dts through dtc, files that are not device trees.
#include <unistd.h>
#include "devicetree/fdt.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "devicetree/loader.h"
#include "devicetree/plan.h"

namespace dmaheap::dt {
namespace {

std::string tempFile(const std::string& name, const std::string& text) {
  // Unique per process: ctest runs test cases as parallel processes, and two build trees may run at once.
  const std::string path = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::vector<uint8_t> validBlob() {
  const auto path = tempFile("v.dts", "/dts-v1/;\n/ { #address-cells = <1>; #size-cells = <1>;\n"
                                      "memory@40000000 { device_type = \"memory\"; reg = <0x40000000 0x40000000>; }; };\n");
  return compileDts(path).value();
}

TEST(Fdt, LoadsDtsThroughDtc) {
  const auto path = tempFile("a.dts", "/dts-v1/;\n/ { model = \"x\"; };\n");
  auto fdt = loadDeviceTree(path);
  ASSERT_TRUE(fdt.ok()) << fdt.error().message();
  EXPECT_EQ(fdt->stringProp(fdt->root(), "model"), "x");
}

TEST(Fdt, DtcErrorIsOneLineEinval) {
  const auto path = tempFile("bad.dts", "/dts-v1/;\n/ { model = ; };\n");
  auto fdt = loadDeviceTree(path);
  ASSERT_FALSE(fdt.ok());
  EXPECT_EQ(fdt.code(), EINVAL);
  EXPECT_EQ(fdt.error().message().find('\n'), std::string::npos);
  EXPECT_NE(fdt.error().message().find("dtc"), std::string::npos);
}

TEST(Fdt, MissingFileIsEnoent) {
  auto fdt = loadDeviceTree(::testing::TempDir() + "/does-not-exist.dtb");
  EXPECT_EQ(fdt.code(), ENOENT);
}

TEST(Fdt, BinaryJunkIsEinval) {
  const auto path = tempFile("junk.bin", std::string("\x01\x02\x00\x03junk", 8));
  EXPECT_EQ(loadDeviceTree(path).code(), EINVAL);
  EXPECT_EQ(loadDeviceTree(tempFile("empty", "")).code(), EINVAL);
}

TEST(Fdt, BadMagic) {
  auto b = validBlob();
  b[0] = 0;
  auto r = Fdt::fromBlob(b);
  EXPECT_EQ(r.code(), EINVAL);
  EXPECT_NE(r.error().message().find("magic"), std::string::npos);
}

TEST(Fdt, TruncatedAtEverySize) {
  const auto b = validBlob();
  for (size_t n = 0; n < b.size(); ++n) {
    auto r = Fdt::fromBlob(std::span(b.data(), n));
    EXPECT_EQ(r.code(), EINVAL) << n;
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
  EXPECT_TRUE(Fdt::fromBlob(b).ok());
}

TEST(Fdt, HugeTotalsize) {
  auto b = validBlob();
  b[4] = 0x7f;  // totalsize ~2 GiB
  auto r = Fdt::fromBlob(b);
  EXPECT_EQ(r.code(), EINVAL);
  EXPECT_NE(r.error().message().find("64 MiB"), std::string::npos);
}

TEST(Fdt, CorruptStructureNeverCrashes) {
  const auto b = validBlob();
  // Flip every byte in turn: each result is a clean error or a plan.
  for (size_t i = 0; i < b.size(); ++i) {
    for (uint8_t x : {uint8_t{0xff}, uint8_t{0x01}, uint8_t{0x80}}) {
      auto c = b;
      c[i] ^= x;
      auto plan = planFromBlob(c, Kernel{}, "");
      if (!plan.ok()) {
        EXPECT_EQ(plan.code(), EINVAL);
      }
    }
  }
}

TEST(Fdt, ReadCellsKeepsLow64Bits) {
  const uint8_t d[] = {0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
  size_t pos = 0;
  EXPECT_EQ(readCells(d, &pos, 3), (uint64_t{2} << 32) | 3);
  EXPECT_EQ(pos, 12u);
  pos = 0;
  EXPECT_EQ(readCells(d, &pos, 1), 1u);
  pos = 8;
  EXPECT_EQ(readCells(d, &pos, 2), uint64_t{3} << 32);  // past the end reads as 0
}

}  // namespace
}  // namespace dmaheap::dt
