//! The Tailscale client's command lines and outputs, as pure functions:
//! the probe script, the install scripts, `tailscale up`'s argv, and the
//! parsers of `tailscale version` and `tailscale status --json` (whose
//! shape is `ipnstate.Status`: `BackendState`, `Self{HostName, DNSName,
//! TailscaleIPs, Tags}`, `CurrentTailnet{Name, MagicDNSSuffix}`).

use crate::network::NodeStatus;
use crate::remote::{shell_quote, Cmd};
use serde_json::Value;

/// Tailscale's apt repository (signed; the key comes from the same place
/// over HTTPS, like Tailscale's own instructions do it).
pub const APT_REPO: &str = "https://pkgs.tailscale.com/stable";
/// Tailscale's install script, used only with `method = "script"`.
pub const INSTALL_SCRIPT: &str = "https://tailscale.com/install.sh";
/// Where the apt repository's key is kept.
pub const KEYRING: &str = "/usr/share/keyrings/tailscale-archive-keyring.gpg";

/// What the probe found about a server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// `uname -s`.
    pub kernel: String,
    /// /etc/os-release `ID`, `ID_LIKE`, `VERSION_ID`, `VERSION_CODENAME`.
    pub os_id: String,
    pub os_like: String,
    pub os_version: String,
    pub os_codename: String,
    pub uid: Option<u32>,
    pub user: String,
    pub home: String,
    pub sudo: bool,
    /// Path of the `tailscale` binary and the first line of `tailscale version`.
    pub client: Option<(String, String)>,
}

impl Facts {
    /// `debian 12`, `ubuntu 24.04`, or the kernel when there is no os-release.
    pub fn os(&self) -> String {
        match (self.os_id.as_str(), self.os_version.as_str()) {
            ("", _) if self.kernel.is_empty() => "unknown".into(),
            ("", _) => self.kernel.clone(),
            (id, "") => id.to_string(),
            (id, v) => format!("{id} {v}"),
        }
    }

    /// Debian or Ubuntu on Linux: where arcane installs the client.
    pub fn install_supported(&self) -> bool {
        self.kernel == "Linux" && matches!(self.os_id.as_str(), "debian" | "ubuntu")
    }

    pub fn is_root(&self) -> bool {
        self.uid == Some(0)
    }
}

/// One round trip that reads the OS, the user and the client.
pub fn probe_script() -> &'static str {
    "echo \"kernel=$(uname -s)\"; \
     ( if [ -r /etc/os-release ]; then . /etc/os-release; fi; \
       echo \"os_id=${ID:-}\"; echo \"os_like=${ID_LIKE:-}\"; \
       echo \"os_version=${VERSION_ID:-}\"; echo \"os_codename=${VERSION_CODENAME:-}\" ); \
     echo \"uid=$(id -u)\"; echo \"user=$(id -un)\"; echo \"home=$HOME\"; \
     if command -v sudo >/dev/null 2>&1; then echo sudo=yes; fi; \
     if p=$(command -v tailscale 2>/dev/null); then echo \"client=$p\"; \
       echo \"version=$(tailscale version 2>/dev/null | head -n 1)\"; fi; true"
}

pub fn parse_facts(out: &str) -> Facts {
    let mut f = Facts::default();
    let mut client: Option<String> = None;
    let mut version = String::new();
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().to_string();
        match k {
            "kernel" => f.kernel = v,
            "os_id" => f.os_id = v.to_ascii_lowercase(),
            "os_like" => f.os_like = v,
            "os_version" => f.os_version = v,
            "os_codename" => f.os_codename = v,
            "uid" => f.uid = v.parse().ok(),
            "user" => f.user = v,
            "home" => f.home = v,
            "sudo" => f.sudo = v == "yes",
            "client" => client = Some(v),
            "version" => version = v,
            _ => {}
        }
    }
    f.client = client.map(|p| (p, version));
    f
}

/// `script` as root: as is for root, through `sudo -n` (never a password
/// prompt: it would hang) otherwise. `None` when neither is possible.
pub fn as_root(script: &str, f: &Facts) -> Option<Cmd> {
    if f.is_root() {
        Some(Cmd::shell(script))
    } else if f.sudo {
        Some(Cmd::argv(["sudo", "-n", "sh", "-c", script]))
    } else {
        None
    }
}

/// Add Tailscale's signed apt repository for this distribution and install
/// (or upgrade to) the newest client, then make sure the daemon runs.
pub fn apt_install_script(os_id: &str, codename: &str) -> String {
    let base = format!("{APT_REPO}/{os_id}");
    let key_url = format!("{base}/{codename}.noarmor.gpg");
    let line = format!("deb [signed-by={KEYRING}] {base} {codename} main");
    format!(
        "set -e; export DEBIAN_FRONTEND=noninteractive; \
         if ! command -v curl >/dev/null 2>&1; then apt-get update -q; apt-get install -y -q curl ca-certificates; fi; \
         install -d -m 0755 /usr/share/keyrings; \
         curl -fsSL {key} -o {kr}.tmp; mv -f {kr}.tmp {kr}; chmod 0644 {kr}; \
         echo {line} > /etc/apt/sources.list.d/tailscale.list; \
         apt-get update -q; apt-get install -y -q tailscale; \
         if command -v systemctl >/dev/null 2>&1; then systemctl enable --now tailscaled >/dev/null 2>&1 || true; fi",
        key = shell_quote(&key_url),
        kr = KEYRING,
        line = shell_quote(&line),
    )
}

/// Tailscale's install script piped to `sh` (`method = "script"`).
pub fn script_install_script() -> String {
    format!(
        "set -e; if command -v curl >/dev/null 2>&1; then curl -fsSL {u} | sh; \
         else wget -qO- {u} | sh; fi",
        u = shell_quote(INSTALL_SCRIPT)
    )
}

/// `tailscale up` for a join. The key is named by its file (`file:`, read
/// by the client since 1.16), so it is in no argv; `--authkey` is the
/// spelling every client version accepts.
pub fn up_argv(
    key_file: &str,
    hostname: &str,
    tags: &[String],
    login_server: Option<&str>,
) -> Vec<String> {
    let mut a = vec![
        "tailscale".to_string(),
        "up".into(),
        format!("--authkey=file:{key_file}"),
        format!("--hostname={hostname}"),
    ];
    if !tags.is_empty() {
        a.push(format!("--advertise-tags={}", tags.join(",")));
    }
    if let Some(url) = login_server {
        a.push(format!("--login-server={url}"));
    }
    a
}

/// Run `up` and remove the key file whatever happens (the trap runs on
/// exit and keeps `up`'s exit status).
pub fn up_script(key_file: &str, argv: &[String]) -> String {
    let line: Vec<String> = argv.iter().map(|w| shell_quote(w)).collect();
    format!(
        "k={}; trap 'rm -f \"$k\"' EXIT HUP INT TERM; {}",
        shell_quote(key_file),
        line.join(" ")
    )
}

/// Why `tailscale up` failed, from its stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpFailure {
    InvalidKey(String),
    TagsRefused(String),
    Other(String),
}

pub fn classify_up_failure(stderr: &str, stdout: &str) -> UpFailure {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lower = text.to_ascii_lowercase();
    let reason = last_lines(text, 3);
    if lower.contains("invalid key") || (lower.contains("authkey") && lower.contains("invalid")) {
        UpFailure::InvalidKey(reason)
    } else if lower.contains("requested tags")
        || (lower.contains("not permitted") && lower.contains("tag"))
    {
        UpFailure::TagsRefused(reason)
    } else {
        UpFailure::Other(if reason.is_empty() {
            "no output".into()
        } else {
            reason
        })
    }
}

/// The last `n` non-empty lines, joined (what a failed command said last).
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

/// `tailscale status --json`, as arcane uses it.
pub fn parse_status(json: &str) -> Result<NodeStatus, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let backend_state = v["BackendState"]
        .as_str()
        .ok_or("no BackendState in the output")?
        .to_string();
    let me = &v["Self"];
    let nonempty = |x: &Value| {
        x.as_str()
            .map(|s| s.trim_end_matches('.').to_string())
            .filter(|s| !s.is_empty())
    };
    let dns_name = nonempty(&me["DNSName"]).map(|s| s.to_ascii_lowercase());
    let cur = &v["CurrentTailnet"];
    let suffix = nonempty(&cur["MagicDNSSuffix"])
        .or_else(|| nonempty(&v["MagicDNSSuffix"]))
        .or_else(|| {
            dns_name
                .as_deref()
                .and_then(|d| d.split_once('.'))
                .map(|(_, s)| s.to_string())
        })
        .map(|s| s.to_ascii_lowercase());
    let strings = |x: &Value| -> Vec<String> {
        x.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut ips = strings(&v["TailscaleIPs"]);
    if ips.is_empty() {
        ips = strings(&me["TailscaleIPs"]);
    }
    Ok(NodeStatus {
        backend_state,
        tailnet: nonempty(&cur["Name"]),
        suffix,
        dns_name,
        tags: strings(&me["Tags"]),
        ips,
    })
}
