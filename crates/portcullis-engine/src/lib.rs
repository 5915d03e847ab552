//! The whole check pipeline, shared by the CLI and (later) the server: recognise the input,
//! open it, run every module that applies, judge coverage and posture, build the [`Report`]
//! and write the results folder.
//!
//! Nothing here is process-wide: each check gets its own results folder and spool, so checks
//! may run side by side in one process. Where the OS-currency data comes from, how secrets are
//! obtained and how progress is shown are the caller's business, passed in [`CheckOptions`].

pub mod indicators;
pub mod network;
pub mod recheck;
pub mod results;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use portcullis_android::acquisition::{Acquisition, OpenError, Options as AndroidOptions};
use portcullis_android::detect::AndroidKind;
use portcullis_core::spool::Spool;
use portcullis_core::{ModuleError, ModuleOutput, ModuleRun, RunControl};
use portcullis_ios::encrypted::Secret;
use portcullis_ios::{Backup, BackupError, Context};
use portcullis_posture::{DeviceFacts, Snapshot};
use portcullis_report::sink::{ResultsDir, SinkError, TimeBasis};
use portcullis_report::{
    Coverage, FileHash, IndicatorFileInfo, InputKind, MainArtifact, ModuleSummary, Report, RunInfo,
};

pub use indicators::{IndicatorsError, LoadedIndicators};
pub use network::NetworkOptions;
pub use portcullis_network::devices::{Devices, DevicesError};
pub use portcullis_network::format::kinds as network_kinds;

/// Most reasons for unsupported patterns listed per indicator file in report.json.
const MAX_UNSUPPORTED_LISTED: usize = 100;

/// Why a check could not run. Problems inside the evidence are not errors: they are in the
/// report (failed modules, refused files, coverage).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    #[error(
        "{path}: {kind}, not an acquisition (give a backup folder, a zip, an .ab or a folder of \
         logs)"
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "{0} is not an iOS backup or an Android acquisition: expected an iOS backup folder \
         (Info.plist and Manifest.db), an Android bugreport (zip or folder), an AndroidQF \
         acquisition (folder, .zip or .zip.age), an adb backup (.ab) or intrusion logs"
    )]
    NotAnAcquisition(PathBuf),
    /// An encrypted iOS backup was given without its password or key.
    #[error("{0}: the backup is encrypted; give its password to check it")]
    IosSecretRequired(PathBuf),
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// An Android acquisition that could not be opened; a password problem (an encrypted
    /// `adb backup`) can be retried with a password ([`EngineError::needs_backup_password`]).
    #[error(transparent)]
    Android(#[from] OpenError),
    #[error(
        "the results folder {output} is inside the evidence {evidence}; choose a folder outside it"
    )]
    OutputInsideEvidence { output: PathBuf, evidence: PathBuf },
    #[error(
        "the results folder {output} is not empty (it holds {holds}); choose a new or empty \
         folder, or pass --force to replace earlier results"
    )]
    OutputNotEmpty { output: PathBuf, holds: String },
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Network logs that could not be listed or read at all.
    #[error("{path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("the check was cancelled")]
    Cancelled,
}

impl EngineError {
    /// Whether the check could run with an `adb backup` password it was not given (or a
    /// different one).
    pub fn needs_backup_password(&self) -> bool {
        matches!(self, EngineError::Android(OpenError::Backup { error, .. }) if error.is_password_problem())
    }
}

/// What kind of acquisition a path holds, recognised from its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// An iOS backup folder (`root` is the folder holding Manifest.db, perhaps one level down).
    IosBackup { root: PathBuf, encrypted: bool },
    /// Anything else is tried as an Android acquisition when opened (bugreport, AndroidQF, adb
    /// backup, intrusion logs): which one needs the secrets, e.g. for a `.zip.age`.
    Android,
    /// Network, DNS or proxy logs or packet captures: a file, a folder of them, or `-` for
    /// standard input; `kind` names the format when it is not to be recognised.
    Network { kind: Option<String> },
}

impl Input {
    /// Recognises `path`. Anything but a regular file or folder (a FIFO would block forever) is
    /// refused before it is opened.
    pub fn detect(path: &Path) -> Result<Input, EngineError> {
        if path == Path::new("-") {
            return Ok(Input::Network { kind: None });
        }
        let meta = std::fs::metadata(path).map_err(|_| EngineError::Missing(path.to_path_buf()))?;
        if let Some(kind) = portcullis_evidence::irregular_kind(meta.file_type()) {
            return Err(EngineError::NotRegular {
                path: path.to_path_buf(),
                kind,
            });
        }
        match portcullis_ios::backup::locate(path) {
            Ok(root) => Ok(Input::IosBackup {
                encrypted: portcullis_ios::backup::is_encrypted(&root),
                root,
            }),
            Err(BackupError::NotABackup(_)) if looks_like_network(path, meta.is_dir()) => {
                Ok(Input::Network { kind: None })
            }
            Err(BackupError::NotABackup(_)) => Ok(Input::Android),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether `path` holds network logs: a file whose contents a log format recognises (not an
/// adb backup or age file by name), or a folder of such files that holds none of the files
/// that make a folder an Android acquisition.
fn looks_like_network(path: &Path, is_dir: bool) -> bool {
    if !is_dir {
        return portcullis_android::detect::detect_from_name(path).is_none()
            && portcullis_network::scan::recognises(path);
    }
    let android = [
        "dumpstate.txt",
        "main_entry.txt",
        "getprop.txt",
        "packages.json",
        "version.txt",
    ];
    let android_like = std::fs::read_dir(path).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            android.contains(&name.as_str())
                || name.starts_with("bugreport")
                || name.starts_with("dumpstate")
                || name.ends_with(".ab")
        })
    });
    !android_like && portcullis_network::scan::recognises(path)
}

/// The keys an encrypted acquisition may need; each is used only by the input it fits.
#[derive(Default)]
pub struct Secrets<'a> {
    /// An encrypted iOS backup's password or derived key.
    pub ios: Option<&'a Secret>,
    /// An `adb backup`'s password (standalone `.ab`, or AndroidQF's `backup.ab`).
    pub backup_password: Option<&'a str>,
    /// The age identity file of a `.zip.age` AndroidQF acquisition.
    pub age_identity: Option<&'a Path>,
}

/// Progress of a check, for a progress bar or a server's status.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// The modules are about to run (`total` is known for iOS; 0 when it is not).
    Started { total: usize },
    /// Module `slug` finished.
    ModuleDone { slug: &'a str },
}

fn no_progress(_: Progress<'_>) {}

/// How to run a check.
pub struct CheckOptions<'a> {
    /// The results folder: created, or empty, and outside the evidence.
    pub output: &'a Path,
    /// Replace the results already in `output`.
    pub force: bool,
    /// The device's IANA time zone for Android times, when the acquisition does not say.
    pub timezone: Option<&'a str>,
    /// The OS-currency data the posture audit judges against.
    pub snapshot: &'a Snapshot,
    pub progress: &'a (dyn Fn(Progress<'_>) + Sync),
    /// How network logs are read (`--kind`, `--devices`); unused for phones.
    pub network: NetworkOptions<'a>,
    /// Set to stop the check: modules not yet started are skipped and the check ends with
    /// [`EngineError::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

impl<'a> CheckOptions<'a> {
    /// Options writing into `output` and judging against `snapshot`, with no progress.
    pub fn new(output: &'a Path, snapshot: &'a Snapshot) -> Self {
        CheckOptions {
            output,
            force: false,
            timezone: None,
            snapshot,
            progress: &no_progress,
            network: NetworkOptions::default(),
            cancel: None,
        }
    }
}

/// A finished check: the report, also written to the results folder.
pub struct Checked {
    pub report: Report,
    pub output_dir: PathBuf,
}

/// What one platform's run produced, before it becomes a report.
struct Ran {
    input_kind: InputKind,
    root: PathBuf,
    runs: Vec<ModuleRun>,
    /// SHA-256 of every evidence file read, by path relative to `root`.
    hashes: Vec<(String, String)>,
    facts: DeviceFacts,
    basis: TimeBasis,
    /// Parts of the input refused or unreadable, for the report.
    warnings: Vec<String>,
    /// The artifact the check depends on, and whether it was read.
    main_artifact: Option<MainArtifact>,
    /// What the files of a network check came to.
    network: Option<portcullis_report::NetworkSummary>,
}

/// Checks the acquisition at `path` (recognised as `input`) against `indicators` and writes
/// the results folder.
pub fn check(
    path: &Path,
    input: &Input,
    indicators: &LoadedIndicators,
    secrets: &Secrets<'_>,
    options: &CheckOptions<'_>,
) -> Result<Checked, EngineError> {
    let started = portcullis_report::time::now();
    let on_done = |slug: &str| (options.progress)(Progress::ModuleDone { slug });
    let control = RunControl {
        on_done: &on_done,
        cancel: options.cancel,
    };
    let ran = match input {
        Input::IosBackup { root, encrypted } => run_ios(
            path, root, *encrypted, indicators, secrets, options, &control,
        )?,
        Input::Android => run_android(path, indicators, secrets, options, &control)?,
        Input::Network { kind } => {
            let options = CheckOptions {
                network: NetworkOptions {
                    kind: kind.as_deref().or(options.network.kind),
                    ..options.network
                },
                ..*options
            };
            network::run(path, indicators, &options, &control)?
        }
    };
    if control.cancelled() {
        return Err(EngineError::Cancelled);
    }
    let results = ResultsDir::create(options.output)?;
    let report = build_report(path, &ran, indicators, options.snapshot, started);
    let outputs: Vec<(&str, &ModuleOutput)> = ran
        .runs
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|o| (r.slug, o)))
        .collect();
    results.write_check(&report, &outputs, ran.basis)?;
    Ok(Checked {
        report,
        output_dir: options.output.to_path_buf(),
    })
}

fn run_ios(
    path: &Path,
    root: &Path,
    encrypted: bool,
    indicators: &LoadedIndicators,
    secrets: &Secrets<'_>,
    options: &CheckOptions<'_>,
    control: &RunControl<'_>,
) -> Result<Ran, EngineError> {
    let backup = if encrypted {
        let secret = secrets
            .ios
            .ok_or_else(|| EngineError::IosSecretRequired(root.to_path_buf()))?;
        Backup::open_encrypted(root, secret)?
    } else {
        Backup::open(root)?
    };
    let spool: Spool = results::prepare(path, options.output, options.force)?;
    let modules = portcullis_ios::modules::all();
    (options.progress)(Progress::Started {
        total: modules.len(),
    });
    let ctx = Context {
        backup: &backup,
        indicators: &indicators.indicators,
        spool: Some(&spool),
    };
    let runs = portcullis_ios::run_modules(&ctx, &modules, control);
    Ok(Ran {
        input_kind: if encrypted {
            InputKind::IosBackupEncrypted
        } else {
            InputKind::IosBackup
        },
        root: backup.root().to_path_buf(),
        hashes: backup.evidence().hashes(),
        runs,
        facts: portcullis_ios::facts::device_facts(&backup),
        basis: TimeBasis::Utc,
        warnings: backup.evidence().refused(),
        main_artifact: Some(backup.main_artifact()),
        network: None,
    })
}

fn run_android(
    path: &Path,
    indicators: &LoadedIndicators,
    secrets: &Secrets<'_>,
    options: &CheckOptions<'_>,
    control: &RunControl<'_>,
) -> Result<Ran, EngineError> {
    let android = AndroidOptions {
        backup_password: secrets.backup_password,
        age_identity: secrets.age_identity,
        timezone: options.timezone,
    };
    let acquisition = Acquisition::open(path, &android)?
        .ok_or_else(|| EngineError::NotAnAcquisition(path.to_path_buf()))?;
    let spool = results::prepare(path, options.output, options.force)?;
    (options.progress)(Progress::Started { total: 0 });
    let ran = acquisition.run(&indicators.indicators, &android, Some(&spool), control);
    Ok(Ran {
        input_kind: match acquisition.kind {
            AndroidKind::Bugreport => InputKind::AndroidBugreport,
            AndroidKind::AndroidQf => InputKind::AndroidQf,
            AndroidKind::AdbBackup => InputKind::AndroidBackup,
            AndroidKind::IntrusionLogs => InputKind::AndroidIntrusionLogs,
        },
        root: path.to_path_buf(),
        facts: portcullis_android::facts::device_facts(&ran.runs),
        runs: ran.runs,
        hashes: ran.hashes,
        basis: TimeBasis::DeviceLocal,
        warnings: ran.warnings,
        main_artifact: ran.main_artifact,
        network: None,
    })
}

/// The module summaries and every alert, in module order.
fn summarise(runs: &[ModuleRun]) -> (Vec<ModuleSummary>, Vec<portcullis_core::Alert>) {
    let mut modules = Vec::with_capacity(runs.len());
    let mut alerts = Vec::new();
    for run in runs {
        let mut summary = ModuleSummary {
            slug: run.slug.to_string(),
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
    (modules, alerts)
}

fn build_report(
    path: &Path,
    ran: &Ran,
    indicators: &LoadedIndicators,
    snapshot: &Snapshot,
    started: String,
) -> Report {
    let (modules, alerts) = summarise(&ran.runs);
    let hashes = ran
        .hashes
        .iter()
        .map(|(rel, sha256)| FileHash {
            file_path: if ran.root.as_os_str().is_empty() {
                rel.clone()
            } else if ran.root.is_dir() {
                ran.root.join(rel).display().to_string()
            } else {
                format!("{}!{rel}", ran.root.display())
            },
            sha256: sha256.clone(),
        })
        .collect();
    let ioc_files = ioc_files(indicators);
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut device = ran.facts.to_summary();
    if let Some(name) = ran
        .facts
        .model
        .as_ref()
        .and_then(|m| snapshot.ios_model_name(&m.value))
    {
        device.model_name = Some(name);
    }
    // Indicator warnings go in the report but are not about the evidence's coverage.
    let coverage = Coverage::assess(&modules, ran.warnings.len(), ran.main_artifact.clone());
    Report {
        schema_version: 1,
        info: RunInfo {
            tool: "portcullis".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            target_path: target.display().to_string(),
            input_kind: ran.input_kind,
            started,
            finished: portcullis_report::time::now(),
            ioc_files,
            indicators_note: indicators.note.clone(),
            hashes,
        },
        device,
        modules,
        alerts,
        // Logs of a network say nothing of a phone's settings.
        posture: if ran.network.is_some() {
            Vec::new()
        } else {
            portcullis_posture::evaluate(&ran.facts, snapshot, portcullis_posture::today())
        },
        os_data: ran.network.is_none().then(|| snapshot.info()),
        warnings: ran
            .warnings
            .iter()
            .chain(&indicators.warnings)
            .cloned()
            .collect(),
        coverage,
        recheck: None,
        network: ran.network.clone(),
    }
}

/// The indicator files of a check, for `info.ioc_files`.
fn ioc_files(indicators: &LoadedIndicators) -> Vec<IndicatorFileInfo> {
    indicators
        .indicators
        .files()
        .iter()
        .map(|f| IndicatorFileInfo {
            path: f.path.display().to_string(),
            sha256: f.sha256.clone(),
            indicators: f.indicators,
            collections: f.collections.clone(),
            unsupported_patterns: f.unsupported.len(),
            left_out_revoked: f.left_out.revoked,
            left_out_expired: f.left_out.expired,
            unsupported: f
                .unsupported
                .iter()
                .take(MAX_UNSUPPORTED_LISTED)
                .cloned()
                .collect(),
            date: None,
        })
        .collect()
}
