//! `files.json`: AndroidQF's listing of files on the device, with a MAC-times timeline, files
//! under `/data/local/tmp/` (where exploits and spyware droppers stage), and paths or hashes
//! matching indicators.
//!
//! Times are shown on the device's wall clock (its zone from `getprop.txt`), as MVT does; when
//! the zone is known each `*_time` also gets a `*_time_utc` twin. Unlike MVT, the
//! `/data/local/tmp/` check runs without indicators loaded.

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::{Map, Value};

use super::wall_clock::{self, from_epoch};
use super::{heuristic, require};
use crate::{Context, Module, ModuleError};

/// The timeline letters for each time field, in MAC order.
const TIMES: [(&str, char); 3] = [
    ("modified_time", 'M'),
    ("access_time", 'A'),
    ("changed_time", 'C'),
];

const SUSPICIOUS_DIR: &str = "/data/local/tmp/";
/// AndroidQF's own collector, pushed there for the acquisition.
const COLLECTOR: &str = "/data/local/tmp/collector";

/// Parses `files.json`: one JSON array, or (older AndroidQF) one JSON object per line.
fn parse(bytes: &[u8], path: &str) -> Result<Vec<Map<String, Value>>, ModuleError> {
    let objects = |items: Vec<Value>| -> Vec<Map<String, Value>> {
        items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .collect()
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Array(items)) => return Ok(objects(items)),
        Ok(Value::Null) => return Ok(Vec::new()),
        _ => {}
    }
    let text = String::from_utf8_lossy(bytes);
    let mut items = Vec::new();
    let mut bad = 0usize;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => items.push(v),
            Err(_) => bad += 1,
        }
    }
    if items.is_empty() && bad > 0 {
        return Err(ModuleError::Parse {
            path: path.to_string(),
            reason: "neither a JSON list nor JSON lines of files".into(),
        });
    }
    if bad > 0 {
        tracing::warn!("{path}: skipped {bad} line(s) that are not JSON");
    }
    Ok(objects(items))
}

pub struct AqfFiles;

impl AqfFiles {
    fn check(&self, ctx: &Context<'_>, record: &Value, when: &str, source: &str) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let path = record
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let hit = |field: &str, found| {
            Alert::indicator(
                Level::Critical,
                self.slug(),
                found,
                field,
                when,
                record.clone(),
            )
            .with_source(source)
        };
        let path_hit = ctx.indicators.check_file_path(path);
        let path_matched = path_hit.is_some();
        if let Some(found) = path_hit {
            alerts.push(hit("path", found));
        }
        if !path_matched && path.starts_with(SUSPICIOUS_DIR) && path != COLLECTOR {
            let mode = record
                .get("mode")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = if mode.contains('x') {
                "executable "
            } else {
                ""
            };
            alerts.push(
                heuristic(
                    Level::High,
                    self.slug(),
                    format!("Found {kind}file at suspicious path \"{path}\""),
                    when,
                    record,
                    source,
                    "Files in /data/local/tmp are put there from a computer or by an exploit, and \
                     spyware has used this folder. Keep the phone as it is and ask your security \
                     office to examine this file.",
                )
                .with_field("path", path),
            );
        }
        let hash_hit = ["sha256", "sha1", "md5"].into_iter().find_map(|field| {
            let hash = record.get(field)?.as_str().filter(|h| !h.is_empty())?;
            Some((field, ctx.indicators.check_file_hash(hash)?))
        });
        if let Some((field, found)) = hash_hit {
            alerts.push(hit(field, found));
        }
        alerts
    }
}

impl Module<Context<'_>> for AqfFiles {
    fn name(&self) -> &'static str {
        "AQFFiles"
    }

    fn slug(&self) -> &'static str {
        "aqf_files"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let file = require(ctx, "files.json")?;
        let entries = parse(&ctx.evidence.read(&file.path)?, &file.path)?;
        let zone_name = ctx
            .timezone
            .map(str::to_string)
            .or_else(|| super::acquisition_timezone(ctx));
        let zone = wall_clock::zone(zone_name.as_deref());
        if zone.is_none() {
            tracing::warn!("aqf_files: the device's time zone is unknown; times are in UTC");
        }

        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::with_capacity(entries.len());
        for mut entry in entries {
            // (letter, wall-clock time) of each time that could be read.
            let mut times: Vec<(char, String)> = Vec::new();
            for (field, letter) in TIMES {
                let Some(ts) = entry.get(field).and_then(|v| from_epoch(v, 1)) else {
                    continue;
                };
                let local = wall_clock::iso(ts, zone.as_ref());
                entry.insert(field.into(), local.clone().into());
                if zone.is_some() {
                    entry.insert(format!("{field}_utc"), wall_clock::iso(ts, None).into());
                }
                times.push((letter, local));
            }
            let path = entry
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut data = path.to_string();
            if let Some(context) = entry.get("context").and_then(Value::as_str)
                && !context.is_empty()
            {
                data.push_str(&format!(" ({context})"));
            }
            for (_, ts) in &times {
                let mut macb: String = TIMES
                    .iter()
                    .map(|(_, letter)| {
                        let same = times.iter().any(|(l, t)| l == letter && t == ts);
                        if same { *letter } else { '-' }
                    })
                    .collect();
                macb.push('-');
                out.push_timeline(TimelineEvent {
                    timestamp: ts.clone(),
                    plugin: self.name().into(),
                    event: macb,
                    data: data.clone(),
                });
            }
            let when = times
                .iter()
                .find(|(letter, _)| *letter == 'M')
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            let record = Value::Object(entry);
            out.alerts
                .extend(self.check(ctx, &record, &when, &file.path));
            records.push(record);
        }
        out.results = Results::List(records);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::FolderEvidence;
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::androidqf::test_support::{
        fixtures, indicators, records, run_on, run_on_tz, with_folder,
    };

    const FILES: &str = r#"[
        {"path": "/data/local/tmp/evil", "mode": "-rwxr-xr-x", "context": "", "modified_time": 1700000000, "access_time": 1700000000, "changed_time": 1600000000, "sha256": "", "sha1": "DA0611A300A9CE9AA7A09D1A11ADBD2BD8DE6794", "md5": ""},
        {"path": "/data/local/tmp/notes.txt", "mode": "-rw-r--r--", "modified_time": 1700000000.25},
        {"path": "/data/local/tmp/collector", "mode": "-rwxr-xr-x", "modified_time": 1},
        {"path": "/sdcard/x", "context": "u:object_r:sdcardfs:s0", "modified_time": "bad", "access_time": 5}
    ]"#;

    #[test]
    fn times_timeline_and_checks_without_indicators() {
        with_folder(&[("files.json", FILES)], |root| {
            let ev = FolderEvidence::new(root);
            let out = run_on(&AqfFiles, &ev, &Indicators::new()).unwrap();
            let recs = records(&out);
            assert_eq!(recs[0]["modified_time"], "2023-11-14 22:13:20.000000");
            assert!(
                recs[0].get("modified_time_utc").is_none(),
                "no zone: UTC only"
            );
            assert_eq!(recs[1]["modified_time"], "2023-11-14 22:13:20.250000");
            assert_eq!(recs[3]["modified_time"], "bad", "unparsable times are kept");
            let rows: Vec<(&str, &str)> = out
                .timeline
                .iter()
                .map(|t| (t.event.as_str(), t.data.as_str()))
                .collect();
            assert_eq!(
                rows,
                [
                    ("MA--", "/data/local/tmp/evil"),
                    ("--C-", "/data/local/tmp/evil"),
                    ("M---", "/data/local/tmp/notes.txt"),
                    ("M---", "/data/local/tmp/collector"),
                    ("-A--", "/sdcard/x (u:object_r:sdcardfs:s0)"),
                ]
            );
            let messages: Vec<&str> = out.alerts.iter().map(|a| a.message.as_str()).collect();
            assert_eq!(
                messages,
                [
                    "Found executable file at suspicious path \"/data/local/tmp/evil\"",
                    "Found file at suspicious path \"/data/local/tmp/notes.txt\"",
                ]
            );
            assert_eq!(out.alerts[0].level, Level::High);
            assert_eq!(
                out.alerts[0].timestamp.as_deref(),
                Some("2023-11-14 22:13:20.000000")
            );

            let ind = indicators(&[
                "[file:hashes.'SHA-1' = 'da0611a300a9ce9aa7a09d1a11adbd2bd8de6794']",
                "[file:path = '/data/local/tmp/notes.txt']",
            ]);
            let out = run_on(&AqfFiles, &ev, &ind).unwrap();
            let found: Vec<(Level, Option<&str>)> = out
                .alerts
                .iter()
                .map(|a| (a.level, a.matched_field.as_deref()))
                .collect();
            assert_eq!(
                found,
                [
                    (Level::High, Some("path")),
                    (Level::Critical, Some("sha1")),
                    (Level::Critical, Some("path")),
                ]
            );
        });
    }

    #[test]
    fn device_zone_from_getprop_or_context() {
        let files = [
            (
                "acq/files.json",
                r#"[{"path": "/a", "modified_time": 1700000000}]"#,
            ),
            (
                "acq/getprop.txt",
                "[persist.sys.timezone]: [Europe/Paris]\n",
            ),
        ];
        with_folder(&files, |root| {
            let ev = FolderEvidence::new(root);
            let out = run_on(&AqfFiles, &ev, &Indicators::new()).unwrap();
            let rec = &records(&out)[0];
            assert_eq!(rec["modified_time"], "2023-11-14 23:13:20.000000");
            assert_eq!(rec["modified_time_utc"], "2023-11-14 22:13:20.000000");
            assert_eq!(out.timeline[0].timestamp, "2023-11-14 23:13:20.000000");
            let out = run_on_tz(&AqfFiles, &ev, &Indicators::new(), Some("Asia/Tokyo")).unwrap();
            assert_eq!(
                records(&out)[0]["modified_time"],
                "2023-11-15 07:13:20.000000"
            );
        });
    }

    #[test]
    fn json_lines_and_garbage() {
        let lines = "{\"path\": \"/a\", \"modified_time\": 1}\nnot json\n\n{\"path\": \"/b\"}\n";
        with_folder(&[("files.json", lines)], |root| {
            let out = run_on(&AqfFiles, &FolderEvidence::new(root), &Indicators::new()).unwrap();
            assert_eq!(out.results.len(), 2);
        });
        with_folder(&[("files.json", "\u{1}garbage\n[[[")], |root| {
            let err =
                run_on(&AqfFiles, &FolderEvidence::new(root), &Indicators::new()).unwrap_err();
            assert!(err.to_string().contains("files.json"), "{err}");
        });
        with_folder(&[("files.json", "")], |root| {
            let out = run_on(&AqfFiles, &FolderEvidence::new(root), &Indicators::new()).unwrap();
            assert!(out.results.is_empty());
        });
    }

    /// §6/§7.6: 3 files, 6 timeline rows, no alerts (UTC: the fixture has no zone).
    #[test]
    fn fixture_files() {
        let Some(dir) = fixtures() else { return };
        let ev = FolderEvidence::new(dir.join("androidqf"));
        let out = run_on(
            &AqfFiles,
            &ev,
            &crate::androidqf::test_support::test_stix2(),
        )
        .unwrap();
        assert_eq!(out.results.len(), 3);
        assert_eq!(out.timeline.len(), 6);
        assert!(out.alerts.is_empty());
        assert_eq!(
            records(&out)[0]["changed_time"],
            "2019-02-14 14:47:52.000000"
        );
    }
}
