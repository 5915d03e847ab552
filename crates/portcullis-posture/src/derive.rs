//! The fact table rules are evaluated on: every known [`DeviceFacts`] field under its own name,
//! plus *derived* facts (OS currency, ages, filtered app lists) computed here. A derived fact is
//! left out (unknown) whenever an input it needs is unknown.

use std::collections::BTreeSet;

use jiff::civil::Date;
use serde_json::{Value, json};

use crate::currency::Snapshot;
use crate::facts::{DeviceFacts, Fact, Platform};
use crate::rules::{FactTable, FactValue};
use crate::version::{days_between, parse_date};

/// Derived facts (see `RULES.md` for their definitions).
pub const DERIVED: &[&str] = &[
    "platform",
    "today",
    "os_data_date",
    "model_label",
    "ios_model_supported",
    "ios_latest_for_model",
    "ios_latest_security_for_model",
    "ios_behind_latest",
    "ios_newest_major",
    "ios_newer_major_available",
    "ios_missing_exploited_fixes",
    "ios_certificate_release",
    "ios_below_certificate_release",
    "effective_patch",
    "patch_age_days",
    "patch_missing_exploited_fixes",
    "android_release_supported",
    "model_past_eol",
    "backup_age_days",
    "app_ids",
    "apps_sideloaded",
    "apps_alt_store",
    "apps_disabled",
    "apps_many_permissions",
    "profile_payload_types",
    "profiles_root_ca",
    "profiles_network",
    "profiles_notifications",
    "profiles_all",
    "profile_events_recent",
    "tcc_sensitive_apps",
    "tcc_sensitive_app_count",
    "accessibility_third_party",
    "notification_listeners_third_party",
    "device_admins_unexpected",
    "matched",
];

/// Every fact name a rule may use: the [`DeviceFacts`] fields and [`DERIVED`].
pub fn fact_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = DEVICE_FIELDS.to_vec();
    names.extend_from_slice(DERIVED);
    names
}

/// [`DeviceFacts`] field names (checked against the struct by a test).
pub const DEVICE_FIELDS: &[&str] = &[
    "device_name",
    "model",
    "manufacturer",
    "os_version",
    "os_build",
    "sdk_level",
    "security_patch",
    "vendor_security_patch",
    "acquired",
    "passcode_set",
    "screen_lock",
    "lock_timeout_secs",
    "backup_encrypted",
    "storage_encrypted",
    "lockdown_mode",
    "advanced_protection",
    "auto_updates",
    "messages_kept_forever",
    "profiles",
    "profile_events",
    "mdm_enrolled",
    "mdm_server",
    "supervised",
    "supervising_organization",
    "device_admins",
    "apps",
    "jailbreak_files",
    "permission_grants",
    "accessibility_services",
    "notification_listeners",
    "default_sms_app",
    "default_keyboard",
    "apps_allowed_to_install",
    "unknown_sources",
    "root_binaries",
    "verified_boot_state",
    "bootloader_locked",
    "oem_unlock_allowed",
    "build_type",
    "build_tags",
    "debuggable",
    "selinux",
    "knox_warranty_tripped",
    "adb_enabled",
    "developer_options",
    "adb_over_network",
    "adb_trusted_keys",
    "play_protect",
    "private_dns_mode",
    "private_dns_host",
    "security_reports",
];

/// iOS installers that are the App Store or device management (as MVT judges them).
const IOS_TRUSTED_INSTALLERS: &[&str] = &[
    "com.apple.AppStore",
    "com.apple.AppStore.ProductPageExtension",
    "com.apple.dmd",
    "dmd",
];

/// Android installers meaning "installed from a file, a browser or over adb".
const ANDROID_SIDELOAD_INSTALLERS: &[&str] = &[
    "null",
    "",
    "com.google.android.packageinstaller",
    "com.android.packageinstaller",
    "com.android.shell",
    "com.android.chrome",
    "org.mozilla.firefox",
    "com.sec.android.app.sbrowser",
];

/// Android alternative app stores.
const ANDROID_ALT_STORES: &[&str] = &[
    "org.fdroid.fdroid",
    "org.fdroid.basic",
    "com.aurora.store",
    "com.apkpure.aegon",
    "com.uptodown",
    "com.aptoide.pt",
    "cm.aptoide.pt",
];

/// Accessibility services that are expected (screen readers, switch access).
const ACCESSIBILITY_ALLOWED: &[&str] = &[
    "com.google.android.marvin.talkback",
    "com.android.talkback",
    "com.google.android.accessibility.switchaccess",
    "com.samsung.accessibility",
    "com.samsung.android.accessibility.talkback",
];

/// Notification listeners that are part of the phone or Google services.
const LISTENERS_ALLOWED: &[&str] = &[
    "com.android.systemui",
    "com.google.android.gms",
    "com.google.android.as",
    "com.google.android.apps.wearables.maestro.companion",
    "com.samsung.android.app.aodservice",
];

/// Device administrators that are normal (Google Find My Device).
const ADMINS_ALLOWED: &[&str] = &["com.google.android.gms"];

/// Android runtime permissions MVT counts as dangerous.
const DANGEROUS_PERMISSIONS: &[&str] = &[
    "android.permission.READ_CALENDAR",
    "android.permission.WRITE_CALENDAR",
    "android.permission.CAMERA",
    "android.permission.READ_CONTACTS",
    "android.permission.WRITE_CONTACTS",
    "android.permission.GET_ACCOUNTS",
    "android.permission.ACCESS_FINE_LOCATION",
    "android.permission.ACCESS_COARSE_LOCATION",
    "android.permission.ACCESS_BACKGROUND_LOCATION",
    "android.permission.RECORD_AUDIO",
    "android.permission.READ_PHONE_STATE",
    "android.permission.READ_PHONE_NUMBERS",
    "android.permission.CALL_PHONE",
    "android.permission.ANSWER_PHONE_CALLS",
    "android.permission.READ_CALL_LOG",
    "android.permission.WRITE_CALL_LOG",
    "android.permission.ADD_VOICEMAIL",
    "android.permission.USE_SIP",
    "android.permission.PROCESS_OUTGOING_CALLS",
    "android.permission.BODY_SENSORS",
    "android.permission.SEND_SMS",
    "android.permission.RECEIVE_SMS",
    "android.permission.READ_SMS",
    "android.permission.RECEIVE_WAP_PUSH",
    "android.permission.RECEIVE_MMS",
    "android.permission.READ_EXTERNAL_STORAGE",
    "android.permission.WRITE_EXTERNAL_STORAGE",
    "android.permission.READ_MEDIA_IMAGES",
    "android.permission.READ_MEDIA_VIDEO",
    "android.permission.READ_MEDIA_AUDIO",
    "android.permission.POST_NOTIFICATIONS",
];

/// At or above this many dangerous permissions an app is flagged (MVT's threshold).
const MANY_PERMISSIONS: usize = 10;

const ROOT_CA_PAYLOAD: &str = "com.apple.security.root";
const NETWORK_PAYLOADS: &[&str] = &[
    "com.apple.vpn.managed",
    "com.apple.vpn.managed.applayer",
    "com.apple.proxy.http.global",
    "com.apple.dnsSettings.managed",
    "com.apple.webcontent-filter",
];
const NOTIFICATION_PAYLOAD: &str = "com.apple.notificationsettings";

/// TCC services that reveal what a person says, sees or knows.
const SENSITIVE_TCC: &[&str] = &[
    "kTCCServiceMicrophone",
    "kTCCServiceCamera",
    "kTCCServiceAddressBook",
    "kTCCServicePhotos",
    "kTCCServiceCalendar",
];

/// Profile install/removal events within this many days of the acquisition are "recent".
const RECENT_DAYS: i64 = 30;

struct Builder {
    table: FactTable,
}

impl Builder {
    fn put(&mut self, name: &str, value: Value, source: impl Into<String>) {
        self.table.insert(
            name.to_string(),
            FactValue {
                value,
                source: source.into(),
            },
        );
    }
}

fn source_of<T>(f: &Option<Fact<T>>) -> Option<&str> {
    f.as_ref().map(|f| f.source.as_str())
}

fn join_sources(parts: &[Option<&str>]) -> String {
    let mut seen = Vec::new();
    for p in parts.iter().flatten() {
        if !p.is_empty() && !seen.contains(p) {
            seen.push(*p);
        }
    }
    seen.join("; ")
}

/// Package of an Android component `pkg/cls`.
fn package(component: &str) -> &str {
    component.split('/').next().unwrap_or(component).trim()
}

/// Components (`pkg/cls`) not allow-listed and not from a system app; `None` when some could
/// not be judged because the app list is unknown.
fn third_party(
    components: &[String],
    allowed: &[&str],
    facts: &DeviceFacts,
) -> Option<Vec<String>> {
    let system: Option<BTreeSet<&str>> = facts.apps.as_ref().map(|a| {
        a.value
            .iter()
            .filter(|app| app.system == Some(true))
            .map(|app| app.id.as_str())
            .collect()
    });
    let mut out = Vec::new();
    let mut unjudged = false;
    for c in components {
        let pkg = package(c);
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(pkg)) {
            continue;
        }
        match &system {
            Some(s) if s.contains(pkg) => {}
            Some(_) => out.push(pkg.to_string()),
            None => unjudged = true,
        }
    }
    out.dedup();
    if !out.is_empty() || !unjudged {
        Some(out)
    } else {
        None
    }
}

/// Builds the fact table for `facts`, judged against `snapshot` on `today`.
pub fn fact_table(facts: &DeviceFacts, snapshot: &Snapshot, today: Date) -> FactTable {
    let mut b = Builder {
        table: FactTable::new(),
    };
    for (name, v) in facts.to_json_map() {
        if let Value::Object(f) = v
            && let (Some(value), Some(Value::String(source))) = (f.get("value"), f.get("source"))
        {
            b.put(&name, value.clone(), source.clone());
        }
    }
    b.put("platform", facts.platform.as_str().into(), "input");
    b.put("today", today.to_string().into(), "analysis date");
    let model = facts.model.as_ref().map(|m| m.value.as_str());
    let version = facts.os_version.as_ref().map(|v| v.value.as_str());
    // A model Apple no longer updates is judged by the legacy table: its date, not the
    // feed's, is the one the verdicts quote.
    let legacy = &snapshot.ios.legacy;
    let (os_data, data_date) = match model {
        Some(m) if facts.platform == Platform::Ios && legacy.models.contains_key(m) => (
            format!("legacy-model table of {}", legacy.as_of),
            legacy.as_of.clone(),
        ),
        _ => (
            format!("OS data of {}", snapshot.date),
            snapshot.date.clone(),
        ),
    };
    b.put("os_data_date", data_date.into(), os_data.clone());

    // Model in words.
    if let Some(m) = model {
        let name = match facts.platform {
            Platform::Ios => snapshot.ios_model_name(m),
            Platform::Android => facts.manufacturer.as_ref().map(|f| f.value.clone()),
        };
        let label = match name {
            Some(n) if facts.platform == Platform::Ios => format!("{n} ({m})"),
            Some(maker) => format!("{maker} {m}"),
            None => m.to_string(),
        };
        b.put(
            "model_label",
            label.into(),
            source_of(&facts.model).unwrap_or(""),
        );
    }

    // iOS currency.
    if facts.platform == Platform::Ios {
        let a = snapshot.assess_ios(model, version);
        let src = join_sources(&[
            source_of(&facts.model),
            source_of(&facts.os_version),
            Some(&os_data),
        ]);
        if let Some(s) = a.supported {
            b.put("ios_model_supported", s.into(), src.clone());
        }
        if let Some(l) = a.latest_for_model {
            b.put("ios_latest_for_model", l.into(), src.clone());
        }
        if let Some(l) = a.latest_security_for_model {
            b.put("ios_latest_security_for_model", l.into(), src.clone());
        }
        if let Some(x) = a.behind_latest {
            b.put("ios_behind_latest", x.into(), src.clone());
        }
        if let Some(x) = a.newest_major {
            b.put("ios_newest_major", x.into(), src.clone());
        }
        if let Some(x) = a.newer_major_available {
            b.put("ios_newer_major_available", x.into(), src.clone());
        }
        if let Some(x) = a.missing_exploited {
            b.put("ios_missing_exploited_fixes", json!(x), src.clone());
        }
        if let Some(x) = a.certificate_release {
            b.put("ios_certificate_release", x.into(), src.clone());
        }
        if let Some(x) = a.below_certificate_release {
            b.put("ios_below_certificate_release", x.into(), src.clone());
        }
    }

    // Android currency: the older of the system and vendor patch levels counts.
    if facts.platform == Platform::Android {
        let patches: Vec<&Fact<String>> = [&facts.security_patch, &facts.vendor_security_patch]
            .into_iter()
            .flatten()
            .filter(|f| parse_date(&f.value).is_some())
            .collect();
        if let Some(oldest) = patches.iter().min_by(|a, b| a.value.cmp(&b.value)) {
            let src = oldest.source.clone();
            b.put("effective_patch", oldest.value.clone().into(), src.clone());
            if let Some(d) = parse_date(&oldest.value) {
                b.put("patch_age_days", days_between(d, today).into(), src.clone());
            }
            if let Some(cves) = snapshot.android_missing_exploited(&oldest.value) {
                b.put(
                    "patch_missing_exploited_fixes",
                    json!(cves),
                    join_sources(&[Some(&src), Some(&os_data)]),
                );
            }
        }
        if let Some(sdk) = &facts.sdk_level
            && let Some(s) = snapshot.android_release_supported(sdk.value, today)
        {
            b.put(
                "android_release_supported",
                s.into(),
                join_sources(&[Some(&sdk.source), Some(&os_data)]),
            );
        }
        if let Some(m) = &facts.model
            && let Some(eol) = snapshot.android_model_past_eol(&m.value, today)
        {
            b.put(
                "model_past_eol",
                eol.into(),
                join_sources(&[Some(&m.source), Some(&os_data)]),
            );
        }
    }

    if let Some(acq) = &facts.acquired
        && let Some(d) = parse_date(&acq.value)
    {
        b.put(
            "backup_age_days",
            days_between(d, today).into(),
            acq.source.clone(),
        );
    }

    // Apps.
    if let Some(apps) = &facts.apps {
        let src = apps.source.clone();
        let label = |a: &crate::facts::App| match &a.name {
            Some(n) if !n.is_empty() && n != &a.id => format!("{n} ({})", a.id),
            _ => a.id.clone(),
        };
        b.put(
            "app_ids",
            json!(apps.value.iter().map(|a| a.id.clone()).collect::<Vec<_>>()),
            src.clone(),
        );
        let judged: Vec<(&crate::facts::App, bool)> = apps
            .value
            .iter()
            .filter_map(|a| {
                let bad = match facts.platform {
                    Platform::Ios => match (a.store_identity, &a.installer) {
                        (Some(false), _) => Some(true),
                        (_, Some(i)) => Some(!IOS_TRUSTED_INSTALLERS.contains(&i.as_str())),
                        (Some(true), None) => Some(false),
                        (None, None) => None,
                    },
                    Platform::Android => match (a.system, &a.installer) {
                        (Some(true), _) => Some(false),
                        (Some(false), Some(i)) => Some(
                            ANDROID_SIDELOAD_INSTALLERS
                                .iter()
                                .any(|s| s.eq_ignore_ascii_case(i.trim())),
                        ),
                        _ => None,
                    },
                };
                bad.map(|bad| (a, bad))
            })
            .collect();
        if !judged.is_empty() || apps.value.is_empty() {
            let list: Vec<String> = judged
                .iter()
                .filter(|(_, bad)| *bad)
                .map(|(a, _)| label(a))
                .collect();
            b.put("apps_sideloaded", json!(list), src.clone());
        }
        if facts.platform == Platform::Android {
            let with_installer: Vec<_> = apps
                .value
                .iter()
                .filter(|a| a.installer.is_some())
                .collect();
            if !with_installer.is_empty() || apps.value.is_empty() {
                let alt: Vec<String> = with_installer
                    .iter()
                    .filter(|a| {
                        let i = a.installer.as_deref().unwrap_or("");
                        ANDROID_ALT_STORES.iter().any(|s| s.eq_ignore_ascii_case(i))
                    })
                    .map(|a| label(a))
                    .collect();
                b.put("apps_alt_store", json!(alt), src.clone());
            }
        }
        if apps.value.iter().any(|a| a.disabled.is_some()) {
            let disabled: Vec<String> = apps
                .value
                .iter()
                .filter(|a| a.disabled == Some(true))
                .map(|a| a.id.clone())
                .collect();
            b.put("apps_disabled", json!(disabled), src.clone());
        }
        if apps.value.iter().any(|a| a.permissions.is_some()) {
            let many: Vec<String> = apps
                .value
                .iter()
                .filter(|a| {
                    a.permissions.as_ref().is_some_and(|p| {
                        p.iter()
                            .filter(|p| DANGEROUS_PERMISSIONS.contains(&p.as_str()))
                            .count()
                            >= MANY_PERMISSIONS
                    })
                })
                .map(label)
                .collect();
            b.put("apps_many_permissions", json!(many), src.clone());
        }
    }

    // Configuration profiles.
    if let Some(profiles) = &facts.profiles {
        let src = profiles.source.clone();
        let with = |types: &[&str]| -> Vec<String> {
            profiles
                .value
                .iter()
                .filter(|p| p.payload_types.iter().any(|t| types.contains(&t.as_str())))
                .map(|p| p.label())
                .collect()
        };
        let mut all_types: Vec<String> = profiles
            .value
            .iter()
            .flat_map(|p| p.payload_types.iter().cloned())
            .collect();
        all_types.sort();
        all_types.dedup();
        b.put("profile_payload_types", json!(all_types), src.clone());
        b.put(
            "profiles_root_ca",
            json!(with(&[ROOT_CA_PAYLOAD])),
            src.clone(),
        );
        b.put(
            "profiles_network",
            json!(with(NETWORK_PAYLOADS)),
            src.clone(),
        );
        b.put(
            "profiles_notifications",
            json!(with(&[NOTIFICATION_PAYLOAD])),
            src.clone(),
        );
        b.put(
            "profiles_all",
            json!(profiles.value.iter().map(|p| p.label()).collect::<Vec<_>>()),
            src,
        );
    }
    if let Some(events) = &facts.profile_events {
        let reference = facts
            .acquired
            .as_ref()
            .and_then(|a| parse_date(&a.value))
            .unwrap_or(today);
        let recent: Vec<String> = events
            .value
            .iter()
            .filter(|e| {
                parse_date(&e.timestamp).is_some_and(|d| {
                    let age = days_between(d, reference);
                    (0..=RECENT_DAYS).contains(&age)
                })
            })
            .map(|e| {
                format!(
                    "{} {} {}",
                    e.timestamp.get(..10).unwrap_or(&e.timestamp),
                    e.operation,
                    e.profile
                )
            })
            .collect();
        b.put(
            "profile_events_recent",
            json!(recent),
            events.source.clone(),
        );
    }

    // Privacy permissions (iOS TCC).
    if let Some(grants) = &facts.permission_grants {
        let mut apps: Vec<String> = grants
            .value
            .iter()
            .filter(|g| SENSITIVE_TCC.contains(&g.service.as_str()))
            .map(|g| g.app.clone())
            .collect();
        apps.sort();
        apps.dedup();
        b.put(
            "tcc_sensitive_app_count",
            apps.len().into(),
            grants.source.clone(),
        );
        b.put("tcc_sensitive_apps", json!(apps), grants.source.clone());
    }

    // Android components that can watch or control the phone.
    let components = [
        (
            &facts.accessibility_services,
            ACCESSIBILITY_ALLOWED,
            "accessibility_third_party",
        ),
        (
            &facts.notification_listeners,
            LISTENERS_ALLOWED,
            "notification_listeners_third_party",
        ),
        (
            &facts.device_admins,
            ADMINS_ALLOWED,
            "device_admins_unexpected",
        ),
    ];
    for (fact, allowed, name) in components {
        if let Some(f) = fact
            && let Some(list) = third_party(&f.value, allowed, facts)
        {
            let src = join_sources(&[Some(&f.source), source_of(&facts.apps)]);
            b.put(name, json!(list), src);
        }
    }
    b.table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_fields_match_the_struct() {
        let mut names: Vec<String> = DeviceFacts::default()
            .to_json_map()
            .keys()
            .filter(|k| *k != "platform")
            .cloned()
            .collect();
        names.sort();
        let mut listed: Vec<String> = DEVICE_FIELDS.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(names, listed);
        for d in DERIVED {
            assert!(!DEVICE_FIELDS.contains(d), "{d} is both");
        }
    }
}
