#!/usr/bin/env bash
# cmake --install, then an example outside the tree builds against the installed libdmaheap
# (CMake package and pkg-config) and runs (part of make test).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec examples/libdmaheap-consumer/build-and-run.sh "${1:-build}"
