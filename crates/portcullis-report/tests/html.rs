//! `report.html`: escaping of hostile values, incident mode, self-containment, and the sink.

use portcullis_core::{Alert, Level};
use portcullis_indicators::{IndicatorMatch, IocType, MatchRule};
use portcullis_report::sink::{ResultsDir, TimeBasis};
use portcullis_report::{
    Device, IndicatorFileInfo, OsDataInfo, OsDataPart, Platform, PostureFinding, PostureStatus,
    Report, RunInfo, html,
};
use serde_json::json;

fn finding(id: &str, severity: Level, status: PostureStatus, advice: &str) -> PostureFinding {
    PostureFinding {
        id: id.into(),
        severity,
        status,
        title: format!("Check {id}"),
        evidence: format!("Evidence for {id} (from Info.plist)"),
        advice: advice.into(),
        guidance: vec!["NCSC".into()],
        artefact: false,
    }
}

fn report(alerts: Vec<Alert>) -> Report {
    let mut facts = serde_json::Map::new();
    facts.insert("name".into(), "Member's iPhone".into());
    facts.insert("model".into(), "iPhone9,3".into());
    facts.insert("os_version".into(), "14.3".into());
    facts.insert("lockdown_mode".into(), false.into());
    let sources = [(
        "lockdown_mode".to_string(),
        "HomeDomain/Library/Preferences/.GlobalPreferences.plist".to_string(),
    )];
    let device = Device::new(Platform::Ios, facts, sources.into_iter().collect());
    Report {
        schema_version: 1,
        info: RunInfo {
            tool: "portcullis".into(),
            version: "0.1.0".into(),
            target_path: "/evidence/backup".into(),
            input_kind: portcullis_report::InputKind::IosBackup,
            started: "2026-09-01 10:00:00.000000".into(),
            finished: "2026-09-01 10:00:05.000000".into(),
            ioc_files: vec![IndicatorFileInfo {
                path: "/iocs/pegasus.stix2".into(),
                sha256: "ab".repeat(32),
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
        posture: vec![
            finding(
                "IOS-005",
                Level::High,
                PostureStatus::Fail,
                "Turn on Lockdown Mode (Settings > Privacy & Security > Lockdown Mode).",
            ),
            finding(
                "IOS-007",
                Level::Critical,
                PostureStatus::Unknown,
                "Check the passcode.",
            ),
            finding(
                "IOS-020",
                Level::Low,
                PostureStatus::Pass,
                "No action needed.",
            ),
        ],
        os_data: Some(OsDataInfo {
            date: "2026-08-22".into(),
            source: "SOFA iOS data feed v2".into(),
            sha256: "cd".repeat(32),
            parts: vec![OsDataPart {
                part: "ios_feed".into(),
                name: "SOFA iOS data feed v2".into(),
                as_of: "2026-08-22".into(),
                age_days: Some(10),
                stale: false,
            }],
        }),
        warnings: Vec::new(),
        coverage: Default::default(),
        network: None,
        recheck: None,
    }
}

fn critical_hit() -> Alert {
    let hit = IndicatorMatch {
        input: "https://bad.example.org/x".into(),
        value: "example.org".into(),
        ioc_type: IocType::Domains,
        collection: "Pegasus".into(),
        file: "pegasus.stix2".into(),
        rule: MatchRule::SubDomain,
        stix: Default::default(),
    };
    Alert::indicator(
        Level::Critical,
        "sms",
        hit,
        "links",
        "2021-07-01 12:00:00.000000",
        json!({"text": "hi"}),
    )
}

fn position(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the report"))
}

#[test]
fn incident_mode_leads_with_incident_steps() {
    let html = html::render(&report(vec![critical_hit()]));
    assert!(html.contains("id=\"incident-steps\""));
    assert!(!html.contains("id=\"hardening\""));
    assert!(position(&html, "id=\"verdict\"") < position(&html, "id=\"incident-steps\""));
    assert!(position(&html, "id=\"incident-steps\"") < position(&html, "id=\"alerts\""));
    assert!(position(&html, "id=\"incident-steps\"") < position(&html, "id=\"posture\""));
    for step in [
        "Keep the phone as it is",
        "Do not reset",
        "Contact the security office",
        "Keep the backup",
    ] {
        assert!(
            html.to_lowercase().contains(&step.to_lowercase()),
            "missing step {step:?}"
        );
    }
    assert!(html.contains("v-incident"));
    assert!(html.contains("Signs of spyware"));
    // Hardening advice is still listed, but after the incident steps and with a warning.
    assert!(html.contains("Wait for the security office before changing these settings"));
}

#[test]
fn without_serious_alerts_it_leads_with_hardening_advice() {
    let medium = Alert::heuristic(Level::Medium, "applications", "Odd app", "", json!({}));
    let html = html::render(&report(vec![medium]));
    assert!(!html.contains("id=\"incident-steps\""));
    assert!(position(&html, "id=\"verdict\"") < position(&html, "id=\"hardening\""));
    assert!(position(&html, "id=\"hardening\"") < position(&html, "id=\"alerts\""));
    let hardening = &html[position(&html, "id=\"hardening\"")..position(&html, "id=\"alerts\"")];
    assert!(hardening.contains("Turn on Lockdown Mode"));
    assert!(html.contains("v-attention"));

    let clear = html::render(&report(vec![]));
    assert!(clear.contains("v-clear"));
    assert!(clear.contains("No known spyware found"));
    assert!(clear.contains("does not prove the phone is clean"));
}

#[test]
fn a_high_heuristic_alert_is_an_incident_too() {
    let high = Alert::heuristic(Level::High, "sms", "Exploit-like message", "", json!({}));
    assert!(html::render(&report(vec![high])).contains("id=\"incident-steps\""));
}

#[test]
fn posture_is_ordered_by_status_then_severity() {
    let html = html::render(&report(vec![]));
    let fail = position(&html, "id=\"check-IOS-005\"");
    let unknown = position(&html, "id=\"check-IOS-007\"");
    let pass = position(&html, "id=\"check-IOS-020\"");
    assert!(fail < unknown && unknown < pass);
    assert!(html.contains("status-fail"));
    assert!(html.contains("status-unknown"));
}

#[test]
fn report_shows_dates_sources_and_limits() {
    let html = html::render(&report(vec![critical_hit()]));
    assert!(html.contains("2026-08-22"), "OS data date");
    assert!(html.contains("dated 2021-07-18"), "indicator date");
    assert!(html.contains("pegasus.stix2"));
    assert!(html.contains("id=\"limits\""));
    assert!(html.contains("cannot show that a phone is clean"));
    assert!(html.contains("from HomeDomain/Library/Preferences/.GlobalPreferences.plist"));
    // Facts the evidence did not show are listed as unknown.
    assert!(html.contains("unknown (not in this evidence)"));
    // Timeline of the suspicious events.
    let t = position(&html, "id=\"timeline\"");
    assert!(html[t..].contains("2021-07-01 12:00:00.000000"));
}

#[test]
fn each_os_data_part_is_dated_and_an_old_one_is_flagged() {
    let mut r = report(vec![]);
    let html = html::render(&r);
    assert!(html.contains("SOFA iOS data feed v2: as of <strong>2026-08-22</strong>."));
    assert!(!html.contains("Out of date"));
    r.os_data.as_mut().unwrap().parts.push(OsDataPart {
        part: "ios_legacy".into(),
        name: "Unsupported iOS models".into(),
        as_of: "2025-09-15".into(),
        age_days: Some(351),
        stale: true,
    });
    let html = html::render(&r);
    let legacy = position(&html, "data-part=\"ios_legacy\"");
    assert!(html[legacy..].starts_with(
        "data-part=\"ios_legacy\">Unsupported iOS models: as of <strong>2025-09-15</strong>. \
         <strong>Out of date: 351 days old."
    ));
}

#[test]
fn hostile_values_are_escaped_everywhere() {
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&</textarea>";
    let mut a = critical_hit()
        .with_message(format!("SMS said {evil}"))
        .with_source(evil)
        .with_advice(evil);
    a.event = json!({"text": evil, evil: evil});
    a.timestamp = Some(evil.into());
    a.matched_value = Some(evil.into());
    a.module = evil.into();
    let mut r = report(vec![a]);
    r.device.name = Some(evil.into());
    r.device.model_name = Some(evil.into());
    r.device.facts.insert(evil.into(), evil.into());
    r.device.sources.insert("name".into(), evil.into());
    r.info.target_path = evil.into();
    r.info.ioc_files[0].collections = vec![evil.into()];
    r.info.ioc_files[0].path = evil.into();
    r.posture[0].evidence = evil.into();
    r.posture[0].advice = evil.into();
    r.posture[0].id = evil.into();
    r.os_data.as_mut().unwrap().source = evil.into();
    let html = html::render(&r);
    assert!(!html.contains("<script"), "a script element got through");
    assert!(!html.contains("<img"), "an img element got through");
    assert!(!html.contains("</textarea>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Attribute values cannot be broken out of either.
    assert!(!html.contains("\"check-<"));
    assert!(!html.contains("onerror=alert(2)>"));
}

#[test]
fn the_page_is_self_contained() {
    let html = html::render(&report(vec![critical_hit()]));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta name=\"viewport\""));
    assert!(html.contains("Content-Security-Policy"));
    assert!(html.contains("default-src 'none'"));
    for forbidden in [
        "<script",
        "<link",
        "<iframe",
        "src=\"http",
        "href=\"http",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(forbidden), "found {forbidden:?}");
    }
    // Headings are in order for screen readers: one h1, then h2 sections.
    assert_eq!(html.matches("<h1").count(), 1);
    assert!(html.matches("<h2").count() >= 7);
}

#[test]
fn write_check_writes_report_html() {
    let dir = tempfile::tempdir().unwrap();
    let out = ResultsDir::create(dir.path()).unwrap();
    let r = report(vec![critical_hit()]);
    out.write_check(&r, &[], TimeBasis::Utc).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("id=\"verdict\""));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(json["posture"][0]["status"], "fail");
    assert_eq!(json["posture"][0]["id"], "IOS-005");
    assert_eq!(json["os_data"]["date"], "2026-08-22");
    // Older reports without the new fields still load.
    let mut old = json.clone();
    old.as_object_mut().unwrap().remove("posture");
    old.as_object_mut().unwrap().remove("os_data");
    let back: Report = serde_json::from_value(old).unwrap();
    assert!(back.posture.is_empty() && back.os_data.is_none());
}

#[test]
fn the_member_is_shown_how_to_give_fresh_data_alone() {
    let html = html::render(&report(vec![]));
    let next = position(&html, "id=\"next-time\"");
    assert!(next < position(&html, "id=\"limits\""));
    assert!(html[next..].contains("For the next check: Make a sysdiagnose on an iPhone"));
    assert!(html[next..].contains("<li>Open Settings, then Privacy &amp; Security"));
    let mut android = report(vec![]);
    android.device.platform = Some(Platform::Android);
    let html = html::render(&android);
    assert!(html.contains("For the next check: Make a bug report on an Android phone"));
    assert!(!html.contains("sysdiagnose"));
}
