/* The C API: list the heaps, allocate from the system heap, bracket CPU access. */
#include <dmaheap/dmaheap.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
  dmaheap_allocator *a;
  int err = dmaheap_allocator_create(NULL, &a);
  if (err) {
    fprintf(stderr, "dmaheap_allocator_create: %s\n", strerror(-err));
    return 1;
  }
  printf("backend: %s\n", dmaheap_allocator_backend(a));
  int n = dmaheap_heap_count(a);
  for (int i = 0; i < n; ++i) {
    struct dmaheap_heap_info info;
    if (dmaheap_heap_get_info(a, i, &info) == 0) printf("  heap %s (%s)\n", info.name, info.type);
  }
  int fd;
  err = dmaheap_alloc_capability(a, "system", 1 << 20, &fd);
  if (err) {
    fprintf(stderr, "alloc: %s\n", strerror(-err));
    return 1;
  }
  char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  dmaheap_cpu_access_begin(a, fd, DMAHEAP_CPU_WRITE);
  memset(p, 1, 1 << 20);
  dmaheap_cpu_access_end(a, fd, DMAHEAP_CPU_WRITE);
  printf("wrote 1 MiB through fd %d\n", fd);
  munmap(p, 1 << 20);
  close(fd);
  dmaheap_allocator_destroy(a);
  return 0;
}
