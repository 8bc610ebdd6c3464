// dmaheap run: an unmodified program (static or dynamic) with /dev/dma_heap emulated.
#include <cstdio>
#include <memory>

#include "emulation/embedded_backend.h"
#include "emulation/runner.h"
#include "tools/dmaheap/board_args.h"
#include "tools/dmaheap/commands.h"

namespace dmaheap::cli {

int runRun(const std::vector<std::string>& argv) {
  ArgSpec spec;
  addBoardOptions(&spec);
  auto args = parseArgs(argv, spec);
  if (!args || args->after_dashdash.empty() || !args->positional.empty()) {
    std::fprintf(stderr, "dmaheap run: %s\nusage: dmaheap run [--dtb FILE] [--kernel V] [--kernel-config FILE] -- PROGRAM [ARGS...]\n",
                 !args ? args.error().message().c_str() : "expects -- PROGRAM [ARGS...]");
    return kExitUsage;
  }
  auto board = loadBoard(boardOptionsFrom(*args));
  if (!board) {
    std::fprintf(stderr, "dmaheap run: %s\n", board.error().message().c_str());
    return kExitUsage;
  }
  auto backend = emul::EmbeddedBackend::create(std::move(board.value()));
  if (!backend) {
    std::fprintf(stderr, "dmaheap run: %s\n", backend.error().message().c_str());
    return kExitFailure;
  }
  emul::RunOptions options;
  options.argv = args->after_dashdash;
  auto status = emul::runProgram(*backend.value(), options);
  if (!status) {
    std::fprintf(stderr, "dmaheap run: %s\n", status.error().message().c_str());
    return 125;
  }
  return status.value();
}

}  // namespace dmaheap::cli
