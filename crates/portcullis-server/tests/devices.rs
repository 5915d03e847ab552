//! Devices and submitted checks, on each backend: a device registered for a member, its check's
//! findings submitted with the upload token, an incident opened for the CRITICAL alert (once,
//! however often it is seen), the fleet view and the member's own view, and bad submissions
//! (forged token, replay, not a submission, too large, wrong type) refused with nothing stored.

mod common;

use common::{
    Backend, Client, RECORD_TEXT, SmtpSink, TestServer, WebhookSink, backends, sample_submission,
};
use portcullis_server::accounts::Role;

fn round(backend: Backend) {
    let smtp = SmtpSink::start();
    let webhook = WebhookSink::start();
    let secret_dir = tempfile::tempdir().unwrap();
    let secret_file = secret_dir.path().join("webhook-secret");
    std::fs::write(&secret_file, "shared webhook secret\n").unwrap();
    let server = TestServer::start_notifying(
        backend,
        Some(smtp.config()),
        Some(portcullis_server::notify::WebhookConfig {
            url: webhook.url.clone(),
            secret_file,
        }),
    );
    let officer = server.user("officer@example.org", Role::Officer);
    let member = server.user("member@example.org", Role::Member);
    let other = server.user("other@example.org", Role::Member);

    // The officer registers the member's phone and gets its upload token, once.
    let mut officer_web = server.signed_in(&officer);
    officer_web.get("/devices");
    let page = officer_web.post_form(
        "/devices",
        &[("name", "Ann's iPhone"), ("owner", "member@example.org")],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page
        .body
        .split("id=\"device-token\" class=\"wrap\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert!(token.starts_with("pcd_"));

    let mut device = Client::new(&server.base);
    device.bearer = Some(token.clone());
    let first = sample_submission("2026-12-04 10:00:00.000000");
    let stored = device.post_raw("/api/submissions", "application/json", &first, &[]);
    assert_eq!(stored.status, 201, "{}", stored.body);
    assert_eq!(
        stored.json()["incidents_opened"].as_array().unwrap().len(),
        1
    );

    // Refused, with nothing stored: the same document again, a forged token, a report that is
    // not a submission, a body too large, the wrong content type; and the token reaches nothing else.
    assert_eq!(
        device
            .post_raw("/api/submissions", "application/json", &first, &[])
            .status,
        409
    );
    let mut forged = Client::new(&server.base);
    forged.bearer = Some("pcd_forgedforgedforgedforgedforgedforgedforgedf".into());
    assert_eq!(
        forged
            .post_raw("/api/submissions", "application/json", &first, &[])
            .status,
        401
    );
    let report_json = serde_json::to_string(&portcullis_report::Report::default()).unwrap();
    assert_eq!(
        device
            .post_raw("/api/submissions", "application/json", &report_json, &[])
            .status,
        422
    );
    assert_eq!(
        device
            .post_raw("/api/submissions", "application/json", "[1,2", &[])
            .status,
        422
    );
    assert_eq!(
        device
            .post_raw(
                "/api/submissions",
                "application/json",
                &"x".repeat(portcullis_server::devices::MAX_SUBMISSION_BYTES + 1),
                &[]
            )
            .status,
        413
    );
    assert_eq!(
        device
            .post_raw("/api/submissions", "text/plain", &first, &[])
            .status,
        415
    );
    assert_eq!(device.get("/api/advisories").status, 401);
    assert_eq!(device.get("/devices").status, 303);
    assert_eq!(server.count("SELECT COUNT(*) FROM submissions"), 1);
    for action in [
        "submission.received",
        "submission.replayed",
        "token.refused",
        "submission.refused",
    ] {
        let n = server
            .block_on(
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log WHERE action = $1")
                    .bind(action)
                    .fetch_one(&server.db.pool),
            )
            .unwrap();
        assert!(n >= 1, "no {action} in the audit log");
    }

    // A later check with the same alert joins the open incident.
    let second = sample_submission("2026-12-05 10:00:00.000000");
    let again = device.post_raw("/api/submissions", "application/json", &second, &[]);
    assert_eq!(again.status, 201);
    assert_eq!(
        again.json()["incidents_opened"].as_array().unwrap().len(),
        0
    );
    assert_eq!(
        again.json()["incidents_updated"].as_array().unwrap().len(),
        1
    );
    assert_eq!(server.count("SELECT COUNT(*) FROM incidents"), 1);

    // The server holds findings, not the record behind the alert.
    let documents: Vec<String> = server
        .block_on(sqlx::query_scalar("SELECT document FROM submissions").fetch_all(&server.db.pool))
        .unwrap();
    assert!(
        documents
            .iter()
            .all(|d| !d.contains(RECORD_TEXT) && d.contains("evil-parcel.example"))
    );

    // The fleet view and the incident, for the officer.
    let fleet = officer_web.get("/devices");
    assert!(
        fleet.body.contains("Ann&#x27;s iPhone") || fleet.body.contains("Ann's iPhone"),
        "{}",
        fleet.body
    );
    assert!(
        fleet.body.contains("iPhone14,2, 18.1") && fleet.body.contains("(worst CRITICAL)"),
        "{}",
        fleet.body
    );
    let csv = officer_web.get("/fleet.csv?attention=1");
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(lines[0].starts_with("device,member,member_email,last_check_utc"));
    assert!(
        lines[1].starts_with("Ann's iPhone,member@example.org,member@example.org,")
            && lines[1].contains(",CRITICAL,1,1,false"),
        "{}",
        lines[1]
    );
    assert_eq!(
        officer_web.get("/fleet.csv?q=nobody").body.lines().count(),
        1
    );
    assert!(
        !officer_web
            .get("/devices?q=nobody")
            .body
            .contains("Ann&#x27;s iPhone")
    );
    let incidents = officer_web.get("/incidents");
    assert!(
        incidents.body.contains("evil-parcel.example"),
        "{}",
        incidents.body
    );
    let incident_id = server.count("SELECT MAX(id) FROM incidents");
    officer_web.get(&format!("/incidents/{incident_id}"));
    let changed = officer_web.post_form(
        &format!("/incidents/{incident_id}"),
        &[
            ("state", "investigating"),
            ("assignee", "officer@example.org"),
            ("note", "Called the member."),
        ],
    );
    assert_eq!(changed.status, 303, "{}", changed.body);
    let page = officer_web.get(&format!("/incidents/{incident_id}"));
    assert!(page.body.contains("open → investigating") && page.body.contains("Called the member."));

    // The member sees their device and what to change, not the incident; another member sees nothing.
    let device_id = server.count("SELECT MAX(id) FROM devices");
    let mut member_web = server.signed_in(&member);
    let own = member_web.get("/devices");
    assert!(own.body.contains(&format!("/devices/{device_id}")));
    let detail = member_web.get(&format!("/devices/{device_id}"));
    assert!(
        detail.body.contains("Turn on Lockdown Mode in Settings"),
        "{}",
        detail.body
    );
    assert!(!detail.body.contains("/incidents/"));
    assert_eq!(
        member_web.get(&format!("/incidents/{incident_id}")).status,
        403
    );
    let mut other_web = server.signed_in(&other);
    assert_eq!(other_web.get(&format!("/devices/{device_id}")).status, 404);
    assert!(
        !other_web
            .get("/devices")
            .body
            .contains(&format!("/devices/{device_id}"))
    );

    // Revoking the token stops uploads.
    member_web.post_form(&format!("/devices/{device_id}/revoke"), &[]);
    let third = sample_submission("2026-12-06 10:00:00.000000");
    assert_eq!(
        device
            .post_raw("/api/submissions", "application/json", &third, &[])
            .status,
        401
    );
}

#[test]
fn devices_submit_findings_and_alerts_open_incidents() {
    for backend in backends() {
        round(backend);
    }
}
