#!/usr/bin/env bash
# Lets the image build reach the npm registry the way this machine does: copies the CA certificates
# its administrator added (for a TLS-intercepting proxy, say) into deploy/docker/extra-ca/, which
# only the build stages trust. Copies nothing where none were added.
set -euo pipefail
cd "$(dirname "$0")/../docker/extra-ca"
rm -f ./*.crt
shopt -s nullglob
for cert in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
  cp "$cert" "./host-$(basename "$cert")"
done
