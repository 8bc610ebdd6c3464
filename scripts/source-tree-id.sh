#!/usr/bin/env bash
# Prints the git tree id of the working tree as it is now: tracked files with their uncommitted
# changes and untracked files that are not ignored (a scratch index; the repository's own index
# and HEAD are untouched). The same files give the same id.
set -euo pipefail
cd "$(dirname "$0")/.."
index=$(mktemp)
trap 'rm -f "$index"' EXIT
cp "$(git rev-parse --git-path index)" "$index"
GIT_INDEX_FILE=$index git add -A
GIT_INDEX_FILE=$index git write-tree
