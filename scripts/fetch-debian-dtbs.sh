#!/bin/bash
# Fetch every board .dtb that Debian ships in its kernel image package for one architecture.
#
# usage: scripts/fetch-debian-dtbs.sh [DEST]        (default DEST: build/debian-dtbs in the repo,
#                                                    build/debian-dtbs-ARCH for another DEBIAN_ARCH)
# env:   DEBIAN_ARCH   (default arm64) arm64 (linux-image-arm64), armhf (linux-image-armmp, whose
#                      trees the armmp-lpae flavour shares) or riscv64 (linux-image-riscv64)
#        DEBIAN_SUITE  (default trixie)  which release's image metapackage to follow
#        DEBIAN_MIRROR (default http://deb.debian.org/debian)
#        DMAHEAP_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/dmaheap) apt state and .deb cache
#
# Nothing changes system-wide: apt runs with a private state directory, arm64 package lists and
# no dpkg status; the package is unpacked with dpkg-deb, not installed. The trees keep their
# vendor folders (DEST/arm/juno.dtb, DEST/rockchip/...). Running it again with the files in
# place does no network access and prints the same count.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
darch=${DEBIAN_ARCH:-arm64}
case $darch in
    arm64) flavour=arm64; dest=${1:-$repo/build/debian-dtbs} ;;
    armhf) flavour=armmp; dest=${1:-$repo/build/debian-dtbs-armhf} ;;
    riscv64) flavour=riscv64; dest=${1:-$repo/build/debian-dtbs-riscv64} ;;
    *) echo "fetch-debian-dtbs: DEBIAN_ARCH must be arm64, armhf or riscv64, not '$darch'" >&2; exit 1 ;;
esac
suite=${DEBIAN_SUITE:-trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${DMAHEAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dmaheap}
state=$cache/apt-$darch-$suite
stamp=$dest/.fetched-from

if [ -f "$stamp" ] && [ -z "${DEBIAN_DTBS_REFRESH:-}" ]; then
    echo "$(find "$dest" -name '*.dtb' | wc -l) .dtb files in $dest (from $(cat "$stamp"); cached)"
    exit 0
fi

for tool in apt-get dpkg-deb tar; do
    command -v "$tool" >/dev/null || { echo "fetch-debian-dtbs: $tool is missing" >&2; exit 1; }
done

mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs"
echo "deb $mirror $suite main" > "$state/sources.list"
apt=(-oAPT::Architecture=$darch -oAPT::Architectures::=$darch
     -oDir::State::Lists="$state/lists" -oDir::Cache="$state/cache"
     -oDir::State::status=/dev/null -oDir::Etc::sourcelist="$state/sources.list"
     -oDir::Etc::sourceparts=/nonexistent -oDebug::NoLocking=1 -oAPT::Sandbox::User=root)

if ! ls "$state"/lists/*_Packages* >/dev/null 2>&1 || [ -n "${DEBIAN_DTBS_REFRESH:-}" ]; then
    apt-get "${apt[@]}" update -q >/dev/null
fi

# linux-image-FLAVOUR is a metapackage; the dtbs are in the versioned image package it depends on
image=$(apt-cache "${apt[@]}" depends "linux-image-$flavour" 2>/dev/null |
        sed -n "s/^ *Depends: \(linux-image-[0-9][^ ]*-$flavour\)\$/\1/p" | head -1)
[ -n "$image" ] || { echo "fetch-debian-dtbs: no linux-image-$flavour in $suite ($darch)" >&2; exit 1; }
deb=$(ls "$state/debs/${image}_"*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
    echo "downloading $image ($suite, $darch)" >&2
    (cd "$state/debs" && apt-get "${apt[@]}" download -q "$image" >/dev/null)
    deb=$(ls "$state/debs/${image}_"*.deb | head -1)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards --wildcards-match-slash './usr/lib/linux-image-*/*.dtb'
src=$(ls -d "$tmp"/usr/lib/linux-image-* | head -1)
mkdir -p "$dest"
(cd "$src" && find . -name '*.dtb' -print0 | tar -c --null -T - -f -) | tar -x -C "$dest"
basename "$deb" > "$stamp"
echo "$(find "$dest" -name '*.dtb' | wc -l) .dtb files in $dest (from $(cat "$stamp"))"
