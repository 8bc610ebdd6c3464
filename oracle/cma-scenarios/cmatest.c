/* cmatest: CMA scenarios on a real kernel, for comparing `dmaheap simulate` with it
 * (oracle/cma-scenarios/README.md). Built static for the guest and run from its initramfs.
 *
 *     cmatest HEAP SCENARIO|all
 *
 * A scenario fills memory with movable pages (page cache of a tmpfs file, or anonymous memory)
 * until a given amount is left free, holds references on every Nth page of the fill the way I/O
 * in flight does (vmsplice into a pipe: the pages stay referenced, so migrating them fails and
 * cma_alloc must try another range), then allocates and frees CMA buffers through
 * /dev/dma_heap/HEAP step by step with the step loop of `dmaheap simulate` (src/simulate):
 * at each step, first the buffers whose lifetime ended are closed, then the pins whose time
 * ended are dropped, then every stream on its beat allocates one buffer while it has fewer than
 * `count` live. `all` runs every scenario in turn, each in a child process (its memory goes
 * back when it exits) after the page cache is dropped. Output, one item a line:
 *
 *     scenario NAME fill=none|page-cache|anon leave=BYTES pin_every=N pin_steps=P steps=S
 *     stream NAME SNAME size=BYTES count=C hold=H interval=I start=T
 *     state NAME before|filled|end COUNTERS    (before the fill, after fill and pins, at the end)
 *     step NAME STEP SNAME alloc SIZE ok|ENOMEM|... COUNTERS
 *     end NAME
 *
 * COUNTERS are /proc/vmstat's nr_free_pages nr_free_cma cma_alloc_success cma_alloc_fail
 * pgmigrate_success pgmigrate_fail as key=value (-1 when the kernel has no such counter), plus
 * pcp=PAGES (on the per-CPU free lists, /proc/zoneinfo), cma_used=PAGES (the area's bitmap, from debugfs), filled=BYTES (the fill actually made) and
 * pinned=PAGES on the state lines. The oracle boots the guest once per scenario (README.md says
 * why), `all` is for trying them out.
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
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dma-heap.h>

#define MIB (1024ull * 1024ull)
#define PAGE 4096ull
#define MAX_STREAMS 2
#define MAX_STEPS 64
#define MAX_PIPES 64
#define FILL_DIR "/mnt/cmatest" /* a tmpfs the init script mounts (ramfs pages are not movable) */

enum fill { FILL_NONE, FILL_PAGE_CACHE, FILL_ANON };

struct stream {
    const char *name;
    uint64_t size, count, hold, interval, start;
};

struct scenario {
    const char *name;
    enum fill fill;
    uint64_t leave;      /* bytes left free by the fill */
    uint64_t pin_every;  /* 0: no pins; N: every Nth page of the fill */
    uint64_t pin_steps;  /* the pins are dropped at the start of this step */
    uint64_t steps;
    struct stream streams[MAX_STREAMS];
};

/* The scenarios; README.md gives the reason for each. */
static const struct scenario scenarios[] = {
    { "idle", FILL_NONE, 0, 0, 0, 12, { { "buf", 4 * MIB, 4, 4, 1, 0 } } },
    { "page-cache", FILL_PAGE_CACHE, 96 * MIB, 0, 0, 12, { { "buf", 4 * MIB, 4, 4, 1, 0 } } },
    { "anon", FILL_ANON, 96 * MIB, 0, 0, 8, { { "buf", 8 * MIB, 2, 2, 1, 0 } } },
    { "pinned-sparse", FILL_ANON, 96 * MIB, 512, 100, 20, { { "buf", 4 * MIB, 16, 16, 1, 0 } } },
    { "pinned-dense", FILL_ANON, 96 * MIB, 16, 30, 34, { { "buf", 2 * MIB, 32, 32, 1, 0 } } },
    { "exhaust", FILL_PAGE_CACHE, 96 * MIB, 0, 0, 30, { { "buf", 4 * MIB, 20, 20, 1, 0 } } },
    { "mixed", FILL_ANON, 112 * MIB, 0, 0, 24,
      { { "big", 8 * MIB, 3, 6, 2, 0 }, { "small", 1 * MIB, 6, 3, 1, 1 } } },
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

static const char *errname(int e)
{
    switch (e) {
    case 0: return "ok";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    default: return "EOTHER";
    }
}

static const char *const counters[] = { "nr_free_pages", "nr_free_cma", "cma_alloc_success", "cma_alloc_fail",
                                        "pgmigrate_success", "pgmigrate_fail" };
#define N_COUNTERS (sizeof counters / sizeof counters[0])

static void read_vmstat(long long out[N_COUNTERS])
{
    FILE *f = fopen("/proc/vmstat", "re");
    char name[128];
    long long v;
    for (size_t i = 0; i < N_COUNTERS; ++i) out[i] = -1;
    if (!f) return;
    while (fscanf(f, "%127s %lld", name, &v) == 2)
        for (size_t i = 0; i < N_COUNTERS; ++i)
            if (strcmp(name, counters[i]) == 0) out[i] = v;
    fclose(f);
}

static void print_counters(void)
{
    long long v[N_COUNTERS];
    read_vmstat(v);
    for (size_t i = 0; i < N_COUNTERS; ++i) printf(" %s=%lld", counters[i], v[i]);
}

static uint64_t free_bytes(void)
{
    long long v[N_COUNTERS];
    read_vmstat(v);
    return v[0] > 0 ? (uint64_t)v[0] * PAGE : 0;
}

static uint64_t filled_bytes, pinned_pages;
static const char *heap_name;

/* A number from the CMA area's debugfs directory (CONFIG_CMA_DEBUGFS; the init script mounts
 * debugfs; the default area and its heap share the name): used (pages taken in its bitmap),
 * base_pfn, count. -1 when not readable. */
static long long debugfs_number(const char *file)
{
    char path[256];
    long long v = -1;
    snprintf(path, sizeof path, "/sys/kernel/debug/cma/%s/%s", heap_name, file);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    if (fscanf(f, "%lld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

/* Pages on the per-CPU free lists of every zone (/proc/zoneinfo, `count:` of each CPU's
 * pageset): free pages that NR_FREE_PAGES does not count, given back to the buddy allocator
 * when cma_alloc isolates its range. -1 when not readable. */
static long long pcp_pages(void)
{
    FILE *f = fopen("/proc/zoneinfo", "re");
    char line[256];
    long long n = 0, v;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, " count: %lld", &v) == 1) n += v;
    fclose(f);
    return n;
}

/* Pages of the CMA area on an LRU list (/proc/kpageflags bit 5, CONFIG_PROC_PAGE_MONITOR): the
 * page cache and anonymous pages borrowing the area. Also per 4 MiB of the area, in `map`. */
#define KPF_LRU 5
static long long borrowed_pages(char *map, size_t map_len)
{
    long long base = debugfs_number("base_pfn"), count = debugfs_number("count"), n = 0;
    int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    size_t used = 0;
    map[0] = '\0';
    if (base < 0 || count <= 0 || fd < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    uint64_t flags[1024];
    for (long long pfn = base; pfn < base + count; pfn += 1024) {
        long long chunk = 0;
        ssize_t got = pread(fd, flags, sizeof flags, (off_t)pfn * 8);
        for (ssize_t i = 0; i < got / 8 && pfn + i < base + count; ++i)
            if (flags[i] & (1ull << KPF_LRU)) chunk++;
        n += chunk;
        used += (size_t)snprintf(map + used, used < map_len ? map_len - used : 0, "%s%lld", used ? "," : "", chunk);
    }
    close(fd);
    return n;
}

static void state(const char *name, const char *when)
{
    char map[512];
    printf("state %s %s", name, when);
    print_counters();
    long long borrowed = borrowed_pages(map, sizeof map);
    printf(" pcp=%lld cma_pages=%lld cma_used=%lld borrowed=%lld filled=%llu pinned=%llu borrowed_map=%s\n", pcp_pages(),
           debugfs_number("count"), debugfs_number("used"), borrowed, (unsigned long long)filled_bytes,
           (unsigned long long)pinned_pages, map[0] ? map : "-");
    fflush(stdout);
}

/* Page cache: a tmpfs file written in 64 KiB blocks until `leave` bytes are free. */
static void fill_page_cache(uint64_t leave)
{
    static char block[1 << 16];
    int fd = open(FILL_DIR "/fill", O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    memset(block, 0x5a, sizeof block);
    if (fd < 0) {
        fprintf(stderr, "cmatest: %s/fill: %s\n", FILL_DIR, strerror(errno));
        return;
    }
    for (;;) {
        uint64_t f = free_bytes();
        if (f <= leave) break;
        uint64_t want = f - leave;
        if (want > 8 * MIB) want = 8 * MIB;
        for (uint64_t done = 0; done < want; done += sizeof block) {
            if (write(fd, block, sizeof block) != (ssize_t)sizeof block) goto out;
            filled_bytes += sizeof block;
        }
    }
out:
    close(fd);
}

/* Anonymous memory, touched page by page until `leave` bytes are free; the pages in fault order
 * (the order the kernel handed them out) go to `pages`. */
static char **fill_anon(uint64_t leave, uint64_t *n_pages)
{
    const uint64_t cap = (2048 * MIB) / PAGE; /* more than the guest's RAM: the fill stops first */
    char *p = mmap(NULL, cap * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    char **pages = mmap(NULL, cap * sizeof *pages, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint64_t n = 0;
    if (p == MAP_FAILED || pages == MAP_FAILED) return NULL;
    while (n < cap) {
        if ((n & 63) == 0 && free_bytes() <= leave) break;
        p[n * PAGE] = 1;
        pages[n] = p + n * PAGE;
        ++n;
    }
    filled_bytes = n * PAGE;
    *n_pages = n;
    return pages;
}

/* References held as by I/O in flight: every `every`-th page of the fill vmspliced into a pipe
 * and left there; until the pipe is closed, migrating those pages fails. */
static int pipes[MAX_PIPES][2], n_pipes;

static void pin_pages(char **pages, uint64_t n, uint64_t every)
{
    uint64_t room = 0;
    for (uint64_t i = 0; i < n; i += every) {
        if (room == 0) {
            if (n_pipes == MAX_PIPES || pipe2(pipes[n_pipes], O_CLOEXEC | O_NONBLOCK) != 0) return;
            int w = pipes[n_pipes][1];
            int sz = fcntl(w, F_SETPIPE_SZ, 16 << 20);
            if (sz < 0) sz = fcntl(w, F_GETPIPE_SZ);
            room = sz > 0 ? (uint64_t)sz / PAGE : 1;
            n_pipes++;
        }
        struct iovec iov = { pages[i], PAGE };
        if (vmsplice(pipes[n_pipes - 1][1], &iov, 1, SPLICE_F_NONBLOCK) != (ssize_t)PAGE) {
            room = 0; /* full: the next page goes into a new pipe */
            i -= every;
            continue;
        }
        pinned_pages++;
        room--;
    }
}

static void unpin_pages(void)
{
    for (int p = 0; p < n_pipes; ++p) {
        close(pipes[p][0]);
        close(pipes[p][1]);
    }
    n_pipes = 0;
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

static int run(const struct scenario *s)
{
    char **pages = NULL;
    uint64_t n_pages = 0;
    printf("scenario %s fill=%s leave=%llu pin_every=%llu pin_steps=%llu steps=%llu\n", s->name,
           s->fill == FILL_NONE ? "none" : s->fill == FILL_ANON ? "anon" : "page-cache",
           (unsigned long long)s->leave, (unsigned long long)s->pin_every, (unsigned long long)s->pin_steps,
           (unsigned long long)s->steps);
    for (int i = 0; i < MAX_STREAMS && s->streams[i].name; ++i) {
        const struct stream *t = &s->streams[i];
        printf("stream %s %s size=%llu count=%llu hold=%llu interval=%llu start=%llu\n", s->name, t->name,
               (unsigned long long)t->size, (unsigned long long)t->count, (unsigned long long)t->hold,
               (unsigned long long)t->interval, (unsigned long long)t->start);
    }
    state(s->name, "before");
    if (s->fill == FILL_PAGE_CACHE) fill_page_cache(s->leave);
    if (s->fill == FILL_ANON) {
        pages = fill_anon(s->leave, &n_pages);
        if (!pages) {
            fprintf(stderr, "cmatest: %s: no memory for the fill\n", s->name);
            return 1;
        }
        if (s->pin_every) pin_pages(pages, n_pages, s->pin_every);
    }
    state(s->name, "filled");

    /* fd[stream][step] of the buffer allocated at that step, -1 none */
    int fd[MAX_STREAMS][MAX_STEPS];
    memset(fd, 0xff, sizeof fd);
    uint64_t live[MAX_STREAMS] = { 0 };
    for (uint64_t step = 0; step < s->steps && step < MAX_STEPS; ++step) {
        for (int i = 0; i < MAX_STREAMS && s->streams[i].name; ++i) {
            const struct stream *t = &s->streams[i];
            if (step >= t->hold && fd[i][step - t->hold] >= 0) {
                close(fd[i][step - t->hold]);
                fd[i][step - t->hold] = -1;
                live[i]--;
            }
        }
        if (s->pin_every && step == s->pin_steps) {
            unpin_pages();
        }
        for (int i = 0; i < MAX_STREAMS && s->streams[i].name; ++i) {
            const struct stream *t = &s->streams[i];
            if (step < t->start || (step - t->start) % t->interval != 0 || live[i] >= t->count) continue;
            int err, f = alloc_buf(t->size, &err);
            printf("step %s %llu %s alloc %llu %s", s->name, (unsigned long long)step, t->name,
                   (unsigned long long)t->size, errname(err));
            print_counters();
            printf("\n");
            fflush(stdout);
            if (f >= 0) {
                fd[i][step] = f;
                live[i]++;
            }
        }
    }
    state(s->name, "end");
    printf("end %s\n", s->name);
    fflush(stdout);
    return 0;
}

static void drop_caches(void)
{
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    sync();
    if (fd >= 0) {
        if (write(fd, "3\n", 2) != 2) fprintf(stderr, "cmatest: drop_caches: %s\n", strerror(errno));
        close(fd);
    }
}

int main(int argc, char **argv)
{
    char path[256];
    if (argc != 3) {
        fprintf(stderr, "usage: cmatest HEAP SCENARIO|all\n");
        return 2;
    }
    heap_name = argv[1];
    snprintf(path, sizeof path, "/dev/dma_heap/%s", argv[1]);
    heap_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (heap_fd < 0) {
        fprintf(stderr, "cmatest: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int found = 0, rc = 0;
    for (size_t i = 0; i < N_SCENARIOS; ++i) {
        if (strcmp(argv[2], "all") != 0 && strcmp(argv[2], scenarios[i].name) != 0) continue;
        found = 1;
        /* a clean start: the previous scenario's file and page cache gone, its process exited */
        unlink(FILL_DIR "/fill");
        drop_caches();
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) _exit(run(&scenarios[i]));
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("failed %s status=%d\n", scenarios[i].name, st);
            rc = 1;
        }
        unlink(FILL_DIR "/fill");
    }
    drop_caches();
    if (!found) {
        fprintf(stderr, "cmatest: unknown scenario '%s'\n", argv[2]);
        return 2;
    }
    return rc;
}
