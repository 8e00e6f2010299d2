//! halab's entry point: parse, run, print the error once, exit with its code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = halab::cli::Cli::parse();
    match halab::app::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.code()),
        // A reader that closed the pipe (`| head -1`) had what it wanted.
        Err(err) if halab::ui::stdout_closed(&err) => ExitCode::from(halab::app::EXIT_OK),
        Err(err) => {
            eprintln!("error: {}", halab::app::error_text(&err));
            ExitCode::from(halab::app::EXIT_HARNESS)
        }
    }
}
