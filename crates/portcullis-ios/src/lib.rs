//! iOS evidence: the backup reader and one module per artifact, each reproducing what MVT's
//! module of the same slug reads, records and flags (with MVT's known bugs fixed).

pub mod backup;
pub mod builder;
pub mod encrypted;
pub mod modules;
pub mod nskeyed;
pub mod values;

use portcullis_evidence::EvidenceError;
use portcullis_indicators::Indicators;
use portcullis_report::ModuleOutput;

pub use backup::{Backup, BackupError, ManifestEntry};

/// What a module gets: the backup to read and the indicators to match against.
pub struct Context<'a> {
    pub backup: &'a Backup,
    pub indicators: &'a Indicators,
}

/// Why a module produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The artifact is not in this backup: not an error, the phone just does not have it.
    #[error("no data: {0}")]
    NotFound(String),
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error("{path}: query failed: {source}")]
    Query {
        path: String,
        source: rusqlite::Error,
    },
    #[error("{path}: {reason}")]
    Parse { path: String, reason: String },
}

impl ModuleError {
    /// Wraps an SQLite error with the file it happened in.
    pub fn query(path: &str) -> impl Fn(rusqlite::Error) -> ModuleError + '_ {
        move |source| ModuleError::Query {
            path: path.to_string(),
            source,
        }
    }
}

/// One artifact: where it lives, how to parse it, what to flag.
pub trait Module: Sync {
    /// MVT's class name (timeline "Plugin" column), e.g. `Datausage`.
    fn name(&self) -> &'static str;
    /// MVT's slug (output file names), e.g. `datausage`.
    fn slug(&self) -> &'static str;
    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError>;
}

/// How one module's run ended.
pub struct ModuleRun {
    pub name: &'static str,
    pub slug: &'static str,
    pub outcome: Result<ModuleOutput, ModuleError>,
}

/// Runs `modules` in parallel, returning results in module order. A module that fails, or even
/// panics, only loses its own output. `on_done` is told each module's slug as it finishes
/// (for progress display).
pub fn run_modules(
    ctx: &Context<'_>,
    modules: &[&'static dyn Module],
    on_done: &(dyn Fn(&str) + Sync),
) -> Vec<ModuleRun> {
    use rayon::prelude::*;
    modules
        .par_iter()
        .map(|m| {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.run(ctx)))
                .unwrap_or_else(|_| {
                    Err(ModuleError::Parse {
                        path: m.slug().to_string(),
                        reason: "internal error while parsing (please report it)".to_string(),
                    })
                });
            on_done(m.slug());
            ModuleRun {
                name: m.name(),
                slug: m.slug(),
                outcome,
            }
        })
        .collect()
}

/// The device facts worth showing first, taken from the `backup_info` record.
pub fn device_summary(
    info: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    const KEYS: [(&str, &str); 6] = [
        ("Device Name", "name"),
        ("Product Type", "model"),
        ("Product Version", "os_version"),
        ("Build Version", "build"),
        ("Serial Number", "serial"),
        ("Last Backup Date", "last_backup"),
    ];
    KEYS.iter()
        .filter_map(|(from, to)| {
            info.get(*from)
                .filter(|v| !v.is_null())
                .map(|v| (to.to_string(), v.clone()))
        })
        .collect()
}
