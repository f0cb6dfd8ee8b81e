#!/bin/bash
# Usage: scripts/debian-root.sh SUITE [PACKAGE...]
# Prints the path of a tarball of a clean Debian SUITE root (bookworm, trixie…): debootstrap
# --variant=minbase with systemd, plus PACKAGEs when given. Made once and cached in
# $NETGWM_ROOT_CACHE (default /var/cache/netgwm-test) with apt's downloads, for the package build
# (debian/build-deb.sh compiles the native module in one) and the package test (which boots one).
# A root with PACKAGEs is made from the plain one. Concurrent callers wait for each other.
#
# The roots are ready to boot: the top directory is 0755 (D-Bus refuses a 0700 one) and there
# is no policy-rc.d (it is there only while packages are installed), so a booted root starts
# and stops services as a real system does.
set -euo pipefail

suite=${1:?usage: debian-root.sh SUITE [PACKAGE...]}
shift
packages=("$@")
cache=${NETGWM_ROOT_CACHE:-/var/cache/netgwm-test}
mirror=${NETGWM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# "-r2": roots from before were 0700 with a policy-rc.d; a new name leaves those to old checkouts.
base=$cache/$suite-minbase-systemd-r2.tar
if [ "${#packages[@]}" -gt 0 ]; then
	tarball=$cache/$suite-minbase-systemd-r2+$(IFS=+; echo "${packages[*]}").tar
else
	tarball=$base
fi
export APT_ARCHIVES=$cache/apt-archives
mkdir -p "$APT_ARCHIVES/partial"

# Runs "$@" with the scratch directory it made removed afterwards, whatever happens.
scratch=
cleanup() { [ -z "$scratch" ] || rm -rf --one-file-system "$scratch"; }
trap cleanup EXIT

# Installs packages into the root at $1 with apt, with the usual chroot guard against services
# starting meanwhile, which is removed again afterwards.
install_packages() {
	local root=$1
	shift
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	local env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C DEBIAN_FRONTEND=noninteractive)
	"$here/in-root.sh" "$root" "${env[@]}" apt-get update -q >&2
	"$here/in-root.sh" "$root" "${env[@]}" apt-get install -y -q --no-install-recommends "$@" >&2
	rm "$root/usr/sbin/policy-rc.d"
}

# Packs the root at $1 into $2, atomically.
pack() {
	chmod 755 "$1"
	rm -rf "$1/var/cache/apt/archives"
	mkdir -p "$1/var/cache/apt/archives/partial"
	tar -C "$1" -cf "$2.$$" .
	mv "$2.$$" "$2"
}

exec 9>"$cache/$suite.lock"
flock 9
if [ ! -e "$base" ]; then
	scratch=$(mktemp -d "$cache/build-XXXXXX")
	echo "debian-root: debootstrap $suite (once; cached in $cache)" >&2
	# Under unshare, the /proc and /sys that debootstrap mounts die with it, even if it is killed.
	unshare --mount --propagation private debootstrap --variant=minbase --include=systemd \
		--cache-dir="$APT_ARCHIVES" "$suite" "$scratch" "$mirror" >&2
	# What an installed system uses; debootstrap itself writes only the first line.
	printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
		"$mirror" "$suite" "$mirror" "$suite" "$mirror-security" "$suite" >"$scratch/etc/apt/sources.list"
	pack "$scratch" "$base"
	rm -rf --one-file-system "$scratch"
	scratch=
fi
if [ ! -e "$tarball" ]; then
	scratch=$(mktemp -d "$cache/build-XXXXXX")
	echo "debian-root: $suite with ${packages[*]} (once; cached in $cache)" >&2
	tar -C "$scratch" -xf "$base"
	cp /etc/resolv.conf "$scratch/etc/resolv.conf"
	install_packages "$scratch" "${packages[@]}"
	pack "$scratch" "$tarball"
fi
echo "$tarball"
