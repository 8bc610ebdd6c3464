// libdmaheap's C API: handle checks, -errno returns, and the conformance program built on it.
#include "dmaheap/dmaheap.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace {

TEST(CApi, NullAllocatorIsEinvalEverywhere) {
  int fd = -1;
  struct dmaheap_heap_info info;
  EXPECT_EQ(dmaheap_heap_count(nullptr), -EINVAL);
  EXPECT_EQ(dmaheap_heap_get_info(nullptr, 0, &info), -EINVAL);
  EXPECT_EQ(dmaheap_alloc(nullptr, "system", 4096, &fd), -EINVAL);
  EXPECT_EQ(dmaheap_alloc_capability(nullptr, "system", 4096, &fd), -EINVAL);
  EXPECT_EQ(dmaheap_cpu_access_begin(nullptr, 0, DMAHEAP_CPU_READ), -EINVAL);
  EXPECT_EQ(dmaheap_set_name(nullptr, 0, "x"), -EINVAL);
  EXPECT_EQ(dmaheap_heap_ioctl(nullptr, "system", 0, nullptr), -EINVAL);
  EXPECT_STREQ(dmaheap_allocator_backend(nullptr), "");
  dmaheap_allocator* a = nullptr;
  EXPECT_EQ(dmaheap_allocator_create("bogus", &a), -EINVAL);
  dmaheap_allocator_destroy(nullptr);
}

TEST(CApi, AllocatesListsAndBrackets) {
  dmaheap_allocator* a = nullptr;
  ASSERT_EQ(dmaheap_allocator_create("embedded", &a), 0);
  EXPECT_STREQ(dmaheap_allocator_backend(a), "embedded");
  ASSERT_EQ(dmaheap_heap_count(a), 3);
  struct dmaheap_heap_info info;
  ASSERT_EQ(dmaheap_heap_get_info(a, 2, &info), 0);
  EXPECT_STREQ(info.name, "system");
  EXPECT_STREQ(info.type, "system");
  EXPECT_EQ(info.contiguous, 0);
  EXPECT_EQ(dmaheap_heap_get_info(a, 3, &info), -ERANGE);
  char name[8];
  EXPECT_EQ(dmaheap_resolve_capability(a, "contiguous", name, sizeof name), -ERANGE);
  char big[64];
  EXPECT_EQ(dmaheap_resolve_capability(a, "contiguous", big, sizeof big), 0);
  EXPECT_STREQ(big, "default_cma_region");
  EXPECT_EQ(dmaheap_resolve_capability(a, "fast", big, sizeof big), -EINVAL);
  int fd = -1;
  ASSERT_EQ(dmaheap_alloc_capability(a, "contiguous", 1 << 20, &fd), 0);
  EXPECT_EQ(dmaheap_cpu_access_begin(a, fd, DMAHEAP_CPU_READ_WRITE), 0);
  EXPECT_EQ(dmaheap_cpu_access_end(a, fd, DMAHEAP_CPU_READ_WRITE), 0);
  EXPECT_EQ(dmaheap_cpu_access_end(a, fd, 0), -EINVAL);
  EXPECT_EQ(dmaheap_set_name(a, fd, "0123456789012345678901234567890"), 0);
  EXPECT_EQ(dmaheap_set_name(a, fd, "01234567890123456789012345678901"), -EINVAL);
  close(fd);
  EXPECT_EQ(dmaheap_alloc(a, "nosuch", 4096, &fd), -ENOENT);
  EXPECT_EQ(dmaheap_alloc(a, "system", 0, &fd), -EINVAL);
  dmaheap_allocator_destroy(a);
}

// Runs a program with extra environment; returns its exit status and its last output line.
std::pair<int, std::string> runWithEnv(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  std::string last;
  char line[1024];
  while (p && std::fgets(line, sizeof line, p)) last = line;
  const int st = p ? ::pclose(p) : -1;
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, last};
}

TEST(CApi, ConformanceProgramOnTheEmbeddedBackend) {
  auto [status, last] = runWithEnv("CONFORMANCE_BACKEND=embedded " DMAHEAP_CONFORMANCE_LIB);
  EXPECT_EQ(status, 0) << last;
  EXPECT_NE(last.find(" passed, 0 failed"), std::string::npos) << last;
}

}  // namespace
