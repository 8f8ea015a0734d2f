#!/bin/sh
# Fuzz each target for a short while (default 60 s each).
#   fuzz/run.sh [SECONDS]
# Needs a nightly toolchain (`rustup toolchain install nightly`) and
# cargo-fuzz (`cargo install cargo-fuzz`).
set -eu
cd "$(dirname "$0")"
secs=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || { echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2; exit 2; }
for t in env_parser value_decoder; do
  cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -max_len=4096
done
