//! Helpers shared by the bugreport tests: MVT's fixtures, test indicators, acquisitions built in
//! a temporary folder, and running a module on them.

use std::path::{Path, PathBuf};

use portcullis_core::{Alert, Level, ModuleOutput, Results};
use portcullis_evidence::{Evidence, FolderEvidence};
use portcullis_indicators::{Indicators, test_bundle_json};
use serde_json::Value;

use crate::AndroidModule;
use crate::Context;

/// `android_data/<name>` of MVT's fixtures, when the shared fixtures are present (otherwise a
/// note and `None`, so the test is skipped).
pub(crate) fn fixture(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/mvt/android_data")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        println!("skipped: ../shared fixtures not present");
        None
    }
}

/// The text of fixture `android_data/<name>`, when present.
pub(crate) fn fixture_text(name: &str) -> Option<String> {
    fixture(name)
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).expect("fixture reads")).into_owned())
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

/// Indicators naming one malicious app id.
pub(crate) fn app_ioc(app_id: &str) -> Indicators {
    indicators(&[&format!("[app:id = '{app_id}']")])
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

/// Calls `f` with a temporary folder holding `files` (relative path, content).
pub(crate) fn with_folder<C: AsRef<[u8]>, R>(files: &[(&str, C)], f: impl FnOnce(&Path) -> R) -> R {
    let dir = tempfile::tempdir().expect("temporary folder");
    for (path, content) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("has a parent")).expect("folder");
        std::fs::write(full, content.as_ref()).expect("file written");
    }
    f(dir.path())
}

/// Calls `f` with a context over the folder `root`.
pub(crate) fn folder_context<R>(
    root: &Path,
    indicators: &Indicators,
    f: impl FnOnce(&Context<'_>) -> R,
) -> R {
    let evidence = FolderEvidence::new(root);
    let files = evidence.list().expect("folder lists");
    f(&Context {
        evidence: &evidence,
        files: &files,
        indicators,
        timezone: None,
        shared: &crate::Shared::default(),
        spool: None,
    })
}

/// Runs `module` on a folder holding `dumpstate.txt` = `dumpstate`.
pub(crate) fn run_on_dumpstate(
    module: &AndroidModule,
    dumpstate: &str,
    indicators: &Indicators,
) -> ModuleOutput {
    with_folder(&[("dumpstate.txt", dumpstate)], |root| {
        folder_context(root, indicators, |ctx| module.run(ctx)).expect("module runs")
    })
}

/// The records of a list-shaped result.
pub(crate) fn records(out: &ModuleOutput) -> &[Value] {
    match &out.results {
        Results::List(list) => list,
        Results::Object(_) | Results::Spooled(_) => panic!("expected a list of records in memory"),
    }
}

/// How many alerts of `level` there are.
pub(crate) fn count(alerts: &[Alert], level: Level) -> usize {
    alerts.iter().filter(|a| a.level == level).count()
}
