//! `portcullis`: the command-line shell around the Portcullis libraries. Argument parsing,
//! progress and wiring only; the work happens in the `portcullis-*` crates.

mod check;
mod data;
mod decrypt;
mod demo;
mod secret;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Check phones for signs of targeted spyware.
#[derive(Parser)]
#[command(name = "portcullis", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More detail on stderr (repeat for debug output).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Subcommand)]
enum Command {
    /// Check a device acquisition (an iOS backup folder) against indicators and heuristics.
    Check(check::CheckArgs),
    /// Write a decrypted copy of an encrypted iOS backup (only when you need one: `check` reads
    /// encrypted backups directly, in memory).
    Decrypt(decrypt::DecryptArgs),
    /// Print the key derived from an encrypted backup's password, for `--key-hex`.
    ExtractKey(decrypt::ExtractKeyArgs),
    /// Manage the reference data Portcullis uses offline (OS currency).
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Build a small synthetic iOS backup with one planted indicator hit and check it.
    Demo {
        /// Where to write the demo backup and its results (default: a new folder under
        /// ./portcullis-results/).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Decrypt(args) => decrypt::run_decrypt(&args),
        Command::ExtractKey(args) => decrypt::run_extract_key(&args),
        Command::Data(cmd) => data::run(&cmd),
        Command::Demo { dir } => demo::run(dir),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("portcullis: {err:#}");
            ExitCode::from(check::EXIT_COULD_NOT_RUN)
        }
    }
}
