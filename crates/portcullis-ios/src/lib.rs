//! iOS evidence: the backup reader and one module per artifact, each reproducing what MVT's
//! module of the same slug reads, records and flags (with MVT's known bugs fixed).

pub mod backup;
pub mod builder;
pub mod encrypted;
pub mod facts;
pub mod modules;
pub mod nskeyed;
pub mod values;

use portcullis_core::spool::Spool;
use portcullis_indicators::Indicators;

pub use backup::{Backup, BackupError, ManifestEntry};
pub use portcullis_core::{Module, ModuleError, ModuleRun, RunControl};

/// What a module gets: the backup to read, the indicators to match against, and where large
/// modules may write their records as they go (the check's results folder; `None` keeps them in
/// memory).
pub struct Context<'a> {
    pub backup: &'a Backup,
    pub indicators: &'a Indicators,
    pub spool: Option<&'a Spool>,
}

/// An iOS module: the workspace's one [`Module`] trait, run on a backup.
pub type IosModule = dyn for<'a> Module<Context<'a>>;

/// Runs `modules` in parallel, returning results in module order (see
/// [`portcullis_core::run_modules`]).
pub fn run_modules(
    ctx: &Context<'_>,
    modules: &[&'static IosModule],
    control: &RunControl<'_>,
) -> Vec<ModuleRun> {
    let modules: Vec<&dyn Module<Context<'_>>> = modules.iter().map(|m| *m as _).collect();
    portcullis_core::run_modules(ctx, &modules, control)
}
