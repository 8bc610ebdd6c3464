// dmaheap stats: the running service's accounting: per heap, per buffer (with the processes
// holding it), per client and per uid.
#include <cerrno>
#include <fcntl.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/errno_name.h"
#include "base/heap_descriptor.h"
#include "base/json_text.h"
#include "base/size.h"
#include "protocol/service_client.h"
#include "tools/dmaheap/commands.h"

namespace dmaheap::cli {
namespace {

// The descriptor of each heap, by name (DescribeHeaps; what `type` implies from an older service).
using Descriptors = std::map<std::string, HeapDescriptor>;

// What backs each buffer, by inode (the Backings request), and the service's backing.
struct Backings {
  std::string backing = "memfd", description;
  std::map<uint64_t, std::string> by_inode;
  std::string of(uint64_t inode) const {
    auto it = by_inode.find(inode);
    return it == by_inode.end() ? "-" : it->second;
  }
};

Backings backingsOf(proto::ServiceClient& client) {
  Backings out;
  if (auto b = client.backings()) {
    out.backing = b->backing;
    out.description = b->description;
    for (const auto& buf : b->buffers) out.by_inode[buf.inode] = buf.backing;
  }
  return out;
}

nlohmann::json toJson(const proto::StatsReply& s, const Descriptors& descriptors, const Backings& backings) {
  nlohmann::json out;
  out["service_pid"] = s.service_pid;
  out["backing"] = {{"name", backings.backing}, {"description", backings.description}};
  out["buffers_freed"] = s.buffers_freed;
  out["watch_rechecks"] = s.watch_rechecks;
  out["heaps"] = nlohmann::json::array();
  for (const auto& h : s.heaps) {
    nlohmann::json e = {{"name", h.heap.name},
                        {"type", h.heap.type},
                        {"size", h.heap.size},
                        {"used", h.used},
                        {"free", h.heap.free},
                        {"largest_free_block", h.heap.largest_free_block},
                        {"buffers", h.buffers},
                        {"buffer_bytes", h.buffer_bytes}};
    auto d = descriptors.find(h.heap.name);
    addDescriptorJson(e, d != descriptors.end() ? d->second : descriptorFromType(h.heap.type));
    out["heaps"].push_back(std::move(e));
  }
  out["buffers"] = nlohmann::json::array();
  for (const auto& b : s.buffers) {
    nlohmann::json holders = nlohmann::json::array();
    for (const auto& h : b.holders) {
      holders.push_back({{"pid", h.pid}, {"comm", h.comm}, {"fds", h.fds}, {"mappings", h.mappings}});
    }
    nlohmann::json segments = nlohmann::json::array();
    for (const auto& seg : b.buffer.segments) segments.push_back({{"base", seg.base}, {"size", seg.size}});
    out["buffers"].push_back({{"inode", b.buffer.inode},
                              {"size", b.buffer.size},
                              {"heap", b.buffer.heap},
                              {"name", b.buffer.name},
                              {"segments", segments},
                              {"backing", backings.of(b.buffer.inode)},
                              {"owner", {{"pid", b.owner_pid}, {"uid", b.owner_uid}, {"comm", b.owner_comm}, {"client", b.client}}},
                              {"holders", holders}});
  }
  out["clients"] = nlohmann::json::array();
  for (const auto& c : s.clients) {
    out["clients"].push_back({{"id", c.id},
                              {"pid", c.pid},
                              {"uid", c.uid},
                              {"gid", c.gid},
                              {"comm", c.comm},
                              {"requests", c.requests},
                              {"allocations", c.allocations},
                              {"refusals", c.refusals},
                              {"live_buffers", c.live_buffers},
                              {"live_bytes", c.live_bytes}});
  }
  out["uids"] = nlohmann::json::array();
  for (const auto& u : s.uids) {
    nlohmann::json j = {{"uid", u.uid}, {"buffers", u.buffers}, {"bytes", u.bytes}};
    j["quota"] = u.has_quota ? nlohmann::json(u.quota) : nlohmann::json(nullptr);
    out["uids"].push_back(j);
  }
  return out;
}

void printText(const proto::StatsReply& s, const Backings& backings) {
  std::printf("dmaheapd pid %u: %zu live buffer%s, %llu freed since start\n", s.service_pid, s.buffers.size(),
              s.buffers.size() == 1 ? "" : "s", static_cast<unsigned long long>(s.buffers_freed));
  std::printf("backing: %s\n\n", backings.description.c_str());
  std::printf("%-28s %-7s %12s %12s %12s %14s %8s\n", "HEAP", "TYPE", "SIZE", "USED", "FREE", "LARGEST BLOCK", "BUFFERS");
  for (const auto& h : s.heaps) {
    std::printf("%-28s %-7s %12s %12s %12s %14s %8u\n", h.heap.name.c_str(), h.heap.type.c_str(),
                formatSize(h.heap.size).c_str(), formatSize(h.used).c_str(), formatSize(h.heap.free).c_str(),
                formatSize(h.heap.largest_free_block).c_str(), h.buffers);
  }
  std::printf("\n%-10s %12s %-20s %-16s %-14s %-9s %s\n", "INODE", "SIZE", "HEAP", "NAME", "OWNER", "BACKING",
              "HOLDERS (pid comm fds/maps)");
  for (const auto& b : s.buffers) {
    std::string holders;
    for (const auto& h : b.holders) {
      holders += (holders.empty() ? "" : ", ") + std::to_string(h.pid) + " " + h.comm + " " + std::to_string(h.fds) +
                 "/" + std::to_string(h.mappings);
    }
    const std::string owner = std::to_string(b.owner_pid) + " " + b.owner_comm;
    std::printf("%-10llu %12s %-20s %-16s %-14s %-9s %s\n", static_cast<unsigned long long>(b.buffer.inode),
                formatSize(b.buffer.size).c_str(), b.buffer.heap.c_str(), b.buffer.name.empty() ? "-" : b.buffer.name.c_str(),
                owner.c_str(), backings.of(b.buffer.inode).c_str(), holders.empty() ? "-" : holders.c_str());
  }
  if (s.buffers.empty()) std::printf("(none)\n");
  std::printf("\n%-6s %-8s %-6s %-20s %9s %9s %9s %12s\n", "CLIENT", "PID", "UID", "COMM", "REQUESTS", "ALLOCS",
              "REFUSED", "LIVE");
  for (const auto& c : s.clients) {
    std::printf("%-6llu %-8u %-6u %-20s %9llu %9llu %9llu %12s\n", static_cast<unsigned long long>(c.id), c.pid, c.uid,
                c.comm.c_str(), static_cast<unsigned long long>(c.requests),
                static_cast<unsigned long long>(c.allocations), static_cast<unsigned long long>(c.refusals),
                formatSize(c.live_bytes).c_str());
  }
  if (!s.uids.empty()) {
    std::printf("\n%-6s %8s %12s %12s\n", "UID", "BUFFERS", "BYTES", "QUOTA");
    for (const auto& u : s.uids) {
      std::printf("%-6u %8u %12s %12s\n", u.uid, u.buffers, formatSize(u.bytes).c_str(),
                  u.has_quota ? formatSize(u.quota).c_str() : "-");
    }
  }
}

struct StatsArgs {
  std::optional<std::string> socket;
  bool json = false;
  bool no_holders = false;
};

int runStats(const StatsArgs& args) {
  const std::string path = args.socket ? *args.socket : proto::defaultSocketPath();
  auto client = proto::ServiceClient::connect(path, "dmaheap stats");
  if (!client) {
    // Only a socket nobody listens on means the service is not running; a service that answered
    // and refused (EUSERS, EMFILE, EPROTONOSUPPORT) says why itself.
    const int code = client.code();
    if (code == ENOENT || code == ECONNREFUSED) {
      std::fprintf(stderr, "dmaheap stats: %s: dmaheapd is not running at %s (%s)\n", errnoName(code).c_str(),
                   path.c_str(), client.error().message().c_str());
    } else {
      std::fprintf(stderr, "dmaheap stats: %s: %s\n", errnoName(code).c_str(), client.error().message().c_str());
    }
    return kExitFailure;
  }
  auto stats = client->stats(!args.no_holders);
  if (!stats) {
    std::fprintf(stderr, "dmaheap stats: %s: %s\n", errnoName(stats.code()).c_str(), stats.error().message().c_str());
    return kExitFailure;
  }
  const Backings backings = backingsOf(*client);
  if (args.json) {
    Descriptors descriptors;
    if (auto described = client->describeHeaps()) {
      for (const auto& r : described.value()) descriptors[r.heap.name] = r.descriptor;
    }
    std::printf("%s\n", jsonText(toJson(*stats, descriptors, backings)).c_str());
  } else {
    printText(*stats, backings);
  }
  return kExitOk;
}

}  // namespace

void defineStats(Cli& cli) {
  auto args = std::make_shared<StatsArgs>();
  CLI::App* sub = cli.command("stats", "The running dmaheapd's buffers, holders, clients and per-heap use");
  sub->add_flag("--json", args->json, "Print one JSON object instead of text")->disable_flag_override();
  sub->add_flag("--no-holders", args->no_holders, "Leave out the processes holding each buffer (faster)")
      ->disable_flag_override();
  cli.file(sub->add_option("--socket", args->socket, "The service's socket (default: as dmaheapd's)")->type_name("PATH"));
  cli.onRun(sub, [args] { return runStats(*args); });
}

}  // namespace dmaheap::cli
