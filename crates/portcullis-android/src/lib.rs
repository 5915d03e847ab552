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

use portcullis_evidence::{Evidence, FileEntry};
use portcullis_indicators::Indicators;
use portcullis_report::ModuleOutput;

pub use portcullis_evidence::module::{ModuleError, ModuleRun};

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

/// One artifact: where it lives, how to parse it, what to flag.
pub trait Module: Sync {
    /// MVT's class name (timeline "Plugin" column), e.g. `DumpsysAppops`.
    fn name(&self) -> &'static str;
    /// MVT's slug (output file names), e.g. `dumpsys_appops`.
    fn slug(&self) -> &'static str;
    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError>;
}

/// Runs `modules` in parallel, returning results in module order.
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
