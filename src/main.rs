//! The binary edge: parse, run, map errors to exit codes (0 ok, 1 failed,
//! 2 usage/config/input, 130 interrupted).

use arcane::cli::{self, args::Cli};
use arcane::error::{exit_code_for, EXIT_INPUT, EXIT_OK};
use clap::Parser;

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_INPUT } else { EXIT_OK };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let json = cli.global.json;
    match cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            let code = exit_code_for(&err);
            if json {
                let line = serde_json::json!({
                    "event": "error",
                    "exit_code": code,
                    "message": format!("{err:#}"),
                });
                println!("{line}");
            }
            eprintln!("error: {err:#}");
            std::process::exit(code);
        }
    }
}
