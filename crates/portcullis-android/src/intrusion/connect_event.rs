//! `connect_event`: every network connection an app opened, and remote addresses matching
//! indicators.

use portcullis_core::ModuleOutput;
use portcullis_core::net::{NetFields, NetKind, NetObservation};
use serde_json::Value;

use super::{field, network_event, py_str, run_events};
use crate::{Context, Module, ModuleError};

/// The address Android logs as `host/ip` (`ip6-localhost/::1`, `/198.51.100.1`), without the
/// host part.
fn clean_address(value: &Value) -> String {
    let text = py_str(value);
    match text.rsplit_once('/') {
        Some((_, ip)) => ip.to_string(),
        None => text,
    }
}

const FIELDS: NetFields = NetFields {
    host: "hostname",
    addresses: "ip_address",
    app: "package_name",
};

pub struct ConnectEvent;

impl Module<Context<'_>> for ConnectEvent {
    fn name(&self) -> &'static str {
        "ConnectEvent"
    }

    fn slug(&self) -> &'static str {
        "connect_event"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        run_events(ctx, self, "connect_event", 1000, false, |record, _, _| {
            let value = Value::Object(record.clone());
            let observation = NetObservation {
                kind: NetKind::Connection,
                host: None,
                addresses: vec![
                    record
                        .get("ip_address")
                        .map(clean_address)
                        .unwrap_or_default(),
                ],
                port: Some(field(&value, "port", "0")),
                app: Some(field(&value, "package_name", "")),
            };
            network_event(
                ctx,
                record,
                "network_connection",
                &observation,
                FIELDS,
                "matched_ip",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use portcullis_core::Level;
    use portcullis_evidence::FolderEvidence;
    use portcullis_indicators::Indicators;
    use serde_json::json;

    use super::*;
    use crate::androidqf::test_support::{records, run_on, test_stix2, with_folder};
    use crate::intrusion::events::tests::with_appendix_a;

    #[test]
    fn appendix_a() {
        with_appendix_a(|ev| {
            let out = run_on(&ConnectEvent, ev, &Indicators::new()).unwrap();
            assert_eq!(out.results.len(), 2);
            let data: Vec<&str> = out.timeline.iter().map(|t| t.data.as_str()).collect();
            assert_eq!(
                data,
                [
                    "Connection to 198.51.100.1:443 by com.example.app",
                    "Connection to ::1:80 by com.example.app",
                ]
            );
            let out = run_on(&ConnectEvent, ev, &test_stix2()).unwrap();
            assert_eq!(out.alerts.len(), 1);
            assert_eq!(out.alerts[0].level, Level::Critical);
            assert_eq!(out.alerts[0].matched_value.as_deref(), Some("198.51.100.1"));
            assert_eq!(
                out.alerts[0].timestamp.as_deref(),
                Some("2023-11-14 22:13:21.000000")
            );
            assert_eq!(records(&out)[0]["matched_ip"], "198.51.100.1");
            assert_eq!(
                out.timeline[0].data,
                "Connection to 198.51.100.1:443 by com.example.app [Matched IP: 198.51.100.1]"
            );
        });
    }

    #[test]
    fn addresses_are_cleaned() {
        assert_eq!(clean_address(&json!("/1.2.3.4")), "1.2.3.4");
        assert_eq!(clean_address(&json!("host/a/::1")), "::1");
        assert_eq!(clean_address(&json!("1.2.3.4")), "1.2.3.4");
        assert_eq!(clean_address(&json!("1.2.3.4/")), "");
        assert_eq!(clean_address(&json!(17)), "17");
        let lines = "{\"connect_event\": {\"ip_address\": \"127.0.0.1\"}}\n";
        with_folder(&[("x.txt", lines)], |root| {
            let ind =
                crate::androidqf::test_support::indicators(&["[ipv4-addr:value = '127.0.0.1']"]);
            let out = run_on(&ConnectEvent, &FolderEvidence::new(root), &ind).unwrap();
            assert!(out.alerts.is_empty(), "local addresses are not checked");
            assert_eq!(out.timeline[0].data, "Connection to 127.0.0.1:0 by ");
            assert_eq!(out.timeline[0].timestamp, "");
        });
    }
}
