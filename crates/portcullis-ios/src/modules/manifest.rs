//! `Manifest.db`: one record per file the backup lists, with its times, mode and owner, so the
//! whole file system in the backup can be matched against file and domain indicators and put
//! on the timeline.

use portcullis_core::spool::RecordSpool;
use portcullis_core::{Alert, Level, ModuleOutput, TimelineEvent};
use portcullis_indicators::Indicators;
use serde_json::{Map, Value};

use super::common::spool_error;
use crate::backup::{MANIFEST_DB, ManifestEntry};
use crate::values::{json_time, plist_unix_iso};
use crate::{Context, Module, ModuleError};

pub struct Manifest;

impl Module<Context<'_>> for Manifest {
    fn name(&self) -> &'static str {
        "Manifest"
    }

    fn slug(&self) -> &'static str {
        "manifest"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = RecordSpool::new(self.slug(), ctx.spool);
        let mut spooled = Ok(());
        ctx.backup.for_each_file(|entry| {
            let record = record(&entry);
            // Through `push_timeline`, so a large Manifest's rows go to disk rather than memory.
            for event in timeline(&record, self.name()) {
                out.push_timeline(event);
            }
            out.alerts
                .extend(check(&record, ctx.indicators, self.slug()));
            if spooled.is_ok() {
                spooled = records.push(Value::Object(record));
            }
        })?;
        spooled.map_err(|e| spool_error(self.slug(), e))?;
        tracing::info!("{MANIFEST_DB}: {} file metadata items", records.len());
        out.results = records.finish().map_err(|e| spool_error(self.slug(), e))?;
        Ok(out)
    }
}

/// A time in an `MBFile`: Unix seconds on current iOS, a date on older versions.
fn file_time(value: Option<&plist::Value>) -> Value {
    json_time(value.and_then(plist_unix_iso))
}

fn int(value: Option<&plist::Value>) -> Value {
    match value {
        Some(plist::Value::Integer(i)) => i
            .as_signed()
            .map(Value::from)
            .or_else(|| i.as_unsigned().map(Value::from))
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// The mode as Python's `oct()` writes it (`0o100644`), as MVT records it.
fn octal(value: Option<&plist::Value>) -> Value {
    match value.and_then(plist::Value::as_signed_integer) {
        Some(m) if m < 0 => Value::String(format!("-0o{:o}", m.unsigned_abs())),
        Some(m) => Value::String(format!("0o{m:o}")),
        None => Value::Null,
    }
}

fn record(entry: &ManifestEntry) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("file_id".into(), entry.file_id.clone().into());
    r.insert("domain".into(), entry.domain.clone().into());
    r.insert("relative_path".into(), entry.relative_path.clone().into());
    r.insert("flags".into(), entry.flags.into());
    r.insert("created".into(), "".into());
    let Some(blob) = entry.file.as_deref() else {
        return r;
    };
    let meta = match crate::nskeyed::unarchive_bytes(blob) {
        Ok(plist::Value::Dictionary(d)) => d,
        Ok(_) => {
            tracing::warn!(
                "{MANIFEST_DB}: file {} has no MBFile metadata",
                entry.file_id
            );
            return r;
        }
        Err(e) => {
            tracing::warn!(
                "{MANIFEST_DB}: metadata of file {} unreadable: {e}",
                entry.file_id
            );
            return r;
        }
    };
    r.insert(
        "created".into(),
        match file_time(meta.get("Birth")) {
            Value::Null => "".into(),
            t => t,
        },
    );
    r.insert("modified".into(), file_time(meta.get("LastModified")));
    r.insert(
        "status_changed".into(),
        file_time(meta.get("LastStatusChange")),
    );
    r.insert("mode".into(), octal(meta.get("Mode")));
    r.insert("owner".into(), int(meta.get("UserID")));
    r.insert("size".into(), int(meta.get("Size")));
    r
}

/// One row per distinct time, with a MACB string saying which times it is (`M-CB`, `---B`…).
fn timeline(r: &Map<String, Value>, class_name: &str) -> Vec<TimelineEvent> {
    let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
    let (created, modified, changed) = (text("created"), text("modified"), text("status_changed"));
    if modified.is_empty() || changed.is_empty() {
        return Vec::new();
    }
    let mut times: Vec<&str> = Vec::with_capacity(3);
    for t in [created, modified, changed] {
        if !t.is_empty() && !times.contains(&t) {
            times.push(t);
        }
    }
    let data = format!("{} - {}", text("relative_path"), text("domain"));
    times
        .into_iter()
        .map(|t| {
            let flag = |same: bool, c: char| if same { c } else { '-' };
            let macb: String = [
                flag(t == modified, 'M'),
                '-',
                flag(t == changed, 'C'),
                flag(t == created, 'B'),
            ]
            .iter()
            .collect();
            TimelineEvent {
                timestamp: t.to_string(),
                plugin: class_name.to_string(),
                event: macb,
                data: data.clone(),
            }
        })
        .collect()
}

/// Whether a `_`-separated piece of a file name could name a host, as in WebKit's
/// `https_www.example.org_0.localstorage`: its host part has a dot and ends in an alphabetic
/// top-level label, or is an IPv4 address. Saves lookups on the thousands of plain paths.
fn looks_like_host(part: &str) -> bool {
    let rest = part.split_once("://").map_or(part, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    match host.rsplit_once('.') {
        Some((name, tld)) => {
            !name.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

fn check(r: &Map<String, Value>, indicators: &Indicators, slug: &str) -> Option<Alert> {
    let rel = r.get("relative_path").and_then(Value::as_str).unwrap_or("");
    if rel.is_empty() {
        return None;
    }
    let when = r
        .get("modified")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let event = || Value::Object(r.clone());
    if let Some(hit) = indicators.check_file_path(&format!("/{rel}")) {
        return Some(
            Alert::indicator(Level::High, slug, hit, "relative_path", when, event())
                .with_source(MANIFEST_DB),
        );
    }
    let lower = rel.to_lowercase();
    let hit = lower
        .split('_')
        .filter(|p| looks_like_host(p))
        .find_map(|p| indicators.check_url(p))?;
    let message = format!(
        "Found mention of domain \"{}\" in a backup file with path: {lower}",
        hit.value
    );
    Some(
        Alert::indicator(Level::High, slug, hit, "relative_path", when, event())
            .with_message(message)
            .with_source(MANIFEST_DB),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{built, fixture, indicators, list, run_at};

    #[test]
    fn records_times_and_matches_paths_and_domains() {
        let (_dir, root) = built(|b| {
            Ok(b.file_time(1_600_000_000)
                .file("HomeDomain", "Library/Preferences/com.apple.x.plist", b"x")?
                .manifest_only("HomeDomain", "Library/Preferences", 2)
                .manifest_only(
                    "AppDomain-com.apple.mobilesafari",
                    "Library/WebKit/WebsiteData/LocalStorage/https_www.Evil.example.com_0.localstorage",
                    1,
                )
                .manifest_only("HomeDomain", "private/var/tmp/implant", 1))
        });
        let ind = indicators(&[
            "[domain-name:value = 'evil.example.com']",
            "[file:path = '/private/var/tmp/']",
        ]);
        let out = run_at(&Manifest, &root, &ind).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 4);
        let file = &results[0];
        assert_eq!(
            file["relative_path"],
            "Library/Preferences/com.apple.x.plist"
        );
        assert_eq!(file["created"], "2020-09-13 12:26:40.000000");
        assert_eq!(file["modified"], "2020-09-13 12:26:40.000000");
        assert_eq!(file["mode"], "0o100644");
        assert_eq!(file["owner"], 501);
        assert_eq!(file["size"], 1);
        assert_eq!(results[1]["mode"], "0o40755");
        // All three times equal: one row each.
        assert_eq!(out.timeline.len(), 4);
        assert_eq!(out.timeline[0].event, "M-CB");
        assert_eq!(
            out.timeline[0].data,
            "Library/Preferences/com.apple.x.plist - HomeDomain"
        );
        assert_eq!(out.alerts.len(), 2);
        assert!(out.alerts.iter().all(|a| a.level == Level::High));
        assert_eq!(
            out.alerts[0].message,
            "Found mention of domain \"evil.example.com\" in a backup file with path: \
             library/webkit/websitedata/localstorage/https_www.evil.example.com_0.localstorage"
        );
        assert_eq!(
            out.alerts[1].event["relative_path"],
            "private/var/tmp/implant"
        );
        assert_eq!(out.alerts[1].source.as_deref(), Some(MANIFEST_DB));
    }

    #[test]
    fn macb_marks_each_distinct_time() {
        let mut r = Map::new();
        r.insert("relative_path".into(), "a".into());
        r.insert("domain".into(), "D".into());
        r.insert("created".into(), "2020-01-01 00:00:00.000000".into());
        r.insert("modified".into(), "2021-01-01 00:00:00.000000".into());
        r.insert("status_changed".into(), "2021-01-01 00:00:00.000000".into());
        let rows = timeline(&r, "Manifest");
        let events: Vec<&str> = rows.iter().map(|t| t.event.as_str()).collect();
        assert_eq!(events, ["---B", "M-C-"]);
        r.remove("modified");
        assert!(timeline(&r, "Manifest").is_empty());
        assert!(looks_like_host("www.example.org"));
        assert!(looks_like_host("198.51.100.1"));
        assert!(!looks_like_host("library/preferences/com.apple.x.plist"));
        assert!(!looks_like_host("18c66.tar.g2"));
    }

    #[test]
    fn fixture_matches_mvt() {
        let Some(root) = fixture() else { return };
        let out = run_at(&Manifest, &root, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 3721);
        assert_eq!(out.timeline.len(), 5881);
        assert!(out.alerts.is_empty());
        let r = &results[0];
        assert_eq!(
            r["domain"],
            "AppDomainPlugin-com.apple.mobilemail.MailQuickLookExtension"
        );
        assert_eq!(r["mode"], "0o40755");
        assert_eq!(r["modified"], "2021-01-15 01:37:49.000000");

        let out = run_at(
            &Manifest,
            &root,
            &indicators(&["[file:name = 'com.apple.CoreBrightness.plist']"]),
        )
        .unwrap();
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(
            out.alerts[0].event["relative_path"],
            "Library/Preferences/com.apple.CoreBrightness.plist"
        );
        let out = run_at(
            &Manifest,
            &root,
            &indicators(&["[domain-name:value = 'example.org']"]),
        )
        .unwrap();
        assert!(out.alerts.is_empty());
    }

    #[test]
    fn unreadable_manifest_is_an_error_naming_it() {
        let (_dir, root) = built(|b| Ok(b.manifest_only("HomeDomain", "Library", 2)));
        let conn = rusqlite::Connection::open(root.join(MANIFEST_DB)).unwrap();
        conn.execute_batch("DROP TABLE Files;").unwrap();
        drop(conn);
        let err = run_at(&Manifest, &root, &Indicators::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(MANIFEST_DB), "{err}");

        // A damaged metadata blob loses that file's times, not the run.
        let conn = rusqlite::Connection::open(root.join(MANIFEST_DB)).unwrap();
        conn.execute_batch(
            "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, \
             flags INTEGER, file BLOB); INSERT INTO Files VALUES ('ab', 'HomeDomain', 'x', 1, x'00ff');",
        )
        .unwrap();
        drop(conn);
        let out = run_at(&Manifest, &root, &Indicators::new()).unwrap();
        assert_eq!(out.results.len(), 1);
        assert!(out.timeline.is_empty());

        std::fs::write(root.join(MANIFEST_DB), [0x42u8; 4096]).unwrap();
        let err = run_at(&Manifest, &root, &Indicators::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(MANIFEST_DB), "{err}");
    }
}
