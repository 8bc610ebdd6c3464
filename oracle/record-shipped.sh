#!/bin/bash
# Boot every arm64 board .dtb Debian ships on Debian's stock arm64 kernels (the `debian` kernels of
# oracle/kernels.list) under qemu-system-aarch64 -M virt, and record the memory layout each kernel
# logged before it stopped at the board's missing interrupt controller, into
# tests/oracle-shipped/<kernel-id>/<vendor>/<board>.txt. Format and findings: oracle/README.md,
# "Shipped trees".
#
# usage: oracle/record-shipped.sh [-k KERNEL-ID[,...]] [-j JOBS] [--regolden] [DTB-NAME...]
#   DTB-NAME as in the corpus (broadcom/bcm2711-rpi-4-b); default every .dtb
#   --regolden  only rewrite the golden files from the saved boot logs
# env: ORACLE_WORK (default build/oracle-shipped) cache: kernels, dumped trees, boot logs
#      ORACLE_JOBS (default 2) boots at a time; ORACLE_TIMEOUT (default 60) seconds per boot
#      DTB_DIR (default build/debian-dtbs, fetched by scripts/fetch-debian-dtbs.sh)
# A boot whose log is already in the work directory (same tree, same kernel) is not repeated:
# running it again after an interruption finishes the set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
work=${ORACLE_WORK:-$repo/build/oracle-shipped}
mkdir -p "$work"
work=$(cd "$work" && pwd)
golden_dir=$repo/tests/oracle-shipped
dtb_dir=${DTB_DIR:-$repo/build/debian-dtbs}
jobs=${ORACLE_JOBS:-2}
only_kernels=
regolden=0
while [ $# -gt 0 ]; do
    case $1 in
    -k) only_kernels=$2; shift 2;;
    -j) jobs=$2; shift 2;;
    --regolden) regolden=1; shift;;
    -h|--help) sed -n '2,16p' "$0"; exit 0;;
    -*) echo "record-shipped.sh: unknown option $1" >&2; exit 2;;
    *) break;;
    esac
done
only_dtbs=("$@")
t0=$(date +%s)
say() { echo "[oracle-shipped +$(( $(date +%s) - t0 ))s] $*" >&2; }

# The fixed machine and command line of every boot (oracle/README.md, "Shipped trees").
MEM=2048
CMDLINE="earlycon=pl011,0x09000000 keep_bootcon panic=-1"
STOP_AT="sched_clock: |clocksource: Switched to clocksource"
qemu_base="qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 1 -nographic -no-reboot -nic none -m $MEM"

for tool in qemu-system-aarch64 dtc fdtget apt-get dpkg-deb; do
    command -v $tool >/dev/null || { echo "record-shipped.sh: $tool is missing (qemu-system-arm, device-tree-compiler; oracle/README.md)" >&2; exit 1; }
done
# shellcheck source=oracle/apt.sh
. "$here/apt.sh"

kernel_ids=()
while read -r id arch kind what _; do
    case $id in ''|'#'*) continue;; esac
    [ "$kind" = debian ] && [ "$arch" = arm64 ] || continue
    if [ -n "$only_kernels" ] && [[ ",$only_kernels," != *",$id,"* ]]; then continue; fi
    kernel_ids+=("$id")
    [ $regolden = 1 ] && continue
    debian_kernel "$id" "$what"
    # the replay gives dt-check the .config of tests/oracle-golden/kernels: it must be this kernel's
    cmp -s "$work/kernels/$id/config" "$repo/tests/oracle-golden/kernels/$id.config" ||
        say "WARNING: $id's config differs from tests/oracle-golden/kernels/$id.config (re-run make oracle)"
done < "$here/kernels.list"

[ -d "$dtb_dir" ] || "$repo/scripts/fetch-debian-dtbs.sh" "$dtb_dir" >&2
if [ ${#only_dtbs[@]} -gt 0 ]; then dtbs=("${only_dtbs[@]}"); else
    # The order makes a partial run informative: first one tree of each distinct /reserved-memory
    # node and set of dma-ranges, then the other trees with /reserved-memory, then the rest.
    order=$work/order-$(cat "$dtb_dir/.fetched-from" 2>/dev/null || echo unknown).txt
    if [ ! -f "$order" ]; then
        say "ordering the trees (distinct reserved-memory and dma-ranges first)"
        (cd "$dtb_dir" && find . -name '*.dtb' | sed 's|^\./||; s|\.dtb$||' | LC_ALL=C sort |
            while read -r d; do
                dtc -q -I dtb -O dts "$d.dtb" | awk '/^\treserved-memory \{/ {r = 1} r {print} /^\t\};/ {r = 0}
                    /dma-ranges/ {print}' > "$work/sig.tmp"
                if [ -s "$work/sig.tmp" ] && grep -q 'reserved-memory' "$work/sig.tmp"; then
                    echo "$(sha256sum < "$work/sig.tmp" | cut -c1-16) 1 $d"
                else echo "- 2 $d"; fi
            done | awk '$1 != "-" && !seen[$1]++ {$2 = 0} {print $2, $3}' | LC_ALL=C sort -s -k1,1 | cut -d' ' -f2) > "$order.tmp"
        rm -f "$work/sig.tmp"; mv "$order.tmp" "$order"
    fi
    mapfile -t dtbs < "$order"
fi

# golden file = header (tree hash, the /memory QEMU wrote) + the filtered console log
write_golden() { # dtb-name kernel-id
    local d=$1 k=$2 log=$work/runs/$2/$1.log out=$golden_dir/$2/$1.txt
    mkdir -p "$(dirname "$out")"
    {
        echo "tree: $(sha256sum < "$dtb_dir/$d.dtb" | cut -c1-16)"
        cat "$work/qemu-trees/$d.memory"
        "$here/golden-shipped.sh" < "$log"
    } > "$out"
}

# One boot. The tree QEMU hands the kernel (its /memory rewritten from -m) is dumped once per
# board with -M virt,dumpdtb (QEMU exits before running the kernel).
boot_one() { # dtb-name kernel-id
    local d=$1 k=$2 log=$work/runs/$2/$1.log hash
    hash=$(sha256sum < "$dtb_dir/$d.dtb" | cut -c1-16)
    mkdir -p "$(dirname "$log")" "$(dirname "$work/qemu-trees/$d")"
    if [ ! -f "$work/qemu-trees/$d.memory" ] || [ "$(head -1 "$work/qemu-trees/$d.memory.hash" 2>/dev/null)" != "$hash" ]; then
        # shellcheck disable=SC2086
        $qemu_base -M virt,dumpdtb="$work/qemu-trees/$d.$k.dtb" -kernel "$work/kernels/$k/Image" \
            -dtb "$dtb_dir/$d.dtb" -append "$CMDLINE" </dev/null >/dev/null 2>&1 || true
        "$here/memory-nodes.sh" "$work/qemu-trees/$d.$k.dtb" > "$work/qemu-trees/$d.$k.memory"
        mv "$work/qemu-trees/$d.$k.memory" "$work/qemu-trees/$d.memory"
        mv "$work/qemu-trees/$d.$k.dtb" "$work/qemu-trees/$d.dtb"
        echo "$hash" > "$work/qemu-trees/$d.memory.hash"
    fi
    if [ ! -f "$log" ] || [ "$(head -1 "$log.hash" 2>/dev/null)" != "$hash" ]; then
        local rc=0 start=${EPOCHREALTIME/./} qpid stopped=0
        # shellcheck disable=SC2086
        timeout "${ORACLE_TIMEOUT:-60}" nice -n 10 $qemu_base -kernel "$work/kernels/$k/Image" \
            -dtb "$dtb_dir/$d.dtb" -append "$CMDLINE" </dev/null >"$log.tmp" 2>&1 &
        qpid=$!
        # A kernel that gets past the interrupt controller boots on: stop it when its timer is up
        # (the memory layout is logged long before), or it would run for a minute to the timeout.
        while kill -0 $qpid 2>/dev/null; do
            if grep -qE "$STOP_AT" "$log.tmp" 2>/dev/null; then kill $qpid 2>/dev/null; stopped=1; break; fi
            sleep 0.2
        done
        wait $qpid || rc=$?
        [ $stopped = 1 ] && echo "recording-stopped" >> "$log.tmp"
        echo "qemu-exit: $rc" >> "$log.tmp"
        echo "boot-ms: $(( (${EPOCHREALTIME/./} - start) / 1000 ))" >> "$log.tmp"
        if ! grep -q 'Kernel command line:' "$log.tmp" && grep -q '^qemu-exit: 124' "$log.tmp"; then
            # timed out before the memory layout was complete (it is, once setup_arch is over and
            # the command line is printed; a loaded machine): no golden file, a rerun retries
            mv "$log.tmp" "$log.incomplete"
            echo "$d $k outcome: incomplete $(sed -n 's/^boot-ms: //p' "$log.incomplete")"
            return 0
        fi
        mv "$log.tmp" "$log"
        echo "$hash" > "$log.hash"
    fi
    write_golden "$d" "$k"
    echo "$d $k $(grep '^outcome:' "$golden_dir/$k/$d.txt") $(sed -n 's/^boot-ms: //p' "$log")"
}

if [ $regolden = 1 ]; then
    n=0
    for k in "${kernel_ids[@]}"; do for d in "${dtbs[@]}"; do
        [ -f "$work/runs/$k/$d.log" ] || continue
        write_golden "$d" "$k"; n=$((n + 1))
    done; done
    say "rewrote $n golden files from boot logs"
    exit 0
fi

say "booting ${#dtbs[@]} trees x ${#kernel_ids[@]} kernels ($jobs at a time, -m $MEM, \"$CMDLINE\")"
export -f boot_one write_golden
export work golden_dir dtb_dir here qemu_base CMDLINE STOP_AT
# tree-major order: an interrupted run leaves both kernels' files for the same trees
for d in "${dtbs[@]}"; do for k in "${kernel_ids[@]}"; do echo "$d $k"; done; done |
    xargs -r -P "$jobs" -L 1 bash -c 'boot_one "$0" "$1"' |
    tee "$work/last-run.txt" | awk '{n++} $4 != "panic" {print} END {print n " boots done"}'
say "done: $(awk '{print $4}' "$work/last-run.txt" | sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}')"
