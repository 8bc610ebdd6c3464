// The trace line format: writing and reading one event.
#include "trace/trace_event.h"

#include <set>

#include <nlohmann/json.hpp>

#include "base/errno_name.h"
#include "base/heap_descriptor.h"
#include "base/json_text.h"

namespace dmaheap::trace {
namespace {

using nlohmann::json;

Error bad(const std::string& what) { return makeError(EINVAL, what); }

const std::set<std::string>& fieldsOf(EventKind kind) {
  static const std::set<std::string> start = {"v", "event", "t", "pid", "tid", "source", "kernel", "page_size", "heaps"};
  static const std::set<std::string> alloc = {"v",          "event", "t",   "pid",    "tid",   "heap",        "len",
                                              "rounded",    "fd_flags", "heap_flags", "fd", "buffer", "inode",
                                              "errno",      "errno_number"};
  static const std::set<std::string> set_name = {"v", "event", "t", "pid", "tid", "buffer", "inode", "name", "errno", "errno_number"};
  static const std::set<std::string> release = {"v", "event", "t", "buffer", "inode"};
  switch (kind) {
    case EventKind::kStart: return start;
    case EventKind::kAlloc: return alloc;
    case EventKind::kSetName: return set_name;
    case EventKind::kRelease: break;
  }
  return release;
}

Result<uint64_t> unsignedField(const json& j, const char* key, bool required, uint64_t dflt = 0) {
  if (!j.contains(key)) {
    if (required) return bad(std::string("missing '") + key + "'");
    return dflt;
  }
  if (!j[key].is_number_unsigned()) return bad(std::string("'") + key + "' must be a non-negative integer");
  return j[key].get<uint64_t>();
}

Result<std::optional<int64_t>> optionalInt(const json& j, const char* key) {
  if (!j.contains(key)) return std::optional<int64_t>();
  if (!j[key].is_number_integer()) return bad(std::string("'") + key + "' must be an integer");
  return std::optional<int64_t>(j[key].get<int64_t>());
}

Result<std::string> stringField(const json& j, const char* key, bool required) {
  if (!j.contains(key)) {
    if (required) return bad(std::string("missing '") + key + "'");
    return std::string();
  }
  if (!j[key].is_string()) return bad(std::string("'") + key + "' must be a string");
  return j[key].get<std::string>();
}

// "errno" (the name) and "errno_number" come together and agree.
Result<int> errorField(const json& j) {
  const bool name = j.contains("errno"), number = j.contains("errno_number");
  if (!name && !number) return 0;
  if (name != number) return bad("'errno' and 'errno_number' come together");
  if (!j["errno"].is_string()) return bad("'errno' must be a string");
  if (!j["errno_number"].is_number_unsigned()) return bad("'errno_number' must be a positive integer");
  const uint64_t n = j["errno_number"].get<uint64_t>();
  if (n == 0 || n > 4095) return bad("'errno_number' must be from 1 to 4095");
  if (errnoName(static_cast<int>(n)) != j["errno"].get<std::string>()) {
    return bad("'errno' " + j["errno"].get<std::string>() + " is not errno " + std::to_string(n) + " (" +
               errnoName(static_cast<int>(n)) + ")");
  }
  return static_cast<int>(n);
}

}  // namespace

TraceHeap traceHeapOf(const std::string& name, const HeapDescriptor& descriptor, uint64_t size) {
  TraceHeap h;
  h.name = name;
  h.kind = descriptor.kind;
  const auto capabilities = capabilitiesOf(descriptor);
  if (!capabilities.empty()) h.capability = capabilityName(capabilities.front());
  h.size = size;
  return h;
}

const char* eventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kStart: return "start";
    case EventKind::kAlloc: return "alloc";
    case EventKind::kSetName: return "set_name";
    case EventKind::kRelease: break;
  }
  return "release";
}

std::string eventLine(const Event& e) {
  json j;
  j["v"] = kFormatVersion;
  j["event"] = eventKindName(e.kind);
  j["t"] = e.time_ns;
  if (e.kind != EventKind::kRelease) {
    if (e.pid) j["pid"] = *e.pid;
    if (e.tid) j["tid"] = *e.tid;
  }
  switch (e.kind) {
    case EventKind::kStart: {
      j["source"] = e.source;
      j["kernel"] = e.kernel;
      j["page_size"] = e.page_size;
      json heaps = json::array();
      for (const TraceHeap& h : e.heaps) {
        heaps.push_back({{"name", h.name}, {"kind", h.kind}, {"capability", h.capability}, {"size", h.size}});
      }
      j["heaps"] = heaps;
      break;
    }
    case EventKind::kAlloc:
      j["heap"] = e.heap;
      j["len"] = e.len;
      if (e.rounded) j["rounded"] = *e.rounded;
      j["fd_flags"] = e.fd_flags;
      j["heap_flags"] = e.heap_flags;
      if (e.error == 0) {
        if (e.fd) j["fd"] = *e.fd;
        j["buffer"] = e.buffer;
        j["inode"] = e.inode;
      }
      break;
    case EventKind::kSetName:
      j["buffer"] = e.buffer;
      j["inode"] = e.inode;
      j["name"] = e.name;
      break;
    case EventKind::kRelease:
      j["buffer"] = e.buffer;
      j["inode"] = e.inode;
      break;
  }
  if (e.error != 0 && e.kind != EventKind::kStart && e.kind != EventKind::kRelease) {
    j["errno"] = errnoName(e.error);
    j["errno_number"] = e.error;
  }
  return jsonText(j, -1) + "\n";
}

Result<Event> parseEventLine(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.size() > kMaxLineBytes) return bad("longer than " + std::to_string(kMaxLineBytes) + " bytes");
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("not valid JSON");
  if (!j.is_object()) return bad("not a JSON object");
  if (!j.contains("v") || !j["v"].is_number_unsigned() || j["v"].get<uint64_t>() != kFormatVersion) {
    return bad("'v' must be " + std::to_string(kFormatVersion) + " (the trace format version)");
  }
  auto kind_name = stringField(j, "event", true);
  if (!kind_name) return kind_name.error();
  Event e;
  bool known = false;
  for (EventKind k : {EventKind::kStart, EventKind::kAlloc, EventKind::kSetName, EventKind::kRelease}) {
    if (kind_name.value() == eventKindName(k)) {
      e.kind = k;
      known = true;
    }
  }
  if (!known) return bad("unknown event '" + kind_name.value() + "' (start, alloc, set_name, release)");
  const auto& allowed = fieldsOf(e.kind);
  for (const auto& [key, value] : j.items()) {
    (void)value;
    if (!allowed.count(key)) return bad("unknown field '" + key + "' in a " + kind_name.value() + " event");
  }
  auto t = unsignedField(j, "t", true);
  if (!t) return t.error();
  e.time_ns = t.value();
  auto pid = optionalInt(j, "pid");
  if (!pid) return pid.error();
  e.pid = pid.value();
  auto tid = optionalInt(j, "tid");
  if (!tid) return tid.error();
  e.tid = tid.value();
  auto error = errorField(j);
  if (!error) return error.error();
  e.error = error.value();

  switch (e.kind) {
    case EventKind::kStart: {
      auto source = stringField(j, "source", true);
      if (!source) return source.error();
      e.source = source.value();
      auto kernel = stringField(j, "kernel", true);
      if (!kernel) return kernel.error();
      e.kernel = kernel.value();
      auto page = unsignedField(j, "page_size", true);
      if (!page) return page.error();
      if (page.value() < 4096 || page.value() > (1u << 16) || (page.value() & (page.value() - 1)) != 0) {
        return bad("'page_size' must be a power of two from 4096 to 65536");
      }
      e.page_size = page.value();
      if (!j.contains("heaps") || !j["heaps"].is_array()) return bad("'heaps' must be an array");
      for (const json& h : j["heaps"]) {
        if (!h.is_object()) return bad("'heaps' entries must be objects");
        for (const auto& [key, value] : h.items()) {
          (void)value;
          if (key != "name" && key != "kind" && key != "capability" && key != "size") {
            return bad("unknown field '" + key + "' in a heap of the start event");
          }
        }
        TraceHeap th;
        auto name = stringField(h, "name", true);
        if (!name) return name.error();
        if (name.value().empty()) return bad("a heap's 'name' is empty");
        th.name = name.value();
        auto kind = stringField(h, "kind", false);
        if (!kind) return kind.error();
        th.kind = kind.value();
        auto capability = stringField(h, "capability", false);
        if (!capability) return capability.error();
        th.capability = capability.value();
        auto size = unsignedField(h, "size", false);
        if (!size) return size.error();
        th.size = size.value();
        e.heaps.push_back(std::move(th));
      }
      if (e.error != 0) return bad("a start event has no 'errno'");
      break;
    }
    case EventKind::kAlloc: {
      auto heap = stringField(j, "heap", true);
      if (!heap) return heap.error();
      e.heap = heap.value();
      auto len = unsignedField(j, "len", true);
      if (!len) return len.error();
      e.len = len.value();
      if (j.contains("rounded")) {
        auto rounded = unsignedField(j, "rounded", true);
        if (!rounded) return rounded.error();
        e.rounded = rounded.value();
      }
      auto fd_flags = unsignedField(j, "fd_flags", true);
      if (!fd_flags) return fd_flags.error();
      e.fd_flags = fd_flags.value();
      auto heap_flags = unsignedField(j, "heap_flags", true);
      if (!heap_flags) return heap_flags.error();
      e.heap_flags = heap_flags.value();
      auto fd = optionalInt(j, "fd");
      if (!fd) return fd.error();
      e.fd = fd.value();
      if (e.error == 0) {
        auto buffer = unsignedField(j, "buffer", true);
        if (!buffer) return buffer.error();
        if (buffer.value() == 0) return bad("'buffer' ids start at 1");
        e.buffer = buffer.value();
        auto inode = unsignedField(j, "inode", false);
        if (!inode) return inode.error();
        e.inode = inode.value();
        if (!e.rounded) return bad("a successful alloc has 'rounded'");
      } else if (j.contains("buffer") || j.contains("fd") || j.contains("inode")) {
        return bad("a failed alloc has no 'buffer', 'fd' or 'inode'");
      }
      break;
    }
    case EventKind::kSetName:
    case EventKind::kRelease: {
      auto buffer = unsignedField(j, "buffer", true);
      if (!buffer) return buffer.error();
      if (buffer.value() == 0) return bad("'buffer' ids start at 1");
      e.buffer = buffer.value();
      auto inode = unsignedField(j, "inode", false);
      if (!inode) return inode.error();
      e.inode = inode.value();
      if (e.kind == EventKind::kSetName) {
        auto name = stringField(j, "name", true);
        if (!name) return name.error();
        e.name = name.value();
      }
      break;
    }
  }
  return e;
}

}  // namespace dmaheap::trace
