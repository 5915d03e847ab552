//! Safari's `History.db`: every visit, plus MVT's check for near-instant HTTP redirects to
//! another site, the footprint of network injection attacks.

use std::collections::HashMap;

use portcullis_core::{Alert, Level, ModuleOutput};
use serde_json::Value;

use super::common::{UrlRecords, stored_matches};
use crate::backup::stored_path;
use crate::values::{Record, for_each_record, json_time, mac_iso, number, py_str, text};
use crate::{Context, Module, ModuleError};

/// Safari's database, and the per-profile copies of iOS 17 and later (any backup domain).
const RELATIVE_PATHS: &[&str] = &[
    "Library/Safari/History.db",
    "Library/Safari/Profiles/*/History.db",
];

const VISITS: &str = "SELECT history_items.id AS id, history_items.url AS url, \
     history_visits.id AS visit_id, history_visits.visit_time AS timestamp, \
     history_visits.redirect_source AS redirect_source, \
     history_visits.redirect_destination AS redirect_destination \
     FROM history_items JOIN history_visits ON history_visits.history_item = history_items.id \
     ORDER BY history_visits.visit_time";

const INJECTION_ADVICE: &str = "A web page opened over an unencrypted (http://) link jumped to a \
     different website within a second. Network attacks that plant spyware work this way; ask \
     your security office to look at this visit.";

pub struct SafariHistory;

/// A URL's host as MVT compares it: lower-cased, port kept, a leading `www.` removed.
fn url_domain(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = host.to_lowercase();
    host.strip_prefix("www.")
        .map(str::to_string)
        .unwrap_or(host)
}

/// Milliseconds the way MVT prints them (a Python float: `250.0`, `12.345`).
fn millis_text(micros: i64) -> String {
    if micros % 1000 == 0 {
        format!("{}.0", micros / 1000)
    } else {
        let text = format!("{:.3}", micros as f64 / 1000.0);
        text.trim_end_matches('0').to_string()
    }
}

/// What fast-redirect detection keeps of each visit, so the visits themselves can stream to
/// the results: every visit's site and time, and the full record of the few `http://` visits
/// that redirected.
#[derive(Default)]
struct Redirects {
    databases: Vec<String>,
    /// (database, visit id) → (site, time).
    visits: HashMap<(usize, i64), (String, Option<f64>)>,
    /// (database, destination visit id, origin record), in visit order.
    origins: Vec<(usize, i64, Record)>,
}

impl Redirects {
    fn note(&mut self, record: &Record) {
        let db_name = text(record, "safari_history_db");
        if self.databases.last().map(String::as_str) != Some(db_name) {
            self.databases.push(db_name.to_string());
        }
        let db = self.databases.len() - 1;
        let url = text(record, "url");
        if let Some(id) = record.get("visit_id").and_then(Value::as_i64) {
            let site = (url_domain(url), number(record, "timestamp"));
            self.visits.insert((db, id), site);
        }
        let destination = record
            .get("redirect_destination")
            .and_then(Value::as_i64)
            .filter(|d| *d != 0);
        if let Some(destination) = destination
            && url.to_lowercase().starts_with("http://")
        {
            self.origins.push((db, destination, record.clone()));
        }
    }

    /// MEDIUM alerts for `http://` visits redirected within a second to another site. The
    /// destination visit is looked up in the same database; unlike MVT, a destination recorded
    /// before its origin, or a whole day later, is not taken for a fast redirect.
    fn injections(self, slug: &str) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for (db, destination, origin) in self.origins {
            let Some((dest_site, dest_time)) = self.visits.get(&(db, destination)) else {
                continue;
            };
            let url = text(&origin, "url");
            if url_domain(url) == *dest_site {
                continue; // Most likely an upgrade to HTTPS on the same site.
            }
            let (Some(from), Some(to)) = (number(&origin, "timestamp"), *dest_time) else {
                continue;
            };
            let micros = ((to - from) * 1e6).round() as i64;
            if !(0..1_000_000).contains(&micros) {
                continue;
            }
            alerts.push(
                Alert::heuristic(
                    Level::Medium,
                    slug,
                    format!(
                        "Redirect took less than a second! ({} milliseconds)",
                        millis_text(micros)
                    ),
                    text(&origin, "isodate"),
                    Value::Object(origin.clone()),
                )
                .with_field("url", url)
                .with_advice(INJECTION_ADVICE)
                .with_source(&self.databases[db]),
            );
        }
        alerts
    }
}

impl Module<Context<'_>> for SafariHistory {
    fn name(&self) -> &'static str {
        "SafariHistory"
    }

    fn slug(&self) -> &'static str {
        "safari_history"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let mut visits = UrlRecords::new(self, ctx, "safari_history", "isodate", &["url"]);
        let mut redirects = Redirects::default();
        for entry in stored_matches(ctx.backup, RELATIVE_PATHS)? {
            let source = stored_path(&entry.file_id);
            let conn = ctx.backup.open_sqlite(&entry.file_id)?;
            for_each_record(&conn, &source, VISITS, &[], |mut record| {
                let isodate = record.get("timestamp").and_then(mac_iso);
                record.shift_insert(4, "isodate".into(), json_time(isodate));
                record.insert("safari_history_db".into(), Value::String(source.clone()));
                redirects.note(&record);
                let data = format!(
                    "Safari visit to {} (ID: {}, Visit ID: {})",
                    text(&record, "url"),
                    py_str(record.get("id")),
                    py_str(record.get("visit_id"))
                );
                visits.add(Value::Object(record), data, &source);
                Ok(())
            })?;
        }
        let mut out = visits.finish()?;
        // Fast-redirect alerts first, then indicator hits.
        out.alerts.splice(0..0, redirects.injections(self.slug()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{fixture, indicators, list, run_at, with_file, with_sqlite};
    use portcullis_indicators::Indicators;

    const SCHEMA: &str = "
        CREATE TABLE history_items (id INTEGER PRIMARY KEY, url TEXT, visit_count INTEGER);
        CREATE TABLE history_visits (id INTEGER PRIMARY KEY, history_item INTEGER,
            visit_time REAL, title TEXT, redirect_source INTEGER, redirect_destination INTEGER);";

    #[test]
    fn domain_and_millis_formatting() {
        assert_eq!(
            url_domain("http://WWW.Example.com:8080/a?b"),
            "example.com:8080"
        );
        assert_eq!(url_domain("https://user@host.example/x"), "host.example");
        assert_eq!(url_domain("bare.example"), "bare.example");
        assert_eq!(millis_text(250_000), "250.0");
        assert_eq!(millis_text(12_345), "12.345");
        assert_eq!(millis_text(1_500), "1.5");
    }

    #[test]
    fn visits_fast_redirect_and_indicator() {
        let (_dir, root) = with_sqlite(
            "AppDomain-com.apple.mobilesafari",
            "Library/Safari/History.db",
            &format!(
                "{SCHEMA}
                 INSERT INTO history_items VALUES (1, 'http://news.example.net/', 1),
                     (2, 'https://inject.example.org/land', 1),
                     (3, 'http://shop.example.net/', 1), (4, 'https://shop.example.net/', 1),
                     (5, 'http://slow.example.net/', 1), (6, 'https://other.example.com/', 1);
                 INSERT INTO history_visits VALUES
                     (10, 1, 700000000.0, 'n', NULL, 11),
                     (11, 2, 700000000.25, 'i', 10, NULL),
                     (12, 3, 700000100.0, 's', NULL, 13),
                     (13, 4, 700000100.1, 's', 12, NULL),
                     (14, 5, 700000200.0, 'w', NULL, 15),
                     (15, 6, 700000203.0, 'o', 14, NULL);"
            ),
        );
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_at(&SafariHistory, &root, &ind).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 6);
        let keys: Vec<_> = results[0].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "id",
                "url",
                "visit_id",
                "timestamp",
                "isodate",
                "redirect_source",
                "redirect_destination",
                "safari_history_db"
            ]
        );
        assert_eq!(results[1]["isodate"], "2023-03-08 20:26:40.250000");
        assert_eq!(out.timeline.len(), 6);
        assert_eq!(
            out.timeline[0].data,
            "Safari visit to http://news.example.net/ (ID: 1, Visit ID: 10)"
        );
        // The cross-site redirect within 250 ms; not the HTTPS upgrade nor the 3 s redirect.
        let medium: Vec<_> = out
            .alerts
            .iter()
            .filter(|a| a.level == Level::Medium)
            .collect();
        assert_eq!(medium.len(), 1);
        assert_eq!(
            medium[0].message,
            "Redirect took less than a second! (250.0 milliseconds)"
        );
        assert_eq!(
            medium[0].timestamp.as_deref(),
            Some("2023-03-08 20:26:40.000000")
        );
        assert_eq!(
            medium[0].matched_value.as_deref(),
            Some("http://news.example.net/")
        );
        let critical: Vec<_> = out
            .alerts
            .iter()
            .filter(|a| a.level == Level::Critical)
            .collect();
        assert_eq!(critical.len(), 1);
        assert_eq!(
            critical[0].matched_value.as_deref(),
            Some("https://inject.example.org/land")
        );
    }

    #[test]
    fn fixture_history_is_listed_but_not_stored() {
        let Some(path) = fixture() else { return };
        let err = run_at(&SafariHistory, &path, &Indicators::new()).unwrap_err();
        let ModuleError::NotFound(why) = err else {
            panic!("{err}")
        };
        assert!(why.contains("not stored"), "{why}");
    }

    #[test]
    fn corrupt_database_names_the_file() {
        let (_dir, root) = with_file(
            "HomeDomain",
            "Library/Safari/History.db",
            b"SQLite format 3\0garbage",
        );
        let err = run_at(&SafariHistory, &root, &Indicators::new()).unwrap_err();
        let id = crate::backup::file_id("HomeDomain", "Library/Safari/History.db");
        assert!(err.to_string().contains(&stored_path(&id)), "{err}");
    }
}
