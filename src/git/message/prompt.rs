//! What a message generator is given, with everything secret taken out.
//!
//! Every changed file is named with its status and line counts. Its diff
//! text is included only when none of these hold, otherwise it is
//! *withheld* and the reason is said instead:
//!
//! * it is an encrypted env file (`filter=arcane`, or `config/envs/*.env`);
//! * its name looks like a secret (`.env*`, keys, certificates, `.netrc`...);
//! * it is binary;
//! * the leak scanner flags any line of its diff, added **or removed**
//!   (no allowlist applies here);
//! * the diff budget is spent.
//!
//! Values of the working tree's env files are masked wherever they appear
//! in the diff text that remains (a password pasted into a compose file).

use crate::event::Redactor;
use crate::git::diff::FileChange;
use crate::secrets::scan::{scan_text, Allowlist};
use crate::secrets::sealed::is_encrypted_path;
use serde::Serialize;

/// Per-file diff text limit, characters.
const MAX_FILE_CHARS: usize = 3000;

/// One file as the generator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptFile {
    pub path: String,
    pub status: char,
    pub added: u64,
    pub removed: u64,
    /// The redacted diff, when it may be sent.
    pub diff: Option<String>,
    /// Why the diff is not sent.
    pub withheld: Option<String>,
}

/// The generator's whole input.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Prompt {
    pub files: Vec<PromptFile>,
    /// Subjects of the commits being squashed, if any (already in git).
    pub hints: Vec<String>,
}

/// Names that hold secrets by convention.
pub fn secret_looking(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let exts = [
        ".pem", ".key", ".p12", ".pfx", ".jks", ".kdbx", ".age", ".gpg", ".asc",
    ];
    name == ".env"
        || name.starts_with(".env.")
        || name.ends_with(".env")
        || exts.iter().any(|e| name.ends_with(e))
        || name.starts_with("id_rsa")
        || name.starts_with("id_ed25519")
        || name.starts_with("id_ecdsa")
        || name.contains("credential")
        || name.contains("secret")
        || matches!(name.as_str(), ".netrc" | ".npmrc" | ".pypirc" | ".htpasswd")
        || path.starts_with(".arcane/")
        || path.contains("/.arcane/")
}

/// Build the prompt. `encrypted` lists paths with `filter=arcane`;
/// `patches` is the raw `(path, diff)` of the files that may be shown;
/// `mask` holds values to hide wherever they appear.
pub fn build(
    files: &[FileChange],
    patches: &[(String, String)],
    encrypted: &[String],
    mask: &Redactor,
    budget: usize,
) -> Prompt {
    let mut left = budget;
    let none = Allowlist::default();
    let mut out = vec![];
    for f in files {
        let mut pf = PromptFile {
            path: f.path.clone(),
            status: f.status,
            added: f.added,
            removed: f.removed,
            diff: None,
            withheld: None,
        };
        let why = withhold_reason(f, encrypted);
        match why {
            Some(w) => pf.withheld = Some(w.to_string()),
            None => match patches.iter().find(|(p, _)| *p == f.path) {
                None => pf.withheld = Some("no text diff".into()),
                Some((_, text)) => {
                    // Scan the whole hunk: a secret being removed is still a
                    // secret.
                    let lines: String = text
                        .lines()
                        .map(|l| l.get(1..).unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join("\n");
                    if !scan_text(&f.path, &lines, &none).is_empty() {
                        pf.withheld = Some("the secret scanner flags it".into());
                    } else if left == 0 {
                        pf.withheld = Some("diff budget spent".into());
                    } else {
                        let masked = mask.redact(text);
                        let cut = truncate(&masked, MAX_FILE_CHARS.min(left));
                        left = left.saturating_sub(cut.chars().count());
                        pf.diff = Some(cut);
                    }
                }
            },
        }
        out.push(pf);
    }
    Prompt {
        files: out,
        hints: vec![],
    }
}

/// Why a file's diff is never sent, if it is not.
pub fn withhold_reason(f: &FileChange, encrypted: &[String]) -> Option<&'static str> {
    if is_encrypted_path(&f.path) || encrypted.contains(&f.path) {
        Some("encrypted env file")
    } else if secret_looking(&f.path) {
        Some("secret-looking file name")
    } else if f.binary {
        Some("binary")
    } else {
        None
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max).collect();
    if let Some(i) = t.rfind('\n') {
        t.truncate(i + 1);
    }
    t.push_str("… (truncated)\n");
    t
}

impl Prompt {
    /// The text a model receives (also what `--json` shows as sent).
    pub fn render(&self) -> String {
        let mut s = String::new();
        if !self.hints.is_empty() {
            s.push_str("Commits being combined:\n");
            for h in &self.hints {
                s.push_str(&format!("- {h}\n"));
            }
            s.push('\n');
        }
        s.push_str("Changed files:\n");
        for f in &self.files {
            s.push_str(&format!(
                "{} {} (+{} -{})",
                f.status, f.path, f.added, f.removed
            ));
            if let Some(w) = &f.withheld {
                s.push_str(&format!(" [diff withheld: {w}]"));
            }
            s.push('\n');
        }
        for f in self.files.iter().filter(|f| f.diff.is_some()) {
            s.push_str(&format!(
                "\n--- {}\n{}",
                f.path,
                f.diff.as_deref().unwrap_or("")
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(path: &str, binary: bool) -> FileChange {
        FileChange {
            path: path.into(),
            status: 'M',
            added: 1,
            removed: 1,
            binary,
        }
    }

    #[test]
    fn env_files_keys_binaries_and_flagged_diffs_are_withheld() {
        let files = vec![
            fc("config/envs/staging.env", false),
            fc("deploy/custom.env", false),
            fc("certs/server.pem", false),
            fc("logo.png", true),
            fc("src/aws.rs", false),
            fc("compose.yml", false),
            fc("src/ok.rs", false),
        ];
        let patches: Vec<(String, String)> = vec![
            (
                "config/envs/staging.env".into(),
                "+DB=hunter2hunter2\n".into(),
            ),
            ("deploy/custom.env".into(), "+X=1\n".into()),
            (
                "src/aws.rs".into(),
                "-let k = \"AKIAQ3EGRFZWNLVJ7XKD\";\n+let k = env();\n".into(),
            ),
            (
                "compose.yml".into(),
                "+  command: run --as Sup3rS3cretPw\n".into(),
            ),
            ("src/ok.rs".into(), "@@ -1 +1 @@\n-a\n+b\n".into()),
        ];
        let mask = Redactor::default();
        mask.add("Sup3rS3cretPw");
        let p = build(
            &files,
            &patches,
            &["deploy/custom.env".into()],
            &mask,
            10_000,
        );
        let w: Vec<Option<&str>> = p.files.iter().map(|f| f.withheld.as_deref()).collect();
        assert_eq!(w[0], Some("encrypted env file"));
        assert_eq!(w[1], Some("encrypted env file"));
        assert_eq!(w[2], Some("secret-looking file name"));
        assert_eq!(w[3], Some("binary"));
        assert_eq!(w[4], Some("the secret scanner flags it"));
        assert_eq!(w[5], None);
        let text = p.render();
        for leak in ["hunter2", "AKIAQ3EGRFZWNLVJ7XKD", "Sup3rS3cretPw"] {
            assert!(!text.contains(leak), "{leak} leaked: {text}");
        }
        assert!(text.contains("command: run --as ***"), "{text}");
        assert!(
            text.contains("M config/envs/staging.env (+1 -1) [diff withheld: encrypted env file]")
        );
        assert!(text.contains("--- src/ok.rs\n@@ -1 +1 @@\n-a\n+b\n"));
    }

    #[test]
    fn the_budget_caps_diff_text() {
        let files = vec![fc("a.rs", false), fc("b.rs", false)];
        let big = "+x\n".repeat(100);
        let patches = vec![("a.rs".into(), big.clone()), ("b.rs".into(), big)];
        let p = build(&files, &patches, &[], &Redactor::default(), 50);
        assert!(p.files[0].diff.as_ref().unwrap().contains("truncated"));
        assert_eq!(p.files[1].withheld.as_deref(), Some("diff budget spent"));
    }
}
