//! iOS evidence: the backup reader and one module per artifact, each reproducing what MVT's
//! module of the same slug reads, records and flags (with MVT's known bugs fixed).

pub mod backup;
pub mod builder;
pub mod encrypted;
pub mod facts;
pub mod modules;
pub mod nskeyed;
pub mod values;

use portcullis_indicators::Indicators;
use portcullis_report::ModuleOutput;

pub use backup::{Backup, BackupError, ManifestEntry};

/// What a module gets: the backup to read and the indicators to match against.
pub struct Context<'a> {
    pub backup: &'a Backup,
    pub indicators: &'a Indicators,
}

pub use portcullis_evidence::module::{ModuleError, ModuleRun};

/// One artifact: where it lives, how to parse it, what to flag.
pub trait Module: Sync {
    /// MVT's class name (timeline "Plugin" column), e.g. `Datausage`.
    fn name(&self) -> &'static str;
    /// MVT's slug (output file names), e.g. `datausage`.
    fn slug(&self) -> &'static str;
    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError>;
}

/// Runs `modules` in parallel, returning results in module order (see
/// [`portcullis_evidence::module::run_parallel`]).
pub fn run_modules(
    ctx: &Context<'_>,
    modules: &[&'static dyn Module],
    on_done: &(dyn Fn(&str) + Sync),
) -> Vec<ModuleRun> {
    portcullis_evidence::module::run_parallel(
        modules,
        |m| (m.name(), m.slug()),
        |m| m.run(ctx),
        on_done,
    )
}
