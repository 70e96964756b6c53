//! The `fleetgate` binary: a thin layer over the runner. It parses arguments, compiles
//! scenarios, prints diagnostics and progress, writes reports, and maps outcomes to the exit
//! codes of [`exit_codes`].
//!
//! # Layout
//!
//! - `args`: the command line.
//! - [`exit_codes`]: the exit codes.
//! - `commands`: one module per subcommand.
//! - `output`: writing to the terminal and report files.

mod args;
mod commands;
pub mod exit_codes;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, KeysCommand, ReportCommand};

fn main() -> ExitCode {
    exit_on_panic();
    let cli = Cli::parse();
    // Every virtual device holds a socket (two, with the embedded bridge in-process): take
    // every descriptor the hard limit allows. Failing to raise it only lowers the ceiling.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let code = match cli.command {
        Command::Run(args) => commands::run::run(&args),
        Command::Validate(args) => commands::validate::validate(&args),
        Command::Schema(args) => commands::schema(&args),
        Command::Cases => commands::cases(),
        Command::Serve(args) => commands::serve::serve(&args),
        Command::Qualify(args) => commands::qualify::qualify(&args),
        Command::Keys(KeysCommand::Generate(args)) => commands::keys::generate(&args),
        Command::Report(ReportCommand::Merge(args)) => commands::merge::merge(&args),
    };
    ExitCode::from(code.unwrap_or_else(|error| {
        output::error(&format!("internal error: {error:#}"));
        exit_codes::INTERNAL
    }))
}

/// A panic anywhere, on any thread (a tokio task's included, which would otherwise be caught and
/// leave the process running), prints what and where and ends the process with
/// [`exit_codes::INTERNAL`], never Rust's 101.
fn exit_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        output::error(&format!(
            "internal error: fleetgate panicked ({info}); this is a bug, please report it with the scenario file"
        ));
        std::process::exit(i32::from(exit_codes::INTERNAL));
    }));
}
