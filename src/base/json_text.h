// jsonText: the one way we turn JSON into text. Strings from input (device-tree node names,
// workload names) may hold bytes that are not UTF-8; nlohmann's dump() throws on those, so every
// output goes through here and such bytes become U+FFFD instead.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dmaheap {

inline std::string jsonText(const nlohmann::json& j, int indent = 2) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace dmaheap
