// The trace line format: exact lines out, the same events back, errors naming the field.
#include "trace/trace_event.h"

#include <gtest/gtest.h>

namespace dmaheap::trace {
namespace {

TEST(TraceEvent, AllocLineHasEveryField) {
  Event e;
  e.kind = EventKind::kAlloc;
  e.time_ns = 1234;
  e.pid = 10;
  e.tid = 11;
  e.heap = "reserved";
  e.len = 5000;
  e.rounded = 8192;
  e.fd_flags = 02000002;
  e.heap_flags = 0;
  e.fd = 5;
  e.buffer = 1;
  e.inode = 77;
  EXPECT_EQ(eventLine(e),
            "{\"buffer\":1,\"event\":\"alloc\",\"fd\":5,\"fd_flags\":524290,\"heap\":\"reserved\",\"heap_flags\":0,"
            "\"inode\":77,\"len\":5000,\"pid\":10,\"rounded\":8192,\"t\":1234,\"tid\":11,\"v\":1}\n");
  auto back = parseEventLine(eventLine(e));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back.value(), e);
}

TEST(TraceEvent, FailedAllocCarriesErrnoNameAndNumber) {
  Event e;
  e.kind = EventKind::kAlloc;
  e.time_ns = 5;
  e.heap = "system";
  e.len = 0;
  e.rounded = 0;
  e.error = 22;
  const std::string line = eventLine(e);
  EXPECT_NE(line.find("\"errno\":\"EINVAL\",\"errno_number\":22"), std::string::npos) << line;
  EXPECT_EQ(line.find("buffer"), std::string::npos);
  auto back = parseEventLine(line);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back.value(), e);
}

TEST(TraceEvent, StartSetNameAndReleaseRoundTrip) {
  Event start;
  start.kind = EventKind::kStart;
  start.pid = 1;
  start.source = "dmaheap run";
  start.kernel = "6.18";
  start.page_size = 4096;
  start.heaps = {{"reserved", "cma", "contiguous", 64u << 20}, {"system", "system", "system", 0}};
  Event named;
  named.kind = EventKind::kSetName;
  named.buffer = 3;
  named.name = "camera";
  named.error = 0;
  Event released;
  released.kind = EventKind::kRelease;
  released.buffer = 3;
  released.inode = 9;
  for (const Event& e : {start, named, released}) {
    auto back = parseEventLine(eventLine(e));
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(back.value(), e) << eventLine(e);
  }
}

TEST(TraceEvent, RejectsMalformedLinesNamingWhy) {
  struct Case {
    const char* line;
    const char* message;
  } cases[] = {
      {"{", "not valid JSON"},
      {"[1]", "not a JSON object"},
      {R"({"v":2,"event":"alloc"})", "'v' must be 1"},
      {R"({"v":1,"event":"free","t":0})", "unknown event 'free'"},
      {R"({"v":1,"event":"release","t":0,"buffer":1,"pid":3})", "unknown field 'pid' in a release event"},
      {R"({"v":1,"event":"release","t":-1,"buffer":1})", "'t' must be a non-negative integer"},
      {R"({"v":1,"event":"release","t":0,"buffer":0})", "'buffer' ids start at 1"},
      {R"({"v":1,"event":"alloc","t":0,"heap":"x","len":1,"fd_flags":0,"heap_flags":0,"buffer":1})",
       "a successful alloc has 'rounded'"},
      {R"({"v":1,"event":"alloc","t":0,"heap":"x","len":1,"fd_flags":0,"heap_flags":0,"errno":"ENOMEM","errno_number":22})",
       "'errno' ENOMEM is not errno 22 (EINVAL)"},
      {R"({"v":1,"event":"alloc","t":0,"heap":"x","len":1,"fd_flags":0,"heap_flags":0,"errno":"ENOMEM"})",
       "'errno' and 'errno_number' come together"},
      {R"({"v":1,"event":"start","t":0,"source":"s","kernel":"6.18","page_size":3000,"heaps":[]})",
       "'page_size' must be a power of two"},
  };
  for (const auto& c : cases) {
    auto e = parseEventLine(c.line);
    ASSERT_FALSE(e.ok()) << c.line;
    EXPECT_EQ(e.code(), EINVAL);
    EXPECT_NE(e.error().message().find(c.message), std::string::npos) << c.line << " -> " << e.error().message();
  }
}

}  // namespace
}  // namespace dmaheap::trace
