//! Helpers shared by the module tests: MVT's fixture backup, test indicators, small backups built
//! on the fly, and running a module on them, so each test module only holds its own data and
//! assertions.

use std::io;
use std::path::{Path, PathBuf};

use portcullis_core::{ModuleOutput, Results};
use portcullis_indicators::Indicators;
use serde_json::Value;
use tempfile::TempDir;

use crate::builder::BackupBuilder;
use crate::{Backup, Context, IosModule, ModuleError};

/// MVT's test backup, when the shared fixtures are present (otherwise a note and `None`, so the
/// test is skipped).
pub(crate) fn fixture() -> Option<PathBuf> {
    portcullis_testkit::shared_fixture("mvt/ios_backup")
}

/// [`fixture`], opened.
pub(crate) fn fixture_backup() -> Option<Backup> {
    fixture().map(|path| Backup::open(&path).expect("fixture backup opens"))
}

pub(crate) use portcullis_testkit::{indicators, test_stix2};

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
