// Hostile users of dmaheapd: one uid at each of its limits (buffers, bytes, requests in flight)
// while another still allocates, each refusal with its own errno and a message naming the limit;
// and file descriptors sent where no message takes them, closed at once and never accumulated
// (the service's open fd count, read from /proc, asserted exactly).
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>

#include "protocol/wire.h"
#include "service_fixture.h"

namespace dmaheap {
namespace {

using testing::ServiceProcess;
using testing::waitFor;

constexpr uid_t kUserA = 1000;

// A child running `body` as uid/gid kUserA; its return value is the child's exit status. If the
// test returns before waiting for it (a failed assertion), the child is killed and reaped, so a
// child blocked on a pipe can never outlive the test (and keep ctest waiting on its output).
class UserA {
 public:
  explicit UserA(const std::function<int()>& body) : pid_(fork()) {
    if (pid_ == 0) {
      if (setresgid(kUserA, kUserA, kUserA) != 0 || setgroups(0, nullptr) != 0 || setresuid(kUserA, kUserA, kUserA) != 0) {
        _exit(100);
      }
      _exit(body());
    }
  }
  ~UserA() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  UserA(const UserA&) = delete;
  UserA& operator=(const UserA&) = delete;
  int exitStatus() {
    if (pid_ <= 0) return status_;
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }

 private:
  pid_t pid_;
  int status_ = -1;
};

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() { EXPECT_EQ(pipe(fd), 0); }
  ~Pipe() {
    close(fd[0]);
    close(fd[1]);
  }
  void signal() const { EXPECT_EQ(write(fd[1], "x", 1), 1); }
  // The reading side's copy of the write end: closed, so a writer that exits early is an EOF
  // (each side closes it for the pipes it reads: the child's copy too).
  void closeWrite() {
    close(fd[1]);
    fd[1] = -1;
  }
  bool wait() const {
    char c;
    return read(fd[0], &c, 1) == 1;
  }
};

// A service the other uid can reach (its socket directory opened up).
std::unique_ptr<ServiceProcess> sharedService(const service::ServiceOptions& o) {
  auto svc = std::make_unique<ServiceProcess>(o);
  chmod(svc->dir().c_str(), 0755);
  return svc;
}

TEST(UidLimits, BuffersHeldArePerUid) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  service::ServiceOptions o;
  o.max_buffers_per_uid = 3;
  auto svc = sharedService(o);
  const std::string path = svc->path();
  Pipe at_limit, go;
  UserA a([&] {
    go.closeWrite();  // its copy: a test that returns early is an EOF here, not a wait forever
    auto c = proto::ServiceClient::connect(path);
    if (!c) return 10;
    std::vector<proto::ServiceBuffer> held;
    for (int i = 0; i < 3; ++i) {
      auto b = c->allocate("system", 4096);
      if (!b) return 11;
      held.push_back(std::move(b.value()));
    }
    auto refused = c->allocate("system", 4096);
    if (refused.code() != ENOBUFS) return 12;
    if (refused.error().message() != "uid 1000 holds 3 buffers, the limit per user (max_buffers_per_uid)") return 13;
    at_limit.signal();
    if (!go.wait()) return 14;
    held.pop_back();  // one given back: room for one again, once the service has seen it go
    for (int tries = 0; tries < 1000; ++tries) {
      auto again = c->allocate("system", 4096);
      if (again) return 0;
      if (again.code() != ENOBUFS) return 15;
      usleep(2000);
    }
    return 16;
  });
  at_limit.closeWrite();
  ASSERT_TRUE(at_limit.wait()) << "uid 1000 exited with " << a.exitStatus();
  // uid 0 is another user: it gets its own three while uid 1000 is at its limit.
  auto root = svc->connect();
  std::vector<proto::ServiceBuffer> mine;
  for (int i = 0; i < 3; ++i) {
    auto b = root.allocate("system", 4096);
    ASSERT_TRUE(b.ok()) << b.error().message();
    mine.push_back(std::move(b.value()));
  }
  go.signal();
  EXPECT_EQ(a.exitStatus(), 0);
}

TEST(UidLimits, BytesHeldArePerUid) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  service::ServiceOptions o;
  o.access.quotas[kUserA] = 64 * 1024;
  auto svc = sharedService(o);
  const std::string path = svc->path();
  Pipe at_limit, go;
  UserA a([&] {
    go.closeWrite();  // its copy: a test that returns early is an EOF here, not a wait forever
    auto c = proto::ServiceClient::connect(path);
    if (!c) return 10;
    auto b = c->allocate("system", 64 * 1024);
    if (!b) return 11;
    auto refused = c->allocate("system", 4096);
    if (refused.code() != EDQUOT) return 12;
    if (refused.error().message() != "uid 1000 holds 65536 bytes of its 65536-byte quota; 4096 more do not fit") return 13;
    at_limit.signal();
    return go.wait() ? 0 : 14;
  });
  at_limit.closeWrite();
  ASSERT_TRUE(at_limit.wait()) << "uid 1000 exited with " << a.exitStatus();
  auto root = svc->connect();
  auto big = root.allocate("system", 4 * kMiB);
  EXPECT_TRUE(big.ok()) << big.error().message();
  go.signal();
  EXPECT_EQ(a.exitStatus(), 0);
}

// uid 1000 pipelines 2,000 requests without reading a reply: once 4 replies wait for it in the
// service (its socket full), its further requests are answered EBUSY instead of being done, and
// uid 0 is served meanwhile. When it reads, every request has had exactly one answer, in order.
TEST(UidLimits, RequestsInFlightArePerUid) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  service::ServiceOptions o;
  o.max_requests_per_uid = 4;
  auto svc = sharedService(o);
  const std::string path = svc->path();
  constexpr uint32_t kRequests = 2000;
  Pipe sent, go;
  UserA a([&] {
    go.closeWrite();  // its copy: a test that returns early is an EOF here, not a wait forever
    auto sock = proto::connectUnix(path);
    if (!sock) return 10;
    std::vector<uint8_t> all;
    for (uint32_t id = 1; id <= kRequests; ++id) {
      const auto f = proto::encodeRequest(id, proto::StatsRequest{false});
      all.insert(all.end(), f.begin(), f.end());
    }
    if (::write(sock->get(), all.data(), all.size()) != static_cast<ssize_t>(all.size())) return 11;
    sent.signal();
    if (!go.wait()) return 12;
    proto::FrameBuffer in(proto::Direction::kReply);
    uint32_t next = 1, busy = 0;
    while (next <= kRequests) {
      auto f = in.next();
      if (!f) return 13;
      if (!f->has_value()) {
        uint8_t buf[65536];
        const ssize_t n = ::read(sock->get(), buf, sizeof buf);
        if (n <= 0) return 14;
        in.append(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
        continue;
      }
      if ((*f)->header.id != next) return 15;
      auto r = proto::decodeReply((*f)->header, (*f)->payload);
      if (!r) return 16;
      if (r->error == EBUSY) {
        if (r->message != "uid 1000 has 4 requests in flight, the limit per user (max_requests_per_uid): read the replies first") {
          return 17;
        }
        ++busy;
      } else if (r->error != 0 || !std::holds_alternative<proto::StatsReply>(r->body)) {
        return 18;
      }
      ++next;
    }
    return busy > 0 ? 0 : 19;
  });
  sent.closeWrite();
  ASSERT_TRUE(sent.wait()) << "uid 1000 exited with " << a.exitStatus();
  ASSERT_TRUE(waitFor([&] { return svc->log().find("EBUSY: uid 1000 has 4 requests in flight") != std::string::npos; }))
      << svc->log();
  auto root = svc->connect();
  auto b = root.allocate("system", 4096);
  EXPECT_TRUE(b.ok()) << b.error().message();
  EXPECT_TRUE(root.stats(false).ok());
  go.signal();
  EXPECT_EQ(a.exitStatus(), 0);
  // Logged once for that connection, however many were refused.
  const std::string log = svc->log();
  size_t n = 0;
  for (size_t at = 0; (at = log.find("requests in flight", at)) != std::string::npos; ++at) ++n;
  EXPECT_EQ(n, 1u) << log;
}

TEST(UidLimits, ConfigLinesSetThemPerUid) {
  auto c = service::AccessConfig::parse("limit * buffers 100\nlimit 1000 requests 8\nlimit 1000 connections 2\n");
  ASSERT_TRUE(c.ok()) << c.error().message();
  const auto a = c->limitsFor(1000);
  EXPECT_EQ(a.connections, std::optional<size_t>(2));
  EXPECT_EQ(a.requests, std::optional<size_t>(8));
  EXPECT_EQ(a.buffers, std::optional<size_t>(100));
  const auto other = c->limitsFor(1001);
  EXPECT_EQ(other.connections, std::nullopt);
  EXPECT_EQ(other.buffers, std::optional<size_t>(100));
  for (const char* bad : {"limit 1000 buffers", "limit 1000 buffers 0", "limit 1000 buffers -1", "limit 1000 files 3",
                          "limit nosuchuser buffers 3"}) {
    auto r = service::AccessConfig::parse(bad);
    EXPECT_EQ(r.code(), EINVAL) << bad;
  }
  EXPECT_EQ(service::AccessConfig::parse("limit 1000 files 3").error().message(),
            "line 1: unknown limit 'files' (connections, requests, buffers)");
}

// A per-uid `limit` line overrides the service's default for that uid only.
TEST(UidLimits, AConfigLimitAppliesToItsUid) {
  service::ServiceOptions o;
  o.access.limits[::geteuid()].buffers = 1;
  ServiceProcess svc(o);
  auto c = svc.connect();
  auto first = c.allocate("system", 4096);
  ASSERT_TRUE(first.ok());
  auto refused = c.allocate("system", 4096);
  EXPECT_EQ(refused.code(), ENOBUFS);
  EXPECT_EQ(refused.error().message(),
            "uid " + std::to_string(::geteuid()) + " holds 1 buffers, the limit per user (max_buffers_per_uid)");
}

// ---- fds the service does not expect ----

size_t openFdsOf(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

// This process's open fds (the listing's own not counted).
size_t ownOpenFds() { return openFdsOf(getpid()) - 1; }

// Sends `bytes` with `count` fds of /dev/null in one message.
bool sendWithNullFds(int sock, const std::vector<uint8_t>& bytes, size_t count) {
  std::vector<UniqueFd> fds;
  std::vector<int> raw;
  for (size_t i = 0; i < count; ++i) {
    fds.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    raw.push_back(fds.back().get());
  }
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(count * sizeof(int)));
  if (count > 0) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(count * sizeof(int));
    std::memcpy(CMSG_DATA(c), raw.data(), count * sizeof(int));
  }
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

// Reads until the service closes the connection; the replies' errnos.
std::vector<int> errnosUntilClosed(int sock) {
  std::vector<int> out;
  proto::FrameBuffer in(proto::Direction::kReply);
  std::vector<UniqueFd> fds;
  for (;;) {
    for (;;) {
      auto f = in.next();
      if (!f || !f->has_value()) break;
      auto r = proto::decodeReply((*f)->header, (*f)->payload);
      out.push_back(r ? r->error : -1);
    }
    uint8_t buf[65536];
    auto n = proto::receiveWithFds(sock, buf, fds, false);
    if (!n || *n == 0) return out;
    in.append(std::span<const uint8_t>(buf, *n));
  }
}

std::vector<uint8_t> withFdCount(std::vector<uint8_t> frame, uint8_t fds) {
  frame[7] = fds;  // the header's fd_count (protocol/protocol.h)
  return frame;
}

// The figure is exact: the service process has the fds it inherited from this one (the std
// streams and whatever the test runner left open) plus its own six with one client connected.
TEST(HostileFds, AreClosedAtOnceAndNeverAccumulate) {
  const size_t inherited = ownOpenFds();
  ServiceProcess svc;
  auto good = svc.connect();
  auto held = good.allocate("system", 4096);
  ASSERT_TRUE(held.ok());
  // The buffer's fd leaves with the reply and the service closes its copy right after the send
  // returns, which may be after the reply is already here: a second round trip is after it.
  ASSERT_TRUE(good.listHeaps().ok());
  // Its own: inotify, listener, epoll, eventfd, signalfd, and the client's socket (the log file
  // is opened per line and closed).
  const size_t baseline = openFdsOf(svc.pid());
  ASSERT_EQ(baseline, inherited + 6);

  // Messages that take no fd, sent with fds, each closing its connection: a hello with an fd no
  // header announced, a hello announcing one (it carries none), a listing with 200 fds (more
  // than any message may carry), a buffer-info request with an fd and a malformed payload.
  const auto hello = proto::encodeRequest(1, proto::HelloRequest{"x"});
  const auto list = proto::encodeRequest(2, proto::ListHeapsRequest{});
  std::vector<uint8_t> malformed = proto::encodeRequest(3, proto::BufferInfoRequest{});
  malformed[4 + 2 + 1] = 1;                         // fd_count
  malformed[8] = 3;                                 // length 3 (little-endian u32 at 8)
  malformed.insert(malformed.end(), {0xff, 0xff, 0xff});
  struct Case {
    const char* what;
    std::vector<uint8_t> bytes;
    size_t fds;
    int last_errno;
  };
  const Case cases[] = {{"unannounced fd", hello, 1, EPROTO},
                        {"fd on a hello", withFdCount(hello, 1), 1, EPROTO},
                        {"200 fds", list, 200, EPROTO},
                        {"malformed, with an fd", malformed, 1, EPROTO}};
  for (const Case& c : cases) {
    for (int i = 0; i < 250; ++i) {
      UniqueFd s = std::move(proto::connectUnix(svc.path()).value());
      ASSERT_TRUE(sendWithNullFds(s.get(), c.bytes, c.fds)) << c.what;
      const auto errnos = errnosUntilClosed(s.get());
      ASSERT_FALSE(errnos.empty()) << c.what;
      ASSERT_EQ(errnos.back(), c.last_errno) << c.what;
      // The service closes the connection's socket after everything it received with it.
      ASSERT_EQ(openFdsOf(svc.pid()), baseline) << c.what << ", connection " << i;
    }
    ASSERT_TRUE(good.listHeaps().ok()) << c.what;
  }

  // On one connection that goes on: 4,000 requests of a type the service does not know, each
  // announcing and carrying an fd, and 1,000 set-name requests with an fd that is no buffer.
  UniqueFd s = std::move(proto::connectUnix(svc.path()).value());
  const size_t with_hostile = baseline + 1;
  auto unknown = proto::encodeRequest(10, proto::ListHeapsRequest{});
  unknown[6] = 0x40;  // the type: none of MsgType
  unknown = withFdCount(unknown, 1);
  const auto set_name = proto::encodeRequest(11, proto::SetNameRequest{"x"});
  proto::FrameBuffer in(proto::Direction::kReply);
  std::vector<UniqueFd> received;
  for (int batch = 0; batch < 50; ++batch) {
    const auto& frame = batch % 5 == 4 ? set_name : unknown;
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(sendWithNullFds(s.get(), frame, 1));
    for (int got = 0; got < 100;) {
      auto f = in.next();
      ASSERT_TRUE(f.ok());
      if (f->has_value()) {
        auto r = proto::decodeReply((*f)->header, (*f)->payload);
        ASSERT_TRUE(r.ok());
        ASSERT_EQ(r->error, batch % 5 == 4 ? EBADF : EOPNOTSUPP);
        ++got;
        continue;
      }
      uint8_t buf[65536];
      auto n = proto::receiveWithFds(s.get(), buf, received, false);
      ASSERT_TRUE(n.ok() && *n > 0);
      in.append(std::span<const uint8_t>(buf, *n));
    }
    // Every reply is in: every fd those 100 brought is closed.
    ASSERT_EQ(openFdsOf(svc.pid()), with_hostile) << "batch " << batch;
    ASSERT_TRUE(good.listHeaps().ok());
  }
  EXPECT_TRUE(received.empty());
  // Hung up: once the service has closed the socket, it holds nothing of that connection.
  ASSERT_EQ(::shutdown(s.get(), SHUT_WR), 0);
  EXPECT_TRUE(errnosUntilClosed(s.get()).empty());
  EXPECT_EQ(openFdsOf(svc.pid()), baseline);
  auto b = good.allocate("system", 4096);
  EXPECT_TRUE(b.ok());
}

}  // namespace
}  // namespace dmaheap
