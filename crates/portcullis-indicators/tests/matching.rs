//! Matching rules (docs/matching.md), on bundles built inside the tests.

use std::path::Path;

use portcullis_indicators::{IndicatorMatch, Indicators, IocType, MatchRule, test_bundle_json};

const SHA256: &str = "570cd76bf49cf52e0cb347a68bdcf0590b2eaece134e1b1eba7e8d66261bdbe6";
const SHA1: &str = "da0611a300a9ce9aa7a09d1a11adbd2bd8de6794";

/// The equivalent of MVT's `test.stix2` (whose hashes are the two above).
const MVT_TEST: &[&str] = portcullis_testkit::MVT_TEST_PATTERNS;

fn load(patterns: &[&str]) -> Indicators {
    let mut ind = Indicators::new();
    let json = test_bundle_json("TestMalware", patterns);
    let file = ind
        .load_bundle(json.as_bytes(), Path::new("/tmp/test.stix2"))
        .expect("loads");
    assert!(file.unsupported.is_empty(), "{:?}", file.unsupported);
    ind
}

fn rule(hit: Option<IndicatorMatch>) -> Option<MatchRule> {
    hit.map(|h| h.rule)
}

#[test]
fn mvt_test_bundle_messages() {
    let ind = load(MVT_TEST);
    assert_eq!(ind.len(), 9);
    let file = &ind.files()[0];
    assert_eq!(file.collections, ["TestMalware"]);

    let hit = ind
        .check_url("https://badbadbad.example.org/")
        .expect("sub-domain");
    assert_eq!(
        hit.message(),
        "Found a sub-domain with a suspicious top level https://badbadbad.example.org/ matching \
         indicator \"example.org\" from \"TestMalware\""
    );
    assert_eq!(hit.file, "test.stix2");
    assert_eq!(hit.ioc_type, IocType::Domains);
    let hit = ind.check_url("https://example.org/news").expect("domain");
    assert_eq!(
        hit.message(),
        "Found a known suspicious domain https://example.org/news matching indicator \
         \"example.org\" from \"TestMalware\""
    );
    let hit = ind.check_url("www.example.org").expect("www host");
    assert_eq!(
        hit.message(),
        "Found a known suspicious domain www.example.org matching indicator \"example.org\" from \
         \"TestMalware\""
    );
    let hit = ind.check_process("Launch").expect("process");
    assert_eq!(
        hit.message(),
        "Found a known suspicious process name \"Launch\" matching indicators from \"TestMalware\""
    );
    let hit = ind.check_url("198.51.100.1").expect("ip");
    assert_eq!(
        hit.message(),
        "Found a known suspicious IP address 198.51.100.1 matching indicator \"198.51.100.1\" from \
         \"TestMalware\""
    );
    let hit = ind.check_url("http://example.com/thisisbad").expect("url");
    assert_eq!(
        hit.message(),
        "Found a known suspicious URL http://example.com/thisisbad matching indicator \
         \"http://example.com/thisisbad\" from \"TestMalware\""
    );
    let hit = ind.check_email("foobar@example.org").expect("email");
    assert_eq!(
        hit.message(),
        "Found a known suspicious email address \"foobar@example.org\" matching indicators from \
         \"TestMalware\""
    );
    let hit = ind.check_file_hash(SHA256).expect("sha256");
    assert_eq!(
        hit.message(),
        format!(
            "Found a known suspicious file with hash \"{SHA256}\" matching indicators from \
             \"TestMalware\""
        )
    );
    let hit = ind.check_android_property("sys.foobar").expect("property");
    assert_eq!(
        hit.message(),
        "Found a known suspicious Android property \"sys.foobar\" matching indicators from \
         \"TestMalware\""
    );
    let hit = ind.check_file_name("/var/foobar/txt").expect("file name");
    assert_eq!(
        hit.message(),
        "Found a known suspicious file name \"/var/foobar/txt\" matching indicators from \
         \"TestMalware\""
    );
}

#[test]
fn other_messages() {
    let ind = load(&[
        "[app:id = 'com.bad.app']",
        "[configuration-profile:id = '76DAB334-7E17-475D-A5D6-0794EB5818A5']",
        "[app:cert.sha256 = 'C7E56178']",
        "[file:path = '/private/var/tmp/hooker/']",
        "[process:name = 'com.apple.WebKit.Networking']",
        "[file:name = 'evil.dylib']",
    ]);
    let msg = |hit: Option<IndicatorMatch>| hit.expect("hit").message();
    assert_eq!(
        msg(ind.check_app_id("COM.bad.app")),
        "Found a known suspicious app with ID \"COM.bad.app\" matching indicators from \"TestMalware\""
    );
    assert_eq!(
        msg(ind.check_profile_id("76dab334-7e17-475d-a5d6-0794eb5818a5")),
        "Found a known suspicious profile ID \"76dab334-7e17-475d-a5d6-0794eb5818a5\" matching \
         indicators from \"TestMalware\""
    );
    assert_eq!(
        msg(ind.check_app_cert_hash("c7e56178")),
        "Found a known suspicious app certificate with hash \"c7e56178\" matching indicators from \
         \"TestMalware\""
    );
    assert_eq!(
        msg(ind.check_file_path("/private/var/tmp/hooker/x")),
        "Found a known suspicious file path \"/private/var/tmp/hooker/x\" matching indicators from \
         \"TestMalware\""
    );
    assert_eq!(
        msg(ind.check_file_path("/usr/lib/evil.dylib")),
        "Found a known suspicious file path \"/usr/lib/evil.dylib\" matching indicators from \
         \"TestMalware\""
    );
    assert_eq!(
        msg(ind.check_path_contains_process("/a/com.apple.WebKit.Networking/b")),
        "Found a known suspicious process name mentioned in file path \
         \"/a/com.apple.WebKit.Networking/b\" matching indicators from \"TestMalware\""
    );
    assert_eq!(
        msg(ind.check_process("com.apple.WebKit")),
        "Found a truncated known suspicious process name \"com.apple.WebKit\" matching indicators \
         from \"TestMalware\""
    );
}

#[test]
fn domains_match_sub_domains_on_label_boundaries() {
    let ind = load(&[
        "[domain-name:value = 'free247downloads.com']",
        "[domain-name:value = 'bad.com']",
        "[domain-name:value = 'evil.example.net']",
    ]);
    let cases = [
        ("free247downloads.com", Some(MatchRule::Domain)),
        ("https://free247downloads.com/x", Some(MatchRule::Domain)),
        (
            "https://a.b.free247downloads.com/x",
            Some(MatchRule::SubDomain),
        ),
        ("notfree247downloads.com", None),
        ("https://notfree247downloads.com/", None),
        ("free247downloads.com.evil.org", None),
        ("https://bad.com.evil.net/", None),
        ("https://x.bad.com.evil.net/", None),
        ("https://bad.co/", None),
        ("https://evil.example.net/", Some(MatchRule::Domain)),
        // Unlike MVT, a sub-domain indicator also covers its own sub-domains.
        (
            "https://deeper.evil.example.net/",
            Some(MatchRule::SubDomain),
        ),
        ("https://example.net/", None),
        ("https://xevil.example.net/", None),
        ("", None),
        ("   ", None),
        ("https:///", None),
        ("com", None),
    ];
    for (input, want) in cases {
        assert_eq!(rule(ind.check_url(input)), want, "{input}");
    }
}

#[test]
fn hosts_are_normalised() {
    let ind = load(&["[domain-name:value = 'bad.com']"]);
    let cases = [
        "HTTPS://BAD.COM/",
        "https://Sub.Bad.Com/Path?q=1#f",
        "bad.com.",
        "https://bad.com.:443/",
        "https://bad.com:8080/",
        "bad.com:8080",
        "https://user:secret@bad.com/",
        "https://user@evil.org@bad.com/",
        "ftp://bad.com",
        "//bad.com/x",
        "bad.com/some/path",
        "bad.com?x=1",
        "  https://bad.com/  ",
        "www.bad.com",
        "https://WWW.bad.com/",
    ];
    for input in cases {
        assert!(ind.check_url(input).is_some(), "{input}");
    }
    for input in [
        "https://bad.com@evil.org/",
        "https://evil.org/?u=bad.com",
        "https://evil.org/bad.com",
        "https://evil.org#bad.com",
        "wwwbad.com",
        "w.bad.co",
    ] {
        assert!(ind.check_url(input).is_none(), "{input}");
    }
    // The input is reported as given.
    assert_eq!(
        ind.check_url("  https://bad.com/  ").expect("hit").input,
        "  https://bad.com/  "
    );
}

#[test]
fn www_indicators_match_their_host() {
    let ind = load(&[
        "[domain-name:value = 'www.bad.org']",
        "[domain-name:value = 'www.com']",
    ]);
    assert_eq!(
        rule(ind.check_url("https://bad.org/")),
        Some(MatchRule::Domain)
    );
    assert_eq!(
        rule(ind.check_url("https://www.bad.org/")),
        Some(MatchRule::Domain)
    );
    assert_eq!(
        rule(ind.check_url("https://cdn.bad.org/")),
        Some(MatchRule::SubDomain)
    );
    assert_eq!(
        ind.check_url("https://bad.org/").expect("hit").value,
        "www.bad.org"
    );
    // `www.com` is not reduced to `com`, so it does not match every .com host.
    assert_eq!(
        rule(ind.check_url("https://www.com/")),
        Some(MatchRule::Domain)
    );
    assert_eq!(rule(ind.check_url("https://other.com/")), None);
}

#[test]
fn punycode_both_ways() {
    let ind = load(&["[domain-name:value = 'xn--bcher-kva.example']"]);
    let hit = ind
        .check_url("https://BÜCHER.example/")
        .expect("unicode host");
    assert_eq!(hit.rule, MatchRule::Domain);
    assert_eq!(hit.value, "xn--bcher-kva.example");
    assert!(ind.check_url("https://shop.bücher.example/").is_some());
    assert!(ind.check_url("https://buecher.example/").is_none());

    let ind = load(&["[domain-name:value = 'BÜCHER.example']"]);
    assert!(ind.check_url("https://xn--bcher-kva.example/").is_some());
    assert!(ind.check_url("http://XN--BCHER-KVA.EXAMPLE").is_some());
    assert!(ind.check_url("bücher.example").is_some());
    assert_eq!(
        ind.check_url("bücher.example").expect("hit").value,
        "BÜCHER.example"
    );
}

#[test]
fn ip_addresses_compare_as_addresses() {
    let ind = load(&[
        "[ipv4-addr:value = '198.51.100.1']",
        "[ipv6-addr:value = '2001:DB8::1']",
        "[ipv4-addr:value = '203.0.113.0/24']",
        "[domain-name:value = '192.0.2.7']",
    ]);
    let cases = [
        ("198.51.100.1", Some(MatchRule::IpAddress)),
        ("https://198.51.100.1:8080/x", Some(MatchRule::IpAddress)),
        ("http://user@198.51.100.1/", Some(MatchRule::IpAddress)),
        ("198.51.100.10", None),
        ("198.51.100.100", None),
        ("1198.51.100.1", None),
        ("https://198.51.100.1.evil.org/", None),
        ("http://[2001:db8::1]/", Some(MatchRule::IpAddress)),
        (
            "http://[2001:db8:0:0:0:0:0:1]:443/",
            Some(MatchRule::IpAddress),
        ),
        ("2001:db8::1", Some(MatchRule::IpAddress)),
        ("2001:db8::10", None),
        ("http://[2001:db8::1:1]/", None),
        ("::ffff:198.51.100.1", Some(MatchRule::IpAddress)),
        ("203.0.113.77", Some(MatchRule::IpAddress)),
        ("203.0.114.1", None),
        ("192.0.2.7", Some(MatchRule::IpAddress)),
        ("192.0.2.70", None),
    ];
    for (input, want) in cases {
        assert_eq!(rule(ind.check_url(input)), want, "{input}");
    }
    let hit = ind.check_url("203.0.113.77").expect("cidr");
    assert_eq!(hit.value, "203.0.113.0/24");
    assert_eq!(hit.ioc_type, IocType::IpAddresses);
    assert_eq!(
        ind.check_url("[2001:db8::1]").expect("v6").value,
        "2001:DB8::1"
    );
}

#[test]
fn url_indicators() {
    let ind = load(&[
        "[url:value = 'http://example.com/thisisbad']",
        "[url:value = 'https://Bad.Example.ORG:443/a/b/?x=1']",
        "[url:value = 'https://x.org/a?b=c&d=\\'e\\'']",
    ]);
    let hit = |u: &str| rule(ind.check_url(u));
    assert_eq!(hit("http://example.com/thisisbad"), Some(MatchRule::Exact));
    assert_eq!(hit("http://example.com/thisisbad/"), Some(MatchRule::Exact));
    assert_eq!(hit("HTTP://EXAMPLE.COM/thisisbad"), Some(MatchRule::Exact));
    assert_eq!(
        hit("http://example.com:80/thisisbad#top"),
        Some(MatchRule::Exact)
    );
    assert_eq!(hit("http://example.com/thisisbad2"), None);
    assert_eq!(hit("http://example.com/ThisIsBad"), None);
    assert_eq!(hit("https://example.com/thisisbad"), None);
    assert_eq!(hit("http://example.com/"), None);
    assert_eq!(
        hit("https://bad.example.org/a/b?x=1"),
        Some(MatchRule::Exact)
    );
    assert_eq!(hit("https://bad.example.org/a/b/?x=2"), None);
    assert_eq!(hit("https://x.org/a?b=c&d='e'"), Some(MatchRule::Exact));
    assert_eq!(
        ind.check_url("https://x.org/a?b=c&d='e'")
            .expect("hit")
            .value,
        "https://x.org/a?b=c&d='e'"
    );
}

#[test]
fn processes() {
    let ind = load(&[
        "[process:name = 'Launch']",
        "[process:name = 'com.apple.WebKit.Networking']",
        "[process:name = 'exactly16chars__']",
    ]);
    assert_eq!(rule(ind.check_process("Launch")), Some(MatchRule::Exact));
    assert_eq!(
        rule(ind.check_process("/usr/bin/Launch")),
        Some(MatchRule::Exact)
    );
    assert_eq!(rule(ind.check_process("launch")), None);
    assert_eq!(rule(ind.check_process("Launchd")), None);
    assert_eq!(rule(ind.check_process("/usr/bin/")), None);
    assert_eq!(rule(ind.check_process("")), None);
    // 16 characters: the kernel's truncation of a longer name.
    assert_eq!(
        rule(ind.check_process("com.apple.WebKi")),
        None,
        "15 characters"
    );
    let hit = ind.check_process("/x/com.apple.WebKit").expect("16 chars");
    assert_eq!(hit.rule, MatchRule::TruncatedProcess);
    assert_eq!(hit.value, "com.apple.WebKit.Networking");
    assert_eq!(rule(ind.check_process("com.apple.WebKix")), None);
    assert_eq!(
        rule(ind.check_process("exactly16chars__")),
        Some(MatchRule::Exact)
    );

    let hit = ind
        .check_path_contains_process("/private/var/db/Launch/x.plist")
        .expect("component");
    assert_eq!(hit.rule, MatchRule::PathComponent);
    assert_eq!(hit.ioc_type, IocType::Processes);
    assert!(
        ind.check_path_contains_process("/private/var/db/Launchd/x")
            .is_none()
    );
    assert!(ind.check_path_contains_process("Launch").is_some());
    assert!(ind.check_path_contains_process("").is_none());
}

#[test]
fn the_truncated_prefix_is_first_loaded() {
    let ind = load(&[
        "[process:name = 'abcdefghijklmnop-first']",
        "[process:name = 'abcdefghijklmnop-second']",
    ]);
    assert_eq!(
        ind.check_process("abcdefghijklmnop").expect("hit").value,
        "abcdefghijklmnop-first"
    );
}

#[test]
fn file_paths_match_on_component_boundaries() {
    let ind = load(&[
        "[file:path = '/a/b']",
        "[file:path = '/private/var/tmp/']",
        "[file:name = 'evil.dylib']",
    ]);
    let cases = [
        ("/a/b", Some(MatchRule::PathPrefix)),
        ("/a/b/", Some(MatchRule::PathPrefix)),
        ("/a/b/c/d", Some(MatchRule::PathPrefix)),
        ("/a/bc", None),
        ("/a/b.txt", None),
        ("/a", None),
        ("a/b", None),
        ("/private/var/tmp", Some(MatchRule::PathPrefix)),
        ("/private/var/tmp/x", Some(MatchRule::PathPrefix)),
        ("/private/var/tmpx", None),
        ("/Library/evil.dylib", Some(MatchRule::FileName)),
        ("evil.dylib", Some(MatchRule::FileName)),
        ("/Library/evil.dylib.bak", None),
        ("/", None),
        ("", None),
    ];
    for (input, want) in cases {
        assert_eq!(rule(ind.check_file_path(input)), want, "{input}");
    }
    assert!(ind.check_file_name("evil.dylib").is_some());
    assert!(ind.check_file_name("/x/evil.dylib").is_none());
    assert!(ind.check_file_name("Evil.dylib").is_none());
    assert_eq!(
        ind.check_file_name("evil.dylib").expect("hit").message(),
        "Found a known suspicious file name \"evil.dylib\" matching indicators from \"TestMalware\""
    );
}

#[test]
fn case_insensitive_lists() {
    let ind = load(&[
        "[email-addr:value = 'Foobar@Example.org']",
        &format!("[file:hashes.sha256 = '{}']", SHA256.to_uppercase()),
        &format!("[file:hashes.sha1 = '{SHA1}']"),
        "[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']",
        "[app:id = 'Com.Bad.App']",
        "[android-property:name = 'Sys.Foobar']",
        "[configuration-profile:id = '76dab334-7e17-475d-a5d6-0794eb5818a5']",
    ]);
    assert!(ind.check_email("FOOBAR@example.ORG").is_some());
    assert!(ind.check_email("foobar@example.org.evil").is_none());
    assert_eq!(
        ind.check_file_hash(SHA256).expect("sha256").ioc_type,
        IocType::FilesSha256
    );
    assert_eq!(
        ind.check_file_hash(&SHA1.to_uppercase())
            .expect("sha1")
            .ioc_type,
        IocType::FilesSha1
    );
    assert_eq!(
        ind.check_file_hash("d41d8cd98f00b204e9800998ecf8427e")
            .expect("md5")
            .ioc_type,
        IocType::FilesMd5
    );
    assert!(ind.check_file_hash(&SHA256[..63]).is_none());
    assert!(ind.check_app_id("com.bad.app").is_some());
    assert!(ind.check_app_id("com.bad.app2").is_none());
    assert!(ind.check_android_property("SYS.FOOBAR").is_some());
    assert!(
        ind.check_profile_id("76DAB334-7E17-475D-A5D6-0794EB5818A5")
            .is_some()
    );
    assert!(ind.check_profile_id("76DAB334").is_none());
}

#[test]
fn or_patterns_give_one_indicator_per_value() {
    let ind = load(&[
        "[domain-name:value = 'a.com' OR domain-name:value = 'b.com'] OR [process:name = 'p']",
        "[file:name = 'x.apk' AND file:hashes.'SHA-256' = 'aa']",
    ]);
    assert_eq!(ind.len(), 4);
    assert!(ind.check_url("b.com").is_some());
    assert!(ind.check_process("p").is_some());
    assert!(ind.check_file_hash("AA").is_some());
    assert!(
        ind.check_file_name("x.apk").is_none(),
        "AND: only the hash is used"
    );
}

#[test]
fn duplicates_count_once_per_collection() {
    let ind = load(&[
        "[domain-name:value = 'bad.com']",
        "[domain-name:value = 'BAD.com']",
        "[domain-name:value = 'www.bad.com']",
        "[domain-name:value = 'bad.com' OR domain-name:value = 'bad.com.']",
        "[process:name = 'x']",
        "[process:name = 'x']",
    ]);
    assert_eq!(ind.len(), 2);
    assert_eq!(ind.files()[0].indicators, 2);
    // The first of the duplicates is the one reported.
    assert_eq!(ind.check_url("bad.com").expect("hit").value, "bad.com");
}

#[test]
fn first_loaded_collection_wins() {
    let mut ind = Indicators::new();
    let one = test_bundle_json(
        "First",
        &["[domain-name:value = 'bad.com']", "[process:name = 'p']"],
    );
    let two = test_bundle_json(
        "Second",
        &[
            "[domain-name:value = 'Bad.com']",
            "[domain-name:value = 'x.bad.com']",
        ],
    );
    ind.load_bundle(one.as_bytes(), Path::new("one.stix2"))
        .expect("one");
    let f = ind
        .load_bundle(two.as_bytes(), Path::new("dir/two.stix2"))
        .expect("two");
    // Each collection counts its own values, as MVT does.
    assert_eq!(f.indicators, 2);
    assert_eq!(ind.len(), 4);
    let hit = ind.check_url("bad.com").expect("hit");
    assert_eq!(
        (hit.collection.as_str(), hit.file.as_str()),
        ("First", "one.stix2")
    );
    // The most specific indicator wins the label walk.
    let hit = ind.check_url("a.x.bad.com").expect("hit");
    assert_eq!(
        (hit.collection.as_str(), hit.value.as_str()),
        ("Second", "x.bad.com")
    );
    let summary = ind.collections_summary();
    assert_eq!(summary.len(), 2);
    assert_eq!(summary[1].file, "two.stix2");
    assert_eq!(summary[1].path, Path::new("dir/two.stix2"));
    assert_eq!(summary[1].indicators, 2);
    // Loading the same file twice adds its collection again, with the same values.
    ind.load_bundle(one.as_bytes(), Path::new("one.stix2"))
        .expect("again");
    assert_eq!(ind.len(), 6);
}

#[test]
fn collections_follow_reports_then_relationships_then_default() {
    let json = r#"{"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "indicator", "id": "indicator--1", "pattern": "[domain-name:value = 'one.com']", "pattern_type": "stix"},
        {"type": "indicator", "id": "indicator--2", "pattern": "[domain-name:value = 'two.com']", "pattern_type": "stix"},
        {"type": "indicator", "id": "indicator--3", "pattern": "[domain-name:value = 'three.com']", "pattern_type": "stix"},
        {"type": "indicator", "id": "indicator--4", "pattern": "[domain-name:value = 'four.com']"},
        {"type": "report", "id": "report--1", "name": "Report A", "description": "d", "object_refs": ["indicator--1"]},
        {"type": "report", "id": "report--2", "name": "Report B", "object_refs": ["indicator--1", "indicator--2"]},
        {"type": "malware", "id": "malware--1", "name": "Mal"},
        {"type": "malware", "id": "malware--2", "name": "Ware"},
        {"type": "relationship", "source_ref": "indicator--2", "target_ref": "malware--1"},
        {"type": "relationship", "source_ref": "indicator--3", "target_ref": "identity--1"},
        {"type": "relationship", "source_ref": "indicator--3", "target_ref": "malware--2"},
        {"type": "relationship", "source_ref": "indicator--3", "target_ref": "malware--1"},
        {"type": "identity", "id": "identity--1", "name": "Someone"}
    ]}"#;
    let mut ind = Indicators::new();
    let f = ind
        .load_bundle(json.as_bytes(), Path::new("x.json"))
        .expect("loads");
    assert_eq!(
        f.collections,
        ["Mal", "Ware", "Report A", "Report B", "Default collection"]
    );
    let collection = |host: &str| ind.check_url(host).expect("hit").collection;
    assert_eq!(collection("one.com"), "Report A");
    assert_eq!(collection("two.com"), "Report B");
    assert_eq!(collection("three.com"), "Ware");
    assert_eq!(collection("four.com"), "Default collection");
    let summary = ind.collections_summary();
    assert_eq!(summary[4].id, "0");
    assert_eq!(summary[2].description, "d");
    assert_eq!(
        summary[0].indicators, 0,
        "empty malware collections are kept, as in MVT"
    );
}

#[test]
fn default_collection_only_when_used() {
    let json = r#"{"objects": [
        {"type": "malware", "id": "malware--1", "name": "Mal"},
        {"type": "indicator", "id": "indicator--1", "pattern": "[file:size = 5]"}
    ]}"#;
    let mut ind = Indicators::new();
    let f = ind
        .load_bundle(json.as_bytes(), Path::new("x.json"))
        .expect("loads");
    assert_eq!(f.collections, ["Mal"]);
    assert_eq!(f.unsupported.len(), 1);
    assert!(ind.is_empty());
}

#[test]
fn matches_serialise_with_mvt_type_names() {
    let ind = load(MVT_TEST);
    let hit = ind.check_file_hash(SHA256).expect("hit");
    let v = serde_json::to_value(&hit).expect("serialises");
    assert_eq!(v["type"], "files_sha256");
    assert_eq!(v["rule"], "exact");
    assert_eq!(
        IocType::AndroidPropertyNames.as_str(),
        "android_property_names"
    );
    for t in IocType::ALL {
        assert_eq!(serde_json::to_value(t).expect("serialises"), t.as_str());
    }
}

#[test]
fn shared_across_threads() {
    let ind = std::sync::Arc::new(load(MVT_TEST));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let ind = ind.clone();
            std::thread::spawn(move || ind.check_url("https://example.org/").is_some())
        })
        .collect();
    for h in handles {
        assert!(h.join().expect("thread"));
    }
    assert!(
        ind.check_urls(["https://good.net/", "https://x.example.org/"])
            .is_some_and(|h| h.input == "https://x.example.org/")
    );
}

#[test]
fn hosts_and_addresses_are_checked_on_their_own() {
    let ind = load(&[
        "[domain-name:value = 'evil.example']",
        "[url:value = 'http://good.example/bad']",
        "[ipv4-addr:value = '198.51.100.0/24']",
        "[ipv6-addr:value = '2001:db8::1']",
    ]);
    let host = ind.check_host("C2.Evil.Example.").unwrap();
    assert_eq!(
        (host.value.as_str(), host.rule),
        ("evil.example", MatchRule::SubDomain)
    );
    assert_eq!(host.input, "C2.Evil.Example.");
    assert_eq!(
        rule(ind.check_host("evil.example")),
        Some(MatchRule::Domain)
    );
    assert!(ind.check_host("notevil.example").is_none());
    // A host name is not a URL: URL indicators are not consulted.
    assert!(ind.check_host("good.example").is_none());
    assert!(ind.check_url("http://good.example/bad").is_some());
    // Addresses, in a CIDR, in brackets; a name is never an address.
    assert_eq!(
        ind.check_ip("198.51.100.77").unwrap().value,
        "198.51.100.0/24"
    );
    assert_eq!(
        ind.check_ip("[2001:db8::1]").unwrap().rule,
        MatchRule::IpAddress
    );
    assert!(ind.check_ip("198.51.101.1").is_none());
    assert!(ind.check_ip("evil.example").is_none());
    assert!(ind.check_ip("").is_none() && ind.check_host("  ").is_none());
    // A host check on an address still finds the IP indicator.
    assert!(ind.check_host("198.51.100.2").is_some());
}

#[test]
fn url_path_indicators_match_paths_on_any_host_never_hosts() {
    let ind = load(&[
        "[url:value = '/hass/upload-log.php']",
        "[url:value = '/ech/client.php?u=']",
        "[url:value = '/gadfTs55sghsSSS/']",
    ]);
    assert_eq!(ind.counts()[&IocType::UrlPaths], 3);
    let hit = ind
        .check_url("https://any.host/hass/upload-log.php?x")
        .unwrap();
    assert_eq!(
        (hit.rule, hit.ioc_type, hit.value.as_str()),
        (
            MatchRule::UrlPath,
            IocType::UrlPaths,
            "/hass/upload-log.php"
        )
    );
    assert_eq!(
        hit.message(),
        "Found a known suspicious URL path https://any.host/hass/upload-log.php?x matching indicator \"/hass/upload-log.php\" from \"TestMalware\""
    );
    assert!(
        ind.check_url("http://10.0.0.1:8080/hass/upload-log.php")
            .is_some()
    );
    assert!(
        ind.check_url("other.example/gadfTs55sghsSSS/phppost.php")
            .is_some()
    );
    assert!(
        ind.check_url("https://h.example/ech/client.php?u=42&x=1")
            .is_some()
    );
    assert!(
        ind.check_url("https://h.example/ech/client.php?v=42")
            .is_none()
    );
    assert!(ind.check_url("https://h.example/ech/client.php").is_none());
    // Never a host, nor another path that merely starts alike, nor a path in the query.
    for miss in [
        "hass",
        "https://hass/",
        "https://h.example/hass/upload-log.phpx",
        "https://h.example/HASS/upload-log.php",
        "https://h.example/x?next=/hass/upload-log.php",
        "https://h.example/#/hass/upload-log.php",
    ] {
        assert!(ind.check_url(miss).is_none(), "{miss}");
    }
    assert!(ind.check_host("hass").is_none());
}
