//! `portcullis`: the command-line shell around the Portcullis libraries. Argument parsing,
//! progress and wiring only; the work happens in the `portcullis-*` crates.

mod check;
mod data;
mod decrypt;
mod demo;
mod iocs;
mod recheck;
mod secret;
mod serve;
mod submit;
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
    /// Check a phone's data against indicators and heuristics: an iOS backup (plain or
    /// encrypted), an Android bugreport, AndroidQF acquisition, adb backup or intrusion logs.
    Check(check::CheckArgs),
    /// Write a decrypted copy of an encrypted iOS backup (only when you need one: `check` reads
    /// encrypted backups directly, in memory).
    Decrypt(decrypt::DecryptArgs),
    /// Print the key derived from an encrypted backup's password, for `--key-hex`.
    ExtractKey(decrypt::ExtractKeyArgs),
    /// Manage the reference data Portcullis uses offline (OS currency).
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Indicator collections: install and update the public ones, add your own, look up a
    /// value.
    #[command(subcommand)]
    Iocs(iocs::IocsCommand),
    /// Match the records saved by earlier checks (Portcullis' or MVT's results folders)
    /// against today's indicators, without the phone, and say which alerts are new.
    Recheck(recheck::RecheckArgs),
    /// Run the security office server: accounts, advisories members acknowledge, a web UI and
    /// a JSON API (SQLite in a data directory by default, or PostgreSQL).
    Serve(serve::ServeArgs),
    /// Manage the server's accounts from the command line: the first administrator, password
    /// and second-factor resets, disabling an account.
    Admin(serve::AdminArgs),
    /// Print the steps a member follows alone to give the security office fresh data: a
    /// sysdiagnose on an iPhone, a bug report on Android (with no name: the list).
    Guide {
        /// `sysdiagnose` or `bugreport`.
        name: Option<String>,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell), e.g.
    /// `portcullis completions bash > /etc/bash_completion.d/portcullis`.
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), e.g. `portcullis man > portcullis.1`.
    Man,
    /// Build a small synthetic iOS backup with one planted indicator hit and check it.
    Demo {
        /// Where to write the demo backup and its results (default: a new folder under
        /// ./portcullis-results/).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// `portcullis guide [NAME]`: one guide's steps, or the list of guides.
fn guide(name: Option<&str>) -> anyhow::Result<ExitCode> {
    use portcullis_report::guides::{ALL, Guide};
    match name {
        Some(name) => match Guide::find(name) {
            Some(guide) => print!("{}", guide.text()),
            None => {
                let names: Vec<&str> = ALL.iter().map(|g| g.id).collect();
                anyhow::bail!("no guide {name:?}; the guides are {}", names.join(", "));
            }
        },
        None => {
            for guide in ALL {
                println!("portcullis guide {:<12} {}", guide.id, guide.title);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The version, and the dates of the data compiled in (what checks use when nothing newer is
/// installed).
fn version_text() -> String {
    let os = portcullis_posture::Snapshot::bundled();
    format!(
        "{} (bundled data: OS currency of {}; indicator collection {} of {})",
        env!("CARGO_PKG_VERSION"),
        os.date,
        portcullis_interchange::iran::NAME,
        portcullis_interchange::iran::SNAPSHOT_DATE
            .get(..10)
            .unwrap_or(portcullis_interchange::iran::SNAPSHOT_DATE)
    )
}

fn main() -> ExitCode {
    let mut command = <Cli as clap::CommandFactory>::command();
    // The data compiled in is named only when the version is asked for (reading it costs a parse).
    if std::env::args().any(|a| a == "--version" || a == "-V") {
        command = command.version(&*Box::leak(version_text().into_boxed_str()));
    }
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
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
        Command::Iocs(cmd) => iocs::run(&cmd),
        Command::Recheck(args) => recheck::run(&args),
        Command::Serve(args) => serve::run_serve(&args),
        Command::Admin(args) => serve::run_admin(&args),
        Command::Demo { dir } => demo::run(dir),
        Command::Guide { name } => guide(name.as_deref()),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "portcullis", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
            .render(&mut std::io::stdout())
            .map(|()| ExitCode::SUCCESS)
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("portcullis: {}", error_text(&err));
            ExitCode::from(check::EXIT_COULD_NOT_RUN)
        }
    }
}

/// The error and its causes on one line, leaving out a cause the text before it already says
/// (library errors name their cause in their message, and anyhow would repeat it).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let err = anyhow::Error::new(portcullis_evidence::EvidenceError::Io {
            path: "x.db".into(),
            source: io,
        })
        .context("opening the backup");
        assert_eq!(
            super::error_text(&err),
            "opening the backup: x.db: No such file or directory"
        );
    }
}
