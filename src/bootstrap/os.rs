//! Which operating systems bootstrap supports, read from `/etc/os-release`.

use std::collections::BTreeMap;

/// The supported releases, as `ID` and `VERSION_ID` of os-release.
pub const SUPPORTED: [(&str, &str); 5] = [
    ("debian", "11"),
    ("debian", "12"),
    ("debian", "13"),
    ("ubuntu", "22.04"),
    ("ubuntu", "24.04"),
];

/// The list for messages: "Debian 11, 12, 13; Ubuntu 22.04, 24.04".
pub fn supported_list() -> String {
    "Debian 11, 12, 13; Ubuntu 22.04, 24.04".into()
}

/// What os-release says about a server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OsRelease {
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
    pub codename: String,
}

impl OsRelease {
    /// Parse os-release (`KEY=value`, values optionally quoted).
    pub fn parse(text: &str) -> OsRelease {
        let mut kv = BTreeMap::new();
        for line in text.lines() {
            let Some((k, v)) = line.trim().split_once('=') else {
                continue;
            };
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            kv.insert(
                k.trim().to_string(),
                v.replace("\\\"", "\"").replace("\\\\", "\\"),
            );
        }
        let get = |k: &str| kv.get(k).cloned().unwrap_or_default();
        OsRelease {
            id: get("ID").to_lowercase(),
            version_id: get("VERSION_ID"),
            pretty_name: get("PRETTY_NAME"),
            codename: get("VERSION_CODENAME"),
        }
    }

    /// How to name it in messages.
    pub fn describe(&self) -> String {
        if !self.pretty_name.is_empty() {
            self.pretty_name.clone()
        } else if self.id.is_empty() {
            "an unknown system (no /etc/os-release)".into()
        } else {
            format!("{} {}", self.id, self.version_id)
                .trim()
                .to_string()
        }
    }

    pub fn is_supported(&self) -> bool {
        SUPPORTED
            .iter()
            .any(|(id, v)| *id == self.id && *v == self.version_id)
    }

    /// `Ok(())`, or why this system is not one bootstrap supports.
    pub fn check(&self) -> Result<(), String> {
        if self.is_supported() {
            return Ok(());
        }
        let found = self.describe();
        let hint = match self.id.as_str() {
            "debian" | "ubuntu" if self.version_id.is_empty() => {
                " (a testing or unstable release has no VERSION_ID)"
            }
            _ => "",
        };
        Err(format!(
            "unsupported OS: {found}{hint}; bootstrap supports {}",
            supported_list()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_parses_quoted_values_and_checks_support() {
        let deb = OsRelease::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        );
        assert_eq!(deb.id, "debian");
        assert_eq!(deb.codename, "bookworm");
        assert!(deb.check().is_ok());
        let ubuntu = OsRelease::parse("ID=ubuntu\nVERSION_ID='24.04'\n");
        assert!(ubuntu.is_supported());
        assert!(!OsRelease::parse("ID=ubuntu\nVERSION_ID=\"20.04\"\n").is_supported());
        let e =
            OsRelease::parse("PRETTY_NAME=\"Alpine Linux v3.20\"\nID=alpine\nVERSION_ID=3.20.1\n")
                .check()
                .unwrap_err();
        assert_eq!(
            e,
            "unsupported OS: Alpine Linux v3.20; bootstrap supports Debian 11, 12, 13; Ubuntu 22.04, 24.04"
        );
        let sid = OsRelease::parse("PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\n");
        assert!(sid.check().unwrap_err().contains("no VERSION_ID"));
        assert!(OsRelease::parse("")
            .check()
            .unwrap_err()
            .contains("unknown system"));
    }
}
