//! `report.html` in a real browser: headless Chromium renders a sample report (device facts
//! through the posture rules into a Report), its DOM holds the verdict, alerts and advice, and
//! phone-sized screenshots are kept under `target/report-screenshots/` for a human to look at.
//! Skipped when `/usr/bin/chromium` is not installed (CI installs Debian's `chromium`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_core::{Alert, Level};
use portcullis_indicators::{IndicatorMatch, IocType, MatchRule};
use portcullis_posture::{DeviceFacts, Platform, Snapshot, evaluate, known};
use portcullis_report::{
    Coverage, IndicatorFileInfo, MainArtifact, ModuleSummary, Report, RunInfo, html,
};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs Chromium headless with `args` and a private profile; returns stdout. Killed after 90 s.
fn chromium(profile: &Path, args: &[String]) -> String {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sample_facts() -> DeviceFacts {
    let mut f = DeviceFacts::new(Platform::Ios);
    f.device_name = known("Jo's iPhone <b>".to_string(), "Info.plist");
    f.model = known("iPhone11,2".to_string(), "Info.plist");
    f.os_version = known("18.6".to_string(), "Info.plist");
    f.os_build = known("22G86".to_string(), "Info.plist");
    f.acquired = known("2026-08-30 18:02:11.000000".to_string(), "Info.plist");
    f.passcode_set = known(true, "Manifest.plist");
    f.backup_encrypted = known(false, "Manifest.plist");
    f.lockdown_mode = known(
        false,
        "HomeDomain/Library/Preferences/.GlobalPreferences.plist",
    );
    f.apps = known(
        vec![portcullis_posture::App {
            id: "com.example.helper".into(),
            name: Some("Helper".into()),
            installer: Some("com.example.sideloader".into()),
            store_identity: Some(true),
            ..Default::default()
        }],
        "Info.plist",
    );
    f.profiles = known(vec![], "Manifest.db");
    f.mdm_enrolled = known(false, "Manifest.db");
    f
}

fn sample_report(incident: bool) -> Report {
    let facts = sample_facts();
    let snapshot = Snapshot::bundled();
    let posture = evaluate(&facts, &snapshot, jiff::civil::date(2026, 9, 1));
    let mut device = facts.to_summary();
    if let Some(name) = snapshot.ios_model_name("iPhone11,2") {
        device.model_name = Some(name);
    }
    let mut alerts = vec![
        Alert::heuristic(
            Level::Medium,
            "applications",
            "Suspicious app not installed from the App Store or MDM: com.example.helper",
            "2026-07-02 09:15:00.000000",
            json!({"softwareVersionBundleId": "com.example.helper"}),
        )
        .with_source("Info.plist"),
    ];
    if incident {
        let hit = IndicatorMatch {
            input: "https://track.bad-cdn.example/<script>alert(1)</script>".into(),
            value: "bad-cdn.example".into(),
            ioc_type: IocType::Domains,
            collection: "Pegasus".into(),
            file: "pegasus.stix2".into(),
            rule: MatchRule::SubDomain,
            stix: Default::default(),
        };
        alerts.insert(
            0,
            Alert::indicator(
                Level::Critical,
                "sms",
                hit,
                "links",
                "2026-08-12 21:40:03.000000",
                json!({"text": "Your parcel: https://track.bad-cdn.example/<script>alert(1)</script>"}),
            )
            .with_source("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28"),
        );
    }
    Report {
        schema_version: 1,
        info: RunInfo {
            tool: "portcullis".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            target_path: "/evidence/00008030-001A2B3C4D5E6F".into(),
            input_kind: portcullis_report::InputKind::IosBackup,
            started: "2026-09-01 10:00:00.000000".into(),
            finished: "2026-09-01 10:00:07.000000".into(),
            ioc_files: vec![IndicatorFileInfo {
                path: "/iocs/pegasus.stix2".into(),
                sha256: "9f".repeat(32),
                indicators: 1450,
                collections: vec!["Pegasus".into()],
                unsupported_patterns: 0,
                unsupported: Vec::new(),
                left_out_revoked: 0,
                left_out_expired: 0,
                date: Some("2021-07-18".into()),
            }],
            indicators_note: None,
            hashes: vec![],
        },
        device,
        modules: vec![],
        alerts,
        posture,
        os_data: Some(snapshot.info()),
        warnings: Vec::new(),
        coverage: Default::default(),
        network: None,
        recheck: None,
    }
}

/// A bugreport check whose dumpstate was refused (a zip bomb) and two modules failed: the
/// report must say so before anything else, and never with the green verdict.
fn incomplete_report() -> Report {
    let mut report = sample_report(false);
    report.alerts.clear();
    report.info.input_kind = portcullis_report::InputKind::AndroidBugreport;
    let module = |slug: &str, error: Option<&str>| ModuleSummary {
        slug: slug.into(),
        records: 0,
        alerts: 0,
        error: error.map(str::to_string),
        skipped: None,
    };
    report.modules = vec![
        module(
            "dumpsys_packages",
            Some(
                "dumpstate.txt: declares 5368709120 bytes, more than the 1073741824-byte entry limit (in bugreport.zip)",
            ),
        ),
        module(
            "tombstones",
            Some("FS/data/tombstones/tombstone_00.pb: not a protobuf tombstone"),
        ),
        module("bugreport_timestamps", None),
    ];
    report.warnings = vec![
        "dumpstate.txt: declares 5368709120 bytes, more than the 1073741824-byte entry limit"
            .into(),
        "FS/data/link: symbolic link, not followed".into(),
    ];
    report.coverage = Coverage::assess(
        &report.modules,
        report.warnings.len(),
        Some(MainArtifact {
            name: "dumpstate".into(),
            path: Some("dumpstate.txt".into()),
            problem: Some(report.warnings[0].clone()),
        }),
    );
    report
}

#[test]
fn report_renders_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        println!("skipped: chromium not installed");
        return;
    }
    let shots = screenshots_dir();
    for (name, report) in [
        ("incident", sample_report(true)),
        ("hardening", sample_report(false)),
        ("incomplete", incomplete_report()),
    ] {
        let incident = name == "incident";
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("report.html");
        let rendered = html::render(&report);
        std::fs::write(&page, &rendered).unwrap();
        std::fs::write(shots.join(format!("report-{name}.html")), &rendered).unwrap();
        let url = format!("file://{}", page.display());
        let profile = dir.path().join("profile");

        let dom = chromium(&profile, &["--dump-dom".into(), url.clone()]);
        assert!(dom.contains("id=\"verdict\""), "{name}: no verdict in DOM");
        if name == "incomplete" {
            // Not green, the reason first, every failed module and refused entry named.
            assert!(dom.contains("class=\"v-incomplete\""), "{name}: verdict");
            assert!(!dom.contains("class=\"v-clear\"") && !dom.contains("No known spyware found"));
            assert!(dom.contains("This check is incomplete"));
            let not_checked = dom
                .find("id=\"not-checked\"")
                .expect("a not-checked section");
            assert!(not_checked < dom.find("id=\"hardening\"").unwrap());
            assert!(dom.contains("The dumpstate could not be read"));
            assert!(dom.contains("<strong>dumpsys_packages</strong>"));
            assert!(dom.contains("<strong>tombstones</strong>"));
            assert!(dom.contains("FS/data/link: symbolic link, not followed"));
        } else {
            assert!(
                dom.contains("class=\"card alert"),
                "{name}: no alert in DOM"
            );
            assert!(!dom.contains("id=\"not-checked\""), "{name}");
        }
        assert!(dom.contains("class=\"advice\""), "{name}: no advice in DOM");
        assert!(
            dom.contains("id=\"check-IOS-005\""),
            "{name}: no checklist in DOM"
        );
        assert!(dom.contains("Turn on Lockdown Mode"));
        if incident {
            assert!(dom.contains("id=\"incident-steps\""));
            assert!(dom.contains("Signs of spyware"));
            // The hostile URL is text, not an element.
            assert!(!dom.contains("<script>alert(1)"));
            assert!(dom.contains("&lt;script&gt;alert(1)"));
        } else {
            assert!(dom.contains("id=\"hardening\""));
            assert!(!dom.contains("id=\"incident-steps\""));
        }

        // Phone-sized screenshot of the first screen, and a tall one of the whole page.
        for (suffix, size) in [("", "412,915"), ("-full", "412,6000")] {
            let png = dir.path().join("report.png");
            chromium(
                &profile,
                &[
                    format!("--screenshot={}", png.display()),
                    format!("--window-size={size}"),
                    url.clone(),
                ],
            );
            let bytes = std::fs::read(&png).expect("screenshot written");
            assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
            assert!(bytes.len() > 10_000, "screenshot looks empty");
            std::fs::write(shots.join(format!("report-{name}{suffix}.png")), &bytes).unwrap();
        }
    }
    println!("screenshots in {}", shots.display());
}
