// dmaheapd end to end: real processes, real fds, the kernel's errno, exact lifetime.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstring>

#include "service_fixture.h"

namespace dmaheap {
namespace {

using testing::readByte;
using testing::receiveFd;
using testing::sendByte;
using testing::sendFd;
using testing::ServiceProcess;
using testing::waitFor;

const proto::HeapStats* heapStats(const proto::StatsReply& s, const std::string& name) {
  for (const auto& h : s.heaps)
    if (h.heap.name == name) return &h;
  return nullptr;
}

uint64_t freeOf(proto::ServiceClient& c, const std::string& heap) {
  auto s = c.stats(false);
  EXPECT_TRUE(s.ok());
  const auto* h = s.ok() ? heapStats(*s, heap) : nullptr;
  return h ? h->heap.free : 0;
}

size_t liveBuffers(proto::ServiceClient& c) {
  auto s = c.stats(false);
  return s.ok() ? s->buffers.size() : ~size_t{0};
}

TEST(Service, HelloAndHeaps) {
  ServiceProcess svc;
  auto c = svc.connect();
  EXPECT_EQ(c.service().version, proto::kProtocolVersion);
  EXPECT_EQ(c.service().kernel, "6.18");
  EXPECT_EQ(c.service().page_size, 4096u);
  auto heaps = c.listHeaps();
  ASSERT_TRUE(heaps.ok());
  std::vector<std::string> names;
  for (const auto& h : *heaps) names.push_back(h.name);
  // The kernel's list order: newest first.
  EXPECT_EQ(names, (std::vector<std::string>{"reserved", "default_cma_region", "system"}));
  EXPECT_EQ((*heaps)[0].type, "cma");
  EXPECT_EQ((*heaps)[0].size, 64 * kMiB);
  EXPECT_EQ((*heaps)[0].free, 64 * kMiB);
  EXPECT_EQ((*heaps)[2].type, "system");
}

TEST(Service, AllocHandsOutRealSealedMemoryWithTheRequestedAccessMode) {
  ServiceProcess svc;
  auto c = svc.connect();
  auto b = c.allocate("system", 5000);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b->info.size, 8192u);  // page aligned, silently
  EXPECT_EQ(b->info.heap, "system");
  uint64_t total = 0;
  for (const auto& s : b->info.segments) total += s.size;
  EXPECT_EQ(total, 8192u);
  struct stat st {};
  ASSERT_EQ(fstat(b->fd.get(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 8192u);
  EXPECT_EQ(static_cast<uint64_t>(st.st_ino), b->info.inode);
  const int seals = fcntl(b->fd.get(), F_GET_SEALS);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
  EXPECT_NE(fcntl(b->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(fcntl(b->fd.get(), F_GETFL) & O_ACCMODE, O_RDWR);
  auto* p = static_cast<uint8_t*>(mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd.get(), 0));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(p[8191], 0);
  p[0] = 42;
  munmap(p, 8192);

  auto cma = c.allocate("reserved", 3 * kMiB, O_RDONLY);
  ASSERT_TRUE(cma.ok()) << cma.error().message();
  ASSERT_EQ(cma->info.segments.size(), 1u);  // CMA: one contiguous segment
  EXPECT_EQ(fcntl(cma->fd.get(), F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(fcntl(cma->fd.get(), F_GETFD) & FD_CLOEXEC, 0);  // no O_CLOEXEC asked
  EXPECT_EQ(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, cma->fd.get(), 0), MAP_FAILED);
  EXPECT_EQ(errno, EACCES);
}

// docs/emulation.md "Backings": a service whose board has no backing set makes memfds, and
// says so for itself and for each live buffer, by inode.
TEST(Service, BackingsNameTheServicesAndEachBuffers) {
  ServiceProcess svc;
  auto c = svc.connect();
  auto a = c.allocate("system", 4096);
  auto b = c.allocate("reserved", 8192);
  ASSERT_TRUE(a.ok() && b.ok());
  auto backings = c.backings();
  ASSERT_TRUE(backings.ok()) << backings.error().message();
  EXPECT_EQ(backings->backing, "memfd");
  EXPECT_EQ(backings->description, "memfd (a sealed memfd per buffer; not importable by devices)");
  std::vector<proto::BufferBacking> expected = {{a->info.inode, "memfd"}, {b->info.inode, "memfd"}};
  if (expected[0].inode > expected[1].inode) std::swap(expected[0], expected[1]);
  EXPECT_EQ(backings->buffers, expected);
  a->fd.reset();
  b->fd.reset();
  EXPECT_TRUE(waitFor([&] { return c.backings().ok() && c.backings()->buffers.empty(); }));
}

TEST(Service, RefusalsCarryTheKernelsErrno) {
  ServiceProcess svc;
  auto c = svc.connect();
  auto code = [&](proto::AllocRequest r) { return c.allocate(r).code(); };
  proto::AllocRequest ok{"system", 4096, 0, O_RDWR | O_CLOEXEC, 0};
  auto with = [&](auto f) {
    proto::AllocRequest r = ok;
    f(r);
    return code(r);
  };
  EXPECT_EQ(with([](auto& r) { r.fd = 7; }), EINVAL);
  EXPECT_EQ(with([](auto& r) { r.fd_flags |= O_NONBLOCK; }), EINVAL);
  EXPECT_EQ(with([](auto& r) { r.heap_flags = 1; }), EINVAL);
  EXPECT_EQ(with([](auto& r) { r.len = 0; }), EINVAL);
  EXPECT_EQ(with([](auto& r) { r.len = ~uint64_t{0} - 100; }), EINVAL);  // wraps when aligned
  EXPECT_EQ(with([](auto& r) { r.heap = "reserved", r.len = 65 * kMiB; }), ENOMEM);
  EXPECT_EQ(with([](auto& r) { r.heap = "nonexistent"; }), ENOENT);
  // Order: the fd check comes before the length check.
  EXPECT_EQ(with([](auto& r) { r.fd = 1, r.len = 0; }), EINVAL);
  EXPECT_EQ(code(ok), 0);
  // Nothing leaked by the refusals, and the connection is still good.
  EXPECT_TRUE(waitFor([&] { return liveBuffers(c) == 0; }));
  EXPECT_EQ(freeOf(c, "reserved"), 64 * kMiB);
}

// Allocate in A, pass to B, write in B, read in A; the memory goes back only after both closed
// their fds and unmapped.
TEST(Service, SharedBetweenProcessesFreedAfterLastCloseAndUnmap) {
  ServiceProcess svc;
  auto a = svc.connect();
  const uint64_t start = freeOf(a, "reserved");
  int sp[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  const pid_t b_pid = fork();
  if (b_pid == 0) {
    ::close(sp[0]);
    UniqueFd fd = receiveFd(sp[1]);
    auto* p = static_cast<uint8_t*>(mmap(nullptr, kMiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0));
    if (!fd || p == MAP_FAILED) _exit(1);
    for (uint64_t i = 0; i < kMiB; ++i) p[i] = static_cast<uint8_t>(i * 7);
    fd.reset();  // keep only the mapping
    sendByte(sp[1], 'w');
    if (readByte(sp[1]) != 'u') _exit(2);
    munmap(p, kMiB);
    sendByte(sp[1], 'u');
    readByte(sp[1]);
    _exit(0);
  }
  ::close(sp[1]);
  auto buf = a.allocate("reserved", kMiB);
  ASSERT_TRUE(buf.ok());
  EXPECT_EQ(freeOf(a, "reserved"), start - kMiB);
  auto* p = static_cast<uint8_t*>(mmap(nullptr, kMiB, PROT_READ, MAP_SHARED, buf->fd.get(), 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_TRUE(sendFd(sp[0], buf->fd.get()));
  ASSERT_EQ(readByte(sp[0]), 'w');
  for (uint64_t i = 0; i < kMiB; i += 4093) ASSERT_EQ(p[i], static_cast<uint8_t>(i * 7)) << i;

  // Both processes show up as holders: A with an fd and a mapping, B with a mapping only.
  auto s = a.stats(true);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->buffers.size(), 1u);
  bool saw_a = false, saw_b = false;
  for (const auto& h : s->buffers[0].holders) {
    if (h.pid == static_cast<uint32_t>(getpid())) saw_a = h.fds == 1 && h.mappings == 1;
    if (h.pid == static_cast<uint32_t>(b_pid)) saw_b = h.fds == 0 && h.mappings == 1;
  }
  EXPECT_TRUE(saw_a && saw_b);

  buf->fd.reset();
  munmap(p, kMiB);
  // A let go entirely; B's mapping keeps the buffer.
  EXPECT_EQ(liveBuffers(a), 1u);
  EXPECT_EQ(freeOf(a, "reserved"), start - kMiB);
  ASSERT_TRUE(sendByte(sp[0], 'u'));
  ASSERT_EQ(readByte(sp[0]), 'u');
  // munmap returned in B: the last reference is gone, and the service drains its watch
  // events before answering.
  EXPECT_EQ(liveBuffers(a), 0u);
  EXPECT_EQ(freeOf(a, "reserved"), start);
  sendByte(sp[0], 'x');
  int st;
  waitpid(b_pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ::close(sp[0]);
}

// Holders killed with SIGKILL, one of them a third process that got the fd second hand.
TEST(Service, SigkilledHoldersReleaseTheBuffer) {
  ServiceProcess svc;
  auto a = svc.connect();
  const uint64_t start = freeOf(a, "system");
  int sp[2], sq[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sq), 0);
  const pid_t d = fork();  // the third process: gets the fd from C, maps it, keeps both
  if (d == 0) {
    UniqueFd fd = receiveFd(sq[1]);
    void* p = mmap(nullptr, 4 * kMiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    sendByte(sq[1], p == MAP_FAILED ? 'e' : 'm');
    for (;;) pause();
  }
  const pid_t c = fork();  // gets the fd from A, passes it on to D, keeps it
  if (c == 0) {
    UniqueFd fd = receiveFd(sp[1]);
    sendFd(sq[0], fd.get());
    sendByte(sp[1], 'p');
    for (;;) pause();
  }
  ::close(sp[1]);
  ::close(sq[0]);
  ::close(sq[1]);
  {
    auto buf = a.allocate("system", 4 * kMiB);
    ASSERT_TRUE(buf.ok());
    ASSERT_TRUE(sendFd(sp[0], buf->fd.get()));
    ASSERT_EQ(readByte(sp[0]), 'p');
  }  // A's fd closed
  ASSERT_TRUE(waitFor([&] {
    auto s = a.stats(true);
    return s.ok() && s->buffers.size() == 1 && s->buffers[0].holders.size() == 2;
  }));
  EXPECT_EQ(freeOf(a, "system"), start - 4 * kMiB);
  kill(c, SIGKILL);
  waitpid(c, nullptr, 0);
  EXPECT_EQ(liveBuffers(a), 1u);  // D still holds it
  kill(d, SIGKILL);
  waitpid(d, nullptr, 0);
  // Reaped: the dead process's files and mappings are released.
  EXPECT_EQ(liveBuffers(a), 0u);
  EXPECT_EQ(freeOf(a, "system"), start);
  ::close(sp[0]);
}

TEST(Service, ClientKilledMidRequestLeaksNothing) {
  ServiceProcess svc;
  auto a = svc.connect();
  const uint64_t start = freeOf(a, "reserved");
  for (int round = 0; round < 8; ++round) {
    const pid_t child = fork();
    if (child == 0) {
      auto sock = proto::connectUnix(svc.path());
      if (!sock) _exit(1);
      auto bytes = proto::encodeRequest(1, proto::AllocRequest{"reserved", 2 * kMiB, 0, O_RDWR, 0});
      // Even rounds: a whole request, never read the reply. Odd rounds: half a request.
      const size_t n = round % 2 == 0 ? bytes.size() : bytes.size() / 2;
      if (::write(sock->get(), bytes.data(), n) != static_cast<ssize_t>(n)) _exit(2);
      raise(SIGKILL);
    }
    waitpid(child, nullptr, 0);
  }
  // Only our own connection remains, and nothing is allocated.
  EXPECT_TRUE(waitFor([&] {
    auto s = a.stats(false);
    return s.ok() && s->clients.size() == 1 && s->buffers.empty();
  }));
  EXPECT_EQ(freeOf(a, "reserved"), start);
}

// 8 client processes x 2000 alloc/free cycles over every heap: every heap ends where it started.
TEST(Service, EightClientsTwoThousandCyclesEachLeaveEveryHeapAsItStarted) {
  ServiceProcess svc;
  auto a = svc.connect();
  auto before = a.stats(false);
  ASSERT_TRUE(before.ok());
  constexpr int kClients = 8, kCycles = 2000;
  std::vector<pid_t> kids;
  for (int k = 0; k < kClients; ++k) {
    const pid_t pid = fork();
    if (pid == 0) {
      auto c = proto::ServiceClient::connect(svc.path());
      if (!c) _exit(1);
      const char* heaps[] = {"system", "reserved", "default_cma_region"};
      std::vector<UniqueFd> held;
      for (int i = 0; i < kCycles; ++i) {
        const uint64_t len = 4096 * static_cast<uint64_t>(1 + (i * 7 + k) % 16);
        auto b = c->allocate(heaps[(i + k) % 3], len);
        if (!b) _exit(2);
        held.push_back(std::move(b->fd));
        // Free in a different order than allocated: keep up to three alive.
        if (held.size() > 3) held.erase(held.begin() + (i % 3));
      }
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "client exit status " << st;
  }
  ASSERT_TRUE(waitFor([&] {
    auto s = a.stats(false);
    return s.ok() && s->buffers.empty() && s->clients.size() == 1;
  }));
  auto after = a.stats(false);
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->buffers_freed, static_cast<uint64_t>(kClients * kCycles));
  ASSERT_EQ(after->heaps.size(), before->heaps.size());
  for (size_t i = 0; i < after->heaps.size(); ++i) {
    EXPECT_EQ(after->heaps[i].heap.name, before->heaps[i].heap.name);
    EXPECT_EQ(after->heaps[i].heap.free, before->heaps[i].heap.free) << after->heaps[i].heap.name;
    EXPECT_EQ(after->heaps[i].heap.largest_free_block, before->heaps[i].heap.largest_free_block)
        << after->heaps[i].heap.name;
  }
  ASSERT_EQ(after->clients.size(), 1u);
  EXPECT_TRUE(after->uids.empty());
}

TEST(Service, SetNameAndBufferInfoByFd) {
  ServiceProcess svc;
  auto c = svc.connect();
  auto b = c.allocate("system", 4096);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(c.setName(b->fd.get(), "camera-preview").ok());
  EXPECT_EQ(c.setName(b->fd.get(), std::string(32, 'x')).code(), EINVAL);  // DMA_BUF_NAME_LEN
  auto info = c.bufferInfo(b->fd.get());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->name, "camera-preview");
  EXPECT_EQ(info->inode, b->info.inode);
  auto s = c.stats(false);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->buffers.size(), 1u);
  EXPECT_EQ(s->buffers[0].buffer.name, "camera-preview");
  EXPECT_EQ(s->buffers[0].owner_pid, static_cast<uint32_t>(getpid()));
  // An fd that is not one of the service's buffers.
  UniqueFd other(memfd_create("other", MFD_CLOEXEC));
  EXPECT_EQ(c.setName(other.get(), "x").code(), EBADF);
  EXPECT_EQ(c.bufferInfo(other.get()).code(), EBADF);
}

TEST(Service, RestartLeavesHandedOutBuffersValid) {
  char tmpl[] = "/tmp/dmaheapd-restart-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  UniqueFd kept;
  {
    ServiceProcess first({}, dir);
    auto c = first.connect();
    auto b = c.allocate("system", 64 * 1024);
    ASSERT_TRUE(b.ok());
    kept = std::move(b->fd);
    EXPECT_EQ(first.stop(), 0);
    EXPECT_FALSE(std::filesystem::exists(first.path()));  // clean shutdown removes the socket
  }
  auto* p = static_cast<uint8_t*>(mmap(nullptr, 64 * 1024, PROT_READ | PROT_WRITE, MAP_SHARED, kept.get(), 0));
  ASSERT_NE(p, MAP_FAILED);
  p[100] = 9;
  EXPECT_EQ(p[100], 9);
  ServiceProcess second({}, dir);
  auto c = second.connect();
  auto s = c.stats(false);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->buffers.empty());  // the new service knows nothing of it
  EXPECT_EQ(c.bufferInfo(kept.get()).code(), EBADF);
  EXPECT_EQ(p[100], 9);
  munmap(p, 64 * 1024);
  second.stop();
  testing::removeTree(dir);
}

}  // namespace
}  // namespace dmaheap
