// Writes one frame of every message kind (requests and replies) into the directory argv[1]: the
// seeds of the protocol and service fuzz targets (fuzz/targets.sh).
#include <cstdio>
#include <string>
#include "protocol/protocol.h"
using namespace dmaheap::proto;
static void put(const char* dir, const std::string& name, const std::vector<uint8_t>& b) {
  std::FILE* f = std::fopen((std::string(dir) + "/" + name).c_str(), "wb");
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
}
int main(int, char** argv) {
  put(argv[1], "hello", encodeRequest(1, HelloRequest{"seed"}));
  put(argv[1], "list", encodeRequest(2, ListHeapsRequest{}));
  put(argv[1], "alloc", encodeRequest(3, AllocRequest{"system", 4096, 0, 0x80002, 0}));
  put(argv[1], "setname", encodeRequest(4, SetNameRequest{"camera"}));
  put(argv[1], "info", encodeRequest(5, BufferInfoRequest{}));
  put(argv[1], "stats", encodeRequest(6, StatsRequest{true}));
  put(argv[1], "describe", encodeRequest(7, DescribeHeapsRequest{}));
  BufferInfo b{1, 8192, "reserved", "x", {{0x50000000, 8192}}};
  put(argv[1], "r-alloc", encodeReply(3, MsgType::kAlloc, Reply{0, "", AllocReply{b}}));
  put(argv[1], "r-list", encodeReply(2, MsgType::kListHeaps, Reply{0, "", ListHeapsReply{{{"system", "system", 0, 1, 1, 1}}}}));
  dmaheap::HeapDescriptor carve{"carveout", true, false, dmaheap::AddressLimit::kNone, dmaheap::MemorySource::kCarveout, "v@70000000"};
  put(argv[1], "r-describe", encodeReply(7, MsgType::kDescribeHeaps,
                                         Reply{0, "", DescribeHeapsReply{{{{"v", "carveout", 3, 1, 1, 1}, carve}}}}));
  StatsReply s;
  s.heaps = {{{"system", "system", 0, 1, 1, 1}, 0, 1, 8192}};
  s.buffers = {{b, 16, 1, 1, "c", {{1, "c", 1, 1}}}};
  s.clients = {{16, 1, 1, 1, "c", 1, 1, 0, 1, 8192}};
  s.uids = {{1, 1, 8192, true, 65536}};
  put(argv[1], "r-stats", encodeReply(6, MsgType::kStats, Reply{0, "", s}));
  put(argv[1], "r-error", encodeReply(3, MsgType::kAlloc, Reply{12, "out of memory", {}}));
  put(argv[1], "r-proto", encodeProtocolError(71, "bad magic"));
  return 0;
}
