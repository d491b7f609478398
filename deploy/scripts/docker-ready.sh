#!/usr/bin/env bash
# Makes sure Docker and Compose can run here: installs Debian's docker.io, docker-compose and
# debootstrap if missing, and starts dockerd if no daemon answers (there is no service manager on
# these machines). Prints the PID of a daemon it started, so the caller can stop exactly that one;
# prints nothing if a daemon was already running.
set -euo pipefail

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
  echo "docker-ready: installing ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if docker info >/dev/null 2>&1; then exit 0; fi

log=/var/log/zerocam-dockerd.log
"${sudo_cmd[@]}" dockerd >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "$pid"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.5
done
echo "docker-ready: dockerd did not come up; its log ($log) ends with:" >&2
tail -n 20 "$log" >&2 || true
exit 1
