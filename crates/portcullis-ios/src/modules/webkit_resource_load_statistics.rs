//! WebKit's `observations.db` (ResourceLoadStatistics), kept by Safari and by every app that
//! shows web pages: the sites that loaded resources, and when.

use portcullis_core::ModuleOutput;
use serde_json::{Value, json};

use super::common::{UrlRecords, stored_matches};
use crate::backup::stored_path;
use crate::values::{Record, json_time, query_records, table_columns, text, unix_iso};
use crate::{Context, Module, ModuleError};

const RELATIVE_PATH: &str = "Library/WebKit/WebsiteData/ResourceLoadStatistics/observations.db";

/// Interaction times newer WebKit versions record, as (column, record field).
const OPTIONAL_TIMES: &[(&str, &str)] = &[
    (
        "mostRecentUserInteractionTime",
        "most_recent_user_interaction_time",
    ),
    (
        "mostRecentWebPushInteractionTime",
        "most_recent_web_push_interaction_time",
    ),
];

pub struct WebkitResourceLoadStatistics;

/// One record per observed domain; `domain` is the backup domain (the app) holding the file.
fn observations(
    conn: &rusqlite::Connection,
    source: &str,
    app_domain: &str,
) -> Result<Vec<Value>, ModuleError> {
    let columns = table_columns(conn, "ObservedDomains");
    let optional: Vec<_> = OPTIONAL_TIMES
        .iter()
        .filter(|(column, _)| columns.iter().any(|c| c == column))
        .collect();
    let extra: String = optional
        .iter()
        .map(|(column, _)| format!(", {column}"))
        .collect();
    let sql = format!(
        "SELECT domainID, registrableDomain, lastSeen, hadUserInteraction{extra} FROM ObservedDomains"
    );
    let rows = query_records(conn, source, &sql)?;
    Ok(rows
        .iter()
        .map(|row: &Record| {
            let last_seen = row.get("lastSeen").cloned().unwrap_or(Value::Null);
            let mut record = json!({
                "domain_id": row.get("domainID").cloned().unwrap_or(Value::Null),
                "registrable_domain": text(row, "registrableDomain"),
                "last_seen": last_seen,
                "had_user_interaction": row.get("hadUserInteraction").and_then(Value::as_i64).unwrap_or(0) != 0,
                "last_seen_isodate": json_time(unix_iso(&last_seen)),
                "domain": app_domain,
                "path": RELATIVE_PATH,
            });
            for (column, field) in &optional {
                let value = row.get(*column).cloned().unwrap_or(Value::Null);
                // WebKit writes -1 (and 0) for "never".
                let iso = unix_iso(&value).filter(|_| value.as_f64().is_some_and(|v| v > 0.0));
                record[*field] = value;
                if let Some(iso) = iso {
                    record[format!("{field}_isodate")] = Value::String(iso);
                }
            }
            record
        })
        .collect())
}

impl Module<Context<'_>> for WebkitResourceLoadStatistics {
    fn name(&self) -> &'static str {
        "WebkitResourceLoadStatistics"
    }

    fn slug(&self) -> &'static str {
        "webkit_resource_load_statistics"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let mut domains = UrlRecords::new(
            self,
            ctx,
            "visit",
            "last_seen_isodate",
            &["registrable_domain"],
        );
        for entry in stored_matches(ctx.backup, &[RELATIVE_PATH])? {
            let source = stored_path(&entry.file_id);
            let conn = ctx.backup.open_sqlite(&entry.file_id)?;
            for record in observations(&conn, &source, &entry.domain)? {
                let domain = record["registrable_domain"].as_str().unwrap_or("");
                let mut data = format!("Webkit resource loaded from {domain}");
                if !entry.domain.is_empty() {
                    data.push_str(&format!(" by app in domain {}", entry.domain));
                }
                domains.add(record, data, &source);
            }
        }
        domains.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{
        built, fixture, indicators, list, run_at, test_stix2, with_sqlite,
    };
    use portcullis_core::Level;
    use portcullis_indicators::Indicators;

    #[test]
    fn domains_of_every_app_with_optional_times_and_indicator() {
        let (_dir, root) = built(|b| {
            Ok(b.sqlite(
                "AppDomain-com.apple.mobilesafari",
                RELATIVE_PATH,
                "CREATE TABLE ObservedDomains (domainID INTEGER PRIMARY KEY,
                     registrableDomain TEXT, lastSeen REAL, hadUserInteraction INTEGER,
                     mostRecentUserInteractionTime REAL, mostRecentWebPushInteractionTime REAL);
                 INSERT INTO ObservedDomains VALUES (1, 'example.org', 1700000000, 1, 1699999000, -1);",
            )?.sqlite(
                "AppDomain-com.example.reader",
                RELATIVE_PATH,
                "CREATE TABLE ObservedDomains (domainID INTEGER PRIMARY KEY,
                     registrableDomain TEXT, lastSeen REAL, hadUserInteraction INTEGER);
                 INSERT INTO ObservedDomains VALUES (4, 'example.net', 1700000500.5, 0);",
            )?.manifest_only("AppDomain-com.example.gone", RELATIVE_PATH, 1))
        });
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_at(&WebkitResourceLoadStatistics, &root, &ind).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[0],
            json!({
                "domain_id": 1,
                "registrable_domain": "example.org",
                "last_seen": 1700000000.0,
                "had_user_interaction": true,
                "last_seen_isodate": "2023-11-14 22:13:20.000000",
                "domain": "AppDomain-com.apple.mobilesafari",
                "path": RELATIVE_PATH,
                "most_recent_user_interaction_time": 1699999000.0,
                "most_recent_user_interaction_time_isodate": "2023-11-14 21:56:40.000000",
                "most_recent_web_push_interaction_time": -1.0,
            })
        );
        assert!(
            results[1]
                .get("most_recent_user_interaction_time")
                .is_none()
        );
        assert_eq!(
            out.timeline[1].data,
            "Webkit resource loaded from example.net by app in domain AppDomain-com.example.reader"
        );
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].matched_field.as_deref(),
            Some("registrable_domain")
        );
    }

    #[test]
    fn fixture_two_domains_from_chrome() {
        let Some(path) = fixture() else { return };
        let out = run_at(&WebkitResourceLoadStatistics, &path, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["registrable_domain"], "google.com");
        assert_eq!(results[1]["registrable_domain"], "gstatic.com");
        assert_eq!(results[0]["domain"], "AppDomain-com.google.chrome.ios");
        assert!(
            results[0]["most_recent_user_interaction_time"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert!(
            results[0]
                .get("most_recent_user_interaction_time_isodate")
                .is_some()
        );
        assert_eq!(results[1]["most_recent_user_interaction_time"], -1.0);
        assert!(
            results[1]
                .get("most_recent_user_interaction_time_isodate")
                .is_none()
        );
        assert!(
            results[0]
                .get("most_recent_web_push_interaction_time")
                .is_none()
        );
        assert_eq!(out.timeline.len(), 2);
        assert_eq!(out.timeline[0].timestamp, "2021-10-18 12:30:50.000000");
        assert_eq!(
            out.timeline[0].data,
            "Webkit resource loaded from google.com by app in domain AppDomain-com.google.chrome.ios"
        );
        assert!(out.alerts.is_empty());
        assert!(
            run_at(&WebkitResourceLoadStatistics, &path, &test_stix2())
                .unwrap()
                .alerts
                .is_empty()
        );
    }

    #[test]
    fn missing_table_names_the_file() {
        let (_dir, root) = with_sqlite(
            "AppDomain-com.example.app",
            RELATIVE_PATH,
            "CREATE TABLE OperatingDates(year);",
        );
        let err = run_at(&WebkitResourceLoadStatistics, &root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }), "{err}");
        let id = crate::backup::file_id("AppDomain-com.example.app", RELATIVE_PATH);
        assert!(err.to_string().contains(&stored_path(&id)), "{err}");
    }
}
