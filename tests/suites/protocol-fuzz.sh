#!/usr/bin/env bash
# Bounded runs of the dmaheapd protocol and service fuzz targets (fuzz/run-protocol.sh), part of
# make test.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec fuzz/run-protocol.sh "${PROTOCOL_FUZZ_SECONDS:-120}"
