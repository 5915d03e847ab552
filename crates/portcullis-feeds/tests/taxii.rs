//! The TAXII 2.1 client against a tiny TAXII server made here: it holds objects with their
//! `date_added`, filters by `added_after` (exclusive or, like some servers, inclusive), pages
//! by `next` or by `X-TAXII-Date-Added-Last` alone, and can be told to misbehave.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_feeds::taxii::{self, AddTaxii, Auth, SecretRef};
use portcullis_feeds::{Outcome, Store, http};
use portcullis_indicators::Indicators;
use serde_json::{Value, json};

#[derive(Default)]
struct Model {
    /// (date_added, object), in the order added.
    objects: Vec<(String, Value)>,
    inclusive: bool,
    use_next: bool,
    page_size: usize,
    /// Answers 429 with `Retry-After` to this many object requests first.
    throttle: usize,
    /// Answers every object request with an endless loop of `next`.
    looping: bool,
    /// Answers every request with an HTML page.
    html: bool,
    /// Authorization headers received.
    authorizations: Vec<String>,
    /// Object requests received (path and query).
    requests: Vec<String>,
}

struct Server {
    url: String,
    model: Arc<Mutex<Model>>,
}

impl Server {
    fn start(model: Model) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let model = Arc::new(Mutex::new(model));
        let shared = Arc::clone(&model);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let model = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &model));
            }
        });
        Server { url, model }
    }

    fn add(&self, date_added: &str, objects: &[Value]) {
        let mut m = self.model.lock().unwrap();
        for o in objects {
            m.objects.push((date_added.to_string(), o.clone()));
        }
    }
}

fn serve(stream: std::net::TcpStream, model: &Mutex<Model>) {
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(v.trim().to_string());
        }
    }
    let mut m = model.lock().unwrap();
    if let Some(a) = authorization {
        m.authorizations.push(a);
    }
    let (status, headers, body) = answer(&mut m, &target);
    drop(m);
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    let _ = (&stream).write_all(out.as_bytes());
}

const TAXII: &str = "application/taxii+json;version=2.1";

fn answer(m: &mut Model, target: &str) -> (u16, Vec<(&'static str, String)>, String) {
    if m.html {
        return (
            200,
            vec![("Content-Type", "text/html".into())],
            "<html><body>Log in</body></html>".into(),
        );
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.replace("%3A", ":"))
        })
    };
    let json_answer = |v: Value, extra: Vec<(&'static str, String)>| {
        let mut headers = vec![("Content-Type", TAXII.to_string())];
        headers.extend(extra);
        (200, headers, v.to_string())
    };
    match path {
        "/taxii2/" => json_answer(
            json!({"title": "test", "api_roots": ["/api1/"], "default": "/api1/"}),
            vec![],
        ),
        "/api1/" => json_answer(json!({"title": "root", "versions": [TAXII]}), vec![]),
        "/api1/collections/c1/objects/" => {
            m.requests.push(target.to_string());
            if m.throttle > 0 {
                m.throttle -= 1;
                return (429, vec![("Retry-After", "7".into())], String::new());
            }
            if m.looping {
                return json_answer(
                    json!({"more": true, "next": "again", "objects": [indicator(1, "2024-01-01T00:00:00Z", false)]}),
                    vec![],
                );
            }
            let after = param("added_after").map(|a| a.parse::<jiff::Timestamp>().unwrap());
            let limit: usize = param("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
            let mut matching: Vec<&(String, Value)> = m
                .objects
                .iter()
                .filter(|(d, _)| {
                    let d: jiff::Timestamp = d.parse().unwrap();
                    after.is_none_or(|a| if m.inclusive { d >= a } else { d > a })
                })
                .collect();
            matching.sort_by_key(|(d, _)| d.parse::<jiff::Timestamp>().unwrap());
            let start: usize = param("next").and_then(|n| n.parse().ok()).unwrap_or(0);
            let size = limit.min(m.page_size);
            let page: Vec<&(String, Value)> =
                matching.iter().skip(start).take(size).copied().collect();
            let more = start + page.len() < matching.len();
            let mut body =
                json!({"more": more, "objects": page.iter().map(|(_, o)| o).collect::<Vec<_>>()});
            if more && m.use_next {
                body["next"] = json!((start + page.len()).to_string());
            }
            let mut extra = vec![];
            if let (Some(first), Some(last)) = (page.first(), page.last()) {
                extra.push(("X-TAXII-Date-Added-First", first.0.clone()));
                extra.push(("X-TAXII-Date-Added-Last", last.0.clone()));
            }
            json_answer(body, extra)
        }
        _ => (404, vec![], String::new()),
    }
}

fn indicator(n: usize, modified: &str, revoked: bool) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2024-01-01T00:00:00Z",
        "modified": modified,
        "revoked": revoked,
        "indicator_types": ["malicious-activity"],
        "pattern": format!("[domain-name:value = 'evil{n}.example']"),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": "2024-01-01T00:00:00Z",
    })
}

fn add(
    store: &Store,
    server: &Server,
    auth: Option<Auth>,
) -> (Outcome, portcullis_feeds::Installed) {
    taxii::add(
        store,
        &http::agent(),
        AddTaxii {
            url: &format!("{}/taxii2/", server.url),
            collection: "c1",
            name: "partner",
            auth,
        },
        &|_| {},
    )
    .expect("the store works")
}

fn sync(store: &Store) -> Outcome {
    taxii::sync_installed(store, &http::agent(), "partner", &|_| {}).expect("the store works")
}

/// The domains the installed collection alerts on, sorted.
fn alerting(store: &Store, upto: usize) -> Vec<usize> {
    let mut indicators = Indicators::new();
    for f in store.installed_files() {
        indicators.load_file(&f).unwrap();
    }
    (1..=upto)
        .filter(|n| indicators.check_host(&format!("evil{n}.example")).is_some())
        .collect()
}

fn installed_ids(data: &Path) -> Vec<String> {
    let bytes = std::fs::read(data.join("iocs/collections/partner.stix2")).unwrap();
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

fn shared_dates(inclusive: bool, use_next: bool) {
    let server = Server::start(Model {
        inclusive,
        use_next,
        page_size: 4,
        ..Model::default()
    });
    server.add(
        "2024-01-01T00:00:01Z",
        &[1, 2].map(|n| indicator(n, "2024-01-01T00:00:00Z", false)),
    );
    // Three share one date_added; the first page of four ends between them.
    server.add(
        "2024-01-01T00:00:02Z",
        &[3, 4, 5].map(|n| indicator(n, "2024-01-01T00:00:00Z", false)),
    );
    let data = tempfile::tempdir().unwrap();
    let store = Store::new(data.path());
    let (outcome, installed) = add(&store, &server, None);
    assert_eq!(outcome, Outcome::Installed, "{:?}", installed.last_error);
    assert_eq!(installed.counts.get("domains"), Some(&5));
    assert_eq!(alerting(&store, 9), [1, 2, 3, 4, 5]);
    let ids = installed_ids(data.path());
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "the bundle is sorted by id");

    // Nothing new: nothing repeats, even from an inclusive server.
    assert_eq!(sync(&store), Outcome::Unchanged);

    // An envelope of three POSTed at once shares one date_added.
    server.add(
        "2024-01-01T00:00:03Z",
        &[6, 7, 8].map(|n| indicator(n, "2024-01-01T00:00:00Z", false)),
    );
    assert_eq!(sync(&store), Outcome::Updated);
    assert_eq!(alerting(&store, 9), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(installed_ids(data.path()).len(), 8);
    let manifest = store.manifest().unwrap();
    let state = &manifest.collections["partner"].state.as_ref().unwrap();
    assert_eq!(state["cursor"]["added_last"], "2024-01-01T00:00:03Z");
    assert_eq!(state["api_root"], format!("{}/api1/", server.url));
    assert_eq!(sync(&store), Outcome::Unchanged);
    // Every object request after the first sync resumed from the cursor.
    let requests = server.model.lock().unwrap().requests.clone();
    assert!(
        requests
            .last()
            .unwrap()
            .contains("added_after=2024-01-01T00%3A00%3A02.999999Z"),
        "{requests:?}"
    );
}

#[test]
fn shared_date_added_across_pages_with_header_paging_and_an_exclusive_server() {
    shared_dates(false, false);
}

#[test]
fn inclusive_added_after_repeats_nothing() {
    shared_dates(true, false);
}

#[test]
fn pagination_by_next() {
    shared_dates(false, true);
    shared_dates(true, true);
}

#[test]
fn a_looping_next_is_refused_and_keeps_the_old_copy() {
    let server = Server::start(Model {
        page_size: 10,
        ..Model::default()
    });
    server.add(
        "2024-01-01T00:00:01Z",
        &[indicator(1, "2024-01-01T00:00:00Z", false)],
    );
    let data = tempfile::tempdir().unwrap();
    let store = Store::new(data.path());
    assert_eq!(add(&store, &server, None).0, Outcome::Installed);
    server.model.lock().unwrap().looping = true;
    let Outcome::Failed(why) = sync(&store) else {
        panic!("a loop is refused")
    };
    assert!(why.contains("pages in a loop"), "{why}");
    assert!(why.contains(&format!("{}/api1/collections/c1/objects/", server.url)));
    assert_eq!(alerting(&store, 3), [1]);
    let manifest = store.manifest().unwrap();
    assert_eq!(
        manifest.collections["partner"].last_error.as_deref(),
        Some(why.as_str())
    );
}

#[test]
fn an_html_answer_names_the_address() {
    let server = Server::start(Model {
        html: true,
        ..Model::default()
    });
    let data = tempfile::tempdir().unwrap();
    let store = Store::new(data.path());
    let Outcome::Failed(why) = add(&store, &server, None).0 else {
        panic!("HTML is refused")
    };
    assert_eq!(
        why,
        format!(
            "{}/taxii2/: not a TAXII answer (content type \"text/html\", expected {TAXII})",
            server.url
        )
    );
    assert!(store.manifest().unwrap().collections.is_empty());
}

#[test]
fn too_many_requests_waits_as_asked_then_goes_on() {
    let server = Server::start(Model {
        page_size: 10,
        throttle: 2,
        ..Model::default()
    });
    server.add(
        "2024-01-01T00:00:01Z",
        &[indicator(1, "2024-01-01T00:00:00Z", false)],
    );
    let data = tempfile::tempdir().unwrap();
    let store = Store::new(data.path());
    let waits = Mutex::new(Vec::new());
    let (outcome, _) = taxii::add(
        &store,
        &http::agent(),
        AddTaxii {
            url: &format!("{}/api1/", server.url),
            collection: "c1",
            name: "partner",
            auth: None,
        },
        &|d| waits.lock().unwrap().push(d),
    )
    .unwrap();
    assert_eq!(outcome, Outcome::Installed);
    assert_eq!(*waits.lock().unwrap(), [Duration::from_secs(7); 2]);
    assert_eq!(alerting(&store, 3), [1]);

    // A server that never stops throttling is given up on after a bounded number of tries.
    server.model.lock().unwrap().throttle = 100;
    waits.lock().unwrap().clear();
    let outcome = taxii::sync_installed(&store, &http::agent(), "partner", &|d| {
        waits.lock().unwrap().push(d)
    })
    .unwrap();
    assert!(
        matches!(&outcome, Outcome::Failed(w) if w.ends_with("still answered 429 after 5 retries")),
        "{outcome:?}"
    );
    assert_eq!(waits.lock().unwrap().len(), 5);
}

#[test]
fn credentials_are_sent_and_never_stored() {
    let server = Server::start(Model {
        page_size: 10,
        ..Model::default()
    });
    server.add(
        "2024-01-01T00:00:01Z",
        &[indicator(1, "2024-01-01T00:00:00Z", false)],
    );
    let data = tempfile::tempdir().unwrap();
    let secret = data.path().join("password");
    std::fs::write(&secret, "s3cret-pass\n").unwrap();
    let store = Store::new(data.path());
    let auth = Auth::Basic {
        user: "analyst".into(),
        password: SecretRef::File(secret.clone()),
    };
    assert_eq!(add(&store, &server, Some(auth)).0, Outcome::Installed);
    // base64("analyst:s3cret-pass")
    let expected = "Basic YW5hbHlzdDpzM2NyZXQtcGFzcw==";
    let sent = std::mem::take(&mut server.model.lock().unwrap().authorizations);
    assert!(
        sent.len() >= 3 && sent.iter().all(|a| a == expected),
        "{sent:?}"
    );

    // A variable cargo sets for every test stands in for the token's.
    let bearer = Auth::Bearer {
        token: SecretRef::Env("CARGO_PKG_NAME".into()),
    };
    assert_eq!(add(&store, &server, Some(bearer)).0, Outcome::Unchanged);
    let sent = std::mem::take(&mut server.model.lock().unwrap().authorizations);
    assert!(sent.iter().all(|a| a == "Bearer portcullis-feeds") && !sent.is_empty());

    let manifest = std::fs::read_to_string(data.path().join("iocs/manifest.json")).unwrap();
    assert!(!manifest.contains("s3cret"));
    assert!(manifest.contains("\"env\": \"CARGO_PKG_NAME\""));
}

#[test]
fn a_revoked_version_replaces_the_live_one_and_stops_alerting() {
    let server = Server::start(Model {
        page_size: 10,
        ..Model::default()
    });
    server.add(
        "2024-01-01T00:00:01Z",
        &[1, 2].map(|n| indicator(n, "2024-01-01T00:00:00Z", false)),
    );
    let data = tempfile::tempdir().unwrap();
    let store = Store::new(data.path());
    assert_eq!(add(&store, &server, None).0, Outcome::Installed);
    assert_eq!(alerting(&store, 3), [1, 2]);
    server.add(
        "2024-02-01T00:00:00Z",
        &[indicator(2, "2024-02-01T00:00:00Z", true)],
    );
    // An older version sent again (a confused server) does not undo it.
    server.add(
        "2024-02-02T00:00:00Z",
        &[indicator(2, "2024-01-01T00:00:00Z", false)],
    );
    assert_eq!(sync(&store), Outcome::Updated);
    assert_eq!(alerting(&store, 3), [1]);
    let bytes = std::fs::read(data.path().join("iocs/collections/partner.stix2")).unwrap();
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(bundle["objects"][1]["revoked"], true);
    assert_eq!(bundle["objects"].as_array().unwrap().len(), 2);
}
