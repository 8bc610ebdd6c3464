// dtcheck_corpus: runs dt-check in-process over many device trees and kernels (one process instead
// of thousands) and prints a digest of every report plus counts. Used by
// scripts/run-dtb-corpus.sh: no crash, no exit 2, the same digest on every run.
//   dtcheck_corpus KERNELS FILE...    (KERNELS: comma-separated, e.g. 5.3,6.1,6.12,6.18,7.2)
#include <cstdio>
#include <string>
#include <vector>

#include "devicetree/loader.h"
#include "devicetree/plan.h"
#include "dtcheck/report.h"

namespace {

uint64_t fnv(uint64_t h, const std::string& s) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dmaheap;
  if (argc < 3) {
    std::fprintf(stderr, "usage: dtcheck_corpus KERNELS FILE...\n");
    return 2;
  }
  std::vector<std::string> kernels;
  for (std::string k = argv[1]; !k.empty();) {
    const size_t c = k.find(',');
    kernels.push_back(k.substr(0, c));
    k = c == std::string::npos ? "" : k.substr(c + 1);
  }
  uint64_t digest = 0xcbf29ce484222325ull;
  long runs = 0, unreadable = 0, with_reserved = 0, with_dt_cma = 0, with_diag = 0, with_error = 0, crashes = 0;
  long diagnostics = 0;
  for (int i = 2; i < argc; ++i) {
    bool reserved = false, dt_cma = false, diag = false, error = false;
    // The same steps as `dmaheap dt-check FILE [--json] [--svg]`, with the file read once.
    auto fdt = dt::loadDeviceTree(argv[i]);
    if (!fdt) {
      std::printf("FAIL %s: exit 2: %s\n", argv[i], fdt.error().message().c_str());
      ++unreadable;
      continue;
    }
    for (const auto& k : kernels) {
      Kernel kernel;
      kernel.version = KernelVersion::parse(k).value();
      ++runs;
      const auto report = dtcheck::makeReport(argv[i], "", dt::planFromFdt(*fdt, kernel, ""));
      digest = fnv(fnv(fnv(digest, dtcheck::renderText(report)), dtcheck::renderJson(report).dump()),
                   dtcheck::renderSvg(report));
      const auto& plan = report.plan;
      reserved |= !plan.regions.empty();
      for (const auto& area : plan.cma_areas) dt_cma |= area.from_dt;
      diag |= !plan.diagnostics.empty();
      error |= plan.hasErrors();
      crashes += plan.kernel_crashes;
      diagnostics += static_cast<long>(plan.diagnostics.size());
    }
    with_reserved += reserved;
    with_dt_cma += dt_cma;
    with_diag += diag;
    with_error += error;
  }
  std::printf("trees %d, kernels %zu, runs %ld, unreadable %ld\n", argc - 2, kernels.size(), runs, unreadable);
  std::printf("trees with /reserved-memory regions %ld, with DT CMA areas %ld, with diagnostics %ld, with errors %ld\n",
              with_reserved, with_dt_cma, with_diag, with_error);
  std::printf("diagnostics in all runs %ld, predicted crashes %ld\n", diagnostics, crashes);
  std::printf("digest %016llx\n", static_cast<unsigned long long>(digest));
  return unreadable == 0 ? 0 : 1;
}
