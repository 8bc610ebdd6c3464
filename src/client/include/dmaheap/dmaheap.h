/*
 * libdmaheap C API: DMA-BUF heap allocation that works on every Linux machine. It uses the
 * kernel's /dev/dma_heap where that has heaps, else the dmaheapd service, else heaps emulated
 * inside the calling process (the built-in default board).
 *
 * Conventions: functions return 0 (or a count) on success and a negative errno on failure,
 * with the kernel's errno for everything the kernel would check; every function returns
 * -EINVAL for a NULL allocator. Buffers are plain dma-buf file descriptors: the caller owns
 * them and frees a buffer by closing its last fd (and unmapping it).
 */
#ifndef DMAHEAP_DMAHEAP_H_
#define DMAHEAP_DMAHEAP_H_

#include <stddef.h>
#include <stdint.h>

#include "dmaheap/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dmaheap_allocator dmaheap_allocator;

/* CPU access directions for the begin/end brackets (the values of DMA_BUF_SYNC_*). */
#define DMAHEAP_CPU_READ 1u
#define DMAHEAP_CPU_WRITE 2u
#define DMAHEAP_CPU_READ_WRITE 3u

struct dmaheap_heap_info {
  char name[256];    /* the /dev/dma_heap entry */
  char type[32];     /* "system", "cma", or "unknown" (a real kernel's heap we cannot classify) */
  int contiguous;    /* 1 when every buffer is physically contiguous */
  uint64_t size;     /* bytes the heap can hand out at most; 0 if unknown */
  uint64_t free;     /* bytes free now; 0 if unknown */
};

/*
 * Creates an allocator. `backend`: NULL or "auto" (kernel, else service, else embedded; the
 * environment variable DMAHEAP_BACKEND overrides "auto"), "kernel", "service" or "embedded".
 * Errors: -EINVAL for an unknown backend name; -ENODEV when a named backend is unavailable
 * (no /dev/dma_heap heaps, no service); the board's errno for the embedded backend.
 */
DMAHEAP_API int dmaheap_allocator_create(const char *backend, dmaheap_allocator **out);
DMAHEAP_API void dmaheap_allocator_destroy(dmaheap_allocator *allocator);
/* "kernel", "service" or "embedded"; "" for NULL. */
DMAHEAP_API const char *dmaheap_allocator_backend(const dmaheap_allocator *allocator);

/* The number of heaps (sorted by name), then one of them by index (-ERANGE past the end). */
DMAHEAP_API int dmaheap_heap_count(dmaheap_allocator *allocator);
DMAHEAP_API int dmaheap_heap_get_info(dmaheap_allocator *allocator, int index, struct dmaheap_heap_info *out);

/* Allocates `len` bytes (page aligned up) from heap `heap` with O_RDWR|O_CLOEXEC; *fd_out
 * receives the dma-buf fd. -ENOENT for an unknown heap, else the kernel's errno (-EINVAL for
 * length 0, -ENOMEM when the heap is full, ...). */
DMAHEAP_API int dmaheap_alloc(dmaheap_allocator *allocator, const char *heap, uint64_t len, int *fd_out);
/* The same by capability: "system" (any memory), "contiguous" (one physically contiguous
 * block: the CMA heap, whatever this kernel calls it), "uncached" ("system-uncached", else the
 * system heap, as Android's AllocSystem falls back) or "dma32" (system memory below 4 GiB, no
 * fallback). -ENOENT when no heap has it; -EINVAL for another capability name. The order of
 * preference is the C++ API's (dmaheap/allocator.h). */
DMAHEAP_API int dmaheap_alloc_capability(dmaheap_allocator *allocator, const char *capability, uint64_t len, int *fd_out);
/* The heap name a capability resolves to, NUL-terminated (-ERANGE if `name_len` is too small). */
DMAHEAP_API int dmaheap_resolve_capability(dmaheap_allocator *allocator, const char *capability, char *name, size_t name_len);

/* CPU access brackets (DMA_BUF_IOCTL_SYNC START/END): -EINVAL for a direction outside 1..3. */
DMAHEAP_API int dmaheap_cpu_access_begin(dmaheap_allocator *allocator, int fd, unsigned direction);
DMAHEAP_API int dmaheap_cpu_access_end(dmaheap_allocator *allocator, int fd, unsigned direction);
/* DMA_BUF_SET_NAME: at most 31 characters (-EINVAL beyond). */
DMAHEAP_API int dmaheap_set_name(dmaheap_allocator *allocator, int fd, const char *name);

/*
 * The raw ioctls with the kernel's exact semantics, for code written against
 * <linux/dma-heap.h> and <linux/dma-buf.h>: `cmd` and `arg` as for ioctl(2) on
 * /dev/dma_heap/<heap> and on a dma-buf fd. Return 0 or a negative errno.
 */
DMAHEAP_API int dmaheap_heap_ioctl(dmaheap_allocator *allocator, const char *heap, unsigned long cmd, void *arg);
DMAHEAP_API int dmaheap_buffer_ioctl(dmaheap_allocator *allocator, int fd, unsigned long cmd, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* DMAHEAP_DMAHEAP_H_ */
