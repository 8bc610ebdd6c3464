// ServiceClient: blocking request/reply over the dmaheapd socket.
#include "protocol/service_client.h"

#include "base/heap_descriptor.h"

#include <fcntl.h>

#include <cerrno>

namespace dmaheap::proto {

Result<ServiceClient> ServiceClient::connect(const std::string& path, const std::string& client_name) {
  auto sock = connectUnix(path);
  if (!sock) return sock.error();
  ServiceClient client(std::move(sock.value()));
  auto hello = client.hello(client_name);
  if (!hello) return hello.error();
  return client;
}

std::optional<ServiceClient> ServiceClient::connectIfRunning(const std::string& path) {
  auto client = connect(path);
  if (!client) return std::nullopt;
  return std::move(client.value());
}

Error ServiceClient::broken(Error e) {
  broken_ = true;
  sock_.reset();
  fds_.clear();
  return e;
}

// A send failed (EPIPE, ECONNRESET): the service may have said why before it closed — a refused
// connection gets one protocol-error frame — so read what is still queued before giving up.
Error ServiceClient::whyClosed(Error send_error) {
  for (int reads = 0; reads < 16; ++reads) {
    auto frame = in_.next();
    if (!frame) break;
    if (frame->has_value()) {
      Frame& f = **frame;
      if (f.header.type != kProtocolErrorType) break;
      auto reply = decodeReply(f.header, f.payload);
      if (!reply) break;
      return makeError(reply->error, "dmaheapd closed the connection: " + reply->message);
    }
    uint8_t buf[4096];
    auto n = receiveWithFds(sock_.get(), buf, fds_, true);
    if (!n || *n == 0) break;
    in_.append(std::span<const uint8_t>(buf, *n));
  }
  return send_error;
}

Result<ServiceClient::Response> ServiceClient::call(const Request& request, int fd) {
  if (broken_ || !sock_) return makeError(ENOTCONN, "the connection to dmaheapd is closed");
  const MsgType type = requestType(request);
  if (requestCarriesFd(type) && fd < 0) return makeError(EBADF, std::string(msgTypeName(static_cast<uint8_t>(type))) + " needs a buffer fd");
  const uint32_t id = next_id_++;
  const std::vector<uint8_t> bytes = encodeRequest(id, request);
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = sendWithFd(sock_.get(), std::span<const uint8_t>(bytes).subspan(sent),
                        sent == 0 && requestCarriesFd(type) ? fd : -1, false);
    if (!n) return broken(whyClosed(n.error()));
    sent += *n;
  }
  for (;;) {
    auto frame = in_.next();
    if (!frame) return broken(frame.error());
    if (frame->has_value()) {
      Frame& f = **frame;
      auto reply = decodeReply(f.header, f.payload);
      if (!reply) return broken(reply.error());
      if (f.header.type == kProtocolErrorType) {
        return broken(makeError(reply->error, "dmaheapd closed the connection: " + reply->message));
      }
      if (f.header.id != id || (f.header.type & ~kReplyFlag) != static_cast<uint8_t>(type)) {
        return broken(makeError(EPROTO, "a reply that answers another request"));
      }
      Response response;
      response.reply = std::move(reply.value());
      if (f.header.fd_count == 1) {
        if (fds_.empty()) return broken(makeError(EPROTO, "a reply announced an fd that did not arrive"));
        response.fd = std::move(fds_.front());
        fds_.erase(fds_.begin());
      }
      if (!fds_.empty()) return broken(makeError(EPROTO, "an fd arrived that no reply announced"));
      return response;
    }
    uint8_t buf[65536];
    auto n = receiveWithFds(sock_.get(), buf, fds_, false);
    if (!n) return broken(n.error());
    if (*n == 0) return broken(makeError(ECONNRESET, "dmaheapd closed the connection"));
    in_.append(std::span<const uint8_t>(buf, *n));
  }
}

template <typename T>
Result<T> ServiceClient::expect(Result<Response> response) {
  if (!response) return response.error();
  Reply& reply = response->reply;
  if (reply.error != 0) return makeError(reply.error, reply.message);
  if (!std::holds_alternative<T>(reply.body)) return broken(makeError(EPROTO, "a reply of the wrong type"));
  return std::get<T>(std::move(reply.body));
}

Result<HelloReply> ServiceClient::hello(const std::string& client_name) {
  auto reply = expect<HelloReply>(call(HelloRequest{client_name}));
  if (reply) hello_ = *reply;
  return reply;
}

Result<std::vector<HeapInfo>> ServiceClient::listHeaps() {
  auto reply = expect<ListHeapsReply>(call(ListHeapsRequest{}));
  if (!reply) return reply.error();
  return std::move(reply->heaps);
}

Result<std::vector<HeapRecord>> ServiceClient::describeHeaps() {
  auto reply = expect<DescribeHeapsReply>(call(DescribeHeapsRequest{}));
  if (reply) return std::move(reply->heaps);
  if (reply.code() != EOPNOTSUPP) return reply.error();
  // A service from before DescribeHeaps: its listing, with what `type` implies.
  auto list = listHeaps();
  if (!list) return list.error();
  std::vector<HeapRecord> out;
  for (auto& h : list.value()) {
    HeapDescriptor d = descriptorFromType(h.type);
    out.push_back(HeapRecord{std::move(h), std::move(d)});
  }
  return out;
}

Result<ServiceBuffer> ServiceClient::allocate(const AllocRequest& request) {
  auto response = call(request);
  if (!response) return response.error();
  UniqueFd fd = std::move(response->fd);
  auto reply = expect<AllocReply>(std::move(response));
  if (!reply) return reply.error();
  if (!fd) return broken(makeError(EPROTO, "an alloc reply without its fd"));
  // Received close-on-exec; the caller's fd_flags decide.
  if ((request.fd_flags & O_CLOEXEC) == 0 && ::fcntl(fd.get(), F_SETFD, 0) != 0) {
    return makeError(errno, "fcntl(F_SETFD) on the received buffer fd failed");
  }
  return ServiceBuffer{std::move(fd), std::move(reply->buffer)};
}

Result<ServiceBuffer> ServiceClient::allocate(const std::string& heap, uint64_t len, uint32_t fd_flags) {
  AllocRequest r;
  r.heap = heap;
  r.len = len;
  r.fd_flags = fd_flags;
  return allocate(r);
}

Status ServiceClient::setName(int buffer_fd, const std::string& name) {
  auto reply = expect<SetNameReply>(call(SetNameRequest{name}, buffer_fd));
  if (!reply) return reply.error();
  return {};
}

Result<BufferInfo> ServiceClient::bufferInfo(int buffer_fd) {
  auto reply = expect<BufferInfoReply>(call(BufferInfoRequest{}, buffer_fd));
  if (!reply) return reply.error();
  return std::move(reply->buffer);
}

Result<StatsReply> ServiceClient::stats(bool holders) {
  return expect<StatsReply>(call(StatsRequest{holders}));
}

Result<BackingsReply> ServiceClient::backings() {
  auto reply = expect<BackingsReply>(call(BackingsRequest{}));
  if (reply || reply.code() != EOPNOTSUPP) return reply;
  BackingsReply old;  // a service from before real dma-bufs: every buffer is a memfd
  old.backing = "memfd";
  old.description = "memfd (a service that predates backings)";
  return old;
}

}  // namespace dmaheap::proto
