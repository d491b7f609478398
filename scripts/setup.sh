#!/usr/bin/env bash
# Installs everything zerocam needs on a fresh Debian/Ubuntu machine, then builds it.
# Safe to re-run: system packages already present are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# libopencv-dev: the OpenCV addon links the system OpenCV (its own auto-build needs GitHub).
# ffmpeg: tests and the benchmark make their video clips with it.
# chromium: the viewer's UI tests drive it with playwright-core.
# python3-zmq: a test runs the Python receiver from docs/protocol.md against a real sender.
# python3-opencv: the imagezmq-format peers in the tests and the Python reference loop in the bench.
# openssl: the HTTPS tests make their certificates with it.
system_packages=(libopencv-dev ffmpeg chromium python3-zmq python3-opencv iproute2 openssl)
missing=()
# iputils-ping: `npm run bench -- --link` measures the round trip across the shaped link, idle and under load.
system_packages+=(iputils-ping)
# faketime: test/clock-offsets.test.ts runs senders, hubs and receivers with their clocks offset (libfaketime).
system_packages+=(faketime)
for pkg in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Build the OpenCV addon against the system OpenCV, and never download Electron's binary here:
# machines that can reach its download get it through a plain `npm install`.
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
export JOBS=max
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
