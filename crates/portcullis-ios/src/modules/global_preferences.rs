//! `.GlobalPreferences.plist`: every top-level setting, and whether Lockdown Mode is on.

use portcullis_core::{Alert, Level, ModuleOutput, Results};
use serde_json::json;

use super::common::read_fixed_dictionary;
use crate::values::plist_to_json;
use crate::{Context, Module, ModuleError};

const BACKUP_IDS: &[&str] = &["0dc926a1810f7aee4e8f38793ed788701f93bf9d"];

pub struct GlobalPreferences;

impl Module<Context<'_>> for GlobalPreferences {
    fn name(&self) -> &'static str {
        "GlobalPreferences"
    }

    fn slug(&self) -> &'static str {
        "global_preferences"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let (dict, source) =
            read_fixed_dictionary(ctx.backup, BACKUP_IDS, ".GlobalPreferences.plist")?;
        let mut out = ModuleOutput::default();
        let mut records = Vec::with_capacity(dict.len());
        for (key, value) in &dict {
            let record = json!({"entry": key, "value": plist_to_json(value)});
            if key == "LDMGlobalEnabled" {
                let alert = match value.as_boolean() {
                    Some(true) => Some(
                        Alert::heuristic(Level::Informational, self.slug(), "Lockdown mode enabled", "", record.clone())
                            .with_advice("Lockdown Mode is on: the strongest protection iOS offers against mercenary spyware. Keep it on."),
                    ),
                    Some(false) => Some(
                        Alert::heuristic(Level::Low, self.slug(), "Lockdown mode disabled", "", record.clone())
                            .with_advice("Lockdown Mode is off. People at risk of targeted attacks should turn it on: Settings > Privacy & Security > Lockdown Mode."),
                    ),
                    None => None,
                };
                out.alerts.extend(alert.map(|a| {
                    a.with_field("entry", key.clone())
                        .with_source(source.clone())
                }));
            }
            records.push(record);
        }
        out.results = Results::List(records);
        Ok(out)
    }
}
