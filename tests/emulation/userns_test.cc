// `dmaheap run` where user namespaces are refused: found before the program starts, named with
// its cause and fix in one message; refused when a user namespace was asked for, and the root
// path and the namespace-free emulation still work. The restrictions are simulated
// (a sysctl directory of our own and the errno the restriction gives, as the kernel's sysctls
// cannot be changed for one test), except the container's seccomp profile, which is real: a
// filter that refuses unshare(CLONE_NEWUSER) with EPERM, as Docker's default profile does.
#include <gtest/gtest.h>
#include <seccomp.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "emulation/runner.h"
#include "emulation/userns_check.h"
#include "tests/emulation/backend_fixture.h"

namespace dmaheap::emul {
namespace {

namespace fs = std::filesystem;

#ifdef DMAHEAP_CONFORMANCE_STATIC
#define DMAHEAP_CONFORMANCE_STATIC_OR_DYNAMIC DMAHEAP_CONFORMANCE_STATIC
#else
#define DMAHEAP_CONFORMANCE_STATIC_OR_DYNAMIC DMAHEAP_CONFORMANCE
#endif

class UserNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dmaheap-userns-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "user");
    fs::create_directories(dir_ / "kernel");
    marker_ = (dir_ / "started").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  void sysctl(const std::string& rel, long value) { std::ofstream(dir_ / rel) << value << "\n"; }
  // Runs a program that leaves a marker, under a restriction giving `err`.
  Result<int> runRestricted(int err) {
    RunOptions o;
    o.argv = {"sh", "-c", "touch " + marker_};
    o.namespaces = Namespaces::kUserAndMount;
    o.simulated_userns_errno = err;
    o.proc_sys = dir_.string();
    return runProgram(*backend_, o);
  }
  bool started() const { return fs::exists(marker_); }

  std::unique_ptr<EmbeddedBackend> backend_ = testing::defaultBackend();
  fs::path dir_;
  std::string marker_;
};

TEST_F(UserNamespaceTest, MaxUserNamespacesZero) {
  sysctl("user/max_user_namespaces", 0);
  auto r = runRestricted(ENOSPC);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ENOSPC);
  EXPECT_NE(r.error().message().find("user.max_user_namespaces = 0"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("sysctl -w user.max_user_namespaces="), std::string::npos);
  EXPECT_NE(r.error().message().find("as root with CAP_SYS_ADMIN only a mount namespace is used"), std::string::npos);
  EXPECT_FALSE(started());
}

TEST_F(UserNamespaceTest, DebianUnprivilegedUsernsClone) {
  sysctl("user/max_user_namespaces", 63000);
  sysctl("kernel/unprivileged_userns_clone", 0);
  auto r = runRestricted(EPERM);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), EPERM);
  EXPECT_NE(r.error().message().find("kernel.unprivileged_userns_clone = 0"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("sysctl -w kernel.unprivileged_userns_clone=1"), std::string::npos);
  EXPECT_FALSE(started());
}

TEST_F(UserNamespaceTest, UbuntuAppArmorRestriction) {
  sysctl("user/max_user_namespaces", 63000);
  sysctl("kernel/apparmor_restrict_unprivileged_userns", 1);
  auto r = runRestricted(EACCES);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), EACCES);
  EXPECT_NE(r.error().message().find("kernel.apparmor_restrict_unprivileged_userns = 1"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("AppArmor profile"), std::string::npos);
  EXPECT_FALSE(started());
}

TEST_F(UserNamespaceTest, EpermWithNoSysctlIsTheContainersSeccompProfile) {
  sysctl("user/max_user_namespaces", 63000);
  sysctl("kernel/apparmor_restrict_unprivileged_userns", 0);
  auto r = runRestricted(EPERM);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), EPERM);
  EXPECT_NE(r.error().message().find("a container's seccomp profile"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("emulate /dev/dma_heap at the system-call level"), std::string::npos);
  EXPECT_NE(r.error().message().find("The program was not started"), std::string::npos);
  EXPECT_FALSE(started());
}

TEST_F(UserNamespaceTest, UsedUpLimit) {
  sysctl("user/max_user_namespaces", 5);
  auto r = runRestricted(ENOSPC);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("the limit of user namespaces is used up (user.max_user_namespaces = 5)"),
            std::string::npos)
      << r.error().message();
}

TEST_F(UserNamespaceTest, RootNeedsNoUserNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  sysctl("user/max_user_namespaces", 0);
  RunOptions o;
  o.argv = {DMAHEAP_CONFORMANCE};
  o.simulated_userns_errno = ENOSPC;  // kAuto as root: only a mount namespace, never asked
  o.proc_sys = dir_.string();
  auto r = runProgram(*backend_, o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r.value(), 0);
}

TEST(UserNamespaceSysctls, ReadWhereTheyExist) {
  auto none = readUserNamespaceSysctls("/nonexistent");
  EXPECT_FALSE(none.max_user_namespaces);
  EXPECT_FALSE(none.unprivileged_userns_clone);
  EXPECT_FALSE(none.apparmor_restrict);
  auto real = readUserNamespaceSysctls();
  EXPECT_TRUE(real.max_user_namespaces);  // every kernel with user namespaces has it
}

// A real restriction: a seccomp filter refusing unshare(CLONE_NEWUSER), then uid 65534. Asked
// for a user namespace, the run is refused before the program starts; left to choose (kAuto), it
// runs the program with /dev/dma_heap emulated at the system-call level.
// Whether uid 65534 can execute `path` (a build tree below /root cannot be).
bool nobodyCanRun(const char* path) {
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    ::_exit(::access(path, X_OK) == 0 ? 0 : 1);
  }
  int st = 0;
  return ::waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

TEST_F(UserNamespaceTest, RealSeccompProfileBlockingUnshare) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  if (!nobodyCanRun(DMAHEAP_CONFORMANCE_STATIC_OR_DYNAMIC))
    GTEST_SKIP() << "uid 65534 cannot reach " << DMAHEAP_CONFORMANCE_STATIC_OR_DYNAMIC
                 << " (a parent directory is closed to others)";
  fs::permissions(dir_, fs::perms::all);
  const pid_t child = ::fork();
  if (child == 0) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
                                 SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) != 0 ||
        seccomp_load(ctx) != 0) {
      ::_exit(10);
    }
    seccomp_release(ctx);
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(11);
    RunOptions o;
    o.argv = {"sh", "-c", "touch " + marker_};
    o.namespaces = Namespaces::kUserAndMount;
    o.simulated_userns_errno = 0;  // nothing simulated: the filter refuses
    o.proc_sys = dir_.string();    // empty: none of the sysctls forbids it
    auto r = runProgram(*backend_, o);
    if (r.ok()) ::_exit(12);
    if (r.code() != EPERM) ::_exit(13);
    if (r.error().message().find("a container's seccomp profile") == std::string::npos) ::_exit(14);
    if (r.error().message().find("The program was not started") == std::string::npos) ::_exit(15);
    if (fs::exists(marker_)) ::_exit(16);
    SupervisorStats stats;
    o.argv = {DMAHEAP_CONFORMANCE_STATIC_OR_DYNAMIC};
    o.namespaces = Namespaces::kAuto;
    o.stats = &stats;
    auto fallback = runProgram(*backend_, o);
    if (!fallback.ok()) ::_exit(17);
    if (fallback.value() != 0) ::_exit(18);
    if (stats.path_calls == 0 || stats.heap_ioctls == 0) ::_exit(19);
    ::_exit(0);
  }
  int st = 0;
  ASSERT_EQ(::waitpid(child, &st, 0), child);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_FALSE(started());
}

}  // namespace
}  // namespace dmaheap::emul
