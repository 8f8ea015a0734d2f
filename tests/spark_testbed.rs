//! The one end-to-end Spark test on a real server: a signed GitHub push
//! makes the real `arcane spark serve` deploy examples/hello to a testbed
//! server over SSH, decrypting the project's encrypted staging env with the
//! machine key the team allowed, and no secret reaches any argv.

mod common {
    pub mod argv_watch;
    pub mod spark;
    pub mod testbed;
}
#[path = "common/host.rs"]
mod host;

use common::argv_watch::ArgvWatch;
use common::spark::*;
use common::testbed::testbed;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const SECRET: &str = "spark-s3ssion-secret-7781";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

/// Run as the developer (their own identity under `dev/xdg`).
fn dev(dir: &Path, home: &Path, program: &str, args: &[&str]) -> String {
    let o = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("xdg"))
        .env("GIT_AUTHOR_NAME", "dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.org")
        .env("GIT_COMMITTER_NAME", "dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.org")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn a_github_push_deploys_examples_hello_to_a_testbed_server_with_the_machine_key() {
    let Some(tb) = testbed(1) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (proj, dev_home, spark_home) = (
        tmp.path().join("hello"),
        tmp.path().join("dev"),
        tmp.path().join("spark-home"),
    );
    let name = format!("sparkhello{}", std::process::id() % 100000);
    let _host = host::HostCleanup::new().app(&name);
    let bin = env!("CARGO_BIN_EXE_arcane");

    // The team's repository: examples/hello, deploying staging to srv1,
    // its staging env encrypted, the build machine's key allowed.
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello"),
        &proj,
    );
    let toml = std::fs::read_to_string(proj.join("arcane.toml")).unwrap();
    std::fs::write(
        proj.join("arcane.toml"),
        toml.replace("name = \"hello\"", &format!("name = \"{name}\""))
            .replace("[deploy]", "[deploy]\npublish = \"8080\""),
    )
    .unwrap();
    std::fs::copy(&tb.servers_toml, proj.join("config/servers.toml")).unwrap();
    dev(&proj, &dev_home, "git", &["init", "-q", "-b", "main"]);
    dev(&proj, &dev_home, bin, &["init", "--name", &name]);
    dev(
        &proj,
        &dev_home,
        bin,
        &["env", "set", "SESSION_SECRET", SECRET, "--env", "staging"],
    );
    let (key, public) = machine_key();
    dev(
        &proj,
        &dev_home,
        bin,
        &[
            "deploy",
            "allow",
            &public,
            "--name",
            "spark",
            "--scopes",
            "base,staging",
        ],
    );
    dev(&proj, &dev_home, "git", &["add", "-A"]);
    dev(&proj, &dev_home, "git", &["commit", "-qm", "hello"]);
    let stored = dev(
        &proj,
        &dev_home,
        "git",
        &["show", "HEAD:config/envs/staging.env"],
    );
    assert!(!stored.contains(SECRET), "git holds plaintext: {stored}");
    let sha = head(&proj);

    let cfg = tmp.path().join("spark.toml");
    std::fs::write(
        &cfg,
        format!(
            "[spark]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ndebounce = \"0s\"\ngithub_secret_env = \"SPARK_GH\"\n\n[spark.apps.hello]\nrepo = \"{}\"\nbranches = {{ main = \"staging\" }}\n",
            tmp.path().join("state").display(),
            proj.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(&spark_home).unwrap();
    let serve = Serve::start(
        &cfg,
        &spark_home,
        &[("ARCANE_MACHINE_KEY", &key), ("SPARK_GH", GH_SECRET)],
        &tmp.path().join("serve.log"),
    );
    let watch = ArgvWatch::start(SECRET);
    let body = github_push(&proj.display().to_string(), "main", &sha);
    let (code, answer) = github(serve.addr, &body, "testbed-1");
    assert_eq!(code, 202, "{answer}");
    let s = wait_status(
        &cfg,
        &spark_home,
        "the deploy",
        Duration::from_secs(300),
        |s| {
            s["queued"].as_array().unwrap().is_empty()
                && s["running"].as_array().unwrap().is_empty()
                && !s["recent"].as_array().unwrap().is_empty()
        },
    );
    let (hits, scans) = watch.finish();
    let job = &s["recent"][0];
    let log = std::fs::read_to_string(job["log"].as_str().unwrap()).unwrap();
    assert_eq!(job["state"], "succeeded", "{s:#}\n{log}");
    assert!(hits.is_empty(), "the secret reached an argv: {hits:?}");
    assert!(scans > 0);
    assert!(!log.contains(SECRET) && !serve.log_text().contains(SECRET));

    // The pushed commit is what srv1 runs, and it answers.
    let current = tb.exec("srv1", &format!("cat /root/.arcane/{name}/staging/current"));
    assert_eq!(String::from_utf8_lossy(&current.stdout).trim(), sha);
    let page = http_get(tb.ip("srv1"), 8080, "/");
    assert!(page.starts_with("hello from arcane"), "{page:?}");
    let env = tb.exec(
        "srv1",
        &format!("cat /root/.arcane/{name}/staging/releases/{sha}/.env"),
    );
    assert!(
        String::from_utf8_lossy(&env.stdout).contains(SECRET),
        "the machine key decrypted staging"
    );
    tb.exec(
        "srv1",
        &format!("docker ps -aq --filter label=arcane.app={name} | xargs -r docker rm -f >/dev/null 2>&1; rm -rf /root/.arcane/{name}"),
    );
}

fn http_get(ip: &str, port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().unwrap();
    for _ in 0..20 {
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
            let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if let Some((_, b)) = buf.split_once("\r\n\r\n") {
                return b.trim().to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    String::new()
}
