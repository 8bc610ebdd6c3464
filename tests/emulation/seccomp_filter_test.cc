// The libseccomp-built filter of `dmaheap run`, run on a small classic-BPF interpreter with the
// seccomp_data of each ABI: which (arch, nr, cmd) reach the listener and which run untouched.
#include "emulation/seccomp_filter.h"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>

#include <cstring>

namespace dmaheap::emul {
namespace {

// Runs `prog` on `data` as the kernel's seccomp BPF would; fails the test on an opcode it does
// not know rather than guessing.
uint32_t runFilter(const FilterProgram& prog, const struct seccomp_data& data) {
  uint8_t bytes[sizeof data];
  std::memcpy(bytes, &data, sizeof data);
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < prog.insns.size(); ++pc) {
    const struct sock_filter& in = prog.insns[pc];
    const uint32_t src = BPF_SRC(in.code) == BPF_X ? x : in.k;
    switch (BPF_CLASS(in.code)) {
      case BPF_LD:
        if (BPF_MODE(in.code) == BPF_ABS && BPF_SIZE(in.code) == BPF_W && in.k + 4 <= sizeof data) {
          std::memcpy(&a, bytes + in.k, 4);
        } else if (BPF_MODE(in.code) == BPF_IMM) {
          a = in.k;
        } else if (BPF_MODE(in.code) == BPF_MEM && in.k < BPF_MEMWORDS) {
          a = mem[in.k];
        } else {
          ADD_FAILURE() << "unknown load " << in.code;
          return 0;
        }
        break;
      case BPF_LDX:
        if (BPF_MODE(in.code) == BPF_IMM) x = in.k;
        else if (BPF_MODE(in.code) == BPF_MEM && in.k < BPF_MEMWORDS) x = mem[in.k];
        else {
          ADD_FAILURE() << "unknown ldx " << in.code;
          return 0;
        }
        break;
      case BPF_ST: mem[in.k % BPF_MEMWORDS] = a; break;
      case BPF_STX: mem[in.k % BPF_MEMWORDS] = x; break;
      case BPF_ALU:
        switch (BPF_OP(in.code)) {
          case BPF_AND: a &= src; break;
          case BPF_OR: a |= src; break;
          case BPF_ADD: a += src; break;
          case BPF_SUB: a -= src; break;
          case BPF_RSH: a >>= src; break;
          case BPF_LSH: a <<= src; break;
          default: ADD_FAILURE() << "unknown alu " << in.code; return 0;
        }
        break;
      case BPF_JMP: {
        bool taken = false;
        switch (BPF_OP(in.code)) {
          case BPF_JA: pc += in.k; continue;
          case BPF_JEQ: taken = a == src; break;
          case BPF_JGT: taken = a > src; break;
          case BPF_JGE: taken = a >= src; break;
          case BPF_JSET: taken = (a & src) != 0; break;
          default: ADD_FAILURE() << "unknown jump " << in.code; return 0;
        }
        pc += taken ? in.jt : in.jf;
        break;
      }
      case BPF_RET: return BPF_RVAL(in.code) == BPF_A ? a : in.k;
      case BPF_MISC:
        if (BPF_MISCOP(in.code) == BPF_TAX) x = a;
        else a = x;
        break;
      default: ADD_FAILURE() << "unknown class " << in.code; return 0;
    }
  }
  ADD_FAILURE() << "the program fell off its end";
  return 0;
}

struct seccomp_data callOf(uint32_t arch, int nr, uint64_t fd, uint64_t cmd) {
  struct seccomp_data d {};
  d.arch = arch;
  d.nr = nr;
  d.args[0] = fd;
  d.args[1] = cmd;
  d.args[2] = 0x1000;
  return d;
}

class FilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto built = buildDmaHeapFilter();
    ASSERT_TRUE(built.ok()) << built.error().message();
    prog_ = built.value();
  }
  uint32_t action(uint32_t arch, int nr, uint64_t cmd) { return runFilter(prog_, callOf(arch, nr, 3, cmd)); }
  FilterProgram prog_;
};

constexpr uint32_t kNotify = SECCOMP_RET_USER_NOTIF;
constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;

#if defined(__x86_64__)
constexpr int kX32Bit = 0x40000000;

TEST_F(FilterTest, NativeIoctlsOfHeapsAndBuffersReachTheListener) {
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, 16, 0xC0184800u), kNotify);            // DMA_HEAP_IOCTL_ALLOC
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, 16, 0xFFFFFFFFC0184800ull), kNotify);  // sign-extended
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, 16, 0x00004801u), kNotify);            // any 'H' command
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, 16, 0x40086201u), kNotify);            // SET_NAME_B
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, 16, 0x40086209u), kAllow);             // not a dma-buf command
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, 16, 0x5401u), kAllow);                 // TCGETS
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, 257, 0xC0184800u), kAllow);            // openat: not ioctl
}

TEST_F(FilterTest, I386IoctlsThroughTheCompatTableReachTheListener) {
  EXPECT_EQ(action(AUDIT_ARCH_I386, 54, 0xC0184800u), kNotify);
  EXPECT_EQ(action(AUDIT_ARCH_I386, 54, 0x40046201u), kNotify);  // DMA_BUF_SET_NAME of a 32-bit program
  EXPECT_EQ(action(AUDIT_ARCH_I386, 54, 0x40086200u), kNotify);  // SYNC
  EXPECT_EQ(action(AUDIT_ARCH_I386, 54, 0xC0086202u), kNotify);  // EXPORT_SYNC_FILE
  EXPECT_EQ(action(AUDIT_ARCH_I386, 54, 0x40086203u), kNotify);  // IMPORT_SYNC_FILE
  EXPECT_EQ(action(AUDIT_ARCH_I386, 54, 0x5401u), kAllow);
  EXPECT_EQ(action(AUDIT_ARCH_I386, 16, 0xC0184800u), kAllow);  // i386's 16 is lchown, not ioctl
}

TEST_F(FilterTest, X32IoctlsReachTheListener) {
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, kX32Bit | 514, 0xC0184800u), kNotify);
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, kX32Bit | 514, 0x40046201u), kNotify);
  EXPECT_EQ(action(AUDIT_ARCH_X86_64, kX32Bit | 514, 0x5401u), kAllow);
}

TEST_F(FilterTest, OtherArchitecturesRunUntouched) {
  EXPECT_EQ(action(AUDIT_ARCH_AARCH64, 29, 0xC0184800u), kAllow);
}

TEST(PathFilter, PathCallsReachTheListenerOnlyWhenAsked) {
  auto plain = buildDmaHeapFilter(false);
  auto paths = buildDmaHeapFilter(true);
  ASSERT_TRUE(plain.ok() && paths.ok());
  auto act = [](const FilterProgram& p, uint32_t arch, int nr) { return runFilter(p, callOf(arch, nr, 0, 0)); };
  EXPECT_EQ(act(plain.value(), AUDIT_ARCH_X86_64, 257), kAllow);   // openat
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_X86_64, 257), kNotify);
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_X86_64, 2), kNotify);    // open
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_X86_64, 262), kNotify);  // newfstatat
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_X86_64, 332), kNotify);  // statx
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_X86_64, 439), kNotify);  // faccessat2
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_X86_64, 110), kAllow);   // getppid
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_X86_64, 0), kAllow);     // read
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_I386, 295), kNotify);    // i386 openat
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_I386, 5), kNotify);      // i386 open
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_I386, 383), kNotify);    // i386 statx
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_I386, 64), kAllow);      // i386 getppid
  EXPECT_EQ(act(paths.value(), AUDIT_ARCH_X86_64, kX32Bit | 257), kNotify);  // x32 openat
  auto i386_openat = decodeCall(AUDIT_ARCH_I386, 295);
  ASSERT_TRUE(i386_openat);
  EXPECT_EQ(i386_openat->call, Syscall::kOpenat);
  EXPECT_TRUE(i386_openat->abi.pointers_32bit);
  EXPECT_FALSE(i386_openat->abi.native);
  auto native_stat = decodeCall(AUDIT_ARCH_X86_64, 262);
  ASSERT_TRUE(native_stat);
  EXPECT_EQ(native_stat->call, Syscall::kNewfstatat);
  EXPECT_TRUE(native_stat->abi.native);
}

TEST(FilterAbis, EachAbiNamesItsIoctlAndPointerWidth) {
  ASSERT_EQ(filterAbis().size(), 3u);
  auto native = abiOfIoctl(AUDIT_ARCH_X86_64, 16);
  ASSERT_TRUE(native);
  EXPECT_EQ(native->name, "x86_64");
  EXPECT_FALSE(native->pointers_32bit);
  auto i386 = abiOfIoctl(AUDIT_ARCH_I386, 54);
  ASSERT_TRUE(i386);
  EXPECT_EQ(i386->name, "x86");
  EXPECT_TRUE(i386->pointers_32bit);
  auto x32 = abiOfIoctl(AUDIT_ARCH_X86_64, kX32Bit | 514);
  ASSERT_TRUE(x32);
  EXPECT_EQ(x32->name, "x32");
  EXPECT_TRUE(x32->pointers_32bit);
  EXPECT_FALSE(abiOfIoctl(AUDIT_ARCH_I386, 16));
  EXPECT_FALSE(abiOfIoctl(AUDIT_ARCH_X86_64, 54));
}
#elif defined(__aarch64__)
TEST_F(FilterTest, NativeAndArmIoctlsReachTheListener) {
  EXPECT_EQ(action(AUDIT_ARCH_AARCH64, 29, 0xC0184800u), kNotify);
  EXPECT_EQ(action(AUDIT_ARCH_ARM, 54, 0xC0184800u), kNotify);
  EXPECT_EQ(action(AUDIT_ARCH_ARM, 54, 0x40046201u), kNotify);
  EXPECT_EQ(action(AUDIT_ARCH_ARM, 54, 0x5401u), kAllow);
  EXPECT_EQ(action(AUDIT_ARCH_AARCH64, 56, 0xC0184800u), kAllow);  // openat
}
#endif

}  // namespace
}  // namespace dmaheap::emul
