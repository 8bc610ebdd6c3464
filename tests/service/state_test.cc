// The restart state (docs/service-restart.md): exact round trip, every damaged or hostile
// record refused with EBADMSG and nothing returned, the two slots, the heaps taking back exact
// placements, and Service::keepState refusing whatever would let it hand out held pages.
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "service/state.h"
#include "service_fixture.h"

namespace dmaheap::service {
namespace {

PersistedState sample() {
  PersistedState st;
  st.generation = 7;
  st.board = "kernel 6.18; page 4096; system system 1";
  st.next_client_id = 42;
  st.buffers_freed = 3;
  PersistedBuffer cma;
  cma.watch = 1;
  cma.dev = 0x17;
  cma.ino = 1001;
  cma.heap = "reserved";
  cma.size = 8 << 20;
  cma.segments = {{0x50000000, 8 << 20}};
  cma.name = "camera-preview";
  cma.client = 16;
  cma.owner_pid = 1234;
  cma.owner_uid = 1000;
  cma.owner_comm = "cam";
  PersistedBuffer sys;
  sys.watch = 5;
  sys.dev = 0x17;
  sys.ino = 1002;
  sys.heap = "system";
  sys.size = (1 << 20) + (64 << 10) + 4096;
  sys.segments = {{0x41000000, 1 << 20}, {0x42010000, 64 << 10}, {0x43000000, 4096}};
  sys.client = 17;
  sys.owner_pid = 99;
  sys.owner_comm = std::string("a\0b\xff", 4);  // bytes, not text
  st.buffers = {cma, sys};
  return st;
}

// Re-encodes a (possibly hostile) state with a correct CRC, so that only the semantic checks
// can refuse it.
std::vector<uint8_t> encoded(const PersistedState& st) { return encodeState(st); }

TEST(ServiceState, RoundTripIsExact) {
  const PersistedState st = sample();
  const auto bytes = encodeState(st);
  auto back = decodeState(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, st);
  EXPECT_EQ(encodeState(*back), bytes);
  PersistedState empty;
  auto e = decodeState(encodeState(empty));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, empty);
}

TEST(ServiceState, EveryTruncationIsRefused) {
  const auto bytes = encodeState(sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = decodeState(std::span<const uint8_t>(bytes.data(), n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.code(), EBADMSG) << n;
  }
}

TEST(ServiceState, EveryFlippedBitIsRefused) {
  const auto bytes = encodeState(sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i >= 36 && i < 40) continue;  // the reserved word is not checked
    if (i >= 24 && i < 32) continue;  // the generation is any number
    for (int bit = 0; bit < 8; bit += 3) {
      auto damaged = bytes;
      damaged[i] ^= static_cast<uint8_t>(1u << bit);
      auto r = decodeState(damaged);
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      EXPECT_EQ(r.code(), EBADMSG);
    }
  }
}

TEST(ServiceState, HeaderProblemsAreNamed) {
  auto bytes = encodeState(sample());
  auto bad_magic = bytes;
  bad_magic[0] = 'X';
  EXPECT_NE(decodeState(bad_magic).error().message().find("no DMAHSTAT magic"), std::string::npos);
  auto bad_version = bytes;
  bad_version[8] = 2;
  EXPECT_NE(decodeState(bad_version).error().message().find("format version 2"), std::string::npos);
  auto long_length = bytes;
  long_length[23] = 0x7f;
  EXPECT_NE(decodeState(long_length).error().message().find("payload bytes"), std::string::npos);
  auto bad_crc = bytes;
  bad_crc.back() ^= 1;
  EXPECT_NE(decodeState(bad_crc).error().message().find("CRC-32"), std::string::npos);
  auto trailing = bytes;
  trailing.push_back(0);  // past the announced length: not part of the record
  EXPECT_TRUE(decodeState(trailing).ok());
}

TEST(ServiceState, InconsistentRecordsAreRefused) {
  const auto refused = [](const PersistedState& st, const std::string& why) {
    auto r = decodeState(encoded(st));
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_EQ(r.code(), EBADMSG);
    EXPECT_NE(r.error().message().find(why), std::string::npos) << r.error().message();
  };
  PersistedState overlap = sample();
  overlap.buffers[1].segments[2].base = 0x50000000 + (4 << 20);  // inside the CMA buffer
  refused(overlap, "share physical pages");
  PersistedState sum = sample();
  sum.buffers[1].size += 4096;
  refused(sum, "add up to");
  PersistedState unaligned = sample();
  unaligned.buffers[0].segments[0].base += 512;
  refused(unaligned, "not whole pages");
  PersistedState twice = sample();
  twice.buffers[1].watch = twice.buffers[0].watch;
  refused(twice, "watch descriptor appears twice");
  PersistedState same_inode = sample();
  same_inode.buffers[1].ino = same_inode.buffers[0].ino;
  refused(same_inode, "inode appears twice");
  PersistedState no_heap = sample();
  no_heap.buffers[0].heap.clear();
  refused(no_heap, "names no heap");
  PersistedState bad_wd = sample();
  bad_wd.buffers[0].watch = -3;
  refused(bad_wd, "watch descriptor -3");
  PersistedState page = sample();
  page.page_size = 3000;
  refused(page, "page size 3000");
  PersistedState long_name = sample();
  long_name.buffers[0].name.assign(kMaxPersistedString + 1, 'n');
  refused(long_name, "more than 4096");
  PersistedState no_segments = sample();
  no_segments.buffers[0].segments.clear();
  refused(no_segments, "0 segments");
}

// The standard CRC-32 (the record's checksum), to forge records only the semantic checks see.
uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

void reseal(std::vector<uint8_t>& bytes) {
  const uint32_t c = crc32(bytes.data() + kStateHeaderSize, bytes.size() - kStateHeaderSize);
  for (int i = 0; i < 4; ++i) bytes[32 + static_cast<size_t>(i)] = static_cast<uint8_t>(c >> (8 * i));
}

TEST(ServiceState, HostileCountsAreRefusedBeforeAllocating) {
  // An empty state's payload ends with the buffer count: make it 2^32-1 with a valid CRC.
  auto bytes = encodeState(PersistedState{});
  for (size_t i = 1; i <= 4; ++i) bytes[bytes.size() - i] = 0xff;
  reseal(bytes);
  auto r = decodeState(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), EBADMSG);
  EXPECT_NE(r.error().message().find("4294967295 buffers"), std::string::npos) << r.error().message();
  // A string length of 2^32-1 (the board fingerprint, the first field).
  auto str = encodeState(PersistedState{});
  for (size_t i = 0; i < 4; ++i) str[kStateHeaderSize + i] = 0xff;
  reseal(str);
  auto s = decodeState(str);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("the board fingerprint is 4294967295 bytes"), std::string::npos) << s.error().message();
}

TEST(ServiceState, SlotsKeepTheNewestWholeRecord) {
  auto slots = StateSlots::create();
  ASSERT_TRUE(slots.ok());
  bool empty = false;
  std::vector<std::string> warnings;
  auto none = slots->load(&warnings, &empty);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(empty);
  PersistedState first = sample();
  first.buffers.pop_back();
  ASSERT_TRUE(slots->write(first).ok());
  PersistedState second = sample();
  ASSERT_TRUE(slots->write(second).ok());
  EXPECT_EQ(first.generation, 1u);
  EXPECT_EQ(second.generation, 2u);
  EXPECT_EQ(slots->writes(), 2u);
  // A new reader of the same memfds (what a restarted service gets back).
  const auto reopen = [&](const StateSlots& s) {
    return StateSlots::adopt(UniqueFd(::dup(s.fd(0))), UniqueFd(::dup(s.fd(1))));
  };
  auto again = reopen(*slots);
  ASSERT_TRUE(again.ok());
  auto got = again->load(&warnings, &empty);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(empty);
  EXPECT_EQ(*got, second);
  EXPECT_TRUE(warnings.empty());
  // A write cut short in the newest slot (slot b): the previous record in slot a stands.
  struct stat st {};
  ASSERT_EQ(::fstat(slots->fd(1), &st), 0);
  ASSERT_EQ(::ftruncate(slots->fd(1), st.st_size / 2), 0);
  auto torn = reopen(*slots);
  auto older = torn->load(&warnings, &empty);
  ASSERT_TRUE(older.ok());
  EXPECT_EQ(*older, first);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("state-b"), std::string::npos);
  // The next write goes to the damaged slot, not over the good one.
  PersistedState third = sample();
  ASSERT_TRUE(torn->write(third).ok());
  EXPECT_EQ(third.generation, 2u);
  // Both damaged: refused, naming both.
  ASSERT_EQ(::pwrite(slots->fd(0), "garbage!", 8, 0), 8);
  ASSERT_EQ(::pwrite(slots->fd(1), "garbage!", 8, 0), 8);
  auto both = reopen(*slots);
  auto refused = both->load(&warnings, &empty);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), EBADMSG);
  EXPECT_NE(refused.error().message().find("state-a"), std::string::npos);
  EXPECT_NE(refused.error().message().find("state-b"), std::string::npos);
}

// ---- the heaps taking back exact placements ----

struct TestBoard {
  TestBoard() {
    auto b = buildBoard(testing::smallBoardPlan());
    if (!b) std::abort();
    board = std::move(b.value());
  }
  const HeapEntry& heap(const std::string& name) const { return *board->registry->find(name); }
  uint64_t free(const std::string& name) const { return heap(name).heap->usage().free; }
  std::unique_ptr<dmaheap::Board> board;
};

TEST(HeapAdopt, CmaTakesBackExactlyTheFreeRange) {
  TestBoard b;
  const uint64_t before = b.free("reserved");
  auto held = b.heap("reserved").heap->allocate(4 << 20);
  ASSERT_TRUE(held.ok());
  const Segment seg = (*held)->segments()[0];
  // Where a buffer already is: EBUSY, and nothing changes.
  auto overlap = b.heap("reserved").heap->adopt({{seg.base + 4096, 1 << 20}}, 1 << 20);
  ASSERT_FALSE(overlap.ok());
  EXPECT_EQ(overlap.code(), EBUSY);
  EXPECT_EQ(b.free("reserved"), before - (4 << 20));
  const Segment later{seg.base + (8 << 20), 2 << 20};
  auto taken = b.heap("reserved").heap->adopt({later}, later.size);
  ASSERT_TRUE(taken.ok()) << taken.error().message();
  EXPECT_EQ((*taken)->segments(), std::vector<Segment>{later});
  EXPECT_EQ(b.free("reserved"), before - (6 << 20));
  // Outside the area, or not one segment: EINVAL.
  EXPECT_EQ(b.heap("reserved").heap->adopt({{testing::kRamBase, 4096}}, 4096).code(), EINVAL);
  EXPECT_EQ(b.heap("reserved").heap->adopt({{later.base, 4096}, {later.base + 8192, 4096}}, 8192).code(), EINVAL);
  taken.value().reset();
  held.value().reset();
  EXPECT_EQ(b.free("reserved"), before);
}

TEST(HeapAdopt, SystemTakesBackChunksAndRefusesCmaOrBusyPages) {
  TestBoard b;
  const uint64_t before = b.free("system");
  auto held = b.heap("system").heap->allocate((1 << 20) + 4096);
  ASSERT_TRUE(held.ok());
  const auto segs = (*held)->segments();
  ASSERT_EQ(segs.size(), 2u);
  const std::vector<Segment> again = segs;
  EXPECT_EQ(b.heap("system").heap->adopt(again, (1 << 20) + 4096).code(), EBUSY);
  EXPECT_EQ(b.free("system"), before - (1 << 20) - 4096);
  held.value().reset();
  EXPECT_EQ(b.free("system"), before);
  auto taken = b.heap("system").heap->adopt(again, (1 << 20) + 4096);
  ASSERT_TRUE(taken.ok()) << taken.error().message();
  EXPECT_EQ((*taken)->segments(), again);
  EXPECT_EQ(b.free("system"), before - (1 << 20) - 4096);
  // A page of the CMA area is not a system page; an 8 KiB chunk is no chunk the heap makes.
  EXPECT_EQ(b.heap("system").heap->adopt({{testing::kRamBase + 256 * kMiB, 4096}}, 4096).code(), EBUSY);
  EXPECT_EQ(b.heap("system").heap->adopt({{testing::kRamBase, 8192}}, 8192).code(), EINVAL);
  taken.value().reset();
  EXPECT_EQ(b.free("system"), before);
}

// ---- keepState ----

// A store that records what it is sent (the keeper's end of a socketpair).
struct RecordingStore {
  RecordingStore() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    ours.reset(sv[0]);
    store = FdStore::overConnection(UniqueFd(sv[1]), "test store");
  }
  UniqueFd ours;
  std::unique_ptr<FdStore> store;
};

TEST(KeepState, FreshStartStoresThreeFdsAndWritesInPlaceAfterwards) {
  TestBoard b;
  auto svc = Service::create(*b.board->registry, ServiceOptions{});
  ASSERT_TRUE(svc.ok());
  RecordingStore rec;
  FdStore* store = rec.store.get();
  auto r = (*svc)->keepState(std::move(rec.store), {});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->fresh);
  EXPECT_EQ(store->stores(), 3u);
  EXPECT_EQ((*svc)->stateWrites(), 1u);
}

TEST(KeepState, RefusesAHeldBufferTheStateDoesNotDescribe) {
  TestBoard b;
  auto svc = Service::create(*b.board->registry, ServiceOptions{});
  ASSERT_TRUE(svc.ok());
  // An inotify instance watching a memfd that is still held, and no state at all.
  UniqueFd in(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  UniqueFd memfd(::memfd_create("held", MFD_CLOEXEC));
  ASSERT_GE(::inotify_add_watch(in.get(), ("/proc/self/fd/" + std::to_string(memfd.get())).c_str(), IN_MOVE_SELF), 1);
  std::vector<PassedFd> passed;
  passed.push_back({"inotify", std::move(in)});
  RecordingStore rec;
  const uint64_t free_before = b.free("reserved");
  auto r = (*svc)->keepState(std::move(rec.store), std::move(passed));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), EBADMSG);
  EXPECT_NE(r.error().message().find("does not describe"), std::string::npos);
  EXPECT_EQ(b.free("reserved"), free_before);
  EXPECT_EQ((*svc)->liveBuffers(), 0u);
}

// The state an earlier run left for a held memfd at a given CMA placement.
struct Earlier {
  explicit Earlier(const TestBoard& b, Segment seg, uint32_t owner_uid = 0) {
    inotify.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    memfd.reset(::memfd_create("dmabuf", MFD_CLOEXEC));
    struct stat st {};
    ::fstat(memfd.get(), &st);
    const int wd = ::inotify_add_watch(inotify.get(), ("/proc/self/fd/" + std::to_string(memfd.get())).c_str(), IN_MOVE_SELF);
    auto s = StateSlots::create();
    PersistedState state;
    state.board = boardFingerprint(*b.board->registry);
    PersistedBuffer p;
    p.watch = wd;
    p.dev = st.st_dev;
    p.ino = st.st_ino;
    p.heap = "reserved";
    p.size = seg.size;
    p.segments = {seg};
    p.name = "kept";
    p.owner_uid = owner_uid;
    state.buffers.push_back(p);
    if (!s->write(state).ok()) std::abort();
    a.reset(::dup(s->fd(0)));
    bfd.reset(::dup(s->fd(1)));
  }
  std::vector<PassedFd> passed() {
    std::vector<PassedFd> out;
    out.push_back({"inotify", UniqueFd(::dup(inotify.get()))});
    out.push_back({"state-a", UniqueFd(::dup(a.get()))});
    out.push_back({"state-b", UniqueFd(::dup(bfd.get()))});
    return out;
  }
  UniqueFd inotify, memfd, a, bfd;
};

TEST(KeepState, TakesBackAHeldBufferAndNothingMore) {
  TestBoard b;
  const uint64_t area = testing::kRamBase + 256 * kMiB;
  Earlier earlier(b, {area + (16 << 20), 4 << 20});
  auto svc = Service::create(*b.board->registry, ServiceOptions{});
  ASSERT_TRUE(svc.ok());
  RecordingStore rec;
  FdStore* store = rec.store.get();
  const uint64_t free_before = b.free("reserved");
  auto r = (*svc)->keepState(std::move(rec.store), earlier.passed());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(r->fresh);
  EXPECT_EQ(r->restored, 1u);
  EXPECT_EQ(r->released, 0u);
  EXPECT_EQ(store->stores(), 0u);  // the store has them all already
  EXPECT_EQ(b.free("reserved"), free_before - (4 << 20));
  auto s = (*svc)->stats(false);
  ASSERT_EQ(s.buffers.size(), 1u);
  EXPECT_EQ(s.buffers[0].buffer.name, "kept");
  EXPECT_EQ(s.buffers[0].buffer.segments[0].base, area + (16 << 20));
}

// A buffer taken back after a restart is still its uid's: it counts toward that uid's buffer
// limit and byte quota exactly as before the restart (docs/service-restart.md), until its last
// holder lets go.
TEST(KeepState, TakenBackBuffersCountTowardTheirUidsLimits) {
  TestBoard b;
  const uint32_t me = ::geteuid();
  Earlier earlier(b, {testing::kRamBase + 256 * kMiB, 1 << 20}, me);
  ServiceOptions o;
  o.max_buffers_per_uid = 1;
  o.access.quotas[me] = 2 << 20;
  o.log = [](const std::string&) {};
  auto svc = Service::create(*b.board->registry, o);
  ASSERT_TRUE(svc.ok());
  RecordingStore rec;
  auto r = (*svc)->keepState(std::move(rec.store), earlier.passed());
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->restored, 1u);
  const auto s = (*svc)->stats(false);
  ASSERT_EQ(s.uids.size(), 1u);
  EXPECT_EQ(s.uids[0].uid, me);
  EXPECT_EQ(s.uids[0].buffers, 1u);
  EXPECT_EQ(s.uids[0].bytes, 1u << 20);

  char tmpl[] = "/tmp/dmaheapd-keep-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, path = dir + "/sock";
  ASSERT_TRUE((*svc)->listen(path).ok());
  std::thread loop([&] { (void)(*svc)->run(); });
  {
    auto c = proto::ServiceClient::connect(path, "test");
    ASSERT_TRUE(c.ok()) << c.error().message();
    auto over_count = c->allocate("system", 4096);
    EXPECT_EQ(over_count.code(), ENOBUFS);
    if (!over_count) {
      EXPECT_EQ(over_count.error().message(),
                "uid " + std::to_string(me) + " holds 1 buffers, the limit per user (max_buffers_per_uid)");
    }
    auto over_bytes = c->allocate("system", 2 << 20);
    EXPECT_EQ(over_bytes.code(), EDQUOT);
    if (!over_bytes) {
      EXPECT_EQ(over_bytes.error().message(),
                "uid " + std::to_string(me) + " holds 1048576 bytes of its 2097152-byte quota; 2097152 more do not fit");
    }
    earlier.memfd.reset();  // its last holder lets go: the uid has room for one again
    auto again = c->allocate("system", 4096);
    EXPECT_TRUE(again.ok()) << again.error().message();
  }
  (*svc)->stop();
  loop.join();
  testing::removeTree(dir);
}

TEST(KeepState, ABufferReleasedMeanwhileIsNotTakenBack) {
  TestBoard b;
  Earlier earlier(b, {testing::kRamBase + 256 * kMiB, 1 << 20});
  earlier.memfd.reset();  // the last holder let go while no service ran
  auto svc = Service::create(*b.board->registry, ServiceOptions{});
  RecordingStore rec;
  const uint64_t free_before = b.free("reserved");
  auto r = (*svc)->keepState(std::move(rec.store), earlier.passed());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->restored, 0u);
  EXPECT_EQ(r->released, 1u);
  EXPECT_EQ(b.free("reserved"), free_before);
  EXPECT_EQ((*svc)->stats(false).buffers_freed, 1u);
}

TEST(KeepState, RefusesAnotherBoardOrPagesItCannotTake) {
  TestBoard b;
  {
    Earlier earlier(b, {testing::kRamBase + 256 * kMiB, 1 << 20});
    PersistedState st;
    std::vector<std::string> w;
    bool empty;
    auto slots = StateSlots::adopt(UniqueFd(::dup(earlier.a.get())), UniqueFd(::dup(earlier.bfd.get())));
    st = *slots->load(&w, &empty);
    st.board = "another board";
    ASSERT_TRUE(slots->write(st).ok());
    auto svc = Service::create(*b.board->registry, ServiceOptions{});
    RecordingStore rec;
    auto r = (*svc)->keepState(std::move(rec.store), earlier.passed());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), EINVAL);
    EXPECT_NE(r.error().message().find("another board"), std::string::npos);
  }
  {
    // Pages outside every CMA area: the heap refuses, the service must not start.
    Earlier earlier(b, {testing::kRamBase, 1 << 20});
    auto svc = Service::create(*b.board->registry, ServiceOptions{});
    RecordingStore rec;
    const uint64_t free_before = b.free("system");
    auto r = (*svc)->keepState(std::move(rec.store), earlier.passed());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), EINVAL);
    EXPECT_NE(r.error().message().find("cannot take back"), std::string::npos);
    EXPECT_EQ(b.free("system"), free_before);
    EXPECT_EQ((*svc)->liveBuffers(), 0u);
  }
}

TEST(KeepState, RefusesADamagedStateWithHeldBuffers) {
  TestBoard b;
  Earlier earlier(b, {testing::kRamBase + 256 * kMiB, 1 << 20});
  ASSERT_EQ(::pwrite(earlier.a.get(), "XXXX", 4, 0), 4);
  auto svc = Service::create(*b.board->registry, ServiceOptions{});
  RecordingStore rec;
  auto r = (*svc)->keepState(std::move(rec.store), earlier.passed());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), EBADMSG);
  EXPECT_NE(r.error().message().find("no DMAHSTAT magic"), std::string::npos);
  EXPECT_EQ((*svc)->liveBuffers(), 0u);
  // Once the holder let go, nothing can be overlapped: the same damaged state starts empty.
  earlier.memfd.reset();
  const uint64_t free_before = b.free("reserved");
  auto svc2 = Service::create(*b.board->registry, ServiceOptions{});
  RecordingStore rec2;
  auto r2 = (*svc2)->keepState(std::move(rec2.store), earlier.passed());
  ASSERT_TRUE(r2.ok()) << r2.error().message();
  EXPECT_EQ(r2->restored, 0u);
  ASSERT_EQ(r2->warnings.size(), 1u);
  EXPECT_NE(r2->warnings[0].find("starting empty"), std::string::npos);
  EXPECT_EQ(b.free("reserved"), free_before);
}

}  // namespace
}  // namespace dmaheap::service
