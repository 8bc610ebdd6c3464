// Access control for dmaheapd, as device nodes have it: each heap has an owner, a group and a
// mode, checked against the connecting process's credentials the way the VFS checks opening
// /dev/dma_heap/<name> for reading; plus a per-uid quota of live buffer bytes.
//
// Configuration file (one directive per line, '#' starts a comment):
//   heap NAME [owner=USER|UID] [group=GROUP|GID] [mode=OCTAL]   NAME "*" = every heap not listed
//   quota USER|UID|* BYTES                                        BYTES like 4096, 64M, 1G
//   limit USER|UID|* connections|requests|buffers COUNT          the other per-uid limits
// Without a file: every heap belongs to the service's own uid and gid with mode 0666, no uid
// has a quota, and every uid has the service's default limits (ServiceOptions).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace dmaheap::service {

struct HeapAccess {
  uint32_t owner = 0;
  uint32_t group = 0;
  uint32_t mode = 0666;
};

// Who is asking: SO_PEERCRED plus SO_PEERGROUPS.
struct PeerCredentials {
  int32_t pid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups
};

// Per-uid limits besides the byte quota (docs/architecture.md, "dmaheapd"): connections open,
// requests in flight (replies not yet taken by the client), buffers held. Unset = the service's
// default.
struct UidLimits {
  std::optional<size_t> connections;
  std::optional<size_t> requests;
  std::optional<size_t> buffers;
};

struct AccessConfig {
  HeapAccess default_heap;                    // for heaps without their own line
  std::map<std::string, HeapAccess> heaps;
  std::optional<uint64_t> default_quota;      // for uids without their own line
  std::map<uint32_t, uint64_t> quotas;
  UidLimits default_limits;                   // the `limit *` lines
  std::map<uint32_t, UidLimits> limits;       // per uid; what a uid's lines leave unset comes from *

  // The defaults described above, owned by the calling process's effective uid and gid.
  static AccessConfig defaults();
  // EINVAL with "LINE: reason" for a malformed line, an unknown user or group name, a mode
  // above 07777, a bad size, an unknown limit or a count that is not a positive number.
  static Result<AccessConfig> parse(std::string_view text);
  // ENOENT/EACCES if unreadable, else as parse().
  static Result<AccessConfig> fromFile(const std::string& path);

  const HeapAccess& forHeap(const std::string& heap) const;
  std::optional<uint64_t> quotaFor(uint32_t uid) const;
  UidLimits limitsFor(uint32_t uid) const;

  // The VFS's check for opening a heap node for reading: uid 0 always may (CAP_DAC_OVERRIDE);
  // otherwise the owner, group or other read bit that applies. EACCES with a sentence naming
  // the heap's owner, group and mode otherwise.
  Status checkOpen(const std::string& heap, const PeerCredentials& who) const;
};

}  // namespace dmaheap::service
