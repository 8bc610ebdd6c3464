#!/usr/bin/env bash
# dmaheap simulate on the example workloads: exact, deterministic results (part of make test).
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build}/dmaheap
fail=0
board=examples/simulate/board-2g-cma256.dts
a=$($bin simulate --dtb $board examples/simulate/mixed-video.json --policy compare --json)
b=$($bin simulate --dtb $board examples/simulate/mixed-video.json --policy compare --json)
[[ "$a" == "$b" ]] && echo "ok   deterministic" || { echo "FAIL two runs differ"; fail=1; }
got=$(echo "$a" | python3 -c "import json,sys; print(' '.join(f\"{r['placement']}={r['failures']}\" for r in json.load(sys.stdin)['runs']))")
want="first-fit=15 best-fit=28 segregated=6"
[[ "$got" == "$want" ]] && echo "ok   mixed-video failures: $got" || { echo "FAIL mixed-video: want [$want] got [$got]"; fail=1; }
$bin simulate --dtb $board examples/simulate/camera-display.json --svg /tmp/dmaheap-sim-$$.svg >/dev/null
rc=$?
[[ $rc -eq 0 ]] && echo "ok   camera-display: no failure on 256 MiB" || { echo "FAIL camera-display exit $rc"; fail=1; }
grep -q "CMA area linux,cma (256.0 MiB)" /tmp/dmaheap-sim-$$.svg && echo "ok   svg" || { echo "FAIL svg"; fail=1; }
rm -f /tmp/dmaheap-sim-$$.svg
echo '{"streams": [{"heap": "contiguous", "size": "12Q"}]}' > /tmp/dmaheap-bad-$$.json
$bin simulate /tmp/dmaheap-bad-$$.json >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] && echo "ok   bad workload exits 2" || { echo "FAIL bad workload exit $rc"; fail=1; }
rm -f /tmp/dmaheap-bad-$$.json
exit $fail
