//! `portcullis check`: detect the input, load indicators, run the modules, write the results.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use portcullis_indicators::Indicators;
use portcullis_ios::{Backup, Context, ModuleError, ModuleRun};
use portcullis_report::sink::{ResultsDir, TimeBasis};
use portcullis_report::{
    FileHash, IndicatorFileInfo, Level, ModuleOutput, ModuleSummary, Report, RunInfo,
};

/// Nothing at HIGH or above.
pub const EXIT_CLEAN: u8 = 0;
/// At least one HIGH or CRITICAL alert.
pub const EXIT_ALERTS: u8 = 1;
/// The check could not run (bad arguments, not a backup, unreadable indicators).
pub const EXIT_COULD_NOT_RUN: u8 = 2;

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The acquisition to check: an iOS backup folder (Info.plist + Manifest.db).
    pub path: PathBuf,
    /// STIX 2.1 indicators: a file, or a folder searched for *.stix2 and *.json (repeatable).
    #[arg(short, long = "iocs", value_name = "PATH")]
    pub iocs: Vec<PathBuf>,
    /// Results folder (default: a new timestamped folder under ./portcullis-results/).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Print report.json to stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub password: crate::secret::PasswordArgs,
}

/// Loads every indicator path given; an unreadable or invalid file stops the check, since
/// running without indicators the analyst asked for would give false comfort.
pub fn load_indicators(paths: &[PathBuf]) -> Result<Indicators> {
    let mut indicators = Indicators::new();
    for path in paths {
        let files = indicators
            .load_path(path)
            .with_context(|| format!("loading indicators from {}", path.display()))?;
        for file in files {
            if !file.unsupported.is_empty() {
                tracing::warn!(
                    "{}: {} pattern(s) not supported, skipped",
                    file.path.display(),
                    file.unsupported.len()
                );
            }
        }
    }
    Ok(indicators)
}

/// A new folder under `./portcullis-results/` named after the time (UTC) and `name`.
pub fn new_results_folder(name: &str) -> PathBuf {
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
    PathBuf::from("portcullis-results").join(format!("{stamp}-{name}"))
}

fn default_output(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
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

/// A finished check: the report and where its files are.
pub struct Checked {
    pub report: Report,
    pub output_dir: PathBuf,
}

/// Runs a check and prints the summary (or JSON). Returns the exit code.
pub fn run(args: &CheckArgs) -> Result<ExitCode> {
    let checked = check(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checked.report)?);
    } else {
        print!("{}", crate::summary::render(&checked.report, &checked.output_dir));
    }
    Ok(ExitCode::from(exit_code(&checked.report)))
}

pub fn exit_code(report: &Report) -> u8 {
    if report.max_level() >= Some(Level::High) {
        EXIT_ALERTS
    } else {
        EXIT_CLEAN
    }
}

/// Checks the acquisition at `args.path` and writes the results folder.
pub fn check(args: &CheckArgs) -> Result<Checked> {
    let started = portcullis_report::time::now();
    let indicators = load_indicators(&args.iocs)?;
    let root = portcullis_ios::backup::locate(&args.path)?;
    let encrypted = portcullis_ios::backup::is_encrypted(&root);
    let backup = if encrypted {
        Backup::open_encrypted(&root, &args.password.secret()?)?
    } else {
        Backup::open(&root)?
    };
    let output_dir = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.path));
    if output_dir.starts_with(backup.root()) {
        bail!(
            "the results folder {} is inside the evidence; choose a folder outside it",
            output_dir.display()
        );
    }
    let results = ResultsDir::create(&output_dir)?;

    let modules = portcullis_ios::modules::all();
    let bar = progress_bar(modules.len(), !args.json && std::io::stderr().is_terminal());
    let ctx = Context {
        backup: &backup,
        indicators: &indicators,
    };
    let runs = portcullis_ios::run_modules(&ctx, &modules, &|slug| {
        bar.set_message(slug.to_string());
        bar.inc(1);
    });
    bar.finish_and_clear();

    let kind = if encrypted {
        "ios_backup_encrypted"
    } else {
        "ios_backup"
    };
    let report = build_report(args, kind, &backup, &indicators, &runs, started);
    let outputs: Vec<(&str, &ModuleOutput)> = runs
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|o| (r.slug, o)))
        .collect();
    results.write_check(&report, &outputs, TimeBasis::Utc)?;
    Ok(Checked { report, output_dir })
}

fn build_report(
    args: &CheckArgs,
    input_kind: &str,
    backup: &Backup,
    indicators: &Indicators,
    runs: &[ModuleRun],
    started: String,
) -> Report {
    let mut modules = Vec::with_capacity(runs.len());
    let mut alerts = Vec::new();
    let mut device = serde_json::Map::new();
    for run in runs {
        let mut summary = ModuleSummary {
            name: run.slug.to_string(),
            records: 0,
            alerts: 0,
            error: None,
            skipped: None,
        };
        match &run.outcome {
            Ok(output) => {
                summary.records = output.results.len();
                summary.alerts = output.alerts.len();
                alerts.extend(output.alerts.iter().cloned());
                if let portcullis_report::Results::Object(info) = &output.results
                    && run.slug == "backup_info"
                {
                    device = portcullis_ios::device_summary(info);
                }
            }
            Err(ModuleError::NotFound(reason)) => summary.skipped = Some(reason.clone()),
            Err(err) => {
                tracing::warn!("module {} failed: {err}", run.slug);
                summary.error = Some(err.to_string());
            }
        }
        modules.push(summary);
    }
    let root = backup.root();
    let hashes = backup
        .evidence()
        .hashes()
        .into_iter()
        .map(|(rel, sha256)| FileHash {
            file_path: root.join(rel).display().to_string(),
            sha256,
        })
        .collect();
    let ioc_files = indicators
        .files()
        .iter()
        .map(|f| IndicatorFileInfo {
            path: f.path.display().to_string(),
            sha256: f.sha256.clone(),
            indicators: f.indicators,
            collections: f.collections.clone(),
            unsupported_patterns: f.unsupported.len(),
        })
        .collect();
    let target = std::fs::canonicalize(&args.path).unwrap_or_else(|_| args.path.clone());
    Report {
        schema_version: 1,
        info: RunInfo {
            tool: "portcullis".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            target_path: target.display().to_string(),
            input_kind: input_kind.into(),
            started,
            finished: portcullis_report::time::now(),
            ioc_files,
            hashes,
        },
        device,
        modules,
        alerts,
    }
}
