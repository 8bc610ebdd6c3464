// `dmaheap run` end to end: unmodified programs (the C conformance program, dynamic and static,
// and a small helper) under the seccomp supervisor with a private /dev/dma_heap.
#include "emulation/runner.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emulation/dev_paths.h"
#include "emulation/seccomp_filter.h"

#include <filesystem>
#include "tests/emulation/backend_fixture.h"

namespace dmaheap::emul {
namespace {

using testing::defaultBackend;

class RunnerTest : public ::testing::Test {
 protected:
  std::unique_ptr<EmbeddedBackend> backend_ = defaultBackend();
  int run(std::vector<std::string> argv, Namespaces ns = Namespaces::kAuto, SupervisorStats* stats = nullptr) {
    RunOptions o;
    o.argv = std::move(argv);
    o.namespaces = ns;
    o.stats = stats;
    auto status = runProgram(*backend_, o);
    EXPECT_TRUE(status.ok()) << status.error().message();
    return status.ok() ? status.value() : -1;
  }
};

TEST_F(RunnerTest, ConformanceDynamic) { EXPECT_EQ(run({DMAHEAP_CONFORMANCE}), 0); }

#ifdef DMAHEAP_CONFORMANCE_STATIC
TEST_F(RunnerTest, ConformanceStatic) { EXPECT_EQ(run({DMAHEAP_CONFORMANCE_STATIC}), 0); }

// An unprivileged user gets the same through a user namespace; as root we can still ask for it.
TEST_F(RunnerTest, ConformanceInAUserNamespace) {
  pid_t probe = ::fork();
  if (probe == 0) ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
  int st = 0;
  ::waitpid(probe, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) GTEST_SKIP() << "user namespaces are not available here";
  EXPECT_EQ(run({DMAHEAP_CONFORMANCE_STATIC}, Namespaces::kUserAndMount), 0);
}
#endif

#ifdef DMAHEAP_CONFORMANCE_I386
// A 32-bit program's ioctls come through the compat syscall table: the filter sends them too and
// the supervisor decodes them (32-bit pointers), so it passes like the native builds.
TEST_F(RunnerTest, ConformanceI386) {
  SupervisorStats stats;
  EXPECT_EQ(run({DMAHEAP_CONFORMANCE_I386}, Namespaces::kAuto, &stats), 0);
  EXPECT_GT(stats.heap_ioctls, 0u);
  EXPECT_GT(stats.buffer_ioctls, 0u);
  EXPECT_EQ(stats.compat_calls, stats.notifications);
}
#endif

TEST_F(RunnerTest, NativeCallsAreNotCompat) {
  SupervisorStats stats;
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "alloc", "system"}, Namespaces::kAuto, &stats), 0);
  EXPECT_EQ(stats.compat_calls, 0u);
  EXPECT_EQ(stats.heap_ioctls, 1u);
}

// Without any namespace (what kAuto falls back to when user namespaces are refused): the
// supervisor answers open, stat and access of /dev/dma_heap itself.
TEST_F(RunnerTest, NoNamespaceConformanceDynamic) {
  SupervisorStats stats;
  EXPECT_EQ(run({DMAHEAP_CONFORMANCE}, Namespaces::kNone, &stats), 0);
  EXPECT_GT(stats.path_calls, 0u);
  EXPECT_GT(stats.heap_ioctls, 0u);
}
#ifdef DMAHEAP_CONFORMANCE_STATIC
TEST_F(RunnerTest, NoNamespaceConformanceStatic) { EXPECT_EQ(run({DMAHEAP_CONFORMANCE_STATIC}, Namespaces::kNone), 0); }
#endif
#ifdef DMAHEAP_CONFORMANCE_I386
TEST_F(RunnerTest, NoNamespaceConformanceI386) {
  SupervisorStats stats;
  EXPECT_EQ(run({DMAHEAP_CONFORMANCE_I386}, Namespaces::kNone, &stats), 0);
  EXPECT_EQ(stats.compat_calls, stats.notifications);
  EXPECT_GT(stats.compat_calls, 0u);
}
#endif

TEST_F(RunnerTest, NoNamespaceNodesListStatAndOpen) {
  EXPECT_EQ(run({"sh", "-c",
                 "test -c /dev/dma_heap/system && test -c /dev/dma_heap/reserved && test -d /dev/dma_heap && "
                 "test -r /dev/dma_heap/system && ! test -e /dev/dma_heap/nonexistent && "
                 "[ $(ls /dev/dma_heap | wc -l) -eq 3 ] && cd /dev && test -c dma_heap/./system && "
                 "test -c ../dev/dma_heap/default_cma_region && ! test -e /dev/dma_heap/system/x"},
                Namespaces::kNone),
            0);
}

TEST_F(RunnerTest, NoNamespaceMeansTheHostsMountNamespace) {
  const std::string ours = std::filesystem::read_symlink("/proc/self/ns/mnt").string();
  EXPECT_EQ(run({"sh", "-c", "[ \"$(readlink /proc/self/ns/mnt)\" = \"" + ours + "\" ]"}, Namespaces::kNone), 0);
  EXPECT_EQ(run({"sh", "-c", "[ \"$(readlink /proc/self/ns/mnt)\" != \"" + ours + "\" ]"}, Namespaces::kAuto), 0);
}

TEST_F(RunnerTest, NoNamespaceExhaustAndThreads) {
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "exhaust", "reserved"}, Namespaces::kNone), 0);
  EXPECT_EQ(backend_->liveBuffers(), 0u);
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "threads", "system"}, Namespaces::kNone), 0);
}

TEST(DevPaths, NormaliseAndClassify) {
  bool slash = false;
  EXPECT_EQ(normalisePath("/", "/dev//dma_heap/./system", &slash), "/dev/dma_heap/system");
  EXPECT_FALSE(slash);
  EXPECT_EQ(normalisePath("/dev", "dma_heap/", &slash), "/dev/dma_heap");
  EXPECT_TRUE(slash);
  EXPECT_EQ(normalisePath("/tmp/x", "../../dev/dma_heap/../dma_heap/a"), "/dev/dma_heap/a");
  EXPECT_EQ(normalisePath("/", "/.."), "/");
  auto paths = DevPaths::create({"system", "reserved"});
  ASSERT_TRUE(paths.ok()) << paths.error().message();
  const std::string dir = paths.value()->directory();
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  EXPECT_TRUE(std::filesystem::is_character_file(dir + "/system"));
  EXPECT_EQ(paths.value()->classify("/dev/dma_heap").kind, DevPath::kDirectory);
  EXPECT_EQ(paths.value()->classify("/dev/dma_heap/system").kind, DevPath::kHeap);
  EXPECT_EQ(paths.value()->classify("/dev/dma_heap/system").heap, "system");
  EXPECT_EQ(paths.value()->classify("/dev/dma_heap/nope").kind, DevPath::kMissing);
  EXPECT_EQ(paths.value()->classify("/dev/dma_heap/system/x").kind, DevPath::kBelowHeap);
  EXPECT_EQ(paths.value()->classify("/dev/dma_heapx").kind, DevPath::kOther);
  EXPECT_EQ(paths.value()->classify("/dev/null").kind, DevPath::kOther);
  paths.value().reset();
  EXPECT_FALSE(std::filesystem::exists(dir)) << "removed with its owner";
}

TEST_F(RunnerTest, ExitStatusIsTheProgramsOwn) {
  EXPECT_EQ(run({"sh", "-c", "exit 7"}), 7);
  EXPECT_EQ(run({"sh", "-c", "kill -9 $$"}), 128 + 9);
  EXPECT_EQ(run({"/nonexistent/program"}), 127);
}

TEST_F(RunnerTest, HeapNodesAreListedAndEverythingElseInDevStays) {
  EXPECT_EQ(run({"sh", "-c",
                 "test -c /dev/dma_heap/system && test -c /dev/dma_heap/reserved && "
                 "test -c /dev/null && test -d /dev/pts && [ $(ls /dev/dma_heap | wc -l) -eq 3 ]"}),
            0);
}

TEST_F(RunnerTest, FullHeapGivesEnomemAndFreeingRecovers) {
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "exhaust", "reserved"}), 0);
  EXPECT_EQ(backend_->liveBuffers(), 0u) << "every buffer died with the program";
}

TEST_F(RunnerTest, ThreadsAllocateConcurrently) { EXPECT_EQ(run({DMAHEAP_HEAP_USER, "threads", "system"}), 0); }

TEST_F(RunnerTest, NoDescriptorLeaksIntoTheProgram) {
  // Whatever this test process inherited without close-on-exec, the program inherits too.
  pid_t direct = ::fork();
  if (direct == 0) {
    ::execl(DMAHEAP_HEAP_USER, DMAHEAP_HEAP_USER, "fds", nullptr);
    ::_exit(127);
  }
  int st = 0;
  ::waitpid(direct, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "fds"}), WEXITSTATUS(st));
}

// docs/emulation.md "Signals during an emulated ioctl": a signal whose handler has SA_RESTART
// never shows as EINTR (the interrupted ioctl is restarted before the supervisor saw it, or the
// wait is killable-only once it did). Without SA_RESTART a residual rate remains, measured and
// documented there, not asserted.
TEST_F(RunnerTest, AnIntervalTimerWithSaRestartNeverInterruptsAnAllocation) {
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "eintr", "system", "3000", "restart"}), 0);
  EXPECT_EQ(backend_->liveBuffers(), 0u);
}

// docs/emulation.md "The target's ABI over a real dma-buf", without a real dma-buf: a backing
// that says it makes udmabufs but makes memfds. What the supervisor lets the host run then
// reaches the kernel on a memfd (ENOTTY), which is how the routing shows.
class PretendUdmabuf final : public Backing {
 public:
  BackingKind kind() const override { return BackingKind::kUdmabuf; }
  std::string description() const override { return "pretend udmabuf"; }

 protected:
  Result<UniqueFd> make(uint64_t size, uint32_t, bool populate, FileIdentity*) override {
    return createSealedMemfd("pretend", size, populate, true);
  }
};

std::shared_ptr<Backing> pretendUdmabuf(bool with_memfd_chain) {
  auto b = std::make_shared<PretendUdmabuf>();
  if (with_memfd_chain) b->setNext(makeMemfdBacking());
  return b;
}

TEST_F(RunnerTest, OnARealDmabufWhatTheHostAnswersAsTheTargetGoesToTheHost) {
  backend_ = defaultBackend("", pretendUdmabuf(true));
  SupervisorStats stats;
  // SYNC exists on target and host: the supervisor continues it; the kernel finds a memfd.
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "bufioctl", "system", "sync"}, Namespaces::kAuto, &stats), ENOTTY);
  EXPECT_EQ(stats.host_ioctls, 1u);
  EXPECT_EQ(stats.buffer_ioctls, 0u);
  // The memfd backing: the emulation answers it.
  backend_ = defaultBackend();
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "bufioctl", "system", "sync"}, Namespaces::kAuto, &stats), 0);
  EXPECT_EQ(stats.host_ioctls, 0u);
  EXPECT_EQ(stats.buffer_ioctls, 1u);
}

TEST_F(RunnerTest, WhatOnlyTheHostHasIsTheTargetsEnotty) {
  // EXPORT_SYNC_FILE exists from 6.0: a 5.15 target on this host gets the front door's ENOTTY.
  backend_ = defaultBackend("5.15", pretendUdmabuf(true));
  SupervisorStats stats;
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "bufioctl", "system", "export"}, Namespaces::kAuto, &stats), ENOTTY);
  EXPECT_EQ(stats.host_ioctls, 0u);
  EXPECT_EQ(stats.buffer_ioctls, 1u);
}

TEST_F(RunnerTest, WithRealDmabufsOnlyTheFilterLeavesOutWhatTheHostAnswers) {
  // No chain: every buffer is "real", so SYNC on a 6.18 target never reaches the supervisor.
  backend_ = defaultBackend("", pretendUdmabuf(false));
  ASSERT_TRUE(backend_->realDmabufsOnly());
  SupervisorStats stats;
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "bufioctl", "system", "sync"}, Namespaces::kAuto, &stats), ENOTTY);
  EXPECT_EQ(stats.notifications, 1u);  // the ALLOC only
  EXPECT_EQ(stats.host_ioctls + stats.buffer_ioctls + stats.continued, 0u);
  // On 5.15 EXPORT_SYNC_FILE is still sent, for its ENOTTY; SYNC still is not.
  backend_ = defaultBackend("5.15", pretendUdmabuf(false));
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "bufioctl", "system", "export"}, Namespaces::kAuto, &stats), ENOTTY);
  EXPECT_EQ(stats.notifications, 2u);
  EXPECT_EQ(stats.buffer_ioctls, 1u);
}

TEST_F(RunnerTest, OnlyTheHeapIoctlIsEmulated) {
  SupervisorStats stats;
  EXPECT_EQ(run({DMAHEAP_HEAP_USER, "alloc", "system"}, Namespaces::kAuto, &stats), 0);
  EXPECT_EQ(stats.heap_ioctls, 1u);
  EXPECT_EQ(stats.buffer_ioctls, 0u);
}

TEST(SeccompFilter, MatchesHeapTypeAndTheFiveBufferCommands) {
  EXPECT_TRUE(filterMatchesIoctl(0xC0184800u));
  EXPECT_TRUE(filterMatchesIoctl(0x00004801u));
  EXPECT_TRUE(filterMatchesIoctl(0x40086201u));
  EXPECT_TRUE(filterMatchesIoctl(0x40046201u));
  EXPECT_FALSE(filterMatchesIoctl(0x40086209u));
  EXPECT_FALSE(filterMatchesIoctl(0x5401u));  // TCGETS
}

}  // namespace
}  // namespace dmaheap::emul
