// Moving bytes and fds over a Unix stream socket: one sendmsg/recvmsg with SCM_RIGHTS, shared by
// the service (non-blocking) and ServiceClient (blocking). An fd sent with a frame is attached to
// the frame's first byte, which is how the receiver knows which frame it belongs to.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dmaheap::proto {

// Most fds one recvmsg accepts; more is a protocol violation (the kernel drops the excess and
// reports MSG_CTRUNC, so we notice).
inline constexpr size_t kMaxFdsPerReceive = 4;

// The control data of a message that carries one fd; attachFd fills it and points `msg` at it,
// so it must live as long as `msg` is used.
struct OneFdControl {
  alignas(cmsghdr) char bytes[CMSG_SPACE(sizeof(int))];
};
void attachFd(msghdr& msg, OneFdControl& control, int fd);

// Every fd a received message carried (SCM_RIGHTS, in order), appended to `fds`, which now owns
// them: the caller closes what it does not want simply by dropping them.
void takeFds(msghdr& msg, std::vector<UniqueFd>& fds);

// sendmsg of `bytes` with `fd` (if >= 0) as SCM_RIGHTS, MSG_NOSIGNAL. Returns the bytes sent,
// which may be fewer than asked on a non-blocking socket (the fd went with the first byte).
// The socket's errno otherwise (EAGAIN, EPIPE, ETOOMANYREFS, ...).
Result<size_t> sendWithFd(int sock, std::span<const uint8_t> bytes, int fd, bool nonblocking);

// recvmsg into `buffer`; received fds (close-on-exec) are appended to `fds`. 0 bytes = the peer
// closed. EPROTO when control data was truncated (too many fds); the socket's errno otherwise.
Result<size_t> receiveWithFds(int sock, std::span<uint8_t> buffer, std::vector<UniqueFd>& fds, bool nonblocking);

// The service's socket: $DMAHEAP_SOCKET, else $XDG_RUNTIME_DIR/dmaheap.sock, else
// /run/dmaheap.sock.
std::string defaultSocketPath();

// A connected, blocking, close-on-exec Unix stream socket. ENOENT (no socket file),
// ECONNREFUSED (nobody listening), ENAMETOOLONG for a path longer than sun_path.
Result<UniqueFd> connectUnix(const std::string& path);

}  // namespace dmaheap::proto
