#!/bin/bash
# Build one minimal kernel for QEMU's virt machine from an unpacked Debian linux-source tree.
# usage: build-kernel.sh KERNEL-ID ARCH SRCDIR FRAGMENT...
#   ARCH: arm64, arm or riscv64 (the cross compiler of oracle/apt.sh's cross_toolchain must be on
#   PATH); fragments are names in oracle/kconfig/
# Output: $ORACLE_WORK/kernels/KERNEL-ID/{Image,config}; skipped when already built from the
# same fragments (the hash of the fragments is stored beside the Image).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${ORACLE_WORK:-$here/../build/oracle}
id=$1 arch=$2 src=$3; shift 3
case $arch in
arm64)   karch=arm64 cross=aarch64-linux-gnu- target=Image;;
arm)     karch=arm   cross=arm-linux-gnueabihf- target=zImage;;
riscv64) karch=riscv cross=riscv64-linux-gnu- target=Image;;
*) echo "build-kernel.sh: unknown architecture $arch" >&2; exit 2;;
esac
out=$work/kbuild/$id
dest=$work/kernels/$id
mkdir -p "$out" "$dest"
frags=()
for f in "$@"; do frags+=("$here/kconfig/$f.config"); done
hash=$( (echo "$arch"; cat "${frags[@]}") | sha256sum | cut -c1-16)
if [ -f "$dest/Image" ] && [ "$(cat "$dest/hash" 2>/dev/null)" = "$hash" ]; then
    echo "kernel $id: cached"; exit 0
fi
mk() { nice -n "${ORACLE_NICE:-19}" make -C "$src" O="$out" ARCH=$karch CROSS_COMPILE=$cross "$@"; }
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
mk -j"${ORACLE_JOBS:-2}" "$target" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
cp "$out/arch/$karch/boot/$target" "$dest/Image"
cp "$out/.config" "$dest/config"
echo "$hash" > "$dest/hash"
echo "kernel $id: built in $(( $(date +%s) - start )) s" | tee "$dest/build-time"
