//! `MCProfileEvents.plist`: which process installed or removed which configuration profile,
//! and when. Profile changes are rare on a personal phone, so every one is worth a look.

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::{Map, Value};

use super::common::{critical_indicator_alert, read_stored_plists};
use crate::values::{plist_date_iso, plist_to_json, py_str};
use crate::{Context, Module, ModuleError};

const RELATIVE_PATH: &str = "Library/ConfigurationProfiles/MCProfileEvents.plist";

pub struct ProfileEvents;

impl Module<Context<'_>> for ProfileEvents {
    fn name(&self) -> &'static str {
        "ProfileEvents"
    }

    fn slug(&self) -> &'static str {
        "profile_events"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let entries = ctx.backup.find_by_relative_path(RELATIVE_PATH)?;
        let files = read_stored_plists(ctx.backup, entries, "MCProfileEvents.plist")?;

        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::new();
        for (_, source, plist) in &files.files {
            for record in parse(plist) {
                let text = |k: &str| py_str(record.get(k));
                let (when, process, operation, profile) = (
                    text("timestamp"),
                    text("process"),
                    text("operation"),
                    text("profile_id"),
                );
                out.push_timeline(TimelineEvent {
                    timestamp: when.clone(),
                    plugin: self.name().to_string(),
                    event: "profile_operation".into(),
                    data: format!(
                        "Process {process} started operation {operation} of profile {profile}"
                    ),
                });
                let event = Value::Object(record.clone());
                out.alerts.push(
                    Alert::heuristic(
                        Level::Low,
                        self.slug(),
                        format!(
                            "On {when} process \"{process}\" started operation \"{operation}\" \
                             of profile \"{profile}\""
                        ),
                        when.clone(),
                        event.clone(),
                    )
                    .with_advice(
                        "A configuration profile was installed or changed on this phone. If you \
                         do not recognise it (Settings > General > VPN & Device Management), \
                         ask your security office about it.",
                    )
                    .with_field("profile_id", profile.clone())
                    .with_source(source),
                );
                let hit = ctx
                    .indicators
                    .check_process(&process)
                    .map(|h| (h, "process"))
                    .or_else(|| {
                        ctx.indicators
                            .check_profile_id(&profile)
                            .map(|h| (h, "profile_id"))
                    });
                if let Some((hit, field)) = hit {
                    out.alerts.push(critical_indicator_alert(
                        self.slug(),
                        hit,
                        field,
                        when,
                        event,
                        source,
                    ));
                }
                records.push(Value::Object(record));
            }
        }
        if records.is_empty()
            && let Some(e) = files.first_error
        {
            return Err(e);
        }
        tracing::info!("{} profile events", records.len());
        out.results = Results::List(records);
        Ok(out)
    }
}

/// `ProfileEvents` is a list of one-key dictionaries `{profile id: {timestamp, operation,
/// process, …}}`; each becomes a record with the inner keys lower-cased.
fn parse(plist: &plist::Value) -> Vec<Map<String, Value>> {
    let events = plist
        .as_dictionary()
        .and_then(|d| d.get("ProfileEvents"))
        .and_then(plist::Value::as_array);
    let mut out = Vec::new();
    for event in events.into_iter().flatten() {
        let Some((profile_id, details)) = event.as_dictionary().and_then(|d| d.iter().next())
        else {
            continue;
        };
        let mut r = Map::new();
        r.insert("profile_id".into(), profile_id.clone().into());
        r.insert("timestamp".into(), "".into());
        r.insert("operation".into(), "".into());
        r.insert("process".into(), "".into());
        for (key, value) in details.as_dictionary().into_iter().flatten() {
            let key = key.to_lowercase();
            let value = match (key.as_str(), value) {
                ("timestamp", plist::Value::Date(d)) => Value::String(plist_date_iso(d)),
                _ => plist_to_json(value),
            };
            r.insert(key, value);
        }
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{fixture, indicators, list, run_at, with_file, with_plist};
    use plist::{Dictionary, Value as P};
    use portcullis_indicators::Indicators;

    const DOMAIN: &str = "SysSharedContainerDomain-systemgroup.com.apple.configurationprofiles";

    fn event(profile: &str, process: &str, operation: &str) -> P {
        let mut inner = Dictionary::new();
        inner.insert(
            "timestamp".into(),
            P::Date(plist::Date::from(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            )),
        );
        inner.insert("operation".into(), operation.into());
        inner.insert("process".into(), process.into());
        inner.insert("Extra".into(), 7.into());
        let mut outer = Dictionary::new();
        outer.insert(profile.into(), P::Dictionary(inner));
        P::Dictionary(outer)
    }

    #[test]
    fn every_event_is_reported_and_matched() {
        let mut top = Dictionary::new();
        top.insert(
            "ProfileEvents".into(),
            P::Array(vec![
                event("com.example.profile", "/usr/libexec/profiled", "install"),
                event("com.evil.profile", "/private/var/tmp/bh", "remove"),
            ]),
        );
        let (_dir, root) = with_plist(DOMAIN, RELATIVE_PATH, &P::Dictionary(top));
        let ind = indicators(&["[process:name = 'bh']"]);
        let out = run_at(&ProfileEvents, &root, &ind).unwrap();
        let results = list(&out);
        assert_eq!(
            results[0],
            serde_json::json!({"profile_id": "com.example.profile",
                "timestamp": "2023-11-14 22:13:20.000000", "operation": "install",
                "process": "/usr/libexec/profiled", "extra": 7})
        );
        assert_eq!(out.timeline.len(), 2);
        assert_eq!(
            out.timeline[0].data,
            "Process /usr/libexec/profiled started operation install of profile com.example.profile"
        );
        let levels: Vec<Level> = out.alerts.iter().map(|a| a.level).collect();
        assert_eq!(levels, [Level::Low, Level::Low, Level::Critical]);
        assert_eq!(
            out.alerts[0].message,
            "On 2023-11-14 22:13:20.000000 process \"/usr/libexec/profiled\" started operation \
             \"install\" of profile \"com.example.profile\""
        );
        assert_eq!(out.alerts[2].matched_field.as_deref(), Some("process"));
    }

    #[test]
    fn fixture_has_no_profile_events() {
        let Some(root) = fixture() else { return };
        assert!(matches!(
            run_at(&ProfileEvents, &root, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }

    #[test]
    fn garbage_plist_is_an_error_naming_the_file() {
        let (_dir, root) = with_file(DOMAIN, RELATIVE_PATH, b"bplist00 nope");
        let err = run_at(&ProfileEvents, &root, &Indicators::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&crate::backup::file_id(DOMAIN, RELATIVE_PATH)),
            "{err}"
        );
        // A plist without events yields no records, not an error.
        let (_dir, root) = with_plist(DOMAIN, RELATIVE_PATH, &P::Dictionary(Dictionary::new()));
        assert!(
            run_at(&ProfileEvents, &root, &Indicators::new())
                .unwrap()
                .results
                .is_empty()
        );
    }
}
