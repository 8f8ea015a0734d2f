//! The typed results of operations, as plain data.
//!
//! Every operation in `ops` returns one of these and also emits it as an
//! [`Event`](super::Event), so the human renderer (tables), the `--json`
//! renderer (one line each, schema in docs/json.md) and the TUI all read
//! the same types. Nothing here knows how it is shown; nothing here does
//! I/O. The types sit below every engine that produces them, so engines
//! depend on this module and never the other way round.

mod bootstrap;
mod config;
mod deploy;
mod git;
mod network;
mod secrets;
mod server;
mod ship;
mod spark;
mod status;

pub use bootstrap::*;
pub use config::*;
pub use deploy::*;
pub use git::*;
pub use network::*;
pub use secrets::*;
pub use server::*;
pub use ship::*;
pub use spark::*;
pub use status::*;

/// The first 12 characters of a git SHA or version, for tables. The full
/// value stays in `--json`.
pub fn short_sha(s: &str) -> String {
    // `<sha>-dirty-<hash>` and `<sha>-r2` keep their suffix readable.
    match s.split_once('-') {
        Some((sha, rest)) if sha.len() > 12 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
            format!("{}-{rest}", &sha[..12])
        }
        _ if s.len() > 12 && s.bytes().all(|b| b.is_ascii_hexdigit()) => s[..12].to_string(),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_shas_keep_their_suffix() {
        let sha = "da851e72529cafe0000000000000000000000000";
        assert_eq!(short_sha(sha), "da851e72529c");
        assert_eq!(short_sha(&format!("{sha}-r2")), "da851e72529c-r2");
        assert_eq!(
            short_sha(&format!("{sha}-dirty-0123abcd")),
            "da851e72529c-dirty-0123abcd"
        );
        assert_eq!(short_sha("v1.2"), "v1.2");
    }
}
