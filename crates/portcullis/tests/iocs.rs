//! `portcullis iocs`: installing collections from a local server standing in for the public
//! index's host, keeping them current, and a check using them by default.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{backup_with_sms, portcullis, shared_fixture};
use portcullis_testkit::http::{FileServer, Override};

/// `portcullis iocs ARGS`: (exit code, stdout and stderr together).
fn iocs(data: &Path, args: &[&str]) -> (i32, String) {
    let (code, stdout, stderr) = common::iocs(data, args);
    (code, stdout + &stderr)
}

fn update_args(server: &FileServer) -> Vec<String> {
    vec![
        "update".into(),
        "--index".into(),
        format!("{}/indicators.yaml", server.url),
        "--raw-base".into(),
        server.url.clone(),
    ]
}

fn update(data: &Path, server: &FileServer) -> (i32, String) {
    let args = update_args(server);
    iocs(data, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A site with an index of one collection holding the SMS backup's indicator domain.
fn site(dir: &Path) -> std::path::PathBuf {
    let site = dir.join("site");
    std::fs::create_dir_all(site.join("lab/iocs/main")).unwrap();
    std::fs::write(
        site.join("indicators.yaml"),
        "indicators:\n  - type: github\n    name: Evil Campaign Indicators of Compromise\n    sources: [A Lab]\n    references: [https://lab.example/report]\n    github: {owner: lab, repo: iocs, path: evil.stix2}\n",
    )
    .unwrap();
    std::fs::copy(common::stix(dir), site.join("lab/iocs/main/evil.stix2")).unwrap();
    site
}

#[test]
fn installed_collections_are_listed_looked_up_used_by_check_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = FileServer::serve(site(dir.path()));
    let (code, out) = update(&data, &server);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("evil-campaign") && out.contains("installed, 1 indicators"),
        "{out}"
    );

    let (code, out) = iocs(&data, &["list"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("evil-campaign: Evil Campaign Indicators of Compromise (1 indicators)"),
        "{out}"
    );
    assert!(out.contains("holds:        1 domains"), "{out}");
    assert!(
        out.contains("/lab/iocs/main/evil.stix2 (from the public index)"),
        "{out}"
    );
    assert!(
        out.contains("licence:      not stated by the publisher"),
        "{out}"
    );

    let (code, out) = iocs(&data, &["show", "https://www.evil.example.net/login"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("domains \"evil.example.net\" in collection \"Evil\""),
        "{out}"
    );
    assert!(
        out.contains("why: Found a known suspicious domain"),
        "{out}"
    );
    assert!(out.contains("indicator indicator--"), "{out}");
    let (_, out) = iocs(&data, &["show", "harmless.example"]);
    // The campaign's and the Iran collection shipped with Portcullis.
    assert!(
        out.contains("is in none of the 2 collection file(s)"),
        "{out}"
    );

    // A check uses the installed collection without --iocs …
    let (backup, _) = backup_with_sms(dir.path());
    let run = |extra: &[&str], out: &Path| {
        let o = portcullis()
            .env("PORTCULLIS_DATA_DIR", &data)
            .arg("check")
            .arg(&backup)
            .arg("--output")
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (code, out) = run(&[], &dir.path().join("r1"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("From the 2 installed collection(s)"), "{out}");
    assert!(out.contains("evil.example.net"), "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("r1/report.json")).unwrap()).unwrap();
    assert!(
        report["info"]["ioc_files"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("iocs/collections/evil-campaign.stix2")
    );
    // … and not with --no-installed, which says that only the heuristics ran.
    let (code, out) = run(&["--no-installed"], &dir.path().join("r2"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("--no-installed left out the installed collections"),
        "{out}"
    );

    let (code, out) = iocs(&data, &["remove", "evil-campaign"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Removed \"evil-campaign\" (1 indicators)"),
        "{out}"
    );
    let (code, out) = iocs(&data, &["remove", "iran-state-linked"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("shipped"), "{out}");
    let (code, out) = run(&[], &dir.path().join("r3"));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("No indicator collection is installed"),
        "{out}"
    );
    let (code, out) = iocs(&data, &["remove", "evil-campaign"]);
    assert_eq!(code, 2);
    assert!(
        out.contains("no installed collection is named \"evil-campaign\""),
        "{out}"
    );
}

#[test]
fn added_files_and_addresses_install_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stix = common::stix(dir.path());
    let (code, out) = iocs(&data, &["add", stix.to_str().unwrap(), "--licence", "CC0"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Installed \"iocs\": 1 indicators"), "{out}");
    let server = FileServer::serve(site(dir.path()));
    let url = format!("{}/lab/iocs/main/evil.stix2", server.url);
    let (code, out) = iocs(&data, &["add", &url, "--name", "from-web"]);
    assert_eq!(code, 0, "{out}");
    let (_, list) = iocs(&data, &["list"]);
    assert!(list.contains("licence:      CC0"), "{list}");
    assert!(list.contains("(added from an address)"), "{list}");

    std::fs::write(dir.path().join("bad.stix2"), "<html>not json").unwrap();
    let (code, out) = iocs(
        &data,
        &["add", dir.path().join("bad.stix2").to_str().unwrap()],
    );
    assert_eq!(code, 2);
    assert!(
        out.contains("bad.stix2: not a STIX 2.1 indicator bundle"),
        "{out}"
    );
    let (code, out) = iocs(&data, &["add", &format!("{}/nowhere.stix2", server.url)]);
    assert_eq!(code, 2);
    assert!(out.contains("404"), "{out}");
    let (code, out) = iocs(&data, &["add", &url, "--name", "../escape"]);
    assert_eq!(code, 2);
    assert!(out.contains("not a collection name"), "{out}");
}

#[test]
fn the_public_index_mirror_installs_every_collection_then_downloads_nothing() {
    let Some(root) = shared_fixture("indicators") else {
        return;
    };
    let server = FileServer::serve(root);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out) = update(&data, &server);
    assert_eq!(code, 0, "{out}");
    // All 14 collections plus the bundled Iran collection.
    assert_eq!(out.matches(" installed, ").count(), 15, "{out}");
    assert!(
        out.contains("iran-state-linked                installed, 2429 indicators"),
        "{out}"
    );
    assert!(
        out.contains("nso-group-pegasus                installed, 1549 indicators"),
        "{out}"
    );
    assert!(
        out.contains("stalkerware                      FAILED (not installed)"),
        "{out}"
    );
    assert!(out.contains("15 collection(s) current, 1 failed"), "{out}");
    server.take_answers();

    let (code, out) = update(&data, &server);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches(" up to date").count(), 15, "{out}");
    let answers = server.take_answers();
    assert_eq!(
        answers.iter().filter(|(_, s)| *s == 304).count(),
        14,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|(_, s)| *s == 200).count(),
        1,
        "only the index: {answers:?}"
    );

    let pegasus = "/AmnestyTech/investigations/master/2021-07-18_nso/pegasus.stix2";
    let installed = data.join("iocs/collections/nso-group-pegasus.stix2");
    let before = std::fs::read(&installed).unwrap();
    server.set(
        pegasus,
        Override::Body(b"{\"type\": \"bundle\", \"objects\": [{".to_vec()),
    );
    let (code, out) = update(&data, &server);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("nso-group-pegasus                FAILED (the installed copy is kept)"),
        "{out}"
    );
    assert!(
        out.contains("pegasus.stix2: not a STIX 2.1 indicator bundle"),
        "{out}"
    );
    assert_eq!(std::fs::read(&installed).unwrap(), before);
    let (_, list) = iocs(&data, &["list"]);
    assert!(list.contains("LAST UPDATE FAILED"), "{list}");

    // Killed while a newer copy is downloading: the old copy stays whole and in use.
    let mut newer = before.clone();
    newer.extend_from_slice(b"\n");
    server.set(pegasus, Override::Stall(newer, before.len() / 2));
    server.take_answers();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("portcullis"))
        .env("PORTCULLIS_DATA_DIR", &data)
        .arg("iocs")
        .args(update_args(&server))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !server.take_answers().iter().any(|(p, _)| p == pegasus) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the download never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        before,
        "the old copy is intact"
    );
    let (code, list) = iocs(&data, &["list"]);
    assert_eq!(code, 0, "the manifest is intact: {list}");
    assert!(
        list.contains(
            "nso-group-pegasus: NSO Group Pegasus Indicators of Compromise (1549 indicators)"
        ),
        "{list}"
    );
}
