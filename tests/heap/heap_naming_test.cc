// dma_heap_add's naming rules, shared by the registry and the heap plan.
#include "heap/heap_naming.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

Kernel kernelOf(int major, int minor) {
  Kernel k;
  k.version = KernelVersion::of(major, minor);
  return k;
}

using Lines = std::vector<std::string>;

TEST(HeapNaming, NodeNameTurnsSlashIntoBang) {
  EXPECT_EQ(heapNodeName("a/b/c"), "a!b!c");
  EXPECT_EQ(heapNodeName("linux,cma@60000000"), "linux,cma@60000000");
}

TEST(HeapNaming, HeapNameClashGateIsAt62) {
  EXPECT_EQ(kernelOf(6, 1).heapNameClash(), Kernel::HeapNameClash::kListCheckFirst);
  EXPECT_EQ(kernelOf(6, 2).heapNameClash(), Kernel::HeapNameClash::kSysfsAtDeviceCreate);
  EXPECT_EQ(kernelOf(6, 1).duplicateHeapNameErrno(), EINVAL);
  EXPECT_EQ(kernelOf(6, 2).duplicateHeapNameErrno(), EEXIST);
}

TEST(HeapNaming, EmptyNameThenMissingOps) {
  HeapNaming n(Kernel{});
  Lines log;
  auto empty = n.add("", false, &log);  // both wrong: the name is checked first
  EXPECT_EQ(empty.code(), EINVAL);
  EXPECT_EQ(empty.error().message(), "a heap needs a name");
  auto ops = n.add("x", false, &log);
  EXPECT_EQ(ops.code(), EINVAL);
  EXPECT_EQ(ops.error().message(), "a heap needs an allocate operation");
  EXPECT_EQ(log, (Lines{"dma_heap: Cannot add heap without a name", "dma_heap: Cannot add heap with invalid ops struct"}));
  EXPECT_EQ(n.size(), 0u);
}

TEST(HeapNaming, DuplicateUpTo61IsTheListCheck) {
  HeapNaming n(kernelOf(6, 1));
  ASSERT_EQ(n.add("system", true).value(), "system");
  Lines log;
  auto dup = n.add("system", true, &log);
  EXPECT_EQ(dup.code(), EINVAL);
  EXPECT_EQ(dup.error().message(), "a heap named 'system' is already registered");
  EXPECT_EQ(log, Lines{"dma_heap: Already registered heap named system"});
  EXPECT_EQ(n.size(), 1u);
}

TEST(HeapNaming, DuplicateFrom62IsTheSysfsClash) {
  HeapNaming n(kernelOf(6, 2));
  ASSERT_TRUE(n.add("system", true).ok());
  Lines log;
  auto dup = n.add("system", true, &log);
  EXPECT_EQ(dup.code(), EEXIST);
  EXPECT_EQ(dup.error().message(), "a heap named 'system' is already registered (device_create: sysfs name exists)");
  EXPECT_EQ(log, (Lines{"sysfs: cannot create duplicate filename '/devices/virtual/dma_heap/system'",
                        "dma_heap: Unable to create device"}));
}

TEST(HeapNaming, SameNodeNameClashesInSysfsInEveryEra) {
  for (const Kernel& k : {kernelOf(5, 10), kernelOf(6, 18)}) {
    HeapNaming n(k);
    ASSERT_EQ(n.add("a/b", true).value(), "a!b");
    Lines log;
    auto clash = n.add("a!b", true, &log);  // another name, the same sysfs and /dev entry
    EXPECT_EQ(clash.code(), EEXIST) << k.version.str();
    EXPECT_EQ(log, (Lines{"sysfs: cannot create duplicate filename '/devices/virtual/dma_heap/a!b'",
                          "dma_heap: Unable to create device"}));
  }
}

TEST(HeapNaming, At128HeapsTheMinorRunsOutInTheEraOrder) {
  for (const Kernel& k : {kernelOf(6, 1), kernelOf(6, 2)}) {
    HeapNaming n(k);
    for (size_t i = 0; i < kMaxHeaps; ++i) ASSERT_TRUE(n.add("h" + std::to_string(i), true).ok());
    Lines log;
    auto full = n.add("h128", true, &log);
    EXPECT_EQ(full.code(), EBUSY);
    EXPECT_EQ(full.error().message(), "all 128 heap minors are in use");
    EXPECT_EQ(log, Lines{"dma_heap: Unable to get minor number for heap"});
    EXPECT_EQ(n.size(), 128u);
  }
  // A duplicate of a registered name on a full table: up to 6.1 the list check comes before the
  // minor (EINVAL), from 6.2 the minor comes first (EBUSY).
  HeapNaming old(kernelOf(6, 1));
  HeapNaming now(kernelOf(6, 2));
  for (size_t i = 0; i < kMaxHeaps; ++i) {
    ASSERT_TRUE(old.add("h" + std::to_string(i), true).ok());
    ASSERT_TRUE(now.add("h" + std::to_string(i), true).ok());
  }
  EXPECT_EQ(old.add("h0", true).code(), EINVAL);
  EXPECT_EQ(now.add("h0", true).code(), EBUSY);
}

}  // namespace
}  // namespace dmaheap
