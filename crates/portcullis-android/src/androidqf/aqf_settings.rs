//! `settings_<namespace>.txt` (`key=value` lines): the phone's settings by namespace, and
//! protections that are turned off.

use portcullis_core::{Level, ModuleOutput, Results};
use serde_json::{Map, Value, json};

use super::{heuristic, locate_all, read_text};
use crate::reference::DANGEROUS_SETTINGS;
use crate::{Context, Module, ModuleError};

/// The namespace of `settings_<namespace>.txt` (text between the last `_` and `.txt`).
fn namespace(base: &str) -> Option<&str> {
    let stem = base.strip_suffix(".txt")?;
    let (_, ns) = stem.rsplit_once('_')?;
    Some(ns)
}

pub struct AqfSettings;

impl Module<Context<'_>> for AqfSettings {
    fn name(&self) -> &'static str {
        "AQFSettings"
    }

    fn slug(&self) -> &'static str {
        "aqf_settings"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let files = locate_all(ctx.files, |base| {
            base.starts_with("settings_") && namespace(base).is_some()
        });
        if files.is_empty() {
            return Err(ModuleError::NotFound(
                "no settings_*.txt at the acquisition root or one folder down".into(),
            ));
        }
        let mut out = ModuleOutput::default();
        let mut namespaces = Map::new();
        for file in files {
            let ns = namespace(super::base_name(&file.path)).unwrap_or_default();
            let text = read_text(ctx, file)?;
            let Value::Object(settings) = namespaces
                .entry(ns.to_string())
                .or_insert_with(|| Value::Object(Map::new()))
            else {
                continue;
            };
            for line in text.lines() {
                let Some((key, value)) = line.trim().split_once('=') else {
                    continue;
                };
                settings.insert(key.to_string(), value.into());
                let Some((_, _, meaning)) = DANGEROUS_SETTINGS
                    .iter()
                    .find(|(k, safe, _)| *k == key && *safe != value)
                else {
                    continue;
                };
                let event = json!({"namespace": ns, "key": key, "value": value});
                let advice = if key == "accessibility_enabled" {
                    "Accessibility services can read everything on the screen. Check Settings > \
                     Accessibility and turn off any service you do not know and need."
                } else {
                    "A protection of the phone is turned off. Turn it back on in the phone's \
                     settings (or ask your security office to), and find out who changed it."
                };
                out.alerts.push(
                    heuristic(
                        Level::Medium,
                        self.slug(),
                        format!(
                            "Found suspicious \"{ns}\" setting \"{key} = {value}\" ({meaning})"
                        ),
                        "",
                        &event,
                        &file.path,
                        advice,
                    )
                    .with_field(key, value),
                );
            }
        }
        out.results = Results::Object(namespaces);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use portcullis_evidence::FolderEvidence;
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::androidqf::test_support::{fixtures, run_on, with_folder};

    #[test]
    fn namespaces_values_and_unsafe_settings() {
        let files = [
            (
                "acq/settings_global.txt",
                "package_verifier_enable=0\nadb_enabled=1\nno equals sign\n\r\nurl=http://x/?a=b\n",
            ),
            ("acq/settings_secure.txt", "accessibility_enabled=1\r\n"),
            ("acq/settings_.txt", "k=v\n"),
            ("acq/settings_system.json", "x"),
        ];
        with_folder(&files, |root| {
            let out = run_on(&AqfSettings, &FolderEvidence::new(root), &Indicators::new()).unwrap();
            let Results::Object(ns) = &out.results else {
                panic!("object expected")
            };
            let names: Vec<&String> = ns.keys().collect();
            assert_eq!(names, ["", "global", "secure"]);
            assert_eq!(ns["global"]["url"], "http://x/?a=b");
            assert_eq!(ns["global"].as_object().unwrap().len(), 3);
            let messages: Vec<&str> = out.alerts.iter().map(|a| a.message.as_str()).collect();
            assert_eq!(
                messages,
                [
                    "Found suspicious \"global\" setting \"package_verifier_enable = 0\" (disabled Google Play Protect)",
                    "Found suspicious \"secure\" setting \"accessibility_enabled = 1\" (enabled accessibility services)",
                ]
            );
            assert_eq!(
                out.alerts[1].source.as_deref(),
                Some("acq/settings_secure.txt")
            );
        });
    }

    /// §7.6: one namespace "random" of 9 keys, one MEDIUM.
    #[test]
    fn fixture_settings() {
        let Some(dir) = fixtures() else { return };
        let out = run_on(
            &AqfSettings,
            &FolderEvidence::new(dir.join("androidqf")),
            &Indicators::new(),
        )
        .unwrap();
        let Results::Object(ns) = &out.results else {
            panic!("object expected")
        };
        assert_eq!(ns.len(), 1);
        assert_eq!(ns["random"].as_object().unwrap().len(), 9);
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(out.alerts[0].level, Level::Medium);
        assert_eq!(
            out.alerts[0].message,
            "Found suspicious \"random\" setting \"samsung_errorlog_agree = 0\" (disabled sharing of crash logs with manufacturer)"
        );
    }
}
