#!/usr/bin/env bash
# Benchmark P1: shipping an image to a server over a 50mbit/20ms link.
#
# Builds a >= 100 MB image (busybox + ~100 MB random data layer + a small app
# layer), ships it to a testbed server with `arcane push`, changes one small
# file and ships again; does the same with the naive `docker save | ssh docker
# load` to a second, identically shaped server. Bytes on the wire are read
# from the host side of each server's veth (/sys/class/net/<veth>/statistics),
# independently of arcane's own counters.
#
# Usage: bench/push/run.sh [--size-mb N] [--rate 50mbit] [--delay 20ms]
# Needs root, docker, and a release build (built here if missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIZE_MB=100 RATE=50mbit DELAY=20ms
while [ $# -gt 0 ]; do
  case $1 in
    --size-mb) SIZE_MB=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --delay) DELAY=$2; shift ;;
    *) echo "usage: $0 [--size-mb N] [--rate R] [--delay D]" >&2; exit 2 ;;
  esac
  shift
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}
if [ -n "${ARCANE_BIN:-}" ]; then
  ARCANE=$ARCANE_BIN   # a prebuilt binary (e.g. copied out of a shared target dir)
else
  (cd "$ROOT" && cargo build --release -q)
  ARCANE=$CARGO_TARGET_DIR/release/arcane
fi
TB=$ROOT/tests/testbed/testbed
WORK=$(mktemp -d /tmp/arcane-bench-push.XXXXXX)
export ARCANE_CACHE_DIR=$WORK/cache
cleanup() { "$TB" down --dir "$WORK/tb" >/dev/null 2>&1 || true; docker rmi -f $(docker image ls -q bench-push 2>/dev/null) >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

"$TB" up 2 --dir "$WORK/tb" >/dev/null
. "$WORK/tb/state"
"$TB" shape srv1 "$RATE" "$DELAY" --dir "$WORK/tb"
"$TB" shape srv2 "$RATE" "$DELAY" --dir "$WORK/tb"
veth() { echo "${TB_PREFIX}v$1"; }
wire() { local v; v=$(veth "$1"); echo $(( $(cat /sys/class/net/$v/statistics/rx_bytes) + $(cat /sys/class/net/$v/statistics/tx_bytes) )); }
now() { date +%s.%N; }

P=$WORK/proj
mkdir -p "$P/config"
cp "$WORK/tb/servers.toml" "$P/config/servers.toml"
cat >"$P/arcane.toml" <<TOML
[app]
name = "bench-push"
[health]
path = "/health"
port = 8080
TOML
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$P/data.bin"
cat >"$P/Dockerfile" <<'DOCKER'
FROM busybox:stable
COPY data.bin /data.bin
RUN mkdir -p /www && echo ok > /www/health
COPY app.txt /www/app.txt
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
DOCKER
echo "version 1" >"$P/app.txt"
echo "data.bin" >"$P/.gitignore"
git -C "$P" init -q
git -C "$P" add -A && git -C "$P" -c user.email=b@b -c user.name=bench commit -qm v1

ship() { # $1 = label; arcane to srv1, naive to srv2
  local label=$1 tag
  tag=$(cd "$P" && "$ARCANE" --json build | grep '"event":"data"' | sed -n 's/.*"tag":"\([^"]*\)".*/\1/p' | head -1)
  local b0 t0 t1 b1
  b0=$(wire 1); t0=$(now)
  (cd "$P" && "$ARCANE" -q push --server srv1)
  t1=$(now); b1=$(wire 1)
  A_BYTES=$((b1 - b0)); A_SECS=$(echo "$t1 - $t0" | bc)
  b0=$(wire 2); t0=$(now)
  docker save "$tag" | ssh -F "$WORK/tb/ssh_config" srv2 docker load -q >/dev/null
  t1=$(now); b1=$(wire 2)
  N_BYTES=$((b1 - b0)); N_SECS=$(echo "$t1 - $t0" | bc)
  printf '%-8s arcane: %12d bytes %7.2fs   naive: %12d bytes %7.2fs\n' "$label" "$A_BYTES" "$A_SECS" "$N_BYTES" "$N_SECS"
  TAG=$tag
}

echo "image: busybox + ${SIZE_MB} MiB random layer + app layer; link $RATE, +$DELAY each way"
ship first
echo "version 2" >"$P/app.txt"
git -C "$P" -c user.email=b@b -c user.name=bench commit -qam v2
ship second
CHANGED=$(docker image inspect "$TAG" --format '{{json .RootFS.Layers}}' | tr -d '[]"' | tr , '\n' | tail -1)
# The cache holds the exported (uncompressed) layer under its diff ID.
CHANGED_SIZE=$(stat -c %s "$ARCANE_CACHE_DIR/blobs/sha256/${CHANGED#sha256:}")
BUDGET=$(echo "1.2 * $CHANGED_SIZE + 1048576" | bc)
echo "changed layer: $CHANGED_SIZE bytes; byte budget (1.2x + 1 MiB): ${BUDGET%.*}"
echo "bytes ratio (arcane second / budget): $(echo "scale=3; $A_BYTES / $BUDGET" | bc)  (goal <= 1)"
echo "bytes (arcane second / changed layer): $(echo "scale=2; $A_BYTES / $CHANGED_SIZE" | bc)x"
echo "time ratio  (arcane second / naive second): $(echo "scale=3; $A_SECS / $N_SECS" | bc)  (goal <= 0.1)"
