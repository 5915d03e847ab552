//! Device facts for the posture audit, taken from what the Android modules recorded (system
//! properties, packages, settings, root binaries, accessibility services). Each fact names the
//! module it came from; a fact the acquisition does not show stays unknown.

use portcullis_core::module::ModuleRun;
use portcullis_posture::{App, DeviceFacts, Fact, Platform};
use serde_json::Value;

fn records<'a>(runs: &'a [ModuleRun], slugs: &[&str]) -> Option<(&'static str, &'a [Value])> {
    runs.iter().find_map(|r| {
        if !slugs.contains(&r.slug) {
            return None;
        }
        match &r.outcome.as_ref().ok()?.results {
            portcullis_core::Results::List(list) if !list.is_empty() => Some((r.slug, &list[..])),
            _ => None,
        }
    })
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn flag(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(Value::as_bool)
}

/// Builds the device facts from the runs of an Android acquisition.
pub fn device_facts(runs: &[ModuleRun]) -> DeviceFacts {
    let mut facts = DeviceFacts::new(Platform::Android);
    if let Some((slug, props)) = records(runs, &["aqf_get_prop", "dumpsys_get_prop"]) {
        let prop = |name: &str| {
            props
                .iter()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
                .and_then(|p| text(p, "value"))
                .filter(|v| !v.is_empty())
        };
        let fact = |name: &str| prop(name).map(|v| Fact::new(v, format!("{slug}: {name}")));
        let bool_fact = |name: &str, truthy: &[&str]| {
            prop(name).map(|v| Fact::new(truthy.contains(&v.as_str()), format!("{slug}: {name}")))
        };
        facts.model = fact("ro.product.model");
        facts.manufacturer = fact("ro.product.manufacturer");
        facts.os_version = fact("ro.build.version.release");
        facts.os_build = fact("ro.build.display.id").or_else(|| fact("ro.build.id"));
        facts.sdk_level = prop("ro.build.version.sdk")
            .and_then(|v| v.parse().ok())
            .map(|v| Fact::new(v, format!("{slug}: ro.build.version.sdk")));
        facts.security_patch = fact("ro.build.version.security_patch");
        facts.vendor_security_patch = fact("ro.vendor.build.security_patch");
        facts.verified_boot_state = fact("ro.boot.verifiedbootstate");
        facts.bootloader_locked = bool_fact("ro.boot.flash.locked", &["1"]);
        facts.build_type = fact("ro.build.type");
        facts.build_tags = fact("ro.build.tags");
        facts.debuggable = bool_fact("ro.debuggable", &["1"]);
        facts.selinux = fact("ro.boot.selinux");
        facts.storage_encrypted = bool_fact("ro.crypto.state", &["encrypted"]);
    }
    if let Some((slug, packages)) = records(runs, &["aqf_packages", "dumpsys_packages"]) {
        let apps = packages
            .iter()
            .filter_map(|p| {
                let id = text(p, "name").or_else(|| text(p, "package_name"))?;
                Some(App {
                    id,
                    installer: text(p, "installer"),
                    system: flag(p, "system"),
                    disabled: flag(p, "disabled"),
                    ..App::default()
                })
            })
            .collect();
        facts.apps = Some(Fact::new(apps, slug));
    }
    if let Some((slug, binaries)) = records(runs, &["root_binaries"]) {
        let paths = binaries.iter().filter_map(|b| text(b, "path")).collect();
        facts.root_binaries = Some(Fact::new(paths, slug));
    }
    if let Some((slug, services)) = records(runs, &["dumpsys_accessibility"]) {
        let names = services.iter().filter_map(|s| text(s, "service")).collect();
        facts.accessibility_services = Some(Fact::new(names, slug));
    }
    settings_facts(runs, &mut facts);
    facts
}

/// Facts from AndroidQF's settings dumps (`aqf_settings`: namespace → key → value).
fn settings_facts(runs: &[ModuleRun], facts: &mut DeviceFacts) {
    let Some(settings) = runs
        .iter()
        .find_map(|r| match &r.outcome.as_ref().ok()?.results {
            portcullis_core::Results::Object(map) if r.slug == "aqf_settings" => Some(map),
            _ => None,
        })
    else {
        return;
    };
    let setting = |key: &str| {
        settings.iter().find_map(|(ns, values)| {
            let v = values.get(key)?;
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            Some((v, format!("aqf_settings: {ns}/{key}")))
        })
    };
    let on = |key: &str| setting(key).map(|(v, src)| Fact::new(v == "1", src));
    facts.adb_enabled = on("adb_enabled");
    facts.developer_options = on("development_settings_enabled");
    facts.play_protect = on("package_verifier_enable");
    facts.security_reports = on("send_security_reports");
    facts.unknown_sources = on("install_non_market_apps");
    facts.private_dns_mode = setting("private_dns_mode").map(|(v, s)| Fact::new(v, s));
    facts.private_dns_host = setting("private_dns_specifier").map(|(v, s)| Fact::new(v, s));
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::{ModuleOutput, Results};
    use serde_json::json;

    fn run(slug: &'static str, results: Results) -> ModuleRun {
        ModuleRun {
            class_name: "X",
            slug,
            outcome: Ok(ModuleOutput {
                results,
                ..ModuleOutput::default()
            }),
        }
    }

    #[test]
    fn facts_come_from_properties_packages_settings_and_root_binaries() {
        let props = vec![
            json!({"name": "ro.product.model", "value": "Pixel 8"}),
            json!({"name": "ro.build.version.security_patch", "value": "2024-05-05"}),
            json!({"name": "ro.boot.flash.locked", "value": "1"}),
            json!({"name": "ro.build.version.sdk", "value": "34"}),
        ];
        let mut settings = serde_json::Map::new();
        settings.insert(
            "global".into(),
            json!({"adb_enabled": "1", "package_verifier_enable": "0"}),
        );
        let runs = vec![
            run("aqf_get_prop", Results::List(props)),
            run(
                "aqf_packages",
                Results::List(vec![
                    json!({"name": "com.whatsapp", "installer": "null", "system": false}),
                ]),
            ),
            run(
                "root_binaries",
                Results::List(vec![json!({"path": "/system/bin/su"})]),
            ),
            run("aqf_settings", Results::Object(settings)),
        ];
        let f = device_facts(&runs);
        assert_eq!(f.model.unwrap().value, "Pixel 8");
        let patch = f.security_patch.unwrap();
        assert_eq!(patch.value, "2024-05-05");
        assert_eq!(
            patch.source,
            "aqf_get_prop: ro.build.version.security_patch"
        );
        assert!(f.bootloader_locked.unwrap().value);
        assert_eq!(f.sdk_level.unwrap().value, 34);
        assert_eq!(f.apps.unwrap().value[0].installer.as_deref(), Some("null"));
        assert_eq!(f.root_binaries.unwrap().value, ["/system/bin/su"]);
        assert!(f.adb_enabled.unwrap().value);
        assert!(!f.play_protect.unwrap().value);
        assert!(f.verified_boot_state.is_none(), "absent facts stay unknown");
    }
}
