//! The script behind [`Transport::upload`](super::Transport::upload): a
//! temp file in the target's directory, renamed over it.

use crate::remote::transport::shell_quote;

/// A path for the remote shell: `~/x` becomes `"$HOME"/x`, the rest is quoted.
pub fn remote_path(p: &str) -> String {
    match p.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", shell_quote(rest)),
        None if p == "~" => "\"$HOME\"".into(),
        None => shell_quote(p),
    }
}

/// The script that writes stdin to `path` atomically: a 0600 temp file in
/// the same directory (mktemp creates it 0600 under umask 077), chmod to the
/// final mode, then rename over the target. A failure removes the temp file.
pub fn upload_script(path: &str, mode: u32) -> String {
    let (dir, base) = match path.rsplit_once('/') {
        Some(("", b)) => ("/", b),
        Some((d, b)) => (d, b),
        None => (".", path),
    };
    let dir = remote_path(dir);
    let tmpl = format!("{dir}/{}", shell_quote(&format!(".{base}.arcane-XXXXXX")));
    format!(
        "set -e; mkdir -p {dir}; umask 077; t=$(mktemp {tmpl}); \
         trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; chmod {mode:o} \"$t\"; \
         mv -f \"$t\" {}; trap - EXIT",
        remote_path(path)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_script_is_atomic_and_quoted() {
        assert_eq!(
            upload_script("~/.arcane/web/staging/app.env", 0o600),
            "set -e; mkdir -p \"$HOME\"/.arcane/web/staging; umask 077; \
             t=$(mktemp \"$HOME\"/.arcane/web/staging/.app.env.arcane-XXXXXX); \
             trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; chmod 600 \"$t\"; \
             mv -f \"$t\" \"$HOME\"/.arcane/web/staging/app.env; trap - EXIT"
        );
        assert!(upload_script("/srv/a b", 0o644).contains("mv -f \"$t\" '/srv/a b'"));
        assert!(upload_script("x", 0o644).contains("mktemp ./"));
    }
}
