//! The CLI on self-made inputs: the demo, bad input, and evidence left untouched. These run on
//! every clone (no ../shared needed).

mod common;

use common::*;
use predicates::prelude::*;

#[test]
fn demo_prints_a_critical_alert_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args(["demo", "--dir"])
        .arg(tmp.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("CRITICAL (1)"))
        .stdout(predicate::str::contains("tracking-parcel-update.example"))
        .stdout(predicate::str::contains("DemoSpyware"));
    assert!(tmp.path().join("results/report.json").is_file());
    assert!(tmp.path().join("results/sms_detected.json").is_file());
}

#[test]
fn missing_path_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = portcullis()
        .arg("check")
        .arg(tmp.path().join("nope"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no such file or folder"), "{err}");
}

#[test]
fn folder_that_is_not_a_backup_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "hello").unwrap();
    let out = portcullis().arg("check").arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("is not an iOS backup"), "{err}");
    assert!(err.contains("Info.plist and Manifest.db"), "{err}");
}

#[test]
fn unreadable_indicator_file_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, _) = backup_with_sms(tmp.path());
    let bad = tmp.path().join("bad.stix2");
    std::fs::write(&bad, "{ not json").unwrap();
    portcullis()
        .arg("check")
        .arg(&backup)
        .arg("--iocs")
        .arg(&bad)
        .arg("--output")
        .arg(tmp.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.stix2"));
}

#[test]
fn self_made_backup_is_checked_and_left_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, stix) = backup_with_sms(tmp.path());
    let before = tree_digest(&backup);
    let (code, report) = check_json(&backup, &[&stix], &tmp.path().join("out"));
    assert_eq!(code, 1);
    assert_eq!(module_summary(&report, "sms")["records"], 1);
    assert_eq!(module_summary(&report, "global_preferences")["records"], 1);
    let hit = critical_alert(&report);
    assert_eq!(hit["indicator"]["value"], "evil.example.net");
    assert_eq!(hit["indicator"]["collection"], "Evil");
    assert_eq!(before, tree_digest(&backup), "the evidence folder changed");
    // No SQLite side files appeared next to the evidence.
    assert!(
        !tree_digest(&backup)
            .keys()
            .any(|p| p.to_string_lossy().ends_with("-wal") || p.to_string_lossy().ends_with("-shm"))
    );
}

#[test]
fn corrupt_database_is_reported_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, stix) = backup_with_sms(tmp.path());
    let sms = backup.join("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28");
    std::fs::write(
        &sms,
        b"this is not an sqlite database, it is a hostile blob",
    )
    .unwrap();
    let (code, report) = check_json(&backup, &[&stix], &tmp.path().join("out"));
    assert_eq!(code, 0, "the only indicator hit was in the broken database");
    let error = module_summary(&report, "sms")["error"].as_str().unwrap();
    assert!(
        error.contains("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28"),
        "{error}"
    );
    assert_eq!(module_summary(&report, "global_preferences")["records"], 1);
}

#[test]
fn truncated_plist_is_reported_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, stix) = backup_with_sms(tmp.path());
    let prefs = backup.join("0d/0dc926a1810f7aee4e8f38793ed788701f93bf9d");
    let bytes = std::fs::read(&prefs).unwrap();
    std::fs::write(&prefs, &bytes[..bytes.len() / 2]).unwrap();
    let (code, report) = check_json(&backup, &[&stix], &tmp.path().join("out"));
    assert_eq!(code, 1, "the SMS indicator hit is still found");
    let error = module_summary(&report, "global_preferences")["error"]
        .as_str()
        .unwrap();
    assert!(
        error.contains("0d/0dc926a1810f7aee4e8f38793ed788701f93bf9d"),
        "{error}"
    );
    assert!(error.contains("property list"), "{error}");
}

#[test]
fn corrupt_manifest_still_runs_modules_found_by_backup_id() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, stix) = backup_with_sms(tmp.path());
    std::fs::write(backup.join("Manifest.db"), vec![0x42u8; 4096]).unwrap();
    let (code, report) = check_json(&backup, &[&stix], &tmp.path().join("out"));
    assert_eq!(code, 1);
    let error = module_summary(&report, "manifest")["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("Manifest.db"), "{error}");
    assert_eq!(module_summary(&report, "sms")["records"], 1);
}

/// The SMS backup's indicator, written as an expired STIX indicator with an id.
fn expired_stix(dir: &std::path::Path) -> std::path::PathBuf {
    let json = r#"{"type":"bundle","id":"bundle--1","objects":[
        {"type":"malware","id":"malware--1","name":"Evil","is_family":true},
        {"type":"indicator","id":"indicator--0b1d","pattern":"[domain-name:value = 'evil.example.net']",
         "pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z","valid_until":"2021-01-01T00:00:00Z",
         "object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]},
        {"type":"relationship","id":"relationship--1","relationship_type":"indicates",
         "source_ref":"indicator--0b1d","target_ref":"malware--1"},
        {"type":"indicator","id":"indicator--0c2e","pattern":"[domain-name:value = 'other.example']",
         "pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}]}"#;
    let path = dir.join("expired.stix2");
    std::fs::write(&path, json).unwrap();
    path
}

#[test]
fn alerts_name_the_indicator_and_expired_ones_are_left_out_unless_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let (backup, _) = backup_with_sms(tmp.path());
    let stix = expired_stix(tmp.path());
    let (code, report) = check_json(&backup, &[&stix], &tmp.path().join("a"));
    assert_eq!(code, 0, "the matching indicator expired in 2021");
    let file = &report["info"]["ioc_files"][0];
    assert_eq!(
        (
            file["left_out_expired"].as_u64(),
            file["left_out_revoked"].as_u64()
        ),
        (Some(1), Some(0))
    );

    let out = portcullis()
        .arg("check")
        .arg(&backup)
        .arg("--iocs")
        .arg(&stix)
        .arg("--include-expired")
        .arg("--json")
        .arg("--output")
        .arg(tmp.path().join("b"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hit = critical_alert(&report);
    assert_eq!(hit["indicator"]["id"], "indicator--0b1d");
    assert_eq!(hit["indicator"]["valid_until"], "2021-01-01T00:00:00Z");
    assert_eq!(hit["indicator"]["tlp"], "TLP:GREEN");
    let html = std::fs::read_to_string(tmp.path().join("b/report.html")).unwrap();
    assert!(html.contains("indicator--0b1d") && html.contains("shared as TLP:GREEN"));
}

#[test]
fn guides_print_the_members_steps() {
    portcullis()
        .arg("guide")
        .assert()
        .success()
        .stdout(predicate::str::contains("portcullis guide sysdiagnose"))
        .stdout(predicate::str::contains("portcullis guide bugreport"));
    portcullis()
        .args(["guide", "bugreport"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "3. Tap Take bug report, choose Full report",
        ));
    portcullis()
        .args(["guide", "jailbreak"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the guides are sysdiagnose, bugreport",
        ));
}

#[test]
fn completions_and_the_manual_come_from_the_commands() {
    portcullis()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_portcullis()"))
        .stdout(predicate::str::contains("completions"));
    portcullis()
        .args(["completions", "fish"])
        .assert()
        .success()
        .stdout(predicate::str::contains("complete -c portcullis"));
    portcullis()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH portcullis 1"))
        .stdout(predicate::str::contains(
            "Check phones for signs of targeted spyware",
        ));
}

#[test]
fn the_version_names_the_data_compiled_in() {
    portcullis()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "bundled data: OS currency of 2026-",
        ))
        .stdout(predicate::str::contains(
            "indicator collection iran-state-linked of 2026-01-28",
        ));
}
