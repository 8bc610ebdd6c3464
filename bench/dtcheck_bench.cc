// dt-check time per tree over the Debian arm64 .dtb corpus (scripts/fetch-debian-dtbs.sh), the
// whole command as `dmaheap dt-check FILE` runs it (read, scan, plan heaps, render the text
// report), default kernel. One repetition checks every tree once; the time is the mean per tree,
// p50_us / max_us are over the trees. The corpus is $DTB_DIR, else build/debian-dtbs next to
// this binary's build directory.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "dtcheck/report.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> g_trees;

void BM_DtCheckCorpus(benchmark::State& state) {
  std::vector<double> us;
  size_t next = 0, errors = 0;
  for (auto _ : state) {
    dmaheap::dtcheck::Options o;
    o.path = g_trees[next++ % g_trees.size()];
    std::string out, err;
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = dmaheap::dtcheck::run(o, &out, &err);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(out.data());
    if (rc > 1) ++errors;
    const double s = std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(s);
    us.push_back(s * 1e6);
  }
  std::sort(us.begin(), us.end());
  state.counters["trees"] = static_cast<double>(g_trees.size());
  state.counters["unreadable"] = static_cast<double>(errors);
  state.counters["p50_us"] = us.empty() ? 0 : us[us.size() / 2];
  state.counters["max_us"] = us.empty() ? 0 : us.back();
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir;
  if (const char* env = std::getenv("DTB_DIR")) dir = env;
  else dir = fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "debian-dtbs";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->path().extension() == ".dtb") g_trees.push_back(it->path().string());
  std::sort(g_trees.begin(), g_trees.end());
  if (g_trees.empty()) {
    std::fprintf(stderr, "dtcheck_bench: no .dtb files under %s (run scripts/fetch-debian-dtbs.sh)\n", dir.c_str());
    return 2;
  }
  benchmark::RegisterBenchmark("dtcheck/corpus_per_tree", BM_DtCheckCorpus)
      ->Iterations(static_cast<benchmark::IterationCount>(g_trees.size()))
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
