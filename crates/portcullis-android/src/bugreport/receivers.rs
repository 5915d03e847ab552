//! `dumpsys package`, `Receiver Resolver Table`: which apps receive which broadcast, noting those
//! that can intercept SMS or watch calls.

use portcullis_core::{Alert, Level, ModuleOutput, Results};
use portcullis_indicators::Indicators;
use serde_json::{Map, Value, json};

use super::resolver::{non_data_actions, package_of};

/// Intents whose receivers MVT notes in its log, with what receiving them allows.
const WATCHED: &[(&str, &str)] = &[
    (
        "android.provider.Telephony.NEW_OUTGOING_SMS",
        "Found a receiver to intercept outgoing SMS messages",
    ),
    (
        "android.provider.Telephony.SMS_RECEIVED",
        "Found a receiver to intercept incoming SMS messages",
    ),
    (
        "android.intent.action.DATA_SMS_RECEIVED",
        "Found a receiver to intercept incoming data SMS message",
    ),
    (
        "android.intent.action.PHONE_STATE",
        "Found a receiver monitoring telephony state/incoming calls",
    ),
    (
        "android.intent.action.NEW_OUTGOING_CALL",
        "Found a receiver monitoring outgoing calls",
    ),
];

/// `{intent: [{package_name, receiver}]}` for the `Non-Data Actions` block (an intent seen
/// twice keeps all its receivers).
pub(crate) fn parse(section: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for intent in non_data_actions(section, "Receiver Resolver Table:") {
        let list = out
            .entry(intent.intent.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.extend(intent.components.into_iter().map(
                |receiver| json!({"package_name": package_of(receiver), "receiver": receiver}),
            ));
        }
    }
    out
}

/// The intent map, log notes for SMS/call receivers, and a CRITICAL alert (event
/// `{intent: receiver}`) for each receiver of a known malicious app.
pub(crate) fn analyse(
    section: &str,
    indicators: &Indicators,
    slug: &str,
    source: &str,
) -> ModuleOutput {
    let intents = parse(section);
    let mut out = ModuleOutput::default();
    for (intent, receivers) in &intents {
        let note = WATCHED.iter().find(|(i, _)| i == intent).map(|(_, n)| n);
        for receiver in receivers.as_array().into_iter().flatten() {
            let name = receiver["receiver"].as_str().unwrap_or("");
            if let Some(note) = note {
                tracing::info!("{note}: \"{name}\"");
            }
            let package = receiver["package_name"].as_str().unwrap_or("");
            if let Some(hit) = indicators.check_app_id(package) {
                let event = json!({ intent.as_str(): receiver });
                out.alerts.push(
                    Alert::indicator(Level::Critical, slug, hit, "package_name", "", event)
                        .with_source(source),
                );
            }
        }
    }
    out.results = Results::Object(intents);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugreport::test_support::*;

    #[test]
    fn mvt_fixture() {
        let Some(dump) = fixture_text("dumpsys_packages.txt") else {
            return;
        };
        let intents = parse(&dump);
        assert_eq!(intents.len(), 4);
        assert_eq!(
            intents["com.android.storagemanager.automatic.SHOW_NOTIFICATION"][0]["receiver"],
            "com.android.storagemanager/.automatic.NotificationController"
        );
        let out = analyse(
            &dump,
            &app_ioc("com.android.storagemanager"),
            "dumpsys_receivers",
            "f",
        );
        assert_eq!(out.alerts.len(), 1);
        assert!(
            out.alerts[0].event["com.android.storagemanager.automatic.SHOW_NOTIFICATION"]
                .is_object()
        );
    }

    #[test]
    fn repeated_intents_and_garbage() {
        let dump = "Receiver Resolver Table:\n  Non-Data Actions:\n      a:\n        1 p/.X\n      a:\n        2 q/.Y\n";
        assert_eq!(parse(dump)["a"].as_array().unwrap().len(), 2);
        assert!(parse("Receiver Resolver Table:\n\u{0}\u{0}").is_empty());
    }
}
