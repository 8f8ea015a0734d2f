#!/usr/bin/env bash
# The test command from the README: prepares this machine (Docker engine,
# sshd, busybox/caddy base images; idempotent) and runs every test, including
# the ones that bring up real test servers (network namespaces with their own
# sshd and dockerd). Needs root for the namespaces.
#
# Afterwards it fails if the tests left anything of arcane's on this machine's
# Docker engine (a container, image, network or volume that was not there
# before the run; scripts/host-leaks.sh), even when every test passed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
snapshot=$(mktemp)
bash scripts/host-leaks.sh snapshot "$snapshot"
# Leave no test server behind, whatever happens.
trap 'bash tests/testbed/testbed down-all >/dev/null 2>&1 || true; rm -f "$snapshot"' EXIT
status=0
cargo test --locked --all-targets || status=$?
bash scripts/host-leaks.sh check "$snapshot" || { [ "$status" -ne 0 ] || status=1; }
exit "$status"
