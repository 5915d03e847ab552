//! The backup's `Info.plist`: which phone this is (model, iOS version, serial, IMEI) and when
//! it was backed up. No checks: the facts feed the report summary.

use portcullis_core::{ModuleOutput, Results};
use serde_json::{Map, Value};

use crate::backup::INFO_PLIST;
use crate::values::{plist_to_json, py_str};
use crate::{Context, Module, ModuleError};

/// The keys MVT records, in its order; a missing key is recorded as null.
const FIELDS: [&str; 18] = [
    "Build Version",
    "Device Name",
    "Display Name",
    "GUID",
    "ICCID",
    "IMEI",
    "MEID",
    "Installed Applications",
    "Last Backup Date",
    "Phone Number",
    "Product Name",
    "Product Type",
    "Product Version",
    "Serial Number",
    "Target Identifier",
    "Target Type",
    "Unique Identifier",
    "iTunes Version",
];

/// Marketing names of common iPhone identifiers, so the summary can say "iPhone 7" rather than
/// "iPhone9,3".
const MODELS: &[(&str, &str)] = &[
    ("iPhone8,1", "iPhone 6s"),
    ("iPhone8,2", "iPhone 6s Plus"),
    ("iPhone8,4", "iPhone SE (1st generation)"),
    ("iPhone9,1", "iPhone 7"),
    ("iPhone9,3", "iPhone 7"),
    ("iPhone9,2", "iPhone 7 Plus"),
    ("iPhone9,4", "iPhone 7 Plus"),
    ("iPhone10,1", "iPhone 8"),
    ("iPhone10,4", "iPhone 8"),
    ("iPhone10,2", "iPhone 8 Plus"),
    ("iPhone10,5", "iPhone 8 Plus"),
    ("iPhone10,3", "iPhone X"),
    ("iPhone10,6", "iPhone X"),
    ("iPhone11,2", "iPhone XS"),
    ("iPhone11,4", "iPhone XS Max"),
    ("iPhone11,6", "iPhone XS Max"),
    ("iPhone11,8", "iPhone XR"),
    ("iPhone12,1", "iPhone 11"),
    ("iPhone12,3", "iPhone 11 Pro"),
    ("iPhone12,5", "iPhone 11 Pro Max"),
    ("iPhone12,8", "iPhone SE (2nd generation)"),
    ("iPhone13,1", "iPhone 12 mini"),
    ("iPhone13,2", "iPhone 12"),
    ("iPhone13,3", "iPhone 12 Pro"),
    ("iPhone13,4", "iPhone 12 Pro Max"),
    ("iPhone14,4", "iPhone 13 mini"),
    ("iPhone14,5", "iPhone 13"),
    ("iPhone14,2", "iPhone 13 Pro"),
    ("iPhone14,3", "iPhone 13 Pro Max"),
    ("iPhone14,6", "iPhone SE (3rd generation)"),
    ("iPhone14,7", "iPhone 14"),
    ("iPhone14,8", "iPhone 14 Plus"),
    ("iPhone15,2", "iPhone 14 Pro"),
    ("iPhone15,3", "iPhone 14 Pro Max"),
    ("iPhone15,4", "iPhone 15"),
    ("iPhone15,5", "iPhone 15 Plus"),
    ("iPhone16,1", "iPhone 15 Pro"),
    ("iPhone16,2", "iPhone 15 Pro Max"),
    ("iPhone17,1", "iPhone 16 Pro"),
    ("iPhone17,2", "iPhone 16 Pro Max"),
    ("iPhone17,3", "iPhone 16"),
    ("iPhone17,4", "iPhone 16 Plus"),
    ("iPhone17,5", "iPhone 16e"),
];

/// The marketing name of a `Product Type` such as `iPhone9,3`, when known.
pub fn model_name(product_type: &str) -> Option<&'static str> {
    MODELS
        .iter()
        .find(|(id, _)| *id == product_type)
        .map(|(_, name)| *name)
}

pub struct BackupInfo;

impl Module<Context<'_>> for BackupInfo {
    fn name(&self) -> &'static str {
        "BackupInfo"
    }

    fn slug(&self) -> &'static str {
        "backup_info"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let info = ctx.backup.info_plist().map_err(|e| {
            if e.is_not_found() {
                ModuleError::NotFound(INFO_PLIST.into())
            } else {
                e.into()
            }
        })?;
        let dict = info.as_dictionary().ok_or_else(|| ModuleError::Parse {
            path: INFO_PLIST.into(),
            reason: "top level is not a dictionary".into(),
        })?;
        let mut results = Map::new();
        for field in FIELDS {
            let value = dict.get(field).map_or(Value::Null, plist_to_json);
            if field != "Installed Applications" {
                tracing::info!("{field}: {}", py_str(Some(&value)));
            }
            results.insert(field.to_string(), value);
        }
        if let Some(name) = dict
            .get("Product Type")
            .and_then(plist::Value::as_string)
            .and_then(model_name)
        {
            tracing::info!("Device model: {name}");
        }
        Ok(ModuleOutput {
            results: Results::Object(results),
            ..ModuleOutput::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::test_support::{built, fixture, run_at};
    use portcullis_indicators::Indicators;
    use std::path::Path;

    fn run(root: &Path) -> Result<ModuleOutput, ModuleError> {
        run_at(&BackupInfo, root, &Indicators::new())
    }

    #[test]
    fn records_the_eighteen_keys_and_the_model_name() {
        let date = plist::Date::from(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
        );
        let (_dir, root) = built(|b| {
            Ok(b.info("Last Backup Date", plist::Value::Date(date))
                .info("Serial Number", "F00")
                .info(
                    "Installed Applications",
                    plist::Value::Array(vec!["com.example.app".into()]),
                ))
        });
        let out = run(&root).unwrap();
        let Results::Object(r) = &out.results else {
            panic!()
        };
        assert_eq!(r.len(), 18);
        assert_eq!(r.keys().next().map(String::as_str), Some("Build Version"));
        assert_eq!(r["Product Type"], "iPhone14,2");
        assert_eq!(r["Last Backup Date"], "2023-11-14 22:13:20.000000");
        assert_eq!(r["Installed Applications"][0], "com.example.app");
        assert!(r["IMEI"].is_null());
        assert!(out.timeline.is_empty() && out.alerts.is_empty());

        assert_eq!(model_name("iPhone14,2"), Some("iPhone 13 Pro"));
        assert_eq!(model_name("iPhone99,9"), None);
    }

    #[test]
    fn fixture_matches_mvt() {
        let Some(root) = fixture() else { return };
        let out = run(&root).unwrap();
        let Results::Object(r) = &out.results else {
            panic!()
        };
        assert_eq!(r.len(), 18);
        assert_eq!(r["Build Version"], "18C66");
        assert_eq!(r["IMEI"], "42");
        assert_eq!(r["Last Backup Date"], "2021-12-03 19:33:13.000000");
        assert!(r["MEID"].is_null());
        assert_eq!(r["Product Type"], "iPhone9,3");
        assert_eq!(model_name("iPhone9,3"), Some("iPhone 7"));
    }

    #[test]
    fn garbage_info_plist_is_an_error_naming_it() {
        let (_dir, root) = built(Ok);
        std::fs::write(root.join(INFO_PLIST), b"\x00\x01 not a plist").unwrap();
        let err = run(&root).unwrap_err().to_string();
        assert!(err.contains(INFO_PLIST), "{err}");
    }
}
