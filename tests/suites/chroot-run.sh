#!/usr/bin/env bash
# `dmaheap run` inside a plain chroot, where "/" is not a mount point (as in pbuilder, sbuild's
# plain chroots and many CI jobs). Two chroots built here: one with /dev bind-mounted into it,
# one whose /dev is a plain directory with a few bound device files. In each, the static
# conformance program must pass under `dmaheap run`, and none of the mounts `dmaheap run` makes
# (its tmpfs on /dev is called "dmaheap-dev") may show up outside its own mount namespace.
#
# Everything happens in a private mount namespace of this script (as root: `unshare --mount`;
# otherwise a user namespace where we are root, `unshare --user --map-root-user --mount`), so the
# host's mounts never change. The chroot's own filesystem is a tmpfs made *shared*, so a mount
# that leaked out of `dmaheap run`'s namespace would propagate into ours and be seen.
#   tests/suites/chroot-run.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
for f in dmaheap dmaheap-conformance-static; do
  [[ -x $build/$f ]] || { echo "chroot-run: build $build/$f first"; exit 1; }
done

if [[ ${CHROOT_RUN_INNER:-} != 1 ]]; then
  # Inside a plain chroot ("/" not a mount point, as in scripts/fresh-root-test.sh) this script
  # cannot make its own namespace private, so its test mounts could reach the host: it does not
  # run them. `dmaheap run` in that very chroot is what the conformance suite runs there.
  if [[ $(id -u) -eq 0 ]] && ! unshare --mount --propagation private true 2>/dev/null; then
    echo "chroot-run: this make test itself runs in a plain chroot ('/' is not a mount point), where the"
    echo "chroot-run: test cannot keep its own mounts from the host; not run here. The conformance suite runs"
    echo "chroot-run: dmaheap run in this chroot instead (its '/' is not a mount point either)."
    exit 0
  fi
  if [[ $(id -u) -eq 0 ]]; then
    exec env CHROOT_RUN_INNER=1 unshare --mount --propagation private -- "$0" "$build"
  fi
  exec env CHROOT_RUN_INNER=1 unshare --user --map-root-user --mount --propagation private -- "$0" "$build"
fi

work=$(mktemp -d /tmp/dmaheap-chroot.XXXXXX)
mount -t tmpfs -o mode=755 dmaheap-test-root "$work"
mount --make-shared "$work"
status=0

# A root holding only what the test needs: the system's /usr (merged-/usr Debian: /bin, /lib,
# /lib64, /sbin are links into it), /etc, /proc, a tmpfs /tmp, and the build tree at its own path
# (its binaries carry absolute RPATHs).
make_root() {
  local root=$1
  mkdir -p "$root"/{usr,etc,proc,tmp,dev}
  for l in bin lib lib64 sbin; do [[ -L /$l ]] && ln -s "$(readlink /$l)" "$root/$l"; done
  mount --rbind /usr "$root/usr"
  mount --rbind /etc "$root/etc"
  mount --rbind /proc "$root/proc"
  mount -t tmpfs tmpfs "$root/tmp"
  # After /tmp: the build tree may live below /tmp (a clone in /tmp).
  mkdir -p "$root$build"
  mount --bind "$build" "$root$build"
}

# One case: runs the conformance program under `dmaheap run` in the chroot and, while it runs,
# counts dmaheap-dev mounts in this script's namespace (must be 0) and in the program's (>= 1).
check_case() {
  local name=$1 root=$2
  local out rc=0
  out=$(chroot "$root" /bin/sh -c "
      $build/dmaheap run -- /bin/sh -c '
        $build/dmaheap-conformance-static | tail -n 1
        echo inside: \$(grep -c \" dmaheap-dev \" /proc/self/mountinfo)
        echo outside: \$(grep -c \" dmaheap-dev \" /proc/$$/mountinfo)
        ls /dev/dma_heap | tr \"\\n\" \" \"; echo'" 2>&1) || rc=$?
  local last inside outside
  last=$(printf '%s\n' "$out" | sed -n 1p)
  inside=$(printf '%s\n' "$out" | sed -n 's/^inside: //p')
  outside=$(printf '%s\n' "$out" | sed -n 's/^outside: //p')
  if [[ $rc -eq 0 && $last =~ ^[0-9]+\ passed,\ 0\ failed$ && ${inside:-0} -ge 1 && $outside == 0 ]]; then
    echo "chroot-run ($name): $last; /dev/dma_heap: $(printf '%s\n' "$out" | sed -n 4p)"
  else
    echo "chroot-run ($name): FAILED (exit $rc, dmaheap-dev mounts inside ${inside:-?}, outside ${outside:-?})"
    printf '%s\n' "$out" | tail -n 20
    status=1
  fi
  # And after it: nothing left behind in our namespace either.
  if grep -q ' dmaheap-dev ' /proc/self/mountinfo; then
    echo "chroot-run ($name): a dmaheap-dev mount is left in the outer namespace"
    status=1
  fi
}

# Case 1: /dev bind-mounted into the chroot (schroot, the fresh-root test).
make_root "$work/bound"
mount --rbind /dev "$work/bound/dev"
check_case "/dev bind-mounted, / not a mount point" "$work/bound"

# Case 2: /dev a plain directory of the chroot's own filesystem (pbuilder): only bound files.
make_root "$work/plain"
for node in null zero full random urandom tty; do
  touch "$work/plain/dev/$node"
  mount --bind "/dev/$node" "$work/plain/dev/$node"
done
check_case "/dev a plain directory, / not a mount point" "$work/plain"

umount --recursive --lazy "$work" 2>/dev/null || true
rmdir "$work" 2>/dev/null || true
exit $status
