//! WhatsApp's `ChatStorage.sqlite` (and `LID.sqlite`): messages with the links they carry,
//! the LID ↔ phone number pairs, and one record per chat with its first and last messages.

use std::collections::HashMap;

use portcullis_core::{ModuleOutput, Results, UrlRecord};
use serde_json::Value;

use super::common::{find_links, open_fixed, push_event, url_alert};
use crate::values::{Record, has_table, json_time, mac_iso, py_str, query_records, text};
use crate::{Context, Module, ModuleError};

/// AppDomainGroup-group.net.whatsapp.WhatsApp.shared-ChatStorage.sqlite
const BACKUP_IDS: &[&str] = &["7c7fba66680ef796b916b067077cc246adacf01d"];

/// AppDomainGroup-group.net.whatsapp.WhatsApp.shared-LID.sqlite (newer WhatsApp versions keep
/// the LID pairs there rather than in ChatStorage.sqlite).
const LID_BACKUP_IDS: &[&str] = &["e794f6ffcc3c222535f47684a63d5178da3c4500"];

/// Message columns that can hold links.
const LINK_FIELDS: &[&str] = &[
    "ZTEXT",
    "ZMATCHEDTEXT",
    "ZMEDIAURL",
    "ZCONTENT1",
    "ZCONTENT2",
];

/// WhatsApp's own media servers: every media message links there.
const MEDIA_HOSTS: &[&str] = &["https://mmg-fna.whatsapp.net/", "https://mmg.whatsapp.net/"];

const LID_PAIRS: &str = "SELECT ZLID AS lid, ZPHONENUMBER AS phone_number, \
     ZTIMESTAMP AS pair_timestamp FROM ZWAPHONENUMBERLIDPAIR ORDER BY Z_PK";

/// Chat-session date fields, Mac absolute times.
const SESSION_DATES: &[&str] = &[
    "last_message_date",
    "group_creation_date",
    "first_stored_message_date",
    "last_stored_message_date",
];

pub struct Whatsapp;

/// The messages query, joining media and link-preview tables when this version has them.
fn messages_query(conn: &rusqlite::Connection) -> String {
    let (media, media_join) = if has_table(conn, "ZWAMEDIAITEM") {
        (
            "ZWAMEDIAITEM.ZAUTHORNAME, ZWAMEDIAITEM.ZMEDIAURL",
            " LEFT JOIN ZWAMEDIAITEM ON ZWAMEDIAITEM.ZMESSAGE = ZWAMESSAGE.Z_PK",
        )
    } else {
        ("NULL AS ZAUTHORNAME, NULL AS ZMEDIAURL", "")
    };
    let (data, data_join) = if has_table(conn, "ZWAMESSAGEDATAITEM") {
        (
            "ZWAMESSAGEDATAITEM.ZCONTENT1, ZWAMESSAGEDATAITEM.ZCONTENT2, \
             ZWAMESSAGEDATAITEM.ZMATCHEDTEXT, ZWAMESSAGEDATAITEM.ZSUMMARY, ZWAMESSAGEDATAITEM.ZTITLE",
            " LEFT JOIN ZWAMESSAGEDATAITEM ON ZWAMESSAGEDATAITEM.ZMESSAGE = ZWAMESSAGE.Z_PK",
        )
    } else {
        (
            "NULL AS ZCONTENT1, NULL AS ZCONTENT2, NULL AS ZMATCHEDTEXT, NULL AS ZSUMMARY, \
             NULL AS ZTITLE",
            "",
        )
    };
    format!(
        "SELECT ZWAMESSAGE.*, {media}, {data} FROM ZWAMESSAGE{media_join}{data_join} \
         ORDER BY ZWAMESSAGE.Z_PK"
    )
}

/// The chat-sessions query: one row per chat with its stored-message span.
fn sessions_query(conn: &rusqlite::Connection) -> String {
    let (group, group_join) = if has_table(conn, "ZWAGROUPINFO") {
        (
            "ZWAGROUPINFO.ZCREATIONDATE",
            " LEFT JOIN ZWAGROUPINFO ON ZWACHATSESSION.ZGROUPINFO = ZWAGROUPINFO.Z_PK",
        )
    } else {
        ("NULL", "")
    };
    format!(
        "SELECT ZWACHATSESSION.Z_PK AS session_pk, ZWACHATSESSION.ZCONTACTJID AS contact_jid, \
         ZWACHATSESSION.ZPARTNERNAME AS partner_name, ZWACHATSESSION.ZSESSIONTYPE AS session_type, \
         ZWACHATSESSION.ZARCHIVED AS archived, ZWACHATSESSION.ZREMOVED AS removed, \
         ZWACHATSESSION.ZMESSAGECOUNTER AS message_counter, \
         ZWACHATSESSION.ZLASTMESSAGEDATE AS last_message_date, {group} AS group_creation_date, \
         MIN(ZWAMESSAGE.ZMESSAGEDATE) AS first_stored_message_date, \
         MAX(ZWAMESSAGE.ZMESSAGEDATE) AS last_stored_message_date, \
         COUNT(ZWAMESSAGE.Z_PK) AS stored_message_count \
         FROM ZWACHATSESSION{group_join} \
         LEFT JOIN ZWAMESSAGE ON ZWAMESSAGE.ZCHATSESSION = ZWACHATSESSION.Z_PK \
         GROUP BY ZWACHATSESSION.Z_PK ORDER BY ZWACHATSESSION.Z_PK"
    )
}

/// A message record: every column, `isodate`, and `links` when it has any (or no text, as MVT).
fn message_record(mut m: Record) -> Record {
    let isodate = m.get("ZMESSAGEDATE").and_then(mac_iso);
    m.insert("isodate".into(), json_time(isodate));
    if m.get("ZTEXT").is_none_or(Value::is_null) {
        m.insert("ZTEXT".into(), Value::String(String::new()));
    }
    let mut links: Vec<String> = Vec::new();
    for field in LINK_FIELDS {
        for link in find_links(text(&m, field)) {
            if !MEDIA_HOSTS.iter().any(|h| link.starts_with(h)) && !links.contains(&link) {
                links.push(link);
            }
        }
    }
    if !links.is_empty() || text(&m, "ZTEXT").trim().is_empty() {
        m.insert("links".into(), links.into());
    }
    m
}

/// How a chat is named in the timeline.
fn describe_chat(session: &Record) -> String {
    let jid = match text(session, "contact_jid") {
        "" => "unknown",
        jid => jid,
    };
    let identifier = match text(session, "partner_resolved_phone_number") {
        "" => jid,
        phone => phone,
    };
    let label = match text(session, "partner_name") {
        "" => identifier.to_string(),
        name => format!("'{name}' ({identifier})"),
    };
    if jid.ends_with("@g.us") || !session["group_creation_date"].is_null() {
        format!("WhatsApp group chat {label}")
    } else {
        format!("WhatsApp chat with {label}")
    }
}

/// Digits of a JID or number: the part before `@`, without a leading `+`.
fn jid_digits(value: &Value) -> String {
    let raw = py_str(Some(value));
    raw.split('@')
        .next()
        .unwrap_or("")
        .trim_start_matches('+')
        .to_string()
}

impl Whatsapp {
    /// LID pairs from LID.sqlite, else from ChatStorage.sqlite; the records and a map from LID
    /// digits to phone digits. A broken LID.sqlite only loses the pairs, not the messages.
    fn lid_pairs(
        &self,
        ctx: &Context<'_>,
        chat: &rusqlite::Connection,
        chat_source: &str,
    ) -> (Vec<Record>, HashMap<String, String>) {
        let from_lid_db = open_fixed(ctx.backup, LID_BACKUP_IDS, "WhatsApp LID.sqlite")
            .and_then(|(conn, source)| query_records(&conn, &source, LID_PAIRS));
        let rows = from_lid_db.or_else(|e| {
            if !matches!(e, ModuleError::NotFound(_)) {
                tracing::warn!("cannot read WhatsApp LID pairs: {e}");
            }
            if has_table(chat, "ZWAPHONENUMBERLIDPAIR") {
                query_records(chat, chat_source, LID_PAIRS)
            } else {
                Ok(Vec::new())
            }
        });
        let rows = rows.unwrap_or_else(|e| {
            tracing::warn!("cannot read WhatsApp LID pairs: {e}");
            Vec::new()
        });
        let mut map = HashMap::new();
        let records = rows
            .into_iter()
            .map(|row| {
                let (lid, phone) = (
                    row.get("lid").cloned().unwrap_or(Value::Null),
                    row.get("phone_number").cloned().unwrap_or(Value::Null),
                );
                if !lid.is_null() && !phone.is_null() {
                    map.insert(jid_digits(&lid), jid_digits(&phone));
                }
                let mut r = Record::new();
                r.insert("record_type".into(), "lid_phone_number_pair".into());
                r.insert("lid".into(), lid);
                r.insert("phone_number".into(), phone);
                let ts = row.get("pair_timestamp").and_then(mac_iso);
                r.insert("pair_timestamp".into(), json_time(ts));
                r
            })
            .collect();
        (records, map)
    }
}

impl Module<Context<'_>> for Whatsapp {
    fn name(&self) -> &'static str {
        "Whatsapp"
    }

    fn slug(&self) -> &'static str {
        "whatsapp"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, BACKUP_IDS, "WhatsApp ChatStorage.sqlite")?;
        if !has_table(&conn, "ZWAMESSAGE") {
            return Err(ModuleError::Parse {
                path: source,
                reason: "no ZWAMESSAGE table".into(),
            });
        }
        let mut out = ModuleOutput::default();
        let mut results: Vec<Value> = Vec::new();

        for message in query_records(&conn, &source, &messages_query(&conn))? {
            let m = message_record(message);
            let isodate = m.get("isodate").and_then(Value::as_str).map(str::to_string);
            let links: Vec<&str> = m
                .get("links")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let from = match text(&m, "ZFROMJID") {
                "" if m.get("ZISFROMME").and_then(Value::as_i64) == Some(1) => "local user",
                "" => "Unknown",
                jid => jid,
            };
            let mut data = format!("'{}' from {from}", text(&m, "ZTEXT").replace('\n', "\\n"));
            if !links.is_empty() {
                data.push_str(&format!(" - Embedded links: {}", links.join(", ")));
            }
            push_event(&mut out, self.name(), isodate.as_deref(), "message", data);
            for link in &links {
                out.urls.push(UrlRecord {
                    url: link.to_string(),
                    timestamp: isodate.clone().unwrap_or_default(),
                    source: "whatsapp".into(),
                });
            }
            let event = Value::Object(m.clone());
            out.alerts.extend(url_alert(
                ctx.indicators,
                self.slug(),
                links.iter().map(|l| ("links", *l)),
                isodate.as_deref().unwrap_or(""),
                &event,
                &source,
            ));
            results.push(event);
        }

        let (pairs, lid_map) = self.lid_pairs(ctx, &conn, &source);
        for pair in pairs {
            let data = format!(
                "WhatsApp associated LID {} with phone number {}",
                py_str(pair.get("lid")),
                py_str(pair.get("phone_number"))
            );
            let ts = pair.get("pair_timestamp").and_then(Value::as_str);
            push_event(&mut out, self.name(), ts, "lid_pair_recorded", data);
            results.push(Value::Object(pair));
        }

        if has_table(&conn, "ZWACHATSESSION") {
            for mut session in query_records(&conn, &source, &sessions_query(&conn))? {
                session.insert("record_type".into(), "chat_session".into());
                let jid = text(&session, "contact_jid").to_string();
                let resolved = jid
                    .strip_suffix("@lid")
                    .and_then(|lid| lid_map.get(lid))
                    .map_or(Value::Null, |phone| Value::String(format!("+{phone}")));
                session.insert("partner_resolved_phone_number".into(), resolved);
                for field in SESSION_DATES {
                    let iso = session.get(*field).and_then(mac_iso);
                    session.insert(field.to_string(), json_time(iso));
                }
                let chat = describe_chat(&session);
                let time = |key: &str| session.get(key).and_then(Value::as_str);
                push_event(
                    &mut out,
                    self.name(),
                    time("group_creation_date"),
                    "group_created",
                    format!("{chat} was created"),
                );
                push_event(
                    &mut out,
                    self.name(),
                    time("first_stored_message_date"),
                    "chat_first_message",
                    format!("First stored message in {chat}"),
                );
                // The session's own date is authoritative: it outlives a deleted last message.
                let last = time("last_message_date").or(time("last_stored_message_date"));
                push_event(
                    &mut out,
                    self.name(),
                    last,
                    "chat_last_message",
                    format!("Last message in {chat}"),
                );
                results.push(Value::Object(session));
            }
        }

        out.results = Results::List(results);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::stored_path;
    use crate::modules::test_support::{
        built, fixture, indicators, list, run_at, test_stix2, with_file,
    };
    use crate::modules::whatsapp_contacts::tests::DOMAIN;
    use portcullis_core::Level;
    use portcullis_indicators::Indicators;
    use serde_json::json;

    const CHAT_DB: &str = "
        CREATE TABLE ZWAMESSAGE (Z_PK INTEGER PRIMARY KEY, ZCHATSESSION INTEGER, ZFROMJID TEXT,
            ZTOJID TEXT, ZTEXT TEXT, ZMESSAGEDATE REAL, ZMESSAGETYPE INTEGER, ZISFROMME INTEGER);
        CREATE TABLE ZWAMEDIAITEM (Z_PK INTEGER PRIMARY KEY, ZMESSAGE INTEGER, ZAUTHORNAME TEXT,
            ZMEDIAURL TEXT);
        CREATE TABLE ZWACHATSESSION (Z_PK INTEGER PRIMARY KEY, ZCONTACTJID TEXT, ZPARTNERNAME TEXT,
            ZSESSIONTYPE INTEGER, ZARCHIVED INTEGER, ZREMOVED INTEGER, ZMESSAGECOUNTER INTEGER,
            ZLASTMESSAGEDATE REAL, ZGROUPINFO INTEGER);
        CREATE TABLE ZWAPHONENUMBERLIDPAIR (Z_PK INTEGER PRIMARY KEY, ZLID TEXT,
            ZPHONENUMBER TEXT, ZTIMESTAMP REAL);
        INSERT INTO ZWAMESSAGE VALUES
            (1, 1, '200000000000002@lid', NULL, 'look https://evil.example.org/x and\nhttps://evil.example.org/x', 700000000, 0, 0),
            (2, 1, NULL, '200000000000002@lid', NULL, 700000100, 1, 1),
            (3, 1, '200000000000002@lid', NULL, 'plain', 700000200, 0, 0);
        INSERT INTO ZWAMEDIAITEM VALUES (1, 2, NULL, 'https://mmg.whatsapp.net/v/t62/abc'),
                                        (2, 3, 'Zoë', 'https://files.example.net/doc.pdf');
        INSERT INTO ZWACHATSESSION VALUES (1, '200000000000002@lid', 'Zoë', 0, 0, 0, 5, 700000300, NULL);
        INSERT INTO ZWAPHONENUMBERLIDPAIR VALUES (1, '200000000000002@lid', '+33612345678', 690000000);";

    fn record(v: Value) -> Record {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn messages_links_pairs_sessions_and_indicator() {
        let (_dir, root) = built(|b| {
            b.sqlite(DOMAIN, "ChatStorage.sqlite", CHAT_DB)?
                // A LID.sqlite without the pairs table: the pairs come from ChatStorage.sqlite.
                .sqlite(
                    DOMAIN,
                    "LID.sqlite",
                    "CREATE TABLE Z_METADATA(Z_VERSION INTEGER);",
                )
        });
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_at(&Whatsapp, &root, &ind).unwrap();
        let results = list(&out);
        // 3 messages, the pair from ChatStorage.sqlite, 1 chat.
        assert_eq!(results.len(), 5);
        assert_eq!(results[0]["links"], json!(["https://evil.example.org/x"]));
        assert_eq!(results[0]["isodate"], "2023-03-08 20:26:40.000000");
        // Only a WhatsApp media link and no text: the key is there, empty.
        assert_eq!(results[1]["links"], json!([]));
        assert_eq!(results[1]["ZTEXT"], "");
        assert_eq!(
            results[2]["links"],
            json!(["https://files.example.net/doc.pdf"])
        );
        assert_eq!(results[3]["record_type"], "lid_phone_number_pair");
        assert_eq!(results[3]["pair_timestamp"], "2022-11-13 02:40:00.000000");
        let chat = &results[4];
        assert_eq!(chat["record_type"], "chat_session");
        assert_eq!(chat["partner_resolved_phone_number"], "+33612345678");
        assert_eq!(chat["stored_message_count"], 3);
        assert_eq!(
            chat["first_stored_message_date"],
            "2023-03-08 20:26:40.000000"
        );
        assert_eq!(chat["group_creation_date"], Value::Null);

        let data: Vec<_> = out.timeline.iter().map(|t| t.data.as_str()).collect();
        assert_eq!(
            data,
            [
                "'look https://evil.example.org/x and\\nhttps://evil.example.org/x' from \
                 200000000000002@lid - Embedded links: https://evil.example.org/x",
                "'' from local user",
                "'plain' from 200000000000002@lid - Embedded links: https://files.example.net/doc.pdf",
                "WhatsApp associated LID 200000000000002@lid with phone number +33612345678",
                "First stored message in WhatsApp chat with 'Zoë' (+33612345678)",
                "Last message in WhatsApp chat with 'Zoë' (+33612345678)",
            ]
        );
        assert_eq!(out.urls.len(), 2);
        assert_eq!(out.urls[1].source, "whatsapp");
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(out.alerts[0].matched_field.as_deref(), Some("links"));
        assert_eq!(
            out.alerts[0].timestamp.as_deref(),
            Some("2023-03-08 20:26:40.000000")
        );
    }

    #[test]
    fn chat_names() {
        let group = record(
            json!({"contact_jid": "1@g.us", "partner_name": "Team", "group_creation_date": null}),
        );
        assert_eq!(describe_chat(&group), "WhatsApp group chat 'Team' (1@g.us)");
        let bare = record(json!({"group_creation_date": null}));
        assert_eq!(describe_chat(&bare), "WhatsApp chat with unknown");
    }

    #[test]
    fn fixture_messages_pairs_and_sessions() {
        let Some(path) = fixture() else { return };
        let out = run_at(&Whatsapp, &path, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 6);
        let messages = results.iter().filter(|r| r.get("ZTEXT").is_some()).count();
        let kind = |k: &str| results.iter().filter(|r| r["record_type"] == k).count();
        assert_eq!(
            (
                messages,
                kind("lid_phone_number_pair"),
                kind("chat_session")
            ),
            (3, 1, 2)
        );
        let pair = &results[3];
        assert_eq!(pair["lid"], "100000000000001");
        assert_eq!(pair["phone_number"], "14155550100");
        assert_eq!(pair["pair_timestamp"], "2025-08-25 07:33:20.000000");
        assert_eq!(results[1]["links"], json!(["https://example.org/news"]));
        assert_eq!(results[4]["partner_resolved_phone_number"], "+14155550100");
        let rows: Vec<_> = out
            .timeline
            .iter()
            .map(|t| (t.timestamp.as_str(), t.event.as_str(), t.data.as_str()))
            .collect();
        let alice = "WhatsApp chat with 'Alice Example' (+14155550100)";
        let group = "WhatsApp group chat 'Example Group' (120000000000000001@g.us)";
        assert_eq!(
            rows,
            [
                (
                    "2025-08-27 15:06:40.000000",
                    "message",
                    "'Hi' from 14155550100@s.whatsapp.net"
                ),
                (
                    "2025-08-28 18:53:20.000000",
                    "message",
                    "'Check https://example.org/news' from local user - Embedded links: \
                     https://example.org/news"
                ),
                (
                    "2025-08-29 22:40:00.000000",
                    "message",
                    "'Welcome' from 14155550101@s.whatsapp.net"
                ),
                (
                    "2025-08-25 07:33:20.000000",
                    "lid_pair_recorded",
                    "WhatsApp associated LID 100000000000001 with phone number 14155550100"
                ),
                (
                    "2025-08-27 15:06:40.000000",
                    "chat_first_message",
                    &format!("First stored message in {alice}")
                ),
                (
                    "2025-08-28 18:53:20.000000",
                    "chat_last_message",
                    &format!("Last message in {alice}")
                ),
                (
                    "2025-08-21 20:13:20.000000",
                    "group_created",
                    &format!("{group} was created")
                ),
                (
                    "2025-08-29 22:40:00.000000",
                    "chat_first_message",
                    &format!("First stored message in {group}")
                ),
                (
                    "2025-08-31 02:26:40.000000",
                    "chat_last_message",
                    &format!("Last message in {group}")
                ),
            ]
        );
        assert!(out.alerts.is_empty());
        assert_eq!(out.urls.len(), 1);
        assert_eq!(out.urls[0].url, "https://example.org/news");
        assert_eq!(out.urls[0].timestamp, "2025-08-28 18:53:20.000000");

        let out = run_at(&Whatsapp, &path, &test_stix2()).unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].message,
            "Found a known suspicious domain https://example.org/news matching indicator \
             \"example.org\" from \"TestMalware\""
        );
        assert_eq!(
            out.alerts[0].source.as_deref(),
            Some(stored_path(BACKUP_IDS[0]).as_str())
        );
    }

    #[test]
    fn corrupt_or_tableless_database_names_the_file() {
        let (_dir, root) = with_file(DOMAIN, "ChatStorage.sqlite", &[0x42; 300]);
        let err = run_at(&Whatsapp, &root, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("7c/7c7fba66680ef796b916b067077cc246adacf01d"),
            "{err}"
        );

        let (_dir, root) = built(|b| {
            b.sqlite(
                DOMAIN,
                "ChatStorage.sqlite",
                "CREATE TABLE ZWACHATSESSION(Z_PK);",
            )?
            .sqlite(DOMAIN, "LID.sqlite", "CREATE TABLE unrelated(x);")
        });
        let err = run_at(&Whatsapp, &root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("7c/7c7fba66"), "{err}");
    }
}
