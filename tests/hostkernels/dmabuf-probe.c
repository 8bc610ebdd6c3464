// The host-kernel matrix's own guest program (docs/host-kernels.md). Two modes:
//
//   dmabuf-probe import [--socket PATH --dmaheap PATH] [--refused]
//     For every heap in /dev/dma_heap (the emulated ones under `dmaheap run`, the host's when run
//     natively): allocate 1 MiB, import it into vgem (DRM_IOCTL_PRIME_FD_TO_HANDLE on the
//     /dev/dri/card* whose driver is "vgem"), write and read it through the CPU mapping inside
//     SYNC START/END, then drop the GEM handle, the mapping and the fd. With --socket, the heap's
//     `used` bytes in `dmaheap stats --json` must rise by the buffer's size after the allocation
//     and come back to where they were once everything is gone. With --refused the buffers are
//     known not to be dma-bufs (the memfd backing): the import must fail with EINVAL and
//     everything else must hold. Prints "ok NAME" / "not ok NAME:
//     why" per check and "N passed, N failed" last; exits 1 on any failure.
//
//   dmabuf-probe costs [--makers]
//     What a camera or video program pays (docs/host-kernels.md, "Costs"), on whatever
//     /dev/dma_heap/system it finds (the kernel's own natively, the emulated one under `dmaheap
//     run --backing B`): the median of 200 ALLOC of 4 KiB, 40 of 1 MiB and 9 of 16 MiB (each
//     closed again) and of 400 SYNC pairs (START|RW, one CPU write, END|RW) on a mapped 1 MiB
//     buffer. With --makers (natively), the same SYNC pair and the making of a 1 MiB buffer on
//     the kernel's udmabuf and vgem, whichever it has: the reference for those backings (a
//     kernel without heaps then has only these rows). Prints
//     "cost NAME NANOSECONDS" lines and "N passed, N failed"; any failed ioctl is "not ok".
//
//   dmabuf-probe facts
//     Run natively in the guest: what the host kernel's dma-bufs look like (fdinfo fields and
//     reference counts, whether inotify reports their release, udmabuf's limits), for the host
//     heap, udmabuf over a sealed memfd and a vgem dumb buffer exported with PRIME, whichever
//     the kernel has. Prints "fact SOURCE KEY VALUE" lines; exits 0 unless it could not run.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <drm/drm.h>
#include <drm/drm_mode.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#define BUF_SIZE (1024 * 1024)

static int passed, failed;

static void result(int ok, const char* name, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
static void result(int ok, const char* name, const char* fmt, ...) {
  if (ok) {
    passed++;
    printf("ok %s\n", name);
  } else {
    failed++;
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    printf("not ok %s: %s\n", name, why);
  }
  fflush(stdout);
}

// The value of KEY in /proc/self/fdinfo/FD ("" when absent), without the tab.
static void fdinfo(int fd, const char* key, char* out, size_t len) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  out[0] = '\0';
  FILE* f = fopen(path, "r");
  if (!f) return;
  size_t klen = strlen(key);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      char* v = line + klen + 1;
      while (*v == ' ' || *v == '\t') v++;
      v[strcspn(v, "\n")] = '\0';
      snprintf(out, len, "%s", v);
      break;
    }
  }
  fclose(f);
}

// The /dev/dri/card* whose DRM driver is "vgem", open O_RDWR, or -1.
static int open_vgem(void) {
  for (int i = 0; i < 16; i++) {
    char path[32], name[64] = {0};
    snprintf(path, sizeof path, "/dev/dri/card%d", i);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    struct drm_version v = {0};
    v.name = name;
    v.name_len = sizeof name - 1;
    if (ioctl(fd, DRM_IOCTL_VERSION, &v) == 0 && strcmp(name, "vgem") == 0) return fd;
    close(fd);
  }
  return -1;
}

// ---------------------------------------------------------------- import

// `used` of HEAP in `DMAHEAP stats --json --socket SOCKET`, or -1.
static long long heap_used(const char* dmaheap, const char* socket, const char* heap) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s stats --json --socket %s", dmaheap, socket);
  FILE* p = popen(cmd, "r");
  if (!p) return -1;
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, p);
  text[n] = '\0';
  if (pclose(p) != 0) return -1;
  char* at = strstr(text, "\"heaps\"");
  char want[300];
  snprintf(want, sizeof want, "\"%s\"", heap);
  while (at && (at = strstr(at, "\"name\"")) != NULL) {
    char* v = at + 6;
    while (*v == ' ' || *v == ':' || *v == '\n') v++;
    if (strncmp(v, want, strlen(want)) == 0) {
      char* u = strstr(v, "\"used\"");
      if (!u) return -1;
      u += 6;
      while (*u == ' ' || *u == ':') u++;
      return strtoll(u, NULL, 10);
    }
    at = v;
  }
  return -1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double now(void) { return now_ns() / 1e9; }

static int refused;  // --refused: the import must fail (buffers that are not dma-bufs)

static void import_heap(const char* heap, int vgem, const char* dmaheap, const char* socket) {
  char name[300], path[300], val[128];
  long long used0 = -1;
  snprintf(path, sizeof path, "/dev/dma_heap/%s", heap);
  if (socket) used0 = heap_used(dmaheap, socket, heap);

  int heap_fd = open(path, O_RDONLY | O_CLOEXEC);
  struct dma_heap_allocation_data a = {.len = BUF_SIZE, .fd_flags = O_RDWR | O_CLOEXEC};
  snprintf(name, sizeof name, "%s alloc", heap);
  if (heap_fd < 0 || ioctl(heap_fd, DMA_HEAP_IOCTL_ALLOC, &a) != 0) {
    result(0, name, "%s", strerror(errno));
    if (heap_fd >= 0) close(heap_fd);
    return;
  }
  close(heap_fd);
  int buf = (int)a.fd;
  result(1, name, "%s", "");
  fdinfo(buf, "exp_name", val, sizeof val);
  printf("note %s: fdinfo exp_name %s\n", heap, val[0] ? val : "(none: not a dma-buf)");

  if (socket) {
    long long used1 = heap_used(dmaheap, socket, heap);
    snprintf(name, sizeof name, "%s model counts the buffer", heap);
    result(used0 >= 0 && used1 == used0 + BUF_SIZE, name, "used %lld before, %lld after", used0, used1);
  }

  uint32_t handle = 0;
  snprintf(name, sizeof name, refused ? "%s vgem import refused (not a dma-buf)" : "%s vgem import", heap);
  if (vgem < 0) {
    result(0, name, "no vgem device");
  } else if (refused) {
    struct drm_prime_handle h = {.fd = buf};
    int rc = ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &h);
    result(rc != 0 && errno == EINVAL, name, "%s", rc == 0 ? "imported" : strerror(errno));
    if (rc == 0) handle = h.handle;
  } else {
    struct drm_prime_handle h = {.fd = buf};
    if (ioctl(vgem, DRM_IOCTL_PRIME_FD_TO_HANDLE, &h) == 0) {
      handle = h.handle;
      result(1, name, "%s", "");
    } else {
      result(0, name, "DRM_IOCTL_PRIME_FD_TO_HANDLE: %s", strerror(errno));
    }
  }

  snprintf(name, sizeof name, "%s cpu write through the mapping", heap);
  unsigned char* m = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
  if (m == MAP_FAILED) {
    result(0, name, "mmap: %s", strerror(errno));
  } else {
    struct dma_buf_sync s = {.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
    int ok = ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == 0;
    for (size_t i = 0; i < BUF_SIZE; i++) m[i] = (unsigned char)(i * 7 + 1);
    for (size_t i = 0; ok && i < BUF_SIZE; i++) ok = m[i] == (unsigned char)(i * 7 + 1);
    s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
    ok = ok && ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == 0;
    result(ok, name, "SYNC or read-back failed: %s", strerror(errno));
  }

  // Everything goes: GEM handle (the importer's reference), mapping, fd.
  if (handle) {
    struct drm_gem_close c = {.handle = handle};
    ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &c);
  }
  if (m != MAP_FAILED) munmap(m, BUF_SIZE);
  close(buf);

  if (socket) {
    snprintf(name, sizeof name, "%s pages back to the model", heap);
    // The service learns of the release asynchronously; this bounds the wait, it does not time it.
    long long used2 = -1;
    double until = now() + 30;
    while ((used2 = heap_used(dmaheap, socket, heap)) != used0 && now() < until) usleep(100 * 1000);
    result(used2 == used0, name, "used %lld before the allocation, %lld 30 s after the release", used0, used2);
  }
}

static int cmp(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

static int do_import(int argc, char** argv) {
  const char* socket = NULL;
  const char* dmaheap = "dmaheap";
  for (int i = 0; i < argc; i += 2) {
    if (strcmp(argv[i], "--refused") == 0) {
      refused = 1;
      i--;
    } else if (i + 1 < argc && strcmp(argv[i], "--socket") == 0) {
      socket = argv[i + 1];
    } else if (i + 1 < argc && strcmp(argv[i], "--dmaheap") == 0) {
      dmaheap = argv[i + 1];
    } else {
      fprintf(stderr, "dmabuf-probe: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  int vgem = open_vgem();
  printf("note vgem: %s\n", vgem >= 0 ? "found" : "none");
  DIR* d = opendir("/dev/dma_heap");
  if (!d) {
    result(0, "/dev/dma_heap", "%s", strerror(errno));
  } else {
    char* names[64];
    int n = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL && n < 64)
      if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp);
    if (n == 0) result(0, "/dev/dma_heap", "no heaps");
    for (int i = 0; i < n; i++) import_heap(names[i], vgem, dmaheap, socket);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------- facts

static void fact(const char* src, const char* key, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
static void fact(const char* src, const char* key, const char* fmt, ...) {
  char v[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(v, sizeof v, fmt, ap);
  va_end(ap);
  printf("fact %s %s %s\n", src, key, v);
  fflush(stdout);
}

// Reference counts, names and release notification of one real dma-buf (the fd is consumed).
static void describe(const char* src, int buf, size_t size) {
  char v[128];
  fdinfo(buf, "exp_name", v, sizeof v);
  fact(src, "exp_name", "%s", v[0] ? v : "(none)");
  fdinfo(buf, "size", v, sizeof v);
  fact(src, "fdinfo-size", "%s", v);
  fdinfo(buf, "count", v, sizeof v);
  fact(src, "count-lone-fd", "%s", v);
  int dup_fd = dup(buf);
  fdinfo(buf, "count", v, sizeof v);
  fact(src, "count-with-dup", "%s", v);
  void* m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
  if (m == MAP_FAILED) fact(src, "mmap-shared", "%s", strerror(errno));
  fdinfo(buf, "count", v, sizeof v);
  fact(src, "count-with-dup-and-mapping", "%s", v);
  struct dma_buf_sync s = {.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
  fact(src, "sync", "%s", ioctl(buf, DMA_BUF_IOCTL_SYNC, &s) == 0 ? "ok" : strerror(errno));
  s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
  ioctl(buf, DMA_BUF_IOCTL_SYNC, &s);
  char nm[32] = "hk-name";
  fact(src, "set-name", "%s", ioctl(buf, DMA_BUF_SET_NAME_B, nm) == 0 ? "ok" : strerror(errno));
  fdinfo(buf, "name", v, sizeof v);
  fact(src, "fdinfo-name", "%s", v[0] ? v : "(none)");

  // inotify: watch the file through /proc/self/fd, then drop references one at a time.
  int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", buf);
  int wd = inotify_add_watch(in, p, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
  fact(src, "inotify-add-watch", "%s", wd >= 0 ? "ok" : strerror(errno));
  char ev[4096];
  close(dup_fd);
  ssize_t r = read(in, ev, sizeof ev);
  fact(src, "inotify-event-on-dup-close", "%s", r > 0 ? "yes" : "no");
  close(buf);
  r = read(in, ev, sizeof ev);
  fact(src, "inotify-event-on-last-fd-close-while-mapped", "%s", r > 0 ? "yes" : "no");
  if (m != MAP_FAILED) munmap(m, size);
  struct pollfd pf = {.fd = in, .events = POLLIN};
  int got = poll(&pf, 1, 3000);
  r = got > 0 ? read(in, ev, sizeof ev) : 0;
  const char* kind = "none";
  if (r > 0) {
    const struct inotify_event* e = (const void*)ev;
    kind = (e->mask & IN_CLOSE_WRITE) ? "IN_CLOSE_WRITE" : (e->mask & IN_CLOSE_NOWRITE) ? "IN_CLOSE_NOWRITE" : "other";
  }
  fact(src, "inotify-event-on-release", "%s", r > 0 ? kind : "no (none within 3 s)");
  close(in);
}

static int sealed_memfd(size_t size) {
  int fd = memfd_create("hk-udmabuf", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) return -1;
  return fd;
}

static int udmabuf_create(int dev, size_t size) {
  int memfd = sealed_memfd(size);
  if (memfd < 0) return -1;
  struct udmabuf_create c = {.memfd = (uint32_t)memfd, .flags = UDMABUF_FLAGS_CLOEXEC, .size = size};
  int buf = ioctl(dev, UDMABUF_CREATE, &c);
  int err = errno;
  close(memfd);  // udmabuf keeps the pages, not the memfd (docs/host-kernels.md)
  errno = err;
  return buf;
}

static int do_facts(void) {
  // The host heap.
  int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
  if (heap < 0) {
    fact("host-heap", "open", "%s", strerror(errno));
  } else {
    struct dma_heap_allocation_data a = {.len = BUF_SIZE, .fd_flags = O_RDWR | O_CLOEXEC};
    if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &a) != 0) fact("host-heap", "alloc", "%s", strerror(errno));
    else describe("host-heap", (int)a.fd, BUF_SIZE);
    close(heap);
  }

  // udmabuf over a sealed memfd, and its limits.
  static const char* params[] = {"size_limit_mb", "list_limit"};
  for (size_t i = 0; i < 2; i++) {
    char path[128], v[64] = "(absent)";
    snprintf(path, sizeof path, "/sys/module/udmabuf/parameters/%s", params[i]);
    FILE* f = fopen(path, "r");
    if (f) {
      if (fgets(v, sizeof v, f)) v[strcspn(v, "\n")] = '\0';
      fclose(f);
    }
    fact("udmabuf", params[i], "%s", v);
  }
  int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
  if (dev < 0) {
    fact("udmabuf", "open", "%s", strerror(errno));
  } else {
    int buf = udmabuf_create(dev, BUF_SIZE);
    if (buf < 0) fact("udmabuf", "create-1m", "%s", strerror(errno));
    else describe("udmabuf", buf, BUF_SIZE);
    static const size_t mib[] = {64, 65, 128};
    for (size_t i = 0; i < 3; i++) {
      char key[32];
      snprintf(key, sizeof key, "create-%zum", mib[i]);
      buf = udmabuf_create(dev, mib[i] << 20);
      fact("udmabuf", key, "%s", buf >= 0 ? "ok" : strerror(errno));
      if (buf >= 0) close(buf);
    }
    // F_SEAL_WRITE on the memfd is refused.
    int memfd = sealed_memfd(BUF_SIZE);
    fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE);
    struct udmabuf_create c = {.memfd = (uint32_t)memfd, .flags = UDMABUF_FLAGS_CLOEXEC, .size = BUF_SIZE};
    buf = ioctl(dev, UDMABUF_CREATE, &c);
    fact("udmabuf", "create-seal-write", "%s", buf >= 0 ? "ok" : strerror(errno));
    if (buf >= 0) close(buf);
    close(memfd);
    close(dev);
  }

  // vgem: a dumb buffer exported with PRIME.
  int vgem = open_vgem();
  if (vgem < 0) {
    fact("vgem", "open", "no /dev/dri/card* with driver vgem");
  } else {
    struct drm_mode_create_dumb cd = {.height = 256, .width = 1024, .bpp = 32};
    if (ioctl(vgem, DRM_IOCTL_MODE_CREATE_DUMB, &cd) != 0) {
      fact("vgem", "create-dumb", "%s", strerror(errno));
    } else {
      fact("vgem", "create-dumb-size", "%llu", (unsigned long long)cd.size);
      struct drm_prime_handle h = {.handle = cd.handle, .flags = DRM_CLOEXEC | DRM_RDWR};
      int rc = ioctl(vgem, DRM_IOCTL_PRIME_HANDLE_TO_FD, &h);
      struct drm_gem_close c = {.handle = cd.handle};
      ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &c);  // the dma-buf keeps the object
      if (rc != 0) fact("vgem", "prime-export", "%s", strerror(errno));
      else describe("vgem", h.fd, (size_t)cd.size);
    }
    close(vgem);
  }
  return 0;
}

// ---- costs
static int cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

// Runs make_one N times (each returns an fd, closed again, or -1) and prints the median time
// of the making as "cost NAME NS".
static void cost_of_making(const char* name, int n, int (*make_one)(void* ctx), void* ctx) {
  uint64_t t[200];
  if (n > 200) n = 200;
  for (int i = 0; i < n; i++) {
    uint64_t a = now_ns();
    int fd = make_one(ctx);
    t[i] = now_ns() - a;
    if (fd < 0) {
      result(0, name, "%s", strerror(errno));
      return;
    }
    close(fd);
  }
  qsort(t, (size_t)n, sizeof t[0], cmp_u64);
  printf("cost %s %llu\n", name, (unsigned long long)t[n / 2]);
  passed++;
}

// The SYNC pair of one frame on FD (LEN bytes, mapped here), N times; closes FD.
static void cost_of_sync(const char* name, int fd, size_t len, int n) {
  unsigned char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    result(0, name, "mmap: %s", strerror(errno));
    close(fd);
    return;
  }
  memset(p, 0x5a, len);
  uint64_t t[400];
  if (n > 400) n = 400;
  for (int i = 0; i < n; i++) {
    struct dma_buf_sync s = {.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
    uint64_t a = now_ns();
    int rc = ioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
    p[(size_t)i * 4096 % len] = (unsigned char)i;  // the frame's CPU access
    s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
    if (rc == 0) rc = ioctl(fd, DMA_BUF_IOCTL_SYNC, &s);
    t[i] = now_ns() - a;
    if (rc != 0) {
      result(0, name, "DMA_BUF_IOCTL_SYNC: %s", strerror(errno));
      munmap(p, len);
      close(fd);
      return;
    }
  }
  qsort(t, (size_t)n, sizeof t[0], cmp_u64);
  printf("cost %s %llu\n", name, (unsigned long long)t[n / 2]);
  passed++;
  munmap(p, len);
  close(fd);
}

struct heap_alloc { int heap; uint64_t len; };
static int make_heap_buffer(void* ctx) {
  struct heap_alloc* h = ctx;
  struct dma_heap_allocation_data a = {.len = h->len, .fd_flags = O_RDWR | O_CLOEXEC};
  return ioctl(h->heap, DMA_HEAP_IOCTL_ALLOC, &a) == 0 ? (int)a.fd : -1;
}

static int make_udmabuf(void* ctx) { return udmabuf_create(*(int*)ctx, BUF_SIZE); }

static int make_vgem_buffer(void* ctx) {
  int vgem = *(int*)ctx;
  struct drm_mode_create_dumb cd = {.height = 256, .width = 1024, .bpp = 32};  // 1 MiB
  if (ioctl(vgem, DRM_IOCTL_MODE_CREATE_DUMB, &cd) != 0) return -1;
  struct drm_prime_handle h = {.handle = cd.handle, .flags = DRM_CLOEXEC | DRM_RDWR};
  int rc = ioctl(vgem, DRM_IOCTL_PRIME_HANDLE_TO_FD, &h);
  int err = errno;
  struct drm_gem_close c = {.handle = cd.handle};
  ioctl(vgem, DRM_IOCTL_GEM_CLOSE, &c);  // the dma-buf keeps the object
  errno = err;
  return rc == 0 ? h.fd : -1;
}

// The making of N buffers by MAKE and the SYNC pair on one more, named PREFIX "create-1m" and
// PREFIX "sync-pair-1m" (the heap's ALLOC rows have their own names).
static void cost_of_maker(const char* prefix, int (*make)(void* ctx), void* ctx) {
  char create[64], sync[64];
  snprintf(create, sizeof create, "%screate-1m", prefix);
  snprintf(sync, sizeof sync, "%ssync-pair-1m", prefix);
  if (*prefix) cost_of_making(create, 40, make, ctx);
  int fd = make(ctx);
  if (fd < 0) result(0, sync, "making the buffer: %s", strerror(errno));
  else cost_of_sync(sync, fd, BUF_SIZE, 400);
}

static int do_costs(int argc, char** argv) {
  int makers = argc == 1 && strcmp(argv[0], "--makers") == 0;
  int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
  if (heap < 0 && !(makers && errno == ENOENT)) {
    result(0, "open /dev/dma_heap/system", "%s", strerror(errno));
  } else if (heap >= 0) {
    struct heap_alloc small = {heap, 4096}, mid = {heap, BUF_SIZE}, big = {heap, 16 << 20};
    cost_of_making("alloc-4k", 200, make_heap_buffer, &small);
    cost_of_making("alloc-1m", 40, make_heap_buffer, &mid);
    cost_of_making("alloc-16m", 9, make_heap_buffer, &big);
    cost_of_maker("", make_heap_buffer, &mid);
    close(heap);
  }
  if (makers) {
    int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC), vgem = open_vgem();
    if (dev >= 0) cost_of_maker("udmabuf-", make_udmabuf, &dev);
    if (vgem >= 0) cost_of_maker("vgem-", make_vgem_buffer, &vgem);
    if (dev >= 0) close(dev);
    if (vgem >= 0) close(vgem);
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "import") == 0) return do_import(argc - 2, argv + 2);
  if (argc == 2 && strcmp(argv[1], "facts") == 0) return do_facts();
  if (argc >= 2 && strcmp(argv[1], "costs") == 0) return do_costs(argc - 2, argv + 2);
  fprintf(stderr, "usage: dmabuf-probe import [--socket PATH --dmaheap PATH] [--refused] | costs [--makers] | facts\n");
  return 2;
}
