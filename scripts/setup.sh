#!/usr/bin/env bash
# Installs what `npm run demo` (setup.sh demo), `npm test` (setup.sh test) or `npm run bench`
# (setup.sh bench) needs and is missing:
# Debian packages with apt, then the npm dependencies when node_modules is missing or older than
# package-lock.json. npm runs it as the `predemo` and `pretest` scripts, so each command does
# its own set-up on a fresh Debian 12 machine. Needs root, as the demo and the tests do.
set -euo pipefail
cd "$(dirname "$0")/.."

# What netgwm drives, and python3/make/g++ to build the native ICMP module.
# chromium (headless) shows the status page: the demo's screenshot and the page's browser tests.
packages=(iproute2 nftables conntrack iputils-ping procps python3 make g++)
if [ "${1:-demo}" != bench ]; then
  packages+=(chromium)
fi
if [ "${1:-demo}" = test ]; then
  # promtool and the node exporter for the metrics tests; debootstrap, debhelper, lintian and
  # groff for the Debian package test, systemd-nspawn (systemd-container) to boot its root;
  # curl for the web-hook example; faketime for the e2e tests, which move netgwm's wall clock on
  # instead of sleeping until min_uptime passed; dnsmasq (its binary, without the service) and
  # busybox's udhcpc for a real DHCP server and client on a test uplink; keepalived and
  # conntrackd for the HA pair tests (started by the tests in their namespaces, not as services);
  # openssl makes the check-methods lab's CA and certificate (dnsmasq is its DNS server, curl a
  # client of its web server).
  packages+=(prometheus prometheus-node-exporter debootstrap debhelper lintian groff-base systemd-container curl faketime dnsmasq-base udhcpc keepalived conntrackd openssl)
elif [ "${1:-demo}" = bench ]; then
  # hyperfine times commands side by side; GNU time reports their peak memory.
  packages+=(hyperfine time)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
# The benchmarks that build no network (bench:recording, bench:series) run as any user once their
# packages are there.
if [ "$(id -u)" -ne 0 ] && { [ "${1:-demo}" != bench ] || [ "${#missing[@]}" -gt 0 ]; }; then
  echo "setup: the demo and the tests build network namespaces, and installing packages needs root: run it as root" >&2
  exit 1
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  # The exporter's, keepalived's and conntrackd's own services must not start: the tests start
  # their own (on a loopback port, in namespaces). A policy-rc.d that refuses every start is in
  # place for the install, unless one exists.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Nor should they start at the next boot: the tests only use their binaries.
  for service in prometheus prometheus-node-exporter keepalived conntrackd; do
    if [[ " ${missing[*]} " == *" $service "* ]] && command -v systemctl >/dev/null; then
      systemctl disable "$service" >/dev/null 2>&1 || true
    fi
  done
fi

if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
