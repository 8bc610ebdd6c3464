#include "heap/buffer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "fake_heap.h"
#include "heap/uapi.h"

namespace dmaheap {
namespace {

std::unique_ptr<Buffer> makeBuffer(uint64_t size, Kernel kernel = {}, uint32_t fd_flags = O_RDWR | O_CLOEXEC,
                                   int map_error_errno = EIO) {
  testing::FakeHeap heap;
  auto mem = heap.allocate(size);
  Buffer::Options o;
  o.heap_name = "fake";
  o.fd_flags = fd_flags;
  o.map_error_errno = map_error_errno;
  return std::move(Buffer::create(std::move(mem.value()), size, kernel, o).value());
}

TEST(Buffer, MemoryIsZeroedSharedAndSealed) {
  auto b = makeBuffer(1 << 20);
  auto* p = static_cast<uint8_t*>(mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd(), 0));
  ASSERT_NE(p, MAP_FAILED);
  for (size_t i = 0; i < (1 << 20); i += 4096) ASSERT_EQ(p[i], 0);
  // Nobody can shrink or grow it, so no other holder's mapping can fault.
  EXPECT_EQ(ftruncate(b->fd(), 4096), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(ftruncate(b->fd(), 2 << 20), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(fcntl(b->fd(), F_ADD_SEALS, F_SEAL_WRITE), -1);
  // Another process writes through its own mapping; we see it.
  pid_t pid = fork();
  if (pid == 0) {
    auto* q = static_cast<uint8_t*>(mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd(), 0));
    if (q == MAP_FAILED) _exit(1);
    std::memset(q + 4096, 0x5a, 4096);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(p[4096], 0x5a);
  EXPECT_EQ(p[8191], 0x5a);
  munmap(p, 1 << 20);
}

TEST(Buffer, ReadOnlyFdRefusesSharedWritableMapping) {
  auto b = makeBuffer(4096, Kernel{}, O_RDONLY);
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd(), 0);
  EXPECT_EQ(p, MAP_FAILED);
  EXPECT_EQ(errno, EACCES);
  void* r = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, b->fd(), 0);
  EXPECT_NE(r, MAP_FAILED);
  munmap(r, 4096);
}

TEST(Buffer, SyncFlags) {
  auto b = makeBuffer(4096);
  EXPECT_TRUE(b->sync(uapi::kSyncStart | uapi::kSyncRw));
  EXPECT_TRUE(b->sync(uapi::kSyncEnd | uapi::kSyncRead));
  EXPECT_TRUE(b->sync(uapi::kSyncRw));  // START is 0
  EXPECT_EQ(b->sync(0).code(), EINVAL);
  EXPECT_EQ(b->sync(uapi::kSyncEnd).code(), EINVAL);
  EXPECT_EQ(b->sync(8 | uapi::kSyncRw).code(), EINVAL);
  EXPECT_EQ(b->sync(1ull << 63 | uapi::kSyncRead).code(), EINVAL);
  // No pairing is enforced: END twice is fine.
  EXPECT_TRUE(b->sync(uapi::kSyncEnd | uapi::kSyncWrite));
  EXPECT_TRUE(b->sync(uapi::kSyncEnd | uapi::kSyncWrite));
  EXPECT_EQ(b->syncCount(), 5u);
}

TEST(Buffer, SetName) {
  auto b = makeBuffer(4096);
  EXPECT_TRUE(b->setName(std::string(31, 'a')));
  EXPECT_EQ(b->name(), std::string(31, 'a'));
  EXPECT_EQ(b->setName(std::string(32, 'b')).code(), EINVAL);
  EXPECT_EQ(b->name(), std::string(31, 'a'));
  EXPECT_TRUE(b->setName(""));
  // Attached devices block renaming up to 5.15 only.
  Kernel old;
  old.version = KernelVersion::of(5, 15);
  auto o = makeBuffer(4096, old);
  o->attach({});
  EXPECT_EQ(o->setName("x").code(), EBUSY);
  b->attach({});
  EXPECT_TRUE(b->setName("x"));
}

TEST(Buffer, ExportSyncFile) {
  auto b = makeBuffer(4096);
  EXPECT_EQ(b->exportSyncFile(0).code(), EINVAL);
  EXPECT_EQ(b->exportSyncFile(4).code(), EINVAL);
  EXPECT_EQ(b->exportSyncFile(7).code(), EINVAL);
  auto f = b->exportSyncFile(uapi::kSyncRead);
  ASSERT_TRUE(f.ok());
  pollfd p{f->get(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 1);  // already signalled
  EXPECT_EQ(fcntl(f->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  Kernel k5;
  k5.version = KernelVersion::of(5, 19);
  EXPECT_EQ(makeBuffer(4096, k5)->exportSyncFile(1).code(), ENOTTY);
}

TEST(Buffer, DeviceAttachments) {
  auto b = makeBuffer(8192, Kernel{}, O_RDWR, ENOMEM);  // the CMA heap's map errno  // one segment at 0x80000000
  DeviceConstraints low{"dma24", false, 0xFFFFFF};
  const int a = b->attach(low);
  EXPECT_EQ(b->map(a).code(), ENOMEM);
  const int c = b->attach({"display", true, 0xFFFFFFFF});
  auto m = b->map(c);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0], (Segment{0x80000000, 8192}));
  EXPECT_TRUE(b->unmap(c));
  EXPECT_EQ(b->unmap(c).code(), EINVAL);
  EXPECT_TRUE(b->detach(c));
  EXPECT_EQ(b->detach(c).code(), EINVAL);
  EXPECT_EQ(b->map(999).code(), EINVAL);
  EXPECT_EQ(b->attachmentCount(), 1u);
}

TEST(Buffer, FreeingGivesMemoryBack) {
  testing::FakeHeap heap;
  {
    auto mem = heap.allocate(4096);
    Buffer::Options o;
    auto b = Buffer::create(std::move(mem.value()), 4096, Kernel{}, o);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(heap.state().live, 1);
  }
  EXPECT_EQ(heap.state().live, 0);
}

}  // namespace
}  // namespace dmaheap
