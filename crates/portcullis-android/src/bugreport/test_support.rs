//! Helpers shared by the bugreport tests: MVT's fixtures, test indicators, acquisitions built in
//! a temporary folder, and running a module on them.

use std::path::{Path, PathBuf};

use portcullis_core::{Alert, Level, ModuleOutput, Results};
use portcullis_evidence::{Evidence, FolderEvidence};
use portcullis_indicators::Indicators;
use serde_json::Value;

use crate::AndroidModule;
use crate::Context;

pub(crate) use portcullis_testkit::{indicators, test_stix2, with_folder};

/// `android_data/<name>` of MVT's fixtures, when the shared fixtures are present (otherwise a
/// note and `None`, so the test is skipped).
pub(crate) fn fixture(name: &str) -> Option<PathBuf> {
    portcullis_testkit::shared_fixture(&format!("mvt/android_data/{name}"))
}

/// The text of fixture `android_data/<name>`, when present.
pub(crate) fn fixture_text(name: &str) -> Option<String> {
    fixture(name)
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).expect("fixture reads")).into_owned())
}

/// Indicators naming one malicious app id.
pub(crate) fn app_ioc(app_id: &str) -> Indicators {
    indicators(&[&format!("[app:id = '{app_id}']")])
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
