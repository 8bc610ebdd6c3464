// runProgram: fork, set up the child, supervise, report the exit status.
#include "emulation/runner.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <linux/capability.h>

#include "emulation/dev_namespace.h"
#include "emulation/seccomp_filter.h"
#include "emulation/userns_check.h"
#include "heap/dmabuf_ioctl.h"
#include "heap/heap_naming.h"
#include "protocol/transport.h"

namespace dmaheap::emul {
namespace {

// What the child tells the parent before exec, with the listener fd attached on success.
struct ChildReport {
  int error = 0;  // errno of the failed step, 0 when ready
  char message[512] = {};
  uint32_t heap_count = 0;
  uint64_t mount_ids[kMaxHeaps] = {};
};

bool haveCapSysAdmin() {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32))) != 0;
}

void sendReport(int sock, const ChildReport& report, int fd) {
  (void)proto::sendWithFd(sock, std::span(reinterpret_cast<const uint8_t*>(&report), sizeof report), fd,
                          /*nonblocking=*/false);
}

[[noreturn]] void childFail(int sock, const Error& e) {
  ChildReport r;
  r.error = e.code() ? e.code() : EIO;
  std::snprintf(r.message, sizeof r.message, "%s", e.message().c_str());
  sendReport(sock, r, -1);
  ::_exit(126);
}

// The child between fork and exec. Only async-signal-safe-ish work that a single-threaded
// parent makes safe (the parent is the dmaheap tool or a test, with no other threads running
// allocators concurrently is not assumed: we avoid locks held across fork by doing no stdio).
[[noreturn]] void runChild(int sock, pid_t parent, const std::vector<std::string>& heaps, bool user_ns, bool no_ns,
                           const FilterProgram& filter, const sigset_t& old_mask, const std::vector<std::string>& argv) {
  DevNamespace dev;
  if (!no_ns) {
    DevNamespaceOptions opts;
    opts.heap_nodes = heaps;
    opts.user_namespace = user_ns;
    auto ns = enterDevNamespace(opts);
    if (!ns) childFail(sock, ns.error());
    dev = std::move(ns.value());
  }
  const DevNamespace* ns = &dev;
  // After unshare: a new user namespace clears the parent-death signal.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) childFail(sock, makeError(errno, "prctl(PR_SET_PDEATHSIG)"));
  if (::getppid() != parent) ::_exit(126);
  if (!haveCapSysAdmin() && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    childFail(sock, makeError(errno, "prctl(PR_SET_NO_NEW_PRIVS)"));
  }
  auto listener = installDmaHeapFilter(filter);
  if (!listener) childFail(sock, listener.error());
  ChildReport r;
  r.heap_count = static_cast<uint32_t>(ns->heap_mount_ids.size());
  for (size_t i = 0; i < ns->heap_mount_ids.size() && i < kMaxHeaps; ++i) r.mount_ids[i] = ns->heap_mount_ids[i];
  sendReport(sock, r, listener->get());
  listener.value().reset();
  ::close(sock);
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  const int e = errno;
  std::fprintf(stderr, "dmaheap run: %s: %s\n", args[0], std::strerror(e));
  ::_exit(e == ENOENT ? 127 : 126);
}

Result<ChildReport> receiveReport(int sock, UniqueFd* listener) {
  ChildReport r;
  std::vector<UniqueFd> fds;
  auto n = proto::receiveWithFds(sock, std::span(reinterpret_cast<uint8_t*>(&r), sizeof r), fds, /*nonblocking=*/false);
  if (!n || n.value() != sizeof r) return makeError(EIO, "the child died before it was ready");
  if (!fds.empty()) *listener = std::move(fds.front());
  return r;
}

// The supervisor's thread: handleOne() in a loop until no task uses the filter (POLLHUP) or
// stop(). Blocked in RECV it is woken for stop() by kStopSignal, whose handler does nothing and
// is installed only while the thread runs (after the fork: the program never has it).
class Answerer {
 public:
  explicit Answerer(Supervisor& supervisor) : supervisor_(supervisor) {}
  ~Answerer() { stop(); }

  Status start() {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the RECV it interrupts returns EINTR
    if (::sigaction(kStopSignal, &sa, &saved_) != 0) return makeError(errno, std::string("sigaction: ") + std::strerror(errno));
    installed_ = true;
    if (int rc = ::pthread_create(&thread_, nullptr, &Answerer::main, this); rc != 0) {
      return makeError(rc, std::string("pthread_create: ") + std::strerror(rc));
    }
    running_ = true;
    return {};
  }

  void stop() {
    if (running_) {
      stopping_.store(true);
      while (!done_.load()) {
        ::pthread_kill(thread_, kStopSignal);
        ::usleep(1000);
      }
      ::pthread_join(thread_, nullptr);
      running_ = false;
    }
    if (installed_) {
      ::sigaction(kStopSignal, &saved_, nullptr);
      installed_ = false;
    }
  }

 private:
  static void* main(void* self) {
    static_cast<Answerer*>(self)->loop();
    return nullptr;
  }
  void loop() {
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, kStopSignal);
    ::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
    while (!stopping_.load()) {
      Status st = supervisor_.handleOne();  // a task that died meanwhile is not our error
      if (st.ok() || stopping_.load()) continue;
      // ENOENT: a notification withdrawn before we took it, or no task uses the filter any more.
      struct pollfd p = {supervisor_.listenerFd(), POLLIN, 0};
      const int n = ::poll(&p, 1, st.code() == ENOENT || st.code() == EINTR ? 0 : 10);
      if (n > 0 && (p.revents & (POLLHUP | POLLERR))) break;
    }
    done_.store(true);
  }

  static inline const int kStopSignal = SIGRTMAX - 2;
  Supervisor& supervisor_;
  pthread_t thread_{};
  struct sigaction saved_ {};
  bool installed_ = false;
  bool running_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> done_{false};
};

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

Result<int> runProgram(HeapBackend& backend, const RunOptions& options) {
  if (options.argv.empty()) return makeError(EINVAL, "no program to run");
  auto heaps = backend.heaps();
  if (!heaps) return heaps.error();
  if (heaps->size() > kMaxHeaps) return makeError(EINVAL, "more heaps than /dev/dma_heap can hold");
  std::vector<std::string> names;
  for (const auto& h : heaps.value()) names.push_back(h.name);
  bool user_ns = options.namespaces == Namespaces::kUserAndMount;
  bool no_ns = options.namespaces == Namespaces::kNone;
  if (options.namespaces == Namespaces::kAuto) user_ns = !haveCapSysAdmin();
  if (user_ns) {
    // Before anything starts: a refused user namespace gets its cause and fix in one message.
    const int simulated = options.simulated_userns_errno ? *options.simulated_userns_errno : simulatedUserNamespaceErrno();
    if (auto failure = probeUserNamespace(simulated)) {
      Error why = explainUserNamespaceFailure(*failure, readUserNamespaceSysctls(options.proc_sys ? *options.proc_sys : procSysDirectory()));
      if (options.namespaces != Namespaces::kAuto) return makeError(why.code(), why.message() + ". The program was not started");
      // What works without one: the supervisor answers for the /dev/dma_heap paths itself.
      std::fprintf(stderr, "dmaheap run: %s. Running the program with /dev/dma_heap emulated at the system-call level\n",
                   why.message().c_str());
      user_ns = false;
      no_ns = true;
    }
  }
  std::unique_ptr<DevPaths> paths;
  if (no_ns) {
    auto created = DevPaths::create(names);
    if (!created) return created.error();
    paths = std::move(created.value());
  }
  // libseccomp allocates: the filter is built here, the child only loads it.
  // With real dma-bufs only, the host answers what it agrees on with the target unseen.
  std::vector<uint32_t> buffer_commands;
  if (backend.realDmabufsOnly()) {
    const Kernel host = dmabuf::runningKernel();
    for (uint32_t cmd : dmabuf::bufferIoctlNumbers()) {
      if (!dmabuf::hostAnswersAsTarget(cmd, backend.kernel(), host)) buffer_commands.push_back(cmd);
    }
  }
  auto filter = buildDmaHeapFilter(no_ns, backend.realDmabufsOnly() ? &buffer_commands : nullptr);
  if (!filter) return filter.error();

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return makeError(errno, std::string("socketpair: ") + std::strerror(errno));
  }
  UniqueFd parent_sock(sv[0]), child_sock(sv[1]);

  // Signals to forward arrive through a signalfd; SIGINT and SIGQUIT from a terminal reach the
  // program directly, so the supervisor only holds them back while the program runs.
  sigset_t forward, old_mask;
  sigemptyset(&forward);
  for (int s : {SIGTERM, SIGHUP, SIGINT, SIGQUIT}) sigaddset(&forward, s);
  ::sigprocmask(SIG_BLOCK, &forward, &old_mask);
  UniqueFd sigfd(::signalfd(-1, &forward, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) {
    const int e = errno;
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    return makeError(e, std::string("signalfd: ") + std::strerror(e));
  }

  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    const int e = errno;
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    return makeError(e, std::string("fork: ") + std::strerror(e));
  }
  if (child == 0) {
    parent_sock.reset();
    runChild(child_sock.get(), parent, names, user_ns, no_ns, filter.value(), old_mask, options.argv);
  }
  child_sock.reset();
  // The supervisor keeps one fd per heap node the program opens (dev_paths.h): as many as the
  // hard limit allows while it supervises. Raised only after the fork (the program keeps the
  // caller's limits) and put back on return.
  struct FdLimit {
    struct rlimit saved {};
    bool raised = false;
    ~FdLimit() {
      if (raised) (void)::setrlimit(RLIMIT_NOFILE, &saved);
    }
  } fd_limit;
  if (paths && ::getrlimit(RLIMIT_NOFILE, &fd_limit.saved) == 0 && fd_limit.saved.rlim_cur < fd_limit.saved.rlim_max) {
    struct rlimit up = fd_limit.saved;
    up.rlim_cur = up.rlim_max;
    fd_limit.raised = ::setrlimit(RLIMIT_NOFILE, &up) == 0;
  }

  auto finish = [&](int* status) {
    while (::waitpid(child, status, 0) < 0 && errno == EINTR) {
    }
    // Drop forwarded signals still queued for us before restoring the caller's mask.
    struct signalfd_siginfo si;
    while (::read(sigfd.get(), &si, sizeof si) == sizeof si) {
    }
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  };

  UniqueFd listener;
  auto report = receiveReport(parent_sock.get(), &listener);
  if (!report || report->error != 0 || !listener) {
    int status = 0;
    finish(&status);
    if (!report) return report.error();
    return makeError(report->error ? report->error : EIO, report->message);
  }
  std::vector<SupervisedHeap> supervised;
  for (size_t i = 0; i < names.size() && i < report->heap_count; ++i) supervised.push_back({names[i], report->mount_ids[i]});
  Supervisor supervisor(std::move(listener), backend, std::move(supervised), paths.get(), options.trace);
  const int trace_fd = options.trace ? options.trace->watchFd() : -1;

  // The supervisor answers on its own thread, blocked in SECCOMP_IOCTL_NOTIF_RECV: a new
  // notification is taken the moment the target sleeps on it, which is when its wait becomes
  // killable-only (WAIT_KILLABLE_RECV). Until then a signal interrupts the ioctl, so the shorter
  // that moment the fewer EINTR a program without SA_RESTART sees (docs/emulation.md "Signals
  // during an emulated ioctl"). This thread only forwards signals and waits for the child.
  Answerer answerer(supervisor);
  if (auto started = answerer.start(); !started) {
    ::kill(child, SIGKILL);
    int status = 0;
    finish(&status);
    return started.error();
  }

  // The child's exit comes through a pidfd, not SIGCHLD: in a multi-threaded caller another
  // thread may take a process-directed signal.
  UniqueFd child_pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
  int status = 0;
  for (;;) {
    // The trace's release watch is the third entry when there is a trace.
    struct pollfd fds[3] = {{sigfd.get(), POLLIN, 0}, {child_pidfd.get(), POLLIN, 0}, {trace_fd, POLLIN, 0}};
    const nfds_t count = trace_fd >= 0 ? 3 : 2;
    const int n = ::poll(fds, count, child_pidfd ? -1 : 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (trace_fd >= 0 && (fds[2].revents & POLLIN)) options.trace->pollReleases();
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (::read(sigfd.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP) ::kill(child, static_cast<int>(si.ssi_signo));
      }
    }
    if ((fds[1].revents & POLLIN) || !child_pidfd) {
      if (::waitpid(child, &status, WNOHANG) == child) {
        answerer.stop();
        struct signalfd_siginfo rest;
        while (::read(sigfd.get(), &rest, sizeof rest) == sizeof rest) {
        }
        ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
        if (options.stats) *options.stats = supervisor.stats();
        // The program's own references died with it: their releases are queued by now.
        if (options.trace) options.trace->pollReleases();
        return exitCodeOf(status);
      }
    }
  }
  answerer.stop();
  finish(&status);
  if (options.stats) *options.stats = supervisor.stats();
  if (options.trace) options.trace->pollReleases();
  return exitCodeOf(status);
}

}  // namespace dmaheap::emul
