//! `dns_event`: every DNS lookup an app made, and host names or answered IP addresses matching
//! indicators.

use portcullis_core::ModuleOutput;
use portcullis_core::net::{NetFields, NetKind, NetObservation};
use serde_json::Value;

use super::{field, network_event, py_str, run_events};
use crate::{Context, Module, ModuleError};

const FIELDS: NetFields = NetFields {
    host: "hostname",
    addresses: "ip_addresses",
    app: "package_name",
};

pub struct DnsEvent;

impl Module<Context<'_>> for DnsEvent {
    fn name(&self) -> &'static str {
        "DnsEvent"
    }

    fn slug(&self) -> &'static str {
        "dns_event"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        // This module also reports what reading the logs met, once for the three modules.
        run_events(ctx, self, "dns_event", 1000, true, |record, _, _| {
            let value = Value::Object(record.clone());
            let addresses = record.get("ip_addresses").and_then(Value::as_array);
            let observation = NetObservation {
                kind: NetKind::DnsQuery,
                host: Some(field(&value, "hostname", "")),
                addresses: addresses
                    .into_iter()
                    .flatten()
                    .map(|a| match a {
                        Value::String(s) => s.trim_start_matches('/').to_string(),
                        other => py_str(other),
                    })
                    .collect(),
                port: None,
                app: Some(field(&value, "package_name", "")),
            };
            network_event(
                ctx,
                record,
                "dns_query",
                &observation,
                FIELDS,
                "matched_ips",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::FolderEvidence;
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::androidqf::test_support::{records, run_on, run_on_tz, test_stix2, with_folder};
    use crate::intrusion::events::tests::with_appendix_a;

    #[test]
    fn appendix_a() {
        with_appendix_a(|ev| {
            let out = run_on(&DnsEvent, ev, &Indicators::new()).unwrap();
            assert_eq!(out.results.len(), 2);
            assert!(out.alerts.is_empty());
            let data: Vec<&str> = out.timeline.iter().map(|t| t.data.as_str()).collect();
            assert_eq!(
                data,
                [
                    "DNS query for www.example.org by com.example.app [IPs: 198.51.100.1]",
                    "DNS query for github.com by com.example.app [IPs: 140.82.121.4]",
                ]
            );
            assert_eq!(out.timeline[0].plugin, "DnsEvent");
            assert_eq!(out.timeline[0].event, "dns_query");

            let out = run_on(&DnsEvent, ev, &test_stix2()).unwrap();
            assert_eq!(out.alerts.len(), 2);
            assert_eq!(
                out.alerts[0].message,
                "Found a known suspicious domain www.example.org matching indicator \"example.org\" from \"TestMalware\""
            );
            assert_eq!(
                out.alerts[0].timestamp.as_deref(),
                Some("2023-11-14 22:13:20.000000")
            );
            assert_eq!(out.alerts[1].matched_value.as_deref(), Some("198.51.100.1"));
            assert_eq!(
                out.alerts[1].message,
                "Found a known suspicious IP address 198.51.100.1 matching indicator \"198.51.100.1\" from \"TestMalware\""
            );
            assert_eq!(out.alerts[1].matched_field.as_deref(), Some("ip_addresses"));
            assert_eq!(out.alerts[1].source.as_deref(), Some("day1.txt"));
            assert_eq!(
                out.alerts[1].event["matched_ips"],
                serde_json::json!(["198.51.100.1"])
            );
            assert_eq!(
                out.timeline[0].data,
                "DNS query for www.example.org by com.example.app [Matched IPs: 198.51.100.1]"
            );

            let out = run_on_tz(&DnsEvent, ev, &Indicators::new(), Some("Europe/Paris")).unwrap();
            assert_eq!(records(&out)[0]["timestamp"], "2023-11-14 23:13:20.000000");
        });
    }

    #[test]
    fn odd_fields() {
        let lines = r#"{"dns_event": {"event_time": 1, "hostname": null, "ip_addresses": "1.2.3.4"}}
{"dns_event": {"event_time": 2, "ip_addresses": [7, "/", ""], "package_name": "com.spy"}}
"#;
        with_folder(&[("x.txt", lines)], |root| {
            let ind = crate::androidqf::test_support::indicators(&["[app:id = 'com.spy']"]);
            let out = run_on(&DnsEvent, &FolderEvidence::new(root), &ind).unwrap();
            let data: Vec<&str> = out.timeline.iter().map(|t| t.data.as_str()).collect();
            assert_eq!(
                data,
                [
                    "DNS query for None by ",
                    "DNS query for  by com.spy [IPs: 7]"
                ]
            );
            assert_eq!(out.alerts.len(), 1);
            assert_eq!(out.alerts[0].matched_field.as_deref(), Some("package_name"));
        });
    }
}
