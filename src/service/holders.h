// Which processes hold a buffer: a scan of /proc/<pid>/fd (open fds on the memfd) and
// /proc/<pid>/maps (mappings of it). Best effort: processes the service may not inspect
// (another uid, without privileges) are not seen. Costs one readlink per fd on the machine.
#pragma once

#include <sys/types.h>

#include <compare>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace dmaheap::service {

// A file's identity: st_dev and st_ino.
struct FileId {
  uint64_t dev = 0;
  uint64_t ino = 0;
  auto operator<=>(const FileId&) const = default;
};

struct ProcessHold {
  int pid = 0;
  std::string comm;
  uint32_t fds = 0;
  uint32_t mappings = 0;
};

// For each file in `files` that some process holds: who, with how many fds and mappings.
std::map<FileId, std::vector<ProcessHold>> scanHolders(const std::set<FileId>& files,
                                                       const std::string& proc_root = "/proc");

}  // namespace dmaheap::service
