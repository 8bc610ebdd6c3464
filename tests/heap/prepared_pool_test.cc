// PreparedPool (heap/prepared_pool.h) and the memfd backing over it: the bounds, a prepared buffer
// identical to a fresh one, failures that fall back to the fresh path with its errno, every fd
// closed at shutdown, and the switch that turns it off. No timing: waitIdle() says when the
// background thread is done.
#include "heap/prepared_pool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <vector>

#include "heap/backing.h"
#include "heap/buffer.h"
#include "heap/uapi.h"

namespace dmaheap {
namespace {

namespace fs = std::filesystem;

int countEntries(const char* dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) (void)e, ++n;
  return n;
}
int openFds() { return countEntries("/proc/self/fd"); }
int threads() { return countEntries("/proc/self/task"); }

PreparedPoolOptions small() {
  PreparedPoolOptions o;
  o.max_count = 3;
  o.max_bytes = 12288;
  o.per_size = 8;
  o.sizes = {4096, 8192};
  return o;
}

// A pool's memfd backing, as selectBacking makes it with the memfd choice.
std::unique_ptr<Backing> memfdBacking(PreparedPoolOptions prepared) {
  BackingOptions o;
  o.choice = BackingChoice::kMemfd;
  o.prepared = std::move(prepared);
  auto b = selectBacking(o);
  EXPECT_TRUE(b.ok()) << b.error().message();
  return b.ok() ? std::move(b.value()) : nullptr;
}

// Warms the backing's pool: the first take starts its thread.
void warm(Backing& backing) {
  ASSERT_NE(backing.preparedPool(), nullptr);
  (void)backing.preparedPool()->take(4096);  // the first starts the thread
  backing.preparedPool()->waitIdle();
}

TEST(PreparedPool, StaysWithinItsCountAndByteBoundsAndNeverHandsAFileTwice) {
  PreparedPool pool(small());
  EXPECT_FALSE(pool.take(4096).has_value());  // nothing before the thread ran: a miss
  pool.waitIdle();
  // Fewest first: one of 4 KiB, then one of 8 KiB, and 4 KiB more would pass 12288 bytes.
  auto s = pool.stats();
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.bytes, 12288u);
  EXPECT_EQ(s.misses, 1u);
  std::set<uint64_t> seen;
  std::vector<UniqueFd> held;  // kept open, so an inode number cannot come back
  for (int i = 0; i < 40; ++i) {
    auto f = pool.take(i % 3 == 0 ? 8192 : 4096);
    if (f) {
      EXPECT_TRUE(seen.insert(f->ino).second) << "inode " << f->ino << " handed out twice";
      held.push_back(std::move(f->fd));
    }
    pool.waitIdle();
    s = pool.stats();
    EXPECT_LE(s.count, 3u);
    EXPECT_LE(s.bytes, 12288u);
  }
  EXPECT_EQ(s.hits, seen.size());
  EXPECT_EQ(s.hits + s.misses, 41u);
  EXPECT_EQ(s.failures, 0u);
}

TEST(PreparedPool, LearnsARepeatedSizeUpToItsLimits) {
  PreparedPoolOptions o;
  o.max_count = 8;
  o.max_bytes = 1 << 20;
  o.per_size = 2;
  o.max_sizes = 2;
  o.max_buffer_bytes = 64 << 10;
  PreparedPool pool(o);
  EXPECT_FALSE(pool.take(65536).has_value());  // missed once: not learnt yet
  pool.waitIdle();
  EXPECT_EQ(pool.stats().sizes, 1u);
  EXPECT_FALSE(pool.take(65536).has_value());  // twice: learnt
  pool.waitIdle();
  EXPECT_EQ(pool.stats().sizes, 2u);
  EXPECT_EQ(pool.stats().count, 4u);  // two of 4 KiB, two of 64 KiB
  EXPECT_EQ(pool.stats().bytes, 2u * 4096 + 2u * 65536);
  auto f = pool.take(65536);
  ASSERT_TRUE(f.has_value());
  struct stat st {};
  ASSERT_EQ(::fstat(f->fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 65536);
  // Past max_buffer_bytes a size is never learnt; a new size evicts the learnt one.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(pool.take(128 << 10).has_value());
  EXPECT_FALSE(pool.take(8192).has_value());
  EXPECT_FALSE(pool.take(8192).has_value());
  pool.waitIdle();
  EXPECT_EQ(pool.stats().sizes, 2u);
  EXPECT_EQ(pool.stats().bytes, 2u * 4096 + 2u * 8192);
}

TEST(PreparedPool, ShutdownClosesEveryPreparedFdAndStopsItsThread) {
  const int fds = openFds();
  const int tasks = threads();
  {
    PreparedPool pool(small());
    (void)pool.take(1);
    pool.waitIdle();
    EXPECT_EQ(openFds(), fds + 2);
    EXPECT_EQ(threads(), tasks + 1);
  }
  EXPECT_EQ(openFds(), fds);
  EXPECT_EQ(threads(), tasks);
}

TEST(PreparedPool, DisabledItPreparesNothingAndStartsNoThread) {
  const int fds = openFds();
  const int tasks = threads();
  PreparedPoolOptions o = small();
  o.enabled = false;
  PreparedPool pool(o);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(pool.take(4096).has_value());
  pool.waitIdle();
  EXPECT_EQ(openFds(), fds);
  EXPECT_EQ(threads(), tasks);
  EXPECT_EQ(pool.stats().count, 0u);
  // And selectBacking with it disabled gives a backing without a pool.
  auto backing = memfdBacking(o);
  ASSERT_NE(backing, nullptr);
  EXPECT_EQ(backing->preparedPool(), nullptr);
}

TEST(PreparedPool, AFailingPreparationIsCountedAndStopsUntilTheNextTake) {
  int calls = 0;
  PreparedPool pool(small(), [&](uint64_t) -> Result<UniqueFd> {
    ++calls;
    return makeError(EMFILE, "memfd_create: Too many open files");
  });
  EXPECT_FALSE(pool.take(4096).has_value());
  pool.waitIdle();
  auto s = pool.stats();
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.failures, 1u);  // one try, not a loop
  EXPECT_EQ(s.last_error, EMFILE);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(pool.take(4096).has_value());
  pool.waitIdle();
  EXPECT_EQ(pool.stats().failures, 2u);
}

TEST(PreparedPool, EnvironmentSwitch) {
  ::setenv("DMAHEAP_PREPARED", "off", 1);
  EXPECT_FALSE(PreparedPoolOptions::fromEnvironment()->enabled);
  ::setenv("DMAHEAP_PREPARED", "0", 1);
  EXPECT_FALSE(PreparedPoolOptions::fromEnvironment()->enabled);
  ::setenv("DMAHEAP_PREPARED", "5", 1);
  EXPECT_TRUE(PreparedPoolOptions::fromEnvironment()->enabled);
  EXPECT_EQ(PreparedPoolOptions::fromEnvironment()->max_count, 5u);
  ::setenv("DMAHEAP_PREPARED", "lots", 1);
  EXPECT_EQ(PreparedPoolOptions::fromEnvironment().code(), EINVAL);
  ::unsetenv("DMAHEAP_PREPARED");
  EXPECT_TRUE(PreparedPoolOptions::fromEnvironment()->enabled);
  EXPECT_EQ(PreparedPoolOptions::fromEnvironment()->max_count, 32u);
}

// What a holder can see of a buffer's file.
struct Seen {
  off_t size = 0;
  blkcnt_t blocks = 0;
  int seals = 0;
  int cloexec = 0;
  int accmode = 0;
  std::string link;
  bool zero = false;
};

Seen look(int fd) {
  Seen s;
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  s.size = st.st_size;
  s.blocks = st.st_blocks;
  s.seals = ::fcntl(fd, F_GET_SEALS);
  s.cloexec = ::fcntl(fd, F_GETFD) & FD_CLOEXEC;
  s.accmode = ::fcntl(fd, F_GETFL) & O_ACCMODE;
  s.link = fs::read_symlink("/proc/self/fd/" + std::to_string(fd)).string();
  std::vector<char> bytes(static_cast<size_t>(st.st_size), 1);
  // A write-only fd cannot be read: its contents are checked through /proc.
  UniqueFd readable(::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC));
  s.zero = ::pread(readable.get(), bytes.data(), bytes.size(), 0) == st.st_size &&
           std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
  return s;
}

void expectSame(const Seen& a, const Seen& b) {
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.blocks, b.blocks);
  EXPECT_EQ(a.seals, b.seals);
  EXPECT_EQ(a.cloexec, b.cloexec);
  EXPECT_EQ(a.accmode, b.accmode);
  EXPECT_EQ(a.link, b.link);
  EXPECT_TRUE(a.zero);
  EXPECT_TRUE(b.zero);
}

TEST(PreparedMemfdBacking, APreparedBufferIsWhatAFreshOneIsForEveryFdFlag) {
  auto pooled = memfdBacking(PreparedPoolOptions{});
  PreparedPoolOptions off;
  off.enabled = false;
  auto fresh = memfdBacking(off);
  ASSERT_NE(pooled, nullptr);
  ASSERT_NE(fresh, nullptr);
  for (uint32_t flags : {uint32_t{O_RDWR} | uapi::kOCloexec, uint32_t{O_RDWR}, uint32_t{O_RDONLY} | uapi::kOCloexec,
                         uint32_t{O_WRONLY}}) {
    SCOPED_TRACE(flags);
    warm(*pooled);
    const uint64_t hits = pooled->preparedPool()->stats().hits;
    auto a = pooled->create(4096, flags);
    auto b = fresh->create(4096, flags);
    ASSERT_TRUE(a.ok()) << a.error().message();
    ASSERT_TRUE(b.ok()) << b.error().message();
    EXPECT_EQ(pooled->preparedPool()->stats().hits, hits + 1);  // it was a prepared one
    expectSame(look(a->fd.get()), look(b->fd.get()));
    EXPECT_EQ(look(a->fd.get()).seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    EXPECT_EQ(look(a->fd.get()).link, "/memfd:dmabuf (deleted)");
    // The identity came with it, and is the file's.
    struct stat st {};
    ASSERT_EQ(::fstat(a->fd.get(), &st), 0);
    EXPECT_TRUE(a->identity.known());
    EXPECT_EQ(a->identity.ino, st.st_ino);
    EXPECT_EQ(a->identity.dev, st.st_dev);
    EXPECT_FALSE(b->identity.known());
  }
}

// Restores RLIMIT_NOFILE when the test ends.
class FdLimit {
 public:
  FdLimit() { ::getrlimit(RLIMIT_NOFILE, &saved_); }
  ~FdLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  // No fd left: the lowest free one is the limit.
  void exhaust() {
    const int next = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the lowest free fd
    ASSERT_GE(next, 0);
    ::close(next);
    struct rlimit r = saved_;
    r.rlim_cur = static_cast<rlim_t>(next);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &r), 0);
  }

 private:
  struct rlimit saved_ {};
};

TEST(PreparedMemfdBacking, AtRlimitNofileAnEmptyPoolFallsBackWithTheFreshErrno) {
  PreparedPoolOptions off;
  off.enabled = false;
  auto fresh = memfdBacking(off);
  // Nothing of 4 KiB prepared, a size learnt at its first miss; the thread is started (with an
  // 8 KiB size) before the limit, which thread creation under the sanitizers needs fds for.
  PreparedPoolOptions o;
  o.sizes = {};
  o.learn_after = 1;
  auto pooled = memfdBacking(o);
  ASSERT_NE(fresh, nullptr);
  ASSERT_NE(pooled, nullptr);
  (void)pooled->preparedPool()->take(8192);
  pooled->preparedPool()->waitIdle();
  const size_t ready = pooled->preparedPool()->stats().count;
  int today = 0;
  int now = 0;
  uint64_t failures = 0;
  {
    FdLimit limit;
    limit.exhaust();
    today = fresh->create(4096, O_RDWR | uapi::kOCloexec).code();
    now = pooled->create(4096, O_RDWR | uapi::kOCloexec).code();  // the first take: nothing prepared yet
    pooled->preparedPool()->waitIdle();
    failures = pooled->preparedPool()->stats().failures;
  }
  EXPECT_EQ(today, EMFILE);
  EXPECT_EQ(now, EMFILE);
  EXPECT_EQ(failures, 1u);  // the background thread hit the same limit
  EXPECT_EQ(pooled->preparedPool()->stats().last_error, EMFILE);
  EXPECT_EQ(pooled->preparedPool()->stats().count, ready);  // the 8 KiB ones, none of 4 KiB
  EXPECT_EQ(ready, 8u);
}

TEST(PreparedMemfdBacking, AFailingMakerLeavesTheFreshPathToMakeTheBuffer) {
  // A pool whose every preparation fails: each create is a miss, made fresh and correct.
  auto backing = memfdBacking(PreparedPoolOptions{});
  ASSERT_NE(backing, nullptr);
  backing->setPreparedPool(std::make_shared<PreparedPool>(
      PreparedPoolOptions{}, [](uint64_t) -> Result<UniqueFd> { return makeError(ENOMEM, "memfd_create: no memory"); }));
  for (int i = 0; i < 3; ++i) {
    auto b = backing->create(4096, O_RDWR | uapi::kOCloexec);
    ASSERT_TRUE(b.ok()) << b.error().message();
    EXPECT_FALSE(b->identity.known());
    EXPECT_EQ(look(b->fd.get()).size, 4096);
    backing->preparedPool()->waitIdle();
  }
  EXPECT_EQ(backing->preparedPool()->stats().hits, 0u);
  EXPECT_EQ(backing->preparedPool()->stats().misses, 3u);
  EXPECT_EQ(backing->preparedPool()->stats().last_error, ENOMEM);
}

}  // namespace
}  // namespace dmaheap
