//! `Shortcuts.sqlite`: the user's Shortcuts automations and the links their actions open, since a
//! shortcut can quietly fetch or open attacker URLs.

use portcullis_core::{ModuleOutput, Results, TimelineEvent};
use rusqlite::types::ValueRef;
use serde_json::{Value, json};

use super::common::{critical_indicator_alert, find_links, open_fixed};
use crate::values::{escaped_bytes, has_table, mac_iso, sql_value, table_columns};
use crate::{Context, Module, ModuleError};

/// HomeDomain-Library/Shortcuts/Shortcuts.sqlite
const BACKUP_IDS: &[&str] = &["5b4d0b44b5990f62b9f4d34ad8dc382bf0b01094"];

pub struct Shortcuts;

/// One shortcut row: its columns, and the raw action list (a plist) when there is one.
struct Row {
    id: Value,
    name: String,
    description: String,
    created: Value,
    modified: Value,
    actions: Option<Vec<u8>>,
}

/// Every link in the string values of an action's parameters.
fn collect_links(value: &plist::Value, out: &mut Vec<String>) {
    match value {
        plist::Value::String(s) => out.extend(
            find_links(s)
                .into_iter()
                .map(|l| l.trim_end_matches(['\'', ',']).to_string()),
        ),
        plist::Value::Array(items) => items.iter().for_each(|v| collect_links(v, out)),
        plist::Value::Dictionary(d) => d.values().for_each(|v| collect_links(v, out)),
        _ => {}
    }
}

/// The number of actions and the links in their parameters. An action list that is not a plist
/// is searched as raw text, so a damaged record still shows its links.
fn parse_actions(data: &[u8]) -> (usize, Vec<String>) {
    let mut links = Vec::new();
    match portcullis_evidence::property_list::parse(data) {
        Ok(plist::Value::Array(actions)) => {
            for action in &actions {
                if let Some(params) = action
                    .as_dictionary()
                    .and_then(|a| a.get("WFWorkflowActionParameters"))
                {
                    collect_links(params, &mut links);
                }
            }
            (actions.len(), links)
        }
        Ok(other) => {
            collect_links(&other, &mut links);
            (0, links)
        }
        Err(_) => {
            collect_links(&plist::Value::String(escaped_bytes(data)), &mut links);
            (0, links)
        }
    }
}

fn read_rows(conn: &rusqlite::Connection, source: &str) -> Result<Vec<Row>, ModuleError> {
    let columns = table_columns(conn, "ZSHORTCUT");
    let col = |name: &str| {
        if columns.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            format!("ZSHORTCUT.{name}")
        } else {
            "NULL".to_string()
        }
    };
    let with_actions = table_columns(conn, "ZSHORTCUTACTIONS")
        .iter()
        .any(|c| c.eq_ignore_ascii_case("ZDATA"));
    let (data, join) = if with_actions {
        (
            "ZSHORTCUTACTIONS.ZDATA",
            "LEFT JOIN ZSHORTCUTACTIONS ON ZSHORTCUTACTIONS.ZSHORTCUT = ZSHORTCUT.Z_PK",
        )
    } else {
        ("NULL", "")
    };
    let sql = format!(
        "SELECT ZSHORTCUT.Z_PK, {}, {}, {}, {}, {data} FROM ZSHORTCUT {join} ORDER BY ZSHORTCUT.Z_PK",
        col("ZNAME"),
        col("ZACTIONSDESCRIPTION"),
        col("ZCREATIONDATE"),
        col("ZMODIFICATIONDATE"),
    );
    let err = ModuleError::query(source);
    let mut stmt = conn.prepare(&sql).map_err(&err)?;
    let mut rows = stmt.query([]).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(&err)? {
        let value = |i| r.get_ref(i).map(sql_value).unwrap_or(Value::Null);
        let text = |i| match value(i) {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        out.push(Row {
            id: value(0),
            name: text(1),
            description: text(2),
            created: value(3),
            modified: value(4),
            actions: match r.get_ref(5) {
                Ok(ValueRef::Blob(b) | ValueRef::Text(b)) => Some(b.to_vec()),
                _ => None,
            },
        });
    }
    Ok(out)
}

impl Module<Context<'_>> for Shortcuts {
    fn name(&self) -> &'static str {
        "Shortcuts"
    }

    fn slug(&self) -> &'static str {
        "shortcuts"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, BACKUP_IDS, "Shortcuts.sqlite")?;
        if !has_table(&conn, "ZSHORTCUT") {
            return Err(ModuleError::NotFound(format!(
                "{source}: Shortcuts.sqlite has no ZSHORTCUT table"
            )));
        }
        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::new();
        for row in read_rows(&conn, &source)? {
            let (parsed_actions, action_urls) = row
                .actions
                .as_deref()
                .map(parse_actions)
                .unwrap_or_default();
            let isodate = mac_iso(&row.created).unwrap_or_default();
            let modified = mac_iso(&row.modified).unwrap_or_default();
            let found_urls = if action_urls.is_empty() {
                String::new()
            } else {
                format!("- URLs in actions: {}", action_urls.join(", "))
            };
            let data = format!(
                "iOS Shortcut '{}': {} {found_urls}",
                row.name, row.description
            );
            let record = json!({
                "shortcut_id": row.id,
                "shortcut_name": row.name,
                "description": row.description,
                "isodate": isodate,
                "modified_date": modified,
                "parsed_actions": parsed_actions,
                "action_urls": action_urls,
            });
            for (timestamp, event) in [
                (&isodate, "shortcut_created"),
                (&modified, "shortcut_modified"),
            ] {
                out.push_timeline(TimelineEvent {
                    timestamp: timestamp.clone(),
                    plugin: self.name().into(),
                    event: event.into(),
                    data: data.clone(),
                });
            }
            if let Some(hit) = ctx
                .indicators
                .check_urls(action_urls.iter().map(String::as_str))
            {
                out.alerts.push(critical_indicator_alert(
                    self.slug(),
                    hit,
                    "action_urls",
                    isodate,
                    record.clone(),
                    &source,
                ));
            }
            records.push(record);
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use plist::{Dictionary, Value as P};
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::Backup;
    use crate::modules::test_support::{
        fixture_backup, indicators, list, run, with_file, with_sqlite,
    };
    use portcullis_core::Level;

    const REL: &str = "Library/Shortcuts/Shortcuts.sqlite";

    fn action(identifier: &str, params: &[(&str, P)]) -> P {
        let mut d = Dictionary::new();
        d.insert("WFWorkflowActionIdentifier".into(), identifier.into());
        d.insert(
            "WFWorkflowActionParameters".into(),
            P::Dictionary(
                params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            ),
        );
        P::Dictionary(d)
    }

    fn hex(value: &P) -> String {
        let mut bytes = Vec::new();
        value.to_writer_binary(&mut bytes).unwrap();
        hex::encode(bytes)
    }

    #[test]
    fn shortcuts_actions_links_and_indicator_hit() {
        let mut token = Dictionary::new();
        token.insert(
            "string".into(),
            "open 'https://c2.example.org/p', then".into(),
        );
        let actions = P::Array(vec![
            action(
                "is.workflow.actions.openurl",
                &[("WFInput", "https://www.apple.com/".into())],
            ),
            action(
                "is.workflow.actions.gettext",
                &[("WFTextActionText", P::Dictionary(token))],
            ),
            action("is.workflow.actions.delay", &[("WFDelayTime", 3.into())]),
        ]);
        let sql = format!(
            "CREATE TABLE ZSHORTCUT (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
                ZHIDDEN INTEGER, ZNAME VARCHAR, ZACTIONSDESCRIPTION VARCHAR, ZCREATIONDATE TIMESTAMP,
                ZMODIFICATIONDATE TIMESTAMP, ZACTIONCOUNT INTEGER);
             CREATE TABLE ZSHORTCUTACTIONS (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, Z_OPT INTEGER,
                ZSHORTCUT INTEGER, ZDATA BLOB);
             INSERT INTO ZSHORTCUT VALUES (1, 10, 1, 0, 'Morning', 'Open the news', 600000000.0,
                600000100.0, 3);
             INSERT INTO ZSHORTCUT VALUES (2, 10, 1, 0, 'Empty', NULL, 600000200.0, 0, 0);
             INSERT INTO ZSHORTCUT VALUES (3, 10, 1, 0, 'Damaged', 'x', 600000300.0, 600000300.0, 1);
             INSERT INTO ZSHORTCUTACTIONS VALUES (1, 11, 1, 1, x'{}');
             INSERT INTO ZSHORTCUTACTIONS VALUES (2, 11, 1, 3, CAST('junk http://example.com/thisisbad junk' AS BLOB));",
            hex(&actions)
        );
        let (_dir, root) = with_sqlite("HomeDomain", REL, &sql);
        let backup = Backup::open(&root).unwrap();
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run(&Shortcuts, &backup, &ind).unwrap();

        let recs = list(&out);
        assert_eq!(recs.len(), 3);
        assert_eq!(
            recs[0],
            json!({"shortcut_id": 1, "shortcut_name": "Morning", "description": "Open the news",
                   "isodate": "2020-01-06 10:40:00.000000", "modified_date": "2020-01-06 10:41:40.000000",
                   "parsed_actions": 3,
                   "action_urls": ["https://www.apple.com/", "https://c2.example.org/p"]})
        );
        assert_eq!(recs[1]["parsed_actions"], 0);
        assert_eq!(recs[1]["modified_date"], "");
        assert_eq!(
            recs[2]["action_urls"],
            json!(["http://example.com/thisisbad"])
        );

        // A created and a modified row per shortcut.
        assert_eq!(out.timeline.len(), 6);
        assert_eq!(out.timeline[0].event, "shortcut_created");
        assert_eq!(
            out.timeline[0].data,
            "iOS Shortcut 'Morning': Open the news - URLs in actions: https://www.apple.com/, \
             https://c2.example.org/p"
        );
        assert_eq!(out.timeline[1].event, "shortcut_modified");
        assert_eq!(out.timeline[2].data, "iOS Shortcut 'Empty':  ");

        assert_eq!(out.alerts.len(), 1, "{:#?}", out.alerts);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].matched_value.as_deref(),
            Some("https://c2.example.org/p")
        );
        assert!(
            run(&Shortcuts, &backup, &Indicators::new())
                .unwrap()
                .alerts
                .is_empty()
        );
    }

    #[test]
    fn corrupt_database_names_the_file() {
        let (_dir, root) = with_file("HomeDomain", REL, &[0xAB; 4096]);
        let backup = Backup::open(&root).unwrap();
        let err = run(&Shortcuts, &backup, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("5b/5b4d0b44b5990f62b9f4d34ad8dc382bf0b01094"),
            "{err}"
        );
    }

    #[test]
    fn fixture_has_no_shortcuts() {
        let Some(backup) = fixture_backup() else {
            return;
        };
        assert!(matches!(
            run(&Shortcuts, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }
}
