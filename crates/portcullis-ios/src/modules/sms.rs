//! `sms.db` messages (SMS and iMessage): every message with its links, Apple's threat
//! notifications, and links matching indicators.
//!
//! Also holds the small helpers the other message/database modules share (base64 blob columns,
//! Mac times where 0 means "never", Python-style text in timeline rows, link extraction).

use std::sync::LazyLock;

use portcullis_report::{Alert, Level, ModuleOutput, Results, TimelineEvent, UrlRecord};
use regex::Regex;
use rusqlite::types::ValueRef;
use serde_json::Value;

use crate::values::{Record, base64, has_table, sql_value, text};
use crate::{Context, Module, ModuleError};

/// HomeDomain-Library/SMS/sms.db
pub(super) const SMS_DB_IDS: &[&str] = &["3d0d7e5fb2ce288813306e4d4636395e047a3d28"];

/// Columns holding archived objects or binary payloads, kept as base64 rather than escaped text.
const BASE64_COLUMNS: &[&str] = &["attributedBody", "payload_data", "message_summary_info"];

/// Openings of the threat notifications Apple sends to targets of mercenary spyware.
const APPLE_WARNINGS: &[&str] = &[
    "ALERT: State-sponsored attackers may be targeting your iPhone",
    "ALERT: Apple detected a targeted mercenary spyware attack against your iPhone",
];

static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)https?://\S+").expect("valid link pattern"));

/// Every `http(s)://…` link in a text, up to the next white space (MVT's rule).
pub(super) fn find_links(text: &str) -> Vec<String> {
    LINK.find_iter(text)
        .map(|m| m.as_str().to_string())
        .collect()
}

/// Runs `sql` and returns its rows as records; blobs of `base64_columns` become base64, other
/// blobs escaped text. `path` names the database in errors.
pub(super) fn query_records_b64(
    conn: &rusqlite::Connection,
    path: &str,
    sql: &str,
    base64_columns: &[&str],
) -> Result<Vec<Record>, ModuleError> {
    let err = ModuleError::query(path);
    let mut stmt = conn.prepare(sql).map_err(&err)?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut rows = stmt.query([]).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(&err)? {
        let mut rec = Record::new();
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i) {
                Ok(ValueRef::Blob(b))
                    if !b.is_empty() && base64_columns.contains(&name.as_str()) =>
                {
                    Value::String(base64(b))
                }
                Ok(v) => sql_value(v),
                Err(_) => Value::Null,
            };
            rec.insert(name.clone(), value);
        }
        out.push(rec);
    }
    Ok(out)
}

/// A Mac absolute time (seconds, or nanoseconds as sms.db stores them) as ISO time; absent, zero
/// or unparsable → "" (zero means "never", e.g. an unread message's `date_read`).
pub(super) fn mac_iso(value: Option<&Value>) -> String {
    let Some(Value::Number(n)) = value else {
        return String::new();
    };
    if n.as_f64() == Some(0.0) {
        return String::new();
    }
    n.as_i64()
        .and_then(portcullis_report::time::from_mac_absolute_int)
        .or_else(|| {
            n.as_f64()
                .and_then(portcullis_report::time::from_mac_absolute)
        })
        .unwrap_or_default()
}

/// A value as MVT prints it in timeline text (Python `str()`), so rows compare line for line.
pub(super) fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".to_string(),
        Some(Value::Bool(true)) => "True".to_string(),
        Some(Value::Bool(false)) => "False".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub struct Sms;

impl Module for Sms {
    fn name(&self) -> &'static str {
        "SMS"
    }

    fn slug(&self) -> &'static str {
        "sms"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let id = ctx
            .backup
            .first_stored(SMS_DB_IDS)
            .ok_or_else(|| ModuleError::NotFound("sms.db".into()))?;
        let source = crate::backup::stored_path(&id);
        let conn = ctx.backup.open_sqlite(&id)?;
        if !has_table(&conn, "message") {
            return Err(ModuleError::NotFound(format!(
                "{source}: sms.db has no message table"
            )));
        }
        // A LEFT JOIN (not MVT's inner join) keeps messages without a sender handle, such as
        // messages sent to a group, so their links are checked too.
        let sql = if has_table(&conn, "handle") {
            "SELECT message.*, handle.id AS phone_number FROM message \
             LEFT JOIN handle ON handle.ROWID = message.handle_id ORDER BY message.ROWID"
        } else {
            "SELECT message.*, NULL AS phone_number FROM message ORDER BY message.ROWID"
        };
        let rows = query_records_b64(&conn, &source, sql, BASE64_COLUMNS)?;

        let mut out = ModuleOutput::default();
        let mut records = Vec::with_capacity(rows.len());
        for mut rec in rows {
            let isodate = mac_iso(rec.get("date"));
            let isodate_read = mac_iso(rec.get("date_read"));
            let sent = rec.get("is_from_me").and_then(Value::as_i64) == Some(1);
            let body = text(&rec, "text").to_string();
            let links = find_links(&body);
            rec.insert("isodate".into(), isodate.clone().into());
            rec.insert("isodate_read".into(), isodate_read.clone().into());
            rec.insert(
                "direction".into(),
                if sent { "sent" } else { "received" }.into(),
            );
            rec.insert("text".into(), body.clone().into());
            rec.insert("links".into(), links.clone().into());

            let data = format!(
                "{}: {} \"{}\" from {} ({})",
                shown(rec.get("service")),
                shown(rec.get("guid")),
                body.replace('\n', "\\n"),
                shown(rec.get("phone_number")),
                shown(rec.get("account")),
            );
            out.push_timeline(TimelineEvent {
                timestamp: isodate.clone(),
                module: self.name().into(),
                event: "sms_received".into(),
                data: data.clone(),
            });
            if !isodate_read.is_empty() {
                out.push_timeline(TimelineEvent {
                    timestamp: isodate_read,
                    module: self.name().into(),
                    event: "sms_read".into(),
                    data,
                });
            }
            out.urls.extend(links.iter().map(|url| UrlRecord {
                url: url.clone(),
                timestamp: isodate.clone(),
                source: self.slug().into(),
            }));

            let event = Value::Object(rec.clone());
            if APPLE_WARNINGS.iter().any(|w| body.starts_with(w)) {
                out.alerts.push(
                    Alert::heuristic(
                        Level::High,
                        self.slug(),
                        format!("Apple warning about state-sponsored attack received on {isodate}"),
                        isodate.clone(),
                        event.clone(),
                    )
                    .with_field("text", body.clone())
                    .with_source(source.clone())
                    .with_advice(
                        "Apple sends this warning only when it believes the phone was targeted by \
                         mercenary spyware. Follow the steps in Apple's message, turn on Lockdown \
                         Mode, and contact a digital-security helpline.",
                    ),
                );
            }
            if let Some(hit) = ctx.indicators.check_urls(links.iter().map(String::as_str)) {
                out.alerts.push(
                    Alert::indicator(Level::Critical, self.slug(), hit, "links", isodate, event)
                        .with_source(source.clone()),
                );
            }
            records.push(Value::Object(rec));
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::path::{Path, PathBuf};

    use portcullis_indicators::Indicators;

    use super::*;
    use crate::Backup;
    use crate::builder::BackupBuilder;

    /// The fixture backup, or `None` (with a note) where the shared fixtures are not present.
    pub(in crate::modules) fn fixture() -> Option<Backup> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/mvt/ios_backup");
        if !path.exists() {
            println!("skipped: ../shared fixtures not present");
            return None;
        }
        Some(Backup::open(&path).expect("fixture backup opens"))
    }

    /// MVT's test.stix2 (malware "TestMalware") as loaded indicators.
    pub(in crate::modules) fn test_indicators() -> Indicators {
        let json = portcullis_indicators::test_bundle_json(
            "TestMalware",
            &[
                "[domain-name:value = 'example.org']",
                "[ipv4-addr:value = '198.51.100.1']",
                "[process:name = 'Launch']",
                "[file:name = '/var/foobar/txt']",
                "[email-addr:value = 'foobar@example.org']",
                "[android-property:name = 'sys.foobar']",
                "[file:hashes.'SHA-256' = '570cd76bf49cf52e0cb347a68bdcf0590b2eaece134e1b1eba7e8d66261bdbe6']",
                "[file:hashes.'SHA-1' = 'da0611a300a9ce9aa7a09d1a11adbd2bd8de6794']",
                "[url:value = 'http://example.com/thisisbad']",
            ],
        );
        bundle(&json)
    }

    /// Indicators of one malware "Spy" built from STIX patterns.
    pub(in crate::modules) fn spy_indicators(patterns: &[&str]) -> Indicators {
        bundle(&portcullis_indicators::test_bundle_json("Spy", patterns))
    }

    fn bundle(json: &str) -> Indicators {
        let mut ind = Indicators::new();
        ind.load_bundle(json.as_bytes(), Path::new("test.stix2"))
            .expect("test bundle loads");
        ind
    }

    /// Runs a module on a backup with the given indicators.
    pub(in crate::modules) fn run(
        module: &dyn Module,
        backup: &Backup,
        indicators: &Indicators,
    ) -> Result<ModuleOutput, ModuleError> {
        module.run(&Context { backup, indicators })
    }

    /// Builds a backup in `dir` holding `sms.db` made by `sql`.
    fn sms_backup(dir: &Path, sql: &str) -> PathBuf {
        BackupBuilder::new(dir)
            .unwrap()
            .sqlite("HomeDomain", "Library/SMS/sms.db", sql)
            .unwrap()
            .finish()
            .unwrap()
    }

    /// The message/handle tables as iOS 14 creates them (the columns MVT's users see).
    pub(in crate::modules) const SCHEMA: &str = "
        CREATE TABLE handle (ROWID INTEGER PRIMARY KEY AUTOINCREMENT UNIQUE, id TEXT NOT NULL,
            country TEXT, service TEXT NOT NULL, uncanonicalized_id TEXT, person_centric_id TEXT);
        CREATE TABLE message (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
            text TEXT, handle_id INTEGER DEFAULT 0, attributedBody BLOB, service TEXT, account TEXT,
            date INTEGER, date_read INTEGER, date_delivered INTEGER, is_from_me INTEGER DEFAULT 0,
            is_read INTEGER DEFAULT 0, cache_has_attachments INTEGER DEFAULT 0, payload_data BLOB,
            message_summary_info BLOB);
        INSERT INTO handle VALUES (1, '+15555550100', 'us', 'iMessage', NULL, NULL);
        INSERT INTO handle VALUES (2, 'apple', 'us', 'SMS', 'Apple', NULL);";

    #[test]
    fn messages_links_warnings_and_indicator_hits() {
        let dir = tempfile::tempdir().unwrap();
        let sql = format!(
            "{SCHEMA}
            INSERT INTO message VALUES (1, 'G-1', 'Hi
see HTTPS://news.example.net/a?b=1 and http://evil.example.org/x', 1, x'040B73747265616D', 'iMessage',
                'e:owner@example.com', 588813210539788032, 588813215000000000, 0, 0, 1, 0, NULL, x'00ff');
            INSERT INTO message VALUES (2, 'G-2', NULL, 1, NULL, 'iMessage', 'e:owner@example.com',
                588813300000000000, 0, 0, 1, 0, 0, NULL, NULL);
            INSERT INTO message VALUES (3, 'G-3', 'ALERT: State-sponsored attackers may be targeting your iPhone. https://support.apple.com/kb',
                2, NULL, 'SMS', NULL, 700000000000000000, 0, 0, 0, 0, 0, NULL, NULL);
            INSERT INTO message VALUES (4, 'G-4', 'to the group http://198.51.100.1/p', 0, NULL, 'iMessage',
                'e:owner@example.com', 700000001000000000, 0, 0, 1, 0, 0, NULL, NULL);"
        );
        let backup = Backup::open(&sms_backup(dir.path(), &sql)).unwrap();
        let ind = spy_indicators(&[
            "[domain-name:value = 'example.org']",
            "[ipv4-addr:value = '198.51.100.1']",
        ]);
        let out = run(&Sms, &backup, &ind).unwrap();

        let Results::List(recs) = &out.results else {
            panic!("list expected")
        };
        assert_eq!(recs.len(), 4, "messages without a handle are kept");
        let first = &recs[0];
        assert_eq!(first["isodate"], "2019-08-29 23:13:30.000000");
        assert_eq!(first["isodate_read"], "2019-08-29 23:13:35.000000");
        assert_eq!(first["direction"], "received");
        assert_eq!(first["phone_number"], "+15555550100");
        assert_eq!(first["attributedBody"], "BAtzdHJlYW0=");
        assert_eq!(first["message_summary_info"], "AP8=");
        assert_eq!(
            first["links"],
            serde_json::json!([
                "HTTPS://news.example.net/a?b=1",
                "http://evil.example.org/x"
            ])
        );
        assert_eq!(recs[1]["text"], "");
        assert_eq!(recs[1]["direction"], "sent");
        assert_eq!(recs[1]["isodate_read"], "");
        assert_eq!(recs[3]["phone_number"], Value::Null);

        // Read messages get a second row; the text's line break is escaped.
        assert_eq!(out.timeline.len(), 5);
        assert_eq!(out.timeline[0].event, "sms_received");
        assert_eq!(
            out.timeline[0].data,
            "iMessage: G-1 \"Hi\\nsee HTTPS://news.example.net/a?b=1 and http://evil.example.org/x\" \
             from +15555550100 (e:owner@example.com)"
        );
        assert_eq!(out.timeline[1].event, "sms_read");
        assert_eq!(out.timeline[1].timestamp, "2019-08-29 23:13:35.000000");
        assert!(
            out.timeline[3].data.ends_with("from apple (None)"),
            "{}",
            out.timeline[3].data
        );

        assert_eq!(out.urls.len(), 4);
        assert_eq!(out.urls[1].url, "http://evil.example.org/x");
        assert_eq!(out.urls[1].source, "sms");
        assert_eq!(out.urls[1].timestamp, "2019-08-29 23:13:30.000000");

        assert_eq!(out.alerts.len(), 3, "{:#?}", out.alerts);
        let hit = &out.alerts[0];
        assert_eq!(hit.level, Level::Critical);
        assert_eq!(
            hit.matched_value.as_deref(),
            Some("http://evil.example.org/x")
        );
        assert_eq!(hit.matched_field.as_deref(), Some("links"));
        assert_eq!(
            hit.source.as_deref(),
            Some("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28")
        );
        let warning = &out.alerts[1];
        assert_eq!(warning.level, Level::High);
        assert_eq!(
            warning.message,
            "Apple warning about state-sponsored attack received on 2023-03-08 20:26:40.000000"
        );
        assert_eq!(warning.timestamp, "2023-03-08 20:26:40.000000");
        assert_eq!(
            out.alerts[2].matched_value.as_deref(),
            Some("http://198.51.100.1/p")
        );
    }

    #[test]
    fn apple_warning_fires_without_indicators() {
        let dir = tempfile::tempdir().unwrap();
        let sql = format!(
            "{SCHEMA}
            INSERT INTO message VALUES (1, 'G-1', 'ALERT: Apple detected a targeted mercenary spyware attack against your iPhone.',
                2, NULL, 'iMessage', NULL, 700000000, 0, 0, 0, 0, 0, NULL, NULL);"
        );
        let backup = Backup::open(&sms_backup(dir.path(), &sql)).unwrap();
        let out = run(&Sms, &backup, &Indicators::new()).unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::High);
        assert_eq!(out.timeline.len(), 1);
        assert_eq!(out.timeline[0].timestamp, "2023-03-08 20:26:40.000000");
    }

    #[test]
    fn missing_table_is_no_data_and_garbage_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let backup = Backup::open(&sms_backup(dir.path(), "CREATE TABLE chat(ROWID);")).unwrap();
        assert!(matches!(
            run(&Sms, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));

        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .file(
                "HomeDomain",
                "Library/SMS/sms.db",
                b"this is not a database at all, just bytes",
            )
            .unwrap()
            .finish()
            .unwrap();
        let backup = Backup::open(&root).unwrap();
        let err = run(&Sms, &backup, &Indicators::new()).unwrap_err();
        assert!(!matches!(err, ModuleError::NotFound(_)));
        assert!(
            err.to_string()
                .contains("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        let backup =
            Backup::open(&BackupBuilder::new(dir.path()).unwrap().finish().unwrap()).unwrap();
        assert!(matches!(
            run(&Sms, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }

    #[test]
    fn fixture_one_message_with_a_link() {
        let Some(backup) = fixture() else { return };
        let out = run(&Sms, &backup, &Indicators::new()).unwrap();
        assert_eq!(out.results.len(), 1);
        assert_eq!(out.timeline.len(), 2);
        assert!(out.alerts.is_empty());
        assert_eq!(out.urls.len(), 1);
        assert_eq!(out.urls[0].url, "https://badbadbad.example.org/");
        assert_eq!(out.urls[0].timestamp, "2019-08-29 23:13:30.000000");
        let Results::List(recs) = &out.results else {
            panic!("list expected")
        };
        assert_eq!(recs[0]["guid"], "FDC6EC94-9D5A-434D-90FA-BF170E10A311");
        assert_eq!(recs[0]["phone_number"], "apple");
        assert_eq!(
            out.timeline[0].data,
            "None: FDC6EC94-9D5A-434D-90FA-BF170E10A311 \"Please click here \
             https://badbadbad.example.org/\" from apple (None)"
        );

        let out = run(&Sms, &backup, &test_indicators()).unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].message,
            "Found a sub-domain with a suspicious top level https://badbadbad.example.org/ \
             matching indicator \"example.org\" from \"TestMalware\""
        );
    }
}
