#!/usr/bin/env bash
# Prepare this (Debian) machine to build arcane and run its tests:
#   - install the Debian packages the build and the testbed need (only if one
#     is missing, so a ready machine costs no apt run),
#   - start the host Docker engine if none is running (no systemd here),
#   - build and seed the offline base images busybox:stable and caddy:2,
#   - build the offline apt repository bare testbed servers install Docker
#     from (tests/testbed/apt-repo.sh; downloads once, then needs nothing).
# Idempotent; safe with no stdin (CI).  Needs root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  # the testbed and the tools tests drive
  docker.io docker-compose openssh-server openssh-client busybox-static caddy
  iproute2 iptables tmux git-crypt age hyperfine wrk curl util-linux
  # a real D-Bus session bus for the desktop notification test
  dbus-daemon dbus-bin
  # a real registry for `push --via registry` (tests/ship_via_registry.rs)
  docker-registry apache2-utils
  # building the crate (ssh2 -> libssh2-sys -> openssl)
  pkg-config libssl-dev
  # `server bootstrap` on bare testbed servers: the offline apt repository
  # (dpkg-scanpackages), the firewall, and `cloud-init schema` for the
  # user-data `server cloud-init` prints
  dpkg-dev nftables cloud-init
)

say() { echo "setup-host: $*"; }

[ "$(id -u)" = 0 ] || { echo "setup-host: must run as root" >&2; exit 1; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  # Another apt may be running (e.g. a machine still provisioning): wait for
  # its lock rather than fail.
  apt-get -o DPkg::Lock::Timeout=600 update -qq </dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" \
    </dev/null >/tmp/setup-host-apt.log 2>&1 \
    || { tail -n 30 /tmp/setup-host-apt.log >&2; exit 1; }
  # The registry package enables a system-wide registry on port 5000 where
  # systemd runs. The tests start their own on a free port; a registry we
  # installed ourselves must not stay listening on the machine.
  for p in "${missing[@]}"; do
    if [ "$p" = docker-registry ] && command -v systemctl >/dev/null 2>&1; then
      systemctl disable --now docker-registry >/dev/null 2>&1 || true
    fi
    # cloud-init is here for its schema check and for bare testbed servers
    # (they disable this file in their own root): it must never configure
    # this machine at its next boot.
    if [ "$p" = cloud-init ]; then
      touch /etc/cloud/cloud-init.disabled
    fi
  done
fi

# The host engine.  Its socket answering is what counts, not a process name.
if ! docker version >/dev/null 2>&1; then
  if [ -S /var/run/docker.sock ] && [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    say "dockerd is running but not answering yet"
  else
    say "starting dockerd (log: /var/log/dockerd-host.log)"
    nohup dockerd </dev/null >/var/log/dockerd-host.log 2>&1 &
  fi
  for _ in $(seq 300); do
    docker version >/dev/null 2>&1 && break
    sleep 0.2
  done
  docker version >/dev/null 2>&1 || { tail -n 30 /var/log/dockerd-host.log >&2; echo "setup-host: dockerd did not come up" >&2; exit 1; }
fi

# /run/sshd is sshd's privilege separation directory (testbed servers get
# their own, but the host's sshd -t checks need it too).
mkdir -p /run/sshd

QUIET=1 "$ROOT/tests/testbed/images.sh" -q seed
QUIET=1 "$ROOT/tests/testbed/apt-repo.sh" build
say "ok (docker $(docker version -f '{{.Server.Version}}' 2>/dev/null), images busybox:stable caddy:2)"
