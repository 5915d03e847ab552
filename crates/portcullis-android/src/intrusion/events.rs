//! Reading intrusion logs: every `*.txt` of the input (at any depth, and inside nested zips),
//! one JSON object per line, each key an event type whose object value is one event.
//!
//! Unparsable lines are counted and skipped, identical events (the same type and canonical
//! JSON) seen again — overlapping daily exports repeat them — are dropped, and types this tool
//! does not know are reported. Files are read in path order, so runs are reproducible.

use std::collections::{BTreeSet, HashSet};

use jiff::tz::TimeZone;
use portcullis_evidence::{Evidence, ZipEvidence};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::androidqf::wall_clock;
use crate::{Context, ModuleError};

/// The event types the modules read.
const KNOWN_TYPES: [&str; 3] = ["dns_event", "connect_event", "security_event"];

/// Zips inside zips are followed this deep.
const MAX_ZIP_DEPTH: usize = 3;

/// Unparsable lines reported one by one before only the count is given.
const MAX_LINE_WARNINGS: usize = 10;

/// One event, ready for a module: its record (the event plus `timestamp`), the ISO time (empty
/// when the event has none) and the file it came from.
pub(super) struct Event {
    pub record: Map<String, Value>,
    pub timestamp: String,
    pub source: String,
}

/// What reading the files met besides events.
#[derive(Default)]
struct Tally {
    files: usize,
    lines: usize,
    bad_lines: usize,
    duplicates: usize,
    unknown_types: BTreeSet<String>,
}

struct Reader<'a> {
    event_type: &'a str,
    /// Log the problems met (one module does, so they appear once per run).
    report: bool,
    seen: HashSet<[u8; 16]>,
    tally: Tally,
    found: Vec<(Map<String, Value>, String)>,
}

/// Writes `value` as JSON with object keys sorted at every level.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

impl Reader<'_> {
    fn is_txt(path: &str) -> bool {
        path.to_ascii_lowercase().ends_with(".txt")
    }

    fn is_zip(path: &str) -> bool {
        path.to_ascii_lowercase().ends_with(".zip")
    }

    /// Reads every log file of `evidence`; `label` prefixes names inside nested zips.
    fn walk(&mut self, evidence: &dyn Evidence, label: &str, depth: usize) {
        let files = match evidence.list() {
            Ok(files) => files,
            Err(e) => {
                tracing::warn!("intrusion logs: cannot list {label}: {e}");
                return;
            }
        };
        for file in files {
            let name = format!("{label}{}", file.path);
            if Self::is_txt(&file.path) {
                match evidence.read(&file.path) {
                    Ok(bytes) => self.parse_file(&String::from_utf8_lossy(&bytes), &name),
                    Err(e) => tracing::warn!("intrusion logs: skipping {name}: {e}"),
                }
            } else if Self::is_zip(&file.path) && depth < MAX_ZIP_DEPTH {
                let nested = evidence
                    .read(&file.path)
                    .and_then(|bytes| ZipEvidence::from_bytes(&name, bytes));
                match nested {
                    Ok(zip) => self.walk(&zip, &format!("{name}::"), depth + 1),
                    Err(e) => tracing::warn!("intrusion logs: skipping invalid zip {name}: {e}"),
                }
            }
        }
    }

    fn parse_file(&mut self, text: &str, name: &str) {
        self.tally.files += 1;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            self.tally.lines += 1;
            let entry = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(entry)) => entry,
                Ok(_) | Err(_) => {
                    self.tally.bad_lines += 1;
                    if self.report && self.tally.bad_lines <= MAX_LINE_WARNINGS {
                        tracing::warn!("Failed to parse JSON on line {} in {name}", number + 1);
                    }
                    continue;
                }
            };
            for (kind, event) in entry {
                let Value::Object(event) = event else {
                    continue;
                };
                if !KNOWN_TYPES.contains(&kind.as_str()) {
                    self.tally.unknown_types.insert(kind.clone());
                }
                let mut text = kind.clone();
                text.push('\n');
                canonical(&Value::Object(event.clone()), &mut text);
                let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
                let mut key = [0u8; 16];
                key.copy_from_slice(&digest[..16]);
                if !self.seen.insert(key) {
                    self.tally.duplicates += 1;
                    continue;
                }
                if kind == self.event_type {
                    self.found.push((event, name.to_string()));
                }
            }
        }
    }

    fn log_tally(&self) {
        let t = &self.tally;
        if t.bad_lines > 0 {
            tracing::warn!(
                "intrusion logs: {} of {} line(s) could not be parsed and were skipped",
                t.bad_lines,
                t.lines
            );
        }
        if t.duplicates > 0 {
            tracing::info!(
                "Removed {} duplicate event(s) seen across multiple log files",
                t.duplicates
            );
        }
        if !t.unknown_types.is_empty() {
            let names: Vec<&str> = t.unknown_types.iter().map(String::as_str).collect();
            tracing::warn!(
                "Found unknown intrusion logging event type(s): {}",
                names.join(", ")
            );
        }
        tracing::info!(
            "intrusion logs: read {} file(s), {} line(s)",
            t.files,
            t.lines
        );
    }
}

/// The events of `event_type` in the input, de-duplicated, with their records' `timestamp`
/// (from `event_time` in `per_second` units, shown in the context's zone). `report` logs the
/// problems met while reading (unparsable lines, duplicates, unknown types).
pub(super) fn load(
    ctx: &Context<'_>,
    event_type: &str,
    per_second: i64,
    report: bool,
) -> Result<Vec<Event>, ModuleError> {
    if !ctx
        .files
        .iter()
        .any(|f| Reader::is_txt(&f.path) || Reader::is_zip(&f.path))
    {
        return Err(ModuleError::NotFound(
            "no intrusion-log .txt files (or zips of them)".into(),
        ));
    }
    let mut reader = Reader {
        event_type,
        report,
        seen: HashSet::new(),
        tally: Tally::default(),
        found: Vec::new(),
    };
    reader.walk(ctx.evidence, "", 0);
    if report {
        reader.log_tally();
    }
    let zone: Option<TimeZone> = wall_clock::zone(ctx.timezone);
    Ok(reader
        .found
        .into_iter()
        .map(|(mut record, source)| {
            let instant = record
                .get("event_time")
                .filter(|t| super::truthy(t))
                .and_then(|t| wall_clock::from_epoch(t, per_second));
            let timestamp = instant
                .map(|ts| wall_clock::iso(ts, zone.as_ref()))
                .unwrap_or_default();
            let shown = if timestamp.is_empty() {
                Value::Null
            } else {
                Value::String(timestamp.clone())
            };
            record.insert("timestamp".into(), shown);
            Event {
                record,
                timestamp,
                source,
            }
        })
        .collect())
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::Write;

    use portcullis_evidence::FolderEvidence;
    use serde_json::json;

    use super::*;
    use crate::androidqf::test_support::{with_context, with_folder};

    /// MVT's synthetic fixture (mvt-behaviour.md Appendix A).
    const DAY1: &str = r#"{"dns_event": {"event_time": 1700000000000, "hostname": "www.example.org", "package_name": "com.example.app", "ip_addresses": ["/198.51.100.1", "/0.0.0.0"]}}
{"dns_event": {"event_time": 1700000000500, "hostname": "github.com", "package_name": "com.example.app", "ip_addresses": ["/140.82.121.4"]}}
{"connect_event": {"event_time": 1700000001000, "ip_address": "/198.51.100.1", "port": 443, "package_name": "com.example.app"}}
{"connect_event": {"event_time": 1700000001500, "ip_address": "ip6-localhost/::1", "port": 80, "package_name": "com.example.app"}}
{"security_event": {"event_time": 1700000002000000000, "app_process_start": {"process": "com.example.app", "uid": 10000, "pid": 1234}}}
{"security_event": {"event_time": 1700000003000000000, "cert_authority_installed": {"success": true, "subject": "CN=Evil Root CA", "user_id": 0}}}
{"security_event": {"event_time": 1700000004000000000, "crypto_self_test_completed": {"success": false}}}
{"security_event": {"event_time": 1700000005000000000, "adb_sync_send_file": {"path": "/var/foobar/txt"}}}
{"security_event": {"event_time": 1700000006000000000, "future_google_event": {"field": "value"}}}
not json
"#;
    const DAY2: &str = r#"{"dns_event": {"event_time": 1700000000000, "hostname": "www.example.org", "package_name": "com.example.app", "ip_addresses": ["/198.51.100.1", "/0.0.0.0"]}}
{"security_event": {"event_time": 1700000007000000000, "key_integrity_violation": {"key_id": "k1", "uid": 1000}}}
{"future_event": {"event_time": 1700000008000, "x": 1}}
"#;

    /// Calls `f` with Appendix A's folder (`day1.txt`, `sub/day2.txt`).
    pub(in crate::intrusion) fn with_appendix_a<R>(f: impl FnOnce(&FolderEvidence) -> R) -> R {
        with_folder(&[("day1.txt", DAY1), ("sub/day2.txt", DAY2)], |root| {
            f(&FolderEvidence::new(root))
        })
    }

    /// A zip holding `files`, in memory.
    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            out.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(data).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn load_folder(files: &[(&str, &str)], kind: &str, tz: Option<&str>) -> Vec<Event> {
        with_folder(files, |root| {
            with_context(&FolderEvidence::new(root), tz, |ctx| {
                load(ctx, kind, 1000, true)
            })
            .unwrap()
        })
    }

    #[test]
    fn canonical_json_sorts_keys_everywhere() {
        let mut a = String::new();
        canonical(&json!({"b": [{"y": 1, "x": 2}], "a": "s"}), &mut a);
        assert_eq!(a, r#"{"a":"s","b":[{"x":2,"y":1}]}"#);
    }

    #[test]
    fn duplicates_across_files_and_key_order() {
        let day3 = r#"{"dns_event": {"hostname": "www.example.org", "ip_addresses": ["/198.51.100.1", "/0.0.0.0"], "package_name": "com.example.app", "event_time": 1700000000000}}"#;
        let events = load_folder(
            &[
                ("day1.txt", DAY1),
                ("sub/day2.txt", DAY2),
                ("x/DAY3.TXT", day3),
            ],
            "dns_event",
            None,
        );
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].source, "day1.txt");
        assert_eq!(events[0].timestamp, "2023-11-14 22:13:20.000000");
        assert_eq!(events[1].record["timestamp"], "2023-11-14 22:13:20.500000");
    }

    #[test]
    fn zones_missing_times_and_odd_lines() {
        let lines = "{\"dns_event\": {\"hostname\": \"a\"}}\n[1,2]\n\"str\"\n{\"dns_event\": 5}\n\
                     {\"dns_event\": {\"event_time\": 0, \"hostname\": \"b\"}}\n\
                     {\"dns_event\": {\"event_time\": \"soon\", \"hostname\": \"c\"}}\n\
                     {\"dns_event\": {\"event_time\": 1700000000000, \"hostname\": \"d\"}}\n";
        let events = load_folder(
            &[("l.txt", lines), ("notes.md", "x")],
            "dns_event",
            Some("Europe/Paris"),
        );
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].record["timestamp"], Value::Null);
        assert_eq!(events[1].timestamp, "");
        assert_eq!(events[2].timestamp, "");
        assert_eq!(events[3].timestamp, "2023-11-14 23:13:20.000000");
        let events = load_folder(&[("l.txt", lines)], "dns_event", Some("No/Such_Zone"));
        assert_eq!(
            events[3].timestamp, "2023-11-14 22:13:20.000000",
            "unknown zone: UTC"
        );
    }

    #[test]
    fn nested_zips_and_nothing_to_read() {
        let inner = zip_of(&[("deep/day2.txt", DAY2.as_bytes())]);
        let outer = zip_of(&[
            ("day1.txt", DAY1.as_bytes()),
            ("inner.zip", &inner),
            ("bad.zip", b"PK no"),
        ]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("logs.zip"), &outer).unwrap();
        let ev = FolderEvidence::new(dir.path());
        let events = with_context(&ev, None, |ctx| {
            load(ctx, "security_event", 1_000_000_000, false)
        })
        .unwrap();
        assert_eq!(events.len(), 6);
        assert_eq!(events[5].source, "logs.zip::inner.zip::deep/day2.txt");
        assert_eq!(events[0].timestamp, "2023-11-14 22:13:22.000000");

        with_folder(&[("a.json", "{}")], |root| {
            let result = with_context(&FolderEvidence::new(root), None, |ctx| {
                load(ctx, "dns_event", 1000, false)
            });
            assert!(matches!(result, Err(ModuleError::NotFound(_))));
        });
    }
}
