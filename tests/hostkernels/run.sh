#!/usr/bin/env bash
# The host-kernel matrix (docs/host-kernels.md): Debian's stock amd64 kernels booted under
# qemu-system-x86_64 (TCG), each with Debian's vgem module and its DRM dependencies from the same
# package, running this build's dmaheap, dmaheapd, conformance programs, the kernel's
# dmabuf-heaps selftest (built here from Debian's linux-source) and tests/hostkernels/dmabuf-probe.c
# for every backing dmaheap offers in the guest.
#
# usage: tests/hostkernels/run.sh [-k 6.1,6.12] [--no-install] [BUILD] [-- EXTRA-PROGRAM...]
#   BUILD            the CMake build tree with dmaheap, dmaheapd and the conformance programs
#                    (default build)
#   EXTRA-PROGRAM    static programs to run in each guest under `dmaheap run`, once per backing
# Prints one "KERNEL: N passed, N failed" line per kernel; exits 1 on any failure, 2 when it
# could not run (a download or a tool missing: it says which).
#
# Environment:
#   HOSTKERNELS_CACHE    downloads and what is derived from them only (apt state, .debs, unpacked
#                        kernels and modules, the selftest headers): default $DMAHEAP_CACHE/hostkernels
#                        (DMAHEAP_CACHE as for scripts/fresh-root-test.sh: ~/.cache/dmaheap),
#                        shared by clones
#   HOSTKERNELS_WORK     initramfs and console logs (default BUILD/hostkernels)
#   HOSTKERNELS_TIMEOUT  seconds per guest (default 1500)
#   HOSTKERNELS_TEST_TIMEOUT  seconds per test inside a guest (default 600)
#   HOSTKERNELS_JOBS     guests at a time (default 2)
#   DEBIAN_MIRROR        as for oracle/apt.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
only=
install=1
build=
extra=()
while [ $# -gt 0 ]; do
    case $1 in
    -k) only=$2; shift 2;;
    --no-install) install=0; shift;;
    -h|--help) sed -n "2,24p" "$0"; exit 0;;
    --) shift; extra=("$@"); break;;
    -*) echo "hostkernels: unknown option $1" >&2; exit 2;;
    *) build=$1; shift;;
    esac
done
build=$(cd "${build:-$repo/build}" && pwd)
cache=${HOSTKERNELS_CACHE:-${DMAHEAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dmaheap}/hostkernels}
out=${HOSTKERNELS_WORK:-$build/hostkernels}
guest_timeout=${HOSTKERNELS_TIMEOUT:-1500}
test_timeout=${HOSTKERNELS_TEST_TIMEOUT:-600}
jobs=${HOSTKERNELS_JOBS:-2}
mkdir -p "$cache" "$out"
cache=$(cd "$cache" && pwd)
out=$(cd "$out" && pwd)
t0=$(date +%s)
say() { echo "[hostkernels +$(( $(date +%s) - t0 ))s] $*" >&2; }
die() { echo "hostkernels: not run: $*" >&2; exit 2; }

# kernel-id, Debian suite. The image package is whatever linux-image-amd64 depends on there.
KERNELS=("6.1 bookworm" "6.12 trixie")
SOURCE_PKG=linux-source-6.12    # the selftest's source (trixie)

# ---------------------------------------------------------------- host tools
need=()
for p in qemu-system-x86 cpio xz-utils binutils; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    [ $install = 1 ] || die "missing packages: ${need[*]} (scripts/install-deps.sh ${need[*]})"
    "$repo/scripts/install-deps.sh" "${need[@]}" >&2 || die "could not install ${need[*]}"
fi
for b in dmaheap dmaheapd dmaheap-conformance dmaheap-conformance-static dmaheap-conformance-lib; do
    [ -x "$build/$b" ] || die "no $build/$b (build the tree first: cmake --build $build)"
done
# The tools go in static where the build has their static twins (DMAHEAP_STATIC_TOOLS).
tool() { if [ -x "$build/$1-static" ]; then echo "$build/$1-static"; else echo "$build/$1"; fi; }

# ---------------------------------------------------------------- downloads (oracle/apt.sh)
# shellcheck disable=SC2034  # oracle/apt.sh keeps its apt state and .debs under $work
work=$cache
# shellcheck source=oracle/apt.sh
. "$repo/oracle/apt.sh"
fetch() { # like fetch_deb, but a failure stops the matrix with the reason
    local deb
    deb=$(fetch_deb "$1" 2>"$out/fetch.err") && [ -f "$deb" ] ||
        die "could not download $1 from ${DEBIAN_MIRROR:-http://deb.debian.org/debian}: $(tail -n 2 "$out/fetch.err" | tr '\n' ' ')"
    echo "$deb"
}

# A module's dependencies, from its .modinfo (the packages ship no modules.dep: depmod makes it
# at install time). Sets mod_path[name] for every module of the tree on first use.
declare -A mod_path
index_modules() { # DIR
    mod_path=()
    local f n
    while IFS= read -r f; do
        n=${f##*/}; n=${n%%.ko*}; n=${n//-/_}
        mod_path[$n]=$f
    done < <(find "$1" -name '*.ko' -o -name '*.ko.xz')
}
plain_ko() { # FILE DEST
    case $1 in *.xz) xz -dc "$1" > "$2";; *) cp "$1" "$2";; esac
}
declare -A mod_seen
mod_order=()
resolve() { # NAME: appends NAME's dependencies, then NAME, to mod_order
    local n=${1//-/_} dep tmp
    [ -n "${mod_seen[$n]:-}" ] && return
    mod_seen[$n]=1
    [ -n "${mod_path[$n]:-}" ] || die "module $n not in the kernel package"
    tmp=$(mktemp)
    plain_ko "${mod_path[$n]}" "$tmp"
    for dep in $(objcopy -O binary -j .modinfo "$tmp" /dev/stdout | tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '); do
        resolve "$dep"
    done
    rm -f "$tmp"
    mod_order+=("$n")
}

# $cache/kernels/ID/{vmlinuz,config,package,modules/NN-name.ko,modules/order}
prepare_kernel() { # ID SUITE
    local id=$1 suite=$2 pkg dest=$cache/kernels/$1 deb x i m
    pkg=$(debian_image_pkg "$suite" amd64 2>"$out/fetch.err") && [ -n "$pkg" ] ||
        die "could not find linux-image-amd64 in $suite: $(tail -n 2 "$out/fetch.err" | tr '\n' ' ')"
    if [ -f "$dest/package" ] && [ "$(cat "$dest/package")" = "$pkg" ]; then return; fi
    deb=$(fetch "$pkg")
    say "$id: unpacking $(basename "$deb")"
    x=$cache/x-$id
    rm -rf "$x" "$dest"; mkdir -p "$x" "$dest/modules"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" --wildcards './boot/*' '*/kernel/*'
    cp "$x"/boot/vmlinuz-* "$dest/vmlinuz"
    cp "$x"/boot/config-* "$dest/config"
    index_modules "$x"
    mod_seen=(); mod_order=()
    resolve vgem
    # udmabuf: built in on Debian's 6.12 (CONFIG_UDMABUF=y), absent on 6.1; loaded if a module.
    if grep -q '^CONFIG_UDMABUF=m' "$dest/config"; then resolve udmabuf; fi
    i=10
    for m in "${mod_order[@]}"; do
        plain_ko "${mod_path[$m]}" "$dest/modules/$i-$m.ko"
        echo "$i-$m.ko" >> "$dest/modules/order"
        i=$((i + 1))
    done
    rm -rf "$x"
    echo "$pkg" > "$dest/package"
}

# The kernel's dmabuf-heaps selftest and our probe, built against the uapi headers of
# linux-source (make headers), never kept in the repository: $cache/selftest/<version>/.
prepare_programs() {
    local deb ver dir x
    deb=$(fetch "$SOURCE_PKG")
    ver=$(dpkg-deb -f "$deb" Version)
    dir=$cache/selftest/$ver
    if [ ! -f "$dir/usr/include/linux/dma-heap.h" ] || [ ! -f "$dir/dmabuf-heap.c" ]; then
        say "unpacking $(basename "$deb") (uapi headers and the dmabuf-heaps selftest)"
        x=$cache/x-source
        rm -rf "$x" "$dir"; mkdir -p "$x/src" "$dir"
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" --wildcards './usr/src/linux-source-*.tar.xz'
        local top; top=$(basename "$x"/usr/src/linux-source-*.tar.xz .tar.xz)
        tar -C "$x/src" --strip-components=1 -xf "$x"/usr/src/"$top".tar.xz --wildcards \
            "$top/Makefile" "$top/scripts/*" "$top/include/*" "$top/arch/x86/*" "$top/tools/include/*" \
            "$top/tools/arch/x86/*" "$top/tools/scripts/*" "$top/tools/testing/selftests/dmabuf-heaps/*" \
            "$top/tools/testing/selftests/kselftest*"
        make -s -C "$x/src" ARCH=x86 headers >"$out/headers.log" 2>&1 || die "make headers failed (see $out/headers.log)"
        mkdir -p "$dir/usr"
        cp -r "$x/src/usr/include" "$dir/usr/"
        cp "$x/src/tools/testing/selftests/dmabuf-heaps/dmabuf-heap.c" "$dir/"
        cp "$x/src/tools/testing/selftests/kselftest.h" "$dir/"
        rm -rf "$x"
    fi
    local bin=$out/bin
    mkdir -p "$bin"
    # The selftest includes "../kselftest.h": give it that layout.
    mkdir -p "$out/st/dmabuf-heaps"
    cp "$dir/kselftest.h" "$out/st/"
    cp "$dir/dmabuf-heap.c" "$out/st/dmabuf-heaps/"
    gcc -static -O2 -Wall -isystem "$dir/usr/include" -o "$bin/dmabuf-heap" "$out/st/dmabuf-heaps/dmabuf-heap.c"
    gcc -static -O2 -Wall -Wextra -Werror -isystem "$dir/usr/include" -o "$bin/dmabuf-probe" "$here/dmabuf-probe.c"
    source_ver=$ver
}

# ---------------------------------------------------------------- initramfs
copy_libs() { # STAGE FILE...: the shared libraries FILE needs, at their host paths
    local stage=$1 lib; shift
    for lib in $(ldd "$@" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
        case $lib in "$build"/*) continue;; esac
        mkdir -p "$stage$(dirname "$lib")"
        [ -f "$stage$lib" ] || cp -L "$lib" "$stage$lib"
    done
}
prepare_initrd() { # ID: $out/ID.cpio
    local id=$1 stage=$out/stage-$1 bb f
    rm -rf "$stage"; mkdir -p "$stage"/{bin,dev,hk/bin,hk/lib,hk/extra,modules}
    bb=$(fetch busybox-static:amd64)
    rm -rf "$out/x-busybox"; mkdir -p "$out/x-busybox"
    dpkg -x "$bb" "$out/x-busybox"
    cp "$(find "$out/x-busybox" -name busybox -type f -perm -u+x | head -1)" "$stage/bin/busybox"
    rm -rf "$out/x-busybox"
    cp "$here/init" "$stage/init"
    for f in dmaheap dmaheapd; do
        strip --strip-debug -o "$stage/hk/bin/$f" "$(tool "$f")"
    done
    for f in dmaheap-conformance dmaheap-conformance-static dmaheap-conformance-lib; do
        strip --strip-debug -o "$stage/hk/bin/$f" "$build/$f"
    done
    for f in "$build"/libdmaheap.so.[0-9] "$build"/libdmaheap-embedded.so.[0-9]; do
        [ -e "$f" ] && strip --strip-debug -o "$stage/hk/lib/${f##*/}" "$(readlink -f "$f")"
    done
    # libdmaheap dlopens its embedded component: ldd of the component too.
    local linked=
    for f in "$stage"/hk/bin/*; do
        if readelf -l "$f" | grep -q 'program interpreter'; then linked="$linked ${f##*/}"; else linked="$linked ${f##*/}(static)"; fi
    done
    say "$id initramfs:$linked"
    copy_libs "$stage" "$(tool dmaheap)" "$(tool dmaheapd)" "$build/dmaheap-conformance" \
        "$build/dmaheap-conformance-lib" "$build"/libdmaheap-embedded.so.[0-9]
    cp "$out/bin/dmabuf-heap" "$out/bin/dmabuf-probe" "$stage/hk/bin/"
    for f in "${extra[@]}"; do cp "$f" "$stage/hk/extra/"; done
    cp "$cache/kernels/$id/modules/"* "$stage/modules/"
    chmod 755 "$stage/init" "$stage/bin/busybox"
    mknod -m 600 "$stage/dev/console" c 5 1
    (cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$out/$id.cpio"
    rm -rf "$stage"
}

# ---------------------------------------------------------------- boot and report
boot() { # ID: $out/ID.log
    local id=$1 start; start=$(date +%s)
    # TCG: no KVM here. Kernel messages stay off the console (init sets printk 1).
    nice -n 10 timeout "$guest_timeout" qemu-system-x86_64 -M q35 -cpu max -smp 1 -m 1024 -nographic \
        -no-reboot -nic none -kernel "$cache/kernels/$id/vmlinuz" -initrd "$out/$id.cpio" \
        -append "console=ttyS0 panic=-1 quiet hk.timeout=$test_timeout" </dev/null >"$out/$id.log" 2>&1 || true
    echo $(( $(date +%s) - start )) > "$out/$id.seconds"
}
report() { # ID: one summary line; returns 1 on any failure
    local id=$1 log=$out/$1.log pkg passed failed
    pkg=$(cat "$cache/kernels/$id/package")
    tr -d '\r' < "$log" > "$log.txt"
    passed=$(grep -c '^HK-RESULT pass ' "$log.txt" || true)
    failed=$(grep -c '^HK-RESULT fail ' "$log.txt" || true)
    grep '^HK-RESULT fail \|^HK-LOG ' "$log.txt" | sed "s/^HK-RESULT fail /$id: FAIL /; s/^HK-LOG /$id:     /" || true
    if ! grep -q '^HK-END' "$log.txt"; then
        failed=$((failed + 1))
        echo "$id: FAIL the guest did not finish (panic or timeout after ${guest_timeout}s); console: $log"
        tail -n 15 "$log.txt" | sed "s/^/$id:     /"
    fi
    echo "$id (${pkg%%:*} ${pkg##*=}, $(cat "$out/$id.seconds") s): $passed passed, $failed failed"
    [ "$failed" = 0 ]
}

# ID: the frame costs' medians over the rounds, and each one's ratio to the same on a dma-buf the
# kernel made natively: its heap's, or for the udmabuf and vgem backings the SYNC pair on a buffer
# of theirs (the native run's udmabuf-* and vgem-* rows).
costs() {
    local id=$1
    # A guest that printed no cost lines (it stopped early) gets no table; grep's status must not
    # end the script under pipefail before the other kernels are reported.
    { grep '^HK-COST ' "$out/$id.log.txt" || true; } | awk -v id="$id" '
        { key = $3 SUBSEP $4; n[key]++; v[key, n[key]] = $5
          if (!($3 in seen_w)) { seen_w[$3] = 1; whos[++nw] = $3 }
          if (!($4 in seen_m)) { seen_m[$4] = 1; names[++nm] = $4 }
          rounds = $2 > rounds ? $2 : rounds }
        function med(key,   i, j, t, c) {
            c = n[key]
            for (i = 1; i <= c; i++) a[i] = v[key, i]
            for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            return a[int((c + 1) / 2)]
        }
        END {
            if (nw == 0) exit
            printf "%s frame costs, median of %d interleaved rounds, microseconds%s:\n", id, rounds,
                ("native" in seen_w) ? " (x: times the same natively)" : ""
            printf "  %-22s", ""; for (w = 1; w <= nw; w++) printf " %18s", whos[w]; printf "\n"
            for (m = 1; m <= nm; m++) {
                printf "  %-22s", names[m]
                for (w = 1; w <= nw; w++) {
                    key = whos[w] SUBSEP names[m]
                    ref = "native" SUBSEP whos[w] "-" names[m]
                    if (!(ref in n)) ref = "native" SUBSEP names[m]
                    base = ref in n ? med(ref) : 0
                    if (!(key in n)) { printf " %18s", "-"; continue }
                    x = med(key)
                    cell = sprintf("%.1f", x / 1000)
                    if (base > 0 && whos[w] != "native") cell = cell sprintf(" (%.1fx)", x / base)
                    printf " %18s", cell
                }
                printf "\n"
            }
            # The targets of docs/host-kernels.md ("Costs"): with the guest kernel'"'"'s own system heap
            # behind dmaheap run (backing host-heap), ALLOC 4 KiB within 5x of the native ALLOC,
            # 16 MiB within 1.2x, and the SYNC pair within 1.2x (a real dma-buf needs no trap).
            if (("host-heap" SUBSEP "alloc-4k") in n) {
                printf "  targets (dmaheap run --backing host-heap against native):\n"
                target("alloc-4k", 5); target("alloc-16m", 1.2); target("sync-pair-1m", 1.2)
            }
        }
        function target(name, limit,   x, b) {
            if (!(("host-heap" SUBSEP name) in n) || !(("native" SUBSEP name) in n)) {
                printf "    %-14s <= %.1fx: not measured\n", name, limit; return
            }
            x = med("host-heap" SUBSEP name); b = med("native" SUBSEP name)
            printf "    %-14s %.2fx  <= %.1fx  %s\n", name, x / b, limit, (x / b <= limit) ? "met" : "missed"
        }' > "$out/$id.costs"
    cat "$out/$id.costs"
}

ids=()
for k in "${KERNELS[@]}"; do
    read -r id suite <<<"$k"
    if [ -n "$only" ] && [[ ",$only," != *",$id,"* ]]; then continue; fi
    ids+=("$id")
done
[ ${#ids[@]} -gt 0 ] || die "no kernel matches -k $only (known: 6.1, 6.12)"
for f in "${extra[@]}"; do [ -x "$f" ] || die "extra program $f is not an executable file"; done

apt_state 2>"$out/fetch.err" || die "apt-get update failed: $(tail -n 2 "$out/fetch.err" | tr '\n' ' ')"
for k in "${KERNELS[@]}"; do
    read -r id suite <<<"$k"
    [[ " ${ids[*]} " == *" $id "* ]] && prepare_kernel "$id" "$suite"
done
prepare_programs
for id in "${ids[@]}"; do prepare_initrd "$id"; done
say "booting ${ids[*]} (selftest from $SOURCE_PKG $source_ver, $jobs at a time)"
running=0
for id in "${ids[@]}"; do
    boot "$id" &
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait
status=0
for id in "${ids[@]}"; do
    report "$id" || status=1
    costs "$id"
    sed -n 's/^HK-FACT //p' "$out/$id.log.txt" > "$out/$id.facts"
done
say "done; console logs and facts in $out/<kernel>.log, $out/<kernel>.facts"
exit $status
