//! An attacker with push access but no key, against a victim, through real
//! git (a bare "origin", clones, pull, checkout, force-push) and the real
//! binary. Each person has their own HOME, so their identity and their pins
//! (XDG state) are theirs alone. Every forgery path of issue 15 is here, and
//! so are the legitimate changes that must still pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_arcane");
const REAL: &str = "real-prod-password-1";
const EVIL: &str = "attacker-chosen-value";

struct Person {
    home: tempfile::TempDir,
    name: &'static str,
}

impl Person {
    fn new(name: &'static str) -> Person {
        let p = Person {
            home: tempfile::tempdir().unwrap(),
            name,
        };
        p.ok(p.home.path(), &["identity", "new"]);
        p
    }

    fn env(&self, c: &mut Command) {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg"))
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", self.name)
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", self.name)
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .env("NO_COLOR", "1");
    }

    fn arcane(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = Command::new(BIN);
        self.env(&mut c);
        c.current_dir(dir).args(args).output().unwrap()
    }

    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let o = self.arcane(dir, args);
        assert!(
            o.status.success(),
            "{} arcane {args:?}: {}",
            self.name,
            all(&o)
        );
        all(&o)
    }

    fn git(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = Command::new("git");
        self.env(&mut c);
        c.current_dir(dir).args(args).output().unwrap()
    }

    fn git_ok(&self, dir: &Path, args: &[&str]) -> String {
        let o = self.git(dir, args);
        assert!(
            o.status.success(),
            "{} git {args:?}: {}",
            self.name,
            all(&o)
        );
        all(&o)
    }

    fn identity(&self) -> PathBuf {
        self.home.path().join("xdg/arcane/identity.txt")
    }

    fn public(&self) -> String {
        std::fs::read_to_string(self.identity())
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap()
            .to_string()
    }

    fn fingerprint(&self) -> String {
        let out = self.ok(self.home.path(), &["identity", "show"]);
        out.split("signing fingerprint: ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }

    /// A clone with the filter configured before checkout (what `arcane
    /// setup` writes), so checkout and pull run our smudge.
    fn clone(&self, origin: &Path, dst: &Path) {
        let q = format!("'{BIN}'");
        self.git_ok(
            origin.parent().unwrap(),
            &[
                "clone",
                "-q",
                "-c",
                &format!("filter.arcane.process={q} filter process"),
                "-c",
                "filter.arcane.required=true",
                origin.to_str().unwrap(),
                dst.to_str().unwrap(),
            ],
        );
    }
}

fn all(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// The victim's project, pushed to a bare origin, with a production secret.
struct World {
    tmp: tempfile::TempDir,
    victim: Person,
    attacker: Person,
}

impl World {
    fn new() -> World {
        let w = World {
            tmp: tempfile::tempdir().unwrap(),
            victim: Person::new("victim"),
            attacker: Person::new("attacker"),
        };
        let v = &w.victim;
        let dir = w.victim_dir();
        std::fs::create_dir_all(&dir).unwrap();
        v.git_ok(&dir, &["init", "-q", "-b", "main"]);
        v.ok(&dir, &["init", "--name", "demo"]);
        // A production server, so `deploy --env production` gets as far as
        // reading the env (it reads it before building or connecting).
        let servers = dir.join("config/servers.toml");
        let mut text = read(&servers);
        text.push_str("\n[servers.prod1]\nhost = \"local\"\nenv = \"production\"\n");
        std::fs::write(&servers, text).unwrap();
        // Both envs on this machine: production gets its own port (the
        // config check refuses two envs publishing one port on one host).
        let toml = dir.join("arcane.toml");
        let t = read(&toml).replace(
            "[envs.production]\n",
            "[envs.production]\npublish = \"8081\"\n",
        );
        std::fs::write(&toml, t).unwrap();
        v.ok(
            &dir,
            &["env", "set", "DB_PASSWORD", REAL, "--env", "production"],
        );
        v.git_ok(&dir, &["add", "-A"]);
        v.git_ok(&dir, &["commit", "-qm", "init"]);
        v.git_ok(
            w.tmp.path(),
            &["clone", "-q", "--bare", dir.to_str().unwrap(), "origin.git"],
        );
        v.git_ok(
            &dir,
            &["remote", "add", "origin", w.origin().to_str().unwrap()],
        );
        v.git_ok(&dir, &["fetch", "-q", "origin"]);
        v.git_ok(&dir, &["branch", "-q", "-u", "origin/main"]);
        // Git re-reads ("re-cleans") a file written in the same second as
        // its index, which a run this fast always is. A real clone is seconds
        // old by its next pull; refresh the index a second later so the
        // clean filter is not asked about unchanged files once an attacker's
        // manifest has arrived (it refuses then, which would fail the pull).
        std::thread::sleep(std::time::Duration::from_millis(1100));
        v.git_ok(&dir, &["status", "--short"]);
        w
    }

    fn victim_dir(&self) -> PathBuf {
        self.tmp.path().join("victim")
    }

    fn origin(&self) -> PathBuf {
        self.tmp.path().join("origin.git")
    }

    /// The attacker's clone of origin (no key for this project).
    fn attacker_clone(&self) -> PathBuf {
        let d = self.tmp.path().join("attacker");
        if !d.exists() {
            self.attacker.clone(&self.origin(), &d);
        }
        d
    }

    /// What the attacker can make on their own: a data key of their own,
    /// wrapped with the stock `age -r` for the victim's public key (and their
    /// own), and a `production.env` encrypted under it with arcane.
    fn forge_production(&self) -> (String, String) {
        let a = &self.attacker;
        let scratch = self.tmp.path().join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        a.git_ok(&scratch, &["init", "-q"]);
        a.ok(&scratch, &["init", "--name", "evil"]);
        a.ok(
            &scratch,
            &["env", "set", "DB_PASSWORD", EVIL, "--env", "production"],
        );
        a.git_ok(&scratch, &["add", "-A"]);
        a.git_ok(&scratch, &["commit", "-qm", "x"]);
        let env = a.git_ok(&scratch, &["show", "HEAD:config/envs/production.env"]);
        let o = Command::new("age")
            .args(["-d", "-i"])
            .arg(a.identity())
            .arg(scratch.join(".arcane/keys/production.age"))
            .output()
            .unwrap();
        assert!(o.status.success());
        let mut c = Command::new("age")
            .args(["-a", "-r", &self.victim.public(), "-r", &a.public()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(&o.stdout).unwrap();
        let wrapped = c.wait_with_output().unwrap();
        assert!(wrapped.status.success());
        (String::from_utf8(wrapped.stdout).unwrap(), env)
    }

    /// Commit the attacker's files into their clone and push (`force`:
    /// rewrite origin's history instead).
    fn attacker_push(&self, files: &[(&str, &str)], msg: &str, force: bool) {
        let d = self.attacker_clone();
        let a = &self.attacker;
        if force {
            a.git_ok(&d, &["checkout", "-q", "--orphan", "rewritten"]);
        }
        for (p, text) in files {
            std::fs::create_dir_all(d.join(p).parent().unwrap()).unwrap();
            std::fs::write(d.join(p), text).unwrap();
        }
        a.git_ok(&d, &["add", "-A"]);
        a.git_ok(&d, &["commit", "-qm", msg]);
        if force {
            a.git_ok(&d, &["push", "-q", "-f", "origin", "rewritten:main"]);
        } else {
            a.git_ok(&d, &["push", "-q", "origin", "HEAD:main"]);
        }
    }

    fn victim_pull(&self) -> Output {
        let dir = self.victim_dir();
        self.victim.git_ok(&dir, &["fetch", "-q", "origin"]);
        self.victim
            .git(&dir, &["reset", "--hard", "-q", "origin/main"])
    }
}

fn assert_refused(o: &Output, what: &str) {
    let text = all(o);
    assert_eq!(o.status.code(), Some(2), "{what}: {text}");
    assert!(
        !text.contains(EVIL),
        "{what} printed the forged value: {text}"
    );
}

#[test]
fn forged_key_is_refused_on_pull_and_by_every_command() {
    let w = World::new();
    let (key, env) = w.forge_production();
    // The attacker also lists themselves, so team list would show them.
    let d = w.attacker_clone();
    let recips = read(&d.join(".arcane/recipients.toml")).replace(
        "[[recipient]]",
        &format!(
            "[[recipient]]\nname = \"mallory\"\nkind = \"person\"\nkey = \"{}\"\nscopes = [\"production\"]\n\n[[recipient]]",
            w.attacker.public()
        ),
    );
    w.attacker_push(
        &[
            (".arcane/keys/production.age", &key),
            ("config/envs/production.env", &env),
            (".arcane/recipients.toml", &recips),
        ],
        "rotate production",
        false,
    );

    // git pull: checkout succeeds, the file stays ciphertext, one warning
    // naming the key file and how to see who changed it.
    let o = w.victim_pull();
    assert!(o.status.success(), "{}", all(&o));
    let err = all(&o);
    assert_eq!(err.matches("left env files encrypted").count(), 1, "{err}");
    assert!(
        err.contains(".arcane/keys/production.age") && err.contains("git log -p"),
        "{err}"
    );
    let dir = w.victim_dir();
    let on_disk = read(&dir.join("config/envs/production.env"));
    assert!(on_disk.contains("DB_PASSWORD=arcane:v1:"), "{on_disk}");

    let v = &w.victim;
    let show = v.arcane(&dir, &["env", "show", "--env", "production", "--reveal"]);
    assert_refused(&show, "env show");
    assert!(all(&show).contains("production.age"), "{}", all(&show));
    assert!(all(&show).contains("git log -p"), "{}", all(&show));
    assert_refused(
        &v.arcane(&dir, &["run", "--env", "production", "--", "env"]),
        "run",
    );
    let o = v.arcane(
        &dir,
        &["deploy", "--env", "production", "--yes", "--dry-run"],
    );
    assert_refused(&o, "deploy");
    assert!(all(&o).contains("production.age"), "{}", all(&o));
    // env set never encrypts to the forged key (which the attacker holds).
    let before = read(&dir.join(".arcane/keys/production.age"));
    let set = v.arcane(
        &dir,
        &[
            "env",
            "set",
            "NEW_SECRET",
            "later-value",
            "--env",
            "production",
        ],
    );
    assert_refused(&set, "env set");
    assert!(!read(&dir.join("config/envs/production.env")).contains("NEW_SECRET"));
    assert_eq!(read(&dir.join(".arcane/keys/production.age")), before);
    // The one-shot smudge filter exits 2.
    let mut c = Command::new(BIN);
    v.env(&mut c);
    let o = c
        .current_dir(&dir)
        .args(["filter", "smudge", "config/envs/production.env"])
        .stdin(std::fs::File::open(dir.join("config/envs/production.env")).unwrap())
        .output()
        .unwrap();
    assert_refused(&o, "filter smudge");
    // Staging, untouched, still works.
    v.ok(&dir, &["env", "show", "--env", "staging"]);

    // team list shows the verified members, not the attacker's line.
    let list = v.arcane(&dir, &["team", "list"]);
    assert_eq!(list.status.code(), Some(1), "{}", all(&list));
    let text = all(&list);
    let table = text.split("recipients.toml:").next().unwrap();
    assert!(!table.contains("mallory"), "{text}");
    assert!(
        text.contains("mallory is in recipients.toml but not in the signed manifest"),
        "{text}"
    );

    // secrets verify and config check report it, with no key needed.
    let o = v.arcane(&dir, &["secrets", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    assert!(
        all(&o).contains("production.age: [key-file]"),
        "{}",
        all(&o)
    );
    let o = v.arcane(&dir, &["--json", "secrets", "verify"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"check\":\"key-file\""));
    let nokey = Person::new("nokey");
    let o = nokey.arcane(&dir, &["config", "check"]);
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    assert!(all(&o).contains("[key-file]"), "{}", all(&o));
    // team add cannot launder the attacker into a re-wrap either.
    let o = v.arcane(
        &dir,
        &[
            "team",
            "add",
            "carol",
            &Person::new("carol").public(),
            "--scopes",
            "base",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
}

#[test]
fn a_forged_manifest_entry_or_rewritten_history_is_refused() {
    let w = World::new();
    // 1. A manifest entry signed by a non-member: made by the attacker's own
    //    arcane in a scratch project whose history they then splice in.
    let (key, env) = w.forge_production();
    let scratch = w.tmp.path().join("scratch");
    let a = &w.attacker;
    a.ok(
        &scratch,
        &[
            "team",
            "add",
            "victim",
            &w.victim.public(),
            "--scopes",
            "base,staging,production",
        ],
    );
    let d = w.attacker_clone();
    let mut manifest = read(&d.join(".arcane/keys/manifest"));
    let forged_line = read(&scratch.join(".arcane/keys/manifest"))
        .lines()
        .last()
        .unwrap()
        .to_string();
    manifest.push_str(&forged_line);
    manifest.push('\n');
    w.attacker_push(
        &[
            (".arcane/keys/production.age", &key),
            ("config/envs/production.env", &env),
            (".arcane/keys/manifest", &manifest),
        ],
        "sign it too",
        false,
    );
    assert!(w.victim_pull().status.success());
    let dir = w.victim_dir();
    let show = w
        .victim
        .arcane(&dir, &["env", "show", "--env", "production", "--reveal"]);
    assert_refused(&show, "spliced entry");
    assert!(all(&show).contains("manifest"), "{}", all(&show));

    // 2. A force-push replacing .arcane/ wholesale: a history of the
    //    attacker's own, which names the victim as a member so it decrypts.
    let scratch_files = |p: &str| a.git_ok(&scratch, &["show", &format!("HEAD:{p}")]);
    a.git_ok(&scratch, &["add", "-A"]);
    a.git_ok(&scratch, &["commit", "-qm", "add victim"]);
    let files: Vec<(String, String)> = [
        ".arcane/recipients.toml",
        ".arcane/keys/manifest",
        ".arcane/keys/base.age",
        ".arcane/keys/staging.age",
        ".arcane/keys/production.age",
        "config/envs/production.env",
        "config/envs/staging.env",
        "arcane.toml",
        "config/servers.toml",
        ".gitattributes",
    ]
    .iter()
    .map(|p| (p.to_string(), scratch_files(p)))
    .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    w.attacker_push(&refs, "rewrite", true);
    let o = w.victim_pull();
    assert!(o.status.success(), "{}", all(&o));
    assert!(all(&o).contains("key history was replaced"), "{}", all(&o));
    let show = w
        .victim
        .arcane(&dir, &["env", "show", "--env", "production", "--reveal"]);
    assert_refused(&show, "rewritten history");
    assert!(
        all(&show).contains("key history was replaced"),
        "{}",
        all(&show)
    );

    // 3. A new teammate's first clone of the rewritten repo: pinning from
    //    the victim's fingerprint (checked out of band) refuses it, since the
    //    victim signed none of it. Without that, first use trusts it and
    //    says so, naming the attacker as the one who started it.
    let newbie = Person::new("newbie");
    let c = w.tmp.path().join("newbie");
    let o = newbie.git(
        w.tmp.path(),
        &[
            "clone",
            "-q",
            w.origin().to_str().unwrap(),
            c.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    let o = newbie.arcane(&c, &["secrets", "trust", &w.victim.fingerprint()]);
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    assert!(all(&o).contains("signed no entry"), "{}", all(&o));
    let o = newbie.arcane(&c, &["secrets", "verify"]);
    let text = all(&o);
    assert!(
        text.contains("first use")
            && text.contains(&a.fingerprint())
            && !text.contains(&w.victim.fingerprint()),
        "{text}"
    );
}

#[test]
fn a_removed_member_cannot_fork_from_before_their_removal_and_rollback_blocks_writes() {
    let w = World::new();
    let v = &w.victim;
    let dir = w.victim_dir();
    // bob is added legitimately (production too), pulls, and keeps his clone.
    let bob = Person::new("bob");
    v.ok(
        &dir,
        &[
            "team",
            "add",
            "bob",
            &bob.public(),
            "--scopes",
            "base,staging,production",
        ],
    );
    v.git_ok(&dir, &["add", "-A"]);
    v.git_ok(&dir, &["commit", "-qm", "add bob"]);
    v.git_ok(&dir, &["push", "-q", "origin", "main"]);
    let bd = w.tmp.path().join("bob");
    bob.clone(&w.origin(), &bd);
    assert!(read(&bd.join("config/envs/production.env")).contains(REAL));
    // The victim removes bob: rotation, then pushes.
    let out = v.ok(&dir, &["team", "remove", "bob"]);
    assert!(out.contains("rotated"), "{out}");
    v.git_ok(&dir, &["commit", "-qm", "remove bob"]);
    v.git_ok(&dir, &["push", "-q", "origin", "main"]);
    v.ok(&dir, &["env", "show", "--env", "production"]);
    let old_state = v.git_ok(&dir, &["rev-parse", "HEAD~1"]).trim().to_string();

    // bob, from his old clone (where he was a member), adds a key of his
    // choosing as a "member" and force-pushes: a validly chained entry, but
    // signed by someone the victim has seen removed.
    let mallory = Person::new("mallory");
    bob.ok(
        &bd,
        &[
            "team",
            "add",
            "mallory",
            &mallory.public(),
            "--scopes",
            "production",
        ],
    );
    bob.git_ok(&bd, &["add", "-A"]);
    bob.git_ok(&bd, &["commit", "-qm", "totally legit"]);
    bob.git_ok(&bd, &["push", "-q", "-f", "origin", "HEAD:main"]);
    let o = w.victim_pull();
    assert!(all(&o).contains("no longer a member"), "{}", all(&o));
    let show = v.arcane(&dir, &["env", "show", "--env", "production"]);
    assert_eq!(show.status.code(), Some(2), "{}", all(&show));
    assert!(all(&show).contains("no longer a member"), "{}", all(&show));

    // Back to the real history; then someone commits the pre-removal
    // .arcane/ on top (a rollback to keys bob holds): values still read,
    // with a warning, but nothing new is encrypted to those keys.
    v.git_ok(&dir, &["push", "-q", "-f", "origin", "HEAD@{1}:main"]);
    assert!(w.victim_pull().status.success());
    v.ok(&dir, &["env", "show", "--env", "production"]);
    v.git_ok(
        &dir,
        &["checkout", "-q", &old_state, "--", ".arcane", "config/envs"],
    );
    v.git_ok(&dir, &["commit", "-qm", "roll back keys"]);
    let o = v.arcane(&dir, &["env", "show", "--env", "production", "--reveal"]);
    assert!(
        o.status.success() && all(&o).contains("older than one you verified"),
        "{}",
        all(&o)
    );
    assert!(all(&o).contains(REAL), "{}", all(&o));
    let o = v.arcane(&dir, &["env", "set", "LATER", "x", "--env", "production"]);
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    assert!(all(&o).contains("git pull"), "{}", all(&o));
    let o = v.arcane(&dir, &["secrets", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
}

#[test]
fn legitimate_changes_pass_for_everyone() {
    let w = World::new();
    let v = &w.victim;
    let dir = w.victim_dir();
    let v_fp = v.fingerprint();
    // A machine key: allow, read on CI (ciphertext checkout, no filter).
    let ci = Command::new(BIN)
        .args(["deploy", "gen-key"])
        .output()
        .unwrap();
    let ci_text = String::from_utf8_lossy(&ci.stdout).to_string();
    let ci_pub = ci_text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    let ci_secret = ci_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string();
    v.ok(
        &dir,
        &[
            "deploy",
            "allow",
            &ci_pub,
            "--name",
            "ci",
            "--scopes",
            "base,production",
        ],
    );
    // A teammate: added, first clone pinned from the victim's fingerprint.
    let carol = Person::new("carol");
    v.ok(
        &dir,
        &[
            "team",
            "add",
            "carol",
            &carol.public(),
            "--scopes",
            "base,staging",
        ],
    );
    v.git_ok(&dir, &["add", "-A"]);
    v.git_ok(&dir, &["commit", "-qm", "ci and carol"]);
    v.git_ok(&dir, &["push", "-q", "origin", "main"]);
    let cd = w.tmp.path().join("carol");
    let o = carol.git(
        w.tmp.path(),
        &[
            "clone",
            "-q",
            w.origin().to_str().unwrap(),
            cd.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    carol.ok(&cd, &["secrets", "trust", &v_fp]);
    let out = carol.ok(&cd, &["setup"]);
    assert!(!out.contains("first use"), "{out}");
    carol.ok(&cd, &["env", "set", "CAROL", "c-value", "--env", "staging"]);
    let o = carol.arcane(&cd, &["env", "show", "--env", "production"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "carol has no production key: {}",
        all(&o)
    );
    // CI reads production from a plain clone with its machine key.
    let ciw = w.tmp.path().join("ci");
    let o = carol.git(
        w.tmp.path(),
        &[
            "clone",
            "-q",
            w.origin().to_str().unwrap(),
            ciw.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    let mut c = Command::new(BIN);
    let machine = Person::new("machine");
    machine.env(&mut c);
    let o = c
        .current_dir(&ciw)
        .env("ARCANE_MACHINE_KEY", &ci_secret)
        .args(["env", "show", "--env", "production", "--reveal"])
        .output()
        .unwrap();
    assert!(o.status.success() && all(&o).contains(REAL), "{}", all(&o));
    // carol, a member since after the victim's last look, adds dave; the
    // victim pulls both changes at once: an extension signed by members.
    let dave = Person::new("dave");
    carol.ok(
        &cd,
        &["team", "add", "dave", &dave.public(), "--scopes", "base"],
    );
    carol.git_ok(&cd, &["add", "-A"]);
    carol.git_ok(&cd, &["commit", "-qm", "add dave"]);
    carol.git_ok(&cd, &["push", "-q", "origin", "HEAD:main"]);
    let o = w.victim_pull();
    assert!(o.status.success(), "{}", all(&o));
    let o = v.arcane(&dir, &["secrets", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    // Revoke the machine and remove carol: both rotations verify for the
    // victim and, after a pull, for a fresh member of the remaining team.
    v.ok(&dir, &["deploy", "revoke", "ci"]);
    v.ok(&dir, &["team", "remove", "carol"]);
    v.git_ok(&dir, &["commit", "-qm", "revoke"]);
    v.ok(&dir, &["env", "show", "--env", "production"]);
    let o = v.arcane(&dir, &["secrets", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    let o = v.arcane(&dir, &["team", "list"]);
    assert!(
        o.status.success() && !all(&o).contains("carol"),
        "{}",
        all(&o)
    );
}

#[test]
fn plaintext_committed_from_an_unconfigured_clone_is_reported_without_a_key() {
    let w = World::new();
    let keyless = Person::new("keyless");
    let c = w.tmp.path().join("plain");
    let o = keyless.git(
        w.tmp.path(),
        &[
            "clone",
            "-q",
            w.origin().to_str().unwrap(),
            c.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    let f = c.join("config/envs/staging.env");
    let mut text = read(&f);
    text.push_str("LEAKED_PASSWORD=hunter2-plain\n");
    std::fs::write(&f, text).unwrap();
    // No filter, no hook in this clone: git commits the plaintext.
    keyless.git_ok(&c, &["commit", "-qam", "oops"]);
    let blob = keyless.git_ok(&c, &["show", "HEAD:config/envs/staging.env"]);
    assert!(blob.contains("hunter2-plain"));

    let o = keyless.arcane(&c, &["scan"]);
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    assert!(
        all(&o).contains("plaintext-in-encrypted-file") && all(&o).contains("LEAKED_PASSWORD"),
        "{}",
        all(&o)
    );
    assert!(!all(&o).contains("hunter2"), "{}", all(&o));
    let o = keyless.arcane(&c, &["scan", "--rev", "origin/main..HEAD"]);
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    assert!(all(&o).contains("config/envs/staging.env"), "{}", all(&o));
    let o = keyless.arcane(&c, &["scan", "--rev", "origin/main"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "history before the commit is clean: {}",
        all(&o)
    );
    let o = keyless.arcane(&c, &["secrets", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    assert!(all(&o).contains("[plaintext]"), "{}", all(&o));
    let o = keyless.arcane(&c, &["config", "check"]);
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));

    // The server-side pre-receive hook from docs/secrets.md rejects the push.
    let hook = w.origin().join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nz=0000000000000000000000000000000000000000\n\
             while read old new ref; do\n  [ \"$new\" = \"$z\" ] && continue\n\
             if [ \"$old\" = \"$z\" ]; then range=\"$new --not --all\"; else range=\"$old..$new\"; fi\n\
             '{BIN}' scan --rev $range || exit 1\ndone\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = keyless.git(&c, &["push", "origin", "HEAD:main"]);
    assert!(!o.status.success(), "{}", all(&o));
    assert!(
        all(&o).contains("plaintext-in-encrypted-file"),
        "{}",
        all(&o)
    );
    let o = keyless.git(&c, &["push", "origin", "HEAD:refs/heads/other"]);
    assert!(!o.status.success(), "a new branch too: {}", all(&o));
    // A clean push still goes through.
    let vd = w.victim_dir();
    w.victim
        .ok(&vd, &["env", "set", "OK", "fine", "--env", "staging"]);
    w.victim.git_ok(&vd, &["commit", "-qam", "fine"]);
    w.victim.git_ok(&vd, &["push", "-q", "origin", "main"]);
}

/// Where `config check` only sees ciphertext (a clone without the filter,
/// CI), `secrets verify` with a key decrypts and warns about values whose
/// meaning changed with the compose-compatible parser.
#[test]
fn verify_with_a_key_warns_where_an_encrypted_value_changed_meaning() {
    let w = World::new();
    let v = &w.victim;
    let dir = w.victim_dir();
    std::fs::write(dir.join("config/envs/staging.env"), "PASS=pa$word\n").unwrap();
    v.git_ok(
        &dir,
        &["commit", "-qam", "a value written for the old parser"],
    );
    let c = w.tmp.path().join("ciphertext-clone");
    v.git_ok(
        w.tmp.path(),
        &["clone", "-q", dir.to_str().unwrap(), c.to_str().unwrap()],
    );
    assert!(read(&c.join("config/envs/staging.env")).contains("PASS=arcane:v1:"));
    let o = v.arcane(&c, &["secrets", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    assert!(
        all(&o).contains("config/envs/staging.env:1: the value of PASS changed meaning"),
        "{}",
        all(&o)
    );
    assert!(!all(&o).contains("pa$word"), "{}", all(&o));
}

/// A project from before the signed manifest: every key use is refused
/// (nothing vouches for its key files) until an owner adopts them; an
/// ssh-ed25519 identity signs key changes like an age identity.
#[test]
fn an_older_project_is_refused_until_adopted_and_ssh_keys_sign() {
    let w = World::new();
    let v = &w.victim;
    let dir = w.victim_dir();
    std::fs::remove_file(dir.join(".arcane/keys/manifest")).unwrap();
    std::fs::remove_dir_all(v.home.path().join("state")).unwrap();
    let o = v.arcane(&dir, &["env", "show", "--env", "production"]);
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    assert!(all(&o).contains("arcane secrets adopt"), "{}", all(&o));
    let o = v.arcane(&dir, &["secrets", "adopt"]);
    assert!(o.status.success(), "{}", all(&o));
    let o = v.arcane(&dir, &["env", "show", "--env", "production", "--reveal"]);
    assert!(o.status.success() && all(&o).contains(REAL), "{}", all(&o));
    let o = v.arcane(&dir, &["secrets", "adopt"]);
    assert_eq!(o.status.code(), Some(2), "only once: {}", all(&o));

    // An ssh-ed25519 member signs a team change that others verify.
    let sam = Person::new("sam");
    let key = sam.home.path().join("id_ed25519");
    let o = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "sam", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success());
    sam.ok(
        sam.home.path(),
        &["identity", "import", key.to_str().unwrap(), "--force"],
    );
    let pubkey = read(&key.with_extension("pub"));
    v.ok(
        &dir,
        &[
            "team",
            "add",
            "sam",
            pubkey.trim(),
            "--scopes",
            "base,staging,production",
        ],
    );
    let o = sam.arcane(
        &dir,
        &[
            "team",
            "add",
            "tom",
            &Person::new("tom").public(),
            "--scopes",
            "base",
        ],
    );
    assert!(o.status.success(), "{}", all(&o));
    let o = v.arcane(&dir, &["secrets", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    assert!(read(&dir.join(".arcane/keys/manifest")).contains("\"signer\":\"sam\""));
}

/// Without forging any key, an attacker commits production.env in plaintext
/// with values of their choosing. The victim's checkout cannot tell those
/// from decrypted values in the working tree, so every command checks what
/// git stores, and refuses.
#[test]
fn a_plaintext_env_file_pushed_by_someone_without_a_key_is_refused() {
    let w = World::new();
    // The attacker simply has no filter.
    let d = w.attacker_clone();
    w.attacker
        .git_ok(&d, &["config", "--remove-section", "filter.arcane"]);
    w.attacker_push(
        &[(
            "config/envs/production.env",
            &format!("DB_PASSWORD={EVIL}\n"),
        )],
        "plain",
        false,
    );
    assert!(w.victim_pull().status.success());
    let dir = w.victim_dir();
    let v = &w.victim;
    for args in [
        &["env", "show", "--env", "production", "--reveal"][..],
        &["run", "--env", "production", "--", "env"],
        &["deploy", "--env", "production", "--yes", "--dry-run"],
    ] {
        let o = v.arcane(&dir, args);
        assert_refused(&o, &args.join(" "));
        assert!(all(&o).contains("stored in git unencrypted"), "{}", all(&o));
    }
    v.ok(&dir, &["env", "show", "--env", "staging"]);
    let o = v.arcane(&dir, &["scan"]);
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    assert!(!all(&o).contains(EVIL));
}
