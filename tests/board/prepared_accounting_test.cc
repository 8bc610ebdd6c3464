// Buffers from prepared memfds (heap/prepared_pool.h) against fresh ones on two copies of the
// default board: the same placement, heap accounting, size, name, identity and errno. The pool
// only makes files; the heap decides first (docs/emulation.md "Buffers are sealed memfds").
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "board/board_loader.h"
#include "heap/backing.h"
#include "heap/uapi.h"

namespace dmaheap {
namespace {

struct Side {
  std::unique_ptr<Board> board;
  std::shared_ptr<Backing> backing;
};

Side makeSide(bool prepared) {
  Side s;
  auto b = loadBoard(BoardOptions{});
  EXPECT_TRUE(b.ok());
  s.board = std::move(b.value());
  BackingOptions o;
  o.choice = BackingChoice::kMemfd;
  o.prepared.enabled = prepared;
  auto backing = selectBacking(o);
  EXPECT_TRUE(backing.ok());
  s.backing = std::shared_ptr<Backing>(std::move(backing.value()));
  s.board->registry->setBacking(s.backing);
  return s;
}

TEST(PreparedAccounting, SamePlacementUsageNameIdentityAndErrnoAsFreshBuffers) {
  Side pooled = makeSide(true);
  Side fresh = makeSide(false);
  ASSERT_NE(pooled.backing->preparedPool(), nullptr);
  ASSERT_EQ(fresh.backing->preparedPool(), nullptr);
  const uapi::AllocationData page{4096, 0, O_RDWR | uapi::kOCloexec, 0};
  std::vector<std::unique_ptr<Buffer>> held;
  for (const char* heap : {"system", "reserved", "system", "reserved"}) {
    SCOPED_TRACE(heap);
    const HeapEntry* a = pooled.board->registry->find(heap);
    const HeapEntry* b = fresh.board->registry->find(heap);
    auto x = pooled.board->registry->allocate(*a, page);
    auto y = fresh.board->registry->allocate(*b, page);
    ASSERT_TRUE(x.ok()) << x.error().message();
    ASSERT_TRUE(y.ok()) << y.error().message();
    pooled.backing->preparedPool()->waitIdle();
    EXPECT_EQ((*x)->segments(), (*y)->segments());
    EXPECT_EQ((*x)->size(), 4096u);
    EXPECT_EQ((*x)->size(), (*y)->size());
    EXPECT_EQ((*x)->heapName(), (*y)->heapName());
    EXPECT_EQ((*x)->name(), (*y)->name());
    EXPECT_EQ(a->heap->usage().free, b->heap->usage().free);
    EXPECT_EQ(a->heap->usage().largest_free_block, b->heap->usage().largest_free_block);
    for (const auto* buf : {x->get(), y->get()}) {
      struct stat st {};
      ASSERT_EQ(::fstat(buf->fd(), &st), 0);
      EXPECT_EQ(buf->inode(), st.st_ino);
      EXPECT_EQ(buf->device(), static_cast<uint64_t>(st.st_dev));
    }
    held.push_back(std::move(x.value()));
    held.push_back(std::move(y.value()));
  }
  EXPECT_GE(pooled.backing->preparedPool()->stats().hits, 1u);
  // The heap refuses before any file is made: ENOMEM on both, nothing taken from the pool.
  const uint64_t takes = pooled.backing->preparedPool()->stats().hits + pooled.backing->preparedPool()->stats().misses;
  const uapi::AllocationData too_big{64 << 20, 0, O_RDWR | uapi::kOCloexec, 0};
  EXPECT_EQ(pooled.board->registry->allocate(*pooled.board->registry->find("reserved"), too_big).code(), ENOMEM);
  EXPECT_EQ(fresh.board->registry->allocate(*fresh.board->registry->find("reserved"), too_big).code(), ENOMEM);
  EXPECT_EQ(pooled.backing->preparedPool()->stats().hits + pooled.backing->preparedPool()->stats().misses, takes);
  // Freed buffers give the same memory back.
  held.clear();
  EXPECT_EQ(pooled.board->registry->find("reserved")->heap->usage().free,
            fresh.board->registry->find("reserved")->heap->usage().free);
  EXPECT_EQ(pooled.board->registry->find("system")->heap->usage().free,
            fresh.board->registry->find("system")->heap->usage().free);
}

}  // namespace
}  // namespace dmaheap
