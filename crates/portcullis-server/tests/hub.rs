//! The indicator hub: feeds added through the API, synced from a real HTTP server (a failing
//! one keeps what it held), served as TAXII 2.1 and exports without what is marked above the
//! configured TLP, and a due sync queued once however many instances ask.

mod common;

use std::sync::{Arc, Mutex};

use common::{Backend, Client, TestServer, WebhookSink, backends};
use portcullis_server::ConfigFile;
use portcullis_server::accounts::Role;
use serde_json::{Value, json};

const TLP2_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const TLP2_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

/// A bundle of three domain indicators: one unmarked, one TLP:AMBER, one TLP:RED.
fn marked_bundle() -> String {
    let mut bundle: Value = serde_json::from_str(&portcullis_indicators::test_bundle_json(
        "Campaign",
        &[
            "[domain-name:value = 'open.example']",
            "[domain-name:value = 'amber.example']",
            "[domain-name:value = 'red.example']",
        ],
    ))
    .unwrap();
    for object in bundle["objects"].as_array_mut().unwrap() {
        let pattern = object["pattern"].as_str().unwrap_or("").to_string();
        if pattern.contains("amber.example") {
            object["object_marking_refs"] = json!([TLP2_AMBER]);
        }
        if pattern.contains("red.example") {
            object["object_marking_refs"] = json!([TLP2_RED]);
        }
    }
    bundle.to_string()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn feed_state(officer: &mut Client, id: i64) -> Value {
    let feeds = officer.get("/api/hub/feeds").json();
    feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .cloned()
        .unwrap()
}

fn hub_round(backend: Backend) {
    let server = TestServer::start_custom(
        backend,
        ConfigFile {
            hub_share_up_to: Some("amber".into()),
            ..ConfigFile::default()
        },
    );
    let officer_user = server.user("officer@example.org", Role::Officer);
    let member = server.user("mp@example.org", Role::Member);
    let mut officer = server.signed_in(&officer_user);
    let csrf = officer.csrf.clone();
    let (_, token) = server
        .block_on(portcullis_server::devices::register(
            &server.db, member.id, "phone", member.id,
        ))
        .unwrap();
    let mut device = Client::new(&server.base);
    device.bearer = Some(token);

    // An upload through the API.
    let upload = json!({ "name": "Partner report", "kind": "upload", "format": "stix2", "content": marked_bundle() });
    let added = officer.post_raw(
        "/api/hub/feeds",
        "application/json",
        &upload.to_string(),
        &[("X-CSRF-Token", &csrf)],
    );
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.json()["indicators"], 3);
    assert_eq!(added.json()["tlp"], "TLP:RED");
    // The same name again, and a file that is not a bundle: refused, nothing stored.
    let again = officer.post_raw(
        "/api/hub/feeds",
        "application/json",
        &upload.to_string(),
        &[("X-CSRF-Token", &csrf)],
    );
    assert_eq!(again.status, 409, "{}", again.body);
    let junk = json!({ "name": "Junk", "kind": "upload", "format": "stix2", "content": "{\"type\": \"not a bundle\"}" });
    let refused = officer.post_raw(
        "/api/hub/feeds",
        "application/json",
        &junk.to_string(),
        &[("X-CSRF-Token", &csrf)],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    // A TAXII token may be named only by a PORTCULLIS_FEED_ variable: an officer cannot have
    // the server send its database address, or one of its files, to a server of their choosing.
    for sneaky in [
        json!({ "name": "Leak", "kind": "taxii", "url": "https://taxii.example/", "collection": "c", "token_env": "PORTCULLIS_DATABASE_URL" }),
        json!({ "name": "Leak", "kind": "taxii", "url": "https://taxii.example/", "collection": "c", "token_file": "/etc/shadow" }),
    ] {
        let refused = officer.post_raw(
            "/api/hub/feeds",
            "application/json",
            &sneaky.to_string(),
            &[("X-CSRF-Token", &csrf)],
        );
        assert_eq!(refused.status, 422, "{}", refused.body);
    }
    // An upload over the limit is refused, whatever the request limit let through.
    let huge = portcullis_server::hub::FeedFields {
        name: "Huge".into(),
        kind: "upload".into(),
        format: Some("plain".into()),
        content: Some("x".repeat(portcullis_server::hub::MAX_UPLOAD_BYTES + 1)),
        ..Default::default()
    };
    let refused = server.block_on(portcullis_server::hub::add(
        &server.db,
        huge.into_new_feed().unwrap(),
        officer_user.id,
    ));
    assert!(
        matches!(refused, Err(portcullis_server::ServerError::Invalid(ref why)) if why.contains("at most 32 MiB")),
        "{refused:?}"
    );
    assert_eq!(server.count("SELECT COUNT(*) FROM hub_feeds"), 1);

    // What devices get: everything up to AMBER, never RED, as TAXII and as exports.
    let page = device.get("/taxii2/api/collections/organisation/objects/?limit=2");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "application/taxii+json;version=2.1")
    );
    let mut objects: Vec<Value> = page.json()["objects"].as_array().unwrap().clone();
    let mut next = page.json()["next"].as_str().map(str::to_string);
    assert_eq!(page.json()["more"], true);
    while let Some(token) = next {
        let more = device.get(&format!(
            "/taxii2/api/collections/organisation/objects/?limit=2&next={token}"
        ));
        objects.extend(more.json()["objects"].as_array().unwrap().iter().cloned());
        next = more.json()["next"].as_str().map(str::to_string);
    }
    let patterns: Vec<&str> = objects
        .iter()
        .filter_map(|o| o["pattern"].as_str())
        .collect();
    assert_eq!(patterns.len(), 2, "{patterns:?}");
    assert!(patterns.iter().all(|p| !p.contains("red.example")));
    // malware, two indicators and their relationships (the red one's relationship is unmarked).
    assert_eq!(objects.len(), 6);
    // TAXII's match filters: by type, and by id.
    let objects_of = |device: &mut Client, query: &str| -> Vec<Value> {
        let reply = device.get(&format!(
            "/taxii2/api/collections/organisation/objects/?{query}"
        ));
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        reply.json()["objects"].as_array().unwrap().clone()
    };
    let indicators = objects_of(&mut device, "match%5Btype%5D=indicator");
    assert_eq!(indicators.len(), 2);
    assert_eq!(
        objects_of(&mut device, "match%5Btype%5D=malware,relationship").len(),
        4
    );
    let id = indicators[0]["id"].as_str().unwrap();
    let one = objects_of(&mut device, &format!("match%5Bid%5D={id}"));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["id"], id);
    assert_eq!(
        device
            .get("/taxii2/api/collections/organisation/objects/?match%5Btype%5D=x%27%20OR%201=1")
            .status,
        400
    );
    for bad in ["limit=0", "limit=-5", "next=abc", "added_after=yesterday"] {
        let reply = device.get(&format!(
            "/taxii2/api/collections/organisation/objects/?{bad}"
        ));
        assert_eq!(reply.status, 400, "{bad}");
    }
    let zeek = device.get("/api/hub/indicators?format=zeek");
    assert_eq!(zeek.status, 200);
    assert!(
        zeek.body.contains("open.example\tIntel::DOMAIN"),
        "{}",
        zeek.body
    );
    assert!(zeek.body.contains("amber.example") && !zeek.body.contains("red.example"));
    assert_eq!(
        device.get("/api/hub/indicators?format=nonsense").status,
        400
    );
    assert_eq!(
        device
            .get("/taxii2/api/collections/someone-elses/objects/")
            .status,
        404
    );

    // A feed at an address: synced at once, conditionally afterwards, and kept when it fails.
    let answer = Arc::new(Mutex::new((
        200u16,
        portcullis_indicators::test_bundle_json(
            "Remote",
            &[
                "[domain-name:value = 'remote.example']",
                "[ipv4-addr:value = '203.0.113.9']",
            ],
        ),
    )));
    let serving = answer.clone();
    let remote = WebhookSink::start_answering(move |request, _| {
        let (status, body) = serving.lock().unwrap().clone();
        let etag = "\"v1\"".to_string();
        if status == 200
            && request
                .headers
                .iter()
                .any(|(n, v)| n == "if-none-match" && *v == etag)
        {
            return (304, vec![("etag".into(), etag)], String::new());
        }
        (status, vec![("etag".into(), etag)], body)
    });
    let url_feed = officer.post_raw(
        "/api/hub/feeds",
        "application/json",
        &json!({ "name": "Remote", "kind": "url", "url": remote.url }).to_string(),
        &[("X-CSRF-Token", &csrf)],
    );
    assert_eq!(url_feed.status, 201, "{}", url_feed.body);
    let id = url_feed.json()["id"].as_i64().unwrap();
    wait_until("the first sync", || {
        feed_state(&mut officer, id)["indicators"] == 2
    });
    let sync = |officer: &mut Client| {
        let reply = officer.post_raw(
            &format!("/api/hub/feeds/{id}/sync"),
            "application/json",
            "{}",
            &[("X-CSRF-Token", &csrf)],
        );
        assert_eq!(reply.status, 202, "{}", reply.body);
    };
    sync(&mut officer);
    wait_until("the conditional sync", || {
        remote.received.lock().unwrap().len() == 2
    });
    answer.lock().unwrap().0 = 503;
    sync(&mut officer);
    wait_until("the failed sync", || {
        !feed_state(&mut officer, id)["last_error"].is_null()
    });
    let failed = feed_state(&mut officer, id);
    assert!(
        failed["last_error"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    assert_eq!(failed["indicators"], 2, "the feed keeps what it held");
    let zeek = device.get("/api/hub/indicators?format=zeek");
    assert!(zeek.body.contains("remote.example"), "{}", zeek.body);
    let requests = remote.received.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[0]
            .headers
            .iter()
            .all(|(n, _)| n != "if-none-match")
    );
    assert!(
        requests[1]
            .headers
            .iter()
            .any(|(n, v)| n == "if-none-match" && v == "\"v1\"")
    );

    // Removal takes the feed's indicators with it; every change was audited.
    let removed = officer.delete(&format!("/api/hub/feeds/{id}"));
    assert_eq!(removed.status, 204);
    let zeek = device.get("/api/hub/indicators?format=zeek");
    assert!(!zeek.body.contains("remote.example"));
    assert_eq!(
        server.count("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'hub.%'"),
        5
    );
}

#[test]
fn feeds_sync_are_served_up_to_their_tlp_and_keep_their_set_when_they_fail() {
    for backend in backends() {
        hub_round(backend);
    }
}

/// Two instances on one database: a due feed is queued once however many ask at once, and
/// the sync runs on one of them, fetching the feed once.
fn sync_once(backend: Backend) {
    let remote = WebhookSink::start_answering(|_, _| {
        let body = portcullis_indicators::test_bundle_json(
            "Remote",
            &["[domain-name:value = 'remote.example']"],
        );
        (200, Vec::new(), body)
    });
    let server = TestServer::start(backend);
    let officer = server.user("officer@example.org", Role::Officer);
    let second = server
        .block_on(portcullis_server::start(
            server.db.clone(),
            ConfigFile {
                listen: Some("127.0.0.1:0".parse().unwrap()),
                public_url: Some(server.base.clone()),
                ..ConfigFile::default()
            }
            .resolve()
            .unwrap(),
        ))
        .unwrap();
    let id = server
        .block_on(portcullis_server::hub::add(
            &server.db,
            portcullis_server::hub::FeedFields {
                name: "Remote".into(),
                kind: "url".into(),
                url: Some(remote.url.clone()),
                ..Default::default()
            }
            .into_new_feed()
            .unwrap(),
            officer.id,
        ))
        .unwrap();
    wait_until("the first sync", || {
        server.count("SELECT COUNT(*) FROM jobs WHERE done_at IS NOT NULL") == 1
    });
    assert_eq!(remote.received.lock().unwrap().len(), 1);
    // The feed falls due; both instances (and then some) ask at once.
    server.block_on(async {
        sqlx::query("UPDATE hub_feeds SET next_sync_at = 0 WHERE id = $1")
            .bind(id)
            .execute(&server.db.pool)
            .await
            .unwrap();
        let asks: Vec<_> = (0..4)
            .map(|_| {
                let db = server.db.clone();
                tokio::spawn(async move { portcullis_server::hub::schedule(&db).await.unwrap() })
            })
            .collect();
        let mut queued = 0;
        for ask in asks {
            queued += ask.await.unwrap();
        }
        assert_eq!(queued, 1, "{backend:?}: the due feed is queued once");
    });
    wait_until("the scheduled sync", || {
        server.count("SELECT COUNT(*) FROM jobs WHERE done_at IS NOT NULL") == 2
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(server.count("SELECT COUNT(*) FROM jobs"), 2);
    assert_eq!(
        remote.received.lock().unwrap().len(),
        2,
        "fetched once per sync"
    );
    server
        .block_on(second.shut_down(std::time::Duration::from_secs(5)))
        .unwrap();
}

#[test]
fn a_due_sync_is_queued_once_and_run_once_across_instances() {
    for backend in backends() {
        sync_once(backend);
    }
}

/// An index of collections: each entry becomes a feed of its own, synced with the index;
/// an entry the index drops goes, and removing the index removes its entries.
fn index_round(backend: Backend) {
    let listing = Arc::new(Mutex::new(vec!["alpha", "beta"]));
    let listed = listing.clone();
    let site = WebhookSink::start_answering(move |request, _| {
        let path = request
            .request_line
            .split(' ')
            .nth(1)
            .unwrap_or("")
            .to_string();
        let base = request
            .headers
            .iter()
            .find(|(n, _)| n == "host")
            .map(|(_, v)| format!("http://{v}"))
            .unwrap_or_default();
        match path.as_str() {
            "/indicators.yaml" => {
                let mut yaml = String::from("indicators:\n");
                for name in listed.lock().unwrap().iter() {
                    yaml.push_str(&format!(
                        "  - name: {name} spyware\n    download_url: {base}/{name}.stix2\n"
                    ));
                }
                (200, Vec::new(), yaml)
            }
            "/alpha.stix2" | "/beta.stix2" => {
                let name = &path[1..path.len() - 6];
                let pattern = format!("[domain-name:value = '{name}.example']");
                let body = portcullis_indicators::test_bundle_json(name, &[pattern.as_str()]);
                (200, Vec::new(), body)
            }
            _ => (404, Vec::new(), String::new()),
        }
    });
    let index_url = site.url.replace("/hook", "/indicators.yaml");
    let server = TestServer::start(backend);
    let officer_user = server.user("officer@example.org", Role::Officer);
    let mut officer = server.signed_in(&officer_user);
    let csrf = officer.csrf.clone();
    let added = officer.post_raw(
        "/api/hub/feeds",
        "application/json",
        &json!({ "name": "Index", "kind": "index", "url": index_url }).to_string(),
        &[("X-CSRF-Token", &csrf)],
    );
    assert_eq!(added.status, 201, "{}", added.body);
    let index = added.json()["id"].as_i64().unwrap();
    let names = |officer: &mut Client| -> Vec<(String, i64)> {
        let mut names: Vec<(String, i64)> = officer
            .get("/api/hub/feeds")
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().to_string(),
                    f["indicators"].as_i64().unwrap(),
                )
            })
            .collect();
        names.sort();
        names
    };
    wait_until("the index's entries", || {
        names(&mut officer)
            == [
                ("Index".to_string(), 2),
                ("Index: alpha spyware".to_string(), 1),
                ("Index: beta spyware".to_string(), 1),
            ]
    });
    listing.lock().unwrap().pop();
    let sync = officer.post_raw(
        &format!("/api/hub/feeds/{index}/sync"),
        "application/json",
        "{}",
        &[("X-CSRF-Token", &csrf)],
    );
    assert_eq!(sync.status, 202);
    wait_until("the dropped entry to go", || {
        names(&mut officer).len() == 2
            && server.count("SELECT COUNT(*) FROM jobs WHERE done_at IS NULL") == 0
    });
    assert_eq!(
        server.count("SELECT COUNT(*) FROM hub_digests"),
        1,
        "alpha.example only"
    );
    assert_eq!(
        officer.delete(&format!("/api/hub/feeds/{index}")).status,
        204
    );
    assert!(names(&mut officer).is_empty());
    assert_eq!(server.count("SELECT COUNT(*) FROM hub_objects"), 0);
}

#[test]
fn an_index_becomes_one_feed_per_entry() {
    for backend in backends() {
        index_round(backend);
    }
}
