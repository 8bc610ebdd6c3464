// Backings (heap/backing.h): names, udmabuf's limits, the selection order and its messages with
// the host's devices pointed at missing or wrong files, the per-buffer fallback said once, and
// the counted release watch. The devices themselves (host heap, udmabuf, vgem) are exercised by
// the host-kernel matrix; nothing here needs them.
#include "heap/backing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "heap/buffer.h"
#include "heap/buffer_watcher.h"
#include "heap/uapi.h"

namespace dmaheap {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dmaheap-backing-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::string path_;
};

HostPaths nowhere(const TempDir& d) {
  HostPaths p;
  p.dma_heap = d.path() + "/no-heap";
  p.udmabuf = d.path() + "/no-udmabuf";
  p.udmabuf_parameters = d.path() + "/no-parameters";
  p.dri = d.path() + "/no-dri";
  return p;
}

TEST(Backing, NamesParseBothWays) {
  for (auto [text, choice] : {std::pair{"auto", BackingChoice::kAuto}, {"host-heap", BackingChoice::kHostHeap},
                              {"udmabuf", BackingChoice::kUdmabuf}, {"vgem", BackingChoice::kVgem},
                              {"memfd", BackingChoice::kMemfd}}) {
    auto parsed = parseBackingChoice(text);
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_EQ(parsed.value(), choice);
    EXPECT_EQ(backingChoiceName(choice), text);
  }
  auto bad = parseBackingChoice("dmabuf");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), EINVAL);
  EXPECT_EQ(bad.error().message(), "unknown backing 'dmabuf' (auto, host-heap, udmabuf, vgem or memfd)");
  EXPECT_EQ(backingName(BackingKind::kUdmabuf), "udmabuf");
}

TEST(Backing, UdmabufLimitsFromSysfsOrTheKernelsDefaults) {
  TempDir d;
  auto none = readUdmabufLimits(d.path() + "/absent");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->size_limit_mb, 64u);
  EXPECT_EQ(none->list_limit, 1024u);
  EXPECT_FALSE(none->from_sysfs);
  EXPECT_EQ(none->sizeLimitBytes(), 64u << 20);

  d.write("size_limit_mb", "256\n");
  auto partial = readUdmabufLimits(d.path());
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->size_limit_mb, 256u);
  EXPECT_EQ(partial->list_limit, 1024u);  // a parameter the kernel lacks keeps its default
  EXPECT_TRUE(partial->from_sysfs);

  d.write("list_limit", "4096\n");
  EXPECT_EQ(readUdmabufLimits(d.path())->list_limit, 4096u);

  const std::string bad = d.write("size_limit_mb", "64M\n");
  auto broken = readUdmabufLimits(d.path());
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.code(), EINVAL);
  EXPECT_EQ(broken.error().message(), bad + ": '64M' is not a number");
}

TEST(Backing, AutoWithNothingOnTheHostIsMemfdAndSaysWhy) {
  TempDir d;
  BackingOptions o;
  o.paths = nowhere(d);
  std::string why;
  auto b = selectBacking(o, &why);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b.value()->kind(), BackingKind::kMemfd);
  EXPECT_FALSE(b.value()->realDmabuf());
  EXPECT_EQ(b.value()->next(), nullptr);
  EXPECT_EQ(b.value()->releaseSignal(), ReleaseSignal::kInotify);
  EXPECT_EQ(why, "backing: memfd (a sealed memfd per buffer; not importable by devices); releases seen by inotify (cannot open " + d.path() +
                     "/no-heap: No such file or directory; cannot open " + d.path() +
                     "/no-udmabuf: No such file or directory; no vgem device: cannot open " + d.path() +
                     "/no-dri: No such file or directory)");
}

TEST(Backing, ExplicitChoicesTheHostCannotGiveFailWithTheirErrno) {
  TempDir d;
  BackingOptions o;
  o.paths = nowhere(d);
  o.choice = BackingChoice::kUdmabuf;
  auto u = selectBacking(o);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.code(), ENOENT);
  EXPECT_EQ(u.error().message(),
            "--backing udmabuf is not available: cannot open " + d.path() + "/no-udmabuf: No such file or directory");

  o.choice = BackingChoice::kHostHeap;
  auto h = selectBacking(o);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.code(), ENOENT);

  o.choice = BackingChoice::kVgem;
  auto v = selectBacking(o);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.code(), ENOENT);
  EXPECT_EQ(v.error().message(),
            "--backing vgem is not available: no vgem device: cannot open " + d.path() + "/no-dri: No such file or directory");

  o.choice = BackingChoice::kMemfd;
  auto m = selectBacking(o);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m.value()->kind(), BackingKind::kMemfd);
}

TEST(Backing, DevicesThatOpenButAreNotTheDeviceAreRefusedByTheirProbe) {
  TempDir d;
  BackingOptions o;
  o.paths = nowhere(d);
  o.paths.dma_heap = d.write("system", "");  // opens, but ALLOC is not its ioctl
  o.paths.udmabuf = "/dev/null";             // opens read-write, UDMABUF_CREATE is not its ioctl
  fs::create_directory(d.path() + "/dri");
  d.write("dri/card0", "");
  d.write("dri/renderD128", "");  // not a card node: never tried
  o.paths.dri = d.path() + "/dri";

  o.choice = BackingChoice::kHostHeap;
  auto h = selectBacking(o);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.code(), ENOTTY);
  EXPECT_EQ(h.error().message(), "--backing host-heap is not available: host-heap cannot make a buffer: "
                                 "DMA_HEAP_IOCTL_ALLOC on " + o.paths.dma_heap + ": Inappropriate ioctl for device");
  o.choice = BackingChoice::kUdmabuf;
  auto u = selectBacking(o);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.code(), ENOTTY);
  EXPECT_EQ(u.error().message(), "--backing udmabuf is not available: udmabuf cannot make a buffer: "
                                 "UDMABUF_CREATE on /dev/null: Inappropriate ioctl for device");
  o.choice = BackingChoice::kVgem;
  auto v = selectBacking(o);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.code(), ENODEV);
  EXPECT_EQ(v.error().message(), "--backing vgem is not available: no vgem device under " + o.paths.dri + "; " +
                                     o.paths.dri + "/card0 is not a DRM device");

  o.choice = BackingChoice::kAuto;
  std::string why;
  auto a = selectBacking(o, &why);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value()->kind(), BackingKind::kMemfd);
  EXPECT_EQ(why, "backing: memfd (a sealed memfd per buffer; not importable by devices); releases seen by inotify (host-heap cannot make a buffer: "
                 "DMA_HEAP_IOCTL_ALLOC on " + o.paths.dma_heap + ": Inappropriate ioctl for device; udmabuf cannot make "
                 "a buffer: UDMABUF_CREATE on /dev/null: Inappropriate ioctl for device; no vgem device under " +
                     o.paths.dri + "; " + o.paths.dri + "/card0 is not a DRM device)");
}

TEST(Backing, TheEnvironmentOverridesEachHostPath) {
  ::setenv("DMAHEAP_HOST_DMA_HEAP", "/x/heap", 1);
  ::setenv("DMAHEAP_HOST_UDMABUF", "/x/udmabuf", 1);
  ::setenv("DMAHEAP_HOST_UDMABUF_PARAMETERS", "/x/params", 1);
  ::setenv("DMAHEAP_HOST_DRI", "/x/dri", 1);
  const HostPaths p = HostPaths::fromEnvironment();
  for (const char* v : {"DMAHEAP_HOST_DMA_HEAP", "DMAHEAP_HOST_UDMABUF", "DMAHEAP_HOST_UDMABUF_PARAMETERS", "DMAHEAP_HOST_DRI"}) {
    ::unsetenv(v);
  }
  EXPECT_EQ(p.dma_heap, "/x/heap");
  EXPECT_EQ(p.udmabuf, "/x/udmabuf");
  EXPECT_EQ(p.udmabuf_parameters, "/x/params");
  EXPECT_EQ(p.dri, "/x/dri");
  const HostPaths d = HostPaths::fromEnvironment();
  EXPECT_EQ(d.dma_heap, "/dev/dma_heap/system");
  EXPECT_EQ(d.udmabuf, "/dev/udmabuf");
  EXPECT_EQ(d.udmabuf_parameters, "/sys/module/udmabuf/parameters");
  EXPECT_EQ(d.dri, "/dev/dri");
}

// A backing that makes memfds but calls itself udmabuf and refuses what real udmabuf refuses
// with a limit of two pages: the chain's behaviour without the device.
class SmallLimitBacking final : public Backing {
 public:
  BackingKind kind() const override { return BackingKind::kUdmabuf; }
  std::string description() const override { return "small"; }
  int made = 0;

 protected:
  std::string cannotMake(uint64_t size, uint32_t) const override {
    return size > 8192 ? "a buffer of " + std::to_string(size) + " bytes is above the limit" : "";
  }
  Result<UniqueFd> make(uint64_t size, uint32_t, bool populate, FileIdentity*) override {
    ++made;
    return createSealedMemfd("test", size, populate, true);
  }
};

TEST(Backing, PastTheLimitTheNextBackingMakesTheBufferSaidOnce) {
  SmallLimitBacking small;
  small.setNext(makeMemfdBacking());
  std::vector<std::string> notices;
  small.setNotice([&](const std::string& line) { notices.push_back(line); });
  auto a = small.create(4096, O_RDWR | uapi::kOCloexec);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, BackingKind::kUdmabuf);
  auto b = small.create(3 * 4096, O_RDWR | uapi::kOCloexec);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->kind, BackingKind::kMemfd);
  auto c = small.create(4 * 4096, O_RDWR | uapi::kOCloexec);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, BackingKind::kMemfd);
  EXPECT_EQ(small.made, 1);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0], "a buffer of 12288 bytes is above the limit; such buffers are memfd instead (said once)");
  EXPECT_FALSE(small.alwaysRealDmabuf());

  SmallLimitBacking alone;  // no chain: the refusal is the error
  auto d = alone.create(3 * 4096, O_RDWR);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.code(), EINVAL);
  EXPECT_TRUE(alone.alwaysRealDmabuf());
}

TEST(Backing, MemfdHonoursTheAccessModeAndCloseOnExec) {
  auto m = makeMemfdBacking();
  auto ro = m->create(4096, O_RDONLY);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(::fcntl(ro->fd.get(), F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(::fcntl(ro->fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  auto rw = m->create(4096, O_RDWR | uapi::kOCloexec);
  ASSERT_TRUE(rw.ok());
  EXPECT_EQ(::fcntl(rw->fd.get(), F_GETFL) & O_ACCMODE, O_RDWR);
  EXPECT_EQ(::fcntl(rw->fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  struct stat st {};
  ASSERT_EQ(::fstat(rw->fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 4096);
}

TEST(Backing, AMemfdsReleaseShowsThroughInotifyAndItHasNoCount) {
  auto memfd = createSealedMemfd("probe", 4096, true, true);
  ASSERT_TRUE(memfd.ok());
  EXPECT_EQ(fdinfoCount(memfd->get()), -1);
  auto probe = probeReleaseSignal(std::move(memfd.value()));
  ASSERT_TRUE(probe.ok()) << probe.error().message();
  EXPECT_EQ(probe->signal, ReleaseSignal::kInotify);
  EXPECT_EQ(probe->lone_count, -1);
}

int openFds() {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) (void)e, ++n;
  return n;
}

TEST(BufferWatcherCounted, KeepsADupAndReportsWhenTheCountIsWhatOneFdShows) {
  auto w = BufferWatcher::create();
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->timerFd(), -1);
  auto held = createSealedMemfd("held", 4096, true, true);
  ASSERT_TRUE(held.ok());
  const int before = openFds();
  // A memfd shows no count (-1): with lone_count 1 it is never taken for released.
  auto kept = w->watch(held->get(), ReleaseSignal::kCountedDup, 1);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept.value(), BufferWatcher::kFirstCountedId);
  EXPECT_GE(w->timerFd(), 0);
  EXPECT_EQ(openFds(), before + 2);  // the dup and the timer
  held->reset();
  EXPECT_TRUE(w->poll().empty());
  EXPECT_EQ(w->counting(), 1u);
  // A watch whose lone count is what the file shows is released at the next poll, and its dup closes.
  auto other = createSealedMemfd("other", 4096, true, true);
  ASSERT_TRUE(other.ok());
  auto id = w->watch(other->get(), ReleaseSignal::kCountedDup, -1);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id.value(), BufferWatcher::kFirstCountedId - 1);
  other->reset();
  const int with_two = openFds();
  EXPECT_EQ(w->poll(), std::vector<int>{id.value()});
  EXPECT_EQ(openFds(), with_two - 1);
  EXPECT_EQ(w->watching(), 1u);
  EXPECT_EQ(w->recheck(), std::vector<int>{});
}

// A lookup's poll (counted=false) reads no fdinfo and leaves counted releases for the next full
// poll; inotify releases still come at once.
TEST(BufferWatcherCounted, APollWithoutCountedReadsNoFdinfo) {
  auto w = BufferWatcher::create();
  ASSERT_TRUE(w.ok());
  auto counted = createSealedMemfd("counted", 4096, true, true);
  auto watched = createSealedMemfd("watched", 4096, true, true);
  ASSERT_TRUE(counted.ok() && watched.ok());
  auto id = w->watch(counted->get(), ReleaseSignal::kCountedDup, -1);  // -1: released at a full poll
  auto wd = w->watch(watched->get());
  ASSERT_TRUE(id.ok() && wd.ok());
  counted->reset();
  watched->reset();
  EXPECT_EQ(w->poll(false), std::vector<int>{wd.value()});
  EXPECT_EQ(w->countReads(), 0u);
  EXPECT_EQ(w->counting(), 1u);
  EXPECT_EQ(w->poll(), std::vector<int>{id.value()});
  EXPECT_EQ(w->countReads(), 1u);
  EXPECT_EQ(w->watching(), 0u);
}

TEST(Backing, ABufferRemembersWhichBackingMadeIt) {
  SmallLimitBacking small;
  small.setNext(makeMemfdBacking());
  small.setNotice([](const std::string&) {});
  struct NoMemory final : PhysicalAllocation {};
  Buffer::Options o;
  o.heap_name = "system";
  o.fd_flags = O_RDWR | uapi::kOCloexec;
  o.backing = &small;
  auto a = Buffer::create(std::make_unique<NoMemory>(), 4096, Kernel{}, o);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value()->backing(), BackingKind::kUdmabuf);
  auto b = Buffer::create(std::make_unique<NoMemory>(), 16384, Kernel{}, o);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value()->backing(), BackingKind::kMemfd);
  o.backing = nullptr;
  auto c = Buffer::create(std::make_unique<NoMemory>(), 4096, Kernel{}, o);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value()->backing(), BackingKind::kMemfd);
}

}  // namespace
}  // namespace dmaheap
