/* A small program for the emulation tests, run under the supervisor. Modes:
 *   exhaust HEAP   allocate 1 MiB until the heap is full (must be ENOMEM), free all, allocate again
 *   threads HEAP   4 threads x 50 allocations, each buffer written and checked
 *   alloc HEAP     one 4 KiB allocation; exit status = errno (0 on success)
 *   fds            exit status = the number of open fds above 2 (leak check after the others)
 *   bufioctl HEAP sync|export
 *                  one 4 KiB allocation, then DMA_BUF_IOCTL_SYNC (start, read-write) or
 *                  EXPORT_SYNC_FILE (read) on it; exit status = that ioctl's errno (0 on success)
 *   eintr HEAP N restart|norestart
 *                  N 4 KiB allocations (each closed) under a 200 us interval timer whose SIGALRM
 *                  handler has SA_RESTART or not; prints "N allocations, E EINTR, S signals";
 *                  exit status 0; 106 when an allocation failed with anything but EINTR, 108
 *                  when any failed with EINTR, 109 when no signal arrived (nothing was tested)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

static int heap_fd;
static volatile sig_atomic_t signals_seen;

static void on_alarm(int sig) {
  (void)sig;
  ++signals_seen;
}

static int alloc_one(unsigned long long len) {
  struct dma_heap_allocation_data d = {.len = len, .fd_flags = O_RDWR | O_CLOEXEC};
  if (ioctl(heap_fd, DMA_HEAP_IOCTL_ALLOC, &d) < 0) return -errno;
  return (int)d.fd;
}

static void *worker(void *arg) {
  long id = (long)arg;
  for (int i = 0; i < 50; ++i) {
    int fd = alloc_one(4096);
    if (fd < 0) return (void *)1;
    unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return (void *)1;
    memset(p, (int)id, 4096);
    int bad = p[0] != (unsigned char)id || p[4095] != (unsigned char)id;
    munmap(p, 4096);
    close(fd);
    if (bad) return (void *)1;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 100;
  if (!strcmp(argv[1], "fds")) {
    int n = 0;
    for (int fd = 3; fd < 1024; ++fd)
      if (fcntl(fd, F_GETFD) >= 0) ++n;
    return n;
  }
  if (argc < 3) return 100;
  char path[300];
  snprintf(path, sizeof path, "/dev/dma_heap/%s", argv[2]);
  heap_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (heap_fd < 0) return 101;
  if (!strcmp(argv[1], "alloc")) {
    int fd = alloc_one(4096);
    return fd < 0 ? -fd : 0;
  }
  if (!strcmp(argv[1], "exhaust")) {
    static int fds[100000];
    int n = 0, err = 0;
    for (;;) {
      int fd = alloc_one(1 << 20);
      if (fd < 0) {
        err = -fd;
        break;
      }
      fds[n++] = fd;
      if (n == 100000) return 102;
    }
    printf("%d buffers, then %s\n", n, strerror(err));
    if (err != ENOMEM || n == 0) return 103;
    for (int i = 0; i < n; ++i) close(fds[i]);
    /* Everything is back: the same number fits again. */
    for (int i = 0; i < n; ++i) {
      fds[i] = alloc_one(1 << 20);
      if (fds[i] < 0) {
        printf("re-allocation %d failed: %s\n", i, strerror(-fds[i]));
        return 104;
      }
    }
    return 0;
  }
  if (!strcmp(argv[1], "bufioctl")) {
    if (argc < 4) return 100;
    int fd = alloc_one(4096);
    if (fd < 0) return 110;
    int rc;
    if (!strcmp(argv[3], "sync")) {
      struct dma_buf_sync sync = {DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
      rc = ioctl(fd, DMA_BUF_IOCTL_SYNC, &sync);
    } else {
      struct dma_buf_export_sync_file e = {DMA_BUF_SYNC_READ, -1};
      rc = ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &e);
    }
    return rc == 0 ? 0 : errno;
  }
  if (!strcmp(argv[1], "eintr")) {
    if (argc < 5) return 100;
    const long n = atol(argv[3]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = !strcmp(argv[4], "restart") ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) != 0) return 107;
    struct itimerval it = {{0, 200}, {0, 200}};
    if (setitimer(ITIMER_REAL, &it, NULL) != 0) return 107;
    long eintr = 0;
    for (long i = 0; i < n; ++i) {
      int fd = alloc_one(4096);
      if (fd == -EINTR) {
        ++eintr;
        continue;
      }
      if (fd < 0) {
        printf("allocation %ld failed: %s\n", i, strerror(-fd));
        return 106;
      }
      close(fd);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("%ld allocations, %ld EINTR, %ld signals\n", n, eintr, (long)signals_seen);
    fflush(stdout);
    if (signals_seen == 0) return 109;
    return eintr > 0 ? 108 : 0;
  }
  if (!strcmp(argv[1], "threads")) {
    pthread_t t[4];
    for (long i = 0; i < 4; ++i) pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    int bad = 0;
    for (int i = 0; i < 4; ++i) {
      void *r;
      pthread_join(t[i], &r);
      bad |= r != NULL;
    }
    return bad ? 105 : 0;
  }
  return 100;
}
