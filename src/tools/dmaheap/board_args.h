// The options every board-using subcommand shares: --dtb, --kernel, --kernel-config, --cmdline,
// --profile and --heaps (docs/heap-profiles.md), --memory and --memory-size (docs/cli.md).
#pragma once

#include "board/board_loader.h"
#include "tools/dmaheap/args.h"

namespace dmaheap::cli {

inline void addBoardOptions(ArgSpec* spec) {
  spec->options.insert({"--dtb", "--kernel", "--kernel-config", "--cmdline", "--profile", "--heaps", "--memory", "--memory-size"});
}

inline BoardOptions boardOptionsFrom(const Args& args) {
  BoardOptions o;
  if (auto* v = args.option("--dtb")) o.dtb = *v;
  if (auto* v = args.option("--kernel")) o.kernel = *v;
  if (auto* v = args.option("--kernel-config")) o.kernel_config = *v;
  if (auto* v = args.option("--cmdline")) o.cmdline = *v;
  if (auto* v = args.option("--profile")) o.profile = *v;
  if (auto* v = args.option("--heaps")) o.heaps_file = *v;
  if (auto* v = args.option("--memory")) o.memory = *v;
  if (auto* v = args.option("--memory-size")) o.memory_size = *v;
  return o;
}

}  // namespace dmaheap::cli
