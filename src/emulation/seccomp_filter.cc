// A classic-BPF seccomp program: ioctl + {type 'H', five dma-buf commands} -> USER_NOTIF.
#include "emulation/seccomp_filter.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "heap/uapi.h"

namespace dmaheap::emul {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "dmaheap run: add this architecture's AUDIT_ARCH value"
#endif

constexpr uint32_t kBufCommands[] = {uapi::kBufIoctlSync, uapi::kBufSetNameA, uapi::kBufSetNameB,
                                     uapi::kBufExportSyncFile, uapi::kBufImportSyncFile};

// Offset of the low 32 bits of args[1] (little-endian on both supported architectures).
constexpr uint32_t kCmdLowOffset = offsetof(struct seccomp_data, args) + sizeof(uint64_t);

}  // namespace

bool filterMatchesIoctl(uint32_t cmd) {
  for (uint32_t c : kBufCommands)
    if (c == cmd) return true;
  return uapi::iocType(cmd) == uapi::kHeapMagic;
}

Result<UniqueFd> installDmaHeapFilter(bool* killable_wait) {
  constexpr uint8_t kNumBuf = sizeof(kBufCommands) / sizeof(kBufCommands[0]);
  // Layout: [0..3] arch and syscall checks, [4] load cmd, [5..9] one jeq per dma-buf command,
  // [10] and type mask, [11] jeq 'H', [12] allow, [13] notify.
  struct sock_filter prog[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 0, 10),  // -> allow
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 8),  // -> allow
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kCmdLowOffset),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kBufCommands[0], kNumBuf + 2, 0),  // -> notify
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kBufCommands[1], kNumBuf + 1, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kBufCommands[2], kNumBuf + 0, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kBufCommands[3], kNumBuf - 1, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kBufCommands[4], kNumBuf - 2, 0),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff00),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, uapi::kHeapMagic << 8, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
  };
  static_assert(sizeof(prog) / sizeof(prog[0]) == 14);
  struct sock_fprog fprog = {static_cast<unsigned short>(sizeof(prog) / sizeof(prog[0])), prog};

  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  long fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
  bool killable = true;
  if (fd < 0 && errno == EINVAL) {  // before 5.19: no WAIT_KILLABLE_RECV
    killable = false;
    fd = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
  }
  if (fd < 0) return makeError(errno, std::string("seccomp(SET_MODE_FILTER, NEW_LISTENER): ") + std::strerror(errno));
  if (killable_wait) *killable_wait = killable;
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace dmaheap::emul
