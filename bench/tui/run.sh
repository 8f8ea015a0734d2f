#!/usr/bin/env bash
# P6: the dashboard with 50 servers configured, several of them unreachable.
#
#   bench/tui/run.sh [RUNS]      (default 5 runs)
#
# Servers: 10 `local` (real Docker queries), 30 on closed 127.0.0.1 ports
# (connection refused at once) and 10 "black holes" on 127.0.0.1 that accept
# TCP but never speak SSH, so each probe waits for its connect timeout. Only
# 127.0.0.0/8 is contacted.
#
# Measured, per run, in a tmux pane of 100x30:
#   first frame  time from `exec arcane` until capture-pane shows the tab bar
#   RSS          VmRSS (and VmHWM, the peak) from /proc/PID/status after 8 s
#   idle CPU     utime+stime from /proc/PID/stat over 5 s once probes settled
# Targets: first frame <= 150 ms, RSS <= 50 MB, idle CPU close to 0.
#
# BIN selects the binary (default: target/release/arcane, built if missing).
set -euo pipefail

RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${BIN:-$TARGET/release/arcane}
if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && cargo build --release --bin arcane >&2)
fi

WORK=$(mktemp -d /tmp/arcane-bench-tui.XXXXXX)
SOCK="arcane-bench-tui-$$"
HOLES_PID=
cleanup() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  [ -n "$HOLES_PID" ] && kill "$HOLES_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Black holes: accept and hold connections, never send a byte.
HOLE_PORTS_FILE=$WORK/holes
python3 - "$HOLE_PORTS_FILE" <<'EOF' &
import socket, sys, select
socks = []
for _ in range(10):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0)); s.listen(64); socks.append(s)
open(sys.argv[1] + ".tmp", "w").write("".join(str(s.getsockname()[1]) + "\n" for s in socks))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    r, _, _ = select.select(socks, [], [])
    for s in r:
        c, _ = s.accept(); held.append(c)
EOF
HOLES_PID=$!
for _ in $(seq 100); do [ -f "$HOLE_PORTS_FILE" ] && break; sleep 0.05; done

# Closed ports: bind, note the port, close (nothing listens there afterwards).
CLOSED=$(python3 -c '
import socket
ps = []
for _ in range(30):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ps.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ps))
')

P=$WORK/project
mkdir -p "$P/config/envs"
printf '[app]\nname = "benchtui"\n' > "$P/arcane.toml"
printf 'LOG_LEVEL=info\n' > "$P/config/envs/base.env"
printf 'APP_ENV=staging\n' > "$P/config/envs/staging.env"
printf 'APP_ENV=production\n' > "$P/config/envs/production.env"
{
  for i in $(seq -w 1 10); do
    printf '[servers.local%s]\nhost = "local"\nenv = "staging"\n\n' "$i"
  done
  i=0
  for port in $CLOSED; do
    i=$((i + 1))
    printf '[servers.closed%02d]\nhost = "127.0.0.1"\nport = %s\nenv = "production"\n\n' "$i" "$port"
  done
  i=0
  while read -r port; do
    i=$((i + 1))
    printf '[servers.hole%02d]\nhost = "127.0.0.1"\nport = %s\nenv = "production"\n\n' "$i" "$port"
  done < "$HOLE_PORTS_FILE"
} > "$P/config/servers.toml"
(cd "$P" && git init -q . && git add -A && git -c user.name=b -c user.email=b@b commit -qm bench)

export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/.config
mkdir -p "$HOME"
CLK_TCK=$(getconf CLK_TCK)

now_ns() { date +%s%N; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# The measurement floor: the same launch and polling with a program that
# prints the tab bar text at once.
floor_ms() {
  sleep 0.3
  tmux -L "$SOCK" -f /dev/null new-session -d -s f -x 100 -y 30 -c "$P" "sh"
  sleep 0.3
  local t0 t1
  t0=$(now_ns)
  tmux -L "$SOCK" send-keys -t f "exec sh -c 'echo 1 Overview; sleep 30'" Enter
  while ! tmux -L "$SOCK" capture-pane -p -t f | grep -q "1 Overview"; do
    [ $(( ($(now_ns) - t0) / 1000000 )) -gt 5000 ] && break
  done
  t1=$(now_ns)
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  echo $(( (t1 - t0) / 1000000 ))
}

echo "binary: $BIN"
echo "servers: 10 local, 30 closed ports, 10 black holes (all 127.0.0.1)"
printf '%-4s %12s %10s %10s %12s\n' run first_ms rss_mb hwm_mb idle_cpu_%
for run in $(seq 1 "$RUNS"); do
  tmux -L "$SOCK" -f /dev/null new-session -d -s b -x 100 -y 30 -c "$P" "sh"
  sleep 0.3
  t0=$(now_ns)
  tmux -L "$SOCK" send-keys -t b "exec $BIN" Enter
  while ! tmux -L "$SOCK" capture-pane -p -t b | grep -q "1 Overview"; do
    if [ $(( ($(now_ns) - t0) / 1000000 )) -gt 10000 ]; then
      echo "no frame after 10 s:"; tmux -L "$SOCK" capture-pane -p -t b; exit 1
    fi
  done
  t1=$(now_ns)
  first_ms=$(( (t1 - t0) / 1000000 ))
  pid=$(tmux -L "$SOCK" list-panes -t b -F '#{pane_pid}')
  # Let every probe finish (black holes time out after the connect timeout).
  sleep 8
  rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
  c0=$(cpu_ticks "$pid")
  sleep 5
  c1=$(cpu_ticks "$pid")
  idle=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", 100 * d / (5 * hz) }')
  printf '%-4s %12s %10s %10s %12s\n' "$run" "$first_ms" \
    "$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')" \
    "$(awk -v k="$hwm_kb" 'BEGIN { printf "%.1f", k / 1024 }')" "$idle"
  if [ "$run" = 1 ]; then
    tmux -L "$SOCK" capture-pane -p -t b > "$WORK/screen.txt"
  fi
  tmux -L "$SOCK" send-keys -t b q
  sleep 0.3
  tmux -L "$SOCK" kill-server 2>/dev/null || true
done
echo "measurement floor (tmux + exec + polling, no arcane): $(floor_ms) ms, $(floor_ms) ms, $(floor_ms) ms"
echo "screen of run 1 after 8 s:"
head -n 16 "$WORK/screen.txt"
