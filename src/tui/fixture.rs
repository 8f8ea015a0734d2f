//! A project and a filled model for tests: fixed clock, fixed data, so every
//! snapshot is the same on every machine.

use super::model::*;
use crate::config::{Project, ProjectConfig, ServersFile};
use std::path::Path;

pub const NOW: u64 = 1_700_000_000;

pub fn project() -> Project {
    let config: ProjectConfig =
        crate::config::servers::parse_toml("[app]\nname = \"shop\"\n", Path::new("arcane.toml"))
            .unwrap();
    let servers: ServersFile = crate::config::servers::parse_toml(
        r#"
[servers.web-1]
host = "10.77.1.2"
env = "staging"
[servers.web-2]
host = "10.77.1.3"
env = "staging"
[servers.prod-1]
host = "10.77.2.2"
env = "production"
[servers.prod-2]
host = "10.77.2.3"
env = "production"
[groups.web]
servers = ["web-1", "web-2"]
"#,
        Path::new("config/servers.toml"),
    )
    .unwrap();
    Project {
        root: "/srv/shop".into(),
        config,
        servers,
    }
}

/// A fresh model: nothing loaded yet.
pub fn empty_model() -> Model {
    Model::new(&project(), false, NOW)
}

const SHA1: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const SHA2: &str = "b2c3d4e5f60718293a4b5c6d7e8f9012345678a1";
const SHA3: &str = "c3d4e5f60718293a4b5c6d7e8f9012345678a1b2";
const SHA4: &str = "d4e5f60718293a4b5c6d7e8f9012345678a1b2c3";

/// A model with every tab's data loaded.
pub fn model() -> Model {
    let mut m = empty_model();
    let st = |release: &str, health: &str| ServerStatus {
        reachable: true,
        docker: Some("20.10.24".into()),
        release: Some(release.into()),
        health: Some(health.into()),
        ..Default::default()
    };
    m.overview
        .statuses
        .insert("web-1".into(), st("a1b2c3d", "2/2 up"));
    let mut locked = st("a1b2c3d", "2/2 up");
    locked.lock = Some("ana".into());
    m.overview.statuses.insert("web-2".into(), locked);
    m.overview
        .statuses
        .insert("prod-1".into(), st("c3d4e5f", "1/2 unhealthy"));
    m.overview.statuses.insert(
        "prod-2".into(),
        ServerStatus {
            reachable: false,
            error: Some("cannot reach 10.77.2.3:22".into()),
            ..Default::default()
        },
    );
    m.overview.last_refresh = Some(NOW - 12);
    m.env.keys = vec![
        EnvKey {
            key: "DATABASE_URL".into(),
            layer: "staging".into(),
            overrides: vec!["base".into()],
        },
        EnvKey {
            key: "LOG_LEVEL".into(),
            layer: "base".into(),
            overrides: vec![],
        },
        EnvKey {
            key: "STRIPE_KEY".into(),
            layer: "staging".into(),
            overrides: vec![],
        },
    ];
    m.env.revealed = Some(("DATABASE_URL".into(), "postgres://db/shop".into()));
    m.keys = KeysState {
        identity_path: Some("/home/ana/.config/arcane/identity.txt".into()),
        public_key: Some("age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq".into()),
        recipients: vec![
            Recipient {
                name: "ana".into(),
                kind: "person".into(),
                public_key: "age1ana000000000000000000000000000".into(),
                scopes: vec!["base".into(), "staging".into(), "production".into()],
            },
            Recipient {
                name: "ci".into(),
                kind: "machine".into(),
                public_key: "age1ci0000000000000000000000000000".into(),
                scopes: vec!["base".into(), "staging".into()],
            },
        ],
        ..Default::default()
    };
    let rel = |v: &str, age: u64, sha: &str, live: bool| ReleaseRow {
        version: v.into(),
        created: Some(NOW - age),
        git_sha: Some(sha[..7].into()),
        live,
        status: if live {
            "running".into()
        } else {
            "stopped".into()
        },
    };
    m.releases.by_server = vec![
        (
            "web-1".into(),
            vec![
                rel("a1b2c3d", 600, SHA1, true),
                rel("b2c3d4e", 86_400, SHA2, false),
            ],
        ),
        (
            "web-2".into(),
            vec![
                rel("a1b2c3d", 590, SHA1, true),
                rel("b2c3d4e", 86_390, SHA2, false),
            ],
        ),
    ];
    let commit = |id: &str, parents: &[&str], summary: &str, age: u64| Commit {
        id: id.into(),
        parents: parents.iter().map(|s| s.to_string()).collect(),
        summary: summary.into(),
        author: "ana".into(),
        time: (NOW - age) as i64,
    };
    m.git.commits = vec![
        commit(SHA1, &[SHA2, SHA4], "Merge branch 'checkout'", 700),
        commit(SHA4, &[SHA3], "Faster checkout", 5_000),
        commit(SHA2, &[SHA3], "Fix cart totals", 90_000),
        commit(SHA3, &[], "First release", 200_000),
    ];
    m.git.shadow = Some(crate::event::report::ShadowChain {
        shadow_ref: "refs/arcane/shadow/main".into(),
        branch: Some("main".into()),
        base: Some(SHA1.into()),
        on_head: true,
        snapshots: vec![
            crate::event::report::SnapshotRow {
                sha: "e5f60718293a4b5c6d7e8f9012345678a1b2c3d4".into(),
                time: (NOW - 60) as i64,
                subject: "feat(cart): add coupons.rs".into(),
            },
            crate::event::report::SnapshotRow {
                sha: "f60718293a4b5c6d7e8f9012345678a1b2c3d4e5".into(),
                time: (NOW - 300) as i64,
                subject: "fix(cart): update totals.rs".into(),
            },
        ],
    });
    m.git.watch = Some(crate::ops::git_watch::WatchState {
        pid: 4242,
        snapshots: 2,
        branch: Some("main".into()),
        ..Default::default()
    });
    m.logs.choices = vec![
        ("web-1".into(), "web".into()),
        ("web-1".into(), "worker".into()),
    ];
    m.logs.following = Some(("web-1".into(), "web".into()));
    m.logs.lines = ["GET /health 200", "GET /cart 200", "POST /checkout 201"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    m.commands.push_back(CommandLine {
        server: Some("web-1".into()),
        command: "docker version --format '{{.Server.Version}}'".into(),
    });
    m.commands.push_back(CommandLine {
        server: Some("web-1".into()),
        command: "docker run -e STRIPE_KEY=*** shop:a1b2c3d".into(),
    });
    m
}

/// [`model`] for a project with a `[network]`: one server joined, one not
/// yet, one on the wrong tailnet, one unreachable.
pub fn network_model() -> Model {
    let mut m = model();
    m.network = true;
    let row = |word: &str, ip: Option<&str>| NetRow {
        word: word.into(),
        ip: ip.map(str::to_string),
        ok: word == "joined",
    };
    let net = &mut m.overview.network;
    net.insert("web-1".into(), row("joined", Some("100.64.0.1")));
    net.insert("web-2".into(), row("not joined", None));
    net.insert("prod-1".into(), row("mismatch", Some("100.101.7.3")));
    net.insert("prod-2".into(), row("unreachable", None));
    m
}

/// The model during a deploy to staging: steps, logs and a spinner frame.
pub fn deploying() -> Model {
    let mut m = model();
    m.tab = Tab::Deploy;
    m.deploy.active = Some(Target::Env("staging".into()));
    m.deploy.phase = DeployPhase::Running;
    m.deploy.started_at = Some(NOW - 42);
    m.spinner = 3;
    let steps = |done: &[&str], running: Option<&str>| ServerProgress {
        steps: done
            .iter()
            .map(|s| (s.to_string(), StepState::Ok, None))
            .chain(running.map(|r| (r.to_string(), StepState::Running, None)))
            .collect(),
        progress: None,
    };
    m.deploy.servers.insert(
        "web-1".into(),
        steps(&["connect", "lock", "ship", "release-dir"], Some("health")),
    );
    let mut w2 = steps(&["connect", "lock"], Some("ship"));
    w2.progress = Some(("image".into(), 30, Some(120)));
    m.deploy.servers.insert("web-2".into(), w2);
    m.deploy.logs = [
        "[web-1] starting shop-staging-web-a1b2c3d",
        "[web-1] probe /health: 503",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    m
}

/// The Git tab while the watcher's snapshots are blocked by a finding.
pub fn watch_blocked() -> Model {
    use crate::event::report::*;
    let mut m = model();
    m.tab = Tab::Git;
    if let Some(w) = m.git.watch.as_mut() {
        w.blocked = vec![FindingRow {
            file: "src/keys.rs".into(),
            line: 1,
            rule: "aws-access-key-id".into(),
            redacted: "AKIA****".into(),
            fingerprint: "cca4abb8eb78dce9".into(),
        }];
    }
    m
}

/// The Git tab with a squash plan waiting to be applied.
pub fn squash_planned() -> Model {
    use crate::event::report::*;
    let mut m = model();
    m.tab = Tab::Git;
    let source = |sha: &str, subject: &str, shadow: bool| SquashSource {
        sha: sha.into(),
        subject: subject.into(),
        kind: "feat".into(),
        scope: None,
        breaking: false,
        shadow,
        author: Default::default(),
        files: vec![],
    };
    let group = |kind: &str, bump: Bump, subject: &str, files: &[&str]| SquashGroup {
        kind: kind.into(),
        scope: None,
        bump,
        message: Message {
            subject: subject.into(),
            body: String::new(),
        },
        generator: "fallback".into(),
        files: files.iter().map(|f| f.to_string()).collect(),
        commits: vec!["e5f60718293a".into()],
        author: Default::default(),
    };
    m.git.plan = Some(Box::new(SquashPlan {
        branch: "main".into(),
        base: SHA3.into(),
        base_name: "origin/main".into(),
        head: SHA1.into(),
        shadow_tip: None,
        tree: SHA2.into(),
        sources: vec![
            source(SHA4, "WIP", false),
            source(SHA1, "feat(cart): add coupons", false),
            source(
                "e5f60718293a4b5c6d7e8f9012345678a1b2c3d4",
                "fix(cart): update totals.rs",
                true,
            ),
        ],
        groups: vec![
            group(
                "feat",
                Bump::Minor,
                "feat(cart): add coupons",
                &["src/cart/coupons.rs"],
            ),
            group(
                "fix",
                Bump::Patch,
                "fix: cart totals",
                &["src/cart/totals.rs", "README.md"],
            ),
        ],
        bump: Some(Bump::Minor),
        version_from: Some("v1.2.3".into()),
        version_to: Some("v1.3.0".into()),
        fallback_reasons: vec![],
    }));
    m
}
