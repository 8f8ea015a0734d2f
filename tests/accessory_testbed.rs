//! Accessories (`[accessories.NAME]`, `arcane accessory ...`) on a real test
//! server (netns + own dockerd + own sshd, see docs/testing.md), over SSH,
//! with the real binary: boot, idempotent boot, logs, stop, reboot, remove
//! (refused without a TTY and without --yes), and app deploys leaving the
//! accessory container alone.

mod common {
    pub mod argv_watch;
    pub mod testbed;
}
mod deploy_support;

use common::argv_watch::ArgvWatch;
use common::testbed::{testbed, Testbed};
use deploy_support::*;
use std::process::{Output, Stdio};

/// The staging secret `App` writes to config/envs/staging.env.
const SECRET: &str = "s3cr3t-token-value-0042";

fn servers_toml(tb: &Testbed) -> String {
    std::fs::read_to_string(&tb.servers_toml).unwrap()
}

fn sh(tb: &Testbed, cmd: &str) -> String {
    let o = tb.exec("srv1", cmd);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// `Id StartedAt Status` of a container on srv1, or "" when it does not exist.
fn state(tb: &Testbed, cname: &str) -> String {
    sh(
        tb,
        &format!(
            "docker inspect --type container -f '{{{{.Id}}}} {{{{.State.StartedAt}}}} {{{{.State.Status}}}}' {cname} 2>/dev/null"
        ),
    )
}

fn field(st: &str, i: usize) -> String {
    st.split(' ').nth(i).unwrap_or("").to_string()
}

/// Run arcane without a TTY (stdin from /dev/null, output captured) while a
/// [`ArgvWatch`] scans every process's argv (the servers' included) for
/// the secret.
fn arcane_scanned(app: &App, args: &[&str]) -> Output {
    let watch = ArgvWatch::start(SECRET);
    let o = app.cmd().args(args).stdin(Stdio::null()).output().unwrap();
    let (hits, _) = watch.finish();
    assert!(hits.is_empty(), "secret in a server argv: {hits:?}");
    assert!(
        !text(&o).contains("s3cr3t"),
        "secret in arcane's output: {}",
        text(&o)
    );
    o
}

fn arcane(app: &App, args: &[&str]) -> Output {
    app.cmd().args(args).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn accessory_lifecycle_boot_logs_stop_reboot_remove_and_deploys_leave_it_alone() {
    let Some(tb) = testbed(2) else { return };
    let tb: &'static Testbed = tb.testbed();
    let prefix = "tba";
    let name = format!("{prefix}{}", std::process::id() % 100000);
    let volume = format!("{name}-cachedata");
    let extra = format!(
        "[accessories.cache]\nimage = \"busybox:stable\"\nvolumes = [\"{volume}:/data\"]\nenv = [\"SECRET_TOKEN\"]\ncmd = \"sh -c 'echo started; date >> /data/boots; while sleep 1; do :; done'\"\n"
    );
    let app = App::with_publish(prefix, &extra, &servers_toml(tb), false);
    assert_eq!(app.name, name);
    let cname = format!("{name}-staging-cache");
    let with = |a: &[&'static str]| -> Vec<&'static str> {
        a.iter().copied().chain(["--server", "srv1"]).collect()
    };

    // The app is live first, so the later deploy is a real rolling one.
    let o = arcane(&app, &["deploy", "--server", "srv1"]);
    assert!(o.status.success(), "{}", text(&o));

    // boot (with -v: the command log must not show the secret).
    let v = with(&["-v", "accessory", "boot", "cache"]);
    let o = arcane_scanned(&app, &v);
    assert!(o.status.success(), "{}", text(&o));
    let st = state(tb, &cname);
    assert_eq!(field(&st, 2), "running", "{st}\n{}", text(&o));
    let id1 = field(&st, 0);
    let labels = sh(
        tb,
        &format!("docker inspect -f '{{{{json .Config.Labels}}}} {{{{.HostConfig.NetworkMode}}}}' {cname}"),
    );
    assert!(
        labels.contains(&format!("\"arcane.app\":\"{name}\"")),
        "{labels}"
    );
    assert!(labels.contains("\"arcane.env\":\"staging\""), "{labels}");
    assert!(
        labels.contains("\"arcane.accessory\":\"cache\""),
        "{labels}"
    );
    assert!(
        labels.ends_with(&format!(" {name}-staging")),
        "app network: {labels}"
    );
    let mounts = sh(
        tb,
        &format!("docker inspect -f '{{{{range .Mounts}}}}{{{{.Name}}}}:{{{{.Destination}}}} {{{{end}}}}' {cname}"),
    );
    assert!(mounts.contains(&format!("{volume}:/data")), "{mounts}");
    let env = sh(tb, &format!("docker exec {cname} env"));
    assert!(
        env.lines().any(|l| l == format!("SECRET_TOKEN={SECRET}")),
        "env key inside"
    );
    assert!(
        !env.contains("GREETING="),
        "only the listed keys are passed"
    );
    let mode = sh(
        tb,
        &format!("stat -c %a /root/.arcane/{name}/staging/accessories/cache.env"),
    );
    assert_eq!(mode, "600");

    // boot again: idempotent, same container, says so.
    let o = arcane(&app, &with(&["accessory", "boot", "cache"]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("already running"), "{}", text(&o));
    assert_eq!(state(tb, &cname), st, "same container, not restarted");

    // logs shows its output.
    let o = arcane(&app, &with(&["accessory", "logs", "cache"]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("started"), "{}", text(&o));

    // stop stops it, and its restart policy does not bring it back.
    let o = arcane(&app, &with(&["accessory", "stop", "cache"]));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(field(&state(tb, &cname), 2), "exited");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(field(&state(tb, &cname), 2), "exited", "stays stopped");

    // boot of a stopped accessory starts the same container again.
    let o = arcane(&app, &with(&["accessory", "boot", "cache"]));
    assert!(o.status.success(), "{}", text(&o));
    let st2 = state(tb, &cname);
    assert_eq!(field(&st2, 2), "running", "{}", text(&o));
    assert_eq!(field(&st2, 0), id1, "same container");
    assert_ne!(field(&st2, 1), field(&st, 1), "started again");

    // reboot: a new container (with --json: no secret in any event either).
    let v = with(&["--json", "-v", "accessory", "reboot", "cache"]);
    let o = arcane_scanned(&app, &v);
    assert!(o.status.success(), "{}", text(&o));
    let st3 = state(tb, &cname);
    assert_eq!(field(&st3, 2), "running", "{}", text(&o));
    assert_ne!(field(&st3, 0), id1, "reboot recreates the container");
    assert_eq!(
        sh(tb, &format!("docker exec {cname} wc -l /data/boots"))
            .split(' ')
            .next(),
        Some("3"),
        "the volume outlives the container: one line per start"
    );

    // An app deploy leaves the accessory alone: same container, same start.
    app.commit_version("v2", true);
    let o = arcane(&app, &["deploy", "--server", "srv1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        http_get_at(tb.ip("srv1"), app.port, "/").as_deref(),
        Some("v2")
    );
    assert_eq!(state(tb, &cname), st3, "deploy did not touch the accessory");
    // The app (image mode, no proxy) reaches the accessory by its name.
    let reach = tb.exec(
        "srv1",
        &format!(
            "c=$(docker ps -q --filter label=arcane.app={name} --filter label=arcane.release | head -n1); \
             test -n \"$c\" && docker exec \"$c\" ping -c1 -W3 {cname}"
        ),
    );
    assert!(
        reach.status.success(),
        "app -> accessory: {}",
        String::from_utf8_lossy(&reach.stdout)
    );

    // remove without a TTY and without --yes: refused, exit 2, nothing removed.
    let o = arcane(&app, &with(&["accessory", "remove", "cache"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--yes"), "{}", text(&o));
    assert_eq!(state(tb, &cname), st3, "nothing removed");

    // remove --yes: container and its env file gone, the data volume kept.
    let o = arcane(&app, &with(&["accessory", "remove", "cache", "--yes"]));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(state(tb, &cname), "", "container removed");
    assert!(
        text(&o).contains(&volume),
        "names the kept volume: {}",
        text(&o)
    );
    assert_eq!(
        sh(tb, &format!("docker volume ls -q --filter name=^{volume}$")),
        volume,
        "named volume kept"
    );
    assert!(!tb
        .exec(
            "srv1",
            &format!("test -e /root/.arcane/{name}/staging/accessories/cache.env")
        )
        .status
        .success());
    // The app still serves.
    assert_eq!(
        http_get_at(tb.ip("srv1"), app.port, "/").as_deref(),
        Some("v2")
    );

    // remove again: nothing there is not an error.
    let o = arcane(&app, &with(&["accessory", "remove", "cache", "--yes"]));
    assert!(o.status.success(), "{}", text(&o));

    sh(
        tb,
        &format!(
            "docker ps -aq --filter label=arcane.app={name} | xargs -r docker rm -f >/dev/null 2>&1; docker volume rm {volume} >/dev/null 2>&1; docker network rm {name}-staging >/dev/null 2>&1; rm -rf /root/.arcane/{name}"
        ),
    );
}

#[test]
fn unknown_accessory_name_exits_2_listing_the_configured_names() {
    let Some(tb) = testbed(2) else { return };
    let extra = "[accessories.cache]\nimage = \"busybox:stable\"\n\n[accessories.db]\nimage = \"busybox:stable\"\n";
    let app = App::with_publish("tbu", extra, &servers_toml(tb.testbed()), false);
    for verb in ["boot", "reboot", "stop", "logs", "remove"] {
        let o = arcane(&app, &["accessory", verb, "redis", "--server", "srv1"]);
        assert_eq!(o.status.code(), Some(2), "{verb}: {}", text(&o));
        let t = text(&o);
        assert!(
            t.contains("redis") && t.contains("cache, db"),
            "{verb}: {t}"
        );
    }
}

/// `arcane ARGS` on a pseudo-terminal (util-linux `script`), typing `answer`.
fn arcane_on_tty(app: &App, args: &[&str], answer: &str) -> Output {
    use std::io::Write;
    let line = std::iter::once(env!("CARGO_BIN_EXE_arcane"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &line, "/dev/null"])
        .current_dir(app.path())
        .env("HOME", app.home.path())
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Answer once the prompt is up; `script` forwards it to the terminal.
    std::thread::sleep(std::time::Duration::from_secs(1));
    stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    drop(stdin);
    o
}

#[test]
fn reboot_with_a_missing_env_key_changes_nothing_and_remove_on_a_tty_asks_for_the_name() {
    let Some(tb) = testbed(2) else { return };
    let tb: &'static Testbed = tb.testbed();
    let extra = "[accessories.tmp]\nimage = \"busybox:stable\"\ncmd = \"sleep 3600\"\n";
    let app = App::with_publish("tbt", extra, &servers_toml(tb), false);
    let cname = format!("{}-staging-tmp", app.name);
    let o = arcane(&app, &["accessory", "boot", "tmp", "--server", "srv1"]);
    assert!(o.status.success(), "{}", text(&o));
    let st = state(tb, &cname);
    assert_eq!(field(&st, 2), "running");

    // A reboot whose env key resolves nowhere is refused before anything
    // changes: the running container stays.
    let toml = std::fs::read_to_string(app.path().join("arcane.toml")).unwrap();
    app.write(
        "arcane.toml",
        &toml.replace(
            "cmd = \"sleep 3600\"",
            "cmd = \"sleep 3600\"\nenv = [\"NOT_DEFINED_KEY\"]",
        ),
    );
    app.commit("missing key");
    let o = arcane(&app, &["accessory", "reboot", "tmp", "--server", "srv1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("NOT_DEFINED_KEY"), "{}", text(&o));
    assert_eq!(state(tb, &cname), st, "old container still running");

    // "y" is not the name: not confirmed, exit 2, nothing removed.
    let o = arcane_on_tty(
        &app,
        &["accessory", "remove", "tmp", "--server", "srv1"],
        "y",
    );
    let t = text(&o);
    assert!(t.contains("Type tmp to confirm"), "{t}");
    assert!(t.contains("not confirmed"), "{t}");
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert_eq!(state(tb, &cname), st, "nothing removed");

    let o = arcane_on_tty(
        &app,
        &["accessory", "remove", "tmp", "--server", "srv1"],
        "tmp",
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(state(tb, &cname), "", "removed: {}", text(&o));
    sh(
        tb,
        &format!(
            "docker network rm {}-staging >/dev/null 2>&1; rm -rf /root/.arcane/{}",
            app.name, app.name
        ),
    );
}

#[test]
fn an_accessory_with_roles_runs_only_on_servers_with_one_of_them() {
    let Some(tb) = testbed(2) else { return };
    let tb: &'static Testbed = tb.testbed();
    // srv2 gets the role "db" (the testbed gives every server "web").
    let toml = servers_toml(tb);
    let at = toml.find("[servers.srv2]").unwrap();
    let (head, tail) = toml.split_at(at);
    let toml = format!(
        "{head}{}",
        tail.replacen("roles = [\"web\"]", "roles = [\"web\", \"db\"]", 1)
    );
    let extra =
        "[accessories.kv]\nimage = \"busybox:stable\"\ncmd = \"sleep 3600\"\nroles = [\"db\"]\n";
    let app = App::with_publish("tbr", extra, &toml, false);
    let cname = format!("{}-staging-kv", app.name);
    let o = arcane(&app, &["accessory", "boot", "kv", "--server", "srv1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("no selected server has a role"),
        "{}",
        text(&o)
    );
    let o = arcane(
        &app,
        &[
            "accessory",
            "boot",
            "kv",
            "--server",
            "srv1",
            "--server",
            "srv2",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let on = |s: &str| {
        String::from_utf8_lossy(
            &tb.exec(
                s,
                &format!("docker inspect --type container -f '{{{{.State.Status}}}}' {cname} 2>/dev/null"),
            )
            .stdout,
        )
        .trim()
        .to_string()
    };
    assert_eq!(on("srv2"), "running");
    assert_eq!(on("srv1"), "", "srv1 has no db role");
    let o = arcane(
        &app,
        &[
            "accessory",
            "remove",
            "kv",
            "--yes",
            "--server",
            "srv1",
            "--server",
            "srv2",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(on("srv2"), "");
    for s in ["srv1", "srv2"] {
        tb.exec(
            s,
            &format!(
                "docker network rm {}-staging >/dev/null 2>&1; rm -rf /root/.arcane/{}",
                app.name, app.name
            ),
        );
    }
}

/// An accessory serving "from-db" over HTTP on port 8000: a stand-in for a
/// database that an app (and its migration hook) must reach by name.
const DB_ACCESSORY: &str = "[accessories.db]\nimage = \"busybox:stable\"\ncmd = \"sh -c 'mkdir -p /w && echo from-db > /w/index.html && exec httpd -f -p 8000 -h /w'\"\n\n[[hooks.pre_deploy]]\ncommand = \"wget -qO- http://db:8000/ | grep -q from-db\"\ntimeout = 30\n";

/// Inside container `c` on srv1: GET `url`, or the error.
fn fetch_inside(tb: &Testbed, c: &str, url: &str) -> String {
    sh(tb, &format!("docker exec {c} wget -qO- {url} 2>&1"))
}

#[test]
fn an_app_behind_the_proxy_and_its_hooks_reach_the_accessory_by_name() {
    let Some(tb) = testbed(2) else { return };
    let tb: &'static Testbed = tb.testbed();
    let host = format!("tbp{}.test", std::process::id() % 100000);
    let extra = format!(
        "{DB_ACCESSORY}\n[proxy]\nhosts = [\"{host}\"]\napp_port = 8080\ntls = \"off\"\ndrain_timeout = 2\n"
    );
    let app = App::with_publish("tbp", &extra, &servers_toml(tb), false);
    let _clean = OnSrv1(tb, app.name.clone());
    let o = arcane(&app, &["accessory", "boot", "db", "--server", "srv1"]);
    assert!(o.status.success(), "{}", text(&o));
    // The pre-deploy hook fails the deploy unless it reaches `db`.
    let o = arcane(&app, &["deploy", "--server", "srv1"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 hook(s) ran"), "{}", text(&o));
    let c = sh(
        tb,
        &format!(
            "docker ps --filter label=arcane.app={} --filter label=arcane.service=web --format '{{{{.Names}}}}'",
            app.name
        ),
    );
    assert!(!c.is_empty() && !c.contains('\n'), "one app container: {c}");
    let nets = sh(
        tb,
        &format!("docker inspect -f '{{{{range $k, $v := .NetworkSettings.Networks}}}}{{{{$k}}}} {{{{end}}}}' {c}"),
    );
    let mut nets: Vec<&str> = nets.split_whitespace().collect();
    nets.sort();
    let own = format!("{}-staging", app.name);
    assert_eq!(
        nets,
        [arcane::proxy::NETWORK, own.as_str()],
        "networks of {c}"
    );
    assert_eq!(fetch_inside(tb, &c, "http://db:8000/"), "from-db");
    assert_eq!(
        fetch_inside(tb, &c, &format!("http://{}-staging-db:8000/", app.name)),
        "from-db"
    );
    // And the proxy still serves the app.
    let page = sh(
        tb,
        &format!(
            "busybox wget -qO- --header 'Host: {host}' http://{}:80/ 2>&1",
            tb.ip("srv1")
        ),
    );
    assert_eq!(page, "v1");
    remove_accessory(&app);
}

#[test]
fn a_compose_app_reaches_the_accessory_by_name() {
    let Some(tb) = testbed(2) else { return };
    let tb: &'static Testbed = tb.testbed();
    let app = App::with_publish("tbc", DB_ACCESSORY, &servers_toml(tb), false);
    let _clean = OnSrv1(tb, app.name.clone());
    let p = app.path();
    std::fs::create_dir_all(p.join("web")).unwrap();
    std::fs::rename(p.join("www"), p.join("web/www")).unwrap();
    std::fs::rename(p.join("Dockerfile"), p.join("web/Dockerfile")).unwrap();
    app.write(
        "compose.yml",
        &format!(
            "services:\n  web:\n    build: ./web\n    ports: [\"{}:8080\"]\n",
            app.port
        ),
    );
    app.commit("compose");
    let o = arcane(&app, &["accessory", "boot", "db", "--server", "srv1"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = arcane(&app, &["deploy", "--server", "srv1"]);
    assert!(o.status.success(), "{}", text(&o));
    let web = format!("{}-staging_web_1", app.name);
    assert_eq!(fetch_inside(tb, &web, "http://db:8000/"), "from-db");
    remove_accessory(&app);
}

/// Removes the app's containers (accessories too), networks and records
/// from srv1 when the test ends, passed or not.
struct OnSrv1<'a>(&'a Testbed, String);

impl Drop for OnSrv1<'_> {
    fn drop(&mut self) {
        sh(
            self.0,
            &format!(
                "docker ps -aq --filter label=arcane.app={n} | xargs -r docker rm -f >/dev/null 2>&1; \
                 docker network rm {n}-staging {n}-staging_default >/dev/null 2>&1; rm -rf /root/.arcane/{n}; \
                 docker volume ls -q --filter label=arcane.app={n} | xargs -r docker volume rm >/dev/null 2>&1",
                n = self.1
            ),
        );
    }
}

/// `accessory remove` works on the way out (the guard cleans up the rest).
fn remove_accessory(app: &App) {
    let o = arcane(
        app,
        &["accessory", "remove", "db", "--yes", "--server", "srv1"],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_volume_of_another_app_is_refused_and_env_placeholders_expand() {
    let Some(tb) = testbed(2) else { return };
    let tb: &'static Testbed = tb.testbed();
    let shared = format!("tbv{}-shared", std::process::id() % 100000);
    let kv = |vol: &str| {
        format!("[accessories.kv]\nimage = \"busybox:stable\"\ncmd = \"sleep 3600\"\nvolumes = [\"{vol}:/data\"]\n")
    };
    let a = App::with_publish("tbv", &kv(&shared), &servers_toml(tb), false);
    let _ca = OnSrv1(tb, a.name.clone());
    let o = arcane(&a, &["accessory", "boot", "kv", "--server", "srv1"]);
    assert!(o.status.success(), "{}", text(&o));
    let labels = sh(
        tb,
        &format!("docker volume inspect -f '{{{{json .Labels}}}}' {shared}"),
    );
    assert!(
        labels.contains(&format!("\"arcane.app\":\"{}\"", a.name)),
        "{labels}"
    );

    // Another app naming the same volume would share a's data: refused,
    // exit 2, nothing started.
    let b = App::with_publish("tbw", &kv(&shared), &servers_toml(tb), false);
    let _cb = OnSrv1(tb, b.name.clone());
    let o = arcane(&b, &["accessory", "boot", "kv", "--server", "srv1"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("belongs to app {}, env staging", a.name)),
        "{}",
        text(&o)
    );
    assert_eq!(state(tb, &format!("{}-staging-kv", b.name)), "");

    // `{env}` (and `{app}`) give it a volume of its own.
    let toml = std::fs::read_to_string(b.path().join("arcane.toml")).unwrap();
    b.write(
        "arcane.toml",
        &toml.replace(
            &format!("\"{shared}:/data\""),
            &format!("\"{shared}-{{app}}-{{env}}:/data\""),
        ),
    );
    let o = arcane(&b, &["accessory", "boot", "kv", "--server", "srv1"]);
    assert!(o.status.success(), "{}", text(&o));
    let mounts = sh(
        tb,
        &format!(
            "docker inspect -f '{{{{range .Mounts}}}}{{{{.Name}}}} {{{{end}}}}' {}-staging-kv",
            b.name
        ),
    );
    assert_eq!(mounts, format!("{shared}-{}-staging", b.name));
}
