//! `dumpsys batterystats`, daily stats: the package updates Android recorded each day, which
//! also reveal uninstalls (version 0) and downgrades.

use std::collections::HashMap;

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use portcullis_indicators::Indicators;
use serde_json::{Value, json};

use super::{app_id_alert, indent, text};

/// First 10 characters (the date) of a `YYYY-MM-DD-HH-MM-SS` daily bound.
fn date_part(s: &str) -> &str {
    let s = s.trim();
    s.get(..10).unwrap_or(s)
}

/// `{action: "update", from, to, package_name, vers}` for every distinct `Update <pkg> vers=<N>`
/// of each `Daily from <A> to <B>:` block (dates only). A block ends at a line indented less than
/// its `Daily from` line.
pub(crate) fn parse(section: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut day: Option<(String, String, usize, usize)> = None;
    for line in section.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(range) = t.strip_prefix("Daily from ") {
            let range = range.trim_end_matches(':');
            let (from, to) = range.split_once(" to ").unwrap_or((range, ""));
            day = Some((
                date_part(from).to_string(),
                date_part(to).to_string(),
                indent(line),
                out.len(),
            ));
            continue;
        }
        let Some((from, to, day_indent, first)) = &day else {
            continue;
        };
        if indent(line) < *day_indent {
            day = None;
            continue;
        }
        let Some(update) = t.strip_prefix("Update ") else {
            continue;
        };
        let (package, vers) = update.split_once(' ').unwrap_or((update, ""));
        let vers = vers
            .trim()
            .strip_prefix("vers=")
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("");
        if package.is_empty() || vers.is_empty() {
            continue;
        }
        let seen = out[*first..]
            .iter()
            .any(|r| text(r, "package_name") == package && text(r, "vers") == vers);
        if !seen {
            out.push(json!({"action": "update", "from": from, "to": to, "package_name": package, "vers": vers}));
        }
    }
    out
}

/// Marks uninstalls and downgrades (records taken in order of day, then package), returning
/// their alerts: version 0 is an uninstall; a numeric version lower than the previous one seen
/// for the package is a downgrade, which gets `action: "downgrade"` and `previous_vers`.
fn uninstalls_and_downgrades(records: &mut [Value], slug: &str, source: &str) -> Vec<Alert> {
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |r: &Value| {
            (
                text(r, "from").to_string(),
                text(r, "to").to_string(),
                text(r, "package_name").to_string(),
            )
        };
        key(&records[a]).cmp(&key(&records[b]))
    });
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut alerts = Vec::new();
    for i in order {
        let record = &mut records[i];
        let package = text(record, "package_name").to_string();
        let vers = text(record, "vers").to_string();
        let from = text(record, "from").to_string();
        if vers == "0" {
            versions.remove(&package);
            alerts.push(
                Alert::heuristic(
                    Level::Medium,
                    slug,
                    format!("Detected uninstall of package {package} (vers 0)"),
                    from,
                    record.clone(),
                )
                .with_advice(
                    "An app was removed that day. If you did not remove it yourself, tell your \
                         security office: some spyware removes itself to hide.",
                )
                .with_field("package_name", package)
                .with_source(source),
            );
            continue;
        }
        let Ok(current) = vers.parse::<u64>() else {
            continue;
        };
        if let Some(&previous) = versions.get(&package)
            && current < previous
        {
            record["action"] = "downgrade".into();
            record["previous_vers"] = previous.to_string().into();
            alerts.push(
                Alert::heuristic(
                    Level::Medium,
                    slug,
                    format!("Detected downgrade of package {package} from vers {previous} to vers {current}"),
                    from,
                    record.clone(),
                )
                .with_advice(
                    "An app was replaced by an older version, which can bring back security holes \
                     that had been fixed. If you did not do this yourself, tell your security office.",
                )
                .with_field("package_name", package.clone())
                .with_source(source),
            );
        }
        versions.insert(package, current);
    }
    alerts
}

/// Records, a timeline row per record (at the day it was recorded), uninstall/downgrade alerts
/// and a CRITICAL alert per record of a known malicious app.
pub(crate) fn analyse(
    section: &str,
    indicators: &Indicators,
    name: &str,
    slug: &str,
    source: &str,
) -> ModuleOutput {
    let mut records = parse(section);
    let mut out = ModuleOutput {
        alerts: uninstalls_and_downgrades(&mut records, slug, source),
        ..ModuleOutput::default()
    };
    for record in &records {
        let (package, vers) = (text(record, "package_name"), text(record, "vers"));
        let data = if vers == "0" {
            format!("Recorded uninstall of package {package} (vers 0)")
        } else if text(record, "action") == "downgrade" {
            format!(
                "Recorded downgrade of package {package} from vers {} to vers {vers}",
                text(record, "previous_vers")
            )
        } else {
            format!("Recorded update of package {package} with vers {vers}")
        };
        out.push_timeline(TimelineEvent {
            timestamp: text(record, "from").to_string(),
            plugin: name.to_string(),
            event: "battery_daily".into(),
            data,
        });
        out.alerts.extend(app_id_alert(
            indicators,
            slug,
            package,
            text(record, "from"),
            record,
            source,
        ));
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
        let Some(dump) = fixture_text("dumpsys_battery.txt") else {
            return;
        };
        let records = parse(&dump);
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[0],
            json!({"action": "update", "from": "2022-08-16", "to": "2022-08-17",
                   "package_name": "com.facebook.services", "vers": "385230290"})
        );
        let out = analyse(&dump, &app_ioc("com.facebook.system"), "N", "s", "f");
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.timeline.len(), 3);
        assert_eq!(
            out.timeline[0].data,
            "Recorded update of package com.facebook.services with vers 385230290"
        );
    }

    #[test]
    fn uninstall_and_downgrade_in_day_order() {
        // Days listed newest first, as batterystats does; tabs and CRLF.
        let dump = "Daily stats:\r\n\tDaily from 2022-08-03-00-00-00 to 2022-08-04-00-00-00:\r\n\t\tUpdate a.b vers=5\r\n\
                    \tDaily from 2022-08-02-00-00-00 to 2022-08-03-00-00-00:\r\n\t\tUpdate a.b vers=0\r\n\t\tUpdate c.d vers=7\r\n\
                    \tDaily from 2022-08-01-00-00-00 to 2022-08-02-00-00-00:\r\n\t\tUpdate c.d vers=9\r\n\t\tUpdate a.b vers=9\r\n\
                    Other:\r\n  Update z.z vers=1\r\n";
        let out = analyse(dump, &Indicators::new(), "N", "s", "f");
        let messages: Vec<_> = out.alerts.iter().map(|a| a.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "Detected uninstall of package a.b (vers 0)",
                "Detected downgrade of package c.d from vers 9 to vers 7"
            ]
        );
        assert_eq!(records(&out).len(), 5);
        let downgrade = records(&out)
            .iter()
            .find(|r| r["action"] == "downgrade")
            .unwrap();
        assert_eq!(downgrade["previous_vers"], "9");
        assert!(
            out.timeline
                .iter()
                .any(|t| t.data == "Recorded uninstall of package a.b (vers 0)")
        );
        assert!(
            out.timeline
                .iter()
                .any(|t| t.data == "Recorded downgrade of package c.d from vers 9 to vers 7")
        );
    }

    #[test]
    fn garbage() {
        assert!(parse("Daily from\nUpdate\nUpdate x\nUpdate x vers=\nUpdate  vers=1\n").is_empty());
        assert_eq!(parse("Daily from x to y:\nUpdate p vers=abc\n").len(), 1);
        assert!(parse("Update a vers=1\n").is_empty());
    }
}
