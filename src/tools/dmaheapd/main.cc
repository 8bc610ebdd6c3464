// dmaheapd: serves one board's DMA-BUF heaps to every process of the machine over a Unix
// socket. Thin over the service library.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/errno_name.h"
#include "board/board_loader.h"
#include "protocol/transport.h"
#include "service/service.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* const kUsage =
    "usage: dmaheapd [--dtb FILE] [--kernel V] [--kernel-config FILE] [--cmdline \"cma=...\"]\n"
    "                [--profile android|rockchip|nxp] [--heaps FILE]\n"
    "                [--memory BASE:SIZE[,...] | --memory-size SIZE]\n"
    "                [--socket PATH] [--config FILE]\n"
    "\n"
    "Serves the heaps the board and kernel make (default: the built-in board, kernel 6.18) on\n"
    "PATH (default $DMAHEAP_SOCKET, else $XDG_RUNTIME_DIR/dmaheap.sock, else /run/dmaheap.sock),\n"
    "or on the socket systemd passes (socket activation). --config: heap owner/group/mode and\n"
    "per-uid quotas (see systemd/dmaheapd.conf.example). SIGTERM/SIGINT stop it cleanly.\n";

}  // namespace

int main(int argc, char** argv) {
  dmaheap::BoardOptions board_options;
  std::string socket_path, config_path;
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string key = args[i], value;
    if (key == "-h" || key == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (const auto eq = key.find('='); key.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      std::fprintf(stderr, "dmaheapd: %s needs a value\n%s", key.c_str(), kUsage);
      return kExitUsage;
    }
    if (key == "--dtb") {
      board_options.dtb = value;
    } else if (key == "--kernel") {
      board_options.kernel = value;
    } else if (key == "--kernel-config") {
      board_options.kernel_config = value;
    } else if (key == "--cmdline") {
      board_options.cmdline = value;
    } else if (key == "--profile") {
      board_options.profile = value;
    } else if (key == "--heaps") {
      board_options.heaps_file = value;
    } else if (key == "--memory") {
      board_options.memory = value;
    } else if (key == "--memory-size") {
      board_options.memory_size = value;
    } else if (key == "--socket") {
      socket_path = value;
    } else if (key == "--config") {
      config_path = value;
    } else {
      std::fprintf(stderr, "dmaheapd: unknown option '%s'\n%s", key.c_str(), kUsage);
      return kExitUsage;
    }
  }

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
