// dmaheapd: serves one board's DMA-BUF heaps to every process of the machine over a Unix
// socket. Thin over the service library.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/errno_name.h"
#include "board/board_loader.h"
#include "protocol/transport.h"
#include "service/fdstore.h"
#include "service/keeper.h"
#include "service/service.h"
#include "tools/cli/board_args.h"
#include "tools/cli/trace_args.h"

namespace {

using dmaheap::cli::kExitFailure;
using dmaheap::cli::kExitUsage;

struct DaemonArgs {
  dmaheap::cli::BoardArgs board;
  std::optional<std::string> socket, config, backing, trace;
  bool no_keeper = false;
};

int serve(const DaemonArgs& args);

bool isListeningSocket(int fd) {
  int accepting = 0;
  socklen_t len = sizeof accepting;
  return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting != 0;
}

// The path a listening Unix socket is bound to, or "" (abstract or unnamed).
std::string boundPath(int fd) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sun_family != AF_UNIX) return "";
  if (len <= offsetof(sockaddr_un, sun_path) || addr.sun_path[0] == '\0') return "";
  return std::string(addr.sun_path, strnlen(addr.sun_path, sizeof addr.sun_path));
}

}  // namespace

int main(int argc, char** argv) {
  // The fallback's keeper (started by dmaheapd itself; docs/service-restart.md): an internal
  // mode, not an option of the command line.
  if (argc == 3 && std::string_view(argv[1]) == "--store-keeper") {
    return dmaheap::service::runKeeper(dmaheap::UniqueFd(3), argv[2]);
  }
  dmaheap::cli::Cli cli("dmaheapd", "Serves one board's DMA-BUF heaps to every process of the machine over a Unix socket.");
  DaemonArgs args;
  dmaheap::cli::addBoardOptions(cli, &cli.app(), &args.board);
  cli.file(cli.app().add_option("--socket", args.socket,
                                "Listen on PATH (default $DMAHEAP_SOCKET, else $XDG_RUNTIME_DIR/dmaheap.sock, "
                                "else /run/dmaheap.sock), not on a socket systemd passes")
               ->type_name("PATH"));
  cli.file(cli.app().add_option("--config", args.config, "Heap owner/group/mode and per-uid quotas (dmaheapd(8))")
               ->type_name("FILE"));
  dmaheap::cli::addBackingOption(cli, &cli.app(), &args.backing);
  dmaheap::cli::addTraceOption(cli, &cli.app(), &args.trace);
  cli.app()
      .add_flag("--no-keeper", args.no_keeper,
                "Without systemd: start no keeper process, so live buffers do not survive a restart")
      ->disable_flag_override();
  cli.app().footer(
      "Without --socket, a socket systemd passes is used (socket activation). SIGTERM and SIGINT stop it "
      "cleanly. Live buffers survive a restart: in systemd's fd store when NOTIFY_SOCKET is set, else in a "
      "keeper process at PATH.keeper (docs/service-restart.md). The manual is dmaheapd(8).");
  return cli.run(argc, argv, [&args] { return serve(args); });
}

namespace {

int serve(const DaemonArgs& args) {
  const dmaheap::BoardOptions board_options = args.board.options();
  std::string socket_path = args.socket.value_or("");
  const std::string config_path = args.config.value_or("");
  const bool use_keeper = !args.no_keeper;

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
  std::string backing_report;
  auto backing = dmaheap::cli::selectBackingFor(args.backing, "dmaheapd", &backing_report);
  if (!backing) {
    std::fprintf(stderr, "dmaheapd: %s: %s\n", dmaheap::errnoName(backing.code()).c_str(), backing.error().message().c_str());
    return kExitFailure;
  }
  board.value()->registry->setBacking(std::move(backing.value()));
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
  // The trace outlives the service (declared first, destroyed last).
  std::unique_ptr<dmaheap::trace::TraceLog> trace;
  if (args.trace) {
    const dmaheap::HeapRegistry& registry = *board.value()->registry;
    std::vector<dmaheap::trace::TraceHeap> heaps;
    for (const auto* h : registry.heaps()) {
      heaps.push_back(dmaheap::trace::traceHeapOf(h->node_name, h->heap->descriptor(), h->heap->usage().size));
    }
    auto opened = dmaheap::cli::openTrace(*args.trace, dmaheap::trace::Releases::kReported, "dmaheapd",
                                          registry.kernel().version.str(), registry.kernel().pageSize(), std::move(heaps));
    if (!opened) {
      std::fprintf(stderr, "dmaheapd: --trace: %s\n", opened.error().message().c_str());
      return kExitUsage;
    }
    trace = std::move(opened.value());
    options.trace = trace.get();
  }
  auto service = dmaheap::service::Service::create(*board.value()->registry, std::move(options));
  if (!service) {
    std::fprintf(stderr, "dmaheapd: %s\n", service.error().message().c_str());
    return kExitFailure;
  }
  // What the manager passed: the listening socket, and what an earlier run stored.
  dmaheap::UniqueFd activated;
  std::vector<dmaheap::service::PassedFd> stored;
  for (auto& p : dmaheap::service::fdsFromManager()) {
    if (!activated && p.name != "inotify" && p.name.rfind("state-", 0) != 0 && isListeningSocket(p.fd.get())) {
      activated = std::move(p.fd);
    } else {
      stored.push_back(std::move(p));
    }
  }
  std::string notify_socket;
  if (const char* n = std::getenv("NOTIFY_SOCKET"); n != nullptr && *n != '\0') notify_socket = n;
  ::unsetenv("NOTIFY_SOCKET");
  std::string where;
  if (activated && socket_path.empty()) {
    socket_path = boundPath(activated.get());
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
  // What survives a restart: the manager's fd store, else the keeper's.
  std::unique_ptr<dmaheap::service::FdStore> store;
  std::string kept_in;
  if (!notify_socket.empty()) {
    auto s = dmaheap::service::FdStore::toNotifySocket(notify_socket);
    if (!s) {
      std::fprintf(stderr, "dmaheapd: %s\n", s.error().message().c_str());
      return kExitFailure;
    }
    store = std::move(s.value());
    kept_in = "the service manager's fd store";
  } else if (use_keeper && !socket_path.empty()) {
    const std::string path = dmaheap::service::keeperPath(socket_path);
    auto k = dmaheap::service::connectKeeper(path, "/proc/self/exe");
    if (!k) {
      std::fprintf(stderr, "dmaheapd: no keeper, live buffers will not survive a restart: %s\n", k.error().message().c_str());
    } else {
      for (auto& p : k->kept) stored.push_back(std::move(p));
      store = dmaheap::service::FdStore::overConnection(std::move(k->sock), "the keeper at " + path);
      kept_in = "the keeper at " + path + (k->started ? " (started)" : "");
    }
  }
  dmaheap::service::FdStore* notifier = store && store->connection() < 0 ? store.get() : nullptr;
  if (store && store->connection() >= 0) {
    const std::string path = dmaheap::service::keeperPath(socket_path);
    (*service)->setStoreReconnect([path]() -> dmaheap::Result<std::unique_ptr<dmaheap::service::FdStore>> {
      auto k = dmaheap::service::connectKeeper(path, "/proc/self/exe");
      if (!k) return k.error();
      // A keeper that answers with fds is not ours to take over (k->kept closes here).
      return dmaheap::service::FdStore::overConnection(std::move(k->sock), "the keeper at " + path);
    });
  }
  if (store) {
    auto restored = (*service)->keepState(std::move(store), std::move(stored));
    if (!restored) {
      std::fprintf(stderr, "dmaheapd: refusing to start: %s: %s\n", dmaheap::errnoName(restored.code()).c_str(),
                   restored.error().message().c_str());
      return kExitFailure;
    }
    for (const auto& w : restored->warnings) std::fprintf(stderr, "dmaheapd: restart state: %s\n", w.c_str());
    if (restored->fresh) {
      std::fprintf(stderr, "dmaheapd: live buffers are kept in %s\n", kept_in.c_str());
    } else {
      std::fprintf(stderr, "dmaheapd: restarted from %s: %zu buffers still held taken back, %zu released meanwhile\n",
                   kept_in.c_str(), restored->restored, restored->released);
    }
  }
  std::string heaps;
  for (const auto* h : board.value()->registry->heaps()) heaps += (heaps.empty() ? "" : ", ") + h->node_name;
  std::fprintf(stderr, "dmaheapd: kernel %s, heaps: %s; listening on %s\n",
               board.value()->registry->kernel().version.str().c_str(), heaps.empty() ? "none" : heaps.c_str(),
               where.c_str());
  std::fprintf(stderr, "dmaheapd: %s\n", backing_report.c_str());
  if (notifier) (void)notifier->send("READY=1\nSTATUS=serving on " + where);
  if (auto ok = (*service)->run(); !ok) {
    std::fprintf(stderr, "dmaheapd: %s\n", ok.error().message().c_str());
    return kExitFailure;
  }
  return 0;
}

}  // namespace
