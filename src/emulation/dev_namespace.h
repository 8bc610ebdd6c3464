// A private /dev with a /dev/dma_heap directory, for a program about to be exec'd under
// `dmaheap run`. Runs in the child between fork and exec: it moves the calling process into a
// new mount namespace (plus a user namespace when unprivileged), mounts a tmpfs over /dev, binds
// every original /dev entry back, adds /dev/dma_heap/<name> placeholders (bind mounts of
// /dev/null, so stat shows a character device and open works) and makes the tmpfs read-only.
// Nothing is created on the host's devtmpfs, and no mount propagates back to the host.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace dmaheap::emul {

struct DevNamespaceOptions {
  std::vector<std::string> heap_nodes;  // names under /dev/dma_heap
  // Also create a user namespace mapping only our uid and gid (for callers without
  // CAP_SYS_ADMIN). Needs unprivileged user namespaces.
  bool user_namespace = false;
};

// What the supervisor needs to recognise the heap nodes: the mount id of each placeholder (in
// heap_nodes order) — every placeholder is its own bind mount of /dev/null.
struct DevNamespace {
  std::vector<uint64_t> heap_mount_ids;
};

// Errors name the step that failed with its errno (EPERM from unshare when user namespaces are
// not allowed, ...). On error the process may be half set up: the caller exits.
Result<DevNamespace> enterDevNamespace(const DevNamespaceOptions& options);

// The mount id (statx STATX_MNT_ID) of `path`, following symlinks; 0 on failure.
uint64_t mountIdOf(const std::string& path);

}  // namespace dmaheap::emul
