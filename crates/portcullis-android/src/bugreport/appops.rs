//! `dumpsys appops`: which app-operations each package was allowed or denied, and when it last
//! used or was refused them. Flags apps allowed to install other apps and operations granted to
//! the ADB shell.

use std::sync::LazyLock;

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use portcullis_indicators::Indicators;
use regex::Regex;
use serde_json::{Map, Value, json};

use super::{app_id_alert, indent, text, wall_clock_iso};

/// Operations that let an app install other apps.
const RISKY_PERMISSIONS: &[&str] = &["REQUEST_INSTALL_PACKAGES"];
/// Packages whose every operation is worth a look (the ADB shell).
const RISKY_PACKAGES: &[&str] = &["com.android.shell"];

static UID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Uid (\S+):$").expect("valid uid pattern"));
static PACKAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Package (\S+):$").expect("valid package pattern"));
/// `OP (mode):`, or `OP (mode / switch …):` on newer Android.
static OPERATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z0-9_]+)(?: \(([^)]*)\))?:$").expect("valid operation pattern")
});

/// One `Access:`/`Reject:` line as `{access, type, timestamp?}`.
fn entry(trimmed: &str) -> Option<Value> {
    let (access, rest) = trimmed.split_once(':')?;
    if access != "Access" && access != "Reject" {
        return None;
    }
    let mut record = Map::new();
    record.insert("access".into(), access.into());
    let (kind, after) = match (rest.find('['), rest.find(']')) {
        (Some(open), Some(close)) if open < close => (&rest[open + 1..close], &rest[close + 1..]),
        _ => ("", rest),
    };
    record.insert("type".into(), kind.into());
    let when = after.split('(').next().unwrap_or("");
    if let Some(ts) = wall_clock_iso(when) {
        record.insert("timestamp".into(), ts.into());
    }
    Some(Value::Object(record))
}

/// `{package_name, uid, permissions: [{name, access, entries: [{access, type, timestamp}]}]}`
/// for every package of every `Uid X:` block.
///
/// The list starts at the first `Uid X:` line and ends at the first line indented no deeper than
/// it that is not another `Uid` line; unlike MVT, blank lines inside it do not end it, so
/// vendors that space their blocks out keep every package.
pub(crate) fn parse(section: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut uid_indent = None;
    let mut uid = String::new();
    let mut package: Option<Map<String, Value>> = None;
    let mut perm: Option<Map<String, Value>> = None;
    let close_perm = |package: &mut Option<Map<String, Value>>,
                      perm: &mut Option<Map<String, Value>>| {
        if let (Some(p), Some(op)) = (package.as_mut(), perm.take())
            && let Some(Value::Array(list)) = p.get_mut("permissions")
        {
            list.push(Value::Object(op));
        }
    };
    let mut close_package = |package: &mut Option<Map<String, Value>>,
                             perm: &mut Option<Map<String, Value>>| {
        close_perm(package, perm);
        if let Some(p) = package.take() {
            out.push(Value::Object(p));
        }
    };
    for line in section.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(c) = UID.captures(t) {
            close_package(&mut package, &mut perm);
            uid_indent.get_or_insert(indent(line));
            uid = c[1].to_string();
            continue;
        }
        let Some(base) = uid_indent else { continue };
        if indent(line) <= base {
            break;
        }
        if let Some(c) = PACKAGE.captures(t) {
            close_package(&mut package, &mut perm);
            let mut p = Map::new();
            p.insert("package_name".into(), c[1].into());
            p.insert("uid".into(), uid.clone().into());
            p.insert("permissions".into(), Value::Array(Vec::new()));
            package = Some(p);
        } else if package.is_none() {
            // Per-uid modes (`LEGACY_STORAGE: mode=allow`) and state lines.
        } else if let Some(c) = OPERATION.captures(t) {
            close_perm(&mut package, &mut perm);
            let mut op = Map::new();
            op.insert("name".into(), c[1].into());
            if let Some(mode) = c.get(2) {
                let mode = mode.as_str().split(['/', ' ']).next().unwrap_or("");
                op.insert("access".into(), mode.into());
            }
            op.insert("entries".into(), Value::Array(Vec::new()));
            perm = Some(op);
        } else if let (Some(e), Some(Value::Array(entries))) =
            (entry(t), perm.as_mut().and_then(|p| p.get_mut("entries")))
        {
            entries.push(e);
        }
    }
    close_package(&mut package, &mut perm);
    out
}

fn entries(perm: &Value) -> &[Value] {
    perm["entries"].as_array().map_or(&[], Vec::as_slice)
}

/// Records, one timeline row per dated entry, and the alerts: CRITICAL for a known malicious app
/// (its other checks skipped, as MVT), MEDIUM per entry of a risky operation (or once, "Unknown"
/// at no time, when it has none) and per entry of every operation of the ADB shell.
pub(crate) fn analyse(
    section: &str,
    indicators: &Indicators,
    name: &str,
    slug: &str,
    source: &str,
) -> ModuleOutput {
    let records = parse(section);
    let mut out = ModuleOutput::default();
    let placeholder = json!({"access": "Unknown", "timestamp": ""});
    for record in &records {
        let package = text(record, "package_name");
        let perms = record["permissions"]
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for perm in perms {
            for e in entries(perm) {
                if let Some(ts) = e.get("timestamp").and_then(Value::as_str) {
                    let access = text(e, "access");
                    out.push_timeline(TimelineEvent {
                        timestamp: ts.to_string(),
                        plugin: name.to_string(),
                        event: access.to_string(),
                        data: format!("{package} access to {}: {access}", text(perm, "name")),
                    });
                }
            }
        }
        let latest = perms
            .iter()
            .flat_map(entries)
            .map(|e| text(e, "timestamp"))
            .max()
            .unwrap_or("");
        if let Some(alert) = app_id_alert(indicators, slug, package, latest, record, source) {
            out.alerts.push(alert);
            continue;
        }
        for perm in perms {
            let op = text(perm, "name");
            let risky_op = RISKY_PERMISSIONS.contains(&op);
            if !risky_op && !RISKY_PACKAGES.contains(&package) {
                continue;
            }
            let mut dated: Vec<&Value> = entries(perm).iter().collect();
            if dated.is_empty() {
                dated.push(&placeholder);
            }
            dated.sort_by_key(|e| text(e, "timestamp"));
            for e in dated {
                let (access, ts) = (text(e, "access"), text(e, "timestamp"));
                let mut event = record.clone();
                event["permissions"] = json!([perm]);
                let (message, advice) = if risky_op {
                    (
                        format!(
                            "Package '{package}' had risky permission '{op}' set to '{access}' at {ts}"
                        ),
                        "This app may install other apps, a common way spyware reaches a phone. If you \
                         do not know why it needs to, turn it off in Settings > Apps > Special app \
                         access > Install unknown apps.",
                    )
                } else {
                    (
                        format!(
                            "Risky package '{package}' had '{op}' permission set to '{access}' at {ts}"
                        ),
                        "The ADB shell, used from a computer connected by cable, was given this \
                         permission. If the phone was never used for app development, ask your \
                         security office to review it.",
                    )
                };
                out.alerts.push(
                    Alert::heuristic(Level::Medium, slug, message, ts, event)
                        .with_advice(advice)
                        .with_field("package_name", package)
                        .with_source(source),
                );
            }
        }
    }
    out.results = Results::List(records);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;

    #[test]
    fn mvt_fixture() {
        let Some(dump) = fixture_text("dumpsys_appops.txt") else {
            return;
        };
        let records = parse(&dump);
        assert_eq!(records.len(), 13);
        assert_eq!(
            records[0],
            json!({"package_name": "com.android.phone", "uid": "0", "permissions": [
                {"name": "MANAGE_IPSEC_TUNNELS", "access": "allow", "entries": []}]})
        );
        let katana = &records[7];
        assert_eq!(katana["uid"], "u0a103");
        assert_eq!(
            katana["permissions"][1]["entries"][0],
            json!({"access": "Reject", "type": "fg-s", "timestamp": "2021-05-19 22:02:52.054000"})
        );
        let out = analyse(
            &dump,
            &app_ioc("com.facebook.katana"),
            "DumpsysAppops",
            "dumpsys_appops",
            "f",
        );
        assert_eq!(
            (
                count(&out.alerts, Level::Critical),
                count(&out.alerts, Level::Medium)
            ),
            (1, 2)
        );
        assert_eq!(
            out.alerts[0].timestamp.as_deref(),
            Some("2022-03-29 23:03:03.763000")
        );
        assert_eq!(
            out.alerts[2].message,
            "Package 'org.fdroid.fdroid' had risky permission 'REQUEST_INSTALL_PACKAGES' set to 'Access' at 2022-02-02 23:20:13.096000"
        );
        assert_eq!(
            out.alerts[2].event["permissions"].as_array().unwrap().len(),
            1
        );
    }

    /// Vendor layouts: Xiaomi-like blank lines and deeper indentation, Android 11+ switch modes
    /// and attribution lines, CRLF.
    #[test]
    fn vendor_layouts() {
        let dump = "Current AppOps Service state:\r\n\r\n    Uid 0:\r\n\r\n      Package a.b:\r\n\r\n        READ_SMS (allow):\r\n\r\n\
                    \x20           Access: [top-s] 2022-01-01 10:00:00.000 (-1d)\r\n    Uid u0a1:\r\n      state=cch\r\n\
                    \x20       COARSE_LOCATION: mode=ignore\r\n      Package com.android.shell:\r\n\
                    \x20       MONITOR_LOCATION (allow / switch COARSE_LOCATION=allow):\r\n          null=[\r\n\
                    \x20           Reject: [fg-s]2022-01-02 10:00:00.000 (-1d)\r\n            Weird: x\r\n          ]\r\n\
                    \x20       REQUEST_INSTALL_PACKAGES (default):\r\n      Package c.d:\r\n  Historical ops:\r\n    Uid 5:\r\n      Package e.f:\r\n";
        let records = parse(dump);
        let names: Vec<_> = records.iter().map(|r| text(r, "package_name")).collect();
        assert_eq!(names, ["a.b", "com.android.shell", "c.d"]);
        assert_eq!(records[1]["permissions"][0]["access"], "allow");
        assert_eq!(
            records[1]["permissions"][0]["entries"][0]["access"],
            "Reject"
        );
        let out = analyse(dump, &Indicators::new(), "N", "s", "f");
        let messages: Vec<_> = out.alerts.iter().map(|a| a.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "Risky package 'com.android.shell' had 'MONITOR_LOCATION' permission set to 'Reject' at 2022-01-02 10:00:00.000000",
                "Package 'com.android.shell' had risky permission 'REQUEST_INSTALL_PACKAGES' set to 'Unknown' at ",
            ]
        );
        assert_eq!(out.timeline.len(), 2);
    }

    #[test]
    fn garbage() {
        assert!(parse("").is_empty());
        assert!(parse("Package x:\n  OP (allow):\n").is_empty());
        let records = parse(
            "Uid 0:\n  Package p:\n    Access: [ 2022-99-99 ]\n    OP (:\n    X (allow):\n      Access: ]broken[ 2022-01-01 00:00:00.000\n",
        );
        assert_eq!(
            records[0]["permissions"][0]["entries"][0],
            json!({"access": "Access", "type": ""})
        );
    }
}
