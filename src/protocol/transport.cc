// sendmsg/recvmsg with SCM_RIGHTS, the default socket path, connecting.
#include "protocol/transport.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dmaheap::proto {

void attachFd(msghdr& msg, OneFdControl& control, int fd) {
  std::memset(control.bytes, 0, sizeof control.bytes);
  msg.msg_control = control.bytes;
  msg.msg_controllen = sizeof control.bytes;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
}

void takeFds(msghdr& msg, std::vector<UniqueFd>& fds) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.emplace_back(fd);
    }
  }
}

Result<size_t> sendWithFd(int sock, std::span<const uint8_t> bytes, int fd, bool nonblocking) {
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  OneFdControl control;
  if (fd >= 0) attachFd(msg, control, fd);
  const int flags = MSG_NOSIGNAL | (nonblocking ? MSG_DONTWAIT : 0);
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &msg, flags);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    return makeError(errno, std::string("sendmsg: ") + std::strerror(errno));
  }
}

Result<size_t> receiveWithFds(int sock, std::span<uint8_t> buffer, std::vector<UniqueFd>& fds, bool nonblocking) {
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerReceive)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const int flags = MSG_CMSG_CLOEXEC | (nonblocking ? MSG_DONTWAIT : 0);
  ssize_t n;
  for (;;) {
    n = ::recvmsg(sock, &msg, flags);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    return makeError(errno, std::string("recvmsg: ") + std::strerror(errno));
  }
  takeFds(msg, fds);
  if (msg.msg_flags & MSG_CTRUNC) return makeError(EPROTO, "more fds than one message may carry");
  return static_cast<size_t>(n);
}

std::string defaultSocketPath() {
  if (const char* s = std::getenv("DMAHEAP_SOCKET"); s != nullptr && *s != '\0') return s;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x != nullptr && *x != '\0') {
    return std::string(x) + "/dmaheap.sock";
  }
  return "/run/dmaheap.sock";
}

Result<UniqueFd> connectUnix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return makeError(ENAMETOOLONG, "socket path longer than " + std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return makeError(errno, std::string("socket: ") + std::strerror(errno));
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return sock;
  return makeError(errno, "connect " + path + ": " + std::strerror(errno));
}

}  // namespace dmaheap::proto
