// The dmaheap subcommands. Each takes the arguments after its name and returns the exit status
// (0 ok, 1 the operation failed, 2 bad arguments or unreadable input).
#pragma once

#include <string>
#include <vector>

namespace dmaheap::cli {

int runList(const std::vector<std::string>& args);
int runAlloc(const std::vector<std::string>& args);
int runDtCheck(const std::vector<std::string>& args);
int runRun(const std::vector<std::string>& args);
int runSimulate(const std::vector<std::string>& args);
int runStats(const std::vector<std::string>& args);  // stats_command.cc: the service's accounting

}  // namespace dmaheap::cli
