//! Helpers shared by the module tests: MVT's fixture backup, test indicators, small backups built
//! on the fly, and running a module on them, so each test module only holds its own data and
//! assertions.

use std::io;
use std::path::{Path, PathBuf};

use portcullis_core::{ModuleOutput, Results};
use portcullis_indicators::{Indicators, test_bundle_json};
use serde_json::Value;
use tempfile::TempDir;

use crate::builder::BackupBuilder;
use crate::{Backup, Context, IosModule, ModuleError};

/// MVT's test backup, when the shared fixtures are present (otherwise a note and `None`, so the
/// test is skipped).
pub(crate) fn fixture() -> Option<PathBuf> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/mvt/ios_backup");
    if path.is_dir() {
        Some(path)
    } else {
        println!("skipped: ../shared fixtures not present");
        None
    }
}

/// [`fixture`], opened.
pub(crate) fn fixture_backup() -> Option<Backup> {
    fixture().map(|path| Backup::open(&path).expect("fixture backup opens"))
}

/// Indicators made of `patterns` in a "TestMalware" collection.
pub(crate) fn indicators(patterns: &[&str]) -> Indicators {
    let mut ind = Indicators::new();
    ind.load_bundle(
        test_bundle_json("TestMalware", patterns).as_bytes(),
        Path::new("test.stix2"),
    )
    .expect("test bundle loads");
    ind
}

/// MVT's `test.stix2`.
pub(crate) fn test_stix2() -> Indicators {
    indicators(&[
        "[domain-name:value = 'example.org']",
        "[ipv4-addr:value = '198.51.100.1']",
        "[process:name = 'Launch']",
        "[file:name = '/var/foobar/txt']",
        "[email-addr:value = 'foobar@example.org']",
        "[android-property:name = 'sys.foobar']",
        "[file:hashes.'SHA-256' = '570cd76bf49cf52e0cb347a68bdcf0590b2eaece134e1b1eba7e8d66261bdbe6']",
        "[file:hashes.'SHA-1' = 'da0611a300a9ce9aa7a09d1a11adbd2bd8de6794']",
        "[url:value = 'http://example.com/thisisbad']",
    ])
}

/// Runs `module` on `backup` with `indicators`.
pub(crate) fn run(
    module: &IosModule,
    backup: &Backup,
    indicators: &Indicators,
) -> Result<ModuleOutput, ModuleError> {
    module.run(&Context {
        backup,
        indicators,
        spool: None,
    })
}

/// Opens the backup in `root` and runs `module` on it.
pub(crate) fn run_at(
    module: &IosModule,
    root: &Path,
    indicators: &Indicators,
) -> Result<ModuleOutput, ModuleError> {
    run(module, &Backup::open(root).unwrap(), indicators)
}

/// A backup written by `build` into a new temporary folder, which lasts as long as the returned
/// `TempDir` is kept.
pub(crate) fn built(
    build: impl FnOnce(BackupBuilder) -> io::Result<BackupBuilder>,
) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = build(BackupBuilder::new(dir.path()).unwrap())
        .unwrap()
        .finish()
        .unwrap();
    (dir, root)
}

/// A backup holding one SQLite database made by `sql`.
pub(crate) fn with_sqlite(domain: &str, path: &str, sql: &str) -> (TempDir, PathBuf) {
    built(|b| b.sqlite(domain, path, sql))
}

/// A backup holding one file with `contents` (typically garbage).
pub(crate) fn with_file(domain: &str, path: &str, contents: &[u8]) -> (TempDir, PathBuf) {
    built(|b| b.file(domain, path, contents))
}

/// A backup holding one property list.
pub(crate) fn with_plist(domain: &str, path: &str, value: &plist::Value) -> (TempDir, PathBuf) {
    built(|b| b.plist(domain, path, value))
}

/// The records of a module whose results are a list.
pub(crate) fn list(out: &ModuleOutput) -> &[Value] {
    let Results::List(records) = &out.results else {
        panic!("list expected")
    };
    records
}
