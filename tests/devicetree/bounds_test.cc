// Bounded resources on absurd but valid trees: hundreds of thousands of nodes, the deepest
// nesting the loader takes, regions of 2^63 bytes and more, thousands of reserved regions.
// Every tree is generated here with libfdt's sequential writer. The bounds are limits on what the
// plan allocates (counted by this program's operator new), never timings: dt-check's memory
// stays proportional to the blob (docs/device-trees.md, "Resource bounds").
#include <gtest/gtest.h>

#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

extern "C" {
#include <libfdt.h>
}

#include "devicetree/plan.h"

namespace {
std::atomic<uint64_t> g_live{0}, g_peak{0}, g_total{0};
}  // namespace

// Counting allocator: live, peak and total bytes of every operator new in this program, as
// malloc's usable sizes. Every non-aligned variant is replaced, each over malloc/free, so no
// allocation is made by one allocator and released by another (which the sanitizer run would
// report); the aligned variants keep the library's own aligned_alloc/free pair.
namespace {
void count(void* p) {
  const uint64_t n = malloc_usable_size(p);
  const uint64_t live = g_live += n;
  g_total += n;
  for (uint64_t peak = g_peak; live > peak && !g_peak.compare_exchange_weak(peak, live);) {
  }
}
void* counted(size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (p) count(p);
  return p;
}
void release(void* p) {
  if (!p) return;
  g_live -= malloc_usable_size(p);
  std::free(p);
}
}  // namespace

void* operator new(size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, size_t) noexcept { release(p); }
void operator delete[](void* p, size_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }

namespace dmaheap::dt {
namespace {

// A tree writer over libfdt's sequential-write API; every call is checked.
class TreeWriter {
 public:
  explicit TreeWriter(size_t capacity) : buf_(capacity) {
    ok(fdt_create(buf_.data(), static_cast<int>(buf_.size())));
    ok(fdt_finish_reservemap(buf_.data()));
  }
  void begin(const std::string& name) { ok(fdt_begin_node(buf_.data(), name.c_str())); }
  void end() { ok(fdt_end_node(buf_.data())); }
  void u32(const char* name, uint32_t v) { ok(fdt_property_u32(buf_.data(), name, v)); }
  void cells(const char* name, std::initializer_list<uint32_t> vs) {
    std::vector<fdt32_t> be;
    for (uint32_t v : vs) be.push_back(cpu_to_fdt32(v));
    ok(fdt_property(buf_.data(), name, be.data(), static_cast<int>(be.size() * 4)));
  }
  void str(const char* name, const char* v) { ok(fdt_property_string(buf_.data(), name, v)); }
  void flag(const char* name) { ok(fdt_property(buf_.data(), name, nullptr, 0)); }
  std::vector<uint8_t> finish() {
    ok(fdt_finish(buf_.data()));
    buf_.resize(fdt_totalsize(buf_.data()));
    return std::move(buf_);
  }

 private:
  static void ok(int err) {
    if (err != 0) {
      ADD_FAILURE() << fdt_strerror(err);
      std::abort();
    }
  }
  std::vector<uint8_t> buf_;
};

// Root with 2 address and size cells and 2 GiB of RAM at 0x40000000.
void beginRoot(TreeWriter& w) {
  w.begin("");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.begin("memory@40000000");
  w.str("device_type", "memory");
  w.cells("reg", {0, 0x40000000, 0, 0x80000000});
  w.end();
}

struct Measured {
  Result<BoardPlan> plan;
  uint64_t peak_bytes;   // above what was live before the call
  uint64_t total_bytes;  // every allocation during the call
};

Measured plan(const std::vector<uint8_t>& blob) {
  const uint64_t live0 = g_live, total0 = g_total;
  g_peak = live0;
  auto p = planFromBlob(blob, Kernel{}, "");
  return {std::move(p), g_peak - live0, g_total - total0};
}

TEST(Bounds, ThreeHundredThousandNodes) {
  TreeWriter w(64u << 20);
  beginRoot(w);
  w.begin("soc");
  for (int i = 0; i < 300000; ++i) {
    w.begin("dev@" + std::to_string(i));
    w.str("compatible", "vendor,dev");
    w.end();
  }
  w.end();
  w.end();
  const auto blob = w.finish();
  const auto m = plan(blob);
  ASSERT_TRUE(m.plan.ok()) << m.plan.error().message();
  EXPECT_EQ(m.plan->memory.size(), 1u);
  // The blob is copied once; nothing per node beyond that.
  RecordProperty("peak_bytes", std::to_string(m.peak_bytes));
  std::printf("300,000 nodes: blob %zu bytes, peak %llu bytes, total %llu bytes allocated\n", blob.size(),
              static_cast<unsigned long long>(m.peak_bytes), static_cast<unsigned long long>(m.total_bytes));
  EXPECT_LE(m.peak_bytes, 2 * blob.size() + (1u << 20)) << "blob " << blob.size();
  EXPECT_LE(m.total_bytes, 4 * blob.size() + (4u << 20)) << "blob " << blob.size();
}

TEST(Bounds, ThousandsOfReservedRegions) {
  TreeWriter w(16u << 20);
  beginRoot(w);
  w.begin("reserved-memory");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.flag("ranges");
  for (uint32_t i = 0; i < 5000; ++i) {
    w.begin("r@" + std::to_string(i));
    w.cells("reg", {0, 0x40000000 + i * 0x10000, 0, 0x1000});
    w.flag("no-map");
    w.end();
  }
  w.end();
  w.end();
  const auto blob = w.finish();
  const auto m = plan(blob);
  ASSERT_TRUE(m.plan.ok()) << m.plan.error().message();
  // The kernel keeps 64 regions (6.18); the rest are refused, each with one diagnostic at most.
  EXPECT_LE(m.plan->reserved.size(), 5000u);
  EXPECT_LE(m.plan->diagnostics.size(), 5000u + 16u);
  std::printf("5,000 regions: blob %zu bytes, peak %llu bytes, total %llu bytes allocated\n", blob.size(),
              static_cast<unsigned long long>(m.peak_bytes), static_cast<unsigned long long>(m.total_bytes));
  EXPECT_LE(m.peak_bytes, 64 * blob.size() + (8u << 20)) << "blob " << blob.size();
  // Every reservation once, not once per earlier one (it was 1 GB when memblock copied its sets).
  EXPECT_LE(m.total_bytes, 64 * blob.size() + (8u << 20)) << "blob " << blob.size();
}

TEST(Bounds, HugeRegionsAndMemoryDoNotOverflow) {
  TreeWriter w(1u << 16);
  w.begin("");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.begin("memory@0");
  w.str("device_type", "memory");
  w.cells("reg", {0, 0, 0xffffffff, 0xffffffff});  // 2^64 - 1 bytes from 0
  w.end();
  w.begin("reserved-memory");
  w.u32("#address-cells", 2);
  w.u32("#size-cells", 2);
  w.flag("ranges");
  w.begin("huge@8000000000000000");
  w.cells("reg", {0x80000000, 0, 0x80000000, 0});  // 2^63 bytes at 2^63
  w.end();
  w.begin("pool");
  w.str("compatible", "shared-dma-pool");
  w.flag("reusable");
  w.cells("size", {0x80000000, 0});  // a dynamic 2^63-byte CMA pool
  w.end();
  w.end();
  w.end();
  const auto blob = w.finish();
  const auto m = plan(blob);  // UBSan (make test's sanitizer run) turns any overflow into a failure
  ASSERT_TRUE(m.plan.ok()) << m.plan.error().message();
  EXPECT_LE(m.peak_bytes, 1u << 20);
}

}  // namespace
}  // namespace dmaheap::dt
