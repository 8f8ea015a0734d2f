//! Spark: a push-to-deploy build server for a team's build machine.
//!
//! A front end, like the CLI and the dashboard: it answers GitHub and
//! GitLab webhooks (or polls with `git ls-remote`), queues pushes in a
//! journalled, coalescing queue, and runs each job through the same
//! `ops::deploy::deploy` a person runs, with the machine key and an
//! interaction policy taken from its config. `arcane spark serve` runs it;
//! `ops::spark` holds the operations that read it (status) or set it up
//! (install-service, secrets). docs/spark.md is the user's guide.

pub mod config;
pub mod journal;
pub mod queue;
pub mod secrets;
pub mod webhook;
