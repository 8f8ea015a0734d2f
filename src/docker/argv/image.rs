//! Images: build, inspect, export, move between engines and registries.

use super::words as s;
use crate::deploy::layout::PUSH_MARKER_DIR;
use crate::remote::Cmd;
use std::collections::BTreeMap;

/// What `docker build` needs for one image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildSpec {
    /// Path to the Dockerfile (absolute, or relative to the working directory).
    pub dockerfile: String,
    /// Build context directory.
    pub context: String,
    pub tags: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
}

/// `docker build --force-rm -f F [-t T].. [--label k=v].. [--build-arg k=v].. [--target X] CONTEXT`
///
/// `--force-rm`: the classic builder keeps the intermediate container of a
/// step that fails (a stopped container per failed build) unless told to
/// remove it whatever happens.
pub fn build(spec: &BuildSpec) -> Vec<String> {
    let mut a = s(&["docker", "build", "--force-rm", "-f", &spec.dockerfile]);
    for t in &spec.tags {
        a.push("-t".into());
        a.push(t.clone());
    }
    for (k, v) in &spec.labels {
        a.push("--label".into());
        a.push(format!("{k}={v}"));
    }
    for (k, v) in &spec.build_args {
        a.push("--build-arg".into());
        a.push(format!("{k}={v}"));
    }
    if let Some(t) = &spec.target {
        a.push("--target".into());
        a.push(t.clone());
    }
    a.push(spec.context.clone());
    a
}

/// The image ID (`sha256:...`) of each image, one per line (exit 1 when one
/// does not exist).
pub fn image_id(images: &[String]) -> Vec<String> {
    let mut a = s(&["docker", "image", "inspect", "--format", "{{.Id}}"]);
    a.extend(images.iter().cloned());
    a
}

/// ID and layer diff IDs of `image` as one JSON line:
/// `{"id":"sha256:..","layers":["sha256:..",..]}`.
pub fn image_layers(image: &str) -> Vec<String> {
    s(&[
        "docker",
        "image",
        "inspect",
        "--format",
        r#"{"id":{{json .Id}},"layers":{{json .RootFS.Layers}}}"#,
        image,
    ])
}

/// Every image on the engine, one line each: `TAGS-JSON ID LAYERS-JSON`
/// (tags, image ID, RootFS diff IDs). One round trip tells a push what is
/// already there, which temporary names an interrupted push left, and which
/// layer stacks exist.
pub fn engine_inventory_script() -> String {
    // `xargs -r`: an engine without images runs no inspect; POSIX sh only.
    "docker image ls -aq --no-trunc | sort -u | xargs -r docker image inspect --format '{{json .RepoTags}} {{.Id}} {{json .RootFS.Layers}}'".to_string()
}

/// Export `image` as a docker-archive tar on stdout.
pub fn save(image: &str) -> Vec<String> {
    s(&["docker", "save", image])
}

pub fn pull(reference: &str) -> Vec<String> {
    s(&["docker", "pull", reference])
}

pub fn push(reference: &str) -> Vec<String> {
    s(&["docker", "push", reference])
}

pub fn tag(src: &str, dst: &str) -> Vec<String> {
    s(&["docker", "tag", src, dst])
}

/// Remove image names (an image stays while other names still point at it).
pub fn rmi(references: &[String]) -> Vec<String> {
    let mut a = s(&["docker", "rmi"]);
    a.extend(references.iter().cloned());
    a
}

/// `docker login` reading the password from stdin: it never reaches argv.
pub fn login(server: &str, username: &str) -> Vec<String> {
    s(&[
        "docker",
        "login",
        "--username",
        username,
        "--password-stdin",
        server,
    ])
}

/// Pull every temporary reference, stopping at the first failure. While it
/// runs, `PUSH_MARKER_DIR/<port>.session` names the sshd session process
/// (the login shell's parent) so a later push can tell a dead session from a
/// live one. Nothing is recorded when the parent is not sshd (local
/// transport).
pub fn pull_all_script(references: &[String], port: u16) -> String {
    let pulls = references
        .iter()
        .map(|r| Cmd::argv(pull(r)).to_shell())
        .collect::<Vec<_>>()
        .join(" && ");
    format!(
        "m=\"{PUSH_MARKER_DIR}/{port}.session\"; case \"$(cat /proc/$PPID/comm 2>/dev/null)\" in sshd|sshd-session) mkdir -p \"{PUSH_MARKER_DIR}\" && echo \"$PPID\" > \"$m\";; esac; {pulls}; rc=$?; rm -f \"$m\"; exit $rc"
    )
}

/// End the server-side SSH sessions of earlier pushes whose connection died.
///
/// Why: when a connection drops mid-pull, the server's sshd may not notice for
/// hours (no client-alive checks by default), and dockerd keeps that pull's
/// layer downloads waiting on the dead forward. A new pull of the same layers
/// attaches to those downloads and hangs too. A session is judged dead when
/// its forward port does not answer `GET /v2/` within 5 seconds (a live push
/// answers at once); only then is that sshd session process (arcane's own,
/// recorded by [`pull_all_script`]) terminated, which fails the stuck
/// downloads. Without `bash` and `timeout` on the server nothing is touched.
pub fn reap_stale_pushes_script() -> String {
    format!(
        r#"for m in "{PUSH_MARKER_DIR}"/*.session; do [ -f "$m" ] || continue; p=$(cat "$m"); port=$(basename "$m" .session); if [ -n "$p" ] && [ "$p" != "$PPID" ] && [ -d "/proc/$p" ]; then case "$(cat /proc/$p/comm 2>/dev/null)" in sshd|sshd-session) if command -v bash >/dev/null && command -v timeout >/dev/null && ! timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /v2/ HTTP/1.0\r\n\r\n' >&3 && head -c 5 <&3" 2>/dev/null | grep -q HTTP; then kill "$p" 2>/dev/null && echo "arcane: ended the dead session $p of an interrupted push" >&2; sleep 1; fi;; esac; fi; [ -d "/proc/$p" ] || rm -f "$m"; done; true"#
    )
}

/// Give each pulled image its final name, drop the temporary names (and any
/// `stale` ones an interrupted push left), then print every final image ID.
pub fn finalize_script(renames: &[(String, String)], stale: &[String]) -> String {
    let mut parts: Vec<String> = renames
        .iter()
        .map(|(tmp, fin)| Cmd::argv(tag(tmp, fin)).to_shell())
        .collect();
    let mut drop: Vec<String> = renames.iter().map(|(tmp, _)| tmp.clone()).collect();
    drop.extend(stale.iter().cloned());
    parts.push(Cmd::argv(rmi(&drop)).to_shell());
    let finals: Vec<String> = renames.iter().map(|(_, f)| f.clone()).collect();
    format!(
        "{} >/dev/null && {}",
        parts.join(" && "),
        Cmd::argv(image_id(&finals)).to_shell()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::layout::{LABEL_APP, LABEL_VERSION};

    /// Regression (a failed build leaves a stopped container): the classic
    /// builder keeps a failed step's container unless `--force-rm` is given.
    #[test]
    fn failed_build_leaves_no_stopped_container_build_argv_has_force_rm() {
        let spec = BuildSpec {
            dockerfile: "/p/Dockerfile".into(),
            context: "/p".into(),
            tags: vec!["web:abc".into()],
            labels: [
                (LABEL_APP.to_string(), "web".to_string()),
                (LABEL_VERSION.to_string(), "abc".to_string()),
            ]
            .into(),
            build_args: [("A".to_string(), "1 2".to_string())].into(),
            target: Some("prod".into()),
        };
        assert_eq!(
            build(&spec),
            [
                "docker",
                "build",
                "--force-rm",
                "-f",
                "/p/Dockerfile",
                "-t",
                "web:abc",
                "--label",
                "arcane.app=web",
                "--label",
                "arcane.version=abc",
                "--build-arg",
                "A=1 2",
                "--target",
                "prod",
                "/p"
            ]
        );
        let min = BuildSpec {
            dockerfile: "D".into(),
            context: ".".into(),
            ..Default::default()
        };
        assert_eq!(
            build(&min),
            ["docker", "build", "--force-rm", "-f", "D", "."]
        );
    }

    #[test]
    fn inspect_and_save_argv() {
        assert_eq!(
            image_id(&["web:1".into()]),
            ["docker", "image", "inspect", "--format", "{{.Id}}", "web:1"]
        );
        assert_eq!(
            image_layers("web:1"),
            [
                "docker",
                "image",
                "inspect",
                "--format",
                r#"{"id":{{json .Id}},"layers":{{json .RootFS.Layers}}}"#,
                "web:1"
            ]
        );
        assert_eq!(save("web:1"), ["docker", "save", "web:1"]);
    }

    #[test]
    fn transfer_and_registry_argv() {
        assert_eq!(
            pull("127.0.0.1:4000/web:1"),
            ["docker", "pull", "127.0.0.1:4000/web:1"]
        );
        assert_eq!(
            tag("127.0.0.1:4000/web:1", "web:1"),
            ["docker", "tag", "127.0.0.1:4000/web:1", "web:1"]
        );
        assert_eq!(
            rmi(&["127.0.0.1:4000/web:1".into(), "x:1".into()]),
            ["docker", "rmi", "127.0.0.1:4000/web:1", "x:1"]
        );
        assert_eq!(push("r/web:1"), ["docker", "push", "r/web:1"]);
        let l = login("reg.example.com", "ada");
        assert_eq!(
            l,
            [
                "docker",
                "login",
                "--username",
                "ada",
                "--password-stdin",
                "reg.example.com"
            ]
        );
        let pull = pull_all_script(&["127.0.0.1:1/a:1".into(), "127.0.0.1:1/b:1".into()], 1);
        assert!(pull.contains("; docker pull 127.0.0.1:1/a:1 && docker pull 127.0.0.1:1/b:1; rc=$?; rm -f \"$m\"; exit $rc"), "{pull}");
        assert!(pull.starts_with("m=\"$HOME/.arcane/push/1.session\"; case"));
        let reap = reap_stale_pushes_script();
        assert!(reap.contains("kill \"$p\"") && reap.contains("command -v timeout"));
        assert_eq!(
            finalize_script(
                &[("127.0.0.1:1/web:1".into(), "web:1".into())],
                &["127.0.0.1:9/web:0".into()]
            ),
            "docker tag 127.0.0.1:1/web:1 web:1 && docker rmi 127.0.0.1:1/web:1 127.0.0.1:9/web:0 >/dev/null && docker image inspect --format '{{.Id}}' web:1"
        );
        assert!(engine_inventory_script()
            .contains("{{json .RepoTags}} {{.Id}} {{json .RootFS.Layers}}"));
    }
}
