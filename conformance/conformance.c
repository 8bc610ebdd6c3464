/*
 * DMA-BUF heap conformance: what every /dev/dma_heap heap must do, checked through the kernel's
 * own UAPI (<linux/dma-heap.h>, <linux/dma-buf.h>). Runs on a real kernel, under `dmaheap run`
 * (built dynamically and with -static), and — built with CONFORMANCE_LIBDMAHEAP — through
 * libdmaheap's C API on any of its backends. Prints one line per check and, last,
 * "N passed, N failed"; exits 0 only when nothing failed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef CONFORMANCE_LIBDMAHEAP
#include <dmaheap/dmaheap.h>
#endif

#define MIB (1024u * 1024u)
#define MAX_HEAPS 128

/* ---- how a heap and a buffer are reached: raw syscalls, or libdmaheap ---- */

static char heap_names[MAX_HEAPS][256];
static int heap_count;

#ifdef CONFORMANCE_LIBDMAHEAP
static dmaheap_allocator *allocator;
static const char *current_heap;

static int list_heaps(void) {
  const char *backend = getenv("CONFORMANCE_BACKEND");
  int err = dmaheap_allocator_create(backend, &allocator);
  if (err) {
    fprintf(stderr, "dmaheap_allocator_create(%s): %s\n", backend ? backend : "auto", strerror(-err));
    return -1;
  }
  printf("# libdmaheap backend: %s\n", dmaheap_allocator_backend(allocator));
  int n = dmaheap_heap_count(allocator);
  for (int i = 0; i < n && i < MAX_HEAPS; ++i) {
    struct dmaheap_heap_info info;
    if (dmaheap_heap_get_info(allocator, i, &info) == 0) snprintf(heap_names[heap_count++], 256, "%s", info.name);
  }
  return 0;
}
static int open_heap(const char *name) {
  current_heap = name;
  return 1000; /* a handle only this file understands */
}
static void close_heap(int h) { (void)h; }
static int heap_ioctl(int h, unsigned long cmd, void *arg) {
  (void)h;
  int r = dmaheap_heap_ioctl(allocator, current_heap, cmd, arg);
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return 0;
}
static int buf_ioctl(int fd, unsigned long cmd, void *arg) {
  int r = dmaheap_buffer_ioctl(allocator, fd, cmd, arg);
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return 0;
}
static const int raw_syscalls = 0;
#else
static int list_heaps(void) {
  DIR *d = opendir("/dev/dma_heap");
  if (!d) {
    printf("# no /dev/dma_heap directory: %s\n", strerror(errno));
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL && heap_count < MAX_HEAPS) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(heap_names[heap_count++], 256, "%s", e->d_name);
  }
  closedir(d);
  return 0;
}
static int open_heap(const char *name) {
  char path[300];
  snprintf(path, sizeof path, "/dev/dma_heap/%s", name);
  return open(path, O_RDONLY | O_CLOEXEC);
}
static void close_heap(int h) { close(h); }
/* Raw syscalls: what a program that bypasses libc's ioctl() wrapper does. */
static int heap_ioctl(int h, unsigned long cmd, void *arg) { return (int)syscall(SYS_ioctl, h, cmd, arg); }
static int buf_ioctl(int fd, unsigned long cmd, void *arg) { return ioctl(fd, cmd, arg); }
static const int raw_syscalls = 1;
#endif

/* ---- results ---- */

static int passed, failed, check_no;
static const char *heap_label;

static void report(int ok, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  ++check_no;
  if (ok)
    ++passed;
  else
    ++failed;
  printf("%s %d - %s: %s\n", ok ? "ok" : "not ok", check_no, heap_label, what);
  fflush(stdout);
}

/* Expects the call to fail with exactly `want`. */
static void expect_errno(int ret, int want, const char *what) {
  int got = ret < 0 ? errno : 0;
  if (ret < 0 && got == want)
    report(1, "%s -> %s", what, strerror(want));
  else
    report(0, "%s -> expected %s, got %s", what, strerror(want), ret < 0 ? strerror(got) : "success");
}

static int alloc_buf(int heap, uint64_t len, uint32_t fd_flags) {
  struct dma_heap_allocation_data d = {.len = len, .fd = 0, .fd_flags = fd_flags, .heap_flags = 0};
  if (heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) < 0) return -1;
  return (int)d.fd;
}

static int sync_buf(int fd, uint64_t flags) {
  struct dma_buf_sync s = {.flags = flags};
  return buf_ioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
}

/* ---- the checks, per heap ---- */

static void test_alloc_mmap_sync(int heap) {
  int fd = alloc_buf(heap, MIB, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    report(0, "allocate 1 MiB: %s", strerror(errno));
    return;
  }
  struct stat st;
  report(fstat(fd, &st) == 0 && st.st_size == MIB, "allocate 1 MiB: fstat size is 1 MiB");
  report(lseek(fd, 0, SEEK_END) == MIB, "lseek SEEK_END gives the size");
  int fdflags = fcntl(fd, F_GETFD);
  report(fdflags >= 0 && (fdflags & FD_CLOEXEC), "O_CLOEXEC in fd_flags sets FD_CLOEXEC");
  uint8_t *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    report(0, "mmap 1 MiB read-write shared: %s", strerror(errno));
    close(fd);
    return;
  }
  report(1, "mmap 1 MiB read-write shared");
  report(sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW) == 0, "SYNC START|RW");
  memset(p, 1, MIB / 2);
  memset(p + MIB / 2, 0, MIB / 2);
  report(sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW) == 0, "SYNC END|RW");
  report(sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ) == 0 &&
             sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ) == 0 &&
             sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_WRITE) == 0 &&
             sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_WRITE) == 0,
         "SYNC READ and WRITE brackets");
  report(sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW) == 0, "unpaired SYNC END is accepted (not tracked)");

  /* The buffer passed to a child process (fork inherits the fd) is the same memory. */
  pid_t child = fork();
  if (child == 0) {
    int ok = 1;
    uint8_t *q = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (q == MAP_FAILED) _exit(2);
    if (sync_buf(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW) != 0) ok = 0;
    for (size_t i = 0; i < MIB; ++i)
      if (q[i] != (i < MIB / 2 ? 1 : 0)) ok = 0;
    memset(q, 0x5a, 4096);
    if (sync_buf(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW) != 0) ok = 0;
    _exit(ok ? 0 : 1);
  }
  int status = -1;
  waitpid(child, &status, 0);
  report(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child sees the contents intact and can sync");
  report(p[0] == 0x5a && p[4095] == 0x5a && p[4096] == 1, "the child's writes are visible to the parent");
  munmap(p, MIB);
  close(fd);
}

static void test_zeroed(int heap, uint64_t size) {
  enum { kCount = 32 };
  int fds[kCount];
  int ok = 1;
  for (int i = 0; i < kCount; ++i) {
    fds[i] = alloc_buf(heap, size, O_RDWR | O_CLOEXEC);
    if (fds[i] < 0) {
      ok = 0;
      continue;
    }
    uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
    if (p == MAP_FAILED) {
      ok = 0;
      continue;
    }
    sync_buf(fds[i], DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW);
    memset(p, 0xff, size);
    sync_buf(fds[i], DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
    munmap(p, size);
  }
  for (int i = 0; i < kCount; ++i)
    if (fds[i] >= 0) close(fds[i]);
  report(ok, "allocate, fill and free %d buffers of %llu bytes", kCount, (unsigned long long)size);
  int dirty = 0;
  for (int i = 0; i < kCount; ++i) {
    fds[i] = alloc_buf(heap, size, O_RDWR | O_CLOEXEC);
    if (fds[i] < 0) {
      ok = 0;
      continue;
    }
    uint8_t *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fds[i], 0);
    if (p == MAP_FAILED) {
      ok = 0;
      continue;
    }
    sync_buf(fds[i], DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ);
    for (uint64_t j = 0; j < size; ++j) dirty |= p[j];
    sync_buf(fds[i], DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ);
    munmap(p, size);
  }
  for (int i = 0; i < kCount; ++i)
    if (fds[i] >= 0) close(fds[i]);
  report(ok && !dirty, "re-allocated %llu-byte buffers read back zeroed", (unsigned long long)size);
}

static void test_compat(int heap) {
  /* Older user space: {len, fd, fd_flags} only, a 16-byte command. */
  struct older {
    uint64_t len;
    uint32_t fd;
    uint32_t fd_flags;
  } o = {.len = 4096, .fd = 0, .fd_flags = O_RDWR | O_CLOEXEC};
  int r = heap_ioctl(heap, _IOWR(DMA_HEAP_IOC_MAGIC, 0x0, struct older), &o);
  report(r == 0 && (int)o.fd > 0, "older 16-byte struct allocates");
  if (r == 0) close((int)o.fd);

  /* Newer user space: extra fields the kernel does not know, copied back unchanged. */
  struct newer {
    uint64_t len;
    uint32_t fd;
    uint32_t fd_flags;
    uint64_t heap_flags;
    uint64_t garbage1, garbage2, garbage3;
  } n = {.len = 4096, .fd = 0, .fd_flags = O_RDWR | O_CLOEXEC, .heap_flags = 0,
         .garbage1 = 0xffffffff, .garbage2 = 0x88888888, .garbage3 = 0x11111111};
  r = heap_ioctl(heap, _IOWR(DMA_HEAP_IOC_MAGIC, 0x0, struct newer), &n);
  report(r == 0 && (int)n.fd > 0 && n.garbage1 == 0xffffffff && n.garbage2 == 0x88888888 && n.garbage3 == 0x11111111,
         "newer 48-byte struct allocates and keeps the extra fields");
  if (r == 0) close((int)n.fd);
}

static void test_alloc_errors(int heap) {
  struct dma_heap_allocation_data d;

  d = (struct dma_heap_allocation_data){.len = 4096, .fd_flags = ~(uint32_t)(O_RDWR | O_CLOEXEC)};
  expect_errno(heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, "invalid fd_flags");
  d = (struct dma_heap_allocation_data){.len = 4096, .fd_flags = O_RDWR | O_CLOEXEC, .heap_flags = 0x111111};
  expect_errno(heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, "invalid heap_flags");
  d = (struct dma_heap_allocation_data){.len = 4096, .fd = 3, .fd_flags = O_RDWR | O_CLOEXEC};
  expect_errno(heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, "non-zero fd field");
  d = (struct dma_heap_allocation_data){.len = 0, .fd_flags = O_RDWR | O_CLOEXEC};
  expect_errno(heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, "zero length");
  d = (struct dma_heap_allocation_data){.len = ~0ull, .fd_flags = O_RDWR | O_CLOEXEC};
  expect_errno(heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, "length that wraps to 0 when page aligned");
  d = (struct dma_heap_allocation_data){.len = 1ull << 50, .fd_flags = O_RDWR | O_CLOEXEC};
  expect_errno(heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), ENOMEM, "huge length (1 PiB)");
  /* Order: fd != 0 is checked before everything else. */
  d = (struct dma_heap_allocation_data){.len = 0, .fd = 1, .fd_flags = ~0u, .heap_flags = 1};
  expect_errno(heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d), EINVAL, "all fields bad at once");
  d = (struct dma_heap_allocation_data){.len = 4096, .fd_flags = O_RDWR | O_CLOEXEC};
  expect_errno(heap_ioctl(heap, _IOWR(DMA_HEAP_IOC_MAGIC, 0x1, struct dma_heap_allocation_data), &d), EINVAL,
               "ioctl nr 1");
  expect_errno(heap_ioctl(heap, _IOWR(DMA_HEAP_IOC_MAGIC, 0x7f, struct dma_heap_allocation_data), &d), EINVAL,
               "ioctl nr 127");
  expect_errno(heap_ioctl(heap, _IO(DMA_HEAP_IOC_MAGIC, 0x0), NULL), EINVAL,
               "_IO command (nothing copied in: length 0)");
  expect_errno(heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, NULL), EFAULT, "NULL argument");
  expect_errno(heap_ioctl(heap, DMA_HEAP_IOCTL_ALLOC, (void *)8), EFAULT, "unmapped argument");

  /* Rounding: the length is silently page aligned. */
  int fd = alloc_buf(heap, 4097, O_RDWR);
  struct stat st;
  report(fd >= 0 && fstat(fd, &st) == 0 && st.st_size == 8192, "4097 bytes round up to 8192");
  if (fd >= 0) {
    int fdflags = fcntl(fd, F_GETFD);
    report(fdflags >= 0 && !(fdflags & FD_CLOEXEC), "fd_flags without O_CLOEXEC leaves FD_CLOEXEC clear");
    close(fd);
  }
  fd = alloc_buf(heap, 4096, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    report(p == MAP_FAILED && errno == EACCES, "an O_RDONLY buffer refuses a writable shared mapping (EACCES)");
    if (p != MAP_FAILED) munmap(p, 4096);
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    report(p != MAP_FAILED, "an O_RDONLY buffer maps read-only");
    if (p != MAP_FAILED) munmap(p, 4096);
    close(fd);
  } else {
    report(0, "allocate with O_RDONLY: %s", strerror(errno));
  }
}

static void test_buffer_ioctl_errors(int heap) {
  int fd = alloc_buf(heap, 4096, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    report(0, "allocate 4 KiB: %s", strerror(errno));
    return;
  }
  expect_errno(sync_buf(fd, DMA_BUF_SYNC_START), EINVAL, "SYNC START without a direction");
  expect_errno(sync_buf(fd, DMA_BUF_SYNC_END), EINVAL, "SYNC END without a direction");
  expect_errno(sync_buf(fd, 8 | DMA_BUF_SYNC_RW), EINVAL, "SYNC with an unknown flag bit");
  expect_errno(buf_ioctl(fd, DMA_BUF_IOCTL_SYNC, NULL), EFAULT, "SYNC with a NULL argument");

  const char *ok31 = "0123456789012345678901234567890"; /* 31 characters */
  const char *bad32 = "01234567890123456789012345678901";
  report(buf_ioctl(fd, DMA_BUF_SET_NAME_B, (void *)ok31) == 0, "SET_NAME_B with 31 characters");
  report(buf_ioctl(fd, DMA_BUF_SET_NAME_A, (void *)"camera-preview") == 0, "SET_NAME_A");
  expect_errno(buf_ioctl(fd, DMA_BUF_SET_NAME_B, (void *)bad32), EINVAL, "SET_NAME with 32 characters");
  expect_errno(buf_ioctl(fd, DMA_BUF_SET_NAME_B, NULL), EFAULT, "SET_NAME with a NULL pointer");
  expect_errno(buf_ioctl(fd, _IOW('b', 9, uint64_t), NULL), ENOTTY, "unknown dma-buf ioctl");

  struct dma_buf_export_sync_file ex = {.flags = DMA_BUF_SYNC_READ, .fd = -1};
  int r = buf_ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex);
  if (r < 0 && errno == ENOTTY) {
    report(1, "EXPORT_SYNC_FILE: not in this kernel (ENOTTY)");
  } else {
    struct pollfd pfd = {.fd = ex.fd, .events = POLLIN};
    report(r == 0 && ex.fd >= 0 && poll(&pfd, 1, 0) == 1, "EXPORT_SYNC_FILE gives a signalled fence");
    int fdflags = ex.fd >= 0 ? fcntl(ex.fd, F_GETFD) : -1;
    report(fdflags >= 0 && (fdflags & FD_CLOEXEC), "the sync_file fd is close-on-exec");
    struct dma_buf_import_sync_file im = {.flags = DMA_BUF_SYNC_WRITE, .fd = ex.fd};
    report(buf_ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im) == 0, "IMPORT_SYNC_FILE of that fence");
    if (ex.fd >= 0) close(ex.fd);
    ex = (struct dma_buf_export_sync_file){.flags = 0, .fd = -1};
    expect_errno(buf_ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex), EINVAL, "EXPORT_SYNC_FILE without a direction");
    ex = (struct dma_buf_export_sync_file){.flags = 4 | DMA_BUF_SYNC_READ, .fd = -1};
    expect_errno(buf_ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex), EINVAL, "EXPORT_SYNC_FILE with an unknown flag");
    im = (struct dma_buf_import_sync_file){.flags = DMA_BUF_SYNC_WRITE, .fd = fd};
    expect_errno(buf_ioctl(fd, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &im), EINVAL, "IMPORT_SYNC_FILE of a non-fence fd");
  }
  close(fd);
}

/* Only meaningful where the program itself issues the syscalls (raw build). */
static void test_untouched(int heap) {
  struct dma_heap_allocation_data d = {.len = 4096, .fd_flags = O_RDWR | O_CLOEXEC};
  expect_errno(ioctl(0 + 1000, DMA_HEAP_IOCTL_ALLOC, &d), EBADF, "ALLOC on a closed fd");
  int pipefd[2];
  if (pipe(pipefd) == 0) {
    expect_errno(ioctl(pipefd[0], DMA_HEAP_IOCTL_ALLOC, &d), ENOTTY, "ALLOC on a pipe is the pipe's business");
    close(pipefd[0]);
    close(pipefd[1]);
  }
  int memfd = (int)syscall(SYS_memfd_create, "not-a-dmabuf", 0);
  if (memfd >= 0) {
    expect_errno(sync_buf(memfd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW), ENOTTY,
                 "SYNC on the program's own memfd is the kernel's business");
    close(memfd);
  }
  char path[300];
  snprintf(path, sizeof path, "/dev/dma_heap/%s", heap_label);
  struct stat st;
  report(stat(path, &st) == 0 && S_ISCHR(st.st_mode), "the heap node is a character device");
  (void)heap;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (list_heaps() != 0 || heap_count == 0) {
    heap_label = "setup";
    report(0, "no heaps found");
    printf("%d passed, %d failed\n", passed, failed);
    return 1;
  }
  for (int i = 0; i < heap_count; ++i) {
    heap_label = heap_names[i];
    int heap = open_heap(heap_names[i]);
    if (heap < 0) {
      report(0, "open /dev/dma_heap/%s: %s", heap_names[i], strerror(errno));
      continue;
    }
    printf("# heap %s\n", heap_names[i]);
    test_alloc_mmap_sync(heap);
    test_zeroed(heap, 4096);
    test_zeroed(heap, MIB);
    test_compat(heap);
    test_alloc_errors(heap);
    test_buffer_ioctl_errors(heap);
    if (raw_syscalls) test_untouched(heap);
    close_heap(heap);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
