#include "heap/registry.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "fake_heap.h"

namespace dmaheap {
namespace {

using testing::FakeHeap;

Kernel kernelOf(int major, int minor) {
  Kernel k;
  k.version = KernelVersion::of(major, minor);
  return k;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_ = std::make_shared<FakeHeap::State>();
    ASSERT_TRUE(reg_.add("fake", std::make_shared<FakeHeap>(state_)));
    heap_ = reg_.find("fake");
    ASSERT_NE(heap_, nullptr);
  }
  int allocErrno(uapi::AllocationData d) {
    auto r = reg_.allocate(*heap_, d);
    return r.code();
  }
  std::shared_ptr<FakeHeap::State> state_;
  HeapRegistry reg_{Kernel{}};
  const HeapEntry* heap_ = nullptr;
};

TEST(Registry, NamingRules) {
  HeapRegistry r(kernelOf(6, 1));
  std::string log;
  EXPECT_EQ(r.add("", std::make_shared<FakeHeap>(), &log).code(), EINVAL);
  EXPECT_EQ(log, "dma_heap: Cannot add heap without a name");
  EXPECT_EQ(r.add("x", nullptr, &log).code(), EINVAL);
  EXPECT_EQ(log, "dma_heap: Cannot add heap with invalid ops struct");
  ASSERT_TRUE(r.add("system", std::make_shared<FakeHeap>()));
  EXPECT_EQ(r.add("system", std::make_shared<FakeHeap>(), &log).code(), EINVAL);
  EXPECT_EQ(log, "dma_heap: Already registered heap named system");

  HeapRegistry newer(kernelOf(6, 2));
  ASSERT_TRUE(newer.add("system", std::make_shared<FakeHeap>()));
  EXPECT_EQ(newer.add("system", std::make_shared<FakeHeap>(), &log).code(), EEXIST);
  EXPECT_EQ(log, "dma_heap: Unable to create device");
}

TEST(Registry, SlashBecomesBangAndListIsNewestFirst) {
  HeapRegistry r(Kernel{});
  ASSERT_TRUE(r.add("a/b", std::make_shared<FakeHeap>()));
  ASSERT_TRUE(r.add("c", std::make_shared<FakeHeap>()));
  EXPECT_EQ(r.find("a/b")->node_name, "a!b");
  EXPECT_EQ(r.find("a!b")->name, "a/b");
  auto list = r.heaps();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]->name, "c");
  EXPECT_EQ(list[0]->minor, 1u);
}

TEST(Registry, AtMost128Heaps) {
  HeapRegistry r(Kernel{});
  for (int i = 0; i < 128; ++i) ASSERT_TRUE(r.add("h" + std::to_string(i), std::make_shared<FakeHeap>()));
  std::string log;
  EXPECT_EQ(r.add("h128", std::make_shared<FakeHeap>(), &log).code(), EBUSY);
  EXPECT_EQ(log, "dma_heap: Unable to get minor number for heap");
  EXPECT_EQ(r.heaps().size(), 128u);
}

TEST_F(RegistryTest, ValidationOrderAndErrno) {
  // Each check fails on its own, and an earlier failing field wins over a later one.
  EXPECT_EQ(allocErrno({4096, 1, 0, 0}), EINVAL);                 // fd != 0
  EXPECT_EQ(allocErrno({4096, 0, 0xFFFF, 0}), EINVAL);            // fd_flags
  EXPECT_EQ(allocErrno({4096, 0, O_RDWR | O_NONBLOCK, 0}), EINVAL);
  EXPECT_EQ(allocErrno({4096, 0, 0, 1}), EINVAL);                 // heap_flags
  EXPECT_EQ(allocErrno({4096, 0, 0, 1ull << 63}), EINVAL);
  EXPECT_EQ(allocErrno({0, 0, 0, 0}), EINVAL);                    // len 0
  EXPECT_EQ(allocErrno({~0ull, 0, 0, 0}), EINVAL);                // wraps to 0
  EXPECT_EQ(allocErrno({~0ull - 4094, 0, 0, 0}), EINVAL);
  EXPECT_EQ(state_->live, 0);
  EXPECT_EQ(state_->last_len, 0u);  // the heap was never asked
  state_->fail_errno = EINTR;
  EXPECT_EQ(allocErrno({4096, 0, O_RDWR, 0}), EINTR);             // the heap's own errno
}

TEST_F(RegistryTest, LengthIsRoundedSilently) {
  auto b = reg_.allocate(*heap_, {1, 0, O_RDWR | O_CLOEXEC, 0});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value()->size(), 4096u);
  struct stat st {};
  ASSERT_EQ(fstat(b.value()->fd(), &st), 0);
  EXPECT_EQ(st.st_size, 4096);
  auto c = reg_.allocate(*heap_, {4097, 0, O_RDWR, 0});
  EXPECT_EQ(c.value()->size(), 8192u);
  EXPECT_EQ(state_->last_len, 8192u);
  EXPECT_EQ(reg_.allocate(*heap_, {~0ull - 8191, 0, O_RDWR, 0}).code(), ENOMEM) << "huge but valid";
}

TEST_F(RegistryTest, FdFlagsGiveAccessModeAndCloexec) {
  auto b = reg_.allocate(*heap_, {4096, 0, O_RDWR | O_CLOEXEC, 0});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(fcntl(b.value()->fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(fcntl(b.value()->fd(), F_GETFL) & O_ACCMODE, O_RDWR);
  auto ro = reg_.allocate(*heap_, {4096, 0, O_RDONLY, 0});
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(fcntl(ro.value()->fd(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(fcntl(ro.value()->fd(), F_GETFL) & O_ACCMODE, O_RDONLY);
}

TEST_F(RegistryTest, IoctlStructSizes) {
  // The 24-byte struct: fd written back.
  uapi::AllocationData d{8192, 0, O_RDWR | O_CLOEXEC, 0};
  auto b = reg_.ioctl(*heap_, uapi::kHeapIoctlAlloc, &d);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(static_cast<int>(d.fd), b.value()->fd());

  // Older 16-byte struct {len, fd, fd_flags}: heap_flags reads as 0, 16 bytes copied back.
  struct Old {
    uint64_t len;
    uint32_t fd, fd_flags;
    uint64_t canary;
  } old{4096, 0, O_RDWR, 0x1234};
  auto o = reg_.ioctl(*heap_, uapi::ioc(3, 'H', 0, 16), &old);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(static_cast<int>(old.fd), o.value()->fd());
  EXPECT_EQ(old.canary, 0x1234u);

  // Newer 48-byte struct: extra input ignored and copied back unchanged.
  struct New {
    uint64_t len;
    uint32_t fd, fd_flags;
    uint64_t heap_flags, a, b, c;
  } nw{4096, 0, O_RDWR, 0, 0xffffffff, 0x88888888, 0x11111111};
  auto n = reg_.ioctl(*heap_, uapi::ioc(3, 'H', 0, 48), &nw);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(static_cast<int>(nw.fd), n.value()->fd());
  EXPECT_EQ(nw.a, 0xffffffffu);
  EXPECT_EQ(nw.c, 0x11111111u);

  // nr >= 1 is EINVAL, not ENOTTY; the type byte is not checked.
  uapi::AllocationData e{4096, 0, O_RDWR, 0};
  EXPECT_EQ(reg_.ioctl(*heap_, uapi::ioc(3, 'H', 1, 24), &e).code(), EINVAL);
  EXPECT_TRUE(reg_.ioctl(*heap_, uapi::ioc(3, 'X', 0, 24), &e).ok());
  // Null argument: EFAULT.
  EXPECT_EQ(reg_.ioctl(*heap_, uapi::kHeapIoctlAlloc, nullptr).code(), EFAULT);
  // _IOW: allocates, but nothing is copied back.
  uapi::AllocationData w{4096, 0, O_RDWR, 0};
  auto wr = reg_.ioctl(*heap_, uapi::ioc(1, 'H', 0, 24), &w);
  ASSERT_TRUE(wr.ok());
  EXPECT_EQ(w.fd, 0u);
  // _IOR and _IO: nothing read in, so len is 0.
  uapi::AllocationData r{4096, 0, O_RDWR, 0};
  EXPECT_EQ(reg_.ioctl(*heap_, uapi::ioc(2, 'H', 0, 24), &r).code(), EINVAL);
  EXPECT_EQ(reg_.ioctl(*heap_, uapi::ioc(0, 'H', 0, 0), &r).code(), EINVAL);
}

TEST(HeapIoctlPlan, Sizes) {
  auto p = planHeapIoctl(uapi::ioc(3, 'H', 0, 200)).value();
  EXPECT_EQ(p.in_size, 200u);
  EXPECT_EQ(p.out_size, 200u);
  EXPECT_EQ(p.ksize, 200u);
  auto q = planHeapIoctl(uapi::ioc(1, 'H', 0, 8)).value();
  EXPECT_EQ(q.in_size, 8u);
  EXPECT_EQ(q.out_size, 0u);
  EXPECT_EQ(q.ksize, 24u);
  EXPECT_EQ(planHeapIoctl(0xC0184801u).code(), EINVAL);
}

}  // namespace
}  // namespace dmaheap
