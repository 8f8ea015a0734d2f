#!/usr/bin/env bash
# `arcane status` over 8 testbed servers vs 1 server, side by side.
#
# Servers are checked in parallel (one thread and one SSH session each), so
# 8 servers should cost little more than 1: the goal is a ratio <= 1.5x.
#
# Usage: bench/status/run.sh [--servers N] [--runs R]
# Needs root (the testbed), hyperfine and jq. Builds arcane in release mode.
# Writes bench/status/results.md and results.json next to this script.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
servers=8
runs=20
while [ $# -gt 0 ]; do
  case "$1" in
    --servers) servers=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--servers N] [--runs R]" >&2; exit 2 ;;
  esac
done

for tool in hyperfine jq; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
(cd "$root" && cargo build --release --quiet)
arcane="$CARGO_TARGET_DIR/release/arcane"

work=$(mktemp -d /tmp/arcane-bench-status.XXXXXX)
tb="$work/tb"
cleanup() {
  "$root/tests/testbed/testbed" down --dir "$tb" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$root/tests/testbed/testbed" up "$servers" --dir "$tb" >&2

# A project whose registry is the testbed, with one labelled container per
# server and a live release, so status does its full work everywhere.
proj="$work/proj"
mkdir -p "$proj/config" "$work/home"
printf '[app]\nname = "bench"\n' > "$proj/arcane.toml"
cp "$tb/servers.toml" "$proj/config/servers.toml"
for i in $(seq 1 "$servers"); do
  "$root/tests/testbed/testbed" exec --dir "$tb" "srv$i" -- sh -c '
    docker run -d --label arcane.app=bench --label arcane.env=staging \
      --label arcane.service=web --label arcane.version=v1 \
      busybox:stable sh -c "while sleep 1; do :; done" >/dev/null
    mkdir -p /root/.arcane/bench/staging/releases/v1
    echo v1 > /root/.arcane/bench/staging/current' >/dev/null
done

cd "$proj"
export HOME="$work/home"
unset SSH_AUTH_SOCK
# Sanity: both invocations succeed before timing them.
"$arcane" status --server srv1 >/dev/null
"$arcane" status --group all >/dev/null

hyperfine --warmup 2 --runs "$runs" --export-json "$here/results.json" \
  -n "status, 1 server" "$arcane status --server srv1" \
  -n "status, $servers servers" "$arcane status --group all" >&2

# The testbed's servers share this machine's cores with arcane, so N servers
# cost N times one server's sshd work in CPU, where real servers would do it
# side by side. Measure that work (CPU ticks the srv1 sshd spends on 20
# status runs) to show the floor sharing puts under the N-server time.
host1=$(awk -F'"' '/^\[servers.srv1\]/{f=1} f && /^host/{print $2; exit}' config/servers.toml)
sshd_pid=""
for p in $(pgrep -f "sshd -D -e -f /.testbed/sshd_config"); do
  ns=$(ip netns identify "$p" 2>/dev/null) || continue
  if ip netns exec "$ns" ip -4 addr 2>/dev/null | grep -q "inet $host1/"; then sshd_pid=$p; fi
done
server_ms=""
if [ -n "$sshd_pid" ]; then
  hz=$(getconf CLK_TCK)
  ticks() { awk '{print $14+$15+$16+$17}' "/proc/$sshd_pid/stat"; }
  t0=$(ticks)
  for _ in $(seq 20); do "$arcane" status --server srv1 >/dev/null; done
  server_ms=$(( ($(ticks) - t0) * 1000 / hz / 20 ))
fi
cores=$(nproc)

one=$(jq '.results[0].mean' "$here/results.json")
many=$(jq '.results[1].mean' "$here/results.json")
ratio=$(jq -n "$many / $one")
{
  echo "# arcane status: $servers servers vs 1 ($(date -u +%Y-%m-%d))"
  echo
  echo "| command | mean | stddev |"
  echo "| --- | --- | --- |"
  jq -r '.results[] | "| \(.command) | \(.mean*1000|floor) ms | \(.stddev*1000|floor) ms |"' "$here/results.json"
  echo
  printf 'ratio (%s servers / 1 server): %.2fx (goal <= 1.5x)\n' "$servers" "$ratio"
  if [ -n "$server_ms" ]; then
    echo
    echo "sshd CPU per status on one server: ${server_ms} ms. The $servers testbed servers"
    echo "share this machine's $cores cores, so the $servers-server run carries at least"
    echo "$(( servers * server_ms / cores )) ms of server CPU that real servers would spend side by side."
  fi
} > "$here/results.md"
cat "$here/results.md"
