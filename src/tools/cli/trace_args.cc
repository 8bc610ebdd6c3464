// The writers' --trace option.
#include "tools/cli/trace_args.h"

namespace dmaheap::cli {

CLI::Option* addTraceOption(Cli& cli, CLI::App* app, std::optional<std::string>* path) {
  return cli.file(app->add_option("--trace", *path,
                                  "Append one JSON line per ALLOC, SET_NAME and release to FILE (docs/traces.md); "
                                  "replay it with 'dmaheap simulate --trace FILE'")
                      ->type_name("FILE"));
}

Result<std::unique_ptr<trace::TraceLog>> openTrace(const std::string& path, trace::Releases releases,
                                                   const std::string& source, const std::string& kernel,
                                                   uint64_t page_size, std::vector<trace::TraceHeap> heaps) {
  auto log = trace::TraceLog::open(path, releases);
  if (!log) return log.error();
  log.value()->start(source, kernel, page_size, std::move(heaps));
  return log;
}

}  // namespace dmaheap::cli
