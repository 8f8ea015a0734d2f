#!/bin/sh
# Render the pages from the environment at start, then serve them with
# busybox httpd. Static files instead of CGI: nothing to parse per request,
# and the env reaches the page without depending on httpd's CGI environment.
set -eu

: "${APP_VERSION:=dev}"    # baked in by the build arg, overridable by env files
: "${GREETING:=hello}"
: "${PORT:=8080}"

mkdir -p /www
printf '%s from arcane %s\n' "$GREETING" "$APP_VERSION" > /www/index.html
printf 'ok\n' > /www/health
printf '%s\n' "$APP_VERSION" > /www/version

# httpd as a child so SIGTERM (docker stop) is handled: PID 1 ignores signals
# it has no handler for, which would make every stop wait for the kill timeout.
busybox httpd -f -p "$PORT" -h /www &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; exit 0' TERM INT
wait "$pid"
