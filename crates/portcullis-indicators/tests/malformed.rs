//! Hostile or broken input: errors and "unsupported" notes, never a panic.

use std::path::Path;

use portcullis_indicators::{Indicators, LoadError, test_bundle_json};

fn load(patterns: &[&str]) -> (Indicators, Vec<String>) {
    let mut ind = Indicators::new();
    let json = test_bundle_json("M", patterns);
    let file = ind
        .load_bundle(json.as_bytes(), Path::new("m.stix2"))
        .expect("a valid bundle loads");
    (ind, file.unsupported)
}

#[test]
fn invalid_json_names_the_file() {
    let mut ind = Indicators::new();
    for bytes in [
        &b"{\"objects\": ["[..],
        b"",
        b"\xff\xfe",
        b"[1, 2]",
        b"{\"objects\": {}}",
        b"null",
    ] {
        let err = ind
            .load_bundle(bytes, Path::new("/some/where/bad.stix2"))
            .expect_err("not a bundle");
        assert!(matches!(err, LoadError::Invalid { .. }));
        assert!(err.to_string().contains("/some/where/bad.stix2"), "{err}");
    }
    assert!(ind.is_empty());
    assert!(ind.files().is_empty());
}

#[test]
fn missing_files_are_io_errors() {
    let mut ind = Indicators::new();
    let err = ind
        .load_path(Path::new("/nonexistent/portcullis.stix2"))
        .expect_err("missing");
    assert!(matches!(err, LoadError::Io { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/portcullis.stix2"));
}

#[test]
fn a_value_holding_equals_and_quotes_loads() {
    let (ind, unsupported) = load(&[r"[url:value = 'https://x.org/a?b=c&d=\'e\'']"]);
    assert!(unsupported.is_empty());
    assert_eq!(ind.len(), 1);
    let hit = ind.check_url("https://x.org/a?b=c&d='e'").expect("hit");
    assert_eq!(hit.value, "https://x.org/a?b=c&d='e'");
}

#[test]
fn broken_patterns_are_unsupported_not_fatal() {
    let deep = format!(
        "{}[domain-name:value = 'a.com']{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let huge = format!("[domain-name:value = '{}']", "a".repeat(100_000));
    let patterns = [
        "[domain-name:value = 'ok.com']",
        "[domain-name:value = 'a.com'",
        "domain-name:value = 'a.com']",
        "[domain-name:value = 'a.com]",
        "[domain-name:value = 'a.com\\",
        "[[domain-name:value = 'a.com']]",
        "[domain-name:value MATCHES '^a']",
        "[domain-name:value = 'a.com'] WITHIN 300 SECONDS",
        "[x-custom:thing = 'a']",
        "[domain-name:value = '']",
        "[domain-name:value = '   ']",
        "[file:path = '/']",
        "[ipv4-addr:value = 'not-an-ip']",
        "[ipv4-addr:value = '1.2.3.4/40']",
        "",
        &deep,
        &huge,
    ];
    let (ind, unsupported) = load(&patterns);
    assert_eq!(ind.len(), 1, "only ok.com loads");
    assert_eq!(unsupported.len(), patterns.len() - 1, "{unsupported:#?}");
    for note in &unsupported {
        assert!(note.starts_with("indicator--"), "{note}");
        assert!(
            note.chars().count() < 400,
            "notes quote an excerpt only: {note}"
        );
    }
    assert!(ind.check_url("ok.com").is_some());
}

#[test]
fn odd_objects_are_skipped() {
    let json = r#"{"objects": [
        {"type": "indicator", "id": "indicator--1"},
        {"type": "indicator", "id": "indicator--2", "pattern": 7},
        {"type": "indicator", "id": "indicator--3", "pattern": "[domain-name:value = 'a.com']", "pattern_type": "yara"},
        {"type": "indicator", "pattern": "[domain-name:value = 'b.com']"},
        {"type": "malware", "name": null},
        {"type": "relationship", "source_ref": 1, "target_ref": []},
        {"type": ["indicator"], "id": "indicator--5", "pattern": "[domain-name:value = 'c.com']"}
    ]}"#;
    let mut ind = Indicators::new();
    let f = ind
        .load_bundle(json.as_bytes(), Path::new("odd.json"))
        .expect("loads");
    assert_eq!(f.unsupported.len(), 3, "{:?}", f.unsupported);
    assert_eq!(ind.len(), 1);
    // A malware with neither name nor id still makes a collection; b.com has no links.
    assert_eq!(f.collections, ["Unnamed collection", "Default collection"]);
    assert!(ind.check_url("b.com").is_some());
    assert!(ind.check_url("c.com").is_none());
}

/// A small deterministic generator (no extra dependency) for mutation testing.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_patterns_and_lookups_never_panic() {
    const PIECES: &[&str] = &[
        "[",
        "]",
        "(",
        ")",
        "'",
        "\\",
        "\\'",
        "=",
        "!=",
        " OR ",
        " AND ",
        " FOLLOWEDBY ",
        "IN",
        "domain-name:value",
        "url:value",
        "file:hashes.'SHA-256'",
        "app:cert.sha1",
        "process:name",
        "file:path",
        "ipv6-addr:value",
        "'a.com'",
        "'::1'",
        "'1.2.3.4/8'",
        "h'00'",
        "t'2020'",
        "5",
        "-",
        ".",
        ":",
        "*",
        ",",
        "WITHIN",
        "é",
        "\u{0}",
        "NOT",
        "EXISTS",
        "'ß.de'",
        " ",
    ];
    let mut rng = Lcg(0x5eed);
    let mut patterns = Vec::new();
    for _ in 0..3000 {
        let n = 1 + rng.below(14);
        let p: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        patterns.push(p);
    }
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    let (ind, _) = load(&refs);

    const INPUTS: &[&str] = &[
        "",
        "/",
        "//",
        ":",
        "@",
        "[",
        "[::1",
        "http://[",
        "http://[]/",
        "http://@/",
        "a:b:c",
        "https://%00/",
        "xn--",
        "xn--.com",
        "http://xn--zz/",
        "é",
        "ß.de",
        "...",
        "*.",
        "*",
        "http://1.2.3.4:99999/",
        "0.0.0.0",
        "::",
        "[::ffff:1.2.3.4]",
        "mailto:",
        "a@",
        "\u{0}",
        "https://a.com/ß?é#x",
        "１.２.３.４",
        "www.",
        "www..com",
        "-.com",
        "a..b..c",
    ];
    for input in INPUTS {
        let mixed = format!("{input}{}", PIECES[rng.below(PIECES.len())]);
        for s in [*input, mixed.as_str()] {
            let _ = ind.check_url(s);
            let _ = ind.check_process(s);
            let _ = ind.check_email(s);
            let _ = ind.check_file_name(s);
            let _ = ind.check_file_path(s);
            let _ = ind.check_path_contains_process(s);
            let _ = ind.check_profile_id(s);
            let _ = ind.check_file_hash(s);
            let _ = ind.check_app_cert_hash(s);
            let _ = ind.check_app_id(s);
            let _ = ind.check_android_property(s);
        }
    }
}

#[test]
fn truncated_bundles_never_panic() {
    let json = test_bundle_json(
        "M",
        &[
            "[domain-name:value = 'a.com']",
            "[url:value = 'http://x/\\'']",
        ],
    );
    let bytes = json.as_bytes();
    let mut ind = Indicators::new();
    for cut in 0..bytes.len() {
        let _ = ind.load_bundle(&bytes[..cut], Path::new("cut.stix2"));
    }
    let mut rng = Lcg(7);
    for _ in 0..2000 {
        let mut b = bytes.to_vec();
        let at = rng.below(b.len());
        b[at] = rng.below(256) as u8;
        let _ = ind.load_bundle(&b, Path::new("flip.stix2"));
    }
}

#[test]
fn folders_load_stix2_and_json_sorted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(
        sub.join("b.stix2"),
        test_bundle_json("B", &["[process:name = 'b']"]),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("a.json"),
        test_bundle_json("A", &["[process:name = 'a']"]),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("c.STIX2"),
        test_bundle_json("C", &["[process:name = 'c']"]),
    )
    .expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not an indicator file").expect("write");

    let mut ind = Indicators::new();
    let files = ind.load_path(dir.path()).expect("loads");
    let names: Vec<_> = files.iter().flat_map(|f| f.collections.clone()).collect();
    assert_eq!(names, ["A", "C", "B"]);
    assert_eq!(ind.len(), 3);

    std::fs::write(sub.join("z.json"), "{ broken").expect("write");
    let mut ind = Indicators::new();
    let err = ind.load_path(dir.path()).expect_err("broken file");
    assert!(err.to_string().contains("z.json"), "{err}");
    // The files before the broken one stay loaded.
    assert_eq!(ind.files().len(), 3);
}

#[test]
fn large_bundles_keep_file_order() {
    // Large enough for patterns to be parsed on two threads.
    let patterns: Vec<String> = (0..60_000)
        .map(|i| match i % 10_000 {
            0 => format!("[x-bad:value = '{i}']"),
            1 => "[process:name = 'shared-process-name-first']".to_string(),
            2 => format!("[process:name = 'shared-process-name-{i}']"),
            _ => format!("[domain-name:value = 'd{i}.example']"),
        })
        .collect();
    let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
    let (ind, unsupported) = load(&refs);
    let ids: Vec<&str> = unsupported
        .iter()
        .map(|n| &n[..n.find(':').unwrap()])
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids.len(), 6);
    assert_eq!(ids, sorted, "notes are in file order");
    assert_eq!(ind.len(), 60_000 - 6 - 5);
    assert!(ind.check_url("https://d59999.example/").is_some());
    // The first 16 characters are shared: the first indicator in the file wins.
    assert_eq!(
        ind.check_process("shared-process-n").expect("hit").value,
        "shared-process-name-first"
    );
}
