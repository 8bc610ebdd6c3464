// The heap descriptor's JSON fields, legacy classification and the capability resolver.
#include "base/heap_descriptor.h"

#include <algorithm>
#include <tuple>

namespace dmaheap {

void addDescriptorJson(nlohmann::json& heap, const HeapDescriptor& d) {
  heap["type"] = d.kind;
  heap["contiguous"] = d.contiguous;
  heap["cached"] = d.cached;
  heap["dma32"] = d.dma32();
  heap["source"] = memorySourceName(d.source);
  heap["region"] = d.region.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.region);
}

HeapDescriptor descriptorFromType(std::string_view type) {
  HeapDescriptor d;
  if (type == "system") return d;
  if (type == "cma") {
    d.kind = "cma";
    d.contiguous = true;
    d.source = MemorySource::kCmaArea;
    return d;
  }
  d.kind = type.empty() ? "unknown" : std::string(type);
  d.source = MemorySource::kUnknown;
  return d;
}

namespace {

bool endsWith(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

}  // namespace

HeapDescriptor descriptorFromKernelName(std::string_view name, bool cma) {
  HeapDescriptor d;
  if (name == "system" || name.rfind("system-", 0) == 0) {
    d.cached = name.find("-uncached") == std::string_view::npos;
    if (endsWith(name, "-dma32")) d.address_limit = AddressLimit::k32Bit;
    return d;
  }
  if (cma) {
    d.kind = "cma";
    d.contiguous = true;
    d.cached = !endsWith(name, "-uncached");
    d.source = MemorySource::kCmaArea;
    return d;
  }
  d.kind = "unknown";
  d.source = MemorySource::kUnknown;
  return d;
}

std::vector<Capability> capabilitiesOf(const HeapDescriptor& d) {
  std::vector<Capability> caps;
  if (d.source == MemorySource::kSystemPages) {
    if (d.address_limit == AddressLimit::kNone) caps.push_back(d.cached ? Capability::kSystem : Capability::kUncached);
    if (d.dma32()) caps.push_back(Capability::kDma32);
  }
  if (d.contiguous) caps.push_back(Capability::kContiguous);
  return caps;
}

namespace {

bool offers(const HeapDescriptor& d, Capability c) {
  const auto caps = capabilitiesOf(d);
  return std::find(caps.begin(), caps.end(), c) != caps.end();
}

// The heap called `preferred` if it offers `c`, else the first by name that offers it and
// passes `extra`.
template <typename Pred>
std::optional<std::string> pick(const std::vector<NamedHeap>& heaps, Capability c, std::string_view preferred,
                                Pred extra) {
  const NamedHeap* best = nullptr;
  for (const auto& h : heaps) {
    if (!offers(h.descriptor, c)) continue;
    if (h.name == preferred) return h.name;
    if (extra(h.descriptor) && (best == nullptr || h.name < best->name)) best = &h;
  }
  if (best == nullptr) return std::nullopt;
  return best->name;
}

}  // namespace

std::optional<std::string> resolveCapability(Capability capability, const std::vector<NamedHeap>& heaps) {
  auto any = [](const HeapDescriptor&) { return true; };
  switch (capability) {
    case Capability::kSystem:
      return pick(heaps, Capability::kSystem, "system", any);
    case Capability::kUncached:
      if (auto h = pick(heaps, Capability::kUncached, "system-uncached", any)) return h;
      return pick(heaps, Capability::kSystem, "system", any);  // AllocSystem's fallback
    case Capability::kDma32:
      if (auto h = pick(heaps, Capability::kDma32, "system-dma32", [](const HeapDescriptor& d) { return d.cached; })) {
        return h;
      }
      return pick(heaps, Capability::kDma32, "", any);
    case Capability::kContiguous:
      break;
  }
  static constexpr std::string_view kPreferred[] = {"default_cma_region", "reserved", "linux,cma"};
  // Rank: a preferred name (in that order), then a DT default node with its unit address (still
  // the default area), then cached CMA heaps, then uncached ones, then other contiguous heaps.
  std::vector<std::tuple<int, std::string>> ranked;
  for (const auto& h : heaps) {
    if (!h.descriptor.contiguous) continue;
    int rank = 10;
    const auto* p = std::find(std::begin(kPreferred), std::end(kPreferred), h.name);
    if (p != std::end(kPreferred)) {
      rank = static_cast<int>(p - std::begin(kPreferred));
    } else if (h.name.rfind("linux,cma@", 0) == 0) {
      rank = 3;
    } else if (h.descriptor.source == MemorySource::kCmaArea) {
      rank = h.descriptor.cached ? 4 : 5;
    } else {
      rank = 6;
    }
    ranked.emplace_back(rank, h.name);
  }
  if (ranked.empty()) return std::nullopt;
  return std::get<1>(*std::min_element(ranked.begin(), ranked.end()));
}

std::optional<Capability> parseCapability(std::string_view text) {
  if (text == "system") return Capability::kSystem;
  if (text == "contiguous") return Capability::kContiguous;
  if (text == "uncached") return Capability::kUncached;
  if (text == "dma32") return Capability::kDma32;
  return std::nullopt;
}

const char* capabilityName(Capability capability) {
  switch (capability) {
    case Capability::kSystem: return "system";
    case Capability::kContiguous: return "contiguous";
    case Capability::kUncached: return "uncached";
    case Capability::kDma32: return "dma32";
  }
  return "?";
}

}  // namespace dmaheap
