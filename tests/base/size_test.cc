#include "base/size.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

TEST(ParseSize, PlainAndSuffixes) {
  EXPECT_EQ(parseSize("0").value(), 0u);
  EXPECT_EQ(parseSize("3215360").value(), 3215360u);
  EXPECT_EQ(parseSize("4K").value(), 4096u);
  EXPECT_EQ(parseSize("64m").value(), 64u << 20);
  EXPECT_EQ(parseSize("1G").value(), 1u << 30);
  EXPECT_EQ(parseSize("2GiB").value(), 2ull << 30);
  EXPECT_EQ(parseSize("0x1000").value(), 4096u);
  EXPECT_EQ(parseSize("1T").value(), 1ull << 40);
}

TEST(ParseSize, BadInput) {
  EXPECT_EQ(parseSize("").code(), EINVAL);
  EXPECT_EQ(parseSize("abc").code(), EINVAL);
  EXPECT_EQ(parseSize("-1").code(), EINVAL);
  EXPECT_EQ(parseSize("4X").code(), EINVAL);
  EXPECT_EQ(parseSize("4KK").code(), EINVAL);
  EXPECT_EQ(parseSize("18446744073709551616").code(), ERANGE);
  EXPECT_EQ(parseSize("17179869184G").code(), ERANGE);
  EXPECT_EQ(parseSize("18446744073709551615").value(), ~0ull);
}

TEST(Memparse, KernelSyntax) {
  auto r = memparse("32M@0x40000000");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, 32u << 20);
  EXPECT_EQ(r->rest, "@0x40000000");
  EXPECT_EQ(memparse("010").value().value, 8u);
  EXPECT_EQ(memparse("x").code(), EINVAL);
}

TEST(FormatSize, ExactUnits) {
  EXPECT_EQ(formatSize(64u << 20), "64 MiB");
  EXPECT_EQ(formatSize(4096), "4 KiB");
  EXPECT_EQ(formatSize(3215360), "3140 KiB");
  EXPECT_EQ(formatSize(1000), "1000 bytes");
  EXPECT_EQ(formatAddr(0x40000000), "0x0000000040000000");
}

}  // namespace
}  // namespace dmaheap
