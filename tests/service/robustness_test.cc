// Hostile and broken clients lose their own connection and nothing else; access control and
// quotas refuse with EACCES/EDQUOT, logged once per client.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <cstring>

#include "protocol/wire.h"
#include "service_fixture.h"

namespace dmaheap {
namespace {

using testing::ServiceProcess;
using testing::waitFor;

// What a raw connection got back before the service closed it.
struct Outcome {
  std::vector<proto::Reply> replies;
  std::vector<uint8_t> types;
  bool closed = false;
};

// Reads frames until EOF (or `want` replies when want > 0).
Outcome readUntilClosed(int sock, size_t want = 0) {
  Outcome out;
  proto::FrameBuffer in(proto::Direction::kReply);
  std::vector<UniqueFd> fds;
  for (;;) {
    for (;;) {
      auto f = in.next();
      if (!f || !f->has_value()) break;
      auto r = proto::decodeReply((*f)->header, (*f)->payload);
      if (r) out.replies.push_back(*r);
      out.types.push_back((*f)->header.type);
      if (want > 0 && out.replies.size() == want) return out;
    }
    uint8_t buf[65536];
    auto n = proto::receiveWithFds(sock, buf, fds, false);
    if (!n || *n == 0) {
      out.closed = true;
      return out;
    }
    in.append(std::span<const uint8_t>(buf, *n));
  }
}

UniqueFd rawConnect(const ServiceProcess& svc) {
  auto s = proto::connectUnix(svc.path());
  EXPECT_TRUE(s.ok());
  return s.ok() ? std::move(s.value()) : UniqueFd();
}

bool writeAll(int fd, const std::vector<uint8_t>& b) {
  return ::write(fd, b.data(), b.size()) == static_cast<ssize_t>(b.size());
}

std::vector<uint8_t> header(uint32_t magic, uint16_t version, uint8_t type, uint8_t fds, uint32_t length) {
  proto::Header h;
  h.magic = magic;
  h.version = version;
  h.type = type;
  h.fd_count = fds;
  h.length = length;
  std::vector<uint8_t> out;
  proto::encodeHeader(h, out);
  return out;
}

class Robustness : public ::testing::Test {
 protected:
  void SetUp() override {
    service::ServiceOptions o;
    o.partial_message_timeout = std::chrono::milliseconds(200);
    o.write_stall_timeout = std::chrono::milliseconds(300);
    o.max_pending_replies = 8;
    svc_ = std::make_unique<ServiceProcess>(o);
    good_.emplace(svc_->connect());
    auto b = good_->allocate("reserved", kMiB);
    ASSERT_TRUE(b.ok());
    buffer_ = std::move(b.value());
    map_ = static_cast<uint8_t*>(mmap(nullptr, kMiB, PROT_READ | PROT_WRITE, MAP_SHARED, buffer_.fd.get(), 0));
    ASSERT_NE(map_, MAP_FAILED);
    std::memset(map_, 0x5a, kMiB);
  }
  void TearDown() override {
    // The well-behaved client and its buffer are untouched by whatever happened.
    for (uint64_t i = 0; i < kMiB; i += 4096) ASSERT_EQ(map_[i], 0x5a);
    auto s = good_->stats(false);
    ASSERT_TRUE(s.ok()) << s.error().message();
    ASSERT_EQ(s->buffers.size(), 1u);
    EXPECT_EQ(s->buffers[0].buffer.inode, buffer_.info.inode);
    auto b = good_->allocate("system", 4096);
    EXPECT_TRUE(b.ok());
    munmap(map_, kMiB);
  }

  std::unique_ptr<ServiceProcess> svc_;
  std::optional<proto::ServiceClient> good_;
  proto::ServiceBuffer buffer_;
  uint8_t* map_ = nullptr;
};

TEST_F(Robustness, GarbageClosesOnlyThatConnection) {
  UniqueFd s = rawConnect(*svc_);
  ASSERT_TRUE(writeAll(s.get(), std::vector<uint8_t>(100, 0xab)));
  Outcome o = readUntilClosed(s.get());
  EXPECT_TRUE(o.closed);
  ASSERT_EQ(o.replies.size(), 1u);
  EXPECT_EQ(o.types[0], proto::kProtocolErrorType);
  EXPECT_EQ(o.replies[0].error, EPROTO);
}

TEST_F(Robustness, HugeLengthIsRefusedBeforeReading) {
  UniqueFd s = rawConnect(*svc_);
  ASSERT_TRUE(writeAll(s.get(), header(proto::kMagic, 1, 3, 0, 0xfffffff0u)));
  Outcome o = readUntilClosed(s.get());
  EXPECT_TRUE(o.closed);
  ASSERT_EQ(o.replies.size(), 1u);
  EXPECT_EQ(o.replies[0].error, EMSGSIZE);
}

TEST_F(Robustness, OtherProtocolVersionIsRefused) {
  UniqueFd s = rawConnect(*svc_);
  ASSERT_TRUE(writeAll(s.get(), header(proto::kMagic, 2, 1, 0, 0)));
  Outcome o = readUntilClosed(s.get());
  EXPECT_TRUE(o.closed);
  ASSERT_EQ(o.replies.size(), 1u);
  EXPECT_EQ(o.replies[0].error, EPROTONOSUPPORT);
}

TEST_F(Robustness, MalformedPayloadClosesTheConnection) {
  UniqueFd s = rawConnect(*svc_);
  // An alloc request cut short inside the frame: the heap name claims more bytes than follow.
  auto bytes = header(proto::kMagic, 1, 3, 0, 4);
  for (int b : {0x10, 0x00, int{'a'}, int{'b'}}) bytes.push_back(static_cast<uint8_t>(b));
  ASSERT_TRUE(writeAll(s.get(), bytes));
  Outcome o = readUntilClosed(s.get());
  EXPECT_TRUE(o.closed);
  ASSERT_EQ(o.replies.size(), 1u);
  EXPECT_EQ(o.replies[0].error, EPROTO);
}

TEST_F(Robustness, UnknownRequestTypeIsAnsweredAndTheConnectionGoesOn) {
  UniqueFd s = rawConnect(*svc_);
  auto bytes = header(proto::kMagic, 1, 0x42, 0, 3);
  bytes.insert(bytes.end(), {1, 2, 3});
  auto hello = proto::encodeRequest(9, proto::HelloRequest{"x"});
  bytes.insert(bytes.end(), hello.begin(), hello.end());
  ASSERT_TRUE(writeAll(s.get(), bytes));
  Outcome o = readUntilClosed(s.get(), 2);
  EXPECT_FALSE(o.closed);
  ASSERT_EQ(o.replies.size(), 2u);
  EXPECT_EQ(o.replies[0].error, EOPNOTSUPP);
  EXPECT_EQ(o.replies[1].error, 0);
}

TEST_F(Robustness, FdsNoMessageAnnouncedCloseTheConnection) {
  UniqueFd s = rawConnect(*svc_);
  auto hello = proto::encodeRequest(1, proto::HelloRequest{});
  ASSERT_TRUE(proto::sendWithFd(s.get(), hello, buffer_.fd.get(), false).ok());
  Outcome o = readUntilClosed(s.get());
  EXPECT_TRUE(o.closed);
  ASSERT_FALSE(o.replies.empty());
  EXPECT_EQ(o.replies.back().error, EPROTO);
}

TEST_F(Robustness, HalfAMessageTimesOut) {
  UniqueFd s = rawConnect(*svc_);
  auto bytes = proto::encodeRequest(1, proto::AllocRequest{"system", 4096, 0, O_RDWR, 0});
  bytes.resize(bytes.size() - 3);
  ASSERT_TRUE(writeAll(s.get(), bytes));
  Outcome o = readUntilClosed(s.get());  // blocks until the service gives up on it
  EXPECT_TRUE(o.closed);
  EXPECT_NE(svc_->log().find("incomplete"), std::string::npos) << svc_->log();
}

TEST_F(Robustness, AClientThatStopsReadingIsDisconnected) {
  UniqueFd s = rawConnect(*svc_);
  int small = 4096;
  setsockopt(s.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  // Pipeline many stats requests and read nothing; each reply is a few hundred bytes.
  std::vector<uint8_t> burst;
  for (uint32_t i = 1; i <= 2000; ++i) {
    auto r = proto::encodeRequest(i, proto::StatsRequest{false});
    burst.insert(burst.end(), r.begin(), r.end());
  }
  // Non-blocking: the service stops reading us once our replies pile up.
  fcntl(s.get(), F_SETFL, O_NONBLOCK);
  [[maybe_unused]] auto w = ::write(s.get(), burst.data(), burst.size());
  ASSERT_TRUE(waitFor([&] { return svc_->log().find("unread") != std::string::npos; })) << svc_->log();
  // Meanwhile other clients were served (TearDown checks once more).
  EXPECT_TRUE(good_->listHeaps().ok());
}

TEST_F(Robustness, ManyConcurrentClientsAreAllServed) {
  std::vector<proto::ServiceClient> clients;
  for (int i = 0; i < 50; ++i) clients.push_back(svc_->connect());
  std::vector<proto::ServiceBuffer> bufs;
  for (auto& c : clients) {
    auto b = c.allocate("system", 4096);
    ASSERT_TRUE(b.ok());
    bufs.push_back(std::move(b.value()));
  }
  auto s = good_->stats(false);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->clients.size(), 51u);
  EXPECT_EQ(s->buffers.size(), 51u);
}

// ---- access control and quotas: a child drops to uid 1000 (needs root) ----

int runAs(uid_t uid, const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(uid, uid, uid) != 0 || setgroups(0, nullptr) != 0 || setresuid(uid, uid, uid) != 0) _exit(100);
    _exit(body());
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST(AccessControl, HeapModesAndQuotas) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  auto config = service::AccessConfig::parse(
      "heap * owner=0 group=0 mode=0666\n"
      "heap reserved owner=0 group=0 mode=0600   # camera only\n"
      "quota 1000 64K\n");
  ASSERT_TRUE(config.ok()) << config.error().message();
  service::ServiceOptions o;
  o.access = *config;
  ServiceProcess svc(o);
  chmod(svc.dir().c_str(), 0755);
  const std::string path = svc.path();
  const int status = runAs(1000, [&] {
    auto c = proto::ServiceClient::connect(path);
    if (!c) return 1;
    if (c->allocate("reserved", 4096).code() != EACCES) return 2;
    if (c->allocate("reserved", 8192).code() != EACCES) return 3;  // logged once only
    auto a = c->allocate("system", 32 * 1024);
    auto b = c->allocate("system", 32 * 1024);
    if (!a || !b) return 4;
    if (c->allocate("system", 4096).code() != EDQUOT) return 5;
    if (c->allocate("system", 4096).code() != EDQUOT) return 6;
    a->fd.reset();  // room again once a buffer is gone
    if (!c->allocate("system", 4096)) return 7;
    return 0;
  });
  EXPECT_EQ(status, 0);
  const std::string log = svc.log();
  EXPECT_EQ(count(log, "EACCES"), 1u) << log;
  EXPECT_EQ(count(log, "EDQUOT"), 1u) << log;
  // Root passes any mode, as with device nodes.
  auto root = svc.connect();
  EXPECT_TRUE(root.allocate("reserved", 4096).ok());
}

// One user holding every connection it may does not lock another out; the refused connection
// is told why with its own errno (EUSERS), not "not running"; the limit frees up as connections
// close, and the refusals are logged once.
TEST(AccessControl, ConnectionsArePerUidLimited) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to act as another uid";
  service::ServiceOptions o;
  o.max_clients_per_uid = 4;
  ServiceProcess svc(o);
  chmod(svc.dir().c_str(), 0755);
  const std::string path = svc.path();
  int to_parent[2];
  ASSERT_EQ(pipe(to_parent), 0);
  int to_child[2];
  ASSERT_EQ(pipe(to_child), 0);
  const pid_t a = fork();
  if (a == 0) {  // uid 1000: takes its four, is refused a fifth (twice), then waits
    if (setresgid(1000, 1000, 1000) != 0 || setgroups(0, nullptr) != 0 || setresuid(1000, 1000, 1000) != 0) _exit(100);
    std::vector<proto::ServiceClient> held;
    for (int i = 0; i < 4; ++i) {
      auto c = proto::ServiceClient::connect(path);
      if (!c) _exit(10 + i);
      held.push_back(std::move(c.value()));
    }
    for (int i = 0; i < 2; ++i) {
      auto refused = proto::ServiceClient::connect(path);
      if (refused.code() != EUSERS) _exit(20);
      if (refused.error().message().find("uid 1000 has 4 connections open, the limit per user") == std::string::npos) _exit(21);
    }
    char go = 0;
    [[maybe_unused]] auto w = write(to_parent[1], "r", 1);
    [[maybe_unused]] auto r = read(to_child[0], &go, 1);  // the parent allocated meanwhile
    held.pop_back();  // one closed: room for one again
    for (int tries = 0; tries < 1000; ++tries) {
      auto again = proto::ServiceClient::connect(path);
      if (again) _exit(again->allocate("system", 4096) ? 0 : 31);
      if (again.code() != EUSERS) _exit(32);
      usleep(2000);  // the service has not seen the close yet
    }
    _exit(33);
  }
  char ready = 0;
  ASSERT_EQ(read(to_parent[0], &ready, 1), 1);
  // uid 0 is another user: served while uid 1000 holds all it may.
  auto root = svc.connect();
  auto buf = root.allocate("system", 64 * 1024);
  EXPECT_TRUE(buf.ok());
  ASSERT_EQ(write(to_child[1], "g", 1), 1);
  int st = 0;
  waitpid(a, &st, 0);
  EXPECT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) close(fd);
  EXPECT_EQ(count(svc.log(), "refusing connections of uid 1000"), 1u) << svc.log();
}

// The service's overall limit has an errno of its own too (EMFILE).
TEST(AccessControl, TheOverallConnectionLimitSaysSo) {
  service::ServiceOptions o;
  o.max_clients = 3;
  ServiceProcess svc(o);
  std::vector<proto::ServiceClient> held;
  for (int i = 0; i < 3; ++i) held.push_back(svc.connect());
  auto refused = proto::ServiceClient::connect(svc.path());
  EXPECT_EQ(refused.code(), EMFILE);
  EXPECT_NE(refused.error().message().find("3 clients are connected, the service's limit (max_clients)"), std::string::npos)
      << refused.error().message();
  EXPECT_TRUE(held[0].listHeaps().ok());
}

TEST(AccessConfig, ParsesAndRefusesBadLines) {
  auto c = service::AccessConfig::parse("heap system owner=0 group=44 mode=0640\nquota * 1G\nquota 1000 64M\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->forHeap("system").group, 44u);
  EXPECT_EQ(c->forHeap("system").mode, 0640u);
  EXPECT_EQ(c->quotaFor(1000), 64 * kMiB);
  EXPECT_EQ(c->quotaFor(1001), kGiB);
  service::PeerCredentials member{1, 1000, 1000, {44}}, stranger{1, 1000, 1000, {}};
  EXPECT_TRUE(c->checkOpen("system", member).ok());
  EXPECT_EQ(c->checkOpen("system", stranger).code(), EACCES);
  for (const char* bad : {"heap", "heap x mode=9", "heap x color=red", "quota 1000", "quota 1000 lots", "frobnicate"}) {
    EXPECT_EQ(service::AccessConfig::parse(bad).code(), EINVAL) << bad;
  }
}

}  // namespace
}  // namespace dmaheap
