//! The TAXII client against a real TAXII 2.1 server: medallion (the OASIS reference server),
//! loaded with objects of the Cytrox fixture collection. Issue 14, Done-when 2: the first sync
//! pulls the collection; objects POSTed later in one envelope (so they share one
//! `date_added`) are fetched exactly once; a revoked version stops alerting.
//!
//! Needs `PORTCULLIS_MEDALLION` (the `medallion` program, see `scripts/medallion-venv.sh`)
//! and `../shared/fixtures`; skips with a message without either.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use portcullis_feeds::taxii::{self, AddTaxii, Auth, MEDIA_TYPE, SecretRef, TaxiiState};
use portcullis_feeds::{Outcome, Store, http};
use portcullis_indicators::Indicators;
use serde_json::{Value, json};

const COLLECTION: &str = "365fed99-08fa-fdcd-a1b3-fb247eb41d01";
const USER: &str = "admin";
const PASSWORD: &str = "Password0";

/// Kills medallion when the test ends, however it ends.
struct Medallion(Child);

impl Drop for Medallion {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn fixture() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/mvt/stix2/cytrox.stix2");
    path.is_file().then_some(path)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn basic() -> String {
    let pair = format!("{USER}:{PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// Starts medallion with `objects` in one collection, all added at one `date_added`.
fn start(program: &str, dir: &Path, objects: &[Value]) -> (Medallion, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let manifest: Vec<Value> = objects
        .iter()
        .map(|o| {
            json!({"id": o["id"], "date_added": "2024-01-01T00:00:00.000000Z",
                   "version": o["modified"], "media_type": "application/stix+json;version=2.1"})
        })
        .collect();
    let data = json!({
        "/discovery": {"title": "test", "default": format!("{base}/api1/"),
                       "api_roots": [format!("{base}/api1/")]},
        "api1": {
            "information": {"title": "test root", "versions": [MEDIA_TYPE],
                            "max_content_length": 9_765_625},
            "status": [],
            "collections": [{"id": COLLECTION, "title": "fixture", "can_read": true,
                             "can_write": true,
                             "media_types": ["application/stix+json;version=2.1"],
                             "objects": objects, "manifest": manifest}],
        },
    });
    std::fs::write(dir.join("data.json"), data.to_string()).unwrap();
    let config = json!({
        "backend": {"module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": dir.join("data.json")},
        "users": {USER: PASSWORD},
        "taxii": {"max_page_size": 7},
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let child = Command::new(program)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .arg(dir.join("config.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("medallion starts");
    let mut server = Medallion(child);
    let agent = http::agent();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = agent
            .get(format!("{base}/taxii2/"))
            .header("Accept", MEDIA_TYPE)
            .header("Authorization", basic())
            .call()
            .is_ok_and(|r| r.status() == 200);
        if up {
            break;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = server.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("medallion exited with {status}: {err}");
        }
        assert!(
            Instant::now() < deadline,
            "medallion did not answer in 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, base)
}

/// POSTs `objects` in one envelope: medallion stamps them all with one `date_added`.
fn post(base: &str, objects: &[Value]) {
    let body = json!({"objects": objects}).to_string();
    let response = http::agent()
        .post(format!("{base}/api1/collections/{COLLECTION}/objects/"))
        .header("Content-Type", MEDIA_TYPE)
        .header("Accept", MEDIA_TYPE)
        .header("Authorization", basic())
        .send(body.as_bytes())
        .unwrap();
    assert_eq!(response.status(), 202);
    // Later POSTs get a later date_added even on a fast machine.
    std::thread::sleep(Duration::from_millis(20));
}

/// How many objects a sync of the installed collection would bring now.
fn pending(store: &Store) -> usize {
    let manifest = store.manifest().unwrap();
    let entry = &manifest.collections["partner"];
    let state: TaxiiState = serde_json::from_value(entry.state.clone().unwrap()).unwrap();
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(store.installed_files()[0].clone()).unwrap())
            .unwrap();
    let held: BTreeMap<String, String> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_string(),
                o["modified"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    taxii::fetch(&http::agent(), &state, &held, &|_| {})
        .unwrap()
        .changed
        .len()
}

fn held(store: &Store) -> usize {
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(store.installed_files()[0].clone()).unwrap())
            .unwrap();
    bundle["objects"].as_array().unwrap().len()
}

fn alerts(store: &Store, domain: &str) -> bool {
    let mut indicators = Indicators::new();
    for f in store.installed_files() {
        indicators.load_file(&f).unwrap();
    }
    indicators.check_host(domain).is_some()
}

fn domain(indicator: &Value) -> String {
    let pattern = indicator["pattern"].as_str().unwrap();
    pattern.split('\'').nth(1).unwrap().to_string()
}

#[test]
fn medallion_sync_fetches_exactly_the_new_objects_and_honours_revocation() {
    let Ok(program) = std::env::var("PORTCULLIS_MEDALLION") else {
        eprintln!("skipped: PORTCULLIS_MEDALLION is not set (see scripts/medallion-venv.sh)");
        return;
    };
    let Some(fixture) = fixture() else {
        eprintln!("skipped: ../shared/fixtures is absent");
        return;
    };
    let bundle: Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let all = bundle["objects"].as_array().unwrap();
    let indicators: Vec<Value> = all
        .iter()
        .filter(|o| o["type"] == "indicator")
        .take(30)
        .cloned()
        .collect();
    let malware = all.iter().find(|o| o["type"] == "malware").unwrap().clone();
    // 16 objects at one date_added, more than two pages of 7.
    let mut first: Vec<Value> = indicators[..15].to_vec();
    first.push(malware);

    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(&program, dir.path(), &first);
    let password = dir.path().join("password");
    std::fs::write(&password, PASSWORD).unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = Store::new(data.path());
    let (outcome, installed) = taxii::add(
        &store,
        &http::agent(),
        AddTaxii {
            url: &format!("{base}/taxii2/"),
            collection: COLLECTION,
            name: "partner",
            auth: Some(Auth::Basic {
                user: USER.into(),
                password: SecretRef::File(password),
            }),
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(outcome, Outcome::Installed, "{outcome:?}");
    assert_eq!(held(&store), 16);
    assert!(
        !serde_json::to_string(&installed)
            .unwrap()
            .contains(PASSWORD),
        "the secret never reaches the manifest"
    );
    assert_eq!(pending(&store), 0, "nothing new right after add");

    // Nine more in one envelope (one shared date_added, across page boundaries), then one more.
    post(&base, &indicators[15..24]);
    post(&base, &indicators[24..25]);
    assert_eq!(pending(&store), 10);
    let sync = || taxii::sync_installed(&store, &http::agent(), "partner", &|_| {}).unwrap();
    assert_eq!(sync(), Outcome::Updated);
    assert_eq!(held(&store), 26);
    assert_eq!(
        pending(&store),
        0,
        "an inclusive re-request repeats nothing"
    );
    assert_eq!(sync(), Outcome::Unchanged);

    // Revoke one indicator on the server: it stops alerting; its neighbour still alerts.
    let target = &indicators[3];
    assert!(alerts(&store, &domain(target)));
    let mut revoked = target.clone();
    revoked["revoked"] = json!(true);
    revoked["modified"] = json!("2025-01-01T00:00:00.000Z");
    post(&base, &[revoked]);
    assert_eq!(pending(&store), 1);
    assert_eq!(sync(), Outcome::Updated);
    assert_eq!(held(&store), 26);
    assert!(!alerts(&store, &domain(target)));
    assert!(alerts(&store, &domain(&indicators[4])));
}
