//! Writing small STIX 2.1 bundles, for tests and demos in every crate (MVT's `test.stix2`).

use serde::Serialize;

/// Fixed timestamp so generated bundles are byte-for-byte reproducible.
const CREATED: &str = "2021-01-01T00:00:00.000Z";

#[derive(Serialize)]
struct Bundle<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    objects: Vec<Object<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Object<'a> {
    Malware {
        spec_version: &'static str,
        id: String,
        created: &'static str,
        modified: &'static str,
        name: &'a str,
        is_family: bool,
    },
    Indicator {
        spec_version: &'static str,
        id: String,
        created: &'static str,
        modified: &'static str,
        indicator_types: [&'static str; 1],
        pattern: &'a str,
        pattern_type: &'static str,
        pattern_version: &'static str,
        valid_from: &'static str,
    },
    Relationship {
        spec_version: &'static str,
        id: String,
        created: &'static str,
        modified: &'static str,
        relationship_type: &'static str,
        source_ref: String,
        target_ref: String,
    },
}

/// A deterministic STIX id: `<type>--00000000-0000-4000-8000-<n as 12 hex digits>`.
fn stix_id(kind: &str, n: usize) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012x}")
}

/// A STIX 2.1 bundle with one malware named `malware_name`, one indicator per pattern and an
/// `indicates` relationship from each indicator to the malware. Ids are deterministic (the
/// malware is number 0, indicator and relationship `i` are number `i + 1`), so the output is
/// stable across runs. Patterns are written as given (they are not validated).
pub fn test_bundle_json(malware_name: &str, patterns: &[&str]) -> String {
    let malware_id = stix_id("malware", 0);
    let mut objects = Vec::with_capacity(1 + 2 * patterns.len());
    objects.push(Object::Malware {
        spec_version: "2.1",
        id: malware_id.clone(),
        created: CREATED,
        modified: CREATED,
        name: malware_name,
        is_family: false,
    });
    for (i, pattern) in patterns.iter().enumerate() {
        let indicator_id = stix_id("indicator", i + 1);
        objects.push(Object::Indicator {
            spec_version: "2.1",
            id: indicator_id.clone(),
            created: CREATED,
            modified: CREATED,
            indicator_types: ["malicious-activity"],
            pattern,
            pattern_type: "stix",
            pattern_version: "2.1",
            valid_from: CREATED,
        });
        objects.push(Object::Relationship {
            spec_version: "2.1",
            id: stix_id("relationship", i + 1),
            created: CREATED,
            modified: CREATED,
            relationship_type: "indicates",
            source_ref: indicator_id,
            target_ref: malware_id.clone(),
        });
    }
    let bundle = Bundle {
        kind: "bundle",
        id: stix_id("bundle", 0),
        objects,
    };
    // Plain structs of strings always serialise; an empty string could only mean a bug here.
    serde_json::to_string_pretty(&bundle).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_shape() {
        let json = test_bundle_json("Test \"M\"", &["[process:name = 'Launch']"]);
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v["type"], "bundle");
        let objects = v["objects"].as_array().expect("objects");
        assert_eq!(objects.len(), 3);
        assert_eq!(objects[0]["type"], "malware");
        assert_eq!(objects[0]["name"], "Test \"M\"");
        assert_eq!(objects[1]["pattern"], "[process:name = 'Launch']");
        assert_eq!(objects[2]["source_ref"], objects[1]["id"]);
        assert_eq!(objects[2]["target_ref"], objects[0]["id"]);
        assert_eq!(
            json,
            test_bundle_json("Test \"M\"", &["[process:name = 'Launch']"])
        );
    }
}
