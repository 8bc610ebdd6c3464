#!/bin/bash
# Fetch every board .dtb that Debian ships in its arm64 kernel image package.
#
# usage: scripts/fetch-debian-dtbs.sh [DEST]        (default DEST: build/debian-dtbs in the repo)
# env:   DEBIAN_SUITE  (default trixie)  which release's linux-image-arm64 to follow
#        DEBIAN_MIRROR (default http://deb.debian.org/debian)
#        DMAHEAP_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/dmaheap) apt state and .deb cache
#
# Nothing changes system-wide: apt runs with a private state directory, arm64 package lists and
# no dpkg status; the package is unpacked with dpkg-deb, not installed. The trees keep their
# vendor folders (DEST/arm/juno.dtb, DEST/rockchip/...). Running it again with the files in
# place does no network access and prints the same count.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$repo/build/debian-dtbs}
suite=${DEBIAN_SUITE:-trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${DMAHEAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dmaheap}
state=$cache/apt-arm64-$suite
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
apt=(-oAPT::Architecture=arm64 -oAPT::Architectures::=arm64
     -oDir::State::Lists="$state/lists" -oDir::Cache="$state/cache"
     -oDir::State::status=/dev/null -oDir::Etc::sourcelist="$state/sources.list"
     -oDir::Etc::sourceparts=/nonexistent -oDebug::NoLocking=1 -oAPT::Sandbox::User=root)

if ! ls "$state"/lists/*_Packages* >/dev/null 2>&1 || [ -n "${DEBIAN_DTBS_REFRESH:-}" ]; then
    apt-get "${apt[@]}" update -q >/dev/null
fi

# linux-image-arm64 is a metapackage; the dtbs are in the versioned image package it depends on
image=$(apt-cache "${apt[@]}" depends linux-image-arm64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-arm64\)$/\1/p' | head -1)
[ -n "$image" ] || { echo "fetch-debian-dtbs: no linux-image-arm64 in $suite" >&2; exit 1; }
deb=$(ls "$state/debs/${image}_"*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
    echo "downloading $image ($suite, arm64)" >&2
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
