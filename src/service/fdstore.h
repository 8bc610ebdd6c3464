// The service manager's file-descriptor store, spoken directly (docs/service-restart.md):
// sd_notify(3) datagrams "FDSTORE=1\nFDNAME=<name>" with the fd attached (SCM_RIGHTS) and
// "FDSTOREREMOVE=1\nFDNAME=<name>", sent to $NOTIFY_SOCKET (a path, or "@name" for the abstract
// namespace); and the fds the manager passes back on start, sd_listen_fds_with_names(3)'s
// LISTEN_PID / LISTEN_FDS / LISTEN_FDNAMES from fd 3 on. The keeper of the fallback
// (service/keeper.h) takes the same messages over a connected SOCK_SEQPACKET socket.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dmaheap::service {

struct PassedFd {
  std::string name;
  UniqueFd fd;
};

// The fds the manager passed (LISTEN_PID must be ours), each with its LISTEN_FDNAMES name
// ("unknown" when the list is shorter). Made close-on-exec; the LISTEN_* variables are removed.
std::vector<PassedFd> fdsFromManager();

// Splits "a:b:c" as LISTEN_FDNAMES does.
std::vector<std::string> splitFdNames(const std::string& names);

class FdStore {
 public:
  // $NOTIFY_SOCKET's address (a datagram socket). EINVAL for an address that is neither an
  // absolute path nor "@abstract".
  static Result<std::unique_ptr<FdStore>> toNotifySocket(const std::string& address);
  // A connection to the keeper (service/keeper.h).
  static std::unique_ptr<FdStore> overConnection(UniqueFd connected, std::string description);
  ~FdStore();

  // One message, with at most one fd.
  Status send(const std::string& text, int fd = -1);
  Status store(const std::string& name, int fd) { return send("FDSTORE=1\nFDNAME=" + name + "\nFDPOLL=0", fd); }
  Status remove(const std::string& name) { return send("FDSTOREREMOVE=1\nFDNAME=" + name); }

  // Messages sent so far, and of those, FDSTORE ones.
  uint64_t messages() const { return messages_; }
  uint64_t stores() const { return stores_; }
  // The keeper connection (for epoll: it hangs up if the keeper dies), or -1.
  int connection() const { return connected_ ? sock_.get() : -1; }
  const std::string& description() const { return description_; }

 private:
  FdStore() = default;
  UniqueFd sock_;
  std::vector<uint8_t> address_;  // sockaddr_un bytes for sendto; empty when connected
  bool connected_ = false;
  std::string description_;
  uint64_t messages_ = 0;
  uint64_t stores_ = 0;
};

}  // namespace dmaheap::service
