//! CoreDuet's `interactionC.db`: who the phone's owner exchanged messages, calls and shares
//! with, in which app and when. WhatsApp peers, recorded by opaque LID, are named through the
//! WhatsApp contacts database.

use std::collections::HashMap;
use std::sync::LazyLock;

use portcullis_core::{ModuleOutput, Results};
use regex::Regex;
use serde_json::Value;

use super::common::{open_fixed, push_event};
use super::whatsapp_contacts::load_contacts;
use crate::values::{Record, has_table, json_time, mac_iso, query_records, table_columns, text};
use crate::{Backup, Context, Module, ModuleError};

/// HomeDomain-Library/CoreDuet/People/interactionC.db
const BACKUP_IDS: &[&str] = &["1f5a521220a3ad80ebfdc196978df8e7a2e49dee"];

const WHATSAPP_BUNDLE_ID: &str = "net.whatsapp.WhatsApp";

/// A creation date this far (seconds) from the start date means the record was written later
/// (sync, restore or tampering); closer, it only repeats the start date.
const CREATION_DIVERGENCE: f64 = 3600.0;

/// Which table a record field comes from.
#[derive(Clone, Copy, PartialEq)]
enum From {
    Interaction,
    Sender,
    Recipient,
    Attachment,
}

/// Record fields in MVT's order: (field, table, column). A field is present when its table is
/// joined and has the column, which covers the schemas MVT's four fallback queries handle.
/// `derivied_intent_id` (sic) keeps MVT's field name.
const FIELDS: &[(&str, From, &str)] = &[
    ("start_date", From::Interaction, "ZSTARTDATE"),
    ("end_date", From::Interaction, "ZENDDATE"),
    ("bundle_id", From::Interaction, "ZBUNDLEID"),
    ("account", From::Interaction, "ZACCOUNT"),
    ("target_bundle_id", From::Interaction, "ZTARGETBUNDLEID"),
    ("direction", From::Interaction, "ZDIRECTION"),
    ("sender_display_name", From::Sender, "ZDISPLAYNAME"),
    ("sender_identifier", From::Sender, "ZIDENTIFIER"),
    ("sender_personid", From::Sender, "ZPERSONID"),
    ("recipient_display_name", From::Recipient, "ZDISPLAYNAME"),
    ("recipient_identifier", From::Recipient, "ZIDENTIFIER"),
    ("recipient_personid", From::Recipient, "ZPERSONID"),
    ("recipient_count", From::Interaction, "ZRECIPIENTCOUNT"),
    ("domain_identifier", From::Interaction, "ZDOMAINIDENTIFIER"),
    ("is_response", From::Interaction, "ZISRESPONSE"),
    ("mechanism", From::Interaction, "ZMECHANISM"),
    ("content", From::Attachment, "ZCONTENTTEXT"),
    ("uti", From::Attachment, "ZUTI"),
    ("attachment_content_url", From::Attachment, "ZCONTENTURL"),
    ("size", From::Attachment, "ZSIZEINBYTES"),
    ("photo_local_id", From::Attachment, "ZPHOTOLOCALIDENTIFIER"),
    ("attachment_id", From::Attachment, "ZIDENTIFIER"),
    ("cloud_id", From::Attachment, "ZCLOUDIDENTIFIER"),
    (
        "incoming_recipient_count",
        From::Sender,
        "ZINCOMINGRECIPIENTCOUNT",
    ),
    (
        "incoming_sender_count",
        From::Sender,
        "ZINCOMINGSENDERCOUNT",
    ),
    (
        "outgoing_recipient_count",
        From::Sender,
        "ZOUTGOINGRECIPIENTCOUNT",
    ),
    (
        "interactions_creation_date",
        From::Interaction,
        "ZCREATIONDATE",
    ),
    ("contacts_creation_date", From::Sender, "ZCREATIONDATE"),
    (
        "first_incoming_recipient_date",
        From::Sender,
        "ZFIRSTINCOMINGRECIPIENTDATE",
    ),
    (
        "first_incoming_sender_date",
        From::Sender,
        "ZFIRSTINCOMINGSENDERDATE",
    ),
    (
        "first_outgoing_recipient_date",
        From::Sender,
        "ZFIRSTOUTGOINGRECIPIENTDATE",
    ),
    (
        "last_incoming_sender_date",
        From::Sender,
        "ZLASTINCOMINGSENDERDATE",
    ),
    (
        "last_incoming_recipient_date",
        From::Sender,
        "ZLASTINCOMINGRECIPIENTDATE",
    ),
    (
        "last_outgoing_recipient_date",
        From::Sender,
        "ZLASTOUTGOINGRECIPIENTDATE",
    ),
    ("custom_id", From::Sender, "ZCUSTOMIDENTIFIER"),
    ("interaction_content_url", From::Interaction, "ZCONTENTURL"),
    ("location_uuid", From::Interaction, "ZLOCATIONUUID"),
    ("group_name", From::Interaction, "ZGROUPNAME"),
    (
        "derivied_intent_id",
        From::Interaction,
        "ZDERIVEDINTENTIDENTIFIER",
    ),
    ("table_id", From::Interaction, "Z_PK"),
];

/// Fields holding Mac absolute times.
const DATE_FIELDS: &[&str] = &[
    "start_date",
    "end_date",
    "interactions_creation_date",
    "contacts_creation_date",
    "first_incoming_recipient_date",
    "first_incoming_sender_date",
    "first_outgoing_recipient_date",
    "last_incoming_sender_date",
    "last_incoming_recipient_date",
    "last_outgoing_recipient_date",
];

/// Per-contact dates, repeated on each of the contact's interactions: worded about the contact
/// so that the timeline keeps one row per contact.
const CONTACT_EVENTS: &[(&str, &str)] = &[
    (
        "contacts_creation_date",
        "Contact {} first recorded in interactionC",
    ),
    (
        "first_incoming_sender_date",
        "First incoming interaction from {}",
    ),
    (
        "last_incoming_sender_date",
        "Last incoming interaction from {}",
    ),
    (
        "first_incoming_recipient_date",
        "First incoming interaction where {} was a recipient",
    ),
    (
        "last_incoming_recipient_date",
        "Last incoming interaction where {} was a recipient",
    ),
    (
        "first_outgoing_recipient_date",
        "First outgoing interaction to {}",
    ),
    (
        "last_outgoing_recipient_date",
        "Last outgoing interaction to {}",
    ),
];

pub struct InteractionC;

/// A Core Data many-to-many table linking interactions to `target` (its name and column
/// numbers vary with the iOS version): (table, interaction column, target column).
fn link_table(
    conn: &rusqlite::Connection,
    table: &Regex,
    interaction: &Regex,
    target: &Regex,
) -> Option<(String, String, String)> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .ok()?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .ok()?
        .filter_map(Result::ok)
        .collect();
    names
        .into_iter()
        .filter(|n| table.is_match(n))
        .find_map(|name| {
            let columns = table_columns(conn, &name);
            let find = |re: &Regex| columns.iter().find(|c| re.is_match(c)).cloned();
            Some((name.clone(), find(interaction)?, find(target)?))
        })
}

/// The query for this database's schema: the fields whose table and column exist.
fn build_query(conn: &rusqlite::Connection, path: &str) -> Result<String, ModuleError> {
    static ATTACH_TABLE: LazyLock<Regex> = LazyLock::new(|| re(r"^Z_\d+INTERACTIONS$"));
    static ATTACH_COL: LazyLock<Regex> = LazyLock::new(|| re(r"^Z_\d+ATTACHMENTS$"));
    static INTER_COL: LazyLock<Regex> = LazyLock::new(|| re(r"^Z_\d+INTERACTIONS$"));
    static RECIP_TABLE: LazyLock<Regex> = LazyLock::new(|| re(r"^Z_\d+INTERACTIONRECIPIENT$"));
    static RECIP_COL: LazyLock<Regex> = LazyLock::new(|| re(r"^Z_\d+RECIPIENTS$"));
    // The interaction column is named like its table (e.g. Z_3INTERACTIONRECIPIENT).
    let recip_inter_col = &*RECIP_TABLE;
    fn re(pattern: &str) -> Regex {
        Regex::new(pattern).expect("valid pattern")
    }

    if !has_table(conn, "ZINTERACTIONS") {
        return Err(ModuleError::Parse {
            path: path.to_string(),
            reason: "no ZINTERACTIONS table".into(),
        });
    }
    let interaction_cols = table_columns(conn, "ZINTERACTIONS");
    let contact_cols = table_columns(conn, "ZCONTACTS");
    let attachment_cols = table_columns(conn, "ZATTACHMENT");
    let mut joins = String::new();
    let mut joined = vec![From::Interaction];
    if !contact_cols.is_empty() && interaction_cols.iter().any(|c| c == "ZSENDER") {
        joins.push_str(" LEFT JOIN ZCONTACTS s ON i.ZSENDER = s.Z_PK");
        joined.push(From::Sender);
    }
    if !attachment_cols.is_empty()
        && let Some((table, inter, target)) =
            link_table(conn, &ATTACH_TABLE, &INTER_COL, &ATTACH_COL)
    {
        joins.push_str(&format!(
            " LEFT JOIN \"{table}\" al ON al.\"{inter}\" = i.Z_PK \
             LEFT JOIN ZATTACHMENT a ON al.\"{target}\" = a.Z_PK"
        ));
        joined.push(From::Attachment);
    }
    if !contact_cols.is_empty()
        && let Some((table, inter, target)) =
            link_table(conn, &RECIP_TABLE, recip_inter_col, &RECIP_COL)
    {
        joins.push_str(&format!(
            " LEFT JOIN \"{table}\" rl ON rl.\"{inter}\" = i.Z_PK \
             LEFT JOIN ZCONTACTS r ON rl.\"{target}\" = r.Z_PK"
        ));
        joined.push(From::Recipient);
    }
    let select: Vec<String> = FIELDS
        .iter()
        .filter(|(_, from, column)| {
            let columns = match from {
                From::Interaction => &interaction_cols,
                From::Sender | From::Recipient => &contact_cols,
                From::Attachment => &attachment_cols,
            };
            joined.contains(from) && columns.iter().any(|c| c == column)
        })
        .map(|(field, from, column)| {
            let alias = match from {
                From::Interaction => "i",
                From::Sender => "s",
                From::Recipient => "r",
                From::Attachment => "a",
            };
            if *field == "attachment_id" {
                format!("CASE WHEN a.ZIDENTIFIER IS NULL THEN NULL ELSE hex(a.ZIDENTIFIER) END AS {field}")
            } else {
                format!("{alias}.{column} AS {field}")
            }
        })
        .collect();
    Ok(format!(
        "SELECT {} FROM ZINTERACTIONS i{joins} ORDER BY i.Z_PK",
        select.join(", ")
    ))
}

/// A phone number and contact name for a WhatsApp identifier.
type Resolved = (Option<String>, Option<String>);

/// WhatsApp contacts indexed by LID (`…@lid`) and by phone digits.
#[derive(Default)]
struct WhatsappNames {
    by_lid: HashMap<String, Resolved>,
    by_phone: HashMap<String, Resolved>,
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl WhatsappNames {
    /// Loads the WhatsApp contacts; without them (or with a broken database) nothing resolves.
    fn load(backup: &Backup) -> Self {
        let mut names = WhatsappNames::default();
        let contacts = match load_contacts(backup) {
            Ok((contacts, _)) => contacts,
            Err(e) => {
                tracing::debug!("WhatsApp peers stay unnamed: {e}");
                return names;
            }
        };
        for c in &contacts {
            let name = non_empty(text(c, "full_name")).or_else(|| non_empty(text(c, "given_name")));
            let phone = non_empty(text(c, "phone_number"));
            let entry = (phone.clone(), name);
            if let Some(lid) = non_empty(text(c, "lid")) {
                names.by_lid.insert(lid, entry.clone());
            }
            if let Some(phone) = &phone {
                names.by_phone.insert(digits(phone), entry.clone());
            }
            if let Some((user, _)) = text(c, "whatsapp_id").split_once('@') {
                names.by_phone.entry(user.to_string()).or_insert(entry);
            }
        }
        names
    }

    /// Resolves a LID, a phone JID or a `+` phone number.
    fn resolve(&self, value: &str) -> Resolved {
        if value.ends_with("@lid") {
            self.by_lid.get(value).cloned().unwrap_or_default()
        } else if let Some(user) = value.strip_suffix("@s.whatsapp.net") {
            let (phone, name) = self.by_phone.get(user).cloned().unwrap_or_default();
            (phone.or_else(|| Some(format!("+{user}"))), name)
        } else if value.starts_with('+') {
            let (_, name) = self
                .by_phone
                .get(&digits(value))
                .cloned()
                .unwrap_or_default();
            (None, name)
        } else {
            (None, None)
        }
    }
}

/// Adds `<party>_resolved_phone_number` / `_resolved_name` to a WhatsApp interaction.
fn resolve_whatsapp(record: &mut Record, names: &WhatsappNames) {
    let parties: [(&str, &[&str]); 3] = [
        ("sender", &["sender_identifier", "custom_id"]),
        ("recipient", &["recipient_identifier"]),
        ("domain", &["domain_identifier"]),
    ];
    for (party, keys) in parties {
        let (phone, name) = keys
            .iter()
            .map(|k| names.resolve(text(record, k)))
            .find(|(p, n)| p.is_some() || n.is_some())
            .unwrap_or_default();
        let as_json = |v: Option<String>| v.map_or(Value::Null, Value::String);
        record.insert(format!("{party}_resolved_phone_number"), as_json(phone));
        record.insert(format!("{party}_resolved_name"), as_json(name));
    }
}

/// How a party (sender, recipient, or the chat in `domain_identifier`) is named in the
/// timeline: "Name (number)", or whichever of the two is known.
fn describe_party(record: &Record, party: &str) -> Option<String> {
    let field = |suffix: &str| non_empty(text(record, &format!("{party}_{suffix}")));
    let name = field("display_name").or_else(|| field("resolved_name"));
    let identifier = field("resolved_phone_number").or_else(|| field("identifier"));
    match (name, identifier) {
        (Some(name), Some(id)) => {
            // A display name that is the number itself, formatted, adds nothing.
            let name_digits = digits(&name);
            if !name_digits.is_empty() && name_digits == digits(&id) {
                Some(id)
            } else {
                Some(format!("{name} ({id})"))
            }
        }
        (name, id) => name.or(id),
    }
}

/// The interaction in words: `[bundle] account DIRECTION from S to R (group: G): content`.
fn describe(record: &Record) -> String {
    let direction = text(record, "direction");
    let mut sender = describe_party(record, "sender");
    let mut recipient =
        describe_party(record, "recipient").or_else(|| describe_party(record, "domain"));
    if sender.is_none() && direction == "OUTGOING" {
        sender = Some("local user".into());
    }
    if recipient.is_none() && direction == "INCOMING" {
        recipient = Some("local user".into());
    }
    let mut data = format!(
        "[{}]",
        non_empty(text(record, "bundle_id"))
            .as_deref()
            .unwrap_or("unknown")
    );
    for part in [text(record, "account"), direction] {
        if !part.is_empty() {
            data.push(' ');
            data.push_str(part);
        }
    }
    data.push_str(&format!(
        " from {} to {}",
        sender.as_deref().unwrap_or("unknown"),
        recipient.as_deref().unwrap_or("unknown")
    ));
    if let Some(group) = non_empty(text(record, "group_name")) {
        data.push_str(&format!(" (group: {group})"));
    }
    if let Some(content) = non_empty(text(record, "content")) {
        data.push_str(&format!(": {content}"));
    }
    data
}

/// Seconds between two ISO times (`later - earlier`).
fn seconds_between(earlier: &str, later: &str) -> Option<f64> {
    let parse = |s: &str| jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S%.f", s).ok();
    let (a, b) = (parse(earlier)?, parse(later)?);
    Some(b.duration_since(a).as_secs_f64())
}

/// "90 days" / "5 hours", rounded like MVT.
fn describe_delta(seconds: f64) -> String {
    if seconds >= 86_400.0 {
        format!("{:.0} days", seconds / 86_400.0)
    } else {
        format!("{:.0} hours", seconds / 3_600.0)
    }
}

impl InteractionC {
    fn timeline(&self, record: &Record, out: &mut ModuleOutput) {
        let data = describe(record);
        let time = |key: &str| record.get(key).and_then(Value::as_str);
        let start = time("start_date");
        push_event(out, self.name(), start, "start_date", data.clone());
        if time("end_date") != start {
            push_event(out, self.name(), time("end_date"), "end_date", data.clone());
        }
        if let Some(created) = time("interactions_creation_date") {
            let delta = start.and_then(|s| seconds_between(s, created));
            match delta {
                // Written at the time of the event: nothing to add.
                Some(d) if d.abs() < CREATION_DIVERGENCE => {}
                Some(d) => {
                    let when = if d > 0.0 { "after" } else { "before" };
                    let text = format!(
                        "Interaction record created {} {when} the event: {data}",
                        describe_delta(d.abs())
                    );
                    push_event(
                        out,
                        self.name(),
                        Some(created),
                        "interactions_creation_date",
                        text,
                    );
                }
                // Without a start date the creation date is the only anchor.
                None => push_event(
                    out,
                    self.name(),
                    Some(created),
                    "interactions_creation_date",
                    data,
                ),
            }
        }
        if let Some(party) = describe_party(record, "sender") {
            for (field, template) in CONTACT_EVENTS {
                push_event(
                    out,
                    self.name(),
                    time(field),
                    field,
                    template.replace("{}", &party),
                );
            }
        }
    }
}

impl Module<Context<'_>> for InteractionC {
    fn name(&self) -> &'static str {
        "InteractionC"
    }

    fn slug(&self) -> &'static str {
        "interaction_c"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, source) = open_fixed(ctx.backup, BACKUP_IDS, "interactionC.db")?;
        let rows = query_records(&conn, &source, &build_query(&conn, &source)?)?;
        // The WhatsApp contacts are only read when there is a WhatsApp peer to name.
        let names = if rows
            .iter()
            .any(|r| text(r, "bundle_id") == WHATSAPP_BUNDLE_ID)
        {
            WhatsappNames::load(ctx.backup)
        } else {
            WhatsappNames::default()
        };
        let mut out = ModuleOutput::default();
        let mut results = Vec::with_capacity(rows.len());
        for mut record in rows {
            for field in DATE_FIELDS {
                if let Some(v) = record.get_mut(*field)
                    && v.is_number()
                {
                    *v = json_time(mac_iso(v));
                }
            }
            if let Some(direction) = record.get_mut("direction") {
                match direction.as_i64() {
                    Some(0) => *direction = "INCOMING".into(),
                    Some(1) => *direction = "OUTGOING".into(),
                    _ => {}
                }
            }
            if text(&record, "bundle_id") == WHATSAPP_BUNDLE_ID {
                resolve_whatsapp(&mut record, &names);
            }
            self.timeline(&record, &mut out);
            results.push(Value::Object(record));
        }
        out.results = Results::List(results);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{
        built, fixture, list, run_at, test_stix2, with_file, with_sqlite,
    };
    use crate::modules::whatsapp_contacts::tests::{CONTACTS_DB, DOMAIN as WHATSAPP_DOMAIN};
    use portcullis_indicators::Indicators;
    use serde_json::json;

    const PATH: &str = "Library/CoreDuet/People/interactionC.db";

    /// A newer schema: link tables numbered differently, attachments and group names.
    const NEW_SCHEMA: &str = "
        CREATE TABLE ZINTERACTIONS (Z_PK INTEGER PRIMARY KEY, ZSENDER INTEGER, ZSTARTDATE REAL,
            ZENDDATE REAL, ZCREATIONDATE REAL, ZBUNDLEID TEXT, ZACCOUNT TEXT, ZDIRECTION INTEGER,
            ZDOMAINIDENTIFIER TEXT, ZGROUPNAME TEXT);
        CREATE TABLE ZCONTACTS (Z_PK INTEGER PRIMARY KEY, ZDISPLAYNAME TEXT, ZIDENTIFIER TEXT,
            ZCUSTOMIDENTIFIER TEXT, ZFIRSTINCOMINGSENDERDATE REAL, ZLASTINCOMINGSENDERDATE REAL);
        CREATE TABLE ZATTACHMENT (Z_PK INTEGER PRIMARY KEY, ZCONTENTTEXT TEXT, ZUTI TEXT,
            ZIDENTIFIER BLOB);
        CREATE TABLE Z_4INTERACTIONS (Z_4ATTACHMENTS INTEGER, Z_7INTERACTIONS INTEGER);
        CREATE TABLE Z_5INTERACTIONRECIPIENT (Z_5RECIPIENTS INTEGER, Z_7INTERACTIONRECIPIENT INTEGER);
        INSERT INTO ZCONTACTS VALUES
            (1, NULL, '200000000000002@lid', NULL, NULL, NULL),
            (2, NULL, '33612345678@s.whatsapp.net', NULL, NULL, NULL),
            (3, '+1 (415) 555-0199', '+14155550199', NULL, 690000000, 700000000);
        INSERT INTO ZINTERACTIONS VALUES
            (1, 1, 700000000, 700000060, 700000000.5, 'net.whatsapp.WhatsApp', NULL, 0,
             '300000000000003@lid', 'Book club'),
            (2, NULL, 700001000, 700001000, 699820000, 'net.whatsapp.WhatsApp', 'me', 1,
             NULL, NULL),
            (3, 3, 700002000, 700002000, NULL, 'com.apple.MobileSMS', NULL, 0, NULL, NULL);
        INSERT INTO ZATTACHMENT VALUES (1, 'See you at 8', 'public.text', X'BEEF');
        INSERT INTO Z_4INTERACTIONS VALUES (1, 1);
        INSERT INTO Z_5INTERACTIONRECIPIENT VALUES (2, 2);";

    #[test]
    fn schema_detection_whatsapp_names_and_timeline() {
        let (_dir, root) = built(|b| {
            b.sqlite("HomeDomain", PATH, NEW_SCHEMA)?.sqlite(
                WHATSAPP_DOMAIN,
                "ContactsV2.sqlite",
                CONTACTS_DB,
            )
        });
        let out = run_at(&InteractionC, &root, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 3);
        let first = &results[0];
        assert_eq!(first["direction"], "INCOMING");
        assert_eq!(first["content"], "See you at 8");
        assert_eq!(first["attachment_id"], "BEEF");
        assert_eq!(first["group_name"], "Book club");
        assert_eq!(first["start_date"], "2023-03-08 20:26:40.000000");
        assert_eq!(first["sender_resolved_phone_number"], "+33 6 12 34 56 78");
        assert_eq!(first["sender_resolved_name"], "Zoë Example");
        // A LID nobody in the contacts has stays unresolved.
        assert_eq!(first["domain_resolved_name"], Value::Null);
        assert!(
            first.get("photo_local_id").is_none(),
            "column absent in this schema"
        );
        let second = &results[1];
        assert_eq!(second["recipient_identifier"], "33612345678@s.whatsapp.net");
        assert_eq!(
            second["recipient_resolved_phone_number"],
            "+33 6 12 34 56 78"
        );
        assert_eq!(second["attachment_id"], Value::Null);
        assert!(
            results[2].get("sender_resolved_name").is_none(),
            "only WhatsApp is resolved"
        );

        let rows: Vec<_> = out
            .timeline
            .iter()
            .map(|t| (t.event.as_str(), t.data.as_str()))
            .collect();
        let whatsapp_in = "[net.whatsapp.WhatsApp] INCOMING from Zoë Example (+33 6 12 34 56 78) \
             to 300000000000003@lid (group: Book club): See you at 8";
        let whatsapp_out = "[net.whatsapp.WhatsApp] me OUTGOING from local user to \
             Zoë Example (+33 6 12 34 56 78)";
        let sms = "[com.apple.MobileSMS] INCOMING from +14155550199 to local user";
        assert_eq!(
            rows,
            [
                ("start_date", whatsapp_in),
                ("end_date", whatsapp_in),
                ("start_date", whatsapp_out),
                (
                    "interactions_creation_date",
                    &*format!("Interaction record created 2 days before the event: {whatsapp_out}")
                ),
                ("start_date", sms),
                (
                    "first_incoming_sender_date",
                    "First incoming interaction from +14155550199"
                ),
                (
                    "last_incoming_sender_date",
                    "Last incoming interaction from +14155550199"
                ),
            ]
        );
    }

    #[test]
    fn oldest_schema_without_links_or_contacts_db() {
        let (_dir, root) = with_sqlite(
            "HomeDomain",
            PATH,
            "CREATE TABLE ZINTERACTIONS (Z_PK INTEGER PRIMARY KEY, ZSTARTDATE REAL,
                 ZENDDATE REAL, ZBUNDLEID TEXT, ZDIRECTION INTEGER, ZMECHANISM INTEGER);
             INSERT INTO ZINTERACTIONS VALUES (1, 700000000, 0, 'net.whatsapp.WhatsApp', 1, 4);",
        );
        let out = run_at(&InteractionC, &root, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(
            results[0],
            json!({
                "start_date": "2023-03-08 20:26:40.000000",
                "end_date": null,
                "bundle_id": "net.whatsapp.WhatsApp",
                "direction": "OUTGOING",
                "mechanism": 4,
                "table_id": 1,
                "sender_resolved_phone_number": null,
                "sender_resolved_name": null,
                "recipient_resolved_phone_number": null,
                "recipient_resolved_name": null,
                "domain_resolved_phone_number": null,
                "domain_resolved_name": null,
            })
        );
        assert_eq!(out.timeline.len(), 1);
        assert_eq!(
            out.timeline[0].data,
            "[net.whatsapp.WhatsApp] OUTGOING from local user to unknown"
        );
    }

    #[test]
    fn party_names_and_deltas() {
        let r: Record =
            json!({"sender_display_name": "+1 415-555-0100", "sender_identifier": "+14155550100"})
                .as_object()
                .cloned()
                .unwrap();
        assert_eq!(
            describe_party(&r, "sender").as_deref(),
            Some("+14155550100")
        );
        assert_eq!(describe_party(&r, "recipient"), None);
        assert_eq!(describe_delta(7_776_000.0), "90 days");
        assert_eq!(describe_delta(7_200.0), "2 hours");
        assert_eq!(
            seconds_between("2025-09-09 12:26:40.000000", "2025-12-08 12:26:40.500000"),
            Some(7_776_000.5)
        );
    }

    #[test]
    fn fixture_three_interactions_with_whatsapp_names() {
        let Some(path) = fixture() else { return };
        let out = run_at(&InteractionC, &path, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 3);
        let incoming = &results[0];
        assert_eq!(incoming["sender_identifier"], "100000000000001@lid");
        assert_eq!(incoming["direction"], "INCOMING");
        assert_eq!(incoming["sender_resolved_phone_number"], "+14155550100");
        assert_eq!(incoming["sender_resolved_name"], "Alice Example");
        let outgoing = &results[1];
        assert_eq!(outgoing["direction"], "OUTGOING");
        assert_eq!(outgoing["recipient_identifier"], "+14155550100");
        assert_eq!(outgoing["recipient_resolved_name"], "Alice Example");
        assert_eq!(outgoing["domain_resolved_phone_number"], "+14155550100");
        assert_eq!(outgoing["domain_resolved_name"], "Alice Example");
        let sms = &results[2];
        assert_eq!(sms["bundle_id"], "com.apple.MobileSMS");
        assert_eq!(sms["sender_display_name"], "Bob Example");
        assert!(sms.get("sender_resolved_name").is_none());

        assert_eq!(out.timeline.len(), 6);
        let data: Vec<_> = out.timeline.iter().map(|t| t.data.as_str()).collect();
        let bob = "[com.apple.MobileSMS] INCOMING from Bob Example (+14155550101) to local user";
        assert!(data.contains(
            &"[net.whatsapp.WhatsApp] INCOMING from Alice Example (+14155550100) to local user"
        ));
        assert!(data.contains(
            &"[net.whatsapp.WhatsApp] OUTGOING from local user to Alice Example (+14155550100)"
        ));
        assert!(data.contains(&bob));
        let created: Vec<_> = out
            .timeline
            .iter()
            .filter(|t| t.event == "interactions_creation_date")
            .collect();
        assert_eq!(created.len(), 1);
        assert_eq!(created[0].timestamp, "2025-12-09 12:26:40.000000");
        assert_eq!(
            created[0].data,
            format!("Interaction record created 90 days after the event: {bob}")
        );
        let first: Vec<_> = out
            .timeline
            .iter()
            .filter(|t| t.event == "first_incoming_sender_date")
            .collect();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].timestamp, "2025-09-03 13:46:40.000000");
        assert_eq!(
            first[0].data,
            "First incoming interaction from Bob Example (+14155550101)"
        );
        assert!(data.contains(&"Last incoming interaction from Bob Example (+14155550101)"));
        assert!(out.timeline.iter().all(|t| t.plugin == "InteractionC"));
        assert!(out.alerts.is_empty());
        assert!(
            run_at(&InteractionC, &path, &test_stix2())
                .unwrap()
                .alerts
                .is_empty()
        );
    }

    #[test]
    fn corrupt_or_tableless_database_names_the_file() {
        let (_dir, root) = with_file("HomeDomain", PATH, b"\x00\x01 not sqlite");
        let err = run_at(&InteractionC, &root, &Indicators::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("1f/1f5a521220a3ad80ebfdc196978df8e7a2e49dee"),
            "{err}"
        );

        let (_dir, root) = with_sqlite(
            "HomeDomain",
            PATH,
            "CREATE TABLE ZCONTACTS(Z_PK INTEGER PRIMARY KEY);",
        );
        let err = run_at(&InteractionC, &root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("1f/1f5a5212"), "{err}");
    }
}
