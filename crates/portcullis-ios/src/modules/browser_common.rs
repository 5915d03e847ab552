//! Helpers shared by the browser, WebKit and messaging modules: finding their databases in the
//! backup, converting their timestamps and turning URL indicator hits into
//! alerts, so each module only describes its own artifact.

use portcullis_indicators::Indicators;
use portcullis_report::time::{from_mac_absolute, from_mac_absolute_int, from_unix};
use portcullis_report::{Alert, Level, ModuleOutput, TimelineEvent};
use rusqlite::Connection;
use serde_json::Value;

use crate::backup::{ManifestEntry, stored_path};
use crate::{Backup, ModuleError};

/// Opens the first of `ids` stored in the backup (MVT's fixed-id lookup). Returns the connection
/// and the stored path, which records and alerts use to name the file.
pub(crate) fn open_fixed(
    backup: &Backup,
    ids: &[&str],
    what: &str,
) -> Result<(Connection, String), ModuleError> {
    let id = backup
        .first_stored(ids)
        .ok_or_else(|| ModuleError::NotFound(what.to_string()))?;
    let conn = backup.open_sqlite(&id)?;
    Ok((conn, stored_path(&id)))
}

/// Every file stored in the backup whose Manifest.db relativePath matches one of `patterns`
/// (`*` wildcard, any domain), each once, in Manifest.db order. Rows listed in Manifest.db whose
/// file was not copied into the backup are skipped, as MVT does; none at all is `NotFound`.
pub(crate) fn stored_matches(
    backup: &Backup,
    patterns: &[&str],
) -> Result<Vec<ManifestEntry>, ModuleError> {
    let mut found: Vec<ManifestEntry> = Vec::new();
    let mut listed = false;
    for pattern in patterns {
        for entry in backup.find_by_relative_path(pattern)? {
            listed = true;
            if backup.has_file(&entry.file_id) && !found.iter().any(|f| f.file_id == entry.file_id)
            {
                found.push(entry);
            }
        }
    }
    if found.is_empty() {
        let names = patterns.join(", ");
        return Err(ModuleError::NotFound(if listed {
            format!("{names}: listed in Manifest.db but not stored in the backup")
        } else {
            names
        }));
    }
    Ok(found)
}

/// Whether a SQLite value means "no time": null, zero, or not a number.
fn no_time(value: &Value) -> Option<f64> {
    value.as_f64().filter(|f| *f != 0.0 && f.is_finite())
}

/// Mac absolute time (seconds since 2001) as ISO time; `None` for null or zero, which the phone
/// writes for "never".
pub(crate) fn mac_iso(value: &Value) -> Option<String> {
    let secs = no_time(value)?;
    match value.as_i64() {
        Some(i) => from_mac_absolute_int(i),
        None => from_mac_absolute(secs),
    }
}

/// Unix time (seconds) as ISO time; `None` for null or zero.
pub(crate) fn unix_iso(value: &Value) -> Option<String> {
    no_time(value).and_then(from_unix)
}

/// An optional ISO time as a JSON value (null when absent).
pub(crate) fn json_time(time: Option<String>) -> Value {
    time.map_or(Value::Null, Value::String)
}

/// A record value as text the way MVT's messages print it (`None` for null, `True`/`False`).
pub(crate) fn py_str(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "True".to_string(),
        Some(Value::Bool(false)) => "False".to_string(),
        Some(other) => other.to_string(),
    }
}

/// The first of `urls` (record field, URL) that matches an indicator, as a CRITICAL alert on
/// `event` naming `source`. Empty URLs are skipped.
pub(crate) fn url_alert<'a>(
    indicators: &Indicators,
    slug: &str,
    urls: impl IntoIterator<Item = (&'a str, &'a str)>,
    timestamp: &str,
    event: &Value,
    source: &str,
) -> Option<Alert> {
    urls.into_iter()
        .filter(|(_, url)| !url.is_empty())
        .find_map(|(field, url)| indicators.check_url(url).map(|hit| (field, hit)))
        .map(|(field, hit)| {
            Alert::indicator(Level::Critical, slug, hit, field, timestamp, event.clone())
                .with_source(source)
        })
}

/// Adds a timeline row when the event has a time (rows without one cannot be placed).
pub(crate) fn push_event(
    out: &mut ModuleOutput,
    module: &str,
    timestamp: Option<&str>,
    event: &str,
    data: String,
) {
    if let Some(ts) = timestamp.filter(|t| !t.is_empty()) {
        out.push_timeline(TimelineEvent {
            timestamp: ts.to_string(),
            module: module.to_string(),
            event: event.to_string(),
            data,
        });
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Fixture and indicator helpers for the module tests.

    use std::path::{Path, PathBuf};

    use portcullis_indicators::{Indicators, test_bundle_json};

    /// MVT's test backup, when the shared fixtures are present.
    pub(crate) fn fixture() -> Option<PathBuf> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/mvt/ios_backup");
        if path.is_dir() {
            Some(path)
        } else {
            println!("skipped: ../shared fixtures not present");
            None
        }
    }

    /// Indicators made of `patterns` in a "TestMalware" collection.
    pub(crate) fn indicators(patterns: &[&str]) -> Indicators {
        let mut ind = Indicators::new();
        ind.load_bundle(
            test_bundle_json("TestMalware", patterns).as_bytes(),
            Path::new("test.stix2"),
        )
        .expect("test bundle loads");
        ind
    }

    /// MVT's `test.stix2`.
    pub(crate) fn test_stix2() -> Indicators {
        indicators(&[
            "[domain-name:value = 'example.org']",
            "[ipv4-addr:value = '198.51.100.1']",
            "[process:name = 'Launch']",
            "[file:name = '/var/foobar/txt']",
            "[email-addr:value = 'foobar@example.org']",
            "[android-property:name = 'sys.foobar']",
            "[file:hashes.'SHA-256' = '570cd76bf49cf52e0cb347a68bdcf0590b2eaece134e1b1eba7e8d66261bdbe6']",
            "[file:hashes.'SHA-1' = 'da0611a300a9ce9aa7a09d1a11adbd2bd8de6794']",
            "[url:value = 'http://example.com/thisisbad']",
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_treat_zero_as_never() {
        assert_eq!(mac_iso(&json!(0)), None);
        assert_eq!(mac_iso(&Value::Null), None);
        assert_eq!(
            mac_iso(&json!(778100000.0)).as_deref(),
            Some("2025-08-28 18:53:20.000000")
        );
        assert_eq!(
            mac_iso(&json!(778100000)).as_deref(),
            Some("2025-08-28 18:53:20.000000")
        );
        assert_eq!(
            unix_iso(&json!(1634560250.0)).as_deref(),
            Some("2021-10-18 12:30:50.000000")
        );
        assert_eq!(unix_iso(&json!("x")), None);
    }

    #[test]
    fn python_style_text() {
        assert_eq!(py_str(None), "None");
        assert_eq!(py_str(Some(&json!(3))), "3");
        assert_eq!(py_str(Some(&json!("a"))), "a");
        assert_eq!(py_str(Some(&json!(true))), "True");
    }
}
