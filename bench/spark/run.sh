#!/usr/bin/env bash
# Spark: how long from a webhook to the deploy starting, and how much memory
# an idle `arcane spark serve` holds.
#
#   bench/spark/run.sh [PUSHES]      (default 10)
#
# A tiny busybox app in a local git repository deploys to the `local` target
# (this machine's Docker). Spark runs with debounce = "0s" (the default 3 s
# debounce would be added to every figure as is). For each push, one commit
# and one signed GitHub webhook on 127.0.0.1; measured from just before the
# request is sent:
#   accepted    the 202 is back (the push is fsynced in the journal)
#   job start   the job's log exists (queue pickup; checkout begins)
#   deploy      the log says "deploying" (DeployStarted: after the checkout
#               of the commit and the image build, before any server)
# Idle RSS: VmRSS and VmHWM of the serve process from /proc after 3 s idle,
# before the first push, and again after the last.
#
# BIN selects the binary (default: target/release/arcane, built if missing).
set -euo pipefail

PUSHES=${1:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${BIN:-$TARGET/release/arcane}
if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && cargo build --release --bin arcane >&2)
fi

WORK=$(mktemp -d /tmp/arcane-bench-spark.XXXXXX)
APP="sparkbench$$"
SERVE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null || true
  docker ps -aq --filter "label=arcane.app=$APP" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker images -q --filter "label=arcane.app=$APP" | sort -u | xargs -r docker rmi -f >/dev/null 2>&1 || true
  docker network rm "$APP-staging" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

P="$WORK/app"
PUBLISH=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$P/config/envs" "$P/www" "$WORK/home"
cat > "$P/arcane.toml" <<EOF
[app]
name = "$APP"

[health]
path = "/health"
port = 8080
interval = 0.2

[deploy]
publish = "127.0.0.1:$PUBLISH"

[notifications]
desktop = false
EOF
printf '[servers.local]\nhost = "local"\nenv = "staging"\n' > "$P/config/servers.toml"
echo "A=1" > "$P/config/envs/staging.env"
echo "A=2" > "$P/config/envs/production.env"
printf 'FROM busybox:stable\nCOPY www /www\nCMD ["sh", "-c", "trap '"'"'exit 0'"'"' TERM; httpd -f -p 8080 -h /www & wait"]\n' > "$P/Dockerfile"
echo ok > "$P/www/health"
echo v0 > "$P/www/index.html"
g() { git -C "$P" -c user.name=b -c user.email=b@b -c commit.gpgsign=false "$@"; }
g init -q -b main && g add -A && g commit -qm v0

KEY=$(HOME="$WORK/home" "$BIN" deploy gen-key 2>/dev/null | grep '^AGE-SECRET-KEY-1')
cat > "$WORK/spark.toml" <<EOF
[spark]
listen = "127.0.0.1:0"
state_dir = "$WORK/state"
debounce = "0s"
github_secret_env = "BENCH_GH_SECRET"

[spark.apps.bench]
repo = "$P"
branches = { main = "staging" }
EOF
HOME="$WORK/home" ARCANE_MACHINE_KEY="$KEY" BENCH_GH_SECRET=bench-secret \
  "$BIN" spark serve --config "$WORK/spark.toml" 2> "$WORK/serve.log" &
SERVE_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/serve.log" && break; sleep 0.05; done
PORT=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/serve.log" | head -1 | sed 's/.*://')

rss() { awk '/^VmRSS|^VmHWM/ {printf "%s %s kB  ", $1, $2}' "/proc/$SERVE_PID/status"; echo; }
sleep 3
echo "binary: $BIN"
echo "idle, before any push: $(rss)"

python3 - "$PORT" "$P" "$WORK/state" "$PUSHES" <<'PY'
import hmac, hashlib, http.client, json, os, subprocess, sys, time, statistics
port, repo, state, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
def git(*a):
    return subprocess.run(["git", "-C", repo, "-c", "user.name=b", "-c", "user.email=b@b",
                           "-c", "commit.gpgsign=false", *a], check=True,
                          capture_output=True, text=True).stdout.strip()
acc, start, dep = [], [], []
for i in range(1, n + 1):
    with open(os.path.join(repo, "www/index.html"), "w") as f:
        f.write(f"v{i}\n")
    git("commit", "-qam", f"v{i}")
    sha = git("rev-parse", "HEAD")
    body = json.dumps({"ref": "refs/heads/main", "after": sha,
                       "repository": {"clone_url": repo}}).encode()
    sig = "sha256=" + hmac.new(b"bench-secret", body, hashlib.sha256).hexdigest()
    log = os.path.join(state, "jobs", str(i), "log")
    c = http.client.HTTPConnection("127.0.0.1", port)
    t0 = time.perf_counter()
    c.request("POST", "/hooks/github", body, {"X-GitHub-Event": "push",
              "X-GitHub-Delivery": f"bench-{i}", "X-Hub-Signature-256": sig,
              "Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    acc.append(time.perf_counter() - t0)
    assert r.status == 202, r.status
    while not os.path.exists(log):
        time.sleep(0.001)
    start.append(time.perf_counter() - t0)
    while "deploying" not in open(log).read():
        time.sleep(0.002)
    dep.append(time.perf_counter() - t0)
    while " succeeded" not in open(log).read() and "✓ deployed" not in open(log).read():
        time.sleep(0.05)
        if "✗ deploy" in open(log).read():
            sys.exit(f"push {i} failed:\n" + "".join(open(log).readlines()[-15:]))
def line(name, xs):
    ms = [x * 1000 for x in xs]
    print(f"{name:12} median {statistics.median(ms):7.1f} ms   min {min(ms):7.1f}   max {max(ms):7.1f}")
print(f"{n} pushes, each deployed before the next:")
line("accepted", acc)
line("job start", start)
line("deploy", dep)
PY
sleep 3
echo "idle, after the pushes: $(rss)"
