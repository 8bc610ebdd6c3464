// The seccomp filter of `dmaheap run`: the target sends the DMA-BUF heap and dma-buf ioctls to a
// user-notification listener, everything else runs untouched. Installed by the target itself
// (after fork, before exec); the listener fd goes to the supervisor.
#pragma once

#include <cstdint>

#include "base/result.h"
#include "base/unique_fd.h"

namespace dmaheap::emul {

// Matched: ioctl with the low 32 bits of cmd of type 'H' (any nr, size, direction: the heap
// node answers them all), or exactly one of the five dma-buf commands. Other architectures'
// system calls (e.g. x32, i386 on x86-64) pass through.
//
// Uses SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV where the kernel has it (5.19+), so a signal
// cannot restart an ioctl whose fd was already installed; *killable_wait says whether it did.
// The caller must already have no_new_privs or CAP_SYS_ADMIN. EBUSY when a listener exists.
Result<UniqueFd> installDmaHeapFilter(bool* killable_wait = nullptr);

// True if the filter above would send (syscall nr, cmd) to the listener on this architecture.
bool filterMatchesIoctl(uint32_t cmd);

}  // namespace dmaheap::emul
