//! The privacy-preserving re-check: a submitted check carries digests of what it saw, the
//! server keeps only those, and an indicator the hub gains later opens an incident for every
//! device whose check saw it.

mod common;

use common::{Client, TestServer, backends};
use portcullis_indicators::Indicators;
use portcullis_report::{Observed, Report, Submission};
use portcullis_server::accounts::Role;
use portcullis_server::hub::FeedFields;

/// What the check saw: none of it was known to be bad when it ran.
const SEEN_HOST: &str = "cdn.pegasus-infra.example";
const BENIGN_HOST: &str = "quiet-newsroom.example.org";
const SEEN_PROCESS: &str = "bh_update_daemon";
/// The indicator that becomes known later: the parent domain of what the check saw.
const LATER_INDICATOR: &str = "pegasus-infra.example";

/// A check with no alert, carrying the digests of what it looked up under the server's key.
fn check_with_digests(key_id: &str, key: &[u8], checked_at: &str) -> String {
    let mut seen = Indicators::new();
    seen.observe();
    assert!(
        seen.check_url(&format!("https://{SEEN_HOST}/beacon"))
            .is_none()
    );
    assert!(seen.check_host(BENIGN_HOST).is_none());
    assert!(seen.check_process(SEEN_PROCESS).is_none());
    let mut report = Report::default();
    report.info.version = "0.1.0".into();
    report.info.finished = checked_at.into();
    let mut submission = Submission::from_report(&report);
    submission.observed = Some(Observed {
        key_id: key_id.into(),
        digests: seen.observed_digests(key),
        left_out: 0,
    });
    serde_json::to_string(&submission).unwrap()
}

fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn an_indicator_the_hub_gains_later_finds_the_device_that_saw_it() {
    for backend in backends() {
        let server = TestServer::start(backend);
        let member = server.user("mp@example.org", Role::Member);
        let officer = server.user("officer@example.org", Role::Officer);
        let (device, token) = server
            .block_on(portcullis_server::devices::register(
                &server.db,
                member.id,
                "MP's iPhone",
                member.id,
            ))
            .unwrap();
        let mut phone = Client::new(&server.base);
        phone.bearer = Some(token.clone());
        let key = phone.get("/api/observation-key");
        assert_eq!(key.status, 200, "{}", key.body);
        let key_id = key.json()["key_id"].as_str().unwrap().to_string();
        let secret = hex::decode(key.json()["key"].as_str().unwrap()).unwrap();
        assert_eq!(secret.len(), 32);

        let body = check_with_digests(&key_id, &secret, "2026-12-01 10:00:00.000000");
        let sent = phone.post_raw("/api/submissions", "application/json", &body, &[]);
        assert_eq!(sent.status, 201, "{}", sent.body);
        assert_eq!(sent.json()["incidents_opened"], serde_json::json!([]));
        let submission = sent.json()["submission"].as_i64().unwrap();
        // The host and its parent domain, the benign host and its parent, the process.
        let stored: i64 = server.block_on(async {
            sqlx::query_scalar("SELECT COUNT(*) FROM observations WHERE submission_id = $1")
                .bind(submission)
                .fetch_one(&server.db.pool)
                .await
                .unwrap()
        });
        assert_eq!(stored, 5);
        let text = server.database_text();
        for plain in [SEEN_HOST, LATER_INDICATOR, BENIGN_HOST, SEEN_PROCESS] {
            assert!(
                !text.contains(plain),
                "{backend:?}: the database holds {plain}"
            );
        }

        // A partner discloses the campaign: the officer adds its domain to the hub.
        let feed = server
            .block_on(portcullis_server::hub::add(
                &server.db,
                FeedFields {
                    name: "Partner disclosure".into(),
                    kind: "upload".into(),
                    format: Some("plain".into()),
                    content: Some(format!("# disclosed today\n{LATER_INDICATOR}\n")),
                    ..Default::default()
                }
                .into_new_feed()
                .unwrap(),
                officer.id,
            ))
            .unwrap();
        assert!(feed > 0);
        let incident = wait_for("the re-check's incident", || {
            server
                .block_on(portcullis_server::incidents::list(&server.db, None))
                .unwrap()
                .into_iter()
                .next()
        });
        assert_eq!(incident.device_id, device.id);
        assert_eq!(incident.level, "HIGH");
        assert!(
            incident
                .title
                .starts_with("Re-check: a check saw pegasus-infra.example (")
                && incident.title.contains("known since"),
            "{}",
            incident.title
        );
        let events = server
            .block_on(portcullis_server::incidents::events(
                &server.db,
                incident.id,
            ))
            .unwrap();
        assert_eq!(events.len(), 1);
        assert!(
            events[0].text.starts_with(&format!(
                "re-check: check {submission} of 2026-12-01 saw a host name that the hub's indicator pegasus-infra.example"
            )),
            "{}",
            events[0].text
        );
        // Still no trace of what the device looked up; the indicator itself is now in the hub
        // (which shows the scan reads what the database holds).
        let text = server.database_text();
        for plain in [SEEN_HOST, BENIGN_HOST, SEEN_PROCESS] {
            assert!(
                !text.contains(plain),
                "{backend:?}: the database holds {plain}"
            );
        }
        assert!(text.contains(LATER_INDICATOR));

        // The same indicator again (another feed) is not a new finding for the device.
        server
            .block_on(portcullis_server::hub::add(
                &server.db,
                FeedFields {
                    name: "Second opinion".into(),
                    kind: "upload".into(),
                    format: Some("plain".into()),
                    content: Some(format!("{LATER_INDICATOR}\n")),
                    ..Default::default()
                }
                .into_new_feed()
                .unwrap(),
                officer.id,
            ))
            .unwrap();
        wait_for("the second sync", || {
            let pending: i64 = server.block_on(async {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM jobs WHERE kind = 'hub.sync' AND done_at IS NULL",
                )
                .fetch_one(&server.db.pool)
                .await
                .unwrap()
            });
            (pending == 0).then_some(())
        });
        let incidents = server
            .block_on(portcullis_server::incidents::list(&server.db, None))
            .unwrap();
        assert_eq!(incidents.len(), 1, "{backend:?}");
    }
}

#[test]
fn digests_are_refused_unless_made_with_the_servers_key_and_well_formed() {
    for backend in backends() {
        let server = TestServer::start(backend);
        let member = server.user("mp@example.org", Role::Member);
        let (_, token) = server
            .block_on(portcullis_server::devices::register(
                &server.db, member.id, "phone", member.id,
            ))
            .unwrap();
        let mut phone = Client::new(&server.base);
        phone.bearer = Some(token);
        let key = phone.get("/api/observation-key").json();
        let secret = hex::decode(key["key"].as_str().unwrap()).unwrap();

        let other_key = check_with_digests("k9", &secret, "2026-12-01 10:00:00.000000");
        let reply = phone.post_raw("/api/submissions", "application/json", &other_key, &[]);
        assert_eq!(reply.status, 422, "{}", reply.body);
        assert!(reply.body.contains("key \\\"k9\\\""), "{}", reply.body);

        let mut values: serde_json::Value = serde_json::from_str(&check_with_digests(
            key["key_id"].as_str().unwrap(),
            &secret,
            "2026-12-01 11:00:00.000000",
        ))
        .unwrap();
        values["observed"]["digests"][0] = serde_json::json!(SEEN_HOST);
        let reply = phone.post_raw(
            "/api/submissions",
            "application/json",
            &values.to_string(),
            &[],
        );
        assert_eq!(reply.status, 422, "{}", reply.body);
        let count: i64 = server.block_on(async {
            sqlx::query_scalar("SELECT COUNT(*) FROM submissions")
                .fetch_one(&server.db.pool)
                .await
                .unwrap()
        });
        assert_eq!(count, 0, "nothing is stored");

        // The key is for devices: a member's session does not get it.
        let mut member_client = server.signed_in(&member);
        assert_eq!(member_client.get("/api/observation-key").status, 401);
    }
}
