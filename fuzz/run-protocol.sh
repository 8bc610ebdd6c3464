#!/usr/bin/env bash
# Builds the dmaheapd protocol fuzz target with clang (libFuzzer + ASan + UBSan) and runs one
# capped, fixed-seed pass (make test). Seeds: the committed corpus and one frame of every message
# kind (fuzz/targets.sh). The service target (fds attached) is not in this pass yet: its first
# campaign found an fd-count finding still open (fuzz/campaign-log.md).
#   fuzz/run-protocol.sh [SECONDS-PER-TARGET]
set -euo pipefail
# FUZZ_SEED / FUZZ_RUNS as in fuzz/run.sh.
cd "$(dirname "$0")/.."
source fuzz/objects.sh
source fuzz/targets.sh
status=0
fuzz_pass_target protocol "protocol fuzz" "${FUZZ_RUNS:-40000}" "${1:-60}" || status=1
exit $status
