// dmaheap run: an unmodified program (static or dynamic) with /dev/dma_heap emulated.
#include <cstdio>
#include <algorithm>
#include <memory>

#include "base/backend_name.h"
#include "base/errno_name.h"
#include "emulation/embedded_backend.h"
#include "emulation/runner.h"
#include "emulation/service_backend.h"
#include "protocol/transport.h"
#include "tools/cli/board_args.h"
#include "tools/cli/trace_args.h"
#include "tools/dmaheap/commands.h"

namespace dmaheap::cli {
namespace {

struct RunArgs {
  BoardArgs board;
  std::optional<std::string> backend, socket, backing, trace;
  std::vector<std::string> program;  // PROGRAM [ARGS...], after --
};

// auto: the running dmaheapd when no board option asks for a board of our own, else embedded.
Result<std::unique_ptr<emul::HeapBackend>> makeBackend(const RunArgs& args) {
  const auto& which = args.backend;
  auto parsed = which ? parseBackendName(*which, BackendNameSource::kRunOption) : Result<BackendName>(BackendName::kAuto);
  if (!parsed) return parsed.error();
  const BackendName mode = parsed.value();
  const BoardOptions board_options = args.board.options();
  const bool wants_board = !board_options.dtb.empty() || !board_options.kernel.empty() ||
                           !board_options.kernel_config.empty() || !board_options.arch.empty() ||
                           !board_options.cmdline.empty() ||
                           !board_options.profile.empty() || !board_options.heaps_file.empty() ||
                           !board_options.memory.empty() || !board_options.memory_size.empty() ||
                           args.backing.has_value();
  if (mode == BackendName::kService && args.backing) {
    return makeError(EINVAL, "--backing chooses the embedded backend's backing; the service's is dmaheapd --backing");
  }
  if (mode == BackendName::kService || (mode == BackendName::kAuto && !wants_board)) {
    const auto& socket = args.socket;
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
  // Chosen once, before the program starts; reported unless it is today's memfd by default.
  std::string why;
  auto backing = selectBackingFor(args.backing, "dmaheap run", &why);
  if (!backing) return makeError(backing.code(), errnoName(backing.code()) + ": " + backing.error().message());
  if (args.backing || backing.value()->realDmabuf()) std::fprintf(stderr, "dmaheap run: %s\n", why.c_str());
  board.value()->registry->setBacking(std::move(backing.value()));
  auto embedded = emul::EmbeddedBackend::create(std::move(board.value()));
  if (!embedded) return embedded.error();
  return std::unique_ptr<emul::HeapBackend>(std::move(embedded.value()));
}

// CLI11 takes PROGRAM [ARGS...] as positionals whether or not they follow "--"; the contract
// wants the "--" (docs/cli.md "Parsing"), so the program must be exactly what follows the
// first "--" at the end of the command line.
bool programFollowsDashDash(const std::vector<std::string>& argv, const std::vector<std::string>& program) {
  if (program.empty() || argv.size() < program.size() + 1) return false;
  const size_t start = argv.size() - program.size();
  return argv[start - 1] == "--" && std::equal(program.begin(), program.end(), argv.begin() + static_cast<long>(start));
}

int runRun(const Cli& cli, const CLI::App* sub, const RunArgs& args) {
  if (!programFollowsDashDash(cli.args(), args.program)) return cli.usageError(sub, "expects -- PROGRAM [ARGS...]");
  auto backend = makeBackend(args);
  if (!backend) {
    std::fprintf(stderr, "dmaheap run: %s\n", backend.error().message().c_str());
    return kExitUsage;
  }
  emul::RunOptions options;
  options.argv = args.program;
  std::unique_ptr<trace::TraceLog> trace;
  if (args.trace) {
    auto heaps = backend.value()->heaps();
    if (!heaps) {
      std::fprintf(stderr, "dmaheap run: %s\n", heaps.error().message().c_str());
      return kExitUsage;
    }
    std::vector<trace::TraceHeap> listed;
    for (const auto& h : heaps.value()) listed.push_back(trace::traceHeapOf(h.name, h.descriptor, h.size));
    const Kernel& kernel = backend.value()->kernel();
    auto opened = openTrace(*args.trace, trace::Releases::kWatched, "dmaheap run", kernel.version.str(), kernel.pageSize(),
                            std::move(listed));
    if (!opened) {
      std::fprintf(stderr, "dmaheap run: --trace: %s\n", opened.error().message().c_str());
      return kExitUsage;
    }
    trace = std::move(opened.value());
    options.trace = trace.get();
  }
  auto status = emul::runProgram(*backend.value(), options);
  if (!status) {
    std::fprintf(stderr, "dmaheap run: %s\n", status.error().message().c_str());
    return 125;
  }
  return status.value();
}

}  // namespace

void defineRun(Cli& cli) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* sub = cli.command("run", "Run an unmodified program with /dev/dma_heap emulated; exits with its status");
  addBoardOptions(cli, sub, &args->board);
  std::vector<std::string> backends;
  for (BackendName b : {BackendName::kAuto, BackendName::kKernel, BackendName::kService, BackendName::kEmbedded}) {
    if (parseBackendName(backendNameText(b), BackendNameSource::kRunOption)) backends.push_back(backendNameText(b));
  }
  cli.words(sub->add_option("--backend", args->backend,
                            "Where the heaps live: auto (dmaheapd if running and no board option, else embedded), "
                            "embedded or service")
                ->type_name("NAME"),
            backends);
  cli.file(sub->add_option("--socket", args->socket, "The dmaheapd socket for the service backend")->type_name("PATH"));
  addBackingOption(cli, sub, &args->backing);
  addTraceOption(cli, sub, &args->trace);
  sub->add_option("PROGRAM", args->program, "After --: the program to run and its arguments")->type_name("");
  cli.program(sub);
  cli.onRun(sub, [&cli, sub, args] { return runRun(cli, sub, *args); });
}

}  // namespace dmaheap::cli
