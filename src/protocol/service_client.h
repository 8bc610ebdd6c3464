// ServiceClient: one connection to dmaheapd. Sends a request, waits for its reply, and hands
// over the fd that came with it. Blocking and not thread-safe: one request at a time; give
// each thread its own client.
//
// Errors: a reply's errno comes back as the Result's code with the service's message (the
// kernel's errno for allocation: EINVAL, ENOMEM, ...; EACCES/EDQUOT for access control and
// quotas; ENOENT for an unknown heap). Transport failures (EPIPE, ECONNRESET, EPROTO for a
// malformed reply) leave the client broken: every later call returns ENOTCONN.
#pragma once

#include <fcntl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "protocol/protocol.h"
#include "protocol/transport.h"

namespace dmaheap::proto {

// A buffer the service allocated: the caller owns the fd (the dma-buf); `info` says what it is.
struct ServiceBuffer {
  UniqueFd fd;
  BufferInfo info;
};

class ServiceClient {
 public:
  // Connects and says hello. ENOENT / ECONNREFUSED when no service listens at `path`;
  // EPROTONOSUPPORT when the service speaks another protocol version.
  static Result<ServiceClient> connect(const std::string& path = defaultSocketPath(),
                                       const std::string& client_name = "");
  // The same, as "is the service running?": nullopt when it is not (or does not answer hello).
  static std::optional<ServiceClient> connectIfRunning(const std::string& path = defaultSocketPath());
  // Wraps an already connected socket without a hello (tests, socketpairs).
  explicit ServiceClient(UniqueFd socket) : sock_(std::move(socket)) {}

  ServiceClient(ServiceClient&&) = default;
  ServiceClient& operator=(ServiceClient&&) = default;

  const HelloReply& service() const { return hello_; }

  Result<HelloReply> hello(const std::string& client_name = "");
  Result<std::vector<HeapInfo>> listHeaps();
  // The heaps with their descriptors (DescribeHeaps); from a service that predates it, the
  // version-1 listing with the descriptor its `type` implies.
  Result<std::vector<HeapRecord>> describeHeaps();
  // DMA_HEAP_IOCTL_ALLOC through the service. The fd's access mode follows fd_flags; it is
  // close-on-exec exactly when fd_flags has O_CLOEXEC.
  Result<ServiceBuffer> allocate(const AllocRequest& request);
  Result<ServiceBuffer> allocate(const std::string& heap, uint64_t len, uint32_t fd_flags = O_RDWR | O_CLOEXEC);
  // DMA_BUF_SET_NAME on a buffer of this service (EBADF if `buffer_fd` is not one; EINVAL for a
  // name of 32 characters or more).
  Status setName(int buffer_fd, const std::string& name);
  Result<BufferInfo> bufferInfo(int buffer_fd);
  // The service's accounting. `holders` scans /proc for the processes holding each buffer.
  Result<StatsReply> stats(bool holders = true);
  // What backs the service's buffers; from a service that predates the request, memfd for all.
  Result<BackingsReply> backings();

  // One raw exchange: `request` (with `fd` when the type carries one), the reply, and the fd
  // that came with it. The reply's errno is in reply.error, not in the Result.
  struct Response {
    Reply reply;
    UniqueFd fd;
  };
  Result<Response> call(const Request& request, int fd = -1);

  int socketFd() const { return sock_.get(); }

 private:
  template <typename T>
  Result<T> expect(Result<Response> response);
  Error broken(Error e);
  Error whyClosed(Error send_error);

  UniqueFd sock_;
  uint32_t next_id_ = 1;
  FrameBuffer in_{Direction::kReply};
  std::vector<UniqueFd> fds_;
  HelloReply hello_;
  bool broken_ = false;
};

}  // namespace dmaheap::proto
