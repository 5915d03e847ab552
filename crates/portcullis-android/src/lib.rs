//! Android evidence: one module per artifact for bugreports, AndroidQF acquisitions, `adb backup`
//! files and Android 16 intrusion logs, reproducing what MVT's module of the same slug reads,
//! records and flags (with MVT's known bugs fixed).
//!
//! Every module reads through [`portcullis_evidence::Evidence`], so a folder, a zip read in place
//! or a decrypted age stream look the same to it.

pub mod acquisition;
pub mod androidqf;
pub mod backup;
pub mod bugreport;
pub mod detect;
pub mod facts;
pub mod intrusion;
pub mod reference;

use std::sync::{Mutex, OnceLock};

use portcullis_core::ModuleOutput;
use portcullis_core::spool::Spool;
use portcullis_evidence::{Evidence, FileEntry};
use portcullis_indicators::Indicators;
use portcullis_report::MainArtifact;

pub use portcullis_core::{Module, ModuleError, ModuleRun, RunControl};

/// What a module gets.
pub struct Context<'a> {
    /// The acquisition (folder or archive), read-only.
    pub evidence: &'a dyn Evidence,
    /// Every file of the acquisition, sorted by path (listed once, shared by all modules).
    pub files: &'a [FileEntry],
    pub indicators: &'a Indicators,
    /// The device's IANA time zone (from `persist.sys.timezone`) when known; times in records
    /// and the timeline are device-local wall clock, as MVT writes them.
    pub timezone: Option<&'a str>,
    /// What the modules of this run share; owned by the run, never process-wide.
    pub shared: &'a Shared,
    /// Where large modules may write their timeline rows as they go (the check's results
    /// folder); `None` keeps them in memory.
    pub spool: Option<&'a Spool>,
}

/// What the modules running on one evidence share: artifacts read once for all of them, and
/// warnings meant for the report rather than for each module.
#[derive(Default)]
pub struct Shared {
    /// The bugreport's dumpstate, or why it could not be had (filled by the first module that
    /// asks; the others wait for that one read).
    pub(crate) dumpstate: OnceLock<bugreport::dumpstate::Loaded>,
    warnings: Mutex<Vec<String>>,
}

impl Shared {
    /// Keeps a warning for the report, once however many modules meet it.
    pub fn warn(&self, warning: String) {
        tracing::warn!("{warning}");
        if let Ok(mut warnings) = self.warnings.lock()
            && !warnings.contains(&warning)
        {
            warnings.push(warning);
        }
    }

    /// The warnings kept so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// The artifact the run depended on (a bugreport's dumpstate) and whether it was read;
    /// `None` when no module asked for one.
    pub fn main_artifact(&self) -> Option<MainArtifact> {
        self.dumpstate
            .get()
            .map(bugreport::dumpstate::Loaded::as_main_artifact)
    }
}

impl Context<'_> {
    /// Files whose path matches `pattern`, where `*` matches any run of characters including `/`
    /// (MVT's fnmatch rule).
    pub fn find(&self, pattern: &str) -> Vec<&FileEntry> {
        self.files
            .iter()
            .filter(|f| glob_match(pattern, &f.path))
            .collect()
    }
}

/// `*` matches any run of characters (including `/`), `?` one character; everything else is
/// literal.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `{path, modified_time}` for each of `files` and an `M---` timeline row each (the
/// modification-time modules of bugreports and AndroidQF). Times are the listing's (a zip
/// entry's date and time, a file's mtime) printed as UTC wall clock, "" when unknown.
pub(crate) fn modification_times<'f>(
    module: &str,
    files: impl IntoIterator<Item = &'f FileEntry>,
    spool: Option<&Spool>,
) -> ModuleOutput {
    let mut out = ModuleOutput::spilling(spool);
    let mut records = Vec::new();
    for file in files {
        let modified = modified_iso(file.modified);
        out.push_timeline(portcullis_core::TimelineEvent {
            timestamp: modified.clone(),
            plugin: module.into(),
            event: "M---".into(),
            data: file.path.clone(),
        });
        records.push(serde_json::json!({"path": file.path, "modified_time": modified}));
    }
    out.results = portcullis_core::Results::List(records);
    out
}

/// A listing's modification time (Unix seconds) as ISO time, "" when unknown.
pub(crate) fn modified_iso(modified: Option<i64>) -> String {
    modified
        .and_then(|s| portcullis_report::time::from_unix(s as f64))
        .unwrap_or_default()
}

/// An Android module: the workspace's one [`Module`] trait, run on an acquisition.
pub type AndroidModule = dyn for<'a> Module<Context<'a>>;

/// Runs `modules` in parallel, returning results in module order (see
/// [`portcullis_core::run_modules`]).
pub fn run_modules(
    ctx: &Context<'_>,
    modules: &[&'static AndroidModule],
    control: &RunControl<'_>,
) -> Vec<ModuleRun> {
    let modules: Vec<&dyn Module<Context<'_>>> = modules.iter().map(|m| *m as _).collect();
    portcullis_core::run_modules(ctx, &modules, control)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn fnmatch_star_crosses_slashes() {
        assert!(glob_match("*/getprop.txt", "androidqf/getprop.txt"));
        assert!(glob_match("FS/*", "FS/data/tombstones/tombstone_00"));
        assert!(glob_match(
            "*/tombstone_*",
            "FS/data/tombstones/tombstone_01.pb"
        ));
        assert!(!glob_match("*/getprop.txt", "getprop.txt"));
        assert!(glob_match("dumpState_*.log", "dumpState_2024.log"));
        assert!(!glob_match("a?c", "ac"));
    }
}
