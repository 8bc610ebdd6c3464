#!/usr/bin/env bash
# The Debian packages as a user installs them (part of make test): `make deb` when the packages
# in BUILD/deb are not from this source tree, then apt-get install of all five into a fresh
# Debian 12 root and the tools, the service and the consumer example run there
# (tests/deb-install.sh says what exactly).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$(realpath "${1:-build}")
# Like chroot-run: in a plain chroot ("/" not a mount point) this test could not keep the
# nested root's mounts from the host, so it does not run there, and says so.
if [[ $(id -u) -eq 0 ]] && ! unshare --mount --propagation private true 2>/dev/null; then
  echo "deb-install: this make test runs in a plain chroot ('/' is not a mount point), where the nested"
  echo "deb-install: root's mounts could reach the host; not run here. scripts/fresh-root-test.sh is such a"
  echo "deb-install: chroot: the host's make test, which runs before it in CI, runs this group."
  exit 0
fi
exec tests/deb-install.sh "$build"
