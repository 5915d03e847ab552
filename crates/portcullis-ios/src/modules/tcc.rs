//! `TCC.db`: which apps and processes were granted which privacy permissions (microphone,
//! camera, location…). Spyware often shows up here as a process with unexpected grants.

use portcullis_core::{ModuleOutput, Results, TimelineEvent};
use serde_json::{Map, Value};

use super::common::{critical_indicator_alert, open_fixed};
use crate::values::{Record, query_records};
use crate::{Context, Module, ModuleError};

/// HomeDomain-Library/TCC/TCC.db
const BACKUP_IDS: &[&str] = &["64d0019cb3d46bfc8cce545a8ba54b93e7ea9347"];

/// The schema generations of the `access` table, newest first.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    /// `auth_value` / `auth_reason` (iOS 14+).
    V3,
    /// `allowed` / `prompt_count` with `last_modified`.
    V2,
    /// `allowed` / `prompt_count`, no time.
    V1,
}

const QUERIES: [(Version, &str); 3] = [
    (
        Version::V3,
        "SELECT service, client, client_type, auth_value, auth_reason, last_modified FROM access",
    ),
    (
        Version::V2,
        "SELECT service, client, client_type, allowed, prompt_count, last_modified FROM access",
    ),
    (
        Version::V1,
        "SELECT service, client, client_type, allowed, prompt_count FROM access",
    ),
];

fn auth_value(v: Option<i64>) -> &'static str {
    match v {
        Some(0) => "denied",
        Some(1) => "unknown",
        Some(2) => "allowed",
        Some(3) => "limited",
        _ => "",
    }
}

fn allowed_value(v: Option<i64>) -> &'static str {
    match v {
        Some(0) => "denied",
        Some(1) => "allowed",
        _ => "",
    }
}

fn auth_reason(v: Option<i64>) -> &'static str {
    match v {
        Some(1) => "error",
        Some(2) => "user_consent",
        Some(3) => "user_set",
        Some(4) => "system_set",
        Some(5) => "service_policy",
        Some(6) => "mdm_policy",
        Some(7) => "override_policy",
        Some(8) => "missing_usage_string",
        Some(9) => "prompt_timeout",
        Some(10) => "preflight_unknown",
        Some(11) => "entitled",
        Some(12) => "app_type_policy",
        _ => "unknown",
    }
}

pub struct Tcc;

impl Module<Context<'_>> for Tcc {
    fn name(&self) -> &'static str {
        "TCC"
    }

    fn slug(&self) -> &'static str {
        "tcc"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (conn, path) = open_fixed(ctx.backup, BACKUP_IDS, "TCC.db")?;
        let (version, rows) = query_access(&conn, &path)?;

        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let record = record(row, version);
            let text = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
            let service = text("service");
            if matches!(service, "kTCCServiceMicrophone" | "kTCCServiceCamera") {
                tracing::info!(
                    "{path}: client \"{}\" has {}{} access to the {} (last changed {})",
                    text("client"),
                    text("auth_value"),
                    text("allowed_value"),
                    if service == "kTCCServiceMicrophone" {
                        "microphone"
                    } else {
                        "camera"
                    },
                    text("last_modified"),
                );
            }
            let when = text("last_modified").to_string();
            if !when.is_empty() {
                let value = match version {
                    Version::V3 => text("auth_value"),
                    _ => text("allowed_value"),
                };
                out.push_timeline(TimelineEvent {
                    timestamp: when.clone(),
                    plugin: self.name().to_string(),
                    event: "AccessRequest".into(),
                    data: format!("Access to {service} by {} {value}", text("client")),
                });
            }
            if let Some(hit) = ctx.indicators.check_process(text("client")) {
                out.alerts.push(critical_indicator_alert(
                    self.slug(),
                    hit,
                    "client",
                    when,
                    Value::Object(record.clone()),
                    &path,
                ));
            }
            records.push(Value::Object(record));
        }
        tracing::info!("{path}: {} TCC items", records.len());
        out.results = Results::List(records);
        Ok(out)
    }
}

/// Rows of the `access` table with the newest schema that fits; the last error when none does.
fn query_access(
    conn: &rusqlite::Connection,
    path: &str,
) -> Result<(Version, Vec<Record>), ModuleError> {
    let mut result = Err(ModuleError::Parse {
        path: path.to_string(),
        reason: "no access table".into(),
    });
    for (version, sql) in QUERIES {
        match query_records(conn, path, sql) {
            Ok(rows) => return Ok((version, rows)),
            Err(e) => result = Err(e),
        }
    }
    result
}

fn record(row: &Record, version: Version) -> Map<String, Value> {
    let int = |k: &str| row.get(k).and_then(Value::as_i64);
    let raw = |k: &str| row.get(k).cloned().unwrap_or(Value::Null);
    let mut r = Map::new();
    r.insert("service".into(), raw("service"));
    r.insert("client".into(), raw("client"));
    let client_type = if int("client_type") == Some(0) {
        "bundle_id"
    } else {
        "absolute_path"
    };
    r.insert("client_type".into(), client_type.into());
    match version {
        Version::V3 => {
            r.insert("auth_value".into(), auth_value(int("auth_value")).into());
            r.insert(
                "auth_reason_desc".into(),
                auth_reason(int("auth_reason")).into(),
            );
        }
        Version::V2 | Version::V1 => {
            r.insert("allowed_value".into(), allowed_value(int("allowed")).into());
            r.insert("prompt_count".into(), raw("prompt_count"));
        }
    }
    if version != Version::V1 {
        let when = int("last_modified")
            .and_then(|t| portcullis_report::time::from_unix(t as f64))
            .unwrap_or_default();
        r.insert("last_modified".into(), when.into());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{fixture, indicators, list, run_at, with_file, with_sqlite};
    use portcullis_core::Level;
    use portcullis_indicators::Indicators;

    const DOMAIN: &str = "HomeDomain";
    const REL: &str = "Library/TCC/TCC.db";

    #[test]
    fn reads_v3_and_matches_clients() {
        let (_dir, root) = with_sqlite(
            DOMAIN,
            REL,
            "CREATE TABLE access (service TEXT, client TEXT, client_type INTEGER, \
             auth_value INTEGER, auth_reason INTEGER, auth_version INTEGER, last_modified INTEGER); \
             INSERT INTO access VALUES ('kTCCServiceMicrophone', 'com.example.app', 0, 2, 2, 1, 1700000000); \
             INSERT INTO access VALUES ('kTCCServiceCamera', '/private/var/tmp/bh', 1, 0, 99, 1, 1700000100);",
        );
        let out = run_at(&Tcc, &root, &indicators(&["[process:name = 'bh']"])).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[0],
            serde_json::json!({"service": "kTCCServiceMicrophone", "client": "com.example.app",
                "client_type": "bundle_id", "auth_value": "allowed",
                "auth_reason_desc": "user_consent", "last_modified": "2023-11-14 22:13:20.000000"})
        );
        assert_eq!(results[1]["client_type"], "absolute_path");
        assert_eq!(results[1]["auth_reason_desc"], "unknown");
        assert_eq!(out.timeline.len(), 2);
        assert_eq!(
            out.timeline[1].data,
            "Access to kTCCServiceCamera by /private/var/tmp/bh denied"
        );
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].timestamp.as_deref(),
            Some("2023-11-14 22:15:00.000000")
        );
        assert_eq!(out.alerts[0].matched_field.as_deref(), Some("client"));
    }

    #[test]
    fn reads_older_schemas() {
        let (_dir, root) = with_sqlite(
            DOMAIN,
            REL,
            "CREATE TABLE access (service TEXT, client TEXT, client_type INTEGER, \
             allowed INTEGER, prompt_count INTEGER, last_modified INTEGER); \
             INSERT INTO access VALUES ('kTCCServiceCamera', 'com.example.app', 0, 1, 1, 1700000000);",
        );
        let out = run_at(&Tcc, &root, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results[0]["allowed_value"], "allowed");
        assert_eq!(results[0]["prompt_count"], 1);
        assert_eq!(
            out.timeline[0].data,
            "Access to kTCCServiceCamera by com.example.app allowed"
        );

        let (_dir, root) = with_sqlite(
            DOMAIN,
            REL,
            "CREATE TABLE access (service TEXT, client TEXT, client_type INTEGER, \
             allowed INTEGER, prompt_count INTEGER); \
             INSERT INTO access VALUES ('kTCCServiceCamera', 'com.example.app', 0, 0, 3);",
        );
        let out = run_at(&Tcc, &root, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results[0]["allowed_value"], "denied");
        assert!(results[0].get("last_modified").is_none());
        assert!(out.timeline.is_empty());
    }

    #[test]
    fn fixture_matches_mvt() {
        let Some(root) = fixture() else { return };
        let out = run_at(&Tcc, &root, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 11);
        assert_eq!(out.timeline.len(), 11);
        assert!(out.alerts.is_empty());
        assert_eq!(results[0]["service"], "kTCCServiceUbiquity");
        assert_eq!(results[0]["client"], "com.apple.Preferences");
        assert_eq!(results[0]["auth_value"], "allowed");

        let out = run_at(&Tcc, &root, &indicators(&["[process:name = 'Launch']"])).unwrap();
        assert_eq!(out.alerts.len(), 1);
        let alert = &out.alerts[0];
        assert_eq!(alert.level, Level::Critical);
        assert_eq!(
            alert.message,
            "Found a known suspicious process name \"Launch\" matching indicators from \"TestMalware\""
        );
        assert_eq!(alert.event["service"], "kTCCServiceLiverpool");
    }

    #[test]
    fn garbage_or_missing_table_is_an_error_naming_the_file() {
        let (_dir, root) = with_file(DOMAIN, REL, &[0xde; 300]);
        let err = run_at(&Tcc, &root, &Indicators::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(BACKUP_IDS[0]), "{err}");

        let (_dir, root) = with_sqlite(DOMAIN, REL, "CREATE TABLE other (x);");
        let err = run_at(&Tcc, &root, &Indicators::new()).unwrap_err();
        assert!(matches!(err, ModuleError::Query { .. }));
        assert!(err.to_string().contains(BACKUP_IDS[0]));
    }
}
