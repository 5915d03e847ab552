//! MISP events as JSON (`{"Event": {…}}`, a bare event, or a `{"response": [{"Event": …}]}`
//! search result): the attributes of the event and of its objects, by type. `to_ids` false
//! marks context rather than a detection, so such attributes are left out unless asked for.
//! Event and attribute tags become labels, except `tlp:*` tags, which become the TLP 2.0
//! marking definitions STIX 2.1 uses. The event's `info` names the actor, its `date` is the
//! objects' time, and its `link` attributes are references.
//!
//! | MISP type | indicator |
//! |---|---|
//! | `domain`, `hostname`, `domain|ip` | domain (and the address) |
//! | `ip-src`, `ip-dst`, `ip-src|port`, `ip-dst|port` | address (the port is dropped) |
//! | `url`, `uri` | URL (a `uri` that is a path matches that path on any host) |
//! | `md5`, `sha1`, `sha256`, `filename|md5`, `filename|sha1`, `filename|sha256` | hash (and file name) |
//! | `filename` | file name |
//! | `email`, `email-src`, `email-dst` | e-mail address |

use serde_json::Value;

use crate::export::Tlp;
use crate::model::{Actors, Indicator, Observable, stix_time};
use crate::{ImportError, ImportOptions, Imported};

/// Most attributes read from one event.
const MAX_ATTRIBUTES: usize = 1_000_000;

pub fn parse(text: &str, options: &ImportOptions, created: &str) -> Result<Imported, ImportError> {
    // serde_json refuses nesting deeper than 128 levels, so hostile JSON cannot overflow the stack.
    let root: Value = serde_json::from_str(text).map_err(|e| ImportError::Line {
        line: e.line(),
        reason: format!("not MISP event JSON: {e}"),
    })?;
    let events: Vec<&Value> = match (&root.get("Event"), root.get("response")) {
        (Some(event), _) => vec![event],
        (None, Some(Value::Array(list))) => list.iter().filter_map(|r| r.get("Event")).collect(),
        _ if root.get("Attribute").is_some() => vec![&root],
        _ => return Err(ImportError::Invalid("no MISP \"Event\" in the JSON".into())),
    };
    let name = &options.name;
    let mut created = created.to_string();
    let mut actors = Actors::new(name);
    let mut skips = Vec::new();
    for event in events {
        if let Some(date) = event
            .get("date")
            .and_then(Value::as_str)
            .and_then(stix_time)
        {
            created = date;
        }
        let actor_name = event
            .get("info")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .unwrap_or(name);
        let (event_labels, event_markings) = tags(event);
        let attributes = list(event, "Attribute")
            .chain(list(event, "Object").flat_map(|object| list(object, "Attribute")));
        let actor = actors.get(actor_name);
        for (i, attribute) in attributes.enumerate() {
            if i >= MAX_ATTRIBUTES {
                return Err(ImportError::TooMany);
            }
            let kind = attribute.get("type").and_then(Value::as_str).unwrap_or("");
            let value = attribute.get("value").and_then(Value::as_str).unwrap_or("");
            if kind == "link" {
                if let Some(r) = crate::plain::reference(value) {
                    actor.cite(r);
                }
                continue;
            }
            let to_ids = match attribute.get("to_ids") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
                Some(Value::Number(n)) => n.as_u64() == Some(1),
                _ => true,
            };
            if !to_ids && !options.include_non_ids {
                continue;
            }
            let observables = observables(kind, value);
            if observables.is_empty() {
                let shown: String = value.chars().take(80).collect();
                skips.push(format!(
                    "attribute {}: {shown:?}: MISP type {kind:?} is not imported, or the value is not one",
                    i + 1
                ));
                continue;
            }
            let (mut labels, mut markings) = tags(attribute);
            labels.extend(event_labels.iter().cloned());
            markings.extend(event_markings.iter().cloned());
            let comment = attribute
                .get("comment")
                .and_then(Value::as_str)
                .filter(|c| !c.trim().is_empty());
            for observable in observables {
                let mut indicator = Indicator::new(observable);
                indicator.labels.clone_from(&labels);
                indicator.markings.clone_from(&markings);
                indicator.description = comment.map(str::to_string);
                actor.add(indicator);
            }
        }
    }
    Ok(actors.into_imported(name, &created, skips))
}

/// The objects of list `key` of `v` (none when absent or not a list).
fn list<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = &'v Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// Labels and TLP marking ids of an event's or attribute's `Tag` list.
fn tags(v: &Value) -> (Vec<String>, Vec<String>) {
    let mut labels = Vec::new();
    let mut markings = Vec::new();
    for tag in list(v, "Tag") {
        let Some(name) = tag.get("name").and_then(Value::as_str) else {
            continue;
        };
        let name = name.trim();
        let tlp = name
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("tlp:"))
            .and_then(|_| Tlp::parse(name));
        match tlp {
            Some(level) => crate::model::extend_unique(&mut markings, [level.marking().into()]),
            None if !name.is_empty() => {
                crate::model::extend_unique(&mut labels, [name.to_string()])
            }
            None => {}
        }
    }
    (labels, markings)
}

/// The indicators a MISP attribute of `kind` stands for (see the module's table).
fn observables(kind: &str, value: &str) -> Vec<Observable> {
    let (first, second) = value.split_once('|').unwrap_or((value, ""));
    let found = match kind {
        "domain" | "hostname" => vec![Observable::domain(value)],
        "domain|ip" => vec![Observable::domain(first), Observable::ip(second)],
        "ip-src" | "ip-dst" => vec![Observable::ip(value)],
        "ip-src|port" | "ip-dst|port" => vec![Observable::ip(first)],
        "url" | "uri" => vec![Observable::url(value)],
        "md5" | "sha1" | "sha256" => vec![Observable::hash(value)],
        "filename|md5" | "filename|sha1" | "filename|sha256" => vec![
            Observable::hash(second),
            crate::csv::typed("filename", first).flatten(),
        ],
        "filename" => vec![crate::csv::typed("filename", value).flatten()],
        "email" | "email-src" | "email-dst" => vec![Observable::email(value)],
        _ => Vec::new(),
    };
    found.into_iter().flatten().collect()
}
