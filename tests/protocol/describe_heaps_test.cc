// The heap descriptor on the wire: DescribeHeaps round-trips; ListHeaps keeps its version-1
// bytes, so an old client and an old service keep working; a new client falls back to ListHeaps
// when an old service refuses DescribeHeaps.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <thread>

#include "protocol/protocol.h"
#include "protocol/service_client.h"
#include "protocol/transport.h"
#include "protocol/wire.h"

namespace dmaheap::proto {
namespace {

HeapDescriptor uncachedDma32() {
  HeapDescriptor d;
  d.kind = "system";
  d.cached = false;
  d.address_limit = AddressLimit::k32Bit;
  return d;
}

HeapDescriptor carveout() {
  HeapDescriptor d;
  d.kind = "carveout";
  d.contiguous = true;
  d.source = MemorySource::kCarveout;
  d.region = "vendor@70000000";
  return d;
}

Frame onlyFrame(Direction dir, const std::vector<uint8_t>& bytes) {
  FrameBuffer fb(dir);
  fb.append(bytes);
  auto f = fb.next();
  EXPECT_TRUE(f.ok() && f->has_value());
  return std::move(**f);
}

TEST(DescribeHeaps, RoundTripsEveryDescriptorField) {
  DescribeHeapsReply body;
  body.heaps = {{{"system-uncached-dma32", "system", 3, 2u << 30, 1u << 30, 4 << 20}, uncachedDma32()},
                {{"vendor", "carveout", 4, 64 << 20, 64 << 20, 64 << 20}, carveout()}};
  Reply reply{0, "", body};
  Frame f = onlyFrame(Direction::kReply, encodeReply(9, MsgType::kDescribeHeaps, reply));
  auto decoded = decodeReply(f.header, f.payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, reply);
  const auto& d = std::get<DescribeHeapsReply>(decoded->body).heaps[1].descriptor;
  EXPECT_EQ(d.source, MemorySource::kCarveout);
  EXPECT_EQ(d.region, "vendor@70000000");
  EXPECT_TRUE(std::get<DescribeHeapsReply>(decoded->body).heaps[0].descriptor.dma32());

  Frame req = onlyFrame(Direction::kRequest, encodeRequest(9, DescribeHeapsRequest{}));
  EXPECT_EQ(req.header.type, 7);
  auto r = decodeRequest(req.header, req.payload);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(std::holds_alternative<DescribeHeapsRequest>(*r));
}

TEST(DescribeHeaps, ADescriptorCutShortIsEproto) {
  DescribeHeapsReply body;
  body.heaps = {{{"vendor", "carveout", 4, 1, 1, 1}, carveout()}};
  auto bytes = encodeReply(1, MsgType::kDescribeHeaps, Reply{0, "", body});
  Frame f = onlyFrame(Direction::kReply, bytes);
  std::vector<uint8_t> cut(f.payload.begin(), f.payload.end() - 1);
  Header h = f.header;
  h.length = static_cast<uint32_t>(cut.size());
  EXPECT_EQ(decodeReply(h, cut).code(), EPROTO);
}

// A version-1 ListHeaps reply as the first release wrote it, byte by byte: errno, message,
// count, then name, type, minor, size, free, largest_free_block per heap.
std::vector<uint8_t> versionOneListReply() {
  Writer w;
  w.put<int32_t>(0);
  w.putString("");
  w.put<uint32_t>(1);
  w.putString("reserved");
  w.putString("cma");
  w.put<uint32_t>(1);
  w.put<uint64_t>(64 << 20);
  w.put<uint64_t>(60 << 20);
  w.put<uint64_t>(32 << 20);
  std::vector<uint8_t> frame;
  Header h;
  h.type = static_cast<uint8_t>(MsgType::kListHeaps) | kReplyFlag;
  h.length = static_cast<uint32_t>(w.bytes().size());
  h.id = 5;
  encodeHeader(h, frame);
  frame.insert(frame.end(), w.bytes().begin(), w.bytes().end());
  return frame;
}

TEST(DescribeHeaps, ListHeapsKeepsItsVersionOneBytes) {
  // What a new service sends an old client is exactly what the first release sent...
  ListHeapsReply body{{{"reserved", "cma", 1, 64 << 20, 60 << 20, 32 << 20}}};
  EXPECT_EQ(encodeReply(5, MsgType::kListHeaps, Reply{0, "", body}), versionOneListReply());
  // ... and a reply in the old format decodes unchanged.
  const auto old = versionOneListReply();
  Frame f = onlyFrame(Direction::kReply, old);
  auto decoded = decodeReply(f.header, f.payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(std::get<ListHeapsReply>(decoded->body), body);
  // An old client's ListHeaps request: a bare header, type 2, no payload.
  std::vector<uint8_t> request;
  Header h;
  h.type = static_cast<uint8_t>(MsgType::kListHeaps);
  h.id = 5;
  encodeHeader(h, request);
  EXPECT_EQ(encodeRequest(5, ListHeapsRequest{}), request);
}

// An old service: refuses DescribeHeaps with EOPNOTSUPP (as version 1 does for any type it does
// not know), answers ListHeaps in the version-1 format.
void oldService(int sock) {
  FrameBuffer in(Direction::kRequest);
  for (int answered = 0; answered < 2;) {
    uint8_t buf[256];
    std::vector<UniqueFd> fds;
    auto n = receiveWithFds(sock, buf, fds, false);
    if (!n || *n == 0) return;
    in.append(std::span<const uint8_t>(buf, *n));
    while (true) {
      auto f = in.next();
      if (!f || !f->has_value()) break;
      const Frame& frame = **f;
      std::vector<uint8_t> out;
      if (frame.header.type == static_cast<uint8_t>(MsgType::kListHeaps)) {
        out = versionOneListReply();
        // echo the request's id
        out[12] = static_cast<uint8_t>(frame.header.id);
        out[13] = out[14] = out[15] = 0;
      } else {
        out = encodeReply(frame.header.id, static_cast<MsgType>(frame.header.type),
                          Reply{EOPNOTSUPP, "request type 7 is not known to protocol version 1", std::monostate{}});
      }
      (void)sendWithFd(sock, out, -1, false);
      ++answered;
    }
  }
}

TEST(DescribeHeaps, ANewClientFallsBackOnAnOldService) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd server(sv[1]);
  std::thread t(oldService, server.get());
  ServiceClient client{UniqueFd(sv[0])};
  auto heaps = client.describeHeaps();
  t.join();
  ASSERT_TRUE(heaps.ok()) << heaps.error().message();
  ASSERT_EQ(heaps->size(), 1u);
  EXPECT_EQ((*heaps)[0].heap.name, "reserved");
  EXPECT_EQ((*heaps)[0].descriptor.kind, "cma");
  EXPECT_TRUE((*heaps)[0].descriptor.contiguous);
  EXPECT_EQ((*heaps)[0].descriptor.source, MemorySource::kCmaArea);
}

}  // namespace
}  // namespace dmaheap::proto
