//! Firefox's `browser.db` favicons: which icon was fetched while visiting which page.

use portcullis_report::{ModuleOutput, Results};
use serde_json::Value;

use super::browser_common::{json_time, open_fixed, push_event, unix_iso, url_alert};
use super::firefox_history::{BACKUP_IDS, WHAT};
use crate::values::{query_records, text};
use crate::{Context, Module, ModuleError};

const ICONS: &str = "SELECT favicons.id AS id, favicons.url AS url, favicons.width AS width, \
     favicons.height AS height, favicons.type AS type, favicons.date AS date, \
     history.id AS history_id, history.url AS history_url \
     FROM favicons \
     JOIN favicon_sites ON favicon_sites.faviconID = favicons.id \
     JOIN history ON favicon_sites.siteID = history.id \
     ORDER BY favicons.date, favicons.id";

pub struct FirefoxFavicon;

impl Module for FirefoxFavicon {
    fn name(&self) -> &'static str {
        "FirefoxFavicon"
    }

    fn slug(&self) -> &'static str {
        "firefox_favicon"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, BACKUP_IDS, WHAT)?;
        let mut out = ModuleOutput::default();
        let mut results = Vec::new();
        for mut record in query_records(&conn, &source, ICONS)? {
            let isodate = record.get("date").and_then(unix_iso);
            record.shift_remove("date");
            record.shift_insert(5, "isodate".into(), json_time(isodate.clone()));
            let (url, history_url) = (text(&record, "url"), text(&record, "history_url"));
            push_event(
                &mut out,
                self.name(),
                isodate.as_deref(),
                "firefox_history",
                format!("Firefox favicon {url} when visiting {history_url}"),
            );
            let event = Value::Object(record.clone());
            out.alerts.extend(url_alert(
                ctx.indicators,
                self.slug(),
                [("url", url), ("history_url", history_url)],
                isodate.as_deref().unwrap_or(""),
                &event,
                &source,
            ));
            results.push(event);
        }
        out.results = Results::List(results);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backup;
    use crate::builder::BackupBuilder;
    use crate::modules::browser_common::test_support::{fixture, indicators};
    use crate::modules::firefox_history::tests::{BROWSER_DB, DOMAIN, PATH};
    use portcullis_indicators::Indicators;

    #[test]
    fn icons_with_visited_page_and_history_url_indicator() {
        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .sqlite(DOMAIN, PATH, BROWSER_DB)
            .unwrap()
            .finish()
            .unwrap();
        let backup = Backup::open(&root).unwrap();
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = FirefoxFavicon
            .run(&Context {
                backup: &backup,
                indicators: &ind,
            })
            .unwrap();
        let Results::List(results) = &out.results else {
            panic!("list expected")
        };
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
        let backup = Backup::open(&path).unwrap();
        let ind = Indicators::new();
        let err = FirefoxFavicon
            .run(&Context {
                backup: &backup,
                indicators: &ind,
            })
            .unwrap_err();
        assert!(matches!(err, ModuleError::NotFound(_)), "{err}");
    }

    #[test]
    fn missing_table_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .sqlite(
                DOMAIN,
                PATH,
                "CREATE TABLE history(id INTEGER PRIMARY KEY, url TEXT);",
            )
            .unwrap()
            .finish()
            .unwrap();
        let backup = Backup::open(&root).unwrap();
        let ind = Indicators::new();
        let err = FirefoxFavicon
            .run(&Context {
                backup: &backup,
                indicators: &ind,
            })
            .unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }), "{err}");
        assert!(err.to_string().contains("2e/2e57c396"), "{err}");
    }
}
