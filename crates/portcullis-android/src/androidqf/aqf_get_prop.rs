//! `getprop.txt`: the system properties, checked as the bugreport's `DumpsysGetProp` checks
//! them (same parser, same security-patch and indicator checks).

use portcullis_core::{ModuleOutput, Results};
use serde_json::Value;

use super::{read_text, require};
use crate::bugreport::getprop::{analysis_date, check_properties, parse_getprop};
use crate::{Context, Module, ModuleError};

/// The value of property `name` in getprop output, when set.
pub(super) fn property(text: &str, name: &str) -> Option<String> {
    parse_getprop(text)
        .into_iter()
        .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|r| r.get("value").and_then(Value::as_str).map(str::to_string))
}

pub struct AqfGetProp;

impl Module<Context<'_>> for AqfGetProp {
    fn name(&self) -> &'static str {
        "AQFGetProp"
    }

    fn slug(&self) -> &'static str {
        "aqf_get_prop"
    }

    fn run(&self, ctx: &Context<'_>) -> Result<ModuleOutput, ModuleError> {
        let file = require(ctx, "getprop.txt")?;
        let records = parse_getprop(&read_text(ctx, file)?);
        let alerts = check_properties(
            &records,
            ctx.indicators,
            self.slug(),
            &file.path,
            analysis_date(),
        );
        Ok(ModuleOutput {
            results: Results::List(records),
            alerts,
            ..ModuleOutput::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use portcullis_core::Level;
    use portcullis_evidence::{Evidence, FolderEvidence, ZipEvidence};
    use portcullis_indicators::Indicators;

    use super::*;
    use crate::androidqf::test_support::{fixtures, indicators, records, run_on, with_folder};

    #[test]
    fn properties_and_indicators() {
        let props = "[persist.sys.timezone]: [Europe/Paris]\n[sys.foobar]: [1]\n[empty]: []\n";
        with_folder(&[("getprop.txt", props)], |root| {
            let ind = indicators(&["[android-property:name = 'SYS.FOOBAR']"]);
            let out = run_on(&AqfGetProp, &FolderEvidence::new(root), &ind).unwrap();
            assert_eq!(out.results.len(), 2);
            assert_eq!(out.alerts.len(), 1);
            assert_eq!(out.alerts[0].level, Level::Critical);
            assert_eq!(out.alerts[0].source.as_deref(), Some("getprop.txt"));
        });
        assert_eq!(property("[a]: [1]\n[b]: [2]", "b").as_deref(), Some("2"));
        assert_eq!(property("[a]: []", "a"), None);
    }

    /// §6/§7.6: 10 properties, the first `dalvik.vm.appimageformat=lz4`, from the folder and
    /// from `androidqf.zip` (whose files sit in a top folder).
    #[test]
    fn fixture_folder_and_zip() {
        let Some(dir) = fixtures() else { return };
        let folder = FolderEvidence::new(dir.join("androidqf"));
        let zip = ZipEvidence::open(&dir.join("androidqf.zip")).unwrap();
        for ev in [&folder as &dyn Evidence, &zip] {
            let out = run_on(&AqfGetProp, ev, &Indicators::new()).unwrap();
            let recs = records(&out);
            assert_eq!(recs.len(), 10);
            assert_eq!(recs[0]["name"], "dalvik.vm.appimageformat");
            assert_eq!(recs[0]["value"], "lz4");
            assert!(out.alerts.is_empty());
        }
        let ind = indicators(&["[android-property:name = 'dalvik.vm.heapmaxfree']"]);
        let out = run_on(&AqfGetProp, &folder, &ind).unwrap();
        assert_eq!(out.alerts.len(), 1);
    }
}
