// The DMA-BUF heap and dma-buf user ABI (docs/kernel-behaviour.md §1.1, §2.1): struct layouts, ioctl numbers and
// flag values, written out so the emulation does not depend on the build machine's headers.
// uapi.cc checks them against <linux/dma-heap.h> and <linux/dma-buf.h> where those exist.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dmaheap::uapi {

// _IOC encoding: nr bits 0-7, type 8-15, size 16-29, direction 30-31 (1 = write, 2 = read).
inline constexpr uint32_t kIocWrite = 1;
inline constexpr uint32_t kIocRead = 2;
constexpr uint32_t ioc(uint32_t dir, uint32_t type, uint32_t nr, uint32_t size) {
  return (dir << 30) | (size << 16) | (type << 8) | nr;
}
constexpr uint32_t iocNr(uint32_t cmd) { return cmd & 0xff; }
constexpr uint32_t iocType(uint32_t cmd) { return (cmd >> 8) & 0xff; }
constexpr uint32_t iocSize(uint32_t cmd) { return (cmd >> 16) & 0x3fff; }
constexpr uint32_t iocDir(uint32_t cmd) { return cmd >> 30; }

struct AllocationData {  // struct dma_heap_allocation_data, 24 bytes
  uint64_t len;
  uint32_t fd;
  uint32_t fd_flags;
  uint64_t heap_flags;
};
static_assert(sizeof(AllocationData) == 24);

inline constexpr uint32_t kHeapMagic = 'H';
inline constexpr uint32_t kHeapIoctlAlloc = ioc(kIocRead | kIocWrite, kHeapMagic, 0, 24);  // 0xC0184800
static_assert(kHeapIoctlAlloc == 0xC0184800u);
inline constexpr uint32_t kOCloexec = 02000000;
inline constexpr uint32_t kOAccmode = 3;
inline constexpr uint32_t kValidFdFlags = kOCloexec | kOAccmode;  // 0x80003
inline constexpr uint64_t kValidHeapFlags = 0;

struct BufSync {  // struct dma_buf_sync
  uint64_t flags;
};
inline constexpr uint64_t kSyncRead = 1;
inline constexpr uint64_t kSyncWrite = 2;
inline constexpr uint64_t kSyncRw = 3;
inline constexpr uint64_t kSyncStart = 0;
inline constexpr uint64_t kSyncEnd = 4;
inline constexpr uint64_t kSyncValidMask = 7;

struct ExportSyncFile {  // struct dma_buf_export_sync_file
  uint32_t flags;
  int32_t fd;
};
inline constexpr uint32_t kBufMagic = 'b';
inline constexpr uint32_t kBufIoctlSync = ioc(kIocWrite, kBufMagic, 0, 8);           // 0x40086200
inline constexpr uint32_t kBufSetNameA = ioc(kIocWrite, kBufMagic, 1, 4);            // 0x40046201
inline constexpr uint32_t kBufSetNameB = ioc(kIocWrite, kBufMagic, 1, 8);            // 0x40086201
inline constexpr uint32_t kBufExportSyncFile = ioc(kIocRead | kIocWrite, kBufMagic, 2, 8);  // 0xC0086202
inline constexpr uint32_t kBufImportSyncFile = ioc(kIocWrite, kBufMagic, 3, 8);      // 0x40086203
static_assert(kBufIoctlSync == 0x40086200u && kBufSetNameA == 0x40046201u && kBufSetNameB == 0x40086201u);
static_assert(kBufExportSyncFile == 0xC0086202u && kBufImportSyncFile == 0x40086203u);
inline constexpr size_t kBufNameLen = 32;  // DMA_BUF_NAME_LEN, including the NUL

}  // namespace dmaheap::uapi
