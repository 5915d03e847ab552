//! `MCProfileEvents.plist`: which process installed or removed which configuration profile,
//! and when. Profile changes are rare on a personal phone, so every one is worth a look.

use portcullis_report::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::{Map, Value};

use super::datausage::py_str;
use crate::values::{plist_date_iso, plist_to_json};
use crate::{Context, Module, ModuleError};

const RELATIVE_PATH: &str = "Library/ConfigurationProfiles/MCProfileEvents.plist";

pub struct ProfileEvents;

impl Module for ProfileEvents {
    fn name(&self) -> &'static str {
        "ProfileEvents"
    }

    fn slug(&self) -> &'static str {
        "profile_events"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let files: Vec<_> = ctx
            .backup
            .find_by_relative_path(RELATIVE_PATH)?
            .into_iter()
            .filter(|e| ctx.backup.has_file(&e.file_id))
            .collect();
        if files.is_empty() {
            return Err(ModuleError::NotFound("MCProfileEvents.plist".into()));
        }

        let mut out = ModuleOutput::default();
        let mut records = Vec::new();
        let mut first_error = None;
        for file in &files {
            let source = crate::backup::stored_path(&file.file_id);
            let plist = match ctx.backup.read_plist(&file.file_id) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("{} ({}): {e}", file.domain, file.file_id);
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            for record in parse(&plist) {
                let text = |k: &str| record.get(k).map_or("None".to_string(), py_str);
                let (when, process, operation, profile) = (
                    text("timestamp"),
                    text("process"),
                    text("operation"),
                    text("profile_id"),
                );
                out.push_timeline(TimelineEvent {
                    timestamp: when.clone(),
                    module: self.name().to_string(),
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
                    .with_source(&source),
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
                    out.alerts.push(
                        Alert::indicator(Level::Critical, self.slug(), hit, field, when, event)
                            .with_source(&source),
                    );
                }
                records.push(Value::Object(record));
            }
        }
        if records.is_empty()
            && let Some(e) = first_error
        {
            return Err(e.into());
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
    use crate::Backup;
    use crate::builder::BackupBuilder;
    use plist::{Dictionary, Value as P};
    use portcullis_indicators::Indicators;
    use std::path::{Path, PathBuf};

    const DOMAIN: &str = "SysSharedContainerDomain-systemgroup.com.apple.configurationprofiles";

    fn fixture() -> Option<PathBuf> {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/mvt/ios_backup");
        p.exists().then_some(p)
    }

    fn run(root: &Path, indicators: &Indicators) -> Result<ModuleOutput, ModuleError> {
        let backup = Backup::open(root).unwrap();
        ProfileEvents.run(&Context {
            backup: &backup,
            indicators,
        })
    }

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
        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .plist(DOMAIN, RELATIVE_PATH, &P::Dictionary(top))
            .unwrap()
            .finish()
            .unwrap();
        let mut ind = Indicators::new();
        let bundle = portcullis_indicators::test_bundle_json("Bad", &["[process:name = 'bh']"]);
        ind.load_bundle(bundle.as_bytes(), Path::new("t.stix2"))
            .unwrap();
        let out = run(&root, &ind).unwrap();
        let Results::List(results) = &out.results else {
            panic!()
        };
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
        let Some(root) = fixture() else {
            println!("skipped: ../shared fixtures not present");
            return;
        };
        assert!(matches!(
            run(&root, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }

    #[test]
    fn garbage_plist_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .file(DOMAIN, RELATIVE_PATH, b"bplist00 nope")
            .unwrap()
            .finish()
            .unwrap();
        let err = run(&root, &Indicators::new()).unwrap_err().to_string();
        assert!(
            err.contains(&crate::backup::file_id(DOMAIN, RELATIVE_PATH)),
            "{err}"
        );
        // A plist without events yields no records, not an error.
        let dir = tempfile::tempdir().unwrap();
        let root = BackupBuilder::new(dir.path())
            .unwrap()
            .plist(DOMAIN, RELATIVE_PATH, &P::Dictionary(Dictionary::new()))
            .unwrap()
            .finish()
            .unwrap();
        assert!(run(&root, &Indicators::new()).unwrap().results.is_empty());
    }
}
