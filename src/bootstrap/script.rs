//! The shell scripts of each bootstrap step, built by pure functions.
//!
//! Every step script looks before it changes anything and prints one
//! result line on stdout, `arcane:changed<TAB>what it did` or
//! `arcane:unchanged<TAB>what it found`, so a second run says "unchanged"
//! step by step. With `DRY=1` a script only looks, and says what it
//! `would` do. A failure exits non-zero with the reason on stderr. The
//! scripts are POSIX sh (dash on Debian and Ubuntu) and run as root
//! (`sh -c`, or `sudo -n sh -c` for a sudo user); what they print never
//! contains a secret (there is none: public keys and settings only).

use super::firewall;
use super::Spec;
use crate::config::bootstrap::DockerSource;
use crate::remote::shell_quote;

/// The fingerprint of Docker's apt signing key; a downloaded key must
/// match it before apt trusts the repository.
pub const DOCKER_KEY_FINGERPRINT: &str = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88";

/// Where bootstrap logs what apt printed (kept for a look after a failure).
pub const LOG: &str = "/var/log/arcane-bootstrap.log";

/// The sshd drop-in bootstrap writes. `00-` so that it comes before the
/// drop-ins of cloud images (`50-cloud-init.conf` allows passwords), as
/// sshd keeps the first value it reads.
pub const SSHD_DROPIN: &str = "/etc/ssh/sshd_config.d/00-arcane.conf";

/// Shared helpers: `change DONE WOULD` records a change (or what would
/// change), `run CMD...` runs only when not dry, `finish FOUND` prints the
/// result line.
const PRELUDE: &str = r#"set -u
export DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
did=""
fail() { printf '%s\n' "$*" >&2; exit 1; }
change() { if [ "$DRY" = 1 ]; then did="${did:+$did; }$2"; else did="${did:+$did; }$1"; fi; }
run() { [ "$DRY" = 1 ] || "$@" || fail "failed: $*"; }
finish() {
  if [ -z "$did" ]; then printf 'arcane:unchanged\t%s\n' "$1"
  elif [ "$DRY" = 1 ]; then printf 'arcane:changed\twould %s\n' "$did"
  else printf 'arcane:changed\t%s\n' "$did"; fi
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'; }
aptq() {
  printf '\n== %s: apt-get %s\n' "$(date -u '+%F %T')" "$*" >>"$LOG"
  apt-get -o DPkg::Lock::Timeout=300 -q "$@" </dev/null >>"$LOG" 2>&1 || {
    tail -n 12 "$LOG" >&2
    fail "apt-get $1 failed (its output is in $LOG on the server)"
  }
}
"#;

fn head(dry: bool, vars: &[(&str, &str)]) -> String {
    let mut s = String::from(PRELUDE);
    s.push_str(&format!("DRY={}\nLOG={}\n", u8::from(dry), LOG));
    for (k, v) in vars {
        s.push_str(&format!("{k}={}\n", shell_quote(v)));
    }
    // Scripts that do not know yet (cloud-init's) look for themselves.
    if vars.iter().any(|(k, v)| *k == "SYSTEMD" && *v == "auto") {
        s.push_str("if [ -d /run/systemd/system ]; then SYSTEMD=1; else SYSTEMD=0; fi\n");
    }
    s
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// Whether systemd runs: known from the probe, or `None` to look on the
/// server when the script runs.
fn systemd_flag(systemd: Option<bool>) -> &'static str {
    match systemd {
        Some(b) => flag(b),
        None => "auto",
    }
}

/// One round trip before anything else: who we are, whether sudo works
/// without a password, whether systemd runs, and `/etc/os-release`.
pub fn probe(deploy_user: &str) -> String {
    let mut s = format!("U={}\n", shell_quote(deploy_user));
    s.push_str(
        r#"printf 'uid\t%s\n' "$(id -u)"
printf 'user\t%s\n' "$(id -un)"
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then printf 'sudo\tyes\n'; else printf 'sudo\tno\n'; fi
fi
[ -d /run/systemd/system ] && printf 'systemd\tyes\n'
printf 'deploy_user\t%s\n' "$(getent passwd "$U" >/dev/null 2>&1 && echo yes || echo no)"
echo '-- os-release'
cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null || true
"#,
    );
    s
}

/// Docker (the distribution's `docker.io` and compose package, or
/// Docker's signed repository), plus `sudo` and `nftables` when the spec
/// needs them. One `apt-get update` and one `apt-get install`.
pub fn packages(spec: &Spec, dry: bool) -> String {
    let mut s = head(
        dry,
        &[
            ("MODE", spec.docker_word()),
            ("SUDO", flag(spec.sudo)),
            ("FW", flag(spec.firewall.is_some())),
            ("FPR", DOCKER_KEY_FINGERPRINT),
        ],
    );
    s.push_str(
        r#"docker_pkgs="" repo=0 compose=0 extra=""
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }
if [ "$MODE" = upstream ]; then
  if installed docker-ce; then have="docker-ce $(ver docker-ce)"
  elif installed docker.io; then
    fail "the distribution's docker.io is installed; [bootstrap] docker = \"upstream\" does not replace a running engine: remove it first (apt-get purge docker.io), or use docker = \"distro\""
  else docker_pkgs="docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin"; repo=1; fi
else
  if installed docker.io; then have="docker.io $(ver docker.io)"
  elif installed docker-ce; then have="docker-ce $(ver docker-ce) (from Docker's repository; kept)"
  elif command -v dockerd >/dev/null 2>&1; then have="dockerd $(dockerd --version 2>/dev/null | cut -d' ' -f3 | tr -d ,) (not from a package; kept)"
  else docker_pkgs="docker.io"; fi
  if [ -n "$docker_pkgs" ] || ! { installed docker-compose-v2 || installed docker-compose-plugin || installed docker-compose || command -v docker-compose >/dev/null 2>&1; }; then compose=1; fi
fi
if [ "$SUDO" = 1 ] && ! command -v sudo >/dev/null 2>&1; then extra="$extra sudo"; fi
if [ "$FW" = 1 ] && ! command -v nft >/dev/null 2>&1; then extra="$extra nftables"; fi
extra=${extra# }
if [ -z "$docker_pkgs" ] && [ "$compose" = 0 ] && [ -z "$extra" ]; then
  c=""
  for p in docker-compose-v2 docker-compose-plugin docker-compose; do installed "$p" && { c=", $p $(ver "$p")"; break; }; done
  finish "$have$c already installed"; exit 0
fi
want="$docker_pkgs${extra:+ $extra}"
want=${want# }
if [ "$DRY" = 1 ]; then
  what="$want"
  [ "$compose" = 1 ] && what="${what:+$what and }the distribution's compose package"
  [ "$repo" = 1 ] && what="$what from Docker's signed apt repository"
  change "" "install $what"; finish ""; exit 0
fi
: >>"$LOG" && chmod 600 "$LOG"
aptq update
if [ "$repo" = 1 ]; then
  aptq install -y --no-install-recommends ca-certificates curl gnupg
  . /etc/os-release
  tmp=$(mktemp -d)
  curl -fsSL --proto '=https' "https://download.docker.com/linux/$ID/gpg" -o "$tmp/docker.asc" || { rm -rf "$tmp"; fail "cannot download Docker's apt signing key"; }
  got=$(GNUPGHOME="$tmp" gpg --batch --show-keys --with-colons "$tmp/docker.asc" 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }')
  [ "$got" = "$FPR" ] || { rm -rf "$tmp"; fail "the downloaded Docker signing key has fingerprint ${got:-none}, not $FPR; refusing to trust it"; }
  install -d -m 0755 /etc/apt/keyrings && install -m 0644 "$tmp/docker.asc" /etc/apt/keyrings/docker.asc || fail "cannot install the key"
  rm -rf "$tmp"
  printf 'deb [arch=%s signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/%s %s stable\n' \
    "$(dpkg --print-architecture)" "$ID" "$VERSION_CODENAME" >/etc/apt/sources.list.d/docker.list || fail "cannot write the apt source"
  aptq update
fi
cpkg=""
if [ "$compose" = 1 ]; then
  for p in docker-compose-v2 docker-compose; do
    if apt-cache show "$p" >/dev/null 2>&1; then cpkg=$p; break; fi
  done
fi
aptq install -y --no-install-recommends $want $cpkg
all="$want${cpkg:+ $cpkg}"
change "installed ${all# }" ""
[ "$compose" = 1 ] && [ -z "$cpkg" ] && change "(this distribution's sources have no compose package)" ""
finish ""
"#,
    );
    s
}

/// Start the engine and have it start at boot: systemd where it runs;
/// otherwise the package's init script, and if that cannot start it (a
/// container's limits, no init system at all), `dockerd` itself.
pub fn engine(systemd: Option<bool>, dry: bool) -> String {
    let mut s = head(dry, &[("SYSTEMD", systemd_flag(systemd))]);
    s.push_str(
        r#"up() { docker version --format '{{.Server.Version}}' 2>/dev/null; }
wait_up() { i=0; while ! v=$(up); do i=$((i + 1)); [ $i -le "$1" ] || return 1; sleep 0.5; done; }
if ! command -v dockerd >/dev/null 2>&1; then
  [ "$DRY" = 1 ] || fail "dockerd is not installed"
  change "" "start the engine once it is installed"; finish ""; exit 0
fi
if [ "$SYSTEMD" = 1 ]; then
  en=$(systemctl is-enabled docker.service 2>/dev/null); ac=$(systemctl is-active docker.service 2>/dev/null)
  if [ "$en" = enabled ] && [ "$ac" = active ] && wait_up 20; then finish "docker.service enabled and running (docker $v)"; exit 0; fi
  if [ "$DRY" = 1 ]; then change "" "enable and start docker.service"; finish ""; exit 0; fi
  out=$(systemctl enable --now docker.service 2>&1) || fail "systemctl enable --now docker.service failed: $out"
  wait_up 120 || fail "docker.service started but the engine does not answer (journalctl -u docker)"
  change "enabled and started docker.service (docker $v)" ""
  finish ""; exit 0
fi
if v=$(up); then finish "dockerd is running (docker $v; no systemd here)"; exit 0; fi
if [ "$DRY" = 1 ]; then change "" "start dockerd (no systemd here)"; finish ""; exit 0; fi
how=""
if [ -x /etc/init.d/docker ] && /etc/init.d/docker start </dev/null >>"$LOG" 2>&1 && wait_up 40; then
  how="/etc/init.d/docker"
else
  setsid dockerd </dev/null >>/var/log/dockerd.log 2>&1 &
  pid=$!
  i=0
  while ! v=$(up); do
    i=$((i + 1))
    if ! kill -0 "$pid" 2>/dev/null || [ $i -gt 240 ]; then
      tail -n 5 /var/log/dockerd.log >&2
      fail "dockerd did not come up (log: /var/log/dockerd.log on the server)"
    fi
    sleep 0.5
  done
  how="dockerd itself (log /var/log/dockerd.log)"
fi
if [ "$how" = /etc/init.d/docker ] && [ "$(cat /proc/1/comm 2>/dev/null)" = init ]; then
  boot="init starts it at boot"
else
  boot="no init system manages it: start it again after a reboot"
fi
change "started with $how, docker $v (no systemd; $boot)" ""
finish ""
"#,
    );
    s
}

/// The deploy user: created in the docker group, not locked for key
/// logins, its `authorized_keys` exactly the configured keys (read from
/// stdin), passwordless sudo or none as configured.
pub fn user(spec: &Spec, dry: bool) -> String {
    let mut s = head(
        dry,
        &[
            ("U", &spec.user),
            ("SUDO", flag(spec.sudo)),
            ("SUDOERS", sudoers(&spec.user).trim_end()),
            ("SUDOERS_FILE", &sudoers_path(&spec.user)),
        ],
    );
    s.push_str(
        r#"keys=$(cat)
n=$(printf '%s\n' "$keys" | grep -c '^[a-z]')
if ! getent passwd "$U" >/dev/null 2>&1; then
  if [ "$DRY" = 1 ]; then change "" "create $U in the docker group with $n key(s)"; finish ""; exit 0; fi
  getent group docker >/dev/null 2>&1 || fail "the docker group does not exist (is Docker installed?)"
  out=$(useradd --create-home --shell /bin/bash --user-group --groups docker --comment 'arcane deploy user' "$U" 2>&1) || fail "useradd $U failed: $out"
  change "created $U" ""
fi
if ! id -nG "$U" | tr ' ' '\n' | grep -qx docker; then
  if [ "$DRY" != 1 ]; then getent group docker >/dev/null 2>&1 || fail "the docker group does not exist (is Docker installed?)"; fi
  run usermod -aG docker "$U"; change "added $U to the docker group" "add $U to the docker group"
fi
# sshd without PAM refuses key logins to a locked account ('!'); '*'
# allows no password either.
case "$(getent shadow "$U" | cut -d: -f2)" in
  '!'*) run usermod -p '*' "$U"; change "unlocked $U for key logins (it has no password)" "unlock $U for key logins" ;;
esac
home=$(getent passwd "$U" | cut -d: -f6); grp=$(id -gn "$U")
if [ ! -d "$home" ]; then run install -d -m 750 -o "$U" -g "$grp" "$home"; change "created $home" "create $home"; fi
if [ -d "$home" ] && [ -n "$(find "$home" -maxdepth 0 -perm /022)" ]; then
  run chmod go-w "$home"; change "made $home writable by $U only (sshd insists)" "make $home writable by $U only"
fi
ak=$home/.ssh/authorized_keys
# The keys decide, not the comments (cloud-init writes the same keys
# without arcane's header).
if [ "$(grep -v '^#' "$ak" 2>/dev/null)" != "$(printf '%s\n' "$keys" | grep -v '^#')" ]; then
  if [ "$DRY" != 1 ]; then
    install -d -m 700 -o "$U" -g "$grp" "$home/.ssh" || fail "cannot create $home/.ssh"
    tmp=$(mktemp "$home/.ssh/.authorized_keys.XXXXXX") || fail "cannot write in $home/.ssh"
    printf '%s\n' "$keys" >"$tmp" && chown "$U:$grp" "$tmp" && chmod 600 "$tmp" && mv -f "$tmp" "$ak" || fail "cannot write $ak"
  fi
  change "wrote $n key(s) to $ak" "write $n key(s) to $ak"
elif [ "$(stat -c '%U %a' "$home/.ssh" "$ak" | tr '\n' ' ')" != "$U 700 $U 600 " ]; then
  run chown "$U:$grp" "$home/.ssh" "$ak"; run chmod 700 "$home/.ssh"; run chmod 600 "$ak"
  change "fixed the owner and modes of $home/.ssh" "fix the owner and modes of $home/.ssh"
fi
if [ "$SUDO" = 1 ]; then
  if [ "$(cat "$SUDOERS_FILE" 2>/dev/null)" != "$SUDOERS" ]; then
    if [ "$DRY" != 1 ]; then
      command -v visudo >/dev/null 2>&1 || fail "sudo is not installed"
      tmp=$(mktemp) && printf '%s\n' "$SUDOERS" >"$tmp" || fail "cannot write a temporary file"
      out=$(visudo -cf "$tmp" 2>&1) || { rm -f "$tmp"; fail "visudo rejected the sudoers line: $out"; }
      install -m 440 -o root -g root "$tmp" "$SUDOERS_FILE" || fail "cannot write $SUDOERS_FILE"
      rm -f "$tmp"
    fi
    change "gave $U passwordless sudo ($SUDOERS_FILE)" "give $U passwordless sudo ($SUDOERS_FILE)"
  fi
elif [ -f "$SUDOERS_FILE" ]; then
  run rm -f "$SUDOERS_FILE"; change "removed $SUDOERS_FILE (sudo = false)" "remove $SUDOERS_FILE (sudo = false)"
fi
s=""; [ "$SUDO" = 1 ] && s=", passwordless sudo"
finish "$U exists, in the docker group$s, $n key(s)"
"#,
    );
    s
}

/// The deploy user's sudoers drop-in, and where it goes.
pub fn sudoers(user: &str) -> String {
    format!("# Written by `arcane server bootstrap` ([bootstrap] sudo = true).\n{user} ALL=(ALL:ALL) NOPASSWD:ALL\n")
}

pub fn sudoers_path(user: &str) -> String {
    format!("/etc/sudoers.d/arcane-{user}")
}

/// `authorized_keys` as bootstrap writes it: a header, then the keys.
pub fn authorized_keys(keys: &[String]) -> String {
    let mut s = String::from(
        "# Managed by `arcane server bootstrap` ([bootstrap] authorized_keys in arcane.toml):\n# a bootstrap rewrites this file.\n",
    );
    for k in keys {
        s.push_str(k);
        s.push('\n');
    }
    s
}

/// `~/.arcane/<app>/<env>` of the deploy user, owned by it: where the
/// deploy engine keeps releases, the lock and env files.
pub fn layout(spec: &Spec, dry: bool) -> String {
    let mut s = head(
        dry,
        &[("U", &spec.user), ("APP", &spec.app), ("ENV", &spec.env)],
    );
    s.push_str(
        r#"if ! getent passwd "$U" >/dev/null 2>&1; then
  [ "$DRY" = 1 ] || fail "$U does not exist"
  change "" "create ~$U/.arcane/$APP/$ENV"; finish ""; exit 0
fi
home=$(getent passwd "$U" | cut -d: -f6); grp=$(id -gn "$U")
for d in "$home/.arcane" "$home/.arcane/$APP" "$home/.arcane/$APP/$ENV"; do
  if [ ! -d "$d" ]; then
    run install -d -m 700 -o "$U" -g "$grp" "$d"; change "created $d" "create $d"
  elif [ "$(stat -c %U "$d")" != "$U" ]; then
    run chown "$U:$grp" "$d"; change "gave $d to $U" "give $d to $U"
  fi
done
finish "$home/.arcane/$APP/$ENV exists, owned by $U"
"#,
    );
    s
}

/// What the second SSH connection, as the deploy user, runs: proof that
/// the key login works, that the docker group gives the engine, and
/// whether sudo works.
pub fn login_check() -> &'static str {
    r#"printf 'user\t%s\n' "$(id -un)"
printf 'groups\t%s\n' "$(id -nG)"
if v=$(docker version --format '{{.Server.Version}}' 2>&1); then printf 'docker\t%s\n' "$v"; else printf 'docker_error\t%s\n' "$(printf '%s' "$v" | tail -n 1)"; fi
if sudo -n true 2>/dev/null; then printf 'sudo\tyes\n'; fi
"#
}

/// Load the firewall ruleset (stdin) and have it loaded at boot. The
/// previous ruleset is kept as `firewall.nft.prev` for [`firewall_undo`].
pub fn firewall(systemd: bool, desc: &str, dry: bool) -> String {
    let mut s = head(
        dry,
        &[
            ("SYSTEMD", flag(systemd)),
            ("DESC", desc),
            ("F", firewall::RULES_PATH),
            ("UNIT_FILE", firewall::UNIT_PATH),
            ("UNIT", firewall::unit().trim_end()),
            ("HOOK_FILE", firewall::IFUP_HOOK_PATH),
            ("HOOK", firewall::ifup_hook().trim_end()),
        ],
    );
    s.push_str(
        r#"rules=$(cat)
if ! command -v nft >/dev/null 2>&1; then
  [ "$DRY" = 1 ] || fail "nft is not installed"
  change "" "load the firewall ($DESC)"; finish ""; exit 0
fi
if [ "$(cat "$F" 2>/dev/null)" != "$rules" ] || ! nft list table inet arcane >/dev/null 2>&1; then
  if [ "$DRY" != 1 ]; then
    install -d -m 755 /etc/arcane || fail "cannot create /etc/arcane"
    tmp=$(mktemp /etc/arcane/.firewall.XXXXXX) && printf '%s\n' "$rules" >"$tmp" && chmod 644 "$tmp" || fail "cannot write in /etc/arcane"
    out=$(nft -c -f "$tmp" 2>&1) || { rm -f "$tmp"; fail "nft rejected the ruleset: $out"; }
    rm -f "$F.prev"; [ -f "$F" ] && cp -p "$F" "$F.prev"
    mv -f "$tmp" "$F" || fail "cannot write $F"
    out=$(nft -f "$F" 2>&1) || fail "nft -f $F failed: $out"
  fi
  change "loaded the firewall ($DESC)" "load the firewall ($DESC)"
fi
if [ "$SYSTEMD" = 1 ]; then
  boot="arcane-firewall.service loads it at boot"
  if [ "$(cat "$UNIT_FILE" 2>/dev/null)" != "$UNIT" ] || ! systemctl is-enabled --quiet arcane-firewall.service 2>/dev/null; then
    if [ "$DRY" != 1 ]; then
      printf '%s\n' "$UNIT" >"$UNIT_FILE" || fail "cannot write $UNIT_FILE"
      systemctl daemon-reload && systemctl enable --quiet arcane-firewall.service || fail "cannot enable arcane-firewall.service"
    fi
    change "enabled arcane-firewall.service (loads it at boot)" "enable arcane-firewall.service"
  fi
elif [ -d /etc/network/if-pre-up.d ]; then
  boot="ifupdown loads it when the network comes up (no systemd)"
  if [ "$(cat "$HOOK_FILE" 2>/dev/null)" != "$HOOK" ]; then
    if [ "$DRY" != 1 ]; then printf '%s\n' "$HOOK" >"$HOOK_FILE" && chmod 755 "$HOOK_FILE" || fail "cannot write $HOOK_FILE"; fi
    change "added $HOOK_FILE (loads it at boot; no systemd)" "add $HOOK_FILE"
  fi
else
  boot="nothing loads it again after a reboot (no systemd, no ifupdown)"
  [ -z "$did" ] || change "$boot" "$boot"
fi
finish "table inet arcane is loaded ($DESC); $boot"
"#,
    );
    s
}

/// Put back the ruleset that was there before (or remove arcane's table)
/// when the server cannot be reached through the new one.
pub fn firewall_undo(systemd: bool) -> String {
    format!(
        r#"F={f}
if [ -f "$F.prev" ]; then mv -f "$F.prev" "$F" && nft -f "$F"
else
  nft delete table inet arcane 2>/dev/null
  rm -f "$F" {hook}
  if [ {sd} = 1 ]; then systemctl disable --quiet arcane-firewall.service 2>/dev/null; rm -f {unit}; systemctl daemon-reload; fi
fi
exit 0
"#,
        f = shell_quote(firewall::RULES_PATH),
        hook = shell_quote(firewall::IFUP_HOOK_PATH),
        unit = shell_quote(firewall::UNIT_PATH),
        sd = flag(systemd),
    )
}

/// The sshd drop-in's text.
pub fn sshd_dropin(spec: &Spec) -> String {
    format!(
        "# Written by arcane ([bootstrap] harden_ssh): logins by key only, {} logs in\n# and uses sudo. To undo: remove this file and reload sshd.\nPermitRootLogin {}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n",
        spec.user,
        spec.root_login()
    )
}

const SSHD_RELOAD: &str = r#"reload_sshd() {
  if [ "$SYSTEMD" = 1 ]; then
    systemctl reload ssh.service 2>/dev/null || systemctl reload sshd.service 2>/dev/null || return 1
  elif [ -f /run/sshd.pid ] && kill -HUP "$(cat /run/sshd.pid)" 2>/dev/null; then :
  else service ssh reload >/dev/null 2>&1 || return 1
  fi
  # sshd re-executes itself on SIGHUP: give it a moment to listen again.
  sleep 1
}
"#;

/// Harden sshd with the drop-in (stdin): checked with `sshd -t`, its
/// effect confirmed with `sshd -T`, then sshd reloaded. A drop-in sshd
/// rejects, or whose settings another line overrides, is taken back.
pub fn sshd(spec: &Spec, systemd: bool, dry: bool) -> String {
    let mut s = head(
        dry,
        &[
            ("SYSTEMD", flag(systemd)),
            ("ROOT_LOGIN", spec.root_login()),
            ("F", SSHD_DROPIN),
        ],
    );
    s.push_str(SSHD_RELOAD);
    s.push_str(
        r#"want=$(cat)
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || fail "sshd is not installed here"
eff() { "$SSHD" -T 2>/dev/null | tr 'A-Z' 'a-z' | grep -E '^(permitrootlogin|passwordauthentication|kbdinteractiveauthentication) '; }
good() {
  e=$(eff)
  printf '%s\n' "$e" | grep -qx "permitrootlogin $ROOT_LOGIN" &&
    printf '%s\n' "$e" | grep -qx 'passwordauthentication no' &&
    ! printf '%s\n' "$e" | grep -qx 'kbdinteractiveauthentication yes'
}
settings="PermitRootLogin $ROOT_LOGIN, no password or keyboard-interactive logins"
if [ "$(cat "$F" 2>/dev/null)" = "$want" ] && good; then finish "$F in place ($settings)"; exit 0; fi
grep -Eiq '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf' /etc/ssh/sshd_config ||
  fail "/etc/ssh/sshd_config does not include /etc/ssh/sshd_config.d/*.conf, where arcane writes its settings: add 'Include /etc/ssh/sshd_config.d/*.conf' at its top, or set [bootstrap] harden_ssh = false"
if [ "$DRY" = 1 ]; then change "" "write $F ($settings) and reload sshd"; finish ""; exit 0; fi
D=$(dirname "$F")
install -d -m 755 "$D" || fail "cannot create $D"
rm -f "$F.arcane-prev"; [ -f "$F" ] && cp -p "$F" "$F.arcane-prev"
restore() { if [ -f "$F.arcane-prev" ]; then mv -f "$F.arcane-prev" "$F"; else rm -f "$F"; fi; }
tmp=$(mktemp "$D/.arcane.XXXXXX") && printf '%s\n' "$want" >"$tmp" && chmod 644 "$tmp" && mv -f "$tmp" "$F" || fail "cannot write $F"
if ! out=$("$SSHD" -t 2>&1); then restore; fail "sshd -t rejected the new settings, so they were taken back: $out"; fi
if ! good; then
  e=$(eff | tr '\n' ' '); restore
  fail "a setting read before $F wins over it (sshd -T: $e): remove it from /etc/ssh/sshd_config or the drop-in that sets it; nothing was changed"
fi
reload_sshd || { restore; fail "cannot reload sshd (no systemd unit ssh/sshd, no /run/sshd.pid); the drop-in was taken back"; }
change "wrote $F ($settings) and reloaded sshd" ""
finish ""
"#,
    );
    s
}

/// Take the drop-in back (the previous one, or none) and reload sshd: the
/// deploy user could not log in once it was active.
pub fn sshd_undo(systemd: bool) -> String {
    let mut s = format!(
        "SYSTEMD={}\nF={}\n",
        flag(systemd),
        shell_quote(SSHD_DROPIN)
    );
    s.push_str(SSHD_RELOAD);
    s.push_str(
        r#"if [ -f "$F.arcane-prev" ]; then mv -f "$F.arcane-prev" "$F"; else rm -f "$F"; fi
reload_sshd
"#,
    );
    s
}

impl Spec {
    fn docker_word(&self) -> &'static str {
        match self.docker {
            DockerSource::Distro => "distro",
            DockerSource::Upstream => "upstream",
        }
    }

    /// No root login once the deploy user can sudo; key-only root login
    /// when it cannot, or nobody could administer the server any more.
    pub fn root_login(&self) -> &'static str {
        if self.sudo {
            "no"
        } else {
            "prohibit-password"
        }
    }
}

#[cfg(test)]
#[path = "script_tests.rs"]
mod tests;
