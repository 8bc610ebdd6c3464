#!/usr/bin/env bash
# Installs libdmaheap from a dmaheap build into a scratch prefix, builds this example against
# the installed copy (CMake package and pkg-config), and runs it. Usage: build-and-run.sh BUILD_DIR
set -euo pipefail
build=$(realpath "${1:-build}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$here" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
export LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib/$(gcc -dumpmachine)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$work/build/camera_frames"
"$work/build/c_consumer"
# pkg-config finds the same library.
PKG_CONFIG_PATH=$(dirname "$(find "$work/prefix" -name dmaheap.pc)") pkg-config --exists dmaheap
cc -o "$work/pc_consumer" "$here/c_consumer.c" $(PKG_CONFIG_PATH=$(dirname "$(find "$work/prefix" -name dmaheap.pc)") pkg-config --cflags --libs dmaheap)
"$work/pc_consumer" >/dev/null
echo "libdmaheap-consumer: ok (CMake package and pkg-config)"
