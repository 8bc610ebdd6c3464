// dtcheck_corpus: runs dt-check in-process over many device trees and kernels (one process instead
// of thousands) and prints a digest of every report plus counts. Used by
// scripts/run-dtb-corpus.sh: no crash, no exit 2, the same digest on every run.
//   dtcheck_corpus [--devices] KERNELS FILE...    (KERNELS: comma-separated, e.g. 5.3,6.1,6.12,6.18,7.2)
// --devices: as `dt-check --devices`, and counts of what it finds (trees per finding).
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
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
  const bool devices = argc > 1 && std::strcmp(argv[1], "--devices") == 0;
  if (devices) {
    --argc;
    ++argv;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: dtcheck_corpus [--devices] KERNELS FILE...\n");
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
  // --devices: trees with at least one such device / finding (any kernel), and totals per kernel run.
  long with_devices = 0, device_runs = 0;
  std::map<std::string, long> trees_with_code;  // device-region-* and pipeline-no-cma-heap codes
  std::map<std::string, long> outcomes;         // memory-region entries per outcome, over all runs
  std::map<std::string, long> heaps;            // devices per recommended heap kind, over all runs
  for (int i = 2; i < argc; ++i) {
    bool reserved = false, dt_cma = false, diag = false, error = false, has_devices = false;
    std::set<std::string> codes;
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
      auto report = dtcheck::makeReport(argv[i], "", dt::planFromFdt(*fdt, kernel, ""));
      if (devices) {
        dtcheck::addDevices(&report, *fdt);
        for (const auto& e : report.devices->devices) {
          ++device_runs;
          has_devices = true;
          for (const auto& g : e.device.regions) ++outcomes[dt::bindingName(g.binding)];
          ++heaps[e.heap.empty() ? "none" : e.device.iommu.active && e.heap == "system" ? "system (IOMMU)" : "CMA"];
        }
        for (const auto& d : report.devices->diagnostics) codes.insert(d.code);
      }
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
    with_devices += has_devices;
    for (const auto& c : codes) ++trees_with_code[c];
  }
  std::printf("trees %d, kernels %zu, runs %ld, unreadable %ld\n", argc - 2, kernels.size(), runs, unreadable);
  std::printf("trees with /reserved-memory regions %ld, with DT CMA areas %ld, with diagnostics %ld, with errors %ld\n",
              with_reserved, with_dt_cma, with_diag, with_error);
  std::printf("diagnostics in all runs %ld, predicted crashes %ld\n", diagnostics, crashes);
  if (devices) {
    std::printf("devices: trees with enabled memory-region users %ld, devices over all runs %ld\n", with_devices,
                device_runs);
    std::printf("devices: memory-region entries over all runs:");
    for (const auto& [k, v] : outcomes) std::printf(" %s %ld", k.c_str(), v);
    std::printf("\ndevices: recommended heap over all runs:");
    for (const auto& [k, v] : heaps) std::printf(" %s %ld", k.c_str(), v);
    std::printf("\ndevices: trees with each finding (any kernel):");
    for (const auto& [k, v] : trees_with_code) std::printf(" %s %ld", k.c_str(), v);
    std::printf("\n");
  }
  std::printf("digest %016llx\n", static_cast<unsigned long long>(digest));
  return unreadable == 0 ? 0 : 1;
}
