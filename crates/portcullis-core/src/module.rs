//! What every artifact module shares, whatever the platform: the trait, how it fails, and how
//! a set of modules runs in parallel so that one failure only loses that module's output.

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
    pub name: &'static str,
    /// MVT's slug (output file names).
    pub slug: &'static str,
    pub outcome: Result<ModuleOutput, ModuleError>,
}

/// Runs every module in parallel and returns the runs in module order. A module that fails, or
/// even panics, only loses its own output. `on_done` is told each slug as it finishes (progress).
pub fn run_modules<C: Sync + ?Sized>(
    ctx: &C,
    modules: &[&dyn Module<C>],
    on_done: &(dyn Fn(&str) + Sync),
) -> Vec<ModuleRun> {
    use rayon::prelude::*;
    modules
        .par_iter()
        .map(|m| {
            let slug = m.slug();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.run(ctx)))
                .unwrap_or_else(|_| {
                    Err(ModuleError::Parse {
                        path: slug.to_string(),
                        reason: "internal error while parsing (please report it)".to_string(),
                    })
                });
            on_done(slug);
            ModuleRun {
                name: m.name(),
                slug,
                outcome,
            }
        })
        .collect()
}
