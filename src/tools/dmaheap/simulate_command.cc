// dmaheap simulate [--dtb FILE] WORKLOAD: replay a workload on the board's heaps, with reusable
// CMA (movable borrowing, migration, pinning), and report failures and fragmentation.
#include <cstdio>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "base/size.h"
#include "base/errno_name.h"
#include "base/json_text.h"
#include "devicetree/plan.h"
#include "heaps/heap_profile.h"
#include "simulate/report.h"
#include "simulate/simulator.h"
#include "simulate/trace_workload.h"
#include "tools/cli/board_args.h"
#include "tools/dmaheap/commands.h"

namespace dmaheap::cli {
namespace {

struct SimulateArgs {
  std::optional<std::string> workload;
  std::optional<std::string> trace;   // --trace FILE: a recorded trace (docs/traces.md)
  std::optional<uint64_t> speed;      // ms of trace time per step
  double jitter_ms = 1.0;
  uint64_t jitter_runs = 20;
  uint64_t seed = 1;
  BoardArgs board;
  std::optional<std::string> policy, svg;
  bool json = false;
  bool find_min_cma = false;
};

std::string blocksText(uint64_t bytes, uint64_t block) {
  const uint64_t n = block ? bytes / block : 0;
  return formatSize(bytes) + " = " + std::to_string(n) + (n == 1 ? " pageblock of " : " pageblocks of ") + formatSize(block);
}

// The trace kind's --find-min-cma: the edge one pageblock below, and the margin from jittered
// replays; into `entry` and, for text, onto stdout.
Status traceMinCma(const SimulateArgs& args, const dt::BoardPlan& plan, const sim::Workload& workload,
                   CmaPlacement policy, const std::vector<HeapSpec>& profile, const sim::MinCmaResult& min,
                   nlohmann::json& entry) {
  const uint64_t block = min.pageblock;
  entry["pageblock"] = block;
  if (!min.no_edge.empty()) entry["min_cma_no_edge"] = min.no_edge;
  if (min.edge_checked) {
    nlohmann::json edge = {{"size", min.bytes - block}, {"failures", min.edge_failures}};
    if (min.edge_trace_failure.line) {
      const auto& f = min.edge_trace_failure;
      edge["first_failure"] = {{"step", f.step}, {"line", f.line}, {"heap", f.heap}, {"size", f.size},
                               {"errno", errnoName(f.error)}, {"kernel_log", f.kernel_log}};
    }
    entry["min_cma_edge"] = edge;
  }
  if (!args.json) {
    if (min.found) {
      std::printf("smallest CMA area with no failure (%s, area %s): %s (%zu simulations)\n", cmaPlacementName(policy),
                  min.area.c_str(), blocksText(min.bytes, block).c_str(), min.tried.size());
    } else if (min.no_edge.empty()) {
      std::printf("no CMA size up to twice the current one avoids every failure (%s)\n", cmaPlacementName(policy));
    }
    if (min.edge_checked) {
      std::printf("one pageblock less (%s): %llu failed allocations", formatSize(min.bytes - block).c_str(),
                  static_cast<unsigned long long>(min.edge_failures));
      if (min.edge_trace_failure.line) {
        const auto& f = min.edge_trace_failure;
        std::printf("; the first at step %llu, trace line %llu: heap '%s', %s: %s\n", static_cast<unsigned long long>(f.step),
                    static_cast<unsigned long long>(f.line), f.heap.c_str(), formatSize(f.size).c_str(), errnoName(f.error).c_str());
        if (!f.kernel_log.empty()) std::printf("  kernel log: %s\n", f.kernel_log.c_str());
      } else {
        std::printf("\n");
      }
    }
    if (!min.no_edge.empty()) std::printf("no edge to check: %s\n", min.no_edge.c_str());
  }
  if (!min.found || args.jitter_runs == 0) {
    if (!args.json) std::printf("\n");
    return {};
  }
  const auto jitter_ns = static_cast<uint64_t>(args.jitter_ms * 1e6);
  auto margin = sim::jitterMargin(plan, workload, sim::SimOptions{policy}, profile, args.seed, args.jitter_runs, jitter_ns);
  if (!margin) return margin.error();
  const uint64_t suggested = std::max(min.bytes, margin->percentile99);
  entry["min_cma_margin"] = {{"seed", margin->seed},
                             {"runs", margin->runs},
                             {"jitter_ns", margin->jitter_ns},
                             {"percentile99", margin->percentile99},
                             {"largest", margin->largest},
                             {"unfixable", margin->unfixable},
                             {"suggested", suggested}};
  if (!args.json) {
    std::printf("margin: %llu replays with every event moved by up to +-%g ms (seeds %llu..%llu): 99th percentile %s, "
                "largest %s",
                static_cast<unsigned long long>(margin->runs), args.jitter_ms, static_cast<unsigned long long>(margin->seed),
                static_cast<unsigned long long>(margin->seed + margin->runs - 1), formatSize(margin->percentile99).c_str(),
                formatSize(margin->largest).c_str());
    if (margin->unfixable) std::printf(", %llu not fixed by any size tried", static_cast<unsigned long long>(margin->unfixable));
    std::printf("\nsuggested CMA size: %s\n\n", blocksText(suggested, block).c_str());
  }
  return {};
}

constexpr CmaPlacement kPlacements[] = {CmaPlacement::kFirstFit, CmaPlacement::kBestFit, CmaPlacement::kSegregated};

// --policy NAME: one placement by its name, or "compare" for all of them.
std::vector<std::string> policyNames() {
  std::vector<std::string> names;
  for (CmaPlacement p : kPlacements) names.push_back(cmaPlacementName(p));
  names.push_back("compare");
  return names;
}

int runSimulate(const Cli& cli, const CLI::App* sub, const SimulateArgs& args) {
  if (args.workload.has_value() == args.trace.has_value()) {
    return cli.usageError(sub, args.trace ? "takes a WORKLOAD or --trace FILE, not both" : "expects WORKLOAD or --trace FILE");
  }
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
  Result<sim::Workload> workload = makeError(EINVAL, "no workload");
  if (args.trace) {
    auto trace = sim::loadTrace(*args.trace, args.speed.value_or(1));
    if (trace) workload = sim::traceWorkload(std::move(trace.value()), *args.trace);
    else workload = trace.error();
  } else {
    workload = sim::loadWorkload(*args.workload);
    if (workload && args.speed) workload->speed = *args.speed;
    if (workload) {
      if (auto st = sim::attachTrace(workload.value(), *args.workload); !st) workload = st.error();
    }
  }
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
      if (workload->trace) {
        if (!json) std::printf("%s", sim::reportText(result.value(), page).c_str());
        if (auto st = traceMinCma(args, plan.value(), workload.value(), policy, profile.value(), min.value(), entry); !st) {
          std::fprintf(stderr, "dmaheap simulate: --find-min-cma: %s\n", st.error().message().c_str());
          return kExitUsage;
        }
      } else if (!json) {
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
  cli.file(sub->add_option("WORKLOAD", args->workload, "The workload, a JSON file (examples/simulate/README.md)")->type_name(""));
  cli.file(sub->add_option("--trace", args->trace,
                           "Replay an allocation trace that 'dmaheap run --trace' or 'dmaheapd --trace' wrote, instead of "
                           "a WORKLOAD (docs/traces.md)")
               ->type_name("FILE"));
  sub->add_option("--speed", args->speed, "A trace's time per simulated step, in ms (default 1): N replays N times faster")
      ->type_name("N")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}));
  sub->add_option("--jitter", args->jitter_ms,
                  "With --trace and --find-min-cma: move every event by up to this many ms in the margin's replays "
                  "(default 1)")
      ->type_name("MS")
      ->check(CLI::Range(0.0, 1e6));
  sub->add_option("--jitter-runs", args->jitter_runs,
                  "With --trace and --find-min-cma: how many jittered replays give the margin (default 20; 0: none)")
      ->type_name("N")
      ->check(CLI::Range(uint64_t{0}, uint64_t{10'000}));
  sub->add_option("--seed", args->seed, "The first seed of the jittered replays (default 1; printed with the margin)")
      ->type_name("S");
  addBoardOptions(cli, sub, &args->board);
  cli.words(sub->add_option("--policy", args->policy, "CMA placement: first-fit (default), best-fit, segregated, or compare all")
                ->type_name("NAME"),
            policyNames());
  sub->add_flag("--json", args->json, "Print one JSON object instead of text")->disable_flag_override();
  cli.file(sub->add_option("--svg", args->svg, "Also draw the run as SVG into OUT.svg (one file per policy with compare)")
               ->type_name("OUT.svg"));
  sub->add_flag("--find-min-cma", args->find_min_cma, "Also search the smallest CMA size with no failure")
      ->disable_flag_override();
  cli.onRun(sub, [&cli, sub, args] { return runSimulate(cli, sub, *args); });
}

}  // namespace dmaheap::cli
