#!/bin/bash
# Build one minimal arm64 kernel from an unpacked Debian linux-source tree.
# usage: build-kernel.sh KERNEL-ID SRCDIR FRAGMENT...   (fragments are names in oracle/kconfig/)
# Output: $ORACLE_WORK/kernels/KERNEL-ID/{Image,config}; skipped when already built from the
# same fragments (the hash of the fragments is stored beside the Image).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${ORACLE_WORK:-$here/../build/oracle}
id=$1 src=$2; shift 2
out=$work/kbuild/$id
dest=$work/kernels/$id
mkdir -p "$out" "$dest"
frags=()
for f in "$@"; do frags+=("$here/kconfig/$f.config"); done
hash=$(cat "${frags[@]}" | sha256sum | cut -c1-16)
if [ -f "$dest/Image" ] && [ "$(cat "$dest/hash" 2>/dev/null)" = "$hash" ]; then
    echo "kernel $id: cached"; exit 0
fi
mk() { nice -n "${ORACLE_NICE:-19}" make -C "$src" O="$out" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- "$@"; }
start=$(date +%s)
mk -s allnoconfig
KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >/dev/null
mk -s olddefconfig
# every fragment line must have survived olddefconfig (a dependency missing would drop it)
bad=0
while read -r line; do
    case $line in ''|'#'*) continue;; esac
    sym=${line%%=*} val=${line#*=}
    if [ "$val" = n ]; then
        grep -q "^$sym=" "$out/.config" && { echo "kernel $id: $sym should be off" >&2; bad=1; }
    else
        grep -qx "$line" "$out/.config" || { echo "kernel $id: wanted $line, got: $(grep "^$sym=\|# $sym " "$out/.config")" >&2; bad=1; }
    fi
done < <(cat "${frags[@]}")
[ $bad = 0 ] || echo "kernel $id: warning: config differs from the fragments (see above)" >&2
mk -j"${ORACLE_JOBS:-2}" Image >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
cp "$out/arch/arm64/boot/Image" "$dest/Image"
cp "$out/.config" "$dest/config"
echo "$hash" > "$dest/hash"
echo "kernel $id: built in $(( $(date +%s) - start )) s" | tee "$dest/build-time"
