// The host-kernel matrix's cost probe (docs/host-kernels.md, "Costs"): what a camera or video
// program pays per buffer and per frame, on whatever /dev/dma_heap/system it finds — the guest
// kernel's own heap when run natively, the emulated one under `dmaheap run --backing B`.
//
//   frame-cost [HEAP]       (default /dev/dma_heap/system)
//
// For 4 KiB, 1 MiB and 16 MiB: DMA_HEAP_IOCTL_ALLOC then close, repeated; for a 1 MiB buffer
// that is mapped and written once: DMA_BUF_IOCTL_SYNC START|RW then END|RW (one frame's pair),
// repeated. Prints "cost NAME NANOSECONDS" with the median of each, then "N passed, 0 failed";
// any failed ioctl is "not ok ..." and exit 1. Absolute figures under TCG mean little; the
// matrix compares them as ratios within one boot (tests/hostkernels/run.sh).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

static int passed;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void* a, const void* b) {
    uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t* v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    return v[n / 2];
}

static int alloc_fd(int heap, uint64_t len, const char* what) {
    struct dma_heap_allocation_data d;
    memset(&d, 0, sizeof d);
    d.len = len;
    d.fd_flags = O_RDWR | O_CLOEXEC;
    if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) < 0) {
        printf("not ok %s: DMA_HEAP_IOCTL_ALLOC of %llu bytes: %s\n", what, (unsigned long long)len,
               strerror(errno));
        return -1;
    }
    return (int)d.fd;
}

// ALLOC + close of LEN bytes, N times: the median of the ALLOC alone and of the pair.
static int alloc_cost(int heap, uint64_t len, int n, const char* name) {
    uint64_t* t = calloc((size_t)n, sizeof *t);
    if (!t) return -1;
    for (int i = 0; i < n; i++) {
        uint64_t a = now_ns();
        int fd = alloc_fd(heap, len, name);
        uint64_t b = now_ns();
        if (fd < 0) {
            free(t);
            return -1;
        }
        close(fd);
        t[i] = b - a;
    }
    printf("cost %s %llu\n", name, (unsigned long long)median(t, n));
    free(t);
    passed++;
    return 0;
}

static int sync_cost(int heap, int n) {
    const uint64_t len = 1 << 20;
    int fd = alloc_fd(heap, len, "sync-pair-1m");
    if (fd < 0) return -1;
    unsigned char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        printf("not ok sync-pair-1m: mmap: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    memset(p, 0x5a, len);
    uint64_t* t = calloc((size_t)n, sizeof *t);
    int rc = t ? 0 : -1;
    for (int i = 0; rc == 0 && i < n; i++) {
        struct dma_buf_sync s = {.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
        uint64_t a = now_ns();
        if (ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) < 0) rc = -1;
        p[(size_t)i * 4096 % len] = (unsigned char)i;  // the frame's CPU access
        s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
        if (rc == 0 && ioctl(fd, DMA_BUF_IOCTL_SYNC, &s) < 0) rc = -1;
        t[i] = now_ns() - a;
        if (rc < 0) printf("not ok sync-pair-1m: DMA_BUF_IOCTL_SYNC: %s\n", strerror(errno));
    }
    if (rc == 0) {
        printf("cost sync-pair-1m %llu\n", (unsigned long long)median(t, n));
        passed++;
    }
    free(t);
    munmap(p, len);
    close(fd);
    return rc;
}

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "/dev/dma_heap/system";
    int heap = open(path, O_RDONLY | O_CLOEXEC);
    if (heap < 0) {
        printf("not ok open %s: %s\n", path, strerror(errno));
        printf("0 passed, 1 failed\n");
        return 1;
    }
    int rc = 0;
    rc |= alloc_cost(heap, 4096, 200, "alloc-4k");
    rc |= alloc_cost(heap, 1 << 20, 40, "alloc-1m");
    rc |= alloc_cost(heap, 16 << 20, 9, "alloc-16m");
    rc |= sync_cost(heap, 400);
    close(heap);
    printf("%d passed, %d failed\n", passed, rc ? 1 : 0);
    return rc ? 1 : 0;
}
