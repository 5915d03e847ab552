//! Helpers for the tests of every Portcullis crate, in one place: the project's shared fixtures
//! (present beside a developer's checkout, absent on a user's clone), indicators built from
//! patterns, and folders of files made on the fly. A dev-dependency only.

pub mod http;

use std::path::{Path, PathBuf};

use portcullis_indicators::{Indicators, test_bundle_json};

/// `../shared/fixtures/<rel>` beside the project, when present. Where it is absent (a user's
/// fresh clone) it says so on stderr, which the test harness shows even for passing tests, and
/// the caller skips its conformance test.
pub fn shared_fixture(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipped: ../shared/fixtures/{rel} not present (conformance test not run)");
        None
    }
}

/// The patterns of MVT's own `test.stix2`, the bundle its tests (and ours) check against.
pub const MVT_TEST_PATTERNS: &[&str] = &[
    "[domain-name:value = 'example.org']",
    "[ipv4-addr:value = '198.51.100.1']",
    "[process:name = 'Launch']",
    "[file:name = '/var/foobar/txt']",
    "[email-addr:value = 'foobar@example.org']",
    "[android-property:name = 'sys.foobar']",
    "[file:hashes.'SHA-256' = '570cd76bf49cf52e0cb347a68bdcf0590b2eaece134e1b1eba7e8d66261bdbe6']",
    "[file:hashes.'SHA-1' = 'da0611a300a9ce9aa7a09d1a11adbd2bd8de6794']",
    "[url:value = 'http://example.com/thisisbad']",
];

/// Indicators made of `patterns`, in a "TestMalware" collection from `test.stix2`.
pub fn indicators(patterns: &[&str]) -> Indicators {
    let mut ind = Indicators::new();
    ind.load_bundle(
        test_bundle_json("TestMalware", patterns).as_bytes(),
        Path::new("test.stix2"),
    )
    .expect("test bundle loads");
    ind
}

/// MVT's `test.stix2`, loaded.
pub fn test_stix2() -> Indicators {
    indicators(MVT_TEST_PATTERNS)
}

/// Calls `f` with a temporary folder holding `files` (relative path, content).
pub fn with_folder<C: AsRef<[u8]>, R>(files: &[(&str, C)], f: impl FnOnce(&Path) -> R) -> R {
    let dir = tempfile::tempdir().expect("temporary folder");
    for (path, content) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("has a parent")).expect("folder");
        std::fs::write(full, content.as_ref()).expect("file written");
    }
    f(dir.path())
}
