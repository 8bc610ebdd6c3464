// runProgram: `dmaheap run` as a library call. Forks; the child builds its private /dev with
// /dev/dma_heap (dev_namespace.h), sets PR_SET_PDEATHSIG(SIGKILL) so it never outlives its
// supervisor, installs the seccomp filter, hands the listener to the parent and execs the
// program. The parent supervises (supervisor.h) until the program exits, forwarding SIGTERM and
// SIGHUP, and returns the program's exit status.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "emulation/heap_backend.h"
#include "emulation/supervisor.h"

namespace dmaheap::emul {

enum class Namespaces {
  kAuto,           // a user namespace too when we lack CAP_SYS_ADMIN
  kMountOnly,      // unshare(CLONE_NEWNS): needs CAP_SYS_ADMIN
  kUserAndMount,   // unshare(CLONE_NEWUSER | CLONE_NEWNS): needs unprivileged user namespaces
  kNone,           // no namespace: the supervisor answers open/stat/access of /dev/dma_heap
                   // itself (dev_paths.h); what kAuto falls back to when user namespaces are refused
};

struct RunOptions {
  std::vector<std::string> argv;  // PROGRAM ARGS...; PROGRAM is looked up in PATH
  Namespaces namespaces = Namespaces::kAuto;
  SupervisorStats* stats = nullptr;  // filled in on return when given
  // Every ALLOC, SET_NAME and release goes here (docs/traces.md); a log made with
  // trace::Releases::kWatched, owned by the caller. The caller writes its start line.
  trace::TraceLog* trace = nullptr;
  // A simulated restriction for tests (userns_check.h): the user-namespace step fails with this
  // errno, and the sysctls are read from this directory. Unset: $DMAHEAP_SIMULATE_USERNS_ERRNO
  // and $DMAHEAP_SIMULATE_PROC_SYS, else none and /proc/sys.
  std::optional<int> simulated_userns_errno;
  std::optional<std::string> proc_sys;
};

// The program's exit status (0-255), or 128+N when it died of signal N; 127 when PROGRAM was
// not found, 126 when it could not be executed (with a line on stderr, as shells do). Errors:
// the set-up of the namespace or filter failed (errno and the step in the message). When a user
// namespace is needed and the system refuses one, that is found before the program starts:
// kUserAndMount fails with a message saying why and what to do (userns_check.h); kAuto prints
// that message and runs the program with kNone.
Result<int> runProgram(HeapBackend& backend, const RunOptions& options);

}  // namespace dmaheap::emul
