//! What the network tests share: indicators from patterns, the real samples, reading a file.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use portcullis_indicators::Indicators;
use portcullis_network::check::{Check, Hit};
use portcullis_network::run::{self, FileRun};
use portcullis_network::source::Source;

/// Indicators of one collection "Test" from STIX patterns.
pub fn indicators(patterns: &[&str]) -> Indicators {
    let mut ind = Indicators::new();
    ind.load_bundle(
        portcullis_indicators::test_bundle_json("Test", patterns).as_bytes(),
        Path::new("test.stix2"),
    )
    .unwrap();
    ind
}

/// `../shared/fixtures/network/<rel>`, or `None` (with a note) where `../shared` is absent.
pub fn sample(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/network")
        .join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: ../shared not present ({})", path.display());
        None
    }
}

/// Reads `path` (format recognised from its contents) against `ind`.
pub fn read(path: &Path, ind: &Indicators) -> FileRun {
    run::read(
        &Source::File(path.to_path_buf()),
        None,
        &Check { indicators: ind },
    )
}

/// Writes `contents` to a file `name` in a new temporary folder.
pub fn write(name: &str, contents: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    (dir, path)
}

/// Each hit as `line seen value→indicator client`.
pub fn hits(run: &FileRun) -> Vec<String> {
    let tally = &run.outcome.as_ref().unwrap().tally;
    tally.hits.iter().map(describe).collect()
}

pub fn describe(hit: &Hit) -> String {
    format!(
        "{} {} {}→{} {}",
        hit.line,
        hit.seen.as_str(),
        hit.indicator.input,
        hit.indicator.value,
        hit.client.as_deref().unwrap_or("-")
    )
}

/// (lines, records, malformed) of a run.
pub fn counts(run: &FileRun) -> (u64, u64, u64) {
    let tally = &run.outcome.as_ref().unwrap().tally;
    (tally.lines, tally.records, tally.malformed)
}
