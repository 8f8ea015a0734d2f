//! Every docker command line arcane runs, on this machine or on a server,
//! built by pure functions: one per docker operation, named after it (not
//! after its caller), with the parser of its output next to it. The unit
//! tests pin the exact words, so a reviewer sees what runs on a production
//! box without reading the engines, and the command log shows the same.
//!
//! Nothing here touches the system. Compose lives beside it in
//! [`crate::docker::compose`]; the labels and paths these commands name come
//! from [`crate::deploy::layout`].
//!
//! Secrets never appear in an argv: containers get their env from an
//! `--env-file` (0600 on the server) or by name only (`-e KEY`, the value in
//! the docker client's own environment).

mod container;
mod image;
mod network;
mod system;

pub use container::*;
pub use image::*;
pub use network::*;
pub use system::*;

use crate::remote::shell_quote;

pub(crate) fn words(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// Join an argv into one `sh` line (for `a && b || c` combinations that
/// save round trips).
pub fn sh(argv: &[String]) -> String {
    argv.iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `{ ARGV >/dev/null 2>&1; true; }`: run it, whatever happens (removing
/// what may not exist).
pub fn sh_quiet(argv: &[String]) -> String {
    format!("{{ {} >/dev/null 2>&1; true; }}", sh(argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_quotes_each_word() {
        assert_eq!(
            sh(&words(&["docker", "ps", "--format", "{{.Names}}|x"])),
            "docker ps --format '{{.Names}}|x'"
        );
        assert_eq!(
            sh_quiet(&words(&["docker", "rm", "-f", "a"])),
            "{ docker rm -f a >/dev/null 2>&1; true; }"
        );
    }
}
