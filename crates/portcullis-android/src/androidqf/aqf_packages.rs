//! `packages.json`: every installed package as AndroidQF lists it (kept as-is), how it was
//! installed, disabled protections, and packages, APK hashes or signing certificates matching
//! indicators.

use portcullis_core::{Alert, Level, ModuleOutput, Results};
use serde_json::Value;

use super::{heuristic, read_json_list, require};
use crate::reference::{
    BROWSER_INSTALLERS, ROOT_PACKAGES, SECURITY_PACKAGES, SYSTEM_UPDATE_PACKAGES,
    THIRD_PARTY_STORES,
};
use crate::{Context, Module, ModuleError};

/// AndroidQF writes the certificate hashes with capitalised keys.
const CERT_HASHES: [&str; 3] = ["Md5", "Sha1", "Sha256"];

pub struct AqfPackages;

impl AqfPackages {
    /// Heuristics on how the package came to be there and what is disabled.
    fn provenance(&self, pkg: &Value, source: &str, alerts: &mut Vec<Alert>) {
        let name = pkg.get("name").and_then(Value::as_str).unwrap_or_default();
        let mut flag = |level, message: String, advice: &str| {
            alerts.push(
                heuristic(level, self.slug(), message, "", pkg, source, advice)
                    .with_field("name", name),
            );
        };
        if ROOT_PACKAGES.contains(&name) {
            flag(
                Level::Medium,
                format!("Found an installed package related to rooting/jailbreaking: \"{name}\""),
                "An app used to root the phone, or to hide that it is rooted, is installed. Unless \
                 you rooted the phone yourself, ask your security office to examine it.",
            );
            return;
        }
        let installer = pkg
            .get("installer")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if THIRD_PARTY_STORES.contains(&installer) {
            flag(
                Level::Informational,
                format!(
                    "Found a package installed via a third party store (installer=\"{installer}\"): \"{name}\""
                ),
                "This app came from an app store other than Google Play. That is fine if you \
                 installed it on purpose; if you do not recognise it, tell your security office.",
            );
        } else if BROWSER_INSTALLERS.contains(&installer) {
            flag(
                Level::Medium,
                format!(
                    "Found a package installed via a browser (installer=\"{installer}\"): \"{name}\""
                ),
                "This app was installed from a downloaded file rather than an app store. If you \
                 did not install it yourself on purpose, tell your security office before \
                 removing it.",
            );
        } else if installer == "null" && pkg.get("system") == Some(&Value::Bool(false)) {
            flag(
                Level::Medium,
                format!(
                    "Found a non-system package installed via adb or another method: \"{name}\""
                ),
                "This app was installed from a computer or by another unusual method, not from an \
                 app store. If you do not know why it is there, tell your security office before \
                 removing it.",
            );
        }
        let disabled = pkg.get("disabled").and_then(Value::as_bool) == Some(true);
        if disabled && SECURITY_PACKAGES.contains(&name) {
            flag(
                Level::Medium,
                format!("Security package \"{name}\" disabled on the phone"),
                "A security component of the phone's maker is turned off. Unless your IT \
                 department did this, ask your security office to check the phone.",
            );
        }
        if disabled && SYSTEM_UPDATE_PACKAGES.contains(&name) {
            flag(
                Level::Medium,
                format!("System OTA update package \"{name}\" disabled on the phone"),
                "The system-update component is turned off, so the phone may miss security \
                 updates. Turn it back on in Settings > Apps, or ask your security office.",
            );
        }
    }

    /// Indicator checks: the package name, each APK's SHA-256, each signing certificate.
    fn indicators(&self, ctx: &Context<'_>, pkg: &Value, source: &str, alerts: &mut Vec<Alert>) {
        let hit = |field: &str, hit| {
            Alert::indicator(Level::Critical, self.slug(), hit, field, "", pkg.clone())
                .with_source(source)
        };
        if let Some(name) = pkg.get("name").and_then(Value::as_str)
            && let Some(found) = ctx.indicators.check_app_id(name)
        {
            alerts.push(hit("name", found));
        }
        let files = pkg
            .get("files")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for file in files {
            if let Some(sha256) = file.get("sha256").and_then(Value::as_str)
                && !sha256.is_empty()
                && let Some(found) = ctx.indicators.check_file_hash(sha256)
            {
                alerts.push(hit("files.sha256", found));
            }
            let cert = file.get("certificate");
            let cert_hit = CERT_HASHES.iter().find_map(|key| {
                let hash = cert?.get(*key)?.as_str().filter(|h| !h.is_empty())?;
                Some((*key, ctx.indicators.check_app_cert_hash(hash)?))
            });
            if let Some((key, found)) = cert_hit {
                alerts.push(hit(&format!("files.certificate.{key}"), found));
            }
        }
    }
}

impl Module<Context<'_>> for AqfPackages {
    fn name(&self) -> &'static str {
        "AQFPackages"
    }

    fn slug(&self) -> &'static str {
        "aqf_packages"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let file = require(ctx, "packages.json")?;
        let packages = read_json_list(ctx, file, "packages")?;
        let mut out = ModuleOutput::default();
        for pkg in packages.iter().filter(|p| p.is_object()) {
            self.provenance(pkg, &file.path, &mut out.alerts);
            self.indicators(ctx, pkg, &file.path, &mut out.alerts);
        }
        out.results = Results::List(packages);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::FolderEvidence;
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::androidqf::test_support::{count, fixtures, indicators, run_on, with_folder};

    fn run_json(json: &str, ind: &Indicators) -> Result<ModuleOutput, ModuleError> {
        with_folder(&[("acq/packages.json", json)], |root| {
            run_on(&AqfPackages, &FolderEvidence::new(root), ind)
        })
    }

    #[test]
    fn provenance_and_disabled_protections() {
        let json = r#"[
            {"name": "com.topjohnwu.magisk", "installer": "null", "system": false, "disabled": false},
            {"name": "com.wssyncmldm", "installer": "com.android.vending", "system": true, "disabled": true},
            {"name": "com.policydm", "installer": "", "system": true, "disabled": true},
            {"name": "org.example.side", "installer": "com.android.packageinstaller", "system": false},
            {"name": "org.example.store", "installer": "com.aurora.store", "system": false},
            {"name": "org.example.adb", "installer": "null", "system": false},
            {"name": "org.example.sys", "installer": "null", "system": true},
            {"name": "org.example.nosys", "installer": "null"},
            42
        ]"#;
        let out = run_json(json, &Indicators::new()).unwrap();
        assert_eq!(out.results.len(), 9, "records are kept as-is");
        let messages: Vec<&str> = out.alerts.iter().map(|a| a.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "Found an installed package related to rooting/jailbreaking: \"com.topjohnwu.magisk\"",
                "System OTA update package \"com.wssyncmldm\" disabled on the phone",
                "Security package \"com.policydm\" disabled on the phone",
                "Found a package installed via a browser (installer=\"com.android.packageinstaller\"): \"org.example.side\"",
                "Found a package installed via a third party store (installer=\"com.aurora.store\"): \"org.example.store\"",
                "Found a non-system package installed via adb or another method: \"org.example.adb\"",
            ]
        );
        assert_eq!(out.alerts[4].level, Level::Informational);
        assert!(
            out.alerts
                .iter()
                .all(|a| a.source.as_deref() == Some("acq/packages.json"))
        );
        assert!(out.alerts[0].advice.contains("root"));
    }

    #[test]
    fn bad_files_are_named() {
        for bad in ["{\"name\": 1}", "[{", ""] {
            let err = run_json(bad, &Indicators::new()).unwrap_err();
            assert!(err.to_string().contains("acq/packages.json"), "{err}");
        }
        assert_eq!(
            run_json("null", &Indicators::new()).unwrap().results.len(),
            0
        );
        with_folder(&[("ps.txt", "")], |root| {
            assert!(matches!(
                run_on(&AqfPackages, &FolderEvidence::new(root), &Indicators::new()),
                Err(ModuleError::NotFound(_))
            ));
        });
    }

    /// §6/§7.6: 7 packages, 4 MEDIUM + 1 INFO; indicators on name, APK hash and certificate.
    #[test]
    fn fixture_packages() {
        let Some(dir) = fixtures() else { return };
        let ev = FolderEvidence::new(dir.join("androidqf"));
        let out = run_on(&AqfPackages, &ev, &Indicators::new()).unwrap();
        assert_eq!(out.results.len(), 7);
        assert!(out.timeline.is_empty());
        assert_eq!(out.alerts.len(), 5);
        assert_eq!(count(&out.alerts, Level::Medium), 4);
        assert_eq!(count(&out.alerts, Level::Informational), 1);
        let flagged: Vec<&str> = out
            .alerts
            .iter()
            .filter_map(|a| a.matched_value.as_deref())
            .collect();
        assert_eq!(
            flagged,
            [
                "com.whatsapp",
                "app.revanced.manager.flutter",
                "com.google.android.youtube",
                "org.fdroid.fdroid",
                "org.nuclearfog.apollo"
            ]
        );

        let cases = [
            ("[app:id = 'com.malware.blah']", "com.malware.blah", "name"),
            (
                "[file:hashes.sha256 = '31037a27af59d4914906c01ad14a318eee2f3e31d48da8954dca62a99174e3fa']",
                "com.malware.muahaha",
                "files.sha256",
            ),
            (
                "[app:cert.sha256 = 'c7e56178748be1441370416d4c10e34817ea0c961eb636c8e9d98e0fd79bf730']",
                "com.malware.muahaha",
                "files.certificate.Sha256",
            ),
        ];
        for (pattern, package, field) in cases {
            let out = run_on(&AqfPackages, &ev, &indicators(&[pattern])).unwrap();
            let hits: Vec<_> = out
                .alerts
                .iter()
                .filter(|a| a.level == Level::Critical)
                .collect();
            assert_eq!(hits.len(), 1, "{pattern}");
            assert_eq!(hits[0].event["name"], package);
            assert_eq!(hits[0].matched_field.as_deref(), Some(field));
        }
    }
}
