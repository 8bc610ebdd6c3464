// Whether `dmaheap run` can get the user namespace it needs when not root, checked BEFORE the
// program starts, and when not, why (docs/emulation.md "Without user namespaces"): one message
// that names the restriction (a sysctl, AppArmor, or a container's seccomp profile), its fix,
// and what works here instead.
#pragma once

#include <optional>
#include <string>

#include "base/result.h"

namespace dmaheap::emul {

// The knobs that decide whether an unprivileged process may create a user namespace; nullopt
// where the file does not exist on this kernel.
struct UserNamespaceSysctls {
  std::optional<long> max_user_namespaces;        // user.max_user_namespaces (0: none at all)
  std::optional<long> unprivileged_userns_clone;  // kernel.unprivileged_userns_clone (Debian <= 10 kernels)
  std::optional<long> apparmor_restrict;          // kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10+)
};

// Reads them under `proc_sys` (normally /proc/sys).
UserNamespaceSysctls readUserNamespaceSysctls(const std::string& proc_sys = "/proc/sys");

// Where the set-up of a user namespace failed.
struct UserNamespaceFailure {
  int error = 0;     // errno
  std::string step;  // "unshare(CLONE_NEWUSER|CLONE_NEWNS)", "write /proc/self/uid_map", ...
};

// The steps the private /dev needs first, tried in a throw-away child: unshare(CLONE_NEWUSER |
// CLONE_NEWNS), the identity uid and gid maps, and making / private (what an AppArmor
// restriction refuses after unshare succeeded). nullopt when they all work. `simulated_errno`
// (non-zero) stands for a restriction in tests: the unshare step fails with it, nothing is tried.
std::optional<UserNamespaceFailure> probeUserNamespace(int simulated_errno = 0);

// The one message for a failed probe: cause, fix, and the path that works without user
// namespaces. Returns the error to report (the probe's errno).
Error explainUserNamespaceFailure(const UserNamespaceFailure& failure, const UserNamespaceSysctls& sysctls);

// The errno a test asks to simulate with DMAHEAP_SIMULATE_USERNS_ERRNO ("EPERM", "ENOSPC",
// "EACCES", "EINVAL" or a number); 0 when unset. The sysctl directory a test substitutes with
// DMAHEAP_SIMULATE_PROC_SYS, else /proc/sys.
int simulatedUserNamespaceErrno();
std::string procSysDirectory();

}  // namespace dmaheap::emul
