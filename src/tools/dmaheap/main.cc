// dmaheap: the command line. Dispatches to one function per subcommand.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/dmaheap/args.h"
#include "tools/dmaheap/commands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(const std::vector<std::string>&);
  const char* usage;
};

constexpr Subcommand kSubcommands[] = {
    {"list", dmaheap::cli::runList, "list [--dtb FILE] [--kernel V] [--kernel-config FILE] [--profile NAME] [--heaps FILE] [--json]"},
    {"alloc", dmaheap::cli::runAlloc,
     "alloc HEAP SIZE [--count N] [--dtb FILE] [--kernel V] [--kernel-config FILE] [--profile NAME] [--heaps FILE] [--json]"},
    {"dt-check", dmaheap::cli::runDtCheck,
     "dt-check FILE [--kernel V] [--kernel-config FILE] [--cmdline \"cma=...\"] [--devices] [--json] [--svg OUT.svg]"},
    {"run", dmaheap::cli::runRun, "run [--dtb FILE] [--kernel V] [--kernel-config FILE] [--profile NAME] [--heaps FILE] -- PROGRAM [ARGS...]"},
    {"simulate", dmaheap::cli::runSimulate,
     "simulate [--dtb FILE] [--kernel V] [--profile NAME] [--heaps FILE] WORKLOAD [--policy first-fit|best-fit|segregated|compare] [--json] [--svg OUT.svg] "
     "[--find-min-cma]"},
    {"stats", dmaheap::cli::runStats, "stats [--json] [--no-holders] [--socket PATH]"},
};

void usage(FILE* out) {
  std::fprintf(out, "usage: dmaheap COMMAND [ARGS...]\n\ncommands:\n");
  for (const auto& c : kSubcommands) std::fprintf(out, "  dmaheap %s\n", c.usage);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return dmaheap::cli::kExitUsage;
  }
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  const std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& c : kSubcommands) {
    if (cmd == c.name) return c.run(args);
  }
  std::fprintf(stderr, "dmaheap: unknown command '%s'\n", cmd.c_str());
  usage(stderr);
  return dmaheap::cli::kExitUsage;
}
