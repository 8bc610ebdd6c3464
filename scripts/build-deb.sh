#!/usr/bin/env bash
# `make deb`: the Debian packages of debian/, built with dpkg-buildpackage from a clean copy of
# the source (the working tree's tracked and untracked, not ignored, files, taken through git so
# nothing of build/ or other build trees goes in), then checked with lintian.
#   scripts/build-deb.sh [OUT]     (default build/deb)
# OUT gets the .deb files (and in dbgsym/ the debug symbols; .buildinfo, .changes, the build
# log, lintian's output) and SOURCE-TREE: the git tree id of the source they were built from, which
# tests/deb-install.sh compares with the working tree's to decide whether to rebuild.
# Build dependencies: only those missing are installed (scripts/install-deps.sh).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$repo/build/deb}")
cd "$repo"
# The build's tools and debian/control's Build-Depends (kept the same names as the Makefile's
# PACKAGES); lintian for the check at the end.
scripts/install-deps.sh build-essential debhelper dpkg-dev lintian \
  $(sed -n '/^Build-Depends:/,/^[A-Z]/p' debian/control | sed '1s/^Build-Depends://;$d' |
    tr ',' '\n' | sed 's/(.*)//;s/#.*//;s/ //g' | grep -v -e '^$' -e '^debhelper-compat$')

tree=$(scripts/source-tree-id.sh)
source=$(dpkg-parsechangelog -S Source)
version=$(dpkg-parsechangelog -S Version)
work=$out/src
rm -rf "$out"
mkdir -p "$work/$source-$version"
git archive --format=tar "$tree" | tar -C "$work/$source-$version" -x

# Rebuilds of the same tree reuse objects (the build directory's path is the same each time).
if [[ -z ${CCACHE_DIR:-} ]] && command -v ccache >/dev/null; then
  CCACHE_DIR=$(ccache -k cache_dir)
  export CCACHE_DIR
fi
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$(nproc)"
echo "deb: dpkg-buildpackage -us -uc -b in $work/$source-$version (log: $out/build.log)"
start=$SECONDS
if ! (cd "$work/$source-$version" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
  tail -n 40 "$out/build.log"
  echo "deb: dpkg-buildpackage failed; full log in $out/build.log" >&2
  exit 1
fi
# lintian on what was built (the .changes: the five packages and their debug symbols): every
# tag shown (errors, warnings, info, pedantic) except those overridden with a reason in
# debian/*.lintian-overrides; a non-empty report fails.
# (Its own complaints, such as running as root, go to stderr, kept in lintian.stderr.)
lintian_rc=0
lintian --display-info --pedantic --fail-on error,warning,info,pedantic "$work"/*.changes \
  >"$out/lintian.txt" 2>"$out/lintian.stderr" || lintian_rc=$?
# Debug symbols apart, so that `apt install ./build/deb/*.deb` installs the five packages.
mkdir -p "$out/dbgsym"
mv "$work"/*-dbgsym_*.*deb "$out/dbgsym/" 2>/dev/null || true
mv "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
rm -rf "$work"
echo "deb: built in $((SECONDS - start)) s:"
for deb in "$out"/*.deb; do
  printf '  %-44s %8s bytes, installed %6s KiB\n' "$(basename "$deb")" "$(stat -c %s "$deb")" \
    "$(dpkg-deb -f "$deb" Installed-Size)"
done
if [[ $lintian_rc -ne 0 || -s $out/lintian.txt ]]; then
  cat "$out/lintian.txt" "$out/lintian.stderr"
  echo "deb: lintian exit $lintian_rc, tags above ($out/lintian.txt)" >&2
  exit 1
fi
echo "deb: lintian clean (--pedantic --display-info; overrides in debian/*.lintian-overrides)"
# Written last: the packages are only taken as built from this tree when lintian passed.
echo "$tree" >"$out/SOURCE-TREE"
