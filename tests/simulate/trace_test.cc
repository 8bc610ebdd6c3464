// The trace kind of workload: reading a trace exactly, refusing malformed ones with the line,
// replaying it with exact peaks, and the smallest CMA size with its edge.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "simulate/simulator.h"
#include "small_plan.h"
#include "simulate/trace_workload.h"

namespace dmaheap::sim {
namespace {

const std::string kTraces = std::string(DMAHEAP_SOURCE_DIR) + "/tests/simulate/traces/";

TraceReplay load(const std::string& name, uint64_t speed = 1) {
  auto t = loadTrace(kTraces + name, speed);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message());
  return t.ok() ? t.value() : TraceReplay{};
}

TEST(Trace, ReadsBuffersOpsAndSteps) {
  const TraceReplay t = load("known-peak.trace");
  ASSERT_EQ(t.buffers.size(), 4u);
  EXPECT_EQ(t.bytes, 4 * kMiB + 2101248 + 1 * kMiB + 6 * kMiB);
  EXPECT_EQ(t.failed_when_recorded, 1u);
  EXPECT_EQ(t.never_released, 1u);  // the system buffer
  EXPECT_EQ(t.buffers[1].size, 2101248u);
  EXPECT_EQ(t.buffers[1].line, 3u);
  EXPECT_EQ(t.buffers[1].capability, "contiguous");
  ASSERT_EQ(t.ops.size(), 7u);
  // Steps are milliseconds from the first event.
  const uint64_t steps[] = {0, 1, 1, 2, 3, 4, 5};
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(t.ops[i].step, steps[i]) << i;
  EXPECT_EQ(traceSteps(t), 6u);
  // --speed 2: two milliseconds a step.
  EXPECT_EQ(traceSteps(load("known-peak.trace", 2)), 3u);
}

TEST(Trace, ReplayGivesExactPeaksPerHeap) {
  auto board = buildBoard(smallPlan());
  ASSERT_TRUE(board.ok());
  auto r = simulate(*board.value(), traceWorkload(load("known-peak.trace"), "known"), SimOptions{});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->traced);
  EXPECT_EQ(r->failures, 0u);
  EXPECT_EQ(r->trace_buffers, 4u);
  ASSERT_EQ(r->heap_peaks.size(), 2u);
  const HeapPeak& cma = r->heap_peaks[0];
  EXPECT_EQ(cma.trace_heap, "reserved");
  EXPECT_EQ(cma.heap, "reserved");
  EXPECT_EQ(cma.buffers, 3u);
  EXPECT_EQ(cma.bytes, 4 * kMiB + 2101248 + 6 * kMiB);
  EXPECT_EQ(cma.peak_bytes, 2101248 + 6 * kMiB);  // buffer 1 went before buffer 4 came
  EXPECT_EQ(cma.peak_buffers, 2u);
  const HeapPeak& sys = r->heap_peaks[1];
  EXPECT_EQ(sys.heap, "system");
  EXPECT_EQ(sys.peak_bytes, 1 * kMiB);
  EXPECT_EQ(sys.buffers, 1u);
}

TEST(Trace, FindMinCmaGivesTheEdgeInPageblocks) {
  const dt::BoardPlan plan = smallPlan();
  const uint64_t block = plan.kernel.pageblockBytes();
  ASSERT_EQ(block, 2 * kMiB);
  // First fit: buffer 1 at 0-4M, buffer 2 at 4M-6M+4K; after buffer 1 goes, buffer 4 (6 MiB,
  // aligned to 1 MiB) fits only at 7M-13M: 13 MiB are needed, so 7 pageblocks (14 MiB), not 6.
  const Workload w = traceWorkload(load("known-peak.trace"), "known");
  auto min = findMinCma(plan, w, SimOptions{});
  ASSERT_TRUE(min.ok()) << min.error().message();
  ASSERT_TRUE(min->found);
  EXPECT_EQ(min->bytes, 14 * kMiB);
  EXPECT_EQ(min->area, "reserved");
  ASSERT_TRUE(min->edge_checked);
  EXPECT_EQ(min->edge_failures, 1u);
  EXPECT_EQ(min->edge_trace_failure.line, 6u);
  EXPECT_EQ(min->edge_trace_failure.buffer, 4u);
  EXPECT_EQ(min->edge_trace_failure.step, 3u);
  EXPECT_EQ(min->edge_trace_failure.error, ENOMEM);
  EXPECT_EQ(min->edge_trace_failure.kernel_log, "cma: __cma_alloc: reserved: alloc failed, req-size: 1536 pages, ret: -12");
  EXPECT_TRUE(min->no_edge.empty());

  // Without jitter every replay is the trace itself.
  auto still = jitterMargin(plan, w, SimOptions{}, {}, 5, 3, 0);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->sizes, (std::vector<uint64_t>{14 * kMiB, 14 * kMiB, 14 * kMiB}));
  EXPECT_EQ(still->percentile99, 14 * kMiB);
  // With 2 ms of jitter the same seeds give the same margin, never below the trace's own.
  auto a = jitterMargin(plan, w, SimOptions{}, {}, 1, 10, 2'000'000);
  auto b = jitterMargin(plan, w, SimOptions{}, {}, 1, 10, 2'000'000);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->sizes, b->sizes);
  EXPECT_EQ(a->sizes.size() + a->unfixable, 10u);
  for (uint64_t s : a->sizes) EXPECT_EQ(s % block, 0u);
  EXPECT_GE(a->percentile99, 14 * kMiB);
}

TEST(Trace, SystemOnlyTraceHasNoCmaEdge) {
  auto min = findMinCma(smallPlan(), traceWorkload(load("system-only.trace"), "sys"), SimOptions{});
  ASSERT_TRUE(min.ok()) << min.error().message();
  EXPECT_FALSE(min->found);
  EXPECT_NE(min->no_edge.find("no CMA heap"), std::string::npos) << min->no_edge;
}

TEST(Trace, JitterKeepsEveryReleaseAfterItsAlloc) {
  const TraceReplay t = load("known-peak.trace");
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    const TraceReplay j = jitterTrace(t, seed, 3'000'000);
    ASSERT_EQ(j.ops.size(), t.ops.size());
    std::vector<int> seen(j.buffers.size(), 0);
    for (size_t i = 0; i < j.ops.size(); ++i) {
      if (i) {
        EXPECT_GE(j.ops[i].time_ns, j.ops[i - 1].time_ns);
      }
      if (j.ops[i].kind == TraceOp::Kind::kAlloc) seen[j.ops[i].buffer] = 1;
      else {
        EXPECT_EQ(seen[j.ops[i].buffer], 1) << "seed " << seed;
      }
    }
  }
}

TEST(Trace, ReplaysOnABoardWithoutTheHeapByCapability) {
  // Recorded on a board whose CMA heap was "linux,cma"; on 6.18 this board's default area is
  // "default_cma_region" (and "reserved", its legacy name), which serves "contiguous".
  std::ifstream in(kTraces + "known-peak.trace");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  for (size_t at; (at = text.find("\"reserved\"")) != std::string::npos;) text.replace(at, 10, "\"linux,cma\"");
  auto t = parseTrace(text, 1);
  ASSERT_TRUE(t.ok()) << t.error().message();
  auto board = buildBoard(smallPlan());
  ASSERT_TRUE(board.ok());
  auto r = simulate(*board.value(), traceWorkload(t.value(), "renamed"), SimOptions{});
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->heap_peaks.size(), 2u);
  EXPECT_EQ(r->heap_peaks[0].trace_heap, "linux,cma");
  EXPECT_EQ(r->heap_peaks[0].heap, "default_cma_region");
  EXPECT_EQ(r->heap_peaks[0].peak_bytes, 2101248 + 6 * kMiB);
  // A heap with no capability and no namesake is refused, naming the trace line.
  for (size_t at; (at = text.find("\"contiguous\"")) != std::string::npos;) text.replace(at, 12, "\"\"");
  auto bare = parseTrace(text, 1);
  ASSERT_TRUE(bare.ok());
  auto board2 = buildBoard(smallPlan());
  auto refused = simulate(*board2.value(), traceWorkload(bare.value(), "bare"), SimOptions{});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), EINVAL);
  EXPECT_EQ(refused.error().message(), "trace line 2: this board has no heap 'linux,cma' (heaps: reserved, default_cma_region, system)");
}

std::string knownWithLine(size_t n, const std::string& replacement) {
  std::ifstream in(kTraces + "known-peak.trace");
  std::ostringstream out;
  size_t i = 0;
  for (std::string line; std::getline(in, line);) out << (++i == n ? replacement : line) << "\n";
  return out.str();
}

TEST(Trace, MalformedTracesNameTheLine) {
  struct Case {
    std::string text;
    const char* message;
  } cases[] = {
      {knownWithLine(3, "{\"v\":1,"), "line 3: not valid JSON"},
      {knownWithLine(3, ""), "line 3: an empty line"},
      {knownWithLine(3, R"({"v":1,"event":"alloc","t":1001000000,"heap":"vram","len":4096,"rounded":4096,"fd_flags":2,"heap_flags":0,"buffer":2})"),
       "line 3: unknown heap 'vram' (the start event of line 1 lists reserved, system)"},
      {knownWithLine(2, R"({"v":1,"event":"release","t":1000000000,"buffer":1})"),
       "line 2: release of buffer 1 before its allocation"},
      {knownWithLine(5, R"({"v":1,"event":"release","t":1002000000,"buffer":9})"), "line 5: release of buffer 9 before its allocation"},
      {knownWithLine(8, R"({"v":1,"event":"release","t":1004000000,"buffer":1})"), "line 8: release of buffer 1, released at line 5"},
      {knownWithLine(3, R"({"v":1,"event":"alloc","t":1001000000,"heap":"reserved","len":4096,"rounded":4096,"fd_flags":2,"heap_flags":0,"buffer":1})"),
       "line 3: buffer 1 allocated again (first at line 2)"},
      {knownWithLine(3, R"({"v":1,"event":"alloc","t":1001000000,"heap":"reserved","len":2199023255553,"rounded":2199023259648,"fd_flags":2,"heap_flags":0,"buffer":2})"),
       "line 3: a successful allocation of 2199023255553 bytes"},
      {knownWithLine(3, R"({"v":1,"event":"alloc","t":1001000000,"heap":"reserved","len":4096,"rounded":12288,"fd_flags":2,"heap_flags":0,"buffer":2})"),
       "line 3: 'rounded' 12288 is not 'len' 4096 rounded up"},
      {knownWithLine(5, R"({"v":1,"event":"release","t":999,"buffer":1})"), "line 5: time 999 is before the trace's first event"},
      {knownWithLine(1, R"({"v":1,"event":"release","t":5,"buffer":1})"), "line 1: a trace begins with a start event"},
      {"", "line 1: empty trace"},
  };
  for (const auto& c : cases) {
    auto t = parseTrace(c.text, 1);
    ASSERT_FALSE(t.ok()) << c.message;
    EXPECT_EQ(t.code(), EINVAL);
    EXPECT_NE(t.error().message().find(c.message), std::string::npos) << c.message << " -> " << t.error().message();
  }
}

}  // namespace
}  // namespace dmaheap::sim
