#!/bin/bash
# Record what real Linux kernels (arm64, 32-bit ARM, riscv64) do with every device-tree case in
# tests/dt-cases/, booted under QEMU (-M virt), into tests/oracle-golden/<case>/<kernel-id>.txt.
#
# usage: oracle/record.sh [-k KERNEL-ID[,KERNEL-ID...]] [-j JOBS] [--no-install] [--regolden] [CASE...]
#   --regolden  only rewrite the golden files from the boot logs already in the work directory
#
# Big artifacts (packages, kernel sources and builds, boot logs) live in
# ${ORACLE_WORK:-build/oracle}; everything there is cached, so a rerun only boots.
# Nothing is installed system-wide except the host tools listed in need_tools (apt-get); the
# target's packages and the cross compilers are fetched with a private apt state and unpacked with
# dpkg -x (oracle/apt.sh). Architectures: oracle/README.md, "Architectures".
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
    for p in qemu-system-arm qemu-system-misc make flex bison bc libssl-dev libelf-dev device-tree-compiler \
             cpio xz-utils python3; do
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

# ---------------------------------------------------------------- architectures
# arch_vars ARCH: the QEMU command, console, cross compiler and Debian architecture of ARCH.
# riscv64 boots through OpenSBI (QEMU's -bios default), which edits the tree before the kernel
# sees it; the board file of a riscv64 case is therefore the tree the kernel reported (make_board
# and board_from_boot below).
arch_vars() {
    case $1 in
    arm64)   qemu_arch=(qemu-system-aarch64 -M virt -cpu cortex-a57) console=ttyAMA0
             triplet=aarch64-linux-gnu debarch=arm64;;
    arm)     qemu_arch=(qemu-system-arm -M virt -cpu cortex-a15) console=ttyAMA0
             triplet=arm-linux-gnueabihf debarch=armhf;;
    riscv64) qemu_arch=(qemu-system-riscv64 -M virt -bios default) console=ttyS0
             triplet=riscv64-linux-gnu debarch=riscv64;;
    *) echo "record.sh: unknown architecture $1" >&2; exit 2;;
    esac
    qemu_base=("${qemu_arch[@]}" -smp 1 -nographic -no-reboot -nic none)
    base_cmdline="console=$console earlycon panic=-1"
}

# ---------------------------------------------------------------- kernels
# kernels.list: ID ARCH build linux-source-X=VER FRAGMENTS... | ID ARCH debian SUITE[/FLAVOUR]
kernel_ids=()
archs=()
prepare_kernels() {
    local id arch kind what frags
    mkdir -p "$golden_dir/kernels"
    while read -r id arch kind what frags; do
        case $id in ''|'#'*) continue;; esac
        if [ -n "$only_kernels" ] && [[ ",$only_kernels," != *",$id,"* ]]; then continue; fi
        arch_vars "$arch"
        cross_toolchain "$triplet" "$debarch"
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
            say "$(ORACLE_WORK=$work "$here/build-kernel.sh" "$id" "$arch" "$src" $frags | tail -1)"
        else
            local suite=${what%%/*} flavour=$debarch
            [ "$suite" = "$what" ] || flavour=${what#*/}
            debian_kernel "$id" "$suite" "$debarch" "$flavour"
        fi
        echo "$arch" > "$dest/arch"
        cp "$dest/config" "$golden_dir/kernels/$id.config"
        sed -n 's/^# Linux\/[a-z0-9_]* \([0-9]*\.[0-9]*\).*/\1/p' "$dest/config" | head -1 > "$golden_dir/kernels/$id.version"
        kernel_ids+=("$id")
        [[ " ${archs[*]} " == *" $arch "* ]] || archs+=("$arch")
    done < "$here/kernels.list"
}

# ---------------------------------------------------------------- initramfs
# one per architecture: $work/initrd-ARCH.cpio (busybox-static of that architecture, heaptest)
prepare_initrd() { # ARCH
    local bb hash stage initrd=$work/initrd-$1.cpio
    arch_vars "$1"
    hash=$(cat "$here/initramfs/init" "$here/heaptest.c" | sha256sum | cut -c1-16)
    if [ -f "$initrd" ] && [ "$(cat "$initrd.hash" 2>/dev/null)" = "$hash" ]; then return; fi
    say "building heaptest and the initramfs for $1"
    bb=$(fetch_deb "busybox-static:$debarch")
    stage=$work/initramfs-$1
    rm -rf "$stage" "$work/x-busybox"; mkdir -p "$stage/bin" "$stage/dev" "$work/x-busybox"
    dpkg -x "$bb" "$work/x-busybox"
    cp "$(find "$work/x-busybox" -name busybox -type f -perm -u+x | head -1)" "$stage/bin/busybox"
    rm -rf "$work/x-busybox"
    "$triplet-gcc" -static -O2 -Wall -o "$stage/heaptest" "$here/heaptest.c"
    "$triplet-strip" "$stage/heaptest"
    cp "$here/initramfs/init" "$stage/init"
    chmod 755 "$stage/init" "$stage/heaptest" "$stage/bin/busybox"
    mknod -m 600 "$stage/dev/console" c 5 1
    (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$initrd"
    echo "$hash" > "$initrd.hash"
}

# ---------------------------------------------------------------- device trees
# case_conf CASE ARCH -> sets MEM CMDLINE ARCHS (qemu.conf; ARCHS: where the case is recorded,
# default all three). RAM starts at 0x40000000 on arm64's and arm's virt machines and at
# 0x80000000 on riscv64's: for riscv64 a case's addresses below 0x80000000 are moved up by
# 0x40000000 (oracle/rebase.py), in the tree and in a cma=SIZE@BASE, unless the case gives its
# own fragment-riscv64.dtsi, CMDLINE_riscv64 and MEM_riscv64 (oracle/README.md, "Architectures").
case_conf() {
    MEM=1024 CMDLINE= ARCHS="arm64 arm riscv64"
    local v
    # shellcheck disable=SC1090
    [ -f "$cases_dir/$1/qemu.conf" ] && . "$cases_dir/$1/qemu.conf"
    if [ "${2:-arm64}" = riscv64 ]; then
        v=CMDLINE_riscv64
        if [ -n "${!v+x}" ]; then CMDLINE=${!v}
        elif [ -n "$CMDLINE" ]; then CMDLINE=$(echo "$CMDLINE" | python3 "$here/rebase.py" cmdline); fi
        v=MEM_riscv64
        [ -z "${!v:-}" ] || MEM=${!v}
    fi
    return 0
}
case_on() { case_conf "$1" "$2"; [[ " $ARCHS " == *" $2 "* ]]; } # CASE ARCH: recorded there?

case_fragment() { # CASE ARCH -> the fragment for ARCH on stdout (empty without one)
    local dir=$cases_dir/$1
    if [ -f "$dir/fragment-$2.dtsi" ]; then cat "$dir/fragment-$2.dtsi"
    elif [ -f "$dir/fragment.dtsi" ]; then
        if [ "$2" = riscv64 ]; then python3 "$here/rebase.py" dts < "$dir/fragment.dtsi"; else cat "$dir/fragment.dtsi"; fi
    fi
}

board_file() { # CASE ARCH -> the committed board tree (arm64's keeps its old name)
    if [ "$2" = arm64 ]; then echo "$cases_dir/$1/board.dts"; else echo "$cases_dir/$1/board-$2.dts"; fi
}

virt_dts() { # ARCH MEM -> path of QEMU's own virt tree as dts
    local mem=$2 out=$work/virt/$1/virt-$2
    arch_vars "$1"
    if [ ! -f "$out.dts" ]; then
        mkdir -p "$work/virt/$1"
        "${qemu_base[@]}" -m "$mem" -M virt,dumpdtb="$out.dtb" >/dev/null 2>&1
        # QEMU puts fresh random kaslr-seed and rng-seed values in every dump: drop them, so the
        # boards are reproducible (and KASLR stays off: physical placement does not depend on it)
        dtc -q -I dtb -O dts "$out.dtb" | grep -Ev '^[[:space:]]*(kaslr-seed|rng-seed) = ' > "$out.dts"
    fi
    echo "$out.dts"
}

# board.dts = QEMU's virt tree for MEM (or the case's tree.dts) + fragment.dtsi + /chosen bootargs
# exactly as QEMU passes them; /memreserve/ lines of the fragment go to the top.
make_board() { # CASE ARCH
    local c=$1 a=$2 dir=$cases_dir/$1 src tmp frag
    case_conf "$c" "$a"
    arch_vars "$a"
    tmp=$work/boards/$a/$c; mkdir -p "$tmp"
    if [ -f "$dir/tree.dts" ]; then src=$dir/tree.dts; else src=$(virt_dts "$a" "$MEM"); fi
    frag=$tmp/fragment.dtsi
    case_fragment "$c" "$a" > "$frag"
    {
        echo "/dts-v1/;"
        grep '^/memreserve/' "$frag" || true
        grep -v '^/dts-v1/;' "$src"
        grep -v '^/memreserve/' "$frag" || true
        printf '\n/ {\n\tchosen {\n\t\tbootargs = "%s";\n\t};\n};\n' "$base_cmdline${CMDLINE:+ $CMDLINE}"
    } > "$tmp/merged.dts"
    dtc -q -I dts -O dtb -o "$tmp/board.dtb" "$tmp/merged.dts"
    # riscv64's board file is written from the boot (board_from_boot)
    [ "$a" = riscv64 ] && return
    {
        echo "// Generated by oracle/record.sh from QEMU's $a virt tree (-m $MEM) and the case's fragment; do not edit."
        dtc -q -I dtb -O dts "$tmp/board.dtb"
    } > "$(board_file "$c" "$a")"
}

# riscv64: the tree OpenSBI handed the kernel, as the guest printed /sys/firmware/fdt (base64,
# section "=== fdt" of the boot log), without what changes from boot to boot (the initrd's place,
# random seeds). Taken from the first kernel in kernels.list order that printed a tree that
# parses (Debian's riscv64 kernel comes first: it has no CMA, so nothing hands the blob's memory
# to the page allocator before init reads it); another kernel's copy that differs is reported.
board_from_boot() { # CASE
    local c=$1 k log first= tmp=$work/boards/riscv64/$1 dts
    for k in "${kernel_ids[@]}"; do
        [ "$(cat "$work/kernels/$k/arch")" = riscv64 ] || continue
        log=$work/runs/$c/$k.log
        [ -f "$log" ] || continue
        dts=$tmp/seen-$k.dts
        sed -e 's/\r$//' "$log" | awk '$0 == "=== fdt" {on = 1; next} /^=== / {on = 0} on' | base64 -d 2>/dev/null > "$tmp/seen-$k.dtb" || true
        [ -s "$tmp/seen-$k.dtb" ] || continue
        # a copy that no longer parses was overwritten after boot (a CMA area over the blob:
        # docs/kernel-behaviour.md §11.4): another kernel's copy serves
        dtc -q -I dtb -O dts "$tmp/seen-$k.dtb" > "$dts.raw" 2>/dev/null || { say "$c: $k's copy of the tree does not parse"; continue; }
        grep -Ev '^[[:space:]]*(linux,initrd-start|linux,initrd-end|kaslr-seed|rng-seed) = ' "$dts.raw" > "$dts" || true
        if [ -z "$first" ]; then
            first=$k
            {
                echo "// Generated by oracle/record.sh: the tree the riscv64 kernel $k was given by OpenSBI (QEMU's virt tree for -m $MEM and the case's fragment, then OpenSBI's edits), read back from /sys/firmware/fdt; do not edit."
                cat "$dts"
            } > "$(board_file "$c" riscv64)"
        elif ! cmp -s "$dts" "$tmp/seen-$first.dts"; then
            say "WARNING: $c: the tree $k was given differs from $first's"
        fi
    done
    [ -n "$first" ] || say "WARNING: $c: no riscv64 boot printed its tree; no board-riscv64.dts"
}

# ---------------------------------------------------------------- boot one case on one kernel
boot_one() { # case kernel-id
    local c=$1 k=$2 log out a
    a=$(cat "$work/kernels/$k/arch")
    case_conf "$c" "$a"
    arch_vars "$a"
    out=$work/runs/$c; mkdir -p "$out" "$golden_dir/$c"
    log=$out/$k.log
    local rc=0
    timeout "${ORACLE_TIMEOUT:-90}" nice -n 10 "${qemu_base[@]}" -m "$MEM" \
        -kernel "$work/kernels/$k/Image" -initrd "$work/initrd-$a.cpio" -dtb "$work/boards/$a/$c/board.dtb" \
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
    while read -r id arch _; do
        case $id in ''|'#'*) continue;; esac
        [ -f "$work/kernels/$id/arch" ] && kernel_ids+=("$id")
    done < "$here/kernels.list"
    for d in "$work"/runs/*/; do
        c=$(basename "$d")
        if [ ${#only_cases[@]} -gt 0 ] && [[ " ${only_cases[*]} " != *" $c "* ]]; then continue; fi
        ls "$d"/*.log >/dev/null 2>&1 && case_on "$c" riscv64 && [ -d "$work/boards/riscv64/$c" ] && board_from_boot "$c"
    done
    exit 0
fi
need_tools
prepare_kernels
for a in "${archs[@]}"; do prepare_initrd "$a"; done
cases=()
if [ ${#only_cases[@]} -gt 0 ]; then cases=("${only_cases[@]}"); else
    for d in "$cases_dir"/*/; do d=${d%/}; [ -f "$d/fragment.dtsi" ] || [ -f "$d/tree.dts" ] && cases+=("${d##*/}"); done
fi
say "generating the board trees of ${#cases[@]} cases for ${archs[*]}"
runs=()
for c in "${cases[@]}"; do
    for a in "${archs[@]}"; do case_on "$c" "$a" && make_board "$c" "$a"; done
    for k in "${kernel_ids[@]}"; do case_on "$c" "$(cat "$work/kernels/$k/arch")" && runs+=("$c $k"); done
done
say "booting ${#runs[@]} case/kernel pairs (${jobs} at a time)"
export -f boot_one case_conf arch_vars
export work golden_dir cases_dir here
# Stopping record.sh stops its boots too: without this the xargs workers outlive it and go on
# writing golden files (a boot already running finishes under its own timeout, but nothing is
# written from it: the worker that would write is gone). The pipeline runs in the background so
# that the trap runs at once (bash defers traps while a foreground command runs).
trap 'trap - INT TERM; kill 0' INT TERM
printf '%s\n' "${runs[@]}" |
    xargs -P "$jobs" -L 1 bash -c 'boot_one "$0" "$1"' |
    tee "$work/last-run.txt" | awk '{n++} $0 !~ /booted$/ {print} END {print n " runs done"}' &
wait $!
trap - INT TERM
if [[ " ${archs[*]} " == *" riscv64 "* ]]; then
    for c in "${cases[@]}"; do case_on "$c" riscv64 && board_from_boot "$c"; done
fi
say "done: $(grep -c 'booted$' "$work/last-run.txt") booted, $(grep -c 'panic$' "$work/last-run.txt") panicked, $(grep -c 'timeout$' "$work/last-run.txt") timed out"
