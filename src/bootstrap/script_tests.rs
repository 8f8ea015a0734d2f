use super::*;
use crate::config::bootstrap::PortRule;

fn spec() -> Spec {
    Spec {
        user: "arcane".into(),
        keys: vec!["ssh-ed25519 AAAA k".into()],
        docker: DockerSource::Distro,
        sudo: true,
        firewall: Some(vec![PortRule::tcp(22)]),
        harden_ssh: true,
        app: "hello".into(),
        env: "staging".into(),
    }
}

/// `sh -n`: every script is valid POSIX sh (dash parses what the servers run).
fn parses(script: &str) {
    let out = std::process::Command::new("sh")
        .args(["-n", "-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n---\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_step_script_is_valid_sh_dry_or_not() {
    let s = spec();
    for dry in [false, true] {
        parses(&packages(&s, dry));
        parses(&engine(Some(true), dry));
        parses(&engine(None, dry));
        parses(&user(&s, dry));
        parses(&layout(&s, dry));
        parses(&firewall(false, "tcp 22", dry));
        parses(&sshd(&s, true, dry));
    }
    parses(&probe("arcane"));
    parses(login_check());
    parses(&firewall_undo(true));
    parses(&sshd_undo(false));
}

#[test]
fn scripts_carry_their_settings_quoted() {
    let mut s = spec();
    s.app = "it's".into();
    assert!(layout(&s, false).contains("APP='it'\\''s'\n"));
    assert!(packages(&s, true).contains("DRY=1\n"));
    assert!(packages(&s, false).contains("MODE=distro\nSUDO=1\nFW=1\n"));
    s.docker = DockerSource::Upstream;
    s.firewall = None;
    assert!(packages(&s, false).contains("MODE=upstream\nSUDO=1\nFW=0\n"));
    assert!(packages(&s, false).contains(DOCKER_KEY_FINGERPRINT));
    assert!(engine(None, false).contains("SYSTEMD=auto\nif [ -d /run/systemd/system ]"));
    assert!(user(&s, false).contains("SUDOERS_FILE=/etc/sudoers.d/arcane-arcane\n"));
}

#[test]
fn hardening_keeps_root_key_logins_when_the_deploy_user_cannot_sudo() {
    let mut s = spec();
    assert!(sshd_dropin(&s).contains("PermitRootLogin no\n"));
    assert!(sshd(&s, false, false).contains("ROOT_LOGIN=no\n"));
    s.sudo = false;
    assert!(sshd_dropin(&s).contains("PermitRootLogin prohibit-password\n"));
    assert!(authorized_keys(&s.keys)
        .ends_with("# a bootstrap rewrites this file.\nssh-ed25519 AAAA k\n"));
}
