// libFuzzer target for the dmaheapd wire format: arbitrary bytes as a stream of requests and
// of replies (in pieces), and as the payload of every message type. Whatever decodes must
// re-encode to something that decodes to the same value; nothing may crash, leak or read out
// of bounds.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "protocol/protocol.h"

namespace {

using namespace dmaheap::proto;

void checkRequest(const Header& h, std::span<const uint8_t> payload) {
  auto request = decodeRequest(h, payload);
  if (!request) return;
  const auto bytes = encodeRequest(h.id, *request);
  FrameBuffer fb(Direction::kRequest);
  fb.append(bytes);
  auto frame = fb.next();
  if (!frame || !frame->has_value()) std::abort();
  auto again = decodeRequest((*frame)->header, (*frame)->payload);
  if (!again || !(*again == *request)) std::abort();
}

void checkReply(const Header& h, std::span<const uint8_t> payload) {
  auto reply = decodeReply(h, payload);
  if (!reply) return;
  if (h.type == kProtocolErrorType) return;
  const auto type = static_cast<MsgType>(h.type & ~kReplyFlag);
  const auto bytes = encodeReply(h.id, type, *reply);
  FrameBuffer fb(Direction::kReply);
  fb.append(bytes);
  auto frame = fb.next();
  if (!frame || !frame->has_value()) std::abort();
  auto again = decodeReply((*frame)->header, (*frame)->payload);
  if (!again || !(*again == *reply)) std::abort();
}

void stream(Direction d, const uint8_t* data, size_t size) {
  FrameBuffer fb(d);
  const size_t chunk = size == 0 ? 1 : 1 + data[0] % 61;
  for (size_t off = 0; off < size; off += chunk) {
    fb.append(std::span<const uint8_t>(data + off, std::min(chunk, size - off)));
    for (;;) {
      const bool announced = fb.hasFrame();
      auto f = fb.next();
      if (!f) return;  // a bad header ends the stream, as it ends a connection
      if (!f->has_value()) {
        if (announced) std::abort();  // hasFrame() promised one
        break;
      }
      if (d == Direction::kRequest) {
        checkRequest((*f)->header, (*f)->payload);
      } else {
        checkReply((*f)->header, (*f)->payload);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  stream(Direction::kRequest, data, size);
  stream(Direction::kReply, data, size);
  // The same bytes as the payload of every type, with and without an fd.
  const std::span<const uint8_t> payload(data, size);
  for (uint8_t type = 1; type <= 7; ++type) {
    for (uint8_t fds = 0; fds <= 1; ++fds) {
      Header h;
      h.type = type;
      h.fd_count = fds;
      h.length = static_cast<uint32_t>(size);
      checkRequest(h, payload);
      h.type = type | kReplyFlag;
      checkReply(h, payload);
    }
  }
  Header e;
  e.type = kProtocolErrorType;
  e.length = static_cast<uint32_t>(size);
  checkReply(e, payload);
  return 0;
}
