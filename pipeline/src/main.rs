//! The `crossview` command line (clap). Exit codes: 0 success, 1 failure, 2 usage or config
//! error.

use std::process::ExitCode;

use clap::Parser;

/// crossview: cross-view spatial intelligence data engine.
#[derive(Parser, Debug)]
#[command(name = "crossview", version, about)]
struct Cli {}

fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(_cli) => ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            ExitCode::from(code)
        }
    }
}
