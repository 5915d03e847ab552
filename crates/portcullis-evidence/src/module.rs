//! What every artifact module shares, whatever the platform: how it fails, and how a set of
//! modules runs in parallel so that one failure only loses that module's output.

use portcullis_report::ModuleOutput;

use crate::EvidenceError;

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
pub fn run_parallel<M: ?Sized + Sync>(
    modules: &[&M],
    names: impl Fn(&M) -> (&'static str, &'static str) + Sync,
    run: impl Fn(&M) -> Result<ModuleOutput, ModuleError> + Sync,
    on_done: &(dyn Fn(&str) + Sync),
) -> Vec<ModuleRun> {
    use rayon::prelude::*;
    modules
        .par_iter()
        .map(|m| {
            let (name, slug) = names(m);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(m)))
                .unwrap_or_else(|_| {
                    Err(ModuleError::Parse {
                        path: slug.to_string(),
                        reason: "internal error while parsing (please report it)".to_string(),
                    })
                });
            on_done(slug);
            ModuleRun {
                name,
                slug,
                outcome,
            }
        })
        .collect()
}
