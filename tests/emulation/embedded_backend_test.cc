// EmbeddedBackend: allocation through the heap core, lifetime by last holder, exhaustion.
#include "emulation/embedded_backend.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <vector>

#include "tests/emulation/backend_fixture.h"

namespace dmaheap::emul {
namespace {

using testing::defaultBackend;
using testing::request;

TEST(EmbeddedBackend, ListsTheBoardHeapsSortedWithTypes) {
  auto b = defaultBackend("6.18");
  auto heaps = b->heaps();
  ASSERT_TRUE(heaps.ok());
  ASSERT_EQ(heaps->size(), 3u);
  EXPECT_EQ((*heaps)[0].name, "default_cma_region");
  EXPECT_EQ((*heaps)[0].descriptor.kind, "cma");
  EXPECT_TRUE((*heaps)[0].descriptor.contiguous);
  EXPECT_EQ((*heaps)[2].name, "system");
  EXPECT_FALSE((*heaps)[2].descriptor.contiguous);
}

TEST(EmbeddedBackend, AllocatesPageAlignedWithTheRequestedFdFlags) {
  auto b = defaultBackend();
  auto buf = b->allocate("system", request(4097, O_RDWR));
  ASSERT_TRUE(buf.ok()) << buf.error().message();
  EXPECT_EQ(buf->size, 8192u);
  struct stat st {};
  ASSERT_EQ(::fstat(buf->fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 8192);
  EXPECT_EQ(::fcntl(buf->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_TRUE(b->owns(buf->key));
  EXPECT_EQ(b->liveBuffers(), 1u);
  buf->fd.reset();
  EXPECT_FALSE(b->owns(buf->key));
  EXPECT_EQ(b->liveBuffers(), 0u);
}

TEST(EmbeddedBackend, ValidatesInTheKernelsOrder) {
  auto b = defaultBackend();
  uapi::AllocationData r{0, 1, ~0u, 1};
  EXPECT_EQ(b->allocate("system", r).code(), EINVAL);
  EXPECT_EQ(b->allocate("nosuch", request(4096)).code(), ENOENT);
  EXPECT_EQ(b->allocate("system", request(0)).code(), EINVAL);
}

TEST(EmbeddedBackend, FullHeapGivesEnomemAndRecoversWhenBuffersAreClosed) {
  auto b = defaultBackend();
  std::vector<UniqueFd> held;
  int err = 0;
  for (int i = 0; i < 100; ++i) {
    auto buf = b->allocate("reserved", request(4 << 20));
    if (!buf) {
      err = buf.code();
      break;
    }
    held.push_back(std::move(buf->fd));
  }
  EXPECT_EQ(err, ENOMEM);
  EXPECT_EQ(held.size(), 16u) << "64 MiB of CMA in 4 MiB buffers";
  held.pop_back();
  EXPECT_TRUE(b->allocate("reserved", request(4 << 20)).ok());
}

TEST(EmbeddedBackend, BufferOpsReachTheBuffer) {
  auto b = defaultBackend();
  auto buf = b->allocate("system", request(4096));
  ASSERT_TRUE(buf.ok());
  EXPECT_TRUE(b->setName(buf->key, -1, "preview").ok());
  EXPECT_EQ(b->bufferName(buf->key).value(), "preview");
  EXPECT_EQ(b->setName(buf->key, -1, std::string(32, 'x')).code(), EINVAL);
  EXPECT_EQ(b->sync(buf->key, -1, uapi::kSyncStart).code(), EINVAL);
  EXPECT_TRUE(b->sync(buf->key, -1, uapi::kSyncEnd | uapi::kSyncRw).ok());
  EXPECT_TRUE(b->exportSyncFile(buf->key, -1, 1).ok());
  EXPECT_EQ(b->sync(FileKey{1, 2}, -1, uapi::kSyncRw).code(), ENOTTY);
}

}  // namespace
}  // namespace dmaheap::emul

namespace dmaheap::emul {
namespace {

// An embedded backend over a memfd backing with buffers prepared ahead (heap/prepared_pool.h).
std::unique_ptr<EmbeddedBackend> preparedBackend() {
  auto board = loadBoard(BoardOptions{});
  EXPECT_TRUE(board.ok());
  BackingOptions o;
  o.choice = BackingChoice::kMemfd;
  auto backing = selectBacking(o);
  EXPECT_TRUE(backing.ok());
  board.value()->registry->setBacking(std::shared_ptr<Backing>(std::move(backing.value())));
  auto b = EmbeddedBackend::create(std::move(board.value()));
  EXPECT_TRUE(b.ok());
  return std::move(b.value());
}

TEST(EmbeddedBackendPrepared, APreparedBufferWatchedAheadIsReleasedWithItsLastHolder) {
  auto b = preparedBackend();
  PreparedPool* pool = b->board().registry->backing()->preparedPool();
  ASSERT_NE(pool, nullptr);
  const uint64_t free_before = b->board().registry->find("system")->heap->usage().free;
  {
    auto first = b->allocate("system", request(4096));  // a miss: starts the thread
    ASSERT_TRUE(first.ok());
  }
  pool->waitIdle();
  EXPECT_EQ(b->liveBuffers(), 0u);
  std::vector<AllocatedBuffer> held;
  for (int i = 0; i < 3; ++i) {
    auto buf = b->allocate("system", request(4096));
    ASSERT_TRUE(buf.ok()) << buf.error().message();
    EXPECT_TRUE(b->owns(buf->key));
    held.push_back(std::move(buf.value()));
  }
  EXPECT_EQ(pool->stats().hits, 3u);
  EXPECT_EQ(b->liveBuffers(), 3u);
  held.pop_back();
  EXPECT_EQ(b->liveBuffers(), 2u);  // the watch added ahead saw the last close
  held.clear();
  EXPECT_EQ(b->liveBuffers(), 0u);
  EXPECT_EQ(b->board().registry->find("system")->heap->usage().free, free_before);
  // Prepared files never handed out are not buffers of the backend.
  pool->waitIdle();
  EXPECT_EQ(b->liveBuffers(), 0u);
}

}  // namespace
}  // namespace dmaheap::emul
