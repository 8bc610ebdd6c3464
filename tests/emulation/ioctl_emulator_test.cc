// The ioctl rules on top of the backend, for a caller that is this very process: struct sizes,
// EFAULT, copy-back, strndup_user, sync_file installation order.
#include "emulation/ioctl_emulator.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "tests/emulation/backend_fixture.h"

namespace dmaheap::emul {
namespace {

using testing::defaultBackend;

uint64_t ptr(const void* p) { return reinterpret_cast<uint64_t>(p); }

int openFds() {
  int n = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) ++n;
  return n;
}

// Two pages: the first read-write, the second inaccessible.
struct GuardedPages {
  GuardedPages() {
    base = static_cast<char*>(::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    ::mprotect(base + 4096, 4096, PROT_NONE);
  }
  ~GuardedPages() { ::munmap(base, 8192); }
  char* base;
};

class IoctlEmulatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<EmbeddedBackend> backend_ = defaultBackend();
  SelfCaller self_;
  Status heapIoctl(uint32_t cmd, void* arg) { return emulateHeapIoctl(*backend_, "system", {cmd, ptr(arg)}, self_); }
};

TEST_F(IoctlEmulatorTest, AllocWritesTheFdBack) {
  uapi::AllocationData d{4096, 0, O_RDWR | O_CLOEXEC, 0};
  ASSERT_TRUE(heapIoctl(uapi::kHeapIoctlAlloc, &d).ok());
  EXPECT_GT(static_cast<int>(d.fd), 2);
  EXPECT_NE(::fcntl(static_cast<int>(d.fd), F_GETFD) & FD_CLOEXEC, 0);
  ::close(static_cast<int>(d.fd));
}

TEST_F(IoctlEmulatorTest, SmallerStructIsZeroFilledAndLargerIsKept) {
  struct {
    uint64_t len;
    uint32_t fd, fd_flags;
  } small{4096, 0, O_RDWR};
  ASSERT_TRUE(heapIoctl(uapi::ioc(3, 'H', 0, sizeof small), &small).ok());
  ::close(static_cast<int>(small.fd));
  struct {
    uapi::AllocationData d;
    uint64_t extra[3];
  } big{{4096, 0, O_RDWR, 0}, {1, 2, 3}};
  ASSERT_TRUE(heapIoctl(uapi::ioc(3, 'H', 0, sizeof big), &big).ok());
  EXPECT_EQ(big.extra[2], 3u);
  ::close(static_cast<int>(big.d.fd));
}

TEST_F(IoctlEmulatorTest, CommandAndPointerErrors) {
  uapi::AllocationData d{4096, 0, O_RDWR, 0};
  EXPECT_EQ(heapIoctl(uapi::ioc(3, 'H', 1, 24), &d).code(), EINVAL);
  EXPECT_EQ(heapIoctl(uapi::ioc(3, 'Z', 0x80, 24), &d).code(), EINVAL) << "nr 128: the type is not checked";
  EXPECT_EQ(heapIoctl(uapi::ioc(0, 'H', 0, 0), nullptr).code(), EINVAL) << "_IO: length 0";
  EXPECT_EQ(heapIoctl(uapi::kHeapIoctlAlloc, nullptr).code(), EFAULT);
}

TEST_F(IoctlEmulatorTest, WriteOnlyCommandAllocatesButCopiesNothingBack) {
  uapi::AllocationData d{4096, 0, O_RDWR, 0};
  ASSERT_TRUE(heapIoctl(uapi::ioc(uapi::kIocWrite, 'H', 0, 24), &d).ok());
  EXPECT_EQ(d.fd, 0u) << "the fd is unknowable to the caller, as with the kernel";
}

TEST_F(IoctlEmulatorTest, FailedCopyBackLeavesTheFdInstalledAsTheKernelDoes) {
  GuardedPages pages;
  auto* d = reinterpret_cast<uapi::AllocationData*>(pages.base);
  *d = {4096, 0, O_RDWR | O_CLOEXEC, 0};
  ::mprotect(pages.base, 4096, PROT_READ);
  const int before = openFds();
  EXPECT_EQ(heapIoctl(uapi::kHeapIoctlAlloc, d).code(), EFAULT);
  EXPECT_EQ(openFds(), before + 1);
  EXPECT_EQ(backend_->liveBuffers(), 1u);
}

TEST_F(IoctlEmulatorTest, SetNameReadsLikeStrndupUser) {
  auto buf = backend_->allocate("system", testing::request(4096));
  ASSERT_TRUE(buf.ok());
  GuardedPages pages;
  auto name = [&](uint64_t p) { return emulateBufferIoctl(*backend_, buf->key, -1, {uapi::kBufSetNameB, p}, self_); };
  std::memcpy(pages.base + 4096 - 4, "cam", 4);
  EXPECT_TRUE(name(ptr(pages.base + 4096 - 4)).ok());
  EXPECT_EQ(backend_->bufferName(buf->key).value(), "cam");
  std::memcpy(pages.base + 4096 - 3, "abc", 3);  // no NUL before the unreadable page
  EXPECT_EQ(name(ptr(pages.base + 4096 - 3)).code(), EFAULT);
  const std::string long_name(32, 'n');
  EXPECT_EQ(name(ptr(long_name.c_str())).code(), EINVAL);
  EXPECT_TRUE(emulateBufferIoctl(*backend_, buf->key, -1, {uapi::kBufSetNameA, ptr("x")}, self_).ok());
  EXPECT_EQ(emulateBufferIoctl(*backend_, buf->key, -1, {0x40086209u, 0}, self_).code(), ENOTTY);
}

TEST_F(IoctlEmulatorTest, ExportSyncFileInstallsNothingWhenTheResultCannotBeWritten) {
  auto buf = backend_->allocate("system", testing::request(4096));
  ASSERT_TRUE(buf.ok());
  GuardedPages pages;
  auto* arg = reinterpret_cast<uapi::ExportSyncFile*>(pages.base);
  *arg = {uapi::kSyncRead, -1};
  ASSERT_TRUE(emulateBufferIoctl(*backend_, buf->key, -1, {uapi::kBufExportSyncFile, ptr(arg)}, self_).ok());
  EXPECT_GE(arg->fd, 0);
  uapi::ExportSyncFile im{uapi::kSyncWrite, arg->fd};
  EXPECT_TRUE(emulateBufferIoctl(*backend_, buf->key, -1, {uapi::kBufImportSyncFile, ptr(&im)}, self_).ok());
  ::close(arg->fd);
  ::mprotect(pages.base, 4096, PROT_READ);
  const int before = openFds();
  EXPECT_EQ(emulateBufferIoctl(*backend_, buf->key, -1, {uapi::kBufExportSyncFile, ptr(arg)}, self_).code(), EFAULT);
  EXPECT_EQ(openFds(), before);
}

TEST(IoctlEmulatorOldKernel, SyncFileIoctlsDoNotExistBefore60) {
  auto backend = defaultBackend("5.15");
  auto buf = backend->allocate("system", testing::request(4096));
  ASSERT_TRUE(buf.ok());
  SelfCaller self;
  uapi::ExportSyncFile arg{uapi::kSyncRead, -1};
  EXPECT_EQ(emulateBufferIoctl(*backend, buf->key, -1, {uapi::kBufExportSyncFile, ptr(&arg)}, self).code(), ENOTTY);
}

}  // namespace
}  // namespace dmaheap::emul
