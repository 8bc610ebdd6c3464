// The wire format: every message round-trips; every malformation is refused with its errno.
#include "protocol/protocol.h"

#include <gtest/gtest.h>

#include "protocol/wire.h"

namespace dmaheap::proto {
namespace {

proto::BufferInfo sampleBuffer() {
  return {123456, 8192, "reserved", "preview", {{0x50000000, 4096}, {0x50002000, 4096}}};
}

std::vector<Request> sampleRequests() {
  return {HelloRequest{"libdmaheap 0.1"},
          ListHeapsRequest{},
          AllocRequest{"system", 5000, 0, 0x80002, 0},
          SetNameRequest{"camera"},
          BufferInfoRequest{},
          StatsRequest{false}};
}

std::vector<Reply> sampleReplies() {
  StatsReply stats;
  stats.service_pid = 42;
  stats.heaps = {{{"system", "system", 0, 1 << 30, 1 << 29, 1 << 20}, 1 << 29, 3, 12288}};
  stats.buffers = {{sampleBuffer(), 17, 1000, 1000, "camera", {{1000, "camera", 1, 1}, {1001, "display", 0, 2}}}};
  stats.clients = {{17, 1000, 1000, 1000, "camera", 9, 3, 1, 1, 8192}};
  stats.uids = {{1000, 1, 8192, true, 1 << 26}};
  std::vector<ReplyBody> bodies = {
      HelloReply{1, "dmaheapd 0.1.0", "6.18", 4096, 99},
      ListHeapsReply{{{"reserved", "cma", 1, 64 << 20, 60 << 20, 32 << 20}}},
      AllocReply{sampleBuffer()},
      SetNameReply{},
      BufferInfoReply{sampleBuffer()},
      stats,
  };
  std::vector<Reply> out;
  for (auto& b : bodies) out.push_back(Reply{0, "", b});
  return out;
}

Frame split(const std::vector<uint8_t>& bytes, Direction d) {
  FrameBuffer fb(d);
  fb.append(bytes);
  auto f = fb.next();
  EXPECT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ(fb.buffered(), 0u);
  return f.ok() && f->has_value() ? std::move(**f) : Frame{};
}

TEST(Protocol, EveryRequestRoundTrips) {
  for (const Request& r : sampleRequests()) {
    const auto bytes = encodeRequest(7, r);
    Frame f = split(bytes, Direction::kRequest);
    EXPECT_EQ(f.header.id, 7u);
    EXPECT_EQ(f.header.fd_count, requestCarriesFd(requestType(r)) ? 1 : 0);
    auto back = decodeRequest(f.header, f.payload);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(*back, r);
  }
}

TEST(Protocol, EveryReplyRoundTrips) {
  const MsgType types[] = {MsgType::kHello, MsgType::kListHeaps, MsgType::kAlloc,
                           MsgType::kSetName, MsgType::kBufferInfo, MsgType::kStats};
  auto replies = sampleReplies();
  for (size_t i = 0; i < replies.size(); ++i) {
    Frame f = split(encodeReply(3, types[i], replies[i]), Direction::kReply);
    EXPECT_EQ(f.header.type, static_cast<uint8_t>(types[i]) | kReplyFlag);
    auto back = decodeReply(f.header, f.payload);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(*back, replies[i]);
  }
  Reply err{EDQUOT, "uid 1000 is over quota", {}};
  Frame f = split(encodeReply(4, MsgType::kAlloc, err), Direction::kReply);
  EXPECT_EQ(f.header.fd_count, 0);  // an error never carries the fd
  auto back = decodeReply(f.header, f.payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, err);
}

TEST(Protocol, HeaderChecks) {
  auto bytes = encodeRequest(1, HelloRequest{});
  auto mutate = [&](size_t at, uint8_t v) {
    auto b = bytes;
    b[at] = v;
    return decodeHeader(b, Direction::kRequest).code();
  };
  EXPECT_EQ(decodeHeader(bytes, Direction::kRequest).code(), 0);
  EXPECT_EQ(mutate(0, 'X'), EPROTO);             // magic
  EXPECT_EQ(mutate(4, 2), EPROTONOSUPPORT);      // version
  EXPECT_EQ(mutate(6, 0x81), EPROTO);            // a reply sent as a request
  EXPECT_EQ(mutate(7, 2), EPROTO);               // two fds
  EXPECT_EQ(mutate(10, 1), EMSGSIZE);            // 64 KiB request
  EXPECT_EQ(decodeHeader(std::span<const uint8_t>(bytes).first(15), Direction::kRequest).code(), EPROTO);
  EXPECT_EQ(decodeHeader(bytes, Direction::kReply).code(), EPROTO);
}

TEST(Protocol, EveryTruncationAndExtensionIsRefused) {
  for (const Request& r : sampleRequests()) {
    const auto bytes = encodeRequest(1, r);
    Frame f = split(bytes, Direction::kRequest);
    for (size_t len = 0; len < f.payload.size(); ++len) {
      Header h = f.header;
      h.length = static_cast<uint32_t>(len);
      EXPECT_EQ(decodeRequest(h, std::span<const uint8_t>(f.payload).first(len)).code(), EPROTO)
          << msgTypeName(h.type) << " cut at " << len;
    }
    auto longer = f.payload;
    longer.push_back(0);
    Header h = f.header;
    h.length += 1;
    EXPECT_EQ(decodeRequest(h, longer).code(), EPROTO) << msgTypeName(h.type);
  }
  for (const Reply& r : sampleReplies()) {
    const auto type = static_cast<MsgType>(std::visit(
        [](const auto& b) {
          if constexpr (std::is_same_v<std::remove_cvref_t<decltype(b)>, std::monostate>) {
            return uint8_t{0};
          } else {
            return static_cast<uint8_t>(std::remove_cvref_t<decltype(b)>::kType);
          }
        },
        r.body));
    Frame f = split(encodeReply(1, type, r), Direction::kReply);
    for (size_t len = 0; len < f.payload.size(); ++len) {
      Header h = f.header;
      h.length = static_cast<uint32_t>(len);
      EXPECT_FALSE(decodeReply(h, std::span<const uint8_t>(f.payload).first(len)).ok());
    }
  }
}

TEST(Protocol, FieldChecks) {
  Frame f = split(encodeRequest(1, StatsRequest{true}), Direction::kRequest);
  f.payload[0] = 2;  // a bool that is neither 0 nor 1
  EXPECT_EQ(decodeRequest(f.header, f.payload).code(), EPROTO);

  Frame n = split(encodeRequest(1, HelloRequest{"abc"}), Direction::kRequest);
  n.payload[3] = 0;  // a NUL inside a string
  EXPECT_EQ(decodeRequest(n.header, n.payload).code(), EPROTO);

  // A list claiming more entries than the payload could hold fails before allocating.
  Frame l = split(encodeReply(1, MsgType::kListHeaps, Reply{0, "", ListHeapsReply{}}), Direction::kReply);
  l.payload[6] = 0xff;
  l.payload[7] = 0xff;
  l.payload[8] = 0xff;
  l.payload[9] = 0x7f;
  EXPECT_EQ(decodeReply(l.header, l.payload).code(), EPROTO);

  // fd_count must match the type, both ways.
  Frame s = split(encodeRequest(1, SetNameRequest{"x"}), Direction::kRequest);
  s.header.fd_count = 0;
  EXPECT_EQ(decodeRequest(s.header, s.payload).code(), EPROTO);
  Frame h = split(encodeRequest(1, HelloRequest{}), Direction::kRequest);
  h.header.fd_count = 1;
  EXPECT_EQ(decodeRequest(h.header, h.payload).code(), EPROTO);
  // Unknown types are EOPNOTSUPP: the frame is intact, the connection may go on.
  h.header.fd_count = 0;
  h.header.type = 0x55;
  EXPECT_EQ(decodeRequest(h.header, h.payload).code(), EOPNOTSUPP);
}

TEST(Protocol, ErrorRepliesAreStrict) {
  Reply err{ENOMEM, "out of memory", {}};
  Frame f = split(encodeReply(1, MsgType::kAlloc, err), Direction::kReply);
  f.header.fd_count = 1;  // an error that claims an fd
  EXPECT_EQ(decodeReply(f.header, f.payload).code(), EPROTO);
  Frame p = split(encodeProtocolError(EPROTO, "bad"), Direction::kReply);
  EXPECT_EQ(p.header.type, kProtocolErrorType);
  auto back = decodeReply(p.header, p.payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->error, EPROTO);
  Frame neg = split(encodeReply(1, MsgType::kAlloc, Reply{-5, "", {}}), Direction::kReply);
  EXPECT_EQ(decodeReply(neg.header, neg.payload).code(), EPROTO);
}

TEST(Protocol, FramesAssembleFromAnyPieces) {
  std::vector<uint8_t> stream;
  for (const Request& r : sampleRequests()) {
    auto b = encodeRequest(5, r);
    stream.insert(stream.end(), b.begin(), b.end());
  }
  FrameBuffer fb(Direction::kRequest);
  std::vector<Request> got;
  for (uint8_t byte : stream) {
    fb.append(std::span<const uint8_t>(&byte, 1));
    auto f = fb.next();
    ASSERT_TRUE(f.ok());
    if (f->has_value()) got.push_back(decodeRequest((*f)->header, (*f)->payload).value());
  }
  EXPECT_EQ(got, sampleRequests());
  EXPECT_EQ(fb.buffered(), 0u);
}

TEST(Protocol, OverlongStringsWeSendAreClippedNotRefusedByThePeer) {
  HelloReply h{1, std::string(5000, 's'), "6.18", 4096, 1};
  Frame f = split(encodeReply(1, MsgType::kHello, Reply{0, "", h}), Direction::kReply);
  auto back = decodeReply(f.header, f.payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<HelloReply>(back->body).service.size(), kMaxString);
}

}  // namespace
}  // namespace dmaheap::proto
