//! Chrome's `Favicons` database: which page loaded which icon, and when.

use portcullis_core::ModuleOutput;
use portcullis_report::time::from_chrome;
use serde_json::{Value, json};

use super::common::{UrlRecords, open_fixed};
use crate::values::{json_time, query_records, text};
use crate::{Context, Module, ModuleError};

/// AppDomain-com.google.chrome.ios-Library/Application Support/Google/Chrome/Default/Favicons
const BACKUP_IDS: &[&str] = &["55680ab883d0fdcffd94f959b1632e5fbbb18c5b"];

const ICONS: &str = "SELECT icon_mapping.page_url AS url, favicons.url AS icon_url, \
     favicon_bitmaps.last_updated AS last_updated, favicon_bitmaps.last_requested AS last_requested \
     FROM icon_mapping \
     JOIN favicon_bitmaps ON icon_mapping.icon_id = favicon_bitmaps.icon_id \
     JOIN favicons ON icon_mapping.icon_id = favicons.id \
     ORDER BY icon_mapping.id";

pub struct ChromeFavicon;

impl Module<Context<'_>> for ChromeFavicon {
    fn name(&self) -> &'static str {
        "ChromeFavicon"
    }

    fn slug(&self) -> &'static str {
        "chrome_favicon"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, BACKUP_IDS, "Chrome Favicons database")?;
        let mut records: Vec<Value> = query_records(&conn, &source, ICONS)?
            .into_iter()
            .map(|row| {
                // The icon's last update, or when it was last requested if never updated.
                let time = |key| row.get(key).and_then(Value::as_i64).filter(|t| *t != 0);
                let timestamp = time("last_updated").or_else(|| time("last_requested"));
                json!({
                    "url": text(&row, "url"),
                    "icon_url": text(&row, "icon_url"),
                    "timestamp": timestamp.unwrap_or(0),
                    "isodate": json_time(timestamp.and_then(from_chrome)),
                })
            })
            .collect();
        records.sort_by(|a, b| a["isodate"].as_str().cmp(&b["isodate"].as_str()));

        let mut icons = UrlRecords::new(self, ctx, "new_favicon", "isodate", &["url", "icon_url"]);
        for record in records {
            let field = |key: &str| record[key].as_str().unwrap_or("").to_string();
            let data = format!("{} from {}", field("icon_url"), field("url"));
            icons.add(record, data, &source);
        }
        icons.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{fixture, indicators, list, run_at, with_sqlite};
    use portcullis_indicators::Indicators;

    const DOMAIN: &str = "AppDomain-com.google.chrome.ios";
    const PATH: &str = "Library/Application Support/Google/Chrome/Default/Favicons";

    #[test]
    fn icons_sorted_with_fallback_time_and_icon_url_indicator() {
        let (_dir, root) = with_sqlite(
            DOMAIN,
            PATH,
            "CREATE TABLE icon_mapping(id INTEGER PRIMARY KEY, page_url TEXT, icon_id INTEGER);
             CREATE TABLE favicons(id INTEGER PRIMARY KEY, url TEXT, icon_type INTEGER);
             CREATE TABLE favicon_bitmaps(id INTEGER PRIMARY KEY, icon_id INTEGER,
                 last_updated INTEGER, last_requested INTEGER);
             INSERT INTO icon_mapping VALUES (1, 'https://a.example.net/', 1),
                                             (2, 'https://b.example.net/', 2);
             INSERT INTO favicons VALUES (1, 'https://a.example.net/favicon.ico', 1),
                                         (2, 'https://cdn.example.org/icon.png', 1);
             INSERT INTO favicon_bitmaps VALUES (1, 1, 13300000000000000, 0),
                                                (2, 2, 0, 13200000000000000);",
        );
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_at(&ChromeFavicon, &root, &ind).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        // The second icon only has a request time, which is earlier: it sorts first.
        assert_eq!(results[0]["url"], "https://b.example.net/");
        assert_eq!(results[0]["timestamp"], 13200000000000000_i64);
        assert_eq!(results[0]["isodate"], "2019-04-17 18:40:00.000000");
        assert_eq!(out.timeline.len(), 2);
        assert_eq!(
            out.timeline[0].data,
            "https://cdn.example.org/icon.png from https://b.example.net/"
        );
        assert_eq!(out.timeline[0].event, "new_favicon");
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].matched_field.as_deref(), Some("icon_url"));
        assert_eq!(
            out.alerts[0].source.as_deref(),
            Some("55/55680ab883d0fdcffd94f959b1632e5fbbb18c5b")
        );
    }

    #[test]
    fn fixture_has_no_chrome_favicons() {
        let Some(path) = fixture() else { return };
        let err = run_at(&ChromeFavicon, &path, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::NotFound(_)), "{err}");
    }

    #[test]
    fn missing_table_is_a_query_error_naming_the_file() {
        let (_dir, root) = with_sqlite(DOMAIN, PATH, "CREATE TABLE meta(key TEXT, value TEXT);");
        let err = run_at(&ChromeFavicon, &root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }), "{err}");
        assert!(err.to_string().contains("55/55680ab8"), "{err}");
    }
}
