//! Zeek Intel framework files: a `#fields` line naming tab-separated columns (`indicator`,
//! `indicator_type`, and `meta.*`), then one indicator per line. Types read: `Intel::DOMAIN`,
//! `Intel::ADDR`, `Intel::SUBNET`, `Intel::URL` (Zeek writes URLs without their scheme, so
//! they match under `http://` and `https://`), `Intel::EMAIL`, `Intel::FILE_HASH`,
//! `Intel::FILE_NAME`; others (`Intel::SOFTWARE`, `Intel::USER_NAME`, `Intel::CERT_HASH`,
//! `Intel::PUBKEY_HASH`, `Intel::JA3`) are skipped, with their line. `meta.source` names the
//! actor (rows without one go to the collection's name), `meta.desc` is the description and
//! `meta.url` a reference. `-` is Zeek's empty value.

use crate::model::{Actors, Indicator, Observable};
use crate::plain::reference;
use crate::{ImportError, Imported, skipped};

pub fn parse(text: &str, name: &str, created: &str) -> Result<Imported, ImportError> {
    let mut fields: Option<Vec<&str>> = None;
    let mut actors = Actors::new(name);
    let mut skips = Vec::new();
    for (n, line) in (1..).zip(text.lines()) {
        if let Some(header) = line.strip_prefix("#fields") {
            fields = Some(header.trim_start_matches(['\t', ' ']).split('\t').collect());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some(names) = &fields else {
            return Err(ImportError::Line {
                line: n,
                reason: "an indicator before the #fields line".into(),
            });
        };
        let cells: Vec<&str> = line.split('\t').collect();
        let get = |field: &str| {
            names
                .iter()
                .position(|f| *f == field)
                .and_then(|i| cells.get(i))
                .map(|c| c.trim())
                .filter(|c| !c.is_empty() && *c != "-")
        };
        let (Some(value), Some(kind)) = (get("indicator"), get("indicator_type")) else {
            skips.push(skipped(n, line, "no indicator or indicator_type"));
            continue;
        };
        let observable = match kind {
            "Intel::DOMAIN" => Observable::domain(value),
            "Intel::ADDR" | "Intel::SUBNET" => Observable::ip(value),
            "Intel::URL" => url(value),
            "Intel::EMAIL" => Observable::email(value),
            "Intel::FILE_HASH" => Observable::hash(value),
            "Intel::FILE_NAME" => crate::csv::typed("filename", value).flatten(),
            other => {
                skips.push(skipped(n, value, &format!("{other} is not supported")));
                continue;
            }
        };
        let Some(observable) = observable else {
            skips.push(skipped(n, value, &format!("not a valid {kind} value")));
            continue;
        };
        let mut indicator = Indicator::new(observable);
        indicator.description = get("meta.desc").map(str::to_string);
        indicator
            .references
            .extend(get("meta.url").and_then(reference));
        let actor_name = get("meta.source").unwrap_or(name);
        actors.get(actor_name).add(indicator);
    }
    Ok(actors.into_imported(name, created, skips))
}

/// A Zeek URL (`host/path`, no scheme); one written with a scheme is taken as it is.
fn url(value: &str) -> Option<Observable> {
    if value.contains("://") {
        return Observable::url(value);
    }
    Observable::schemeless(value)
}
