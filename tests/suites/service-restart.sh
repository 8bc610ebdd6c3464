#!/usr/bin/env bash
# dmaheapd survives restarts (docs/service-restart.md): the issue's scenario — 8 clients holding
# CMA and system buffers, SIGKILL, restart, fill both heaps, zero shared pages, free bytes back
# exactly — once under a stand-in for systemd's manager (fd store over NOTIFY_SOCKET, socket
# activation) and once through the fallback keeper (no NOTIFY_SOCKET).
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
for bin in "$build/dmaheapd" "$build/dmaheap" "$build/tests/service/service_restart_holder"; do
  [[ -x "$bin" ]] || { echo "FAIL $bin is not built"; exit 1; }
done
work=$(mktemp -d /tmp/dmaheap-restart-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0
for mode in systemd keeper; do
  echo "--- $mode"
  mkdir -p "$work/$mode"
  if ! RESTART_WORK="$work/$mode" python3 tests/service/restart_scenario.py "$mode" "$build" \
      tests/service/restart-board.dts systemd/dmaheapd.service; then
    fail=1
    echo "--- dmaheapd's log ($mode):"
    cat "$work/$mode/dmaheapd.log" 2>/dev/null
  fi
done
exit $fail
