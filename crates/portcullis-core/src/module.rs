//! What every artifact module shares, whatever the platform: the trait, how it fails, and how
//! a set of modules runs in parallel so that one failure only loses that module's output.

use std::sync::atomic::{AtomicBool, Ordering};

use portcullis_evidence::EvidenceError;

use crate::ModuleOutput;

/// One artifact: where it lives, how to parse it, what to flag. `C` is what the source gives
/// its modules (an iOS backup, an Android acquisition…), so one trait serves every source.
pub trait Module<C: ?Sized>: Sync {
    /// MVT's class name (timeline "Plugin" column), e.g. `DumpsysAppops`.
    fn name(&self) -> &'static str;
    /// MVT's slug (output file names), e.g. `dumpsys_appops`.
    fn slug(&self) -> &'static str;
    fn run(&self, ctx: &C) -> Result<ModuleOutput, ModuleError>;
}

/// Why a module produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The artifact is not in this acquisition: not an error, the phone just does not have it.
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
    /// An artifact several modules share (a bugreport's dumpstate) could not be read; the text
    /// is the first reader's error, naming the file.
    #[error("{0}")]
    Shared(String),
    /// The check was cancelled before this module started.
    #[error("not run: the check was cancelled")]
    Cancelled,
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

/// How one module's run ended.
pub struct ModuleRun {
    /// MVT's class name (timeline "Plugin" column).
    pub class_name: &'static str,
    /// MVT's slug (output file names).
    pub slug: &'static str,
    pub outcome: Result<ModuleOutput, ModuleError>,
}

/// What the caller of a run can see and do while modules run: be told each module that
/// finishes (a progress bar), and stop modules that have not started yet (a server cancelling
/// a check).
#[derive(Clone, Copy)]
pub struct RunControl<'a> {
    pub on_done: &'a (dyn Fn(&str) + Sync),
    pub cancel: Option<&'a AtomicBool>,
}

fn nothing(_: &str) {}

impl Default for RunControl<'static> {
    /// No progress, no cancellation.
    fn default() -> Self {
        RunControl {
            on_done: &nothing,
            cancel: None,
        }
    }
}

impl RunControl<'_> {
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// Runs every module in parallel and returns the runs in module order. A module that fails, or
/// even panics, only loses its own output; once `control` is cancelled, modules that have not
/// started are not run ([`ModuleError::Cancelled`]).
pub fn run_modules<C: Sync + ?Sized>(
    ctx: &C,
    modules: &[&dyn Module<C>],
    control: &RunControl<'_>,
) -> Vec<ModuleRun> {
    use rayon::prelude::*;
    modules
        .par_iter()
        .map(|m| {
            let slug = m.slug();
            let outcome = if control.cancelled() {
                Err(ModuleError::Cancelled)
            } else {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.run(ctx)))
                    .unwrap_or_else(|_| {
                        Err(ModuleError::Parse {
                            path: slug.to_string(),
                            reason: "internal error while parsing (please report it)".to_string(),
                        })
                    })
            };
            (control.on_done)(slug);
            ModuleRun {
                class_name: m.name(),
                slug,
                outcome,
            }
        })
        .collect()
}
