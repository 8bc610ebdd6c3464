// libFuzzer target: a live dmaheapd Service (on its own thread, small board) fed the input over
// a real connection, in pieces, with file descriptors attached (SCM_RIGHTS) where the input says.
// Input: pieces of [control byte][length, 2 bytes little-endian][bytes]; the control byte's
// bits 0-1 = how many fds go with the piece (0-3), bits 2-3 = which kind (0 /dev/null, 1 a
// memfd, 2 the last buffer this connection received, 3 a pipe's end), bit 4 = read the replies
// that are there before the next piece. At the end the client shuts its side down and reads
// until the service closes the connection.
// Bugs: a crash, sanitizer report or hang in the service, and any fd the service keeps after the
// connection is gone: the process's open fd count must be back to exactly what it was when the
// input started (docs/architecture.md, "dmaheapd: limits per uid and stray fds"). Counted per
// input, not against the first input's count: libFuzzer opens fds of its own between inputs
// (printing a NEW_FUNC line starts llvm-symbolizer and keeps two pipes to it for good), and the
// service holds no fd of a connection once it has closed it, nor any between connections.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "board/board.h"
#include "protocol/transport.h"
#include "service/service.h"

namespace {

using namespace dmaheap;

size_t openFds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n - 1;  // the iterator's own
}

struct Fixture {
  std::unique_ptr<Board> board;
  std::unique_ptr<service::Service> service;
  std::thread loop;
  std::string path;

  Fixture() {
    dt::BoardPlan plan;
    plan.memory = {{0x40000000, 512ull << 20}};
    dt::CmaArea area;
    area.name = "reserved";
    area.base = 0x50000000;
    area.size = 64ull << 20;
    area.is_default = true;
    plan.cma_areas.push_back(area);
    auto b = buildBoard(plan);
    if (!b) std::abort();
    board = std::move(b.value());
    service::ServiceOptions o;
    o.log = [](const std::string&) {};
    o.access.quotas[::geteuid()] = 256ull << 20;  // keeps the fuzzer's memory use bounded
    auto s = service::Service::create(*board->registry, o);
    if (!s) std::abort();
    service = std::move(s.value());
    char tmpl[] = "/tmp/dmaheap-service-fuzz-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    path = std::string(tmpl) + "/sock";
    if (!service->listen(path)) std::abort();
    loop = std::thread([this] { (void)service->run(); });
  }
};

Fixture& fixture() {
  static Fixture* f = new Fixture();  // lives as long as the process, as the service thread does
  return *f;
}

UniqueFd fdOfKind(int kind, const UniqueFd& last_buffer) {
  switch (kind) {
    case 1: {
      UniqueFd m(::memfd_create("fuzz", MFD_CLOEXEC));
      if (m) (void)::ftruncate(m.get(), 4096);
      return m;
    }
    case 2:
      if (last_buffer) return UniqueFd(::fcntl(last_buffer.get(), F_DUPFD_CLOEXEC, 0));
      break;
    case 3: {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return UniqueFd();
      ::close(p[1]);
      return UniqueFd(p[0]);
    }
    default:
      break;
  }
  return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

// Reads what is there (or, with `until_eof`, everything until the service closes), keeping the
// last fd received; false if the service does not close within the socket's receive timeout.
bool drain(int sock, UniqueFd& last_buffer, bool until_eof) {
  uint8_t buf[65536];
  for (;;) {
    std::vector<UniqueFd> fds;
    auto n = proto::receiveWithFds(sock, buf, fds, !until_eof);
    for (auto& fd : fds) last_buffer = std::move(fd);
    if (!n) {
      if (n.code() == EAGAIN || n.code() == EWOULDBLOCK) return !until_eof;
      return n.code() == ECONNRESET || n.code() == EPROTO;
    }
    if (*n == 0) return true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  const size_t before = openFds();
  {
    auto sock = proto::connectUnix(f.path);
    if (!sock) std::abort();
    const timeval tv{20, 0};
    ::setsockopt(sock->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    UniqueFd last_buffer;
    size_t off = 0;
    while (off < size) {
      const uint8_t ctl = data[off++];
      size_t len = 0;
      if (off < size) len = data[off++];
      if (off < size) len |= static_cast<size_t>(data[off++]) << 8;
      len = std::min(len, size - off);
      std::vector<UniqueFd> fds;
      for (int i = 0; i < (ctl & 3); ++i) fds.push_back(fdOfKind((ctl >> 2) & 3, last_buffer));
      // One sendmsg with every fd (SCM_RIGHTS needs at least one byte to travel with).
      const uint8_t zero = 0;
      iovec iov{const_cast<uint8_t*>(len ? data + off : &zero), len ? len : 1};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      alignas(cmsghdr) char control[CMSG_SPACE(3 * sizeof(int))] = {};
      std::vector<int> raw;
      for (auto& fd : fds)
        if (fd) raw.push_back(fd.get());
      if (!raw.empty()) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(raw.size() * sizeof(int));
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(raw.size() * sizeof(int));
        std::memcpy(CMSG_DATA(c), raw.data(), raw.size() * sizeof(int));
      }
      if (len == 0 && raw.empty()) continue;
      if (::sendmsg(sock->get(), &msg, MSG_NOSIGNAL) < 0) break;  // the service closed it
      off += len;
      if (ctl & 16) (void)drain(sock->get(), last_buffer, false);
    }
    ::shutdown(sock->get(), SHUT_WR);
    if (!drain(sock->get(), last_buffer, true)) {
      std::fprintf(stderr, "the service did not close the connection\n");
      std::abort();
    }
  }
  // The connection is closed on both sides (the service closes its socket last): every fd it
  // received with it must be closed too.
  const size_t now = openFds();
  if (now != before) {
    std::fprintf(stderr, "the service holds %zu fds after the connection, %zu before:\n", now, before);
    for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      std::fprintf(stderr, "  %s -> %s\n", e.path().filename().c_str(), std::filesystem::read_symlink(e.path(), ec).c_str());
    }
    std::abort();
  }
  return 0;
}
