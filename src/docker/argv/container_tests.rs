use super::*;
use crate::remote::Cmd;

fn spec() -> RunSpec {
    RunSpec {
        name: "hello-staging-web-abc1234".into(),
        image: "hello:abc1234".into(),
        env_file: "/root/.arcane/hello/staging/releases/abc1234/.env".into(),
        network: "hello-staging".into(),
        publish: Some("8080:8080".into()),
        labels: Labels {
            app: "hello".into(),
            env: "staging".into(),
            service: "web".into(),
            version: "abc1234".into(),
            release: "abc1234".into(),
        },
        also: vec![],
    }
}

#[test]
fn run_uses_env_file_labels_restart_and_port() {
    let sp = spec();
    assert_eq!(
        container(Verb::Run, &sp, &sp.name, sp.publish.as_deref()).join(" "),
        "docker run -d --name hello-staging-web-abc1234 \
         --label arcane.app=hello --label arcane.env=staging --label arcane.service=web \
         --label arcane.version=abc1234 --label arcane.release=abc1234 \
         --env-file /root/.arcane/hello/staging/releases/abc1234/.env \
         --restart unless-stopped --network hello-staging -p 8080:8080 hello:abc1234"
    );
    let c = container(Verb::Create, &sp, "x", None);
    assert_eq!(&c[..4], &["docker", "create", "--name", "x"]);
    assert!(!c.contains(&"-p".to_string()) && !c.contains(&"-d".to_string()));
}

#[test]
fn container_line_joins_extra_networks_between_create_and_start() {
    let mut sp = spec();
    assert_eq!(
        container_line(Verb::Run, &sp, "n", None),
        sh(&container(Verb::Run, &sp, "n", None)) + " >/dev/null"
    );
    sp.network = "arcane".into();
    sp.also = vec!["hello-staging".into()];
    let run = container_line(Verb::Run, &sp, "n", None);
    let create = sh(&container(Verb::Create, &sp, "n", None));
    assert_eq!(
        run,
        format!(
            "{create} >/dev/null && docker network connect hello-staging n >/dev/null \
             && docker start n >/dev/null"
        )
    );
    assert_eq!(
        container_line(Verb::Create, &sp, "n", None),
        format!("{create} >/dev/null && docker network connect hello-staging n >/dev/null")
    );
}

#[test]
fn run_spec_without_also_reads_old_release_json() {
    let mut v = serde_json::to_value(spec()).unwrap();
    assert!(v.get("also").is_none(), "empty `also` is not written");
    v.as_object_mut().unwrap().remove("also");
    let back: RunSpec = serde_json::from_value(v).unwrap();
    assert_eq!(back, spec());
}

#[test]
fn hooks_run_in_a_one_off_container_of_the_new_image() {
    let sp = spec();
    let a = hook_run(
        &sp.image,
        &sp.env_file,
        "hello-staging",
        "hello-staging-hook-1",
        &sp.labels,
        "./migrate up",
    );
    assert_eq!(
        &a[..5],
        &["docker", "run", "--rm", "--name", "hello-staging-hook-1"]
    );
    assert!(a.join(" ").contains("--label arcane.hook=1"));
    assert_eq!(
        &a[a.len() - 8..],
        &[
            "--env-file",
            "/root/.arcane/hello/staging/releases/abc1234/.env",
            "--network",
            "hello-staging",
            "hello:abc1234",
            "sh",
            "-c",
            "./migrate up"
        ]
    );
}

#[test]
fn hook_line_creates_connects_then_starts_attached() {
    let l = spec().labels;
    let run = hook_run("img:1", "/e", "arcane", "h-0", &l, "migrate");
    let line = hook_line(run.clone(), &["hello-staging".into()], "h-0");
    let mut create = run;
    create[1] = "create".into();
    assert_eq!(
        line,
        format!(
            "{} >/dev/null && docker network connect hello-staging h-0 >/dev/null \
             && exec docker start -a h-0",
            sh(&create)
        )
    );
    assert!(line.starts_with("docker create --rm --name h-0"));
}

#[test]
fn accessories() {
    let a = AccessorySpec {
        name: "hello-staging-db".into(),
        app: "hello".into(),
        env: "staging".into(),
        accessory: "db".into(),
        image: "postgres:16".into(),
        env_file: Some("/h/.arcane/hello/staging/accessories/db.env".into()),
        network: "hello-staging".into(),
        volumes: vec!["pgdata:/var/lib/postgresql/data".into()],
        ports: vec!["127.0.0.1:5432:5432".into()],
        cmd: split_words("postgres -c 'max_connections=50'"),
    };
    assert_eq!(
        accessory_run(&a).join(" "),
        "docker run -d --name hello-staging-db --label arcane.app=hello --label arcane.env=staging \
         --label arcane.accessory=db --env-file /h/.arcane/hello/staging/accessories/db.env \
         --restart unless-stopped --network hello-staging --network-alias db -v pgdata:/var/lib/postgresql/data \
         -p 127.0.0.1:5432:5432 postgres:16 postgres -c max_connections=50"
    );
    assert_eq!(split_words(r#"a "b c" '' d"#), ["a", "b c", "", "d"]);
}

#[test]
fn smoke_argv_publishes_on_loopback_only_and_hides_env_values() {
    let env: BTreeMap<String, String> = [("SECRET".to_string(), "hunter22".to_string())].into();
    let a = smoke_run("arcane-smoke-web-1", "host/42", "web:1", 8080, &env);
    assert_eq!(
        a,
        [
            "docker",
            "run",
            "-d",
            "--name",
            "arcane-smoke-web-1",
            "--label",
            "arcane.smoke=host/42",
            "-p",
            "127.0.0.1::8080",
            "-e",
            "SECRET",
            "web:1"
        ]
    );
    assert!(!a.join(" ").contains("hunter22"));
    assert_eq!(port("c", 8080), ["docker", "port", "c", "8080/tcp"]);
}

#[test]
fn lifecycle_commands() {
    let n = vec!["a".to_string(), "b".to_string()];
    assert_eq!(start(&n), ["docker", "start", "a", "b"]);
    assert_eq!(stop(&n, 10), ["docker", "stop", "-t", "10", "a", "b"]);
    assert_eq!(rm_force(&n), ["docker", "rm", "-f", "a", "b"]);
    assert_eq!(
        logs("c1", 50, true),
        ["docker", "logs", "--tail", "50", "--follow", "c1"]
    );
    assert_eq!(
        logs("c1", 10, false),
        ["docker", "logs", "--tail", "10", "c1"]
    );
    assert_eq!(
        Cmd::argv(exec(
            "c1",
            false,
            &["sh".into(), "-c".into(), "echo $HOME".into()]
        ))
        .to_shell(),
        "docker exec c1 sh -c 'echo $HOME'"
    );
    assert_eq!(
        exec("p", true, &["nc".into()]),
        ["docker", "exec", "-i", "p", "nc"]
    );
}

#[test]
fn inspect_is_of_containers_only_and_parses() {
    assert_eq!(
        inspect(&["c".into()]),
        [
            "docker",
            "inspect",
            "--type",
            "container",
            "-f",
            INSPECT_FORMAT,
            "c"
        ]
    );
    let v = parse_inspect(
        "/hello-staging-web-abc|running|healthy|172.18.0.2 |0|sha256:1|2\n/x|exited|||137|sha256:2\n",
    );
    assert_eq!(v[0].name, "hello-staging-web-abc");
    assert_eq!(v[0].ips, ["172.18.0.2"]);
    assert_eq!(v[0].health, "healthy");
    assert_eq!(v[0].restarts, 2);
    assert!(!v[0].ended() && v[1].ended());
    assert_eq!(v[1].exit_code, 137);
    assert!(v[1].ips.is_empty());
    assert!(no_such_container("Error: No such container: x\n"));
}

#[test]
fn ps_filters_by_labels() {
    let fmt = "{{.ID}}\t{{.Names}}\t{{.Image}}\t{{.State}}\t{{.Status}}\t\
               {{.Label \"arcane.service\"}}\t{{.Label \"arcane.version\"}}\t\
               {{.Label \"arcane.release\"}}\t{{.Label \"arcane.accessory\"}}\t\
               {{.Label \"com.docker.compose.service\"}}";
    assert_eq!(ps_fields(), fmt);
    assert_eq!(
        ps_with(&[("arcane.smoke", "")], true, "{{.ID}}").join(" "),
        "docker ps -a --no-trunc --filter label=arcane.smoke --format {{.ID}}"
    );
    assert_eq!(
        ps_app("web", "staging", Some("api"), true),
        vec![
            "docker",
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            "label=arcane.app=web",
            "--filter",
            "label=arcane.env=staging",
            "--filter",
            "label=arcane.service=api",
            "--format",
            fmt,
        ]
    );
    assert_eq!(
        Cmd::argv(ps(&[("com.docker.compose.project", "p")], false)).to_shell(),
        format!(
            "docker ps --no-trunc --filter label=com.docker.compose.project=p --format '{fmt}'"
        )
    );
}

#[test]
fn ps_output_parses_with_health() {
    let out = "abc123\tweb-staging-api-1a2b\tweb:1a2b\trunning\tUp 3 minutes (healthy)\tapi\t1a2b\t1a2b\t\t\n\
               def456\tweb-staging-worker-1a2b\tweb:1a2b\texited\tExited (1) 2 hours ago\tworker\t1a2b\n\
               f00\tweb-staging-db\tpg\trestarting\tRestarting\t\t\t\tdb\t\n\
               garbage line\n";
    let c = parse_ps(out);
    assert_eq!(c.len(), 3);
    assert_eq!(
        (c[0].service.as_str(), c[0].health.as_str(), c[0].running()),
        ("api", "healthy", true)
    );
    assert_eq!(c[0].release, "1a2b");
    assert_eq!((c[1].health.as_str(), c[1].running()), ("none", false));
    assert_eq!(c[1].release, "", "older lines without the release");
    assert!(c[2].up() && !c[2].running());
    assert_eq!(c[2].accessory, "db");
    assert_eq!(health_of("Up 1 second (health: starting)"), "starting");
    assert_eq!(health_of("Up 1 minute (unhealthy)"), "unhealthy");
}
