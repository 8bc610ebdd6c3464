#!/usr/bin/env bash
# Installs libdmaheap from a dmaheap build into a scratch prefix, builds this example against
# the installed copy (CMake package and pkg-config, with and without the embedded component
# asked for), and runs it. Usage: build-and-run.sh BUILD_DIR
set -euo pipefail
build=$(realpath "${1:-build}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
export LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib/$(gcc -dumpmachine)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for with_embedded in OFF ON; do
  cmake -S "$here" -B "$work/build-$with_embedded" -DCMAKE_PREFIX_PATH="$work/prefix" -DWITH_EMBEDDED=$with_embedded >/dev/null
  cmake --build "$work/build-$with_embedded" >/dev/null
  "$work/build-$with_embedded/camera_frames"
  "$work/build-$with_embedded/c_consumer"
done
# pkg-config finds the same libraries.
pcdir=$(dirname "$(find "$work/prefix" -name dmaheap.pc)")
PKG_CONFIG_PATH=$pcdir pkg-config --exists dmaheap dmaheap-embedded
for pc in dmaheap dmaheap-embedded; do
  cc -o "$work/pc_consumer" "$here/c_consumer.c" $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs $pc)
  "$work/pc_consumer" >/dev/null
done
echo "libdmaheap-consumer: ok (CMake package and pkg-config, core and embedded component)"
