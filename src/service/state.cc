// The restart state's encoding and its two memfd slots (docs/service-restart.md).
#include "service/state.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <tuple>

namespace dmaheap::service {
namespace {

constexpr char kMagic[8] = {'D', 'M', 'A', 'H', 'S', 'T', 'A', 'T'};

uint32_t crc32(std::span<const uint8_t> data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (uint8_t b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

class Writer {
 public:
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  std::vector<uint8_t> out;
};

// Every read checks what is left first; the first failure sticks and names where it happened.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool take(size_t n, const char* what) {
    if (!err_.empty()) return false;
    if (in_.size() - pos_ < n) {
      fail(std::string("the record ends inside ") + what);
      return false;
    }
    return true;
  }
  uint32_t u32(const char* what) {
    if (!take(4, what)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{in_[pos_ + i]} << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t u64(const char* what) {
    if (!take(8, what)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{in_[pos_ + i]} << (8 * i);
    pos_ += 8;
    return v;
  }
  std::string str(const char* what) {
    const uint32_t n = u32(what);
    if (!err_.empty()) return {};
    if (n > kMaxPersistedString) {
      fail(std::string(what) + " is " + std::to_string(n) + " bytes long, more than " +
           std::to_string(kMaxPersistedString));
      return {};
    }
    if (!take(n, what)) return {};
    std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void fail(std::string why) {
    if (err_.empty()) err_ = std::move(why) + " (at byte " + std::to_string(pos_) + " of the payload)";
  }
  bool ok() const { return err_.empty(); }
  bool atEnd() const { return pos_ == in_.size(); }
  const std::string& error() const { return err_; }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  std::string err_;
};

Error bad(const std::string& why) { return makeError(EBADMSG, "restart state refused: " + why); }

uint64_t le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}
uint32_t le32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{p[i]} << (8 * i);
  return v;
}

}  // namespace

std::vector<uint8_t> encodeState(const PersistedState& state) {
  Writer p;
  p.str(state.board);
  p.u64(state.page_size);
  p.u64(state.next_client_id);
  p.u64(state.buffers_freed);
  p.u32(static_cast<uint32_t>(state.buffers.size()));
  for (const PersistedBuffer& b : state.buffers) {
    p.u32(static_cast<uint32_t>(b.watch));
    p.u64(b.dev);
    p.u64(b.ino);
    p.str(b.heap);
    p.u64(b.size);
    p.u32(static_cast<uint32_t>(b.segments.size()));
    for (const Segment& s : b.segments) {
      p.u64(s.base);
      p.u64(s.size);
    }
    p.str(b.name);
    p.u64(b.client);
    p.u32(static_cast<uint32_t>(b.owner_pid));
    p.u32(b.owner_uid);
    p.str(b.owner_comm);
  }
  Writer h;
  h.out.assign(std::begin(kMagic), std::end(kMagic));
  h.u32(kStateVersion);
  h.u32(0);  // flags, none defined
  h.u64(p.out.size());
  h.u64(state.generation);
  h.u32(crc32(p.out));
  h.u32(0);  // reserved
  h.out.insert(h.out.end(), p.out.begin(), p.out.end());
  return std::move(h.out);
}

Result<PersistedState> decodeState(std::span<const uint8_t> bytes) {
  if (bytes.size() < kStateHeaderSize) {
    return bad(std::to_string(bytes.size()) + " bytes is shorter than the " + std::to_string(kStateHeaderSize) +
               "-byte header");
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return bad("no DMAHSTAT magic: not a dmaheapd state record");
  const uint32_t version = le32(bytes.data() + 8);
  if (version != kStateVersion) {
    return bad("format version " + std::to_string(version) + ", this dmaheapd reads version " +
               std::to_string(kStateVersion));
  }
  if (le32(bytes.data() + 12) != 0) return bad("unknown flags " + std::to_string(le32(bytes.data() + 12)));
  const uint64_t length = le64(bytes.data() + 16);
  if (length > kMaxStatePayload || length > bytes.size() - kStateHeaderSize) {
    return bad("the header announces " + std::to_string(length) + " payload bytes, " +
               std::to_string(bytes.size() - kStateHeaderSize) + " follow");
  }
  const auto payload = bytes.subspan(kStateHeaderSize, static_cast<size_t>(length));
  if (crc32(payload) != le32(bytes.data() + 32)) return bad("the payload's CRC-32 does not match (a torn or damaged write)");
  PersistedState st;
  st.generation = le64(bytes.data() + 24);
  Reader r(payload);
  st.board = r.str("the board fingerprint");
  st.page_size = r.u64("the page size");
  st.next_client_id = r.u64("the next client id");
  st.buffers_freed = r.u64("the freed-buffer count");
  if (r.ok() && (st.page_size < 4096 || st.page_size > (1u << 16) || (st.page_size & (st.page_size - 1)) != 0)) {
    r.fail("page size " + std::to_string(st.page_size) + " is not a power of two from 4 KiB to 64 KiB");
  }
  const uint32_t count = r.u32("the buffer count");
  if (r.ok() && count > kMaxPersistedBuffers) r.fail(std::to_string(count) + " buffers is more than any service keeps");
  // (start, end, buffer index) of every segment, for the overlap check.
  std::vector<std::tuple<uint64_t, uint64_t, size_t>> pieces;
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    PersistedBuffer b;
    b.watch = static_cast<int32_t>(r.u32("a watch descriptor"));
    b.dev = r.u64("a device number");
    b.ino = r.u64("an inode number");
    b.heap = r.str("a heap name");
    b.size = r.u64("a buffer length");
    const uint32_t segs = r.u32("a segment count");
    if (!r.ok()) break;
    const std::string which = "buffer " + std::to_string(i) + " (inode " + std::to_string(b.ino) + ")";
    if (b.watch <= 0) r.fail(which + " has watch descriptor " + std::to_string(b.watch));
    if (b.heap.empty()) r.fail(which + " names no heap");
    if (b.size == 0 || (b.size & (st.page_size - 1)) != 0) r.fail(which + " has length " + std::to_string(b.size) + ", not a whole number of pages");
    if (segs == 0 || segs > b.size / st.page_size) r.fail(which + " has " + std::to_string(segs) + " segments for " + std::to_string(b.size) + " bytes");
    uint64_t total = 0;
    for (uint32_t k = 0; k < segs && r.ok(); ++k) {
      Segment s{r.u64("a segment base"), r.u64("a segment length")};
      if (!r.ok()) break;
      if (s.size == 0 || ((s.base | s.size) & (st.page_size - 1)) != 0 || s.base + s.size < s.base) {
        r.fail(which + " has a segment at " + std::to_string(s.base) + "+" + std::to_string(s.size) + " that is not whole pages");
        break;
      }
      total += s.size;
      pieces.emplace_back(s.base, s.base + s.size, i);
      b.segments.push_back(s);
    }
    if (r.ok() && total != b.size) r.fail(which + "'s segments add up to " + std::to_string(total) + " bytes, not its length " + std::to_string(b.size));
    b.name = r.str("a buffer name");
    b.client = r.u64("a client id");
    b.owner_pid = static_cast<int32_t>(r.u32("an owner pid"));
    b.owner_uid = r.u32("an owner uid");
    b.owner_comm = r.str("an owner command");
    st.buffers.push_back(std::move(b));
  }
  if (r.ok() && !r.atEnd()) r.fail("bytes follow the last buffer");
  if (!r.ok()) return bad(r.error());
  std::vector<std::pair<uint64_t, uint64_t>> ids;
  std::vector<int32_t> watches;
  for (const PersistedBuffer& b : st.buffers) {
    ids.emplace_back(b.dev, b.ino);
    watches.push_back(b.watch);
  }
  std::sort(ids.begin(), ids.end());
  std::sort(watches.begin(), watches.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) return bad("a buffer's inode appears twice");
  if (std::adjacent_find(watches.begin(), watches.end()) != watches.end()) return bad("a watch descriptor appears twice");
  std::sort(pieces.begin(), pieces.end());
  for (size_t i = 1; i < pieces.size(); ++i) {
    if (std::get<0>(pieces[i]) < std::get<1>(pieces[i - 1])) {
      return bad("buffers " + std::to_string(std::get<2>(pieces[i - 1])) + " and " + std::to_string(std::get<2>(pieces[i])) +
                 " share physical pages at " + std::to_string(std::get<0>(pieces[i])));
    }
  }
  return st;
}

namespace {

Result<UniqueFd> newSlot(const char* name) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd) return makeError(errno, std::string("memfd_create: ") + std::strerror(errno));
  return fd;
}

// The whole content of a slot, or an error.
Result<std::vector<uint8_t>> readAll(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return makeError(errno, std::string("fstat: ") + std::strerror(errno));
  if (static_cast<uint64_t>(st.st_size) > kMaxStatePayload + kStateHeaderSize) {
    return bad("a slot of " + std::to_string(st.st_size) + " bytes is larger than any record");
  }
  std::vector<uint8_t> out(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeError(errno, std::string("pread: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace

Result<StateSlots> StateSlots::create() {
  StateSlots s;
  for (int i = 0; i < 2; ++i) {
    auto fd = newSlot(i == 0 ? "dmaheapd-state-a" : "dmaheapd-state-b");
    if (!fd) return fd.error();
    s.slots_[i] = std::move(fd.value());
  }
  return s;
}

Result<StateSlots> StateSlots::adopt(UniqueFd a, UniqueFd b) {
  StateSlots s;
  s.slots_[0] = std::move(a);
  s.slots_[1] = std::move(b);
  for (int i = 0; i < 2; ++i) {
    if (s.slots_[i]) continue;
    auto fd = newSlot(i == 0 ? "dmaheapd-state-a" : "dmaheapd-state-b");
    if (!fd) return fd.error();
    s.slots_[i] = std::move(fd.value());
  }
  return s;
}

Result<PersistedState> StateSlots::load(std::vector<std::string>* warnings, bool* empty) {
  std::optional<PersistedState> best;
  int best_slot = -1;
  std::string problems;
  bool all_empty = true;
  for (int i = 0; i < 2; ++i) {
    const std::string label = std::string("slot ") + (i == 0 ? "state-a" : "state-b");
    auto bytes = readAll(slots_[i].get());
    if (!bytes) {
      problems += (problems.empty() ? "" : "; ") + label + ": " + bytes.error().message();
      all_empty = false;
      continue;
    }
    if (bytes->empty()) continue;
    all_empty = false;
    auto st = decodeState(*bytes);
    if (!st) {
      problems += (problems.empty() ? "" : "; ") + label + ": " + st.error().message();
      continue;
    }
    if (!best || st->generation > best->generation) {
      best = std::move(st.value());
      best_slot = i;
    }
  }
  if (empty) *empty = all_empty;
  if (all_empty) return PersistedState{};
  if (!best) return makeError(EBADMSG, problems);
  if (!problems.empty() && warnings) warnings->push_back(problems);
  newest_ = best_slot;
  generation_ = best->generation;
  return std::move(*best);
}

Status StateSlots::write(PersistedState& state) {
  state.generation = generation_ + 1;
  const std::vector<uint8_t> bytes = encodeState(state);
  const int slot = 1 - newest_;
  const int fd = slots_[slot].get();
  // Shrinking first and growing by the write keeps the slot's length equal to the record's.
  if (::ftruncate(fd, 0) != 0) return makeError(errno, std::string("ftruncate: ") + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeError(errno, std::string("pwrite: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  newest_ = slot;
  generation_ = state.generation;
  ++writes_;
  last_bytes_ = bytes.size();
  return {};
}

}  // namespace dmaheap::service
