//! Encrypted env files through real git and the real binary, in temp repos.
//! HOME and XDG_CONFIG_HOME point at temp dirs, so each "person" is a
//! separate identity and nothing touches the machine's own config.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_arcane");

/// One person (or machine): their own HOME/XDG config.
struct Person {
    home: tempfile::TempDir,
}

impl Person {
    fn new() -> Person {
        Person {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn xdg(&self) -> PathBuf {
        self.home.path().join("xdg")
    }

    fn env(&self, c: &mut Command) {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.xdg())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .env("EDITOR", "true");
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
            "arcane {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
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
            "git {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn public_key(&self, dir: &Path) -> String {
        self.ok(dir, &["identity", "show"]).trim().to_string()
    }

    /// Clone with the filters configured before checkout (what `arcane setup`
    /// writes), so checkout runs our smudge.
    fn clone_with_filters(&self, src: &Path, dst: &Path) {
        let q = format!("'{BIN}'");
        self.git_ok(
            src.parent().unwrap(),
            &[
                "clone",
                "-q",
                "-c",
                &format!("filter.arcane.process={q} filter process"),
                "-c",
                "filter.arcane.required=true",
                "-c",
                &format!("diff.arcane.textconv={q} filter textconv"),
                src.to_str().unwrap(),
                dst.to_str().unwrap(),
            ],
        );
    }
}

const DB_URL: &str = "postgres://app:Sup3rS3cretPw@db/app";
const TOKEN: &str = "tok-9f8e7d6c5b4a";

/// alice: a project with an identity, filters, and two committed secrets.
fn project(alice: &Person) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("proj");
    std::fs::create_dir(&dir).unwrap();
    alice.git_ok(&dir, &["init", "-q", "-b", "main"]);
    alice.ok(&dir, &["init", "--name", "demo"]);
    alice.ok(
        &dir,
        &["env", "set", "DATABASE_URL", DB_URL, "--env", "staging"],
    );
    alice.ok(
        &dir,
        &["env", "set", "API_TOKEN", TOKEN, "--env", "staging"],
    );
    alice.ok(
        &dir,
        &[
            "env",
            "set",
            "PROD_ONLY",
            "prod-secret-value",
            "--env",
            "production",
        ],
    );
    alice.git_ok(&dir, &["add", "-A"]);
    alice.git_ok(&dir, &["commit", "-qm", "init"]);
    (tmp, dir)
}

fn secret_line(identity: &Path) -> String {
    read(identity)
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn committed_blobs_hold_no_plaintext_and_status_stays_clean() {
    let alice = Person::new();
    let (_t, dir) = project(&alice);
    let blob = alice.git_ok(&dir, &["show", "HEAD:config/envs/staging.env"]);
    assert!(
        !blob.contains(DB_URL) && !blob.contains("Sup3rS3cret") && !blob.contains(TOKEN),
        "{blob}"
    );
    assert!(
        blob.contains("DATABASE_URL=arcane:v1:") && blob.contains("# arcane:mac:v1:"),
        "{blob}"
    );
    // The working tree is plaintext.
    assert!(read(&dir.join("config/envs/staging.env")).contains(DB_URL));
    // Touch and re-add: identical ciphertext, nothing to commit.
    let f = dir.join("config/envs/staging.env");
    std::fs::write(&f, read(&f)).unwrap();
    alice.git_ok(&dir, &["add", "-A"]);
    let st = alice.git_ok(&dir, &["status", "--porcelain"]);
    assert!(st.trim().is_empty(), "status not clean: {st}");
    // The scanner leaves the (plaintext, filter=arcane) env files alone.
    let o = alice.arcane(&dir, &["scan"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // The stock age CLI can unwrap a key file with the identity.
    let id = alice.xdg().join("arcane/identity.txt");
    let o = Command::new("age")
        .args(["-d", "-i"])
        .arg(&id)
        .arg(dir.join(".arcane/keys/staging.age"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("arcane-data-key v1 staging "));
}

#[test]
fn clones_with_and_without_identity() {
    let alice = Person::new();
    let (t, dir) = project(&alice);
    // No identity: checkout succeeds, files stay ciphertext, one warning.
    let nobody = Person::new();
    let c1 = t.path().join("c1");
    nobody.clone_with_filters(&dir, &c1);
    let s = read(&c1.join("config/envs/staging.env"));
    assert!(
        s.contains("DATABASE_URL=arcane:v1:") && !s.contains(DB_URL),
        "{s}"
    );
    // Committing plaintext without a key is refused.
    std::fs::write(c1.join("config/envs/base.env"), "NEW_SECRET=plain-value\n").unwrap();
    let o = nobody.git(&c1, &["add", "config/envs/base.env"]);
    assert!(!o.status.success(), "plaintext was accepted");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refusing to store config/envs/base.env unencrypted"),
        "{err}"
    );
    // Alice's clone (she has the identity): plaintext.
    let c2 = t.path().join("c2");
    alice.clone_with_filters(&dir, &c2);
    assert!(read(&c2.join("config/envs/staging.env")).contains(DB_URL));
    let st = alice.git_ok(&c2, &["status", "--porcelain"]);
    assert!(st.trim().is_empty(), "{st}");
}

#[test]
fn teammate_added_then_removed() {
    let alice = Person::new();
    let (t, dir) = project(&alice);
    let bob = Person::new();
    bob.ok(&dir, &["identity", "new"]);
    let bob_key = bob.public_key(&dir);
    alice.ok(
        &dir,
        &["team", "add", "bob", &bob_key, "--scopes", "base,staging"],
    );
    let list = alice.ok(&dir, &["team", "list"]);
    assert!(
        list.contains("bob") && list.contains("base,staging"),
        "{list}"
    );
    alice.git_ok(&dir, &["add", "-A"]);
    alice.git_ok(&dir, &["commit", "-qm", "add bob"]);
    let b1 = t.path().join("b1");
    bob.clone_with_filters(&dir, &b1);
    assert!(read(&b1.join("config/envs/staging.env")).contains(DB_URL));
    // Not in his scopes: production stays ciphertext.
    assert!(read(&b1.join("config/envs/production.env")).contains("arcane:v1:"));

    let o = alice.arcane(&dir, &["team", "remove", "bob"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("history stays readable") && err.contains("Rotate the real credentials"),
        "{err}"
    );
    alice.git_ok(&dir, &["commit", "-qm", "remove bob"]);
    let b2 = t.path().join("b2");
    bob.clone_with_filters(&dir, &b2);
    let s = read(&b2.join("config/envs/staging.env"));
    assert!(
        s.contains("arcane:v1:") && !s.contains(DB_URL),
        "bob still decrypts: {s}"
    );
    // Alice still reads everything, and the working tree is clean.
    assert!(read(&dir.join("config/envs/staging.env")).contains(DB_URL));
    let out = alice.ok(&dir, &["env", "show", "--env", "staging", "--reveal"]);
    assert!(out.contains(DB_URL), "{out}");
}

#[test]
fn tampered_or_moved_values_fail_naming_the_key() {
    let alice = Person::new();
    let (t, dir) = project(&alice);
    // A clone without filters holds ciphertext, as on CI.
    let c = t.path().join("ci");
    alice.git_ok(
        t.path(),
        &["clone", "-q", dir.to_str().unwrap(), c.to_str().unwrap()],
    );
    let staging = c.join("config/envs/staging.env");
    let prod = c.join("config/envs/production.env");
    let orig = read(&staging);
    let orig_prod = read(&prod);
    // Reading ciphertext works without filters.
    let out = alice.ok(&c, &["env", "show", "--env", "staging", "--reveal"]);
    assert!(out.contains(DB_URL), "{out}");
    let value_of = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap()
            .to_string()
    };
    let show_err = |env: &str| {
        let o = alice.arcane(&c, &["env", "show", "--env", env, "--reveal"]);
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    // Tampered.
    let v = value_of(&orig, "API_TOKEN");
    let mut bad = v.clone().into_bytes();
    let i = bad.len() - 3;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(
        &staging,
        orig.replace(&v, std::str::from_utf8(&bad).unwrap()),
    )
    .unwrap();
    let e = show_err("staging");
    assert!(
        e.contains("API_TOKEN") && e.contains("does not decrypt"),
        "{e}"
    );
    // Moved to another key.
    let db = value_of(&orig, "DATABASE_URL");
    std::fs::write(&staging, orig.replace(&v, &db)).unwrap();
    let e = show_err("staging");
    assert!(e.contains("API_TOKEN"), "{e}");
    std::fs::write(&staging, &orig).unwrap();
    // Moved to another env file (same key name).
    let p = value_of(&orig_prod, "PROD_ONLY");
    std::fs::write(
        &prod,
        orig_prod
            .replace(&p, &db)
            .replace("PROD_ONLY=", "DATABASE_URL="),
    )
    .unwrap();
    let e = show_err("production");
    assert!(e.contains("DATABASE_URL"), "{e}");
    // A deleted line breaks the file MAC.
    let no_token: String = orig
        .lines()
        .filter(|l| !l.starts_with("API_TOKEN="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&staging, no_token).unwrap();
    let e = show_err("staging");
    assert!(e.contains("MAC"), "{e}");
}

#[test]
fn run_passes_env_strips_key_vars_and_exit_code() {
    let alice = Person::new();
    let (_t, dir) = project(&alice);
    // Every key variable arcane reads is kept from the child.
    let mut c = Command::new(BIN);
    alice.env(&mut c);
    let id = alice.xdg().join("arcane/identity.txt");
    let o = c
        .current_dir(&dir)
        .env("ARCANE_IDENTITY", &id)
        .env("ARCANE_MACHINE_KEY", secret_line(&id))
        .env("ARCANE_PASSPHRASE", "unused")
        .args(["run", "--env", "staging", "--", "sh", "-c"])
        .arg("echo \"db=$DATABASE_URL\"; env | grep ^ARCANE_ ; exit 7")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("db={DB_URL}")), "{out}");
    assert!(!out.contains("ARCANE_"), "key vars leaked: {out}");
}

#[test]
fn machine_key_reads_ciphertext_checkout() {
    let alice = Person::new();
    let (t, dir) = project(&alice);
    let kp = alice.ok(&dir, &["deploy", "gen-key"]);
    let public = kp
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    let secret = kp
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string();
    alice.ok(
        &dir,
        &[
            "deploy",
            "allow",
            &public,
            "--name",
            "ci",
            "--scopes",
            "base,staging",
        ],
    );
    alice.git_ok(&dir, &["add", "-A"]);
    alice.git_ok(&dir, &["commit", "-qm", "ci key"]);
    let ci = Person::new();
    let c = t.path().join("ci");
    ci.git_ok(
        t.path(),
        &["clone", "-q", dir.to_str().unwrap(), c.to_str().unwrap()],
    );
    let mut cmd = Command::new(BIN);
    ci.env(&mut cmd);
    let o = cmd
        .current_dir(&c)
        .env("ARCANE_MACHINE_KEY", &secret)
        .args(["env", "show", "--env", "staging", "--reveal"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(DB_URL));
    // Revoke: rotated, and the old key no longer opens the new commit.
    alice.ok(&dir, &["deploy", "revoke", "ci"]);
    alice.git_ok(&dir, &["commit", "-qm", "revoke ci"]);
    ci.git_ok(&c, &["pull", "-q"]);
    let mut cmd = Command::new(BIN);
    ci.env(&mut cmd);
    let o = cmd
        .current_dir(&c)
        .env("ARCANE_MACHINE_KEY", &secret)
        .args(["env", "show", "--env", "staging", "--reveal"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot decrypt scope"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn pre_commit_hook_blocks_a_staged_aws_key() {
    let alice = Person::new();
    let (_t, dir) = project(&alice);
    std::fs::write(
        dir.join("settings.py"),
        "AWS_KEY = 'AKIAQ3EGRFZWNLVJ7XKD'\n",
    )
    .unwrap();
    alice.git_ok(&dir, &["add", "settings.py"]);
    let o = alice.git(&dir, &["commit", "-qm", "oops"]);
    assert!(!o.status.success(), "commit with an AWS key went through");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(all.contains("settings.py:1:aws-access-key-id"), "{all}");
    assert!(
        !all.contains("Q3EGRFZWNLVJ7XKD"),
        "secret not redacted: {all}"
    );
}

#[test]
fn hook_refuses_plaintext_env_files_when_filters_are_missing() {
    let alice = Person::new();
    let (t, dir) = project(&alice);
    let c = t.path().join("nofilter");
    alice.git_ok(
        t.path(),
        &["clone", "-q", dir.to_str().unwrap(), c.to_str().unwrap()],
    );
    alice.ok(&c, &["hooks", "install"]);
    std::fs::write(c.join("config/envs/base.env"), "LOG_LEVEL=debug\n").unwrap();
    alice.git_ok(&c, &["add", "-A"]);
    let o = alice.git(&c, &["commit", "-qm", "plain"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("config/envs/base.env is staged UNENCRYPTED"),
        "{err}"
    );
}

#[test]
fn env_edit_reencrypts_and_rejects_invalid_edits() {
    let alice = Person::new();
    let (_t, dir) = project(&alice);
    let f = dir.join("config/envs/staging.env");
    let before = read(&f);
    let mut c = Command::new(BIN);
    alice.env(&mut c);
    let o = c
        .current_dir(&dir)
        .env("EDITOR", "sed -i -e '$a THIS IS NOT VALID'")
        .args(["env", "edit", "--env", "staging"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("left unchanged"));
    assert_eq!(read(&f), before);
    let mut c = Command::new(BIN);
    alice.env(&mut c);
    let o = c
        .current_dir(&dir)
        .env(
            "EDITOR",
            "sed -i -e 's/^API_TOKEN=.*/API_TOKEN=edited-value/'",
        )
        .args(["env", "edit", "--env", "staging"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(read(&f).contains("API_TOKEN=edited-value"));
    // No plaintext temp copies left behind.
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name().to_string_lossy().contains("arcane-edit-")
                && e.file_name().to_string_lossy().ends_with("-staging.env")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn identity_files_are_private_and_passphrase_works() {
    use std::os::unix::fs::PermissionsExt;
    let p = Person::new();
    let d = tempfile::tempdir().unwrap();
    let mut c = Command::new(BIN);
    p.env(&mut c);
    let o = c
        .current_dir(d.path())
        .env("ARCANE_PASSPHRASE", "correct horse")
        .args(["identity", "new", "--passphrase"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = p.xdg().join("arcane/identity.txt");
    assert_eq!(
        std::fs::metadata(&id).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(id.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert!(read(&id).starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    let mut c = Command::new(BIN);
    p.env(&mut c);
    let o = c
        .current_dir(d.path())
        .env("ARCANE_PASSPHRASE", "wrong")
        .args(["identity", "show"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let mut c = Command::new(BIN);
    p.env(&mut c);
    let o = c
        .current_dir(d.path())
        .env("ARCANE_PASSPHRASE", "correct horse")
        .args(["identity", "show"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("age1"));
    // Refuses to overwrite without --force.
    assert_eq!(
        p.arcane(d.path(), &["identity", "new"]).status.code(),
        Some(2)
    );
}

#[test]
fn ssh_ed25519_teammate_can_decrypt() {
    let alice = Person::new();
    let (t, dir) = project(&alice);
    let carol = Person::new();
    let key = carol.home.path().join("id_ed25519");
    let o = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "carol@laptop", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success());
    carol.ok(&dir, &["identity", "import", key.to_str().unwrap()]);
    let public = read(&key.with_extension("pub"));
    assert!(carol.public_key(&dir).starts_with("ssh-ed25519 AAAA"));
    alice.ok(
        &dir,
        &[
            "team",
            "add",
            "carol",
            public.trim(),
            "--scopes",
            "base,staging",
        ],
    );
    alice.git_ok(&dir, &["add", "-A"]);
    alice.git_ok(&dir, &["commit", "-qm", "add carol"]);
    let c = t.path().join("carol");
    carol.clone_with_filters(&dir, &c);
    assert!(read(&c.join("config/envs/staging.env")).contains(DB_URL));
}
