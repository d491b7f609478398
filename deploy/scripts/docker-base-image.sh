#!/usr/bin/env bash
# Builds a Debian 13 (trixie) base image offline, the way the official debian images are made
# (debootstrap, then docker import), for machines that cannot pull debian:trixie-slim.
# Usage: deploy/scripts/docker-base-image.sh [IMAGE]   (default zerocam-base:trixie)
# Does nothing if IMAGE already exists, so runs after the first take seconds.
set -euo pipefail
image=${1:-zerocam-base:trixie}

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

# The Debian mirror this machine's apt already uses: the first deb.debian-style URI in its sources.
mirror=$( (cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null || true) \
  | grep -E '^(URIs:|deb )' | grep -v security | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' \
  | awk 'NR == 1 { print $1 }')
if [ -z "$mirror" ]; then
  echo "docker-base-image: no Debian mirror found in /etc/apt/sources.list(.d)" >&2
  exit 1
fi

root=$(mktemp -d /var/tmp/zerocam-debootstrap.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "docker-base-image: debootstrap trixie from $mirror (about a minute)" >&2
debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -n 20 "$root.log" >&2
  rm -f "$root.log"
  exit 1
}
rm -f "$root.log"
# The apt lists and caches debootstrap leaves are stale by the time anyone builds on the image.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - "$image" >/dev/null
echo "$image"
