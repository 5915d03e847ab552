//! `update` against a local HTTP server standing in for the index's host.

use std::path::Path;

use portcullis_feeds::{Bundled, Outcome, Store, UpdateOptions, http, update};
use portcullis_indicators::test_bundle_json;
use portcullis_testkit::http::{FileServer, Override};

fn bundled() -> Vec<Bundled> {
    let json: &'static str = Box::leak(
        test_bundle_json("Planted", &["[domain-name:value = 'planted.example']"]).into_boxed_str(),
    );
    vec![Bundled {
        name: "planted",
        title: "Planted test collection",
        bytes: json.as_bytes(),
        licence: "CC0",
        source: "bundled with the test",
        authors: &["Portcullis"],
        references: &[],
    }]
}

fn run(store: &Store, server: &FileServer, bundled: &[Bundled]) -> portcullis_feeds::UpdateReport {
    let index = format!("{}/indicators.yaml", server.url);
    let options = UpdateOptions {
        index_url: Some(&index),
        raw_base: Some(&server.url),
        bundled,
    };
    update(store, &http::agent(), &options, &|_| {}).expect("update runs")
}

fn outcomes(report: &portcullis_feeds::UpdateReport) -> Vec<(&str, &Outcome)> {
    report
        .entries
        .iter()
        .map(|e| (e.name.as_str(), &e.outcome))
        .collect()
}

#[test]
fn self_made_index_installs_then_downloads_nothing_and_keeps_a_copy_when_upstream_breaks() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("o/r/main")).unwrap();
    std::fs::write(
        site.path().join("indicators.yaml"),
        "indicators:\n  - type: github\n    name: Alpha Indicators of Compromise\n    sources: [Lab]\n    github: {owner: o, repo: r, path: a.stix2}\n  - name: Gone\n    download_url: URL/missing.stix2\n"
            .replace("URL", "http://127.0.0.1:1"),
    )
    .unwrap();
    let alpha = test_bundle_json("Alpha", &["[domain-name:value = 'alpha.example']"]);
    std::fs::write(site.path().join("o/r/main/a.stix2"), &alpha).unwrap();
    let server = FileServer::serve(site.path());
    let data = tempfile::tempdir().unwrap();
    let store = Store::new(data.path());
    let bundled = bundled();

    let first = run(&store, &server, &bundled);
    assert_eq!(
        outcomes(&first)[..2],
        [
            ("planted", &Outcome::Installed),
            ("alpha", &Outcome::Installed)
        ]
    );
    assert_eq!(first.entries[2].name, "gone");
    let Outcome::Failed(why) = &first.entries[2].outcome else {
        panic!("the missing entry failed: {first:?}")
    };
    assert!(why.contains("http://127.0.0.1:1/missing.stix2"), "{why}");
    assert!(first.anything_current());
    let manifest = store.manifest().unwrap();
    let alpha_entry = &manifest.collections["alpha"];
    assert_eq!(alpha_entry.counts["domains"], 1);
    assert_eq!(alpha_entry.authors, ["Lab"]);
    assert_eq!(
        alpha_entry.sha256,
        portcullis_feeds::store::sha256_hex(alpha.as_bytes())
    );
    assert_eq!(store.installed_files().len(), 2);
    assert_eq!(
        server.take_answers(),
        [
            ("/indicators.yaml".to_string(), 200),
            ("/o/r/main/a.stix2".to_string(), 200)
        ]
    );

    let second = run(&store, &server, &bundled);
    assert_eq!(second.entries[0].outcome, Outcome::Unchanged);
    assert_eq!(second.entries[1].outcome, Outcome::Unchanged);
    assert_eq!(
        server.take_answers(),
        [
            ("/indicators.yaml".to_string(), 200),
            ("/o/r/main/a.stix2".to_string(), 304)
        ]
    );

    server.set(
        "/o/r/main/a.stix2",
        Override::Body(b"{\"type\": \"bundle\", \"obj".to_vec()),
    );
    let third = run(&store, &server, &bundled);
    let Outcome::Failed(why) = &third.entries[1].outcome else {
        panic!("the corrupted file failed: {third:?}")
    };
    assert!(
        why.contains("/o/r/main/a.stix2") && why.contains("not a STIX"),
        "{why}"
    );
    let installed = std::fs::read(store.collections_dir().join("alpha.stix2")).unwrap();
    assert_eq!(
        installed,
        alpha.as_bytes(),
        "the installed copy is untouched"
    );
    let manifest = store.manifest().unwrap();
    assert!(
        manifest.collections["alpha"]
            .last_error
            .as_deref()
            .unwrap()
            .contains("not a STIX")
    );
}

#[test]
fn an_unreachable_index_still_installs_the_bundled_collections() {
    let data = tempfile::tempdir().unwrap();
    let store = Store::new(data.path());
    let options = UpdateOptions {
        index_url: Some("http://127.0.0.1:1/indicators.yaml"),
        raw_base: None,
        bundled: &bundled(),
    };
    let report = update(&store, &http::agent(), &options, &|_| {}).unwrap();
    assert!(
        report
            .index_error
            .as_deref()
            .unwrap()
            .contains("127.0.0.1:1")
    );
    assert_eq!(report.entries.len(), 1);
    assert_eq!(report.entries[0].outcome, Outcome::Installed);
    assert_eq!(report.entries[0].indicators, 1);
}

#[test]
fn the_public_index_mirror_installs_fourteen_collections() {
    let Some(root) = portcullis_testkit::shared_fixture("indicators") else {
        return;
    };
    let server = FileServer::serve(root);
    let data = tempfile::tempdir().unwrap();
    let store = Store::new(data.path());
    let first = run(&store, &server, &bundled());
    let installed: Vec<_> = first
        .entries
        .iter()
        .filter(|e| e.outcome == Outcome::Installed)
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(installed.len(), 15, "{installed:?}"); // 14 from the index + the bundled one
    let failed: Vec<_> = first
        .entries
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Failed(_)))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].name, "stalkerware");
    assert!(matches!(&failed[0].outcome, Outcome::Failed(w) if w.contains("404")));
    let manifest = store.manifest().unwrap();
    let pegasus = &manifest.collections["nso-group-pegasus"];
    assert_eq!(
        pegasus.licence.as_deref(),
        Some("CC BY 2.0 (Amnesty International)")
    );
    assert!(pegasus.counts["domains"] > 1000, "{:?}", pegasus.counts);
    server.take_answers();

    let second = run(&store, &server, &bundled());
    let answers = server.take_answers();
    let downloads: Vec<_> = answers
        .iter()
        .filter(|(p, s)| *s == 200 && p != "/indicators.yaml")
        .collect();
    assert!(downloads.is_empty(), "{downloads:?}");
    assert_eq!(answers.iter().filter(|(_, s)| *s == 304).count(), 14);
    assert_eq!(
        second
            .entries
            .iter()
            .filter(|e| e.outcome == Outcome::Unchanged)
            .count(),
        15
    );
    assert!(
        Path::new(&store.collections_dir())
            .join("nso-group-pegasus.stix2")
            .is_file()
    );
}
