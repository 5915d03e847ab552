//! `portcullis iocs import` of every format and `iocs export` of every format, through the
//! command line, on the importer's test inputs.

mod common;

use std::path::{Path, PathBuf};

use common::iocs;

fn input(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../portcullis-interchange/tests/data")
        .join(name)
}

#[test]
fn every_format_imports_installs_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let imports = [
        ("trail.txt", "plain", "trail", 10),
        ("iocs.csv", "csv", "iocs", 6),
        ("event.json", "misp", "event", 8),
        ("intel.dat", "zeek-intel", "intel", 7),
    ];
    for (file, format, name, indicators) in imports {
        let path = input(file);
        let (code, out, err) = iocs(
            &data,
            &[
                "import",
                path.to_str().unwrap(),
                "--format",
                format,
                "--date",
                "2024-01-02",
                "--licence",
                "CC0",
            ],
        );
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains(&format!("Installed \"{name}\": {indicators} indicators")),
            "{out}"
        );
    }
    let (_, _, err) = iocs(
        &data,
        &[
            "import",
            input("trail.txt").to_str().unwrap(),
            "--format",
            "plain",
            "--date",
            "2024-01-02",
        ],
    );
    assert!(
        err.contains("skipped line 20: \"this is not an entry\""),
        "{err}"
    );
    // The same file and date give the same bundle.
    let installed = data.join("iocs/collections/trail.stix2");
    let first = std::fs::read(&installed).unwrap();
    iocs(
        &data,
        &[
            "import",
            input("trail.txt").to_str().unwrap(),
            "--format",
            "plain",
            "--date",
            "2024-01-02",
        ],
    );
    assert_eq!(std::fs::read(&installed).unwrap(), first);

    let (_, list, _) = iocs(&data, &["list"]);
    assert!(
        list.contains("holds:        3 domains, 3 ip_addresses, 1 url_paths, 3 urls"),
        "{list}"
    );
    let (_, show, _) = iocs(
        &data,
        &["show", "https://anywhere.example/hass/upload-log.php"],
    );
    assert!(
        show.contains("url_paths \"/hass/upload-log.php\" in collection \"trail\""),
        "{show}"
    );

    let (code, zeek, err) = iocs(&data, &["export", "--format", "zeek-intel"]);
    assert_eq!(code, 0, "{err}");
    assert!(zeek.starts_with("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n"));
    assert!(
        zeek.contains("\nzeek-bad.example\tIntel::DOMAIN\tLab feed\t"),
        "{zeek}"
    );
    assert!(err.contains("Exported "), "{err}");
    let (_, hosts, _) = iocs(
        &data,
        &["export", "--format", "hosts", "--collection", "iocs"],
    );
    assert!(hosts.contains("\n0.0.0.0 evil.example\n"), "{hosts}");
    assert!(
        !hosts.contains("bad.example\n0") && !hosts.contains("zeek-bad"),
        "{hosts}"
    );
    let (_, ips, _) = iocs(
        &data,
        &[
            "export",
            "--format",
            "suricata-dataset",
            "--dataset",
            "ips",
            "--collection",
            "intel",
        ],
    );
    assert_eq!(ips, "192.0.2.10\n");
    let out = dir.path().join("all.csv");
    let (code, _, err) = iocs(
        &data,
        &[
            "export",
            "--format",
            "csv",
            "--tlp-max",
            "amber",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("value,type,collection,indicator_id\n"));
    assert!(csv.contains("misp-bad.example,domains,Operation Test Kitten,indicator--"));
    assert!(!csv.contains("c2.misp-bad.example"), "TLP:RED is left out");
    assert!(err.contains("1 above the TLP limit"), "{err}");
    let (code, stix, _) = iocs(
        &data,
        &["export", "--format", "stix2", "--collection", "event"],
    );
    assert_eq!(code, 0);
    let bundle: serde_json::Value = serde_json::from_str(&stix).unwrap();
    assert_eq!(bundle["type"], "bundle");

    let (code, _, err) = iocs(
        &data,
        &["export", "--format", "csv", "--collection", "nope"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no installed collection is named \"nope\""),
        "{err}"
    );
    std::fs::write(dir.path().join("bad.json"), "{\"Event\": [").unwrap();
    let (code, _, err) = iocs(
        &data,
        &[
            "import",
            dir.path().join("bad.json").to_str().unwrap(),
            "--format",
            "misp",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("not MISP event JSON"), "{err}");
}

#[test]
fn the_iran_collection_installs_offline_and_matches_url_paths() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out, _) = iocs(
        &data,
        &["update", "--index", "http://127.0.0.1:1/indicators.yaml"],
    );
    assert_eq!(code, 0, "the shipped collection is current: {out}");
    assert!(
        out.contains("iran-state-linked                installed, 2429 indicators"),
        "{out}"
    );
    let (_, list, _) = iocs(&data, &["list"]);
    assert!(
        list.contains("licence:      MIT (Maltrail developers)"),
        "{list}"
    );
    assert!(
        list.contains("https://github.com/stamparm/maltrail (shipped with Portcullis)"),
        "{list}"
    );
    let (_, show, _) = iocs(
        &data,
        &["show", "https://any.host.example/hass/upload-log.php?id=1"],
    );
    assert!(show.contains("in collection \"Domestic Kitten\""), "{show}");
    let (_, show, _) = iocs(&data, &["show", "hass"]);
    assert!(
        show.contains("is in none of"),
        "a URL path never matches a host: {show}"
    );
    let (_, show, _) = iocs(&data, &["show", "accounts-googelmail.com"]);
    assert!(
        show.contains("in collection \"Charming Kitten (APT42)\""),
        "{show}"
    );
}
