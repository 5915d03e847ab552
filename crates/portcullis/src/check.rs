//! `portcullis check`: arguments, secrets, the progress bar and the summary around
//! [`portcullis_engine::check`], which does the work.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use portcullis_core::Level;
use portcullis_engine::{CheckOptions, Checked, EngineError, Input, Progress, Secrets};
use portcullis_report::{CoverageStatus, Report};

/// Nothing at HIGH or above.
pub const EXIT_CLEAN: u8 = 0;
/// At least one HIGH or CRITICAL alert.
pub const EXIT_ALERTS: u8 = 1;
/// The check could not run (bad arguments, not a backup, unreadable indicators).
pub const EXIT_COULD_NOT_RUN: u8 = 2;
/// The check ran but could not read the acquisition's main artifact (or anything at all), and
/// found no HIGH or CRITICAL alert: its silence proves nothing.
pub const EXIT_INCOMPLETE: u8 = 3;

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The acquisition to check: an iOS backup folder (plain or encrypted), an Android bugreport
    /// (zip or folder), an AndroidQF acquisition (folder, .zip or .zip.age), an adb backup (.ab,
    /// or its extracted folder) or an Android intrusion-logging export; or network logs and
    /// captures (Zeek, Suricata eve.json, …; a file, a folder of them, gzip or zstd too), with
    /// `-` for standard input.
    pub path: PathBuf,
    /// Read PATH as network logs of this format instead of recognising it from its contents.
    #[arg(long, value_name = "FORMAT", value_parser = clap::builder::PossibleValuesParser::new(portcullis_engine::network_kinds()))]
    pub kind: Option<String>,
    /// Who is who on the network, for network logs: a CSV of `address or MAC, device, owner,
    /// valid from, valid to` (dates or ISO times, UTC; empty = without limit). DHCP leases in
    /// the logs tie addresses to MACs.
    #[arg(long, value_name = "FILE")]
    pub devices: Option<PathBuf>,
    #[command(flatten)]
    pub indicators: IndicatorArgs,
    /// Results folder (default: a new timestamped folder under ./portcullis-results/). It must
    /// be empty or new, and outside the evidence.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Write into a results folder that already holds files, replacing earlier results.
    #[arg(long)]
    pub force: bool,
    /// Print report.json to stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub password: crate::secret::PasswordArgs,
    /// The age identity file (AGE-SECRET-KEY-1…) of an age-encrypted AndroidQF acquisition.
    #[arg(long, value_name = "FILE")]
    pub age_identity: Option<PathBuf>,
    /// The device's time zone (IANA name, e.g. Europe/London) for Android times, when the
    /// acquisition does not record it.
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// Send the findings to the security office's server at URL (device facts, settings,
    /// alerts without the records that raised them, versions; never messages or history).
    #[arg(long, value_name = "URL", requires = "token_file")]
    pub submit: Option<String>,
    /// The device's upload token (from its page on the server), for --submit.
    #[arg(long, value_name = "FILE", requires = "submit")]
    pub token_file: Option<PathBuf>,
}

/// Which indicators a check (or re-check) matches against.
#[derive(Args, Debug, Clone, Default)]
pub struct IndicatorArgs {
    /// STIX 2.1 indicators: a file, or a folder searched for *.stix2 and *.json (repeatable).
    #[arg(short, long = "iocs", value_name = "PATH")]
    pub iocs: Vec<PathBuf>,
    /// Leave out the collections installed with `portcullis iocs` (used by default, with any
    /// --iocs).
    #[arg(long)]
    pub no_installed: bool,
    /// Also match indicators their author revoked or whose valid_until has passed (left out by
    /// default, and counted in the report).
    #[arg(long)]
    pub include_expired: bool,
}

/// A new folder under `./portcullis-results/` named after the time (UTC) and `name`.
pub fn new_results_folder(name: &str) -> PathBuf {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    PathBuf::from("portcullis-results").join(format!("{stamp}-{name}"))
}

fn default_output(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n != "-")
        .unwrap_or_else(|| "check".into());
    new_results_folder(&name)
}

pub fn progress_bar(len: usize, show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} checking {pos}/{len} artifacts [{bar:30}] {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs a check and prints the summary (or JSON). Returns the exit code.
pub fn run(args: &CheckArgs) -> Result<ExitCode> {
    let (checked, indicators) = check(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checked.report)?);
    } else {
        print!(
            "{}",
            crate::summary::render(&checked.report, &checked.output_dir)
        );
    }
    if let (Some(url), Some(token_file)) = (&args.submit, &args.token_file) {
        let receipt =
            crate::submit::submit(&checked.report, &indicators.indicators, url, token_file)?;
        eprintln!(
            "Findings sent to {url} (check {}; {} new incident(s) opened; {} digests of what \
             the check saw kept for re-checking, not the values).",
            receipt.submission, receipt.incidents_opened, receipt.digests
        );
    }
    Ok(ExitCode::from(exit_code(&checked.report)))
}

/// Alerts come first: signs of compromise matter even when the check is incomplete.
pub fn exit_code(report: &Report) -> u8 {
    if report.max_level() >= Some(Level::High) {
        EXIT_ALERTS
    } else if report.coverage.status == CoverageStatus::Incomplete {
        EXIT_INCOMPLETE
    } else {
        EXIT_CLEAN
    }
}

/// The installed collections (unless `--no-installed`) and every `--iocs` path, with a note
/// for the summary and report saying which, or that only the heuristics run.
pub fn load_indicators(args: &IndicatorArgs) -> Result<portcullis_engine::LoadedIndicators> {
    let store = crate::iocs::store();
    let installed = if args.no_installed {
        0
    } else {
        store.installed_files().len()
    };
    // As a folder: a damaged installed file is skipped with a warning, not fatal.
    let folder = store.collections_dir();
    let cache = store.cache_path(args.include_expired);
    let installed_folder = (installed > 0).then_some(portcullis_engine::indicators::Installed {
        folder: &folder,
        cache: &cache,
    });
    let mut loaded = portcullis_engine::indicators::load_with_installed(
        installed_folder,
        &args.iocs,
        args.include_expired,
    )?;
    loaded.note = Some(match (installed, args.iocs.len()) {
        (0, 0) if args.no_installed => "No indicators: --no-installed left out the installed \
            collections and none was given with --iocs; only the built-in heuristics ran."
            .to_string(),
        (0, 0) => "No indicator collection is installed and none was given with --iocs: only \
            the built-in heuristics ran. Run `portcullis iocs update` to install the public \
            collections."
            .to_string(),
        (0, given) => format!("From {given} path(s) given with --iocs (no installed collection)."),
        (n, 0) => format!("From the {n} installed collection(s) (`portcullis iocs list`)."),
        (n, given) => format!(
            "From the {n} installed collection(s) (`portcullis iocs list`) and {given} path(s) \
             given with --iocs."
        ),
    });
    Ok(loaded)
}

/// Checks the acquisition at `args.path` and writes the results folder: gathers the secrets
/// the input needs (prompting on a terminal when none was given) and runs the engine.
/// Runs the check; the indicators come back too, holding what the check looked up when it is
/// to be submitted (for the re-check digests).
pub fn check(args: &CheckArgs) -> Result<(Checked, portcullis_engine::LoadedIndicators)> {
    let input = match &args.kind {
        Some(kind) => Input::Network {
            kind: Some(kind.clone()),
        },
        None => Input::detect(&args.path)?,
    };
    let devices = args
        .devices
        .as_deref()
        .map(portcullis_engine::Devices::load)
        .transpose()?;
    let mut indicators = load_indicators(&args.indicators)?;
    if args.submit.is_some() {
        indicators.indicators.observe();
    }
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.path));
    let snapshot = portcullis_posture::Snapshot::load_or_bundled(&crate::data::data_dir());
    let bar = progress_bar(0, !args.json && std::io::stderr().is_terminal());
    let progress = |p: Progress<'_>| match p {
        Progress::Started { total } => bar.set_length(total as u64),
        Progress::ModuleDone { slug } => {
            bar.set_message(slug.to_string());
            bar.inc(1);
        }
    };
    let options = CheckOptions {
        force: args.force,
        timezone: args.timezone.as_deref(),
        progress: &progress,
        network: portcullis_engine::NetworkOptions {
            kind: None,
            devices: devices.as_ref(),
        },
        ..CheckOptions::new(&output, &snapshot)
    };
    let ios_secret = match &input {
        Input::IosBackup {
            encrypted: true, ..
        } => Some(args.password.secret()?),
        _ => None,
    };
    let password = args.password.given_password()?;
    let mut secrets = Secrets {
        ios: ios_secret.as_ref(),
        backup_password: password.as_deref().map(|p| p.as_str()),
        age_identity: args.age_identity.as_deref(),
    };
    let prompted;
    let checked =
        match portcullis_engine::check(&args.path, &input, &indicators, &secrets, &options) {
            Err(e) if e.needs_backup_password() && secrets.backup_password.is_none() => {
                if !std::io::stdin().is_terminal() {
                    bail!("{e}; give it with --password-env VAR or --password-file FILE");
                }
                prompted = args.password.password()?;
                secrets.backup_password = Some(prompted.as_str());
                portcullis_engine::check(&args.path, &input, &indicators, &secrets, &options)
            }
            other => other,
        };
    bar.finish_and_clear();
    let checked = checked.map_err(|e: EngineError| anyhow::Error::new(e))?;
    Ok((checked, indicators))
}
