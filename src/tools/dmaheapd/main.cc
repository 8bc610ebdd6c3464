// dmaheapd: serves one board's DMA-BUF heaps to every process of the machine over a Unix
// socket. Thin over the service library.
#include <signal.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "base/errno_name.h"
#include "board/board_loader.h"
#include "protocol/transport.h"
#include "service/service.h"
#include "tools/cli/board_args.h"

namespace {

using dmaheap::cli::kExitFailure;
using dmaheap::cli::kExitUsage;

struct DaemonArgs {
  dmaheap::cli::BoardArgs board;
  std::optional<std::string> socket, config;
};

int serve(const DaemonArgs& args);

}  // namespace

int main(int argc, char** argv) {
  dmaheap::cli::Cli cli("dmaheapd", "Serves one board's DMA-BUF heaps to every process of the machine over a Unix socket.");
  DaemonArgs args;
  dmaheap::cli::addBoardOptions(cli, &cli.app(), &args.board);
  cli.file(cli.app().add_option("--socket", args.socket,
                                "Listen on PATH (default $DMAHEAP_SOCKET, else $XDG_RUNTIME_DIR/dmaheap.sock, "
                                "else /run/dmaheap.sock), not on a socket systemd passes")
               ->type_name("PATH"));
  cli.file(cli.app().add_option("--config", args.config, "Heap owner/group/mode and per-uid quotas (dmaheapd(8))")
               ->type_name("FILE"));
  cli.app().footer(
      "Without --socket, a socket systemd passes is used (socket activation). SIGTERM and SIGINT stop it "
      "cleanly. The manual is dmaheapd(8).");
  return cli.run(argc, argv, [&args] { return serve(args); });
}

namespace {

int serve(const DaemonArgs& args) {
  const dmaheap::BoardOptions board_options = args.board.options();
  std::string socket_path = args.socket.value_or("");
  const std::string config_path = args.config.value_or("");

  // Signals are read through a signalfd in the loop; block them before any thread exists.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto board = dmaheap::loadBoard(board_options);
  if (!board) {
    std::fprintf(stderr, "dmaheapd: %s\n", board.error().message().c_str());
    return kExitUsage;
  }
  dmaheap::service::ServiceOptions options;
  options.handle_signals = true;
  if (!config_path.empty()) {
    auto access = dmaheap::service::AccessConfig::fromFile(config_path);
    if (!access) {
      std::fprintf(stderr, "dmaheapd: %s\n", access.error().message().c_str());
      return kExitUsage;
    }
    options.access = std::move(access.value());
  }
  auto service = dmaheap::service::Service::create(*board.value()->registry, std::move(options));
  if (!service) {
    std::fprintf(stderr, "dmaheapd: %s\n", service.error().message().c_str());
    return kExitFailure;
  }
  std::string where;
  if (dmaheap::UniqueFd activated = dmaheap::service::socketFromSystemd(); activated && socket_path.empty()) {
    if (auto ok = (*service)->adoptListener(std::move(activated)); !ok) {
      std::fprintf(stderr, "dmaheapd: %s\n", ok.error().message().c_str());
      return kExitFailure;
    }
    where = "the socket systemd passed";
  } else {
    if (socket_path.empty()) socket_path = dmaheap::proto::defaultSocketPath();
    if (auto ok = (*service)->listen(socket_path); !ok) {
      std::fprintf(stderr, "dmaheapd: %s: %s\n", dmaheap::errnoName(ok.code()).c_str(), ok.error().message().c_str());
      return kExitFailure;
    }
    where = socket_path;
  }
  std::string heaps;
  for (const auto* h : board.value()->registry->heaps()) heaps += (heaps.empty() ? "" : ", ") + h->node_name;
  std::fprintf(stderr, "dmaheapd: kernel %s, heaps: %s; listening on %s\n",
               board.value()->registry->kernel().version.str().c_str(), heaps.empty() ? "none" : heaps.c_str(),
               where.c_str());
  if (auto ok = (*service)->run(); !ok) {
    std::fprintf(stderr, "dmaheapd: %s\n", ok.error().message().c_str());
    return kExitFailure;
  }
  return 0;
}

}  // namespace
