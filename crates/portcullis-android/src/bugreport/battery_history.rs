//! `dumpsys batterystats`, battery history: jobs started and stopped, alarm wake-ups and apps
//! brought to the foreground, with the app behind each.

use serde_json::{Value, json};

/// The value of a `uid:"value"` (or `uid:value`) item: up to the closing quote, or the next
/// white space when unquoted.
fn split_uid_value(payload: &str) -> Option<(&str, &str)> {
    let (uid, rest) = payload.split_once(':')?;
    let value = match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next().unwrap_or(quoted),
        None => rest.split_whitespace().next().unwrap_or(""),
    };
    Some((uid, value))
}

/// The event a history line records, as `(event, uid, package_name, service)`.
fn event(line: &str) -> Option<(&'static str, &str, &str, &str)> {
    for (marker, name) in [("+job=", "start_job"), ("-job=", "end_job")] {
        if let Some((_, payload)) = line.split_once(marker) {
            let (uid, service) = split_uid_value(payload)?;
            return Some((name, uid, service.split('/').next().unwrap_or(""), service));
        }
    }
    if let Some((_, payload)) = line.split_once("+running +wake_lock=") {
        let (uid, _) = payload.split_once(':')?;
        let (_, alarm) = line.split_once("*walarm*:")?;
        let service = alarm
            .split(' ')
            .next()
            .unwrap_or("")
            .trim_matches('"')
            .trim();
        if !service.contains('/') {
            return None;
        }
        return Some((
            "wake",
            uid,
            service.split('/').next().unwrap_or(""),
            service,
        ));
    }
    for (marker, name) in [("+top=", "start_top"), ("-top=", "end_top")] {
        if let Some((_, payload)) = line.split_once(marker) {
            let (uid, package) = split_uid_value(payload)?;
            return Some((name, uid, package, ""));
        }
    }
    None
}

/// Whether a line looks like a history entry (starts with an elapsed time or a date).
fn is_history_line(trimmed: &str) -> bool {
    trimmed.starts_with(|c: char| c == '+' || c.is_ascii_digit())
}

/// `{time_elapsed, event, uid, package_name, service}` for the lines after `Battery History`
/// up to the first line that is not a history entry (blank lines inside are passed over).
pub(crate) fn parse(section: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in section.lines() {
        let t = line.trim();
        if t.starts_with("Battery History") {
            inside = true;
            continue;
        }
        if !inside || t.is_empty() {
            continue;
        }
        if !is_history_line(t) {
            break;
        }
        let Some((event, uid, package, service)) = event(line) else {
            continue;
        };
        let time_elapsed = t.split_whitespace().next().unwrap_or("");
        out.push(json!({
            "time_elapsed": time_elapsed,
            "event": event,
            "uid": uid,
            "package_name": package,
            "service": service,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::records_checking_app_ids;
    use crate::bugreport::test_support::*;
    use crate::bugreport::text;

    #[test]
    fn mvt_fixture() {
        let Some(dump) = fixture_text("dumpsys_battery.txt") else {
            return;
        };
        let records = parse(&dump);
        let events: Vec<_> = records
            .iter()
            .map(|r| (text(r, "event"), text(r, "package_name")))
            .collect();
        assert_eq!(
            events,
            [
                ("start_job", "com.samsung.android.app.reminder"),
                ("end_job", "com.samsung.android.app.reminder"),
                ("start_top", "com.whatsapp"),
                ("end_top", "com.whatsapp"),
                ("start_top", "com.sec.android.app.launcher"),
            ]
        );
        assert_eq!(records[2]["uid"], "u0a280");
        assert_eq!(records[0]["time_elapsed"], "+47s645ms");
        assert_eq!(
            records[0]["service"],
            "com.samsung.android.app.reminder/.data.alarmregister.RegisterAlarmJobService"
        );
        let out = records_checking_app_ids(
            parse(&dump),
            &app_ioc("com.samsung.android.app.reminder"),
            "s",
            "f",
        );
        assert_eq!(out.alerts.len(), 2);
    }

    #[test]
    fn wake_locks_blank_lines_and_garbage() {
        let dump = "Battery History (1% used):\r\n\r\n  +1s (2) 100 +running +wake_lock=u0a7:\"*walarm*:a.b/.Alarm\" +job=broken\r\n\
                    \r\n  +2s (2) 100 +running +wake_lock=u0a7:\"*walarm*:noslash\"\r\n  +3s (1) 100 +top=u0a9:\"c.d\" +wifi\r\nPer-PID Stats:\r\n  +4s +top=u0a1:\"x.y\"\r\n";
        let records = parse(dump);
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["package_name"], "c.d");
        let wake =
            parse("Battery History\n +1s +running +wake_lock=u0a7:\"*walarm*:a.b/.Alarm\"\n");
        assert_eq!(
            (text(&wake[0], "event"), text(&wake[0], "service")),
            ("wake", "a.b/.Alarm")
        );
        assert!(parse("Battery History\n+job=\n-top=\n+top=nocolon\n").is_empty());
    }
}
