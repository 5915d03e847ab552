//! `Calendar.sqlitedb`: calendar events and who sent the invitation. QuaDream's spyware was
//! delivered through iCloud Calendar invitations with a recognisable title and notes.

use portcullis_report::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::Value;

use super::datausage::py_str;
use crate::values::{Record, query_records, table_columns};
use crate::{Context, Module, ModuleError};

/// HomeDomain-Library/Calendar/Calendar.sqlitedb
const BACKUP_IDS: &[&str] = &["2041457d5fe04d39d0ab481178355df6781e6858"];

/// Record field ← `CalendarItem` column.
const ITEM_COLUMNS: [(&str, &str); 18] = [
    ("id", "ROWID"),
    ("summary", "summary"),
    ("description", "description"),
    ("start_date", "start_date"),
    ("end_date", "end_date"),
    ("all_day", "all_day"),
    ("calendar_id", "calendar_id"),
    ("organizer_id", "organizer_id"),
    ("url", "url"),
    ("last_modified", "last_modified"),
    ("external_id", "external_id"),
    ("external_mod_tag", "external_mod_tag"),
    ("unique_identifier", "unique_identifier"),
    ("hidden", "hidden"),
    ("uuid", "UUID"),
    ("creation_date", "creation_date"),
    ("action", "action"),
    ("created_by_id", "created_by_id"),
];

/// Record field ← `Participant` column (the organizer).
const PARTICIPANT_COLUMNS: [(&str, &str); 5] = [
    ("participant_uuid", "UUID"),
    ("participant_email", "email"),
    ("participant_phone", "phone_number"),
    ("participant_comment", "comment"),
    ("participant_last_modified", "last_modified"),
];

/// Fields holding Mac absolute times; each one present becomes a timeline row.
const DATE_FIELDS: [&str; 5] = [
    "start_date",
    "end_date",
    "last_modified",
    "creation_date",
    "participant_last_modified",
];

pub struct Calendar;

impl Module for Calendar {
    fn name(&self) -> &'static str {
        "Calendar"
    }

    fn slug(&self) -> &'static str {
        "calendar"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let id = ctx
            .backup
            .first_stored(BACKUP_IDS)
            .ok_or_else(|| ModuleError::NotFound("Calendar.sqlitedb".into()))?;
        let conn = ctx.backup.open_sqlite(&id)?;
        let path = crate::backup::stored_path(&id);
        let mut rows = query_records(&conn, &path, &items_query(&conn))?;
        for row in &mut rows {
            convert_dates(row);
        }

        let mut out = ModuleOutput::default();
        for row in &rows {
            let data = format!(
                "Calendar event {} ({}) (invitation by {})",
                field(row, "summary"),
                field(row, "description"),
                field(row, "participant_email"),
            );
            for date in DATE_FIELDS {
                let when = row.get(date).map(py_str).unwrap_or_default();
                if !when.is_empty() && when != "None" {
                    out.push_timeline(TimelineEvent {
                        timestamp: when,
                        module: self.name().to_string(),
                        event: date.to_string(),
                        data: data.clone(),
                    });
                }
            }
            out.alerts.extend(check(row, ctx, self.slug(), &path));
        }
        tracing::info!("{path}: {} calendar items", rows.len());
        out.results = Results::List(rows.into_iter().map(Value::Object).collect());
        Ok(out)
    }
}

fn field(row: &Record, key: &str) -> String {
    row.get(key).map_or("None".to_string(), py_str)
}

/// The items joined to their organizer. Columns an older or newer schema lacks read as null
/// rather than failing the query.
fn items_query(conn: &rusqlite::Connection) -> String {
    let item_cols = table_columns(conn, "CalendarItem");
    let part_cols = table_columns(conn, "Participant");
    let has =
        |cols: &[String], c: &str| c == "ROWID" || cols.iter().any(|x| x.eq_ignore_ascii_case(c));
    let mut select = Vec::new();
    for (name, col) in ITEM_COLUMNS {
        let expr = if has(&item_cols, col) {
            format!("CalendarItem.\"{col}\"")
        } else {
            "NULL".into()
        };
        select.push(format!("{expr} AS \"{name}\""));
    }
    let join = !part_cols.is_empty() && has(&item_cols, "organizer_id");
    for (name, col) in PARTICIPANT_COLUMNS {
        let expr = if join && has(&part_cols, col) {
            format!("Participant.\"{col}\"")
        } else {
            "NULL".into()
        };
        select.push(format!("{expr} AS \"{name}\""));
    }
    let from = if join {
        "CalendarItem LEFT JOIN Participant ON Participant.ROWID = CalendarItem.organizer_id"
    } else {
        "CalendarItem"
    };
    format!("SELECT {} FROM {from}", select.join(", "))
}

/// Mac absolute times to ISO; text and null stay as they are (as MVT does).
fn convert_dates(row: &mut Record) {
    for date in DATE_FIELDS {
        if let Some(Value::Number(n)) = row.get(date) {
            let iso = n
                .as_i64()
                .and_then(portcullis_report::time::from_mac_absolute_int)
                .or_else(|| {
                    n.as_f64()
                        .and_then(portcullis_report::time::from_mac_absolute)
                });
            row.insert(date.to_string(), iso.map_or(Value::Null, Value::String));
        }
    }
}

fn check(row: &Record, ctx: &Context<'_>, slug: &str, path: &str) -> Option<Alert> {
    let text = |k: &str| row.get(k).and_then(Value::as_str).unwrap_or("");
    // When the invitation was received, else when the event is.
    let when = [text("creation_date"), text("start_date")]
        .into_iter()
        .find(|t| !t.is_empty())
        .unwrap_or("")
        .to_string();
    let event = || Value::Object(row.clone());
    let email = text("participant_email");
    if !email.is_empty()
        && let Some(hit) = ctx.indicators.check_email(email)
    {
        return Some(
            Alert::indicator(
                Level::Critical,
                slug,
                hit,
                "participant_email",
                when,
                event(),
            )
            .with_source(path),
        );
    }
    if text("summary") == "Meeting" && text("description") == "Notes" {
        return Some(
            Alert::heuristic(
                Level::High,
                slug,
                format!(
                    "Potential Quadream exploit event identified: {}",
                    field(row, "uuid")
                ),
                when,
                event(),
            )
            .with_advice(
                "A calendar invitation on this phone matches the pattern QuaDream's spyware used \
                 to infect iPhones. Do not delete it: keep the phone and this backup as they are \
                 and ask your security office to review it.",
            )
            .with_field("summary", "Meeting")
            .with_source(path),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Backup;
    use crate::builder::BackupBuilder;
    use portcullis_indicators::Indicators;
    use std::path::{Path, PathBuf};

    const DOMAIN: &str = "HomeDomain";
    const REL: &str = "Library/Calendar/Calendar.sqlitedb";

    fn fixture() -> Option<PathBuf> {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/mvt/ios_backup");
        p.exists().then_some(p)
    }

    fn indicators(patterns: &[&str]) -> Indicators {
        let mut ind = Indicators::new();
        let bundle = portcullis_indicators::test_bundle_json("Bad", patterns);
        ind.load_bundle(bundle.as_bytes(), Path::new("test.stix2"))
            .unwrap();
        ind
    }

    fn run(root: &Path, indicators: &Indicators) -> Result<ModuleOutput, ModuleError> {
        let backup = Backup::open(root).unwrap();
        Calendar.run(&Context {
            backup: &backup,
            indicators,
        })
    }

    #[test]
    fn parses_events_flags_quadream_and_matches_organizer() {
        let dir = tempfile::tempdir().unwrap();
        // An older schema without some columns (external_mod_tag, action, created_by_id).
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .sqlite(
                DOMAIN,
                REL,
                "CREATE TABLE CalendarItem (summary TEXT, description TEXT, start_date REAL, \
                 end_date REAL, all_day INTEGER, calendar_id INTEGER, organizer_id INTEGER, \
                 url TEXT, last_modified REAL, external_id TEXT, unique_identifier TEXT, \
                 hidden INTEGER, UUID TEXT, creation_date REAL); \
                 CREATE TABLE Participant (UUID TEXT, email TEXT, phone_number TEXT, comment TEXT, \
                 last_modified REAL); \
                 INSERT INTO Participant VALUES ('p1', 'boss@evil.example.com', NULL, NULL, NULL); \
                 INSERT INTO CalendarItem VALUES ('Meeting', 'Notes', 700000000.0, 700003600.0, 0, 1, \
                 NULL, NULL, NULL, NULL, NULL, 0, 'Q-UUID', 699999000.0); \
                 INSERT INTO CalendarItem VALUES ('Lunch', NULL, 700000000.0, NULL, 0, 1, 1, NULL, \
                 NULL, NULL, NULL, 0, 'L-UUID', NULL);",
            )
            .unwrap()
            .finish()
            .unwrap();
        let out = run(
            &root,
            &indicators(&["[email-addr:value = 'Boss@evil.example.com']"]),
        )
        .unwrap();
        let Results::List(results) = &out.results else {
            panic!()
        };
        assert_eq!(results.len(), 2);
        let q = &results[0];
        assert_eq!(q["id"], 1);
        assert_eq!(q["start_date"], "2023-03-08 20:26:40.000000");
        assert!(q["action"].is_null());
        assert!(q["participant_email"].is_null());
        assert_eq!(results[1]["participant_email"], "boss@evil.example.com");
        assert_eq!(results[1]["participant_uuid"], "p1");
        // 3 dates on the first event, 1 on the second.
        assert_eq!(out.timeline.len(), 4);
        assert_eq!(
            out.timeline[0].data,
            "Calendar event Meeting (Notes) (invitation by None)"
        );
        assert_eq!(out.alerts.len(), 2);
        assert_eq!(out.alerts[0].level, Level::High);
        assert_eq!(
            out.alerts[0].message,
            "Potential Quadream exploit event identified: Q-UUID"
        );
        assert_eq!(out.alerts[0].timestamp, "2023-03-08 20:10:00.000000");
        assert_eq!(out.alerts[1].level, Level::Critical);
        assert_eq!(
            out.alerts[1].matched_field.as_deref(),
            Some("participant_email")
        );
    }

    #[test]
    fn fixture_matches_mvt() {
        let Some(root) = fixture() else {
            println!("skipped: ../shared fixtures not present");
            return;
        };
        let out = run(&root, &Indicators::new()).unwrap();
        let Results::List(results) = &out.results else {
            panic!()
        };
        assert_eq!(results.len(), 1);
        assert_eq!(out.timeline.len(), 4);
        assert!(out.alerts.is_empty());
        assert_eq!(results[0]["summary"], "Super interesting meeting");
        assert_eq!(results[0]["uuid"], "FAE72C77-4932-47FD-885C-A084D502F3C4");
        assert_eq!(results[0]["participant_email"], "user@example.org");

        let out = run(
            &root,
            &indicators(&["[email-addr:value = 'user@example.org']"]),
        )
        .unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
    }

    #[test]
    fn garbage_or_missing_table_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .file(
                DOMAIN,
                REL,
                b"SQLite format 3\0 but then garbage follows here",
            )
            .unwrap()
            .finish()
            .unwrap();
        let err = run(&root, &Indicators::new()).unwrap_err().to_string();
        assert!(err.contains(BACKUP_IDS[0]), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .sqlite(DOMAIN, REL, "CREATE TABLE Participant (email TEXT);")
            .unwrap()
            .finish()
            .unwrap();
        let err = run(&root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }), "{err}");
    }
}
