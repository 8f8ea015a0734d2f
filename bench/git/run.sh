#!/usr/bin/env bash
# Benchmark G1: what the git assistant's watcher costs on a 10k-file repo.
#
# Makes an arcane project with FILES source files in DIRS directories (plus
# an ignored target/ of 2000 files, which must cost nothing), commits it,
# then measures with hyperfine:
#   - `git watch --once` with nothing changed (the common case),
#   - `git watch --once` after one file changed (a typical snapshot),
#   - `git watch --once` with no private index yet (the first snapshot),
#   - `git add -A && git write-tree` on a copy, as the floor git itself sets;
# and, with the watcher running: the latency from an edit to its shadow
# commit (debounce 200 ms), and the CPU the idle watcher uses over IDLE_S
# seconds (utime+stime from /proc), with no polling expected.
#
# Usage: bench/git/run.sh [--files N] [--dirs N] [--idle SECS]
# Needs git and hyperfine. Uses $ARCANE_BIN, else a release build (built here).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FILES=10000 DIRS=500 IDLE_S=30
while [ $# -gt 0 ]; do
  case $1 in
    --files) FILES=$2; shift ;;
    --dirs) DIRS=$2; shift ;;
    --idle) IDLE_S=$2; shift ;;
    *) echo "usage: $0 [--files N] [--dirs N] [--idle SECS]" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "${ARCANE_BIN:-}" ]; then
  ARCANE=$ARCANE_BIN
else
  (cd "$ROOT" && cargo build --release -q)
  ARCANE=${CARGO_TARGET_DIR:-$ROOT/target}/release/arcane
fi
WORK=$(mktemp -d /tmp/arcane-bench-git.XXXXXX)
WATCHER=
cleanup() { [ -n "$WATCHER" ] && kill "$WATCHER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export HOME=$WORK/home XDG_CONFIG_HOME=$WORK/home/xdg XDG_STATE_HOME=$WORK/home/state
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
mkdir -p "$HOME" "$WORK/p"
cd "$WORK/p"
git init -q -b main
"$ARCANE" init --name bench >/dev/null 2>&1
"$ARCANE" env set DB_PASSWORD 'bench-secret-value' --env staging >/dev/null 2>&1
printf '\n[git.watch]\ndebounce_ms = 200\n' >> arcane.toml
printf 'target/\n' > .gitignore
python3 - "$FILES" "$DIRS" <<'EOF'
import os, sys
files, dirs = int(sys.argv[1]), int(sys.argv[2])
for i in range(files):
    d = f"src/m{i % dirs:03d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i}.rs", "w") as f:
        f.write(f"// file {i}\npub fn f{i}() -> u64 {{ {i} }}\n" * 20)
for i in range(2000):
    d = f"target/debug/deps/d{i % 50}"
    os.makedirs(d, exist_ok=True)
    open(f"{d}/o{i}.o", "w").write("x" * 100)
EOF
git add -A && git commit -q -m "chore: bench repo"
echo "repo: $(git ls-files | wc -l) tracked files, $(find src -type d | wc -l) dirs, git $(git --version | cut -d' ' -f3), arcane $ARCANE"
"$ARCANE" git watch --once >/dev/null 2>&1

hyperfine -N --warmup 2 --runs 15 --export-json "$WORK/h1.json" \
  -n 'watch --once, nothing changed' "$ARCANE git watch --once" \
  -n 'watch --once, one file changed' --prepare "sh -c 'echo // \$(date +%s%N) >> src/m001/f1.rs'" "$ARCANE git watch --once" 2>&1 | grep -v '^ *$'
hyperfine -N --runs 5 \
  -n 'watch --once, first snapshot (no private index)' \
  --prepare "sh -c 'rm -f .git/arcane/shadow-index; echo // \$(date +%s%N) >> src/m002/f2.rs'" \
  "$ARCANE git watch --once" 2>&1 | grep -v '^ *$'
cp -r "$WORK/p" "$WORK/floor"
hyperfine -N --runs 10 -n 'git add -A + write-tree (user index, one change)' \
  --prepare "sh -c 'echo // \$(date +%s%N) >> $WORK/floor/src/m003/f3.rs'" \
  "sh -c 'git -C $WORK/floor add -A && git -C $WORK/floor write-tree'" 2>&1 | grep -v '^ *$'

# The watcher: latency and idle CPU.
"$ARCANE" git watch >"$WORK/watch.log" 2>&1 &
WATCHER=$!
for _ in $(seq 100); do [ -f .git/arcane/watch.json ] && break; sleep 0.1; done
sleep 1
before=$(git rev-parse refs/arcane/shadow/main)
t0=$(date +%s%N)
echo "// edit" >> src/m100/f100.rs
while [ "$(git rev-parse refs/arcane/shadow/main)" = "$before" ]; do sleep 0.01; done
t1=$(date +%s%N)
echo "edit to shadow commit (debounce 200 ms): $(( (t1 - t0) / 1000000 )) ms"
sleep 2
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$WATCHER/stat"; }
c0=$(cpu)
sleep "$IDLE_S"
c1=$(cpu)
echo "idle watcher: $(( c1 - c0 )) ticks of CPU in ${IDLE_S} s (1 tick = $(( 1000 / ticks )) ms); RSS $(awk '/VmRSS/{print $2" "$3}' /proc/$WATCHER/status); $(ls /proc/$WATCHER/task | wc -l) threads"
echo "inotify watches: $(grep -c '^inotify' /proc/$WATCHER/fdinfo/* 2>/dev/null | awk -F: '{s+=$2} END {print s}')"
kill -INT "$WATCHER"; wait "$WATCHER" || true; WATCHER=
tail -1 "$WORK/watch.log"
