/* alloc-loop: N allocations of SIZE bytes, each closed at once, timed; the program
 * scripts/syscall-counts.sh runs under strace to count the syscalls of one ALLOC on each path
 * (README.md "Performance", "Syscalls per request").
 *   alloc-loop embedded|service N [SIZE [GAP_US]]   through libdmaheap's C API with that backend
 *   alloc-loop ioctl N [SIZE [GAP_US]]              DMA_HEAP_IOCTL_ALLOC on /dev/dma_heap/system,
 *                                   as an unmodified program does (run it under `dmaheap run`)
 * GAP_US: a pause after each close (clock_nanosleep), a program doing other work between
 * allocations; the timing then counts only the allocations and closes.
 * Prints "PATH N SIZE: X us per allocation+close (Y us CPU of this thread)": the thread's CPU
 * time (RUSAGE_THREAD) is what the request path costs in this process whatever the load; the
 * wall time also holds the waits for a loaded CPU (and, for service and ioctl, the other side). Only plain C and the public API, so that it
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
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "dmaheap/dmaheap.h"

static long gap_us;
static double paused_us;

static void gap(void) {
  if (gap_us <= 0) return;
  struct timespec t = {.tv_sec = 0, .tv_nsec = gap_us * 1000};
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  nanosleep(&t, NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  paused_us += (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
}

static double thread_cpu_us(void) {
  struct rusage r;
  getrusage(RUSAGE_THREAD, &r);
  return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

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
    gap();
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
    gap();
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
  gap_us = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
  const double t0 = now_us();
  const double c0 = thread_cpu_us();
  const int rc = strcmp(argv[1], "ioctl") == 0 ? ioctl_loop(n, size) : api_loop(argv[1], n, size);
  const double t = now_us() - t0 - paused_us;
  const double c = thread_cpu_us() - c0;
  if (rc == 0 && n > 0) {
    printf("%s %ld %llu: %.2f us per allocation+close (%.2f us CPU of this thread)\n", argv[1], n, (unsigned long long)size,
           t / (double)n, c / (double)n);
  }
  return rc;
}
