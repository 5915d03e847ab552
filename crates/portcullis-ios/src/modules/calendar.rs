//! `Calendar.sqlitedb`: calendar events and who sent the invitation. QuaDream's spyware was
//! delivered through iCloud Calendar invitations with a recognisable title and notes.

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::Value;

use super::common::{critical_indicator_alert, open_fixed};
use crate::values::{Record, json_time, mac_number_iso, py_str, query_records, table_columns};
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

impl Module<Context<'_>> for Calendar {
    fn name(&self) -> &'static str {
        "Calendar"
    }

    fn slug(&self) -> &'static str {
        "calendar"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, path) = open_fixed(ctx.backup, BACKUP_IDS, "Calendar.sqlitedb")?;
        let mut rows = query_records(&conn, &path, &items_query(&conn))?;
        for row in &mut rows {
            convert_dates(row);
        }

        let mut out = ModuleOutput::spilling(ctx.spool);
        for row in &rows {
            let data = format!(
                "Calendar event {} ({}) (invitation by {})",
                py_str(row.get("summary")),
                py_str(row.get("description")),
                py_str(row.get("participant_email")),
            );
            for date in DATE_FIELDS {
                let when = py_str(row.get(date));
                if !when.is_empty() && when != "None" {
                    out.push_timeline(TimelineEvent {
                        timestamp: when,
                        plugin: self.name().to_string(),
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
        if let Some(number @ Value::Number(_)) = row.get(date) {
            let iso = mac_number_iso(number);
            row.insert(date.to_string(), json_time(iso));
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
        return Some(critical_indicator_alert(
            slug,
            hit,
            "participant_email",
            when,
            event(),
            path,
        ));
    }
    if text("summary") == "Meeting" && text("description") == "Notes" {
        return Some(
            Alert::heuristic(
                Level::High,
                slug,
                format!(
                    "Potential Quadream exploit event identified: {}",
                    py_str(row.get("uuid"))
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
    use crate::modules::test_support::{fixture, indicators, list, run_at, with_file, with_sqlite};
    use portcullis_indicators::Indicators;

    const DOMAIN: &str = "HomeDomain";
    const REL: &str = "Library/Calendar/Calendar.sqlitedb";

    #[test]
    fn parses_events_flags_quadream_and_matches_organizer() {
        // An older schema without some columns (external_mod_tag, action, created_by_id).
        let (_dir, root) = with_sqlite(
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
        );
        let out = run_at(
            &Calendar,
            &root,
            &indicators(&["[email-addr:value = 'Boss@evil.example.com']"]),
        )
        .unwrap();
        let results = list(&out);
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
        assert_eq!(
            out.alerts[0].timestamp.as_deref(),
            Some("2023-03-08 20:10:00.000000")
        );
        assert_eq!(out.alerts[1].level, Level::Critical);
        assert_eq!(
            out.alerts[1].matched_field.as_deref(),
            Some("participant_email")
        );
    }

    #[test]
    fn fixture_matches_mvt() {
        let Some(root) = fixture() else { return };
        let out = run_at(&Calendar, &root, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 1);
        assert_eq!(out.timeline.len(), 4);
        assert!(out.alerts.is_empty());
        assert_eq!(results[0]["summary"], "Super interesting meeting");
        assert_eq!(results[0]["uuid"], "FAE72C77-4932-47FD-885C-A084D502F3C4");
        assert_eq!(results[0]["participant_email"], "user@example.org");

        let out = run_at(
            &Calendar,
            &root,
            &indicators(&["[email-addr:value = 'user@example.org']"]),
        )
        .unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
    }

    #[test]
    fn garbage_or_missing_table_is_an_error_naming_the_file() {
        let (_dir, root) = with_file(
            DOMAIN,
            REL,
            b"SQLite format 3\0 but then garbage follows here",
        );
        let err = run_at(&Calendar, &root, &Indicators::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(BACKUP_IDS[0]), "{err}");

        let (_dir, root) = with_sqlite(DOMAIN, REL, "CREATE TABLE Participant (email TEXT);");
        let err = run_at(&Calendar, &root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }), "{err}");
    }
}
