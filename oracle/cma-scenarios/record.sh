#!/bin/bash
# Record the CMA scenarios (oracle/cma-scenarios/README.md) on the oracle's heap-enabled kernels:
# one QEMU boot per scenario of cmatest.c and kernel (README.md says why not one per kernel), and
# the scenario's lines become tests/oracle-golden/cma-scenarios/<scenario>/<kernel-id>.txt.
#
# usage: oracle/cma-scenarios/record.sh [-k KERNEL-ID[,KERNEL-ID...]] [--regolden] [SCENARIO...]
#   --regolden  only rewrite the golden files from the boot logs already in the work directory
#
# Needs the kernels oracle/record.sh built (in ${ORACLE_WORK:-build/oracle}/kernels; this script
# never builds one) and its cross compiler and busybox (fetched the same way, oracle/apt.sh).
# ORACLE_JOBS boots at once (default 2), ORACLE_TIMEOUT seconds per boot (default 600).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
oracle=$(cd "$here/.." && pwd)
repo=$(cd "$oracle/.." && pwd)
work=${ORACLE_WORK:-$repo/build/oracle}
mkdir -p "$work"
work=$(cd "$work" && pwd)
out=$work/cma-scenarios
golden=$repo/tests/oracle-golden/cma-scenarios
kernels=(6.12-hugetlb 6.12-nohugetlb 7.2-hugetlb 7.2-nohugetlb)
regolden=0
while [ $# -gt 0 ]; do
    case $1 in
    -k) IFS=, read -r -a kernels <<< "$2"; shift 2;;
    --regolden) regolden=1; shift;;
    -h|--help) sed -n '2,11p' "$0"; exit 0;;
    -*) echo "record.sh: unknown option $1" >&2; exit 2;;
    *) break;;
    esac
done
# the scenarios: the names in cmatest.c's table, or those given
if [ $# -gt 0 ]; then scenarios=("$@"); else
    mapfile -t scenarios < <(sed -n 's/^    { "\([a-z0-9-]*\)", FILL_.*/\1/p' "$here/cmatest.c")
fi
t0=$(date +%s)
say() { echo "[cma-scenarios +$(( $(date +%s) - t0 ))s] $*" >&2; }

# The golden file of one scenario from its boot log: the scenario's own lines, then how the run
# ended and the boot's figures.
golden_of() { # log scenario kernel-id
    LC_ALL=C awk -v sc="$2" -v k="$3" '
        { sub(/\r$/, "") }
        /^=== / { sect = substr($0, 5); next }
        sect == "cmatest" && ($1 == "scenario" || $1 == "stream" || $1 == "state" || $1 == "step" ||
                              $1 == "end" || $1 == "failed") && $2 == sc { print; if ($1 == "end") done = 1 }
        sect == "dmesg" && /alloc failed, req-size/ { logged++ }
        END { print "kernel " k; print "alloc-failed-logged " logged + 0; print "outcome " (done ? "ran" : "incomplete") }
    ' "$1"
}

write_golden() { # scenario kernel-id
    mkdir -p "$golden/$1"
    golden_of "$out/$1/$2.log" "$1" "$2" > "$golden/$1/$2.txt"
}

if [ $regolden = 1 ]; then
    for sc in "${scenarios[@]}"; do for k in "${kernels[@]}"; do
        [ -f "$out/$sc/$k.log" ] && write_golden "$sc" "$k"
    done; done
    say "rewrote the golden files from $out/*/*.log"
    exit 0
fi

# shellcheck source=oracle/apt.sh
. "$oracle/apt.sh"
cross_toolchain aarch64-linux-gnu arm64
for k in "${kernels[@]}"; do
    [ -f "$work/kernels/$k/Image" ] || { echo "record.sh: no kernel $work/kernels/$k/Image (run oracle/record.sh -k $k first)" >&2; exit 1; }
done

# initramfs: busybox, cmatest, our init (rebuilt when either source changes)
initrd=$out/initrd.cpio
hash=$(cat "$here/init" "$here/cmatest.c" | sha256sum | cut -c1-16)
mkdir -p "$out"
if [ ! -f "$initrd" ] || [ "$(cat "$initrd.hash" 2>/dev/null)" != "$hash" ]; then
    say "building cmatest and its initramfs"
    stage=$out/initramfs
    rm -rf "$stage" "$out/x-busybox"; mkdir -p "$stage/bin" "$stage/dev" "$out/x-busybox"
    dpkg -x "$(fetch_deb "busybox-static:arm64")" "$out/x-busybox"
    cp "$(find "$out/x-busybox" -name busybox -type f -perm -u+x | head -1)" "$stage/bin/busybox"
    rm -rf "$out/x-busybox"
    aarch64-linux-gnu-gcc -static -O2 -Wall -Werror -o "$stage/cmatest" "$here/cmatest.c"
    aarch64-linux-gnu-strip "$stage/cmatest"
    cp "$here/init" "$stage/init"
    chmod 755 "$stage/init" "$stage/cmatest" "$stage/bin/busybox"
    mknod -m 600 "$stage/dev/console" c 5 1
    (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$initrd"
    echo "$hash" > "$initrd.hash"
fi

# The board: QEMU virt with 1 GiB and no reserved memory, the tree of the dt case
# no-reserved-memory (its board.dts is what oracle/record.sh gave the kernels); the replay uses
# the same file.
board_dts=$repo/tests/dt-cases/no-reserved-memory/board.dts
dtc -q -I dts -O dtb -o "$out/board.dtb" "$board_dts"
cmdline=$(sed -n 's/.*bootargs = "\(.*\)";/\1/p' "$board_dts")

boot() { # scenario kernel-id
    local sc=$1 k=$2 rc=0 s0 s1 log=$out/$1/$2.log
    mkdir -p "$out/$sc"
    s0=$(date +%s)
    timeout "${ORACLE_TIMEOUT:-600}" nice -n 10 qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 1 -m 1024 \
        -nographic -no-reboot -nic none -kernel "$work/kernels/$k/Image" -initrd "$initrd" \
        -dtb "$out/board.dtb" -append "$cmdline cmatest=$sc" </dev/null > "$log" 2>&1 || rc=$?
    s1=$(date +%s)
    echo "qemu-exit: $rc" >> "$log"
    echo "boot-seconds: $((s1 - s0))" >> "$log"
    write_golden "$sc" "$k"
    say "$sc $k: qemu exit $rc, $((s1 - s0)) s, $(tail -1 "$golden/$sc/$k.txt")"
}
trap 'trap - INT TERM; kill 0' INT TERM
jobs=${ORACLE_JOBS:-2} running=0
for k in "${kernels[@]}"; do for sc in "${scenarios[@]}"; do
    boot "$sc" "$k" &
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done; done
wait
trap - INT TERM
say "done: ${#scenarios[@]} scenarios x ${#kernels[@]} kernels"
