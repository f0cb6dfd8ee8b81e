#!/bin/bash
# Builds netgwm's .deb from the working tree as it is (committed or not) in a staging copy, so
# the repository itself is never cleaned or written into, then runs lintian on it.
# Output: .cache/deb/ (git ignores it), or $NETGWM_DEB_OUT. Prints the .deb's path last.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${NETGWM_DEB_OUT:-$repo/.cache/deb}
version=$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
stage=$out/netgwm-$version

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

(cd "$stage" && dpkg-buildpackage --build=binary --no-sign)
deb=$out/netgwm_${version}_$arch.deb
[ "${NETGWM_SKIP_LINTIAN:-}" = 1 ] || lintian --display-info "$out/netgwm_${version}_$arch.changes"
echo "$deb"
