//! WebKit's `full_browsing_session_resourceLog.plist`: per site, which other sites it redirected
//! from and to and which it embedded. A redirect chain through a known bad domain is how
//! one-click exploit links deliver spyware.

use plist::Value as Plist;
use portcullis_core::{Alert, Level, ModuleOutput, Results};
use serde_json::{Map, Value, json};

use super::common::{critical_indicator_alert, stored_matches};
use crate::backup::stored_path;
use crate::values::{json_time, plist_to_json, plist_unix_iso};
use crate::{Context, Module, ModuleError};

const RELATIVE_PATH: &str =
    "Library/WebKit/WebsiteData/ResourceLoadStatistics/full_browsing_session_resourceLog.plist";

const REDIRECT_ADVICE: &str = "A website on a list of known spyware infrastructure took part in \
     a chain of web redirects on this phone. Keep the phone as it is and contact your security \
     office or a digital-security helpline.";

pub struct WebkitSessionResourceLog;

/// One `browsingStatistics` entry as MVT records it.
fn entry_record(item: &plist::Dictionary) -> Value {
    let field = |key: &str| item.get(key).map_or(json!(""), plist_to_json);
    json!({
        "origin": field("PrevalentResourceOrigin"),
        "redirect_source": field("topFrameUniqueRedirectsFrom"),
        "redirect_destination": field("topFrameUniqueRedirectsTo"),
        "subframe_under_origin": field("subframeUnderTopFrameOrigins"),
        "subresource_under_origin": field("subresourceUnderTopFrameOrigins"),
        "user_interaction": item.get("hadUserInteraction").map_or(Value::Null, plist_to_json),
        "most_recent_interaction": json_time(item.get("mostRecentUserInteraction").and_then(plist_unix_iso)),
        "last_seen": json_time(item.get("lastSeen").and_then(plist_unix_iso)),
    })
}

/// The domains listed in a field: plain strings, or dictionaries with `origin`/`domain`.
fn domains(value: &Value) -> Vec<&str> {
    match value {
        Value::Array(items) => items.iter().flat_map(item_domains).collect(),
        other => item_domains(other),
    }
}

fn item_domains(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) if !s.is_empty() => vec![s.as_str()],
        Value::Object(o) => ["origin", "domain"]
            .iter()
            .filter_map(|k| o.get(*k).and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

/// `"a", "b"` as MVT quotes domain lists.
fn quoted(domains: &[&str]) -> String {
    domains
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl WebkitSessionResourceLog {
    /// A CRITICAL alert for the first indicator among the entry's domains and, when the entry
    /// took part in redirects, a HIGH alert describing the chain.
    fn check(&self, ctx: &Context<'_>, entry: &Value, source: &str, out: &mut ModuleOutput) {
        let origin = entry["origin"].as_str().unwrap_or("");
        let sources = domains(&entry["redirect_source"]);
        let destinations = domains(&entry["redirect_destination"]);
        let mut all: Vec<(&str, &str)> = vec![("origin", origin)];
        all.extend(sources.iter().map(|d| ("redirect_source", *d)));
        all.extend(destinations.iter().map(|d| ("redirect_destination", *d)));
        all.extend(
            domains(&entry["subframe_under_origin"])
                .into_iter()
                .map(|d| ("subframe_under_origin", d)),
        );
        all.extend(
            domains(&entry["subresource_under_origin"])
                .into_iter()
                .map(|d| ("subresource_under_origin", d)),
        );
        let timestamp = entry["last_seen"].as_str().unwrap_or("");
        let Some((field, hit)) = all
            .into_iter()
            .filter(|(_, d)| !d.is_empty())
            .find_map(|(field, d)| ctx.indicators.check_url(d).map(|hit| (field, hit)))
        else {
            return;
        };
        out.alerts.push(critical_indicator_alert(
            self.slug(),
            hit,
            field,
            timestamp,
            entry.clone(),
            source,
        ));
        if sources.is_empty() && destinations.is_empty() {
            return;
        }
        let mut chain = String::new();
        if !sources.is_empty() {
            chain.push_str(&format!("SOURCE: {} -> ", quoted(&sources)));
        }
        chain.push_str(&format!("ORIGIN: \"{origin}\""));
        if !destinations.is_empty() {
            chain.push_str(&format!(" -> DESTINATION: {}", quoted(&destinations)));
        }
        out.alerts.push(
            Alert::heuristic(
                Level::High,
                self.slug(),
                format!("Found HTTP redirect between suspicious domains: {chain}"),
                timestamp,
                entry.clone(),
            )
            .with_field("origin", origin)
            .with_advice(REDIRECT_ADVICE)
            .with_source(source),
        );
    }
}

impl Module<Context<'_>> for WebkitSessionResourceLog {
    fn name(&self) -> &'static str {
        "WebkitSessionResourceLog"
    }

    fn slug(&self) -> &'static str {
        "webkit_session_resource_log"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let mut out = ModuleOutput::default();
        let mut results = Map::new();
        for file in stored_matches(ctx.backup, &[RELATIVE_PATH])? {
            let source = stored_path(&file.file_id);
            let plist = ctx.backup.read_plist(&file.file_id)?;
            let entries: Vec<Value> = plist
                .as_dictionary()
                .and_then(|d| d.get("browsingStatistics"))
                .and_then(Plist::as_array)
                .into_iter()
                .flatten()
                .filter_map(Plist::as_dictionary)
                .map(entry_record)
                .collect();
            for entry in &entries {
                self.check(ctx, entry, &source, &mut out);
            }
            results.insert(source, Value::Array(entries));
        }
        out.results = Results::Object(results);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{fixture, indicators, run_at, with_file, with_plist};
    use portcullis_indicators::Indicators;
    use std::time::{Duration, UNIX_EPOCH};

    fn strings(items: &[&str]) -> Plist {
        Plist::Array(items.iter().map(|s| Plist::String(s.to_string())).collect())
    }

    #[test]
    fn entries_and_redirect_chain_alerts() {
        let date = plist::Date::from(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let mut bad = plist::Dictionary::new();
        bad.insert(
            "PrevalentResourceOrigin".into(),
            "tracker.example.net".into(),
        );
        bad.insert(
            "topFrameUniqueRedirectsFrom".into(),
            strings(&["news.example.net"]),
        );
        bad.insert(
            "topFrameUniqueRedirectsTo".into(),
            strings(&["payload.example.org"]),
        );
        bad.insert("subframeUnderTopFrameOrigins".into(), strings(&[]));
        bad.insert("hadUserInteraction".into(), false.into());
        bad.insert("mostRecentUserInteraction".into(), Plist::Date(date));
        bad.insert("lastSeen".into(), Plist::Date(date));
        let mut fine = plist::Dictionary::new();
        fine.insert("PrevalentResourceOrigin".into(), "cdn.example.net".into());
        fine.insert("lastSeen".into(), Plist::Real(1_600_000_000.0));
        let mut top = plist::Dictionary::new();
        top.insert(
            "browsingStatistics".into(),
            Plist::Array(vec![Plist::Dictionary(bad), Plist::Dictionary(fine)]),
        );
        let (_dir, root) = with_plist(
            "AppDomain-com.apple.mobilesafari",
            RELATIVE_PATH,
            &Plist::Dictionary(top),
        );
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_at(&WebkitSessionResourceLog, &root, &ind).unwrap();
        let Results::Object(results) = &out.results else {
            panic!("object expected")
        };
        let key = "a5/a500ee38053454a02e990957be8a251935e28d3f";
        let entries = results[key].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0],
            json!({
                "origin": "tracker.example.net",
                "redirect_source": ["news.example.net"],
                "redirect_destination": ["payload.example.org"],
                "subframe_under_origin": [],
                "subresource_under_origin": "",
                "user_interaction": false,
                "most_recent_interaction": "2023-11-14 22:13:20.000000",
                "last_seen": "2023-11-14 22:13:20.000000",
            })
        );
        assert_eq!(entries[1]["last_seen"], "2020-09-13 12:26:40.000000");
        assert_eq!(entries[1]["most_recent_interaction"], Value::Null);
        assert!(out.timeline.is_empty());
        assert_eq!(out.alerts.len(), 2);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].matched_field.as_deref(),
            Some("redirect_destination")
        );
        assert_eq!(out.alerts[1].level, Level::High);
        assert_eq!(
            out.alerts[1].message,
            "Found HTTP redirect between suspicious domains: SOURCE: \"news.example.net\" -> \
             ORIGIN: \"tracker.example.net\" -> DESTINATION: \"payload.example.org\""
        );
        assert_eq!(out.alerts[1].source.as_deref(), Some(key));
    }

    #[test]
    fn domains_accept_strings_and_dictionaries() {
        let v = json!([{"origin": "a.example"}, "b.example", {"domain": "c.example"}, 3]);
        assert_eq!(domains(&v), ["a.example", "b.example", "c.example"]);
        assert!(domains(&json!("")).is_empty());
    }

    #[test]
    fn fixture_has_no_session_log() {
        let Some(path) = fixture() else { return };
        let err = run_at(&WebkitSessionResourceLog, &path, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::NotFound(_)), "{err}");
    }

    #[test]
    fn corrupt_plist_names_the_file() {
        let (_dir, root) = with_file(
            "AppDomain-com.apple.mobilesafari",
            RELATIVE_PATH,
            b"bplist00\xff\xff garbage",
        );
        let err = run_at(&WebkitSessionResourceLog, &root, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("a5/a500ee38053454a02e990957be8a251935e28d3f"),
            "{err}"
        );
    }
}
