//! SMS and MMS messages from the telephony provider's backup files
//! (`apps/com.android.providers.telephony/d_f/*_sms_backup`, then `*_mms_backup`): each is a
//! zlib-compressed JSON list of messages. Links go to `urls.json`; links matching indicators
//! raise CRITICAL alerts.
//!
//! Two MVT quirks are fixed: MMS dates are in seconds (MVT divided them by 1000 like SMS
//! milliseconds, dating MMS in January 1970), and `direction` comes from the message box
//! (`type` for SMS, `msg_box` for MMS) rather than from `date_sent`, which Android sets on
//! *received* messages.

use portcullis_core::{Alert, Level, ModuleOutput, Results, UrlRecord};
use serde_json::{Map, Value};

use super::{BackupError, inflate_capped};
use crate::{Context, Module, ModuleError};

/// Largest inflated SMS/MMS file (a decade of messages is a few hundred MB at most).
const MAX_INFLATED: u64 = 512 << 20;

/// Where the telephony provider's files sit, in a `.ab` tar or an extracted tree (the second
/// form accepts the tree one folder down).
const TELEPHONY: [&str; 2] = [
    "apps/com.android.providers.telephony/d_f/*",
    "*/apps/com.android.providers.telephony/d_f/*",
];

/// Whether a backup member is one of the telephony provider's files this module reads.
pub(crate) fn is_telephony(path: &str) -> bool {
    TELEPHONY.iter().any(|p| crate::glob_match(p, path))
}

/// Dates at or above this are milliseconds, below it seconds (10^11 s is the year 5138;
/// 10^11 ms is March 1973).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// An integer field that Android writes as a string (`"1645543781956"`) or a number.
fn int_field(entry: &Map<String, Value>, key: &str) -> Option<i64> {
    match entry.get(key)? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => None,
    }
}

/// ISO time of a message date given in seconds or milliseconds (told apart by magnitude).
fn message_time(value: i64) -> String {
    let millis = if value.abs() >= MILLIS_THRESHOLD {
        Some(value)
    } else {
        value.checked_mul(1000)
    };
    millis
        .and_then(portcullis_report::time::from_unix_millis)
        .unwrap_or_default()
}

/// "sent"/"received"/"draft" from the message box (the same numbering for SMS `type` and MMS
/// `msg_box`); MVT's `date_sent != 0` rule only when the box is missing or unknown.
fn direction(entry: &Map<String, Value>) -> &'static str {
    let boxed = int_field(entry, "type").or_else(|| int_field(entry, "msg_box"));
    match boxed {
        Some(1) => "received",
        Some(2 | 4 | 5 | 6) => "sent",
        Some(3) => "draft",
        _ if int_field(entry, "date_sent").unwrap_or(0) != 0 => "sent",
        _ => "received",
    }
}

/// Adds MVT's fields (`body` for MMS, `isodate`, `direction`, `links`) to one message.
fn normalise(mut entry: Map<String, Value>) -> Map<String, Value> {
    if let Some(body) = entry.shift_remove("mms_body") {
        entry.insert("body".into(), body);
    }
    let body = entry
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let links: Vec<Value> = portcullis_core::text::find_links(body)
        .into_iter()
        .map(Value::String)
        .collect();
    let (blank, empty) = (body.trim().is_empty(), body.is_empty());
    let isodate = int_field(&entry, "date")
        .map(message_time)
        .unwrap_or_default();
    entry.insert("isodate".into(), isodate.into());
    entry.insert("direction".into(), direction(&entry).into());
    // As MVT: `links` is present when links were found or the body is blank (null when the
    // body is empty or missing).
    if !links.is_empty() || blank {
        let value = if empty {
            Value::Null
        } else {
            Value::Array(links)
        };
        entry.insert("links".into(), value);
    }
    entry
}

/// Parses one `*_sms_backup`/`*_mms_backup` file.
fn parse_file(bytes: &[u8], path: &str) -> Result<Vec<Map<String, Value>>, ModuleError> {
    let parse = |reason: String| ModuleError::Parse {
        path: path.to_string(),
        reason,
    };
    let json = inflate_capped(bytes, MAX_INFLATED, "an SMS/MMS backup file").map_err(|e| {
        parse(match e {
            BackupError::Corrupt(why) => format!("not a zlib-compressed message file ({why})"),
            other => other.to_string(),
        })
    })?;
    let value: Value = serde_json::from_slice(&json)
        .map_err(|e| parse(format!("not a JSON list of messages ({e})")))?;
    let Value::Array(items) = value else {
        return Err(parse("not a JSON list of messages".into()));
    };
    Ok(items
        .into_iter()
        .filter_map(|item| match item {
            Value::Object(entry) => Some(normalise(entry)),
            _ => None,
        })
        .collect())
}

pub struct Sms;

impl Module<Context<'_>> for Sms {
    fn name(&self) -> &'static str {
        "SMS"
    }

    fn slug(&self) -> &'static str {
        "sms"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let telephony = |suffix: &str| -> Vec<String> {
            ctx.files
                .iter()
                .filter(|f| {
                    f.path.ends_with(suffix)
                        && TELEPHONY.iter().any(|p| crate::glob_match(p, &f.path))
                })
                .map(|f| f.path.clone())
                .collect()
        };
        let files: Vec<String> = [telephony("_sms_backup"), telephony("_mms_backup")].concat();
        if files.is_empty() {
            return Err(ModuleError::NotFound(
                "no SMS/MMS backup (apps/com.android.providers.telephony/d_f/*_sms_backup)".into(),
            ));
        }

        let mut out = ModuleOutput::default();
        let mut records = Vec::new();
        let mut first_error = None;
        for path in &files {
            let messages = match ctx
                .evidence
                .read(path)
                .map_err(ModuleError::from)
                .and_then(|bytes| parse_file(&bytes, path))
            {
                Ok(messages) => messages,
                Err(err) => {
                    tracing::warn!("sms: skipping {path}: {err}");
                    first_error.get_or_insert(err);
                    continue;
                }
            };
            for message in messages {
                let isodate = message
                    .get("isodate")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let links: Vec<String> = message
                    .get("links")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str().map(str::to_string))
                    .collect();
                out.urls.extend(links.iter().map(|url| UrlRecord {
                    url: url.clone(),
                    timestamp: isodate.clone(),
                    source: self.slug().into(),
                }));
                let event = Value::Object(message);
                if let Some(hit) = ctx.indicators.check_urls(links.iter().map(String::as_str)) {
                    out.alerts.push(
                        Alert::indicator(
                            Level::Critical,
                            self.slug(),
                            hit,
                            "links",
                            isodate,
                            event.clone(),
                        )
                        .with_source(path.clone()),
                    );
                }
                records.push(event);
            }
        }
        if records.is_empty()
            && let Some(err) = first_error
        {
            return Err(err);
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::{Evidence, FolderEvidence};
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::androidqf::test_support::{fixtures, indicators, run_on, test_stix2};
    use crate::backup::ab::tests::plain_ab;
    use crate::backup::open_backup;
    use crate::backup::tar_evidence::tests::tar_of;
    use crate::backup::tests::zlib;

    const D_F: &str = "apps/com.android.providers.telephony/d_f";

    fn list(v: &Value) -> &Vec<Value> {
        v.as_array().expect("a list")
    }

    #[test]
    fn messages_dates_directions_and_links() {
        let sms = br#"[
            {"address":"1","body":"see HTTPS://evil.example.org/x and http://ok.example.net","date":"1645543781956","date_sent":"0","type":"1"},
            {"address":"2","body":"","date":1645543781000,"date_sent":"1645543781000","type":"2"},
            {"address":"3","body":"  ","date":"bad","type":"3"},
            "not an object",
            {"address":"4","body":null,"date_sent":"5"}
        ]"#;
        let mms = br#"[{"date":"1579531789","date_sent":"1579531786","msg_box":"1","mms_body":"MMS http://x.example.com/p","read":"1"}]"#;
        let tar = tar_of(&[
            (&format!("{D_F}/000001_mms_backup"), &zlib(mms)),
            (&format!("{D_F}/000000_sms_backup"), &zlib(sms)),
            ("apps/other/d_f/000000_sms_backup", &zlib(b"[{}]")),
        ]);
        let ev = open_backup(&plain_ab(5, true, &tar)[..], None).unwrap();
        let ind = indicators(&["[domain-name:value = 'example.org']"]);
        let out = run_on(&Sms, &ev, &ind).unwrap();
        let Results::List(recs) = &out.results else {
            panic!("list expected")
        };
        assert_eq!(recs.len(), 5, "SMS first, then MMS; non-objects skipped");
        assert_eq!(recs[0]["isodate"], "2022-02-22 15:29:41.956000");
        assert_eq!(recs[0]["direction"], "received");
        assert_eq!(
            list(&recs[0]["links"]),
            &["HTTPS://evil.example.org/x", "http://ok.example.net"]
        );
        assert_eq!(recs[1]["direction"], "sent");
        assert_eq!(recs[1]["links"], Value::Null, "empty body: links null");
        assert_eq!(recs[2]["links"], serde_json::json!([]));
        assert_eq!(recs[2]["isodate"], "");
        assert_eq!(recs[2]["direction"], "draft");
        assert!(recs[3].get("links").is_none() || recs[3]["links"].is_null());
        assert_eq!(recs[3]["direction"], "sent", "no box: MVT's date_sent rule");

        let mms = &recs[4];
        assert_eq!(mms["body"], "MMS http://x.example.com/p");
        assert!(mms.get("mms_body").is_none());
        assert_eq!(
            mms["isodate"], "2020-01-20 14:49:49.000000",
            "MMS dates are seconds"
        );
        assert_eq!(mms["direction"], "received");
        let keys: Vec<&String> = mms.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "date",
                "date_sent",
                "msg_box",
                "read",
                "body",
                "isodate",
                "direction",
                "links"
            ]
        );

        assert_eq!(out.urls.len(), 3);
        assert_eq!(out.urls[2].timestamp, "2020-01-20 14:49:49.000000");
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].matched_value.as_deref(),
            Some("HTTPS://evil.example.org/x")
        );
        assert_eq!(
            out.alerts[0].source.as_deref(),
            Some(format!("{D_F}/000000_sms_backup").as_str())
        );
        assert!(out.timeline.is_empty());
    }

    #[test]
    fn damaged_files_are_named_and_others_kept() {
        let good = zlib(br#"[{"body":"hi","date":"1000000000000"}]"#);
        let tar = tar_of(&[
            (&format!("{D_F}/000000_sms_backup"), b"garbage, not zlib"),
            (
                &format!("{D_F}/000001_sms_backup"),
                &zlib(b"{\"not\": \"a list\"}"),
            ),
            (&format!("{D_F}/000002_sms_backup"), &zlib(b"[truncated")),
            (&format!("{D_F}/000003_mms_backup"), &good),
        ]);
        let ev = open_backup(&plain_ab(1, false, &tar)[..], None).unwrap();
        let out = run_on(&Sms, &ev, &Indicators::new()).unwrap();
        assert_eq!(out.results.len(), 1);

        let tar = tar_of(&[(&format!("{D_F}/000000_sms_backup"), b"garbage")]);
        let ev = open_backup(&plain_ab(1, false, &tar)[..], None).unwrap();
        let err = run_on(&Sms, &ev, &Indicators::new()).unwrap_err();
        assert!(err.to_string().contains("000000_sms_backup"), "{err}");
        assert!(err.to_string().contains("zlib"), "{err}");

        let tar = tar_of(&[("apps/x/y", b"1")]);
        let ev = open_backup(&plain_ab(1, false, &tar)[..], None).unwrap();
        assert!(matches!(
            run_on(&Sms, &ev, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }

    #[test]
    fn extracted_tree_one_folder_down() {
        let dir = tempfile::tempdir().unwrap();
        let d_f = dir.path().join("backup/").join(D_F);
        std::fs::create_dir_all(&d_f).unwrap();
        std::fs::write(
            d_f.join("000000_sms_backup"),
            zlib(br#"[{"body":"x https://a.example/","date":"1645543781956","type":"1"}]"#),
        )
        .unwrap();
        let ev = FolderEvidence::new(dir.path());
        let out = run_on(&Sms, &ev, &Indicators::new()).unwrap();
        assert_eq!(out.results.len(), 1);
        assert_eq!(out.urls[0].url, "https://a.example/");
    }

    /// §6/§7.7: the four fixture inputs.
    #[test]
    fn fixture_backups_and_folder() {
        let Some(dir) = fixtures() else { return };
        let ab = |name: &str, pw: Option<&str>| {
            open_backup(&std::fs::read(dir.join(name)).unwrap()[..], pw).unwrap()
        };
        let none = Indicators::new();

        let out = run_on(&Sms, &ab("android_backup/backup.ab", None), &none).unwrap();
        assert_eq!(out.results.len(), 2);
        assert_eq!(out.urls.len(), 2);
        let Results::List(recs) = &out.results else {
            panic!()
        };
        // Module order is SMS files, then MMS files (MVT's parser unit test, in tar order,
        // sees the MMS first).
        assert_eq!(list(&recs[0]["links"]), &["https://google.com/"]);
        assert_eq!(list(&recs[1]["links"]), &["http://google.com"]);
        assert_eq!(out.urls[0].timestamp, "2022-02-22 15:29:41.956000");
        assert_eq!(out.urls[1].timestamp, "2020-01-20 14:49:49.000000");
        assert_eq!(recs[0]["direction"], "sent", "type 6 = queued outgoing");
        assert_eq!(recs[1]["direction"], "received", "msg_box 1 = inbox");

        let out = run_on(
            &Sms,
            &ab("android_backup/backup2.ab", Some("123456")),
            &none,
        )
        .unwrap();
        assert_eq!(out.results.len(), 1);
        assert_eq!(out.urls[0].url, "https://google.com/");

        let out = run_on(&Sms, &ab("android_backup/backup3.ab", None), &none).unwrap();
        assert_eq!(out.results.len(), 1);
        assert_eq!(out.urls[0].url, "https://google.com/");

        let folder = FolderEvidence::new(dir.join("android_backup"));
        let out = run_on(&Sms, &folder, &test_stix2()).unwrap();
        assert_eq!(out.results.len(), 2);
        let Results::List(recs) = &out.results else {
            panic!()
        };
        assert_eq!(list(&recs[0]["links"]), &["https://google.com/"]);
        assert!(out.alerts.is_empty(), "google.com is no indicator");
        assert_eq!(folder.hashes().len(), 2);
    }
}
