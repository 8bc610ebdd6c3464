#!/usr/bin/env bash
# The C conformance program under dmaheap run (dynamic, static, non-root) and through libdmaheap's
# embedded and service backends (part of make test).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec conformance/run-conformance.sh "${1:-build}"
