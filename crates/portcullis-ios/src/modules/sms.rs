//! `sms.db` messages (SMS and iMessage): every message with its links, Apple's threat
//! notifications, and links matching indicators.

use portcullis_core::spool::RecordSpool;
use portcullis_core::{Alert, Level, ModuleOutput, TimelineEvent, UrlRecord};
use serde_json::Value;

use super::common::{SMS_DB_IDS, critical_indicator_alert, find_links, open_fixed, spool_error};
use crate::values::{for_each_record, has_table, mac_iso, py_str, text};
use crate::{Context, Module, ModuleError};

/// Columns holding archived objects or binary payloads, kept as base64 rather than escaped text.
const BASE64_COLUMNS: &[&str] = &["attributedBody", "payload_data", "message_summary_info"];

/// Openings of the threat notifications Apple sends to targets of mercenary spyware.
const APPLE_WARNINGS: &[&str] = &[
    "ALERT: State-sponsored attackers may be targeting your iPhone",
    "ALERT: Apple detected a targeted mercenary spyware attack against your iPhone",
];

pub struct Sms;

impl Module<Context<'_>> for Sms {
    fn name(&self) -> &'static str {
        "SMS"
    }

    fn slug(&self) -> &'static str {
        "sms"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, SMS_DB_IDS, "sms.db")?;
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
        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = RecordSpool::new(self.slug(), ctx.spool);
        for_each_record(&conn, &source, sql, BASE64_COLUMNS, |mut rec| {
            let isodate = rec.get("date").and_then(mac_iso).unwrap_or_default();
            let isodate_read = rec.get("date_read").and_then(mac_iso).unwrap_or_default();
            let sent = rec.get("is_from_me").and_then(Value::as_i64) == Some(1);
            let body = text(&rec, "text").to_string();
            let links = find_links(&body);
            rec.insert("isodate".into(), isodate.clone().into());
            rec.insert("isodate_read".into(), isodate_read.clone().into());
            rec.insert(
                "direction".into(),
                if sent { "sent" } else { "received" }.into(),
            );

            let data = format!(
                "{}: {} \"{}\" from {} ({})",
                py_str(rec.get("service")),
                py_str(rec.get("guid")),
                body.replace('\n', "\\n"),
                py_str(rec.get("phone_number")),
                py_str(rec.get("account")),
            );
            out.push_timeline(TimelineEvent {
                timestamp: isodate.clone(),
                plugin: self.name().into(),
                event: "sms_received".into(),
                data: data.clone(),
            });
            if !isodate_read.is_empty() {
                out.push_timeline(TimelineEvent {
                    timestamp: isodate_read,
                    plugin: self.name().into(),
                    event: "sms_read".into(),
                    data,
                });
            }
            out.urls.extend(links.iter().map(|url| UrlRecord {
                url: url.clone(),
                timestamp: isodate.clone(),
                source: self.slug().into(),
            }));

            let warned = APPLE_WARNINGS.iter().any(|w| body.starts_with(w));
            let hit = ctx.indicators.check_urls(links.iter().map(String::as_str));
            rec.insert("text".into(), body.clone().into());
            rec.insert("links".into(), links.into());
            // The record is copied into an alert only when there is one (rarely).
            if warned {
                out.alerts.push(
                    Alert::heuristic(
                        Level::High,
                        self.slug(),
                        format!("Apple warning about state-sponsored attack received on {isodate}"),
                        isodate.clone(),
                        Value::Object(rec.clone()),
                    )
                    .with_field("text", body)
                    .with_source(source.clone())
                    .with_advice(
                        "Apple sends this warning only when it believes the phone was targeted by \
                         mercenary spyware. Follow the steps in Apple's message, turn on Lockdown \
                         Mode, and contact a digital-security helpline.",
                    ),
                );
            }
            if let Some(hit) = hit {
                out.alerts.push(critical_indicator_alert(
                    self.slug(),
                    hit,
                    "links",
                    isodate,
                    Value::Object(rec.clone()),
                    &source,
                ));
            }
            records
                .push(Value::Object(rec))
                .map_err(|e| spool_error(self.slug(), e))
        })?;
        out.results = records.finish().map_err(|e| spool_error(self.slug(), e))?;
        Ok(out)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::Backup;
    use crate::modules::test_support::{
        built, fixture_backup, indicators, list, run, test_stix2, with_file, with_sqlite,
    };

    pub(in crate::modules) const REL: &str = "Library/SMS/sms.db";

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
        let (_dir, root) = with_sqlite("HomeDomain", REL, &sql);
        let backup = Backup::open(&root).unwrap();
        let ind = indicators(&[
            "[domain-name:value = 'example.org']",
            "[ipv4-addr:value = '198.51.100.1']",
        ]);
        let out = run(&Sms, &backup, &ind).unwrap();

        let recs = list(&out);
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
        assert_eq!(
            warning.timestamp.as_deref(),
            Some("2023-03-08 20:26:40.000000")
        );
        assert_eq!(
            out.alerts[2].matched_value.as_deref(),
            Some("http://198.51.100.1/p")
        );
    }

    #[test]
    fn apple_warning_fires_without_indicators() {
        let sql = format!(
            "{SCHEMA}
            INSERT INTO message VALUES (1, 'G-1', 'ALERT: Apple detected a targeted mercenary spyware attack against your iPhone.',
                2, NULL, 'iMessage', NULL, 700000000, 0, 0, 0, 0, 0, NULL, NULL);"
        );
        let (_dir, root) = with_sqlite("HomeDomain", REL, &sql);
        let backup = Backup::open(&root).unwrap();
        let out = run(&Sms, &backup, &Indicators::new()).unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::High);
        assert_eq!(out.timeline.len(), 1);
        assert_eq!(out.timeline[0].timestamp, "2023-03-08 20:26:40.000000");
    }

    #[test]
    fn missing_table_is_no_data_and_garbage_names_the_file() {
        let (_dir, root) = with_sqlite("HomeDomain", REL, "CREATE TABLE chat(ROWID);");
        let backup = Backup::open(&root).unwrap();
        assert!(matches!(
            run(&Sms, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));

        let (_dir, root) = with_file(
            "HomeDomain",
            REL,
            b"this is not a database at all, just bytes",
        );
        let backup = Backup::open(&root).unwrap();
        let err = run(&Sms, &backup, &Indicators::new()).unwrap_err();
        assert!(!matches!(err, ModuleError::NotFound(_)));
        assert!(
            err.to_string()
                .contains("3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28"),
            "{err}"
        );

        let (_dir, root) = built(Ok);
        let backup = Backup::open(&root).unwrap();
        assert!(matches!(
            run(&Sms, &backup, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }

    #[test]
    fn fixture_one_message_with_a_link() {
        let Some(backup) = fixture_backup() else {
            return;
        };
        let out = run(&Sms, &backup, &Indicators::new()).unwrap();
        assert_eq!(out.results.len(), 1);
        assert_eq!(out.timeline.len(), 2);
        assert!(out.alerts.is_empty());
        assert_eq!(out.urls.len(), 1);
        assert_eq!(out.urls[0].url, "https://badbadbad.example.org/");
        assert_eq!(out.urls[0].timestamp, "2019-08-29 23:13:30.000000");
        let recs = list(&out);
        assert_eq!(recs[0]["guid"], "FDC6EC94-9D5A-434D-90FA-BF170E10A311");
        assert_eq!(recs[0]["phone_number"], "apple");
        assert_eq!(
            out.timeline[0].data,
            "None: FDC6EC94-9D5A-434D-90FA-BF170E10A311 \"Please click here \
             https://badbadbad.example.org/\" from apple (None)"
        );

        let out = run(&Sms, &backup, &test_stix2()).unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].message,
            "Found a sub-domain with a suspicious top level https://badbadbad.example.org/ \
             matching indicator \"example.org\" from \"TestMalware\""
        );
    }
}
