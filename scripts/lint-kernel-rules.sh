#!/usr/bin/env bash
# The raw-version-comparison lint of make test (see scripts/lint-kernel-rules.py).
set -euo pipefail
exec python3 "$(dirname "$0")/lint-kernel-rules.py" "$@"
