//! Each export format on indicators loaded from an import, and the TLP limit.

use std::path::Path;

use portcullis_indicators::Indicators;
use portcullis_interchange::export::{Dataset, ExportFormat, ExportSummary, Tlp, export};
use portcullis_interchange::{Format, ImportOptions, import};

fn loaded() -> Indicators {
    let options = |name: &str| ImportOptions {
        name: name.into(),
        date: "2024-01-02".into(),
        licence: None,
        include_non_ids: false,
    };
    let mut ind = Indicators::new();
    for (format, file) in [(Format::Plain, "trail.txt"), (Format::Misp, "event.json")] {
        let bytes = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(file),
        )
        .unwrap();
        let imported = import(format, &bytes, &options("Test Kitten")).unwrap();
        ind.load_bundle(&imported.bundle("test"), Path::new(file))
            .unwrap();
    }
    ind
}

fn run(format: ExportFormat, tlp: Option<Tlp>) -> (String, ExportSummary) {
    let mut out = Vec::new();
    let summary = export(&loaded(), format, tlp, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), summary)
}

#[test]
fn zeek_intel_has_its_header_and_types() {
    let (text, summary) = run(ExportFormat::ZeekIntel, None);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
    );
    let row = |v: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{v}\t")))
            .copied()
    };
    let bad = row("bad.example").unwrap();
    let cells: Vec<&str> = bad.split('\t').collect();
    assert_eq!(&cells[1..3], ["Intel::DOMAIN", "Test Kitten"]);
    assert!(cells[3].starts_with("indicator--"));
    assert!(row("203.0.113.0/24").unwrap().contains("\tIntel::SUBNET\t"));
    assert!(row("198.51.100.7").unwrap().contains("\tIntel::ADDR\t"));
    assert!(
        row("files.bad.example/payload.apk")
            .unwrap()
            .contains("\tIntel::URL\t")
    );
    assert!(
        row("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
            .unwrap()
            .contains("\tIntel::FILE_HASH\t")
    );
    assert!(
        row("recruiter@misp-bad.example")
            .unwrap()
            .contains("\tIntel::EMAIL\t")
    );
    assert!(row("update.apk").unwrap().contains("\tIntel::FILE_NAME\t"));
    // The URL path has no Zeek type (and a scheme-less URL is two URL indicators).
    assert!(row("/hass/upload-log.php").is_none());
    assert_eq!(summary.not_expressible, 1);
    assert_eq!(summary.written, lines.len() - 1);
}

#[test]
fn suricata_datasets_one_type_each() {
    let (domains, _) = run(ExportFormat::SuricataDataset(Dataset::Domains), None);
    let decoded: Vec<String> = domains
        .lines()
        .map(|l| {
            use base64::Engine;
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(l).unwrap()).unwrap()
        })
        .collect();
    assert!(decoded.contains(&"bad.example".to_string()));
    assert!(decoded.contains(&"c2.misp-bad.example".to_string()));
    assert!(!decoded.iter().any(|d| d.contains('/')));
    let (ips, _) = run(ExportFormat::SuricataDataset(Dataset::Ips), None);
    assert_eq!(
        ips, "198.51.100.7\n198.51.100.8\n203.0.113.50\n",
        "CIDR networks cannot be in a dataset"
    );
    let (paths, _) = run(ExportFormat::SuricataDataset(Dataset::UrlPaths), None);
    assert_eq!(paths, "L2hhc3MvdXBsb2FkLWxvZy5waHA=\n");
    let (sha, _) = run(ExportFormat::SuricataDataset(Dataset::Sha256), None);
    assert_eq!(
        sha,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
    );
}

#[test]
fn hosts_csv_and_stix2() {
    let (hosts, _) = run(ExportFormat::Hosts, None);
    assert!(hosts.starts_with("# "));
    assert!(hosts.contains("\n0.0.0.0 bad.example\n"));
    assert!(hosts.contains("\n0.0.0.0 login.bad.example\n"));
    assert!(!hosts.contains("198.51.100"));

    let (csv, summary) = run(ExportFormat::Csv, None);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["value", "type", "collection", "indicator_id"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), summary.written);
    let first = &rows[0];
    assert_eq!(
        (&first[0], &first[1], &first[2]),
        ("bad.example", "domains", "Test Kitten")
    );
    assert!(
        rows.iter()
            .any(|r| &r[0] == "/hass/upload-log.php" && &r[1] == "url_paths")
    );
    assert!(rows.iter().any(|r| &r[2] == "Operation Test Kitten"));

    let (stix, summary) = run(ExportFormat::Stix2, None);
    let mut again = Indicators::new();
    again
        .load_bundle(stix.as_bytes(), Path::new("export.stix2"))
        .unwrap();
    assert_eq!(again.len(), summary.written);
    assert_eq!(again.len(), loaded().len());
    assert_eq!(
        again
            .check_url("https://x.example/hass/upload-log.php")
            .unwrap()
            .collection,
        "Test Kitten"
    );
    assert_eq!(
        again
            .check_host("c2.misp-bad.example")
            .unwrap()
            .stix
            .tlp
            .as_deref(),
        Some("TLP:RED")
    );
    assert_eq!(stix, run(ExportFormat::Stix2, None).0, "deterministic");
}

#[test]
fn the_tlp_limit_leaves_out_what_is_marked_above_it() {
    let (all, everything) = run(ExportFormat::Csv, None);
    let (amber, at_amber) = run(ExportFormat::Csv, Some(Tlp::Amber));
    assert!(all.contains("c2.misp-bad.example"));
    assert!(
        !amber.contains("c2.misp-bad.example"),
        "TLP:RED is above amber"
    );
    assert!(amber.contains("misp-bad.example,domains"));
    assert_eq!(at_amber.above_tlp, 1);
    let (clear, at_clear) = run(ExportFormat::Csv, Some(Tlp::Clear));
    assert!(!clear.contains("misp-bad.example"));
    assert!(clear.contains("bad.example"), "unmarked counts as clear");
    assert_eq!(at_clear.written + at_clear.above_tlp, everything.written);
    assert_eq!(Tlp::parse("TLP:AMBER+STRICT"), Some(Tlp::AmberStrict));
    assert_eq!(Tlp::parse("white"), Some(Tlp::Clear));
    assert_eq!(Tlp::parse("purple"), None);
}

#[test]
fn stix2_keeps_every_type() {
    let patterns = [
        "[process:name = 'bh']",
        "[file:path = '/private/var/db/com.apple.xpc.roleaccountd.staging/x']",
        "[app:id = 'com.evil.app']",
        "[app:cert.sha1 = '61ed377e85d386a8dfee6b864bd85b0bfaa5af81']",
        "[configuration-profile:id = 'A1B2C3D4-0000-4000-8000-000000000001']",
        "[android-property:name = 'persist.evil']",
        "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']",
    ];
    let mut ind = Indicators::new();
    let json = portcullis_indicators::test_bundle_json("Every type", &patterns);
    ind.load_bundle(json.as_bytes(), Path::new("types.stix2"))
        .unwrap();
    let mut out = Vec::new();
    let summary = export(&ind, ExportFormat::Stix2, None, &mut out).unwrap();
    assert_eq!((summary.written, summary.not_expressible), (7, 0));
    let mut again = Indicators::new();
    again.load_bundle(&out, Path::new("export.stix2")).unwrap();
    assert_eq!(again.counts(), ind.counts());
    assert!(again.check_process("bh").is_some());
    assert!(
        again
            .check_app_cert_hash("61:ED:37:7E:85:D3:86:A8:DF:EE:6B:86:4B:D8:5B:0B:FA:A5:AF:81")
            .is_some()
    );
}
