#!/usr/bin/env bash
# The offline apt repository that bare testbed servers (`testbed up N --bare`)
# install Docker from: the Debian .deb files of docker.io, docker-compose and
# everything they depend on (recursively), fetched once with `apt-get
# download` and indexed with `dpkg-scanpackages`.  The servers have no route
# off this machine; their apt sources name this directory as a `file:` repo,
# so `arcane server bootstrap` runs a real `apt-get update` and `apt-get
# install` against it.
#
#   apt-repo.sh build   make it if it is missing or outdated (needs apt's
#                       network once; a complete repo needs nothing)
#   apt-repo.sh path    print its directory (fails if it is not built)
#
# Needs root (apt-get download as root, /var/cache).
set -euo pipefail

REPO=${ARCANE_TESTBED_APT:-/var/cache/arcane-testbed/apt}
# What `arcane server bootstrap` installs, and what the bare servers lose.
ROOTS=(docker.io docker-compose containerd runc tini sudo nftables)
# Bump to rebuild every machine's repo.
REPO_VERSION=1
STAMP="version=$REPO_VERSION roots=${ROOTS[*]}"

say() { [ -n "${QUIET:-}" ] || echo "apt-repo: $*" >&2; }
die() { echo "apt-repo: error: $*" >&2; exit 1; }

complete() {
  [ -f "$REPO/Packages" ] && [ -f "$REPO/Release" ] && [ -f "$REPO/.stamp" ] && [ "$(cat "$REPO/.stamp")" = "$STAMP" ]
}

# Every package the roots need, recursively (Depends and Pre-Depends only:
# bootstrap installs with --no-install-recommends).  Virtual packages
# (`<name>`) are left out; their providers are listed on their own.
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${ROOTS[@]}" |
    grep -v '^[ <]' | sort -u
}

# A Release file naming the indexes, so apt fetches exactly these (without
# one it probes for compressed variants that do not exist, noisily).  The
# repository is unsigned: the servers' sources say [trusted=yes].
write_release() {
  local d=$1 f
  echo "Origin: arcane-testbed"
  echo "Label: arcane-testbed"
  echo "Suite: ./"
  echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
  echo "SHA256:"
  for f in Packages Packages.gz; do
    printf ' %s %s %s\n' "$(sha256sum "$d/$f" | cut -d' ' -f1)" "$(stat -c %s "$d/$f")" "$f"
  done
}

build() {
  if complete; then
    say "up to date in $REPO"
    return 0
  fi
  command -v dpkg-scanpackages >/dev/null || die "dpkg-scanpackages not found (apt-get install dpkg-dev)"
  local tmp pkgs=() p missing=()
  tmp=$(mktemp -d "${REPO%/*}/.apt-repo.XXXXXX" 2>/dev/null) || {
    mkdir -p "${REPO%/*}"
    tmp=$(mktemp -d "${REPO%/*}/.apt-repo.XXXXXX")
  }
  trap 'rm -rf "$tmp"' EXIT
  mapfile -t pkgs < <(closure)
  if [ ${#pkgs[@]} = 0 ]; then
    # A fresh machine (a CI image) may have no package lists yet.
    apt-get -o DPkg::Lock::Timeout=600 update -qq </dev/null >/dev/null 2>&1 || true
    mapfile -t pkgs < <(closure)
  fi
  [ ${#pkgs[@]} -gt 0 ] || die "apt-cache knows none of ${ROOTS[*]} (apt-get update failed?)"
  say "downloading ${#pkgs[@]} packages into $REPO"
  chmod 755 "$tmp"
  # _apt cannot write into a root-only mktemp directory; the download runs
  # as root there, which is what the warning apt prints says.
  # Stale lists name versions the mirror no longer has: update, try again.
  if ! (cd "$tmp" && apt-get download -q "${pkgs[@]}" >"$tmp/.download.log" 2>&1) &&
     ! { apt-get -o DPkg::Lock::Timeout=600 update -qq </dev/null >>"$tmp/.download.log" 2>&1 &&
         (cd "$tmp" && apt-get download -q "${pkgs[@]}" >>"$tmp/.download.log" 2>&1); }; then
    # One at a time, to name what is missing.
    for p in "${pkgs[@]}"; do
      (cd "$tmp" && apt-get download -q "$p" >>"$tmp/.download.log" 2>&1) || missing+=("$p")
    done
    for p in "${ROOTS[@]}"; do
      if printf '%s\n' "${missing[@]}" | grep -qx "$p"; then
        tail -n 20 "$tmp/.download.log" >&2
        die "cannot download $p (is the network or a package mirror reachable?)"
      fi
    done
    say "warning: not downloadable, left out: ${missing[*]}"
  fi
  rm -f "$tmp/.download.log"
  (cd "$tmp" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages)
  gzip -9kf "$tmp/Packages"
  write_release "$tmp" >"$tmp/Release"
  echo "$STAMP" >"$tmp/.stamp"
  chmod -R a+rX "$tmp"
  rm -rf "$REPO"
  mv "$tmp" "$REPO"
  trap - EXIT
  say "built $REPO ($(find "$REPO" -name '*.deb' | wc -l) packages, $(du -sh "$REPO" | cut -f1))"
}

case ${1:-build} in
  build) [ "$(id -u)" = 0 ] || die "must run as root"; build ;;
  path) complete || die "no offline apt repository in $REPO (run scripts/setup-host.sh)"; echo "$REPO" ;;
  *) echo "usage: apt-repo.sh build|path" >&2; exit 2 ;;
esac
