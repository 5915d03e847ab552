//! Installed configuration profiles (`profile-*` files of the configuration-profiles system
//! group). A profile can install certificates, VPNs or MDM control, and spyware operators have
//! used notification-settings profiles to hide their alerts.

use portcullis_core::{Alert, Level, ModuleOutput, Results, TimelineEvent};
use serde_json::{Map, Value};

use super::common::read_stored_plists;
use crate::values::{plist_date_iso, plist_to_json, py_str};
use crate::{Context, Module, ModuleError};

const DOMAIN: &str = "SysSharedContainerDomain-systemgroup.com.apple.configurationprofiles";

const NOTIFICATION_SETTINGS: &str = "com.apple.notificationsettings";

pub struct ConfigurationProfiles;

impl Module<Context<'_>> for ConfigurationProfiles {
    fn name(&self) -> &'static str {
        "ConfigurationProfiles"
    }

    fn slug(&self) -> &'static str {
        "configuration_profiles"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let entries = ctx
            .backup
            .find_by_domain(DOMAIN)?
            .into_iter()
            .filter(|e| {
                let base = e.relative_path.rsplit('/').next().unwrap_or("");
                base.starts_with("profile-")
            })
            .collect();
        let profiles = read_stored_plists(ctx.backup, entries, "configuration profiles")?;

        let mut out = ModuleOutput::spilling(ctx.spool);
        let mut records = Vec::new();
        for (entry, source, plist) in &profiles.files {
            let install_date = match plist.as_dictionary().and_then(|d| d.get("InstallDate")) {
                Some(plist::Value::Date(d)) => plist_date_iso(d),
                _ => String::new(),
            };
            let mut record = Map::new();
            record.insert("file_id".into(), entry.file_id.clone().into());
            record.insert("relative_path".into(), entry.relative_path.clone().into());
            record.insert("domain".into(), entry.domain.clone().into());
            // Data values (certificates, push tokens, keychain references) become base64.
            record.insert("plist".into(), plist_to_json(plist));
            record.insert("install_date".into(), install_date.clone().into());

            let payload = |k: &str| py_str(record.get("plist").and_then(|p| p.get(k)));
            if !install_date.is_empty() {
                out.push_timeline(TimelineEvent {
                    timestamp: install_date.clone(),
                    plugin: self.name().to_string(),
                    event: "configuration_profile_install".into(),
                    data: format!(
                        "{} installed: {} - {}: {}",
                        payload("PayloadType"),
                        payload("PayloadUUID"),
                        payload("PayloadDisplayName"),
                        payload("PayloadDescription"),
                    ),
                });
            }
            out.alerts.extend(
                check(&record, ctx, self.slug(), &install_date).map(|a| a.with_source(source)),
            );
            records.push(Value::Object(record));
        }
        if records.is_empty()
            && let Some(e) = profiles.first_error
        {
            return Err(e);
        }
        tracing::info!("{} configuration profiles", records.len());
        out.results = Results::List(records);
        Ok(out)
    }
}

/// A known-bad profile UUID; otherwise a notification-settings payload. Unlike MVT (which
/// crashes on this branch and only reaches it with indicators loaded), the payload heuristic
/// always runs and looks at every payload, not only the first.
fn check(record: &Map<String, Value>, ctx: &Context<'_>, slug: &str, when: &str) -> Option<Alert> {
    let plist = record.get("plist").unwrap_or(&Value::Null);
    let name = py_str(plist.get("PayloadDisplayName"));
    let event = || Value::Object(record.clone());
    if let Some(uuid) = plist.get("PayloadUUID").and_then(Value::as_str)
        && !uuid.is_empty()
        && let Some(hit) = ctx.indicators.check_profile_id(uuid)
    {
        return Some(
            Alert::indicator(Level::Critical, slug, hit, "PayloadUUID", when, event())
                .with_message(format!(
                    "Found a known malicious configuration profile \"{name}\" with UUID \"{uuid}\""
                )),
        );
    }
    let notifications = plist
        .get("PayloadContent")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|p| p.get("PayloadType").and_then(Value::as_str) == Some(NOTIFICATION_SETTINGS));
    notifications.then(|| {
        Alert::heuristic(
            Level::Medium,
            slug,
            format!(
                "Found a potentially suspicious configuration profile \"{name}\" with payload \
                 type {NOTIFICATION_SETTINGS}"
            ),
            when,
            event(),
        )
        .with_advice(
            "A configuration profile on this phone changes how notifications are shown, which \
             spyware has used to hide its traces. If you did not install it on purpose (Settings \
             > General > VPN & Device Management), ask your security office before removing it.",
        )
        .with_field("PayloadType", NOTIFICATION_SETTINGS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{built, fixture, indicators, list, run_at, with_file};
    use plist::{Dictionary, Value as P};
    use portcullis_indicators::Indicators;
    use std::path::PathBuf;

    fn profile(uuid: &str, name: &str, payload_type: &str) -> P {
        let mut content = Dictionary::new();
        content.insert("PayloadType".into(), payload_type.into());
        content.insert("PERSISTENT_REF".into(), P::Data(vec![1, 2, 3]));
        let mut d = Dictionary::new();
        d.insert("PayloadType".into(), "Configuration".into());
        d.insert("PayloadUUID".into(), uuid.into());
        d.insert("PayloadDisplayName".into(), name.into());
        d.insert(
            "PayloadContent".into(),
            P::Array(vec![P::Dictionary(content)]),
        );
        d.insert(
            "SignerCerts".into(),
            P::Array(vec![P::Data(b"cert".to_vec())]),
        );
        d.insert(
            "InstallDate".into(),
            P::Date(plist::Date::from(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            )),
        );
        P::Dictionary(d)
    }

    fn two_profiles() -> (tempfile::TempDir, PathBuf) {
        built(|b| {
            b.plist(
                DOMAIN,
                "Library/ConfigurationProfiles/profile-aaa.stub",
                &profile(
                    "76DAB334-7E17-475D-A5D6-0794EB5818A5",
                    "Evil",
                    "com.apple.wifi.managed",
                ),
            )?
            .plist(
                DOMAIN,
                "Library/ConfigurationProfiles/profile-bbb.stub",
                &profile("B-UUID", "Quiet", NOTIFICATION_SETTINGS),
            )?
            .plist(
                DOMAIN,
                "Library/ConfigurationProfiles/ProfileTruth.plist",
                &P::Boolean(true),
            )
        })
    }

    #[test]
    fn records_profiles_and_flags_them() {
        let (_dir, root) = two_profiles();
        let out = run_at(&ConfigurationProfiles, &root, &Indicators::new()).unwrap();
        let results = list(&out);
        assert_eq!(results.len(), 2);
        let r = &results[0];
        assert_eq!(
            r["relative_path"],
            "Library/ConfigurationProfiles/profile-aaa.stub"
        );
        assert_eq!(r["install_date"], "2023-11-14 22:13:20.000000");
        assert_eq!(r["plist"]["SignerCerts"][0], "Y2VydA==");
        assert_eq!(r["plist"]["PayloadContent"][0]["PERSISTENT_REF"], "AQID");
        assert_eq!(out.timeline.len(), 2);
        assert_eq!(
            out.timeline[0].data,
            "Configuration installed: 76DAB334-7E17-475D-A5D6-0794EB5818A5 - Evil: None"
        );
        // The notification heuristic runs without indicators.
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Medium);
        assert_eq!(
            out.alerts[0].message,
            "Found a potentially suspicious configuration profile \"Quiet\" with payload type \
             com.apple.notificationsettings"
        );

        let ind =
            indicators(&["[configuration-profile:id = '76DAB334-7E17-475D-A5D6-0794EB5818A5']"]);
        let out = run_at(&ConfigurationProfiles, &root, &ind).unwrap();
        assert_eq!(out.alerts.len(), 2);
        assert_eq!(out.alerts[0].level, Level::Critical);
        assert_eq!(
            out.alerts[0].message,
            "Found a known malicious configuration profile \"Evil\" with UUID \
             \"76DAB334-7E17-475D-A5D6-0794EB5818A5\""
        );
        assert!(out.alerts[0].source.as_deref().unwrap().contains('/'));
    }

    #[test]
    fn fixture_has_no_profiles() {
        let Some(root) = fixture() else { return };
        assert!(matches!(
            run_at(&ConfigurationProfiles, &root, &Indicators::new()),
            Err(ModuleError::NotFound(_))
        ));
    }

    #[test]
    fn garbage_profile_is_an_error_naming_the_file() {
        let rel = "Library/ConfigurationProfiles/profile-x.stub";
        let (_dir, root) = with_file(DOMAIN, rel, b"\xff\xfe garbage");
        let err = run_at(&ConfigurationProfiles, &root, &Indicators::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(&crate::backup::file_id(DOMAIN, rel)), "{err}");
    }
}
