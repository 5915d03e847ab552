//! A whole network check: every file under a path (or standard input), read one after the
//! other (each file's lines are split across cores), and what they came to together.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hashbrown::HashSet;

use crate::check::{Check, SeenLease};
use crate::format::{self, Head};
use crate::run::{self, FileRun};
use crate::source::{self, Opened, Source};

/// Files looked at to decide whether a folder holds network logs.
const RECOGNISE_FILES: usize = 50;

/// What the files of a network check came to.
pub struct Scan {
    pub files: Vec<FileRun>,
    /// Entries of the folder not read (links, devices, too deep), each naming the entry.
    pub skipped: Vec<String>,
    pub elapsed: Duration,
    /// Whether the check was cancelled before every file was read.
    pub cancelled: bool,
}

/// Reads every file under `path` (`-` for standard input) with the format `kind` names, or
/// the one each file's contents show; `on_file` is told each file as it is finished.
pub fn scan(
    path: &Path,
    kind: Option<&str>,
    check: &Check<'_>,
    on_file: &dyn Fn(&str),
    cancel: Option<&AtomicBool>,
) -> std::io::Result<Scan> {
    let started = Instant::now();
    let (sources, skipped) = source::collect(path)?;
    let mut scan = Scan {
        files: Vec::with_capacity(sources.len()),
        skipped,
        elapsed: Duration::ZERO,
        cancelled: false,
    };
    for source in &sources {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            scan.cancelled = true;
            break;
        }
        let file = run::read(source, kind, check);
        on_file(&file.source);
        scan.files.push(file);
    }
    scan.elapsed = started.elapsed();
    Ok(scan)
}

impl Scan {
    /// Lines read in all files.
    pub fn lines(&self) -> u64 {
        self.outcomes().map(|o| o.tally.lines).sum()
    }

    /// Distinct client addresses seen in all files, and whether some were past the cap.
    pub fn clients(&self) -> (usize, bool) {
        let mut all: HashSet<u64> = HashSet::new();
        let mut over = false;
        for outcome in self.outcomes() {
            over |= outcome.tally.clients_over;
            all.extend(outcome.tally.clients.iter().copied());
        }
        (all.len(), over)
    }

    /// Every DHCP lease seen, in any file.
    pub fn leases(&self) -> Vec<SeenLease> {
        self.outcomes()
            .flat_map(|o| o.tally.leases.iter().cloned())
            .collect()
    }

    fn outcomes(&self) -> impl Iterator<Item = &crate::format::Outcome> {
        self.files.iter().filter_map(|f| f.outcome.as_ref().ok())
    }
}

/// Whether `path` holds network logs or captures: a file this tool recognises, or a folder
/// with one among its first files. Used to tell a folder of logs from a phone's acquisition.
pub fn recognises(path: &Path) -> bool {
    let Ok((sources, _)) = source::collect(path) else {
        return false;
    };
    sources
        .iter()
        .filter(|s| matches!(s, Source::File(_)))
        .take(RECOGNISE_FILES)
        .any(|s| {
            Opened::open(s)
                .is_ok_and(|opened| format::recognise(&Head::new(&opened.head), None).is_some())
        })
}
