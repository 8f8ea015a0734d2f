//! `spark serve|status|install-service|secret`: parse, call the operation.

use super::args::{SparkCmd, SparkSecretCmd};
use super::render::write_stdout;
use super::{done, Ctx};
use crate::ops::{self, spark::InstallService};
use anyhow::{Context, Result};
use std::io::Read;

pub fn spark(ctx: &Ctx, c: SparkCmd) -> Result<i32> {
    let em = &ctx.emitter;
    match c {
        SparkCmd::Serve(a) => done(ops::spark::serve(a.config.as_deref())),
        SparkCmd::Status { config, last } => {
            done(ops::spark::status(em, config.config.as_deref(), last))
        }
        SparkCmd::InstallService {
            config,
            user,
            print,
            path,
        } => {
            let req = InstallService {
                config: config.config,
                user,
                print,
                path,
            };
            let text = ops::spark::install_service(em, &req).map_err(anyhow::Error::new)?;
            if print {
                write_stdout(text.as_bytes());
            }
            Ok(0)
        }
        SparkCmd::Secret(SparkSecretCmd::Set { name, config }) => {
            let mut v = String::new();
            std::io::stdin()
                .read_to_string(&mut v)
                .context("reading the value from stdin")?;
            let trimmed = v.strip_suffix('\n').unwrap_or(&v);
            let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed).to_string();
            zeroize::Zeroize::zeroize(&mut v);
            let r = ops::spark::secret_set(em, config.config.as_deref(), &name, Some(&trimmed));
            let mut trimmed = trimmed;
            zeroize::Zeroize::zeroize(&mut trimmed);
            done(r)
        }
        SparkCmd::Secret(SparkSecretCmd::Unset { name, config }) => done(ops::spark::secret_set(
            em,
            config.config.as_deref(),
            &name,
            None,
        )),
        SparkCmd::Secret(SparkSecretCmd::List(config)) => {
            done(ops::spark::secret_list(em, config.config.as_deref()))
        }
    }
}
