//! MVT parity on MVT's own iOS backup fixture (mvt-behaviour.md §7.1, §7.2). Runs only where
//! `../shared/fixtures` exists; says so when skipped.

mod common;

use common::*;
use serde_json::Value;

fn expected_counts() -> Vec<(&'static str, u64)> {
    vec![
        ("backup_info", 18),
        ("calendar", 1),
        ("datausage", 42),
        ("global_preferences", 16),
        ("interaction_c", 3),
        ("manifest", 3721),
        ("safari_browser_state", 1),
        ("sms", 1),
        ("tcc", 11),
        ("webkit_resource_load_statistics", 2),
        ("whatsapp", 6),
        ("whatsapp_contacts", 2),
    ]
}

fn messages(report: &Value) -> Vec<(String, String, String)> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["level"].as_str().unwrap().to_string(),
                a["module"].as_str().unwrap().to_string(),
                a["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn ios_backup_without_indicators_matches_mvt_counts() {
    let Some(backup) = shared_fixture("mvt/ios_backup") else {
        return;
    };
    let before = tree_digest(&backup);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, report) = check_json(&backup, &[], &out);
    assert_eq!(code, 0, "no HIGH alert without indicators");
    let counts = record_counts(&report);
    let expected: std::collections::BTreeMap<String, u64> = expected_counts()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(counts, expected);
    for m in report["modules"].as_array().unwrap() {
        assert!(m["error"].is_null(), "module failed: {m}");
    }
    let alerts = messages(&report);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(
        alerts.contains(&(
            "LOW".into(),
            "datausage".into(),
            "Missing process 5. Previous process at \"2019-08-27 15:08:09.253102\" \
         (1FB47783-A2FE-47D9-B256-DF50EF44BBA4/com.apple.Fitness)"
                .into()
        ))
    );
    assert!(alerts.contains(&(
        "INFORMATIONAL".into(),
        "global_preferences".into(),
        "Lockdown mode enabled".into()
    )));
    assert_eq!(csv_rows(&out.join("timeline.csv")), 5981);
    assert_eq!(csv_rows(&out.join("alerts_timeline.csv")), 1);
    let urls: Value =
        serde_json::from_slice(&std::fs::read(out.join("urls.json")).unwrap()).unwrap();
    assert_eq!(urls.as_array().unwrap().len(), 2);
    for slug in expected.keys() {
        assert!(out.join(format!("{slug}.json")).is_file(), "{slug}.json");
    }
    assert!(out.join("datausage_detected.json").is_file());
    assert!(!out.join("calls.json").exists());
    assert_eq!(before, tree_digest(&backup), "the evidence folder changed");
    let info: Value =
        serde_json::from_slice(&std::fs::read(out.join("info.json")).unwrap()).unwrap();
    let hashed: Vec<&str> = info["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["file_path"].as_str().unwrap())
        .collect();
    assert!(hashed.iter().any(|p| p.ends_with("Manifest.db")));
    assert!(
        hashed
            .iter()
            .any(|p| p.ends_with("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28"))
    );
}

#[test]
fn ios_backup_with_mvt_test_indicators_gives_the_three_critical_hits() {
    let Some(backup) = shared_fixture("mvt/ios_backup") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let stix = mvt_test_stix2(tmp.path());
    let out = tmp.path().join("out");
    let (code, report) = check_json(&backup, &[&stix], &out);
    assert_eq!(code, 1, "CRITICAL alerts give exit code 1");
    let alerts = messages(&report);
    assert_eq!(alerts.len(), 5, "{alerts:?}");
    for expected in [
        (
            "tcc",
            "Found a known suspicious process name \"Launch\" matching indicators from \"TestMalware\"",
        ),
        (
            "sms",
            "Found a sub-domain with a suspicious top level https://badbadbad.example.org/ matching indicator \"example.org\" from \"TestMalware\"",
        ),
        (
            "whatsapp",
            "Found a known suspicious domain https://example.org/news matching indicator \"example.org\" from \"TestMalware\"",
        ),
    ] {
        assert!(
            alerts.contains(&("CRITICAL".into(), expected.0.into(), expected.1.into())),
            "missing {expected:?} in {alerts:?}"
        );
    }
    let sms = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["module"] == "sms")
        .unwrap();
    assert_eq!(sms["indicator"]["value"], "example.org");
    assert_eq!(sms["indicator"]["collection"], "TestMalware");
    assert_eq!(sms["indicator"]["file"], "test.stix2");
    assert_eq!(sms["matched_value"], "https://badbadbad.example.org/");
    assert_eq!(csv_rows(&out.join("timeline.csv")), 5981);
    assert!(out.join("tcc_detected.json").is_file());
}

#[test]
fn ios_backup_with_cytrox_indicators_has_no_indicator_alert() {
    let (Some(backup), Some(cytrox)) = (
        shared_fixture("mvt/ios_backup"),
        shared_fixture("mvt/stix2/cytrox.stix2"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (code, report) = check_json(&backup, &[&cytrox], &tmp.path().join("out"));
    assert_eq!(code, 0);
    let alerts = report["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert!(alerts.iter().all(|a| a["indicator"].is_null()));
    assert_eq!(report["info"]["ioc_files"][0]["indicators"], 343);
}
