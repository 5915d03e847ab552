//! MVT parity on MVT's Android fixtures through the CLI (mvt-behaviour.md §7.5-§7.8). The MVT
//! fixtures run only where `../shared/fixtures` exists (and say so when skipped); the intrusion
//! log fixture of Appendix A is built here and always runs.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn levels(report: &Value) -> Vec<(String, String)> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["level"].as_str().unwrap().to_string(),
                a["module"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn count(report: &Value, level: &str, module: &str) -> usize {
    levels(report)
        .iter()
        .filter(|(l, m)| l == level && m == module)
        .count()
}

fn counts(pairs: &[(&str, u64)]) -> std::collections::BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn bugreport_folder() {
    let Some(bugreport) = shared_fixture("mvt/android_data/bugreport") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let stix = mvt_test_stix2(tmp.path());
    for iocs in [vec![], vec![stix.as_path()]] {
        let out = tmp.path().join(format!("out{}", iocs.len()));
        let (code, report) = check_json(&bugreport, &iocs, &out);
        assert_eq!(code, 0);
        assert_eq!(report["info"]["input_kind"], "android_bugreport");
        assert_eq!(
            record_counts(&report),
            counts(&[
                ("bugreport_timestamps", 2),
                ("dumpsys_appops", 12),
                ("dumpsys_packages", 2),
                ("dumpsys_platform_compat", 2),
                ("tombstones", 2),
            ])
        );
        // MVT's MEDIUM for Firefox, plus the two tombstone crashes MVT only reports with
        // indicators loaded (Portcullis runs that heuristic always).
        assert_eq!(count(&report, "MEDIUM", "dumpsys_appops"), 1);
        assert_eq!(count(&report, "MEDIUM", "tombstones"), 2);
        assert_eq!(levels(&report).len(), 3);
        assert_eq!(csv_rows(&out.join("timeline.csv")), 26);
        let header = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
        assert!(header.starts_with("\"Device Local Timestamp\""));
    }
    // The same bugreport as a zip, read in place, gives the same findings.
    let zip_path = tmp.path().join("bugreport.zip");
    std::fs::write(&zip_path, zip_folder(&bugreport)).unwrap();
    let (_, from_folder) = check_json(&bugreport, &[], &tmp.path().join("f"));
    let (code, from_zip) = check_json(&zip_path, &[], &tmp.path().join("z"));
    assert_eq!(code, 0);
    assert_eq!(record_counts(&from_zip), record_counts(&from_folder));
    assert_eq!(levels(&from_zip), levels(&from_folder));
}

/// The files of `folder` as a zip, entry names relative to it (as `adb bugreport` writes them).
fn zip_folder(folder: &Path) -> Vec<u8> {
    use std::io::Write;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for path in tree_digest(folder).into_keys().filter(|p| p.is_file()) {
        let name = path
            .strip_prefix(folder)
            .unwrap()
            .to_string_lossy()
            .to_string();
        writer.start_file(name, options).unwrap();
        writer.write_all(&std::fs::read(&path).unwrap()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn androidqf_folder_and_zip() {
    let (Some(folder), Some(zip)) = (
        shared_fixture("mvt/androidqf"),
        shared_fixture("mvt/androidqf.zip"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("folder");
    let (code, report) = check_json(&folder, &[], &out);
    assert_eq!(code, 1, "root binaries are HIGH");
    assert_eq!(report["info"]["input_kind"], "androidqf");
    let records = record_counts(&report);
    for (slug, n) in [
        ("aqf_packages", 7),
        ("aqf_processes", 15),
        ("aqf_get_prop", 10),
        ("aqf_settings", 1),
        ("aqf_files", 3),
        ("root_binaries", 4),
        ("sms", 2),
    ] {
        assert_eq!(records.get(slug), Some(&n), "{slug} in {records:?}");
    }
    assert_eq!(count(&report, "MEDIUM", "aqf_packages"), 4);
    assert_eq!(count(&report, "INFORMATIONAL", "aqf_packages"), 1);
    assert_eq!(count(&report, "MEDIUM", "aqf_settings"), 1);
    assert_eq!(count(&report, "HIGH", "root_binaries"), 4);
    assert_eq!(csv_rows(&out.join("timeline.csv")), 10);
    let urls: Value =
        serde_json::from_slice(&std::fs::read(out.join("urls.json")).unwrap()).unwrap();
    assert_eq!(urls.as_array().unwrap().len(), 2);

    let (code, report) = check_json(&zip, &[], &tmp.path().join("zip"));
    assert_eq!(code, 0);
    assert_eq!(record_counts(&report), counts(&[("aqf_get_prop", 10)]));
}

fn check_with_password(target: &Path, password: &str, out: &Path) -> (i32, Value) {
    let output = portcullis()
        .env("AB_PASSWORD", password)
        .arg("check")
        .arg(target)
        .args(["--password-env", "AB_PASSWORD", "--json", "--output"])
        .arg(out)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap(), report)
}

#[test]
fn adb_backups() {
    let Some(dir) = shared_fixture("mvt/android_backup") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (code, report) = check_json(&dir.join("backup.ab"), &[], &tmp.path().join("a"));
    assert_eq!((code, record_counts(&report)), (0, counts(&[("sms", 2)])));
    let (code, report) = check_json(&dir.join("backup3.ab"), &[], &tmp.path().join("b"));
    assert_eq!((code, record_counts(&report)), (0, counts(&[("sms", 1)])));
    let (code, report) =
        check_with_password(&dir.join("backup2.ab"), "123456", &tmp.path().join("c"));
    assert_eq!((code, record_counts(&report)), (0, counts(&[("sms", 1)])));
    let (code, report) = check_json(&dir, &[], &tmp.path().join("d"));
    assert_eq!((code, record_counts(&report)), (0, counts(&[("sms", 2)])));
    assert_eq!(report["info"]["input_kind"], "android_backup");

    // A wrong password for a standalone backup: a clear message, exit 2, nothing written.
    let out = portcullis()
        .env("AB_PASSWORD", "654321")
        .arg("check")
        .arg(dir.join("backup2.ab"))
        .args(["--password-env", "AB_PASSWORD", "--output"])
        .arg(tmp.path().join("e"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid backup password"));
    assert!(!tmp.path().join("e").exists());
}

#[test]
fn encrypted_androidqf_backup_wrong_password_keeps_the_rest() {
    let Some(dir) = shared_fixture("mvt/androidqf_encrypted") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (code, report) = check_with_password(&dir, "123456", &tmp.path().join("ok"));
    assert_eq!(code, 0);
    assert_eq!(record_counts(&report).get("sms"), Some(&1));
    let (code, report) = check_with_password(&dir, "wrong", &tmp.path().join("bad"));
    // The check runs to its end, but the backup is all this acquisition holds: incomplete.
    assert_eq!(code, 3, "a wrong backup password does not end the check");
    assert_eq!(report["coverage"]["status"], "incomplete");
    let sms = report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "sms")
        .unwrap();
    assert!(
        sms["error"]
            .as_str()
            .unwrap()
            .contains("Invalid backup password")
    );
}

const DAY1: &str = r#"{"dns_event": {"event_time": 1700000000000, "hostname": "www.example.org", "package_name": "com.example.app", "ip_addresses": ["/198.51.100.1", "/0.0.0.0"]}}
{"dns_event": {"event_time": 1700000000500, "hostname": "github.com", "package_name": "com.example.app", "ip_addresses": ["/140.82.121.4"]}}
{"connect_event": {"event_time": 1700000001000, "ip_address": "/198.51.100.1", "port": 443, "package_name": "com.example.app"}}
{"connect_event": {"event_time": 1700000001500, "ip_address": "ip6-localhost/::1", "port": 80, "package_name": "com.example.app"}}
{"security_event": {"event_time": 1700000002000000000, "app_process_start": {"process": "com.example.app", "uid": 10000, "pid": 1234}}}
{"security_event": {"event_time": 1700000003000000000, "cert_authority_installed": {"success": true, "subject": "CN=Evil Root CA", "user_id": 0}}}
{"security_event": {"event_time": 1700000004000000000, "crypto_self_test_completed": {"success": false}}}
{"security_event": {"event_time": 1700000005000000000, "adb_sync_send_file": {"path": "/var/foobar/txt"}}}
{"security_event": {"event_time": 1700000006000000000, "future_google_event": {"field": "value"}}}
not json
"#;

const DAY2: &str = r#"{"dns_event": {"event_time": 1700000000000, "hostname": "www.example.org", "package_name": "com.example.app", "ip_addresses": ["/198.51.100.1", "/0.0.0.0"]}}
{"security_event": {"event_time": 1700000007000000000, "key_integrity_violation": {"key_id": "k1", "uid": 1000}}}
{"future_event": {"event_time": 1700000008000, "x": 1}}
"#;

#[test]
fn intrusion_logs_of_appendix_a() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("intrusion");
    std::fs::create_dir_all(logs.join("sub")).unwrap();
    std::fs::write(logs.join("day1.txt"), DAY1).unwrap();
    std::fs::write(logs.join("sub/day2.txt"), DAY2).unwrap();
    let out = tmp.path().join("plain");
    let (code, report) = check_json(&logs, &[], &out);
    assert_eq!(code, 0);
    assert_eq!(report["info"]["input_kind"], "android_intrusion_logs");
    assert_eq!(
        record_counts(&report),
        counts(&[
            ("connect_event", 2),
            ("dns_event", 2),
            ("security_event", 6)
        ])
    );
    assert_eq!(count(&report, "MEDIUM", "security_event"), 3);
    assert_eq!(levels(&report).len(), 3);
    assert_eq!(csv_rows(&out.join("timeline.csv")), 10);
    let timeline = std::fs::read_to_string(out.join("timeline.csv")).unwrap();
    assert!(timeline.contains("2023-11-14 22:13:20.000000"));

    let stix = mvt_test_stix2(tmp.path());
    let out = tmp.path().join("iocs");
    let (code, report) = check_json(&logs, &[&stix], &out);
    assert_eq!(code, 1);
    assert_eq!(count(&report, "CRITICAL", "dns_event"), 2);
    assert_eq!(count(&report, "CRITICAL", "connect_event"), 1);
    let dns = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["module"] == "dns_event" && a["indicator"]["value"] == "example.org")
        .unwrap();
    assert_eq!(
        dns["message"],
        "Found a known suspicious domain www.example.org matching indicator \"example.org\" from \"TestMalware\""
    );
    assert_eq!(csv_rows(&out.join("alerts_timeline.csv")), 6);
}
