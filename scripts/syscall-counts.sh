#!/usr/bin/env bash
# Syscalls per 4 KiB ALLOC on each path (README.md "Performance", "Syscalls per request"):
# strace -f -ff over the loop of scripts/alloc-loop.c run twice, N1 and N2 allocations; the
# difference of the two counts divided by N2-N1 is what one ALLOC+close costs, without start-up.
#   scripts/syscall-counts.sh [BUILD] [embedded|service|run ...]   (default: all three)
# env: N1 (default 500), N2 (default 1500), SIZE (default 4096), GAP_US (default 0: a pause
# after each close, so that the background thread keeps up even under strace, which serialises
# the threads; the pause's clock_nanosleep is not counted), and what the programs read
# (DMAHEAP_PREPARED=off: no buffers prepared ahead).
# Every path uses the memfd backing (--backing memfd). Threads that named themselves
# dmaheap-prepare (the prepared-buffer pool, src/heap/prepared_pool.h) work off the request
# path: their calls are listed as "ahead:NAME".
#   embedded: libdmaheap's embedded backend in the loop's process;
#   service:  dmaheapd on a private socket (with its keeper, as started by hand), traced from its
#             start; "client:" rows are libdmaheap's, "dmaheapd:" the service's (and its keeper's);
#   run:      `BUILD/dmaheap run -- alloc-loop ioctl`, supervisor and program together.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
paths=("$@")
[[ ${#paths[@]} -gt 0 ]] || paths=(embedded service run)
n1=${N1:-500}
n2=${N2:-1500}
size=${SIZE:-4096}
gap=${GAP_US:-0}
command -v strace >/dev/null || { echo "syscall-counts: strace is not installed (apt-get install strace)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
loop=$tmp/alloc-loop
cc -O2 -Wall -Wextra -Werror -Isrc/client/include scripts/alloc-loop.c -o "$loop" \
  -L"$build" -ldmaheap -Wl,-rpath,"$(realpath "$build")"

# calls PREFIX LABEL: the per-thread files PREFIX.TID -> "LABELsyscall calls" lines.
calls() {
  python3 - "$1" "$2" <<'PY'
import collections, glob, re, sys
prefix, label = sys.argv[1], sys.argv[2]
counts = collections.Counter()
call = re.compile(r"^([a-z_0-9]+)\(")
for path in glob.glob(prefix + ".*"):
    text = open(path, errors="replace").read()
    ahead = 'PR_SET_NAME, "dmaheap-prepare"' in text
    for line in text.splitlines():
        m = call.match(line)
        if m and m.group(1) != "clock_nanosleep":
            counts[("ahead:" if ahead else label) + m.group(1)] += 1
for name, n in counts.items():
    print(name, n)
PY
}

# diff_counts FILE1 FILE2 LABEL: per-request calls, highest first.
diff_counts() {
  python3 - "$1" "$2" "$3" "$((n2 - n1))" <<'PY'
import sys
def read(p):
    d = {}
    for line in open(p):
        name, n = line.split()
        d[name] = d.get(name, 0) + int(n)
    return d
a, b, label, n = read(sys.argv[1]), read(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rows = sorted(((b.get(k, 0) - a.get(k, 0)) / n, k) for k in set(a) | set(b))
rows = [(v, k) for v, k in rows if v >= 0.005]
rows.reverse()
path = sum(v for v, k in rows if not k.startswith("ahead:"))
ahead = sum(v for v, k in rows if k.startswith("ahead:"))
print(f"{label}: {path:.2f} syscalls per ALLOC+close on the request path, {ahead:.2f} ahead")
for v, k in rows:
    print(f"  {k:28s} {v:6.2f}")
PY
}

count_embedded() {
  local n=$1 out=$2
  rm -f "$tmp"/raw.*
  DMAHEAP_BACKING=memfd strace -f -ff -o "$tmp/raw" "$loop" embedded "$n" "$size" "$gap" >/dev/null
  calls "$tmp/raw" "" >"$out"
}

count_run() {
  local n=$1 out=$2
  rm -f "$tmp"/raw.*
  strace -f -ff -o "$tmp/raw" "$build/dmaheap" run --backing memfd -- "$loop" ioctl "$n" "$size" "$gap" >/dev/null 2>&1
  calls "$tmp/raw" "" >"$out"
}

count_service() {
  local n=$1 out=$2 sock=$tmp/s.sock
  rm -f "$tmp"/raw.* "$tmp"/rawd.* "$sock"
  # Traced from its start (attaching later with -p misattributed the threads' calls).
  strace -f -ff -o "$tmp/rawd" "$build/dmaheapd" --socket "$sock" --backing memfd >/dev/null 2>&1 &
  local tracer=$!
  for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
  DMAHEAP_SOCKET=$sock strace -f -ff -o "$tmp/raw" "$loop" service "$n" "$size" "$gap" >/dev/null
  sleep 0.5
  kill -TERM "$(pgrep -o -P "$tracer")"  # dmaheapd, the tracer's child
  wait "$tracer" || true
  { calls "$tmp/raw" "client:"; calls "$tmp/rawd" "dmaheapd:"; } >"$out"
}

for p in "${paths[@]}"; do
  "count_$p" "$n1" "$tmp/$p.1"
  "count_$p" "$n2" "$tmp/$p.2"
  diff_counts "$tmp/$p.1" "$tmp/$p.2" "$p ($size bytes)"
done
