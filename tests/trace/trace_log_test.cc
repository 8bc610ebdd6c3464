// TraceLog: one whole line per event in an O_APPEND file, buffer numbers, watched releases.
#include "trace/trace_log.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace dmaheap::trace {
namespace {

std::string tempPath() {
  char path[] = "/tmp/dmaheap-trace-test-XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  ::close(fd);
  return path;
}

std::vector<Event> readEvents(const std::string& path) {
  std::ifstream in(path);
  std::vector<Event> out;
  for (std::string line; std::getline(in, line);) {
    auto e = parseEventLine(line);
    EXPECT_TRUE(e.ok()) << line;
    if (e) out.push_back(e.value());
  }
  return out;
}

AllocRecord allocOf(int fd, uint64_t size) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  AllocRecord r;
  r.pid = 100;
  r.tid = 101;
  r.heap = "reserved";
  r.len = size - 100;
  r.fd_flags = O_RDWR | O_CLOEXEC;
  r.size = size;
  r.fd = 7;
  r.dev = st.st_dev;
  r.ino = st.st_ino;
  r.watch_fd = fd;
  return r;
}

TEST(TraceLog, WatchedBuffersGetReleaseLinesWhenTheLastHolderIsGone) {
  const std::string path = tempPath();
  auto log = TraceLog::open(path, Releases::kWatched);
  ASSERT_TRUE(log.ok()) << log.error().message();
  (*log)->start("test", "6.18", 4096, {{"reserved", "cma", "contiguous", 16u << 20}});
  const int a = ::memfd_create("a", MFD_CLOEXEC), b = ::memfd_create("b", MFD_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ((*log)->allocated(allocOf(a, 8192)), 1u);
  EXPECT_EQ((*log)->allocated(allocOf(b, 4096)), 2u);
  struct stat st {};
  ASSERT_EQ(::fstat(b, &st), 0);
  (*log)->named(100, 102, st.st_dev, st.st_ino, "frame", 0);
  // A mapping keeps `a` alive after its fd is closed; b goes at once.
  ASSERT_EQ(::ftruncate(a, 8192), 0);
  void* map = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, a, 0);
  ASSERT_NE(map, MAP_FAILED);
  ::close(a);
  ::close(b);
  (*log)->pollReleases();
  ::munmap(map, 4096);
  (*log)->pollReleases();
  AllocRecord failed;
  failed.heap = "reserved";
  failed.len = 4097;
  failed.error = ENOMEM;
  EXPECT_EQ((*log)->allocated(failed), 0u);
  EXPECT_EQ((*log)->lost(), 0u);
  EXPECT_EQ((*log)->events(), 7u);

  const auto events = readEvents(path);
  ASSERT_EQ(events.size(), 7u);
  EXPECT_EQ(events[0].kind, EventKind::kStart);
  EXPECT_EQ(events[0].heaps.size(), 1u);
  EXPECT_EQ(events[1].kind, EventKind::kAlloc);
  EXPECT_EQ(events[1].buffer, 1u);
  EXPECT_EQ(events[1].len, 8092u);
  EXPECT_EQ(events[1].rounded, 8192u);
  EXPECT_EQ(events[1].fd, 7);
  EXPECT_EQ(events[1].tid, 101);
  EXPECT_EQ(events[2].buffer, 2u);
  EXPECT_EQ(events[3].kind, EventKind::kSetName);
  EXPECT_EQ(events[3].buffer, 2u);
  EXPECT_EQ(events[3].name, "frame");
  EXPECT_EQ(events[4].kind, EventKind::kRelease);
  EXPECT_EQ(events[4].buffer, 2u);  // b first: a was still mapped
  EXPECT_EQ(events[5].kind, EventKind::kRelease);
  EXPECT_EQ(events[5].buffer, 1u);
  EXPECT_EQ(events[6].kind, EventKind::kAlloc);
  EXPECT_EQ(events[6].error, ENOMEM);
  EXPECT_EQ(events[6].rounded, 8192u);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_GE(events[i].time_ns, events[i - 1].time_ns);
  ::unlink(path.c_str());
}

TEST(TraceLog, ReportedReleasesAndAppendingWriters) {
  const std::string path = tempPath();
  for (int run = 0; run < 2; ++run) {
    auto log = TraceLog::open(path, Releases::kReported);
    ASSERT_TRUE(log.ok());
    EXPECT_EQ((*log)->watchFd(), -1);
    (*log)->start("dmaheapd", "6.12", 4096, {});
    AllocRecord r;
    r.heap = "system";
    r.len = 4096;
    r.size = 4096;
    r.dev = 1;
    r.ino = 42;
    EXPECT_EQ((*log)->allocated(r), 1u);  // numbers start again at every start line
    (*log)->released(1, 43);              // not one of ours: nothing written
    (*log)->released(1, 42);
    (*log)->released(1, 42);              // only once
  }
  const auto events = readEvents(path);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[3].kind, EventKind::kStart);
  EXPECT_EQ(events[5].kind, EventKind::kRelease);
  EXPECT_EQ(events[5].buffer, 1u);
  EXPECT_EQ(events[5].inode, 42u);
  ::unlink(path.c_str());
}

TEST(TraceLog, OpenFailsWithTheErrno) {
  auto log = TraceLog::open("/nonexistent-dir/trace", Releases::kReported);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.code(), ENOENT);
}

}  // namespace
}  // namespace dmaheap::trace
