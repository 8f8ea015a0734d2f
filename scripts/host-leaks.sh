#!/usr/bin/env bash
# What the tests leave on this machine's Docker engine. scripts/test.sh takes
# a snapshot before the tests and checks after them:
#
#   host-leaks.sh snapshot FILE   record arcane's resources that exist now
#   host-leaks.sh check FILE      exit 1, listing them, if arcane's resources
#                                 exist now that FILE does not list
#   host-leaks.sh list            print arcane's resources that exist now
#
# "arcane's resources": containers with an arcane.* label or named
# arcane-proxy; images with an arcane.app / arcane.test label or a repository
# named arcane-test*; networks and volumes with an arcane.* label or named
# like the proxy's (arcane, arcane-proxy-*). What the user had before the run
# is in the snapshot, so it never fails the check.
#
# One line per resource: KIND <tab> KEY <tab> DESCRIPTION. The key is what
# identifies it (an ID, or for images ID and tag, so a new tag on an old
# image counts as left behind).
set -euo pipefail

list() {
  docker ps -a --no-trunc --format '{{.ID}}	{{.Names}}	{{.Image}}	{{.Status}}	{{.Labels}}' |
    awk -F'\t' '$2 == "arcane-proxy" || $5 ~ /(^|,)arcane\./ {
      printf "container\t%s\t%s (image %s, %s)\n", $1, $2, $3, $4 }'
  {
    for label in arcane.app arcane.test; do
      docker image ls --no-trunc --filter "label=$label" \
        --format '{{.ID}}	{{.Repository}}:{{.Tag}}	{{.CreatedSince}}'
    done
    docker image ls --no-trunc --format '{{.ID}}	{{.Repository}}:{{.Tag}}	{{.CreatedSince}}' |
      awk -F'\t' '$2 ~ /^arcane-test/'
  } | sort -u | awk -F'\t' '{ printf "image\t%s %s\t%s (created %s)\n", $1, $2, $2, $3 }'
  docker network ls --no-trunc --format '{{.ID}}	{{.Name}}	{{.Labels}}' |
    awk -F'\t' '$2 == "arcane" || $3 ~ /(^|,)arcane\./ { printf "network\t%s\t%s\n", $1, $2 }'
  docker volume ls --format '{{.Name}}	{{.Labels}}' |
    awk -F'\t' '$1 ~ /^arcane-proxy-/ || $2 ~ /(^|,)arcane\./ { printf "volume\t%s\t%s\n", $1, $1 }'
}

keys() { cut -f1,2 "$@" | sort -u; }

case "${1:-}" in
  snapshot)
    [ -n "${2:-}" ] || { echo "usage: $0 snapshot FILE" >&2; exit 2; }
    list > "$2"
    ;;
  check)
    [ -n "${2:-}" ] && [ -f "$2" ] || { echo "usage: $0 check FILE (from snapshot)" >&2; exit 2; }
    now=$(mktemp)
    trap 'rm -f "$now"' EXIT
    list > "$now"
    left=$(comm -13 <(keys "$2") <(keys "$now"))
    if [ -n "$left" ]; then
      echo "host-leaks: the tests left these on this machine's Docker engine:" >&2
      # The full lines of the keys that are new.
      awk -F'\t' 'NR == FNR { new[$1 "\t" $2] = 1; next } new[$1 "\t" $2] { printf "  %s %s\n", $1, $3 }' \
        <(printf '%s\n' "$left") "$now" >&2
      echo "host-leaks: every test must remove what it starts, also when it fails (tests/common/host.rs)" >&2
      exit 1
    fi
    echo "host-leaks: nothing left on the host engine" >&2
    ;;
  list)
    list
    ;;
  *)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
