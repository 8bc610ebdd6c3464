// dmaheap run: an unmodified program (static or dynamic) with /dev/dma_heap emulated.
#include <cstdio>
#include <memory>

#include "base/backend_name.h"
#include "emulation/embedded_backend.h"
#include "emulation/runner.h"
#include "emulation/service_backend.h"
#include "protocol/transport.h"
#include "tools/dmaheap/board_args.h"
#include "tools/dmaheap/commands.h"

namespace dmaheap::cli {
namespace {

constexpr const char* kUsage =
    "usage: dmaheap run [--dtb FILE] [--kernel V] [--kernel-config FILE] [--cmdline ARGS]\n"
    "                   [--profile android|rockchip|nxp] [--heaps FILE]\n"
    "                   [--memory BASE:SIZE[,...] | --memory-size SIZE]\n"
    "                   [--backend auto|embedded|service] [--socket PATH] -- PROGRAM [ARGS...]";

// auto: the running dmaheapd when no board option asks for a board of our own, else embedded.
Result<std::unique_ptr<emul::HeapBackend>> makeBackend(const Args& args) {
  const std::string* which = args.option("--backend");
  auto parsed = which ? parseBackendName(*which, BackendNameSource::kRunOption) : Result<BackendName>(BackendName::kAuto);
  if (!parsed) return parsed.error();
  const BackendName mode = parsed.value();
  const BoardOptions board_options = boardOptionsFrom(args);
  const bool wants_board = !board_options.dtb.empty() || !board_options.kernel.empty() ||
                           !board_options.kernel_config.empty() || !board_options.cmdline.empty() ||
                           !board_options.profile.empty() || !board_options.heaps_file.empty() ||
                           !board_options.memory.empty() || !board_options.memory_size.empty();
  if (mode == BackendName::kService || (mode == BackendName::kAuto && !wants_board)) {
    const std::string* socket = args.option("--socket");
    auto service = emul::ServiceBackend::connect(socket ? *socket : proto::defaultSocketPath());
    if (service) return std::unique_ptr<emul::HeapBackend>(std::move(service.value()));
    if (mode == BackendName::kService) {
      return makeError(service.code(), "no dmaheapd service at " +
                                           (socket ? *socket : proto::defaultSocketPath()) + ": " +
                                           service.error().message());
    }
  }
  auto board = loadBoard(board_options);
  if (!board) return board.error();
  auto embedded = emul::EmbeddedBackend::create(std::move(board.value()));
  if (!embedded) return embedded.error();
  return std::unique_ptr<emul::HeapBackend>(std::move(embedded.value()));
}

}  // namespace

int runRun(const std::vector<std::string>& argv) {
  ArgSpec spec;
  addBoardOptions(&spec);
  spec.options.insert({"--backend", "--socket"});
  auto args = parseArgs(argv, spec);
  if (!args || args->after_dashdash.empty() || !args->positional.empty()) {
    std::fprintf(stderr, "dmaheap run: %s\n%s\n", !args ? args.error().message().c_str() : "expects -- PROGRAM [ARGS...]",
                 kUsage);
    return kExitUsage;
  }
  auto backend = makeBackend(*args);
  if (!backend) {
    std::fprintf(stderr, "dmaheap run: %s\n", backend.error().message().c_str());
    return kExitUsage;
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
