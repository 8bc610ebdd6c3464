// The seccomp filter of `dmaheap run`: the target sends the DMA-BUF heap and dma-buf ioctls to a
// user-notification listener, everything else runs untouched. Built with libseccomp for the
// native architecture and its compat ones (x86_64: i386 and x32; arm64: arm), so a 32-bit
// program's ioctls are seen too. Built by the supervisor before fork (libseccomp allocates),
// installed by the target itself (after fork, before exec); the listener fd goes to the
// supervisor.
#pragma once

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

// Linux 6.6 UAPI for synchronous wake-ups of the listener, newer than Debian 12's headers; the
// supervisor and the benchmark's seccomp floor ask for it the same way.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace dmaheap::emul {

// The system calls the filter can send to the listener. The path calls are sent only with
// emulate_paths (no mount namespace: the supervisor answers for /dev/dma_heap itself).
enum class Syscall { kIoctl, kOpen, kOpenat, kNewfstatat, kStat, kLstat, kStatx, kAccess, kFaccessat, kFaccessat2 };

// One system-call ABI the filter covers, as a notification names it (seccomp_data.arch and nr).
struct FilterAbi {
  std::string name;        // libseccomp's architecture name: "x86_64", "x86", "x32", ...
  uint32_t audit_arch = 0;  // seccomp_data.arch (x32 shares x86_64's)
  uint32_t ioctl_nr = 0;    // seccomp_data.nr of ioctl (x32's includes __X32_SYSCALL_BIT)
  bool pointers_32bit = false;  // compat ABI: the kernel zero-extends a 32-bit pointer (compat_ptr)
  bool native = false;          // the supervisor's own ABI (same struct stat)
  std::vector<std::pair<uint32_t, Syscall>> path_calls;  // nr of each path call this ABI has
};

// The ABIs of this build's architecture that the running libseccomp knows, native first.
const std::vector<FilterAbi>& filterAbis();

// Which ABI issued a notification; nullopt for an (arch, nr) that is not one of the filter's ioctls.
std::optional<FilterAbi> abiOfIoctl(uint32_t audit_arch, uint32_t nr);

// Which ABI and which of the filter's calls a notification is; nullopt for anything else.
struct DecodedCall {
  FilterAbi abi;
  Syscall call = Syscall::kIoctl;
};
std::optional<DecodedCall> decodeCall(uint32_t audit_arch, uint32_t nr);

// The filter as classic BPF, exported by libseccomp (seccomp_export_bpf). Matched, on every ABI
// of filterAbis(): ioctl whose cmd has, in its low 32 bits, type 'H' (any nr, size, direction:
// the heap node answers them all) or is exactly one of the five dma-buf commands; action
// SCMP_ACT_NOTIFY. Everything else, and any other architecture, is allowed.
// With emulate_paths, open, openat, newfstatat, stat, lstat, statx, access, faccessat and
// faccessat2 (each where the ABI has it) go to the listener too, whatever their arguments.
// `buffer_commands` (when given) narrows the dma-buf commands sent to those listed: with real
// dma-bufs only, the ones the host answers as the target would need no round trip
// (docs/emulation.md "Backings").
struct FilterProgram {
  std::vector<struct sock_filter> insns;
};
Result<FilterProgram> buildDmaHeapFilter(bool emulate_paths = false,
                                         const std::vector<uint32_t>* buffer_commands = nullptr);

// Loads `program` with seccomp(2) ourselves, not with seccomp_load: libseccomp 2.5.4 (Debian 12)
// cannot ask for SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (SCMP_FLTATR_CTL_WAITKILL is 2.6.0).
// Uses that flag where the kernel has it (5.19+), so a signal cannot restart an ioctl whose fd
// was already installed; *killable_wait says whether it did. Allocates nothing (safe between
// fork and exec). The caller must already have no_new_privs or CAP_SYS_ADMIN. EBUSY when a
// listener exists.
Result<UniqueFd> installDmaHeapFilter(const FilterProgram& program, bool* killable_wait = nullptr);

// True if the filter above would send an ioctl with this cmd to the listener.
bool filterMatchesIoctl(uint32_t cmd);

}  // namespace dmaheap::emul
