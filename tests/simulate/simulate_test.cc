#include <gtest/gtest.h>

#include "simulate/report.h"
#include "simulate/simulator.h"
#include "small_plan.h"
#include "simulate/workload.h"

namespace dmaheap::sim {
namespace {

Workload parse(const char* text) {
  auto w = parseWorkload(text);
  EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message());
  return w.ok() ? w.value() : Workload{};
}

TEST(Workload, ParsesSizesAndDefaults) {
  Workload w = parse(R"({"steps": 10, "pressure": {"movable": "8M", "pinned_share": 0.5},
                         "streams": [{"heap": "contiguous", "size": "1M", "count": 2}]})");
  EXPECT_EQ(w.steps, 10u);
  EXPECT_EQ(w.sample_every, 1u);
  EXPECT_EQ(w.pressure.movable_bytes, 8 * kMiB);
  EXPECT_EQ(w.streams[0].size, kMiB);
  EXPECT_EQ(w.streams[0].hold, 1u);
}

TEST(Workload, RejectsBadInputNamingTheField) {
  struct Case {
    const char* json;
    const char* where;
  } cases[] = {
      {"not json", "not valid JSON"},
      {"[]", "workload: must be an object"},
      {R"({"streams": []})", "workload.streams"},
      {R"({"bogus": 1, "streams": [{"heap": "x", "size": 1}]})", "unknown field 'bogus'"},
      {R"({"streams": [{"size": 1}]})", "streams[0].heap"},
      {R"({"streams": [{"heap": "x"}]})", "streams[0]: missing 'size'"},
      {R"({"streams": [{"heap": "x", "size": "12Q"}]})", "streams[0].size"},
      {R"({"streams": [{"heap": "x", "size": 0}]})", "streams[0].size"},
      {R"({"streams": [{"heap": "x", "size": -5}]})", "streams[0].size"},
      {R"({"streams": [{"heap": "x", "size": "2T"}]})", "streams[0].size"},
      {R"({"streams": [{"heap": "x", "size": 1, "count": 0}]})", "streams[0].count"},
      {R"({"streams": [{"heap": "x", "size": 4096, "size_max": 1}]})", "streams[0].size_max"},
      {R"({"steps": 0, "streams": [{"heap": "x", "size": 1}]})", "workload.steps"},
      {R"({"steps": 99999999999, "streams": [{"heap": "x", "size": 1}]})", "workload.steps"},
      {R"({"pressure": {"pinned_share": 2}, "streams": [{"heap": "x", "size": 1}]})", "pressure.pinned_share"},
  };
  for (const auto& c : cases) {
    auto w = parseWorkload(c.json);
    ASSERT_FALSE(w.ok()) << c.json;
    EXPECT_EQ(w.code(), EINVAL);
    EXPECT_NE(w.error().message().find(c.where), std::string::npos) << w.error().message();
  }
}

TEST(Simulate, CountsSuccessesAndTheFirstFailure) {
  auto board = buildBoard(smallPlan()).value();
  // Three 6 MiB buffers live at once do not fit in 16 MiB: the third of each round fails.
  Workload w = parse(R"({"steps": 9, "streams": [{"name": "cam", "heap": "contiguous", "size": "6M",
                         "count": 3, "hold": 3, "interval": 1}]})");
  auto r = simulate(*board, w, SimOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->streams[0].heap, "default_cma_region");
  EXPECT_EQ(r->streams[0].attempts, 9u);
  EXPECT_EQ(r->streams[0].successes, 6u);
  EXPECT_EQ(r->failures, 3u);
  ASSERT_TRUE(r->first_failure.happened);
  EXPECT_EQ(r->first_failure.step, 2u);
  EXPECT_EQ(r->first_failure.error, ENOMEM);
  EXPECT_EQ(r->first_failure.state.free_pages, 1024u);  // 4 MiB left
  EXPECT_EQ(r->first_failure.live_buffers, 2u);
  // Everything was given back.
  EXPECT_EQ(board->memory->cmaAreaFreePages(0), 4096u);
  board->memory->checkInvariants();
}

TEST(Simulate, MovablePressureBorrowsCmaAndAllocationsMigrate) {
  auto board = buildBoard(smallPlan()).value();
  // 44 MiB of page cache on a 64 MiB board: once normal memory holds less free memory than the
  // CMA area, page cache borrows CMA pages; the 12 MiB buffer then migrates them out.
  Workload w = parse(R"({"steps": 4, "pressure": {"movable": "44M"},
                         "streams": [{"heap": "contiguous", "size": "12M", "count": 1, "hold": 10}]})");
  auto r = simulate(*board, w, SimOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->failures, 0u);
  EXPECT_GT(r->samples[0].areas[0].borrowed_pages, 0u);
  EXPECT_EQ(r->streams[0].pages_migrated, r->pages_migrated);
  EXPECT_GT(r->pages_migrated, 0u);
  // After the allocation, borrowed pages fit in the 4 MiB the buffer left.
  EXPECT_LE(r->samples.back().areas[0].borrowed_pages, 1024u);
  EXPECT_EQ(r->samples.back().areas[0].free_pages, 1024u);
}

TEST(Simulate, PinnedPagesMakeAllocationsFail) {
  auto board = buildBoard(smallPlan()).value();
  // All churned pages pinned for the whole run: the area fills with pinned pages.
  Workload w = parse(R"({"steps": 40, "pressure": {"movable": "60M", "churn": "4M", "pinned_share": 1.0, "pin_steps": 1000},
                         "streams": [{"heap": "contiguous", "size": "8M", "count": 1, "hold": 1, "interval": 1, "start": 20}]})");
  auto r = simulate(*board, w, SimOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->failures, 0u);
  EXPECT_GT(r->streams[0].busy_candidates, 0u);
  EXPECT_GT(r->first_failure.state.pinned_pages, 0u);
}

TEST(Workload, LeaveFreeAndPinEvery) {
  Workload w = parse(R"({"pressure": {"leave_free": "20M", "pin_every": 16, "pin_steps": 5},
                         "streams": [{"heap": "contiguous", "size": "1M"}]})");
  EXPECT_EQ(w.pressure.leave_free_bytes, 20 * kMiB);
  EXPECT_EQ(w.pressure.movable_bytes, 0u);
  EXPECT_EQ(w.pressure.pin_every, 16u);
  EXPECT_EQ(w.pressure.pin_steps, 5u);
  auto both = parseWorkload(R"({"pressure": {"movable": "8M", "leave_free": "20M"},
                                "streams": [{"heap": "contiguous", "size": "1M"}]})");
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.code(), EINVAL);
  EXPECT_NE(both.error().message().find("pressure.leave_free: give either movable or leave_free"), std::string::npos);
  auto neg = parseWorkload(R"({"pressure": {"pin_every": -1}, "streams": [{"heap": "contiguous", "size": "1M"}]})");
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.error().message().find("pressure.pin_every"), std::string::npos);
}

TEST(Simulate, LeaveFreeFillsUntilThatMuchIsFree) {
  auto board = buildBoard(smallPlan()).value();
  const uint64_t free_pages = board->memory->stats().free_pages;
  // The stream starts after the run: only the fill happens.
  Workload w = parse(R"({"steps": 2, "sample_every": 1, "pressure": {"leave_free": "20M"},
                         "streams": [{"heap": "contiguous", "size": "1M", "start": 100}]})");
  auto r = simulate(*board, w, SimOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->samples[0].movable_pages, free_pages - 5120);
  EXPECT_EQ(r->samples[1].movable_pages, free_pages - 5120);
  // Everything goes back at the end.
  EXPECT_EQ(board->memory->stats().free_pages, free_pages);
}

TEST(Simulate, PinEveryPinsTheFillUntilPinSteps) {
  auto board = buildBoard(smallPlan()).value();
  // 44 MiB of the 64 MiB board filled, every page of the fill pinned until step 2: the pages it
  // borrowed at the top of the 16 MiB area make every 12 MiB candidate busy while pinned; at
  // step 2 the pins are gone and the buffer migrates them out.
  Workload w = parse(R"({"steps": 4, "sample_every": 1, "pressure": {"movable": "44M", "pin_every": 1, "pin_steps": 2},
                         "streams": [{"heap": "contiguous", "size": "12M", "count": 1, "hold": 10}]})");
  auto r = simulate(*board, w, SimOptions{});
  ASSERT_TRUE(r.ok());
  const AreaState& at0 = r->samples[0].areas[0];
  EXPECT_GT(at0.borrowed_pages, 0u);
  EXPECT_EQ(at0.pinned_pages, at0.borrowed_pages);
  EXPECT_EQ(r->samples[2].areas[0].pinned_pages, 0u);
  EXPECT_EQ(r->streams[0].failures, 2u);
  EXPECT_EQ(r->streams[0].successes, 1u);
  EXPECT_EQ(r->first_failure.step, 0u);
  EXPECT_GT(r->streams[0].busy_candidates, 0u);
  // pin_every 0 (the default): the same fill pins nothing and the first try succeeds.
  auto board2 = buildBoard(smallPlan()).value();
  Workload w2 = parse(R"({"steps": 4, "sample_every": 1, "pressure": {"movable": "44M"},
                          "streams": [{"heap": "contiguous", "size": "12M", "count": 1, "hold": 10}]})");
  auto r2 = simulate(*board2, w2, SimOptions{});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->samples[0].areas[0].pinned_pages, 0u);
  EXPECT_EQ(r2->failures, 0u);
}

TEST(Simulate, PerCpuPagesAreTakenBeforeTheFillAndGivenBackToACmaAllocation) {
  const char* with = R"({"steps": 1, "pressure": {"leave_free": "20M", "pcp_pages": 1024, "pcp_cma_pages": 256},
                         "streams": [{"heap": "contiguous", "size": "1M", "start": 100}]})";
  const char* without = R"({"steps": 1, "pressure": {"leave_free": "20M"},
                            "streams": [{"heap": "contiguous", "size": "1M", "start": 100}]})";
  auto board = buildBoard(smallPlan()).value();
  const uint64_t free_pages = board->memory->stats().free_pages;
  auto a = simulate(*board, parse(with), SimOptions{});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(board->memory->stats().free_pages, free_pages);  // all given back at the end
  auto b = simulate(*buildBoard(smallPlan()).value(), parse(without), SimOptions{});
  ASSERT_TRUE(b.ok());
  // The per-CPU pages are not free: the fill leaves 20 MiB free with them out, so it is 1024
  // pages smaller; the rule then borrows as much of the area in both runs (256 of the pages in
  // it being the per-CPU ones).
  EXPECT_EQ(b->samples[0].movable_pages, free_pages - 5120);
  EXPECT_EQ(a->samples[0].movable_pages, free_pages - 5120 - 1024);
  EXPECT_EQ(a->samples[0].areas[0].borrowed_pages, b->samples[0].areas[0].borrowed_pages);

  // The whole 16 MiB area on the per-CPU lists: a 12 MiB buffer needs no migration, the lists are
  // given back to the buddy allocator first (alloc_contig_range drains them).
  auto c = simulate(*buildBoard(smallPlan()).value(),
                    parse(R"({"steps": 2, "sample_every": 1, "pressure": {"pcp_pages": 4096, "pcp_cma_pages": 4096},
                              "streams": [{"heap": "contiguous", "size": "12M", "start": 1, "hold": 10}]})"),
                    SimOptions{});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->samples[0].areas[0].borrowed_pages, 4096u);
  EXPECT_EQ(c->samples[0].areas[0].free_pageblocks, 0u);
  EXPECT_EQ(c->failures, 0u);
  EXPECT_EQ(c->pages_migrated, 0u);
  EXPECT_EQ(c->samples[1].areas[0].borrowed_pages, 0u);
  EXPECT_EQ(c->samples[1].areas[0].free_pages, 1024u);
}

TEST(Simulate, DeterministicForTheSameSeed) {
  Workload w = parse(R"({"seed": 3, "steps": 200, "pressure": {"movable": "40M", "churn": "1M", "pinned_share": 0.05, "pin_steps": 5},
                         "streams": [{"heap": "contiguous", "size": "1M", "size_max": "5M", "count": 4, "hold": 2, "hold_max": 30}]})");
  std::string first;
  for (int i = 0; i < 2; ++i) {
    auto board = buildBoard(smallPlan()).value();
    auto r = simulate(*board, w, SimOptions{CmaPlacement::kBestFit});
    ASSERT_TRUE(r.ok());
    const std::string json = reportJson(r.value(), 4096);
    if (i == 0) first = json;
    else EXPECT_EQ(json, first);
  }
  EXPECT_NE(first.find("\"placement\": \"best-fit\""), std::string::npos);
}

TEST(Simulate, UnknownHeapIsAnError) {
  auto board = buildBoard(smallPlan()).value();
  Workload w = parse(R"({"streams": [{"heap": "vram", "size": 4096}]})");
  auto r = simulate(*board, w, SimOptions{});
  EXPECT_EQ(r.code(), EINVAL);
  EXPECT_NE(r.error().message().find("heaps: system, default_cma_region, reserved"), std::string::npos)
      << r.error().message();
}

TEST(Simulate, FindMinCma) {
  Workload w = parse(R"({"steps": 6, "streams": [{"heap": "contiguous", "size": "6M", "count": 2, "hold": 2}]})");
  auto r = findMinCma(smallPlan(), w, SimOptions{});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->found);
  EXPECT_EQ(r->bytes, 12 * kMiB);  // two 6 MiB buffers, 2 MiB pageblocks
}

TEST(Simulate, SvgHasOnePanelPerArea) {
  auto board = buildBoard(smallPlan()).value();
  Workload w = parse(R"({"steps": 20, "streams": [{"heap": "contiguous", "size": "1M", "count": 2, "hold": 3}]})");
  auto r = simulate(*board, w, SimOptions{});
  const std::string svg = reportSvg(r.value(), 4096);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("CMA area reserved (16.0 MiB)"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace dmaheap::sim
