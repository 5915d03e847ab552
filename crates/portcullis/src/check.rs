//! `portcullis check`: detect the input, load indicators, run the modules, write the results.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use portcullis_android::acquisition::{Acquisition, OpenError, Options as AndroidOptions};
use portcullis_core::spool::Spool;
use portcullis_core::{Level, ModuleOutput};
use portcullis_indicators::{Indicators, indicator_files};
use portcullis_ios::{Backup, BackupError, Context, ModuleError, ModuleRun};
use portcullis_report::sink::{ResultsDir, TimeBasis};
use portcullis_report::{
    Coverage, CoverageStatus, FileHash, IndicatorFileInfo, MainArtifact, ModuleSummary, Report,
    RunInfo,
};

/// Nothing at HIGH or above.
pub const EXIT_CLEAN: u8 = 0;
/// At least one HIGH or CRITICAL alert.
pub const EXIT_ALERTS: u8 = 1;
/// The check could not run (bad arguments, not a backup, unreadable indicators).
pub const EXIT_COULD_NOT_RUN: u8 = 2;
/// The check ran but could not read the acquisition's main artifact (or anything at all), and
/// found no HIGH or CRITICAL alert: its silence proves nothing.
pub const EXIT_INCOMPLETE: u8 = 3;

/// Most reasons for unsupported patterns listed per indicator file in report.json.
const MAX_UNSUPPORTED_LISTED: usize = 100;

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The acquisition to check: an iOS backup folder (plain or encrypted), an Android bugreport
    /// (zip or folder), an AndroidQF acquisition (folder, .zip or .zip.age), an adb backup (.ab,
    /// or its extracted folder) or an Android intrusion-logging export.
    pub path: PathBuf,
    /// STIX 2.1 indicators: a file, or a folder searched for *.stix2 and *.json (repeatable).
    #[arg(short, long = "iocs", value_name = "PATH")]
    pub iocs: Vec<PathBuf>,
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
}

/// Loads every indicator path given, with warnings for the report. Running without the
/// indicators the analyst asked for would give false comfort, so a named file that cannot be
/// read, a folder without indicator files, and a set that turns out to hold no usable
/// indicator all stop the check; a bad file found in a folder is skipped with a warning.
pub fn load_indicators(paths: &[PathBuf]) -> Result<(Indicators, Vec<String>)> {
    let mut indicators = Indicators::new();
    let mut warnings = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("cannot read indicators at {}: {e}", path.display()))?;
        if let Some(kind) = portcullis_evidence::irregular_kind(meta.file_type()) {
            bail!(
                "{}: {kind}, not an indicator file or folder",
                path.display()
            );
        }
        let files = indicator_files(path)?;
        if meta.is_dir() && files.is_empty() {
            bail!(
                "{}: no indicator files (*.stix2 or *.json) in this folder",
                path.display()
            );
        }
        let mut loaded = 0;
        for file in &files {
            match indicators.load_file(file) {
                Ok(f) => {
                    loaded += 1;
                    if !f.unsupported.is_empty() {
                        tracing::info!(
                            "{}: {} pattern(s) not supported, skipped",
                            f.path.display(),
                            f.unsupported.len()
                        );
                    }
                }
                Err(e) if meta.is_dir() => warnings.push(format!("indicators: skipped {e}")),
                Err(e) => return Err(e.into()),
            }
        }
        if loaded == 0 {
            bail!(
                "{}: none of its {} file(s) is a STIX 2 bundle (see the warnings above)",
                path.display(),
                files.len()
            );
        }
    }
    for w in &warnings {
        tracing::warn!("{w}");
    }
    if !paths.is_empty() && indicators.is_empty() {
        bail!(
            "the indicator files given hold no usable indicator (every pattern is unsupported); \
             a check against them would match nothing"
        );
    }
    Ok((indicators, warnings))
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
        print!(
            "{}",
            crate::summary::render(&checked.report, &checked.output_dir)
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

/// What one platform's run produced, before it becomes a report.
struct Ran {
    input_kind: &'static str,
    root: PathBuf,
    runs: Vec<ModuleRun>,
    /// SHA-256 of every evidence file read, by path relative to `root`.
    hashes: Vec<(String, String)>,
    facts: portcullis_posture::DeviceFacts,
    basis: TimeBasis,
    /// Parts of the input refused or unreadable, for the report.
    warnings: Vec<String>,
    /// The artifact the check depends on, and whether it was read.
    main_artifact: Option<MainArtifact>,
}

/// Checks the acquisition at `args.path` and writes the results folder.
pub fn check(args: &CheckArgs) -> Result<Checked> {
    let started = portcullis_report::time::now();
    let meta = std::fs::metadata(&args.path)
        .map_err(|_| anyhow::anyhow!("{}: no such file or folder", args.path.display()))?;
    if let Some(kind) = portcullis_evidence::irregular_kind(meta.file_type()) {
        bail!(
            "{}: {kind}, not an acquisition (give a backup folder, a zip, an .ab or a folder of \
             logs)",
            args.path.display()
        );
    }
    let (indicators, indicator_warnings) = load_indicators(&args.iocs)?;
    let show_progress = !args.json && std::io::stderr().is_terminal();
    let output_dir = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.path));
    let ran = match portcullis_ios::backup::locate(&args.path) {
        Ok(root) => run_ios(args, &root, &indicators, &output_dir, show_progress)?,
        Err(BackupError::NotABackup(_)) => {
            run_android(args, &indicators, &output_dir, show_progress)?
        }
        Err(e) => return Err(e.into()),
    };
    let results = ResultsDir::create(&output_dir)?;
    let report = build_report(args, &ran, &indicators, indicator_warnings, started);
    let outputs: Vec<(&str, &ModuleOutput)> = ran
        .runs
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|o| (r.slug, o)))
        .collect();
    results.write_check(&report, &outputs, ran.basis)?;
    Ok(Checked { report, output_dir })
}

/// Refuses a results folder inside the evidence (the evidence is never written to) or one that
/// already holds files (unless `--force`), then creates the folder, where large modules write
/// their records as they go (see [`portcullis_core::spool`]): the returned spool names it.
fn prepare_results(evidence: &Path, output_dir: &Path, force: bool) -> Result<Spool> {
    if inside(output_dir, evidence) {
        bail!(
            "the results folder {} is inside the evidence {}; choose a folder outside it",
            output_dir.display(),
            evidence.display()
        );
    }
    if !force
        && let Ok(mut entries) = std::fs::read_dir(output_dir)
        && let Some(Ok(first)) = entries.next()
    {
        bail!(
            "the results folder {} is not empty (it holds {}); choose a new or empty folder, or \
             pass --force to replace earlier results",
            output_dir.display(),
            first.file_name().to_string_lossy()
        );
    }
    ResultsDir::create(output_dir)?;
    Ok(Spool::new(output_dir))
}

/// Whether `path` (which may not exist yet) is `evidence` or lies inside it, however either is
/// spelt: links and `..` are resolved, and on Unix any existing ancestor with the evidence's
/// device and inode (a bind mount, a hard-linked name) counts as the evidence.
fn inside(path: &Path, evidence: &Path) -> bool {
    let Ok(evidence) = std::fs::canonicalize(evidence) else {
        return false;
    };
    let resolved = resolve(path);
    if resolved.starts_with(&evidence) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(target) = std::fs::metadata(&evidence) {
            return resolved.ancestors().any(|a| {
                std::fs::metadata(a)
                    .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
            });
        }
    }
    false
}

/// `path` made absolute with links resolved as the system will resolve them when the folder
/// is created: component by component, each existing prefix canonicalised (so a link is
/// followed), and `..` taking one component off what has been resolved so far.
fn resolve(path: &Path) -> PathBuf {
    use std::path::Component;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut resolved = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            other => {
                resolved.push(other);
                if let Ok(canonical) = std::fs::canonicalize(&resolved) {
                    resolved = canonical;
                }
            }
        }
    }
    resolved
}

fn run_ios(
    args: &CheckArgs,
    root: &Path,
    indicators: &Indicators,
    output_dir: &Path,
    show_progress: bool,
) -> Result<Ran> {
    let encrypted = portcullis_ios::backup::is_encrypted(root);
    let backup = if encrypted {
        Backup::open_encrypted(root, &args.password.secret()?)?
    } else {
        Backup::open(root)?
    };
    let spool = prepare_results(&args.path, output_dir, args.force)?;
    let modules = portcullis_ios::modules::all();
    let bar = progress_bar(modules.len(), show_progress);
    let ctx = Context {
        backup: &backup,
        indicators,
        spool: Some(&spool),
    };
    let runs = portcullis_ios::run_modules(&ctx, &modules, &|slug| {
        bar.set_message(slug.to_string());
        bar.inc(1);
    });
    bar.finish_and_clear();
    let facts = portcullis_ios::facts::device_facts(&backup);
    Ok(Ran {
        input_kind: if encrypted {
            "ios_backup_encrypted"
        } else {
            "ios_backup"
        },
        root: backup.root().to_path_buf(),
        hashes: backup.evidence().hashes(),
        runs,
        facts,
        basis: TimeBasis::Utc,
        warnings: backup.evidence().refused(),
        main_artifact: Some(backup.main_artifact()),
    })
}

fn run_android(
    args: &CheckArgs,
    indicators: &Indicators,
    output_dir: &Path,
    show_progress: bool,
) -> Result<Ran> {
    let password = args.password.given_password()?;
    let mut options = AndroidOptions {
        backup_password: password.as_deref().map(|p| p.as_str()),
        age_identity: args.age_identity.as_deref(),
        timezone: args.timezone.as_deref(),
    };
    let prompted;
    let acquisition = match Acquisition::open(&args.path, &options) {
        Err(OpenError::Backup { error, .. })
            if error.is_password_problem()
                && options.backup_password.is_none()
                && std::io::stdin().is_terminal() =>
        {
            prompted = args.password.password()?;
            options.backup_password = Some(prompted.as_str());
            Acquisition::open(&args.path, &options)?
        }
        Err(OpenError::Backup { path, error })
            if error.is_password_problem() && options.backup_password.is_none() =>
        {
            bail!(
                "{}: {error}; give it with --password-env VAR or --password-file FILE",
                path.display()
            )
        }
        other => other?,
    };
    let Some(acquisition) = acquisition else {
        bail!(
            "{} is not an iOS backup or an Android acquisition: expected an iOS backup folder \
             (Info.plist and Manifest.db), an Android bugreport (zip or folder), an AndroidQF \
             acquisition (folder, .zip or .zip.age), an adb backup (.ab) or intrusion logs",
            args.path.display()
        );
    };
    let spool = prepare_results(&args.path, output_dir, args.force)?;
    let bar = progress_bar(0, show_progress);
    let ran = acquisition.run(indicators, &options, Some(&spool), &|slug| {
        bar.set_message(slug.to_string());
        bar.inc(1);
    });
    bar.finish_and_clear();
    let facts = portcullis_android::facts::device_facts(&ran.runs);
    Ok(Ran {
        input_kind: acquisition.kind.as_str(),
        root: args.path.clone(),
        runs: ran.runs,
        hashes: ran.hashes,
        facts,
        basis: TimeBasis::DeviceLocal,
        warnings: ran.warnings,
        main_artifact: ran.main_artifact,
    })
}

fn build_report(
    args: &CheckArgs,
    ran: &Ran,
    indicators: &Indicators,
    indicator_warnings: Vec<String>,
    started: String,
) -> Report {
    let mut modules = Vec::with_capacity(ran.runs.len());
    let mut alerts = Vec::new();
    for run in &ran.runs {
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
            }
            Err(ModuleError::NotFound(reason)) => summary.skipped = Some(reason.clone()),
            Err(err) => {
                tracing::warn!("module {} failed: {err}", run.slug);
                summary.error = Some(err.to_string());
            }
        }
        modules.push(summary);
    }
    let hashes = ran
        .hashes
        .iter()
        .map(|(rel, sha256)| FileHash {
            file_path: if ran.root.is_dir() {
                ran.root.join(rel).display().to_string()
            } else {
                format!("{}!{rel}", ran.root.display())
            },
            sha256: sha256.clone(),
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
            unsupported: f
                .unsupported
                .iter()
                .take(MAX_UNSUPPORTED_LISTED)
                .cloned()
                .collect(),
            date: None,
        })
        .collect();
    let target = std::fs::canonicalize(&args.path).unwrap_or_else(|_| args.path.clone());
    let snapshot = portcullis_posture::Snapshot::load_or_bundled(&crate::data::data_dir());
    let mut device = ran.facts.to_summary();
    if let Some(name) = ran
        .facts
        .model
        .as_ref()
        .and_then(|m| snapshot.ios_model_name(&m.value))
    {
        device.insert("model_name".into(), name.into());
    }
    let coverage = Coverage::assess(&modules, ran.warnings.len(), ran.main_artifact.clone());
    Report {
        schema_version: 1,
        info: RunInfo {
            tool: "portcullis".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            target_path: target.display().to_string(),
            input_kind: ran.input_kind.into(),
            started,
            finished: portcullis_report::time::now(),
            ioc_files,
            hashes,
        },
        device,
        modules,
        alerts,
        posture: portcullis_posture::evaluate(&ran.facts, &snapshot, portcullis_posture::today()),
        os_data: Some(snapshot.info()),
        warnings: ran
            .warnings
            .iter()
            .cloned()
            .chain(indicator_warnings)
            .collect(),
        coverage,
    }
}
