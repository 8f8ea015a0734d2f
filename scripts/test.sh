#!/usr/bin/env bash
# The test command from the README: prepares this machine (Docker engine,
# sshd, busybox/caddy base images; idempotent) and runs every test, including
# the ones that bring up real test servers (network namespaces with their own
# sshd and dockerd). Needs root for the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
# Leave no test server behind, whatever happens.
trap 'bash tests/testbed/testbed down-all >/dev/null 2>&1 || true' EXIT
cargo test --locked --all-targets
