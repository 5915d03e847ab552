//! `check-intrusion-logs`: Android 16 "Intrusion Logging" exports (NDJSON `.txt` files, in
//! folders or zips, nested zips included). Each line holds events keyed by type; the modules
//! [`modules`] read `dns_event`, `connect_event` and `security_event`.
//!
//! Times are instants (milliseconds for DNS and connections, nanoseconds for security events)
//! shown in the context's time zone (the device's, or one given by the analyst), else UTC.

mod connect_event;
mod dns_event;
mod events;
mod security_event;

use portcullis_core::net::{NetFields, NetKind, NetObservation};
use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use portcullis_indicators::IndicatorMatch;
use serde_json::{Map, Value};

use crate::{AndroidModule, Context, ModuleError};

/// Every intrusion-log module, in MVT's order.
pub fn modules() -> Vec<&'static AndroidModule> {
    vec![
        &dns_event::DnsEvent,
        &connect_event::ConnectEvent,
        &security_event::SecurityEvent,
    ]
}

/// Python's truthiness of a JSON value (MVT tests `if value:`).
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A value as Python's `str()` prints it, so timeline texts and messages read as MVT's.
fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// A value as Python's `repr()` prints the equivalent Python object.
fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_quote(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", py_quote(k), py_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Python's string literal: single quotes unless the text has some and no double quotes.
fn py_quote(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A field of an event's record as Python prints `record.get(key, default)`.
fn field(record: &Value, key: &str, default: &str) -> String {
    record.get(key).map_or_else(|| default.to_string(), py_str)
}

/// CRITICAL alerts for the indicator hits (`(field, hit)`) on `record`.
fn push_hits<F: AsRef<str>>(
    out: &mut ModuleOutput,
    slug: &str,
    hits: Vec<(F, IndicatorMatch)>,
    record: &Value,
    timestamp: &str,
    source: &str,
) {
    for (field, hit) in hits {
        out.alerts.push(
            Alert::indicator(
                Level::Critical,
                slug,
                hit,
                field.as_ref(),
                timestamp,
                record.clone(),
            )
            .with_source(source),
        );
    }
}

/// What one event became: its timeline row, its indicator hits (field, hit) and any other
/// alerts it raised.
struct Seen {
    event: String,
    data: String,
    hits: Vec<(String, IndicatorMatch)>,
    alerts: Vec<Alert>,
}

/// Runs an intrusion-log module: reads the `log` events (see [`events::load`]), asks `see` what
/// each one is, and builds the records, timeline rows and alerts in order.
fn run_events(
    ctx: &Context<'_>,
    module: &AndroidModule,
    log: &str,
    time_unit: i64,
    report_reading: bool,
    mut see: impl FnMut(&mut Map<String, Value>, &str, &str) -> Seen,
) -> Result<ModuleOutput, ModuleError> {
    let events = events::load(ctx, log, time_unit, report_reading)?;
    let mut out = ModuleOutput::spilling(ctx.spool);
    let mut records = Vec::with_capacity(events.len());
    for events::Event {
        mut record,
        timestamp,
        source,
    } in events
    {
        let seen = see(&mut record, &timestamp, &source);
        out.push_timeline(row(module.name(), &timestamp, &seen.event, seen.data));
        out.alerts.extend(seen.alerts);
        let record = Value::Object(record);
        push_hits(
            &mut out,
            module.slug(),
            seen.hits,
            &record,
            &timestamp,
            &source,
        );
        records.push(record);
    }
    out.results = Results::List(records);
    Ok(out)
}

/// A network event of the intrusion log as a [`NetObservation`]: checked against the
/// indicators, with the matched addresses recorded under `matched_key` and described as MVT
/// does.
fn network_event(
    ctx: &Context<'_>,
    record: &mut Map<String, Value>,
    event: &str,
    observation: &NetObservation,
    fields: NetFields,
    matched_key: &str,
) -> Seen {
    let found = observation.check(ctx.indicators, fields);
    if !found.matched_addresses.is_empty() {
        let matched = match observation.kind {
            NetKind::Connection => Value::from(found.matched_addresses[0].clone()),
            NetKind::DnsQuery => Value::from(found.matched_addresses.clone()),
        };
        record.insert(matched_key.into(), matched);
    }
    Seen {
        event: event.into(),
        data: observation.describe(&found.matched_addresses),
        hits: found
            .hits
            .into_iter()
            .map(|(field, hit)| (field.to_string(), hit))
            .collect(),
        alerts: Vec::new(),
    }
}

/// A timeline row of module `name`.
fn row(name: &str, timestamp: &str, event: &str, data: String) -> TimelineEvent {
    TimelineEvent {
        timestamp: timestamp.to_string(),
        plugin: name.to_string(),
        event: event.to_string(),
        data,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn python_rendering() {
        assert_eq!(py_str(&json!({"field": "value"})), "{'field': 'value'}");
        assert_eq!(
            py_repr(&json!({"a": [1, 2.5, null, true], "b": "it's", "c": "x\"y'z\n\\"})),
            r#"{'a': [1, 2.5, None, True], 'b': "it's", 'c': 'x"y\'z\n\\'}"#
        );
        assert_eq!(py_str(&json!("plain")), "plain");
        assert_eq!(py_repr(&json!("\u{1}")), "'\\x01'");
        assert_eq!(field(&json!({"uid": 1000}), "uid", ""), "1000");
        assert_eq!(field(&json!({"uid": null}), "uid", ""), "None");
        assert_eq!(field(&json!({}), "uid", "unknown"), "unknown");
        assert_eq!(field(&json!("not a dict"), "uid", "d"), "d");
        assert!(!truthy(&json!(0)) && !truthy(&json!("")) && !truthy(&json!({})));
        assert!(truthy(&json!(1)) && truthy(&json!("0")) && truthy(&json!([0])));
    }

    /// §7.8 on Appendix A: counts per module, levels, timeline, and the zone option.
    #[test]
    fn appendix_a_oracle() {
        use portcullis_core::Level;
        use portcullis_evidence::Evidence;
        use portcullis_indicators::Indicators;

        use crate::androidqf::test_support::{count, test_stix2};
        use crate::intrusion::events::tests::with_appendix_a;

        with_appendix_a(|ev| {
            let files = ev.list().unwrap();
            for (indicators, critical) in [(Indicators::new(), 0), (test_stix2(), 3)] {
                for zone in [None, Some("Europe/Paris")] {
                    let ctx = Context {
                        evidence: ev,
                        files: &files,
                        indicators: &indicators,
                        timezone: zone,
                        shared: &crate::Shared::default(),
                        spool: None,
                    };
                    let runs = crate::run_modules(&ctx, &modules(), &Default::default());
                    let outs: Vec<_> = runs.iter().map(|r| r.outcome.as_ref().unwrap()).collect();
                    let sizes: Vec<usize> = outs.iter().map(|o| o.results.len()).collect();
                    assert_eq!(sizes, [2, 2, 6]);
                    let alerts: Vec<_> = outs.iter().flat_map(|o| o.alerts.clone()).collect();
                    assert_eq!(count(&alerts, Level::Medium), 3);
                    assert_eq!(count(&alerts, Level::Critical), critical);
                    assert_eq!(alerts.len(), 3 + critical);
                    assert_eq!(outs.iter().map(|o| o.timeline.len()).sum::<usize>(), 10);
                    let expected = match zone {
                        None => "2023-11-14 22:13:20.000000",
                        Some(_) => "2023-11-14 23:13:20.000000",
                    };
                    assert_eq!(outs[0].timeline[0].timestamp, expected);
                }
            }
        });
    }
}
