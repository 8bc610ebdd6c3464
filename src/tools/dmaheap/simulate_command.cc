// dmaheap simulate [--dtb FILE] WORKLOAD: replay a workload on the board's heaps, with reusable
// CMA (movable borrowing, migration, pinning), and report failures and fragmentation.
#include <cstdio>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "base/size.h"
#include "base/json_text.h"
#include "devicetree/plan.h"
#include "heaps/heap_profile.h"
#include "simulate/report.h"
#include "simulate/simulator.h"
#include "tools/cli/board_args.h"
#include "tools/dmaheap/commands.h"

namespace dmaheap::cli {
namespace {

struct SimulateArgs {
  std::string workload;
  BoardArgs board;
  std::optional<std::string> policy, svg;
  bool json = false;
  bool find_min_cma = false;
};

constexpr CmaPlacement kPlacements[] = {CmaPlacement::kFirstFit, CmaPlacement::kBestFit, CmaPlacement::kSegregated};

// --policy NAME: one placement by its name, or "compare" for all of them.
std::vector<std::string> policyNames() {
  std::vector<std::string> names;
  for (CmaPlacement p : kPlacements) names.push_back(cmaPlacementName(p));
  names.push_back("compare");
  return names;
}

int runSimulate(const SimulateArgs& args) {
  std::vector<CmaPlacement> policies = {CmaPlacement::kFirstFit};
  if (const auto& p = args.policy) {
    policies.clear();
    for (CmaPlacement placement : kPlacements)
      if (*p == cmaPlacementName(placement) || *p == "compare") policies.push_back(placement);
    if (policies.empty()) {
      std::fprintf(stderr, "dmaheap simulate: --policy is first-fit, best-fit, segregated or compare, not '%s'\n", p->c_str());
      return kExitUsage;
    }
  }
  auto workload = sim::loadWorkload(args.workload);
  if (!workload) {
    std::fprintf(stderr, "dmaheap simulate: %s\n", workload.error().message().c_str());
    return kExitUsage;
  }
  auto plan = planFromOptions(args.board.options());
  if (!plan) {
    std::fprintf(stderr, "dmaheap simulate: %s\n", plan.error().message().c_str());
    return kExitUsage;
  }
  auto profile = heapProfileFromOptions(args.board.options().profile, args.board.options().heaps_file);
  if (!profile) {
    std::fprintf(stderr, "dmaheap simulate: %s\n", profile.error().message().c_str());
    return kExitUsage;
  }
  const bool json = args.json;
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
    if (args.find_min_cma) {
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
    if (const auto& svg = args.svg) {
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

}  // namespace

void defineSimulate(Cli& cli) {
  auto args = std::make_shared<SimulateArgs>();
  CLI::App* sub = cli.command("simulate", "Replay a workload on the board's heaps: failures, fragmentation, migration");
  cli.file(sub->add_option("WORKLOAD", args->workload, "The workload, a JSON file (examples/simulate/README.md)")->type_name("")
               ->required());
  addBoardOptions(cli, sub, &args->board);
  cli.words(sub->add_option("--policy", args->policy, "CMA placement: first-fit (default), best-fit, segregated, or compare all")
                ->type_name("NAME"),
            policyNames());
  sub->add_flag("--json", args->json, "Print one JSON object instead of text")->disable_flag_override();
  cli.file(sub->add_option("--svg", args->svg, "Also draw the run as SVG into OUT.svg (one file per policy with compare)")
               ->type_name("OUT.svg"));
  sub->add_flag("--find-min-cma", args->find_min_cma, "Also search the smallest CMA size with no failure")
      ->disable_flag_override();
  cli.onRun(sub, [args] { return runSimulate(*args); });
}

}  // namespace dmaheap::cli
