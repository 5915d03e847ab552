use std::path::Path;

use super::*;
use crate::build::PARALLEL_INDICATORS;

fn load(patterns: &[&str]) -> Indicators {
    let mut ind = Indicators::new();
    let json = test_bundle_json("TestMalware", patterns);
    ind.load_bundle(json.as_bytes(), Path::new("/x/test.stix2"))
        .expect("test bundle loads");
    ind
}

#[test]
fn keys_normalise_like_lookups() {
    let ind = load(&[
        "[domain-name:value = 'WWW.Example.ORG.']",
        "[email-addr:value = 'Foo@Example.org']",
        "[app:cert.sha256 = 'AB:CD']",
    ]);
    let hit = ind.check_url("https://example.org/").expect("hit");
    assert_eq!(hit.value, "WWW.Example.ORG.");
    assert_eq!(hit.rule, MatchRule::Domain);
    assert!(ind.check_email("mailto:FOO@example.ORG").is_some());
    assert!(ind.check_app_cert_hash("abcd").is_some());
    assert_eq!(ind.counts().values().sum::<usize>(), 3);
}

/// A bundle large enough to be keyed on two threads: values in the second half still
/// lose to the same value earlier in the file, every kind of value is stored, and each
/// indicator keeps its own id and `valid_from` (UUID ids and others, with and without one).
#[test]
fn compact_bundles_are_keyed_on_two_threads_after_parsing() {
    // Under the size parsed in pieces, over the count keyed on two threads: collections
    // are assigned across the two shares.
    let n = PARALLEL_INDICATORS + 2_000;
    let mut objects = vec![
        r#"{"type":"malware","id":"m0","name":"Thirds"}"#.to_string(),
        r#"{"type":"malware","id":"m1","name":"Others"}"#.to_string(),
    ];
    let id = |i: usize| match i % 8 {
        0 => format!("indicator--00000000-0000-4000-8000-{i:012x}"),
        _ => format!("i{i}"),
    };
    let valid_from = |i: usize| {
        i.is_multiple_of(10)
            .then(|| format!("2024-01-26T21:28:{:02}.{i}Z", i % 60))
    };
    for i in 0..n {
        let from = valid_from(i).map_or(String::new(), |t| format!(r#","valid_from":"{t}""#));
        objects.push(format!(
            r#"{{"type":"indicator","id":"{}","pattern":"[domain-name:value='h{i}.x']"{from}}}"#,
            id(i)
        ));
        objects.push(format!(
            r#"{{"type":"relationship","source_ref":"{}","target_ref":"m{}"}}"#,
            id(i),
            u8::from(i % 3 != 0)
        ));
    }
    let json = format!(r#"{{"objects":[{}]}}"#, objects.join(","));
    assert!(json.len() < 8 << 20, "parsed in one piece: {}", json.len());
    let mut ind = Indicators::new();
    ind.load_bundle(json.as_bytes(), Path::new("compact.stix2"))
        .expect("loads");
    for i in [
        0,
        1,
        5,
        n / 2 - 1,
        n / 2,
        n / 2 + 1,
        n / 2 + 5,
        n - 5,
        n - 2,
        n - 1,
    ] {
        let hit = ind.check_url(&format!("h{i}.x")).expect("hit");
        let expected = if i % 3 == 0 { "Thirds" } else { "Others" };
        assert_eq!(hit.collection, expected, "h{i}.x");
        assert_eq!(hit.stix.id, id(i));
        assert_eq!(hit.stix.valid_from, valid_from(i), "h{i}.x");
    }
    let counts: Vec<_> = ind
        .collections_summary()
        .into_iter()
        .map(|c| (c.name, c.indicators))
        .collect();
    let thirds = n.div_ceil(3);
    assert_eq!(
        counts,
        [("Thirds".into(), thirds), ("Others".into(), n - thirds)]
    );
}

#[test]
fn large_bundles_assign_collections_after_keying() {
    // Large enough to be parsed (and keyed) in pieces: indicators linked to one of two
    // malware, listed in a report, or neither, spread over the whole file.
    let n = 40_000;
    let mut objects = vec![
        r#"{"type":"malware","id":"malware--a","name":"A"}"#.to_string(),
        r#"{"type":"report","id":"report--r","name":"R","object_refs":["indicator--7","indicator--39999"]}"#.to_string(),
    ];
    for i in 0..n {
        objects.push(format!(
            r#"{{"type":"indicator","id":"indicator--{i}","description":"{:0>200}","pattern":"[domain-name:value = 'host{i}.example.net']","pattern_type":"stix"}}"#,
            i
        ));
        let target = match i % 3 {
            0 => "malware--a",
            1 => "malware--b",
            _ => continue,
        };
        objects.push(format!(
            r#"{{"type":"relationship","source_ref":"indicator--{i}","target_ref":"{target}"}}"#
        ));
    }
    objects.push(r#"{"type":"malware","id":"malware--b","name":"B"}"#.to_string());
    let json = format!(r#"{{"type":"bundle","objects":[{}]}}"#, objects.join(","));
    assert!(json.len() > 8 << 20, "parsed in pieces");
    let mut ind = Indicators::new();
    ind.load_bundle(json.as_bytes(), Path::new("big.stix2"))
        .expect("loads");
    let collection = |i: usize| {
        ind.check_url(&format!("host{i}.example.net"))
            .expect("hit")
            .collection
    };
    assert_eq!(collection(0), "A");
    assert_eq!(collection(1), "B");
    assert_eq!(collection(2), "Default collection");
    assert_eq!(collection(7), "R", "a report wins over the relationship");
    assert_eq!(collection(39_999), "R");
    assert_eq!(collection(39_998), "Default collection");
    assert_eq!(collection(39_997), "B");
    let counts: Vec<_> = ind
        .collections_summary()
        .into_iter()
        .map(|c| (c.name, c.indicators))
        .collect();
    assert_eq!(
        counts,
        [
            ("A".to_string(), 13_333),
            ("B".to_string(), 13_332),
            ("R".to_string(), 2),
            ("Default collection".to_string(), 13_333),
        ]
    );
}

#[test]
fn large_bundles_keep_file_order() {
    let filler: Vec<String> = (0..PARALLEL_INDICATORS)
        .map(|i| format!("[domain-name:value = 'host{i}.example.net']"))
        .collect();
    let mut patterns = vec!["[domain-name:value = 'Dup.Example.']"];
    patterns.extend(filler.iter().map(String::as_str));
    patterns.extend([
        "[domain-name:value = 'dup.example']",
        "[ipv4-addr:value = '192.0.2.0/24']",
        "[process:name = 'averyveryverylongdaemonname']",
        "[url:value = 'https://bad.example.org/x']",
        "[domain-name:value = 'WWW.Last.Example']",
    ]);
    let ind = load(&patterns);
    assert_eq!(
        ind.len(),
        PARALLEL_INDICATORS + 5,
        "the repeated value counts once"
    );
    let hit = ind.check_url("http://a.dup.example/").expect("hit");
    assert_eq!(
        (hit.value.as_str(), hit.rule),
        ("Dup.Example.", MatchRule::SubDomain)
    );
    let last = PARALLEL_INDICATORS - 1;
    assert!(ind.check_url(&format!("host{last}.example.net")).is_some());
    assert!(ind.check_url("host0.example.net").is_some());
    assert!(ind.check_url("https://192.0.2.77/").is_some());
    assert!(ind.check_process("averyveryverylo").is_none());
    assert!(
        ind.check_process("averyveryverylon").is_some(),
        "16-character truncation"
    );
    assert!(ind.check_url("https://bad.example.org/x").is_some());
    assert!(ind.check_url("example.net").is_none());
    // A value written differently from its key, in the last share: shown as written.
    let last = ind.check_url("https://cdn.last.example/").expect("hit");
    assert_eq!(last.value, "WWW.Last.Example");
}
