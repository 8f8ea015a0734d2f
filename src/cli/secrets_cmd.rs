//! `identity`, `team`, `deploy gen-key|allow|revoke`, `env set|unset|edit`,
//! `run`, `scan`, `hooks`, `setup` and the hidden `filter` plumbing.

use super::args::*;
use super::{done, Ctx};
use crate::error::InputError;
use crate::event::report::IdentityReport;
use crate::event::Event;
use crate::ops::{self, secrets::ScanTarget};
use crate::secrets::filter::{textconv, Filter};
use crate::secrets::identity::{self, Identities, KEY_VARS};
use crate::secrets::recipients::Kind;
use crate::secrets::{gitcfg, scan, SecretsError};
use age::secrecy::ExposeSecret;
use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A secrets error keeps its type, so the binary's mapper finds its kind.
fn se(e: SecretsError) -> anyhow::Error {
    anyhow::Error::new(e)
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
            ctx.emitter.emit(Event::Identity(IdentityReport {
                path: Some(path.display().to_string()),
                public_keys: vec![public],
                fingerprint: None,
            }));
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
            let root = ctx.cwd.clone();
            let rep = ops::team::identity(
                &ops::Local {
                    root: &root,
                    identity: flag,
                    em: &ctx.emitter,
                },
                true,
            )?;
            ctx.emitter.emit(Event::Identity(rep.clone()));
            ctx.emitter.info(match &rep.fingerprint {
                Some(f) => format!(
                    "signing fingerprint: {f} (teammates check it with `arcane secrets trust {f}`)"
                ),
                None => "this identity cannot sign key changes (ssh-rsa or a passphrase-protected ssh key)".into(),
            });
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
            ctx.emitter.emit(Event::Identity(IdentityReport {
                path: Some(path.display().to_string()),
                public_keys: loaded.list.iter().map(|l| l.public.clone()).collect(),
                fingerprint: None,
            }));
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

/// `arcane secrets verify|trust|adopt`.
pub fn secrets(ctx: &Ctx, c: SecretsCmd) -> Result<i32> {
    let root = ctx.project_root()?;
    let l = local(ctx, &root);
    match c {
        SecretsCmd::Verify => done(ops::secrets::verify(&l)),
        SecretsCmd::Trust { fingerprint } => done(ops::secrets::trust(&l, &fingerprint)),
        SecretsCmd::Adopt => done(ops::secrets::adopt(&l)),
    }
}

fn local<'a>(ctx: &'a Ctx, root: &'a Path) -> ops::Local<'a> {
    ops::Local {
        root,
        identity: ctx.global.identity.as_deref(),
        em: &ctx.emitter,
    }
}

pub fn team(ctx: &Ctx, c: TeamCmd) -> Result<i32> {
    let root = ctx.project_root()?;
    let l = local(ctx, &root);
    let project = ctx.project().ok();
    match c {
        TeamCmd::Add {
            name,
            pubkey,
            scopes,
        } => done(ops::team::add(
            &l,
            project.as_ref(),
            &name,
            &pubkey,
            scopes,
            Kind::Person,
        )),
        TeamCmd::Remove { name } => done(ops::team::remove(&l, &name, Kind::Person)),
        TeamCmd::List => {
            let rep = ops::team::list(&l)?;
            let ok = rep.mismatches.is_empty();
            ctx.emitter.finished(
                ok,
                format!(
                    "{} member{} from the signed key manifest (entry {}, signed by {}){}",
                    rep.members.len(),
                    if rep.members.len() == 1 { "" } else { "s" },
                    rep.manifest_entry.unwrap_or_default(),
                    rep.signed_by.as_deref().unwrap_or("?"),
                    if ok {
                        ""
                    } else {
                        "; recipients.toml disagrees with it: run `arcane secrets verify`"
                    }
                ),
            );
            Ok(if ok { 0 } else { 1 })
        }
    }
}

pub fn deploy_keys(ctx: &Ctx, c: DeployKeyCmd) -> Result<i32> {
    match c {
        DeployKeyCmd::GenKey => {
            ctx.emitter.emit(Event::KeyPair(ops::team::gen_key()));
            ctx.emitter.info(
                "stored nothing. Put the secret key in the machine's ARCANE_MACHINE_KEY (a CI secret), \
                 then run `arcane deploy allow <public key> --name <machine> --scopes base,<env>`",
            );
            Ok(0)
        }
        DeployKeyCmd::Allow {
            pubkey,
            name,
            scopes,
        } => {
            let root = ctx.project_root()?;
            let project = ctx.project().ok();
            done(ops::team::add(
                &local(ctx, &root),
                project.as_ref(),
                &name,
                &pubkey,
                scopes,
                Kind::Machine,
            ))
        }
        DeployKeyCmd::Revoke { name } => {
            let root = ctx.project_root()?;
            done(ops::team::remove(&local(ctx, &root), &name, Kind::Machine))
        }
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

pub fn env(ctx: &Ctx, c: EnvCmd) -> Result<i32> {
    let root = ctx.project_root()?;
    let l = local(ctx, &root);
    match c {
        EnvCmd::Set { key, value, env } => {
            let mut value = if value == "-" {
                read_stdin_value()?
            } else {
                value
            };
            let r = ops::env::set(&l, &env, &key, &value);
            zeroize::Zeroize::zeroize(&mut value);
            done(r)
        }
        EnvCmd::Unset { key, env } => done(ops::env::unset(&l, &env, &key)),
        EnvCmd::Edit { env } => done(ops::env::edit(&l, &env, &run_editor)),
        EnvCmd::Show {
            env,
            server,
            reveal,
        } => super::env_cmd::show(ctx, &env, server.as_deref(), reveal),
    }
}

/// $VISUAL or $EDITOR (default vi) on `file`, on this terminal.
fn run_editor(file: &Path) -> Result<(), ops::Error> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("arcane-editor")
        .arg(file)
        .status()
        .map_err(|e| ops::Error::input(format!("starting the editor ({editor}): {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(ops::Error::input(format!(
            "the editor exited with {status}"
        )))
    }
}

/// `arcane run`: the child gets the merged, decrypted env and never arcane's
/// own key variables; its exit code is ours.
pub fn run(ctx: &Ctx, a: RunArgs) -> Result<i32> {
    let p = ctx.project()?;
    let op = ctx.op(&p, &crate::interact::Refuse);
    let pairs = ops::env::pairs(&op, &a.env, a.server.as_deref())?;
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

pub fn scan(ctx: &Ctx, a: ScanArgs) -> Result<i32> {
    let root = scan_root(ctx);
    let target = if !a.rev.is_empty() {
        ScanTarget::Revs(a.rev)
    } else if a.staged {
        ScanTarget::Staged
    } else {
        ScanTarget::Paths(a.paths)
    };
    done(ops::secrets::scan(&local(ctx, &root), &ctx.cwd, &target))
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
            if !findings.is_empty() {
                ctx.emitter
                    .emit(Event::Scan(crate::event::report::ScanReport {
                        findings: findings.clone(),
                    }));
            }
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

/// `arcane setup`: configure this clone (creating the key material in a
/// project that has none yet).
pub fn setup(ctx: &Ctx) -> Result<i32> {
    let root = ctx.project_root()?;
    done(ops::config::setup(&local(ctx, &root)))
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
