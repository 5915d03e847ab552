//! Safari's `BrowserState.db`: open tabs and each tab's back/forward history.

use plist::Value as Plist;
use portcullis_core::{ModuleOutput, Results};
use rusqlite::types::ValueRef;
use serde_json::{Value, json};

use super::common::{push_event, stored_matches, url_alert};
use crate::backup::stored_path;
use crate::values::{has_table, json_time, mac_iso, sql_value, table_columns};
use crate::{Context, Module, ModuleError};

/// Safari's database, and the per-profile copies of iOS 17 and later (any backup domain).
const RELATIVE_PATHS: &[&str] = &[
    "Library/Safari/BrowserState.db",
    "Library/Safari/Profiles/*/BrowserState.db",
];

const TABS_WITH_SESSIONS: &str = "SELECT tabs.title, tabs.url, tabs.user_visible_url, \
     tabs.last_viewed_time, tab_sessions.session_data \
     FROM tabs LEFT JOIN tab_sessions ON tabs.uuid = tab_sessions.tab_uuid \
     ORDER BY tabs.last_viewed_time";

pub struct SafariBrowserState;

/// The tabs query for this database's schema: iOS 12 and later keep session data in
/// `tab_sessions`; older versions in `tabs` itself (or not at all).
fn tabs_query(conn: &rusqlite::Connection) -> String {
    if has_table(conn, "tab_sessions") {
        return TABS_WITH_SESSIONS.to_string();
    }
    let session = if table_columns(conn, "tabs")
        .iter()
        .any(|c| c == "session_data")
    {
        "session_data"
    } else {
        "NULL"
    };
    format!(
        "SELECT title, url, user_visible_url, last_viewed_time, {session} \
         FROM tabs ORDER BY last_viewed_time"
    )
}

/// The entries of a tab's session blob: a 4-byte header, then a binary plist holding
/// `SessionHistory.SessionHistoryEntries`. An unreadable blob yields no entries, like MVT.
fn session_entries(blob: &[u8]) -> Vec<Value> {
    let Some(body) = blob.get(4..) else {
        return Vec::new();
    };
    let Ok(plist) = portcullis_evidence::property_list::parse(body) else {
        tracing::debug!("unreadable Safari tab session blob");
        return Vec::new();
    };
    let entries = plist
        .as_dictionary()
        .and_then(|d| d.get("SessionHistory"))
        .and_then(Plist::as_dictionary)
        .and_then(|d| d.get("SessionHistoryEntries"))
        .and_then(Plist::as_array);
    let string = |entry: &plist::Dictionary, key: &str| {
        entry
            .get(key)
            .and_then(Plist::as_string)
            .map_or(Value::Null, |s| Value::String(s.to_string()))
    };
    entries
        .into_iter()
        .flatten()
        .filter_map(Plist::as_dictionary)
        .map(|entry| {
            let data_length = entry
                .get("SessionHistoryEntryData")
                .and_then(Plist::as_data)
                .map_or(0, <[u8]>::len);
            // MVT fills `entry_title` with the original URL; the real title is used here and
            // the original URL (where a redirect started) is kept beside it.
            json!({
                "entry_title": string(entry, "SessionHistoryEntryTitle"),
                "entry_url": string(entry, "SessionHistoryEntryURL"),
                "entry_original_url": string(entry, "SessionHistoryEntryOriginalURL"),
                "data_length": data_length,
            })
        })
        .collect()
}

impl Module<Context<'_>> for SafariBrowserState {
    fn name(&self) -> &'static str {
        "SafariBrowserState"
    }

    fn slug(&self) -> &'static str {
        "safari_browser_state"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let mut out = ModuleOutput::default();
        let mut results = Vec::new();
        for entry in stored_matches(ctx.backup, RELATIVE_PATHS)? {
            let source = stored_path(&entry.file_id);
            let conn = ctx.backup.open_sqlite(&entry.file_id)?;
            let err = ModuleError::query(&source);
            let mut stmt = conn.prepare(&tabs_query(&conn)).map_err(&err)?;
            let mut rows = stmt.query([]).map_err(&err)?;
            while let Some(row) = rows.next().map_err(&err)? {
                let column = |i| row.get_ref(i).map_or(Value::Null, sql_value);
                // The session blob is read raw: as a record value it would become text.
                let session = match row.get_ref(4) {
                    Ok(ValueRef::Blob(blob)) => session_entries(blob),
                    _ => Vec::new(),
                };
                let last_viewed = mac_iso(&column(3));
                let record = json!({
                    "tab_title": column(0),
                    "tab_url": column(1),
                    "tab_visible_url": column(2),
                    "last_viewed_timestamp": json_time(last_viewed.clone()),
                    "session_data": session,
                    "safari_browser_state_db": source,
                });
                let (title, url) = (
                    record["tab_title"].as_str().unwrap_or(""),
                    record["tab_url"].as_str().unwrap_or(""),
                );
                push_event(
                    &mut out,
                    self.name(),
                    last_viewed.as_deref(),
                    "tab",
                    format!("{title} - {url}"),
                );
                let ts = last_viewed.as_deref().unwrap_or("");
                let alert = |field, url| {
                    url_alert(
                        ctx.indicators,
                        self.slug(),
                        [(field, url)],
                        ts,
                        &record,
                        &source,
                    )
                };
                if let Some(hit) = alert("tab_url", url) {
                    out.alerts.push(hit);
                } else {
                    // Every distinct URL of the tab's history, including where redirects started.
                    let mut seen: Vec<&str> = Vec::new();
                    for e in record["session_data"].as_array().into_iter().flatten() {
                        for key in ["entry_url", "entry_original_url"] {
                            let Some(u) = e[key].as_str().filter(|u| !seen.contains(u)) else {
                                continue;
                            };
                            seen.push(u);
                            out.alerts.extend(alert("session_data", u));
                        }
                    }
                }
                results.push(record);
            }
        }
        out.results = Results::List(results);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{
        built, fixture, indicators, list, run_at, test_stix2, with_file, with_sqlite,
    };
    use portcullis_core::Level;
    use portcullis_indicators::Indicators;

    const SCHEMA: &str = "
        CREATE TABLE tabs (id INTEGER PRIMARY KEY, uuid TEXT, title TEXT, url TEXT,
                           user_visible_url TEXT, last_viewed_time REAL);
        CREATE TABLE tab_sessions (id INTEGER PRIMARY KEY, tab_uuid TEXT, session_data BLOB);";

    /// A session blob as Safari writes it: 4 header bytes, then the binary plist.
    fn session_blob(entries: &[(&str, &str, &str)]) -> String {
        let entries = entries
            .iter()
            .map(|(title, url, original)| {
                let mut d = plist::Dictionary::new();
                d.insert("SessionHistoryEntryTitle".into(), (*title).into());
                d.insert("SessionHistoryEntryURL".into(), (*url).into());
                d.insert("SessionHistoryEntryOriginalURL".into(), (*original).into());
                d.insert("SessionHistoryEntryData".into(), Plist::Data(vec![7; 12]));
                Plist::Dictionary(d)
            })
            .collect();
        let mut history = plist::Dictionary::new();
        history.insert("SessionHistoryEntries".into(), Plist::Array(entries));
        let mut top = plist::Dictionary::new();
        top.insert("SessionHistory".into(), Plist::Dictionary(history));
        let mut bytes = vec![0, 0, 0, 2];
        Plist::Dictionary(top).to_writer_binary(&mut bytes).unwrap();
        format!("X'{}'", hex::encode(bytes))
    }

    #[test]
    fn tabs_sessions_profiles_and_redirect_origin_indicator() {
        let blob = session_blob(&[
            (
                "Start",
                "https://start.example.net/",
                "https://start.example.net/",
            ),
            (
                "Landing",
                "https://landing.example.net/",
                "http://track.example.org/r",
            ),
        ]);
        let (_dir, root) = built(|b| {
            b.sqlite(
                "HomeDomain",
                "Library/Safari/BrowserState.db",
                &format!(
                    "{SCHEMA}
                     INSERT INTO tabs VALUES (1, 'A', 'Landing', 'https://landing.example.net/',
                                              'https://landing.example.net/', 700000000.5),
                                             (2, 'B', 'No session', 'https://b.example.net/',
                                              'https://b.example.net/', 690000000);
                     INSERT INTO tab_sessions VALUES (1, 'A', {blob}), (2, 'Z', X'00');"
                ),
            )?
            .sqlite(
                "AppDomain-com.apple.mobilesafari",
                "Library/Safari/Profiles/5F1C/BrowserState.db",
                &format!(
                    "{SCHEMA}
                     INSERT INTO tabs VALUES (1, 'C', 'Work', 'https://work.example.org/', NULL,
                                              710000000);"
                ),
            )
        });
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_at(&SafariBrowserState, &root, &ind).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["tab_title"], "No session");
        assert_eq!(results[0]["session_data"], json!([]));
        let landing = &results[1];
        assert_eq!(
            landing["last_viewed_timestamp"],
            "2023-03-08 20:26:40.500000"
        );
        assert_eq!(
            landing["session_data"][1],
            json!({
                "entry_title": "Landing",
                "entry_url": "https://landing.example.net/",
                "entry_original_url": "http://track.example.org/r",
                "data_length": 12,
            })
        );
        assert_eq!(
            landing["safari_browser_state_db"],
            stored_path(&crate::backup::file_id(
                "HomeDomain",
                "Library/Safari/BrowserState.db"
            ))
        );
        assert_eq!(results[2]["tab_visible_url"], Value::Null);
        assert_eq!(out.timeline.len(), 3);
        assert_eq!(
            out.timeline[1].data,
            "Landing - https://landing.example.net/"
        );
        assert_eq!(out.timeline[1].event, "tab");
        // The landing tab through its redirect origin, the work tab through its own URL.
        assert_eq!(out.alerts.len(), 2);
        assert_eq!(out.alerts[0].matched_field.as_deref(), Some("session_data"));
        assert_eq!(
            out.alerts[0].matched_value.as_deref(),
            Some("http://track.example.org/r")
        );
        assert_eq!(out.alerts[1].matched_field.as_deref(), Some("tab_url"));
        assert_eq!(out.alerts[1].level, Level::Critical);
    }

    #[test]
    fn fixture_one_tab() {
        let Some(path) = fixture() else { return };
        let out = run_at(&SafariBrowserState, &path, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0]["tab_title"], "NSO is bad");
        assert_eq!(
            results[0]["tab_url"],
            "https://en.wikipedia.org/wiki/NSO_Group"
        );
        assert_eq!(
            results[0]["safari_browser_state_db"],
            "3a/3a47b0981ed7c10f3e2800aa66bac96a3b5db28e"
        );
        assert_eq!(out.timeline.len(), 1);
        assert_eq!(out.timeline[0].timestamp, "2021-09-29 08:56:46.156382");
        assert!(out.alerts.is_empty());
        assert!(
            run_at(&SafariBrowserState, &path, &test_stix2())
                .unwrap()
                .alerts
                .is_empty()
        );

        let ind = indicators(&["[domain-name:value = 'en.wikipedia.org']"]);
        let out = run_at(&SafariBrowserState, &path, &ind).unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].source.as_deref(),
            Some("3a/3a47b0981ed7c10f3e2800aa66bac96a3b5db28e")
        );
    }

    #[test]
    fn corrupt_database_names_the_file() {
        let (_dir, root) = with_file("HomeDomain", "Library/Safari/BrowserState.db", &[1; 2048]);
        let err = run_at(&SafariBrowserState, &root, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("3a/3a47b0981ed7c10f3e2800aa66bac96a3b5db28e"),
            "{err}"
        );

        let (_dir, root) = with_sqlite(
            "HomeDomain",
            "Library/Safari/BrowserState.db",
            "CREATE TABLE x(y);",
        );
        let err = run_at(&SafariBrowserState, &root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }), "{err}");
    }
}
