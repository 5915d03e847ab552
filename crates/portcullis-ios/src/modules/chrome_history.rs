//! Chrome's `History` database: every visit, checked against URL indicators.

use portcullis_core::ModuleOutput;
use portcullis_report::time::from_chrome;
use serde_json::Value;

use super::common::{UrlRecords, open_fixed};
use crate::values::{json_time, py_str, query_records, text};
use crate::{Context, Module, ModuleError};

/// AppDomain-com.google.chrome.ios-Library/Application Support/Google/Chrome/Default/History
const BACKUP_IDS: &[&str] = &["faf971ce92c3ac508c018dce1bef2a8b8e9838f1"];

const VISITS: &str = "SELECT urls.id AS id, urls.url AS url, visits.id AS visit_id, \
     visits.visit_time AS timestamp, visits.from_visit AS redirect_source \
     FROM urls JOIN visits ON visits.url = urls.id ORDER BY visits.visit_time";

pub struct ChromeHistory;

impl Module<Context<'_>> for ChromeHistory {
    fn name(&self) -> &'static str {
        "ChromeHistory"
    }

    fn slug(&self) -> &'static str {
        "chrome_history"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, BACKUP_IDS, "Chrome History database")?;
        let mut visits = UrlRecords::new(self, ctx, "visit", "isodate", &["url"]);
        for mut record in query_records(&conn, &source, VISITS)? {
            let isodate = record
                .get("timestamp")
                .and_then(Value::as_i64)
                .filter(|t| *t != 0)
                .and_then(from_chrome);
            record.shift_insert(4, "isodate".into(), json_time(isodate));
            let data = format!(
                "{} - {} (visit ID: {}, redirect source: {})",
                py_str(record.get("id")),
                text(&record, "url"),
                py_str(record.get("visit_id")),
                py_str(record.get("redirect_source")),
            );
            visits.add(Value::Object(record), data, &source);
        }
        visits.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{fixture, indicators, list, run_at, with_file, with_sqlite};
    use portcullis_core::Level;
    use portcullis_indicators::Indicators;

    const DOMAIN: &str = "AppDomain-com.google.chrome.ios";
    const PATH: &str = "Library/Application Support/Google/Chrome/Default/History";

    #[test]
    fn visits_timeline_and_indicator() {
        let (_dir, root) = with_sqlite(
            DOMAIN,
            PATH,
            "CREATE TABLE urls(id INTEGER PRIMARY KEY, url TEXT, title TEXT);
             CREATE TABLE visits(id INTEGER PRIMARY KEY, url INTEGER, visit_time INTEGER,
                                 from_visit INTEGER);
             INSERT INTO urls VALUES (1, 'https://news.example.net/', 'News'),
                                     (2, 'https://www.example.org/bad', 'Bad');
             INSERT INTO visits VALUES (10, 2, 13300000000000000, 9),
                                       (9, 1, 13299999999000000, 0);",
        );
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_at(&ChromeHistory, &root, &ind).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["visit_id"], 9);
        assert_eq!(results[1]["url"], "https://www.example.org/bad");
        assert_eq!(results[1]["isodate"], "2022-06-18 04:26:40.000000");
        let keys: Vec<_> = results[1].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "id",
                "url",
                "visit_id",
                "timestamp",
                "isodate",
                "redirect_source"
            ]
        );
        assert_eq!(out.timeline.len(), 2);
        assert_eq!(
            out.timeline[1].data,
            "2 - https://www.example.org/bad (visit ID: 10, redirect source: 9)"
        );
        assert_eq!(out.timeline[1].plugin, "ChromeHistory");
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(out.alerts[0].matched_field.as_deref(), Some("url"));
        assert_eq!(
            out.alerts[0].timestamp.as_deref(),
            Some("2022-06-18 04:26:40.000000")
        );
    }

    #[test]
    fn fixture_has_no_chrome_history() {
        let Some(path) = fixture() else { return };
        let err = run_at(&ChromeHistory, &path, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::NotFound(_)), "{err}");
    }

    #[test]
    fn corrupt_database_names_the_file() {
        let (_dir, root) = with_file(DOMAIN, PATH, b"not a database at all, just garbage bytes");
        let err = run_at(&ChromeHistory, &root, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("fa/faf971ce92c3ac508c018dce1bef2a8b8e9838f1"),
            "{err}"
        );
    }
}
