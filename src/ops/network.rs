//! `network ensure`, `network status`, the dashboard's network probe, and
//! [`ensure_server`], the one call `server bootstrap` makes when
//! `[network]` is set.
//!
//! These reach a `connect = "tailnet"` server at its tailnet name when it
//! answers there, else at its `host`: they are what puts a server on the
//! tailnet, so they must work before it is there. The auth key is
//! read from the environment before any server is touched (a missing key
//! changes nothing anywhere), registered with the redactor, and only ever
//! travels in an upload's body.

use super::{fan_out_all, Ctx, Error};
use crate::config::network::NetworkConfig;
use crate::config::{Selection, Server};
use crate::error::{ErrorKind, HasKind};
use crate::event::report::{NetworkReport, ServerNetwork};
use crate::event::{Emitter, Event};
use crate::network::{self, reach, AuthKey, NetworkError, NetworkProvider, NodeSpec, NodeStatus};
use crate::remote::Transport;

/// Servers probed or joined at once.
pub const NETWORK_PARALLEL: usize = 8;

/// Whether the project has a `[network]` (bootstrap calls
/// [`ensure_server`] only then).
pub fn configured(ctx: &Ctx) -> bool {
    ctx.project.config.network.is_some()
}

/// Before a run that will join servers (`server bootstrap`): the provider
/// is known and the auth key is set, so a missing key stops the run before
/// any server is touched. A dry run only warns.
pub fn preflight(ctx: &Ctx, dry_run: bool) -> Result<(), Error> {
    let (cfg, _) = network(ctx)?;
    if dry_run {
        if AuthKey::from_env(&cfg.auth_key_env).is_none() {
            ctx.em.warn(format!(
                "${} is not set: a real run would stop before touching any server",
                cfg.auth_key_env
            ));
        }
        return Ok(());
    }
    auth_key(ctx, cfg).map(|_| ())
}

fn network<'a>(ctx: &'a Ctx) -> Result<(&'a NetworkConfig, Box<dyn NetworkProvider>), Error> {
    let cfg = ctx.project.config.network.as_ref().ok_or_else(|| {
        Error::input(
            "arcane.toml has no [network]: add one naming the provider, auth_key_env and tailnet_domain (see docs/network.md)",
        )
    })?;
    // Validation already refused an unknown provider; this is belt and braces.
    let p = network::provider(cfg)
        .ok_or_else(|| Error::input(format!("unknown [network] provider {:?}", cfg.provider)))?;
    Ok((cfg, p))
}

/// The selection, or with none at all, the whole registry.
fn targets(ctx: &Ctx, sel: &Selection) -> Result<Vec<Server>, Error> {
    super::server::check_targets(ctx, sel)
}

/// The auth key from `auth_key_env`, registered with the redactor.
fn auth_key(ctx: &Ctx, cfg: &NetworkConfig) -> Result<AuthKey, Error> {
    let key = AuthKey::from_env(&cfg.auth_key_env).ok_or_else(|| NetworkError::MissingAuthKey {
        var: cfg.auth_key_env.clone(),
    })?;
    ctx.em.redactor().add(key.expose());
    Ok(key)
}

/// What is known of a server before it is probed.
fn base(ctx: &Ctx, p: &dyn NetworkProvider, s: &Server) -> (NodeSpec, ServerNetwork) {
    let node = p.node_spec(s);
    let r = ServerNetwork {
        server: s.name.clone(),
        fqdn: node.fqdn.clone(),
        connect: match reach::connect_of(ctx.project, &s.name) {
            crate::config::network::Connect::Tailnet => "tailnet",
            crate::config::network::Connect::Host => "host",
        }
        .into(),
        wanted_tags: node.tags.clone(),
        ..Default::default()
    };
    (node, r)
}

fn fill(r: &mut ServerNetwork, st: &NodeStatus) {
    r.joined = st.running();
    r.backend_state = Some(st.backend_state.clone());
    r.tailnet = st.suffix.clone();
    r.dns_name = st.dns_name.clone();
    r.tags = st.tags.clone();
    r.ips = st.ips.clone();
    r.ip = st.ips.iter().find(|ip| ip.contains('.')).cloned();
}

fn set_error(r: &mut ServerNetwork, e: &NetworkError) {
    r.error = Some(e.to_string());
    r.error_code = Some(e.code().into());
    r.error_kind = Some(e.kind());
}

/// Read-only: where the server stands and what `ensure` would do.
fn observe_into(
    p: &dyn NetworkProvider,
    node: &NodeSpec,
    t: &dyn Transport,
    em: &Emitter,
    r: &mut ServerNetwork,
) {
    match p.observe(t, node, em) {
        Ok(o) => {
            r.os = Some(o.os);
            r.installed = o.client.is_some();
            r.version = o.client.map(|c| c.version);
            if let Some(st) = &o.node {
                fill(r, st);
            }
            r.todo = o.todo;
            r.problems = o.problems.iter().map(|e| e.to_string()).collect();
            if let Some(why) = o.daemon_error {
                r.problems
                    .push(format!("tailscaled does not answer: {why}"));
            }
        }
        Err(e) => set_error(r, &e),
    }
}

/// Install, then join: the converging part, with a step for each. An
/// error after a change says what was changed.
fn converge(
    p: &dyn NetworkProvider,
    node: &NodeSpec,
    t: &dyn Transport,
    key: &AuthKey,
    em: &Emitter,
    r: &mut ServerNetwork,
) -> Result<(), NetworkError> {
    em.step_started("network install");
    match p.ensure_installed(t, em) {
        Ok(i) => {
            em.step_converged("network install", i.changed, i.detail.clone());
            r.installed = true;
            r.version = Some(i.client.version);
            if i.changed {
                r.changed.push(i.detail);
            }
        }
        Err(e) => {
            em.step_finished("network install", false, Some(e.to_string()));
            return Err(e);
        }
    }
    em.step_started("network join");
    match p.ensure_joined(t, node, key, em) {
        Ok(j) => {
            em.step_converged("network join", j.changed, j.detail.clone());
            fill(r, &j.node);
            if j.changed {
                r.changed.push(j.detail);
            }
            Ok(())
        }
        Err(e) => {
            let e = if r.changed.is_empty() {
                e
            } else {
                NetworkError::After {
                    done: r.changed.clone(),
                    err: Box::new(e),
                }
            };
            em.step_finished("network join", false, Some(e.to_string()));
            // The report shows where the node ended up (joined to the
            // wrong tailnet, say), not only the error.
            let mut seen = ServerNetwork::default();
            observe_into(p, node, t, &Emitter::null(), &mut seen);
            if seen.error.is_none() {
                r.joined = seen.joined;
                r.backend_state = seen.backend_state;
                r.tailnet = seen.tailnet;
                r.dns_name = seen.dns_name;
                (r.tags, r.ips, r.ip) = (seen.tags, seen.ips, seen.ip);
            }
            Err(e)
        }
    }
}

/// A server with `connect = "tailnet"` is tried at its tailnet name first
/// (once joined, its public SSH may be closed), then at its host, which a
/// server not yet joined needs. Both attempts show in the command log.
pub(crate) fn connect(
    ctx: &Ctx,
    s: &Server,
    em: &Emitter,
) -> Result<std::sync::Arc<dyn Transport>, crate::remote::RemoteError> {
    if reach::tailnet_address(ctx.project, &s.name).is_some() {
        if let Ok(t) = ctx.connect(s, em) {
            return Ok(t);
        }
    }
    ctx.connector.connect(s, em)
}

/// One server, for `ensure` (key given) or a read-only look (no key).
fn one(ctx: &Ctx, p: &dyn NetworkProvider, s: &Server, key: Option<&AuthKey>) -> ServerNetwork {
    let em = ctx.em.for_server(&s.name);
    let (node, mut r) = base(ctx, p, s);
    if s.is_local() {
        r.skipped = Some("`local` is this machine: arcane does not manage its network".into());
    } else if ctx.cancel.is_cancelled() {
        r.skipped = Some("interrupted before it started".into());
    } else {
        match connect(ctx, s, &em) {
            Err(e) => {
                let e = NetworkError::Remote(e);
                em.step_finished("connect", false, Some(e.to_string()));
                set_error(&mut r, &e);
            }
            Ok(t) => match key {
                Some(key) => {
                    if let Err(e) = converge(p, &node, t.as_ref(), key, &em, &mut r) {
                        set_error(&mut r, &e);
                    }
                }
                None => observe_into(p, &node, t.as_ref(), &em, &mut r),
            },
        }
    }
    ctx.em.emit(Event::NetworkNode(Box::new(r.clone())));
    r
}

/// `network ensure`: install the client and join the tailnet on each
/// selected server (every server with no selection), in parallel; a
/// failing server never stops the others. With `dry_run`, only look.
pub fn ensure(ctx: &Ctx, sel: &Selection, dry_run: bool) -> Result<NetworkReport, Error> {
    let (cfg, p) = network(ctx)?;
    let servers = targets(ctx, sel)?;
    let key = if dry_run {
        if AuthKey::from_env(&cfg.auth_key_env).is_none() {
            ctx.em.warn(format!(
                "${} is not set: a real run would stop before touching any server",
                cfg.auth_key_env
            ));
        }
        None
    } else {
        Some(auth_key(ctx, cfg)?)
    };
    let results = fan_out_all(&servers, NETWORK_PARALLEL, |s| {
        one(ctx, p.as_ref(), s, key.as_ref())
    });
    finish(ctx, cfg, p.as_ref(), "ensure", dry_run, results)
}

/// `network status`: installed, version, joined, tailnet, tags, IP and
/// name of each server; changes nothing.
pub fn status(ctx: &Ctx, sel: &Selection) -> Result<NetworkReport, Error> {
    let (cfg, p) = network(ctx)?;
    let servers = targets(ctx, sel)?;
    let results = fan_out_all(&servers, NETWORK_PARALLEL, |s| {
        one(ctx, p.as_ref(), s, None)
    });
    finish(ctx, cfg, p.as_ref(), "status", false, results)
}

/// The dashboard's probe: a `NetworkNode` event per server as each
/// answers; nothing when the project has no `[network]`.
pub fn probe_all(ctx: &Ctx, servers: &[Server]) {
    if let Ok((_, p)) = network(ctx) {
        fan_out_all(servers, NETWORK_PARALLEL, |s| one(ctx, p.as_ref(), s, None));
    }
}

fn finish(
    ctx: &Ctx,
    cfg: &NetworkConfig,
    p: &dyn NetworkProvider,
    op: &str,
    dry_run: bool,
    servers: Vec<ServerNetwork>,
) -> Result<NetworkReport, Error> {
    let rep = NetworkReport {
        op: op.into(),
        dry_run,
        provider: p.id().into(),
        tailnet_domain: cfg.domain(),
        servers,
    };
    ctx.em.emit(Event::Network(rep.clone()));
    let active: Vec<&ServerNetwork> = rep.servers.iter().filter(|s| s.skipped.is_none()).collect();
    let failed: Vec<&ServerNetwork> = active
        .iter()
        .copied()
        .filter(|s| s.error.is_some())
        .collect();
    let domain = cfg.domain();
    if !failed.is_empty() {
        let kind = ErrorKind::combine(failed.iter().filter_map(|s| s.error_kind))
            .unwrap_or(ErrorKind::Failed);
        // Each server's step said why; the summary names who and what.
        let message = format!(
            "{} of {} server(s) failed on tailnet {domain}: {}",
            failed.len(),
            active.len(),
            failed
                .iter()
                .map(|s| format!(
                    "{} ({})",
                    s.server,
                    s.error_code.as_deref().unwrap_or("error")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        ctx.em.failed(kind, &message);
        return Err(Error::Reported { kind, message });
    }
    let n = active.len();
    let summary = match (op, dry_run) {
        ("ensure", false) => {
            let changed = active.iter().filter(|s| !s.changed.is_empty()).count();
            format!(
                "{n} server(s) on tailnet {domain} ({changed} changed, {} unchanged)",
                n - changed
            )
        }
        ("ensure", true) => {
            let todo = active.iter().filter(|s| !s.todo.is_empty()).count();
            format!("dry run: {todo} of {n} server(s) would change; nothing was changed")
        }
        _ => {
            let joined = active
                .iter()
                .filter(|s| s.joined && s.problems.is_empty())
                .count();
            format!("{joined} of {n} server(s) on tailnet {domain}")
        }
    };
    ctx.em.finished(true, summary);
    Ok(rep)
}

/// Install the client and join the tailnet on one server over a
/// transport the caller already has (`server bootstrap`). Steps and the
/// server's state go to `em`; the auth key comes from `auth_key_env`.
/// An error says what was changed before it.
pub fn ensure_server(
    ctx: &Ctx,
    server: &Server,
    t: &dyn Transport,
    em: &Emitter,
) -> Result<ServerNetwork, Error> {
    let (cfg, p) = network(ctx)?;
    let key = auth_key(ctx, cfg)?;
    em.redactor().add(key.expose());
    let (node, mut r) = base(ctx, p.as_ref(), server);
    let res = converge(p.as_ref(), &node, t, &key, em, &mut r);
    if let Err(e) = &res {
        set_error(&mut r, e);
    }
    em.emit(Event::NetworkNode(Box::new(r.clone())));
    res.map(|_| r).map_err(Error::from)
}

/// What [`ensure_server`] would do on one server, changing nothing
/// (`server bootstrap --dry-run`): its `todo` lists the steps.
pub fn observe_server(
    ctx: &Ctx,
    server: &Server,
    t: &dyn Transport,
    em: &Emitter,
) -> Result<ServerNetwork, Error> {
    let (_, p) = network(ctx)?;
    let (node, mut r) = base(ctx, p.as_ref(), server);
    observe_into(p.as_ref(), &node, t, em, &mut r);
    em.emit(Event::NetworkNode(Box::new(r.clone())));
    Ok(r)
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
