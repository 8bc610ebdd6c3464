// BufferWatcher: the inotify signal arrives exactly when the last fd and mapping anywhere go.
#include "heap/buffer_watcher.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>

#include "heap/buffer.h"

namespace dmaheap {
namespace {

UniqueFd memfd(uint64_t size = 65536) { return std::move(createSealedMemfd("dmabuf", size, true, true).value()); }

TEST(BufferWatcher, LastCloseIsReportedOnce) {
  auto w = BufferWatcher::create();
  ASSERT_TRUE(w.ok());
  UniqueFd fd = memfd();
  auto wd = w->watch(fd.get());
  ASSERT_TRUE(wd.ok());
  UniqueFd dup(::dup(fd.get()));
  fd.reset();
  EXPECT_TRUE(w->poll().empty());  // the dup still holds it
  dup.reset();
  EXPECT_EQ(w->poll(), std::vector<int>{*wd});
  EXPECT_TRUE(w->poll().empty());
  EXPECT_EQ(w->watching(), 0u);
}

TEST(BufferWatcher, AMappingOutlivesTheFd) {
  auto w = BufferWatcher::create();
  ASSERT_TRUE(w.ok());
  UniqueFd fd = memfd();
  auto wd = w->watch(fd.get());
  ASSERT_TRUE(wd.ok());
  void* p = mmap(nullptr, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(p, MAP_FAILED);
  fd.reset();
  EXPECT_TRUE(w->poll().empty());
  munmap(p, 65536);
  EXPECT_EQ(w->poll(), std::vector<int>{*wd});
}

TEST(BufferWatcher, AnFdInFlightInASocketKeepsItAlive) {
  auto w = BufferWatcher::create();
  ASSERT_TRUE(w.ok());
  int sp[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  UniqueFd fd = memfd();
  auto wd = w->watch(fd.get());
  ASSERT_TRUE(wd.ok());
  char c = 'x';
  iovec iov{&c, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  const int raw = fd.get();
  std::memcpy(CMSG_DATA(cm), &raw, sizeof raw);
  ASSERT_EQ(sendmsg(sp[0], &msg, 0), 1);
  fd.reset();
  EXPECT_TRUE(w->poll().empty());  // only the unread message references it
  ::close(sp[1]);                  // the receiver goes away without reading
  ::close(sp[0]);
  EXPECT_EQ(w->poll(), std::vector<int>{*wd});
}

TEST(BufferWatcher, SigkilledHolderReleasesIt) {
  auto w = BufferWatcher::create();
  ASSERT_TRUE(w.ok());
  UniqueFd fd = memfd();
  auto wd = w->watch(fd.get());
  ASSERT_TRUE(wd.ok());
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  if (child == 0) {
    void* p = mmap(nullptr, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    (void)p;
    if (write(ready[1], "r", 1) != 1) _exit(1);
    for (;;) pause();
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  fd.reset();
  EXPECT_TRUE(w->poll().empty());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(w->poll(), std::vector<int>{*wd});
  ::close(ready[0]);
  ::close(ready[1]);
}

// What the service does after IN_Q_OVERFLOW: ask the kernel which watches still exist.
TEST(BufferWatcher, RecheckFindsExactlyTheGoneOnesWithoutReadingEvents) {
  auto w = BufferWatcher::create();
  ASSERT_TRUE(w.ok());
  std::vector<UniqueFd> fds;
  std::vector<int> wds;
  for (int i = 0; i < 6; ++i) {
    fds.push_back(memfd(4096));
    wds.push_back(w->watch(fds.back().get()).value());
  }
  fds[1].reset();
  fds[4].reset();
  auto gone = w->recheck();
  std::sort(gone.begin(), gone.end());
  EXPECT_EQ(gone, (std::vector<int>{wds[1], wds[4]}));
  EXPECT_EQ(w->watching(), 4u);
  EXPECT_TRUE(w->poll().empty());  // their queued IN_IGNORED events are not reported twice
  fds.clear();
  EXPECT_EQ(w->poll().size(), 4u);
}

}  // namespace
}  // namespace dmaheap
