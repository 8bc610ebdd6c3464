#include "base/heap_descriptor.h"

#include <gtest/gtest.h>

namespace dmaheap {
namespace {

NamedHeap sys(std::string name, bool cached = true, bool dma32 = false) {
  HeapDescriptor d;
  d.cached = cached;
  d.address_limit = dma32 ? AddressLimit::k32Bit : AddressLimit::kNone;
  return {std::move(name), d};
}
NamedHeap cma(std::string name, bool cached = true) {
  HeapDescriptor d = descriptorFromType("cma");
  d.cached = cached;
  return {std::move(name), d};
}
NamedHeap carve(std::string name) {
  HeapDescriptor d;
  d.kind = "carveout";
  d.contiguous = true;
  d.source = MemorySource::kCarveout;
  return {std::move(name), d};
}

std::string resolve(Capability c, const std::vector<NamedHeap>& heaps) {
  return resolveCapability(c, heaps).value_or("-");
}

TEST(CapabilityResolver, SystemPrefersTheSystemHeapAndSkipsVariants) {
  EXPECT_EQ(resolve(Capability::kSystem, {sys("system-dma32", true, true), sys("system-uncached", false), sys("system")}),
            "system");
  EXPECT_EQ(resolve(Capability::kSystem, {sys("system-dma32", true, true), sys("system-uncached", false)}), "-");
  EXPECT_EQ(resolve(Capability::kSystem, {sys("zz"), sys("aa")}), "aa");
}

TEST(CapabilityResolver, UncachedFallsBackToTheCachedSystemHeap) {
  EXPECT_EQ(resolve(Capability::kUncached, {sys("system"), sys("system-uncached", false)}), "system-uncached");
  EXPECT_EQ(resolve(Capability::kUncached, {sys("system"), sys("vendor-wc", false)}), "vendor-wc");
  EXPECT_EQ(resolve(Capability::kUncached, {sys("system"), cma("reserved")}), "system") << "AllocSystem's fallback";
  EXPECT_EQ(resolve(Capability::kUncached, {sys("system-uncached-dma32", false, true), sys("system")}), "system");
  EXPECT_EQ(resolve(Capability::kUncached, {cma("reserved")}), "-");
}

TEST(CapabilityResolver, Dma32HasNoFallback) {
  EXPECT_EQ(resolve(Capability::kDma32, {sys("system"), sys("system-uncached-dma32", false, true), sys("system-dma32", true, true)}),
            "system-dma32");
  EXPECT_EQ(resolve(Capability::kDma32, {sys("system"), sys("system-uncached-dma32", false, true)}), "system-uncached-dma32");
  EXPECT_EQ(resolve(Capability::kDma32, {sys("system"), cma("reserved")}), "-");
}

TEST(CapabilityResolver, ContiguousOrderOfPreference) {
  EXPECT_EQ(resolve(Capability::kContiguous, {cma("reserved"), cma("default_cma_region"), sys("system")}),
            "default_cma_region");
  EXPECT_EQ(resolve(Capability::kContiguous, {cma("aaa"), cma("linux,cma@60000000")}), "linux,cma@60000000");
  EXPECT_EQ(resolve(Capability::kContiguous, {cma("aaa-uncached", false), cma("zzz")}), "zzz");
  EXPECT_EQ(resolve(Capability::kContiguous, {carve("aaa"), cma("zzz")}), "zzz");
  EXPECT_EQ(resolve(Capability::kContiguous, {carve("aaa"), sys("system")}), "aaa");
  EXPECT_EQ(resolve(Capability::kContiguous, {sys("system")}), "-");
}

TEST(HeapDescriptor, CapabilitiesAndLegacyClassification) {
  EXPECT_EQ(capabilitiesOf(sys("s").descriptor), (std::vector<Capability>{Capability::kSystem}));
  EXPECT_EQ(capabilitiesOf(sys("s", false, true).descriptor), (std::vector<Capability>{Capability::kDma32}));
  EXPECT_EQ(capabilitiesOf(cma("c").descriptor), (std::vector<Capability>{Capability::kContiguous}));
  EXPECT_EQ(descriptorFromType("unknown").source, MemorySource::kUnknown);
  const HeapDescriptor k = descriptorFromKernelName("system-uncached-dma32", false);
  EXPECT_FALSE(k.cached);
  EXPECT_TRUE(k.dma32());
  const HeapDescriptor n = descriptorFromKernelName("linux,cma-uncached", true);
  EXPECT_EQ(n.kind, "cma");
  EXPECT_FALSE(n.cached);
  EXPECT_EQ(descriptorFromKernelName("protected", false).kind, "unknown");
  EXPECT_EQ(parseCapability("uncached"), Capability::kUncached);
  EXPECT_EQ(parseCapability("dma32"), Capability::kDma32);
  EXPECT_FALSE(parseCapability("cached").has_value());
  nlohmann::json j;
  addDescriptorJson(j, cma("reserved").descriptor);
  EXPECT_EQ(j.dump(), R"({"cached":true,"contiguous":true,"dma32":false,"region":null,"source":"cma-area","type":"cma"})");
}

}  // namespace
}  // namespace dmaheap
