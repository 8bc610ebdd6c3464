/* cmatest: CMA scenarios on a real kernel, for comparing `dmaheap simulate` with it
 * (oracle/cma-scenarios/README.md). Built static for the guest and run from the oracle initramfs.
 *
 *     cmatest HEAP SCENARIO
 *
 * A scenario fills memory with movable pages (page cache of tmpfs files, anonymous memory),
 * holds references on some of them the way I/O in flight does (vmsplice into a pipe: the pages
 * stay referenced, so migration of them fails and cma_alloc must try another range), then
 * allocates and frees CMA buffers through /dev/dma_heap/HEAP. One line per step on stdout:
 *
 *     step SCENARIO N OP SIZE RESULT cma_alloc_success=A cma_alloc_fail=F pgmigrate_success=M nr_free_cma=P
 *
 * OP is alloc or free, RESULT ok or an errno name, the counters those of /proc/vmstat after the
 * step (absent counters print -1). The same scenario is a `dmaheap simulate` workload
 * (README.md says which), so the two can be compared step by step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/dma-heap.h>

#define MIB (1024ull * 1024ull)

static const char *errname(int e)
{
    switch (e) {
    case 0: return "ok";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EAGAIN: return "EAGAIN";
    default: return "EOTHER";
    }
}

static long long vmstat(const char *key)
{
    FILE *f = fopen("/proc/vmstat", "re");
    char name[128];
    long long v, out = -1;
    if (!f) return -1;
    while (fscanf(f, "%127s %lld", name, &v) == 2)
        if (strcmp(name, key) == 0) out = v;
    fclose(f);
    return out;
}

static void report(const char *scenario, int n, const char *op, uint64_t size, int err)
{
    printf("step %s %d %s %llu %s cma_alloc_success=%lld cma_alloc_fail=%lld pgmigrate_success=%lld nr_free_cma=%lld\n",
           scenario, n, op, (unsigned long long)size, errname(err), vmstat("cma_alloc_success"),
           vmstat("cma_alloc_fail"), vmstat("pgmigrate_success"), vmstat("nr_free_cma"));
    fflush(stdout);
}

/* Page cache: a tmpfs file of `bytes`, written (its pages are movable shmem pages). */
static void fill_page_cache(const char *path, uint64_t bytes)
{
    static char block[1 << 16];
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    memset(block, 0x5a, sizeof block);
    if (fd < 0) return;
    for (uint64_t done = 0; done < bytes; done += sizeof block)
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block) break;
    close(fd);
}

/* Anonymous memory, touched page by page. */
static void *fill_anon(uint64_t bytes)
{
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    for (uint64_t off = 0; off < bytes; off += 4096) p[off] = 1;
    return p;
}

/* References held as by I/O in flight: vmsplice() pages of `p` into a pipe and leave them
 * there; until the pipe is drained or closed, migrating them fails. Every `stride` pages one. */
static int pin_pages(char *p, uint64_t bytes, uint64_t stride)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    for (uint64_t off = 0; off < bytes; off += stride * 4096) {
        struct iovec iov = { p + off, 4096 };
        if (vmsplice(fds[1], &iov, 1, 0) < 0) break;
    }
    close(fds[1]);
    return fds[0]; /* closing it releases the references */
}

static int heap_fd;

static int alloc_buf(uint64_t size, int *err)
{
    struct dma_heap_allocation_data d = { .len = size, .fd_flags = O_RDWR | O_CLOEXEC };
    if (ioctl(heap_fd, DMA_HEAP_IOCTL_ALLOC, &d) != 0) {
        *err = errno;
        return -1;
    }
    *err = 0;
    return (int)d.fd;
}

/* A sequence of CMA buffers: `count` of `size`, each freed `hold` allocations after it came. */
static void stream(const char *scenario, uint64_t size, int count, int hold)
{
    int live[64], n_live = 0, step = 0;
    for (int i = 0; i < count; ++i) {
        int err, fd = alloc_buf(size, &err);
        report(scenario, step++, "alloc", size, err);
        if (fd >= 0 && n_live < 64) live[n_live++] = fd;
        if (n_live > hold) {
            close(live[0]);
            memmove(live, live + 1, sizeof(int) * (size_t)--n_live);
            report(scenario, step++, "free", size, 0);
        }
    }
    while (n_live > 0) close(live[--n_live]);
}

int main(int argc, char **argv)
{
    char path[256];
    if (argc != 3) {
        fprintf(stderr, "usage: cmatest HEAP SCENARIO\n");
        return 2;
    }
    snprintf(path, sizeof path, "/dev/dma_heap/%s", argv[1]);
    heap_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (heap_fd < 0) {
        fprintf(stderr, "cmatest: %s: %s\n", path, strerror(errno));
        return 1;
    }
    const char *s = argv[2];
    if (strcmp(s, "idle") == 0) {                  /* nothing borrowed: no migration */
        stream(s, 4 * MIB, 12, 4);
    } else if (strcmp(s, "page-cache") == 0) {     /* CMA borrowed by page cache, all movable */
        fill_page_cache("/tmp/cmatest-cache", 600 * MIB);
        stream(s, 4 * MIB, 12, 4);
    } else if (strcmp(s, "anon") == 0) {           /* borrowed by anonymous memory */
        if (!fill_anon(600 * MIB)) return 1;
        stream(s, 8 * MIB, 8, 2);
    } else if (strcmp(s, "pinned-sparse") == 0) {  /* one page in 512 held: some ranges busy */
        char *p = fill_anon(600 * MIB);
        if (!p) return 1;
        int pin = pin_pages(p, 600 * MIB, 512);
        stream(s, 4 * MIB, 12, 4);
        close(pin);
    } else if (strcmp(s, "pinned-dense") == 0) {   /* one page in 16 held: most ranges busy */
        char *p = fill_anon(600 * MIB);
        if (!p) return 1;
        int pin = pin_pages(p, 600 * MIB, 16);
        stream(s, 2 * MIB, 16, 8);
        close(pin);
        stream("pinned-dense-released", 2 * MIB, 16, 8); /* the same once the pins are gone */
    } else if (strcmp(s, "exhaust") == 0) {        /* until ENOMEM, then free all and retry */
        fill_page_cache("/tmp/cmatest-cache", 300 * MIB);
        stream(s, 4 * MIB, 20, 20);
        stream("exhaust-again", 4 * MIB, 4, 4);
    } else {
        fprintf(stderr, "cmatest: unknown scenario '%s'\n", s);
        return 2;
    }
    return 0;
}
