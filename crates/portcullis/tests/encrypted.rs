//! Encrypted iOS backups through the CLI: `check` in memory, `decrypt`, `extract-key`, and bad
//! input. Self-made backups run everywhere; the ../shared fixture adds the MVT comparison.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use predicates::prelude::*;
use serde_json::Value;

const PASSWORD: &str = "correct horse";

/// The same small phone, plain (`plain/`) and encrypted (`enc/`).
fn build_pair(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let build = |sub: &str, encrypt: bool| {
        let b = sms_backup_builder(&dir.join(sub)).manifest_only("HomeDomain", "Library/SMS", 2);
        let b = if encrypt { b.encrypt_with(PASSWORD) } else { b };
        b.finish().unwrap()
    };
    let stix = stix(dir);
    (build("plain", false), build("enc", true), stix)
}

fn check_encrypted(backup: &Path, iocs: &Path, out: &Path, tmp: &Path) -> (i32, Value) {
    let output = portcullis()
        .env("PORTCULLIS_TEST_PASSWORD", PASSWORD)
        .env("TMPDIR", tmp)
        .arg("check")
        .arg(backup)
        .args([
            "--password-env",
            "PORTCULLIS_TEST_PASSWORD",
            "--json",
            "--iocs",
        ])
        .arg(iocs)
        .arg("--output")
        .arg(out)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&output.stderr));
    });
    (output.status.code().unwrap(), report)
}

fn alert_summary(report: &Value) -> Vec<(String, String, String)> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["level"].as_str().unwrap().into(),
                a["module"].as_str().unwrap().into(),
                a["message"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// Every file under `dir` that starts like an SQLite database.
fn sqlite_files(dir: &Path) -> Vec<PathBuf> {
    tree_digest(dir)
        .keys()
        .filter(|p| {
            p.is_file()
                && std::fs::read(p)
                    .map(|b| b.starts_with(b"SQLite format 3"))
                    .unwrap_or(false)
        })
        .cloned()
        .collect()
}

#[test]
fn encrypted_check_matches_plain_and_leaves_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, enc, stix) = build_pair(dir.path());
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let before = tree_digest(&enc);
    let (code_p, plain_report) = check_json(&plain, &[&stix], &dir.path().join("out-plain"));
    let out = dir.path().join("out-enc");
    let (code_e, enc_report) = check_encrypted(&enc, &stix, &out, &tmp);
    assert_eq!((code_p, code_e), (1, 1));
    assert_eq!(record_counts(&plain_report), record_counts(&enc_report));
    assert_eq!(alert_summary(&plain_report), alert_summary(&enc_report));
    assert_eq!(enc_report["info"]["input_kind"], "ios_backup_encrypted");
    assert_eq!(before, tree_digest(&enc), "the encrypted backup changed");
    assert!(
        sqlite_files(&out).is_empty(),
        "plaintext database in the output folder"
    );
    assert!(
        sqlite_files(&tmp).is_empty(),
        "plaintext database in the temporary folder"
    );
    assert!(
        tree_digest(&tmp).is_empty(),
        "files left in the temporary folder"
    );
}

#[test]
fn decrypt_and_extract_key_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, enc, stix) = build_pair(dir.path());
    let dest = dir.path().join("dec");
    portcullis()
        .env("PW", PASSWORD)
        .arg("decrypt")
        .arg(&enc)
        .arg(&dest)
        .args(["--password-env", "PW"])
        .assert()
        .success();
    for rel in [
        "3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28",
        "0d/0dc926a1810f7aee4e8f38793ed788701f93bf9d",
    ] {
        assert_eq!(
            std::fs::read(plain.join(rel)).unwrap(),
            std::fs::read(dest.join(rel)).unwrap()
        );
    }
    // The decrypted copy is an ordinary backup.
    let (code, report) = check_json(&dest, &[&stix], &dir.path().join("out"));
    assert_eq!(code, 1);
    assert_eq!(report["info"]["input_kind"], "ios_backup");
    // Refuses a non-empty destination.
    portcullis()
        .env("PW", PASSWORD)
        .arg("decrypt")
        .arg(&enc)
        .arg(&dest)
        .args(["--password-env", "PW"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not empty"));
    // extract-key prints the key that --key-hex accepts.
    let pw_file = dir.path().join("pw.txt");
    std::fs::write(&pw_file, format!("{PASSWORD}\n")).unwrap();
    let out = portcullis()
        .arg("extract-key")
        .arg(&enc)
        .arg("--password-file")
        .arg(&pw_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(key.len(), 64);
    let (code, report) = check_json_with(
        &enc,
        &stix,
        &dir.path().join("out-key"),
        &["--key-hex", &key],
    );
    assert_eq!(code, 1);
    assert_eq!(record_counts(&report)["sms"], 1);
}

fn check_json_with(backup: &Path, iocs: &Path, out: &Path, extra: &[&str]) -> (i32, Value) {
    let output = portcullis()
        .arg("check")
        .arg(backup)
        .arg("--json")
        .arg("--iocs")
        .arg(iocs)
        .arg("--output")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap(), report)
}

#[test]
fn wrong_password_is_clear_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, enc, stix) = build_pair(dir.path());
    let out = dir.path().join("out");
    portcullis()
        .env("PW", "not the password")
        .arg("check")
        .arg(&enc)
        .args(["--password-env", "PW", "--iocs"])
        .arg(&stix)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("wrong password"));
    assert!(
        !out.exists(),
        "nothing may be written after a wrong password"
    );
    // Without any password source and no terminal: a clear request for one.
    portcullis()
        .arg("check")
        .arg(&enc)
        .arg("--output")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--password-env"));
}

#[test]
fn damaged_encrypted_files_are_reported_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (_, enc, stix) = build_pair(dir.path());
    // Truncated ciphertext for sms.db, a flipped last byte (bad padding) for the preferences.
    let sms = enc.join("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28");
    let bytes = std::fs::read(&sms).unwrap();
    std::fs::write(&sms, &bytes[..bytes.len() - 5]).unwrap();
    let prefs = enc.join("0d/0dc926a1810f7aee4e8f38793ed788701f93bf9d");
    let mut bytes = std::fs::read(&prefs).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&prefs, bytes).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (code, report) = check_encrypted(&enc, &stix, &dir.path().join("out"), tmp.path());
    assert_eq!(code, 0);
    let modules = report["modules"].as_array().unwrap();
    let error = |slug: &str| {
        modules.iter().find(|m| m["name"] == slug).unwrap()["error"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(error("sms").contains("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28"));
    assert!(error("sms").contains("truncated"), "{}", error("sms"));
    assert!(error("global_preferences").contains("0d/0dc926a1810f7aee4e8f38793ed788701f93bf9d"));
    assert!(
        modules
            .iter()
            .any(|m| m["name"] == "manifest" && m["records"] == 3)
    );
}

#[test]
fn damaged_keybag_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, enc, _) = build_pair(dir.path());
    let mut manifest = plist::Value::from_file(enc.join("Manifest.plist")).unwrap();
    manifest.as_dictionary_mut().unwrap().insert(
        "BackupKeyBag".into(),
        plist::Value::Data(b"VERS\x00\x00\x00\x04".to_vec()),
    );
    manifest.to_file_binary(enc.join("Manifest.plist")).unwrap();
    portcullis()
        .env("PW", PASSWORD)
        .arg("check")
        .arg(&enc)
        .args(["--password-env", "PW", "--output"])
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("keybag is damaged"));
}

#[test]
fn encrypted_fixture_matches_the_plain_fixture() {
    let (Some(plain), Some(enc)) = (
        shared_fixture("mvt/ios_backup"),
        shared_fixture("encrypted/ios_backup_encrypted"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let stix = mvt_test_stix2(dir.path());
    let (code_p, plain_report) = check_json(&plain, &[&stix], &dir.path().join("p"));
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let output = portcullis()
        .env("PW", "portcullis-test")
        .env("TMPDIR", &tmp)
        .arg("check")
        .arg(&enc)
        .args(["--password-env", "PW", "--json", "--iocs"])
        .arg(&stix)
        .arg("--output")
        .arg(dir.path().join("e"))
        .output()
        .unwrap();
    let enc_report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((code_p, output.status.code().unwrap()), (1, 1));
    let mut expected = record_counts(&plain_report);
    // The encrypted fixture registers WhatsApp's LID.sqlite in Manifest.db (its README.txt).
    *expected.get_mut("manifest").unwrap() += 1;
    assert_eq!(record_counts(&enc_report), expected);
    assert_eq!(alert_summary(&plain_report), alert_summary(&enc_report));
    assert!(sqlite_files(&dir.path().join("e")).is_empty());
    assert!(sqlite_files(&tmp).is_empty());

    // decrypt writes files byte-identical to the plain fixture's.
    let dest = dir.path().join("dec");
    portcullis()
        .env("PW", "portcullis-test")
        .arg("decrypt")
        .arg(&enc)
        .arg(&dest)
        .args(["--password-env", "PW"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Decrypted 11 file(s)"));
    let mut compared = 0;
    for (path, digest) in tree_digest(&plain) {
        let rel = path.strip_prefix(&plain).unwrap();
        if rel.components().count() == 2 {
            assert_eq!(
                tree_digest(&dest)[&dest.join(rel)],
                digest,
                "{}",
                rel.display()
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 11);
}
