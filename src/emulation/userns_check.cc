// The user-namespace pre-flight of `dmaheap run` and its one explanatory message.
#include "emulation/userns_check.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "base/unique_fd.h"

namespace dmaheap::emul {
namespace {

std::optional<long> readLong(const std::string& path) {
  std::ifstream in(path);
  long v = 0;
  if (!(in >> v)) return std::nullopt;
  return v;
}

// The steps, in the order the private /dev takes them (dev_namespace.cc).
constexpr const char* kSteps[] = {"unshare(CLONE_NEWUSER|CLONE_NEWNS)", "write /proc/self/setgroups",
                                  "write /proc/self/uid_map", "write /proc/self/gid_map",
                                  "mount(/, MS_REC|MS_PRIVATE) in the new namespace"};

bool writeAll(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int e = errno;
  ::close(fd);
  errno = e;
  return ok;
}

std::string sysctlLine(const char* name, long value) { return std::string(name) + " = " + std::to_string(value); }

}  // namespace

UserNamespaceSysctls readUserNamespaceSysctls(const std::string& proc_sys) {
  UserNamespaceSysctls s;
  s.max_user_namespaces = readLong(proc_sys + "/user/max_user_namespaces");
  s.unprivileged_userns_clone = readLong(proc_sys + "/kernel/unprivileged_userns_clone");
  s.apparmor_restrict = readLong(proc_sys + "/kernel/apparmor_restrict_unprivileged_userns");
  return s;
}

std::optional<UserNamespaceFailure> probeUserNamespace(int simulated_errno) {
  if (simulated_errno != 0) return UserNamespaceFailure{simulated_errno, kSteps[0]};
  const std::string uid_map = std::to_string(::geteuid()) + " " + std::to_string(::geteuid()) + " 1\n";
  const std::string gid_map = std::to_string(::getegid()) + " " + std::to_string(::getegid()) + " 1\n";
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return UserNamespaceFailure{errno, "pipe2"};
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  const pid_t child = ::fork();
  if (child < 0) return UserNamespaceFailure{errno, "fork"};
  if (child == 0) {
    int result[2] = {0, 0};  // step, errno
    auto failed = [&](int step) {
      result[0] = step;
      result[1] = errno;
      (void)!::write(wr.get(), result, sizeof result);
      ::_exit(1);
    };
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) failed(0);
    if (!writeAll("/proc/self/setgroups", "deny")) failed(1);
    if (!writeAll("/proc/self/uid_map", uid_map)) failed(2);
    if (!writeAll("/proc/self/gid_map", gid_map)) failed(3);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) failed(4);
    ::_exit(0);
  }
  wr.reset();
  int result[2] = {0, 0};
  ssize_t n;
  do n = ::read(rd.get(), result, sizeof result);
  while (n < 0 && errno == EINTR);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (n == static_cast<ssize_t>(sizeof result) && result[0] >= 0 && result[0] < 5) {
    return UserNamespaceFailure{result[1], kSteps[result[0]]};
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return UserNamespaceFailure{EIO, "the probe child died"};
  return std::nullopt;
}

Error explainUserNamespaceFailure(const UserNamespaceFailure& failure, const UserNamespaceSysctls& sysctls) {
  const bool at_unshare = failure.step == kSteps[0];
  std::string cause, fix;
  if (sysctls.max_user_namespaces && *sysctls.max_user_namespaces == 0) {
    cause = "the sysctl " + sysctlLine("user.max_user_namespaces", 0) + " allows none";
    fix = "sudo sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d/ to keep it)";
  } else if (sysctls.unprivileged_userns_clone && *sysctls.unprivileged_userns_clone == 0) {
    cause = "the sysctl " + sysctlLine("kernel.unprivileged_userns_clone", 0) + " reserves them to root";
    fix = "sudo sysctl -w kernel.unprivileged_userns_clone=1 (and in /etc/sysctl.d/ to keep it)";
  } else if (sysctls.apparmor_restrict && *sysctls.apparmor_restrict == 1) {
    cause = "AppArmor restricts them (" + sysctlLine("kernel.apparmor_restrict_unprivileged_userns", 1) +
            "): the namespace is created without the capabilities to mount";
    fix = "an AppArmor profile for dmaheap that allows 'userns,' (see apparmor.d(5)), or "
          "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0";
  } else if (failure.error == ENOSPC && at_unshare) {
    cause = "the limit of user namespaces is used up (user.max_user_namespaces = " +
            (sysctls.max_user_namespaces ? std::to_string(*sysctls.max_user_namespaces) : std::string("?")) + ")";
    fix = "raise it with sudo sysctl -w user.max_user_namespaces=N";
  } else if ((failure.error == EPERM || failure.error == EACCES) && at_unshare) {
    cause = "a container's seccomp profile blocks unshare(CLONE_NEWUSER) (none of the user-namespace sysctls "
            "forbids it)";
    fix = "run the container with a seccomp profile that allows unshare and clone with CLONE_NEWUSER "
          "(Docker: --security-opt seccomp=PROFILE)";
  } else if (failure.error == EINVAL && at_unshare) {
    cause = "this kernel has no user namespaces (CONFIG_USER_NS)";
    fix = "a kernel built with CONFIG_USER_NS=y";
  } else {
    cause = "a security module or the container refuses it";
    fix = "allow user namespaces for this user";
  }
  return makeError(failure.error,
                   "a user namespace is needed when not root, and this system refuses one: " + failure.step + ": " +
                       std::strerror(failure.error) + ", because " + cause + ". Fix: " + fix +
                       ". Without user namespaces: as root with CAP_SYS_ADMIN only a mount namespace is used "
                       "(sudo dmaheap run ...); otherwise dmaheap run can emulate /dev/dma_heap at the system-call "
                       "level, with either backend, which it does when it chooses by itself; a program linked "
                       "with libdmaheap needs no namespace");
}

int simulatedUserNamespaceErrno() {
  const char* v = std::getenv("DMAHEAP_SIMULATE_USERNS_ERRNO");
  if (!v || !*v) return 0;
  const std::string s = v;
  if (s == "EPERM") return EPERM;
  if (s == "ENOSPC") return ENOSPC;
  if (s == "EACCES") return EACCES;
  if (s == "EINVAL") return EINVAL;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return (end && *end == '\0' && n > 0 && n < 4096) ? static_cast<int>(n) : EPERM;
}

std::string procSysDirectory() {
  const char* v = std::getenv("DMAHEAP_SIMULATE_PROC_SYS");
  return v && *v ? std::string(v) : std::string("/proc/sys");
}

}  // namespace dmaheap::emul
