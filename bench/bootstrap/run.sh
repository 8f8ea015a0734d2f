#!/usr/bin/env bash
# `arcane server bootstrap`: one bare server, then three in parallel, then a
# second run of the first (which changes nothing), on fresh bare testbed
# servers each round (`testbed up 4 --bare`: apt installs Docker for real
# from the offline repository).
#
# Bootstrap time is the servers' own work (apt, dpkg, starting dockerd), so
# on one machine the three parallel servers share its CPUs with each other:
# the parallel figure says how well that overlaps, not what three separate
# VPSes would take.
#
# Usage: bench/bootstrap/run.sh [--rounds R]
# Needs root (the testbed) and scripts/setup-host.sh's apt repository.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds R]" >&2; exit 2 ;;
  esac
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release --quiet)
arcane="$CARGO_TARGET_DIR/release/arcane"
T="$root/tests/testbed/testbed"

work=$(mktemp -d /tmp/arcane-bench-bootstrap.XXXXXX)
cleanup() {
  for d in "$work"/tb*; do [ -d "$d" ] && "$T" down --dir "$d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Seconds a command took; a failure is shown (its failed steps) on stderr.
secs() {
  if ! /usr/bin/time -o "$work/t" -f %e "$@" >"$work/out" 2>&1; then
    { echo "bench: failed: $*"; grep -E '✗|error' "$work/out"; } >&2
  fi
  tail -n 1 "$work/t"
}

echo "| round | 1 server | 3 in parallel | second run | load (1/5/15 min) |"
echo "|---|---|---|---|---|"
for i in $(seq 1 "$rounds"); do
  tb="$work/tb$i"
  "$T" up 4 --bare --dir "$tb" >/dev/null 2>&1
  proj="$work/p$i"
  mkdir -p "$proj/config" "$work/home"
  printf '[app]\nname = "bench"\n\n[bootstrap]\nfirewall = true\n' >"$proj/arcane.toml"
  cp "$tb/servers.toml" "$proj/config/servers.toml"
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  cd "$proj"
  one=$(secs "$arcane" server bootstrap --server srv1 --yes)
  three=$(secs "$arcane" server bootstrap --server srv2 --server srv3 --server srv4 --yes)
  again=$(secs "$arcane" server bootstrap --server srv1 --yes)
  cd /
  echo "| $i | ${one} s | ${three} s | ${again} s | $load |"
  "$T" down --dir "$tb" >/dev/null 2>&1
done
