//! `sms.db` attachments: every file sent or received by SMS/iMessage, flagging the `/var/tmp/…-1`
//! names seen in zero-click iMessage exploits and file names matching indicators.

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::Value;

use super::common::{SMS_DB_IDS, open_fixed};
use crate::values::{has_table, mac_iso, py_str, query_records_with_base64, text};
use crate::{Context, Module, ModuleError};

/// Columns holding archived objects or server tokens, kept as base64 rather than escaped text.
const BASE64_COLUMNS: &[&str] = &[
    "user_info",
    "sticker_user_info",
    "attribution_info",
    "ck_server_change_token_blob",
    "sr_ck_server_change_token_blob",
];

pub struct SmsAttachments;

impl Module<Context<'_>> for SmsAttachments {
    fn name(&self) -> &'static str {
        "SMSAttachments"
    }

    fn slug(&self) -> &'static str {
        "sms_attachments"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, SMS_DB_IDS, "sms.db")?;
        if !has_table(&conn, "attachment") {
            return Err(ModuleError::NotFound(format!(
                "{source}: sms.db has no attachment table"
            )));
        }
        let linked = ["message_attachment_join", "message", "handle"]
            .iter()
            .all(|t| has_table(&conn, t));
        let sql = if linked {
            "SELECT attachment.ROWID AS attachment_id, attachment.*, message.service AS service, \
             handle.id AS phone_number FROM attachment \
             LEFT JOIN message_attachment_join ON message_attachment_join.attachment_id = attachment.ROWID \
             LEFT JOIN message ON message.ROWID = message_attachment_join.message_id \
             LEFT JOIN handle ON handle.ROWID = message.handle_id ORDER BY attachment.ROWID"
        } else {
            "SELECT attachment.ROWID AS attachment_id, attachment.*, NULL AS service, \
             NULL AS phone_number FROM attachment ORDER BY attachment.ROWID"
        };
        let rows = query_records_with_base64(&conn, &source, sql, BASE64_COLUMNS)?;

        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::with_capacity(rows.len());
        for mut rec in rows {
            let isodate = rec
                .get("created_date")
                .and_then(mac_iso)
                .unwrap_or_default();
            let start_date = rec.get("start_date").and_then(mac_iso).unwrap_or_default();
            let outgoing = rec
                .get("is_outgoing")
                .and_then(Value::as_i64)
                .is_some_and(|v| v != 0);
            let direction = if outgoing { "sent" } else { "received" };
            let has_user_info = rec.get("user_info").is_some_and(|v| !v.is_null());
            let service = match text(&rec, "service") {
                "" => "Unknown".to_string(),
                s => s.to_string(),
            };
            let filename = match text(&rec, "filename") {
                "" => "NULL".to_string(),
                f => f.to_string(),
            };
            rec.insert("isodate".into(), isodate.clone().into());
            rec.insert("start_date".into(), start_date.into());
            rec.insert("direction".into(), direction.into());
            rec.insert("has_user_info".into(), has_user_info.into());
            rec.insert("service".into(), service.clone().into());
            rec.insert("filename".into(), filename.clone().into());

            out.push_timeline(TimelineEvent {
                timestamp: isodate.clone(),
                plugin: self.name().into(),
                event: "sms_attachment".into(),
                data: format!(
                    "{service}: Attachment '{}' {direction} from {} with {} bytes \
                     (is_sticker: {}, has_user_info: {})",
                    py_str(rec.get("transfer_name")),
                    py_str(rec.get("phone_number")),
                    py_str(rec.get("total_bytes")),
                    py_str(rec.get("is_sticker")),
                    py_str(rec.get("has_user_info")),
                ),
            });

            let event = Value::Object(rec.clone());
            if let Some(hit) = ctx.indicators.check_file_path(&filename) {
                out.alerts.push(
                    Alert::indicator(Level::High, self.slug(), hit, "filename", isodate, event)
                        .with_source(source.clone()),
                );
            } else if filename.starts_with("/var/tmp/")
                && filename.ends_with("-1")
                && direction == "received"
            {
                out.alerts.push(
                    Alert::heuristic(
                        Level::Medium,
                        self.slug(),
                        format!("Suspicious iMessage attachment {filename} on {isodate}"),
                        isodate.clone(),
                        event,
                    )
                    .with_field("filename", filename.clone())
                    .with_source(source.clone())
                    .with_advice(
                        "A received attachment was stored where known zero-click iMessage exploits \
                         put their files. Keep the phone and this backup unchanged and ask a \
                         digital-security helpline to review it.",
                    ),
                );
            }
            records.push(Value::Object(rec));
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::Backup;
    use crate::modules::sms::tests::{REL, SCHEMA};
    use crate::modules::test_support::{fixture_backup, indicators, list, run, with_sqlite};

    #[test]
    fn attachments_timeline_heuristic_and_indicator() {
        let sql = format!(
            "{SCHEMA}
            INSERT INTO message VALUES (1, 'G-1', NULL, 1, NULL, 'iMessage', NULL, 588813210539788032,
                0, 0, 0, 0, 1, NULL, NULL);
            INSERT INTO message VALUES (2, 'G-2', NULL, 2, NULL, 'SMS', NULL, 588813210539788032,
                0, 0, 0, 0, 1, NULL, NULL);
            CREATE TABLE attachment (ROWID INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT UNIQUE NOT NULL,
                created_date INTEGER DEFAULT 0, start_date INTEGER DEFAULT 0, filename TEXT, uti TEXT,
                mime_type TEXT, transfer_state INTEGER DEFAULT 0, is_outgoing INTEGER DEFAULT 0,
                user_info BLOB, transfer_name TEXT, total_bytes INTEGER DEFAULT 0,
                is_sticker INTEGER DEFAULT 0, sticker_user_info BLOB, attribution_info BLOB,
                hide_attachment INTEGER DEFAULT 0);
            CREATE TABLE message_attachment_join (message_id INTEGER, attachment_id INTEGER,
                UNIQUE(message_id, attachment_id));
            INSERT INTO attachment VALUES (1, 'A-1', 588813210, 0,
                '~/Library/SMS/Attachments/ab/11/A-1/IMG_0001.jpeg', 'public.jpeg', 'image/jpeg', 5, 0,
                x'62706c6973743030', 'IMG_0001.jpeg', 2048, 0, NULL, NULL, 0);
            INSERT INTO attachment VALUES (2, 'A-2', 588813220, 0, '/var/tmp/com.apple.messages/xyz-1',
                'public.data', NULL, 5, 0, NULL, 'xyz-1', 77, 0, NULL, NULL, 0);
            INSERT INTO attachment VALUES (3, 'A-3', 588813230, 0, '/var/tmp/com.apple.messages/out-1',
                'public.data', NULL, 5, 1, NULL, 'out-1', 10, 0, NULL, NULL, 0);
            INSERT INTO attachment VALUES (4, 'A-4', 588813240, 0, '/private/var/tmp/hooker/payload.bin',
                NULL, NULL, 5, 0, NULL, 'payload.bin', 1, 1, NULL, NULL, 0);
            INSERT INTO attachment VALUES (5, 'A-5', 0, 0, NULL, NULL, NULL, 0, 0, NULL, NULL, 0, 0,
                NULL, NULL, 0);
            INSERT INTO message_attachment_join VALUES (1, 1);
            INSERT INTO message_attachment_join VALUES (1, 2);
            INSERT INTO message_attachment_join VALUES (2, 4);"
        );
        let (_dir, root) = with_sqlite("HomeDomain", REL, &sql);
        let backup = Backup::open(&root).unwrap();
        let ind = indicators(&["[file:path = '/private/var/tmp/hooker']"]);
        let out = run(&SmsAttachments, &backup, &ind).unwrap();

        let recs = list(&out);
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[0]["attachment_id"], 1);
        assert_eq!(recs[0]["isodate"], "2019-08-29 23:13:30.000000");
        assert_eq!(recs[0]["start_date"], "");
        assert_eq!(recs[0]["user_info"], "YnBsaXN0MDA=");
        assert_eq!(recs[0]["has_user_info"], true);
        assert_eq!(recs[0]["phone_number"], "+15555550100");
        assert_eq!(recs[2]["direction"], "sent");
        assert_eq!(recs[2]["service"], "Unknown");
        assert_eq!(recs[4]["filename"], "NULL");

        assert_eq!(out.timeline.len(), 5);
        assert_eq!(out.timeline[0].event, "sms_attachment");
        assert_eq!(
            out.timeline[0].data,
            "iMessage: Attachment 'IMG_0001.jpeg' received from +15555550100 with 2048 bytes \
             (is_sticker: 0, has_user_info: True)"
        );
        assert_eq!(
            out.timeline[4].data,
            "Unknown: Attachment 'None' received from None with 0 bytes (is_sticker: 0, has_user_info: False)"
        );

        assert_eq!(out.alerts.len(), 2, "{:#?}", out.alerts);
        assert_eq!(out.alerts[0].level, Level::Medium);
        assert_eq!(
            out.alerts[0].message,
            "Suspicious iMessage attachment /var/tmp/com.apple.messages/xyz-1 on 2019-08-29 23:13:40.000000"
        );
        assert_eq!(out.alerts[1].level, Level::High);
        assert_eq!(out.alerts[1].matched_field.as_deref(), Some("filename"));
        assert_eq!(
            out.alerts[1].matched_value.as_deref(),
            Some("/private/var/tmp/hooker/payload.bin")
        );

        // The heuristic does not depend on indicators being loaded.
        let out = run(&SmsAttachments, &backup, &Indicators::new()).unwrap();
        assert_eq!(out.alerts.len(), 1);
    }

    #[test]
    fn fixture_has_no_attachment_table() {
        let Some(backup) = fixture_backup() else {
            return;
        };
        match run(&SmsAttachments, &backup, &Indicators::new()) {
            Err(ModuleError::NotFound(reason)) => {
                assert!(reason.contains("attachment"), "{reason}")
            }
            other => panic!(
                "expected NotFound, got {:?}",
                other.map(|o| o.results.len())
            ),
        }
    }
}
