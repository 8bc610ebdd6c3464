// dmaheap simulate [--dtb FILE] WORKLOAD: replay a workload on the board's heaps, with reusable
// CMA (movable borrowing, migration, pinning), and report failures and fragmentation.
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "base/size.h"
#include "base/json_text.h"
#include "devicetree/plan.h"
#include "heaps/heap_profile.h"
#include "simulate/report.h"
#include "simulate/simulator.h"
#include "tools/dmaheap/board_args.h"
#include "tools/dmaheap/commands.h"

namespace dmaheap::cli {

int runSimulate(const std::vector<std::string>& argv) {
  ArgSpec spec;
  spec.flags = {"--json", "--find-min-cma"};
  spec.options = {"--policy", "--svg"};
  addBoardOptions(&spec);
  auto args = parseArgs(argv, spec);
  if (!args || args->positional.size() != 1) {
    std::fprintf(stderr, "%s%susage: dmaheap simulate [--dtb FILE] [--kernel V] WORKLOAD [--policy first-fit|best-fit|segregated|compare] "
                         "[--json] [--svg OUT.svg] [--find-min-cma]\n",
                 args ? "" : args.error().message().c_str(), args ? "" : "\n");
    return kExitUsage;
  }
  std::vector<CmaPlacement> policies = {CmaPlacement::kFirstFit};
  if (auto* p = args->option("--policy")) {
    if (*p == "first-fit") policies = {CmaPlacement::kFirstFit};
    else if (*p == "best-fit") policies = {CmaPlacement::kBestFit};
    else if (*p == "segregated") policies = {CmaPlacement::kSegregated};
    else if (*p == "compare") policies = {CmaPlacement::kFirstFit, CmaPlacement::kBestFit, CmaPlacement::kSegregated};
    else {
      std::fprintf(stderr, "dmaheap simulate: --policy is first-fit, best-fit, segregated or compare, not '%s'\n", p->c_str());
      return kExitUsage;
    }
  }
  auto workload = sim::loadWorkload(args->positional[0]);
  if (!workload) {
    std::fprintf(stderr, "dmaheap simulate: %s\n", workload.error().message().c_str());
    return kExitUsage;
  }
  auto plan = planFromOptions(boardOptionsFrom(*args));
  if (!plan) {
    std::fprintf(stderr, "dmaheap simulate: %s\n", plan.error().message().c_str());
    return kExitUsage;
  }
  auto profile = heapProfileFromOptions(boardOptionsFrom(*args).profile, boardOptionsFrom(*args).heaps_file);
  if (!profile) {
    std::fprintf(stderr, "dmaheap simulate: %s\n", profile.error().message().c_str());
    return kExitUsage;
  }
  const bool json = args->has("--json");
  nlohmann::json all = nlohmann::json::array();
  int failures = 0;
  for (CmaPlacement policy : policies) {
    auto board = buildBoard(plan.value(), profile.value());
    if (!board) {
      std::fprintf(stderr, "dmaheap simulate: %s\n", board.error().message().c_str());
      return kExitUsage;
    }
    const uint64_t page = board.value()->memory->pageSize();
    auto result = sim::simulate(*board.value(), workload.value(), sim::SimOptions{policy});
    if (!result) {
      std::fprintf(stderr, "dmaheap simulate: %s\n", result.error().message().c_str());
      return kExitUsage;
    }
    failures += result->failures > 0;
    nlohmann::json entry = nlohmann::json::parse(sim::reportJson(result.value(), page));
    if (args->has("--find-min-cma")) {
      auto min = sim::findMinCma(plan.value(), workload.value(), sim::SimOptions{policy}, profile.value());
      if (!min) {
        std::fprintf(stderr, "dmaheap simulate: --find-min-cma: %s\n", min.error().message().c_str());
        return kExitUsage;
      }
      entry["min_cma"] = min->found ? nlohmann::json(min->bytes) : nlohmann::json(nullptr);
      nlohmann::json tried = nlohmann::json::array();
      for (auto [bytes, f] : min->tried) tried.push_back({{"size", bytes}, {"failures", f == ~uint64_t{0} ? -1 : static_cast<int64_t>(f)}});
      entry["min_cma_tried"] = tried;
      if (!json) {
        std::printf("%s", sim::reportText(result.value(), page).c_str());
        if (min->found) {
          std::printf("smallest CMA area with no failure (%s): %s (%zu simulations)\n\n", cmaPlacementName(policy),
                      formatSize(min->bytes).c_str(), min->tried.size());
        } else {
          std::printf("no CMA size up to twice the current one avoids every failure (%s)\n\n", cmaPlacementName(policy));
        }
      }
    } else if (!json) {
      std::printf("%s\n", sim::reportText(result.value(), page).c_str());
    }
    all.push_back(entry);
    if (auto* svg = args->option("--svg")) {
      std::string path = *svg;
      if (policies.size() > 1) {
        const size_t dot = path.rfind(".svg");
        path = (dot == std::string::npos ? path : path.substr(0, dot)) + "-" + cmaPlacementName(policy) + ".svg";
      }
      std::ofstream out(path);
      out << sim::reportSvg(result.value(), page);
      if (!out) {
        std::fprintf(stderr, "dmaheap simulate: cannot write %s\n", path.c_str());
        return kExitUsage;
      }
    }
  }
  if (json) std::printf("%s\n", jsonText(policies.size() == 1 ? all[0] : nlohmann::json{{"runs", all}}).c_str());
  return failures ? kExitFailure : kExitOk;
}

}  // namespace dmaheap::cli
