// A client process of the restart suite (tests/suites/service-restart.sh): allocates buffers
// from dmaheapd, names some, fills each with a pattern, and holds them while the service is
// killed and restarted.
//
//   service_restart_holder SOCKET HEAP:BYTES[:NAME]...
//
// NAME "*" fills: BYTES-sized buffers from HEAP until the heap answers ENOMEM (not mapped).
//
// Prints one JSON line per buffer (inode, heap, size, name, segments), then "ready". Then reads
// commands from stdin: "check" asks a new connection about every buffer (BUFFER_INFO) and prints
// "check ok" when the service reports each with the same inode, name and placement, else
// "check failed: ..."; "exit" (or end of input) verifies the patterns and exits 0 (3 when a
// buffer's content changed).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "protocol/service_client.h"

using dmaheap::proto::BufferInfo;
using dmaheap::proto::ServiceClient;

namespace {

struct Held {
  dmaheap::UniqueFd fd;
  BufferInfo info;
  uint8_t* map = nullptr;
};

std::string json(const BufferInfo& b) {
  std::string s = "{\"ino\":" + std::to_string(b.inode) + ",\"heap\":\"" + b.heap + "\",\"size\":" + std::to_string(b.size) +
                  ",\"name\":\"" + b.name + "\",\"segments\":[";
  for (size_t i = 0; i < b.segments.size(); ++i) {
    s += (i ? "," : "") + std::string("[") + std::to_string(b.segments[i].base) + "," + std::to_string(b.segments[i].size) + "]";
  }
  return s + "]}";
}

uint8_t pattern(size_t buffer, size_t offset) { return static_cast<uint8_t>(buffer * 31 + offset / 4096 + 7); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: service_restart_holder SOCKET HEAP:BYTES[:NAME]...\n");
    return 2;
  }
  const std::string socket = argv[1];
  auto client = ServiceClient::connect(socket, "restart-holder");
  if (!client) {
    std::fprintf(stderr, "holder: connect: %s\n", client.error().message().c_str());
    return 1;
  }
  std::vector<Held> held;
  for (int i = 2; i < argc; ++i) {
    const std::string spec = argv[i];
    const size_t a = spec.find(':');
    const size_t b = spec.find(':', a + 1);
    const std::string heap = spec.substr(0, a);
    const uint64_t bytes = std::stoull(spec.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1));
    const std::string name = b == std::string::npos ? "" : spec.substr(b + 1);
    if (name == "*") {
      for (;;) {
        auto buf = client->allocate(heap, bytes);
        if (!buf && buf.code() == ENOMEM) break;
        if (!buf) {
          std::fprintf(stderr, "holder: fill %s: %s\n", spec.c_str(), buf.error().message().c_str());
          return 1;
        }
        held.push_back(Held{std::move(buf->fd), buf->info, nullptr});
      }
      continue;
    }
    auto buf = client->allocate(heap, bytes);
    if (!buf) {
      std::fprintf(stderr, "holder: allocate %s: %s\n", spec.c_str(), buf.error().message().c_str());
      return 1;
    }
    if (!name.empty()) {
      if (auto ok = client->setName(buf->fd.get(), name); !ok) {
        std::fprintf(stderr, "holder: set name: %s\n", ok.error().message().c_str());
        return 1;
      }
      buf->info.name = name;
    }
    Held h{std::move(buf->fd), buf->info, nullptr};
    void* p = ::mmap(nullptr, h.info.size, PROT_READ | PROT_WRITE, MAP_SHARED, h.fd.get(), 0);
    if (p == MAP_FAILED) {
      std::perror("holder: mmap");
      return 1;
    }
    h.map = static_cast<uint8_t*>(p);
    for (size_t off = 0; off < h.info.size; off += 4096) h.map[off] = pattern(held.size(), off);
    held.push_back(std::move(h));
  }
  for (const Held& h : held) std::printf("%s\n", json(h.info).c_str());
  std::printf("ready\n");
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line);) {
    if (line == "exit") break;
    if (line != "check") continue;
    std::string failure;
    auto fresh = ServiceClient::connect(socket, "restart-holder");
    if (!fresh) failure = "connect: " + fresh.error().message();
    for (const Held& h : held) {
      if (!failure.empty()) break;
      if (h.map == nullptr) continue;
      auto info = fresh->bufferInfo(h.fd.get());
      if (!info) {
        failure = "buffer inode " + std::to_string(h.info.inode) + ": " + info.error().message();
      } else if (json(*info) != json(h.info)) {
        failure = "the service reports " + json(*info) + " for " + json(h.info);
      }
    }
    std::printf("%s\n", failure.empty() ? "check ok" : ("check failed: " + failure).c_str());
    std::fflush(stdout);
  }
  for (size_t i = 0; i < held.size(); ++i) {
    if (held[i].map == nullptr) continue;
    for (size_t off = 0; off < held[i].info.size; off += 4096) {
      if (held[i].map[off] != pattern(i, off)) {
        std::fprintf(stderr, "holder: buffer %zu changed at %zu\n", i, off);
        return 3;
      }
    }
  }
  return 0;
}
