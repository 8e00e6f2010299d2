//! halab's entry point: parse, run, print the error once, exit with its code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = halab::cli::Cli::parse();
    match halab::app::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        Err(err) => {
            eprintln!("error: {}", halab::app::error_text(&err));
            ExitCode::from(halab::app::EXIT_HARNESS)
        }
    }
}
