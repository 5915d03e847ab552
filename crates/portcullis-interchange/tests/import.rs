//! Every import format on small inputs with real values, the Maltrail trails when the shared
//! fixtures are present, and the Iran collection regenerating byte for byte.

use std::path::{Path, PathBuf};

use portcullis_indicators::{Indicators, IocType, MatchRule};
use portcullis_interchange::{Format, ImportError, ImportOptions, Imported, import, iran};
use serde_json::Value;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

fn options(name: &str) -> ImportOptions {
    ImportOptions {
        name: name.into(),
        date: "2024-01-02".into(),
        licence: None,
        include_non_ids: false,
    }
}

/// The bundle loaded as a check loads it.
fn load(imported: &Imported) -> Indicators {
    let mut ind = Indicators::new().checked_at("2025-01-01T00:00:00");
    let file = ind
        .load_bundle(&imported.bundle("test"), Path::new("imported.stix2"))
        .expect("the bundle loads");
    assert!(file.unsupported.is_empty(), "{:?}", file.unsupported);
    ind
}

fn objects(bytes: &[u8]) -> Vec<Value> {
    let v: Value = serde_json::from_slice(bytes).expect("JSON");
    v["objects"].as_array().unwrap().clone()
}

#[test]
fn plain_trail_lists_keep_actor_aliases_and_references() {
    let imported = import(Format::Plain, &data("trail.txt"), &options("Test Kitten")).unwrap();
    let actor = &imported.collection.actors[0];
    assert_eq!(actor.name, "Test Kitten");
    assert_eq!(actor.aliases, ["testkitten", "TK-1"]);
    assert_eq!(actor.references.len(), 3);
    assert_eq!(actor.indicators().len(), 9);
    assert_eq!(
        imported.skipped,
        [
            "line 20: \"this is not an entry\": not a domain, IP address, CIDR network, URL or URL path"
        ]
    );

    let bytes = imported.bundle("test");
    assert_eq!(
        bytes,
        import(Format::Plain, &data("trail.txt"), &options("Test Kitten"))
            .unwrap()
            .bundle("test"),
        "deterministic"
    );
    let objects = objects(&bytes);
    assert_eq!(objects[0]["type"], "malware");
    assert_eq!(objects[0]["aliases"][1], "TK-1");
    assert_eq!(objects[0]["created"], "2024-01-02T00:00:00.000Z");
    let port = objects
        .iter()
        .find(|o| o["name"] == "198.51.100.7")
        .unwrap();
    assert_eq!(port["pattern"], "[ipv4-addr:value = '198.51.100.7']");
    assert_eq!(
        port["description"],
        "Listed as: 198.51.100.7:5050, 198.51.100.7:22"
    );
    assert_eq!(
        port["external_references"][0]["url"],
        "https://lab.example/report-1"
    );
    assert_eq!(
        port["external_references"][0]["description"],
        "2024 campaign"
    );
    let other = objects
        .iter()
        .find(|o| o["name"] == "other.example")
        .unwrap();
    assert_eq!(other["external_references"].as_array().unwrap().len(), 1);

    let ind = load(&imported);
    let hit = ind.check_url("https://cdn.login.bad.example/").unwrap();
    assert_eq!(hit.collection, "Test Kitten");
    assert!(
        ind.check_ip("198.51.100.8").is_some(),
        "http://IP is its address"
    );
    assert!(ind.check_ip("203.0.113.77").is_some());
    assert!(
        ind.check_url("http://files.bad.example/payload.apk")
            .is_some()
    );
    assert_eq!(
        ind.check_url("https://drop.example/upload/x.php")
            .unwrap()
            .ioc_type,
        IocType::Urls
    );
    assert_eq!(
        ind.check_url("http://drop.example/upload/x.php")
            .unwrap()
            .ioc_type,
        IocType::Urls
    );
    let path = ind
        .check_url("https://any.host.example/hass/upload-log.php?x=1")
        .unwrap();
    assert_eq!(path.rule, MatchRule::UrlPath);
    assert!(ind.check_host("hass").is_none());
}

#[test]
fn csv_columns_are_found_by_their_many_names() {
    let imported = import(Format::Csv, &data("iocs.csv"), &options("CSV feed")).unwrap();
    let names: Vec<&str> = imported
        .collection
        .actors
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["CSV feed", "Kitten A", "Kitten B"]);
    assert_eq!(imported.collection.indicators(), 6);
    assert_eq!(imported.skipped.len(), 2, "{:?}", imported.skipped);
    assert!(
        imported.skipped[0].starts_with("line 9: \"not a domain\""),
        "{:?}",
        imported.skipped
    );
    assert!(imported.skipped[1].contains("type \"registry-key\" is not supported"));
    let kitten = &imported.collection.actors[1];
    assert_eq!(kitten.indicators()[0].labels, ["apt42", "phishing"]);
    assert_eq!(
        kitten.indicators()[0].description.as_deref(),
        Some("phishing host")
    );
    let ind = load(&imported);
    assert_eq!(
        ind.check_host("evil.example").unwrap().collection,
        "Kitten A"
    );
    assert_eq!(
        ind.check_url("http://evil.example/login.php")
            .unwrap()
            .ioc_type,
        IocType::Urls
    );
    assert!(
        ind.check_file_hash("D41D8CD98F00B204E9800998ECF8427E")
            .is_some()
    );
    assert_eq!(
        ind.check_email("agent@evil.example").unwrap().collection,
        "CSV feed"
    );
    assert!(ind.check_url("https://x.example/hass/answer.php").is_some());

    let no_value = import(Format::Csv, b"type,comment\ndomain,x\n", &options("x")).unwrap_err();
    assert!(
        no_value.to_string().starts_with("line 1: no value column"),
        "{no_value}"
    );
}

#[test]
fn zeek_intel_files_by_type() {
    let imported = import(Format::ZeekIntel, &data("intel.dat"), &options("Zeek feed")).unwrap();
    let names: Vec<&str> = imported
        .collection
        .actors
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["Zeek feed", "Lab feed"]);
    assert_eq!(imported.collection.indicators(), 6);
    assert_eq!(imported.skipped.len(), 1);
    assert!(
        imported.skipped[0]
            .starts_with("line 8: \"Mozilla/4.0 (evil)\": Intel::SOFTWARE is not supported")
    );
    let ind = load(&imported);
    assert_eq!(
        ind.check_host("zeek-bad.example").unwrap().collection,
        "Lab feed"
    );
    assert!(ind.check_ip("192.0.2.100").is_some());
    assert!(ind.check_ip("192.0.2.200").is_none());
    assert!(ind.check_url("https://zeek-bad.example/gate.php").is_some());
    assert!(
        ind.check_file_hash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            .is_some()
    );
    assert!(ind.check_email("victim@zeek-bad.example").is_some());

    let early = import(
        Format::ZeekIntel,
        b"a.example\tIntel::DOMAIN\n",
        &options("x"),
    )
    .unwrap_err();
    assert!(
        matches!(early, ImportError::Line { line: 1, .. }),
        "{early}"
    );
}

#[test]
fn misp_events_by_attribute_type_with_tags_and_tlp() {
    let imported = import(Format::Misp, &data("event.json"), &options("MISP")).unwrap();
    assert_eq!(imported.collection.actors.len(), 1);
    let actor = &imported.collection.actors[0];
    assert_eq!(actor.name, "Operation Test Kitten");
    assert_eq!(actor.references[0].url, "https://lab.example/misp-report");
    assert_eq!(imported.collection.created, "2024-03-15T00:00:00.000Z");
    // domain, ip, url, sha256, email, md5, file name, hostname; not the to_ids=false domain.
    assert_eq!(actor.indicators().len(), 8);
    assert_eq!(imported.skipped.len(), 1, "{:?}", imported.skipped);
    assert!(imported.skipped[0].contains("\"text\""));
    let ind = load(&imported);
    let hit = ind.check_host("misp-bad.example").unwrap();
    assert_eq!(
        hit.stix.labels,
        ["phishing", "misp-galaxy:threat-actor=\"APT42\""]
    );
    assert_eq!(hit.stix.tlp.as_deref(), Some("TLP:AMBER"));
    assert_eq!(
        ind.check_host("c2.misp-bad.example")
            .unwrap()
            .stix
            .tlp
            .as_deref(),
        Some("TLP:RED")
    );
    assert!(ind.check_ip("203.0.113.50").is_some());
    assert!(
        ind.check_file_hash("0cc175b9c0f1b6a831c399e269772661")
            .is_some()
    );
    assert!(ind.check_file_name("update.apk").is_some());
    assert!(ind.check_email("Recruiter@misp-bad.example").is_some());
    assert!(ind.check_host("context-only.example").is_none());

    let mut all = options("MISP");
    all.include_non_ids = true;
    let with_context = import(Format::Misp, &data("event.json"), &all).unwrap();
    assert_eq!(with_context.collection.indicators(), 9);
}

#[test]
fn hostile_inputs_are_refused_with_their_line_never_a_panic() {
    let o = options("x");
    let err = import(Format::Plain, b"ok.example\n\xff\xfe\n", &o).unwrap_err();
    assert!(matches!(err, ImportError::NotUtf8 { line: 2 }), "{err}");
    let long = format!("ok.example\n{}\n", "a".repeat(20_000));
    assert!(matches!(
        import(Format::Plain, long.as_bytes(), &o),
        Err(ImportError::Line { line: 2, .. })
    ));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(import(Format::Misp, deep.as_bytes(), &o).is_err());
    assert!(
        import(Format::Misp, b"{\"Event\": 5}", &o)
            .unwrap()
            .collection
            .indicators()
            == 0
    );
    assert!(import(Format::Csv, b"value\n\"unterminated\n", &o).is_ok());
    let mut bad_date = o.clone();
    bad_date.date = "soon".into();
    assert!(import(Format::Plain, b"a.example", &bad_date).is_err());
    // Quotes and backslashes in values stay inside their pattern.
    let tricky = import(Format::Plain, b"/a'b\\c.php\n", &o).unwrap();
    let ind = load(&tricky);
    assert!(ind.check_url("http://h.example/a'b\\c.php").is_some());
    let mut state = 7u64;
    for _ in 0..2000 {
        let mut s = Vec::new();
        for _ in 0..(state % 60) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let alphabet = b"a./:#[]|\t\n,\"'\\{}0 %@";
            s.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        for format in [Format::Plain, Format::Csv, Format::Misp, Format::ZeekIntel] {
            if let Ok(imported) = import(format, &s, &o) {
                load(&imported);
            }
        }
    }
}

fn maltrail() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/indicators-plain/maltrail");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

#[test]
fn maltrail_trails_import_every_entry() {
    let Some(dir) = maltrail() else { return };
    // (file, entries, distinct values, references, aliases)
    let expected = [
        ("apt_charmingkitten.txt", 2315, 219, 30),
        ("apt_domestickitten.txt", 42, 21, 1),
        ("android_ratmilad.txt", 4, 7, 0),
        ("apt_ferociouskitten.txt", 36, 18, 1),
        ("apt_imperialkitten.txt", 13, 2, 1),
        ("apt_rampantkitten.txt", 19, 2, 0),
    ];
    for (file, values, references, aliases) in expected {
        let imported = import(
            Format::Plain,
            &std::fs::read(dir.join(file)).unwrap(),
            &options(file),
        )
        .unwrap();
        assert!(
            imported.skipped.is_empty(),
            "{file}: {:?}",
            imported.skipped
        );
        let actor = &imported.collection.actors[0];
        assert_eq!(actor.indicators().len(), values, "{file}");
        // The actor cites every distinct reference (and Charming Kitten's one `# Note:`).
        let notes = usize::from(file == "apt_charmingkitten.txt");
        assert_eq!(actor.references.len(), references + notes, "{file}");
        assert_eq!(actor.aliases.len(), aliases, "{file}");
        let ind = load(&imported);
        assert_eq!(ind.len(), values, "{file}");
    }
    let charming = import(
        Format::Plain,
        &std::fs::read(dir.join("apt_charmingkitten.txt")).unwrap(),
        &options("c"),
    )
    .unwrap();
    let counts = load(&charming).counts();
    assert_eq!(counts[&IocType::Domains], 2260);
    assert_eq!(counts[&IocType::IpAddresses], 38);
    assert_eq!(counts[&IocType::UrlPaths], 16);
    assert_eq!(counts[&IocType::Urls], 1);
}

#[test]
fn iran_collection_regenerates_byte_identically() {
    let Some(dir) = maltrail() else { return };
    let committed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/indicators/iran-state-linked.stix2");
    let generated = iran::generate(&dir).unwrap();
    assert!(
        generated == std::fs::read(&committed).unwrap(),
        "data/indicators/iran-state-linked.stix2 is stale: run scripts/iran-collection.sh"
    );
    let mut ind = Indicators::new();
    let file = ind
        .load_bundle(&generated, Path::new("iran-state-linked.stix2"))
        .unwrap();
    assert_eq!(
        file.collections,
        [
            "Charming Kitten (APT42)",
            "Domestic Kitten",
            "RatMilad",
            "Ferocious Kitten",
            "Imperial Kitten",
            "Rampant Kitten"
        ]
    );
    assert!(file.unsupported.is_empty());
    assert_eq!(ind.len(), 2429);
    let hit = ind
        .check_url("https://attacker.example/hass/upload-log.php?id=3")
        .unwrap();
    assert_eq!(hit.collection, "Domestic Kitten");
    let objects = objects(&generated);
    let note = objects.iter().find(|o| o["type"] == "note").unwrap();
    assert!(
        note["content"]
            .as_str()
            .unwrap()
            .starts_with("The MIT License (MIT)")
    );
    assert_eq!(note["object_refs"].as_array().unwrap().len(), 6);
}
