// What dmaheapd keeps about its live buffers so that a restarted instance knows every buffer
// still held (docs/service-restart.md): the record format, its encoding, and the two-slot memfd
// it lives in.
//
// Encoding: little-endian, a 40-byte header — magic "DMAHSTAT", format version, payload length,
// generation, CRC-32 of the payload — then the payload: the board fingerprint, the counters, and
// per buffer its watch descriptor in the stored inotify instance, file identity, heap, length,
// segments (the emulated physical placement), name and owner. decodeState checks every length
// and bound before it reads and every value the service would act on (segments page aligned and
// adding up to the length, no buffer twice, no two buffers sharing a page); anything else is
// EBADMSG with a sentence saying what and where, and nothing half-decoded is returned.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "heap/heap.h"

namespace dmaheap::service {

struct PersistedBuffer {
  int32_t watch = 0;       // inotify watch descriptor in the stored instance
  uint64_t dev = 0;        // st_dev, st_ino of the memfd
  uint64_t ino = 0;
  std::string heap;        // registry name
  uint64_t size = 0;
  std::vector<Segment> segments;
  std::string name;        // DMA_BUF_SET_NAME
  uint64_t client = 0;     // the connection that allocated it (ids go on rising after a restart)
  int32_t owner_pid = 0;
  uint32_t owner_uid = 0;
  std::string owner_comm;
  bool operator==(const PersistedBuffer&) const = default;
};

struct PersistedState {
  uint64_t generation = 0;  // rises with every write; the newer valid slot wins
  std::string board;        // boardFingerprint() of the service that wrote it
  uint64_t page_size = 4096;
  uint64_t next_client_id = 0;
  uint64_t buffers_freed = 0;
  std::vector<PersistedBuffer> buffers;
  bool operator==(const PersistedState&) const = default;
};

inline constexpr size_t kStateHeaderSize = 40;
inline constexpr uint32_t kStateVersion = 1;
// Bounds decodeState enforces (a hostile length must not make it allocate without limit).
inline constexpr size_t kMaxPersistedBuffers = 1 << 20;
inline constexpr size_t kMaxPersistedString = 4096;
inline constexpr uint64_t kMaxStatePayload = uint64_t{1} << 30;

std::vector<uint8_t> encodeState(const PersistedState& state);
// EBADMSG for anything but a complete, consistent record (the message says what is wrong).
Result<PersistedState> decodeState(std::span<const uint8_t> bytes);

// The two slots: two memfds written alternately, so that a write cut short (the service killed
// in the middle) leaves the previous record whole in the other one.
class StateSlots {
 public:
  // Two new, empty memfds.
  static Result<StateSlots> create();
  // The memfds an earlier run stored (either may be invalid: then a new one is made).
  static Result<StateSlots> adopt(UniqueFd a, UniqueFd b);

  int fd(int slot) const { return slots_[slot].get(); }

  // What the slots hold: the valid record with the highest generation. An empty slot (never
  // written) does not count; a slot that is neither empty nor valid is reported in `warnings`
  // and skipped when the other is valid and newer; when no slot is valid and one is not empty,
  // EBADMSG naming both problems. `empty` is set when both slots are empty.
  Result<PersistedState> load(std::vector<std::string>* warnings, bool* empty);

  // Writes `state` (with generation = last + 1) into the slot not holding the newest record.
  Status write(PersistedState& state);
  uint64_t writes() const { return writes_; }
  uint64_t lastBytes() const { return last_bytes_; }

 private:
  UniqueFd slots_[2];
  int newest_ = 1;           // slot holding the newest record (the next write goes to the other)
  uint64_t generation_ = 0;
  uint64_t writes_ = 0;
  uint64_t last_bytes_ = 0;
};

}  // namespace dmaheap::service
