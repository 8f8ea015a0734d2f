//! Networks and volumes: created with arcane's labels, looked up by name.

use super::{sh, words as s};
use crate::deploy::layout;
use crate::remote::shell_quote;

/// Exit 0 when network `name` exists.
pub fn network_inspect(name: &str) -> Vec<String> {
    s(&[
        "docker",
        "network",
        "inspect",
        "--format",
        "{{.Name}}",
        name,
    ])
}

/// `docker network create --label k=v.. NAME`.
pub fn network_create(name: &str, labels: &[(&str, String)]) -> Vec<String> {
    let mut a = s(&["docker", "network", "create"]);
    for (k, v) in labels {
        a.extend(["--label".into(), layout::label(k, v)]);
    }
    a.push(name.into());
    a
}

/// Join a (created or running) container to one more network.
pub fn network_connect(network: &str, container: &str) -> Vec<String> {
    s(&["docker", "network", "connect", network, container])
}

/// Create network `name` unless it exists, as one shell line.
pub fn ensure_network_line(name: &str, labels: &[(&str, String)]) -> String {
    format!(
        "{{ {} >/dev/null 2>&1 || {} >/dev/null; }}",
        sh(&network_inspect(name)),
        sh(&network_create(name, labels))
    )
}

/// A volume's labels as JSON (`null` without any); exit 1 when it does not
/// exist.
pub fn volume_labels(name: &str) -> Vec<String> {
    s(&[
        "docker",
        "volume",
        "inspect",
        "-f",
        "{{json .Labels}}",
        name,
    ])
}

/// `docker volume create --label k=v.. NAME`.
pub fn volume_create(name: &str, labels: &[(&str, String)]) -> Vec<String> {
    let mut a = s(&["docker", "volume", "create"]);
    for (k, v) in labels {
        a.extend(["--label".into(), layout::label(k, v)]);
    }
    a.push(name.into());
    a
}

/// For every volume: `name<TAB>labels as JSON`, or `name<TAB>-` when it does
/// not exist. With `create` (labels to give it), a missing one is created
/// first; either way the labels printed are what docker holds (creating a
/// volume that appeared meanwhile keeps its own labels).
pub fn volume_labels_script(names: &[String], create: Option<&[(&str, String)]>) -> String {
    names
        .iter()
        .map(|n| {
            let q = shell_quote(n);
            let inspect = sh(&volume_labels(n));
            let missing = match create {
                Some(labels) => format!(
                    "{} >/dev/null && o=$({inspect}) && printf '%s\\t%s\\n' {q} \"$o\"",
                    sh(&volume_create(n, labels))
                ),
                None => format!("printf '%s\\t-\\n' {q}"),
            };
            // `docker volume inspect` prints `[]` on stdout when the volume
            // is missing: capture it, print only on success.
            format!(
                "if o=$({inspect} 2>/dev/null); then printf '%s\\t%s\\n' {q} \"$o\"; \
                 else {missing}; fi"
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let l = layout::app_env("hello", "staging");
        assert_eq!(
            network_create("hello-staging", &l),
            [
                "docker",
                "network",
                "create",
                "--label",
                "arcane.app=hello",
                "--label",
                "arcane.env=staging",
                "hello-staging"
            ]
        );
        assert_eq!(
            network_create("arcane", &[(layout::LABEL_NETWORK, "1".into())]).join(" "),
            "docker network create --label arcane.network=1 arcane"
        );
        assert_eq!(
            ensure_network_line("n", &l),
            "{ docker network inspect --format '{{.Name}}' n >/dev/null 2>&1 || \
             docker network create --label arcane.app=hello --label arcane.env=staging n >/dev/null; }"
        );
        assert_eq!(
            network_connect("n", "c"),
            ["docker", "network", "connect", "n", "c"]
        );
    }

    #[test]
    fn volume_scripts_create_only_when_asked() {
        let l = layout::app_env("shop", "staging");
        let s = volume_labels_script(&["pg".into()], Some(&l));
        assert!(s.starts_with("if o=$(docker volume inspect -f "), "{s}");
        assert!(s.contains(
            "docker volume create --label arcane.app=shop --label arcane.env=staging pg >/dev/null"
        ));
        assert!(!volume_labels_script(&["pg".into()], None).contains("create"));
    }
}
