//! Every check writes `report.html`; headless Chromium renders the one of each input kind and its
//! DOM holds the verdict, the alerts with their advice and the posture checklist. Phone-sized
//! screenshots go to `target/report-screenshots/` for a person to look at. The browser part is
//! skipped (with a message) where Debian's chromium is not installed; CI installs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

const CHROMIUM: &str = "/usr/bin/chromium";

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The DOM Chromium renders from `html`, and a screenshot named `name`.
fn render(html: &Path, name: &str) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: chromium not installed (browser rendering of report.html not checked)");
        return None;
    }
    let profile = tempfile::tempdir().unwrap();
    let run = |extra: &[String]| {
        Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .expect("chromium runs")
    };
    let url = format!("file://{}", html.display());
    let shot = screenshots().join(format!("{name}.png"));
    run(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=412,915".into(),
        url.clone(),
    ]);
    assert!(shot.is_file(), "no screenshot for {name}");
    let dom = run(&["--dump-dom".into(), url]);
    Some(String::from_utf8_lossy(&dom.stdout).into_owned())
}

fn check_and_render(target: &Path, iocs: &[&Path], out: &Path, name: &str, expect_alerts: bool) {
    let (_, report) = check_json(target, iocs, out);
    let html = out.join("report.html");
    assert!(html.is_file(), "{name}: no report.html");
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        !text.contains("<script"),
        "{name}: the report must not need scripts"
    );
    assert!(
        !text.contains("http://") || !text.contains("src=\"http"),
        "{name}: external request"
    );
    let Some(dom) = render(&html, name) else {
        return;
    };
    assert!(dom.contains("id=\"verdict\""), "{name}: verdict");
    assert!(dom.contains("id=\"posture\""), "{name}: posture checklist");
    assert!(dom.contains("class=\"advice"), "{name}: advice");
    if expect_alerts {
        assert!(dom.contains("id=\"alerts\""), "{name}: alerts");
        let first = report["alerts"][0]["message"].as_str().unwrap();
        let shown = first
            .replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;");
        assert!(
            dom.contains(first) || dom.contains(&shown),
            "{name}: alert message {first:?} not rendered"
        );
    }
}

#[test]
fn demo_report_renders_in_a_browser() {
    let tmp = tempfile::tempdir().unwrap();
    portcullis()
        .args(["demo", "--dir"])
        .arg(tmp.path())
        .assert()
        .code(1);
    let html = tmp.path().join("results/report.html");
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        text.contains("id=\"incident-steps\""),
        "a CRITICAL hit leads with incident steps"
    );
    let Some(dom) = render(&html, "demo") else {
        return;
    };
    assert!(dom.contains("id=\"verdict\""));
    assert!(dom.contains("id=\"incident-steps\""));
    assert!(dom.contains("tracking-parcel-update.example"));
}

#[test]
fn fixture_reports_render_in_a_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let stix = mvt_test_stix2(tmp.path());
    let cases: [(&str, &str, bool); 4] = [
        ("mvt/ios_backup", "ios_backup", true),
        ("mvt/android_data/bugreport", "bugreport", true),
        ("mvt/androidqf", "androidqf", true),
        ("mvt/android_backup/backup.ab", "adb_backup", false),
    ];
    for (fixture, name, alerts) in cases {
        let Some(target) = shared_fixture(fixture) else {
            continue;
        };
        check_and_render(&target, &[&stix], &tmp.path().join(name), name, alerts);
    }
}
