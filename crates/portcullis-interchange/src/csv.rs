//! CSV with a header naming the columns. Column names are matched in any case, with spaces,
//! `-` and `.` read as `_`:
//!
//! | column | names accepted |
//! |---|---|
//! | value (required) | `value`, `indicator`, `ioc`, `observable` (each also with `_value`), `data` |
//! | type | `type`, `ioc_type`, `indicator_type`, `kind` |
//! | actor | `actor`, `malware`, `family`, `threat`, `campaign`, `collection` |
//! | reference | `reference`, `references`, `link`, `url_reference`, `source_url` |
//! | description | `description`, `comment`, `comments`, `note` |
//! | labels | `labels`, `tags` (separated by `,`, `;` or `|`) |
//!
//! Types: `domain`, `hostname`, `fqdn`; `ip`, `ipv4`, `ipv6`, `ip-src`, `ip-dst`, `cidr`,
//! `subnet`; `url`, `uri`, `url_path`, `path`; `md5`, `sha1`, `sha256`, `hash`; `email`;
//! `filename`. A missing or empty type is guessed from the value (as a plain-list entry, an
//! e-mail address or a hash). Rows whose actor column is filled go to that actor; the others
//! to the collection's name.

use crate::model::{Actors, Indicator, Observable};
use crate::plain::{entry_observable, reference};
use crate::{ImportError, Imported, skipped};

const VALUE: &[&str] = &[
    "value",
    "indicator",
    "indicator_value",
    "ioc",
    "ioc_value",
    "observable",
    "observable_value",
    "data",
];
const TYPE: &[&str] = &["type", "ioc_type", "indicator_type", "kind"];
const ACTOR: &[&str] = &[
    "actor",
    "malware",
    "family",
    "threat",
    "campaign",
    "collection",
];
const REFERENCE: &[&str] = &[
    "reference",
    "references",
    "link",
    "url_reference",
    "source_url",
];
const DESCRIPTION: &[&str] = &["description", "comment", "comments", "note"];
const LABELS: &[&str] = &["labels", "tags"];

fn column(header: &csv::StringRecord, names: &[&str]) -> Option<usize> {
    header.iter().position(|h| {
        let h: String = h
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' | '.' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        names.contains(&h.as_str())
    })
}

/// A value of a named type (see the module's table); `None` when it is not one.
pub(crate) fn typed(kind: &str, value: &str) -> Option<Option<Observable>> {
    let kind = kind.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let v = value.trim();
    Some(match kind.as_str() {
        "" => guess(v),
        "domain" | "hostname" | "fqdn" | "domain_name" => Observable::domain(v),
        "ip" | "ipv4" | "ipv6" | "ip_src" | "ip_dst" | "cidr" | "subnet" | "ip_address" => {
            Observable::ip(v)
        }
        "url" | "uri" | "url_path" | "path" | "link" => Observable::url(v),
        "md5" | "sha1" | "sha256" | "hash" | "file_hash" => Observable::hash(v),
        "email" | "email_src" | "email_dst" | "email_address" => Observable::email(v),
        "filename" | "file_name" => {
            let ok = !v.is_empty() && v.len() <= crate::MAX_VALUE && !v.contains(['/', '\0']);
            ok.then(|| Observable::FileName(v.to_string()))
        }
        _ => return None,
    })
}

/// A value of no stated type: a plain-list entry, an e-mail address or a hash.
fn guess(v: &str) -> Option<Observable> {
    Observable::hash(v)
        .or_else(|| Observable::email(v))
        .or_else(|| entry_observable(v))
}

pub fn parse(text: &str, name: &str, created: &str) -> Result<Imported, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| ImportError::Line {
            line: 1,
            reason: e.to_string(),
        })?
        .clone();
    let value_at = column(&header, VALUE).ok_or_else(|| ImportError::Line {
        line: 1,
        reason: format!(
            "no value column in the header (one of: {})",
            VALUE.join(", ")
        ),
    })?;
    let at = |names| column(&header, names);
    let (type_at, actor_at, ref_at, desc_at, labels_at) = (
        at(TYPE),
        at(ACTOR),
        at(REFERENCE),
        at(DESCRIPTION),
        at(LABELS),
    );
    let mut actors = Actors::new(name);
    let mut skips = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ImportError::Line {
            line: e.position().map_or(0, |p| p.line() as usize),
            reason: e.to_string(),
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("");
        let value = get(Some(value_at));
        if value.is_empty() {
            continue;
        }
        let kind = get(type_at);
        let observable = match typed(kind, value) {
            Some(Some(o)) => o,
            Some(None) => {
                skips.push(skipped(line, value, &format!("not a valid {kind:?} value")));
                continue;
            }
            None => {
                skips.push(skipped(
                    line,
                    value,
                    &format!("type {kind:?} is not supported"),
                ));
                continue;
            }
        };
        let mut indicator = Indicator::new(observable);
        indicator.references.extend(reference(get(ref_at)));
        let description = get(desc_at);
        indicator.description = (!description.is_empty()).then(|| description.to_string());
        indicator.labels = get(labels_at)
            .split([',', ';', '|'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let actor_name = Some(get(actor_at))
            .filter(|a| !a.is_empty())
            .unwrap_or(name);
        actors.get(actor_name).add(indicator);
    }
    Ok(actors.into_imported(name, created, skips))
}
