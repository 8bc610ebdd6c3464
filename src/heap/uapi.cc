// Checks our ABI constants against the system's UAPI headers when they are present.
#include "heap/uapi.h"

#if __has_include(<linux/dma-heap.h>) && __has_include(<linux/dma-buf.h>)
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

namespace dmaheap::uapi {
static_assert(sizeof(dma_heap_allocation_data) == sizeof(AllocationData));
static_assert(DMA_HEAP_IOCTL_ALLOC == kHeapIoctlAlloc);
static_assert(DMA_HEAP_VALID_FD_FLAGS == kValidFdFlags);
static_assert(DMA_BUF_IOCTL_SYNC == kBufIoctlSync);
static_assert(DMA_BUF_SET_NAME_A == kBufSetNameA && DMA_BUF_SET_NAME_B == kBufSetNameB);
static_assert(DMA_BUF_SYNC_VALID_FLAGS_MASK == kSyncValidMask && DMA_BUF_SYNC_END == kSyncEnd);
#ifdef DMA_BUF_IOCTL_EXPORT_SYNC_FILE
static_assert(DMA_BUF_IOCTL_EXPORT_SYNC_FILE == kBufExportSyncFile);
static_assert(DMA_BUF_IOCTL_IMPORT_SYNC_FILE == kBufImportSyncFile);
#endif
}  // namespace dmaheap::uapi
#endif
