// The heap-profile parser and the built-in profiles.
#include "heaps/heap_profile.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace dmaheap {
namespace {

// The vendor heap sets (docs/heap-profiles.md, "Built-in profiles"), in the file format.
struct BuiltinProfile {
  const char* name;
  const char* json;
};
constexpr BuiltinProfile kBuiltinProfiles[] = {
    // Android's libdmabufheap: "system", and "system-uncached" for AllocSystem(cpu_access=false).
    {"android", R"({"heaps": [
        {"kind": "system"},
        {"kind": "system", "cached": false}]})"},
    // Rockchip's vendor kernel: the system heap in cached/uncached and any/below-4-GiB variants.
    {"rockchip", R"({"heaps": [
        {"kind": "system"},
        {"kind": "system", "dma32": true},
        {"kind": "system", "cached": false},
        {"kind": "system", "cached": false, "dma32": true}]})"},
    // NXP's i.MX kernel: the default CMA area as "linux,cma" and an uncached view of it.
    {"nxp", R"({"heaps": [
        {"kind": "cma", "name": "linux,cma"},
        {"kind": "cma", "name": "linux,cma-uncached", "cached": false}]})"},
};

constexpr const char* kKeys = "kind, name, cached, dma32, region";

Error bad(const std::string& where, const std::string& why) { return makeError(EINVAL, where + ": " + why); }

}  // namespace

Result<std::vector<HeapSpec>> parseHeapProfile(std::string_view json_text, const std::string& origin) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number too big
    return bad(origin, std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) return bad(origin, "must be a JSON object {\"heaps\": [...]}");
  for (const auto& [key, value] : doc.items()) {
    if (key != "heaps") return bad(origin, "unknown key '" + key + "' (the file has one key: heaps)");
  }
  if (!doc.contains("heaps") || !doc["heaps"].is_array()) return bad(origin, "\"heaps\" must be an array of heaps");
  std::vector<HeapSpec> out;
  const auto& heaps = doc["heaps"];
  for (size_t i = 0; i < heaps.size(); ++i) {
    const std::string where = origin + ": heaps[" + std::to_string(i) + "]";
    const auto& h = heaps[i];
    if (!h.is_object()) return bad(where, "must be an object with a \"kind\"");
    HeapSpec spec;
    spec.origin = where;
    for (const auto& [key, value] : h.items()) {
      if (key == "kind" || key == "name" || key == "region") {
        if (!value.is_string()) return bad(where, "\"" + key + "\" must be a string");
        const std::string text = value.get<std::string>();
        if (text.empty()) return bad(where, "\"" + key + "\" must not be empty");
        if (key == "kind") spec.kind = text;
        if (key == "name") spec.name = text;
        if (key == "region") spec.region = text;
      } else if (key == "cached" || key == "dma32") {
        if (!value.is_boolean()) return bad(where, "\"" + key + "\" must be true or false");
        if (key == "cached") spec.cached = value.get<bool>();
        if (key == "dma32") spec.address_limit = value.get<bool>() ? AddressLimit::k32Bit : AddressLimit::kNone;
      } else {
        return bad(where, "unknown key '" + key + "' (keys: " + kKeys + ")");
      }
    }
    if (spec.kind.empty()) return bad(where, "needs a \"kind\" (system, cma, carveout)");
    if (spec.name.find('/') != std::string::npos || spec.name == "." || spec.name == "..") {
      return bad(where, "\"name\" must be a plain /dev/dma_heap entry name, not '" + spec.name + "'");
    }
    out.push_back(std::move(spec));
  }
  return out;
}

Result<std::vector<HeapSpec>> readHeapProfileFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno != 0 ? errno : ENOENT;
    return makeError(err, "cannot read heap profile " + path + ": " + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parseHeapProfile(text.str(), path);
}

Result<std::vector<HeapSpec>> builtinHeapProfile(std::string_view name) {
  for (const auto& p : kBuiltinProfiles) {
    if (name == p.name) return parseHeapProfile(p.json, std::string("profile ") + p.name);
  }
  std::string known;
  for (const auto& p : kBuiltinProfiles) known += (known.empty() ? "" : ", ") + std::string(p.name);
  return makeError(EINVAL, "unknown heap profile '" + std::string(name) + "' (profiles: " + known + ")");
}

std::vector<std::string> builtinHeapProfileNames() {
  std::vector<std::string> out;
  for (const auto& p : kBuiltinProfiles) out.emplace_back(p.name);
  return out;
}

Result<std::vector<HeapSpec>> heapProfileFromOptions(const std::string& profile, const std::string& heaps_file) {
  std::vector<HeapSpec> out;
  if (!profile.empty()) {
    auto p = builtinHeapProfile(profile);
    if (!p) return p.error();
    out = std::move(p.value());
  }
  if (!heaps_file.empty()) {
    auto f = readHeapProfileFile(heaps_file);
    if (!f) return f.error();
    out.insert(out.end(), f->begin(), f->end());
  }
  return out;
}

}  // namespace dmaheap
