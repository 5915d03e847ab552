//! Firefox's `browser.db` favicons: which icon was fetched while visiting which page.

use portcullis_core::ModuleOutput;
use serde_json::Value;

use super::common::{FIREFOX_BROWSER_DB, FIREFOX_BROWSER_DB_IDS, UrlRecords, open_fixed};
use crate::values::{json_time, query_records, text, unix_iso};
use crate::{Context, Module, ModuleError};

const ICONS: &str = "SELECT favicons.id AS id, favicons.url AS url, favicons.width AS width, \
     favicons.height AS height, favicons.type AS type, favicons.date AS date, \
     history.id AS history_id, history.url AS history_url \
     FROM favicons \
     JOIN favicon_sites ON favicon_sites.faviconID = favicons.id \
     JOIN history ON favicon_sites.siteID = history.id \
     ORDER BY favicons.date, favicons.id";

pub struct FirefoxFavicon;

impl Module<Context<'_>> for FirefoxFavicon {
    fn name(&self) -> &'static str {
        "FirefoxFavicon"
    }

    fn slug(&self) -> &'static str {
        "firefox_favicon"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, FIREFOX_BROWSER_DB_IDS, FIREFOX_BROWSER_DB)?;
        let mut icons = UrlRecords::new(
            self,
            ctx,
            "firefox_history",
            "isodate",
            &["url", "history_url"],
        );
        for mut record in query_records(&conn, &source, ICONS)? {
            let isodate = record.get("date").and_then(unix_iso);
            record.shift_remove("date");
            record.shift_insert(5, "isodate".into(), json_time(isodate));
            let (url, history_url) = (text(&record, "url"), text(&record, "history_url"));
            let data = format!("Firefox favicon {url} when visiting {history_url}");
            icons.add(Value::Object(record), data, &source);
        }
        icons.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::firefox_history::tests::{BROWSER_DB, DOMAIN, PATH};
    use crate::modules::test_support::{fixture, indicators, list, run_at, with_sqlite};
    use portcullis_indicators::Indicators;

    #[test]
    fn icons_with_visited_page_and_history_url_indicator() {
        let (_dir, root) = with_sqlite(DOMAIN, PATH, BROWSER_DB);
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_at(&FirefoxFavicon, &root, &ind).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        let keys: Vec<_> = results[0].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "id",
                "url",
                "width",
                "height",
                "type",
                "isodate",
                "history_id",
                "history_url"
            ]
        );
        assert_eq!(results[0]["isodate"], "2023-11-14 22:13:20.000000");
        assert_eq!(results[1]["history_url"], "https://login.example.org/x");
        assert_eq!(
            out.timeline[1].data,
            "Firefox favicon https://cdn.example.net/f.png when visiting https://login.example.org/x"
        );
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].matched_field.as_deref(), Some("history_url"));
    }

    #[test]
    fn fixture_firefox_db_is_not_stored() {
        let Some(path) = fixture() else { return };
        let err = run_at(&FirefoxFavicon, &path, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::NotFound(_)), "{err}");
    }

    #[test]
    fn missing_table_names_the_file() {
        let (_dir, root) = with_sqlite(
            DOMAIN,
            PATH,
            "CREATE TABLE history(id INTEGER PRIMARY KEY, url TEXT);",
        );
        let err = run_at(&FirefoxFavicon, &root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }), "{err}");
        assert!(err.to_string().contains("2e/2e57c396"), "{err}");
    }
}
