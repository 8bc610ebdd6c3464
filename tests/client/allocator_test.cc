// libdmaheap's C++ API on the embedded backend: listing, capability resolution across kernel
// versions and device trees, allocation errors, CPU-access brackets, names, ownership.
#include "dmaheap/allocator.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace dmaheap {
namespace {

Allocator embedded(const std::string& kernel = "", const std::string& dtb = "") {
  AllocatorOptions o;
  o.backend = Backend::kEmbedded;
  o.kernel = kernel;
  o.dtb = dtb;
  auto a = Allocator::create(o);
  EXPECT_TRUE(a.ok()) << a.message();
  return std::move(a.value());
}

std::string dtCase(const char* name) { return std::string(DMAHEAP_SOURCE_DIR "/tests/dt-cases/") + name + "/board.dts"; }

TEST(Allocator, ListsHeapsWithTypeAndCapabilities) {
  auto a = embedded("6.18");
  EXPECT_EQ(a.backend(), Backend::kEmbedded);
  auto heaps = a.heaps();
  ASSERT_TRUE(heaps.ok());
  ASSERT_EQ(heaps->size(), 3u);
  EXPECT_EQ((*heaps)[0].name, "default_cma_region");
  EXPECT_TRUE((*heaps)[0].has(Capability::kContiguous));
  EXPECT_EQ((*heaps)[2].name, "system");
  EXPECT_EQ((*heaps)[2].type, "system");
  EXPECT_TRUE((*heaps)[2].has(Capability::kSystem));
  EXPECT_FALSE((*heaps)[2].has(Capability::kContiguous));
  EXPECT_EQ((*heaps)[2].free, (*heaps)[2].size);
}

TEST(Allocator, ContiguousResolvesToWhatEachKernelCallsTheCmaHeap) {
  EXPECT_EQ(embedded("6.18").resolve(Capability::kContiguous).value(), "default_cma_region");
  EXPECT_EQ(embedded("6.12").resolve(Capability::kContiguous).value(), "reserved");
  EXPECT_EQ(embedded("6.12", dtCase("dynamic-default-plus-pool")).resolve(Capability::kContiguous).value(),
            "linux,cma");
  EXPECT_EQ(embedded("6.12", dtCase("static-linux-cma-name")).resolve(Capability::kContiguous).value(),
            "linux,cma@60000000");
  EXPECT_EQ(embedded("6.19", dtCase("dynamic-default-plus-pool")).resolve(Capability::kContiguous).value(),
            "default_cma_region");
  EXPECT_EQ(embedded("6.12").resolve(Capability::kSystem).value(), "system");
}

TEST(Allocator, PerRegionHeapsAreContiguous) {
  auto heaps = embedded("6.19", dtCase("dynamic-default-plus-pool")).heaps();
  ASSERT_TRUE(heaps.ok());
  bool found = false;
  for (const auto& h : *heaps) {
    if (h.name == "pool@60000000") found = h.has(Capability::kContiguous);
  }
  EXPECT_TRUE(found);
}

TEST(Allocator, NoContiguousHeapBeforeDmaBufHeapsIsEnoent) {
  auto a = embedded("5.4");
  auto r = a.resolve(Capability::kContiguous);
  EXPECT_EQ(r.error().value(), ENOENT);
}

TEST(Allocator, AllocatesByCapabilityAndBracketsCpuAccess) {
  auto a = embedded();
  auto buf = a.allocate(Capability::kContiguous, 4 << 20);
  ASSERT_TRUE(buf.ok()) << buf.message();
  EXPECT_EQ(buf->heap(), "default_cma_region");
  EXPECT_EQ(buf->size(), 4u << 20);
  auto map = buf->map();
  ASSERT_TRUE(map.ok()) << map.message();
  {
    auto access = buf->cpuAccess(CpuAccess::kWrite);
    ASSERT_TRUE(access.ok());
    std::memset(map->data(), 0xab, map->size());
  }
  EXPECT_EQ(static_cast<unsigned char*>(map->data())[(4 << 20) - 1], 0xab);
  EXPECT_TRUE(buf->setName("camera-preview").ok());
  EXPECT_EQ(buf->setName(std::string(32, 'x')).error().value(), EINVAL);
  EXPECT_EQ(buf->beginCpuAccess(static_cast<CpuAccess>(0)).error().value(), EINVAL);
}

TEST(Allocator, ErrorsKeepTheKernelsErrno) {
  auto a = embedded();
  EXPECT_EQ(a.allocate("system", 0).error().value(), EINVAL);
  EXPECT_EQ(a.allocate("nosuch", 4096).error().value(), ENOENT);
  std::vector<DmaBuf> held;
  for (;;) {
    auto b = a.allocate("reserved", 8 << 20);
    if (!b) {
      EXPECT_EQ(b.error().value(), ENOMEM);
      break;
    }
    held.push_back(std::move(b.value()));
  }
  EXPECT_EQ(held.size(), 8u);
  held.clear();
  EXPECT_TRUE(a.allocate("reserved", 8 << 20).ok()) << "closing the buffers gave the memory back";
}

TEST(Allocator, ForeignFdsAreTheKernelsBusiness) {
  auto a = embedded();
  int memfd = ::memfd_create("foreign", MFD_CLOEXEC);
  uint64_t flags = 3;
  EXPECT_EQ(a.bufferIoctl(memfd, 0x40086200u, &flags).error().value(), ENOTTY);
  ::close(memfd);
}

TEST(Allocator, BuffersOutliveTheirAllocator) {
  DmaBuf buf;
  {
    auto a = embedded();
    buf = std::move(a.allocate("system", 4096).value());
  }
  EXPECT_TRUE(buf.beginCpuAccess().ok());
  EXPECT_TRUE(buf.endCpuAccess().ok());
  const int fd = buf.release();
  EXPECT_FALSE(buf.valid());
  ::close(fd);
}

TEST(Allocator, BackendChoiceErrors) {
  if (::access("/dev/dma_heap", F_OK) != 0) {
    AllocatorOptions o;
    o.backend = Backend::kKernel;
    EXPECT_EQ(Allocator::create(o).error().value(), ENODEV);
  }
  ::setenv("DMAHEAP_BACKEND", "bogus", 1);
  EXPECT_EQ(Allocator::create().error().value(), EINVAL);
  ::setenv("DMAHEAP_BACKEND", "embedded", 1);
  auto a = Allocator::create();
  ::unsetenv("DMAHEAP_BACKEND");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->backend(), Backend::kEmbedded);
}

}  // namespace
}  // namespace dmaheap

namespace dmaheap {
namespace {

Allocator withProfile(const std::string& profile, const std::string& dtb = "") {
  AllocatorOptions o;
  o.backend = Backend::kEmbedded;
  o.profile = profile;
  o.dtb = dtb;
  auto a = Allocator::create(o);
  EXPECT_TRUE(a.ok()) << a.message();
  return std::move(a.value());
}

TEST(AllocatorCapabilities, UncachedAndDma32WithAProfile) {
  auto a = withProfile("rockchip", DMAHEAP_SOURCE_DIR "/examples/rockchip-6g-above-4g.dts");
  EXPECT_EQ(a.resolve(Capability::kUncached).value(), "system-uncached");
  EXPECT_EQ(a.resolve(Capability::kDma32).value(), "system-dma32");
  EXPECT_EQ(a.resolve(Capability::kSystem).value(), "system");
  auto heaps = a.heaps();
  ASSERT_TRUE(heaps.ok());
  for (const auto& h : *heaps) {
    if (h.name != "system-uncached-dma32") continue;
    EXPECT_EQ(h.type, "system");
    EXPECT_FALSE(h.descriptor.cached);
    EXPECT_TRUE(h.descriptor.dma32());
    EXPECT_TRUE(h.has(Capability::kDma32));
    EXPECT_FALSE(h.has(Capability::kSystem));
  }
  auto buf = a.allocate(Capability::kDma32, 1 << 20);
  ASSERT_TRUE(buf.ok()) << buf.message();
  EXPECT_EQ(buf->heap(), "system-dma32");
}

TEST(AllocatorCapabilities, UncachedFallsBackToSystemAndDma32DoesNot) {
  auto a = embedded("6.18");
  EXPECT_EQ(a.resolve(Capability::kUncached).value(), "system");
  auto dma32 = a.resolve(Capability::kDma32);
  EXPECT_EQ(dma32.error().value(), ENOENT);
  EXPECT_EQ(dma32.message(), "no heap offers dma32 memory on the embedded backend");
  auto buf = a.allocate(Capability::kUncached, 4096);
  ASSERT_TRUE(buf.ok());
  EXPECT_EQ(buf->heap(), "system");
}

TEST(AllocatorCapabilities, EnvironmentShapesTheEmbeddedBoard) {
  ::setenv("DMAHEAP_PROFILE", "android", 1);
  AllocatorOptions o;
  o.backend = Backend::kEmbedded;
  auto a = Allocator::create(o);
  ::unsetenv("DMAHEAP_PROFILE");
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(a->resolve(Capability::kUncached).value(), "system-uncached");
  ::setenv("DMAHEAP_PROFILE", "bogus", 1);
  auto bad = Allocator::create(o);
  ::unsetenv("DMAHEAP_PROFILE");
  EXPECT_EQ(bad.error().value(), EINVAL);
}

}  // namespace
}  // namespace dmaheap
