//! `DataUsage.sqlite`: per-process network usage. Its `ZPROCESS` table keeps a row for every
//! process that ever used the network, so a row that was deleted (or a usage row pointing at a
//! deleted process) hints at someone hiding a process. The parsing and heuristics live in
//! [`net_base`] so `netusage.sqlite` (same schema) can reuse them.

use std::collections::{BTreeMap, HashSet};

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use portcullis_indicators::Indicators;
use rusqlite::Connection;
use serde_json::{Map, Value};

use super::common::{critical_indicator_alert, open_fixed};
use crate::values::{Record, mac_time, py_str, query_records, table_columns};
use crate::{Context, Module, ModuleError};

/// WirelessDomain-Library/Databases/DataUsage.sqlite
const BACKUP_IDS: &[&str] = &["0d609c54856a9bb2d56729df1d68f2958a88426b"];

const MANIPULATED: &str = "MANIPULATED [process record deleted]";

/// Largest run of consecutive missing process ids reported one by one (MVT's behaviour); a longer
/// run (a hostile or very damaged database) gets one alert and one placeholder, so memory and
/// output stay bounded.
const MAX_GAP_LISTED: i64 = 1000;

pub struct Datausage;

impl Module<Context<'_>> for Datausage {
    fn name(&self) -> &'static str {
        "Datausage"
    }

    fn slug(&self) -> &'static str {
        "datausage"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, path) = open_fixed(ctx.backup, BACKUP_IDS, "DataUsage.sqlite")?;
        net_base(&conn, &path, self.name(), self.slug(), ctx.indicators)
    }
}

/// One usage row (a `ZLIVEUSAGE` row with its process, or a process that has no usage row).
#[derive(Clone)]
struct Usage {
    first_isodate: Value,
    isodate: Value,
    proc_name: Value,
    bundle_id: Value,
    proc_id: Option<i64>,
    wifi_in: Value,
    wifi_out: Value,
    wwan_in: Value,
    wwan_out: Value,
    live_id: Value,
    live_proc_id: Option<i64>,
    live_isodate: Value,
    /// A stand-in for a process id missing from `ZPROCESS`, not a row of the database.
    placeholder: bool,
}

impl Usage {
    fn to_json(&self) -> Value {
        let id = |v: Option<i64>| v.map_or(Value::Null, Value::from);
        let mut m = Map::new();
        m.insert("first_isodate".into(), self.first_isodate.clone());
        m.insert("isodate".into(), self.isodate.clone());
        m.insert("proc_name".into(), self.proc_name.clone());
        m.insert("bundle_id".into(), self.bundle_id.clone());
        m.insert("proc_id".into(), id(self.proc_id));
        m.insert("wifi_in".into(), self.wifi_in.clone());
        m.insert("wifi_out".into(), self.wifi_out.clone());
        m.insert("wwan_in".into(), self.wwan_in.clone());
        m.insert("wwan_out".into(), self.wwan_out.clone());
        m.insert("live_id".into(), self.live_id.clone());
        m.insert("live_proc_id".into(), id(self.live_proc_id));
        m.insert("live_isodate".into(), self.live_isodate.clone());
        Value::Object(m)
    }

    fn name(&self) -> String {
        py_str(Some(&self.proc_name))
    }

    /// `first_isodate` as a sort key (absent sorts first, as MVT's empty value does).
    fn first_key(&self) -> &str {
        self.first_isodate.as_str().unwrap_or("")
    }

    fn time(v: &Value) -> String {
        v.as_str().unwrap_or("").to_string()
    }

    fn from_row(row: &Record) -> Usage {
        let iso = |key: &str| {
            let t = mac_time(row, key);
            if t.is_empty() {
                Value::Null
            } else {
                Value::String(t)
            }
        };
        let int = |key: &str| row.get(key).and_then(Value::as_i64);
        let raw = |key: &str| row.get(key).cloned().unwrap_or(Value::Null);
        let first_isodate = iso("first_ts");
        let live = iso("live_ts");
        Usage {
            live_isodate: if live.is_null() {
                first_isodate.clone()
            } else {
                live
            },
            first_isodate,
            isodate: iso("ts"),
            proc_name: raw("proc_name"),
            bundle_id: raw("bundle_id"),
            proc_id: int("proc_id"),
            wifi_in: raw("wifi_in"),
            wifi_out: raw("wifi_out"),
            wwan_in: raw("wwan_in"),
            wwan_out: raw("wwan_out"),
            live_id: raw("live_id"),
            live_proc_id: int("live_proc_id"),
            placeholder: false,
        }
    }
}

/// Parses a NetBase database (`DataUsage.sqlite`, `netusage.sqlite`) on `conn`, flags deleted
/// and missing process rows, and matches process names. `path` names the database in errors and
/// alerts; `class_name` and `slug` are the calling module's.
pub(crate) fn net_base(
    conn: &Connection,
    path: &str,
    class_name: &str,
    slug: &str,
    indicators: &Indicators,
) -> Result<ModuleOutput, ModuleError> {
    let mut usages: Vec<Usage> = query_records(conn, path, &usage_query(conn))?
        .iter()
        .map(Usage::from_row)
        .collect();
    tracing::info!("{path}: information on {} processes", usages.len());

    let mut out = ModuleOutput::default();
    flag_manipulated(&mut usages, path, slug, &mut out.alerts);
    flag_missing(&mut usages, path, slug, &mut out.alerts);
    // Stable: a placeholder stays right after the process it follows.
    usages.sort_by(|a, b| a.first_key().cmp(b.first_key()));

    for usage in usages
        .iter()
        .filter(|u| u.proc_id.is_some() && !u.placeholder)
    {
        let name = usage.name();
        if let Some(hit) = indicators.check_process(&name) {
            out.alerts.push(critical_indicator_alert(
                slug,
                hit,
                "proc_name",
                Usage::time(&usage.first_isodate),
                usage.to_json(),
                path,
            ));
        }
    }

    out.timeline = timeline(&usages, class_name);
    out.results = Results::List(usages.iter().map(Usage::to_json).collect());
    Ok(out)
}

/// Usage rows joined to their process, plus processes that have no usage row. Newer phones lack
/// the Wi-Fi columns; they read as null. Unlike MVT's query, a usage row with a null process
/// reference does not make `NOT IN` drop every orphan process.
fn usage_query(conn: &Connection) -> String {
    let live_cols = table_columns(conn, "ZLIVEUSAGE");
    let col = |name: &str| {
        if live_cols.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            format!("ZLIVEUSAGE.{name}")
        } else {
            "NULL".to_string()
        }
    };
    format!(
        "SELECT ZPROCESS.ZFIRSTTIMESTAMP AS first_ts, ZPROCESS.ZTIMESTAMP AS ts, \
         ZPROCESS.ZPROCNAME AS proc_name, ZPROCESS.ZBUNDLENAME AS bundle_id, \
         ZPROCESS.Z_PK AS proc_id, {} AS wifi_in, {} AS wifi_out, \
         ZLIVEUSAGE.ZWWANIN AS wwan_in, ZLIVEUSAGE.ZWWANOUT AS wwan_out, \
         ZLIVEUSAGE.Z_PK AS live_id, ZLIVEUSAGE.ZHASPROCESS AS live_proc_id, \
         ZLIVEUSAGE.ZTIMESTAMP AS live_ts \
         FROM ZLIVEUSAGE LEFT JOIN ZPROCESS ON ZLIVEUSAGE.ZHASPROCESS = ZPROCESS.Z_PK \
         UNION \
         SELECT ZFIRSTTIMESTAMP, ZTIMESTAMP, ZPROCNAME, ZBUNDLENAME, Z_PK, \
         NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM ZPROCESS \
         WHERE Z_PK NOT IN (SELECT ZHASPROCESS FROM ZLIVEUSAGE WHERE ZHASPROCESS IS NOT NULL)",
        col("ZWIFIIN"),
        col("ZWIFIOUT"),
    )
}

/// Usage rows whose process row is gone: the process entry was deleted after it used the network.
fn flag_manipulated(usages: &mut [Usage], path: &str, slug: &str, alerts: &mut Vec<Alert>) {
    let advice = "Network-usage records point at a process whose entry was deleted from the \
                  database, which can mean someone tried to hide what ran on the phone. Keep the \
                  phone and this backup as they are and ask your security office to review it.";
    let mut order: Vec<usize> = (0..usages.len())
        .filter(|&i| usages[i].proc_id.is_none())
        .collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| usages[i].live_isodate.as_str().unwrap_or("");
        key(a).cmp(key(b))
    });
    let mut seen = HashSet::new();
    for i in order {
        let usage = &mut usages[i];
        let live_proc = usage
            .live_proc_id
            .map_or("None".to_string(), |p| p.to_string());
        let live_time = Usage::time(&usage.live_isodate);
        usage.first_isodate = usage.live_isodate.clone();
        usage.isodate = usage.live_isodate.clone();
        usage.proc_name = Value::String(MANIPULATED.to_string());
        let event = usage.to_json();
        if seen.insert(usage.live_proc_id) {
            alerts.push(
                Alert::heuristic(
                    Level::High,
                    slug,
                    format!("Found manipulated process entry {live_proc}. Entry on {live_time}"),
                    live_time.clone(),
                    event.clone(),
                )
                .with_advice(advice)
                .with_field("live_proc_id", live_proc.clone())
                .with_source(path),
            );
        }
        alerts.push(
            Alert::heuristic(
                Level::High,
                slug,
                format!("Found manipulated process entry {live_proc}/"),
                live_time,
                event,
            )
            .with_advice(advice)
            .with_field("live_proc_id", live_proc)
            .with_source(path),
        );
    }
}

/// Gaps in the process ids: each id between the smallest and largest one that has no row was a
/// process whose record was removed. Adds a placeholder record for each.
fn flag_missing(usages: &mut Vec<Usage>, path: &str, slug: &str, alerts: &mut Vec<Alert>) {
    let advice = "A process entry is missing from the network-usage database. This often happens \
                  when apps are removed and is rarely a concern on its own; an analyst can weigh \
                  it against the other findings.";
    // Last row of each process id, as MVT indexes them.
    let by_id: BTreeMap<i64, usize> = usages
        .iter()
        .enumerate()
        .filter_map(|(i, u)| u.proc_id.map(|id| (id, i)))
        .collect();
    let ids: Vec<i64> = by_id.keys().copied().collect();
    let mut placeholders = Vec::new();
    for pair in ids.windows(2) {
        let (prev_id, next_id) = (pair[0], pair[1]);
        let gap = next_id - prev_id - 1;
        if gap <= 0 {
            continue;
        }
        let prev = &usages[by_id[&prev_id]];
        let prev_first = Usage::time(&prev.first_isodate);
        let prev_name = prev.name();
        let event = prev.to_json();
        let missing: Vec<(i64, String)> = if gap <= MAX_GAP_LISTED {
            (prev_id + 1..next_id)
                .map(|id| (id, format!("Missing process {id}.")))
                .collect()
        } else {
            vec![(
                prev_id + 1,
                format!(
                    "Missing processes {} to {} ({gap} ids).",
                    prev_id + 1,
                    next_id - 1
                ),
            )]
        };
        for (id, what) in missing {
            alerts.push(
                Alert::heuristic(
                    Level::Low,
                    slug,
                    format!("{what} Previous process at \"{prev_first}\" ({prev_name})"),
                    prev_first.clone(),
                    event.clone(),
                )
                .with_advice(advice)
                .with_field("proc_id", id.to_string())
                .with_source(path),
            );
            placeholders.push(Usage {
                first_isodate: prev.first_isodate.clone(),
                isodate: prev.first_isodate.clone(),
                proc_name: Value::String(format!("MISSING [follows {prev_name}]")),
                bundle_id: Value::Null,
                proc_id: Some(id),
                wifi_in: Value::Null,
                wifi_out: Value::Null,
                wwan_in: Value::Null,
                wwan_out: Value::Null,
                live_id: Value::Null,
                live_proc_id: Some(id),
                live_isodate: prev.first_isodate.clone(),
                placeholder: true,
            });
        }
    }
    usages.extend(placeholders);
}

/// `live_usage` for every row; `first_usage` and `current_usage` for rows of a real process.
fn timeline(usages: &[Usage], class_name: &str) -> Vec<TimelineEvent> {
    let mut seen = HashSet::new();
    let mut events = Vec::new();
    let mut push = |timestamp: &Value, event: &str, data: String| {
        let e = TimelineEvent {
            timestamp: Usage::time(timestamp),
            plugin: class_name.to_string(),
            event: event.to_string(),
            data,
        };
        if seen.insert((e.timestamp.clone(), e.event.clone(), e.data.clone())) {
            events.push(e);
        }
    };
    for u in usages {
        let data = format!(
            "{} (Bundle ID: {}, ID: {})",
            u.name(),
            py_str(Some(&u.bundle_id)),
            u.proc_id.map_or("None".to_string(), |p| p.to_string())
        );
        push(
            &u.live_isodate,
            "live_usage",
            format!(
                "{data} WWAN IN: {}, WWAN OUT: {}",
                py_str(Some(&u.wwan_in)),
                py_str(Some(&u.wwan_out))
            ),
        );
        let name = u.name();
        if u.live_proc_id.is_some() && !name.contains("MANIPULATED") && !name.contains("MISSING") {
            push(&u.first_isodate, "first_usage", data.clone());
            push(&u.isodate, "current_usage", data);
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{
        built, fixture, indicators, list, run_at, with_file, with_sqlite,
    };

    const DOMAIN: &str = "WirelessDomain";
    const REL: &str = "Library/Databases/DataUsage.sqlite";

    fn with_process(name: &str) -> Indicators {
        indicators(&[&format!("[process:name = '{name}']")])
    }

    const SCHEMA: &str = "CREATE TABLE ZPROCESS (Z_PK INTEGER PRIMARY KEY, Z_ENT INTEGER, \
        Z_OPT INTEGER, ZFIRSTTIMESTAMP TIMESTAMP, ZTIMESTAMP TIMESTAMP, ZBUNDLENAME VARCHAR, \
        ZPROCNAME VARCHAR);";

    #[test]
    fn parses_flags_and_matches_a_built_backup() {
        // No Wi-Fi columns (newer phones); process 3 missing; usage row 3 points at deleted
        // process 9; a usage row without a process must not hide orphan processes.
        let sql = format!(
            "{SCHEMA} CREATE TABLE ZLIVEUSAGE (Z_PK INTEGER PRIMARY KEY, ZHASPROCESS INTEGER, \
             ZTIMESTAMP TIMESTAMP, ZWWANIN FLOAT, ZWWANOUT FLOAT); \
             INSERT INTO ZPROCESS VALUES (1, 1, 1, 600000000.5, 600000100.5, 'com.apple.Maps', 'Maps/com.apple.Maps'); \
             INSERT INTO ZPROCESS VALUES (2, 1, 1, 600000200.0, 600000300.0, NULL, 'bh'); \
             INSERT INTO ZPROCESS VALUES (4, 1, 1, 600000400.0, 600000400.0, 'com.apple.news', 'News/com.apple.news'); \
             INSERT INTO ZLIVEUSAGE VALUES (1, 2, 600000250.0, 10.0, 20.0); \
             INSERT INTO ZLIVEUSAGE VALUES (2, 2, 600000260.0, 1.0, 2.0); \
             INSERT INTO ZLIVEUSAGE VALUES (3, 9, 600000500.0, 5.0, 6.0); \
             INSERT INTO ZLIVEUSAGE VALUES (4, NULL, 600000600.0, 7.0, 8.0);"
        );
        let (_dir, root) = with_sqlite(DOMAIN, REL, &sql);
        let out = run_at(&Datausage, &root, &with_process("bh")).unwrap();
        let results = list(&out);
        // 4 usage rows + orphans 1 and 4 + placeholder for 3.
        assert_eq!(results.len(), 7);
        let names: Vec<&str> = results
            .iter()
            .map(|r| r["proc_name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(names[0], "Maps/com.apple.Maps");
        assert_eq!(results[0]["first_isodate"], "2020-01-06 10:40:00.500000");
        assert!(results[0]["wifi_in"].is_null());
        assert!(names.contains(&"MISSING [follows bh]"));
        assert_eq!(names.iter().filter(|n| **n == MANIPULATED).count(), 2);
        let manipulated = results.iter().find(|r| r["live_proc_id"] == 9).unwrap();
        assert_eq!(manipulated["first_isodate"], "2020-01-06 10:48:20.000000");

        let messages: Vec<(Level, &str)> = out
            .alerts
            .iter()
            .map(|a| (a.level, a.message.as_str()))
            .collect();
        assert!(messages.contains(&(
            Level::High,
            "Found manipulated process entry 9. Entry on 2020-01-06 10:48:20.000000"
        )));
        assert!(messages.contains(&(Level::High, "Found manipulated process entry 9/")));
        assert!(messages.contains(&(Level::High, "Found manipulated process entry None/")));
        assert!(messages.contains(&(
            Level::Low,
            "Missing process 3. Previous process at \"2020-01-06 10:43:20.000000\" (bh)"
        )));
        let hits: Vec<&Alert> = out
            .alerts
            .iter()
            .filter(|a| a.level == Level::Critical)
            .collect();
        assert_eq!(hits.len(), 2, "one per usage row of process bh");
        assert_eq!(hits[0].matched_field.as_deref(), Some("proc_name"));
        assert_eq!(
            hits[0].source.as_deref(),
            Some(crate::backup::stored_path(&crate::backup::file_id(DOMAIN, REL)).as_str())
        );

        assert!(out.timeline.iter().any(|t| t.event == "live_usage"
            && t.data == "bh (Bundle ID: None, ID: 2) WWAN IN: 10.0, WWAN OUT: 20.0"
            && t.timestamp == "2020-01-06 10:44:10.000000"));
        // Process 2 has two usage rows but one first/current usage each.
        assert_eq!(
            out.timeline
                .iter()
                .filter(|t| t.event == "first_usage")
                .count(),
            1
        );
        assert!(out.timeline.iter().all(|t| t.plugin == "Datausage"));
    }

    #[test]
    fn fixture_matches_mvt() {
        let Some(root) = fixture() else { return };
        let out = run_at(&Datausage, &root, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 42);
        assert_eq!(results[0]["first_isodate"], "2019-08-27 15:08:09.240410");
        assert_eq!(
            results[0]["proc_name"],
            "1FB47783-A2FE-47D9-B256-DF50EF44BBA4/com.apple.iBooks"
        );
        assert_eq!(out.timeline.len(), 60);
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Low);
        assert_eq!(
            out.alerts[0].message,
            "Missing process 5. Previous process at \"2019-08-27 15:08:09.253102\" \
             (1FB47783-A2FE-47D9-B256-DF50EF44BBA4/com.apple.Fitness)"
        );
        assert!(results.iter().any(|r| r["proc_name"]
            == "MISSING [follows 1FB47783-A2FE-47D9-B256-DF50EF44BBA4/com.apple.Fitness]"));

        let out = run_at(&Datausage, &root, &with_process("CumulativeUsageTracker")).unwrap();
        let critical: Vec<&Alert> = out
            .alerts
            .iter()
            .filter(|a| a.level == Level::Critical)
            .collect();
        assert_eq!(critical.len(), 2);
        assert_eq!(critical[0].event["proc_name"], "CumulativeUsageTracker");
    }

    #[test]
    fn garbage_or_wrong_schema_is_an_error_naming_the_file() {
        let (_dir, root) = with_file(
            DOMAIN,
            REL,
            b"this is not a database at all, just some bytes",
        );
        let err = run_at(&Datausage, &root, &Indicators::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(BACKUP_IDS[0]), "{err}");

        let (_dir, root) = with_sqlite(DOMAIN, REL, SCHEMA);
        let err = run_at(&Datausage, &root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }), "{err}");
        assert!(err.to_string().contains(BACKUP_IDS[0]));

        let (_dir, root) = built(Ok);
        assert!(matches!(
            run_at(&Datausage, &root, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }
}
