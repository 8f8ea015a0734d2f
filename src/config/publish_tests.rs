use super::*;
use std::path::Path;

fn project(dir: &Path, arcane: &str, servers: &str) -> Project {
    std::fs::create_dir_all(dir.join("config")).unwrap();
    std::fs::write(dir.join(PROJECT_FILE), arcane).unwrap();
    std::fs::write(dir.join(SERVERS_FILE), servers).unwrap();
    Project::load(dir).unwrap_or_else(|e| panic!("{e}"))
}

const SHARED: &str = "[servers.stg]\nhost = \"box.example.com\"\nenv = \"staging\"\n\n\
                      [servers.prod]\nhost = \"BOX.example.com\"\nenv = \"production\"\n";

#[test]
fn publish_values_parse_to_bindings() {
    assert_eq!(
        parse("8080").unwrap(),
        Binding {
            ip: None,
            port: 8080
        }
    );
    assert_eq!(
        parse("127.0.0.1:80").unwrap().ip,
        Some("127.0.0.1".parse().unwrap())
    );
    assert_eq!(parse("0.0.0.0:80").unwrap().ip, None, "all interfaces");
    assert_eq!(parse("[::1]:80").unwrap().ip, Some("::1".parse().unwrap()));
    assert!(parse("0").is_err());
    assert!(parse("http").is_err());
    assert!(parse("localhost:80")
        .unwrap_err()
        .contains("not an IP address"));
    let all = parse("8080").unwrap();
    let lo = parse("127.0.0.1:8080").unwrap();
    let other = parse("10.0.0.1:8080").unwrap();
    assert!(all.overlaps(&lo) && lo.overlaps(&all));
    assert!(!lo.overlaps(&other));
    assert!(!all.overlaps(&parse("8081").unwrap()));
}

#[test]
fn an_env_publish_overrides_the_deploy_one() {
    let t = tempfile::tempdir().unwrap();
    let p = project(
        t.path(),
        "[app]\nname = \"shop\"\n[deploy]\npublish = \"9000\"\n\
         [envs.staging]\n[envs.production]\npublish = \"127.0.0.1:9001\"\n",
        SHARED,
    );
    assert_eq!(p.config.publish_for("staging").as_deref(), Some("9000"));
    assert_eq!(
        p.config.publish_for("production").as_deref(),
        Some("127.0.0.1:9001")
    );
    assert!(clashes(&p).is_empty());
}

/// Regression (staging and production cannot share one server without
/// `[proxy]`): the default publish of both envs is the same port.
#[test]
fn staging_and_production_on_one_server_clash_on_the_default_port() {
    let t = tempfile::tempdir().unwrap();
    let p = project(t.path(), "[app]\nname = \"shop\"\n", SHARED);
    let c = clashes(&p);
    assert_eq!(
        c,
        [Clash {
            envs: ["staging".into(), "production".into()],
            servers: ["stg".into(), "prod".into()],
            host: "box.example.com".into(),
            binding: Binding {
                ip: None,
                port: 8080
            },
        }]
    );
    let e = clash_errors(&p, Some("staging"));
    assert_eq!(e.len(), 1);
    let msg = e[0].to_string();
    assert!(
        msg.contains("envs staging and production both publish port 8080"),
        "{msg}"
    );
    assert!(msg.contains("port is already allocated"), "{msg}");
    assert!(
        msg.contains("[envs.production] publish = \"8081\""),
        "{msg}"
    );
    assert!(clash_errors(&p, Some("qa")).is_empty());
}

#[test]
fn a_clash_points_at_the_publish_key_to_change() {
    let t = tempfile::tempdir().unwrap();
    let p = project(
        t.path(),
        "[app]\nname = \"shop\"\n\n[envs.staging]\npublish = \"8080\"\n\n[envs.production]\n",
        SHARED,
    );
    let e = clash_errors(&p, None);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, Some(5), "{}", e[0]);
}

#[test]
fn no_clash_behind_a_proxy_or_on_different_hosts() {
    let t = tempfile::tempdir().unwrap();
    let p = project(
        t.path(),
        "[app]\nname = \"shop\"\n[proxy]\nhosts = [\"shop.test\"]\napp_port = 8080\n",
        SHARED,
    );
    assert!(clashes(&p).is_empty());
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("compose.yml"), "services: {}\n").unwrap();
    let p = project(t.path(), "[app]\nname = \"shop\"\n", SHARED);
    assert!(
        clashes(&p).is_empty(),
        "compose mode publishes what its file says"
    );
    let t = tempfile::tempdir().unwrap();
    let p = project(
        t.path(),
        "[app]\nname = \"shop\"\n",
        "[servers.a]\nhost = \"a\"\nenv = \"staging\"\n[servers.b]\nhost = \"b\"\nenv = \"production\"\n",
    );
    assert!(clashes(&p).is_empty());
}

#[test]
fn a_bad_publish_value_is_an_error_at_its_key() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("config")).unwrap();
    std::fs::write(
        t.path().join(PROJECT_FILE),
        "[app]\nname = \"shop\"\n\n[envs.staging]\npublish = \"80:80\"\n",
    )
    .unwrap();
    std::fs::write(
        t.path().join(SERVERS_FILE),
        SHARED.replace("production", "staging"),
    )
    .unwrap();
    let errs = Project::load(t.path()).unwrap_err().0;
    let msg = errs[0].to_string();
    assert!(msg.contains("[envs.staging] publish = \"80:80\""), "{msg}");
    assert_eq!(errs[0].line, Some(5));
}
