use super::*;
use crate::config::{Project, PROJECT_FILE, SERVERS_FILE};

pub const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPVCgLIr5nGqDwmyMpn7dOHw2Sf4jyH72FdzhAS8VxQW me@laptop";

fn project(dir: &Path, extra: &str) -> Result<Project, crate::config::ConfigErrors> {
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(
        dir.join(PROJECT_FILE),
        format!("[app]\nname = \"x\"\n{extra}"),
    )
    .unwrap();
    std::fs::write(
        dir.join(SERVERS_FILE),
        "[servers.a]\nhost = \"h\"\nenv = \"staging\"\n",
    )
    .unwrap();
    Project::load(dir)
}

#[test]
fn defaults_are_a_sudo_deploy_user_with_hardening_and_no_firewall() {
    let t = tempfile::tempdir().unwrap();
    let p = project(t.path(), "").unwrap();
    let b = &p.config.bootstrap;
    assert_eq!(b.user, "arcane");
    assert!(b.sudo && b.harden_ssh && !b.firewall);
    assert_eq!(b.docker, DockerSource::Distro);
}

#[test]
fn bad_bootstrap_keys_are_reported_at_their_line() {
    let t = tempfile::tempdir().unwrap();
    let errs = project(
        t.path(),
        &format!(
            "[bootstrap]\nuser = \"root\"\nauthorized_keys = [\n  \"{KEY}\",\n  \"ssh-ed25519 AAAAnotbase64!!\",\n  \"ssh-dss AAAA\",\n]\nallow_ports = [8443, \"70000\", \"53/udp\", \"9/sctp\"]\n"
        ),
    )
    .unwrap_err();
    let got: Vec<(Option<usize>, String)> =
        errs.0.iter().map(|e| (e.line, e.message.clone())).collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0].0, Some(4));
    assert!(got[0].1.contains("\"root\" cannot be the deploy user"));
    assert_eq!(got[1].0, Some(7));
    assert!(got[1].1.contains("not valid base64"), "{got:?}");
    assert_eq!(got[2].0, Some(8));
    assert!(got[2].1.contains("DSA"));
    assert_eq!(got[3].0, Some(10));
    assert!(got[3].1.contains("\"70000\" is not a port"), "{got:?}");
    assert!(got[4].1.contains("unknown protocol \"sctp\""));
    // An unknown key gets a did-you-mean, like the rest of arcane.toml.
    let errs = project(t.path(), "[bootstrap]\nfirewal = true\n").unwrap_err();
    assert_eq!(errs.0[0].line, Some(4));
    assert_eq!(errs.0[0].help.as_deref(), Some("did you mean `firewall`?"));
}

#[test]
fn key_lines_must_carry_their_own_type() {
    assert_eq!(check_key_line(&format!("  {KEY}  ")).unwrap(), KEY);
    // ed25519 data labelled as RSA: a paste mix-up.
    let mixed = KEY.replace("ssh-ed25519", "ssh-rsa");
    assert!(check_key_line(&mixed)
        .unwrap_err()
        .contains("not a ssh-rsa key (it says ssh-ed25519)"));
    assert!(looks_like_key(KEY) && !looks_like_key("~/.ssh/id_ed25519.pub"));
    assert!(is_valid_user("deploy_1") && !is_valid_user("1x") && !is_valid_user("a.b"));
}

#[test]
fn keys_come_from_files_inline_or_the_identity_and_private_keys_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    std::fs::write(root.join("me.pub"), format!("# mine\n{KEY}\n")).unwrap();
    std::fs::write(
        root.join("id_test"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    project(
        root,
        &format!("[bootstrap]\nauthorized_keys = [\"me.pub\", \"{KEY}\"]\n"),
    )
    .unwrap();
    let cfg = |keys: &str| -> BootstrapConfig {
        let text = format!("[app]\nname = \"x\"\n[bootstrap]\nauthorized_keys = {keys}\n");
        std::fs::write(root.join(PROJECT_FILE), &text).unwrap();
        toml::from_str::<ProjectConfig>(&text).unwrap().bootstrap
    };
    let r = resolve_keys(root, &cfg(&format!("[\"me.pub\", \"{KEY}\"]")), None).unwrap();
    // The same key twice is written once.
    assert_eq!(r.lines, vec![KEY.to_string()]);
    assert_eq!(r.files, vec![root.join("me.pub")]);
    let e = resolve_keys(root, &cfg("[\"nope.pub\", \"id_test\"]"), None).unwrap_err();
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("cannot read"), "{e}");
    let e = resolve_keys(root, &cfg("[\"id_test\"]"), None).unwrap_err();
    assert!(e.message.contains("is a private key"), "{e}");
    assert!(
        !e.to_string().contains("c2VjcmV0"),
        "never echoes key material"
    );
    // No keys configured: the identity's public half.
    std::fs::write(root.join("id_test.pub"), format!("{KEY}\n")).unwrap();
    let r = resolve_keys(root, &cfg("[]"), Some(&root.join("id_test"))).unwrap();
    assert_eq!(r.lines, vec![KEY.to_string()]);
    assert_eq!(r.files, vec![root.join("id_test.pub")]);
}

#[test]
fn the_firewall_opens_ssh_web_what_is_published_and_allow_ports() {
    let cfg = |s: &str| -> ProjectConfig {
        toml::from_str(&format!("[app]\nname = \"x\"\n{s}")).unwrap()
    };
    let ranges = |v: Vec<PortRule>| -> Vec<String> {
        v.iter()
            .map(|r| format!("{}/{:?}", r.range(), r.proto).to_lowercase())
            .collect()
    };
    // No proxy, no publish: the app port on every interface.
    assert_eq!(ranges(published_ports(&cfg(""))), ["8080/tcp"]);
    assert_eq!(
        ranges(published_ports(&cfg(
            "[deploy]\npublish = \"127.0.0.1:9000\"\n"
        ))),
        Vec::<String>::new()
    );
    assert_eq!(
        ranges(published_ports(&cfg(
            "[deploy]\npublish = \"9000\"\n[accessories.db]\nimage = \"pg\"\nports = [\"127.0.0.1:5432:5432\", \"6379:6379\", \"0.0.0.0:53:53/udp\", \"7000\"]\n"
        ))),
        ["6379/tcp", "9000/tcp", "53/udp"]
    );
    let c = cfg(
        "[proxy]\nhosts = [\"a.example\"]\napp_port = 3000\n[bootstrap]\nallow_ports = [8443, \"9000-9010/udp\"]\n",
    );
    assert_eq!(
        ranges(firewall_ports(&c, &[2222])),
        [
            "22/tcp",
            "80/tcp",
            "443/tcp",
            "2222/tcp",
            "8443/tcp",
            "68/udp",
            "443/udp",
            "546/udp",
            "9000-9010/udp"
        ]
    );
}
