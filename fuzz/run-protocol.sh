#!/usr/bin/env bash
# Builds the dmaheapd protocol and service fuzz targets with clang (libFuzzer + ASan + UBSan) and
# runs one capped, fixed-seed pass of each (make test). Seeds: the committed corpus and one frame
# of every message kind (fuzz/targets.sh). The service target feeds a live service with fds
# attached and checks its open fd count after every connection (fuzz/service_fuzz.cc).
#   fuzz/run-protocol.sh [SECONDS-PER-TARGET]
set -euo pipefail
# FUZZ_SEED / FUZZ_RUNS as in fuzz/run.sh.
cd "$(dirname "$0")/.."
source fuzz/objects.sh
source fuzz/targets.sh
status=0
fuzz_pass_target protocol "protocol fuzz" "${FUZZ_RUNS:-40000}" "${1:-60}" || status=1
# A run of the service target is a whole connection (a round trip per piece): fewer runs.
fuzz_pass_target service "service fuzz" "${FUZZ_SERVICE_RUNS:-${FUZZ_RUNS:-10000}}" "${1:-60}" || status=1
exit $status
