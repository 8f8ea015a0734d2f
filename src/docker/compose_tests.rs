use super::*;

#[test]
fn detection_is_one_script_and_one_parser() {
    assert_eq!(
        detect_script(false),
        "if docker compose version >/dev/null 2>&1; then echo v2; \
         elif command -v docker-compose >/dev/null 2>&1; then echo v1; else echo none; fi"
    );
    let v = detect_script(true);
    assert!(
        v.starts_with("if v=$(docker compose version --short 2>/dev/null); then echo \"v2 $v\"; "),
        "{v}"
    );
    assert!(v.contains("echo \"v1 $(docker-compose version --short 2>/dev/null)\""));
    assert_eq!(
        parse_detect("v2"),
        Some(Detected {
            cli: ComposeCli::V2,
            version: None
        })
    );
    assert_eq!(
        parse_detect("v2 v2.24.1"),
        Some(Detected {
            cli: ComposeCli::V2,
            version: Some("2.24.1".into())
        })
    );
    assert_eq!(parse_detect("v1 1.29.2").unwrap().cli, ComposeCli::V1);
    assert_eq!(parse_detect("none"), None);
    assert_eq!(parse_detect(""), None);
}

#[test]
fn release_json_keeps_naming_the_cli_v1_and_v2() {
    assert_eq!(serde_json::to_string(&ComposeCli::V2).unwrap(), "\"v2\"");
    let c: ComposeCli = serde_json::from_str("\"v1\"").unwrap();
    assert_eq!(c, ComposeCli::V1);
}

#[test]
fn compose_v1_and_v2_argv() {
    let files = vec![
        "/r/compose.yml".to_string(),
        "/r/arcane.override.yml".into(),
    ];
    assert_eq!(
        up(ComposeCli::V2, "hello-staging", &files).join(" "),
        "docker compose -p hello-staging -f /r/compose.yml -f /r/arcane.override.yml up -d --remove-orphans --no-build"
    );
    assert_eq!(
        up(ComposeCli::V1, "hello-staging", &files).join(" "),
        "docker-compose -p hello-staging -f /r/compose.yml -f /r/arcane.override.yml up -d --remove-orphans --no-build"
    );
    assert_eq!(
        stop(ComposeCli::V1, "p"),
        ["docker-compose", "-p", "p", "stop"]
    );
    assert_eq!(
        config(ComposeCli::V1, "/p/compose.yml"),
        ["docker-compose", "-f", "/p/compose.yml", "config"]
    );
    assert_eq!(
        config(ComposeCli::V2, "c.yml"),
        ["docker", "compose", "-f", "c.yml", "config"]
    );
}

#[test]
fn reads_v1_normalized_output() {
    let y = "services:\n  web:\n    build:\n      context: /src/app/web\n      dockerfile: Dockerfile\n    environment:\n      A: b\n    ports:\n    - published: 8080\n      target: 8080\n  redis:\n    image: redis:7\nversion: '3.9'\n";
    let s = parse_config(y, Path::new("/")).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].name, "web");
    let b = s[0].build.as_ref().unwrap();
    assert_eq!(b.context, "/src/app/web");
    assert_eq!(b.dockerfile, "/src/app/web/Dockerfile");
    assert_eq!(s[1].image.as_deref(), Some("redis:7"));
    assert_eq!(s[1].build, None);
    let s = parse_config(
        "services:\n  agent:\n    image: a\n    network_mode: host\n  web:\n    image: b\n",
        Path::new("/"),
    )
    .unwrap();
    assert!(s[0].network_mode && !s[1].network_mode);
}

#[test]
fn reads_v2_output_with_top_level_name_and_quotes() {
    let y = "name: hello\nservices:\n  web:\n    build:\n      context: /src\n      dockerfile: Dockerfile\n    image: \"x:1\"\nnetworks:\n  default:\n    name: hello_default\n";
    let s = parse_config(y, Path::new("/")).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].image.as_deref(), Some("x:1"));
}

#[test]
fn builds_are_read_from_normalized_and_short_forms_in_file_order() {
    let yaml = r#"
services:
  worker:
    build:
      context: /abs/app
      dockerfile: Dockerfile.worker
      args:
        MODE: worker
        N: 3
      target: prod
  db:
    image: postgres:16
  web:
    build: ./web
  api:
    build:
      context: api
      args: ["A=1", "B=x=y"]
"#;
    let s = parse_config(yaml, Path::new("/p")).unwrap();
    let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["worker", "db", "web", "api"]);
    let b = |i: usize| s[i].build.clone().unwrap();
    assert_eq!(b(3).context, "/p/api");
    assert_eq!(b(3).dockerfile, "/p/api/Dockerfile");
    assert_eq!(b(3).args["B"], "x=y");
    assert_eq!(b(2).context, "/p/./web");
    assert_eq!(b(0).context, "/abs/app");
    assert_eq!(b(0).dockerfile, "/abs/app/Dockerfile.worker");
    assert_eq!(b(0).args["N"], "3");
    assert_eq!(b(0).target.as_deref(), Some("prod"));
    assert!(s[1].build.is_none());
    assert!(parse_config("x: 1", Path::new("/")).is_err());
    assert!(parse_config("services:\n  a:\n    build: [1]\n", Path::new("/")).is_err());
}

#[test]
fn override_sets_image_env_file_and_static_labels() {
    let y = override_yaml(
        "hello",
        "staging",
        "/h/.arcane/hello/staging/releases/abc/.env",
        &[
            OverrideService {
                name: "web".into(),
                image: Some("hello-web:img-0123456789ab".into()),
                built: true,
                network_mode: false,
            },
            OverrideService {
                name: "redis".into(),
                image: None,
                built: false,
                network_mode: false,
            },
        ],
        &[],
    );
    assert_eq!(
        y,
        "# Generated by arcane for this release. Do not edit.\nservices:\n  \"web\":\n    image: \"hello-web:img-0123456789ab\"\n    build:\n      context: \".\"\n    env_file:\n      - \"/h/.arcane/hello/staging/releases/abc/.env\"\n    labels:\n      \"arcane.app\": \"hello\"\n      \"arcane.env\": \"staging\"\n      \"arcane.service\": \"web\"\n  \"redis\":\n    env_file:\n      - \"/h/.arcane/hello/staging/releases/abc/.env\"\n    labels:\n      \"arcane.app\": \"hello\"\n      \"arcane.env\": \"staging\"\n      \"arcane.service\": \"redis\"\n"
    );
    assert!(
        !y.contains("version"),
        "no per-release labels: unchanged services must not be recreated"
    );
    let y = override_yaml(
        "a",
        "e",
        "/f",
        &[OverrideService {
            name: "host".into(),
            image: None,
            built: false,
            network_mode: true,
        }],
        &["arcane"],
    );
    assert!(
        !y.contains("    networks:"),
        "network_mode joins no networks"
    );
    assert!(y.ends_with("networks:\n  \"arcane\":\n    external: true\n"));
}
