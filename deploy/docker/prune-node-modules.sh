#!/bin/sh
# Trims a production node_modules to what runs on this image's platform: the lockfile lists every
# platform's native builds, and npm installs some that can never load here.
set -eu
arch=$(node -p process.arch)
libc=$(node -p "process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl'")
# Directories only: zeromq's loader needs build/manifest.json.
find node_modules/zeromq/build -mindepth 1 -maxdepth 1 -type d ! -name linux -exec rm -rf {} +
find node_modules/zeromq/build/linux -mindepth 1 -maxdepth 1 -type d ! -name "$arch" -exec rm -rf {} +
rm -rf node_modules/@img/sharp-wasm32 node_modules/@types node_modules/electron
if [ "$libc" = glibc ]; then rm -rf node_modules/@img/*linuxmusl*; fi
