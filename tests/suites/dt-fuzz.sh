#!/usr/bin/env bash
# Bounded libFuzzer run over device-tree loading and the reserved-memory rules (part of make test).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec fuzz/run.sh "${DT_FUZZ_SECONDS:-60}"
