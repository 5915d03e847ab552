//! Firefox's `browser.db`: every visit, checked against URL indicators.

use portcullis_core::ModuleOutput;
use serde_json::{Value, json};

use super::common::{FIREFOX_BROWSER_DB, FIREFOX_BROWSER_DB_IDS, UrlRecords, open_fixed};
use crate::values::{json_time, py_str, query_records, text, unix_iso};
use crate::{Context, Module, ModuleError};

const VISITS: &str = "SELECT visits.id AS id, visits.date AS date, history.url AS url, \
     history.title AS title, visits.is_local AS is_local, visits.type AS type \
     FROM visits JOIN history ON visits.siteID = history.id ORDER BY visits.date, visits.id";

pub struct FirefoxHistory;

impl Module<Context<'_>> for FirefoxHistory {
    fn name(&self) -> &'static str {
        "FirefoxHistory"
    }

    fn slug(&self) -> &'static str {
        "firefox_history"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, FIREFOX_BROWSER_DB_IDS, FIREFOX_BROWSER_DB)?;
        let mut visits = UrlRecords::new(self, ctx, "firefox_history", "isodate", &["url"]);
        for row in query_records(&conn, &source, VISITS)? {
            // Visit dates are microseconds since 1970.
            let micros = row.get("date").and_then(Value::as_f64).unwrap_or(0.0);
            let isodate = unix_iso(&json!(micros / 1e6));
            // `i1000000s_local` (sic) keeps MVT's field name so result files stay comparable.
            let record = json!({
                "id": row.get("id").cloned().unwrap_or(Value::Null),
                "isodate": json_time(isodate),
                "url": text(&row, "url"),
                "title": row.get("title").cloned().unwrap_or(Value::Null),
                "i1000000s_local": row.get("is_local").cloned().unwrap_or(Value::Null),
                "type": row.get("type").cloned().unwrap_or(Value::Null),
            });
            let data = format!(
                "Firefox visit with ID {} to URL: {}",
                py_str(row.get("id")),
                text(&row, "url")
            );
            visits.add(record, data, &source);
        }
        visits.finish()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::modules::test_support::{fixture, indicators, list, run_at, with_file, with_sqlite};
    use portcullis_indicators::Indicators;

    pub(in crate::modules) const DOMAIN: &str = "AppDomainGroup-group.org.mozilla.ios.Firefox";
    pub(in crate::modules) const PATH: &str = "profile.profile/browser.db";

    /// A small `browser.db` with two visited sites, one of them on example.org.
    pub(in crate::modules) const BROWSER_DB: &str = "
        CREATE TABLE history(id INTEGER PRIMARY KEY, guid TEXT, url TEXT, title TEXT);
        CREATE TABLE visits(id INTEGER PRIMARY KEY, siteID INTEGER, date REAL, type INTEGER,
                            is_local TINYINT);
        CREATE TABLE favicons(id INTEGER PRIMARY KEY, url TEXT, width INTEGER, height INTEGER,
                              type INTEGER, date REAL);
        CREATE TABLE favicon_sites(id INTEGER PRIMARY KEY, siteID INTEGER, faviconID INTEGER);
        INSERT INTO history VALUES (1, 'g1', 'https://mozilla.example.net/', 'Mozilla'),
                                   (2, 'g2', 'https://login.example.org/x', 'Login');
        INSERT INTO visits VALUES (7, 2, 1700000000500000, 1, 1), (6, 1, 1699999999000000, 1, 1);
        INSERT INTO favicons VALUES (3, 'https://mozilla.example.net/favicon.ico', 16, 16, 1, 1700000000),
                                    (4, 'https://cdn.example.net/f.png', 32, 32, 1, 1700000100);
        INSERT INTO favicon_sites VALUES (1, 1, 3), (2, 2, 4);";

    #[test]
    fn visits_timeline_and_indicator() {
        let (_dir, root) = with_sqlite(DOMAIN, PATH, BROWSER_DB);
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_at(&FirefoxHistory, &root, &ind).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["id"], 6);
        assert_eq!(results[1]["isodate"], "2023-11-14 22:13:20.500000");
        assert_eq!(results[1]["i1000000s_local"], 1);
        assert_eq!(results[1]["title"], "Login");
        assert_eq!(
            out.timeline[1].data,
            "Firefox visit with ID 7 to URL: https://login.example.org/x"
        );
        assert_eq!(out.timeline[1].event, "firefox_history");
        assert_eq!(out.alerts.len(), 1);
        assert!(
            out.alerts[0].message.contains("login.example.org"),
            "{}",
            out.alerts[0].message
        );
    }

    #[test]
    fn fixture_firefox_db_is_not_stored() {
        let Some(path) = fixture() else { return };
        let err = run_at(&FirefoxHistory, &path, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::NotFound(_)), "{err}");
    }

    #[test]
    fn corrupt_database_names_the_file() {
        let (_dir, root) = with_file(DOMAIN, PATH, &[0xde; 600]);
        let err = run_at(&FirefoxHistory, &root, &Indicators::new()).unwrap_err();
        assert!(err.to_string().contains("2e/2e57c396"), "{err}");
    }
}
