//! `portcullis data update` replaces the OS-currency data from a SOFA feed, checked by schema
//! and SHA-256; `data show` and every report then name it.

mod common;

use common::*;
use predicates::prelude::*;
use sha2::{Digest, Sha256};

#[test]
fn bad_feeds_are_refused_and_the_bundled_data_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let feed = tmp.path().join("feed.json");
    std::fs::write(&feed, r#"{"not": "a sofa feed"}"#).unwrap();
    portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .args(["data", "update"])
        .arg(&feed)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a valid SOFA iOS feed"));
    portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .args(["data", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("bundled"))
        // Each part with its own date; the bundled feed (2026-08-22) is past 90 days by now.
        .stdout(
            predicate::str::contains("ios_legacy (")
                .and(predicate::str::contains("): as of 2026-12-01")),
        )
        .stdout(predicate::str::contains(
            "WARNING: ios_feed is older than 90 days",
        ))
        .stdout(predicate::str::contains("android_models_eol ("));
}

#[test]
fn the_sofa_feed_snapshot_updates_the_data() {
    let Some(feed) = shared_fixture("os-currency/sofa-ios-data-feed-v2.json") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let digest = hex::encode(Sha256::digest(std::fs::read(&feed).unwrap()));
    portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .args(["data", "update", "--sha256", &"0".repeat(64)])
        .arg(&feed)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not the expected"));
    portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .args(["data", "update", "--sha256", &digest])
        .arg(&feed)
        .assert()
        .success()
        .stdout(predicate::str::contains("OS data updated: 2026-08-22"));
    portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .args(["data", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("2026-08-22"))
        .stdout(predicate::str::contains("updated copy"));
}
