// sd_notify's fd store and sd_listen_fds_with_names, spoken directly (docs/service-restart.md).
#include "service/fdstore.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "protocol/transport.h"

namespace dmaheap::service {

std::vector<std::string> splitFdNames(const std::string& names) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t colon = names.find(':', start);
    out.push_back(names.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

std::vector<PassedFd> fdsFromManager() {
  std::vector<PassedFd> out;
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  const char* names = std::getenv("LISTEN_FDNAMES");
  const bool ours = pid != nullptr && std::strtol(pid, nullptr, 10) == ::getpid();
  const long count = fds != nullptr ? std::strtol(fds, nullptr, 10) : 0;
  const std::vector<std::string> named = names != nullptr ? splitFdNames(names) : std::vector<std::string>{};
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  if (!ours || count < 1 || count > 65536) return out;
  constexpr int kFirst = 3;  // SD_LISTEN_FDS_START
  for (long i = 0; i < count; ++i) {
    const int fd = kFirst + static_cast<int>(i);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    out.push_back(PassedFd{static_cast<size_t>(i) < named.size() ? named[static_cast<size_t>(i)] : "unknown", UniqueFd(fd)});
  }
  return out;
}

Result<std::unique_ptr<FdStore>> FdStore::toNotifySocket(const std::string& address) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (address.size() < 2 || address.size() >= sizeof addr.sun_path || (address[0] != '/' && address[0] != '@')) {
    return makeError(EINVAL, "NOTIFY_SOCKET=" + address + " is neither an absolute path nor @abstract");
  }
  std::memcpy(addr.sun_path, address.data(), address.size());
  if (address[0] == '@') addr.sun_path[0] = '\0';
  const size_t len = offsetof(sockaddr_un, sun_path) + address.size() + (address[0] == '/' ? 1 : 0);
  std::unique_ptr<FdStore> s(new FdStore());
  s->sock_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s->sock_) return makeError(errno, std::string("socket: ") + std::strerror(errno));
  s->address_.assign(reinterpret_cast<const uint8_t*>(&addr), reinterpret_cast<const uint8_t*>(&addr) + len);
  s->description_ = "the service manager's fd store (NOTIFY_SOCKET=" + address + ")";
  return s;
}

std::unique_ptr<FdStore> FdStore::overConnection(UniqueFd connected, std::string description) {
  std::unique_ptr<FdStore> s(new FdStore());
  s->sock_ = std::move(connected);
  s->connected_ = true;
  s->description_ = std::move(description);
  return s;
}

FdStore::~FdStore() = default;

Status FdStore::send(const std::string& text, int fd) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  if (!connected_) {
    msg.msg_name = address_.data();
    msg.msg_namelen = static_cast<socklen_t>(address_.size());
  }
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  proto::OneFdControl control;
  if (fd >= 0) proto::attachFd(msg, control, fd);
  for (;;) {
    if (::sendmsg(sock_.get(), &msg, MSG_NOSIGNAL) >= 0) break;
    if (errno == EINTR) continue;
    return makeError(errno, "sending to " + description_ + ": " + std::strerror(errno));
  }
  ++messages_;
  if (text.rfind("FDSTORE=1", 0) == 0) ++stores_;
  return {};
}

}  // namespace dmaheap::service
