#!/bin/sh
# arcane's git filter vs git-crypt on the same repo of 500 small env files:
# `git add -A` (clean filter on every file) and a fresh checkout (smudge on
# every file), timed side by side with hyperfine.
#   bench/secrets/gitcrypt-compare.sh [ARCANE_RELEASE_BIN]
# Build the binary with `cargo build --release` first. Needs git-crypt and hyperfine.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-${CARGO_TARGET_DIR:-$here/../../target}/release/arcane}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
N=${N:-500}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
mkdir -p "$HOME"

fill() { # dir: write N small env files (5 keys each) into config/envs
  i=1
  while [ "$i" -le "$N" ]; do
    f="$1/config/envs/staging.s$i.env"
    {
      echo "# server s$i"
      echo "DATABASE_URL=postgres://app:pw$i-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')@db$i/app"
      echo "API_TOKEN=tok_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
      echo "REDIS_URL=redis://cache$i:6379/0"
      echo "LOG_LEVEL=info"
      echo "WORKERS=$i"
    } > "$f"
    i=$((i + 1))
  done
}

# arcane: init creates the identity, keys and filters (process protocol).
a="$work/arcane"
mkdir -p "$a" && cd "$a" && git init -q
"$bin" -q init --name bench >/dev/null
fill "$a"
git add -A && git commit -qm init

# git-crypt: symmetric key, one clean/smudge process per file.
g="$work/gitcrypt"
mkdir -p "$g/config/envs" && cd "$g" && git init -q && git-crypt init >/dev/null
echo 'config/envs/*.env filter=git-crypt diff=git-crypt' > .gitattributes
fill "$g"
git add -A && git commit -qm init

echo "== git add -A of $N env files (index reset before each run)"
hyperfine -N --warmup 1 --runs ${RUNS:-10} \
  --prepare "rm -f $a/.git/index" "git -C $a add -A" \
  --prepare "rm -f $g/.git/index" "git -C $g add -A" \
  --export-markdown "$work/add.md"
echo "== fresh checkout of $N env files (files deleted before each run)"
hyperfine -N --warmup 1 --runs ${RUNS:-10} \
  --prepare "rm -rf $a/config/envs" "git -C $a checkout -- config/envs" \
  --prepare "rm -rf $g/config/envs" "git -C $g checkout -- config/envs" \
  --export-markdown "$work/checkout.md"
cat "$work/add.md" "$work/checkout.md"
# Sanity: both working trees hold plaintext, both repos hold ciphertext.
grep -q "API_TOKEN=tok_" "$a/config/envs/staging.s1.env" && grep -q "API_TOKEN=tok_" "$g/config/envs/staging.s1.env"
git -C "$a" show HEAD:config/envs/staging.s1.env | grep -q "API_TOKEN=arcane:v1:"
git -C "$g" show HEAD:config/envs/staging.s1.env | head -c 10 | grep -q "GITCRYPT"
echo "sanity: plaintext in working trees, ciphertext in both repos"
