// The dmaheap subcommands. Each file defines its command's options once, on the CLI11 App
// `define*` is given (tools/cli/cli.h), and what the parse runs: the command's function, which
// returns the exit status (0 ok, 1 the operation failed, 2 bad arguments or unreadable input).
#pragma once

#include "tools/cli/cli.h"

namespace dmaheap::cli {

void defineList(Cli& cli);
void defineAlloc(Cli& cli);
void defineDtCheck(Cli& cli);
void defineRun(Cli& cli);
void defineSimulate(Cli& cli);
void defineStats(Cli& cli);  // stats_command.cc: the service's accounting

}  // namespace dmaheap::cli
