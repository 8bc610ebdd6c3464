// The fallback when no service manager keeps dmaheapd's fds (NOTIFY_SOCKET unset;
// docs/service-restart.md): a keeper, a small process of the service's own uid that holds the
// fds the service stores, speaking the fd store's messages (FDSTORE=1 / FDSTOREREMOVE=1 with
// FDNAME=, service/fdstore.h) over a SOCK_SEQPACKET socket next to the service's socket, and
// handing them back to the next service that connects: one message "LISTEN_FDNAMES=a:b:..."
// carrying the fds in that order.
//
// Rules: one service at a time (a second connection is closed at once); peers of another uid
// are refused. The keeper ends when no service is connected and there is nothing left worth
// keeping: its store is empty, or the stored inotify instance ("inotify") watches no buffer any
// more (every buffer the services handed out is gone). It holds no buffer itself.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "service/fdstore.h"

namespace dmaheap::service {

// The keeper's socket for a service socket: "<path>.keeper".
std::string keeperPath(const std::string& service_socket);

struct KeeperConnection {
  UniqueFd sock;
  std::vector<PassedFd> kept;  // what the keeper held, in the order it sent them
  bool started = false;        // a new keeper was started for this connection
};

// Connects to the keeper at `path`, starting one first (`exe --store-keeper PATH`, detached in
// its own session, with only its listening socket) if none answers there.
Result<KeeperConnection> connectKeeper(const std::string& path, const std::string& exe);

// The keeper's loop on `listener` (bound at `path`). Returns the process's exit status.
int runKeeper(UniqueFd listener, const std::string& path);

}  // namespace dmaheap::service
