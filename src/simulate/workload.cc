// Parsing the simulate workload format.
#include "simulate/workload.h"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/size.h"

namespace dmaheap::sim {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxSteps = 10'000'000;
constexpr uint64_t kMaxCount = 100'000;

Error bad(const std::string& where, const std::string& what) { return makeError(EINVAL, where + ": " + what); }

Status checkKeys(const json& obj, const std::string& where, const std::set<std::string>& allowed) {
  if (!obj.is_object()) return bad(where, "must be an object");
  for (const auto& [k, v] : obj.items()) {
    (void)v;
    if (!allowed.count(k)) return bad(where, "unknown field '" + k + "'");
  }
  return {};
}

// A byte size: a number, or a string with a K/M/G suffix.
Result<uint64_t> getSize(const json& obj, const std::string& key, const std::string& where, uint64_t dflt, bool required) {
  if (!obj.contains(key)) {
    if (required) return bad(where, "missing '" + key + "'");
    return dflt;
  }
  const json& v = obj[key];
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_string()) {
    auto s = parseSize(v.get<std::string>());
    if (!s) return bad(where + "." + key, s.error().message());
    return s.value();
  }
  return bad(where + "." + key, "must be a size (bytes, or a string like \"12M\")");
}

Result<uint64_t> getCount(const json& obj, const std::string& key, const std::string& where, uint64_t dflt,
                          uint64_t min, uint64_t max) {
  if (!obj.contains(key)) return dflt;
  const json& v = obj[key];
  if (!v.is_number_unsigned()) return bad(where + "." + key, "must be a non-negative integer");
  const uint64_t n = v.get<uint64_t>();
  if (n < min || n > max) {
    return bad(where + "." + key, "must be from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return n;
}

}  // namespace

Result<Workload> parseWorkload(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return makeError(EINVAL, "workload: not valid JSON");
  if (auto st = checkKeys(doc, "workload", {"name", "seed", "steps", "sample_every", "pressure", "streams", "comment", "trace", "speed"});
      !st) {
    return st.error();
  }
  Workload w;
  if (doc.contains("name")) {
    if (!doc["name"].is_string()) return bad("workload.name", "must be a string");
    w.name = doc["name"].get<std::string>();
  }
  auto seed = getCount(doc, "seed", "workload", 1, 0, ~uint64_t{0});
  if (!seed) return seed.error();
  w.seed = seed.value();
  auto steps = getCount(doc, "steps", "workload", 1000, 1, kMaxSteps);
  if (!steps) return steps.error();
  w.steps = steps.value();
  auto sample = getCount(doc, "sample_every", "workload", 0, 0, kMaxSteps);
  if (!sample) return sample.error();
  w.sample_every = sample.value() ? sample.value() : std::max<uint64_t>(1, w.steps / 200);

  if (doc.contains("pressure")) {
    const json& p = doc["pressure"];
    if (auto st = checkKeys(p, "pressure", {"movable", "churn", "pinned_share", "pin_steps", "leave_free", "pin_every", "start", "pcp_pages", "pcp_cma_pages", "vmstat_threshold"}); !st) return st.error();
    auto movable = getSize(p, "movable", "pressure", 0, false);
    if (!movable) return movable.error();
    auto churn = getSize(p, "churn", "pressure", 0, false);
    if (!churn) return churn.error();
    w.pressure.movable_bytes = movable.value();
    w.pressure.churn_bytes = churn.value();
    if (p.contains("pinned_share")) {
      if (!p["pinned_share"].is_number()) return bad("pressure.pinned_share", "must be a number from 0 to 1");
      const double share = p["pinned_share"].get<double>();
      if (!(share >= 0.0 && share <= 1.0)) return bad("pressure.pinned_share", "must be from 0 to 1");
      w.pressure.pinned_share = share;
    }
    auto pin = getCount(p, "pin_steps", "pressure", 1, 1, kMaxSteps);
    if (!pin) return pin.error();
    w.pressure.pin_steps = pin.value();
    auto leave = getSize(p, "leave_free", "pressure", 0, false);
    if (!leave) return leave.error();
    if (leave.value() && movable.value()) return bad("pressure.leave_free", "give either movable or leave_free, not both");
    w.pressure.leave_free_bytes = leave.value();
    auto every = getCount(p, "pin_every", "pressure", 0, 0, uint64_t{1} << 32);
    if (!every) return every.error();
    w.pressure.pin_every = every.value();
    auto start = getCount(p, "start", "pressure", 0, 0, kMaxSteps);
    if (!start) return start.error();
    w.pressure.start = start.value();
    auto pcp = getCount(p, "pcp_pages", "pressure", 0, 0, uint64_t{1} << 32);
    if (!pcp) return pcp.error();
    w.pressure.pcp_pages = pcp.value();
    auto pcp_cma = getCount(p, "pcp_cma_pages", "pressure", 0, 0, pcp.value());
    if (!pcp_cma) return pcp_cma.error();
    w.pressure.pcp_cma_pages = pcp_cma.value();
    auto threshold = getCount(p, "vmstat_threshold", "pressure", 0, 0, 1'000'000);
    if (!threshold) return threshold.error();
    w.pressure.vmstat_threshold = threshold.value();
  }

  if (doc.contains("trace")) {
    if (!doc["trace"].is_string() || doc["trace"].get<std::string>().empty()) {
      return bad("workload.trace", "must name a trace file (docs/traces.md)");
    }
    w.trace_file = doc["trace"].get<std::string>();
  }
  auto speed = getCount(doc, "speed", "workload", 1, 1, 1'000'000);
  if (!speed) return speed.error();
  w.speed = speed.value();
  if (!w.trace_file.empty() && !doc.contains("streams")) return w;  // steps come from the trace
  if (!doc.contains("streams") || !doc["streams"].is_array() || doc["streams"].empty()) {
    return bad("workload.streams", "must be a non-empty array");
  }
  if (doc["streams"].size() > 64) return bad("workload.streams", "at most 64 streams");
  size_t i = 0;
  for (const json& s : doc["streams"]) {
    const std::string where = "streams[" + std::to_string(i++) + "]";
    if (auto st = checkKeys(s, where, {"name", "heap", "size", "size_max", "count", "hold", "hold_max", "interval", "start"});
        !st) {
      return st.error();
    }
    Stream st;
    st.name = s.contains("name") && s["name"].is_string() ? s["name"].get<std::string>() : where;
    if (!s.contains("heap") || !s["heap"].is_string() || s["heap"].get<std::string>().empty()) {
      return bad(where + ".heap", "must name a heap (or \"contiguous\" / \"system\")");
    }
    st.heap = s["heap"].get<std::string>();
    auto size = getSize(s, "size", where, 0, true);
    if (!size) return size.error();
    if (size.value() == 0 || size.value() > (uint64_t{1} << 40)) return bad(where + ".size", "must be from 1 byte to 1 TiB");
    st.size = size.value();
    auto size_max = getSize(s, "size_max", where, 0, false);
    if (!size_max) return size_max.error();
    if (size_max.value() != 0 && (size_max.value() < st.size || size_max.value() > (uint64_t{1} << 40))) {
      return bad(where + ".size_max", "must be at least size and at most 1 TiB");
    }
    st.size_max = size_max.value();
    auto count = getCount(s, "count", where, 1, 1, kMaxCount);
    if (!count) return count.error();
    st.count = count.value();
    auto hold = getCount(s, "hold", where, 1, 1, kMaxSteps);
    if (!hold) return hold.error();
    st.hold = hold.value();
    auto hold_max = getCount(s, "hold_max", where, 0, 0, kMaxSteps);
    if (!hold_max) return hold_max.error();
    if (hold_max.value() != 0 && hold_max.value() < st.hold) return bad(where + ".hold_max", "must be at least hold");
    st.hold_max = hold_max.value();
    auto interval = getCount(s, "interval", where, 1, 1, kMaxSteps);
    if (!interval) return interval.error();
    st.interval = interval.value();
    auto start = getCount(s, "start", where, 0, 0, kMaxSteps);
    if (!start) return start.error();
    st.start = start.value();
    w.streams.push_back(std::move(st));
  }
  return w;
}

Result<Workload> loadWorkload(const std::string& path) {
  std::ifstream in(path);
  if (!in) return makeError(errno ? errno : ENOENT, "cannot read workload '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > (1 << 20)) return makeError(EFBIG, "workload '" + path + "' is larger than 1 MiB");
  auto w = parseWorkload(ss.str());
  if (!w) return makeError(w.code(), path + ": " + w.error().message());
  return w;
}

}  // namespace dmaheap::sim
