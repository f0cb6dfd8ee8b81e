#!/bin/bash
# Builds netgwm's .deb from the working tree as it is (committed or not) in a staging copy, so
# the repository itself is never cleaned or written into, then runs lintian on it.
# Output: .cache/deb/ (git ignores it), or $NETGWM_DEB_OUT. Prints the .deb's path last.
#
# The package is for one Debian suite, $NETGWM_DEB_SUITE: bookworm (Debian 12, the default) or
# trixie (Debian 13). raw-socket's native module (raw.node) must load in that suite's nodejs, so
# it is compiled in a clean root of that suite by its own nodejs and node-gyp, as Debian's build
# daemons would (the root is debootstrapped once and cached, see scripts/debian-root.sh).
# NETGWM_DEB_SUITE= (empty) compiles it with the Node that runs the build instead: for building
# on the target system itself.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${NETGWM_DEB_OUT:-$repo/.cache/deb}
version=$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
stage=$out/netgwm-$version
suite=${NETGWM_DEB_SUITE-bookworm}
# What compiling raw.node takes in the suite's root; dpkg-dev for the hardening flags.
build_root_packages=(nodejs node-gyp g++ make python3 dpkg-dev)

if [ ! -d "$repo/node_modules" ]; then
	echo "build-deb: $repo/node_modules is missing; run npm ci first (the build needs tsc)" >&2
	exit 1
fi

rm -rf "$stage" "$out"/netgwm*_"$version"_*
mkdir -p "$stage"
# The files git tracks or would track, as they are now: no node_modules, dist or old builds.
git -C "$repo" ls-files -z --cached --others --exclude-standard |
	tar -C "$repo" --null --files-from=- --ignore-failed-read -cf - |
	tar -C "$stage" -xf -
ln -s "$repo/node_modules" "$stage/node_modules"

# raw.node for $suite's nodejs, compiled from the raw-socket (and nan) that package-lock.json
# pins, in a fresh copy of the suite's build root; debian/rules ships it ($NETGWM_RAW_NODE). It is
# kept beside the root's tarball, under a key of everything it is made from, for the next build.
compile_raw_node() {
	local tarball=$1 into=$2 root
	root=$(mktemp -d "$out/root-XXXXXX")
	trap 'rm -rf --one-file-system "$root"' EXIT
	tar -C "$root" -xf "$tarball"
	mkdir "$root/build"
	cp -r "$repo/node_modules/raw-socket" "$repo/node_modules/nan" "$root/build/"
	rm -rf "$root/build/raw-socket/build"
	# dpkg-shlibdeps wants the package's control file; it runs there, where the libraries
	# raw.node links with are (Debian's nodejs is a shared libnode, which this machine may lack).
	mkdir "$root/build/raw-socket/debian"
	cp "$repo/debian/control" "$root/build/raw-socket/debian/"
	"$repo/scripts/in-root.sh" "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/build LC_ALL=C \
		DEB_BUILD_MAINT_OPTIONS=hardening=+all NODE_PATH=/build sh -ec '
			eval "$(dpkg-buildflags --export=sh)"
			cd /build/raw-socket
			node-gyp rebuild --loglevel=warn >&2
			node -e "require(\"/build/raw-socket\")"
			echo "build-deb: raw.node for $(. /etc/os-release && echo "$PRETTY_NAME"), nodejs $(node -p "process.version + \" (ABI \" + process.versions.modules + \")\"")" >"build/Release/raw.node.info"
			dpkg-shlibdeps -O --warnings=0 build/Release/raw.node >build/Release/raw.node.substvars
		'
	mkdir -p "$into.$$"
	cp "$root"/build/raw-socket/build/Release/raw.node* "$into.$$/"
	mv -T "$into.$$" "$into" 2>/dev/null || rm -r "$into.$$" # another build was quicker
	rm -rf --one-file-system "$root"
	trap - EXIT
}

if [ -n "$suite" ]; then
	tarball=$("$repo/scripts/debian-root.sh" "$suite" "${build_root_packages[@]}")
	key=$( (stat -c '%n %s %Y' "$tarball"; cd "$repo/node_modules" &&
		find raw-socket/binding.gyp raw-socket/package.json raw-socket/src nan -type f -not -path '*/build/*' -print0 |
		sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16)
	built=$(dirname "$tarball")/raw-node/$suite-$key
	[ -e "$built/raw.node" ] || compile_raw_node "$tarball" "$built"
	cat "$built/raw.node.info" >&2
	export NETGWM_RAW_NODE=$built/raw.node
fi

(cd "$stage" && dpkg-buildpackage --build=binary --no-sign)
deb=$out/netgwm_${version}_$arch.deb
[ "${NETGWM_SKIP_LINTIAN:-}" = 1 ] || lintian --display-info "$out/netgwm_${version}_$arch.changes"
echo "$deb"
