#!/usr/bin/env bash
# Build the offline base images the testbed (and arcane's examples) rely on,
# and seed them into a Docker engine.  Nothing is pulled: no registry is
# reachable from this machine, so the images are assembled from Debian's
# busybox-static and caddy packages.
#
#   images.sh [seed]        build busybox:stable and caddy:2 into the engine at
#                           $DOCKER_HOST (default: the host engine), skipping
#                           images that are already present and current.
#   images.sh tarball       print the path of a `docker save` tarball of both
#                           images (cached under $ARCANE_TESTBED_CACHE, keyed
#                           by image IDs), building it if needed.
#   images.sh --force ...   rebuild even if present.
#
# The images carry the label org.arcane.testbed.image=<version>; bump
# IMAGE_VERSION when the recipe below changes so existing hosts rebuild.
set -euo pipefail

IMAGE_VERSION=1
IMAGES=("busybox:stable" "caddy:2")
CACHE_DIR=${ARCANE_TESTBED_CACHE:-/var/cache/arcane-testbed}
BUSYBOX_BIN=${BUSYBOX_BIN:-/bin/busybox}
CADDY_BIN=${CADDY_BIN:-/usr/bin/caddy}
LABEL=org.arcane.testbed.image

log() { [ -n "${QUIET:-}" ] || echo "images: $*" >&2; }
die() { echo "images: error: $*" >&2; exit 1; }

FORCE=
CMD=seed
while [ $# -gt 0 ]; do
  case $1 in
    --force) FORCE=1 ;;
    -q|--quiet) QUIET=1 ;;
    seed|tarball) CMD=$1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "images: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

command -v docker >/dev/null || die "docker CLI not found (run scripts/setup-host.sh)"
docker version >/dev/null 2>&1 || die "no Docker engine answers at ${DOCKER_HOST:-the default socket} (run scripts/setup-host.sh)"

# Is IMAGE present, and built by this recipe version (or not built by us at
# all, e.g. a real upstream image someone loaded: leave that alone)?
current() {
  local img=$1 v
  v=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$img" 2>/dev/null) || return 1
  [ "$v" = "<no value>" ] || [ -z "$v" ] || [ "$v" = "$IMAGE_VERSION" ]
}

# Populate ROOT with busybox and one symlink per applet, at both /bin/NAME
# (where the upstream busybox image has them) and the applet's canonical path.
install_busybox() {
  local root=$1 p
  mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin"
  cp "$BUSYBOX_BIN" "$root/bin/busybox"
  chmod 755 "$root/bin/busybox"
  while read -r p; do
    [ "$p" = linuxrc ] && continue
    [ -e "$root/bin/${p##*/}" ] || ln -s busybox "$root/bin/${p##*/}"
    [ -e "$root/$p" ] || [ -L "$root/$p" ] || ln -s /bin/busybox "$root/$p"
  done < <("$BUSYBOX_BIN" --list-full)
  "$root/bin/busybox" true  # statically linked: must run anywhere
}

base_etc() {
  local root=$1
  mkdir -p "$root/etc" "$root/root" "$root/tmp" "$root/var/tmp" "$root/home" "$root/var/www"
  chmod 1777 "$root/tmp" "$root/var/tmp"
  chmod 700 "$root/root"
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
www-data:x:33:
nogroup:x:65534:
EOF
  echo 'hosts: files dns' >"$root/etc/nsswitch.conf"
}

# import ROOT as IMAGE with the given --change instructions.
import_rootfs() {
  local root=$1 img=$2; shift 2
  local changes=(--change "LABEL $LABEL=$IMAGE_VERSION")
  local c
  for c in "$@"; do changes+=(--change "$c"); done
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . \
    | docker import "${changes[@]}" --message "arcane testbed offline image" - "$img" >/dev/null
}

build_busybox() {
  local t; t=$(mktemp -d)
  install_busybox "$t"
  base_etc "$t"
  import_rootfs "$t" busybox:stable 'CMD ["sh"]' \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  rm -rf "$t"
}

build_caddy() {
  [ -x "$CADDY_BIN" ] || die "$CADDY_BIN missing (apt-get install caddy)"
  local t lib; t=$(mktemp -d)
  install_busybox "$t"   # upstream caddy:2 is alpine-based: it has sh and wget
  base_etc "$t"
  mkdir -p "$t/usr/bin" "$t/etc/caddy" "$t/usr/share/caddy" "$t/config/caddy" "$t/data/caddy" "$t/srv" "$t/etc/ssl/certs"
  cp "$CADDY_BIN" "$t/usr/bin/caddy"
  # The Debian binary is dynamically linked: carry its libraries and loader.
  for lib in $(ldd "$CADDY_BIN" | grep -o '/[^ ]*'); do
    mkdir -p "$t$(dirname "$lib")"
    cp -L "$lib" "$t$lib"
  done
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp -L /etc/ssl/certs/ca-certificates.crt "$t/etc/ssl/certs/ca-certificates.crt"
  fi
  [ -f /etc/mime.types ] && cp -L /etc/mime.types "$t/etc/mime.types"
  cat >"$t/etc/caddy/Caddyfile" <<'EOF'
# Default Caddyfile of the arcane testbed's offline caddy:2 image
# (same behaviour as the upstream image: serve /usr/share/caddy on :80).
:80 {
	root * /usr/share/caddy
	file_server
}
EOF
  cat >"$t/usr/share/caddy/index.html" <<'EOF'
<!DOCTYPE html>
<html><head><title>Caddy works!</title></head>
<body><h1>Caddy works!</h1><p>Offline caddy:2 image of the arcane testbed.</p></body></html>
EOF
  chroot "$t" /usr/bin/caddy version >/dev/null || die "caddy does not run in its rootfs (missing library?)"
  import_rootfs "$t" caddy:2 \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV XDG_CONFIG_HOME=/config' \
    'ENV XDG_DATA_HOME=/data' \
    'EXPOSE 80 443 443/udp 2019' \
    'WORKDIR /srv' \
    'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'
  rm -rf "$t"
}

seed() {
  local img
  for img in "${IMAGES[@]}"; do
    if [ -z "$FORCE" ] && current "$img"; then
      log "$img present"
      continue
    fi
    log "building $img"
    case $img in
      busybox:*) build_busybox ;;
      caddy:*) build_caddy ;;
    esac
  done
}

# A `docker save` of the images, cached by image IDs so `testbed up` does not
# re-export them for every server or every run.
tarball() {
  seed
  local ids key f
  ids=$(docker image inspect -f '{{.Id}}' "${IMAGES[@]}")
  key=$(printf '%s\n' "$ids" | sha256sum | cut -c1-16)
  f=$CACHE_DIR/base-images-$key.tar
  if [ ! -s "$f" ]; then
    mkdir -p "$CACHE_DIR"
    rm -f "$CACHE_DIR"/base-images-*.tar
    docker save -o "$f.tmp.$$" "${IMAGES[@]}"
    mv "$f.tmp.$$" "$f"
    log "saved ${IMAGES[*]} to $f"
  fi
  echo "$f"
}

case $CMD in
  seed) seed ;;
  tarball) tarball ;;
esac
