// dtcheck_corpus: runs dt-check in-process over many device trees and kernels (one process instead
// of thousands) and prints a digest of every report plus counts. Used by
// scripts/run-dtb-corpus.sh: no crash, no exit 2, the same digest on every run.
//   dtcheck_corpus [--memory-size SIZE] [--devices] KERNELS FILE...    (KERNELS: comma-separated, e.g. 5.3,6.1,6.12)
// With --memory-size every tree gets RAM as a bootloader fills it in (docs/device-trees.md), and the
// counts add trees with CMA areas, with a DMA limit from dma-ranges, and each diagnostic code.
// --devices: as `dt-check --devices`, and counts of what it finds (trees per device finding).
#include <cstdio>
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
  dt::MemoryFixup fixup;
  std::string fill_text;
  bool devices = false;
  while (argc >= 2 && (std::string(argv[1]) == "--devices" || (argc >= 3 && std::string(argv[1]) == "--memory-size"))) {
    if (std::string(argv[1]) == "--devices") {
      devices = true;
      argv += 1;
      argc -= 1;
      continue;
    }
    auto f = dt::memoryFixupFromOptions("", argv[2]);
    if (!f) {
      std::fprintf(stderr, "dtcheck_corpus: %s\n", f.error().message().c_str());
      return 2;
    }
    fixup = f.value();
    fill_text = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: dtcheck_corpus [--memory-size SIZE] [--devices] KERNELS FILE...\n");
    return 2;
  }
  long with_cma = 0, with_dt_limit = 0;
  std::map<std::string, long> trees_with_code;
  std::vector<std::string> kernels;
  for (std::string k = argv[1]; !k.empty();) {
    const size_t c = k.find(',');
    kernels.push_back(k.substr(0, c));
    k = c == std::string::npos ? "" : k.substr(c + 1);
  }
  uint64_t digest = 0xcbf29ce484222325ull;
  long runs = 0, unreadable = 0, with_reserved = 0, with_dt_cma = 0, with_diag = 0, with_error = 0, crashes = 0;
  long diagnostics = 0;
  // --devices: trees with at least one such device / finding (any kernel), and totals over all runs.
  long with_devices = 0, device_runs = 0;
  std::map<std::string, long> trees_with_device_code;  // device-region-* and pipeline-no-cma-heap
  std::map<std::string, long> outcomes;                // memory-region entries per outcome
  std::map<std::string, long> heaps;                   // devices per kind of recommended heap
  std::map<std::string, long> archs;                   // trees per architecture taken (docs/device-trees.md)
  for (int i = 2; i < argc; ++i) {
    bool reserved = false, dt_cma = false, diag = false, error = false, cma = false, dt_limit = false;
    std::map<std::string, bool> codes;
    bool has_devices = false;
    std::set<std::string> device_codes;
    // The same steps as `dmaheap dt-check FILE [--json] [--svg]`, with the file read once.
    auto fdt = dt::loadDeviceTree(argv[i]);
    if (!fdt) {
      std::printf("FAIL %s: exit 2: %s\n", argv[i], fdt.error().message().c_str());
      ++unreadable;
      continue;
    }
    bool arch_counted = false;
    for (const auto& k : kernels) {
      Kernel kernel;
      kernel.version = KernelVersion::parse(k).value();
      ++runs;
      auto plan_or = fixup.any() ? dt::planFromFdt(*fdt, kernel, "", fixup) : Result<dt::BoardPlan>(dt::planFromFdt(*fdt, kernel, ""));
      if (!plan_or) {
        std::printf("FAIL %s: exit 2: %s\n", argv[i], plan_or.error().message().c_str());
        ++unreadable;
        continue;
      }
      auto report = dtcheck::makeReport(argv[i], "", std::move(plan_or).value());
      if (devices) {
        dtcheck::addDevices(&report, *fdt);
        for (const auto& e : report.devices->devices) {
          ++device_runs;
          has_devices = true;
          for (const auto& g : e.device.regions) ++outcomes[dt::bindingName(g.binding)];
          ++heaps[e.heap.empty() ? "none" : e.device.iommu.active && e.heap == "system" ? "system (IOMMU)" : "CMA"];
        }
        for (const auto& d : report.devices->diagnostics) device_codes.insert(d.code + " (" + dt::severityName(d.severity) + ")");
      }
      digest = fnv(fnv(fnv(digest, dtcheck::renderText(report)), dtcheck::renderJson(report).dump()),
                   dtcheck::renderSvg(report));
      const auto& plan = report.plan;
      if (!arch_counted) ++archs[str(plan.kernel.arch)];
      arch_counted = true;
      reserved |= !plan.regions.empty();
      for (const auto& area : plan.cma_areas) dt_cma |= area.from_dt;
      diag |= !plan.diagnostics.empty();
      error |= plan.hasErrors();
      crashes += plan.kernel_crashes;
      diagnostics += static_cast<long>(plan.diagnostics.size());
      cma |= !plan.cma_areas.empty();
      dt_limit |= plan.dma_limit_from_tree;
      for (const auto& d : plan.diagnostics) codes[d.code] = true;
    }
    with_devices += has_devices;
    for (const auto& c : device_codes) ++trees_with_device_code[c];
    with_cma += cma;
    with_dt_limit += dt_limit;
    for (const auto& [code, yes] : codes) trees_with_code[code] += yes;
    with_reserved += reserved;
    with_dt_cma += dt_cma;
    with_diag += diag;
    with_error += error;
  }
  std::printf("trees %d, kernels %zu, runs %ld, unreadable %ld\n", argc - 2, kernels.size(), runs, unreadable);
  std::printf("trees with /reserved-memory regions %ld, with DT CMA areas %ld, with diagnostics %ld, with errors %ld\n",
              with_reserved, with_dt_cma, with_diag, with_error);
  std::printf("diagnostics in all runs %ld, predicted crashes %ld\n", diagnostics, crashes);
  std::printf("architecture taken from the trees:");
  for (const auto& [a, n] : archs) std::printf(" %s %ld", a.c_str(), n);
  std::printf("\n");
  if (fixup.any()) {
    std::printf("memory-size %s: trees with CMA areas %ld, with a DMA zone limit from dma-ranges %ld\n", fill_text.c_str(),
                with_cma, with_dt_limit);
    for (const auto& [code, n] : trees_with_code) std::printf("trees with %s %ld\n", code.c_str(), n);
  }
  if (devices) {
    std::printf("devices: trees with enabled memory-region users %ld, devices over all runs %ld\n", with_devices,
                device_runs);
    std::printf("devices: memory-region entries over all runs:");
    for (const auto& [k, v] : outcomes) std::printf(" %s %ld", k.c_str(), v);
    std::printf("\ndevices: recommended heap over all runs:");
    for (const auto& [k, v] : heaps) std::printf(" %s %ld", k.c_str(), v);
    std::printf("\ndevices: trees with each finding (any kernel):");
    for (const auto& [k, v] : trees_with_device_code) std::printf(" %s %ld", k.c_str(), v);
    std::printf("\n");
  }
  std::printf("digest %016llx\n", static_cast<unsigned long long>(digest));
  return unreadable == 0 ? 0 : 1;
}
