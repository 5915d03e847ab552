//! Serde view of a STIX 2.1 bundle: only the objects and fields MVT uses, borrowed from the
//! input bytes, and sorted by type while parsing (so a million-object bundle is never held as a
//! list of generic objects).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A `malware` or `report`: each becomes a collection.
#[derive(Debug)]
pub(crate) struct Named<'a> {
    pub id: Cow<'a, str>,
    pub name: Option<Cow<'a, str>>,
    pub description: Option<Cow<'a, str>>,
}

#[derive(Debug)]
pub(crate) struct Report<'a> {
    pub named: Named<'a>,
    pub object_refs: Vec<Cow<'a, str>>,
}

#[derive(Debug)]
pub(crate) struct Indicator<'a> {
    pub id: Cow<'a, str>,
    pub pattern: Option<Cow<'a, str>>,
    pub pattern_type: Option<Cow<'a, str>>,
}

#[derive(Debug)]
pub(crate) struct Relationship<'a> {
    pub source_ref: Cow<'a, str>,
    pub target_ref: Cow<'a, str>,
}

/// The objects of a bundle that matter, each list in file order.
#[derive(Debug, Default)]
pub(crate) struct Bundle<'a> {
    pub malware: Vec<Named<'a>>,
    pub reports: Vec<Report<'a>>,
    pub indicators: Vec<Indicator<'a>>,
    pub relationships: Vec<Relationship<'a>>,
}

/// Parses bundle bytes; the error is a human-readable reason.
pub(crate) fn parse(bytes: &[u8]) -> Result<Bundle<'_>, String> {
    // Validating UTF-8 once up front is much faster than serde_json checking every string.
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let top: TopLevel<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    top.objects
        .ok_or_else(|| "no \"objects\" list at the top level".to_string())
}

/// The top-level JSON object; only its `objects` list is read.
struct TopLevel<'a> {
    objects: Option<Bundle<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for TopLevel<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;
        impl<'de> Visitor<'de> for TopVisitor {
            type Value = TopLevel<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a STIX bundle object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut objects = None;
                while let Some(key) = map.next_key::<Loose<'de>>()? {
                    if key.0.as_deref() == Some("objects") && objects.is_none() {
                        objects = Some(map.next_value::<Bundle<'de>>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(TopLevel { objects })
            }
        }
        deserializer.deserialize_map(TopVisitor)
    }
}

/// Every field is optional and loosely typed, so an odd object is skipped rather than making
/// the whole file unreadable.
#[derive(Deserialize)]
struct RawObject<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Loose<'a>,
    #[serde(borrow, default)]
    id: Loose<'a>,
    #[serde(borrow, default)]
    name: Loose<'a>,
    #[serde(borrow, default)]
    description: Loose<'a>,
    #[serde(borrow, default)]
    pattern: Loose<'a>,
    #[serde(borrow, default)]
    pattern_type: Loose<'a>,
    #[serde(borrow, default)]
    source_ref: Loose<'a>,
    #[serde(borrow, default)]
    target_ref: Loose<'a>,
    #[serde(borrow, default)]
    object_refs: LooseList<'a>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Bundle<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(ObjectsVisitor)
    }
}

struct ObjectsVisitor;

impl<'de> Visitor<'de> for ObjectsVisitor {
    type Value = Bundle<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of STIX objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut bundle = Bundle::default();
        if let Some(n) = seq.size_hint() {
            bundle.indicators.reserve(n / 2);
        }
        while let Some(obj) = seq.next_element::<RawObject<'de>>()? {
            let id = obj.id.0.unwrap_or_default();
            let named = |id| Named {
                id,
                name: obj.name.0,
                description: obj.description.0,
            };
            match obj.kind.0.as_deref() {
                Some("indicator") => bundle.indicators.push(Indicator {
                    id,
                    pattern: obj.pattern.0,
                    pattern_type: obj.pattern_type.0,
                }),
                Some("relationship") => {
                    if let (Some(source_ref), Some(target_ref)) =
                        (obj.source_ref.0, obj.target_ref.0)
                    {
                        bundle.relationships.push(Relationship {
                            source_ref,
                            target_ref,
                        });
                    }
                }
                Some("malware") => bundle.malware.push(named(id)),
                Some("report") => bundle.reports.push(Report {
                    named: named(id),
                    object_refs: obj.object_refs.0,
                }),
                _ => {}
            }
        }
        Ok(bundle)
    }
}

/// A string, or `None` for any other JSON value (which is skipped).
#[derive(Default)]
struct Loose<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Loose(Some(Cow::Borrowed(v))))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose(Some(Cow::Owned(v.to_string()))))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Loose(Some(Cow::Owned(v))))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Loose(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose(None))
    }
}

/// The strings of a JSON list; anything else is an empty list.
#[derive(Default)]
struct LooseList<'a>(Vec<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LooseList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = LooseList<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element::<Loose<'de>>()? {
                    out.extend(item.0);
                }
                Ok(LooseList(out))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                LooseVisitor.visit_map(map).map(|_| LooseList::default())
            }

            fn visit_borrowed_str<E>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LooseList::default())
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_objects_and_tolerates_odd_fields() {
        let json = br#"{"type": "bundle", "objects": [
            {"type": "identity", "id": "identity--1", "name": {"odd": [1, 2]}},
            {"type": "malware", "id": "malware--1", "name": "M", "description": 5},
            {"type": "report", "id": "report--1", "name": "R", "object_refs": ["indicator--2", 7, null]},
            {"type": "indicator", "id": "indicator--1", "pattern": "[a:b = 'c']", "pattern_type": "stix"},
            {"type": "indicator", "id": "indicator--2", "pattern": ["not", "a", "string"]},
            {"type": "relationship", "source_ref": "indicator--1", "target_ref": "malware--1"},
            {"type": "relationship", "source_ref": "indicator--1"},
            {"type": "report", "id": "report--2", "object_refs": "indicator--1"},
            {"no": "type"}
        ]}"#;
        let b = parse(json).expect("valid bundle");
        assert_eq!(b.malware.len(), 1);
        assert_eq!(b.malware[0].name.as_deref(), Some("M"));
        assert_eq!(b.malware[0].description, None);
        assert_eq!(b.reports.len(), 2);
        assert_eq!(b.reports[0].object_refs, ["indicator--2"]);
        assert!(b.reports[1].object_refs.is_empty());
        assert_eq!(b.indicators.len(), 2);
        assert_eq!(b.indicators[1].pattern, None);
        assert_eq!(b.relationships.len(), 1);
    }

    #[test]
    fn escaped_strings_are_owned() {
        let b = parse(
            br#"{"objects": [{"type": "indicator", "id": "i", "pattern": "[a:b = '\u00e9\\'']"}]}"#,
        )
        .expect("valid bundle");
        assert_eq!(b.indicators[0].pattern.as_deref(), Some("[a:b = 'é\\'']"));
    }

    #[test]
    fn rejects_non_bundles() {
        assert!(parse(b"{").is_err());
        assert!(parse(b"[]").is_err());
        assert!(parse(b"{}").unwrap_err().contains("objects"));
        assert!(parse(br#"{"objects": 5}"#).is_err());
        assert!(parse(br#"{"objects": [5]}"#).is_err());
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // Skipped values are walked without recursion; values we read hit serde_json's limit.
        for field in ["x", "name", "object_refs"] {
            let deep = format!(
                "{{\"objects\": [{{\"type\": \"report\", \"{field}\": {}{}}}]}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            );
            let _ = parse(deep.as_bytes());
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(deep.as_bytes()).is_err());
    }
}
