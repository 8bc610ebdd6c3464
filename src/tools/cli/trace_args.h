// --trace FILE of `dmaheap run` and dmaheapd (docs/traces.md): defined here once, and the one way
// both open the trace and write its start line.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "tools/cli/cli.h"
#include "trace/trace_log.h"

namespace dmaheap::cli {

CLI::Option* addTraceOption(Cli& cli, CLI::App* app, std::optional<std::string>* path);

// Opens `path` for appending and writes the start line. The open errno with the path.
Result<std::unique_ptr<trace::TraceLog>> openTrace(const std::string& path, trace::Releases releases,
                                                   const std::string& source, const std::string& kernel,
                                                   uint64_t page_size, std::vector<trace::TraceHeap> heaps);

}  // namespace dmaheap::cli
