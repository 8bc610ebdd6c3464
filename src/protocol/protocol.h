// The dmaheapd wire format, version 1.
//
// Every message is one frame: a 16-byte header, then `length` payload bytes, all little-endian.
//
//   offset size field
//   0      4    magic      0x50484d44 ("DMHP" in memory order)
//   4      2    version    kProtocolVersion; anything else is refused (EPROTONOSUPPORT)
//   6      1    type       MsgType; a reply sets kReplyFlag; 0xff = protocol error, closing
//   7      1    fd_count   0 or 1: an fd travels (SCM_RIGHTS) with the frame's first byte
//   8      4    length     payload bytes; requests at most kMaxRequestPayload (EMSGSIZE)
//   12     4    id         chosen by the client, echoed in the reply
//
// Payload fields are those listed by each struct in messages.h: integers in their width,
// bool as one byte 0/1, string as u16 length + bytes (at most kMaxString, no NUL), list as
// u32 count + items. A reply payload starts with i32 errno and a string message; the body
// follows only when errno is 0. Decoding is strict: a short, overlong or inconsistent payload
// is EPROTO, and a frame's fd_count must match its type.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "protocol/messages.h"

namespace dmaheap::proto {

inline constexpr uint32_t kMagic = 0x50484d44;
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr size_t kHeaderSize = 16;
inline constexpr uint32_t kMaxRequestPayload = 4096;
inline constexpr uint32_t kMaxReplyPayload = 64u << 20;

enum class Direction { kRequest, kReply };

struct Header {
  uint32_t magic = kMagic;
  uint16_t version = kProtocolVersion;
  uint8_t type = 0;
  uint8_t fd_count = 0;
  uint32_t length = 0;
  uint32_t id = 0;
  bool operator==(const Header&) const = default;
};

// Checks magic (EPROTO), version (EPROTONOSUPPORT), the reply flag against the direction and
// fd_count <= 1 (EPROTO), length against the direction's limit (EMSGSIZE). The type itself is
// checked by decodeRequest/decodeReply, so that an unknown request can be answered EOPNOTSUPP.
// `bytes` must hold at least kHeaderSize bytes.
Result<Header> decodeHeader(std::span<const uint8_t> bytes, Direction direction);
void encodeHeader(const Header& header, std::vector<uint8_t>& out);

// A whole frame for a request or reply. `request_type` names the request a reply answers.
std::vector<uint8_t> encodeRequest(uint32_t id, const Request& request);
std::vector<uint8_t> encodeReply(uint32_t id, MsgType request_type, const Reply& reply);
std::vector<uint8_t> encodeProtocolError(int err, const std::string& message);

// EOPNOTSUPP for a type this version does not know (the frame is intact, the connection can go
// on); EPROTO for a malformed payload or an fd_count that does not match the type.
Result<Request> decodeRequest(const Header& header, std::span<const uint8_t> payload);
// EPROTO for a malformed reply or one whose type is not a reply to a request.
Result<Reply> decodeReply(const Header& header, std::span<const uint8_t> payload);

MsgType requestType(const Request& request);
bool requestCarriesFd(MsgType type);
bool replyCarriesFd(MsgType type);
const char* msgTypeName(uint8_t type);

// Turns a byte stream into frames. Bytes may arrive in any pieces.
struct Frame {
  Header header;
  std::vector<uint8_t> payload;
};

class FrameBuffer {
 public:
  explicit FrameBuffer(Direction direction) : direction_(direction) {}
  void append(std::span<const uint8_t> bytes);
  // The next complete frame; std::nullopt while incomplete; the header's error once the header
  // is complete and bad (the stream cannot be resynchronised after that).
  Result<std::optional<Frame>> next();
  // Bytes received but not yet returned as a frame: non-zero means a message is half read.
  size_t buffered() const { return data_.size() - start_; }
  // True when next() would return a frame (or a header error) without more input.
  bool hasFrame() const;

 private:
  Direction direction_;
  std::vector<uint8_t> data_;
  size_t start_ = 0;
};

}  // namespace dmaheap::proto
