#!/usr/bin/env bash
# The host-kernel matrix (part of make test): Debian's stock amd64 6.1 and 6.12 kernels under
# QEMU (TCG), this build's dmaheap, dmaheapd and conformance programs, the kernel's dmabuf-heaps
# selftest and the vgem import check in each, for every backing dmaheap offers there
# (tests/hostkernels/run.sh, docs/host-kernels.md). Downloads are fetched when missing; when one
# cannot be, the suite fails and says which.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
# The guests run this build's binaries: only an x86_64 build can.
if [[ $(uname -m) != x86_64 ]]; then
  echo "hostkernels: not run: the guests are Debian amd64 kernels and this build is $(uname -m)"
  exit 0
fi
if [[ -n ${HOSTKERNELS_SKIP:-} ]]; then
  echo "hostkernels: not run: HOSTKERNELS_SKIP is set"
  exit 0
fi
exec tests/hostkernels/run.sh "$build"
