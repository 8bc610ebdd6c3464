#!/usr/bin/env bash
# The README's promise, checked: on a bare Debian 12 machine with only git and make, `make demo`
# and `make test` work. Builds a minbase Debian 12 root under build/fresh-root with debootstrap
# (the debootstrapped root is cached as a tarball outside the clone), adds git and make and
# nothing else, clones this repository's committed tree (HEAD) into it, and runs the README's two
# commands there as root, as a new user would. Ends with both commands' results.
#
#   scripts/fresh-root-test.sh [WORKDIR]      (default: build/fresh-root)
# env: FRESH_ROOT_SUITE   (default bookworm)
#      DEBIAN_MIRROR      (default http://deb.debian.org/debian)
#      DMAHEAP_CACHE      (default ${XDG_CACHE_HOME:-$HOME/.cache}/dmaheap) tarball, .deb cache and the
#                         host-kernel matrix's downloads (hostkernels/, bind-mounted into the root)
#      FRESH_ROOT_TARBALL_ONLY=1   only make sure the cached tarball exists, then print its path
#                         and the .deb cache's on two lines (tests/deb-install.sh)
#
# Needs root (debootstrap, chroot, mounts; sudo is used when not root). The root's /proc, /sys
# and /dev are bind-mounted inside a private mount namespace of this script, so nothing is left
# mounted on the host when it ends, however it ends. Downloaded .debs are kept in the cache, so a
# rerun fetches only package lists.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(realpath -m "${1:-$repo/build/fresh-root}")
suite=${FRESH_ROOT_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${DMAHEAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dmaheap}
bare_packages=git,make   # what the README says a bare machine needs (plus sudo when not root)
tarball=$cache/fresh-root-$suite-minbase-${bare_packages//,/-}-$(dpkg --print-architecture).tar.gz
debs=$cache/fresh-root-$suite-debs

if [[ $(id -u) -ne 0 ]]; then
  exec sudo --preserve-env=FRESH_ROOT_SUITE,DEBIAN_MIRROR,DMAHEAP_CACHE,FRESH_ROOT_TARBALL_ONLY "$0" "$work"
fi
if [[ ${FRESH_ROOT_INNER:-} != 1 ]]; then
  "$repo/scripts/install-deps.sh" debootstrap mount
  mkdir -p "$cache" "$debs"
  if [[ ! -s $tarball ]]; then
    echo "fresh-root: debootstrap --variant=minbase $suite (+ $bare_packages), cached in $tarball"
    start=$SECONDS
    tmp=$(mktemp -d "$cache/debootstrap.XXXXXX")
    if ! debootstrap --variant=minbase --include="$bare_packages" "$suite" "$tmp/root" "$mirror" >"$tmp/log" 2>&1; then
      tail -n 30 "$tmp/log"
      rm -rf "$tmp"
      exit 1
    fi
    rm -f "$tmp/root/var/cache/apt/archives/"*.deb
    tar -C "$tmp/root" --numeric-owner -czf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$tmp"
    echo "fresh-root: debootstrap took $((SECONDS - start)) s"
  fi
  if [[ ${FRESH_ROOT_TARBALL_ONLY:-} == 1 ]]; then
    printf '%s\n%s\n' "$tarball" "$debs"
    exit 0
  fi
  exec env FRESH_ROOT_INNER=1 unshare --mount --propagation private -- "$0" "$work"
fi

# From here on: inside our own mount namespace.
head=$(git -C "$repo" rev-parse --short HEAD)
root=$work/root
# Never delete through a mount: a leftover bind of /dev or /sys under $work would be followed.
if grep -qF " $work/" /proc/self/mountinfo; then
  echo "fresh-root: something is mounted under $work; unmount it first" >&2
  exit 1
fi
rm -rf "$work"
mkdir -p "$root"
tar -C "$root" --numeric-owner -xzf "$tarball"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
for d in proc sys dev; do mount --rbind "/$d" "$root/$d"; done
mount --bind "$debs" "$root/var/cache/apt/archives"
# The host-kernel matrix's downloads (Debian kernel packages, linux-source) are a cache like the
# .debs: shared with the root, so the tests there do not fetch them again (tests/hostkernels/run.sh).
mkdir -p "$cache/hostkernels" "$root/root/.cache/dmaheap/hostkernels"
mount --bind "$cache/hostkernels" "$root/root/.cache/dmaheap/hostkernels"
# The compiler cache likewise (README.md, "Build cache"): the root's g++ and clang are the same
# Debian packages as the host's, so its builds reuse the host's objects; what is tested there is
# that the README's commands work on a bare machine, not how long a first compile takes.
if command -v ccache >/dev/null; then
  ccache_dir=$(ccache -k cache_dir)
  mkdir -p "$ccache_dir" "$root/root/.cache/ccache"
  mount --bind "$ccache_dir" "$root/root/.cache/ccache"
fi
git clone -q "$repo" "$root/root/dmaheap"
git -C "$root/root/dmaheap" checkout -q "$head"

inside() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TERM=dumb LANG=C.UTF-8 /bin/bash -c "cd /root/dmaheap && $1"
}

echo "fresh-root: $suite minbase + $bare_packages, clone of $head; running make demo"
demo_rc=0 test_rc=0
start=$SECONDS
inside "make demo" >"$work/demo.log" 2>&1 || demo_rc=$?
demo_s=$((SECONDS - start))
echo "fresh-root: make demo: exit $demo_rc ($demo_s s)"
tail -n 5 "$work/demo.log" | sed 's/^/  demo | /'
echo "fresh-root: running make test"
start=$SECONDS
inside "make test" >"$work/test.log" 2>&1 || test_rc=$?
test_s=$((SECONDS - start))
grep -E '^=== .*: (ok|FAILED)' "$work/test.log" | sed 's/^/  test | /' || true
result=$(tail -n 1 "$work/test.log")
echo "fresh-root: make test: exit $test_rc ($test_s s): $result"
if [[ $test_rc -ne 0 ]]; then
  echo "fresh-root: the failing groups' output is in $work/test.log"
  grep -E '^failed: ' "$work/test.log" || true
fi
[[ $demo_rc -eq 0 && $test_rc -eq 0 && $result =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
