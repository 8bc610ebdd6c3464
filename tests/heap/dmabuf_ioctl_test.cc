// The front door: every ioctl, every errno path in the kernel's order, each version gate on both
// sides of its release.
#include "heap/dmabuf_ioctl.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace dmaheap::dmabuf {
namespace {

Kernel kernelOf(int major, int minor) {
  Kernel k;
  k.version = KernelVersion::of(major, minor);
  return k;
}

template <typename T>
std::vector<uint8_t> bytesOf(const T& v) {
  std::vector<uint8_t> out(sizeof v);
  std::memcpy(out.data(), &v, sizeof v);
  return out;
}

std::vector<uint8_t> charsOf(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// ---- ALLOC ----

TEST(FrontDoorAlloc, PlanFollowsTheCommandWord) {
  auto p = planHeapIoctl(uapi::kHeapIoctlAlloc).value();
  EXPECT_EQ(p.in_size, 24u);
  EXPECT_EQ(p.out_size, 24u);
  EXPECT_EQ(p.ksize, 24u);
  auto w = planHeapIoctl(uapi::ioc(uapi::kIocWrite, 'H', 0, 16)).value();  // _IOW: nothing back
  EXPECT_EQ(w.in_size, 16u);
  EXPECT_EQ(w.out_size, 0u);
  EXPECT_EQ(w.ksize, 24u);
  auto none = planHeapIoctl(uapi::ioc(0, 'X', 0, 300)).value();  // _IO, any magic: nothing either way
  EXPECT_EQ(none.in_size, 0u);
  EXPECT_EQ(none.out_size, 0u);
  auto big = planHeapIoctl(uapi::ioc(3, 'H', 0, 200)).value();
  EXPECT_EQ(big.ksize, 200u);
  auto nr1 = planHeapIoctl(0xC0184801u);
  EXPECT_EQ(nr1.code(), EINVAL);  // not ENOTTY
  EXPECT_EQ(nr1.error().message(), "ioctl nr 1 does not exist (only ALLOC, nr 0)");
}

TEST(FrontDoorAlloc, KernelBufferZeroFillsAndFdIsStored) {
  const auto plan = planHeapIoctl(uapi::ioc(3, 'H', 0, 16)).value();
  struct Old {
    uint64_t len;
    uint32_t fd, fd_flags;
  } old{4096, 0, O_RDWR};
  auto k = heapIoctlKernelBuffer(plan, bytesOf(old));
  ASSERT_EQ(k.size(), 24u);
  const auto d = allocationDataOf(k);
  EXPECT_EQ(d.len, 4096u);
  EXPECT_EQ(d.fd_flags, static_cast<uint32_t>(O_RDWR));
  EXPECT_EQ(d.heap_flags, 0u);  // beyond the caller's 16 bytes: zero
  storeAllocatedFd(k, 7);
  EXPECT_EQ(allocationDataOf(k).fd, 7u);
  EXPECT_EQ(allocationDataOf(k).len, 4096u);
}

TEST(FrontDoorAlloc, ValidationOrderAndErrno) {
  const Kernel k;
  struct Case {
    uapi::AllocationData d;
    const char* message;
  };
  // Each row fails on every later check too: the earliest check wins.
  const Case cases[] = {
      {{0, 1, 0xFFFF, 1}, "the fd field must be 0 on input"},
      {{0, 0, 0xFFFF, 1}, "fd_flags may only hold O_CLOEXEC and the access mode"},
      {{0, 0, O_RDWR | O_NONBLOCK, 0}, "fd_flags may only hold O_CLOEXEC and the access mode"},
      {{0, 0, 0, 1}, "no heap flags are defined"},
      {{0, 0, 0, 1ull << 63}, "no heap flags are defined"},
      {{0, 0, 0, 0}, "length 0"},
      {{~0ull, 0, 0, 0}, "length wraps to 0 when page aligned"},
      {{~0ull - 4094, 0, 0, 0}, "length wraps to 0 when page aligned"},
  };
  for (const auto& c : cases) {
    auto r = validateAlloc(c.d, k);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.code(), EINVAL) << c.message;
    EXPECT_EQ(r.error().message(), c.message);
  }
}

TEST(FrontDoorAlloc, LengthIsPageAlignedWithTheKernelsPageSize) {
  Kernel k;
  auto r = validateAlloc({1, 0, O_RDWR | O_CLOEXEC, 0}, k).value();
  EXPECT_EQ(r.len, 4096u);
  EXPECT_EQ(r.fd_flags, static_cast<uint32_t>(O_RDWR | O_CLOEXEC));
  EXPECT_EQ(validateAlloc({~0ull - 8192, 0, 3, 0}, k).value().len, ~0ull - 8191);  // huge but valid
  k.config.page_shift = 16;
  EXPECT_EQ(validateAlloc({1, 0, 0, 0}, k).value().len, 65536u);
  EXPECT_EQ(validateAlloc({~0ull - 8191, 0, 0, 0}, k).code(), EINVAL);  // wraps with 64 KiB pages
}

// ---- dma-buf ioctls: dispatch and version gates ----

TEST(FrontDoorBuffer, KnownNumbersAndHowTheirArgumentIsFetched) {
  const Kernel k;
  auto sync = planBufferIoctl(uapi::kBufIoctlSync, k).value();
  EXPECT_EQ(sync.ioctl, BufferIoctl::kSync);
  EXPECT_EQ(sync.fetch, ArgFetch::kStruct);
  EXPECT_EQ(sync.arg_size, 8u);
  for (uint32_t cmd : {uapi::kBufSetNameA, uapi::kBufSetNameB}) {
    auto name = planBufferIoctl(cmd, k).value();
    EXPECT_EQ(name.ioctl, BufferIoctl::kSetName);
    EXPECT_EQ(name.fetch, ArgFetch::kString);
    EXPECT_EQ(name.arg_size, 32u);
  }
  auto ex = planBufferIoctl(uapi::kBufExportSyncFile, k).value();
  EXPECT_EQ(ex.ioctl, BufferIoctl::kExportSyncFile);
  EXPECT_EQ(ex.arg_size, 8u);
  auto im = planBufferIoctl(uapi::kBufImportSyncFile, k).value();
  EXPECT_EQ(im.ioctl, BufferIoctl::kImportSyncFile);
  EXPECT_EQ(im.arg_size, 8u);
  for (uint32_t cmd : {0x40086209u, 0xC0184800u, 0x40086204u, 0u}) {
    EXPECT_FALSE(isBufferIoctlNumber(cmd));
    auto r = planBufferIoctl(cmd, k);
    EXPECT_EQ(r.code(), ENOTTY);
    EXPECT_EQ(r.error().message(), "not a dma-buf ioctl");
  }
  EXPECT_TRUE(isBufferIoctlNumber(uapi::kBufExportSyncFile));
}

TEST(FrontDoorBuffer, SyncFileIoctlsExistFrom60) {
  const Kernel old = kernelOf(5, 19);
  const Kernel now = kernelOf(6, 0);
  EXPECT_FALSE(old.hasSyncFileIoctls());
  EXPECT_TRUE(now.hasSyncFileIoctls());
  auto ex = planBufferIoctl(uapi::kBufExportSyncFile, old);
  EXPECT_EQ(ex.code(), ENOTTY);
  EXPECT_EQ(ex.error().message(), "EXPORT_SYNC_FILE exists from 6.0");
  auto im = planBufferIoctl(uapi::kBufImportSyncFile, old);
  EXPECT_EQ(im.code(), ENOTTY);
  EXPECT_EQ(im.error().message(), "IMPORT_SYNC_FILE exists from 6.0");
  EXPECT_TRUE(planBufferIoctl(uapi::kBufExportSyncFile, now).ok());
  EXPECT_TRUE(planBufferIoctl(uapi::kBufImportSyncFile, now).ok());
  // The gate comes before the flags, on both validators.
  EXPECT_EQ(validateExportSyncFile(0, old).code(), ENOTTY);
  EXPECT_EQ(validateImportSyncFile(0, -1, old).code(), ENOTTY);
  EXPECT_EQ(validateExportSyncFile(0, now).code(), EINVAL);
  EXPECT_EQ(validateImportSyncFile(0, -1, now).code(), EINVAL);
  // SYNC and SET_NAME are older than every release we model.
  EXPECT_TRUE(planBufferIoctl(uapi::kBufIoctlSync, kernelOf(5, 3)).ok());
  EXPECT_TRUE(planBufferIoctl(uapi::kBufSetNameB, kernelOf(5, 3)).ok());
}

TEST(FrontDoorBuffer, SetNameBusyWhenAttachedUpTo515) {
  const Kernel old = kernelOf(5, 15);
  const Kernel now = kernelOf(5, 16);
  EXPECT_TRUE(old.setNameBusyWhenAttached());
  EXPECT_FALSE(now.setNameBusyWhenAttached());
  auto busy = checkSetNameAttachments(old, 1);
  EXPECT_EQ(busy.code(), EBUSY);
  EXPECT_EQ(busy.error().message(), "kernels up to 5.15 refuse to rename a buffer with attached devices");
  EXPECT_TRUE(checkSetNameAttachments(old, 0).ok());
  EXPECT_TRUE(checkSetNameAttachments(now, 3).ok());
}

// ---- dma-buf ioctls: validation ----

TEST(FrontDoorBuffer, SyncFlags) {
  for (uint64_t ok : {uapi::kSyncRead, uapi::kSyncWrite, uapi::kSyncRw, uapi::kSyncEnd | uapi::kSyncRead,
                      uapi::kSyncEnd | uapi::kSyncRw}) {
    auto r = validateSync(ok);
    ASSERT_TRUE(r.ok()) << ok;
    EXPECT_EQ(r->flags, ok);
    EXPECT_EQ(r->end(), (ok & uapi::kSyncEnd) != 0);
  }
  // Unknown bits are checked before the direction: 8 alone fails on the bits.
  auto bits = validateSync(8);
  EXPECT_EQ(bits.code(), EINVAL);
  EXPECT_EQ(bits.error().message(), "unknown DMA_BUF_SYNC flag bits");
  EXPECT_EQ(validateSync(1ull << 63 | uapi::kSyncRead).error().message(), "unknown DMA_BUF_SYNC flag bits");
  for (uint64_t no_direction : {uapi::kSyncStart, uapi::kSyncEnd}) {
    auto r = validateSync(no_direction);
    EXPECT_EQ(r.code(), EINVAL);
    EXPECT_EQ(r.error().message(), "DMA_BUF_SYNC needs READ, WRITE or both");
  }
}

TEST(FrontDoorBuffer, SetNameLength) {
  EXPECT_EQ(validateSetName("").value().name, "");
  EXPECT_EQ(validateSetName(std::string(31, 'a')).value().name, std::string(31, 'a'));
  auto r = validateSetName(std::string(32, 'b'));
  EXPECT_EQ(r.code(), EINVAL);
  EXPECT_EQ(r.error().message(), "name of 32 characters is longer than 31");
}

TEST(FrontDoorBuffer, SyncFileFlags) {
  const Kernel k;
  EXPECT_EQ(validateExportSyncFile(uapi::kSyncRead, k).value().flags, uapi::kSyncRead);
  EXPECT_EQ(validateExportSyncFile(uapi::kSyncRw, k).value().flags, uapi::kSyncRw);
  auto ex_bits = validateExportSyncFile(4 | uapi::kSyncRead, k);
  EXPECT_EQ(ex_bits.code(), EINVAL);
  EXPECT_EQ(ex_bits.error().message(), "unknown EXPORT_SYNC_FILE flag bits");
  auto ex_none = validateExportSyncFile(0, k);
  EXPECT_EQ(ex_none.code(), EINVAL);
  EXPECT_EQ(ex_none.error().message(), "EXPORT_SYNC_FILE needs READ, WRITE or both");

  auto im = validateImportSyncFile(uapi::kSyncWrite, 9, k).value();
  EXPECT_EQ(im.flags, uapi::kSyncWrite);
  EXPECT_EQ(im.fd, 9);
  auto im_bits = validateImportSyncFile(8, 9, k);
  EXPECT_EQ(im_bits.code(), EINVAL);
  EXPECT_EQ(im_bits.error().message(), "unknown sync_file flag bits");
  auto im_none = validateImportSyncFile(0, 9, k);
  EXPECT_EQ(im_none.code(), EINVAL);
  EXPECT_EQ(im_none.error().message(), "a sync_file ioctl needs READ, WRITE or both");
}

TEST(FrontDoorBuffer, DecodeGivesTheValidatedRequest) {
  const Kernel k;
  auto sync = decodeBufferIoctl(uapi::kBufIoctlSync, bytesOf(uapi::BufSync{uapi::kSyncEnd | uapi::kSyncWrite}), k);
  ASSERT_TRUE(sync.ok());
  EXPECT_EQ(std::get<SyncRequest>(sync.value()).flags, uapi::kSyncEnd | uapi::kSyncWrite);

  auto name = decodeBufferIoctl(uapi::kBufSetNameA, charsOf("preview"), k);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(std::get<SetNameRequest>(name.value()).name, "preview");

  auto ex = decodeBufferIoctl(uapi::kBufExportSyncFile, bytesOf(uapi::ExportSyncFile{uapi::kSyncRw, 55}), k);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(std::get<ExportSyncFileRequest>(ex.value()).flags, uapi::kSyncRw);

  auto im = decodeBufferIoctl(uapi::kBufImportSyncFile, bytesOf(uapi::ExportSyncFile{uapi::kSyncRead, 12}), k);
  ASSERT_TRUE(im.ok());
  EXPECT_EQ(std::get<ImportSyncFileRequest>(im.value()).fd, 12);
  EXPECT_EQ(std::get<ImportSyncFileRequest>(im.value()).flags, uapi::kSyncRead);
}

TEST(FrontDoorBuffer, DecodeErrorsInTheKernelsOrder) {
  const Kernel k;
  const Kernel old = kernelOf(5, 10);
  // 1. The number: ENOTTY before anything is read, even with no argument at all.
  EXPECT_EQ(decodeBufferIoctl(0x40086209u, {}, k).code(), ENOTTY);
  EXPECT_EQ(decodeBufferIoctl(uapi::kBufExportSyncFile, {}, old).code(), ENOTTY);
  EXPECT_EQ(decodeBufferIoctl(uapi::kBufImportSyncFile, {}, old).code(), ENOTTY);
  // 2. The copy: a short struct is EFAULT, before its flags are looked at.
  auto short_sync = decodeBufferIoctl(uapi::kBufIoctlSync, std::vector<uint8_t>(4, 0xff), k);
  EXPECT_EQ(short_sync.code(), EFAULT);
  EXPECT_EQ(short_sync.error().message(), "bad address");
  EXPECT_EQ(decodeBufferIoctl(uapi::kBufExportSyncFile, std::vector<uint8_t>(7, 0), k).code(), EFAULT);
  EXPECT_EQ(decodeBufferIoctl(uapi::kBufImportSyncFile, {}, k).code(), EFAULT);
  // 3. The validation.
  EXPECT_EQ(decodeBufferIoctl(uapi::kBufIoctlSync, bytesOf(uapi::BufSync{0}), k).code(), EINVAL);
  EXPECT_EQ(decodeBufferIoctl(uapi::kBufSetNameB, charsOf(std::string(32, 'x')), k).code(), EINVAL);
  EXPECT_EQ(decodeBufferIoctl(uapi::kBufExportSyncFile, bytesOf(uapi::ExportSyncFile{0, -1}), k).code(), EINVAL);
  EXPECT_EQ(decodeBufferIoctl(uapi::kBufImportSyncFile, bytesOf(uapi::ExportSyncFile{16, 3}), k).code(), EINVAL);
  // A string argument has no minimum: the empty name is valid.
  EXPECT_TRUE(decodeBufferIoctl(uapi::kBufSetNameB, {}, k).ok());
}

// docs/emulation.md "The target's ABI over a real dma-buf": the host runs what both have.
TEST(FrontDoorHost, TheHostAnswersWhatTheTargetHasToo) {
  Kernel k515, k60, k612;
  k515.version = KernelVersion::of(5, 15);
  k60.version = KernelVersion::of(6, 0);
  k612.version = KernelVersion::of(6, 12);
  const std::vector<uint32_t> all = {uapi::kBufIoctlSync, uapi::kBufSetNameA, uapi::kBufSetNameB,
                                     uapi::kBufExportSyncFile, uapi::kBufImportSyncFile};
  EXPECT_EQ(bufferIoctlNumbers(), all);
  for (uint32_t cmd : all) {
    EXPECT_TRUE(hostAnswersAsTarget(cmd, k612, k612)) << std::hex << cmd;
    EXPECT_TRUE(hostAnswersAsTarget(cmd, k60, k612)) << std::hex << cmd;
  }
  // A 5.15 target lacks the sync-file ioctls a 6.12 host has, and the other way round.
  EXPECT_TRUE(hostAnswersAsTarget(uapi::kBufIoctlSync, k515, k612));
  EXPECT_TRUE(hostAnswersAsTarget(uapi::kBufSetNameB, k515, k612));
  EXPECT_FALSE(hostAnswersAsTarget(uapi::kBufExportSyncFile, k515, k612));
  EXPECT_FALSE(hostAnswersAsTarget(uapi::kBufImportSyncFile, k515, k612));
  EXPECT_FALSE(hostAnswersAsTarget(uapi::kBufExportSyncFile, k612, k515));
  // A number no release has: both lack it, so the host's ENOTTY is the target's.
  EXPECT_TRUE(hostAnswersAsTarget(0x40086209u, k515, k612));
  // This machine's kernel, as uname names it (major.minor, then the rest).
  struct utsname u {};
  ASSERT_EQ(::uname(&u), 0);
  EXPECT_EQ(std::string(u.release).rfind(runningKernel().version.str() + ".", 0), 0u) << u.release;
}

}  // namespace
}  // namespace dmaheap::dmabuf
