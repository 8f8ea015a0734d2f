//! The binary edge: parse, run, map errors to exit codes (0 ok, 1 failed,
//! 2 usage/config/input, 130 interrupted) in one place.

use arcane::cli::{self, args::Cli};
use arcane::error::{exit_code_for, EXIT_INPUT, EXIT_OK};
use clap::Parser;
use std::io::Write;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_INPUT } else { EXIT_OK };
            // `arcane --help | head -1`: a closed pipe is not worth a panic.
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let json = cli.global.json;
    let (result, failure_shown) = cli::run(cli);
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            let code = exit_code_for(&err);
            if json {
                let line = serde_json::json!({
                    "event": "error",
                    "exit_code": code,
                    "message": format!("{err:#}"),
                });
                cli::render::write_stdout(format!("{line}\n").as_bytes());
            } else if !failure_shown {
                // An operation that failed has already said why (its last
                // line); anything else is said here, once.
                let _ = writeln!(std::io::stderr(), "error: {err:#}");
            }
            std::process::exit(code);
        }
    }
}
