//! `recheck` on self-made results folders in both formats (Portcullis' and MVT's), and on a
//! real check of MVT's test backup when ../shared is present.

use std::path::{Path, PathBuf};

use portcullis_engine::recheck::{RecheckError, recheck};
use portcullis_engine::{CheckOptions, Input, LoadedIndicators, Secrets};
use portcullis_posture::Snapshot;
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, value: &Value) {
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

/// A bundle of `(id number, pattern, created, revoked)` indicators of malware "Kitten".
fn bundle(dir: &Path, indicators: &[(u32, &str, &str, bool)]) -> PathBuf {
    let malware = "malware--00000000-0000-4000-8000-000000000000";
    let mut objects = vec![
        json!({"type": "malware", "spec_version": "2.1", "id": malware,
        "name": "Kitten", "is_family": true,
        "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z"}),
    ];
    for (n, pattern, created, revoked) in indicators {
        let id = format!("indicator--00000000-0000-4000-8000-{n:012}");
        let modified = if *revoked {
            "2026-11-01T00:00:00Z"
        } else {
            created
        };
        objects.push(json!({"type": "indicator", "spec_version": "2.1", "id": id,
            "pattern": pattern, "pattern_type": "stix", "valid_from": created,
            "created": created, "modified": modified, "revoked": revoked}));
        objects.push(json!({"type": "relationship", "spec_version": "2.1",
            "id": format!("relationship--00000000-0000-4000-8000-{n:012}"),
            "relationship_type": "indicates", "source_ref": id, "target_ref": malware,
            "created": created, "modified": created}));
    }
    let path = dir.join("kitten.stix2");
    write(
        dir,
        "kitten.stix2",
        &json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000",
                "objects": objects}),
    );
    path
}

fn load(path: &Path, include_expired: bool) -> LoadedIndicators {
    portcullis_engine::indicators::load(&[path.to_path_buf()], include_expired).unwrap()
}

/// A Portcullis results folder of an iOS check made on 2026-06-15 that raised one alert on
/// `old.example.com` (indicator 1).
fn portcullis_results(dir: &Path) -> PathBuf {
    let results = dir.join("results");
    std::fs::create_dir(&results).unwrap();
    let sms = json!({"isodate": "2026-06-01 09:00:00.000000", "text": "hello",
                     "links": ["https://login.old.example.com/a", "https://mail.evil.example.net/x"]});
    let tcc = json!({"client": "com.apple.Safari", "service": "kTCCServiceCamera",
                     "last_modified": "2026-05-01 10:00:00.000000"});
    write(&results, "sms.json", &json!([sms]));
    write(
        &results,
        "tcc.json",
        &json!([tcc, {"client": "FakeUpdater",
        "service": "kTCCServiceMicrophone", "last_modified": "2026-05-02 10:00:00.000000"}]),
    );
    write(&results, "interaction_c.json", &json!([{"account": "x"}]));
    write(
        &results,
        "report.json",
        &json!({"schema_version": 1,
            "info": {"tool": "portcullis", "started": "2026-06-15 08:00:00.000000",
                     "ioc_files": [{"path": "/old/kitten.stix2"}]},
            "device": {"platform": "ios", "model": "iPhone14,2"},
            "alerts": [{"level": "CRITICAL", "module": "sms", "message": "old hit",
                "matched_field": "links", "matched_value": "https://login.old.example.com/a",
                "indicator": {"value": "old.example.com", "type": "domains",
                              "id": "indicator--00000000-0000-4000-8000-000000000001"},
                "event": sms}]}),
    );
    results
}

#[test]
fn a_portcullis_results_folder_gets_the_alerts_of_indicators_published_since() {
    let tmp = tempfile::tempdir().unwrap();
    let results = portcullis_results(tmp.path());
    let before = std::fs::read(results.join("sms.json")).unwrap();
    let iocs = bundle(
        tmp.path(),
        &[
            (
                1,
                "[domain-name:value = 'old.example.com']",
                "2026-01-01T00:00:00Z",
                false,
            ),
            (
                2,
                "[domain-name:value = 'evil.example.net']",
                "2026-09-01T00:00:00Z",
                false,
            ),
            (
                3,
                "[process:name = 'FakeUpdater']",
                "2026-10-01T00:00:00Z",
                false,
            ),
        ],
    );
    let out = results.join("recheck-1");
    let done = recheck(&results, &load(&iocs, false), &out).unwrap();
    let report = &done.report;
    let r = report.recheck.as_ref().unwrap();
    assert_eq!(r.written_by, "portcullis");
    assert_eq!(r.checked_at.as_deref(), Some("2026-06-15 08:00:00.000000"));
    assert_eq!(r.earlier_indicator_files, ["/old/kitten.stix2"]);
    assert_eq!(r.earlier_alerts, 1);
    // The SMS's first link matched the earlier indicator (already reported); the TCC client
    // matches a new one. One alert per record: the SMS record's alert is the earlier one.
    assert_eq!(r.new_alerts, 1);
    assert_eq!(report.alerts.len(), 2);
    let new = &report.alerts[0];
    assert_eq!(new.module, "tcc");
    assert_eq!(new.matched_field.as_deref(), Some("client"));
    assert_eq!(new.matched_value.as_deref(), Some("FakeUpdater"));
    assert_eq!(new.timestamp.as_deref(), Some("2026-05-02 10:00:00.000000"));
    assert_eq!(new.source.as_deref(), Some("tcc.json, record 2"));
    let hit = new.indicator.as_ref().unwrap();
    assert_eq!(
        hit.stix.id,
        "indicator--00000000-0000-4000-8000-000000000003"
    );
    assert_eq!(hit.collection, "Kitten");
    let old = &report.alerts[1];
    assert_eq!(old.module, "sms");
    assert_eq!(old.indicator.as_ref().unwrap().value, "old.example.com");
    // Two of the three indicators were created after the earlier check; one of them matched.
    assert_eq!(r.indicators_added, 2);
    assert_eq!(r.indicators_withdrawn, 0);
    assert_eq!(r.added_and_matched.len(), 1);
    assert_eq!(
        r.added_and_matched[0].pattern,
        "[process:name = 'FakeUpdater']"
    );
    assert!(r.withdrawn_alerts.is_empty());
    assert_eq!(report.device.model.as_deref(), Some("iPhone14,2"));
    let slugs: Vec<(&str, usize, bool)> = report
        .modules
        .iter()
        .map(|m| (m.slug.as_str(), m.records, m.skipped.is_some()))
        .collect();
    assert_eq!(
        slugs,
        [
            ("interaction_c", 0, true),
            ("sms", 1, false),
            ("tcc", 2, false)
        ]
    );
    // Every results file read is hashed; the earlier results are untouched.
    let hashed: Vec<&str> = report
        .info
        .hashes
        .iter()
        .map(|h| h.file_path.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(hashed, ["report.json", "sms.json", "tcc.json"]);
    assert_eq!(std::fs::read(results.join("sms.json")).unwrap(), before);
    // The folder holds the report, the alerts and the page, which marks the new alert.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("NEW since the earlier check").count(), 1);
    assert!(html.contains("Re-check of an earlier check"));
    let written: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(written["recheck"]["new_alerts"], 1);
    assert_eq!(written["info"]["input_kind"], "results");
    let alerts: Value =
        serde_json::from_slice(&std::fs::read(out.join("alerts.json")).unwrap()).unwrap();
    assert_eq!(alerts.as_array().unwrap().len(), 2);
    // A second re-check into the same folder is refused.
    assert!(matches!(
        recheck(&results, &load(&iocs, false), &out),
        Err(RecheckError::OutputExists(_))
    ));
}

#[test]
fn an_earlier_alert_whose_indicator_was_revoked_is_reported_as_withdrawn() {
    let tmp = tempfile::tempdir().unwrap();
    let results = portcullis_results(tmp.path());
    let iocs = bundle(
        tmp.path(),
        &[
            (
                1,
                "[domain-name:value = 'old.example.com']",
                "2026-01-01T00:00:00Z",
                true,
            ),
            (
                4,
                "[domain-name:value = 'unrelated.example']",
                "2026-01-01T00:00:00Z",
                false,
            ),
        ],
    );
    let done = recheck(&results, &load(&iocs, false), &tmp.path().join("out")).unwrap();
    let r = done.report.recheck.as_ref().unwrap();
    assert!(done.report.alerts.is_empty());
    assert_eq!(r.indicators_withdrawn, 1);
    assert_eq!(r.withdrawn_alerts.len(), 1);
    assert_eq!(r.withdrawn_alerts[0].indicator, "old.example.com");
    assert_eq!(r.withdrawn_alerts[0].why, "revoked by its author");
    // With --include-expired the revoked indicator matches again: already reported.
    let done = recheck(&results, &load(&iocs, true), &tmp.path().join("out2")).unwrap();
    let r = done.report.recheck.as_ref().unwrap();
    assert_eq!((done.report.alerts.len(), r.new_alerts), (1, 0));
    assert!(r.withdrawn_alerts.is_empty());
}

#[test]
fn mvt_results_are_rechecked_with_its_field_names() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("mvt-out");
    std::fs::create_dir(&results).unwrap();
    write(
        &results,
        "info.json",
        &json!({"target_path": "/cases/phone", "mvt_version": "2.6.1",
                "date": "2025-03-01 10:00:00.000000", "ioc_files": [], "hashes": []}),
    );
    write(
        &results,
        "dumpsys_packages.json",
        &json!([{"package_name": "com.android.chrome", "uid": 10100},
                {"package_name": "com.ratmilad.update", "uid": 10190,
                 "timestamp": "2025-02-01 08:00:00"}]),
    );
    write(
        &results,
        "aqf_packages.json",
        &json!([{"name": "org.example.notes",
                 "files": [{"path": "/data/app/base.apk", "sha256": "ab".repeat(32)}]}]),
    );
    write(
        &results,
        "dumpsys_receivers.json",
        &json!({"android.provider.Telephony.SMS_RECEIVED":
                [{"package_name": "com.ratmilad.update", "receiver": "r"}]}),
    );
    write(
        &results,
        "alerts.json",
        &json!([{"level": "INFO", "module": "dumpsys_packages", "message": "heuristic",
                 "event_time": "", "event": {}, "matched_indicator": null}]),
    );
    let iocs = bundle(
        tmp.path(),
        &[
            (
                1,
                "[app:id = 'com.ratmilad.update']",
                "2025-06-01T00:00:00Z",
                false,
            ),
            (
                2,
                &format!("[file:hashes.'SHA-256' = '{}']", "ab".repeat(32)),
                "2025-06-01T00:00:00Z",
                false,
            ),
        ],
    );
    let done = recheck(&results, &load(&iocs, false), &tmp.path().join("out")).unwrap();
    let r = done.report.recheck.as_ref().unwrap();
    assert_eq!(r.written_by, "mvt");
    assert_eq!(r.checked_at.as_deref(), Some("2025-03-01 10:00:00.000000"));
    assert_eq!((r.earlier_alerts, r.new_alerts), (1, 3));
    let found: Vec<(&str, &str, &str)> = done
        .report
        .alerts
        .iter()
        .map(|a| {
            (
                a.module.as_str(),
                a.matched_field.as_deref().unwrap(),
                a.source.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "aqf_packages",
                "files.sha256",
                "aqf_packages.json, record 1"
            ),
            (
                "dumpsys_packages",
                "package_name",
                "dumpsys_packages.json, record 2"
            ),
            (
                "dumpsys_receivers",
                "package_name",
                "dumpsys_receivers.json, record 1"
            ),
        ]
    );
    assert_eq!(
        done.report.alerts[1].timestamp.as_deref(),
        Some("2025-02-01 08:00:00")
    );
    assert_eq!(r.indicators_added, 2);
}

#[test]
fn damaged_and_foreign_folders_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let results = portcullis_results(tmp.path());
    std::fs::write(results.join("tcc.json"), b"[{\"client\": \"FakeUpd").unwrap();
    let iocs = bundle(
        tmp.path(),
        &[(
            3,
            "[process:name = 'FakeUpdater']",
            "2026-10-01T00:00:00Z",
            false,
        )],
    );
    let done = recheck(&results, &load(&iocs, false), &tmp.path().join("out")).unwrap();
    let tcc = done
        .report
        .modules
        .iter()
        .find(|m| m.slug == "tcc")
        .unwrap();
    assert!(
        tcc.error.as_deref().unwrap().contains("tcc.json: damaged"),
        "{tcc:?}"
    );
    assert!(done.report.warnings.iter().any(|w| w.contains("tcc.json")));

    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), "x").unwrap();
    let Err(err) = recheck(&empty, &load(&iocs, false), &tmp.path().join("out3")) else {
        panic!("a folder of notes is not results");
    };
    assert!(err.to_string().contains("not a results folder"), "{err}");

    #[cfg(unix)]
    {
        // A results file linked to somewhere else is refused, not followed.
        let linked = tmp.path().join("linked");
        std::fs::create_dir(&linked).unwrap();
        std::fs::copy(results.join("report.json"), linked.join("report.json")).unwrap();
        std::os::unix::fs::symlink(results.join("sms.json"), linked.join("sms.json")).unwrap();
        let done = recheck(&linked, &load(&iocs, false), &tmp.path().join("out4")).unwrap();
        assert!(done.report.modules.iter().all(|m| m.slug != "sms"));
        assert!(
            done.report.warnings.iter().any(|w| w.contains("sms.json")),
            "{:?}",
            done.report.warnings
        );
    }
}

/// MVT's check-iocs on its own backup's results finds the three indicator hits of test.stix2
/// (mvt-behaviour.md §7.4, less the heuristic INFO it re-raises).
#[test]
fn a_check_of_mvts_backup_without_indicators_rechecks_to_its_three_hits() {
    let Some(backup) = portcullis_testkit::shared_fixture("mvt/ios_backup") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    let snapshot = Snapshot::bundled();
    let input = Input::detect(&backup).unwrap();
    portcullis_engine::check(
        &backup,
        &input,
        &LoadedIndicators::default(),
        &Secrets::default(),
        &CheckOptions::new(&results, &snapshot),
    )
    .unwrap();
    let iocs = tmp.path().join("test.stix2");
    std::fs::write(
        &iocs,
        portcullis_indicators::test_bundle_json(
            "TestMalware",
            portcullis_testkit::MVT_TEST_PATTERNS,
        ),
    )
    .unwrap();
    let done = recheck(&results, &load(&iocs, false), &tmp.path().join("out")).unwrap();
    let r = done.report.recheck.as_ref().unwrap();
    assert_eq!((r.earlier_alerts, r.new_alerts), (2, 3));
    let found: Vec<(&str, &str)> = done
        .report
        .alerts
        .iter()
        .map(|a| (a.module.as_str(), a.matched_value.as_deref().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("sms", "https://badbadbad.example.org/"),
            ("tcc", "Launch"),
            ("whatsapp", "https://example.org/news"),
        ]
    );
    let manifest = done
        .report
        .modules
        .iter()
        .find(|m| m.slug == "manifest")
        .unwrap();
    assert_eq!(manifest.records, 3721);
}
