//! Checks side by side in one process, as the server will run them: each writes only into its
//! own results folder (the spool is per check), and a cancelled check stops.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use portcullis_engine::{CheckOptions, EngineError, Input, LoadedIndicators, Secrets};
use portcullis_ios::builder::BackupBuilder;
use portcullis_posture::Snapshot;

/// A backup whose SMS database holds `count` messages, each naming `marker`: enough rows for
/// the sms module to spool its records to disk.
fn backup(dir: &Path, marker: &str, count: usize) -> PathBuf {
    let mut sql = String::from(
        "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT);
         CREATE TABLE message (ROWID INTEGER PRIMARY KEY, guid TEXT, text TEXT, handle_id INTEGER,
           service TEXT, account TEXT, date INTEGER, date_read INTEGER, is_from_me INTEGER);
         INSERT INTO handle VALUES (1, '+15550100');",
    );
    for i in 0..count {
        sql.push_str(&format!(
            "INSERT INTO message VALUES ({i}, 'G{i}', '{marker} {i}', 1, 'SMS', 'a', {}, 0, 0);",
            600_000_000 + i
        ));
    }
    BackupBuilder::new(&dir.join(marker))
        .unwrap()
        .sqlite("HomeDomain", "Library/SMS/sms.db", &sql)
        .unwrap()
        .finish()
        .unwrap()
}

#[test]
fn two_checks_at_once_write_only_into_their_own_folders() {
    const MESSAGES: usize = 2_500; // past the spool's threshold
    let tmp = tempfile::tempdir().unwrap();
    let snapshot = Snapshot::bundled();
    let indicators = LoadedIndicators::default();
    let inputs = [
        (
            backup(tmp.path(), "ALPHA", MESSAGES),
            tmp.path().join("out-alpha"),
        ),
        (
            backup(tmp.path(), "BRAVO", MESSAGES),
            tmp.path().join("out-bravo"),
        ),
    ];
    std::thread::scope(|scope| {
        for (backup, out) in &inputs {
            let (snapshot, indicators) = (&snapshot, &indicators);
            scope.spawn(move || {
                let input = Input::detect(backup).unwrap();
                let options = CheckOptions::new(out, snapshot);
                let checked = portcullis_engine::check(
                    backup,
                    &input,
                    indicators,
                    &Secrets::default(),
                    &options,
                )
                .unwrap();
                assert_eq!(
                    checked
                        .report
                        .modules
                        .iter()
                        .find(|m| m.slug == "sms")
                        .unwrap()
                        .records,
                    MESSAGES
                );
            });
        }
    });
    for ((_, out), (own, other)) in inputs.iter().zip([("ALPHA", "BRAVO"), ("BRAVO", "ALPHA")]) {
        let sms = std::fs::read_to_string(out.join("sms.json")).unwrap();
        let records: Vec<serde_json::Value> = serde_json::from_str(&sms).unwrap();
        assert_eq!(records.len(), MESSAGES);
        // Written through the spool (one record per line), and only this check's records.
        assert_eq!(sms.lines().count(), MESSAGES + 2);
        assert!(
            records
                .iter()
                .all(|r| r["text"].as_str().unwrap().starts_with(own))
        );
        assert!(!sms.contains(other));
        // No spool file is left behind, here or in the other folder.
        let names: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
    }
}

#[test]
fn a_cancelled_check_stops_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let backup = backup(tmp.path(), "CHARLIE", 3);
    let snapshot = Snapshot::bundled();
    let cancel = AtomicBool::new(true);
    let out = tmp.path().join("out");
    let options = CheckOptions {
        cancel: Some(&cancel),
        ..CheckOptions::new(&out, &snapshot)
    };
    let input = Input::detect(&backup).unwrap();
    let result = portcullis_engine::check(
        &backup,
        &input,
        &LoadedIndicators::default(),
        &Secrets::default(),
        &options,
    );
    assert!(matches!(result, Err(EngineError::Cancelled)));
    assert!(!out.join("report.json").exists());
}
