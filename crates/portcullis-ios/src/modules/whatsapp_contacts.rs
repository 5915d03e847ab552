//! WhatsApp's `ContactsV2.sqlite`: contacts with their LID ↔ phone number mapping and the
//! per-contact disappearing-messages timer (ChatStorage.sqlite does not record it for 1:1 chats).

use portcullis_core::{ModuleOutput, Results};
use serde_json::Value;

use super::common::{open_fixed, push_event};
use crate::values::{Record, has_table, json_time, mac_iso, query_records, table_columns, text};
use crate::{Backup, Context, Module, ModuleError};

/// AppDomainGroup-group.net.whatsapp.WhatsApp.shared-ContactsV2.sqlite
const BACKUP_IDS: &[&str] = &["b8548dc30aa1030df0ce18ef08b882cf7ab5212f"];

const TABLE: &str = "ZWAADDRESSBOOKCONTACT";

/// Record field → candidate columns, first present wins (WhatsApp renames columns across
/// versions). A field whose column is absent is null.
const FIELDS: &[(&str, &[&str])] = &[
    ("whatsapp_id", &["ZWHATSAPPID"]),
    ("lid", &["ZLID"]),
    ("phone_number", &["ZPHONENUMBER"]),
    ("localized_phone_number", &["ZLOCALIZEDPHONENUMBER"]),
    ("full_name", &["ZFULLNAME"]),
    ("given_name", &["ZGIVENNAME"]),
    ("last_name", &["ZLASTNAME"]),
    ("user_name", &["ZUSERNAME"]),
    ("business_name", &["ZBUSINESSNAME"]),
    ("about_text", &["ZABOUTTEXT"]),
    ("about_emoji", &["ZABOUTEMOJI"]),
    ("notes", &["ZNOTES"]),
    ("disappearing_mode_duration", &["ZDISAPPEARINGMODEDURATION"]),
    (
        "disappearing_mode_timestamp",
        &["ZDISAPPEARINGMODETIMESTAMP"],
    ),
    ("about_timestamp", &["ZABOUTTIMESTAMP"]),
    ("about_expiration_timestamp", &["ZABOUTEXPIRATIONTIMESTAMP"]),
    ("last_updated", &["ZLASTUPDATED"]),
    ("phone_status", &["ZPHONESTATUS", "ZPHONENUMBERSTATUS"]),
    ("sync_policy", &["ZSYNCPOLICY"]),
];

/// Fields holding Mac absolute times.
const DATE_FIELDS: &[&str] = &[
    "disappearing_mode_timestamp",
    "about_timestamp",
    "about_expiration_timestamp",
    "last_updated",
];

pub struct WhatsappContacts;

/// WhatsApp's timer choices in words; anything else in seconds.
fn duration_label(seconds: Option<f64>) -> String {
    match seconds.map(|s| s as i64).unwrap_or(0) {
        0 => "off".to_string(),
        86_400 => "24 hours".to_string(),
        604_800 => "7 days".to_string(),
        1_209_600 => "14 days".to_string(),
        2_592_000 => "30 days".to_string(),
        7_776_000 => "90 days".to_string(),
        other => format!("{other} seconds"),
    }
}

/// Reads every WhatsApp contact (also used by InteractionC to name WhatsApp peers). Returns the
/// records and the stored path of the database.
pub(crate) fn load_contacts(backup: &Backup) -> Result<(Vec<Record>, String), ModuleError> {
    let (conn, source) = open_fixed(backup, BACKUP_IDS, "WhatsApp ContactsV2.sqlite")?;
    if !has_table(&conn, TABLE) {
        return Err(ModuleError::Parse {
            path: source,
            reason: format!("no {TABLE} table"),
        });
    }
    let columns = table_columns(&conn, TABLE);
    let column_of = |candidates: &[&str]| {
        candidates
            .iter()
            .find(|c| columns.iter().any(|col| col == *c))
            .map(|c| c.to_string())
    };
    let select: Vec<String> = FIELDS
        .iter()
        .map(|(field, candidates)| {
            let column = column_of(candidates).unwrap_or_else(|| "NULL".to_string());
            format!("{column} AS {field}")
        })
        .collect();
    // Without the duration column the timer state is unknown, not "off".
    let has_duration = column_of(&["ZDISAPPEARINGMODEDURATION"]).is_some();
    let sql = format!(
        "SELECT Z_PK AS row_pk, {} FROM {TABLE} ORDER BY Z_PK",
        select.join(", ")
    );
    let mut records = query_records(&conn, &source, &sql)?;
    for record in &mut records {
        for field in DATE_FIELDS {
            let iso = record.get(*field).and_then(mac_iso);
            record.insert(field.to_string(), json_time(iso));
        }
        let duration = record
            .get("disappearing_mode_duration")
            .and_then(Value::as_f64);
        let (is_on, label) = if has_duration {
            let on = duration.is_some_and(|d| d != 0.0);
            (Value::Bool(on), Value::String(duration_label(duration)))
        } else {
            (Value::Null, Value::Null)
        };
        record.insert("disappearing_mode_is_on".into(), is_on);
        record.insert("disappearing_mode_label".into(), label);
    }
    Ok((records, source))
}

impl Module<Context<'_>> for WhatsappContacts {
    fn name(&self) -> &'static str {
        "WhatsappContacts"
    }

    fn slug(&self) -> &'static str {
        "whatsapp_contacts"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (records, _) = load_contacts(ctx.backup)?;
        let mut out = ModuleOutput::default();
        for r in &records {
            let contact = ["whatsapp_id", "lid", "phone_number"]
                .into_iter()
                .map(|k| text(r, k))
                .find(|v| !v.is_empty())
                .unwrap_or("unknown");
            let who = match text(r, "full_name") {
                "" => contact.to_string(),
                name => format!("{contact} ({name})"),
            };
            let time = |key| r.get(key).and_then(Value::as_str);
            let label = r
                .get("disappearing_mode_label")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let events = [
                (
                    "disappearing_mode_timestamp",
                    "disappearing_mode_set",
                    format!("WhatsApp disappearing messages timer set to '{label}' for {who}"),
                ),
                (
                    "about_timestamp",
                    "about_changed",
                    format!(
                        "WhatsApp about text of {who} set to '{}'",
                        text(r, "about_text")
                    ),
                ),
                (
                    "about_expiration_timestamp",
                    "about_expiration",
                    format!("WhatsApp about text of {who} expires"),
                ),
                (
                    "last_updated",
                    "contact_last_updated",
                    format!("WhatsApp contact {who} last updated"),
                ),
            ];
            for (field, event, data) in events {
                push_event(&mut out, self.name(), time(field), event, data);
            }
        }
        out.results = Results::List(records.into_iter().map(Value::Object).collect());
        Ok(out)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::modules::test_support::{built, fixture, list, run_at, test_stix2, with_sqlite};
    use portcullis_indicators::Indicators;
    use serde_json::json;

    pub(in crate::modules) const DOMAIN: &str = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared";

    /// A ContactsV2.sqlite of an older WhatsApp: `ZPHONENUMBERSTATUS`, no about expiry column,
    /// names stored as UTF-8 blobs.
    pub(in crate::modules) const CONTACTS_DB: &str = "
        CREATE TABLE ZWAADDRESSBOOKCONTACT (Z_PK INTEGER PRIMARY KEY, ZFULLNAME BLOB,
            ZGIVENNAME BLOB, ZPHONENUMBER BLOB, ZWHATSAPPID BLOB, ZLID BLOB, ZABOUTTEXT BLOB,
            ZDISAPPEARINGMODEDURATION REAL, ZDISAPPEARINGMODETIMESTAMP REAL, ZABOUTTIMESTAMP REAL,
            ZLASTUPDATED REAL, ZPHONENUMBERSTATUS INTEGER);
        INSERT INTO ZWAADDRESSBOOKCONTACT VALUES
            (1, CAST('Zoë Example' AS BLOB), CAST('Zoë' AS BLOB), CAST('+33 6 12 34 56 78' AS BLOB),
             CAST('33612345678@s.whatsapp.net' AS BLOB), CAST('200000000000002@lid' AS BLOB),
             CAST('Busy' AS BLOB), 604800, 700000000, 690000000, 705000000, 2),
            (2, NULL, NULL, NULL, NULL, CAST('300000000000003@lid' AS BLOB), NULL, 3600, NULL,
             NULL, NULL, NULL);";

    fn run(root: &std::path::Path) -> Result<ModuleOutput, ModuleError> {
        run_at(&WhatsappContacts, root, &Indicators::new())
    }

    #[test]
    fn contacts_timers_and_events() {
        let (_dir, root) = with_sqlite(DOMAIN, "ContactsV2.sqlite", CONTACTS_DB);
        let out = run(&root).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        let zoe = &results[0];
        assert_eq!(zoe["row_pk"], 1);
        assert_eq!(zoe["full_name"], "Zoë Example");
        assert_eq!(zoe["user_name"], Value::Null);
        assert_eq!(zoe["phone_status"], 2);
        assert_eq!(zoe["about_expiration_timestamp"], Value::Null);
        assert_eq!(
            zoe["disappearing_mode_timestamp"],
            "2023-03-08 20:26:40.000000"
        );
        assert_eq!(zoe["disappearing_mode_is_on"], true);
        assert_eq!(zoe["disappearing_mode_label"], "7 days");
        assert_eq!(results[1]["disappearing_mode_label"], "3600 seconds");
        assert_eq!(out.timeline.len(), 3);
        assert_eq!(
            out.timeline[0].data,
            "WhatsApp disappearing messages timer set to '7 days' for \
             33612345678@s.whatsapp.net (Zoë Example)"
        );
        assert_eq!(out.timeline[1].event, "about_changed");
        assert_eq!(out.timeline[2].event, "contact_last_updated");
    }

    #[test]
    fn fixture_alice_and_bob() {
        let Some(path) = fixture() else { return };
        let out = run(&path).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["full_name"], "Alice Example");
        assert_eq!(results[0]["lid"], "100000000000001@lid");
        assert_eq!(results[0]["disappearing_mode_is_on"], true);
        assert_eq!(results[0]["disappearing_mode_label"], "24 hours");
        assert_eq!(results[1]["full_name"], "Bob Example");
        assert_eq!(results[1]["disappearing_mode_is_on"], false);
        assert_eq!(results[1]["disappearing_mode_label"], "off");
        assert_eq!(out.timeline.len(), 5);
        let events: Vec<_> = out.timeline.iter().map(|t| t.event.as_str()).collect();
        assert_eq!(
            events,
            [
                "disappearing_mode_set",
                "about_changed",
                "about_expiration",
                "contact_last_updated",
                "contact_last_updated"
            ]
        );
        assert_eq!(
            out.timeline[0].data,
            "WhatsApp disappearing messages timer set to '24 hours' for \
             14155550100@s.whatsapp.net (Alice Example)"
        );
        assert!(out.alerts.is_empty());
        let with_iocs = run_at(&WhatsappContacts, &path, &test_stix2()).unwrap();
        assert!(with_iocs.alerts.is_empty());
        assert_eq!(
            json!(results[0]["last_updated"]),
            json!("2025-08-04 11:33:20.000000")
        );
    }

    #[test]
    fn corrupt_or_tableless_database_names_the_file() {
        for contents in [&b"garbage garbage garbage"[..], &[]] {
            let (_dir, root) = built(|b| {
                if contents.is_empty() {
                    b.sqlite(DOMAIN, "ContactsV2.sqlite", "CREATE TABLE Z_METADATA(x);")
                } else {
                    b.file(DOMAIN, "ContactsV2.sqlite", contents)
                }
            });
            let err = run(&root).unwrap_err();
            assert!(
                err.to_string()
                    .contains("b8/b8548dc30aa1030df0ce18ef08b882cf7ab5212f"),
                "{err}"
            );
        }
    }
}
