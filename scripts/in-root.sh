#!/bin/sh
# Usage: in-root.sh ROOT COMMAND [ARG...]
# Runs COMMAND chrooted into ROOT with /proc mounted and, when APT_ARCHIVES names a directory,
# that directory as apt's download cache. It first moves itself into a private mount namespace,
# so these mounts exist only for the command and vanish with it, whatever happens to the caller:
# nothing is ever mounted on the host, and ROOT can always be deleted as a plain directory.
set -eu
if [ -z "${IN_ROOT_PRIVATE:-}" ]; then
  IN_ROOT_PRIVATE=1 exec unshare --mount --propagation private "$0" "$@"
fi
root=$1
shift
mount -t proc proc "$root/proc"
if [ -n "${APT_ARCHIVES:-}" ]; then
  mount --bind "$APT_ARCHIVES" "$root/var/cache/apt/archives"
fi
exec chroot "$root" "$@"
