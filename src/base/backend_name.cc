// The backend names and their parser.
#include "base/backend_name.h"

#include <string>

namespace dmaheap {
namespace {

struct NameRow {
  BackendName name;
  const char* text;
};
constexpr NameRow kNames[] = {
    {BackendName::kAuto, "auto"},
    {BackendName::kKernel, "kernel"},
    {BackendName::kService, "service"},
    {BackendName::kEmbedded, "embedded"},
};

// What each source accepts, and how its refusal reads.
struct SourceRow {
  BackendNameSource source;
  bool kernel_allowed;  // every source accepts auto, service and embedded
  bool empty_is_auto;
  std::string (*refusal)(std::string_view text);
};
constexpr SourceRow kSources[] = {
    {BackendNameSource::kRunOption, false, false,
     [](std::string_view) { return std::string("--backend must be auto, embedded or service"); }},
    {BackendNameSource::kEnvironment, true, true,
     [](std::string_view t) { return "DMAHEAP_BACKEND=" + std::string(t) + " is not auto, kernel, service or embedded"; }},
    {BackendNameSource::kApi, true, true,
     [](std::string_view t) { return "backend '" + std::string(t) + "' is not auto, kernel, service or embedded"; }},
};

const SourceRow& rowOf(BackendNameSource source) {
  for (const auto& row : kSources)
    if (row.source == source) return row;
  return kSources[0];  // unreachable: every source has a row
}

}  // namespace

const char* backendNameText(BackendName name) {
  for (const auto& row : kNames)
    if (row.name == name) return row.text;
  return "?";
}

Result<BackendName> parseBackendName(std::string_view text, BackendNameSource source) {
  const SourceRow& row = rowOf(source);
  if (text.empty() && row.empty_is_auto) return BackendName::kAuto;
  for (const auto& n : kNames) {
    if (text != n.text) continue;
    if (n.name == BackendName::kKernel && !row.kernel_allowed) break;
    return n.name;
  }
  return makeError(EINVAL, row.refusal(text));
}

}  // namespace dmaheap
