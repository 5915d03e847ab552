//! Every indicator keeps its identity (STIX id, validity, confidence, labels, TLP marking) into
//! the alerts it raises; revoked and expired ones are left out unless asked for.

use std::path::Path;

use portcullis_indicators::{Indicators, LeftOut};

const AMBER: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
const NOW: &str = "2026-12-01T00:00:00";

/// An indicator object: `extra` is appended to its properties as written.
fn indicator(id: &str, domain: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{id}","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[domain-name:value = '{domain}']","pattern_type":"stix","valid_from":"2026-01-02T00:00:00Z"{extra}}}"#
    )
}

/// A bundle of `indicators`, each followed by its `indicates` relationship to one malware (the
/// layout of Amnesty's and MVT's files), so each belongs to that malware's collection.
fn bundle(indicators: &[String]) -> String {
    let objects: Vec<String> = indicators
        .iter()
        .enumerate()
        .map(|(i, object)| {
            let id = object.split(r#""id":""#).nth(1).and_then(|r| r.split('"').next());
            format!(
                r#"{object},{{"type":"relationship","id":"relationship--{i}","relationship_type":"indicates","source_ref":"{}","target_ref":"malware--1"}}"#,
                id.unwrap_or_default()
            )
        })
        .collect();
    format!(
        r#"{{"type":"bundle","id":"bundle--1","objects":[{{"type":"malware","id":"malware--1","name":"Charming Kitten","is_family":true}},{}]}}"#,
        objects.join(",")
    )
}

fn sample() -> String {
    bundle(&[
        indicator(
            "indicator--aaaa",
            "kept.example",
            &format!(
                r#","valid_until":"2027-06-01T00:00:00Z","confidence":85,"labels":["apt42","phishing"],"object_marking_refs":["{AMBER}"]"#
            ),
        ),
        indicator("indicator--bbbb", "revoked.example", r#","revoked":true"#),
        indicator(
            "indicator--cccc",
            "expired.example",
            r#","valid_until":"2026-03-01T00:00:00.000Z""#,
        ),
        indicator("indicator--dddd", "plain.example", ""),
    ])
}

fn load(indicators: Indicators, json: &str) -> (Indicators, LeftOut) {
    let mut indicators = indicators;
    let file = indicators
        .load_bundle(json.as_bytes(), Path::new("apt42.stix2"))
        .unwrap();
    (indicators, file.left_out)
}

#[test]
fn a_match_names_the_indicator_and_what_it_says_of_itself() {
    let (ind, left_out) = load(Indicators::new().checked_at(NOW), &sample());
    assert_eq!(
        left_out,
        LeftOut {
            revoked: 1,
            expired: 1
        }
    );
    assert_eq!(ind.len(), 2);
    let hit = ind.check_host("login.kept.example").unwrap();
    assert_eq!(hit.stix.id, "indicator--aaaa");
    assert_eq!(hit.stix.valid_from.as_deref(), Some("2026-01-02T00:00:00Z"));
    assert_eq!(
        hit.stix.valid_until.as_deref(),
        Some("2027-06-01T00:00:00Z")
    );
    assert_eq!(hit.stix.confidence, Some(85));
    assert_eq!(hit.stix.labels, ["apt42", "phishing"]);
    assert_eq!(hit.stix.tlp.as_deref(), Some("TLP:AMBER"));
    assert_eq!(hit.stix.markings, [AMBER]);
    assert!(!hit.stix.revoked);
    assert_eq!(hit.collection, "Charming Kitten");
    let plain = ind.check_url("https://plain.example/x").unwrap();
    assert_eq!(plain.stix.id, "indicator--dddd");
    assert_eq!(
        (plain.stix.confidence, plain.stix.tlp.clone()),
        (None, None)
    );
    // In the alert's JSON the id sits beside the value it matched.
    let json = serde_json::to_value(&hit).unwrap();
    assert_eq!(json["id"], "indicator--aaaa");
    assert_eq!(json["tlp"], "TLP:AMBER");
    assert!(
        serde_json::to_value(&plain)
            .unwrap()
            .get("revoked")
            .is_none()
    );
}

#[test]
fn revoked_and_expired_indicators_are_left_out_unless_included() {
    let (ind, _) = load(Indicators::new().checked_at(NOW), &sample());
    assert!(ind.check_host("revoked.example").is_none());
    assert!(ind.check_host("expired.example").is_none());

    let (all, left_out) = load(
        Indicators::new().checked_at(NOW).include_expired(true),
        &sample(),
    );
    assert_eq!(left_out, LeftOut::default());
    assert_eq!(all.len(), 4);
    let revoked = all.check_host("revoked.example").unwrap();
    assert_eq!(
        (revoked.stix.id.as_str(), revoked.stix.revoked),
        ("indicator--bbbb", true)
    );
    let expired = all.check_host("expired.example").unwrap();
    assert_eq!(
        expired.stix.valid_until.as_deref(),
        Some("2026-03-01T00:00:00.000Z")
    );

    // Before its valid_until, the same indicator is not expired.
    let (earlier, left_out) = load(
        Indicators::new().checked_at("2026-02-01T00:00:00"),
        &sample(),
    );
    assert_eq!(
        left_out,
        LeftOut {
            revoked: 1,
            expired: 0
        }
    );
    assert!(earlier.check_host("expired.example").is_some());
    // A valid_until that is not a timestamp expires nothing.
    let odd = bundle(&[indicator(
        "indicator--eeee",
        "odd.example",
        r#","valid_until":"soon""#,
    )]);
    let (ind, left_out) = load(Indicators::new().checked_at(NOW), &odd);
    assert_eq!(left_out, LeftOut::default());
    assert_eq!(
        ind.check_host("odd.example").unwrap().stix.id,
        "indicator--eeee"
    );
}

/// A bundle large enough to be parsed in pieces and keyed on two threads: every hit still
/// names its own indicator, and an expired one deep in the second half is left out.
#[test]
fn identities_survive_the_threaded_load() {
    const N: usize = 60_000;
    let objects: Vec<String> = (0..N)
        .map(|i| {
            let extra = if i == 45_000 {
                r#","valid_until":"2020-01-01T00:00:00Z""#
            } else {
                ""
            };
            indicator(
                &format!("indicator--{i:08}"),
                &format!("d{i}.example"),
                extra,
            )
        })
        .collect();
    let json = bundle(&objects);
    assert!(
        json.len() > 8 << 20,
        "{} bytes: not large enough",
        json.len()
    );
    let (ind, left_out) = load(Indicators::new().checked_at(NOW), &json);
    assert_eq!(
        left_out,
        LeftOut {
            revoked: 0,
            expired: 1
        }
    );
    assert_eq!(ind.len(), N - 1);
    for i in [0, 1, 29_999, 30_000, 44_999, 45_001, N - 1] {
        let hit = ind.check_host(&format!("d{i}.example")).unwrap();
        assert_eq!(hit.stix.id, format!("indicator--{i:08}"));
        assert_eq!(hit.collection, "Charming Kitten");
    }
    assert!(ind.check_host("d45000.example").is_none());
}
