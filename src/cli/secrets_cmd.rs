//! `identity`, `team`, `deploy gen-key|allow|revoke`, `env set|unset|edit`,
//! `run`, `scan`, `hooks`, `setup` and the hidden `filter` plumbing.

use super::args::*;
use super::render::table;
use super::Ctx;
use crate::error::InputError;
use crate::secrets::filter::{textconv, Filter};
use crate::secrets::identity::{self, Identities, KEY_VARS};
use crate::secrets::recipients::{
    normalize_key, parse_recipient, valid_recipient_name, Kind, Recipient, Recipients,
};
use crate::secrets::{gitcfg, project, scan, Keyring, SecretsError};
use age::secrecy::ExposeSecret;
use anyhow::{Context, Result};
use serde_json::json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Input-class secrets errors exit 2, the rest 1.
fn se(e: SecretsError) -> anyhow::Error {
    if e.is_input() {
        anyhow::Error::new(InputError::new(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}

fn keyring(ctx: &Ctx, root: &Path) -> Keyring {
    Keyring::new(root, ctx.global.identity.as_deref())
}

pub fn identity(ctx: &Ctx, c: IdentityCmd) -> Result<i32> {
    let flag = ctx.global.identity.as_deref();
    let path = identity::identity_path(flag).map_err(se)?;
    match c {
        IdentityCmd::New { passphrase, force } => {
            let (text, public) = identity::generate();
            let data = if passphrase {
                let pass = identity::passphrase("New passphrase: ", true).map_err(se)?;
                identity::protect(&text, pass).map_err(se)?
            } else {
                text.expose_secret().as_bytes().to_vec()
            };
            identity::save(&path, &data, force).map_err(se)?;
            ctx.emitter.data("public_key", json!(public));
            ctx.emitter.finished(
                true,
                format!(
                    "created {}identity {} (mode 0600); back it up: losing it loses access to every scope only it can open",
                    if passphrase { "passphrase-protected " } else { "" },
                    path.display()
                ),
            );
        }
        IdentityCmd::Show => {
            let ids = Identities::load(flag).map_err(se)?;
            if ids.is_empty() {
                return Err(InputError::new(format!(
                    "no identity at {}; create one with `arcane identity new` (or set ARCANE_MACHINE_KEY)",
                    path.display()
                ))
                .into());
            }
            for l in &ids.list {
                let fp = crate::secrets::sign::verifying_key(&l.public)
                    .filter(|_| l.sign_seed.is_some())
                    .map(|k| crate::secrets::sign::fingerprint(&k));
                if ctx.json() {
                    ctx.emitter.data(
                        "public_key",
                        json!({ "public_key": l.public, "source": l.source.to_string(), "fingerprint": fp }),
                    );
                } else {
                    ctx.emitter.data("public_key", json!(l.public));
                    ctx.emitter.info(match &fp {
                        Some(f) => format!("signing fingerprint: {f} (teammates check it with `arcane secrets trust {f}`)"),
                        None => "this identity cannot sign key changes (ssh-rsa or a passphrase-protected ssh key)".into(),
                    });
                }
            }
        }
        IdentityCmd::Import { file, force } => {
            let data =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            // Validate before storing: load it exactly the way we will later.
            let tmp = tempfile::tempdir()?;
            let probe = tmp.path().join("identity.txt");
            crate::secrets::write_atomic(&probe, &data, 0o600).map_err(se)?;
            let loaded = Identities::load(Some(&probe)).map_err(|e| {
                InputError::new(format!(
                    "{}: not an age identity or ssh-ed25519 private key ({e})",
                    file.display()
                ))
            })?;
            identity::save(&path, &data, force).map_err(se)?;
            for l in &loaded.list {
                ctx.emitter.data("public_key", json!(l.public));
            }
            ctx.emitter.finished(
                true,
                format!(
                    "imported {} into {} (mode 0600)",
                    file.display(),
                    path.display()
                ),
            );
        }
    }
    Ok(0)
}

/// `team list`: the members each scope key is wrapped for according to the
/// verified, signed manifest, not `recipients.toml` alone (which anyone with
/// push access can edit); disagreements are listed after the table.
fn list_recipients(ctx: &Ctx, root: &Path) -> Result<i32> {
    let keys = keyring(ctx, root);
    let v = keys.trusted().map_err(se)?;
    let file = Recipients::load(root).map_err(se)?;
    let r = v.tip.to_recipients(&file.scopes);
    if ctx.json() {
        for x in &r.recipients {
            ctx.emitter.data(
                "recipient",
                json!({ "name": x.name, "kind": x.kind.to_string(), "key": x.key, "scopes": x.scopes, "verified": true }),
            );
        }
    } else {
        let rows = r
            .recipients
            .iter()
            .map(|x| {
                let short = if x.key.len() > 24 {
                    format!("{}…{}", &x.key[..14], &x.key[x.key.len() - 6..])
                } else {
                    x.key.clone()
                };
                vec![
                    x.name.clone(),
                    x.kind.to_string(),
                    x.scopes.join(","),
                    short,
                ]
            })
            .collect();
        ctx.emitter
            .data("table", table(&["name", "kind", "scopes", "key"], rows));
    }
    let diffs = crate::secrets::trust::recipients_mismatch(&file, &v.tip);
    for d in &diffs {
        ctx.emitter.warn(format!(".arcane/recipients.toml: {d}"));
    }
    ctx.emitter.finished(
        diffs.is_empty(),
        format!(
            "{} member{} from the signed key manifest (entry {}, signed by {}){}",
            r.recipients.len(),
            if r.recipients.len() == 1 { "" } else { "s" },
            v.entries - 1,
            v.tip_signer,
            if diffs.is_empty() {
                ""
            } else {
                "; recipients.toml disagrees with it: run `arcane secrets verify`"
            }
        ),
    );
    Ok(if diffs.is_empty() { 0 } else { 1 })
}

/// `arcane secrets verify|trust|adopt`.
pub fn secrets(ctx: &Ctx, c: SecretsCmd) -> Result<i32> {
    let root = ctx.project_root()?;
    let keys = keyring(ctx, &root);
    match c {
        SecretsCmd::Verify => {
            let rep = crate::secrets::verify::verify(&root, Some(&keys)).map_err(se)?;
            for p in &rep.problems {
                if ctx.json() {
                    ctx.emitter.data(
                        "secrets_problem",
                        serde_json::to_value(p).unwrap_or_default(),
                    );
                } else {
                    let at = match p.line {
                        Some(l) => format!("{}:{l}", p.file),
                        None => p.file.clone(),
                    };
                    ctx.emitter.message(
                        crate::event::Level::Error,
                        format!("{at}: [{}] {}", p.check, p.message),
                    );
                }
            }
            for w in &rep.warnings {
                if ctx.json() {
                    ctx.emitter.data(
                        "secrets_warning",
                        serde_json::to_value(w).unwrap_or_default(),
                    );
                } else {
                    ctx.emitter
                        .warn(format!("{}:{}: {}", w.file, w.line.unwrap_or(1), w.message));
                }
            }
            if !rep.skipped.is_empty() {
                ctx.emitter.info(format!(
                    "not decrypted (no key here): {}; their MACs were not checked",
                    rep.skipped.join(", ")
                ));
            }
            if rep.problems.is_empty() {
                ctx.emitter.finished(
                    true,
                    format!(
                        "secrets verified: {} scope{} signed, recipients match, no plaintext in encrypted files",
                        rep.scopes.len(),
                        if rep.scopes.len() == 1 { "" } else { "s" }
                    ),
                );
                Ok(0)
            } else {
                ctx.emitter.finished(
                    false,
                    format!(
                        "{} problem{} with the encrypted secrets; do not use these keys until a member has looked at `git log -p -- .arcane/ config/envs/`",
                        rep.problems.len(),
                        if rep.problems.len() == 1 { "" } else { "s" }
                    ),
                );
                Ok(1)
            }
        }
        SecretsCmd::Trust { fingerprint } => {
            let v = crate::secrets::trust::trust_fingerprint(&root, &fingerprint).map_err(se)?;
            ctx.emitter.finished(
                true,
                format!(
                    "pinned this clone to the key manifest ({} entries, newest signed by {})",
                    v.entries, v.tip_signer
                ),
            );
            Ok(0)
        }
        SecretsCmd::Adopt => {
            let scopes = project::adopt(&root, &keys).map_err(se)?;
            ctx.emitter.finished(
                true,
                format!(
                    "signed the key files of {} as they are now into {}; commit it",
                    scopes.join(", "),
                    crate::secrets::trust::MANIFEST
                ),
            );
            Ok(0)
        }
    }
}

fn add(ctx: &Ctx, name: String, pubkey: String, scopes: Vec<String>, kind: Kind) -> Result<i32> {
    let root = ctx.project_root()?;
    if !valid_recipient_name(&name) {
        return Err(InputError::new(format!(
            "{name:?} is not a valid name (letters, digits, - _ . @)"
        ))
        .into());
    }
    // Never echo the argument: it may be a secret key pasted by mistake.
    parse_recipient(&pubkey).map_err(|e| InputError::new(format!("PUBKEY: {e}")))?;
    let keys = keyring(ctx, &root);
    let rec = Recipient {
        name: name.clone(),
        kind,
        key: normalize_key(&pubkey),
        scopes: scopes.clone(),
    };
    project::add_recipient(&root, rec, &keys).map_err(se)?;
    ctx.emitter.finished(
        true,
        format!(
            "{name} ({kind}) can now decrypt scopes {}; commit .arcane/ (git add .arcane && git commit) so their clone can read them, \
             and give them your signing fingerprint (`arcane identity show`) for `arcane secrets trust`",
            scopes.join(", ")
        ),
    );
    Ok(0)
}

fn remove(ctx: &Ctx, name: &str, kind: Kind) -> Result<i32> {
    let root = ctx.project_root()?;
    let keys = keyring(ctx, &root);
    let rep = project::remove_recipient(&root, name, kind, &keys).map_err(se)?;
    for f in &rep.files {
        ctx.emitter.info(format!(
            "re-encrypted {}",
            f.strip_prefix(&root).unwrap_or(f).display()
        ));
    }
    ctx.emitter.warn(format!(
        "{} can no longer decrypt what is committed from now on, but git history stays readable to them: \
         every value they could see in scopes {} must be treated as leaked. Rotate the real credentials \
         (database passwords, API tokens) at their source, then `arcane env set` the new values.",
        rep.removed,
        rep.scopes.join(", ")
    ));
    ctx.emitter.finished(
        true,
        format!(
            "removed {}; rotated the data keys of {}{}",
            rep.removed,
            rep.scopes.join(", "),
            if rep.staged {
                "; the new key files and re-encrypted env files are staged: commit them now"
            } else {
                ""
            }
        ),
    );
    Ok(0)
}

pub fn team(ctx: &Ctx, c: TeamCmd) -> Result<i32> {
    match c {
        TeamCmd::Add {
            name,
            pubkey,
            scopes,
        } => {
            let scopes = if scopes.is_empty() {
                let root = ctx.project_root()?;
                let r = Recipients::load(&root).map_err(se)?;
                ["base", "staging"]
                    .iter()
                    .filter(|s| r.scopes.iter().any(|x| x == *s))
                    .map(|s| s.to_string())
                    .collect()
            } else {
                scopes
            };
            add(ctx, name, pubkey, scopes, Kind::Person)
        }
        TeamCmd::Remove { name } => remove(ctx, &name, Kind::Person),
        TeamCmd::List => list_recipients(ctx, &ctx.project_root()?),
    }
}

pub fn deploy_keys(ctx: &Ctx, c: DeployKeyCmd) -> Result<i32> {
    match c {
        DeployKeyCmd::GenKey => {
            let id = age::x25519::Identity::generate();
            let public = id.to_public().to_string();
            let secret = id.to_string();
            if ctx.json() {
                ctx.emitter.data(
                    "keypair",
                    json!({ "public_key": public, "secret_key": secret.expose_secret() }),
                );
            } else {
                ctx.emitter.data(
                    "keypair",
                    json!(format!(
                        "# public key: {public}\n{}",
                        secret.expose_secret()
                    )),
                );
                ctx.emitter.info(
                    "stored nothing. Put the secret key in the machine's ARCANE_MACHINE_KEY (a CI secret), \
                     then run `arcane deploy allow <public key> --name <machine> --scopes base,<env>`",
                );
            }
            Ok(0)
        }
        DeployKeyCmd::Allow {
            pubkey,
            name,
            scopes,
        } => {
            let scopes = if scopes.is_empty() {
                // Default: a server of that name → base + its env.
                let env = ctx
                    .project()
                    .ok()
                    .and_then(|p| p.servers.servers.get(&name).map(|s| s.env.clone()));
                match env {
                    Some(e) => vec!["base".to_string(), e],
                    None => {
                        return Err(InputError::new(format!(
                            "{name} is not a server in config/servers.toml; pass --scopes (e.g. --scopes base,production)"
                        ))
                        .into())
                    }
                }
            } else {
                scopes
            };
            if !scopes.iter().any(|s| s == "base") {
                ctx.emitter
                    .warn("this machine will not be able to read base.env (add `base` to --scopes if it deploys)");
            }
            add(ctx, name, pubkey, scopes, Kind::Machine)
        }
        DeployKeyCmd::Revoke { name } => remove(ctx, &name, Kind::Machine),
    }
}

fn read_stdin_value() -> Result<String> {
    let mut v = String::new();
    std::io::stdin()
        .read_to_string(&mut v)
        .context("reading the value from stdin")?;
    if v.ends_with('\n') {
        v.pop();
        if v.ends_with('\r') {
            v.pop();
        }
    }
    Ok(v)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

pub fn env(ctx: &Ctx, c: EnvCmd) -> Result<i32> {
    let root = ctx.project_root()?;
    let keys = keyring(ctx, &root);
    match c {
        EnvCmd::Set { key, value, env } => {
            let mut value = if value == "-" {
                read_stdin_value()?
            } else {
                value
            };
            let path = project::set_value(&root, &env, &key, &value, &keys).map_err(se)?;
            zeroize::Zeroize::zeroize(&mut value);
            ctx.emitter
                .finished(true, format!("set {key} in {}", rel(&root, &path)));
        }
        EnvCmd::Unset { key, env } => {
            let found = project::unset_value(&root, &env, &key, &keys).map_err(se)?;
            let path = project::env_file_path(&root, &env);
            if found {
                ctx.emitter
                    .finished(true, format!("removed {key} from {}", rel(&root, &path)));
            } else {
                ctx.emitter
                    .finished(true, format!("{key} is not set in {}", rel(&root, &path)));
            }
        }
        EnvCmd::Edit { env } => return edit(ctx, &root, &env, &keys),
        EnvCmd::Show {
            env,
            server,
            reveal,
        } => return super::env_cmd::show(ctx, &env, server.as_deref(), reveal),
    }
    Ok(0)
}

/// `env edit`: decrypt into a 0600 temp file, run $EDITOR, validate, write
/// back encrypted. The temp file is removed whatever happens; an invalid edit
/// leaves the original untouched.
fn edit(ctx: &Ctx, root: &Path, env: &str, keys: &Keyring) -> Result<i32> {
    let path = project::env_file_path(root, env);
    let existing = std::fs::read_to_string(&path).ok();
    let plain = match &existing {
        Some(t) => project::decrypt_if_needed(t, &path, keys).map_err(se)?,
        None => String::new(),
    };
    // Prefer RAM-backed storage for the plaintext copy when there is one.
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new()
        .prefix("arcane-edit-")
        .suffix(&format!("-{env}.env"))
        .tempfile_in(dir)?; // created 0600 by tempfile
    std::fs::write(tmp.path(), plain.as_bytes())?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("arcane-editor")
        .arg(tmp.path())
        .status()
        .with_context(|| format!("starting the editor ({editor})"))?;
    if !status.success() {
        return Err(InputError::new(format!(
            "the editor exited with {status}; {} left unchanged",
            rel(root, &path)
        ))
        .into());
    }
    let mut edited = std::fs::read_to_string(tmp.path())?;
    drop(tmp);
    if edited == plain {
        ctx.emitter.finished(
            true,
            format!("no changes; {} left unchanged", rel(root, &path)),
        );
        return Ok(0);
    }
    if env != "base" && !path.exists() {
        project::ensure_scope(
            root,
            crate::secrets::FileId::from_path(&path)
                .map_err(se)?
                .scope
                .as_str(),
            keys,
        )
        .map_err(se)?;
    }
    let res = project::write_env_file(root, &path, &edited, existing.as_deref(), keys);
    zeroize::Zeroize::zeroize(&mut edited);
    res.map_err(|e| {
        se(SecretsError::input(format!(
            "{e}\n{} was left unchanged; your edit was discarded",
            rel(root, &path)
        )))
    })?;
    ctx.emitter
        .finished(true, format!("saved {}", rel(root, &path)));
    Ok(0)
}

/// `arcane run`: the child gets the merged, decrypted env and never arcane's
/// own key variables; its exit code is ours.
pub fn run(ctx: &Ctx, a: RunArgs) -> Result<i32> {
    let p = ctx.project()?;
    let read = crate::secrets::boxed_reader(&p.root, ctx.global.identity.as_deref());
    let merged = crate::config::merged(&p, &a.env, a.server.as_deref(), &*read)?;
    let pairs = merged.pairs();
    ctx.emitter
        .redactor()
        .add_all(pairs.iter().map(|(_, v)| v.as_str()));
    let mut cmd = std::process::Command::new(&a.cmd[0]);
    cmd.args(&a.cmd[1..]);
    for k in KEY_VARS {
        cmd.env_remove(k);
    }
    cmd.envs(pairs.iter().map(|(k, v)| (k, v)));
    let status = match cmd.status() {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InputError::new(format!("command not found: {}", a.cmd[0])).into())
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("starting {}", a.cmd[0]))),
    };
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

fn scan_root(ctx: &Ctx) -> PathBuf {
    ctx.project_root().unwrap_or_else(|_| ctx.cwd.clone())
}

fn report_findings(ctx: &Ctx, findings: &[scan::Finding]) {
    for f in findings {
        if ctx.json() {
            ctx.emitter
                .data("scan_finding", serde_json::to_value(f).unwrap_or_default());
        } else {
            ctx.emitter.data(
                "scan_finding",
                json!(format!(
                    "{}:{}:{}: {} (fp {})",
                    f.file, f.line, f.rule, f.redacted, f.fingerprint
                )),
            );
        }
    }
}

pub fn scan(ctx: &Ctx, a: ScanArgs) -> Result<i32> {
    let root = scan_root(ctx);
    let allow = scan::Allowlist::load(&root).map_err(se)?;
    let findings = if !a.rev.is_empty() {
        // Works in a bare repository (pre-receive): git finds its own dir.
        crate::secrets::sealed::scan_revs(&ctx.cwd, &a.rev).map_err(se)?
    } else if a.staged {
        let top = gitcfg::toplevel(&ctx.cwd).map_err(se)?;
        let mut f = scan::scan_staged(&top, &allow).map_err(se)?;
        f.extend(crate::secrets::sealed::scan_index(&top).map_err(se)?);
        f
    } else {
        let paths: Vec<PathBuf> = a.paths.iter().map(|p| ctx.cwd.join(p)).collect();
        let base = if paths.is_empty() {
            root.clone()
        } else {
            ctx.cwd.clone()
        };
        let files = scan::files_for(&root, &paths);
        let mut f = scan::scan_files(&base, &files, &allow);
        if paths.is_empty() {
            // Plaintext inside encrypted env files: in the working tree of a
            // clone without the filter, in the index, and in HEAD.
            f.extend(crate::secrets::sealed::scan_worktree(&root));
            if let Ok(top) = gitcfg::toplevel(&root) {
                f.extend(crate::secrets::sealed::scan_index(&top).map_err(se)?);
                if gitcfg::git(&top, &["rev-parse", "--verify", "-q", "HEAD"]).is_ok() {
                    let head = ["--no-walk".to_string(), "HEAD".to_string()];
                    f.extend(crate::secrets::sealed::scan_revs(&top, &head).map_err(se)?);
                }
            }
        }
        f
    };
    report_findings(ctx, &findings);
    if findings.iter().any(|f| f.rule == scan::PLAINTEXT_RULE) {
        ctx.emitter.warn(
            "plaintext inside an encrypted env file: in this clone run `arcane setup`, then \
             `git add --renormalize config/envs`; a value already committed is in history: rotate it at its source",
        );
    }
    if findings.is_empty() {
        ctx.emitter.finished(true, "no secrets found");
        Ok(0)
    } else {
        ctx.emitter.finished(
            false,
            format!(
                "{} possible secret{} found; remove them, or allow a false positive with `# arcane:allow` or .arcane/scan-allow.toml",
                findings.len(),
                if findings.len() == 1 { "" } else { "s" }
            ),
        );
        Ok(1)
    }
}

pub fn hooks(ctx: &Ctx, c: HooksCmd) -> Result<i32> {
    let top = gitcfg::toplevel(&ctx.cwd).map_err(se)?;
    match c {
        HooksCmd::Install => {
            let exe = gitcfg::current_exe().map_err(se)?;
            let p = gitcfg::install_hook(&top, &exe).map_err(se)?;
            ctx.emitter
                .finished(true, format!("installed {}", p.display()));
            Ok(0)
        }
        HooksCmd::PreCommit => {
            let root = scan_root(ctx);
            let allow = scan::Allowlist::load(&root).map_err(se)?;
            let findings = scan::scan_staged(&top, &allow).map_err(se)?;
            report_findings(ctx, &findings);
            let staged = gitcfg::staged_files(&top).map_err(se)?;
            let mut plain = vec![];
            for f in gitcfg::arcane_filtered(&top, &staged).map_err(se)? {
                let blob = gitcfg::staged_blob(&top, &f).map_err(se)?;
                let text = String::from_utf8_lossy(&blob);
                let ok = crate::secrets::format::EnvDoc::parse(&text, Path::new(&f))
                    .map(|d| d.is_fully_encrypted())
                    .unwrap_or(false);
                if !ok {
                    plain.push(f);
                }
            }
            for f in &plain {
                ctx.emitter.message(
                    crate::event::Level::Error,
                    format!("{f} is staged UNENCRYPTED (the arcane git filter is not configured in this clone?)"),
                );
            }
            if findings.is_empty() && plain.is_empty() {
                return Ok(0);
            }
            let mut why = vec![];
            if !findings.is_empty() {
                why.push(format!(
                    "{} possible secret(s) in staged changes",
                    findings.len()
                ));
            }
            if !plain.is_empty() {
                why.push("plaintext env files staged: run `arcane setup`, then `git add --renormalize config/envs`".into());
            }
            ctx.emitter
                .finished(false, format!("commit blocked: {}", why.join("; ")));
            Ok(1)
        }
    }
}

/// `arcane setup`: configure this clone. In a project without key material
/// yet (arcane.toml written by hand), it creates it like `init` does.
pub fn setup(ctx: &Ctx) -> Result<i32> {
    let root = ctx.project_root()?;
    if !Recipients::exists(&root) {
        return init_secrets(ctx, &root);
    }
    let keys = keyring(ctx, &root);
    let (configured, hook) = project::setup_git(&root, &keys).map_err(se)?;
    if !configured {
        return Err(InputError::new(format!(
            "{} is not in a git repository; run `git init` first",
            root.display()
        ))
        .into());
    }
    if let Some(h) = hook {
        ctx.emitter.info(format!("installed {}", h.display()));
    }
    ctx.emitter.finished(
        true,
        "git filters configured: env files are plaintext in this working tree and encrypted in git",
    );
    Ok(0)
}

/// The secrets half of `arcane init` (called by `config_cmd::init` after the
/// files exist): identity if none, recipients, one data key per scope, git
/// filters and the pre-commit hook.
pub fn init_secrets(ctx: &Ctx, root: &Path) -> Result<i32> {
    let envs = crate::config::ProjectConfig::load(&root.join(crate::config::PROJECT_FILE))
        .map(|c| c.env_names())
        .unwrap_or_else(|_| {
            crate::config::DEFAULT_ENVS
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
    let owner = gitcfg::git(root, &["config", "user.name"])
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("USER").ok())
        .map(|n| {
            n.chars()
                .map(|c| {
                    if valid_recipient_name(&c.to_string()) {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        })
        .filter(|n| valid_recipient_name(n))
        .unwrap_or_else(|| "owner".into());
    let rep =
        project::init_secrets(root, &envs, ctx.global.identity.as_deref(), &owner).map_err(se)?;
    if let Some(p) = &rep.created_identity {
        ctx.emitter.info(format!(
            "created your identity {} (mode 0600, no passphrase; back it up). Public key: {}",
            p.display(),
            rep.public_key
        ));
    }
    if rep.created_keys {
        ctx.emitter.info(format!(
            "created .arcane/recipients.toml and a data key per scope ({}) owned by {owner}",
            rep.scopes.join(", ")
        ));
    }
    if rep.git_configured {
        ctx.emitter
            .info("configured git filters for config/envs/*.env and the pre-commit hook");
    } else {
        ctx.emitter.warn(
            "not a git repository: env files will be written encrypted; after `git init`, run `arcane setup`",
        );
    }
    ctx.emitter.finished(true, "secrets ready");
    Ok(0)
}

/// Hidden git plumbing: `filter process|clean|smudge|textconv`.
pub fn filter(ctx: &Ctx, c: FilterCmd) -> Result<i32> {
    let flag = ctx.global.identity.as_deref();
    match c {
        FilterCmd::Process => {
            let mut f = Filter::new(flag);
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            f.serve(&mut stdin.lock(), &mut w)
                .context("git filter protocol")?;
            w.flush()?;
            Ok(0)
        }
        FilterCmd::Clean { path } => {
            let mut input = vec![];
            std::io::stdin().read_to_end(&mut input)?;
            match Filter::new(flag).clean(&path, &input) {
                Ok(out) => {
                    std::io::stdout().write_all(&out)?;
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("arcane: {e}");
                    Ok(1)
                }
            }
        }
        FilterCmd::Smudge { path } => {
            let mut input = vec![];
            std::io::stdin().read_to_end(&mut input)?;
            match Filter::new(flag).smudge_checked(&path, &input) {
                Err(e @ SecretsError::Untrusted { .. }) => Err(se(e)),
                res => {
                    let out = res.unwrap_or(input);
                    std::io::stdout().write_all(&out)?;
                    Ok(0)
                }
            }
        }
        FilterCmd::Textconv { file } => {
            let out = textconv(&file, flag).map_err(se)?;
            std::io::stdout().write_all(out.as_bytes())?;
            Ok(0)
        }
    }
}
