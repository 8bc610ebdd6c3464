// dmaheap dt-check FILE: which CMA areas and /dev/dma_heap nodes a device tree gives on a kernel,
// and why not. Thin over dtcheck::run.
#include <cstdio>

#include "dtcheck/report.h"
#include "tools/dmaheap/args.h"
#include "tools/dmaheap/commands.h"

namespace dmaheap::cli {

int runDtCheck(const std::vector<std::string>& argv) {
  const ArgSpec spec{{"--json"}, {"--kernel", "--kernel-config", "--cmdline", "--svg", "--memory", "--memory-size"}};
  auto args = parseArgs(argv, spec);
  if (!args) {
    std::fprintf(stderr, "dmaheap dt-check: %s\n", args.error().message().c_str());
    return kExitUsage;
  }
  if (args->positional.size() != 1) {
    std::fprintf(stderr,
                 "usage: dmaheap dt-check FILE [--kernel V] [--kernel-config FILE] [--cmdline \"cma=...\"] "
                 "[--memory BASE:SIZE[,...] | --memory-size SIZE] [--json] [--svg OUT.svg]\n");
    return kExitUsage;
  }
  dtcheck::Options o;
  o.path = args->positional[0];
  if (const auto* v = args->option("--kernel")) o.kernel_version = *v;
  if (const auto* v = args->option("--kernel-config")) o.kernel_config = *v;
  if (const auto* v = args->option("--cmdline")) o.cmdline = *v;
  if (const auto* v = args->option("--svg")) o.svg_path = *v;
  if (const auto* v = args->option("--memory")) o.memory = *v;
  if (const auto* v = args->option("--memory-size")) o.memory_size = *v;
  o.json = args->has("--json");
  std::string out;
  std::string err;
  const int status = dtcheck::run(o, &out, &err);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fwrite(err.data(), 1, err.size(), stderr);
  return status;
}

}  // namespace dmaheap::cli
