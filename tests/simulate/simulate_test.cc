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
