#!/bin/bash
# Record what real arm64 Linux kernels do with every device-tree case in tests/dt-cases/,
# booted under QEMU (-M virt), into tests/oracle-golden/<case>/<kernel-id>.txt.
#
# usage: oracle/record.sh [-k KERNEL-ID[,KERNEL-ID...]] [-j JOBS] [--no-install] [--regolden] [CASE...]
#   --regolden  only rewrite the golden files from the boot logs already in the work directory
#
# Big artifacts (packages, kernel sources and builds, boot logs) live in
# ${ORACLE_WORK:-build/oracle}; everything there is cached, so a rerun only boots.
# Nothing is installed system-wide except the host tools listed in need_tools (apt-get);
# arm64 packages and the cross compiler are fetched with a private apt state and unpacked with
# dpkg -x (oracle/apt.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
work=${ORACLE_WORK:-$repo/build/oracle}
mkdir -p "$work"
work=$(cd "$work" && pwd)
cases_dir=$repo/tests/dt-cases
golden_dir=$repo/tests/oracle-golden
jobs=${ORACLE_JOBS:-2}
only_kernels=
install=1
regolden=0
while [ $# -gt 0 ]; do
    case $1 in
    -k) only_kernels=$2; shift 2;;
    -j) jobs=$2; shift 2;;
    --no-install) install=0; shift;;
    --regolden) regolden=1; shift;;
    -h|--help) sed -n '2,11p' "$0"; exit 0;;
    -*) echo "record.sh: unknown option $1" >&2; exit 2;;
    *) break;;
    esac
done
only_cases=("$@")
t0=$(date +%s)
say() { echo "[oracle +$(( $(date +%s) - t0 ))s] $*" >&2; }

# ---------------------------------------------------------------- host tools
need_tools() {
    local missing=() p
    for p in qemu-system-arm make flex bison bc libssl-dev libelf-dev device-tree-compiler cpio xz-utils; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} = 0 ] && return
    [ $install = 1 ] || { echo "record.sh: missing packages: ${missing[*]}" >&2; exit 1; }
    say "installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- private apt state
# apt_state, fetch_deb, debian_image_pkg, debian_kernel (shared with record-shipped.sh)
# shellcheck source=oracle/apt.sh
. "$here/apt.sh"

# ---------------------------------------------------------------- kernels
# kernels.list: ID build linux-source-X=VER FRAGMENTS... | ID debian SUITE
kernel_ids=()
prepare_kernels() {
    local id kind what frags
    mkdir -p "$golden_dir/kernels"
    while read -r id kind what frags; do
        case $id in ''|'#'*) continue;; esac
        if [ -n "$only_kernels" ] && [[ ",$only_kernels," != *",$id,"* ]]; then continue; fi
        local dest=$work/kernels/$id
        if [ "$kind" = build ]; then
            local ver=${what#linux-source-}; ver=${ver%%=*}
            local src=$work/src/$ver
            if [ ! -f "$src/Makefile" ]; then
                local deb; deb=$(fetch_deb "$what")
                say "unpacking $(basename "$deb")"
                rm -rf "$work/x-$ver" "$src"; mkdir -p "$work/x-$ver" "$src"
                dpkg -x "$deb" "$work/x-$ver"
                tar -C "$src" --strip-components=1 -xf "$work/x-$ver"/usr/src/linux-source-*.tar.xz
                rm -rf "$work/x-$ver"
            fi
            # shellcheck disable=SC2086
            say "$(ORACLE_WORK=$work "$here/build-kernel.sh" "$id" "$src" $frags | tail -1)"
        else
            debian_kernel "$id" "$what"
        fi
        cp "$dest/config" "$golden_dir/kernels/$id.config"
        sed -n 's/^# Linux\/arm64 \([0-9]*\.[0-9]*\).*/\1/p' "$dest/config" | head -1 > "$golden_dir/kernels/$id.version"
        kernel_ids+=("$id")
    done < "$here/kernels.list"
}

# ---------------------------------------------------------------- initramfs
initrd=$work/initrd.cpio
prepare_initrd() {
    local bb hash stage
    hash=$(cat "$here/initramfs/init" "$here/heaptest.c" | sha256sum | cut -c1-16)
    if [ -f "$initrd" ] && [ "$(cat "$initrd.hash" 2>/dev/null)" = "$hash" ]; then return; fi
    say "building heaptest and the initramfs"
    bb=$(fetch_deb "busybox-static:arm64")
    stage=$work/initramfs
    rm -rf "$stage" "$work/x-busybox"; mkdir -p "$stage/bin" "$stage/dev" "$work/x-busybox"
    dpkg -x "$bb" "$work/x-busybox"
    cp "$(find "$work/x-busybox" -name busybox -type f -perm -u+x | head -1)" "$stage/bin/busybox"
    rm -rf "$work/x-busybox"
    aarch64-linux-gnu-gcc -static -O2 -Wall -o "$stage/heaptest" "$here/heaptest.c"
    aarch64-linux-gnu-strip "$stage/heaptest"
    cp "$here/initramfs/init" "$stage/init"
    chmod 755 "$stage/init" "$stage/heaptest" "$stage/bin/busybox"
    mknod -m 600 "$stage/dev/console" c 5 1
    (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$initrd"
    echo "$hash" > "$initrd.hash"
}

# ---------------------------------------------------------------- device trees
qemu_base=(qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 1 -nographic -no-reboot -nic none)
base_cmdline="console=ttyAMA0 earlycon panic=-1"

case_conf() { # case -> sets MEM CMDLINE
    MEM=1024 CMDLINE=
    # shellcheck disable=SC1090
    [ -f "$cases_dir/$1/qemu.conf" ] && . "$cases_dir/$1/qemu.conf"
    return 0
}

virt_dts() { # MEM -> path of QEMU's own virt tree as dts
    local mem=$1 out=$work/virt/virt-$1
    if [ ! -f "$out.dts" ]; then
        mkdir -p "$work/virt"
        "${qemu_base[@]}" -m "$mem" -M virt,dumpdtb="$out.dtb" >/dev/null 2>&1
        # QEMU puts fresh random kaslr-seed and rng-seed values in every dump: drop them, so the
        # boards are reproducible (and KASLR stays off: physical placement does not depend on it)
        dtc -q -I dtb -O dts "$out.dtb" | grep -Ev '^[[:space:]]*(kaslr-seed|rng-seed) = ' > "$out.dts"
    fi
    echo "$out.dts"
}

# board.dts = QEMU's virt tree for MEM (or the case's tree.dts) + fragment.dtsi + /chosen bootargs
# exactly as QEMU passes them; /memreserve/ lines of the fragment go to the top.
make_board() {
    local c=$1 dir=$cases_dir/$1 src tmp
    case_conf "$c"
    tmp=$work/boards/$c; mkdir -p "$tmp"
    if [ -f "$dir/tree.dts" ]; then src=$dir/tree.dts; else src=$(virt_dts "$MEM"); fi
    {
        echo "/dts-v1/;"
        [ -f "$dir/fragment.dtsi" ] && grep '^/memreserve/' "$dir/fragment.dtsi" || true
        grep -v '^/dts-v1/;' "$src"
        [ -f "$dir/fragment.dtsi" ] && grep -v '^/memreserve/' "$dir/fragment.dtsi" || true
        printf '\n/ {\n\tchosen {\n\t\tbootargs = "%s";\n\t};\n};\n' "$base_cmdline${CMDLINE:+ $CMDLINE}"
    } > "$tmp/merged.dts"
    dtc -q -I dts -O dtb -o "$tmp/board.dtb" "$tmp/merged.dts"
    {
        echo "// Generated by oracle/record.sh from QEMU's virt tree (-m $MEM) and fragment.dtsi; do not edit."
        dtc -q -I dtb -O dts "$tmp/board.dtb"
    } > "$dir/board.dts"
}

# ---------------------------------------------------------------- boot one case on one kernel
boot_one() { # case kernel-id
    local c=$1 k=$2 log out
    case_conf "$c"
    out=$work/runs/$c; mkdir -p "$out" "$golden_dir/$c"
    log=$out/$k.log
    local rc=0
    timeout "${ORACLE_TIMEOUT:-90}" nice -n 10 "${qemu_base[@]}" -m "$MEM" \
        -kernel "$work/kernels/$k/Image" -initrd "$initrd" -dtb "$work/boards/$c/board.dtb" \
        -append "$base_cmdline${CMDLINE:+ $CMDLINE}" </dev/null >"$log" 2>&1 || rc=$?
    echo "qemu-exit: $rc" >> "$log"
    "$here/golden.sh" < "$log" > "$golden_dir/$c/$k.txt"
    echo "$c $k $(grep '^outcome:' "$golden_dir/$c/$k.txt")"
}

# ---------------------------------------------------------------- main
if [ $regolden = 1 ]; then
    n=0
    for log in "$work"/runs/*/*.log; do
        c=$(basename "$(dirname "$log")") k=$(basename "$log" .log)
        if [ ${#only_cases[@]} -gt 0 ] && [[ " ${only_cases[*]} " != *" $c "* ]]; then continue; fi
        if [ -n "$only_kernels" ] && [[ ",$only_kernels," != *",$k,"* ]]; then continue; fi
        mkdir -p "$golden_dir/$c"
        "$here/golden.sh" < "$log" > "$golden_dir/$c/$k.txt"
        n=$((n + 1))
    done
    say "rewrote $n golden files from boot logs"
    exit 0
fi
need_tools
cross_toolchain aarch64-linux-gnu arm64
prepare_kernels
prepare_initrd
cases=()
if [ ${#only_cases[@]} -gt 0 ]; then cases=("${only_cases[@]}"); else
    for d in "$cases_dir"/*/; do d=${d%/}; [ -f "$d/fragment.dtsi" ] || [ -f "$d/tree.dts" ] && cases+=("${d##*/}"); done
fi
say "generating ${#cases[@]} board trees"
for c in "${cases[@]}"; do make_board "$c"; done
say "booting ${#cases[@]} cases x ${#kernel_ids[@]} kernels (${jobs} at a time)"
export -f boot_one case_conf
export work golden_dir cases_dir here base_cmdline initrd
export qemu_base_s="${qemu_base[*]}"
# Stopping record.sh stops its boots too: without this the xargs workers outlive it and go on
# writing golden files (a boot already running finishes under its own timeout, but nothing is
# written from it: the worker that would write is gone). The pipeline runs in the background so
# that the trap runs at once (bash defers traps while a foreground command runs).
trap 'trap - INT TERM; kill 0' INT TERM
for c in "${cases[@]}"; do for k in "${kernel_ids[@]}"; do echo "$c $k"; done; done |
    xargs -P "$jobs" -L 1 bash -c 'qemu_base=($qemu_base_s); boot_one "$0" "$1"' |
    tee "$work/last-run.txt" | awk '{n++} $0 !~ /booted$/ {print} END {print n " runs done"}' &
wait $!
trap - INT TERM
say "done: $(grep -c 'booted$' "$work/last-run.txt") booted, $(grep -c 'panic$' "$work/last-run.txt") panicked, $(grep -c 'timeout$' "$work/last-run.txt") timed out"
