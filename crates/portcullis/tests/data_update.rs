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

#[test]
fn a_newer_legacy_table_updates_the_data() {
    let curated: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../portcullis-posture/data/curated.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let write = |name: &str, as_of: &str| {
        let mut table = curated["ios_legacy"].clone();
        table["as_of"] = as_of.into();
        let path = tmp.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(&table).unwrap()).unwrap();
        path
    };
    let newer = write("legacy.json", "2027-02-01");
    let digest = hex::encode(Sha256::digest(std::fs::read(&newer).unwrap()));
    let update = |file: &std::path::Path, sha: &str| {
        portcullis()
            .env("PORTCULLIS_DATA_DIR", &data)
            .args(["data", "update", "--sha256", sha])
            .arg(file)
            .assert()
    };
    update(&newer, &"0".repeat(64))
        .code(2)
        .stderr(predicate::str::contains("not the expected"));
    update(&newer, &digest)
        .success()
        .stdout(predicate::str::contains(
            "Legacy-model table updated: 2027-02-01 (56 models)",
        ));
    assert_eq!(
        std::fs::read_to_string(data.join("ios-legacy.json.sha256")).unwrap(),
        format!("{digest}\n")
    );
    portcullis()
        .env("PORTCULLIS_DATA_DIR", &data)
        .args(["data", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Legacy-model table: 2027-02-01 (updated copy",
        ))
        .stdout(predicate::str::contains("): as of 2027-02-01"));
    // An older table is refused; a broken one too.
    let older = write("old.json", "2026-01-01");
    let sha = hex::encode(Sha256::digest(std::fs::read(&older).unwrap()));
    update(&older, &sha)
        .code(2)
        .stderr(predicate::str::contains("older than the one in use"));
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"schema": "portcullis-ios-legacy/1", "as_of": "2027-03-01"}"#,
    )
    .unwrap();
    let sha = hex::encode(Sha256::digest(std::fs::read(&bad).unwrap()));
    update(&bad, &sha)
        .code(2)
        .stderr(predicate::str::contains("not a valid legacy-model table"));
}
