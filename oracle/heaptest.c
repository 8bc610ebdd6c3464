/* heaptest: probe every /dev/dma_heap/<name> of a real kernel with good and bad requests.
 *
 * Built static for arm64 (aarch64-linux-gnu-gcc -static) and run as part of the oracle
 * initramfs. One line per check on stdout:
 *
 *     errno <heap> <check> <result>
 *
 * where <result> is "ok", an errno name (EINVAL, EFAULT, ...) or a value (a size in bytes,
 * "yes"/"no"). The line set is stable, so golden files can be compared line by line.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dma-heap.h>

#ifndef DMA_BUF_SET_NAME_B
#define DMA_BUF_SET_NAME_B _IOW(DMA_BUF_BASE, 1, uint64_t)
#endif

static const char *heap_name;

static const char *errname(int e)
{
    switch (e) {
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case ENOMEM: return "ENOMEM";
    case ENOTTY: return "ENOTTY";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EBUSY: return "EBUSY";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EINTR: return "EINTR";
    case EMFILE: return "EMFILE";
    case EBADF: return "EBADF";
    case ENOSPC: return "ENOSPC";
    case EOVERFLOW: return "EOVERFLOW";
    case ESPIPE: return "ESPIPE";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
    }
}

static void report(const char *check, const char *result)
{
    printf("errno %s %s %s\n", heap_name, check, result);
    fflush(stdout);
}

static void report_rc(const char *check, int rc)
{
    report(check, rc == 0 ? "ok" : errname(errno));
}

static void report_num(const char *check, unsigned long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", v);
    report(check, buf);
}

/* One ALLOC with a caller-built request; closes any returned fd. Returns 0 or -1 with errno. */
static int alloc_raw(int heap, unsigned long cmd, void *arg)
{
    return ioctl(heap, cmd, arg);
}

static int alloc_fd(int heap, uint64_t len, uint32_t fd_flags)
{
    struct dma_heap_allocation_data d = {.len = len, .fd_flags = fd_flags};
    if (ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d) < 0)
        return -1;
    return (int)d.fd;
}

static void check_alloc(int heap, const char *check, struct dma_heap_allocation_data d)
{
    int rc = alloc_raw(heap, DMA_HEAP_IOCTL_ALLOC, &d);
    report_rc(check, rc);
    if (rc == 0)
        close((int)d.fd);
}

static void check_size(int heap, const char *check, uint64_t len)
{
    int fd = alloc_fd(heap, len, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        report(check, errname(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        report(check, errname(errno));
    else
        report_num(check, (unsigned long long)st.st_size);
    close(fd);
}

static unsigned long long cma_total_bytes(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CmaTotal: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

static void probe(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "/dev/dma_heap/%s", name);
    heap_name = name;
    int heap = open(path, O_RDONLY | O_CLOEXEC);
    if (heap < 0) {
        report("open", errname(errno));
        return;
    }
    report("open", "ok");

    /* the plain 1 MiB allocation and what the buffer fd does */
    int buf = alloc_fd(heap, 1 << 20, O_RDWR | O_CLOEXEC);
    report("alloc-1m", buf < 0 ? errname(errno) : "ok");
    if (buf >= 0) {
        struct stat st;
        report_num("alloc-1m-size", fstat(buf, &st) == 0 ? (unsigned long long)st.st_size : 0);
        off_t end = lseek(buf, 0, SEEK_END);
        report_num("alloc-1m-seek-end", (unsigned long long)end);

        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
        if (p == MAP_FAILED) {
            report("mmap-shared-rw", errname(errno));
        } else {
            memset(p, 0x5a, 1 << 20);
            report("mmap-shared-rw", p[(1 << 20) - 1] == 0x5a ? "ok" : "bad-data");
            munmap(p, 1 << 20);
        }
        p = mmap(NULL, 2 << 20, PROT_READ, MAP_SHARED, buf, 0);
        report("mmap-past-end", p == MAP_FAILED ? errname(errno) : "ok");
        if (p != MAP_FAILED)
            munmap(p, 2 << 20);
        p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, buf, 2 << 20);
        report("mmap-offset-past-end", p == MAP_FAILED ? errname(errno) : "ok");
        if (p != MAP_FAILED)
            munmap(p, 4096);

        struct dma_buf_sync s;
        s.flags = 0;
        report_rc("sync-0", ioctl(buf, DMA_BUF_IOCTL_SYNC, &s));
        s.flags = 8;
        report_rc("sync-8", ioctl(buf, DMA_BUF_IOCTL_SYNC, &s));
        s.flags = DMA_BUF_SYNC_END;
        report_rc("sync-end-only", ioctl(buf, DMA_BUF_IOCTL_SYNC, &s));
        s.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW;
        report_rc("sync-start-rw", ioctl(buf, DMA_BUF_IOCTL_SYNC, &s));
        s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
        report_rc("sync-end-rw", ioctl(buf, DMA_BUF_IOCTL_SYNC, &s));
        report_rc("sync-null", ioctl(buf, DMA_BUF_IOCTL_SYNC, NULL));

        char n31[32], n32[33];
        memset(n31, 'a', 31);
        n31[31] = 0;
        memset(n32, 'b', 32);
        n32[32] = 0;
        report_rc("set-name-31", ioctl(buf, DMA_BUF_SET_NAME_B, n31));
        report_rc("set-name-32", ioctl(buf, DMA_BUF_SET_NAME_B, n32));
        report_rc("set-name-empty", ioctl(buf, DMA_BUF_SET_NAME_B, ""));
        report_rc("buf-ioctl-nr9", ioctl(buf, _IOW(DMA_BUF_BASE, 9, uint64_t), &s));
        close(buf);
    }

    /* MAP_PRIVATE on a one-page buffer. (On a larger system-heap buffer the result depends on
     * whether the pages came as one chunk: remap_pfn_range refuses a partial COW mapping.) */
    buf = alloc_fd(heap, 4096, O_RDWR | O_CLOEXEC);
    if (buf < 0) {
        report("mmap-private-4k", errname(errno));
    } else {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, buf, 0);
        report("mmap-private-4k", p == MAP_FAILED ? errname(errno) : "ok");
        if (p != MAP_FAILED)
            munmap(p, 4096);
        close(buf);
    }

    /* read-only buffer, writable shared mapping */
    buf = alloc_fd(heap, 4096, O_RDONLY | O_CLOEXEC);
    if (buf < 0) {
        report("rdonly-mmap-write", errname(errno));
    } else {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
        report("rdonly-mmap-write", p == MAP_FAILED ? errname(errno) : "ok");
        if (p != MAP_FAILED)
            munmap(p, 4096);
        close(buf);
    }

    struct dma_heap_allocation_data d;
#define REQ(...) (d = (struct dma_heap_allocation_data){__VA_ARGS__}, d)
    check_alloc(heap, "len-0", REQ(.len = 0, .fd_flags = O_RDWR));
    check_alloc(heap, "len-max", REQ(.len = ~0ULL, .fd_flags = O_RDWR));
    check_alloc(heap, "fd-flags-ffff", REQ(.len = 4096, .fd_flags = 0xFFFF));
    check_alloc(heap, "fd-flags-nonblock", REQ(.len = 4096, .fd_flags = O_RDWR | O_NONBLOCK));
    check_alloc(heap, "fd-flags-wronly", REQ(.len = 4096, .fd_flags = O_WRONLY));
    check_alloc(heap, "heap-flags-1", REQ(.len = 4096, .fd_flags = O_RDWR, .heap_flags = 1));
    check_alloc(heap, "heap-flags-bit63",
                REQ(.len = 4096, .fd_flags = O_RDWR, .heap_flags = 1ULL << 63));
    check_alloc(heap, "fd-nonzero", REQ(.len = 4096, .fd = 5, .fd_flags = O_RDWR));
    report_rc("null-arg", ioctl(heap, DMA_HEAP_IOCTL_ALLOC, NULL));

    d = (struct dma_heap_allocation_data){.len = 4096, .fd_flags = O_RDWR};
    int rc = alloc_raw(heap, _IOWR(DMA_HEAP_IOC_MAGIC, 1, struct dma_heap_allocation_data), &d);
    report_rc("ioctl-nr1", rc);
    if (rc == 0)
        close((int)d.fd);
    d = (struct dma_heap_allocation_data){.len = 4096, .fd_flags = O_RDWR};
    rc = alloc_raw(heap, _IOWR('X', 0, struct dma_heap_allocation_data), &d);
    report_rc("ioctl-type-X", rc);
    if (rc == 0)
        close((int)d.fd);
    d = (struct dma_heap_allocation_data){.len = 4096, .fd_flags = O_RDWR};
    rc = alloc_raw(heap, _IO(DMA_HEAP_IOC_MAGIC, 0), &d);
    report_rc("ioctl-no-dir", rc);
    d = (struct dma_heap_allocation_data){.len = 4096, .fd_flags = O_RDWR};
    rc = alloc_raw(heap, _IOW(DMA_HEAP_IOC_MAGIC, 0, struct dma_heap_allocation_data), &d);
    report_rc("ioctl-iow", rc);
    report("ioctl-iow-fd-copied", d.fd != 0 ? "yes" : "no");

    /* 16-byte request: len, fd, fd_flags (heap_flags absent) */
    struct {
        uint64_t len;
        uint32_t fd, fd_flags;
    } small = {4096, 0, O_RDWR};
    rc = ioctl(heap, _IOWR(DMA_HEAP_IOC_MAGIC, 0, small), &small);
    report_rc("struct-16", rc);
    if (rc == 0) {
        report("struct-16-fd-copied", small.fd != 0 ? "yes" : "no");
        close((int)small.fd);
    }
    /* 48-byte request: the kernel copies the whole user size back */
    struct {
        struct dma_heap_allocation_data d;
        uint64_t tail[3];
    } big = {{.len = 4096, .fd_flags = O_RDWR}, {0x1111, 0x2222, 0x3333}};
    rc = ioctl(heap, _IOWR(DMA_HEAP_IOC_MAGIC, 0, big), &big);
    report_rc("struct-48", rc);
    if (rc == 0) {
        report("struct-48-tail-kept",
               big.tail[0] == 0x1111 && big.tail[1] == 0x2222 && big.tail[2] == 0x3333 ? "yes" : "no");
        close((int)big.d.fd);
    }

    check_size(heap, "len-1-size", 1);
    check_size(heap, "len-4097-size", 4097);

    report_rc("heap-read", read(heap, &d, sizeof d) < 0 ? -1 : 0);
    report_rc("heap-lseek", lseek(heap, 0, SEEK_SET) < 0 ? -1 : 0);

    /* a request larger than every CMA area: cma_alloc returns at once, silently.
     * (Not on the system heap: there the OOM killer answers, killing this program.) */
    if (strncmp(name, "system", 6) != 0) {
        unsigned long long big_len = cma_total_bytes() + (64ULL << 20);
        check_alloc(heap, "too-big", REQ(.len = big_len, .fd_flags = O_RDWR));
        /* as large as all CMA areas together: with one area this fits the bitmap but not the
         * free space, so cma_alloc searches, fails and logs "alloc failed" */
        check_alloc(heap, "len-cmatotal", REQ(.len = cma_total_bytes(), .fd_flags = O_RDWR));
        /* page-aligns to 2^64 - 4096 without wrapping, so it reaches the heap */
        check_alloc(heap, "len-max-minus-4095", REQ(.len = ~0ULL - 4095, .fd_flags = O_RDWR));
    }
    close(heap);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    DIR *dir = opendir("/dev/dma_heap");
    char *names[256];
    int n = 0;
    if (!dir) {
        printf("heaptest: no /dev/dma_heap (%s)\n", errname(errno));
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(dir)) && n < 256)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(dir);
    qsort(names, n, sizeof names[0], cmp);
    /* each heap in its own process: an oops while probing one heap kills only that child */
    for (int i = 0; i < n; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            probe(names[i]);
            fflush(stdout);
            _exit(0);
        }
        int status = 0;
        if (pid < 0) {
            probe(names[i]);
            continue;
        }
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status)) {
            char buf[32];
            heap_name = names[i];
            snprintf(buf, sizeof buf, "signal-%d", WTERMSIG(status));
            report("probe-killed", buf);
        }
    }
    return 0;
}
