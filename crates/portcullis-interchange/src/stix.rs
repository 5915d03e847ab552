//! Writing STIX 2.1 bundles reproducibly: ids are UUIDv5 of a fixed namespace and what the
//! object stands for, times are given, objects come in a fixed order, and each object is one
//! line of compact JSON (so a changed indicator is a one-line diff). Written as a stream, so
//! a bundle of millions of indicators is never held as one string.

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;
use sha1::{Digest, Sha1};

use crate::model::{Collection, Indicator, Observable, Reference};

/// The namespace of every id Portcullis makes (a fixed random UUID: changing it would change
/// every id of every bundle ever written).
const NAMESPACE: [u8; 16] = [
    0x3b, 0x6e, 0x2d, 0x4f, 0x91, 0x0c, 0x4a, 0x57, 0x8e, 0x21, 0x6d, 0x5a, 0xc4, 0x0b, 0x73, 0x19,
];

/// RFC 9562 UUID version 5 (SHA-1) of `name` in `namespace`, in canonical text.
pub(crate) fn uuid5(namespace: &[u8; 16], name: &str) -> String {
    let digest = Sha1::new()
        .chain_update(namespace)
        .chain_update(name.as_bytes())
        .finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The id of a STIX object of type `kind` standing for `what`.
pub(crate) fn stix_id(kind: &str, what: &str) -> String {
    format!("{kind}--{}", uuid5(&NAMESPACE, &format!("{kind}|{what}")))
}

/// The id of the indicator of an observable (the same in every bundle that holds it).
pub(crate) fn indicator_id(observable: &Observable) -> String {
    stix_id("indicator", &observable.key())
}

/// Writes a bundle object by object.
pub(crate) struct BundleWriter<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> BundleWriter<W> {
    pub(crate) fn start(mut out: W, name: &str) -> io::Result<Self> {
        write!(
            out,
            "{{\"type\":\"bundle\",\"id\":\"{}\",\"objects\":[",
            stix_id("bundle", name)
        )?;
        Ok(BundleWriter { out, first: true })
    }

    pub(crate) fn object(&mut self, object: &impl Serialize) -> io::Result<()> {
        self.out
            .write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer(&mut self.out, object).map_err(io::Error::other)
    }

    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"\n]}\n")?;
        Ok(self.out)
    }
}

#[derive(Serialize)]
struct ExternalReference<'a> {
    source_name: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

fn references<'a>(source: &'a str, refs: &'a [Reference]) -> Vec<ExternalReference<'a>> {
    refs.iter()
        .map(|r| ExternalReference {
            source_name: source,
            url: &r.url,
            description: r.description.as_deref(),
        })
        .collect()
}

#[derive(Serialize)]
pub(crate) struct Malware<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub spec_version: &'static str,
    pub id: &'a str,
    pub created: &'a str,
    pub modified: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub aliases: &'a [String],
    pub is_family: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference<'a>>,
}

impl<'a> Malware<'a> {
    pub(crate) fn new(id: &'a str, created: &'a str, name: &'a str) -> Self {
        Malware {
            kind: "malware",
            spec_version: "2.1",
            id,
            created,
            modified: created,
            name,
            description: None,
            aliases: &[],
            is_family: true,
            external_references: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct Note<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    spec_version: &'static str,
    id: String,
    created: &'a str,
    modified: &'a str,
    #[serde(rename = "abstract")]
    summary: &'static str,
    content: &'a str,
    object_refs: &'a [String],
}

#[derive(Serialize)]
pub(crate) struct IndicatorObject<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    spec_version: &'static str,
    pub id: &'a str,
    created: &'a str,
    modified: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    indicator_types: [&'static str; 1],
    pattern: String,
    pattern_type: &'static str,
    pattern_version: &'static str,
    valid_from: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub labels: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub object_marking_refs: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference<'a>>,
}

impl<'a> IndicatorObject<'a> {
    pub(crate) fn new(id: &'a str, created: &'a str, observable: &'a Observable) -> Self {
        IndicatorObject {
            kind: "indicator",
            spec_version: "2.1",
            id,
            created,
            modified: created,
            name: observable.value(),
            description: None,
            indicator_types: ["malicious-activity"],
            pattern: observable.pattern(),
            pattern_type: "stix",
            pattern_version: "2.1",
            valid_from: created,
            labels: &[],
            object_marking_refs: &[],
            external_references: Vec::new(),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct Relationship<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    spec_version: &'static str,
    id: String,
    created: &'a str,
    modified: &'a str,
    relationship_type: &'static str,
    source_ref: &'a str,
    target_ref: &'a str,
}

impl<'a> Relationship<'a> {
    /// `indicator` indicates `malware`.
    pub(crate) fn indicates(created: &'a str, indicator: &'a str, malware: &'a str) -> Self {
        Relationship {
            kind: "relationship",
            spec_version: "2.1",
            id: stix_id("relationship", &format!("indicates|{indicator}|{malware}")),
            created,
            modified: created,
            relationship_type: "indicates",
            source_ref: indicator,
            target_ref: malware,
        }
    }
}

/// What the description of an indicator says: its source's words, then how it was listed.
fn description(indicator: &Indicator) -> Option<String> {
    let listed = (!indicator.written.is_empty())
        .then(|| format!("Listed as: {}", indicator.written.join(", ")));
    match (&indicator.description, listed) {
        (Some(d), Some(l)) => Some(format!("{d}\n{l}")),
        (Some(d), None) => Some(d.clone()),
        (None, l) => l,
    }
}

/// Writes `collection` as a STIX 2.1 bundle: the actors' `malware` objects, the licence
/// `note`, then each indicator followed by its `indicates` relationships. A value two actors
/// share is one indicator with a relationship to each. `source` names the external
/// references.
pub fn write_bundle<W: Write>(collection: &Collection, source: &str, out: W) -> io::Result<W> {
    let created = collection.created.as_str();
    let mut w = BundleWriter::start(out, &collection.name)?;
    let malware_ids: Vec<String> = collection
        .actors
        .iter()
        .map(|a| stix_id("malware", &a.name))
        .collect();
    for (actor, id) in collection.actors.iter().zip(&malware_ids) {
        let mut m = Malware::new(id, created, &actor.name);
        m.description = actor.description.as_deref();
        m.aliases = &actor.aliases;
        m.external_references = references(source, &actor.references);
        w.object(&m)?;
    }
    if let Some(licence) = &collection.licence {
        w.object(&Note {
            kind: "note",
            spec_version: "2.1",
            id: stix_id("note", &format!("licence|{}", collection.name)),
            created,
            modified: created,
            summary: "Licence of these indicators",
            content: licence,
            object_refs: &malware_ids,
        })?;
    }
    // Indicator id → whether written; relationships follow the indicator they start from.
    let mut written: HashMap<String, Vec<&str>> = HashMap::new();
    let mut order: Vec<(&Indicator, String)> = Vec::new();
    for (actor, malware) in collection.actors.iter().zip(&malware_ids) {
        for indicator in actor.indicators() {
            let id = indicator_id(&indicator.observable);
            let targets = written.entry(id.clone()).or_default();
            if targets.is_empty() {
                order.push((indicator, id));
            }
            if !targets.contains(&malware.as_str()) {
                targets.push(malware);
            }
        }
    }
    for (indicator, id) in &order {
        let mut object = IndicatorObject::new(id, created, &indicator.observable);
        object.description = description(indicator);
        object.labels = &indicator.labels;
        object.object_marking_refs = &indicator.markings;
        object.external_references = references(source, &indicator.references);
        w.object(&object)?;
        for target in written.get(id).into_iter().flatten() {
            w.object(&Relationship::indicates(created, id, target))?;
        }
    }
    w.finish()
}

/// [`write_bundle`] into memory.
pub fn bundle_bytes(collection: &Collection, source: &str) -> Vec<u8> {
    // Writing into a Vec cannot fail, and plain structs of strings always serialise.
    write_bundle(collection, source, Vec::new()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid5_matches_the_rfc_example() {
        // RFC 9562 appendix: the DNS namespace and "www.example.com".
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            uuid5(&dns, "www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
    }
}
