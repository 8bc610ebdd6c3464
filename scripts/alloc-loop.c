/* alloc-loop: N allocations of SIZE bytes, each closed at once, timed; the program
 * scripts/syscall-counts.sh runs under strace to count the syscalls of one ALLOC on each path
 * (README.md "Performance", "Syscalls per request").
 *   alloc-loop embedded|service N [SIZE]   through libdmaheap's C API with that backend
 *   alloc-loop ioctl N [SIZE]              DMA_HEAP_IOCTL_ALLOC on /dev/dma_heap/system, as an
 *                                          unmodified program does (run it under `dmaheap run`)
 * Prints "PATH N SIZE: X us per allocation+close". Only plain C and the public API, so that it
 * counts what any program pays and nothing of ours. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-heap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "dmaheap/dmaheap.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* One ALLOC through the heap node, the fd closed: what a program under `dmaheap run` does. */
static int ioctl_loop(long n, uint64_t size) {
  const int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
  if (heap < 0) {
    fprintf(stderr, "alloc-loop: /dev/dma_heap/system: %s\n", strerror(errno));
    return 1;
  }
  for (long i = 0; i < n; ++i) {
    struct dma_heap_allocation_data d = {.len = size, .fd_flags = O_RDWR | O_CLOEXEC};
    if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) != 0) {
      fprintf(stderr, "alloc-loop: ALLOC: %s\n", strerror(errno));
      return 1;
    }
    close((int)d.fd);
  }
  close(heap);
  return 0;
}

static int api_loop(const char* backend, long n, uint64_t size) {
  dmaheap_allocator* a = NULL;
  int rc = dmaheap_allocator_create(backend, &a);
  if (rc != 0) {
    fprintf(stderr, "alloc-loop: %s backend: %s\n", backend, strerror(-rc));
    return 1;
  }
  for (long i = 0; i < n; ++i) {
    int fd = -1;
    if ((rc = dmaheap_alloc(a, "system", size, &fd)) != 0) {
      fprintf(stderr, "alloc-loop: alloc: %s\n", strerror(-rc));
      return 1;
    }
    close(fd);
  }
  dmaheap_allocator_destroy(a);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: alloc-loop embedded|service|ioctl N [SIZE]\n");
    return 2;
  }
  const long n = strtol(argv[2], NULL, 10);
  const uint64_t size = argc > 3 ? strtoull(argv[3], NULL, 0) : 4096;
  const double t0 = now_us();
  const int rc = strcmp(argv[1], "ioctl") == 0 ? ioctl_loop(n, size) : api_loop(argv[1], n, size);
  const double t = now_us() - t0;
  if (rc == 0 && n > 0) printf("%s %ld %llu: %.2f us per allocation+close\n", argv[1], n, (unsigned long long)size, t / (double)n);
  return rc;
}
